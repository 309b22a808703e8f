/* sources.h: watch's metric sources: polled endpoints, probes and PSI triggers, each on its own thread.
 *
 * A source turns the outside world into observations (trigger.h's
 * enum trigger_obs plus a value) that the main loop classifies and feeds to
 * the trigger. Every source runs on a thread of its own, so that a hung
 * service can stall only its poller, never the loop: each HTTP poll runs
 * with libcurl's whole-transfer timeout (--poll-timeout), a TCP probe with a
 * poll() deadline, a PSI source waits in poll() on the kernel's trigger.
 * Results go through a bounded queue (SOURCES_QUEUE; when full, the oldest
 * result is dropped and counted).
 *
 * Kinds:
 * - SOURCE_METRICS: GET the service's own exposition; read a gauge, a
 *   summary's quantile, or a histogram's quantile over the bucket deltas
 *   since the previous poll. A histogram whose count stops moving after it
 *   moved gives TO_NO_DATA; one that never moved gives TO_IDLE.
 * - SOURCE_PROMETHEUS: a PromQL instant query; the largest value of the
 *   resulting vector (or the scalar). An empty vector is TO_IDLE.
 * - SOURCE_PROBE_HTTP / _TCP: the time to answer a GET / to connect.
 * - SOURCE_PSI: the kernel's pressure-stall trigger (`some T W` written to a
 *   pressure file); each event is reported with `event` set: it fires at once.
 * Everywhere: a poll that exceeds --poll-timeout is TO_TIMEOUT with the
 * timeout as value; a refused connection is TO_DOWN.
 */
#ifndef STALLTRAP_SOURCES_H
#define STALLTRAP_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch/trigger.h"

#define SOURCES_QUEUE 256u
#define SOURCE_MAX_BODY (16u << 20)   /* bytes of one HTTP answer */

enum source_kind {
	SOURCE_METRICS = 0,
	SOURCE_PROMETHEUS,
	SOURCE_PROBE_HTTP,
	SOURCE_PROBE_TCP,
	SOURCE_PSI,
};

struct source_cfg {
	enum source_kind kind;
	const char *url;          /* METRICS, PROMETHEUS (base URL), PROBE_HTTP, PROBE_TCP (tcp://host:port) */
	const char *metric;       /* METRICS: NAME{label="v",...} */
	double quantile;          /* METRICS: summary/histogram quantile */
	const char *query;        /* PROMETHEUS: PromQL */
	const char *psi_resource; /* PSI: "memory", "io", "cpu" */
	const char *psi_path;     /* PSI: the pressure file */
	uint64_t psi_threshold_us, psi_window_us;
	uint64_t interval_ns, poll_timeout_ns;
};

struct source_result {
	unsigned source;
	uint64_t t_ns;            /* CLOCK_MONOTONIC when the poll completed */
	uint64_t took_ns;         /* how long the poll took */
	enum trigger_obs obs;
	double value;             /* seconds for latencies; NaN when none */
	bool event;               /* PSI: the kernel's trigger fired */
	char detail[320];         /* "p99 0.834s over 412 requests", "connection refused", ... */
};

struct sources;

/* Copies the configs (strings too). Returns 0 or a negative errno (reason in err). */
int sources_new(struct sources **out, const struct source_cfg *cfgs, size_t n, char *err, size_t errlen);
/* The first poll of source i, synchronously (at most its poll timeout):
 * 0 ok; -ENOENT (unknown metric), -EINVAL (unparseable exposition,
 * malformed or refused PromQL, PSI trigger refused): bad input, reason in
 * err; any other negative errno: unreachable for now (reason in err), to be
 * warned about while polling goes on. */
int sources_check(struct sources *s, unsigned i, char *err, size_t errlen);
/* Starts the pollers. */
int sources_start(struct sources *s);
/* Moves up to max queued results into out; returns how many. */
size_t sources_drain(struct sources *s, struct source_result *out, size_t max);
/* After an incident: a histogram or summary must move again before "not
 * moving" counts as no data (an idle service is not a frozen one). */
void sources_rearm(struct sources *s, unsigned i);
size_t sources_count(const struct sources *s);
const struct source_cfg *sources_cfg(const struct sources *s, unsigned i);
/* A short name for logs and report.json: "metrics http://...: NAME p99". */
const char *sources_name(const struct sources *s, unsigned i);
uint64_t sources_polls(const struct sources *s);
uint64_t sources_dropped(const struct sources *s);
/* Stops the pollers (waits for a poll in flight: at most its timeout) and frees. */
void sources_free(struct sources *s);

/* Pure helpers, unit-tested. */
/* "tcp://host:port" -> host, port. Returns 0 or -EINVAL. */
int source_parse_tcp(const char *url, char *host, size_t hostlen, char *port, size_t portlen);
/* Reads the value of a PromQL instant-query response (JSON text): the
 * largest sample of a vector, or a scalar. Returns 0 (value), -ENODATA
 * (empty vector), -EINVAL (malformed or an error answer; reason in err). */
int source_parse_promql(const char *json, size_t len, double *value, char *err, size_t errlen);

#endif /* STALLTRAP_SOURCES_H */
