/* evidence.c: report.json's evidence sections: "waits", "locks", "holders", "memory", "cpu", "io". */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

/* ---------------------------------------------------------------------------
 * Evidence sections.
 */
json_t *diag_waits_json(struct ctx *x)
{
	json_t *o = json_object();
	unsigned int c;

	for (c = 0; o && c < DIAG_CAUSE__COUNT; c++) {
		const struct ctotal *t = &x->tot[c];
		json_t *v = json_pack("{s:o, s:o, s:I, s:o}", "offcpu_ms", jms(t->total_ns),
				      "max_ms", jms(t->max_ns), "threads", (json_int_t)t->threads,
				      "count", jcount(t->count));

		if (v && c == DIAG_CAUSE_MEMORY_RECLAIM)
			json_object_set_new(v, "oncpu_ms", jms(t->oncpu_ns));
		/* the waits' tails: woken, not yet on a CPU (in offcpu_ms and
		 * max_ms; count is the preempted threads' blocks) */
		if (v && c == DIAG_CAUSE_RUNQUEUE)
			json_object_set_new(v, "after_wakeup_ms", jms(x->ready_ns));
		if (v && c < DIAG_CAUSE_IDLE) {
			json_object_set_new(v, "stall", json_boolean(t->qualifies));
			if (x->have_baseline)
				json_object_set_new(v, "expected_ms", jms(t->expected_ns));
		}
		if (!v || json_object_set_new(o, diagnose_cause_name(c), v))
			x->oom = true;
	}
	return o;
}

/* Which rule made a group's waits application-lock waits: libc's lock
 * entry points (or a futex another thread woke), the convoy rule (a release
 * or a handoff at their site), or an event loop's thread waiting for another. */
static const char *found_by(const struct ctx *x, const struct lgroup *g)
{
	unsigned int r = RULE_BASE;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		if (x->rule[x->lidx[k]] > r)
			r = x->rule[x->lidx[k]];
	}
	return r == RULE_LOOP ? "event_loop" : r == RULE_BASE ? "lock_entry" : "convoy";
}

json_t *diag_locks_json(struct ctx *x)
{
	json_t *a = json_array();
	size_t i, k;

	for (i = 0; a && i < x->ngroups && i < MAX_LOCKS; i++) {
		const struct lgroup *g = &x->groups[i];
		const char *mode = diag_lock_mode(g->lock_flags);
		json_t *holders = json_array(), *o;
		struct sbuf name = { .len = 0 };

		diag_put_lock_name(x, g, &name);
		for (k = 0; holders && k < g->nholders; k++) {
			const struct lholder *h = &g->holders[k];
			json_t *ho = diag_thread_ref(x, h->thread);

			if (ho) {
				json_object_set_new(ho, "blame_ms", jms(h->blame_ns));
				json_object_set_new(ho, g->from_holds ? "holds" : "wakes", jcount(h->wakes));
				if (g->from_holds)
					json_object_set_new(ho, "hold_ms", jms(h->hold_ns));
			}
			if (!ho || json_array_append_new(holders, ho))
				x->oom = true;
		}
		bool site = g->cls == DIAG_CAUSE_APP_LOCK && !g->pid;  /* a convoy's: a wait site, no address */

		o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:s, s:o?}",
			      "kind", diagnose_cause_name(g->cls),
			      "addr", g->obj && !site ? jhex(g->obj) : json_null(),
			      "pid", g->cls == DIAG_CAUSE_KERNEL_LOCK || site ? json_null() : json_integer(g->pid),
			      "type", g->cls == DIAG_CAUSE_APP_LOCK ? diagnose_primitive_name(g->prim) :
				      g->cls == DIAG_CAUSE_MMAP_LOCK ? "rwsem" : diag_lock_type(g->lock_flags),
			      "mode", mode ? json_string(mode) : json_null(), "name", name.s,
			      "threads", (json_int_t)g->waiters, "count", jcount(g->n),
			      "offcpu_ms", jms(g->total_ns), "max_ms", jms(g->max_ns),
			      "blame", g->from_holds ? "holds" : "wakers", "holders", holders);
		if (o && g->cls == DIAG_CAUSE_APP_LOCK)
			json_object_set_new(o, "found_by", json_string(found_by(x, g)));
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}

