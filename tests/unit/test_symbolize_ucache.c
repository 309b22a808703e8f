/* test_symbolize_ucache.c: the unwind cache reuses an unwind only when the words it read are equal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/ucache.h"

#define SP 0x7f0000100000ull
#define FAR 0x10000000ull       /* further than any stack window */
#define LEN 256

static uint8_t stack_a[LEN * 2];

static void put(uint8_t *stack, size_t off, uint64_t v)
{
	memcpy(stack + off, &v, sizeof(v));
}

static void regs_at(uint64_t *regs, uint64_t sp)
{
	memset(regs, 0, SYM_NREGS * sizeof(*regs));
	regs[SYM_REG_RIP] = 0x401000;
	regs[SYM_REG_RSP] = sp;
	regs[SYM_REG_RBP] = 0x1;         /* a counter, not a pointer */
	regs[3] = 0x5555deadbeef;       /* rbx: a heap pointer */
}

/* The unwind being cached read the words at 8 and 16 and failed at 300. */
static const struct uread reads[] = {
	{ .off = 8, .ok = 1, .val = 0x401234 },
	{ .off = 16, .ok = 1, .val = 0x402345 },
	{ .off = 300, .ok = 0 },
};

static struct ucache *setup_cache(uint64_t *regs, struct ucache_key *k)
{
	struct ucache *c = ucache__new(64);
	struct ucache_val v = { .stack_id = 7, .unknown_pcs = 1, .outside_pcs = 0 };

	assert_non_null(c);
	memset(stack_a, 0xaa, sizeof(stack_a));
	put(stack_a, 8, 0x401234);
	put(stack_a, 16, 0x402345);
	regs_at(regs, SP);
	ucache__key(1, regs, LEN, k);
	assert_int_equal(ucache__insert(c, k, SP, LEN, reads, 3, &v), 0);
	assert_int_equal(ucache__count(c), 1);
	return c;
}

static void test_hit_and_verify(void **state)
{
	uint64_t regs[SYM_NREGS];
	struct ucache_key k, k2;
	struct ucache_val v;
	struct ucache *c = setup_cache(regs, &k);
	uint8_t copy[LEN * 2];

	assert_true(ucache__lookup(c, &k, SP, stack_a, LEN, &v));
	assert_int_equal(v.stack_id, 7);
	assert_int_equal(v.unknown_pcs, 1);

	/* A word the unwinder did not read may differ. */
	memcpy(copy, stack_a, sizeof(copy));
	put(copy, 24, 0x1234);
	assert_true(ucache__lookup(c, &k, SP, copy, LEN, &v));
	/* One it read may not. */
	put(copy, 16, 0x402346);
	assert_false(ucache__lookup(c, &k, SP, copy, LEN, &v));
	/* A read that failed must fail again: a longer copy holds offset 300. */
	memcpy(copy, stack_a, sizeof(copy));
	assert_false(ucache__lookup(c, &k, SP, copy, LEN * 2, &v));
	/* A shorter copy that misses a word read: no. */
	assert_false(ucache__lookup(c, &k, SP, copy, 16, &v));

	/* Another session (maps layout), ip or process: another key. */
	ucache__key(2, regs, LEN, &k2);
	assert_false(ucache__lookup(c, &k2, SP, stack_a, LEN, &v));
	regs[SYM_REG_RIP]++;
	ucache__key(1, regs, LEN, &k2);
	assert_false(ucache__lookup(c, &k2, SP, stack_a, LEN, &v));
	ucache__free(c);
}

static void test_registers_in_key(void **state)
{
	uint64_t regs[SYM_NREGS];
	struct ucache_key k, k2;
	struct ucache_val v;
	struct ucache *c = setup_cache(regs, &k);

	/* Registers pointing elsewhere differ freely: they cannot lead into the copy. */
	regs[3] = 0x5555cafef00d;
	regs[SYM_REG_RBP] = 2;
	ucache__key(1, regs, LEN, &k2);
	assert_true(ucache__lookup(c, &k2, SP, stack_a, LEN, &v));
	/* A register pointing into the stack is part of the key, by its offset. */
	regs[SYM_REG_RBP] = SP + 64;
	ucache__key(1, regs, LEN, &k2);
	assert_false(ucache__lookup(c, &k2, SP, stack_a, LEN, &v));
	assert_int_equal(k2.regoff[SYM_REG_RBP], 64);
	assert_int_equal(k.regoff[SYM_REG_RBP], UCACHE_NOT_STACK);
	/* Just below sp is still the stack window (a red zone, a stale frame). */
	regs[SYM_REG_RBP] = SP - 8;
	ucache__key(1, regs, LEN, &k2);
	assert_int_equal(k2.regoff[SYM_REG_RBP], -8);
	ucache__free(c);
}

