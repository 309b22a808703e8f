/* verdict.c: the verdict: judging the causes against the thresholds (and the baseline), the summary words and culprit of each kind, diagnose_build and diagnose_summary_line. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

static const char *const kind_names[DIAG__COUNT] = {
	[DIAG_MMAP_LOCK] = "mmap_lock", [DIAG_KERNEL_LOCK] = "kernel_lock",
	[DIAG_APP_LOCK] = "app_lock", [DIAG_MEMORY_RECLAIM] = "memory_reclaim", [DIAG_IO] = "io",
	[DIAG_RUNQUEUE] = "runqueue", [DIAG_LOOP_BLOCKED] = "loop_blocked", [DIAG_DEPENDENCY] = "dependency",
	[DIAG_STOPPED] = "stopped", [DIAG_CPU_BUSY] = "cpu_busy",
	[DIAG_NONE] = "none",
};

static const char *const prim_names[DIAG_PRIM__COUNT] = {
	[DIAG_PRIM_MUTEX] = "mutex", [DIAG_PRIM_RWLOCK] = "rwlock", [DIAG_PRIM_CONDVAR] = "condvar",
	[DIAG_PRIM_SEMAPHORE] = "semaphore", [DIAG_PRIM_LATCH] = "latch", [DIAG_PRIM_OTHER] = "other",
	[DIAG_PRIM_FILE] = "file_lock",
};

const char *diagnose_primitive_name(unsigned int prim)
{
	return prim < DIAG_PRIM__COUNT ? prim_names[prim] : "unknown";
}

const char *diagnose_kind_name(unsigned int kind)
{
	return kind < DIAG__COUNT ? kind_names[kind] : "unknown";
}

/* ---------------------------------------------------------------------------
 * The verdict.
 */
struct verdict {
	enum diag_kind kind;
	struct sbuf sum;
	uint64_t waiters, total_ns, max_ns;
	json_t *culprit;
	int prim;                       /* app_lock: enum diag_primitive; else -1 */
	size_t busy;                    /* cpu_busy from a busy run: index in ci->threads, or SIZE_MAX */
	const struct loopstall *ls;     /* cpu_busy or loop_blocked of an event loop, or NULL */
	size_t idle_busy;               /* a busy run nothing waited on (ci->threads), or SIZE_MAX */
	int queue;                      /* io: the lock cause queued behind the I/O, or -1 */
	unsigned int queue_pct;         /* ... the share of its waits the I/O covered */
	json_t *throttle;               /* runqueue: the CPU quota's throttling, or NULL */
};

static void put_waited(struct sbuf *sb, uint64_t waiters, uint64_t total, uint64_t max,
		       const char *verb)
{
	char t[32], m[32];

	units_fmt_dur(t, sizeof(t), total);
	units_fmt_dur(m, sizeof(m), max);
	diag_sb_printf(sb, "%" PRIu64 " thread%s %s %s in total (max %s)", waiters, waiters == 1 ? "" : "s",
		  verb, t, m);
}

static const struct lgroup *top_group(const struct ctx *x, unsigned int cls)
{
	size_t i;

	for (i = 0; i < x->ngroups; i++) {
		if (x->groups[i].cls == cls)
			return &x->groups[i];
	}
	return NULL;
}

static const struct hentry *find_hentry(const struct hentry *e, size_t n, uint32_t t, int32_t mm_pid)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].thread == t && e[i].mm_pid == mm_pid)
			return &e[i];
	}
	return NULL;
}

static void verdict_mmap(struct ctx *x, const struct lgroup *g, const struct hentry *he, size_t nhe,
			 struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_hold *hold = NULL;
	const struct hentry *e = NULL;
	uint32_t holder = 0, ops = 1;
	char held[32];
	struct diag_holdop d;
	struct holdact act;
	size_t i;

	put_waited(&v->sum, g->waiters, g->total_ns, g->max_ns, "waited");
	diag_sb_put(&v->sum, " for ", 8);
	diag_put_lock_name(x, g, &v->sum);
	if (g->nholders && g->from_holds) {
		holder = g->holders[0].thread;
		hold = &cd->holds[g->holders[0].best];
		ops = g->holders[0].ops;
	} else if (!g->nholders) {
		/* no hold overlapped and no waker: the biggest holder of that mm */
		for (i = 0; i < nhe; i++) {
			if (he[i].mm_pid == g->pid && he[i].longest != SIZE_MAX) {
				holder = he[i].thread;
				hold = &cd->holds[he[i].longest];
				break;
			}
		}
	}
	if (hold) {
		uint64_t held_ns = g->nholders ? g->holders[0].hold_ns : hold->dur_ns;
		unsigned int mode = hold->mode;

		e = find_hentry(he, nhe, holder, g->pid);
		if (e) {
			held_ns = e->hold_ns;
			if (mode != CAP_HOLD_DOWNGRADED)
				mode = e->write_ns > e->read_ns ? CAP_HOLD_WRITE : CAP_HOLD_READ;
		}
		diagnose_hold_op(cd, hold, ops, &d);
		units_fmt_dur(held, sizeof(held), held_ns);
		diag_sb_put(&v->sum, "; ", 4);
		diag_put_who(x, &v->sum, holder);
		diag_sb_printf(&v->sum, " held it for %s for %s inside %s", diag_mode_words(mode), held, d.call);
		{
			struct sbuf callers = { .len = 0 };

			if (diag_put_callers(x, &callers, hold->ustack))
				diag_sb_printf(&v->sum, " called from %s", callers.s);
		}
		if (hold->flags & CAP_BLOCK_IN_PROGRESS)
			diag_sb_put(&v->sum, " (still held at the end)", 32);
		diag_holder_activity(x, holder, hold->start_ns, sat_add(hold->start_ns, hold->dur_ns), &act);
		diag_put_activity(x, &v->sum, &act);
		diag_put_rss_change(cd, &v->sum, g->pid, hold->start_ns, sat_add(hold->start_ns, hold->dur_ns));
		v->culprit = diag_culprit_hold_json(x, holder, &act, hold->ustack, hold->kstack, d.op);
	} else if (g->nholders) {
		const struct cap_block *b = &cd->blocks[g->holders[0].best];
		const char *site = diag_kernel_site(x, b->waker_kstack);
		struct sbuf op = { .len = 0 }, callers = { .len = 0 };

		units_fmt_dur(held, sizeof(held), g->holders[0].best_ns);
		diag_sb_printf(&op, "held mmap_lock for %s", held);
		diag_sb_put(&v->sum, "; ", 4);
		diag_put_who(x, &v->sum, b->waker);
		diag_sb_printf(&v->sum, " held it for %s", held);
		if (site)
			diag_sb_printf(&v->sum, ", released in %s", site);
		if (diag_put_callers(x, &callers, b->waker_ustack))
			diag_sb_printf(&v->sum, " called from %s", callers.s);
		diag_holder_activity(x, b->waker, b->start_ns, block_woken_at(b), &act);
		diag_put_activity(x, &v->sum, &act);
		v->culprit = diag_culprit_hold_json(x, b->waker, &act, b->waker_ustack, b->waker_kstack, op.s);
	} else {
		diag_sb_put(&v->sum, "; its holder was not seen (no mmap_lock hold or waker recorded)", 80);
	}
}

/* When the holder's hold began, as far as its waiters tell: the earliest
 * start of the waits it ended at this release (rel), each taken back to the
 * first chunk of a timed wait re-armed at once. Earlier waits of the same
 * threads at that site (short contention before the freeze) are not this
 * hold's. */
static uint64_t hold_start(struct ctx *x, const struct lgroup *g, uint32_t holder, uint64_t rel, uint64_t dflt)
{
	const struct capdata *cd = x->cd;
	uint64_t s = dflt;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];
		uint64_t at = block_woken_at(b), first;

		if (!b->has_waker || b->waker != holder || (at > rel ? at - rel : rel - at) > DIAG_RELEASE_GAP_NS)
			continue;
		first = cd->blocks[x->byth[diag_rearmed_first(x, diag_byth_pos(x, x->lidx[k]), holder)]].start_ns;
		if (first < s)
			s = first;
	}
	return s;
}

/* The wait in which thread t spent most of [s, e), if it was a lock wait
 * (app_lock, kernel_lock) that another thread of the target ended, or a
 * wait that looked idle (a latch, a condition variable) that another thread
 * of the target ended from process context after 100 ms or more: that
 * thread held t up. A PostgreSQL backend that holds a row's tuple lock
 * while it waits for the transaction that updated the row (its one wait in
 * XactLockTableWait, no other waiter there to make it a convoy) is held up
 * by that transaction's backend, which ends the wait when it commits.
 * A timed wait re-armed at once at the same site is one
 * wait (a deadlock detector's 1 s chunks: MariaDB's metadata locks time
 * out every second, unwoken, and only the last chunk is ended by the
 * holder), so its chunks' overlaps add up. The ending block's index and
 * *from, where its first chunk began; SIZE_MAX when none held t up. */
