/* convoy.c: application locks whatever their primitive: long waits of several threads ended by the one thread that held what they waited for, told apart from a dispatcher handing out work.
 *
 * A condition variable, a semaphore or a latch (a poll woken by a signal, a
 * pipe or an eventfd) looks the same to the kernel whether the thread waits
 * for work or for a lock. Who ended the wait tells them apart (the rules and
 * their limits are in docs/diagnose.md, "Application locks"):
 * - a release: one thread ends the long waits of two or more threads at one
 *   wait site at once (no block of its own in between): it let go of what
 *   they queued for;
 * - a handoff: a thread whose own long wait at that site just ended ends
 *   the next one's there (each waiter passes the lock on);
 * - a dispatcher is not a holder: a thread that, at that site, mostly ends
 *   one wait at a time, in separate stretches, hands out work;
 * - a thread's outermost wait, where it waits between the tasks it serves
 *   from the same loop (waits_for_work), is no lock wait;
 * - a broadcast (one waker ending waits at several sites at once: a signal
 *   relayed to every child) hands nothing on across sites.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"
#include "util/htab.h"

#define SITE_FRAMES 12          /* leafmost frames that name a wait site */

/* A wait site: the syscall and the leafmost frames' names (names, not
 * addresses: the processes of a multi-process server may map their code
 * apart). User frames when there are any, else kernel frames. Never 0. */
uint64_t diag_site_key(struct ctx *x, const struct cap_block *b)
{
	const struct capdata *cd = x->cd;
	uint64_t h = htab_hash_u64(HTAB_HASH_SEED, b->in_syscall ? (uint64_t)b->syscall + 1 : 0);
	uint32_t st = b->ustack < cd->nstacks && cd->stacks[b->ustack].nframes ? b->ustack : b->kstack;
	uint32_t i, n = 0;

	if (st < cd->nstacks) {
		const struct cap_stack *s = &cd->stacks[st];

		for (i = s->nframes; i-- > 0 && n < SITE_FRAMES; n++)
			h = htab_hash_str(h, cd->frames[s->frames[i]].name);
	}
	return h | 1;
}

static bool syscall_latch(int32_t nr)
{
	switch (nr) {
	case NR_read: case NR_readv: case NR_recvfrom: case NR_recvmsg: case NR_pause:
	case NR_rt_sigsuspend: case NR_rt_sigtimedwait: case NR_nanosleep: case NR_clock_nanosleep:
		return true;
	default:
		return diag_is_poll_syscall(nr);
	}
}

uint8_t diag_block_primitive(struct ctx *x, const struct cap_block *b)
{
	uint16_t uf = diag_stack_feat(x, b->ustack), kf = diag_stack_feat(x, b->kstack);

	if (kf & KF_FLOCK)
		return DIAG_PRIM_FILE;
	if (uf & UF_RWLOCK)
		return DIAG_PRIM_RWLOCK;
	if (uf & UF_LOCK)
		return DIAG_PRIM_MUTEX;
	if (uf & UF_COND)
		return DIAG_PRIM_CONDVAR;
	if (uf & UF_SEM)
		return DIAG_PRIM_SEMAPHORE;
	if (kf & KF_FUTEX)
		return DIAG_PRIM_OTHER;
	if ((b->in_syscall && syscall_latch(b->syscall)) || (kf & KF_IDLE))
		return DIAG_PRIM_LATCH;
	return DIAG_PRIM_OTHER;
}

/* A wait ended by another thread of the target, with what the rules need. */
struct wake {
	size_t bi;              /* the block */
	uint64_t site;
	uint64_t at;            /* when it was woken */
	uint32_t waker, waiter;
	uint64_t start;         /* when the wait began: a timed wait re-armed is one wait */
	size_t first;           /* its first block (bi unless re-armed) */
	bool lng;               /* at least DIAG_CONVOY_WAIT_NS */
	bool mid;               /* begun in the window after other work of its thread: evidence */
	bool back;              /* its thread waited at the site again at once: nothing let it go on */
	bool lock;              /* found to be a lock wait */
	bool queue;             /* at a work queue's site (a dispatcher's) */
	bool bcast;             /* one of a broadcast's wakes (broadcasts()) */
};

