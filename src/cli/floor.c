/* floor.c: hidden `stalltrap floor --duration D`: empty programs on record's
 * tracepoints, so that bench/overhead.sh can measure the cost of attachment alone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cli/cli.h"
#include "floor.skel.h"
#include "util/parse.h"

static volatile sig_atomic_t floor_stop;

static void on_signal(int sig)
{
	(void)sig;
	floor_stop = 1;
}

int cmd_floor(int argc, char **argv)
{
	struct floor_bpf *skel;
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
	skel = floor_bpf__open_and_load();
	if (!skel || floor_bpf__attach(skel)) {
		fprintf(stderr, "stalltrap floor: cannot load or attach the empty programs: %s\n", strerror(errno));
		floor_bpf__destroy(skel);
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
	floor_bpf__destroy(skel);
	return 0;
}
