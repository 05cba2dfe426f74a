/* One global upload rate shared by every transfer of a run, optionally varying by time
 * window (work hours at a lower rate, as MARS offers). Thread-safe. */
#ifndef OFS_RATELIMIT_H
#define OFS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

#define OFS_RATELIMIT_RULES_MAX 32

struct ofs_ratelimit;

/* New limiter with no rule: unlimited until rules are added. */
struct ofs_ratelimit *ofs_ratelimit_new(void);
/* NULL is a no-op. */
void ofs_ratelimit_free(struct ofs_ratelimit *l);

/* Add one --limit-upload value:
 *   RATE                          the rate outside every window (the last one given wins)
 *   [DAYS@]HH:MM-HH:MM=RATE       a window in local time; DAYS is a comma list of days or
 *                                 day ranges (mon…sun, e.g. "mon-fri" or "sat,sun"), all
 *                                 days when absent; a window ending before it starts runs
 *                                 past midnight (its day is the day it starts); 24:00 is
 *                                 the end of the day
 * RATE is bytes per second with an optional K/M/G suffix (powers of 1024) and an optional
 * "/s", or "unlimited". Windows are tried in the order given; the first that holds the
 * moment wins. OFS_ERR_USAGE naming the value when it does not parse. */
int ofs_ratelimit_add(struct ofs_ratelimit *l, const char *spec, struct ofs_error *err);

/* Bytes per second in force at local time *tm (0 = unlimited). */
uint64_t ofs_ratelimit_rate_at(const struct ofs_ratelimit *l, const struct tm *tm);

/* Ask to send want bytes now: returns how many may go (1..want, at most a small slice so
 * that concurrent transfers interleave), after sleeping as long as the rate in force
 * requires. Credit saved while idle is capped at one second of the rate. NULL or an
 * unlimited moment: returns want at once. */
size_t ofs_ratelimit_take(struct ofs_ratelimit *l, size_t want);

/* Take all n bytes (a caller that sends a whole object at once). */
void ofs_ratelimit_take_all(struct ofs_ratelimit *l, uint64_t n);

#endif
