/* htab.h: the tree's one hash table (open addressing of uint32_t ids) and its one hash function.
 *
 * The table holds ids, not entries: the caller keeps its entries in an array
 * of its own (an id is an index into it) and tells the table whether entry
 * id equals a key through an htab_eq_fn. So the table never owns, copies or
 * frees an entry, costs 8 bytes a slot whatever it indexes, and interning
 * reads "find; if absent, append to the array and insert the new index".
 *
 * Invariants of struct htab:
 * - a slot holds id + 1 (0: empty) and the caller's 64-bit hash folded to 32
 *   bits; probes compare those 32 bits before calling eq, and growing moves
 *   slots without calling back (nothing is rehashed).
 * - capacity is 0 (nothing allocated yet) or a power of two; the load stays
 *   at most 3/4, by doubling; probing is linear.
 * - at most max ids (htab_init, at most HTAB_MAX_IDS): past that
 *   htab_insert fails with -E2BIG and the table is unchanged.
 * - keys are the caller's business: htab_insert does not look for an equal
 *   key (call htab_find first), and an id must be in the table at most once.
 * - there is no iteration: nothing may depend on the order of slots (outputs
 *   are produced from the caller's arrays, in the caller's order).
 * A zeroed struct htab is an empty table without a cap; htab_release frees
 * the slots and leaves it zeroed.
 *
 * Hashing: chain the fields of a key from HTAB_HASH_SEED with
 * htab_hash_bytes / htab_hash_str (FNV-1a, 64 bits) and htab_hash_u64
 * (integers, through a 64-bit mixer), e.g.
 *	h = htab_hash_str(htab_hash_u64(HTAB_HASH_SEED, pid), comm);
 * Equal keys must give equal hashes; nothing here is meant to resist
 * chosen collisions (every table has a hard cap instead).
 */
#ifndef STALLTRAP_UTIL_HTAB_H
#define STALLTRAP_UTIL_HTAB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HTAB_MAX_IDS (1u << 30)
#define HTAB_HASH_SEED 0xcbf29ce484222325ULL /* FNV-1a's offset basis */

struct htab_slot {
	uint32_t id1;           /* id + 1; 0: empty */
	uint32_t hash;          /* the key's hash, folded */
};

struct htab {
	struct htab_slot *slots;
	uint32_t mask;          /* capacity - 1 (when slots) */
	uint32_t count;         /* ids held */
	uint32_t max;           /* cap on count; 0: HTAB_MAX_IDS */
};

/* Whether entry id of the caller's (ctx) equals key. */
typedef bool (*htab_eq_fn)(const void *ctx, uint32_t id, const void *key);

/* An empty table of at most max ids (0 or over HTAB_MAX_IDS: HTAB_MAX_IDS).
 * Allocates nothing: the first htab_insert does. */
void htab_init(struct htab *t, uint32_t max);
/* Frees the slots; the table is zeroed (empty, no cap) and can be reused. */
void htab_release(struct htab *t);

/* Adds id under hash. 0, -E2BIG (max ids reached) or -ENOMEM; on failure
 * the table is unchanged. */
int htab_insert(struct htab *t, uint64_t hash, uint32_t id);
/* Takes id (added under hash) out of the table: 0, or -ENOENT if absent. */
int htab_remove(struct htab *t, uint64_t hash, uint32_t id);

static inline uint32_t htab_fold(uint64_t hash)
{
	return (uint32_t)(hash ^ (hash >> 32));
}

/* The id of an entry equal to key (eq(ctx, id, key)) under hash, or -ENOENT.
 * Inline so that a constant eq is inlined too: this is the interning hot path. */
static inline int64_t htab_find(const struct htab *t, uint64_t hash, htab_eq_fn eq,
				const void *ctx, const void *key)
{
	uint32_t h = htab_fold(hash), j;

	if (!t->slots)
		return -ENOENT;
	for (j = h & t->mask; t->slots[j].id1; j = (j + 1) & t->mask) {
		if (t->slots[j].hash == h && eq(ctx, t->slots[j].id1 - 1, key))
			return t->slots[j].id1 - 1;
	}
	return -ENOENT;
}

/* FNV-1a over n bytes, continuing from h (HTAB_HASH_SEED to start). */
static inline uint64_t htab_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A string with its terminator (so "ab"+"c" and "a"+"bc" differ); NULL hashes as "". */
static inline uint64_t htab_hash_str(uint64_t h, const char *s)
{
	return htab_hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* An integer, through murmur3's 64-bit finalizer: ids that differ in a few
 * low bits land far apart, at a fraction of the cost of eight FNV steps. */
static inline uint64_t htab_hash_u64(uint64_t h, uint64_t v)
{
	h ^= v;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb93fe53e4ec3ULL;
	h ^= h >> 33;
	return h;
}

#endif /* STALLTRAP_UTIL_HTAB_H */