static int cmp_wake_by_waker(const void *a, const void *b)
{
	const struct wake *p = a, *q = b;

	return diag_cmp(p->site, q->site) ?: diag_cmp(p->waker, q->waker) ?: diag_cmp(p->at, q->at) ?:
	       diag_cmp(p->bi, q->bi);
}


struct convoy {
	struct ctx *x;
	struct wake *w;
	size_t nw;
	bool *waits_here;       /* per thread: a waiter at the site being judged */
	size_t *outer;          /* per thread: 1 + its outer wait's block, SIZE_MAX none, 0 not known */
	bool *only;             /* per thread, with outer: the function of its outer wait only waits */
	uint64_t *idle;         /* per thread: its idle site + 1 once known (1: none) */
};

/* Thread t's idle site (diag_idle_site_of), 0 if none. */
static uint64_t idle_of(struct convoy *c, uint32_t t)
{
	if (!c->idle[t]) {
		uint64_t site;
		size_t n;

		diag_idle_site_of(c->x, t, &site, &n);
		c->idle[t] = site + 1;
	}
	return c->idle[t] - 1;
}

/* Whether thread t, having woken a waiter at time at, began at once
 * (within DIAG_REARM_GAP_NS) a wait of DIAG_CONVOY_WAIT_NS or more
 * somewhere else than its idle site: it woke a stand-in before blocking in
 * the middle of its work (a thread pool keeping a worker active while one
 * waits), it passed nothing on. */
static bool stood_down(struct convoy *c, uint32_t t, uint64_t at)
{
	struct ctx *x = c->x;
	size_t i = diag_byth_at(x, t, at);
	const struct cap_block *n;

	if (i >= x->nbyth)
		return false;
	n = &x->cd->blocks[x->byth[i]];
	return n->thread == t && n->start_ns - at <= DIAG_REARM_GAP_NS && n->dur_ns >= DIAG_CONVOY_WAIT_NS &&
	       n->state != CAP_STATE_RUNNABLE && diag_site_key(x, n) != idle_of(c, t);
}

/* Whether thread t began a voluntary block in (a, b): it went off-CPU in
 * between, so two wakes around it are not one release. */
static bool blocked_between(const struct ctx *x, uint32_t t, uint64_t a, uint64_t b)
{
	size_t lo = a == UINT64_MAX ? x->nbyth : diag_byth_at(x, t, a + 1);

	return lo < x->nbyth && x->cd->blocks[x->byth[lo]].thread == t && x->cd->blocks[x->byth[lo]].start_ns < b;
}

/* Whether the thread of block bi, once woken, waited at the same site again
 * within DIAG_REARM_GAP_NS: a pool's idle worker woken with the others and
 * finding nothing to do, not a waiter let go on with its work. */
static bool went_back(const struct ctx *x, size_t bi, uint64_t site)
{
	size_t pos = diag_byth_pos(x, bi) + 1;
	const struct cap_block *b = &x->cd->blocks[bi], *n;

	if (pos >= x->nbyth)
		return false;
	n = &x->cd->blocks[x->byth[pos]];
	return n->thread == b->thread && n->start_ns <= block_woken_at(b) + DIAG_REARM_GAP_NS &&
	       diag_site_key((struct ctx *)x, n) == site;
}

/* Whether thread t began a wait at site in (a, b): back at that site as a
 * waiter itself, so what it ended there after b was not passed on from
 * before a. */
static bool waited_at_between(struct ctx *x, uint32_t t, uint64_t a, uint64_t b, uint64_t site)
{
	size_t i;

	for (i = diag_byth_at(x, t, a + 1); i < x->nbyth; i++) {
		const struct cap_block *n = &x->cd->blocks[x->byth[i]];

		if (n->thread != t || n->start_ns >= b)
			break;
		if (diag_site_key(x, n) == site)
			return true;
	}
	return false;
}

