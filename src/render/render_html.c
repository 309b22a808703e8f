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
	"tr.group th{background:#e8e8ee;text-align:left}td.cause{font-family:monospace;white-space:nowrap}"
	"tbody.g-cause td.cause{color:#b71c1c;font-weight:bold}tbody.g-idle td.cause{color:#777}"
	"small.began{color:#8a4b00}"
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
	fprintf(f, "<tr><td>off-CPU time in the window</td><td class=\"n\">%.3f ms in %" PRIu64
		" blocks of at least %.3f ms</td></tr>\n", render_ms(agg->window_ns), agg->nblocks,
		render_ms(cd->window.min_block_ns));
	if (agg->offcpu_ns != agg->window_ns)
		fprintf(f, "<tr><td>off-CPU outside the window</td><td class=\"n\">%.3f ms more, in blocks "
			"that began before it or ran past it (not counted)</td></tr>\n",
			render_ms(agg->offcpu_ns - agg->window_ns));
	fprintf(f, "<tr><td>off-CPU in shorter blocks</td><td class=\"n\">%.3f ms (counted per thread)</td></tr>\n",
		render_ms(agg->below_min_ns));
	fprintf(f, "<tr><td>off-CPU by task state</td><td class=\"n\">sleeping %.3f ms, "
		"uninterruptible %.3f ms, runnable %.3f ms</td></tr>\n",
		render_ms(agg->window_state_ns[CAP_STATE_SLEEPING]),
		render_ms(agg->window_state_ns[CAP_STATE_UNINTERRUPTIBLE]),
		render_ms(agg->window_state_ns[CAP_STATE_RUNNABLE]));
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

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? (double)part * 100.0 / (double)whole : 0.0;
}

