/* test_capdata.c: unit tests of the capdata model: interning, caps, counters, file round trip and malformed files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "capdata/capdata.h"

/* ---- helpers ---- */

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/test_capdata.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void remove_tmpdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

static int count_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Writes text as DIR/capture.jsonl.gz, uncompressed (gzread reads plain
 * files transparently, which is what lets the table below stay readable). */
static void write_plain(const char *dir, const char *text, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *dir, const char *text, size_t len)
{
	char path[4096];
	gzFile gz;

	snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE);
	gz = gzopen(path, "wb");
	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, text, (unsigned int)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
}

/* ---- interning ---- */

static void test_intern_frames(void **state)
{
	struct capdata cd;
	int64_t a, b, c, d, m;

	assert_int_equal(capdata_init(&cd), 0);
	m = capdata_mapping(&cd, 0x400000, 0x500000, 0, "/usr/bin/app", "abcd");
	assert_int_equal(m, 0);
	assert_int_equal(capdata_mapping(&cd, 0x400000, 0x500000, 0, "/usr/bin/app", "abcd"), 0);
	assert_int_equal(capdata_mapping(&cd, 0x400000, 0x500000, 0, "/usr/bin/app", NULL), 1);
	assert_int_equal(capdata_mapping(&cd, 0x400000, 0x500000, 0x1000, "/usr/bin/app", NULL), 2);

	a = capdata_frame(&cd, "main", 0x401000, (uint32_t)m, false);
	b = capdata_frame(&cd, "main", 0x401000, (uint32_t)m, false);
	c = capdata_frame(&cd, "main", 0x401001, (uint32_t)m, false);
	d = capdata_frame(&cd, "main", 0x401000, ST_NO_MAPPING, true);
	assert_int_equal(a, 0);
	assert_int_equal(b, 0);
	assert_int_equal(c, 1);
	assert_int_equal(d, 2);
	assert_int_equal(cd.nframes, 3);
	assert_string_equal(cd.frames[1].name, "main");
	assert_int_equal(cd.frames[1].addr, 0x401001);
	/* A mapping that does not exist is refused. */
	assert_int_equal(capdata_frame(&cd, "x", 1, 99, false), -EINVAL);
	assert_int_equal(capdata_frame(&cd, NULL, 1, ST_NO_MAPPING, false), -EINVAL);
	capdata_free(&cd);
	capdata_free(&cd); /* idempotent */
}

static void test_intern_strings_are_cleaned(void **state)
{
	struct capdata cd;
	char *longname;
	int64_t a, b;

	assert_int_equal(capdata_init(&cd), 0);
	a = capdata_frame(&cd, "bad\xff" "byte", 1, ST_NO_MAPPING, false);
	assert_true(a >= 0);
	assert_string_equal(cd.frames[a].name, "bad?byte");
	/* The cleaned name is the interned identity. */
	b = capdata_frame(&cd, "bad?byte", 1, ST_NO_MAPPING, false);
	assert_int_equal(a, b);
	/* Valid multibyte UTF-8 is kept; an overlong encoding and a surrogate are not. */
	a = capdata_frame(&cd, "caf\xc3\xa9", 1, ST_NO_MAPPING, false);
	assert_string_equal(cd.frames[a].name, "caf\xc3\xa9");
	a = capdata_frame(&cd, "x\xc0\xaf" "y\xed\xa0\x80", 1, ST_NO_MAPPING, false);
	assert_string_equal(cd.frames[a].name, "x??y???");

	longname = malloc(CAPDATA_MAX_STRING + 100);
	assert_non_null(longname);
	memset(longname, 'a', CAPDATA_MAX_STRING + 99);
	longname[CAPDATA_MAX_STRING - 1] = '\xc3'; /* a 2-byte char straddling the cap */
	longname[CAPDATA_MAX_STRING] = '\xa9';
	longname[CAPDATA_MAX_STRING + 99] = '\0';
	a = capdata_frame(&cd, longname, 2, ST_NO_MAPPING, false);
	assert_true(a >= 0);
	assert_int_equal(strlen(cd.frames[a].name), CAPDATA_MAX_STRING - 1);
	free(longname);

	/* comm: cut to 15 bytes, at a character boundary. */
	a = capdata_thread(&cd, 10, 11, "a-very-long-thread-name");
	assert_string_equal(cd.threads[a].comm, "a-very-long-thr");
	a = capdata_thread(&cd, 10, 12, "abcdefghijklmn\xc3\xa9");
	assert_string_equal(cd.threads[a].comm, "abcdefghijklmn");
	capdata_free(&cd);
}

static void test_intern_stacks_threads(void **state)
{
	struct capdata cd;
	uint32_t u[3], k[2], mixed[2];
	int64_t s1, s2, s3, s4, ks, t1, t2, t3, t4;

	assert_int_equal(capdata_init(&cd), 0);
	u[0] = (uint32_t)capdata_frame(&cd, "start", 1, ST_NO_MAPPING, false);
	u[1] = (uint32_t)capdata_frame(&cd, "main", 2, ST_NO_MAPPING, false);
	u[2] = (uint32_t)capdata_frame(&cd, "read", 3, ST_NO_MAPPING, false);
	k[0] = (uint32_t)capdata_frame(&cd, "do_sys_read", 0xffffffff81000000ULL, ST_NO_MAPPING, true);
	k[1] = (uint32_t)capdata_frame(&cd, "schedule", 0xffffffff81000100ULL, ST_NO_MAPPING, true);

	s1 = capdata_stack(&cd, u, 3, CAP_STACK_COMPLETE);
	s2 = capdata_stack(&cd, u, 3, CAP_STACK_COMPLETE);
	s3 = capdata_stack(&cd, u, 3, CAP_STACK_TRUNCATED);
	s4 = capdata_stack(&cd, u, 2, CAP_STACK_COMPLETE);
	ks = capdata_stack(&cd, k, 2, CAP_STACK_COMPLETE);
	assert_int_equal(s1, 0);
	assert_int_equal(s2, 0);
	assert_int_equal(s3, 1);
	assert_int_equal(s4, 2);
	assert_int_equal(ks, 3);
	assert_int_equal(capdata_stack(&cd, NULL, 0, CAP_STACK_NONE), 4);
	assert_int_equal(capdata_stack(&cd, NULL, 0, CAP_STACK_NONE), 4);
	assert_int_equal(cd.stacks[2].nframes, 2);
	assert_int_equal(cd.stacks[2].frames[1], u[1]);
	assert_false(capdata_stack_is_kernel(&cd, 0));
	assert_true(capdata_stack_is_kernel(&cd, 3));
	assert_false(capdata_stack_is_kernel(&cd, 4));
	assert_false(capdata_stack_is_kernel(&cd, ST_NO_STACK));

	mixed[0] = u[0];
	mixed[1] = k[0];
	assert_int_equal(capdata_stack(&cd, mixed, 2, CAP_STACK_COMPLETE), -EINVAL);
	mixed[1] = 1000;
	assert_int_equal(capdata_stack(&cd, mixed, 2, CAP_STACK_COMPLETE), -EINVAL);
	assert_int_equal(capdata_stack(&cd, u, 3, (enum cap_stack_status)7), -EINVAL);

	t1 = capdata_thread(&cd, 100, 101, "worker");
	t2 = capdata_thread(&cd, 100, 101, "worker");
	t3 = capdata_thread(&cd, 100, 101, "renamed");
	t4 = capdata_thread(&cd, 200, 101, "worker"); /* tid reused by another process */
	assert_int_equal(t1, 0);
	assert_int_equal(t2, 0);
	assert_int_equal(t3, 1);
	assert_int_equal(t4, 2);
	assert_int_equal(cd.threads[0].pid, 100);
	assert_int_equal(cd.threads[0].tid, 101);
	assert_int_equal(cd.threads[0].below_min_ns, 0);

	/* Blocks: every id checked. */
	struct cap_block b = { .thread = 0, .ustack = 0, .kstack = 3, .state = 1, .dur_ns = 5 };

	assert_int_equal(capdata_add_block(&cd, &b), 0);
	b.ustack = ST_NO_STACK;
	b.kstack = ST_NO_STACK;
	assert_int_equal(capdata_add_block(&cd, &b), 0);
	b.state = CAP_STATE__COUNT;
	assert_int_equal(capdata_add_block(&cd, &b), -EINVAL);
	b.state = 0;
	b.thread = 3;
	assert_int_equal(capdata_add_block(&cd, &b), -EINVAL);
	b.thread = 0;
	b.ustack = 3; /* a kernel stack as the user stack */
	assert_int_equal(capdata_add_block(&cd, &b), -EINVAL);
	b.ustack = ST_NO_STACK;
	b.kstack = 0; /* a user stack as the kernel stack */
	assert_int_equal(capdata_add_block(&cd, &b), -EINVAL);
	b.kstack = 99;
	assert_int_equal(capdata_add_block(&cd, &b), -EINVAL);
	b.kstack = 4; /* empty stacks fit either side (every frame filtered out) */
	b.ustack = 4;
	assert_int_equal(capdata_add_block(&cd, &b), 0);
	assert_int_equal(cd.nblocks, 3);
	assert_int_equal(cd.blocks[0].state, 1);
	capdata_free(&cd);
}

