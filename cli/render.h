/* offseed's voice: diagnostics on stderr ("offseed: …"), results on stdout, --json lines,
 * and the progress display (tty line, periodic plain line, or JSON progress events). It is
 * the library's log sink (lib/log.h), installed by main(). */
#ifndef OFS_RENDER_H
#define OFS_RENDER_H

#include <jansson.h>

#include "log.h"

struct ofs_out_opts {
	int json;		/* --json: stdout carries JSON Lines only */
	int verbosity;		/* -1 quiet, 0 normal, 1+ verbose */
	int progress;		/* 0 = --no-progress */
	double interval;	/* seconds between plain progress lines (not a tty) */
};

/* Install the renderer as the library's log sink with the current options (at first:
 * not --json, normal verbosity, progress every 10 s). Call once at start-up. */
void ofs_out_install(void);
/* Set the options (copied; interval <= 0 means 10 s) and reinstall the sink with them. */
void ofs_out_setup(const struct ofs_out_opts *o);
const struct ofs_out_opts *ofs_out_opts(void);
int ofs_out_is_json(void);

/* Result text on stdout (suppressed in --json mode). */
void ofs_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print obj as one JSON line on stdout; steals the reference. No-op unless --json. */
void ofs_emit(json_t *obj);
/* Final outcome of a failed command: the message on stderr, and in --json mode
 * {"type":"error","code":EXIT,"error":NAME,"message":MSG} on stdout. */
void ofs_emit_error(int code, const char *msg);

#endif