static size_t held_up_by(struct ctx *x, uint32_t t, uint64_t s, uint64_t e, uint64_t *from)
{
	const struct capdata *cd = x->cd;
	size_t k, j, best = SIZE_MAX;
	uint64_t best_ov = 0;

	if (e <= s)
		return SIZE_MAX;
	for (k = diag_byth_at(x, t, 0); k < x->nbyth && cd->blocks[x->byth[k]].thread == t &&
					 cd->blocks[x->byth[k]].start_ns < e; k++) {
		const struct cap_block *b = &cd->blocks[x->byth[k]];
		uint8_t c = x->cls[x->byth[k]];
		uint64_t ov = 0;
		size_t first;

		/* a kernel lock's waker released it, from wherever: a
		 * filesystem frozen from outside holds up a thread of the
		 * target that holds an application lock */
		if ((c == DIAG_CAUSE_APP_LOCK || c == DIAG_CAUSE_KERNEL_LOCK) ?
			    !diag_waker_real(x, b) ||
				    (c == DIAG_CAUSE_APP_LOCK && !diag_thread_is_target(x, b->waker)) :
			    c != DIAG_CAUSE_IDLE || !diag_ended_by_target(x, b))
			continue;
		/* with the chunks that timed out (or that the same thread
		 * ended) at the same site, each re-armed at once */
		first = diag_rearmed_first(x, k, b->waker);
		for (j = first; j <= k; j++)
			ov += overlap(s, e, cd->blocks[x->byth[j]].start_ns, block_end(&cd->blocks[x->byth[j]]));
		if (ov > best_ov) {
			best_ov = ov;
			best = x->byth[k];
			*from = cd->blocks[x->byth[first]].start_ns;
		}
	}
	return best_ov * 2 >= e - s ? best : SIZE_MAX;
}

static void put_holder(struct ctx *x, struct sbuf *sb, uint32_t t, int32_t waiter_pid)
{
	const struct cap_thread *th = &x->cd->threads[t];

	diag_put_who(x, sb, t);
	if (th->pid != waiter_pid && !th->outside)
		diag_sb_printf(sb, " of pid %" PRId32, th->pid);
}

/* Whether the mutex's owner at the end held it longer, by the waits still
 * going then, than the holder its releases blame most let others wait:
 * a lock held to the end after a few short holds before. */
static bool owner_outweighs(struct ctx *x, const struct lgroup *g)
{
	const struct capdata *cd = x->cd;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];

		if (diag_mutex_owner(x, b) != UINT32_MAX && x->win_end > b->start_ns &&
		    x->win_end - b->start_ns > g->holders[0].blame_ns)
			return true;
	}
	return false;
}

/* A lock nobody let go before the end: its holder, when the mutex said who
 * (its owner, read from it at the end: diag_mutex_owner()), and a deadlock
 * when that owner waits, through a chain of mutexes, for one a waiter
 * holds. False when no wait of g knows its mutex's owner. released: some
 * waits of g were let go before (by holders the summary does not name). */
static bool put_owner(struct ctx *x, const struct lgroup *g, struct verdict *v, bool released)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *w = NULL, *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	size_t k, wi = SIZE_MAX, chain[DIAG_DEADLOCK_MAX], n, i;
	uint64_t s = UINT64_MAX, s_all = UINT64_MAX;
	struct holdact act;
	char held[32];

	/* held since the earliest wait still going at the end (else the
	 * earliest wait: the others ended without its release) */
	for (k = g->first; k < g->first + g->n; k++) {
		b = &cd->blocks[x->lidx[k]];
		s_all = b->start_ns < s_all ? b->start_ns : s_all;
		if ((b->flags & CAP_BLOCK_IN_PROGRESS) && b->start_ns < s)
			s = b->start_ns;
		if (diag_mutex_owner(x, b) != UINT32_MAX && (!w || b->dur_ns > w->dur_ns)) {
			w = b;
			wi = x->lidx[k];
		}
	}
	if (!w)
		return false;
	n = diag_deadlock(x, wi, chain, DIAG_DEADLOCK_MAX);
	if (n) {
		/* from the holder of this lock around, when it is in the cycle */
		for (i = 0; i < n && cd->blocks[chain[i]].thread != w->owner; i++)
			;
		i = i < n ? i : 0;
		diag_sb_put(&v->sum, "; a deadlock: ", 16);
		for (k = 0; k < n; k++) {
			b = &cd->blocks[chain[(i + k) % n]];
			diag_put_who(x, &v->sum, b->thread);
			diag_sb_put(&v->sum, k ? ", which waits" : " waits", 16);
			callers.len = 0;
			callers.s[0] = '\0';
			if (diag_put_callers(x, &callers, b->ustack))
				diag_sb_printf(&v->sum, " in %s", callers.s);
			diag_sb_put(&v->sum, k ? " for one held by " : " for a mutex held by ", 32);
		}
		b = &cd->blocks[chain[i]];
		diag_put_who(x, &v->sum, b->thread);
		diag_sb_put(&v->sum, n == 2 ? ": neither can go on" : ": none of them can go on", 32);
		diag_sb_printf(&op, "waits for a mutex held by tid %" PRId32 " in a deadlock%s",
			       cd->threads[b->owner].tid, b->thread == w->owner ? ", holding the one waited for" : "");
		v->culprit = diag_culprit_json(x, b->thread, b->ustack, b->kstack, op.s);
		return true;
	}
	if (s == UINT64_MAX)
		s = s_all;
	units_fmt_dur(held, sizeof(held), x->win_end > s ? x->win_end - s : 0);
	diag_sb_put(&v->sum, released ? "; the last of them still waited at the end: "
				      : "; no thread released it before the end: ", 48);
	diag_put_who(x, &v->sum, w->owner);
	diag_sb_printf(&v->sum, " held it (the mutex's owner at the end), at least %s", held);
	diag_holder_activity(x, w->owner, s, x->win_end, &act);
	diag_put_activity(x, &v->sum, &act);
	diag_sb_printf(&op, "held a mutex to the window's end, at least %s", held);
	v->culprit = diag_culprit_hold_json(x, w->owner, &act, ST_NO_STACK, ST_NO_STACK, op.s);
	return true;
}

/* The holder's own wait in g that ended unwoken (a timeout) as it let the
 * others go, and that covers most of its hold [hs, rel): it held nothing,
 * but waited there too, gave up first and let everyone go (MariaDB's
 * semi-synchronous commits: the first commit's wait for a replica's
 * acknowledgement times out, and it switches the wait off for all). NULL
 * when none. */
static const struct cap_block *gave_up(struct ctx *x, const struct lgroup *g, uint32_t holder, uint64_t hs,
				       uint64_t rel)
{
	const struct capdata *cd = x->cd;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];
		uint64_t end = block_end(b);

		if (b->thread != holder || diag_woken_by_task(x, b) ||
		    end > rel || rel - end > DIAG_RELEASE_GAP_NS)
			continue;
		if (rel > hs && overlap(hs, rel, b->start_ns, end) * 2 >= rel - hs)
			return b;
	}
	return NULL;
}

/* app_lock and kernel_lock: the holder is the thread that woke the waiters;
 * when that thread was itself held up, most of the while, by another lock
 * that a third one released, the chain is followed to the thread at its
 * root (a row's lock handed on after the transaction holding it ended). */
