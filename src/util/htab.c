/* htab.c: the tree's one hash table: growth, insertion and removal (lookup is inline in htab.h). */
#include "util/htab.h"

#include <stdlib.h>

#define HTAB_MIN_SLOTS 16u

void htab_init(struct htab *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max && max <= HTAB_MAX_IDS ? max : HTAB_MAX_IDS;
}

void htab_release(struct htab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The first empty slot of h's probe sequence (the table has one: load <= 3/4). */
static uint32_t empty_slot(const struct htab_slot *slots, uint32_t mask, uint32_t h)
{
	uint32_t j;

	for (j = h & mask; slots[j].id1; j = (j + 1) & mask)
		;
	return j;
}

/* Room for one more id at a load of at most 3/4. */
static int reserve(struct htab *t)
{
	uint64_t cap = t->slots ? (uint64_t)t->mask + 1 : 0, ncap, i;
	struct htab_slot *ns;

	if ((uint64_t)(t->count + 1) * 4 <= cap * 3)
		return 0;
	ncap = cap ? cap * 2 : HTAB_MIN_SLOTS;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i < cap; i++) {
		if (t->slots[i].id1)
			ns[empty_slot(ns, (uint32_t)(ncap - 1), t->slots[i].hash)] = t->slots[i];
	}
	free(t->slots);
	t->slots = ns;
	t->mask = (uint32_t)(ncap - 1);
	return 0;
}

int htab_insert(struct htab *t, uint64_t hash, uint32_t id)
{
	uint32_t h = htab_fold(hash);
	int err;

	if (t->count >= (t->max ? t->max : HTAB_MAX_IDS) || id >= UINT32_MAX)
		return -E2BIG;
	err = reserve(t);
	if (err)
		return err;
	t->slots[empty_slot(t->slots, t->mask, h)] = (struct htab_slot){ .id1 = id + 1, .hash = h };
	t->count++;
	return 0;
}

int htab_remove(struct htab *t, uint64_t hash, uint32_t id)
{
	uint32_t h = htab_fold(hash), j, k;

	if (!t->slots)
		return -ENOENT;
	for (j = h & t->mask; t->slots[j].id1 != id + 1; j = (j + 1) & t->mask) {
		if (!t->slots[j].id1)
			return -ENOENT;
	}
	/* Backward shift: pull later slots of the cluster into the hole when
	 * their home slot is not between the hole and them, so that no probe
	 * sequence crosses an empty slot it used to pass over. */
	for (k = (j + 1) & t->mask; t->slots[k].id1; k = (k + 1) & t->mask) {
		uint32_t home = t->slots[k].hash & t->mask;

		if (((k - home) & t->mask) >= ((k - j) & t->mask)) {
			t->slots[j] = t->slots[k];
			j = k;
		}
	}
	t->slots[j] = (struct htab_slot){ 0 };
	t->count--;
	return 0;
}
