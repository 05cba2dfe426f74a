/* Fuzz target: set manifest JSON parser; whatever parses must encode, and the encoding must
 * parse back to the same bytes. Also feeds the input to the destination parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "setmanifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_set_manifest *m = NULL, *m2 = NULL;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	struct ofs_error err;
	char *s, *acct, *cont, *pre;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ofs_dest_parse(s, &acct, &cont, &pre, &err) == 0) {
		if (!ofs_azure_container_name_ok(cont))
			abort();
		free(acct);
		free(cont);
		free(pre);
	}
	free(s);
	if (ofs_set_manifest_parse(data, size, "fuzz", &m, &err) != 0)
		return 0;
	if (ofs_set_manifest_encode(m, &a, &err) != 0)
		abort();
	if (ofs_set_manifest_parse(a.data, a.len, "fuzz-again", &m2, &err) != 0)
		abort();
	if (ofs_set_manifest_encode(m2, &b, &err) != 0 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	ofs_set_manifest_free(m);
	ofs_set_manifest_free(m2);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	return 0;
}
