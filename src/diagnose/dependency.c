/* dependency.c: the dependency rule: a pool's workers held up mid-request, all at one
 * call, waiting for another process's answer on a socket or a pipe (a
 * cache, a database, a backend), which then came to them all at once.
 *
 * Such a wait is idle by the per-block rules (a read, a recv or a poll,
 * asleep), like a worker's wait for its next request. What tells them
 * apart here:
 * - the worker's wait for work is where it waits most often: its idle site
 *   (at least DIAG_DEP_IDLE_MIN waits there); a wait elsewhere is one in
 *   the middle of its work;
 * - the waits at that other site lasted DIAG_STALL_MAX_NS or more, and at
 *   least two workers' waits there, going on together, ended within
 *   DIAG_RELEASE_GAP_NS of each other: what they waited on came back and
 *   answered them all. Those answered together hold at least half of the
 *   site's long wait time. A burst of requests after a quiet spell ends
 *   waits at the idle site, never here; a client idle on a kept-alive
 *   connection ends its worker's wait by itself, and two of them ending
 *   together are a few among many such waits.
 * Event loops are loop.c's: a wait away from the poll is a loop stall.
 *
 * The pool rule (diag_pools) takes the workers the same way: when every
 * worker of a pool (the threads that share an idle site) was away from it
 * at once, each in a sleep (nanosleep, clock_nanosleep: never a wait for
 * work) begun in its request, for DIAG_STALL_MAX_NS or more, no worker was
 * free to take a request: those sleeps held the service (loop_blocked, as
 * an event loop's). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "diagnose/diagnose_int.h"
#include "util/syscalls.h"

/* A wait for another process's answer: a read, a recv, a poll, a connect. */
static bool waits_for_peer(const struct cap_block *b)
{
	if (!b->in_syscall)
		return false;
	switch (b->syscall) {
	case NR_read: case NR_readv: case NR_recvfrom: case NR_recvmsg: case NR_recvmmsg: case NR_connect:
		return true;
	default:
		return diag_is_poll_syscall(b->syscall);
	}
}

/* An idle-looking sleep (interruptible) of a target thread. */
static bool idle_sleep(const struct ctx *x, size_t i)
{
	const struct cap_block *b = &x->cd->blocks[i];

	return x->cls[i] == DIAG_CAUSE_IDLE && b->state == CAP_STATE_SLEEPING && diag_thread_is_target(x, b->thread);
}

struct cand {
	uint64_t site;
	uint64_t start, end;    /* end: UINT64_MAX while still going at the window's end */
	uint32_t thread;
	size_t bi;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *p = a, *q = b;

	return diag_cmp(p->site, q->site) ?: diag_cmp(p->end, q->end) ?: diag_cmp(p->bi, q->bi);
}

size_t diag_idle_site_of(struct ctx *x, uint32_t t, uint64_t *site, size_t *count)
{
	const struct capdata *cd = x->cd;
	size_t lo = diag_byth_at(x, t, 0), hi = lo, i, n = 0, best = 0, best_n = 0, at = SIZE_MAX;
	uint64_t *keys;

	*site = 0;
	*count = 0;
	while (hi < x->nbyth && cd->blocks[x->byth[hi]].thread == t)
		hi++;
	if (hi == lo || !(keys = malloc((hi - lo) * sizeof(*keys))))
		return SIZE_MAX;
	for (i = lo; i < hi; i++) {
		if (idle_sleep(x, x->byth[i]))
			keys[n++] = diag_site_key(x, &cd->blocks[x->byth[i]]);
	}
	qsort(keys, n, sizeof(*keys), diag_cmp_u64);
	for (i = 0; i < n; i++) {
		size_t j = i;

		while (j < n && keys[j] == keys[i])
			j++;
		if (j - i > best_n) {
			best_n = j - i;
			best = i;
		}
		i = j - 1;
	}
	if (best_n >= DIAG_DEP_IDLE_MIN) {
		*site = keys[best];
		*count = best_n;
		for (i = lo; i < hi && at == SIZE_MAX; i++) {
			if (idle_sleep(x, x->byth[i]) && diag_site_key(x, &cd->blocks[x->byth[i]]) == *site)
				at = x->byth[i];
		}
	}
	free(keys);
	return at;
}

/* Whether candidate i (of [a, z), one site, by end) was answered with
 * another thread's: the two waits went on together and ended within
 * DIAG_RELEASE_GAP_NS of each other. */
