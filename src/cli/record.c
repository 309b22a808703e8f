/* record.c: `stalltrap record`: a fixed-window off-CPU capture of a target. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/proc.h"
#include "cli/capture_flags.h"
#include "cli/cli.h"
#include "cli/privs.h"
#include "pipeline/recorder.h"
#include "pipeline/writer.h"
#include "symbolize/symbolize.h"
#include "util/outdir.h"
#include "util/outsync.h"
#include "util/parse.h"

#define MAX_PIDS 1024
/* how long record waits for its files to reach the disk before it leaves
 * the syncing to a background process */
#define RECORD_SYNC_WAIT_MS 2000

/* record's own options; the capture flags come from capture_flags.c */
enum {
	R_PID = 0x100, R_NAME, R_CGROUP, R_DURATION, R_OUT,
};

static const struct option own_opts[] = {
	{ "pid", required_argument, NULL, R_PID },
	{ "name", required_argument, NULL, R_NAME },
	{ "cgroup", required_argument, NULL, R_CGROUP },
	{ "duration", required_argument, NULL, R_DURATION },
	{ "out", required_argument, NULL, R_OUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stalltrap record (--pid PID[,PID...] | --name COMM | --cgroup PATH)\n"
		"                        [--duration 15s] [--min-block 1ms] [--out DIR]\n"
		"\n"
		"  --pid PID[,PID...]  trace these processes (all their threads, and their children, those\n"
		"                      running at the start and those forked later)\n"
		"  --name COMM         trace every process with this comm, and those that exec it later\n"
		"  --cgroup PATH       trace every process of this cgroup, and those that join it\n"
		"  --duration D        capture window (500ms, 2s, 1m, or seconds); default 15s\n"
		"  --out DIR           output directory; default ./stalltrap-YYYYmmdd-HHMMSS\n");
	capture_flags_usage(f);
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "stalltrap record: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, " (see 'stalltrap record --help')\n");
	return EXIT_USAGE;
}

/* Creates DIR with mode 0700 (or accepts an existing directory, but not a
 * symbolic link: util/outdir.h), or a new one named after the time. */
static int make_out_dir(const char *want, char *dir, size_t len)
{
	int i;

	if (want) {
		snprintf(dir, len, "%s", want);
		return outdir_make(dir);
	}
	{
		time_t now = time(NULL);
		struct tm tm;
		char base[64];

		localtime_r(&now, &tm);
		strftime(base, sizeof(base), "stalltrap-%Y%m%d-%H%M%S", &tm);
		for (i = 1; i < 100; i++) {
			if (i == 1)
				snprintf(dir, len, "%s", base);
			else
				snprintf(dir, len, "%s-%d", base, i);
			if (mkdir(dir, 0700) == 0)
				return 0;
			if (errno != EEXIST)
				return -errno;
		}
	}
	return -EEXIST;
}

/* After the window: symbols of stripped binaries from debuginfod, within the
 * deadline; what stayed unnamed is said on stderr (and counted in report.json). */
static void late_symbols(struct capdata *cd, uint64_t timeout_ns)
{
	struct symbolize_late_opts lo = { .timeout_ns = timeout_ns };
	struct symbolize_late_result lr;

	/* (without DEBUGINFOD_URLS nothing was asked: the report's counters say so) */
	if (symbolize_late(cd, &lo, &lr) == 0 && lr.why[0] && lr.not_found + lr.timed_out + lr.failed)
		fprintf(stderr, "stalltrap: symbols incomplete after %.1f s: %s\n", lr.lookup_ns / 1e9, lr.why);
}

