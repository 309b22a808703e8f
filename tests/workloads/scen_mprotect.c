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

#define VICTIMS 3

static long size_mb = 384;
static atomic_bool stop;
static atomic_int guard_tid;
static char *region;
static uint64_t mprotect_ns;
static long mprotects;

WL_FRAME static void toggle_guard(int writable)
{
	uint64_t t0 = wl_now_ns();

	if (mprotect(region, (size_t)size_mb << 20, PROT_READ | (writable ? PROT_WRITE : 0)))
		wl_die("mprotect:");
	mprotect_ns += wl_now_ns() - t0;
	mprotects++;
	WL_NO_TAILCALL();
}

WL_FRAME static void *guard_main(void *arg)
{
	int flip = 0;

	(void)arg;
	atomic_store(&guard_tid, scen_gettid());
	while (!atomic_load(&stop))
		toggle_guard(flip ^= 1);
	WL_NO_TAILCALL();
	return NULL;
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--size-mb")) {
		size_mb = wl_parse_long(v, 1, 1 << 20);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	struct scen_victim v[VICTIMS];
	uint64_t sum = 0, max;
	pthread_t guard;

	memset(v, 0, sizeof(v));
	scen_parse(argc, argv, &o, "usage: scen_mprotect [--size-mb N] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	region = mmap(NULL, (size_t)size_mb << 20, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (region == MAP_FAILED)
		wl_die("mmap %ld MiB:", size_mb);
	/* 4 KiB pages: one page table entry each for mprotect to rewrite */
	madvise(region, (size_t)size_mb << 20, MADV_NOHUGEPAGE);
	scen_ready_then_gate(&o);
	scen_victims_start(v, VICTIMS, &stop);
	if (pthread_create(&guard, NULL, guard_main, NULL))
		wl_die("pthread_create failed");
	wl_sleep_until(wl_now_ns() + (uint64_t)(o.seconds * 1e9));
	atomic_store(&stop, true);
	pthread_join(guard, NULL);
	max = scen_victims_join(v, VICTIMS, &sum);
	printf("{\"scenario\":\"mprotect\",\"pid\":%d,\"expect_kind\":\"mmap_lock\",\"culprit_tid\":%d,"
	       "\"culprit_function\":\"toggle_guard\",\"mprotects\":%ld,\"size_mb\":%ld,"
	       "\"hold_ms\":%.1f,\"stall_ms\":%.1f,\"victims_blocked_ms\":%.1f}\n", (int)getpid(),
	       atomic_load(&guard_tid), mprotects, size_mb, mprotect_ns / 1e6, max / 1e6, sum / 1e6);
	return 0;
}
