/* Unit tests for the upload rate limit (lib/ratelimit.c): --limit-upload values accepted
 * and refused, which rate a schedule gives at a moment, and that take() paces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "util.h"

static struct tm
moment(int wday, int hour, int min)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_wday = wday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	return tm;
}

static uint64_t
rate(struct ofs_ratelimit *l, int wday, int hour, int min)
{
	struct tm tm = moment(wday, hour, min);

	return ofs_ratelimit_rate_at(l, &tm);
}

static void
test_plain_rates(void **state)
{
	static const struct {
		const char *spec;
		uint64_t want;
	} ok[] = {
		{ "20M", 20u << 20 }, { "512K", 512u << 10 }, { "1G/s", 1u << 30 },
		{ "1000", 1000 }, { "unlimited", 0 }, { "2MiB", 2u << 20 },
	};
	struct ofs_error err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ofs_ratelimit *l = ofs_ratelimit_new();

		assert_int_equal(ofs_ratelimit_add(l, ok[i].spec, &err), 0);
		assert_int_equal(rate(l, 1, 12, 0), ok[i].want);
		ofs_ratelimit_free(l);
	}
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", "0", "-5M", "20X", "fast", "08:00-18:00", "08:00-18:00=", "08:00-18:00=0",
		"8:00-18:00=1M", "08:00-25:00=1M", "24:00-06:00=1M", "08:60-09:00=1M",
		"08:00-08:00=1M", "08:00=1M", "mon-fri08:00-18:00=1M", "xyz@08:00-18:00=1M",
		"mon,@08:00-18:00=1M", "@08:00-18:00=1M", "mon-@08:00-18:00=1M",
	};
	struct ofs_error err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ofs_ratelimit *l = ofs_ratelimit_new();

		assert_int_equal(ofs_ratelimit_add(l, bad[i], &err), OFS_ERR_USAGE);
		assert_non_null(strstr(err.msg, "--limit-upload"));
		ofs_ratelimit_free(l);
	}
}

/* Work hours on weekdays at 2M, a night window past midnight at 50M, 10M otherwise. */
static void
test_schedule(void **state)
{
	struct ofs_ratelimit *l = ofs_ratelimit_new();
	struct ofs_error err = { 0 };

	(void)state;
	assert_int_equal(ofs_ratelimit_add(l, "mon-fri@08:00-18:00=2M", &err), 0);
	assert_int_equal(ofs_ratelimit_add(l, "22:00-06:00=50M", &err), 0);
	assert_int_equal(ofs_ratelimit_add(l, "sat,sun@10:00-24:00=unlimited", &err), 0);
	assert_int_equal(ofs_ratelimit_add(l, "10M", &err), 0);
	assert_int_equal(rate(l, 1, 8, 0), 2u << 20);	/* Monday 08:00: start included */
	assert_int_equal(rate(l, 5, 17, 59), 2u << 20);	/* Friday 17:59 */
	assert_int_equal(rate(l, 5, 18, 0), 10u << 20);	/* end excluded */
	assert_int_equal(rate(l, 6, 9, 0), 10u << 20);	/* Saturday morning: not a weekday */
	assert_int_equal(rate(l, 6, 10, 0), 0);		/* weekend window: unlimited */
	assert_int_equal(rate(l, 0, 23, 59), 50u << 20);	/* night window beats it (first) */
	assert_int_equal(rate(l, 3, 23, 0), 50u << 20);
	assert_int_equal(rate(l, 4, 5, 59), 50u << 20);	/* past midnight */
	assert_int_equal(rate(l, 4, 6, 0), 10u << 20);
	assert_int_equal(rate(l, 2, 7, 59), 10u << 20);
	ofs_ratelimit_free(l);
}

/* A day range that wraps over the week end, and a window past midnight bound to its
 * starting day: Friday 23:00 → Saturday 02:00 only. */
static void
test_days(void **state)
{
	struct ofs_ratelimit *l = ofs_ratelimit_new();
	struct ofs_error err = { 0 };

	(void)state;
	assert_int_equal(ofs_ratelimit_add(l, "fri@23:00-02:00=1M", &err), 0);
	assert_int_equal(ofs_ratelimit_add(l, "sat-mon@12:00-13:00=3M", &err), 0);
	assert_int_equal(rate(l, 5, 23, 30), 1u << 20);
	assert_int_equal(rate(l, 6, 1, 0), 1u << 20);
	assert_int_equal(rate(l, 0, 1, 0), 0);		/* Sunday night: not Friday's window */
	assert_int_equal(rate(l, 4, 23, 30), 0);
	assert_int_equal(rate(l, 6, 12, 0), 3u << 20);
	assert_int_equal(rate(l, 0, 12, 0), 3u << 20);
	assert_int_equal(rate(l, 1, 12, 0), 3u << 20);
	assert_int_equal(rate(l, 2, 12, 0), 0);
	ofs_ratelimit_free(l);
}

/* take() hands out slices and sleeps: 1 MiB at 4 MiB/s cannot finish in under ~0.2 s
 * (a lower bound only: a slow machine cannot make this fail). Unlimited does not wait. */
static void
test_paces(void **state)
{
	struct ofs_ratelimit *l = ofs_ratelimit_new();
	struct ofs_error err = { 0 };
	size_t total = 0, got;
	double t;

	(void)state;
	assert_int_equal(ofs_ratelimit_take(NULL, 12345), 12345);
	assert_int_equal(ofs_ratelimit_take(l, 12345), 12345);	/* no rule: unlimited */
	assert_int_equal(ofs_ratelimit_add(l, "4M", &err), 0);
	t = ofs_mono();
	while (total < (1u << 20)) {
		got = ofs_ratelimit_take(l, (1u << 20) - total);
		assert_true(got > 0 && got <= (256u << 10));
		total += got;
	}
	assert_true(ofs_mono() - t >= 0.2);
	ofs_ratelimit_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_rates),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_paces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