/* The index of stack st's innermost frame of the program's own (runtime
 * libraries skipped), UINT32_MAX if none. */
static uint32_t innermost_own(struct ctx *x, const struct cap_stack *st)
{
	uint32_t k;

	for (k = st->nframes; k-- > 0 && (diag_frame_feat(x, st->frames[k]) & F_RUNTIME);)
		;
	return k;
}

/* How many frames, from the root, stacks s and o share (by name). */
static uint32_t shared_frames(const struct capdata *cd, const struct cap_stack *s, const struct cap_stack *o)
{
	uint32_t p;

	for (p = 0; p < s->nframes && p < o->nframes &&
		    !strcmp(cd->frames[s->frames[p]].name, cd->frames[o->frames[p]].name); p++)
		;
	return p;
}

/* Whether block bi waits inside the function that waits for work in block
 * idle (its innermost frame of the program's own, runtime libraries
 * skipped; never an unknown one): the two stacks are the same from the
 * root to that frame. A pool whose idle workers take turns listening (one polls the
 * sockets, the others wait on a condition variable, both in the pool's
 * get-work function) waits for work at two sites. */
bool diag_within_wait(struct ctx *x, size_t bi, size_t idle)
{
	const struct capdata *cd = x->cd;
	uint32_t si = cd->blocks[bi].ustack, so = cd->blocks[idle].ustack, k;
	const struct cap_stack *q;

	if (!diag_shows_ustack(cd, si) || !diag_shows_ustack(cd, so))
		return false;
	q = &cd->stacks[so];
	k = innermost_own(x, q);
	return k != UINT32_MAX && strcmp(cd->frames[q->frames[k]].name, "[unknown]") &&
	       shared_frames(cd, &cd->stacks[si], q) > k;
}

/* Non-runtime frames of stack st from frame i on (root first). */
static uint32_t own_from(struct ctx *x, const struct cap_stack *st, uint32_t i)
{
	uint32_t n = 0;

	for (; i < st->nframes; i++)
		n += !(diag_frame_feat(x, st->frames[i]) & F_RUNTIME);
	return n;
}

#define OUTER_MAX_STACKS 64

/* Stacks tried once each: 1 when st is new (recorded in seen), 0 when seen
 * before, -1 when OUTER_MAX_STACKS are already recorded. */
static int try_stack(uint32_t *seen, uint32_t *n, uint32_t st)
{
	uint32_t i;

	for (i = 0; i < *n; i++) {
		if (seen[i] == st)
			return 0;
	}
	if (*n == OUTER_MAX_STACKS)
		return -1;
	seen[(*n)++] = st;
	return 1;
}

/* Whether block bi waits at its thread's wait for work: the thread's loop
 * calls into this wait with at most DIAG_LOOP_OUTER_FRAMES frames of its
 * own, and elsewhere into work that blocks at least DIAG_LOOP_OUTER_FRAMES
 * calls deeper than that (a pool's worker: get_event, then a request's I/O
 * or lock). */
static bool outer_wait(struct ctx *x, size_t bi)
{
	const struct capdata *cd = x->cd;
	uint32_t t = cd->blocks[bi].thread, su = cd->blocks[bi].ustack, seen[OUTER_MAX_STACKS], ns = 0;
	const struct cap_stack *s;
	bool deeper = false;
	size_t k;

	if (!diag_shows_ustack(cd, su))
		return false;
	s = &cd->stacks[su];
	for (k = diag_byth_at(x, t, 0); k < x->nbyth && cd->blocks[x->byth[k]].thread == t; k++) {
		uint32_t bu = cd->blocks[x->byth[k]].ustack, p, a, b;
		const struct cap_stack *o;
		int tr;

		if (bu == su || !diag_shows_ustack(cd, bu) || !(tr = try_stack(seen, &ns, bu)))
			continue;
		if (tr < 0)
			break;
		o = &cd->stacks[bu];
		if (!(p = shared_frames(cd, s, o)))
			continue;
		a = own_from(x, s, p);
		b = own_from(x, o, p);
		if (b < a)      /* a wait further out than this one: not the outermost */
			return false;
		deeper |= a <= DIAG_LOOP_OUTER_FRAMES && b >= a + DIAG_LOOP_OUTER_FRAMES;
	}
	return deeper;
}

