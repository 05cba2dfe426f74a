/* Restore engine: one thread walks the snapshot tree and creates every entry with *at()
 * calls below O_NOFOLLOW directory descriptors; a worker pool fetches, decrypts and
 * pwrite()s file chunks, so several files and the chunks of one file proceed in parallel. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "restore.h"
#include "util.h"

#define MAX_DEPTH 2048		/* deeper trees are refused (one descriptor per level) */
#define MAX_INFLIGHT 64		/* open files being written at once (bounds fds and memory) */
#define CHUNK_MAX (64u << 20)	/* largest chunk plaintext accepted */

/* A regular file whose chunks are being written. */
struct fjob {
	int fd, dirfd;
	char *name;		/* in dirfd, for removal when damaged */
	char *path;		/* snapshot path, for messages */
	struct ofs_node node;	/* owned copy of metadata and chunk list */
	uint64_t *soff;		/* stream offset of each chunk; NULL: sequential */
	struct ofs_extent *seg;	/* stream → file mapping: seg[i] covers stream [sbase[i], +len) */
	uint64_t *sbase;
	size_t nseg;
	uint64_t slen;		/* expected content length (stream bytes) */
	int clip;		/* dense content of a sparse file: write only inside extents */
	size_t next, left;
	int damaged;		/* DAMAGED, or FAILED: a read or write failed (EIO…) */
	char reason[OFS_ERR_MSG_MAX + 64];
	struct fjob *qnext;
	/* One writer at a time per file: the kernel serializes writes to an inode anyway, and
	 * concurrent pwrite()s to one file spin on its lock (a third of restore's CPU time). */
	pthread_mutex_t wmu;
};

struct dframe {
	int fd;			/* -1: not created yet (only a pattern match below may need it) */
	char *name;		/* in the parent frame */
	struct ofs_node meta;	/* applied when leaving; type 0 for the root frame */
	size_t slen, rlen;	/* lengths of spath and rpath for this directory */
	int included;
	int failed;		/* could not be created: children are skipped */
};

struct hl {
	uint64_t dev, ino;
	char *rel;
};

struct rs {
	const struct ofs_restore_src *src;
	const struct ofs_restore_opts *o;
	struct ofs_restore_stats *st;
	void *ctx;		/* main thread's source context */
	int root_uid;
	int tfd;		/* target */
	struct dframe *fr;
	size_t depth, frcap;
	struct ofs_buf spath, rpath;
	struct hl *hls;
	size_t nhl, hlcap;
	int xattr_warned;

	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_space;
	struct fjob *qhead, *qtail;
	size_t inflight;
	int stop;		/* workers exit when the queue is empty */
	int fatal;
	struct ofs_error fatal_err;
	char first_failure[OFS_ERR_MSG_MAX + 64];	/* the first FAILED entry, for the error */
	pthread_t *th;
	int nth;
};

/* ---- listing of failures ---- */

/* What note() is told about an entry not restored. An I/O error is not damage: the bytes
 * were never read (or could not be written), so it ends the run with exit 1, not 4. */
enum { SKIPPED = 0, DAMAGED = 1, FAILED = 2 };

/* A read error that is the system's, not the data's: the call failed with an errno. */
static int
io_failure(int r, const struct ofs_error *e)
{
	return r == OFS_ERR_IO && e->sys_errno != 0 && e->sys_errno != ENOENT;
}

static void
note(struct rs *R, const char *path, const char *reason, int damaged)
{
	struct ofs_restore_stats *st = R->st;

	pthread_mutex_lock(&R->mu);
	if (damaged == FAILED) {
		if (st->failed++ == 0)
			snprintf(R->first_failure, sizeof(R->first_failure), "'%s': %s", path,
			    reason);
		ofs_error("not restored: '%s': %s", path, reason);
	} else if (damaged) {
		st->damaged++;
		if (st->ndamaged_paths < OFS_RESTORE_MAX_LISTED) {
			st->damaged_paths = ofs_xreallocarray(st->damaged_paths,
			    st->ndamaged_paths + 1, sizeof(char *));
			st->damaged_paths[st->ndamaged_paths++] = ofs_xstrdup(path);
		}
		ofs_error("damaged: '%s': %s", path, reason);
	} else {
		st->skipped++;
		ofs_warn("not restored: '%s': %s", path, reason);
	}
	if (R->o->report != NULL)
		fprintf(R->o->report, "%s\t%s%s\n", path, damaged == FAILED ? "failed: " :
		    damaged ? "damaged: " : "", reason);
	pthread_mutex_unlock(&R->mu);
}

static void
set_fatal(struct rs *R, const struct ofs_error *e)
{
	pthread_mutex_lock(&R->mu);
	if (!R->fatal) {
		R->fatal = 1;
		R->fatal_err = *e;
	}
	pthread_cond_broadcast(&R->cv_space);
	pthread_mutex_unlock(&R->mu);
}

/* Read failures that are not damage and that no other file escapes: stop the restore.
 * A container on a disk not given (disks:, OFS_ERR_UNAVAILABLE) is not one: the other disks
 * still restore; a seed set whose import into the cloud is pending is. */
static int
read_fatal(int r, const struct ofs_error *e)
{
	(void)e;
	return r == OFS_ERR_VERSION || r == OFS_ERR_AUTH || r == OFS_ERR_NETWORK ||
	    r == OFS_ERR_PENDING;
}

/* ---- metadata ---- */

