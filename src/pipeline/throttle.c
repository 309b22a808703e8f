/* throttle.c: the CPU throttling of the target's cgroups (see throttle.h).
 *
 * A service under a CPU quota (cpu.cfs_quota_us, cpu.max: a container's CPU
 * limit) is taken off the CPU once its cgroup has spent the quota of the
 * period, runnable but not run: to the switch programs that looks like any
 * preemption. The kernel counts it in the cgroup's cpu.stat (v1:
 * nr_throttled, throttled_time in ns; v2: nr_throttled, throttled_usec);
 * reading it with the memory samples tells throttling from other processes
 * taking the CPU. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/proc.h"
#include "pipeline/throttle.h"

/* The cpu controller's v1 mount and the cgroup2 mount. */
static void find_mounts(struct throttle *t)
{
	char mnt[4096];

	t->mnt_done = 1;
	if (!proc_cgroup_mount("cpu", mnt, sizeof(mnt)))
		t->v1_mnt = strdup(mnt);
	if (!proc_cgroup_mount(NULL, mnt, sizeof(mnt)))
		t->v2_mnt = strdup(mnt);
}

/* pid's cgroup for the cpu controller (v1 when it is mounted there, else
 * the cgroup2 one): its path into path; the mount it is under, or NULL. */
static const char *cgroup_of(struct throttle *t, pid_t pid, char *path, size_t len)
{
	if (t->v1_mnt && !proc_cgroup_of(pid, "cpu", path, len))
		return t->v1_mnt;
	if (t->v2_mnt && !proc_cgroup_of(pid, NULL, path, len))
		return t->v2_mnt;
	return NULL;
}

static int open_in(const char *mnt, const char *path, const char *file)
{
	char fn[1024];

	if (snprintf(fn, sizeof(fn), "%s%s/%s", mnt, path, file) >= (int)sizeof(fn))
		return -1;
	return open(fn, O_RDONLY | O_CLOEXEC);
}

static ssize_t read_fd(int fd, char *buf, size_t len)
{
	ssize_t n = fd >= 0 ? pread(fd, buf, len - 1, 0) : -1;

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* cpu.stat's throttled periods and time (ns); false when it has none (the
 * cpu controller not enabled for a v2 cgroup). */
static bool read_stat(int fd, uint64_t *periods, uint64_t *ns)
{
	char buf[1024], *p;
	bool got_n = false, got_t = false;

	if (read_fd(fd, buf, sizeof(buf)) <= 0)
		return false;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long v;

		if (sscanf(p, "nr_throttled %llu", &v) == 1) {
			*periods = v;
			got_n = true;
		} else if (sscanf(p, "throttled_time %llu", &v) == 1) {
			*ns = v;
			got_t = true;
		} else if (sscanf(p, "throttled_usec %llu", &v) == 1) {
			*ns = v * 1000ull;
			got_t = true;
		}
	}
	return got_n && got_t;
}

/* The quota per period now: v1 from cpu.cfs_quota_us and cpu.cfs_period_us,
 * v2 from cpu.max ("max 100000", "200000 1000000"); -1: none. */
static void read_quota(const struct throttle_cg *c, int64_t *quota, uint64_t *period)
{
	char a[64], b[64];
	long long q = -1;
	unsigned long long per = 0;

	*quota = -1;
	*period = 0;
	if (c->period_fd >= 0) {
		if (read_fd(c->quota_fd, a, sizeof(a)) > 0 && read_fd(c->period_fd, b, sizeof(b)) > 0 &&
		    sscanf(a, "%lld", &q) == 1 && sscanf(b, "%llu", &per) == 1) {
			*quota = q < 0 ? -1 : q;
			*period = per;
		}
	} else if (read_fd(c->quota_fd, a, sizeof(a)) > 0) {
		if (sscanf(a, "%lld %llu", &q, &per) == 2)
			*quota = q;
		else if (sscanf(a, "max %llu", &per) == 1)
			*quota = -1;
		*period = per;
	}
}

void throttle_track(struct throttle *t, pid_t pid, uint64_t now)
{
	char path[512];
	const char *mnt;
	struct throttle_cg *c;
	size_t i;

	if (!t->mnt_done)
		find_mounts(t);
	if (t->n >= THROTTLE_MAX_CGROUPS || !(mnt = cgroup_of(t, pid, path, sizeof(path))) || !strcmp(path, "/"))
		return;
	for (i = 0; i < t->n; i++) {
		if (!strcmp(t->cg[i].path, path))
			return;
	}
	c = &t->cg[t->n];
	memset(c, 0, sizeof(*c));
	c->quota_fd = c->period_fd = -1;
	if ((c->fd = open_in(mnt, path, "cpu.stat")) < 0)
		return;
	if (!read_stat(c->fd, &c->last_periods, &c->last_throttled_ns) || !(c->path = strdup(path))) {
		close(c->fd);
		return;
	}
	if (mnt == t->v1_mnt) {
		c->quota_fd = open_in(mnt, path, "cpu.cfs_quota_us");
		c->period_fd = open_in(mnt, path, "cpu.cfs_period_us");
	} else {
		c->quota_fd = open_in(mnt, path, "cpu.max");
	}
	c->last_ns = now;
	t->n++;
}

uint64_t throttle_sample(struct throttle *t, uint64_t now, struct capdata *cd)
{
	uint64_t full = 0;
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct throttle_cg *c = &t->cg[i];
		uint64_t periods = c->last_periods, ns = c->last_throttled_ns;
		struct cap_throttle r;

		if (!read_stat(c->fd, &periods, &ns))
			continue;
		if (ns > c->last_throttled_ns) {
			r = (struct cap_throttle){ .cgroup = c->path, .from_ns = c->last_ns, .ts_ns = now,
						   .throttled_ns = ns - c->last_throttled_ns,
						   .periods = (uint32_t)(periods - c->last_periods) };
			read_quota(c, &r.quota_us, &r.period_us);
			if (capdata_add_throttle(cd, &r))
				full++;
		}
		c->last_ns = now;
		c->last_periods = periods;
		c->last_throttled_ns = ns;
	}
	return full;
}

void throttle_free(struct throttle *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->cg[i].path);
		close(t->cg[i].fd);
		if (t->cg[i].quota_fd >= 0)
			close(t->cg[i].quota_fd);
		if (t->cg[i].period_fd >= 0)
			close(t->cg[i].period_fd);
	}
	free(t->v1_mnt);
	free(t->v2_mnt);
	memset(t, 0, sizeof(*t));
}
