/* test_render_flame.c: unit tests of flamegraph.svg, the differential flame graph and diff.txt, on hand-built capdata. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "render_world.h"

/* The data-t of the frame whose name is exactly name (NULL if none). */
static char *frame_info(const char *svg, const char *name)
{
	char key[256];
	const char *p, *e;

	snprintf(key, sizeof(key), "data-t=\"%s&#10;", name);
	p = strstr(svg, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strchr(p, '"');
	return strndup(p, (size_t)(e - p));
}

static unsigned int hexbyte(const char *p)
{
	unsigned int v;

	sscanf(p, "%2x", &v);
	return v;
}

/* fill="#rrggbb" of the frame whose name is exactly name. */
static void frame_fill(const char *svg, const char *name, unsigned int rgb[3])
{
	char key[256];
	const char *p;

	snprintf(key, sizeof(key), "data-t=\"%s&#10;", name);
	p = strstr(svg, key);
	assert_non_null(p);
	p = strstr(p, "fill=\"#");
	assert_non_null(p);
	rgb[0] = hexbyte(p + 7);
	rgb[1] = hexbyte(p + 9);
	rgb[2] = hexbyte(p + 11);
}

static void test_flame_frames_and_totals(void **state)
{
	struct rworld w;
	char *svg = NULL, *info, want[64];

	(void)state;
	rworld_init(&w, true);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, NULL, 0));
	assert_true(strncmp(svg, "<?xml", 5) == 0);
	/* The root holds the total; per-thread-name and per-function frames too. */
	/* The root holds the off-CPU total and the on-CPU time of the samples
	 * (100 of 10 ms), under a frame of their own. */
	info = frame_info(svg, "all");
	assert_non_null(info);
	snprintf(want, sizeof(want), "%.3f ms, 100.00%%", (double)(w.offcpu_ns + 100 * 10 * RW_MS) / 1e6);
	assert_string_equal(info, want);
	free(info);
	info = frame_info(svg, "[on-CPU]");
	assert_non_null(info);
	assert_true(strncmp(info, "1000.000 ms", 11) == 0);
	assert_non_null(strstr(info, ", on-CPU"));
	free(info);
	/* No verdict: one view, everything, no view buttons. */
	assert_non_null(strstr(svg, "data-view=\"all\">"));
	assert_int_equal(rw_count(svg, "class=\"stf-view\""), 1);
	assert_null(strstr(svg, "stf-viewbtn\""));
	info = frame_info(svg, "worker");
	assert_non_null(info);
	/* 4 workers: 89 x 60 ms futex waits (11 fall in the stall) and 1 s of
	 * lock wait each. */
	snprintf(want, sizeof(want), "%.3f ms", 4 * (89 * 60.0 + 1000.0));
	assert_true(strncmp(info, want, strlen(want)) == 0);
	assert_non_null(strstr(info, "thread name"));
	free(info);
	info = frame_info(svg, "rwsem_down_read_slowpath");
	assert_non_null(info);
	assert_true(strncmp(info, "4000.000 ms", 11) == 0);
	assert_non_null(strstr(info, ", kernel"));
	free(info);
	/* Frames are merged by name, root at the bottom: "all" is the lowest. */
	assert_non_null(strstr(svg, "data-x=\"0\" data-w=\"1000000000\" data-t=\"all&#10;"));
	/* The script and the controls are there. */
	assert_non_null(strstr(svg, "class=\"stf-btn stf-search\""));
	assert_non_null(strstr(svg, "class=\"stf-btn stf-reset\""));
	assert_non_null(strstr(svg, "<script type=\"text/javascript\"><![CDATA["));
	assert_int_equal(rw_count(svg, "<g "), rw_count(svg, "</g>"));
	free(svg);
	rworld_free(&w);
}

static void test_flame_escapes_hostile_names(void **state)
{
	struct rworld w;
	char *svg = NULL;
	json_t *extra = json_pack("{s:{s:s}}", "verdict", "summary", "held <mmap_lock> & \"more\"");

	(void)state;
	rworld_init(&w, false);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, extra, 0));
	rw_assert_attrs_escaped(svg);
	rw_assert_no_injection(svg);
	assert_non_null(strstr(svg, "q&quot;uo&#39;te&amp;amp]]&gt;x&lt;y&gt;"));
	/* The verdict is the subtitle, escaped. */
	assert_non_null(strstr(svg, ">held &lt;mmap_lock&gt; &amp; &quot;more&quot;</text>"));
	free(svg);
	json_decref(extra);
	rworld_free(&w);
}

static void test_flame_colours(void **state)
{
	struct rworld w;
	char *svg = NULL;
	unsigned int k[3], u[3];
	const char *kernel[] = { "schedule", "futex_wait_queue", "io_schedule" };
	const char *user[] = { "start_thread", "worker_main", "queue_pop" };
	size_t i;

	(void)state;
	rworld_init(&w, false);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, NULL, 0));
	/* User frames blue, kernel frames teal: told apart by the green channel. */
	for (i = 0; i < 3; i++) {
		frame_fill(svg, kernel[i], k);
		frame_fill(svg, user[i], u);
		assert_true(k[1] > k[0] + 40 && k[1] >= 160);
		assert_true(u[2] > u[0] + 50 && u[2] > u[1] + 30 && u[1] < 175);
	}
	free(svg);
	rworld_free(&w);
}

/* One wide stack and 3000 thin ones under one parent: the thin ones become
 * one box, and the SVG does not grow with them. */
