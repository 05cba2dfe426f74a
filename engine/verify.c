/* verify: the keyless check of several targets at once (each on a thread of its own, the
 * findings replayed in target order so the output is deterministic), the set rules across
 * the disks of a prepared set, and the manifest hashes a job registered. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "disk.h"
#include "util.h"
#include "verify.h"

/* Where findings go: the callback and the target they are about. */
struct sink {
	ofs_verify_finding_fn fn;
	void *arg;
	const char *target;
};

static void
emit(const struct sink *s, const struct ofs_finding *f)
{
	s->fn(s->target, f, s->arg);
}

static void
simple_finding(const struct sink *s, enum ofs_finding_kind kind, const char *path,
    const char *detail)
{
	struct ofs_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.path = path;
	f.region = -1;
	f.detail = detail;
	emit(s, &f);
}

/* The finding for a manifest that could not be read: r from ofs_buf_read_file. */
static void
read_finding(const struct sink *s, int r, const char *path, const struct ofs_error *e)
{
	struct ofs_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = r == OFS_ERR_CORRUPT ? OFS_FINDING_STRUCTURE : OFS_FINDING_UNREADABLE;
	f.path = path;
	f.region = -1;
	f.detail = e->msg;
	if (f.kind == OFS_FINDING_UNREADABLE)
		f.io_errno = e->sys_errno != 0 ? e->sys_errno : EIO;
	emit(s, &f);
}

static void
disk_finding(const struct sink *s, enum ofs_finding_kind kind, const char *path,
    const char *detail, const struct ofs_set_manifest *set, const struct ofs_set_disk *sd)
{
	struct ofs_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.path = path;
	f.region = -1;
	f.detail = detail;
	if (sd != NULL) {
		f.disk_index = sd->index;
		f.disk_count = (uint32_t)set->ndisks;
		f.serial = sd->serial;
	}
	emit(s, &f);
}

/* Load and hash target t's manifest; problems become findings (t->m stays NULL). Returns 0,
 * or an OFS_ERR_* when the target itself cannot be used (already in err). */
static int
load_manifest(struct ofs_verify_target *t, const struct sink *s, struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	struct ofs_error e;
	struct stat st;
	uint8_t sha[32];
	char *mp;
	int r;

	t->sha[0] = '\0';
	if (stat(t->dir, &st) != 0)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", t->dir);
	if (!S_ISDIR(st.st_mode))
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is not a folder (a staging repository "
		    "or a prepared disk)", t->dir);
	mp = ofs_path_join(t->dir, OFS_MANIFEST_NAME);
	ofs_err_clear(&e);
	if ((r = ofs_buf_read_file(&raw, mp, &e)) != 0) {
		if (r == OFS_ERR_NOTFOUND)
			simple_finding(s, OFS_FINDING_MISSING, OFS_MANIFEST_NAME, e.msg);
		else
			read_finding(s, r, OFS_MANIFEST_NAME, &e);
		r = 0;
		goto out;
	}
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, 32, t->sha);
	if ((r = ofs_manifest_parse(raw.data, raw.len, mp, &t->m, &e)) != 0) {
		simple_finding(s, r == OFS_ERR_VERSION ? OFS_FINDING_VERSION :
		    OFS_FINDING_STRUCTURE, OFS_MANIFEST_NAME, e.msg);
		r = 0;
	}
out:
	free(mp);
	ofs_buf_release(&raw);
	return r;
}

/* offseed-set.json of target t, if it has one: raw SHA-256 and parsed set; problems become
 * findings on that file. */
static void
load_set(struct ofs_verify_target *t, const struct sink *s)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
	struct ofs_error e;
	uint8_t sha[32];
	char *sp = ofs_path_join(t->dir, OFS_SET_MANIFEST_NAME);
	int r;

	ofs_err_clear(&e);
	if ((r = ofs_buf_read_file(&raw, sp, &e)) != 0) {
		if (r != OFS_ERR_NOTFOUND) {
			t->is_disk = 1;
			read_finding(s, r, OFS_SET_MANIFEST_NAME, &e);
		} else if (t->m != NULL && t->m->has_disk) {
			/* a prepared disk carries both manifests */
			t->is_disk = 1;
			simple_finding(s, OFS_FINDING_MISSING, OFS_SET_MANIFEST_NAME, e.msg);
		}
		goto out;
	}
	t->is_disk = 1;
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, 32, t->set_sha);
	if ((r = ofs_set_manifest_parse(raw.data, raw.len, sp, &t->set, &e)) != 0)
		simple_finding(s, r == OFS_ERR_VERSION ? OFS_FINDING_VERSION :
		    OFS_FINDING_STRUCTURE, OFS_SET_MANIFEST_NAME, e.msg);
