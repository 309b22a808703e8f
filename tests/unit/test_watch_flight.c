/* test_watch_flight.c: cutting an incident window out of a capture (capdata_cut), without BPF. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "watch/flight.h"

#define S 1000000000ull

/* A source capture: thread 0 (worker) with stack W, thread 1 (freezer) with stack F. */
static void build_src(struct capdata *cd)
{
	uint32_t fr[2];
	int64_t m, ws, ks, fs, t0, t1, t2;

	assert_int_equal(capdata_init(cd), 0);
	m = capdata_mapping(cd, 0x400000, 0x500000, 0, "/usr/bin/svc", "abcd");
	fr[0] = (uint32_t)capdata_frame(cd, "main", 0x401000, (uint32_t)m, false);
	fr[1] = (uint32_t)capdata_frame(cd, "worker_lock", 0x402000, (uint32_t)m, false);
	ws = capdata_stack(cd, fr, 2, CAP_STACK_COMPLETE);
	fr[0] = (uint32_t)capdata_frame(cd, "futex_wait", 0xffffffff81000000ull, ST_NO_MAPPING, true);
	ks = capdata_stack(cd, fr, 1, CAP_STACK_COMPLETE);
	fr[1] = (uint32_t)capdata_frame(cd, "freezer_hold", 0x403000, (uint32_t)m, false);
	fs = capdata_stack(cd, &fr[1], 1, CAP_STACK_COMPLETE);
	t0 = capdata_thread(cd, 100, 101, "worker");
	t1 = capdata_thread(cd, 100, 102, "freezer");
	t2 = capdata_thread(cd, 100, 103, "idle");
	(void)capdata_thread(cd, 100, 104, "unreferenced");
	cd->threads[t0].below_min_ns = 5;
	cd->window.start_mono_ns = 10 * S;
	cd->window.duration_ns = 100 * S;
	/* before the window entirely */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t2, .ustack = (uint32_t)ws,
		.kstack = (uint32_t)ks, .start_ns = 20 * S, .dur_ns = 1 * S }), 0);
	/* began before the window, overlaps it: kept whole */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t0, .ustack = (uint32_t)ws,
		.kstack = (uint32_t)ks, .start_ns = 48 * S, .dur_ns = 5 * S, .has_waker = true,
		.waker = (uint32_t)t1, .waker_ustack = (uint32_t)fs, .waker_kstack = ST_NO_STACK }), 0);
	/* inside */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t1, .ustack = (uint32_t)fs,
		.kstack = ST_NO_STACK, .start_ns = 55 * S, .dur_ns = 2 * S }), 0);
	/* still in progress past the end: cut at the end */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t0, .ustack = (uint32_t)ws,
		.kstack = (uint32_t)ks, .start_ns = 58 * S, .dur_ns = 10 * S, .flags = CAP_BLOCK_IN_PROGRESS }), 0);
	/* after */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t2, .ustack = (uint32_t)ws,
		.kstack = (uint32_t)ks, .start_ns = 70 * S, .dur_ns = 1 * S }), 0);
	assert_int_equal(capdata_add_hold(cd, &(struct cap_hold){ .thread = (uint32_t)t1, .mm_pid = 100,
		.start_ns = 49 * S, .dur_ns = 3 * S, .ustack = (uint32_t)fs, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_sample(cd, &(struct cap_sample){ .thread = (uint32_t)t1, .ts_ns = 52 * S,
		.ustack = (uint32_t)fs, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_sample(cd, &(struct cap_sample){ .thread = (uint32_t)t1, .ts_ns = 30 * S,
		.ustack = (uint32_t)fs, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_mem(cd, &(struct cap_mem){ .pid = 100, .ts_ns = 51 * S, .rss_bytes = 1 }), 0);
	assert_int_equal(capdata_add_mem(cd, &(struct cap_mem){ .pid = 100, .ts_ns = 90 * S, .rss_bytes = 2 }), 0);
	assert_int_equal(capdata_add_drop(cd, "ringbuf_full", 3), 0);
}

static void test_cut_window(void **state)
{
	struct capdata src, dst;

	build_src(&src);
	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 50 * S, 60 * S, NULL, NULL), 0);
	assert_int_equal(dst.nblocks, 3);
	/* the wait that began before the window keeps its full length */
	assert_true(dst.blocks[0].start_ns == 48 * S && dst.blocks[0].dur_ns == 5 * S);
	assert_string_equal(dst.threads[dst.blocks[0].thread].comm, "worker");
	assert_true(dst.threads[dst.blocks[0].thread].below_min_ns == 5);
	assert_true(dst.blocks[0].has_waker);
	assert_string_equal(dst.threads[dst.blocks[0].waker].comm, "freezer");
	assert_true(dst.blocks[2].dur_ns == 2 * S);     /* in progress: cut at the end */
	/* stacks and frames were copied with their content */
	{
		const struct cap_stack *us = &dst.stacks[dst.blocks[0].ustack];

		assert_int_equal(us->nframes, 2);
		assert_string_equal(dst.frames[us->frames[1]].name, "worker_lock");
		assert_string_equal(dst.mappings[dst.frames[us->frames[1]].mapping].file, "/usr/bin/svc");
		assert_true(capdata_stack_is_kernel(&dst, dst.blocks[0].kstack));
	}
	assert_int_equal(dst.nthreads, 2);              /* only referenced threads */
	assert_int_equal(dst.nholds, 1);
	assert_int_equal(dst.nsamples, 1);
	assert_int_equal(dst.nmem, 1);
	assert_true(capdata_get_drop(&dst, "ringbuf_full") == 3);
	capdata_free(&dst);
	capdata_free(&src);
}

static bool skip_in_progress(void *arg, const struct capdata *src, const struct cap_block *b)
{
	(*(int *)arg)++;
	return b->flags & CAP_BLOCK_IN_PROGRESS;
}

static void test_cut_skip_and_empty(void **state)
{
	struct capdata src, dst;
	int calls = 0;

	build_src(&src);
	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 50 * S, 60 * S, skip_in_progress, &calls), 0);
	assert_int_equal(dst.nblocks, 2);
	assert_int_equal(calls, 3);
	capdata_free(&dst);

	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 200 * S, 210 * S, NULL, NULL), 0);
	assert_int_equal(dst.nblocks, 0);
	assert_int_equal(dst.nthreads, 0);
	capdata_free(&dst);
	capdata_free(&src);
}

