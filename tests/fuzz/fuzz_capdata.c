/* fuzz_capdata.c: libFuzzer target for the capture-file reader, and everything that runs on what it accepts.
 *
 * Each input is written as DIR/capture.jsonl.gz (plain or gzip: the reader
 * takes both) and read with capdata_read(). The reader must never crash, and
 * a refusal must come with a one-line message. An accepted input is then run
 * through aggregate, the diagnosis, every renderer, and a write + read round
 * trip that must succeed and give the same counts.
 *
 * Build (clang 14; see docs/capture-format.md, "Fuzzing"):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *     -Isrc -Ibuild tests/fuzz/fuzz_capdata.c src/capdata/*.c src/util/htab.c \
 *     src/aggregate/aggregate.c src/diagnose/diagnose.c src/render/render*.c \
 *     build/proto/profile.pb-c.c -ljansson -lz -lm -lprotobuf-c -o build/fuzz_capdata
 *   build/fuzz_capdata -dict=tests/fuzz/capdata.dict build/corpus tests/fuzz/corpus_capdata
 * Without libFuzzer (gcc), -DFUZZ_STANDALONE adds a main() that replays the
 * files named on the command line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "diagnose/diagnose.h"
#include "render/render.h"

static char in_dir[] = "/tmp/fuzz_capdata_in.XXXXXX";
static char out_dir[] = "/tmp/fuzz_capdata_out.XXXXXX";
static FILE *devnull;

static void cleanup_dirs(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", in_dir, CAPDATA_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", out_dir, CAPDATA_FILE);
	unlink(path);
	rmdir(in_dir);
	rmdir(out_dir);
}

static void setup(void)
{
	if (devnull)
		return;
	if (!mkdtemp(in_dir) || !mkdtemp(out_dir))
		abort();
	atexit(cleanup_dirs);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
}

static void check_message(int rc, const char *err)
{
	/* Every refusal names the file, on one line. */
	if (rc < 0 && (!err[0] || strchr(err, '\n') || !strstr(err, CAPDATA_FILE)))
		abort();
}

static void exercise(const struct capdata *cd)
{
	struct aggregate agg;
	struct capdata again;
	char err[512];
	json_t *report, *diag = NULL;
	char line[512];
	int rc;

	if (aggregate_build(&agg, cd))
		return; /* -ENOMEM only */
	/* whatever the file says, the diagnosis has a verdict line */
	rc = diagnose_build(cd, &agg, NULL, &diag);
	if (rc && rc != -ENOMEM)
		abort();
	if (!rc && diagnose_summary_line(diag, line, sizeof(line)))
		abort();
	render_folded(devnull, cd, &agg);
	render_summary(devnull, cd, &agg, 10);
	if (render_report(cd, &agg, diag, &report) == 0)
		json_decref(report);
	/* the pictures, with the diagnosis as their extra, as output.c calls them */
	render_flame(devnull, cd, &agg, diag, 0);
	render_timeline(devnull, cd, &agg, diag, 0);
	render_pprof(devnull, cd, &agg, diag);
	render_html(devnull, cd, &agg, diag);
	json_decref(diag);
	aggregate_release(&agg);

	/* Whatever the reader accepts, the writer must write and the reader reread. */
	rc = capdata_write(cd, out_dir);
	if (rc == -E2BIG)
		return; /* a value over INT64_MAX cannot come from a file; kept for safety */
	if (rc)
		abort();
	if (capdata_init(&again))
		abort();
	rc = capdata_read(&again, out_dir, err, sizeof(err));
	check_message(rc, err);
	if (rc || again.nframes != cd->nframes || again.nstacks != cd->nstacks ||
	    again.nthreads != cd->nthreads || again.nblocks != cd->nblocks ||
	    again.nmappings != cd->nmappings || again.ndrops != cd->ndrops ||
	    again.nstats != cd->nstats || again.nholds != cd->nholds ||
	    again.nhold_totals != cd->nhold_totals || again.nsamples != cd->nsamples ||
	    again.nmem != cd->nmem) {
		fprintf(stderr, "round trip failed: %s\n", err);
		abort();
	}
	capdata_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256], err[512];
	struct capdata cd;
	FILE *f;
	int rc;

	setup();
	snprintf(path, sizeof(path), "%s/%s", in_dir, CAPDATA_FILE);
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f))
		abort();

	if (capdata_init(&cd))
		return 0;
	rc = capdata_read(&cd, in_dir, err, sizeof(err));
	check_message(rc, err);
	if (rc == 0)
		exercise(&cd);
	capdata_free(&cd);
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static uint8_t buf[1 << 22];
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
