/* Unit tests for lib/container.c: header codecs and golden bytes, VHD footer and geometry,
 * writer → reader round trips, resume, ENOSPC, rejection of damaged containers, and QEMU 7.2
 * (qemu-img) reading our fixed VHDs at their exact size and byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "container.h"
#include "manifest.h"
#include "util.h"

#define MIB (1024ULL * 1024)
#define REGION (64 * 1024)

static char tmpdir[] = "/tmp/ofs-test-container.XXXXXX";

/* Find a file of the source tree: $OFFSEED_TOP, the working directory, or above the binary. */
static void
top_path(const char *rel, char *out, size_t outsz)
{
	char exe[PATH_MAX], *s, *t;
	ssize_t n;

	if ((s = getenv("OFFSEED_TOP")) != NULL) {
		snprintf(out, outsz, "%s/%s", s, rel);
		return;
	}
	if (access("tests/golden", F_OK) == 0) {
		snprintf(out, outsz, "%s", rel);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	while ((s = strrchr(exe, '/')) != NULL) {
		*s = '\0';
		t = ofs_xasprintf("%s/tests/golden", exe);
		if (access(t, F_OK) == 0) {
			free(t);
			t = ofs_xasprintf("%s/%s", exe, rel);
			assert_true(strlen(t) < outsz);
			memcpy(out, t, strlen(t) + 1);
			free(t);
			return;
		}
		free(t);
	}
	fail_msg("cannot find tests/golden (set OFFSEED_TOP)");
}

/* Compare bytes with a golden file (OFFSEED_REGEN_GOLDEN=1 rewrites it). */
static void
check_golden(const char *rel, const uint8_t *p, size_t n)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char path[PATH_MAX];

	top_path(rel, path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(path, p, n, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&b, path, NULL), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, p, n);
	ofs_buf_release(&b);
}

static void
fixed_sb(struct ofs_superblock *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->version = OFS_CONTAINER_VERSION;
	for (int i = 0; i < 16; i++) {
		sb->repo_id[i] = (uint8_t)i;
		sb->set_id[i] = (uint8_t)(0x10 + i);
	}
	sb->seq = 7;
	sb->created = 1700000000;
}

static char *
tpath(const char *name)
{
	return ofs_xasprintf("%s/%s", tmpdir, name);
}

static uint8_t *
rnd(size_t n)
{
	uint8_t *p = ofs_xmalloc(n ? n : 1);

	ofs_random(p, n);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	ofs_rm_rf(tmpdir);
	return 0;
}

/* ---- codecs ---------------------------------------------------------------------------- */

static void
test_superblock_roundtrip_golden(void **state)
{
	struct ofs_superblock sb, got;
	struct ofs_error err;
	uint8_t b[OFS_SUPERBLOCK_SIZE];

	(void)state;
	fixed_sb(&sb);
	ofs_superblock_encode(&sb, b);
	assert_memory_equal(b, "OFSCONT\0", 8);
	assert_int_equal(ofs_get_u32le(b + 8), 1);
	assert_int_equal(ofs_get_u32le(b + 12), 4096);
	assert_int_equal(ofs_get_u32le(b + 48), 7);
	assert_int_equal(ofs_get_u64le(b + 4088), ofs_xxh64(b, 4088));
	check_golden("tests/golden/container-superblock-v1.bin", b, sizeof(b));
	assert_int_equal(ofs_superblock_parse(b, sizeof(b), "t", &got, &err), 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.created, 1700000000);
	assert_memory_equal(got.repo_id, sb.repo_id, 16);
	assert_memory_equal(got.set_id, sb.set_id, 16);
}

