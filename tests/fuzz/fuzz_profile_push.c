/* fuzz_profile_push.c: libFuzzer target for the Pyroscope and Parca request builders over any bytes as a pprof (gzipped or not).
 *
 * The builders must never crash or read out of bounds; a refusal must come
 * with a one-line message and no body. An accepted profile must give bodies
 * whose Pyroscope requests decode with our push schema, one series, one
 * sample each, under the caps.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_profile_push
 * on a copy of tests/fuzz/corpus_profile_push (pprofs stalltrap rendered,
 * and mutants: ids from 0, sparse, a '-' in the sample type); `make test`
 * replays the corpus with build-san/fuzz/fuzz_profile_push.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/profile_push.h"
#include "proto/pyroscope_push.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct push_labels l = { .service = "svc", .host = "h", .kind = "k", .incident = "h/inc-1" };
	struct push_bodies b;
	char err[256] = "";
	size_t i;

	if (pyroscope_build(data, size, &l, &b, err, sizeof(err))) {
		if (!err[0] || strchr(err, '\n') || b.n)
			abort(); /* a refusal is one line, and sends nothing */
	} else {
		if (!b.n && !strstr(b.note, "no samples"))
			abort();
		for (i = 0; i < b.n; i++) {
			Stalltrap__Pyroscope__PushRequest *r =
				stalltrap__pyroscope__push_request__unpack(NULL, b.v[i].len, b.v[i].data);

			if (!r || r->n_series != 1 || r->series[0]->n_samples != 1 ||
			    strlen(r->series[0]->samples[0]->id) != 36)
				abort();
			stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
		}
	}
	push_bodies_free(&b);
	err[0] = '\0';
	if (parca_build(data, size, &l, &b, err, sizeof(err)) && (!err[0] || strchr(err, '\n') || b.n))
		abort();
	push_bodies_free(&b);
	return 0;
}
