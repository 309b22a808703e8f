/* retry.h: the delivery retry policy (Alloy's): what to do after one attempt, and how long to wait.
 *
 * Pure: no clock, no I/O, no randomness of its own (the caller passes it).
 */
#ifndef STALLTRAP_DELIVER_RETRY_H
#define STALLTRAP_DELIVER_RETRY_H

#include <stdint.h>

enum retry_outcome {
	RO_DONE = 0,   /* 2xx: delivered */
	RO_RETRY,      /* 408, 429, 5xx, or no answer (refused, reset, timeout): try again later */
	RO_PARK,       /* any other status: the server said no; retrying cannot help */
};

/* status: the HTTP status, or 0 when there was no answer (transport error). */
enum retry_outcome retry_classify(long status);

/* The wait before attempt number attempt+1 after attempt (1-based) failed:
 * min * 2^(attempt-1), capped at max, of which the upper half is jitter
 * (rnd is a uniform random 32-bit number): [d/2, d]. A Retry-After the
 * server gave (retry_after_ns > 0) is honoured as it is, up to max_honour_ns. */
uint64_t retry_wait_ns(unsigned attempt, uint64_t min_ns, uint64_t max_ns, uint32_t rnd,
		       uint64_t retry_after_ns, uint64_t max_honour_ns);

#endif /* STALLTRAP_DELIVER_RETRY_H */
