/* When to try an HTTP request again: one jittered exponential back-off and one reading of
 * Retry-After (with one cap) for every client (lib/azblob.c, engine/jobclient.c). */
#ifndef OFS_RETRY_H
#define OFS_RETRY_H

#include <stdint.h>
#include <time.h>

/* The longest Retry-After honoured, in seconds; a longer one waits this long. docs/AZURE.md
 * and azblob.h promise 10 minutes. */
#define OFS_RETRY_AFTER_MAX_S 600

/* Delay before the next attempt after `attempt` (≥ 1) failed ones: base · 2^(attempt−1),
 * at most max, then jittered to a uniform point in [½, 1] of that by rnd (any 32-bit
 * random value), so clients that failed together do not retry in step. The unit is that
 * of base and max; base 0 gives 0. */
double ofs_retry_backoff(double base, double max, int attempt, uint32_t rnd);

/* A Retry-After header value (RFC 9110 §10.2.3), surrounding blanks ignored: delay-seconds
 * (digits, a decimal fraction tolerated) or an HTTP-date (IMF-fixdate "Sun, 06 Nov 1994
 * 08:49:37 GMT", the obsolete RFC 850 and asctime forms) taken relative to now. Returns
 * the seconds to wait in [0, OFS_RETRY_AFTER_MAX_S] (a date in the past is 0, a larger
 * value is cut to the cap), or -1 when v is NULL, empty, negative or neither form. */
double ofs_retry_after_parse(const char *v, time_t now);

#endif
