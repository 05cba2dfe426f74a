/* offseed verify: check staging repos or prepared disks against their manifests without the
 * passphrase (lib/check.c), optionally compare manifest SHA-256s with the job's, and with
 * --deep hand over to the keyed pass (verify/cmd_verify_deep.c). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "check.h"
#include "cli.h"
#include "deep.h"
#include "disk.h"
#include "manifest.h"
#include "out.h"
#include "remote.h"
#include "setmanifest.h"
#include "util.h"

static const char usage[] =
    "usage: offseed verify [--deep] [--sample PCT] [--expect-hash SERIAL=SHA256]... [--json]\n"
    "                      [--threads N] TARGET...\n"
    "       offseed verify [--json] [--threads N] --manifest DISK/offseed-manifest.json...\n"
    "                      azure://ACCOUNT[/CONTAINER[/PREFIX]]\n"
    "\n"
    "Check staging repositories or prepared disks (folders with offseed-manifest.json at\n"
    "their root) against their manifests, without the passphrase: every listed file present\n"
    "with its size, XXH3-128 of every region and file, no unlisted files, and the structure\n"
    "of every container (VHD footer, superblock, trailer).\n"
    "\n"
    "Prepared disks (with offseed-set.json) are checked as a set, each disk by its own\n"
    "reader: the set manifest the same on every disk, each disk's manifest hash and serial\n"
    "as the set lists them, every disk of the set given (else \"disk 3 of 3 missing\n"
    "(serial S)\"), no disk of another set. With --deep the disks are opened together as\n"
    "the repository disks:MNT,MNT...\n"
    "\n"
    "An azure:// target checks the blobs imported from the disks whose manifests are given:\n"
    "every PageBlob/C/B and BlockBlob/C/B file under CONTAINER/PREFIX present as a page or\n"
    "block blob C/B with its size and the XXH3-128 of every region and of the whole blob\n"
    "(ranged reads; endpoint and credentials from OFFSEED_AZURE_ENDPOINT, OFFSEED_AZURE_KEY\n"
    "or OFFSEED_AZURE_SAS, see docs/AZURE.md).\n"
    "\n"
    "  --deep                   also decrypt and authenticate every blob (needs the passphrase)\n"
    "  --sample PCT             check about PCT percent of each file's regions (0 < PCT < 100)\n"
    "  --expect-hash S=SHA256   the manifest of the disk with serial S must have this SHA-256\n"
    "                           (S '-' or any serial: a target whose manifest has no disk)\n"
    "  --threads N              hashing threads per target (default: the CPUs shared among\n"
    "                           the targets, at least one reader each; azure://: blobs\n"
    "                           read at once, default 4)\n"
    "  --manifest FILE          (azure:// targets; repeat) check the blobs imported from\n"
    "                           the disk with this offseed-manifest.json\n"
    "  --json                   JSON Lines: one finding object per problem, then a summary\n"
    "\n"
    "Exit: 0 clean, 4 anything missing, corrupt or unlisted, 7 newer format, 1 I/O failure,\n"
    "2 usage, 5 credentials refused, 8 storage service unreachable.\n";

struct expect {
	char *serial;
	char sha[65];
	int matched;
};

/* A finding kept until the checks running in parallel are all done. */
struct fcopy {
	struct ofs_finding f;
	char *path, *detail, *serial;	/* owned copies */
};

struct target {
	const char *arg;	/* as given */
	const char *dir;	/* without a file: prefix */
	struct ofs_manifest *m;
	char sha[65];		/* manifest SHA-256, "" when unreadable */
	/* a disk of a set: offseed-set.json at the root */
	int is_disk;
	struct ofs_set_manifest *set;	/* NULL when absent or unusable */
	char set_sha[65];
	int in_set;		/* of the set being verified (not a foreign disk) */
	/* its keyless check, run in a thread of its own */
	struct ofs_check_opts o;
	struct ofs_check_stats st;
	struct ofs_error err;
	int r;
	struct fcopy *fl;
	size_t nfl;
};

struct vctx {
	const char *target;
	int multi;		/* several targets: prefix paths with the target */
	uint64_t findings, serious;	/* serious: anything but version findings and I/O
					 * errors */
	uint64_t io;		/* unreadable through an I/O error (exit 1, not 4) */
	uint64_t by_kind[OFS_FINDING_NKINDS];
	uint64_t names[OFS_FINDING_NKINDS + 4];
	json_t *list;		/* --json: findings, carried in the one summary object */
};

