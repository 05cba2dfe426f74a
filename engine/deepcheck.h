/* Deep, keyed verification of a repository: every pack's bytes against its index hash, every
 * blob decrypted, authenticated and its id recomputed, every snapshot's trees and chunks
 * reachable; damage is mapped back to the snapshot paths it touches. Used by
 * `verify --deep` and `check`. */
#ifndef OFS_DEEPCHECK_H
#define OFS_DEEPCHECK_H

#include <stdint.h>

#include "log.h"
#include "repo.h"

enum ofs_deep_kind {
	OFS_DEEP_PACK_UNREADABLE = 1,	/* pack could not be read from its location */
	OFS_DEEP_PACK_HASH,		/* pack bytes differ from the index's XXH3-128 */
	OFS_DEEP_PACK_HEADER,		/* pack header does not open or disagrees with the index */
	OFS_DEEP_BLOB,			/* blob fails to decrypt/authenticate or its id differs */
	OFS_DEEP_MISSING,		/* a snapshot references a blob the index does not know */
	OFS_DEEP_TREE,			/* a tree blob does not parse */
	OFS_DEEP_PATH,			/* a snapshot path whose data is damaged */
};

struct ofs_deep_finding {
	int kind;
	const char *object;	/* "containers/<f>.vhd @ 4096", "blob 1a2b…", snapshot id… */
	const char *path;	/* OFS_DEEP_PATH: printable path inside the snapshot */
	const char *detail;
	int io_errno;		/* PACK_UNREADABLE, PATH: only because a read failed (EIO…):
				 * not damage (exit 1, not 4) */
};

typedef void (*ofs_deep_cb)(const struct ofs_deep_finding *f, void *ud);

struct ofs_deep_stats {
	uint64_t packs, blobs, bytes, snapshots, trees, files, findings;
	uint64_t io;	/* of the findings, those with io_errno: reads failed, nothing wrong */
	uint64_t absent;	/* a partial repository (disk set): packs it does not hold that
				 * no snapshot on it needs (not findings) */
};

/* read_data: 0 = structure only (index ↔ snapshots: every referenced blob is indexed);
 * 1 = read and open every blob as well. subset_pct (0 < p ≤ 100) limits the data pass to a
 * deterministic-random share of the packs. Returns 0 with stats (findings counted and
 * reported through cb), or an error that stopped the check. */
int ofs_deep_check(struct ofs_repo *r, int read_data, double subset_pct, struct ofs_progress *pr,
    ofs_deep_cb cb, void *ud, struct ofs_deep_stats *st, struct ofs_error *err);

/* Escape a byte path for display (non-printable bytes as \xHH); returns owned string. */
char *ofs_path_printable(const uint8_t *p, size_t len);

#endif