/* "outer > inner > leaf | kernel_leaf": enough to recognise a call site. */
static void put_site_summary(FILE *f, const struct capdata *cd, uint32_t ustack, uint32_t kstack)
{
	bool any = false;

	if (render_shows_ustack(cd, ustack)) {
		const struct cap_stack *s = &cd->stacks[ustack];
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
	if (kstack < cd->nstacks && cd->stacks[kstack].nframes) {
		const struct cap_stack *s = &cd->stacks[kstack];
		const char *name = cd->frames[s->frames[s->nframes - 1]].name;

		fputs(any ? " | " : "", f);
		render_xml_put_fit(f, name, 60);
		fputs(" <small>[k]</small>", f);
		any = true;
	}
	if (!any)
		fputs("(no stack)", f);
}

static void put_site_row(FILE *f, const struct capdata *cd, const struct render_sites *ss,
			 const struct render_site *st, size_t rank)
{
	const struct agg_entry *en = st->en;
	char began[64];

	fprintf(f, "<tr class=\"g-%s\"><td class=\"n\">%zu</td><td class=\"n\">%.3f</td><td class=\"n\">%.1f</td>",
		render_group_name(st->group), rank, render_ms(st->ns),
		pct(st->ns, st->oncpu ? ss->oncpu_ns : ss->offcpu_ns));
	if (st->oncpu)
		fprintf(f, "<td class=\"n\">%" PRIu64 " samples</td><td class=\"n\">-</td><td class=\"n\">%" PRIu32
			"</td><td class=\"n\">-</td>", st->count, st->threads);
	else
		fprintf(f, "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%.3f</td><td class=\"n\">%" PRIu32
			"</td><td class=\"n\">%.1f / %.1f / %.1f</td>", en->count, render_ms(en->max_ns), en->threads,
			render_ms(en->window_state_ns[CAP_STATE_SLEEPING]),
			render_ms(en->window_state_ns[CAP_STATE_UNINTERRUPTIBLE]),
			render_ms(en->window_state_ns[CAP_STATE_RUNNABLE]));
	fprintf(f, "<td class=\"cause\">%s</td><td>", render_site_cause(st));
	put(f, st->comm);
	fputs("</td><td class=\"stack\"><details><summary>", f);
	put_site_summary(f, cd, st->ustack, st->kstack);
	render_site_began(st, began, sizeof(began));
	if (began[0])
		fprintf(f, " <small class=\"began\">(%s)</small>", began);
	if (en && en->in_progress)
		fputs(" <small>(in progress at the end)</small>", f);
	fputs("</summary><ol>", f);
	if (render_shows_ustack(cd, st->ustack))
		put_frames(f, cd, st->ustack, false);
	if (st->kstack < cd->nstacks)
		put_frames(f, cd, st->kstack, true);
	fprintf(f, "</ol>user stack: %s</details></td></tr>\n", render_ustack_status(cd, st->ustack));
}

static const char sites_head[] =
	"<tr><th>#</th><th>ms</th><th>%</th><th>blocks</th><th>max ms</th><th>threads</th>"
	"<th>sleeping / uninterruptible / runnable ms</th><th>cause</th><th>thread name</th>"
	"<th>call site</th></tr>\n";

/* The rows of one group, at most HTML_TOP_SITES; *i and *rank run on. */
static void put_group(FILE *f, const struct capdata *cd, const struct render_sites *ss, unsigned int g,
		      size_t *i, size_t *rank)
{
	size_t shown = 0;

	fprintf(f, "<tbody class=\"g-%s\"><tr class=\"group\"><th colspan=\"10\">", render_group_name(g));
	put(f, render_group_title(g));
	fprintf(f, ": %zu call site%s, %.3f ms", ss->ngroup[g], ss->ngroup[g] == 1 ? "" : "s",
		render_ms(ss->group_ns[g]));
	if (g == RG_ONCPU)
		fprintf(f, " (one sample every %.3f ms; %% of the on-CPU time)", render_ms(ss->period_ns));
	fputs("</th></tr>\n", f);
	for (; *i < ss->n && ss->v[*i].group == g; (*i)++) {
		++*rank;
		if (shown++ < HTML_TOP_SITES)
			put_site_row(f, cd, ss, &ss->v[*i], *rank);
	}
	if (shown > HTML_TOP_SITES)
		fprintf(f, "<tr><td colspan=\"10\">... %zu more</td></tr>\n", shown - HTML_TOP_SITES);
	fputs("</tbody>\n", f);
}

/* The call sites by cause: the cause first; the idle waits in a table of
 * their own, folded (one click away) when there is a verdict. */
static int section_sites(FILE *f, const struct capdata *cd, const struct aggregate *agg, bool focus)
{
	struct render_sites ss;
	size_t i = 0, rank = 0;
	unsigned int g;
	int err = render_sites_build(&ss, cd, agg);

	if (err)
		return err;
	fprintf(f, "<h2 id=\"callsites\">Call sites by cause</h2>\n<p>Call sites (thread name, user stack, "
		"kernel stack) grouped by the cause of their waits, the cause first: %zu off-CPU (time inside "
		"the window; all are in report.json and profile.folded) and %zu on-CPU (from the samples). "
		"Waits for work (idle) are listed apart.</p>\n", agg->nentries, ss.ngroup[RG_ONCPU]);
	if (ss.n - ss.ngroup[RG_IDLE]) {
		fprintf(f, "<table class=\"sites\">\n%s", sites_head);
		for (g = 0; g < RG_IDLE; g++) {
			if (ss.ngroup[g])
				put_group(f, cd, &ss, g, &i, &rank);
		}
		fputs("</table>\n", f);
	}
	if (ss.ngroup[RG_IDLE]) {
		fprintf(f, "<details id=\"idle-sites\"%s><summary>", focus ? "" : " open");
		put(f, render_group_title(RG_IDLE));
		fprintf(f, ": %zu call site%s, %.3f ms</summary>\n<table class=\"sites idle\">\n%s",
			ss.ngroup[RG_IDLE], ss.ngroup[RG_IDLE] == 1 ? "" : "s", render_ms(ss.group_ns[RG_IDLE]),
			sites_head);
		put_group(f, cd, &ss, RG_IDLE, &i, &rank);
		fputs("</table>\n</details>\n", f);
	}
	render_sites_release(&ss);
	return 0;
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
	bool focus = render_verdict_focus(extra);
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
	fprintf(f, "<h2 id=\"flamegraph\">Off-CPU flame graph</h2>\n<p>Width is time inside the window. "
		"%sClick a frame to zoom, the bottom frame or Reset Zoom to reset; Search highlights matching "
		"frames and shows their share. Blue: user frames; teal: kernel frames; orange: on-CPU samples, "
		"under [on-CPU].</p>\n", focus ? "It opens on the cause (the abnormal waits and what ran "
		"on-CPU); Idle waits and All show the rest. " : "");
	err = render_flame(f, cd, agg, NULL, RENDER_SVG_INLINE | (focus ? RENDER_SVG_FOCUS : 0));
	if (!err)
		err = section_sites(f, cd, agg, focus);
	if (err)
		return err;
	section_drops(f, cd);
	section_trigger(f, extra);
	fputs("<footer>Rendered by stalltrap from capture.jsonl.gz; next to this page: "
	      "flamegraph.svg, timeline.svg, profile.pb.gz (go tool pprof), profile.folded "
	      "(flamegraph.pl), report.json.</footer>\n</main>\n</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}
