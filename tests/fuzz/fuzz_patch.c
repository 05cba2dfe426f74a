/* Fuzz target: patch plaintext parser and rebuild. Input: the chunk length (u32le, at most
 * 16 MiB) then the patch. Anything parsed must rebuild to exactly that length or fail as
 * corrupt (every base is 64 KiB here). Seed corpus: the golden patch and variants
 * (-DOFS_FUZZ_MAKE_CORPUS writes them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fetch(void *arg, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out, struct ofs_error *err)
{
	(void)arg;
	(void)err;
	if (ofs_buf_reserve(out, 65536) != 0)
		abort();
	for (size_t i = 0; i < 65536; i++)
		out->data[out->len++] = (uint8_t)(id[i % OFS_ID_LEN] + i);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_buf out = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct ofs_patch pt;
	uint32_t rawlen;
	int r;

	if (size < 4)
		return 0;
	rawlen = ofs_get_u32le(data) & 0xffffff;
	if (ofs_patch_parse(data + 4, size - 4, rawlen, &pt, &err) != 0)
		return 0;
	if (pt.outlen != rawlen || pt.nbases == 0 || pt.nbases > OFS_PATCH_MAX_BASES)
		abort();
	r = ofs_patch_apply(&pt, fetch, NULL, &out, &err);
	if ((r == 0 && out.len != rawlen) || (r != 0 && r != OFS_ERR_CORRUPT))
		abort();
	ofs_buf_release(&out);
	return 0;
}

#ifdef OFS_FUZZ_MAKE_CORPUS
int main(int argc, char **argv);

static void
put(const char *dir, const char *name, uint32_t rawlen, const struct ofs_buf *p)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char *path = ofs_path_join(dir, name);

	if (ofs_buf_add_u32le(&b, rawlen) != 0)
		abort();
	if (ofs_buf_add(&b, p->data, p->len) != 0)
		abort();
	ofs_write_file_atomic(path, b.data, b.len, 0644, NULL);
	free(path);
	ofs_buf_release(&b);
}

int
main(int argc, char **argv)
{
	struct ofs_patch_writer w;
	struct ofs_buf p = OFS_BUF_INIT(0);
	uint8_t a[OFS_ID_LEN], b[OFS_ID_LEN];

	if (argc != 2)
		return 2;
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	ofs_patch_writer_init(&w);
	ofs_patch_copy(&w, a, 0, 60000);
	ofs_patch_literal(&w, "hello", 5);
	ofs_patch_copy(&w, b, 65000, 536);
	if (ofs_patch_finish(&w, &p) != 0)
		abort();
	put(argv[1], "valid-two-bases.bin", 60541, &p);
	put(argv[1], "copy-past-base.bin", 60541 + 1000, &p);	/* parse refuses the length */
	ofs_patch_writer_reset(&w);
	ofs_buf_reset(&p);
	ofs_patch_copy(&w, a, 65000, 1000);			/* past the 64 KiB base */
	if (ofs_patch_finish(&w, &p) != 0)
		abort();
	put(argv[1], "apply-refuses.bin", 1000, &p);
	ofs_patch_writer_reset(&w);
	ofs_buf_reset(&p);
	ofs_patch_literal(&w, "only literal bytes", 18);
	if (ofs_buf_addc(&p, 1) != 0)
		abort();
	if (ofs_buf_add(&p, a, sizeof(a)) != 0)
		abort();
	if (ofs_buf_add_u32le(&p, w.nops) != 0)
		abort();
	if (ofs_buf_add(&p, w.ops.data, w.ops.len) != 0)
		abort();
	if (ofs_buf_add(&p, w.lit.data, w.lit.len) != 0)
		abort();
	put(argv[1], "literal-only.bin", 18, &p);
	ofs_patch_writer_release(&w);
	ofs_buf_release(&p);
	return 0;
}
#endif
