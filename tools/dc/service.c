/* offseed-dc identity: STATE/service.json (token key, the default customer's ids), the
 * customers (STATE/customers/), the credentials files it issues, the clients it records, its
 * signed bearer tokens and the operator's admin token. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "util.h"

#define SERVICE_FILE "service.json"
#define CLIENT_FILE_MAX (16u << 10)
#define CUSTOMER_FILE_MAX (16u << 10)
#define ADMIN_TOKEN_FILE "admin.token"

void
dc_log(const char *fmt, ...)
{
	va_list ap;

	fputs("offseed-dc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int64_t
dc_now_s(void)
{
	return ofs_now_ns() / 1000000000;
}

static char *
make_uuid(void)
{
	uint8_t b[16];
	char h[33];

	ofs_random(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);		/* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	ofs_hex(b, sizeof(b), h);
	return ofs_xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* Overwrite a string member in place before its object is freed: jansson frees without
 * wiping, and these strings hold keys and secrets. */
static void
json_wipe_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		ofs_wipe((char *)json_string_value(v), json_string_length(v));
}

/* Take STATE/service.lock (exclusive); *fd is closed by the caller to release it. */
static int
state_lock(const char *state, int *fd, struct ofs_error *err)
{
	char *lock = ofs_path_join(state, "service.lock");
	int r = 0;

	if ((*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(*fd, LOCK_EX) == -1)
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot lock '%s'", lock);
	free(lock);
	return r;
}

void
dc_service_release(struct dc_service *s)
{
	free(s->dir);
	free(s->tenant);
	free(s->subscription);
	free(s->resource_group);
	free(s->location);
	free(s->vault_id);
	free(s->storage);
	free(s->endpoint);
	ofs_wipe(s->token_key, sizeof(s->token_key));
	memset(s, 0, sizeof(*s));
}

/* A required printable string member copied out, or -1. */
static int
take_str(json_t *o, const char *key, char **out)
{
	const char *v = dc_jstr(o, key);

	if (v == NULL || ofs_text_check(v, strlen(v), 256, OFS_TEXT_NONEMPTY) != OFS_TEXT_OK)
		return -1;
	*out = ofs_xstrdup(v);
	return 0;
}

static int
service_parse(struct dc_service *s, const struct ofs_buf *raw, const char *path,
    struct ofs_error *err)
{
	json_error_t je;
	json_t *root;
	const char *k;
	int r = 0;

	root = json_loadb((const char *)raw->data, raw->len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is not valid JSON (line %d: %s)",
		    path, je.line, je.text);
	if (take_str(root, "tenant", &s->tenant) != 0 ||
	    take_str(root, "subscription", &s->subscription) != 0 ||
	    take_str(root, "resource_group", &s->resource_group) != 0 ||
	    take_str(root, "location", &s->location) != 0 ||
	    take_str(root, "vault_id", &s->vault_id) != 0 ||
	    (k = dc_jstr(root, "token_key")) == NULL ||
	    ofs_unhex(k, s->token_key, sizeof(s->token_key)) != 0 || strlen(k) != 64) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is damaged (a required field is "
		    "missing or invalid)", path);
		goto out;
	}
	if (dc_jstr(root, "storage") != NULL)
		take_str(root, "storage", &s->storage);
	if (dc_jstr(root, "endpoint") != NULL)
		take_str(root, "endpoint", &s->endpoint);
out:
	json_wipe_member(root, "token_key");
	json_decref(root);
	return r;
}

int
dc_service_save(const struct dc_service *s, struct ofs_error *err)
{
	char key[65], *path, *text;
	json_t *o;
	int r;

	ofs_hex(s->token_key, sizeof(s->token_key), key);
	o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "format", "offseed-dc-service",
	    "version", 1, "tenant", s->tenant, "subscription", s->subscription,
	    "resource_group", s->resource_group, "location", s->location, "vault_id",
	    s->vault_id, "token_key", key);
	if (s->storage != NULL)
		json_object_set_new(o, "storage", json_string(s->storage));
	if (s->endpoint != NULL)
		json_object_set_new(o, "endpoint", json_string(s->endpoint));
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_wipe_member(o, "token_key");
	json_decref(o);
	path = ofs_path_join(s->dir, SERVICE_FILE);
	r = ofs_write_file_atomic(path, text, strlen(text), 0600, err);
	ofs_wipe(text, strlen(text));
	ofs_wipe(key, sizeof(key));
	free(text);
	free(path);
	return r;
}

