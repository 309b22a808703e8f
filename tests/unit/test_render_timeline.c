/* test_render_timeline.c: unit tests of timeline.svg on hand-built capdata with cause evidence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "render_world.h"

/* The y of the lane labelled label (its <text> element), or -1. */
static double lane_y(const char *svg, const char *label)
{
	const char *p = strstr(svg, label), *q;

	if (!p)
		return -1;
	for (q = p; q > svg && strncmp(q, "<text class=\"stt-lane\"", 22) != 0; q--)
		;
	q = strstr(q, " y=\"");
	return q ? atof(q + 4) : -1;
}

static void test_timeline_story(void **state)
{
	struct rworld w;
	char *svg = NULL;
	json_t *extra = json_pack("{s:{s:s}}", "verdict", "summary", "alloc held mmap_lock <1 s>");

	(void)state;
	rworld_init(&w, true);
	RW_RENDER(svg, render_timeline(f, &w.cd, &w.agg, extra, 0));
	assert_true(strncmp(svg, "<?xml", 5) == 0);
	/* Four workers with one picture share a lane with their count. */
	assert_non_null(strstr(svg, ">worker \xc3\x97" "4</text>"));
	assert_non_null(strstr(svg, "data-t=\"tid 104, 103, 102, 101 (pid 100)"));
	/* The holder's lane comes first, then the lock waiters. */
	assert_true(lane_y(svg, ">alloc 110<") > 0);
	assert_true(lane_y(svg, ">alloc 110<") < lane_y(svg, ">worker \xc3\x97"));
	assert_true(lane_y(svg, ">worker \xc3\x97") < lane_y(svg, ">disk 120<"));
	/* Why: lock wait (red), I/O (orange), sleep, on-CPU samples, the hold. */
	/* (columns are 20.28 ms wide: the edges of the wait are partial columns) */
	assert_non_null(strstr(svg, "fill=\"#d62728\" data-t=\"lock wait: 993.915 ms between -0.996 s and -0.002 s\""));
	assert_non_null(strstr(svg, "fill=\"#ff7f0e\""));
	assert_non_null(strstr(svg, "fill=\"#9ecae1\""));
	assert_non_null(strstr(svg, "fill=\"#2ca02c\" data-t=\"on-CPU (sampled)"));
	assert_non_null(strstr(svg, "fill=\"#4a1486\" data-t=\"mmap_lock write hold"));
	/* The big address-space operation is named, in the verdict's words and units. */
	assert_non_null(strstr(svg, ">mmap 3.0 GiB, 1.0 s</text>"));
	assert_non_null(strstr(svg, "data-t=\"mmap_lock write hold by alloc 110: 1.0 s in mmap 3.0 GiB, from -1.000 s\""));
	/* Trigger, pre-trigger, RSS curve, verdict. */
	assert_non_null(strstr(svg, "class=\"stt-trigger\""));
	assert_non_null(strstr(svg, "class=\"stt-pre\""));
	assert_non_null(strstr(svg, "trigger at +7.000 s"));
	assert_non_null(strstr(svg, "<polyline class=\"stt-rss\""));
	assert_non_null(strstr(svg, "pid 100: 100 MiB \xe2\x86\x92 3.1 GiB"));
	assert_non_null(strstr(svg, ">alloc held mmap_lock &lt;1 s&gt;</text>"));
	/* Ticks are relative to the trigger. */
	assert_non_null(strstr(svg, ">-7 s</text>"));
	assert_non_null(strstr(svg, ">+3 s</text>"));
	rw_assert_attrs_escaped(svg);
	free(svg);
	json_decref(extra);
	rworld_free(&w);
}

static void test_timeline_without_evidence(void **state)
{
	struct rworld w;
	char *svg = NULL;

	(void)state;
	rworld_init(&w, false);
	RW_RENDER(svg, render_timeline(f, &w.cd, &w.agg, NULL, RENDER_SVG_INLINE));
	assert_true(strncmp(svg, "<svg", 4) == 0);
	assert_null(strstr(svg, "class=\"stt-trigger\""));
	assert_null(strstr(svg, "pre-trigger"));
	assert_non_null(strstr(svg, "no memory samples in this capture"));
	assert_non_null(strstr(svg, ">0 s</text>"));
	assert_null(strstr(svg, "fill=\"#d62728\" data-t")); /* no lock waits */
	assert_null(strstr(svg, "memory reclaim")); /* named only when shown */
	assert_null(strstr(svg, ">stopped</text>"));
	free(svg);
	rworld_free(&w);
}

