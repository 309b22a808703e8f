/* aggregate.h: folds the blocks of a capdata into call sites (comm, user stack, kernel stack) and per-thread totals.
 *
 * The aggregate is a plain struct of arrays, built once from a capdata and
 * read by renderers and diagnosis. It holds ids into the capdata, not copies
 * of names: the capdata must outlive it.
 *
 * Invariants (after aggregate_build() returned 0):
 * - entries[] has one entry per distinct (thread comm, ustack id, kstack id)
 *   among the blocks, sorted by offcpu_ns descending; ties by count
 *   descending, then comm, ustack, kstack ascending, so the order depends
 *   only on the capdata.
 * - for every entry: offcpu_ns = sum of state_ns[], max_ns <= offcpu_ns,
 *   1 <= threads <= count.
 * - threads[] has one entry per capdata thread (blocks or not), sorted by
 *   offcpu_ns descending, then below_min_ns descending, then tid, then index.
 * - offcpu_ns = sum of entries[].offcpu_ns = sum of threads[].offcpu_ns =
 *   sum of all block durations; below_min_ns = sum of threads[].below_min_ns.
 * - the window figures count only the part of each block inside the capture
 *   window [window.start_mono_ns, + window.duration_ns] (a block that began
 *   before it, or ran past its end, is clipped; a window of duration 0 clips
 *   nothing): for every entry window_ns = sum of window_state_ns[] <=
 *   offcpu_ns, and window_ns = sum of entries[].window_ns; likewise
 *   window_state_ns[s] = sum of entries[].window_state_ns[s].
 * - began_before_ns of an entry is the longest lead, before the window's
 *   start, of a block that began before it (CAP_BLOCK_BEGAN_BEFORE or
 *   start_ns < window start); began_before is set for any such block, also
 *   when its (estimated) start gives no lead.
 * - every sum saturates at UINT64_MAX instead of wrapping (hostile files).
 */
#ifndef STALLTRAP_AGGREGATE_H
#define STALLTRAP_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capdata/capdata.h"

/* One call site: the blocks of threads named comm in one (user, kernel) stack pair. */
struct agg_entry {
	char comm[16];
	uint32_t ustack;                 /* capdata stack id or ST_NO_STACK */
	uint32_t kstack;                 /* capdata stack id or ST_NO_STACK */
	uint64_t offcpu_ns;              /* sum of the blocks' durations */
	uint64_t count;                  /* blocks */
	uint64_t max_ns;                 /* longest block */
	uint32_t threads;                /* distinct capdata threads, i.e. (pid, tid) */
	uint64_t state_ns[CAP_STATE__COUNT]; /* offcpu_ns split by enum cap_state */
	uint64_t window_ns;              /* the blocks' time inside the window */
	uint64_t window_state_ns[CAP_STATE__COUNT]; /* window_ns split by enum cap_state */
	uint64_t began_before_ns;        /* longest lead of a block begun before the window */
	bool began_before;               /* some block was already going when the window began */
	bool in_progress;                /* some block was still going when the capture ended */
};

/* Totals of one capdata thread. */
struct agg_thread {
	uint32_t thread;                 /* index into capdata threads */
	uint64_t offcpu_ns;              /* sum of its blocks */
	uint64_t count;                  /* its blocks */
	uint64_t below_min_ns;           /* copied from the thread record */
};

struct aggregate {
	struct agg_entry *entries;
	size_t nentries;
	struct agg_thread *threads;
	size_t nthreads;

	uint64_t offcpu_ns;              /* all blocks */
	uint64_t below_min_ns;           /* all threads' time in blocks under min_block */
	uint64_t nblocks;
	uint64_t state_ns[CAP_STATE__COUNT];
	uint64_t window_ns;              /* all blocks' time inside the window */
	uint64_t window_state_ns[CAP_STATE__COUNT];
	/* offcpu_ns by the status of the user stack (enum cap_stack_status);
	 * blocks without a user stack (ST_NO_STACK) count as CAP_STACK_NONE. */
	uint64_t ustack_ns[CAP_STACK_NONE + 1];
};

/* Builds agg from cd (agg need not be initialized). Returns 0, or a negative
 * errno (-ENOMEM) with agg zeroed. O(blocks + entries log entries). */
int aggregate_build(struct aggregate *agg, const struct capdata *cd);
/* The part of block b inside cd's window, in ns (all of it when the window
 * has no duration), by the rule above. */
uint64_t aggregate_block_window_ns(const struct capdata *cd, const struct cap_block *b);
/* Frees the arrays and zeroes agg; safe on a zeroed or released aggregate. */
void aggregate_release(struct aggregate *agg);

/* Percent (0..100) of off-CPU time whose user stack is complete, among blocks
 * that have a user stack at all (kernel threads are left out). Returns -1
 * when no block has one. */
double aggregate_ustack_complete_pct(const struct aggregate *agg);

#endif /* STALLTRAP_AGGREGATE_H */
