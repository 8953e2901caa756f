/*
 * parse.c — the small grammars the daemon and shlogctl share: times
 * (Unix seconds, RFC 3339 dates with or without a zone, times relative
 * to now), sizes with a k/M/G/T suffix, plain decimal numbers, sizes for
 * people, and the key of a message.  Each is public (shlog.h, "text")
 * so that shlogfs, which links the API alone, and shlogctl use the same
 * code.  Everything here is a pure function of its input (and, for a
 * relative time, of the clock); nothing is trusted, nothing overflows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shlog.h"

#define NS_PER_SEC 1000000000LL
/* Seconds an int64_t of ns can hold either side of the epoch (1677..2262). */
#define SEC_MAX (INT64_MAX / NS_PER_SEC - 1)

/* ================================================================ */
/* Digits                                                            */
/* ================================================================ */

/* Is @c an ASCII digit (the C locale's isdigit, without its table)? */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read a run of digits at *s into @out (no overflow: -ERANGE); advance *s. */
static int digits_u64(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

/* Read exactly @n digits at *s into @out; advance *s. */
static int digits_fixed(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*s)[i]))
			return -EINVAL;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

/* An optional fraction ".ddd" at *s as ns (digits past the ninth ignored). */
static int64_t fraction(const char **s)
{
	const char *p = *s;
	int64_t v = 0, scale = NS_PER_SEC;

	if (*p != '.')
		return 0;
	for (p++; is_digit(*p); p++) {
		scale /= 10;
		v += (*p - '0') * scale;
	}
	*s = p;
	return v;
}

/* Decimal uint64: digits only, no sign, no blank, no overflow. */
int shlog_u64_parse(const char *s, uint64_t *out)
{
	uint64_t v;

	if (!s || digits_u64(&s, &v) < 0 || *s)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ================================================================ */
/* Times                                                             */
/* ================================================================ */

/* "-N[smhd]": N units before now. */
static int time_relative(const char *s, int64_t *ns)
{
	static const struct { char c; int64_t sec; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	struct timespec now;
	uint64_t n;
	int rc;

	s++;                             /* the '-' */
	if ((rc = digits_u64(&s, &n)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s[0] != units[i].c || s[1])
			continue;
		if (n > (uint64_t)(SEC_MAX / units[i].sec))
			return -ERANGE;
		clock_gettime(CLOCK_REALTIME, &now);
		*ns = ((int64_t)now.tv_sec - (int64_t)n * units[i].sec) * NS_PER_SEC + now.tv_nsec;
		return 0;
	}
	return -EINVAL;
}

/* "SEC[.frac]": Unix seconds. */
static int time_unix(const char *s, int64_t *ns)
{
	uint64_t sec;
	int64_t frac;
	int rc;

	if ((rc = digits_u64(&s, &sec)) < 0)
		return rc;
	frac = fraction(&s);
	if (*s)
		return -EINVAL;
	if (sec > (uint64_t)SEC_MAX)
		return -ERANGE;
	*ns = (int64_t)sec * NS_PER_SEC + frac;
	return 0;
}

/* The broken-down fields of a date and time, and its zone offset. */
struct civil {
	int y, mo, d, h, mi, sec;
	int64_t frac;     /* ns */
	int off;          /* seconds east of UTC */
};

/* "YYYY-MM-DD" at *s. */
static int civil_date(const char **s, struct civil *c)
{
	if (digits_fixed(s, 4, &c->y) || *(*s)++ != '-' || digits_fixed(s, 2, &c->mo) ||
	    *(*s)++ != '-' || digits_fixed(s, 2, &c->d))
		return -EINVAL;
	return c->mo < 1 || c->mo > 12 || c->d < 1 || c->d > 31 ? -EINVAL : 0;
}

/* "HH:MM[:SS[.frac]]" at *s (after the 'T'). */
static int civil_clock(const char **s, struct civil *c)
{
	if (digits_fixed(s, 2, &c->h) || *(*s)++ != ':' || digits_fixed(s, 2, &c->mi))
		return -EINVAL;
	if (**s == ':') {
		(*s)++;
		if (digits_fixed(s, 2, &c->sec))
			return -EINVAL;
		c->frac = fraction(s);
	}
	return c->h > 23 || c->mi > 59 || c->sec > 60 ? -EINVAL : 0;
}

/* "" (UTC), "Z", "z" or "+HH:MM"/"-HH:MM" at *s, which must then end. */
static int civil_zone(const char *s, struct civil *c)
{
	int oh, om, sign;

	if (*s == 'Z' || *s == 'z')
		return s[1] ? -EINVAL : 0;
	if (*s == '\0')
		return 0;
	if (*s != '+' && *s != '-')
		return -EINVAL;
	sign = *s++ == '-' ? -1 : 1;
	if (digits_fixed(&s, 2, &oh) || *s++ != ':' || digits_fixed(&s, 2, &om) || *s || oh > 23 ||
	    om > 59)
		return -EINVAL;
	c->off = sign * (oh * 3600 + om * 60);
	return 0;
}

/* "YYYY-MM-DD[(T|t| )HH:MM[:SS[.frac]]][zone]". */
static int time_civil(const char *s, int64_t *ns)
{
	struct civil c = { 0 };
	struct tm tm = { 0 };
	int64_t sec;

	if (civil_date(&s, &c))
		return -EINVAL;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (civil_clock(&s, &c))
			return -EINVAL;
	}
	if (civil_zone(s, &c))
		return -EINVAL;
	tm.tm_year = c.y - 1900;
	tm.tm_mon = c.mo - 1;
	tm.tm_mday = c.d;
	tm.tm_hour = c.h;
	tm.tm_min = c.mi;
	tm.tm_sec = c.sec;
	sec = (int64_t)timegm(&tm) - c.off;
	if (sec > SEC_MAX || sec < -SEC_MAX)
		return -ERANGE;
	*ns = sec * NS_PER_SEC + c.frac;
	return 0;
}

/* Is @s a date: four digits and a '-'? */
static int looks_civil(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!is_digit(s[i]))
			return 0;
	return s[4] == '-';
}

