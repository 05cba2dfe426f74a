/* Unit tests for the text layer (lib/text.c): hex, UTF-8 and printable strings with their
 * reasons, JSON quoting, known keys, percent-escapes and RFC 3339 times, each with hostile
 * input (wrong lengths, bytes past the end, NUL inside, overlongs, impossible dates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "text.h"
#include "util.h"

static void
test_hex(void **state)
{
	uint8_t b[4], in[3] = { 0x00, 0xab, 0xff };
	char h[7];

	ofs_hex(in, 3, h);
	assert_string_equal(h, "00abff");
	ofs_hex(in, 0, h);
	assert_string_equal(h, "");
	assert_int_equal(ofs_hexval('0'), 0);
	assert_int_equal(ofs_hexval('F'), 15);
	assert_int_equal(ofs_hexval('f'), 15);
	assert_int_equal(ofs_hexval('g'), -1);
	assert_int_equal(ofs_hexval('\0'), -1);
	assert_int_equal(ofs_hexval(0xe6), -1);	/* a byte of UTF-8, not a digit */

	/* either case, exact length */
	assert_int_equal(ofs_unhex("00abFF01", b, 4), 0);
	assert_int_equal(b[2], 0xff);
	assert_int_equal(ofs_unhex("00abff0", b, 4), -1);
	assert_int_equal(ofs_unhex("00abff0100", b, 4), -1);
	assert_int_equal(ofs_unhex("00abff0x", b, 4), -1);
	assert_int_equal(ofs_unhex(NULL, b, 4), -1);
	assert_int_equal(ofs_unhexn("00ab\0f01", 8, b, 4), -1);	/* NUL inside */
	assert_int_equal(ofs_unhexn("00abff01trailing", 8, b, 4), 0);

	/* lower case only */
	assert_int_equal(ofs_unhex_lower("00abff01", 8, b, 4), 0);
	assert_int_equal(b[3], 0x01);
	assert_int_equal(ofs_unhex_lower("00abFF01", 8, b, 4), -1);
	assert_int_equal(ofs_unhex_lower("00abff01", 7, b, 4), -1);
	assert_int_equal(ofs_unhex_lower("00abff01", 8, NULL, 4), 0);
	assert_int_equal(ofs_unhex_lower("0 abff01", 8, NULL, 4), -1);
	assert_int_equal(ofs_unhex_lower("", 0, NULL, 0), 0);

	assert_true(ofs_is_hex_lower("0123456789abcdef", 16));
	assert_false(ofs_is_hex_lower("0123456789abcdeF", 16));
	assert_false(ofs_is_hex_lower("0123456789abcde", 16));
	assert_false(ofs_is_hex_lower("0123456789abcdef0", 16));
	assert_false(ofs_is_hex_lower("-123456789abcdef", 16));
	assert_false(ofs_is_hex_lower(NULL, 0));
	assert_true(ofs_is_hex_lower("abc", 3));	/* odd lengths are digits too */
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "", 1 }, { "plain", 1 }, { "caf\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x98\x80", 1 }, { "\xf4\x8f\xbf\xbf", 1 },	/* U+10FFFF */
		{ "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },			/* overlong 2-byte */
		{ "\xe0\x80\xaf", 0 }, { "\xf0\x80\x80\xaf", 0 },	/* overlong 3/4-byte */
		{ "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 },		/* surrogates */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },	/* past U+10FFFF */
		{ "\x80", 0 }, { "a\xbf", 0 },				/* lone continuation */
		{ "\xc3", 0 }, { "\xe2\x82", 0 }, { "\xf0\x9f\x98", 0 },	/* cut short */
		{ "\xc3\x28", 0 }, { "\xff", 0 }, { "\xfe", 0 },
	};

	for (size_t i = 0; i < OFS_ARRAY_LEN(cases); i++)
		assert_int_equal(ofs_text_utf8_ok((const uint8_t *)cases[i].s,
		    strlen(cases[i].s)), cases[i].ok);
	/* the length bounds the read: a valid sequence cut by n is refused */
	assert_int_equal(ofs_text_utf8_ok((const uint8_t *)"\xc3\xa9", 1), 0);
}