static void verdict_woken(struct ctx *x, const struct lgroup *g, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	const struct cap_block *up, *kup = NULL; /* kup: the chain's last link, when a kernel lock's */
	struct holdact act;
	const char *site;
	uint32_t holder, rel_us, rel_ks;
	uint64_t rel, hs;
	int depth;
	char held[32];

	put_waited(&v->sum, g->waiters, g->total_ns, g->max_ns, "waited");
	diag_sb_put(&v->sum, " for ", 8);
	diag_put_lock_name(x, g, &v->sum);
	if (!g->nholders || owner_outweighs(x, g)) {
		if (!put_owner(x, g, v, g->nholders > 0))
			diag_sb_put(&v->sum, "; no thread released it before the end: its holder is unknown", 80);
		return;
	}
	b = &cd->blocks[g->holders[0].best];
	holder = b->waker;
	rel = block_woken_at(b);
	hs = hold_start(x, g, holder, rel, b->start_ns);
	if (rel > hs && rel - hs > g->holders[0].best_ns)
		units_fmt_dur(held, sizeof(held), rel - hs);
	else
		units_fmt_dur(held, sizeof(held), g->holders[0].best_ns);
	rel_us = b->waker_ustack;
	rel_ks = b->waker_kstack;
	site = g->cls == DIAG_CAUSE_KERNEL_LOCK ? diag_kernel_site(x, b->waker_kstack) : NULL;
	diag_sb_put(&v->sum, "; ", 4);
	put_holder(x, &v->sum, holder, cd->threads[b->thread].pid);
	if (g->cls == DIAG_CAUSE_APP_LOCK && (up = gave_up(x, g, holder, hs, rel))) {
		units_fmt_dur(held, sizeof(held), block_end(up) - up->start_ns);
		diag_sb_printf(&v->sum, " waited there too, and let them go when its own wait timed out after %s",
			       held);
		if (diag_put_callers(x, &callers, rel_us))
			diag_sb_printf(&v->sum, ", in %s", callers.s);
		diag_sb_printf(&op, "waited there too, and let the others go when its own wait timed out after %s",
			       held);
		v->culprit = diag_culprit_json(x, holder, rel_us, rel_ks, op.s);
		return;
	}
	for (depth = 0; depth < 4; depth++) {
		uint64_t from = 0;
		size_t ui = held_up_by(x, holder, hs, rel, &from);
		char w[32];

		if (ui == SIZE_MAX)
			break;
		up = &cd->blocks[ui];
		units_fmt_dur(w, sizeof(w), block_end(up) - from);
		diag_sb_printf(&v->sum, "%s released it, itself held up %s", depth ? ", which" : "", w);
		site = NULL;
		kup = NULL;
		if (x->cls[ui] == DIAG_CAUSE_KERNEL_LOCK) {
			kup = up;
			diag_sb_put(&v->sum, " on ", 8);
			diag_put_kernel_wait(x, up, &v->sum);
			diag_sb_put(&v->sum, ",", 4);
			site = diag_kernel_site(x, up->waker_kstack);
		}
		diag_sb_put(&v->sum, " by ", 8);
		put_holder(x, &v->sum, up->waker, cd->threads[holder].pid);
		holder = up->waker;
		hs = from;
		rel = block_woken_at(up);
		rel_us = up->waker_ustack;
		rel_ks = up->waker_kstack;
		units_fmt_dur(held, sizeof(held), rel > hs ? rel - hs : 0);
	}
	if (kup)
		diag_sb_printf(&op, "held the kernel %s for %s%s%s", diag_lock_type(kup->lock_flags), held,
			  site ? " in " : "", site ? site : "");
	else if (g->cls == DIAG_CAUSE_APP_LOCK)
		diag_sb_printf(&op, "held %s for %s",
			       g->pid && !depth ? diag_futex_noun(x, g)
			       : g->prim == DIAG_PRIM_FILE && !depth ? "a file lock" : "an application lock", held);
	else
		diag_sb_printf(&op, "held the kernel %s for %s%s%s", diag_lock_type(g->lock_flags), held,
			  site ? " in " : "", site ? site : "");
	diag_sb_printf(&v->sum, "%s held it for %s", depth ? ", which" : "", held);
	if (site)
		diag_sb_printf(&v->sum, " and released it in %s", site);
	if (diag_put_callers(x, &callers, rel_us))
		diag_sb_printf(&v->sum, "%s %s", site ? " called from" : ", released in", callers.s);
	diag_holder_activity(x, holder, hs, rel, &act);
	diag_put_activity(x, &v->sum, &act);
	v->culprit = diag_culprit_hold_json(x, holder, &act, rel_us, rel_ks, op.s);
}

/* The longest block of thread t in cause c, or NULL. */
static const struct cap_block *longest_block(const struct ctx *x, uint32_t t, int c)
{
	const struct cap_block *best = NULL;
	size_t i;

	for (i = 0; i < x->cd->nblocks; i++) {
		const struct cap_block *b = &x->cd->blocks[i];

		if (b->thread == t && (c < 0 || x->cls[i] == c) && (!best || b->dur_ns > best->dur_ns))
			best = b;
	}
	return best;
}

static void verdict_io(struct ctx *x, const uint32_t *order, size_t norder, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	struct { int32_t nr; uint64_t ns; } sys[16];
	size_t nsys = 0, i, j;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	char sz[32];
	uint32_t t;
	const char *name = NULL;

	put_waited(&v->sum, v->waiters, v->total_ns, v->max_ns, "waited");
	diag_sb_put(&v->sum, " on block I/O", 16);
	if (v->queue >= 0) {
		units_fmt_dur(sz, sizeof(sz), x->tot[DIAG_CAUSE_IO].total_ns);
		diag_sb_printf(&v->sum, ": %s in it", sz);
	}
	/* which syscall most of the waiting happened in */
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *bl = &cd->blocks[i];

		if (x->cls[i] != DIAG_CAUSE_IO || !bl->in_syscall)
			continue;
		for (j = 0; j < nsys && sys[j].nr != bl->syscall; j++)
			;
		if (j == nsys) {
			if (nsys == sizeof(sys) / sizeof(sys[0]))
				continue;
			sys[nsys++] = (typeof(sys[0])){ bl->syscall, 0 };
		}
		sys[j].ns = sat_add(sys[j].ns, bl->dur_ns);
	}
	for (i = 0, j = SIZE_MAX; i < nsys; i++) {
		if (j == SIZE_MAX || sys[i].ns > sys[j].ns)
			j = i;
	}
	if (j != SIZE_MAX && (name = syscall_name(sys[j].nr)))
		diag_sb_printf(&v->sum, ", mostly in %s", name);
	if (v->queue >= 0) {
		const struct lgroup *g = top_group(x, (unsigned int)v->queue);

		units_fmt_dur(sz, sizeof(sz), x->tot[v->queue].total_ns);
		diag_sb_printf(&v->sum, ", and %s queued for ", sz);
		if (g)
			diag_put_lock_name(x, g, &v->sum);
		else
			diag_sb_put(&v->sum, "a lock", 8);
		diag_sb_printf(&v->sum, ", which they held in turn for their I/O (I/O during %u %% of that queueing)",
			       v->queue_pct);
	}
	if (!norder) {
		diag_sb_put(&v->sum, "; no thread's I/O was seen", 40);
		return;
	}
	t = order[0];
	b = longest_block(x, t, DIAG_CAUSE_IO);
	if (!b)
		b = longest_block(x, t, -1);
	diag_sb_put(&v->sum, "; ", 4);
	diag_put_who(x, &v->sum, t);
	if (cd->threads[t].io_bytes) {
		units_fmt_bytes(sz, sizeof(sz), cd->threads[t].io_bytes);
		diag_sb_printf(&v->sum, " issued the most I/O: %s in %" PRIu64 " request%s", sz,
			  cd->threads[t].io_count, cd->threads[t].io_count == 1 ? "" : "s");
		diag_sb_printf(&op, "issued %s of block I/O in %" PRIu64 " request%s", sz,
			  cd->threads[t].io_count, cd->threads[t].io_count == 1 ? "" : "s");
	} else {
		units_fmt_dur(sz, sizeof(sz), x->tio_ns[t]);
		diag_sb_printf(&v->sum, " waited the most: %s", sz);
		diag_sb_printf(&op, "waited %s on I/O", sz);
	}
	if (b && diag_put_callers(x, &callers, b->ustack))
		diag_sb_printf(&v->sum, ", from %s", callers.s);
	v->culprit = diag_culprit_json(x, t, b ? b->ustack : ST_NO_STACK, b ? b->kstack : ST_NO_STACK, op.s);
}

/* The throttling of the target's cgroups by their CPU quota during the
 * window (throttle records that overlap it): lead, then "throttled by its
 * CPU quota: cgroup C (Q per P) was throttled T in N periods" into sb, and
 * v->throttle. Returns whether there was any. */
static bool put_throttle(struct ctx *x, struct sbuf *sb, struct verdict *v, const char *lead)
{
	const struct capdata *cd = x->cd;
	const struct cap_throttle *last = NULL;
	uint64_t ns = 0, periods = 0;
	char t[32], q[32], p[32];
	size_t i, ncg = 0;

	for (i = 0; i < cd->nthrottles; i++) {
		const struct cap_throttle *r = &cd->throttles[i];

		if (r->ts_ns < x->win_start || r->from_ns > x->win_end)
			continue;
		if (!last || strcmp(last->cgroup, r->cgroup))
			ncg++;
		if (!last || r->quota_us >= 0 || last->quota_us < 0)
			last = r;
		ns = sat_add(ns, r->throttled_ns);
		periods += r->periods;
	}
	if (!last)
		return false;
	units_fmt_dur(t, sizeof(t), ns);
	diag_sb_printf(sb, "%sthrottled by its CPU quota: cgroup %s", lead, last->cgroup);
	if (last->quota_us >= 0 && last->period_us) {
		units_fmt_dur(q, sizeof(q), (uint64_t)last->quota_us * 1000u);
		units_fmt_dur(p, sizeof(p), last->period_us * 1000u);
		diag_sb_printf(sb, " (%s of CPU per %s)", q, p);
	}
	diag_sb_printf(sb, "%s was throttled for %s in %" PRIu64 " period%s", ncg > 1 ? " and others" : "", t,
		       periods, periods == 1 ? "" : "s");
	v->throttle = json_pack("{s:s, s:o, s:I, s:I, s:I}", "cgroup", last->cgroup, "throttled_ms", jms(ns),
				"periods", (json_int_t)periods, "quota_us", (json_int_t)last->quota_us,
				"period_us", (json_int_t)last->period_us);
	return true;
}

/* The thread outside the target that held the CPU the target's threads
 * waited for: the one the sampler saw last on that CPU during the most of
 * their runnable time (preempted blocks, and waits' tails after a wakeup);
 * its share of that time in *ns. SIZE_MAX: none seen. */
static size_t outside_cpu_taker(struct ctx *x, uint64_t *ns)
{
	const struct capdata *cd = x->cd;
	uint64_t *acc = x->acc, best = 0;
	size_t i, pick = SIZE_MAX;

	*ns = 0;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		uint64_t s, e;

		if (!b->has_taker || b->taker >= cd->nthreads || !cd->threads[b->taker].outside ||
		    !diag_thread_is_target(x, b->thread) || !diag_runnable_part(b, x->cls[i], &s, &e))
			continue;
		if (!acc[b->taker])
			x->touched[x->ntouched++] = b->taker;
		acc[b->taker] = sat_add(acc[b->taker], e - s);
		if (acc[b->taker] > best) {
			best = acc[b->taker];
			pick = b->taker;
		}
	}
	for (i = 0; i < x->ntouched; i++)
		acc[x->touched[i]] = 0;
	x->ntouched = 0;
	*ns = best;
	return pick;
}

