/* pingpong.c: context-switch storm, two threads passing one byte back and forth over two pipes.
 *
 * Each round trip is two blocking reads, so two context switches per round
 * when pinned to one CPU (run it under `taskset -c 1`). The overhead
 * benchmark compares µs per round trip with and without tracing.
 *
 * Usage: pingpong [--rounds N] [--repeat K] [--ready FILE] [--start-after FILE] [--exit-after FILE]
 * Runs K (default 1) timed bursts of N round trips (default 200000) and prints
 * one JSON line:
 *   {"pid":N,"rounds":N,"repeat":K,"elapsed_s":X,"us_per_round":Y,"us_per_round_all":[..]}
 * us_per_round is the best (smallest) burst: on a shared machine interference
 * only ever adds time, so the minimum is the steadiest estimate. Only the
 * bursts are timed: thread creation and the start gate are not. With
 * --exit-after FILE it stays (idle) after printing until FILE appears, so
 * that a recorder targeting it outlives the measurement.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>

#include "wl_common.h"

struct side {
	int rfd, wfd;
	long rounds;
};

/* Both sides and main meet here before each burst and after it. */
static pthread_barrier_t g_barrier;
static long g_repeat = 1;

WL_FRAME static void pass_byte(const struct side *s, bool read_first)
{
	char c = 'p';

	if (!read_first && write(s->wfd, &c, 1) != 1)
		wl_die("pingpong: write:");
	if (read(s->rfd, &c, 1) != 1)
		wl_die("pingpong: read:");
	if (read_first && write(s->wfd, &c, 1) != 1)
		wl_die("pingpong: write:");
	WL_NO_TAILCALL();
}

WL_FRAME static void *ping_side(void *arg)
{
	const struct side *s = arg;

	for (long k = 0; k < g_repeat; k++) {
		pthread_barrier_wait(&g_barrier);
		for (long i = 0; i < s->rounds; i++)
			pass_byte(s, false);
		pthread_barrier_wait(&g_barrier);
	}
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void *pong_side(void *arg)
{
	const struct side *s = arg;

	for (long k = 0; k < g_repeat; k++) {
		pthread_barrier_wait(&g_barrier);
		for (long i = 0; i < s->rounds; i++)
			pass_byte(s, true);
		pthread_barrier_wait(&g_barrier);
	}
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds = 200000;
	const char *ready = NULL, *start_after = NULL, *exit_after = NULL;
	int ab[2], ba[2];
	struct side ping, pong;
	pthread_t t1, t2;
	uint64_t t0, t, best = UINT64_MAX, total = 0, *each;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: pingpong [--rounds N] [--repeat K] [--ready FILE] [--start-after FILE] [--exit-after FILE]\n");
			return 0;
		}
		if (!v)
			wl_die("usage: pingpong [--rounds N] [--repeat K] [--ready FILE] [--start-after FILE] [--exit-after FILE]");
		if (!strcmp(a, "--rounds"))
			rounds = wl_parse_long(v, 1, 1000000000L);
		else if (!strcmp(a, "--repeat"))
			g_repeat = wl_parse_long(v, 1, 1000);
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else if (!strcmp(a, "--exit-after"))
			exit_after = v;
		else
			wl_die("pingpong: unknown option %s", a);
		i++;
	}

	if (pipe2(ab, O_CLOEXEC) || pipe2(ba, O_CLOEXEC))
		wl_die("pipe2:");
	ping = (struct side){ .rfd = ba[0], .wfd = ab[1], .rounds = rounds };
	pong = (struct side){ .rfd = ab[0], .wfd = ba[1], .rounds = rounds };
	pthread_barrier_init(&g_barrier, NULL, 3);
	if (pthread_create(&t1, NULL, pong_side, &pong) || pthread_create(&t2, NULL, ping_side, &ping))
		wl_die("pthread_create failed");

	if (ready)
		wl_touch(ready);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("pingpong: %s did not appear within 600 s", start_after);

	each = calloc((size_t)g_repeat, sizeof(*each));
	if (!each)
		wl_die("out of memory");
	for (long k = 0; k < g_repeat; k++) {
		t0 = wl_now_ns();
		pthread_barrier_wait(&g_barrier);
		pthread_barrier_wait(&g_barrier);
		t = wl_now_ns() - t0;
		each[k] = t;
		total += t;
		if (t < best)
			best = t;
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("{\"pid\":%d,\"rounds\":%ld,\"repeat\":%ld,\"elapsed_s\":%.6f,\"us_per_round\":%.4f,"
	       "\"us_per_round_all\":[", (int)getpid(), rounds, g_repeat, total / 1e9,
	       best / 1e3 / (double)rounds);
	for (long k = 0; k < g_repeat; k++)
		printf("%s%.4f", k ? "," : "", each[k] / 1e3 / (double)rounds);
	printf("]}\n");
	fflush(stdout);
	free(each);
	if (exit_after && wl_wait_for_file(exit_after, 600.0))
		wl_die("pingpong: %s did not appear within 600 s", exit_after);
	return 0;
}
