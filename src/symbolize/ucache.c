/* ucache.c: set-associative cache of verified unwinds (see ucache.h for why it is exact). */
#include "symbolize/ucache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/htab.h"

/* Not a util/htab table: a cache of a fixed number of entries, each set of
 * UCACHE_WAYS replacing its least recently used entry, so that its memory
 * stays flat over a long watch; an entry that went is only a slower unwind. */
#define UCACHE_WAYS 4

struct uentry {
	struct ucache_key key;
	uint64_t hash;          /* 0: empty slot */
	uint64_t sp;
	uint64_t stamp;         /* last use, for replacement */
	struct uread *reads;
	uint32_t nreads;
	bool abs_sp;            /* a logged value pointed into the stack: reuse only at this sp */
	struct ucache_val val;
};

struct ucache {
	struct uentry *e;
	size_t nsets;           /* a power of two */
	size_t count;
	uint64_t clock;
};

static uint64_t key_hash(const struct ucache_key *k)
{
	uint64_t h = htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, k->session), k->ip);
	size_t i;

	for (i = 0; i < SYM_NREGS; i++)
		h = htab_hash_u64(h, (uint64_t)k->regoff[i]);
	return h ? h : 1;
}

struct ucache *ucache__new(size_t max_entries)
{
	struct ucache *c = calloc(1, sizeof(*c));
	size_t nsets = 1;

	if (!c)
		return NULL;
	while (nsets * UCACHE_WAYS < max_entries)
		nsets *= 2;
	c->e = calloc(nsets * UCACHE_WAYS, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->nsets = nsets;
	return c;
}

void ucache__free(struct ucache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nsets * UCACHE_WAYS; i++)
		free(c->e[i].reads);
	free(c->e);
	free(c);
}

size_t ucache__count(const struct ucache *c)
{
	return c->count;
}

bool ucache__stack_like(uint64_t v, uint64_t sp, size_t len)
{
	uint64_t lo = sp >= UCACHE_STACK_MARGIN ? sp - UCACHE_STACK_MARGIN : 0;
	uint64_t hi = sp + len + UCACHE_STACK_MARGIN;

	if (hi < sp) /* wrapped */
		hi = UINT64_MAX;
	return v >= lo && v < hi;
}

void ucache__key(uint64_t session, const uint64_t *regs, size_t len, struct ucache_key *k)
{
	uint64_t sp = regs[SYM_REG_RSP];
	size_t i;

	memset(k, 0, sizeof(*k));
	k->session = session;
	k->ip = regs[SYM_REG_RIP];
	for (i = 0; i < SYM_NREGS; i++) {
		if (i == SYM_REG_RSP || i == SYM_REG_RIP)
			continue;
		k->regoff[i] = ucache__stack_like(regs[i], sp, len) ? (int64_t)(regs[i] - sp)
								    : UCACHE_NOT_STACK;
	}
}

static bool verify(const struct uentry *e, uint64_t sp, const uint8_t *stack, size_t len)
{
	bool moved = e->sp != sp;
	uint64_t v;
	uint32_t i;

	if (moved && e->abs_sp)
		return false;
	for (i = 0; i < e->nreads; i++) {
		const struct uread *r = &e->reads[i];
		bool inside = r->off >= 0 && len >= sizeof(v) && (size_t)r->off <= len - sizeof(v);

		if (!r->ok) {
			/* It failed then; it must fail now. */
			if (inside)
				return false;
			continue;
		}
		if (!inside)
			return false;
		memcpy(&v, stack + r->off, sizeof(v));
		if (v != r->val)
			return false;
		/* A value pointing into this stack would send the unwinder to an
		 * absolute address that means something else here. */
		if (moved && ucache__stack_like(v, sp, len))
			return false;
	}
	return true;
}

bool ucache__lookup(struct ucache *c, const struct ucache_key *k, uint64_t sp,
		    const uint8_t *stack, size_t len, struct ucache_val *out)
{
	uint64_t h = key_hash(k);
	struct uentry *set = &c->e[(h & (c->nsets - 1)) * UCACHE_WAYS];
	size_t i;

	for (i = 0; i < UCACHE_WAYS; i++) {
		struct uentry *e = &set[i];

		if (e->hash != h || memcmp(&e->key, k, sizeof(*k)) != 0)
			continue;
		if (!verify(e, sp, stack, len))
			continue;
		e->stamp = ++c->clock;
		*out = e->val;
		return true;
	}
	return false;
}

int ucache__insert(struct ucache *c, const struct ucache_key *k, uint64_t sp, size_t len,
		   const struct uread *reads, size_t nreads, const struct ucache_val *val)
{
	uint64_t h = key_hash(k);
	struct uentry *set = &c->e[(h & (c->nsets - 1)) * UCACHE_WAYS], *victim = &set[0];
	struct uread *copy;
	bool abs_sp = false;
	size_t i;

	if (nreads > UPROC_MAX_READS)
		return -E2BIG;
	copy = malloc((nreads ? nreads : 1) * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, reads, nreads * sizeof(*copy));
	for (i = 0; i < nreads; i++)
		if (reads[i].ok && ucache__stack_like(reads[i].val, sp, len))
			abs_sp = true;
	for (i = 0; i < UCACHE_WAYS; i++) {
		if (!set[i].hash) {
			victim = &set[i];
			break;
		}
		if (set[i].stamp < victim->stamp)
			victim = &set[i];
	}
	if (victim->hash)
		free(victim->reads);
	else
		c->count++;
	*victim = (struct uentry){ .key = *k, .hash = h, .sp = sp, .stamp = ++c->clock,
				   .reads = copy, .nreads = (uint32_t)nreads, .abs_sp = abs_sp,
				   .val = *val };
	return 0;
}
