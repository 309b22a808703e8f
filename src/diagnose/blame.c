/* blame.c: lock groups (waits on one mmap_lock, kernel lock or futex word) and who is to blame for them: wakers, mmap_lock holders. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

/* ---------------------------------------------------------------------------
 * A mutex's owner at the end, and deadlocks.
 */
/* The owner of the mutex block b still waits for at the end (the capture
 * read it from glibc's mutex: capdata.h), when its user stack waits in
 * glibc's mutex lock (leafmost libc lock entry, not an rwlock's: only the
 * mutex keeps its owner there); else UINT32_MAX. */
uint32_t diag_mutex_owner(struct ctx *x, const struct cap_block *b)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *s;
	uint32_t i;

	if (!b->has_owner || !(b->flags & CAP_BLOCK_IN_PROGRESS) || b->owner >= cd->nthreads ||
	    b->owner == b->thread || b->ustack >= cd->nstacks)
		return UINT32_MAX;
	s = &cd->stacks[b->ustack];
	for (i = s->nframes; i-- > 0;) {
		uint16_t f = diag_frame_feat(x, s->frames[i]);

		if (!(f & (UF_WORK | UF_LOCK)))
			continue;
		return (f & UF_LOCK) && !(f & UF_RWLOCK) && (f & F_RUNTIME) ? b->owner : UINT32_MAX;
	}
	return UINT32_MAX;
}

/* Thread t's mutex wait still going at the end, whose owner is known: its
 * block index, or SIZE_MAX. */
static size_t mutex_wait_of(struct ctx *x, uint32_t t)
{
	const struct capdata *cd = x->cd;
	size_t k;

	if (t >= cd->nthreads)
		return SIZE_MAX;
	for (k = diag_byth_at(x, t, 0); k < x->nbyth && cd->blocks[x->byth[k]].thread == t; k++) {
		if (diag_mutex_owner(x, &cd->blocks[x->byth[k]]) != UINT32_MAX)
			return x->byth[k];
	}
	return SIZE_MAX;
}

