/* Private to engine/stage*.c (and their unit test and fuzz target): the stage pipeline's
 * items, the state of each part in its own struct, and what the parts call of each other.
 * Not a public contract: engine/stage.h is the API. */
#ifndef OFS_STAGE_INT_H
#define OFS_STAGE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "blob.h"
#include "buf.h"
#include "chunker.h"
#include "container.h"
#include "crypto.h"
#include "error.h"
#include "index.h"
#include "manifest.h"
#include "pack.h"
#include "stage.h"
#include "tree.h"
#include "tree_enc.h"
#include "util.h"

#define READ_BUF (2 * OFS_CHUNK_MAX)	/* data in [start, have); compacted rarely */
#define READ_KEEP (1u << 20)		/* read buffer pages kept resident between files */
/* Files smaller than this (no block hashes, one chunk) are read by the worker that takes
 * their chunk: with many small files, the producer's open/read/fstat/close per file was
 * the pipeline's bottleneck while the workers waited. */
#define SMALL_FILE (2 * OFS_BLOCK_SIZE)
#define INFLIGHT_BYTES (8u << 20)
#define RING_SLOTS 4096
#define WRITER_BATCH 64		/* small done items the writer is woken for at once */
#define SPENT_MAX (64u << 10)	/* items holding more are freed by the writer itself */
#define CONTAINER_PACK_TARGET (8u << 20)	/* smaller than cloud packs: bounds memory */
/* Blobs per container at most: its index (48 bytes a blob), held in memory until the seal
 * and repeated in every checkpoint, stays about 3 MB however small the files are. */
#define CONTAINER_MAX_BLOBS (1u << 16)
/* Catalog records per segment of a journal rewrite or of the saved catalog (FORMAT allows
 * up to 131,072): each segment's plaintext and sealed copy (~140 B a record) are in memory
 * together while it is written, 2 x 2.3 MB at this size. */
#define JOURNAL_SLICE 16384
/* A checkpoint at least every so many completed files: a journal segment holds the files
 * completed since the last one, so this bounds it when the bytes and seconds do not (its
 * plaintext and sealed copy, ~140 B a file each, are in memory together: 2 x 4.6 MB). */
#define CHECKPOINT_FILES 32768
#define CATALOG_NAME "catalog"
#define JOURNAL_MAX ((size_t)16 << 30)	/* the catalog of a ~60 TB seed (block hashes: 0.025 %) */
#define UPLOADS_DEFAULT 4
#define UPLOAD_QUEUE_BYTES (96u << 20)	/* packs queued or in flight, at most (one always) */
#define PATCH_MIN_COPY (16u << 10)	/* a patch must copy at least this much of the seed */

enum item_kind { IT_CHUNK = 1, IT_DIR_ENTER, IT_DIR_LEAVE, IT_ENTRY, IT_FILE_START, IT_FILE_END };

/* What a file's new chunks may be patched against (FORMAT.md section 9.1): the block hashes
 * of the file as the seed stored it, and the seed's chunk list for it. Kept per file in the
 * catalog; backups carry it forward unchanged, so a patch always copies from the seed. */
struct baseline {
	uint64_t *blocks;
	uint32_t nblocks;
	uint8_t (*base)[OFS_ID_LEN];
	uint32_t nbase;
	int same;		/* base is the file's own chunk list (base unused) */
};

/* Shared by the chunks of one file a backup reads: the baseline resolved through the index.
 * Read-only once made; freed with its last reference. */
struct patch_src {
	int refs;
	const uint64_t *old;	/* the baseline's block hashes (borrowed from the catalog) */
	uint32_t nold;
	uint32_t nbase;		/* bases with a known length (a prefix of the baseline's) */
	const uint8_t (*base)[OFS_ID_LEN];
	uint64_t *off;		/* nbase + 1 cumulative offsets */
	uint8_t *ok;		/* base is a data chunk in a container: may be copied from */
	size_t last_len;	/* the seed's last block when shorter than a block, else 0 */
};

