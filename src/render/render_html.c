/* render_html.c: report.html, the one self-contained page a person opens: verdict, figures, timeline, flame graph, call sites, drops, trigger.
 *
 * Nothing is fetched: the styles are inline, the two SVGs are inlined
 * (render_timeline / render_flame with RENDER_SVG_INLINE) and the page's
 * Content-Security-Policy forbids any load, so a report opened from a bug
 * tracker cannot call home either. Every string from the capture or from
 * extra is escaped; the only script is the flame graph's, which reads names
 * from the DOM and never has data written into it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"

#define HTML_TOP_SITES 25       /* call sites in the table */
#define HTML_SITE_PATH 3        /* innermost user frames in a call site's summary */
#define HTML_MAX_SAMPLE_ROWS 2000
#define HTML_MAX_SAMPLE_COLS 12

static const char html_css[] =
	"body{font-family:system-ui,-apple-system,Segoe UI,DejaVu Sans,sans-serif;margin:0;"
	"color:#1d1d1f;background:#fafafa}"
	"main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}"
	"h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;"
	"padding-bottom:4px}"
	".verdict{font-size:17px;padding:12px 16px;border-left:6px solid #c62828;background:#fff;"
	"box-shadow:0 1px 2px rgba(0,0,0,.08)}"
	".verdict .kind{font-family:monospace;font-size:13px;color:#666;display:block;margin-bottom:4px}"
	".noverdict{border-left-color:#999;color:#555}"
	"table{border-collapse:collapse;background:#fff;font-size:13px}"
	"td,th{border:1px solid #e2e2e2;padding:4px 8px;text-align:left;vertical-align:top}"
	"th{background:#f0f0f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	".figures td:first-child{color:#555}"
	".stack{font-family:monospace;font-size:12px;word-break:break-all}"
	".stack ol{margin:4px 0;padding-left:22px}.stack li.k{color:#00695c}"
	".bad{color:#b71c1c;font-weight:bold}.ok{color:#2e7d32}"
	"svg{max-width:100%;height:auto;display:block;border:1px solid #e2e2e2}"
	"svg.chart{border:0}"
	"details summary{cursor:pointer}"
	"footer{font-size:12px;color:#777;margin-top:30px}";

static void put(FILE *f, const char *s)
{
	render_xml_put(f, s);
}

static void row_str(FILE *f, const char *key, const char *val)
{
	fprintf(f, "<tr><td>%s</td><td>", key);
	put(f, val ? val : "-");
	fputs("</td></tr>\n", f);
}

static void put_json_scalar(FILE *f, const json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		put(f, json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (s) {
		/* Nested objects can be big: a table cell shows their start. */
		render_xml_put_fit(f, s, 400);
		free(s);
	}
}

static void section_verdict(FILE *f, const json_t *extra)
{
	const char *summary = render_verdict_summary(extra), *kind = render_verdict_kind(extra);

	if (!summary) {
		fputs("<p class=\"verdict noverdict\">No verdict: this capture was not diagnosed. "
		      "The figures, the timeline and the flame graph below are the evidence.</p>\n", f);
		return;
	}
	fputs("<p class=\"verdict\" id=\"verdict\">", f);
	if (kind) {
		fputs("<span class=\"kind\">", f);
		put(f, kind);
		fputs("</span>", f);
	}
	put(f, summary);
	fputs("</p>\n", f);
}

static uint64_t drops_total(const struct capdata *cd)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < cd->ndrops; i++)
		sum = sum + cd->drops[i].value < sum ? UINT64_MAX : sum + cd->drops[i].value;
	return sum;
}

