/* test_proc.c: /proc parsers, target discovery and the deadline-bounded reader. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture/proc.h"

static void test_cmdline(void **state)
{
	static const struct { const char *in; size_t len; const char *want; } cases[] = {
		{ "a\0b\0c\0", 6, "a b c" },
		{ "/usr/bin/x\0--flag\0", 18, "/usr/bin/x --flag" },
		{ "", 0, "" },
		{ "one", 3, "one" },
		{ "t\x01x\0", 4, "t?x" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		proc_format_cmdline(cases[i].in, cases[i].len, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
	proc_format_cmdline("abcdef", 6, out, 4);
	assert_string_equal(out, "abc");
}

static void test_read_deadline_file(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(proc_read_deadline("/proc/self/comm", 1000, &buf, &len), 0);
	assert_true(len > 0);
	assert_non_null(strchr(buf, '\n'));
	free(buf);
	assert_int_equal(proc_read_deadline("/nonexistent/file", 1000, &buf, &len), -ENOENT);
}

static void test_read_deadline_times_out(void **state)
{
	/* A FIFO with a writer that never writes blocks the reader: the deadline
	 * must return on time and leave the reader behind. */
	char path[64] = "/tmp/stalltrap-test-fifoXXXXXX";
	char *buf = NULL;
	size_t len;
	struct timespec t0, t1;
	int wfd;
	double ms;

	assert_non_null(mkdtemp(path));
	strcat(path, "/f");
	assert_int_equal(mkfifo(path, 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(proc_read_deadline(path, 200, &buf, &len), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= 150 && ms < 2000);
	/* release the stuck reader: open for write then close gives it EOF */
	wfd = open(path, O_WRONLY);
	assert_true(wfd >= 0);
	close(wfd);
	unlink(path);
	path[strlen(path) - 2] = '\0';
	rmdir(path);
}

static void test_find_by_comm_in_fake_proc(void **state)
{
	char root[] = "/tmp/stalltrap-test-procXXXXXX", p[512];
	static const struct { int pid; const char *comm; bool exe; const char *stat; } procs[] = {
		{ 10, "svc", true, "10 (svc) S 1 10 10 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0" },
		{ 11, "other", true, NULL }, { 12, "svc", true, NULL }, { 13, "svc", false, NULL },
		/* the old svc, exited and not reaped yet */
		{ 14, "svc", true, "14 (svc) Z 1 14 14 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0" },
	};
	pid_t *pids = NULL;
	FILE *f;
	int n;

	assert_non_null(mkdtemp(root));
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%d", root, procs[i].pid);
		mkdir(p, 0700);
		snprintf(p, sizeof(p), "%s/%d/comm", root, procs[i].pid);
		f = fopen(p, "w");
		fprintf(f, "%s\n", procs[i].comm);
		fclose(f);
		if (procs[i].stat) {
			snprintf(p, sizeof(p), "%s/%d/stat", root, procs[i].pid);
			f = fopen(p, "w");
			fprintf(f, "%s\n", procs[i].stat);
			fclose(f);
		}
		if (procs[i].exe) {
			/* a kernel thread has no exe link; user processes do */
			snprintf(p, sizeof(p), "%s/%d/exe", root, procs[i].pid);
			assert_int_equal(symlink("/bin/true", p), 0);
		}
	}
	n = proc_find_by_comm(root, "svc", &pids);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], 10);
	assert_int_equal(pids[1], 12);
	free(pids);
	assert_int_equal(proc_find_by_comm(root, "nothing", &pids), 0);
	free(pids);
	/* the real /proc: kthreadd's exe link exists (lstat succeeds) but
	 * leads nowhere; a kernel thread is never a --name target */
	assert_int_equal(proc_find_by_comm("/proc", "kthreadd", &pids), 0);
	free(pids);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

/* --pid's family: the pids, their children and grandchildren, nobody else;
 * a comm with spaces and parentheses does not fool the ppid parse. */
static void test_with_descendants(void **state)
{
	char root[] = "/tmp/stalltrap-test-procXXXXXX", p[512];
	static const struct { int pid, ppid; const char *comm; } procs[] = {
		{ 1, 0, "init" }, { 10, 1, "postgres" }, { 11, 10, "postgres: wal (x) y" }, { 12, 11, "worker" },
		{ 13, 1, "other" }, { 14, 13, "other child" }, { 15, 10, "backend" },
	};
	pid_t want[] = { 10, 11, 12, 15 }, *pids = NULL, one = 10;
	FILE *f;
	int n;

	(void)state;
	assert_non_null(mkdtemp(root));
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%d", root, procs[i].pid);
		mkdir(p, 0700);
		snprintf(p, sizeof(p), "%s/%d/stat", root, procs[i].pid);
		f = fopen(p, "w");
		fprintf(f, "%d (%s) S %d %d 0 0\n", procs[i].pid, procs[i].comm, procs[i].ppid, procs[i].pid);
		fclose(f);
	}
	n = proc_with_descendants(root, &one, 1, &pids);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pids[i], want[i]);
	free(pids);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