static void
test_superblock_rejects(void **state)
{
	struct ofs_superblock sb, got;
	struct ofs_error err;
	uint8_t b[OFS_SUPERBLOCK_SIZE], c[OFS_SUPERBLOCK_SIZE];

	(void)state;
	fixed_sb(&sb);
	ofs_superblock_encode(&sb, b);
	/* short */
	assert_int_equal(ofs_superblock_parse(b, 4095, "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "f.vhd"));
	/* magic */
	memcpy(c, b, sizeof(c));
	c[0] = 'X';
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "magic"));
	/* any flipped byte (checksum) */
	memcpy(c, b, sizeof(c));
	c[40] ^= 1;
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "checksum"));
	memcpy(c, b, sizeof(c));
	c[4000] = 1;
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_CORRUPT);
	/* reserved non-zero with a valid checksum */
	memcpy(c, b, sizeof(c));
	c[100] = 1;
	ofs_put_u64le(c + 4088, ofs_xxh64(c, 4088));
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "reserved"));
	/* version 0 */
	memcpy(c, b, sizeof(c));
	ofs_put_u32le(c + 8, 0);
	ofs_put_u64le(c + 4088, ofs_xxh64(c, 4088));
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_CORRUPT);
	/* newer version: OFS_ERR_VERSION naming both versions */
	memcpy(c, b, sizeof(c));
	ofs_put_u32le(c + 8, 9);
	assert_int_equal(ofs_superblock_parse(c, sizeof(c), "f.vhd", &got, &err),
	    OFS_ERR_VERSION);
	assert_non_null(strstr(err.msg, "version 9"));
	assert_non_null(strstr(err.msg, "version 1"));
}

static void
test_trailer_roundtrip_golden(void **state)
{
	struct ofs_trailer t, got;
	struct ofs_error err;
	uint8_t b[OFS_TRAILER_SIZE], c[OFS_TRAILER_SIZE];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.version = 1;
	t.index_offset = 3 * 4096;
	t.index_length = 5000;
	t.pack_count = 2;
	t.payload_length = 6 * 4096;
	ofs_trailer_encode(&t, b);
	assert_memory_equal(b, "OFSTRAIL", 8);
	check_golden("tests/golden/container-trailer-v1.bin", b, sizeof(b));
	assert_int_equal(ofs_trailer_parse(b, sizeof(b), "t", &got, &err), 0);
	assert_int_equal(got.index_offset, 3 * 4096);
	assert_int_equal(got.index_length, 5000);
	assert_int_equal(got.pack_count, 2);
	assert_int_equal(got.payload_length, 6 * 4096);
	/* checksum */
	memcpy(c, b, sizeof(c));
	c[20] ^= 0x80;
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	/* index not ending where the trailer starts */
	t.index_length = 100;
	ofs_trailer_encode(&t, c);
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "index"));
	/* index past the payload */
	t.index_length = 5000;
	t.index_offset = 1ULL << 50;
	ofs_trailer_encode(&t, c);
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	/* too many packs */
	t.index_offset = 3 * 4096;
	t.pack_count = 3;
	ofs_trailer_encode(&t, c);
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "pack count"));
	/* unaligned payload */
	t.pack_count = 2;
	t.payload_length = 6 * 4096 + 1;
	ofs_trailer_encode(&t, c);
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_CORRUPT);
	/* newer version */
	t.payload_length = 6 * 4096;
	t.version = 2;
	ofs_trailer_encode(&t, c);
	assert_int_equal(ofs_trailer_parse(c, sizeof(c), "f.vhd", &got, &err), OFS_ERR_VERSION);
}

