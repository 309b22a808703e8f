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
 * Prints {"scenario":"pool_stall","expect_kind":"futex","culprit_tid":..,
 *         "culprit_function":"flush_state_locked","stall_ms":<longest mutex wait>,
 *         "idle_pool_ms":<time the pool spent waiting for work>,"tasks":N}
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "scen_common.h"

#define POOL 8

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static int q_tasks;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t state;
static atomic_bool stop;
static atomic_int flusher_tid, tasks_done;
static double hold_s = 1.2;
static uint64_t lock_wait_max[POOL], idle_ns[POOL];

WL_FRAME static void flush_state_locked(void)
{
	pthread_mutex_lock(&state_mu);
	wl_sleep_until(wl_now_ns() + (uint64_t)(hold_s * 1e9));
	state++;
	pthread_mutex_unlock(&state_mu);
	WL_NO_TAILCALL();
}

WL_FRAME static void *flusher_main(void *arg)
{
	(void)arg;
	atomic_store(&flusher_tid, scen_gettid());
	wl_sleep_until(wl_now_ns() + 300000000ull);
	flush_state_locked();
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void run_task(int w)
{
	uint64_t t0 = wl_now_ns(), waited;

	pthread_mutex_lock(&state_mu);
	waited = wl_now_ns() - t0;
	state++;
	pthread_mutex_unlock(&state_mu);
	if (waited > lock_wait_max[w])
		lock_wait_max[w] = waited;
	atomic_fetch_add(&tasks_done, 1);
	WL_NO_TAILCALL();
}

WL_FRAME static void *pool_main(void *arg)
{
	int w = (int)(intptr_t)arg;

	for (;;) {
		uint64_t t0 = wl_now_ns();

		pthread_mutex_lock(&q_mu);
		while (!q_tasks && !atomic_load(&stop))
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
	while (!atomic_load(&stop)) {
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
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t end, max = 0, idle = 0;
	int sv[2], ep, i;

	scen_parse(argc, argv, &o, "usage: scen_pool_stall [--hold S] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev))
		wl_die("socketpair/epoll:");
	for (i = 0; i < POOL; i++)
		if (pthread_create(&pool[i], NULL, pool_main, (void *)(intptr_t)i))
			wl_die("pthread_create failed");
	scen_ready_then_gate(&o);
	if (pthread_create(&dispatcher, NULL, dispatcher_main, NULL) ||
	    pthread_create(&flusher, NULL, flusher_main, NULL))
		wl_die("pthread_create failed");
	end = wl_now_ns() + (uint64_t)(o.seconds * 1e9);
	while (wl_now_ns() < end) {
		uint64_t left_ms = (end - wl_now_ns()) / 1000000ull;

		epoll_wait(ep, &ev, 1, left_ms > 1000 ? 1000 : (int)left_ms + 1);
	}
	pthread_join(flusher, NULL);
	atomic_store(&stop, true);
	pthread_join(dispatcher, NULL);
	pthread_mutex_lock(&q_mu);
	pthread_cond_broadcast(&q_cv);
	pthread_mutex_unlock(&q_mu);
	for (i = 0; i < POOL; i++) {
		pthread_join(pool[i], NULL);
		max = lock_wait_max[i] > max ? lock_wait_max[i] : max;
		idle += idle_ns[i];
	}
	printf("{\"scenario\":\"pool_stall\",\"pid\":%d,\"expect_kind\":\"futex\",\"culprit_tid\":%d,"
	       "\"culprit_function\":\"flush_state_locked\",\"stall_ms\":%.1f,\"idle_pool_ms\":%.1f,"
	       "\"tasks\":%d}\n", (int)getpid(), atomic_load(&flusher_tid), max / 1e6, idle / 1e6,
	       atomic_load(&tasks_done));
	return 0;
}