/* A time in any of the forms shlog.h lists, as ns since the epoch. */
int shlog_time_parse(const char *s, int64_t *ns)
{
	if (!s || !ns)
		return -EINVAL;
	if (s[0] == '-')
		return time_relative(s, ns);
	if (looks_civil(s))
		return time_civil(s, ns);
	return time_unix(s, ns);
}

/* RFC 3339 in UTC with nanoseconds: 2026-11-22T01:02:03.000000000Z. */
void shlog_time_format(int64_t ns, char *out, size_t cap)
{
	int64_t sec = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
	time_t t;
	struct tm tm;
	char date[32];

	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, cap, "%" PRId64, ns);
		return;
	}
	snprintf(out, cap, "%s.%09" PRId64 "Z", date, frac);
}

/* ================================================================ */
/* Sizes                                                             */
/* ================================================================ */

/* Digits and an optional k/M/G/T (powers of 1024). */
int shlog_size_parse(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	const char *u;
	uint64_t v;
	int rc, shift = 0;

	if (!s)
		return -EINVAL;
	if ((rc = digits_u64(&s, &v)) < 0)
		return rc;
	if (*s) {
		char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (!(u = strchr(units, c)) || s[1])
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
	}
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* "12.3 KiB" (IEC) or "12.3k" (short); below 1024 the plain number. */
void shlog_size_format(uint64_t bytes, enum shlog_size_style style, char *out, size_t cap)
{
	static const char *const iec[] = { "KiB", "MiB", "GiB", "TiB" };
	static const char *const brief[] = { "k", "M", "G", "T" };
	const char *const *unit = style == SHLOG_SIZE_SHORT ? brief : iec;
	double v = (double)bytes;
	int i = -1;

	if (bytes < 1024) {
		snprintf(out, cap, style == SHLOG_SIZE_SHORT ? "%" PRIu64 : "%" PRIu64 " B", bytes);
		return;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	snprintf(out, cap, style == SHLOG_SIZE_SHORT ? "%.1f%s" : "%.1f %s", v, unit[i]);
}

/* ================================================================ */
/* Messages                                                          */
/* ================================================================ */

/* The bytes before the first TAB, when there are 1..SHLOG_KEY_MAX of them. */
size_t shlog_msg_key(const void *msg, size_t len)
{
	const char *m = msg, *tab = memchr(m, '\t', len < SHLOG_KEY_MAX + 1 ? len : SHLOG_KEY_MAX + 1);

	return tab ? (size_t)(tab - m) : 0;
}
