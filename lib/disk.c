/* Disks prep writes to: free capacity from statvfs, and a serial for each disk from the
 * block device behind its mount point (mountinfo → sysfs / udev), an operator override, or
 * a stable id file written on the disk. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk.h"
#include "util.h"

int
ofs_disk_space(const char *path, struct ofs_disk_space *out, struct ofs_error *err)
{
	struct statvfs vs;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) != 0)
		return ofs_err_sys(err, OFS_ERR_USAGE, errno, "cannot use disk '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return ofs_err_set(err, OFS_ERR_USAGE, "cannot use disk '%s': not a directory "
		    "(give the mount point)", path);
	if (statvfs(path, &vs) != 0)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read the free space of '%s'",
		    path);
	out->block = vs.f_frsize ? vs.f_frsize : vs.f_bsize;
	if (out->block < 512)
		out->block = 512;
	out->avail = (uint64_t)vs.f_bavail * out->block;
	out->total = (uint64_t)vs.f_blocks * out->block;
	out->dev = (uint64_t)st.st_dev;
	return 0;
}

int
ofs_disk_serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OFS_DISK_SERIAL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == ':' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

/* Trim, map unusable characters to '_'; NULL when nothing is left. Takes s. */
static char *
clean_serial(char *s)
{
	size_t a = 0, n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (n > 0 && ((unsigned char)s[n - 1] <= ' ' || s[n - 1] == 0x7f))
		s[--n] = '\0';
	while (a < n && (unsigned char)s[a] <= ' ')
		a++;
	memmove(s, s + a, n - a + 1);
	n -= a;
	if (n == 0) {
		free(s);
		return NULL;
	}
	if (n > OFS_DISK_SERIAL_MAX)
		s[n = OFS_DISK_SERIAL_MAX] = '\0';
	for (size_t i = 0; i < n; i++) {
		char c[2] = { s[i], '\0' };

		if (!ofs_disk_serial_ok(c))
			s[i] = '_';
	}
	return s;
}

/* Small text file (≤ 4 KiB) as an owned string, or NULL. */
static char *
read_small(const char *path, size_t skip)
{
	char buf[4097];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= (ssize_t)skip)
		return NULL;
	buf[n] = '\0';
	for (ssize_t i = (ssize_t)skip; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return ofs_xstrdup(buf + skip);
}

/* Undo mountinfo's octal escapes (\040 for space …) in place. */
static void
unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* major:minor of the filesystem mounted exactly at mnt (the last such mount wins), taking
 * the source device's st_rdev when the mount's own number is anonymous (major 0, btrfs).
 * 0 when found. */
static int
mount_dev(const char *root, const char *mnt, unsigned *maj, unsigned *min)
{
	char *path = ofs_xasprintf("%s/proc/self/mountinfo", root), *line = NULL;
	size_t cap = 0;
	int found = -1;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		free(path);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *fld[64], *save = NULL, *t;
		size_t n = 0, dash = 0;
		unsigned a, b;

		line[strcspn(line, "\n")] = '\0';
		for (t = strtok_r(line, " ", &save); t != NULL && n < OFS_ARRAY_LEN(fld);
		    t = strtok_r(NULL, " ", &save))
			fld[n++] = t;
		for (size_t i = 6; i < n; i++)
			if (strcmp(fld[i], "-") == 0) {
				dash = i;
				break;
			}
		if (n < 5 || dash == 0 || dash + 2 >= n || sscanf(fld[2], "%u:%u", &a, &b) != 2)
			continue;
		unescape(fld[4]);
		if (strcmp(fld[4], mnt) != 0)
			continue;
		if (a == 0) {
			char *src = fld[dash + 2], *sp;
			struct stat st;

			unescape(src);
			if (strncmp(src, "/dev/", 5) != 0)
				continue;
			sp = ofs_xasprintf("%s%s", root, src);
			if (stat(sp, &st) == 0 && S_ISBLK(st.st_mode)) {
				a = major(st.st_rdev);
				b = minor(st.st_rdev);
			}
			free(sp);
			if (a == 0)
				continue;
		}
		*maj = a;
		*min = b;
		found = 0;
	}
	free(line);
	fclose(f);
	free(path);
	return found;
}

