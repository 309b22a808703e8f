/* freezesvc.c: a small HTTP service with a latency histogram on /metrics that can be made to freeze.
 *
 * The test service of `stalltrap watch`'s end-to-end tests. Worker threads
 * accept on one loopback socket and answer:
 *   GET /work            takes the state lock briefly, then "works" --work-ms
 *   GET /metrics         Prometheus text exposition: a histogram
 *                        freezesvc_request_duration_seconds{path="/work"},
 *                        a summary freezesvc_request_latency_seconds (last
 *                        1024 requests), a counter and a gauge. Rendering it
 *                        takes the state lock too: the registry lives under it.
 *   GET /freeze?seconds=S  wakes the freezer thread, which takes the state lock
 *                        and sleeps S seconds holding it (freezer_hold): every
 *                        worker that serves /work or /metrics meanwhile waits
 *                        on the lock (take_state_lock), so the metrics endpoint
 *                        hangs with the service, as a real freeze does. Answers
 *                        at once with the culprit's tid.
 * Connections are kept alive (HTTP/1.1) unless the client says otherwise.
 * SIGUSR2 freezes for --freeze-seconds too. A load thread (--load RPS) sends
 * /work requests to the service itself, so that the histogram moves.
 *
 * Usage: freezesvc [--port N] [--workers N] [--load RPS] [--work-ms MS] [--freeze-seconds S]
 * Prints JSON lines: {"event":"listening","port":P,"pid":PID},
 * {"event":"freeze_start","tid":T,"seconds":S,"t":MONO_S}, {"event":"freeze_end",...}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "wl_common.h"

#define MAX_WORKERS 64
#define SUMMARY_N 1024
#define REQ_MAX 8192

static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

static struct {
	int port, workers, load_rps, work_ms;
	double freeze_s;
} cfg = { .port = 0, .workers = 4, .load_rps = 50, .work_ms = 1, .freeze_s = 3 };

/* The state lock: the registry and the service's state live under it. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t hist_counts[NBOUNDS + 1];   /* non-cumulative; last is +Inf */
static double hist_sum;
static uint64_t requests;
static double recent[SUMMARY_N];
static size_t nrecent, recent_head;

static int listen_fd;
static atomic_int inflight;
static pthread_mutex_t freeze_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freeze_cv = PTHREAD_COND_INITIALIZER;
static double freeze_pending;
static atomic_int freezer_tid;
static volatile sig_atomic_t sig_freeze;

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

WL_FRAME static void take_state_lock(void)
{
	pthread_mutex_lock(&state_lock);
	WL_NO_TAILCALL();
}

WL_FRAME static void freezer_hold(double seconds)
{
	struct timespec ts = { .tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - floor(seconds)) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	WL_NO_TAILCALL();
}

static void *freezer_main(void *arg)
{
	(void)arg;
	atomic_store(&freezer_tid, gettid_());
	for (;;) {
		double s;

		pthread_mutex_lock(&freeze_mu);
		while (freeze_pending <= 0)
			pthread_cond_wait(&freeze_cv, &freeze_mu);
		s = freeze_pending;
		freeze_pending = 0;
		pthread_mutex_unlock(&freeze_mu);

		take_state_lock();
		printf("{\"event\":\"freeze_start\",\"tid\":%d,\"seconds\":%g,\"t\":%.6f}\n", gettid_(), s,
		       wl_now_ns() / 1e9);
		fflush(stdout);
		freezer_hold(s);
		pthread_mutex_unlock(&state_lock);
		printf("{\"event\":\"freeze_end\",\"tid\":%d,\"t\":%.6f}\n", gettid_(), wl_now_ns() / 1e9);
		fflush(stdout);
	}
	return NULL;
}

static void request_freeze(double s)
{
	pthread_mutex_lock(&freeze_mu);
	freeze_pending = s;
	pthread_cond_signal(&freeze_cv);
	pthread_mutex_unlock(&freeze_mu);
}

