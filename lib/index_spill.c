/* The blob table's sorted runs beyond its memory budget (lib/index_spill.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "index_spill.h"
#include "log.h"
#include "util.h"

_Static_assert(sizeof(struct ofs_ient) == 48, "index table entry must stay 48 bytes");

/* Entries a block: 1,536 bytes, one read a lookup. Copying a 4 KiB block cost as much as the
 * system call itself; the fence costs 0.25 B a chunk at this size. */
#define RUN_BLOCK 32
#define IO_ENTS (RUN_BLOCK * 40)	/* entries a buffered read or write: 61,440 bytes */
#define BLOOM_BITS 10		/* filter bits an entry: about 1 % false positives */
#define BLOOM_K 6		/* bits set an entry, within one 512-bit block */

struct run {
	int fd;
	size_t n;
	uint64_t *fence;	/* key of the first entry of each block */
	uint64_t *bloom;	/* nbb blocks of 8 words */
	size_t nbb;
};

struct ofs_spill {
	char *dir;
	struct run *runs;	/* oldest first */
	size_t nruns, cap;
	size_t count;
};

/* The first 8 bytes of an id, big-endian: orders like memcmp of the whole id. */
static uint64_t
key_of(const uint8_t id[OFS_ID_LEN])
{
	uint64_t k = 0;

	for (int i = 0; i < 8; i++)
		k = k << 8 | id[i];
	return k;
}

static size_t
scale(uint64_t h, size_t n)
{
	return (size_t)(((unsigned __int128)h * n) >> 64);
}

/* ids are HMAC outputs: bytes 8–23 are already uniform and independent of the key. */
static uint64_t *
bloom_block(const struct run *r, const uint8_t id[OFS_ID_LEN])
{
	return r->bloom + 8 * scale(ofs_get_u64le(id + 8), r->nbb);
}

static void
bloom_set(struct run *r, const uint8_t id[OFS_ID_LEN])
{
	uint64_t *b = bloom_block(r, id), h = ofs_get_u64le(id + 16);

	for (int k = 0; k < BLOOM_K; k++, h >>= 9)
		b[(h & 511) >> 6] |= (uint64_t)1 << (h & 63);
}

static int
bloom_has(const struct run *r, const uint8_t id[OFS_ID_LEN])
{
	const uint64_t *b = bloom_block(r, id);
	uint64_t h = ofs_get_u64le(id + 16);

	for (int k = 0; k < BLOOM_K; k++, h >>= 9)
		if (!(b[(h & 511) >> 6] & (uint64_t)1 << (h & 63)))
			return 0;
	return 1;
}

