/* longblock.c: many short blocks above a 1 ms threshold, to measure a recorder's cost per captured block.
 *
 * --threads threads (default 8) block for 1.1-3 ms each time, thousands of
 * times a second in total: even threads in nanosleep (block_short_sleep),
 * odd ones in a futex wait that times out (block_short_futex). Each block sits
 * --depth frames (default 8) of descend() below the thread entry, so user
 * stacks have a realistic depth for the unwinder. --stack-kib N puts N more
 * frames of 1 KiB each above them, so that each block sits N KiB deeper (the
 * lock waits of real servers sit 10-20 KiB below the thread's entry).
 * --late creates the threads only once the start gate opens (after a
 * recorder attached), instead of before.
 *
 * Usage: longblock [--threads N] [--duration SECONDS] [--depth N] [--stack-kib N]
 *                  [--late] [--ready FILE] [--start-after FILE]
 * At exit prints one JSON line with what it measured itself:
 *   {"pid":N,"threads":N,"duration_s":D,"blocks":N,"blocks_ge_1ms":N,"offcpu_ge_1ms_ms":X,
 *    "functions":{"block_short_sleep":{"blocks_ge_1ms":N,"ms":X},...}}
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "wl_common.h"

struct thr {
	pthread_t th;
	int idx;
	uint64_t rng;
	uint64_t blocks, ge_1ms, ge_1ms_ns;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;
	bool go;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };

static atomic_bool g_stop;
static int g_depth = 8;
static int g_stack_kib;
static uint32_t g_futex_word;        /* never changes: every futex wait times out */

static void account(struct thr *t, uint64_t ns)
{
	t->blocks++;
	if (ns >= 1000000) {
		t->ge_1ms++;
		t->ge_1ms_ns += ns;
	}
}

static uint64_t next_delay_ns(struct thr *t)
{
	return 1100000 + wl_rand(&t->rng) % 1900000;   /* 1.1 - 3.0 ms */
}

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

WL_FRAME static void block_short_sleep(struct thr *t)
{
	struct timespec ts = wl_ts(next_delay_ns(t));
	uint64_t t0 = wl_now_ns();

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	account(t, wl_now_ns() - t0);
	WL_NO_TAILCALL();
}

WL_FRAME static void block_short_futex(struct thr *t)
{
	struct timespec ts = wl_ts(next_delay_ns(t));
	uint64_t t0 = wl_now_ns();

	/* Relative timeout; an EINTR just ends this block early. */
	syscall(SYS_futex, &g_futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	account(t, wl_now_ns() - t0);
	WL_NO_TAILCALL();
}

/* Adds one stack frame per level; the work after the call keeps it from being a tail call. */
WL_FRAME static int descend(struct thr *t, int level)
{
	if (level > 0) {
		int r = descend(t, level - 1);

		WL_NO_TAILCALL();
		return r + 1;
	}
	if (t->idx % 2)
		block_short_futex(t);
	else
		block_short_sleep(t);
	WL_NO_TAILCALL();
	return 0;
}

/* A frame of 1 KiB per level, written to so that it is really used. */
WL_FRAME static int pad_kib(struct thr *t, int kib)
{
	volatile char pad[1024];
	int r;

	pad[0] = (char)kib;
	pad[sizeof(pad) - 1] = (char)kib;
	r = kib > 1 ? pad_kib(t, kib - 1) : descend(t, g_depth);
	WL_NO_TAILCALL();
	return r + pad[0] + pad[sizeof(pad) - 1] - 2 * (char)kib;
}

WL_FRAME static void *worker_longblock(void *arg)
{
	struct thr *t = arg;

	wait_start();
	while (!atomic_load(&g_stop)) {
		if (g_stack_kib)
			pad_kib(t, g_stack_kib);
		else
			descend(t, g_depth);
	}
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void wait_deadline(uint64_t deadline_ns)
{
	wl_sleep_until(deadline_ns);
	WL_NO_TAILCALL();
}

/* Creates the threads and waits until each has reached the start gate. */
static void spawn(struct thr *ts, long nthreads)
{
	for (long i = 0; i < nthreads; i++) {
		ts[i].idx = (int)i;
		ts[i].rng = 0x51ed2701u + (uint64_t)i * 7919u;
		if (pthread_create(&ts[i].th, NULL, worker_longblock, &ts[i]))
			wl_die("pthread_create failed");
	}
	pthread_mutex_lock(&gate.lock);
	while (gate.started < nthreads)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

int main(int argc, char **argv)
{
	const char *usage = "usage: longblock [--threads N] [--duration SECONDS] [--depth N] "
			    "[--stack-kib N] [--late] [--ready FILE] [--start-after FILE]";
	bool late = false;
	long nthreads = 8;
	double duration_s = 5.0;
	const char *ready = NULL, *start_after = NULL;
	struct thr *ts;
	uint64_t t_start, sums[2][2] = { { 0 } }, blocks = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s\n", usage);
			return 0;
		}
		if (!strcmp(a, "--late")) {
			late = true;
			continue;
		}
		if (!v)
			wl_die("%s", usage);
		if (!strcmp(a, "--threads"))
			nthreads = wl_parse_long(v, 1, 1024);
		else if (!strcmp(a, "--duration"))
			duration_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--depth"))
			g_depth = (int)wl_parse_long(v, 0, 200);
		else if (!strcmp(a, "--stack-kib"))
			g_stack_kib = (int)wl_parse_long(v, 0, 1024);
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else
			wl_die("%s", usage);
		i++;
	}

	ts = calloc((size_t)nthreads, sizeof(*ts));
	if (!ts)
		wl_die("out of memory");
	if (!late)
		spawn(ts, nthreads);
	if (ready)
		wl_touch(ready);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("longblock: %s did not appear within 600 s", start_after);

	t_start = wl_now_ns();
	pthread_mutex_lock(&gate.lock);
	gate.go = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	if (late)
		spawn(ts, nthreads);
	wait_deadline(t_start + (uint64_t)(duration_s * 1e9));
	atomic_store(&g_stop, true);

	for (long i = 0; i < nthreads; i++) {
		pthread_join(ts[i].th, NULL);
		blocks += ts[i].blocks;
		sums[i % 2][0] += ts[i].ge_1ms;
		sums[i % 2][1] += ts[i].ge_1ms_ns;
	}
	printf("{\"pid\":%d,\"threads\":%ld,\"duration_s\":%.3f,\"blocks\":%llu,"
	       "\"blocks_ge_1ms\":%llu,\"offcpu_ge_1ms_ms\":%.3f,\"functions\":{"
	       "\"block_short_sleep\":{\"blocks_ge_1ms\":%llu,\"ms\":%.3f},"
	       "\"block_short_futex\":{\"blocks_ge_1ms\":%llu,\"ms\":%.3f}}}\n",
	       (int)getpid(), nthreads, (wl_now_ns() - t_start) / 1e9, (unsigned long long)blocks,
	       (unsigned long long)(sums[0][0] + sums[1][0]), (sums[0][1] + sums[1][1]) / 1e6,
	       (unsigned long long)sums[0][0], sums[0][1] / 1e6,
	       (unsigned long long)sums[1][0], sums[1][1] / 1e6);
	free(ts);
	return 0;
}
