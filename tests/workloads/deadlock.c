/* deadlock.c: workload: two threads take two mutexes in opposite orders and deadlock, with request threads queued behind.
 *
 * Once --start-after's file appears (at once without it), thread "lock_ab"
 * takes mutex a then, 100 ms later, mutex b; thread "lock_ba" takes b then
 * a: neither gets its second mutex, ever. Two "request" threads take a for
 * each request (every 5 ms) and queue behind the deadlock. The process
 * stays so until killed. Prints once deadlocked:
 *   {"deadlock":true,"pid":..,"tid_ab":..,"tid_ba":..,"requests":[..,..]}
 * (tid_ab holds a, tid_ba holds b).
 *
 * With --alone, no request threads: the two deadlocked threads are all
 * that waits ("requests":[0,0]).
 *
 * Usage: deadlock [--alone] [--ready FILE] [--start-after FILE]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl_common.h"

static pthread_mutex_t mu_a = PTHREAD_MUTEX_INITIALIZER, mu_b = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int tids[4];
static _Atomic int holding;

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

WL_FRAME static void take_second(pthread_mutex_t *second)
{
	pthread_mutex_lock(second);
	WL_NO_TAILCALL();
}

WL_FRAME static void *lock_pair(void *arg)
{
	int ab = arg != NULL;

	tids[ab ? 0 : 1] = gettid_();
	pthread_setname_np(pthread_self(), ab ? "lock_ab" : "lock_ba");
	pthread_mutex_lock(ab ? &mu_a : &mu_b);
	holding++;
	while (holding < 2)
		usleep(1000);
	usleep(100000);
	take_second(ab ? &mu_b : &mu_a);
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void handle_request(void)
{
	pthread_mutex_lock(&mu_a);
	pthread_mutex_unlock(&mu_a);
	WL_NO_TAILCALL();
}

WL_FRAME static void *request_main(void *arg)
{
	tids[2 + (arg != NULL)] = gettid_();
	pthread_setname_np(pthread_self(), "request");
	for (;;) {
		handle_request();
		usleep(5000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *ready = NULL, *gate = NULL;
	pthread_t t[4];
	int i, nreq = 2;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--start-after") && i + 1 < argc)
			gate = argv[++i];
		else if (!strcmp(argv[i], "--alone"))
			nreq = 0;
		else
			wl_die("usage: deadlock [--alone] [--ready FILE] [--start-after FILE]");
	}
	for (i = 0; i < nreq; i++)
		if (pthread_create(&t[2 + i], NULL, request_main, i ? (void *)1 : NULL))
			wl_die("pthread_create failed");
	if (ready)
		wl_touch(ready);
	if (gate && wl_wait_for_file(gate, 60))
		wl_die("no %s within 60 s", gate);
	for (i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, lock_pair, i ? NULL : (void *)1))
			wl_die("pthread_create failed");
	while (holding < 2)
		usleep(1000);
	usleep(300000);
	printf("{\"deadlock\":true,\"pid\":%d,\"tid_ab\":%d,\"tid_ba\":%d,\"requests\":[%d,%d]}\n", getpid(),
	       tids[0], tids[1], tids[2], tids[3]);
	fflush(stdout);
	for (;;)
		pause();
}
