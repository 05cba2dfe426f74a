/* The write path shared by stage and backup: walk → read → chunk → id → dedup →
 * compress → encrypt → pack → container, in parallel with ordered output, checkpoints and
 * resume. */
#ifndef OFS_STAGE_H
#define OFS_STAGE_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "manifest.h"
#include "log.h"
#include "ratelimit.h"
#include "repo.h"
#include "walk.h"

struct ofs_stage_opts {
	const char **srcs;
	size_t nsrcs;
	struct ofs_walk_opts walk;
	const char **tags;
	size_t ntags;
	uint64_t container_size;
	uint64_t checkpoint_bytes;	/* default 1 GiB */
	double checkpoint_seconds;	/* default 60 */
	int threads;			/* 0 = number of CPUs */
	const char *skipped_path;	/* where the skipped-entries TSV is written */
	int loose;			/* backup: loose packs in data/ instead of containers */
	struct ofs_ratelimit *limit;	/* paces every put of the run (--limit-upload); NULL:
					 * none. Not owned. */
	int uploads;			/* loose packs stored in parallel; 0 = default (4) */
	/* stage straight onto disks (ndisks > 0): containers are written to
	 * DISK/<page_base>/containers/, filling the disks in order; the staging folder keeps the
	 * metadata only. disk_serials[i] identifies disk i in the journal. */
	const char **disks;
	const char **disk_serials;
	size_t ndisks;
	int keep_journal;	/* leave the journal after success: the caller removes it with
				 * ofs_stage_journal_remove once its own last step is done
				 * (stage --disk: the disk manifests), so a crash before that
				 * resumes the same seed set */
	const char *page_base;		/* "PageBlob/CONTAINER[/PREFIX]" */
};

struct ofs_stage_result {
	uint8_t snapshot_id[OFS_ID_LEN];
	uint8_t set_id[16];
	uint64_t files, dirs, bytes_read, bytes_new, bytes_stored, bytes_reused;
	uint64_t blobs_new, blobs_dup, packs, containers;
	uint64_t skipped, changed;
	uint64_t patches;		/* new chunks stored as patches of seed chunks */
	uint64_t bytes_done;		/* source bytes of the files completed (and durable) */
	int resumed;
	double seconds;
	struct ofs_manifest *sealed;	/* hashes of the containers sealed by this run (owned
					 * by the caller: create it before, free it after) */
};

/* Change detection: the catalog of the last completed run (STATE/<repo>/catalog) lists each
 * file's size, times, inode and chunks; a file that matches is not read again. */

/* Smallest container stage opens on a disk (and so the least usable room a disk must have),
 * for containers of at most container_size. */
uint64_t ofs_stage_disk_min(uint64_t container_size);

/* Run a stage into the repository's containers/ (or onto o->disks). r must be unlocked with its index loaded.
 * Returns 0, OFS_ERR_SKIPPED when entries were skipped or changed while read (the snapshot
 * is complete otherwise), or an error (the last checkpoint stays for a resume). With disks,
 * OFS_ERR_NOSPACE when no disk has room for another container (after a checkpoint). On a
 * resume, res->sealed also receives the containers sealed by the interrupted runs (from
 * the journal). */
int ofs_stage_run(struct ofs_repo *r, const struct ofs_stage_opts *o, struct ofs_progress *pr,
    struct ofs_stage_result *res, struct ofs_error *err);

/* A local staging repository's offseed-manifest.json, rewritten after a command that adds
 * or removes files (forget, prune, key): the containers' hashes are reused, the rest is
 * read. No manifest (a cloud repository, or none yet): nothing to do. */
int ofs_staging_manifest_refresh(struct ofs_repo *r, struct ofs_error *err);

/* Remove the journal of a run made with keep_journal (loose: a backup's). */
void ofs_stage_journal_remove(struct ofs_repo *r, int loose);

#endif
