/* mmapstorm.c: mmap/munmap and page-fault heavy workload, to price the mmap_lock and fault tracing.
 *
 * --threads threads (default 2) each loop: mmap --kib KiB of anonymous memory
 * (default 64), touch every page (a page fault each: per-VMA locks take no
 * mmap_lock, but the mmap and munmap take it for write), munmap. Runs
 * --duration seconds after --start-after FILE appears, then prints one JSON
 * line: {"pid":N,"threads":N,"duration_s":D,"ops":N,"ops_per_s":X,"faults_per_s":Y}.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "wl_common.h"

static size_t map_bytes = 64 * 1024;
static uint64_t stop_ns;
static atomic_ullong total_ops;

static WL_FRAME void map_touch_unmap(void)
{
	char *p = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		wl_die("mmap: %s", strerror(errno));
	for (size_t off = 0; off < map_bytes; off += 4096)
		p[off] = 1;
	munmap(p, map_bytes);
	WL_NO_TAILCALL();
}

static WL_FRAME void *storm_main(void *arg)
{
	unsigned long long ops = 0;

	(void)arg;
	while (wl_now_ns() < stop_ns) {
		for (int i = 0; i < 64; i++)
			map_touch_unmap();
		ops += 64;
	}
	atomic_fetch_add(&total_ops, ops);
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = 2;
	double duration = 3;
	const char *gate = NULL;
	pthread_t th[64];
	uint64_t t0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = wl_parse_long(argv[++i], 1, 64);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration = wl_parse_seconds(argv[++i]);
		else if (!strcmp(argv[i], "--kib") && i + 1 < argc)
			map_bytes = (size_t)wl_parse_long(argv[++i], 4, 1 << 20) * 1024;
		else if (!strcmp(argv[i], "--start-after") && i + 1 < argc)
			gate = argv[++i];
		else
			wl_die("usage: mmapstorm [--threads N] [--duration S] [--kib K] [--start-after FILE]");
	}
	if (gate && wl_wait_for_file(gate, 60))
		wl_die("start gate %s did not appear", gate);
	t0 = wl_now_ns();
	stop_ns = t0 + (uint64_t)(duration * 1e9);
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, storm_main, NULL);
	for (long i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	{
		double secs = (wl_now_ns() - t0) / 1e9;
		unsigned long long ops = atomic_load(&total_ops);

		printf("{\"pid\":%d,\"threads\":%ld,\"duration_s\":%.3f,\"ops\":%llu,\"ops_per_s\":%.0f,\"faults_per_s\":%.0f}\n",
		       (int)getpid(), threads, secs, ops, ops / secs, ops * (map_bytes / 4096) / secs);
	}
	return 0;
}
