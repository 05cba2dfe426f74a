/* placement: decide, before prep writes anything, which disk each sealed container of a
 * seed set goes on, by capacity (disks on one filesystem share its space), and how much is
 * missing when the set does not fit. */
#ifndef OFS_PLACEMENT_H
#define OFS_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "disk.h"
#include "error.h"
#include "manifest.h"

/* One file of the staging manifest as placement sees it. Every disk gets a copy of the
 * files that are not containers; they count only towards each disk's reserve. */
struct ofs_place_file {
	const struct ofs_manifest_file *mf;	/* its staging-manifest entry (borrowed) */
	char *dst;		/* disk-relative path (owned by the caller, not by placement) */
	const char *name;	/* container: its file name (borrowed) */
	int is_container;
	int disk;		/* container: disk it is placed on, -1 while unplaced */
	int pinned;		/* already on that disk (listed there, or present full size) */
	int present;		/* pinned and its file there has the full size */
};

/* A disk of the set, in disk order. */
struct ofs_place_disk {
	const char *mnt;			/* mount point (borrowed) */
	const struct ofs_manifest *old;		/* its manifest of this set, or NULL (borrowed) */
	struct ofs_disk_space sp;
	size_t pool;		/* first disk on the same filesystem (itself if none before) */
};

struct ofs_place_opts {
	const char *seed_set;	/* named in messages */
	int direct;		/* stage --disk wrote the containers: each must be on a disk */
	int repair;		/* prep --repair: each container must be on a disk already */
};

/* On OFS_ERR_NOSPACE: what is missing. */
struct ofs_place_need {
	uint64_t bytes;		/* rounded bytes that do not fit */
	uint64_t disks;		/* disks of the smallest given size to add (0: adding cannot help) */
};

/* Place the containers among files[] (pointers: the caller's records may hold more) on
 * disks[] (ndisks > 0). A container stays on the disk
 * whose old manifest lists it (unless o->direct), else on a disk holding it at full size
 * (pinned; present if whole there); the rest go largest first to the pool with the most
 * room, then to the pool's disk with the fewest container bytes. Room is free space plus
 * our own files there that will be replaced, minus a reserve for the metadata copy and
 * the manifests. Reads the disks (stat, directory walks), writes nothing. Sets disk,
 * pinned and present of every container; need may be NULL. Errors: OFS_ERR_USAGE (o->direct
 * or o->repair and a container is on none of the disks), OFS_ERR_NOSPACE (the set does not
 * fit: *need says by how much). */
int ofs_place_plan(struct ofs_place_file *const *files, size_t nfiles,
    const struct ofs_place_disk *disks, size_t ndisks, const struct ofs_place_opts *o,
    struct ofs_place_need *need, struct ofs_error *err);

#endif