static void verdict_runq(struct ctx *x, const struct cpuinfo *ci, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct tcpu *t;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	size_t *idx, n = 0, i, s;
	char took[32];
	bool thr, ready;

	put_waited(&v->sum, x->tot[DIAG_CAUSE_RUNQUEUE].threads, x->tot[DIAG_CAUSE_RUNQUEUE].total_ns,
		   x->tot[DIAG_CAUSE_RUNQUEUE].max_ns, "waited runnable");
	/* the waits' tails after a wakeup, and the rest, each said when it
	 * is a tenth or more */
	ready = x->ready_ns && (double)x->ready_ns * 10.0 >= (double)x->tot[DIAG_CAUSE_RUNQUEUE].total_ns;
	if (ready) {
		units_fmt_dur(took, sizeof(took), x->ready_ns);
		diag_sb_printf(&v->sum, ", %s of it woken and not yet given a CPU", took);
	}
	if (!(thr = put_throttle(x, &v->sum, v, ", ")) &&
	    (!ready || (double)x->ready_ns < 0.9 * (double)x->tot[DIAG_CAUSE_RUNQUEUE].total_ns))
		diag_sb_put(&v->sum, ready ? ", the rest preempted or CPU-throttled" : ", preempted or CPU-throttled", 48);
	if (ci->taker == SIZE_MAX) {
		uint64_t tk_ns = 0;
		/* a quota's throttling kept them off, whoever ran there */
		size_t tk = thr ? SIZE_MAX : outside_cpu_taker(x, &tk_ns);

		if (tk == SIZE_MAX) {
			diag_sb_put(&v->sum, thr ? "; no thread of the target ran meanwhile"
						 : "; no thread of the target ran meanwhile: the CPU went to other "
						   "processes or the cgroup's CPU quota was spent", 160);
			return;
		}
		/* who had it: the outside thread on-CPU where they waited */
		units_fmt_dur(took, sizeof(took), tk_ns);
		diag_sb_put(&v->sum, "; no thread of the target ran meanwhile: the CPU went to ", 64);
		diag_put_who(x, &v->sum, (uint32_t)tk);
		diag_sb_printf(&v->sum, ", on-CPU where they waited during %s of it", took);
		diag_sb_printf(&op, "held the CPU the target's threads waited for, during %s of their waits", took);
		v->culprit = diag_culprit_json(x, (uint32_t)tk, ST_NO_STACK, ST_NO_STACK, op.s);
		return;
	}
	t = &ci->threads[ci->taker];
	idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx));
	for (i = 0; idx && i < x->nsamp; i++) {
		if (ci->in_runq[i] && cd->samples[x->samp[i]].thread == t->thread)
			idx[n++] = x->samp[i];
	}
	s = idx ? diag_mode_sample(cd, idx, n) : SIZE_MAX;
	free(idx);
	units_fmt_dur(took, sizeof(took), t->taken_ns);
	diag_sb_put(&v->sum, "; the target's threads that took the CPU meanwhile: ", 64);
	diag_put_who(x, &v->sum, t->thread);
	diag_sb_printf(&v->sum, " ran %s", took);
	if (s != SIZE_MAX && diag_put_callers(x, &callers, cd->samples[s].ustack))
		diag_sb_printf(&v->sum, " in %s", callers.s);
	for (i = 0, n = 0; i < ci->nthreads && n < 2; i++) {
		if (i == ci->taker || !ci->threads[i].taken_ns)
			continue;
		units_fmt_dur(took, sizeof(took), ci->threads[i].taken_ns);
		diag_sb_printf(&v->sum, ", tid %" PRId32 " %s", cd->threads[ci->threads[i].thread].tid, took);
		n++;
	}
	units_fmt_dur(took, sizeof(took), t->taken_ns);
	diag_sb_printf(&op, "ran %s on-CPU while other threads waited runnable", took);
	v->culprit = diag_culprit_json(x, t->thread, s != SIZE_MAX ? cd->samples[s].ustack : ST_NO_STACK,
				  s != SIZE_MAX ? cd->samples[s].kstack : ST_NO_STACK, op.s);
}

static void verdict_reclaim(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	uint32_t t = UINT32_MAX, us = ST_NO_STACK, ks = ST_NO_STACK;
	struct cap_mem m;
	char d[32], sz[32];
	size_t i;

	put_waited(&v->sum, x->tot[DIAG_CAUSE_MEMORY_RECLAIM].threads, x->tot[DIAG_CAUSE_MEMORY_RECLAIM].total_ns,
		   x->tot[DIAG_CAUSE_MEMORY_RECLAIM].max_ns, "stalled");
	diag_sb_put(&v->sum, " in direct memory reclaim or compaction", 48);
	if (x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns) {
		units_fmt_dur(d, sizeof(d), x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns);
		diag_sb_printf(&v->sum, " (%s of it on-CPU)", d);
	}
	for (i = 0; i < cd->nthreads; i++) {
		if (diag_thread_is_target(x, (uint32_t)i) && x->treclaim_ns[i] &&
		    (t == UINT32_MAX || x->treclaim_ns[i] > x->treclaim_ns[t]))
			t = (uint32_t)i;
	}
	if (t == UINT32_MAX)
		return;
	b = longest_block(x, t, DIAG_CAUSE_MEMORY_RECLAIM);
	if (b) {
		us = b->ustack;
		ks = b->kstack;
	} else {
		size_t *idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx)), n = 0, s;

		for (i = 0; idx && i < x->nsamp; i++) {
			const struct cap_sample *smp = &cd->samples[x->samp[i]];

			if (smp->thread == t && (diag_stack_feat(x, smp->kstack) & KF_RECLAIM))
				idx[n++] = x->samp[i];
		}
		s = idx ? diag_mode_sample(cd, idx, n) : SIZE_MAX;
		free(idx);
		if (s != SIZE_MAX) {
			us = cd->samples[s].ustack;
			ks = cd->samples[s].kstack;
		}
	}
	units_fmt_dur(d, sizeof(d), x->treclaim_ns[t]);
	diag_sb_put(&v->sum, "; ", 4);
	diag_put_who(x, &v->sum, t);
	diag_sb_printf(&v->sum, " the most, %s", d);
	if (diag_put_callers(x, &callers, us))
		diag_sb_printf(&v->sum, ", allocating in %s", callers.s);
	/* page cache is charged too but not in RSS: a small RSS says nothing */
	if (diag_mem_at(cd, cd->threads[t].pid, x->win_end, true, &m) && m.rss_bytes >= RSS_NOTE_MIN) {
		units_fmt_bytes(sz, sizeof(sz), m.rss_bytes);
		diag_sb_printf(&v->sum, "; RSS of pid %" PRId32 ": %s", cd->threads[t].pid, sz);
	}
	diag_sb_printf(&op, "stalled %s in direct reclaim", d);
	v->culprit = diag_culprit_json(x, t, us, ks, op.s);
}

/* Whether the service's work waited on busy thread j (ci->threads): it is an
 * event loop's thread, it ended other threads' long waits (it held what they
 * waited for), or others queued behind it on the runqueue. A busy thread
 * nobody waited on (a snapshot child, a batch job) is not a freeze. */
static bool busy_waited_on(const struct ctx *x, const struct cpuinfo *ci, size_t j)
{
	const struct capdata *cd = x->cd;
	uint32_t t = ci->threads[j].thread;
	size_t i, k;

	/* queued behind it: 100 ms, and a tenth of its run (a busy machine
	 * makes everyone wait a little) */
	if (x->loopsite[t] || (ci->threads[j].taken_ns >= DIAG_BUSY_QUEUED_NS &&
			       ci->threads[j].taken_ns * 100 >= ci->threads[j].run_ns * DIAG_RUNQ_SHARE_PCT))
		return true;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];

		if (b->waker == t && diag_ended_by_target(x, b))
			return true;
	}
	for (i = 0; i < x->ngroups; i++) {
		for (k = 0; k < x->groups[i].nholders; k++) {
			if (x->groups[i].holders[k].thread == t)
				return true;
		}
	}
	return false;
}

/* Whether thread t's process was not among the target's processes at the
 * start: a child the capture followed (a snapshot, a backup). */
static bool is_child(const struct ctx *x, uint32_t t)
{
	const struct cap_target *tg = &x->cd->target;
	size_t i;

	for (i = 0; i < tg->npids; i++) {
		if (tg->pids[i] == x->cd->threads[t].pid)
			return false;
	}
	return tg->npids > 0;
}

static void put_loop_site(struct ctx *x, struct sbuf *sb, const struct loopstall *ls)
{
	const struct capdata *cd = x->cd;
	struct sbuf callers = { .len = 0 };
	const struct cap_block *p = ls->poll_before != SIZE_MAX ? &cd->blocks[ls->poll_before] : NULL;

	diag_sb_put(sb, "its poll", 16);
	if (p && p->in_syscall && syscall_name(p->syscall))
		diag_sb_printf(sb, " (%s", syscall_name(p->syscall));
	else
		diag_sb_put(sb, " (", 4);
	if (p && diag_put_callers(x, &callers, p->ustack))
		diag_sb_printf(sb, "%sin %s", p->in_syscall ? " " : "", callers.s);
	diag_sb_put(sb, ")", 4);
}

