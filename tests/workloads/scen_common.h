/* scen_common.h: helpers shared by the scenario workloads (tests/workloads/scen_*.c): options, gate, own cgroups, result line.
 *
 * Every scenario takes the same options:
 *   --ready FILE        created once the scenario is set up (memory touched,
 *                       cgroup joined, threads running), before the gate
 *   --start-after FILE  wait (inotify) for FILE before the stall starts
 *   --seconds S         how long the scenario runs after the gate (default 2.5)
 * and prints one JSON line at exit (scen_report): {"scenario":..,"pid":..,
 * "expect_kind":..,"culprit_tid":..,"culprit_function":..,"stall_ms":.., ...}:
 * what it did and measured itself, so a test can check a recorder's verdict
 * against it.
 *
 * A scenario keeps its own functions (the frames the stacks must name) and
 * its main's order of events. Here: starting and joining threads, the stop
 * flag, the loop and one-shot culprit thread bodies (macros: each scenario's
 * threads keep their own names under start_thread), the culprit's tid,
 * self-measured durations (scen_stat) and the mmap_lock victims.
 *
 * Cgroups: a scenario that needs one makes it *below its own cgroup* of that
 * controller (cgroup v1 at /sys/fs/cgroup/CTRL, as /proc/self/cgroup says),
 * named stalltrap_scen_PID, and removes it at exit, also on SIGINT/SIGTERM;
 * leftovers of killed runs (their pid gone) are removed at the next start.
 *
 * Header-only like wl_common.h (the Makefile builds each scenario as one
 * file); after editing it, touch the scenarios or run make clean.
 */
#ifndef STALLTRAP_SCEN_COMMON_H
#define STALLTRAP_SCEN_COMMON_H

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "wl_common.h"

#define SCEN_CG_PREFIX "stalltrap_scen_"

struct scen_opts {
	const char *ready;
	const char *start_after;
	double seconds;
};

WL_UNUSED static int scen_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Parses the common options; a scenario's own come back through other(),
 * which returns how many arguments it used (0: unknown option). */
WL_UNUSED static void scen_parse(int argc, char **argv, struct scen_opts *o, const char *usage,
				 int (*other)(const char *opt, const char *val))
{
	int i, used;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s\n", usage);
			exit(0);
		}
		if (v && !strcmp(a, "--ready")) {
			o->ready = v;
		} else if (v && !strcmp(a, "--start-after")) {
			o->start_after = v;
		} else if (v && !strcmp(a, "--seconds")) {
			o->seconds = wl_parse_seconds(v);
		} else if (other && (used = other(a, v)) > 0) {
			i += used - 1;
			continue;
		} else {
			wl_die("%s", usage);
		}
		i++;
	}
}

/* --size-mb N, for the scenarios that map a region of N MiB (default 384):
 * pass scen_opt_size_mb to scen_parse as other, read scen_size_mb. */
WL_UNUSED static long scen_size_mb = 384;

WL_UNUSED static int scen_opt_size_mb(const char *a, const char *v)
{
	if (v && !strcmp(a, "--size-mb")) {
		scen_size_mb = wl_parse_long(v, 1, 1 << 20);
		return 2;
	}
	return 0;
}

/* Says it is ready, then waits for the gate. */
WL_UNUSED static void scen_ready_then_gate(const struct scen_opts *o)
{
	if (o->ready)
		wl_touch(o->ready);
	if (o->start_after && wl_wait_for_file(o->start_after, 600.0))
		wl_die("%s did not appear within 600 s", o->start_after);
}

/* ---- the run: threads, stop flag, culprit, measured waits, report ---- */

/* Set when the scenario's time is up: every thread's loop polls it. */
WL_UNUSED static atomic_bool scen_stop;
/* The culprit's tid for the report; 0 (printed null) when the culprit is
 * one of several threads, or nobody. */
WL_UNUSED static atomic_int scen_culprit_tid;

/* Called by the culprit thread itself. */
WL_UNUSED static void scen_culprit_here(void)
{
	atomic_store(&scen_culprit_tid, scen_gettid());
}

/* When the scenario's --seconds, counted from now, are over. */
WL_UNUSED static uint64_t scen_deadline(const struct scen_opts *o)
{
	return wl_now_ns() + (uint64_t)(o->seconds * 1e9);
}

