/* watch.h: `stalltrap watch`'s daemon: sources -> trigger -> flight recorder -> incidents.
 *
 * One main loop owns the flight recorder and the trigger; everything that
 * can wait on the outside world runs on its own thread and talks to the
 * loop through bounded queues: the source pollers (sources.h), the control
 * socket (control.h: stalltrap trigger), the HTTP listener (listen.h:
 * Alertmanager webhook and our own /metrics) and the incident writer (rendering an incident takes
 * long enough to overflow the ring buffer if the loop did it).
 * The loop never reads the target's /proc files without a deadline.
 */
#ifndef STALLTRAP_WATCH_H
#define STALLTRAP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "deliver/deliver.h"
#include "pipeline/recorder.h"
#include "watch/sources.h"
#include "watch/trigger.h"

#define WATCH_MAX_SOURCES 16u
#define WATCH_MAX_TOKEN 4096u
#define WATCH_MAX_PEM (1024u * 1024u) /* --tls-cert, --tls-key */

#define WATCH_MAX_ALERT_MATCH 8u

struct watch_opts {
	/* the target: pids (--pid, or what --name/--cgroup resolved to at start) */
	const pid_t *pids;
	size_t npids;
	const char *name;            /* --name, or NULL */
	const char *cgroup_dir;      /* --cgroup resolved, or NULL */
	struct recorder_opts ro;     /* capture flags; pids/name/cgroup_dir are set by watch */
	struct source_cfg sources[WATCH_MAX_SOURCES];
	size_t nsources;
	struct trigger_rule rule;
	struct trigger_cfg tcfg;     /* nsources is set by watch */
	uint64_t baseline_ns;
	const char *out_dir;
	const char *state_dir;
	const char *listen;          /* ADDR:PORT, or NULL */
	const char *token;           /* the webhook's bearer token (contents), or NULL */
	const char *tls_cert, *tls_key; /* --listen over HTTPS: PEM contents, or NULL */
	const char *const *alert_match; /* --alert-match LABEL=VALUE: the webhook's alerts must hold all */
	size_t nalert_match;
	int top;
	uint64_t debuginfod_timeout_ns; /* symbolize_late's deadline, in the writer thread */
	const struct deliver_cfg *deliver; /* the sinks (--alertmanager, ...), or NULL */
	uint64_t keep_n, keep_bytes;  /* --keep, --keep-bytes: retention of --out (0: none) */
	uint64_t max_disk;            /* --max-disk: --out, capture data and the queue together (0: off; diskcap.h) */
};

/* Runs until SIGTERM/SIGINT (a capture in progress is finished and written
 * first). Returns the exit status: 0, or 1 after a one-line reason on stderr. */
int watch_run(const struct watch_opts *o);

#endif /* STALLTRAP_WATCH_H */
