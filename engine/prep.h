/* prep: place the sealed containers of a staging repository on a set of disks by capacity,
 * copy them (and the repository metadata, to every disk) with a read-back check, and write
 * the per-disk manifests, the set manifest and the import job draft. */
#ifndef OFS_PREP_H
#define OFS_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "log.h"
#include "repo.h"

#define OFS_PREP_IO_SIZE (8u << 20)
#define OFS_PREP_JOURNAL "prep.journal"

struct ofs_prep_opts {
	const char *job;		/* job name (ofs_job_name_ok) */
	const char **mnts;		/* disk mount points, in disk order */
	const char **serials;		/* per disk: --serial override or NULL */
	size_t ndisks;
	int repair;			/* re-hash disk files, re-copy only the failing ones */
	size_t io_size;			/* bytes per read/write (0: OFS_PREP_IO_SIZE) */
	uint64_t limit_rate;		/* bytes per second per disk, 0 = unlimited */
	/* Finalize disks `stage --disk` wrote (borrowed, NULL for a normal prep): the staging
	 * manifest built by stage; its containers/X entries are already whole on the disks
	 * (hashed while sealed: not read again), the other files are copied from the staging
	 * folder. job may then be NULL: no job draft, the manifests name "seed-<set prefix>". */
	const struct ofs_manifest *staging;
};

struct ofs_prep_disk_result {
	char *mnt, *serial;		/* owned */
	const char *serial_source;	/* "hardware", "option", "id-file" */
	uint32_t index;
	uint64_t bytes, files, containers;	/* what its manifest lists */
	uint64_t bytes_copied, bytes_skipped, files_copied, files_skipped, files_repaired;
	char manifest_sha256[65];
};

struct ofs_prep_result {
	struct ofs_prep_disk_result *disks;	/* owned, ndisks entries */
	size_t ndisks;
	char seed_set[33];
	uint64_t bytes_total;		/* bytes of every file on every disk */
	uint64_t bytes_copied;		/* written (and read back) in this run */
	uint64_t bytes_skipped;		/* already on a disk and verified (journal or re-hash) */
	uint64_t bytes_rehashed;	/* read from disks to re-verify files not written now */
	uint64_t files_copied, files_skipped, files_repaired;
	char *job_path;			/* owned */
	uint64_t need_bytes;		/* on OFS_ERR_NOSPACE: bytes that do not fit */
	uint64_t need_disks;		/* … and disks of the smallest size to add (0: unknown) */
	double seconds;
};

/* Run prep on the (opened, not necessarily unlocked) staging repository: checks the
 * destination, the staging manifest and the disks; decides the whole placement before
 * writing anything (OFS_ERR_NOSPACE with need_bytes/need_disks when the set cannot hold the
 * data; nothing is written then); copies with one writer thread per disk; writes manifests,
 * the set manifest and STAGING/jobs/JOB.json. A rerun skips files already verified on a disk
 * (recorded in STATE/prep.journal, or re-hashed) and removes, naming each, the temporary
 * files a killed run left on the disks and in STAGING/jobs/ (and a torn journal line). Errors: OFS_ERR_USAGE (no destination,
 * bad disks, duplicate serials, disk of another set), OFS_ERR_CORRUPT (staging file not
 * matching its manifest, read-back mismatch), OFS_ERR_NOSPACE, OFS_ERR_IO. pr may be NULL.
 * res is filled as far as the run got; release it with ofs_prep_result_release. */
int ofs_prep_run(struct ofs_repo *repo, const struct ofs_prep_opts *o, struct ofs_progress *pr,
    struct ofs_prep_result *res, struct ofs_error *err);
void ofs_prep_result_release(struct ofs_prep_result *res);

#endif