static void observe(double s)
{
	size_t b = 0;

	while (b < NBOUNDS && s > bounds[b])
		b++;
	hist_counts[b]++;
	hist_sum += s;
	requests++;
	recent[recent_head] = s;
	recent_head = (recent_head + 1) % SUMMARY_N;
	if (nrecent < SUMMARY_N)
		nrecent++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The exposition, rendered under the state lock. */
WL_FRAME static size_t render_metrics(char *buf, size_t len)
{
	static double sorted[SUMMARY_N];
	uint64_t cum = 0;
	size_t n = 0;
	double total = 0;

#define PUT(...) do { int k_ = snprintf(buf + n, len - n, __VA_ARGS__); if (k_ > 0 && (size_t)k_ < len - n) n += (size_t)k_; } while (0)
	take_state_lock();
	PUT("# HELP freezesvc_request_duration_seconds Time to answer /work.\n");
	PUT("# TYPE freezesvc_request_duration_seconds histogram\n");
	for (size_t b = 0; b < NBOUNDS; b++) {
		cum += hist_counts[b];
		PUT("freezesvc_request_duration_seconds_bucket{path=\"/work\",le=\"%g\"} %llu\n", bounds[b],
		    (unsigned long long)cum);
	}
	cum += hist_counts[NBOUNDS];
	PUT("freezesvc_request_duration_seconds_bucket{path=\"/work\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	PUT("freezesvc_request_duration_seconds_sum{path=\"/work\"} %.9f\n", hist_sum);
	PUT("freezesvc_request_duration_seconds_count{path=\"/work\"} %llu\n", (unsigned long long)cum);
	memcpy(sorted, recent, nrecent * sizeof(double));
	qsort(sorted, nrecent, sizeof(double), cmp_double);
	for (size_t i = 0; i < nrecent; i++)
		total += sorted[i];
	PUT("# TYPE freezesvc_request_latency_seconds summary\n");
	if (nrecent) {
		PUT("freezesvc_request_latency_seconds{quantile=\"0.5\"} %.9f\n", sorted[(size_t)(0.5 * (nrecent - 1))]);
		PUT("freezesvc_request_latency_seconds{quantile=\"0.99\"} %.9f\n", sorted[(size_t)(0.99 * (nrecent - 1))]);
	} else {
		PUT("freezesvc_request_latency_seconds{quantile=\"0.5\"} NaN\n");
		PUT("freezesvc_request_latency_seconds{quantile=\"0.99\"} NaN\n");
	}
	PUT("freezesvc_request_latency_seconds_sum %.9f\n", total);
	PUT("freezesvc_request_latency_seconds_count %zu\n", nrecent);
	PUT("# TYPE freezesvc_requests_total counter\nfreezesvc_requests_total %llu\n", (unsigned long long)requests);
	PUT("# TYPE freezesvc_inflight gauge\nfreezesvc_inflight %d\n", atomic_load(&inflight));
	pthread_mutex_unlock(&state_lock);
#undef PUT
	return n;
}

WL_FRAME static void handle_work(void)
{
	struct timespec ts = { 0, (long)cfg.work_ms * 1000000L };

	take_state_lock();
	requests += 0; /* the service's state would change here */
	pthread_mutex_unlock(&state_lock);
	nanosleep(&ts, NULL);
	WL_NO_TAILCALL();
}

static __thread bool keep_alive;   /* the request allows the connection to stay open */

static void reply(int fd, int status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
			 status, status == 200 ? "OK" : "Not Found", type, len, keep_alive ? "keep-alive" : "close");

	if (write(fd, head, (size_t)n) < 0 || (len && write(fd, body, len) < 0))
		return; /* the client gave up (a poll timeout): nothing to do */
}

/* One request of a connection; false when the connection is to be closed. */
static bool serve_one(int fd)
{
	static __thread char req[REQ_MAX], out[65536];
	size_t len = 0;
	char path[256] = "", version[16] = "";
	uint64_t t0;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	t0 = wl_now_ns();
	/* HTTP/1.1 keeps the connection unless told otherwise (as most servers do) */
	keep_alive = sscanf(req, "GET %255s %15s", path, version) == 2 && !strcmp(version, "HTTP/1.1") &&
		     !strcasestr(req, "\nConnection: close");
	if (!path[0]) {
		keep_alive = false;
		reply(fd, 404, "text/plain", "", 0);
		return false;
	}
	if (!strcmp(path, "/metrics")) {
		size_t n = render_metrics(out, sizeof(out));

		reply(fd, 200, "text/plain; version=0.0.4", out, n);
	} else if (!strncmp(path, "/freeze", 7)) {
		const char *q = strstr(path, "seconds=");
		double s = q ? atof(q + 8) : cfg.freeze_s;
		int n = snprintf(out, sizeof(out), "{\"culprit_tid\":%d,\"seconds\":%g}\n", atomic_load(&freezer_tid), s);

		request_freeze(s > 0 ? s : cfg.freeze_s);
		reply(fd, 200, "application/json", out, (size_t)n);
	} else if (!strcmp(path, "/work")) {
		double took;

		atomic_fetch_add(&inflight, 1);
		handle_work();
		reply(fd, 200, "text/plain", "ok\n", 3);
		took = (wl_now_ns() - t0) / 1e9;
		take_state_lock();
		observe(took);
		pthread_mutex_unlock(&state_lock);
		atomic_fetch_sub(&inflight, 1);
	} else {
		reply(fd, 404, "text/plain", "", 0);
	}
	return keep_alive;
}

static void *worker_main(void *arg)
{
	struct timeval idle = { .tv_sec = 30 };

	(void)arg;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		/* an idle keep-alive connection gives its worker back after a while */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
		while (serve_one(fd))
			;
		close(fd);
	}
	return NULL;
}

