/* test_diskcap.c: --max-disk: the plan (oldest first, never the newest incident, kept items skipped) and the walk over real files (sizes, locks). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "deliver/queue.h"
#include "util/prune.h"
#include "watch/diskcap.h"

#define I DISKCAP_INCIDENT
#define Q DISKCAP_QUEUE
#define C DISKCAP_CAPTURE

struct plan_case {
	const char *what;
	struct { enum diskcap_what w; int64_t t; uint64_t bytes; bool keep; } in[8];
	size_t n;
	uint64_t total, max;
	const char *removed;        /* the names removed, oldest first ("a b") */
	uint64_t after;
};

/* items are named by letter in input order, so the answer reads in names */
static const struct plan_case plan_cases[] = {
	{ "under the cap: nothing", { { I, 1, 10, false }, { I, 2, 10, false } }, 2, 20, 20, "", 20 },
	{ "off: nothing", { { I, 1, 10, false }, { I, 2, 10, false } }, 2, 20, 0, "", 20 },
	{ "oldest first, across kinds", { { I, 30, 10, false }, { Q, 10, 5, false }, { C, 20, 7, false }, { I, 40, 10, false } }, 4, 32, 20,
	  "b c", 20 },
	{ "as few as needed", { { I, 1, 100, false }, { I, 2, 1, false }, { I, 3, 1, false } }, 3, 102, 101, "a", 2 },
	{ "never the newest incident", { { I, 1, 50, false }, { I, 2, 50, false } }, 2, 100, 10, "a", 50 },
	{ "the newest incident, not the newest item", { { I, 1, 50, false }, { Q, 5, 5, false } }, 2, 55, 10, "b", 50 },
	{ "kept items are skipped", { { Q, 1, 10, true }, { Q, 2, 10, false }, { I, 3, 10, false }, { I, 4, 10, false } }, 4, 40, 25,
	  "b c", 20 },
	{ "bytes that cannot go count", { { I, 1, 10, false }, { I, 2, 10, false } }, 2, 1000, 100, "a", 990 },
	{ "ties by name", { { Q, 7, 10, false }, { Q, 7, 10, false }, { I, 9, 1, false } }, 3, 21, 12, "a", 11 },
};

static void test_plan(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(plan_cases) / sizeof(plan_cases[0]); c++) {
		const struct plan_case *pc = &plan_cases[c];
		struct diskcap_item v[8];
		char got[64] = "";
		uint64_t after = 0;
		size_t marked;

		memset(v, 0, sizeof(v));
		for (size_t i = 0; i < pc->n; i++) {
			v[i].what = pc->in[i].w;
			v[i].t_ns = pc->in[i].t;
			v[i].bytes = pc->in[i].bytes;
			v[i].keep = pc->in[i].keep;
			snprintf(v[i].name, sizeof(v[i].name), "%c", (char)('a' + i));
		}
		marked = diskcap_plan(v, pc->n, pc->total, pc->max, &after);
		for (size_t i = 0; i < pc->n; i++)
			if (v[i].remove)
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "", v[i].name);
		if (strcmp(got, pc->removed) || after != pc->after)
			fail_msg("%s: removed '%s' (want '%s'), after %llu (want %llu)", pc->what, got, pc->removed,
				 (unsigned long long)after, (unsigned long long)pc->after);
		assert_int_equal(marked, pc->removed[0] ? (strlen(pc->removed) + 1) / 2 : 0);
	}
}

static char root[64];
static char removed_lines[16][512];
static int nlines;

static void log_line(const char *l)
{
	if (nlines < 16)
		snprintf(removed_lines[nlines++], sizeof(removed_lines[0]), "%s", l);
}

/* sets path's mtime age_s ago */
static void age(const char *path, int age_s)
{
	struct timeval tv[2];

	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	assert_int_equal(utimes(path, tv), 0);
}

/* a file of len bytes (a multiple of 4 KiB: st_blocks counts it exactly), with mtime age_s ago */
static void put(const char *rel, size_t len, int age_s)
{
	char p[640], *buf = calloc(1, len ? len : 1);
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + 1); /* no holes */
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	age(p, age_s);
}

static void mk(const char *rel, int age_s)
{
	char p[640];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0700), 0);
	age(p, age_s);
}

