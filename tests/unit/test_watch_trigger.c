/* test_watch_trigger.c: the trigger state machine, table-driven: breach spans, timeouts, no data,
 * extension, cooldown, hourly cap. Times in the tables are milliseconds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "watch/trigger.h"

#define MS 1000000ull

static void test_classify(void **state)
{
	static const struct {
		struct trigger_rule rule;
		enum trigger_obs obs;
		double value;
		enum trigger_verdict want;
	} cases[] = {
		{ { 0.2, true, 0.5, true }, TO_VALUE, 0.1, TV_OK },
		{ { 0.2, true, 0.5, true }, TO_VALUE, 0.2, TV_BREACH },      /* at the threshold */
		{ { 0.2, true, 0.5, true }, TO_VALUE, 3.0, TV_BREACH },
		{ { 0.2, true, 0.5, true }, TO_TIMEOUT, 0, TV_BREACH },     /* >= 500 ms >= 200 ms */
		{ { 1.0, true, 0.5, true }, TO_TIMEOUT, 0, TV_SKIP },       /* >= 500 ms proves nothing vs 1 s */
		{ { 50, false, 0.5, true }, TO_TIMEOUT, 0, TV_BREACH },     /* plain metric: as no data */
		{ { 50, false, 0.5, false }, TO_TIMEOUT, 0, TV_SKIP },
		{ { 0.2, true, 0.5, true }, TO_NO_DATA, NAN, TV_BREACH },   /* --on-no-data breach */
		{ { 0.2, true, 0.5, false }, TO_NO_DATA, NAN, TV_SKIP },    /* --on-no-data skip */
		{ { 0.2, true, 0.5, true }, TO_VALUE, NAN, TV_BREACH },
		{ { 0.2, true, 0.5, true }, TO_IDLE, NAN, TV_OK },          /* never moved: not a freeze */
		{ { 0.2, true, 0.5, true }, TO_DOWN, NAN, TV_OK },          /* refused: down, not frozen */
		{ { 0.2, true, 0.5, true }, TO_ERROR, NAN, TV_SKIP },
		{ { 10, false, 0.5, true }, TO_VALUE, 9.99, TV_OK },
		{ { 10, false, 0.5, true }, TO_VALUE, 10, TV_BREACH },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum trigger_verdict v = trigger_classify(&cases[i].rule, cases[i].obs, cases[i].value);

		if (v != cases[i].want)
			fail_msg("case %zu: got %d want %d", i, v, cases[i].want);
	}
}

/* One step of a scenario: a poll of source src (verdict v), a manual trigger
 * (src = -1, v ignored) or a tick (src = -2), at t ms; the action expected. */
struct step {
	int src;
	uint64_t t_ms;
	enum trigger_verdict v;
	enum trigger_what want;
	uint64_t trig_ms, end_ms;   /* checked for START/EXTEND/FINISH when non-zero */
	enum trigger_state state;   /* after the step */
};

struct scenario {
	const char *what;
	struct trigger_cfg cfg;     /* in ns */
	struct step steps[24];
	size_t nsteps;
};

#define CFG(for_ms, win_ms, max_ms, cool_ms, cap) \
	{ .for_ns = (for_ms) * MS, .before_ns = 10000 * MS, .window_ns = (win_ms) * MS, \
	  .max_window_ns = (max_ms) * MS, .cooldown_ns = (cool_ms) * MS, .max_per_hour = (cap), .nsources = 2 }
#define P(s, t, v, w, st) { s, t, v, w, 0, 0, st }
#define PX(s, t, v, w, tr, e, st) { s, t, v, w, tr, e, st }
#define TICK(t, w, st) { -2, t, 0, w, 0, 0, st }
#define TICKX(t, w, tr, e, st) { -2, t, 0, w, tr, e, st }
#define MANUAL(t, w, st) { -1, t, 0, w, 0, 0, st }

