/* offseed-dc's log sink for the library (tools/dc/log.c). Named dclog.h, not log.h: in
 * tools/dc a "log.h" would shadow lib/log.h for every file of this folder. */
#ifndef OFS_DC_DCLOG_H
#define OFS_DC_DCLOG_H

/* Make the library's diagnostics (lib/log.h) print as they always have in offseed-dc:
 * "offseed: MESSAGE" on stderr ("offseed: warning: …" for warnings), errors, warnings
 * and info, not verbose; no progress display. Call once at the top of main(). */
void dc_log_install(void);

#endif
