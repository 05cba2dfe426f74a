/* offseed backup: incremental backup from the last snapshot (or the seed); shares the
 * pipeline and command line of stage, with loose packs instead of containers. */
#include "cli.h"
#include "stage.h"

int
cmd_backup(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_stage_command(argc, argv, g, 1);
}