static void
xattr_fail(struct rs *R, const char *path, const char *name, int e)
{
	if (R->xattr_warned++ == 0)
		ofs_warn("cannot restore extended attribute '%s' of '%s': %s (further such "
		    "failures are not reported)", name, path, strerror(e));
}

/* Times as utimensat wants them: atime, mtime. */
static void
node_times(const struct ofs_node *n, struct timespec ts[2])
{
	int64_t t[2] = { n->atime_ns, n->mtime_ns };

	for (int i = 0; i < 2; i++) {
		int64_t s = t[i] / 1000000000LL, ns = t[i] % 1000000000LL;
		if (ns < 0) {
			ns += 1000000000LL;
			s--;
		}
		ts[i].tv_sec = (time_t)s;
		ts[i].tv_nsec = (long)ns;
	}
}

/* Owner, xattrs, mode, times of an open file or directory. */
static void
meta_fd(struct rs *R, int fd, const struct ofs_node *n, const char *path)
{
	struct timespec ts[2];

	if (R->root_uid && fchown(fd, n->uid, n->gid) != 0)
		ofs_verbose("cannot set owner of '%s': %s", path, strerror(errno));
	for (size_t i = 0; i < n->nxattrs; i++)
		if (fsetxattr(fd, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) != 0)
			xattr_fail(R, path, n->xattrs[i].name, errno);
	if (fchmod(fd, n->mode & 07777) != 0)
		ofs_verbose("cannot set mode of '%s': %s", path, strerror(errno));
	node_times(n, ts);
	if (futimens(fd, ts) != 0)
		ofs_verbose("cannot set times of '%s': %s", path, strerror(errno));
}

/* The same for an entry we cannot open (symlink, FIFO, device): by name, never following. */
static void
meta_at(struct rs *R, int dfd, const char *name, const struct ofs_node *n, const char *path)
{
	struct timespec ts[2];
	char proc[64 + NAME_MAX * 4];

	if (R->root_uid && fchownat(dfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) != 0)
		ofs_verbose("cannot set owner of '%s': %s", path, strerror(errno));
	if (n->nxattrs > 0) {
		/* /proc/self/fd/N resolves to our own descriptor; l*xattr does not follow the
		 * last component */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
		for (size_t i = 0; i < n->nxattrs; i++)
			if (lsetxattr(proc, n->xattrs[i].name, n->xattrs[i].value,
			    n->xattrs[i].len, 0) != 0)
				xattr_fail(R, path, n->xattrs[i].name, errno);
	}
	if (n->type != OFS_NODE_SYMLINK &&
	    fchmodat(dfd, name, n->mode & 07777, AT_SYMLINK_NOFOLLOW) != 0)
		ofs_verbose("cannot set mode of '%s': %s", path, strerror(errno));
	node_times(n, ts);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
		ofs_verbose("cannot set times of '%s': %s", path, strerror(errno));
}

/* ---- file jobs ---- */

static void
fjob_free(struct fjob *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->name);
	free(j->path);
	ofs_node_release(&j->node);
	free(j->soff);
	free(j->seg);
	free(j->sbase);
	pthread_mutex_destroy(&j->wmu);
	free(j);
}

/* Close a finished file: metadata, or removal when damaged. Called without the lock. */
static void
fjob_finish(struct rs *R, struct fjob *j)
{
	struct stat st;

	if (!j->damaged && fstat(j->fd, &st) == 0 && (uint64_t)st.st_size != j->node.size &&
	    ftruncate(j->fd, (off_t)j->node.size) != 0) {
		j->damaged = 1;
		snprintf(j->reason, sizeof(j->reason), "cannot set size: %s", strerror(errno));
	}
	if (j->damaged) {
		close(j->fd);
		j->fd = -1;
		unlinkat(j->dirfd, j->name, 0);	/* never leave a half-written file */
		if (!R->fatal)	/* else the fatal error is the reason, reported once */
			note(R, j->path, j->reason, j->damaged);
	} else {
		meta_fd(R, j->fd, &j->node, j->path);
		pthread_mutex_lock(&R->mu);
		R->st->files++;
		pthread_mutex_unlock(&R->mu);
		if (R->o->progress != NULL)
			ofs_progress_add(R->o->progress, 0, 1, j->path);
	}
	pthread_mutex_lock(&R->mu);
	R->inflight--;
	pthread_cond_broadcast(&R->cv_space);
	pthread_mutex_unlock(&R->mu);
	fjob_free(j);
}

/* Write stream bytes [s, s+n) of job j through its segment map. Returns 0 or errno. */
static int write_stream_locked(struct fjob *j, uint64_t s, const uint8_t *p, uint64_t n);

static int
write_stream(struct fjob *j, uint64_t s, const uint8_t *p, uint64_t n)
{
	int rc;

	pthread_mutex_lock(&j->wmu);
	rc = write_stream_locked(j, s, p, n);
	pthread_mutex_unlock(&j->wmu);
	return rc;
}

static int
write_stream_locked(struct fjob *j, uint64_t s, const uint8_t *p, uint64_t n)
{
	for (size_t i = 0; i < j->nseg && n > 0; i++) {
		uint64_t b = j->sbase[i], e = b + j->seg[i].len, from, to;
		int r;

		if (e <= s || b >= s + n)
			continue;
		from = s > b ? s : b;
		to = s + n < e ? s + n : e;
		if ((r = ofs_pwrite_all(j->fd, p + (from - s), (size_t)(to - from),
		    j->seg[i].off + (from - b))) != 0)
			return -r;
	}
	return 0;
}

