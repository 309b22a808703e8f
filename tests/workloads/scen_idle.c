/* scen_idle.c: scenario: a healthy, idle service: nothing should be blamed.
 *
 * The main thread waits in epoll_wait (1 s timeout) on a socket nobody
 * writes to, four pool threads wait on a condition variable for work that
 * never comes, and a timer thread wakes every 100 ms to do 1 ms of
 * bookkeeping. Every wait is idle by nature.
 *
 * Usage: scen_idle [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"idle","expect_kind":"none","culprit_tid":null,"stall_ms":0,"ticks":N}
 */
#define _GNU_SOURCE
#include "scen_common.h"

#define POOL 4

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static atomic_int ticks;
static volatile uint64_t books;

WL_FRAME static void *pool_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q_mu);
	while (!atomic_load(&scen_stop))
		pthread_cond_wait(&q_cv, &q_mu);
	pthread_mutex_unlock(&q_mu);
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void *timer_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&scen_stop)) {
		wl_sleep_until(wl_now_ns() + 100000000ull);
		books = scen_spin(1000000ull, books);
		atomic_fetch_add(&ticks, 1);
	}
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.5 };
	pthread_t pool[POOL], timer;

	scen_parse(argc, argv, &o, "usage: scen_idle [--seconds S] [--ready FILE] [--start-after FILE]",
		   NULL);
	scen_threads_start(pool, POOL, pool_main);
	scen_thread_start(&timer, timer_main, NULL);
	scen_ready_then_gate(&o);
	scen_epoll_idle(&o);
	atomic_store(&scen_stop, true);
	/* the pool waits on q_cv, not on the flag */
	pthread_mutex_lock(&q_mu);
	pthread_cond_broadcast(&q_cv);
	pthread_mutex_unlock(&q_mu);
	scen_threads_join(pool, POOL);
	pthread_join(timer, NULL);
	scen_report("idle", "none", NULL, ",\"stall_ms\":0,\"ticks\":%d", atomic_load(&ticks));
	return 0;
}
