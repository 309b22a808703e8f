/* trigger.c: the trigger state machine (breach runs, incidents, cooldown, hourly cap). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "watch/trigger.h"

#define HOUR_NS 3600000000000ull

struct run {
	bool active;
	uint64_t start_ns;
	const char *suppressed;  /* the refusal already reported for this run */
	struct trigger_sample ring[TRIGGER_MAX_SAMPLES];
	size_t n, head;          /* head: next slot to write */
};

struct trigger {
	struct trigger_cfg cfg;
	struct run runs[TRIGGER_MAX_SOURCES];
	const char *manual_suppressed;
	bool capturing;
	uint64_t trig_ns, end_ns, limit_ns;
	bool cooling;
	uint64_t cooldown_until;
	uint64_t last_now;
	uint64_t starts[TRIGGER_MAX_PER_HOUR]; /* ring of incident start times */
	size_t nstarts, starts_head;
};

enum trigger_verdict trigger_classify(const struct trigger_rule *rule, enum trigger_obs obs,
				      double value)
{
	switch (obs) {
	case TO_VALUE:
		if (isnan(value))
			return rule->no_data_breach ? TV_BREACH : TV_SKIP;
		return value >= rule->threshold ? TV_BREACH : TV_OK;
	case TO_TIMEOUT:
		/* a timeout proves latency >= the timeout: a breach when that is
		 * enough to reach a latency threshold; for other metrics the value
		 * is missing, and missing values follow --on-no-data */
		if (rule->is_seconds)
			return rule->poll_timeout_s >= rule->threshold ? TV_BREACH : TV_SKIP;
		return rule->no_data_breach ? TV_BREACH : TV_SKIP;
	case TO_NO_DATA:
		return rule->no_data_breach ? TV_BREACH : TV_SKIP;
	case TO_IDLE:
	case TO_DOWN:
		return TV_OK;
	case TO_ERROR:
	default:
		return TV_SKIP;
	}
}

int trigger_new(struct trigger **out, const struct trigger_cfg *cfg)
{
	struct trigger *t;

	*out = NULL;
	if (cfg->nsources > TRIGGER_MAX_SOURCES || cfg->max_per_hour > TRIGGER_MAX_PER_HOUR)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	if (t->cfg.max_window_ns < t->cfg.window_ns)
		t->cfg.max_window_ns = t->cfg.window_ns;
	*out = t;
	return 0;
}

void trigger_free(struct trigger *t)
{
	free(t);
}

static bool hour_capped(const struct trigger *t, uint64_t now)
{
	size_t oldest;

	if (!t->cfg.max_per_hour || t->nstarts < t->cfg.max_per_hour)
		return false;
	/* the ring holds the last max_per_hour starts: capped while the oldest is within the hour */
	oldest = t->starts_head % t->cfg.max_per_hour;
	return now - t->starts[oldest] < HOUR_NS;
}

unsigned trigger_started_last_hour(const struct trigger *t, uint64_t now_ns)
{
	size_t n = t->cfg.max_per_hour ? t->nstarts : 0;
	unsigned c = 0;

	for (size_t i = 0; i < n; i++)
		if (now_ns - t->starts[i] < HOUR_NS)
			c++;
	return c;
}

static void copy_samples(const struct run *r, struct trigger_action *act)
{
	size_t first = (r->head + TRIGGER_MAX_SAMPLES - r->n) % TRIGGER_MAX_SAMPLES;

	act->nsamples = r->n;
	for (size_t i = 0; i < r->n; i++)
		act->samples[i] = r->ring[(first + i) % TRIGGER_MAX_SAMPLES];
}

/* src < 0: manual. */
static void fire(struct trigger *t, int src, uint64_t now, struct trigger_action *act)
{
	const char **reported = src >= 0 ? &t->runs[src].suppressed : &t->manual_suppressed;
	const char *why = NULL;

	act->source = src;
	if (t->capturing) {
		uint64_t end = now + t->cfg.window_ns;

		if (end > t->limit_ns)
			end = t->limit_ns;
		if (end > t->end_ns) {
			t->end_ns = end;
			act->what = TA_EXTEND;
			act->trigger_ns = t->trig_ns;
			act->end_ns = t->end_ns;
		}
		return;
	}
	if (t->cooling && now < t->cooldown_until)
		why = "cooldown";
	else if (hour_capped(t, now))
		why = "max-per-hour";
	if (why) {
		/* a manual trigger is always answered; a run is reported once per reason */
		if (src < 0 || *reported != why) {
			act->what = TA_SUPPRESSED;
			act->reason = why;
		}
		*reported = why;
		return;
	}
	*reported = NULL;
	t->capturing = true;
	t->cooling = false;
	t->trig_ns = now;
	t->end_ns = now + t->cfg.window_ns;
	t->limit_ns = now + t->cfg.max_window_ns;
	if (t->cfg.max_per_hour) {
		t->starts[t->starts_head % t->cfg.max_per_hour] = now;
		t->starts_head = (t->starts_head + 1) % t->cfg.max_per_hour;
		if (t->nstarts < t->cfg.max_per_hour)
			t->nstarts++;
	}
	act->what = TA_START;
	act->trigger_ns = now;
	act->end_ns = t->end_ns;
	if (src >= 0)
		copy_samples(&t->runs[src], act);
}