static void test_moved_stack(void **state)
{
	uint64_t regs[SYM_NREGS], sp2 = SP + FAR;
	struct ucache_key k, k2;
	struct ucache_val v, val = { .stack_id = 9 };
	struct ucache *c = setup_cache(regs, &k);
	static const struct uread abs_reads[] = {
		{ .off = 8, .ok = 1, .val = 0x401234 },
		{ .off = 32, .ok = 1, .val = SP + 128 }, /* a saved frame pointer */
	};

	/* The same words at the same offsets from another sp (another thread on
	 * the same path): the unwind is the same. */
	regs_at(regs, sp2);
	ucache__key(1, regs, LEN, &k2);
	assert_true(ucache__lookup(c, &k2, sp2, stack_a, LEN, &v));
	assert_int_equal(v.stack_id, 7);

	/* A value in the new stack's window would be followed to a place that
	 * means something else there. */
	{
		static const struct uread rd[] = { { .off = 8, .ok = 1, .val = SP + FAR + 40 } };
		uint8_t copy[LEN];

		memcpy(copy, stack_a, LEN);
		put(copy, 8, SP + FAR + 40);
		regs_at(regs, SP);
		ucache__key(1, regs, LEN, &k);
		k.ip = 0x500000;
		assert_int_equal(ucache__insert(c, &k, SP, LEN, rd, 1, &val), 0);
		assert_true(ucache__lookup(c, &k, SP, copy, LEN, &v));
		k2 = k;
		assert_false(ucache__lookup(c, &k2, sp2, copy, LEN, &v));
	}

	/* An unwind that read a pointer into its own stack is reused only at the same sp. */
	{
		uint8_t copy[LEN];

		memcpy(copy, stack_a, LEN);
		put(copy, 32, SP + 128);
		regs_at(regs, SP);
		ucache__key(1, regs, LEN, &k);
		k.ip = 0x600000;
		assert_int_equal(ucache__insert(c, &k, SP, LEN, abs_reads, 2, &val), 0);
		assert_true(ucache__lookup(c, &k, SP, copy, LEN, &v));
		assert_int_equal(v.stack_id, 9);
		assert_false(ucache__lookup(c, &k, sp2, copy, LEN, &v));
	}
	ucache__free(c);
}

static void test_bounded(void **state)
{
	struct ucache *c = ucache__new(16);
	struct ucache_key k;
	struct ucache_val v = { .stack_id = 1 };
	uint64_t regs[SYM_NREGS];
	struct uread *many;
	size_t i;

	assert_non_null(c);
	regs_at(regs, SP);
	for (i = 0; i < 1000; i++) {
		regs[SYM_REG_RIP] = 0x400000 + i;
		ucache__key(1, regs, LEN, &k);
		assert_int_equal(ucache__insert(c, &k, SP, LEN, reads, 3, &v), 0);
		assert_true(ucache__count(c) <= 16);
	}
	assert_int_equal(ucache__count(c), 16);
	/* The most recent entry is there. */
	put(stack_a, 8, 0x401234);
	put(stack_a, 16, 0x402345);
	assert_true(ucache__lookup(c, &k, SP, stack_a, LEN, &v));
	many = calloc(UPROC_MAX_READS + 1, sizeof(*many));
	assert_non_null(many);
	assert_int_equal(ucache__insert(c, &k, SP, LEN, many, UPROC_MAX_READS + 1, &v), -E2BIG);
	free(many);
	ucache__free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_verify),
		cmocka_unit_test(test_registers_in_key),
		cmocka_unit_test(test_moved_stack),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
