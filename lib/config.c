/* Repository config (JSON, HMAC-authenticated under the config key) and key slots (JSON,
 * master secret sealed with AES-256-GCM under scrypt(passphrase)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "util.h"

#define CONFIG_FORMAT "offseed-config"
#define KEYSLOT_FORMAT "offseed-key"
#define KEYSLOT_VERSION 1
#define KEYSLOT_AAD "offseed key slot v1"
#define SALT_LEN 16
#define SEALED_LEN (OFS_MASTER_LEN + OFS_AEAD_OVERHEAD)
/* Bounds on KDF parameters read from a file, checked before deriving anything. */
#define KDF_N_MAX (1ull << 22)
#define KDF_R_MAX 32
#define KDF_P_MAX 16
#define KDF_MEM_MAX (2ull << 30)	/* 128·N·r bytes */
#define TEST_KDF_N (1ull << 10)

void
ofs_config_release(struct ofs_config *c)
{
	free(c->destination);
	c->destination = NULL;
}

/* --- small JSON helpers --- */

static const char *
get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 1 and *out set when key holds an integer in [lo, hi]. */
static int
get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return 0;
	*out = json_integer_value(v);
	return *out >= lo && *out <= hi;
}

static json_t *
load_json(const uint8_t *p, size_t len, size_t max, const char *what, struct ofs_error *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > max) {
		ofs_err_set(err, OFS_ERR_CORRUPT, "%s: too large (%zu bytes)", what, len);
		return NULL;
	}
	if ((j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not valid JSON (line %d: %s)", what, jerr.line,
		    jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not a JSON object", what);
		return NULL;
	}
	return j;
}

/* Pretty, key-sorted output with a final newline. */
static int
dump_to(json_t *j, struct ofs_buf *out)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int r;

	if (s == NULL)
		return OFS_ERR_IO;
	r = ofs_buf_adds(out, s);
	if (r == 0)
		r = ofs_buf_addc(out, '\n');
	free(s);
	return r;
}

/* Strict standard base64 with padding. Returns decoded length or -1. */
static long
b64_decode(const char *s, uint8_t *out, size_t outsz)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int pad = 0;

		acc = 0;
		for (int k = 0; k < 4; k++) {
			int c = (unsigned char)s[i + k], v;

			if (c >= 'A' && c <= 'Z')
				v = c - 'A';
			else if (c >= 'a' && c <= 'z')
				v = c - 'a' + 26;
			else if (c >= '0' && c <= '9')
				v = c - '0' + 52;
			else if (c == '+')
				v = 62;
			else if (c == '/')
				v = 63;
			else if (c == '=' && i + 4 == n && k >= 2) {
				v = 0;
				pad++;
			} else
				return -1;
			if (pad > 0 && c != '=')
				return -1;	/* data after padding */
			acc = (acc << 6) | (uint32_t)v;
		}
		if (o + 3 - pad > outsz)
			return -1;
		out[o++] = acc >> 16;
		if (pad < 2)
			out[o++] = (acc >> 8) & 0xff;
		if (pad < 1)
			out[o++] = acc & 0xff;
	}
	return (long)o;
}

/* --- config --- */

/* HMAC-SHA256(config key, compact key-sorted JSON of o without "mac"). */
static int
config_mac(json_t *o, const struct ofs_keys *k, uint8_t mac[32])
{
	json_t *copy = json_copy(o);
	struct ofs_mac *m;
	char *s;

	if (copy == NULL)
		return OFS_ERR_IO;
	json_object_del(copy, "mac");
	s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (s == NULL)
		return OFS_ERR_IO;
	m = ofs_mac_new(k->config_key);
	ofs_mac_compute(m, s, strlen(s), mac);
	ofs_mac_free(m);
	free(s);
	return 0;
}

int
ofs_config_encode(const struct ofs_config *c, const struct ofs_keys *k, struct ofs_buf *out,
    struct ofs_error *err)
{
	char repo[2 * OFS_REPO_ID_LEN + 1], created[32], machex[65];
	uint8_t mac[32];
	json_t *o;
	int r;