static void test_many_interned(void **state)
{
	struct capdata cd;
	char name[32];
	uint32_t i;

	/* Enough entries to resize the index several times; every id must come back. */
	assert_int_equal(capdata_init(&cd), 0);
	for (i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "fn_%u", i);
		assert_int_equal(capdata_frame(&cd, name, i, ST_NO_MAPPING, false), i);
	}
	for (i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "fn_%u", i);
		assert_int_equal(capdata_frame(&cd, name, i, ST_NO_MAPPING, false), i);
		assert_int_equal(capdata_stack(&cd, &i, 1, CAP_STACK_COMPLETE), i);
	}
	assert_int_equal(cd.nframes, 50000);
	assert_int_equal(cd.nstacks, 50000);
	capdata_free(&cd);
}

static void test_counters(void **state)
{
	struct capdata cd;
	char name[32];
	unsigned int i;

	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(capdata_get_drop(&cd, "ringbuf_full"), 0);
	assert_int_equal(capdata_add_drop(&cd, "ringbuf_full", 0), 0);
	assert_int_equal(cd.ndrops, 1); /* exists at 0 */
	assert_int_equal(capdata_add_drop(&cd, "ringbuf_full", 5), 0);
	assert_int_equal(capdata_add_drop(&cd, "ringbuf_full", 7), 0);
	assert_int_equal(capdata_get_drop(&cd, "ringbuf_full"), 12);
	assert_int_equal(capdata_add_drop(&cd, "ringbuf_full", UINT64_MAX), 0);
	assert_true(capdata_get_drop(&cd, "ringbuf_full") == UINT64_MAX); /* saturates */
	assert_int_equal(capdata_set_stat(&cd, "blocks", 3), 0);
	assert_int_equal(capdata_set_stat(&cd, "blocks", 4), 0);
	assert_int_equal(capdata_get_stat(&cd, "blocks"), 4);
	assert_int_equal(capdata_get_stat(&cd, "ringbuf_full"), 0); /* separate namespaces */
	assert_int_equal(cd.nstats, 1);
	assert_int_equal(capdata_add_drop(&cd, "", 1), -EINVAL);
	assert_int_equal(capdata_add_drop(&cd, "has space", 1), -EINVAL);
	assert_int_equal(capdata_add_drop(&cd, NULL, 1), -EINVAL);
	for (i = 1; i < CAPDATA_MAX_COUNTERS; i++) {
		snprintf(name, sizeof(name), "d%u", i);
		assert_int_equal(capdata_add_drop(&cd, name, i), 0);
	}
	assert_int_equal(cd.ndrops, CAPDATA_MAX_COUNTERS);
	assert_int_equal(capdata_add_drop(&cd, "one_too_many", 1), -E2BIG);
	assert_int_equal(capdata_add_drop(&cd, "d7", 1), 0); /* existing ones still count */
	assert_int_equal(capdata_get_drop(&cd, "d7"), 8);
	capdata_free(&cd);
}

static void test_header_setters(void **state)
{
	struct capdata cd;
	int32_t pids[] = { 5, 6 };

	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(capdata_set_target(&cd, pids, 2, "srv", "srv --x"), 0);
	assert_int_equal(capdata_set_target(&cd, pids, 1, "srv2", NULL), 0); /* replaces */
	assert_int_equal(cd.target.npids, 1);
	assert_string_equal(cd.target.comm, "srv2");
	assert_null(cd.target.cmdline);
	assert_int_equal(capdata_set_capture_path(&cd, "sched_exit_tp"), 0);
	assert_string_equal(cd.capture_path, "sched_exit_tp");
	cd.window.start_mono_ns = 1000;
	cd.window.duration_ns = 234;
	assert_int_equal(capdata_window_end(&cd), 1234);
	assert_string_equal(capdata_state_name(CAP_STATE_UNINTERRUPTIBLE), "uninterruptible");
	assert_string_equal(capdata_state_name(9), "unknown");
	assert_string_equal(capdata_stack_status_name(CAP_STACK_UNREADABLE), "unreadable");
	capdata_free(&cd);
}

/* ---- round trip ---- */

