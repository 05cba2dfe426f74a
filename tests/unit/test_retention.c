/* Unit tests for the forget policy (engine/retention.c): restic semantics for last/daily/weekly/monthly/yearly, ISO weeks across years. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "retention.h"

static int64_t
at(const char *rfc)
{
	int64_t ns = 0;

	assert_int_equal(ofs_parse_time_ns(rfc, &ns), 0);
	return ns;
}

/* oldest first, as ofs_repo_list_snapshots returns them */
static const char *const times[] = {
	"2025-12-31T08:00:00Z",	/* 0: Wednesday, ISO week 2026-W01 */
	"2026-01-01T10:00:00Z",	/* 1: W01 */
	"2026-01-01T12:00:00Z",	/* 2: W01, same day as 1 */
	"2026-01-02T09:00:00Z",	/* 3: W01 */
	"2026-01-09T09:00:00Z",	/* 4: W02 */
	"2026-02-15T09:00:00Z",	/* 5: W07 */
};
#define N (sizeof(times) / sizeof(times[0]))

static void
run(struct ofs_keep_policy p, const char *want)
{
	struct ofs_snapshot s[N];
	int keep[N];
	char got[N + 1];
	size_t kept, nk = 0;

	memset(s, 0, sizeof(s));
	for (size_t i = 0; i < N; i++)
		s[i].time_ns = at(times[i]);
	kept = ofs_forget_select(s, N, &p, keep);
	for (size_t i = 0; i < N; i++)
		got[i] = keep[i] ? 'k' : '-';
	got[N] = '\0';
	assert_string_equal(got, want);
	for (size_t i = 0; want[i] != '\0'; i++)
		nk += want[i] == 'k';
	assert_int_equal(kept, nk);
}

static void
test_last(void **state)
{
	(void)state;
	run((struct ofs_keep_policy){ .last = 2 }, "----kk");
	run((struct ofs_keep_policy){ .last = 10 }, "kkkkkk");
}

static void
test_daily(void **state)
{
	(void)state;
	run((struct ofs_keep_policy){ .daily = 2 }, "----kk");
	/* newest of each day: 01-01 12:00 wins over 10:00 */
	run((struct ofs_keep_policy){ .daily = 5 }, "k-kkkk");
}

static void
test_weekly_iso_year(void **state)
{
	(void)state;
	/* 2025-12-31 is in ISO week 2026-W01: it shares a week with 01-02 */
	run((struct ofs_keep_policy){ .weekly = 3 }, "---kkk");
	run((struct ofs_keep_policy){ .weekly = 4 }, "---kkk");
}

static void
test_monthly_yearly(void **state)
{
	(void)state;
	run((struct ofs_keep_policy){ .monthly = 2 }, "----kk");
	run((struct ofs_keep_policy){ .monthly = 3 }, "k---kk");
	run((struct ofs_keep_policy){ .yearly = 5 }, "k----k");
}

static void
test_union(void **state)
{
	(void)state;
	/* a snapshot is kept if any rule keeps it */
	run((struct ofs_keep_policy){ .last = 1, .yearly = 2 }, "k----k");
	run((struct ofs_keep_policy){ .last = 2, .daily = 1, .monthly = 3 }, "k---kk");
	run((struct ofs_keep_policy){ .daily = 0 }, "------");
}

static void
test_empty(void **state)
{
	struct ofs_keep_policy p = { .last = 3 };
	int keep[1];

	(void)state;
	assert_int_equal(ofs_forget_select(NULL, 0, &p, keep), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last),
		cmocka_unit_test(test_daily),
		cmocka_unit_test(test_weekly_iso_year),
		cmocka_unit_test(test_monthly_yearly),
		cmocka_unit_test(test_union),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