static void
test_vhd_footer(void **state)
{
	struct ofs_vhd_footer f;
	struct ofs_error err;
	uint8_t uid[16], b[512], c[512];

	(void)state;
	for (int i = 0; i < 16; i++)
		uid[i] = (uint8_t)(0xa0 + i);
	ofs_vhd_footer_encode(16ULL << 30, uid, 1700000000, b);
	check_golden("tests/golden/container-footer-16g.bin", b, sizeof(b));
	assert_memory_equal(b, "conectix", 8);
	assert_int_equal(ofs_get_u32be(b + 0x08), 2);
	assert_int_equal(ofs_get_u32be(b + 0x0C), 0x00010000);
	assert_true(ofs_get_u64be(b + 0x10) == UINT64_MAX);
	assert_int_equal(ofs_get_u32be(b + 0x18), 1700000000 - 946684800);
	assert_memory_equal(b + 0x1C, "win ", 4);
	assert_memory_equal(b + 0x24, "Wi2k", 4);
	assert_true(ofs_get_u64be(b + 0x28) == 16ULL << 30);
	assert_true(ofs_get_u64be(b + 0x30) == 16ULL << 30);
	assert_int_equal(ofs_get_u32be(b + 0x3C), 2);
	assert_true(b[0x54] == 0);
	assert_int_equal(ofs_vhd_footer_parse(b, sizeof(b), "f", &f, &err), 0);
	assert_true(f.current_size == 16ULL << 30);
	assert_int_equal(f.disk_type, 2);
	assert_memory_equal(f.uid, uid, 16);
	/* 16 GiB: spec geometry 33288/16/63 */
	assert_int_equal(f.cylinders, 33288);
	assert_int_equal(f.heads, 16);
	assert_int_equal(f.sectors, 63);

	/* spec example: 100 MiB → 1003/12/17 */
	ofs_vhd_footer_encode(100 * MIB, uid, 0, c);
	assert_int_equal(ofs_get_u16be(c + 0x38), 1003);
	assert_int_equal(c[0x3A], 12);
	assert_int_equal(c[0x3B], 17);
	assert_int_equal(ofs_get_u32be(c + 0x18), 0);	/* clamped before 2000 */
	/* beyond CHS: the max-geometry sentinel */
	ofs_vhd_footer_encode(2040ULL << 30, uid, 0, c);
	assert_int_equal(ofs_get_u16be(c + 0x38), 65535);
	assert_int_equal(c[0x3A], 16);
	assert_int_equal(c[0x3B], 255);

	/* cookie */
	memcpy(c, b, 512);
	c[0] = 'C';
	assert_int_equal(ofs_vhd_footer_parse(c, 512, "f.vhd", &f, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "cookie"));
	/* checksum */
	memcpy(c, b, 512);
	c[0x30] ^= 1;
	assert_int_equal(ofs_vhd_footer_parse(c, 512, "f.vhd", &f, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "checksum"));
	/* dynamic type with a valid checksum */
	memcpy(c, b, 512);
	ofs_put_u32be(c + 0x3C, 3);
	ofs_put_u32be(c + 0x40, ofs_get_u32be(b + 0x40) - 1);
	assert_int_equal(ofs_vhd_footer_parse(c, 512, "f.vhd", &f, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "not fixed"));
	/* size not a sector multiple, with a valid checksum */
	memcpy(c, b, 512);
	c[0x37] = 1;
	ofs_put_u32be(c + 0x40, ofs_get_u32be(b + 0x40) - 1);
	assert_int_equal(ofs_vhd_footer_parse(c, 512, "f.vhd", &f, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "size"));
	/* short */
	assert_int_equal(ofs_vhd_footer_parse(b, 511, "f.vhd", &f, &err), OFS_ERR_CORRUPT);
}

/* ---- writer and reader ----------------------------------------------------------------- */

struct built {
	char *path;
	uint8_t *packs[3];
	size_t lens[3];
	uint64_t offs[3];
	uint8_t *index;
	size_t index_len;
	struct ofs_file_hashes h;
};