struct item {
	int kind;
	int done;		/* chunk processed by a worker */
	uint8_t *data;		/* chunk: raw bytes (owned until processed) */
	size_t len;
	uint8_t id[OFS_ID_LEN];
	struct ofs_buf stored;	/* chunk: sealed bytes when new */
	int is_new;
	int is_patch;		/* chunk: stored is a patch blob */
	struct patch_src *ps;	/* chunk of a file with a baseline (one reference) */
	uint64_t foff;		/* chunk: offset in the file's data */
	uint64_t *nh;		/* chunk: new block hashes from block nh_first on */
	uint64_t nh_first;
	uint32_t nh_n;
	int has_probe;		/* chunk: probe is the hash of the new data over the seed's */
	uint64_t probe;		/* last, shorter block (ofs_blocks_probe) */
	struct baseline bl;	/* FILE_START: borrowed from the catalog; FILE_END: owned, new */
	struct ofs_node node;	/* DIR_ENTER, ENTRY, FILE_START */
	char *path;		/* FILE_START: absolute source path (catalog key) */
	int reused;		/* FILE_START: node.chunks already filled from the catalog */
	int drop;		/* FILE_END (and a small file's chunk): could not be read: leave
				 * the file out */
	int changed;		/* FILE_END (and a small file's chunk): changed while read */
	/* A small file's only chunk, read by the worker that takes it (SMALL_FILE): path is
	 * the file, len its size at the walk, fmtime/fctime its times; after the read, len
	 * is what was read, and reason says why it could not be when drop is set. */
	int small;
	int64_t fmtime, fctime;
	char *reason;
	size_t charged;		/* chunk: bytes counted in ring.inflight */
	struct item *next;	/* consumed: in ring.spent */
};

/* Catalog of files completed so far: lets a resumed run skip files it already stored. */
struct cat_entry {
	char *path;
	uint64_t size, ino;
	int64_t mtime, ctime;
	uint8_t (*chunks)[OFS_ID_LEN];
	uint32_t nchunks;
	struct baseline *bl;	/* owned; NULL: none (most files: keeps the entry small) */
};

struct cat_key {
	uint64_t h;	/* XXH64 of the path */
	size_t idx;	/* its entry */
};

struct catalog {
	struct cat_entry *e;
	size_t n, cap;
	int sorted;		/* keys is built and current (an add clears it) */
	struct cat_key *keys;	/* for ofs_stg_cat_find: sorted by hash */
	/* The entries' paths, chunk lists and baselines live until the run ends: they come
	 * from mapped blocks of their own, not the heap, where thousands of small lasting
	 * allocations among the chunk buffers would keep freed space from being reused. */
	uint8_t *pool;
	size_t pool_left;
	void **blocks;
	size_t *block_len;
	uint8_t *block_file;	/* per block: a shared mapping of fd (else memory) */
	size_t nblocks;
	/* With backed, the blocks are shared mappings of fd, an unnamed file in the state dir:
	 * the kernel can write them out and drop them under memory pressure. The catalog of a
	 * large seed is gigabytes (a block hash per 32 KiB, an id per chunk), which would
	 * otherwise have to stay in RAM until the run ends. */
	int backed, fd;
	uint64_t flen;
	/* The entry array too is a shared mapping of an unnamed file (efd) while e_file. With
	 * both in files, ofs_stg_cat_drop lets go of the pages: the process's memory then does
	 * not grow with the number of files, the data stays in the file (SPEC §17). */
	int efd, efd_open, e_file;
	size_t lookups;		/* finds since the last drop */
	/* The lookup keys (16 bytes a file) sorted in a third unnamed file (kfd, from
	 * kbase), read a block at a time; in memory only the first hash of each block
	 * (fence). Without that file, keys holds them all. cursor: the entry after the last
	 * one found, tried first (a walk meets the files in the order it catalogued them). */
	int kfd, kfd_open, keys_file;
	uint64_t kbase;
	uint64_t *fence;
	size_t cursor;
};

struct level {
	struct ofs_tree_enc enc;	/* the directory's tree, written entry by entry in walk
					 * (name) order, its nodes released as they go */
	struct ofs_blob_sealer *bs;	/* enc's bytes, hashed and compressed as they come */
	struct ofs_node dir;	/* the directory node (unused for the root level) */
	char *path;		/* its absolute path, for messages (NULL for the root level) */
};

/* ---- each part's state ---------------------------------------------------------------- */

/* The ring of items between the parts (stage.c): the producer fills it, workers process
 * chunks in any order, the writer consumes strictly in ring order. Everything here is under
 * mu. */
