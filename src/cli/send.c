/* send.c: `stalltrap send`: delivers capture or incident directories (and parked items) through the watcher's queue. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/capture_flags.h"
#include "cli/cli.h"
#include "cli/deliver_flags.h"

#define DEFAULT_STATE "/run/stalltrap"

enum { S_STATE_DIR = 1000, S_HELP };

static const struct option own_opts[] = {
	{ "state-dir", required_argument, NULL, S_STATE_DIR },
	{ "help", no_argument, NULL, S_HELP },
	{ NULL, 0, NULL, 0 },
};

static volatile int g_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stalltrap send [DIR...] [--state-dir DIR] <sink...> [sink options]\n"
		"\n"
		"Delivers each capture or incident DIR (from record, or one a watcher could not\n"
		"deliver) to the sinks given, through the same queue and retry policy as watch;\n"
		"also queues again the items a server refused earlier (parked). Waits until each\n"
		"item is delivered, parked or given up (Ctrl-C: what is left stays queued).\n"
		"Exit status 0 when everything was delivered, 1 otherwise.\n"
		"  --state-dir DIR     where the queue is (the watcher's --state-dir); default " DEFAULT_STATE "\n");
	deliver_flags_usage(f);
}

static void send_log(const char *line)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s stalltrap send: %s\n", when, line);
}

int cmd_send(int argc, char **argv)
{
	static struct option longopts[sizeof(own_opts) / sizeof(own_opts[0]) + DELIVER_FLAGS_N];
	struct deliver_flags df;
	struct deliver *d = NULL;
	struct sigaction sa = { 0 };
	const char *state = DEFAULT_STATE;
	char err[512];
	int opt, ret, status = EXIT_RUNTIME, queued = 0;

	deliver_flags_init(&df);
	deliver_flags_longopts(longopts, own_opts);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == S_HELP || opt == 'h') {
			usage(stdout);
			deliver_flags_release(&df);
			return 0;
		}
		if (opt == S_STATE_DIR) {
			state = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			getopt_error(longopts, optopt, argv[optind - 1], err, sizeof(err));
			goto usage_err;
		}
		if (deliver_flags_apply(&df, opt, optarg ? optarg : "", err, sizeof(err)))
			goto usage_err;
	}
	ret = deliver_flags_finish(&df, state, err, sizeof(err));
	if (ret == -EINVAL)
		goto usage_err;
	if (ret) {
		fprintf(stderr, "stalltrap send: %s\n", err);
		goto out;
	}
	if (!deliver_cfg_any(&df.cfg)) {
		snprintf(err, sizeof(err), "give at least one sink: --alertmanager, --webhook, --pyroscope or --parca");
		goto usage_err;
	}
	for (int i = optind; i < argc; i++) {
		struct stat st;
		char p[4200];

		snprintf(p, sizeof(p), "%s/report.json", argv[i]);
		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "stalltrap send: %s: not a directory\n", argv[i]);
			goto out;
		}
		if (stat(p, &st)) {
			fprintf(stderr, "stalltrap send: %s: no report.json (a capture directory from record or watch; "
				"'stalltrap report %s' writes it from capture.jsonl.gz)\n", argv[i], argv[i]);
			goto out;
		}
	}
	df.cfg.oneshot = true;
	df.cfg.log = send_log;
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	ret = deliver_start(&d, &df.cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap send: %s\n", err);
		goto out;
	}
	deliver_unpark(d);
	for (int i = optind; i < argc; i++) {
		ret = deliver_enqueue_dir(d, argv[i], NULL);
		if (ret < 0)
			goto out;
		queued += ret;
	}
	if (optind < argc) {
		char line[160];

		snprintf(line, sizeof(line), "queued %d incident%s: %d items under %s/deliver", argc - optind,
			 argc - optind == 1 ? "" : "s", queued, state);
		send_log(line);
	}
	ret = deliver_wait_idle(d, &g_stop);
	if (ret == -EINTR) {
		fprintf(stderr, "stalltrap send: stopped: what was not delivered stays queued under %s/deliver\n", state);
	} else if (ret == -EAGAIN) {
		for (int k = 0; k < SINK_N; k++)
			if (deliver_held_by(d, k))
				printf("%s: queued; the watcher (pid %d) delivers it\n", deliver_sink_name(k),
				       deliver_held_by(d, k));
		status = 0;
	} else {
		status = ret ? EXIT_RUNTIME : 0;
		if (ret)
			fprintf(stderr, "stalltrap send: not everything was delivered (parked or given up: see above)\n");
	}
	goto out;
usage_err:
	fprintf(stderr, "stalltrap send: %s (see 'stalltrap send --help')\n", err);
	status = EXIT_USAGE;
out:
	deliver_stop(d);
	deliver_flags_release(&df);
	return status;
}