/* Whether the function that waits in block ob (its innermost frame of the
 * program's own) only waits: no block of its thread runs
 * DIAG_LOOP_OUTER_FRAMES calls of its own or more inside it (a pool's
 * get_event; not a connection thread's loop, which waits in its thread
 * cache and calls into its requests). */
static bool only_waits(struct ctx *x, size_t ob)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *o = &cd->stacks[cd->blocks[ob].ustack];
	uint32_t t = cd->blocks[ob].thread, k = innermost_own(x, o);
	size_t j;

	if (k == UINT32_MAX)
		return false;
	for (j = diag_byth_at(x, t, 0); j < x->nbyth && cd->blocks[x->byth[j]].thread == t; j++) {
		const struct cap_block *b = &cd->blocks[x->byth[j]];
		const struct cap_stack *s;

		if (!diag_shows_ustack(cd, b->ustack) || b->ustack == cd->blocks[ob].ustack)
			continue;
		s = &cd->stacks[b->ustack];
		if (shared_frames(cd, s, o) > k && own_from(x, s, k + 1) >= DIAG_LOOP_OUTER_FRAMES)
			return false;
	}
	return true;
}

/* Thread t's wait for work as outer_wait() finds it: 1 + a block of it, or
 * SIZE_MAX; with c->only[t] (cached). Each of the thread's stacks is tried
 * once. */
static size_t outer_of(struct convoy *c, uint32_t t)
{
	struct ctx *x = c->x;
	uint32_t tried[OUTER_MAX_STACKS], nt = 0;
	size_t k;
	int tr;

	if (c->outer[t])
		return c->outer[t];
	c->outer[t] = SIZE_MAX;
	for (k = diag_byth_at(x, t, 0); k < x->nbyth && x->cd->blocks[x->byth[k]].thread == t; k++) {
		if (x->cls[x->byth[k]] != DIAG_CAUSE_IDLE ||
		    !(tr = try_stack(tried, &nt, x->cd->blocks[x->byth[k]].ustack)))
			continue;
		if (tr < 0)
			break;
		if (outer_wait(x, x->byth[k])) {
			c->outer[t] = x->byth[k] + 1;
			c->only[t] = only_waits(x, x->byth[k]);
			break;
		}
	}
	return c->outer[t];
}

/* Whether block bi waits for work: at its thread's outer wait's site, or
 * at another inside the function that waits there when that function only
 * waits (a pool's worker whose turn it is to listen polls the clients'
 * sockets inside get_event). */
static bool waits_for_work(struct convoy *c, size_t bi)
{
	struct ctx *x = c->x;
	size_t o = outer_of(c, x->cd->blocks[bi].thread);

	if (o == SIZE_MAX)
		return false;
	if (diag_site_key(x, &x->cd->blocks[bi]) == diag_site_key(x, &x->cd->blocks[o - 1]))
		return true;
	return c->only[x->cd->blocks[bi].thread] && diag_within_wait(x, bi, o - 1);
}

