/* writer.c: turns a capdata into its verdict and its capture directory: saved data, rendered files, summary. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "diagnose/diagnose.h"
#include "pipeline/writer.h"
#include "render/render.h"
#include "util/units.h"

int writer_diagnose(const struct capdata *cd, const struct capdata *baseline, struct aggregate *agg,
		    json_t **diag, char *err, size_t errlen)
{
	int ret;

	*diag = NULL;
	ret = aggregate_build(agg, cd);
	if (ret) {
		snprintf(err, errlen, "cannot aggregate the capture: %s", strerror(-ret));
		return ret;
	}
	ret = diagnose_build(cd, agg, baseline, diag);
	if (ret) {
		snprintf(err, errlen, "cannot diagnose the capture: %s", strerror(-ret));
		aggregate_release(agg);
		*diag = NULL;
	}
	return ret;
}

/* The verdict and the summary go out before any file is written: on a slow
 * or full output disk they are the part that is on time. */
static int write_dir(const struct capdata *cd, const char *dir, int top, FILE *summary, const json_t *extra,
		     const struct capdata *baseline, bool save, char *err, size_t errlen)
{
	struct aggregate agg;
	json_t *diag;
	char verdict[1024];
	int ret;

	ret = writer_diagnose(cd, baseline, &agg, &diag, err, errlen);
	if (ret)
		return ret;
	/* The diagnosis goes at the top of report.json and of the summary; the
	 * caller's extra keys (watch: window, trigger, baseline) ride along. */
	if (json_is_object(extra))
		json_object_update_missing(diag, (json_t *)extra);
	if (summary) {
		if (!diagnose_summary_line(diag, verdict, sizeof(verdict)))
			fprintf(summary, "%s\n", verdict);
		render_summary(summary, cd, &agg, top);
		fflush(summary);
	}
	if (save) {
		ret = capdata_write(cd, dir);
		if (ret)
			snprintf(err, errlen, "cannot write %s/%s: %s", dir, CAPDATA_FILE, strerror(-ret));
	}
	if (!ret)
		ret = render_all_files(dir, cd, &agg, diag, err, errlen);
	if (!ret && summary) {
		fprintf(summary, "wrote %s/\n", dir);
		fflush(summary);
	}
	json_decref(diag);
	aggregate_release(&agg);
	return ret;
}

int writer_render(const struct capdata *cd, const char *dir, int top, FILE *summary, const json_t *extra,
		  const struct capdata *baseline, char *err, size_t errlen)
{
	return write_dir(cd, dir, top, summary, extra, baseline, false, err, errlen);
}

int writer_write(const struct capdata *cd, const char *dir, int top, FILE *summary, const json_t *extra,
		 const struct capdata *baseline, char *err, size_t errlen)
{
	return write_dir(cd, dir, top, summary, extra, baseline, true, err, errlen);
}

/* ---- a watch incident's keys of report.json ---- */

/* The incident's "window": the capture's, with how much of it came before
 * the trigger and when the trigger was. */
static json_t *incident_window_json(const struct capdata *cd, uint64_t trigger_ns)
{
	char trig[40];
	int64_t trig_real = cd->window.start_real_ns + (int64_t)(trigger_ns - cd->window.start_mono_ns);
	json_t *w = render_window_json(cd);

	render_rfc3339(trig_real, trig, sizeof(trig));
	if (w && (json_object_set_new(w, "pre_trigger_s",
				      json_real(units_s(trigger_ns - cd->window.start_mono_ns))) ||
		  json_object_set_new(w, "trigger", json_string(trig)))) {
		json_decref(w);
		return NULL;
	}
	return w;
}

/* The incident's "baseline": the baseline's own diagnosis (against no
 * baseline) with its window, off-CPU total and block count; the note when
 * there is none; NULL when it cannot be diagnosed. */
static json_t *baseline_json(const struct writer_incident *inc)
{
	struct aggregate agg;
	json_t *diag;
	char err[256];

	if (!inc->baseline)
		return inc->baseline_note ? json_pack("{s:s}", "note", inc->baseline_note) : NULL;
	if (writer_diagnose(inc->baseline, NULL, &agg, &diag, err, sizeof(err)))
		return NULL;
	json_object_set_new(diag, "window", render_window_json(inc->baseline));
	json_object_set_new(diag, "offcpu_total_ms", json_real(units_ms(agg.offcpu_ns)));
	json_object_set_new(diag, "blocks", json_integer((json_int_t)agg.nblocks));
	aggregate_release(&agg);
	return diag;
}

int writer_write_incident(const struct capdata *cd, const struct writer_incident *inc, const char *dir,
			  int top, char *err, size_t errlen)
{
	json_t *extra = json_object(), *base;
	int ret;

	if (!extra) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* the order of report.json's keys after the diagnosis' */
	json_object_set_new(extra, "window", incident_window_json(cd, inc->trigger_ns));
	if (inc->trigger)
		json_object_set(extra, "trigger", (json_t *)inc->trigger);
	base = baseline_json(inc);
	json_object_set_new(extra, "baseline", base ? base : json_null());
	json_object_set_new(extra, "max_disk", json_integer((json_int_t)inc->max_disk));
	ret = writer_write(cd, dir, top, NULL, extra, inc->baseline, err, errlen);
	json_decref(extra);
	return ret;
}
