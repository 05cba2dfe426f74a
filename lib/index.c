/* Index plaintext encoding/decoding and the compact in-memory blob table: 48-byte entries in
 * fixed pages plus an open-addressing array of 32-bit entry numbers keyed by the id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blob.h"
#include "index.h"
#include "index_spill.h"
#include "log.h"
#include "util.h"

#define INDEX_MAGIC "OFSINDEX"
#define INDEX_VERSION 2		/* newest read; 2 exactly when a patch blob is listed */
#define INDEX_HEAD_LEN (8 + 4 + 4)
#define PACK_REC_LEN (OFS_ID_LEN + 1 + OFS_SET_ID_LEN + 4 + 8 + 8 + OFS_XXH_LEN + 4)
#define BLOB_REC_LEN (1 + OFS_ID_LEN + 4 + 4 + 4)

/* Whether a version 1 reader would miss a blob type it cannot rebuild. */
static int
has_patch(const struct ofs_index_pack *packs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < packs[i].nblobs; j++)
			if (packs[i].blobs[j].type == OFS_BLOB_PATCH)
				return 1;
	return 0;
}

int
ofs_index_encode(const struct ofs_index_pack *packs, size_t n, struct ofs_buf *out)
{
	int r = 0;

	if (n > UINT32_MAX)
		return OFS_ERR_IO;
	r |= ofs_buf_add(out, INDEX_MAGIC, 8);
	r |= ofs_buf_add_u32le(out, has_patch(packs, n) ? 2 : 1);
	r |= ofs_buf_add_u32le(out, (uint32_t)n);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct ofs_index_pack *p = &packs[i];

		if (p->nblobs > UINT32_MAX)
			return OFS_ERR_IO;
		r |= ofs_buf_add(out, p->id, OFS_ID_LEN);
		r |= ofs_buf_addc(out, p->loc.kind);
		r |= ofs_buf_add(out, p->loc.set, OFS_SET_ID_LEN);
		r |= ofs_buf_add_u32le(out, p->loc.seq);
		r |= ofs_buf_add_u64le(out, p->loc.offset);
		r |= ofs_buf_add_u64le(out, p->length);
		r |= ofs_buf_add(out, p->xxh, OFS_XXH_LEN);
		r |= ofs_buf_add_u32le(out, (uint32_t)p->nblobs);
		for (size_t j = 0; j < p->nblobs && r == 0; j++) {
			const struct ofs_pack_entry *e = &p->blobs[j];

			r |= ofs_buf_addc(out, e->type);
			r |= ofs_buf_add(out, e->id, OFS_ID_LEN);
			r |= ofs_buf_add_u32le(out, e->offset);
			r |= ofs_buf_add_u32le(out, e->stored_len);
			r |= ofs_buf_add_u32le(out, e->raw_len);
		}
	}
	return r ? OFS_ERR_CORRUPT : 0;
}

