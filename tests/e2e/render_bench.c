/* render_bench.c: times each renderer on a capture directory, for bench/render.sh.
 *
 * usage: render_bench DIR [RUNS]
 *
 * Reads DIR/capture.jsonl.gz once, aggregates it, then renders every file
 * RUNS times (default 3) into a scratch file and prints, per renderer, one
 * line "name median_ms bytes", and the read and aggregate times. Rendering is
 * what `stalltrap report` adds to reading, so these are the figures to hold
 * against the 2 s goal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "render/render.h"

enum which { W_FOLDED, W_REPORT, W_FLAME, W_TIMELINE, W_PPROF, W_HTML, W__N };
static const char *const names[W__N] = { "profile.folded", "report.json", "flamegraph.svg",
					 "timeline.svg", "profile.pb.gz", "report.html" };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int render_one(enum which w, FILE *f, const struct capdata *cd, const struct aggregate *agg,
		      const char *path)
{
	switch (w) {
	case W_FOLDED: return render_folded(f, cd, agg);
	case W_REPORT: return render_report_file(path, cd, agg, NULL);
	case W_FLAME: return render_flame(f, cd, agg, NULL, 0);
	case W_TIMELINE: return render_timeline(f, cd, agg, NULL, 0);
	case W_PPROF: return render_pprof(f, cd, agg, NULL);
	case W_HTML: return render_html(f, cd, agg, NULL);
	default: return -1;
	}
}

int main(int argc, char **argv)
{
	struct capdata cd;
	struct aggregate agg;
	char err[512], path[4096];
	int runs = argc > 2 ? atoi(argv[2]) : 3, w, r, rc;
	double t0, t_read, t_agg, ms[64];

	if (argc < 2 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: render_bench DIR [RUNS 1..64]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/.render_bench.tmp", argv[1]);
	if (capdata_init(&cd))
		return 1;
	t0 = now_ms();
	rc = capdata_read(&cd, argv[1], err, sizeof(err));
	t_read = now_ms() - t0;
	if (rc) {
		fprintf(stderr, "render_bench: %s\n", err);
		return 1;
	}
	t0 = now_ms();
	if (aggregate_build(&agg, &cd))
		return 1;
	t_agg = now_ms() - t0;
	printf("read_capture %.1f 0\naggregate %.1f 0\n", t_read, t_agg);
	printf("call_sites %zu 0\n", agg.nentries);
	for (w = 0; w < W__N; w++) {
		long bytes = 0;

		for (r = 0; r < runs; r++) {
			FILE *f = fopen(path, "w");

			if (!f)
				return 1;
			t0 = now_ms();
			rc = render_one((enum which)w, f, &cd, &agg, path);
			fflush(f);
			ms[r] = now_ms() - t0;
			if (w != W_REPORT)
				bytes = ftell(f);
			fclose(f);
			if (w == W_REPORT) {
				FILE *g = fopen(path, "r");

				if (g) {
					fseek(g, 0, SEEK_END);
					bytes = ftell(g);
					fclose(g);
				}
			}
			if (rc) {
				fprintf(stderr, "render_bench: %s: error %d\n", names[w], rc);
				return 1;
			}
		}
		qsort(ms, (size_t)runs, sizeof(ms[0]), cmp_d);
		printf("%s %.1f %ld\n", names[w], ms[runs / 2], bytes);
	}
	remove(path);
	aggregate_release(&agg);
	capdata_free(&cd);
	return 0;
}
