/* offcpu_truth.c: workload whose off-CPU time per blocking function is known, for exactness tests.
 *
 * Each worker thread blocks repeatedly in exactly one function and times every
 * block itself (CLOCK_MONOTONIC around the blocking call):
 *
 *   worker_nanosleep -> block_nanosleep -> nanosleep()
 *   worker_pipe      -> block_pipe_read -> read() on a pipe  (partner_pipe writes after a delay)
 *   worker_condvar   -> block_condvar   -> pthread_cond_wait (partner_condvar signals after a delay)
 *   worker_mutex     -> block_mutex     -> pthread_mutex_lock (partner_mutex holds it for a delay)
 *
 * Block lengths are deterministic pseudo-random: --short-pct of them in
 * [1.2, 2) ms, near a 1 ms --min-block, the rest log-uniform in [2, 100] ms.
 * Partners and the main thread block only in functions with other names, so
 * summing a recorder's stacks that contain block_X gives block_X's off-CPU time.
 *
 * Usage: offcpu_truth [--duration SECONDS] [--threads N] [--seed N] [--short-pct P]
 *                     [--truth FILE] [--ready FILE] [--start-after FILE]
 *
 * --ready FILE is created once every thread runs; with --start-after FILE the
 * threads wait (inotify, no polling) until FILE exists before the first block,
 * so a recorder can attach first. --duration counts from that moment. At exit
 * the truth is written to --truth FILE (and a summary line to stdout):
 *   {"pid":N,"duration_s":D,"gate_open_unix_s":T,
 *    "functions":{"block_nanosleep":{"ms":X,"count":N,"min_ms":..,"max_ms":..,
 *                                     "gate_wait_ms":G,"tids":[..],"blocks_us":[..]},...},
 *    "chains":{"block_nanosleep":["start_thread","worker_nanosleep","block_nanosleep"],...}}
 * blocks_us lists every block (µs) so a checker can apply its own --min-block.
 * gate_wait_ms is the time the function's workers spent at the start gate
 * (from arriving there to the gate opening), off-CPU in wait_start().
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "wl_common.h"

enum kind { K_NANOSLEEP, K_PIPE, K_CONDVAR, K_MUTEX, K__COUNT };

static const char *const block_fn[K__COUNT] = {
	"block_nanosleep", "block_pipe_read", "block_condvar", "block_mutex",
};
static const char *const worker_fn[K__COUNT] = {
	"worker_nanosleep", "worker_pipe", "worker_condvar", "worker_mutex",
};

#define MAX_LOGGED_BLOCKS (1u << 20)

/* The blocks one worker thread measured. Written only by that thread; read
 * by main after the join. */
struct block_log {
	uint32_t *us;
	size_t n, cap;
	uint64_t count, total_ns, min_ns, max_ns;
	bool list_truncated;
};

struct worker {
	enum kind kind;
	int idx;
	pid_t tid;
	pthread_t thread, partner;
	uint64_t rng;                   /* delay sequence, used by whoever makes the delay */
	struct block_log log;

	int pipefd[2];                  /* K_PIPE: partner writes one byte per delay */

	pthread_mutex_t cv_lock;        /* K_CONDVAR */
	pthread_cond_t cv;
	uint64_t cv_seq;                /* bumped by the partner, under cv_lock */
	bool cv_stop;

	pthread_mutex_t held;           /* K_MUTEX: held by the partner for the delay */
	sem_t go, done;                 /* go: partner holds it, worker may try; done: worker released */
	bool m_stop;                    /* set before the last post of go */
	unsigned hold_extended;         /* times the partner waited for the worker to queue */
	double gate_enter_unix_s;       /* CLOCK_REALTIME when the worker reached the start gate */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;                    /* threads that reached wait_start() */
	bool go;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };

static atomic_bool g_stop;
static int g_short_pct = 15;

static void log_add(struct block_log *l, uint64_t ns)
{
	if (l->count == 0 || ns < l->min_ns)
		l->min_ns = ns;
	if (ns > l->max_ns)
		l->max_ns = ns;
	l->count++;
	l->total_ns += ns;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint32_t *p;

		if (cap > MAX_LOGGED_BLOCKS || !(p = realloc(l->us, cap * sizeof(*p)))) {
			l->list_truncated = true;
			return;
		}
		l->us = p;
		l->cap = cap;
	}
	l->us[l->n++] = (uint32_t)((ns + 500) / 1000);
}

