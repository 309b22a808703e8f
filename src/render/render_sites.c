/* render_sites.c: the call sites a person reads, by cause: abnormal waits first, on-CPU runs, other waits, then the idle ones apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/classify.h"
#include "render/render_int.h"

/* Samples without a period (an older capture) are taken as 100 Hz, as the diagnosis takes them. */
#define SITES_DEFAULT_PERIOD_NS 10000000ull

struct entry_key {
	const char *comm;
	uint32_t ustack, kstack;
};

static uint64_t key_hash(const char *comm, uint32_t ustack, uint32_t kstack)
{
	return htab_hash_u64(htab_hash_str(HTAB_HASH_SEED, comm), (uint64_t)ustack << 32 | kstack);
}

static bool entry_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct agg_entry *en = &((const struct aggregate *)ctx)->entries[id];
	const struct entry_key *k = key;

	return en->ustack == k->ustack && en->kstack == k->kstack && strcmp(en->comm, k->comm) == 0;
}

/* The comm as aggregate keeps it (cut to its 16 bytes), so that lookups match. */
static void comm16(char *dst, const char *comm)
{
	size_t n = strnlen(comm, 15);

	memcpy(dst, comm, n);
	dst[n] = '\0';
}

/* Per entry of agg, the in-window time of each cause (nentries x DIAG_CAUSE__COUNT). */
static int cause_time(const struct capdata *cd, const struct aggregate *agg, uint64_t *acc,
		      uint8_t *first)
{
	struct htab idx;
	uint8_t *cause = malloc(cd->nblocks ? cd->nblocks : 1);
	size_t i;
	int err = cause ? diagnose_classify(cd, cause) : -ENOMEM;

	htab_init(&idx, 0);
	for (i = 0; !err && i < agg->nentries; i++) {
		const struct agg_entry *en = &agg->entries[i];

		err = htab_insert(&idx, key_hash(en->comm, en->ustack, en->kstack), (uint32_t)i);
	}
	for (i = 0; !err && i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		char comm[16];
		struct entry_key k = { .comm = comm, .ustack = b->ustack, .kstack = b->kstack };
		int64_t e;
		uint8_t c = cause[i] < DIAG_CAUSE__COUNT ? cause[i] : DIAG_CAUSE_OTHER;

		comm16(comm, cd->threads[b->thread].comm);
		e = htab_find(&idx, key_hash(comm, b->ustack, b->kstack), entry_eq, agg, &k);
		if (e < 0)
			continue; /* agg was not built from cd: nothing to say */
		if (first[e] == DIAG_CAUSE__COUNT)
			first[e] = c;
		acc[(size_t)e * DIAG_CAUSE__COUNT + c] =
			sat_add(acc[(size_t)e * DIAG_CAUSE__COUNT + c], aggregate_block_window_ns(cd, b));
	}
	htab_release(&idx);
	free(cause);
	return err;
}

/* The cause with the most in-window time; ties go to the lower value (the
 * abnormal causes first); without any in-window time, the first block's. */
static uint8_t dominant(const uint64_t *acc, uint8_t first)
{
	unsigned int c, best = first < DIAG_CAUSE__COUNT ? first : DIAG_CAUSE_OTHER;

	for (c = 0; c < DIAG_CAUSE__COUNT; c++) {
		if (acc[c] > acc[best] || (acc[c] && acc[c] == acc[best] && c < best))
			best = c;
	}
	return (uint8_t)best;
}

static uint8_t group_of(uint8_t cause)
{
	if (diagnose_cause_abnormal(cause))
		return RG_CAUSE;
	return cause == DIAG_CAUSE_IDLE ? RG_IDLE : RG_OTHER;
}

static int offcpu_sites(struct render_sites *s, const struct capdata *cd, const struct aggregate *agg)
{
	uint64_t *acc = calloc((agg->nentries ? agg->nentries : 1) * DIAG_CAUSE__COUNT, sizeof(*acc));
	uint8_t *first = malloc(agg->nentries ? agg->nentries : 1);
	size_t i;
	int err = acc && first ? 0 : -ENOMEM;

	if (!err) {
		memset(first, DIAG_CAUSE__COUNT, agg->nentries);
		err = cause_time(cd, agg, acc, first);
	}
	for (i = 0; !err && i < agg->nentries; i++) {
		const struct agg_entry *en = &agg->entries[i];
		struct render_site *st = &s->v[s->n++];

		memset(st, 0, sizeof(*st));
		st->en = en;
		memcpy(st->comm, en->comm, sizeof(st->comm));
		st->ustack = en->ustack;
		st->kstack = en->kstack;
		st->ns = en->window_ns;
		st->count = en->count;
		st->threads = en->threads;
		st->order = i;
		st->cause = dominant(acc + i * DIAG_CAUSE__COUNT, first[i]);
		st->group = group_of(st->cause);
	}
	free(acc);
	free(first);
	return err;
}

/* qsort_r context: the capdata. Samples by (comm, ustack, kstack, thread). */
static int sample_cmp(const void *pa, const void *pb, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_sample *a = &cd->samples[*(const size_t *)pa], *b = &cd->samples[*(const size_t *)pb];
	int c = strncmp(cd->threads[a->thread].comm, cd->threads[b->thread].comm, 15);

	if (c)
		return c;
	if (a->ustack != b->ustack)
		return a->ustack < b->ustack ? -1 : 1;
	if (a->kstack != b->kstack)
		return a->kstack < b->kstack ? -1 : 1;
	return a->thread < b->thread ? -1 : a->thread > b->thread;
}