size_t diag_deadlock(struct ctx *x, size_t bi, size_t *chain, size_t max)
{
	size_t n = 0, k, cur = bi;

	while (cur != SIZE_MAX && n < max) {
		const struct cap_block *b = &x->cd->blocks[cur];

		for (k = 0; k < n; k++) {
			if (x->cd->blocks[chain[k]].thread == b->thread) {
				/* the cycle: from where it closed */
				memmove(chain, chain + k, (n - k) * sizeof(*chain));
				return n - k;
			}
		}
		chain[n++] = cur;
		cur = mutex_wait_of(x, diag_mutex_owner(x, b));
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Lock groups and blame.
 */
static bool is_lock_class(unsigned int c)
{
	return c == DIAG_CAUSE_MMAP_LOCK || c == DIAG_CAUSE_KERNEL_LOCK || c == DIAG_CAUSE_APP_LOCK;
}

static void lock_key(const struct ctx *x, size_t bi, uint8_t *cls, uint64_t *obj, int32_t *pid)
{
	*cls = x->cls[bi];
	/* A kernel lock's address is global; an mm and a futex word belong to a
	 * process; a convoy's wait site spans the target's processes (gpid 0). */
	*obj = x->gobj[bi];
	*pid = x->gpid[bi];
}

static int cmp_lidx(const void *a, const void *b, void *arg)
{
	const struct ctx *x = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_block *p = &x->cd->blocks[i], *q = &x->cd->blocks[j];
	uint8_t ci, cj;
	uint64_t oi, oj;
	int32_t pi, pj;

	lock_key(x, i, &ci, &oi, &pi);
	lock_key(x, j, &cj, &oj, &pj);
	if (ci != cj)
		return ci < cj ? -1 : 1;
	if (oi != oj)
		return oi < oj ? -1 : 1;
	if (pi != pj)
		return pi < pj ? -1 : 1;
	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	if (p->start_ns != q->start_ns)
		return p->start_ns < q->start_ns ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int cmp_group(const void *a, const void *b)
{
	const struct lgroup *g = a, *h = b;

	if (g->total_ns != h->total_ns)
		return g->total_ns > h->total_ns ? -1 : 1;
	if (g->cls != h->cls)
		return g->cls < h->cls ? -1 : 1;
	if (g->obj != h->obj)
		return g->obj < h->obj ? -1 : 1;
	return g->pid < h->pid ? -1 : g->pid > h->pid;
}

int diag_build_groups(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i, k, ng = 0;
	uint64_t run;

	x->nlidx = 0;
	for (i = 0; i < cd->nblocks; i++) {
		if (is_lock_class(x->cls[i]) && diag_thread_is_target(x, cd->blocks[i].thread))
			x->lidx[x->nlidx++] = i;
	}
	qsort_r(x->lidx, x->nlidx, sizeof(*x->lidx), cmp_lidx, x);
	for (k = 0; k < x->nlidx; k++) {
		uint8_t c, pc;
		uint64_t o, po;
		int32_t p, pp;

		lock_key(x, x->lidx[k], &c, &o, &p);
		if (k)
			lock_key(x, x->lidx[k - 1], &pc, &po, &pp);
		if (!k || c != pc || o != po || p != pp)
			ng++;
	}
	x->groups = calloc(ng ? ng : 1, sizeof(*x->groups));
	if (!x->groups)
		return -ENOMEM;
	for (k = 0, run = 0; k < x->nlidx; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]], *pb = k ? &cd->blocks[x->lidx[k - 1]] : NULL;
		struct lgroup *g;
		uint8_t c;
		uint64_t o;
		int32_t p;

		lock_key(x, x->lidx[k], &c, &o, &p);
		g = x->ngroups ? &x->groups[x->ngroups - 1] : NULL;
		if (!g || g->cls != c || g->obj != o || g->pid != p) {
			g = &x->groups[x->ngroups++];
			g->cls = c;
			g->obj = o;
			g->pid = p;
			g->first = k;
			pb = NULL;
		}
		g->n++;
		/* the window's part: a wait begun long before it does not
		 * outweigh the waits of a stall inside it */
		g->total_ns = sat_add(g->total_ns, diag_in_window(x, b));
		/* the longest wait: a timed wait re-armed at once (within
		 * DIAG_REARM_GAP_NS) is one wait, from its first slice */
		if (!pb || pb->thread != b->thread || block_end(pb) + DIAG_REARM_GAP_NS < b->start_ns)
			run = b->start_ns;
		if (block_end(b) - run > g->max_ns)
			g->max_ns = block_end(b) - run;
		g->lock_flags |= b->lock_flags;
		if (g->n == 1 || cd->blocks[x->lidx[k - 1]].thread != b->thread)
			g->waiters++;
	}
	for (i = 0; i < x->ngroups; i++) {
		struct lgroup *g = &x->groups[i];
		uint64_t by[DIAG_PRIM__COUNT] = { 0 };
		unsigned int p;

		for (k = g->first; k < g->first + g->n; k++)
			by[x->prim[x->lidx[k]] % DIAG_PRIM__COUNT] =
				sat_add(by[x->prim[x->lidx[k]] % DIAG_PRIM__COUNT], cd->blocks[x->lidx[k]].dur_ns);
		for (p = 1, g->prim = 0; p < DIAG_PRIM__COUNT; p++) {
			if (by[p] > by[g->prim])
				g->prim = (uint8_t)p;
		}
	}
	qsort(x->groups, x->ngroups, sizeof(*x->groups), cmp_group);
	return 0;
}

static void acc_add(struct ctx *x, uint32_t t, uint64_t ns, size_t best)
{
	if (!x->acc[t] && !x->acc2[t])
		x->touched[x->ntouched++] = t;
	x->acc[t] = sat_add(x->acc[t], ns);
	x->acc2[t]++;
	if (ns > x->accbest_ns[t] || x->acc2[t] == 1) {
		x->accbest_ns[t] = ns;
		x->accbest[t] = best;
	}
}

/* Moves the MAX_LOCK_HOLDERS threads with most blame into g, clears the scratch. */
static void take_holders(struct ctx *x, struct lgroup *g)
{
	size_t i, j;

	g->nholders = 0;
	for (i = 0; i < x->ntouched; i++) {
		uint32_t t = x->touched[i];
		struct lholder h = { .thread = t, .blame_ns = x->acc[t], .wakes = x->acc2[t],
				     .best = x->accbest[t], .best_ns = x->accbest_ns[t] };

		if (h.blame_ns) {
			/* insertion into a short sorted list: most blame first, then tid order */
			for (j = g->nholders; j > 0; j--) {
				const struct lholder *p = &g->holders[j - 1];

				if (p->blame_ns > h.blame_ns ||
				    (p->blame_ns == h.blame_ns && p->thread < h.thread))
					break;
				if (j < MAX_LOCK_HOLDERS)
					g->holders[j] = *p;
			}
			if (j < MAX_LOCK_HOLDERS) {
				g->holders[j] = h;
				if (g->nholders < MAX_LOCK_HOLDERS)
					g->nholders++;
			}
		}
		x->acc[t] = x->acc2[t] = 0;
		x->accbest[t] = 0;
		x->accbest_ns[t] = 0;
	}
	x->ntouched = 0;
}

/* First index in [lo, hi) of lidx whose block belongs to thread t (or hi). */
static size_t lower_thread(const struct ctx *x, size_t lo, size_t hi, uint32_t t)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->cd->blocks[x->lidx[mid]].thread < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Blame from wakers: the thread that woke a waiter held the lock, except for
 * the time it was itself waiting on the same lock (a chain of waiters hands
 * the lock on: each wakes the next, and only the first holder is to blame). */
static void blame_wakers(struct ctx *x, struct lgroup *g)
{
	const struct capdata *cd = x->cd;
	size_t end = g->first + g->n, k;

	for (k = g->first; k < end; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];
		uint64_t s = b->start_ns, e = block_end(b), covered = 0;
		size_t lo, hi, m;

		if (!diag_waker_real(x, b))
			continue;
		lo = lower_thread(x, g->first, end, b->waker);
		hi = lower_thread(x, lo, end, b->waker + 1);
		/* the waker's own waits on this lock are sorted by start and disjoint:
		 * find the last one starting before s, then walk while they start before e */
		m = lo;
		{
			size_t a = lo, z = hi;

			while (a < z) {
				size_t mid = a + (z - a) / 2;

				if (cd->blocks[x->lidx[mid]].start_ns <= s)
					a = mid + 1;
				else
					z = mid;
			}
			m = a > lo ? a - 1 : lo;
		}
		for (; m < hi && cd->blocks[x->lidx[m]].start_ns < e; m++) {
			const struct cap_block *w = &cd->blocks[x->lidx[m]];

			covered += overlap(s, e, w->start_ns, block_end(w));
		}
		if (e - s > covered)
			acc_add(x, b->waker, e - s - covered, x->lidx[k]);
	}
	take_holders(x, g);
}