static void
job_fail(struct rs *R, struct fjob *j, int how, const char *why)
{
	pthread_mutex_lock(&R->mu);
	if (!j->damaged) {
		j->damaged = how;
		snprintf(j->reason, sizeof(j->reason), "%s", why);
	}
	pthread_mutex_unlock(&R->mu);
}

/* Fetch chunk i of j and write it at stream offset soff. */
static int
do_chunk(struct rs *R, void *ctx, struct fjob *j, size_t i, uint64_t soff, uint64_t want,
    struct ofs_buf *buf, uint64_t *got)
{
	struct ofs_error e;
	char hex[2 * OFS_ID_LEN + 1], msg[128];
	int r;

	ofs_buf_reset(buf);
	*got = 0;
	if (j->damaged)
		return 0;
	ofs_err_clear(&e);
	if ((r = R->src->read_blob(R->src->ud, ctx, j->node.chunks[i], buf, &e)) != 0) {
		if (read_fatal(r, &e))
			set_fatal(R, &e);	/* not damage: nothing here can be read */
		job_fail(R, j, io_failure(r, &e) ? FAILED : DAMAGED,
		    e.msg[0] ? e.msg : "chunk cannot be read");
		return 0;
	}
	if (want != UINT64_MAX && buf->len != want) {
		ofs_hex(j->node.chunks[i], OFS_ID_LEN, hex);
		snprintf(msg, sizeof(msg), "chunk %.16s has %zu bytes, the index says %llu", hex,
		    buf->len, (unsigned long long)want);
		job_fail(R, j, DAMAGED, msg);
		return 0;
	}
	if ((r = write_stream(j, soff, buf->data, buf->len)) != 0) {
		if (r == ENOSPC || r == EDQUOT) {
			ofs_err_sys(&e, OFS_ERR_NOSPACE, r, "cannot write '%s'", j->path);
			set_fatal(R, &e);
		}
		snprintf(msg, sizeof(msg), "write failed: %s", strerror(r));
		job_fail(R, j, FAILED, msg);
		return 0;
	}
	*got = buf->len;
	if (R->o->progress != NULL)
		ofs_progress_add(R->o->progress, buf->len, 0, j->path);
	pthread_mutex_lock(&R->mu);
	R->st->bytes += buf->len;
	pthread_mutex_unlock(&R->mu);
	return 0;
}

static void *
worker(void *arg)
{
	struct rs *R = arg;
	struct ofs_buf buf = OFS_BUF_INIT(CHUNK_MAX);
	void *ctx = R->src->ctx_new ? R->src->ctx_new(R->src->ud) : NULL;

	for (;;) {
		struct fjob *j;
		size_t i;
		int last;
		uint64_t got;

		pthread_mutex_lock(&R->mu);
		while (R->qhead == NULL && !R->stop)
			pthread_cond_wait(&R->cv_work, &R->mu);
		if ((j = R->qhead) == NULL) {
			pthread_mutex_unlock(&R->mu);
			break;
		}
		if (j->soff == NULL) {
			/* sizes unknown: one worker writes the whole file in order */
			R->qhead = j->qnext;
			if (R->qhead == NULL)
				R->qtail = NULL;
			pthread_mutex_unlock(&R->mu);
			uint64_t s = 0;
			for (i = 0; i < j->node.nchunks && !j->damaged; i++) {
				do_chunk(R, ctx, j, i, s, UINT64_MAX, &buf, &got);
				s += got;
			}
			if (!j->damaged && s != j->slen) {
				char d[128];
				snprintf(d, sizeof(d), "content is %llu bytes, expected %llu",
				    (unsigned long long)s, (unsigned long long)j->slen);
				job_fail(R, j, DAMAGED, d);
			}
			fjob_finish(R, j);
			continue;
		}
		i = j->next++;
		if (j->next == j->node.nchunks) {
			R->qhead = j->qnext;
			if (R->qhead == NULL)
				R->qtail = NULL;
		}
		pthread_mutex_unlock(&R->mu);
		do_chunk(R, ctx, j, i, j->soff[i], (i + 1 < j->node.nchunks ? j->soff[i + 1] :
		    j->soff[j->node.nchunks]) - j->soff[i], &buf, &got);
		pthread_mutex_lock(&R->mu);
		last = --j->left == 0;
		pthread_mutex_unlock(&R->mu);
		if (last)
			fjob_finish(R, j);
	}
	ofs_buf_release(&buf);
	if (R->src->ctx_free)
		R->src->ctx_free(R->src->ud, ctx);
	return NULL;
}

/* Build the stream → file segment map and, when chunk sizes are known, the chunk offsets.
 * Content is either the concatenated data extents (sparse files as stage writes them) or
 * the whole file. Returns 0, or -1 with j->reason set. */
