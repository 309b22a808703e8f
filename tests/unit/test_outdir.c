/* test_outdir.c: output directories: what a killed writer left is cleaned once stale, and nothing else; deferred syncs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/outdir.h"
#include "util/outsync.h"

static char dir[64];

/* creates dir/name (a file, or a directory with a file in it), aged age_s */
static void make(const char *name, bool is_dir, int age_s)
{
	char p[256];
	struct timeval tv[2];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (is_dir) {
		char f[300];

		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(f, sizeof(f), "%s/report.json", p);
		close(open(f, O_CREAT | O_WRONLY, 0600));
	} else {
		close(open(p, O_CREAT | O_WRONLY, 0600));
	}
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	assert_int_equal(utimes(p, tv), 0);
}

static bool exists(const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static void test_clean_stale(void **state)
{
	char target[128], link[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_outdir.XXXXXX");
	assert_non_null(mkdtemp(dir));
	make(".report.json.Ab12Cd", false, 3600);     /* stale temp file */
	make(".capture.jsonl.gz.Zz9yX8", false, 3600);
	make(".report.html.Qq1Ww2", false, 0);        /* a writer at work */
	make(".20250101-000000-x-1.tmp", true, 3600); /* a killed watcher's incident */
	make(".20250101-000001-x-1.tmp", true, 0);
	make("report.json", false, 3600);             /* not temporary */
	make(".hidden", false, 3600);
	make(".config.Ab12C!", false, 3600);
	make("20250101-000000-x-1", true, 3600);
	snprintf(target, sizeof(target), "%s/report.json", dir);
	snprintf(link, sizeof(link), "%s/.link.Ab12Cd", dir);
	assert_int_equal(symlink(target, link), 0);

	assert_int_equal(outdir_clean_stale(dir, OUTDIR_STALE_AGE_S), 3);
	assert_false(exists(".report.json.Ab12Cd"));
	assert_false(exists(".capture.jsonl.gz.Zz9yX8"));
	assert_false(exists(".20250101-000000-x-1.tmp"));
	assert_true(exists(".report.html.Qq1Ww2"));
	assert_true(exists(".20250101-000001-x-1.tmp"));
	assert_true(exists("report.json"));
	assert_true(exists(".hidden"));
	assert_true(exists(".config.Ab12C!"));
	assert_true(exists("20250101-000000-x-1/report.json"));
	assert_true(exists(".link.Ab12Cd"));
	assert_int_equal(outdir_clean_stale("/nonexistent/dir", 0), 0);

	/* the young ones go once old enough; then a failed incident is removed whole */
	assert_int_equal(outdir_clean_stale(dir, 0), 2);
	{
		char inc[128];

		snprintf(inc, sizeof(inc), "%s/20250101-000000-x-1", dir);
		assert_int_equal(outdir_remove_flat(inc), 0);
		assert_false(exists("20250101-000000-x-1"));
	}

	/* deferred: outsync_fd does nothing; outsync_dir syncs in a child */
	{
		pid_t bg = -1;
		int fd = open(target, O_RDONLY);

		outsync_defer(true);
		assert_int_equal(outsync_fd(-1), 0);
		outsync_defer(false);
		assert_int_equal(outsync_fd(-1), -EBADF);
		assert_int_equal(outsync_fd(fd), 0);
		close(fd);
		assert_int_equal(outsync_dir(dir, 10000, &bg), 0);
		assert_int_equal(bg, 0);
		assert_int_equal(outsync_dir("/nonexistent/dir", 10000, &bg), -EIO);
	}
	unlink(target);
	unlink(link);
	unlink(target);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/.hidden", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/.config.Ab12C!", dir);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