static void test_cgroup_walk(void **state)
{
	char root[] = "/tmp/stalltrap-test-cgXXXXXX", p[512], out[512];
	pid_t *pids = NULL;
	FILE *f;

	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/cgroup.procs", root);
	f = fopen(p, "w");
	fprintf(f, "5\n3\n");
	fclose(f);
	snprintf(p, sizeof(p), "%s/child", root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/child/cgroup.procs", root);
	f = fopen(p, "w");
	fprintf(f, "7\n3\n");
	fclose(f);
	assert_int_equal(proc_cgroup_pids(root, &pids), 3);
	assert_int_equal(pids[0], 3);
	assert_int_equal(pids[1], 5);
	assert_int_equal(pids[2], 7);
	free(pids);
	assert_int_equal(proc_resolve_cgroup(root, out, sizeof(out)), 0);
	assert_string_equal(out, root);
	assert_int_equal(proc_resolve_cgroup("/no/such/cgroup/anywhere", out, sizeof(out)), -ENOENT);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

/* This process's cgroups, from mountinfo and /proc/self/cgroup, against the
 * files themselves: the cgroup2 line is "0::PATH", a v1 controller's mount
 * holds that controller's files. */
static void test_cgroup_of(void **state)
{
	char mnt[4096], cg[4096], want[4096] = "", line[4096], probe[8300];
	FILE *f = fopen("/proc/self/cgroup", "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(want, sizeof(want), "%s", line + 3);
		}
	fclose(f);
	if (want[0]) {
		assert_int_equal(proc_cgroup_of(getpid(), NULL, cg, sizeof(cg)), 0);
		assert_string_equal(cg, want);
		assert_int_equal(proc_cgroup_mount(NULL, mnt, sizeof(mnt)), 0);
		snprintf(probe, sizeof(probe), "%s/cgroup.controllers", mnt);
		assert_int_equal(access(probe, R_OK), 0);
	}
	if (!proc_cgroup_mount("cpu", mnt, sizeof(mnt))) {
		snprintf(probe, sizeof(probe), "%s/cpu.shares", mnt);
		assert_int_equal(access(probe, R_OK), 0);
		assert_int_equal(proc_cgroup_of(getpid(), "cpu", cg, sizeof(cg)), 0);
		assert_int_equal(cg[0], '/');
	}
	assert_int_equal(proc_cgroup_mount("no_such_controller", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(proc_cgroup_of(getpid(), "no_such_controller", cg, sizeof(cg)), -ENOENT);
	assert_true(proc_cgroup_of(-1, NULL, cg, sizeof(cg)) < 0);
}

static void test_resolve_targets(void **state)
{
	pid_t self = getpid(), missing = 4194000, *out = NULL;
	char cg[64], err[256];

	assert_int_equal(proc_resolve_targets(&self, 1, NULL, NULL, false, &out, cg, sizeof(cg),
					      err, sizeof(err)), 1);
	assert_int_equal(out[0], self);
	free(out);
	assert_int_equal(proc_resolve_targets(&missing, 1, NULL, NULL, false, &out, cg, sizeof(cg),
					      err, sizeof(err)), -ESRCH);
	assert_string_equal(err, "no such process: 4194000");
	assert_int_equal(proc_resolve_targets(NULL, 0, "no-such-comm-x", NULL, false, &out, cg,
					      sizeof(cg), err, sizeof(err)), -ESRCH);
	assert_string_equal(err, "no process named 'no-such-comm-x'");
	/* a watcher waits for a service that is not there yet */
	assert_int_equal(proc_resolve_targets(NULL, 0, "no-such-comm-x", NULL, true, &out, cg,
					      sizeof(cg), err, sizeof(err)), 0);
	free(out);
	assert_int_equal(proc_resolve_targets(NULL, 0, NULL, "/no/such/cg", true, &out, cg,
					      sizeof(cg), err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "no such cgroup: /no/such/cg");
}

/* /proc/PID/stat's ppid after the last ')': comm may hold anything. */
static void test_stat_ppid(void **state)
{
	static const struct {
		const char *text;
		pid_t ppid;
	} cases[] = {
		{ "1234 (redis-server) S 77 1234 1234 0 -1", 77 },
		{ "1234 (a) b) (c) S 78 1234", 78 },     /* parentheses in comm */
		{ "1234 (x\n) R 79 1", 79 },
		{ "1 (init) S 0 1 1", 0 },               /* no parent */
		{ "1234 (x) S 99999999999 1", 0 },       /* not a pid */
		{ "1234 (x) S 2147483648 1", 0 },
		{ "1234 (x) S 2147483647 1", 2147483647 },
		{ "1234 (x) S -5 1", 0 },
		{ "1234 (x) S", 0 },
		{ "1234 (x)", 0 },
		{ "no parenthesis 5", 0 },
		{ "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(proc_stat_ppid(cases[i].text, strlen(cases[i].text)), cases[i].ppid);
	/* not NUL-terminated: nothing past len is read */
	assert_int_equal(proc_stat_ppid("1 (x) S 42", 9), 4);
}

/* Exited means zombie or dead with no thread left but the leader; what
 * cannot be parsed says nothing. */
static void test_stat_exited(void **state)
{
	static const struct {
		const char *text;
		bool exited;
	} cases[] = {
		{ "1234 (svc) Z 1 1234 1234 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 5", true },
		{ "1234 (svc) X 1 1234 1234 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 5", true },
		{ "1234 (svc) Z 1 1234 1234 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 0 0 5", true },
		/* a leader that called pthread_exit: two threads still run */
		{ "1234 (svc) Z 1 1234 1234 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 3 0 5", false },
		{ "1234 (svc) S 1 1234 1234 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5", false },
		{ "1234 (svc) D 1 1234", false },
		{ "1234 (svc) R 1 1234", false },
		{ "1234 (a) Z (b) S 1 1234 1234 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", false }, /* a comm that says Z */
		{ "1234 (Z) Z 1 1234 1234 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", true },
		{ "1234 (svc) Z 1 1234", false },      /* truncated before num_threads */
		{ "1234 (svc) Z", false },
		{ "1234 (svc)", false },
		{ "no parenthesis Z", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(proc_stat_exited(cases[i].text, strlen(cases[i].text)), cases[i].exited);
}

/* Waits (5 s at most) until pid's stat says state. */
static bool wait_state(pid_t pid, char state)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		char *rp;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			rp = strrchr(buf, ')');
			if (rp && rp[1] == ' ' && rp[2] == state)
				return true;
		}
		usleep(10000);
	}
	return false;
}

/* A child that exited and is not reaped yet takes kill(pid, 0) like a live
 * one; it is gone all the same. */
static void test_alive_zombie(void **state)
{
	pid_t child = fork();
	int status;

	int fds[2];
	bool gone[2];

	assert_true(child >= 0);
	if (!child)
		_exit(0);
	assert_true(wait_state(child, 'Z'));
	assert_int_equal(kill(child, 0), 0);
	assert_false(proc_alive(child));
	assert_true(proc_alive(getpid()));
	/* a pidfd tells the same with one poll: the zombie gone, this process not */
	fds[0] = proc_pidfd_open(child);
	fds[1] = proc_pidfd_open(getpid());
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	assert_int_equal(proc_pidfds_gone(fds, 2, gone), 1);
	assert_true(gone[0]);
	assert_false(gone[1]);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_false(proc_alive(child));
	assert_false(proc_alive(0));
	assert_false(proc_alive(-1));
}

static void *park(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A process whose main thread called pthread_exit shows a zombie leader in
 * /proc/PID/stat; its other threads still run: alive. */
static void test_alive_zombie_leader(void **state)
{
	int pfd[2], fd, i;
	pid_t child;
	char c;
	int status;
	bool gone = true;

	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		pthread_t t;

		close(pfd[0]);
		if (pthread_create(&t, NULL, park, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	close(pfd[1]);
	assert_true(wait_state(child, 'Z'));
	assert_true(proc_alive(child));
	fd = proc_pidfd_open(child);
	assert_true(fd >= 0);
	assert_int_equal(proc_pidfds_gone(&fd, 1, &gone), 0);
	assert_false(gone);
	assert_int_equal(kill(child, SIGKILL), 0);
	/* killed, not reaped yet: its pidfd turns readable once all its threads are gone */
	for (i = 0; i < 500 && proc_pidfds_gone(&fd, 1, &gone) == 0; i++)
		usleep(10000);
	assert_true(gone);
	close(fd);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(read(pfd[0], &c, 1), 0);
	close(pfd[0]);
}

/* cgroup.procs: one pid a line, duplicates and garbage skipped. */
static void test_parse_pids(void **state)
{
	static const char text[] = "1\n22\n333\n22\n\n4194304\n99999999999\n-5\nabc\n7x\n2147483647\n0\n9";
	pid_t *pids = NULL;
	size_t n = 0, cap = 0;
	static const pid_t want[] = { 1, 22, 333, 4194304, 2147483647, 9 };

	assert_int_equal(proc_parse_pids(text, strlen(text), &pids, &n, &cap), 0);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pids[i], want[i]);
	/* appends, skipping those present */
	assert_int_equal(proc_parse_pids("9\n10\n", 5, &pids, &n, &cap), 0);
	assert_int_equal(n, 7);
	assert_int_equal(pids[6], 10);
	free(pids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_read_deadline_file),
		cmocka_unit_test(test_read_deadline_times_out),
		cmocka_unit_test(test_find_by_comm_in_fake_proc),
		cmocka_unit_test(test_with_descendants),
		cmocka_unit_test(test_cgroup_walk),
		cmocka_unit_test(test_cgroup_of),
		cmocka_unit_test(test_resolve_targets),
		cmocka_unit_test(test_stat_ppid),
		cmocka_unit_test(test_stat_exited),
		cmocka_unit_test(test_alive_zombie),
		cmocka_unit_test(test_alive_zombie_leader),
		cmocka_unit_test(test_parse_pids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
