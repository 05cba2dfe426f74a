/* Going away: the library's reporting API is lib/log.h, and what a command prints (results,
 * --json lines, the progress display) is the front end's, cli/render.h (reached through
 * cli.h). This header forwards to log.h only so that files still including it build
 * unchanged; include log.h (library) or cli.h (front end) instead. */
#ifndef OFS_OUT_H
#define OFS_OUT_H

#include <stdint.h>

#include <jansson.h>	/* out.h used to bring it in; some includers still rely on that */

#include "log.h"

#endif
