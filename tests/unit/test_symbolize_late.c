/* test_symbolize_late.c: what the symbolize stage does about binaries without
 * symbols, without root or a server: frames renamed in place, the late pass's
 * answers when no server is set or it refuses, and the name a binary was run
 * by (a fake /proc whose exe is reached through a symlink). The lookup from a
 * real debuginfod is tests/bpf/test_symbols.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capdata/capdata.h"
#include "symbolize/debuginfo.h"
#include "symbolize/symbolize.h"
#include "symbolize/uproc.h"

static void test_rename_frame(void **state)
{
	struct capdata cd;
	int64_t m, a, b, again;

	assert_int_equal(capdata_init(&cd), 0);
	m = capdata_mapping(&cd, 0x1000, 0x2000, 0x1000, "/bin/app", "abcd");
	a = capdata_frame(&cd, "[app+0x1100]", 0x1100, (uint32_t)m, false);
	b = capdata_frame(&cd, "[app+0x1200]", 0x1200, (uint32_t)m, false);
	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(capdata_rename_frame(&cd, (uint32_t)a, "worker"), 0);
	assert_string_equal(cd.frames[a].name, "worker");
	/* interning finds it by its new name, and no longer by the old one */
	again = capdata_frame(&cd, "worker", 0x1100, (uint32_t)m, false);
	assert_int_equal(again, a);
	again = capdata_frame(&cd, "[app+0x1100]", 0x1100, (uint32_t)m, false);
	assert_true(again >= 0 && again != a);
	assert_int_equal(capdata_rename_frame(&cd, (uint32_t)cd.nframes, "x"), -EINVAL);
	capdata_free(&cd);
}

/* One unnamed frame of a binary with a build id: what symbolize_late makes of it. */
static void late_case(const char *urls, unsigned int want_failed, unsigned int want_no_server,
		      const char *why)
{
	struct symbolize_late_opts o = { .timeout_ns = 2000000000ull };
	struct symbolize_late_result r;
	struct capdata cd;
	uint32_t fid;
	int64_t m, f;

	debuginfo__reset();
	if (urls)
		setenv("DEBUGINFOD_URLS", urls, 1);
	else
		unsetenv("DEBUGINFOD_URLS");
	setenv("DEBUGINFOD_CACHE_PATH", "/tmp/stalltrap-test-late-cache", 1);
	assert_int_equal(capdata_init(&cd), 0);
	m = capdata_mapping(&cd, 0x1000, 0x2000, 0x1000, "/nonexistent/app",
			    "0123456789abcdef0123456789abcdef01234567");
	f = capdata_frame(&cd, "[app+0x1100]", 0x1100, (uint32_t)m, false);
	fid = (uint32_t)f;
	assert_true(capdata_stack(&cd, &fid, 1, CAP_STACK_TRUNCATED) >= 0);
	assert_int_equal(symbolize_late(&cd, &o, &r), 0);
	assert_int_equal(r.wanted, 1);
	assert_int_equal(r.found, 0);
	assert_int_equal(r.failed, want_failed);
	assert_int_equal(r.no_server, want_no_server);
	if (!strstr(r.why, why) || !strstr(r.why, "app (build id 0123456789ab"))
		fail_msg("why: \"%s\", want it to name the binary and \"%s\"", r.why, why);
	assert_string_equal(cd.frames[f].name, "[app+0x1100]");
	assert_int_equal(capdata_get_stat(&cd, "symbols_wanted"), 1);
	assert_int_equal(capdata_get_stat(&cd, "symbols_failed"), 1);
	assert_true(r.lookup_ns < o.timeout_ns);
	capdata_free(&cd);
}

static void test_late_no_server(void **state)
{
	late_case(NULL, 0, 1, "DEBUGINFOD_URLS is not set");
}

static void test_late_refused(void **state)
{
	/* port 1 on loopback: nothing listens, the connection is refused at once */
	late_case("http://127.0.0.1:1", 1, 0, "Connection refused");
}