static bool in_window(const struct capdata *cd, uint64_t ts)
{
	uint64_t ws = cd->window.start_mono_ns;

	return !cd->window.duration_ns || (ts >= ws && ts - ws <= cd->window.duration_ns);
}

/* One on-CPU site per (comm, user stack, kernel stack) of the samples in the window. */
static int oncpu_sites(struct render_sites *s, const struct capdata *cd)
{
	size_t *idx = malloc((cd->nsamples ? cd->nsamples : 1) * sizeof(*idx)), n = 0, i;

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < cd->nsamples; i++) {
		if (cd->samples[i].thread < cd->nthreads && in_window(cd, cd->samples[i].ts_ns))
			idx[n++] = i;
	}
	if (n)
		qsort_r(idx, n, sizeof(*idx), sample_cmp, (void *)cd);
	for (i = 0; i < n; i++) {
		const struct cap_sample *sm = &cd->samples[idx[i]];
		const struct cap_sample *prev = i ? &cd->samples[idx[i - 1]] : NULL;
		struct render_site *st = s->n ? &s->v[s->n - 1] : NULL;

		if (!prev || strncmp(cd->threads[prev->thread].comm, cd->threads[sm->thread].comm, 15) ||
		    prev->ustack != sm->ustack || prev->kstack != sm->kstack) {
			st = &s->v[s->n++];
			memset(st, 0, sizeof(*st));
			comm16(st->comm, cd->threads[sm->thread].comm);
			st->ustack = sm->ustack;
			st->kstack = sm->kstack;
			st->cause = DIAG_CAUSE__COUNT;
			st->group = RG_ONCPU;
			st->oncpu = true;
			st->order = i;
			st->threads = 1;
		} else if (prev->thread != sm->thread) {
			st->threads++;
		}
		st->count++;
		st->ns = sat_add(st->ns, s->period_ns);
	}
	free(idx);
	return 0;
}

static int site_cmp(const void *pa, const void *pb)
{
	const struct render_site *a = pa, *b = pb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->ns != b->ns)
		return a->ns > b->ns ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

int render_sites_build(struct render_sites *s, const struct capdata *cd, const struct aggregate *agg)
{
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	s->period_ns = cd->window.sample_period_ns ? cd->window.sample_period_ns : SITES_DEFAULT_PERIOD_NS;
	s->v = calloc(agg->nentries + cd->nsamples + 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	err = offcpu_sites(s, cd, agg);
	if (!err)
		err = oncpu_sites(s, cd);
	if (err) {
		render_sites_release(s);
		return err;
	}
	qsort(s->v, s->n, sizeof(*s->v), site_cmp);
	for (i = 0; i < s->n; i++) {
		s->ngroup[s->v[i].group]++;
		s->group_ns[s->v[i].group] = sat_add(s->group_ns[s->v[i].group], s->v[i].ns);
		if (s->v[i].oncpu)
			s->oncpu_ns = sat_add(s->oncpu_ns, s->v[i].ns);
	}
	s->offcpu_ns = agg->window_ns;
	return 0;
}

int render_sites_oncpu(struct render_sites *s, const struct capdata *cd)
{
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	s->period_ns = cd->window.sample_period_ns ? cd->window.sample_period_ns : SITES_DEFAULT_PERIOD_NS;
	s->v = calloc(cd->nsamples + 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	err = oncpu_sites(s, cd);
	if (err) {
		render_sites_release(s);
		return err;
	}
	qsort(s->v, s->n, sizeof(*s->v), site_cmp);
	for (i = 0; i < s->n; i++)
		s->oncpu_ns = sat_add(s->oncpu_ns, s->v[i].ns);
	s->ngroup[RG_ONCPU] = s->n;
	s->group_ns[RG_ONCPU] = s->oncpu_ns;
	return 0;
}

void render_sites_release(struct render_sites *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

const char *render_site_cause(const struct render_site *st)
{
	return st->oncpu ? "on-CPU" : diagnose_cause_name(st->cause);
}

void render_site_began(const struct render_site *st, char *buf, size_t len)
{
	char dur[32];

	buf[0] = '\0';
	if (!st->en || !st->en->began_before)
		return;
	if (!st->en->began_before_ns) {
		snprintf(buf, len, "began before the window");
		return;
	}
	units_fmt_dur(dur, sizeof(dur), st->en->began_before_ns);
	snprintf(buf, len, "began %s before the window", dur);
}

const char *render_group_title(unsigned int group)
{
	static const char *const titles[RG__COUNT] = {
		[RG_CAUSE] = "the cause: abnormal waits",
		[RG_ONCPU] = "on-CPU, from the samples",
		[RG_OTHER] = "other waits (busy, other): not a cause",
		[RG_IDLE] = "waiting for work (idle): never the cause",
	};

	return group < RG__COUNT ? titles[group] : "unknown";
}

const char *render_group_name(unsigned int group)
{
	static const char *const names[RG__COUNT] = {
		[RG_CAUSE] = "cause", [RG_ONCPU] = "oncpu", [RG_OTHER] = "other", [RG_IDLE] = "idle",
	};

	return group < RG__COUNT ? names[group] : "unknown";
}

bool render_verdict_focus(const json_t *extra)
{
	const char *kind = render_verdict_kind(extra);

	return kind && strcmp(kind, diagnose_kind_name(DIAG_NONE)) != 0;
}
