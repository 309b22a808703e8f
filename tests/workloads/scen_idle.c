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
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "scen_common.h"

#define POOL 4

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static atomic_bool stop;
static atomic_int ticks;
static volatile uint64_t books;

WL_FRAME static void *pool_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q_mu);
	while (!atomic_load(&stop))
		pthread_cond_wait(&q_cv, &q_mu);
	pthread_mutex_unlock(&q_mu);
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void *timer_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
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
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t end;
	int sv[2], ep, i;

	scen_parse(argc, argv, &o, "usage: scen_idle [--seconds S] [--ready FILE] [--start-after FILE]",
		   NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev))
		wl_die("socketpair/epoll:");
	for (i = 0; i < POOL; i++)
		if (pthread_create(&pool[i], NULL, pool_main, NULL))
			wl_die("pthread_create failed");
	if (pthread_create(&timer, NULL, timer_main, NULL))
		wl_die("pthread_create failed");
	scen_ready_then_gate(&o);
	end = wl_now_ns() + (uint64_t)(o.seconds * 1e9);
	while (wl_now_ns() < end) {
		uint64_t left_ms = (end - wl_now_ns()) / 1000000ull;

		epoll_wait(ep, &ev, 1, left_ms > 1000 ? 1000 : (int)left_ms + 1);
	}
	atomic_store(&stop, true);
	pthread_mutex_lock(&q_mu);
	pthread_cond_broadcast(&q_cv);
	pthread_mutex_unlock(&q_mu);
	for (i = 0; i < POOL; i++)
		pthread_join(pool[i], NULL);
	pthread_join(timer, NULL);
	printf("{\"scenario\":\"idle\",\"pid\":%d,\"expect_kind\":\"none\",\"culprit_tid\":null,"
	       "\"stall_ms\":0,\"ticks\":%d}\n", (int)getpid(), atomic_load(&ticks));
	return 0;
}
