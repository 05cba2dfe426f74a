/* offseed doctor: preflight before a long run. Versions, the state dir's free space, the
 * repository (format, free space of a staging folder, reachability of a cloud one), the
 * disks to be written, the import service's credentials and reachability, and the clock
 * against the services' Date header. Each check is ok, warn or fail; the first failure
 * sets the exit code. Lives in cli/, the front end: it checks every area (repository,
 * disks, service), not only the import's. */
#include "dynlib.h"
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "azblob.h"
#include "cli.h"
#include "config.h"
#include "container.h"
#include "credentials.h"
#include "disk.h"
#include "jobclient.h"
#include "jobjson.h"
#include "manifest.h"
#include "render.h"
#include "util.h"

static const char usage[] =
    "usage: offseed doctor [--disk MNT]... [--need SIZE]\n"
    "\n"
    "Preflight checks before a long run; nothing is written but the state dir a repository\n"
    "open creates. Each check prints 'ok', 'warn' or 'FAIL' with what it found:\n"
    "  version      offseed, its formats and the libraries it runs with\n"
    "  state        the state dir (--state / OFFSEED_STATE): writable, free space (stage and\n"
    "               backup need 64 MiB there)\n"
    "  repository   with --repo / OFFSEED_REPO: opens it without the passphrase (format\n"
    "               version); a folder's free space (at least --need, default 1G, else warn);\n"
    "               an azure:// location must answer\n"
    "  disk         each --disk MNT: a writable folder, its free space and serial\n"
    "  credentials  with --credentials / OFFSEED_CREDENTIALS: valid, days to expiry (warn\n"
    "               under 2), and the import service answers a job listing with them\n"
    "  clock        local time against the Date header of every service reached (warn over\n"
    "               5 min apart, fail over 15 min: Azure refuses signed requests then)\n"
    "\n"
    "Requests are tried twice with a 10 s timeout unless OFFSEED_HTTP_RETRIES /\n"
    "OFFSEED_HTTP_TIMEOUT say otherwise. Exit 0 when nothing failed (warnings allowed);\n"
    "otherwise the exit code of the first failed check: 2 a missing disk or bad option,\n"
    "5 invalid or expired credentials, 7 a repository too new, 8 a service that does not\n"
    "answer, 9 a state dir without room, 1 anything else. --json: one summary with\n"
    "\"ok\", \"exit_code\" and \"checks\": [{\"check\", \"status\", \"message\", ...}].\n";

#define STATE_NEED (64ull << 20)	/* what stage and backup insist on */
#define SKEW_WARN 300
#define SKEW_FAIL 900

struct doc {
	json_t *checks;
	int rc;			/* first failure's OFS_ERR_* code, or 0 */
	int nwarn, nfail;
	int64_t skew_max;	/* largest |service - local| seen, seconds */
	int skew_seen;
};

/* Record and print one check. extra (owned, may be NULL) adds fields to its JSON. */
static void
add(struct doc *d, const char *check, const char *status, int code, json_t *extra,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
add(struct doc *d, const char *check, const char *status, int code, json_t *extra,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(status, "fail") == 0) {
		d->nfail++;
		if (d->rc == 0)
			d->rc = code != 0 ? code : OFS_ERR_IO;
	} else if (strcmp(status, "warn") == 0) {
		d->nwarn++;
	}
	ofs_result("%-4s  %-12s %s\n", strcmp(status, "fail") == 0 ? "FAIL" : status, check, msg);
	o = extra != NULL ? extra : json_object();
	json_object_set_new(o, "check", json_string(check));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "message", json_string(msg));
	json_array_append_new(d->checks, o);
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	time_t *t = ud;
	size_t len = size * n;
	char line[256];

	if (len > 5 && len < sizeof(line) && strncasecmp(p, "Date:", 5) == 0) {
		memcpy(line, p + 5, len - 5);
		line[len - 5] = '\0';
		*t = curl_getdate(line, NULL);
	}
	return len;
}

/* The service's clock from the Date header of a HEAD request to url (any status will do);
 * ca is the CA bundle to trust (NULL: the system's).
 * Returns 0 and *skew = service - local in seconds; -1 when nothing answered. */
