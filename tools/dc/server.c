/* offseed-dc serve: options, the state it runs on (identity, admin token, storage, job
 * table), the listening socket, then the run loop until SIGINT or SIGTERM. The endpoints
 * are serve_jobs.c, serve_token.c and serve_admin.c over the HTTP layer of serve_http.c
 * (serve_int.h); fault injection is serve_fault.c; the job table is jobstore.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "serve_int.h"
#include "util.h"

/* What serve was asked for, besides the settings that go straight into struct dc_ctx. */
struct serve_opts {
	const char *listen, *state, *storage;
	const char *tls_cert, *tls_key, *dock_root;
	int insecure;
	struct sockaddr_in sa;		/* --listen */
};

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

/* A fresh ctx with serve's defaults (OFFSEED_DC_SLOW_MS: the slow fault's pause). */
static void
ctx_init(struct dc_ctx *ctx)
{
	const char *env;

	memset(ctx, 0, sizeof(*ctx));
	pthread_mutex_init(&ctx->mu, NULL);
	ctx->page_size = 50;
	ctx->token_lifetime = DC_TOKEN_LIFETIME;
	ctx->slow_ms = 2000;
	ctx->scheme = "http";
	if ((env = getenv("OFFSEED_DC_SLOW_MS")) != NULL && *env)
		ctx->slow_ms = (unsigned)strtoul(env, NULL, 10);
}

/* Option ch of serve (getopt_long's answer) with argument arg into o or ctx. 0; -1 when
 * arg is invalid (logged); 1 when ch is no option of serve. */
static int
take_option(int ch, char *arg, struct dc_ctx *ctx, struct serve_opts *o)
{
	struct ofs_error err;
	char *end;
	long v;

	switch (ch) {
	case 'l': o->listen = arg; break;
	case 's': o->state = arg; break;
	case 'S': o->storage = arg; break;
	case 'C': o->tls_cert = arg; break;
	case 'K': o->tls_key = arg; break;
	case 'I': o->insecure = 1; break;
	case 'D': o->dock_root = arg; break;
	case 'H':
		if (strlen(arg) == 0 || strlen(arg) > 253 || strspn(arg,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		    strlen(arg)) {
			dc_log("--hostname '%s' is not a host name", arg);
			return -1;
		}
		ctx->hostname = arg;
		break;
	case 'm':
		if (dc_version_num(arg, (const char **)&end) < 0 || *end != '\0') {
			dc_log("--min-agent-version '%s' is not X.Y.Z", arg);
			return -1;
		}
		ctx->min_agent = arg;
		break;
	case 'f':
		if (dc_fault_parse(ctx, arg, &err) != 0) {
			dc_log("%s", err.msg);
			return -1;
		}
		break;
	case 'd': case 't': case 'p':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v < (ch == 'd' ? 0 : 1) ||
		    v > 86400000) {
			dc_log("invalid number '%s'", arg);
			return -1;
		}
		if (ch == 'd')
			ctx->copy_delay_ms = (unsigned)v;
		else if (ch == 't')
			ctx->token_lifetime = v;
		else
			ctx->page_size = (unsigned)v;
		break;
	default:
		return 1;
	}
	return 0;
}

/* Parse serve's command line into o and ctx and check it (nothing is opened yet). 0 to go
 * on, else -1 with *rc the exit code: 0 after --help, 2 for a usage error (logged). */
static int
parse_options(int argc, char **argv, struct dc_ctx *ctx, struct serve_opts *o, int *rc)
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
	struct ofs_error err;
	int ch, r;

	memset(o, 0, sizeof(*o));
	*rc = 2;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'h') {
			*rc = serve_usage_to(stdout);
			return -1;
		}
		if ((r = take_option(ch, optarg, ctx, o)) != 0) {
			if (r > 0)
				*rc = serve_usage();
			return -1;
		}
	}
	if (o->listen == NULL || o->state == NULL || o->storage == NULL || optind != argc) {
		*rc = serve_usage();
		return -1;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		dc_log("--tls-cert and --tls-key go together");
		return -1;
	}
	if (parse_listen(o->listen, &o->sa, &err) != 0) {
		dc_log("%s", err.msg);
		return -1;
	}
	ctx->loopback = (ntohl(o->sa.sin_addr.s_addr) >> 24) == 127;
	if (!ctx->loopback && o->tls_cert == NULL && !o->insecure) {
		dc_log("--listen '%s': plain HTTP is served on loopback addresses (127.x.x.x) only; "
		    "give --tls-cert and --tls-key, or --insecure-http", o->listen);
		return -1;
	}
	return 0;
}

/* The TLS certificate and key of o, if any, into cert and key (ctx then serves https).
 * 0, or the exit code (logged). */
static int
load_tls(struct dc_ctx *ctx, const struct serve_opts *o, struct ofs_buf *cert,
    struct ofs_buf *key)
{
	struct ofs_error err;

	if (o->tls_cert == NULL)
		return 0;
	if (dc_http_read_pem(cert, o->tls_cert, &err) != 0 ||
	    dc_http_read_pem(key, o->tls_key, &err) != 0) {
		dc_log("%s", err.msg);
		return 2;
	}
	if (!dc_http_has_tls()) {
		dc_log("this libmicrohttpd has no TLS support");
		return 1;
	}
	ctx->scheme = "https";
	return 0;
}

