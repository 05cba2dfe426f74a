/* Bounded buffers: reaching the maximum is OFS_ERR_LIMIT and sticky, cstr needs room for the
 * NUL under the maximum, put + check, reserve overflow, the read side staying CORRUPT, and a
 * real encoder whose limit is exit 1 (not 4, which means damaged data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "text.h"
#include "tree.h"
#include "util.h"

static void
add_to_cap(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(8);

	assert_int_equal(ofs_buf_add(&b, "12345678", 8), 0);	/* exactly max fits */
	assert_int_equal(b.len, 8);
	assert_int_equal(ofs_buf_addc(&b, 'x'), OFS_ERR_LIMIT);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "12345678", 8);
	ofs_buf_release(&b);

	assert_int_equal(ofs_buf_adds(&b, "1234"), 0);
	assert_int_equal(ofs_buf_add(&b, "56789", 5), OFS_ERR_LIMIT);	/* all or nothing */
	assert_int_equal(b.len, 4);
	ofs_buf_release(&b);
}

static void
addf_to_cap(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(10);

	assert_int_equal(ofs_buf_addf(&b, "%d-%s", 42, "abc"), 0);
	assert_int_equal(b.len, 6);
	assert_int_equal(ofs_buf_addf(&b, "%s", "wxyz"), 0);	/* 10: at the cap */
	assert_int_equal(b.len, 10);
	ofs_buf_release(&b);
	assert_int_equal(ofs_buf_addf(&b, "%s", "0123456789a"), OFS_ERR_LIMIT);
	assert_int_equal(b.len, 0);
	ofs_buf_release(&b);
}

static void
cstr_at_cap(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(4);

	assert_int_equal(ofs_buf_add(&b, "abc", 3), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "abc");
	assert_int_equal(b.len, 3);
	assert_int_equal(ofs_buf_addc(&b, 'd'), 0);
	/* 4 bytes fill max: the NUL does not fit under it (it used to succeed here) */
	assert_int_equal(ofs_buf_cstr(&b), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_check(&b), OFS_ERR_LIMIT);
	ofs_buf_release(&b);
}

static void
sticky_mark(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(6);

	assert_int_equal(ofs_buf_adds(&b, "abcd"), 0);
	assert_int_equal(ofs_buf_check(&b), 0);
	assert_int_equal(ofs_buf_adds(&b, "efg"), OFS_ERR_LIMIT);
	/* a later append that would fit fails too: nothing follows the gap */
	assert_int_equal(ofs_buf_addc(&b, 'e'), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_add(&b, "", 0), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_reserve(&b, 1), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_cstr(&b), OFS_ERR_LIMIT);
	assert_int_equal(b.len, 4);
	assert_int_equal(ofs_buf_check(&b), OFS_ERR_LIMIT);

	/* truncate and reset drop what followed and the mark with it */
	ofs_buf_truncate(&b, 2);
	assert_int_equal(ofs_buf_check(&b), 0);
	assert_int_equal(ofs_buf_adds(&b, "xy"), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "abxy");
	assert_int_equal(ofs_buf_adds(&b, "123"), OFS_ERR_LIMIT);
	ofs_buf_reset(&b);
	assert_int_equal(ofs_buf_check(&b), 0);
	assert_int_equal(ofs_buf_adds(&b, "123"), 0);
	ofs_buf_release(&b);
}

static void
put_and_check(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(16);

	ofs_buf_puts(&b, "{\"a\":");
	ofs_buf_putf(&b, "%d", 12);
	ofs_buf_putc(&b, '}');
	ofs_buf_put_u16le(&b, 0x0102);
	assert_int_equal(ofs_buf_check(&b), 0);
	assert_int_equal(b.len, 10);
	ofs_buf_put_u64le(&b, 1);	/* 18 > 16 */
	ofs_buf_putc(&b, 'z');		/* would fit, but b is marked */
	ofs_buf_put_zeros(&b, 1);
	ofs_buf_put_u32le(&b, 1);
	ofs_buf_put(&b, "q", 1);
	assert_int_equal(b.len, 10);
	assert_int_equal(ofs_buf_check(&b), OFS_ERR_LIMIT);
	ofs_buf_release(&b);
}