static int collect(struct convoy *c)
{
	struct ctx *x = c->x;
	const struct capdata *cd = x->cd;
	size_t i;

	c->w = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*c->w));
	c->waits_here = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*c->waits_here));
	c->outer = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*c->outer));
	c->only = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*c->only));
	c->idle = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*c->idle));
	if (!c->w || !c->waits_here || !c->idle || !c->outer || !c->only)
		return -ENOMEM;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];

		/* idle-looking waits, and lock waits of unknown primitive */
		if (!(x->cls[i] == DIAG_CAUSE_IDLE ||
		      (x->cls[i] == DIAG_CAUSE_APP_LOCK && x->prim[i] == DIAG_PRIM_OTHER)) ||
		    !diag_thread_is_target(x, b->thread) || !diag_waker_real(x, b) ||
		    !diag_thread_is_target(x, b->waker) || (b->flags & CAP_BLOCK_WOKEN_IRQ) ||
		    waits_for_work(c, i))
			continue;
		c->w[c->nw++] = (struct wake){ .bi = i, .site = diag_site_key(x, b), .at = block_woken_at(b),
					      .waker = b->waker, .waiter = b->thread };
	}
	/* Only a wait the waiter began in the middle of its work tells a lock
	 * from a wait for work: one already going when the capture began (a
	 * pool idle since before, then woken all at once to shut down) does not. */
	for (i = 0; i < c->nw; i++) {
		const struct cap_block *b;

		c->w[i].first = x->byth[diag_rearmed_first(x, diag_byth_pos(x, c->w[i].bi), DIAG_ANY_WAKER)];
		b = &cd->blocks[c->w[i].first];
		c->w[i].start = b->start_ns;
		c->w[i].lng = c->w[i].at - b->start_ns >= DIAG_CONVOY_WAIT_NS;
		c->w[i].mid = c->w[i].lng && !(b->flags & CAP_BLOCK_BEGAN_BEFORE) && b->start_ns > x->win_start &&
			      blocked_between(x, b->thread, x->win_start ? x->win_start - 1 : 0, b->start_ns);
		c->w[i].back = went_back(x, c->w[i].bi, c->w[i].site);
	}
	qsort(c->w, c->nw, sizeof(*c->w), cmp_wake_by_waker);
	return 0;
}

/* The end of the stretch of wakes that begins at i (< z): the wakes of one
 * release, close together with no block of the waker in between. */
static size_t stretch_end(const struct convoy *c, size_t i, size_t z)
{
	size_t j;

	for (j = i + 1; j < z && c->w[j].at - c->w[j - 1].at <= DIAG_RELEASE_GAP_NS &&
			!blocked_between(c->x, c->w[i].waker, c->w[j - 1].at, c->w[j].at);
	     j++)
		;
	return j;
}

/* The wakes [a, z) of one waker at one site, in time order, split into
 * stretches: how many ended long waits, and how many of those one each. */
static void count_stretches(const struct convoy *c, size_t a, size_t z, size_t *stretches, size_t *singles)
{
	size_t i, j, k, n;

	for (i = a; i < z; i = j) {
		j = stretch_end(c, i, z);
		for (k = i, n = 0; k < j; k++)
			n += c->w[k].lng;
		*stretches += n > 0;
		*singles += n == 1;
	}
}

/* Whether stretches, singles say a dispatcher: one that, over
 * DIAG_DISPATCH_MIN stretches or more, mostly ended one long wait at a time. */
static bool dispatches(size_t stretches, size_t singles)
{
	return stretches >= DIAG_DISPATCH_MIN && singles * 100 >= stretches * DIAG_DISPATCH_PCT;
}

/* Whether one waker's stretches (it does not wait at the site) say it hands
 * out work in bursts: a lock's holder ends its waiters' long waits once per
 * hold, while a thread that wakes an idle pool whenever work comes (I/O
 * completions handed to a thread pool's workers) does so again and again,
 * several workers at a time. */
static bool bursts(size_t stretches)
{
	return stretches >= DIAG_DISPATCH_BURSTS;
}

/* Marks the wakes of [a, z) (one waker, one site) that belong to a release
 * ending two threads' long waits begun mid-work, one of which went on with
 * its work (did not wait there again at once); none when the waker is a
 * dispatcher there. */