static const char *const kind_names[] = { "missing", "truncated", "size_mismatch",
	"region_mismatch", "hash_mismatch", "unlisted", "bad_structure", "unreadable",
	"version_too_new", "manifest_hash_mismatch", "disk_missing", "deep", "foreign_disk",
	"set_mismatch" };

static void
on_finding(const struct ofs_finding *f, void *arg)
{
	struct vctx *v = arg;
	const char *name = ofs_finding_name(f);
	char *shown = NULL, eh[33], fh[33];
	json_t *o;

	v->findings++;
	if ((f->kind == OFS_FINDING_UNREADABLE || f->kind == OFS_FINDING_DEEP) && f->io_errno != 0)
		v->io++;
	else if (f->kind != OFS_FINDING_VERSION)
		v->serious++;
	if (f->kind > 0 && f->kind < OFS_FINDING_NKINDS)
		v->by_kind[f->kind]++;
	for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
		if (strcmp(kind_names[i], name) == 0)
			v->names[i]++;
	if (f->path != NULL)
		shown = v->multi && f->kind != OFS_FINDING_DEEP ?	/* deep: snapshot paths */
		    ofs_path_join(v->target, f->path) : ofs_xstrdup(f->path);
	if (f->has_hashes) {
		ofs_hex(f->expected, OFS_XXH_LEN, eh);
		ofs_hex(f->found, OFS_XXH_LEN, fh);
	}
	if (ofs_out_is_json()) {
		o = json_pack("{s:s, s:s}", "kind", name, "target", v->target);
		if (f->path != NULL)
			json_object_set_new(o, "path", json_string(f->path));
		if (f->region >= 0)
			json_object_set_new(o, "region", json_integer(f->region));
		if (f->has_range) {
			json_object_set_new(o, "start", json_integer((json_int_t)f->start));
			json_object_set_new(o, "end", json_integer((json_int_t)f->end));
		}
		if (f->has_sizes) {
			json_object_set_new(o, "expected_size",
			    json_integer((json_int_t)f->expected_size));
			if (f->kind == OFS_FINDING_SIZE)
				json_object_set_new(o, "found_size",
				    json_integer((json_int_t)f->found_size));
		}
		if (f->has_hashes) {
			json_object_set_new(o, "expected", json_string(eh));
			json_object_set_new(o, "found", json_string(fh));
		}
		if (f->detail != NULL && f->kind != OFS_FINDING_MISSING)
			json_object_set_new(o, "detail", json_string(f->detail));
		if (f->disk_index > 0) {
			json_object_set_new(o, "disk_index", json_integer(f->disk_index));
			json_object_set_new(o, "disk_count", json_integer(f->disk_count));
		}
		if (f->serial != NULL)
			json_object_set_new(o, "serial", json_string(f->serial));
		if (v->list == NULL)
			v->list = json_array();
		json_array_append_new(v->list, o);
		free(shown);
		return;
	}
	switch (f->kind) {
	case OFS_FINDING_REGION:
		ofs_result("corrupt: %s region %lld bytes %llu-%llu: expected %s found %s\n", shown,
		    (long long)f->region, (unsigned long long)f->start,
		    (unsigned long long)(f->end - 1), eh, fh);
		break;
	case OFS_FINDING_HASH:
		ofs_result("corrupt: %s bytes %llu-%llu: expected %s found %s\n", shown,
		    (unsigned long long)f->start,
		    (unsigned long long)(f->end ? f->end - 1 : 0), eh, fh);
		break;
	case OFS_FINDING_MISSING:
		ofs_result("missing: %s\n", shown);
		break;
	case OFS_FINDING_SIZE:
		ofs_result("%s: %s (size %llu, expected %llu)\n", f->found_size <
		    f->expected_size ? "truncated" : "size mismatch", shown,
		    (unsigned long long)f->found_size, (unsigned long long)f->expected_size);
		break;
	case OFS_FINDING_UNLISTED:
		ofs_result("unlisted: %s\n", shown);
		break;
	case OFS_FINDING_DISK_MISSING:
		if (f->disk_index > 0)	/* a disk of the set is not among the targets */
			ofs_result("disk %u of %u missing (serial %s)\n", f->disk_index,
			    f->disk_count, f->serial ? f->serial : "?");
		else
			ofs_result("disk missing: %s\n", f->detail ? f->detail : "");
		break;
	case OFS_FINDING_FOREIGN_DISK:
		ofs_result("foreign disk: %s: %s\n", v->target, f->detail ? f->detail : "");
		break;
	case OFS_FINDING_SET_MISMATCH:
		ofs_result("set mismatch: %s: %s\n", shown ? shown : v->target,
		    f->detail ? f->detail : "");
		break;
	default:
		ofs_result("%s: %s: %s\n", f->kind == OFS_FINDING_STRUCTURE ? "bad structure" :
		    f->kind == OFS_FINDING_UNREADABLE ? "unreadable" :
		    f->kind == OFS_FINDING_VERSION ? "too new" :
		    f->kind == OFS_FINDING_MANIFEST_HASH ? "manifest hash mismatch" : name,
		    shown ? shown : v->target, f->detail ? f->detail : "");
		break;
	}
	free(shown);
}

