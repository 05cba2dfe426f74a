/* The set manifest (offseed-set.json, identical on every disk of a seed set): which disks
 * make up the set, their serials, manifest hashes and containers; and the destination
 * "azure://ACCOUNT/CONTAINER[/PREFIX]" parser shared by prep and the disks backend. */
#ifndef OFS_SETMANIFEST_H
#define OFS_SETMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define OFS_SET_MANIFEST_VERSION 1
#define OFS_SET_MANIFEST_MAX (64u << 20)
#define OFS_SET_MAX_DISKS 4096

struct ofs_set_disk {
	uint32_t index;			/* 1-based, disks[i].index == i + 1 after parse */
	char *serial;			/* owned */
	char manifest_sha256[65];	/* lower-case hex of the disk's offseed-manifest.json */
	uint64_t bytes, files;		/* totals of that disk's manifest */
	char **containers;		/* owned names "<set>-<seq>.vhd" */
	size_t ncontainers;
};

struct ofs_set_manifest {
	uint32_t version;
	char *tool, *created, *repository, *seed_set, *job, *destination;	/* owned */
	struct ofs_set_disk *disks;	/* owned, ndisks entries */
	size_t ndisks;
};

/* Read and parse path (at most OFS_SET_MANIFEST_MAX bytes); *out is owned by the caller.
 * Missing file → OFS_ERR_NOTFOUND; see ofs_set_manifest_parse for the rest. */
int ofs_set_manifest_load(const char *path, struct ofs_set_manifest **out,
    struct ofs_error *err);
/* Parse JSON bytes. Malformed (wrong types, missing fields, bad hex, duplicate serials,
 * indexes not 1..n in order, unsafe container names) → OFS_ERR_CORRUPT naming `what` and
 * the field; a version newer than OFS_SET_MANIFEST_VERSION → OFS_ERR_VERSION naming both. */
int ofs_set_manifest_parse(const uint8_t *p, size_t len, const char *what,
    struct ofs_set_manifest **out, struct ofs_error *err);
/* Serialize with a fixed key order (same manifest → same bytes), newline-terminated. */
int ofs_set_manifest_encode(const struct ofs_set_manifest *m, struct ofs_buf *out,
    struct ofs_error *err);
/* Encode and write atomically (temp, fsync, rename, fsync dir), mode 0644. */
int ofs_set_manifest_write(const struct ofs_set_manifest *m, const char *path,
    struct ofs_error *err);
void ofs_set_manifest_free(struct ofs_set_manifest *m);
/* Free what m owns (a set manifest built in place, not allocated); m is zeroed. */
void ofs_set_manifest_release(struct ofs_set_manifest *m);

/* 1 if name is a valid Azure blob container name: 3-63 chars of [a-z0-9-], starting and
 * ending alphanumeric, no "--"; else 0. */
int ofs_azure_container_name_ok(const char *name);

/* Split "azure://ACCOUNT/CONTAINER[/PREFIX]" into owned parts (prefix "" when absent,
 * without leading/trailing '/'). Malformed, bad account (3-24 lower-case alphanumerics),
 * bad container name, or a prefix with empty, "." or ".." segments → OFS_ERR_USAGE.
 * Any out pointer may be NULL. */
int ofs_dest_parse(const char *dest, char **account, char **container, char **prefix,
    struct ofs_error *err);

#endif