/* A generation is full once it has interned FLIGHT_ROTATE_STACKS stacks (or
 * the frame or thread caps): real interning, one distinct frame per stack. */
static void test_generation_full(void **state)
{
	struct capdata cd;
	char name[32];

	(void)state;
	assert_int_equal(capdata_init(&cd), 0);
	for (uint32_t i = 0; i + 1 < FLIGHT_ROTATE_STACKS; i++) {
		int64_t f;
		uint32_t id;

		snprintf(name, sizeof(name), "fn%u", i);
		f = capdata_frame(&cd, name, 0x1000 + i, ST_NO_MAPPING, false);
		assert_true(f >= 0);
		id = (uint32_t)f;
		assert_true(capdata_stack(&cd, &id, 1, CAP_STACK_COMPLETE) >= 0);
	}
	assert_false(flight_generation_full(&cd));
	{
		uint32_t two[2] = { 0, 1 };

		assert_true(capdata_stack(&cd, two, 2, CAP_STACK_COMPLETE) >= 0);
	}
	assert_true(flight_generation_full(&cd));
	capdata_free(&cd);

	assert_int_equal(capdata_init(&cd), 0);
	for (uint32_t i = 0; i < FLIGHT_ROTATE_THREADS; i++)
		assert_true(capdata_thread(&cd, 100, (int32_t)(1000 + i), "worker") >= 0);
	assert_true(flight_generation_full(&cd));
	capdata_free(&cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_window),
		cmocka_unit_test(test_cut_skip_and_empty),
		cmocka_unit_test(test_generation_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
