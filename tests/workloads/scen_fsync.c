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
static atomic_bool stop;

struct writer {
	pthread_t th;
	int fd;
	uint64_t max_ns, sum_ns, bytes;
	long fsyncs;
};

WL_FRAME static void persist_batch(struct writer *w)
{
	static char buf[BATCH];
	uint64_t t0, d;

	memset(buf, (int)w->fsyncs, sizeof(buf));
	if (write(w->fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		wl_die("write:");
	t0 = wl_now_ns();
	if (fsync(w->fd))
		wl_die("fsync:");
	d = wl_now_ns() - t0;
	w->max_ns = d > w->max_ns ? d : w->max_ns;
	w->sum_ns += d;
	w->bytes += sizeof(buf);
	w->fsyncs++;
	WL_NO_TAILCALL();
}

WL_FRAME static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load(&stop))
		persist_batch(w);
	WL_NO_TAILCALL();
	return NULL;
}

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
	struct writer w[WRITERS];
	char disk[32], rule[64];
	uint64_t max = 0, sum = 0, bytes = 0;
	long fsyncs = 0;
	int cg, i;

	memset(w, 0, sizeof(w));
	scen_parse(argc, argv, &o, "usage: scen_fsync [--bps N] [--dir DIR] [--seconds S] "
		   "[--ready FILE] [--start-after FILE]", opt);
	for (i = 0; i < WRITERS; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/scen_fsync.XXXXXX", dir);
		w[i].fd = mkstemp(path);
		if (w[i].fd < 0)
			wl_die("mkstemp %s:", path);
		unlink(path);
	}
	scen_disk_of(dir, disk, sizeof(disk));
	cg = scen_cgroup_make("blkio");
	snprintf(rule, sizeof(rule), "%s %ld", disk, bps);
	scen_cgroup_set(cg, "blkio.throttle.write_bps_device", rule);
	scen_cgroup_join(cg, "cgroup.procs", (int)getpid());
	scen_ready_then_gate(&o);
	for (i = 0; i < WRITERS; i++)
		if (pthread_create(&w[i].th, NULL, writer_main, &w[i]))
			wl_die("pthread_create failed");
	wl_sleep_until(wl_now_ns() + (uint64_t)(o.seconds * 1e9));
	atomic_store(&stop, true);
	for (i = 0; i < WRITERS; i++) {
		pthread_join(w[i].th, NULL);
		max = w[i].max_ns > max ? w[i].max_ns : max;
		sum += w[i].sum_ns;
		bytes += w[i].bytes;
		fsyncs += w[i].fsyncs;
		close(w[i].fd);
	}
	scen_cgroup_cleanup();
	printf("{\"scenario\":\"fsync\",\"pid\":%d,\"expect_kind\":\"io\",\"culprit_tid\":null,"
	       "\"culprit_function\":\"persist_batch\",\"bps\":%ld,\"fsyncs\":%ld,\"stall_ms\":%.1f,"
	       "\"fsync_ms\":%.1f,\"written_bytes\":%" PRIu64 "}\n", (int)getpid(), bps, fsyncs,
	       max / 1e6, sum / 1e6, bytes);
	return 0;
}
