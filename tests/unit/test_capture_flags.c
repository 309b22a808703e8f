/* test_capture_flags.c: record's capture flags as record and watch parse them:
 * defaults, values and their errors, the merged getopt_long table, --help. */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/capture_flags.h"

static const struct option own[] = {
	{ "pid", required_argument, NULL, 0x100 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void test_defaults(void **state)
{
	struct capture_flags f;

	memset(&f, 0xa5, sizeof(f));
	capture_flags_init(&f);
	assert_true(f.ro.min_block_ns == 1000000ull);
	assert_true(f.ro.hold_threshold_ns == 10000000ull);
	assert_int_equal(f.ro.max_ustack, 65536);
	assert_true(f.ro.max_overhead == 0.01);
	assert_int_equal(f.ro.ringbuf_kb, 0);
	assert_false(f.ro.no_locks);
	assert_false(f.ro.bpf_stats);
	assert_int_equal(f.top, 10);
	assert_null(f.ro.pids);
	assert_null(f.ro.name);
	assert_null(f.ro.cgroup_dir);
}

static void test_values(void **state)
{
	static const struct {
		int id;
		const char *v;
		int ret;
		const char *err;
	} cases[] = {
		{ CF_MIN_BLOCK, "5ms", 0, NULL },
		{ CF_MIN_BLOCK, "0", 0, NULL },
		{ CF_MIN_BLOCK, "1 ms", -EINVAL, "invalid --min-block '1 ms': expected e.g. 1ms, 500us" },
		{ CF_MIN_BLOCK, "", -EINVAL, "invalid --min-block '': expected e.g. 1ms, 500us" },
		{ CF_HOLD_THRESHOLD, "250us", 0, NULL },
		{ CF_HOLD_THRESHOLD, "soon", -EINVAL, "invalid --hold-threshold 'soon': expected e.g. 10ms" },
		{ CF_MAX_USTACK, "1024", 0, NULL },
		{ CF_MAX_USTACK, "16384", 0, NULL },
		{ CF_MAX_USTACK, "1023", -EINVAL, "invalid --max-ustack '1023': expected 1024..65536" },
		{ CF_MAX_USTACK, "65537", -EINVAL, "invalid --max-ustack '65537': expected 1024..65536" },
		{ CF_MAX_OVERHEAD, "1%", 0, NULL },
		{ CF_MAX_OVERHEAD, "0.5%", 0, NULL },
		{ CF_MAX_OVERHEAD, "off", 0, NULL },
		{ CF_MAX_OVERHEAD, "1", -EINVAL, "invalid --max-overhead '1': expected 0.01%..100% or off" },
		{ CF_MAX_OVERHEAD, "0%", -EINVAL, "invalid --max-overhead '0%': expected 0.01%..100% or off" },
		{ CF_MAX_OVERHEAD, "101%", -EINVAL, "invalid --max-overhead '101%': expected 0.01%..100% or off" },
		{ CF_RINGBUF_KB, "4", 0, NULL },
		{ CF_RINGBUF_KB, "1048576", 0, NULL },
		{ CF_RINGBUF_KB, "12", -EINVAL, "invalid --ringbuf-kb '12': expected a power of two >= 4" },
		{ CF_RINGBUF_KB, "2", -EINVAL, "invalid --ringbuf-kb '2': expected a power of two >= 4" },
		{ CF_RINGBUF_KB, "2097152", -EINVAL, "invalid --ringbuf-kb '2097152': expected a power of two >= 4" },
		{ CF_TOP, "1", 0, NULL },
		{ CF_TOP, "1000", 0, NULL },
		{ CF_TOP, "0", -EINVAL, "invalid --top '0': expected 1..1000" },
		{ CF_TOP, "x", -EINVAL, "invalid --top 'x': expected 1..1000" },
		{ CF_NO_LOCKS, "", 0, NULL },
		{ CF_BPF_STATS, "", 0, NULL },
		{ 'h', "", -ENOENT, "unknown option" },
		{ CF_END, "1", -ENOENT, "unknown option" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture_flags f;
		char err[512] = "";

		capture_flags_init(&f);
		assert_int_equal(capture_flags_apply(&f, cases[i].id, cases[i].v, err, sizeof(err)), cases[i].ret);
		if (cases[i].err)
			assert_string_equal(err, cases[i].err);
		assert_int_equal(capture_flags_has(cases[i].id), cases[i].ret != -ENOENT);
	}
}

static void test_applied(void **state)
{
	struct capture_flags f;
	char err[512];

	capture_flags_init(&f);
	assert_int_equal(capture_flags_apply(&f, CF_MIN_BLOCK, "5ms", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_HOLD_THRESHOLD, "3ms", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_MAX_USTACK, "4096", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_RINGBUF_KB, "64", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_TOP, "3", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_NO_LOCKS, "", err, sizeof(err)), 0);
	assert_int_equal(capture_flags_apply(&f, CF_BPF_STATS, "", err, sizeof(err)), 0);
	assert_true(f.ro.min_block_ns == 5000000ull);
	assert_true(f.ro.hold_threshold_ns == 3000000ull);
	assert_int_equal(f.ro.max_ustack, 4096);
	assert_int_equal(f.ro.ringbuf_kb, 64);
	assert_int_equal(f.top, 3);
	assert_true(f.ro.no_locks);
	assert_true(f.ro.bpf_stats);
	/* a bad value leaves the others alone */
	assert_int_equal(capture_flags_apply(&f, CF_MAX_USTACK, "99", err, sizeof(err)), -EINVAL);
	assert_int_equal(f.ro.max_ustack, 4096);
	assert_int_equal(capture_flags_apply(&f, CF_RINGBUF_KB, "48", err, sizeof(err)), -EINVAL);
	assert_int_equal(f.ro.ringbuf_kb, 64);
}

/* getopt_long over the merged table, as cmd_record and cmd_watch run it */
static int run_getopt(struct capture_flags *f, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[sizeof(own) / sizeof(own[0]) + CAPTURE_FLAGS_N];
	int opt;

	capture_flags_longopts(longopts, own);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == '?') {
			getopt_error(longopts, optopt, argv[optind - 1], err, errlen);
			return -1;
		}
		if (opt == 0x100 || opt == 'h')
			continue;
		if (capture_flags_apply(f, opt, optarg ? optarg : "", err, errlen))
			return -1;
	}
	return optind;
}

static void test_getopt(void **state)
{
	char *good[] = { "record", "--pid", "1", "--min-block", "2ms", "--no-locks", "--hold-threshold=7ms",
			 "--max-ustack", "2048", "--ringbuf-kb=16", "--bpf-stats", "--top", "5", NULL };
	static const struct {
		char *argv[4];
		const char *err;
	} bad[] = {
		{ { "record", "--min-block", NULL }, "option '--min-block' needs a value" },
		{ { "record", "--no-locks=1", NULL }, "option '--no-locks' takes no value" },
		{ { "record", "--pid", NULL }, "option '--pid' needs a value" },
		{ { "record", "-m", "2ms", NULL }, "unknown option '-m'" },
		{ { "record", "--bogus", NULL }, "unknown option '--bogus'" },
		{ { "record", "--ringbuf-kb", "3", NULL }, "invalid --ringbuf-kb '3': expected a power of two >= 4" },
	};
	struct capture_flags f;
	char err[512] = "";

	capture_flags_init(&f);
	assert_int_equal(run_getopt(&f, 13, good, err, sizeof(err)), 13);
	assert_true(f.ro.min_block_ns == 2000000ull);
	assert_true(f.ro.hold_threshold_ns == 7000000ull);
	assert_int_equal(f.ro.max_ustack, 2048);
	assert_int_equal(f.ro.ringbuf_kb, 16);
	assert_int_equal(f.top, 5);
	assert_true(f.ro.no_locks && f.ro.bpf_stats);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[4];
		int argc = 0;

		while (bad[i].argv[argc]) {
			argv[argc] = bad[i].argv[argc];
			argc++;
		}
		argv[argc] = NULL;
		capture_flags_init(&f);
		err[0] = '\0';
		assert_int_equal(run_getopt(&f, argc, argv, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
	}
}

/* every merged option is distinct, and every capture flag has its --help line */
static void test_table_and_usage(void **state)
{
	struct option longopts[sizeof(own) / sizeof(own[0]) + CAPTURE_FLAGS_N];
	char *buf = NULL, want[64];
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputc('\n', f); /* every flag's line then starts after a newline */
	capture_flags_usage(f);
	fclose(f);
	capture_flags_longopts(longopts, own);
	while (longopts[n].name)
		n++;
	assert_int_equal(n, 2 + CAPTURE_FLAGS_N);
	assert_null(longopts[n].flag);
	assert_int_equal(longopts[n].val, 0);
	assert_string_equal(longopts[0].name, "pid");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			assert_string_not_equal(longopts[i].name, longopts[j].name);
			assert_int_not_equal(longopts[i].val, longopts[j].val);
		}
		if (i < 2)
			continue;
		assert_true(capture_flags_has(longopts[i].val));
		assert_true(longopts[i].val > 0xff);
		snprintf(want, sizeof(want), "\n  --%s ", longopts[i].name);
		assert_non_null(strstr(buf, want));
	}
	/* the columns of record's and watch's own lines */
	assert_non_null(strstr(buf, "  --min-block D       blocks shorter than this are only counted; default 1ms\n"));
	assert_non_null(strstr(buf, "  --max-ustack BYTES  most user stack copied per block: the copy stops at the\n"));
	assert_non_null(strstr(buf, "  --no-locks          no cause tracing (lock waits, mmap_lock holders, wakers,\n"
				    "                      on-CPU samples, I/O): the off-CPU profile only\n"));
	free(buf);
}