static void verdict_busy(struct ctx *x, const struct cpuinfo *ci, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	uint32_t t;
	uint64_t run;
	size_t s;
	char d[32];

	if (v->ls) {
		size_t *idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx)), n = 0, i;

		t = v->ls->thread;
		run = v->ls->e - v->ls->s;
		for (i = 0; idx && i < x->nsamp; i++) {
			const struct cap_sample *sm = &cd->samples[x->samp[i]];

			if (sm->thread == t && sm->ts_ns >= v->ls->s && sm->ts_ns < v->ls->e)
				idx[n++] = x->samp[i];
		}
		s = idx ? diag_mode_sample(cd, idx, n) : SIZE_MAX;
		free(idx);
	} else {
		const struct tcpu *tc = &ci->threads[v->busy];

		t = tc->thread;
		run = tc->run_ns;
		s = diag_mode_sample(cd, ci->tsamp + tc->run_first, tc->run_n);
	}
	units_fmt_dur(d, sizeof(d), run);
	diag_sb_put(&v->sum, "no thread waited abnormally; ", 40);
	diag_put_who(x, &v->sum, t);
	if (x->loopsite[t]) {
		diag_sb_printf(&v->sum, ", an event loop's thread, ran on-CPU for %s without returning to ", d);
		if (v->ls)
			put_loop_site(x, &v->sum, v->ls);
		else
			diag_sb_put(&v->sum, "its poll", 16);
	} else {
		diag_sb_printf(&v->sum, " ran on-CPU for %s without blocking", d);
	}
	if (s != SIZE_MAX && diag_put_callers(x, &callers, cd->samples[s].ustack))
		diag_sb_printf(&v->sum, ", in %s", callers.s);
	if (!x->loopsite[t] && !v->ls && v->busy != SIZE_MAX && ci->threads[v->busy].taken_ns >= DIAG_BUSY_QUEUED_NS) {
		units_fmt_dur(d, sizeof(d), ci->threads[v->busy].taken_ns);
		diag_sb_printf(&v->sum, "; other threads waited %s runnable behind it", d);
	}
	put_throttle(x, &v->sum, v, "; ");
	units_fmt_dur(d, sizeof(d), run);
	diag_sb_printf(&op, "on-CPU for %s without %s", d, x->loopsite[t] ? "returning to its event loop" : "blocking");
	v->culprit = diag_culprit_json(x, t, s != SIZE_MAX ? cd->samples[s].ustack : ST_NO_STACK,
				  s != SIZE_MAX ? cd->samples[s].kstack : ST_NO_STACK, op.s);
}

/* loop_blocked by a pool: every worker away from its wait for work at once,
 * asleep in the middle of its request (diag_pools takes sleeps only); the
 * longest such sleep, what the workers wait in for work. */
static void verdict_pool(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct poolstall *ps = &x->pstall;
	const struct cap_block *b = &cd->blocks[ps->longest], *ib = &cd->blocks[ps->idle];
	const char *sys = b->in_syscall ? syscall_name(b->syscall) : NULL, *isys;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	char d[32], m[32];

	isys = ib->in_syscall ? syscall_name(ib->syscall) : NULL;
	units_fmt_dur(d, sizeof(d), ps->e - ps->s);
	units_fmt_dur(m, sizeof(m), b->dur_ns);
	diag_sb_printf(&v->sum, "all %u workers of a pool were away from their wait for work", ps->workers);
	if (isys)
		diag_sb_printf(&v->sum, " (%s)", isys);
	diag_sb_printf(&v->sum, " at once for %s, none free to take a request: they slept up to %s", d, m);
	if (sys)
		diag_sb_printf(&v->sum, " in %s", sys);
	if (diag_put_callers(x, &callers, b->ustack))
		diag_sb_printf(&v->sum, " called from %s", callers.s);
	diag_sb_printf(&op, "slept %s in the middle of a request while every other worker of its pool did too", m);
	v->culprit = diag_culprit_json(x, b->thread, b->ustack, b->kstack, op.s);
}

/* loop_blocked: the event loop held away from its poll the longest. */
static void verdict_loop(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct loopstall *ls = v->ls;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	const char *sys;
	size_t i, nloops = 0;
	char d[32];

	for (i = 0; i < x->nlstalls; i++)
		nloops += x->lstalls[i].why == DIAG_CAUSE_LOOP_BLOCKED;
	if (!ls && x->pstall.e > x->pstall.s && x->pstall.longest != SIZE_MAX) {
		verdict_pool(x, v);
		return;
	}
	if (!ls) {
		diag_sb_put(&v->sum, "an event loop was held away from its poll", 64);
		return;
	}
	b = ls->longest != SIZE_MAX ? &cd->blocks[ls->longest] : NULL;
	sys = b && b->in_syscall ? syscall_name(b->syscall) : NULL;
	units_fmt_dur(d, sizeof(d), ls->e - ls->s);
	diag_sb_put(&v->sum, "the event loop of ", 24);
	diag_put_who(x, &v->sum, ls->thread);
	diag_sb_printf(&v->sum, " was held away from ");
	put_loop_site(x, &v->sum, ls);
	diag_sb_printf(&v->sum, " for %s", d);
	if (ls->s < x->win_start) {
		units_fmt_dur(d, sizeof(d), x->win_start - ls->s);
		diag_sb_printf(&v->sum, " (it began %s before the window)", d);
	}
	if (b) {
		units_fmt_dur(d, sizeof(d), b->dur_ns);
		diag_sb_printf(&v->sum, ": it %s %s", sys && (b->syscall == NR_nanosleep || b->syscall == NR_clock_nanosleep)
							  ? "slept" : "waited", d);
		if (sys)
			diag_sb_printf(&v->sum, " in %s", sys);
		if (diag_put_callers(x, &callers, b->ustack))
			diag_sb_printf(&v->sum, " called from %s", callers.s);
	}
	if (nloops > 1)
		diag_sb_printf(&v->sum, "; %zu stretches of event loops were held so", nloops);
	units_fmt_dur(d, sizeof(d), ls->e - ls->s);
	diag_sb_printf(&op, "held its event loop for %s%s%s", d, sys ? " in " : "", sys ? sys : "");
	v->culprit = diag_culprit_json(x, ls->thread, b ? b->ustack : ST_NO_STACK, b ? b->kstack : ST_NO_STACK, op.s);
}

static int cmp_u32(const void *a, const void *b)
{
	return diag_cmp(*(const uint32_t *)a, *(const uint32_t *)b);
}

/* dependency: workers held up mid-request at one call; the call site with
 * the most such waiting, what the workers wait in for work, how close the
 * answers came, and who answered when a thread of another process did. */
