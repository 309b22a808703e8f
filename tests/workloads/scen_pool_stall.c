/* scen_pool_stall.c: scenario: an idle thread pool, with a real stall on top that must win.
 *
 * Eight pool threads wait on a condition variable for tasks; a dispatcher
 * hands one out every 50 ms (so most condvar waits end with a wakeup from
 * another thread, like a real work queue), and the main thread waits in
 * epoll_wait. All of that is idle by nature and adds up to several seconds
 * per second. On top, 300 ms after the gate, a flusher thread takes the
 * state mutex every task needs and holds it for --hold seconds (default
 * 1.2) in flush_state_locked(), asleep (as if waiting on a slow device):
 * every worker handed a task meanwhile piles up on that mutex. The culprit
 * is the flusher; flush_state_locked is where it held and released it.
 *
 * Usage: scen_pool_stall [--hold S] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"pool_stall","expect_kind":"app_lock","culprit_tid":..,
 *         "culprit_function":"flush_state_locked","stall_ms":<longest mutex wait>,
 *         "idle_pool_ms":<time the pool spent waiting for work>,"tasks":N}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define POOL 8

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static int q_tasks;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t state;
static atomic_int tasks_done;
static double hold_s = 1.2;
static struct scen_stat lock_waits[POOL];
static uint64_t idle_ns[POOL];

WL_FRAME static void flush_state_locked(void)
{
	pthread_mutex_lock(&state_mu);
	wl_sleep_until(wl_now_ns() + (uint64_t)(hold_s * 1e9));
	state++;
	pthread_mutex_unlock(&state_mu);
	WL_NO_TAILCALL();
}

SCEN_CULPRIT_THREAD(flusher_main, flush_state_locked)

WL_FRAME static void run_task(int w)
{
	uint64_t t0 = wl_now_ns(), waited;

	pthread_mutex_lock(&state_mu);
	waited = wl_now_ns() - t0;
	state++;
	pthread_mutex_unlock(&state_mu);
	scen_stat_add(&lock_waits[w], waited, 0);
	atomic_fetch_add(&tasks_done, 1);
	WL_NO_TAILCALL();
}

WL_FRAME static void *pool_main(void *arg)
{
	int w = (int)(intptr_t)arg;

	for (;;) {
		uint64_t t0 = wl_now_ns();

		pthread_mutex_lock(&q_mu);
		while (!q_tasks && !atomic_load(&scen_stop))
			pthread_cond_wait(&q_cv, &q_mu);
		if (!q_tasks) {
			pthread_mutex_unlock(&q_mu);
			break;
		}
		q_tasks--;
		pthread_mutex_unlock(&q_mu);
		idle_ns[w] += wl_now_ns() - t0;
		run_task(w);
	}
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void *dispatcher_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&scen_stop)) {
		wl_sleep_until(wl_now_ns() + 50000000ull);
		pthread_mutex_lock(&q_mu);
		q_tasks++;
		pthread_cond_signal(&q_cv);
		pthread_mutex_unlock(&q_mu);
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
	pthread_t pool[POOL], flusher, dispatcher;
	uint64_t idle = 0;
	int i;

	scen_parse(argc, argv, &o, "usage: scen_pool_stall [--hold S] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	scen_threads_start(pool, POOL, pool_main);
	scen_ready_then_gate(&o);
	scen_thread_start(&dispatcher, dispatcher_main, NULL);
	scen_thread_start(&flusher, flusher_main, NULL);
	scen_epoll_idle(&o);
	pthread_join(flusher, NULL);
	scen_threads_stop(&dispatcher, 1);
	/* the pool waits on q_cv, not on the flag */
	pthread_mutex_lock(&q_mu);
	pthread_cond_broadcast(&q_cv);
	pthread_mutex_unlock(&q_mu);
	scen_threads_join(pool, POOL);
	for (i = 0; i < POOL; i++)
		idle += idle_ns[i];
	scen_report("pool_stall", "app_lock", "flush_state_locked", ",\"stall_ms\":%.1f,\"idle_pool_ms\":%.1f,"
		    "\"tasks\":%d", scen_stat_total(lock_waits, POOL).max_ns / 1e6, idle / 1e6,
		    atomic_load(&tasks_done));
	return 0;
}