struct stage_ring {
	pthread_mutex_t mu;
	pthread_cond_t cv_space, cv_work, cv_done;
	struct item **slot;	/* RING_SLOTS */
	uint64_t head;		/* next slot the producer fills */
	uint64_t tail;		/* next slot the writer consumes */
	uint64_t work_next;	/* next slot workers look at */
	size_t inflight;
	int stop;		/* set on failure: everyone winds down */
	int producer_done;
	int failed_code;
	struct ofs_error failed;
	double wait_producer, wait_writer, wait_workers;	/* seconds blocked (-v) */
	/* Who sleeps, so wake-ups can be batched: with many small files, waking a thread per
	 * item costs more than the work (a context switch per file). */
	int writer_waiting, workers_waiting, producer_waiting;
	/* Consumed small items the writer leaves for the producer to free (SPENT_MAX bytes
	 * at most each): the writer is the pipeline's narrowest part with many small files,
	 * and freeing what other threads allocated made it wait on their malloc arenas. */
	struct item *spent;
};

/* Deduplication, shared by every part: the repository index (repo->idx) and the pending
 * table have their own lock: every chunk is looked up, and under the ring's lock that
 * lookup queued behind the ring's traffic. */
struct stage_dedup {
	pthread_mutex_t idx_mu;
	struct ofs_blobtab *pending;	/* ids accepted for storage, not yet in a written pack */
	/* The ids accepted before the last rotation, all from ring slots before old_until:
	 * freed at the first checkpoint after the writer passed that slot (their packs are
	 * then closed and in the index), so the pending ids never add up to a second index. */
	struct ofs_blobtab *pending_old;
	uint64_t old_until;
};

/* Is id new (in neither the index nor a pending table)? Then it is pending from now on.
 * Under dedup.idx_mu. */
static inline int
ofs_stg_accept(struct stage_dedup *d, struct ofs_blobtab *idx, const uint8_t id[OFS_ID_LEN],
    const struct ofs_blob_ref *as)
{
	struct ofs_blob_ref ref;

	return !ofs_blobtab_lookup(idx, id, &ref) &&
	    (d->pending_old == NULL || !ofs_blobtab_lookup(d->pending_old, id, &ref)) &&
	    ofs_blobtab_add_blob(d->pending, id, as) == 0;
}

/* The producer (stage_produce.c): walks, reads and chunks on the calling thread. */
struct stage_produce {
	struct ofs_chunker chunker;
};

/* The workers (stage_worker.c): id, dedup, patch, compress and seal each chunk. */
struct stage_workers {
	pthread_t *threads;
	int started;
};

/* Packs and containers (stage_container.c), written by the writer thread only. */
struct stage_container {
	struct ofs_pack_writer pw;	/* data pack: only its entries are used when blobs
					 * stream to a container; backup: the loose pack */
	int pack_open;
	uint64_t pack_off, pack_len;
	struct ofs_xxh *pack_h;
	uint64_t pack_target;
	struct ofs_cwriter *cw;
	uint32_t seq;		/* current container's sequence number (0: none open) */
	uint32_t next_seq;
	struct ofs_index_pack *cpacks;	/* packs in the open container */
	size_t ncpacks, capcpacks;
	uint8_t set_id[16];
	/* stage onto disks */
	uint64_t climit;		/* size limit of the open container */
	int cur_disk;			/* disk of the open container, -1: none */
	char **sealed_serial;		/* disk serial of each res->sealed entry, same order */
};

struct upload;

/* Loose packs and their uploads (stage_upload.c): finished loose packs go to storage from a
 * pool of threads; the index files list only packs whose put succeeded (drained before
 * each one is written). mu guards the queue, the counters and loose. */
struct stage_upload {
	/* Loose packs (data/<xx>/<id>) stored but not yet listed in an index file: every pack
	 * of a backup, and the tree packs of a stage. Trees stay out of containers so that they
	 * are metadata, copied to every disk: a lost disk then loses only its own file data. */
	struct ofs_index_pack *loose;
	size_t nloose, caploose;
	struct ofs_pack_writer tw;	/* stage: tree blobs */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct upload *q_head, **q_tail;
	size_t n;			/* queued + in flight */
	uint64_t bytes;
	int quit;
	int code;			/* first failure */
	struct ofs_error err;
	pthread_t *threads;
	int nthreads;
};

/* The catalogs and the journal (stage_journal.c; the codec in stage_catalog.c). */
struct stage_journal {
	struct catalog done_files;	/* files completed in this run (and resumed ones) */
	struct catalog prev;		/* catalog from the journal of an interrupted run */
	int has_parent;
	uint8_t parent[OFS_ID_LEN];	/* snapshot the catalog came from */
	/* journal segments written by this run (0: the next checkpoint writes the file anew),
	 * done_files entries they hold, the file's length, and its length after the last
	 * whole rewrite */
	uint64_t seg, cat_n, len, base;
	uint64_t since_ckpt;		/* pack bytes since the last checkpoint */
	double last_ckpt;
};

