/* offseed check: repository integrity (index ↔ packs ↔ containers ↔ snapshots). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deepcheck.h"
#include "util.h"

static const char usage[] =
    "usage: offseed check --repo LOC [--read-data [--subset PCT]]\n"
    "\n"
    "Check that every snapshot's trees and chunks are in the index. With --read-data, also\n"
    "read every pack (or a deterministic PCT%% of them), check its checksum, decrypt and\n"
    "authenticate every blob and recompute its id. Exit 0 clean, 4 when anything is wrong.\n";

static const char *
kind_name(int k)
{
	switch (k) {
	case OFS_DEEP_PACK_UNREADABLE: return "unreadable";
	case OFS_DEEP_PACK_HASH: return "pack_checksum";
	case OFS_DEEP_PACK_HEADER: return "pack_header";
	case OFS_DEEP_BLOB: return "blob";
	case OFS_DEEP_MISSING: return "missing";
	case OFS_DEEP_TREE: return "tree";
	case OFS_DEEP_PATH: return "damaged_path";
	}
	return "unknown";
}

/* Shared with verify --deep: print one finding (human line or JSON object). */
void ofs_print_deep_finding(const struct ofs_deep_finding *f, void *ud);

void
ofs_print_deep_finding(const struct ofs_deep_finding *f, void *ud)
{
	(void)ud;
	if (ofs_out_is_json()) {
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "type", "finding", "kind",
		    kind_name(f->kind), "object", f->object, "path", f->path, "detail",
		    f->detail));
		return;
	}
	if (f->kind == OFS_DEEP_PATH)
		ofs_result("%s: %s (%s): %s\n", f->io_errno != 0 ? "unreadable" : "damaged",
		    f->path, f->object, f->detail);
	else
		ofs_result("%s: %s: %s\n", kind_name(f->kind), f->object,
		    f->detail ? f->detail : "");
}

int
cmd_check(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, NULL, 'd' },
		{ "subset", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_deep_stats st = { 0 };
	struct ofs_progress pr;
	int c, rc, read_data = 0;
	double subset = 100.0;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': read_data = 1; break;
		case 's':
			subset = strtod(optarg, &end);
			if (*end == '%')
				end++;
			if (*end != '\0' || subset <= 0 || subset > 100) {
				ofs_error("invalid --subset '%s' (a percentage, 0 < PCT <= 100)",
				    optarg);
				return 2;
			}
			break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind != argc)
		return ofs_cli_usage(usage, 0);
	if ((rc = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	ofs_progress_start(&pr, "check", 0, 0);
	rc = ofs_deep_check(repo, read_data, subset, &pr, ofs_print_deep_finding, NULL, &st, &err);
	ofs_progress_end(&pr);
	if (rc != 0)
		goto out;
	ofs_result("%llu snapshots, %llu trees, %llu files checked; %llu packs, %llu blobs, "
	    "%llu bytes read; %llu problems\n", (unsigned long long)st.snapshots,
	    (unsigned long long)st.trees, (unsigned long long)st.files,
	    (unsigned long long)st.packs, (unsigned long long)st.blobs,
	    (unsigned long long)st.bytes, (unsigned long long)st.findings);
	if (st.absent > 0)
		ofs_result("%llu packs the index lists are not on this disk set; no snapshot on it "
		    "needs them\n", (unsigned long long)st.absent);
	ofs_emit(json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "type",
	    "summary", "command", "check", "ok", st.findings == 0, "snapshots",
	    (json_int_t)st.snapshots, "trees", (json_int_t)st.trees, "files",
	    (json_int_t)st.files, "packs", (json_int_t)st.packs, "blobs", (json_int_t)st.blobs,
	    "bytes", (json_int_t)st.bytes, "problems", (json_int_t)st.findings,
	    "packs_not_on_set", (json_int_t)st.absent));
	/* damage decides; reads that failed (EIO…) alone are an I/O error, not damage */
	if (st.findings > st.io)
		rc = OFS_ERR_CORRUPT;
	else if (st.io > 0)
		rc = OFS_ERR_IO;
	ofs_err_set(&err, rc, "check found %llu problems", (unsigned long long)st.findings);
	if (rc == OFS_ERR_IO)
		ofs_err_set(&err, rc, "check could not read everything: %llu %s not checked "
		    "because reads failed (see above)", (unsigned long long)st.io,
		    st.io == 1 ? "object was" : "objects were");
out:
	ofs_repo_close(repo);
	if (rc == OFS_ERR_CORRUPT && st.findings > 0) {
		ofs_error("check found %llu problems", (unsigned long long)st.findings);
		return 4;
	}
	return ofs_cli_fail(rc, &err);
}
