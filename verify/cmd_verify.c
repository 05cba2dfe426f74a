/* offseed verify: check staging repos or prepared disks against their manifests without the
 * passphrase (engine/verify.c over lib/check.c), optionally compare manifest SHA-256s with
 * the job's, and with --deep hand over to the keyed pass (verify/cmd_verify_deep.c). The
 * command parses, sets up, runs the engines and prints their findings and the summary. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "cli.h"
#include "deep.h"
#include "manifest.h"
#include "remote.h"
#include "util.h"
#include "verify.h"

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

/* The engine's findings: v->target is the target they are about. */
static void
on_target_finding(const char *target, const struct ofs_finding *f, void *arg)
{
	struct vctx *v = arg;

	v->target = target;
	on_finding(f, v);
}

static int
parse_expect(const char *s, struct ofs_verify_expect *e)
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
deep_open_start(struct deep_open *d, const struct ofs_cli *g,
    const struct ofs_verify_target *tg, size_t ntg)
{
	struct ofs_buf set = OFS_BUF_INIT(0);

	d->g = g;
	d->locs = ofs_xcalloc(ntg + 1, sizeof(*d->locs));
	d->repos = ofs_xcalloc(ntg + 1, sizeof(*d->repos));
	for (size_t i = 0; i < ntg; i++) {
		if (tg[i].in_set) {
			ofs_buf_puts(&set, set.len ? "," : "disks:");
			ofs_buf_puts(&set, tg[i].dir);
		}
		if (tg[i].m != NULL && !tg[i].is_disk)
			d->locs[d->n++] = ofs_xstrdup(tg[i].dir);
	}
	if (set.len > 0) {
		if (ofs_buf_cstr(&set) != 0)	/* fails after a failed put too */
			abort();	/* unbounded: only past SIZE_MAX, like running out of memory */
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

/* The options of one verify run. */
struct vargs {
	int deep, threads;
	double sample;
	struct ofs_verify_expect *ex;
	size_t nex;
	const char **mfs;		/* --manifest, for an azure:// target */
	size_t nmfs;
	char **targets;			/* argv's */
	size_t ntargets;
};

static void
vargs_release(struct vargs *a)
{
	for (size_t i = 0; i < a->nex; i++)
		free(a->ex[i].serial);
	free(a->ex);
	free(a->mfs);
}

/* Parse argv into a. Returns -1 to go on, else the exit code (already reported). */
static int
parse_args(int argc, char **argv, struct ofs_cli *g, struct vargs *a)
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
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a->deep = 1;
			break;
		case 's':
			a->sample = strtod(optarg, &end);
			if (*end != '\0' || end == optarg || !(a->sample > 0 && a->sample <= 100)) {
				ofs_error("--sample needs a percentage above 0 and at most 100, not "
				    "'%s'", optarg);
				return 2;
			}
			break;
		case 'e':
			a->ex = ofs_xreallocarray(a->ex, a->nex + 1, sizeof(*a->ex));
			if (parse_expect(optarg, &a->ex[a->nex]) != 0) {
				ofs_error("--expect-hash needs SERIAL=SHA256 (64 hex digits), not '%s'",
				    optarg);
				return 2;
			}
			a->nex++;
			break;
		case 't':
			if (ofs_cli_threads(optarg, &a->threads) != 0)
				return 2;
			break;
		case 'j': {	/* normally taken as a global option already */
			struct ofs_out_opts oo = *ofs_out_opts();

			g->json = oo.json = 1;
			ofs_out_setup(&oo);
			break;
		}
		case 'm':
			a->mfs = ofs_xreallocarray(a->mfs, a->nmfs + 1, sizeof(*a->mfs));
			a->mfs[a->nmfs++] = optarg;
			break;
		case 'h':
			return ofs_cli_usage(usage, 1);
		default:
			return ofs_cli_usage(usage, 0);
		}
	}
	if (optind >= argc) {
		ofs_error("verify needs at least one TARGET (a staging repository or a disk)");
		return ofs_cli_usage(usage, 0);
	}
	a->targets = argv + optind;
	a->ntargets = (size_t)(argc - optind);
	return -1;
}

/* The folder targets and their manifests and set manifests (cheap, and their problems
 * come first). Returns -1 to go on, else the exit code (already reported). */
static int
set_up(const struct vargs *a, struct ofs_verify_target **out, struct vctx *v)
{
	struct ofs_verify_target *tg = ofs_xcalloc(a->ntargets, sizeof(*tg));
	struct ofs_error err;
	int r;

	*out = tg;
	ofs_err_clear(&err);
	v->multi = a->ntargets > 1;
	for (size_t i = 0; i < a->ntargets; i++) {
		const char *s = a->targets[i];

		tg[i].dir = strncmp(s, "file:", 5) == 0 ? s + 5 : s;
		if (strstr(s, "://") != NULL) {
			ofs_err_set(&err, OFS_ERR_USAGE, "cannot verify '%s' with other targets: a "
			    "remote location goes alone, with --manifest", s);
			return ofs_cli_fail(OFS_ERR_USAGE, &err);
		}
	}
	for (size_t i = 0; i < a->ntargets; i++)
		if ((r = ofs_verify_target_load(&tg[i], on_target_finding, v, &err)) != 0)
			return ofs_cli_fail(r, &err);
	return -1;
}

