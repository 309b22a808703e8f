/* scen_common.h: helpers shared by the scenario workloads (tests/workloads/scen_*.c): options, gate, own cgroups, result line.
 *
 * Every scenario takes the same options:
 *   --ready FILE        created once the scenario is set up (memory touched,
 *                       cgroup joined, threads running), before the gate
 *   --start-after FILE  wait (inotify) for FILE before the stall starts
 *   --seconds S         how long the scenario runs after the gate (default 2.5)
 * and prints one JSON line at exit: {"scenario":..,"pid":..,"expect_kind":..,
 * "culprit_tid":..,"culprit_function":..,"stall_ms":.., ...}: what it did and
 * measured itself, so a test can check a recorder's verdict against it.
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
#include <sys/mman.h>
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

/* Says it is ready, then waits for the gate. */
WL_UNUSED static void scen_ready_then_gate(const struct scen_opts *o)
{
	if (o->ready)
		wl_touch(o->ready);
	if (o->start_after && wl_wait_for_file(o->start_after, 600.0))
		wl_die("%s did not appear within 600 s", o->start_after);
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

/* The whole process (file "cgroup.procs", id = pid) or one thread ("tasks", id = tid). */
WL_UNUSED static void scen_cgroup_join(int cg, const char *file, int id)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", id);
	scen_cgroup_set(cg, file, v);
}

/* "MAJ:MIN" of the whole disk under path's file system, for blkio rules. */
WL_UNUSED static void scen_disk_of(const char *path, char *out, size_t len)
{
	char p[128], buf[32];
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(path, &st))
		wl_die("stat %s:", path);
	if (major(st.st_dev) == 0)
		wl_die("scenario: %s is not on a block device", path);
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", major(st.st_dev), minor(st.st_dev));
	if (access(p, F_OK) == 0)
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../dev", major(st.st_dev), minor(st.st_dev));
	else
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/dev", major(st.st_dev), minor(st.st_dev));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		wl_die("scenario: cannot read %s:", p);
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, len, "%s", buf);
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

/* A thread that allocates the way malloc does for big blocks: mmap 64 KiB,
 * touch it, munmap, sleep 1 ms. mmap and munmap take the process's
 * mmap_lock for write, so it waits whenever someone holds the lock. It
 * records its longest and its total wait (mmap+munmap calls over 1 ms). */
struct scen_victim {
	pthread_t th;
	const atomic_bool *stop;
	uint64_t max_ns, sum_ns;
};

WL_UNUSED WL_FRAME static void scen_victim_alloc(struct scen_victim *v)
{
	uint64_t t0 = wl_now_ns(), d;
	char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		wl_die("mmap:");
	p[0] = 1;
	munmap(p, 64 << 10);
	d = wl_now_ns() - t0;
	if (d > v->max_ns)
		v->max_ns = d;
	if (d > 1000000ull)
		v->sum_ns += d;
	WL_NO_TAILCALL();
}

WL_UNUSED WL_FRAME static void *scen_victim_main(void *arg)
{
	struct scen_victim *v = arg;

	while (!atomic_load(v->stop)) {
		scen_victim_alloc(v);
		wl_sleep_until(wl_now_ns() + 1000000ull);
	}
	WL_NO_TAILCALL();
	return NULL;
}

WL_UNUSED static void scen_victims_start(struct scen_victim *v, int n, const atomic_bool *stop)
{
	for (int i = 0; i < n; i++) {
		v[i].stop = stop;
		if (pthread_create(&v[i].th, NULL, scen_victim_main, &v[i]))
			wl_die("pthread_create failed");
	}
}

/* Joins them; returns the longest wait, adds the waits to *sum_ns. */
WL_UNUSED static uint64_t scen_victims_join(struct scen_victim *v, int n, uint64_t *sum_ns)
{
	uint64_t max = 0;

	for (int i = 0; i < n; i++) {
		pthread_join(v[i].th, NULL);
		max = v[i].max_ns > max ? v[i].max_ns : max;
		*sum_ns += v[i].sum_ns;
	}
	return max;
}

#endif /* STALLTRAP_SCEN_COMMON_H */