static bool released_with_another(const struct cand *c, size_t a, size_t z, size_t i)
{
	size_t j;

	for (j = i; j > a && c[i].end - c[j - 1].end <= DIAG_RELEASE_GAP_NS; j--) {
		if (c[j - 1].thread != c[i].thread && c[i].start < c[j - 1].end)
			return true;
	}
	for (j = i + 1; j < z && c[j].end != UINT64_MAX && c[j].end - c[i].end <= DIAG_RELEASE_GAP_NS; j++) {
		if (c[j].thread != c[i].thread && c[j].start < c[i].end)
			return true;
	}
	return false;
}

/* Whether the candidates [a, z) (one site, by end) hold a release that
 * accounts for at least half of their ended wait time. A frozen
 * dependency's waits end together, and they are most of the site's long
 * waits; clients pausing on kept-alive connections end theirs at their own
 * times, and two of them ending together is a coincidence among many. */
static bool released_together(const struct cand *c, size_t a, size_t z)
{
	uint64_t released = 0, ended = 0;
	size_t i, n = 0;

	for (i = a; i < z && c[i].end != UINT64_MAX; i++) {
		ended += c[i].end - c[i].start;
		if (released_with_another(c, a, z, i)) {
			released += c[i].end - c[i].start;
			n++;
		}
	}
	return n >= 2 && released >= ended - released;
}

int diag_dependencies(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	struct cand *c = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*c));
	size_t n = 0, i, a, z;
	uint32_t t;

	if (!c)
		return -ENOMEM;
	for (t = 0; t < cd->nthreads; t++) {
		uint64_t idle;
		size_t k, nidle, ib;

		if (!diag_thread_is_target(x, t) || x->loopsite[t] ||
		    (ib = diag_idle_site_of(x, t, &idle, &nidle)) == SIZE_MAX)
			continue;
		for (k = diag_byth_at(x, t, 0); k < x->nbyth && cd->blocks[x->byth[k]].thread == t; k++) {
			size_t bi = x->byth[k];
			const struct cap_block *b = &cd->blocks[bi];
			uint64_t site;

			if (!idle_sleep(x, bi) || b->dur_ns < DIAG_STALL_MAX_NS || !waits_for_peer(b) ||
			    (b->flags & CAP_BLOCK_BEGAN_BEFORE) || (site = diag_site_key(x, b)) == idle ||
			    diag_within_wait(x, bi, ib))
				continue;
			c[n++] = (struct cand){ .site = site, .start = b->start_ns, .thread = t, .bi = bi,
						.end = (b->flags & CAP_BLOCK_IN_PROGRESS) ? UINT64_MAX : block_end(b) };
		}
	}
	qsort(c, n, sizeof(*c), cmp_cand);
	for (a = 0; a < n; a = z) {
		for (z = a + 1; z < n && c[z].site == c[a].site; z++)
			;
		if (!released_together(c, a, z))
			continue;
		for (i = a; i < z; i++) {
			x->cls[c[i].bi] = DIAG_CAUSE_DEPENDENCY;
			x->rule[c[i].bi] = RULE_DEP;
			x->gobj[c[i].bi] = c[i].site;
			x->gpid[c[i].bi] = 0;
		}
	}
	free(c);
	return 0;
}

/* at one instant: ends, then a worker's first sign of life, then starts
 * (waits that only touch do not overlap; a worker whose first block is
 * such a sleep counts before its sleep does) */
enum { PW_END, PW_BIRTH, PW_START };

struct pwait {
	uint64_t idle;          /* the worker's idle site: its pool */
	uint64_t at;            /* a wait's start or end, or the worker's first block's start */
	uint32_t thread;
	size_t bi;
	uint8_t ev;             /* PW_* */
};

static int cmp_pwait(const void *a, const void *b)
{
	const struct pwait *p = a, *q = b;

	return diag_cmp(p->idle, q->idle) ?: diag_cmp(p->at, q->at) ?: diag_cmp(p->ev, q->ev) ?:
	       diag_cmp(p->bi, q->bi);
}

/* Keeps the spell [s, e) of nw workers in *ps when it is a stall and the
 * longest yet. */
static void keep_spell(struct poolstall *ps, uint64_t s, uint64_t e, uint32_t nw, size_t idle)
{
	if (e > s && e - s >= DIAG_STALL_MAX_NS && e - s > ps->e - ps->s)
		*ps = (struct poolstall){ .s = s, .e = e, .workers = nw, .idle = idle, .longest = SIZE_MAX };
}

