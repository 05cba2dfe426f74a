/* Fuzz target: VHD footer parser. */
#include <stdint.h>
#include <stdlib.h>

#include "container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_vhd_footer f;
	struct ofs_error err;

	if (ofs_vhd_footer_parse(data, size, "fuzz", &f, &err) == 0) {
		if (f.disk_type != 2 || f.current_size == 0 || f.current_size % 512 != 0)
			abort();
	}
	return 0;
}