int
dc_service_open(const char *state, struct dc_service *s, struct ofs_error *err)
{
	static const char *const subdirs[] = { "clients", "jobs", "customers" };
	struct ofs_buf raw = OFS_BUF_INIT(64u << 10);
	char *path = NULL, *sub;
	uint8_t id[8];
	char idhex[17];
	int r, fd = -1;

	memset(s, 0, sizeof(*s));
	s->dir = ofs_xstrdup(state);
	if ((r = ofs_mkdir_p(state, 0700, err)) != 0)
		goto out;
	for (size_t i = 0; i < OFS_ARRAY_LEN(subdirs); i++) {
		sub = ofs_path_join(state, subdirs[i]);
		r = ofs_mkdir_p(sub, 0700, err);
		free(sub);
		if (r != 0)
			goto out;
	}
	if ((r = state_lock(state, &fd, err)) != 0)
		goto out;
	path = ofs_path_join(state, SERVICE_FILE);
	r = ofs_buf_read_file(&raw, path, err);
	if (r == 0) {
		r = service_parse(s, &raw, path, err);
		goto out;
	}
	if (r != OFS_ERR_NOTFOUND)
		goto out;
	ofs_err_clear(err);
	s->tenant = make_uuid();
	s->subscription = make_uuid();
	s->resource_group = ofs_xstrdup("offseed-import");
	s->location = ofs_xstrdup("westeurope");
	ofs_random(id, sizeof(id));
	ofs_hex(id, sizeof(id), idhex);
	s->vault_id = ofs_xasprintf("offseed-vault-%s", idhex);
	ofs_random(s->token_key, sizeof(s->token_key));
	r = dc_service_save(s, err);
out:
	if (fd != -1)
		close(fd);	/* releases the lock */
	ofs_buf_release_secret(&raw);
	free(path);
	if (r != 0)
		dc_service_release(s);
	return r;
}

/* ---- customers ---- */

static int
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void
dc_customer_release(struct dc_customer *c)
{
	free(c->name);
	free(c->tenant);
	free(c->subscription);
	free(c->resource_group);
	free(c->vault_id);
	free(c->account);
	memset(c, 0, sizeof(*c));
}

/* The account the default customer gets when none is named: the one account of
 * azure://ACCOUNT, else the historic local name. Owned. */
static char *
default_account(const char *storage)
{
	char *a;

	if (storage == NULL || strncmp(storage, "azure://", 8) != 0 || storage[8] == '\0')
		return ofs_xstrdup(DC_DEFAULT_ACCOUNT);
	a = ofs_xstrdup(storage + 8);
	a[strcspn(a, "/")] = '\0';
	return a;
}

/* Another customer's account derived from its name: lower case, letters and digits, at
 * most 24. NULL when fewer than 3 remain (the operator names one with --account). */
static char *
derived_account(const char *name)
{
	char *a = ofs_xmalloc(25);
	size_t n = 0;

	for (; *name && n < 24; name++)
		if (alnum(*name))
			a[n++] = (char)tolower((unsigned char)*name);
	a[n] = '\0';
	if (n < 3) {
		free(a);
		return NULL;
	}
	return a;
}

static char *
customer_path(const struct dc_service *s, const char *name)
{
	char *file = ofs_xasprintf("customers/%s.json", name), *p = ofs_path_join(s->dir, file);

	free(file);
	return p;
}

/* Read STATE/customers/NAME.json. OFS_ERR_NOTFOUND when there is none. */
static int
customer_read(const struct dc_service *s, const char *name, struct dc_customer *c,
    struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(CUSTOMER_FILE_MAX);
	char *path = customer_path(s, name);
	json_t *o = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0)
		goto out;
	o = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, NULL);
	if (o == NULL || strcmp(dc_jstr(o, "format") ? dc_jstr(o, "format") : "",
	    "offseed-dc-customer") != 0 || dc_jint(o, "version") != 1 ||
	    take_str(o, "name", &c->name) != 0 || strcmp(c->name, name) != 0 ||
	    take_str(o, "tenant", &c->tenant) != 0 ||
	    take_str(o, "subscription", &c->subscription) != 0 ||
	    take_str(o, "resource_group", &c->resource_group) != 0 ||
	    take_str(o, "vault_id", &c->vault_id) != 0 ||
	    take_str(o, "account", &c->account) != 0 || !dc_account_name_ok(c->account)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "customer file '%s' is damaged", path);
		dc_customer_release(c);
	}
