/* Process hardening: no core dumps of a process holding keys, and jansson's freed buffers
 * wiped (SPEC §15 "Secrets in memory"). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <jansson.h>

#include "harden.h"

static void (*wipe_observer)(const void *p, size_t n);

void
ofs_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
}

static void *
wipe_malloc(size_t n)
{
	return malloc(n);
}

/* Every pointer jansson frees here came from malloc (wipe_malloc, or malloc itself when it
 * was allocated before the functions were installed), so its usable size is known. */
static void
wipe_free(void *p)
{
	size_t n;

	if (p == NULL)
		return;
	n = malloc_usable_size(p);
	explicit_bzero(p, n);
	if (wipe_observer != NULL)
		wipe_observer(p, n);
	free(p);
}

void
ofs_json_wipe_on_free(void)
{
	json_set_alloc_funcs(wipe_malloc, wipe_free);
}

void
ofs_harden_set_wipe_observer(void (*fn)(const void *p, size_t n))
{
	wipe_observer = fn;
}
