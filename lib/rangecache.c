/* Span cache for remote blob reads (see rangecache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rangecache.h"
#include "repo.h"
#include "util.h"

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY };

struct slot {
	char *name;
	uint64_t off, len;
	struct ofs_buf data;
	uint64_t tick;
	int state;
};

struct ofs_rangecache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *s;
	size_t n;
	uint64_t span, tick, requests, hits;
};

struct ofs_rangecache *
ofs_rangecache_new(size_t slots, uint64_t span)
{
	struct ofs_rangecache *c = ofs_xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->n = slots ? slots : 1;
	c->s = ofs_xcalloc(c->n, sizeof(*c->s));
	for (size_t i = 0; i < c->n; i++)
		ofs_buf_init(&c->s[i].data, 0);
	c->span = span;
	return c;
}

void
ofs_rangecache_free(struct ofs_rangecache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->s[i].name);
		ofs_buf_release(&c->s[i].data);
	}
	free(c->s);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
ofs_rangecache_stats(struct ofs_rangecache *c, uint64_t *requests, uint64_t *hits)
{
	pthread_mutex_lock(&c->mu);
	*requests = c->requests;
	*hits = c->hits;
	pthread_mutex_unlock(&c->mu);
}

/* The slot holding [off, off+len) of name (ready or being filled), or NULL. */
static struct slot *
find(struct ofs_rangecache *c, const char *name, uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < c->n; i++) {
		struct slot *s = &c->s[i];

		if (s->state != SLOT_EMPTY && off >= s->off && off + len <= s->off + s->len &&
		    strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

/* An empty slot, else the least recently used ready one; NULL when all are filling. */
static struct slot *
victim(struct ofs_rangecache *c)
{
	struct slot *best = NULL;

	for (size_t i = 0; i < c->n; i++) {
		struct slot *s = &c->s[i];

		if (s->state == SLOT_EMPTY)
			return s;
		if (s->state == SLOT_READY && (best == NULL || s->tick < best->tick))
			best = s;
	}
	return best;
}

int
ofs_rangecache_read(struct ofs_rangecache *c, struct ofs_backend *be, const char *name,
    uint64_t off, uint64_t len, uint64_t limit, struct ofs_buf *out, struct ofs_error *err)
{
	struct slot *s;
	uint64_t end;
	int rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		if ((s = find(c, name, off, len)) != NULL) {
			if (s->state == SLOT_FILLING) {
				pthread_cond_wait(&c->cv, &c->mu);
				continue;
			}
			s->tick = ++c->tick;
			c->hits++;
			rc = ofs_buf_add(out, s->data.data + (off - s->off), (size_t)len);
			pthread_mutex_unlock(&c->mu);
			return rc == 0 ? 0 : ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': %llu bytes at "
			    "offset %llu do not fit the buffer", name, (unsigned long long)len,
			    (unsigned long long)off);
		}
		if ((s = victim(c)) != NULL)
			break;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	end = off + c->span < limit ? off + c->span : limit;
	if (end < off + len)
		end = off + len;
	free(s->name);
	s->name = ofs_xstrdup(name);
	s->off = off;
	s->len = end - off;
	s->state = SLOT_FILLING;
	c->requests++;
	ofs_buf_reset(&s->data);
	pthread_mutex_unlock(&c->mu);

	rc = be->ops->get(be, name, off, end - off, &s->data, err);
	if (rc == 0 && s->data.len != end - off)
		rc = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is truncated: %zu of %llu bytes at "
		    "offset %llu", name, s->data.len, (unsigned long long)(end - off),
		    (unsigned long long)off);

	pthread_mutex_lock(&c->mu);
	s->state = rc == 0 ? SLOT_READY : SLOT_EMPTY;
	s->tick = ++c->tick;
	if (rc == 0 && ofs_buf_add(out, s->data.data, (size_t)len) != 0)
		rc = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': %llu bytes at offset %llu do not "
		    "fit the buffer", name, (unsigned long long)len, (unsigned long long)off);
	if (s->state == SLOT_EMPTY)
		ofs_buf_reset(&s->data);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
