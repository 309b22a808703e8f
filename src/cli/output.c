/* output.c: writes a capture directory: saved data, rendered files, summary. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "cli/output.h"
#include "render/render.h"

int output_render(const struct capdata *cd, const char *dir, int top, FILE *summary,
		  char *err, size_t errlen)
{
	struct aggregate agg;
	int ret;

	ret = aggregate_build(&agg, cd);
	if (ret) {
		snprintf(err, errlen, "cannot aggregate the capture: %s", strerror(-ret));
		return ret;
	}
	ret = render_all(dir, cd, &agg, NULL, err, errlen);
	if (!ret && summary) {
		render_summary(summary, cd, &agg, top);
		fprintf(summary, "wrote %s/\n", dir);
	}
	aggregate_release(&agg);
	return ret;
}

int output_write_all(const struct capdata *cd, const char *dir, int top, FILE *summary,
		     char *err, size_t errlen)
{
	int ret = capdata_write(cd, dir);

	if (ret) {
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, CAPDATA_FILE, strerror(-ret));
		return ret;
	}
	return output_render(cd, dir, top, summary, err, errlen);
}
