/* cpu.c: on-CPU samples: busy runs, and who ran while others waited runnable. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

/* ---------------------------------------------------------------------------
 * On-CPU samples: busy runs, and who ran while others waited runnable.
 */
int diag_cmp_sample_thread(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_sample *p = &cd->samples[i], *q = &cd->samples[j];

	return diag_cmp(p->thread, q->thread) ?: diag_cmp(p->ts_ns, q->ts_ns) ?: diag_cmp(i, j);
}

int diag_cmp_block_thread(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_block *p = &cd->blocks[i], *q = &cd->blocks[j];

	return diag_cmp(p->thread, q->thread) ?: diag_cmp(p->start_ns, q->start_ns) ?: diag_cmp(i, j);
}

size_t diag_byth_at(const struct ctx *x, uint32_t t, uint64_t from)
{
	const struct capdata *cd = x->cd;
	size_t lo = 0, hi = x->nbyth;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cap_block *m = &cd->blocks[x->byth[mid]];

		if (m->thread < t || (m->thread == t && m->start_ns < from))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t diag_byth_pos(const struct ctx *x, size_t bi)
{
	size_t lo = 0, hi = x->nbyth;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (diag_cmp_block_thread(&x->byth[mid], &bi, (void *)x->cd) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t diag_rearmed_first(struct ctx *x, size_t pos, uint32_t waker)
{
	const struct capdata *cd = x->cd;
	uint64_t site = diag_site_key(x, &cd->blocks[x->byth[pos]]);

	while (pos > 0) {
		const struct cap_block *p = &cd->blocks[x->byth[pos - 1]], *c = &cd->blocks[x->byth[pos]];

		if (p->thread != c->thread || block_end(p) + DIAG_REARM_GAP_NS < c->start_ns ||
		    (p->flags & CAP_BLOCK_IN_PROGRESS) ||
		    (waker != DIAG_ANY_WAKER && diag_waker_real(x, p) && p->waker != waker) ||
		    diag_site_key(x, p) != site)
			break;
		pos--;
	}
	return pos;
}

int diag_cmp_u64(const void *a, const void *b)
{
	return diag_cmp(*(const uint64_t *)a, *(const uint64_t *)b);
}

int diag_cmp_ival(const void *a, const void *b)
{
	const struct ival *p = a, *q = b;

	return diag_cmp(p->s, q->s) ?: diag_cmp(p->e, q->e);
}

size_t diag_ival_union(struct ival *iv, size_t n)
{
	size_t m = 0, i;

	qsort(iv, n, sizeof(*iv), diag_cmp_ival);
	for (i = 0; i < n; i++) {
		if (m && iv[i].s <= iv[m - 1].e) {
			if (iv[i].e > iv[m - 1].e)
				iv[m - 1].e = iv[i].e;
		} else {
			iv[m++] = iv[i];
		}
	}
	return m;
}

uint64_t diag_ival_overlap(const struct ival *iv, size_t m, uint64_t s, uint64_t e)
{
	size_t lo = 0, hi = m;
	uint64_t ov = 0;

	while (lo < hi) { /* the first interval ending after s */
		size_t mid = lo + (hi - lo) / 2;

		if (iv[mid].e <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m && iv[lo].s < e; lo++)
		ov = sat_add(ov, overlap(iv[lo].s, iv[lo].e, s, e));
	return ov;
}

static int cmp_tcpu(const void *a, const void *b)
{
	const struct tcpu *p = a, *q = b;

	/* most on-CPU first */
	return diag_cmp(q->oncpu_ns, p->oncpu_ns) ?: diag_cmp(p->thread, q->thread);
}

/* A voluntary block (asleep or uninterruptible) ends a busy run, however
 * short: a recorded block, or a change of the thread's count of voluntary
 * switches between two samples (blocks under --min-block are not recorded;
 * a server's thread serving thousands of requests a second blocks between
 * each, and is not "running without blocking"). Being preempted does not:
 * the thread still wanted the CPU. */
static int cpu_runs(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t a, b;

	ci->tsamp = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*ci->tsamp));
	ci->threads = calloc(x->nsamp ? x->nsamp : 1, sizeof(*ci->threads));
	if (!ci->tsamp || !ci->threads)
		return -ENOMEM;
	memcpy(ci->tsamp, x->samp, x->nsamp * sizeof(*x->samp));
	qsort_r(ci->tsamp, x->nsamp, sizeof(*ci->tsamp), diag_cmp_sample_thread, (void *)cd);

	for (a = 0; a < x->nsamp; a = b) {
		uint32_t t = cd->samples[ci->tsamp[a]].thread;
		struct tcpu *tc = &ci->threads[ci->nthreads++];
		size_t lo, run = a, k;

		for (b = a; b < x->nsamp && cd->samples[ci->tsamp[b]].thread == t; b++)
			;
		tc->thread = t;
		tc->oncpu_ns = (uint64_t)(b - a) * x->period_ns;
		/* this thread's voluntary blocks, from lo in x->byth */
		lo = diag_byth_at(x, t, 0);
		for (k = a; k < b; k++) {
			const struct cap_sample *cs = &cd->samples[ci->tsamp[k]];
			uint64_t ts = cs->ts_ns;
			bool brk = false;

			if (k > a) {
				const struct cap_sample *ps = &cd->samples[ci->tsamp[k - 1]];
				uint64_t prev = ps->ts_ns;

				while (lo < x->nbyth && cd->blocks[x->byth[lo]].thread == t &&
				       cd->blocks[x->byth[lo]].start_ns <= prev)
					lo++;
				brk = ts - prev > 1000000000ull || (ps->nvcsw && cs->nvcsw != ps->nvcsw) ||
				      (lo < x->nbyth && cd->blocks[x->byth[lo]].thread == t &&
				       cd->blocks[x->byth[lo]].start_ns < ts);
			}
			if (brk)
				run = k;
			{
				uint64_t len = ts - cd->samples[ci->tsamp[run]].ts_ns + x->period_ns;

				if (len > tc->run_ns) {
					tc->run_ns = len;
					tc->run_first = run;
					tc->run_n = k - run + 1;
				}
			}
		}
	}
	return 0;
}

/* Samples of target threads inside the union of the runnable waits. */
static int runq_takers(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	struct ival *iv;
	size_t n = 0, m = 0, i, k = 0;

	ci->in_runq = calloc(x->nsamp ? x->nsamp : 1, sizeof(*ci->in_runq));
	iv = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*iv));
	if (!ci->in_runq || !iv) {
		free(iv);
		return -ENOMEM;
	}
	for (i = 0; i < cd->nblocks; i++) {
		uint64_t s, e;

		if (diag_thread_is_target(x, cd->blocks[i].thread) && diag_runnable_part(&cd->blocks[i], x->cls[i], &s, &e))
			iv[n++] = (struct ival){ s, e };
	}
	m = diag_ival_union(iv, n);
	for (i = 0; i < x->nsamp && k < m; i++) {
		uint64_t ts = cd->samples[x->samp[i]].ts_ns;

		while (k < m && iv[k].e <= ts)
			k++;
		if (k < m && iv[k].s <= ts)
			ci->in_runq[i] = true;
	}
	free(iv);
	return 0;
}

