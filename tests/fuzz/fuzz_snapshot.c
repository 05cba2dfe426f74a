/* Fuzz target: snapshot record decoder; accepted records must survive a re-encode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_snapshot s, u;
	struct ofs_buf a = OFS_BUF_INIT(0);
	struct ofs_error err;

	if (ofs_snapshot_decode(data, size, "fuzz snapshot", &s, &err) != 0)
		return 0;
	if (ofs_snapshot_encode(&s, &a, &err) != 0)
		abort();
	if (ofs_snapshot_decode(a.data, a.len, "re-encoded", &u, &err) != 0)
		abort();
	if (u.time_ns != s.time_ns || u.npaths != s.npaths || memcmp(u.tree, s.tree,
	    sizeof(s.tree)) != 0)
		abort();
	ofs_snapshot_release(&s);
	ofs_snapshot_release(&u);
	ofs_buf_release(&a);
	return 0;
}
