/* aggregate.c: folds capdata blocks into call sites and per-thread totals with hash tables (no O(n^2) anywhere). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "util/htab.h"
#include "util/units.h"

static bool comm_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct capdata *cd = ctx;

	return strcmp(cd->threads[id].comm, key) == 0;
}

/* Gives each distinct thread comm a small id, so entries are keyed by integers. */
static int comm_ids(const struct capdata *cd, uint32_t *ids)
{
	struct htab first;      /* comm -> index of its first thread */
	uint32_t next = 0;
	size_t i;
	int err = 0;

	htab_init(&first, CAPDATA_MAX_THREADS);
	for (i = 0; i < cd->nthreads && !err; i++) {
		const char *comm = cd->threads[i].comm;
		uint64_t h = htab_hash_str(HTAB_HASH_SEED, comm);
		int64_t t = htab_find(&first, h, comm_eq, cd, comm);

		if (t >= 0) {
			ids[i] = ids[t];
		} else {
			ids[i] = next++;
			err = htab_insert(&first, h, (uint32_t)i);
		}
	}
	htab_release(&first);
	return err;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct agg_entry *a = pa, *b = pb;
	int c;

	if (a->offcpu_ns != b->offcpu_ns)
		return a->offcpu_ns > b->offcpu_ns ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	c = strcmp(a->comm, b->comm);
	if (c)
		return c;
	if (a->ustack != b->ustack)
		return a->ustack < b->ustack ? -1 : 1;
	if (a->kstack != b->kstack)
		return a->kstack < b->kstack ? -1 : 1;
	return 0;
}

/* qsort_r context: the capdata, for tids. */
static int thread_cmp(const void *pa, const void *pb, void *arg)
{
	const struct capdata *cd = arg;
	const struct agg_thread *a = pa, *b = pb;
	int32_t ta = cd->threads[a->thread].tid, tb = cd->threads[b->thread].tid;

	if (a->offcpu_ns != b->offcpu_ns)
		return a->offcpu_ns > b->offcpu_ns ? -1 : 1;
	if (a->below_min_ns != b->below_min_ns)
		return a->below_min_ns > b->below_min_ns ? -1 : 1;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a->thread < b->thread ? -1 : a->thread > b->thread;
}

/* Working state of one build: the entry table, the set of (entry, thread)
 * pairs seen, and the growing arrays behind them. Entries and pairs are at
 * most one per block, and blocks are capped by CAPDATA_MAX_BLOCKS, so this is
 * bounded by the capdata's own caps. */
struct builder {
	struct aggregate *agg;
	size_t aentries;
	uint32_t *key_comm;     /* comm id of each entry, parallel to agg->entries */
	struct htab entries;    /* (comm id, ustack, kstack) -> entry index */
	uint64_t *pairs;        /* entry << 32 | thread, each pair seen once */
	size_t npairs, apairs;
	struct htab pair_set;   /* pair -> index into pairs */
};

struct entry_key {
	uint32_t comm, ustack, kstack;
};

static bool entry_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct builder *bd = ctx;
	const struct agg_entry *en = &bd->agg->entries[id];
	const struct entry_key *k = key;

	return bd->key_comm[id] == k->comm && en->ustack == k->ustack && en->kstack == k->kstack;
}

/* Returns the index of the entry for (comm, ustack, kstack), adding it if new. */
static int64_t entry_get(struct builder *bd, uint32_t comm, const char *comm_name,
			 uint32_t ustack, uint32_t kstack)
{
	struct aggregate *agg = bd->agg;
	struct entry_key k = { .comm = comm, .ustack = ustack, .kstack = kstack };
	uint64_t h = htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, (uint64_t)comm << 32 | ustack), kstack);
	struct agg_entry *en;
	int64_t e = htab_find(&bd->entries, h, entry_eq, bd, &k);
	int err;

	if (e >= 0)
		return e;
	if (agg->nentries == bd->aentries) {
		size_t n = bd->aentries ? bd->aentries * 2 : 256;
		struct agg_entry *ne = reallocarray(agg->entries, n, sizeof(*ne));
		uint32_t *nk;

		if (!ne)
			return -ENOMEM;
		agg->entries = ne;
		nk = reallocarray(bd->key_comm, n, sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		bd->key_comm = nk;
		bd->aentries = n;
	}
	err = htab_insert(&bd->entries, h, (uint32_t)agg->nentries);
	if (err)
		return err;
	en = &agg->entries[agg->nentries];
	memset(en, 0, sizeof(*en));
	memcpy(en->comm, comm_name, sizeof(en->comm));
	en->comm[sizeof(en->comm) - 1] = '\0';
	en->ustack = ustack;
	en->kstack = kstack;
	bd->key_comm[agg->nentries] = comm;
	return (int64_t)agg->nentries++;
}

static bool pair_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct builder *bd = ctx;

	return bd->pairs[id] == *(const uint64_t *)key;
}

/* Adds pair to the set; returns 1 if it is new, 0 if seen, or a negative errno. */
static int pair_add(struct builder *bd, uint64_t pair)
{
	uint64_t h = htab_hash_u64(HTAB_HASH_SEED, pair);
	int err;

	if (htab_find(&bd->pair_set, h, pair_eq, bd, &pair) >= 0)
		return 0;
	if (bd->npairs == bd->apairs) {
		size_t n = bd->apairs ? bd->apairs * 2 : 1024;
		uint64_t *np = reallocarray(bd->pairs, n, sizeof(*np));

		if (!np)
			return -ENOMEM;
		bd->pairs = np;
		bd->apairs = n;
	}
	err = htab_insert(&bd->pair_set, h, (uint32_t)bd->npairs);
	if (err)
		return err;
	bd->pairs[bd->npairs++] = pair;
	return 1;
}