static void section_figures(FILE *f, const struct capdata *cd, const struct aggregate *agg)
{
	char start[40], buf[256];
	size_t i, active = 0;
	double pct = aggregate_ustack_complete_pct(agg);
	uint64_t dropped = drops_total(cd);

	for (i = 0; i < agg->nthreads; i++)
		active += agg->threads[i].count > 0;
	render_rfc3339(cd->window.start_real_ns, start, sizeof(start));
	fputs("<h2 id=\"figures\">Key figures</h2>\n<table class=\"figures\">\n", f);
	row_str(f, "target", cd->target.comm);
	fputs("<tr><td>pids</td><td>", f);
	for (i = 0; i < cd->target.npids && i < 32; i++)
		fprintf(f, "%s%" PRId32, i ? ", " : "", cd->target.pids[i]);
	if (cd->target.npids > 32)
		fprintf(f, ", ... (%zu in all)", cd->target.npids);
	fputs("</td></tr>\n", f);
	row_str(f, "command line", cd->target.cmdline);
	snprintf(buf, sizeof(buf), "%s, %.3f s", start, (double)cd->window.duration_ns / 1e9);
	row_str(f, "window", buf);
	if (cd->window.trigger_mono_ns && cd->window.trigger_mono_ns >= cd->window.start_mono_ns) {
		snprintf(buf, sizeof(buf), "%+.3f s into the window",
			 (double)(cd->window.trigger_mono_ns - cd->window.start_mono_ns) / 1e9);
		row_str(f, "trigger", buf);
	}
	fprintf(f, "<tr><td>off-CPU time recorded</td><td class=\"n\">%.3f ms in %" PRIu64
		" blocks of at least %.3f ms</td></tr>\n", render_ms(agg->offcpu_ns), agg->nblocks,
		render_ms(cd->window.min_block_ns));
	fprintf(f, "<tr><td>off-CPU in shorter blocks</td><td class=\"n\">%.3f ms (counted per thread)</td></tr>\n",
		render_ms(agg->below_min_ns));
	fprintf(f, "<tr><td>off-CPU by task state</td><td class=\"n\">sleeping %.3f ms, "
		"uninterruptible %.3f ms, runnable %.3f ms</td></tr>\n",
		render_ms(agg->state_ns[CAP_STATE_SLEEPING]), render_ms(agg->state_ns[CAP_STATE_UNINTERRUPTIBLE]),
		render_ms(agg->state_ns[CAP_STATE_RUNNABLE]));
	fprintf(f, "<tr><td>threads</td><td class=\"n\">%zu off-CPU, %zu seen</td></tr>\n", active,
		agg->nthreads);
	fprintf(f, "<tr><td>call sites</td><td class=\"n\">%zu</td></tr>\n", agg->nentries);
	if (pct >= 0)
		fprintf(f, "<tr><td>complete user stacks</td><td class=\"n\">%.1f %% of the off-CPU time</td></tr>\n",
			pct);
	fprintf(f, "<tr><td>mmap_lock holds, on-CPU samples, memory samples</td><td class=\"n\">%zu, %zu, %zu</td></tr>\n",
		cd->nholds, cd->nsamples, cd->nmem);
	fprintf(f, "<tr><td>data lost</td><td class=\"%s\">%s</td></tr>\n", dropped ? "bad" : "ok",
		dropped ? "yes: see Drops below" : "nothing (every drop counter is 0)");
	row_str(f, "capture path", cd->capture_path);
	fputs("</table>\n", f);
}

static void put_frames(FILE *f, const struct capdata *cd, uint32_t stack, bool kernel)
{
	const struct cap_stack *s = &cd->stacks[stack];
	uint32_t i;

	for (i = 0; i < s->nframes; i++) {
		const char *name = cd->frames[s->frames[i]].name;

		fprintf(f, "<li%s>", kernel ? " class=\"k\"" : "");
		put(f, name[0] ? name : "[unknown]");
		fputs(kernel ? " <small>[k]</small></li>" : "</li>", f);
	}
}