static void
build(struct built *b, const char *name)
{
	static const size_t lens[3] = { 5000, 1, 70000 };
	struct ofs_superblock sb;
	struct ofs_cwriter *w;
	struct ofs_error err;
	char *tmp;

	memset(b, 0, sizeof(*b));
	fixed_sb(&sb);
	b->path = tpath(name);
	tmp = ofs_xasprintf("%s.tmp", b->path);
	assert_int_equal(ofs_cwriter_create(tmp, &sb, REGION, &w, &err), 0);
	assert_int_equal(ofs_cwriter_length(w), 4096);
	for (int i = 0; i < 3; i++) {
		b->lens[i] = lens[i];
		b->packs[i] = rnd(lens[i]);
		assert_int_equal(ofs_cwriter_append(w, b->packs[i], lens[i], &b->offs[i], &err), 0);
		assert_int_equal(b->offs[i] % 4096, 0);
	}
	assert_int_equal(b->offs[0], 4096);
	assert_int_equal(b->offs[1], 4096 + 8192);
	assert_int_equal(b->offs[2], 4096 + 8192 + 4096);
	b->index_len = 3000;
	b->index = rnd(b->index_len);
	assert_int_equal(ofs_cwriter_sealed_size(w, 0, b->index_len), 1 * MIB + 512);
	assert_int_equal(ofs_cwriter_sync(w, &err), 0);
	assert_int_equal(ofs_cwriter_seal(w, b->index, b->index_len, 3, b->path, &b->h, &err), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
}

static void
built_free(struct built *b)
{
	for (int i = 0; i < 3; i++)
		free(b->packs[i]);
	free(b->index);
	free(b->path);
	ofs_file_hashes_release(&b->h);
}

static void
test_write_read_roundtrip(void **state)
{
	struct ofs_container *c;
	struct ofs_file_hashes h2;
	struct ofs_buf idx = OFS_BUF_INIT(1 << 20);
	struct ofs_error err;
	struct built b;
	uint8_t buf[70000];
	uint8_t id[OFS_ID_LEN];

	(void)state;
	build(&b, "rt.vhd");
	assert_int_equal(ofs_container_open(b.path, &c, &err), 0);
	assert_int_equal(c->file_size, 1 * MIB + 512);
	assert_int_equal(c->footer.current_size, 1 * MIB);
	assert_int_equal(c->sb.seq, 7);
	assert_int_equal(c->tr.pack_count, 3);
	assert_int_equal(c->tr.index_offset, 4096 + 8192 + 4096 + 73728);
	assert_int_equal(c->tr.index_length, 3000);
	assert_int_equal(c->tr.payload_length, c->tr.index_offset + 4096 + 4096);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ofs_container_pread(c, buf, b.lens[i], b.offs[i], &err), 0);
		assert_memory_equal(buf, b.packs[i], b.lens[i]);
	}
	assert_int_equal(ofs_container_read_index(c, &idx, &err), 0);
	assert_int_equal(idx.len, 3000);
	assert_memory_equal(idx.data, b.index, 3000);
	/* reads past the payload are refused */
	assert_int_equal(ofs_container_pread(c, buf, 2, c->tr.payload_length - 1, &err),
	    OFS_ERR_CORRUPT);
	ofs_container_close(c);

	/* the streaming hashes equal a fresh read of the file */
	assert_int_equal(ofs_hash_file(b.path, REGION, &h2, &err), 0);
	assert_int_equal(h2.size, b.h.size);
	assert_int_equal(h2.size, 1 * MIB + 512);
	assert_memory_equal(h2.xxh, b.h.xxh, OFS_XXH_LEN);
	assert_int_equal(h2.nregions, 17);
	assert_int_equal(b.h.nregions, 17);
	assert_memory_equal(h2.regions, b.h.regions, 17 * OFS_XXH_LEN);
	ofs_file_hashes_release(&h2);

	ofs_container_index_id(b.index, 0x01020304, id);
	assert_memory_equal(id, b.index, 16);
	assert_int_equal(ofs_get_u32le(id + 16), 0x01020304);
	for (int i = 20; i < OFS_ID_LEN; i++)
		assert_int_equal(id[i], 0);
	idx.len = 0;
	ofs_buf_release(&idx);
	built_free(&b);
}

