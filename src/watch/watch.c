/* watch.c: the watch daemon's main loop, control socket, HTTP listener and incident writer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "capture/proc.h"
#include "deliver/retention.h"
#include "pipeline/writer.h"
#include "symbolize/symbolize.h"
#include "watch/control.h"
#include "watch/diskcap.h"
#include "watch/flight.h"
#include "watch/listen.h"
#include "watch/watch.h"
#include "util/outdir.h"
#include "util/timeutil.h"
#include "util/units.h"

/* The loop wakes at least this often (and at the incident's end), the
 * longer tick while every source is calm (state ok, nothing breaching).
 * Results carry their own timestamps, so a later pickup changes no
 * decision; fewer wakeups keep the idle cost down. The tick stays: the BPF
 * ring buffer wakes user space only at half full. */
#define LOOP_TICK_MS 500
#define LOOP_TICK_CALM_MS 1000
#define MANUAL_QUEUE 64u
#define WRITER_QUEUE 4u
#define METRICS_EVERY_NS 1000000000ull
#define COUNTERS_EVERY_NS 5000000000ull   /* the recorder's counters: a syscall per BPF program */
#define REPLY_WAIT_MS 3000
#define RESTART_RETRY_NS 5000000000ull

static volatile sig_atomic_t g_stop, g_usr1;

static void on_stop(int sig)
{
	(void)sig;
	g_stop++;
}

static void on_usr1(int sig)
{
	(void)sig;
	g_usr1 = 1;
}

__attribute__((format(printf, 1, 2)))
static void logline(const char *fmt, ...)
{
	char when[32], msg[1024];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s stalltrap watch: %s\n", when, msg);
}

static void deliver_log(const char *line)
{
	logline("%s", line);
}

/* ---- manual triggers (control socket, SIGUSR1, webhook) ---- */

struct manual {
	char source[16];             /* "control", "signal", "webhook" */
	char reason[256];
	uint64_t t_ns;
	int *reply;                  /* control: where the loop writes enum trigger_what (+1), or NULL */
};

struct incident {
	bool active;
	uint64_t trigger_ns, end_ns;
	int64_t trigger_real_ns;
	unsigned extensions;
	json_t *trigger;             /* report.json's "trigger" */
};

/* An incident handed to the writer thread: the data report.json is made of
 * (pipeline/writer.h builds its keys). Owns cd, base and trigger. */
struct job {
	struct capdata *cd;
	struct capdata *base;        /* the baseline window, or NULL */
	const char *base_note;       /* no base: why (a string constant), or NULL */
	json_t *trigger;             /* report.json's "trigger" */
	uint64_t trigger_ns;
	char dir[4096], tmp[4096];
};

struct source_state {
	const char *status;          /* last logged status */
	uint64_t polls, breaches, timeouts, no_data, down, errors;
	double last_value;
	char last_detail[320];
};

struct metrics_snap {
	uint64_t polls, breaches, timeouts, triggers, extensions, suppressed_cooldown, suppressed_cap;
	uint64_t incidents_written, incident_errors, incidents_dropped, results_dropped;
	uint64_t rec_drops, rec_blocks, bpf_run_ns, evicted, rotations, webhook_rejected, webhook_ignored;
	uint64_t gov_min_block_ns;   /* the overhead governor's block threshold now; 0: not acting */
	double cpu_s, history_s;
	enum trigger_state state;
};

struct watch {
	const struct watch_opts *o;
	struct flight *flight;
	struct sources *src;
	struct trigger *trig;
	struct source_state st[WATCH_MAX_SOURCES];
	struct incident inc;
	enum trigger_state state;
	char comm[64];
	uint64_t trig_count, ext_count, sup_cooldown, sup_cap;
	bool targets_gone_logged;
	uint64_t last_restart_try;

	pthread_mutex_t lock;        /* manual queue, replies, jobs, metrics */
	pthread_cond_t cond;
	struct manual manual[MANUAL_QUEUE];
	size_t nmanual;
	bool quit;

	struct job *jobs[WRITER_QUEUE];
	size_t njobs;
	bool writing;
	pthread_t writer;
	bool writer_started;
	atomic_uint_least64_t written, write_errors, jobs_dropped;
	atomic_uint_least64_t disk_removed[DISKCAP_N], disk_removed_bytes, disk_bytes;

	struct control *ctl;
	struct listener *http;
	struct metrics_snap snap;
	uint64_t last_metrics, last_counters;
	uint64_t rec_drops, bpf_run_ns;      /* the recorder's, read every COUNTERS_EVERY_NS */
	atomic_bool scraped;                 /* /metrics asked since the counters were read */
	bool calm;                           /* state ok and no source breaching at the last wakeup */
	struct deliver *dlv;                 /* the sinks, or NULL */
};

static const char *obs_name(enum trigger_obs o)
{
	switch (o) {
	case TO_VALUE: return "value";
	case TO_TIMEOUT: return "timeout";
	case TO_NO_DATA: return "no_data";
	case TO_IDLE: return "idle";
	case TO_DOWN: return "down";
	default: return "error";
	}
}

static const char *kind_name(enum source_kind k)
{
	switch (k) {
	case SOURCE_METRICS: return "metrics";
	case SOURCE_PROMETHEUS: return "prometheus";
	case SOURCE_PROBE_HTTP:
	case SOURCE_PROBE_TCP: return "probe";
	default: return "psi";
	}
}

