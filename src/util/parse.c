/* parse.c: parsers for command-line and config values. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

int parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	/* strtod takes hex and exponents; durations are plain decimals */
	for (const char *p = s; p < end; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -EINVAL;
	if (!*end) {
		v *= 1e9;
	} else {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].unit) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		v *= units[i].ns;
	}
	if (v > 1e18)
		return -EINVAL;
	*out = (uint64_t)llround(v);
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	double v, mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v))
		return -EINVAL;
	for (const char *p = s; p < end; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -EINVAL;
	if (*end) {
		if (!(u = strchr(units, toupper((unsigned char)*end))))
			return -EINVAL;
		for (long i = 0; i <= u - units; i++)
			mul *= 1024;
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	v *= mul;
	if (v > 1.8e19)
		return -EINVAL;
	*out = (uint64_t)llround(v);
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_pid_list(const char *s, pid_t *out, size_t max)
{
	size_t n = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		uint64_t v;
		char tok[32];
		size_t len = strcspn(p, ",");

		if (len == 0 || len >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (parse_u64(tok, 1, 4194304, &v))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		out[n++] = (pid_t)v;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	return (int)n;
}

void format_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 60000000000ull && ns % 60000000000ull == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ns / 60000000000ull));
	else if (ns >= 1000000000ull)
		snprintf(buf, len, "%gs", ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(buf, len, "%gms", ns / 1e6);
	else
		snprintf(buf, len, "%gus", ns / 1e3);
}