static void releases(struct convoy *c, size_t a, size_t z)
{
	size_t i, j, k, stretches = 0, singles = 0;

	count_stretches(c, a, z, &stretches, &singles);
	if (dispatches(stretches, singles) || (!c->waits_here[c->w[a].waker] && bursts(stretches)))
		return;
	for (i = a; i < z; i = j) {
		uint32_t first = UINT32_MAX;
		bool two = false, on = false;

		j = stretch_end(c, i, z);
		for (k = i; k < j; k++) {
			if (!c->w[k].mid)
				continue;
			on |= !c->w[k].back;
			if (first == UINT32_MAX)
				first = c->w[k].waiter;
			else if (c->w[k].waiter != first)
				two = true;
		}
		two &= on;
		for (k = i; two && k < j; k++)
			c->w[k].lock = true;
	}
}

static int cmp_wake_by_waiter(const void *a, const void *b)
{
	const struct wake *p = a, *q = b;

	return diag_cmp(p->site, q->site) ?: diag_cmp(p->waiter, q->waiter) ?: diag_cmp(p->at, q->at) ?:
	       diag_cmp(p->bi, q->bi);
}

/* Whether w's waker, just before it ended w, gave up a long wait of its own
 * at w's site: that wait ended unwoken (a timeout) while w was already
 * queued, and the waker blocked nowhere in between (its last block). A
 * PostgreSQL backend whose lock wait's deadlock check (or lock_timeout)
 * fires aborts its transaction, and its locks' waiters go on: the timed-out
 * wait was for the lock too. Such a wait has no waker, so it is no entry of
 * c->w. */
static bool timed_out_before(struct convoy *c, const struct wake *w)
{
	struct ctx *x = c->x;
	size_t pos = diag_byth_at(x, w->waker, w->at);
	const struct cap_block *p;
	uint64_t pe;

	if (!pos)
		return false;
	p = &x->cd->blocks[x->byth[pos - 1]];
	pe = block_end(p);
	return p->thread == w->waker && pe <= w->at && w->at - pe <= DIAG_HANDOFF_NS && w->start < pe &&
	       p->dur_ns >= DIAG_CONVOY_WAIT_NS && p->state != CAP_STATE_RUNNABLE &&
	       !diag_woken_by_task(x, p) && diag_site_key(x, p) == w->site &&
	       !stood_down(c, w->waker, w->at);
}

/* Handoffs at one site ([a, z), sorted by waiter): a long wait ended by a
 * thread whose own long wait there (it queued for its turn) ended while
 * this one was already queued, and not long before (DIAG_HANDOFF_NS: its
 * turn holding the lock), was passed the lock. Both are lock waits. A
 * pool's workers that wake each other at their wait for work after a few
 * ms there pass nothing on. A waker whose own wait there timed out just
 * before hands it on too (timed_out_before()). Returns whether one was
 * found. */
static bool handoffs(struct convoy *c, size_t a, size_t z)
{
	const struct capdata *cd = c->x->cd;
	bool any = false;
	size_t i;

	for (i = a; i < z; i++) {
		struct wake *w = &c->w[i];
		size_t lo = a, hi = z;

		if (!w->mid || w->queue)
			continue;
		/* the waker's last wait at this site that ended before w's wake */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const struct wake *m = &c->w[mid];

			if (m->waiter < w->waker || (m->waiter == w->waker && block_end(&cd->blocks[m->bi]) <= w->at))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == a || c->w[lo - 1].waiter != w->waker) {
			if (timed_out_before(c, w)) {
				w->lock = true;
				any = true;
			}
			continue;
		}
		{
			struct wake *prev = &c->w[lo - 1];
			uint64_t pe = block_end(&cd->blocks[prev->bi]);

			if (prev->lng && w->at - pe <= DIAG_HANDOFF_NS && w->start < pe &&
			    !stood_down(c, w->waker, w->at)) {
				w->lock = prev->lock = true;
				any = true;
			}
		}
	}
	return any;
}

struct endref {
	uint32_t waiter;
	uint64_t end;
	size_t wi;              /* index in c->w */
};

static int cmp_endref(const void *a, const void *b)
{
	const struct endref *p = a, *q = b;

	return diag_cmp(p->waiter, q->waiter) ?: diag_cmp(p->end, q->end) ?: diag_cmp(p->wi, q->wi);
}

