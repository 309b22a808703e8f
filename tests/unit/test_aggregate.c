/* test_aggregate.c: unit tests of aggregate_build on hand-built capdata with known totals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"

#define MS 1000000ULL

/* A small world: user stacks U1 (complete), U2 (truncated), UNR (unreadable
 * placeholder), NONE (kernel thread), and one kernel stack K. */
struct world {
	struct capdata cd;
	uint32_t u1, u2, unr, none, k;
	uint32_t web1, web2, db, kw;  /* threads */
};

static void world_init(struct world *w)
{
	uint32_t f[4], kf[2];

	assert_int_equal(capdata_init(&w->cd), 0);
	f[0] = (uint32_t)capdata_frame(&w->cd, "main", 1, ST_NO_MAPPING, false);
	f[1] = (uint32_t)capdata_frame(&w->cd, "serve", 2, ST_NO_MAPPING, false);
	f[2] = (uint32_t)capdata_frame(&w->cd, "read", 3, ST_NO_MAPPING, false);
	f[3] = (uint32_t)capdata_frame(&w->cd, "[user stack unreadable: mmap_lock busy]", 0, ST_NO_MAPPING, false);
	kf[0] = (uint32_t)capdata_frame(&w->cd, "ksys_read", 0xffffffff81000000ULL, ST_NO_MAPPING, true);
	kf[1] = (uint32_t)capdata_frame(&w->cd, "schedule", 0xffffffff81000100ULL, ST_NO_MAPPING, true);
	w->u1 = (uint32_t)capdata_stack(&w->cd, f, 3, CAP_STACK_COMPLETE);
	w->u2 = (uint32_t)capdata_stack(&w->cd, f + 1, 2, CAP_STACK_TRUNCATED);
	w->unr = (uint32_t)capdata_stack(&w->cd, f + 3, 1, CAP_STACK_UNREADABLE);
	w->none = (uint32_t)capdata_stack(&w->cd, NULL, 0, CAP_STACK_NONE);
	w->k = (uint32_t)capdata_stack(&w->cd, kf, 2, CAP_STACK_COMPLETE);
	w->web1 = (uint32_t)capdata_thread(&w->cd, 100, 100, "web");
	w->web2 = (uint32_t)capdata_thread(&w->cd, 100, 101, "web");
	w->db = (uint32_t)capdata_thread(&w->cd, 100, 102, "db");
	w->kw = (uint32_t)capdata_thread(&w->cd, 2, 50, "kworker/0:1");
	w->cd.threads[w->web2].below_min_ns = 700000;
	w->cd.threads[w->db].below_min_ns = 300000;
}

static void add(struct world *w, uint32_t thread, uint32_t ustack, uint32_t kstack, int state,
		uint64_t dur_ns, uint8_t flags)
{
	struct cap_block b = {
		.thread = thread, .ustack = ustack, .kstack = kstack, .state = (uint8_t)state,
		.flags = flags, .start_ns = 1000 + w->cd.nblocks, .dur_ns = dur_ns,
	};

	assert_int_equal(capdata_add_block(&w->cd, &b), 0);
}

static const struct agg_entry *find(const struct aggregate *agg, const char *comm,
				    uint32_t ustack, uint32_t kstack)
{
	size_t i;

	for (i = 0; i < agg->nentries; i++) {
		const struct agg_entry *e = &agg->entries[i];

		if (!strcmp(e->comm, comm) && e->ustack == ustack && e->kstack == kstack)
			return e;
	}
	fail_msg("no entry (%s, %u, %u)", comm, ustack, kstack);
	return NULL;
}

