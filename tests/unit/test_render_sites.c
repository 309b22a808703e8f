/* test_render_sites.c: the cause first in the summary, report.html and the flame graph; idle waits apart; time clipped to the window; busy runs from their samples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "diagnose/classify.h"
#include "render/render_int.h"
#include "render_world.h"

static json_t *verdict(const char *kind)
{
	return json_pack("{s:{s:s, s:s}}", "verdict", "kind", kind, "summary", "worker waited for mmap_lock");
}

static char *summary_of(const struct rworld *w, int top)
{
	char *buf = NULL;

	RW_RENDER(buf, render_summary(f, &w->cd, &w->agg, top));
	return buf;
}

/* Where needle is in hay (it must be there). */
static size_t at(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (!p)
		fail_msg("missing: %s", needle);
	return (size_t)(p - hay);
}

/* The sites: the mmap_lock wait is the cause, above the bigger idle one; the
 * busy run is an on-CPU site; causes come from diagnose_classify(). */
static void test_sites_by_cause(void **state)
{
	struct rworld w;
	struct render_sites ss;
	uint8_t cause[16];
	size_t i;

	(void)state;
	rworld_cause_init(&w);
	assert_true(w.cd.nblocks <= 16);
	assert_int_equal(diagnose_classify(&w.cd, cause), 0);
	assert_int_equal(render_sites_build(&ss, &w.cd, &w.agg), 0);
	assert_int_equal(ss.n, 3);
	assert_int_equal(ss.v[0].group, RG_CAUSE);
	assert_string_equal(ss.v[0].comm, "worker");
	assert_int_equal(ss.v[0].cause, cause[w.cd.nblocks - 1]);
	assert_true(diagnose_cause_abnormal(ss.v[0].cause));
	assert_int_equal(ss.v[1].group, RG_ONCPU);
	assert_string_equal(ss.v[1].comm, "cruncher");
	assert_int_equal(ss.v[1].count, 300);
	assert_int_equal(ss.v[1].ns, 300 * 10 * RW_MS);
	assert_string_equal(render_site_cause(&ss.v[1]), "on-CPU");
	assert_int_equal(ss.v[2].group, RG_IDLE);
	assert_string_equal(ss.v[2].comm, "http");
	assert_true(ss.v[2].ns > ss.v[0].ns);
	/* only the time inside the window */
	assert_int_equal(ss.v[2].ns, 19 * RW_S);
	assert_int_equal(ss.offcpu_ns, 21 * RW_S);
	assert_int_equal(ss.oncpu_ns, 3 * RW_S);
	for (i = 0; i < ss.n; i++)
		assert_true(ss.v[i].oncpu == (ss.v[i].en == NULL));
	render_sites_release(&ss);
	rworld_free(&w);
}

/* The printed summary: the cause first, the idle site after it in its own
 * group although it has more time, the shares of the window only, the wait
 * that began before the window says so, the busy run from its samples. */
static void test_summary_cause_first(void **state)
{
	struct rworld w;
	char *buf, want[512];

	(void)state;
	rworld_cause_init(&w);
	buf = summary_of(&w, 10);
	/* totals: 21 s inside the window, the 12 s before it apart */
	assert_non_null(strstr(buf, "12 blocks >= 1 ms, 21000.000 ms off-CPU in the window;"));
	assert_non_null(strstr(buf, "(12000.000 ms more outside the window"));
	assert_non_null(strstr(buf, "call sites (2 off-CPU, 1 on-CPU), by cause:\n"));
	snprintf(want, sizeof(want), "the cause: abnormal waits (1 call site, %.3f ms):\n"
		 "   1. %.3f ms   9.5%%  1 block  1 thread  D 100%%  mmap_lock\n"
		 "      worker: memcpy ← worker_main ← start_thread | kernel: rwsem_down_read_slowpath\n",
		 RW_CAUSE_LOCK_MS, RW_CAUSE_LOCK_MS);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), "on-CPU, from the samples (1 call site, %.3f ms, one sample every 10.000 ms):\n"
		 "   2. %.3f ms 100.0%%  300 samples  1 thread  on-CPU\n"
		 "      cruncher: hash_block ← crunch_main ← start_thread\n", RW_CAUSE_ONCPU_MS, RW_CAUSE_ONCPU_MS);
	assert_non_null(strstr(buf, want));
	/* 19 s of 21 s: 90.5 %, not 31 s of 33 s; the longest wait, and when it began */
	snprintf(want, sizeof(want), "waiting for work (idle): never the cause (1 call site, %.3f ms):\n"
		 "   3. %.3f ms  90.5%%  11 blocks  2 threads  S 100%%  idle  longest 22.0 s, began 12.0 s before "
		 "the window  [in progress]\n      http: epoll_wait ← http_main ← start_thread | kernel: do_epoll_wait\n",
		 RW_CAUSE_IDLE_MS, RW_CAUSE_IDLE_MS);
	assert_non_null(strstr(buf, want));
	assert_true(at(buf, "the cause:") < at(buf, "on-CPU, from") && at(buf, "on-CPU, from") < at(buf, "waiting for work"));
	free(buf);

	/* top 0: the header, drops and stacks only */
	buf = summary_of(&w, 0);
	assert_null(strstr(buf, "the cause:"));
	free(buf);
	rworld_free(&w);
}

