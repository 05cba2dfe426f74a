/* The import service's credentials file (checked before any request: valid, not expired,
 * private) and the vault a staging repository was first registered with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "credentials.h"
#include "log.h"
#include "util.h"

int
ofs_import_credentials_load(const char *path, struct ofs_credentials *c, struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_CREDENTIALS_MAX);
	struct stat st;
	int64_t now = ofs_now_ns() / 1000000000LL;
	int r;

	memset(c, 0, sizeof(*c));
	if (path == NULL || *path == '\0')
		return ofs_err_set(err, OFS_ERR_USAGE, "no credentials file given: use "
		    "--credentials FILE or OFFSEED_CREDENTIALS");
	if (stat(path, &st) != 0)
		return ofs_err_sys(err, errno == ENOENT ? OFS_ERR_USAGE : OFS_ERR_IO, errno,
		    "cannot open the credentials file '%s'", path);
	if (!S_ISREG(st.st_mode))
		return ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: not a "
		    "regular file", path);
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0) {
		if (r == OFS_ERR_CORRUPT)
			r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: "
			    "larger than %u bytes", path, OFS_CREDENTIALS_MAX);
		goto out;
	}
	if ((r = ofs_credentials_parse(raw.data, raw.len, path, c, err)) != 0)
		goto out;
	if (c->expires_at <= now) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "the credentials file '%s' expired on %s; "
		    "download a new one from the import service", path, c->expires);
		ofs_credentials_release(c);
		goto out;
	}
	if ((st.st_mode & 077) != 0)
		ofs_warn("the credentials file '%s' is readable by others (mode %04o): it holds a "
		    "secret; run chmod 600 '%s'", path, (unsigned)(st.st_mode & 07777), path);
	if (c->expires_at - now < 24 * 3600)
		ofs_warn("the credentials file '%s' expires on %s; download a new one soon", path,
		    c->expires);
out:
	ofs_buf_release_secret(&raw);
	return r;
}

int
ofs_import_vault_check(const char *state_dir, const char *repo_loc, const char *cred_path,
    const struct ofs_credentials *c, int record, struct ofs_error *err)
{
	struct ofs_buf have = OFS_BUF_INIT(4096);
	char *path = ofs_path_join(state_dir, "vault"), *line = NULL;
	int r;

	r = ofs_buf_read_file(&have, path, err);
	if (r == OFS_ERR_NOTFOUND) {
		r = 0;
		if (record) {
			line = ofs_xasprintf("%s\n", c->vault_id);
			if ((r = ofs_write_file_atomic(path, line, strlen(line), 0600, err)) != 0)
				ofs_err_wrap(err, "cannot record the repository's vault");
			else
				ofs_verbose("repository %s registered with vault %s", repo_loc,
				    c->vault_id);
		}
		goto out;
	}
	if (r != 0)
		goto out;
	while (have.len > 0 && (have.data[have.len - 1] == '\n' || have.data[have.len - 1] == '\r'))
		have.len--;
	if (ofs_buf_cstr(&have) != 0) {	/* outside bytes: read_file left room, all the same */
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is too large", path);
		goto out;
	}
	if (strlen((char *)have.data) != have.len || strcmp((char *)have.data, c->vault_id) != 0)
		r = ofs_err_set(err, OFS_ERR_AUTH, "the credentials file '%s' is for vault '%s', "
		    "but repository '%s' is registered with vault '%s'; use that vault's "
		    "credentials file", cred_path, c->vault_id, repo_loc, (char *)have.data);
out:
	free(line);
	free(path);
	ofs_buf_release(&have);
	return r;
}
