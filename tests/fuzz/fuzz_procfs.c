/* fuzz_procfs.c: libFuzzer target for the /proc and cgroup file parsers.
 *
 * Every input goes through each of them, as the file it would be:
 *   /proc/PID/maps     maps__parse (symbolize), then lookups over the lines
 *   /proc/PID/stat     proc_stat_ppid (capture: --pid's descendants)
 *   cgroup.procs       proc_parse_pids (capture: --cgroup's processes)
 *   /proc/PID/cmdline  proc_format_cmdline (the incident's target line)
 * None may crash, read out of bounds or leak; what they accept must hold the
 * invariants their headers promise (sorted, non-overlapping maps; positive,
 * distinct pids; a printable, NUL-terminated command line within its buffer).
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_procfs
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_procfs; `make test`
 * replays the corpus with build-san/fuzz/fuzz_procfs (gcc, replay_main.c).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/proc.h"
#include "symbolize/maps.h"

static void maps_check(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct maps *m = NULL;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0'; /* read_all() gives the parser a NUL-terminated text */
	if (maps__parse(text, &m) == 0) {
		for (size_t i = 0; i < maps__count(m); i++) {
			const struct maps_line *l = maps__line(m, i);

			if (l->end <= l->start || (i && l->start < maps__line(m, i - 1)->end) ||
			    maps__find(m, l->start) != l || maps__find(m, l->end - 1) != l || !l->path)
				abort();
		}
		if (!maps__same_text(m, text))
			abort();
		maps__free(m);
	}
	free(text);
}

static void pids_check(const uint8_t *data, size_t size)
{
	pid_t *pids = NULL;
	size_t n = 0, cap = 0;

	if (proc_parse_pids((const char *)data, size, &pids, &n, &cap) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (pids[i] <= 0)
				abort();
			for (size_t j = 0; j < i; j++)
				if (pids[j] == pids[i])
					abort();
		}
	}
	free(pids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[64];

	maps_check(data, size);
	if (proc_stat_ppid((const char *)data, size) < 0)
		abort();
	pids_check(data, size);
	memset(line, 'x', sizeof(line));
	proc_format_cmdline((const char *)data, size, line, sizeof(line));
	if (!memchr(line, '\0', sizeof(line)))
		abort();
	for (const char *p = line; *p; p++)
		if (!isprint((unsigned char)*p))
			abort();
	return 0;
}
