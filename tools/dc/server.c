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
	struct ofs_buf cert = OFS_BUF_INIT(DC_TLS_FILE_MAX), key = OFS_BUF_INIT(DC_TLS_FILE_MAX);
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct dc_ctx ctx;
	struct ofs_error err;
	struct MHD_Daemon *d = NULL;
	char real[PATH_MAX], *end;
	sigset_t sigs;
	long v;
	int ch, sig, rc = 1, insecure = 0, lfd = -1;

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
		if (dc_http_read_pem(&cert, tls_cert, &err) != 0 ||
		    dc_http_read_pem(&key, tls_key, &err) != 0) {
			dc_log("%s", err.msg);
			rc = 2;
			goto out;
		}
		if (!dc_http_has_tls()) {
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

	d = dc_http_start(&ctx, lfd, tls_cert != NULL ? (const char *)cert.data : NULL,
	    tls_cert != NULL ? (const char *)key.data : NULL);
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