static void
test_check(void **state)
{
	char big[300];

	assert_int_equal(ofs_text_check("", 0, 10, 0), OFS_TEXT_OK);
	assert_int_equal(ofs_text_check("", 0, 10, OFS_TEXT_NONEMPTY), OFS_TEXT_EMPTY);
	assert_int_equal(ofs_text_check("abc", 3, 3, OFS_TEXT_NONEMPTY), OFS_TEXT_OK);
	assert_int_equal(ofs_text_check("abcd", 4, 3, 0), OFS_TEXT_TOO_LONG);
	assert_int_equal(ofs_text_check("a\0b", 3, 10, 0), OFS_TEXT_NUL);
	assert_int_equal(ofs_text_check("a\x1b[2J", 5, 10, 0), OFS_TEXT_CONTROL);
	assert_int_equal(ofs_text_check("tab\t", 4, 10, 0), OFS_TEXT_CONTROL);
	assert_int_equal(ofs_text_check("del\x7f", 4, 10, 0), OFS_TEXT_CONTROL);
	assert_int_equal(ofs_text_check("\xc3\x28", 2, 10, 0), OFS_TEXT_UTF8);
	assert_int_equal(ofs_text_check("\xc0\x80", 2, 10, 0), OFS_TEXT_UTF8);	/* overlong NUL */
	assert_int_equal(ofs_text_check("caf\xc3\xa9", 5, 10, OFS_TEXT_NO_C1), OFS_TEXT_OK);
	/* C1 (U+0085 NEL, U+009B CSI) only with the flag */
	assert_int_equal(ofs_text_check("a\xc2\x85", 3, 10, 0), OFS_TEXT_OK);
	assert_int_equal(ofs_text_check("a\xc2\x85", 3, 10, OFS_TEXT_NO_C1), OFS_TEXT_CONTROL);
	assert_int_equal(ofs_text_check("\xc2\x9b", 2, 10, OFS_TEXT_NO_C1), OFS_TEXT_CONTROL);
	assert_int_equal(ofs_text_check("\xc2\xa0", 2, 10, OFS_TEXT_NO_C1), OFS_TEXT_OK);
	/* the order of reasons: length before content */
	memset(big, 0x01, sizeof(big));
	assert_int_equal(ofs_text_check(big, sizeof(big), 256, 0), OFS_TEXT_TOO_LONG);
	assert_int_equal(ofs_text_check("\x01\xff", 2, 10, 0), OFS_TEXT_CONTROL);
	for (int w = OFS_TEXT_OK; w <= OFS_TEXT_UTF8; w++)
		assert_non_null(ofs_text_why_str((enum ofs_text_why)w));
	assert_string_equal(ofs_text_why_str(OFS_TEXT_CONTROL), "holds control characters");
}

static void
test_clean_quote(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char d[8];

	ofs_text_clean(d, sizeof(d), "a\x1b" "b\x7f" "c\n", 6);
	assert_string_equal(d, "a?b?c?");
	ofs_text_clean(d, sizeof(d), "0123456789", SIZE_MAX);	/* cut to fit, terminated */
	assert_string_equal(d, "0123456");
	ofs_text_clean(d, sizeof(d), "ab\0cd", 5);		/* stops at NUL */
	assert_string_equal(d, "ab");
	ofs_text_clean(d, sizeof(d), NULL, 3);
	assert_string_equal(d, "");
	ofs_text_clean(d, 1, "abc", 3);
	assert_string_equal(d, "");
	memcpy(d, "x\x01y", 4);
	ofs_text_clean(d, sizeof(d), d, 3);			/* in place */
	assert_string_equal(d, "x?y");

	assert_int_equal(ofs_json_quote(&b, "q\"b\\c\x01\x7f\xc3\xa9"), 0);
	assert_int_equal(b.len, strlen("\"q\\\"b\\\\c\\u0001\\u007f\xc3\xa9\""));
	assert_memory_equal(b.data, "\"q\\\"b\\\\c\\u0001\\u007f\xc3\xa9\"", b.len);
	ofs_buf_release(&b);
}