static void test_flame_merges_narrow_frames(void **state)
{
	struct rworld w;
	char *svg = NULL, name[32];
	int64_t t = 0;
	uint32_t big, k;
	int i;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	w.cd.window.start_mono_ns = RW_T0;
	w.cd.window.duration_ns = 2000 * RW_S;
	t = capdata_thread(&w.cd, 1, 1, "app");
	big = RW_STACK(&w, false, "main", "big_one");
	k = RW_STACK(&w, true, "schedule");
	rw_block(&w, (uint32_t)t, big, k, CAP_STATE_SLEEPING, 0, 0, 1000 * RW_S);
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "thin_%04d", i);
		rw_block(&w, (uint32_t)t, rw_stack(&w.cd, (const char *const[]){ "main", name }, 2, false, ST_NO_MAPPING), k,
			 CAP_STATE_SLEEPING, 0, 0, RW_MS);
	}
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, NULL, 0));
	assert_non_null(strstr(svg, "data-t=\"[3000 frames under 1 px]&#10;3000.000 ms"));
	assert_null(strstr(svg, "thin_0001"));
	assert_true(rw_count(svg, "<g data-x") < 10);
	assert_true(strlen(svg) < 40000);
	free(svg);
	rworld_free(&w);
}

/* Hundreds of deep, distinct, pixel-wide stacks with long names: past the
 * size cap, wider frames are merged too and the SVG stays a few MB. */
static void test_flame_size_cap(void **state)
{
	struct rworld w;
	char *svg = NULL, names[30][240];
	const char *ptrs[30];
	uint32_t k;
	int64_t t;
	int i, d;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	w.cd.window.start_mono_ns = RW_T0;
	w.cd.window.duration_ns = RW_S;
	t = capdata_thread(&w.cd, 1, 1, "app");
	k = RW_STACK(&w, true, "schedule");
	for (i = 0; i < 1000; i++) {
		for (d = 0; d < 30; d++) {
			snprintf(names[d], sizeof(names[d]), "ns%04d::a_rather_long_class_name_%02d<std::basic_string<char,"
				 " std::char_traits<char>, std::allocator<char> > >::method(int, long, double) const", i, d);
			ptrs[d] = names[d];
		}
		rw_block(&w, (uint32_t)t, rw_stack(&w.cd, ptrs, 30, false, ST_NO_MAPPING), k, CAP_STATE_SLEEPING, 0, 0, RW_S);
	}
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, NULL, 0));
	assert_true(strlen(svg) < 6u << 20);
	assert_null(strstr(svg, "data-min-width=\"1\""));
	free(svg);
	rworld_free(&w);
}

static void test_flame_empty(void **state)
{
	struct rworld w;
	char *svg = NULL;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_flame(f, &w.cd, &w.agg, NULL, RENDER_SVG_INLINE));
	assert_true(strncmp(svg, "<svg", 4) == 0); /* inline: no XML prolog */
	assert_non_null(strstr(svg, "no off-CPU time recorded"));
	assert_null(strstr(svg, "<g data-x"));
	free(svg);
	rworld_free(&w);
}

/* Baseline: no stall over 10 s; incident: the stall over the same window. */
static void test_flame_diff(void **state)
{
	struct rworld base, inc;
	char *svg = NULL, *txt = NULL, *info;
	unsigned int rgb[3];

	(void)state;
	rworld_init(&base, false);
	rworld_init(&inc, true);
	base.cd.window.duration_ns = 20 * RW_S; /* same blocks over twice the time: half the rate */
	RW_RENDER(svg, render_flame_diff(f, &base.cd, &base.agg, &inc.cd, &inc.agg, NULL));
	rw_assert_attrs_escaped(svg);
	/* New in the incident: red, "new". */
	info = frame_info(svg, "rwsem_down_read_slowpath");
	assert_non_null(info);
	assert_non_null(strstr(info, "400.000 ms/s (base 0.000 ms/s, +400.000 ms/s, new)"));
	free(info);
	frame_fill(svg, "rwsem_down_read_slowpath", rgb);
	assert_true(rgb[0] == 0xff && rgb[1] == rgb[2] && rgb[1] < 0xe0);
	/* The biggest change is the deepest red. */
	frame_fill(svg, "worker", rgb);
	assert_true(rgb[0] == 0xff && rgb[1] == 0x32 && rgb[2] == 0x32);
	/* disk: 20 x 200 ms in both, but the base window is twice as long: grew 2x. */
	info = frame_info(svg, "io_schedule");
	assert_non_null(info);
	assert_non_null(strstr(info, "400.000 ms/s (base 200.000 ms/s, +200.000 ms/s, +100.0%)"));
	free(info);

	RW_RENDER(txt, render_diff_text(f, "/b", &base.cd, &base.agg, "/i", &inc.cd, &inc.agg, 5));
	assert_non_null(strstr(txt, "base:     /b (srv, window 20.000 s"));
	assert_non_null(strstr(txt, "incident: /i (srv, window 10.000 s"));
	/* Biggest function change first: memcpy (and the lock-wait frames) +400 ms/s. */
	assert_non_null(strstr(txt, "biggest changes by function (inclusive time), in ms per second of window:"));
	assert_non_null(strstr(txt, "biggest changes by call site, in ms per second of window:"));
	assert_non_null(strstr(txt, "+400.000      0.000    400.000  "));
	assert_non_null(strstr(txt, "worker: start_thread > worker_main > memcpy | schedule [k]"));
	/* No control character from a name reaches the terminal. */
	for (const char *p = txt; *p; p++)
		assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	free(svg);
	free(txt);
	rworld_free(&base);
	rworld_free(&inc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flame_frames_and_totals),
		cmocka_unit_test(test_flame_escapes_hostile_names),
		cmocka_unit_test(test_flame_colours),
		cmocka_unit_test(test_flame_merges_narrow_frames),
		cmocka_unit_test(test_flame_size_cap),
		cmocka_unit_test(test_flame_empty),
		cmocka_unit_test(test_flame_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
