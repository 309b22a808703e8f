/* deliver.h: the delivery stage: every incident to Alertmanager, a webhook and the profile stores, none lost.
 *
 * Invariants:
 * - every delivery goes through an on-disk queue under STATE_DIR/deliver/SINK/
 *   (queue.h): an item is written to a temp file, fsync'd, renamed (mode
 *   0600) before deliver_enqueue_dir() returns, so it survives a SIGKILL, a
 *   restart and (with STATE_DIR on persistent storage) a reboot;
 * - each sink has its own thread, queue and HTTP connection (http.h): a sink
 *   that is down holds up nothing but its own later items, which it delivers
 *   in order;
 * - the retry policy is retry.h's (Alloy's): 408, 429 and 5xx and transport
 *   errors are retried with exponential backoff and jitter (Retry-After
 *   honoured); any other 4xx parks the item with the server's answer; an
 *   item still undelivered give_up_after_ns after it was queued is given up.
 *   Each is one log line and a counter on /metrics;
 * - at most once per sink: the incident id (deliver_incident_id) is the
 *   idempotency key the servers deduplicate on (the Alertmanager alert's
 *   labels, the Pyroscope sample ID, the webhook-id), and a delivered item is
 *   marked done before its queue file goes;
 * - secrets (tokens, passwords, HMAC keys, tenants) are contents handed in by
 *   the caller (read from files or the environment); nothing here prints them.
 */
#ifndef STALLTRAP_DELIVER_H
#define STALLTRAP_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sink_kind { SINK_ALERTMANAGER = 0, SINK_WEBHOOK, SINK_PYROSCOPE, SINK_PARCA, SINK_N };

/* The sink's name: its flag, its queue directory, its /metrics label. */
const char *deliver_sink_name(enum sink_kind k);

struct sink_cfg {
	const char *url;            /* NULL: the sink is not configured */
	const char *token;          /* Authorization: Bearer (contents), or NULL */
	const char *basic;          /* "user:password" for basic auth, or NULL */
	const char *tenant;         /* X-Scope-OrgID, or NULL */
	const char *ca_file;        /* HTTPS: the CA bundle to verify the server with, or NULL (system's) */
	const char *cert_file, *key_file; /* HTTPS client certificate and key (PEM), or NULL */
	const unsigned char *secret; /* webhook: the HMAC key (bytes), or NULL: unsigned */
	size_t secret_len;
};

/* A log line from the stage (no trailing newline); the caller adds time and prefix. */
typedef void (*deliver_log_fn)(const char *line);

struct deliver_cfg {
	struct sink_cfg sink[SINK_N];
	const char *state_dir;      /* the queue goes under STATE_DIR/deliver/ */
	const char *service;        /* --service, or NULL: the target's comm */
	const char *report_url_prefix; /* --report-url-prefix, or NULL: the report's path */
	const char *severity;       /* the alert's severity label; NULL: "critical" */
	uint64_t give_up_after_ns;  /* --give-up-after, default 24 h */
	uint64_t min_backoff_ns, max_backoff_ns; /* retry backoff bounds (500 ms, 5 min) */
	uint64_t timeout_ns;        /* one request's deadline (10 s) */
	uint64_t resend_ns;         /* Alertmanager: re-sent this often while breaching (1 min) */
	bool oneshot;               /* stalltrap send: no watcher follows the service (see alerts below) */
	deliver_log_fn log;
};

/* Fills the defaults of the numbers above (the rest zero). */
void deliver_cfg_init(struct deliver_cfg *c);
bool deliver_cfg_any(const struct deliver_cfg *c);

struct deliver;

/* Creates the queue directories, takes each sink's queue (a lock file: one
 * process delivers a queue; *held_by gets the pid of another holder, or 0),
 * and starts the sink threads, which first deliver what an earlier run left
 * queued. Returns 0 or a negative errno with one line in err. */
int deliver_start(struct deliver **out, const struct deliver_cfg *c, char *err, size_t errlen);
/* Stops the threads (an attempt in flight is abandoned, not counted): what
 * is queued stays queued. NULL is fine. */
void deliver_stop(struct deliver *d);

/* Where the cgroup of the target says it runs (Kubernetes), for the profile
 * stores' labels: "" when not in a pod. */
struct deliver_origin {
	char pod_uid[64];
	char container_id[80];
};

/* Queues the incident or capture directory dir (its report.json, and its
 * profile.pb.gz for the profile stores) for every configured sink. origin
 * may be NULL. Returns how many sinks took it, or a negative errno after one
 * log line per sink that could not (disk full: the incident stays in dir,
 * nothing already queued is touched). */
int deliver_enqueue_dir(struct deliver *d, const char *dir, const struct deliver_origin *origin);

/* watch: whether the service is breaching now (any source in a breach run,
 * or a capture in progress). Alertmanager alerts are re-sent while it is and
 * resolved once it is not (and has been firing at least one resend period,
 * long enough for Alertmanager's group_wait to notify someone). Cheap. */
void deliver_set_breaching(struct deliver *d, bool breaching);

/* stalltrap send: moves the parked items of the configured sinks back into
 * their queues. Returns how many. */
int deliver_unpark(struct deliver *d);

/* stalltrap send: waits until every configured sink's queue is empty (each
 * item delivered, parked or given up) or *stop is set. Returns 0 when all was
 * delivered, 1 when something was parked or given up, -EINTR when stopped,
 * -EAGAIN when another process holds a queue (it delivers what we queued). */
int deliver_wait_idle(struct deliver *d, volatile int *stop);

/* Whether this process delivers sink k's queue (it holds its lock). */
bool deliver_queue_owned(const struct deliver *d, enum sink_kind k);
/* Whether q/NAME of sink k is being sent now (an attempt in flight). */
bool deliver_queue_busy(struct deliver *d, enum sink_kind k, const char *name);
/* Drops the item SUB/NAME (SUB: q, parked or gaveup) of a queue this
 * process delivers, unsent, and counts it (stalltrap_deliver_dropped_total):
 * --max-disk's removal of the oldest. The caller logs it. Returns 0,
 * -EBUSY (the item is in flight: it stays), -ENOENT (not our queue, or the
 * item is gone) or another negative errno. */
int deliver_queue_drop(struct deliver *d, enum sink_kind k, const char *sub, const char *name);

/* The pid holding sink k's queue when it is not us (0: us). */
int deliver_held_by(const struct deliver *d, enum sink_kind k);

/* Prometheus text of the counters (queue depth, deliveries, retries,
 * failures, parked, give-ups, oldest item age; per sink), appended at buf+*n. */
void deliver_metrics_text(struct deliver *d, char *buf, size_t len, size_t *n);

/* ---- pure helpers, unit-tested ---- */

/* The incident id of a capture directory: HOST/BASENAME (its directory's
 * name, which is unique on the host; with the host, in the fleet). */
void deliver_incident_id(const char *host, const char *dir, char *out, size_t len);

/* Kubernetes pod UID and container id out of a cgroup v2 path
 * (/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
 * cri-containerd-<id>.scope, or cgroupfs' /kubepods/burstable/pod<uid>/<id>).
 * Fields it does not find are "". */
void deliver_origin_from_cgroup(const char *path, struct deliver_origin *o);
/* The same for a live pid (/proc/PID/cgroup's v2 line). */
void deliver_origin_from_pid(int pid, struct deliver_origin *o);

#endif /* STALLTRAP_DELIVER_H */
