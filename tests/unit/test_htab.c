/* test_htab.c: unit tests of util/htab: interning, colliding hashes, removal against a reference, the cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/htab.h"

#define N 5000

/* Entries are uint64_t values; the id is the index. */
struct vals {
	uint64_t v[N];
	bool live[N];
	unsigned int hash_bits; /* hashes keep only these low bits: forces collisions */
};

static bool val_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct vals *vs = ctx;

	return vs->v[id] == *(const uint64_t *)key;
}

static uint64_t val_hash(const struct vals *vs, uint64_t v)
{
	uint64_t h = htab_hash_u64(HTAB_HASH_SEED, v);

	return vs->hash_bits < 64 ? h & ((1ULL << vs->hash_bits) - 1) : h;
}

static void check_all(const struct htab *t, const struct vals *vs)
{
	uint32_t i;

	for (i = 0; i < N; i++) {
		int64_t id = htab_find(t, val_hash(vs, vs->v[i]), val_eq, vs, &vs->v[i]);

		if (vs->live[i])
			assert_int_equal(id, i);
		else
			assert_int_equal(id, -ENOENT);
	}
}

static void run_insert_remove(unsigned int hash_bits)
{
	struct vals *vs = calloc(1, sizeof(*vs));
	struct htab t;
	uint32_t i;

	assert_non_null(vs);
	vs->hash_bits = hash_bits;
	htab_init(&t, 0);
	assert_int_equal(htab_find(&t, 1, val_eq, vs, &vs->v[0]), -ENOENT);
	for (i = 0; i < N; i++) {
		vs->v[i] = (uint64_t)i * 7919 + 3;
		assert_int_equal(htab_find(&t, val_hash(vs, vs->v[i]), val_eq, vs, &vs->v[i]), -ENOENT);
		assert_int_equal(htab_insert(&t, val_hash(vs, vs->v[i]), i), 0);
		vs->live[i] = true;
	}
	assert_int_equal(t.count, N);
	check_all(&t, vs);
	/* Remove a pseudo-random half: backward shifting must keep every other
	 * entry reachable, including those of the same (colliding) hash. */
	srand(42);
	for (i = 0; i < N / 2; i++) {
		uint32_t k = (uint32_t)rand() % N;

		assert_int_equal(htab_remove(&t, val_hash(vs, vs->v[k]), k), vs->live[k] ? 0 : -ENOENT);
		vs->live[k] = false;
	}
	check_all(&t, vs);
	/* Removed ids can come back. */
	for (i = 0; i < N; i += 3) {
		if (!vs->live[i]) {
			assert_int_equal(htab_insert(&t, val_hash(vs, vs->v[i]), i), 0);
			vs->live[i] = true;
		}
	}
	check_all(&t, vs);
	htab_release(&t);
	assert_null(t.slots);
	assert_int_equal(t.count, 0);
	free(vs);
}

static void test_well_spread(void **state)
{
	run_insert_remove(64);
}

static void test_colliding(void **state)
{
	run_insert_remove(3); /* 8 distinct hashes for 5000 keys: long clusters */
}

static void test_cap(void **state)
{
	struct htab t;
	uint32_t i;

	htab_init(&t, 100);
	for (i = 0; i < 100; i++)
		assert_int_equal(htab_insert(&t, htab_hash_u64(HTAB_HASH_SEED, i), i), 0);
	assert_int_equal(htab_insert(&t, htab_hash_u64(HTAB_HASH_SEED, 100), 100), -E2BIG);
	assert_int_equal(t.count, 100);
	htab_release(&t);
}

static void test_hashes(void **state)
{
	/* The terminator is hashed: "ab" then "c" differs from "a" then "bc". */
	assert_true(htab_hash_str(htab_hash_str(HTAB_HASH_SEED, "ab"), "c") !=
		    htab_hash_str(htab_hash_str(HTAB_HASH_SEED, "a"), "bc"));
	assert_true(htab_hash_str(HTAB_HASH_SEED, NULL) == htab_hash_str(HTAB_HASH_SEED, ""));
	/* FNV-1a of "a" (a published test vector). */
	assert_true(htab_hash_bytes(HTAB_HASH_SEED, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(htab_hash_u64(HTAB_HASH_SEED, 1) != htab_hash_u64(HTAB_HASH_SEED, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_spread),
		cmocka_unit_test(test_colliding),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_hashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