static int
plan(struct rs *R, struct fjob *j)
{
	const struct ofs_node *n = &j->node;
	uint64_t total = 0, ext = 0, sz;
	int known = R->src->blob_size != NULL;

	if (known) {
		j->soff = ofs_xcalloc(n->nchunks + 1, sizeof(uint64_t));
		for (size_t i = 0; i < n->nchunks; i++) {
			if (R->src->blob_size(R->src->ud, n->chunks[i], &sz) != 0 || sz == 0 ||
			    sz > CHUNK_MAX) {
				char hex[2 * OFS_ID_LEN + 1];
				ofs_hex(n->chunks[i], OFS_ID_LEN, hex);
				snprintf(j->reason, sizeof(j->reason),
				    "chunk %.16s is not in the index", hex);
				return -1;
			}
			j->soff[i] = total;
			total += sz;
		}
		j->soff[n->nchunks] = total;
	}
	for (size_t i = 0; n->sparse && i < n->nextents; i++)
		ext += n->extents[i].len;
	if (n->sparse && (!known || total == ext)) {
		j->nseg = n->nextents;
		j->seg = ofs_xcalloc(j->nseg + 1, sizeof(*j->seg));
		j->sbase = ofs_xcalloc(j->nseg + 1, sizeof(uint64_t));
		for (size_t i = 0, s = 0; i < n->nextents; i++) {
			j->seg[i] = n->extents[i];
			j->sbase[i] = s;
			s += n->extents[i].len;
		}
	} else if (n->sparse && total == n->size) {
		j->clip = 1;	/* whole-file content: write only the data regions */
		j->nseg = n->nextents;
		j->seg = ofs_xcalloc(j->nseg + 1, sizeof(*j->seg));
		j->sbase = ofs_xcalloc(j->nseg + 1, sizeof(uint64_t));
		for (size_t i = 0; i < n->nextents; i++) {
			j->seg[i] = n->extents[i];
			j->sbase[i] = n->extents[i].off;
		}
	} else {
		j->nseg = 1;
		j->seg = ofs_xcalloc(1, sizeof(*j->seg));
		j->sbase = ofs_xcalloc(1, sizeof(uint64_t));
		j->seg[0].off = 0;
		j->seg[0].len = n->size;
	}
	j->slen = n->sparse && !j->clip ? ext : n->size;
	if (known && total != j->slen) {
		snprintf(j->reason, sizeof(j->reason), "chunks hold %llu bytes, the file has %llu",
		    (unsigned long long)total, (unsigned long long)(n->sparse && !j->clip ? ext :
		    n->size));
		return -1;
	}
	return 0;
}

static int
enqueue(struct rs *R, struct fjob *j)
{
	pthread_mutex_lock(&R->mu);
	while (R->inflight >= MAX_INFLIGHT && !R->fatal)
		pthread_cond_wait(&R->cv_space, &R->mu);
	if (R->fatal) {
		pthread_mutex_unlock(&R->mu);
		return -1;
	}
	R->inflight++;
	j->left = j->node.nchunks;
	if (R->qtail != NULL)
		R->qtail->qnext = j;
	else
		R->qhead = j;
	R->qtail = j;
	pthread_cond_signal(&R->cv_work);
	if (j->soff != NULL && j->node.nchunks > 1)
		pthread_cond_broadcast(&R->cv_work);
	pthread_mutex_unlock(&R->mu);
	return 0;
}

/* ---- paths and patterns ---- */

/* The path at base plus [/]name, NUL-terminated. Returns 0 or OFS_ERR_LIMIT (the path
 * buffers are unbounded: only past SIZE_MAX). */
static int
path_push(struct ofs_buf *b, size_t base, const uint8_t *name, size_t n, int slash)
{
	ofs_buf_truncate(b, base);
	if (slash)
		ofs_buf_putc(b, '/');
	ofs_buf_put(b, name, n);
	return ofs_buf_cstr(b);	/* fails after a failed put too */
}

static int
pat_match(const char *pat, const char *spath, const char *base)
{
	if (strchr(pat, '/') == NULL)
		return fnmatch(pat, base, 0) == 0;
	if (pat[0] == '/')
		return fnmatch(pat, spath, FNM_PATHNAME) == 0;
	return fnmatch(pat, spath + 1, FNM_PATHNAME) == 0;
}

static int
excluded(struct rs *R, const char *spath, const char *base)
{
	for (size_t i = 0; i < R->o->nexcludes; i++)
		if (pat_match(R->o->excludes[i], spath, base))
			return 1;
	return 0;
}

static int
included(struct rs *R, const char *spath, const char *base)
{
	for (size_t i = 0; i < R->o->nincludes; i++)
		if (pat_match(R->o->includes[i], spath, base))
			return 1;
	return 0;
}

/* ---- hard links ---- */

static struct hl *
hl_find(struct rs *R, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < R->nhl; i++)	/* linear: few groups in practice */
		if (R->hls[i].dev == dev && R->hls[i].ino == ino)
			return &R->hls[i];
	return NULL;
}

static void
hl_add(struct rs *R, uint64_t dev, uint64_t ino, const char *rel)
{
	if (R->nhl == R->hlcap) {
		R->hlcap = R->hlcap ? R->hlcap * 2 : 64;
		R->hls = ofs_xreallocarray(R->hls, R->hlcap, sizeof(*R->hls));
	}
	R->hls[R->nhl].dev = dev;
	R->hls[R->nhl].ino = ino;
	R->hls[R->nhl].rel = ofs_xstrdup(rel);
	R->nhl++;
}

/* Open the directory holding rel (relative to the target) without following symlinks.
 * Returns a descriptor (or R->tfd itself, which the caller must not close) and *last. */
static int
open_parent(struct rs *R, const char *rel, const char **last)
{
	char *copy = ofs_xstrdup(rel), *p = copy, *slash;
	int fd = R->tfd, nfd;

	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != R->tfd)
			close(fd);
		if (nfd < 0) {
			free(copy);
			return -1;
		}
		fd = nfd;
		p = slash + 1;
	}
	*last = rel + (p - copy);
	free(copy);
	return fd;
}

/* ---- entries ---- */

/* Make frame i exist on disk (directories are created lazily when includes are given). */
static int ensure_frame(struct rs *R, size_t i);

