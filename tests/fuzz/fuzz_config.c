/* fuzz_config.c: libFuzzer target for the `watch --config` file parser (watch_config_check).
 *
 * Each input is a config text applied to the default options, as `watch
 * --config FILE` applies its file before the command line. It must never
 * crash, read out of bounds or leak; a refusal is an exit status with exactly
 * one line on stderr, and an accepted text says nothing.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_config
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_config with
 * tests/fuzz/config.dict; `make test` replays the corpus with
 * build-san/fuzz/fuzz_config (gcc, replay_main.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *saved = stderr, *mem;
	char *out = NULL;
	size_t outlen = 0;
	int ret;

	/* stderr into memory, to count the lines of the message */
	mem = open_memstream(&out, &outlen);
	if (!mem)
		abort();
	stderr = mem;
	ret = watch_config_check((const char *)data, size);
	stderr = saved;
	fclose(mem);
	if (ret ? (outlen == 0 || out[outlen - 1] != '\n' || memchr(out, '\n', outlen - 1))
		: outlen != 0) {
		fprintf(stderr, "config: exit %d with message '%s'\n", ret, out);
		abort();
	}
	free(out);
	return 0;
}
