/* report.c: `stalltrap report DIR`: re-renders a capture directory from its saved data. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "capdata/capdata.h"
#include "cli/cli.h"
#include "pipeline/writer.h"
#include "util/outdir.h"
#include "util/parse.h"

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct capdata cd;
	char err[512];
	uint64_t top = 10;
	int opt, ret;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (parse_u64(optarg, 1, 1000, &top)) {
				fprintf(stderr, "stalltrap report: invalid --top '%s': expected 1..1000\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: stalltrap report DIR [--top N]\n"
			       "  re-renders DIR's reports from DIR/" CAPDATA_FILE "\n");
			return 0;
		default:
			fprintf(stderr, "stalltrap report: unknown option '%s' (see 'stalltrap report --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "stalltrap report: expected one capture directory (see 'stalltrap report --help')\n");
		return EXIT_USAGE;
	}
	if (capdata_init(&cd)) {
		fprintf(stderr, "stalltrap report: out of memory\n");
		return EXIT_RUNTIME;
	}
	ret = capdata_read(&cd, argv[optind], err, sizeof(err));
	if (ret) {
		fprintf(stderr, "stalltrap report: %s\n", err);
		capdata_free(&cd);
		return EXIT_RUNTIME;
	}
	/* temporary files a killed writer left behind */
	outdir_clean_stale(argv[optind], OUTDIR_STALE_AGE_S);
	ret = writer_render(&cd, argv[optind], (int)top, stdout, NULL, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "stalltrap report: %s\n", err);
	capdata_free(&cd);
	return ret ? EXIT_RUNTIME : 0;
}
