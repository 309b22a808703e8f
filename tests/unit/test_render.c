/* test_render.c: unit tests of profile.folded, report.json and the text summary, on hand-built capdata. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "diagnose/classify.h"
#include "render/render.h"

#define MS 1000000ULL
/* 2024-05-01T12:34:56.789Z, plus sub-millisecond noise that must be cut. */
#define START_REAL_NS (1714566896LL * 1000000000LL + 789123456LL)

struct world {
	struct capdata cd;
	struct aggregate agg;
	uint32_t ucpp, unr, none, k;
	uint32_t app1, app2, kw;
};

/* Blocks (all of comm "my app" unless said):
 *   A: ucpp + k, 10 ms sleeping (app1) + 5 ms uninterruptible (app2, in progress)
 *   B: unr + k, 4 ms uninterruptible (app1)
 *   C: kworker, none + k, 2.0004 ms runnable
 *   D: kworker, no user stack, no kernel stack, 1 ms sleeping */
static void world_init(struct world *w, bool with_drops)
{
	int32_t pid = 4242;
	uint32_t f[5], kf[3];

	assert_int_equal(capdata_init(&w->cd), 0);
	assert_int_equal(capdata_set_target(&w->cd, &pid, 1, "myapp", "/usr/bin/myapp --port 80"), 0);
	assert_int_equal(capdata_set_capture_path(&w->cd, "sched_exit_tp"), 0);
	w->cd.window.start_mono_ns = 50; /* the blocks start at 100 ns: inside it */
	w->cd.window.start_real_ns = START_REAL_NS;
	w->cd.window.duration_ns = 10 * 1000 * MS + 4 * 100000; /* 10.0004 s */
	w->cd.window.min_block_ns = 1 * MS;

	f[0] = (uint32_t)capdata_frame(&w->cd, "main", 1, ST_NO_MAPPING, false);
	f[1] = (uint32_t)capdata_frame(&w->cd, "ns::f(int, char)", 2, ST_NO_MAPPING, false);
	f[2] = (uint32_t)capdata_frame(&w->cd, "a;b", 3, ST_NO_MAPPING, false);
	f[3] = (uint32_t)capdata_frame(&w->cd, "tab\there\x1b[31m", 4, ST_NO_MAPPING, false);
	f[4] = (uint32_t)capdata_frame(&w->cd, "", 5, ST_NO_MAPPING, false);
	w->ucpp = (uint32_t)capdata_stack(&w->cd, f, 5, CAP_STACK_COMPLETE);
	f[0] = (uint32_t)capdata_frame(&w->cd, "[user stack unreadable: mmap_lock busy]", 0, ST_NO_MAPPING, false);
	w->unr = (uint32_t)capdata_stack(&w->cd, f, 1, CAP_STACK_UNREADABLE);
	w->none = (uint32_t)capdata_stack(&w->cd, NULL, 0, CAP_STACK_NONE);
	kf[0] = (uint32_t)capdata_frame(&w->cd, "entry_SYSCALL_64", 0xffffffff82000000ULL, ST_NO_MAPPING, true);
	kf[1] = (uint32_t)capdata_frame(&w->cd, "futex_wait_queue", 0xffffffff81100000ULL, ST_NO_MAPPING, true);
	kf[2] = (uint32_t)capdata_frame(&w->cd, "schedule", 0xffffffff81000000ULL, ST_NO_MAPPING, true);
	w->k = (uint32_t)capdata_stack(&w->cd, kf, 3, CAP_STACK_COMPLETE);

	w->app1 = (uint32_t)capdata_thread(&w->cd, 4242, 4242, "my app");
	w->app2 = (uint32_t)capdata_thread(&w->cd, 4242, 4243, "my app");
	w->kw = (uint32_t)capdata_thread(&w->cd, 2, 77, "kworker");
	w->cd.threads[w->app2].below_min_ns = 250000;
	w->cd.threads[w->kw].below_min_ns = 1500;
	w->cd.threads[w->kw].below_min_count = 2;

	struct cap_block blocks[] = {
		{ .thread = w->app1, .ustack = w->ucpp, .kstack = w->k, .state = CAP_STATE_SLEEPING,
		  .start_ns = 100, .dur_ns = 10 * MS },
		{ .thread = w->app2, .ustack = w->ucpp, .kstack = w->k, .state = CAP_STATE_UNINTERRUPTIBLE,
		  .flags = CAP_BLOCK_IN_PROGRESS, .start_ns = 200, .dur_ns = 5 * MS },
		{ .thread = w->app1, .ustack = w->unr, .kstack = w->k, .state = CAP_STATE_UNINTERRUPTIBLE,
		  .start_ns = 300, .dur_ns = 4 * MS },
		{ .thread = w->kw, .ustack = w->none, .kstack = w->k, .state = CAP_STATE_RUNNABLE,
		  .start_ns = 400, .dur_ns = 2 * MS + 400 },
		{ .thread = w->kw, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK, .state = CAP_STATE_SLEEPING,
		  .start_ns = 500, .dur_ns = 1 * MS },
	};
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		assert_int_equal(capdata_add_block(&w->cd, &blocks[i]), 0);

	assert_int_equal(capdata_add_drop(&w->cd, "ringbuf_full", with_drops ? 3 : 0), 0);
	assert_int_equal(capdata_add_drop(&w->cd, "kstack_collision", 0), 0);
	assert_int_equal(capdata_set_stat(&w->cd, "blocks", 5), 0);
	assert_int_equal(capdata_set_stat(&w->cd, "unwind_ns", 12345), 0);
	assert_int_equal(aggregate_build(&w->agg, &w->cd), 0);
}

