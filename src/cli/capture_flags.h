/* capture_flags.h: record's capture flags, which watch takes too.
 *
 * One table serves both commands: their getopt_long entries, the parsing and
 * validation of each value (one error line naming the flag and the value),
 * the --help lines, and watch's --config keys (the long names). A command
 * lists its own options and merges these in with capture_flags_longopts().
 */
#ifndef STALLTRAP_CAPTURE_FLAGS_H
#define STALLTRAP_CAPTURE_FLAGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pipeline/recorder.h"

/* getopt_long values: above any character, below watch's own (1000 up) */
enum capture_flag_id {
	CF_MIN_BLOCK = 0x200,
	CF_NO_LOCKS,
	CF_HOLD_THRESHOLD,
	CF_TOP,
	CF_MAX_USTACK,
	CF_RINGBUF_KB,
	CF_BPF_STATS,
	CF_MAX_OVERHEAD,
	CF_DEBUGINFOD_TIMEOUT,
	CF_END,
};
#define CAPTURE_FLAGS_N (CF_END - CF_MIN_BLOCK)

struct capture_flags {
	struct recorder_opts ro;  /* the capture's part; the targets are the command's to set */
	int top;                  /* --top: call sites in the printed summary */
	uint64_t debuginfod_timeout_ns; /* --debuginfod-timeout: symbolize_late's deadline */
};

/* The defaults: --min-block 1ms, --hold-threshold 10ms, --max-ustack 65536,
 * --ringbuf-kb 0 (the capture's default), --top 10, --debuginfod-timeout 5s,
 * --max-overhead 1%, switches off. */
void capture_flags_init(struct capture_flags *f);

/* Applies the environment's defaults, which the flags override:
 * STALLTRAP_DEBUGINFOD_TIMEOUT (as --debuginfod-timeout). Returns 0, or
 * -EINVAL with "invalid STALLTRAP_DEBUGINFOD_TIMEOUT 'VALUE': expected ..." in err. */
int capture_flags_env(struct capture_flags *f, char *err, size_t errlen);

/* Copies own (up to its terminator), then the capture flags, then a
 * terminator into out, which has room for all of own plus CAPTURE_FLAGS_N. */
void capture_flags_longopts(struct option *out, const struct option *own);

bool capture_flags_has(int id);

/* Applies one capture flag; v is its value ("" for a switch). Returns 0, or
 * -EINVAL with "invalid --FLAG 'VALUE': expected ..." in err (-ENOENT for an
 * id that is not a capture flag). */
int capture_flags_apply(struct capture_flags *f, int id, const char *v, char *err, size_t errlen);

/* The --help lines of the capture flags, aligned as the commands' own. */
void capture_flags_usage(FILE *f);

/* For getopt_long's '?': "option '--FLAG' needs a value" (or "takes no
 * value") when optopt is one of opts, else "unknown option 'ARG'" with arg
 * the word it stopped at (argv[optind - 1]). */
void getopt_error(const struct option *opts, int optopt, const char *arg, char *err, size_t errlen);

#endif /* STALLTRAP_CAPTURE_FLAGS_H */