uint64_t aggregate_block_window_ns(const struct capdata *cd, const struct cap_block *b)
{
	uint64_t ws = cd->window.start_mono_ns, we = sat_add(ws, cd->window.duration_ns);
	uint64_t s = b->start_ns, e = sat_add(b->start_ns, b->dur_ns);

	if (!cd->window.duration_ns)
		return b->dur_ns;
	if (s < ws)
		s = ws;
	if (e > we)
		e = we;
	return e > s ? e - s : 0;
}

/* The window figures of one block (see aggregate.h). */
static void add_window(struct aggregate *agg, struct agg_entry *en, const struct capdata *cd,
		       const struct cap_block *b)
{
	uint64_t in = aggregate_block_window_ns(cd, b), ws = cd->window.start_mono_ns;

	en->window_ns = sat_add(en->window_ns, in);
	agg->window_ns = sat_add(agg->window_ns, in);
	if (b->state < CAP_STATE__COUNT) {
		en->window_state_ns[b->state] = sat_add(en->window_state_ns[b->state], in);
		agg->window_state_ns[b->state] = sat_add(agg->window_state_ns[b->state], in);
	}
	if ((b->flags & CAP_BLOCK_BEGAN_BEFORE) || b->start_ns < ws) {
		en->began_before = true;
		if (b->start_ns < ws && ws - b->start_ns > en->began_before_ns)
			en->began_before_ns = ws - b->start_ns;
	}
}

int aggregate_build(struct aggregate *agg, const struct capdata *cd)
{
	struct builder bd = { .agg = agg };
	uint32_t *comm = NULL;
	size_t i;
	int err = 0;

	memset(agg, 0, sizeof(*agg));
	htab_init(&bd.entries, CAPDATA_MAX_BLOCKS);
	htab_init(&bd.pair_set, CAPDATA_MAX_BLOCKS);
	comm = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*comm));
	agg->threads = calloc(cd->nthreads ? cd->nthreads : 1, sizeof(*agg->threads));
	if (!comm || !agg->threads) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = comm_ids(cd, comm);
	if (err)
		goto cleanup;

	agg->nthreads = cd->nthreads;
	for (i = 0; i < cd->nthreads; i++) {
		agg->threads[i].thread = (uint32_t)i;
		agg->threads[i].below_min_ns = cd->threads[i].below_min_ns;
		agg->below_min_ns = sat_add(agg->below_min_ns, cd->threads[i].below_min_ns);
	}

	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		struct agg_thread *th = &agg->threads[b->thread];
		struct agg_entry *en;
		unsigned int ust;
		int64_t e;
		int isnew;

		e = entry_get(&bd, comm[b->thread], cd->threads[b->thread].comm, b->ustack, b->kstack);
		if (e < 0) {
			err = (int)e;
			goto cleanup;
		}
		en = &agg->entries[e];
		en->offcpu_ns = sat_add(en->offcpu_ns, b->dur_ns);
		en->count++;
		if (b->dur_ns > en->max_ns)
			en->max_ns = b->dur_ns;
		if (b->state < CAP_STATE__COUNT) {
			en->state_ns[b->state] = sat_add(en->state_ns[b->state], b->dur_ns);
			agg->state_ns[b->state] = sat_add(agg->state_ns[b->state], b->dur_ns);
		}
		if (b->flags & CAP_BLOCK_IN_PROGRESS)
			en->in_progress = true;
		add_window(agg, en, cd, b);

		/* Distinct threads: count the (entry, thread) pair the first time it is seen. */
		isnew = pair_add(&bd, ((uint64_t)e << 32) | b->thread);
		if (isnew < 0) {
			err = isnew;
			goto cleanup;
		}
		en->threads += (uint32_t)isnew;

		th->offcpu_ns = sat_add(th->offcpu_ns, b->dur_ns);
		th->count++;
		agg->offcpu_ns = sat_add(agg->offcpu_ns, b->dur_ns);
		ust = b->ustack == ST_NO_STACK ? CAP_STACK_NONE : cd->stacks[b->ustack].status;
		if (ust > CAP_STACK_NONE)
			ust = CAP_STACK_NONE;
		agg->ustack_ns[ust] = sat_add(agg->ustack_ns[ust], b->dur_ns);
	}
	agg->nblocks = cd->nblocks;

	if (agg->nentries)
		qsort(agg->entries, agg->nentries, sizeof(*agg->entries), entry_cmp);
	if (agg->nthreads)
		qsort_r(agg->threads, agg->nthreads, sizeof(*agg->threads), thread_cmp, (void *)cd);

cleanup:
	free(comm);
	free(bd.key_comm);
	htab_release(&bd.entries);
	free(bd.pairs);
	htab_release(&bd.pair_set);
	if (err)
		aggregate_release(agg);
	return err;
}

void aggregate_release(struct aggregate *agg)
{
	if (!agg)
		return;
	free(agg->entries);
	free(agg->threads);
	memset(agg, 0, sizeof(*agg));
}

double aggregate_ustack_complete_pct(const struct aggregate *agg)
{
	uint64_t with = 0;
	int s;

	for (s = CAP_STACK_COMPLETE; s < CAP_STACK_NONE; s++)
		with = sat_add(with, agg->ustack_ns[s]);
	if (!with)
		return -1;
	return 100.0 * (double)agg->ustack_ns[CAP_STACK_COMPLETE] / (double)with;
}