static int cmp_start(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	return diag_cmp(cd->blocks[i].start_ns, cd->blocks[j].start_ns) ?: diag_cmp(i, j);
}

/* Blame from mmap_lock holds: a holder is to blame for the waits its holds
 * overlap, summed (many short holds block as surely as one long one). */
static int blame_holds(struct ctx *x, struct lgroup *g)
{
	const struct capdata *cd = x->cd;
	size_t *by_start, i, k;

	if (!cd->nholds)
		return 0;
	by_start = malloc(g->n * sizeof(*by_start));
	if (!by_start)
		return -ENOMEM;
	memcpy(by_start, x->lidx + g->first, g->n * sizeof(*by_start));
	qsort_r(by_start, g->n, sizeof(*by_start), cmp_start, (void *)cd);
	for (i = 0; i < cd->nholds; i++) {
		const struct cap_hold *h = &cd->holds[i];
		uint64_t hs = h->start_ns, he = sat_add(h->start_ns, h->dur_ns), ov = 0;
		uint64_t from = hs > g->max_ns ? hs - g->max_ns : 0;
		size_t a = 0, z = g->n;

		if (h->mm_pid != g->pid || h->thread >= cd->nthreads)
			continue;
		while (a < z) {
			size_t mid = a + (z - a) / 2;

			if (cd->blocks[by_start[mid]].start_ns < from)
				a = mid + 1;
			else
				z = mid;
		}
		for (k = a; k < g->n && cd->blocks[by_start[k]].start_ns < he; k++) {
			const struct cap_block *b = &cd->blocks[by_start[k]];

			/* a thread does not wait for its own hold */
			if (b->thread != h->thread)
				ov = sat_add(ov, overlap(hs, he, b->start_ns, block_end(b)));
		}
		if (ov)
			acc_add(x, h->thread, ov, i);
	}
	free(by_start);
	g->from_holds = x->ntouched > 0;
	take_holders(x, g);
	/* the holders' own figures: how long they held it, how often in that syscall */
	for (k = 0; k < g->nholders; k++) {
		struct lholder *lh = &g->holders[k];
		const struct cap_hold *best = &cd->holds[lh->best];

		for (i = 0; i < cd->nholds; i++) {
			const struct cap_hold *h = &cd->holds[i];

			if (h->thread != lh->thread || h->mm_pid != g->pid)
				continue;
			lh->hold_ns = sat_add(lh->hold_ns, h->dur_ns);
			if (h->in_syscall == best->in_syscall && h->syscall == best->syscall)
				lh->ops++;
		}
	}
	return 0;
}

