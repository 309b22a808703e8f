/* histogram.h: quantiles of Prometheus histograms, following PromQL's histogram_quantile rules.
 *
 * `watch` polls a service's cumulative histogram and wants the quantile of
 * the requests completed *between two polls*: hist_delta() turns two
 * snapshots into per-bucket increases (a counter that went down was reset:
 * its increase is its new value, as PromQL's increase() takes it), and
 * hist_quantile() reads a quantile the way histogram_quantile() does:
 * - q < 0 gives -Inf, q > 1 gives +Inf, q NaN gives NaN;
 * - the highest bucket must be +Inf, else NaN; fewer than two buckets: NaN;
 * - buckets with the same bound are merged; counts that go down with the
 *   bound are raised to the running maximum (monotonic, as PromQL fixes them);
 * - no observations (the +Inf bucket is 0): NaN. That is the "count did not
 *   move" case that watch treats as no data;
 * - the quantile's rank falls in a bucket: linear interpolation inside it,
 *   the lower bound of the lowest bucket being 0 when its upper bound is
 *   positive; a lowest bucket with a bound <= 0 returns that bound; a rank in
 *   the +Inf bucket returns the second-highest bound.
 * Pure functions: no allocation beyond the caller's arrays.
 */
#ifndef STALLTRAP_HISTOGRAM_H
#define STALLTRAP_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>

#define HIST_MAX_BUCKETS 1024u

struct hist_bucket {
	double le;      /* upper bound (inclusive) */
	double count;   /* cumulative count of observations <= le */
};

/* Quantile q of n buckets (any order; b is not modified). */
double hist_quantile(double q, const struct hist_bucket *b, size_t n);

/* Per-bucket increase from prev to cur, into out (room for ncur). A bound
 * missing from prev counts from 0. *reset is set when some count went down
 * (the service restarted). Returns the number of buckets in out (ncur), or
 * -EINVAL when ncur exceeds HIST_MAX_BUCKETS. */
int hist_delta(const struct hist_bucket *prev, size_t nprev, const struct hist_bucket *cur,
	       size_t ncur, struct hist_bucket *out, bool *reset);

/* Total observations in a bucket set: the +Inf bucket's count (else the
 * largest count). 0 for an empty set. */
double hist_count(const struct hist_bucket *b, size_t n);

#endif /* STALLTRAP_HISTOGRAM_H */