static const struct scenario scenarios[] = {
	{ "fires once consecutive breaches span --for", CFG(2000, 15000, 60000, 300000, 6), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 500, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 1500, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 2000, TV_BREACH, TA_START, 2000, 17000, TS_CAPTURING),
	}, 4 },
	{ "an ok poll ends the run", CFG(2000, 15000, 60000, 300000, 6), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 1500, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 2000, TV_OK, TA_NONE, TS_OK),
		P(0, 2500, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 4000, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 4500, TV_BREACH, TA_START, 4500, 19500, TS_CAPTURING),
	}, 6 },
	{ "skipped polls neither breach nor end the run", CFG(2000, 15000, 60000, 300000, 6), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 500, TV_SKIP, TA_NONE, TS_BREACHING),
		P(0, 1000, TV_SKIP, TA_NONE, TS_BREACHING),
		PX(0, 2000, TV_BREACH, TA_START, 2000, 17000, TS_CAPTURING),
	}, 4 },
	{ "--for 0 fires on the first breach", CFG(0, 15000, 60000, 0, 0), {
		PX(0, 700, TV_BREACH, TA_START, 700, 15700, TS_CAPTURING),
	}, 1 },
	{ "sources run independently", CFG(2000, 15000, 60000, 300000, 6), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		P(1, 1000, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 1500, TV_OK, TA_NONE, TS_BREACHING),
		P(1, 2500, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(1, 3000, TV_BREACH, TA_START, 3000, 18000, TS_CAPTURING),
	}, 5 },
	{ "a breach during capture extends it, up to max-window", CFG(1000, 5000, 8000, 0, 0), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 1000, TV_BREACH, TA_START, 1000, 6000, TS_CAPTURING),
		PX(0, 2000, TV_BREACH, TA_EXTEND, 1000, 7000, TS_CAPTURING),
		PX(0, 3000, TV_BREACH, TA_EXTEND, 1000, 8000, TS_CAPTURING),
		PX(0, 4000, TV_BREACH, TA_EXTEND, 1000, 9000, TS_CAPTURING),
		P(0, 5000, TV_BREACH, TA_NONE, TS_CAPTURING),               /* capped at 1000 + 8000 */
		TICK(8999, TA_NONE, TS_CAPTURING),
		TICKX(9000, TA_FINISH, 1000, 9000, TS_BREACHING),
	}, 8 },
	{ "a manual trigger during capture extends it", CFG(1000, 5000, 60000, 0, 0), {
		MANUAL(100, TA_START, TS_CAPTURING),
		MANUAL(3000, TA_EXTEND, TS_CAPTURING),
		TICK(7999, TA_NONE, TS_CAPTURING),
		TICKX(8000, TA_FINISH, 100, 8000, TS_OK),
	}, 4 },
	{ "cooldown refuses, once per run, then fires", CFG(1000, 2000, 2000, 5000, 0), {
		P(0, 0, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 1000, TV_BREACH, TA_START, 1000, 3000, TS_CAPTURING),
		TICKX(3000, TA_FINISH, 1000, 3000, TS_COOLDOWN),
		P(0, 3500, TV_BREACH, TA_SUPPRESSED, TS_COOLDOWN),
		P(0, 4000, TV_BREACH, TA_NONE, TS_COOLDOWN),
		MANUAL(4500, TA_SUPPRESSED, TS_COOLDOWN),
		TICK(8000, TA_NONE, TS_BREACHING),
		PX(0, 8000, TV_BREACH, TA_START, 8000, 10000, TS_CAPTURING),
	}, 8 },
	{ "a new run during cooldown is reported again", CFG(0, 1000, 1000, 5000, 0), {
		PX(0, 0, TV_BREACH, TA_START, 0, 1000, TS_CAPTURING),
		TICK(1000, TA_FINISH, TS_COOLDOWN),
		P(0, 1500, TV_BREACH, TA_SUPPRESSED, TS_COOLDOWN),
		P(0, 2000, TV_OK, TA_NONE, TS_COOLDOWN),
		P(0, 2500, TV_BREACH, TA_SUPPRESSED, TS_COOLDOWN),
	}, 5 },
	{ "hourly cap", CFG(0, 1000, 1000, 0, 2), {
		MANUAL(0, TA_START, TS_CAPTURING),
		TICK(1000, TA_FINISH, TS_OK),
		MANUAL(2000, TA_START, TS_CAPTURING),
		TICK(3000, TA_FINISH, TS_OK),
		MANUAL(4000, TA_SUPPRESSED, TS_OK),
		PX(0, 5000, TV_BREACH, TA_SUPPRESSED, 0, 0, TS_BREACHING),
		P(0, 6000, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 3600000, TV_BREACH, TA_START, 3600000, 3601000, TS_CAPTURING),
	}, 8 },
	{ "timeouts classified as breaches fire like values", CFG(2000, 15000, 60000, 0, 0), {
		P(0, 500, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 1000, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 1500, TV_BREACH, TA_NONE, TS_BREACHING),
		P(0, 2000, TV_BREACH, TA_NONE, TS_BREACHING),
		PX(0, 2500, TV_BREACH, TA_START, 2500, 17500, TS_CAPTURING),
	}, 5 },
};

