/* mmap_hold.c: holds its own mmap_lock for seconds, to prove a profiler never hangs on its target.
 *
 * What holds mmap_lock for seconds on Linux 6.18 (measured on these VMs, see
 * bench/README.md): MAP_POPULATE, mlock and MADV_POPULATE_WRITE fault pages in
 * under the *read* lock (MAP_POPULATE drops the write lock first), but only
 * for ~0.3 ms per MiB once guest memory has been touched (512 MiB: 0.15-0.25 s),
 * and mprotect/munmap of 512 MiB take under 40 ms. What does hold it for as long
 * as one likes: __access_remote_vm() (reads of /proc/PID/mem, /proc/PID/cmdline,
 * ptrace) takes mmap_read_lock and faults pages in *without* FAULT_FLAG_ALLOW_RETRY,
 * so a fault on a file page that needs disk I/O sleeps with the lock held.
 * Throttling that I/O with the blkio controller makes the hold as long as wanted.
 *
 * Modes:
 *   --mode io (default): a thread (holder_read_mem) moves itself into a blkio
 *     cgroup whose read bandwidth is 4096 B / --hold-seconds, and pread()s
 *     /proc/self/mem at an uncached page of a MADV_RANDOM file mapping: one
 *     4 KiB read, throttled, under mmap_read_lock. Needs root, cgroup v1 blkio
 *     at /sys/fs/cgroup/blkio and --dir on a block device (default /var/tmp).
 *   --mode populate: holder_populate mmap()s --size-mb MiB with MAP_POPULATE
 *     (read lock held while it faults the pages in).
 * While the lock is held, probe_mmap() times its own mmap() of one page,
 * which needs the write lock and so waits for the hold to end. A forked child
 * (the "outside" reader, as a profiler would be) times reads of the parent's
 * /proc/PID/{maps,smaps,cmdline,environ,stat} and a process_vm_readv(), three
 * times: before the hold, during the hold, and during the hold with the
 * probe's write lock queued (readers then queue behind the writer). Measured
 * on 6.18 with the writer queued: smaps, cmdline, environ and process_vm_readv
 * wait for the whole hold; maps (read under per-VMA locks) and stat do not.
 * A ticker thread blocks every 10 ms in tick_sleep() all along, so a recorder
 * attached to this process has blocks to capture during the hold.
 *
 * Usage: mmap_hold [--mode io|populate] [--hold-seconds S] [--size-mb N] [--dir DIR]
 *                  [--no-outside] [--ready FILE] [--start-after FILE]
 * Prints JSON lines: {"event":"ready"|"hold_start"|"writer_waiting"|"hold_end",...}
 * and a last summary line {"event":"summary","mode":..,"hold_s":..,"probe_mmap_blocked_s":..,
 * "outside":{"idle":{..},"read_held":{..},"writer_waiting":{..}}} (seconds).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "wl_common.h"

#define BLKIO_ROOT "/sys/fs/cgroup/blkio"
#define IO_FILE_BYTES (64 * 1024)

enum mode { MODE_IO, MODE_POPULATE };

static struct {
	enum mode mode;
	double hold_s;
	long size_mb;
	const char *file_dir;
	bool outside;
	char cgroup[128];           /* io: the blkio cgroup the holder joins */
	char *filemap;              /* io: the MADV_RANDOM file mapping */
	int memfd;                  /* io: /proc/self/mem */
} cfg = { .mode = MODE_IO, .hold_s = 3.0, .size_mb = 512, .file_dir = "/var/tmp",
	  .outside = true, .memfd = -1 };

static sem_t hold_go, probe_go;
static atomic_bool g_stop;
static atomic_int holder_tid, probe_tid;
static atomic_bool holder_inside;   /* the holder is about to take the lock */
static double hold_measured_s, probe_blocked_s;
static int hold_errno;
static volatile uint64_t vm_target = 0x5741594c4f434b21ull;  /* process_vm_readv reads this */

/* ---- small file helpers that never allocate (malloc may need the mmap_lock) ---- */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

