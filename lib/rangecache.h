/* Read-ahead cache for blob reads from a remote backend: one request fetches a span of a pack
 * (the blob asked for and the ones after it), so a restore makes a request per few MiB
 * instead of one per chunk. Thread-safe; concurrent readers of the same span wait for the
 * one fetch. */
#ifndef OFS_RANGECACHE_H
#define OFS_RANGECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct ofs_backend;
struct ofs_rangecache;

/* slots spans of at most span bytes each are kept (least recently used replaced). */
struct ofs_rangecache *ofs_rangecache_new(size_t slots, uint64_t span);
/* NULL is a no-op. */
void ofs_rangecache_free(struct ofs_rangecache *c);

/* Append bytes [off, off+len) of object name to out. A miss fetches [off, end) with
 * be->get, end = min(off + span, limit) but at least off + len (limit: where the pack the
 * bytes belong to ends, so nothing past it is read). Errors are those of be->get (a
 * failed fetch is not cached). */
int ofs_rangecache_read(struct ofs_rangecache *c, struct ofs_backend *be, const char *name,
    uint64_t off, uint64_t len, uint64_t limit, struct ofs_buf *out, struct ofs_error *err);

/* Range requests made so far, and reads answered from the cache without one (tests, -v). */
void ofs_rangecache_stats(struct ofs_rangecache *c, uint64_t *requests, uint64_t *hits);

#endif
