/* threadstorm.c: thread counts that stress a recorder: very many threads at once, or a churn of short-lived ones.
 *
 * --mode many: --threads threads (default 10000, 64 KiB stacks) each sleep
 *   2 ms (block_storm_sleep) every --period seconds (default 1) for
 *   --duration seconds, then exit.
 * --mode churn: --rate threads a second (default 1000) are created for
 *   --duration seconds; each sleeps 2 ms once (block_storm_sleep) and exits.
 * Both wait for --start-after FILE before the first block. At exit, one JSON
 * line: {"pid":N,"threads":N,"blocks_ge_1ms":N,"duration_s":D}, blocks
 * counted by the threads themselves (each measures its own sleep).
 *
 * Usage: threadstorm [--mode many|churn] [--threads N] [--period S] [--rate PER_S]
 *                    [--duration S] [--start-after FILE]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "wl_common.h"

#define BLOCK_NS 2000000ull

static atomic_ulong g_blocks;
static uint64_t g_end_ns, g_period_ns;

WL_FRAME static void block_storm_sleep(void)
{
	uint64_t t0 = wl_now_ns();
	struct timespec ts = wl_ts(BLOCK_NS);

	nanosleep(&ts, NULL);
	if (wl_now_ns() - t0 >= 1000000ull)
		atomic_fetch_add(&g_blocks, 1);
	WL_NO_TAILCALL();
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
	long nthreads = 10000, rate = 1000, created = 0;
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
	if (strcmp(mode, "many") && strcmp(mode, "churn"))
		wl_die("%s", usage);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("threadstorm: %s did not appear within 600 s", start_after);
	t0 = wl_now_ns();
	g_end_ns = t0 + (uint64_t)(duration_s * 1e9);
	g_period_ns = (uint64_t)(period_s * 1e9);
	if (!strcmp(mode, "many")) {
		ts = calloc((size_t)nthreads, sizeof(*ts));
		if (!ts)
			wl_die("out of memory");
		for (long i = 0; i < nthreads; i++, created++)
			if (pthread_create(&ts[i], &attr, worker_many, NULL))
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
	printf("{\"pid\":%d,\"threads\":%ld,\"blocks_ge_1ms\":%lu,\"duration_s\":%.3f}\n", (int)getpid(), created,
	       (unsigned long)atomic_load(&g_blocks), (wl_now_ns() - t0) / 1e9);
	free(ts);
	return 0;
}