static void
reserve_overflow(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0), c = OFS_BUF_INIT(0);

	assert_int_equal(ofs_buf_addc(&b, 'a'), 0);
	assert_int_equal(ofs_buf_reserve(&b, SIZE_MAX), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_check(&b), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_reserve_exact(&c, SIZE_MAX), OFS_ERR_LIMIT);
	assert_int_equal(ofs_buf_add_zeros(&c, 1), OFS_ERR_LIMIT);	/* marked */
	ofs_buf_release(&b);
	ofs_buf_release(&c);
}

static void
unbounded(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char chunk[4096];

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 256; i++)	/* 1 MiB: no limit short of memory */
		assert_int_equal(ofs_buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_int_equal(b.len, 256 * sizeof(chunk));
	assert_int_equal(ofs_buf_check(&b), 0);
	/* nothing from nowhere: an empty append may pass NULL, with room or without */
	assert_int_equal(ofs_buf_add(&b, NULL, 0), 0);
	ofs_buf_release(&b);
	assert_int_equal(ofs_buf_add(&b, NULL, 0), 0);
	ofs_buf_put(&b, NULL, 0);
	assert_int_equal(ofs_buf_check(&b), 0);
	ofs_buf_release(&b);
}

/* Outside bytes over the maximum are data we refuse: OFS_ERR_CORRUPT naming the path. */
static void
read_file_over_max(void **state)
{
	char path[] = "/tmp/offseed-test-buf.XXXXXX";
	struct ofs_buf b = OFS_BUF_INIT(16);
	struct ofs_error err = { 0 };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdefXYZ", 19), 19);
	close(fd);
	assert_int_equal(ofs_buf_read_file(&b, path, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, path));
	ofs_buf_release(&b);

	ofs_buf_init(&b, 64);
	assert_int_equal(ofs_buf_read_file(&b, path, &err), 0);
	assert_int_equal(b.len, 19);
	assert_string_equal((char *)b.data, "0123456789abcdefXYZ");
	ofs_buf_release(&b);
	unlink(path);
}

static void
limit_code(void **state)
{
	assert_int_equal(OFS_ERR_LIMIT, -13);
	assert_int_equal(ofs_exit_code(OFS_ERR_LIMIT), 1);
	assert_string_equal(ofs_err_name(OFS_ERR_LIMIT), "limit");
	assert_int_equal(ofs_exit_code(OFS_ERR_CORRUPT), 4);
}

/* A real writer: a tree document larger than the buffer it is written to is our own limit,
 * exit 1, and the buffer is left as it was. */
static void
encoder_limit_is_not_corrupt(void **state)
{
	struct ofs_tree t;
	struct ofs_node *n;
	struct ofs_buf out = OFS_BUF_INIT(64), big = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };
	int r;

	ofs_tree_init(&t);
	n = ofs_tree_add(&t);
	n->name = (uint8_t *)ofs_xstrdup("a-file-name-long-enough-to-pass-the-64-byte-limit.txt");
	n->namelen = strlen((char *)n->name);
	n->type = OFS_NODE_FILE;
	n->mode = 0644;
	r = ofs_tree_encode(&t, &out, &err);
	assert_int_equal(r, OFS_ERR_LIMIT);
	assert_int_equal(err.code, OFS_ERR_LIMIT);
	assert_int_equal(ofs_exit_code(r), 1);
	assert_int_equal(out.len, 0);
	assert_int_equal(ofs_tree_encode(&t, &big, &err), 0);	/* it fits an unbounded one */
	assert_true(big.len > 64);

	/* the JSON quoting layer reports the limit as well */
	ofs_buf_release(&out);
	ofs_buf_init(&out, 4);
	assert_int_equal(ofs_json_quote(&out, "abcdef"), OFS_ERR_LIMIT);
	ofs_buf_release(&out);
	ofs_buf_release(&big);
	ofs_tree_release(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_to_cap),
		cmocka_unit_test(addf_to_cap),
		cmocka_unit_test(cstr_at_cap),
		cmocka_unit_test(sticky_mark),
		cmocka_unit_test(put_and_check),
		cmocka_unit_test(reserve_overflow),
		cmocka_unit_test(unbounded),
		cmocka_unit_test(read_file_over_max),
		cmocka_unit_test(limit_code),
		cmocka_unit_test(encoder_limit_is_not_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
