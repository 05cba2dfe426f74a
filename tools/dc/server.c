/* offseed-dc serve: the Data Box–style jobs API, its token endpoint and the operator's admin
 * endpoints (the dock) over libmicrohttpd (HTTP or HTTPS); customers kept apart; transport
 * limits; fault injection for the client's tests. The job table is jobstore.c's. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "jobjson.h"
#include "serve_int.h"
#include "util.h"

#define MAX_SEGS 12
/* Transport limits (SPEC §15 "Slow and greedy clients"). Connections wait in a few polling
 * threads (epoll), not one thread each, so idle ones cost a socket and a small buffer. */
#define CONN_TIMEOUT 10			/* seconds without progress before a connection is closed */
#define CONN_MAX 1024			/* connections at once */
#define CONN_PER_ADDRESS 32		/* connections at once from one address */
#define CONN_MEMORY (32u << 10)		/* per connection: the request line and headers */
#define TLS_FILE_MAX (1u << 20)

/* Split "/a/b/c" into at most MAX_SEGS parts (pointers into buf). Returns the count, or
 * -1 when there are too many or an empty part. */
static int
split_path(char *buf, char **seg)
{
	int n = 0;
	char *p = buf, *s;

	if (*p == '/')
		p++;
	if (*p == '\0')
		return 0;
	while (p != NULL) {
		if (n == MAX_SEGS)
			return -1;
		s = strchr(p, '/');
		if (s != NULL)
			*s++ = '\0';
		if (*p == '\0')
			return s == NULL && n > 0 ? n : -1;	/* a trailing '/' is fine */
		seg[n++] = p;
		p = s;
	}
	return n;
}

/* ---- dispatch ---- */

static enum MHD_Result
dispatch(struct dc_ctx *ctx, struct MHD_Connection *c, const char *url, const char *method,
    struct dc_request *rq)
{
	char buf[2048], *seg[MAX_SEGS];
	enum MHD_Result ret;
	const char *ua;
	int n;

	if (strlen(url) >= sizeof(buf))
		return dc_api_error(c, 414, "UriTooLong", "the request path is too long");
	memcpy(buf, url, strlen(url) + 1);
	if ((n = split_path(buf, seg)) < 0)
		return dc_api_error(c, 404, "NotFound", "no such resource");
	if (rq->too_big)
		return dc_api_error(c, 413, "RequestEntityTooLarge", "the request body is larger "
		    "than %zu bytes", rq->cap);
	if (n >= 1 && strcmp(seg[0], "admin") == 0)
		return dc_admin_request(ctx, c, method, seg, n, rq);
	if (dc_fault_apply(ctx, c, &ret))
		return ret;
	if (ctx->min_agent != NULL && (ua = dc_header(c, "User-Agent")) != NULL &&
	    strncmp(ua, "offseed/", 8) == 0) {
		int64_t have = dc_version_num(ua + 8, NULL), need = dc_version_num(ctx->min_agent, NULL);
		char ver[32], msg[256];

		if (have < need) {
			snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(ua + 8, " "), ua + 8);
			snprintf(msg, sizeof(msg), "the import service requires offseed %s or later "
			    "(this client is %s)", ctx->min_agent, ver);
			return dc_reply(c, 400, json_pack("{s:{s:s, s:s, s:s, s:[{s:s, s:{s:s}}]}}",
			    "error", "code", "AgentVersionNotSupported", "message", msg,
			    "minimumVersion", ctx->min_agent, "additionalInfo", "type",
			    "MinimumAgentVersion", "info", "minimumVersion", ctx->min_agent), NULL);
		}
	}
	if (n == 4 && strcasecmp(seg[1], "oauth2") == 0 && strcmp(seg[2], "v2.0") == 0 &&
	    strcmp(seg[3], "token") == 0) {
		if (strcmp(method, "POST") != 0)
			return dc_oauth_error(c, 405, "invalid_request", "use POST");
		return dc_token_request(ctx, c, seg[0], rq);
	}
	if (n >= 1 && strcasecmp(seg[0], "subscriptions") == 0)
		return dc_jobs_request(ctx, c, method, seg, n, rq);
	return dc_api_error(c, 404, "NotFound", "no such resource");
}