/* State letter of a thread of this process ('R', 'S', 'D', ...), or 0. */
static char task_state(int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Minor faults of a thread so far (field 10 of stat). */
static unsigned long task_minflt(int tid)
{
	char path[64], buf[512], *p;
	unsigned long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu", &v) != 1)
		v = 0;
	return v;
}

/* Another thread sleeping on the lock is not something one can wait on, so
 * this polls its state every ms, for at most timeout_s. */
static bool wait_task_state(int tid, char want, double timeout_s)
{
	uint64_t deadline = wl_now_ns() + (uint64_t)(timeout_s * 1e9);

	while (wl_now_ns() < deadline) {
		if (task_state(tid) == want)
			return true;
		wl_sleep_until(wl_now_ns() + 1000000);
	}
	return false;
}

/* ---- the outside reader: a child process timing what a profiler would read ---- */

/* What a profiler may read from its target, in the order reported. All but
 * the last are /proc/PID/ files; the last is a process_vm_readv() of 8 bytes. */
static const char *const outside_ops[] = {
	"maps", "smaps", "cmdline", "environ", "stat", "process_vm_readv",
};
#define N_OUTSIDE (int)(sizeof(outside_ops) / sizeof(outside_ops[0]))

struct outside_times {
	double secs[N_OUTSIDE];
	int err[N_OUTSIDE];
};

struct outside_job {
	pid_t target;
	int op;
	struct outside_times *t;
};

static void *outside_one(void *arg)
{
	struct outside_job *j = arg;
	uint64_t t0 = wl_now_ns();
	int err = 0;

	if (j->op < N_OUTSIDE - 1) {
		char path[64], buf[8192];
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)j->target, outside_ops[j->op]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = errno;
		} else {
			ssize_t n;

			while ((n = read(fd, buf, sizeof(buf))) > 0)
				;
			if (n < 0)
				err = errno;
			close(fd);
		}
	} else {
		uint64_t v = 0;
		struct iovec local = { &v, sizeof(v) };
		struct iovec remote = { (void *)&vm_target, sizeof(v) };

		if (process_vm_readv(j->target, &local, 1, &remote, 1, 0) != sizeof(v))
			err = errno ? errno : EIO;
	}
	j->t->secs[j->op] = (wl_now_ns() - t0) / 1e9;
	j->t->err[j->op] = err;
	return NULL;
}

/* Child: for each command byte 'r', times the four reads concurrently and
 * writes the results back; 'q' or EOF ends it. */
static void outside_main(pid_t target, int cmd_fd, int res_fd)
{
	char c;

	while (read(cmd_fd, &c, 1) == 1 && c == 'r') {
		struct outside_times t;
		struct outside_job jobs[N_OUTSIDE];
		pthread_t th[N_OUTSIDE];

		memset(&t, 0, sizeof(t));

		/* Concurrently: one read that blocks must not delay the others' start. */
		for (int i = 0; i < N_OUTSIDE; i++) {
			jobs[i] = (struct outside_job){ target, i, &t };
			if (pthread_create(&th[i], NULL, outside_one, &jobs[i]))
				_exit(3);
		}
		for (int i = 0; i < N_OUTSIDE; i++)
			pthread_join(th[i], NULL);
		if (write(res_fd, &t, sizeof(t)) != sizeof(t))
			_exit(3);
	}
	_exit(0);
}

static int out_cmd = -1, out_res = -1;
static pid_t out_pid;

static void outside_start(void)
{
	int cmd[2], res[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		wl_die("pipe2:");
	out_pid = fork();
	if (out_pid < 0)
		wl_die("fork:");
	if (out_pid == 0) {
		close(cmd[1]);
		close(res[0]);
		outside_main(getppid(), cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	out_cmd = cmd[1];
	out_res = res[0];
}

static void outside_request(void)
{
	if (out_cmd >= 0 && write(out_cmd, "r", 1) != 1)
		wl_die("outside reader: write:");
}

static bool outside_collect(struct outside_times *t)
{
	if (out_res < 0)
		return false;
	if (read(out_res, t, sizeof(*t)) != sizeof(*t))
		wl_die("outside reader died");
	return true;
}

static void print_outside(const char *name, const struct outside_times *t, bool comma)
{
	printf("%s\"%s\":{", comma ? "," : "", name);
	for (int i = 0; i < N_OUTSIDE; i++)
		printf("%s\"%s_s\":%.3f", i ? "," : "", outside_ops[i], t->secs[i]);
	for (int i = 0; i < N_OUTSIDE; i++)
		if (t->err[i])
			printf(",\"%s_error\":\"%s\"", outside_ops[i], strerror(t->err[i]));
	printf("}");
}

/* ---- io mode setup ---- */

/* Whole-disk "MAJ:MIN" for the device under path's file system. */
static void disk_of(dev_t dev, char *out, size_t len)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	if (major(dev) == 0)
		wl_die("mmap_hold: %s is not on a block device (use --dir DIR on one, or --mode populate)",
		       cfg.file_dir);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(dev), minor(dev));
	if (access(path, F_OK) == 0)
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(dev), minor(dev));
	else
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dev", major(dev), minor(dev));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		wl_die("mmap_hold: cannot read %s:", path);
	close(fd);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	snprintf(out, len, "%s", buf);
}

