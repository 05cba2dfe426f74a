/* offseed ls (not yet implemented). */
#include "cli.h"
#include "out.h"

int
cmd_ls(int argc, char **argv, struct ofs_cli *g)
{
	(void)argc;
	(void)argv;
	(void)g;
	ofs_error("'ls' is not implemented yet");
	return 1;
}
