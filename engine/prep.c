/* prep: placement of sealed containers on disks by capacity, parallel copy with read-back
 * against the staging manifest's hashes, per-disk and set manifests, and the job draft.
 * Layout and file formats: docs/FORMAT.md §21-22. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "disk.h"
#include "jobjson.h"
#include "manifest.h"
#include "placement.h"
#include "prep.h"
#include "setmanifest.h"
#include "util.h"

#define TMP_SUFFIX ".offseed-tmp"

/* A file of the staging manifest and where it goes. */
struct sfile {
	struct ofs_place_file pl;	/* manifest entry, disk path (owned), placement */
	char *src;		/* absolute staging path */
};

struct pdisk {
	struct prep *p;
	const char *mnt;
	char *real;
	char *serial;
	enum ofs_serial_src src;
	struct ofs_disk_space sp;
	size_t pool;		/* disks on the same filesystem share one pool of space */
	struct ofs_manifest *old;	/* its manifest of this set, if any */
	struct sfile **files;
	size_t nfiles;
	/* results (written by the disk's thread only) */
	int rc;
	struct ofs_error err;
	uint64_t bytes_copied, bytes_skipped, bytes_rehashed;
	uint64_t files_copied, files_skipped, files_repaired;
	uint64_t left;		/* bytes still to write when it stopped */
	pthread_t th;
};

struct jent {
	char *serial, *path;
	uint64_t size;
	char xxh[33];
};

struct prep {
	struct ofs_repo *repo;
	const struct ofs_prep_opts *o;
	struct ofs_progress *pr;
	struct ofs_manifest *sm;
	char *root;
	char *page_base, *block_base;	/* "PageBlob/C[/P]", "BlockBlob/C[/P]" */
	char *account;
	struct sfile *files;
	size_t nfiles;
	struct pdisk *disks;
	size_t ndisks;
	struct jent *journal;
	size_t njournal;
	int jfd;
	pthread_mutex_t jmu;
	int direct;		/* o->staging: containers were written onto the disks by stage */
	char *job;		/* job name the manifests carry */
};

/* ---- journal --------------------------------------------------------------------------- */

/* Lines "done\tSERIAL\tSIZE\tXXH\tPATH\n"; a torn last line (a crash mid-append) is
 * ignored. Returns the length of the whole lines, where the next append must start. */
static off_t
journal_load(struct prep *p, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t good = 0;

	if (f == NULL)
		return 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *fld[5], *save = NULL, *t, *end;
		size_t k = 0;
		unsigned long long sz;

		if (line[n - 1] != '\n')
			break;
		good += n;
		line[n - 1] = '\0';
		for (t = strtok_r(line, "\t", &save); t != NULL && k < 5; t = strtok_r(NULL, "\t",
		    &save))
			fld[k++] = t;
		if (k != 5 || strcmp(fld[0], "done") != 0 || strlen(fld[3]) != 32)
			continue;
		errno = 0;
		sz = strtoull(fld[2], &end, 10);
		if (errno != 0 || *end != '\0')
			continue;
		p->journal = ofs_xreallocarray(p->journal, p->njournal + 1, sizeof(*p->journal));
		p->journal[p->njournal].serial = ofs_xstrdup(fld[1]);
		p->journal[p->njournal].path = ofs_xstrdup(fld[4]);
		p->journal[p->njournal].size = sz;
		memcpy(p->journal[p->njournal].xxh, fld[3], 33);
		p->njournal++;
	}
	free(line);
	fclose(f);
	return good;
}

static int
journal_has(struct prep *p, const char *serial, const struct sfile *f)
{
	char hex[33];

	ofs_hex(f->pl.mf->h.xxh, OFS_XXH_LEN, hex);
	for (size_t i = p->njournal; i-- > 0;) {
		const struct jent *j = &p->journal[i];

		if (j->size == f->pl.mf->h.size && strcmp(j->serial, serial) == 0 &&
		    strcmp(j->path, f->pl.dst) == 0 && strcmp(j->xxh, hex) == 0)
			return 1;
	}
	return 0;
}

static void
journal_add(struct prep *p, const char *serial, const struct sfile *f)
{
	char hex[33], *line;

	ofs_hex(f->pl.mf->h.xxh, OFS_XXH_LEN, hex);
	line = ofs_xasprintf("done\t%s\t%llu\t%s\t%s\n", serial,
	    (unsigned long long)f->pl.mf->h.size, hex, f->pl.dst);
	pthread_mutex_lock(&p->jmu);
	if (p->jfd >= 0 && ofs_write_all(p->jfd, line, strlen(line)) == 0)
		fdatasync(p->jfd);
	pthread_mutex_unlock(&p->jmu);
	free(line);
}

/* ---- checks on the staging repository --------------------------------------------------- */

static int
is_container_path(const char *path)
{
	size_t n = strlen(path);

	return strncmp(path, "containers/", 11) == 0 && strchr(path + 11, '/') == NULL &&
	    n > 15 && strcmp(path + n - 4, ".vhd") == 0;
}

/* A private copy of m (through its encoding: same checks as a manifest read from a file). */
static int
manifest_copy(const struct ofs_manifest *m, struct ofs_manifest **out, struct ofs_error *err)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	int r;

	if ((r = ofs_manifest_encode(m, &b, err)) == 0)
		r = ofs_manifest_parse(b.data, b.len, "the staging manifest", out, err);
	ofs_buf_release(&b);
	return r;
}