static void world_free(struct world *w)
{
	aggregate_release(&w->agg);
	capdata_free(&w->cd);
}

static char *render_to_string(int (*fn)(FILE *, const struct capdata *, const struct aggregate *),
			      const struct world *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, &w->cd, &w->agg), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/test_render.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static int remove_tmpdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
		n++;
	}
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
	return n;
}

/* ---- profile.folded ---- */

static void test_folded_lines(void **state)
{
	struct world w;
	char *out;

	world_init(&w, false);
	out = render_to_string(render_folded, &w);
	assert_string_equal(out,
		"my_app;main;ns::f(int,_char);a:b;tab_here_[31m;[unknown];"
		"entry_SYSCALL_64_[k];futex_wait_queue_[k];schedule_[k] 15000\n"
		"my_app;[user_stack_unreadable:_mmap_lock_busy];"
		"entry_SYSCALL_64_[k];futex_wait_queue_[k];schedule_[k] 4000\n"
		"kworker;entry_SYSCALL_64_[k];futex_wait_queue_[k];schedule_[k] 2000\n"
		"kworker 1000\n");
	free(out);
	world_free(&w);
}

/* Every line must parse as flamegraph.pl does: the count is after the only
 * space, frames split on ';' are non-empty, and the counts add up. */
static void check_folded_parses(const char *out, uint64_t want_total_us)
{
	const char *line = out;
	uint64_t total = 0;

	while (*line) {
		const char *nl = strchr(line, '\n'), *sp, *p;

		assert_non_null(nl);
		sp = memchr(line, ' ', (size_t)(nl - line));
		assert_non_null(sp);
		assert_null(memchr(sp + 1, ' ', (size_t)(nl - sp - 1)));
		for (p = sp + 1; p < nl; p++)
			assert_true(*p >= '0' && *p <= '9');
		total += strtoull(sp + 1, NULL, 10);
		for (p = line; p < sp; p++) {
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
			if (*p == ';')
				assert_true(p[1] != ';' && p[1] != ' ' && p != line);
		}
		line = nl + 1;
	}
	assert_int_equal(total, want_total_us);
}

