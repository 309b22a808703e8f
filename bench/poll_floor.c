/* bench/poll_floor.c: the floor of polling over HTTP with libcurl.
 *
 * usage: poll_floor URL INTERVAL_MS
 *
 * GETs URL every INTERVAL_MS on an absolute schedule (a poll that overran
 * starts the next at once), with exactly the libcurl calls `stalltrap watch`
 * makes per poll (src/watch/sources.c, http_get): one easy handle kept for the
 * whole run (so the connection is kept alive), curl_easy_reset and the same
 * options before each curl_easy_perform (the body only counted), the timeout
 * equal to the interval (the watcher's default
 * --poll-timeout). Nothing else: the body is not parsed. It is what any
 * libcurl-based poller pays, against which bench/watch_idle.sh sets the
 * watcher's cost.
 *
 * Runs until SIGTERM or SIGINT, then prints {"polls":N,"errors":N} on stdout
 * (errors: transfers that failed or answered a status other than 200).
 * Bad arguments: one line on stderr, exit 2.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The body is counted, not kept: copying 1-2 KiB is not what a poll costs. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	*(size_t *)arg += size * nmemb;
	return size * nmemb;
}

static int poll_once(CURL *c, const char *url, long timeout_ms, size_t *bytes)
{
	long status = 0;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bytes);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "stalltrap-watch");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (curl_easy_perform(c) != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status == 200 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	size_t bytes = 0;
	struct timespec next, now;
	unsigned long long polls = 0, errors = 0;
	long interval_ms;
	char *end;
	CURL *c;

	if (argc != 3) {
		fprintf(stderr, "usage: %s URL INTERVAL_MS\n", argv[0]);
		return 2;
	}
	errno = 0;
	interval_ms = strtol(argv[2], &end, 10);
	if (errno || end == argv[2] || *end || interval_ms < 1 || interval_ms > 3600000) {
		fprintf(stderr, "%s: INTERVAL_MS must be an integer in 1..3600000, not '%s'\n", argv[0],
			argv[2]);
		return 2;
	}
	if (!*argv[1]) {
		fprintf(stderr, "%s: empty URL\n", argv[0]);
		return 2;
	}
	/* no SA_RESTART: the signal ends the sleep at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c = curl_easy_init())) {
		fprintf(stderr, "%s: cannot initialize libcurl\n", argv[0]);
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		polls++;
		if (poll_once(c, argv[1], interval_ms, &bytes))
			errors++;
		next.tv_nsec += (interval_ms % 1000) * 1000000;
		next.tv_sec += interval_ms / 1000 + next.tv_nsec / 1000000000;
		next.tv_nsec %= 1000000000;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
			next = now; /* overran: the next poll starts at once */
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}

	printf("{\"polls\":%llu,\"errors\":%llu}\n", polls, errors);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