static void
simple_finding(struct vctx *v, enum ofs_finding_kind kind, const char *path,
    const char *detail)
{
	struct ofs_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.path = path;
	f.region = -1;
	f.detail = detail;
	on_finding(&f, v);
}

/* The finding for a manifest that could not be read: r from ofs_buf_read_file. */
static void
read_finding(struct vctx *v, int r, const char *path, const struct ofs_error *e)
{
	struct ofs_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = r == OFS_ERR_CORRUPT ? OFS_FINDING_STRUCTURE : OFS_FINDING_UNREADABLE;
	f.path = path;
	f.region = -1;
	f.detail = e->msg;
	if (f.kind == OFS_FINDING_UNREADABLE)
		f.io_errno = e->sys_errno != 0 ? e->sys_errno : EIO;
	on_finding(&f, v);
}

static int
parse_expect(const char *s, struct expect *e)
{
	const char *eq = strrchr(s, '=');
	uint8_t tmp[32];

	if (eq == NULL || eq == s || strlen(eq + 1) != 64 || ofs_unhex(eq + 1, tmp, 32) != 0)
		return -1;
	e->serial = ofs_xstrndup(s, (size_t)(eq - s));
	ofs_hex(tmp, 32, e->sha);
	e->matched = 0;
	return 0;
}

/* Load and hash target t's manifest; problems become findings (t->m stays NULL). Returns 0,
 * or an OFS_ERR_* when the target itself cannot be used (already in err). */
static int
load_target(struct target *t, struct vctx *v, struct ofs_error *err)
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
			simple_finding(v, OFS_FINDING_MISSING, OFS_MANIFEST_NAME, e.msg);
		else
			read_finding(v, r, OFS_MANIFEST_NAME, &e);
		r = 0;
		goto out;
	}
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, 32, t->sha);
	if ((r = ofs_manifest_parse(raw.data, raw.len, mp, &t->m, &e)) != 0) {
		simple_finding(v, r == OFS_ERR_VERSION ? OFS_FINDING_VERSION :
		    OFS_FINDING_STRUCTURE, OFS_MANIFEST_NAME, e.msg);
		r = 0;
	}
out:
	free(mp);
	ofs_buf_release(&raw);
	return r;
}

/* Keep a finding of one target's check (runs in that target's thread). */
static void
collect(const struct ofs_finding *f, void *arg)
{
	struct target *t = arg;
	struct fcopy *c;

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
	struct target *t = arg;

	ofs_err_clear(&t->err);
	t->r = ofs_check_root(t->dir, t->m, &t->o, &t->st, &t->err);
	return NULL;
}

/* offseed-set.json of target t, if it has one: raw SHA-256 and parsed set; problems become
 * findings on that file. */
