/* offseed init: create a repository (config and first key slot). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "util.h"

static const char usage[] =
    "usage: offseed init --repo DIR [--dest azure://ACCOUNT/CONTAINER/PREFIX]\n"
    "                    [--generate-passphrase FILE]\n"
    "\n"
    "Create a repository: config and the first key slot. The passphrase (at least 16\n"
    "characters) comes from --passphrase-file, OFFSEED_PASSPHRASE_FILE, OFFSEED_PASSPHRASE or\n"
    "a prompt; --generate-passphrase writes a strong random one to FILE (mode 0600).\n";

/* 32 random bytes as base64url-ish text: 43 characters, ~256 bits. */
static int
generate(const char *file, struct ofs_buf *pass, struct ofs_error *err)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[43];
	int fd, e;

	ofs_random(rnd, sizeof(rnd));
	ofs_buf_reset(pass);
	for (size_t i = 0; i < sizeof(rnd); i++)
		ofs_buf_putc(pass, (uint8_t)alpha[rnd[i] & 63]);
	ofs_wipe(rnd, sizeof(rnd));
	if (ofs_buf_cstr(pass) != 0)	/* 43 bytes: fails only in a buffer too small */
		return ofs_err_set(err, OFS_ERR_LIMIT, "the passphrase does not fit");
	if ((fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		return ofs_err_sys(err, errno == EEXIST ? OFS_ERR_USAGE : OFS_ERR_IO, errno,
		    "cannot create passphrase file '%s'", file);
	if ((e = ofs_write_all(fd, pass->data, pass->len)) != 0 ||
	    (e = ofs_write_all(fd, "\n", 1)) != 0 || (fsync(fd) == -1 && (e = -errno))) {
		close(fd);
		unlink(file);
		return ofs_err_sys(err, OFS_ERR_IO, -e, "cannot write passphrase file '%s'", file);
	}
	close(fd);
	return 0;
}

int
cmd_init(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "dest", required_argument, NULL, 'd' },
		{ "generate-passphrase", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_buf pass = OFS_BUF_INIT(4096);
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_kdf_params kdf = OFS_KDF_DEFAULT;
	const char *dest = NULL, *genfile = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dest = optarg; break;
		case 'G': genfile = optarg; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind < argc && g->repo == NULL)
		g->repo = argv[optind++];
	if (optind != argc || g->repo == NULL) {
		if (g->repo == NULL)
			ofs_error("no repository given: use --repo DIR");
		return ofs_cli_usage(usage, 0);
	}
	if (dest != NULL && strncmp(dest, "azure://", 8) != 0) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE,
		    "destination '%s' is not of the form azure://ACCOUNT/CONTAINER/PREFIX", dest);
		goto out;
	}
	if (genfile != NULL)
		rc = generate(genfile, &pass, &err);
	else
		rc = ofs_cli_passphrase(g, 1, &pass, &err);
	if (rc != 0)
		goto out;
	if ((rc = ofs_repo_init(g->repo, dest, (const char *)pass.data, pass.len, kdf, &repo,
	    &err)) != 0)
		goto out;
	if (genfile != NULL)
		ofs_warn("the passphrase is in '%s': keep a copy somewhere safe; losing it loses "
		    "the data", genfile);
	ofs_result("created repository %s at %s\n", repo->id_hex, g->repo);
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:i}", "type", "summary", "repository",
	    repo->id_hex, "location", g->repo, "destination", dest ? dest : "", "format_version",
	    (int)repo->cfg.version));
out:
	ofs_repo_close(repo);
	ofs_buf_release_secret(&pass);
	return ofs_cli_fail(rc, &err);
}
