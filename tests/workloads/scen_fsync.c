/* scen_fsync.c: scenario: writers stalled on fsync to a throttled disk.
 *
 * The process joins its own blkio cgroup whose write bandwidth to the disk
 * under --dir (default /var/tmp) is --bps bytes/s (default 2 MiB/s). Three
 * writer threads each append 256 KiB to their own file and fsync() it in
 * persist_batch(), in a loop: the fsync writes the dirty pages itself and
 * waits for them, throttled, in the uninterruptible state. Writeback, not a
 * lock: the verdict is io (the writer that issued the most I/O is the
 * culprit, but any of them may be).
 *
 * Usage: scen_fsync [--bps N] [--dir DIR] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"fsync","expect_kind":"io","culprit_tid":null,"culprit_function":"persist_batch",
 *         "fsyncs":N,"stall_ms":<longest fsync>,"fsync_ms":<all fsyncs>,"written_bytes":N}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define WRITERS 3
#define BATCH (256 << 10)

static long bps = 2 << 20;
static const char *dir = "/var/tmp";
static int fds[WRITERS];
static struct scen_stat fsyncs[WRITERS];

WL_FRAME static void persist_batch(int w)
{
	static char buf[BATCH];
	uint64_t t0;

	memset(buf, (int)fsyncs[w].n, sizeof(buf));
	if (write(fds[w], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		wl_die("write:");
	t0 = wl_now_ns();
	if (fsync(fds[w]))
		wl_die("fsync:");
	scen_stat_add(&fsyncs[w], wl_now_ns() - t0, 0);
	WL_NO_TAILCALL();
}

SCEN_LOOP_THREAD(writer_main, persist_batch, 0)

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--bps")) {
		bps = wl_parse_long(v, 4096, 1L << 40);
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
	pthread_t th[WRITERS];
	struct scen_stat t;
	int cg, i;

	scen_parse(argc, argv, &o, "usage: scen_fsync [--bps N] [--dir DIR] [--seconds S] "
		   "[--ready FILE] [--start-after FILE]", opt);
	for (i = 0; i < WRITERS; i++)
		fds[i] = scen_tmpfile(dir, "scen_fsync");
	cg = scen_blkio_cgroup(dir, "blkio.throttle.write_bps_device", bps);
	scen_cgroup_join(cg, "cgroup.procs", (int)getpid());
	scen_ready_then_gate(&o);
	scen_threads_start(th, WRITERS, writer_main);
	scen_run(&o);
	scen_threads_stop(th, WRITERS);
	scen_cgroup_cleanup();
	t = scen_stat_total(fsyncs, WRITERS);
	scen_report("fsync", "io", "persist_batch", ",\"bps\":%ld,\"fsyncs\":%ld,\"stall_ms\":%.1f,"
		    "\"fsync_ms\":%.1f,\"written_bytes\":%" PRIu64, bps, t.n, t.max_ns / 1e6,
		    t.sum_ns / 1e6, (uint64_t)t.n * BATCH);
	return 0;
}
