/* holder.c: what a lock's holder did while it held the lock: ran, slept, waited on I/O, on another lock, or for its own client; the heaviest of these is the culprit's stack.
 *
 * The stack at the release says where the holder let go, which is not where
 * it spent the hold when the release is a tail call or sits in a wrapper;
 * the holder's own samples and waits inside the hold say what held the lock
 * so long. Both go into the verdict's culprit ("stack" and "release_stack").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

static bool syscall_sleep(int32_t nr)
{
	return nr == NR_nanosleep || nr == NR_clock_nanosleep || nr == NR_pause;
}

/* Where thread t's time inside [s, e) went, by its samples and blocks. */
void diag_holder_activity(struct ctx *x, uint32_t t, uint64_t s, uint64_t e, struct holdact *a)
{
	const struct capdata *cd = x->cd;
	uint64_t best_client = 0, best[8] = { 0 }, *slot;
	size_t bestb[8], i, *idx, n = 0, ms;
	unsigned int k, top = 0;

	*a = (struct holdact){ .span_ns = e > s ? e - s : 0, .client_nr = -1,
			       .ustack = ST_NO_STACK, .kstack = ST_NO_STACK };
	for (k = 0; k < 8; k++)
		bestb[k] = SIZE_MAX;
	if (e <= s || t >= cd->nthreads)
		return;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		uint64_t ov;

		if (b->thread != t || !(ov = overlap(s, e, b->start_ns, block_end(b))))
			continue;
		switch (x->cls[i]) {
		case DIAG_CAUSE_IO: case DIAG_CAUSE_MEMORY_RECLAIM:
			slot = &a->io_ns; k = HOLD_IO; break;
		case DIAG_CAUSE_MMAP_LOCK: case DIAG_CAUSE_KERNEL_LOCK: case DIAG_CAUSE_APP_LOCK:
			slot = &a->lock_ns; k = HOLD_LOCK; break;
		case DIAG_CAUSE_RUNQUEUE: case DIAG_CAUSE_BUSY:
			slot = &a->oncpu_ns; k = HOLD_ONCPU; break;
		case DIAG_CAUSE_OTHER:
			slot = &a->other_ns; k = HOLD_OTHER; break;
		case DIAG_CAUSE_STOPPED:
			slot = &a->stopped_ns; k = HOLD_STOPPED; break;
		default:
			if (b->in_syscall && syscall_sleep(b->syscall)) {
				slot = &a->sleep_ns; k = HOLD_SLEEP;
			} else if (diag_stack_feat(x, b->ustack) & UF_WORK) {
				slot = &a->cond_ns; k = HOLD_COND;
			} else {
				slot = &a->client_ns; k = HOLD_CLIENT;
				if (ov > best_client) {
					best_client = ov;
					a->client_nr = b->in_syscall ? b->syscall : -1;
				}
			}
		}
		*slot = sat_add(*slot, ov);
		if (ov > best[k]) {
			best[k] = ov;
			bestb[k] = i;
		}
	}
	idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx));
	for (i = 0; idx && i < x->nsamp; i++) {
		const struct cap_sample *sm = &cd->samples[x->samp[i]];

		if (sm->thread == t && sm->ts_ns >= s && sm->ts_ns < e)
			idx[n++] = x->samp[i];
	}
	a->oncpu_ns = sat_add(a->oncpu_ns, (uint64_t)n * x->period_ns);
	ms = idx ? diag_mode_sample(cd, idx, n) : SIZE_MAX;
	free(idx);
	/* the heaviest: on-CPU as a whole, or the category with the most time */
	{
		const uint64_t tot[8] = { a->oncpu_ns, a->sleep_ns, a->io_ns, a->client_ns, a->lock_ns, a->other_ns,
					  a->cond_ns, a->stopped_ns };

		for (k = 1; k < 8; k++) {
			if (tot[k] > tot[top])
				top = k;
		}
		if (!tot[top])
			return;
	}
	a->top = top;
	if (top == 0 && ms != SIZE_MAX) {
		a->ustack = cd->samples[ms].ustack;
		a->kstack = cd->samples[ms].kstack;
	} else if (bestb[top] != SIZE_MAX) {
		a->ustack = cd->blocks[bestb[top]].ustack;
		a->kstack = cd->blocks[bestb[top]].kstack;
	}
}

