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
 * Prints {"scenario":"mutex","expect_kind":"app_lock","culprit_tid":..,
 *         "culprit_function":"rebuild_cache_locked","hold_ms":..,"stall_ms":<longest lock wait>,
 *         "waiters_blocked_ms":<sum of lock waits over 10 ms>}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define WORKERS 4

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static double hold_s = 1.5;
static uint64_t cache_value, hold_ns_measured;
static struct scen_stat waits[WORKERS];

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

SCEN_CULPRIT_THREAD(slow_main, rebuild_cache_locked)

WL_FRAME static void handle_request(int w)
{
	uint64_t t0 = wl_now_ns(), waited;

	pthread_mutex_lock(&cache_mu);
	waited = wl_now_ns() - t0;
	cache_value++;
	pthread_mutex_unlock(&cache_mu);
	scen_stat_add(&waits[w], waited, 10000000ull);
	WL_NO_TAILCALL();
}

SCEN_LOOP_THREAD(worker_main, handle_request, 5000000ull)

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
	struct scen_stat w;

	scen_parse(argc, argv, &o, "usage: scen_mutex [--hold S] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	scen_ready_then_gate(&o);
	scen_threads_start(workers, WORKERS, worker_main);
	scen_thread_start(&slow, slow_main, NULL);
	scen_run(&o);
	pthread_join(slow, NULL);
	scen_threads_stop(workers, WORKERS);
	w = scen_stat_total(waits, WORKERS);
	scen_report("mutex", "app_lock", "rebuild_cache_locked", ",\"hold_ms\":%.1f,\"stall_ms\":%.1f,"
		    "\"waiters_blocked_ms\":%.1f", hold_ns_measured / 1e6, w.max_ns / 1e6, w.sum_ns / 1e6);
	return 0;
}