/* Next delay in ns: g_short_pct % in [1.2, 2) ms, the rest log-uniform in [2, 100] ms. */
static uint64_t next_delay_ns(uint64_t *rng)
{
	double ms;

	if (wl_rand01(rng) * 100.0 < g_short_pct)
		ms = 1.2 + 0.8 * wl_rand01(rng);
	else
		ms = exp(log(2.0) + wl_rand01(rng) * (log(100.0) - log(2.0)));
	return (uint64_t)(ms * 1e6);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = wl_ts(ns);

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static double unix_now_s(void)
{
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	return (double)rt.tv_sec + rt.tv_nsec / 1e9;
}

/* Every thread parks here until main opens the gate; a worker notes when it
 * arrived, so its off-CPU time at the gate is known too. */
WL_FRAME static void wait_start(double *enter_unix_s)
{
	if (enter_unix_s)
		*enter_unix_s = unix_now_s();
	pthread_mutex_lock(&gate.lock);
	gate.started++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.go)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	WL_NO_TAILCALL();
}

/* ---- nanosleep ---- */

WL_FRAME static void block_nanosleep(struct worker *w, uint64_t ns)
{
	struct timespec ts = wl_ts(ns);
	uint64_t t0 = wl_now_ns();

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	log_add(&w->log, wl_now_ns() - t0);
	WL_NO_TAILCALL();
}

WL_FRAME static void *worker_nanosleep(void *arg)
{
	struct worker *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	wait_start(&w->gate_enter_unix_s);
	while (!atomic_load(&g_stop))
		block_nanosleep(w, next_delay_ns(&w->rng));
	WL_NO_TAILCALL();
	return NULL;
}

/* ---- pipe ---- */

WL_FRAME static ssize_t block_pipe_read(struct worker *w)
{
	char c;
	uint64_t t0 = wl_now_ns();
	ssize_t n;

	do
		n = read(w->pipefd[0], &c, 1);
	while (n < 0 && errno == EINTR);
	/* The last read ends at EOF, after the partner's last delay: still a real block. */
	log_add(&w->log, wl_now_ns() - t0);
	WL_NO_TAILCALL();
	return n;
}

WL_FRAME static void *worker_pipe(void *arg)
{
	struct worker *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	wait_start(&w->gate_enter_unix_s);
	while (block_pipe_read(w) > 0)
		;
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void partner_delay_pipe(uint64_t ns)
{
	sleep_ns(ns);
	WL_NO_TAILCALL();
}

WL_FRAME static void *partner_pipe(void *arg)
{
	struct worker *w = arg;

	wait_start(NULL);
	for (;;) {
		partner_delay_pipe(next_delay_ns(&w->rng));
		if (atomic_load(&g_stop))
			break;
		if (write(w->pipefd[1], "x", 1) != 1)
			wl_die("partner_pipe: write:");
	}
	close(w->pipefd[1]);
	WL_NO_TAILCALL();
	return NULL;
}

/* ---- condition variable ---- */

/* Called with cv_lock held; returns false once the partner said stop. */
WL_FRAME static bool block_condvar(struct worker *w, uint64_t *seen)
{
	uint64_t t0 = wl_now_ns();

	while (w->cv_seq == *seen && !w->cv_stop)
		pthread_cond_wait(&w->cv, &w->cv_lock);
	log_add(&w->log, wl_now_ns() - t0);
	*seen = w->cv_seq;
	WL_NO_TAILCALL();
	return !w->cv_stop;
}

WL_FRAME static void *worker_condvar(void *arg)
{
	struct worker *w = arg;
	uint64_t seen = 0;

	w->tid = (pid_t)syscall(SYS_gettid);
	wait_start(&w->gate_enter_unix_s);
	/* The worker owns cv_lock except inside pthread_cond_wait, so each signal
	 * finds it waiting. */
	pthread_mutex_lock(&w->cv_lock);
	while (block_condvar(w, &seen))
		;
	pthread_mutex_unlock(&w->cv_lock);
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void partner_delay_condvar(uint64_t ns)
{
	sleep_ns(ns);
	WL_NO_TAILCALL();
}

WL_FRAME static void *partner_condvar(void *arg)
{
	struct worker *w = arg;
	bool stop;

	wait_start(NULL);
	do {
		partner_delay_condvar(next_delay_ns(&w->rng));
		stop = atomic_load(&g_stop);
		pthread_mutex_lock(&w->cv_lock);
		if (stop)
			w->cv_stop = true;
		else
			w->cv_seq++;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->cv_lock);
	} while (!stop);
	WL_NO_TAILCALL();
	return NULL;
}

/* ---- contended mutex ---- */

WL_FRAME static void wait_turn_mutex(struct worker *w)
{
	while (sem_wait(&w->go) == -1 && errno == EINTR)
		;
	WL_NO_TAILCALL();
}

WL_FRAME static void block_mutex(struct worker *w)
{
	uint64_t t0 = wl_now_ns();

	pthread_mutex_lock(&w->held);
	log_add(&w->log, wl_now_ns() - t0);
	WL_NO_TAILCALL();
}

WL_FRAME static void *worker_mutex(void *arg)
{
	struct worker *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	wait_start(&w->gate_enter_unix_s);
	for (;;) {
		wait_turn_mutex(w);
		if (w->m_stop)
			break;
		block_mutex(w);
		pthread_mutex_unlock(&w->held);
		sem_post(&w->done);
	}
	WL_NO_TAILCALL();
	return NULL;
}

/* True once the worker queued on the held mutex: glibc marks a normal mutex
 * 2 ("locked, with waiters") just before the waiter's futex_wait. There is
 * nothing to wait on for "another thread sleeps on this futex", so this is
 * polled, and only when the delay ran out before the worker got there. */
static bool mutex_has_waiter(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE) == 2;
}

