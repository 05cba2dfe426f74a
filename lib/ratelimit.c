/* Global upload rate limit: a schedule of time windows and a pacing clock that every
 * transfer draws from (bytes are granted in slices, so parallel uploads share the rate). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ratelimit.h"
#include "util.h"

#define SLICE_MIN (16u << 10)	/* smallest grant when the rate is high */
#define SLICE_MAX (256u << 10)
#define SLICES_PER_S 20		/* grants of about 50 ms of the rate */

struct window {
	uint8_t days;		/* bit 0 = Sunday … bit 6 = Saturday (struct tm) */
	int from, to;		/* minutes after midnight, to may be 1440 */
	uint64_t rate;		/* 0: unlimited */
};

struct ofs_ratelimit {
	pthread_mutex_t mu;
	struct window w[OFS_RATELIMIT_RULES_MAX];
	size_t nw;
	uint64_t base;		/* outside every window; 0: unlimited */
	int has_rules;
	/* pacing: sent bytes since t0 at rate cur */
	uint64_t cur, sent;
	double t0, checked;
};

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

struct ofs_ratelimit *
ofs_ratelimit_new(void)
{
	struct ofs_ratelimit *l = ofs_xcalloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void
ofs_ratelimit_free(struct ofs_ratelimit *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static int
parse_rate(const char *s, size_t n, uint64_t *out)
{
	char buf[64];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "unlimited") == 0) {
		*out = 0;
		return 0;
	}
	if (n > 2 && strcmp(buf + n - 2, "/s") == 0)
		buf[n - 2] = '\0';
	return ofs_parse_size(buf, out) != 0 || *out == 0 ? -1 : 0;
}

static int
parse_day(const char *s, size_t n)
{
	for (int d = 0; d < 7; d++)
		if (n == 3 && strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "mon-fri,sun" → bit mask; 0 on error. */
static uint8_t
parse_days(const char *s, size_t n)
{
	uint8_t mask = 0;
	const char *end = s + n;

	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s)), *dash;
		size_t len = (size_t)((comma ? comma : end) - s);
		int a, b;

		dash = memchr(s, '-', len);
		if (dash == NULL) {
			if ((a = parse_day(s, len)) < 0)
				return 0;
			b = a;
		} else if ((a = parse_day(s, (size_t)(dash - s))) < 0 ||
		    (b = parse_day(dash + 1, len - (size_t)(dash - s) - 1)) < 0) {
			return 0;
		}
		for (int d = a;; d = (d + 1) % 7) {	/* "fri-mon" wraps over the weekend */
			mask |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		s += len + (comma ? 1 : 0);
		if (comma && s == end)
			return 0;
	}
	return mask;
}

/* "HH:MM" → minutes, 0..1440 (24:00 only as allow_end). */
static int
parse_hhmm(const char *s, size_t n, int allow_end)
{
	int h, m;

	if (n != 5 || s[2] != ':')
		return -1;
	for (size_t i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_end)))
		return -1;
	return h * 60 + m;
}

int
ofs_ratelimit_add(struct ofs_ratelimit *l, const char *spec, struct ofs_error *err)
{
	const char *eq = strchr(spec, '='), *at, *dash, *times;
	struct window w = { 0x7f, 0, 0, 0 };

	if (eq == NULL) {
		if (parse_rate(spec, strlen(spec), &l->base) != 0)
			goto bad;
		l->has_rules = 1;
		return 0;
	}
	if (l->nw == OFS_RATELIMIT_RULES_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "--limit-upload: more than %d time windows",
		    OFS_RATELIMIT_RULES_MAX);
	if (parse_rate(eq + 1, strlen(eq + 1), &w.rate) != 0)
		goto bad;
	at = memchr(spec, '@', (size_t)(eq - spec));
	times = at ? at + 1 : spec;
	if (at != NULL && (w.days = parse_days(spec, (size_t)(at - spec))) == 0)
		goto bad;
	dash = memchr(times, '-', (size_t)(eq - times));
	if (dash == NULL || (w.from = parse_hhmm(times, (size_t)(dash - times), 0)) < 0 ||
	    (w.to = parse_hhmm(dash + 1, (size_t)(eq - dash - 1), 1)) < 0 || w.from == w.to)
		goto bad;
	l->w[l->nw++] = w;
	l->has_rules = 1;
	return 0;
bad:
	return ofs_err_set(err, OFS_ERR_USAGE, "invalid --limit-upload '%s' (RATE like 20M, or "
	    "[DAYS@]HH:MM-HH:MM=RATE like mon-fri@08:00-18:00=2M)", spec);
}

uint64_t
ofs_ratelimit_rate_at(const struct ofs_ratelimit *l, const struct tm *tm)
{
	int now = tm->tm_hour * 60 + tm->tm_min, today = tm->tm_wday,
	    yesterday = (tm->tm_wday + 6) % 7;

	for (size_t i = 0; i < l->nw; i++) {
		const struct window *w = &l->w[i];

		if (w->from < w->to) {
			if ((w->days >> today & 1) && now >= w->from && now < w->to)
				return w->rate;
		} else if (((w->days >> today & 1) && now >= w->from) ||
		    ((w->days >> yesterday & 1) && now < w->to)) {
			return w->rate;	/* past midnight */
		}
	}
	return l->base;
}

static uint64_t
rate_now(struct ofs_ratelimit *l, double mono)
{
	struct tm tm;
	time_t t;

	if (l->nw == 0)
		return l->base;
	if (mono - l->checked < 1.0 && l->checked != 0)
		return l->cur;
	l->checked = mono;
	t = time(NULL);
	localtime_r(&t, &tm);
	return ofs_ratelimit_rate_at(l, &tm);
}

size_t
ofs_ratelimit_take(struct ofs_ratelimit *l, size_t want)
{
	double now, due;
	uint64_t rate, slice;

	if (l == NULL || !l->has_rules || want == 0)
		return want;
	pthread_mutex_lock(&l->mu);
	now = ofs_mono();
	rate = rate_now(l, now);
	if (rate != l->cur || l->t0 == 0) {
		l->cur = rate;	/* a new window: pace from here */
		l->t0 = now;
		l->sent = 0;
	}
	if (rate == 0) {
		pthread_mutex_unlock(&l->mu);
		return want;
	}
	/* behind schedule by more than a second (idle): keep at most one second of credit */
	if (l->t0 + (double)l->sent / (double)rate < now - 1.0) {
		l->t0 = now - 1.0;
		l->sent = 0;
	}
	slice = rate / SLICES_PER_S;
	if (slice < SLICE_MIN)
		slice = SLICE_MIN;
	if (slice > SLICE_MAX)
		slice = SLICE_MAX;
	if (want > slice)
		want = (size_t)slice;
	l->sent += want;
	due = l->t0 + (double)l->sent / (double)rate;
	pthread_mutex_unlock(&l->mu);
	if (due > now) {
		double d = due - now;
		struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return want;
}

void
ofs_ratelimit_take_all(struct ofs_ratelimit *l, uint64_t n)
{
	while (n > 0)
		n -= ofs_ratelimit_take(l, n > SIZE_MAX ? SIZE_MAX : (size_t)n);
}
