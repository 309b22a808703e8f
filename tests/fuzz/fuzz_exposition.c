/* fuzz_exposition.c: libFuzzer target for the exposition parser and the metric readers over what it accepts.
 *
 * The parser must never crash or read out of bounds; a refusal must come with
 * a one-line message. An accepted input is read through every reader with a
 * few selectors, and a histogram found is run through the quantile math and
 * a delta against itself (which must give no observations).
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_exposition
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_exposition; `make test`
 * replays the corpus with build-san/fuzz/fuzz_exposition (gcc, replay_main.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/exposition.h"
#include "watch/histogram.h"

static const char *const selectors[] = {
	"http_request_duration_seconds", "a", "a{b=\"c\"}", "rpc_seconds", "x_bucket", "m{le=\"1\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expo *e = NULL;
	char err[256] = "";
	int ret = expo_parse((const char *)data, size, &e, err, sizeof(err));

	if (ret) {
		if (!err[0] || strchr(err, '\n'))
			abort(); /* a refusal is one line */
		return 0;
	}
	for (size_t i = 0; i < expo_count(e); i++) {
		const struct expo_sample *s = expo_sample(e, i);

		if (!s->name || !*s->name || (s->nlabels && !s->labels[0].value))
			abort();
	}
	for (size_t k = 0; k < sizeof(selectors) / sizeof(selectors[0]); k++) {
		struct expo_sel sel;
		enum expo_type t;
		double v, c, les[64], counts[64];
		int n;

		if (expo_sel_parse(selectors[k], &sel, err, sizeof(err)))
			abort();
		if (!expo_metric_type(e, &sel, &t)) {
			(void)expo_read_value(e, &sel, &v);
			(void)expo_read_summary(e, &sel, 0.99, &v, &c);
			n = expo_read_histogram(e, &sel, les, counts, 64);
			if (n > 0) {
				struct hist_bucket b[64], d[64];
				bool reset;

				for (int i = 0; i < n; i++)
					b[i] = (struct hist_bucket){ les[i], counts[i] };
				(void)hist_quantile(0.99, b, (size_t)n);
				if (hist_delta(b, (size_t)n, b, (size_t)n, d, &reset) != n ||
				    (hist_count(d, (size_t)n) != 0 && !isnan(hist_count(d, (size_t)n))))
					abort();
			}
		}
		expo_sel_release(&sel);
	}
	expo_free(e);
	return 0;
}

