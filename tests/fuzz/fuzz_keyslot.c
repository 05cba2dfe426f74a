/* Fuzz target: key slot parser with a fixed passphrase. The parser itself rejects N > 2^22
 * before deriving; to keep fuzzing fast this harness also skips inputs whose scrypt work
 * (N·r·p) exceeds 2^16, which it finds with jansson independently of the parser. Seed
 * corpus: a slot for "fuzz passphrase 0123" at N = 2^10, plus damaged ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

#define FUZZ_PASS "fuzz passphrase 0123"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
too_costly(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL), *kdf;
	json_int_t n, r, p;
	int costly = 0;

	if (j == NULL)
		return 0;
	kdf = json_object_get(j, "kdf");
	n = json_integer_value(json_object_get(kdf, "n"));
	r = json_integer_value(json_object_get(kdf, "r"));
	p = json_integer_value(json_object_get(kdf, "p"));
	if (n > 0 && r > 0 && p > 0 && n <= (1 << 22) && r <= 32 && p <= 16 &&
	    n * r * p > (1 << 16))
		costly = 1;
	json_decref(j);
	return costly;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t master[OFS_MASTER_LEN];
	struct ofs_error err;
	int r;

	if (too_costly(data, size))
		return 0;
	r = ofs_keyslot_open(data, size, "fuzz key", FUZZ_PASS, strlen(FUZZ_PASS), master, &err);
	if (r != 0 && r != OFS_ERR_AUTH && r != OFS_ERR_CORRUPT && r != OFS_ERR_VERSION)
		abort();
	return 0;
}