static void test_folded_rounding(void **state)
{
	/* Table of block durations (ns), one stack each: the file total must be
	 * the rounded grand total, whatever each line rounds to. */
	static const struct {
		uint64_t dur[4];
		size_t n;
		uint64_t lines[4];
	} cases[] = {
		{ { 1400, 1400, 1400 }, 3, { 1, 2, 1 } },   /* 4.2 us */
		{ { 2500, 1500, 499 }, 3, { 3, 1, 0 } },    /* 4.499 us: 2.5->3, 4.0->4, 4.499->4 */
		{ { 999999, 1 }, 2, { 1000, 0 } },
		{ { 7000000000ULL }, 1, { 7000000 } },
	};
	size_t c, i;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct world w;
		uint32_t fid, tid;
		char name[32], *out, *line;
		uint64_t total = 0;

		assert_int_equal(capdata_init(&w.cd), 0);
		tid = (uint32_t)capdata_thread(&w.cd, 1, 1, "t");
		for (i = 0; i < cases[c].n; i++) {
			struct cap_block b = { .thread = tid, .dur_ns = cases[c].dur[i] };

			snprintf(name, sizeof(name), "f%zu", i);
			fid = (uint32_t)capdata_frame(&w.cd, name, i, ST_NO_MAPPING, false);
			b.ustack = (uint32_t)capdata_stack(&w.cd, &fid, 1, CAP_STACK_COMPLETE);
			b.kstack = ST_NO_STACK;
			assert_int_equal(capdata_add_block(&w.cd, &b), 0);
			total += cases[c].dur[i];
		}
		assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
		out = render_to_string(render_folded, &w);
		check_folded_parses(out, (total + 500) / 1000);
		line = out;
		for (i = 0; i < cases[c].n; i++) {
			char *sp = strchr(line, ' ');

			assert_int_equal(strtoull(sp + 1, &line, 10), cases[c].lines[i]);
			line++;
		}
		free(out);
		world_free(&w);
	}
}

/* ---- report.json ---- */

static double jreal(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("\"%s\" is not a number", key);
	return json_number_value(v);
}

static void assert_near(double a, double b)
{
	if (a < b - 1e-9 || a > b + 1e-9)
		fail_msg("%.9f != %.9f", a, b);
}