static int
service_skew(const char *url, const char *ca, int64_t *skew)
{
	CURL *c = curl_easy_init();
	time_t t = -1;
	int64_t before, after;
	CURLcode cr;

	if (c == NULL)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "offseed/" OFS_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	before = ofs_now_ns() / 1000000000LL;
	cr = curl_easy_perform(c);
	after = ofs_now_ns() / 1000000000LL;
	curl_easy_cleanup(c);
	if (cr != CURLE_OK || t == (time_t)-1)
		return -1;
	/* the header has a resolution of 1 s; take the middle of the request */
	*skew = (int64_t)t - (before + after) / 2;
	return 0;
}

static void
note_skew(struct doc *d, const char *url, const char *ca_env)
{
	int64_t s;

	if (ofs_dynlib_load_curl(NULL) != 0 || service_skew(url, getenv(ca_env), &s) != 0)
		return;
	if (s < 0)
		s = -s;
	if (!d->skew_seen || s > d->skew_max)
		d->skew_max = s;
	d->skew_seen = 1;
}

static void
check_version(struct doc *d)
{
	struct ofs_error err;
	json_t *o;

	if (ofs_dynlib_load_curl(&err) != 0 || ofs_dynlib_load_archive(&err) != 0) {
		add(d, "version", "fail", err.code, NULL, "offseed %s: %s", OFS_VERSION, err.msg);
		return;
	}
	o = json_pack("{s:s, s:i, s:i, s:i, s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
	    "version", OFS_VERSION, "repository_format", OFS_REPO_VERSION, "container_format",
	    OFS_CONTAINER_VERSION, "manifest_format", OFS_MANIFEST_VERSION, "libraries",
	    "openssl", OpenSSL_version(OPENSSL_VERSION), "libcurl", curl_version_info(
	    CURLVERSION_NOW)->version, "zstd", ZSTD_versionString(), "libarchive",
	    archive_version_string(), "jansson", JANSSON_VERSION, "xxhash",
	    XXH_versionNumber() == XXH_VERSION_NUMBER ? "match" : "differs from build");

	add(d, "version", "ok", 0, o, "offseed %s (repository format %d, container format %d, "
	    "manifest %d); %s, libcurl %s, zstd %s, %s", OFS_VERSION, OFS_REPO_VERSION,
	    OFS_CONTAINER_VERSION, OFS_MANIFEST_VERSION, OpenSSL_version(OPENSSL_VERSION),
	    curl_version_info(CURLVERSION_NOW)->version, ZSTD_versionString(),
	    archive_version_string());
}

