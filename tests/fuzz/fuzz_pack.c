/* Fuzz target: pack parser (and the blob opener on what it accepts), with a fixed key.
 * Input: 32-byte pack id ‖ pack bytes. Seed corpus: build with -DOFS_FUZZ_MAKE_CORPUS and run
 * with the corpus folder as argument (writes valid packs under this key plus damaged ones). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ofs_blob_ctx *
fixed_ctx(void)
{
	static struct ofs_blob_ctx *c;
	struct ofs_keys k;

	if (c == NULL) {
		for (int i = 0; i < OFS_MASTER_LEN; i++)
			k.master[i] = (uint8_t)(0xf0 ^ i);
		if (ofs_keys_derive(&k, NULL) != 0)
			abort();
		c = ofs_blob_ctx_new(&k, 3);
	}
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_blob_ctx *c = fixed_ctx();
	struct ofs_pack_entry *e = NULL;
	struct ofs_buf out = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t n, need, tail;
	const uint8_t *pack;
	uint64_t len;

	if (size < OFS_ID_LEN + 4)
		return 0;
	pack = data + OFS_ID_LEN;
	len = size - OFS_ID_LEN;
	/* a short tail first, as a reader of a remote pack does */
	tail = len < 64 ? len : 64;
	if (ofs_pack_parse(c, data, pack + len - tail, tail, len, &e, &n, &need, &err) ==
	    OFS_ERR_NOTFOUND && (need < tail || need > len))
		abort();
	free(e);
	if (ofs_pack_parse(c, data, pack, len, len, &e, &n, &need, &err) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)e[i].offset + e[i].stored_len > len)
			abort();
		out.len = 0;
		(void)ofs_blob_open(c, e[i].type, e[i].id, pack + e[i].offset, e[i].stored_len,
		    e[i].raw_len, &out, &err);
	}
	free(e);
	ofs_buf_release(&out);
	return 0;
}

#ifdef OFS_FUZZ_MAKE_CORPUS
int main(int argc, char **argv);

static void
put(const char *dir, const char *name, const uint8_t *id, const uint8_t *p, size_t n)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char *path = ofs_path_join(dir, name);

	if (ofs_buf_add(&b, id, OFS_ID_LEN) != 0)
		abort();
	if (ofs_buf_add(&b, p, n) != 0)
		abort();
	if (ofs_write_file_atomic(path, b.data, b.len, 0644, NULL) != 0)
		abort();
	free(path);
	ofs_buf_release(&b);
}

int
main(int argc, char **argv)
{
	struct ofs_blob_ctx *c = fixed_ctx();
	struct ofs_pack_writer w;
	struct ofs_buf st = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN], pid[OFS_ID_LEN], raw[8000];

	if (argc != 2)
		return 2;
	ofs_pack_writer_init(&w);
	for (int nb = 0; nb < 4; nb++) {
		char name[64];

		ofs_pack_writer_reset(&w);
		for (int i = 0; i < nb * 2; i++) {
			size_t len = 100 + 700 * i;

			for (size_t j = 0; j < len; j++)
				raw[j] = (uint8_t)(i % 2 ? j * 31 + i : 'a' + j % 5);
			ofs_blob_id(c, raw, len, id);
			st.len = 0;
			ofs_blob_seal(c, (uint8_t)(i & 1), id, raw, len, 1, &st, NULL);
			ofs_pack_writer_add(&w, (uint8_t)(i & 1), id, st.data, st.len, (uint32_t)len);
		}
		if (ofs_pack_writer_finish(&w, c, pid, NULL) != 0)
			abort();
		snprintf(name, sizeof(name), "valid-%dblobs", nb * 2);
		put(argv[1], name, pid, w.data.data, w.data.len);
		if (nb == 2) {
			w.data.data[w.data.len / 3] ^= 0x40;
			put(argv[1], "bad-flipped", pid, w.data.data, w.data.len);
			w.data.data[w.data.len / 3] ^= 0x40;
			put(argv[1], "bad-truncated", pid, w.data.data + 5, w.data.len - 5);
			ofs_put_u32le(w.data.data + w.data.len - 4, 0x7fffffff);
			put(argv[1], "bad-hlen", pid, w.data.data, w.data.len);
			pid[0] ^= 1;
			put(argv[1], "bad-id", pid, w.data.data, w.data.len);
		}
	}
	put(argv[1], "bad-junk", (const uint8_t *)"junk junk junk junk junk junk ju",
	    (const uint8_t *)"\x10\x00\x00\x00random tail\x08\x00\x00\x00", 19);
	ofs_pack_writer_release(&w);
	ofs_buf_release(&st);
	return 0;
}
#endif
