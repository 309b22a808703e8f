/* fuzz_promql.c: libFuzzer target for the Prometheus query API answer parser (source_parse_promql).
 *
 * The parser must never crash, read out of bounds or leak; a refusal must
 * come with a one-line message, and an accepted answer gives a value.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_promql
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_promql; `make test`
 * replays the corpus with build-san/fuzz/fuzz_promql (gcc, replay_main.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch/sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	double v = 0;
	int ret = source_parse_promql((const char *)data, size, &v, err, sizeof(err));

	if (ret && ret != -ENODATA && (!err[0] || strchr(err, '\n')))
		abort(); /* a refusal is one line */
	return 0;
}
