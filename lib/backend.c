/* Which backend a repository location goes to (lib/backend_local.c, backend_disks.c,
 * backend_azure.c). Kept apart from the backends so that none of them refers to another
 * through it: the disk set opens its folders with ofs_backend_local_open. */
#include <string.h>

#include "repo.h"

int
ofs_backend_open(const char *loc, struct ofs_backend **out, struct ofs_error *err)
{
	*out = NULL;
	if (strncmp(loc, "disks:", 6) == 0)
		return ofs_backend_disks_open(loc, out, err);
	if (strncmp(loc, "azure://", 8) == 0)
		return ofs_backend_azure_open(loc, out, err);
	if (strncmp(loc, "file:", 5) != 0 && strstr(loc, "://") != NULL)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "repository location '%s' is not supported by this build yet", loc);
	return ofs_backend_local_open(loc, out, err);
}