static void verdict_dependency(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	struct sbuf callers = { .len = 0 }, op = { .len = 0 };
	uint64_t site = 0, best_ns = 0, idle_site, *ends;
	size_t i, j, n = 0, longest = SIZE_MAX, nend = 0, idle, nidle, rel = 0, rel_at = 0;
	struct ival *ws;        /* (site, wait) of each dependency wait */
	uint32_t waker = UINT32_MAX, *wk;
	size_t nwk = 0, nthr = 0;
	bool one_waker = true;
	const struct cap_block *b;
	const char *sys;
	char d[32];

	/* the site with the most waiting */
	if (!(ws = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*ws)))) {
		x->oom = true;
		return;
	}
	for (i = 0; i < cd->nblocks; i++) {
		if (x->cls[i] == DIAG_CAUSE_DEPENDENCY)
			ws[n++] = (struct ival){ x->gobj[i], cd->blocks[i].dur_ns };
	}
	qsort(ws, n, sizeof(*ws), diag_cmp_ival);
	for (i = 0; i < n; i = j) {
		uint64_t tot = 0;

		for (j = i; j < n && ws[j].s == ws[i].s; j++)
			tot = sat_add(tot, ws[j].e);
		if (tot > best_ns) {
			best_ns = tot;
			site = ws[i].s;
		}
	}
	free(ws);
	ends = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*ends));
	wk = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*wk));
	if (!ends || !wk) {
		free(ends);
		free(wk);
		x->oom = true;
		return;
	}
	for (i = 0; i < cd->nblocks; i++) {
		if (x->cls[i] != DIAG_CAUSE_DEPENDENCY || x->gobj[i] != site)
			continue;
		b = &cd->blocks[i];
		if (longest == SIZE_MAX || b->dur_ns > cd->blocks[longest].dur_ns)
			longest = i;
		if (b->flags & CAP_BLOCK_IN_PROGRESS)
			continue;
		ends[nend++] = block_end(b);
		if (!diag_waker_real(x, b) || !cd->threads[b->waker].outside ||
		    (waker != UINT32_MAX && cd->threads[b->waker].pid != cd->threads[waker].pid))
			one_waker = false;
		else {
			waker = b->waker;
			wk[nwk++] = b->waker;
		}
	}
	/* the threads of that process that answered */
	qsort(wk, nwk, sizeof(*wk), cmp_u32);
	for (i = 0; i < nwk; i++)
		nthr += !i || wk[i] != wk[i - 1];
	free(wk);
	/* the release: the most ends in a row, each within DIAG_RELEASE_GAP_NS
	 * of the one before (slow answers at other times are not part of it) */
	qsort(ends, nend, sizeof(*ends), diag_cmp_u64);
	for (i = 0; i < nend; i = j) {
		for (j = i + 1; j < nend && ends[j] - ends[j - 1] <= DIAG_RELEASE_GAP_NS; j++)
			;
		if (j - i > rel) {
			rel = j - i;
			rel_at = i;
		}
	}
	put_waited(&v->sum, v->waiters, v->total_ns, v->max_ns, "waited");
	diag_sb_put(&v->sum, " in the middle of their work for another process's answer", 64);
	if (longest == SIZE_MAX) {
		free(ends);
		return;
	}
	b = &cd->blocks[longest];
	sys = b->in_syscall ? syscall_name(b->syscall) : NULL;
	if (sys)
		diag_sb_printf(&v->sum, ", in %s", sys);
	/* deep enough to name the client library, which names what was called */
	if (diag_put_callers_n(x, &callers, b->ustack, DIAG_DEP_CALL_FRAMES))
		diag_sb_printf(&v->sum, "%s %s", sys ? " called from" : ", in", callers.s);
	idle = diag_idle_site_of(x, b->thread, &idle_site, &nidle);
	if (idle != SIZE_MAX && cd->blocks[idle].in_syscall && syscall_name(cd->blocks[idle].syscall))
		diag_sb_printf(&v->sum, " (they wait for work in %s)", syscall_name(cd->blocks[idle].syscall));
	if (rel >= 2) {
		units_fmt_dur(d, sizeof(d), ends[rel_at + rel - 1] - ends[rel_at]);
		diag_sb_printf(&v->sum, "; %zu of those waits ended within %s of each other", rel, d);
	}
	free(ends);
	units_fmt_dur(d, sizeof(d), b->dur_ns);
	if (one_waker && waker != UINT32_MAX) {
		/* the thread that answered the longest wait, with its stacks */
		if (!(b->flags & CAP_BLOCK_IN_PROGRESS) && diag_waker_real(x, b))
			waker = b->waker;
		diag_sb_put(&v->sum, ": ", 4);
		diag_put_who(x, &v->sum, waker);
		if (nthr > 1)
			diag_sb_printf(&v->sum, " and %zu other threads of its process", nthr - 1);
		diag_sb_printf(&v->sum, " answered after up to %s", d);
		diag_sb_printf(&op, "answered the target's calls after up to %s", d);
		v->culprit = diag_culprit_json(x, waker, waker == b->waker ? b->waker_ustack : ST_NO_STACK,
					       waker == b->waker ? b->waker_kstack : ST_NO_STACK, op.s);
	} else {
		diag_sb_printf(&v->sum, ", after up to %s: the process they called stalled (its answers came by the "
				   "network, so which one it is is not known: record it too to see why)", d);
	}
}

static void verdict_none(struct ctx *x, const struct cpuinfo *ci, const struct hentry *he, size_t nhe,
			 struct verdict *v)
{
	const struct capdata *cd = x->cd;
	char idle[32], thr[32], run[32];
	uint64_t threads = 0;
	size_t i;

	for (i = 0; i < cd->nthreads; i++)
		threads += diag_thread_is_target(x, (uint32_t)i);
	units_fmt_dur(idle, sizeof(idle), x->tot[DIAG_CAUSE_IDLE].total_ns);
	units_fmt_dur(thr, sizeof(thr), DIAG_STALL_MAX_NS);
	units_fmt_dur(run, sizeof(run), DIAG_BUSY_RUN_NS);
	diag_sb_printf(&v->sum, "no stall: %" PRIu64 " thread%s spent %s in idle waits (polling, sleeping, "
			   "waiting for work); no abnormal wait reached %s and no thread the service waited on ran %s "
			   "without blocking", threads, threads == 1 ? "" : "s", idle, thr, run);
	if (x->have_baseline)
		diag_sb_put(&v->sum, " beyond the baseline", 32);
	if (v->idle_busy != SIZE_MAX) {
		const struct tcpu *tc = &ci->threads[v->idle_busy];
		const struct cap_thread *th = &cd->threads[tc->thread];

		units_fmt_dur(run, sizeof(run), tc->run_ns);
		if (is_child(x, tc->thread))
			diag_sb_printf(&v->sum, "; pid %" PRId32 " (", th->pid);
		else
			diag_sb_put(&v->sum, "; ", 4);
		if (is_child(x, tc->thread)) {
			diag_sb_put(&v->sum, th->comm, 16);
			diag_sb_printf(&v->sum, "), a child process of the target, ran on-CPU for %s while the "
					   "service's threads kept being served: it is not the service's freeze", run);
		} else {
			diag_put_who(x, &v->sum, tc->thread);
			diag_sb_printf(&v->sum, " ran on-CPU for %s without blocking, but nothing of the service "
					   "waited on it", run);
		}
	}
	/* the longest write hold of a target's mmap_lock (a fork's): a short stall worth naming */
	for (i = 0; i < nhe; i++) {
		const struct cap_hold *h = he[i].longest != SIZE_MAX ? &cd->holds[he[i].longest] : NULL;
		struct diag_holdop d;

		if (!h || h->mode == CAP_HOLD_READ || h->dur_ns < x->hold_thr_ns)
			continue;
		diagnose_hold_op(cd, h, 1, &d);
		units_fmt_dur(run, sizeof(run), h->dur_ns);
		diag_sb_put(&v->sum, "; the longest mmap_lock hold: ", 40);
		diag_put_who(x, &v->sum, h->thread);
		diag_sb_printf(&v->sum, " held it for write for %s in %s", run, d.op);
		break;
	}
}

/* ---------------------------------------------------------------------------
 * stopped: the target's threads stopped from outside.
 */
/* A stop signal wakes a sleeping thread to stop it (so does a tracer's
 * attach, a freezer's fake signal): a wait of the thread that ended this
 * close before its stop began was ended by whoever stopped it. */
#define DIAG_STOP_SENT_NS (20 * 1000000ull)

/* The wait of stopped block stop's thread that the stop ended (its last
 * voluntary block before the stop, ended just before it), if a task ended
 * it sending a stop (a signal's wakeup, a tracer's attach, a freezer's: not
 * some other wakeup that came just before); else NULL. */
static const struct cap_block *stop_sent(const struct ctx *x, const struct cap_block *stop)
{
	const struct capdata *cd = x->cd;
	size_t pos = diag_byth_at(x, stop->thread, stop->start_ns);
	const struct cap_block *p;

	if (!pos || cd->blocks[x->byth[pos - 1]].thread != stop->thread)
		return NULL;
	p = &cd->blocks[x->byth[pos - 1]];
	if (block_end(p) > stop->start_ns + 1000000ull || stop->start_ns > sat_add(block_end(p), DIAG_STOP_SENT_NS))
		return NULL;
	return diag_woken_by_task(x, p) && diag_kstack_sends_stop(x, p->waker_kstack) ? p : NULL;
}

static const char *const stop_words[] = {
	[DIAG_STOP_NONE] = " (stopped)",
	[DIAG_STOP_SIGNAL] = " by a stop signal (do_signal_stop: SIGSTOP, or SIGTSTP, SIGTTIN or SIGTTOU "
			     "from a terminal)",
	[DIAG_STOP_TRACE] = " by a debugger or tracer (ptrace_stop: gdb, gcore and strace stop every thread "
			    "they attach to)",
	[DIAG_STOP_FREEZE] = " by a freezer (__refrigerator or do_freezer_trap: a frozen cgroup, as docker pause, "
			     "systemctl freeze or a checkpoint make)",
};

/* "pid 77 tid 77 (gdb, outside the target) from ptrace ← attach_command" */
static void put_stopper(struct ctx *x, struct sbuf *sb, const struct cap_block *b)
{
	struct sbuf callers = { .len = 0 };

	diag_put_who(x, sb, b->waker);
	if (diag_put_callers(x, &callers, b->waker_ustack))
		diag_sb_printf(sb, " from %s", callers.s);
}

