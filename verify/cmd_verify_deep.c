/* The keyed half of `offseed verify --deep`: open the target as a repository with the
 * passphrase and run the deep check, reporting blob damage and the snapshot paths it
 * touches as verify findings. */
#include <stdio.h>
#include <string.h>

#include "deep.h"
#include "deepcheck.h"
#include "error.h"
#include "util.h"

struct bridge {
	struct ofs_verify_report *rep;
};

static void
to_finding(const struct ofs_deep_finding *d, void *ud)
{
	struct bridge *b = ud;
	struct ofs_finding f;
	char *detail;

	memset(&f, 0, sizeof(f));
	f.kind = OFS_FINDING_DEEP;
	f.region = -1;
	f.io_errno = d->io_errno;	/* a read failed: not damage */
	if (d->kind == OFS_DEEP_PATH) {
		f.path = d->path;
		detail = ofs_xasprintf("snapshot path %s: %s (%s)", d->io_errno != 0 ?
		    "not checked" : "damaged", d->detail ? d->detail : "", d->object);
	} else {
		detail = ofs_xasprintf("%s: %s", d->object, d->detail ? d->detail : "damaged");
	}
	f.detail = detail;
	b->rep->problems++;
	if (b->rep->on_finding != NULL)
		b->rep->on_finding(&f, b->rep->arg);
	free(detail);
}

int
ofs_verify_deep_open(const struct ofs_cli *g, const char *target, struct ofs_repo **out,
    struct ofs_error *err)
{
	struct ofs_cli local = *g;

	/* The staging folder is the repository unless --repo names another location. */
	if (local.repo == NULL)
		local.repo = target;
	return ofs_cli_open_repo(&local, 1, 1, out, err);
}

int
ofs_verify_deep(struct ofs_cli *g, const char *target, struct ofs_verify_report *rep)
{
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	int rc;

	if ((rc = ofs_verify_deep_open(g, target, &repo, &err)) != 0)
		return ofs_cli_fail(rc, &err);
	return ofs_verify_deep_run(repo, rep);
}

int
ofs_verify_deep_run(struct ofs_repo *repo, struct ofs_verify_report *rep)
{
	struct ofs_error err = { 0 };
	struct ofs_deep_stats st;
	struct ofs_progress pr;
	struct bridge b = { rep };
	int rc;

	ofs_progress_start(&pr, "verify --deep", 0, 0);
	rc = ofs_deep_check(repo, 1, rep->sample_pct > 0 ? rep->sample_pct : 100.0, &pr,
	    to_finding, &b, &st, &err);
	ofs_progress_end(&pr);
	rep->packs_checked += st.packs;
	rep->blobs_checked += st.blobs;
	rep->bytes_checked += st.bytes;
	rep->snapshots_checked += st.snapshots;
	if (st.absent > 0)
		ofs_info("%llu packs the index lists are not on this disk set; no snapshot on it "
		    "needs them", (unsigned long long)st.absent);
	ofs_repo_close(repo);
	return rc == 0 ? 0 : ofs_cli_fail(rc, &err);
}
