/* What the import subcommands share besides the engines: `import repair`. */
#ifndef OFS_IMPORT_H
#define OFS_IMPORT_H

#include "cli.h"
#include "error.h"
#include "credentials.h"
#include "jobclient.h"
#include "jobjson.h"

/* `offseed import repair` (import/cmd_repair.c). */
int ofs_import_repair(int argc, char **argv, struct ofs_cli *g);

#endif