int diag_blame_groups(struct ctx *x)
{
	size_t i;
	int err;

	for (i = 0; i < x->ngroups; i++) {
		struct lgroup *g = &x->groups[i];

		if (g->cls == DIAG_CAUSE_MMAP_LOCK) {
			if ((err = blame_holds(x, g)))
				return err;
			if (g->from_holds)
				continue;
		}
		blame_wakers(x, g);
	}
	return 0;
}

static int cmp_hentry_key(const void *a, const void *b)
{
	const struct hentry *p = a, *q = b;

	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	return p->mm_pid < q->mm_pid ? -1 : p->mm_pid > q->mm_pid;
}

static int cmp_hentry_hold(const void *a, const void *b)
{
	const struct hentry *p = a, *q = b;

	if (p->hold_ns != q->hold_ns)
		return p->hold_ns > q->hold_ns ? -1 : 1;
	return cmp_hentry_key(a, b);
}

/* Totals come from hold_total records (short holds included); threads that
 * have only hold records (a capture cut short) get the sum of those. */
int diag_holders_collect(struct ctx *x, struct hentry **out, size_t *nout)
{
	const struct capdata *cd = x->cd;
	struct hentry *e = calloc(cd->nhold_totals + cd->nholds + 1, sizeof(*e));
	size_t n = 0, i, m;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < cd->nhold_totals; i++) {
		const struct cap_hold_total *t = &cd->hold_totals[i];

		e[n++] = (struct hentry){ .thread = t->thread, .mm_pid = t->mm_pid, .hold_ns = t->hold_ns,
					  .holds = t->holds, .read_ns = t->read_ns,
					  .write_ns = t->write_ns, .longest = SIZE_MAX };
	}
	qsort(e, n, sizeof(*e), cmp_hentry_key);
	/* merge duplicates of one (thread, mm) */
	for (i = 0, m = 0; i < n; i++) {
		if (m && !cmp_hentry_key(&e[m - 1], &e[i])) {
			e[m - 1].hold_ns = sat_add(e[m - 1].hold_ns, e[i].hold_ns);
			e[m - 1].holds = sat_add(e[m - 1].holds, e[i].holds);
			e[m - 1].read_ns = sat_add(e[m - 1].read_ns, e[i].read_ns);
			e[m - 1].write_ns = sat_add(e[m - 1].write_ns, e[i].write_ns);
		} else {
			e[m++] = e[i];
		}
	}
	n = m;
	for (i = 0; i < cd->nholds; i++) {
		const struct cap_hold *h = &cd->holds[i];
		struct hentry key = { .thread = h->thread, .mm_pid = h->mm_pid }, *f;

		f = bsearch(&key, e, m, sizeof(*e), cmp_hentry_key);
		if (!f) {
			/* a hold without a total: appended, merged below */
			f = &e[n++];
			*f = key;
			f->longest = SIZE_MAX;
		}
		if (f->longest == SIZE_MAX || h->dur_ns > cd->holds[f->longest].dur_ns)
			f->longest = i;
		if (h->flags & CAP_BLOCK_IN_PROGRESS)
			f->in_progress = true;
	}
	/* entries made from holds alone: fold them per (thread, mm) */
	qsort(e + m, n - m, sizeof(*e), cmp_hentry_key);
	{
		size_t w = m;

		for (i = m; i < n; i++) {
			if (w > m && !cmp_hentry_key(&e[w - 1], &e[i])) {
				if (cd->holds[e[i].longest].dur_ns > cd->holds[e[w - 1].longest].dur_ns)
					e[w - 1].longest = e[i].longest;
				e[w - 1].in_progress |= e[i].in_progress;
			} else {
				e[w++] = e[i];
			}
		}
		for (i = m; i < w; i++)
			e[i].holds = 0;
		for (i = 0; i < cd->nholds; i++) {
			const struct cap_hold *h = &cd->holds[i];
			struct hentry key = { .thread = h->thread, .mm_pid = h->mm_pid }, *f;

			f = bsearch(&key, e + m, w - m, sizeof(*e), cmp_hentry_key);
			if (!f)
				continue;
			f->hold_ns = sat_add(f->hold_ns, h->dur_ns);
			f->holds++;
			if (h->mode == CAP_HOLD_READ)
				f->read_ns = sat_add(f->read_ns, h->dur_ns);
			else
				f->write_ns = sat_add(f->write_ns, h->dur_ns);
		}
		n = w;
	}
	qsort(e, n, sizeof(*e), cmp_hentry_hold);
	*out = e;
	*nout = n;
	return 0;
}
