/* threadstorm.c: storms that stress a recorder: very many threads at once, a churn of short-lived ones, or unique stacks.
 *
 * --mode many: --threads threads (default 10000, 64 KiB stacks) each sleep
 *   2 ms (block_storm_sleep) every --period seconds (default 1) for
 *   --duration seconds, then exit.
 * --mode churn: --rate threads a second (default 1000) are created for
 *   --duration seconds; each sleeps 2 ms once (block_storm_sleep) and exits.
 * --mode stacks: --threads threads (say 8) loop for --duration seconds: each
 *   picks a random path of --bits (default 12) binary choices, descends
 *   through storm_left()/storm_right() one level per bit and sleeps 1 ms at
 *   the bottom (block_storm_leaf): up to 4096 distinct user stacks.
 * All wait for --start-after FILE before the first block. At exit, one JSON
 * line: {"pid":N,"threads":N,"blocks_ge_1ms":N,"paths":N,"duration_s":D},
 * blocks counted by the threads themselves (each measures its own sleep),
 * paths: the distinct paths taken (stacks mode).
 *
 * Usage: threadstorm [--mode many|churn|stacks] [--threads N] [--period S] [--rate PER_S]
 *                    [--bits B] [--duration S] [--start-after FILE]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "wl_common.h"

#define BLOCK_NS 2000000ull

static atomic_ulong g_blocks;
static atomic_uchar g_seen[1 << 16];
static uint64_t g_end_ns, g_period_ns;
static int g_bits = 12;

/* sleeps ns, counting the block when it lasted >= 1 ms */
static void timed_sleep(uint64_t ns)
{
	uint64_t t0 = wl_now_ns();
	struct timespec ts = wl_ts(ns);

	nanosleep(&ts, NULL);
	if (wl_now_ns() - t0 >= 1000000ull)
		atomic_fetch_add(&g_blocks, 1);
}

WL_FRAME static void block_storm_sleep(void)
{
	timed_sleep(BLOCK_NS);
	WL_NO_TAILCALL();
}

WL_FRAME static void block_storm_leaf(void)
{
	timed_sleep(1000000ull);
	WL_NO_TAILCALL();
}

static void descend(unsigned path, int level);

WL_FRAME static void storm_left(unsigned path, int level)
{
	descend(path, level + 1);
	WL_NO_TAILCALL();
}

WL_FRAME static void storm_right(unsigned path, int level)
{
	descend(path, level + 1);
	WL_NO_TAILCALL();
}

WL_FRAME static void descend(unsigned path, int level)
{
	if (level == g_bits)
		block_storm_leaf();
	else if (path >> level & 1)
		storm_right(path, level);
	else
		storm_left(path, level);
	WL_NO_TAILCALL();
}

static void *worker_stacks(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;

	while (wl_now_ns() < g_end_ns) {
		unsigned path = (unsigned)(wl_rand(&seed) & ((1u << g_bits) - 1));

		atomic_store(&g_seen[path], 1);
		descend(path, 0);
	}
	return NULL;
}

static void *worker_many(void *arg)
{
	uint64_t next = wl_now_ns();

	(void)arg;
	while (next + BLOCK_NS < g_end_ns) {
		block_storm_sleep();
		next += g_period_ns;
		wl_sleep_until(next < g_end_ns ? next : g_end_ns);
	}
	return NULL;
}

static void *worker_once(void *arg)
{
	(void)arg;
	block_storm_sleep();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: threadstorm [--mode many|churn] [--threads N] [--period S] [--rate PER_S] "
			    "[--duration S] [--start-after FILE]";
	const char *mode = "many", *start_after = NULL;
	long nthreads = 10000, rate = 1000, created = 0, paths = 0;
	double duration_s = 3.0, period_s = 1.0;
	pthread_attr_t attr;
	pthread_t *ts = NULL;
	uint64_t t0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			wl_die("%s", usage);
		if (!strcmp(a, "--mode"))
			mode = v;
		else if (!strcmp(a, "--threads"))
			nthreads = wl_parse_long(v, 1, 50000);
		else if (!strcmp(a, "--period"))
			period_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--bits"))
			g_bits = (int)wl_parse_long(v, 1, 16);
		else if (!strcmp(a, "--rate"))
			rate = wl_parse_long(v, 1, 100000);
		else if (!strcmp(a, "--duration"))
			duration_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else
			wl_die("%s", usage);
		i++;
	}
	if (strcmp(mode, "many") && strcmp(mode, "churn") && strcmp(mode, "stacks"))
		wl_die("%s", usage);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("threadstorm: %s did not appear within 600 s", start_after);
	t0 = wl_now_ns();
	g_end_ns = t0 + (uint64_t)(duration_s * 1e9);
	g_period_ns = (uint64_t)(period_s * 1e9);
	if (strcmp(mode, "churn")) {
		bool stacks = !strcmp(mode, "stacks");

		ts = calloc((size_t)nthreads, sizeof(*ts));
		if (!ts)
			wl_die("out of memory");
		/* the stacks mode's threads keep the default stack size: deep paths */
		for (long i = 0; i < nthreads; i++, created++)
			if (pthread_create(&ts[i], stacks ? NULL : &attr, stacks ? worker_stacks : worker_many,
					   (void *)(uintptr_t)(i + 1)))
				wl_die("pthread_create failed after %ld threads", i);
		for (long i = 0; i < nthreads; i++)
			pthread_join(ts[i], NULL);
	} else {
		uint64_t step = 1000000000ull / (uint64_t)rate, next = t0;

		while (next < g_end_ns) {
			pthread_t th;

			if (pthread_create(&th, &attr, worker_once, NULL))
				wl_die("pthread_create failed after %ld threads", created);
			pthread_detach(th);
			created++;
			next += step;
			wl_sleep_until(next);
		}
		/* the last threads' sleeps */
		wl_sleep_until(wl_now_ns() + 50 * BLOCK_NS);
	}
	for (unsigned p = 0; p < (1u << g_bits); p++)
		paths += atomic_load(&g_seen[p]);
	printf("{\"pid\":%d,\"threads\":%ld,\"blocks_ge_1ms\":%lu,\"paths\":%ld,\"duration_s\":%.3f}\n",
	       (int)getpid(), created, (unsigned long)atomic_load(&g_blocks), paths, (wl_now_ns() - t0) / 1e9);
	free(ts);
	return 0;
}
