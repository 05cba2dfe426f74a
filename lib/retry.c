/* Back-off and Retry-After for the HTTP clients: the delay formula and a strict reader of
 * the header (seconds or HTTP-date), so the Azure client and the import-service client
 * cannot drift apart. Pure functions: the caller supplies the time and the randomness. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "retry.h"

double
ofs_retry_backoff(double base, double max, int attempt, uint32_t rnd)
{
	double d = base;

	for (int k = 1; k < attempt && d > 0 && d < max; k++)
		d *= 2;
	if (d > max)
		d = max;
	return d * (0.5 + 0.5 * (double)rnd / (double)UINT32_MAX);
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wdays_long[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
};
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Reading cursor over [p, end). Every reader advances only on success. */
struct rd {
	const char *p, *end;
};

static int
rd_lit(struct rd *r, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, s, n) != 0)
		return 0;
	r->p += n;
	return 1;
}

/* One of names[0..n) (exact case); its index or -1. The longest match wins. */
static int
rd_name(struct rd *r, const char *const *names, int n)
{
	int best = -1;
	size_t bestlen = 0;

	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if ((size_t)(r->end - r->p) >= l && memcmp(r->p, names[i], l) == 0 && l > bestlen) {
			best = i;
			bestlen = l;
		}
	}
	r->p += bestlen;
	return best;
}

/* Exactly n digits (n ≤ 4); a leading space stands for a zero when space_ok (asctime's
 * day of the month). */
static int
rd_num(struct rd *r, int n, int space_ok, int *v)
{
	int x = 0;

	if (r->end - r->p < n)
		return 0;
	for (int i = 0; i < n; i++) {
		char c = r->p[i];

		if (i == 0 && space_ok && c == ' ' && n > 1)
			continue;
		if (c < '0' || c > '9')
			return 0;
		x = x * 10 + (c - '0');
	}
	r->p += n;
	*v = x;
	return 1;
}

/* "HH:MM:SS" */
static int
rd_clock(struct rd *r, struct tm *tm)
{
	return rd_num(r, 2, 0, &tm->tm_hour) && rd_lit(r, ":") && rd_num(r, 2, 0, &tm->tm_min) &&
	    rd_lit(r, ":") && rd_num(r, 2, 0, &tm->tm_sec);
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The three forms RFC 9110 §5.6.7 makes recipients accept, always GMT; 0 and *t, or -1.
 * The weekday must be a weekday's name but is not checked against the date. */
static int
http_date(const char *p, const char *end, time_t now, time_t *t)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct rd r = { p, end };
	struct tm tm;
	int year, mon = -1, ok;

	memset(&tm, 0, sizeof(tm));
	if (rd_name(&r, wdays_long, 7) >= 0 && rd_lit(&r, ", ")) {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		struct tm nowtm;
		int yy, cur;

		ok = rd_num(&r, 2, 0, &tm.tm_mday) && rd_lit(&r, "-") &&
		    (mon = rd_name(&r, months, 12)) >= 0 && rd_lit(&r, "-") &&
		    rd_num(&r, 2, 0, &yy) && rd_lit(&r, " ") && rd_clock(&r, &tm) &&
		    rd_lit(&r, " GMT");
		if (!ok || gmtime_r(&now, &nowtm) == NULL)
			return -1;
		/* two digits: the year of that ending no more than 50 years ahead */
		cur = nowtm.tm_year + 1900;
		year = cur - cur % 100 + yy;
		if (year > cur + 50)
			year -= 100;
	} else {
		r.p = p;
		if (rd_name(&r, wdays, 7) < 0)
			return -1;
		if (rd_lit(&r, ", ")) {
			/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
			ok = rd_num(&r, 2, 0, &tm.tm_mday) && rd_lit(&r, " ") &&
			    (mon = rd_name(&r, months, 12)) >= 0 && rd_lit(&r, " ") &&
			    rd_num(&r, 4, 0, &year) && rd_lit(&r, " ") && rd_clock(&r, &tm) &&
			    rd_lit(&r, " GMT");
		} else {
			/* asctime: "Sun Nov  6 08:49:37 1994" */
			ok = rd_lit(&r, " ") && (mon = rd_name(&r, months, 12)) >= 0 &&
			    rd_lit(&r, " ") && rd_num(&r, 2, 1, &tm.tm_mday) && rd_lit(&r, " ") &&
			    rd_clock(&r, &tm) && rd_lit(&r, " ") && rd_num(&r, 4, 0, &year);
		}
		if (!ok)
			return -1;
	}
	if (r.p != end || tm.tm_mday < 1 ||
	    tm.tm_mday > mdays[mon] + (mon == 1 && leap(year)) || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	*t = timegm(&tm);
	return 0;
}

double
ofs_retry_after_parse(const char *v, time_t now)
{
	const char *p, *end, *q;
	double s = 0, scale;
	time_t t;

	if (v == NULL)
		return -1;
	for (p = v; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'); end--)
		;
	if (p == end)
		return -1;
	if (*p >= '0' && *p <= '9') {
		/* delay-seconds; past the cap the digits only need to be digits */
		for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
			if (s <= OFS_RETRY_AFTER_MAX_S)
				s = s * 10 + (*q - '0');
		if (q < end && *q == '.') {
			for (q++, scale = 0.1; q < end && *q >= '0' && *q <= '9'; q++, scale /= 10)
				s += (*q - '0') * scale;
			if (q[-1] == '.')
				return -1;	/* "5." */
		}
		if (q != end)
			return -1;
		return s > OFS_RETRY_AFTER_MAX_S ? OFS_RETRY_AFTER_MAX_S : s;
	}
	if (http_date(p, end, now, &t) != 0)
		return -1;
	s = difftime(t, now);
	return s < 0 ? 0 : s > OFS_RETRY_AFTER_MAX_S ? OFS_RETRY_AFTER_MAX_S : s;
}
