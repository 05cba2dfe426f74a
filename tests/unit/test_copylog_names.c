/* Unit tests for the names in copy logs (lib/jobjson.c): the strict percent decoding of
 * escaped names, the escaped form names are shown in, and copy-log entries with
 * "pathEncoding": "percent" — decoded, or set apart as unusable without failing the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobjson.h"

static void
test_decode(void **state)
{
	size_t n;
	char *s;

	s = ofs_percent_decode("BlockBlob/c/caf%E9%0A%25x%7F", &n);
	assert_non_null(s);
	assert_int_equal(n, 20);
	assert_memory_equal(s, "BlockBlob/c/caf\xe9\n%x\x7f", 21);
	free(s);
	s = ofs_percent_decode("lower%c3%a9", &n);	/* either case of hex digits */
	assert_non_null(s);
	assert_string_equal(s, "lower\xc3\xa9");
	free(s);
	s = ofs_percent_decode("", &n);
	assert_non_null(s);
	assert_int_equal(n, 0);
	free(s);
	/* Strict: %00, a lone '%', one digit, non-hex digits. */
	assert_null(ofs_percent_decode("a%00b", NULL));
	assert_null(ofs_percent_decode("a%", NULL));
	assert_null(ofs_percent_decode("a%4", NULL));
	assert_null(ofs_percent_decode("a%4g", NULL));
	assert_null(ofs_percent_decode("a%g4", NULL));
	assert_null(ofs_percent_decode("%%41", NULL));
}

static void
test_shown(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "PageBlob/c/plain.vhd", "PageBlob/c/plain.vhd" },
		{ "BlockBlob/c/100%", "BlockBlob/c/100%" },		/* plain text stays as is */
		{ "BlockBlob/c/caf\xc3\xa9", "BlockBlob/c/caf\xc3\xa9" },	/* valid UTF-8 */
		{ "BlockBlob/c/caf\xe9", "BlockBlob/c/caf%E9" },		/* not UTF-8 */
		{ "a\x1b[31mred", "a%1B[31mred" },			/* C0 */
		{ "del\x7f", "del%7F" },
		{ "c1\xc2\x9b", "c1%C2%9B" },				/* U+009B CSI */
		{ "bad\xff 50%", "bad%FF 50%25" },			/* '%' escaped too */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = ofs_name_shown(cases[i].in), *back;

		assert_string_equal(s, cases[i].out);
		/* An escaped form decodes back to the name. */
		if (strcmp(s, cases[i].in) != 0) {
			back = ofs_percent_decode(s, NULL);
			assert_non_null(back);
			assert_string_equal(back, cases[i].in);
			free(back);
		}
		free(s);
	}
}

static void
test_copylog(void **state)
{
	static const char log[] =
	    "{\"format\":\"offseed-dc-copylog\",\"version\":1,\"kind\":\"error\","
	    "\"serialNumber\":\"SER-1\",\"files\":["
	    "{\"path\":\"BlockBlob/c/caf%E9\",\"pathEncoding\":\"percent\",\"error\":\"unlisted\"},"
	    "{\"path\":\"BlockBlob/c/bad%zz\",\"pathEncoding\":\"percent\",\"error\":\"unlisted\"},"
	    "{\"path\":\"PageBlob/c/x.vhd\",\"container\":\"c\",\"blob\":\"x.vhd\","
	    "\"error\":\"hash_mismatch\",\"detail\":\"expected …\"},"
	    "{\"path\":\"BlockBlob/c/%2E%2E/%2E%2E/etc\",\"pathEncoding\":\"percent\","
	    "\"error\":\"missing\"},"
	    "{\"path\":\"BlockBlob/c/n%00ul\",\"pathEncoding\":\"percent\",\"error\":\"missing\"},"
	    "{\"path\":\"BlockBlob/c/100%\",\"error\":\"missing\"},"
	    "{\"path\":\"BlockBlob/c/x\",\"pathEncoding\":\"base64\",\"error\":\"missing\"},"
	    "{\"error\":\"missing\"}"
	    "]}";
	struct ofs_copylog cl;
	struct ofs_error err;

	assert_int_equal(ofs_jobjson_parse_copylog((const uint8_t *)log, strlen(log), "log", &cl,
	    &err), 0);
	assert_int_equal(cl.n, 3);
	assert_int_equal(cl.nunusable, 5);
	/* decoded back to the disk's bytes; shown as the log writes it */
	assert_string_equal(cl.entries[0].path, "BlockBlob/c/caf\xe9");
	assert_string_equal(cl.entries[0].path_shown, "BlockBlob/c/caf%E9");
	assert_string_equal(cl.entries[0].error, "unlisted");
	assert_string_equal(cl.entries[1].path, "PageBlob/c/x.vhd");
	assert_string_equal(cl.entries[1].path_shown, "PageBlob/c/x.vhd");
	assert_string_equal(cl.entries[1].blob, "x.vhd");
	/* without pathEncoding a '%' is a '%' */
	assert_string_equal(cl.entries[2].path, "BlockBlob/c/100%");
	/* malformed escape: unusable, its error code kept (repair ignores unlisted files) */
	assert_int_equal(cl.unusable[0].index, 1);
	assert_string_equal(cl.unusable[0].shown, "BlockBlob/c/bad%zz");
	assert_string_equal(cl.unusable[0].error, "unlisted");
	assert_non_null(strstr(cl.unusable[0].reason, "malformed percent escape"));
	/* ".." hidden in escapes is still refused after decoding */
	assert_int_equal(cl.unusable[1].index, 3);
	assert_non_null(strstr(cl.unusable[1].reason, "unsafe path"));
	assert_int_equal(cl.unusable[2].index, 4);		/* %00 */
	assert_non_null(strstr(cl.unusable[2].reason, "malformed percent escape"));
	assert_int_equal(cl.unusable[3].index, 6);		/* unknown encoding */
	assert_non_null(strstr(cl.unusable[3].reason, "pathEncoding"));
	assert_int_equal(cl.unusable[4].index, 7);		/* names nothing */
	assert_null(cl.unusable[4].shown);
	assert_string_equal(cl.unusable[4].error, "missing");
	ofs_copylog_release(&cl);

	/* A log that is not JSON still fails as a whole. */
	assert_int_equal(ofs_jobjson_parse_copylog((const uint8_t *)"{\"files\":[", 10, "log",
	    &cl, &err), OFS_ERR_CORRUPT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_shown),
		cmocka_unit_test(test_copylog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