/* report.html: a cause column, the cause first, the idle sites in a folded
 * table of their own (one click away) when there is a verdict, open without. */
static void test_html_cause_first(void **state)
{
	struct rworld w;
	char *html = NULL;
	json_t *extra = verdict("mmap_lock"), *none = verdict("none");

	(void)state;
	rworld_cause_init(&w);
	RW_RENDER(html, render_html(f, &w.cd, &w.agg, extra));
	assert_non_null(strstr(html, "<th>cause</th>"));
	assert_non_null(strstr(html, "<td class=\"cause\">mmap_lock</td><td>worker</td>"));
	assert_non_null(strstr(html, "<td class=\"cause\">on-CPU</td><td>cruncher</td>"));
	assert_non_null(strstr(html, "<details id=\"idle-sites\"><summary>waiting for work (idle)"));
	assert_true(at(html, "<td>worker</td>") < at(html, "<td>cruncher</td>") &&
		    at(html, "<td>cruncher</td>") < at(html, "id=\"idle-sites\"") &&
		    at(html, "id=\"idle-sites\"") < at(html, "<td>http</td>"));
	assert_non_null(strstr(html, "<small class=\"began\">(began 12.0 s before the window)</small>"));
	/* the figures count the window only */
	assert_non_null(strstr(html, "<td>off-CPU time in the window</td><td class=\"n\">21000.000 ms"));
	/* the inline flame graph opens on the cause */
	assert_non_null(strstr(html, "data-view=\"cause\">"));
	assert_non_null(strstr(html, "class=\"stf-btn stf-viewbtn stf-on\" data-view=\"cause\""));
	free(html);

	RW_RENDER(html, render_html(f, &w.cd, &w.agg, none));
	assert_non_null(strstr(html, "<details id=\"idle-sites\" open>"));
	assert_null(strstr(html, "class=\"stf-btn stf-viewbtn"));
	free(html);
	json_decref(extra);
	json_decref(none);
	rworld_free(&w);
}

/* The part of svg inside <g class="stf-view" data-view="name" ...> ... </g>
 * (views hold no nested stf-view), the caller's to free. */
static char *view_of(const char *svg, const char *name, bool *shown)
{
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "<g class=\"stf-view\" data-view=\"%s\"", name);
	p = strstr(svg, key);
	if (!p)
		return NULL;
	e = strstr(p, "\n</g>\n");
	assert_non_null(e);
	*shown = strncmp(p + strlen(key), ">", 1) == 0;
	return strndup(p, (size_t)(e - p));
}

/* The flame graph with a verdict: the cause view is the one shown, with the
 * mmap_lock wait and the busy run (under [on-CPU], warm), not the idle
 * waits; the idle and all views are there, hidden, with their buttons. */
