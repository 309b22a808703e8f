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
	/* still in progress past the end: cut at the end; its mutex's owner
	 * is a thread with no record in the window */
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t0, .ustack = (uint32_t)ws,
		.kstack = (uint32_t)ks, .start_ns = 58 * S, .dur_ns = 10 * S, .flags = CAP_BLOCK_IN_PROGRESS,
		.has_owner = true, .owner = (uint32_t)t2 }), 0);
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
	/* CPU throttling read across the window's start: kept; before it and after it: not */
	assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){ .cgroup = "/svc", .from_ns = 40 * S,
		.ts_ns = 45 * S, .throttled_ns = 1, .periods = 1, .quota_us = 1000, .period_us = 10000 }), 0);
	assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){ .cgroup = "/svc", .from_ns = 49 * S,
		.ts_ns = 51 * S, .throttled_ns = 2, .periods = 1, .quota_us = 1000, .period_us = 10000 }), 0);
	assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){ .cgroup = "/svc", .from_ns = 61 * S,
		.ts_ns = 62 * S, .throttled_ns = 3, .periods = 1, .quota_us = 1000, .period_us = 10000 }), 0);
	assert_int_equal(capdata_add_drop(cd, "ringbuf_full", 3), 0);
}

static void test_cut_window(void **state)
{
	struct capdata src, dst;

	build_src(&src);
	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 50 * S, 60 * S, NULL, NULL, 0), 0);
	assert_int_equal(dst.nblocks, 3);
	/* the wait that began before the window keeps its full length */
	assert_true(dst.blocks[0].start_ns == 48 * S && dst.blocks[0].dur_ns == 5 * S);
	assert_string_equal(dst.threads[dst.blocks[0].thread].comm, "worker");
	assert_true(dst.threads[dst.blocks[0].thread].below_min_ns == 5);
	assert_true(dst.blocks[0].has_waker);
	assert_string_equal(dst.threads[dst.blocks[0].waker].comm, "freezer");
	assert_true(dst.blocks[2].dur_ns == 2 * S);     /* in progress: cut at the end */
	assert_true(dst.blocks[2].has_owner);
	assert_string_equal(dst.threads[dst.blocks[2].owner].comm, "idle");
	/* stacks and frames were copied with their content */
	{
		const struct cap_stack *us = &dst.stacks[dst.blocks[0].ustack];

		assert_int_equal(us->nframes, 2);
		assert_string_equal(dst.frames[us->frames[1]].name, "worker_lock");
		assert_string_equal(dst.mappings[dst.frames[us->frames[1]].mapping].file, "/usr/bin/svc");
		assert_true(capdata_stack_is_kernel(&dst, dst.blocks[0].kstack));
	}
	assert_int_equal(dst.nthreads, 3);              /* only referenced threads (the owner too) */
	assert_int_equal(dst.nholds, 1);
	assert_int_equal(dst.nsamples, 1);
	assert_int_equal(dst.nmem, 1);
	assert_int_equal(dst.nthrottles, 1);
	assert_true(dst.throttles[0].throttled_ns == 2);
	assert_string_equal(dst.throttles[0].cgroup, "/svc");
	assert_true(capdata_get_drop(&dst, "ringbuf_full") == 3);
	capdata_free(&dst);
	capdata_free(&src);
}

/* ended_by (a baseline) leaves out the waits still going then. */
static void test_cut_ended_by_and_empty(void **state)
{
	struct capdata src, dst;

	(void)state;
	build_src(&src);
	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 50 * S, 60 * S, NULL, NULL, 60 * S), 0);
	assert_int_equal(dst.nblocks, 2);
	for (size_t i = 0; i < dst.nblocks; i++)
		assert_true(dst.blocks[i].start_ns + dst.blocks[i].dur_ns <= 60 * S);
	capdata_free(&dst);

	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &src, 200 * S, 210 * S, NULL, NULL, 0), 0);
	assert_int_equal(dst.nblocks, 0);
	assert_int_equal(dst.nthreads, 0);
	capdata_free(&dst);
	capdata_free(&src);
}

static const struct cap_block *block_of(const struct capdata *cd, const char *comm, size_t nth)
{
	for (size_t i = 0; i < cd->nblocks; i++)
		if (!strcmp(cd->threads[cd->blocks[i].thread].comm, comm) && nth-- == 0)
			return &cd->blocks[i];
	return NULL;
}

static size_t blocks_of(const struct capdata *cd, const char *comm)
{
	size_t n = 0;

	while (block_of(cd, comm, n))
		n++;
	return n;
}

static void add(struct capdata *cd, int64_t t, uint64_t start, uint64_t dur, uint8_t flags)
{
	assert_int_equal(capdata_add_block(cd, &(struct cap_block){ .thread = (uint32_t)t, .ustack = ST_NO_STACK,
		.kstack = ST_NO_STACK, .start_ns = start, .dur_ns = dur, .flags = flags }), 0);
}

/* Two generations overlap: the next one attached at 56.1 s, the old one
 * stopped at 58.5 s. What both saw is kept once, with the exact start. */