static void
test_resume(void **state)
{
	struct ofs_superblock sb, other;
	struct ofs_cwriter *w;
	struct ofs_error err;
	struct ofs_file_hashes h, h2;
	struct ofs_buf x = OFS_BUF_INIT(0), y = OFS_BUF_INIT(0);
	char *tmp = tpath("res.tmp"), *fin = tpath("res.vhd");
	char *tmp2 = tpath("ref.tmp"), *fin2 = tpath("ref.vhd");
	uint8_t *a = rnd(100000), *bb = rnd(300000), *cc = rnd(200000), idx[100];
	uint64_t committed, off;

	(void)state;
	fixed_sb(&sb);
	memset(idx, 7, sizeof(idx));
	assert_int_equal(ofs_cwriter_create(tmp, &sb, REGION, &w, &err), 0);
	assert_int_equal(ofs_cwriter_append(w, a, 100000, &off, &err), 0);
	assert_int_equal(ofs_cwriter_sync(w, &err), 0);
	committed = ofs_cwriter_length(w);
	assert_int_equal(committed, 4096 + 100000);
	assert_int_equal(ofs_cwriter_append(w, bb, 300000, &off, &err), 0);
	ofs_cwriter_abort(w);	/* "crash": bb was written after the checkpoint */

	/* wrong container, or a checkpoint past the end: refused */
	other = sb;
	other.seq = 8;
	assert_int_equal(ofs_cwriter_resume(tmp, &other, committed, REGION, &w, &err),
	    OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "another container"));
	assert_int_equal(ofs_cwriter_resume(tmp, &sb, 10 << 20, REGION, &w, &err), OFS_ERR_CORRUPT);
	{
		char *nope = tpath("nope.tmp");

		assert_int_equal(ofs_cwriter_resume(nope, &sb, committed, REGION, &w, &err),
		    OFS_ERR_NOTFOUND);
		free(nope);
	}

	assert_int_equal(ofs_cwriter_resume(tmp, &sb, committed, REGION, &w, &err), 0);
	assert_int_equal(ofs_cwriter_length(w), committed);
	assert_int_equal(ofs_cwriter_append(w, cc, 200000, &off, &err), 0);
	assert_int_equal(off, 4096 + 102400);
	assert_int_equal(ofs_cwriter_seal(w, idx, sizeof(idx), 2, fin, &h, &err), 0);

	/* reference: written without the crash */
	assert_int_equal(ofs_cwriter_create(tmp2, &sb, REGION, &w, &err), 0);
	assert_int_equal(ofs_cwriter_append(w, a, 100000, &off, &err), 0);
	assert_int_equal(ofs_cwriter_append(w, cc, 200000, &off, &err), 0);
	assert_int_equal(ofs_cwriter_seal(w, idx, sizeof(idx), 2, fin2, NULL, &err), 0);
	assert_int_equal(ofs_buf_read_file(&x, fin, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&y, fin2, NULL), 0);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len - 512 + 0x40);	/* uid and checksum differ */

	/* the resumed writer's hashes cover the re-read prefix correctly */
	assert_int_equal(ofs_hash_file(fin, REGION, &h2, &err), 0);
	assert_memory_equal(h.xxh, h2.xxh, OFS_XXH_LEN);
	assert_int_equal(h.nregions, h2.nregions);
	assert_memory_equal(h.regions, h2.regions, h.nregions * OFS_XXH_LEN);
	ofs_file_hashes_release(&h);
	ofs_file_hashes_release(&h2);
	ofs_buf_release(&x);
	ofs_buf_release(&y);
	free(a);
	free(bb);
	free(cc);
	free(tmp);
	free(fin);
	free(tmp2);
	free(fin2);
}

static void
test_nospace(void **state)
{
	struct ofs_superblock sb;
	struct ofs_cwriter *w = NULL;
	struct ofs_error err;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		fail_msg("/dev/full is needed for the ENOSPC test");
	fixed_sb(&sb);
	assert_int_equal(ofs_cwriter_create("/dev/full", &sb, REGION, &w, &err), OFS_ERR_NOSPACE);
	assert_null(w);
	assert_non_null(strstr(err.msg, "'/dev/full'"));
	assert_non_null(strstr(err.msg, "bytes still needed"));
	assert_non_null(strstr(err.msg, "8704"));	/* superblock + trailer + footer */
}

/* Damage one copy of a good container and expect open to fail naming file and offset. */
static void
expect_open_fails(const char *src, const char *name, uint64_t off, const void *bytes, size_t n,
    int64_t truncate_to, int code, const char *needle)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_container *c = NULL;
	struct ofs_error err;
	char *p = tpath(name);

	assert_int_equal(ofs_buf_read_file(&b, src, NULL), 0);
	if (bytes != NULL)
		memcpy(b.data + off, bytes, n);
	if (truncate_to >= 0)
		b.len = (size_t)truncate_to;
	assert_int_equal(ofs_write_file_atomic(p, b.data, b.len, 0644, NULL), 0);
	assert_int_equal(ofs_container_open(p, &c, &err), code);
	assert_null(c);
	assert_non_null(strstr(err.msg, p));
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	ofs_buf_release(&b);
	free(p);
}

