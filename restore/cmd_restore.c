/* offseed restore: SNAP[:PATH] into --target with metadata (restore.c does the work; this
 * file parses options, unlocks the repository before touching the target, and reports). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "cli.h"
#include "render.h"
#include "restore.h"
#include "util.h"

static const char usage[] =
    "usage: offseed restore SNAP[:PATH] --target DIR [--include PAT]... [--exclude PAT]...\n"
    "                       [--overwrite never|if-changed|always] [-j N]\n"
    "\n"
    "Restore a snapshot (SNAP: an id prefix or 'latest'), or the file or folder PATH in it,\n"
    "below DIR with owner (when root), mode, times, symlinks, hard links, xattrs, sparse\n"
    "files, FIFOs and device nodes. A folder's contents go straight into DIR. Nothing is\n"
    "written outside DIR.\n"
    "\n"
    "  --target DIR        where to restore (created if missing)\n"
    "  --include PAT       restore only paths matching PAT (and everything below them)\n"
    "  --exclude PAT       leave out paths matching PAT; patterns are fnmatch(3) on the\n"
    "                      snapshot path ('/home/a/*.log'), or on the name when PAT has no '/'\n"
    "  --overwrite MODE    existing entries: never (keep), if-changed (default: keep files\n"
    "                      whose size and mtime match), always\n"
    "  -j, --threads N     workers fetching and decrypting chunks (default: CPUs; 8 for\n"
    "                      azure://)\n"
    "\n"
    "Files whose data is damaged or fails authentication are removed, listed, and the\n"
    "restore goes on; the exit code is then 4. Files not restored because a read or write\n"
    "failed (an I/O error, not damage) are listed the same way; exit 1. Entries that cannot\n"
    "be created (e.g. device nodes without root) give exit 3. The list is in\n"
    "STATE/logs/restore-TIME-skipped.tsv.\n";

/* ---- the repository as a restore source ---- */

static void *
repo_ctx_new(void *ud)
{
	struct ofs_repo *r = ud;

	return ofs_blob_ctx_new(&r->keys, r->cfg.zstd_level);
}

static void
repo_ctx_free(void *ud, void *ctx)
{
	(void)ud;
	ofs_blob_ctx_free(ctx);
}

static int
repo_load_tree(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_tree *t,
    struct ofs_error *err)
{
	return ofs_repo_load_tree(ud, ctx, id, t, err);
}

static int
repo_open_tree(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_tree_reader **out,
    struct ofs_error *err)
{
	return ofs_repo_open_tree(ud, ctx, id, out, err);
}

static int
repo_read_blob(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out,
    struct ofs_error *err)
{
	return ofs_repo_read_blob(ud, ctx, id, out, err);
}

static int
repo_blob_size(void *ud, const uint8_t id[OFS_ID_LEN], uint64_t *size)
{
	struct ofs_repo *r = ud;
	struct ofs_blob_ref ref;

	if (r->idx == NULL || !ofs_blobtab_lookup(r->idx, id, &ref) ||
	    (ref.type != OFS_BLOB_DATA && ref.type != OFS_BLOB_PATCH))
		return -1;
	*size = ref.raw_len;
	return 0;
}

/* Printable form of a path for the summary (bytes that are not UTF-8 become \xNN). */
static char *
display(const char *p)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	uint8_t *out;
	size_t n;

	if (ofs_text_utf8_ok((const uint8_t *)p, strlen(p)))
		return ofs_xstrdup(p);
	for (; *p; p++) {
		if ((uint8_t)*p < 0x80)
			ofs_buf_putc(&b, (uint8_t)*p);
		else
			ofs_buf_putf(&b, "\\x%02x", (uint8_t)*p);
	}
	ofs_buf_putc(&b, 0);
	if (ofs_buf_check(&b) != 0)
		abort();	/* unbounded buffer: only past SIZE_MAX, like running out of memory */
	out = ofs_buf_detach(&b, &n);
	return (char *)out;
}

