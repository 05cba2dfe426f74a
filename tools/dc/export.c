/* offseed-dc export (docs/DC.md "Export jobs"): plan an export run (the size of every
 * listed blob, the repository id from its config read keylessly, a placement by capacity
 * decided before anything is written) and the export worker that writes the disks the way
 * `offseed prep` does (FORMAT.md §21): each file as DIR/.<name>.offseed-tmp hashed from the
 * bytes read from storage, fsync'd, read back and compared, renamed; then the per-disk
 * manifests, the set manifest on every disk, and the copy logs. A disk is the customer's:
 * every folder on it is opened without following a link, files are created O_NOFOLLOW. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "dc.h"
#include "manifest.h"
#include "setmanifest.h"
#include "util.h"

#define XBUF (4u << 20)
#define SAVE_EVERY_NS 5000000000LL	/* progress checkpoints: the document holds the whole list */
#define TMP_SUFFIX ".offseed-tmp"

void
dc_xplan_release(struct dc_xplan *p)
{
	for (size_t i = 0; i < p->n && p->paths != NULL; i++)
		free(p->paths[i]);
	for (size_t k = 0; k < p->ndisks; k++) {
		free(p->serials[k]);
		free(p->docks[k]);
	}
	free(p->paths);
	free(p->sizes);
	free(p->place);
	free(p->serials);
	free(p->docks);
	free(p->account);
	memset(p, 0, sizeof(*p));
}

static int
group_of(const struct dc_xplan *p, size_t i)
{
	char *cont;
	const char *blob;
	int g = -1;

	if (dc_export_split(p->paths[i], p->base_len, &cont, &blob, &g) == 0)
		free(cont);
	return g;
}

/* Split entry i into container (owned) and blob name. */
static void
blob_of(const struct dc_xplan *p, size_t i, char **cont, const char **blob)
{
	int g;

	if (dc_export_split(p->paths[i], p->base_len, cont, blob, &g) != 0) {
		*cont = ofs_xstrdup("");
		*blob = "";
	}
}

/* Keyless: the repository id of the config blob. */
static int
read_repo_id(struct dc_ctx *ctx, struct dc_xplan *p, size_t i, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	struct dc_blob_reader *r = NULL;
	struct ofs_config cfg;
	struct ofs_error err;
	uint64_t size;
	uint8_t *buf = NULL;
	char *cont;
	const char *blob;
	int rc;

	blob_of(p, i, &cont, &blob);
	memset(&cfg, 0, sizeof(cfg));
	if ((rc = dc_store_reader_open(ctx->store, p->account, cont, blob, &r, &size,
	    &err)) != 0 || size > OFS_CONFIG_MAX) {
		snprintf(code, codesz, "%s", rc == OFS_ERR_NOTFOUND ? "ConfigNotFound" :
		    "ConfigInvalid");
		snprintf(msg, msgsz, "the repository's config '%s' %s", p->paths[i],
		    rc == OFS_ERR_NOTFOUND ? "is not in the storage account" : rc != 0 ?
		    "cannot be read" : "is too large");
		rc = -1;
		goto out;
	}
	buf = ofs_xmalloc(size ? size : 1);
	if (dc_store_reader_read(r, 0, buf, size, &err) != 0 ||
	    ofs_config_parse(buf, size, p->paths[i], &cfg, &err) != 0) {
		snprintf(code, codesz, "ConfigInvalid");
		snprintf(msg, msgsz, "the repository's config '%s' cannot be read: %s", p->paths[i],
		    err.msg);
		rc = -1;
		goto out;
	}
	ofs_hex(cfg.repo_id, OFS_REPO_ID_LEN, p->repo);
	rc = 0;
out:
	ofs_config_release(&cfg);
	dc_store_reader_free(r);
	free(buf);
	free(cont);
	return rc;
}

/* Walk the folder fd (taken) without following links, at most 16 levels: add the sizes of
 * its regular files to *bytes and, with remove, delete everything in it. */
