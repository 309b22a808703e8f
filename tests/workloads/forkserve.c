/* forkserve.c: a fork-per-connection server in miniature: short-lived children that block, then exit.
 *
 * Usage: forkserve [--children 100] [--wait-ms 3] [--gap-ms 10] [--start-after FILE]
 * The parent forks --children children one after another (waiting for each,
 * then --gap-ms between them); each child, without exec, waits --wait-ms in
 * child_wait_for_client() (a nanosleep: a block of a forked process) and
 * exits, long before a recorder's user space reads its /proc/PID/maps.
 * With --start-after, the forking begins once FILE exists. Prints
 * {"parent":PID,"children":N,"first_child":PID,"last_child":PID}.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "wl_common.h"

WL_FRAME static void child_wait_for_client(long wait_ms)
{
	struct timespec ts = wl_ts((uint64_t)wait_ms * 1000000ull);

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	WL_NO_TAILCALL();
}

WL_FRAME static void serve_connection(long wait_ms)
{
	child_wait_for_client(wait_ms);
	_exit(0);
}

int main(int argc, char **argv)
{
	long children = 100, wait_ms = 3, gap_ms = 10, i;
	const char *start_after = NULL;
	pid_t first = 0, last = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--children") && i + 1 < argc)
			children = wl_parse_long(argv[++i], 1, 100000);
		else if (!strcmp(argv[i], "--wait-ms") && i + 1 < argc)
			wait_ms = wl_parse_long(argv[++i], 0, 60000);
		else if (!strcmp(argv[i], "--gap-ms") && i + 1 < argc)
			gap_ms = wl_parse_long(argv[++i], 0, 60000);
		else if (!strcmp(argv[i], "--start-after") && i + 1 < argc)
			start_after = argv[++i];
		else
			wl_die("usage: forkserve [--children N] [--wait-ms MS] [--gap-ms MS] [--start-after FILE]");
	}
	if (start_after && wl_wait_for_file(start_after, 60))
		wl_die("forkserve: %s did not appear", start_after);
	for (i = 0; i < children; i++) {
		struct timespec gap = wl_ts((uint64_t)gap_ms * 1000000ull);
		int status;
		pid_t c = fork();

		if (c < 0)
			wl_die("fork:");
		if (c == 0)
			serve_connection(wait_ms);
		if (!first)
			first = c;
		last = c;
		if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
			wl_die("forkserve: child %d failed", (int)c);
		nanosleep(&gap, NULL);
	}
	printf("{\"parent\":%d,\"children\":%ld,\"first_child\":%d,\"last_child\":%d}\n", (int)getpid(), children,
	       (int)first, (int)last);
	return 0;
}
