/* aggregate.c: folds capdata blocks into call sites and per-thread totals with hash tables (no O(n^2) anywhere). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "util/units.h"

static uint64_t mix64(uint64_t x)
{
	/* A 64-bit finalizer: spreads ids that differ in few low bits. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb93fe53e4ec3ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_comm(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Gives each distinct thread comm a small id, so entries are keyed by integers. */
static int comm_ids(const struct capdata *cd, uint32_t *ids)
{
	size_t size = 16, mask, i, j;
	uint32_t *slots, next = 0;  /* thread index + 1 of the comm's first thread */

	while (size < 2 * cd->nthreads)
		size *= 2;
	mask = size - 1;
	slots = calloc(size, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < cd->nthreads; i++) {
		const char *comm = cd->threads[i].comm;

		for (j = hash_comm(comm) & mask; slots[j]; j = (j + 1) & mask) {
			if (strcmp(cd->threads[slots[j] - 1].comm, comm) == 0)
				break;
		}
		if (!slots[j]) {
			slots[j] = (uint32_t)i + 1;
			ids[i] = next++;
		} else {
			ids[i] = ids[slots[j] - 1];
		}
	}
	free(slots);
	return 0;
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

/* Working state of one build: two open-addressing hash tables that double at
 * half load, and the growing entry array. Entries and (entry, thread) pairs
 * are at most one per block, and blocks are capped by CAPDATA_MAX_BLOCKS, so
 * this is bounded by the capdata's own caps. */
struct builder {
	struct aggregate *agg;
	size_t aentries;
	uint32_t *key_comm;     /* comm id of each entry, parallel to agg->entries */
	uint32_t *eslots;       /* entry index + 1, 0 = empty */
	size_t esize;
	uint64_t *pslots;       /* (entry << 32 | thread), UINT64_MAX = empty */
	size_t psize, npairs;
};

static uint64_t entry_hash(uint32_t comm, uint32_t ustack, uint32_t kstack)
{
	return mix64(((uint64_t)comm << 40) ^ ((uint64_t)ustack << 20) ^ mix64(kstack));
}

static int entries_rehash(struct builder *bd)
{
	size_t n = bd->esize ? bd->esize * 2 : 1024, i, j;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < bd->agg->nentries; i++) {
		const struct agg_entry *en = &bd->agg->entries[i];

		for (j = entry_hash(bd->key_comm[i], en->ustack, en->kstack) & (n - 1); slots[j];
		     j = (j + 1) & (n - 1))
			;
		slots[j] = (uint32_t)i + 1;
	}
	free(bd->eslots);
	bd->eslots = slots;
	bd->esize = n;
	return 0;
}

/* Returns the index of the entry for (comm, ustack, kstack), adding it if new. */
static int64_t entry_get(struct builder *bd, uint32_t comm, const char *comm_name,
			 uint32_t ustack, uint32_t kstack)
{
	struct aggregate *agg = bd->agg;
	struct agg_entry *en;
	size_t j, mask;
	int err;

	if ((agg->nentries + 1) * 2 > bd->esize && (err = entries_rehash(bd)))
		return err;
	mask = bd->esize - 1;
	for (j = entry_hash(comm, ustack, kstack) & mask; bd->eslots[j]; j = (j + 1) & mask) {
		size_t e = bd->eslots[j] - 1;

		en = &agg->entries[e];
		if (bd->key_comm[e] == comm && en->ustack == ustack && en->kstack == kstack)
			return (int64_t)e;
	}
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
	en = &agg->entries[agg->nentries];
	memset(en, 0, sizeof(*en));
	memcpy(en->comm, comm_name, sizeof(en->comm));
	en->comm[sizeof(en->comm) - 1] = '\0';
	en->ustack = ustack;
	en->kstack = kstack;
	bd->key_comm[agg->nentries] = comm;
	bd->eslots[j] = (uint32_t)agg->nentries + 1;
	return (int64_t)agg->nentries++;
}

/* Adds pair to the set; returns 1 if it is new, 0 if seen, or -ENOMEM. */
static int pair_add(struct builder *bd, uint64_t pair)
{
	size_t j, mask;

	if ((bd->npairs + 1) * 2 > bd->psize) {
		size_t n = bd->psize ? bd->psize * 2 : 1024, i;
		uint64_t *slots = malloc(n * sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		memset(slots, 0xff, n * sizeof(*slots));
		for (i = 0; i < bd->psize; i++) {
			if (bd->pslots[i] == UINT64_MAX)
				continue;
			for (j = mix64(bd->pslots[i]) & (n - 1); slots[j] != UINT64_MAX;
			     j = (j + 1) & (n - 1))
				;
			slots[j] = bd->pslots[i];
		}
		free(bd->pslots);
		bd->pslots = slots;
		bd->psize = n;
	}
	mask = bd->psize - 1;
	for (j = mix64(pair) & mask; bd->pslots[j] != UINT64_MAX; j = (j + 1) & mask) {
		if (bd->pslots[j] == pair)
			return 0;
	}
	bd->pslots[j] = pair;
	bd->npairs++;
	return 1;
}

int aggregate_build(struct aggregate *agg, const struct capdata *cd)
{
	struct builder bd = { .agg = agg };
	uint32_t *comm = NULL;
	size_t i;
	int err = 0;

	memset(agg, 0, sizeof(*agg));
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
	free(bd.eslots);
	free(bd.pslots);
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