static int cmp_wake_ref_by_waker_at(const void *a, const void *b, void *arg)
{
	const struct wake *w = arg, *p = &w[*(const size_t *)a], *q = &w[*(const size_t *)b];

	return diag_cmp(p->waker, q->waker) ?: diag_cmp(p->at, q->at) ?: diag_cmp(p->bi, q->bi);
}

/* Marks the wakes of broadcasts: a stretch of one waker's wakes (close
 * together, no block of its own in between) that ended long waits at
 * DIAG_BROADCAST_SITES sites or more. A signal sent to every child (a
 * PostgreSQL postmaster relaying a configuration reload or a shutdown to
 * its backends and auxiliary processes) ends waits wherever they are; a
 * lock's release ends its waiters', at its site. */
static int broadcasts(struct convoy *c)
{
	size_t *ix = malloc((c->nw ? c->nw : 1) * sizeof(*ix)), i, j, k;

	if (!ix)
		return -ENOMEM;
	for (i = 0; i < c->nw; i++)
		ix[i] = i;
	qsort_r(ix, c->nw, sizeof(*ix), cmp_wake_ref_by_waker_at, c->w);
	for (i = 0; i < c->nw; i = j) {
		uint64_t sites[DIAG_BROADCAST_SITES];
		size_t n = 0, m;

		for (j = i + 1; j < c->nw && c->w[ix[j]].waker == c->w[ix[i]].waker &&
				c->w[ix[j]].at - c->w[ix[j - 1]].at <= DIAG_RELEASE_GAP_NS &&
				!blocked_between(c->x, c->w[ix[i]].waker, c->w[ix[j - 1]].at, c->w[ix[j]].at);
		     j++)
			;
		for (k = i; k < j && n < DIAG_BROADCAST_SITES; k++) {
			if (!c->w[ix[k]].lng)
				continue;
			for (m = 0; m < n && sites[m] != c->w[ix[k]].site; m++)
				;
			if (m == n)
				sites[n++] = c->w[ix[k]].site;
		}
		for (k = i; n >= DIAG_BROADCAST_SITES && k < j; k++)
			c->w[ix[k]].bcast = true;
	}
	free(ix);
	return 0;
}

/* Handoffs across sites: a long wait ended by a thread that had itself just
 * been released from a long wait (at any site: a row's lock taken after the
 * transaction it waited for ended), while this one was already queued, and
 * that did not wait at this one's site in between (a pool's worker let go
 * by a lock, back at its wait for work, then queuing a request). A lock
 * passed on down a queue: both are lock waits. */
static int cross_handoffs(struct convoy *c)
{
	const struct capdata *cd = c->x->cd;
	struct endref *e = malloc((c->nw ? c->nw : 1) * sizeof(*e));
	size_t n = 0, i;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < c->nw; i++) {
		if (c->w[i].lng)
			e[n++] = (struct endref){ c->w[i].waiter, block_end(&cd->blocks[c->w[i].bi]), i };
	}
	qsort(e, n, sizeof(*e), cmp_endref);
	for (i = 0; i < c->nw; i++) {
		struct wake *w = &c->w[i];
		size_t lo = 0, hi = n;

		/* a broadcast hands nothing on: its waker was woken, and woke
		 * everyone (a reload's signal relayed to every child) */
		if (!w->mid || w->queue || w->bcast)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (e[mid].waiter < w->waker || (e[mid].waiter == w->waker && e[mid].end <= w->at))
				lo = mid + 1;
			else
				hi = mid;
		}
		/* nor was a waker woken by a broadcast handed a lock */
		if (!lo || e[lo - 1].waiter != w->waker || c->w[e[lo - 1].wi].queue || c->w[e[lo - 1].wi].bcast)
			continue;
		if (w->at - e[lo - 1].end <= DIAG_HANDOFF_NS && w->start < e[lo - 1].end &&
		    !waited_at_between(c->x, w->waker, e[lo - 1].end, w->at, w->site) &&
		    !stood_down(c, w->waker, w->at))
			w->lock = c->w[e[lo - 1].wi].lock = true;
	}
	free(e);
	return 0;
}