out:
	json_decref(o);
	ofs_buf_release(&raw);
	free(path);
	return r;
}

int
dc_customer_load(const struct dc_service *s, const char *name, struct dc_customer *c,
    struct ofs_error *err)
{
	int r;

	if (!dc_customer_name_ok(name))
		return ofs_err_set(err, OFS_ERR_NOTFOUND, "no customer '%.40s'", name);
	r = customer_read(s, name, c, err);
	if (r != OFS_ERR_NOTFOUND || strcmp(name, DC_DEFAULT_CUSTOMER) != 0)
		return r;
	/* The default customer before its first credentials: the service's own ids. */
	ofs_err_clear(err);
	c->name = ofs_xstrdup(DC_DEFAULT_CUSTOMER);
	c->tenant = ofs_xstrdup(s->tenant);
	c->subscription = ofs_xstrdup(s->subscription);
	c->resource_group = ofs_xstrdup(s->resource_group);
	c->vault_id = ofs_xstrdup(s->vault_id);
	c->account = default_account(s->storage);
	return 0;
}

/* The customer other than `except` whose account is `account` (owned name), or NULL. An
 * unreadable customer file is skipped. */
static char *
account_owner(const struct dc_service *s, const char *account, const char *except)
{
	char *dir = ofs_path_join(s->dir, "customers"), *owner = NULL, *name;
	struct dc_customer c;
	struct ofs_error err;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return NULL;
	}
	while (owner == NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		name = ofs_xstrndup(de->d_name, n - 5);
		if (dc_customer_name_ok(name) && strcmp(name, except) != 0 &&
		    customer_read(s, name, &c, &err) == 0) {
			if (strcmp(c.account, account) == 0)
				owner = ofs_xstrdup(name);
			dc_customer_release(&c);
		}
		free(name);
	}
	closedir(d);
	free(dir);
	return owner;
}

/* An azure:// storage holds its one account only: 0, or OFS_ERR_USAGE naming it. */
static int
azure_holds(const char *storage, const char *customer, const char *account,
    struct ofs_error *err)
{
	char *only;
	int r = 0;

	if (storage == NULL || strncmp(storage, "azure://", 8) != 0)
		return 0;
	only = default_account(storage);
	if (strcmp(only, account) != 0)
		r = ofs_err_set(err, OFS_ERR_USAGE, "customer '%s' has storage account '%s', but "
		    "storage '%s' holds only the account '%s'", customer, account, storage, only);
	free(only);
	return r;
}

