/* The credentials file `offseed-dc credentials` issues, and the vault a staging repository
 * is registered with (engine/credentials.c). */
#ifndef OFS_CREDENTIALS_H
#define OFS_CREDENTIALS_H

#include "error.h"
#include "jobjson.h"

/* Load the credentials file at path (NULL → OFS_ERR_USAGE naming --credentials and
 * OFFSEED_CREDENTIALS): parse (OFS_ERR_AUTH "not a valid credentials file"), refuse when
 * expired (OFS_ERR_AUTH naming the date), warn when its mode allows more than the owner.
 * c is released by the caller with ofs_credentials_release. */
int ofs_import_credentials_load(const char *path, struct ofs_credentials *c,
    struct ofs_error *err);

/* The vault a staging repository is registered with lives in STATE/<repo id>/vault. With
 * record, an absent record is written from c; otherwise an absent record passes. A
 * different vault → OFS_ERR_AUTH naming both. */
int ofs_import_vault_check(const char *state_dir, const char *repo_loc, const char *cred_path,
    const struct ofs_credentials *c, int record, struct ofs_error *err);

#endif
