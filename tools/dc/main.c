/* offseed-dc: the datacenter side of offseed (SPEC §9, §15). Commands: serve (the jobs API),
 * credentials (issue a customer's credentials file), and the dock: receive, close, return,
 * which call a running service's admin endpoints with the operator's admin token. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynlib.h"

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "dclog.h"
#include "harden.h"
#include "jobjson.h"
#include "util.h"

/* The usage text on f: exit 0 on stdout (asked for with --help), 2 on stderr. */
static int
usage_to(FILE *f)
{
	fprintf(f,
	    "usage: offseed-dc serve --listen ADDR:PORT --state DIR --storage LOC\n"
	    "           [--tls-cert FILE --tls-key FILE | --insecure-http] [--hostname NAME]\n"
	    "           [--dock-root DIR] [--min-agent-version X.Y.Z] [--fault MODE[:COUNT]]\n"
	    "           [--copy-delay MS] [--token-lifetime SECONDS] [--page-size N]\n"
	    "       offseed-dc credentials --state DIR --out FILE [--customer NAME]\n"
	    "           [--account NAME] [--valid-days N] [--endpoint URL] [--storage LOC]\n"
	    "       offseed-dc receive --url URL --state DIR [--customer NAME] --job NAME\n"
	    "           SERIAL=PATH...\n"
	    "       offseed-dc export --url URL --state DIR [--customer NAME] --job NAME\n"
	    "           SERIAL=MNT...\n"
	    "       offseed-dc close --url URL --state DIR [--customer NAME] --job NAME\n"
	    "       offseed-dc return --url URL --state DIR [--customer NAME] --job NAME\n"
	    "LOC is file:DIR or azure://ACCOUNT; MODE is 503, 429, drop or slow; OFFSEED_DC_STATE\n"
	    "may stand for --state of the dock commands (docs/DC.md).\n");
	return f == stdout ? 0 : 2;
}

static int
usage(void)
{
	return usage_to(stderr);
}

static int
cmd_credentials(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "valid-days", required_argument, NULL, 'v' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "storage", required_argument, NULL, 'S' },
		{ "account", required_argument, NULL, 'a' },
		{ "customer", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *out = NULL, *endpoint = NULL, *storage = NULL, *account = NULL;
	const char *customer = DC_DEFAULT_CUSTOMER;
	struct dc_customer cu;
	struct dc_service s;
	struct ofs_error err;
	long days = 10;
	char *end;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's': state = optarg; break;
		case 'o': out = optarg; break;
		case 'e': endpoint = optarg; break;
		case 'S': storage = optarg; break;
		case 'a': account = optarg; break;
		case 'c': customer = optarg; break;
		case 'v':
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || days < 0 || days > 3650) {
				dc_log("--valid-days must be a number from 0 to 3650");
				return 2;
			}
			break;
		case 'h':
			return usage_to(stdout);
		default:
			return usage();
		}
	}
	if (state == NULL || out == NULL || optind != argc)
		return usage();
	if (!dc_customer_name_ok(customer)) {
		dc_log("customer name '%s' is invalid: 1 to 32 letters, digits, '-' and '_', "
		    "starting with a letter or digit", customer);
		return 2;
	}
	if ((r = dc_service_open(state, &s, &err)) != 0) {
		dc_log("%s", err.msg);
		return ofs_exit_code(r);
	}
	if ((r = dc_customer_open(&s, customer, account, storage, &cu, &err)) == 0) {
		r = dc_credentials_issue(&s, &cu, endpoint, storage, (int)days, out, &err);
		dc_customer_release(&cu);
	}
	dc_service_release(&s);
	if (r != 0) {
		dc_log("%s", err.msg);
		return ofs_exit_code(r);
	}
	printf("wrote credentials of customer %s to %s (valid for %ld days)\n", customer, out,
	    days);
	return 0;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct ofs_buf *b = arg;

	if (ofs_buf_add(b, p, size * n) != 0)
		return 0;
	return size * n;
}

/* POST body to URL/admin/[customers/CUSTOMER/]jobs/NAME/ACTION with the admin token and
 * report. Exit code. */
