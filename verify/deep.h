/* The keyed half of `offseed verify --deep`: run after the keyless pass on one target
 * (a staging repo folder or a prepared disk). Implemented in verify/cmd_verify_deep.c. */
#ifndef OFS_VERIFY_DEEP_H
#define OFS_VERIFY_DEEP_H

#include <stdint.h>

#include "check.h"
#include "cli.h"

struct ofs_verify_report {
	/* in */
	double sample_pct;		/* --sample: 0 = everything, else share of packs */
	ofs_finding_fn on_finding;	/* problems, as findings (kind OFS_FINDING_DEEP with
					 * path and detail, or a more specific kind) */
	void *arg;
	/* out */
	uint64_t packs_checked, blobs_checked, bytes_checked, snapshots_checked;
	uint64_t problems;		/* findings reported through on_finding */
};

/* Deep-verify target (needs the passphrase via g). Returns 0 when the pass ran to the end
 * (problems, if any, were reported through rep->on_finding and counted in rep->problems);
 * otherwise a process exit code for a failure that has already been reported with
 * ofs_cli_fail (wrong passphrase 5, newer format 7, I/O 1, …). */
int ofs_verify_deep(struct ofs_cli *g, const char *target, struct ofs_verify_report *rep);

/* The two halves of ofs_verify_deep, so the key can be derived while the keyless pass
 * runs: open and unlock target (with its index) into *out (0, or an OFS_ERR_* code with
 * err; nothing reported yet); then run the pass on it, which takes and closes repo and
 * returns as ofs_verify_deep. */
int ofs_verify_deep_open(const struct ofs_cli *g, const char *target, struct ofs_repo **out,
    struct ofs_error *err);
int ofs_verify_deep_run(struct ofs_repo *repo, struct ofs_verify_report *rep);

#endif
