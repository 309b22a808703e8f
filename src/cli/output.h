/* output.h: writes a capture directory from a capdata: the saved capture data,
 * then every rendered file, then the printed summary. Shared by record, report
 * and (later) watch incidents. */
#ifndef STALLTRAP_OUTPUT_H
#define STALLTRAP_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "capdata/capdata.h"

/* output_render writes every rendered file (render_all_files: profile.folded,
 * report.json, flamegraph.svg, timeline.svg, profile.pb.gz, report.html), then
 * the summary; output_write_all first writes capture.jsonl.gz too (record: yes;
 * report: no, it is the input). summary may be NULL. Each returns 0 or a
 * negative errno with a one-line reason in err. */
int output_render(const struct capdata *cd, const char *dir, int top, FILE *summary,
		  char *err, size_t errlen);
/* output_render with the later stages' findings: extra (NULL or an object:
 * verdict, trigger, ...) goes into report.json and the pictures, as in
 * render_all_files(); baseline (NULL or the capture of a healthy window
 * before cd's) goes to diagnose_build(). output_render is this with both NULL. */
int output_render_extra(const struct capdata *cd, const char *dir, int top, FILE *summary,
			const json_t *extra, const struct capdata *baseline, char *err, size_t errlen);
int output_write_all(const struct capdata *cd, const char *dir, int top, FILE *summary,
		     char *err, size_t errlen);
/* output_write_all with extra, as output_render_extra (watch incidents:
 * window, trigger, baseline). */
int output_write_all_extra(const struct capdata *cd, const char *dir, int top, FILE *summary,
			   const json_t *extra, const struct capdata *baseline, char *err, size_t errlen);

#endif /* STALLTRAP_OUTPUT_H */