static void build_sample(struct capdata *cd)
{
	int32_t pids[] = { 4242, 4243 };
	uint32_t u[4], k[3];
	int64_t m0, m1, su, st, sunr, snone, sk, sempty, t0, t1, t2;
	struct cap_block b;
	int i;

	assert_int_equal(capdata_init(cd), 0);
	assert_int_equal(capdata_set_target(cd, pids, 2, "my srv", "/usr/bin/srv --name \"x\" caf\xc3\xa9\n\t"), 0);
	assert_int_equal(capdata_set_capture_path(cd, "sched_exit_tp"), 0);
	assert_int_equal(capdata_set_feature(cd, "wakers", true, NULL), 0);
	assert_int_equal(capdata_set_feature(cd, "kernel_locks", false, "the kernel refused x: \"why\""), 0);
	assert_int_equal(capdata_set_feature(cd, "wakers", false, "--no-locks"), 0);  /* replaced by name */
	assert_int_equal(cd->nfeatures, 2);
	assert_int_equal(capdata_set_kname(cd, 0xffffffff82a3c4e0ULL, "rtnl_mutex"), 0);
	assert_int_equal(capdata_set_kname(cd, 0xffffffff82a3c4e0ULL, "other"), 0); /* the first stays */
	assert_int_equal(capdata_set_kname(cd, 0xffff888004a00040ULL, "cgroup_mutex+0x40"), 0);
	assert_string_equal(capdata_kname(cd, 0xffffffff82a3c4e0ULL), "rtnl_mutex");
	assert_null(capdata_kname(cd, 1));
	cd->window.start_mono_ns = 123456789012345ULL;
	cd->window.start_real_ns = -5; /* before 1970: the format is signed */
	cd->window.duration_ns = 10000000000ULL;
	cd->window.min_block_ns = 1000000;

	m0 = capdata_mapping(cd, 0x555555554000ULL, 0x555555600000ULL, 0x1000, "/usr/bin/srv",
			     "0123456789abcdef");
	m1 = capdata_mapping(cd, 0x7ffff7dd0000ULL, 0x7ffff7f00000ULL, 0, "/lib/x86_64-linux-gnu/libc.so.6", NULL);
	assert_true(m0 >= 0 && m1 >= 0);
	u[0] = (uint32_t)capdata_frame(cd, "__clone3", 0x7ffff7e00000ULL, (uint32_t)m1, false);
	u[1] = (uint32_t)capdata_frame(cd, "start_thread", 0x7ffff7e00100ULL, (uint32_t)m1, false);
	u[2] = (uint32_t)capdata_frame(cd, "std::vector<int, std::allocator<int> >::push_back(int const&)",
				       0x555555555000ULL, (uint32_t)m0, false);
	u[3] = (uint32_t)capdata_frame(cd, "[user stack unreadable: mmap_lock busy]", 0, ST_NO_MAPPING, false);
	k[0] = (uint32_t)capdata_frame(cd, "entry_SYSCALL_64", 0xffffffff82000000ULL, ST_NO_MAPPING, true);
	k[1] = (uint32_t)capdata_frame(cd, "futex_wait", 0xffffffff81100000ULL, ST_NO_MAPPING, true);
	k[2] = (uint32_t)capdata_frame(cd, "schedule", 0xffffffffffffffffULL, ST_NO_MAPPING, true);

	su = capdata_stack(cd, u, 3, CAP_STACK_COMPLETE);
	st = capdata_stack(cd, u + 1, 2, CAP_STACK_TRUNCATED);
	sunr = capdata_stack(cd, u + 3, 1, CAP_STACK_UNREADABLE);
	snone = capdata_stack(cd, NULL, 0, CAP_STACK_NONE);
	sk = capdata_stack(cd, k, 3, CAP_STACK_COMPLETE);
	sempty = capdata_stack(cd, NULL, 0, CAP_STACK_COMPLETE);
	assert_true(su >= 0 && st >= 0 && sunr >= 0 && snone >= 0 && sk >= 0 && sempty >= 0);

	t0 = capdata_thread(cd, 4242, 4242, "srv");
	t1 = capdata_thread(cd, 4242, 4250, "srv-worker");
	t2 = capdata_thread(cd, 4243, 4243, "kworker/0:1");
	assert_true(t0 >= 0 && t1 >= 0 && t2 >= 0);
	cd->threads[t1].below_min_ns = 777;
	cd->threads[t1].below_min_count = 3;

	for (i = 0; i < 20; i++) {
		b = (struct cap_block){
			.thread = (uint32_t)(i % 3),
			.ustack = i % 5 == 4 ? ST_NO_STACK : (uint32_t)(i % 4 == 0 ? su : i % 4 == 1 ? st : i % 4 == 2 ? sunr : snone),
			.kstack = i % 7 == 6 ? ST_NO_STACK : (uint32_t)(i % 2 ? sk : sempty),
			.state = (uint8_t)(i % 3),
			.flags = (uint8_t)(i % 4),
			.start_ns = 123456789012345ULL + (uint64_t)i * 1000,
			.dur_ns = 1000000ULL * (uint64_t)(i + 1),
		};
		assert_int_equal(capdata_add_block(cd, &b), 0);
	}
	/* Cause evidence: syscalls, lock and futex waits, wakers. */
	cd->blocks[1].in_syscall = true;
	cd->blocks[1].syscall = 202;
	cd->blocks[1].wait_kind = CAP_WAIT_FUTEX;
	cd->blocks[1].wait_obj = 0x7ffff7ff0010ULL;
	cd->blocks[1].has_waker = true;
	cd->blocks[1].waker = (uint32_t)t0;
	cd->blocks[1].waker_ustack = (uint32_t)su;
	cd->blocks[1].waker_kstack = (uint32_t)sk;
	cd->blocks[1].has_owner = true; /* a mutex's owner, read at the end */
	cd->blocks[1].owner = (uint32_t)t2;
	cd->blocks[2].in_syscall = true;
	cd->blocks[2].syscall = 0; /* read: 0 is a syscall, not "unknown" */
	cd->blocks[3].wait_kind = CAP_WAIT_MMAP_LOCK;
	cd->blocks[3].wait_obj = 0xffff888012345678ULL;
	cd->blocks[3].lock_flags = 4;
	cd->blocks[1].waker_ns = cd->blocks[1].woken_ns = cd->blocks[1].start_ns + 100; /* written once */
	cd->blocks[2].woken_ns = cd->blocks[2].start_ns + cd->blocks[2].dur_ns;          /* no waker: an IRQ's */
	cd->blocks[2].has_taker = true; /* who had its CPU while it waited for it */
	cd->blocks[2].taker = (uint32_t)t2;
	cd->blocks[2].taker_samples = 7;
	cd->blocks[4].has_waker = true;
	cd->blocks[4].waker = (uint32_t)t2;
	cd->blocks[4].waker_ustack = ST_NO_STACK;
	cd->blocks[4].waker_kstack = ST_NO_STACK;
	cd->threads[t2].outside = true;
	cd->threads[t1].io_bytes = 1ULL << 33;
	cd->threads[t1].io_count = 77;
	cd->window.trigger_mono_ns = 123456789012999ULL;
	cd->window.sample_period_ns = 10101010;
	cd->window.hold_threshold_ns = 10000000;
	{
		struct cap_hold h = {
			.thread = (uint32_t)t1, .mm_pid = 4242, .mode = CAP_HOLD_READ,
			.flags = CAP_BLOCK_IN_PROGRESS, .start_ns = 5, .dur_ns = 6000000000ULL,
			.ustack = (uint32_t)su, .kstack = (uint32_t)sk, .in_syscall = true, .syscall = 9,
			.args = { 0, 3ULL << 30, 3, 0xffffffffffffffffULL },
		};
		struct cap_hold_total ht = { .thread = (uint32_t)t2, .mm_pid = 4242, .hold_ns = 9,
					     .holds = 2, .read_ns = 4, .write_ns = 5 };
		struct cap_sample smp = { .thread = (uint32_t)t0, .ts_ns = 42, .ustack = (uint32_t)su,
					  .kstack = ST_NO_STACK };
		struct cap_mem mem = { .pid = 4242, .ts_ns = 43, .rss_bytes = 1ULL << 40,
				       .vsz_bytes = 5ULL << 40 };

		assert_int_equal(capdata_add_hold(cd, &h), 0);
		h.mode = CAP_HOLD_DOWNGRADED;
		h.flags = 0;
		h.in_syscall = false; /* then syscall and args are not written: zero them */
		h.syscall = 0;
		memset(h.args, 0, sizeof(h.args));
		h.ustack = ST_NO_STACK;
		assert_int_equal(capdata_add_hold(cd, &h), 0);
		assert_int_equal(capdata_add_hold_total(cd, &ht), 0);
		assert_int_equal(capdata_add_sample(cd, &smp), 0);
		smp.kstack = (uint32_t)sk;
		smp.ustack = (uint32_t)snone;
		smp.nvcsw = 123456789012ULL;	/* written only when known */
		assert_int_equal(capdata_add_sample(cd, &smp), 0);
		assert_int_equal(capdata_add_mem(cd, &mem), 0);
		assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){
			.cgroup = "/kubepods/pod1", .from_ns = 40, .ts_ns = 44, .throttled_ns = 3,
			.periods = 2, .quota_us = 200000, .period_us = 1000000 }), 0);
		assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){
			.cgroup = "/kubepods/pod1", .from_ns = 44, .ts_ns = 45, .throttled_ns = 1,
			.quota_us = -1, .period_us = 100000 }), 0);
		/* an empty cgroup, or a read before the one before it, is refused */
		assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){ .cgroup = "", .ts_ns = 1 }), -EINVAL);
		assert_int_equal(capdata_add_throttle(cd, &(struct cap_throttle){
			.cgroup = "/a", .from_ns = 2, .ts_ns = 1 }), -EINVAL);
		/* Sides are checked: a kernel stack is not a user stack. */
		smp.ustack = (uint32_t)sk;
		assert_int_equal(capdata_add_sample(cd, &smp), -EINVAL);
		h.mode = 3;
		assert_int_equal(capdata_add_hold(cd, &h), -EINVAL);
	}
	assert_int_equal(capdata_add_drop(cd, "ringbuf_full", 0), 0);
	assert_int_equal(capdata_add_drop(cd, "kstack_collision", 3), 0);
	assert_int_equal(capdata_set_stat(cd, "blocks", 20), 0);
	assert_int_equal(capdata_set_stat(cd, "unwind_ns", (uint64_t)INT64_MAX), 0);
}