/* STALLTRAP_DEBUGINFOD_TIMEOUT sets the default the flag overrides; a bad one is named. */
static void test_env(void **state)
{
	struct capture_flags f;
	char err[512];

	capture_flags_init(&f);
	assert_int_equal(f.debuginfod_timeout_ns, 5000000000ull);
	setenv("STALLTRAP_DEBUGINFOD_TIMEOUT", "750ms", 1);
	assert_int_equal(capture_flags_env(&f, err, sizeof(err)), 0);
	assert_int_equal(f.debuginfod_timeout_ns, 750000000ull);
	assert_int_equal(capture_flags_apply(&f, CF_DEBUGINFOD_TIMEOUT, "2s", err, sizeof(err)), 0);
	assert_int_equal(f.debuginfod_timeout_ns, 2000000000ull);
	setenv("STALLTRAP_DEBUGINFOD_TIMEOUT", "11m", 1);
	assert_int_equal(capture_flags_env(&f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid STALLTRAP_DEBUGINFOD_TIMEOUT '11m'"));
	unsetenv("STALLTRAP_DEBUGINFOD_TIMEOUT");
	capture_flags_init(&f);
	assert_int_equal(capture_flags_env(&f, err, sizeof(err)), 0);
	assert_int_equal(f.debuginfod_timeout_ns, 5000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_applied),
		cmocka_unit_test(test_getopt),
		cmocka_unit_test(test_table_and_usage),
		cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