/* Removes the cgroups of earlier runs that were killed during their hold. */
static void remove_stale_cgroups(void)
{
	static const char prefix[] = "stalltrap_mmap_hold_";
	DIR *d = opendir(BLKIO_ROOT);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		long pid;

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1))
			continue;
		pid = strtol(e->d_name + sizeof(prefix) - 1, NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
			snprintf(path, sizeof(path), BLKIO_ROOT "/%s", e->d_name);
			rmdir(path);
		}
	}
	closedir(d);
}

static void io_setup(void)
{
	char path[PATH_MAX], disk[32], rule[64];
	static char block[IO_FILE_BYTES];
	unsigned char vec[IO_FILE_BYTES / 4096];
	struct stat st;
	long bps;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/mmap_hold.XXXXXX", cfg.file_dir);
	fd = mkstemp(path);
	if (fd < 0)
		wl_die("mmap_hold: mkstemp %s:", path);
	unlink(path);
	memset(block, 0x5a, sizeof(block));
	if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block) || fdatasync(fd))
		wl_die("mmap_hold: writing %s:", path);
	if (fstat(fd, &st))
		wl_die("fstat:");
	disk_of(st.st_dev, disk, sizeof(disk));
	/* Clean pages leave the page cache: the next access must read the disk. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	cfg.filemap = mmap(NULL, IO_FILE_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
	if (cfg.filemap == MAP_FAILED)
		wl_die("mmap:");
	close(fd);
	/* No read-around: the fault reads exactly one 4 KiB page. */
	madvise(cfg.filemap, IO_FILE_BYTES, MADV_RANDOM);
	if (mincore(cfg.filemap, IO_FILE_BYTES, vec))
		wl_die("mincore:");
	if (vec[1] & 1)
		wl_die("mmap_hold: the file page stayed in the page cache; cannot make a slow fault");

	remove_stale_cgroups();
	cfg.memfd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (cfg.memfd < 0)
		wl_die("open /proc/self/mem:");
	bps = (long)(4096.0 / cfg.hold_s);
	if (bps < 1)
		bps = 1;
	snprintf(cfg.cgroup, sizeof(cfg.cgroup), BLKIO_ROOT "/stalltrap_mmap_hold_%d", (int)getpid());
	if (mkdir(cfg.cgroup, 0755) && errno != EEXIST)
		wl_die("mmap_hold: mkdir %s (io mode needs root and cgroup v1 blkio):", cfg.cgroup);
	snprintf(path, sizeof(path), "%s/blkio.throttle.read_bps_device", cfg.cgroup);
	snprintf(rule, sizeof(rule), "%s %ld", disk, bps);
	if ((rc = write_str(path, rule)))
		wl_die("mmap_hold: cannot write '%s' to %s: %s", rule, path, strerror(-rc));
}

static void io_cleanup(void)
{
	if (cfg.cgroup[0] && rmdir(cfg.cgroup))
		fprintf(stderr, "mmap_hold: cannot remove %s: %s\n", cfg.cgroup, strerror(errno));
}

/* ---- the threads ---- */

/* Reads one byte of the uncached file page through /proc/self/mem: the kernel
 * takes mmap_read_lock, faults the page in without allowing a retry, and sleeps
 * on the throttled read with the lock held. */