/* Marks each thread's longest run as a busy run when it lasted
 * DIAG_BUSY_RUN_NS and the thread was on-CPU for DIAG_BUSY_SHARE_PCT of it
 * (less is a thread starved of CPU, not a busy one). Runs before classify. */
int diag_cpu_busy_runs(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t j;
	int err;

	ci->busiest = ci->taker = SIZE_MAX;
	if ((err = cpu_runs(x, ci)))
		return err;
	for (j = 0; j < ci->nthreads; j++) {
		const struct tcpu *t = &ci->threads[j];

		if (t->run_ns >= DIAG_BUSY_RUN_NS &&
		    (double)t->run_n * (double)x->period_ns * 100.0 >=
			    (double)DIAG_BUSY_SHARE_PCT * (double)t->run_ns) {
			x->trun_s[t->thread] = cd->samples[ci->tsamp[t->run_first]].ts_ns;
			x->trun_e[t->thread] = cd->samples[ci->tsamp[t->run_first + t->run_n - 1]].ts_ns;
			if (!x->trun_e[t->thread])
				x->trun_e[t->thread] = 1;
		}
	}
	return 0;
}

int diag_cpu_analyse(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t i, j;
	int err;

	if ((err = runq_takers(x, ci)))
		return err;
	for (i = 0; i < x->nsamp; i++) {
		if (ci->in_runq[i])
			x->acc[cd->samples[x->samp[i]].thread] += x->period_ns;
	}
	for (j = 0; j < ci->nthreads; j++) {
		ci->threads[j].taken_ns = x->acc[ci->threads[j].thread];
		x->acc[ci->threads[j].thread] = 0;
	}
	qsort(ci->threads, ci->nthreads, sizeof(*ci->threads), cmp_tcpu);
	for (j = 0; j < ci->nthreads; j++) {
		const struct tcpu *t = &ci->threads[j];

		if (x->trun_e[t->thread] &&
		    (ci->busiest == SIZE_MAX || t->run_ns > ci->threads[ci->busiest].run_ns))
			ci->busiest = j;
		if (t->taken_ns && (ci->taker == SIZE_MAX || t->taken_ns > ci->threads[ci->taker].taken_ns))
			ci->taker = j;
	}
	return 0;
}

void diag_cpu_release(struct cpuinfo *ci)
{
	free(ci->tsamp);
	free(ci->threads);
	free(ci->in_runq);
	memset(ci, 0, sizeof(*ci));
}

static int cmp_pair(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_sample *p = &cd->samples[i], *q = &cd->samples[j];

	return diag_cmp(p->ustack, q->ustack) ?: diag_cmp(p->kstack, q->kstack) ?: diag_cmp(i, j);
}

/* The most frequent (user, kernel) stack pair among n samples (indices into
 * cd->samples); returns the index of one such sample, or SIZE_MAX. */
size_t diag_mode_sample(const struct capdata *cd, const size_t *idx, size_t n)
{
	size_t *s, i, best = SIZE_MAX, best_n = 0, run = 0;

	if (!n)
		return SIZE_MAX;
	s = malloc(n * sizeof(*s));
	if (!s)
		return idx[0]; /* any sample still names the thread's code */
	memcpy(s, idx, n * sizeof(*s));
	qsort_r(s, n, sizeof(*s), cmp_pair, (void *)cd);
	for (i = 0; i < n; i++) {
		if (i && cd->samples[s[i]].ustack == cd->samples[s[i - 1]].ustack &&
		    cd->samples[s[i]].kstack == cd->samples[s[i - 1]].kstack)
			run++;
		else
			run = 1;
		if (run > best_n) {
			best_n = run;
			best = s[i];
		}
	}
	free(s);
	return best;
}
