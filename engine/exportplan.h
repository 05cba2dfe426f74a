/* What one snapshot (or some paths of it) needs on disks: the repository objects an export
 * job lists (SPEC §16), computed keyed, with prune's marking rules (engine/retention.c). */
#ifndef OFS_EXPORTPLAN_H
#define OFS_EXPORTPLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "repo.h"

struct ofs_export_plan {
	/* Repository object names (FORMAT.md §3), owned, without duplicates, in the export
	 * contract's order: config, keys/…, index/…, snapshots/<the one>, containers/….vhd,
	 * data/xx/…; each group sorted by bytes. Only hex ids besides "config". */
	char **names;
	size_t n;
	size_t nkeys, nindex, ncontainers, nloose;
	uint64_t blobs;		/* trees, chunks and patch bases the selection needs */
	uint64_t bytes;		/* total size of the objects whose size is known */
	size_t nsize_unknown;	/* objects whose size could not be read (0: bytes is exact) */
	char *first_unknown;	/* the first of them (owned), or NULL */
};

/* Compute the objects snap needs. r: opened, unlocked, index loaded (ofs_cli_open_repo
 * with need_key and load_index). paths (npaths may be 0: the whole snapshot) are paths in
 * the snapshot as restore takes them ("/home/a", "home/a"; "" or "/" is the root): each
 * needs the trees on the way to it and everything beneath it (a file: its chunks).
 *
 * Every key slot and index file is listed (the index is metadata; a reader ignores the
 * entries of packs the set lacks), the snapshot itself, and the containers and loose
 * packs holding a blob the selection reaches, including the seed chunks its patch chunks
 * copy from. Nothing only another snapshot needs. Memory: one blob table entry per blob
 * reached, one byte per pack, one string per object listed.
 *
 * Sizes: config from memory, loose packs from the index, the rest from the backend (one
 * size request each); an object whose size cannot be read is counted in nsize_unknown
 * (not an error: the service reports a blob it cannot find).
 *
 * Errors: a path not in the snapshot → OFS_ERR_NOTFOUND "'PATH' is not in snapshot ID";
 * a blob the index lacks → OFS_ERR_CORRUPT naming it; a tree or patch that cannot be read →
 * its read error. *p is filled only on success (release it with ofs_exportplan_release). */
int ofs_exportplan_build(struct ofs_repo *r, const struct ofs_snapshot *snap,
    const char *const *paths, size_t npaths, struct ofs_export_plan *p,
    struct ofs_error *err);
void ofs_exportplan_release(struct ofs_export_plan *p);

/* Where the objects live in the storage account, and what else the job body carries. */
struct ofs_export_target {
	const char *container;		/* the repository's blob container (Azure's rules) */
	const char *prefix;		/* "" or a/b: no leading, trailing or double '/' */
	const char *location;		/* the credentials' location */
	const char *storage_account_id;	/* full ARM id of the storage account */
	json_t *contact;		/* contactDetails (borrowed; copied into the body);
					 * NULL → OFS_ERR_USAGE */
	json_t *return_package;		/* returnToCustomerPackageDetails, or NULL */
};

/* The PUT body of an export job (the export contract): transferType ExportFromAzure,
 * dataExportDetails[0] with the storage account and a TransferUsingFilter whose
 * blobPathList is "/CONTAINER/PREFIX/NAME" ("/CONTAINER/NAME" when PREFIX is "") for each
 * of p's names, in p's order. Only p's names (hex ids and "config") go in; never a file
 * name. More than OFS_EXPORT_BLOBS_MAX entries, or a body that would pass
 * OFS_EXPORT_BODY_MAX → OFS_ERR_LIMIT naming both numbers. *out is a new reference. */
int ofs_exportplan_job_body(const struct ofs_export_plan *p, const struct ofs_export_target *t,
    json_t **out, struct ofs_error *err);

#endif