int
cmd_restore(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "overwrite", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_restore_opts o;
	struct ofs_restore_stats st;
	struct ofs_restore_src src;
	struct ofs_error err = { 0 };
	struct ofs_snapshot snap;
	struct ofs_progress pr;
	struct ofs_repo *repo = NULL;
	const char **inc = NULL, **exc = NULL;
	char *spec = NULL, *sub = NULL, *colon, *logdir = NULL, *skpath = NULL;
	char idhex[2 * OFS_ID_LEN + 1], when[64];
	FILE *sk = NULL;
	size_t ninc = 0, nexc = 0;
	int c, rc = 0, have_snap = 0, progress = 0;
	double t0;
	json_t *dl;

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	memset(&snap, 0, sizeof(snap));
	o.overwrite = OFS_OVERWRITE_IF_CHANGED;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.target = optarg; break;
		case 'i':
			inc = ofs_xreallocarray((void *)inc, ninc + 1, sizeof(char *));
			inc[ninc++] = optarg;
			break;
		case 'e':
			exc = ofs_xreallocarray((void *)exc, nexc + 1, sizeof(char *));
			exc[nexc++] = optarg;
			break;
		case 'o':
			if ((o.overwrite = ofs_restore_parse_overwrite(optarg)) < 0) {
				ofs_error("invalid --overwrite '%s' (never, if-changed or always)",
				    optarg);
				rc = 2;
				goto done;
			}
			break;
		case 'j':
			if (ofs_cli_threads(optarg, &o.threads) != 0)
				return 2;
			break;
		case 'h': rc = ofs_cli_usage(usage, 1); goto done;
		default: rc = ofs_cli_usage(usage, 0); goto done;
		}
	}
	if (optind + 1 != argc) {
		ofs_error(optind >= argc ? "no snapshot given" : "too many arguments");
		rc = ofs_cli_usage(usage, 0);
		goto done;
	}
	if (o.target == NULL || *o.target == '\0') {
		ofs_error("no --target given");
		rc = ofs_cli_usage(usage, 0);
		goto done;
	}
	spec = ofs_xstrdup(argv[optind]);
	if ((colon = strchr(spec, ':')) != NULL) {
		*colon = '\0';
		sub = colon + 1;
	}
	o.includes = inc;
	o.nincludes = ninc;
	o.excludes = exc;
	o.nexcludes = nexc;

	/* unlock (exit 5 on a wrong passphrase) before anything touches the target */
	if ((rc = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_find_snapshot(repo, spec, &snap, &err)) != 0)
		goto out;
	have_snap = 1;
	ofs_hex(snap.id, OFS_ID_LEN, idhex);

	logdir = ofs_path_join(repo->state_dir, "logs");
	if ((rc = ofs_mkdir_p(logdir, 0700, &err)) != 0)
		goto out;
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	skpath = ofs_xasprintf("%s/restore-%s-skipped.tsv", logdir, when);
	if ((sk = fopen(skpath, "w")) == NULL) {
		rc = ofs_err_sys(&err, OFS_ERR_IO, errno, "cannot create '%s'", skpath);
		goto out;
	}
	fputs("path\treason\n", sk);
	o.report = sk;

	src.ud = repo;
	src.ctx_new = repo_ctx_new;
	src.ctx_free = repo_ctx_free;
	src.load_tree = repo_load_tree;
	src.open_tree = repo_open_tree;
	src.read_blob = repo_read_blob;
	src.blob_size = repo_blob_size;
	ofs_progress_start(&pr, "restore", sub == NULL || *sub == '\0' || strcmp(sub, "/") == 0 ?
	    snap.bytes : 0, sub == NULL ? snap.files : 0);
	progress = 1;
	o.progress = &pr;
	t0 = ofs_mono();
	/* a cloud restore waits on the network: more requests in flight than CPUs */
	if (o.threads <= 0 && repo->rcache != NULL)
		o.threads = 8;
	rc = ofs_restore_run(&src, snap.tree, sub, &o, &st, &err);
	ofs_progress_end(&pr);
	progress = 0;
	fclose(sk);
	sk = NULL;
	if (st.skipped + st.damaged + st.failed == 0)
		unlink(skpath);
	if (rc != 0 && rc != OFS_ERR_SKIPPED && rc != OFS_ERR_CORRUPT &&
	    !(rc == OFS_ERR_IO && st.failed > 0))
		goto out;

	ofs_result("restored snapshot %.8s%s%s to '%s': %llu files, %llu dirs, %llu symlinks, "
	    "%llu other, %llu hard links, %llu bytes, %llu unchanged in %.1fs\n", idhex,
	    sub ? ":" : "", sub ? sub : "", o.target, (unsigned long long)st.files,
	    (unsigned long long)st.dirs, (unsigned long long)st.symlinks,
	    (unsigned long long)st.others, (unsigned long long)st.hardlinks,
	    (unsigned long long)st.bytes, (unsigned long long)st.unchanged, ofs_mono() - t0);
	dl = json_array();
	for (size_t i = 0; i < st.ndamaged_paths; i++) {
		char *d = display(st.damaged_paths[i]);
		json_array_append_new(dl, json_string(d));
		free(d);
	}
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:o, s:f, s:s?}", "type", "summary", "command", "restore", "snapshot", idhex, "target",
	    o.target, "files", (json_int_t)st.files, "dirs", (json_int_t)st.dirs, "symlinks",
	    (json_int_t)st.symlinks, "other", (json_int_t)st.others, "hardlinks",
	    (json_int_t)st.hardlinks, "bytes", (json_int_t)st.bytes, "unchanged",
	    (json_int_t)st.unchanged, "skipped", (json_int_t)st.skipped, "damaged",
	    (json_int_t)st.damaged, "failed", (json_int_t)st.failed, "damaged_paths", dl,
	    "seconds", ofs_mono() - t0, "skipped_list", st.skipped + st.damaged + st.failed > 0 ?
	    skpath : NULL));
	if (rc != 0) {
		ofs_error("%s; the list is in '%s'", err.msg, skpath);
		rc = ofs_exit_code(rc);
		goto done;
	}
out:
	rc = ofs_cli_fail(rc, &err);
done:
	if (progress)
		ofs_progress_end(&pr);
	if (sk != NULL)
		fclose(sk);
	if (have_snap)
		ofs_snapshot_release(&snap);
	ofs_restore_stats_release(&st);
	ofs_repo_close(repo);
	free(logdir);
	free(skpath);
	free(spec);
	free(inc);
	free(exc);
	return rc;
}
