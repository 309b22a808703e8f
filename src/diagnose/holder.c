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
			slot = &a->io_ns; k = 2; break;
		case DIAG_CAUSE_MMAP_LOCK: case DIAG_CAUSE_KERNEL_LOCK: case DIAG_CAUSE_APP_LOCK:
			slot = &a->lock_ns; k = 4; break;
		case DIAG_CAUSE_RUNQUEUE: case DIAG_CAUSE_BUSY:
			slot = &a->oncpu_ns; k = 0; break;
		case DIAG_CAUSE_OTHER:
			slot = &a->other_ns; k = 5; break;
		case DIAG_CAUSE_STOPPED:
			slot = &a->stopped_ns; k = 7; break;
		default:
			if (b->in_syscall && syscall_sleep(b->syscall)) {
				slot = &a->sleep_ns; k = 1;
			} else if (diag_stack_feat(x, b->ustack) & UF_WORK) {
				slot = &a->cond_ns; k = 6;
			} else {
				slot = &a->client_ns; k = 3;
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
	if (top == 0 && ms != SIZE_MAX) {
		a->ustack = cd->samples[ms].ustack;
		a->kstack = cd->samples[ms].kstack;
	} else if (bestb[top] != SIZE_MAX) {
		a->ustack = cd->blocks[bestb[top]].ustack;
		a->kstack = cd->blocks[bestb[top]].kstack;
	}
}

/* "; while holding it, it waited for its client or another event (recvfrom)
 * 4.5 s and ran on-CPU 30 ms": the two largest parts, largest first. */
void diag_put_activity(struct ctx *x, struct sbuf *sb, const struct holdact *a)
{
	const char *client = a->client_nr >= 0 ? syscall_name(a->client_nr) : NULL;
	struct { uint64_t ns; const char *what; bool client; } p[8] = {
		{ a->oncpu_ns, "ran on-CPU", false }, { a->sleep_ns, "slept", false },
		{ a->io_ns, "waited on I/O", false },
		{ a->client_ns, "waited for its own client or another event", true },
		{ a->lock_ns, "waited on another lock", false }, { a->other_ns, "waited uninterruptibly", false },
		{ a->cond_ns, "waited on a condition variable or semaphore", false },
		{ a->stopped_ns, "was stopped (a stop signal, a debugger or a freezer)", false },
	};
	unsigned int i, j, said = 0;
	char d[32];

	(void)x;
	for (i = 0; i < 8; i++) {
		for (j = i + 1; j < 8; j++) {
			if (p[j].ns > p[i].ns) {
				typeof(p[0]) tmp = p[i];

				p[i] = p[j];
				p[j] = tmp;
			}
		}
	}
	for (i = 0; i < 2 && p[i].ns; i++) {
		units_fmt_dur(d, sizeof(d), p[i].ns);
		diag_sb_printf(sb, "%s %s %s", said ? " and" : "; while holding it, it", p[i].what, d);
		if (client && p[i].client)
			diag_sb_printf(sb, " (in %s)", client);
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
