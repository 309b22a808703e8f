/* output.h: writes a capture directory from a capdata: the saved capture data,
 * then every rendered file, then the printed summary. Shared by record, report
 * and (later) watch incidents. */
#ifndef STALLTRAP_OUTPUT_H
#define STALLTRAP_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "capdata/capdata.h"

/* save_capture: also write capture.jsonl.gz (record: yes; report: no, it is the input).
 * summary may be NULL. Returns 0 or a negative errno with a one-line reason in err. */
int output_render(const struct capdata *cd, const char *dir, int top, FILE *summary,
		  char *err, size_t errlen);
int output_write_all(const struct capdata *cd, const char *dir, int top, FILE *summary,
		     char *err, size_t errlen);

#endif /* STALLTRAP_OUTPUT_H */
