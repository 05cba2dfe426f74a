/* offseed verify: check staging repos or prepared disks against their manifests without the
 * passphrase (lib/check.c), optionally compare manifest SHA-256s with the job's, and with
 * --deep hand over to the keyed pass (verify/deep.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "check.h"
#include "cli.h"
#include "deep.h"
#include "manifest.h"
#include "out.h"
#include "util.h"

static const char usage[] =
    "usage: offseed verify [--deep] [--sample PCT] [--expect-hash SERIAL=SHA256]... [--json]\n"
    "                      [--threads N] TARGET...\n"
    "\n"
    "Check staging repositories or prepared disks (folders with offseed-manifest.json at\n"
    "their root) against their manifests, without the passphrase: every listed file present\n"
    "with its size, XXH3-128 of every region and file, no unlisted files, and the structure\n"
    "of every container (VHD footer, superblock, trailer).\n"
    "\n"
    "  --deep                   also decrypt and authenticate every blob (needs the passphrase)\n"
    "  --sample PCT             check about PCT percent of each file's regions (0 < PCT < 100)\n"
    "  --expect-hash S=SHA256   the manifest of the disk with serial S must have this SHA-256\n"
    "                           (S '-' or any serial: a target whose manifest has no disk)\n"
    "  --threads N              hashing threads (default: one per CPU)\n"
    "  --json                   JSON Lines: one finding object per problem, then a summary\n"
    "\n"
    "Exit: 0 clean, 4 anything missing, corrupt or unlisted, 7 newer format, 1 I/O failure,\n"
    "2 usage.\n";

struct expect {
	char *serial;
	char sha[65];
	int matched;
};

struct target {
	const char *arg;	/* as given */
	const char *dir;	/* without a file: prefix */
	struct ofs_manifest *m;
	char sha[65];		/* manifest SHA-256, "" when unreadable */
};

struct vctx {
	const char *target;
	int multi;		/* several targets: prefix paths with the target */
	uint64_t findings, serious;	/* serious: anything but version findings */
	uint64_t by_kind[OFS_FINDING_NKINDS];
	uint64_t names[16];
	json_t *list;		/* --json: findings, carried in the one summary object */
};

static const char *const kind_names[] = { "missing", "truncated", "size_mismatch",
	"region_mismatch", "hash_mismatch", "unlisted", "bad_structure", "unreadable",
	"version_too_new", "manifest_hash_mismatch", "disk_missing", "deep" };

static void
on_finding(const struct ofs_finding *f, void *arg)
{
	struct vctx *v = arg;
	const char *name = ofs_finding_name(f);
	char *shown = NULL, eh[33], fh[33];
	json_t *o;

	v->findings++;
	if (f->kind != OFS_FINDING_VERSION)
		v->serious++;
	if (f->kind > 0 && f->kind < OFS_FINDING_NKINDS)
		v->by_kind[f->kind]++;
	for (size_t i = 0; i < OFS_ARRAY_LEN(kind_names); i++)
		if (strcmp(kind_names[i], name) == 0)
			v->names[i]++;
	if (f->path != NULL)
		shown = v->multi ? ofs_path_join(v->target, f->path) : ofs_xstrdup(f->path);
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
		ofs_result("disk missing: %s\n", f->detail ? f->detail : "");
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
			simple_finding(v, r == OFS_ERR_CORRUPT ? OFS_FINDING_STRUCTURE :
			    OFS_FINDING_UNREADABLE, OFS_MANIFEST_NAME, e.msg);
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

int
cmd_verify(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "deep", no_argument, NULL, 'd' },
		{ "sample", required_argument, NULL, 's' },
		{ "expect-hash", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct expect *ex = NULL;
	struct target *tg = NULL;
	struct ofs_check_stats total, st;
	struct ofs_error err;
	struct vctx v;
	size_t nex = 0, ntg = 0;
	double sample = 0, t0 = ofs_mono(), secs;
	int deep = 0, threads = 0, c, rc = 0, r;
	char *end;

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
			threads = atoi(optarg);
			if (threads < 1 || threads > 64) {
				ofs_error("--threads needs a number from 1 to 64, not '%s'", optarg);
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
	ntg = (size_t)(argc - optind);
	tg = ofs_xcalloc(ntg, sizeof(*tg));
	v.multi = ntg > 1;
	for (size_t i = 0; i < ntg; i++) {
		const char *a = argv[optind + (int)i];

		tg[i].arg = a;
		tg[i].dir = strncmp(a, "file:", 5) == 0 ? a + 5 : a;
		if (strstr(a, "://") != NULL) {
			ofs_err_set(&err, OFS_ERR_USAGE, "cannot verify '%s': only folders (staging "
			    "repositories and disks) are supported yet", a);
			rc = ofs_cli_fail(OFS_ERR_USAGE, &err);
			goto done;
		}
	}

	for (size_t i = 0; i < ntg; i++) {
		struct ofs_check_opts o;
		struct ofs_progress pr;

		v.target = tg[i].dir;
		if ((r = load_target(&tg[i], &v, &err)) != 0) {
			rc = ofs_cli_fail(r, &err);
			goto done;
		}
		if (tg[i].m == NULL)
			continue;
		memset(&o, 0, sizeof(o));
		o.threads = threads;
		o.sample_pct = sample < 100 ? sample : 0;
		o.on_finding = on_finding;
		o.arg = &v;
		o.progress = &pr;
		ofs_progress_start(&pr, "verify", 0, tg[i].m->nfiles);
		r = ofs_check_root(tg[i].dir, tg[i].m, &o, &st, &err);
		ofs_progress_end(&pr);
		if (r != 0) {
			rc = ofs_cli_fail(r, &err);
			goto done;
		}
		total.files_listed += st.files_listed;
		total.files_checked += st.files_checked;
		total.bytes_listed += st.bytes_listed;
		total.bytes_hashed += st.bytes_hashed;
		total.regions_checked += st.regions_checked;
		total.containers_checked += st.containers_checked;
		if (deep) {
			struct ofs_verify_report rep;

			memset(&rep, 0, sizeof(rep));
			rep.sample_pct = o.sample_pct;
			rep.on_finding = on_finding;
			rep.arg = &v;
			if ((rc = ofs_verify_deep(g, tg[i].dir, &rep)) != 0)
				goto done;
		}
	}

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

	secs = ofs_mono() - t0;
	rc = v.serious > 0 ? 4 : v.findings > 0 ? 7 : 0;
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
	json_decref(v.list);
	for (size_t i = 0; i < nex; i++)
		free(ex[i].serial);
	free(ex);
	for (size_t i = 0; tg != NULL && i < ntg; i++)
		ofs_manifest_free(tg[i].m);
	free(tg);
	return rc;
}