void
ofs_index_packs_free(struct ofs_index_pack *packs, size_t n)
{
	if (packs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(packs[i].blobs);
	free(packs);
}

static int
idx_corrupt(struct ofs_error *err, const char *what, size_t off, const char *why)
{
	return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: %s (at offset %zu)", what, why, off);
}

int
ofs_index_decode(const uint8_t *p, size_t len, const char *what,
    struct ofs_index_pack **packs, size_t *n, struct ofs_error *err)
{
	struct ofs_index_pack *ps = NULL;
	struct ofs_rd rd;
	uint32_t version, npacks, done = 0;
	uint8_t magic[8];
	int r;

	*packs = NULL;
	*n = 0;
	ofs_rd_init(&rd, p, len);
	ofs_rd_bytes(&rd, magic, 8);
	version = ofs_rd_u32le(&rd);
	npacks = ofs_rd_u32le(&rd);
	if (!ofs_rd_ok(&rd)) {
		r = idx_corrupt(err, what, 0, "too short to be an index");
		goto out;
	}
	if (memcmp(magic, INDEX_MAGIC, 8) != 0) {
		r = idx_corrupt(err, what, 0, "not an index (bad magic)");
		goto out;
	}
	if (version > INDEX_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION,
		    "%s: index format version %u is newer than this offseed supports (%u)", what,
		    version, INDEX_VERSION);
		goto out;
	}
	if (version == 0) {
		r = idx_corrupt(err, what, 8, "bad version 0");
		goto out;
	}
	if (npacks > ofs_rd_left(&rd) / PACK_REC_LEN) {
		r = idx_corrupt(err, what, 12, "pack count larger than the data");
		goto out;
	}
	ps = ofs_xcalloc(npacks ? npacks : 1, sizeof(*ps));
	for (done = 0; done < npacks; done++) {
		struct ofs_index_pack *q = &ps[done];
		size_t at = rd.off;
		uint32_t nb;

		ofs_rd_bytes(&rd, q->id, OFS_ID_LEN);
		q->loc.kind = ofs_rd_u8(&rd);
		ofs_rd_bytes(&rd, q->loc.set, OFS_SET_ID_LEN);
		q->loc.seq = ofs_rd_u32le(&rd);
		q->loc.offset = ofs_rd_u64le(&rd);
		q->length = ofs_rd_u64le(&rd);
		ofs_rd_bytes(&rd, q->xxh, OFS_XXH_LEN);
		nb = ofs_rd_u32le(&rd);
		if (!ofs_rd_ok(&rd)) {
			r = idx_corrupt(err, what, at, "truncated pack record");
			goto out;
		}
		if (q->loc.kind != OFS_LOC_LOOSE && q->loc.kind != OFS_LOC_CONTAINER) {
			r = idx_corrupt(err, what, at + OFS_ID_LEN, "unknown pack location kind");
			goto out;
		}
		if (nb > ofs_rd_left(&rd) / BLOB_REC_LEN) {
			r = idx_corrupt(err, what, rd.off - 4, "blob count larger than the data");
			goto out;
		}
		q->blobs = ofs_xcalloc(nb ? nb : 1, sizeof(*q->blobs));
		q->nblobs = nb;
		for (uint32_t j = 0; j < nb; j++) {
			struct ofs_pack_entry *e = &q->blobs[j];

			at = rd.off;
			e->type = ofs_rd_u8(&rd);
			ofs_rd_bytes(&rd, e->id, OFS_ID_LEN);
			e->offset = ofs_rd_u32le(&rd);
			e->stored_len = ofs_rd_u32le(&rd);
			e->raw_len = ofs_rd_u32le(&rd);
			if ((uint64_t)e->offset + e->stored_len > q->length) {
				r = idx_corrupt(err, what, at, "blob lies outside its pack");
				goto out;
			}
			if (e->type == OFS_BLOB_PATCH && version < 2) {
				r = idx_corrupt(err, what, at, "patch blob in a version 1 index");
				goto out;
			}
		}
	}
	if (!ofs_rd_ok(&rd)) {
		r = idx_corrupt(err, what, len, "truncated");
		goto out;
	}
	if (ofs_rd_left(&rd) != 0) {
		r = idx_corrupt(err, what, rd.off, "trailing bytes after the last pack");
		goto out;
	}
	if (version == 2 && !has_patch(ps, npacks)) {
		r = idx_corrupt(err, what, 8, "version 2 index without a patch blob");
		goto out;
	}
	*packs = ps;
	*n = npacks;
	ps = NULL;	/* transferred */
	r = 0;
out:
	ofs_index_packs_free(ps, npacks);	/* calloc'd: unfilled records hold NULL */
	return r;
}

void
ofs_container_name(const uint8_t set[OFS_SET_ID_LEN], uint32_t seq, char *buf, size_t bufsz)
{
	char hex[2 * OFS_SET_ID_LEN + 1];

	ofs_hex(set, OFS_SET_ID_LEN, hex);
	snprintf(buf, bufsz, "%s-%06u.vhd", hex, seq);
}

void
ofs_loose_name(const uint8_t id[OFS_ID_LEN], char *buf, size_t bufsz)
{
	char hex[2 * OFS_ID_LEN + 1];

	ofs_hex(id, OFS_ID_LEN, hex);
	snprintf(buf, bufsz, "data/%.2s/%s", hex, hex);
}

/* --- in-memory table --- */

#define ent ofs_ient	/* lib/index_spill.h: 48 bytes, the same in memory and in a run */

#define PAGE_SHIFT 13
#define PAGE_ENTS (1u << PAGE_SHIFT)
#define MAX_PACKS (1u << 24)
/* Slot array load stays between LOAD_MIN and LOAD_MAX percent, so it costs 5.3–7.7 bytes per
 * blob: with the 48-byte entries, under 56 bytes per blob. */
#define LOAD_MAX 75
#define LOAD_MIN 53