/* The main thread's part while the others run: sleeping --seconds. */
WL_UNUSED static void scen_run(const struct scen_opts *o)
{
	wl_sleep_until(scen_deadline(o));
}

WL_UNUSED static void scen_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	if (pthread_create(th, NULL, fn, arg))
		wl_die("pthread_create failed");
}

/* n threads of fn, each given its index (intptr_t) as argument. */
WL_UNUSED static void scen_threads_start(pthread_t *th, int n, void *(*fn)(void *))
{
	for (int i = 0; i < n; i++)
		scen_thread_start(&th[i], fn, (void *)(intptr_t)i);
}

WL_UNUSED static void scen_threads_join(pthread_t *th, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* Tells every loop to end, then joins n threads. */
WL_UNUSED static void scen_threads_stop(pthread_t *th, int n)
{
	atomic_store(&scen_stop, true);
	scen_threads_join(th, n);
}

/* Defines name, the body of loop threads (started by scen_threads_start):
 * op(the thread's index), a rest of rest_ns (0: none), again, until the
 * stop flag. */
#define SCEN_LOOP_THREAD(name, op, rest_ns)					\
	WL_FRAME static void *name(void *arg)					\
	{									\
		while (!atomic_load(&scen_stop)) {				\
			op((int)(intptr_t)arg);					\
			if (rest_ns)						\
				wl_sleep_until(wl_now_ns() + (rest_ns));	\
		}								\
		WL_NO_TAILCALL();						\
		return NULL;							\
	}

/* Defines name, a culprit thread whose stall is one call: it marks itself
 * the culprit, gives the others 300 ms to get going, then calls op(). */
#define SCEN_CULPRIT_THREAD(name, op)						\
	WL_FRAME static void *name(void *arg)					\
	{									\
		(void)arg;							\
		scen_culprit_here();						\
		wl_sleep_until(wl_now_ns() + 300000000ull);			\
		op();								\
		WL_NO_TAILCALL();						\
		return NULL;							\
	}

/* Durations (waits, holds) one thread measured itself: the longest, the
 * sum of those over a floor (short ones are not stalls), and how many there
 * were. One writer per scen_stat; read after it is joined. */
struct scen_stat {
	uint64_t max_ns, sum_ns;
	long n;
};

WL_UNUSED static void scen_stat_add(struct scen_stat *s, uint64_t d, uint64_t floor_ns)
{
	if (d > s->max_ns)
		s->max_ns = d;
	if (d > floor_ns)
		s->sum_ns += d;
	s->n++;
}

/* Of n threads' stats: the longest of all, the sums added up. */
WL_UNUSED static struct scen_stat scen_stat_total(const struct scen_stat *s, int n)
{
	struct scen_stat t = { 0 };

	for (int i = 0; i < n; i++) {
		t.max_ns = s[i].max_ns > t.max_ns ? s[i].max_ns : t.max_ns;
		t.sum_ns += s[i].sum_ns;
		t.n += s[i].n;
	}
	return t;
}

/* The JSON line: the keys every scenario has, then its own (fmt, which
 * starts with a comma). fn NULL leaves culprit_function out. */
WL_UNUSED __attribute__((format(printf, 4, 5)))
static void scen_report(const char *scenario, const char *kind, const char *fn, const char *fmt, ...)
{
	int tid = atomic_load(&scen_culprit_tid);
	va_list ap;

	printf("{\"scenario\":\"%s\",\"pid\":%d,\"expect_kind\":\"%s\",\"culprit_tid\":", scenario,
	       (int)getpid(), kind);
	if (tid)
		printf("%d", tid);
	else
		fputs("null", stdout);
	if (fn)
		printf(",\"culprit_function\":\"%s\"", fn);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("}\n", stdout);
}

/* A file in dir with no name left (mkstemp, unlink): nothing to clean up. */
WL_UNUSED static int scen_tmpfile(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.XXXXXX", dir, name);
	fd = mkstemp(path);
	if (fd < 0)
		wl_die("mkstemp %s:", path);
	unlink(path);
	return fd;
}

/* A service's main thread between requests, for --seconds from now:
 * epoll_wait (1 s timeouts) on a socket nobody writes to, idle by nature. */
WL_UNUSED static void scen_epoll_idle(const struct scen_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t end = scen_deadline(o);
	int sv[2], ep;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev))
		wl_die("socketpair/epoll:");
	while (wl_now_ns() < end) {
		uint64_t left_ms = (end - wl_now_ns()) / 1000000ull;

		epoll_wait(ep, &ev, 1, left_ms > 1000 ? 1000 : (int)left_ms + 1);
	}
}

