/* Fuzz target: container superblock parser (and re-encoding of whatever it accepts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_superblock sb;
	struct ofs_error err;
	uint8_t again[OFS_SUPERBLOCK_SIZE];

	if (ofs_superblock_parse(data, size, "fuzz", &sb, &err) == 0) {
		/* accepted → it must be exactly what we would have written */
		ofs_superblock_encode(&sb, again);
		if (memcmp(again, data, sizeof(again)) != 0)
			abort();
	}
	return 0;
}