struct ofs_blobtab {
	struct ent **pages;
	size_t npages, pages_cap;
	size_t nblobs;
	uint32_t *slots;	/* entry number + 1; 0 = empty */
	size_t nslots;
	struct ofs_blobtab_pack *packs;
	size_t npacks, packs_cap;
	uint32_t *pslots;	/* pack number + 1; power-of-two size */
	size_t npslots;
	/* Beyond budget bytes of entries and slots, the entries in memory go to a sorted run
	 * of the spill (nblobs counts those in memory only). */
	struct ofs_spill *spill;
	size_t budget;
};

/* Entry pages and the slot array come straight from mmap, not the heap: when the table
 * spills they go back to the system at once, instead of leaving holes in the heap that the
 * runs' filters, allocated in between, keep from being reused (SPEC §17). */
static void *
map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		ofs_error("out of memory mapping %zu bytes for the blob index", len);
		abort();
	}
	return p;
}

static void
unmap(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
}

static size_t index_budget = OFS_INDEX_BUDGET_DEFAULT;

void
ofs_index_set_budget(size_t bytes)
{
	index_budget = bytes;
}

size_t
ofs_index_budget(void)
{
	return index_budget;
}

static inline uint64_t
id_hash(const uint8_t id[OFS_ID_LEN])
{
	return ofs_get_u64le(id);	/* ids are HMAC/random outputs: already uniform */
}

/* Map a hash onto [0, n) without division. */
static inline size_t
home(uint64_t h, size_t n)
{
	return (size_t)(((unsigned __int128)h * n) >> 64);
}

static inline struct ent *
ent_at(const struct ofs_blobtab *x, size_t i)
{
	return &x->pages[i >> PAGE_SHIFT][i & (PAGE_ENTS - 1)];
}

struct ofs_blobtab *
ofs_blobtab_new(void)
{
	return ofs_xcalloc(1, sizeof(struct ofs_blobtab));
}

void
ofs_blobtab_free(struct ofs_blobtab *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->npages; i++)
		unmap(x->pages[i], PAGE_ENTS * sizeof(struct ent));
	free(x->pages);
	unmap(x->slots, x->nslots * sizeof(uint32_t));
	free(x->packs);
	free(x->pslots);
	ofs_spill_free(x->spill);
	free(x);
}

void
ofs_blobtab_spill_to(struct ofs_blobtab *x, const char *dir, size_t budget)
{
	if (x->spill != NULL || dir == NULL || budget == 0)
		return;
	x->spill = ofs_spill_new(dir);
	x->budget = budget;
}

static size_t
ram_bytes(const struct ofs_blobtab *x)
{
	return x->npages * PAGE_ENTS * sizeof(struct ent) + x->nslots * sizeof(uint32_t);
}

static void slot_put(uint32_t *slots, size_t nslots, const uint8_t id[OFS_ID_LEN], uint32_t v);

static const struct ent *
nth_sorted(void *ud, size_t i)
{
	struct ofs_blobtab *x = ud;

	return ent_at(x, x->slots[i]);
}

static int
cmp_ent(const void *a, const void *b, void *ud)
{
	struct ofs_blobtab *x = ud;

	return memcmp(ent_at(x, *(const uint32_t *)a)->id, ent_at(x, *(const uint32_t *)b)->id,
	    OFS_ID_LEN);
}

/* Move the entries in memory to a new sorted run: the slot array, no longer needed as a
 * hash table, becomes the list of entry numbers (0 … nblobs − 1) in id order. A spill that cannot be
 * written (the state dir full or failing) leaves them where they are and spills no more:
 * the table is whole either way, only bigger than asked. */
static void
spill_entries(struct ofs_blobtab *x)
{
	size_t k = x->nblobs;	/* <= nslots: the table is never full */
	int e;

	for (size_t i = 0; i < k; i++)
		x->slots[i] = (uint32_t)i;
	qsort_r(x->slots, k, sizeof(uint32_t), cmp_ent, x);
	if ((e = ofs_spill_add(x->spill, k, nth_sorted, x)) != 0) {
		ofs_warn("the blob index stays in memory (%zu MiB and growing): cannot write "
		    "its spill file in the state dir: %s", ram_bytes(x) >> 20, strerror(e));
		x->budget = SIZE_MAX;
		memset(x->slots, 0, x->nslots * sizeof(uint32_t));
		for (size_t i = 0; i < x->nblobs; i++)
			slot_put(x->slots, x->nslots, ent_at(x, i)->id, (uint32_t)(i + 1));
		return;
	}
	ofs_verbose("blob index past its memory budget: %zu entries moved to a sorted run in "
	    "the state dir (%zu spilled, %zu runs)", k, ofs_spill_count(x->spill),
	    ofs_spill_runs(x->spill));
	for (size_t i = 0; i < x->npages; i++)
		unmap(x->pages[i], PAGE_ENTS * sizeof(struct ent));
	x->npages = 0;
	x->nblobs = 0;
	unmap(x->slots, x->nslots * sizeof(uint32_t));
	x->slots = NULL;
	x->nslots = 0;
}

