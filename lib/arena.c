/* jansson's memory while a tree is decoded (lib/tree_codec.c).
 * A tree's JSON becomes thousands of small jansson values that live only until its nodes
 * are copied out; malloc, free and glibc's consolidation of them took a quarter of a deep
 * check's tree walk. While a thread decodes a tree, jansson's allocations come from that
 * thread's arena: one reserved range of address space, bumped, and reset whole afterwards.
 * A pointer inside the decoding thread's range is not freed one by one; every other one
 * (values made outside a decode, strings json_dumps returns) is plain malloc memory. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <jansson.h>

#include "arena.h"

#define ARENA_SPAN ((size_t)8 << 30)	/* address space only (MAP_NORESERVE) */
#define ARENA_KEEP ((size_t)1 << 20)	/* pages kept between decodes */

struct jarena {
	uint8_t *base, *cur, *end;
	int active;
};

static __thread struct jarena tl_arena;

static void *
j_malloc(size_t n)
{
	struct jarena *a = &tl_arena;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (!a->active || n == 0 || need < n || need > (size_t)(a->end - a->cur))
		return malloc(n);
	p = a->cur;
	a->cur += need;
	return p;
}

static void
j_free(void *ptr)
{
	const struct jarena *a = &tl_arena;

	if (a->active && (uint8_t *)ptr >= a->base && (uint8_t *)ptr < a->end)
		return;	/* goes with the arena */
	free(ptr);
}

/* Installed before main, so jansson never holds a pointer from another allocator. Until a
 * thread enters its arena, j_malloc and j_free are malloc and free. */
__attribute__((constructor)) static void
j_setup(void)
{
	json_set_alloc_funcs(j_malloc, j_free);
}

int
ofs_arena_enter(void)
{
	struct jarena *a = &tl_arena;

	if (a->active)
		return 0;	/* a nested decode shares the outer one's arena */
	if (a->base == NULL) {
		void *m = mmap(NULL, ARENA_SPAN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED)
			return 0;
		a->base = a->cur = m;
		a->end = a->base + ARENA_SPAN;
	}
	a->active = 1;
	return 1;
}

void
ofs_arena_leave(void)
{
	struct jarena *a = &tl_arena;
	size_t used = (size_t)(a->cur - a->base);

	if (used > ARENA_KEEP)	/* give back what a large tree touched */
		madvise(a->base + ARENA_KEEP, used - ARENA_KEEP, MADV_DONTNEED);
	a->cur = a->base;
	a->active = 0;
}