static int
load_staging(struct prep *p, struct ofs_error *err)
{
	char *mpath = ofs_path_join(p->root, OFS_MANIFEST_NAME), *cdir, *sj;
	struct dirent *e;
	DIR *d;
	int r;

	if (p->direct) {
		if ((r = manifest_copy(p->o->staging, &p->sm, err)) != 0) {
			free(mpath);
			return r;
		}
	} else if ((r = ofs_manifest_load(mpath, &p->sm, err)) != 0) {
		if (r == OFS_ERR_NOTFOUND)
			r = ofs_err_set(err, OFS_ERR_USAGE, "'%s' has no staging manifest (%s): run "
			    "'offseed stage' first", p->root, OFS_MANIFEST_NAME);
		free(mpath);
		return r;
	}
	free(mpath);
	if (p->sm->has_disk)
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is a prepared disk, not a staging "
		    "repository", p->root);
	if (p->sm->seed_set == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "the staging manifest of '%s' names no seed "
		    "set: run 'offseed stage' first", p->root);
	if (strcmp(p->sm->repository, p->repo->id_hex) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "the staging manifest of '%s' belongs to "
		    "repository %s, not %s", p->root, p->sm->repository, p->repo->id_hex);
	sj = ofs_path_join(p->repo->state_dir, "stage.journal");
	/* stage --disk finalizing its own run keeps its journal until the disks are done */
	if (!p->direct && ofs_path_exists(sj)) {
		free(sj);
		return ofs_err_set(err, OFS_ERR_USAGE, "staging into '%s' has not finished (a "
		    "resume journal exists): re-run 'offseed stage' first", p->root);
	}
	free(sj);

	p->files = ofs_xcalloc(p->sm->nfiles ? p->sm->nfiles : 1, sizeof(*p->files));
	for (size_t i = 0; i < p->sm->nfiles; i++) {
		const struct ofs_manifest_file *mf = &p->sm->files[i];
		struct sfile *f = &p->files[p->nfiles++];
		struct stat st;

		f->pl.mf = mf;
		f->pl.disk = -1;
		f->src = ofs_path_join(p->root, mf->path);
		f->pl.is_container = is_container_path(mf->path);
		if (f->pl.is_container) {
			f->pl.name = mf->path + 11;
			f->pl.dst = ofs_xasprintf("%s/%s", p->page_base, mf->path);
			if (mf->h.size % 512 != 0)
				return ofs_err_set(err, OFS_ERR_CORRUPT, "staging container '%s' is "
				    "%llu bytes, not a multiple of 512 (a page blob must be)", f->src,
				    (unsigned long long)mf->h.size);
			if (p->direct)
				continue;	/* on a disk already, not in the staging folder */
		} else {
			f->pl.dst = ofs_xasprintf("%s/%s", p->block_base, mf->path);
		}
		if (stat(f->src, &st) != 0)
			return ofs_err_sys(err, OFS_ERR_CORRUPT, errno, "staging file '%s' listed "
			    "in the staging manifest is missing", f->src);
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != mf->h.size)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "staging file '%s' is %llu bytes, "
			    "its manifest says %llu: run 'offseed verify %s'", f->src,
			    (unsigned long long)st.st_size, (unsigned long long)mf->h.size,
			    p->root);
	}
	/* A sealed container the manifest does not list would be left behind. */
	cdir = ofs_path_join(p->root, "containers");
	if ((d = opendir(cdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char *rel;
			int listed = 0;

			if (e->d_name[0] == '.')
				continue;
			rel = ofs_xasprintf("containers/%s", e->d_name);
			for (size_t i = 0; i < p->nfiles && !listed; i++)
				listed = strcmp(p->files[i].pl.mf->path, rel) == 0;
			free(rel);
			if (!listed) {
				r = ofs_err_set(err, OFS_ERR_USAGE, "container '%s/%s' is not in the "
				    "staging manifest: re-run 'offseed stage' to finish", cdir,
				    e->d_name);
				closedir(d);
				free(cdir);
				return r;
			}
		}
		closedir(d);
	}
	free(cdir);
	return 0;
}

/* ---- disks ----------------------------------------------------------------------------- */

static const char *
src_name(enum ofs_serial_src s)
{
	switch (s) {
	case OFS_SERIAL_HW: return "hardware";
	case OFS_SERIAL_OPTION: return "option";
	default: return "id-file";
	}
}

/* Refuse a disk that carries another repository's or seed set's manifests. */
static int
check_disk_set(struct prep *p, struct pdisk *d, struct ofs_error *err)
{
	char *sp = ofs_path_join(d->mnt, OFS_SET_MANIFEST_NAME);
	char *mp = ofs_path_join(d->mnt, OFS_MANIFEST_NAME);
	struct ofs_set_manifest *set = NULL;
	struct ofs_manifest *m = NULL;
	struct ofs_error e2 = { 0 };
	int r = 0;

	if (ofs_set_manifest_load(sp, &set, &e2) == 0 &&
	    (strcmp(set->repository, p->sm->repository) != 0 ||
	    strcmp(set->seed_set, p->sm->seed_set) != 0)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' holds another seed set (repository "
		    "%s, set %s): give an empty disk", d->mnt, set->repository, set->seed_set);
		goto out;
	}
	if (ofs_manifest_load(mp, &m, &e2) == 0) {
		if (strcmp(m->repository, p->sm->repository) != 0 || m->seed_set == NULL ||
		    strcmp(m->seed_set, p->sm->seed_set) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' holds another seed set "
			    "(repository %s): give an empty disk", d->mnt, m->repository);
			goto out;
		}
		d->old = m;
		m = NULL;	/* transferred */
	} else if (ofs_path_exists(mp)) {
		ofs_warn("ignoring the damaged manifest on disk '%s': %s", d->mnt, e2.msg);
	}