	ofs_hex(c->repo_id, OFS_REPO_ID_LEN, repo);
	ofs_fmt_time(c->created, created, sizeof(created));
	o = json_pack("{s:s, s:I, s:s, s:s, s:{s:s, s:I, s:I, s:I}, s:{s:s, s:i}, s:s}",
	    "format", CONFIG_FORMAT,
	    "version", (json_int_t)(c->version ? c->version : OFS_REPO_VERSION),
	    "repository", repo,
	    "destination", c->destination ? c->destination : "",
	    "chunker", "algorithm", "fastcdc", "min", (json_int_t)c->chunk_min,
	    "avg", (json_int_t)c->chunk_avg, "max", (json_int_t)c->chunk_max,
	    "compression", "algorithm", "zstd", "level", c->zstd_level,
	    "created", created);
	if (o == NULL)
		return ofs_err_set(err, OFS_ERR_IO, "cannot build the config (bad destination text?)");
	if ((r = config_mac(o, k, mac)) != 0) {
		json_decref(o);
		return ofs_err_set(err, OFS_ERR_IO, "cannot authenticate the config");
	}
	ofs_hex(mac, sizeof(mac), machex);
	json_object_set_new(o, "mac", json_string(machex));
	r = dump_to(o, out);
	json_decref(o);
	if (r != 0)
		return ofs_err_set(err, OFS_ERR_IO, "cannot write the config");
	return 0;
}

int
ofs_config_parse(const uint8_t *p, size_t len, const char *what, struct ofs_config *c,
    struct ofs_error *err)
{
	json_t *o, *ch, *co;
	json_int_t v, mn, av, mx, lvl;
	const char *s, *dest;
	int64_t created;
	int r = OFS_ERR_CORRUPT;

