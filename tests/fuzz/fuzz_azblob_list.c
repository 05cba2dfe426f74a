/* Fuzz target: the List Blobs XML reader (lib/azblob.c); every accepted item must have a
 * non-empty NUL-free name and a known type value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_error err;
	size_t i;

	if (ofs_azblob_list_parse(data, size, &l, &err) == 0) {
		for (i = 0; i < l.n; i++)
			if (l.items[i].name == NULL || l.items[i].name[0] == '\0' ||
			    l.items[i].type < OFS_AZBLOB_TYPE_UNKNOWN ||
			    l.items[i].type > OFS_AZBLOB_TYPE_APPEND)
				abort();
		if (l.next_marker && l.next_marker[0] == '\0')
			abort();
	}
	ofs_azblob_list_release(&l);
	return 0;
}