out:
	ofs_set_manifest_free(set);
	ofs_manifest_free(m);
	free(sp);
	free(mp);
	return r;
}

/* 1 if path a is b or inside it. */
static int
within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return strcmp(b, "/") == 0 || (strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/'));
}

static int
open_disks(struct prep *p, struct ofs_error *err)
{
	const struct ofs_prep_opts *o = p->o;
	int r;

	p->ndisks = o->ndisks;
	p->disks = ofs_xcalloc(o->ndisks, sizeof(*p->disks));
	for (size_t i = 0; i < o->ndisks; i++) {
		struct pdisk *d = &p->disks[i];
		char real[PATH_MAX];

		d->p = p;
		d->mnt = o->mnts[i];
		if ((r = ofs_disk_space(d->mnt, &d->sp, err)) != 0)
			return r;
		if (realpath(d->mnt, real) == NULL)
			return ofs_err_sys(err, OFS_ERR_USAGE, errno, "cannot use disk '%s'",
			    d->mnt);
		d->real = ofs_xstrdup(real);
		if (within(real, p->root) || within(p->root, real))
			return ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' overlaps the staging "
			    "repository '%s'", d->mnt, p->root);
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->disks[j].real, real) == 0)
				return ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' is given twice",
				    d->mnt);
		if ((r = ofs_disk_serial(d->mnt, o->serials ? o->serials[i] : NULL, &d->serial,
		    &d->src, err)) != 0)
			return r;
		if (d->src == OFS_SERIAL_OPTION) {
			char *hw = ofs_disk_hw_serial(d->mnt, NULL);

			if (hw != NULL && strcmp(hw, d->serial) != 0)
				ofs_warn("disk '%s': using --serial %s, but the device reports serial "
				    "%s (the datacenter matches the disk's own serial)", d->mnt,
				    d->serial, hw);
			free(hw);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->disks[j].serial, d->serial) == 0)
				return ofs_err_set(err, OFS_ERR_USAGE, "disks '%s' and '%s' have the "
				    "same serial '%s': give each its own with --serial MNT=SERIAL",
				    p->disks[j].mnt, d->mnt, d->serial);
		d->pool = i;
		for (size_t j = 0; j < i; j++)
			if (p->disks[j].sp.dev == d->sp.dev) {
				d->pool = p->disks[j].pool;
				ofs_warn("disks '%s' and '%s' are on the same filesystem: they share "
				    "its space", p->disks[j].mnt, d->mnt);
				break;
			}
		if ((r = check_disk_set(p, d, err)) != 0)
			return r;
	}
	return 0;
}

/* ---- placement (engine/placement.c) ----------------------------------------------------- */

/* Decide which disk each container goes on; on OFS_ERR_NOSPACE res says what is missing. */
static int
plan(struct prep *p, struct ofs_prep_result *res, struct ofs_error *err)
{
	struct ofs_place_file **files = ofs_xcalloc(p->nfiles + 1, sizeof(*files));
	struct ofs_place_disk *disks = ofs_xcalloc(p->ndisks, sizeof(*disks));
	struct ofs_place_opts po = { p->sm->seed_set, p->direct, p->o->repair };
	struct ofs_place_need need;
	int r;

	for (size_t i = 0; i < p->nfiles; i++)
		files[i] = &p->files[i].pl;
	for (size_t k = 0; k < p->ndisks; k++) {
		disks[k].mnt = p->disks[k].mnt;
		disks[k].old = p->disks[k].old;
		disks[k].sp = p->disks[k].sp;
		disks[k].pool = p->disks[k].pool;
	}
	r = ofs_place_plan(files, p->nfiles, disks, p->ndisks, &po, &need, err);
	if (r == OFS_ERR_NOSPACE) {
		res->need_bytes = need.bytes;
		res->need_disks = need.disks;
	}
	free(files);
	free(disks);
	return r;
}

/* ---- copying --------------------------------------------------------------------------- */

/* 0 when got matches want; else the first bad region (or UINT64_MAX: whole-file hash). */
static uint64_t
hashes_differ(const struct ofs_file_hashes *want, const struct ofs_file_hashes *got,
    int *bad)
{
	*bad = 1;
	if (want->size != got->size)
		return UINT64_MAX;
	if (want->nregions > 0) {
		if (got->nregions != want->nregions)
			return UINT64_MAX;
		for (size_t i = 0; i < want->nregions; i++)
			if (memcmp(want->regions[i], got->regions[i], OFS_XXH_LEN) != 0)
				return i;
	}
	if (memcmp(want->xxh, got->xxh, OFS_XXH_LEN) != 0)
		return UINT64_MAX;
	*bad = 0;
	return 0;
}

static void
throttle(struct pdisk *d, double start, uint64_t done)
{
	double want, now;

	if (d->p->o->limit_rate == 0)
		return;
	want = start + (double)done / (double)d->p->o->limit_rate;
	now = ofs_mono();
	if (want > now) {
		struct timespec ts;
		double s = want - now;

		ts.tv_sec = (time_t)s;
		ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Hash what is at path now (the read-back) into got. */
static int
read_back(struct pdisk *d, int fd, const char *path, uint8_t *buf, size_t bufsz,
    struct ofs_hasher *h, struct ofs_file_hashes *got, struct ofs_error *err)
{
	uint64_t off = 0;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read back '%s'", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (off < (uint64_t)st.st_size) {
		size_t n = (uint64_t)st.st_size - off < bufsz ? (size_t)((uint64_t)st.st_size - off) :
		    bufsz;
		int e;

		if ((e = ofs_pread_all(fd, buf, n, off)) != 0)
			return e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_IO, "cannot read back "
			    "'%s': it ended before %llu bytes", path, (unsigned long long)st.st_size) :
			    ofs_err_sys(err, OFS_ERR_IO, -e, "cannot read back '%s'", path);
		ofs_hasher_update(h, buf, n);
		off += n;
	}
	ofs_hasher_finish(h, got);
	(void)d;
	return 0;
}

