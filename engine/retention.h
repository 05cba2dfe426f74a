/* Retention: which snapshots a forget policy keeps (restic semantics), and prune (drop the
 * packs and containers no remaining snapshot needs, repack mostly-unused loose packs). */
#ifndef OFS_RETENTION_H
#define OFS_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "repo.h"

struct ofs_keep_policy {
	int last, daily, weekly, monthly, yearly;	/* 0: rule not used */
};

/* s[0..n) sorted by time, oldest first (as ofs_repo_list_snapshots returns them). Sets
 * keep[i] to 1 when some rule keeps s[i]: going from the newest, each rule keeps the newest
 * snapshot of each of its first N distinct periods (UTC day, ISO week, month, year; "last"
 * counts snapshots). Returns the number kept. */
size_t ofs_forget_select(const struct ofs_snapshot *s, size_t n, const struct ofs_keep_policy *p,
    int *keep);

struct ofs_prune_stats {
	uint64_t packs_deleted, packs_repacked, packs_written, blobs_repacked;
	uint64_t bytes_deleted, bytes_written;
	uint64_t containers_deleted, containers_kept;
	uint64_t container_bytes_reclaimable;	/* unused bytes in containers that stay */
	uint64_t index_files_written, index_files_deleted;
	uint64_t blobs_used, blobs_unused;
};

/* Prune an unlocked repository with its index loaded; the caller holds the lock. Marks every
 * blob reachable from the snapshots; deletes loose packs and containers with no used blob;
 * repacks loose packs with < 50 % used bytes into new loose packs; then writes one index
 * file covering every remaining pack and only after that removes the old index files and the
 * dropped packs. Sealed containers are never rewritten. dry_run: compute, change nothing.
 * deleted_containers (may be NULL) receives the names of the deleted containers. */
int ofs_prune_run(struct ofs_repo *r, int dry_run, struct ofs_prune_stats *st,
    json_t *deleted_containers, struct ofs_error *err);
/* What prune marks, for other engines that need "the blobs these snapshots use"
 * (engine/exportplan.c). used holds ids only (refs are zero); r is unlocked with its index
 * loaded.
 *
 * ofs_retention_mark_tree: add tree id, every tree below it and every chunk id (data or
 * patch) their files list to used. A tree already in used is not walked again, so put only
 * fully marked trees in used. A chunk the index lacks → OFS_ERR_CORRUPT "data blob … is
 * not in the index: the repository is damaged; REFUSING (run 'offseed check')"; an
 * unreadable tree → its error wrapped "cannot read tree ID".
 *
 * ofs_retention_mark_patch_bases: add the base ids of every patch blob in used (patches
 * copy from seed chunks the trees do not list). Reads each used patch (a download for a
 * cloud repository). */
int ofs_retention_mark_tree(struct ofs_repo *r, const uint8_t id[OFS_ID_LEN],
    struct ofs_blobtab *used, const char *refusing, struct ofs_error *err);
int ofs_retention_mark_patch_bases(struct ofs_repo *r, struct ofs_blobtab *used,
    struct ofs_error *err);

/* The stats as a JSON object (new reference). */
json_t *ofs_prune_stats_json(const struct ofs_prune_stats *st);

#endif
