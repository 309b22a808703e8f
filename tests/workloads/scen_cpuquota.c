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
static atomic_bool stop;
static volatile uint64_t sink;
static uint64_t tick_late_max;

WL_FRAME static void crunch_batch(void)
{
	sink = scen_spin(5000000ull, sink);
	WL_NO_TAILCALL();
}

WL_FRAME static void *hasher_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		crunch_batch();
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void *ticker_main(void *arg)
{
	uint64_t next = wl_now_ns();

	(void)arg;
	while (!atomic_load(&stop)) {
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

static uint64_t throttled_ns(int cg)
{
	char path[PATH_MAX + 16], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/cpu.stat", scen_cgroups[cg].dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "throttled_time ");
	return p ? strtoull(p + 15, NULL, 10) : 0;
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
	char q[32];
	int cg, i;

	scen_parse(argc, argv, &o, "usage: scen_cpuquota [--quota-us N] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	cg = scen_cgroup_make("cpu");
	scen_cgroup_set(cg, "cpu.cfs_period_us", "100000");
	snprintf(q, sizeof(q), "%ld", quota_us);
	scen_cgroup_set(cg, "cpu.cfs_quota_us", q);
	scen_cgroup_join(cg, "cgroup.procs", (int)getpid());
	scen_ready_then_gate(&o);
	thr0 = throttled_ns(cg);
	for (i = 0; i < HASHERS; i++)
		if (pthread_create(&th[i], NULL, hasher_main, NULL))
			wl_die("pthread_create failed");
	if (pthread_create(&th[HASHERS], NULL, ticker_main, NULL))
		wl_die("pthread_create failed");
	wl_sleep_until(wl_now_ns() + (uint64_t)(o.seconds * 1e9));
	atomic_store(&stop, true);
	for (i = 0; i <= HASHERS; i++)
		pthread_join(th[i], NULL);
	thr1 = throttled_ns(cg);
	scen_cgroup_cleanup();
	printf("{\"scenario\":\"cpuquota\",\"pid\":%d,\"expect_kind\":\"runqueue\",\"culprit_tid\":null,"
	       "\"culprit_function\":\"crunch_batch\",\"quota_us\":%ld,\"stall_ms\":%.1f,"
	       "\"throttled_ms\":%.1f}\n", (int)getpid(), quota_us, tick_late_max / 1e6,
	       (thr1 - thr0) / 1e6);
	return 0;
}