void trigger_poll(struct trigger *t, unsigned src, uint64_t t_ns, enum trigger_verdict v,
		  enum trigger_obs obs, double value, struct trigger_action *act)
{
	struct run *r;

	memset(act, 0, sizeof(*act));
	act->source = (int)src;
	if (src >= t->cfg.nsources)
		return;
	r = &t->runs[src];
	if (v == TV_SKIP)
		return;
	if (v == TV_OK) {
		r->active = false;
		r->suppressed = NULL;
		return;
	}
	if (!r->active) {
		r->active = true;
		r->start_ns = t_ns;
		r->n = 0;
		r->head = 0;
		r->suppressed = NULL;
	}
	r->ring[r->head] = (struct trigger_sample){ .t_ns = t_ns, .value = value, .obs = (uint8_t)obs };
	r->head = (r->head + 1) % TRIGGER_MAX_SAMPLES;
	if (r->n < TRIGGER_MAX_SAMPLES)
		r->n++;
	if (t_ns - r->start_ns >= t->cfg.for_ns)
		fire(t, (int)src, t_ns, act);
}

void trigger_event(struct trigger *t, unsigned src, uint64_t t_ns, double value,
		   struct trigger_action *act)
{
	struct run *r;

	memset(act, 0, sizeof(*act));
	act->source = (int)src;
	if (src >= t->cfg.nsources)
		return;
	r = &t->runs[src];
	if (!r->active) {
		r->active = true;
		r->start_ns = t_ns;
		r->n = 0;
		r->head = 0;
		r->suppressed = NULL;
	}
	r->ring[r->head] = (struct trigger_sample){ .t_ns = t_ns, .value = value, .obs = TO_VALUE };
	r->head = (r->head + 1) % TRIGGER_MAX_SAMPLES;
	if (r->n < TRIGGER_MAX_SAMPLES)
		r->n++;
	fire(t, (int)src, t_ns, act);
}

void trigger_fire(struct trigger *t, uint64_t now_ns, struct trigger_action *act)
{
	memset(act, 0, sizeof(*act));
	fire(t, -1, now_ns, act);
}

void trigger_tick(struct trigger *t, uint64_t now_ns, struct trigger_action *act)
{
	memset(act, 0, sizeof(*act));
	act->source = -1;
	if (now_ns > t->last_now)
		t->last_now = now_ns;
	if (t->capturing && now_ns >= t->end_ns) {
		t->capturing = false;
		t->cooling = t->cfg.cooldown_ns > 0;
		t->cooldown_until = t->end_ns + t->cfg.cooldown_ns;
		act->what = TA_FINISH;
		act->trigger_ns = t->trig_ns;
		act->end_ns = t->end_ns;
		t->manual_suppressed = NULL;
	}
	if (t->cooling && now_ns >= t->cooldown_until)
		t->cooling = false;
}

enum trigger_state trigger_state(const struct trigger *t, uint64_t now_ns)
{
	if (t->capturing)
		return TS_CAPTURING;
	if (t->cooling && now_ns < t->cooldown_until)
		return TS_COOLDOWN;
	for (unsigned i = 0; i < t->cfg.nsources; i++)
		if (t->runs[i].active)
			return TS_BREACHING;
	return TS_OK;
}

const char *trigger_state_name(enum trigger_state s)
{
	switch (s) {
	case TS_BREACHING: return "breaching";
	case TS_CAPTURING: return "capturing";
	case TS_COOLDOWN: return "cooldown";
	default: return "ok";
	}
}

uint64_t trigger_next_deadline(const struct trigger *t)
{
	if (t->capturing)
		return t->end_ns;
	if (t->cooling)
		return t->cooldown_until;
	return UINT64_MAX;
}

bool trigger_breaching(const struct trigger *t, unsigned src, uint64_t *since_ns)
{
	if (src >= t->cfg.nsources || !t->runs[src].active)
		return false;
	if (since_ns)
		*since_ns = t->runs[src].start_ns;
	return true;
}