static bool exists(const char *rel)
{
	char p[640];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

/* an incident directory (report.json + capture data), aged age_s */
static void incident(const char *name, size_t kib, int age_s)
{
	char p[256];

	snprintf(p, sizeof(p), "out/%s", name);
	mk(p, 0);
	snprintf(p, sizeof(p), "out/%s/report.json", name);
	put(p, 4096, age_s);
	snprintf(p, sizeof(p), "out/%s/capture.jsonl.gz", name);
	put(p, kib * 1024 - 4096, age_s);
	snprintf(p, sizeof(p), "%s/out/%s", root, name);
	age(p, age_s);
}

/* a queue item of sink dir SINK, enqueued age_s ago */
static void item(const char *sink, const char *sub, int age_s, size_t kib, char *name, size_t len)
{
	char p[640];
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(name, len, "%019lld-1", (long long)(tv.tv_sec - age_s) * 1000000000ll);
	snprintf(p, sizeof(p), "state/deliver/%s/%s/%s.json", sink, sub, name);
	put(p, 4096, 0);
	snprintf(p, sizeof(p), "state/deliver/%s/%s/%s.body", sink, sub, name);
	put(p, kib * 1024 - 4096, 0);
}

static void setup_tree(void)
{
	char p[640];

	snprintf(root, sizeof(root), "/tmp/test_diskcap.XXXXXX");
	assert_non_null(mkdtemp(root));
	mk("out", 0);
	mk("state", 0);
	mk("state/deliver", 0);
	snprintf(p, sizeof(p), "%s/state/deliver/webhook", root);
	assert_int_equal(queue_init_dirs(p), 0);
	snprintf(p, sizeof(p), "%s/state/deliver/pyroscope", root);
	assert_int_equal(queue_init_dirs(p), 0);
	/* the lock files a run has left (a block each, as after queue_lock) */
	put("state/deliver/webhook/lock", 4096, 0);
	put("state/deliver/pyroscope/lock", 4096, 0);
	nlines = 0;
}

static void teardown_tree(void)
{
	assert_int_equal(prune_remove_tree(root), 0);
	assert_false(access(root, F_OK) == 0);
}

static uint64_t tree(const char *rel)
{
	char p[640];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return prune_tree_bytes(p);
}

/* sizes: the bytes of regular files, symbolic links not followed */
static void test_sizes(void **state)
{
	char p[512], t[512];

	(void)state;
	setup_tree();
	incident("20260101-000000-svc-1", 64, 300);
	put("out/loose", 8192, 0);
	snprintf(t, sizeof(t), "%s/out/20260101-000000-svc-1", root);
	snprintf(p, sizeof(p), "%s/out/link", root);
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(tree("out/20260101-000000-svc-1"), 64 * 1024);
	assert_int_equal(tree("out"), 64 * 1024 + 8192);
	assert_int_equal(tree("out/loose"), 8192);
	assert_int_equal(tree("missing"), 0);
	/* removing the link removes the link, not its target */
	assert_int_equal(prune_remove_tree(p), 0);
	assert_true(exists("out/20260101-000000-svc-1/report.json"));
	teardown_tree();
}

/* the walk: oldest first across --out and the queues, the newest incident
 * and the active one kept, a queue another holder locks left alone */
static void test_apply(void **state)
{
	struct diskcap_result r;
	struct diskcap_cfg c = { .log = log_line };
	char out[256], st[256], q_old[64], q_new[64], q_locked[64], lockp[512], p[512];
	int lfd;

	(void)state;
	setup_tree();
	snprintf(out, sizeof(out), "%s/out", root);
	snprintf(st, sizeof(st), "%s/state", root);
	c.out_dir = out;
	c.state_dir = st;
	incident("20260101-000001-svc-1", 64, 500);     /* oldest incident */
	item("webhook", "q", 450, 32, q_old, sizeof(q_old));
	mk("out/20260101-000002-svc-1", 0);             /* capture data only: a render that never finished */
	put("out/20260101-000002-svc-1/capture.jsonl.gz", 16384, 400);
	snprintf(p, sizeof(p), "%s/out/20260101-000002-svc-1", root);
	age(p, 400);
	item("pyroscope", "parked", 350, 32, q_locked, sizeof(q_locked)); /* its queue is held below */
	incident("20260101-000003-svc-1", 64, 300);
	item("webhook", "gaveup", 200, 16, q_new, sizeof(q_new));
	incident("20260101-000004-svc-1", 64, 100);     /* newest */
	put("out/notes.txt", 4096, 1000);               /* not ours: counted, never removed */

	/* another process delivers the pyroscope queue */
	snprintf(lockp, sizeof(lockp), "%s/state/deliver/pyroscope/lock", root);
	lfd = open(lockp, O_RDWR | O_CREAT, 0600);
	assert_true(lfd >= 0);
	assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), 0);

	/* off, and under the cap: nothing goes, the bytes are measured */
	c.max_bytes = 0;
	assert_int_equal(diskcap_apply(&c, &r), 0);
	c.max_bytes = 1ull << 30;
	assert_int_equal(diskcap_apply(&c, &r), 0);
	assert_true(r.bytes >= (64 * 3 + 16 + 4 + 32 + 32 + 16) * 1024ull);
	assert_int_equal(nlines, 0);

	/* room for the newest two incidents and the small things: the oldest
	 * incident, the oldest queue item and the capture go (in that order),
	 * the locked queue's parked item stays although it is older */
	c.max_bytes = r.bytes - (64 + 32 + 16) * 1024ull;
	assert_int_equal(diskcap_apply(&c, &r), 3);
	assert_int_equal(r.removed[DISKCAP_INCIDENT], 1);
	assert_int_equal(r.removed[DISKCAP_QUEUE], 1);
	assert_int_equal(r.removed[DISKCAP_CAPTURE], 1);
	assert_int_equal(r.removed_bytes, (64 + 32 + 16) * 1024ull);
	assert_true(r.bytes <= c.max_bytes);
	assert_false(exists("out/20260101-000001-svc-1"));
	assert_false(exists("out/20260101-000002-svc-1"));
	snprintf(p, sizeof(p), "state/deliver/webhook/q/%s.json", q_old);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "state/deliver/webhook/q/%s.body", q_old);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "state/deliver/pyroscope/parked/%s.json", q_locked);
	assert_true(exists(p));
	assert_true(exists("out/20260101-000003-svc-1/report.json"));
	assert_true(exists("out/notes.txt"));
	assert_int_equal(nlines, 3);
	assert_non_null(strstr(removed_lines[0], "removed the oldest incident"));
	assert_non_null(strstr(removed_lines[0], "20260101-000001-svc-1 (64 KiB, 65536 bytes): over --max-disk"));
	assert_non_null(strstr(removed_lines[1], "removed the oldest queue"));
	assert_non_null(strstr(removed_lines[2], "removed the oldest capture"));

	/* a tiny cap: everything removable goes, but never the newest incident,
	 * nor the one named active, nor the locked queue's item; one line says so */
	nlines = 0;
	c.max_bytes = 4096;
	c.active = "20260101-000003-svc-1";
	assert_int_equal(diskcap_apply(&c, &r), 1); /* the gaveup item */
	assert_true(exists("out/20260101-000003-svc-1/report.json"));
	assert_true(exists("out/20260101-000004-svc-1/report.json"));
	snprintf(p, sizeof(p), "state/deliver/webhook/gaveup/%s.json", q_new);
	assert_false(exists(p));
	assert_int_equal(nlines, 2);
	assert_non_null(strstr(removed_lines[1], "still over --max-disk"));

	/* not active any more: the older incident goes, the newest stays */
	c.active = NULL;
	assert_int_equal(diskcap_apply(&c, &r), 1);
	assert_false(exists("out/20260101-000003-svc-1"));
	assert_true(exists("out/20260101-000004-svc-1/report.json"));
	/* the lock released: the parked item may go too */
	close(lfd);
	assert_int_equal(diskcap_apply(&c, &r), 1);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "state/deliver/pyroscope/parked/%s.json", q_locked);
	assert_false(exists(p));
	assert_true(exists("out/20260101-000004-svc-1/report.json"));
	teardown_tree();
}

static void test_default(void **state)
{
	uint64_t d;

	(void)state;
	d = diskcap_default("/tmp");
	assert_true(d > 0 && d <= DISKCAP_DEFAULT_MAX);
	assert_int_equal(diskcap_default("/nonexistent/dir"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
