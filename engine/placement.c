/* placement: which disk each sealed container of a seed set goes on (by capacity, disks on
 * one filesystem sharing its space), decided before prep writes anything; and, when the set
 * does not fit, how many bytes and disks are missing. Layout: docs/FORMAT.md §21-22. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "placement.h"
#include "util.h"

#define SLACK (256u << 10)

/* One placement run. */
struct placer {
	struct ofs_place_file *const *files;
	size_t nfiles;
	const struct ofs_place_disk *disks;
	size_t ndisks;
	const struct ofs_place_opts *o;
	struct ofs_place_file **todo;	/* containers not pinned, largest first once sorted */
	size_t ntodo;
	int64_t *pool_room;		/* per pool (indexed by its first disk): signed bytes */
	uint64_t reserve0;		/* the first disk's reserve, named in a message */
	uint64_t deficit;		/* bytes pools lack before any unpinned container */
};

static uint64_t
round_up(uint64_t n, uint64_t b)
{
	return b ? (n + b - 1) / b * b : n;
}

struct skip_arg {
	const struct placer *pl;
	size_t disk;
};

/* Pinned containers stay: their space is not reclaimed. */
static int
skip_pinned(void *arg, const char *full)
{
	struct skip_arg *a = arg;
	const struct ofs_place_disk *d = &a->pl->disks[a->disk];
	size_t n = strlen(d->mnt);

	if (strncmp(full, d->mnt, n) != 0 || full[n] != '/')
		return 0;
	for (size_t i = 0; i < a->pl->nfiles; i++) {
		const struct ofs_place_file *f = a->pl->files[i];

		if (f->is_container && f->present && f->disk == (int)a->disk &&
		    strcmp(full + n + 1, f->dst) == 0)
			return 1;
	}
	return 0;
}

/* Space every disk needs besides containers: the metadata copy, manifests (twice, for the
 * atomic replace), the id file and some slack for directories. */
static uint64_t
reserve_for(const struct placer *pl, uint64_t block)
{
	uint64_t meta = 0, mf = 1024, set = 1024 + 256 * pl->ndisks;

	for (size_t i = 0; i < pl->nfiles; i++) {
		const struct ofs_place_file *f = pl->files[i];

		if (!f->is_container)
			meta += round_up(f->mf->h.size, block);
		mf += strlen(f->dst) + 96 + 36 * f->mf->h.nregions;
		if (f->is_container)
			set += strlen(f->name) + 4;
	}
	return meta + 2 * round_up(mf, block) + 2 * round_up(set, block) + round_up(64, block) +
	    SLACK;
}

static int
cmp_size_desc(const void *a, const void *b)
{
	const struct ofs_place_file *x = *(struct ofs_place_file *const *)a;
	const struct ofs_place_file *y = *(struct ofs_place_file *const *)b;

	if (x->mf->h.size != y->mf->h.size)
		return x->mf->h.size < y->mf->h.size ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Greedy: largest first into the bin with the most room. rooms[] are signed byte counts;
 * returns how many items did not fit and their rounded total. */
static size_t
place(struct ofs_place_file **items, size_t n, int64_t *rooms, size_t nbins,
    const uint64_t *blocks, int *where, uint64_t *unfit_bytes)
{
	size_t unfit = 0;

	*unfit_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		size_t best = SIZE_MAX;

		for (size_t b = 0; b < nbins; b++)
			if (best == SIZE_MAX || rooms[b] > rooms[best])
				best = b;
		where[i] = -1;
		if (best != SIZE_MAX && rooms[best] >= 0 &&
		    (uint64_t)rooms[best] >= round_up(items[i]->mf->h.size, blocks[best])) {
			rooms[best] -= (int64_t)round_up(items[i]->mf->h.size, blocks[best]);
			where[i] = (int)best;
		} else {
			unfit++;
			*unfit_bytes += round_up(items[i]->mf->h.size, blocks[0]);
		}
	}
	return unfit;
}

/* Pin containers to the disk whose manifest lists them, or where they are whole; collect
 * the others in pl->todo. */
