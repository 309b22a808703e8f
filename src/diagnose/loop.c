/* loop.c: event loops: a thread that keeps coming back to one poll, held away from it for longer than a stall, and what held it.
 *
 * An event loop's thread serves every client: time it spends away from its
 * poll is time no client is answered. Each wait of its own is classed as
 * usual (a sleep is idle), so a loop held 4 s in a sleep would read as
 * "no stall". Here, for each thread that polls at one site at least
 * DIAG_LOOP_MIN_POLLS times, the stretches between leaving the poll and
 * coming back are measured; one of DIAG_STALL_MAX_NS or more is a stall,
 * and its dominant content says why (docs/diagnose.md, "Event loops"):
 * on-CPU computing (busy), a lock, I/O, reclaim, or a sleep or other wait
 * (loop_blocked: those waits are re-classed). A wait inside it that another
 * thread of the target ended is a wait for that thread: app_lock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

bool diag_is_poll_syscall(int32_t nr)
{
	switch (nr) {
	case NR_epoll_wait: case NR_epoll_pwait: case NR_epoll_pwait2: case NR_poll: case NR_ppoll:
	case NR_select: case NR_pselect6: case NR_io_uring_enter:
		return true;
	default:
		return false;
	}
}

struct loops {
	struct ctx *x;
	size_t *byth, nb;       /* target blocks by (thread, start) */
	size_t *sbyth, ns;      /* target samples by (thread, time) */
	uint64_t *keys;         /* scratch: one thread's poll sites */
};

static bool is_poll(struct ctx *x, size_t bi)
{
	const struct cap_block *b = &x->cd->blocks[bi];

	return x->cls[bi] == DIAG_CAUSE_IDLE && b->in_syscall && diag_is_poll_syscall(b->syscall);
}

/* How many more calls deep the poll of block in stands than the poll of
 * block out, both on one path from the root (their user stacks share their
 * first frame); 0 when either has no user stack or they share no root. */
static size_t deeper_by(const struct ctx *x, size_t in, size_t out)
{
	const struct capdata *cd = x->cd;
	uint32_t si = cd->blocks[in].ustack, so = cd->blocks[out].ustack;
	const struct cap_stack *p, *q;

	if (si >= cd->nstacks || so >= cd->nstacks)
		return 0;
	p = &cd->stacks[si];
	q = &cd->stacks[so];
	if (!p->nframes || !q->nframes || strcmp(cd->frames[p->frames[0]].name, cd->frames[q->frames[0]].name))
		return 0;
	return p->nframes > q->nframes ? p->nframes - q->nframes : 0;
}

/* Whether the thread's blocks [a, z) poll, at a site other than block bi's,
 * DIAG_LOOP_OUTER_FRAMES calls or more further out: bi's polls run inside
 * work that the outer wait begins (a background process woken by a
 * request, throttling its writes with timed polls); they are not where the
 * thread waits between tasks. */
static bool outer_poll(struct loops *l, size_t a, size_t z, size_t bi, uint64_t site)
{
	size_t i;

	for (i = a; i < z; i++) {
		if (is_poll(l->x, l->byth[i]) && diag_site_key(l->x, &l->x->cd->blocks[l->byth[i]]) != site &&
		    deeper_by(l->x, bi, l->byth[i]) >= DIAG_LOOP_OUTER_FRAMES)
			return true;
	}
	return false;
}

/* The site thread's blocks [a, z) poll at most often, if at least
 * DIAG_LOOP_MIN_POLLS times; else 0. Not when the thread waits more often
 * at another site, idle: a pool's worker waiting for requests in accept or
 * a read, whose polls are for the answers of what its requests call (a
 * client library polling its socket), is no event loop. Nor when it polls
 * elsewhere further out (outer_poll). */
