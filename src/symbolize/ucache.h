/* ucache.h: private to the symbolize stage: the cache of verified unwinds.
 *
 * An unwind is a function of the process's module layout (its session id),
 * the initial registers the CFI rules consult, and the stack words it read.
 * An entry stores that input (every word read, as an offset from sp and a
 * value, failed reads included) with the resulting stack id. A new stack is
 * served from an entry only if the same words hold the same values at the same
 * offsets from its sp, so the unwind would have gone the same way: it is exact,
 * not a heuristic.
 *
 * Stack addresses make offsets from sp insufficient: a saved frame pointer is
 * an absolute address the unwinder then reads at. So:
 * - each initial register (but rip and rsp) enters the key as its offset from
 *   sp when it lies in the stack window [sp - 64 KiB, sp + len + 64 KiB), and
 *   as "elsewhere" otherwise: a pointer elsewhere cannot lead a read into
 *   either copy, so such reads fail both times;
 * - when a logged value lies in the stack window of either stack, the entry
 *   is only reused at the same absolute sp.
 * The window margin must exceed the offsets CFI rules add to a base register
 * (16 for rbp-based frames; rsp-based offsets are relative anyway).
 *
 * Bounded: a fixed number of entries (set-associative, least recently used
 * replaced), each of at most UPROC_MAX_READS logged words.
 */
#ifndef STALLTRAP_SYMBOLIZE_UCACHE_H
#define STALLTRAP_SYMBOLIZE_UCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/uproc.h"

#define UCACHE_STACK_MARGIN (64u * 1024)
#define UCACHE_NOT_STACK INT64_MIN      /* a register outside the stack window */

struct ucache_key {
	uint64_t session;
	uint64_t ip;
	int64_t regoff[SYM_NREGS];       /* rsp's and rip's slots are 0 */
};

/* What a hit returns: the interned stack and the per-stack counters. */
struct ucache_val {
	uint32_t stack_id;
	uint32_t unknown_pcs;
	uint32_t outside_pcs;
};

struct ucache;

/* A cache of max_entries entries (rounded up to the set size). Returns NULL on ENOMEM. */
struct ucache *ucache__new(size_t max_entries);
void ucache__free(struct ucache *c);

/* Builds the key of a stack: regs in DWARF order, len bytes copied at sp. */
void ucache__key(uint64_t session, const uint64_t *regs, size_t len, struct ucache_key *k);
/* Whether v lies in the stack window of a copy of len bytes at sp. */
bool ucache__stack_like(uint64_t v, uint64_t sp, size_t len);

/* Looks up a stack. Returns true and fills *out on a verified hit. */
bool ucache__lookup(struct ucache *c, const struct ucache_key *k, uint64_t sp,
		    const uint8_t *stack, size_t len, struct ucache_val *out);
/* Stores an unwind: its key, sp, copy length, logged reads and result.
 * Returns 0, or -ENOMEM (the cache is unchanged). */
int ucache__insert(struct ucache *c, const struct ucache_key *k, uint64_t sp, size_t len,
		   const struct uread *reads, size_t nreads, const struct ucache_val *val);

size_t ucache__count(const struct ucache *c);

#endif /* STALLTRAP_SYMBOLIZE_UCACHE_H */
