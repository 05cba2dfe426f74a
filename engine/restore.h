/* The restore engine: writes a snapshot tree (or part of it) below a target directory with
 * its metadata, never outside it, fetching and decrypting chunks on a worker pool. Trees
 * and chunks come from a source of callbacks (a repository, or a fake one in tests). */
#ifndef OFS_RESTORE_H
#define OFS_RESTORE_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "tree.h"

/* Where trees and chunks come from. Callbacks are called from several threads at once,
 * each thread with its own ctx from ctx_new (which may return NULL when none is needed). */
struct ofs_restore_src {
	void *ud;
	void *(*ctx_new)(void *ud);
	void (*ctx_free)(void *ud, void *ctx);
	/* Load and decode the tree blob id into *t (ofs_tree_init'ed by the callee). */
	int (*load_tree)(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_tree *t,
	    struct ofs_error *err);
	/* Optional (NULL: load_tree is used): open tree blob id for reading a node at a time
	 * (tree.h), every check done before the first node. */
	int (*open_tree)(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN],
	    struct ofs_tree_reader **out, struct ofs_error *err);
	/* Append the plaintext of data blob id to out. */
	int (*read_blob)(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out,
	    struct ofs_error *err);
	/* Optional (may be NULL): plaintext length of a data blob; 0 if known, else -1. Known
	 * sizes let the chunks of one large file be written in parallel. */
	int (*blob_size)(void *ud, const uint8_t id[OFS_ID_LEN], uint64_t *size);
};

enum ofs_overwrite {
	OFS_OVERWRITE_IF_CHANGED = 0,	/* default: keep files whose size and mtime match */
	OFS_OVERWRITE_NEVER,		/* keep anything that exists */
	OFS_OVERWRITE_ALWAYS,
};

struct ofs_restore_opts {
	const char *target;		/* created (with parents) if missing */
	const char **includes;		/* fnmatch patterns on the snapshot path ("/home/a/x") */
	size_t nincludes;
	const char **excludes;
	size_t nexcludes;
	int overwrite;			/* enum ofs_overwrite */
	int threads;			/* 0: ofs_ncpu() */
	struct ofs_progress *progress;	/* may be NULL */
	FILE *report;			/* TSV "path\treason" of entries not restored (may be NULL) */
};

struct ofs_restore_stats {
	uint64_t files, dirs, symlinks, others, hardlinks, bytes;
	uint64_t unchanged;	/* existing entries kept (--overwrite never / if-changed) */
	uint64_t skipped;	/* entries that could not be created (e.g. devices without root) */
	uint64_t damaged;	/* files or trees whose data is damaged or missing (listed) */
	uint64_t failed;	/* files or trees not restored because a read or a write of the
				 * system failed (EIO…): not damage (listed) */
	char **damaged_paths;	/* owned; the first OFS_RESTORE_MAX_LISTED damaged paths */
	size_t ndamaged_paths;
};

#define OFS_RESTORE_MAX_LISTED 1000

/* Restore the tree `root` below o->target. subpath ("" or "/" for everything, else
 * "/a/b") selects a part: a directory's contents go straight into the target, any other
 * node is created in the target under its own name.
 *
 * Safety: every entry is created with *at() calls below directory descriptors opened with
 * O_DIRECTORY|O_NOFOLLOW from the target down; names failing ofs_name_ok are refused;
 * existing symlinks are replaced, never followed. A file whose chunk cannot be read or
 * does not authenticate is removed (never left half-written), listed in st->damaged_paths
 * and o->report, and the restore goes on.
 *
 * Returns 0; OFS_ERR_CORRUPT when something was damaged; OFS_ERR_IO (err names the first
 * entry, file and errno) when nothing was damaged but reads or writes failed, the rest
 * restored; OFS_ERR_SKIPPED when some entries
 * could not be created; another error (target unusable, subpath not found, ENOSPC) stops
 * the restore. st is filled in every case; release it with ofs_restore_stats_release. */
int ofs_restore_run(const struct ofs_restore_src *src, const uint8_t root[OFS_ID_LEN],
    const char *subpath, const struct ofs_restore_opts *o, struct ofs_restore_stats *st,
    struct ofs_error *err);
void ofs_restore_stats_release(struct ofs_restore_stats *st);

/* Parse "never", "if-changed", "always". Returns the enum value or -1. */
int ofs_restore_parse_overwrite(const char *s);

#endif