/* The largest body the endpoint of method and url takes. */
static size_t
body_cap(const char *method, const char *url)
{
	if (strncmp(url, "/admin/", 7) == 0)
		return DC_ADMIN_BODY_MAX;
	if (strcmp(method, "PUT") == 0)
		return DC_BODY_MAX;		/* a job */
	return DC_SMALL_BODY_MAX;		/* token form, ship, cancel */
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct dc_ctx *ctx = cls;
	struct dc_request *rq = *con_cls;
	const char *cl;
	char *end;

	if (rq == NULL) {
		rq = ofs_xcalloc(1, sizeof(*rq));
		rq->cap = body_cap(method, url);
		ofs_buf_init(&rq->body, rq->cap);
		*con_cls = rq;
		/* A declared length over the limit is refused before the body is read (the
		 * connection is closed after the answer). */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL && (errno = 0, strtoull(cl, &end, 10) > rq->cap || errno != 0)) {
			rq->too_big = rq->answered = 1;
			return dc_api_error(c, 413, "RequestEntityTooLarge", "the request body is "
			    "larger than %zu bytes", rq->cap);
		}
		return MHD_YES;
	}
	if (rq->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!rq->too_big && ofs_buf_add(&rq->body, upload, *upload_size) != 0)
			rq->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(ctx, c, url, method, rq);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct dc_request *rq = *con_cls;

	if (rq != NULL) {
		ofs_buf_release_secret(&rq->body);	/* may hold a client secret */
		free(rq);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages, one of a kind per 10 s: a flood of refused connections
 * must not flood the log. */
static void
mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static const char *last;
	static int64_t last_t;
	static unsigned skipped;
	int64_t t = dc_now_s();

	pthread_mutex_lock(&mu);
	if (fmt == last && t - last_t < 10) {
		skipped++;
	} else {
		if (skipped > 0)
			dc_log("(%u more like the last message)", skipped);
		last = fmt;
		last_t = t;
		skipped = 0;
		fputs("offseed-dc: ", stderr);
		vfprintf(stderr, fmt, ap);
		if (*fmt == '\0' || fmt[strlen(fmt) - 1] != '\n')
			fputc('\n', stderr);
	}
	pthread_mutex_unlock(&mu);
}

/* Listening on loopback: loopback peers only. Elsewhere (TLS or --insecure-http): anyone. */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	const struct dc_ctx *ctx = cls;

	if (addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
		return MHD_NO;
	if (!ctx->loopback)
		return MHD_YES;
	return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127 ?
	    MHD_YES : MHD_NO;
}

/* ---- serve command ---- */

