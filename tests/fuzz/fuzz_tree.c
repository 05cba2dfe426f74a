/* Fuzz target: tree blob decoder. Anything it accepts must re-encode and decode to the same
 * bytes (the encoding is canonical), and the direct encoder must write what jansson writes. A tree the plain-form reader accepts must decode to
 * the same nodes through jansson: the plain reader may decline anything, never differ. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
plain_agrees(const uint8_t *data, size_t size)
{
	struct ofs_tree p, j;
	struct ofs_error err;

	if (ofs_tree_decode_plain(data, size, &p) != 0) {
		if (p.n != 0 || p.nodes != NULL)
			abort();	/* declined, yet left nodes behind */
		return;
	}
	if (ofs_tree_decode_json(data, size, "fuzz tree", &j, &err) != 0 || !ofs_tree_equal(&p, &j))
		abort();
	ofs_tree_release(&p);
	ofs_tree_release(&j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_tree t, u;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	struct ofs_error err;

	plain_agrees(data, size);
	if (ofs_tree_decode(data, size, "fuzz tree", &t, &err) != 0)
		return 0;
	for (size_t i = 0; i < t.n; i++)
		if (!ofs_name_ok(t.nodes[i].name, t.nodes[i].namelen))
			abort();
	if (ofs_tree_encode(&t, &a, &err) != 0)
		abort();
	/* the direct encoder writes what jansson writes */
	if (ofs_tree_encode_json(&t, &b, &err) != 0 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	b.len = 0;
	/* what offseed writes, the plain reader reads */
	if (ofs_tree_decode_plain(a.data, a.len, &u) == 0)
		ofs_tree_release(&u);
	else if (memchr(a.data, '\\', a.len) == NULL)
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
