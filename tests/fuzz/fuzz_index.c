/* Fuzz target: index plaintext decoder. Anything accepted must load into the in-memory table
 * and re-encode to the same bytes (the encoding is canonical). Seed corpus: the golden
 * index, variants and damaged copies (-DOFS_FUZZ_MAKE_CORPUS writes the variants). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_index_pack *p = NULL;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct ofs_blob_ref r;
	struct ofs_blobtab *x;
	size_t n;

	if (ofs_index_decode(data, size, "fuzz index", &p, &n, &err) != 0) {
		if (p != NULL || n != 0)
			abort();
		return 0;
	}
	if (ofs_index_encode(p, n, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	x = ofs_blobtab_new();
	ofs_blobtab_add_index(x, p, n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < p[i].nblobs; j++)
			if (!ofs_blobtab_lookup(x, p[i].blobs[j].id, &r))
				abort();
	ofs_blobtab_free(x);
	ofs_index_packs_free(p, n);
	ofs_buf_release(&b);
	return 0;
}

#ifdef OFS_FUZZ_MAKE_CORPUS
int main(int argc, char **argv);

int
main(int argc, char **argv)
{
	struct ofs_index_pack p[2];
	struct ofs_pack_entry e[3];
	struct ofs_buf b = OFS_BUF_INIT(0);
	char *path;

	if (argc != 2)
		return 2;
	memset(p, 0, sizeof(p));
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		memset(e[i].id, 0x31 + i, OFS_ID_LEN);
		e[i].offset = 100 * i;
		e[i].stored_len = 100;
		e[i].raw_len = 70;
		e[i].type = i == 2;
	}
	e[1].id[0] = 0x31;	/* same hash prefix as e[0]: probing */
	memset(p[0].id, 0xaa, OFS_ID_LEN);
	p[0].length = 400;
	p[0].blobs = e;
	p[0].nblobs = 3;
	memset(p[1].id, 0xbb, OFS_ID_LEN);
	p[1].loc.kind = OFS_LOC_CONTAINER;
	p[1].loc.seq = 2;
	p[1].loc.offset = 4096;
	p[1].length = 300;
	p[1].blobs = e + 1;
	p[1].nblobs = 2;	/* a blob listed in two packs: the table keeps the first */
	ofs_index_encode(p, 2, &b);
	path = ofs_path_join(argv[1], "valid-dup-blob.bin");
	ofs_write_file_atomic(path, b.data, b.len, 0644, NULL);
	free(path);
	b.len = 0;
	ofs_index_encode(p, 0, &b);
	path = ofs_path_join(argv[1], "valid-empty.bin");
	ofs_write_file_atomic(path, b.data, b.len, 0644, NULL);
	free(path);
	ofs_buf_release(&b);
	return 0;
}
#endif
