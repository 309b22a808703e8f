/* histogram.c: PromQL-compatible histogram quantiles over bucket deltas. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "watch/histogram.h"

static int by_bound(const void *a, const void *b)
{
	double x = ((const struct hist_bucket *)a)->le, y = ((const struct hist_bucket *)b)->le;

	return x < y ? -1 : x > y;
}

double hist_quantile(double q, const struct hist_bucket *in, size_t n)
{
	struct hist_bucket b[HIST_MAX_BUCKETS];
	size_t m = 0, i, r;
	double rank, total, lo, hi, cnt, running = 0;

	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (n > HIST_MAX_BUCKETS)
		return NAN;
	for (i = 0; i < n; i++)
		if (isnan(in[i].le) || isnan(in[i].count))
			return NAN;
	memcpy(b, in, n * sizeof(*b));
	qsort(b, n, sizeof(*b), by_bound);
	/* merge equal bounds (the same bucket exposed twice sums, as sum by (le) would) */
	for (i = 0; i < n; i++) {
		if (m && b[m - 1].le == b[i].le)
			b[m - 1].count += b[i].count;
		else
			b[m++] = b[i];
	}
	if (m < 2 || !isinf(b[m - 1].le) || b[m - 1].le < 0)
		return NAN;
	/* cumulative counts never go down with the bound: raise dips to the
	 * running maximum (deltas of independently reset buckets can dip) */
	for (i = 0; i < m; i++) {
		if (b[i].count < running)
			b[i].count = running;
		running = b[i].count;
	}
	total = b[m - 1].count;
	if (total <= 0)
		return NAN;
	rank = q * total;
	for (r = 0; r < m - 1 && b[r].count < rank; r++)
		;
	if (r == m - 1)
		return b[m - 2].le;
	if (r == 0 && b[0].le <= 0)
		return b[0].le;
	lo = 0;
	hi = b[r].le;
	cnt = b[r].count;
	if (r > 0) {
		lo = b[r - 1].le;
		cnt -= b[r - 1].count;
		rank -= b[r - 1].count;
	}
	return lo + (hi - lo) * (rank / cnt);
}

int hist_delta(const struct hist_bucket *prev, size_t nprev, const struct hist_bucket *cur,
	       size_t ncur, struct hist_bucket *out, bool *reset)
{
	*reset = false;
	if (ncur > HIST_MAX_BUCKETS)
		return -EINVAL;
	for (size_t i = 0; i < ncur; i++) {
		double before = 0;

		for (size_t j = 0; j < nprev; j++) {
			if (prev[j].le == cur[i].le) {
				before = prev[j].count;
				break;
			}
		}
		out[i].le = cur[i].le;
		if (cur[i].count >= before) {
			out[i].count = cur[i].count - before;
		} else {
			out[i].count = cur[i].count;
			*reset = true;
		}
	}
	return (int)ncur;
}

double hist_count(const struct hist_bucket *b, size_t n)
{
	double best = 0;

	for (size_t i = 0; i < n; i++) {
		if (isinf(b[i].le) && b[i].le > 0)
			return b[i].count;
		if (b[i].count > best)
			best = b[i].count;
	}
	return best;
}
