/* Unit tests for lib/retry.c: the jittered exponential back-off, and Retry-After read as
 * seconds or as an HTTP-date, hostile values included (negative, huge, garbage, dates in
 * the past or far ahead). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "retry.h"

#define NOW ((time_t)784111777)		/* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW_2026 ((time_t)1780000000)	/* 2026-05-28 */

static void
test_backoff(void **state)
{
	(void)state;
	/* base · 2^(attempt−1), jittered into [½, 1] */
	assert_true(ofs_retry_backoff(1000, 30000, 1, 0) == 500);
	assert_true(ofs_retry_backoff(1000, 30000, 1, UINT32_MAX) == 1000);
	assert_true(ofs_retry_backoff(1000, 30000, 2, UINT32_MAX) == 2000);
	assert_true(ofs_retry_backoff(1000, 30000, 5, UINT32_MAX) == 16000);
	assert_true(ofs_retry_backoff(1, 30, 3, 0) == 2);
	/* the cap, also for absurd attempt numbers (no overflow, no long loop) */
	assert_true(ofs_retry_backoff(1000, 30000, 6, UINT32_MAX) == 30000);
	assert_true(ofs_retry_backoff(1000, 30000, 1 << 30, UINT32_MAX) == 30000);
	assert_true(ofs_retry_backoff(1000, 30000, 1 << 30, 0) == 15000);
	assert_true(ofs_retry_backoff(0, 30, 1 << 30, UINT32_MAX) == 0);
	for (uint32_t rnd = 1; rnd < UINT32_MAX - 0x10000000u; rnd += 0x10000000u) {
		double d = ofs_retry_backoff(1000, 30000, 3, rnd);

		assert_true(d >= 2000 && d <= 4000);
	}
}

static void
test_seconds(void **state)
{
	static const struct {
		const char *v;
		double want;
	} ok[] = {
		{ "0", 0 }, { "1", 1 }, { "120", 120 }, { "600", 600 }, { " 7 ", 7 },
		{ "\t30\r\n", 30 }, { "1.5", 1.5 }, { "007", 7 },
		/* longer than the cap: cut to it, however long */
		{ "601", 600 }, { "86400", 600 }, { "99999999999999999999999999999999", 600 },
		{ "18446744073709551616", 600 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double got = ofs_retry_after_parse(ok[i].v, NOW);

		if (got != ok[i].want)
			fail_msg("'%s': %g, expected %g", ok[i].v, got, ok[i].want);
	}
}

static void
test_hostile(void **state)
{
	static const char *const bad[] = {
		"", "   ", "\r\n", "-1", "-0", "-600", "+5", "5s", "1e3", "0x10", "5.", ".5",
		"inf", "nan", "1 2", "1,2", "abc", "\x01", "5\x7f",
		"Sun", "Sun,", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMTx",
		"Sun, 6 Nov 1994 08:49:37 GMT", "sun, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 2027 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 Nov -994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
		"Sunday, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sunday,06-Nov-94 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 94", "Sun Nov  6 08:49:37 1994 GMT",
		"2026-05-28T00:00:00Z", "1994-11-06 08:49:37",
	};
	char huge[8192];

	(void)state;
	assert_true(ofs_retry_after_parse(NULL, NOW) == -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double got = ofs_retry_after_parse(bad[i], NOW);

		if (got != -1)
			fail_msg("'%s' was read as %g", bad[i], got);
	}
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_true(ofs_retry_after_parse(huge, NOW) == -1);
	memset(huge, '9', sizeof(huge) - 1);		/* 8,191 digits: the cap */
	assert_true(ofs_retry_after_parse(huge, NOW) == 600);
	huge[100] = 'x';
	assert_true(ofs_retry_after_parse(huge, NOW) == -1);
}

static void
test_dates(void **state)
{
	(void)state;
	/* the three forms, 30 s ahead */
	assert_true(ofs_retry_after_parse("Sun, 06 Nov 1994 08:50:07 GMT", NOW) == 30);
	assert_true(ofs_retry_after_parse("Sunday, 06-Nov-94 08:50:07 GMT", NOW) == 30);
	assert_true(ofs_retry_after_parse("Sun Nov  6 08:50:07 1994", NOW) == 30);
	assert_true(ofs_retry_after_parse("  Sun, 06 Nov 1994 08:50:07 GMT\r\n", NOW) == 30);
	/* the weekday is not checked against the date */
	assert_true(ofs_retry_after_parse("Mon, 06 Nov 1994 08:50:07 GMT", NOW) == 30);
	/* now, and dates in the past: retry at once */
	assert_true(ofs_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW) == 0);
	assert_true(ofs_retry_after_parse("Sun, 06 Nov 1994 08:49:36 GMT", NOW) == 0);
	assert_true(ofs_retry_after_parse("Thu, 01 Jan 1970 00:00:00 GMT", NOW) == 0);
	assert_true(ofs_retry_after_parse("Mon, 01 Jan 0001 00:00:00 GMT", NOW) == 0);
	assert_true(ofs_retry_after_parse("Thu Jan  1 00:00:00 1970", NOW) == 0);
	/* far ahead: the cap */
	assert_true(ofs_retry_after_parse("Sun, 06 Nov 1994 09:49:37 GMT", NOW) == 600);
	assert_true(ofs_retry_after_parse("Fri, 31 Dec 9999 23:59:59 GMT", NOW) == 600);
	/* 29 February only in leap years */
	assert_true(ofs_retry_after_parse("Tue, 29 Feb 2028 00:00:00 GMT", NOW_2026) == 600);
	assert_true(ofs_retry_after_parse("Sat, 29 Feb 2000 00:00:00 GMT", NOW_2026) == 0);
	assert_true(ofs_retry_after_parse("Thu, 29 Feb 1900 00:00:00 GMT", NOW_2026) == -1);
	/* RFC 850's two-digit year: at most 50 years ahead, else the century before */
	assert_true(ofs_retry_after_parse("Sunday, 06-Nov-75 08:49:37 GMT", NOW_2026) == 600);
	assert_true(ofs_retry_after_parse("Sunday, 06-Nov-80 08:49:37 GMT", NOW_2026) == 0);
	assert_true(ofs_retry_after_parse("Sunday, 06-Nov-25 08:49:37 GMT", NOW_2026) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