static void
run_free(struct run *r)
{
	if (r->fd != -1)
		close(r->fd);
	free(r->fence);
	free(r->bloom);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* A file of the run: unnamed (O_TMPFILE), or created and unlinked at once where the file
 * system has no O_TMPFILE. Either way it goes when the process does, however it ends. */
static int
run_file(const char *dir)
{
	char *tmp;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), e;

	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	tmp = ofs_xasprintf("%s/.index-spill-XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) != -1)
		unlink(tmp);
	e = errno;
	free(tmp);
	errno = e;
	return fd;
}

/* A read of a run we wrote ourselves failing is like memory failing: there is no answer
 * to give (absent would be a lie), so it ends the process, after saying so. */
static void
read_run(const struct ofs_spill *sp, const struct run *r, void *buf, size_t first, size_t n)
{
	int e = ofs_pread_all(r->fd, buf, n * sizeof(struct ofs_ient),
	    (uint64_t)first * sizeof(struct ofs_ient));

	if (e == 0)
		return;
	ofs_error("cannot read back the blob index spilled to '%s': %s", sp->dir,
	    e == OFS_READ_EOF ? "the file is shorter than written" : strerror(-e));
	abort();
}

struct writer {
	struct run r;
	struct ofs_ient *buf;
	size_t used, done;
};

static int
writer_start(struct writer *w, const char *dir, size_t n)
{
	memset(w, 0, sizeof(*w));
	if ((w->r.fd = run_file(dir)) == -1)
		return errno;
	w->r.fence = ofs_xcalloc((n + RUN_BLOCK - 1) / RUN_BLOCK + 1, sizeof(uint64_t));
	w->r.nbb = (n * BLOOM_BITS + 511) / 512 + 1;
	w->r.bloom = ofs_xcalloc(w->r.nbb * 8, sizeof(uint64_t));
	w->buf = ofs_xmalloc(IO_ENTS * sizeof(struct ofs_ient));
	return 0;
}

static int
writer_flush(struct writer *w)
{
	int e = ofs_write_all(w->r.fd, w->buf, w->used * sizeof(struct ofs_ient));

	w->used = 0;
	return -e;
}

static int
writer_put(struct writer *w, const struct ofs_ient *e)
{
	if (w->done % RUN_BLOCK == 0)
		w->r.fence[w->done / RUN_BLOCK] = key_of(e->id);
	bloom_set(&w->r, e->id);
	w->buf[w->used++] = *e;
	w->done++;
	return w->used == IO_ENTS ? writer_flush(w) : 0;
}

/* 0 with *out the run, or an errno (nothing kept). */
static int
writer_end(struct writer *w, int e, struct run *out)
{
	if (e == 0 && w->used > 0)
		e = writer_flush(w);
	free(w->buf);
	w->r.n = w->done;
	if (e != 0) {
		run_free(&w->r);
		return e;
	}
	*out = w->r;
	return 0;
}

struct reader {
	const struct run *r;
	struct ofs_ient *buf;
	size_t have, pos, next;
};

static const struct ofs_ient *
reader_peek(const struct ofs_spill *sp, struct reader *rd)
{
	if (rd->pos == rd->have && rd->next < rd->r->n) {
		size_t n = rd->r->n - rd->next < IO_ENTS ? rd->r->n - rd->next : IO_ENTS;

		read_run(sp, rd->r, rd->buf, rd->next, n);
		rd->have = n;
		rd->pos = 0;
		rd->next += n;
	}
	return rd->pos < rd->have ? &rd->buf[rd->pos] : NULL;
}

/* Merge the two newest runs into one. 0, or an errno (both kept as they were). */
static int
merge_last(struct ofs_spill *sp)
{
	struct run *a = &sp->runs[sp->nruns - 2], *b = &sp->runs[sp->nruns - 1], m;
	struct reader ra = { a, NULL, 0, 0, 0 }, rb = { b, NULL, 0, 0, 0 };
	const struct ofs_ient *ea, *eb;
	struct writer w;
	int e;

	if ((e = writer_start(&w, sp->dir, a->n + b->n)) != 0)
		return e;
	ra.buf = ofs_xmalloc(IO_ENTS * sizeof(struct ofs_ient));
	rb.buf = ofs_xmalloc(IO_ENTS * sizeof(struct ofs_ient));
	for (;;) {
		int c;

		ea = reader_peek(sp, &ra);
		eb = reader_peek(sp, &rb);
		if (ea == NULL && eb == NULL)
			break;
		c = ea == NULL ? 1 : eb == NULL ? -1 : memcmp(ea->id, eb->id, OFS_ID_LEN);
		if ((e = writer_put(&w, c <= 0 ? ea : eb)) != 0)
			break;
		if (c <= 0)
			ra.pos++;
		if (c >= 0)	/* the same id twice: the older run's entry is kept */
			rb.pos++;
	}
	free(ra.buf);
	free(rb.buf);
	if ((e = writer_end(&w, e, &m)) != 0)
		return e;
	sp->count -= a->n + b->n - m.n;
	run_free(a);
	run_free(b);
	*a = m;
	sp->nruns--;
	return 0;
}

struct ofs_spill *
ofs_spill_new(const char *dir)
{
	struct ofs_spill *sp = ofs_xcalloc(1, sizeof(*sp));

	sp->dir = ofs_xstrdup(dir);
	return sp;
}

void
ofs_spill_free(struct ofs_spill *sp)
{
	if (sp == NULL)
		return;
	for (size_t i = 0; i < sp->nruns; i++)
		run_free(&sp->runs[i]);
	free(sp->runs);
	free(sp->dir);
	free(sp);
}

int
ofs_spill_add(struct ofs_spill *sp, size_t n,
    const struct ofs_ient *(*get)(void *ud, size_t i), void *ud)
{
	struct writer w;
	struct run r;
	int e;

	if ((e = writer_start(&w, sp->dir, n)) != 0)
		return e;
	for (size_t i = 0; i < n && e == 0; i++)
		e = writer_put(&w, get(ud, i));
	if ((e = writer_end(&w, e, &r)) != 0)
		return e;
	if (sp->nruns == sp->cap) {
		sp->cap = sp->cap ? 2 * sp->cap : 8;
		sp->runs = ofs_xreallocarray(sp->runs, sp->cap, sizeof(*sp->runs));
	}
	sp->runs[sp->nruns++] = r;
	sp->count += r.n;
	/* like a binary counter: each entry is rewritten about log2(runs) times in all */
	while (sp->nruns >= 2 && sp->runs[sp->nruns - 1].n >= sp->runs[sp->nruns - 2].n)
		if (merge_last(sp) != 0)
			break;	/* not merged: still correct, only one more run to look in */
	return 0;
}

static int
run_lookup(const struct ofs_spill *sp, const struct run *r, const uint8_t id[OFS_ID_LEN],
    struct ofs_ient *out)
{
	struct ofs_ient blk[RUN_BLOCK];
	size_t nblk = (r->n + RUN_BLOCK - 1) / RUN_BLOCK, lo = 0, hi = nblk;
	uint64_t k = key_of(id);

	if (r->n == 0 || !bloom_has(r, id))
		return 0;
	while (lo < hi) {	/* the first block starting after k */
		size_t mid = lo + (hi - lo) / 2;

		if (r->fence[mid] <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t b = lo; b-- > 0;) {
		size_t first = b * RUN_BLOCK, cnt = r->n - first < RUN_BLOCK ? r->n - first :
		    RUN_BLOCK, l = 0, h;

		read_run(sp, r, blk, first, cnt);
		for (h = cnt; l < h;) {
			size_t mid = l + (h - l) / 2;
			int c = memcmp(blk[mid].id, id, OFS_ID_LEN);

			if (c == 0) {
				*out = blk[mid];
				return 1;
			}
			if (c < 0)
				l = mid + 1;
			else
				h = mid;
		}
		if (r->fence[b] != k)	/* the block before holds only smaller keys */
			break;
	}
	return 0;
}

int
ofs_spill_lookup(const struct ofs_spill *sp, const uint8_t id[OFS_ID_LEN], struct ofs_ient *out)
{
	for (size_t i = sp->nruns; i-- > 0;)
		if (run_lookup(sp, &sp->runs[i], id, out))
			return 1;
	return 0;
}

int
ofs_spill_foreach(const struct ofs_spill *sp, int (*fn)(const struct ofs_ient *e, void *ud),
    void *ud)
{
	struct ofs_ient *buf;
	int rc = 0;

	if (sp->count == 0)
		return 0;
	buf = ofs_xmalloc(IO_ENTS * sizeof(struct ofs_ient));
	for (size_t i = 0; i < sp->nruns && rc == 0; i++) {
		const struct run *r = &sp->runs[i];

		for (size_t at = 0; at < r->n && rc == 0; at += IO_ENTS) {
			size_t n = r->n - at < IO_ENTS ? r->n - at : IO_ENTS;

			read_run(sp, r, buf, at, n);
			for (size_t j = 0; j < n && rc == 0; j++)
				rc = fn(&buf[j], ud);
		}
	}
	free(buf);
	return rc;
}

size_t
ofs_spill_count(const struct ofs_spill *sp)
{
	return sp != NULL ? sp->count : 0;
}

size_t
ofs_spill_runs(const struct ofs_spill *sp)
{
	return sp != NULL ? sp->nruns : 0;
}

size_t
ofs_spill_memory(const struct ofs_spill *sp)
{
	size_t m;

	if (sp == NULL)
		return 0;
	m = sizeof(*sp) + sp->cap * sizeof(struct run);
	for (size_t i = 0; i < sp->nruns; i++)
		m += ((sp->runs[i].n + RUN_BLOCK - 1) / RUN_BLOCK + 1) * sizeof(uint64_t) +
		    sp->runs[i].nbb * 8 * sizeof(uint64_t);
	return m;
}