/* Create or reuse directory `name` in pfd. Returns an O_DIRECTORY descriptor or -1 with
 * *why set. */
static int
open_dir_in(struct rs *R, int pfd, const char *name, const char **why)
{
	struct stat st;
	int fd;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
		if (R->o->overwrite == OFS_OVERWRITE_NEVER) {
			*why = "a non-directory is in the way (--overwrite never)";
			return -1;
		}
		if (unlinkat(pfd, name, 0) != 0) {
			*why = strerror(errno);
			return -1;
		}
	}
	if (mkdirat(pfd, name, 0700) != 0 && errno != EEXIST) {
		*why = strerror(errno);
		return -1;
	}
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		*why = errno == ELOOP || errno == ENOTDIR ? "replaced by a symlink while restoring" :
		    strerror(errno);
		return -1;
	}
	return fd;
}

static int
ensure_frame(struct rs *R, size_t i)
{
	struct dframe *f = &R->fr[i];
	const char *why = NULL;
	char *save;

	if (f->fd >= 0)
		return 0;
	if (f->failed || i == 0)
		return -1;
	if (ensure_frame(R, i - 1) != 0) {
		f->failed = 1;
		return -1;
	}
	if ((f->fd = open_dir_in(R, R->fr[i - 1].fd, f->name, &why)) < 0) {
		f->failed = 1;
		save = ofs_xstrndup((char *)R->spath.data, f->slen);
		note(R, save, why, 0);
		free(save);
		return -1;
	}
	return 0;
}

static int restore_tree(struct rs *R, const uint8_t id[OFS_ID_LEN]);

/* Existing entry handling for non-directories. Returns 1 to go on creating, 0 when the
 * existing entry is kept (counted), -1 when it cannot be replaced (noted). */
static int
clear_way(struct rs *R, int dfd, const char *name, const struct ofs_node *n, const char *path)
{
	struct stat st;
	char buf[PATH_MAX];
	ssize_t l;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 1;
	if (S_ISDIR(st.st_mode)) {
		note(R, path, "a directory is in the way", 0);
		return -1;
	}
	if (R->o->overwrite == OFS_OVERWRITE_NEVER) {
		R->st->unchanged++;
		return 0;
	}
	if (R->o->overwrite == OFS_OVERWRITE_IF_CHANGED) {
		int same = 0;
		int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;

		if (n->type == OFS_NODE_FILE && S_ISREG(st.st_mode))
			same = (uint64_t)st.st_size == n->size && mt == n->mtime_ns;
		else if (n->type == OFS_NODE_SYMLINK && S_ISLNK(st.st_mode))
			same = (l = readlinkat(dfd, name, buf, sizeof(buf))) >= 0 &&
			    (size_t)l == n->targetlen && memcmp(buf, n->target, n->targetlen) == 0;
		else if (n->type == OFS_NODE_FIFO)
			same = S_ISFIFO(st.st_mode);
		else if (n->type == OFS_NODE_CHR || n->type == OFS_NODE_BLK)
			same = (n->type == OFS_NODE_CHR ? S_ISCHR(st.st_mode) :
			    S_ISBLK(st.st_mode)) && st.st_rdev == n->rdev;
		if (same) {
			R->st->unchanged++;
			return 0;
		}
	}
	if (unlinkat(dfd, name, 0) != 0) {
		char why[256];
		snprintf(why, sizeof(why), "cannot replace: %s", strerror(errno));
		note(R, path, why, 0);
		return -1;
	}
	return 1;
}

static int
restore_file(struct rs *R, int dfd, const char *name, struct ofs_node *n, const char *path)
{
	struct fjob *j;
	int fd;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		char why[256];
		snprintf(why, sizeof(why), "cannot create: %s", strerror(errno));
		if (errno == ENOSPC || errno == EDQUOT) {
			struct ofs_error e;
			ofs_err_sys(&e, OFS_ERR_NOSPACE, errno, "cannot create '%s'", path);
			set_fatal(R, &e);
		}
		note(R, path, why, 0);
		return -1;
	}
	j = ofs_xcalloc(1, sizeof(*j));
	pthread_mutex_init(&j->wmu, NULL);
	j->fd = fd;
	j->dirfd = -1;
	j->node = *n;		/* moved: the tree no longer owns it */
	memset(n, 0, sizeof(*n));
	j->name = ofs_xstrdup(name);
	j->path = ofs_xstrdup(path);
	if (j->node.sparse && ftruncate(fd, (off_t)j->node.size) != 0) {
		snprintf(j->reason, sizeof(j->reason), "cannot set size: %s", strerror(errno));
		j->damaged = 1;
	}
	if (!j->damaged && plan(R, j) != 0)
		j->damaged = 1;
	if ((j->dirfd = dup(dfd)) < 0) {
		fjob_free(j);
		return -1;
	}
	pthread_mutex_lock(&R->mu);
	R->inflight++;
	pthread_mutex_unlock(&R->mu);
	if (j->damaged || j->node.nchunks == 0) {
		if (!j->damaged && j->node.size > 0 && !j->node.sparse) {
			j->damaged = 1;
			snprintf(j->reason, sizeof(j->reason), "no content recorded for %llu bytes",
			    (unsigned long long)j->node.size);
		}
		fjob_finish(R, j);
		return 0;
	}
	pthread_mutex_lock(&R->mu);
	R->inflight--;
	pthread_mutex_unlock(&R->mu);
	if (enqueue(R, j) != 0) {
		unlinkat(j->dirfd, j->name, 0);
		fjob_free(j);
		return -1;
	}
	return 0;
}

