/* Confined reads beneath a folder: see beneath.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* Set once openat2 turned out to be missing (old kernel, seccomp filter). */
static int no_openat2;

int
ofs_beneath_path_ok(const char *rel)
{
	size_t n = strlen(rel);

	if (n == 0 || n >= PATH_MAX || rel[0] == '/')
		return 0;
	for (const char *c = rel;;) {
		size_t k = strcspn(c, "/");

		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += k;
		if (*c == '\0')
			return 1;
		c++;
	}
}

/* openat with O_NOFOLLOW on one folder component; a symbolic link there is -ELOOP. */
static int
open_component(int dirfd, const char *name)
{
	struct stat st;
	int fd;

	if ((fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) != -1)
		return fd;
	if (errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -errno;
}

/* An O_PATH fd of the folder holding rel's last component (len bytes of rel name that
 * folder; 0: rootfd itself). The fd, or a negative errno. */
static int
open_parent(int rootfd, const char *rel, size_t len)
{
	char buf[PATH_MAX], *p, *slash;
	int fd, next;

	if (len == 0)
		return (fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) == -1 ? -errno : fd;
	memcpy(buf, rel, len);
	buf[len] = '\0';
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
		how.resolve = RESOLVE_FLAGS;
		fd = (int)syscall(SYS_openat2, rootfd, buf, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
			return -errno;
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	}
	/* Fallback: one component at a time, never following a link. */
	if ((fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -errno;
	for (p = buf;; p = slash + 1) {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		next = open_component(fd, p);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
		if (slash == NULL)
			return fd;
	}
}

/* The parent folder of rel (fd) and its last component (*leaf points into rel). */
static int
split_open(int rootfd, const char *rel, const char **leaf)
{
	const char *slash;

	if (!ofs_beneath_path_ok(rel))
		return -EXDEV;
	slash = strrchr(rel, '/');
	*leaf = slash != NULL ? slash + 1 : rel;
	return open_parent(rootfd, rel, slash != NULL ? (size_t)(slash - rel) : 0);
}

int
ofs_beneath_stat(int rootfd, const char *rel, struct stat *st)
{
	const char *leaf;
	int dfd, r = 0;

	if ((dfd = split_open(rootfd, rel, &leaf)) < 0)
		return dfd;
	if (fstatat(dfd, leaf, st, AT_SYMLINK_NOFOLLOW) == -1)
		r = -errno;
	close(dfd);
	return r;
}

int
ofs_beneath_open(int rootfd, const char *rel, struct stat *out)
{
	struct stat before, st;
	const char *leaf;
	int dfd, fd;

	if ((dfd = split_open(rootfd, rel, &leaf)) < 0)
		return dfd;
	/* Look before opening: opening a device can act on it, a FIFO could block. */
	if (fstatat(dfd, leaf, &before, AT_SYMLINK_NOFOLLOW) == -1) {
		fd = -errno;
		goto out;
	}
	if (out != NULL)
		*out = before;
	if (S_ISLNK(before.st_mode)) {
		fd = -ELOOP;
		goto out;
	}
	if (!S_ISREG(before.st_mode)) {
		fd = -OFS_BENEATH_NOTREG;
		goto out;
	}
	fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		fd = -errno;
		goto out;
	}
	/* Replaced between the look and the open: refuse whatever is there now. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_ino != before.st_ino ||
	    st.st_dev != before.st_dev) {
		close(fd);
		fd = -OFS_BENEATH_NOTREG;
		goto out;
	}
	if (out != NULL)
		*out = st;
out:
	close(dfd);
	return fd;
}

int
ofs_beneath_opendir(int rootfd, const char *rel)
{
	const char *leaf;
	int dfd, fd;

	if (rel[0] == '\0')
		return (fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ?
		    -errno : fd;
	if ((dfd = split_open(rootfd, rel, &leaf)) < 0)
		return dfd;
	fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		struct stat st;

		fd = -errno;
		if (fd == -ENOTDIR && fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			fd = -ELOOP;
	}
	close(dfd);
	return fd;
}

const char *
ofs_beneath_strerror(int neg_errno, const struct stat *st)
{
	switch (-neg_errno) {
	case ELOOP:
		return "is a symbolic link (not followed)";
	case EXDEV:
		return "is not a path inside the disk";
	case OFS_BENEATH_NOTREG:
		if (st == NULL)
			return "is not a regular file";
		if (S_ISFIFO(st->st_mode))
			return "is a FIFO (not opened)";
		if (S_ISSOCK(st->st_mode))
			return "is a socket (not opened)";
		if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
			return "is a device (not opened)";
		if (S_ISDIR(st->st_mode))
			return "is a folder";
		return "is not a regular file";
	default:
		return strerror(-neg_errno);
	}
}