static int
mismatch_err(struct ofs_error *err, const char *path, const char *what, uint64_t region,
    uint64_t rsize)
{
	if (region == UINT64_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s '%s' does not match the staging "
		    "manifest (whole-file checksum or size)", what, path);
	return ofs_err_set(err, OFS_ERR_CORRUPT, "%s '%s' does not match the staging manifest "
	    "in region %llu (bytes %llu-%llu)", what, path, (unsigned long long)region,
	    (unsigned long long)(region * rsize),
	    (unsigned long long)((region + 1) * rsize - 1));
}

/* Copy f from staging to the disk through a temp name; read every byte back and compare
 * with the staging hashes before the rename makes it final. */
static int
copy_file(struct pdisk *d, struct sfile *f, const char *final, uint8_t *buf, size_t bufsz,
    struct ofs_hasher *h, struct ofs_error *err)
{
	struct prep *p = d->p;
	char *dir = ofs_xstrdup(final), *slash = strrchr(dir, '/'), *tmp;
	struct ofs_file_hashes got = { 0 };
	uint64_t size = f->pl.mf->h.size, off = 0, region;
	int in = -1, out = -1, r = 0, e, bad;
	double start = ofs_mono();

	*slash = '\0';
	tmp = ofs_xasprintf("%s/.%s%s", dir, slash + 1, TMP_SUFFIX);
	if ((r = ofs_mkdir_p(dir, 0755, err)) != 0)
		goto out;
	if ((in = open(f->src, O_RDONLY | O_CLOEXEC)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", f->src);
		goto out;
	}
	posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create '%s'", tmp);
		goto out;
	}
	/* Claim the space up front: a full disk fails now, not after most of the copy. The
	 * raw call, not posix_fallocate: glibc's emulation writes every block (slow on FUSE
	 * filesystems such as NTFS, the usual Data Box disk format). */
	if (size > 0 && fallocate(out, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP &&
	    errno != ENOSYS && errno != EINVAL) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write '%s'", tmp);
		goto out;
	}
	while (off < size) {
		size_t n = size - off < bufsz ? (size_t)(size - off) : bufsz;

		if ((e = ofs_pread_all(in, buf, n, off)) != 0) {
			r = e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' ends before "
			    "%llu bytes, the size the staging manifest records", f->src,
			    (unsigned long long)size) :
			    ofs_err_sys(err, OFS_ERR_IO, -e, "cannot read '%s'", f->src);
			goto out;
		}
		if ((e = ofs_pwrite_all(out, buf, n, off)) != 0) {
			r = ofs_err_sys(err, OFS_ERR_IO, -e, "cannot write '%s'", tmp);
			goto out;
		}
		off += n;
		d->left = d->left > n ? d->left - n : 0;
		if (p->pr != NULL)
			ofs_progress_add(p->pr, n, 0, f->pl.dst);
		throttle(d, start, off);
	}
	if (fdatasync(out) != 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write '%s'", tmp);
		goto out;
	}
	/* Drop the cached pages so the read-back comes from the disk where it can. */
	posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
	if ((r = read_back(d, out, tmp, buf, bufsz, h, &got, err)) != 0)
		goto out;
	region = hashes_differ(&f->pl.mf->h, &got, &bad);
	if (bad) {
		r = mismatch_err(err, final, "the copy", region, p->sm->region_size);
		ofs_err_wrap(err, "disk '%s' (or the staging file '%s') is damaged", d->mnt,
		    f->src);
		goto out;
	}
	close(out);
	out = -1;
	if (rename(tmp, final) != 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s'", tmp);
		goto out;
	}
	r = ofs_fsync_dir(dir, err);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r != 0)
		unlink(tmp);
	ofs_file_hashes_release(&got);
	free(tmp);
	free(dir);
	return r;
}

static int
do_file(struct pdisk *d, struct sfile *f, uint8_t *buf, size_t bufsz, struct ofs_hasher *h,
    struct ofs_error *err)
{
	struct prep *p = d->p;
	char *final = ofs_path_join(d->mnt, f->pl.dst);
	uint64_t size = f->pl.mf->h.size;
	int r = 0, present = ofs_file_size(final) == size, was_bad = 0;

	if (present && !p->o->repair && ((p->direct && f->pl.is_container) ||
	    journal_has(p, d->serial, f))) {
		d->bytes_skipped += size;
		d->files_skipped++;
		d->left -= size;
		if (p->pr != NULL)
			ofs_progress_add(p->pr, size, 1, f->pl.dst);
		goto out;
	}
	if (present) {
		/* Not recorded (or --repair): re-hash what is on the disk. */
		struct ofs_file_hashes got = { 0 };
		int fd = open(final, O_RDONLY | O_CLOEXEC), bad = 1;

		if (fd >= 0) {
			if (read_back(d, fd, final, buf, bufsz, h, &got, err) == 0)
				(void)hashes_differ(&f->pl.mf->h, &got, &bad);
			close(fd);
		}
		ofs_file_hashes_release(&got);
		d->bytes_rehashed += size;
		if (!bad) {
			d->bytes_skipped += size;
			d->files_skipped++;
			d->left -= size;
			if (p->pr != NULL)
				ofs_progress_add(p->pr, size, 1, f->pl.dst);
			if (!journal_has(p, d->serial, f))
				journal_add(p, d->serial, f);
			goto out;
		}
		was_bad = 1;
		ofs_info("'%s' on disk '%s' does not match its manifest: copying it again", f->pl.dst,
		    d->mnt);
	} else if (p->o->repair) {
		was_bad = 1;
		ofs_info("'%s' on disk '%s' is missing or has the wrong size: copying it again",
		    f->pl.dst, d->mnt);
	}
	if ((r = copy_file(d, f, final, buf, bufsz, h, err)) != 0)
		goto out;
	d->bytes_copied += size;
	d->files_copied++;
	if (was_bad)
		d->files_repaired++;
	if (p->pr != NULL)
		ofs_progress_add(p->pr, 0, 1, NULL);
	journal_add(p, d->serial, f);
out:
	free(final);
	return r;
}