int
dc_customer_open(struct dc_service *s, const char *name, const char *account,
    const char *storage, struct dc_customer *c, struct ofs_error *err)
{
	char *want = NULL, *owner = NULL, *text = NULL, *path = NULL, *dflt = NULL;
	int is_default = strcmp(name, DC_DEFAULT_CUSTOMER) == 0, r, fd = -1;
	char created[32], idhex[17];
	uint8_t id[8];
	json_t *o;

	memset(c, 0, sizeof(*c));
	if (!dc_customer_name_ok(name))
		return ofs_err_set(err, OFS_ERR_USAGE, "customer name '%.64s' is invalid: 1 to 32 "
		    "letters, digits, '-' and '_', starting with a letter or digit", name);
	if (account != NULL && !dc_account_name_ok(account))
		return ofs_err_set(err, OFS_ERR_USAGE, "the storage account name must be 3 to 24 "
		    "lower-case letters and digits, not '%.64s'", account);
	if (storage == NULL)
		storage = s->storage;
	if ((r = state_lock(s->dir, &fd, err)) != 0)
		goto out;
	r = customer_read(s, name, c, err);
	if (r == 0) {
		if (account != NULL && strcmp(account, c->account) != 0)
			r = ofs_err_set(err, OFS_ERR_USAGE, "customer '%s' already has storage "
			    "account '%s' (a customer has one account)", name, c->account);
		else
			r = azure_holds(storage, name, c->account, err);
		goto out;
	}
	if (r != OFS_ERR_NOTFOUND)
		goto out;
	ofs_err_clear(err);

	if (account != NULL)
		want = ofs_xstrdup(account);
	else if (is_default)
		want = default_account(storage);
	else if ((want = derived_account(name)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "customer '%s': its name gives no storage "
		    "account name (3 to 24 letters and digits); name one with --account", name);
		goto out;
	}
	if (!dc_account_name_ok(want)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "the storage account name must be 3 to 24 "
		    "lower-case letters and digits, not '%.64s'", want);
		goto out;
	}
	if ((r = azure_holds(storage, name, want, err)) != 0)
		goto out;
	/* An account belongs to one customer. The default customer, until it is recorded,
	 * keeps its historic account. */
	owner = account_owner(s, want, name);
	if (owner == NULL && !is_default) {
		struct dc_customer d;
		struct ofs_error e2;

		if (customer_read(s, DC_DEFAULT_CUSTOMER, &d, &e2) == 0)
			dc_customer_release(&d);
		else if (strcmp((dflt = default_account(storage)), want) == 0)
			owner = ofs_xstrdup(DC_DEFAULT_CUSTOMER);
	}
	if (owner != NULL) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "storage account '%s' belongs to customer "
		    "'%s'; an account belongs to one customer", want, owner);
		goto out;
	}

	c->name = ofs_xstrdup(name);
	if (is_default) {
		c->tenant = ofs_xstrdup(s->tenant);
		c->subscription = ofs_xstrdup(s->subscription);
		c->resource_group = ofs_xstrdup(s->resource_group);
		c->vault_id = ofs_xstrdup(s->vault_id);
	} else {
		c->tenant = make_uuid();
		c->subscription = make_uuid();
		c->resource_group = ofs_xstrdup("offseed-import");
		ofs_random(id, sizeof(id));
		ofs_hex(id, sizeof(id), idhex);
		c->vault_id = ofs_xasprintf("offseed-vault-%s", idhex);
	}
	c->account = want;
	want = NULL;			/* transferred */
	ofs_fmt_time(ofs_now_ns() / 1000000000, created, sizeof(created));
	o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "format",
	    "offseed-dc-customer", "version", 1, "name", c->name, "tenant", c->tenant,
	    "subscription", c->subscription, "resource_group", c->resource_group, "vault_id",
	    c->vault_id, "account", c->account, "created", created);
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	path = customer_path(s, name);
	r = ofs_write_file_atomic(path, text, strlen(text), 0600, err);
out:
	if (fd != -1)
		close(fd);
	if (r != 0)
		dc_customer_release(c);
	free(want);
	free(owner);
	free(dflt);
	free(text);
	free(path);
	return r;
}

/* ---- clients and credentials ---- */

/* Client ids are our own uuids: only hex digits and '-'. */
static int
client_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n < 8 || n > 64)
		return 0;
	for (; *id; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f') || *id == '-'))
			return 0;
	return 1;
}

/* Load STATE/clients/ID.json: the secret's SHA-256, the expiry and the customer (owned; a
 * record from before customers belongs to the default customer). */
static int
client_load(const struct dc_service *s, const char *id, uint8_t sha[32], int64_t *expires_at,
    char **customer)
{
	struct ofs_buf raw = OFS_BUF_INIT(CLIENT_FILE_MAX);
	struct ofs_error err;
	char *name, *path;
	json_t *o = NULL;
	const char *v;
	int r = -1;

	*customer = NULL;
	if (!client_id_ok(id))
		return -1;
	name = ofs_xasprintf("clients/%s.json", id);
	path = ofs_path_join(s->dir, name);
	free(name);
	if (ofs_buf_read_file(&raw, path, &err) != 0)
		goto out;
	if ((o = json_loadb((const char *)raw.data, raw.len, 0, NULL)) == NULL)
		goto out;
	if ((v = dc_jstr(o, "secret_sha256")) == NULL || strlen(v) != 64 ||
	    ofs_unhex(v, sha, 32) != 0)
		goto out;
	if ((v = dc_jstr(o, "expires")) == NULL || ofs_parse_time(v, expires_at) != 0)
		goto out;
	v = json_object_get(o, "customer") != NULL ? dc_jstr(o, "customer") :
	    DC_DEFAULT_CUSTOMER;
	if (v == NULL || !dc_customer_name_ok(v))
		goto out;
	*customer = ofs_xstrdup(v);
	r = 0;
out:
	json_decref(o);
	ofs_buf_release(&raw);
	free(path);
	return r;
}