static void
test_open_rejects(void **state)
{
	struct built b;
	uint8_t z[4096], foot[512], tr[4096];
	struct ofs_trailer t;
	struct ofs_buf raw = OFS_BUF_INIT(0);
	uint64_t vs = 1 * MIB, toff;
	struct ofs_container *c;
	struct ofs_error err;

	(void)state;
	memset(z, 0, sizeof(z));
	build(&b, "good.vhd");
	assert_int_equal(ofs_container_open(b.path, &c, &err), 0);
	toff = c->tr.payload_length - 4096;
	t = c->tr;
	ofs_container_close(c);
	assert_int_equal(ofs_buf_read_file(&raw, b.path, NULL), 0);
	memcpy(foot, raw.data + vs, 512);

	expect_open_fails(b.path, "trunc.vhd", 0, NULL, 0, (int64_t)raw.len - 1,
	    OFS_ERR_CORRUPT, "file size");
	foot[0] = 'x';
	expect_open_fails(b.path, "cookie.vhd", vs, foot, 512, -1, OFS_ERR_CORRUPT, "cookie");
	memcpy(foot, raw.data + vs, 512);
	foot[0x100] = 1;
	expect_open_fails(b.path, "sum.vhd", vs, foot, 512, -1, OFS_ERR_CORRUPT, "checksum");
	memcpy(foot, raw.data + vs, 512);
	ofs_put_u32be(foot + 0x3C, 3);
	ofs_put_u32be(foot + 0x40, ofs_get_u32be(raw.data + vs + 0x40) - 1);
	expect_open_fails(b.path, "dyn.vhd", vs, foot, 512, -1, OFS_ERR_CORRUPT, "not fixed");
	/* footer size disagreeing with the file */
	ofs_vhd_footer_encode(2 * MIB, z, 0, foot);
	expect_open_fails(b.path, "size.vhd", vs, foot, 512, -1, OFS_ERR_CORRUPT, "size");
	/* superblock */
	expect_open_fails(b.path, "sb.vhd", 20, "\x01", 1, -1, OFS_ERR_CORRUPT, "offset 0");
	/* trailer: flipped byte, missing, inconsistent position */
	expect_open_fails(b.path, "tr.vhd", toff + 17, "\x55", 1, -1, OFS_ERR_CORRUPT,
	    "trailer checksum");
	expect_open_fails(b.path, "notr.vhd", toff, z, sizeof(z), -1, OFS_ERR_CORRUPT,
	    "trailer magic");
	t.payload_length += 4096;	/* claims to end one block later */
	t.index_length += 4096;
	ofs_trailer_encode(&t, tr);
	expect_open_fails(b.path, "trpos.vhd", toff, tr, sizeof(tr), -1, OFS_ERR_CORRUPT,
	    "payload length");
	/* garbage after the trailer */
	expect_open_fails(b.path, "tail.vhd", vs - 4096, "\x01", 1, -1, OFS_ERR_CORRUPT,
	    "trailer");
	{
		char *absent = tpath("absent.vhd");

		assert_int_equal(ofs_container_open(absent, &c, &err), OFS_ERR_NOTFOUND);
		free(absent);
	}
	ofs_buf_release(&raw);
	built_free(&b);
}

/* tests/fixtures/container-v2/superblock.bin claims container format version 2. */
static void
test_newer_version_fixture(void **state)
{
	struct ofs_buf fx = OFS_BUF_INIT(0);
	struct ofs_superblock sb;
	struct ofs_error err;
	struct built b;
	char path[PATH_MAX];

	(void)state;
	top_path("tests/fixtures/container-v2/superblock.bin", path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL) {
		uint8_t v2[4096];

		fixed_sb(&sb);
		ofs_superblock_encode(&sb, v2);
		ofs_put_u32le(v2 + 8, 2);
		ofs_put_u64le(v2 + 4088, ofs_xxh64(v2, 4088));
		assert_int_equal(ofs_write_file_atomic(path, v2, sizeof(v2), 0644, NULL), 0);
	}
	assert_int_equal(ofs_buf_read_file(&fx, path, NULL), 0);
	assert_int_equal(fx.len, 4096);
	assert_int_equal(ofs_superblock_parse(fx.data, fx.len, "v2", &sb, &err), OFS_ERR_VERSION);
	assert_non_null(strstr(err.msg, "version 2"));
	assert_non_null(strstr(err.msg, "version 1"));
	build(&b, "v2src.vhd");
	expect_open_fails(b.path, "v2.vhd", 0, fx.data, 4096, -1, OFS_ERR_VERSION, "version 2");
	built_free(&b);
	ofs_buf_release(&fx);
}