WL_FRAME static void partner_hold_mutex(struct worker *w, uint64_t ns)
{
	sleep_ns(ns);
	for (int i = 0; i < 2000 && !mutex_has_waiter(&w->held); i++) {
		w->hold_extended++;
		sleep_ns(500000);
	}
	WL_NO_TAILCALL();
}

WL_FRAME static void partner_wait_done(struct worker *w)
{
	while (sem_wait(&w->done) == -1 && errno == EINTR)
		;
	WL_NO_TAILCALL();
}

WL_FRAME static void *partner_mutex(void *arg)
{
	struct worker *w = arg;

	wait_start(NULL);
	while (!atomic_load(&g_stop)) {
		pthread_mutex_lock(&w->held);
		sem_post(&w->go);
		partner_hold_mutex(w, next_delay_ns(&w->rng));
		pthread_mutex_unlock(&w->held);
		partner_wait_done(w);
	}
	w->m_stop = true;
	sem_post(&w->go);
	WL_NO_TAILCALL();
	return NULL;
}

/* ---- main ---- */

WL_FRAME static void wait_deadline(uint64_t deadline_ns)
{
	wl_sleep_until(deadline_ns);
	WL_NO_TAILCALL();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: offcpu_truth [--duration SECONDS] [--threads N] [--seed N] [--short-pct P]\n"
		   "                    [--truth FILE] [--ready FILE] [--start-after FILE]\n");
}

static double g_gate_open_unix_s;   /* CLOCK_REALTIME when the gate opened */

static void write_truth(FILE *f, struct worker *ws, int nw, double duration_s, bool with_blocks)
{
	fprintf(f, "{\"pid\":%d,\"duration_s\":%.3f,\"gate_open_unix_s\":%.6f,\"functions\":{",
		(int)getpid(), duration_s, g_gate_open_unix_s);
	for (int k = 0; k < K__COUNT; k++) {
		uint64_t count = 0, total = 0, mn = UINT64_MAX, mx = 0;
		double gate_wait_s = 0;
		unsigned extended = 0;
		bool trunc = false, first = true;

		for (int i = 0; i < nw; i++) {
			struct block_log *l = &ws[i].log;

			if (ws[i].kind != (enum kind)k)
				continue;
			count += l->count;
			total += l->total_ns;
			if (l->count && l->min_ns < mn)
				mn = l->min_ns;
			if (l->max_ns > mx)
				mx = l->max_ns;
			trunc |= l->list_truncated;
			extended += ws[i].hold_extended;
			gate_wait_s += g_gate_open_unix_s - ws[i].gate_enter_unix_s;
		}
		if (!count)
			mn = 0;
		fprintf(f, "%s\"%s\":{\"ms\":%.3f,\"count\":%llu,\"min_ms\":%.3f,\"max_ms\":%.3f",
			k ? "," : "", block_fn[k], total / 1e6, (unsigned long long)count,
			mn / 1e6, mx / 1e6);
		fprintf(f, ",\"gate_wait_ms\":%.3f", gate_wait_s * 1e3);
		if (k == K_MUTEX)
			fprintf(f, ",\"hold_extended\":%u", extended);
		fprintf(f, ",\"tids\":[");
		for (int i = 0; i < nw; i++) {
			if (ws[i].kind != (enum kind)k)
				continue;
			fprintf(f, "%s%d", first ? "" : ",", (int)ws[i].tid);
			first = false;
		}
		fprintf(f, "]");
		if (with_blocks) {
			fprintf(f, ",\"blocks_truncated\":%s,\"blocks_us\":[", trunc ? "true" : "false");
			first = true;
			for (int i = 0; i < nw; i++) {
				if (ws[i].kind != (enum kind)k)
					continue;
				for (size_t j = 0; j < ws[i].log.n; j++) {
					fprintf(f, "%s%u", first ? "" : ",", ws[i].log.us[j]);
					first = false;
				}
			}
			fprintf(f, "]");
		}
		fprintf(f, "}");
	}
	fprintf(f, "},\"chains\":{");
	for (int k = 0; k < K__COUNT; k++)
		fprintf(f, "%s\"%s\":[\"start_thread\",\"%s\",\"%s\"]", k ? "," : "", block_fn[k],
			worker_fn[k], block_fn[k]);
	fprintf(f, "}}\n");
}