static uint64_t loop_site(struct loops *l, size_t a, size_t z)
{
	size_t n = 0, i, run = 0, best_n = 0, nidle, rep = SIZE_MAX;
	uint64_t best = 0, idle;

	for (i = a; i < z; i++) {
		if (is_poll(l->x, l->byth[i]))
			l->keys[n++] = diag_site_key(l->x, &l->x->cd->blocks[l->byth[i]]);
	}
	qsort(l->keys, n, sizeof(*l->keys), diag_cmp_u64);
	for (i = 0; i < n; i++) {
		run = i && l->keys[i] == l->keys[i - 1] ? run + 1 : 1;
		if (run > best_n) {
			best_n = run;
			best = l->keys[i];
		}
	}
	if (best_n < DIAG_LOOP_MIN_POLLS)
		return 0;
	if (diag_idle_site_of(l->x, l->x->cd->blocks[l->byth[a]].thread, &idle, &nidle) != SIZE_MAX && idle != best &&
	    nidle > best_n)
		return 0;
	for (i = a; i < z && rep == SIZE_MAX; i++) {
		if (is_poll(l->x, l->byth[i]) && diag_site_key(l->x, &l->x->cd->blocks[l->byth[i]]) == best)
			rep = l->byth[i];
	}
	return outer_poll(l, a, z, rep, best) ? 0 : best;
}

/* Thread t's samples in [s, e): on-CPU time, and how many were in the
 * kernel for other than memory: a loop that serves its clients cycles
 * through their syscalls (reads, writes, polls), while one that computes
 * enters the kernel only for its memory (freeing a big structure: madvise,
 * munmap, brk; page faults; reclaim), which is computing too. */
static void samples_in(struct loops *l, uint32_t t, uint64_t s, uint64_t e, uint64_t *oncpu, size_t *n,
		       size_t *kern)
{
	const struct capdata *cd = l->x->cd;
	size_t lo = 0, hi = l->ns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cap_sample *m = &cd->samples[l->sbyth[mid]];

		if (m->thread < t || (m->thread == t && m->ts_ns < s))
			lo = mid + 1;
		else
			hi = mid;
	}
	*oncpu = 0;
	*n = *kern = 0;
	for (; lo < l->ns; lo++) {
		const struct cap_sample *m = &cd->samples[l->sbyth[lo]];

		if (m->thread != t || m->ts_ns >= e)
			break;
		*oncpu = sat_add(*oncpu, l->x->period_ns);
		(*n)++;
		*kern += m->kstack < cd->nstacks && cd->stacks[m->kstack].nframes > 0 &&
			 !(diag_stack_feat(l->x, m->kstack) & (KF_MM | KF_RECLAIM));
	}
}

static int add_stall(struct ctx *x, const struct loopstall *ls)
{
	struct loopstall *n;

	if (!(x->nlstalls & (x->nlstalls + 1)) || !x->lstalls) {
		n = realloc(x->lstalls, (x->nlstalls + 1) * 2 * sizeof(*n));
		if (!n)
			return -ENOMEM;
		x->lstalls = n;
	}
	x->lstalls[x->nlstalls++] = *ls;
	return 0;
}

/* Waits that do not hold a loop away: a poll of its own elsewhere (another
 * loop, a wait for a file descriptor) that nothing of the target ended, and
 * a wait for work in a condition variable or semaphore (a connection's
 * thread parked in a thread cache between its clients): waiting for events.
 * Had another thread held a lock there, the convoy rule made it app_lock. */
static bool neutral_poll(struct ctx *x, size_t bi)
{
	const struct cap_block *b = &x->cd->blocks[bi];

	if (x->cls[bi] == DIAG_CAUSE_IDLE && (diag_stack_feat(x, b->ustack) & UF_WORK))
		return true;
	return is_poll(x, bi) && !diag_ended_by_target(x, &x->cd->blocks[bi]);
}