/* The nearest existing folder at or above path (owned). */
static char *
existing_parent(const char *path)
{
	char *p = ofs_xstrdup(path), *slash;
	struct stat st;

	while (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if ((slash = strrchr(p, '/')) == NULL) {
			free(p);
			return ofs_xstrdup(".");
		}
		if (slash == p) {
			p[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	return p;
}

static void
check_state(struct doc *d, const struct ofs_cli *g)
{
	char *root = ofs_state_default(g->state), *at = existing_parent(root), sz[32], need[32];
	int64_t avail = ofs_free_space(at);
	int exists = strcmp(at, root) == 0;
	json_t *o;

	ofs_fmt_size(STATE_NEED, need, sizeof(need));
	o = json_pack("{s:s, s:b, s:I}", "path", root, "exists", exists, "bytes_free",
	    (json_int_t)avail);
	if (avail < 0) {
		add(d, "state", "fail", OFS_ERR_IO, o, "cannot read the free space of '%s'", at);
	} else if (access(at, W_OK) != 0) {
		add(d, "state", "fail", OFS_ERR_IO, o, "'%s' is not writable%s", at,
		    exists ? "" : " (the state dir would be created there)");
	} else {
		ofs_fmt_size((uint64_t)avail, sz, sizeof(sz));
		if ((uint64_t)avail < STATE_NEED)
			add(d, "state", "fail", OFS_ERR_NOSPACE, o, "'%s' has %s free; stage and "
			    "backup need %s free there", root, sz, need);
		else
			add(d, "state", "ok", 0, o, "'%s'%s, %s free", root,
			    exists ? "" : " (created on first use)", sz);
	}
	free(at);
	free(root);
}

static void
check_repo(struct doc *d, const struct ofs_cli *g, uint64_t need)
{
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	const char *loc = g->repo;
	char sz[32], nd[32];
	json_t *o;
	int r;

	if (loc == NULL)
		return;
	o = json_pack("{s:s}", "location", loc);
	if ((r = ofs_repo_open(loc, g->state, &repo, &err)) != 0) {
		add(d, "repository", "fail", r, o, "%s", err.msg);
		goto out;
	}
	json_object_set_new(o, "id", json_string(repo->id_hex));
	json_object_set_new(o, "format", json_integer(repo->cfg.version));
	if (repo->be->ops->path != NULL && strncmp(loc, "disks:", 6) != 0) {
		char *p = repo->be->ops->path(repo->be, "config");
		int64_t avail = p != NULL ? ofs_free_space(p) : -1;

		free(p);
		json_object_set_new(o, "bytes_free", json_integer(avail));
		ofs_fmt_size(avail > 0 ? (uint64_t)avail : 0, sz, sizeof(sz));
		ofs_fmt_size(need, nd, sizeof(nd));
		if (avail >= 0 && (uint64_t)avail < need)
			add(d, "repository", "warn", 0, o, "'%s' (repository %.8s, format %u): only "
			    "%s free, less than %s", loc, repo->id_hex, repo->cfg.version, sz, nd);
		else
			add(d, "repository", "ok", 0, o, "'%s' (repository %.8s, format %u), %s free",
			    loc, repo->id_hex, repo->cfg.version, sz);
	} else {
		add(d, "repository", "ok", 0, o, "'%s' (repository %.8s, format %u) opens", loc,
		    repo->id_hex, repo->cfg.version);
	}
out:
	if (strncmp(loc, "azure://", 8) == 0) {
		struct ofs_azblob_opts ao = { 0 };
		char *acct = ofs_xstrdup(loc + 8), *slash = strchr(acct, '/'), *url;

		if (slash != NULL)
			*slash = '\0';
		ofs_azblob_opts_from_env(&ao);
		url = ao.endpoint != NULL ? ofs_xstrdup(ao.endpoint) :
		    ofs_xasprintf("https://%s.blob.core.windows.net/", acct);
		note_skew(d, url, "OFFSEED_AZURE_CA_FILE");
		free(url);
		free(acct);
	}
	ofs_repo_close(repo);
}

static void
check_disk(struct doc *d, const char *mnt)
{
	struct ofs_error err = { 0 };
	struct ofs_disk_space sp;
	enum ofs_serial_src src;
	char *serial = NULL, sz[32];
	const char *how;
	json_t *o = json_pack("{s:s}", "mount", mnt);
	int r;

	if ((r = ofs_disk_space(mnt, &sp, &err)) != 0) {
		add(d, "disk", "fail", r, o, "%s", err.msg);
		return;
	}
	json_object_set_new(o, "bytes_free", json_integer((json_int_t)sp.avail));
	json_object_set_new(o, "bytes_total", json_integer((json_int_t)sp.total));
	ofs_fmt_size(sp.avail, sz, sizeof(sz));
	if (access(mnt, W_OK) != 0) {
		add(d, "disk", "fail", OFS_ERR_IO, o, "'%s' is not writable", mnt);
		return;
	}
	if ((r = ofs_disk_serial(mnt, NULL, &serial, &src, &err)) != 0) {
		add(d, "disk", "fail", r, o, "%s", err.msg);
		return;
	}
	how = src == OFS_SERIAL_HW ? "hardware" : src == OFS_SERIAL_IDFILE ? "id-file" : "none";
	json_object_set_new(o, "serial", src == OFS_SERIAL_NEW ? json_null() : json_string(serial));
	json_object_set_new(o, "serial_source", json_string(how));
	if (src == OFS_SERIAL_NEW)
		add(d, "disk", "ok", 0, o, "'%s': %s free; no hardware serial (prep writes an id "
		    "file, or give --serial)", mnt, sz);
	else
		add(d, "disk", "ok", 0, o, "'%s': %s free, serial %s (%s)", mnt, sz, serial, how);
	free(serial);
}

static void
check_credentials(struct doc *d, const struct ofs_cli *g)
{
	struct ofs_error err = { 0 };
	struct ofs_credentials c;
	struct ofs_jobclient *jc = NULL;
	struct ofs_job *jobs = NULL;
	size_t n = 0;
	int64_t left;
	json_t *o;
	int r;

	if (g->credentials == NULL)
		return;
	o = json_pack("{s:s}", "path", g->credentials);
	if ((r = ofs_import_credentials_load(g->credentials, &c, &err)) != 0) {
		add(d, "credentials", "fail", r, o, "%s", err.msg);
		return;
	}
	left = c.expires_at - ofs_now_ns() / 1000000000LL;
	json_object_set_new(o, "expires", json_string(c.expires));
	json_object_set_new(o, "endpoint", json_string(c.endpoint));
	if ((r = ofs_jobclient_new(&c, &jc, &err)) != 0 ||
	    (r = ofs_jobclient_list(jc, &jobs, &n, &err)) != 0) {
		add(d, "credentials", "fail", r, o, "the import service at '%s' did not answer a "
		    "job listing: %s", c.endpoint, err.msg);
	} else {
		json_object_set_new(o, "jobs", json_integer((json_int_t)n));
		if (left < 2 * 86400)
			add(d, "credentials", "warn", 0, o, "'%s' expires on %s (in %lld hours): "
			    "download a new one soon; the service at '%s' answers (%zu jobs)",
			    g->credentials, c.expires, (long long)(left / 3600), c.endpoint, n);
		else
			add(d, "credentials", "ok", 0, o, "'%s' valid until %s (%lld days); the "
			    "service at '%s' answers (%zu jobs)", g->credentials, c.expires,
			    (long long)(left / 86400), c.endpoint, n);
	}
	note_skew(d, c.endpoint, "OFFSEED_CA_FILE");
	for (size_t i = 0; i < n; i++)
		ofs_job_release(&jobs[i]);
	free(jobs);
	ofs_jobclient_free(jc);
	ofs_credentials_release(&c);
}

static void
check_clock(struct doc *d)
{
	char now[64];
	json_t *o;

	ofs_fmt_time(ofs_now_ns() / 1000000000LL, now, sizeof(now));
	o = json_pack("{s:s}", "local_utc", now);
	if (!d->skew_seen) {
		add(d, "clock", "ok", 0, o, "local time %s (no service reached to compare with)",
		    now);
		return;
	}
	json_object_set_new(o, "skew_seconds", json_integer(d->skew_max));
	if (d->skew_max > SKEW_FAIL)
		add(d, "clock", "fail", OFS_ERR_IO, o, "local time %s is %lld s off the "
		    "services' clock: Azure refuses signed requests over 15 min; fix the system "
		    "clock (NTP)", now, (long long)d->skew_max);
	else if (d->skew_max > SKEW_WARN)
		add(d, "clock", "warn", 0, o, "local time %s is %lld s off the services' clock",
		    now, (long long)d->skew_max);
	else
		add(d, "clock", "ok", 0, o, "local time %s, within %lld s of the services",
		    now, (long long)d->skew_max);
}

int
cmd_doctor(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "need", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doc d = { 0 };
	char **disks = NULL;
	size_t ndisks = 0;
	uint64_t need = 1ull << 30;
	int c, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			disks = ofs_xreallocarray(disks, ndisks + 1, sizeof(*disks));
			disks[ndisks++] = optarg;
			break;
		case 'n':
			if (ofs_parse_size(optarg, &need) != 0) {
				ofs_error("invalid --need '%s': a size such as 500M or 2G", optarg);
				free(disks);
				return ofs_cli_usage(usage, 0);
			}
			break;
		case 'h': free(disks); return ofs_cli_usage(usage, 1);
		default: free(disks); return ofs_cli_usage(usage, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		free(disks);
		return ofs_cli_usage(usage, 0);
	}
	/* a preflight should answer quickly: fewer, shorter tries unless the operator says */
	setenv("OFFSEED_HTTP_RETRIES", "2", 0);
	setenv("OFFSEED_HTTP_TIMEOUT", "10", 0);
	setenv("OFFSEED_AZURE_RETRIES", "2", 0);
	d.checks = json_array();
	check_version(&d);
	check_state(&d, g);
	check_repo(&d, g, need);
	for (size_t i = 0; i < ndisks; i++)
		check_disk(&d, disks[i]);
	check_credentials(&d, g);
	check_clock(&d);
	code = ofs_exit_code(d.rc);
	ofs_info("doctor: %zu checks, %d warnings, %d failed", json_array_size(d.checks),
	    d.nwarn, d.nfail);
	ofs_emit(json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:o}", "type", "summary", "command",
	    "doctor", "ok", d.nfail == 0, "exit_code", code, "warnings", d.nwarn, "failures",
	    d.nfail, "checks", d.checks));
	free(disks);
	return code;
}
