/* feedstore.c: the freeze demo's service, a small in-memory "feed store".
 *
 * It reenacts the origin story's incident. Worker threads (libmicrohttpd's
 * thread pool) answer GET /feed?user=U on loopback: each request looks up the
 * feeds of U and of the 31 users U follows in an open-addressing hash table,
 * and renders them into a response buffer big enough for glibc to mmap it
 * (so every request does an mmap and a munmap). A writer thread keeps
 * inserting feeds (and, once a doubled table would be 7/8 full, updating
 * them instead: the demo is one doubling). The table doubles when an insert would take it past 7/8 of
 * its slots, as Rust's hashbrown does; the origin's map had just passed
 * 58,720,256 entries, 7/8 of 2^26.
 *
 * The doubling allocates the new slot array with MAP_POPULATE, the way
 * allocators that prefault huge allocations do. The kernel faults those pages
 * in while holding the process's mmap_lock for reading, for as long as zeroing
 * gigabytes takes; every worker's mmap and munmap needs the lock for writing
 * and queues behind it: the whole service freezes, its /metrics endpoint
 * with it. (On this kernel, per-VMA locks let plain page faults go without the
 * mmap_lock, so a resize that only touched its pages would stall nothing.)
 * The rehash itself runs beside the readers: the writer is the only thread
 * that changes the table, and readers only wait for the pointer swap.
 *
 * --preallocate reserves the final table at start, the incident's fix: no
 * doubling ever happens, at the price of the memory held up front.
 *
 * GET /metrics: Prometheus text exposition with the request latency histogram
 * feedstore_request_duration_seconds (from the request line's arrival to the
 * response's completion) and the table's gauges.
 *
 * Sizes: --log2-slots K gives 2^K slots of 352 bytes; the default, 22
 * (1.375 GiB doubling to 2.75 GiB), is for tries by hand. demo/run.sh picks K
 * for the machine (24 on a 2-core, 24 GiB VM: 5.5 GiB doubling to 11 GiB),
 * since the freeze lasts as long as the kernel takes to fault the new array
 * in, and the origin's trigger needs more than 2.2 s of it (demo/README.md).
 *
 * Prints JSON lines on stdout: "ready" (port, pid, table, rss), "grow_start",
 * "grow_populated" (how long the MAP_POPULATE took), "grow_end".
 *
 * Usage: feedstore [--port N] [--threads N] [--log2-slots K] [--insert-rate R]
 *                  [--grow-after S] [--resp-kb KB] [--preallocate]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define FEED_ITEMS 84   /* a feed keeps its 84 newest item ids inline: 352-byte slots */
#define FOLLOWS 31      /* a request reads its user's feed and 31 followed users' */

struct feed {
	uint64_t user;      /* 0: empty slot */
	uint32_t version, n;
	uint32_t items[FEED_ITEMS];
};
_Static_assert(sizeof(struct feed) == 352, "a slot is 352 bytes: 2^22 slots make 1.375 GiB");

struct table {
	struct feed *slots;
	size_t nslots;      /* a power of two */
	size_t count;
};

static struct {
	int port, threads, log2_slots, resp_kb;
	double insert_rate, grow_after_s;
	bool preallocate;
} cfg = { .port = 0, .threads = 4, .log2_slots = 22, .resp_kb = 256,
	  .insert_rate = 20000, .grow_after_s = 20 };

/* Readers share the table; the writer takes it exclusively to insert a batch
 * and to swap in a grown table. glibc's default rwlock prefers readers. */
