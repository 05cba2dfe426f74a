/* repair: the engine of `offseed import repair`. Collect the files an import job's error
 * logs name, upload each straight from the staging repository to the storage account the
 * job imports into (a file: folder or Azure Blob), and read it back against the staging
 * manifest. Reports through callbacks; prints nothing. */
#ifndef OFS_REPAIR_H
#define OFS_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "error.h"
#include "jobclient.h"
#include "jobjson.h"
#include "manifest.h"

/* One file to repair (everything owned but mf). */
struct ofs_repair_file {
	char *container, *blob;		/* destination */
	int page;			/* page blob (else block) */
	const struct ofs_manifest_file *mf;	/* staging manifest entry, or NULL */
	char *serial, *reason;		/* disk whose log named it; its error, or NULL */
	char *shown;			/* "container/blob" fit for messages (escaped) */
	char *shown_container, *shown_blob;	/* the same, apart (for --json) */
};

/* What the error logs name, once each, in log order. */
struct ofs_repair_list {
	struct ofs_repair_file *files;
	size_t n;
	size_t whole;		/* entries of disks not imported at all (no file listed) */
	size_t unusable;	/* entries that cannot be used (their files are not repaired) */
};

/* An error-log entry that is not a file to repair. */
enum ofs_repair_note_kind {
	OFS_REPAIR_IGNORED,		/* an extra (unlisted) file: never in the repository */
	OFS_REPAIR_IGNORED_UNREADABLE,	/* the same, its entry unreadable besides */
	OFS_REPAIR_WHOLE_DISK,		/* the disk was not imported: no file is listed */
	OFS_REPAIR_UNUSABLE,		/* cannot be used: its file is not repaired */
};

struct ofs_repair_note {
	enum ofs_repair_note_kind kind;
	const char *serial;				/* the disk's */
	const struct ofs_copylog_entry *entry;		/* IGNORED, WHOLE_DISK */
	const struct ofs_copylog_unusable *unusable;	/* IGNORED_UNREADABLE, UNUSABLE */
};

struct ofs_repair_cb {
	/* each note, as the logs are read (may be NULL) */
	void (*note)(const struct ofs_repair_note *n, void *arg);
	/* each file after its attempt: r 0 (size and xxh as read back) or its OFS_ERR_* with
	 * ferr (may be NULL) */
	void (*file_done)(const struct ofs_repair_file *f, int r, uint64_t size,
	    const uint8_t xxh[OFS_XXH_LEN], const struct ofs_error *ferr, void *arg);
	void *arg;
};

/* Download and parse the error log of every disk of job j and list the files they name
 * into *l (zeroed first; entries matched to manifest m, which must outlive l). Entries that
 * are not files go to cb->note. Errors: those of the download or a log that is not a copy
 * log (err names the disk); l holds what was collected, release it either way. */
int ofs_repair_collect(struct ofs_jobclient *jc, const struct ofs_job *j,
    const struct ofs_manifest *m, const struct ofs_repair_cb *cb, struct ofs_repair_list *l,
    struct ofs_error *err);
void ofs_repair_list_release(struct ofs_repair_list *l);

/* Where job j imports to: opt (--storage) if given, else the credentials' "storage", else
 * file:/azure:// in the storage account id, else azure://NAME from an Azure resource id.
 * Returns an owned string, or NULL when nothing says. */
char *ofs_repair_storage_loc(const char *opt, const struct ofs_credentials *c,
    const struct ofs_job *j);

/* Where the blobs are written: file:DIR (DIR/CONTAINER/BLOB) or azure://ACCOUNT (endpoint
 * and key from the environment). Errors: OFS_ERR_USAGE (another scheme), those of
 * ofs_azblob_open. *out is released with ofs_repair_store_free (NULL is a no-op). */
struct ofs_repair_store;
int ofs_repair_store_open(const char *loc, struct ofs_repair_store **out,
    struct ofs_error *err);
void ofs_repair_store_free(struct ofs_repair_store *s);

/* Upload every file of l from the staging folder dir (its manifest at mpath, named in
 * messages) to s, read it back and compare size and XXH3-128 with the manifest; each
 * outcome goes to cb->file_done and is counted in *ok or *bad. Returns 0 when all were
 * repaired, else the code of the worst failure (any other error over OFS_ERR_CORRUPT). */
int ofs_repair_run(struct ofs_repair_store *s, const char *dir, const char *mpath,
    const struct ofs_repair_list *l, const struct ofs_repair_cb *cb, size_t *ok,
    size_t *bad);

#endif