void
ofs_blobtab_spill_rest(struct ofs_blobtab *x)
{
	if (x->spill != NULL && ofs_spill_count(x->spill) > 0 && x->nblobs > 0 &&
	    x->budget != SIZE_MAX)
		spill_entries(x);
}


static void
slot_put(uint32_t *slots, size_t nslots, const uint8_t id[OFS_ID_LEN], uint32_t v)
{
	size_t s = home(id_hash(id), nslots);

	while (slots[s] != 0)
		if (++s == nslots)
			s = 0;
	slots[s] = v;
}

static void
grow_slots(struct ofs_blobtab *x)
{
	size_t want = (x->nblobs + 1) * 100 / LOAD_MIN + 16;

	unmap(x->slots, x->nslots * sizeof(uint32_t));
	x->slots = map_zeroed(want * sizeof(uint32_t));
	x->nslots = want;
	for (size_t i = 0; i < x->nblobs; i++)
		slot_put(x->slots, want, ent_at(x, i)->id, (uint32_t)(i + 1));
}

/* Slot holding id, or the empty slot where it would go. */
static size_t
slot_find(const struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], int *found)
{
	size_t s = home(id_hash(id), x->nslots);
	uint32_t v;

	while ((v = x->slots[s]) != 0) {
		if (memcmp(ent_at(x, v - 1)->id, id, OFS_ID_LEN) == 0) {
			*found = 1;
			return s;
		}
		if (++s == x->nslots)
			s = 0;
	}
	*found = 0;
	return s;
}

int
ofs_blobtab_add_blob(struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r)
{
	struct ent *e;
	size_t s;
	int found;

	if ((x->nblobs + 1) * 100 > x->nslots * LOAD_MAX)
		grow_slots(x);
	s = slot_find(x, id, &found);
	if (found)
		return 1;
	if (x->spill != NULL) {
		struct ent old;

		if (ofs_spill_lookup(x->spill, id, &old))
			return 1;
	}
	if (x->nblobs >= UINT32_MAX - 1) {
		ofs_error("index table full (2^32 blobs)");	/* a capacity, like memory */
		abort();
	}
	if ((x->nblobs >> PAGE_SHIFT) == x->npages) {
		if (x->npages == x->pages_cap) {
			x->pages_cap = x->pages_cap ? x->pages_cap * 2 : 16;
			x->pages = ofs_xreallocarray(x->pages, x->pages_cap, sizeof(*x->pages));
		}
		x->pages[x->npages++] = map_zeroed(PAGE_ENTS * sizeof(struct ent));
	}
	e = ent_at(x, x->nblobs);
	memcpy(e->id, id, OFS_ID_LEN);
	e->pack_type = (r->pack << 8) | r->type;
	e->offset = r->offset;
	e->stored_len = r->stored_len;
	e->raw_len = r->raw_len;
	x->slots[s] = (uint32_t)(++x->nblobs);
	if (x->spill != NULL && ram_bytes(x) > x->budget)
		spill_entries(x);
	return 0;
}

static void
fill_ref(const struct ent *e, struct ofs_blob_ref *r)
{
	r->pack = e->pack_type >> 8;
	r->type = e->pack_type & 0xff;
	r->offset = e->offset;
	r->stored_len = e->stored_len;
	r->raw_len = e->raw_len;
}

int
ofs_blobtab_lookup(const struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], struct ofs_blob_ref *r)
{
	size_t s;
	int found;

	if (x->nslots != 0) {
		s = slot_find(x, id, &found);
		if (found) {
			if (r != NULL)
				fill_ref(ent_at(x, x->slots[s] - 1), r);
			return 1;
		}
	}
	if (x->spill != NULL) {
		struct ent e;

		if (ofs_spill_lookup(x->spill, id, &e)) {
			if (r != NULL)
				fill_ref(&e, r);
			return 1;
		}
	}
	return 0;
}

int
ofs_blobtab_find_pack(const struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], uint32_t *n)
{
	size_t s, mask;
	uint32_t v;

	if (x->npslots == 0)
		return 0;
	mask = x->npslots - 1;
	for (s = id_hash(id) & mask; (v = x->pslots[s]) != 0; s = (s + 1) & mask) {
		if (memcmp(x->packs[v - 1].id, id, OFS_ID_LEN) == 0) {
			if (n != NULL)
				*n = v - 1;
			return 1;
		}
	}
	return 0;
}