/* "outer > inner > leaf | kernel_leaf": enough to recognise a call site. */
static void put_site_summary(FILE *f, const struct capdata *cd, const struct agg_entry *en)
{
	bool any = false;

	if (render_shows_ustack(cd, en->ustack)) {
		const struct cap_stack *s = &cd->stacks[en->ustack];
		uint32_t i = s->nframes > HTML_SITE_PATH ? s->nframes - HTML_SITE_PATH : 0;

		if (i)
			fputs("&#8230; &gt; ", f);
		for (; i < s->nframes; i++) {
			const char *name = cd->frames[s->frames[i]].name;

			if (any)
				fputs(" &gt; ", f);
			render_xml_put_fit(f, name[0] ? name : "[unknown]", 80);
			any = true;
		}
	}
	if (en->kstack < cd->nstacks && cd->stacks[en->kstack].nframes) {
		const struct cap_stack *s = &cd->stacks[en->kstack];
		const char *name = cd->frames[s->frames[s->nframes - 1]].name;

		fputs(any ? " | " : "", f);
		render_xml_put_fit(f, name, 60);
		fputs(" <small>[k]</small>", f);
		any = true;
	}
	if (!any)
		fputs("(no stack)", f);
}

static void section_sites(FILE *f, const struct capdata *cd, const struct aggregate *agg)
{
	size_t i, n = agg->nentries < HTML_TOP_SITES ? agg->nentries : HTML_TOP_SITES;

	fprintf(f, "<h2 id=\"callsites\">Top call sites</h2>\n<p>The %zu call sites (thread name, user "
		"stack, kernel stack) with the most off-CPU time, of %zu; all are in report.json and "
		"profile.folded.</p>\n", n, agg->nentries);
	if (!n)
		return;
	fputs("<table class=\"sites\">\n<tr><th>#</th><th>off-CPU ms</th><th>%</th><th>blocks</th>"
	      "<th>max ms</th><th>threads</th><th>sleeping / uninterruptible / runnable ms</th>"
	      "<th>thread name</th><th>call site</th></tr>\n", f);
	for (i = 0; i < n; i++) {
		const struct agg_entry *en = &agg->entries[i];

		fprintf(f, "<tr><td class=\"n\">%zu</td><td class=\"n\">%.3f</td><td class=\"n\">%.1f</td>"
			"<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%.3f</td><td class=\"n\">%" PRIu32
			"</td><td class=\"n\">%.1f / %.1f / %.1f</td><td>", i + 1, render_ms(en->offcpu_ns),
			agg->offcpu_ns ? (double)en->offcpu_ns * 100.0 / (double)agg->offcpu_ns : 0.0,
			en->count, render_ms(en->max_ns), en->threads,
			render_ms(en->state_ns[CAP_STATE_SLEEPING]),
			render_ms(en->state_ns[CAP_STATE_UNINTERRUPTIBLE]),
			render_ms(en->state_ns[CAP_STATE_RUNNABLE]));
		put(f, en->comm);
		fputs("</td><td class=\"stack\"><details><summary>", f);
		put_site_summary(f, cd, en);
		fprintf(f, "%s</summary><ol>", en->in_progress ? " <small>(in progress at the end)</small>" : "");
		if (render_shows_ustack(cd, en->ustack))
			put_frames(f, cd, en->ustack, false);
		if (en->kstack < cd->nstacks)
			put_frames(f, cd, en->kstack, true);
		fprintf(f, "</ol>user stack: %s</details></td></tr>\n", render_ustack_status(cd, en->ustack));
	}
	fputs("</table>\n", f);
}

static void section_drops(FILE *f, const struct capdata *cd)
{
	size_t i;

	fputs("<h2 id=\"drops\">Drops</h2>\n", f);
	if (!cd->ndrops) {
		fputs("<p>This capture has no drop counters.</p>\n", f);
		return;
	}
	fprintf(f, "<p>Every way the capture can lose data has a counter; %s</p>\n<table>\n"
		"<tr><th>counter</th><th>lost</th></tr>\n",
		drops_total(cd) ? "some lost data: the figures above are a lower bound." :
				  "all are 0: nothing was lost.");
	for (i = 0; i < cd->ndrops; i++) {
		fprintf(f, "<tr><td%s>", cd->drops[i].value ? " class=\"bad\"" : "");
		put(f, cd->drops[i].name);
		fprintf(f, "</td><td class=\"n%s\">%" PRIu64 "</td></tr>\n", cd->drops[i].value ? " bad" : "",
			cd->drops[i].value);
	}
	fputs("</table>\n", f);
}

