/* offseed-dc serve's token endpoint: the OAuth client credentials grant a client of the
 * jobs API trades its credentials file's id and secret for a bearer token with. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "serve_int.h"
#include "util.h"

/* The decoded value of key in an application/x-www-form-urlencoded body (owned), or NULL
 * (also for a bad escape or %00). */
static char *
form_value(const struct ofs_buf *b, const char *key)
{
	const char *p = (const char *)b->data, *end = p + b->len;
	size_t klen = strlen(key);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		const char *stop = amp ? amp : end;

		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq != NULL && (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0) {
			struct ofs_buf v = OFS_BUF_INIT(0);	/* unbounded: at most the body's size */

			if (ofs_percent_decode_span(eq + 1, (size_t)(stop - eq - 1),
			    OFS_PCT_PLUS_SPACE | OFS_PCT_NO_NUL, &v) != 0 || ofs_buf_cstr(&v) != 0) {
				ofs_buf_release(&v);
				return NULL;
			}
			return (char *)ofs_buf_detach(&v, NULL);
		}
		p = stop + 1;
	}
	return NULL;
}

enum MHD_Result
dc_token_request(struct dc_ctx *ctx, struct MHD_Connection *c, const char *tenant,
    struct dc_request *rq)
{
	char *grant = form_value(&rq->body, "grant_type"), *id = form_value(&rq->body, "client_id");
	char *secret = form_value(&rq->body, "client_secret"), *tok, when[32], desc[256];
	char *customer = NULL;
	int64_t now = dc_now_s(), cred_exp, exp;
	struct dc_customer cu = { 0 };
	struct ofs_error err;
	enum MHD_Result ret;
	json_t *o;
	int r;

	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		ret = dc_oauth_error(c, 400, "unsupported_grant_type", "only client_credentials is "
		    "supported");
		goto out;
	}
	if (id == NULL || secret == NULL) {
		ret = dc_oauth_error(c, 400, "invalid_request", "client_id and client_secret are "
		    "required");
		goto out;
	}
	r = dc_client_check(&ctx->svc, id, secret, now, &cred_exp, &customer);
	if (r == -2) {
		ofs_fmt_time(cred_exp, when, sizeof(when));
		snprintf(desc, sizeof(desc), "the client's credentials expired on %s; issue a new "
		    "credentials file", when);
		ret = dc_oauth_error(c, 401, "invalid_client", desc);
		goto out;
	}
	if (r != 0) {
		ret = dc_oauth_error(c, 401, "invalid_client", "client authentication failed (unknown "
		    "client or wrong secret)");
		goto out;
	}
	/* The tenant is the client's customer's: another one is not found, as for a stranger. */
	if (dc_customer_load(&ctx->svc, customer, &cu, &err) != 0 ||
	    strcmp(tenant, cu.tenant) != 0) {
		snprintf(desc, sizeof(desc), "tenant '%.64s' not found", tenant);
		ret = dc_oauth_error(c, 400, "invalid_request", desc);
		goto out;
	}
	exp = now + ctx->token_lifetime;
	if (exp > cred_exp)
		exp = cred_exp;
	tok = dc_token_make(&ctx->svc, id, exp);
	o = json_pack("{s:s, s:I, s:I, s:s}", "token_type", "Bearer", "expires_in",
	    (json_int_t)(exp - now), "ext_expires_in", (json_int_t)(exp - now), "access_token",
	    tok);
	ofs_wipe(tok, strlen(tok));
	free(tok);
	{
		static const char *const hdrs[] = { "Cache-Control", "no-store", NULL };

		ret = dc_reply(c, 200, o, hdrs);
	}
out:
	if (secret != NULL) {
		ofs_wipe(secret, strlen(secret));
		free(secret);
	}
	dc_customer_release(&cu);
	free(customer);
	free(grant);
	free(id);
	return ret;
}
