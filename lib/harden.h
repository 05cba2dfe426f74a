/* Process hardening for programs that hold key material (SPEC §15 "Secrets in memory"): no
 * core dumps, no ptrace by same-uid processes, and jansson buffers wiped when freed. */
#ifndef OFS_HARDEN_H
#define OFS_HARDEN_H

#include <stddef.h>

/* Make the process non-dumpable (prctl PR_SET_DUMPABLE 0: no core file, /proc/PID/ files
 * owned by root, no ptrace attach by other processes of the same user) and set RLIMIT_CORE
 * to 0 (soft and hard). Call first thing in main(). Best effort: a failing call is ignored
 * (there is nothing better to do, and lib/ does not print). */
void ofs_harden_process(void);

/* Install jansson allocation functions that wipe every block (explicit_bzero over its
 * usable size) before freeing it, so key material that passed through JSON (hex of keys,
 * client secrets, tokens, passphrases) does not linger in freed heap memory. Allocation is
 * plain malloc, so memory jansson hands out (json_dumps) may still be released with free()
 * (then without wiping: wipe such text yourself when it is secret), and objects allocated
 * before the call are freed correctly. Replaces any functions installed earlier (the JSON
 * tree reader's arena in lib/tree.c: its decoder then allocates from malloc). Call at the
 * top of main(), before threads start. */
void ofs_json_wipe_on_free(void);

/* Tests only: fn(p, n) is called after a block of n usable bytes at p was wiped and before
 * it is freed (NULL: none). Lets a test read the wiped bytes without touching freed memory. */
void ofs_harden_set_wipe_observer(void (*fn)(const void *p, size_t n));

#endif
