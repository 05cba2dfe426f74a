/* Fuzz target: the streaming tree reader. In every window size it accepts exactly what
 * ofs_tree_decode accepts and yields the same nodes, or refuses at open (before any node)
 * with the same code and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* streamed a byte at a time, in odd steps, in larger ones; decoded whole */
static const struct ofs_tree_reader_opts modes[] = { { 0, 1 }, { 0, 13 }, { 0, 4096 },
	{ OFS_TREE_WHOLE_MAX, 0 } };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_tree want, got;
	struct ofs_error ew, eg;
	struct ofs_tree_reader *r;
	struct ofs_node n;
	int rw, rg, k;

	memset(&ew, 0, sizeof(ew));
	rw = ofs_tree_decode(data, size, "fuzz tree", &want, &ew);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		memset(&eg, 0, sizeof(eg));
		r = NULL;
		rg = ofs_tree_reader_open_mem(data, size, "fuzz tree", &modes[m], &r, &eg);
		if (rg != rw)
			abort();
		if (rg != 0) {
			if (r != NULL || eg.code != ew.code || strcmp(eg.msg, ew.msg) != 0)
				abort();
			continue;
		}
		ofs_tree_init(&got);
		while ((k = ofs_tree_reader_next(r, &n, &eg)) == 1)
			*ofs_tree_add(&got) = n;
		if (k != 0 || !ofs_tree_equal(&got, &want))
			abort();	/* a failure after a good open, or other nodes */
		ofs_tree_reader_free(r);
		ofs_tree_release(&got);
	}
	ofs_tree_release(&want);
	return 0;
}