static void
load_set(struct target *t, struct vctx *v)
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
			read_finding(v, r, OFS_SET_MANIFEST_NAME, &e);
		} else if (t->m != NULL && t->m->has_disk) {
			/* a prepared disk carries both manifests */
			t->is_disk = 1;
			simple_finding(v, OFS_FINDING_MISSING, OFS_SET_MANIFEST_NAME, e.msg);
		}
		goto out;
	}
	t->is_disk = 1;
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, 32, t->set_sha);
	if ((r = ofs_set_manifest_parse(raw.data, raw.len, sp, &t->set, &e)) != 0)
		simple_finding(v, r == OFS_ERR_VERSION ? OFS_FINDING_VERSION :
		    OFS_FINDING_STRUCTURE, OFS_SET_MANIFEST_NAME, e.msg);
out:
	free(sp);
	ofs_buf_release(&raw);
}

static int
same_set(const struct ofs_set_manifest *a, const struct ofs_set_manifest *b)
{
	return strcmp(a->repository, b->repository) == 0 && strcmp(a->seed_set, b->seed_set) == 0;
}

static void
disk_finding(struct vctx *v, enum ofs_finding_kind kind, const char *path, const char *detail,
    const struct ofs_set_manifest *set, const struct ofs_set_disk *sd)
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
	on_finding(&f, v);
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
static const struct target *
set_ref(const struct target *tg, size_t ntg)
{
	const struct target *ref = NULL;
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

/* The set checks over every target that is a disk: one set (the one most of the disks
 * belong to; others are foreign), identical set manifests, each disk's manifest hash,
 * index and serial as the set lists them, and every disk of the set present. */
static void
check_set(struct target *tg, size_t ntg, struct vctx *v)
{
	const struct ofs_set_manifest *set = NULL;
	const struct target *ref = set_ref(tg, ntg);
	const struct target **present;
	char *d;

	if (ref == NULL)
		return;
	set = ref->set;
	present = ofs_xcalloc(set->ndisks, sizeof(*present));
	for (size_t i = 0; i < ntg; i++) {
		struct target *t = &tg[i];
		const struct ofs_manifest *m = t->m;
		const struct ofs_set_disk *sd;
		char *id;

		if (t->set == NULL)
			continue;
		v->target = t->dir;
		if (!same_set(t->set, set)) {
			d = ofs_xasprintf("a disk of another set (repository %s, seed set %s), not "
			    "of seed set %s of repository %s like '%s'", t->set->repository,
			    t->set->seed_set, set->seed_set, set->repository, ref->dir);
			sd = m != NULL && m->has_disk && m->disk_index >= 1 &&
			    m->disk_index <= t->set->ndisks ? &t->set->disks[m->disk_index - 1] :
			    NULL;
			disk_finding(v, OFS_FINDING_FOREIGN_DISK, NULL, d, t->set, sd);
			free(d);
			continue;
		}
		t->in_set = 1;
		if (strcmp(t->set_sha, ref->set_sha) != 0) {
			d = ofs_xasprintf("differs from the one on '%s' (SHA-256 %s, there %s)",
			    ref->dir, t->set_sha, ref->set_sha);
			disk_finding(v, OFS_FINDING_SET_MISMATCH, OFS_SET_MANIFEST_NAME, d, NULL,
			    NULL);
			free(d);
		}
		if (m == NULL)
			continue;	/* its manifest problem is already reported */
		if (!m->has_disk || m->disk_index < 1 || m->disk_index > set->ndisks) {
			d = m->has_disk ? ofs_xasprintf("disk index %u is not in the set (1 to %zu)",
			    m->disk_index, set->ndisks) : ofs_xstrdup("the manifest names no disk, "
			    "but the disk carries offseed-set.json");
			disk_finding(v, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, NULL, NULL);
			free(d);
			continue;
		}
		sd = &set->disks[m->disk_index - 1];
		if (present[sd->index - 1] != NULL) {
			d = ofs_xasprintf("disk %u of %zu is given twice ('%s' and '%s')", sd->index,
			    set->ndisks, present[sd->index - 1]->dir, t->dir);
			disk_finding(v, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, set, sd);
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
			disk_finding(v, OFS_FINDING_SET_MISMATCH, OFS_MANIFEST_NAME, d, set, sd);
			free(d);
		}
		if (t->sha[0] != '\0' && strcmp(t->sha, sd->manifest_sha256) != 0) {
			d = ofs_xasprintf("expected %s found %s (disk %u of %zu, serial %s, as the "
			    "set manifest lists it)", sd->manifest_sha256, t->sha, sd->index,
			    set->ndisks, sd->serial);
			disk_finding(v, OFS_FINDING_MANIFEST_HASH, OFS_MANIFEST_NAME, d, set, sd);
			free(d);
		}
		if ((id = read_disk_id(t->dir)) != NULL && strcmp(id, sd->serial) != 0) {
			d = ofs_xasprintf("the disk's id file says serial %s, the set lists %s for "
			    "disk %u", id, sd->serial, sd->index);
			disk_finding(v, OFS_FINDING_SET_MISMATCH, OFS_DISK_ID_NAME, d, set, sd);
			free(d);
		}
		free(id);
	}
	v->target = "";
	for (size_t i = 0; i < set->ndisks; i++) {
		if (present[i] != NULL)
			continue;
		d = ofs_xasprintf("disk %u of %zu missing (serial %s)", set->disks[i].index,
		    set->ndisks, set->disks[i].serial);
		disk_finding(v, OFS_FINDING_DISK_MISSING, NULL, d, set, &set->disks[i]);
		free(d);
	}
	free(present);
}

/* The azure:// verification: load the manifests, read the blobs, report findings into v
 * and the totals into total. Returns -1 when the check ran (its findings decide the exit
 * code), else the exit code of the failure (already reported). */
static int
verify_remote(const char *url, const char *const *mfs, size_t nmfs, int threads,
    struct vctx *v, struct ofs_check_stats *total)
{
	struct ofs_manifest **m = ofs_xcalloc(nmfs, sizeof(*m));
	struct ofs_remote_loc loc;
	struct ofs_remote_opts o;
	struct ofs_progress pr;
	struct ofs_error err;
	uint64_t bytes = 0, files = 0;
	int r, rc = -1;

	ofs_err_clear(&err);
	memset(&loc, 0, sizeof(loc));
	if ((r = ofs_remote_parse(url, &loc, &err)) != 0) {
		rc = ofs_cli_fail(r, &err);
		goto out;
	}
	if (nmfs == 0) {
		ofs_error("verify '%s' needs --manifest DISK/offseed-manifest.json (one per disk "
		    "imported)", url);
		rc = 2;
		goto out;
	}
	for (size_t i = 0; i < nmfs; i++) {
		if ((r = ofs_manifest_load(mfs[i], &m[i], &err)) != 0) {
			rc = ofs_cli_fail(r, &err);
			goto out;
		}
		files += m[i]->nfiles;
		for (size_t k = 0; k < m[i]->nfiles; k++)
			bytes += m[i]->files[k].h.size;
	}
	memset(&o, 0, sizeof(o));
	o.threads = threads;
	o.on_finding = on_finding;
	o.arg = v;
	o.progress = &pr;
	v->target = url;
	v->multi = 0;
	ofs_progress_start(&pr, "verify", bytes, files);
	r = ofs_remote_verify(&loc, m, nmfs, &o, total, &err);
	ofs_progress_end(&pr);
	if (r != 0)
		rc = ofs_cli_fail(r, &err);
out:
	ofs_remote_loc_release(&loc);
	for (size_t i = 0; i < nmfs; i++)
		ofs_manifest_free(m[i]);
	free(m);
	return rc;
}

/* Mark the disks of the set being verified (the set most targets belong to), as check_set
 * will, without reporting anything: the deep pass opens them before the keyless one ends. */
static void
mark_set(struct target *tg, size_t ntg)
{
	const struct target *ref = set_ref(tg, ntg);

	for (size_t i = 0; ref != NULL && i < ntg; i++)
		tg[i].in_set = tg[i].set != NULL && same_set(tg[i].set, ref->set);
}

/* The repositories of the deep pass: each staging folder on its own, the disks of the set
 * together as one location (disks:MNT,MNT…). They are opened (the key derived, the index
 * loaded) on a thread of their own while the keyless pass runs. */
struct deep_open {
	const struct ofs_cli *g;
	char **locs;
	struct ofs_repo **repos;
	size_t n;
	size_t failed_at;	/* with rc: the location that did not open */
	int rc;
	struct ofs_error err;
	pthread_t th;
	int started;
};

static void *
deep_open_all(void *arg)
{
	struct deep_open *d = arg;

	for (size_t i = 0; i < d->n; i++) {
		if ((d->rc = ofs_verify_deep_open(d->g, d->locs[i], &d->repos[i], &d->err)) != 0) {
			d->failed_at = i;
			break;
		}
	}
	return NULL;
}

static void
deep_open_start(struct deep_open *d, const struct ofs_cli *g, const struct target *tg,
    size_t ntg)
{
	struct ofs_buf set = OFS_BUF_INIT(0);

	d->g = g;
	d->locs = ofs_xcalloc(ntg + 1, sizeof(*d->locs));
	d->repos = ofs_xcalloc(ntg + 1, sizeof(*d->repos));
	for (size_t i = 0; i < ntg; i++) {
		if (tg[i].in_set) {
			ofs_buf_adds(&set, set.len ? "," : "disks:");
			ofs_buf_adds(&set, tg[i].dir);
		}
		if (tg[i].m != NULL && !tg[i].is_disk)
			d->locs[d->n++] = ofs_xstrdup(tg[i].dir);
	}
	if (set.len > 0) {
		ofs_buf_cstr(&set);
		d->locs[d->n++] = ofs_xstrdup((const char *)set.data);
	}
	ofs_buf_release(&set);
	/* A passphrase typed at the terminal is asked for now, not under the progress line. */
	if (g->passphrase_file != NULL || getenv("OFFSEED_PASSPHRASE") != NULL)
		d->started = pthread_create(&d->th, NULL, deep_open_all, d) == 0;
	if (!d->started)
		deep_open_all(d);
}

static void
deep_open_join(struct deep_open *d)
{
	if (d->started)
		pthread_join(d->th, NULL);
	d->started = 0;
}

static void
deep_open_free(struct deep_open *d)
{
	deep_open_join(d);
	for (size_t i = 0; i < d->n; i++) {
		ofs_repo_close(d->repos[i]);
		free(d->locs[i]);
	}
	free(d->repos);
	free(d->locs);
}

int
cmd_verify(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "deep", no_argument, NULL, 'd' },
		{ "sample", required_argument, NULL, 's' },
		{ "expect-hash", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct expect *ex = NULL;
	struct target *tg = NULL;
	const char **mfs = NULL;
	size_t nmfs = 0;
	struct ofs_check_stats total;
	struct ofs_progress pr;
	struct ofs_error err;
	struct vctx v;
	struct target *failed = NULL;
	pthread_t *th = NULL;
	char *started = NULL, *end;
	size_t nex = 0, ntg = 0, nrun = 0;
	uint64_t bytes = 0, files = 0;
	double sample = 0, t0 = ofs_mono(), secs;
	int deep = 0, threads = 0, c, rc = 0, r, per, progress = 0;
	struct deep_open dop;

	memset(&dop, 0, sizeof(dop));
	memset(&total, 0, sizeof(total));
	memset(&v, 0, sizeof(v));
	ofs_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			deep = 1;
			break;
		case 's':
			sample = strtod(optarg, &end);
			if (*end != '\0' || end == optarg || !(sample > 0 && sample <= 100)) {
				ofs_error("--sample needs a percentage above 0 and at most 100, not "
				    "'%s'", optarg);
				rc = 2;
				goto done;
			}
			break;
		case 'e':
			ex = ofs_xreallocarray(ex, nex + 1, sizeof(*ex));
			if (parse_expect(optarg, &ex[nex]) != 0) {
				ofs_error("--expect-hash needs SERIAL=SHA256 (64 hex digits), not '%s'",
				    optarg);
				rc = 2;
				goto done;
			}
			nex++;
			break;
		case 't':
			if (ofs_cli_threads(optarg, &threads) != 0) {
				rc = 2;
				goto done;
			}
			break;
		case 'j': {	/* normally taken as a global option already */
			struct ofs_out_opts oo = *ofs_out_opts();

			g->json = oo.json = 1;
			ofs_out_setup(&oo);
			break;
		}
		case 'm':
			mfs = ofs_xreallocarray(mfs, nmfs + 1, sizeof(*mfs));
			mfs[nmfs++] = optarg;
			break;
		case 'h':
			rc = ofs_cli_usage(usage, 1);
			goto done;
		default:
			rc = ofs_cli_usage(usage, 0);
			goto done;
		}
	}
	if (optind >= argc) {
		ofs_error("verify needs at least one TARGET (a staging repository or a disk)");
		rc = ofs_cli_usage(usage, 0);
		goto done;
	}
	if (strstr(argv[optind], "://") != NULL || nmfs > 0) {
		if (argc - optind != 1) {
			ofs_error("--manifest goes with exactly one azure://ACCOUNT/CONTAINER[/PREFIX] "
			    "target (folders carry their own manifests)");
			rc = 2;
		} else if (deep || sample > 0 || nex > 0) {
			ofs_error("an azure:// target takes none of --deep, --sample, --expect-hash");
			rc = 2;
		} else {
			rc = verify_remote(argv[optind], mfs, nmfs, threads, &v, &total);
			if (rc < 0) {	/* checked: the common summary below */
				rc = 0;
				ntg = 1;
				goto summary;
			}
		}
		goto done;
	}
	ntg = (size_t)(argc - optind);
	tg = ofs_xcalloc(ntg, sizeof(*tg));
	v.multi = ntg > 1;
	for (size_t i = 0; i < ntg; i++) {
		const char *a = argv[optind + (int)i];

		tg[i].arg = a;
		tg[i].dir = strncmp(a, "file:", 5) == 0 ? a + 5 : a;
		if (strstr(a, "://") != NULL) {
			ofs_err_set(&err, OFS_ERR_USAGE, "cannot verify '%s' with other targets: a "
			    "remote location goes alone, with --manifest", a);
			rc = ofs_cli_fail(OFS_ERR_USAGE, &err);
			goto done;
		}
	}

	/* Manifests and set manifests first: cheap, and their problems come first. */
	for (size_t i = 0; i < ntg; i++) {
		v.target = tg[i].dir;
		if ((r = load_target(&tg[i], &v, &err)) != 0) {
			rc = ofs_cli_fail(r, &err);
			goto done;
		}
		load_set(&tg[i], &v);
		if (tg[i].m == NULL)
			continue;
		nrun++;
		files += tg[i].m->nfiles;
		for (size_t k = 0; k < tg[i].m->nfiles; k++)
			bytes += tg[i].m->files[k].h.size;
	}

	/* The keyless checks: one thread per target, so every disk has its own reader and a
	 * set takes about as long as its largest disk; one progress display for all. The
	 * findings are kept and replayed in target order afterwards (deterministic). */
	if (deep) {
		mark_set(tg, ntg);
		deep_open_start(&dop, g, tg, ntg);
	}
	per = threads > 0 ? threads : nrun > 0 ? ofs_ncpu() / (int)nrun : 1;
	if (per < 1)
		per = 1;
	ofs_progress_start(&pr, "verify", sample > 0 && sample < 100 ? 0 : bytes, files);
	progress = 1;
	th = ofs_xcalloc(ntg, sizeof(*th));
	started = ofs_xcalloc(ntg, sizeof(*started));
	for (size_t i = 0; i < ntg; i++) {
		struct target *t = &tg[i];

		if (t->m == NULL)
			continue;
		t->o.threads = per;
		t->o.sample_pct = sample < 100 ? sample : 0;
		t->o.on_finding = collect;
		t->o.arg = t;
		t->o.progress = &pr;
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
	ofs_progress_end(&pr);
	progress = 0;
	/* A wrong or missing passphrase ends the run before anything is printed. */
	deep_open_join(&dop);
	if (deep && (dop.rc == OFS_ERR_AUTH || dop.rc == OFS_ERR_USAGE)) {
		rc = ofs_cli_fail(dop.rc, &dop.err);
		goto done;
	}
	for (size_t i = 0; i < ntg; i++) {
		struct target *t = &tg[i];

		if (t->m == NULL)
			continue;
		v.target = t->dir;
		for (size_t k = 0; k < t->nfl; k++)
			on_finding(&t->fl[k].f, &v);
		if (t->r != 0 && failed == NULL)
			failed = t;
		total.files_listed += t->st.files_listed;
		total.files_checked += t->st.files_checked;
		total.bytes_listed += t->st.bytes_listed;
		total.bytes_hashed += t->st.bytes_hashed;
		total.regions_checked += t->st.regions_checked;
		total.containers_checked += t->st.containers_checked;
	}
	if (failed != NULL) {
		rc = ofs_cli_fail(failed->r, &failed->err);
		goto done;
	}
	check_set(tg, ntg, &v);

	/* Manifest hashes registered with the job. */
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

				v.target = tg[i].dir;
				simple_finding(&v, OFS_FINDING_MANIFEST_HASH, OFS_MANIFEST_NAME, d);
				free(d);
			}
		}
		if (!ex[k].matched) {
			char *d = ofs_xasprintf("no target is the disk with serial %s",
			    ex[k].serial);

			v.target = "";
			simple_finding(&v, OFS_FINDING_DISK_MISSING, NULL, d);
			free(d);
		}
	}

	/* The keyed pass: each staging repository on its own, the disks of the set together
	 * as one repository location (disks:MNT,MNT…). */
	if (deep) {
		struct ofs_verify_report rep;

		for (size_t i = 0; i < dop.n && rc == 0; i++) {
			if (dop.rc != 0 && i == dop.failed_at) {
				rc = ofs_cli_fail(dop.rc, &dop.err);
				break;
			}
			memset(&rep, 0, sizeof(rep));
			rep.sample_pct = sample < 100 ? sample : 0;
			rep.on_finding = on_finding;
			rep.arg = &v;
			v.target = dop.locs[i];
			rc = ofs_verify_deep_run(dop.repos[i], &rep);
			dop.repos[i] = NULL;	/* transferred */
		}
		v.target = "";
		if (rc != 0)
			goto done;
	}

