/* scen_mprotect.c: scenario: mmap_lock held for write by repeated mprotect over a large mapping.
 *
 * A guard thread flips a populated --size-mb MiB mapping (default 384, 4 KiB
 * pages) between PROT_READ and PROT_READ|PROT_WRITE in toggle_guard(), back
 * to back: each mprotect walks every page table entry with the mmap_lock held
 * for write. No single hold is long (a few ms), but together they hold the
 * lock nearly all the time, and three allocator threads (mmap/munmap of
 * 64 KiB) queue behind them. The culprit is the guard thread; toggle_guard is
 * the function that called mprotect.
 *
 * Usage: scen_mprotect [--size-mb N] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"mprotect","expect_kind":"mmap_lock","culprit_tid":..,
 *         "culprit_function":"toggle_guard","mprotects":N,"hold_ms":<their total>,
 *         "stall_ms":<longest victim wait>,"victims_blocked_ms":<their waits over 1 ms>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

static char *region;
static struct scen_stat holds;

WL_FRAME static void toggle_guard(int writable)
{
	uint64_t t0 = wl_now_ns();

	if (mprotect(region, (size_t)scen_size_mb << 20, PROT_READ | (writable ? PROT_WRITE : 0)))
		wl_die("mprotect:");
	scen_stat_add(&holds, wl_now_ns() - t0, 0);
	WL_NO_TAILCALL();
}

WL_FRAME static void *guard_main(void *arg)
{
	int flip = 0;

	(void)arg;
	scen_culprit_here();
	while (!atomic_load(&scen_stop))
		toggle_guard(flip ^= 1);
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	struct scen_stat waits;

	scen_parse(argc, argv, &o, "usage: scen_mprotect [--size-mb N] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", scen_opt_size_mb);
	region = mmap(NULL, (size_t)scen_size_mb << 20, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (region == MAP_FAILED)
		wl_die("mmap %ld MiB:", scen_size_mb);
	/* 4 KiB pages: one page table entry each for mprotect to rewrite */
	madvise(region, (size_t)scen_size_mb << 20, MADV_NOHUGEPAGE);
	waits = scen_victims_run(&o, guard_main);
	scen_report("mprotect", "mmap_lock", "toggle_guard", ",\"mprotects\":%ld,\"size_mb\":%ld,"
		    "\"hold_ms\":%.1f,\"stall_ms\":%.1f,\"victims_blocked_ms\":%.1f", holds.n, scen_size_mb,
		    holds.sum_ns / 1e6, waits.max_ns / 1e6, waits.sum_ns / 1e6);
	return 0;
}