static int enqueue_manual(struct watch *w, const char *source, const char *reason, int *reply)
{
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (w->nmanual == MANUAL_QUEUE) {
		ret = -ENOSPC;
	} else {
		struct manual *m = &w->manual[w->nmanual++];

		snprintf(m->source, sizeof(m->source), "%s", source);
		snprintf(m->reason, sizeof(m->reason), "%s", reason);
		m->t_ns = mono_ns();
		m->reply = reply;
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

/* ---- control socket and HTTP listener callbacks ---- */

/* Whether pid is one of ours: in the target list, or matching --name / --cgroup now. */
static bool is_our_pid(struct watch *w, pid_t pid)
{
	const struct watch_opts *o = w->o;
	char comm[64];
	bool ours = false;

	for (size_t i = 0; i < o->npids; i++)
		if (o->pids[i] == pid)
			return true;
	if (o->name && !proc_read_comm(pid, comm, sizeof(comm)) && !strcmp(comm, o->name))
		return true;
	if (o->cgroup_dir) {
		pid_t *pids = NULL;
		int n = proc_cgroup_pids(o->cgroup_dir, &pids);

		for (int i = 0; i < n && !ours; i++)
			ours = pids[i] == pid;
		free(pids);
	}
	return ours;
}

static bool ctl_is_ours(void *arg, const char *what, const char *who)
{
	struct watch *w = arg;
	char comm[64];

	if (!strcmp(what, "pid")) {
		char *end;
		long pid = strtol(who, &end, 10);

		return !*end && pid > 0 && is_our_pid(w, (pid_t)pid);
	}
	if (w->o->name)
		return !strcmp(w->o->name, who);
	/* a pid target answers to its comm too */
	for (size_t i = 0; i < w->o->npids; i++)
		if (!proc_read_comm(w->o->pids[i], comm, sizeof(comm)) && !strcmp(comm, who))
			return true;
	return false;
}

/* On the control thread: hands the trigger to the loop and waits (bounded) for its answer. */
static const char *ctl_trigger(void *arg, const char *reason)
{
	struct watch *w = arg;
	struct timespec ts;
	int reply = 0, rc = 0;

	if (enqueue_manual(w, "control", reason, &reply))
		return "error: queue full";
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += REPLY_WAIT_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (!reply && !w->quit && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	if (!reply) {
		/* the loop must not write *reply after we return: withdraw it */
		for (size_t i = 0; i < w->nmanual; i++)
			if (w->manual[i].reply == &reply)
				w->manual[i].reply = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	switch (reply - 1) {
	case TA_START: return "started";
	case TA_EXTEND: return "extended";
	case TA_SUPPRESSED: return "suppressed";
	case TA_NONE: return "capturing";
	default: return "queued";
	}
}

static int http_alert(void *arg, const char *reason)
{
	return enqueue_manual(arg, "webhook", reason, NULL);
}

static void metrics_text(void *arg, char *buf, size_t len)
{
	struct watch *w = arg;
	struct metrics_snap s;
	size_t n = 0;
	static const char *const states[] = { "ok", "breaching", "capturing", "cooldown" };

	atomic_store(&w->scraped, true);
	pthread_mutex_lock(&w->lock);
	s = w->snap;
	pthread_mutex_unlock(&w->lock);
	s.webhook_rejected = w->http ? listen_rejected(w->http) : 0;
	s.webhook_ignored = w->http ? listen_ignored(w->http) : 0;
#define PUT(...) do { int k_ = snprintf(buf + n, len - n, __VA_ARGS__); if (k_ > 0 && (size_t)k_ < len - n) n += (size_t)k_; } while (0)
	PUT("# TYPE stalltrap_watch_polls_total counter\nstalltrap_watch_polls_total %llu\n", (unsigned long long)s.polls);
	PUT("# TYPE stalltrap_watch_breaches_total counter\nstalltrap_watch_breaches_total %llu\n", (unsigned long long)s.breaches);
	PUT("# TYPE stalltrap_watch_poll_timeouts_total counter\nstalltrap_watch_poll_timeouts_total %llu\n", (unsigned long long)s.timeouts);
	PUT("# TYPE stalltrap_watch_triggers_total counter\nstalltrap_watch_triggers_total %llu\n", (unsigned long long)s.triggers);
	PUT("# TYPE stalltrap_watch_extensions_total counter\nstalltrap_watch_extensions_total %llu\n", (unsigned long long)s.extensions);
	PUT("# TYPE stalltrap_watch_suppressed_total counter\n"
	    "stalltrap_watch_suppressed_total{reason=\"cooldown\"} %llu\n"
	    "stalltrap_watch_suppressed_total{reason=\"max-per-hour\"} %llu\n",
	    (unsigned long long)s.suppressed_cooldown, (unsigned long long)s.suppressed_cap);
	PUT("# TYPE stalltrap_watch_captures_total counter\nstalltrap_watch_captures_total %llu\n", (unsigned long long)s.incidents_written);
	PUT("# TYPE stalltrap_watch_capture_errors_total counter\nstalltrap_watch_capture_errors_total %llu\n", (unsigned long long)s.incident_errors);
	PUT("# TYPE stalltrap_watch_drops_total counter\n"
	    "stalltrap_watch_drops_total{what=\"recorder\"} %llu\n"
	    "stalltrap_watch_drops_total{what=\"poll_results\"} %llu\n"
	    "stalltrap_watch_drops_total{what=\"incidents\"} %llu\n"
	    "stalltrap_watch_drops_total{what=\"webhook_rejected\"} %llu\n",
	    (unsigned long long)s.rec_drops, (unsigned long long)s.results_dropped,
	    (unsigned long long)s.incidents_dropped, (unsigned long long)s.webhook_rejected);
	PUT("# HELP stalltrap_watch_webhook_ignored_total Firing alerts whose labels did not match --alert-match.\n"
	    "# TYPE stalltrap_watch_webhook_ignored_total counter\nstalltrap_watch_webhook_ignored_total %llu\n",
	    (unsigned long long)s.webhook_ignored);
	PUT("# TYPE stalltrap_watch_blocks_total counter\nstalltrap_watch_blocks_total %llu\n", (unsigned long long)s.rec_blocks);
	PUT("# HELP stalltrap_watch_governor_min_block_seconds The overhead governor's block threshold (0: not acting; "
	    "past --max-overhead, shorter blocks are only counted).\n"
	    "# TYPE stalltrap_watch_governor_min_block_seconds gauge\nstalltrap_watch_governor_min_block_seconds %.6f\n",
	    (double)s.gov_min_block_ns / 1e9);
	PUT("# TYPE stalltrap_watch_cpu_seconds_total counter\nstalltrap_watch_cpu_seconds_total %.6f\n", s.cpu_s);
	PUT("# HELP stalltrap_watch_bpf_run_seconds_total Run time of the recorder's BPF programs (needs --bpf-stats).\n"
	    "# TYPE stalltrap_watch_bpf_run_seconds_total counter\nstalltrap_watch_bpf_run_seconds_total %.9f\n",
	    (double)s.bpf_run_ns / 1e9);
	PUT("# TYPE stalltrap_watch_history_seconds gauge\nstalltrap_watch_history_seconds %.3f\n", s.history_s);
	PUT("# TYPE stalltrap_watch_evicted_total counter\nstalltrap_watch_evicted_total %llu\n", (unsigned long long)s.evicted);
	PUT("# TYPE stalltrap_watch_state gauge\n");
	for (unsigned i = 0; i < 4; i++)
		PUT("stalltrap_watch_state{state=\"%s\"} %d\n", states[i], s.state == (enum trigger_state)i);
	PUT("# HELP stalltrap_watch_disk_removed_total What --max-disk removed, the oldest first.\n"
	    "# TYPE stalltrap_watch_disk_removed_total counter\n");
	for (unsigned i = 0; i < DISKCAP_N; i++)
		PUT("stalltrap_watch_disk_removed_total{what=\"%s\"} %llu\n", diskcap_what_name((enum diskcap_what)i),
		    (unsigned long long)atomic_load(&w->disk_removed[i]));
	PUT("# TYPE stalltrap_watch_disk_removed_bytes_total counter\nstalltrap_watch_disk_removed_bytes_total %llu\n",
	    (unsigned long long)atomic_load(&w->disk_removed_bytes));
	PUT("# HELP stalltrap_watch_disk_bytes Bytes under --out and the delivery queue, as last measured.\n"
	    "# TYPE stalltrap_watch_disk_bytes gauge\nstalltrap_watch_disk_bytes %llu\n",
	    (unsigned long long)atomic_load(&w->disk_bytes));
	PUT("# HELP stalltrap_watch_disk_max_bytes --max-disk (0: off).\n"
	    "# TYPE stalltrap_watch_disk_max_bytes gauge\nstalltrap_watch_disk_max_bytes %llu\n",
	    (unsigned long long)w->o->max_disk);
#undef PUT
	deliver_metrics_text(w->dlv, buf, len, &n);
}

/* ---- the incident writer ---- */

static void free_job(struct job *j)
{
	if (!j)
		return;
	if (j->cd) {
		capdata_free(j->cd);
		free(j->cd);
	}
	if (j->base) {
		capdata_free(j->base);
		free(j->base);
	}
	json_decref(j->trigger);
	free(j);
}

/* --max-disk, at start and around each incident (on the writer thread
 * once it runs: one walk at a time). active: a directory of --out to keep. */
static void disk_cap(struct watch *w, const char *active)
{
	struct diskcap_cfg c = { .out_dir = w->o->out_dir, .state_dir = w->o->state_dir, .max_bytes = w->o->max_disk,
				 .active = active, .dlv = w->dlv, .log = deliver_log };
	struct diskcap_result r;
	int ret;

	if (!w->o->max_disk)
		return;
	ret = diskcap_apply(&c, &r);
	if (ret < 0) {
		logline("max-disk: cannot read %s: %s", w->o->out_dir, strerror(-ret));
		return;
	}
	for (unsigned i = 0; i < DISKCAP_N; i++)
		atomic_fetch_add(&w->disk_removed[i], r.removed[i]);
	atomic_fetch_add(&w->disk_removed_bytes, r.removed_bytes);
	atomic_store(&w->disk_bytes, r.bytes);
}

/* A written incident: to the sinks' queues (before retention may remove
 * its directory: each item holds what it needs), then --keep/--keep-bytes. */
static void hand_over(struct watch *w, const struct job *j)
{
	if (w->dlv) {
		struct deliver_origin og;

		if (w->o->cgroup_dir)
			deliver_origin_from_cgroup(w->o->cgroup_dir, &og);
		else
			deliver_origin_from_pid(j->cd->target.npids ? (int)j->cd->target.pids[0] : 0, &og);
		deliver_enqueue_dir(w->dlv, j->dir, &og);
	}
	if (w->o->keep_n || w->o->keep_bytes) {
		int ret = retention_apply(w->o->out_dir, w->o->keep_n, w->o->keep_bytes, deliver_log);

		if (ret < 0)
			logline("retention: cannot read %s: %s", w->o->out_dir, strerror(-ret));
	}
	disk_cap(w, strrchr(j->dir, '/') + 1);
}

static void *writer_main(void *arg)
{
	struct watch *w = arg;

	for (;;) {
		struct job *j;
		char err[512];
		int ret;

		pthread_mutex_lock(&w->lock);
		while (!w->njobs && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->njobs) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		j = w->jobs[0];
		memmove(w->jobs, w->jobs + 1, (w->njobs - 1) * sizeof(w->jobs[0]));
		w->njobs--;
		w->writing = true;
		pthread_mutex_unlock(&w->lock);

		/* room first: the oldest go before the new one takes its space */
		disk_cap(w, NULL);
		/* written under a hidden name and renamed: an incident directory is complete when it appears */
		ret = mkdir(j->tmp, 0700) ? -errno : 0;
		if (!ret) {
			struct writer_incident inc = { .trigger_ns = j->trigger_ns, .trigger = j->trigger,
						       .baseline = j->base, .baseline_note = j->base_note,
						       .max_disk = w->o->max_disk };
			struct symbolize_late_opts lo = { .timeout_ns = w->o->debuginfod_timeout_ns };
			struct symbolize_late_result lr;

			/* here, off the capture's loop: a slow debuginfod delays the
			 * writing of this incident by its deadline at most */
			if (symbolize_late(j->cd, &lo, &lr) == 0 && lr.why[0] &&
			    lr.not_found + lr.timed_out + lr.failed)
				logline("symbols incomplete after %.1f s: %s", lr.lookup_ns / 1e9, lr.why);
			/* the baseline is judged by the same names (its binaries were
			 * just looked up: registry answers, no network) */
			if (j->base)
				symbolize_late(j->base, &lo, &lr);

			ret = writer_write_incident(j->cd, &inc, j->tmp, w->o->top, err, sizeof(err));
		} else {
			snprintf(err, sizeof(err), "cannot create %.400s: %s", j->tmp, strerror(-ret));
		}
		if (!ret && rename(j->tmp, j->dir)) {
			ret = -errno;
			snprintf(err, sizeof(err), "cannot rename %.400s: %s", j->tmp, strerror(errno));
		}
		if (ret) {
			/* nothing half-written stays: the next incident (a full disk
			 * may have room again) starts from a clean directory */
			outdir_remove_flat(j->tmp);
			atomic_fetch_add(&w->write_errors, 1);
			logline("incident not written: %s", err);
		} else {
			logline("incident written: %s (%zu blocks)", j->dir, j->cd->nblocks);
			hand_over(w, j);
			/* counted once handed over: a reader of captures_total finds
			 * the log line, the queue items, and --keep and --max-disk
			 * applied */
			atomic_fetch_add(&w->written, 1);
		}
		free_job(j);
		/* an incident's capdata, its baseline and the writer's buffers
		 * were the largest allocations of the last minutes: give back the
		 * free pages they leave in every arena, or the watcher keeps the
		 * high-water mark of all incidents so far */
		malloc_trim(0);
		pthread_mutex_lock(&w->lock);
		w->writing = false;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
	return NULL;
}

static void submit_job(struct watch *w, struct job *j)
{
	pthread_mutex_lock(&w->lock);
	if (w->njobs == WRITER_QUEUE) {
		pthread_mutex_unlock(&w->lock);
		atomic_fetch_add(&w->jobs_dropped, 1);
		logline("incident dropped: %u incidents already waiting to be written", WRITER_QUEUE);
		free_job(j);
		return;
	}
	w->jobs[w->njobs++] = j;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* ---- incidents ---- */

static void sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			*s = '_';
}

static json_t *samples_json(const struct trigger_action *act, uint64_t trigger_ns)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < act->nsamples; i++) {
		const struct trigger_sample *s = &act->samples[i];
		double t = ((double)s->t_ns - (double)trigger_ns) / 1e9;

		json_array_append_new(a, json_pack("{s:f, s:o, s:s}", "t_s", round(t * 1000) / 1000,
						   "value", isfinite(s->value) ? json_real(s->value) : json_null(),
						   "obs", obs_name((enum trigger_obs)s->obs)));
	}
	return a;
}

static void start_incident(struct watch *w, const struct trigger_action *act, const char *source,
			   const char *detail, const char *reason)
{
	char thr[64];

	w->inc.active = true;
	w->inc.trigger_ns = act->trigger_ns;
	w->inc.end_ns = act->end_ns;
	w->inc.trigger_real_ns = real_ns() - (int64_t)(mono_ns() - act->trigger_ns);
	w->inc.extensions = 0;
	json_decref(w->inc.trigger);
	if (w->o->rule.is_seconds)
		snprintf(thr, sizeof(thr), "%gs", w->o->rule.threshold);
	else
		snprintf(thr, sizeof(thr), "%g", w->o->rule.threshold);
	w->inc.trigger = json_pack("{s:s, s:s, s:s, s:o, s:s, s:f}", "source", source, "source_detail", detail,
				   "reason", reason, "samples", samples_json(act, act->trigger_ns),
				   "threshold", thr, "for_s", (double)w->o->tcfg.for_ns / 1e9);
	w->trig_count++;
	logline("trigger (%s): %s; capturing [-%.1fs, +%.1fs]", source, reason,
		(double)w->o->tcfg.before_ns / 1e9, (double)(act->end_ns - act->trigger_ns) / 1e9);
}

/* The targets as they are now, for the next recorder generation. */
static int current_pids(struct watch *w, pid_t **out)
{
	const struct watch_opts *o = w->o;
	pid_t *p;
	size_t n = 0;

	if (o->name)
		return proc_find_by_comm("/proc", o->name, out);
	if (o->cgroup_dir)
		return proc_cgroup_pids(o->cgroup_dir, out);
	p = malloc((o->npids ? o->npids : 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < o->npids; i++)
		if (proc_alive(o->pids[i]))
			p[n++] = o->pids[i];
	*out = p;
	return (int)n;
}

/* The baseline: the window before the incident's, so that the incident's
 * diagnosis can subtract what is normal for this service. Cuts it into
 * j->base, or says in j->base_note why there is none (j->base NULL and no
 * note: the cut failed; report.json says null). */
static void cut_baseline(struct watch *w, uint64_t ws, struct job *j)
{
	uint64_t hs = flight_history_start(w->flight), bs = ws > w->o->baseline_ns ? ws - w->o->baseline_ns : 0;
	struct capdata *cd;

	if (bs < hs)
		bs = hs;
	if (!w->o->baseline_ns || ws <= bs || ws - bs < 1000000000ull) {
		j->base_note = "no baseline: the watcher's history before the window is under 1 s";
		return;
	}
	if (!(cd = calloc(1, sizeof(*cd))) || capdata_init(cd)) {
		free(cd);
		return;
	}
	if (flight_cut(w->flight, bs, ws, 0, true, cd)) {
		capdata_free(cd);
		free(cd);
		return;
	}
	j->base = cd;
}

/* Starts the recorder's next generation with the targets as they are now,
 * then ends the current one (flight_rotate). A failed start leaves no
 * recorder running: the loop retries every RESTART_RETRY_NS. why: logged
 * with the time it took. */
static int restart_recorder(struct watch *w, const char *why)
{
	uint64_t t0 = mono_ns();
	pid_t *pids = NULL;
	char err[512];
	int n = current_pids(w, &pids), ret;

	w->last_restart_try = t0;
	ret = flight_rotate(w->flight, pids, n > 0 ? (size_t)n : 0, err, sizeof(err));
	if (ret)
		logline("recorder restart failed (retrying every %llu s): %s",
			(unsigned long long)(RESTART_RETRY_NS / 1000000000ull), err);
	else
		logline("recorder restarted in %.0f ms (the new generation attached before the old one stopped: no gap): %s",
			(double)(mono_ns() - t0) / 1e6, why);
	free(pids);
	return ret;
}

/* Interning is never undone within a generation: a service that keeps making
 * new stacks or threads would grow the watcher without bound. End such a
 * generation while calm; the history it holds stays readable. */
static void rotate_full(struct watch *w)
{
	const struct capdata *cd = flight_current(w->flight);
	char why[160];

	snprintf(why, sizeof(why), "the generation had interned %zu stacks, %zu frames, %zu threads (bounding memory)",
		 cd->nstacks, cd->nframes, cd->nthreads);
	restart_recorder(w, why);
}

static void finish_incident(struct watch *w, const struct trigger_action *act)
{
	struct job *j = calloc(1, sizeof(*j));
	uint64_t ws = act->trigger_ns > w->o->tcfg.before_ns ? act->trigger_ns - w->o->tcfg.before_ns : 0;
	pid_t *pids = NULL;
	char when[32], comm[64];
	struct tm tm;
	time_t t;
	int n, ret;

	w->inc.active = false;
	for (size_t i = 0; i < sources_count(w->src); i++)
		sources_rearm(w->src, (unsigned)i);
	/* only stopping the capture flushes the waits still in progress: end this
	 * generation, cut the incident out of the history, go on with a new one */
	restart_recorder(w, "the incident's end flushed the waits in progress");
	n = current_pids(w, &pids);
	if (!j || !(j->cd = calloc(1, sizeof(*j->cd))) || capdata_init(j->cd)) {
		logline("incident dropped: out of memory");
		free_job(j);
		free(pids);
		return;
	}
	ret = flight_cut(w->flight, ws, act->end_ns, act->trigger_ns, false, j->cd);
	if (!ret && n > 0) {
		/* the target as it is now (a --name or --cgroup target may have restarted) */
		char tcomm[64], tcmd[4096];

		snprintf(tcomm, sizeof(tcomm), "%s", j->cd->target.comm ? j->cd->target.comm : w->comm);
		snprintf(tcmd, sizeof(tcmd), "%s", j->cd->target.cmdline ? j->cd->target.cmdline : "");
		ret = capdata_set_target(j->cd, pids, (size_t)n, tcomm, tcmd);
	}
	free(pids);
	if (ret) {
		logline("incident cut failed: %s", strerror(-ret));
		free_job(j);
		atomic_fetch_add(&w->write_errors, 1);
		return;
	}
	j->trigger_ns = act->trigger_ns;
	/* the incident is over: its trigger is the job's now */
	j->trigger = w->inc.trigger;
	w->inc.trigger = NULL;
	json_object_set_new(j->trigger, "extensions", json_integer(w->inc.extensions));
	cut_baseline(w, j->cd->window.start_mono_ns, j);

	t = (time_t)(w->inc.trigger_real_ns / 1000000000ll);
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	snprintf(comm, sizeof(comm), "%s", w->comm);
	sanitize(comm);
	for (int k = 1; k < 100; k++) {
		struct stat st;
		char suffix[8] = "";

		if (k > 1)
			snprintf(suffix, sizeof(suffix), "-%d", k);
		/* the target's pid as of this incident: a --name target may have restarted */
		snprintf(j->dir, sizeof(j->dir), "%s/%s-%s-%d%s", w->o->out_dir, when, comm,
			 j->cd->target.npids ? (int)j->cd->target.pids[0] : 0, suffix);
		if (stat(j->dir, &st))
			break;
	}
	{
		const char *slash = strrchr(j->dir, '/');

		snprintf(j->tmp, sizeof(j->tmp), "%.*s/.%s.tmp", (int)(slash - j->dir), j->dir, slash + 1);
	}
	logline("incident ended: %.1f s captured (%.1f s before the trigger, extended %u times), %zu blocks; "
		"writing %s", (double)j->cd->window.duration_ns / 1e9,
		(double)(act->trigger_ns - j->cd->window.start_mono_ns) / 1e9, w->inc.extensions, j->cd->nblocks,
		j->dir);
	submit_job(w, j);
}

static void handle_action(struct watch *w, const struct trigger_action *act, const char *source,
			  const char *detail, const char *reason)
{
	switch (act->what) {
	case TA_START:
		start_incident(w, act, source, detail, reason);
		break;
	case TA_EXTEND:
		/* logged once per incident (and summed up when it ends): a long
		 * freeze extends the capture at every poll */
		if (!w->inc.extensions)
			logline("capture extended (%s): the trigger holds; up to +%.1fs after the trigger", source,
				(double)w->o->tcfg.max_window_ns / 1e9);
		w->inc.end_ns = act->end_ns;
		w->inc.extensions++;
		w->ext_count++;
		break;
	case TA_SUPPRESSED:
		if (!strcmp(act->reason, "cooldown"))
			w->sup_cooldown++;
		else
			w->sup_cap++;
		logline("trigger (%s) suppressed by %s: %s", source, act->reason, reason);
		break;
	case TA_FINISH:
		finish_incident(w, act);
		break;
	default:
		break;
	}
}

/* ---- the loop ---- */

static void on_result(struct watch *w, const struct source_result *r)
{
	struct source_state *st = &w->st[r->source];
	enum trigger_verdict v = trigger_classify(&w->o->rule, r->obs, r->value);
	struct trigger_action act;
	const char *status;
	char reason[512];

	st->polls++;
	st->last_value = r->value;
	snprintf(st->last_detail, sizeof(st->last_detail), "%s", r->detail);
	if (r->obs == TO_TIMEOUT)
		st->timeouts++;
	if (v == TV_BREACH)
		st->breaches++;
	status = r->obs == TO_VALUE ? (v == TV_BREACH ? "breach" : "ok") : obs_name(r->obs);
	if (!st->status || strcmp(st->status, status)) {
		logline("source %u (%s): %s -> %s: %s", r->source, sources_name(w->src, r->source),
			st->status ? st->status : "start", status, r->detail);
		st->status = status;
	}
	if (r->event) {
		snprintf(reason, sizeof(reason), "%s", r->detail);
		trigger_event(w->trig, r->source, r->t_ns, r->value, &act);
	} else {
		/* A poll is stamped when it was sent, as Prometheus stamps a scrape:
		 * one that timed out is evidence of a freeze from that moment on, not
		 * from when the timeout ran out. */
		uint64_t sent = r->t_ns - (r->took_ns < r->t_ns ? r->took_ns : 0), since = sent;

		trigger_poll(w->trig, r->source, sent, v, r->obs, r->value, &act);
		trigger_breaching(w->trig, r->source, &since);
		/* (only a start or a suppression says why: most polls need no words) */
		if (act.what == TA_START || act.what == TA_SUPPRESSED)
			snprintf(reason, sizeof(reason), "%s; breaching for %.1f s (threshold %g%s, --for %.1f s)",
				 r->detail, (double)(sent - since) / 1e9, w->o->rule.threshold,
				 w->o->rule.is_seconds ? "s" : "", (double)w->o->tcfg.for_ns / 1e9);
		else
			reason[0] = '\0';
	}
	handle_action(w, &act, kind_name(sources_cfg(w->src, r->source)->kind), sources_name(w->src, r->source),
		      reason);
}

static void read_counter(void *arg, const struct capture_counter *c)
{
	struct metrics_snap *s = arg;

	if (c->is_drop)
		s->rec_drops += c->value;
	else if (!strcmp(c->name, "bpf_run_ns"))
		s->bpf_run_ns = c->value;
}

static void update_metrics(struct watch *w, uint64_t now)
{
	struct metrics_snap s = { 0 };
	struct rusage ru;
	struct recorder *rec = flight_recorder(w->flight);

	for (size_t i = 0; i < sources_count(w->src); i++) {
		s.polls += w->st[i].polls;
		s.breaches += w->st[i].breaches;
		s.timeouts += w->st[i].timeouts;
	}
	s.triggers = w->trig_count;
	s.extensions = w->ext_count;
	s.suppressed_cooldown = w->sup_cooldown;
	s.suppressed_cap = w->sup_cap;
	s.incidents_written = atomic_load(&w->written);
	s.incident_errors = atomic_load(&w->write_errors);
	s.incidents_dropped = atomic_load(&w->jobs_dropped);
	s.results_dropped = sources_dropped(w->src);
	/* a syscall per BPF program: only for someone who reads them (a
	 * scrape shows what the last one's asking read, at most
	 * COUNTERS_EVERY_NS plus a scrape interval old) */
	if (rec && now - w->last_counters >= COUNTERS_EVERY_NS && atomic_exchange(&w->scraped, false)) {
		w->last_counters = now;
		w->rec_drops = w->bpf_run_ns = 0;
		{
			struct metrics_snap c = { 0 };

			recorder_read_counters(rec, read_counter, &c);
			w->rec_drops = c.rec_drops;
			w->bpf_run_ns = c.bpf_run_ns;
		}
	}
	s.rec_drops = w->rec_drops;
	s.bpf_run_ns = w->bpf_run_ns;
	if (rec) {
		s.rec_blocks = recorder_blocks(rec);
		s.gov_min_block_ns = recorder_governor_floor_ns(rec);
	}
	s.evicted = flight_evicted(w->flight);
	s.rotations = flight_rotations(w->flight);
	if (!getrusage(RUSAGE_SELF, &ru))
		s.cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	s.history_s = (double)(now - flight_history_start(w->flight)) / 1e9;
	s.state = w->state;
	pthread_mutex_lock(&w->lock);
	w->snap = s;
	pthread_mutex_unlock(&w->lock);
}

static void drain_manual(struct watch *w, uint64_t now)
{
	struct manual m[MANUAL_QUEUE];
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->nmanual;
	memcpy(m, w->manual, n * sizeof(m[0]));
	pthread_mutex_unlock(&w->lock);
	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		struct trigger_action act;

		trigger_fire(w->trig, m[i].t_ns < now ? now : m[i].t_ns, &act);
		handle_action(w, &act, m[i].source, m[i].source, m[i].reason);
		pthread_mutex_lock(&w->lock);
		/* the reply pointer may have been withdrawn meanwhile: read it under the lock */
		if (w->manual[i].reply)
			*w->manual[i].reply = (int)act.what + 1;
		pthread_mutex_unlock(&w->lock);
	}
	if (!n)
		return; /* the common case: no lock round trip, no wakeup of the waiters */
	pthread_mutex_lock(&w->lock);
	memmove(w->manual, w->manual + n, (w->nmanual - n) * sizeof(w->manual[0]));
	w->nmanual -= n;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int watch_loop(struct watch *w)
{
	uint64_t last_watchdog = 0, watchdog_usec = 0;
	bool stopping = false, poll_failed = false;
	int ret;

	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	sd_notify(0, "READY=1\nSTATUS=watching");
	logline("watching %s (pid %d): %zu source%s; threshold %g%s for %.1fs, interval %.3gs, poll timeout %.3gs, "
		"on no data %s; incidents [-%.1fs, +%.1fs] up to +%.1fs, cooldown %.0fs, max %u/hour; state ok",
		w->comm, w->o->npids ? (int)w->o->pids[0] : 0, sources_count(w->src),
		sources_count(w->src) == 1 ? "" : "s", w->o->rule.threshold, w->o->rule.is_seconds ? "s" : "",
		(double)w->o->tcfg.for_ns / 1e9, w->o->nsources ? w->o->sources[0].interval_ns / 1e9 : 0.0,
		w->o->rule.poll_timeout_s, w->o->rule.no_data_breach ? "breach" : "skip",
		(double)w->o->tcfg.before_ns / 1e9, (double)w->o->tcfg.window_ns / 1e9,
		(double)w->o->tcfg.max_window_ns / 1e9, (double)w->o->tcfg.cooldown_ns / 1e9,
		w->o->tcfg.max_per_hour);
	for (;;) {
		struct source_result res[64];
		struct trigger_action act;
		enum trigger_state st;
		uint64_t now, deadline;
		int timeout = w->calm ? LOOP_TICK_CALM_MS : LOOP_TICK_MS;
		size_t n;

		now = mono_ns();
		deadline = trigger_next_deadline(w->trig);
		if (deadline > now && deadline - now < (uint64_t)timeout * 1000000ull)
			timeout = (int)((deadline - now) / 1000000ull) + 1;
		ret = flight_poll(w->flight, timeout);
		if (ret < 0 && ret != -EINTR && !poll_failed) /* EINTR: a signal (SIGUSR1, SIGTERM) */
			logline("recorder poll failed: %s", strerror(-ret));
		poll_failed = ret < 0 && ret != -EINTR;
		now = mono_ns();

		if (g_stop && !stopping) {
			stopping = true;
			sd_notify(0, "STOPPING=1");
			logline(w->inc.active ? "stopping: finishing the capture in progress first" : "stopping");
		}
		if (g_stop > 1 && w->inc.active) {
			/* asked twice: end the capture now with what it has */
			trigger_tick(w->trig, w->inc.end_ns, &act);
			if (act.end_ns > now)
				act.end_ns = now;
			handle_action(w, &act, "stop", "stop", "stop");
		}
		trigger_tick(w->trig, now, &act);
		handle_action(w, &act, "time", "time", "time");
		while ((n = sources_drain(w->src, res, 64)) > 0)
			for (size_t i = 0; i < n; i++)
				on_result(w, &res[i]);
		if (g_usr1) {
			g_usr1 = 0;
			trigger_fire(w->trig, now, &act);
			handle_action(w, &act, "signal", "SIGUSR1", "SIGUSR1");
		}
		drain_manual(w, now);

		st = trigger_state(w->trig, now);
		{
			bool breaching = st == TS_BREACHING || st == TS_CAPTURING;

			for (size_t i = 0; !breaching && i < sources_count(w->src); i++)
				breaching = trigger_breaching(w->trig, (unsigned)i, NULL);
			if (w->dlv)
				deliver_set_breaching(w->dlv, breaching);
			w->calm = st == TS_OK && !breaching && !stopping;
		}
		if (st != w->state) {
			char status[64];

			logline("state %s -> %s", trigger_state_name(w->state), trigger_state_name(st));
			w->state = st;
			snprintf(status, sizeof(status), "STATUS=%s", trigger_state_name(st));
			sd_notify(0, status);
		}
		if (st == TS_OK && flight_current(w->flight) && flight_generation_full(flight_current(w->flight)))
			rotate_full(w);
		else if (!flight_current(w->flight) && now - w->last_restart_try >= RESTART_RETRY_NS)
			restart_recorder(w, "after a failed start");
		if (flight_targets_gone(w->flight)) {
			if (!w->o->name && !w->o->cgroup_dir && !w->inc.active) {
				logline("the target exited: nothing left to watch");
				return 1;
			}
			if (!w->targets_gone_logged)
				logline("the target has no process now: waiting for it to come back");
			w->targets_gone_logged = true;
		} else if (w->targets_gone_logged) {
			logline("the target is back");
			w->targets_gone_logged = false;
		}
		if (w->http && now - w->last_metrics >= METRICS_EVERY_NS) {
			w->last_metrics = now;
			update_metrics(w, now);
		}
		if (watchdog_usec && now - last_watchdog >= watchdog_usec * 500ull) {
			last_watchdog = now;
			sd_notify(0, "WATCHDOG=1");
		}
		if (stopping && !w->inc.active)
			break;
	}
	return 0;
}

int watch_run(const struct watch_opts *o)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct sigaction sa = { 0 };
	struct recorder_opts ro;
	char err[512] = "";
	int status = 1, ret;

	if (!w) {
		fprintf(stderr, "stalltrap watch: out of memory\n");
		return 1;
	}
	w->o = o;
	/* glibc raises its mmap threshold to the largest block freed so far (up
	 * to 32 MiB): after the first incident, capdata arrays and writer
	 * buffers of megabytes would come from the heap and leave holes there
	 * that only the next incident of the same shape fills. A fixed threshold
	 * keeps them mmapped, so that freeing them returns them. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	pthread_mutex_init(&w->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (o->npids)
		proc_read_comm(o->pids[0], w->comm, sizeof(w->comm));
	if (!w->comm[0])
		snprintf(w->comm, sizeof(w->comm), "%s", o->name ? o->name : "target");

	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	ret = sources_new(&w->src, o->sources, o->nsources, err, sizeof(err));
	if (ret)
		goto fail;
	/* bad input is refused before anything else starts; an unreachable
	 * source is only warned about: the service may come up later */
	for (size_t i = 0; i < o->nsources; i++) {
		ret = sources_check(w->src, (unsigned)i, err, sizeof(err));
		if (ret == -ENOENT || ret == -EINVAL) {
			char why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, sizeof(err), "%.150s: %.300s", sources_name(w->src, (unsigned)i), why);
			goto fail;
		}
		if (ret)
			logline("warning: %s: %s; polling goes on", sources_name(w->src, (unsigned)i), err);
		else
			logline("source %zu: %s", i, sources_name(w->src, (unsigned)i));
	}
	err[0] = '\0';
	if (o->rule.is_seconds && o->rule.poll_timeout_s < o->rule.threshold && o->nsources)
		logline("warning: --poll-timeout %gs is under --threshold %gs: a poll that times out proves "
			"less than the threshold and will not count as a breach", o->rule.poll_timeout_s,
			o->rule.threshold);
	{
		struct trigger_cfg tc = o->tcfg;

		tc.nsources = (unsigned)o->nsources;
		ret = trigger_new(&w->trig, &tc);
		if (ret) {
			snprintf(err, sizeof(err), "bad trigger settings");
			goto fail;
		}
	}
	/* after the checks of the input, which need no privilege */
	if (geteuid() != 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		snprintf(err, sizeof(err), "not permitted: run as root (BPF needs CAP_BPF, CAP_PERFMON and "
			 "CAP_SYS_RESOURCE)");
		goto fail;
	}
	{
		struct control_cbs cc = { .arg = w, .is_ours = ctl_is_ours, .trigger = ctl_trigger };

		ret = control_start(&w->ctl, o->state_dir, &cc, err, sizeof(err));
		if (ret)
			goto fail;
	}
	if (o->listen) {
		struct listen_cbs lc = { .arg = w, .metrics = metrics_text, .alert = http_alert };
		struct listen_cfg cfg = { .addr = o->listen, .token = o->token, .match = o->alert_match,
					  .nmatch = o->nalert_match, .tls_cert = o->tls_cert, .tls_key = o->tls_key };

		ret = listen_start(&w->http, &cfg, &lc, err, sizeof(err));
		if (ret)
			goto fail;
		/* the address as given, with the port the kernel picked for port 0 */
		logline("listening on %.*s:%u (%sGET /metrics%s)", (int)(strrchr(o->listen, ':') - o->listen),
			o->listen, listen_port(w->http), o->tls_cert ? "HTTPS: " : "",
			o->token ? ", POST /webhook" : "; webhook disabled without --token-file");
	}

	if (o->deliver) {
		struct deliver_cfg dc = *o->deliver;

		dc.log = deliver_log;
		ret = deliver_start(&w->dlv, &dc, err, sizeof(err));
		if (ret)
			goto fail;
	}
	/* after deliver_start: the queues this process delivers are known */
	if (o->max_disk) {
		char cap[32];

		units_fmt_bytes(cap, sizeof(cap), o->max_disk);
		logline("max-disk: %s (%llu bytes) for %s and %s/deliver", cap, (unsigned long long)o->max_disk,
			o->out_dir, o->state_dir);
		disk_cap(w, NULL);
	}

	ro = o->ro;
	ro.pids = o->pids;
	ro.npids = o->npids;
	ro.name = o->name;
	ro.cgroup_dir = o->cgroup_dir;
	/* an incident reaches back to trigger - before, its baseline a further
	 * --baseline, and it is cut up to max-window after the trigger */
	ret = flight_start(&w->flight, &ro, o->tcfg.before_ns + o->baseline_ns + o->tcfg.max_window_ns,
			   err, sizeof(err));
	if (ret) {
		if (ret == -EPERM || ret == -EACCES)
			fprintf(stderr, "stalltrap watch: not permitted: %s\n", err);
		else
			fprintf(stderr, "stalltrap watch: %s\n", err);
		err[0] = '\0';
		goto fail;
	}
	{
		char cmdline[4096] = "";

		if (o->npids)
			proc_read_cmdline(o->pids[0], 200, cmdline, sizeof(cmdline));
		capdata_set_target(recorder_capdata(flight_recorder(w->flight)), o->pids, o->npids, w->comm, cmdline);
	}
	ret = sources_start(w->src);
	if (ret) {
		snprintf(err, sizeof(err), "cannot start the pollers: %s", strerror(-ret));
		goto fail;
	}
	ret = pthread_create(&w->writer, NULL, writer_main, w);
	if (ret) {
		snprintf(err, sizeof(err), "cannot start the writer: %s", strerror(ret));
		goto fail;
	}
	w->writer_started = true;
	update_metrics(w, mono_ns());
	status = watch_loop(w);
	goto cleanup;
fail:
	if (err[0])
		fprintf(stderr, "stalltrap watch: %s\n", err);
	status = 1;
cleanup:
	listen_stop(w->http);
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* the writer finishes the incidents already cut before it sees quit */
	if (w->writer_started)
		pthread_join(w->writer, NULL);
	/* what is not delivered yet stays queued for the next run */
	deliver_stop(w->dlv);
	control_stop(w->ctl);
	sources_free(w->src);
	flight_free(w->flight);
	trigger_free(w->trig);
	json_decref(w->inc.trigger);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return status;
}