static void assert_str_or_null_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_capdata_equal(const struct capdata *a, const struct capdata *b)
{
	size_t i;

	assert_int_equal(a->target.npids, b->target.npids);
	for (i = 0; i < a->target.npids; i++)
		assert_int_equal(a->target.pids[i], b->target.pids[i]);
	assert_str_or_null_equal(a->target.comm, b->target.comm);
	assert_str_or_null_equal(a->target.cmdline, b->target.cmdline);
	assert_str_or_null_equal(a->capture_path, b->capture_path);
	assert_int_equal(a->nfeatures, b->nfeatures);
	for (i = 0; i < a->nfeatures; i++) {
		assert_string_equal(a->features[i].name, b->features[i].name);
		assert_int_equal(a->features[i].on, b->features[i].on);
		assert_str_or_null_equal(a->features[i].reason, b->features[i].reason);
	}
	assert_int_equal(a->nknames, b->nknames);
	for (i = 0; i < a->nknames; i++) {
		assert_true(a->knames[i].addr == b->knames[i].addr);
		assert_string_equal(a->knames[i].name, b->knames[i].name);
	}
	assert_true(a->window.start_mono_ns == b->window.start_mono_ns);
	assert_true(a->window.start_real_ns == b->window.start_real_ns);
	assert_true(a->window.duration_ns == b->window.duration_ns);
	assert_true(a->window.min_block_ns == b->window.min_block_ns);
	assert_true(a->window.trigger_mono_ns == b->window.trigger_mono_ns);
	assert_true(a->window.sample_period_ns == b->window.sample_period_ns);
	assert_true(a->window.hold_threshold_ns == b->window.hold_threshold_ns);

	assert_int_equal(a->nmappings, b->nmappings);
	for (i = 0; i < a->nmappings; i++) {
		assert_true(a->mappings[i].start == b->mappings[i].start);
		assert_true(a->mappings[i].limit == b->mappings[i].limit);
		assert_true(a->mappings[i].offset == b->mappings[i].offset);
		assert_str_or_null_equal(a->mappings[i].file, b->mappings[i].file);
		assert_str_or_null_equal(a->mappings[i].build_id, b->mappings[i].build_id);
	}
	assert_int_equal(a->nframes, b->nframes);
	for (i = 0; i < a->nframes; i++) {
		assert_string_equal(a->frames[i].name, b->frames[i].name);
		assert_true(a->frames[i].addr == b->frames[i].addr);
		assert_int_equal(a->frames[i].mapping, b->frames[i].mapping);
		assert_int_equal(a->frames[i].kernel, b->frames[i].kernel);
	}
	assert_int_equal(a->nstacks, b->nstacks);
	for (i = 0; i < a->nstacks; i++) {
		assert_int_equal(a->stacks[i].nframes, b->stacks[i].nframes);
		assert_int_equal(a->stacks[i].status, b->stacks[i].status);
		if (a->stacks[i].nframes)
			assert_memory_equal(a->stacks[i].frames, b->stacks[i].frames,
					    a->stacks[i].nframes * sizeof(uint32_t));
	}
	assert_int_equal(a->nthreads, b->nthreads);
	for (i = 0; i < a->nthreads; i++) {
		assert_int_equal(a->threads[i].pid, b->threads[i].pid);
		assert_int_equal(a->threads[i].tid, b->threads[i].tid);
		assert_string_equal(a->threads[i].comm, b->threads[i].comm);
		assert_true(a->threads[i].below_min_ns == b->threads[i].below_min_ns);
		assert_true(a->threads[i].below_min_count == b->threads[i].below_min_count);
		assert_true(a->threads[i].io_bytes == b->threads[i].io_bytes);
		assert_true(a->threads[i].io_count == b->threads[i].io_count);
		assert_int_equal(a->threads[i].outside, b->threads[i].outside);
	}
	assert_int_equal(a->nblocks, b->nblocks);
	for (i = 0; i < a->nblocks; i++) {
		assert_int_equal(a->blocks[i].thread, b->blocks[i].thread);
		assert_int_equal(a->blocks[i].ustack, b->blocks[i].ustack);
		assert_int_equal(a->blocks[i].kstack, b->blocks[i].kstack);
		assert_int_equal(a->blocks[i].state, b->blocks[i].state);
		assert_int_equal(a->blocks[i].flags, b->blocks[i].flags);
		assert_true(a->blocks[i].start_ns == b->blocks[i].start_ns);
		assert_true(a->blocks[i].dur_ns == b->blocks[i].dur_ns);
		assert_int_equal(a->blocks[i].in_syscall, b->blocks[i].in_syscall);
		assert_int_equal(a->blocks[i].syscall, b->blocks[i].syscall);
		assert_int_equal(a->blocks[i].wait_kind, b->blocks[i].wait_kind);
		assert_int_equal(a->blocks[i].lock_flags, b->blocks[i].lock_flags);
		assert_true(a->blocks[i].wait_obj == b->blocks[i].wait_obj);
		assert_int_equal(a->blocks[i].has_waker, b->blocks[i].has_waker);
		assert_true(a->blocks[i].woken_ns == b->blocks[i].woken_ns);
		assert_int_equal(a->blocks[i].has_taker, b->blocks[i].has_taker);
		assert_int_equal(a->blocks[i].taker, b->blocks[i].taker);
		assert_int_equal(a->blocks[i].taker_samples, b->blocks[i].taker_samples);
		assert_true(a->blocks[i].waker_ns == b->blocks[i].waker_ns);
		if (a->blocks[i].has_waker) {
			assert_int_equal(a->blocks[i].waker, b->blocks[i].waker);
			assert_int_equal(a->blocks[i].waker_ustack, b->blocks[i].waker_ustack);
			assert_int_equal(a->blocks[i].waker_kstack, b->blocks[i].waker_kstack);
		}
		assert_int_equal(a->blocks[i].has_owner, b->blocks[i].has_owner);
		if (a->blocks[i].has_owner)
			assert_int_equal(a->blocks[i].owner, b->blocks[i].owner);
	}
	assert_int_equal(a->nholds, b->nholds);
	for (i = 0; i < a->nholds; i++) {
		const struct cap_hold *x = &a->holds[i], *y = &b->holds[i];

		assert_int_equal(x->thread, y->thread);
		assert_int_equal(x->mm_pid, y->mm_pid);
		assert_int_equal(x->mode, y->mode);
		assert_int_equal(x->flags, y->flags);
		assert_true(x->start_ns == y->start_ns && x->dur_ns == y->dur_ns);
		assert_int_equal(x->ustack, y->ustack);
		assert_int_equal(x->kstack, y->kstack);
		assert_int_equal(x->in_syscall, y->in_syscall);
		assert_int_equal(x->syscall, y->syscall);
		assert_memory_equal(x->args, y->args, sizeof(x->args));
	}
	assert_int_equal(a->nhold_totals, b->nhold_totals);
	for (i = 0; i < a->nhold_totals; i++)
		assert_memory_equal(&a->hold_totals[i], &b->hold_totals[i], sizeof(a->hold_totals[i]));
	assert_int_equal(a->nsamples, b->nsamples);
	for (i = 0; i < a->nsamples; i++) {
		assert_int_equal(a->samples[i].thread, b->samples[i].thread);
		assert_true(a->samples[i].ts_ns == b->samples[i].ts_ns);
		assert_int_equal(a->samples[i].ustack, b->samples[i].ustack);
		assert_int_equal(a->samples[i].kstack, b->samples[i].kstack);
		assert_true(a->samples[i].nvcsw == b->samples[i].nvcsw);
	}
	assert_int_equal(a->nmem, b->nmem);
	for (i = 0; i < a->nmem; i++) {
		assert_int_equal(a->mem[i].pid, b->mem[i].pid);
		assert_true(a->mem[i].ts_ns == b->mem[i].ts_ns);
		assert_true(a->mem[i].rss_bytes == b->mem[i].rss_bytes);
		assert_true(a->mem[i].vsz_bytes == b->mem[i].vsz_bytes);
	}
	assert_int_equal(a->nthrottles, b->nthrottles);
	for (i = 0; i < a->nthrottles; i++) {
		assert_string_equal(a->throttles[i].cgroup, b->throttles[i].cgroup);
		assert_true(a->throttles[i].from_ns == b->throttles[i].from_ns);
		assert_true(a->throttles[i].ts_ns == b->throttles[i].ts_ns);
		assert_true(a->throttles[i].throttled_ns == b->throttles[i].throttled_ns);
		assert_int_equal(a->throttles[i].periods, b->throttles[i].periods);
		assert_true(a->throttles[i].quota_us == b->throttles[i].quota_us);
		assert_true(a->throttles[i].period_us == b->throttles[i].period_us);
	}
	assert_int_equal(a->ndrops, b->ndrops);
	for (i = 0; i < a->ndrops; i++) {
		assert_string_equal(a->drops[i].name, b->drops[i].name);
		assert_true(a->drops[i].value == b->drops[i].value);
	}
	assert_int_equal(a->nstats, b->nstats);
	for (i = 0; i < a->nstats; i++) {
		assert_string_equal(a->stats[i].name, b->stats[i].name);
		assert_true(a->stats[i].value == b->stats[i].value);
	}
}