/* What serve runs on, into ctx: --dock-root, the service identity and admin token (made the
 * first time), the storage (its interrupted imports cleaned up) and the job table. 0, or
 * the exit code (logged); ctx holds what was opened either way. */
static int
open_state(struct dc_ctx *ctx, const struct serve_opts *o)
{
	struct ofs_error err;
	char real[PATH_MAX];
	struct stat sb;

	if (o->dock_root != NULL) {
		if (realpath(o->dock_root, real) == NULL || stat(real, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode)) {
			dc_log("--dock-root '%s' is not a folder", o->dock_root);
			return 2;
		}
		ctx->dock_root = ofs_xstrdup(real);
	}
	if (dc_service_open(o->state, &ctx->svc, &err) != 0 ||
	    dc_admin_token(o->state, 1, ctx->admin_token, &err) != 0 ||
	    dc_store_open(o->storage, &ctx->store, &err) != 0) {
		dc_log("%s", err.msg);
		return ofs_exit_code(err.code);
	}
	dc_store_cleanup(ctx->store);
	ctx->jobs_dir = ofs_path_join(o->state, "jobs");
	if (dc_load_jobs(ctx, &err) != 0) {
		dc_log("%s", err.msg);
		return 1;
	}
	return 0;
}

/* Listen on o->sa (*lfd) and record in service.json where clients reach the service and the
 * storage it imports into. 0, or the exit code (logged). */
static int
open_listener(struct dc_ctx *ctx, struct serve_opts *o, int *lfd)
{
	socklen_t salen = sizeof(o->sa);
	struct ofs_error err;

	if (listen_socket(&o->sa, o->listen, lfd, &err) != 0) {
		dc_log("%s", err.msg);
		return 1;
	}
	getsockname(*lfd, (struct sockaddr *)&o->sa, &salen);
	ctx->base_url = ofs_xasprintf("%s://%s:%u", ctx->scheme, ctx->hostname != NULL ?
	    ctx->hostname : inet_ntoa(o->sa.sin_addr), (unsigned)ntohs(o->sa.sin_port));
	/* Handlers read svc without the lock: it is complete before the first request. */
	free(ctx->svc.storage);
	ctx->svc.storage = ofs_xstrdup(dc_store_location(ctx->store));
	free(ctx->svc.endpoint);
	ctx->svc.endpoint = ofs_xstrdup(ctx->base_url);
	if (dc_service_save(&ctx->svc, &err) != 0)
		dc_log("cannot record the endpoint: %s", err.msg);
	return 0;
}

/* Jobs a stop interrupted: their copies resume; finished ones move to their end stage. */
static void
resume_jobs(struct dc_ctx *ctx)
{
	pthread_mutex_lock(&ctx->mu);
	for (size_t i = 0; i < ctx->njobs; i++) {
		if (dc_job_needs_worker(ctx->jobs[i]->doc)) {
			dc_log("job '%s': resuming the copy", ctx->jobs[i]->name);
			dc_kick_job(ctx, ctx->jobs[i]);
		} else {
			dc_job_finish(ctx, ctx->jobs[i]);
		}
	}
	pthread_mutex_unlock(&ctx->mu);
}

/* Stop the daemon d, then the copy workers. They stop at their next file boundary; their
 * state is on disk already, so when one is still busy (a long disk check) after 5 s the
 * process exits (status 0) without waiting for it. */
static void
stop_serving(struct dc_ctx *ctx, struct MHD_Daemon *d)
{
	pthread_mutex_lock(&ctx->mu);
	ctx->stopping = 1;
	pthread_mutex_unlock(&ctx->mu);
	MHD_stop_daemon(d);
	for (int tries = 0;; tries++) {
		int busy = 0;

		pthread_mutex_lock(&ctx->mu);
		for (size_t i = 0; i < ctx->njobs; i++)
			busy += ctx->jobs[i]->worker;
		pthread_mutex_unlock(&ctx->mu);
		if (busy == 0)
			break;
		if (tries == 50)
			_exit(0);
		usleep(100000);
	}
}

int
dc_serve(int argc, char **argv)
{
	struct ofs_buf cert = OFS_BUF_INIT(DC_TLS_FILE_MAX), key = OFS_BUF_INIT(DC_TLS_FILE_MAX);
	struct serve_opts o;
	struct dc_ctx ctx;
	struct MHD_Daemon *d;
	sigset_t sigs;
	int sig, rc, lfd = -1;

	ctx_init(&ctx);
	if (parse_options(argc, argv, &ctx, &o, &rc) != 0)
		return rc;
	if ((rc = load_tls(&ctx, &o, &cert, &key)) != 0 || (rc = open_state(&ctx, &o)) != 0 ||
	    (rc = open_listener(&ctx, &o, &lfd)) != 0)
		goto out;

	/* Signals go to sigwait below, not to the server's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = dc_http_start(&ctx, lfd, o.tls_cert != NULL ? (const char *)cert.data : NULL,
	    o.tls_cert != NULL ? (const char *)key.data : NULL);
	if (d == NULL) {
		dc_log("cannot serve on %s%s", o.listen, o.tls_cert != NULL ? " (is the TLS "
		    "certificate and key a matching PEM pair?)" : "");
		rc = 1;
		goto out;
	}
	lfd = -1;			/* the daemon closes it */
	resume_jobs(&ctx);

	printf("listening on %s\n", ctx.base_url);
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	dc_log("stopping (signal %d)", sig);
	stop_serving(&ctx, d);
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