static void test_cut_handover(void **state)
{
	const uint64_t ms = 1000000, us = 1000;
	struct capdata old, next, dst;
	const struct cap_block *b;
	int64_t o[6], n[6];
	const char *comm[6] = { "early", "seeded", "overlap", "unseen", "late", "racing" };

	(void)state;
	assert_int_equal(capdata_init(&old), 0);
	assert_int_equal(capdata_init(&next), 0);
	old.window.start_mono_ns = 10 * S;
	old.window.duration_ns = 48500 * ms;
	next.window.start_mono_ns = 56 * S;
	next.window.attached_mono_ns = 56100 * ms;
	next.window.min_block_ns = ms;
	for (int i = 0; i < 6; i++) {
		o[i] = capdata_thread(&old, 100, 101 + i, comm[i]);
		n[i] = capdata_thread(&next, 100, 101 + i, comm[i]);
	}
	/* early: ended before next existed; only in old */
	add(&old, o[0], 50 * S, 1 * S, 0);
	/* seeded: began before next attached, still going when old stopped; next
	 * seeded it, its start 30 ms off (matched by being seeded, not by the start) */
	add(&old, o[1], 55500 * ms, 3000 * ms, CAP_BLOCK_IN_PROGRESS);
	add(&next, n[1], 55470 * ms, 3500 * ms, CAP_BLOCK_BEGAN_BEFORE);
	/* overlap: began before next attached, ended at 57 s in both (the clocks
	 * read 30 us apart); next seeded it */
	add(&old, o[2], 56000 * ms, 1000 * ms, 0);
	add(&next, n[2], 55980 * ms, 1020 * ms + 30 * us, CAP_BLOCK_BEGAN_BEFORE);
	/* its next wait began after next attached: both saw it begin; old cut it short */
	add(&old, o[2], 57200 * ms, 1300 * ms, CAP_BLOCK_IN_PROGRESS);
	add(&next, n[2], 57200 * ms + 20 * us, 2000 * ms, 0);
	/* unseen: ended between next's start and its attach, so next never saw it;
	 * its next wait began 5 ms later and next has that one alone */
	add(&old, o[3], 55000 * ms, 1050 * ms, 0);
	add(&next, n[3], 56055 * ms, 2 * ms, 0);
	/* late: a wait still going when old stopped, which began after next
	 * attached, and which next has not closed yet: only old has it */
	add(&old, o[4], 58000 * ms, 500 * ms, CAP_BLOCK_IN_PROGRESS);
	/* racing: began while next was attaching, after its programs were in but
	 * before it read attached_mono_ns: next saw it begin (not seeded), old
	 * cut it short; the same start in both */
	add(&old, o[5], 56090 * ms, 2410 * ms, CAP_BLOCK_IN_PROGRESS);
	add(&next, n[5], 56090 * ms + 3 * us, 2600 * ms, 0);

	assert_int_equal(capdata_add_hold(&old, &(struct cap_hold){ .thread = (uint32_t)o[0], .mm_pid = 100,
		.start_ns = 56 * S, .dur_ns = 2500 * ms, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK,
		.flags = CAP_BLOCK_IN_PROGRESS }), 0); /* began before next attached: only here */
	assert_int_equal(capdata_add_hold(&old, &(struct cap_hold){ .thread = (uint32_t)o[0], .mm_pid = 100,
		.start_ns = 57 * S, .dur_ns = 1 * S, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_hold(&next, &(struct cap_hold){ .thread = (uint32_t)n[0], .mm_pid = 100,
		.start_ns = 57 * S, .dur_ns = 1 * S, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_sample(&old, &(struct cap_sample){ .thread = (uint32_t)o[0], .ts_ns = 56 * S,
		.ustack = ST_NO_STACK, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_sample(&old, &(struct cap_sample){ .thread = (uint32_t)o[0], .ts_ns = 57 * S,
		.ustack = ST_NO_STACK, .kstack = ST_NO_STACK }), 0);
	assert_int_equal(capdata_add_mem(&old, &(struct cap_mem){ .pid = 100, .ts_ns = 56 * S, .rss_bytes = 1 }), 0);
	assert_int_equal(capdata_add_mem(&old, &(struct cap_mem){ .pid = 100, .ts_ns = 57 * S, .rss_bytes = 2 }), 0);

	assert_int_equal(capdata_init(&dst), 0);
	assert_int_equal(capdata_cut(&dst, &old, 50 * S, 60 * S, NULL, &next, 0), 0);
	assert_int_equal(capdata_cut(&dst, &next, 50 * S, 60 * S, &old, NULL, 0), 0);
	assert_int_equal(blocks_of(&dst, "early"), 1);
	assert_int_equal(blocks_of(&dst, "seeded"), 1);
	b = block_of(&dst, "seeded", 0);
	assert_true(b->start_ns == 55500 * ms && b->start_ns + b->dur_ns == 58970 * ms);  /* old's start, next's end */
	assert_true(b->flags & CAP_BLOCK_BEGAN_BEFORE);
	assert_int_equal(blocks_of(&dst, "overlap"), 2);
	b = block_of(&dst, "overlap", 0);
	assert_true(b->start_ns == 56000 * ms && b->dur_ns == 1000 * ms + 30 * us);
	assert_false(block_of(&dst, "overlap", 1)->flags & CAP_BLOCK_IN_PROGRESS);
	assert_int_equal(blocks_of(&dst, "unseen"), 2);
	assert_int_equal(blocks_of(&dst, "late"), 1);
	assert_true(block_of(&dst, "late", 0)->flags & CAP_BLOCK_IN_PROGRESS);
	assert_int_equal(blocks_of(&dst, "racing"), 1);
	assert_false(block_of(&dst, "racing", 0)->flags & CAP_BLOCK_IN_PROGRESS);
	/* holds: the one still held at the handover from old, the 57 s one from next */
	assert_int_equal(dst.nholds, 2);
	/* samples and memory from old only before the handover */
	assert_int_equal(dst.nsamples, 1);
	assert_int_equal(dst.nmem, 1);
	capdata_free(&dst);
	capdata_free(&next);
	capdata_free(&old);
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
		cmocka_unit_test(test_cut_ended_by_and_empty),
		cmocka_unit_test(test_cut_handover),
		cmocka_unit_test(test_generation_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
