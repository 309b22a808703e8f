/* wl_common.h: helpers shared by the test workloads (clock, durations, start gate, PRNG).
 *
 * Header-only on purpose: the Makefile builds every tests/workloads/NAME.c as
 * one translation unit linked with -lm only. Everything here is static; the
 * workloads' own functions, the ones that must show up in stacks, live in the
 * workloads and never here.
 *
 * Note: the Makefile does not list this header as a dependency of the
 * workloads; after editing it, touch the workloads or run make clean.
 */
#ifndef STALLTRAP_WL_COMMON_H
#define STALLTRAP_WL_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A function that must appear by its own name in captured stacks: never
 * inlined, cloned (.constprop/.isra names) or merged with a twin. */
#define WL_FRAME __attribute__((noipa, used))
/* Keeps the compiler from turning a call that ends a function into a jump
 * (a tail call removes the caller's frame from the stack). */
#define WL_NO_TAILCALL() __asm__ __volatile__("" ::: "memory")

#define WL_UNUSED __attribute__((unused))

WL_UNUSED __attribute__((noreturn, format(printf, 1, 2)))
static void wl_die(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	exit(2);
}

WL_UNUSED static uint64_t wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

WL_UNUSED static struct timespec wl_ts(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	return ts;
}

/* Sleeps until the CLOCK_MONOTONIC instant deadline_ns (absolute, so EINTR
 * restarts cannot stretch it). */
WL_UNUSED static void wl_sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = wl_ts(deadline_ns);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* "5", "2.5", "500ms", "2s", "1m" -> seconds; dies on anything else. */
WL_UNUSED static double wl_parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		wl_die("bad duration '%s'", s);
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "ms"))
		return v / 1000.0;
	if (!strcmp(end, "us"))
		return v / 1e6;
	if (!strcmp(end, "m"))
		return v * 60.0;
	wl_die("bad duration '%s' (use 500ms, 2s, 1m or plain seconds)", s);
}

WL_UNUSED static long wl_parse_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		wl_die("bad number '%s' (want %ld..%ld)", s, min, max);
	return v;
}

/* Reads a small file (/proc, /sys, cgroup) into buf as a string; returns
 * its length, or -1 when it cannot be read or is empty. */
WL_UNUSED static ssize_t wl_read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

WL_UNUSED static void wl_touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		wl_die("cannot create %s:", path);
	close(fd);
}

/* Waits (inotify on the parent directory, no polling) until path exists.
 * Returns 0, or -1 after timeout_s seconds. */
WL_UNUSED static int wl_wait_for_file(const char *path, double timeout_s)
{
	char dirbuf[PATH_MAX];
	uint64_t deadline = wl_now_ns() + (uint64_t)(timeout_s * 1e9);
	int fd, rc = -1;

	if (strlen(path) >= sizeof(dirbuf))
		wl_die("path too long: %s", path);
	strcpy(dirbuf, path);
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		wl_die("inotify_init1:");
	/* The watch goes in before the check, so a creation between the two is not missed. */
	if (inotify_add_watch(fd, dirname(dirbuf),
			      IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE) < 0)
		wl_die("inotify_add_watch %s:", path);
	for (;;) {
		char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now;

		if (access(path, F_OK) == 0) {
			rc = 0;
			break;
		}
		now = wl_now_ns();
		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) < 0 && errno != EINTR)
			wl_die("poll:");
		while (read(fd, ev, sizeof(ev)) > 0)
			;
	}
	close(fd);
	return rc;
}

/* xorshift64*: small, deterministic, per-thread state. */
WL_UNUSED static uint64_t wl_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
WL_UNUSED static double wl_rand01(uint64_t *s)
{
	return (double)(wl_rand(s) >> 11) / (double)(1ull << 53);
}

#endif /* STALLTRAP_WL_COMMON_H */