static void test_round_trip(void **state)
{
	struct capdata a, b, c;
	char *dir = make_tmpdir(), path[4096], err[512];
	unsigned char magic[2];
	struct stat st;
	FILE *f;

	build_sample(&a);
	assert_int_equal(capdata_write(&a, dir), 0);

	snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_dir_entries(dir), 1); /* no temp file left behind */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(magic, 1, 2, f), 2);
	fclose(f);
	assert_int_equal(magic[0], 0x1f); /* really gzip */
	assert_int_equal(magic[1], 0x8b);

	assert_int_equal(capdata_init(&b), 0);
	assert_int_equal(capdata_read(&b, dir, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_capdata_equal(&a, &b);

	/* The reread model interns like the original: ids are the same. */
	assert_int_equal(capdata_thread(&b, 4242, 4250, "srv-worker"), 1);
	assert_int_equal(capdata_frame(&b, "futex_wait", 0xffffffff81100000ULL, ST_NO_MAPPING, true), 5);

	/* Reading into a non-empty capdata is refused. */
	assert_int_equal(capdata_read(&b, dir, err, sizeof(err)), -EINVAL);

	/* Write again over the existing file: still complete, still one file. */
	assert_int_equal(capdata_write(&a, dir), 0);
	assert_int_equal(capdata_init(&c), 0);
	assert_int_equal(capdata_read(&c, dir, err, sizeof(err)), 0);
	assert_capdata_equal(&a, &c);
	assert_int_equal(count_dir_entries(dir), 1);

	capdata_free(&a);
	capdata_free(&b);
	capdata_free(&c);
	remove_tmpdir(dir);
}

static void test_round_trip_empty(void **state)
{
	struct capdata a, b;
	char *dir = make_tmpdir(), err[512];

	assert_int_equal(capdata_init(&a), 0);
	assert_int_equal(capdata_write(&a, dir), 0);
	assert_int_equal(capdata_init(&b), 0);
	assert_int_equal(capdata_read(&b, dir, err, sizeof(err)), 0);
	assert_capdata_equal(&a, &b);
	capdata_free(&a);
	capdata_free(&b);
	remove_tmpdir(dir);
}

static void test_write_errors(void **state)
{
	struct capdata a;

	assert_int_equal(capdata_init(&a), 0);
	assert_int_equal(capdata_write(&a, "/nonexistent/dir"), -ENOENT);
	/* A duration that does not fit the format's signed integers is refused, not wrapped. */
	a.window.duration_ns = UINT64_MAX;
	{
		char *dir = make_tmpdir();

		assert_int_equal(capdata_write(&a, dir), -E2BIG);
		assert_int_equal(count_dir_entries(dir), 0);
		remove_tmpdir(dir);
	}
	capdata_free(&a);
}

/* ---- malformed files, table-driven ---- */

#define HDR "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1," \
	    "\"target\":{\"pids\":[7],\"comm\":\"app\",\"cmdline\":\"app -x\"}," \
	    "\"window\":{\"start_mono_ns\":1,\"start_real_ns\":2,\"duration_ns\":3,\"min_block_ns\":4}," \
	    "\"capture_path\":\"sched_exit_tp\"}\n"
#define UFRAME "{\"t\":\"frame\",\"name\":\"main\",\"addr\":\"0x401000\",\"mapping\":null,\"kernel\":false}\n"
#define KFRAME "{\"t\":\"frame\",\"name\":\"schedule\",\"addr\":\"0xffffffff81000000\",\"mapping\":null,\"kernel\":true}\n"
#define USTACK "{\"t\":\"stack\",\"frames\":[0],\"status\":\"complete\"}\n"
#define KSTACK "{\"t\":\"stack\",\"frames\":[1],\"status\":\"complete\"}\n"
#define THREAD "{\"t\":\"thread\",\"pid\":7,\"tid\":8,\"comm\":\"app\",\"below_min_ns\":5,\"below_min_count\":1}\n"
#define BLOCK(u, k) "{\"t\":\"block\",\"thread\":0,\"ustack\":" u ",\"kstack\":" k \
		    ",\"state\":\"sleeping\",\"start_ns\":10,\"dur_ns\":20}\n"
/* A valid body: header, 2 frames, 2 stacks, a thread, a block. */
#define BODY HDR UFRAME KFRAME USTACK KSTACK THREAD BLOCK("0", "1")
#define END(m, f, s, t, b, d, st) "{\"t\":\"end\",\"mappings\":" #m ",\"frames\":" #f \
	",\"stacks\":" #s ",\"threads\":" #t ",\"blocks\":" #b ",\"drops\":" #d ",\"stats\":" #st "}\n"
#define GOOD_END END(0, 2, 2, 1, 1, 0, 0)

struct bad_case {
	const char *name;
	const char *text;
	int rc;
	const char *msg; /* expected after "capture.jsonl.gz:" */
};

static const struct bad_case bad_cases[] = {
	{ "empty file", "", -EINVAL, " empty: not a stalltrap capture" },
	{ "not json", "hello\n", -EINVAL, "1: not JSON" },
	{ "array record", "[1,2]\n", -EINVAL, "1: a record must be a JSON object" },
	{ "no type", "{\"x\":1}\n", -EINVAL, "1: record without a \"t\"" },
	{ "no header first", UFRAME, -EINVAL, "1: not a stalltrap capture (the first record is \"frame\"" },
	{ "wrong format", "{\"t\":\"header\",\"format\":\"other\",\"version\":1}\n", -EINVAL,
	  "1: not a stalltrap capture (header \"format\"" },
	{ "newer version", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":2}\n", -ENOTSUP,
	  "1: capture format version 2 is newer than this stalltrap reads (1)" },
	{ "version string", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":\"1\"}\n", -EINVAL,
	  "1: header: \"version\" must be a positive integer" },
	{ "header without window", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1,\"target\":{}}\n",
	  -EINVAL, "1: header: \"window\" must be an object" },
	{ "pid not integer",
	  "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1,\"target\":{\"pids\":[\"7\"],\"comm\":null,\"cmdline\":null},"
	  "\"window\":{\"start_mono_ns\":1,\"start_real_ns\":2,\"duration_ns\":3,\"min_block_ns\":4},\"capture_path\":null}\n",
	  -EINVAL, "1: header target: \"pids\" must hold pids" },
	{ "negative duration", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1,\"target\":{\"pids\":[],\"comm\":null,\"cmdline\":null},"
	  "\"window\":{\"start_mono_ns\":1,\"start_real_ns\":2,\"duration_ns\":-3,\"min_block_ns\":4},\"capture_path\":null}\n",
	  -EINVAL, "1: header window: \"duration_ns\" is -3, outside 0..9223372036854775807" },
	{ "second header", HDR HDR, -EINVAL, "2: a second header" },
	{ "truncated (no end)", BODY, -EINVAL, " no end record after line 7: the file is truncated" },
	{ "end count mismatch", BODY END(0, 2, 2, 1, 2, 0, 0), -EINVAL, "8: end: the file says 2 blocks but holds 1" },
	{ "record after end", BODY GOOD_END THREAD, -EINVAL, "9: record after the end record" },
	{ "bad hex addr", HDR "{\"t\":\"frame\",\"name\":\"f\",\"addr\":\"401000\",\"mapping\":null,\"kernel\":false}\n",
	  -EINVAL, "2: frame: \"addr\" must be a hex string" },
	{ "hex too long", HDR "{\"t\":\"frame\",\"name\":\"f\",\"addr\":\"0x10000000000000000\",\"mapping\":null,\"kernel\":false}\n",
	  -EINVAL, "2: frame: \"addr\" must be a hex string" },
	{ "frame mapping out of range", HDR "{\"t\":\"frame\",\"name\":\"f\",\"addr\":\"0x1\",\"mapping\":0,\"kernel\":false}\n",
	  -EINVAL, "2: frame refers to mapping 0 but only 0 mappings were defined" },
	{ "frame kernel not bool", HDR "{\"t\":\"frame\",\"name\":\"f\",\"addr\":\"0x1\",\"mapping\":null,\"kernel\":1}\n",
	  -EINVAL, "2: frame: \"kernel\" must be true or false" },
	{ "frame name missing", HDR "{\"t\":\"frame\",\"addr\":\"0x1\",\"mapping\":null,\"kernel\":false}\n",
	  -EINVAL, "2: frame: \"name\" must be a string" },
	{ "frame name with NUL", HDR "{\"t\":\"frame\",\"name\":\"a\\u0000b\",\"addr\":\"0x1\",\"mapping\":null,\"kernel\":false}\n",
	  -EINVAL, "2: not JSON" },
	{ "duplicate frame", HDR UFRAME UFRAME, -EINVAL, "3: frame repeats frame 0" },
	{ "duplicate key", HDR "{\"t\":\"frame\",\"t\":\"frame\"}\n", -EINVAL, "2: not JSON" },
	{ "stack frame out of range", HDR UFRAME "{\"t\":\"stack\",\"frames\":[0,5],\"status\":\"complete\"}\n",
	  -EINVAL, "3: stack refers to frame 5 but only 1 frame was defined" },
	{ "stack bad status", HDR UFRAME "{\"t\":\"stack\",\"frames\":[0],\"status\":\"done\"}\n",
	  -EINVAL, "3: stack: \"status\" must be one of complete, truncated, unreadable, none" },
	{ "stack mixes frames", HDR UFRAME KFRAME "{\"t\":\"stack\",\"frames\":[0,1],\"status\":\"complete\"}\n",
	  -EINVAL, "4: stack mixes kernel and user frames" },
	{ "stack frames not array", HDR UFRAME "{\"t\":\"stack\",\"frames\":0,\"status\":\"complete\"}\n",
	  -EINVAL, "3: stack: \"frames\" must be an array of frame ids" },
	{ "thread comm too long", HDR "{\"t\":\"thread\",\"pid\":7,\"tid\":8,\"comm\":\"0123456789abcdef\",\"below_min_ns\":5,\"below_min_count\":1}\n",
	  -EINVAL, "2: thread: \"comm\" is longer than 15 bytes" },
	{ "thread tid too big", HDR "{\"t\":\"thread\",\"pid\":7,\"tid\":4294967296,\"comm\":\"a\",\"below_min_ns\":5,\"below_min_count\":1}\n",
	  -EINVAL, "2: thread: \"tid\" is 4294967296, outside" },
	{ "block stack out of range", HDR UFRAME KFRAME USTACK KSTACK THREAD BLOCK("99", "1"), -EINVAL,
	  "7: block refers to stack 99 but only 2 stacks were defined" },
	{ "block thread out of range", HDR "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1}\n",
	  -EINVAL, "2: block refers to thread 0 but only 0 threads were defined" },
	{ "block kernel stack as ustack", HDR UFRAME KFRAME USTACK KSTACK THREAD BLOCK("1", "1"), -EINVAL,
	  "7: block: \"ustack\" 1 is a kernel stack" },
	{ "block user stack as kstack", HDR UFRAME KFRAME USTACK KSTACK THREAD BLOCK("0", "0"), -EINVAL,
	  "7: block: \"kstack\" 0 is a user stack" },
	{ "block bad state", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":2,\"start_ns\":1,\"dur_ns\":1}\n",
	  -EINVAL, "3: block: \"state\" must be one of sleeping, uninterruptible, runnable" },
	{ "block negative duration", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"runnable\",\"start_ns\":1,\"dur_ns\":-1}\n",
	  -EINVAL, "3: block: \"dur_ns\" is -1, outside" },
	{ "block float duration", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"runnable\",\"start_ns\":1,\"dur_ns\":1.5}\n",
	  -EINVAL, "3: block: \"dur_ns\" must be an integer" },
	{ "block flag not bool", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"runnable\",\"start_ns\":1,\"dur_ns\":1,\"in_progress\":1}\n",
	  -EINVAL, "3: block: \"in_progress\" must be true or false" },
	{ "block bad wait", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"wait\":\"spin\"}\n",
	  -EINVAL, "3: block: \"wait\" must be one of none, mmap_lock, kernel_lock, futex" },
	{ "block negative syscall", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"syscall\":-1}\n",
	  -EINVAL, "3: block: \"syscall\" is -1, outside 0..2147483647" },
	{ "block wait_obj not hex", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"wait_obj\":12}\n",
	  -EINVAL, "3: block: \"wait_obj\" must be a hex string" },
	{ "block lock_flags too big", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"lock_flags\":256}\n",
	  -EINVAL, "3: block: \"lock_flags\" is 256, outside 0..255" },
	{ "block woken after its end", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":10,\"dur_ns\":5,\"woken_ns\":16}\n",
	  -EINVAL, "3: block: \"woken_ns\" 16 is outside the block" },
	{ "block cpu_taker out of range", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"runnable\",\"start_ns\":10,\"dur_ns\":5,\"cpu_taker\":3}\n",
	  -EINVAL, "3: block refers to thread 3 but only 1 thread was defined" },
	{ "block waker out of range", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"waker\":1,\"waker_ustack\":null,\"waker_kstack\":null}\n",
	  -EINVAL, "3: block refers to thread 1 but only 1 thread was defined" },
	{ "block waker kernel stack as ustack", HDR UFRAME KFRAME USTACK KSTACK THREAD
	  "{\"t\":\"block\",\"thread\":0,\"ustack\":0,\"kstack\":1,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"waker\":0,\"waker_ustack\":1,\"waker_kstack\":1}\n",
	  -EINVAL, "7: block: \"waker_ustack\" 1 is a kernel stack" },
	{ "block owner out of range", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"owner\":1}\n",
	  -EINVAL, "3: block refers to thread 1 but only 1 thread was defined" },
	{ "block owner null", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"owner\":null}\n",
	  -EINVAL, "3: block: \"owner\" must be an integer" },
	{ "block waker without stacks", HDR THREAD "{\"t\":\"block\",\"thread\":0,\"ustack\":null,\"kstack\":null,\"state\":\"sleeping\",\"start_ns\":1,\"dur_ns\":1,\"waker\":0}\n",
	  -EINVAL, "3: block: \"waker_ustack\" must be an integer or null" },
	{ "thread io_bytes negative", HDR "{\"t\":\"thread\",\"pid\":7,\"tid\":8,\"comm\":\"a\",\"below_min_ns\":5,\"below_min_count\":1,\"io_bytes\":-1}\n",
	  -EINVAL, "2: thread: \"io_bytes\" is -1, outside" },
	{ "thread outside not bool", HDR "{\"t\":\"thread\",\"pid\":7,\"tid\":8,\"comm\":\"a\",\"below_min_ns\":5,\"below_min_count\":1,\"outside\":1}\n",
	  -EINVAL, "2: thread: \"outside\" must be true or false" },
	{ "header bad sample period", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1,\"target\":{\"pids\":[],\"comm\":null,\"cmdline\":null},"
	  "\"window\":{\"start_mono_ns\":1,\"start_real_ns\":2,\"duration_ns\":3,\"min_block_ns\":4,\"sample_period_ns\":\"x\"},\"capture_path\":null}\n",
	  -EINVAL, "1: header window: \"sample_period_ns\" must be an integer" },
	{ "hold bad mode", HDR THREAD "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"exclusive\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":null,\"kstack\":null}\n",
	  -EINVAL, "3: hold: \"mode\" must be one of read, write, downgraded" },
	{ "hold thread out of range", HDR "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"read\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":null,\"kstack\":null}\n",
	  -EINVAL, "2: hold refers to thread 0 but only 0 threads were defined" },
	{ "hold user stack as kstack", HDR UFRAME KFRAME USTACK KSTACK THREAD "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"write\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":0,\"kstack\":0}\n",
	  -EINVAL, "7: hold: \"kstack\" 0 is a user stack" },
	{ "hold args not hex", HDR THREAD "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"read\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":null,\"kstack\":null,\"syscall\":9,\"args\":[1,2]}\n",
	  -EINVAL, "3: hold: \"args\" must be an array of at most 4 hex strings" },
	{ "hold too many args", HDR THREAD "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"read\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":null,\"kstack\":null,\"args\":[\"0x1\",\"0x1\",\"0x1\",\"0x1\",\"0x1\"]}\n",
	  -EINVAL, "3: hold: \"args\" must be an array of at most 4 hex strings" },
	{ "hold_total negative", HDR THREAD "{\"t\":\"hold_total\",\"thread\":0,\"mm_pid\":7,\"hold_ns\":-1,\"holds\":1,\"read_ns\":0,\"write_ns\":0}\n",
	  -EINVAL, "3: hold_total: \"hold_ns\" is -1, outside" },
	{ "sample kernel stack as ustack", HDR UFRAME KFRAME USTACK KSTACK THREAD "{\"t\":\"sample\",\"thread\":0,\"ts_ns\":1,\"ustack\":1,\"kstack\":null}\n",
	  -EINVAL, "7: sample: \"ustack\" 1 is a kernel stack" },
	{ "sample stack out of range", HDR THREAD "{\"t\":\"sample\",\"thread\":0,\"ts_ns\":1,\"ustack\":null,\"kstack\":3}\n",
	  -EINVAL, "3: sample refers to stack 3 but only 0 stacks were defined" },
	{ "mem missing rss", HDR "{\"t\":\"mem\",\"pid\":7,\"ts_ns\":1,\"vsz_bytes\":1}\n",
	  -EINVAL, "2: mem: \"rss_bytes\" must be an integer" },
	{ "throttle empty cgroup", HDR "{\"t\":\"throttle\",\"cgroup\":\"\",\"from_ns\":1,\"ts_ns\":2,\"throttled_ns\":1,\"periods\":1,\"quota_us\":-1,\"period_us\":100000}\n",
	  -EINVAL, "2: throttle: empty cgroup" },
	{ "throttle quota below -1", HDR "{\"t\":\"throttle\",\"cgroup\":\"/a\",\"from_ns\":1,\"ts_ns\":2,\"throttled_ns\":1,\"periods\":1,\"quota_us\":-2,\"period_us\":100000}\n",
	  -EINVAL, "2: throttle: \"quota_us\" is -2, outside" },
	{ "end without a hold count but a hold", HDR THREAD "{\"t\":\"hold\",\"thread\":0,\"mm_pid\":7,\"mode\":\"read\",\"start_ns\":1,\"dur_ns\":2,\"ustack\":null,\"kstack\":null}\n"
	  END(0, 0, 0, 1, 0, 0, 0), -EINVAL, "4: end: the file says 0 holds but holds 1" },
	{ "end sample count mismatch", HDR "{\"t\":\"end\",\"mappings\":0,\"frames\":0,\"stacks\":0,\"threads\":0,\"blocks\":0,"
	  "\"holds\":0,\"hold_totals\":0,\"samples\":2,\"mem\":0,\"drops\":0,\"stats\":0}\n",
	  -EINVAL, "2: end: the file says 2 samples but holds 0" },
	{ "duplicate drop", HDR "{\"t\":\"drop\",\"name\":\"a\",\"value\":1}\n{\"t\":\"drop\",\"name\":\"a\",\"value\":1}\n",
	  -EINVAL, "3: drop \"a\" appears twice" },
	{ "bad counter name", HDR "{\"t\":\"stat\",\"name\":\"a b\",\"value\":1}\n", -EINVAL, "2: stat: \"name\" must be" },
	{ "NUL byte", HDR "{\"t\":\"x\"}\0\n", -EINVAL, "2: NUL byte in the line" },
};

static void test_malformed(void **state)
{
	char err[512], want[600];
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char *dir = make_tmpdir();
		struct capdata cd;
		size_t len = strlen(c->text);
		int rc;

		if (strcmp(c->name, "NUL byte") == 0)
			len = strlen(HDR) + sizeof("{\"t\":\"x\"}\0\n") - 1;
		write_plain(dir, c->text, len);
		assert_int_equal(capdata_init(&cd), 0);
		rc = capdata_read(&cd, dir, err, sizeof(err));
		snprintf(want, sizeof(want), "%s/%s:%s", dir, CAPDATA_FILE, c->msg);
		if (rc != c->rc || strncmp(err, want, strlen(want)) != 0)
			fail_msg("case \"%s\": rc %d (want %d), message\n  \"%s\"\nwant prefix\n  \"%s\"",
				 c->name, rc, c->rc, err, want);
		assert_null(strchr(err, '\n')); /* one line */
		capdata_free(&cd);
		remove_tmpdir(dir);
	}
}

