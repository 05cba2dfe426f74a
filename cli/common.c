/* Helpers shared by the subcommands: passphrase, opening the repository, failure output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "util.h"

static void
chomp(struct ofs_buf *b)
{
	while (b->len > 0 && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->len--;
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

static int
prompt(const char *what, struct ofs_buf *out, struct ofs_error *err)
{
	struct termios old, noecho;
	char line[1024];
	FILE *tty;
	int r = 0;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "no passphrase given: use --passphrase-file F, OFFSEED_PASSPHRASE_FILE or "
		    "OFFSEED_PASSPHRASE");
	fprintf(tty, "%s: ", what);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	if (fgets(line, sizeof(line), tty) == NULL)
		r = ofs_err_set(err, OFS_ERR_USAGE, "no passphrase entered");
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (r == 0 && strchr(line, '\n') == NULL && strlen(line) == sizeof(line) - 1)
		r = ofs_err_set(err, OFS_ERR_USAGE, "the passphrase is longer than %zu characters",
		    sizeof(line) - 2);
	if (r == 0 && ofs_buf_adds(out, line) != 0)
		r = ofs_err_set(err, OFS_ERR_USAGE, "the passphrase is longer than %zu bytes",
		    out->max);
	if (r == 0)
		chomp(out);
	ofs_wipe(line, sizeof(line));
	return r;
}

int
ofs_cli_passphrase(const struct ofs_cli *g, int confirm, struct ofs_buf *out,
    struct ofs_error *err)
{
	struct ofs_buf again = OFS_BUF_INIT(4096);
	const char *env;
	int r;

	ofs_buf_reset(out);
	if (g->passphrase_file != NULL) {
		if ((r = ofs_buf_read_file(out, g->passphrase_file, err)) == OFS_ERR_CORRUPT)
			return ofs_err_set(err, OFS_ERR_USAGE, "the passphrase file '%s' is longer "
			    "than %zu bytes", g->passphrase_file, out->max);
		if (r != 0)
			return ofs_err_wrap(err, "cannot read the passphrase file");
		chomp(out);
		return 0;
	}
	if ((env = getenv("OFFSEED_PASSPHRASE")) != NULL) {
		/* never cut: a shortened passphrase would lock the repository with another key */
		if (ofs_buf_adds(out, env) != 0 || ofs_buf_cstr(out) != 0)
			return ofs_err_set(err, OFS_ERR_USAGE, "OFFSEED_PASSPHRASE is longer than "
			    "%zu bytes", out->max);
		return 0;
	}
	if ((r = prompt("passphrase", out, err)) != 0)
		return r;
	if (confirm) {
		if ((r = prompt("passphrase again", &again, err)) != 0)
			goto done;
		if (again.len != out->len || memcmp(again.data, out->data, out->len) != 0)
			r = ofs_err_set(err, OFS_ERR_USAGE, "the passphrases do not match");
	}
done:
	ofs_buf_release_secret(&again);
	return r;
}

int
ofs_cli_open_repo(const struct ofs_cli *g, int need_key, int load_index, struct ofs_repo **out,
    struct ofs_error *err)
{
	struct ofs_buf pass = OFS_BUF_INIT(4096);
	struct ofs_repo *repo = NULL;
	int r;

	*out = NULL;
	if (g->repo == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "no repository given: use --repo LOC or OFFSEED_REPO");
	if ((r = ofs_repo_open(g->repo, g->state, &repo, err)) != 0)
		goto out;
	if (need_key) {
		if ((r = ofs_cli_passphrase(g, 0, &pass, err)) != 0)
			goto out;
		if ((r = ofs_repo_unlock(repo, (const char *)pass.data, pass.len, err)) != 0)
			goto out;
		if (load_index && (r = ofs_repo_load_index(repo, err)) != 0)
			goto out;
	}
	*out = repo;
	repo = NULL;	/* transferred */
out:
	ofs_buf_release_secret(&pass);
	ofs_repo_close(repo);
	return r;
}

int
ofs_cli_fail(int code, const struct ofs_error *err)
{
	if (code == 0)
		return 0;
	ofs_emit_error(code, err != NULL && err->msg[0] ? err->msg : "the operation failed");
	return ofs_exit_code(code);
}

int
ofs_cli_usage(const char *text, int to_stdout)
{
	fputs(text, to_stdout ? stdout : stderr);
	return to_stdout ? 0 : 2;
}

int
ofs_cli_threads(const char *arg, int *out)
{
	long v;

	if (ofs_parse_long(arg, 1, 64, &v) != 0) {
		ofs_error("--threads needs a number from 1 to 64, not '%s'", arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}
