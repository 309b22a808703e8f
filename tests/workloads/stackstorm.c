/* stackstorm.c: a storm of unique stacks: every block comes through one of 2^--bits distinct call paths.
 *
 * --threads threads (default 4) loop for --duration seconds: each picks a
 * random path of --bits (default 12) binary choices, descends through
 * storm_left()/storm_right() one level per bit, and sleeps 1 ms at the
 * bottom (block_storm_leaf): up to 4096 distinct user stacks, each 12+ frames
 * deep. Waits for --start-after FILE first. At exit, one JSON line:
 * {"pid":N,"blocks_ge_1ms":N,"paths":N} (paths: distinct paths taken).
 *
 * Usage: stackstorm [--threads N] [--bits B] [--duration S] [--start-after FILE]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "wl_common.h"

static atomic_ulong g_blocks;
static atomic_uchar g_seen[1 << 16];
static uint64_t g_end_ns;
static int g_bits = 12;

static void descend(unsigned path, int level);

WL_FRAME static void block_storm_leaf(void)
{
	uint64_t t0 = wl_now_ns();
	struct timespec ts = wl_ts(1000000ull);

	nanosleep(&ts, NULL);
	if (wl_now_ns() - t0 >= 1000000ull)
		atomic_fetch_add(&g_blocks, 1);
	WL_NO_TAILCALL();
}

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

static void *worker(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;

	while (wl_now_ns() < g_end_ns) {
		unsigned path = (unsigned)(wl_rand(&seed) & ((1u << g_bits) - 1));

		atomic_store(&g_seen[path], 1);
		descend(path, 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: stackstorm [--threads N] [--bits B] [--duration S] [--start-after FILE]";
	const char *start_after = NULL;
	long nthreads = 4, paths = 0;
	double duration_s = 3.0;
	pthread_t th[256];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			wl_die("%s", usage);
		if (!strcmp(a, "--threads"))
			nthreads = wl_parse_long(v, 1, 256);
		else if (!strcmp(a, "--bits"))
			g_bits = (int)wl_parse_long(v, 1, 16);
		else if (!strcmp(a, "--duration"))
			duration_s = wl_parse_seconds(v);
		else if (!strcmp(a, "--start-after"))
			start_after = v;
		else
			wl_die("%s", usage);
		i++;
	}
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("stackstorm: %s did not appear within 600 s", start_after);
	g_end_ns = wl_now_ns() + (uint64_t)(duration_s * 1e9);
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)))
			wl_die("pthread_create failed");
	for (long i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (unsigned p = 0; p < (1u << g_bits); p++)
		paths += atomic_load(&g_seen[p]);
	printf("{\"pid\":%d,\"blocks_ge_1ms\":%lu,\"paths\":%ld}\n", (int)getpid(),
	       (unsigned long)atomic_load(&g_blocks), paths);
	return 0;
}
