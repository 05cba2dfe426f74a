/* Verification of imported blobs in Azure Blob Storage against disk manifests (`offseed
 * verify azure://ACCOUNT/CONTAINER[/PREFIX] --manifest M…`): ranged reads through
 * lib/azblob.h, hashed with the manifest's own region hasher. */
#ifndef OFS_VERIFY_REMOTE_H
#define OFS_VERIFY_REMOTE_H

#include <stddef.h>

#include "check.h"
#include "error.h"
#include "manifest.h"
#include "log.h"

/* Bytes per ranged GET (a region is read in several). */
#define OFS_REMOTE_CHUNK (8u << 20)

/* A parsed azure://ACCOUNT[/CONTAINER[/PREFIX]] location (owned strings). */
struct ofs_remote_loc {
	char *account;
	char *container;	/* NULL: every container */
	char *prefix;		/* NULL: the whole container; no leading/trailing '/' */
};

/* Parse s. OFS_ERR_USAGE naming s for anything but azure:// with a valid account name
 * (3-24 of [a-z0-9]), container name (Azure's rules) and a prefix without empty or ".."
 * segments. */
int ofs_remote_parse(const char *s, struct ofs_remote_loc *loc, struct ofs_error *err);
void ofs_remote_loc_release(struct ofs_remote_loc *loc);

struct ofs_remote_opts {
	int threads;			/* blobs read in parallel (one client each); 0 = 4 */
	struct ofs_progress *progress;	/* may be NULL; bytes and files are added */
	ofs_finding_fn on_finding;	/* may be NULL; called from the calling thread only */
	void *arg;
};

/*
 * Check that the blobs the manifests m[0..nm) import under loc are in the storage account
 * as listed: every entry PageBlob/C/B or BlockBlob/C/B (C/B under loc's container and
 * prefix; other entries are skipped, identical duplicates across manifests checked once)
 * must exist as a page or block blob C/B of the listed size with every region's and the
 * whole blob's XXH3-128 as listed. The client comes from the environment
 * (ofs_azblob_opts_from_env); without OFFSEED_AZURE_ENDPOINT the endpoint is the account's
 * public one; an endpoint for another account is OFS_ERR_USAGE. Findings (path "C/B"):
 * missing, size (truncated/grown), region (index, byte range, both hashes), hash (no
 * region pinpoints it), structure (wrong blob type), unreadable (another refusal of a
 * read); reported in a deterministic order (presence and sizes by path, then contents by
 * path). Returns 0 when the check ran to the end (st->findings > 0: problems), else
 * OFS_ERR_USAGE (no blob selected, bad configuration), OFS_ERR_AUTH (credentials
 * refused), OFS_ERR_NETWORK (service unreachable after retries); no findings are reported
 * then. st is always filled.
 */
int ofs_remote_verify(const struct ofs_remote_loc *loc, struct ofs_manifest *const *m,
    size_t nm, const struct ofs_remote_opts *o, struct ofs_check_stats *st,
    struct ofs_error *err);

#endif