static bool num(const json_t *row, const char *key, double *v)
{
	const json_t *x = json_object_get(row, key);

	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return true;
}

/* A line chart of a metric's samples: y is "value" (else the first numeric
 * key), x the first of t_s / ts_ns / t / time whose values are numbers (else
 * the sample's index). */
static void samples_chart(FILE *f, const json_t *arr, const char *const *cols, size_t ncols)
{
	static const char *const xkeys[] = { "t_s", "ts_ns", "t", "time_s", "time" };
	const char *xk = NULL, *yk = NULL;
	size_t i, j, n = json_array_size(arr), shown = 0;
	double xmin = 0, xmax = 0, ymin = 0, ymax = 0, x, y, v;
	const double W = 900, H = 140, L = 60, T = 10;

	for (j = 0; j < sizeof(xkeys) / sizeof(xkeys[0]) && !xk; j++) {
		if (num(json_array_get(arr, 0), xkeys[j], &v))
			xk = xkeys[j];
	}
	if (num(json_array_get(arr, 0), "value", &v))
		yk = "value";
	for (j = 0; j < ncols && !yk; j++) {
		if ((!xk || strcmp(cols[j], xk) != 0) && num(json_array_get(arr, 0), cols[j], &v))
			yk = cols[j];
	}
	if (!yk || n < 2)
		return;
	for (i = 0; i < n && i < HTML_MAX_SAMPLE_ROWS; i++) {
		const json_t *row = json_array_get(arr, i);

		if (!num(row, yk, &y) || (xk && !num(row, xk, &x)))
			continue;
		if (!xk)
			x = (double)i;
		if (!shown++) {
			xmin = xmax = x;
			ymin = ymax = y;
		}
		xmin = x < xmin ? x : xmin;
		xmax = x > xmax ? x : xmax;
		ymin = y < ymin ? y : ymin;
		ymax = y > ymax ? y : ymax;
	}
	if (shown < 2 || xmax <= xmin)
		return;
	if (ymin > 0)
		ymin = 0;
	if (ymax <= ymin)
		ymax = ymin + 1;
	fprintf(f, "<svg class=\"chart\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
		"height=\"%.0f\" fill=\"#fff\" stroke=\"#ccc\"/>", W + L + 10, H + T + 24, W + L + 10,
		H + T + 24, L, T, W, H);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%g</text>"
		"<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%g</text>"
		"<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%g</text>"
		"<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%g ",
		L - 4, T + 10, ymax, L - 4, T + H, ymin, L, T + H + 16, xmin, L + W, T + H + 16, xmax);
	put(f, xk ? xk : "sample");
	fputs("</text><polyline fill=\"none\" stroke=\"#c62828\" stroke-width=\"2\" points=\"", f);
	for (i = 0, j = 0; i < n && i < HTML_MAX_SAMPLE_ROWS; i++) {
		const json_t *row = json_array_get(arr, i);

		if (!num(row, yk, &y) || (xk && !num(row, xk, &x)))
			continue;
		if (!xk)
			x = (double)i;
		fprintf(f, "%s%.1f,%.1f", j++ ? " " : "", L + (x - xmin) / (xmax - xmin) * W,
			T + H - (y - ymin) / (ymax - ymin) * H);
	}
	fputs("\"><title>", f);
	put(f, yk);
	fputs("</title></polyline></svg>\n", f);
}

