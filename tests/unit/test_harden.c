/* Unit tests for lib/harden.c: the process is made non-dumpable with no core limit, and
 * with the wiping allocator installed jansson still works (also on values allocated before)
 * while every block it frees is all zeros just before free(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <jansson.h>

#include "harden.h"

static void
test_process(void **state)
{
	struct rlimit rl;

	ofs_harden_process();
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_true(rl.rlim_cur == 0 && rl.rlim_max == 0);
	/* The hard limit is 0 for good: an unprivileged process cannot raise it again (root
	 * can, so only check that the call keeps working). */
	ofs_harden_process();
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

/* What the observer saw: how many blocks, whether the watched one came by, and whether any
 * block handed to it held a non-zero byte. */
static struct {
	const void *watch;
	size_t blocks, watch_size;
	int watched, dirty;
} seen;

static void
observe(const void *p, size_t n)
{
	const unsigned char *b = p;

	seen.blocks++;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			seen.dirty = 1;
	if (p == seen.watch) {
		seen.watched = 1;
		seen.watch_size = n;
	}
}

static void
test_json_wipe(void **state)
{
	static const char secret[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	json_t *early, *s, *doc;
	json_error_t je;
	char *text;

	early = json_pack("{s:s}", "made", "before the allocator was installed");
	assert_non_null(early);
	ofs_json_wipe_on_free();
	ofs_harden_set_wipe_observer(observe);
	memset(&seen, 0, sizeof(seen));

	/* A string's bytes: wiped before their block is freed. */
	s = json_string(secret);
	assert_non_null(s);
	seen.watch = json_string_value(s);
	json_decref(s);
	assert_true(seen.watched);
	assert_true(seen.watch_size >= sizeof(secret));
	assert_false(seen.dirty);

	/* Parsing (lexer buffers, keys, values) and dumping go through it as well. */
	seen.blocks = 0;
	doc = json_loads("{\"client_secret\": \"hunter2-hunter2\", \"n\": [1, 2, 3]}", 0, &je);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "client_secret")),
	    "hunter2-hunter2");
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"client_secret\":\"hunter2-hunter2\",\"n\":[1,2,3]}");
	free(text);		/* json_dumps memory is plain malloc memory: free() is fine */
	json_decref(doc);
	assert_true(seen.blocks > 3);
	assert_false(seen.dirty);

	/* A value allocated before the switch is freed by the new function without harm. */
	assert_string_equal(json_string_value(json_object_get(early, "made")),
	    "before the allocator was installed");
	json_decref(early);
	assert_false(seen.dirty);
	ofs_harden_set_wipe_observer(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process),
		cmocka_unit_test(test_json_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