static int
pin(struct placer *pl, struct ofs_error *err)
{
	for (size_t i = 0; i < pl->nfiles; i++) {
		struct ofs_place_file *f = pl->files[i];

		if (!f->is_container)
			continue;
		for (size_t k = 0; k < pl->ndisks && f->disk < 0 && !pl->o->direct; k++) {
			const struct ofs_manifest *m = pl->disks[k].old;

			for (size_t j = 0; m != NULL && j < m->nfiles; j++)
				if (strcmp(m->files[j].path, f->dst) == 0) {
					f->disk = (int)k;
					break;
				}
		}
		for (size_t k = 0; k < pl->ndisks && f->disk < 0; k++) {
			char *full = ofs_path_join(pl->disks[k].mnt, f->dst);

			if (ofs_file_size(full) == f->mf->h.size)
				f->disk = (int)k;
			free(full);
		}
		f->pinned = f->disk >= 0;
		if (f->pinned) {
			char *full = ofs_path_join(pl->disks[f->disk].mnt, f->dst);

			f->present = ofs_file_size(full) == f->mf->h.size;
			free(full);
		} else {
			pl->todo = ofs_xreallocarray(pl->todo, pl->ntodo + 1, sizeof(*pl->todo));
			pl->todo[pl->ntodo++] = f;
		}
	}
	if (pl->o->direct && pl->ntodo > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "container '%s' of seed set %s is on none "
		    "of the given disks (give every disk stage wrote to)", pl->todo[0]->name,
		    pl->o->seed_set);
	if (pl->o->repair && pl->ntodo > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "prep --repair: container '%s' is on none "
		    "of the given disks (give all disks of the set, or run prep without --repair)",
		    pl->todo[0]->name);
	return 0;
}

/* Room per pool: free space + our own files that will be replaced - the reserve, less the
 * pinned containers still to be written; pl->deficit sums the pools already short. */
static void
measure_rooms(struct placer *pl)
{
	for (size_t k = 0; k < pl->ndisks; k++) {
		const struct ofs_place_disk *d = &pl->disks[k];
		struct skip_arg a = { pl, k };
		uint64_t reserve, reclaim;
		char *dir;

		reserve = reserve_for(pl, d->sp.block);
		if (k == 0)
			pl->reserve0 = reserve;
		dir = ofs_path_join(d->mnt, "PageBlob");
		reclaim = ofs_tree_bytes(dir, d->sp.block, skip_pinned, &a);
		free(dir);
		dir = ofs_path_join(d->mnt, "BlockBlob");
		reclaim += ofs_tree_bytes(dir, d->sp.block, NULL, NULL);
		free(dir);
		if (d->pool == k)
			pl->pool_room[k] = (int64_t)d->sp.avail;
		pl->pool_room[d->pool] += (int64_t)reclaim - (int64_t)reserve;
	}
	/* A container pinned to a disk where it is not whole still has to be written there. */
	for (size_t i = 0; i < pl->nfiles; i++) {
		const struct ofs_place_file *f = pl->files[i];

		if (f->is_container && f->pinned && !f->present)
			pl->pool_room[pl->disks[f->disk].pool] -= (int64_t)round_up(f->mf->h.size,
			    pl->disks[f->disk].sp.block);
	}
	for (size_t k = 0; k < pl->ndisks; k++)
		if (pl->disks[k].pool == k && pl->pool_room[k] < 0)
			pl->deficit += (uint64_t)-pl->pool_room[k];
}

/* How many empty disks of room vroom (allocation unit vblock) the nl containers left[]
 * (largest first) need; 0 when even one of them does not fit on such a disk. */
static uint64_t
extra_disks(struct ofs_place_file **left, size_t nl, int64_t vroom, uint64_t vblock)
{
	if (vroom <= 0 || round_up(left[0]->mf->h.size, vblock) > (uint64_t)vroom)
		return 0;
	for (size_t k = 1; k <= nl; k++) {
		int64_t *vr = ofs_xcalloc(k, sizeof(int64_t));
		uint64_t *vb = ofs_xcalloc(k, sizeof(uint64_t)), ub;
		int *vw = ofs_xcalloc(nl, sizeof(int));
		size_t u;

		for (size_t b = 0; b < k; b++) {
			vr[b] = vroom;
			vb[b] = vblock;
		}
		u = place(left, nl, vr, k, vb, vw, &ub);
		free(vr);
		free(vb);
		free(vw);
		if (u == 0)
			return k;
	}
	return 0;
}

/* The set does not fit: fill *need and say what to do. where[] is place()'s answer for
 * pl->todo, unfit_bytes the rounded size of what it could not place. */
static int
no_space(const struct placer *pl, const int *where, size_t unfit, uint64_t unfit_bytes,
    struct ofs_place_need *need, struct ofs_error *err)
{
	uint64_t smallest = UINT64_MAX, vblock = 4096;
	char nb[32], dsz[32];