static void
test_keys(void **state)
{
	static const struct ofs_key keys[] = { { "a", OFS_KEY_REQUIRED }, { "bb", 0 },
		{ "c", OFS_KEY_REQUIRED }, { NULL, 0 } };
	const char *unknown, *missing;
	json_t *o;

	assert_int_equal(ofs_key_find(keys, "a", 1), 0);
	assert_int_equal(ofs_key_find(keys, "bb", 2), 1);
	assert_int_equal(ofs_key_find(keys, "b", 1), -1);	/* a prefix is not the key */
	assert_int_equal(ofs_key_find(keys, "bbb", 2), 1);	/* n bytes only */
	assert_int_equal(ofs_key_find(keys, "a\0", 2), -1);	/* NUL is part of the key */
	assert_int_equal(ofs_key_find(keys, "", 0), -1);

	o = json_loads("{\"c\":1,\"a\":2}", 0, NULL);
	assert_int_equal(ofs_json_keys_check(o, keys, &unknown, &missing), 0);
	assert_null(unknown);
	assert_null(missing);
	json_decref(o);
	o = json_loads("{\"a\":1,\"bb\":2}", 0, NULL);
	assert_int_equal(ofs_json_keys_check(o, keys, &unknown, &missing), -1);
	assert_null(unknown);
	assert_string_equal(missing, "c");
	assert_int_equal(ofs_json_keys_check(o, keys, &unknown, NULL), 0);	/* unknown only */
	json_decref(o);
	o = json_loads("{\"a\":1,\"c\":2,\"A\":3,\"d\":4}", 0, NULL);
	assert_int_equal(ofs_json_keys_check(o, keys, &unknown, &missing), -1);
	assert_string_equal(unknown, "A");			/* case matters; first in order */
	assert_null(missing);
	json_decref(o);
	o = json_loads("{}", 0, NULL);
	assert_int_equal(ofs_json_keys_check(o, keys, &unknown, &missing), -1);
	assert_string_equal(missing, "a");
	json_decref(o);
}

static void
test_percent(void **state)
{
	static const char *const bad[] = { "%", "a%", "a%4", "a%4g", "a%g4", "%%41", "%00",
		"a%00b", "% 41", "%-1", "%+1", "%\xc3\xa9" };
	size_t n;
	char *s;

	s = ofs_percent_decode("a%41%e9%E9%25%2F", &n);
	assert_non_null(s);
	assert_int_equal(n, 6);
	assert_memory_equal(s, "aA\xe9\xe9%/", 6);
	free(s);
	s = ofs_percent_decode("", &n);
	assert_string_equal(s, "");
	assert_int_equal(n, 0);
	free(s);
	s = ofs_percent_decode("%01", NULL);	/* only %00 is refused among bytes */
	assert_int_equal(s[0], 1);
	free(s);
	for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++)
		assert_null(ofs_percent_decode(bad[i], NULL));

	s = ofs_percent_encode("a b%\x01\x7f\xc3\xa9/");
	assert_string_equal(s, "a b%25%01%7F%C3%A9/");
	free(s);
	s = ofs_name_shown("caf\xc3\xa9");		/* printable UTF-8 stays as it is */
	assert_string_equal(s, "caf\xc3\xa9");
	free(s);
	s = ofs_name_shown("50%");			/* '%' alone is fine when nothing else is */
	assert_string_equal(s, "50%");
	free(s);
	s = ofs_name_shown("x\xc2\x85y");		/* C1 */
	assert_string_equal(s, "x%C2%85y");
	free(s);
	s = ofs_name_shown("bad\xff%");			/* not UTF-8: '%' escaped too */
	assert_string_equal(s, "bad%FF%25");
	free(s);
}

/* The one decoder the others are made of: counted spans, the flags, and a full buffer. */
static void
test_percent_span(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0), small = OFS_BUF_INIT(3);

	(void)state;
	assert_int_equal(ofs_percent_decode_span("a%41+b%2b", 9, 0, &b), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "aA+b+", 5);
	ofs_buf_reset(&b);
	assert_int_equal(ofs_percent_decode_span("a+b%20c", 7, OFS_PCT_PLUS_SPACE, &b), 0);
	assert_memory_equal(b.data, "a b c", 5);
	ofs_buf_reset(&b);
	/* %00: data in a counted span, refused with OFS_PCT_NO_NUL */
	assert_int_equal(ofs_percent_decode_span("x%00y", 5, 0, &b), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[1], 0);
	ofs_buf_reset(&b);
	assert_int_equal(ofs_percent_decode_span("x%00y", 5, OFS_PCT_NO_NUL, &b), -1);
	ofs_buf_reset(&b);
	/* the span ends where n says, not at a NUL or the next byte */
	assert_int_equal(ofs_percent_decode_span("%4", 2, 0, &b), -1);
	assert_int_equal(ofs_percent_decode_span("%41", 2, 0, &b), -1);
	assert_int_equal(ofs_percent_decode_span("%g1", 3, 0, &b), -1);
	assert_int_equal(ofs_percent_decode_span("%", 1, OFS_PCT_PLUS_SPACE, &b), -1);
	ofs_buf_reset(&b);
	assert_int_equal(ofs_percent_decode_span("", 0, 0, &b), 0);
	assert_int_equal(b.len, 0);
	/* never cut: a full buffer is OFS_ERR_LIMIT */
	assert_int_equal(ofs_percent_decode_span("abcd", 4, 0, &small), OFS_ERR_LIMIT);
	ofs_buf_release(&small);
	ofs_buf_release(&b);
}