/* One stretch away from the poll: blocks [k0, k1) of byth lie in it. */
static int stretch(struct loops *l, uint32_t t, uint64_t s, uint64_t e, size_t k0, size_t k1, size_t poll)
{
	struct ctx *x = l->x;
	const struct capdata *cd = x->cd;
	struct loopstall ls = { .thread = t, .s = s, .e = e, .longest = SIZE_MAX, .poll_before = poll };
	uint64_t best_ns = 0, busy_ns, ov;
	size_t k, n, kern;
	unsigned int c, best = DIAG_CAUSE_IDLE;

	if (e <= s || e - s < DIAG_STALL_MAX_NS)
		return 0;
	for (k = k0; k < k1; k++) {
		const struct cap_block *b = &cd->blocks[l->byth[k]];

		if (neutral_poll(x, l->byth[k]))
			continue;
		ov = overlap(s, e, b->start_ns, block_end(b));
		ls.cause_ns[x->cls[l->byth[k]]] = sat_add(ls.cause_ns[x->cls[l->byth[k]]], ov);
		if (ls.longest == SIZE_MAX || b->dur_ns > cd->blocks[ls.longest].dur_ns)
			ls.longest = l->byth[k];
	}
	samples_in(l, t, s, e, &ls.oncpu_ns, &n, &kern);
	for (c = 0; c < DIAG_CAUSE__COUNT; c++) {
		if (c != DIAG_CAUSE_BUSY && c != DIAG_CAUSE_RUNQUEUE && ls.cause_ns[c] > best_ns) {
			best_ns = ls.cause_ns[c];
			best = c;
		}
	}
	busy_ns = sat_add(ls.oncpu_ns, sat_add(ls.cause_ns[DIAG_CAUSE_BUSY], ls.cause_ns[DIAG_CAUSE_RUNQUEUE]));
	if (busy_ns >= best_ns) {
		/* computing, not cycling through its clients' syscalls */
		if (!n || kern * 100 >= n * 20 || busy_ns * 2 < e - s)
			return 0;
		ls.why = DIAG_CAUSE_BUSY;
		return add_stall(x, &ls);
	}
	if (best_ns * 2 < e - s)
		return 0;
	ls.why = (uint8_t)best;
	if (best == DIAG_CAUSE_IDLE || best == DIAG_CAUSE_OTHER) {
		ls.why = DIAG_CAUSE_LOOP_BLOCKED;
		for (k = k0; k < k1; k++) {
			size_t bi = l->byth[k];
			const struct cap_block *b = &cd->blocks[bi];

			if ((x->cls[bi] != DIAG_CAUSE_IDLE && x->cls[bi] != DIAG_CAUSE_OTHER) || neutral_poll(x, bi))
				continue;
			x->rule[bi] = RULE_LOOP;
			if (diag_ended_by_target(x, b)) {
				/* another thread of the target ended it: it waited for that thread */
				x->cls[bi] = DIAG_CAUSE_APP_LOCK;
				x->prim[bi] = diag_block_primitive(x, b);
				x->gobj[bi] = diag_site_key(x, b);
				x->gpid[bi] = 0;
				ls.why = DIAG_CAUSE_APP_LOCK;
			} else {
				x->cls[bi] = DIAG_CAUSE_LOOP_BLOCKED;
			}
		}
	}
	return add_stall(x, &ls);
}

/* A poll site shared by DIAG_LOOP_MAX_THREADS threads or more is a
 * per-connection server's (a thread or a process per client, each polling
 * its one socket): a stretch away from it stalls one client, not the
 * service. Those threads are not event loops. keys: scratch, nthreads. */