/* "; while holding it, it waited on a condition variable or semaphore 6.8 s
 * (in mariadb_sleep_for_space ← my_write) and ran on-CPU 30 ms": the two
 * largest parts, largest first; the largest says where, by the callers of
 * its longest wait (past the program's wait wrappers) or of its most
 * frequent sample. A wait for a client says its syscall instead, and a stop
 * no place: it is where the thread was when stopped. sb must hold the
 * summary so far. */
void diag_put_activity(struct ctx *x, struct sbuf *sb, const struct holdact *a)
{
	static const char *const what[] = {
		[HOLD_ONCPU] = "ran on-CPU", [HOLD_SLEEP] = "slept", [HOLD_IO] = "waited on I/O",
		[HOLD_CLIENT] = "waited for its own client or another event",
		[HOLD_LOCK] = "waited on another lock", [HOLD_OTHER] = "waited uninterruptibly",
		[HOLD_COND] = "waited on a condition variable or semaphore",
		[HOLD_STOPPED] = "was stopped (a stop signal, a debugger or a freezer)",
	};
	const char *client = a->client_nr >= 0 ? syscall_name(a->client_nr) : NULL;
	const uint64_t ns[] = { a->oncpu_ns, a->sleep_ns, a->io_ns, a->client_ns, a->lock_ns, a->other_ns,
				a->cond_ns, a->stopped_ns };
	unsigned int p[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, i, j, said = 0;
	char d[32];

	/* largest first; of equal parts, the one listed first (as a->top) */
	for (i = 0; i < 8; i++) {
		for (j = i + 1; j < 8; j++) {
			if (ns[p[j]] > ns[p[i]]) {
				unsigned int tmp = p[i];

				p[i] = p[j];
				p[j] = tmp;
			}
		}
	}
	for (i = 0; i < 2 && ns[p[i]]; i++) {
		units_fmt_dur(d, sizeof(d), ns[p[i]]);
		diag_sb_printf(sb, "%s %s %s", said ? " and" : "; while holding it, it", what[p[i]], d);
		if (client && p[i] == HOLD_CLIENT) {
			diag_sb_printf(sb, " (in %s)", client);
		} else if (p[i] == a->top && p[i] != HOLD_CLIENT && p[i] != HOLD_STOPPED) {
			struct sbuf where = { .len = 0 };

			/* not when the summary just named those callers (an
			 * mmap_lock hold "inside mmap(…) called from f ← g") */
			if ((p[i] == HOLD_ONCPU ? diag_put_callers(x, &where, a->ustack)
						: diag_put_wait_site(x, &where, a->ustack)) &&
			    !strstr(sb->s, where.s))
				diag_sb_printf(sb, " (in %s)", where.s);
		}
		said++;
	}
}

/* The culprit of a lock verdict: its stack is what it did while holding
 * (the heaviest part of a), its release_stack where it let go. */
json_t *diag_culprit_hold_json(struct ctx *x, uint32_t t, const struct holdact *a, uint32_t rel_ustack,
			       uint32_t rel_kstack, const char *operation)
{
	bool did = a->ustack != ST_NO_STACK || a->kstack != ST_NO_STACK;
	json_t *o = diag_culprit_json(x, t, did ? a->ustack : rel_ustack, did ? a->kstack : rel_kstack, operation);
	json_t *rel, *act;

	if (!o)
		return NULL;
	rel = diag_stack_json(x, rel_ustack, rel_kstack);
	act = !rel ? NULL : json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "hold_ms", jms(a->span_ns),
			"oncpu_ms", jms(a->oncpu_ns), "sleep_ms", jms(a->sleep_ns), "io_ms", jms(a->io_ns),
			"client_ms", jms(a->client_ns), "lock_ms", jms(a->lock_ns), "cond_ms", jms(a->cond_ns),
			"other_ms", jms(a->other_ns), "stopped_ms", jms(a->stopped_ns));
	if (!rel || !act) {
		json_decref(rel);
		x->oom = true;
		return o;
	}
	if (json_object_set_new(o, "release_stack", rel) ||
	    json_object_set_new(o, "release_stack_complete",
				json_boolean(diag_stack_complete(x->cd, rel_ustack))) ||
	    json_object_set_new(o, "while_holding", act))
		x->oom = true;
	return o;
}