/* One node of the directory at frame R->depth - 1. */
static void
restore_node(struct rs *R, struct ofs_node *n)
{
	struct dframe *f = &R->fr[R->depth - 1];
	size_t slen = f->slen, rlen = f->rlen;
	const char *path, *name, *last;
	struct hl *h;
	int inc, dfd, r, pfd;
	char why[512];

	if (R->fatal)
		return;
	if ((r = path_push(&R->spath, slen, n->name, n->namelen, 1)) != 0 ||
	    (r = path_push(&R->rpath, rlen, n->name, n->namelen, rlen > 0)) != 0) {
		struct ofs_error e;

		ofs_err_set(&e, r, "a restored path is too long");
		set_fatal(R, &e);
		return;
	}
	path = (const char *)R->spath.data;
	name = (const char *)n->name;
	if (!ofs_name_ok(n->name, n->namelen) || strlen(name) != n->namelen) {
		note(R, path, "unsafe name in the snapshot", 1);
		return;
	}
	if (excluded(R, path, name))
		return;
	inc = f->included || included(R, path, name);
	if (n->type == OFS_NODE_DIR) {
		struct dframe *nf;

		if (R->depth >= MAX_DEPTH) {
			note(R, path, "directory nesting too deep", 1);
			return;
		}
		if (R->depth == R->frcap) {
			R->frcap *= 2;
			R->fr = ofs_xreallocarray(R->fr, R->frcap, sizeof(*R->fr));
			f = &R->fr[R->depth - 1];
		}
		nf = &R->fr[R->depth++];
		memset(nf, 0, sizeof(*nf));
		nf->fd = -1;
		nf->name = ofs_xstrdup(name);
		nf->meta = *n;		/* moved */
		memset(n, 0, sizeof(*n));
		nf->slen = R->spath.len;
		nf->rlen = R->rpath.len;
		nf->included = inc;
		if (inc)
			ensure_frame(R, R->depth - 1);
		if (!nf->failed)
			restore_tree(R, nf->meta.subtree);
		nf = &R->fr[R->depth - 1];
		if (nf->fd >= 0) {
			/* back to a length that was NUL-terminated before: cannot fail */
			ofs_buf_truncate(&R->spath, nf->slen);
			if (ofs_buf_cstr(&R->spath) != 0) {
				struct ofs_error e;

				ofs_err_set(&e, OFS_ERR_LIMIT, "a restored path is too long");
				set_fatal(R, &e);
			}
			meta_fd(R, nf->fd, &nf->meta, (const char *)R->spath.data);
			R->st->dirs++;
			close(nf->fd);
		}
		free(nf->name);
		ofs_node_release(&nf->meta);
		R->depth--;
		return;
	}
	if (!inc)
		return;
	if (ensure_frame(R, R->depth - 1) != 0)
		return;
	dfd = R->fr[R->depth - 1].fd;
	if ((r = clear_way(R, dfd, name, n, path)) <= 0) {
		if (r == 0 && n->nlink > 1 && hl_find(R, n->dev, n->ino) == NULL)
			hl_add(R, n->dev, n->ino, (const char *)R->rpath.data);
		return;
	}

	if (n->nlink > 1 && (h = hl_find(R, n->dev, n->ino)) != NULL) {
		if ((pfd = open_parent(R, h->rel, &last)) >= 0) {
			r = linkat(pfd, last, dfd, name, 0);
			if (pfd != R->tfd)
				close(pfd);
			if (r == 0) {
				R->st->hardlinks++;
				return;
			}
		}
		/* the first copy is gone or elsewhere: restore this one in full */
	}

	switch (n->type) {
	case OFS_NODE_FILE:
		if (n->nlink > 1 && hl_find(R, n->dev, n->ino) == NULL)
			hl_add(R, n->dev, n->ino, (const char *)R->rpath.data);
		restore_file(R, dfd, name, n, path);
		return;
	case OFS_NODE_SYMLINK: {
		char *t;

		if (n->target == NULL || n->targetlen == 0 ||
		    memchr(n->target, '\0', n->targetlen) != NULL) {
			note(R, path, "symlink without a valid target", 1);
			return;
		}
		t = ofs_xstrndup((const char *)n->target, n->targetlen);
		r = symlinkat(t, dfd, name);
		free(t);
		if (r != 0) {
			snprintf(why, sizeof(why), "cannot create symlink: %s", strerror(errno));
			note(R, path, why, 0);
			return;
		}
		R->st->symlinks++;
		break;
	}
	case OFS_NODE_FIFO:
		if (mkfifoat(dfd, name, 0600) != 0) {
			snprintf(why, sizeof(why), "cannot create FIFO: %s", strerror(errno));
			note(R, path, why, 0);
			return;
		}
		R->st->others++;
		break;
	case OFS_NODE_CHR:
	case OFS_NODE_BLK:
	case OFS_NODE_SOCK:
		if (n->type != OFS_NODE_SOCK && !R->root_uid) {
			note(R, path, "device nodes can only be created by root", 0);
			return;
		}
		if (mknodat(dfd, name, (n->type == OFS_NODE_CHR ? S_IFCHR : n->type ==
		    OFS_NODE_BLK ? S_IFBLK : S_IFSOCK) | 0600, (dev_t)n->rdev) != 0) {
			snprintf(why, sizeof(why), "cannot create node: %s", strerror(errno));
			note(R, path, why, 0);
			return;
		}
		R->st->others++;
		break;
	default:
		note(R, path, "unknown node type", 1);
		return;
	}
	if (n->nlink > 1 && hl_find(R, n->dev, n->ino) == NULL)
		hl_add(R, n->dev, n->ino, (const char *)R->rpath.data);
	meta_at(R, dfd, name, n, path);
	if (R->o->progress != NULL)
		ofs_progress_add(R->o->progress, 0, 1, path);
}

