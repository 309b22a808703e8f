/* retry.c: the delivery retry policy: classify an attempt, compute the backoff. */
#include "deliver/retry.h"

enum retry_outcome retry_classify(long status)
{
	if (status >= 200 && status < 300)
		return RO_DONE;
	if (status == 0 || status == 408 || status == 429 || status >= 500)
		return RO_RETRY;
	return RO_PARK;
}

uint64_t retry_wait_ns(unsigned attempt, uint64_t min_ns, uint64_t max_ns, uint32_t rnd,
		       uint64_t retry_after_ns, uint64_t max_honour_ns)
{
	uint64_t d = min_ns ? min_ns : 1;

	if (retry_after_ns)
		return retry_after_ns < max_honour_ns ? retry_after_ns : max_honour_ns;
	for (unsigned i = 1; i < attempt && d < max_ns; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	if (d > max_ns)
		d = max_ns;
	/* equal jitter: never less than half the backoff, so a fleet that lost
	 * its sink at the same moment does not come back in lockstep */
	return d / 2 + (uint64_t)((unsigned __int128)(d - d / 2) * rnd / UINT32_MAX);
}