/* Trees and the file being assembled (stage_tree.c), the writer thread's. */
struct stage_tree {
	struct level *levels;
	size_t nlevels, caplevels;
	struct ofs_node cur;	/* file being assembled */
	int have_cur;
	int cur_drop, cur_changed;	/* what its small-file chunk's read found */
	uint64_t cur_bytes;		/* data in its chunks so far */
	char *cur_path;
	struct baseline cur_bl;	/* borrowed from jn.prev */
	uint8_t root_tree[OFS_ID_LEN];
};

/* The driver (stage.c): one run, holding every part. */
/* The bounds above, as this run applies them: the defaults, or for tests small values from
 * OFFSEED_TEST_STAGE_LIMITS="SLICE,BLOBS,FILES" (journal records per rewrite segment,
 * blobs per container, files per checkpoint), so a few thousand files exercise them. */
struct stage_limits {
	size_t journal_slice;
	uint64_t container_blobs;
	size_t checkpoint_files;
};

struct stage {
	struct stage_limits lim;
	struct ofs_repo *repo;
	const struct ofs_stage_opts *o;
	struct ofs_progress *pr;
	struct ofs_stage_result *res;
	struct ofs_blob_ctx *wctx;	/* the writer thread's (and the driver's) */

	struct stage_ring ring;
	struct stage_dedup dedup;
	struct stage_produce prod;
	struct stage_workers wk;
	struct stage_container ct;
	struct stage_upload up;
	struct stage_journal jn;
	struct stage_tree tr;
};

/* ---- items (inline: the producer, workers and writer make and free one per chunk) ----- */

static inline struct item *
item_new(int kind)
{
	struct item *it = ofs_xcalloc(1, sizeof(*it));

	it->kind = kind;
	ofs_buf_init(&it->stored, 0);
	return it;
}