/* One /work request to ourselves; errors are ignored (the service may be frozen). */
static void load_once(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET /work HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	char buf[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && write(fd, req, sizeof(req) - 1) > 0)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	close(fd);
}

static void *load_main(void *arg)
{
	uint64_t period = 1000000000ull / (uint64_t)cfg.load_rps, next = wl_now_ns();

	(void)arg;
	for (;;) {
		uint64_t now;

		load_once();
		next += period;
		now = wl_now_ns();
		if (next > now) {
			struct timespec ts = { .tv_sec = (time_t)((next - now) / 1000000000ull),
					       .tv_nsec = (long)((next - now) % 1000000000ull) };

			nanosleep(&ts, NULL);
		} else {
			next = now;
		}
	}
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
	sig_freeze = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	pthread_t t;
	int one = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			wl_die("freezesvc: %s needs a value", a);
		if (!strcmp(a, "--port"))
			cfg.port = atoi(v);
		else if (!strcmp(a, "--workers"))
			cfg.workers = atoi(v);
		else if (!strcmp(a, "--load"))
			cfg.load_rps = atoi(v);
		else if (!strcmp(a, "--work-ms"))
			cfg.work_ms = atoi(v);
		else if (!strcmp(a, "--freeze-seconds"))
			cfg.freeze_s = atof(v);
		else
			wl_die("freezesvc: unknown option %s", a);
		i++;
	}
	if (cfg.workers < 1 || cfg.workers > MAX_WORKERS)
		wl_die("freezesvc: --workers 1..%d", MAX_WORKERS);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, on_usr2);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons((uint16_t)cfg.port);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(listen_fd, 256))
		wl_die("freezesvc: cannot listen on port %d:", cfg.port);
	getsockname(listen_fd, (struct sockaddr *)&sa, &sl);
	cfg.port = ntohs(sa.sin_port);
	pthread_create(&t, NULL, freezer_main, NULL);
	for (int i = 0; i < cfg.workers; i++)
		pthread_create(&t, NULL, worker_main, NULL);
	if (cfg.load_rps > 0)
		pthread_create(&t, NULL, load_main, NULL);
	printf("{\"event\":\"listening\",\"port\":%d,\"pid\":%d}\n", cfg.port, (int)getpid());
	fflush(stdout);
	for (;;) {
		pause();
		if (sig_freeze) {
			sig_freeze = 0;
			request_freeze(cfg.freeze_s);
		}
	}
}