/* ---- QEMU 7.2 -------------------------------------------------------------------------- */

static int
run(const char *cmd, struct ofs_buf *out)
{
	char line[4096];
	FILE *f = popen(cmd, "r");
	int st;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (out != NULL)
			assert_int_equal(ofs_buf_adds(out, line), 0);
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
need_qemu_img(void)
{
	if (run("qemu-img --version >/dev/null 2>&1", NULL) != 0)
		fail_msg("qemu-img is required (Debian package qemu-utils): not found");
}

static uint64_t
qemu_virtual_size(const char *path)
{
	struct ofs_buf out = OFS_BUF_INIT(0);
	json_error_t je;
	json_t *j;
	char *cmd = ofs_xasprintf("qemu-img info -f vpc --output=json '%s' 2>&1", path);
	uint64_t v;

	assert_int_equal(run(cmd, &out), 0);
	assert_int_equal(ofs_buf_cstr(&out), 0);
	j = json_loads((const char *)out.data, 0, &je);
	if (j == NULL)
		fail_msg("qemu-img info output is not JSON: %s", out.data);
	assert_true(json_is_integer(json_object_get(j, "virtual-size")));
	v = (uint64_t)json_integer_value(json_object_get(j, "virtual-size"));
	json_decref(j);
	ofs_buf_release(&out);
	free(cmd);
	return v;
}

static void
test_qemu_exact_sizes(void **state)
{
	static const uint64_t sizes[] = { 1 * MIB, 3 * MIB, 100 * MIB, 16ULL << 30,
		2040ULL << 30 };
	uint8_t uid[16], foot[512];

	(void)state;
	need_qemu_img();
	for (size_t i = 0; i < OFS_ARRAY_LEN(sizes); i++) {
		char *p = tpath("sz.vhd");
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);

		assert_true(fd >= 0);
		ofs_random(uid, sizeof(uid));
		ofs_vhd_footer_encode(sizes[i], uid, 1700000000, foot);
		/* sparse: only the footer is written */
		assert_int_equal(ofs_pwrite_all(fd, foot, sizeof(foot), sizes[i]), 0);
		close(fd);
		if (qemu_virtual_size(p) != sizes[i])
			fail_msg("qemu-img reports %llu for a %llu-byte container",
			    (unsigned long long)qemu_virtual_size(p),
			    (unsigned long long)sizes[i]);
		unlink(p);
		free(p);
	}
}

static void
test_qemu_convert_roundtrip(void **state)
{
	struct ofs_buf vhd = OFS_BUF_INIT(0), raw = OFS_BUF_INIT(0);
	struct built b;
	char *rawp = tpath("conv.raw"), *cmd;

	(void)state;
	need_qemu_img();
	build(&b, "conv.vhd");
	assert_int_equal(qemu_virtual_size(b.path), 1 * MIB);
	cmd = ofs_xasprintf("qemu-img convert -f vpc -O raw '%s' '%s' 2>&1", b.path, rawp);
	assert_int_equal(run(cmd, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&vhd, b.path, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&raw, rawp, NULL), 0);
	assert_int_equal(raw.len, 1 * MIB);
	assert_int_equal(vhd.len, 1 * MIB + 512);
	assert_memory_equal(raw.data, vhd.data, raw.len);
	ofs_buf_release(&vhd);
	ofs_buf_release(&raw);
	built_free(&b);
	free(cmd);
	free(rawp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_superblock_roundtrip_golden),
		cmocka_unit_test(test_superblock_rejects),
		cmocka_unit_test(test_trailer_roundtrip_golden),
		cmocka_unit_test(test_vhd_footer),
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_nospace),
		cmocka_unit_test(test_open_rejects),
		cmocka_unit_test(test_newer_version_fixture),
		cmocka_unit_test(test_qemu_exact_sizes),
		cmocka_unit_test(test_qemu_convert_roundtrip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
