/* Fuzz target: container trailer parser (accepted input must re-encode identically). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_trailer t;
	struct ofs_error err;
	uint8_t again[OFS_TRAILER_SIZE];

	if (ofs_trailer_parse(data, size, "fuzz", &t, &err) == 0) {
		if (t.index_offset + t.index_length > t.payload_length)
			abort();
		ofs_trailer_encode(&t, again);
		if (memcmp(again, data, sizeof(again)) != 0)
			abort();
	}
	return 0;
}