out:
	free(sp);
	ofs_buf_release(&raw);
}

int
ofs_verify_target_load(struct ofs_verify_target *t, ofs_verify_finding_fn fn, void *arg,
    struct ofs_error *err)
{
	struct sink s = { fn, arg, t->dir };
	int r;

	if ((r = load_manifest(t, &s, err)) != 0)
		return r;
	load_set(t, &s);
	return 0;
}

void
ofs_verify_targets_free(struct ofs_verify_target *tg, size_t n)
{
	for (size_t i = 0; tg != NULL && i < n; i++) {
		ofs_manifest_free(tg[i].m);
		ofs_set_manifest_free(tg[i].set);
		for (size_t k = 0; k < tg[i].nfl; k++) {
			free(tg[i].fl[k].path);
			free(tg[i].fl[k].detail);
			free(tg[i].fl[k].serial);
		}
		free(tg[i].fl);
	}
	free(tg);
}

/* ---- the keyless checks ------------------------------------------------------------------ */

/* Keep a finding of one target's check (runs in that target's thread). */
static void
collect(const struct ofs_finding *f, void *arg)
{
	struct ofs_verify_target *t = arg;
	struct ofs_verify_fcopy *c;

	t->fl = ofs_xreallocarray(t->fl, t->nfl + 1, sizeof(*t->fl));
	c = &t->fl[t->nfl++];
	c->f = *f;
	c->path = f->path ? ofs_xstrdup(f->path) : NULL;
	c->detail = f->detail ? ofs_xstrdup(f->detail) : NULL;
	c->serial = f->serial ? ofs_xstrdup(f->serial) : NULL;
	c->f.path = c->path;
	c->f.detail = c->detail;
	c->f.serial = c->serial;
}

static void *
check_thread(void *arg)
{
	struct ofs_verify_target *t = arg;

	ofs_err_clear(&t->err);
	t->r = ofs_check_root(t->dir, t->m, &t->o, &t->st, &t->err);
	return NULL;
}

void
ofs_verify_check_run(struct ofs_verify_target *tg, size_t ntg, int threads,
    double sample_pct, struct ofs_progress *pr)
{
	pthread_t *th = ofs_xcalloc(ntg + 1, sizeof(*th));
	char *started = ofs_xcalloc(ntg + 1, sizeof(*started));
	size_t nrun = 0;
	int per;

	for (size_t i = 0; i < ntg; i++)
		nrun += tg[i].m != NULL;
	per = threads > 0 ? threads : nrun > 0 ? ofs_ncpu() / (int)nrun : 1;
	if (per < 1)
		per = 1;
	for (size_t i = 0; i < ntg; i++) {
		struct ofs_verify_target *t = &tg[i];

		if (t->m == NULL)
			continue;
		t->o.threads = per;
		t->o.sample_pct = sample_pct < 100 ? sample_pct : 0;
		t->o.on_finding = collect;
		t->o.arg = t;
		t->o.progress = pr;
		t->o.keep_total = 1;
		t->o.staging = !t->m->has_disk;
		if (nrun > 1 && pthread_create(&th[i], NULL, check_thread, t) == 0)
			started[i] = 1;
		else
			check_thread(t);
	}
	for (size_t i = 0; i < ntg; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

int
ofs_verify_check_report(const struct ofs_verify_target *tg, size_t ntg,
    ofs_verify_finding_fn fn, void *arg, struct ofs_check_stats *total,
    struct ofs_error *err)
{
	const struct ofs_verify_target *failed = NULL;

	for (size_t i = 0; i < ntg; i++) {
		const struct ofs_verify_target *t = &tg[i];

		if (t->m == NULL)
			continue;
		for (size_t k = 0; k < t->nfl; k++)
			fn(t->dir, &t->fl[k].f, arg);
		if (t->r != 0 && failed == NULL)
			failed = t;
		total->files_listed += t->st.files_listed;
		total->files_checked += t->st.files_checked;
		total->bytes_listed += t->st.bytes_listed;
		total->bytes_hashed += t->st.bytes_hashed;
		total->regions_checked += t->st.regions_checked;
		total->containers_checked += t->st.containers_checked;
	}
	if (failed == NULL)
		return 0;
	*err = failed->err;
	return failed->r;
}

/* ---- the set ----------------------------------------------------------------------------- */

static int
same_set(const struct ofs_set_manifest *a, const struct ofs_set_manifest *b)
{
	return strcmp(a->repository, b->repository) == 0 && strcmp(a->seed_set, b->seed_set) == 0;
}

/* Contents of DIR/.offseed-disk-id, trimmed, or NULL when there is none. */
static char *
read_disk_id(const char *dir)
{
	struct ofs_buf b = OFS_BUF_INIT(4096);
	char *p = ofs_path_join(dir, OFS_DISK_ID_NAME), *s = NULL;

	if (ofs_buf_read_file(&b, p, NULL) == 0) {
		while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
		    b.data[b.len - 1] == ' '))
			b.len--;
		s = ofs_xstrndup((const char *)b.data, b.len);
	}
	ofs_buf_release(&b);
	free(p);
	return s;
}