/* A table of an array of objects: columns from the keys of the first rows. */
static void samples_table(FILE *f, const char *name, const json_t *arr)
{
	const char *cols[HTML_MAX_SAMPLE_COLS];
	size_t ncols = 0, i, j, n = json_array_size(arr);
	const char *key;
	json_t *v;

	for (i = 0; i < n && i < 16; i++) {
		json_object_foreach((json_t *)json_array_get(arr, i), key, v) {
			for (j = 0; j < ncols && strcmp(cols[j], key) != 0; j++)
				;
			if (j == ncols && ncols < HTML_MAX_SAMPLE_COLS)
				cols[ncols++] = key;
		}
	}
	fputs("<h3>", f);
	put(f, name);
	fprintf(f, " (%zu)</h3>\n", n);
	samples_chart(f, arr, cols, ncols);
	fputs("<details><summary>the samples</summary>\n<table class=\"samples\">\n<tr>", f);
	for (j = 0; j < ncols; j++) {
		fputs("<th>", f);
		put(f, cols[j]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (i = 0; i < n && i < HTML_MAX_SAMPLE_ROWS; i++) {
		const json_t *row = json_array_get(arr, i);

		fputs("<tr>", f);
		for (j = 0; j < ncols; j++) {
			const json_t *cell = json_object_get(row, cols[j]);

			fprintf(f, "<td%s>", json_is_number(cell) ? " class=\"n\"" : "");
			if (cell)
				put_json_scalar(f, cell);
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	if (n > HTML_MAX_SAMPLE_ROWS)
		fprintf(f, "<tr><td colspan=\"%zu\">... %zu more in report.json</td></tr>\n",
			ncols ? ncols : 1, n - HTML_MAX_SAMPLE_ROWS);
	fputs("</table></details>\n", f);
}

static bool objects_array(const json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
}

static void section_trigger(FILE *f, const json_t *extra)
{
	const json_t *trig = extra && json_is_object(extra) ? json_object_get(extra, "trigger") : NULL;
	const char *key;
	json_t *v;

	if (!trig || !json_is_object(trig))
		return;
	fputs("<h2 id=\"trigger\">Trigger</h2>\n<table class=\"figures\">\n", f);
	json_object_foreach((json_t *)trig, key, v) {
		if (objects_array(v))
			continue;
		fputs("<tr><td>", f);
		put(f, key);
		fputs("</td><td>", f);
		put_json_scalar(f, v);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	json_object_foreach((json_t *)trig, key, v) {
		if (objects_array(v))
			samples_table(f, key, v);
	}
}

int render_html(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		const json_t *extra)
{
	const char *comm = cd->target.comm ? cd->target.comm : "capture";
	int err;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      /* Self-contained, and it stays so: nothing may be loaded. */
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<title>stalltrap: ", f);
	put(f, comm);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>stalltrap report: ", html_css);
	put(f, comm);
	fputs("</h1>\n", f);
	section_verdict(f, extra);
	section_figures(f, cd, agg);

	fputs("<h2 id=\"timeline\">Timeline</h2>\n<p>One lane per thread: when it was off-CPU and why; "
	      "mmap_lock holds under it; the RSS underneath. Hover for details.</p>\n", f);
	err = render_timeline(f, cd, agg, NULL, RENDER_SVG_INLINE);
	if (err)
		return err;
	fputs("<h2 id=\"flamegraph\">Off-CPU flame graph</h2>\n<p>Width is off-CPU time. Click a frame "
	      "to zoom, the bottom frame or Reset Zoom to reset; Search highlights matching frames and "
	      "shows their share. Blue: user frames; teal: kernel frames.</p>\n", f);
	err = render_flame(f, cd, agg, NULL, RENDER_SVG_INLINE);
	if (err)
		return err;
	section_sites(f, cd, agg);
	section_drops(f, cd);
	section_trigger(f, extra);
	fputs("<footer>Rendered by stalltrap from capture.jsonl.gz; next to this page: "
	      "flamegraph.svg, timeline.svg, profile.pb.gz (go tool pprof), profile.folded "
	      "(flamegraph.pl), report.json.</footer>\n</main>\n</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}