static int
parse_listen(const char *s, struct sockaddr_in *sa, struct ofs_error *err)
{
	const char *colon = strrchr(s, ':');
	char host[64], *end;
	unsigned long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return ofs_err_set(err, OFS_ERR_USAGE, "--listen must be ADDRESS:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return ofs_err_set(err, OFS_ERR_USAGE, "--listen '%s' is not IPV4-ADDRESS:PORT", s);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* A bound, listening socket for sa (the port known before the first request). */
static int
listen_socket(const struct sockaddr_in *sa, const char *what, int *out, struct ofs_error *err)
{
	int fd, one = 1;

	*out = -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot make a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 || listen(fd, 512) == -1) {
		int e = errno;

		close(fd);
		return ofs_err_sys(err, OFS_ERR_IO, e, "cannot listen on %s (in use?)", what);
	}
	*out = fd;
	return 0;
}

/* Read a PEM file for the TLS layer, NUL-terminated. */
static int
read_pem(struct ofs_buf *b, const char *path, struct ofs_error *err)
{
	int r;

	if ((r = ofs_buf_read_file(b, path, err)) != 0)
		return r;
	if (ofs_buf_add(b, "", 1) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is too large for a PEM file", path);
	return 0;
}

/* Connections the process can hold: as many files as the hard limit lets it open. */
static unsigned
connection_limit(void)
{
	struct rlimit rl;
	rlim_t want = CONN_MAX + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= want)
		return CONN_MAX;
	return rl.rlim_cur > 192 ? (unsigned)(rl.rlim_cur - 128) : 64;
}

static int
serve_usage_to(FILE *f)
{
	fprintf(f, "usage: offseed-dc serve --listen ADDR:PORT --state DIR --storage LOC\n"
	    "           [--tls-cert FILE --tls-key FILE | --insecure-http] [--hostname NAME]\n"
	    "           [--dock-root DIR] [--min-agent-version X.Y.Z] [--fault MODE[:COUNT]]\n"
	    "           [--copy-delay MS] [--token-lifetime SECONDS] [--page-size N]\n");
	return f == stdout ? 0 : 2;
}

static int
serve_usage(void)
{
	return serve_usage_to(stderr);
}

int
dc_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "storage", required_argument, NULL, 'S' },
		{ "min-agent-version", required_argument, NULL, 'm' },
		{ "fault", required_argument, NULL, 'f' },
		{ "copy-delay", required_argument, NULL, 'd' },
		{ "token-lifetime", required_argument, NULL, 't' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "insecure-http", no_argument, NULL, 'I' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "dock-root", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL, *state = NULL, *storage = NULL, *env;
	const char *tls_cert = NULL, *tls_key = NULL, *dock_root = NULL;
	struct ofs_buf cert = OFS_BUF_INIT(TLS_FILE_MAX), key = OFS_BUF_INIT(TLS_FILE_MAX);
	struct MHD_OptionItem mo[16];	/* 11 at most */
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct dc_ctx ctx;
	struct ofs_error err;
	struct MHD_Daemon *d = NULL;
	char real[PATH_MAX], *end;
	unsigned flags, pool;
	sigset_t sigs;
	long v;
	int ch, sig, rc = 1, insecure = 0, lfd = -1, nmo = 0;

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.mu, NULL);
	ctx.page_size = 50;
	ctx.token_lifetime = DC_TOKEN_LIFETIME;
	ctx.slow_ms = 2000;
	ctx.scheme = "http";
	if ((env = getenv("OFFSEED_DC_SLOW_MS")) != NULL && *env)
		ctx.slow_ms = (unsigned)strtoul(env, NULL, 10);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen = optarg; break;
		case 's': state = optarg; break;
		case 'S': storage = optarg; break;
		case 'C': tls_cert = optarg; break;
		case 'K': tls_key = optarg; break;
		case 'I': insecure = 1; break;
		case 'D': dock_root = optarg; break;
		case 'H':
			if (strlen(optarg) == 0 || strlen(optarg) > 253 || strspn(optarg,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
			    strlen(optarg)) {
				dc_log("--hostname '%s' is not a host name", optarg);
				return 2;
			}
			ctx.hostname = optarg;
			break;
		case 'm':
			if (dc_version_num(optarg, (const char **)&end) < 0 || *end != '\0') {
				dc_log("--min-agent-version '%s' is not X.Y.Z", optarg);
				return 2;
			}
			ctx.min_agent = optarg;
			break;
		case 'f':
			if (dc_fault_parse(&ctx, optarg, &err) != 0) {
				dc_log("%s", err.msg);
				return 2;
			}
			break;
		case 'd': case 't': case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || v < (ch == 'd' ? 0 : 1) ||
			    v > 86400000) {
				dc_log("invalid number '%s'", optarg);
				return 2;
			}
			if (ch == 'd')
				ctx.copy_delay_ms = (unsigned)v;
			else if (ch == 't')
				ctx.token_lifetime = v;
			else
				ctx.page_size = (unsigned)v;
			break;
		case 'h':
			return serve_usage_to(stdout);
		default:
			return serve_usage();
		}
	}
	if (listen == NULL || state == NULL || storage == NULL || optind != argc)
		return serve_usage();
	if ((tls_cert == NULL) != (tls_key == NULL)) {
		dc_log("--tls-cert and --tls-key go together");
		return 2;
	}
	if (parse_listen(listen, &sa, &err) != 0) {
		dc_log("%s", err.msg);
		return 2;
	}
	ctx.loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
	if (!ctx.loopback && tls_cert == NULL && !insecure) {
		dc_log("--listen '%s': plain HTTP is served on loopback addresses (127.x.x.x) only; "
		    "give --tls-cert and --tls-key, or --insecure-http", listen);
		return 2;
	}
	if (tls_cert != NULL) {
		if (read_pem(&cert, tls_cert, &err) != 0 || read_pem(&key, tls_key, &err) != 0) {
			dc_log("%s", err.msg);
			rc = 2;
			goto out;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			dc_log("this libmicrohttpd has no TLS support");
			goto out;
		}
		ctx.scheme = "https";
	}
	if (dock_root != NULL) {
		struct stat sb;

		if (realpath(dock_root, real) == NULL || stat(real, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode)) {
			dc_log("--dock-root '%s' is not a folder", dock_root);
			rc = 2;
			goto out;
		}
		ctx.dock_root = ofs_xstrdup(real);
	}
	if (dc_service_open(state, &ctx.svc, &err) != 0) {
		dc_log("%s", err.msg);
		rc = ofs_exit_code(err.code);
		goto out;
	}
	if (dc_admin_token(state, 1, ctx.admin_token, &err) != 0) {
		dc_log("%s", err.msg);
		rc = ofs_exit_code(err.code);
		goto out;
	}
	if (dc_store_open(storage, &ctx.store, &err) != 0) {
		dc_log("%s", err.msg);
		rc = ofs_exit_code(err.code);
		goto out;
	}
	dc_store_cleanup(ctx.store);
	ctx.jobs_dir = ofs_path_join(state, "jobs");
	if (dc_load_jobs(&ctx, &err) != 0) {
		dc_log("%s", err.msg);
		goto out;
	}
	if (listen_socket(&sa, listen, &lfd, &err) != 0) {
		dc_log("%s", err.msg);
		goto out;
	}
	getsockname(lfd, (struct sockaddr *)&sa, &salen);
	ctx.base_url = ofs_xasprintf("%s://%s:%u", ctx.scheme, ctx.hostname != NULL ?
	    ctx.hostname : inet_ntoa(sa.sin_addr), (unsigned)ntohs(sa.sin_port));
	/* Handlers read svc without the lock: it is complete before the first request. */
	free(ctx.svc.storage);
	ctx.svc.storage = ofs_xstrdup(dc_store_location(ctx.store));
	free(ctx.svc.endpoint);
	ctx.svc.endpoint = ofs_xstrdup(ctx.base_url);
	if (dc_service_save(&ctx.svc, &err) != 0)
		dc_log("cannot record the endpoint: %s", err.msg);

	/* Signals go to sigwait below, not to the server's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A few polling threads serve every connection; a request handler may wait for the job
	 * table's lock or sleep (fault slow), so there are several. */
	pool = (unsigned)ofs_ncpu();
	pool = pool < 4 ? 4 : pool > 16 ? 16 : pool;
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, lfd, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, pool, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
	    NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    CONN_PER_ADDRESS, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY,
	    NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed,
	    NULL };
	if (tls_cert != NULL) {
		mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert.data };
		mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key.data };
	}
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (tls_cert != NULL)
		flags |= MHD_USE_TLS;
	d = MHD_start_daemon(flags, 0, accept_policy, &ctx, handler, &ctx,
	    MHD_OPTION_ARRAY, mo, MHD_OPTION_END);
	if (d == NULL) {
		dc_log("cannot serve on %s%s", listen, tls_cert != NULL ? " (is the TLS "
		    "certificate and key a matching PEM pair?)" : "");
		goto out;
	}
	lfd = -1;			/* the daemon closes it */

	pthread_mutex_lock(&ctx.mu);
	for (size_t i = 0; i < ctx.njobs; i++) {
		if (dc_job_needs_worker(ctx.jobs[i]->doc)) {
			dc_log("job '%s': resuming the copy", ctx.jobs[i]->name);
			dc_kick_job(&ctx, ctx.jobs[i]);
		} else {
			dc_job_finish(&ctx, ctx.jobs[i]);
		}
	}
	pthread_mutex_unlock(&ctx.mu);

	printf("listening on %s\n", ctx.base_url);
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	dc_log("stopping (signal %d)", sig);
	pthread_mutex_lock(&ctx.mu);
	ctx.stopping = 1;
	pthread_mutex_unlock(&ctx.mu);
	MHD_stop_daemon(d);
	/* Copy workers stop at their next file boundary. Their state is on disk already, so
	 * one still busy (a long disk check) after 5 s is not waited for. */
	for (int tries = 0;; tries++) {
		int busy = 0;

		pthread_mutex_lock(&ctx.mu);
		for (size_t i = 0; i < ctx.njobs; i++)
			busy += ctx.jobs[i]->worker;
		pthread_mutex_unlock(&ctx.mu);
		if (busy == 0)
			break;
		if (tries == 50)
			_exit(0);
		usleep(100000);
	}
	rc = 0;
out:
	if (lfd != -1)
		close(lfd);
	dc_drop_jobs(&ctx);
	free(ctx.base_url);
	free(ctx.dock_root);
	dc_store_free(ctx.store);
	dc_service_release(&ctx.svc);
	ofs_wipe(ctx.admin_token, sizeof(ctx.admin_token));
	ofs_buf_release(&cert);
	ofs_buf_release_secret(&key);
	free(ctx.jobs_dir);
	return rc;
}
