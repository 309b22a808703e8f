/* fuzz_demangle.c: libFuzzer target for symbol names as the symbolizer prints them (symbolize_demangle).
 *
 * The names come from the ELF files of the target (and their debug files),
 * which anyone may have built: C++ and Rust mangled names of any length and
 * depth, versioned names, bytes that are not UTF-8. The demangler must never
 * crash, recurse without bound or leak, and its output stays within the
 * buffer, NUL-terminated.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_demangle
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_demangle; `make test`
 * replays the corpus with build-san/fuzz/fuzz_demangle (gcc, replay_main.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), out[512];

	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0'; /* libelf hands out NUL-terminated names */
	for (size_t len = 1; len <= sizeof(out); len = len * 4 + 1) {
		memset(out, 'x', sizeof(out));
		if (symbolize_demangle(name, out, len) == 0 && !memchr(out, '\0', len))
			abort();
		/* a plain name cut short ends in "..." */
		if (len >= 4 && name[0] != '_' && !strchr(name, '@') && strlen(name) >= len &&
		    strlen(out) == len - 1 &&
		    strcmp(out + len - 4, "..."))
			abort();
	}
	free(name);
	return 0;
}
