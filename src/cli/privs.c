/* privs.c: the capabilities each command keeps once it runs, with the reason
 * for each: the one place that lists them (util/privs.h does the dropping).
 * The systemd unit (systemd/stalltrap-watch.service) and the DaemonSet
 * (docs/deploy.md) bound the process to the start-up set: these plus what
 * loading needs (CAP_SYS_ADMIN for --bpf-stats only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "cli/privs.h"
#include "util/privs.h"

/* record, once attached: no program is loaded again, arming and targets go
 * through mmapped map memory, the ring is mapped, the end flush reads
 * iterators of links it holds. */
static const struct priv_keep record_keep[] = {
	{ CAP_SYS_PTRACE, "read /proc/PID/maps, exe and root of targets that join later (fork, exec, "
			  "cgroup) and of holders and wakers outside the target, whoever owns them" },
	{ CAP_DAC_READ_SEARCH, "open those processes' binaries and debuginfo whatever their file modes" },
};

/* watch: as record, and each recorder generation loads and attaches its
 * programs again (a new window, a restarted target). */
static const struct priv_keep watch_keep[] = {
	{ CAP_BPF, "load the next recorder generation's programs and maps" },
	{ CAP_PERFMON, "attach its tracepoints and the on-CPU sampler's perf events" },
	{ CAP_SYSLOG, "read kernel symbol addresses in /proc/kallsyms for each generation" },
	{ CAP_SYS_PTRACE, "read /proc/PID/maps, exe and root of the targets, holders and wakers" },
	{ CAP_DAC_READ_SEARCH, "open their binaries and debuginfo whatever their file modes" },
};

/* what some options need more */
static const struct priv_keep stats_keep = { CAP_SYS_ADMIN, "BPF_ENABLE_STATS for --bpf-stats, each generation" };
static const struct priv_keep psi_keep = { CAP_SYS_RESOURCE, "a PSI trigger (--psi) on kernels before 6.5" };

int cli_drop_privs(enum cli_privs which, unsigned flags, const char *cmd)
{
	struct priv_keep keep[8];
	const struct priv_keep *list = which == CLI_PRIVS_RECORD ? record_keep : watch_keep;
	size_t n = which == CLI_PRIVS_RECORD ? sizeof(record_keep) / sizeof(record_keep[0])
					     : sizeof(watch_keep) / sizeof(watch_keep[0]);
	char err[256] = "";

	memcpy(keep, list, n * sizeof(*list));
	if ((flags & CLI_PRIVS_BPF_STATS) && which == CLI_PRIVS_WATCH)
		keep[n++] = stats_keep;
	if ((flags & CLI_PRIVS_PSI) && which == CLI_PRIVS_WATCH)
		keep[n++] = psi_keep;
	/* STALLTRAP_KEEP_PRIVS=1: for debugging with tools that need more */
	if (getenv("STALLTRAP_KEEP_PRIVS") && !strcmp(getenv("STALLTRAP_KEEP_PRIVS"), "1"))
		return 0;
	if (privs_keep_only(keep, n, err, sizeof(err))) {
		fprintf(stderr, "stalltrap %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}
