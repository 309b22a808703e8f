/* main.c: stalltrap's command dispatcher. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stalltrap <command> [options]\n"
		"\n"
		"commands:\n"
		"  record   capture an exact off-CPU profile of a process, a name or a cgroup\n"
		"  report   re-render the reports of a capture directory from its saved data\n"
		"  diff     compare an incident's capture with a baseline's: what grew\n"
		"  watch    watch a service's latency and capture each freeze as an incident\n"
		"  trigger  ask the watcher of a target to capture an incident now\n"
		"  send     deliver a capture or incident directory to Alertmanager, a webhook, Pyroscope, Parca\n"
		"\n"
		"run 'stalltrap <command> --help' for a command's options\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "record") == 0)
		return cmd_record(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return cmd_diff(argc - 1, argv + 1);
	if (strcmp(argv[1], "watch") == 0)
		return cmd_watch(argc - 1, argv + 1);
	if (strcmp(argv[1], "trigger") == 0)
		return cmd_trigger(argc - 1, argv + 1);
	if (strcmp(argv[1], "send") == 0)
		return cmd_send(argc - 1, argv + 1);
	if (strcmp(argv[1], "floor") == 0)
		return cmd_floor(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "stalltrap: unknown command '%s' (try 'stalltrap --help')\n", argv[1]);
	return 2;
}
