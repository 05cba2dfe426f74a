/* A per-thread bump arena for jansson's allocations while a tree is decoded: the many small
 * values of one document are dropped together instead of freed one by one. */
#ifndef OFS_ARENA_H
#define OFS_ARENA_H

/* Route this thread's jansson allocations into its arena (reserved on first use) until
 * ofs_arena_leave. Returns 1 when the caller entered it and must call ofs_arena_leave; 0
 * when the arena is already active in this thread (a nested decode shares the outer one's)
 * or the address space cannot be reserved (jansson then uses plain malloc). Every jansson
 * value made inside is invalid after ofs_arena_leave: copy out what is kept first. */
int ofs_arena_enter(void);
/* Reset this thread's arena whole and return to plain malloc. Only after an
 * ofs_arena_enter that returned 1. */
void ofs_arena_leave(void);

#endif