static inline void
ps_release(struct patch_src *ps)
{
	if (ps == NULL || __atomic_sub_fetch(&ps->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(ps->off);
	free(ps->ok);
	free(ps);
}

static inline void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	free(it->data);
	free(it->nh);
	ps_release(it->ps);
	if (it->kind == IT_FILE_END)
		free(it->bl.blocks);	/* FILE_START's is borrowed */
	ofs_buf_release(&it->stored);
	ofs_node_release(&it->node);
	free(it->path);
	free(it->reason);
	free(it);
}

static inline void
items_free(struct item *it)
{
	while (it != NULL) {
		struct item *next = it->next;

		item_free(it);
		it = next;
	}
}

/* ---- stage.c: the driver -------------------------------------------------------------- */

/* Stop the run with code and err (the first failure wins; err may be NULL): every thread
 * winds down. Takes ring.mu. */
void ofs_stg_fail(struct stage *s, int code, const struct ofs_error *err);

/* ---- stage_produce.c ------------------------------------------------------------------ */

/* The producer: walk w, read and chunk every file, queue the items; ends with
 * ring.producer_done. Returns 0, or -1 when the run stopped (ring.failed says why). */
int ofs_stg_produce(struct stage *s, struct ofs_walk *w);
/* A worker reads a small file's chunk (item.small): the whole file, as the producer would.
 * Sets it->drop and it->reason (owned) when it cannot be read, it->changed when it changed,
 * and it->len to what was read (0: nothing to store). */
void ofs_stg_read_small(struct stage *s, struct item *it, uint8_t *buf, char **xl,
    size_t *xlcap);
/* List a skipped entry (o->walk.skipped) and warn. */
void ofs_stg_skipped(struct stage *s, const char *path, const char *reason);

/* ---- stage_worker.c ------------------------------------------------------------------- */

/* Start nthreads workers; ofs_stg_workers_join stops the idle ones and waits for all. */
void ofs_stg_workers_start(struct stage *s, int nthreads);
void ofs_stg_workers_join(struct stage *s);

/* ---- stage_container.c ---------------------------------------------------------------- */

/* Where container file `name` ("<set>-<seq>.vhd", or ".….partial") lives: the staging
 * folder's containers/ (k < 0 or no disks), or the containers folder of disk k. Owned;
 * NULL for a repository without a folder. */
char *ofs_stg_container_file(struct stage *s, int k, const char *name);
/* Add a sealed blob to the current pack: streamed into the open container (opening,
 * closing and sealing containers as they fill), or, for backups and trees, into a loose
 * pack queued for upload when full. */
int ofs_stg_add_blob(struct stage *s, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const struct ofs_buf *stored, uint32_t rawlen, struct ofs_error *err);
/* The same for a tree sealed in a buffer of its own: the first tree of a pack takes the
 * buffer's storage (*stored is left with other storage, to be freed by its owner). */
int ofs_stg_add_tree(struct stage *s, const uint8_t id[OFS_ID_LEN], struct ofs_buf *stored,
    uint32_t rawlen, struct ofs_error *err);
/* Close the open packs (data and, for a stage, trees). */
int ofs_stg_flush_pack(struct stage *s, struct ofs_error *err);
/* Seal the open container (none: nothing to do) and write its index file. */
int ofs_stg_seal_container(struct stage *s, struct ofs_error *err);
/* Write a new index file listing packs. */
int ofs_stg_write_index_file(struct stage *s, const struct ofs_index_pack *packs, size_t n,
    struct ofs_error *err);
/* Free the open container's pack list entries (keeps the array). */
void ofs_stg_cpacks_clear(struct stage *s);
/* Remove unfinished containers no journal names (see the function). */
void ofs_stg_remove_orphan_partials(struct stage *s);

/* ---- stage_upload.c ------------------------------------------------------------------- */

void ofs_stg_uploads_start(struct stage *s);
/* Stop the uploaders once the queue is empty; cancel drops what is still queued. */
void ofs_stg_uploads_stop(struct stage *s, int cancel);
/* Finish loose pack w and queue it for upload (its blobs enter the index now). */
int ofs_stg_close_loose_pack(struct stage *s, struct ofs_pack_writer *w,
    struct ofs_error *err);
/* List the loose packs stored so far in an index file (waits for the uploads first). */
int ofs_stg_index_loose(struct stage *s, struct ofs_error *err);
/* Index the packs in data/ a killed backup stored but never listed. */
void ofs_stg_adopt_orphan_packs(struct stage *s);

/* ---- stage_catalog.c: the catalog in memory and the codec of FORMAT.md section 16 ----- */

/* An empty catalog is all zeros. Back its pool with an unnamed file in dir where possible
 * (else memory). */
void ofs_stg_cat_back(struct catalog *c, const char *dir);
void ofs_stg_cat_release(struct catalog *c);
/* Unmap what of c lives in its files (pool blocks but the one being filled, the entry
 * array): nothing is lost, the pages come back from the file when touched. Only the
 * thread that adds to c calls it. */
void ofs_stg_cat_drop(struct catalog *c);
/* Add a copy of path, n's size/inode/times/chunks and bl (NULL or nblocks 0: none). */
void ofs_stg_cat_add(struct catalog *c, const char *path, const struct ofs_node *n,
    const struct baseline *bl);
/* The entry for path, or NULL (sorts the catalog on first use after an add). */
const struct cat_entry *ofs_stg_cat_find(struct catalog *c, const char *path);
/* The baseline of e (which has one) with its base list spelled out (pointers into e). */
struct baseline ofs_stg_bl_of(const struct cat_entry *e);

/* Catalog records (section 16.1): the bytes ofs_stg_cat_encode appends for records from
 * on; append them (count first); decode records into c, with_bl: the records carry a
 * baseline (catalog 2, journal 3 and 4). Encoding returns 0, or OFS_ERR_LIMIT when b's
 * maximum is reached. Decoding returns 0, or -1 with rd bad on malformed or truncated
 * records (those decoded before stay in c). */
size_t ofs_stg_cat_size(const struct catalog *c, size_t from);
/* The same for the records [from, to). */
size_t ofs_stg_cat_size_range(const struct catalog *c, size_t from, size_t to);
int ofs_stg_cat_encode_range(const struct catalog *c, size_t from, size_t to, struct ofs_buf *b);
__attribute__((warn_unused_result))
int ofs_stg_cat_encode(const struct catalog *c, size_t from, struct ofs_buf *b);
int ofs_stg_cat_decode(struct ofs_rd *rd, struct catalog *c, int with_bl);

/* Catalog file plaintext (section 16.2): "OFSCAT02" ‖ snapshot id ‖ records. _head reads
 * the magic and snapshot id: 0 with *with_bl (records carry baselines: version 2), or -1
 * when it is not a catalog; the records follow in rd. _encode returns 0, or OFS_ERR_LIMIT
 * when out's maximum is reached. */
__attribute__((warn_unused_result))
int ofs_stg_catalog_encode(const uint8_t snap[OFS_ID_LEN], const struct catalog *c,
    struct ofs_buf *out);
/* The same with only the records [from, to): one segment of a catalog file. */
int ofs_stg_catalog_encode_range(const uint8_t snap[OFS_ID_LEN], const struct catalog *c,
    size_t from, size_t to, struct ofs_buf *out);
int ofs_stg_catalog_head(struct ofs_rd *rd, uint8_t snap[OFS_ID_LEN], int *with_bl);

/* The state a journal segment records besides its catalog records (section 16.1). To
 * encode, every pointer is borrowed (sealed/sealed_serial: nsealed containers, from the
 * run's manifest); decoding fills struct jstate. */
struct jhead {
	const uint8_t *set_id;		/* 16 bytes */
	uint32_t next_seq, open_seq;
	uint64_t committed;
	const struct ofs_index_pack *packs;
	size_t npacks;
	const char *open_serial, *open_mount;
	uint64_t open_limit;
	const struct ofs_manifest_file *sealed;
	char *const *sealed_serial;
	size_t nsealed;
};

/* What one journal segment (or a single-object journal) records; the last one wins. */
struct jstate {
	uint8_t set_id[16];
	uint32_t next_seq, openseq;
	uint64_t committed, climit;
	struct ofs_index_pack *packs;
	size_t np;
	char *oserial, *omnt;
	struct jsealed {
		char *path, *serial;
		struct ofs_file_hashes h;
	} *sealed;
	size_t nsealed;
};

/* Append a version 4 segment plaintext: h, then the records of c from on. Returns 0,
 * OFS_ERR_LIMIT when out's maximum is reached, or an error of ofs_index_encode. */
int ofs_stg_journal_encode(const struct jhead *h, const struct catalog *c, size_t from,
    struct ofs_buf *out);
/* The same with only the catalog records [from, to) (a rewrite in several segments). */
int ofs_stg_journal_encode_range(const struct jhead *h, const struct catalog *c, size_t from,
    size_t to, struct ofs_buf *out);
/* Parse a journal plaintext (versions 1-4) into st (released first; owned: release with
 * ofs_stg_jstate_release); its catalog records are added to c. Returns 0, or
 * OFS_ERR_CORRUPT (or an error of ofs_index_decode) naming path. */
int ofs_stg_journal_decode(const uint8_t *p, size_t len, const char *path, struct jstate *st,
    struct catalog *c, struct ofs_error *err);
void ofs_stg_jstate_release(struct jstate *st);

/* ---- stage_journal.c: checkpoints, the journal and catalog files ---------------------- */

/* Close the packs, sync the open container, index the loose packs and write a journal
 * segment. */
int ofs_stg_checkpoint(struct stage *s, struct ofs_error *err);
/* Write a journal segment (the first of a run, or a large growth: the whole file anew). */
int ofs_stg_write_journal(struct stage *s, struct ofs_error *err);
/* STATE/<repo>/stage.journal (backup.journal for loose). Owned. */
char *ofs_stg_journal_path(struct stage *s);
/* Load an interrupted run's journal. Returns 1 if resumed, 0 if there was none, or an
 * error. */
int ofs_stg_load_journal(struct stage *s, struct ofs_error *err);
/* The last run's catalog into jn.prev, if its snapshot still exists (else nothing). */
void ofs_stg_load_catalog(struct stage *s);
/* After a complete run: this run's catalog for the next one. */
int ofs_stg_save_catalog(struct stage *s, struct ofs_error *err);

/* ---- stage_tree.c: the writer --------------------------------------------------------- */

/* Open a tree level (one per directory being assembled). */
struct level *ofs_stg_push_level(struct stage *s);
/* End level l's tree, store it if new, and return its id (l's encoder and stream are
 * used up either way; ofs_stg_trees_release frees them). */
int ofs_stg_store_tree(struct stage *s, struct level *l, uint8_t id[OFS_ID_LEN],
    struct ofs_error *err);
/* The writer thread (arg: the stage): consumes items in ring order. */
void *ofs_stg_writer(void *arg);
/* Free the levels and the file being assembled. */
void ofs_stg_trees_release(struct stage *s);

#endif