static void test_totals_and_entries(void **state)
{
	struct world w;
	struct aggregate agg;
	const struct agg_entry *e;

	world_init(&w);
	add(&w, w.web1, w.u1, w.k, CAP_STATE_SLEEPING, 10 * MS, 0);
	add(&w, w.web1, w.u1, w.k, CAP_STATE_UNINTERRUPTIBLE, 5 * MS, 0);
	add(&w, w.web2, w.u1, w.k, CAP_STATE_RUNNABLE, 3 * MS, CAP_BLOCK_IN_PROGRESS);
	add(&w, w.db, w.u1, w.k, CAP_STATE_SLEEPING, 20 * MS, CAP_BLOCK_BEGAN_BEFORE);
	add(&w, w.web1, w.u2, w.k, CAP_STATE_SLEEPING, 1 * MS, 0);
	add(&w, w.web2, ST_NO_STACK, w.k, CAP_STATE_SLEEPING, 2 * MS, 0);
	add(&w, w.web2, w.unr, w.k, CAP_STATE_UNINTERRUPTIBLE, 4 * MS, 0);
	add(&w, w.kw, w.none, w.k, CAP_STATE_SLEEPING, 6 * MS, 0);
	add(&w, w.kw, w.none, ST_NO_STACK, CAP_STATE_SLEEPING, 1500, 0);

	assert_int_equal(aggregate_build(&agg, &w.cd), 0);
	assert_int_equal(agg.nblocks, 9);
	assert_int_equal(agg.nentries, 7);
	assert_int_equal(agg.offcpu_ns, 51 * MS + 1500);
	assert_int_equal(agg.below_min_ns, 1000000);
	assert_int_equal(agg.state_ns[CAP_STATE_SLEEPING], 39 * MS + 1500);
	assert_int_equal(agg.state_ns[CAP_STATE_UNINTERRUPTIBLE], 9 * MS);
	assert_int_equal(agg.state_ns[CAP_STATE_RUNNABLE], 3 * MS);

	/* Same stacks, different comm: separate entries. */
	e = find(&agg, "web", w.u1, w.k);
	assert_int_equal(e->offcpu_ns, 18 * MS);
	assert_int_equal(e->count, 3);
	assert_int_equal(e->max_ns, 10 * MS);
	assert_int_equal(e->threads, 2);
	assert_int_equal(e->state_ns[CAP_STATE_SLEEPING], 10 * MS);
	assert_int_equal(e->state_ns[CAP_STATE_UNINTERRUPTIBLE], 5 * MS);
	assert_int_equal(e->state_ns[CAP_STATE_RUNNABLE], 3 * MS);
	assert_true(e->in_progress);

	e = find(&agg, "db", w.u1, w.k);
	assert_int_equal(e->offcpu_ns, 20 * MS);
	assert_int_equal(e->threads, 1);
	assert_false(e->in_progress); /* began_before is not in_progress */

	e = find(&agg, "web", ST_NO_STACK, w.k);
	assert_int_equal(e->offcpu_ns, 2 * MS);
	e = find(&agg, "kworker/0:1", w.none, ST_NO_STACK);
	assert_int_equal(e->offcpu_ns, 1500);

	/* Sorted by offcpu_ns descending. */
	assert_string_equal(agg.entries[0].comm, "db");
	assert_string_equal(agg.entries[1].comm, "web");
	assert_int_equal(agg.entries[1].ustack, w.u1);
	assert_int_equal(agg.entries[2].offcpu_ns, 6 * MS);
	assert_int_equal(agg.entries[6].offcpu_ns, 1500);

	/* Threads: every capdata thread, by offcpu_ns descending. */
	assert_int_equal(agg.nthreads, 4);
	assert_int_equal(agg.threads[0].thread, w.db);
	assert_int_equal(agg.threads[0].offcpu_ns, 20 * MS);
	assert_int_equal(agg.threads[0].below_min_ns, 300000);
	assert_int_equal(agg.threads[1].thread, w.web1);
	assert_int_equal(agg.threads[1].offcpu_ns, 16 * MS);
	assert_int_equal(agg.threads[1].count, 3);
	assert_int_equal(agg.threads[2].thread, w.web2);
	assert_int_equal(agg.threads[2].offcpu_ns, 9 * MS);
	assert_int_equal(agg.threads[2].below_min_ns, 700000);
	assert_int_equal(agg.threads[3].thread, w.kw);

	/* User stack completeness: complete 38 ms, truncated 1, unreadable 4;
	 * kernel threads (none) and blocks without a user stack are left out. */
	assert_int_equal(agg.ustack_ns[CAP_STACK_COMPLETE], 38 * MS);
	assert_int_equal(agg.ustack_ns[CAP_STACK_TRUNCATED], 1 * MS);
	assert_int_equal(agg.ustack_ns[CAP_STACK_UNREADABLE], 4 * MS);
	assert_int_equal(agg.ustack_ns[CAP_STACK_NONE], 8 * MS + 1500);
	assert_true(aggregate_ustack_complete_pct(&agg) > 100.0 * 38 / 43 - 1e-9);
	assert_true(aggregate_ustack_complete_pct(&agg) < 100.0 * 38 / 43 + 1e-9);

	aggregate_release(&agg);
	aggregate_release(&agg);
	capdata_free(&w.cd);
}