/* The keyless checks (engine/verify.c): one thread per target, so every disk has its own
 * reader and a set takes about as long as its largest disk; one progress display for all.
 * With --deep the repositories are opened meanwhile (dop). Returns -1 when the checks ran
 * (their findings reported into v, their statistics added to total), else the exit code
 * (already reported). */
static int
run_keyless(const struct vargs *a, struct ofs_cli *g, struct ofs_verify_target *tg,
    size_t ntg, struct deep_open *dop, struct vctx *v, struct ofs_check_stats *total)
{
	struct ofs_progress pr;
	struct ofs_error err;
	uint64_t bytes = 0, files = 0;
	int r;

	for (size_t i = 0; i < ntg; i++) {
		if (tg[i].m == NULL)
			continue;
		files += tg[i].m->nfiles;
		for (size_t k = 0; k < tg[i].m->nfiles; k++)
			bytes += tg[i].m->files[k].h.size;
	}
	if (a->deep) {
		ofs_verify_mark_set(tg, ntg);
		deep_open_start(dop, g, tg, ntg);
	}
	ofs_progress_start(&pr, "verify", a->sample > 0 && a->sample < 100 ? 0 : bytes, files);
	ofs_verify_check_run(tg, ntg, a->threads, a->sample, &pr);
	ofs_progress_end(&pr);
	/* A wrong or missing passphrase ends the run before anything is printed. */
	deep_open_join(dop);
	if (a->deep && (dop->rc == OFS_ERR_AUTH || dop->rc == OFS_ERR_USAGE))
		return ofs_cli_fail(dop->rc, &dop->err);
	ofs_err_clear(&err);
	if ((r = ofs_verify_check_report(tg, ntg, on_target_finding, v, total, &err)) != 0)
		return ofs_cli_fail(r, &err);
	return -1;
}

/* The keyed pass: each staging repository on its own, the disks of the set together as one
 * repository location (disks:MNT,MNT…), as dop opened them. Returns 0, or the exit code
 * of a failure (already reported). */
static int
run_deep(struct deep_open *dop, double sample, struct vctx *v)
{
	struct ofs_verify_report rep;
	int rc = 0;

	for (size_t i = 0; i < dop->n && rc == 0; i++) {
		if (dop->rc != 0 && i == dop->failed_at) {
			rc = ofs_cli_fail(dop->rc, &dop->err);
			break;
		}
		memset(&rep, 0, sizeof(rep));
		rep.sample_pct = sample < 100 ? sample : 0;
		rep.on_finding = on_finding;
		rep.arg = v;
		v->target = dop->locs[i];
		rc = ofs_verify_deep_run(dop->repos[i], &rep);
		dop->repos[i] = NULL;	/* transferred */
	}
	v->target = "";
	return rc;
}

/* The summary line (or JSON object) of ntg targets checked since t0; returns the exit
 * code the findings in v decide. */
/* Each disk's manifest SHA-256 as read (what the job's manifestHash, an export's status
 * and --expect-hash compare with): printed, or as a JSON array. */
static json_t *
disk_hashes(const struct ofs_verify_target *tg, size_t ntg, int json)
{
	json_t *arr = json ? json_array() : NULL;

	for (size_t i = 0; tg != NULL && i < ntg; i++) {
		const struct ofs_verify_target *t = &tg[i];
		const char *serial = t->m != NULL && t->m->has_disk ? t->m->serial : NULL;

		if (!t->is_disk || t->sha[0] == '\0')
			continue;
		if (arr != NULL)
			json_array_append_new(arr, json_pack("{s:s, s:s?, s:I, s:I, s:s}", "target",
			    t->dir, "serial", serial, "disk_index", (json_int_t)(serial ?
			    t->m->disk_index : 0), "disk_count", (json_int_t)(serial ?
			    t->m->disk_count : 0), "manifest_sha256", t->sha));
		else if (serial != NULL)
			ofs_result("disk %u of %u (serial %s) %s: manifest SHA-256 %s\n",
			    t->m->disk_index, t->m->disk_count, serial, t->dir, t->sha);
		else
			ofs_result("disk %s: manifest SHA-256 %s\n", t->dir, t->sha);
	}
	return arr;
}