int cmd_record(int argc, char **argv)
{
	struct option longopts[sizeof(own_opts) / sizeof(own_opts[0]) + CAPTURE_FLAGS_N];
	pid_t pids_buf[MAX_PIDS], *pids = pids_buf, *found = NULL, *family = NULL;
	int npids = 0, ntargets = 0, opt, ret, status = EXIT_RUNTIME;
	const char *name = NULL, *cgroup = NULL, *out = NULL;
	char cgdir[4096], dir[4096], err[512] = "", comm[64] = "", cmdline[4096] = "";
	uint64_t duration_ns = 15000000000ull;
	struct capture_flags cf;
	struct recorder_opts ro;
	struct recorder *rec = NULL;
	struct sigaction sa;
	bool tty = isatty(STDERR_FILENO);

	capture_flags_longopts(longopts, own_opts);
	capture_flags_init(&cf);
	if (capture_flags_env(&cf, err, sizeof(err)))
		return usage_error("%s%s", err, "");
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case R_PID:
			npids = parse_pid_list(optarg, pids_buf, MAX_PIDS);
			if (npids <= 0)
				return usage_error("invalid --pid '%s'%s: expected PID[,PID...]", optarg, "");
			ntargets++;
			break;
		case R_NAME:
			if (!*optarg || strlen(optarg) > 15)
				return usage_error("invalid --name '%s'%s: a comm has 1 to 15 characters", optarg, "");
			name = optarg;
			ntargets++;
			break;
		case R_CGROUP:
			cgroup = optarg;
			ntargets++;
			break;
		case R_DURATION:
			if (parse_duration_ns(optarg, &duration_ns) || !duration_ns)
				return usage_error("invalid --duration '%s'%s: expected e.g. 500ms, 2s, 1m or seconds", optarg, "");
			break;
		case R_OUT:
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case '?':
			getopt_error(longopts, optopt, argv[optind - 1], err, sizeof(err));
			return usage_error("%s%s", err, "");
		default:
			if (capture_flags_apply(&cf, opt, optarg ? optarg : "", err, sizeof(err)))
				return usage_error("%s%s", err, "");
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'%s", argv[optind], "");
	if (ntargets != 1)
		return usage_error("give exactly one of --pid, --name or --cgroup%s%s", "", "");

	/* Resolve the targets: no match is an error. */
	npids = proc_resolve_targets(pids_buf, npids, name, cgroup, false, &found, cgdir,
				     sizeof(cgdir), err, sizeof(err));
	if (npids <= 0) {
		fprintf(stderr, "stalltrap record: %s\n", err);
		goto cleanup;
	}
	pids = found;
	if (geteuid() != 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		/* libbpf would fail later with a less helpful EPERM */
		fprintf(stderr, "stalltrap record: not permitted: run as root (BPF needs CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)\n");
		goto cleanup;
	}
	proc_read_comm(pids[0], comm, sizeof(comm));
	proc_read_cmdline(pids[0], 500, cmdline, sizeof(cmdline));
	ret = make_out_dir(out, dir, sizeof(dir));
	if (ret) {
		fprintf(stderr, "stalltrap record: cannot create --out directory '%s': %s\n",
			out ? out : dir, outdir_strerror(ret));
		goto cleanup;
	}
	/* temporary files a killed record left behind */
	outdir_clean_stale(dir, OUTDIR_STALE_AGE_S);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ro = cf.ro;
	ro.pids = pids;
	ro.npids = (size_t)npids;
	if (!name && !cgroup) {
		/* --pid's children forked before now too (later ones are followed):
		 * a multi-process server named by its main pid is traced whole */
		int nfam = proc_with_descendants("/proc", pids, npids, &family);

		if (nfam > npids) {
			ro.pids = family;
			ro.npids = (size_t)nfam;
		}
	}
	ro.name = name;
	ro.cgroup_dir = cgroup ? cgdir : NULL;
	ret = recorder_start(&rec, &ro, err, sizeof(err));
	if (ret) {
		/* as root, EACCES from a load is the verifier refusing a program */
		if (ret == -EPERM)
			fprintf(stderr, "stalltrap record: not permitted: %s\n", err);
		else
			fprintf(stderr, "stalltrap record: %s\n", err);
		goto cleanup;
	}
	if (cli_drop_privs(CLI_PRIVS_RECORD, 0, "record"))
		goto cleanup;
	if (name) {
		/* a process that exec'd the name between the scan and the attach
		 * was seen by neither: scan again, now that exec is followed */
		pid_t *again = NULL, *merged;
		int n = proc_find_by_comm("/proc", name, &again), m = npids;

		merged = n > 0 ? calloc((size_t)(npids + n), sizeof(*merged)) : NULL;
		if (merged) {
			memcpy(merged, pids, (size_t)npids * sizeof(*merged));
			for (int i = 0; i < n; i++) {
				bool known = false;

				for (int j = 0; j < npids && !known; j++)
					known = pids[j] == again[i];
				if (!known && !recorder_add_target(rec, again[i]))
					merged[m++] = again[i];
			}
			free(found);
			found = merged;
			pids = found;
			npids = m;
		}
		free(again);
	}
	capdata_set_target(recorder_capdata(rec), pids, (size_t)npids, comm, cmdline);
	{
		struct timespec t0, now;
		uint64_t elapsed = 0, last_progress = 0;
		const char *why = "duration";

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (elapsed < duration_ns) {
			uint64_t left_ms = (duration_ns - elapsed) / 1000000ull;

			ret = recorder_poll(rec, left_ms < 100 ? (int)left_ms + 1 : 100);
			if (ret < 0) {
				fprintf(stderr, "stalltrap record: capture failed: %s\n", strerror(-ret));
				goto cleanup;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			elapsed = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000ull + now.tv_nsec - t0.tv_nsec;
			if (stop_requested) {
				why = "signal";
				break;
			}
			if (recorder_targets_gone(rec)) {
				why = "targets exited";
				break;
			}
			if (tty && elapsed - last_progress >= 250000000ull) {
				last_progress = elapsed;
				fprintf(stderr, "\rstalltrap: recording %s (pid %d): %.1f / %.1f s, %llu blocks, %llu drops ",
					comm, (int)pids[0], elapsed / 1e9, duration_ns / 1e9,
					(unsigned long long)recorder_blocks(rec),
					(unsigned long long)recorder_drops(rec));
			}
		}
		if (tty)
			fprintf(stderr, "\r\033[K");
		if (strcmp(why, "duration"))
			fprintf(stderr, "stalltrap: capture ended early (%s) after %.1f s\n", why, elapsed / 1e9);
	}
	recorder_stop(rec);
	late_symbols(recorder_capdata(rec), cf.debuginfod_timeout_ns);
	/* The verdict is printed first, the files written to the page cache and
	 * renamed at once, then synced with a deadline: a throttled or frozen
	 * output disk (maybe the very freeze captured) must not hold record up. */
	outsync_defer(true);
	ret = writer_write(recorder_capdata(rec), dir, cf.top, stdout, NULL, NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap record: %s\n", err);
		goto cleanup;
	}
	{
		pid_t bg;

		ret = outsync_dir(dir, RECORD_SYNC_WAIT_MS, &bg);
		if (ret > 0)
			fprintf(stderr, "stalltrap record: the output disk is slow: %s/ is written but not yet on disk after %.1f s; "
				"pid %d syncs it in the background\n", dir, RECORD_SYNC_WAIT_MS / 1e3, (int)bg);
		else if (ret < 0)
			fprintf(stderr, "stalltrap record: %s/ is written but could not be synced to disk: %s\n",
				dir, strerror(-ret));
	}
	status = 0;
cleanup:
	recorder_free(rec);
	free(found);
	free(family);
	return status;
}
