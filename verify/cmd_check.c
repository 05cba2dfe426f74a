/* offseed check (not yet implemented). */
#include "cli.h"
#include "out.h"

int
cmd_check(int argc, char **argv, struct ofs_cli *g)
{
	(void)argc;
	(void)argv;
	(void)g;
	ofs_error("'check' is not implemented yet");
	return 1;
}