/* Invariants that must hold for any input. */
static void check_invariants(const struct capdata *cd, const struct aggregate *agg)
{
	uint64_t sum = 0, tsum = 0, cnt = 0, bsum = 0, wsum = 0;
	size_t i;

	for (i = 0; i < agg->nentries; i++) {
		const struct agg_entry *e = &agg->entries[i];

		assert_int_equal(e->state_ns[0] + e->state_ns[1] + e->state_ns[2], e->offcpu_ns);
		assert_int_equal(e->window_state_ns[0] + e->window_state_ns[1] + e->window_state_ns[2],
				 e->window_ns);
		assert_true(e->window_ns <= e->offcpu_ns);
		wsum += e->window_ns;
		assert_true(e->max_ns <= e->offcpu_ns);
		assert_true(e->threads >= 1 && e->threads <= e->count);
		sum += e->offcpu_ns;
		cnt += e->count;
		if (i)
			assert_true(agg->entries[i - 1].offcpu_ns >= e->offcpu_ns);
	}
	for (i = 0; i < agg->nthreads; i++) {
		tsum += agg->threads[i].offcpu_ns;
		if (i)
			assert_true(agg->threads[i - 1].offcpu_ns >= agg->threads[i].offcpu_ns);
	}
	for (i = 0; i < cd->nblocks; i++)
		bsum += cd->blocks[i].dur_ns;
	assert_int_equal(sum, agg->offcpu_ns);
	assert_int_equal(tsum, agg->offcpu_ns);
	assert_int_equal(bsum, agg->offcpu_ns);
	assert_int_equal(wsum, agg->window_ns);
	assert_int_equal(cnt, cd->nblocks);
}

/* The window figures count only what lies inside the window; a block that
 * began before it says by how much; the full figures stay whole. */
static void test_window_clipping(void **state)
{
	struct world w;
	struct aggregate agg;
	struct cap_block b = { .thread = 0, .ustack = 0, .kstack = 0, .state = CAP_STATE_SLEEPING };
	const struct agg_entry *e;

	(void)state;
	world_init(&w);
	w.cd.window.start_mono_ns = 100 * MS;
	w.cd.window.duration_ns = 1000 * MS;
	b.thread = w.web1; b.ustack = w.u1; b.kstack = w.k;
	/* began 40 ms before the window, 10 ms of it inside */
	b.start_ns = 60 * MS; b.dur_ns = 50 * MS; b.flags = CAP_BLOCK_BEGAN_BEFORE;
	assert_int_equal(capdata_add_block(&w.cd, &b), 0);
	/* wholly inside */
	b.start_ns = 500 * MS; b.dur_ns = 20 * MS; b.flags = 0;
	assert_int_equal(capdata_add_block(&w.cd, &b), 0);
	/* runs 30 ms past the end, uninterruptible */
	b.state = CAP_STATE_UNINTERRUPTIBLE;
	b.start_ns = 1070 * MS; b.dur_ns = 60 * MS; b.flags = CAP_BLOCK_IN_PROGRESS;
	assert_int_equal(capdata_add_block(&w.cd, &b), 0);
	/* flagged began-before with an estimated start inside: no lead, still said */
	b.thread = w.db; b.state = CAP_STATE_SLEEPING;
	b.start_ns = 100 * MS; b.dur_ns = 5 * MS; b.flags = CAP_BLOCK_BEGAN_BEFORE;
	assert_int_equal(capdata_add_block(&w.cd, &b), 0);
	assert_int_equal(aggregate_build(&agg, &w.cd), 0);
	check_invariants(&w.cd, &agg);

	e = find(&agg, "web", w.u1, w.k);
	assert_int_equal(e->offcpu_ns, 130 * MS);
	assert_int_equal(e->window_ns, 10 * MS + 20 * MS + 30 * MS);
	assert_int_equal(e->window_state_ns[CAP_STATE_UNINTERRUPTIBLE], 30 * MS);
	assert_int_equal(e->max_ns, 60 * MS);
	assert_true(e->began_before);
	assert_int_equal(e->began_before_ns, 40 * MS);
	e = find(&agg, "db", w.u1, w.k);
	assert_true(e->began_before);
	assert_int_equal(e->began_before_ns, 0);
	assert_int_equal(agg.window_ns, 65 * MS);
	assert_int_equal(agg.window_state_ns[CAP_STATE_SLEEPING], 35 * MS);
	assert_int_equal(agg.offcpu_ns, 135 * MS);
	aggregate_release(&agg);

	/* A window without a duration clips nothing. */
	w.cd.window.duration_ns = 0;
	assert_int_equal(aggregate_build(&agg, &w.cd), 0);
	assert_int_equal(agg.window_ns, agg.offcpu_ns);
	aggregate_release(&agg);
	capdata_free(&w.cd);
}