static int
admin_post(const char *url, const char *token, const char *customer, const char *name,
    const char *action, json_t *body)
{
	struct ofs_buf resp = OFS_BUF_INIT(16u << 20);
	struct curl_slist *hdrs = NULL;
	char *full, *base, *auth, *text = json_dumps(body, JSON_COMPACT);
	const char *ca = getenv("OFFSEED_CA_FILE");
	long status = 0;
	CURLcode cc;
	CURL *c;
	struct ofs_error lerr;
	int rc = 1;

	if (ofs_dynlib_load_curl(&lerr) != 0) {
		dc_log("%s", lerr.msg);
		free(text);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	base = ofs_xstrdup(url);
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	if (customer != NULL)
		full = ofs_xasprintf("%s/admin/customers/%s/jobs/%s/%s", base, customer, name,
		    action);
	else
		full = ofs_xasprintf("%s/admin/jobs/%s/%s", base, name, action);
	free(base);
	c = curl_easy_init();
	auth = ofs_xasprintf("X-Offseed-Admin-Token: %s", token);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, auth);
	ofs_wipe(auth, strlen(auth));
	free(auth);
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	/* An export looks at every listed blob before it answers. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, strcmp(action, "export") == 0 ? 3600L : 120L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "offseed-dc/" OFS_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		dc_log("cannot reach %s: %s", url, curl_easy_strerror(cc));
		rc = 8;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200) {
		struct ofs_job job;
		struct ofs_error err;

		if (ofs_jobjson_parse_job(resp.data, resp.len, "the service's answer", &job,
		    &err) != 0) {
			dc_log("%s", err.msg);
			goto out;
		}
		if (strcmp(action, "export") == 0) {
			printf("job %s: %s: exporting to %zu disk(s)\n", name, job.status,
			    job.ndisks);
		} else {
			printf("job %s: %s\n", name, job.status);
			for (size_t i = 0; i < job.ndisks; i++)
				printf("  disk %s: %s\n", job.disks[i].serial,
				    job.disks[i].copy_status);
		}
		ofs_job_release(&job);
		rc = 0;
	} else {
		struct ofs_api_error ae;

		if (ofs_jobjson_parse_error(resp.data, resp.len, &ae) == 0)
			dc_log("%s job '%s' refused: %s: %s", action, name, ae.code, ae.message);
		else
			dc_log("%s job '%s' refused: HTTP %ld", action, name, status);
		/* 507: the disks given are too small (nothing was written). */
		rc = status == 507 ? 9 : status >= 500 ? 8 : 1;
	}
out:
	curl_slist_free_all(hdrs);	/* the token's copy in it: curl frees without wiping */
	curl_easy_cleanup(c);
	ofs_buf_release(&resp);
	free(full);
	free(text);
	return rc;
}

static int
cmd_dock(const char *action, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "job", required_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ "customer", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *name = NULL, *state = getenv("OFFSEED_DC_STATE");
	const char *customer = NULL;
	char real[PATH_MAX], token[DC_ADMIN_TOKEN_LEN + 1];
	struct ofs_error err;
	json_t *body, *disks;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'j': name = optarg; break;
		case 's': state = optarg; break;
		case 'c': customer = optarg; break;
		case 'h': return usage_to(stdout);
		default: return usage();
		}
	}
	if (url == NULL || name == NULL || *url == '\0')
		return usage();
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		dc_log("--url must be http(s)://HOST:PORT");
		return 2;
	}
	if (!ofs_job_name_ok(name)) {
		dc_log("'%s' is not a valid job name", name);
		return 2;
	}
	if (customer != NULL && !dc_customer_name_ok(customer)) {
		dc_log("'%s' is not a valid customer name", customer);
		return 2;
	}
	if (state == NULL || *state == '\0') {
		dc_log("the admin token is in the service's state folder: give --state DIR or set "
		    "OFFSEED_DC_STATE");
		return 2;
	}
	disks = json_object();
	if (strcmp(action, "receive") == 0 || strcmp(action, "export") == 0) {
		if (optind == argc) {
			json_decref(disks);
			return usage();
		}
		for (int i = optind; i < argc; i++) {
			char *eq = strchr(argv[i], '='), *serial;

			if (eq == NULL || eq == argv[i] || eq[1] == '\0') {
				dc_log("'%s' is not SERIAL=PATH", argv[i]);
				json_decref(disks);
				return 2;
			}
			if (realpath(eq + 1, real) == NULL) {
				dc_log("cannot resolve '%s': %s", eq + 1, strerror(errno));
				json_decref(disks);
				return 1;
			}
			serial = ofs_xstrndup(argv[i], (size_t)(eq - argv[i]));
			json_object_set_new(disks, serial, json_string(real));
			free(serial);
		}
	} else if (optind != argc) {
		json_decref(disks);
		return usage();
	}
	if (dc_admin_token(state, 0, token, &err) != 0) {
		dc_log("cannot read the admin token: %s (has 'offseed-dc serve' run with state "
		    "'%s'? reading it needs the operator's rights)", err.msg, state);
		json_decref(disks);
		return err.code == OFS_ERR_NOTFOUND ? 2 : ofs_exit_code(err.code);
	}
	body = json_pack("{s:o}", "disks", disks);
	rc = admin_post(url, token, customer, name, action, body);
	ofs_wipe(token, sizeof(token));
	json_decref(body);
	return rc;
}

int
main(int argc, char **argv)
{
	/* It holds the token key, client secrets and the admin token: no core dumps, and no
	 * copies of them left in freed JSON buffers. */
	ofs_harden_process();
	ofs_json_wipe_on_free();
	dc_log_install();	/* the library's diagnostics, "offseed: …" as always */
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "--version") == 0) {
		printf("offseed-dc %s (jobs API %s)\n", OFS_VERSION, DC_API_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
		return usage_to(stdout);
	if (strcmp(argv[1], "serve") == 0)
		return dc_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "credentials") == 0)
		return cmd_credentials(argc - 1, argv + 1);
	if (strcmp(argv[1], "receive") == 0 || strcmp(argv[1], "export") == 0 ||
	    strcmp(argv[1], "close") == 0 ||
	    strcmp(argv[1], "return") == 0)
		return cmd_dock(argv[1], argc - 1, argv + 1);
	dc_log("unknown command '%s'", argv[1]);
	return usage();
}