WL_FRAME static void holder_read_mem(void)
{
	uint64_t t0;
	ssize_t n;
	char c;

	atomic_store(&holder_inside, true);
	t0 = wl_now_ns();
	n = pread(cfg.memfd, &c, 1, (off_t)(uintptr_t)(cfg.filemap + 4096));
	hold_measured_s = (wl_now_ns() - t0) / 1e9;
	if (n != 1)
		hold_errno = n < 0 ? errno : EIO;
	WL_NO_TAILCALL();
}

WL_FRAME static void holder_populate(void)
{
	size_t len = (size_t)cfg.size_mb << 20;
	uint64_t t0;
	void *p;

	atomic_store(&holder_inside, true);
	t0 = wl_now_ns();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	hold_measured_s = (wl_now_ns() - t0) / 1e9;
	if (p == MAP_FAILED)
		hold_errno = errno;
	else
		munmap(p, len);
	WL_NO_TAILCALL();
}

WL_FRAME static void *holder_thread(void *arg)
{
	char tasks[PATH_MAX], tid[32];
	int rc;

	(void)arg;
	snprintf(tid, sizeof(tid), "%d", (int)syscall(SYS_gettid));
	/* Joining a cgroup sleeps in D state for tens of ms: done here, before
	 * main starts watching for the D state of the hold. */
	if (cfg.mode == MODE_IO) {
		snprintf(tasks, sizeof(tasks), "%s/tasks", cfg.cgroup);
		if ((rc = write_str(tasks, tid)))
			wl_die("mmap_hold: cannot join %s: %s", cfg.cgroup, strerror(-rc));
	}
	atomic_store(&holder_tid, atoi(tid));
	while (sem_wait(&hold_go) && errno == EINTR)
		;
	if (cfg.mode == MODE_IO) {
		holder_read_mem();
		write_str(BLKIO_ROOT "/tasks", tid);
	} else {
		holder_populate();
	}
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void probe_mmap(void)
{
	uint64_t t0 = wl_now_ns();
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	probe_blocked_s = (wl_now_ns() - t0) / 1e9;
	if (p != MAP_FAILED)
		munmap(p, 4096);
	WL_NO_TAILCALL();
}

WL_FRAME static void *probe_thread(void *arg)
{
	(void)arg;
	atomic_store(&probe_tid, (int)syscall(SYS_gettid));
	while (sem_wait(&probe_go) && errno == EINTR)
		;
	probe_mmap();
	WL_NO_TAILCALL();
	return NULL;
}

WL_FRAME static void tick_sleep(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	WL_NO_TAILCALL();
}

WL_FRAME static void *ticker_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop))
		tick_sleep();
	WL_NO_TAILCALL();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: mmap_hold [--mode io|populate] [--hold-seconds S] [--size-mb N] "
			    "[--dir DIR] [--no-outside] [--ready FILE] [--start-after FILE]";
	const char *ready = NULL, *start_after = NULL;
	struct outside_times o_idle, o_held, o_wait;
	pthread_t holder, probe, ticker;
	bool have_outside, writer_queued;
	unsigned long flt0;
	uint64_t t_hold;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s\n", usage);
			return 0;
		}
		if (!strcmp(a, "--no-outside")) {
			cfg.outside = false;
			continue;
		}
		if (!v)
			wl_die("%s", usage);
		if (!strcmp(a, "--mode")) {
			if (!strcmp(v, "io"))
				cfg.mode = MODE_IO;
			else if (!strcmp(v, "populate"))
				cfg.mode = MODE_POPULATE;
			else
				wl_die("%s", usage);
		} else if (!strcmp(a, "--hold-seconds")) {
			cfg.hold_s = wl_parse_seconds(v);
			if (cfg.hold_s < 0.01 || cfg.hold_s > 600)
				wl_die("--hold-seconds: 0.01 to 600");
		} else if (!strcmp(a, "--size-mb")) {
			cfg.size_mb = wl_parse_long(v, 1, 1 << 20);
		} else if (!strcmp(a, "--dir")) {
			cfg.file_dir = v;
		} else if (!strcmp(a, "--ready")) {
			ready = v;
		} else if (!strcmp(a, "--start-after")) {
			start_after = v;
		} else {
			wl_die("%s", usage);
		}
		i++;
	}
	/* stdout gets its buffer now: during the hold, a malloc that needs
	 * mmap() or brk() would queue on the lock like the probe does. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&o_idle, 0, sizeof(o_idle));
	o_held = o_wait = o_idle;

	if (cfg.mode == MODE_IO)
		io_setup();
	/* Before any thread exists: the child starts single-threaded. */
	if (cfg.outside)
		outside_start();
	sem_init(&hold_go, 0, 0);
	sem_init(&probe_go, 0, 0);
	if (pthread_create(&holder, NULL, holder_thread, NULL) ||
	    pthread_create(&probe, NULL, probe_thread, NULL) ||
	    pthread_create(&ticker, NULL, ticker_thread, NULL))
		wl_die("pthread_create failed");
	while (!atomic_load(&holder_tid) || !atomic_load(&probe_tid))
		sched_yield();

	printf("{\"event\":\"ready\",\"pid\":%d,\"mode\":\"%s\",\"holder_tid\":%d,\"probe_tid\":%d}\n",
	       (int)getpid(), cfg.mode == MODE_IO ? "io" : "populate", atomic_load(&holder_tid),
	       atomic_load(&probe_tid));
	if (ready)
		wl_touch(ready);
	if (start_after && wl_wait_for_file(start_after, 600.0))
		wl_die("mmap_hold: %s did not appear within 600 s", start_after);

	outside_request();
	have_outside = outside_collect(&o_idle);

	flt0 = task_minflt(atomic_load(&holder_tid));
	t_hold = wl_now_ns();
	printf("{\"event\":\"hold_start\",\"t_s\":0}\n");
	sem_post(&hold_go);
	/* Wait until the holder really holds the lock: asleep on the throttled
	 * read (io), or faulting pages in (populate). */
	while (!atomic_load(&holder_inside))
		sched_yield();
	if (cfg.mode == MODE_IO) {
		wait_task_state(atomic_load(&holder_tid), 'D', 5.0);
	} else {
		uint64_t deadline = wl_now_ns() + 2000000000ull;

		while (task_minflt(atomic_load(&holder_tid)) < flt0 + 1000 && wl_now_ns() < deadline)
			sched_yield();
	}

	outside_request();
	outside_collect(&o_held);

	sem_post(&probe_go);
	writer_queued = wait_task_state(atomic_load(&probe_tid), 'D', 5.0);
	printf("{\"event\":\"writer_waiting\",\"t_s\":%.3f,\"queued\":%s}\n",
	       (wl_now_ns() - t_hold) / 1e9, writer_queued ? "true" : "false");
	outside_request();

	pthread_join(holder, NULL);
	printf("{\"event\":\"hold_end\",\"t_s\":%.3f}\n", (wl_now_ns() - t_hold) / 1e9);
	pthread_join(probe, NULL);
	outside_collect(&o_wait);
	atomic_store(&g_stop, true);
	pthread_join(ticker, NULL);
	if (cfg.mode == MODE_IO)
		io_cleanup();
	if (out_cmd >= 0) {
		close(out_cmd);
		waitpid(out_pid, NULL, 0);
	}

	printf("{\"event\":\"summary\",\"pid\":%d,\"mode\":\"%s\",", (int)getpid(),
	       cfg.mode == MODE_IO ? "io" : "populate");
	if (cfg.mode == MODE_IO)
		printf("\"requested_hold_s\":%.3f,", cfg.hold_s);
	else
		printf("\"size_mb\":%ld,", cfg.size_mb);
	printf("\"hold_s\":%.3f,\"probe_mmap_blocked_s\":%.3f,\"writer_queued\":%s",
	       hold_measured_s, probe_blocked_s, writer_queued ? "true" : "false");
	if (hold_errno)
		printf(",\"hold_error\":\"%s\"", strerror(hold_errno));
	if (have_outside) {
		printf(",\"outside\":{");
		print_outside("idle", &o_idle, false);
		print_outside("read_held", &o_held, true);
		print_outside("writer_waiting", &o_wait, true);
		printf("}");
	}
	printf("}\n");
	return hold_errno ? 1 : 0;
}