/* The target whose set manifest most targets share: the set being verified (NULL: none). */
static const struct ofs_verify_target *
set_ref(const struct ofs_verify_target *tg, size_t ntg)
{
	const struct ofs_verify_target *ref = NULL;
	size_t best = 0;

	for (size_t i = 0; i < ntg; i++) {
		size_t c = 0;

		if (tg[i].set == NULL)
			continue;
		for (size_t j = 0; j < ntg; j++)
			c += tg[j].set != NULL && same_set(tg[i].set, tg[j].set);
		if (c > best) {
			best = c;
			ref = &tg[i];
		}
	}
	return ref;
}

void
ofs_verify_mark_set(struct ofs_verify_target *tg, size_t ntg)
{
	const struct ofs_verify_target *ref = set_ref(tg, ntg);

	for (size_t i = 0; ref != NULL && i < ntg; i++)
		tg[i].in_set = tg[i].set != NULL && same_set(tg[i].set, ref->set);
}

void
ofs_verify_check_set(struct ofs_verify_target *tg, size_t ntg, ofs_verify_finding_fn fn,
    void *arg)
{
	struct sink s = { fn, arg, "" };
	const struct ofs_set_manifest *set = NULL;
	const struct ofs_verify_target *ref = set_ref(tg, ntg);
	const struct ofs_verify_target **present;
	char *d;

	if (ref == NULL)
		return;
	set = ref->set;
	present = ofs_xcalloc(set->ndisks, sizeof(*present));
	for (size_t i = 0; i < ntg; i++) {
		struct ofs_verify_target *t = &tg[i];
		const struct ofs_manifest *m = t->m;
		const struct ofs_set_disk *sd;
		char *id;

		if (t->set == NULL)
			continue;
		s.target = t->dir;
		if (!same_set(t->set, set)) {
			d = ofs_xasprintf("a disk of another set (repository %s, seed set %s), not "
			    "of seed set %s of repository %s like '%s'", t->set->repository,
			    t->set->seed_set, set->seed_set, set->repository, ref->dir);
			sd = m != NULL && m->has_disk && m->disk_index >= 1 &&
			    m->disk_index <= t->set->ndisks ? &t->set->disks[m->disk_index - 1] :
			    NULL;
			disk_finding(&s, OFS_FINDING_FOREIGN_DISK, NULL, d, t->set, sd);
			free(d);
			continue;
		}
		t->in_set = 1;
		if (strcmp(t->set_sha, ref->set_sha) != 0) {
			d = ofs_xasprintf("differs from the one on '%s' (SHA-256 %s, there %s)",
			    ref->dir, t->set_sha, ref->set_sha);
			disk_finding(&s, OFS_FINDING_SET_MISMATCH, OFS_SET_MANIFEST_NAME, d, NULL,
			    NULL);
			free(d);
		}
		if (m == NULL)
			continue;	/* its manifest problem is already reported */
		if (!m->has_disk || m->disk_index < 1 || m->disk_index > set->ndisks) {
			d = m->has_disk ? ofs_xasprintf("disk index %u is not in the set (1 to %zu)",
			    m->disk_index, set->ndisks) : ofs_xstrdup("the manifest names no disk, "
			    "but the disk carries offseed-set.json");
			disk_finding(&s, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, NULL, NULL);
			free(d);
			continue;
		}
		sd = &set->disks[m->disk_index - 1];
		if (present[sd->index - 1] != NULL) {
			d = ofs_xasprintf("disk %u of %zu is given twice ('%s' and '%s')", sd->index,
			    set->ndisks, present[sd->index - 1]->dir, t->dir);
			disk_finding(&s, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, set, sd);
			free(d);
			continue;
		}
		present[sd->index - 1] = t;
		if (m->disk_count != set->ndisks || strcmp(m->serial, sd->serial) != 0 ||
		    strcmp(m->repository, set->repository) != 0 || m->seed_set == NULL ||
		    strcmp(m->seed_set, set->seed_set) != 0) {
			d = ofs_xasprintf("the manifest says disk %u of %u, serial %s, repository "
			    "%s, seed set %s; the set says disk %u of %zu, serial %s, repository "
			    "%s, seed set %s", m->disk_index, m->disk_count, m->serial,
			    m->repository, m->seed_set ? m->seed_set : "none", sd->index,
			    set->ndisks, sd->serial, set->repository, set->seed_set);
			disk_finding(&s, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, set, sd);
			free(d);
		}
		if (t->sha[0] != '\0' && strcmp(t->sha, sd->manifest_sha256) != 0) {
			d = ofs_xasprintf("expected %s found %s (disk %u of %zu, serial %s, as the "
			    "set manifest lists it)", sd->manifest_sha256, t->sha, sd->index,
			    set->ndisks, sd->serial);
			disk_finding(&s, OFS_FINDING_MANIFEST_HASH, OFS_MANIFEST_NAME, d, set, sd);
			free(d);
		}
		if ((id = read_disk_id(t->dir)) != NULL && strcmp(id, sd->serial) != 0) {
			d = ofs_xasprintf("the disk's id file says serial %s, the set lists %s for "
			    "disk %u", id, sd->serial, sd->index);
			disk_finding(&s, OFS_FINDING_SET_MISMATCH, OFS_DISK_ID_NAME, d, set, sd);
			free(d);
		}
		free(id);
	}
	s.target = "";
	for (size_t i = 0; i < set->ndisks; i++) {
		if (present[i] != NULL)
			continue;
		d = ofs_xasprintf("disk %u of %zu missing (serial %s)", set->disks[i].index,
		    set->ndisks, set->disks[i].serial);
		disk_finding(&s, OFS_FINDING_DISK_MISSING, NULL, d, set, &set->disks[i]);
		free(d);
	}
	free(present);
}

