/* diff.c: `stalltrap diff BASE_DIR INCIDENT_DIR`: what grew in an incident against a baseline capture. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "cli/cli.h"
#include "render/render.h"
#include "util/outdir.h"
#include "util/parse.h"

struct side {
	const char *dir;
	struct capdata cd;
	struct aggregate agg;
};

struct diff_files {
	struct side *base, *inc;
	int top;
};

static int fill_flame(FILE *f, void *arg)
{
	struct diff_files *d = arg;

	return render_flame_diff(f, &d->base->cd, &d->base->agg, &d->inc->cd, &d->inc->agg, NULL);
}

static int fill_text(FILE *f, void *arg)
{
	struct diff_files *d = arg;

	return render_diff_text(f, d->base->dir, &d->base->cd, &d->base->agg, d->inc->dir,
				&d->inc->cd, &d->inc->agg, d->top);
}

static int load(struct side *s)
{
	char err[512];
	int ret;

	if (capdata_init(&s->cd)) {
		fprintf(stderr, "stalltrap diff: out of memory\n");
		return -ENOMEM;
	}
	ret = capdata_read(&s->cd, s->dir, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap diff: %s\n", err);
		return ret;
	}
	ret = aggregate_build(&s->agg, &s->cd);
	if (ret)
		fprintf(stderr, "stalltrap diff: cannot aggregate %s: %s\n", s->dir, strerror(-ret));
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: stalltrap diff BASE_DIR INCIDENT_DIR [--out DIR] [--top N]\n"
		"  compares two capture directories per second of their windows; writes\n"
		"  DIR/" RENDER_DIFF_FLAME_FILE " (red grew, blue shrank) and DIR/" RENDER_DIFF_TEXT_FILE
		" (also printed)\n"
		"  --out DIR   where to write (default: INCIDENT_DIR)\n"
		"  --top N     changes listed per table (default 10)\n");
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct side base = { 0 }, inc = { 0 };
	struct diff_files files = { .base = &base, .inc = &inc, .top = 10 };
	const char *out = NULL;
	char path[PATH_MAX];
	uint64_t top;
	int opt, ret, status = EXIT_RUNTIME;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (!optarg[0]) {
				fprintf(stderr, "stalltrap diff: invalid --out '': expected a directory\n");
				return EXIT_USAGE;
			}
			out = optarg;
			break;
		case 't':
			if (parse_u64(optarg, 1, 1000, &top)) {
				fprintf(stderr, "stalltrap diff: invalid --top '%s': expected 1..1000\n", optarg);
				return EXIT_USAGE;
			}
			files.top = (int)top;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "stalltrap diff: option '%s' needs a value (see 'stalltrap diff --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "stalltrap diff: unknown option '%s' (see 'stalltrap diff --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "stalltrap diff: expected BASE_DIR and INCIDENT_DIR, got %d director%s "
			"(see 'stalltrap diff --help')\n", argc - optind, argc - optind == 1 ? "y" : "ies");
		return EXIT_USAGE;
	}
	base.dir = argv[optind];
	inc.dir = argv[optind + 1];
	if (!out)
		out = inc.dir;

	if (load(&base) || load(&inc))
		goto cleanup;
	ret = outdir_make(out);
	if (ret) {
		fprintf(stderr, "stalltrap diff: cannot create %s: %s\n", out, outdir_strerror(ret));
		goto cleanup;
	}
	if (snprintf(path, sizeof(path), "%s/%s", out, RENDER_DIFF_FLAME_FILE) >= (int)sizeof(path))
		ret = -ENAMETOOLONG;
	else
		ret = render_write_file(path, fill_flame, &files);
	if (!ret) {
		if (snprintf(path, sizeof(path), "%s/%s", out, RENDER_DIFF_TEXT_FILE) >= (int)sizeof(path))
			ret = -ENAMETOOLONG;
		else
			ret = render_write_file(path, fill_text, &files);
	}
	if (ret) {
		fprintf(stderr, "stalltrap diff: %s: cannot write: %s\n", path, strerror(-ret));
		goto cleanup;
	}
	ret = fill_text(stdout, &files);
	if (ret) {
		fprintf(stderr, "stalltrap diff: cannot print the listing: %s\n", strerror(-ret));
		goto cleanup;
	}
	printf("wrote %s/%s and %s/%s\n", out, RENDER_DIFF_FLAME_FILE, out, RENDER_DIFF_TEXT_FILE);
	status = 0;
cleanup:
	aggregate_release(&base.agg);
	aggregate_release(&inc.agg);
	capdata_free(&base.cd);
	capdata_free(&inc.cd);
	return status;
}
