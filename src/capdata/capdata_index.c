/* capdata_index.c: interning of mappings, frames, stacks and threads: equal content, equal id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capdata/capdata.h"
#include "capdata/capdata_int.h"
#include "util/htab.h"

/* One table per kind of interned record; ids index cd->mappings, frames,
 * stacks and threads, whose CAPDATA_MAX_* caps the tables share. */
struct capdata_index {
	struct htab mappings, frames, stacks, threads;
};

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct capdata_index *capdata_index_new(void)
{
	struct capdata_index *ix = malloc(sizeof(*ix));

	if (!ix)
		return NULL;
	htab_init(&ix->mappings, CAPDATA_MAX_MAPPINGS);
	htab_init(&ix->frames, CAPDATA_MAX_FRAMES);
	htab_init(&ix->stacks, CAPDATA_MAX_STACKS);
	htab_init(&ix->threads, CAPDATA_MAX_THREADS);
	return ix;
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
static bool mapping_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct capdata *cd = ctx;
	const struct cap_mapping *a = &cd->mappings[id], *b = key;

	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       str_eq(a->file, b->file) && str_eq(a->build_id, b->build_id);
}

int64_t capdata_mapping(struct capdata *cd, uint64_t start, uint64_t limit, uint64_t offset,
			const char *file, const char *build_id)
{
	struct cap_mapping m = { .start = start, .limit = limit, .offset = offset };
	uint64_t h;
	int64_t id = 0;
	int err;

	if (!cd->index)
		return -EINVAL; /* not capdata_init()ed */
	err = capdata_str_dup_clean(file, CAPDATA_MAX_STRING, &m.file);
	if (!err)
		err = capdata_str_dup_clean(build_id, CAPDATA_MAX_STRING, &m.build_id);
	if (err)
		goto cleanup;
	h = htab_hash_u64(htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, start), limit), offset);
	h = htab_hash_str(htab_hash_str(h, m.file), m.build_id);
	id = htab_find(&cd->index->mappings, h, mapping_eq, cd, &m);
	if (id >= 0)
		goto cleanup; /* known: our copies go */
	err = GROW(cd, mappings, CAPDATA_MAX_MAPPINGS);
	if (!err)
		err = htab_insert(&cd->index->mappings, h, (uint32_t)cd->nmappings);
	if (err)
		goto cleanup;
	id = (int64_t)cd->nmappings++;
	cd->mappings[id] = m; /* the model owns the strings now */
	return id;

cleanup:
	free(m.file);
	free(m.build_id);
	return err ? err : id;
}

static bool frame_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct capdata *cd = ctx;
	const struct cap_frame *a = &cd->frames[id], *b = key;

	return a->addr == b->addr && a->mapping == b->mapping && a->kernel == b->kernel &&
	       strcmp(a->name, b->name) == 0;
}

int64_t capdata_frame(struct capdata *cd, const char *name, uint64_t addr,
		      uint32_t mapping, bool kernel)
{
	struct cap_frame f = { .addr = addr, .mapping = mapping, .kernel = kernel };
	char *owned = NULL;
	uint64_t h;
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
	h = htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, addr), (uint64_t)mapping << 1 | kernel);
	h = htab_hash_str(h, name);
	id = htab_find(&cd->index->frames, h, frame_eq, cd, &f);
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
	err = htab_insert(&cd->index->frames, h, (uint32_t)cd->nframes);
	if (err)
		goto cleanup;
	f.name = owned;
	id = (int64_t)cd->nframes++;
	cd->frames[id] = f;
	return id;

cleanup:
	free(owned);
	return err;
}

static uint64_t frame_hash(const struct cap_frame *f)
{
	uint64_t h = htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, f->addr),
				   (uint64_t)f->mapping << 1 | f->kernel);

	return htab_hash_str(h, f->name);
}

int capdata_rename_frame(struct capdata *cd, uint32_t id, const char *name)
{
	char *owned = NULL;
	int err;

	if (!cd->index || !name || id >= cd->nframes)
		return -EINVAL;
	if (strcmp(cd->frames[id].name, name) == 0)
		return 0;
	err = capdata_str_dup_clean(name, CAPDATA_MAX_STRING, &owned);
	if (err)
		return err;
	/* Re-filed under its new name: the table keeps its slot count, so the
	 * insert after a remove cannot fail. */
	htab_remove(&cd->index->frames, frame_hash(&cd->frames[id]), id);
	free(cd->frames[id].name);
	cd->frames[id].name = owned;
	htab_insert(&cd->index->frames, frame_hash(&cd->frames[id]), id);
	return 0;
}

struct stack_key {
	const uint32_t *frames;
	uint32_t nframes;
	uint8_t status;
};

static bool stack_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct capdata *cd = ctx;
	const struct cap_stack *a = &cd->stacks[id];
	const struct stack_key *b = key;

	return a->nframes == b->nframes && a->status == b->status &&
	       (!a->nframes || memcmp(a->frames, b->frames, a->nframes * sizeof(uint32_t)) == 0);
}

int64_t capdata_stack(struct capdata *cd, const uint32_t *frames, uint32_t nframes,
		      enum cap_stack_status status)
{
	struct stack_key k = { .frames = frames, .nframes = nframes, .status = status };
	uint32_t *copy = NULL, i;
	uint64_t h;
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
	h = htab_hash_bytes(htab_hash_u64(HTAB_HASH_SEED, k.status), frames,
			    nframes * sizeof(uint32_t));
	id = htab_find(&cd->index->stacks, h, stack_eq, cd, &k);
	if (id >= 0)
		return id;
	err = GROW(cd, stacks, CAPDATA_MAX_STACKS);
	if (err)
		return err;
	if (nframes) {
		copy = malloc(nframes * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, frames, nframes * sizeof(*copy));
	}
	err = htab_insert(&cd->index->stacks, h, (uint32_t)cd->nstacks);
	if (err) {
		free(copy);
		return err;
	}
	id = (int64_t)cd->nstacks++;
	cd->stacks[id] = (struct cap_stack){ .frames = copy, .nframes = nframes, .status = status };
	return id;
}

static bool thread_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct capdata *cd = ctx;
	const struct cap_thread *a = &cd->threads[id], *b = key;

	return a->tid == b->tid && a->pid == b->pid && strcmp(a->comm, b->comm) == 0;
}

int64_t capdata_thread(struct capdata *cd, int32_t pid, int32_t tid, const char *comm)
{
	struct cap_thread th = { .pid = pid, .tid = tid };
	char *clean = NULL;
	uint64_t h;
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

	h = htab_hash_u64(HTAB_HASH_SEED, (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid);
	h = htab_hash_str(h, th.comm);
	id = htab_find(&cd->index->threads, h, thread_eq, cd, &th);
	if (id >= 0)
		return id;
	err = GROW(cd, threads, CAPDATA_MAX_THREADS);
	if (!err)
		err = htab_insert(&cd->index->threads, h, (uint32_t)cd->nthreads);
	if (err)
		return err;
	id = (int64_t)cd->nthreads++;
	cd->threads[id] = th;
	return id;
}
