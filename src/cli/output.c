/* output.c: writes a capture directory: saved data, rendered files, summary. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "cli/output.h"
#include "diagnose/diagnose.h"
#include "render/render.h"

int output_render(const struct capdata *cd, const char *dir, int top, FILE *summary,
		  char *err, size_t errlen)
{
	return output_render_extra(cd, dir, top, summary, NULL, NULL, err, errlen);
}

int output_render_extra(const struct capdata *cd, const char *dir, int top, FILE *summary,
			const json_t *extra, const struct capdata *baseline, char *err, size_t errlen)
{
	struct aggregate agg;
	json_t *diag = NULL;
	char verdict[1024];
	int ret;

	ret = aggregate_build(&agg, cd);
	if (ret) {
		snprintf(err, errlen, "cannot aggregate the capture: %s", strerror(-ret));
		return ret;
	}
	/* The diagnosis goes at the top of report.json and of the summary; the
	 * caller's extra keys (watch: trigger, baseline) ride along. */
	ret = diagnose_build(cd, &agg, baseline, &diag);
	if (ret) {
		snprintf(err, errlen, "cannot diagnose the capture: %s", strerror(-ret));
		aggregate_release(&agg);
		return ret;
	}
	if (json_is_object(extra))
		json_object_update_missing(diag, (json_t *)extra);
	ret = render_all_files(dir, cd, &agg, diag, err, errlen);
	if (!ret && summary) {
		if (!diagnose_summary_line(diag, verdict, sizeof(verdict)))
			fprintf(summary, "%s\n", verdict);
		render_summary(summary, cd, &agg, top);
		fprintf(summary, "wrote %s/\n", dir);
	}
	json_decref(diag);
	aggregate_release(&agg);
	return ret;
}

int output_write_all(const struct capdata *cd, const char *dir, int top, FILE *summary,
		     char *err, size_t errlen)
{
	return output_write_all_extra(cd, dir, top, summary, NULL, NULL, err, errlen);
}

int output_write_all_extra(const struct capdata *cd, const char *dir, int top, FILE *summary,
			   const json_t *extra, const struct capdata *baseline, char *err, size_t errlen)
{
	int ret = capdata_write(cd, dir);

	if (ret) {
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, CAPDATA_FILE, strerror(-ret));
		return ret;
	}
	return output_render_extra(cd, dir, top, summary, extra, baseline, err, errlen);
}
