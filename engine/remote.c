/* offseed verify azure://…: read every blob the disk manifests import (ranged GETs through
 * lib/azblob.c, several blobs at once, one client per reader) and compare sizes, blob
 * types and XXH3-128 per region and per blob with the manifests. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "remote.h"
#include "util.h"

#define DEFAULT_THREADS 4
#define MAX_THREADS 64

enum item_state {
	ST_PENDING = 0,
	ST_MISSING,
	ST_SIZE,
	ST_UNREADABLE,
	ST_HASHED,
};

/* One blob to check, and what was found. */
struct item {
	const struct ofs_manifest_file *mf;
	uint64_t region_size;
	size_t order;		/* selection order: tie-break for equal names */
	char *name;		/* "C/B", owned */
	char *container;	/* owned */
	const char *blob;	/* into name */
	int page;
	enum item_state state;
	int wrong_type;
	int found_type;
	uint64_t found_size;
	char *detail;		/* owned, or NULL */
	struct ofs_file_hashes got;
};

struct run {
	pthread_mutex_t mu;
	struct item *it;
	size_t n, next;
	const struct ofs_remote_opts *o;
	struct ofs_azblob_opts ao;
	int fatal;
	struct ofs_error ferr;
};

static int
account_ok(const char *s, size_t n)
{
	if (n < 3 || n > 24)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int
container_ok(const char *s, size_t n)
{
	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
		if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
			return 0;
	}
	return 1;
}

void
ofs_remote_loc_release(struct ofs_remote_loc *loc)
{
	free(loc->account);
	free(loc->container);
	free(loc->prefix);
	memset(loc, 0, sizeof(*loc));
}

int
ofs_remote_parse(const char *s, struct ofs_remote_loc *loc, struct ofs_error *err)
{
	const char *p, *slash, *seg;
	size_t n;

	memset(loc, 0, sizeof(*loc));
	if (strncmp(s, "azure://", 8) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "cannot verify '%s': the only remote "
		    "locations are azure://ACCOUNT/CONTAINER[/PREFIX]", s);
	p = s + 8;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (!account_ok(p, n))
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s': the storage account name must be 3 "
		    "to 24 lower-case letters and digits", s);
	loc->account = ofs_xstrndup(p, n);
	if (slash == NULL || slash[1] == '\0')
		return 0;
	p = slash + 1;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (!container_ok(p, n)) {
		ofs_remote_loc_release(loc);
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s': '%.*s' is not a valid container "
		    "name (3 to 63 of a-z, 0-9 and single '-', starting and ending with a letter "
		    "or digit)", s, (int)n, p);
	}
	loc->container = ofs_xstrndup(p, n);
	if (slash == NULL)
		return 0;
	p = slash + 1;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return 0;
	/* every segment non-empty and not "." or ".." */
	for (seg = p; seg < p + n;) {
		const char *e = memchr(seg, '/', (size_t)(p + n - seg));
		size_t sl = e ? (size_t)(e - seg) : (size_t)(p + n - seg);

		if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' &&
		    seg[1] == '.')) {
			ofs_remote_loc_release(loc);
			return ofs_err_set(err, OFS_ERR_USAGE, "'%s': the prefix has an empty, '.' "
			    "or '..' segment", s);
		}
		seg += sl + 1;
	}
	if (n > OFS_AZBLOB_NAME_MAX) {
		ofs_remote_loc_release(loc);
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s': the prefix is longer than a blob "
		    "name may be", s);
	}
	loc->prefix = ofs_xstrndup(p, n);
	return 0;
}