/* Files that must be accepted, with what they must yield. */
static void test_accepted_variants(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		size_t nblocks;
	} cases[] = {
		{ "minimal", BODY GOOD_END, 1 },
		{ "unknown record type skipped", HDR "{\"t\":\"future_thing\",\"x\":[1,2]}\n" UFRAME KFRAME
		  USTACK KSTACK THREAD BLOCK("0", "1") GOOD_END, 1 },
		{ "unknown fields ignored", HDR UFRAME KFRAME USTACK KSTACK
		  "{\"t\":\"thread\",\"pid\":7,\"tid\":8,\"comm\":\"app\",\"below_min_ns\":5,\"below_min_count\":1,\"new\":{}}\n"
		  BLOCK("null", "null") GOOD_END, 1 },
		{ "CRLF and blank lines", HDR "\r\n\n" UFRAME KFRAME USTACK KSTACK THREAD END(0, 2, 2, 1, 0, 0, 0), 0 },
		{ "no trailing newline", "{\"t\":\"header\",\"format\":\"stalltrap-capture\",\"version\":1,"
		  "\"target\":{\"pids\":[],\"comm\":null,\"cmdline\":null},"
		  "\"window\":{\"start_mono_ns\":0,\"start_real_ns\":0,\"duration_ns\":0,\"min_block_ns\":0},"
		  "\"capture_path\":null}\n{\"t\":\"end\",\"mappings\":0,\"frames\":0,\"stacks\":0,\"threads\":0,"
		  "\"blocks\":0,\"drops\":0,\"stats\":0}", 0 },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = make_tmpdir();
		struct capdata cd;
		int rc;

		write_plain(dir, cases[i].text, strlen(cases[i].text));
		assert_int_equal(capdata_init(&cd), 0);
		rc = capdata_read(&cd, dir, err, sizeof(err));
		if (rc)
			fail_msg("case \"%s\": rc %d: %s", cases[i].name, rc, err);
		assert_int_equal(cd.nblocks, cases[i].nblocks);
		capdata_free(&cd);
		remove_tmpdir(dir);
	}
}

