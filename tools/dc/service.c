/* offseed-dc identity: STATE/service.json (tenant, subscription, vault id, token key),
 * the credentials files it issues, the clients it records, and its signed bearer tokens. */
#include <errno.h>
#include <fcntl.h>
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

	if (v == NULL || *v == '\0' || strlen(v) > 256)
		return -1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
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
	struct ofs_buf raw = OFS_BUF_INIT(64u << 10);
	char *path = NULL, *lock = NULL, *sub = NULL;
	uint8_t id[8];
	char idhex[17];
	int r, fd = -1;

	memset(s, 0, sizeof(*s));
	s->dir = ofs_xstrdup(state);
	if ((r = ofs_mkdir_p(state, 0700, err)) != 0)
		goto out;
	sub = ofs_path_join(state, "clients");
	if ((r = ofs_mkdir_p(sub, 0700, err)) != 0)
		goto out;
	free(sub);
	sub = ofs_path_join(state, "jobs");
	if ((r = ofs_mkdir_p(sub, 0700, err)) != 0)
		goto out;
	lock = ofs_path_join(state, "service.lock");
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 || flock(fd, LOCK_EX) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot lock '%s'", lock);
		goto out;
	}
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
	free(lock);
	free(sub);
	if (r != 0)
		dc_service_release(s);
	return r;
}

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

/* Load STATE/clients/ID.json: the secret's SHA-256 and the expiry. */
static int
client_load(const struct dc_service *s, const char *id, uint8_t sha[32], int64_t *expires_at)
{
	struct ofs_buf raw = OFS_BUF_INIT(CLIENT_FILE_MAX);
	struct ofs_error err;
	char *name, *path;
	json_t *o = NULL;
	const char *v;
	int r = -1;

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
	r = 0;
out:
	json_decref(o);
	ofs_buf_release(&raw);
	free(path);
	return r;
}

int
dc_client_check(const struct dc_service *s, const char *client_id, const char *secret,
    int64_t now, int64_t *expires_at)
{
	uint8_t want[32], got[32];

	*expires_at = 0;
	if (client_load(s, client_id, want, expires_at) != 0)
		return -1;
	ofs_sha256(secret, strlen(secret), got);
	if (!ofs_ct_equal(want, got, sizeof(want)))
		return -1;
	if (now >= *expires_at)
		return -2;
	return 0;
}

int
dc_credentials_issue(struct dc_service *s, const char *endpoint, const char *storage,
    const char *account, int valid_days, const char *out, struct ofs_error *err)
{
	uint8_t secret_raw[32], sha[32];
	char secret[65], shahex[65], expires[32], issued[32], *id = NULL, *name, *path = NULL;
	char *text = NULL, *acct_id, *acct;
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
	/* The storage account the service imports into, as an ARM resource id. */
	if (account != NULL)
		acct = ofs_xstrdup(account);
	else
		acct = ofs_xstrdup(storage != NULL && strncmp(storage, "azure://", 8) == 0 ?
		    storage + 8 : "offseedlocal");
	acct[strcspn(acct, "/")] = '\0';
	if (strlen(acct) < 3 || strlen(acct) > 24 || strspn(acct,
	    "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(acct)) {
		free(acct);
		return ofs_err_set(err, OFS_ERR_USAGE, "the storage account name must be 3 to 24 "
		    "lower-case letters and digits");
	}
	acct_id = ofs_xasprintf("/subscriptions/%s/resourceGroups/%s/providers/"
	    "Microsoft.Storage/storageAccounts/%s", s->subscription, s->resource_group, acct);
	free(acct);

	ofs_random(secret_raw, sizeof(secret_raw));
	ofs_hex(secret_raw, sizeof(secret_raw), secret);
	ofs_sha256(secret, strlen(secret), sha);
	ofs_hex(sha, sizeof(sha), shahex);
	ofs_fmt_time(exp, expires, sizeof(expires));
	ofs_fmt_time(now, issued, sizeof(issued));
	id = make_uuid();

	/* The client record first: a credentials file never names an unknown client. */
	o = json_pack("{s:s, s:s, s:s, s:s}", "client_id", id, "secret_sha256", shahex,
	    "issued", issued, "expires", expires);
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
	    "endpoint", endpoint, "tenant", s->tenant, "client_id", id, "client_secret", secret,
	    "subscription", s->subscription, "resource_group", s->resource_group,
	    "location", s->location, "storage_account_id", acct_id, "vault_id", s->vault_id,
	    "expires", expires);
	if (storage != NULL)
		json_object_set_new(o, "storage", json_string(storage));
	text = json_dumps(o, JSON_INDENT(2));
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
	free(path);
	free(id);
	return r;
}

static void
token_mac(const struct dc_service *s, const char *client_id, int64_t exp, char out[65])
{
	struct ofs_mac *m = ofs_mac_new(s->token_key);
	uint8_t mac[32];
	char *msg = ofs_xasprintf("offseed-dc token v1|%s|%lld", client_id, (long long)exp);

	ofs_mac_compute(m, msg, strlen(msg), mac);
	ofs_mac_free(m);
	ofs_hex(mac, sizeof(mac), out);
	free(msg);
}

char *
dc_token_make(const struct dc_service *s, const char *client_id, int64_t exp)
{
	char mac[65];

	token_mac(s, client_id, exp, mac);
	return ofs_xasprintf("ofsdc1.%s.%lld.%s", client_id, (long long)exp, mac);
}

int
dc_token_check(const struct dc_service *s, const char *token, int64_t now)
{
	char id[65], mac[65], want[65], *end;
	const char *p, *q;
	uint8_t sha[32];
	int64_t exp, cred_exp;
	long long v;

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
	if (client_load(s, id, sha, &cred_exp) != 0)
		return -1;		/* client revoked */
	if (now >= exp || now >= cred_exp)
		return -2;
	return 0;
}