summary:
	secs = ofs_mono() - t0;
	rc = v.serious > 0 ? 4 : v.io > 0 ? 1 : v.findings > 0 ? 7 : 0;
	if (ofs_out_is_json()) {
		json_t *kinds = json_object();

		for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
			if (v.names[i] > 0)
				json_object_set_new(kinds, kind_names[i],
				    json_integer((json_int_t)v.names[i]));
		ofs_emit(json_pack("{s:s, s:s, s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:o, s:f, s:f, s:b, s:f, s:o}",
		    "type", "summary", "command", "verify", "ok", rc == 0, "exit_code", rc,
		    "targets", (json_int_t)ntg, "files_listed", (json_int_t)total.files_listed,
		    "files_checked", (json_int_t)total.files_checked,
		    "bytes_listed", (json_int_t)total.bytes_listed,
		    "bytes_checked", (json_int_t)total.bytes_hashed,
		    "regions_checked", (json_int_t)total.regions_checked,
		    "containers_checked", (json_int_t)total.containers_checked,
		    "findings", (json_int_t)v.findings, "by_kind", kinds,
		    "seconds", secs, "bytes_per_second",
		    secs > 0 ? (double)total.bytes_hashed / secs : 0.0,
		    "deep", deep, "sample_pct", sample < 100 ? sample : 0.0,
		    "problems", v.list ? v.list : json_array()));
		v.list = NULL;	/* transferred */
	} else {
		char sz[32], rate[32], kinds[512] = "";
		size_t kl = 0;

		ofs_fmt_size(total.bytes_hashed, sz, sizeof(sz));
		ofs_fmt_size(secs > 0 ? (uint64_t)((double)total.bytes_hashed / secs) : 0, rate,
		    sizeof(rate));
		for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
			if (v.names[i] > 0 && kl < sizeof(kinds))
				kl += (size_t)snprintf(kinds + kl, sizeof(kinds) - kl, "%s%llu %s",
				    kl ? ", " : "", (unsigned long long)v.names[i], kind_names[i]);
		ofs_result("verify: %llu of %llu files, %s checked in %.1f s (%s/s), %llu "
		    "containers: %s%s%s%s\n", (unsigned long long)total.files_checked,
		    (unsigned long long)total.files_listed, sz, secs, rate,
		    (unsigned long long)total.containers_checked,
		    v.findings == 0 ? "no problems" : "", v.findings ? kinds : "",
		    sample > 0 && sample < 100 ? " (sampled)" : "", deep ? " (deep)" : "");
	}
done:
	deep_open_free(&dop);
	json_decref(v.list);
	for (size_t i = 0; i < nex; i++)
		free(ex[i].serial);
	free(ex);
	if (progress)
		ofs_progress_end(&pr);
	for (size_t i = 0; tg != NULL && i < ntg; i++) {
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
	free(th);
	free(started);
	free(mfs);
	return rc;
}