static void test_flame_opens_on_cause(void **state)
{
	struct rworld w;
	char *svg = NULL, *cause, *idle, *all;
	bool shown;
	json_t *extra = verdict("mmap_lock");

	(void)state;
	rworld_cause_init(&w);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, extra, 0));
	assert_non_null(strstr(svg, "data-view=\"cause\">\n"));
	cause = view_of(svg, "cause", &shown);
	assert_non_null(cause);
	assert_true(shown);
	assert_non_null(strstr(cause, "data-t=\"worker_main&#10;"));
	assert_non_null(strstr(cause, "data-t=\"[on-CPU]&#10;3000.000 ms, 60.00%, on-CPU\""));
	assert_non_null(strstr(cause, "data-t=\"hash_block&#10;3000.000 ms, 60.00%, on-CPU\""));
	assert_null(strstr(cause, "http_main"));
	assert_null(strstr(cause, "epoll_wait"));
	idle = view_of(svg, "idle", &shown);
	assert_non_null(idle);
	assert_false(shown);
	assert_non_null(strstr(idle, "data-t=\"all&#10;19000.000 ms, 100.00%\""));
	assert_null(strstr(idle, "worker_main"));
	all = view_of(svg, "all", &shown);
	assert_non_null(all);
	assert_false(shown);
	/* 21 s off-CPU in the window and 3 s on-CPU; not the 12 s before it */
	assert_non_null(strstr(all, "data-t=\"all&#10;24000.000 ms, 100.00%\""));
	assert_non_null(strstr(svg, "class=\"stf-btn stf-viewbtn stf-on\" data-view=\"cause\""));
	assert_non_null(strstr(svg, "class=\"stf-btn stf-viewbtn\" data-view=\"idle\""));
	assert_non_null(strstr(svg, "class=\"stf-btn stf-viewbtn\" data-view=\"all\""));
	/* the script switches views */
	assert_non_null(strstr(svg, "function show(name)"));
	rw_assert_attrs_escaped(svg);
	assert_int_equal(rw_count(svg, "<g "), rw_count(svg, "</g>"));
	free(cause);
	free(idle);
	free(all);
	free(svg);

	/* verdict none: everything, as one view */
	json_decref(extra);
	extra = verdict("none");
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, extra, 0));
	all = view_of(svg, "all", &shown);
	assert_non_null(all);
	assert_true(shown);
	assert_null(view_of(svg, "cause", &shown));
	assert_non_null(strstr(all, "http_main"));
	assert_null(strstr(svg, "class=\"stf-btn stf-viewbtn"));
	free(all);
	free(svg);
	json_decref(extra);
	rworld_free(&w);
}

/* report.json: the stacks keep their meaning (off-CPU, whole blocks), the
 * one that began before the window says so; the samples go apart. */
static void test_report_window_and_oncpu(void **state)
{
	struct rworld w;
	json_t *r, *st, *on;
	size_t i;
	bool seen = false;

	(void)state;
	rworld_cause_init(&w);
	assert_int_equal(render_report(&w.cd, &w.agg, NULL, &r), 0);
	assert_true(json_real_value(json_object_get(r, "offcpu_total_ms")) == 33000.0);
	assert_true(json_real_value(json_object_get(r, "offcpu_window_ms")) == 21000.0);
	json_array_foreach(json_object_get(r, "stacks"), i, st) {
		if (strcmp(json_string_value(json_object_get(st, "comm")), "http") == 0) {
			seen = true;
			assert_true(json_real_value(json_object_get(st, "offcpu_ms")) == 31000.0);
			assert_true(json_real_value(json_object_get(st, "window_ms")) == 19000.0);
			assert_true(json_real_value(json_object_get(st, "began_before_ms")) == 12000.0);
		} else {
			assert_null(json_object_get(st, "began_before_ms"));
		}
	}
	assert_true(seen);
	on = json_object_get(r, "oncpu_stacks");
	assert_int_equal(json_array_size(on), 1);
	st = json_array_get(on, 0);
	assert_string_equal(json_string_value(json_object_get(st, "comm")), "cruncher");
	assert_true(json_real_value(json_object_get(st, "oncpu_ms")) == 3000.0);
	assert_int_equal(json_integer_value(json_object_get(st, "samples")), 300);
	assert_string_equal(json_string_value(json_array_get(json_object_get(st, "frames"), 2)), "hash_block");
	json_decref(r);
	rworld_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sites_by_cause),
		cmocka_unit_test(test_summary_cause_first),
		cmocka_unit_test(test_html_cause_first),
		cmocka_unit_test(test_flame_opens_on_cause),
		cmocka_unit_test(test_report_window_and_oncpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