/* Tree id for reading a node at a time: through the source's open_tree (which checks the
 * whole tree first), or its whole-tree load_tree, whose nodes are checked for order here
 * (*unsorted set) since such a source may hand over anything. */
static int
open_tree(struct rs *R, const uint8_t id[OFS_ID_LEN], struct ofs_tree_reader **out,
    int *unsorted, struct ofs_error *err)
{
	struct ofs_tree t;
	int r;

	*out = NULL;
	*unsorted = 0;
	if (R->src->open_tree != NULL)
		return R->src->open_tree(R->src->ud, R->ctx, id, out, err);
	if ((r = R->src->load_tree(R->src->ud, R->ctx, id, &t, err)) != 0)
		return r;
	for (size_t i = 1; i < t.n && !*unsorted; i++) {
		const struct ofs_node *a = &t.nodes[i - 1], *b = &t.nodes[i];
		size_t m = a->namelen < b->namelen ? a->namelen : b->namelen;
		int c = memcmp(a->name, b->name, m);

		*unsorted = c > 0 || (c == 0 && a->namelen >= b->namelen);
	}
	*out = ofs_tree_reader_from_tree(&t);
	return 0;
}

/* Restore the entries of tree `id` into the directory at the top frame, one node at a time
 * (a directory of millions of entries is never held whole). */
static int
restore_tree(struct rs *R, const uint8_t id[OFS_ID_LEN])
{
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node n;
	struct ofs_error e;
	size_t slen = R->fr[R->depth - 1].slen;
	char *path;
	int r, unsorted;

	ofs_err_clear(&e);
	if ((r = open_tree(R, id, &rd, &unsorted, &e)) != 0) {
		if (read_fatal(r, &e)) {
			set_fatal(R, &e);	/* not damage: nothing here can be read */
			return -1;
		}
		path = ofs_xstrndup(slen ? (char *)R->spath.data : "/", slen ? slen : 1);
		note(R, path, e.msg[0] ? e.msg : "tree cannot be read",
		    io_failure(r, &e) ? FAILED : DAMAGED);
		free(path);
		return -1;
	}
	if (unsorted) {
		path = ofs_xstrndup(slen ? (char *)R->spath.data : "/", slen ? slen : 1);
		note(R, path, "tree has duplicate or unsorted names", 1);
		free(path);
		ofs_tree_reader_free(rd);
		return -1;
	}
	while (!R->fatal && (r = ofs_tree_reader_next(rd, &n, &e)) == 1) {
		restore_node(R, &n);
		ofs_node_release(&n);	/* what restore_node did not take */
	}
	ofs_tree_reader_free(rd);
	if (r < 0) {	/* checked at open: only a failing source gets here */
		path = ofs_xstrndup(slen ? (char *)R->spath.data : "/", slen ? slen : 1);
		note(R, path, e.msg[0] ? e.msg : "tree cannot be read",
		    io_failure(r, &e) ? FAILED : DAMAGED);
		free(path);
		return -1;
	}
	return 0;
}

/* ---- driver ---- */

int
ofs_restore_parse_overwrite(const char *s)
{
	if (strcmp(s, "never") == 0)
		return OFS_OVERWRITE_NEVER;
	if (strcmp(s, "if-changed") == 0)
		return OFS_OVERWRITE_IF_CHANGED;
	if (strcmp(s, "always") == 0)
		return OFS_OVERWRITE_ALWAYS;
	return -1;
}

void
ofs_restore_stats_release(struct ofs_restore_stats *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->ndamaged_paths; i++)
		free(st->damaged_paths[i]);
	free(st->damaged_paths);
	st->damaged_paths = NULL;
	st->ndamaged_paths = 0;
}

/* Find the node at subpath; *node_out is an owned copy (type 0 means the root itself). */
static int
resolve(struct rs *R, const uint8_t root[OFS_ID_LEN], const char *subpath,
    struct ofs_node *node_out, struct ofs_error *err)
{
	uint8_t cur[OFS_ID_LEN];
	char *copy = ofs_xstrdup(subpath), *save = NULL, *comp;
	int r = 0;

	memset(node_out, 0, sizeof(*node_out));
	memcpy(cur, root, OFS_ID_LEN);
	for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
		struct ofs_tree_reader *rd = NULL;
		int unsorted;

		if (node_out->type != 0 && node_out->type != OFS_NODE_DIR) {
			r = ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is not in the snapshot "
			    "('%s' is not a directory)", subpath, (char *)node_out->name);
			goto out;
		}
		if ((r = open_tree(R, cur, &rd, &unsorted, err)) != 0)
			goto out;
		ofs_node_release(node_out);
		r = ofs_tree_reader_find(rd, (const uint8_t *)comp, strlen(comp), node_out, err);
		ofs_tree_reader_free(rd);
		if (r < 0)
			goto out;
		if (r == 0) {
			r = ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is not in the snapshot",
			    subpath);
			goto out;
		}
		r = 0;
		if (node_out->type == OFS_NODE_DIR)
			memcpy(cur, node_out->subtree, OFS_ID_LEN);
	}