static void test_report_json(void **state)
{
	struct world w;
	char *dir = make_tmpdir(), path[4096], err[256];
	json_t *extra, *r, *v, *s, *st, *fr, *t;
	json_error_t jerr;
	struct stat sb;
	const char *key;
	size_t idx, i;
	static const char *const want_order[] = {
		"version", "target", "window", "min_block_ms", "offcpu_total_ms",
		"offcpu_window_ms", "below_min_block_ms", "user_stack_complete_pct", "drops", "capture",
		"verdict", "threads", "stacks", "oncpu_stacks",
	};

	world_init(&w, false);
	extra = json_pack("{s:s}", "verdict", "test");
	assert_int_equal(render_all(dir, &w.cd, &w.agg, extra, err, sizeof(err)), 0);
	json_decref(extra);

	snprintf(path, sizeof(path), "%s/report.json", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/profile.folded", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	snprintf(path, sizeof(path), "%s/report.json", dir);
	r = json_load_file(path, 0, &jerr);
	if (!r)
		fail_msg("report.json does not parse: %s", jerr.text);

	/* Keys, in order (jansson keeps insertion order when loading too). */
	idx = 0;
	json_object_foreach(r, key, v) {
		assert_true(idx < sizeof(want_order) / sizeof(want_order[0]));
		assert_string_equal(key, want_order[idx]);
		idx++;
	}
	assert_int_equal(idx, sizeof(want_order) / sizeof(want_order[0]));

	assert_int_equal(json_integer_value(json_object_get(r, "version")), 3);
	v = json_object_get(r, "target");
	assert_int_equal(json_array_size(json_object_get(v, "pids")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(v, "pids"), 0)), 4242);
	assert_string_equal(json_string_value(json_object_get(v, "comm")), "myapp");
	assert_string_equal(json_string_value(json_object_get(v, "cmdline")), "/usr/bin/myapp --port 80");
	v = json_object_get(r, "window");
	assert_string_equal(json_string_value(json_object_get(v, "start")), "2024-05-01T12:34:56.789Z");
	assert_near(jreal(v, "duration_s"), 10.0);
	assert_near(jreal(r, "min_block_ms"), 1.0);
	assert_true(json_is_real(json_object_get(r, "offcpu_total_ms")));
	assert_near(jreal(r, "offcpu_total_ms"), 22.0);   /* 22.0004 ms -> 3 decimals */
	assert_near(jreal(r, "below_min_block_ms"), 0.252); /* 0.25 + 0.0015 -> 0.2515 -> 0.252 */
	/* complete 15 ms of (15 + 4 unreadable): kernel threads left out. */
	assert_near(jreal(r, "user_stack_complete_pct"), 78.95);

	v = json_object_get(r, "drops");
	assert_int_equal(json_object_size(v), 2);
	assert_int_equal(json_integer_value(json_object_get(v, "ringbuf_full")), 0);
	assert_non_null(json_object_get(v, "kstack_collision"));
	v = json_object_get(r, "capture");
	assert_string_equal(json_string_value(json_object_get(v, "path")), "sched_exit_tp");
	assert_int_equal(json_integer_value(json_object_get(v, "blocks")), 5);
	assert_int_equal(json_integer_value(json_object_get(v, "unwind_ns")), 12345);
	assert_string_equal(json_string_value(json_object_get(r, "verdict")), "test");

	/* Stacks: every entry, sorted. */
	s = json_object_get(r, "stacks");
	assert_int_equal(json_array_size(s), 4);
	st = json_array_get(s, 0);
	fr = json_object_get(st, "frames");
	{
		static const char *const want[] = {
			"main", "ns::f(int, char)", "a;b", "tab\there\x1b[31m", "",
			"entry_SYSCALL_64_[k]", "futex_wait_queue_[k]", "schedule_[k]",
		};

		assert_int_equal(json_array_size(fr), 8);
		for (i = 0; i < 8; i++)
			assert_string_equal(json_string_value(json_array_get(fr, i)), want[i]);
	}
	assert_string_equal(json_string_value(json_object_get(st, "comm")), "my app");
	assert_near(jreal(st, "offcpu_ms"), 15.0);
	assert_int_equal(json_integer_value(json_object_get(st, "count")), 2);
	assert_near(jreal(st, "max_ms"), 10.0);
	assert_int_equal(json_integer_value(json_object_get(st, "threads")), 2);
	v = json_object_get(st, "states");
	assert_near(jreal(v, "sleeping"), 10.0);
	assert_near(jreal(v, "uninterruptible"), 5.0);
	assert_near(jreal(v, "runnable"), 0.0);
	assert_true(json_is_true(json_object_get(st, "in_progress")));
	assert_string_equal(json_string_value(json_object_get(st, "user_stack")), "complete");

	st = json_array_get(s, 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(st, "frames"), 0)),
			    "[user stack unreadable: mmap_lock busy]");
	assert_string_equal(json_string_value(json_object_get(st, "user_stack")), "unreadable");
	assert_true(json_is_false(json_object_get(st, "in_progress")));
	st = json_array_get(s, 2);
	assert_int_equal(json_array_size(json_object_get(st, "frames")), 3); /* kernel only */
	assert_string_equal(json_string_value(json_object_get(st, "user_stack")), "none");
	assert_near(jreal(st, "offcpu_ms"), 2.0);
	assert_near(jreal(json_object_get(st, "states"), "runnable"), 2.0);
	st = json_array_get(s, 3);
	assert_int_equal(json_array_size(json_object_get(st, "frames")), 0);
	assert_string_equal(json_string_value(json_object_get(st, "user_stack")), "none");

	/* Threads: by offcpu_ms descending. */
	t = json_object_get(r, "threads");
	assert_int_equal(json_array_size(t), 3);
	v = json_array_get(t, 0);
	assert_int_equal(json_integer_value(json_object_get(v, "tid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(v, "pid")), 4242);
	assert_string_equal(json_string_value(json_object_get(v, "comm")), "my app");
	assert_near(jreal(v, "offcpu_ms"), 14.0);
	assert_near(jreal(v, "below_min_block_ms"), 0.0);
	v = json_array_get(t, 1);
	assert_int_equal(json_integer_value(json_object_get(v, "tid")), 4243);
	assert_near(jreal(v, "below_min_block_ms"), 0.25);
	v = json_array_get(t, 2);
	assert_int_equal(json_integer_value(json_object_get(v, "tid")), 77);
	assert_near(jreal(v, "offcpu_ms"), 3.0);

	json_decref(r);
	assert_int_equal(remove_tmpdir(dir), 2); /* the two files, no temp files */
	world_free(&w);
}

static void test_report_pretty_and_exact_decimals(void **state)
{
	struct world w;
	char *dir = make_tmpdir(), path[4096], err[256], buf[1 << 16];
	size_t n;
	FILE *f;

	world_init(&w, false);
	assert_int_equal(render_all(dir, &w.cd, &w.agg, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/report.json", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "\n  \"version\": 3,\n")); /* pretty, 2 spaces */
	assert_non_null(strstr(buf, "\"below_min_block_ms\": 0.252,"));
	assert_null(strstr(buf, "00000000")); /* no 0.25200000000000001 */
	remove_tmpdir(dir);
	world_free(&w);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The streaming writer must produce exactly what jansson makes of the tree. */
static void test_report_stream_equals_tree(void **state)
{
	char *dir = make_tmpdir(), a[4096], b[4096], *sa, *sb;
	json_t *tree, *extra;
	struct world w;
	int round;

	for (round = 0; round < 2; round++) {
		if (round == 0) {
			world_init(&w, true);
		} else {
			/* No threads, no stacks: the arrays print as []. */
			assert_int_equal(capdata_init(&w.cd), 0);
			assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
		}
		extra = json_pack("{s:{s:s, s:[i, i]}, s:i, s:i}", "verdict", "kind", "lock",
				  "ids", 1, 2, "stacks", 5, "trigger", 3);
		snprintf(a, sizeof(a), "%s/stream.json", dir);
		snprintf(b, sizeof(b), "%s/tree.json", dir);
		assert_int_equal(render_report_file(a, &w.cd, &w.agg, extra), 0);
		assert_int_equal(render_report(&w.cd, &w.agg, extra, &tree), 0);
		assert_int_equal(render_report_write(tree, b), 0);
		/* "stacks" from extra is ignored: ours stays an array. */
		assert_true(json_is_array(json_object_get(tree, "stacks")));
		assert_int_equal(json_integer_value(json_object_get(tree, "trigger")), 3);
		json_decref(tree);
		json_decref(extra);
		sa = slurp(a);
		sb = slurp(b);
		assert_string_equal(sa, sb);
		free(sa);
		free(sb);
		world_free(&w);
	}
	remove_tmpdir(dir);
}

static void test_render_all_errors(void **state)
{
	struct world w;
	char err[256];

	world_init(&w, false);
	assert_int_equal(render_all("/nonexistent/dir", &w.cd, &w.agg, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dir/profile.folded"));
	assert_null(strchr(err, '\n'));
	world_free(&w);
}

/* ---- summary ---- */

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Reads the summary's site lines in order and checks what the groups
 * promise: ranks run on; under "the cause" only abnormal causes, under the
 * idle heading only idle, and nothing abnormal once the other groups began.
 * Returns the number of site lines. */
static int check_groups(const char *buf)
{
	const char *line = buf;
	int group = -1, rank = 0, sites = 0;

	for (; *line; line = strchr(line, '\n') + 1) {
		char cause[32];
		int r;

		if (!strncmp(line, "the cause: abnormal waits (", 27))
			group = 0;
		else if (!strncmp(line, "on-CPU, from the samples (", 26))
			group = 1;
		else if (!strncmp(line, "other waits (busy, other): not a cause (", 40))
			group = 2;
		else if (!strncmp(line, "waiting for work (idle): never the cause (", 42))
			group = 3;
		if (!strncmp(line, "  ", 2) && line[4] == '.' && sscanf(line, " %d. ", &r) == 1) {
			const char *c = strstr(line, "%  ");
			bool abnormal;

			assert_int_equal(r, ++rank);
			assert_non_null(c);
			sites++;
			/* the cause is the word after the states (or "on-CPU") */
			for (c = strchr(line, '\n'); c > line && *c != '%'; c--)
				;
			assert_int_equal(sscanf(c + 1, " %31s", cause), 1);
			if (group == 1) {
				assert_non_null(strstr(line, " on-CPU\n"));
				continue;
			}
			abnormal = strcmp(cause, "idle") && strcmp(cause, "busy") && strcmp(cause, "other");
			assert_int_equal(abnormal, group == 0);
			if (group == 3)
				assert_string_equal(cause, "idle");
		}
		if (!strchr(line, '\n'))
			break;
	}
	return sites;
}

/* The cause the diagnosis gives block i of w: the summary must say it. */
static const char *cause_of(const struct world *w, size_t i)
{
	uint8_t cause[8];

	assert_true(w->cd.nblocks <= 8);
	assert_int_equal(diagnose_classify(&w->cd, cause), 0);
	return diagnose_cause_name(cause[i]);
}

static void test_summary(void **state)
{
	struct world w;
	char *buf = NULL, want[256];
	size_t len = 0;
	FILE *f;

	world_init(&w, false);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(render_summary(f, &w.cd, &w.agg, 10), 0);
	fclose(f);

	assert_non_null(strstr(buf, "stalltrap: pid 4242 (myapp), 10.000 s from 2024-05-01T12:34:56.789Z: "
				    "5 blocks >= 1 ms, 22.000 ms off-CPU in the window; 0.252 ms more in 2 shorter blocks\n"));
	assert_non_null(strstr(buf, "call sites (4 off-CPU, 0 on-CPU), by cause:\n"));
	/* The biggest call site: figures, states, its cause, in-progress marker, then the stack leaf first. */
	snprintf(want, sizeof(want), ". 15.000 ms  68.2%%  2 blocks  2 threads  S 67%% D 33%%  %s  [in progress]\n",
		 cause_of(&w, 0));
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "      my app: [unknown] ← tab?here?[31m ← a;b ← ns::f(int, char) ← main"
				    " | kernel: futex_wait_queue\n"));
	assert_non_null(strstr(buf, "my app: [user stack unreadable: mmap_lock busy] | kernel: futex_wait_queue\n"));
	assert_non_null(strstr(buf, "kworker: (no user stack) | kernel: futex_wait_queue\n"));
	assert_non_null(strstr(buf, "\ndrops: none\n"));
	assert_non_null(strstr(buf, "user stacks: 21.1% of off-CPU time incomplete (truncated 0.0%, unreadable 21.1%)\n"));
	assert_null(strchr(buf, '\x1b')); /* never an escape sequence */
	assert_int_equal(check_groups(buf), 4);
	assert_true(count_lines(buf) <= 5 + 4 * (2 + 2 * 10));
	free(buf);
	world_free(&w);

	/* With drops, and a top_n smaller than the groups. */
	world_init(&w, true);
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(render_summary(f, &w.cd, &w.agg, 1), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\ndrops: ringbuf_full=3 (data was lost"));
	assert_true(check_groups(buf) <= 4 && check_groups(buf) >= 1);
	assert_non_null(strstr(buf, " more\n"));
	assert_true(count_lines(buf) <= 5 + 4 * (2 + 2 * 1));
	free(buf);
	world_free(&w);
}

static void test_summary_empty(void **state)
{
	struct world w;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(capdata_init(&w.cd), 0);
	w.cd.window.min_block_ns = 2 * MS;
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(render_summary(f, &w.cd, &w.agg, 10), 0);
	fclose(f);
	assert_non_null(strstr(buf, "call sites: none (no block reached 2 ms)\n"));
	assert_non_null(strstr(buf, "drops: none\n"));
	assert_non_null(strstr(buf, "user stacks: none"));
	free(buf);
	world_free(&w);
}

/* ---- scale: 100k stacks in report.json and profile.folded ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_scale(void **state)
{
	struct world w;
	char *dir = make_tmpdir(), name[32], err[256], path[4096];
	uint32_t fr[12], kf[3], i, j, kstack, th;
	char *text, *p;
	size_t n;
	double t0, dt;

	assert_int_equal(capdata_init(&w.cd), 0);
	th = (uint32_t)capdata_thread(&w.cd, 1, 1, "srv");
	for (j = 0; j < 3; j++) {
		snprintf(name, sizeof(name), "kfn_%u", j);
		kf[j] = (uint32_t)capdata_frame(&w.cd, name, 0xffffffff81000000ULL + j, ST_NO_MAPPING, true);
	}
	kstack = (uint32_t)capdata_stack(&w.cd, kf, 3, CAP_STACK_COMPLETE);
	for (j = 0; j < 11; j++) {
		snprintf(name, sizeof(name), "common_%u", j);
		fr[j] = (uint32_t)capdata_frame(&w.cd, name, j, ST_NO_MAPPING, false);
	}
	for (i = 0; i < 100000; i++) {
		struct cap_block b = { .thread = th, .kstack = kstack, .dur_ns = MS + i };

		snprintf(name, sizeof(name), "leaf_%u", i);
		fr[11] = (uint32_t)capdata_frame(&w.cd, name, 100 + i, ST_NO_MAPPING, false);
		b.ustack = (uint32_t)capdata_stack(&w.cd, fr, 12, CAP_STACK_COMPLETE);
		assert_int_equal(capdata_add_block(&w.cd, &b), 0);
	}
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	assert_int_equal(w.agg.nentries, 100000);
	t0 = now_s();
	assert_int_equal(render_all(dir, &w.cd, &w.agg, NULL, err, sizeof(err)), 0);
	dt = now_s() - t0;
	assert_true(dt < 30.0); /* about a second unsanitized */
	/* Checked as text: loading 60 MiB of JSON back would cost more than the render. */
	snprintf(path, sizeof(path), "%s/report.json", dir);
	text = slurp(path);
	/* A plain scan: sanitizers make strstr rescan the whole text on every call. */
	for (n = 0, p = text; *p; p++)
		n += *p == '"' && !strncmp(p, "\"user_stack\": \"complete\"", 24);
	assert_int_equal(n, 100000);
	p = strstr(text, "\"stacks\": [\n    {\n      \"frames\": [\n");
	assert_non_null(p);
	p = strstr(p, "leaf_");
	assert_int_equal(strncmp(p, "leaf_99999\"", 11), 0);
	free(text);
	remove_tmpdir(dir);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_lines),
		cmocka_unit_test(test_folded_rounding),
		cmocka_unit_test(test_report_json),
		cmocka_unit_test(test_report_pretty_and_exact_decimals),
		cmocka_unit_test(test_report_stream_equals_tree),
		cmocka_unit_test(test_render_all_errors),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_empty),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
