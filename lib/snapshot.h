/* Snapshot records: the JSON object (FORMAT.md) naming a backup's root tree, its parent,
 * host, paths, tags and statistics, and the RFC 3339 nanosecond times they carry. */
#ifndef OFS_SNAPSHOT_H
#define OFS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"

struct ofs_snapshot {
	uint8_t id[OFS_ID_LEN];		/* not serialized: the object name */
	int64_t time_ns;
	char *host, *user, *version;
	char **paths;
	size_t npaths;
	char **tags;
	size_t ntags;
	uint8_t tree[OFS_ID_LEN];
	int has_parent;
	uint8_t parent[OFS_ID_LEN];
	int has_seed_set;
	uint8_t seed_set[16];
	uint64_t files, dirs, bytes, bytes_new, bytes_stored, skipped;
};

void ofs_snapshot_release(struct ofs_snapshot *s);
/* Snapshot JSON (FORMAT.md): encode appends to out; decode validates every field and
 * fills *s (owned; release with ofs_snapshot_release). Malformed → OFS_ERR_CORRUPT naming
 * `what` and the field; another format version → OFS_ERR_VERSION. */
int ofs_snapshot_encode(const struct ofs_snapshot *s, struct ofs_buf *out, struct ofs_error *err);
int ofs_snapshot_decode(const uint8_t *p, size_t len, const char *what, struct ofs_snapshot *s,
    struct ofs_error *err);

/* RFC 3339 UTC with nanoseconds ("2026-01-02T03:04:05.000000123Z") and its parser:
 * ofs_time_parse's strict rule (text.h) with OFS_TIME_UTC, 0 to 9 fraction digits, 'T' and
 * 'Z' in upper case only, and a time an int64 nanosecond count holds (1677..2262). Parse
 * returns 0 with *ns, or -1. */
void ofs_fmt_time_ns(int64_t ns, char *buf, size_t bufsz);
int ofs_parse_time_ns(const char *s, int64_t *ns);

#endif
