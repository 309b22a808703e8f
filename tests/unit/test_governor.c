/* test_governor.c: the overhead governor's decisions (src/pipeline/governor.c):
 * it raises the block threshold while the BPF cost is over budget, up to its
 * cap, lowers it back after calm seconds, and reports what it did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/governor.h"

#define S 1000000000ull
#define MS 1000000ull

/* Feeds one second at load (a share of a core); returns whether it changed. */
static bool second(struct governor *g, uint64_t *t, uint64_t *cost, double load)
{
	*t += S;
	*cost += (uint64_t)(load * S);
	return governor_step(g, *t, *cost);
}

static void test_raise_and_lower(void **state)
{
	struct governor g;
	uint64_t t = 100 * S, cost = 0;

	(void)state;
	governor_init(&g, 0.01, 1 * MS, t);
	/* under budget: nothing happens */
	assert_false(second(&g, &t, &cost, 0.009));
	assert_int_equal(g.floor_ns, 0);
	/* over: doubled from --min-block each second */
	assert_true(second(&g, &t, &cost, 0.03));
	assert_int_equal(g.floor_ns, 2 * MS);
	assert_int_equal(g.first_raise_at, t);
	assert_true(second(&g, &t, &cost, 0.02));
	assert_int_equal(g.floor_ns, 4 * MS);
	/* between a quarter of the budget and the budget: it holds */
	assert_false(second(&g, &t, &cost, 0.005));
	assert_false(second(&g, &t, &cost, 0.005));
	assert_false(second(&g, &t, &cost, 0.005));
	assert_int_equal(g.floor_ns, 4 * MS);
	/* calm for GOV_CALM_STEPS seconds: halved, then off at --min-block */
	assert_false(second(&g, &t, &cost, 0.001));
	assert_false(second(&g, &t, &cost, 0.001));
	assert_true(second(&g, &t, &cost, 0.001));
	assert_int_equal(g.floor_ns, 2 * MS);
	assert_false(second(&g, &t, &cost, 0.001));
	assert_false(second(&g, &t, &cost, 0.001));
	assert_true(second(&g, &t, &cost, 0.001));
	assert_int_equal(g.floor_ns, 0);
	governor_finish(&g, t);
	assert_int_equal(g.raises, 2);
	assert_int_equal(g.lowers, 2);
	assert_int_equal(g.max_floor_ns, 4 * MS);
	/* engaged from the first raise (second 2) to the last lower (second 12) */
	assert_int_equal(g.engaged_ns, 10 * S);
	assert_true(g.peak_load > 0.029 && g.peak_load < 0.031);
}

static void test_cap_interval_off(void **state)
{
	struct governor g;
	uint64_t t = 0, cost = 0;

	(void)state;
	governor_init(&g, 0.01, 1 * MS, t);
	for (int i = 0; i < 20; i++)
		second(&g, &t, &cost, 0.5);
	assert_int_equal(g.floor_ns, GOV_MAX_FLOOR_NS);
	/* no decision more often than once a second */
	cost += S;
	assert_false(governor_step(&g, t + S / 2, cost));
	/* budget 0: off, whatever the load */
	governor_init(&g, 0, 1 * MS, 0);
	t = cost = 0;
	assert_false(second(&g, &t, &cost, 0.9));
	assert_int_equal(g.floor_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raise_and_lower),
		cmocka_unit_test(test_cap_interval_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