/* The pool [a, z) (one idle site: its workers' first blocks and their
 * mid-request sleeps' starts and ends, in time order): the longest spell
 * every worker seen so far (2 or more) was in such a sleep at once, into
 * *ps when longer than it holds. A pool that grows (php-fpm's dynamic
 * one) counts the workers it has; a new worker that takes a queued request
 * and sleeps at once (within DIAG_RELEASE_GAP_NS) does not end the spell,
 * nor does a worker that wakes and sleeps again on the next request. */
static void pool_spell(const struct pwait *w, size_t a, size_t z, size_t idle, struct poolstall *ps)
{
	uint32_t in = 0, born = 0, nw = 0;
	uint64_t from = 0, to = 0;
	bool full = false, run = false;
	size_t i;

	for (i = a; i < z; i++) {
		if (w[i].ev == PW_BIRTH)
			born++;
		else if (w[i].ev == PW_START)
			in++;
		else
			in--;
		if (!full && born >= 2 && in == born) {
			full = true;
			if (!run || w[i].at - to > DIAG_RELEASE_GAP_NS) {
				if (run)
					keep_spell(ps, from, to, nw, idle);
				from = w[i].at;
				nw = 0;
			}
			run = true;
			nw = born > nw ? born : nw;
		} else if (full && in < born) {
			full = false;
			to = w[i].at;
		}
	}
	if (run)
		keep_spell(ps, from, full ? w[z - 1].at : to, nw, idle);
}

int diag_pools(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	struct pwait *w = malloc((2 * cd->nblocks + cd->nthreads + 1) * sizeof(*w));
	uint64_t *tidle = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*tidle));
	size_t *trep = malloc((cd->nthreads ? cd->nthreads : 1) * sizeof(*trep));
	size_t n = 0, a, z, i;
	uint64_t pool;
	uint32_t t;

	x->pstall = (struct poolstall){ .idle = SIZE_MAX, .longest = SIZE_MAX };
	if (!w || !tidle || !trep) {
		free(w);
		free(tidle);
		free(trep);
		return -ENOMEM;
	}
	for (t = 0; t < cd->nthreads; t++) {
		uint64_t idle;
		size_t k, nidle;

		if (!diag_thread_is_target(x, t) || x->loopsite[t] ||
		    (trep[t] = diag_idle_site_of(x, t, &idle, &nidle)) == SIZE_MAX)
			continue;
		tidle[t] = idle;
		/* the worker, from its first block on: the pool's size */
		k = diag_byth_at(x, t, 0);
		w[n++] = (struct pwait){ .idle = idle, .at = cd->blocks[x->byth[k]].start_ns, .thread = t,
					 .bi = SIZE_MAX, .ev = PW_BIRTH };
		for (; k < x->nbyth && cd->blocks[x->byth[k]].thread == t; k++) {
			size_t bi = x->byth[k];
			const struct cap_block *b = &cd->blocks[bi];

			if (!idle_sleep(x, bi) || !b->in_syscall ||
			    (b->syscall != NR_nanosleep && b->syscall != NR_clock_nanosleep) ||
			    b->dur_ns < DIAG_STALL_MAX_NS || (b->flags & CAP_BLOCK_BEGAN_BEFORE) || diag_site_key(x, b) == idle)
				continue;
			w[n++] = (struct pwait){ .idle = idle, .at = b->start_ns, .thread = t, .bi = bi, .ev = PW_START };
			w[n++] = (struct pwait){ .idle = idle, .at = block_end(b), .thread = t, .bi = bi, .ev = PW_END };
		}
	}
	qsort(w, n, sizeof(*w), cmp_pwait);
	for (a = 0; a < n; a = z) {
		for (z = a; z < n && w[z].idle == w[a].idle; z++)
			;
		pool_spell(w, a, z, trep[w[a].thread], &x->pstall);
	}
	/* the waits that held it: those of its workers going on in the spell */
	pool = x->pstall.e > x->pstall.s ? diag_site_key(x, &cd->blocks[x->pstall.idle]) : 0;
	for (i = 0; pool && i < n; i++) {
		const struct cap_block *b;

		if (w[i].ev != PW_START || tidle[w[i].thread] != pool)
			continue;
		b = &cd->blocks[w[i].bi];
		if (b->start_ns >= x->pstall.e || block_end(b) <= x->pstall.s)
			continue;
		x->cls[w[i].bi] = DIAG_CAUSE_LOOP_BLOCKED;
		x->rule[w[i].bi] = RULE_POOL;
		if (x->pstall.longest == SIZE_MAX || b->dur_ns > cd->blocks[x->pstall.longest].dur_ns)
			x->pstall.longest = w[i].bi;
	}
	free(w);
	free(tidle);
	free(trep);
	return 0;
}