int main(int argc, char **argv)
{
	double duration_s = 5.0;
	long per_kind = 1, seed = 1;
	const char *truth = NULL, *ready = NULL, *start_after = NULL;
	struct worker *ws;
	int nw, nthreads = 0;
	uint64_t t_start, deadline;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--duration"))
			duration_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--threads"))
			per_kind = wl_parse_long(v, 1, 64);
		else if (!strcmp(a, "--seed"))
			seed = wl_parse_long(v, 0, LONG_MAX);
		else if (!strcmp(a, "--short-pct"))
			g_short_pct = (int)wl_parse_long(v, 0, 100);
		else if (!strcmp(a, "--truth"))
			truth = v;
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else {
			usage(stderr);
			return 2;
		}
		i++;
	}

	nw = (int)per_kind * K__COUNT;
	ws = calloc((size_t)nw, sizeof(*ws));
	if (!ws)
		wl_die("out of memory");
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		static void *(*const wfn[K__COUNT])(void *) = {
			worker_nanosleep, worker_pipe, worker_condvar, worker_mutex,
		};
		static void *(*const pfn[K__COUNT])(void *) = {
			NULL, partner_pipe, partner_condvar, partner_mutex,
		};

		w->kind = (enum kind)(i % K__COUNT);
		w->idx = i / K__COUNT;
		w->rng = (uint64_t)seed * 0x100000001b3ull + (uint64_t)i * 7919u + 1;
		if (w->kind == K_PIPE && pipe2(w->pipefd, O_CLOEXEC))
			wl_die("pipe2:");
		pthread_mutex_init(&w->cv_lock, NULL);
		pthread_cond_init(&w->cv, NULL);
		pthread_mutex_init(&w->held, NULL);
		sem_init(&w->go, 0, 0);
		sem_init(&w->done, 0, 0);
		if (pthread_create(&w->thread, NULL, wfn[w->kind], w))
			wl_die("pthread_create failed");
		nthreads++;
		if (pfn[w->kind]) {
			if (pthread_create(&w->partner, NULL, pfn[w->kind], w))
				wl_die("pthread_create failed");
			nthreads++;
		}
	}

	pthread_mutex_lock(&gate.lock);
	while (gate.started < nthreads)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	if (ready)
		wl_touch(ready);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("offcpu_truth: %s did not appear within 600 s", start_after);

	g_gate_open_unix_s = unix_now_s();
	t_start = wl_now_ns();
	deadline = t_start + (uint64_t)(duration_s * 1e9);
	pthread_mutex_lock(&gate.lock);
	gate.go = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);

	wait_deadline(deadline);
	atomic_store(&g_stop, true);
	for (int i = 0; i < nw; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].kind != K_NANOSLEEP)
			pthread_join(ws[i].partner, NULL);
	}

	if (truth) {
		FILE *f = fopen(truth, "w");

		if (!f)
			wl_die("cannot write %s:", truth);
		write_truth(f, ws, nw, (wl_now_ns() - t_start) / 1e9, true);
		if (fclose(f))
			wl_die("cannot write %s:", truth);
	}
	write_truth(stdout, ws, nw, (wl_now_ns() - t_start) / 1e9, false);
	for (int i = 0; i < nw; i++)
		free(ws[i].log.us);
	free(ws);
	return 0;
}
