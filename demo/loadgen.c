/* loadgen.c: the freeze demo's clients: paced GET requests over kept-alive connections.
 *
 * --conns threads each hold one libcurl connection and send GET URL?user=N at
 * an even share of --rate requests per second. A thread whose request takes
 * longer than its period sends the next one at once and then keeps its pace
 * (no burst to catch up), as a user who waits does. Every request's latency
 * is kept; on SIGTERM, SIGINT or after --duration the totals are printed as
 * one JSON line: requests, errors, p50/p99/p999/max in ms, and the longest
 * time during which no request completed at all (the service's freeze as
 * its clients saw it).
 *
 * Usage: loadgen --url URL [--rate RPS] [--conns N] [--duration S] [--users N]
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static struct {
	const char *url;
	double rate, duration_s;
	int conns;
	unsigned long users;
} cfg = { .rate = 200, .conns = 8, .users = 1000000 };

static atomic_bool stop;

struct sample {
	double done, lat;   /* completion time (monotonic s), latency (s) */
};

static struct {
	pthread_mutex_t mu;
	struct sample *v;
	size_t n, cap;
	uint64_t errors;
} res = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void record(double done, double lat, bool ok)
{
	pthread_mutex_lock(&res.mu);
	if (!ok) {
		res.errors++;
	} else {
		if (res.n == res.cap) {
			size_t cap = res.cap ? res.cap * 2 : 4096;
			struct sample *v = realloc(res.v, cap * sizeof(*v));
			if (v) {
				res.v = v;
				res.cap = cap;
			}
		}
		if (res.n < res.cap)
			res.v[res.n++] = (struct sample){ done, lat };
	}
	pthread_mutex_unlock(&res.mu);
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p; (void)u;
	return sz * n;
}

static void sleep_until(double t)
{
	for (;;) {
		double d = t - now_s();
		if (d <= 0 || atomic_load(&stop))
			return;
		if (d > 0.1)
			d = 0.1;   /* wake often enough to see stop */
		struct timespec ts = { 0, (long)(d * 1e9) };
		nanosleep(&ts, NULL);
	}
}

static void *client(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	CURL *h = curl_easy_init();
	if (!h) {
		fprintf(stderr, "loadgen: cannot create a curl handle\n");
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	double period = cfg.conns / cfg.rate;
	/* spread the threads' first requests over one period */
	double next = now_s() + period * ((uintptr_t)arg) / cfg.conns;
	char url[2048];
	while (!atomic_load(&stop)) {
		sleep_until(next);
		if (atomic_load(&stop))
			break;
		snprintf(url, sizeof(url), "%s?user=%lu", cfg.url, 1 + rand_r(&seed) % cfg.users);
		curl_easy_setopt(h, CURLOPT_URL, url);
		double t0 = now_s();
		CURLcode rc = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		double t1 = now_s();
		record(t1, t1 - t0, rc == CURLE_OK && status == 200);
		next += period;
		if (next < t1)
			next = t1;
	}
	curl_easy_cleanup(h);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_done(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	return (x->done > y->done) - (x->done < y->done);
}

static double pct(const double *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t i = (size_t)ceil(q * n);
	return v[i ? i - 1 : 0];
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, 0, 'u' },      { "rate", required_argument, 0, 'r' },
		{ "conns", required_argument, 0, 'c' },    { "duration", required_argument, 0, 'd' },
		{ "users", required_argument, 0, 'n' },    { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 } };
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': cfg.url = optarg; break;
		case 'r': cfg.rate = parse_num("loadgen", "--rate", optarg, 0.1, 1e6); break;
		case 'c': cfg.conns = (int)parse_num("loadgen", "--conns", optarg, 1, 1024); break;
		case 'd': cfg.duration_s = parse_num("loadgen", "--duration", optarg, 0, 1e6); break;
		case 'n': cfg.users = (unsigned long)parse_num("loadgen", "--users", optarg, 1, 1e12); break;
		case 'h':
			printf("usage: loadgen --url URL [--rate RPS] [--conns N] [--duration S] [--users N]\n");
			return 0;
		default:
			fprintf(stderr, "loadgen: unknown option (see --help)\n");
			return 2;
		}
	}
	if (!cfg.url || strncmp(cfg.url, "http://", 7) != 0) {
		fprintf(stderr, "loadgen: --url http://HOST:PORT/PATH is required\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "loadgen: cannot initialise libcurl\n");
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	double start = now_s();
	pthread_t *th = calloc((size_t)cfg.conns, sizeof(*th));
	if (!th)
		return 1;
	for (int i = 0; i < cfg.conns; i++)
		if (pthread_create(&th[i], NULL, client, (void *)(uintptr_t)i)) {
			fprintf(stderr, "loadgen: cannot start client thread %d\n", i);
			return 1;
		}
	while (!atomic_load(&stop) && (cfg.duration_s <= 0 || now_s() - start < cfg.duration_s))
		sleep_until(now_s() + 0.1);
	atomic_store(&stop, true);
	for (int i = 0; i < cfg.conns; i++)
		pthread_join(th[i], NULL);
	double end = now_s();

	/* the longest span without a single completion, from the first to the end */
	qsort(res.v, res.n, sizeof(*res.v), cmp_done);
	double gap = 0, prev = res.n ? res.v[0].done : start;
	for (size_t i = 1; i < res.n; i++) {
		if (res.v[i].done - prev > gap)
			gap = res.v[i].done - prev;
		prev = res.v[i].done;
	}
	double *lat = malloc((res.n ? res.n : 1) * sizeof(*lat));
	if (!lat)
		return 1;
	for (size_t i = 0; i < res.n; i++)
		lat[i] = res.v[i].lat;
	qsort(lat, res.n, sizeof(*lat), cmp_double);
	printf("{\"requests\":%zu,\"errors\":%llu,\"duration_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
	       "\"p999_ms\":%.2f,\"max_ms\":%.1f,\"longest_gap_s\":%.2f}\n",
	       res.n, (unsigned long long)res.errors, end - start, pct(lat, res.n, 0.5) * 1e3,
	       pct(lat, res.n, 0.99) * 1e3, pct(lat, res.n, 0.999) * 1e3,
	       res.n ? lat[res.n - 1] * 1e3 : 0.0, gap);
	free(lat);
	free(res.v);
	free(th);
	curl_global_cleanup();
	return 0;
}
