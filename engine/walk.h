/* Source tree walk for stage/backup: a single-threaded iterator over the SRC paths that
 * yields directory enter/leave events and entries with their full metadata (struct
 * ofs_node without content). File data is read by the caller, not here. */
#ifndef OFS_WALK_H
#define OFS_WALK_H

#include <stdio.h>
#include <sys/stat.h>

#include "error.h"
#include "tree.h"

enum ofs_walk_ev {
	OFS_WALK_END = 0,	/* no more events */
	OFS_WALK_DIR_ENTER,	/* node is the directory; its entries follow, then DIR_LEAVE */
	OFS_WALK_DIR_LEAVE,
	OFS_WALK_ENTRY,		/* a non-directory: file, symlink, fifo, device, socket */
	OFS_WALK_SKIP,		/* an entry that could not be read: path + reason, already
				 * recorded in the skipped list; the walk goes on */
};

struct ofs_walk_opts {
	const char **excludes;		/* fnmatch(3) patterns: without '/' matched against the
					 * name; with '/' against the path relative to the SRC
					 * and the absolute path (FNM_PATHNAME; a leading '/'
					 * anchors to the absolute path); a trailing '/' matches
					 * directories only. Excluded directories are not entered. */
	size_t nexcludes;
	int one_file_system;
	FILE *skipped;			/* TSV "path\treason\n" of skipped entries (may be NULL) */
	int sizes_only;			/* stat only: no owner names, symlink targets, xattrs
					 * or extents (a count of what a run will read) */
	int xattrs_later;		/* regular files that are not empty come without
					 * xattrs: the caller reads them (ofs_walk_xattrs or,
					 * cheaper once it has the file open, _fd) */
};

struct ofs_walk_item {
	int ev;
	struct ofs_node node;	/* metadata; owned by the walker until the next call. For
				 * DIR_ENTER of a source root's parent components (the
				 * absolute path of each SRC is kept, as /home/x/data →
				 * home, x, data), node describes that directory. */
	const char *path;	/* absolute path for open(), valid until the next call */
	const char *reason;	/* OFS_WALK_SKIP */
	struct stat st;
	struct ofs_walk *walker_;	/* private: set by ofs_walk_next */
};

struct ofs_walk;
/* Add the extended attributes of path (not following a symlink; w lends its buffer) or of
 * the open file fd (*xl, *xlcap: the caller's buffer for the name list, grown as needed,
 * free it when done) to n; unreadable ones are left out, as the walk does. */
void ofs_walk_xattrs(struct ofs_walk *w, const char *path, struct ofs_node *n);
void ofs_walk_xattrs_fd(int fd, char **xl, size_t *xlcap, struct ofs_node *n);

/* srcs: the SRC arguments (made absolute; must exist, else OFS_ERR_USAGE naming it). */
int ofs_walk_open(const char **srcs, size_t nsrcs, const struct ofs_walk_opts *o,
    struct ofs_walk **out, struct ofs_error *err);
/* Next event into *it. Returns 0 (check it->ev), or a fatal error. Per-entry failures are
 * OFS_WALK_SKIP events, never errors. Entries of a directory come sorted by name bytes. */
int ofs_walk_next(struct ofs_walk *w, struct ofs_walk_item *it, struct ofs_error *err);
/* Number of entries skipped so far. */
size_t ofs_walk_skipped(const struct ofs_walk *w);
void ofs_walk_free(struct ofs_walk *w);

/* Steal the node out of the item (so the caller keeps it past the next call; release it
 * with ofs_node_release). */
void ofs_walk_take_node(struct ofs_walk_item *it, struct ofs_node *dst);

#endif
