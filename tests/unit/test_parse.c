/* test_parse.c: table-driven tests of the command-line value parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/parse.h"

static void test_durations(void **state)
{
	static const struct { const char *in; int ret; uint64_t ns; } cases[] = {
		{ "500ms", 0, 500000000ull },
		{ "2s", 0, 2000000000ull },
		{ "1m", 0, 60000000000ull },
		{ "15", 0, 15000000000ull },
		{ "1.5s", 0, 1500000000ull },
		{ "0.5", 0, 500000000ull },
		{ "250us", 0, 250000ull },
		{ "1h", 0, 3600000000000ull },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "abc", -EINVAL, 0 },
		{ "5 s", -EINVAL, 0 },
		{ "5sec", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "99999999999h", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;
		int ret = parse_duration_ns(cases[i].in, &ns);

		assert_int_equal(ret, cases[i].ret);
		if (!ret)
			assert_int_equal(ns, cases[i].ns);
	}
}

static void test_pid_lists(void **state)
{
	pid_t pids[4];

	assert_int_equal(parse_pid_list("42", pids, 4), 1);
	assert_int_equal(pids[0], 42);
	assert_int_equal(parse_pid_list("1,2,3", pids, 4), 3);
	assert_int_equal(pids[2], 3);
	assert_int_equal(parse_pid_list("1,2,3,4,5", pids, 4), -E2BIG);
	assert_int_equal(parse_pid_list("", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list("1,", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list(",1", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list("0", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list("-5", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list("12a", pids, 4), -EINVAL);
}

static void test_u64(void **state)
{
	uint64_t v;

	assert_int_equal(parse_u64("10", 1, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("0", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_u64("101", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_u64("1x", 1, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("", 1, 100, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_pid_lists),
		cmocka_unit_test(test_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
