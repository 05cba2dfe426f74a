/* offseed-dc serve's fault injection (--fault) for the client's tests: answer 503 or 429,
 * drop the connection, or answer slowly, for every request or the first COUNT. Admin
 * requests are never faulted, so a test can still drive the dock. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "dc.h"
#include "serve_int.h"
#include "util.h"

/* The fault to apply to this request (counted), or DC_FAULT_NONE. */
static enum dc_fault
take_fault(struct dc_ctx *ctx)
{
	enum dc_fault f = DC_FAULT_NONE;

	pthread_mutex_lock(&ctx->mu);
	if (ctx->fault != DC_FAULT_NONE && ctx->fault_left != 0) {
		f = ctx->fault;
		if (ctx->fault_left > 0)
			ctx->fault_left--;
	}
	pthread_mutex_unlock(&ctx->mu);
	return f;
}

int
dc_fault_parse(struct dc_ctx *ctx, const char *s, struct ofs_error *err)
{
	static const struct { const char *name; enum dc_fault f; } modes[] = {
		{ "503", DC_FAULT_503 }, { "429", DC_FAULT_429 }, { "drop", DC_FAULT_DROP },
		{ "slow", DC_FAULT_SLOW },
	};
	size_t n = strcspn(s, ":");
	char *end;

	for (size_t i = 0; i < OFS_ARRAY_LEN(modes); i++) {
		if (strlen(modes[i].name) != n || strncmp(s, modes[i].name, n) != 0)
			continue;
		ctx->fault = modes[i].f;
		ctx->fault_left = -1;
		if (s[n] == ':') {
			errno = 0;
			ctx->fault_left = strtol(s + n + 1, &end, 10);
			if (errno != 0 || end == s + n + 1 || *end != '\0' || ctx->fault_left < 1)
				return ofs_err_set(err, OFS_ERR_USAGE, "--fault '%s': the count must "
				    "be a positive number", s);
		}
		return 0;
	}
	return ofs_err_set(err, OFS_ERR_USAGE, "--fault '%s': expected 503, 429, drop or slow, "
	    "optionally with :COUNT", s);
}

int
dc_fault_apply(struct dc_ctx *ctx, struct MHD_Connection *c, enum MHD_Result *ret)
{
	static const char *const retry_hdrs[] = { "Retry-After", DC_RETRY_AFTER, NULL };

	switch (take_fault(ctx)) {
	case DC_FAULT_503:
		*ret = dc_api_error_h(c, 503, retry_hdrs, "ServiceUnavailable", "the service is "
		    "unavailable (fault injection); retry later");
		return 1;
	case DC_FAULT_429:
		*ret = dc_api_error_h(c, 429, retry_hdrs, "TooManyRequests", "too many requests "
		    "(fault injection); retry later");
		return 1;
	case DC_FAULT_DROP:
		*ret = MHD_NO;		/* closes the connection without an answer */
		return 1;
	case DC_FAULT_SLOW: {
		struct timespec ts = { (time_t)(ctx->slow_ms / 1000),
			(long)(ctx->slow_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		break;
	}
	case DC_FAULT_NONE:
		break;
	}
	return 0;
}