	for (size_t k = 0; k < pl->ndisks; k++)
		if (pl->disks[k].sp.total < smallest) {
			smallest = pl->disks[k].sp.total;
			vblock = pl->disks[k].sp.block;
		}
	need->bytes = unfit_bytes + pl->deficit;
	need->disks = 0;
	if (pl->deficit == 0) {
		/* Add empty disks of the smallest given size until the rest fits. */
		struct ofs_place_file **left = ofs_xcalloc(unfit, sizeof(*left));
		size_t nl = 0;

		for (size_t i = 0; i < pl->ntodo; i++)
			if (where[i] < 0)
				left[nl++] = pl->todo[i];
		need->disks = extra_disks(left, nl,
		    (int64_t)smallest - (int64_t)reserve_for(pl, vblock), vblock);
		free(left);
	}
	ofs_fmt_size(need->bytes, nb, sizeof(nb));
	ofs_fmt_size(smallest, dsz, sizeof(dsz));
	if (need->disks > 0)
		return ofs_err_set(err, OFS_ERR_NOSPACE, "the disks cannot hold seed set %s: "
		    "%llu more bytes are needed (%s); add %llu more disk%s of %s (the smallest "
		    "given size)", pl->o->seed_set, (unsigned long long)need->bytes, nb,
		    (unsigned long long)need->disks, need->disks == 1 ? "" : "s", dsz);
	if (pl->deficit > 0)
		return ofs_err_set(err, OFS_ERR_NOSPACE, "the disks cannot hold seed set %s: "
		    "%llu more bytes are needed (%s); every disk needs room for the repository "
		    "metadata (%llu bytes) and some disks do not have it", pl->o->seed_set,
		    (unsigned long long)need->bytes, nb, (unsigned long long)pl->reserve0);
	return ofs_err_set(err, OFS_ERR_NOSPACE, "the disks cannot hold seed set %s: %llu more "
	    "bytes are needed (%s); the largest container does not fit on a disk of %s (the "
	    "smallest given size): use larger disks", pl->o->seed_set,
	    (unsigned long long)need->bytes, nb, dsz);
}

/* Map pools back to disks: within a pool, the disk with the fewest container bytes. */
static void
assign_disks(const struct placer *pl, const int *where)
{
	uint64_t *load = ofs_xcalloc(pl->ndisks, sizeof(uint64_t));

	for (size_t i = 0; i < pl->nfiles; i++)
		if (pl->files[i]->is_container && pl->files[i]->pinned)
			load[pl->files[i]->disk] += pl->files[i]->mf->h.size;
	for (size_t i = 0; i < pl->ntodo; i++) {
		size_t best = SIZE_MAX;

		for (size_t k = 0; k < pl->ndisks; k++)
			if (pl->disks[k].pool == (size_t)where[i] &&
			    (best == SIZE_MAX || load[k] < load[best]))
				best = k;
		pl->todo[i]->disk = (int)best;
		load[best] += pl->todo[i]->mf->h.size;
	}
	free(load);
}

int
ofs_place_plan(struct ofs_place_file *const *files, size_t nfiles,
    const struct ofs_place_disk *disks, size_t ndisks, const struct ofs_place_opts *o,
    struct ofs_place_need *need, struct ofs_error *err)
{
	struct placer pl = { .files = files, .nfiles = nfiles, .disks = disks, .ndisks = ndisks,
	    .o = o };
	struct ofs_place_need dummy;
	int64_t *rooms = NULL;
	uint64_t *blocks = NULL, unfit_bytes = 0;
	int *where = NULL;
	size_t unfit;
	int r;

	if (need == NULL)
		need = &dummy;
	memset(need, 0, sizeof(*need));
	pl.pool_room = ofs_xcalloc(ndisks, sizeof(int64_t));
	if ((r = pin(&pl, err)) != 0)
		goto out;
	measure_rooms(&pl);
	if (pl.ntodo > 1)
		qsort(pl.todo, pl.ntodo, sizeof(*pl.todo), cmp_size_desc);
	/* Bins are pools; a container goes to the first disk of the pool with the least
	 * container bytes (so folders sharing a filesystem still spread). */
	rooms = ofs_xcalloc(ndisks, sizeof(int64_t));
	blocks = ofs_xcalloc(ndisks + 1, sizeof(uint64_t));
	where = ofs_xcalloc(pl.ntodo + 1, sizeof(int));
	for (size_t k = 0; k < ndisks; k++) {
		rooms[k] = disks[k].pool == k ? pl.pool_room[k] : INT64_MIN;
		blocks[k] = disks[k].sp.block;
	}
	unfit = place(pl.todo, pl.ntodo, rooms, ndisks, blocks, where, &unfit_bytes);
	if (unfit > 0 || pl.deficit > 0) {
		r = no_space(&pl, where, unfit, unfit_bytes, need, err);
		goto out;
	}
	assign_disks(&pl, where);
out:
	free(pl.todo);
	free(pl.pool_room);
	free(rooms);
	free(blocks);
	free(where);
	return r;
}