json_t *diag_holders_json(struct ctx *x, const struct hentry *e, size_t n, size_t *omitted)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	size_t i, shown = 0;

	*omitted = 0;
	for (i = 0; a && i < n; i++) {
		json_t *o, *longest = json_null();

		if (e[i].hold_ns < x->hold_thr_ns)
			continue;
		if (shown == MAX_HOLDERS) {
			(*omitted)++;
			continue;
		}
		shown++;
		if (e[i].longest != SIZE_MAX) {
			const struct cap_hold *h = &cd->holds[e[i].longest];
			struct diag_holdop d;

			diagnose_hold_op(cd, h, 1, &d);
			longest = json_pack("{s:s, s:o, s:o, s:b, s:s, s:o, s:b}", "mode",
					    capdata_hold_mode_name(h->mode), "hold_ms", jms(h->dur_ns),
					    "start_ms", jms(h->start_ns > x->win_start ? h->start_ns - x->win_start : 0),
					    "in_progress", (h->flags & CAP_BLOCK_IN_PROGRESS) != 0,
					    "operation", d.op, "stack", diag_stack_json(x, h->ustack, h->kstack),
					    "stack_complete", diag_stack_complete(cd, h->ustack));
		}
		o = diag_thread_ref(x, e[i].thread);
		if (o && longest) {
			json_object_set_new(o, "mm_pid", json_integer(e[i].mm_pid));
			json_object_set_new(o, "hold_ms", jms(e[i].hold_ns));
			json_object_set_new(o, "holds", jcount(e[i].holds));
			json_object_set_new(o, "read_ms", jms(e[i].read_ns));
			json_object_set_new(o, "write_ms", jms(e[i].write_ns));
			json_object_set_new(o, "in_progress", json_boolean(e[i].in_progress));
			json_object_set_new(o, "longest", longest);
		} else {
			json_decref(longest);
		}
		if (!o || !longest || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}

static int cmp_mem(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_mem *p = &cd->mem[*(const size_t *)a], *q = &cd->mem[*(const size_t *)b];

	if (p->pid != q->pid)
		return p->pid < q->pid ? -1 : 1;
	if (p->ts_ns != q->ts_ns)
		return p->ts_ns < q->ts_ns ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Per process: RSS and VSZ at the start and end, their extremes, and the
 * series (at most MAX_MEM_POINTS, evenly picked) as [ms into the window, rss, vsz]. */
json_t *diag_memory_json(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	size_t *idx, i, j, k;

	if (!a)
		return NULL;
	idx = malloc((cd->nmem ? cd->nmem : 1) * sizeof(*idx));
	if (!idx) {
		x->oom = true;
		return a;
	}
	for (i = 0; i < cd->nmem; i++)
		idx[i] = i;
	qsort_r(idx, cd->nmem, sizeof(*idx), cmp_mem, (void *)cd);
	for (i = 0; i < cd->nmem; i = j) {
		const struct cap_mem *first = &cd->mem[idx[i]], *last;
		uint64_t rmin = UINT64_MAX, rmax = 0, vmax = 0;
		json_t *series = json_array(), *o;
		size_t n, step;

		for (j = i; j < cd->nmem && cd->mem[idx[j]].pid == first->pid; j++) {
			const struct cap_mem *m = &cd->mem[idx[j]];

			rmin = m->rss_bytes < rmin ? m->rss_bytes : rmin;
			rmax = m->rss_bytes > rmax ? m->rss_bytes : rmax;
			vmax = m->vsz_bytes > vmax ? m->vsz_bytes : vmax;
		}
		last = &cd->mem[idx[j - 1]];
		n = j - i;
		step = (n + MAX_MEM_POINTS - 1) / MAX_MEM_POINTS;
		for (k = i; series && k < j; k += step) {
			const struct cap_mem *m = &cd->mem[idx[k]];
			json_t *p = json_pack("[o, o, o]",
					      jms(m->ts_ns > x->win_start ? m->ts_ns - x->win_start : 0),
					      jcount(m->rss_bytes), jcount(m->vsz_bytes));

			if (!p || json_array_append_new(series, p))
				x->oom = true;
		}
		o = json_pack("{s:i, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o?}", "pid", first->pid,
			      "samples", (json_int_t)n, "rss_start_bytes", jcount(first->rss_bytes),
			      "rss_end_bytes", jcount(last->rss_bytes), "rss_min_bytes", jcount(rmin),
			      "rss_max_bytes", jcount(rmax), "vsz_start_bytes", jcount(first->vsz_bytes),
			      "vsz_end_bytes", jcount(last->vsz_bytes), "vsz_max_bytes", jcount(vmax),
			      "series", series);
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	free(idx);
	return a;
}

json_t *diag_cpu_json(struct ctx *x, const struct cpuinfo *ci, size_t *omitted)
{
	const struct capdata *cd = x->cd;
	json_t *threads = json_array(), *o;
	size_t i;

	*omitted = ci->nthreads > MAX_CPU_THREADS ? ci->nthreads - MAX_CPU_THREADS : 0;
	for (i = 0; threads && i < ci->nthreads && i < MAX_CPU_THREADS; i++) {
		const struct tcpu *t = &ci->threads[i];
		size_t s = diag_mode_sample(cd, ci->tsamp + t->run_first, t->run_n);
		json_t *to = diag_thread_ref(x, t->thread);

		if (to) {
			json_object_set_new(to, "oncpu_ms", jms(t->oncpu_ns));
			json_object_set_new(to, "longest_run_ms", jms(t->run_ns));
			json_object_set_new(to, "during_runnable_ms", jms(t->taken_ns));
			json_object_set_new(to, "stack", s == SIZE_MAX ? json_array() :
					    diag_stack_json(x, cd->samples[s].ustack, cd->samples[s].kstack));
		}
		if (!to || json_array_append_new(threads, to))
			x->oom = true;
	}
	o = json_pack("{s:o, s:I, s:o?}", "sample_period_ms", jms(x->period_ns),
		      "samples", (json_int_t)x->nsamp, "threads", threads);
	return o;
}

static int cmp_io(const void *a, const void *b, void *arg)
{
	const struct ctx *x = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct cap_thread *p = &x->cd->threads[i], *q = &x->cd->threads[j];

	if (p->io_bytes != q->io_bytes)
		return p->io_bytes > q->io_bytes ? -1 : 1;
	if (x->tio_ns[i] != x->tio_ns[j])
		return x->tio_ns[i] > x->tio_ns[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Threads by block I/O issued, then by time waited on I/O. idx must hold
 * nthreads entries; returns how many threads have either. */
size_t diag_io_order(struct ctx *x, uint32_t *idx)
{
	size_t n = 0, i;

	for (i = 0; i < x->cd->nthreads; i++) {
		if (x->cd->threads[i].io_bytes || x->tio_ns[i])
			idx[n++] = (uint32_t)i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_io, x);
	return n;
}

json_t *diag_io_json(struct ctx *x, const uint32_t *idx, size_t n, size_t *omitted)
{
	json_t *a = json_array();
	size_t i;

	*omitted = n > MAX_IO_THREADS ? n - MAX_IO_THREADS : 0;
	for (i = 0; a && i < n && i < MAX_IO_THREADS; i++) {
		const struct cap_thread *t = &x->cd->threads[idx[i]];
		json_t *o = diag_thread_ref(x, idx[i]);

		if (o) {
			json_object_set_new(o, "io_bytes", jcount(t->io_bytes));
			json_object_set_new(o, "io_count", jcount(t->io_count));
			json_object_set_new(o, "io_wait_ms", jms(x->tio_ns[idx[i]]));
		}
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}
