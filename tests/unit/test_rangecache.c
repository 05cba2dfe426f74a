/* Unit tests for the remote read-ahead (lib/rangecache.c) over a counting in-memory backend:
 * neighbouring reads share one request, nothing past the pack limit is fetched, a failed
 * fetch is not cached, eviction is least-recently-used, and concurrent readers of one span
 * make a single request. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rangecache.h"
#include "repo.h"

#define OBJ (1u << 20)

struct mem_backend {
	struct ofs_backend b;
	uint8_t data[OBJ];
	int gets, fail_next;
	uint64_t last_off, last_len;
	pthread_mutex_t mu;
};

static int
mem_get(struct ofs_backend *b, const char *name, uint64_t off, uint64_t len,
    struct ofs_buf *out, struct ofs_error *err)
{
	struct mem_backend *m = (struct mem_backend *)b;

	(void)name;
	pthread_mutex_lock(&m->mu);
	m->gets++;
	m->last_off = off;
	m->last_len = len;
	if (m->fail_next) {
		m->fail_next = 0;
		pthread_mutex_unlock(&m->mu);
		return ofs_err_set(err, OFS_ERR_NETWORK, "GET %s: 503", name);
	}
	pthread_mutex_unlock(&m->mu);
	usleep(2000);	/* long enough for concurrent readers to meet */
	if (off + len > OBJ)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "past the end");
	return ofs_buf_add(out, m->data + off, (size_t)len);
}

static const struct ofs_backend_ops mem_ops = { .get = mem_get };

static struct mem_backend *
mem_new(void)
{
	struct mem_backend *m = calloc(1, sizeof(*m));

	m->b.ops = &mem_ops;
	m->b.loc = "mem:";
	for (size_t i = 0; i < OBJ; i++)
		m->data[i] = (uint8_t)(i * 7 + (i >> 9));
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void
read_ok(struct ofs_rangecache *c, struct mem_backend *m, const char *name, uint64_t off,
    uint64_t len, uint64_t limit)
{
	struct ofs_buf out = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };

	assert_int_equal(ofs_rangecache_read(c, &m->b, name, off, len, limit, &out, &err), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, m->data + off, len);
	ofs_buf_release(&out);
}

static void
test_neighbours_share_a_request(void **state)
{
	struct mem_backend *m = mem_new();
	struct ofs_rangecache *c = ofs_rangecache_new(4, 64 << 10);
	uint64_t req, hits;

	(void)state;
	read_ok(c, m, "p", 1000, 5000, OBJ);
	assert_int_equal(m->gets, 1);
	assert_int_equal(m->last_off, 1000);
	assert_int_equal(m->last_len, 64 << 10);	/* the span, not just the blob */
	read_ok(c, m, "p", 6000, 20000, OBJ);
	read_ok(c, m, "p", 26000, 39000, OBJ);		/* ends exactly at the span's end */
	assert_int_equal(m->gets, 1);
	read_ok(c, m, "p", 60000, 10000, OBJ);		/* crosses it: a new request */
	assert_int_equal(m->gets, 2);
	read_ok(c, m, "other", 1000, 100, OBJ);		/* another object never hits */
	assert_int_equal(m->gets, 3);
	ofs_rangecache_stats(c, &req, &hits);
	assert_int_equal(req, 3);
	assert_int_equal(hits, 2);
	ofs_rangecache_free(c);
	free(m);
}

static void
test_limit_and_big_blobs(void **state)
{
	struct mem_backend *m = mem_new();
	struct ofs_rangecache *c = ofs_rangecache_new(2, 64 << 10);

	(void)state;
	read_ok(c, m, "p", 100, 50, 4096);	/* the pack ends at 4096: nothing past it */
	assert_int_equal(m->last_len, 4096 - 100);
	read_ok(c, m, "p", 200000, 300000, OBJ);	/* bigger than the span: read whole */
	assert_int_equal(m->last_off, 200000);
	assert_int_equal(m->last_len, 300000);
	ofs_rangecache_free(c);
	free(m);
}

static void
test_failure_not_cached(void **state)
{
	struct mem_backend *m = mem_new();
	struct ofs_rangecache *c = ofs_rangecache_new(2, 64 << 10);
	struct ofs_buf out = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };

	(void)state;
	m->fail_next = 1;
	assert_int_equal(ofs_rangecache_read(c, &m->b, "p", 0, 100, OBJ, &out, &err),
	    OFS_ERR_NETWORK);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(err.msg, "503"));
	read_ok(c, m, "p", 0, 100, OBJ);	/* tried again, not served from a failed span */
	assert_int_equal(m->gets, 2);
	ofs_buf_release(&out);
	ofs_rangecache_free(c);
	free(m);
}

static void
test_lru(void **state)
{
	struct mem_backend *m = mem_new();
	struct ofs_rangecache *c = ofs_rangecache_new(2, 4096);

	(void)state;
	read_ok(c, m, "a", 0, 10, OBJ);
	read_ok(c, m, "b", 0, 10, OBJ);
	read_ok(c, m, "a", 10, 10, OBJ);	/* a is now the most recent */
	read_ok(c, m, "c", 0, 10, OBJ);		/* evicts b */
	assert_int_equal(m->gets, 3);
	read_ok(c, m, "a", 20, 10, OBJ);
	assert_int_equal(m->gets, 3);
	read_ok(c, m, "b", 20, 10, OBJ);
	assert_int_equal(m->gets, 4);
	ofs_rangecache_free(c);
	free(m);
}

struct reader {
	struct ofs_rangecache *c;
	struct mem_backend *m;
	uint64_t off;
	int rc;
};

static void *
reader(void *arg)
{
	struct reader *r = arg;
	struct ofs_buf out = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };

	r->rc = ofs_rangecache_read(r->c, &r->m->b, "p", r->off, 1000, OBJ, &out, &err);
	if (r->rc == 0 && (out.len != 1000 || memcmp(out.data, r->m->data + r->off, 1000) != 0))
		r->rc = -1;
	ofs_buf_release(&out);
	return NULL;
}

static void
test_concurrent_one_fetch(void **state)
{
	struct mem_backend *m = mem_new();
	struct ofs_rangecache *c = ofs_rangecache_new(4, 64 << 10);
	struct reader rd[8];
	pthread_t th[8];

	(void)state;
	/* nothing cached: the first reader fetches, the others wait for it */
	for (int i = 0; i < 8; i++) {
		rd[i] = (struct reader){ c, m, 0, 0 };
		pthread_create(&th[i], NULL, reader, &rd[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rd[i].rc, 0);
	}
	assert_int_equal(m->gets, 1);
	ofs_rangecache_free(c);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_neighbours_share_a_request),
		cmocka_unit_test(test_limit_and_big_blobs),
		cmocka_unit_test(test_failure_not_cached),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_concurrent_one_fetch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