out:
	free(copy);
	if (r != 0)
		ofs_node_release(node_out);
	return r;
}

int
ofs_restore_run(const struct ofs_restore_src *src, const uint8_t root[OFS_ID_LEN],
    const char *subpath, const struct ofs_restore_opts *o, struct ofs_restore_stats *st,
    struct ofs_error *err)
{
	struct rs R;
	struct ofs_node top;
	struct rlimit rl;
	int r = 0, nth, started = 0;
	char *sp = NULL;

	memset(st, 0, sizeof(*st));
	memset(&R, 0, sizeof(R));
	memset(&top, 0, sizeof(top));
	R.src = src;
	R.o = o;
	R.st = st;
	R.tfd = -1;
	R.root_uid = geteuid() == 0;
	ofs_buf_init(&R.spath, 0);
	ofs_buf_init(&R.rpath, 0);
	pthread_mutex_init(&R.mu, NULL);
	pthread_cond_init(&R.cv_work, NULL);
	pthread_cond_init(&R.cv_space, NULL);
	R.ctx = src->ctx_new ? src->ctx_new(src->ud) : NULL;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	if (subpath == NULL)
		subpath = "";
	if ((r = resolve(&R, root, subpath, &top, err)) != 0)
		goto out;
	if ((r = ofs_mkdir_p(o->target, 0700, err)) != 0)
		goto out;
	if ((R.tfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open target '%s'", o->target);
		goto out;
	}

	nth = o->threads > 0 ? o->threads : ofs_ncpu();
	if (nth > 64)
		nth = 64;
	R.th = ofs_xcalloc((size_t)nth, sizeof(pthread_t));
	for (R.nth = 0; R.nth < nth; R.nth++)
		if (pthread_create(&R.th[R.nth], NULL, worker, &R) != 0)
			break;
	if (R.nth == 0) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot start restore threads");
		goto out;
	}
	started = 1;

	R.frcap = 64;
	R.fr = ofs_xcalloc(R.frcap, sizeof(*R.fr));
	R.depth = 1;
	R.fr[0].fd = R.tfd;
	R.fr[0].included = o->nincludes == 0;
	/* snapshot paths of the entries start with the subpath */
	sp = ofs_xstrdup(subpath);
	while (strlen(sp) > 0 && sp[strlen(sp) - 1] == '/')
		sp[strlen(sp) - 1] = '\0';
	/* spath is unbounded: a failed put only past SIZE_MAX, and then cstr fails */
	if (top.type == OFS_NODE_DIR || top.type == 0) {
		ofs_buf_puts(&R.spath, sp[0] == '/' || sp[0] == '\0' ? "" : "/");
		ofs_buf_puts(&R.spath, sp);
		if ((r = ofs_buf_cstr(&R.spath)) != 0) {
			r = ofs_err_set(err, r, "the path '%s' is too long", sp);
			goto out;
		}
		R.fr[0].slen = R.spath.len;
		restore_tree(&R, top.type == 0 ? root : top.subtree);
	} else {
		char *slash = strrchr(sp, '/');
		if (slash != NULL && slash != sp) {
			*slash = '\0';
			ofs_buf_puts(&R.spath, sp[0] == '/' ? "" : "/");
			ofs_buf_puts(&R.spath, sp);
		}
		if ((r = ofs_buf_cstr(&R.spath)) != 0) {
			r = ofs_err_set(err, r, "the path '%s' is too long", sp);
			goto out;
		}
		R.fr[0].slen = R.spath.len;
		restore_node(&R, &top);
	}

out:
	if (started) {
		pthread_mutex_lock(&R.mu);
		R.stop = 1;
		pthread_cond_broadcast(&R.cv_work);
		pthread_mutex_unlock(&R.mu);
		for (int i = 0; i < R.nth; i++)
			pthread_join(R.th[i], NULL);
	}
	if (r == 0 && R.fatal) {
		if (err != NULL)
			*err = R.fatal_err;
		r = R.fatal_err.code;
	}
	if (r == 0 && st->damaged > 0)
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%llu damaged %s could not be restored",
		    (unsigned long long)st->damaged, st->damaged == 1 ? "entry" : "entries");
	else if (r == 0 && st->failed > 0)
		r = ofs_err_set(err, OFS_ERR_IO, "%llu %s could not be restored (I/O errors; "
		    "the first: %s)", (unsigned long long)st->failed, st->failed == 1 ? "entry" :
		    "entries", R.first_failure);
	else if (r == 0 && st->skipped > 0)
		r = ofs_err_set(err, OFS_ERR_SKIPPED, "%llu %s could not be restored",
		    (unsigned long long)st->skipped, st->skipped == 1 ? "entry" : "entries");
	for (size_t i = 1; i < R.depth; i++) {	/* only after an early exit */
		if (R.fr[i].fd >= 0)
			close(R.fr[i].fd);
		free(R.fr[i].name);
		ofs_node_release(&R.fr[i].meta);
	}
	free(R.fr);
	free(R.th);
	free(sp);
	for (size_t i = 0; i < R.nhl; i++)
		free(R.hls[i].rel);
	free(R.hls);
	ofs_node_release(&top);
	if (R.tfd >= 0)
		close(R.tfd);
	if (src->ctx_free)
		src->ctx_free(src->ud, R.ctx);
	ofs_buf_release(&R.spath);
	ofs_buf_release(&R.rpath);
	pthread_mutex_destroy(&R.mu);
	pthread_cond_destroy(&R.cv_work);
	pthread_cond_destroy(&R.cv_space);
	return r;
}