static pthread_rwlock_t tab_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct table tab;
static atomic_uint_fast64_t resizes, entries_gauge, slots_gauge;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27; x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void die(const char *what)
{
	fprintf(stderr, "feedstore: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the table ---- */

/* Slot arrays come straight from mmap, prefaulted: a store that cannot afford
 * page faults on its hot path pays them all at allocation time. */
static __attribute__((noinline)) struct feed *table_alloc(size_t nslots)
{
	void *p = mmap(NULL, nslots * sizeof(struct feed), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		die("cannot allocate the table");
	return p;
}

static struct feed *slot_for(struct feed *slots, size_t nslots, uint64_t user)
{
	size_t i = mix64(user) & (nslots - 1);
	while (slots[i].user && slots[i].user != user)
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static void fill_feed(struct feed *f, uint64_t user)
{
	f->user = user;
	f->version = 1;
	f->n = FEED_ITEMS;
	for (int i = 0; i < FEED_ITEMS; i++)
		f->items[i] = (uint32_t)(user * 2654435761u) + (uint32_t)i;
}

static size_t grow_limit(size_t nslots) { return nslots / 8 * 7; }

static void emit_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit_json(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Doubles the table: allocate (the freeze), rehash beside the readers, swap,
 * free the old array. Only the writer thread calls it. */
static __attribute__((noinline)) void table_grow(void)
{
	size_t n = tab.nslots * 2;
	double t0 = now_s();
	emit_json("{\"event\":\"grow_start\",\"from\":%zu,\"to\":%zu,\"bytes\":%zu,\"t\":%.6f}",
		  tab.nslots, n, n * sizeof(struct feed), t0);
	struct feed *slots = table_alloc(n);
	double t1 = now_s();
	emit_json("{\"event\":\"grow_populated\",\"populate_s\":%.3f,\"t\":%.6f}", t1 - t0, t1);
	pthread_rwlock_rdlock(&tab_lock);
	for (size_t i = 0; i < tab.nslots; i++)
		if (tab.slots[i].user)
			*slot_for(slots, n, tab.slots[i].user) = tab.slots[i];
	pthread_rwlock_unlock(&tab_lock);
	pthread_rwlock_wrlock(&tab_lock);
	struct feed *old = tab.slots;
	size_t oldn = tab.nslots;
	tab.slots = slots;
	tab.nslots = n;
	pthread_rwlock_unlock(&tab_lock);
	munmap(old, oldn * sizeof(struct feed));
	atomic_fetch_add(&resizes, 1);
	atomic_store(&slots_gauge, n);
	double t2 = now_s();
	emit_json("{\"event\":\"grow_end\",\"rehash_s\":%.3f,\"total_s\":%.3f,\"t\":%.6f}", t2 - t1, t2 - t0, t2);
}

/* Inserts users [from, to): grows first when the batch would pass 7/8. */
static void table_insert_batch(uint64_t from, uint64_t to)
{
	if (tab.count + (to - from) > grow_limit(tab.nslots))
		table_grow();
	pthread_rwlock_wrlock(&tab_lock);
	for (uint64_t u = from; u < to; u++) {
		struct feed *f = slot_for(tab.slots, tab.nslots, u);
		if (f->user) {
			f->version++;   /* a user already in: its feed moves on */
			f->items[f->version % FEED_ITEMS] = (uint32_t)mix64(u + f->version);
			continue;
		}
		tab.count++;
		fill_feed(f, u);
	}
	pthread_rwlock_unlock(&tab_lock);
	atomic_store(&entries_gauge, tab.count);
}

static uint64_t next_user = 1;

static void *writer_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "feed-writer");
	const double tick = 0.01;
	uint64_t per_tick = (uint64_t)(cfg.insert_rate * tick);
	if (per_tick < 1)
		per_tick = 1;
	/* one doubling is the demo: once the users would fill the doubled table
	 * to 7/8, the writer goes on updating the feeds it has instead of adding
	 * users, so a service left running stays at its final size */
	uint64_t users = grow_limit((size_t)2 << cfg.log2_slots) - per_tick;
	double next = now_s();
	for (;;) {
		if (next_user + per_tick > users)
			next_user = 1;
		table_insert_batch(next_user, next_user + per_tick);
		next_user += per_tick;
		next += tick;
		double d = next - now_s();
		if (d > 0) {
			struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };
			nanosleep(&ts, NULL);
		} else if (d < -1) {
			next = now_s();   /* after a freeze: carry on, no catch-up burst */
		}
	}
	return NULL;
}

/* ---- metrics ---- */

static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))
static atomic_uint_fast64_t hist[NBOUNDS + 1];   /* non-cumulative; the last is +Inf */
static atomic_uint_fast64_t hist_sum_us, requests;

static void observe(double s)
{
	size_t b = 0;
	while (b < NBOUNDS && s > bounds[b])
		b++;
	atomic_fetch_add(&hist[b], 1);
	atomic_fetch_add(&hist_sum_us, (uint64_t)(s * 1e6));
	atomic_fetch_add(&requests, 1);
}