	memset(c, 0, sizeof(*c));
	if ((o = load_json(p, len, OFS_CONFIG_MAX, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if ((s = get_str(o, "format")) == NULL || strcmp(s, CONFIG_FORMAT) != 0) {
		ofs_err_set(err, r, "%s: not an offseed config", what);
		goto out;
	}
	/* The version first: a newer format may differ in everything else. */
	if (!json_is_integer(json_object_get(o, "version")) ||
	    (v = json_integer_value(json_object_get(o, "version"))) < 1 || v > UINT32_MAX) {
		ofs_err_set(err, r, "%s: missing or bad \"version\"", what);
		goto out;
	}
	if (v > OFS_REPO_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION,
		    "repository format version %lld is newer than this offseed supports (%d)",
		    (long long)v, OFS_REPO_VERSION);
		goto out;
	}
	c->version = (uint32_t)v;
	if ((s = get_str(o, "repository")) == NULL ||
	    ofs_unhex_lower(s, strlen(s), c->repo_id, OFS_REPO_ID_LEN) != 0) {
		ofs_err_set(err, r, "%s: missing or bad \"repository\"", what);
		goto out;
	}
	if ((dest = get_str(o, "destination")) == NULL) {
		ofs_err_set(err, r, "%s: missing or bad \"destination\"", what);
		goto out;
	}
	ch = json_object_get(o, "chunker");
	if (!json_is_object(ch) || (s = get_str(ch, "algorithm")) == NULL ||
	    strcmp(s, "fastcdc") != 0 || !get_int(ch, "min", 64, 1 << 30, &mn) ||
	    !get_int(ch, "avg", 64, 1 << 30, &av) || !get_int(ch, "max", 64, 1 << 30, &mx) ||
	    (av & (av - 1)) != 0 || mn >= av || av >= mx) {
		ofs_err_set(err, r, "%s: missing or bad \"chunker\" parameters", what);
		goto out;
	}
	co = json_object_get(o, "compression");
	if (!json_is_object(co) || (s = get_str(co, "algorithm")) == NULL ||
	    strcmp(s, "zstd") != 0 || !get_int(co, "level", -7, 22, &lvl)) {
		ofs_err_set(err, r, "%s: missing or bad \"compression\" parameters", what);
		goto out;
	}
	if ((s = get_str(o, "created")) == NULL || ofs_parse_time(s, &created) != 0) {
		ofs_err_set(err, r, "%s: missing or bad \"created\" time", what);
		goto out;
	}
	if ((s = get_str(o, "mac")) == NULL || strlen(s) != 64) {
		ofs_err_set(err, r, "%s: missing or bad \"mac\"", what);
		goto out;
	}
	c->destination = ofs_xstrdup(dest);
	c->chunk_min = (uint32_t)mn;
	c->chunk_avg = (uint32_t)av;
	c->chunk_max = (uint32_t)mx;
	c->zstd_level = (int)lvl;
	c->created = created;
	r = 0;
out:
	json_decref(o);
	return r;
}

int
ofs_config_authenticate(const uint8_t *p, size_t len, const char *what,
    const struct ofs_keys *k, struct ofs_error *err)
{
	uint8_t want[32], got[32];
	const char *s;
	json_t *o;
	int r = OFS_ERR_CORRUPT;

	if ((o = load_json(p, len, OFS_CONFIG_MAX, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if ((s = get_str(o, "mac")) == NULL || ofs_unhex_lower(s, strlen(s), want, 32) != 0) {
		ofs_err_set(err, r, "%s: missing or bad \"mac\"", what);
		goto out;
	}
	if (config_mac(o, k, got) != 0) {
		r = ofs_err_set(err, OFS_ERR_IO, "%s: cannot compute the config MAC", what);
		goto out;
	}
	if (!ofs_ct_equal(want, got, sizeof(got))) {
		ofs_err_set(err, r, "%s: authentication failed (modified, or another repository's key)",
		    what);
		goto out;
	}
	r = 0;
out:
	json_decref(o);
	return r;
}

/* --- key slots --- */

static int
kdf_ok(uint64_t N, uint64_t r, uint64_t p)
{
	return N >= 2 && N <= KDF_N_MAX && (N & (N - 1)) == 0 && r >= 1 && r <= KDF_R_MAX &&
	    p >= 1 && p <= KDF_P_MAX && 128 * N * r <= KDF_MEM_MAX;
}

int
ofs_keyslot_create(const char *pass, size_t passlen, const uint8_t master[OFS_MASTER_LEN],
    struct ofs_kdf_params kdf, struct ofs_buf *out, struct ofs_error *err)
{
	uint8_t salt[SALT_LEN], key[OFS_KEY_LEN], sealed[SEALED_LEN];
	char created[32], *salt64 = NULL, *sealed64 = NULL;
	json_t *o = NULL;
	int r;

	/* Tests only: a cheap KDF so suites that create many repositories stay fast. */
	if (getenv("OFFSEED_TEST_KDF_FAST") != NULL)
		kdf.N = TEST_KDF_N;
	if (!kdf_ok(kdf.N, kdf.r, kdf.p))
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "bad scrypt parameters N=%llu r=%u p=%u (N a power of two ≤ 2^22, r ≤ 32, p ≤ 16, memory ≤ 2 GiB)",
		    (unsigned long long)kdf.N, kdf.r, kdf.p);
	ofs_random(salt, sizeof(salt));
	if ((r = ofs_scrypt(pass, passlen, salt, sizeof(salt), kdf.N, kdf.r, kdf.p, key,
	    sizeof(key), err)) != 0)
		goto out;
	if ((r = ofs_seal_once(key, KEYSLOT_AAD, strlen(KEYSLOT_AAD), master, OFS_MASTER_LEN,
	    sealed)) != 0) {
		ofs_err_set(err, r, "cannot seal the key slot");
		goto out;
	}
	salt64 = ofs_b64_encode(salt, sizeof(salt));
	sealed64 = ofs_b64_encode(sealed, sizeof(sealed));
	ofs_fmt_time(ofs_now_ns() / 1000000000, created, sizeof(created));
	o = json_pack("{s:s, s:i, s:{s:s, s:I, s:I, s:I, s:s}, s:s, s:s}",
	    "format", KEYSLOT_FORMAT, "version", KEYSLOT_VERSION,
	    "kdf", "algorithm", "scrypt", "n", (json_int_t)kdf.N, "r", (json_int_t)kdf.r,
	    "p", (json_int_t)kdf.p, "salt", salt64,
	    "sealed", sealed64, "created", created);
	if (o == NULL || dump_to(o, out) != 0) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot write the key slot");
		goto out;
	}
	r = 0;
out:
	ofs_wipe(key, sizeof(key));
	json_decref(o);
	free(salt64);
	free(sealed64);
	return r;
}

int
ofs_keyslot_open(const uint8_t *p, size_t len, const char *what, const char *pass,
    size_t passlen, uint8_t master[OFS_MASTER_LEN], struct ofs_error *err)
{
	uint8_t salt[SALT_LEN], key[OFS_KEY_LEN], sealed[SEALED_LEN], plain[OFS_MASTER_LEN];
	json_int_t v, N, kr, kp;
	const char *s;
	json_t *o, *kdf;
	int r = OFS_ERR_CORRUPT;

	if ((o = load_json(p, len, OFS_KEYSLOT_MAX, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if ((s = get_str(o, "format")) == NULL || strcmp(s, KEYSLOT_FORMAT) != 0) {
		ofs_err_set(err, r, "%s: not an offseed key slot", what);
		goto out;
	}
	if (!get_int(o, "version", 1, INT32_MAX, &v)) {
		ofs_err_set(err, r, "%s: missing or bad \"version\"", what);
		goto out;
	}
	if (v > KEYSLOT_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION,
		    "key slot format version %lld is newer than this offseed supports (%d)",
		    (long long)v, KEYSLOT_VERSION);
		goto out;
	}
	kdf = json_object_get(o, "kdf");
	if (!json_is_object(kdf) || (s = get_str(kdf, "algorithm")) == NULL ||
	    strcmp(s, "scrypt") != 0) {
		ofs_err_set(err, r, "%s: missing or unknown \"kdf\"", what);
		goto out;
	}
	/* Bound the work a forged slot can demand before deriving anything. */
	if (!get_int(kdf, "n", 2, KDF_N_MAX, &N) || !get_int(kdf, "r", 1, KDF_R_MAX, &kr) ||
	    !get_int(kdf, "p", 1, KDF_P_MAX, &kp) || !kdf_ok(N, kr, kp)) {
		ofs_err_set(err, r, "%s: scrypt parameters out of range", what);
		goto out;
	}
	if ((s = get_str(kdf, "salt")) == NULL || b64_decode(s, salt, sizeof(salt)) != SALT_LEN) {
		ofs_err_set(err, r, "%s: missing or bad \"salt\"", what);
		goto out;
	}
	if ((s = get_str(o, "sealed")) == NULL ||
	    b64_decode(s, sealed, sizeof(sealed)) != SEALED_LEN) {
		ofs_err_set(err, r, "%s: missing or bad \"sealed\"", what);
		goto out;
	}
	if ((r = ofs_scrypt(pass, passlen, salt, sizeof(salt), (uint64_t)N, (uint32_t)kr,
	    (uint32_t)kp, key, sizeof(key), err)) != 0)
		goto out;
	if (ofs_open_once(key, KEYSLOT_AAD, strlen(KEYSLOT_AAD), sealed, sizeof(sealed),
	    plain) != 0) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "wrong passphrase");
		goto out;
	}
	memcpy(master, plain, OFS_MASTER_LEN);
	r = 0;
out:
	ofs_wipe(key, sizeof(key));
	ofs_wipe(plain, sizeof(plain));
	json_decref(o);
	return r;
}
