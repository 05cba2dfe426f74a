/* Placeholder for `verify --deep` (the lead replaces this file with the real keyed pass). */
#include "deep.h"
#include "error.h"

int
ofs_verify_deep(struct ofs_cli *g, const char *target, struct ofs_verify_report *rep)
{
	struct ofs_error err;

	(void)g;
	(void)rep;
	ofs_err_set(&err, OFS_ERR_IO, "cannot deep-verify '%s': 'verify --deep' is not "
	    "implemented yet", target);
	return ofs_cli_fail(OFS_ERR_IO, &err);
}
