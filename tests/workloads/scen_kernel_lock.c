/* scen_kernel_lock.c: scenario: contention on a kernel lock other than mmap_lock (a file's inode lock).
 *
 * Three logger threads append small records to one shared log file, each
 * through its own O_APPEND descriptor, every 5 ms: each write takes the
 * file's inode lock (i_rwsem) for a moment. 300 ms after the gate, a slow thread appends a page whose source
 * buffer is an uncached page of another file's mapping, in
 * append_from_cold_page(): the kernel takes the inode lock, then faults the
 * source page in from disk while holding it, and the fault's read is
 * throttled (the slow thread alone is in a blkio cgroup reading 4 KiB per
 * --hold seconds, default 1.5). Every logger waits on the inode lock
 * meanwhile. The culprit is the slow thread; append_from_cold_page is the
 * function whose write() held the lock.
 *
 * Usage: scen_kernel_lock [--hold S] [--dir DIR] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"kernel_lock","expect_kind":"kernel_lock","culprit_tid":..,
 *         "culprit_function":"append_from_cold_page","hold_ms":..,"stall_ms":<longest logger write>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define LOGGERS 3
#define COLD_BYTES (64 * 1024)

static double hold_s = 1.5;
static const char *dir = "/var/tmp";
static int log_fd, logger_fd[LOGGERS], cg;
static char *cold;
static uint64_t hold_ns;
static struct scen_stat writes[LOGGERS];

WL_FRAME static void append_from_cold_page(void)
{
	uint64_t t0 = wl_now_ns();

	/* one page, from the second page of the cold mapping (no read-around) */
	if (write(log_fd, cold + 4096, 4096) != 4096)
		wl_die("write from the cold page:");
	hold_ns = wl_now_ns() - t0;
	WL_NO_TAILCALL();
}

static atomic_bool slow_joined, gate_open;

WL_FRAME static void *slow_main(void *arg)
{
	(void)arg;
	scen_culprit_here();
	/* only this thread is throttled: joining takes tens of ms, done before the gate */
	scen_cgroup_join(cg, "tasks", scen_gettid());
	atomic_store(&slow_joined, true);
	/* the 300 ms count from the gate, which opens when the recorder is attached */
	while (!atomic_load(&gate_open))
		wl_sleep_until(wl_now_ns() + 1000000ull);
	wl_sleep_until(wl_now_ns() + 300000000ull);
	append_from_cold_page();
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void log_record(int l)
{
	static const char rec[64] = "log record\n";
	uint64_t t0 = wl_now_ns();

	if (write(logger_fd[l], rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		wl_die("write:");
	scen_stat_add(&writes[l], wl_now_ns() - t0, 0);
	WL_NO_TAILCALL();
}

SCEN_LOOP_THREAD(logger_main, log_record, 5000000ull)

/* A file whose pages are on disk and not in the page cache, mapped with no
 * read-around: touching its second page reads exactly that page from disk. */
static void make_cold_mapping(void)
{
	static char block[COLD_BYTES];
	unsigned char vec[COLD_BYTES / 4096];
	int fd = scen_tmpfile(dir, "scen_kernel_lock");

	memset(block, 0x5a, sizeof(block));
	if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block) || fdatasync(fd))
		wl_die("writing the cold file in %s:", dir);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	cold = mmap(NULL, COLD_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
	if (cold == MAP_FAILED)
		wl_die("mmap:");
	close(fd);
	madvise(cold, COLD_BYTES, MADV_RANDOM);
	if (mincore(cold, COLD_BYTES, vec))
		wl_die("mincore:");
	if (vec[1] & 1)
		wl_die("scen_kernel_lock: the page stayed in the page cache; cannot make a slow fault");
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--hold")) {
		hold_s = wl_parse_seconds(v);
		return 2;
	}
	if (v && !strcmp(a, "--dir")) {
		dir = v;
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	pthread_t loggers[LOGGERS], slow;
	char path[PATH_MAX];
	long bps;
	int i;

	scen_parse(argc, argv, &o, "usage: scen_kernel_lock [--hold S] [--dir DIR] [--seconds S] "
		   "[--ready FILE] [--start-after FILE]", opt);
	snprintf(path, sizeof(path), "%s/scen_kernel_lock_log.XXXXXX", dir);
	log_fd = mkstemp(path);
	if (log_fd < 0)
		wl_die("mkstemp %s:", path);
	/* separate open files: they share the inode (and its lock), not a file position */
	for (i = 0; i < LOGGERS; i++) {
		logger_fd[i] = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (logger_fd[i] < 0)
			wl_die("open %s:", path);
	}
	unlink(path);
	make_cold_mapping();
	bps = (long)(4096.0 / hold_s);
	cg = scen_blkio_cgroup(dir, "blkio.throttle.read_bps_device", bps > 0 ? bps : 1);
	scen_thread_start(&slow, slow_main, NULL);
	while (!atomic_load(&slow_joined))
		sched_yield();
	scen_ready_then_gate(&o);
	atomic_store(&gate_open, true);
	scen_threads_start(loggers, LOGGERS, logger_main);
	scen_run(&o);
	pthread_join(slow, NULL);
	scen_threads_stop(loggers, LOGGERS);
	scen_cgroup_cleanup();
	scen_report("kernel_lock", "kernel_lock", "append_from_cold_page", ",\"hold_ms\":%.1f,\"stall_ms\":%.1f",
		    hold_ns / 1e6, scen_stat_total(writes, LOGGERS).max_ns / 1e6);
	return 0;
}