static void verdict_stopped(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *l = NULL, *sent = NULL, *let = NULL, *by;
	struct sbuf op = { .len = 0 };
	uint64_t together = 0;
	enum diag_stop how;
	char d[32];
	size_t i;

	for (i = 0; i < cd->nblocks; i++) {
		if (x->cls[i] == DIAG_CAUSE_STOPPED && diag_thread_is_target(x, cd->blocks[i].thread) &&
		    (!l || cd->blocks[i].dur_ns > l->dur_ns))
			l = &cd->blocks[i];
	}
	put_waited(&v->sum, x->tot[DIAG_CAUSE_STOPPED].threads, x->tot[DIAG_CAUSE_STOPPED].total_ns,
		   x->tot[DIAG_CAUSE_STOPPED].max_ns, x->tot[DIAG_CAUSE_STOPPED].threads == 1 ? "was stopped" : "were stopped");
	if (!l)
		return;
	how = diag_stop_how(x, l->kstack);
	diag_sb_put(&v->sum, stop_words[how], 200);
	/* the longest stop, and the stops of other threads at the same time:
	 * one stop of the process; who sent it, who let it go */
	sent = stop_sent(x, l);
	let = !(l->flags & CAP_BLOCK_IN_PROGRESS) && diag_woken_by_task(x, l) ? l : NULL;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];

		if (x->cls[i] != DIAG_CAUSE_STOPPED || !diag_thread_is_target(x, b->thread) ||
		    !overlap(b->start_ns, block_end(b), l->start_ns, block_end(l)))
			continue;
		together++;
		/* l's own wait and waker first, else the others' (one that
		 * ran when the signal came has no wait it ended) */
		if (!sent)
			sent = stop_sent(x, b);
		if (!let && !(l->flags & CAP_BLOCK_IN_PROGRESS) && diag_woken_by_task(x, b))
			let = b;
	}
	units_fmt_dur(d, sizeof(d), l->dur_ns);
	if (together > 1)
		diag_sb_printf(&v->sum, "; %" PRIu64 " threads at once for up to %s", together, d);
	if (sent) {
		diag_sb_put(&v->sum, "; stopped by ", 16);
		put_stopper(x, &v->sum, sent);
	}
	if (l->flags & CAP_BLOCK_IN_PROGRESS) {
		diag_sb_put(&v->sum, "; still stopped at the window's end", 40);
	} else if (let && sent && let->waker == sent->waker) {
		diag_sb_printf(&v->sum, ", which let it go %s later", d);
	} else if (let) {
		diag_sb_printf(&v->sum, "; let go after %s by ", d);
		put_stopper(x, &v->sum, let);
	}
	by = sent ? sent : let;
	if (!by)
		return;
	if (sent)
		diag_sb_printf(&op, "stopped %" PRIu64 " thread%s of the target for up to %s", together,
			       together == 1 ? "" : "s", d);
	else
		diag_sb_printf(&op, "let %" PRIu64 " stopped thread%s of the target go after up to %s", together,
			       together == 1 ? "" : "s", d);
	v->culprit = diag_culprit_json(x, by->waker, by->waker_ustack, by->waker_kstack, op.s);
}

/* Lock waits queued behind their own waiters' I/O: a commit takes the
 * log's lock to write and fdatasync it while the other commits queue for
 * that lock (PostgreSQL's WALWriteLock, MariaDB's group commit), and on a
 * slow disk nearly all of the lock's waiting is the disk's. Returns the
 * share (percent) of cause c's waits during which a thread that both
 * waited on the same lock and ended a wait on it was itself waiting on
 * I/O. A lock one thread holds through its own long work (VACUUM FULL
 * holding a table while it rewrites it) does not count: that holder never
 * queues there; nor does other I/O that went on meanwhile (commits to
 * other tables while a row's lock is held by a sleeping session). */
static unsigned int lock_io_share(const struct ctx *x, unsigned int c, bool *oom)
{
	const struct capdata *cd = x->cd;
	uint8_t *role = calloc(cd->nthreads ? cd->nthreads : 1, 1);
	struct ival *iv = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*iv));
	uint64_t tot = 0, ov = 0;
	size_t gi, k, lo;

	if (!role || !iv) {
		*oom = true;
		goto out;
	}
	for (gi = 0; gi < x->ngroups; gi++) {
		const struct lgroup *g = &x->groups[gi];
		size_t n = 0;

		if (g->cls != c)
			continue;
		for (k = g->first; k < g->first + g->n; k++) { /* who waited (1), who ended a wait (2) */
			const struct cap_block *b = &cd->blocks[x->lidx[k]];

			role[b->thread] |= 1;
			if (diag_waker_real(x, b) && diag_thread_is_target(x, b->waker))
				role[b->waker] |= 2;
		}
		for (k = g->first; k < g->first + g->n; k++) { /* the I/O of those that did both */
			uint32_t t = cd->blocks[x->lidx[k]].thread;

			if (role[t] != 3)
				continue;
			role[t] |= 4;
			for (lo = diag_byth_at(x, t, 0); lo < x->nbyth && cd->blocks[x->byth[lo]].thread == t; lo++) {
				if (x->cls[x->byth[lo]] == DIAG_CAUSE_IO)
					iv[n++] = (struct ival){ cd->blocks[x->byth[lo]].start_ns,
								 block_end(&cd->blocks[x->byth[lo]]) };
			}
		}
		n = diag_ival_union(iv, n);
		for (k = g->first; k < g->first + g->n; k++) {
			const struct cap_block *b = &cd->blocks[x->lidx[k]];
			uint64_t s = b->start_ns, e = block_end(b);

			if (x->win_ns > 1) {
				s = s > x->win_start ? s : x->win_start;
				e = e < x->win_end ? e : x->win_end;
			}
			if (e > s) {
				tot += e - s;
				ov += diag_ival_overlap(iv, n, s, e);
			}
		}
		for (k = g->first; k < g->first + g->n; k++) {
			const struct cap_block *b = &cd->blocks[x->lidx[k]];

			role[b->thread] = 0;
			if (b->has_waker && b->waker < cd->nthreads)
				role[b->waker] = 0;
		}
	}
out:
	free(role);
	free(iv);
	return tot ? (unsigned int)((double)ov * 100.0 / (double)tot) : 0;
}

static enum diag_kind judge(struct ctx *x, const struct cpuinfo *ci, struct verdict *v)
{
	enum diag_kind best = DIAG_NONE;
	const struct loopstall *lb;
	unsigned int c;
	size_t j;

	for (c = 0; c < DIAG_CAUSE_IDLE; c++) {
		struct ctotal *t = &x->tot[c];

		t->score_ns = t->total_ns > t->expected_ns ? t->total_ns - t->expected_ns : 0;
		if (c == DIAG_CAUSE_RUNQUEUE)
			t->qualifies = t->score_ns >= DIAG_STALL_TOTAL_NS &&
				       (double)t->score_ns * 100.0 >=
					       (double)DIAG_RUNQ_SHARE_PCT * (double)t->threads * (double)x->win_ns;
		else if (c == DIAG_CAUSE_IO || c == DIAG_CAUSE_APP_LOCK || c == DIAG_CAUSE_KERNEL_LOCK)
			/* short I/O and lock waits are a server's daily work (a
			 * commit's fsync, a group commit's wait for the log
			 * writer): by their sum they stall only when they take
			 * a tenth of the waiting threads' window */
			t->qualifies = (t->max_ns >= DIAG_STALL_MAX_NS && t->score_ns >= DIAG_STALL_MAX_NS) ||
				       (t->score_ns >= DIAG_STALL_TOTAL_NS &&
					(double)t->score_ns * 100.0 >=
						(double)DIAG_RUNQ_SHARE_PCT * (double)t->threads * (double)x->win_ns);
		else
			t->qualifies = t->score_ns >= DIAG_STALL_TOTAL_NS ||
				       (t->max_ns >= DIAG_STALL_MAX_NS && t->score_ns >= DIAG_STALL_MAX_NS);
		if (t->qualifies && (best == DIAG_NONE || t->score_ns > x->tot[best].score_ns))
			best = (enum diag_kind)c;
	}
	/* a dependency's waits are its callers': when the capture holds a
	 * stall of about as long of another cause (the dependency's own, when
	 * it is recorded too), that one is why */
	if (best == DIAG_DEPENDENCY) {
		for (c = 0; c < DIAG_CAUSE_IDLE; c++) {
			if (c != DIAG_CAUSE_DEPENDENCY && x->tot[c].qualifies &&
			    x->tot[c].max_ns * 2 >= x->tot[DIAG_CAUSE_DEPENDENCY].max_ns &&
			    (best == DIAG_DEPENDENCY || x->tot[c].score_ns > x->tot[best].score_ns))
				best = (enum diag_kind)c;
		}
	}
	if (best == DIAG_LOOP_BLOCKED) {
		for (j = 0; j < x->nlstalls; j++) {
			const struct loopstall *ls = &x->lstalls[j];

			if (ls->why == DIAG_CAUSE_LOOP_BLOCKED && (!v->ls || ls->e - ls->s > v->ls->e - v->ls->s))
				v->ls = ls;
		}
	}
	if (best == DIAG_APP_LOCK || best == DIAG_KERNEL_LOCK) {
		unsigned int pct = lock_io_share(x, best, &x->oom);

		if (pct >= DIAG_QUEUE_IO_PCT) {
			v->queue = (int)best;
			v->queue_pct = pct;
			return DIAG_IO;
		}
	}
	if (best != DIAG_NONE)
		return best;
	/* busy: the longest busy run the service waited on, or an event loop
	 * kept from its poll by its own computing */
	for (j = 0; j < ci->nthreads; j++) {
		const struct tcpu *t = &ci->threads[j];

		if (!x->trun_e[t->thread])
			continue;
		if (busy_waited_on(x, ci, j)) {
			if (v->busy == SIZE_MAX || t->run_ns > ci->threads[v->busy].run_ns)
				v->busy = j;
		} else if (v->idle_busy == SIZE_MAX || t->run_ns > ci->threads[v->idle_busy].run_ns) {
			v->idle_busy = j;
		}
	}
	lb = diag_top_loopstall(x, true);
	if (lb && (v->busy == SIZE_MAX || lb->e - lb->s > ci->threads[v->busy].run_ns))
		v->ls = lb;
	return v->busy != SIZE_MAX || v->ls ? DIAG_CPU_BUSY : DIAG_NONE;
}