/* ---- cgroups (v1) ---- */

struct scen_cgroup {
	char dir[PATH_MAX];     /* ours */
	char parent[PATH_MAX];  /* where we were, and go back to */
};

#define SCEN_MAX_CGROUPS 4
static struct scen_cgroup scen_cgroups[SCEN_MAX_CGROUPS];
static int scen_ncgroups;

WL_UNUSED static int scen_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

WL_UNUSED static void scen_cgroup_cleanup(void)
{
	char pid[32];
	int i;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (i = scen_ncgroups; i-- > 0;) {
		char path[PATH_MAX + 32];

		/* every thread back to where it was, then the group can go */
		snprintf(path, sizeof(path), "%s/cgroup.procs", scen_cgroups[i].parent);
		scen_write(path, pid);
		if (rmdir(scen_cgroups[i].dir) && errno != ENOENT)
			fprintf(stderr, "scenario: cannot remove %s: %s\n", scen_cgroups[i].dir,
				strerror(errno));
	}
	scen_ncgroups = 0;
}

WL_UNUSED static void scen_on_signal(int sig)
{
	scen_cgroup_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Our cgroup of controller ctrl, from /proc/self/cgroup ("4:memory:/a/b"). */
WL_UNUSED static void scen_own_cgroup(const char *ctrl, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		wl_die("cannot read /proc/self/cgroup:");
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *tok, *save;

		if (!c2)
			continue;
		*c2 = '\0';
		for (tok = strtok_r(c1 + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!strcmp(tok, ctrl)) {
				c2[1 + strcspn(c2 + 1, "\n")] = '\0';
				snprintf(out, len, "/sys/fs/cgroup/%s%s", ctrl,
					 strcmp(c2 + 1, "/") ? c2 + 1 : "");
				fclose(f);
				return;
			}
		}
	}
	fclose(f);
	wl_die("scenario: no cgroup v1 '%s' controller in /proc/self/cgroup", ctrl);
}

/* Removes groups of earlier runs that were killed before cleaning up. */
WL_UNUSED static void scen_remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX + 300];
		long pid;

		if (strncmp(e->d_name, SCEN_CG_PREFIX, sizeof(SCEN_CG_PREFIX) - 1))
			continue;
		pid = strtol(e->d_name + sizeof(SCEN_CG_PREFIX) - 1, NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
			snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
			rmdir(path);
		}
	}
	closedir(d);
}

/* Makes our cgroup of ctrl; returns its index for scen_cgroup_set/join. */
WL_UNUSED static int scen_cgroup_make(const char *ctrl)
{
	struct scen_cgroup *cg;

	if (scen_ncgroups == SCEN_MAX_CGROUPS)
		wl_die("scenario: too many cgroups");
	cg = &scen_cgroups[scen_ncgroups];
	scen_own_cgroup(ctrl, cg->parent, sizeof(cg->parent));
	scen_remove_stale(cg->parent);
	if (snprintf(cg->dir, sizeof(cg->dir), "%s/" SCEN_CG_PREFIX "%d", cg->parent,
		     (int)getpid()) >= (int)sizeof(cg->dir))
		wl_die("scenario: cgroup path too long");
	if (mkdir(cg->dir, 0755) && errno != EEXIST)
		wl_die("scenario: mkdir %s (needs root and cgroup v1 %s):", cg->dir, ctrl);
	if (!scen_ncgroups++) {
		atexit(scen_cgroup_cleanup);
		signal(SIGINT, scen_on_signal);
		signal(SIGTERM, scen_on_signal);
	}
	return scen_ncgroups - 1;
}

WL_UNUSED static void scen_cgroup_set(int cg, const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	int err;

	snprintf(path, sizeof(path), "%s/%s", scen_cgroups[cg].dir, file);
	if ((err = scen_write(path, value)))
		wl_die("scenario: cannot write '%s' to %s: %s", value, path, strerror(-err));
}

WL_UNUSED static void scen_cgroup_setn(int cg, const char *file, long long value)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", value);
	scen_cgroup_set(cg, file, v);
}

/* The whole process (file "cgroup.procs", id = pid) or one thread ("tasks", id = tid). */
WL_UNUSED static void scen_cgroup_join(int cg, const char *file, int id)
{
	scen_cgroup_setn(cg, file, id);
}

