/* cli.h: the subcommands. Each returns the process exit status:
 * 0 ok, 1 runtime failure (one clear line on stderr), 2 usage error. */
#ifndef STALLTRAP_CLI_H
#define STALLTRAP_CLI_H

#include <stddef.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* Compares two capture directories: a differential flame graph and a listing. */
int cmd_diff(int argc, char **argv);
/* Watches a service's metrics and captures an incident when it freezes (src/watch/). */
int cmd_watch(int argc, char **argv);
/* Delivers capture or incident directories to the sinks (src/deliver/), and resends parked items. */
int cmd_send(int argc, char **argv);
/* Asks the watcher of a target, through its control socket, to capture now. */
int cmd_trigger(int argc, char **argv);
/* Hidden, for bench/overhead.sh: attaches empty programs to the hooks named
 * by --hooks, to measure the floor cost of merely being attached. */
int cmd_floor(int argc, char **argv);

/* Applies a `watch --config` text (len bytes, may hold anything) to default
 * options and drops them: 0, or an exit status with one line on stderr. For
 * the fuzz target (tests/fuzz/fuzz_config.c); `watch` reads its file so. */
int watch_config_check(const char *text, size_t len);

#endif /* STALLTRAP_CLI_H */