static void test_read_blocks_values(void **state)
{
	static const char text[] = HDR UFRAME KFRAME USTACK KSTACK THREAD
		"{\"t\":\"block\",\"thread\":0,\"ustack\":0,\"kstack\":1,\"state\":\"uninterruptible\","
		"\"start_ns\":10,\"dur_ns\":20,\"in_progress\":true,\"began_before\":true}\n"
		"{\"t\":\"drop\",\"name\":\"ringbuf_full\",\"value\":0}\n"
		END(0, 2, 2, 1, 1, 1, 0);
	char *dir = make_tmpdir(), err[512];
	struct capdata cd;

	write_gz(dir, text, strlen(text));
	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(capdata_read(&cd, dir, err, sizeof(err)), 0);
	assert_int_equal(cd.target.npids, 1);
	assert_int_equal(cd.target.pids[0], 7);
	assert_string_equal(cd.target.cmdline, "app -x");
	assert_int_equal(cd.window.min_block_ns, 4);
	assert_int_equal(cd.window.start_real_ns, 2);
	assert_true(cd.frames[1].addr == 0xffffffff81000000ULL);
	assert_true(cd.frames[1].kernel);
	assert_int_equal(cd.threads[0].below_min_ns, 5);
	assert_int_equal(cd.blocks[0].state, CAP_STATE_UNINTERRUPTIBLE);
	assert_int_equal(cd.blocks[0].flags, CAP_BLOCK_IN_PROGRESS | CAP_BLOCK_BEGAN_BEFORE);
	assert_int_equal(cd.blocks[0].dur_ns, 20);
	assert_int_equal(cd.ndrops, 1);
	assert_int_equal(capdata_get_drop(&cd, "ringbuf_full"), 0);
	capdata_free(&cd);
	remove_tmpdir(dir);
}