static void *
disk_thread(void *arg)
{
	struct pdisk *d = arg;
	size_t bufsz = d->p->o->io_size ? d->p->o->io_size : OFS_PREP_IO_SIZE;
	uint8_t *buf = NULL;
	struct ofs_hasher *h = ofs_hasher_new(d->p->sm->region_size);

	if (posix_memalign((void **)&buf, 4096, bufsz) != 0) {
		d->rc = ofs_err_set(&d->err, OFS_ERR_IO, "out of memory");
		ofs_hasher_free(h);
		return NULL;
	}
	for (size_t i = 0; i < d->nfiles && d->rc == 0; i++)
		d->rc = do_file(d, d->files[i], buf, bufsz, h, &d->err);
	free(buf);
	ofs_hasher_free(h);
	return NULL;
}

/* A temporary file a killed prep left (we hold the staging lock and the disks are ours for
 * this run): remove it and say so, since `verify` would count it as unlisted. */
static void
remove_leftover(const char *full, const char *what)
{
	if (unlink(full) == 0)
		ofs_info("removed '%s': %s left by an interrupted prep", full, what);
	else if (errno != ENOENT)
		ofs_warn("cannot remove '%s' (%s left by an interrupted prep): %s", full, what,
		    strerror(errno));
}

/* Temporary job drafts (ofs_write_file_atomic's NAME.json.tmp-XXXXXX) of a killed run in
 * STAGING/jobs/. */
