/* test_watch_histogram.c: histogram_quantile rules (PromQL's documented behaviour) and bucket deltas, table-driven. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "watch/histogram.h"

#define INF INFINITY
#define B(...) { __VA_ARGS__ }

struct qcase {
	const char *what;
	double q;
	struct hist_bucket b[8];
	size_t n;
	double want;    /* NAN: expect NaN */
};

static void test_quantile_rules(void **state)
{
	static const struct qcase cases[] = {
		{ "linear interpolation inside the bucket", 0.5,
		  B({ 0.1, 10 }, { 0.2, 20 }, { INF, 20 }), 3, 0.1 },
		{ "interpolation between bounds", 0.75,
		  B({ 0.1, 10 }, { 0.2, 20 }, { INF, 20 }), 3, 0.15 },
		{ "lowest bucket: lower bound 0 when positive", 0.25,
		  B({ 0.1, 10 }, { 0.2, 20 }, { INF, 20 }), 3, 0.05 },
		{ "lowest bucket with bound <= 0 returns the bound", 0.1,
		  B({ -1, 5 }, { 1, 10 }, { INF, 10 }), 3, -1 },
		{ "lowest bucket with bound 0", 0.2,
		  B({ 0, 5 }, { 1, 10 }, { INF, 10 }), 3, 0 },
		{ "rank in +Inf bucket returns the second-highest bound", 0.99,
		  B({ 0.1, 10 }, { 0.2, 20 }, { INF, 40 }), 3, 0.2 },
		{ "q = 1 in the +Inf bucket", 1,
		  B({ 0.1, 10 }, { INF, 11 }), 2, 0.1 },
		{ "q = 1 exactly at a bound", 1,
		  B({ 0.1, 10 }, { 0.5, 11 }, { INF, 11 }), 3, 0.5 },
		{ "unsorted input is sorted", 0.75,
		  B({ INF, 20 }, { 0.2, 20 }, { 0.1, 10 }), 3, 0.15 },
		{ "equal bounds are merged", 0.5,
		  B({ 0.1, 5 }, { 0.1, 5 }, { 0.2, 20 }, { INF, 20 }), 4, 0.1 },
		{ "non-monotonic counts raised to the running maximum", 0.75,
		  B({ 0.1, 10 }, { 0.2, 8 }, { 0.4, 20 }, { INF, 20 }), 4, 0.3 },
		{ "no +Inf bucket: NaN", 0.5,
		  B({ 0.1, 10 }, { 0.2, 20 }), 2, NAN },
		{ "fewer than two buckets: NaN", 0.5,
		  B({ INF, 10 }), 1, NAN },
		{ "no observations: NaN (the count did not move)", 0.99,
		  B({ 0.1, 0 }, { 0.2, 0 }, { INF, 0 }), 3, NAN },
		{ "empty: NaN", 0.5, B({ 0, 0 }), 0, NAN },
		{ "q < 0: -Inf", -0.1, B({ 0.1, 10 }, { INF, 10 }), 2, -INF },
		{ "q > 1: +Inf", 1.5, B({ 0.1, 10 }, { INF, 10 }), 2, INF },
		{ "q NaN: NaN", NAN, B({ 0.1, 10 }, { INF, 10 }), 2, NAN },
		{ "NaN count: NaN", 0.5, B({ 0.1, NAN }, { INF, 10 }), 2, NAN },
		{ "freeze: all slow requests land high", 0.99,
		  B({ 0.005, 0 }, { 0.01, 0 }, { 0.1, 0 }, { 1, 0 }, { 2.5, 3 }, { 5, 8 }, { INF, 8 }), 7, 4.96 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = hist_quantile(cases[i].q, cases[i].b, cases[i].n);
		double want = cases[i].want;
		int ok = isnan(want) ? isnan(got) : isinf(want) ? got == want : fabs(got - want) < 1e-9;

		if (!ok)
			fail_msg("%s: got %g, want %g", cases[i].what, got, want);
	}
}

static void test_delta(void **state)
{
	struct hist_bucket prev[] = { { 0.1, 10 }, { 0.5, 15 }, { INF, 20 } };
	struct hist_bucket cur[] = { { 0.1, 12 }, { 0.5, 15 }, { INF, 25 } };
	struct hist_bucket restarted[] = { { 0.1, 1 }, { 0.5, 2 }, { INF, 2 } };
	struct hist_bucket grown[] = { { 0.1, 10 }, { 0.25, 3 }, { 0.5, 15 }, { INF, 20 } };
	struct hist_bucket out[4];
	bool reset;

	assert_int_equal(hist_delta(prev, 3, cur, 3, out, &reset), 3);
	assert_false(reset);
	assert_true(out[0].count == 2 && out[1].count == 0 && out[2].count == 5);
	assert_true(hist_count(out, 3) == 5);
	/* 2 of 5 in the first bucket, 0 more up to 0.5: p99 lands in +Inf -> 0.5 */
	assert_true(hist_quantile(0.99, out, 3) == 0.5);

	assert_int_equal(hist_delta(prev, 3, restarted, 3, out, &reset), 3);
	assert_true(reset);
	assert_true(out[0].count == 1 && out[2].count == 2);

	assert_int_equal(hist_delta(prev, 3, grown, 4, out, &reset), 4);
	assert_false(reset);
	assert_true(out[1].le == 0.25 && out[1].count == 3);

	/* count not moving: all deltas 0, quantile undefined */
	assert_int_equal(hist_delta(prev, 3, prev, 3, out, &reset), 3);
	assert_true(hist_count(out, 3) == 0);
	assert_true(isnan(hist_quantile(0.99, out, 3)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile_rules),
		cmocka_unit_test(test_delta),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