static void per_connection(struct ctx *x, uint64_t *keys)
{
	size_t n = 0, i, lo, hi;

	for (i = 0; i < x->cd->nthreads; i++) {
		if (x->loopsite[i])
			keys[n++] = x->loopsite[i];
	}
	qsort(keys, n, sizeof(*keys), diag_cmp_u64);
	for (i = 0; i < x->cd->nthreads; i++) {
		uint64_t site = x->loopsite[i];

		if (!site)
			continue;
		for (lo = 0, hi = n; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (keys[mid] < site)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (hi = lo; hi < n && keys[hi] == site; hi++)
			;
		if (hi - lo >= DIAG_LOOP_MAX_THREADS)
			x->loopsite[i] = 0;
	}
}

/* Thread t's blocks [a, z) of byth: its stretches away from its loop's poll. */
static int one_thread(struct loops *l, size_t a, size_t z)
{
	struct ctx *x = l->x;
	const struct capdata *cd = x->cd;
	uint32_t t = cd->blocks[l->byth[a]].thread;
	uint64_t site = x->loopsite[t], from;
	size_t k, k0 = a, poll = SIZE_MAX;
	int err;

	if (!site)
		return 0;
	/* before the first poll: from the window's start, or from a wait that began earlier */
	from = cd->blocks[l->byth[a]].start_ns < x->win_start ? cd->blocks[l->byth[a]].start_ns : x->win_start;
	for (k = a; k < z; k++) {
		size_t bi = l->byth[k];

		if (!is_poll(x, bi) || diag_site_key(x, &cd->blocks[bi]) != site)
			continue;
		if ((err = stretch(l, t, from, cd->blocks[bi].start_ns, k0, k, poll)))
			return err;
		from = block_end(&cd->blocks[bi]);
		k0 = k + 1;
		poll = bi;
	}
	/* after the last one: to the window's end, if anything happened there */
	if (k0 < z)
		return stretch(l, t, from, x->win_end > from ? x->win_end : from, k0, z, poll);
	return 0;
}

int diag_loops(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	struct loops l = { .x = x };
	size_t i, j;
	int err = -ENOMEM;

	l.byth = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*l.byth));
	l.keys = malloc((cd->nblocks > cd->nthreads ? cd->nblocks : cd->nthreads ? cd->nthreads : 1) * sizeof(*l.keys));
	l.sbyth = malloc((cd->nsamples ? cd->nsamples : 1) * sizeof(*l.sbyth));
	if (!l.byth || !l.keys || !l.sbyth)
		goto out;
	for (i = 0; i < cd->nblocks; i++) {
		if (diag_thread_is_target(x, cd->blocks[i].thread))
			l.byth[l.nb++] = i;
	}
	memcpy(l.sbyth, x->samp, x->nsamp * sizeof(*x->samp));
	l.ns = x->nsamp;
	qsort_r(l.byth, l.nb, sizeof(*l.byth), diag_cmp_block_thread, (void *)cd);
	qsort_r(l.sbyth, l.ns, sizeof(*l.sbyth), diag_cmp_sample_thread, (void *)cd);
	err = 0;
	for (i = 0; i < l.nb; i = j) {
		for (j = i + 1; j < l.nb && cd->blocks[l.byth[j]].thread == cd->blocks[l.byth[i]].thread; j++)
			;
		x->loopsite[cd->blocks[l.byth[i]].thread] = loop_site(&l, i, j);
	}
	per_connection(x, l.keys);
	for (i = 0; i < l.nb && !err; i = j) {
		for (j = i + 1; j < l.nb && cd->blocks[l.byth[j]].thread == cd->blocks[l.byth[i]].thread; j++)
			;
		err = one_thread(&l, i, j);
	}
out:
	free(l.byth);
	free(l.keys);
	free(l.sbyth);
	return err;
}

/* The longest stall whose cause is on-CPU work (busy) or anything else. */
const struct loopstall *diag_top_loopstall(const struct ctx *x, bool busy)
{
	const struct loopstall *best = NULL;
	size_t i;

	for (i = 0; i < x->nlstalls; i++) {
		const struct loopstall *ls = &x->lstalls[i];

		if ((ls->why == DIAG_CAUSE_BUSY) == busy && (!best || ls->e - ls->s > best->e - best->s))
			best = ls;
	}
	return best;
}
