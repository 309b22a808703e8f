/* throttle.h: the CPU throttling of the target's cgroups by their CPU quota
 * (cpu.stat: throttled time and periods), read with the memory samples. */
#ifndef STALLTRAP_THROTTLE_H
#define STALLTRAP_THROTTLE_H

#include <stdint.h>
#include <sys/types.h>

#include "capdata/capdata.h"

#define THROTTLE_MAX_CGROUPS 16

struct throttle_cg {
	char *path;             /* as in /proc/PID/cgroup */
	int fd;                 /* its cpu.stat, kept open */
	int quota_fd, period_fd; /* v1: cpu.cfs_quota_us, cpu.cfs_period_us; v2: cpu.max in quota_fd */
	uint64_t last_ns, last_throttled_ns, last_periods;
};

struct throttle {
	struct throttle_cg cg[THROTTLE_MAX_CGROUPS];
	size_t n;
	char *v1_mnt, *v2_mnt;  /* the cpu controller's v1 mount, the cgroup2 mount */
	int mnt_done;
};

/* Tracks the cgroup of the CPU controller that holds pid (once per cgroup):
 * a first read of its cpu.stat is the baseline. Quiet when there is none. */
void throttle_track(struct throttle *t, pid_t pid, uint64_t now);
/* Reads each tracked cgroup's cpu.stat and adds a throttle record when its
 * throttled time grew since the last read; returns how many records could
 * not be added (capdata full). */
uint64_t throttle_sample(struct throttle *t, uint64_t now, struct capdata *cd);
void throttle_free(struct throttle *t);

#endif