/* A file of the new records, written by hand: every field lands where it should. */
static void test_read_cause_values(void **state)
{
	static const char text[] = HDR UFRAME KFRAME USTACK KSTACK THREAD
		"{\"t\":\"thread\",\"pid\":9,\"tid\":9,\"comm\":\"khugepaged\",\"below_min_ns\":0,"
		"\"below_min_count\":0,\"outside\":true,\"io_bytes\":4096,\"io_count\":1}\n"
		"{\"t\":\"block\",\"thread\":0,\"ustack\":0,\"kstack\":1,\"state\":\"uninterruptible\","
		"\"start_ns\":10,\"dur_ns\":20,\"syscall\":9,\"wait\":\"mmap_lock\",\"wait_obj\":\"0xffff888000001000\","
		"\"lock_flags\":4,\"waker\":1,\"waker_ustack\":null,\"waker_kstack\":1}\n"
		"{\"t\":\"hold\",\"thread\":1,\"mm_pid\":7,\"mode\":\"downgraded\",\"start_ns\":3,\"dur_ns\":40,"
		"\"ustack\":null,\"kstack\":1,\"in_progress\":true,\"syscall\":10,"
		"\"args\":[\"0x7f0000000000\",\"0x10000000\",\"0x1\"]}\n"
		"{\"t\":\"hold_total\",\"thread\":1,\"mm_pid\":7,\"hold_ns\":40,\"holds\":1,\"read_ns\":30,\"write_ns\":10}\n"
		"{\"t\":\"sample\",\"thread\":0,\"ts_ns\":15,\"ustack\":0,\"kstack\":null}\n"
		"{\"t\":\"mem\",\"pid\":7,\"ts_ns\":16,\"rss_bytes\":1048576,\"vsz_bytes\":2097152}\n"
		"{\"t\":\"end\",\"mappings\":0,\"frames\":2,\"stacks\":2,\"threads\":2,\"blocks\":1,"
		"\"holds\":1,\"hold_totals\":1,\"samples\":1,\"mem\":1,\"drops\":0,\"stats\":0}\n";
	char *dir = make_tmpdir(), err[512];
	const struct cap_block *b;
	const struct cap_hold *h;
	struct capdata cd;

	write_gz(dir, text, strlen(text));
	assert_int_equal(capdata_init(&cd), 0);
	if (capdata_read(&cd, dir, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(cd.threads[1].outside);
	assert_false(cd.threads[0].outside);
	assert_int_equal(cd.threads[1].io_bytes, 4096);
	assert_int_equal(cd.threads[1].io_count, 1);
	b = &cd.blocks[0];
	assert_true(b->in_syscall);
	assert_int_equal(b->syscall, 9);
	assert_int_equal(b->wait_kind, CAP_WAIT_MMAP_LOCK);
	assert_true(b->wait_obj == 0xffff888000001000ULL);
	assert_int_equal(b->lock_flags, 4);
	assert_true(b->has_waker);
	assert_int_equal(b->waker, 1);
	assert_int_equal(b->waker_ustack, ST_NO_STACK);
	assert_int_equal(b->waker_kstack, 1);
	assert_int_equal(cd.nholds, 1);
	h = &cd.holds[0];
	assert_int_equal(h->mode, CAP_HOLD_DOWNGRADED);
	assert_int_equal(h->flags, CAP_BLOCK_IN_PROGRESS);
	assert_true(h->in_syscall);
	assert_int_equal(h->syscall, 10);
	assert_true(h->args[1] == 0x10000000ULL && h->args[2] == 1 && h->args[3] == 0);
	assert_int_equal(cd.hold_totals[0].read_ns, 30);
	assert_int_equal(cd.samples[0].ts_ns, 15);
	assert_int_equal(cd.samples[0].kstack, ST_NO_STACK);
	assert_int_equal(cd.mem[0].vsz_bytes, 2097152);
	/* Blocks without the optional keys read as "unknown". */
	capdata_free(&cd);

	assert_int_equal(capdata_init(&cd), 0);
	write_plain(dir, BODY GOOD_END, strlen(BODY GOOD_END));
	assert_int_equal(capdata_read(&cd, dir, err, sizeof(err)), 0);
	assert_false(cd.blocks[0].in_syscall);
	assert_int_equal(cd.blocks[0].wait_kind, CAP_WAIT_NONE);
	assert_false(cd.blocks[0].has_waker);
	assert_int_equal(cd.window.sample_period_ns, 0);
	assert_int_equal(cd.window.hold_threshold_ns, 0);
	capdata_free(&cd);
	remove_tmpdir(dir);
}

static void test_damaged_gzip(void **state)
{
	struct capdata a, b;
	char *dir = make_tmpdir(), path[4096], err[512];
	struct stat st;

	build_sample(&a);
	assert_int_equal(capdata_write(&a, dir), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE);
	assert_int_equal(stat(path, &st), 0);
	/* Cut the gzip stream in half: the reader must say so, not take half a capture. */
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	assert_int_equal(capdata_init(&b), 0);
	assert_true(capdata_read(&b, dir, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, CAPDATA_FILE ":"));
	capdata_free(&b);

	/* Flip bytes in the middle: a CRC or inflate error, or a JSON error, never a crash. */
	assert_int_equal(capdata_write(&a, dir), 0);
	{
		int fd = open(path, O_RDWR);
		char junk[16];

		assert_true(fd >= 0);
		memset(junk, 0x5a, sizeof(junk));
		assert_int_equal(pwrite(fd, junk, sizeof(junk), 40), (ssize_t)sizeof(junk));
		close(fd);
	}
	assert_int_equal(capdata_init(&b), 0);
	assert_true(capdata_read(&b, dir, err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	capdata_free(&b);

	capdata_free(&a);
	remove_tmpdir(dir);
}

static void test_missing_and_long_line(void **state)
{
	char *dir = make_tmpdir(), err[512], want[600];
	struct capdata cd;
	size_t n = (1u << 20) + 100, hl = strlen(HDR);
	char *text;

	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(capdata_read(&cd, dir, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/%s: ", dir, CAPDATA_FILE);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	capdata_free(&cd);

	/* A line over the 1 MiB cap is refused with E2BIG, whatever it holds. */
	text = malloc(hl + n + 2);
	assert_non_null(text);
	memcpy(text, HDR, hl);
	memset(text + hl, 'x', n);
	text[hl + n] = '\n';
	write_gz(dir, text, hl + n + 1);
	free(text);
	assert_int_equal(capdata_init(&cd), 0);
	assert_int_equal(capdata_read(&cd, dir, err, sizeof(err)), -E2BIG);
	snprintf(want, sizeof(want), "%s/%s:2: line longer than", dir, CAPDATA_FILE);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	capdata_free(&cd);
	remove_tmpdir(dir);
}

/* Eviction: nothing moves until an eighth of an array is evictable; then
 * every record that ended before the cutoff goes, wherever it is, and waits
 * in progress stay. */
static void test_evict_batches(void **state)
{
	struct capdata cd;
	int64_t t;

	assert_int_equal(capdata_init(&cd), 0);
	t = capdata_thread(&cd, 100, 101, "worker");
	assert_int_equal(t, 0);
	for (uint64_t i = 0; i < 100; i++) {
		struct cap_block b = { .thread = 0, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK,
				       .start_ns = i * 1000, .dur_ns = 500 };
		struct cap_sample smp = { .thread = 0, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK,
					  .ts_ns = i * 1000 };
		struct cap_mem m = { .pid = 100, .ts_ns = i * 1000 };

		if (i == 50)           /* a late record that ended long ago */
			b.start_ns = 0;
		if (i == 60) {         /* a wait still in progress, begun at the start */
			b.start_ns = 0;
			b.flags = CAP_BLOCK_IN_PROGRESS;
		}
		assert_int_equal(capdata_add_block(&cd, &b), 0);
		assert_int_equal(capdata_add_sample(&cd, &smp), 0);
		assert_int_equal(capdata_add_mem(&cd, &m), 0);
	}
	/* 10 evictable of 100: below an eighth, nothing moves */
	assert_int_equal(capdata_evict(&cd, 9800), 0);
	assert_int_equal(cd.nblocks, 100);
	assert_int_equal(cd.nsamples, 100);
	/* 20 of 100: every array is compacted; the late block goes too, the one in progress stays */
	assert_int_equal(capdata_evict(&cd, 19800), 21 + 20 + 20);
	assert_int_equal(cd.nblocks, 79);
	assert_int_equal(cd.nsamples, 80);
	assert_int_equal(cd.nmem, 80);
	assert_int_equal(cd.blocks[0].start_ns, 20000);
	for (size_t i = 0; i < cd.nblocks; i++)
		assert_true((cd.blocks[i].flags & CAP_BLOCK_IN_PROGRESS) ||
			    cd.blocks[i].start_ns + cd.blocks[i].dur_ns >= 19800);
	assert_int_equal(cd.samples[0].ts_ns, 20000);
	/* everything old: all of it goes, but the wait in progress */
	assert_int_equal(capdata_evict(&cd, 1000000), 78 + 80 + 80);
	assert_int_equal(cd.nblocks, 1);
	assert_true(cd.blocks[0].flags & CAP_BLOCK_IN_PROGRESS);
	/* the interned thread stays */
	assert_int_equal(cd.nthreads, 1);
	capdata_free(&cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_frames),
		cmocka_unit_test(test_intern_strings_are_cleaned),
		cmocka_unit_test(test_intern_stacks_threads),
		cmocka_unit_test(test_many_interned),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_header_setters),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_accepted_variants),
		cmocka_unit_test(test_read_blocks_values),
		cmocka_unit_test(test_read_cause_values),
		cmocka_unit_test(test_damaged_gzip),
		cmocka_unit_test(test_missing_and_long_line),
		cmocka_unit_test(test_evict_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