uint32_t
ofs_blobtab_add_pack(struct ofs_blobtab *x, const struct ofs_blobtab_pack *p)
{
	size_t s, mask;
	uint32_t v;

	if ((x->npacks + 1) * 2 > x->npslots) {
		size_t n = x->npslots ? x->npslots * 2 : 64;

		free(x->pslots);
		x->pslots = ofs_xcalloc(n, sizeof(uint32_t));
		x->npslots = n;
		for (size_t i = 0; i < x->npacks; i++) {
			s = id_hash(x->packs[i].id) & (n - 1);
			while (x->pslots[s] != 0)
				s = (s + 1) & (n - 1);
			x->pslots[s] = (uint32_t)(i + 1);
		}
	}
	mask = x->npslots - 1;
	s = id_hash(p->id) & mask;
	while ((v = x->pslots[s]) != 0) {
		if (memcmp(x->packs[v - 1].id, p->id, OFS_ID_LEN) == 0)
			return v - 1;
		s = (s + 1) & mask;
	}
	if (x->npacks >= MAX_PACKS - 1) {
		ofs_error("too many packs in the index (2^24)");	/* a capacity */
		abort();
	}
	if (x->npacks == x->packs_cap) {
		x->packs_cap = x->packs_cap ? x->packs_cap * 2 : 64;
		x->packs = ofs_xreallocarray(x->packs, x->packs_cap, sizeof(*x->packs));
	}
	x->packs[x->npacks] = *p;
	x->pslots[s] = (uint32_t)(x->npacks + 1);
	return (uint32_t)x->npacks++;
}

void
ofs_blobtab_add_index(struct ofs_blobtab *x, const struct ofs_index_pack *packs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct ofs_blobtab_pack ip;
		uint32_t num;

		memcpy(ip.id, packs[i].id, OFS_ID_LEN);
		ip.loc = packs[i].loc;
		ip.length = packs[i].length;
		memcpy(ip.xxh, packs[i].xxh, OFS_XXH_LEN);
		num = ofs_blobtab_add_pack(x, &ip);
		for (size_t j = 0; j < packs[i].nblobs; j++) {
			const struct ofs_pack_entry *e = &packs[i].blobs[j];
			struct ofs_blob_ref r = {
				.pack = num, .offset = e->offset, .stored_len = e->stored_len,
				.raw_len = e->raw_len, .type = e->type,
			};

			ofs_blobtab_add_blob(x, e->id, &r);
		}
	}
}

const struct ofs_blobtab_pack *
ofs_blobtab_pack(const struct ofs_blobtab *x, uint32_t n)
{
	return n < x->npacks ? &x->packs[n] : NULL;
}

size_t
ofs_blobtab_npacks(const struct ofs_blobtab *x)
{
	return x->npacks;
}

size_t
ofs_blobtab_nblobs(const struct ofs_blobtab *x)
{
	return x->nblobs + ofs_spill_count(x->spill);
}

size_t
ofs_blobtab_spilled(const struct ofs_blobtab *x)
{
	return ofs_spill_count(x->spill);
}

struct each {
	int (*fn)(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r, void *ud);
	void *ud;
};

static int
each_spilled(const struct ent *e, void *ud)
{
	struct each *ea = ud;
	struct ofs_blob_ref r;

	fill_ref(e, &r);
	return ea->fn(e->id, &r, ea->ud);
}

int
ofs_blobtab_foreach(const struct ofs_blobtab *x,
    int (*fn)(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r, void *ud), void *ud)
{
	struct each ea = { fn, ud };
	struct ofs_blob_ref r;
	int rc;

	if (x->spill != NULL && (rc = ofs_spill_foreach(x->spill, each_spilled, &ea)) != 0)
		return rc;
	for (size_t i = 0; i < x->nblobs; i++) {
		const struct ent *e = ent_at(x, i);

		fill_ref(e, &r);
		if ((rc = fn(e->id, &r, ud)) != 0)
			return rc;
	}
	return 0;
}

size_t
ofs_blobtab_memory(const struct ofs_blobtab *x)
{
	return sizeof(*x) + x->npages * PAGE_ENTS * sizeof(struct ent) +
	    x->pages_cap * sizeof(*x->pages) + x->nslots * sizeof(uint32_t) +
	    x->packs_cap * sizeof(*x->packs) + x->npslots * sizeof(uint32_t) +
	    ofs_spill_memory(x->spill);
}
