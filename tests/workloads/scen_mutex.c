/* scen_mutex.c: scenario: a pthread mutex held for seconds by a slow thread while workers need it.
 *
 * Four workers loop: lock the mutex, touch shared state, unlock, sleep 5 ms
 * (a request handler and its shared cache). After 300 ms, the slow thread
 * takes the mutex in rebuild_cache_locked() and computes for --hold seconds
 * (default 1.5) before unlocking there: every worker piles up on the mutex.
 * The culprit is the slow thread; the function that held (and released) the
 * lock is rebuild_cache_locked.
 *
 * Usage: scen_mutex [--hold S] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"mutex","expect_kind":"futex","culprit_tid":..,
 *         "culprit_function":"rebuild_cache_locked","hold_ms":..,"stall_ms":<longest lock wait>,
 *         "waiters_blocked_ms":<sum of lock waits over 10 ms>}
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "scen_common.h"

#define WORKERS 4

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop;
static atomic_int slow_tid;
static double hold_s = 1.5;
static uint64_t cache_value, hold_ns_measured;
static uint64_t wait_max_ns[WORKERS], wait_sum_ns[WORKERS];

WL_FRAME static void rebuild_cache_locked(void)
{
	uint64_t t0;

	pthread_mutex_lock(&cache_mu);
	t0 = wl_now_ns();
	cache_value = scen_spin((uint64_t)(hold_s * 1e9), cache_value);
	hold_ns_measured = wl_now_ns() - t0;
	pthread_mutex_unlock(&cache_mu);
	WL_NO_TAILCALL();
}

WL_FRAME static void *slow_main(void *arg)
{
	(void)arg;
	atomic_store(&slow_tid, scen_gettid());
	wl_sleep_until(wl_now_ns() + 300000000ull);
	rebuild_cache_locked();
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void handle_request(int w)
{
	uint64_t t0 = wl_now_ns(), waited;

	pthread_mutex_lock(&cache_mu);
	waited = wl_now_ns() - t0;
	cache_value++;
	pthread_mutex_unlock(&cache_mu);
	if (waited > wait_max_ns[w])
		wait_max_ns[w] = waited;
	if (waited > 10000000ull)
		wait_sum_ns[w] += waited;
	WL_NO_TAILCALL();
}

WL_FRAME static void *worker_main(void *arg)
{
	int w = (int)(intptr_t)arg;

	while (!atomic_load(&stop)) {
		handle_request(w);
		wl_sleep_until(wl_now_ns() + 5000000ull);
	}
	WL_NO_TAILCALL();
	return NULL;
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--hold")) {
		hold_s = wl_parse_seconds(v);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	pthread_t workers[WORKERS], slow;
	uint64_t max = 0, sum = 0;
	int i;

	scen_parse(argc, argv, &o, "usage: scen_mutex [--hold S] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	scen_ready_then_gate(&o);
	for (i = 0; i < WORKERS; i++)
		if (pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i))
			wl_die("pthread_create failed");
	if (pthread_create(&slow, NULL, slow_main, NULL))
		wl_die("pthread_create failed");
	wl_sleep_until(wl_now_ns() + (uint64_t)(o.seconds * 1e9));
	pthread_join(slow, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < WORKERS; i++) {
		pthread_join(workers[i], NULL);
		max = wait_max_ns[i] > max ? wait_max_ns[i] : max;
		sum += wait_sum_ns[i];
	}
	printf("{\"scenario\":\"mutex\",\"pid\":%d,\"expect_kind\":\"futex\",\"culprit_tid\":%d,"
	       "\"culprit_function\":\"rebuild_cache_locked\",\"hold_ms\":%.1f,\"stall_ms\":%.1f,"
	       "\"waiters_blocked_ms\":%.1f}\n", (int)getpid(), atomic_load(&slow_tid),
	       hold_ns_measured / 1e6, max / 1e6, sum / 1e6);
	return 0;
}