static size_t render_metrics(char *buf, size_t len)
{
	size_t o = 0;
#define PUT(...) do { int n_ = snprintf(buf + o, len - o, __VA_ARGS__); \
		      if (n_ > 0 && (size_t)n_ < len - o) o += n_; } while (0)
	PUT("# HELP feedstore_request_duration_seconds Time from a request's arrival to its response.\n"
	    "# TYPE feedstore_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t b = 0; b <= NBOUNDS; b++) {
		cum += atomic_load(&hist[b]);
		if (b < NBOUNDS)
			PUT("feedstore_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", bounds[b], cum);
		else
			PUT("feedstore_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	PUT("feedstore_request_duration_seconds_sum %.6f\n", atomic_load(&hist_sum_us) / 1e6);
	PUT("feedstore_request_duration_seconds_count %" PRIu64 "\n", cum);
	PUT("# TYPE feedstore_table_slots gauge\nfeedstore_table_slots %" PRIu64 "\n", (uint64_t)atomic_load(&slots_gauge));
	PUT("# TYPE feedstore_table_entries gauge\nfeedstore_table_entries %" PRIu64 "\n", (uint64_t)atomic_load(&entries_gauge));
	PUT("# TYPE feedstore_table_bytes gauge\nfeedstore_table_bytes %" PRIu64 "\n",
	    (uint64_t)atomic_load(&slots_gauge) * sizeof(struct feed));
	PUT("# TYPE feedstore_table_resizes_total counter\nfeedstore_table_resizes_total %" PRIu64 "\n",
	    (uint64_t)atomic_load(&resizes));
#undef PUT
	return o;
}

/* ---- HTTP ---- */

struct req {
	double start;
};

/* Called when the request line arrives: the latency clock starts here. */
static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls; (void)uri; (void)c;
	struct req *r = malloc(sizeof(*r));
	if (r)
		r->start = now_s();
	return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls; (void)c;
	struct req *r = *con_cls;
	if (!r)
		return;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		observe(now_s() - r->start);
	free(r);
	*con_cls = NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* One feed request: 32 lookups, rendered into a buffer large enough for
 * glibc to mmap it, freed (munmapped) once copied out. */
static enum MHD_Result serve_feed(struct MHD_Connection *c)
{
	const char *u = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
	uint64_t population = atomic_load(&entries_gauge);
	if (population == 0)
		population = 1;
	uint64_t user = u ? strtoull(u, NULL, 10) : 0;
	if (user == 0 || user > population)
		user = 1 + mix64((uint64_t)(now_s() * 1e9)) % population;

	size_t cap = (size_t)cfg.resp_kb * 1024;
	char *buf = malloc(cap);
	if (!buf)
		return reply(c, 503, "text/plain", "out of memory\n", 14);
	size_t o = (size_t)snprintf(buf, cap, "{\"user\":%" PRIu64 ",\"feeds\":[", user);
	pthread_rwlock_rdlock(&tab_lock);
	for (int k = 0; k <= FOLLOWS && o + 1024 < cap; k++) {
		uint64_t who = k == 0 ? user : 1 + mix64(user * 131 + k) % population;
		const struct feed *f = slot_for(tab.slots, tab.nslots, who);
		if (f->user != who)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, "%s{\"user\":%" PRIu64 ",\"items\":[", k ? "," : "", who);
		for (uint32_t i = 0; i < f->n && i < 8; i++)
			o += (size_t)snprintf(buf + o, cap - o, "%s%" PRIu32, i ? "," : "", f->items[i]);
		o += (size_t)snprintf(buf + o, cap - o, "]}");
	}
	pthread_rwlock_unlock(&tab_lock);
	o += (size_t)snprintf(buf + o, cap - o, "]}\n");
	enum MHD_Result ret = reply(c, 200, "application/json", buf, o);
	free(buf);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls; (void)version; (void)upload; (void)upload_size; (void)con_cls;
	if (strcmp(method, "GET") != 0)
		return reply(c, 405, "text/plain", "GET only\n", 9);
	if (strcmp(url, "/feed") == 0)
		return serve_feed(c);
	if (strcmp(url, "/metrics") == 0) {
		char buf[4096];
		size_t n = render_metrics(buf, sizeof(buf));
		return reply(c, 200, "text/plain; version=0.0.4", buf, n);
	}
	return reply(c, 404, "text/plain", "not found\n", 10);
}