/* Does manifest path `path` import a blob under loc? Fills the item's name fields. */
static int
select_entry(const struct ofs_remote_loc *loc, const char *path, struct item *it)
{
	const char *rest, *slash;
	size_t cl, pl;

	if (strncmp(path, "PageBlob/", 9) == 0) {
		it->page = 1;
		rest = path + 9;
	} else if (strncmp(path, "BlockBlob/", 10) == 0) {
		it->page = 0;
		rest = path + 10;
	} else {
		return 0;
	}
	if ((slash = strchr(rest, '/')) == NULL || slash[1] == '\0')
		return 0;
	cl = (size_t)(slash - rest);
	if (loc->container != NULL && (strlen(loc->container) != cl ||
	    memcmp(loc->container, rest, cl) != 0))
		return 0;
	if (loc->prefix != NULL) {
		pl = strlen(loc->prefix);
		if (strncmp(slash + 1, loc->prefix, pl) != 0 || (slash[1 + pl] != '/' &&
		    slash[1 + pl] != '\0'))
			return 0;
	}
	it->name = ofs_xstrdup(rest);
	it->container = ofs_xstrndup(rest, cl);
	it->blob = it->name + cl + 1;
	return 1;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
fatal_code(int r)
{
	return r == OFS_ERR_AUTH || r == OFS_ERR_NETWORK || r == OFS_ERR_USAGE;
}

/* Read and hash one blob. Returns 0 (the outcome is in it) or a fatal OFS_ERR_* in err. */
static int
check_item(struct ofs_azblob *c, struct item *it, struct ofs_buf *buf,
    const struct ofs_remote_opts *o, struct ofs_error *err)
{
	struct ofs_azblob_props p;
	struct ofs_hasher *h = NULL;
	struct ofs_error e;
	uint64_t size = it->mf->h.size, off, k;
	int r;

	ofs_err_clear(&e);
	if ((r = ofs_azblob_props(c, it->container, it->blob, &p, &e)) != 0) {
		if (fatal_code(r)) {
			*err = e;
			return r;
		}
		it->state = r == OFS_ERR_NOTFOUND ? ST_MISSING : ST_UNREADABLE;
		it->detail = ofs_xstrdup(e.msg);
		return 0;
	}
	it->found_type = p.type;
	it->found_size = p.size;
	it->wrong_type = p.type != (it->page ? OFS_AZBLOB_TYPE_PAGE : OFS_AZBLOB_TYPE_BLOCK);
	if (p.size != size) {
		it->state = ST_SIZE;
		return 0;
	}
	h = ofs_hasher_new(it->region_size);
	for (off = 0; off < size; off += k) {
		k = size - off < OFS_REMOTE_CHUNK ? size - off : OFS_REMOTE_CHUNK;
		ofs_buf_reset(buf);
		if ((r = ofs_azblob_get(c, it->container, it->blob, off, k, buf, &e)) != 0) {
			if (fatal_code(r)) {
				*err = e;
				goto out;
			}
			it->state = ST_UNREADABLE;
			it->detail = ofs_xstrdup(e.msg);
			r = 0;
			goto out;
		}
		if (buf->len != k) {
			it->state = ST_UNREADABLE;
			it->detail = ofs_xasprintf("reading %llu bytes at offset %llu gave %zu (the "
			    "blob changed while being read)", (unsigned long long)k,
			    (unsigned long long)off, buf->len);
			goto out;
		}
		ofs_hasher_update(h, buf->data, buf->len);
		if (o->progress != NULL)
			ofs_progress_add(o->progress, k, 0, it->name);
	}
	ofs_hasher_finish(h, &it->got);
	it->state = ST_HASHED;
	r = 0;
out:
	ofs_hasher_free(h);
	return r;
}

static void *
worker(void *arg)
{
	struct run *rn = arg;
	struct ofs_buf buf = OFS_BUF_INIT(OFS_REMOTE_CHUNK);
	struct ofs_azblob *c = NULL;
	struct ofs_error e;
	size_t i;
	int r;

	ofs_err_clear(&e);
	if ((r = ofs_azblob_open(&rn->ao, &c, &e)) != 0)
		goto fail;
	for (;;) {
		pthread_mutex_lock(&rn->mu);
		if (rn->fatal != 0 || rn->next >= rn->n) {
			pthread_mutex_unlock(&rn->mu);
			break;
		}
		i = rn->next++;
		pthread_mutex_unlock(&rn->mu);
		if ((r = check_item(c, &rn->it[i], &buf, rn->o, &e)) != 0)
			goto fail;
		if (rn->o->progress != NULL)
			ofs_progress_add(rn->o->progress, 0, 1, rn->it[i].name);
	}
	goto out;
fail:
	pthread_mutex_lock(&rn->mu);
	if (rn->fatal == 0) {
		rn->fatal = r;
		rn->ferr = e;
	}
	pthread_mutex_unlock(&rn->mu);
out:
	ofs_azblob_free(c);
	ofs_buf_release(&buf);
	return NULL;
}

static void
finding_init(struct ofs_finding *f, enum ofs_finding_kind kind, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->path = path;
	f->region = -1;
}

static void
emit(const struct ofs_remote_opts *o, struct ofs_check_stats *st, const struct ofs_finding *f)
{
	st->findings++;
	if (f->kind > 0 && f->kind < OFS_FINDING_NKINDS)
		st->by_kind[f->kind]++;
	if (o->on_finding != NULL)
		o->on_finding(f, o->arg);
}

/* Presence, size and read findings of one blob (first pass). */
static void
report_presence(const struct item *it, const struct ofs_remote_opts *o,
    struct ofs_check_stats *st)
{
	struct ofs_finding f;

	switch (it->state) {
	case ST_MISSING:
		finding_init(&f, OFS_FINDING_MISSING, it->name);
		f.has_sizes = 1;
		f.expected_size = it->mf->h.size;
		f.detail = it->detail;
		emit(o, st, &f);
		break;
	case ST_SIZE:
		finding_init(&f, OFS_FINDING_SIZE, it->name);
		f.has_sizes = 1;
		f.expected_size = it->mf->h.size;
		f.found_size = it->found_size;
		emit(o, st, &f);
		break;
	case ST_UNREADABLE:
		finding_init(&f, OFS_FINDING_UNREADABLE, it->name);
		f.detail = it->detail;
		emit(o, st, &f);
		break;
	default:
		break;
	}
}

/* Blob type, region and whole-blob findings of one blob (second pass). */
static void
report_content(const struct item *it, const struct ofs_remote_opts *o,
    struct ofs_check_stats *st)
{
	const struct ofs_file_hashes *want = &it->mf->h, *got = &it->got;
	uint64_t rs = it->region_size, bad = 0;
	struct ofs_finding f;
	char *d;

	if (it->wrong_type) {
		d = ofs_xasprintf("a %s, expected a %s", ofs_azblob_type_name(it->found_type),
		    it->page ? "PageBlob" : "BlockBlob");
		finding_init(&f, OFS_FINDING_STRUCTURE, it->name);
		f.detail = d;
		emit(o, st, &f);
		free(d);
	}
	if (it->state != ST_HASHED)
		return;
	if (want->nregions > 0 && want->nregions == got->nregions) {
		for (size_t i = 0; i < want->nregions; i++) {
			if (memcmp(want->regions[i], got->regions[i], OFS_XXH_LEN) == 0)
				continue;
			finding_init(&f, OFS_FINDING_REGION, it->name);
			f.region = (int64_t)i;
			f.has_range = 1;
			f.start = i * rs;
			f.end = (i + 1) * rs < want->size ? (i + 1) * rs : want->size;
			f.has_hashes = 1;
			memcpy(f.expected, want->regions[i], OFS_XXH_LEN);
			memcpy(f.found, got->regions[i], OFS_XXH_LEN);
			emit(o, st, &f);
			bad++;
		}
	}
	/* As the local check: the whole-blob hash adds nothing once a region pinpoints it. */
	if (bad == 0 && memcmp(want->xxh, got->xxh, OFS_XXH_LEN) != 0) {
		finding_init(&f, OFS_FINDING_HASH, it->name);
		f.has_range = 1;
		f.start = 0;
		f.end = want->size;
		f.has_hashes = 1;
		memcpy(f.expected, want->xxh, OFS_XXH_LEN);
		memcpy(f.found, got->xxh, OFS_XXH_LEN);
		emit(o, st, &f);
	}
}

static int
same_entry(const struct item *a, const struct item *b)
{
	return strcmp(a->name, b->name) == 0 && a->page == b->page &&
	    a->mf->h.size == b->mf->h.size && a->region_size == b->region_size &&
	    memcmp(a->mf->h.xxh, b->mf->h.xxh, OFS_XXH_LEN) == 0;
}

int
ofs_remote_verify(const struct ofs_remote_loc *loc, struct ofs_manifest *const *m,
    size_t nm, const struct ofs_remote_opts *o, struct ofs_check_stats *st,
    struct ofs_error *err)
{
	struct run rn;
	struct ofs_azblob *probe = NULL;
	pthread_t *th = NULL;
	char *started = NULL;
	size_t cap = 0, nth, w;
	double t0 = ofs_mono();
	int r;

	memset(st, 0, sizeof(*st));
	memset(&rn, 0, sizeof(rn));
	pthread_mutex_init(&rn.mu, NULL);
	rn.o = o;

	/* The blobs to check, sorted by name, identical duplicates dropped. */
	for (size_t k = 0; k < nm; k++) {
		for (size_t i = 0; i < m[k]->nfiles; i++) {
			struct item it;

			memset(&it, 0, sizeof(it));
			if (!select_entry(loc, m[k]->files[i].path, &it))
				continue;
			it.mf = &m[k]->files[i];
			it.region_size = m[k]->region_size ? m[k]->region_size : OFS_REGION_SIZE;
			it.order = rn.n;
			if (rn.n == cap) {
				cap = cap ? cap * 2 : 64;
				rn.it = ofs_xreallocarray(rn.it, cap, sizeof(*rn.it));
			}
			rn.it[rn.n++] = it;
		}
	}
	if (rn.n > 1)
		qsort(rn.it, rn.n, sizeof(*rn.it), item_cmp);
	w = 0;
	for (size_t i = 0; i < rn.n; i++) {
		if (w > 0 && same_entry(&rn.it[w - 1], &rn.it[i])) {
			free(rn.it[i].name);
			free(rn.it[i].container);
			continue;
		}
		rn.it[w++] = rn.it[i];
	}
	rn.n = w;
	if (rn.n == 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "the manifests list no PageBlob/ or BlockBlob/ "
		    "file under azure://%s%s%s%s%s", loc->account, loc->container ? "/" : "",
		    loc->container ? loc->container : "", loc->prefix ? "/" : "",
		    loc->prefix ? loc->prefix : "");
		goto out;
	}
	for (size_t i = 0; i < rn.n; i++) {
		st->files_listed++;
		st->bytes_listed += rn.it[i].mf->h.size;
	}
	if (o->progress != NULL)
		ofs_progress_set_total(o->progress, st->bytes_listed, st->files_listed);

	/* The client configuration, checked once before the readers start. */
	ofs_azblob_opts_from_env(&rn.ao);
	if (rn.ao.endpoint == NULL && rn.ao.account == NULL)
		rn.ao.account = loc->account;
	if ((r = ofs_azblob_open(&rn.ao, &probe, err)) != 0)
		goto out;
	if (strcmp(ofs_azblob_account(probe), loc->account) != 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "the Azure endpoint (OFFSEED_AZURE_ENDPOINT, "
		    "OFFSEED_AZURE_ACCOUNT) is for account '%s', not '%s'",
		    ofs_azblob_account(probe), loc->account);
		goto out;
	}
	ofs_azblob_free(probe);
	probe = NULL;

	nth = o->threads > 0 ? (size_t)o->threads : DEFAULT_THREADS;
	if (nth > MAX_THREADS)
		nth = MAX_THREADS;
	if (nth > rn.n)
		nth = rn.n;
	th = ofs_xcalloc(nth, sizeof(*th));
	started = ofs_xcalloc(nth, 1);
	for (w = 1; w < nth; w++)
		started[w] = pthread_create(&th[w], NULL, worker, &rn) == 0;
	worker(&rn);
	for (w = 1; w < nth; w++)
		if (started[w])
			pthread_join(th[w], NULL);
	if (rn.fatal != 0) {
		*err = rn.ferr;
		r = rn.fatal;
		goto out;
	}

	for (size_t i = 0; i < rn.n; i++) {
		const struct item *it = &rn.it[i];

		if (it->state != ST_HASHED)
			continue;
		st->files_checked++;
		st->bytes_hashed += it->mf->h.size;
		st->regions_checked += it->mf->h.nregions;
	}
	for (size_t i = 0; i < rn.n; i++)
		report_presence(&rn.it[i], o, st);
	for (size_t i = 0; i < rn.n; i++)
		report_content(&rn.it[i], o, st);
	r = 0;
out:
	ofs_azblob_free(probe);
	for (size_t i = 0; i < rn.n; i++) {
		free(rn.it[i].name);
		free(rn.it[i].container);
		free(rn.it[i].detail);
		ofs_file_hashes_release(&rn.it[i].got);
	}
	free(rn.it);
	free(th);
	free(started);
	pthread_mutex_destroy(&rn.mu);
	st->seconds = ofs_mono() - t0;
	return r;
}
