/* Fuzz target: config parser and authenticator with a fixed key (master = bytes 0..63, the key
 * of tests/golden/config.json). Seed corpus: the golden config and malformed variants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ofs_keys k;
	static int init;
	struct ofs_config c;
	struct ofs_buf b = OFS_BUF_INIT(OFS_CONFIG_MAX);
	struct ofs_error err;
	int r;

	if (!init) {
		for (int i = 0; i < OFS_MASTER_LEN; i++)
			k.master[i] = (uint8_t)i;
		if (ofs_keys_derive(&k, NULL) != 0)
			abort();
		init = 1;
	}
	(void)ofs_config_authenticate(data, size, "fuzz config", &k, &err);
	r = ofs_config_parse(data, size, "fuzz config", &c, &err);
	if (r != 0 && r != OFS_ERR_CORRUPT && r != OFS_ERR_VERSION)
		abort();
	if (r != 0)
		return 0;
	/* what parses re-encodes and parses to the same values */
	if (ofs_config_encode(&c, &k, &b, &err) == 0) {
		struct ofs_config d;

		if (ofs_config_parse(b.data, b.len, "re-encoded", &d, &err) != 0 ||
		    ofs_config_authenticate(b.data, b.len, "re-encoded", &k, &err) != 0 ||
		    d.chunk_avg != c.chunk_avg || d.created != c.created ||
		    strcmp(d.destination, c.destination) != 0)
			abort();
		ofs_config_release(&d);
	}
	ofs_config_release(&c);
	ofs_buf_release(&b);
	return 0;
}
