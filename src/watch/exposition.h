/* exposition.h: a parser of the Prometheus text exposition format, and metric selectors over it.
 *
 * `watch --metrics-url` polls a service's own /metrics. This module turns the
 * text into samples (name, labels, value) and reads one metric out of them:
 * a gauge (or counter, or untyped), a summary through its quantile series,
 * or a histogram as cumulative buckets (quantiles are histogram.h's job).
 *
 * Invariants:
 * - a parsed exposition owns a copy of the text; sample names and label
 *   strings point into it and live until expo_free().
 * - label values are unescaped (\\, \", \n); names are validated against the
 *   format's character sets.
 * - input is bounded: at most EXPO_MAX_BYTES of text, EXPO_MAX_SAMPLES
 *   samples and EXPO_MAX_LABELS labels per sample; past a cap the parse
 *   fails with -E2BIG.
 * - any malformed line fails the whole parse (-EINVAL) with a one-line
 *   reason naming the line: a service whose exposition cannot be read is a
 *   configuration problem to report, not data to guess at.
 */
#ifndef STALLTRAP_EXPOSITION_H
#define STALLTRAP_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

#define EXPO_MAX_BYTES   (16u << 20)
#define EXPO_MAX_SAMPLES (1u << 20)
#define EXPO_MAX_LABELS  64u
#define EXPO_MAX_FAMILIES (1u << 16)
#define EXPO_SEL_MAX_LABELS 16u
#define EXPO_MAX_BUCKETS 1024u     /* distinct `le` bounds of one histogram */

enum expo_type {
	EXPO_UNTYPED = 0,
	EXPO_COUNTER,
	EXPO_GAUGE,
	EXPO_HISTOGRAM,
	EXPO_SUMMARY,
};

struct expo_label {
	const char *name;
	const char *value;
};

struct expo_sample {
	const char *name;
	const struct expo_label *labels;
	size_t nlabels;
	double value;
};

/* NAME or NAME{label="value",...}: what --metric names. Strings are owned. */
struct expo_sel {
	char *name;
	struct { char *name, *value; } labels[EXPO_SEL_MAX_LABELS];
	size_t nlabels;
};

struct expo;

/* Parses text (len bytes, need not be NUL-terminated). Returns 0 and *out,
 * or -EINVAL (malformed, reason and line in err), -E2BIG, -ENOMEM. */
int expo_parse(const char *text, size_t len, struct expo **out, char *err, size_t errlen);
/* The same, but sample lines that cannot belong to family (see
 * expo_sel.name) are skipped unread, unchecked: for polls after a full
 * parse has accepted the exposition once, where the other families' lines
 * are most of the work. Comment lines are all parsed. */
int expo_parse_only(const char *text, size_t len, const char *family, struct expo **out, char *err,
		    size_t errlen);
void expo_free(struct expo *e);
size_t expo_count(const struct expo *e);
const struct expo_sample *expo_sample(const struct expo *e, size_t i);
/* The family's `# TYPE`, EXPO_UNTYPED when not declared. */
enum expo_type expo_declared_type(const struct expo *e, const char *family);

/* Parses a --metric selector. Returns 0 or -EINVAL with a reason in err.
 * expo_sel_release() frees its strings (safe on a zeroed selector). */
int expo_sel_parse(const char *s, struct expo_sel *sel, char *err, size_t errlen);
void expo_sel_release(struct expo_sel *sel);
/* Whether sample s has name `name` and every label of sel (more labels are
 * allowed: they are summed over, or maxed over, by the readers below). */
bool expo_sel_match(const struct expo_sel *sel, const char *name, const struct expo_sample *s);
/* Whether s[0..len) is a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool expo_label_name_valid(const char *s, size_t len);

/* What a metric is in this exposition: its declared type, else inferred
 * (NAME_bucket series with `le` -> histogram; NAME with `quantile` ->
 * summary; NAME -> gauge). -ENOENT when nothing matches the selector. */
int expo_metric_type(const struct expo *e, const struct expo_sel *sel, enum expo_type *type);

/* A gauge/counter/untyped value: the largest of the matching series (the
 * worst, for latencies). Returns 0, or -ENOENT. */
int expo_read_value(const struct expo *e, const struct expo_sel *sel, double *out);
/* A summary's quantile q: the largest of the matching series' value for
 * that quantile, and the sum of their _count (NAN when absent).
 * Returns 0, or -ENOENT (no series for that quantile). */
int expo_read_summary(const struct expo *e, const struct expo_sel *sel, double q, double *value,
		      double *count);
/* A histogram: the matching NAME_bucket series summed by `le` (as PromQL's
 * sum by (le)), sorted by bound, into les/counts (room for max). Returns the
 * number of buckets, -ENOENT (no bucket), -EINVAL (a bad `le`) or -E2BIG. */
int expo_read_histogram(const struct expo *e, const struct expo_sel *sel, double *les,
			double *counts, size_t max);

const char *expo_type_name(enum expo_type t);

#endif /* STALLTRAP_EXPOSITION_H */
