/* Keyless verification of a folder against its manifest (staging repo or prepared disk):
 * presence, sizes, XXH3-128 per region and per file, unlisted files, container structure.
 * Shared by `offseed verify` and the datacenter service. Problems are reported as
 * structured findings through a callback. */
#ifndef OFS_CHECK_H
#define OFS_CHECK_H

#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "manifest.h"
#include "log.h"

/* Stable values (they index ofs_check_stats.by_kind). */
enum ofs_finding_kind {
	OFS_FINDING_MISSING = 1,	/* listed file absent */
	OFS_FINDING_SIZE = 2,		/* present with another size (truncated or grown) */
	OFS_FINDING_REGION = 3,		/* one region's XXH3-128 differs */
	OFS_FINDING_HASH = 4,		/* whole-file XXH3-128 differs */
	OFS_FINDING_UNLISTED = 5,	/* file present but not in the manifest */
	OFS_FINDING_STRUCTURE = 6,	/* container (VHD footer, superblock, trailer) or manifest
					 * malformed */
	OFS_FINDING_UNREADABLE = 7,	/* open/read failed, or not a regular file */
	OFS_FINDING_VERSION = 8,	/* container or manifest from a newer format */
	OFS_FINDING_MANIFEST_HASH = 9,	/* manifest SHA-256 differs from the expected one */
	OFS_FINDING_DISK_MISSING = 10,	/* an expected disk (serial) is not among the targets */
	OFS_FINDING_DEEP = 11,		/* --deep: blob/tree/snapshot problem (detail says) */
	OFS_FINDING_FOREIGN_DISK = 12,	/* a target disk of another set (repository/seed set) */
	OFS_FINDING_SET_MISMATCH = 13,	/* disk and set manifests disagree (set manifests
					 * differ, serial/index/count not the set's) */
};
#define OFS_FINDING_NKINDS 14

/* One problem. Pointers are valid only during the callback. */
struct ofs_finding {
	enum ofs_finding_kind kind;
	const char *path;		/* '/'-separated, relative to the root (NULL: none) */
	int64_t region;			/* region index, or -1 */
	int has_range;
	uint64_t start, end;		/* damaged bytes [start, end) when has_range */
	int has_sizes;
	uint64_t expected_size, found_size;
	int has_hashes;
	uint8_t expected[OFS_XXH_LEN], found[OFS_XXH_LEN];
	const char *detail;		/* human detail (structure, unreadable, …) or NULL */
	uint32_t disk_index, disk_count;	/* the set disk concerned (disk findings), or 0 */
	const char *serial;		/* its serial, or NULL */
	int unlisted_scan;		/* about a path the manifest does not list (an unlisted
					 * file, or a folder the scan for them could not read) */
	int io_errno;			/* UNREADABLE because a system call failed (EIO, EACCES,
					 * …): its errno. 0 when the data itself is at fault (a
					 * link, FIFO or device where a file belongs). An I/O
					 * error is not corruption: `verify` exits 1 for it. */
};

/* Stable snake_case name of a finding for reports: "missing", "truncated",
 * "size_mismatch", "region_mismatch", "hash_mismatch", "unlisted", "bad_structure",
 * "unreadable", "version_too_new", "manifest_hash_mismatch", "disk_missing", "deep",
 * "foreign_disk", "set_mismatch". */
const char *ofs_finding_name(const struct ofs_finding *f);

/* Called once per finding, serialized (never concurrently), in a deterministic order:
 * presence and size findings of listed files by path, then their region, hash and
 * structure findings by path, then folders the unlisted scan could not read, then unlisted
 * files by path. */
typedef void (*ofs_finding_fn)(const struct ofs_finding *f, void *arg);

struct ofs_check_opts {
	int threads;			/* hashing threads; 0 = one per CPU */
	double sample_pct;		/* 0 or ≥ 100: every byte; otherwise check about this
					 * percentage of each file's regions (at least one),
					 * skipping whole-file hashes of region-hashed files */
	int no_unlisted;		/* skip the unlisted-file scan */
	int staging;			/* a staging repository, not a disk: the hidden
					 * files a writer works in (containers/.NAME.partial,
					 * NAME.tmp-XXXXXX), which a rerun adopts or removes,
					 * are not unlisted */
	int no_structure;		/* skip the container structure check */
	int refuse_hardlinks;		/* a listed file with more than one hard link is
					 * unreadable (the datacenter: a disk's files are its
					 * own, never links to the host's) */
	struct ofs_progress *progress;	/* may be NULL; bytes and files are added */
	int keep_total;			/* the caller sets the progress totals (several roots
					 * checked at once into one progress) */
	ofs_finding_fn on_finding;	/* may be NULL */
	void *arg;
};

struct ofs_check_stats {
	uint64_t files_listed, files_checked, bytes_listed, bytes_hashed;
	uint64_t regions_checked, containers_checked;
	uint64_t findings;			/* total findings reported */
	uint64_t by_kind[OFS_FINDING_NKINDS];	/* indexed by enum ofs_finding_kind */
	double seconds;
};

/* Check the folder root against manifest m. Every path is resolved beneath root without
 * following a symbolic link (lib/beneath.h); only regular files are opened, and a FIFO,
 * socket, device or link is reported, never opened. Ignored while looking for unlisted files: the
 * manifest itself, offseed-set.json and .offseed-disk-id (prep's disk id file) at the root,
 * and the root folders jobs/ and locks/ (staging-repo bookkeeping). Several roots may be
 * checked at once from different threads (each call is independent). Every *.vhd listed and present with its size is opened with
 * ofs_container_open. Returns 0 when the check ran to the end (st->findings > 0 means
 * problems were found and reported), or OFS_ERR_IO / OFS_ERR_NOTFOUND when root cannot be
 * read at all. st is always filled. */
int ofs_check_root(const char *root, const struct ofs_manifest *m,
    const struct ofs_check_opts *o, struct ofs_check_stats *st, struct ofs_error *err);

/* 1 if the root-relative path is bookkeeping that ofs_check_root never calls unlisted. */
int ofs_check_ignored(const char *relpath);

#endif