/* ---- start ---- */

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: feedstore [--port N] [--threads N] [--log2-slots K] [--insert-rate KEYS_PER_S]\n"
		"                 [--grow-after SECONDS] [--resp-kb KB] [--preallocate]\n"
		"  --log2-slots K     the table starts with 2^K 352-byte slots (default 22: 1.375 GiB)\n"
		"  --grow-after S     prefill so that the writer crosses 7/8 S seconds after ready (default 20)\n"
		"  --preallocate      reserve the final, doubled table at start: no resize, more memory\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, 0, 'p' },       { "threads", required_argument, 0, 't' },
		{ "log2-slots", required_argument, 0, 'k' }, { "insert-rate", required_argument, 0, 'r' },
		{ "grow-after", required_argument, 0, 'g' }, { "resp-kb", required_argument, 0, 'b' },
		{ "preallocate", no_argument, 0, 'P' },      { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 } };
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': cfg.port = (int)parse_num("feedstore", "--port", optarg, 0, 65535); break;
		case 't': cfg.threads = (int)parse_num("feedstore", "--threads", optarg, 1, 64); break;
		case 'k': cfg.log2_slots = (int)parse_num("feedstore", "--log2-slots", optarg, 10, 26); break;
		case 'r': cfg.insert_rate = parse_num("feedstore", "--insert-rate", optarg, 1, 1e7); break;
		case 'g': cfg.grow_after_s = parse_num("feedstore", "--grow-after", optarg, 0, 86400); break;
		case 'b': cfg.resp_kb = (int)parse_num("feedstore", "--resp-kb", optarg, 1, 65536); break;
		case 'P': cfg.preallocate = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "feedstore: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* SIGTERM and SIGINT are taken by sigwait below: block them before any thread starts */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Keep big buffers mmapped: a fixed threshold stops glibc from raising it
	 * after the first free (its dynamic threshold would move them to the heap). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	signal(SIGPIPE, SIG_IGN);

	double t0 = now_s();
	size_t start_slots = (size_t)1 << cfg.log2_slots;
	/* prefill to where the writer crosses 7/8 after --grow-after seconds */
	double ahead = cfg.insert_rate * cfg.grow_after_s;
	size_t limit = grow_limit(start_slots);
	size_t prefill = ahead >= (double)limit ? 0 : limit - (size_t)ahead;
	tab.nslots = cfg.preallocate ? start_slots * 2 : start_slots;
	tab.slots = table_alloc(tab.nslots);
	atomic_store(&slots_gauge, tab.nslots);
	table_insert_batch(1, 1 + prefill);
	next_user = 1 + prefill;

	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)cfg.port, NULL, NULL, handle, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg.threads,
		MHD_OPTION_URI_LOG_CALLBACK, uri_logged, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, 60u,
		MHD_OPTION_END);
	if (!d)
		die("cannot start the HTTP server");
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	int port = info ? info->port : cfg.port;

	pthread_t w;
	if (pthread_create(&w, NULL, writer_main, NULL))
		die("cannot start the writer");
	emit_json("{\"event\":\"ready\",\"port\":%d,\"pid\":%d,\"slots\":%zu,\"entries\":%zu,"
		  "\"table_bytes\":%zu,\"grows_at\":%zu,\"rss_kb\":%ld,\"startup_s\":%.2f,\"preallocate\":%s}",
		  port, (int)getpid(), tab.nslots, tab.count, tab.nslots * sizeof(struct feed),
		  grow_limit(tab.nslots), rss_kb(), now_s() - t0, cfg.preallocate ? "true" : "false");

	int sig;
	sigwait(&set, &sig);
	emit_json("{\"event\":\"exit\",\"entries\":%zu,\"slots\":%zu,\"resizes\":%" PRIu64 ",\"rss_kb\":%ld}",
		  (size_t)atomic_load(&entries_gauge), (size_t)atomic_load(&slots_gauge),
		  (uint64_t)atomic_load(&resizes), rss_kb());
	return 0;
}