/* The baseline's waits (the same classification run over the baseline's own
 * capture), per second of its window, scaled to this window. */
static int apply_baseline(struct ctx *x, const struct capdata *base)
{
	struct cpuinfo ci = { .busiest = SIZE_MAX, .taker = SIZE_MAX };
	struct ctx b;
	unsigned int c;
	int err;

	if (!base || !base->window.duration_ns)
		return 0;
	err = diag_ctx_classify(&b, base, NULL, &ci);
	if (!err) {
		x->have_baseline = true;
		for (c = 0; c < DIAG_CAUSE_IDLE; c++) {
			double e = (double)b.tot[c].total_ns * ((double)x->win_ns / (double)base->window.duration_ns);

			x->tot[c].expected_ns = e >= 1.8e19 ? UINT64_MAX : (uint64_t)e;
		}
	}
	diag_cpu_release(&ci);
	diag_ctx_release(&b);
	return err;
}

/* io with a lock queue behind it: the stall is both, the I/O waits and the
 * lock waits; its threads are those that waited on either. */
static void queue_totals(const struct ctx *x, struct verdict *v)
{
	const struct ctotal *q = &x->tot[v->queue];
	uint16_t bits = (uint16_t)(1u << DIAG_CAUSE_IO | 1u << v->queue);
	size_t t;

	v->total_ns = sat_add(v->total_ns, q->total_ns);
	v->max_ns = q->max_ns > v->max_ns ? q->max_ns : v->max_ns;
	v->waiters = 0;
	for (t = 0; t < x->cd->nthreads; t++)
		v->waiters += diag_thread_is_target(x, (uint32_t)t) && (x->tmask[t] & bits);
}

int diagnose_build(const struct capdata *cd, const struct aggregate *agg, const struct capdata *baseline,
		   json_t **out)
{
	struct verdict v = { .kind = DIAG_NONE, .prim = -1, .busy = SIZE_MAX, .idle_busy = SIZE_MAX, .queue = -1 };
	struct cpuinfo ci = { .busiest = SIZE_MAX, .taker = SIZE_MAX };
	struct hentry *he = NULL;
	size_t nhe = 0, om_holders = 0, om_cpu = 0, om_io = 0, nio;
	uint32_t *ioidx = NULL;
	struct ctx x;
	json_t *o = NULL, *verdict, *meta;
	int err;

	if (out)
		*out = NULL;
	if (!cd || !out)
		return -EINVAL;
	if ((err = diag_ctx_classify(&x, cd, agg, &ci)) || (err = diag_build_groups(&x)) || (err = diag_blame_groups(&x)) || (err = diag_cpu_analyse(&x, &ci)) ||
	    (err = diag_holders_collect(&x, &he, &nhe)))
		goto cleanup;
	ioidx = malloc((cd->nthreads ? cd->nthreads : 1) * sizeof(*ioidx));
	if (!ioidx) {
		err = -ENOMEM;
		goto cleanup;
	}
	nio = diag_io_order(&x, ioidx);
	if ((err = apply_baseline(&x, baseline)))
		goto cleanup;
	v.kind = judge(&x, &ci, &v);
	if (v.kind < DIAG_CPU_BUSY) {
		v.waiters = x.tot[v.kind].threads;
		v.total_ns = x.tot[v.kind].total_ns;
		v.max_ns = x.tot[v.kind].max_ns;
	}
	if (v.queue >= 0)
		queue_totals(&x, &v);

	switch (v.kind) {
	case DIAG_MMAP_LOCK:
	case DIAG_KERNEL_LOCK:
	case DIAG_APP_LOCK: {
		const struct lgroup *g = top_group(&x, v.kind);

		if (v.kind == DIAG_APP_LOCK)
			v.prim = g ? g->prim : DIAG_PRIM_OTHER;
		if (v.kind == DIAG_MMAP_LOCK)
			verdict_mmap(&x, g, he, nhe, &v);
		else
			verdict_woken(&x, g, &v);
		break;
	}
	case DIAG_IO:
		verdict_io(&x, ioidx, nio, &v);
		break;
	case DIAG_RUNQUEUE:
		verdict_runq(&x, &ci, &v);
		break;
	case DIAG_MEMORY_RECLAIM:
		verdict_reclaim(&x, &v);
		break;
	case DIAG_LOOP_BLOCKED:
		verdict_loop(&x, &v);
		break;
	case DIAG_DEPENDENCY:
		verdict_dependency(&x, &v);
		break;
	case DIAG_STOPPED:
		verdict_stopped(&x, &v);
		break;
	case DIAG_CPU_BUSY:
		verdict_busy(&x, &ci, &v);
		break;
	default:
		verdict_none(&x, &ci, he, nhe, &v);
		break;
	}

	verdict = json_pack("{s:s, s:o, s:s, s:I, s:o, s:o, s:o}", "kind", diagnose_kind_name(v.kind),
			    "primitive", v.prim >= 0 ? json_string(diagnose_primitive_name((unsigned int)v.prim))
						     : json_null(),
			    "summary", v.sum.s, "threads", (json_int_t)v.waiters,
			    "offcpu_ms", jms(v.total_ns), "max_ms", jms(v.max_ns),
			    "culprit", v.culprit ? v.culprit : json_null());
	v.culprit = NULL;
	if (verdict && v.throttle)
		json_object_set_new(verdict, "throttle", v.throttle);
	else
		json_decref(v.throttle);
	v.throttle = NULL;
	if (verdict && v.queue >= 0) {
		const struct lgroup *g = top_group(&x, (unsigned int)v.queue);

		json_object_set_new(verdict, "lock_queue",
				    json_pack("{s:s, s:o, s:I, s:o, s:o, s:I}", "kind", diagnose_kind_name((unsigned int)v.queue),
					      "primitive", g && v.queue == DIAG_APP_LOCK
								   ? json_string(diagnose_primitive_name(g->prim))
								   : json_null(),
					      "threads", (json_int_t)x.tot[v.queue].threads,
					      "offcpu_ms", jms(x.tot[v.queue].total_ns), "max_ms", jms(x.tot[v.queue].max_ns),
					      "io_pct", (json_int_t)v.queue_pct));
	}
	o = json_pack("{s:o?}", "verdict", verdict);
	if (!o) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_set_new(o, "waits", diag_waits_json(&x));
	json_object_set_new(o, "locks", diag_locks_json(&x));
	json_object_set_new(o, "holders", diag_holders_json(&x, he, nhe, &om_holders));
	json_object_set_new(o, "memory", diag_memory_json(&x));
	json_object_set_new(o, "cpu", diag_cpu_json(&x, &ci, &om_cpu));
	json_object_set_new(o, "io", diag_io_json(&x, ioidx, nio, &om_io));
	meta = json_pack("{s:f, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:b, s:{s:I, s:I, s:I, s:I}}",
			 "window_s", (double)cd->window.duration_ns / 1e9,
			 "sample_period_ms", jms(cd->nsamples ? x.period_ns : 0),
			 "hold_threshold_ms", jms(x.hold_thr_ns),
			 "stall_max_ms", jms(DIAG_STALL_MAX_NS),
			 "stall_total_ms", jms(DIAG_STALL_TOTAL_NS),
			 "busy_run_ms", jms(DIAG_BUSY_RUN_NS),
			 "busy_share_pct", (json_int_t)DIAG_BUSY_SHARE_PCT,
			 "runqueue_share_pct", (json_int_t)DIAG_RUNQ_SHARE_PCT,
			 "idle_wait_ms", jms(x.tot[DIAG_CAUSE_IDLE].total_ns),
			 "baseline", x.have_baseline,
			 "omitted", "locks", (json_int_t)(x.ngroups > MAX_LOCKS ? x.ngroups - MAX_LOCKS : 0),
			 "holders", (json_int_t)om_holders, "cpu", (json_int_t)om_cpu,
			 "io", (json_int_t)om_io);
	json_object_set_new(o, "diagnosis", meta);
	if (x.oom || json_object_size(o) != 8) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = o;
	o = NULL;
cleanup:
	json_decref(o);
	json_decref(v.culprit);
	free(he);
	free(ioidx);
	diag_cpu_release(&ci);
	diag_ctx_release(&x);
	return err;
}

int diagnose_summary_line(const json_t *diag, char *buf, size_t len)
{
	const json_t *v = json_object_get(diag, "verdict");
	const char *kind = json_string_value(json_object_get(v, "kind"));
	const char *sum = json_string_value(json_object_get(v, "summary"));
	static const char ell[] = "…";
	size_t n = 0, i, cut;

	if (!kind || !sum || len < sizeof("verdict: ") + sizeof(ell))
		return -EINVAL;
	snprintf(buf, len, "verdict: %s: ", kind);
	n = strlen(buf);
	cut = strlen(sum);
	if (n + cut >= len) {
		/* leave room for the ellipsis, and cut at a character boundary */
		cut = len - n - sizeof(ell);
		while (cut && ((unsigned char)sum[cut] & 0xc0) == 0x80)
			cut--;
	}
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)sum[i];

		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (cut < strlen(sum)) {
		memcpy(buf + n, ell, sizeof(ell));
		n += sizeof(ell) - 1;
	}
	buf[n] = '\0';
	return 0;
}
