/* scen_reclaim.c: scenario: threads stalled in direct reclaim under a tight memory cgroup.
 *
 * The process joins its own memory cgroup limited to --limit-mb MiB (default
 * 64). Three ingest threads copy data into files in ingest_chunk(): each
 * write() allocates page cache, charged to the cgroup; at the limit the
 * writing thread itself must reclaim (try_to_free_mem_cgroup_pages) before
 * it can go on, and with cgroup v1 it waits there for dirty pages to be
 * written back. Allocation stalls, not the disk, are what slows them down.
 *
 * Each ingester sleeps --pace-ms (default 10) after each 1 MiB: the point is
 * the cgroup's limit, not the disk, and that keeps the disk writes to a few
 * hundred MiB.
 *
 * Usage: scen_reclaim [--limit-mb N] [--pace-ms N] [--dir DIR] [--seconds S] [--ready FILE]
 *                     [--start-after FILE]
 * Prints {"scenario":"reclaim","expect_kind":"memory_reclaim","culprit_tid":null,
 *         "culprit_function":"ingest_chunk","stall_ms":<longest write>,"write_ms":<all writes>,
 *         "written_bytes":N,
 *         "failcnt":<memory.failcnt>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define INGESTERS 3
#define CHUNK (1 << 20)
#define FILE_MAX (96ull << 20)

static long limit_mb = 64;
static const char *dir = "/var/tmp";
static atomic_bool stop;
static int cg;
static uint64_t pace_ns = 10000000ull;

struct ingester {
	pthread_t th;
	int fd;
	uint64_t off, max_ns, sum_ns, bytes;
};

WL_FRAME static void ingest_chunk(struct ingester *g)
{
	static char buf[CHUNK];
	uint64_t t0 = wl_now_ns(), d;

	memset(buf, (int)(g->off >> 20), 4096);
	if (pwrite(g->fd, buf, sizeof(buf), (off_t)g->off) != (ssize_t)sizeof(buf))
		wl_die("pwrite:");
	d = wl_now_ns() - t0;
	g->max_ns = d > g->max_ns ? d : g->max_ns;
	g->sum_ns += d;
	g->bytes += sizeof(buf);
	g->off = (g->off + sizeof(buf)) % FILE_MAX;
	WL_NO_TAILCALL();
}

WL_FRAME static void *ingest_main(void *arg)
{
	struct ingester *g = arg;

	while (!atomic_load(&stop)) {
		ingest_chunk(g);
		wl_sleep_until(wl_now_ns() + pace_ns);
	}
	WL_NO_TAILCALL();
	return NULL;
}

static long cg_read_long(const char *file)
{
	char path[PATH_MAX + 64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", scen_cgroups[cg].dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--limit-mb")) {
		limit_mb = wl_parse_long(v, 8, 1 << 20);
		return 2;
	}
	if (v && !strcmp(a, "--pace-ms")) {
		pace_ns = (uint64_t)wl_parse_long(v, 0, 1000) * 1000000ull;
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
	struct ingester g[INGESTERS];
	uint64_t max = 0, sum = 0, bytes = 0;
	long fail0;
	char lim[32];
	int i;

	memset(g, 0, sizeof(g));
	scen_parse(argc, argv, &o, "usage: scen_reclaim [--limit-mb N] [--pace-ms N] [--dir DIR] [--seconds S] "
		   "[--ready FILE] [--start-after FILE]", opt);
	for (i = 0; i < INGESTERS; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/scen_reclaim.XXXXXX", dir);
		g[i].fd = mkstemp(path);
		if (g[i].fd < 0)
			wl_die("mkstemp %s:", path);
		unlink(path);
	}
	cg = scen_cgroup_make("memory");
	snprintf(lim, sizeof(lim), "%ld", limit_mb << 20);
	scen_cgroup_set(cg, "memory.limit_in_bytes", lim);
	scen_cgroup_join(cg, "cgroup.procs", (int)getpid());
	scen_ready_then_gate(&o);
	fail0 = cg_read_long("memory.failcnt");
	for (i = 0; i < INGESTERS; i++)
		if (pthread_create(&g[i].th, NULL, ingest_main, &g[i]))
			wl_die("pthread_create failed");
	wl_sleep_until(wl_now_ns() + (uint64_t)(o.seconds * 1e9));
	atomic_store(&stop, true);
	for (i = 0; i < INGESTERS; i++) {
		pthread_join(g[i].th, NULL);
		max = g[i].max_ns > max ? g[i].max_ns : max;
		sum += g[i].sum_ns;
		bytes += g[i].bytes;
		close(g[i].fd);
	}
	printf("{\"scenario\":\"reclaim\",\"pid\":%d,\"expect_kind\":\"memory_reclaim\",\"culprit_tid\":null,"
	       "\"culprit_function\":\"ingest_chunk\",\"limit_mb\":%ld,\"stall_ms\":%.1f,"
	       "\"write_ms\":%.1f,\"written_bytes\":%" PRIu64 ",\"failcnt\":%ld}\n", (int)getpid(),
	       limit_mb, max / 1e6, sum / 1e6, bytes, cg_read_long("memory.failcnt") - fail0);
	scen_cgroup_cleanup();
	return 0;
}