static void test_late_nothing_wanted(void **state)
{
	struct symbolize_late_opts o = { .timeout_ns = 0 };
	struct symbolize_late_result r;
	struct capdata cd;
	int64_t m;

	assert_int_equal(capdata_init(&cd), 0);
	m = capdata_mapping(&cd, 0x1000, 0x2000, 0x1000, "/bin/app", "abcd");
	assert_true(capdata_frame(&cd, "worker", 0x1100, (uint32_t)m, false) >= 0);
	/* unnamed, but no build id to ask by */
	assert_true(capdata_frame(&cd, "[lib+0x10]", 0x10, ST_NO_MAPPING, false) >= 0);
	assert_int_equal(symbolize_late(&cd, &o, &r), 0);
	assert_int_equal(r.wanted, 0);
	assert_string_equal(r.why, "");
	assert_int_equal(cd.nstats, 0);
	capdata_free(&cd);
}

/* A fake /proc/42 whose exe is dir/bin/real-binary-with-a-long-name, run by comm. */
static const char *path_as_run(const char *dir, const char *comm)
{
	static char out[PATH_MAX];
	char path[PATH_MAX], maps[PATH_MAX * 2];
	const struct maps_line *l;
	struct uproc *p = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/42/comm", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", comm);
	fclose(f);
	snprintf(maps, sizeof(maps),
		 "55d5c6e02000-55d5c6e07000 r-xp 00002000 fe:01 1835302 %s/bin/real-binary-with-a-long-name\n",
		 dir);
	snprintf(path, sizeof(path), "%s/proc", dir);
	assert_int_equal(uproc__new(42, path, maps, &p), 0);
	l = maps__line(uproc__maps(p), 0);
	snprintf(out, sizeof(out), "%s", uproc__path_as_run(p, l));
	uproc__free(p);
	return out;
}

static void test_path_as_run(void **state)
{
	char dir[] = "/tmp/stalltrap-test-alias.XXXXXX", path[PATH_MAX], target[PATH_MAX];
	char cmd[PATH_MAX + 16];
	static const struct {
		const char *comm, *want; /* want: under dir */
	} cases[] = {
		{ "real-binary-wit", "/bin/real-binary-with-a-long-name" },  /* its own name, cut at 15 */
		{ "alias", "/bin/alias" },                                   /* run through a symlink */
		{ "a-very-long-ali", "/bin/a-very-long-alias-name" },        /* a cut comm, matched by prefix */
		{ "renamed", "/bin/real-binary-with-a-long-name" },          /* a comm that names no link */
		{ "decoy", "/bin/real-binary-with-a-long-name" },            /* a link to another file */
	};
	size_t i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bin", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(target, sizeof(target), "%s/bin/real-binary-with-a-long-name", dir);
	fclose(fopen(target, "w"));
	snprintf(path, sizeof(path), "%s/bin/other", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/bin/alias", dir);
	assert_int_equal(symlink("real-binary-with-a-long-name", path), 0);
	snprintf(path, sizeof(path), "%s/bin/a-very-long-alias-name", dir);
	assert_int_equal(symlink("real-binary-with-a-long-name", path), 0);
	snprintf(path, sizeof(path), "%s/bin/decoy", dir);
	assert_int_equal(symlink("other", path), 0);
	snprintf(path, sizeof(path), "%s/proc", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/proc/42", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/proc/42/exe", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/proc/42/root", dir);
	assert_int_equal(symlink("/", path), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = path_as_run(dir, cases[i].comm);

		snprintf(path, sizeof(path), "%s%s", dir, cases[i].want);
		if (strcmp(got, path) != 0)
			fail_msg("comm \"%s\": named %s, want %s", cases[i].comm, got, path);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rename_frame),
		cmocka_unit_test(test_late_no_server),
		cmocka_unit_test(test_late_refused),
		cmocka_unit_test(test_late_nothing_wanted),
		cmocka_unit_test(test_path_as_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
