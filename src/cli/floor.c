/* floor.c: hidden `stalltrap floor --hooks LIST`: keeps empty programs attached to the
 * listed hooks (capture/floor.h), so that bench/overhead.sh can measure the cost of attachment alone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/floor.h"
#include "cli/cli.h"
#include "util/parse.h"

#define FLOOR_USAGE "usage: stalltrap floor --hooks raw_tp:NAME,tp_btf:NAME,perf_event,... [--sample-hz 49] [--duration 10s]"

static volatile sig_atomic_t floor_stop;

static void on_signal(int sig)
{
	(void)sig;
	floor_stop = 1;
}

int cmd_floor(int argc, char **argv)
{
	struct floor_hook hooks[FLOOR_MAX_HOOKS];
	struct floor *fl;
	char err[256];
	uint64_t dur = 10000000000ull, hz = 49;
	const char *list = NULL;
	struct timespec ts;
	struct sigaction sa;
	int i, n, ret;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			if (parse_duration_ns(argv[++i], &dur)) {
				fprintf(stderr, "stalltrap floor: invalid --duration '%s'\n", argv[i]);
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--hooks") == 0 && i + 1 < argc) {
			list = argv[++i];
		} else if (strcmp(argv[i], "--sample-hz") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], 1, 10000, &hz)) {
				fprintf(stderr, "stalltrap floor: invalid --sample-hz '%s' (1-10000)\n", argv[i]);
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("%s\n", FLOOR_USAGE);
			return 0;
		} else {
			fprintf(stderr, "stalltrap floor: unknown argument '%s' (%s)\n", argv[i], FLOOR_USAGE);
			return EXIT_USAGE;
		}
	}
	if (!list) {
		fprintf(stderr, "stalltrap floor: --hooks is required (%s)\n", FLOOR_USAGE);
		return EXIT_USAGE;
	}
	n = floor_parse_hooks(list, hooks, FLOOR_MAX_HOOKS, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "stalltrap floor: %s\n", err);
		return EXIT_USAGE;
	}
	ret = floor_attach(&fl, hooks, n, (uint32_t)hz, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap floor: %s\n", err);
		/* a hook the kernel does not have, or refuses, is a bad argument;
		 * missing privileges or memory are not */
		return ret == -EPERM || ret == -EACCES || ret == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "stalltrap floor: %d hooks, %d links\n", n, floor_nlinks(fl));
	printf("attached\n");
	fflush(stdout);
	ts.tv_sec = dur / 1000000000ull;
	ts.tv_nsec = dur % 1000000000ull;
	while (!floor_stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
	floor_detach(fl);
	return 0;
}