/* A number from one of our group's files: the whole file, or the value
 * after key ("throttled_time " in cpu.stat); 0 when unreadable. */
WL_UNUSED static uint64_t scen_cgroup_read(int cg, const char *file, const char *key)
{
	char path[PATH_MAX + 64], buf[512], *p = buf;

	snprintf(path, sizeof(path), "%s/%s", scen_cgroups[cg].dir, file);
	if (wl_read_text(path, buf, sizeof(buf)) < 0 || (key && !(p = strstr(buf, key))))
		return 0;
	return strtoull(p + (key ? strlen(key) : 0), NULL, 10);
}

/* "MAJ:MIN" of the whole disk under path's file system, for blkio rules. */
WL_UNUSED static void scen_disk_of(const char *path, char *out, size_t len)
{
	char p[128], buf[32];
	struct stat st;

	if (stat(path, &st))
		wl_die("stat %s:", path);
	if (major(st.st_dev) == 0)
		wl_die("scenario: %s is not on a block device", path);
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", major(st.st_dev), minor(st.st_dev));
	if (access(p, F_OK) == 0)
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../dev", major(st.st_dev), minor(st.st_dev));
	else
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/dev", major(st.st_dev), minor(st.st_dev));
	if (wl_read_text(p, buf, sizeof(buf)) < 0)
		wl_die("scenario: cannot read %s:", p);
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, len, "%s", buf);
}

/* Our blkio group, with file (blkio.throttle.read_bps_device or
 * write_bps_device) set to bps bytes/s on the disk under dir. */
WL_UNUSED static int scen_blkio_cgroup(const char *dir, const char *file, long bps)
{
	char disk[32], rule[64];
	int cg;

	scen_disk_of(dir, disk, sizeof(disk));
	cg = scen_cgroup_make("blkio");
	snprintf(rule, sizeof(rule), "%s %ld", disk, bps);
	scen_cgroup_set(cg, file, rule);
	return cg;
}

/* Spins on arithmetic the compiler cannot drop, for about ns nanoseconds of
 * wall time; returns the result so the caller can publish it. Inlined into
 * its caller on purpose: the caller is the function the stacks must name. */
static inline __attribute__((always_inline)) uint64_t scen_spin(uint64_t ns, uint64_t seed)
{
	uint64_t end = wl_now_ns() + ns, x = seed | 1;

	while (wl_now_ns() < end) {
		for (int i = 0; i < 4096; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	return x;
}

/* ---- mmap_lock victims ---- */

/* SCEN_VICTIMS threads that allocate the way malloc does for big blocks:
 * mmap 64 KiB, touch it, munmap, sleep 1 ms. mmap and munmap take the
 * process's mmap_lock for write, so they wait whenever someone holds the
 * lock. Each records its waits (mmap+munmap calls; over 1 ms count in the sum). */
#define SCEN_VICTIMS 3
static struct scen_stat scen_victim_waits[SCEN_VICTIMS];

WL_UNUSED WL_FRAME static void scen_victim_alloc(int i)
{
	uint64_t t0 = wl_now_ns();
	char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		wl_die("mmap:");
	p[0] = 1;
	munmap(p, 64 << 10);
	scen_stat_add(&scen_victim_waits[i], wl_now_ns() - t0, 1000000ull);
	WL_NO_TAILCALL();
}

SCEN_LOOP_THREAD(scen_victim_main, scen_victim_alloc, 1000000ull)

/* An mmap_lock scenario's run: after the gate, the victims and the culprit
 * thread (culprit_main) for --seconds; returns the victims' waits. */
WL_UNUSED static struct scen_stat scen_victims_run(const struct scen_opts *o, void *(*culprit_main)(void *))
{
	pthread_t victims[SCEN_VICTIMS], culprit;

	scen_ready_then_gate(o);
	scen_threads_start(victims, SCEN_VICTIMS, scen_victim_main);
	scen_thread_start(&culprit, culprit_main, NULL);
	scen_run(o);
	atomic_store(&scen_stop, true);
	pthread_join(culprit, NULL);
	scen_threads_join(victims, SCEN_VICTIMS);
	return scen_stat_total(scen_victim_waits, SCEN_VICTIMS);
}

#endif /* STALLTRAP_SCEN_COMMON_H */