static void test_tie_breaks(void **state)
{
	struct world w;
	struct aggregate agg, again;
	size_t i;

	world_init(&w);
	add(&w, w.web1, w.u2, w.k, 0, 2 * MS, 0);   /* web/u2: 5 ms, 2 blocks */
	add(&w, w.db, w.u1, w.k, 0, 5 * MS, 0);     /* db/u1: 5 ms, 1 block */
	add(&w, w.web1, w.u2, w.k, 0, 3 * MS, 0);
	add(&w, w.web1, w.u1, w.k, 0, 5 * MS, 0);   /* web/u1: 5 ms, 1 block */
	add(&w, w.db, w.u2, w.k, 0, 5 * MS, 0);     /* db/u2: 5 ms, 1 block */

	assert_int_equal(aggregate_build(&agg, &w.cd), 0);
	assert_int_equal(agg.nentries, 4);
	/* Equal offcpu: more blocks first (even with a later comm and ustack),
	 * then comm, then ustack id. */
	assert_string_equal(agg.entries[0].comm, "web");
	assert_int_equal(agg.entries[0].ustack, w.u2);
	assert_int_equal(agg.entries[0].count, 2);
	assert_string_equal(agg.entries[1].comm, "db");
	assert_int_equal(agg.entries[1].ustack, w.u1);
	assert_string_equal(agg.entries[2].comm, "db");
	assert_int_equal(agg.entries[2].ustack, w.u2);
	assert_string_equal(agg.entries[3].comm, "web");
	assert_int_equal(agg.entries[3].ustack, w.u1);
	check_invariants(&w.cd, &agg);

	/* Deterministic: a second build is identical. */
	assert_int_equal(aggregate_build(&again, &w.cd), 0);
	assert_int_equal(again.nentries, agg.nentries);
	for (i = 0; i < agg.nentries; i++)
		assert_memory_equal(&agg.entries[i], &again.entries[i], sizeof(agg.entries[i]));
	aggregate_release(&agg);
	aggregate_release(&again);
	capdata_free(&w.cd);
}

static void test_empty(void **state)
{
	struct capdata cd;
	struct aggregate agg;

	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(aggregate_build(&agg, &cd), 0);
	assert_int_equal(agg.nentries, 0);
	assert_int_equal(agg.nthreads, 0);
	assert_int_equal(agg.offcpu_ns, 0);
	assert_true(aggregate_ustack_complete_pct(&agg) < 0);
	aggregate_release(&agg);
	capdata_free(&cd);
}

static void test_saturation(void **state)
{
	struct world w;
	struct aggregate agg;

	world_init(&w);
	add(&w, w.web1, w.u1, w.k, 0, UINT64_MAX - 5, 0);
	add(&w, w.web1, w.u1, w.k, 0, 100, 0);
	assert_int_equal(aggregate_build(&agg, &w.cd), 0);
	assert_true(agg.entries[0].offcpu_ns == UINT64_MAX);
	assert_true(agg.offcpu_ns == UINT64_MAX);
	aggregate_release(&agg);
	capdata_free(&w.cd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 300k blocks over 100k unique stacks and 1000 threads: must be fast (a hash,
 * not a scan per block) and keep every invariant. */
static void test_scale(void **state)
{
	struct capdata cd;
	struct aggregate agg;
	uint32_t kf, fr[3], i, nstacks = 100000, kstack;
	char name[32];
	double t0, dt;

	assert_int_equal(capdata_init(&cd), 0);
	kf = (uint32_t)capdata_frame(&cd, "schedule", 0xffffffff81000000ULL, ST_NO_MAPPING, true);
	kstack = (uint32_t)capdata_stack(&cd, &kf, 1, CAP_STACK_COMPLETE);
	fr[0] = (uint32_t)capdata_frame(&cd, "main", 1, ST_NO_MAPPING, false);
	for (i = 0; i < nstacks; i++) {
		snprintf(name, sizeof(name), "fn_%u", i);
		fr[1] = (uint32_t)capdata_frame(&cd, name, 100 + i, ST_NO_MAPPING, false);
		fr[2] = (uint32_t)capdata_frame(&cd, "leaf", 2, ST_NO_MAPPING, false);
		assert_true(capdata_stack(&cd, fr, 3, CAP_STACK_COMPLETE) >= 0);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "w%u", i % 10);
		assert_true(capdata_thread(&cd, 1, (int32_t)(1000 + i), name) >= 0);
	}
	for (i = 0; i < 300000; i++) {
		struct cap_block b = {
			.thread = (i * 7919u) % 1000, .ustack = 1 + (i % nstacks), .kstack = kstack,
			.state = (uint8_t)(i % 3), .dur_ns = 1000000 + (i % 977) * 1000,
		};

		assert_int_equal(capdata_add_block(&cd, &b), 0);
	}
	t0 = now_s();
	assert_int_equal(aggregate_build(&agg, &cd), 0);
	dt = now_s() - t0;
	/* Generous for sanitizer builds; an O(n^2) build takes minutes. */
	assert_true(dt < 5.0);
	/* Each stack is shared by blocks of several comms (thread % 10). */
	assert_true(agg.nentries >= nstacks);
	assert_int_equal(agg.nthreads, 1000);
	check_invariants(&cd, &agg);
	aggregate_release(&agg);
	capdata_free(&cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_and_entries),
		cmocka_unit_test(test_tie_breaks),
		cmocka_unit_test(test_window_clipping),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
