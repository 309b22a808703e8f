/* scen_cpuquota.c: scenario: CPU starvation by a cgroup CPU quota.
 *
 * The process joins its own cpu cgroup with cpu.cfs_quota_us = --quota-us
 * (default 20000) per 100 ms period: a fifth of one CPU. Two threads hash in
 * a loop in crunch_batch(), and a ticker thread does 1 ms of work every
 * 10 ms and measures how late it runs. Once the quota is spent every thread
 * is throttled: preempted while runnable, until the next period. The
 * verdict is runqueue (the threads that took the CPU are the hashers).
 *
 * Usage: scen_cpuquota [--quota-us N] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"cpuquota","expect_kind":"runqueue","culprit_tid":null,
 *         "culprit_function":"crunch_batch","stall_ms":<worst ticker lateness>,
 *         "throttled_ms":<cpu.stat throttled_time during the run>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define HASHERS 2

static long quota_us = 20000;
static volatile uint64_t sink;
static uint64_t tick_late_max;

WL_FRAME static void crunch_batch(int i)
{
	(void)i;
	sink = scen_spin(5000000ull, sink);
	WL_NO_TAILCALL();
}

SCEN_LOOP_THREAD(hasher_main, crunch_batch, 0)

WL_FRAME static void *ticker_main(void *arg)
{
	uint64_t next = wl_now_ns();

	(void)arg;
	while (!atomic_load(&scen_stop)) {
		uint64_t now;

		next += 10000000ull;
		wl_sleep_until(next);
		now = wl_now_ns();
		if (now - next > tick_late_max)
			tick_late_max = now - next;
		sink = scen_spin(1000000ull, sink);
		if (wl_now_ns() > next + 10000000ull)
			next = wl_now_ns();
	}
	WL_NO_TAILCALL();
	return NULL;
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--quota-us")) {
		quota_us = wl_parse_long(v, 1000, 1000000);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	pthread_t th[HASHERS + 1];
	uint64_t thr0, thr1;
	int cg;

	scen_parse(argc, argv, &o, "usage: scen_cpuquota [--quota-us N] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	cg = scen_cgroup_make("cpu");
	scen_cgroup_setn(cg, "cpu.cfs_period_us", 100000);
	scen_cgroup_setn(cg, "cpu.cfs_quota_us", quota_us);
	scen_cgroup_join(cg, "cgroup.procs", (int)getpid());
	scen_ready_then_gate(&o);
	thr0 = scen_cgroup_read(cg, "cpu.stat", "throttled_time ");
	scen_threads_start(th, HASHERS, hasher_main);
	scen_thread_start(&th[HASHERS], ticker_main, NULL);
	scen_run(&o);
	scen_threads_stop(th, HASHERS + 1);
	thr1 = scen_cgroup_read(cg, "cpu.stat", "throttled_time ");
	scen_cgroup_cleanup();
	scen_report("cpuquota", "runqueue", "crunch_batch", ",\"quota_us\":%ld,\"stall_ms\":%.1f,"
		    "\"throttled_ms\":%.1f", quota_us, tick_late_max / 1e6, (thr1 - thr0) / 1e6);
	return 0;
}