int
dc_client_check(const struct dc_service *s, const char *client_id, const char *secret,
    int64_t now, int64_t *expires_at, char **customer)
{
	uint8_t want[32], got[32];
	int r = 0;

	*expires_at = 0;
	if (client_load(s, client_id, want, expires_at, customer) != 0)
		return -1;
	ofs_sha256(secret, strlen(secret), got);
	if (!ofs_ct_equal(want, got, sizeof(want)))
		r = -1;
	else if (now >= *expires_at)
		r = -2;
	ofs_wipe(got, sizeof(got));
	if (r != 0) {
		free(*customer);
		*customer = NULL;
	}
	return r;
}

/* The location of one account of storage (as dc_store_account_location gives it, without
 * opening the store): "file:/DIR/ACCOUNT" or "azure://ACCOUNT". Owned, or NULL. */
static char *
account_location(const char *storage, const char *account)
{
	char real[PATH_MAX], *dir, *loc;
	size_t n;

	if (strncmp(storage, "azure://", 8) == 0)
		return ofs_xasprintf("azure://%s", account);
	if (strncmp(storage, "file:", 5) != 0 || storage[5] == '\0')
		return NULL;
	dir = ofs_xstrdup(realpath(storage + 5, real) != NULL ? real : storage + 5);
	while ((n = strlen(dir)) > 1 && dir[n - 1] == '/')
		dir[n - 1] = '\0';
	loc = ofs_xasprintf("file:%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", account);
	free(dir);
	return loc;
}

int
dc_credentials_issue(struct dc_service *s, const struct dc_customer *cu, const char *endpoint,
    const char *storage, int valid_days, const char *out, struct ofs_error *err)
{
	uint8_t secret_raw[32], sha[32];
	char secret[65], shahex[65], expires[32], issued[32], *id = NULL, *name, *path = NULL;
	char *text = NULL, *acct_id = NULL, *loc = NULL;
	int64_t now = ofs_now_ns() / 1000000000, exp = now + (int64_t)valid_days * 86400;
	json_t *o;
	int r;

	if (endpoint == NULL)
		endpoint = s->endpoint;
	if (storage == NULL)
		storage = s->storage;
	if (endpoint == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "no --endpoint given and no 'offseed-dc "
		    "serve' has run with state '%s' yet", s->dir);
	if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "--endpoint must be an http:// or https:// "
		    "URL");
	/* The customer's storage account, as an ARM resource id under its subscription. */
	acct_id = ofs_xasprintf("/subscriptions/%s/resourceGroups/%s/providers/"
	    "Microsoft.Storage/storageAccounts/%s", cu->subscription, cu->resource_group,
	    cu->account);
	if (storage != NULL)
		loc = account_location(storage, cu->account);

	ofs_random(secret_raw, sizeof(secret_raw));
	ofs_hex(secret_raw, sizeof(secret_raw), secret);
	ofs_sha256(secret, strlen(secret), sha);
	ofs_hex(sha, sizeof(sha), shahex);
	ofs_fmt_time(exp, expires, sizeof(expires));
	ofs_fmt_time(now, issued, sizeof(issued));
	id = make_uuid();

	/* The client record first: a credentials file never names an unknown client. */
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "client_id", id, "customer", cu->name,
	    "secret_sha256", shahex, "issued", issued, "expires", expires);
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	name = ofs_xasprintf("clients/%s.json", id);
	path = ofs_path_join(s->dir, name);
	free(name);
	r = ofs_write_file_atomic(path, text, strlen(text), 0600, err);
	free(text);
	text = NULL;
	if (r != 0)
		goto out;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "endpoint", endpoint, "tenant", cu->tenant, "client_id", id, "client_secret", secret,
	    "subscription", cu->subscription, "resource_group", cu->resource_group,
	    "location", s->location, "storage_account_id", acct_id, "vault_id", cu->vault_id,
	    "expires", expires);
	if (loc != NULL)
		json_object_set_new(o, "storage", json_string(loc));
	text = json_dumps(o, JSON_INDENT(2));
	json_wipe_member(o, "client_secret");
	json_decref(o);
	r = ofs_write_file_atomic(out, text, strlen(text), 0600, err);
