/* floor.c: hidden `stalltrap floor --duration D`: keeps the empty programs of
 * capture/floor.h attached, so that bench/overhead.sh can measure the cost of attachment alone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/floor.h"
#include "cli/cli.h"
#include "util/parse.h"

static volatile sig_atomic_t floor_stop;

static void on_signal(int sig)
{
	(void)sig;
	floor_stop = 1;
}

int cmd_floor(int argc, char **argv)
{
	struct floor *fl;
	char err[256];
	uint64_t dur = 10000000000ull;
	struct timespec ts;
	struct sigaction sa;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			if (parse_duration_ns(argv[++i], &dur)) {
				fprintf(stderr, "stalltrap floor: invalid --duration '%s'\n", argv[i]);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "stalltrap floor: unknown argument '%s' (usage: stalltrap floor --duration D)\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (floor_attach(&fl, err, sizeof(err))) {
		fprintf(stderr, "stalltrap floor: %s\n", err);
		return EXIT_RUNTIME;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("attached\n");
	fflush(stdout);
	ts.tv_sec = dur / 1000000000ull;
	ts.tv_nsec = dur % 1000000000ull;
	while (!floor_stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
	floor_detach(fl);
	return 0;
}