static void
walk_tree(int fd, int depth, int remove, uint64_t *bytes)
{
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return;
	if (depth > 16 || (d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			walk_tree(openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC), depth + 1, remove, bytes);
			if (remove)
				unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
			continue;
		}
		if (S_ISREG(sb.st_mode))
			*bytes += (uint64_t)sb.st_blocks * 512;
		if (remove)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* The files an earlier run of an export to "/C/P" left on the disk at rootfd (its
 * PageBlob/C/P and BlockBlob/C/P folders and manifests): their bytes, and with remove
 * they are deleted. Nothing else on the disk is looked at. */
static uint64_t
earlier_run(int rootfd, const char *base, size_t base_len, int remove)
{
	static const char *const kinds[] = { "PageBlob", "BlockBlob" };
	uint64_t bytes = 0;
	struct stat sb;

	for (size_t k = 0; k < 2; k++) {
		char *rel = ofs_xasprintf("%s%.*s", kinds[k], (int)base_len, base);

		walk_tree(ofs_beneath_opendir(rootfd, rel), 0, remove, &bytes);
		free(rel);
	}
	for (size_t k = 0; k < 2; k++) {
		const char *n = k ? OFS_SET_MANIFEST_NAME : OFS_MANIFEST_NAME;

		if (fstatat(rootfd, n, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
			bytes += (uint64_t)sb.st_blocks * 512;
		if (remove)
			unlinkat(rootfd, n, 0);
	}
	return bytes;
}

struct room {
	dev_t dev;
	uint64_t left, bsize;
};

static uint64_t
rounded(uint64_t n, uint64_t bs)
{
	return n + (bs - n % bs) % bs;
}

static int
cmp_big(const void *a, const void *b, void *arg)
{
	const int64_t *sizes = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sizes[x] != sizes[y])
		return sizes[x] > sizes[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Place the blobs: p->sizes known. 0, or -1 with p->need_more set. */
static int
place(struct dc_xplan *p, char *msg, size_t msgsz)
{
	struct room *rooms = ofs_xcalloc(p->ndisks, sizeof(*rooms));
	size_t *disk_room = ofs_xcalloc(p->ndisks, sizeof(size_t)), nrooms = 0, *big, nbig = 0;
	const char *cap_env = getenv("OFFSEED_DC_TEST_DISK_BYTES");
	uint64_t cap = 0, meta = 0, meta_files = 0, deficit = 0;
	int rc = 0;

	if (cap_env != NULL && *cap_env != '\0')
		cap = strtoull(cap_env, NULL, 10);
	for (size_t k = 0; k < p->ndisks; k++) {
		struct statvfs vs;
		struct stat sb;
		size_t j;

		if (statvfs(p->docks[k], &vs) != 0 || stat(p->docks[k], &sb) != 0) {
			memset(&vs, 0, sizeof(vs));
			sb.st_dev = 0;
		}
		for (j = 0; j < nrooms && cap == 0; j++)
			if (rooms[j].dev == sb.st_dev)
				break;
		if (cap != 0 || j == nrooms) {
			j = nrooms++;
			rooms[j].dev = sb.st_dev;
			rooms[j].bsize = vs.f_frsize ? vs.f_frsize : 4096;
			rooms[j].left = (uint64_t)vs.f_bavail * rooms[j].bsize;
			if (cap != 0 && cap < rooms[j].left)
				rooms[j].left = cap;
		}
		/* An earlier run's files are deleted before this one writes: their room is
		 * this run's (not with the test cap, which ignores what is used). */
		if (cap == 0) {
			int rfd = open(p->docks[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (rfd >= 0) {
				rooms[j].left += earlier_run(rfd, p->paths[0], p->base_len, 0);
				close(rfd);
			}
		}
		disk_room[k] = j;
	}
	big = ofs_xreallocarray(NULL, p->n + 1, sizeof(*big));
	for (size_t i = 0; i < p->n; i++) {
		int g = group_of(p, i);

		if (p->sizes[i] < 0) {
			p->place[i] = DC_PLACE_MISSING;
		} else if (g == DC_EXPORT_CONTAINERS || g == DC_EXPORT_DATA) {
			big[nbig++] = i;
		} else {
			p->place[i] = DC_PLACE_ALL;
			meta += rounded((uint64_t)p->sizes[i], 4096);
			meta_files++;
		}
	}
	/* Every disk: the metadata, its manifest (a line per file), the set manifest and
	 * folders. */
	meta += meta_files * 256 + p->ndisks * 512 + (256u << 10);
	for (size_t k = 0; k < p->ndisks; k++) {
		struct room *r = &rooms[disk_room[k]];

		if (r->left >= meta)
			r->left -= meta;
		else {
			deficit += meta - r->left;
			r->left = 0;
		}
	}
	qsort_r(big, nbig, sizeof(*big), cmp_big, p->sizes);
	for (size_t b = 0; b < nbig; b++) {
		size_t i = big[b], best = 0;
		uint64_t need;

		for (size_t k = 1; k < p->ndisks; k++)
			if (rooms[disk_room[k]].left > rooms[disk_room[best]].left)
				best = k;
		need = rounded((uint64_t)p->sizes[i], rooms[disk_room[best]].bsize) + 256;
		if (rooms[disk_room[best]].left < need) {
			deficit += need;	/* continue, to tell how much is missing in all */
			p->place[i] = 0;
			continue;
		}
		rooms[disk_room[best]].left -= need;
		p->place[i] = (int)best;
	}
	if (deficit > 0) {
		p->need_more = deficit;
		snprintf(msg, msgsz, "the %zu disk(s) given cannot hold the export: need %llu bytes "
		    "more: attach more disks", p->ndisks, (unsigned long long)deficit);
		rc = -1;
	}
	free(big);
	free(rooms);
	free(disk_room);
	return rc;
}

unsigned
dc_export_plan(struct dc_ctx *ctx, struct dc_xplan *p, char *code, size_t codesz, char *msg,
    size_t msgsz)
{
	size_t config = p->n;

	p->sizes = ofs_xreallocarray(NULL, p->n + 1, sizeof(*p->sizes));
	p->place = ofs_xreallocarray(NULL, p->n + 1, sizeof(*p->place));
	for (size_t i = 0; i < p->n; i++) {
		struct ofs_error err;
		char *cont;
		const char *blob;
		uint64_t size = 0;
		int r;

		blob_of(p, i, &cont, &blob);
		r = dc_store_stat(ctx->store, p->account, cont, blob, &size, &err);
		free(cont);
		if (r == OFS_ERR_NOTFOUND) {
			p->sizes[i] = -1;
		} else if (r != 0) {
			snprintf(code, codesz, "StorageUnavailable");
			snprintf(msg, msgsz, "blob '%.200s' cannot be read: %s", p->paths[i], err.msg);
			return 503;
		} else if (size > (uint64_t)INT64_MAX / 2) {
			snprintf(code, codesz, "BlobTooLarge");
			snprintf(msg, msgsz, "blob '%.200s' is too large to export", p->paths[i]);
			return 409;
		} else {
			p->sizes[i] = (int64_t)size;
		}
		if (group_of(p, i) == DC_EXPORT_CONFIG)
			config = i;
	}
	if (config == p->n || p->sizes[config] < 0) {
		snprintf(code, codesz, "ConfigNotFound");
		snprintf(msg, msgsz, "the repository's config '%.200s' is not in storage account "
		    "'%s': nothing can be exported", config < p->n ? p->paths[config] : "config",
		    p->account);
		return 409;
	}
	if (read_repo_id(ctx, p, config, code, codesz, msg, msgsz) != 0)
		return 409;
	if (place(p, msg, msgsz) != 0) {
		snprintf(code, codesz, "InsufficientDiskSpace");
		return 507;
	}
	return 0;
}

void
dc_export_record(struct dc_job *job, struct dc_xplan *p, int64_t now)
{
	json_t *ex = json_object_get(job->doc, "export"), *disks = json_object();
	json_t *sizes = json_array(), *pl = json_array(), *order = json_array();
	char seed[33], t[32];

	if (dc_jstr(ex, "seedSet") == NULL) {	/* drawn once per export job, then kept */
		uint8_t r[16];

		ofs_random(r, sizeof(r));
		ofs_hex(r, sizeof(r), seed);
		json_object_set_new(ex, "seedSet", json_string(seed));
	}
	for (size_t i = 0; i < p->n; i++) {
		json_array_append_new(sizes, json_integer(p->sizes[i]));
		json_array_append_new(pl, json_integer(p->place[i]));
	}
	ofs_fmt_time(now, t, sizeof(t));
	for (size_t k = 0; k < p->ndisks; k++) {
		json_array_append_new(order, json_string(p->serials[k]));
		json_object_set_new(disks, p->serials[k], json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, "
		    "s:i, s:i, s:i, s:i, s:{}, s:{}}", "copyStatus", "NotStarted", "phase",
		    "received", "dock", p->docks[k], "received", t, "bytesProcessed", 0,
		    "totalBytesToProcess", 0, "filesProcessed", 0, "totalFilesToProcess", 0,
		    "filesErroredOut", 0, "warnings", 0, "errors", "imported"));
	}
	json_object_set_new(ex, "state", json_string("planned"));
	json_object_set_new(ex, "repository", json_string(p->repo));
	json_object_set_new(ex, "sizes", sizes);
	json_object_set_new(ex, "place", pl);
	json_object_set_new(ex, "disks", order);
	json_object_set_new(ex, "run", json_integer(dc_jint(ex, "run") + 1));
	json_object_set_new(job->doc, "disks", disks);
	json_object_del(job->doc, "error");
}

/* ---- the worker ---- */

struct xrun {
	struct dc_ctx *ctx;
	struct dc_job *job;
	struct dc_xplan p;
	char *seed_set, *job_name, *destination;
	int *rootfd;			/* per disk */
	struct ofs_file_hashes *h;	/* per blob, once exported */
	const char **why;		/* per blob: error code or NULL */
	char **detail;			/* per blob: error detail (owned) or NULL */
	int64_t errored;
	int64_t last_save;
	uint8_t *buf, *rbuf;
};

static void
save_locked(struct xrun *x)
{
	struct ofs_error err;

	if (dc_save_job(x->ctx, x->job, &err) != 0)
		dc_log("cannot save job '%s': %s", x->job->name, err.msg);
}

static json_t *
xdisk(struct xrun *x, size_t k)
{
	return dc_job_disk(x->job->doc, x->p.serials[k]);
}

static void
bump(json_t *d, const char *key, int64_t by)
{
	json_object_set_new(d, key, json_integer(dc_jint(d, key) + by));
}

/* The plan of the job document (ctx->mu held). -1 when it is unusable. */
static int
load_run(struct xrun *x)
{
	json_t *doc = x->job->doc, *ex = json_object_get(doc, "export"), *v;
	json_t *paths = dc_export_paths(doc);
	size_t i;

	x->p.n = json_array_size(paths);
	x->p.base_len = dc_export_base_len(doc);
	x->p.paths = ofs_xcalloc(x->p.n + 1, sizeof(char *));
	x->p.sizes = ofs_xcalloc(x->p.n + 1, sizeof(int64_t));
	x->p.place = ofs_xcalloc(x->p.n + 1, sizeof(int));
	json_array_foreach(paths, i, v) {
		x->p.paths[i] = ofs_xstrdup(json_string_value(v));
		x->p.sizes[i] = json_integer_value(json_array_get(json_object_get(ex, "sizes"), i));
		x->p.place[i] = (int)json_integer_value(json_array_get(json_object_get(ex, "place"),
		    i));
	}
	x->p.ndisks = json_array_size(json_object_get(ex, "disks"));
	x->p.serials = ofs_xcalloc(x->p.ndisks + 1, sizeof(char *));
	x->p.docks = ofs_xcalloc(x->p.ndisks + 1, sizeof(char *));
	json_array_foreach(json_object_get(ex, "disks"), i, v) {
		x->p.serials[i] = ofs_xstrdup(json_string_value(v));
		x->p.docks[i] = ofs_xstrdup(dc_jstr(dc_job_disk(doc, x->p.serials[i]), "dock"));
	}
	x->p.account = dc_account_of_id(dc_export_account_id(doc));
	snprintf(x->p.repo, sizeof(x->p.repo), "%s", dc_jstr(ex, "repository"));
	x->seed_set = ofs_xstrdup(dc_jstr(ex, "seedSet"));
	x->job_name = ofs_xstrdup(x->job->name);
	if (x->p.account == NULL)
		return -1;
	/* "/C/P" → azure://ACCOUNT/C/P */
	x->destination = ofs_xasprintf("azure://%s%.*s", x->p.account, (int)x->p.base_len,
	    x->p.paths[0]);
	return 0;
}

/* The folder of rel's parent beneath rootfd, made as needed without following a link. */
static int
open_parent(int rootfd, const char *rel, const char **base)
{
	char comp[256];
	const char *s = rel, *slash;
	int fd = dup(rootfd), nfd;

	while (fd >= 0 && (slash = strchr(s, '/')) != NULL) {
		size_t k = (size_t)(slash - s);

		if (k == 0 || k >= sizeof(comp)) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, s, k);
		comp[k] = '\0';
		if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
		s = slash + 1;
	}
	*base = s;
	return fd;
}

/* The file of blob i on a disk: PageBlob/C/P/containers/X or BlockBlob/C/P/NAME. */
static char *
disk_rel(const struct xrun *x, size_t i)
{
	return ofs_xasprintf("%s%s", group_of(&x->p, i) == DC_EXPORT_CONTAINERS ? "PageBlob" :
	    "BlockBlob", x->p.paths[i]);
}

struct target {
	size_t disk;
	int pfd, fd;
	const char *base;
	char *tmp;
};

static void
target_drop(struct target *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(t->pfd, t->tmp, 0);
	}
	if (t->pfd >= 0)
		close(t->pfd);
	free(t->tmp);
	t->fd = t->pfd = -1;
	t->tmp = NULL;
}

/* Read t's temporary file back and compare it with want. 0, or an errno (EIO for a
 * mismatch). */
static int
read_back(struct xrun *x, struct target *t, uint64_t size, const uint8_t *want)
{
	struct ofs_xxh *h = ofs_xxh_new();
	uint8_t got[OFS_XXH_LEN];
	uint64_t off = 0;
	int e = 0;

	posix_fadvise(t->fd, 0, 0, POSIX_FADV_DONTNEED);
	while (off < size && e == 0) {
		size_t n = size - off < XBUF ? (size_t)(size - off) : XBUF;

		if ((e = -ofs_pread_all(t->fd, x->rbuf, n, off)) != 0)
			break;
		ofs_xxh_update(h, x->rbuf, n);
		off += n;
	}
	if (e == 0) {
		ofs_xxh_digest(h, got);
		if (memcmp(got, want, OFS_XXH_LEN) != 0)
			e = EIO;
	}
	ofs_xxh_free(h);
	return e == ENODATA ? EIO : e;
}

/* Export blob i to its disk(s). 0 done (or the blob recorded as errored), 1 a disk failed
 * (*bad, *reason set). */
static int
export_blob(struct xrun *x, size_t i, size_t *bad, char *reason, size_t rsz)
{
	struct target t[64];
	struct dc_blob_reader *r = NULL;
	struct ofs_hasher *hs = NULL;
	struct ofs_error err;
	const char *blob;
	char *cont = NULL, *rel = disk_rel(x, i);
	uint64_t size = 0, off = 0;
	size_t nt = 0;
	int rc = 0, e;

	for (size_t k = 0; k < x->p.ndisks && nt < 64; k++)
		if (x->p.place[i] == DC_PLACE_ALL || x->p.place[i] == (int)k) {
			t[nt].disk = k;
			t[nt].pfd = t[nt].fd = -1;
			t[nt].tmp = NULL;
			nt++;
		}
	blob_of(&x->p, i, &cont, &blob);
	if ((e = dc_store_reader_open(x->ctx->store, x->p.account, cont, blob, &r, &size,
	    &err)) != 0) {
		x->why[i] = e == OFS_ERR_NOTFOUND ? "BlobNotFound" : "BlobUnreadable";
		x->detail[i] = ofs_xstrdup(e == OFS_ERR_NOTFOUND ? "not in the storage account" :
		    "the blob could not be read from the storage account");
		goto out;
	}
	for (size_t j = 0; j < nt; j++) {
		if ((t[j].pfd = open_parent(x->rootfd[t[j].disk], rel, &t[j].base)) < 0) {
			e = errno;
			goto disk_fail_j;
		}
		t[j].tmp = ofs_xasprintf(".%s" TMP_SUFFIX, t[j].base);
		if ((t[j].fd = openat(t[j].pfd, t[j].tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0644)) < 0) {
			e = errno;
			goto disk_fail_j;
		}
		continue;
disk_fail_j:
		*bad = t[j].disk;
		snprintf(reason, rsz, "cannot create '%s' on it: %s", rel, strerror(e));
		rc = 1;
		goto out;
	}
	hs = ofs_hasher_new(OFS_REGION_SIZE);
	while (off < size) {
		size_t n = size - off < XBUF ? (size_t)(size - off) : XBUF;

		if (dc_store_reader_read(r, off, x->buf, n, &err) != 0) {
			x->why[i] = "BlobUnreadable";
			x->detail[i] = ofs_xstrdup("the blob could not be read from the storage "
			    "account");
			dc_log("job '%s': %s", x->job_name, err.msg);
			goto out;
		}
		ofs_hasher_update(hs, x->buf, n);
		for (size_t j = 0; j < nt; j++)
			if ((e = -ofs_pwrite_all(t[j].fd, x->buf, n, off)) != 0) {
				*bad = t[j].disk;
				snprintf(reason, rsz, "cannot write '%s': %s", rel, strerror(e));
				rc = 1;
				goto out;
			}
		off += n;
	}
	ofs_hasher_finish(hs, &x->h[i]);
	for (size_t j = 0; j < nt; j++) {
		if (fsync(t[j].fd) != 0 || (e = read_back(x, &t[j], size, x->h[i].xxh)) != 0) {
			e = e ? e : errno;
			*bad = t[j].disk;
			snprintf(reason, rsz, "'%s' %s", rel, e == EIO ? "did not read back as "
			    "written" : strerror(e));
			rc = 1;
			goto out;
		}
	}
	for (size_t j = 0; j < nt; j++) {
		if (renameat(t[j].pfd, t[j].tmp, t[j].pfd, t[j].base) != 0 || fsync(t[j].pfd) != 0) {
			*bad = t[j].disk;
			snprintf(reason, rsz, "cannot rename '%s' into place: %s", rel,
			    strerror(errno));
			rc = 1;
			goto out;
		}
		close(t[j].fd);
		t[j].fd = -1;
	}
	pthread_mutex_lock(&x->ctx->mu);
	for (size_t j = 0; j < nt; j++) {
		json_t *d = xdisk(x, t[j].disk);

		bump(d, "filesProcessed", 1);
		bump(d, "bytesProcessed", (int64_t)size);
	}
	pthread_mutex_unlock(&x->ctx->mu);
out:
	if (x->why[i] != NULL) {
		x->errored++;
		pthread_mutex_lock(&x->ctx->mu);
		bump(xdisk(x, 0), "filesErroredOut", 1);
		pthread_mutex_unlock(&x->ctx->mu);
	}
	for (size_t j = 0; j < nt; j++)
		target_drop(&t[j]);
	ofs_hasher_free(hs);
	dc_store_reader_free(r);
	free(cont);
	free(rel);
	return rc;
}

/* Write name at the disk's root: .<name>.offseed-tmp, fsync, rename, fsync. 0 or errno. */
static int
write_root(int rootfd, const char *name, const void *data, size_t len)
{
	char *tmp = ofs_xasprintf(".%s" TMP_SUFFIX, name);
	int fd, e = 0;

	if ((fd = openat(rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644)) < 0) {
		e = errno;
		goto out;
	}
	if ((e = -ofs_pwrite_all(fd, data, len, 0)) == 0 && fsync(fd) != 0)
		e = errno;
	close(fd);
	if (e == 0 && (renameat(rootfd, tmp, rootfd, name) != 0 || fsync(rootfd) != 0))
		e = errno;
	if (e != 0)
		unlinkat(rootfd, tmp, 0);
out:
	free(tmp);
	return e;
}

/* The manifests of every disk, then the set manifest on each. 0, or 1 with *bad. */
static int
write_manifests(struct xrun *x, size_t *bad, char *reason, size_t rsz)
{
	struct ofs_set_manifest set;
	struct ofs_buf b = OFS_BUF_INIT(OFS_MANIFEST_MAX), sb = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
	struct ofs_error err;
	char when[32];
	int rc = 0, e;

	memset(&set, 0, sizeof(set));
	ofs_fmt_time(dc_now_s(), when, sizeof(when));
	set.version = OFS_SET_MANIFEST_VERSION;
	set.tool = ofs_xstrdup("offseed-dc " OFS_VERSION);
	set.created = ofs_xstrdup(when);
	set.repository = ofs_xstrdup(x->p.repo);
	set.seed_set = ofs_xstrdup(x->seed_set);
	set.job = ofs_xstrdup(x->job_name);
	set.destination = ofs_xstrdup(x->destination);
	set.disks = ofs_xcalloc(x->p.ndisks, sizeof(*set.disks));
	set.ndisks = x->p.ndisks;
	for (size_t k = 0; k < x->p.ndisks && rc == 0; k++) {
		struct ofs_manifest *m = ofs_manifest_new();
		struct ofs_set_disk *sd = &set.disks[k];
		uint8_t sha[32];

		m->version = OFS_MANIFEST_VERSION;
		m->tool = ofs_xstrdup("offseed-dc " OFS_VERSION);
		m->created = ofs_xstrdup(when);
		m->repository = ofs_xstrdup(x->p.repo);
		m->seed_set = ofs_xstrdup(x->seed_set);
		m->job = ofs_xstrdup(x->job_name);
		m->has_disk = 1;
		m->disk_index = (uint32_t)(k + 1);
		m->disk_count = (uint32_t)x->p.ndisks;
		m->serial = ofs_xstrdup(x->p.serials[k]);
		m->region_size = OFS_REGION_SIZE;
		sd->index = (uint32_t)(k + 1);
		sd->serial = ofs_xstrdup(x->p.serials[k]);
		sd->containers = ofs_xcalloc(x->p.n + 1, sizeof(char *));
		for (size_t i = 0; i < x->p.n; i++) {
			struct ofs_file_hashes h;
			char *rel;

			if (x->why[i] != NULL || !(x->p.place[i] == DC_PLACE_ALL ||
			    x->p.place[i] == (int)k))
				continue;
			ofs_file_hashes_copy(&x->h[i], &h);
			rel = disk_rel(x, i);
			ofs_manifest_add(m, rel, &h);
			sd->bytes += x->h[i].size;
			sd->files++;
			if (group_of(&x->p, i) == DC_EXPORT_CONTAINERS)
				sd->containers[sd->ncontainers++] = ofs_xstrdup(strrchr(rel, '/') + 1);
			free(rel);
		}
		ofs_buf_reset(&b);
		if (ofs_manifest_encode(m, &b, &err) != 0) {
			*bad = k;
			snprintf(reason, rsz, "its manifest cannot be made: %.300s", err.msg);
			rc = 1;
		} else if ((e = write_root(x->rootfd[k], OFS_MANIFEST_NAME, b.data, b.len)) != 0) {
			*bad = k;
			snprintf(reason, rsz, "cannot write %s: %s", OFS_MANIFEST_NAME, strerror(e));
			rc = 1;
		} else {
			ofs_sha256(b.data, b.len, sha);
			ofs_hex(sha, 32, sd->manifest_sha256);
		}
		ofs_manifest_free(m);
	}
	if (rc == 0 && ofs_set_manifest_encode(&set, &sb, &err) != 0) {
		*bad = 0;
		snprintf(reason, rsz, "the set manifest cannot be made: %.300s", err.msg);
		rc = 1;
	}
	for (size_t k = 0; k < x->p.ndisks && rc == 0; k++)
		if ((e = write_root(x->rootfd[k], OFS_SET_MANIFEST_NAME, sb.data, sb.len)) != 0) {
			*bad = k;
			snprintf(reason, rsz, "cannot write %s: %s", OFS_SET_MANIFEST_NAME,
			    strerror(e));
			rc = 1;
		}
	if (rc == 0) {
		pthread_mutex_lock(&x->ctx->mu);
		for (size_t k = 0; k < x->p.ndisks; k++)
			json_object_set_new(xdisk(x, k), "manifestHash",
			    json_string(set.disks[k].manifest_sha256));
		pthread_mutex_unlock(&x->ctx->mu);
	}
	ofs_set_manifest_release(&set);
	ofs_buf_release(&b);
	ofs_buf_release(&sb);
	return rc;
}

/* A log entry for blob i (with its error when it has one). */
static json_t *
log_entry(struct xrun *x, size_t i)
{
	char *cont;
	const char *blob;
	json_t *e;

	blob_of(&x->p, i, &cont, &blob);
	e = json_pack("{s:s, s:s, s:s, s:s}", "path", x->p.paths[i], "container", cont, "blob",
	    blob, "blobType", group_of(&x->p, i) == DC_EXPORT_CONTAINERS ? "PageBlob" :
	    "BlockBlob");
	free(cont);
	if (x->p.sizes[i] >= 0)
		json_object_set_new(e, "size", json_integer(x->p.sizes[i]));
	if (x->why[i] != NULL) {
		json_object_set_new(e, "error", json_string(x->why[i]));
		json_object_set_new(e, "detail", json_string(x->detail[i]));
	} else {
		json_object_set_new(e, "result", json_string("exported"));
	}
	return e;
}

/* Copy logs of disk k (errors of blobs on no disk go to the first disk's), its status. */
static void
finish_disk(struct xrun *x, size_t k, const char *status)
{
	struct dc_ctx *ctx = x->ctx;
	struct dc_logtext el, vl;
	struct ofs_error err;
	json_t *hdr, *d;
	char *name, *elink = NULL, *vlink = NULL, t[32];

	ofs_fmt_time(dc_now_s(), t, sizeof(t));
	pthread_mutex_lock(&ctx->mu);
	d = xdisk(x, k);
	hdr = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
	    "format", "offseed-dc-copylog", "version", 1, "kind", "error", "transferType",
	    "ExportFromAzure", "job", x->job_name, "serialNumber", x->p.serials[k], "copyStatus",
	    status, "finished", t, "filesProcessed", (json_int_t)dc_jint(d, "filesProcessed"),
	    "filesErroredOut", (json_int_t)dc_jint(d, "filesErroredOut"),
	    "totalFilesToProcess", (json_int_t)dc_jint(d, "totalFilesToProcess"),
	    "unlistedFiles", (json_int_t)0);
	pthread_mutex_unlock(&ctx->mu);
	dc_logtext_open(&el, json_deep_copy(hdr));
	json_object_set_new(hdr, "kind", json_string("verbose"));
	dc_logtext_open(&vl, hdr);
	for (size_t i = 0; i < x->p.n; i++) {
		int mine = x->p.place[i] == DC_PLACE_ALL || x->p.place[i] == (int)k;
		json_t *e;

		if (x->why[i] != NULL ? k != 0 : !mine)
			continue;
		e = log_entry(x, i);
		if (x->why[i] != NULL)
			dc_logtext_add(&el, e);
		dc_logtext_add(&vl, e);
		json_decref(e);
	}
	name = ofs_xasprintf("%s/%s/error.json", x->job_name, x->p.serials[k]);
	if (dc_logtext_close(&el) != 0 || dc_store_put_bytes(ctx->store, x->p.account,
	    DC_LOG_CONTAINER, name, el.b.data, el.b.len, &elink, &err) != 0)
		dc_log("job '%s' disk %s: cannot write the error log", x->job_name,
		    x->p.serials[k]);
	free(name);
	name = ofs_xasprintf("%s/%s/verbose.json", x->job_name, x->p.serials[k]);
	if (dc_logtext_close(&vl) != 0 || dc_store_put_bytes(ctx->store, x->p.account,
	    DC_LOG_CONTAINER, name, vl.b.data, vl.b.len, &vlink, &err) != 0)
		dc_log("job '%s' disk %s: cannot write the verbose log", x->job_name,
		    x->p.serials[k]);
	free(name);
	ofs_buf_release(&el.b);
	ofs_buf_release(&vl.b);
	pthread_mutex_lock(&ctx->mu);
	d = xdisk(x, k);
	if (elink != NULL && vlink != NULL) {
		json_object_set_new(d, "errorLogLink", json_string(elink));
		json_object_set_new(d, "verboseLogLink", json_string(vlink));
	}
	json_object_set_new(d, "copyStatus", json_string(status));
	json_object_set_new(d, "phase", json_string("done"));
	json_object_set_new(d, "finished", json_string(t));
	pthread_mutex_unlock(&ctx->mu);
	free(elink);
	free(vlink);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A disk failed: record ExportDiskFailed (ctx->mu held); the job stays in DataCopy. */
static void
disk_failed(struct xrun *x, size_t k, const char *reason)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "disk %s failed while the export was written: %s; run "
	    "'offseed-dc export' for the job again (same or other disks) to restart it",
	    x->p.serials[k], reason);
	json_object_set_new(xdisk(x, k), "copyStatus", json_string("Failed"));
	json_object_set_new(x->job->doc, "error", json_pack("{s:s, s:s}", "code",
	    "ExportDiskFailed", "message", msg));
	json_object_set_new(json_object_get(x->job->doc, "export"), "state",
	    json_string("failed"));
	save_locked(x);
	dc_log("job '%s': %s", x->job_name, msg);
}

/* 0 done, 1 stopping (the export restarts with the service), -1 failed (recorded). */
static int
run_export(struct xrun *x)
{
	struct dc_ctx *ctx = x->ctx;
	size_t bad = 0;
	char reason[768];
	int stop;

	for (size_t k = 0; k < x->p.ndisks; k++)
		if ((x->rootfd[k] = open(x->p.docks[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			snprintf(reason, sizeof(reason), "its folder '%s' cannot be opened: %s",
			    x->p.docks[k], strerror(errno));
			pthread_mutex_lock(&ctx->mu);
			disk_failed(x, k, reason);
			pthread_mutex_unlock(&ctx->mu);
			return -1;
		}
	/* What an earlier run of this export left is replaced, so a file another placement
	 * put on another disk is not left behind unlisted. */
	for (size_t k = 0; k < x->p.ndisks; k++)
		earlier_run(x->rootfd[k], x->p.paths[0], x->p.base_len, 1);
	for (size_t i = 0; i < x->p.n; i++) {
		pthread_mutex_lock(&ctx->mu);
		stop = ctx->stopping;
		if (!stop && ofs_now_ns() - x->last_save >= SAVE_EVERY_NS) {
			save_locked(x);
			x->last_save = ofs_now_ns();
		}
		pthread_mutex_unlock(&ctx->mu);
		if (stop)
			return 1;
		if (x->p.place[i] == DC_PLACE_MISSING) {
			x->why[i] = "BlobNotFound";
			x->detail[i] = ofs_xasprintf("not in storage account '%s'", x->p.account);
			x->errored++;
			pthread_mutex_lock(&ctx->mu);
			bump(xdisk(x, 0), "filesErroredOut", 1);
			pthread_mutex_unlock(&ctx->mu);
			continue;
		}
		if (export_blob(x, i, &bad, reason, sizeof(reason)) != 0) {
			pthread_mutex_lock(&ctx->mu);
			disk_failed(x, bad, reason);
			pthread_mutex_unlock(&ctx->mu);
			return -1;
		}
		if (ctx->copy_delay_ms > 0)
			sleep_ms(ctx->copy_delay_ms);
	}
	if (write_manifests(x, &bad, reason, sizeof(reason)) != 0) {
		pthread_mutex_lock(&ctx->mu);
		disk_failed(x, bad, reason);
		pthread_mutex_unlock(&ctx->mu);
		return -1;
	}
	for (size_t k = 0; k < x->p.ndisks; k++)
		finish_disk(x, k, k == 0 && x->errored > 0 ? "CompletedWithErrors" : "Completed");
	return 0;
}

/* Counters of a run starting: totals per disk, nothing processed yet. */
static void
start_counters(struct xrun *x)
{
	for (size_t k = 0; k < x->p.ndisks; k++) {
		json_t *d = xdisk(x, k);
		int64_t files = 0, bytes = 0;

		for (size_t i = 0; i < x->p.n; i++)
			if (x->p.place[i] == DC_PLACE_ALL || x->p.place[i] == (int)k) {
				files++;
				bytes += x->p.sizes[i];
			}
		json_object_set_new(d, "copyStatus", json_string("InProgress"));
		json_object_set_new(d, "totalFilesToProcess", json_integer(files));
		json_object_set_new(d, "totalBytesToProcess", json_integer(bytes));
		json_object_set_new(d, "filesProcessed", json_integer(0));
		json_object_set_new(d, "bytesProcessed", json_integer(0));
		json_object_set_new(d, "filesErroredOut", json_integer(0));
		json_object_del(d, "manifestHash");
	}
}

void *
dc_export_worker(void *varg)
{
	struct dc_worker_arg *a = varg;
	struct dc_ctx *ctx = a->ctx;
	struct xrun x;
	int r = -1;

	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.job = a->job;
	free(a);
	pthread_mutex_lock(&ctx->mu);
	if (load_run(&x) != 0 || !dc_store_serves(ctx->store, x.p.account)) {
		json_object_set_new(x.job->doc, "error", json_pack("{s:s, s:s}", "code",
		    "StorageAccountNotServed", "message", "the job's storage account is not served "
		    "here"));
		json_object_set_new(json_object_get(x.job->doc, "export"), "state",
		    json_string("failed"));
		save_locked(&x);
		pthread_mutex_unlock(&ctx->mu);
		goto out;
	}
	if (strcmp(dc_jstr(x.job->doc, "status"), "DataCopy") != 0)
		dc_job_set_stage(x.job->doc, "DataCopy", dc_now_s());
	start_counters(&x);
	save_locked(&x);
	pthread_mutex_unlock(&ctx->mu);
	dc_log("job '%s': exporting %zu blob(s) to %zu disk(s)", x.job_name, x.p.n, x.p.ndisks);

	x.rootfd = ofs_xcalloc(x.p.ndisks + 1, sizeof(int));
	for (size_t k = 0; k < x.p.ndisks; k++)
		x.rootfd[k] = -1;
	x.h = ofs_xcalloc(x.p.n + 1, sizeof(*x.h));
	x.why = ofs_xcalloc(x.p.n + 1, sizeof(*x.why));
	x.detail = ofs_xcalloc(x.p.n + 1, sizeof(*x.detail));
	x.buf = ofs_xmalloc(XBUF);
	x.rbuf = ofs_xmalloc(XBUF);
	x.last_save = ofs_now_ns();
	r = run_export(&x);
	pthread_mutex_lock(&ctx->mu);
	if (r == 0) {
		json_t *ex = json_object_get(x.job->doc, "export");

		json_object_set_new(ex, "state", json_string("done"));
		json_object_set_new(ex, "errored", json_integer(x.errored));
		json_object_del(ex, "sizes");
		json_object_del(ex, "place");
		save_locked(&x);
	}
	pthread_mutex_unlock(&ctx->mu);
	dc_log("job '%s': export %s", x.job_name, r == 0 ? "written" : r == 1 ? "stopped (it "
	    "restarts with the service)" : "failed");
out:
	pthread_mutex_lock(&ctx->mu);
	x.job->worker = 0;
	dc_job_finish(ctx, x.job);
	pthread_mutex_unlock(&ctx->mu);
	for (size_t k = 0; x.rootfd != NULL && k < x.p.ndisks; k++)
		if (x.rootfd[k] >= 0)
			close(x.rootfd[k]);
	for (size_t i = 0; i < x.p.n; i++) {
		if (x.h != NULL)
			ofs_file_hashes_release(&x.h[i]);
		if (x.detail != NULL)
			free(x.detail[i]);
	}
	free(x.rootfd);
	free(x.h);
	free(x.why);
	free(x.detail);
	free(x.buf);
	free(x.rbuf);
	free(x.seed_set);
	free(x.job_name);
	free(x.destination);
	dc_xplan_release(&x.p);
	return NULL;
}
