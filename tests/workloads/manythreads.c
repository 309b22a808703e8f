/* manythreads.c: many threads blocking often, to measure a recorder's memory with many threads and stacks.
 *
 * --threads threads (default 100), each blocking --rate times a second
 * (default 200, i.e. ~5 ms blocks): even threads in nanosleep
 * (block_many_sleep), odd ones in a pthread_cond_timedwait that times out
 * (block_many_condvar). Each thread adds idx % 8 frames of nest() above the
 * block so there are a few distinct stacks, as in a real service.
 *
 * Usage: manythreads [--threads N] [--rate PER_S] [--duration SECONDS]
 *                    [--ready FILE] [--start-after FILE]
 * At exit prints one JSON line: {"pid":N,"threads":N,"duration_s":D,"blocks":N,"offcpu_ms":X}
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "wl_common.h"

struct thr {
	pthread_t th;
	int idx;
	uint64_t blocks, offcpu_ns;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;
	bool go;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };

static atomic_bool g_stop;
static uint64_t g_block_ns = 5000000;
static pthread_mutex_t g_never_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_never;   /* never signalled: timed waits on it always time out */

WL_FRAME static void wait_start(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.started++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.go)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	WL_NO_TAILCALL();
}

WL_FRAME static void block_many_sleep(struct thr *t)
{
	struct timespec ts = wl_ts(g_block_ns);
	uint64_t t0 = wl_now_ns();

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	t->blocks++;
	t->offcpu_ns += wl_now_ns() - t0;
	WL_NO_TAILCALL();
}

WL_FRAME static void block_many_condvar(struct thr *t)
{
	uint64_t t0 = wl_now_ns();
	struct timespec abs = wl_ts(t0 + g_block_ns);

	pthread_mutex_lock(&g_never_lock);
	pthread_cond_timedwait(&g_never, &g_never_lock, &abs);
	pthread_mutex_unlock(&g_never_lock);
	t->blocks++;
	t->offcpu_ns += wl_now_ns() - t0;
	WL_NO_TAILCALL();
}

WL_FRAME static void nest(struct thr *t, int level)
{
	if (level > 0)
		nest(t, level - 1);
	else if (t->idx % 2)
		block_many_condvar(t);
	else
		block_many_sleep(t);
	WL_NO_TAILCALL();
}

WL_FRAME static void *worker_many(void *arg)
{
	struct thr *t = arg;

	wait_start();
	while (!atomic_load(&g_stop))
		nest(t, t->idx % 8);
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void wait_deadline(uint64_t deadline_ns)
{
	wl_sleep_until(deadline_ns);
	WL_NO_TAILCALL();
}

int main(int argc, char **argv)
{
	const char *usage = "usage: manythreads [--threads N] [--rate PER_S] [--duration SECONDS] "
			    "[--ready FILE] [--start-after FILE]";
	long nthreads = 100, rate = 200;
	double duration_s = 15.0;
	const char *ready = NULL, *start_after = NULL;
	struct thr *ts;
	pthread_condattr_t ca;
	uint64_t t_start, blocks = 0, offcpu_ns = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s\n", usage);
			return 0;
		}
		if (!v)
			wl_die("%s", usage);
		if (!strcmp(a, "--threads"))
			nthreads = wl_parse_long(v, 1, 4096);
		else if (!strcmp(a, "--rate"))
			rate = wl_parse_long(v, 1, 100000);
		else if (!strcmp(a, "--duration"))
			duration_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else
			wl_die("%s", usage);
		i++;
	}
	g_block_ns = 1000000000ull / (uint64_t)rate;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g_never, &ca);

	ts = calloc((size_t)nthreads, sizeof(*ts));
	if (!ts)
		wl_die("out of memory");
	for (long i = 0; i < nthreads; i++) {
		ts[i].idx = (int)i;
		if (pthread_create(&ts[i].th, NULL, worker_many, &ts[i]))
			wl_die("pthread_create failed");
	}
	pthread_mutex_lock(&gate.lock);
	while (gate.started < nthreads)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	if (ready)
		wl_touch(ready);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("manythreads: %s did not appear within 600 s", start_after);

	t_start = wl_now_ns();
	pthread_mutex_lock(&gate.lock);
	gate.go = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	wait_deadline(t_start + (uint64_t)(duration_s * 1e9));
	atomic_store(&g_stop, true);

	for (long i = 0; i < nthreads; i++) {
		pthread_join(ts[i].th, NULL);
		blocks += ts[i].blocks;
		offcpu_ns += ts[i].offcpu_ns;
	}
	printf("{\"pid\":%d,\"threads\":%ld,\"duration_s\":%.3f,\"blocks\":%llu,\"offcpu_ms\":%.3f}\n",
	       (int)getpid(), nthreads, (wl_now_ns() - t_start) / 1e9, (unsigned long long)blocks,
	       offcpu_ns / 1e6);
	free(ts);
	return 0;
}