out:
	if (text != NULL) {
		ofs_wipe(text, strlen(text));
		free(text);
	}
	ofs_wipe(secret, sizeof(secret));
	ofs_wipe(secret_raw, sizeof(secret_raw));
	free(acct_id);
	free(loc);
	free(path);
	free(id);
	return r;
}

/* ---- bearer tokens ---- */

static void
token_mac(const struct dc_service *s, const char *client_id, int64_t exp, char out[65])
{
	struct ofs_mac *m = ofs_mac_new(s->token_key);
	uint8_t mac[32];
	char *msg = ofs_xasprintf("offseed-dc token v1|%s|%lld", client_id, (long long)exp);

	ofs_mac_compute(m, msg, strlen(msg), mac);
	ofs_mac_free(m);
	ofs_hex(mac, sizeof(mac), out);
	ofs_wipe(mac, sizeof(mac));
	free(msg);
}

char *
dc_token_make(const struct dc_service *s, const char *client_id, int64_t exp)
{
	char mac[65], *tok;

	token_mac(s, client_id, exp, mac);
	tok = ofs_xasprintf("ofsdc1.%s.%lld.%s", client_id, (long long)exp, mac);
	ofs_wipe(mac, sizeof(mac));
	return tok;
}

int
dc_token_check(const struct dc_service *s, const char *token, int64_t now, char **customer)
{
	char id[65], mac[65], want[65], *end;
	const char *p, *q;
	uint8_t sha[32];
	int64_t exp, cred_exp;
	long long v;

	*customer = NULL;
	if (strncmp(token, "ofsdc1.", 7) != 0)
		return -1;
	p = token + 7;
	if ((q = strchr(p, '.')) == NULL || (size_t)(q - p) >= sizeof(id))
		return -1;
	memcpy(id, p, (size_t)(q - p));
	id[q - p] = '\0';
	errno = 0;
	v = strtoll(q + 1, &end, 10);
	if (errno != 0 || end == q + 1 || *end != '.' || v <= 0 || strlen(end + 1) != 64)
		return -1;
	exp = v;
	memcpy(mac, end + 1, 65);
	token_mac(s, id, exp, want);
	if (!ofs_ct_equal(mac, want, 64))
		return -1;
	if (client_load(s, id, sha, &cred_exp, customer) != 0)
		return -1;		/* client revoked */
	if (now >= exp || now >= cred_exp) {
		free(*customer);
		*customer = NULL;
		return -2;
	}
	return 0;
}

/* ---- the operator's admin token ---- */

int
dc_admin_token(const char *state, int create, char tok[DC_ADMIN_TOKEN_LEN + 1],
    struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(4096);
	char *path = ofs_path_join(state, ADMIN_TOKEN_FILE);
	uint8_t rnd[DC_ADMIN_TOKEN_LEN / 2];
	int r, fd = -1;
	size_t n;

	tok[0] = '\0';
	if (create && (r = state_lock(state, &fd, err)) != 0)
		goto out;
	r = ofs_buf_read_file(&raw, path, err);
	if (r == 0) {
		n = raw.len;
		while (n > 0 && (raw.data[n - 1] == '\n' || raw.data[n - 1] == '\r'))
			n--;
		if (n != DC_ADMIN_TOKEN_LEN || ofs_unhexn((const char *)raw.data, n, rnd,
		    sizeof(rnd)) != 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is not an admin token (%d hex "
			    "digits)", path, DC_ADMIN_TOKEN_LEN);
			goto out;
		}
		memcpy(tok, raw.data, n);
		tok[n] = '\0';
		if (create)
			chmod(path, 0600);	/* only the operator may read it */
		goto out;
	}
	if (r != OFS_ERR_NOTFOUND || !create)
		goto out;
	ofs_err_clear(err);
	ofs_random(rnd, sizeof(rnd));
	ofs_hex(rnd, sizeof(rnd), tok);
	if ((r = ofs_write_file_atomic(path, tok, strlen(tok), 0600, err)) != 0)
		ofs_wipe(tok, DC_ADMIN_TOKEN_LEN + 1);
out:
	if (fd != -1)
		close(fd);
	ofs_wipe(rnd, sizeof(rnd));
	ofs_buf_release_secret(&raw);
	free(path);
	return r;
}