/* ID_SERIAL_SHORT (preferred: the label serial) or ID_SERIAL from udev's database. */
static char *
udev_serial(const char *root, unsigned maj, unsigned min)
{
	char *path = ofs_xasprintf("%s/run/udev/data/b%u:%u", root, maj, min), *line = NULL;
	char *shrt = NULL, *full = NULL;
	size_t cap = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		free(path);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "E:ID_SERIAL_SHORT=", 18) == 0 && shrt == NULL)
			shrt = ofs_xstrdup(line + 18);
		else if (strncmp(line, "E:ID_SERIAL=", 12) == 0 && full == NULL)
			full = ofs_xstrdup(line + 12);
	}
	free(line);
	fclose(f);
	free(path);
	if ((shrt = clean_serial(shrt)) != NULL) {
		free(full);
		return shrt;
	}
	return clean_serial(full);
}

char *
ofs_disk_hw_serial(const char *mnt, const char *sysroot)
{
	static const char *const rel[] = { "device/serial", "serial", "../device/serial",
		"../serial" };
	const char *root = sysroot != NULL ? sysroot : "";
	char real[PATH_MAX], *s = NULL;
	unsigned maj = 0, min = 0;

	if (realpath(mnt, real) == NULL)
		return NULL;
	if (mount_dev(root, real, &maj, &min) != 0)
		return NULL;
	for (size_t i = 0; i < OFS_ARRAY_LEN(rel) && s == NULL; i++) {
		char *p = ofs_xasprintf("%s/sys/dev/block/%u:%u/%s", root, maj, min, rel[i]);

		s = clean_serial(read_small(p, 0));
		free(p);
	}
	/* SCSI/SATA: VPD page 0x80 (unit serial number) after a 4-byte header. */
	for (size_t i = 0; i < 2 && s == NULL; i++) {
		char *p = ofs_xasprintf("%s/sys/dev/block/%u:%u/%sdevice/vpd_pg80", root, maj, min,
		    i ? "../" : "");

		s = clean_serial(read_small(p, 4));
		free(p);
	}
	if (s == NULL)
		s = udev_serial(root, maj, min);
	return s;
}

int
ofs_disk_serial(const char *mnt, const char *override, char **serial,
    enum ofs_serial_src *src, struct ofs_error *err)
{
	char *idp, *s;
	uint8_t rnd[8];
	char hex[17];

	*serial = NULL;
	if (override != NULL) {
		if (!ofs_disk_serial_ok(override))
			return ofs_err_set(err, OFS_ERR_USAGE, "invalid serial '%s' for '%s' (1-%d "
			    "characters of A-Z a-z 0-9 . _ : + -)", override, mnt,
			    OFS_DISK_SERIAL_MAX);
		*serial = ofs_xstrdup(override);
		*src = OFS_SERIAL_OPTION;
		return 0;
	}
	if ((s = ofs_disk_hw_serial(mnt, NULL)) != NULL) {
		*serial = s;
		*src = OFS_SERIAL_HW;
		return 0;
	}
	idp = ofs_path_join(mnt, OFS_DISK_ID_NAME);
	s = read_small(idp, 0);
	if (s != NULL) {
		s[strcspn(s, "\r\n")] = '\0';
		if (!ofs_disk_serial_ok(s)) {
			free(s);
			ofs_err_set(err, OFS_ERR_USAGE, "the disk id file '%s' is damaged: remove it "
			    "or give --serial %s=SERIAL", idp, mnt);
			free(idp);
			return OFS_ERR_USAGE;
		}
		free(idp);
		*serial = s;
		*src = OFS_SERIAL_IDFILE;
		return 0;
	}
	free(idp);
	ofs_random(rnd, sizeof(rnd));
	ofs_hex(rnd, sizeof(rnd), hex);
	*serial = ofs_xasprintf("OFS-%s", hex);
	*src = OFS_SERIAL_NEW;
	return 0;
}

int
ofs_disk_write_id(const char *mnt, const char *serial, struct ofs_error *err)
{
	char *p = ofs_path_join(mnt, OFS_DISK_ID_NAME), *line = ofs_xasprintf("%s\n", serial);
	int r = ofs_write_file_atomic(p, line, strlen(line), 0644, err);

	free(p);
	free(line);
	return r;
}
