/* capdata_index.c: interning of mappings, frames, stacks and threads: equal content, equal id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capdata/capdata.h"
#include "capdata/capdata_int.h"

/* ---------------------------------------------------------------------------
 * Hash index. Open addressing with linear probing; a slot holds id + 1 (0 means
 * empty) and the 32-bit hash, so probes compare hashes before touching entries
 * and a resize never needs to rehash the entries themselves.
 */
struct hslot {
	uint32_t id1;
	uint32_t hash;
};

struct htab {
	struct hslot *slots;
	uint32_t mask;          /* capacity - 1; capacity is a power of two */
	uint32_t count;
};

struct capdata_index {
	struct htab mappings, frames, stacks, threads;
};

static void htab_release(struct htab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Makes room for one more entry, keeping the load under 3/4. */
static int htab_reserve(struct htab *t)
{
	uint32_t cap = t->slots ? t->mask + 1 : 0;
	uint32_t ncap, i;
	struct hslot *ns;

	if (t->slots && (uint64_t)(t->count + 1) * 4 <= (uint64_t)cap * 3)
		return 0;
	ncap = cap ? cap * 2 : 64;
	if (ncap == 0 || ncap > (1u << 30))
		return -E2BIG;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i < cap; i++) {
		uint32_t j;

		if (!t->slots[i].id1)
			continue;
		for (j = t->slots[i].hash & (ncap - 1); ns[j].id1; j = (j + 1) & (ncap - 1))
			;
		ns[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = ns;
	t->mask = ncap - 1;
	return 0;
}

typedef bool (*htab_eq_fn)(const struct capdata *cd, uint32_t id, const void *key);

/* Returns the id of an entry equal to key, or -1 with *slot set to the empty
 * slot where it would go. The table must have been reserved. */
static int64_t htab_find(const struct htab *t, uint32_t hash, htab_eq_fn eq,
			 const struct capdata *cd, const void *key, uint32_t *slot)
{
	uint32_t j;

	for (j = hash & t->mask; t->slots[j].id1; j = (j + 1) & t->mask) {
		if (t->slots[j].hash == hash && eq(cd, t->slots[j].id1 - 1, key))
			return t->slots[j].id1 - 1;
	}
	*slot = j;
	return -1;
}

static void htab_put(struct htab *t, uint32_t slot, uint32_t hash, uint32_t id)
{
	t->slots[slot].id1 = id + 1;
	t->slots[slot].hash = hash;
	t->count++;
}

/* FNV-1a, 64 bits, folded to 32. Chained over the fields of a key. */
#define HASH_SEED 0xcbf29ce484222325ULL

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* The terminator is hashed too, so "ab"+"c" and "a"+"bc" differ. */
	return hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint32_t hash_fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct capdata_index *capdata_index_new(void)
{
	return calloc(1, sizeof(struct capdata_index));
}

void capdata_index_free(struct capdata_index *ix)
{
	if (!ix)
		return;
	htab_release(&ix->mappings);
	htab_release(&ix->frames);
	htab_release(&ix->stacks);
	htab_release(&ix->threads);
	free(ix);
}

/* ---------------------------------------------------------------------------
 * Interning.
 */
static bool mapping_eq(const struct capdata *cd, uint32_t id, const void *key)
{
	const struct cap_mapping *a = &cd->mappings[id], *b = key;

	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       str_eq(a->file, b->file) && str_eq(a->build_id, b->build_id);
}

int64_t capdata_mapping(struct capdata *cd, uint64_t start, uint64_t limit, uint64_t offset,
			const char *file, const char *build_id)
{
	struct cap_mapping m = { .start = start, .limit = limit, .offset = offset };
	struct htab *t = &cd->index->mappings;
	uint64_t h;
	uint32_t hash, slot = 0;
	int64_t id = 0;
	int err;

	if (!cd->index)
		return -EINVAL; /* not capdata_init()ed */
	err = capdata_str_dup_clean(file, CAPDATA_MAX_STRING, &m.file);
	if (!err)
		err = capdata_str_dup_clean(build_id, CAPDATA_MAX_STRING, &m.build_id);
	if (err)
		goto cleanup;
	h = hash_bytes(HASH_SEED, &start, sizeof(start));
	h = hash_bytes(h, &limit, sizeof(limit));
	h = hash_bytes(h, &offset, sizeof(offset));
	h = hash_str(h, m.file);
	hash = hash_fold(hash_str(h, m.build_id));

	err = htab_reserve(t);
	if (err)
		goto cleanup;
	id = htab_find(t, hash, mapping_eq, cd, &m, &slot);
	if (id >= 0)
		goto cleanup; /* known: our copies go */
	err = GROW(cd, mappings, CAPDATA_MAX_MAPPINGS);
	if (err)
		goto cleanup;
	id = cd->nmappings++;
	cd->mappings[id] = m; /* the model owns the strings now */
	htab_put(t, slot, hash, (uint32_t)id);
	return id;

cleanup:
	free(m.file);
	free(m.build_id);
	return err ? err : id;
}

static bool frame_eq(const struct capdata *cd, uint32_t id, const void *key)
{
	const struct cap_frame *a = &cd->frames[id], *b = key;

	return a->addr == b->addr && a->mapping == b->mapping && a->kernel == b->kernel &&
	       strcmp(a->name, b->name) == 0;
}

int64_t capdata_frame(struct capdata *cd, const char *name, uint64_t addr,
		      uint32_t mapping, bool kernel)
{
	struct cap_frame f = { .addr = addr, .mapping = mapping, .kernel = kernel };
	struct htab *t = &cd->index->frames;
	char *owned = NULL;
	uint64_t h;
	uint32_t hash, slot = 0;
	int64_t id;
	int err;

	if (!cd->index || !name || (mapping != ST_NO_MAPPING && mapping >= cd->nmappings))
		return -EINVAL;
	/* Most names are clean: look them up without copying. */
	if (!capdata_str_clean(name, CAPDATA_MAX_STRING)) {
		err = capdata_str_dup_clean(name, CAPDATA_MAX_STRING, &owned);
		if (err)
			return err;
		name = owned;
	}
	f.name = (char *)name;
	h = hash_bytes(HASH_SEED, &addr, sizeof(addr));
	h = hash_bytes(h, &mapping, sizeof(mapping));
	h = hash_bytes(h, &kernel, sizeof(kernel));
	hash = hash_fold(hash_str(h, name));

	err = htab_reserve(t);
	if (err)
		goto cleanup;
	id = htab_find(t, hash, frame_eq, cd, &f, &slot);
	if (id >= 0) {
		free(owned);
		return id;
	}
	err = GROW(cd, frames, CAPDATA_MAX_FRAMES);
	if (err)
		goto cleanup;
	if (!owned) {
		owned = strdup(name);
		if (!owned) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	f.name = owned;
	id = cd->nframes++;
	cd->frames[id] = f;
	htab_put(t, slot, hash, id);
	return id;

cleanup:
	free(owned);
	return err;
}

struct stack_key {
	const uint32_t *frames;
	uint32_t nframes;
	uint8_t status;
};

static bool stack_eq(const struct capdata *cd, uint32_t id, const void *key)
{
	const struct cap_stack *a = &cd->stacks[id];
	const struct stack_key *b = key;

	return a->nframes == b->nframes && a->status == b->status &&
	       (!a->nframes || memcmp(a->frames, b->frames, a->nframes * sizeof(uint32_t)) == 0);
}

int64_t capdata_stack(struct capdata *cd, const uint32_t *frames, uint32_t nframes,
		      enum cap_stack_status status)
{
	struct stack_key k = { .frames = frames, .nframes = nframes, .status = status };
	struct htab *t = &cd->index->stacks;
	uint32_t *copy, i, hash, slot = 0;
	int64_t id;
	int err;

	if (!cd->index || (unsigned int)status > CAP_STACK_NONE || (nframes && !frames))
		return -EINVAL;
	if (nframes > CAPDATA_MAX_STACK_DEPTH)
		return -E2BIG;
	for (i = 0; i < nframes; i++) {
		if (frames[i] >= cd->nframes ||
		    cd->frames[frames[i]].kernel != cd->frames[frames[0]].kernel)
			return -EINVAL;
	}
	hash = hash_fold(hash_bytes(hash_bytes(HASH_SEED, &k.status, 1), frames,
				    nframes * sizeof(uint32_t)));
	err = htab_reserve(t);
	if (err)
		return err;
	id = htab_find(t, hash, stack_eq, cd, &k, &slot);
	if (id >= 0)
		return id;
	err = GROW(cd, stacks, CAPDATA_MAX_STACKS);
	if (err)
		return err;
	copy = NULL;
	if (nframes) {
		copy = malloc(nframes * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, frames, nframes * sizeof(*copy));
	}
	id = cd->nstacks++;
	cd->stacks[id] = (struct cap_stack){ .frames = copy, .nframes = nframes, .status = status };
	htab_put(t, slot, hash, id);
	return id;
}

static bool thread_eq(const struct capdata *cd, uint32_t id, const void *key)
{
	const struct cap_thread *a = &cd->threads[id], *b = key;

	return a->tid == b->tid && a->pid == b->pid && strcmp(a->comm, b->comm) == 0;
}

int64_t capdata_thread(struct capdata *cd, int32_t pid, int32_t tid, const char *comm)
{
	struct cap_thread th = { .pid = pid, .tid = tid };
	struct htab *t = &cd->index->threads;
	char *clean = NULL;
	uint64_t h;
	uint32_t hash, slot = 0;
	int64_t id;
	int err;

	if (!cd->index)
		return -EINVAL;
	/* comm comes from the kernel as bytes: cut to 15, then make it valid UTF-8. */
	err = capdata_str_dup_clean(comm ? comm : "", sizeof(th.comm) - 1, &clean);
	if (err)
		return err;
	memcpy(th.comm, clean, strlen(clean) + 1);
	free(clean);

	h = hash_bytes(HASH_SEED, &pid, sizeof(pid));
	h = hash_bytes(h, &tid, sizeof(tid));
	hash = hash_fold(hash_str(h, th.comm));
	err = htab_reserve(t);
	if (err)
		return err;
	id = htab_find(t, hash, thread_eq, cd, &th, &slot);
	if (id >= 0)
		return id;
	err = GROW(cd, threads, CAPDATA_MAX_THREADS);
	if (err)
		return err;
	id = cd->nthreads++;
	cd->threads[id] = th;
	htab_put(t, slot, hash, id);
	return id;
}