static int
report(const struct vargs *a, struct vctx *v, const struct ofs_check_stats *total,
    const struct ofs_verify_target *tg, size_t ntg, double t0)
{
	double secs = ofs_mono() - t0, sample = a->sample;
	int rc = v->serious > 0 ? 4 : v->io > 0 ? 1 : v->findings > 0 ? 7 : 0;

	if (ofs_out_is_json()) {
		json_t *kinds = json_object();

		for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
			if (v->names[i] > 0)
				json_object_set_new(kinds, kind_names[i],
				    json_integer((json_int_t)v->names[i]));
		json_t *sum = json_pack("{s:s, s:s, s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:o, s:f, s:f, s:b, s:f, s:o}",
		    "type", "summary", "command", "verify", "ok", rc == 0, "exit_code", rc,
		    "targets", (json_int_t)ntg, "files_listed", (json_int_t)total->files_listed,
		    "files_checked", (json_int_t)total->files_checked,
		    "bytes_listed", (json_int_t)total->bytes_listed,
		    "bytes_checked", (json_int_t)total->bytes_hashed,
		    "regions_checked", (json_int_t)total->regions_checked,
		    "containers_checked", (json_int_t)total->containers_checked,
		    "findings", (json_int_t)v->findings, "by_kind", kinds,
		    "seconds", secs, "bytes_per_second",
		    secs > 0 ? (double)total->bytes_hashed / secs : 0.0,
		    "deep", a->deep, "sample_pct", sample < 100 ? sample : 0.0,
		    "problems", v->list ? v->list : json_array());

		if (sum != NULL && tg != NULL)
			json_object_set_new(sum, "disks", disk_hashes(tg, ntg, 1));
		ofs_emit(sum);
		v->list = NULL;	/* transferred */
	} else {
		char sz[32], rate[32], kinds[512] = "";
		size_t kl = 0;

		ofs_fmt_size(total->bytes_hashed, sz, sizeof(sz));
		ofs_fmt_size(secs > 0 ? (uint64_t)((double)total->bytes_hashed / secs) : 0, rate,
		    sizeof(rate));
		for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
			if (v->names[i] > 0 && kl < sizeof(kinds))
				kl += (size_t)snprintf(kinds + kl, sizeof(kinds) - kl, "%s%llu %s",
				    kl ? ", " : "", (unsigned long long)v->names[i], kind_names[i]);
		disk_hashes(tg, ntg, 0);
		ofs_result("verify: %llu of %llu files, %s checked in %.1f s (%s/s), %llu "
		    "containers: %s%s%s%s\n", (unsigned long long)total->files_checked,
		    (unsigned long long)total->files_listed, sz, secs, rate,
		    (unsigned long long)total->containers_checked,
		    v->findings == 0 ? "no problems" : "", v->findings ? kinds : "",
		    sample > 0 && sample < 100 ? " (sampled)" : "", a->deep ? " (deep)" : "");
	}
	return rc;
}

/* An azure:// target: the blobs imported from the disks of --manifest. */
static int
verify_azure(const struct vargs *a, struct vctx *v, double t0)
{
	struct ofs_check_stats total;
	int rc;

	memset(&total, 0, sizeof(total));
	if (a->ntargets != 1) {
		ofs_error("--manifest goes with exactly one azure://ACCOUNT/CONTAINER[/PREFIX] "
		    "target (folders carry their own manifests)");
		return 2;
	}
	if (a->deep || a->sample > 0 || a->nex > 0) {
		ofs_error("an azure:// target takes none of --deep, --sample, --expect-hash");
		return 2;
	}
	rc = verify_remote(a->targets[0], a->mfs, a->nmfs, a->threads, v, &total);
	if (rc < 0)	/* checked: the common summary */
		rc = report(a, v, &total, NULL, 1, t0);
	return rc;
}

int
cmd_verify(int argc, char **argv, struct ofs_cli *g)
{
	struct vargs a;
	struct ofs_verify_target *tg = NULL;
	struct ofs_check_stats total;
	struct deep_open dop;
	struct vctx v;
	double t0 = ofs_mono();
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&dop, 0, sizeof(dop));
	memset(&total, 0, sizeof(total));
	memset(&v, 0, sizeof(v));
	if ((rc = parse_args(argc, argv, g, &a)) >= 0)
		goto done;
	if (strstr(a.targets[0], "://") != NULL || a.nmfs > 0) {
		rc = verify_azure(&a, &v, t0);
		goto done;
	}
	if ((rc = set_up(&a, &tg, &v)) >= 0 ||
	    (rc = run_keyless(&a, g, tg, a.ntargets, &dop, &v, &total)) >= 0)
		goto done;
	ofs_verify_check_set(tg, a.ntargets, on_target_finding, &v);
	ofs_verify_check_expected(a.ex, a.nex, tg, a.ntargets, on_target_finding, &v);
	if (a.deep && (rc = run_deep(&dop, a.sample, &v)) != 0)
		goto done;
	rc = report(&a, &v, &total, tg, a.ntargets, t0);
done:
	deep_open_free(&dop);
	json_decref(v.list);
	ofs_verify_targets_free(tg, a.ntargets);
	vargs_release(&a);
	return rc;
}