static void
test_time(void **state)
{
	static const char *const bad[] = {
		NULL, "", "2026", "2026-11-22", "2026-11-22T06:00:00", "2026-11-22T06:00Z",
		"2026-1-2T06:00:00Z", "2026-11-2T06:00:00Z", "2026-11-22T6:00:00Z",
		" 2026-11-22T06:00:00Z", "2026-11-22T06:00:00Z ", "2026-11-22 06:00:00Z",
		"2026/11/22T06:00:00Z", "+2026-11-22T06:00:00Z", "20261-11-22T06:00:00Z",
		"2026-00-22T06:00:00Z", "2026-13-22T06:00:00Z", "2026-11-00T06:00:00Z",
		"2026-11-31T06:00:00Z", "2026-02-29T06:00:00Z", "2100-02-29T06:00:00Z",
		"2026-11-22T24:00:00Z", "2026-11-22T06:60:00Z", "2026-11-22T06:00:61Z",
		"2026-11-22T06:00:00.Z", "2026-11-22T06:00:00.1234567890Z",
		"2026-11-22T06:00:00+1:30", "2026-11-22T06:00:00+01:3", "2026-11-22T06:00:00+0130",
		"2026-11-22T06:00:00+24:00", "2026-11-22T06:00:00+01:60", "2026-11-22T06:00:00+",
		"2026-11-22T06:00:00+01:", "2026-11-22T06:00:00+1:3", "2026-11-22T06:00:00ZZ",
		"2026-11-22T06:00:00X", "2026-11-22T06:00:00.5", "2026-11-22T06:00:00\0Z",
		"next week",
	};
	int64_t t;
	int32_t ns;

	assert_int_equal(ofs_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(ofs_parse_time("2026-11-22T06:00:00Z", &t), 0);
	assert_int_equal(t, 1795327200);
	assert_int_equal(ofs_parse_time("2026-11-22t06:00:00z", &t), 0);
	assert_int_equal(t, 1795327200);
	assert_int_equal(ofs_parse_time("2026-11-22T07:30:00.5+01:30", &t), 0);
	assert_int_equal(t, 1795327200);
	assert_int_equal(ofs_parse_time("2026-11-22T00:00:00-06:00", &t), 0);
	assert_int_equal(t, 1795327200);
	assert_int_equal(ofs_parse_time("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(ofs_parse_time("2028-02-29T00:00:00Z", &t), 0);
	assert_int_equal(ofs_parse_time("2000-02-29T00:00:00Z", &t), 0);
	assert_int_equal(ofs_parse_time("2016-12-31T23:59:60Z", &t), 0);	/* leap second */
	assert_int_equal(t, 1483228800);
	assert_int_equal(ofs_time_parse("2023-11-14T22:13:20.000000123Z", OFS_TIME_UTC, &t,
	    &ns), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(ns, 123);
	assert_int_equal(ofs_time_parse("2023-11-14T22:13:20.5Z", 0, &t, &ns), 0);
	assert_int_equal(ns, 500000000);
	assert_int_equal(ofs_time_parse("2023-11-14T22:13:20+00:00", OFS_TIME_UTC, &t, &ns), -1);
	for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++)
		assert_int_equal(ofs_parse_time(bad[i], &t), -1);
}

static void
test_fmt_time(void **state)
{
	char buf[32];
	int64_t t;

	ofs_fmt_time(1795327200, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22T06:00:00Z");
	assert_int_equal(ofs_parse_time(buf, &t), 0);
	assert_int_equal(t, 1795327200);
	ofs_fmt_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	/* the parser agrees with gmtime over a wide range of days and times */
	for (int64_t s = -2208988800LL; s < 4102444800LL; s += 86400 * 37 + 3671) {
		ofs_fmt_time(s, buf, sizeof(buf));
		assert_int_equal(ofs_parse_time(buf, &t), 0);
		assert_int_equal(t, s);
	}
}

static void
test_base64_control(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {	/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	const uint8_t high[] = { 0xff, 0xfe, 0x00, 0x3e, 0x3f };
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = ofs_b64_encode((const uint8_t *)v[i].in, strlen(v[i].in));
		assert_string_equal(s, v[i].out);
		free(s);
	}
	s = ofs_b64_encode(high, sizeof(high));
	assert_string_equal(s, "//4APj8=");
	free(s);

	for (int c = 0; c < 256; c++)
		assert_int_equal(ofs_text_is_control((unsigned char)c), c < 0x20 || c == 0x7f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_clean_quote),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_percent_span),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_fmt_time),
		cmocka_unit_test(test_base64_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
