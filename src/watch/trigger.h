/* trigger.h: watch's trigger state machine: from polled values to incidents.
 *
 * Pure: no clock, no I/O. The caller feeds it classified polls, manual
 * triggers and the time; it answers with what to do (start an incident,
 * extend the one in progress, finish it, or nothing) and keeps the rules:
 * - a source fires once its polls have breached consecutively over a span
 *   of at least for_ns (last breaching poll - first breaching poll). A
 *   poll that does not breach ends the run; a skipped poll (no data with
 *   --on-no-data skip) neither breaches nor ends it;
 * - an incident covers [trigger - before, trigger + window]; a fire during
 *   an incident extends its end to fire + window, never past
 *   trigger + max_window;
 * - after an incident ends, nothing starts for cooldown_ns; at most
 *   max_per_hour incidents start in any hour. A fire refused by either is
 *   reported once per breach run (TA_SUPPRESSED), for the drop counters;
 * - manual triggers (control socket, SIGUSR1, webhook, PSI events) fire at
 *   once, under the same cooldown and cap.
 * Times are CLOCK_MONOTONIC nanoseconds, non-decreasing per source.
 */
#ifndef STALLTRAP_TRIGGER_H
#define STALLTRAP_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRIGGER_MAX_SOURCES 32u
#define TRIGGER_MAX_SAMPLES 32u      /* samples kept per breach run (the last ones) */
#define TRIGGER_MAX_PER_HOUR 3600u

/* What one poll was, as classified by trigger_classify(). */
enum trigger_verdict {
	TV_OK = 0,     /* below the threshold: ends a breach run */
	TV_BREACH,     /* at or above the threshold (or a timeout / no data counted as one) */
	TV_SKIP,       /* ignored: neither breach nor ok */
};

/* What a poll observed, before classification. */
enum trigger_obs {
	TO_VALUE = 0,  /* a number */
	TO_TIMEOUT,    /* the poll hit --poll-timeout: latency of at least the timeout */
	TO_NO_DATA,    /* the histogram's count stopped moving (or the quantile is undefined) */
	TO_IDLE,       /* no data, but nothing was moving before either: not a freeze */
	TO_DOWN,       /* connection refused: the target is down, which is not a freeze */
	TO_ERROR,      /* anything else (HTTP error, bad response): not evidence */
};

struct trigger_rule {
	double threshold;        /* seconds when is_seconds, else a plain number */
	bool is_seconds;         /* --threshold was a duration: the metric is a latency */
	double poll_timeout_s;   /* what a timeout proves: latency >= this */
	bool no_data_breach;     /* --on-no-data breach (default) or skip */
};

/* Pure classification of one observation against a rule. */
enum trigger_verdict trigger_classify(const struct trigger_rule *rule, enum trigger_obs obs,
				      double value);

struct trigger_cfg {
	uint64_t for_ns, before_ns, window_ns, max_window_ns, cooldown_ns;
	uint32_t max_per_hour;   /* 0: no cap */
	unsigned nsources;       /* metric sources; manual triggers need none */
};

struct trigger_sample {
	uint64_t t_ns;
	double value;
	uint8_t obs;             /* enum trigger_obs */
};

enum trigger_what {
	TA_NONE = 0,
	TA_START,        /* start an incident: trigger_ns, end_ns, source, samples */
	TA_EXTEND,       /* the incident in progress now ends at end_ns */
	TA_FINISH,       /* the incident in progress ended at end_ns: cut and write it */
	TA_SUPPRESSED,   /* a fire was refused: reason says why ("cooldown", "max-per-hour") */
};

struct trigger_action {
	enum trigger_what what;
	int source;              /* the firing source; -1 for a manual trigger */
	uint64_t trigger_ns;     /* START/EXTEND/FINISH: the incident's first trigger */
	uint64_t end_ns;         /* START/EXTEND/FINISH: the incident's end */
	const char *reason;      /* TA_SUPPRESSED */
	struct trigger_sample samples[TRIGGER_MAX_SAMPLES]; /* START: the run that fired, oldest first */
	size_t nsamples;
};

/* The state, for the log line per change and for /metrics. */
enum trigger_state {
	TS_OK = 0,
	TS_BREACHING,    /* some source is in a breach run that has not fired yet */
	TS_CAPTURING,    /* an incident is in progress */
	TS_COOLDOWN,     /* an incident ended less than cooldown ago */
};

struct trigger;

int trigger_new(struct trigger **out, const struct trigger_cfg *cfg);
void trigger_free(struct trigger *t);
/* A classified poll of source src at t_ns. */
void trigger_poll(struct trigger *t, unsigned src, uint64_t t_ns, enum trigger_verdict v,
		  enum trigger_obs obs, double value, struct trigger_action *act);
/* An event of source src at t_ns (a PSI trigger): joins src's breach run
 * and fires at once, the refusals reported once per run like polls'. */
void trigger_event(struct trigger *t, unsigned src, uint64_t t_ns, double value,
		   struct trigger_action *act);
/* A manual trigger at now_ns (fires at once). */
void trigger_fire(struct trigger *t, uint64_t now_ns, struct trigger_action *act);
/* The passage of time: TA_FINISH once now_ns reaches the incident's end. */
void trigger_tick(struct trigger *t, uint64_t now_ns, struct trigger_action *act);
enum trigger_state trigger_state(const struct trigger *t, uint64_t now_ns);
const char *trigger_state_name(enum trigger_state s);
/* The next instant trigger_tick() has something to do (the incident's end,
 * the cooldown's end), or UINT64_MAX. */
uint64_t trigger_next_deadline(const struct trigger *t);
/* Whether src is in a breach run, and since when. */
bool trigger_breaching(const struct trigger *t, unsigned src, uint64_t *since_ns);
/* Incidents started in the hour before now_ns. */
unsigned trigger_started_last_hour(const struct trigger *t, uint64_t now_ns);

#endif /* STALLTRAP_TRIGGER_H */