static void test_timeline_hostile_comm(void **state)
{
	struct rworld w;
	char *svg = NULL;
	int64_t t;
	uint32_t k;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	assert_int_equal(capdata_set_target(&w.cd, NULL, 0, "</svg><x&\"", NULL), 0);
	w.cd.window.duration_ns = RW_S;
	t = capdata_thread(&w.cd, 1, 1, "<b>&\"'x");
	k = RW_STACK(&w, true, "schedule");
	rw_block(&w, (uint32_t)t, ST_NO_STACK, k, CAP_STATE_SLEEPING, 0, 0, 10 * RW_MS);
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_timeline(f, &w.cd, &w.agg, NULL, 0));
	assert_non_null(strstr(svg, ">&lt;b&gt;&amp;&quot;&#39;x 1</text>"));
	assert_non_null(strstr(svg, "Timeline: &lt;/svg&gt;&lt;x&amp;&quot;"));
	assert_int_equal(rw_count(svg, "</svg>"), 1);
	rw_assert_attrs_escaped(svg);
	free(svg);
	rworld_free(&w);
}

/* 300 threads with distinct pictures and 200k blocks: lanes capped, the rest
 * counted, and the size bounded by lanes and width, not blocks. */
static void test_timeline_bounded(void **state)
{
	struct rworld w;
	char *svg = NULL, comm[16];
	uint32_t k;
	int i, j;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	w.cd.window.start_mono_ns = RW_T0;
	w.cd.window.duration_ns = 10 * RW_S;
	k = RW_STACK(&w, true, "schedule");
	for (i = 0; i < 300; i++) {
		int64_t t;

		snprintf(comm, sizeof(comm), "t%d", i);
		t = capdata_thread(&w.cd, 1, 1000 + i, comm);
		assert_true(t >= 0);
		for (j = 0; j < 700; j++)
			rw_block(&w, (uint32_t)t, ST_NO_STACK, k, (uint8_t)(j % 3), 0,
				 (uint64_t)j * 14 * RW_MS + (uint64_t)i * 7919 % (7 * RW_MS), (1 + (uint64_t)(i + j) % 9) * RW_MS);
	}
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_timeline(f, &w.cd, &w.agg, NULL, 0));
	assert_non_null(strstr(svg, "data-lanes=\"40\""));
	assert_non_null(strstr(svg, "+ 260 more threads with"));
	assert_true(strlen(svg) < 3u << 20);
	free(svg);
	rworld_free(&w);
}

/* Colours come from diagnose's classification: a direct-reclaim stall in D
 * state is "memory reclaim" (its own colour and legend entry), not I/O; a
 * thread stopped by a signal is "stopped", not asleep; a hold outside a
 * syscall by a thread outside the target names it, escaped. */
static void test_timeline_causes(void **state)
{
	struct rworld w;
	char *svg = NULL;
	int64_t t, k, s;
	uint32_t rk, dk, sk;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	w.cd.window.start_mono_ns = RW_T0;
	w.cd.window.duration_ns = RW_S;
	t = capdata_thread(&w.cd, 1, 1, "ingest");
	k = capdata_thread(&w.cd, 2, 2, "k<d>");
	w.cd.threads[k].outside = true;
	rk = RW_STACK(&w, true, "try_to_free_pages", "shrink_node", "io_schedule", "schedule");
	dk = RW_STACK(&w, true, "submit_bio_wait", "io_schedule", "schedule");
	s = capdata_thread(&w.cd, 1, 3, "stopped");
	sk = RW_STACK(&w, true, "get_signal", "do_signal_stop", "schedule");
	rw_block(&w, (uint32_t)s, ST_NO_STACK, sk, CAP_STATE_SLEEPING, 0, 200 * RW_MS, 500 * RW_MS);
	rw_block(&w, (uint32_t)t, ST_NO_STACK, rk, CAP_STATE_UNINTERRUPTIBLE, 0, 0, 400 * RW_MS);
	rw_block(&w, (uint32_t)t, ST_NO_STACK, dk, CAP_STATE_UNINTERRUPTIBLE, 0, 500 * RW_MS, 400 * RW_MS);
	{
		struct cap_hold h = { .thread = (uint32_t)k, .mm_pid = 1, .mode = CAP_HOLD_WRITE,
				      .start_ns = RW_T0 + 100 * RW_MS, .dur_ns = 300 * RW_MS,
				      .ustack = ST_NO_STACK, .kstack = ST_NO_STACK };

		assert_int_equal(capdata_add_hold(&w.cd, &h), 0);
	}
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	RW_RENDER(svg, render_timeline(f, &w.cd, &w.agg, NULL, 0));
	assert_non_null(strstr(svg, "fill=\"#8c564b\" data-t=\"memory reclaim: "));
	assert_non_null(strstr(svg, "fill=\"#ff7f0e\" data-t=\"I/O: "));
	assert_non_null(strstr(svg, ">memory reclaim</text>"));
	assert_non_null(strstr(svg, "fill=\"#7f7f7f\" data-t=\"stopped: "));
	assert_non_null(strstr(svg, ">stopped</text>"));
	assert_non_null(strstr(svg, ">kernel work of k&lt;d&gt;, 300 ms</text>"));
	rw_assert_attrs_escaped(svg);
	free(svg);
	rworld_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeline_story),
		cmocka_unit_test(test_timeline_causes),
		cmocka_unit_test(test_timeline_without_evidence),
		cmocka_unit_test(test_timeline_hostile_comm),
		cmocka_unit_test(test_timeline_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