/* The convoy rule: marks the lock waits app_lock, grouped by wait site
 * across the target's processes. */
int diag_convoys(struct ctx *x)
{
	struct convoy c = { .x = x };
	uint64_t *sites = NULL;
	size_t i, j, k, z;
	int err;

	if ((err = collect(&c)) || (err = broadcasts(&c)))
		goto out;
	for (i = 0; i < c.nw; i = z) {
		size_t stretches = 0, singles = 0;
		bool burst = false;

		/* a work queue: at this site, waits mostly end one at a time,
		 * whoever ends them (but those who wait there too, who hand
		 * a lock on to each other); no release there is a lock's */
		for (z = i + 1; z < c.nw && c.w[z].site == c.w[i].site; z++)
			;
		for (k = i; k < z; k++)
			c.waits_here[c.w[k].waiter] = true;
		for (k = i; k < z; k = j) {
			for (j = k + 1; j < z && c.w[j].waker == c.w[k].waker; j++)
				;
			if (!c.waits_here[c.w[k].waker]) {
				size_t s0 = stretches;

				count_stretches(&c, k, j, &stretches, &singles);
				burst |= bursts(stretches - s0);
			}
		}
		for (k = i; k < z; k++)
			c.waits_here[c.w[k].waiter] = false;
		if (burst || dispatches(stretches, singles)) {
			for (k = i; k < z; k++)
				c.w[k].queue = true;
			continue;
		}
		for (k = i; k < z; k = j) {
			for (j = k + 1; j < z && c.w[j].waker == c.w[k].waker; j++)
				;
			releases(&c, k, j);
		}
	}
	qsort(c.w, c.nw, sizeof(*c.w), cmp_wake_by_waiter);
	for (i = 0; i < c.nw; i = j) {
		for (j = i + 1; j < c.nw && c.w[j].site == c.w[i].site; j++)
			;
		handoffs(&c, i, j);
	}
	if ((err = cross_handoffs(&c)))
		goto out;
	/* the lock sites, each once, sorted */
	sites = malloc((c.nw ? c.nw : 1) * sizeof(*sites));
	if (!sites) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, z = 0; i < c.nw; i++) {
		if (c.w[i].lock && (!z || sites[z - 1] != c.w[i].site))
			sites[z++] = c.w[i].site;
	}
	qsort(sites, z, sizeof(*sites), diag_cmp_u64);
	/* At a lock's site every wait is for it: those a timeout ended too (a
	 * timed wait re-armed until the lock comes, as a deadlock detector
	 * does), and those nothing ended yet. */
	for (i = 0; z && i < x->cd->nblocks; i++) {
		const struct cap_block *b = &x->cd->blocks[i];
		uint64_t site;

		if ((x->cls[i] != DIAG_CAUSE_IDLE && !(x->cls[i] == DIAG_CAUSE_APP_LOCK && x->prim[i] == DIAG_PRIM_OTHER)) ||
		    !diag_thread_is_target(x, b->thread) || b->state == CAP_STATE_RUNNABLE)
			continue;
		site = diag_site_key(x, b);
		if (!bsearch(&site, sites, z, sizeof(*sites), diag_cmp_u64))
			continue;
		x->rule[i] = RULE_SITE;
		x->cls[i] = DIAG_CAUSE_APP_LOCK;
		x->prim[i] = diag_block_primitive(x, b);
		x->gobj[i] = site;
		x->gpid[i] = 0;
	}
	for (i = 0; i < c.nw; i++) {
		if (c.w[i].lock)
			x->rule[c.w[i].bi] = RULE_CONVOY;
	}
out:
	free(sites);
	free(c.w);
	free(c.waits_here);
	free(c.idle);
	free(c.outer);
	free(c.only);
	return err;
}