static void test_scenarios(void **state)
{
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct trigger *t = NULL;

		assert_int_equal(trigger_new(&t, &sc->cfg), 0);
		for (size_t i = 0; i < sc->nsteps; i++) {
			const struct step *st = &sc->steps[i];
			struct trigger_action act;
			uint64_t now = st->t_ms * MS;

			if (st->src == -2)
				trigger_tick(t, now, &act);
			else if (st->src == -1)
				trigger_fire(t, now, &act);
			else
				trigger_poll(t, (unsigned)st->src, now, st->v, TO_VALUE, 1.0, &act);
			if (act.what != st->want)
				fail_msg("%s: step %zu: action %d, want %d", sc->what, i, act.what, st->want);
			if (st->trig_ms && act.trigger_ns != st->trig_ms * MS)
				fail_msg("%s: step %zu: trigger at %llu ms", sc->what, i,
					 (unsigned long long)(act.trigger_ns / MS));
			if (st->end_ms && act.end_ns != st->end_ms * MS)
				fail_msg("%s: step %zu: end at %llu ms, want %llu", sc->what, i,
					 (unsigned long long)(act.end_ns / MS), (unsigned long long)st->end_ms);
			if (trigger_state(t, now) != st->state)
				fail_msg("%s: step %zu: state %s, want %s", sc->what, i,
					 trigger_state_name(trigger_state(t, now)), trigger_state_name(st->state));
		}
		trigger_free(t);
	}
}

/* The samples of the run that fired come with the start, oldest first, the last 32 at most. */
static void test_samples(void **state)
{
	struct trigger_cfg cfg = { .for_ns = 40000 * MS, .window_ns = 1000 * MS, .max_window_ns = 1000 * MS,
				   .nsources = 1 };
	struct trigger *t = NULL;
	struct trigger_action act;

	assert_int_equal(trigger_new(&t, &cfg), 0);
	for (uint64_t i = 0; i <= 40; i++) {
		trigger_poll(t, 0, i * 1000 * MS, TV_BREACH, i % 2 ? TO_TIMEOUT : TO_VALUE, (double)i, &act);
		if (i < 40)
			assert_int_equal(act.what, TA_NONE);
	}
	assert_int_equal(act.what, TA_START);
	assert_int_equal(act.nsamples, TRIGGER_MAX_SAMPLES);
	assert_true(act.samples[0].value == 40 - TRIGGER_MAX_SAMPLES + 1);
	assert_true(act.samples[TRIGGER_MAX_SAMPLES - 1].value == 40);
	assert_int_equal(act.samples[TRIGGER_MAX_SAMPLES - 2].obs, TO_TIMEOUT);
	trigger_free(t);

	{
		struct trigger_cfg bad = { .nsources = TRIGGER_MAX_SOURCES + 1 };

		assert_int_equal(trigger_new(&t, &bad), -22);
	}
}

/* Events (PSI) fire at once, join the source's run, and are refused once per run. */
static void test_events(void **state)
{
	struct trigger_cfg cfg = { .for_ns = 5000 * MS, .window_ns = 1000 * MS, .max_window_ns = 3000 * MS,
				   .cooldown_ns = 10000 * MS, .nsources = 1 };
	struct trigger *t = NULL;
	struct trigger_action act;

	assert_int_equal(trigger_new(&t, &cfg), 0);
	trigger_event(t, 0, 100 * MS, 0.8, &act);
	assert_int_equal(act.what, TA_START);                  /* no --for wait */
	assert_int_equal(act.nsamples, 1);
	assert_true(act.samples[0].value == 0.8);
	trigger_event(t, 0, 600 * MS, 0.9, &act);
	assert_int_equal(act.what, TA_EXTEND);
	trigger_tick(t, 1600 * MS, &act);
	assert_int_equal(act.what, TA_FINISH);
	trigger_event(t, 0, 2000 * MS, 0.9, &act);
	assert_int_equal(act.what, TA_SUPPRESSED);
	trigger_event(t, 0, 2500 * MS, 0.9, &act);
	assert_int_equal(act.what, TA_NONE);                   /* reported once */
	trigger_poll(t, 0, 3000 * MS, TV_OK, TO_VALUE, 0.1, &act);
	trigger_event(t, 0, 3500 * MS, 0.9, &act);
	assert_int_equal(act.what, TA_SUPPRESSED);             /* a new run */
	trigger_event(t, 1, 3600 * MS, 0.9, &act);
	assert_int_equal(act.what, TA_NONE);                   /* no such source */
	trigger_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
