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
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/recorder.h"
#include "util/parse.h"

#define MAX_PIDS 1024

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
		"  --pid PID[,PID...]  trace these processes (all their threads, and their children)\n"
		"  --name COMM         trace every process with this comm, and those that exec it later\n"
		"  --cgroup PATH       trace every process of this cgroup, and those that join it\n"
		"  --duration D        capture window (500ms, 2s, 1m, or seconds); default 15s\n"
		"  --min-block D       blocks shorter than this are only counted; default 1ms\n"
		"  --no-locks          no cause tracing (lock waits, mmap_lock holders, wakers,\n"
		"                      on-CPU samples, I/O): the off-CPU profile only\n"
		"  --hold-threshold D  report mmap_lock holders above this total; default 10ms\n"
		"  --out DIR           output directory; default ./stalltrap-YYYYmmdd-HHMMSS\n"
		"  --top N             call sites in the printed summary; default 10\n"
		"  --max-ustack BYTES  user stack copied per block (1024..16384); default 8192\n"
		"  --ringbuf-kb N      ring buffer size in KiB (power of two, >= 4); default 8192\n"
		"  --bpf-stats         measure the BPF programs' run time into report.json\n"
		"                      (the kernel's stats cost ~20-40 ns per program run)\n");
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "stalltrap record: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, " (see 'stalltrap record --help')\n");
	return EXIT_USAGE;
}

/* Creates DIR with mode 0700 (or accepts an existing directory). */
static int make_out_dir(const char *want, char *dir, size_t len)
{
	struct stat st;
	int i;

	if (want) {
		snprintf(dir, len, "%s", want);
		if (mkdir(dir, 0700) == 0)
			return 0;
		if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return -errno;
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

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "min-block", required_argument, NULL, 'm' },
		{ "out", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 't' },
		{ "max-ustack", required_argument, NULL, 'U' },
		{ "ringbuf-kb", required_argument, NULL, 'R' },
		{ "bpf-stats", no_argument, NULL, 'S' },
		{ "no-locks", no_argument, NULL, 'L' },
		{ "hold-threshold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	pid_t pids_buf[MAX_PIDS], *pids = pids_buf, *found = NULL;
	int npids = 0, ntargets = 0, opt, ret, status = EXIT_RUNTIME;
	const char *name = NULL, *cgroup = NULL, *out = NULL;
	char cgdir[4096], dir[4096], err[512] = "", comm[64] = "", cmdline[4096] = "";
	uint64_t duration_ns = 15000000000ull, min_block_ns = 1000000ull, v;
	uint64_t top = 10, max_ustack = 8192, ringbuf_kb = 0;
	struct recorder_opts ro = { 0 };
	struct recorder *rec = NULL;
	struct sigaction sa;
	bool tty = isatty(STDERR_FILENO), bpf_stats = false, no_locks = false;
	uint64_t hold_threshold_ns = 10000000ull;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			npids = parse_pid_list(optarg, pids_buf, MAX_PIDS);
			if (npids <= 0)
				return usage_error("invalid --pid '%s'%s: expected PID[,PID...]", optarg, "");
			ntargets++;
			break;
		case 'n':
			if (!*optarg || strlen(optarg) > 15)
				return usage_error("invalid --name '%s'%s: a comm has 1 to 15 characters", optarg, "");
			name = optarg;
			ntargets++;
			break;
		case 'c':
			cgroup = optarg;
			ntargets++;
			break;
		case 'd':
			if (parse_duration_ns(optarg, &duration_ns) || !duration_ns)
				return usage_error("invalid --duration '%s'%s: expected e.g. 500ms, 2s, 1m or seconds", optarg, "");
			break;
		case 'm':
			if (parse_duration_ns(optarg, &min_block_ns))
				return usage_error("invalid --min-block '%s'%s: expected e.g. 1ms, 500us", optarg, "");
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			if (parse_u64(optarg, 1, 1000, &top))
				return usage_error("invalid --top '%s'%s: expected 1..1000", optarg, "");
			break;
		case 'U':
			if (parse_u64(optarg, 1024, 16384, &max_ustack))
				return usage_error("invalid --max-ustack '%s'%s: expected 1024..16384", optarg, "");
			break;
		case 'R':
			if (parse_u64(optarg, 4, 1 << 20, &v) || (v & (v - 1)))
				return usage_error("invalid --ringbuf-kb '%s'%s: expected a power of two >= 4", optarg, "");
			ringbuf_kb = v;
			break;
		case 'S':
			bpf_stats = true;
			break;
		case 'L':
			no_locks = true;
			break;
		case 'H':
			if (parse_duration_ns(optarg, &hold_threshold_ns))
				return usage_error("invalid --hold-threshold '%s'%s: expected e.g. 10ms", optarg, "");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case '?':
		default:
			if (optopt)
				return usage_error("option '-%c'%s needs a value or is unknown", (char[]){ (char)optopt, 0 }, "");
			return usage_error("unknown option '%s'%s", argv[optind - 1], "");
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
			out ? out : dir, strerror(-ret));
		goto cleanup;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ro.pids = pids;
	ro.npids = (size_t)npids;
	ro.name = name;
	ro.cgroup_dir = cgroup ? cgdir : NULL;
	ro.min_block_ns = min_block_ns;
	ro.max_ustack = (uint32_t)max_ustack;
	ro.ringbuf_kb = (uint32_t)ringbuf_kb;
	ro.bpf_stats = bpf_stats;
	ro.no_locks = no_locks;
	ro.hold_threshold_ns = hold_threshold_ns;
	ret = recorder_start(&rec, &ro, err, sizeof(err));
	if (ret) {
		/* as root, EACCES from a load is the verifier refusing a program */
		if (ret == -EPERM)
			fprintf(stderr, "stalltrap record: not permitted: %s\n", err);
		else
			fprintf(stderr, "stalltrap record: %s\n", err);
		goto cleanup;
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
	ret = output_write_all(recorder_capdata(rec), dir, (int)top, stdout, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap record: %s\n", err);
		goto cleanup;
	}
	status = 0;
cleanup:
	recorder_free(rec);
	free(found);
	return status;
}
