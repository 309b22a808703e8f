/* timeutil.h: small time helpers shared by the deadline waits. */
#ifndef STALLTRAP_TIMEUTIL_H
#define STALLTRAP_TIMEUTIL_H

#include <time.h>

/* CLOCK_REALTIME plus ms, the absolute form pthread_cond_timedwait wants. */
static inline void deadline_after_ms(struct timespec *until, int ms)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_sec += ms / 1000;
	until->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

#endif /* STALLTRAP_TIMEUTIL_H */
