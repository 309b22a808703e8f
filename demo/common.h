/* common.h: what the demo's two programs (feedstore, loadgen) both need. */
#ifndef DEMO_COMMON_H
#define DEMO_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A flag's number in [lo, hi], or one line naming the flag and exit 2. */
static inline double parse_num(const char *prog, const char *flag, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: invalid %s '%s': expected a number in [%g, %g]\n", prog, flag, s, lo, hi);
		exit(2);
	}
	return v;
}

#endif /* DEMO_COMMON_H */
