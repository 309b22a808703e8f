/* capdata.c: the saved capture data model: interning, caps, counters, and the capture.jsonl.gz file format. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "capdata/capdata.h"

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

/* ---------------------------------------------------------------------------
 * Strings: everything that enters the model is valid UTF-8 and capped, because
 * the capture file and report.json are JSON, which cannot hold anything else.
 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned int c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;       /* also stops at the terminator */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* True when s can be stored as is: valid UTF-8 of at most max bytes. */
static bool str_clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n;

	while (*p) {
		if (*p < 0x80) {
			n = 1;
		} else {
			n = utf8_seq(p);
			if (!n)
				return false;
		}
		len += n;
		if (len > max)
			return false;
		p += n;
	}
	return true;
}

/* Copies s into a new string of at most max bytes, cut at a character
 * boundary, with every invalid byte replaced by '?'. NULL stays NULL. */
static int str_dup_clean(const char *s, size_t max, char **out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n;
	char *d;

	*out = NULL;
	if (!s)
		return 0;
	if (str_clean(s, max)) {
		*out = strdup(s);
		return *out ? 0 : -ENOMEM;
	}
	d = malloc(max + 1);
	if (!d)
		return -ENOMEM;
	while (*p) {
		n = utf8_seq(p);
		if (len + (n ? n : 1) > max)
			break;
		if (n) {
			memcpy(d + len, p, n);
			len += n;
			p += n;
		} else {
			d[len++] = '?';
			p++;
		}
	}
	d[len] = '\0';
	*out = d;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Growable arrays with a hard cap.
 */
static int grow(void **arr, size_t *alloc, size_t need, size_t elem, size_t cap)
{
	size_t n;
	void *p;

	if (need <= *alloc)
		return 0;
	if (need > cap)
		return -E2BIG;
	n = *alloc ? *alloc * 2 : 16;
	if (n < need)
		n = need;
	if (n > cap)
		n = cap;
	p = reallocarray(*arr, n, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*alloc = n;
	return 0;
}

#define GROW(cd, what, cap) \
	grow((void **)&(cd)->what, &(cd)->a##what, (cd)->n##what + 1, sizeof(*(cd)->what), (cap))

/* ---------------------------------------------------------------------------
 * Lifecycle and header setters.
 */
int capdata_init(struct capdata *cd)
{
	memset(cd, 0, sizeof(*cd));
	cd->index = calloc(1, sizeof(*cd->index));
	return cd->index ? 0 : -ENOMEM;
}

static void counters_free(struct cap_counter *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

void capdata_free(struct capdata *cd)
{
	size_t i;

	if (!cd)
		return;
	free(cd->target.pids);
	free(cd->target.comm);
	free(cd->target.cmdline);
	free(cd->capture_path);
	for (i = 0; i < cd->nmappings; i++) {
		free(cd->mappings[i].file);
		free(cd->mappings[i].build_id);
	}
	free(cd->mappings);
	for (i = 0; i < cd->nframes; i++)
		free(cd->frames[i].name);
	free(cd->frames);
	for (i = 0; i < cd->nstacks; i++)
		free(cd->stacks[i].frames);
	free(cd->stacks);
	free(cd->threads);
	free(cd->blocks);
	free(cd->holds);
	free(cd->hold_totals);
	free(cd->samples);
	free(cd->mem);
	counters_free(cd->drops, cd->ndrops);
	counters_free(cd->stats, cd->nstats);
	if (cd->index) {
		htab_release(&cd->index->mappings);
		htab_release(&cd->index->frames);
		htab_release(&cd->index->stacks);
		htab_release(&cd->index->threads);
		free(cd->index);
	}
	memset(cd, 0, sizeof(*cd));
}

int capdata_set_target(struct capdata *cd, const int32_t *pids, size_t npids,
		       const char *comm, const char *cmdline)
{
	int32_t *p = NULL;
	char *c = NULL, *l = NULL;
	int err;

	if (npids > CAPDATA_MAX_PIDS)
		return -E2BIG;
	if (npids) {
		p = malloc(npids * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, pids, npids * sizeof(*p));
	}
	err = str_dup_clean(comm, CAPDATA_MAX_STRING, &c);
	if (!err)
		err = str_dup_clean(cmdline, CAPDATA_MAX_STRING, &l);
	if (err) {
		free(p);
		free(c);
		return err;
	}
	free(cd->target.pids);
	free(cd->target.comm);
	free(cd->target.cmdline);
	cd->target.pids = p;
	cd->target.npids = npids;
	cd->target.comm = c;
	cd->target.cmdline = l;
	return 0;
}

int capdata_set_capture_path(struct capdata *cd, const char *path)
{
	char *p;
	int err = str_dup_clean(path, CAPDATA_MAX_STRING, &p);

	if (err)
		return err;
	free(cd->capture_path);
	cd->capture_path = p;
	return 0;
}

uint64_t capdata_window_end(const struct capdata *cd)
{
	return cd->window.start_mono_ns + cd->window.duration_ns;
}

const char *capdata_state_name(unsigned int state)
{
	static const char *const names[] = {
		[CAP_STATE_SLEEPING] = "sleeping",
		[CAP_STATE_UNINTERRUPTIBLE] = "uninterruptible",
		[CAP_STATE_RUNNABLE] = "runnable",
	};

	return state < CAP_STATE__COUNT ? names[state] : "unknown";
}

const char *capdata_stack_status_name(unsigned int status)
{
	static const char *const names[] = {
		[CAP_STACK_COMPLETE] = "complete",
		[CAP_STACK_TRUNCATED] = "truncated",
		[CAP_STACK_UNREADABLE] = "unreadable",
		[CAP_STACK_NONE] = "none",
	};

	return status <= CAP_STACK_NONE ? names[status] : "unknown";
}

const char *capdata_wait_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[CAP_WAIT_NONE] = "none",
		[CAP_WAIT_MMAP_LOCK] = "mmap_lock",
		[CAP_WAIT_KERNEL_LOCK] = "kernel_lock",
		[CAP_WAIT_FUTEX] = "futex",
	};

	return kind < CAP_WAIT__COUNT ? names[kind] : "unknown";
}

const char *capdata_hold_mode_name(unsigned int mode)
{
	static const char *const names[] = {
		[CAP_HOLD_READ] = "read",
		[CAP_HOLD_WRITE] = "write",
		[CAP_HOLD_DOWNGRADED] = "downgraded",
	};

	return mode <= CAP_HOLD_DOWNGRADED ? names[mode] : "unknown";
}

bool capdata_stack_is_kernel(const struct capdata *cd, uint32_t stack)
{
	const struct cap_stack *s;

	if (stack >= cd->nstacks)
		return false;
	s = &cd->stacks[stack];
	return s->nframes && cd->frames[s->frames[0]].kernel;
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
	err = str_dup_clean(file, CAPDATA_MAX_STRING, &m.file);
	if (!err)
		err = str_dup_clean(build_id, CAPDATA_MAX_STRING, &m.build_id);
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
	if (!str_clean(name, CAPDATA_MAX_STRING)) {
		err = str_dup_clean(name, CAPDATA_MAX_STRING, &owned);
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
	err = str_dup_clean(comm ? comm : "", sizeof(th.comm) - 1, &clean);
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

/* A stack reference is ST_NO_STACK or an existing stack of the right side
 * (an empty stack counts as either). */
static bool stack_ref_ok(const struct capdata *cd, uint32_t id, bool kernel)
{
	if (id == ST_NO_STACK)
		return true;
	if (id >= cd->nstacks)
		return false;
	if (!cd->stacks[id].nframes)
		return true;
	return capdata_stack_is_kernel(cd, id) == kernel;
}

int capdata_add_block(struct capdata *cd, const struct cap_block *b)
{
	int err;

	if (b->thread >= cd->nthreads || b->state >= CAP_STATE__COUNT)
		return -EINVAL;
	if (b->ustack != ST_NO_STACK &&
	    (b->ustack >= cd->nstacks || capdata_stack_is_kernel(cd, b->ustack)))
		return -EINVAL;
	if (b->kstack != ST_NO_STACK &&
	    (b->kstack >= cd->nstacks ||
	     (cd->stacks[b->kstack].nframes && !capdata_stack_is_kernel(cd, b->kstack))))
		return -EINVAL;
	if (b->wait_kind >= CAP_WAIT__COUNT ||
	    (b->has_waker && (b->waker >= cd->nthreads || !stack_ref_ok(cd, b->waker_ustack, false) ||
			      !stack_ref_ok(cd, b->waker_kstack, true))))
		return -EINVAL;
	err = GROW(cd, blocks, CAPDATA_MAX_BLOCKS);
	if (err)
		return err;
	cd->blocks[cd->nblocks++] = *b;
	return 0;
}

int capdata_add_hold(struct capdata *cd, const struct cap_hold *h)
{
	int err;

	if (h->thread >= cd->nthreads || h->mode > CAP_HOLD_DOWNGRADED ||
	    !stack_ref_ok(cd, h->ustack, false) || !stack_ref_ok(cd, h->kstack, true))
		return -EINVAL;
	err = GROW(cd, holds, CAPDATA_MAX_HOLDS);
	if (err)
		return err;
	cd->holds[cd->nholds++] = *h;
	return 0;
}

int capdata_add_hold_total(struct capdata *cd, const struct cap_hold_total *t)
{
	int err;

	if (t->thread >= cd->nthreads)
		return -EINVAL;
	err = GROW(cd, hold_totals, CAPDATA_MAX_THREADS);
	if (err)
		return err;
	cd->hold_totals[cd->nhold_totals++] = *t;
	return 0;
}

int capdata_add_sample(struct capdata *cd, const struct cap_sample *smp)
{
	int err;

	if (smp->thread >= cd->nthreads || !stack_ref_ok(cd, smp->ustack, false) ||
	    !stack_ref_ok(cd, smp->kstack, true))
		return -EINVAL;
	err = GROW(cd, samples, CAPDATA_MAX_SAMPLES);
	if (err)
		return err;
	cd->samples[cd->nsamples++] = *smp;
	return 0;
}

int capdata_add_mem(struct capdata *cd, const struct cap_mem *m)
{
	int err = GROW(cd, mem, CAPDATA_MAX_MEM);

	if (err)
		return err;
	cd->mem[cd->nmem++] = *m;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Named counters. At most CAPDATA_MAX_COUNTERS each, so a linear search is fine.
 */
static struct cap_counter *counter_find(struct cap_counter *c, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	}
	return NULL;
}

/* Names become JSON keys and text in summaries: keep them short identifiers. */
static bool counter_name_ok(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > CAPDATA_MAX_NAME)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int counter_get(struct cap_counter **arr, size_t *n, size_t *alloc,
		       const char *name, struct cap_counter **out)
{
	struct cap_counter *c;
	int err;

	if (!counter_name_ok(name))
		return -EINVAL;
	c = counter_find(*arr, *n, name);
	if (!c) {
		err = grow((void **)arr, alloc, *n + 1, sizeof(**arr), CAPDATA_MAX_COUNTERS);
		if (err)
			return err;
		c = &(*arr)[*n];
		c->name = strdup(name);
		if (!c->name)
			return -ENOMEM;
		c->value = 0;
		(*n)++;
	}
	*out = c;
	return 0;
}

int capdata_add_drop(struct capdata *cd, const char *name, uint64_t count)
{
	struct cap_counter *c;
	int err = counter_get(&cd->drops, &cd->ndrops, &cd->adrops, name, &c);

	if (err)
		return err;
	/* Saturate: a wrapped drop counter would claim nothing was lost. */
	c->value = c->value + count < c->value ? UINT64_MAX : c->value + count;
	return 0;
}

int capdata_set_stat(struct capdata *cd, const char *name, uint64_t value)
{
	struct cap_counter *c;
	int err = counter_get(&cd->stats, &cd->nstats, &cd->astats, name, &c);

	if (err)
		return err;
	c->value = value;
	return 0;
}

uint64_t capdata_get_drop(const struct capdata *cd, const char *name)
{
	struct cap_counter *c = name ? counter_find(cd->drops, cd->ndrops, name) : NULL;

	return c ? c->value : 0;
}

uint64_t capdata_get_stat(const struct capdata *cd, const char *name)
{
	struct cap_counter *c = name ? counter_find(cd->stats, cd->nstats, name) : NULL;

	return c ? c->value : 0;
}

/* ---------------------------------------------------------------------------
 * Writer. One compact JSON object per line; see docs/capture-format.md.
 * Addresses are hex strings because kernel addresses do not fit JSON's
 * (jansson's) signed 64-bit integers; other numbers are plain integers.
 */
static json_t *jhex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jid_or_null(uint32_t id)
{
	return id == UINT32_MAX ? json_null() : json_integer(id);
}

/* Unsigned values beyond INT64_MAX cannot be written; *bad records that. */
static json_t *ju64(uint64_t v, bool *bad)
{
	if (v > INT64_MAX) {
		*bad = true;
		v = INT64_MAX;
	}
	return json_integer((json_int_t)v);
}

/* Writes obj as one line and drops the reference. NULL means a failed build. */
static int emit(gzFile gz, json_t *obj)
{
	char *s;
	size_t len;
	int err = 0;

	if (!obj)
		return -ENOMEM;
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* json_dumps' terminator becomes the line end */
	if (gzwrite(gz, s, (unsigned int)(len + 1)) != (int)(len + 1))
		err = -EIO;
	free(s);
	return err;
}

/* Stacks and blocks are most of the file and hold only numbers and fixed
 * names, so they are formatted directly: 3x faster than building a jansson
 * object per line, and the same bytes. */
static int write_stack(gzFile gz, const struct cap_stack *s)
{
	size_t cap = 64 + (size_t)s->nframes * 12, len;
	char *buf = malloc(cap);
	uint32_t j;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	len = (size_t)snprintf(buf, cap, "{\"t\":\"stack\",\"frames\":[");
	for (j = 0; j < s->nframes; j++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu32, j ? "," : "", s->frames[j]);
	len += (size_t)snprintf(buf + len, cap - len, "],\"status\":\"%s\"}\n",
				capdata_stack_status_name(s->status));
	if (gzwrite(gz, buf, (unsigned int)len) != (int)len)
		err = -EIO;
	free(buf);
	return err;
}

static void fmt_id(char *buf, size_t len, uint32_t id)
{
	if (id == UINT32_MAX)
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%" PRIu32, id);
}

/* The cause evidence of a block: optional keys, omitted when unknown (they
 * came after version 1 was out, and absent must read as "not known"). */
static int fmt_block_cause(char *buf, size_t cap, const struct cap_block *b)
{
	size_t len = 0;

	buf[0] = '\0';
	if (b->in_syscall)
		len += (size_t)snprintf(buf + len, cap - len, ",\"syscall\":%" PRId32, b->syscall);
	if (b->wait_kind != CAP_WAIT_NONE)
		len += (size_t)snprintf(buf + len, cap - len, ",\"wait\":\"%s\"",
					capdata_wait_kind_name(b->wait_kind));
	if (b->wait_obj)
		len += (size_t)snprintf(buf + len, cap - len, ",\"wait_obj\":\"0x%" PRIx64 "\"",
					b->wait_obj);
	if (b->lock_flags)
		len += (size_t)snprintf(buf + len, cap - len, ",\"lock_flags\":%u",
					(unsigned int)b->lock_flags);
	if (b->has_waker) {
		char us[16], ks[16];

		fmt_id(us, sizeof(us), b->waker_ustack);
		fmt_id(ks, sizeof(ks), b->waker_kstack);
		len += (size_t)snprintf(buf + len, cap - len,
					",\"waker\":%" PRIu32 ",\"waker_ustack\":%s,\"waker_kstack\":%s",
					b->waker, us, ks);
	}
	return (int)len;
}

static int write_block(gzFile gz, const struct cap_block *b, bool *bad)
{
	char buf[512], us[16], ks[16], cause[256];
	int len;

	if (b->start_ns > INT64_MAX || b->dur_ns > INT64_MAX || b->syscall < 0) {
		*bad = true;
		return 0;
	}
	fmt_id(us, sizeof(us), b->ustack);
	fmt_id(ks, sizeof(ks), b->kstack);
	fmt_block_cause(cause, sizeof(cause), b);
	/* Flags are named booleans, present only when set: most blocks have none. */
	len = snprintf(buf, sizeof(buf),
		       "{\"t\":\"block\",\"thread\":%" PRIu32 ",\"ustack\":%s,\"kstack\":%s,"
		       "\"state\":\"%s\",\"start_ns\":%" PRIu64 ",\"dur_ns\":%" PRIu64 "%s%s%s}\n",
		       b->thread, us, ks, capdata_state_name(b->state), b->start_ns, b->dur_ns,
		       b->flags & CAP_BLOCK_IN_PROGRESS ? ",\"in_progress\":true" : "",
		       b->flags & CAP_BLOCK_BEGAN_BEFORE ? ",\"began_before\":true" : "", cause);
	if (gzwrite(gz, buf, (unsigned int)len) != len)
		return -EIO;
	return 0;
}

/* Samples can be millions: formatted directly, like blocks. */
static int write_sample(gzFile gz, const struct cap_sample *smp, bool *bad)
{
	char buf[160], us[16], ks[16];
	int len;

	if (smp->ts_ns > INT64_MAX) {
		*bad = true;
		return 0;
	}
	fmt_id(us, sizeof(us), smp->ustack);
	fmt_id(ks, sizeof(ks), smp->kstack);
	len = snprintf(buf, sizeof(buf),
		       "{\"t\":\"sample\",\"thread\":%" PRIu32 ",\"ts_ns\":%" PRIu64
		       ",\"ustack\":%s,\"kstack\":%s}\n", smp->thread, smp->ts_ns, us, ks);
	if (gzwrite(gz, buf, (unsigned int)len) != len)
		return -EIO;
	return 0;
}

static json_t *hold_json(const struct cap_hold *h, bool *bad)
{
	json_t *o, *args;
	int i;

	o = json_pack("{s:s, s:I, s:i, s:s, s:o, s:o, s:o, s:o}", "t", "hold",
		      "thread", (json_int_t)h->thread, "mm_pid", h->mm_pid,
		      "mode", capdata_hold_mode_name(h->mode),
		      "start_ns", ju64(h->start_ns, bad), "dur_ns", ju64(h->dur_ns, bad),
		      "ustack", jid_or_null(h->ustack), "kstack", jid_or_null(h->kstack));
	if (!o)
		return NULL;
	if (h->flags & CAP_BLOCK_IN_PROGRESS)
		json_object_set_new(o, "in_progress", json_true());
	if (h->in_syscall) {
		if (h->syscall < 0)
			*bad = true;
		args = json_array();
		for (i = 0; args && i < 4; i++)
			json_array_append_new(args, jhex(h->args[i]));
		if (!args || json_object_set_new(o, "syscall", json_integer(h->syscall)) ||
		    json_object_set_new(o, "args", args)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int write_records(const struct capdata *cd, gzFile gz)
{
	json_t *o, *pids;
	bool bad = false;
	size_t i;
	int err;

	pids = json_array();
	for (i = 0; pids && i < cd->target.npids; i++)
		json_array_append_new(pids, json_integer(cd->target.pids[i]));
	o = json_pack("{s:s, s:s, s:i, s:{s:o, s:o, s:o}, s:{s:o, s:I, s:o, s:o, s:o, s:o, s:o}, s:o}",
		      "t", "header", "format", CAPDATA_FORMAT, "version", CAPDATA_VERSION,
		      "target", "pids", pids ? pids : json_null(),
		      "comm", jstr_or_null(cd->target.comm),
		      "cmdline", jstr_or_null(cd->target.cmdline),
		      "window", "start_mono_ns", ju64(cd->window.start_mono_ns, &bad),
		      "start_real_ns", (json_int_t)cd->window.start_real_ns,
		      "duration_ns", ju64(cd->window.duration_ns, &bad),
		      "min_block_ns", ju64(cd->window.min_block_ns, &bad),
		      "trigger_mono_ns", ju64(cd->window.trigger_mono_ns, &bad),
		      "sample_period_ns", ju64(cd->window.sample_period_ns, &bad),
		      "hold_threshold_ns", ju64(cd->window.hold_threshold_ns, &bad),
		      "capture_path", jstr_or_null(cd->capture_path));
	err = emit(gz, o);
	if (err)
		return err;

	for (i = 0; i < cd->nmappings; i++) {
		const struct cap_mapping *m = &cd->mappings[i];

		o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "t", "mapping",
			      "start", jhex(m->start), "limit", jhex(m->limit),
			      "offset", jhex(m->offset), "file", jstr_or_null(m->file),
			      "build_id", jstr_or_null(m->build_id));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nframes; i++) {
		const struct cap_frame *f = &cd->frames[i];

		o = json_pack("{s:s, s:s, s:o, s:o, s:b}", "t", "frame", "name", f->name,
			      "addr", jhex(f->addr), "mapping", jid_or_null(f->mapping),
			      "kernel", f->kernel);
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nstacks; i++) {
		if ((err = write_stack(gz, &cd->stacks[i])))
			return err;
	}
	for (i = 0; i < cd->nthreads; i++) {
		const struct cap_thread *t = &cd->threads[i];

		o = json_pack("{s:s, s:i, s:i, s:s, s:o, s:o}", "t", "thread",
			      "pid", t->pid, "tid", t->tid, "comm", t->comm,
			      "below_min_ns", ju64(t->below_min_ns, &bad),
			      "below_min_count", ju64(t->below_min_count, &bad));
		/* Optional, omitted when zero or false: most threads issue no I/O. */
		if (o && t->io_bytes)
			json_object_set_new(o, "io_bytes", ju64(t->io_bytes, &bad));
		if (o && t->io_count)
			json_object_set_new(o, "io_count", ju64(t->io_count, &bad));
		if (o && t->outside)
			json_object_set_new(o, "outside", json_true());
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nblocks; i++) {
		if ((err = write_block(gz, &cd->blocks[i], &bad)))
			return err;
	}
	for (i = 0; i < cd->nholds; i++) {
		if ((err = emit(gz, hold_json(&cd->holds[i], &bad))))
			return err;
	}
	for (i = 0; i < cd->nhold_totals; i++) {
		const struct cap_hold_total *t = &cd->hold_totals[i];

		o = json_pack("{s:s, s:I, s:i, s:o, s:o, s:o, s:o}", "t", "hold_total",
			      "thread", (json_int_t)t->thread, "mm_pid", t->mm_pid,
			      "hold_ns", ju64(t->hold_ns, &bad), "holds", ju64(t->holds, &bad),
			      "read_ns", ju64(t->read_ns, &bad), "write_ns", ju64(t->write_ns, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nsamples; i++) {
		if ((err = write_sample(gz, &cd->samples[i], &bad)))
			return err;
	}
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		o = json_pack("{s:s, s:i, s:o, s:o, s:o}", "t", "mem", "pid", m->pid,
			      "ts_ns", ju64(m->ts_ns, &bad), "rss_bytes", ju64(m->rss_bytes, &bad),
			      "vsz_bytes", ju64(m->vsz_bytes, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->ndrops; i++) {
		o = json_pack("{s:s, s:s, s:o}", "t", "drop", "name", cd->drops[i].name,
			      "value", ju64(cd->drops[i].value, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nstats; i++) {
		o = json_pack("{s:s, s:s, s:o}", "t", "stat", "name", cd->stats[i].name,
			      "value", ju64(cd->stats[i].value, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	/* The end record lets the reader tell a complete file from a cut one. */
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "t", "end",
		      "mappings", (json_int_t)cd->nmappings, "frames", (json_int_t)cd->nframes,
		      "stacks", (json_int_t)cd->nstacks, "threads", (json_int_t)cd->nthreads,
		      "blocks", (json_int_t)cd->nblocks, "holds", (json_int_t)cd->nholds,
		      "hold_totals", (json_int_t)cd->nhold_totals,
		      "samples", (json_int_t)cd->nsamples, "mem", (json_int_t)cd->nmem,
		      "drops", (json_int_t)cd->ndrops, "stats", (json_int_t)cd->nstats);
	if ((err = emit(gz, o)))
		return err;
	return bad ? -E2BIG : 0;
}

int capdata_write(const struct capdata *cd, const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	gzFile gz = NULL;
	int fd = -1, gfd, err = 0, zerr;

	if (snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, CAPDATA_FILE) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return -errno;
	/* gzclose closes its descriptor; keep our own for fsync. */
	gfd = dup(fd);
	if (gfd < 0) {
		err = -errno;
		goto cleanup;
	}
	gz = gzdopen(gfd, "wb");
	if (!gz) {
		close(gfd);
		err = -ENOMEM;
		goto cleanup;
	}
	gzbuffer(gz, 128 * 1024);
	err = write_records(cd, gz);
	zerr = gzclose(gz);
	gz = NULL;
	if (!err && zerr != Z_OK)
		err = -EIO;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;

cleanup:
	if (gz)
		gzclose(gz);
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	return err;
}

/* ---------------------------------------------------------------------------
 * Reader. Validates every record and reports the first problem as
 * "FILE:LINE: what is wrong".
 */
#define LINE_MAX_BYTES (1u << 20)

struct reader {
	struct capdata *cd;
	const char *path;
	unsigned long line;
	char *err;
	size_t errlen;
	const char *rec;        /* record type, for messages */
	bool have_header;
	bool have_end;
};

__attribute__((format(printf, 3, 4)))
static int rfail(struct reader *r, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->errlen) {
		if (r->line)
			snprintf(r->err, r->errlen, "%s:%lu: %s", r->path, r->line, msg);
		else
			snprintf(r->err, r->errlen, "%s: %s", r->path, msg);
	}
	return rc;
}

static const char *errno_what(int rc)
{
	return rc == -E2BIG ? "over the reader's limits" : rc == -ENOMEM ? "out of memory"
							    : "invalid";
}

static int get_int(struct reader *r, json_t *o, const char *key, json_int_t lo, json_int_t hi,
		   json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return rfail(r, -EINVAL, "%s: \"%s\" must be an integer", r->rec, key);
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return rfail(r, -EINVAL, "%s: \"%s\" is %lld, outside %lld..%lld", r->rec, key,
			     (long long)*out, (long long)lo, (long long)hi);
	return 0;
}

static int get_u64(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	json_int_t v = 0;
	int err = get_int(r, o, key, 0, INT64_MAX, &v);

	if (!err)
		*out = (uint64_t)v;
	return err;
}

static int get_i32(struct reader *r, json_t *o, const char *key, int32_t *out)
{
	json_int_t v = 0;
	int err = get_int(r, o, key, INT32_MIN, INT32_MAX, &v);

	if (!err)
		*out = (int32_t)v;
	return err;
}

/* An id that must be below n, or null (UINT32_MAX) when nullable. what names
 * the records it points to, for "refers to stack 99 but only 12 stacks ...". */
static int get_ref(struct reader *r, json_t *o, const char *key, bool nullable, size_t n,
		   const char *what, uint32_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t id;

	if (nullable && json_is_null(v)) {
		*out = UINT32_MAX;
		return 0;
	}
	if (!json_is_integer(v))
		return rfail(r, -EINVAL, "%s: \"%s\" must be an integer%s", r->rec, key,
			     nullable ? " or null" : "");
	id = json_integer_value(v);
	if (id < 0 || (uint64_t)id >= n)
		return rfail(r, -EINVAL, "%s refers to %s %lld but only %zu %s%s %s defined",
			     r->rec, what, (long long)id, n, what, n == 1 ? "" : "s",
			     n == 1 ? "was" : "were");
	*out = (uint32_t)id;
	return 0;
}

/* "0x1f"-style hex string of 1 to 16 digits -> *out; false if v is not one. */
static bool hex_value(json_t *v, uint64_t *out)
{
	const char *s = json_string_value(v);
	uint64_t x = 0;
	size_t i;

	if (!s || s[0] != '0' || s[1] != 'x' || !s[2] || strlen(s) > 18)
		return false;
	for (i = 2; s[i]; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		x = (x << 4) | d;
	}
	*out = x;
	return true;
}

static int get_hex(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (hex_value(json_object_get(o, key), out))
		return 0;
	return rfail(r, -EINVAL, "%s: \"%s\" must be a hex string like \"0x1f\" (at most 64 bits)",
		     r->rec, key);
}

/* A string, or NULL when nullable and the value is null. Borrowed from o. */
static int get_str(struct reader *r, json_t *o, const char *key, bool nullable, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return rfail(r, -EINVAL, "%s: \"%s\" must be a string%s", r->rec, key,
			     nullable ? " or null" : "");
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return rfail(r, -EINVAL, "%s: \"%s\" holds a NUL character", r->rec, key);
	if (strlen(*out) > CAPDATA_MAX_STRING)
		return rfail(r, -E2BIG, "%s: \"%s\" is longer than %u bytes", r->rec, key,
			     CAPDATA_MAX_STRING);
	return 0;
}

static int get_bool(struct reader *r, json_t *o, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return rfail(r, -EINVAL, "%s: \"%s\" must be true or false", r->rec, key);
	*out = json_is_true(v);
	return 0;
}

/* Optional keys (the cause evidence, added within version 1): absent leaves
 * *out as it was and *present false; present must be well-formed. */
static int get_opt_u64(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (!json_object_get(o, key))
		return 0;
	return get_u64(r, o, key, out);
}

static int get_opt_hex(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (!json_object_get(o, key))
		return 0;
	return get_hex(r, o, key, out);
}

static int get_opt_syscall(struct reader *r, json_t *o, bool *present, int32_t *out)
{
	json_int_t v = 0;
	int err;

	*present = json_object_get(o, "syscall") != NULL;
	if (!*present)
		return 0;
	err = get_int(r, o, "syscall", 0, INT32_MAX, &v);
	if (!err)
		*out = (int32_t)v;
	return err;
}

/* Maps a name to its index in names[n], for enums spelled as strings. */
static int get_enum(struct reader *r, json_t *o, const char *key,
		    const char *(*name)(unsigned int), unsigned int n, unsigned int *out)
{
	const char *s = json_string_value(json_object_get(o, key));
	unsigned int i;

	for (i = 0; s && i < n; i++) {
		if (strcmp(s, name(i)) == 0) {
			*out = i;
			return 0;
		}
	}
	return rfail(r, -EINVAL, "%s: \"%s\" must be one of %s%s%s%s%s%s%s", r->rec, key,
		     name(0), n > 1 ? ", " : "", n > 1 ? name(1) : "", n > 2 ? ", " : "",
		     n > 2 ? name(2) : "", n > 3 ? ", " : "", n > 3 ? name(3) : "");
}

/* Interning must hand out the next id: anything else means the file repeats a
 * record. expect is read before the call (argument order is unspecified). */
static int check_new_id(struct reader *r, int64_t id, size_t expect)
{
	if (id < 0)
		return rfail(r, (int)id, "%s: %s (%s)", r->rec, errno_what((int)id),
			     strerror((int)-id));
	if ((uint64_t)id != expect)
		return rfail(r, -EINVAL, "%s repeats %s %lld", r->rec, r->rec, (long long)id);
	return 0;
}

static int read_header(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	json_t *target, *window, *pids, *v;
	const char *format, *comm, *cmdline, *cpath;
	int32_t *p = NULL;
	json_int_t version, rn;
	size_t i, n;
	int err;

	format = json_string_value(json_object_get(o, "format"));
	if (!format || strcmp(format, CAPDATA_FORMAT) != 0)
		return rfail(r, -EINVAL, "not a stalltrap capture (header \"format\" is not \"%s\")",
			     CAPDATA_FORMAT);
	v = json_object_get(o, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return rfail(r, -EINVAL, "header: \"version\" must be a positive integer");
	version = json_integer_value(v);
	if (version > CAPDATA_VERSION)
		return rfail(r, -ENOTSUP,
			     "capture format version %lld is newer than this stalltrap reads (%d): upgrade stalltrap",
			     (long long)version, CAPDATA_VERSION);

	target = json_object_get(o, "target");
	window = json_object_get(o, "window");
	if (!json_is_object(target))
		return rfail(r, -EINVAL, "header: \"target\" must be an object");
	if (!json_is_object(window))
		return rfail(r, -EINVAL, "header: \"window\" must be an object");
	r->rec = "header target";
	pids = json_object_get(target, "pids");
	if (!json_is_array(pids))
		return rfail(r, -EINVAL, "header target: \"pids\" must be an array");
	n = json_array_size(pids);
	if (n > CAPDATA_MAX_PIDS)
		return rfail(r, -E2BIG, "header target: more than %u pids", CAPDATA_MAX_PIDS);
	if ((err = get_str(r, target, "comm", true, &comm)) ||
	    (err = get_str(r, target, "cmdline", true, &cmdline)))
		return err;
	r->rec = "header window";
	if ((err = get_u64(r, window, "start_mono_ns", &cd->window.start_mono_ns)) ||
	    (err = get_int(r, window, "start_real_ns", INT64_MIN, INT64_MAX, &rn)) ||
	    (err = get_u64(r, window, "duration_ns", &cd->window.duration_ns)) ||
	    (err = get_u64(r, window, "min_block_ns", &cd->window.min_block_ns)) ||
	    (err = get_opt_u64(r, window, "trigger_mono_ns", &cd->window.trigger_mono_ns)) ||
	    (err = get_opt_u64(r, window, "sample_period_ns", &cd->window.sample_period_ns)) ||
	    (err = get_opt_u64(r, window, "hold_threshold_ns", &cd->window.hold_threshold_ns)))
		return err;
	cd->window.start_real_ns = rn;
	r->rec = "header";
	if ((err = get_str(r, o, "capture_path", true, &cpath)))
		return err;

	if (n) {
		p = malloc(n * sizeof(*p));
		if (!p)
			return rfail(r, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(pids, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT32_MAX) {
			free(p);
			return rfail(r, -EINVAL, "header target: \"pids\" must hold pids (integers >= 0)");
		}
		p[i] = (int32_t)json_integer_value(v);
	}
	err = capdata_set_target(cd, p, n, comm, cmdline);
	free(p);
	if (!err && cpath)
		err = capdata_set_capture_path(cd, cpath);
	if (err)
		return rfail(r, err, "header: %s", strerror(-err));
	r->have_header = true;
	return 0;
}

static int read_mapping(struct reader *r, json_t *o)
{
	uint64_t start, limit, offset;
	const char *file, *build_id;
	size_t expect;
	int err;

	if ((err = get_hex(r, o, "start", &start)) || (err = get_hex(r, o, "limit", &limit)) ||
	    (err = get_hex(r, o, "offset", &offset)) ||
	    (err = get_str(r, o, "file", true, &file)) ||
	    (err = get_str(r, o, "build_id", true, &build_id)))
		return err;
	expect = r->cd->nmappings;
	return check_new_id(r, capdata_mapping(r->cd, start, limit, offset, file, build_id),
			    expect);
}

static int read_frame(struct reader *r, json_t *o)
{
	const char *name;
	uint64_t addr;
	uint32_t mapping;
	bool kernel;
	size_t expect;
	int err;

	if ((err = get_str(r, o, "name", false, &name)) || (err = get_hex(r, o, "addr", &addr)) ||
	    (err = get_ref(r, o, "mapping", true, r->cd->nmappings, "mapping", &mapping)))
		return err;
	if (!json_is_boolean(json_object_get(o, "kernel")))
		return rfail(r, -EINVAL, "frame: \"kernel\" must be true or false");
	kernel = json_is_true(json_object_get(o, "kernel"));
	expect = r->cd->nframes;
	return check_new_id(r, capdata_frame(r->cd, name, addr, mapping, kernel), expect);
}

static int read_stack(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	json_t *fr = json_object_get(o, "frames");
	uint32_t *ids = NULL;
	unsigned int status;
	size_t i, n, expect;
	int err;

	if (!json_is_array(fr))
		return rfail(r, -EINVAL, "stack: \"frames\" must be an array of frame ids");
	n = json_array_size(fr);
	if (n > CAPDATA_MAX_STACK_DEPTH)
		return rfail(r, -E2BIG, "stack: %zu frames, more than the %u allowed", n,
			     CAPDATA_MAX_STACK_DEPTH);
	if ((err = get_enum(r, o, "status", capdata_stack_status_name, CAP_STACK_NONE + 1,
			    &status)))
		return err;
	if (n) {
		ids = malloc(n * sizeof(*ids));
		if (!ids)
			return rfail(r, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(fr, i);
		json_int_t id;

		if (!json_is_integer(v)) {
			err = rfail(r, -EINVAL, "stack: \"frames\" must be an array of frame ids");
			goto cleanup;
		}
		id = json_integer_value(v);
		if (id < 0 || (uint64_t)id >= cd->nframes) {
			err = rfail(r, -EINVAL, "stack refers to frame %lld but only %zu frame%s %s defined",
				    (long long)id, cd->nframes, cd->nframes == 1 ? "" : "s",
				    cd->nframes == 1 ? "was" : "were");
			goto cleanup;
		}
		ids[i] = (uint32_t)id;
		if (cd->frames[ids[i]].kernel != cd->frames[ids[0]].kernel) {
			err = rfail(r, -EINVAL, "stack mixes kernel and user frames (frames %u and %u)",
				    ids[0], ids[i]);
			goto cleanup;
		}
	}
	expect = cd->nstacks;
	err = check_new_id(r, capdata_stack(cd, ids, (uint32_t)n, status), expect);
cleanup:
	free(ids);
	return err;
}

static int read_thread(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	const char *comm;
	int32_t pid, tid;
	uint64_t below_ns, below_count, io_bytes = 0, io_count = 0;
	bool outside = false;
	size_t expect;
	int64_t id;
	int err;

	if ((err = get_i32(r, o, "pid", &pid)) || (err = get_i32(r, o, "tid", &tid)) ||
	    (err = get_str(r, o, "comm", false, &comm)) ||
	    (err = get_u64(r, o, "below_min_ns", &below_ns)) ||
	    (err = get_u64(r, o, "below_min_count", &below_count)) ||
	    (err = get_opt_u64(r, o, "io_bytes", &io_bytes)) ||
	    (err = get_opt_u64(r, o, "io_count", &io_count)) ||
	    (err = get_bool(r, o, "outside", false, &outside)))
		return err;
	if (strlen(comm) >= sizeof(cd->threads[0].comm))
		return rfail(r, -EINVAL, "thread: \"comm\" is longer than %zu bytes",
			     sizeof(cd->threads[0].comm) - 1);
	expect = cd->nthreads;
	id = capdata_thread(cd, pid, tid, comm);
	if ((err = check_new_id(r, id, expect)))
		return err;
	cd->threads[id].below_min_ns = below_ns;
	cd->threads[id].below_min_count = below_count;
	cd->threads[id].io_bytes = io_bytes;
	cd->threads[id].io_count = io_count;
	cd->threads[id].outside = outside;
	return 0;
}

/* A user stack reference must not name a kernel stack, nor the reverse (an
 * empty stack is either). */
static int check_stack_sides(struct reader *r, const char *ukey, uint32_t ustack,
			     const char *kkey, uint32_t kstack)
{
	struct capdata *cd = r->cd;

	if (ustack != ST_NO_STACK && capdata_stack_is_kernel(cd, ustack))
		return rfail(r, -EINVAL, "%s: \"%s\" %u is a kernel stack", r->rec, ukey, ustack);
	if (kstack != ST_NO_STACK && cd->stacks[kstack].nframes &&
	    !capdata_stack_is_kernel(cd, kstack))
		return rfail(r, -EINVAL, "%s: \"%s\" %u is a user stack", r->rec, kkey, kstack);
	return 0;
}

/* The optional cause evidence of a block (absent: unknown, i.e. zero). */
static int read_block_cause(struct reader *r, json_t *o, struct cap_block *b)
{
	struct capdata *cd = r->cd;
	json_int_t flags = 0;
	unsigned int kind = CAP_WAIT_NONE;
	int err;

	if ((err = get_opt_syscall(r, o, &b->in_syscall, &b->syscall)) ||
	    (err = get_opt_hex(r, o, "wait_obj", &b->wait_obj)))
		return err;
	if (json_object_get(o, "wait") &&
	    (err = get_enum(r, o, "wait", capdata_wait_kind_name, CAP_WAIT__COUNT, &kind)))
		return err;
	b->wait_kind = (uint8_t)kind;
	if (json_object_get(o, "lock_flags")) {
		if ((err = get_int(r, o, "lock_flags", 0, 255, &flags)))
			return err;
		b->lock_flags = (uint8_t)flags;
	}
	if (!json_object_get(o, "waker"))
		return 0;
	b->has_waker = true;
	if ((err = get_ref(r, o, "waker", false, cd->nthreads, "thread", &b->waker)) ||
	    (err = get_ref(r, o, "waker_ustack", true, cd->nstacks, "stack", &b->waker_ustack)) ||
	    (err = get_ref(r, o, "waker_kstack", true, cd->nstacks, "stack", &b->waker_kstack)))
		return err;
	return check_stack_sides(r, "waker_ustack", b->waker_ustack, "waker_kstack", b->waker_kstack);
}

static int read_block(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_block b = { 0 };
	unsigned int state;
	bool in_progress = false, began_before = false;
	int err;

	if ((err = get_ref(r, o, "thread", false, cd->nthreads, "thread", &b.thread)) ||
	    (err = get_ref(r, o, "ustack", true, cd->nstacks, "stack", &b.ustack)) ||
	    (err = get_ref(r, o, "kstack", true, cd->nstacks, "stack", &b.kstack)) ||
	    (err = get_enum(r, o, "state", capdata_state_name, CAP_STATE__COUNT, &state)) ||
	    (err = get_u64(r, o, "start_ns", &b.start_ns)) ||
	    (err = get_u64(r, o, "dur_ns", &b.dur_ns)) ||
	    (err = get_bool(r, o, "in_progress", false, &in_progress)) ||
	    (err = get_bool(r, o, "began_before", false, &began_before)) ||
	    (err = read_block_cause(r, o, &b)))
		return err;
	if ((err = check_stack_sides(r, "ustack", b.ustack, "kstack", b.kstack)))
		return err;
	b.state = (uint8_t)state;
	b.flags = (in_progress ? CAP_BLOCK_IN_PROGRESS : 0) | (began_before ? CAP_BLOCK_BEGAN_BEFORE : 0);
	err = capdata_add_block(cd, &b);
	if (err)
		return rfail(r, err, "block: %s (%s)", errno_what(err), strerror(-err));
	return 0;
}

static int read_hold(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_hold h = { 0 };
	unsigned int mode;
	bool in_progress = false;
	json_t *args;
	size_t i;
	int err;

	if ((err = get_ref(r, o, "thread", false, cd->nthreads, "thread", &h.thread)) ||
	    (err = get_i32(r, o, "mm_pid", &h.mm_pid)) ||
	    (err = get_enum(r, o, "mode", capdata_hold_mode_name, CAP_HOLD_DOWNGRADED + 1, &mode)) ||
	    (err = get_u64(r, o, "start_ns", &h.start_ns)) ||
	    (err = get_u64(r, o, "dur_ns", &h.dur_ns)) ||
	    (err = get_ref(r, o, "ustack", true, cd->nstacks, "stack", &h.ustack)) ||
	    (err = get_ref(r, o, "kstack", true, cd->nstacks, "stack", &h.kstack)) ||
	    (err = get_bool(r, o, "in_progress", false, &in_progress)) ||
	    (err = get_opt_syscall(r, o, &h.in_syscall, &h.syscall)) ||
	    (err = check_stack_sides(r, "ustack", h.ustack, "kstack", h.kstack)))
		return err;
	h.mode = (uint8_t)mode;
	h.flags = in_progress ? CAP_BLOCK_IN_PROGRESS : 0;
	args = json_object_get(o, "args");
	if (args) {
		if (!json_is_array(args) || json_array_size(args) > 4)
			return rfail(r, -EINVAL, "hold: \"args\" must be an array of at most 4 hex strings");
		for (i = 0; i < json_array_size(args); i++) {
			if (!hex_value(json_array_get(args, i), &h.args[i]))
				return rfail(r, -EINVAL, "hold: \"args\" must be an array of at most 4 hex strings");
		}
	}
	err = capdata_add_hold(cd, &h);
	if (err)
		return rfail(r, err, "hold: %s (%s)", errno_what(err), strerror(-err));
	return 0;
}

static int read_hold_total(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_hold_total t = { 0 };
	int err;

	if ((err = get_ref(r, o, "thread", false, cd->nthreads, "thread", &t.thread)) ||
	    (err = get_i32(r, o, "mm_pid", &t.mm_pid)) ||
	    (err = get_u64(r, o, "hold_ns", &t.hold_ns)) ||
	    (err = get_u64(r, o, "holds", &t.holds)) ||
	    (err = get_u64(r, o, "read_ns", &t.read_ns)) ||
	    (err = get_u64(r, o, "write_ns", &t.write_ns)))
		return err;
	err = capdata_add_hold_total(cd, &t);
	if (err)
		return rfail(r, err, "hold_total: %s (%s)", errno_what(err), strerror(-err));
	return 0;
}

static int read_sample(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_sample smp = { 0 };
	int err;

	if ((err = get_ref(r, o, "thread", false, cd->nthreads, "thread", &smp.thread)) ||
	    (err = get_u64(r, o, "ts_ns", &smp.ts_ns)) ||
	    (err = get_ref(r, o, "ustack", true, cd->nstacks, "stack", &smp.ustack)) ||
	    (err = get_ref(r, o, "kstack", true, cd->nstacks, "stack", &smp.kstack)) ||
	    (err = check_stack_sides(r, "ustack", smp.ustack, "kstack", smp.kstack)))
		return err;
	err = capdata_add_sample(cd, &smp);
	if (err)
		return rfail(r, err, "sample: %s (%s)", errno_what(err), strerror(-err));
	return 0;
}

static int read_mem(struct reader *r, json_t *o)
{
	struct cap_mem m = { 0 };
	int err;

	if ((err = get_i32(r, o, "pid", &m.pid)) || (err = get_u64(r, o, "ts_ns", &m.ts_ns)) ||
	    (err = get_u64(r, o, "rss_bytes", &m.rss_bytes)) ||
	    (err = get_u64(r, o, "vsz_bytes", &m.vsz_bytes)))
		return err;
	err = capdata_add_mem(r->cd, &m);
	if (err)
		return rfail(r, err, "mem: %s (%s)", errno_what(err), strerror(-err));
	return 0;
}

static int read_counter(struct reader *r, json_t *o, bool drop)
{
	struct capdata *cd = r->cd;
	const char *name;
	uint64_t value;
	int err;

	if ((err = get_str(r, o, "name", false, &name)) || (err = get_u64(r, o, "value", &value)))
		return err;
	if (!counter_name_ok(name))
		return rfail(r, -EINVAL, "%s: \"name\" must be 1..%u letters, digits, '_', '.' or '-'",
			     r->rec, CAPDATA_MAX_NAME);
	if (drop ? !!counter_find(cd->drops, cd->ndrops, name)
		 : !!counter_find(cd->stats, cd->nstats, name))
		return rfail(r, -EINVAL, "%s \"%s\" appears twice", r->rec, name);
	err = drop ? capdata_add_drop(cd, name, value) : capdata_set_stat(cd, name, value);
	if (err)
		return rfail(r, err, "%s: %s (%s)", r->rec, errno_what(err), strerror(-err));
	return 0;
}

static int read_end(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	/* The cause evidence counts came within version 1: a file from before
	 * has none of them, and none of those records either. */
	const struct {
		const char *key;
		size_t have;
		bool optional;
	} counts[] = {
		{ "mappings", cd->nmappings, false }, { "frames", cd->nframes, false },
		{ "stacks", cd->nstacks, false },     { "threads", cd->nthreads, false },
		{ "blocks", cd->nblocks, false },     { "holds", cd->nholds, true },
		{ "hold_totals", cd->nhold_totals, true }, { "samples", cd->nsamples, true },
		{ "mem", cd->nmem, true },            { "drops", cd->ndrops, false },
		{ "stats", cd->nstats, false },
	};
	uint64_t want;
	size_t i;
	int err;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		want = 0;
		if (!counts[i].optional || json_object_get(o, counts[i].key)) {
			if ((err = get_u64(r, o, counts[i].key, &want)))
				return err;
		}
		if (want != counts[i].have)
			return rfail(r, -EINVAL, "end: the file says %" PRIu64 " %s but holds %zu",
				     want, counts[i].key, counts[i].have);
	}
	r->have_end = true;
	return 0;
}

static int read_record(struct reader *r, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *o;
	const char *t;
	int err;

	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return rfail(r, -EINVAL, "not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		err = rfail(r, -EINVAL, "a record must be a JSON object");
		goto cleanup;
	}
	t = json_string_value(json_object_get(o, "t"));
	if (!t) {
		err = rfail(r, -EINVAL, "record without a \"t\" string naming its type");
		goto cleanup;
	}
	r->rec = t;
	if (!r->have_header && strcmp(t, "header") != 0) {
		err = rfail(r, -EINVAL, "not a stalltrap capture (the first record is \"%.40s\", not a header)", t);
		goto cleanup;
	}
	if (r->have_end) {
		err = rfail(r, -EINVAL, "record after the end record");
		goto cleanup;
	}
	if (strcmp(t, "header") == 0)
		err = r->have_header ? rfail(r, -EINVAL, "a second header") : read_header(r, o);
	else if (strcmp(t, "mapping") == 0)
		err = read_mapping(r, o);
	else if (strcmp(t, "frame") == 0)
		err = read_frame(r, o);
	else if (strcmp(t, "stack") == 0)
		err = read_stack(r, o);
	else if (strcmp(t, "thread") == 0)
		err = read_thread(r, o);
	else if (strcmp(t, "block") == 0)
		err = read_block(r, o);
	else if (strcmp(t, "hold") == 0)
		err = read_hold(r, o);
	else if (strcmp(t, "hold_total") == 0)
		err = read_hold_total(r, o);
	else if (strcmp(t, "sample") == 0)
		err = read_sample(r, o);
	else if (strcmp(t, "mem") == 0)
		err = read_mem(r, o);
	else if (strcmp(t, "drop") == 0)
		err = read_counter(r, o, true);
	else if (strcmp(t, "stat") == 0)
		err = read_counter(r, o, false);
	else if (strcmp(t, "end") == 0)
		err = read_end(r, o);
	else
		err = 0; /* a record type from a newer minor revision: skip it */
cleanup:
	json_decref(o);
	return err;
}

static bool capdata_empty(const struct capdata *cd)
{
	return cd->index && !cd->nmappings && !cd->nframes && !cd->nstacks && !cd->nthreads &&
	       !cd->nblocks && !cd->nholds && !cd->nhold_totals && !cd->nsamples && !cd->nmem &&
	       !cd->ndrops && !cd->nstats && !cd->target.npids &&
	       !cd->target.comm && !cd->target.cmdline && !cd->capture_path;
}

/* Splits the decompressed stream into lines itself (rather than gzgets) so
 * that NUL bytes and over-long lines are seen and reported, not misread. */
struct line_reader {
	gzFile gz;
	char *buf;
	size_t cap, start, end;
	bool eof;
};

/* Returns 1 with a line (without its '\n') in line and len, 0 at the end,
 * or a negative errno: -E2BIG for a line over LINE_MAX_BYTES, -EIO. */
static int next_line(struct line_reader *lr, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
		int n;

		if (nl || (lr->eof && lr->end > lr->start)) {
			*line = lr->buf + lr->start;
			*len = nl ? (size_t)(nl - *line) : lr->end - lr->start;
			lr->start = nl ? (size_t)(nl - lr->buf) + 1 : lr->end;
			return 1;
		}
		if (lr->eof)
			return 0;
		/* No full line buffered: move the partial one to the front, grow, read more. */
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
		if (lr->end == lr->cap) {
			char *nb;

			if (lr->cap >= LINE_MAX_BYTES)
				return -E2BIG;
			nb = realloc(lr->buf, lr->cap * 2);
			if (!nb)
				return -ENOMEM;
			lr->buf = nb;
			lr->cap *= 2;
		}
		n = gzread(lr->gz, lr->buf + lr->end, (unsigned int)(lr->cap - lr->end));
		if (n < 0)
			return -EIO;
		if (n == 0) {
			int zerr;

			gzerror(lr->gz, &zerr);
			if (zerr != Z_OK && zerr != Z_STREAM_END)
				return -EIO; /* e.g. "unexpected end of file": cut gzip data */
			lr->eof = true;
		}
		lr->end += (size_t)n;
	}
}

int capdata_read_file(struct capdata *cd, const char *path, char *err, size_t errlen)
{
	struct reader r = { .cd = cd, .path = path, .err = err, .errlen = errlen };
	struct line_reader lr = { .cap = 64 * 1024 };
	unsigned long last;
	char *line;
	size_t len;
	int rc = 0, zerr;

	if (errlen)
		err[0] = '\0';
	if (!capdata_empty(cd))
		return rfail(&r, -EINVAL, "capdata_read wants an empty capdata fresh from capdata_init");
	errno = 0;
	lr.gz = gzopen(path, "rb");
	if (!lr.gz) {
		rc = errno ? -errno : -ENOMEM;
		return rfail(&r, rc, "%s", strerror(-rc));
	}
	gzbuffer(lr.gz, 128 * 1024);
	lr.buf = malloc(lr.cap);
	if (!lr.buf) {
		rc = rfail(&r, -ENOMEM, "out of memory");
		goto cleanup;
	}
	while ((rc = next_line(&lr, &line, &len)) > 0) {
		r.line++;
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (memchr(line, '\0', len)) {
			rc = rfail(&r, -EINVAL, "NUL byte in the line");
			goto cleanup;
		}
		rc = read_record(&r, line, len);
		if (rc)
			goto cleanup;
	}
	if (rc < 0) {
		r.line++;
		if (rc == -E2BIG)
			rc = rfail(&r, rc, "line longer than %u bytes", LINE_MAX_BYTES);
		else if (rc == -EIO)
			rc = rfail(&r, rc, "damaged gzip data: %s", gzerror(lr.gz, &zerr));
		else
			rc = rfail(&r, rc, "%s", strerror(-rc));
		goto cleanup;
	}
	last = r.line;
	r.line = 0;
	if (!r.have_header)
		rc = rfail(&r, -EINVAL, "empty: not a stalltrap capture");
	else if (!r.have_end)
		rc = rfail(&r, -EINVAL, "no end record after line %lu: the file is truncated", last);
cleanup:
	free(lr.buf);
	if (lr.gz)
		gzclose(lr.gz);
	return rc;
}

int capdata_read(struct capdata *cd, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE) >= (int)sizeof(path)) {
		if (errlen)
			snprintf(err, errlen, "%s/%s: path too long", dir, CAPDATA_FILE);
		return -ENAMETOOLONG;
	}
	return capdata_read_file(cd, path, err, errlen);
}

/* ---- eviction (the flight recorder's running generation) ---- */

/* Keeps the records of arr (n of them, each sz bytes) for which keep() holds, in order.
 * Records arrive in about the order they end, so the evictable ones are a
 * prefix: the array is compacted (one pass over all of it) only once that
 * prefix is an eighth of it, so that a watcher evicting every second does
 * not move its whole history every second. Until then, records older than
 * the cutoff stay a little longer; cuts never reach behind the cutoff. */
static size_t compact(void *arr, size_t *n, size_t sz, bool (*keep)(const void *rec, uint64_t cutoff),
		      uint64_t cutoff)
{
	char *base = arr;
	size_t w = 0, dropped, prefix = 0;

	while (prefix < *n && !keep(base + prefix * sz, cutoff))
		prefix++;
	if (prefix == 0 || prefix < *n / 8)
		return 0;
	for (size_t i = 0; i < *n; i++) {
		if (!keep(base + i * sz, cutoff))
			continue;
		if (w != i)
			memcpy(base + w * sz, base + i * sz, sz);
		w++;
	}
	dropped = *n - w;
	*n = w;
	return dropped;
}

static bool keep_block(const void *p, uint64_t cutoff)
{
	const struct cap_block *b = p;

	return (b->flags & CAP_BLOCK_IN_PROGRESS) || b->start_ns + b->dur_ns >= cutoff;
}

static bool keep_hold(const void *p, uint64_t cutoff)
{
	const struct cap_hold *h = p;

	return (h->flags & CAP_BLOCK_IN_PROGRESS) || h->start_ns + h->dur_ns >= cutoff;
}

static bool keep_sample(const void *p, uint64_t cutoff)
{
	return ((const struct cap_sample *)p)->ts_ns >= cutoff;
}

static bool keep_mem(const void *p, uint64_t cutoff)
{
	return ((const struct cap_mem *)p)->ts_ns >= cutoff;
}

size_t capdata_evict(struct capdata *cd, uint64_t cutoff_ns)
{
	/* the arrays are plain (only interning has indexes): compacting in place is safe */
	return compact(cd->blocks, &cd->nblocks, sizeof(*cd->blocks), keep_block, cutoff_ns) +
	       compact(cd->holds, &cd->nholds, sizeof(*cd->holds), keep_hold, cutoff_ns) +
	       compact(cd->samples, &cd->nsamples, sizeof(*cd->samples), keep_sample, cutoff_ns) +
	       compact(cd->mem, &cd->nmem, sizeof(*cd->mem), keep_mem, cutoff_ns);
}
