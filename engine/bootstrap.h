/* Backups to the cloud while the disks travel (SPEC §10): the cloud location receives the
 * staging repository's metadata before the first backup. */
#ifndef OFS_BOOTSTRAP_H
#define OFS_BOOTSTRAP_H

#include "error.h"
#include "repo.h"

/* Remember in r's state dir where this (local) staging repository lives, so a backup to
 * its destination can find it. Best effort. */
void ofs_bootstrap_note_staging(struct ofs_repo *r);

/* Before a backup to loc: when loc is azure:// and holds no config yet, copy config, keys/,
 * index/, snapshots/ and data/ (never containers/) from the staging repository seed_from,
 * or when NULL from the one a stage on this machine noted for destination loc. 0 when loc
 * already is a repository (nothing copied) or was filled; OFS_ERR_USAGE when no staging
 * repository for loc is known or seed_from has another destination; else the error of
 * the failed read or upload (a rerun starts over: config is copied last). */
int ofs_bootstrap_cloud(const char *loc, const char *state, const char *seed_from,
    struct ofs_error *err);

#endif
