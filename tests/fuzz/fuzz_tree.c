/* Fuzz target: tree blob decoder. Anything it accepts must re-encode and decode to the same
 * bytes (the encoding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_tree t, u;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	struct ofs_error err;

	if (ofs_tree_decode(data, size, "fuzz tree", &t, &err) != 0)
		return 0;
	for (size_t i = 0; i < t.n; i++)
		if (!ofs_name_ok(t.nodes[i].name, t.nodes[i].namelen))
			abort();
	if (ofs_tree_encode(&t, &a, &err) != 0)
		abort();
	if (ofs_tree_decode(a.data, a.len, "re-encoded", &u, &err) != 0)
		abort();
	if (ofs_tree_encode(&u, &b, &err) != 0 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	ofs_tree_release(&t);
	ofs_tree_release(&u);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	return 0;
}
