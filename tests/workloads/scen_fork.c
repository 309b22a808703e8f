/* scen_fork.c: scenario: mmap_lock held for write by fork of a process with a large heap.
 *
 * The process has a populated --heap-mb MiB heap (default 384, 4 KiB pages).
 * A snapshot thread forks in snapshot_to_child(), back to back (the child
 * exits at once, the parent reaps it): fork copies the page tables of the
 * whole heap with the parent's mmap_lock held for write (and every VMA
 * write-locked), so three allocator threads (mmap/munmap of 64 KiB) wait on
 * each fork. The culprit is the snapshot thread; snapshot_to_child is the
 * function that called fork.
 *
 * Usage: scen_fork [--heap-mb N] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"fork","expect_kind":"mmap_lock","culprit_tid":..,
 *         "culprit_function":"snapshot_to_child","forks":N,"hold_ms":<longest fork>,
 *         "stall_ms":<longest victim wait>,"victims_blocked_ms":<their waits over 1 ms>}
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "scen_common.h"

static long heap_mb = 384;
static struct scen_stat forks;

WL_FRAME static void snapshot_to_child(void)
{
	uint64_t t0 = wl_now_ns(), d;
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	d = wl_now_ns() - t0;
	if (child < 0)
		wl_die("fork:");
	scen_stat_add(&forks, d, 0);
	waitpid(child, NULL, 0);
	WL_NO_TAILCALL();
}

WL_FRAME static void *snapshot_main(void *arg)
{
	(void)arg;
	scen_culprit_here();
	while (!atomic_load(&scen_stop))
		snapshot_to_child();
	WL_NO_TAILCALL();
	return NULL;
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--heap-mb")) {
		heap_mb = wl_parse_long(v, 1, 1 << 20);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	struct scen_stat waits;
	char *heap;

	scen_parse(argc, argv, &o, "usage: scen_fork [--heap-mb N] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	heap = mmap(NULL, (size_t)heap_mb << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (heap == MAP_FAILED)
		wl_die("mmap %ld MiB:", heap_mb);
	madvise(heap, (size_t)heap_mb << 20, MADV_NOHUGEPAGE);
	waits = scen_victims_run(&o, snapshot_main);
	scen_report("fork", "mmap_lock", "snapshot_to_child", ",\"forks\":%ld,\"heap_mb\":%ld,"
		    "\"hold_ms\":%.1f,\"stall_ms\":%.1f,\"victims_blocked_ms\":%.1f", forks.n, heap_mb,
		    forks.max_ns / 1e6, waits.max_ns / 1e6, waits.sum_ns / 1e6);
	return 0;
}
