/* scen_mmap_populate.c: scenario: mmap_lock held for read by huge MAP_POPULATE mappings.
 *
 * A loader thread maps --size-mb MiB (default 384) with MAP_POPULATE in
 * load_snapshot(): the kernel faults every page in while holding the
 * process's mmap_lock for read, so three allocator threads (mmap/munmap of
 * 64 KiB, which need it for write) wait the whole time. It does that every
 * 300 ms (unmapping in between), each time one huge populate. The culprit
 * is the loader; load_snapshot is the function that called mmap.
 *
 * Usage: scen_mmap_populate [--size-mb N] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"mmap_populate","expect_kind":"mmap_lock","culprit_tid":..,
 *         "culprit_function":"load_snapshot","populates":N,"hold_ms":<longest populate>,
 *         "stall_ms":<longest victim wait>,"victims_blocked_ms":<their waits over 1 ms>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

static struct scen_stat holds;

WL_FRAME static void load_snapshot(void)
{
	size_t len = (size_t)scen_size_mb << 20;
	uint64_t t0 = wl_now_ns(), d;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	d = wl_now_ns() - t0;
	if (p == MAP_FAILED)
		wl_die("mmap %ld MiB:", scen_size_mb);
	scen_stat_add(&holds, d, 0);
	munmap(p, len);
	WL_NO_TAILCALL();
}

WL_FRAME static void *loader_main(void *arg)
{
	(void)arg;
	scen_culprit_here();
	while (!atomic_load(&scen_stop)) {
		wl_sleep_until(wl_now_ns() + 300000000ull);
		if (!atomic_load(&scen_stop))
			load_snapshot();
	}
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	struct scen_stat waits;

	scen_parse(argc, argv, &o, "usage: scen_mmap_populate [--size-mb N] [--seconds S] "
		   "[--ready FILE] [--start-after FILE]", scen_opt_size_mb);
	waits = scen_victims_run(&o, loader_main);
	scen_report("mmap_populate", "mmap_lock", "load_snapshot", ",\"populates\":%ld,\"size_mb\":%ld,"
		    "\"hold_ms\":%.1f,\"stall_ms\":%.1f,\"victims_blocked_ms\":%.1f", holds.n, scen_size_mb,
		    holds.max_ns / 1e6, waits.max_ns / 1e6, waits.sum_ns / 1e6);
	return 0;
}