/* ---- the manifest hashes a job registered -------------------------------------------- */

void
ofs_verify_check_expected(struct ofs_verify_expect *ex, size_t nex,
    const struct ofs_verify_target *tg, size_t ntg, ofs_verify_finding_fn fn, void *arg)
{
	struct sink s = { fn, arg, "" };

	for (size_t k = 0; k < nex; k++) {
		for (size_t i = 0; i < ntg; i++) {
			const struct ofs_manifest *m = tg[i].m;
			int match;

			if (m != NULL && m->has_disk)
				match = strcmp(m->serial, ex[k].serial) == 0;
			else
				match = strcmp(ex[k].serial, "-") == 0 || ntg == 1;
			if (!match || tg[i].sha[0] == '\0')
				continue;
			ex[k].matched = 1;
			if (strcmp(tg[i].sha, ex[k].sha) != 0) {
				char *d = ofs_xasprintf("expected %s found %s (serial %s)", ex[k].sha,
				    tg[i].sha, ex[k].serial);

				s.target = tg[i].dir;
				simple_finding(&s, OFS_FINDING_MANIFEST_HASH, OFS_MANIFEST_NAME, d);
				free(d);
			}
		}
		if (!ex[k].matched) {
			char *d = ofs_xasprintf("no target is the disk with serial %s",
			    ex[k].serial);

			s.target = "";
			simple_finding(&s, OFS_FINDING_DISK_MISSING, NULL, d);
			free(d);
		}
	}
}