static void
clean_jobs(struct prep *p)
{
	char *dir = ofs_path_join(p->root, "jobs");
	struct dirent *e;
	DIR *dd;

	if ((dd = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((e = readdir(dd)) != NULL) {
		const char *t = strstr(e->d_name, ".json.tmp-");

		if (t != NULL && strlen(t) == strlen(".json.tmp-XXXXXX")) {
			char *full = ofs_path_join(dir, e->d_name);

			remove_leftover(full, "an unfinished job draft");
			free(full);
		}
	}
	closedir(dd);
	free(dir);
}

/* Remove our temp files and this set's containers that now belong to another disk. */
static void
clean_disk(struct prep *p, struct pdisk *d, const char *rel)
{
	char *dir = ofs_path_join(d->mnt, rel);
	struct dirent *e;
	DIR *dd;

	if ((dd = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((e = readdir(dd)) != NULL) {
		size_t n = strlen(e->d_name);
		char *r2, *full;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r2 = ofs_xasprintf("%s/%s", rel, e->d_name);
		full = ofs_path_join(d->mnt, r2);
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			clean_disk(p, d, r2);
		} else if (n > strlen(TMP_SUFFIX) &&
		    strcmp(e->d_name + n - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0) {
			remove_leftover(full, "an unfinished copy");
		} else if (strncmp(e->d_name, p->sm->seed_set, 32) == 0) {
			int mine = 0;

			for (size_t i = 0; i < d->nfiles && !mine; i++)
				mine = strcmp(d->files[i]->pl.dst, r2) == 0;
			if (!mine) {
				ofs_verbose("removing '%s': it belongs on another disk", full);
				unlink(full);
			}
		}
		free(full);
		free(r2);
	}
	closedir(dd);
	free(dir);
}

/* Temp files of interrupted atomic writes at the disk's top (manifests, id file). */
static void
clean_top(struct pdisk *d)
{
	static const char *const names[] = { OFS_MANIFEST_NAME ".tmp-",
		OFS_SET_MANIFEST_NAME ".tmp-", OFS_DISK_ID_NAME ".tmp-" };
	struct dirent *e;
	DIR *dd;

	if ((dd = opendir(d->mnt)) == NULL)
		return;
	while ((e = readdir(dd)) != NULL)
		for (size_t i = 0; i < OFS_ARRAY_LEN(names); i++)
			if (strncmp(e->d_name, names[i], strlen(names[i])) == 0) {
				char *full = ofs_path_join(d->mnt, e->d_name);

				remove_leftover(full, "an unfinished manifest or id file");
				free(full);
			}
	closedir(dd);
}

/* ---- manifests and the job draft -------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Encode m; when an identical file (same content, created time kept from it) is already at
 * path, keep it so reruns leave manifest hashes unchanged. */
static int
write_disk_manifest(struct ofs_manifest *m, const char *path, const char *old_created,
    struct ofs_buf *bytes, struct ofs_error *err)
{
	struct ofs_buf cur = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	char when[32];
	int r;

	ofs_buf_reset(bytes);
	if (old_created != NULL) {
		free(m->created);
		m->created = ofs_xstrdup(old_created);
		if ((r = ofs_manifest_encode(m, bytes, err)) != 0)
			goto out;
		if (ofs_buf_read_file(&cur, path, NULL) == 0 && cur.len == bytes->len &&
		    memcmp(cur.data, bytes->data, cur.len) == 0)
			goto out;	/* unchanged */
		ofs_buf_reset(bytes);
	}
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	free(m->created);
	m->created = ofs_xstrdup(when);
	if ((r = ofs_manifest_encode(m, bytes, err)) != 0)
		goto out;
	r = ofs_write_file_atomic(path, bytes->data, bytes->len, 0644, err);
out:
	ofs_buf_release(&cur);
	return r;
}

static int
write_manifests(struct prep *p, struct ofs_prep_result *res, struct ofs_error *err)
{
	struct ofs_set_manifest set = { 0 };
	struct ofs_set_manifest *old_set = NULL;
	struct ofs_buf b = OFS_BUF_INIT(OFS_MANIFEST_MAX), sb = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
	char when[32];
	int r = 0;

	set.version = OFS_SET_MANIFEST_VERSION;
	set.tool = ofs_xstrdup("offseed " OFS_VERSION);
	set.repository = ofs_xstrdup(p->sm->repository);
	set.seed_set = ofs_xstrdup(p->sm->seed_set);
	set.job = ofs_xstrdup(p->job);
	set.destination = ofs_xstrdup(p->repo->cfg.destination);
	set.disks = ofs_xcalloc(p->ndisks, sizeof(*set.disks));
	set.ndisks = p->ndisks;
	for (size_t k = 0; k < p->ndisks; k++) {
		struct pdisk *d = &p->disks[k];
		struct ofs_set_disk *sd = &set.disks[k];
		struct ofs_manifest *m = ofs_manifest_new();
		char *path = ofs_path_join(d->mnt, OFS_MANIFEST_NAME);
		uint8_t sha[32];

		m->version = OFS_MANIFEST_VERSION;
		m->tool = ofs_xstrdup("offseed " OFS_VERSION);
		m->repository = ofs_xstrdup(p->sm->repository);
		m->seed_set = ofs_xstrdup(p->sm->seed_set);
		m->job = ofs_xstrdup(p->job);
		m->has_disk = 1;
		m->disk_index = (uint32_t)(k + 1);
		m->disk_count = (uint32_t)p->ndisks;
		m->serial = ofs_xstrdup(d->serial);
		m->region_size = p->sm->region_size;
		sd->index = (uint32_t)(k + 1);
		sd->serial = ofs_xstrdup(d->serial);
		sd->containers = ofs_xcalloc(d->nfiles + 1, sizeof(char *));
		for (size_t i = 0; i < d->nfiles; i++) {
			struct ofs_file_hashes h;

			ofs_file_hashes_copy(&d->files[i]->pl.mf->h, &h);
			ofs_manifest_add(m, d->files[i]->pl.dst, &h);
			sd->bytes += d->files[i]->pl.mf->h.size;
			if (d->files[i]->pl.is_container)
				sd->containers[sd->ncontainers++] =
				    ofs_xstrdup(d->files[i]->pl.name);
		}
		sd->files = d->nfiles;
		if (sd->ncontainers > 1)
			qsort(sd->containers, sd->ncontainers, sizeof(char *), cmp_str);
		r = write_disk_manifest(m, path, d->old != NULL ? d->old->created : NULL, &b,
		    err);
		ofs_manifest_free(m);
		free(path);
		if (r != 0)
			goto out;
		ofs_sha256(b.data, b.len, sha);
		ofs_hex(sha, 32, sd->manifest_sha256);
		memcpy(res->disks[k].manifest_sha256, sd->manifest_sha256, 65);
		res->disks[k].bytes = sd->bytes;
		res->disks[k].files = sd->files;
		res->disks[k].containers = sd->ncontainers;
	}
	/* Same set as before → keep its created time, so the file's bytes do not change. */
	for (size_t k = 0; k < p->ndisks && old_set == NULL; k++) {
		char *sp = ofs_path_join(p->disks[k].mnt, OFS_SET_MANIFEST_NAME);

		if (ofs_set_manifest_load(sp, &old_set, NULL) != 0)
			old_set = NULL;
		free(sp);
	}
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	set.created = ofs_xstrdup(old_set != NULL ? old_set->created : when);
	if ((r = ofs_set_manifest_encode(&set, &sb, err)) != 0)
		goto out;
	if (old_set != NULL) {
		struct ofs_buf cur = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
		char *sp = ofs_path_join(p->disks[0].mnt, OFS_SET_MANIFEST_NAME);
		int same = ofs_buf_read_file(&cur, sp, NULL) == 0 && cur.len == sb.len &&
		    memcmp(cur.data, sb.data, sb.len) == 0;

		ofs_buf_release(&cur);
		free(sp);
		if (!same) {
			free(set.created);
			set.created = ofs_xstrdup(when);
			ofs_buf_reset(&sb);
			if ((r = ofs_set_manifest_encode(&set, &sb, err)) != 0)
				goto out;
		}
	}
	for (size_t k = 0; k < p->ndisks; k++) {
		char *sp = ofs_path_join(p->disks[k].mnt, OFS_SET_MANIFEST_NAME);
		struct ofs_buf cur = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);

		if (!(ofs_buf_read_file(&cur, sp, NULL) == 0 && cur.len == sb.len &&
		    memcmp(cur.data, sb.data, sb.len) == 0))
			r = ofs_write_file_atomic(sp, sb.data, sb.len, 0644, err);
		ofs_buf_release(&cur);
		free(sp);
		if (r != 0)
			goto out;
	}
out:
	ofs_set_manifest_free(old_set);
	ofs_set_manifest_release(&set);
	ofs_buf_release(&b);
	ofs_buf_release(&sb);
	return r;
}

/* STAGING/jobs/JOB.json: the import job body (SPEC §9) with the disks filled in; contact and
 * return shipping, location and the full storage account id come from `import create`. */
static int
write_job_draft(struct prep *p, struct ofs_prep_result *res, struct ofs_error *err)
{
	json_t *disks = json_object(), *body;
	char *dir = ofs_path_join(p->root, "jobs"), *name = ofs_xasprintf("%s.json", p->job);
	char *s = NULL;
	int r;

	for (size_t k = 0; k < p->ndisks; k++)
		json_object_set_new(disks, res->disks[k].serial, json_pack("{s:s, s:s}",
		    "manifestFile", OFS_MANIFEST_NAME, "manifestHash",
		    res->disks[k].manifest_sha256));
	body = json_pack("{s:s, s:{s:s}, s:{s:s, s:{s:s, s:[{s:{s:s, s:s}, s:s}], s:o}}}",
	    "location", "",
	    "sku", "name", "DataBoxCustomerDisk",
	    "properties", "transferType", "ImportToAzure",
	    "details", "jobDetailsType", "DataBoxCustomerDisk",
	    "dataImportDetails", "accountDetails", "dataAccountType", "StorageAccount",
	    "storageAccountId", p->account, "logCollectionLevel", "Verbose",
	    "importDiskDetailsCollection", disks);
	if (body == NULL) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot build the job draft");
		goto out;
	}
	s = json_dumps(body, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(body);
	if ((r = ofs_mkdir_p(dir, 0755, err)) != 0)
		goto out;
	res->job_path = ofs_path_join(dir, name);
	{
		char *text = ofs_xasprintf("%s\n", s);

		r = ofs_write_file_atomic(res->job_path, text, strlen(text), 0644, err);
		free(text);
	}
	if (r == 0 && p->sm->seed_set != NULL)
		ofs_repo_note_seed_job(p->repo, p->sm->seed_set, p->job);
out:
	free(s);
	free(dir);
	free(name);
	return r;
}

/* ---- the run --------------------------------------------------------------------------- */

void
ofs_prep_result_release(struct ofs_prep_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->ndisks; i++) {
		free(res->disks[i].mnt);
		free(res->disks[i].serial);
	}
	free(res->disks);
	free(res->job_path);
	memset(res, 0, sizeof(*res));
}

static void
prep_release(struct prep *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		free(p->files[i].src);
		free(p->files[i].pl.dst);
	}
	free(p->files);
	for (size_t k = 0; k < p->ndisks; k++) {
		free(p->disks[k].real);
		free(p->disks[k].serial);
		free(p->disks[k].files);
		ofs_manifest_free(p->disks[k].old);
	}
	free(p->disks);
	for (size_t i = 0; i < p->njournal; i++) {
		free(p->journal[i].serial);
		free(p->journal[i].path);
	}
	free(p->journal);
	if (p->jfd >= 0)
		close(p->jfd);
	ofs_manifest_free(p->sm);
	free(p->root);
	free(p->page_base);
	free(p->block_base);
	free(p->account);
	free(p->job);
	pthread_mutex_destroy(&p->jmu);
}

/* Write or drop each disk's id file, list the files each disk gets (the metadata, then its
 * containers) and remove what a killed run left behind. *total and *nfiles: what is to be
 * written (or checked) over all disks. */
static int
lay_out_disks(struct prep *p, uint64_t *total, uint64_t *nfiles, struct ofs_error *err)
{
	int r;

	for (size_t k = 0; k < p->ndisks; k++) {
		struct pdisk *d = &p->disks[k];

		if (d->src == OFS_SERIAL_NEW && (r = ofs_disk_write_id(d->mnt, d->serial, err)) != 0)
			return r;
		if (d->src == OFS_SERIAL_OPTION || d->src == OFS_SERIAL_HW) {
			/* An id file from an earlier run would contradict the serial now used. */
			char *idp = ofs_path_join(d->mnt, OFS_DISK_ID_NAME);

			if (unlink(idp) == 0)
				ofs_verbose("removed '%s': the disk's serial is now %s", idp,
				    d->serial);
			free(idp);
		}
		d->files = ofs_xcalloc(p->nfiles + 1, sizeof(*d->files));
		for (size_t i = 0; i < p->nfiles; i++)
			if (!p->files[i].pl.is_container)
				d->files[d->nfiles++] = &p->files[i];
		for (size_t i = 0; i < p->nfiles; i++)
			if (p->files[i].pl.is_container && p->files[i].pl.disk == (int)k)
				d->files[d->nfiles++] = &p->files[i];
		for (size_t i = 0; i < d->nfiles; i++)
			d->left += d->files[i]->pl.mf->h.size;
		*total += d->left;
		*nfiles += d->nfiles;
		clean_disk(p, d, "PageBlob");
		clean_disk(p, d, "BlockBlob");
		clean_top(d);
	}
	clean_jobs(p);
	return 0;
}

/* One writer thread per disk; their counts into res. Returns the first failing disk's
 * error (in err); the others' messages go to stderr. */
static int
copy_all(struct prep *p, struct ofs_prep_result *res, struct ofs_error *err)
{
	int r = 0;

	for (size_t k = 0; k < p->ndisks; k++)
		if (pthread_create(&p->disks[k].th, NULL, disk_thread, &p->disks[k]) != 0) {
			p->disks[k].rc = ofs_err_set(&p->disks[k].err, OFS_ERR_IO, "cannot start a "
			    "thread");
			p->disks[k].th = 0;
		}
	for (size_t k = 0; k < p->ndisks; k++)
		if (p->disks[k].th != 0)
			pthread_join(p->disks[k].th, NULL);
	for (size_t k = 0; k < p->ndisks; k++) {
		struct pdisk *d = &p->disks[k];
		struct ofs_prep_disk_result *dr = &res->disks[k];

		dr->bytes_copied = d->bytes_copied;
		dr->bytes_skipped = d->bytes_skipped;
		dr->files_copied = d->files_copied;
		dr->files_skipped = d->files_skipped;
		dr->files_repaired = d->files_repaired;
		res->bytes_copied += d->bytes_copied;
		res->bytes_skipped += d->bytes_skipped;
		res->bytes_rehashed += d->bytes_rehashed;
		res->files_copied += d->files_copied;
		res->files_skipped += d->files_skipped;
		res->files_repaired += d->files_repaired;
	}
	for (size_t k = 0; k < p->ndisks; k++) {
		struct pdisk *d = &p->disks[k];

		if (d->rc == 0)
			continue;
		if (d->rc == OFS_ERR_NOSPACE)
			ofs_err_wrap(&d->err, "disk '%s' is full with %llu bytes still to copy "
			    "there (free space or replace the disk, then re-run prep)", d->mnt,
			    (unsigned long long)d->left);
		if (r == 0) {
			r = d->rc;
			*err = d->err;
		} else {
			ofs_error("%s", d->err.msg);
		}
	}
	return r;
}

int
ofs_prep_run(struct ofs_repo *repo, const struct ofs_prep_opts *o, struct ofs_progress *pr,
    struct ofs_prep_result *res, struct ofs_error *err)
{
	struct prep p;
	char *cont = NULL, *prefix = NULL, *root = NULL, real[PATH_MAX], *jpath = NULL;
	uint64_t total = 0, todo_files = 0;
	off_t jgood;
	double t0 = ofs_mono();
	int r;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	p.repo = repo;
	p.o = o;
	p.pr = pr;
	p.jfd = -1;
	p.direct = o->staging != NULL;
	pthread_mutex_init(&p.jmu, NULL);
	if (o->ndisks == 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "no disk given: use --disk MNT (once per "
		    "disk)");
		goto out;
	}
	if (repo->cfg.destination == NULL || repo->cfg.destination[0] == '\0') {
		r = ofs_err_set(err, OFS_ERR_USAGE, "repository has no destination: create it with "
		    "'offseed init --dest azure://ACCOUNT/CONTAINER/PREFIX'");
		goto out;
	}
	if ((r = ofs_dest_parse(repo->cfg.destination, &p.account, &cont, &prefix, err)) != 0)
		goto out;
	p.page_base = prefix[0] ? ofs_xasprintf("PageBlob/%s/%s", cont, prefix) :
	    ofs_xasprintf("PageBlob/%s", cont);
	p.block_base = prefix[0] ? ofs_xasprintf("BlockBlob/%s/%s", cont, prefix) :
	    ofs_xasprintf("BlockBlob/%s", cont);
	if ((root = repo->be->ops->path(repo->be, "")) == NULL || realpath(root, real) == NULL) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "prep needs a local staging repository, not "
		    "'%s'", repo->be->loc);
		goto out;
	}
	p.root = ofs_xstrdup(real);
	if ((r = load_staging(&p, err)) != 0)
		goto out;
	memcpy(res->seed_set, p.sm->seed_set, 33);
	p.job = o->job != NULL ? ofs_xstrdup(o->job) : ofs_xasprintf("seed-%.8s", p.sm->seed_set);
	if ((r = open_disks(&p, err)) != 0)
		goto out;
	res->ndisks = p.ndisks;
	res->disks = ofs_xcalloc(p.ndisks, sizeof(*res->disks));
	for (size_t k = 0; k < p.ndisks; k++) {
		res->disks[k].mnt = ofs_xstrdup(p.disks[k].mnt);
		res->disks[k].serial = ofs_xstrdup(p.disks[k].serial);
		res->disks[k].serial_source = src_name(p.disks[k].src);
		res->disks[k].index = (uint32_t)(k + 1);
	}
	if (o->repair)
		for (size_t k = 0; k < p.ndisks; k++)
			if (p.disks[k].old == NULL) {
				r = ofs_err_set(err, OFS_ERR_USAGE, "prep --repair: disk '%s' has no "
				    "manifest of this seed set; run prep without --repair",
				    p.disks[k].mnt);
				goto out;
			}
	jpath = ofs_path_join(repo->state_dir, OFS_PREP_JOURNAL);
	jgood = journal_load(&p, jpath);
	if ((r = plan(&p, res, err)) != 0)
		goto out;

	/* The placement is decided: from here on we write. */
	if ((r = lay_out_disks(&p, &total, &todo_files, err)) != 0)
		goto out;
	res->bytes_total = total;
	if ((p.jfd = open(jpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open the prep journal '%s'", jpath);
		goto out;
	}
	/* Cut a torn last line, or the first record of this run would be glued to it (and
	 * lost: the file would be hashed again on the next rerun). */
	{
		struct stat jst;

		if (fstat(p.jfd, &jst) == 0 && jst.st_size > jgood) {
			if (ftruncate(p.jfd, jgood) == 0)
				ofs_info("removed the unfinished last line of the prep journal '%s' "
				    "(an interrupted run)", jpath);
			else
				ofs_warn("cannot cut the unfinished last line of '%s': %s", jpath,
				    strerror(errno));
		}
	}
	if (pr != NULL)
		ofs_progress_set_total(pr, total, todo_files);
	if ((r = copy_all(&p, res, err)) != 0)
		goto out;
	if ((r = write_manifests(&p, res, err)) != 0)
		goto out;
	if (o->job != NULL)
		r = write_job_draft(&p, res, err);
out:
	res->seconds = ofs_mono() - t0;
	prep_release(&p);
	free(cont);
	free(prefix);
	free(root);
	free(jpath);
	return r;
}
