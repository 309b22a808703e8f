/* proc.c: target discovery and deadline-bounded /proc reads. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "capture/proc.h"

/* One read in flight. Shared by the caller and the reader thread; whoever
 * leaves last frees it. */
struct read_job {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done, abandoned;
	char *path;
	char *buf;
	size_t len;
	int err;
};

static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static int stuck_readers;

static int read_all(const char *path, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	int err = 0;

	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= PROC_READ_CAP) {
				err = -EFBIG;
				goto cleanup;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

static void job_release(struct read_job *j)
{
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->done_cv);
	free(j->buf);
	free(j->path);
	free(j);
}

static void *reader_main(void *arg)
{
	struct read_job *j = arg;
	char *buf = NULL;
	size_t len = 0;
	int err = read_all(j->path, &buf, &len);
	bool abandoned;

	pthread_mutex_lock(&j->lock);
	j->buf = buf;
	j->len = len;
	j->err = err;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->done_cv);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {
		job_release(j);
		pthread_mutex_lock(&stuck_lock);
		stuck_readers--;
		pthread_mutex_unlock(&stuck_lock);
	}
	return NULL;
}

int proc_read_deadline(const char *path, int timeout_ms, char **out, size_t *len)
{
	struct read_job *j;
	pthread_attr_t attr;
	pthread_t th;
	struct timespec until;
	int err = 0;

	pthread_mutex_lock(&stuck_lock);
	err = stuck_readers >= PROC_MAX_STUCK ? -EBUSY : 0;
	pthread_mutex_unlock(&stuck_lock);
	if (err)
		return err;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->done_cv, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	err = -pthread_create(&th, &attr, reader_main, j);
	pthread_attr_destroy(&attr);
	if (err) {
		job_release(j);
		return err;
	}
	deadline_after_ms(&until, timeout_ms);
	pthread_mutex_lock(&j->lock);
	while (!j->done) {
		if (pthread_cond_timedwait(&j->done_cv, &j->lock, &until) == ETIMEDOUT && !j->done) {
			j->abandoned = true;
			pthread_mutex_unlock(&j->lock);
			pthread_mutex_lock(&stuck_lock);
			stuck_readers++;
			pthread_mutex_unlock(&stuck_lock);
			return -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&j->lock);
	err = j->err;
	if (!err) {
		*out = j->buf;
		*len = j->len;
		j->buf = NULL;
	}
	job_release(j);
	return err;
}

void proc_format_cmdline(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (!outlen)
		return;
	while (len && buf[len - 1] == '\0')
		len--;
	for (i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char ch = buf[i];

		out[o++] = ch == '\0' ? ' ' : (isprint(ch) ? (char)ch : '?');
	}
	out[o] = '\0';
}

int proc_read_comm(pid_t pid, char *out, size_t outlen)
{
	return proc_read_task_comm(pid, 0, out, outlen);
}

int proc_read_task_comm(pid_t pid, pid_t tid, char *out, size_t outlen)
{
	char path[80], *buf = NULL;
	size_t len = 0;
	int err;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	err = read_all(path, &buf, &len);
	if (err)
		return err;
	while (len && (buf[len - 1] == '\n'))
		buf[--len] = '\0';
	snprintf(out, outlen, "%s", buf);
	free(buf);
	return 0;
}

/* Where the fields after "pid (comm)" start in a stat text, past the last
 * ')' (comm may hold spaces and parentheses); NULL when there is none. */
static const char *stat_after_comm(const char *buf, size_t len)
{
	const char *rp = NULL, *p;

	for (p = buf; p < buf + len; p++)
		if (*p == ')')
			rp = p;
	if (!rp || (size_t)(buf + len - rp) < 4 || rp[1] != ' ' || rp[3] != ' ')
		return NULL;
	return rp + 2;
}

bool proc_stat_exited(const char *buf, size_t len)
{
	const char *st = stat_after_comm(buf, len), *p, *end = buf + len;
	long threads = 0;
	int field;

	if (!st || (*st != 'Z' && *st != 'X'))
		return false;
	/* A zombie group leader whose other threads still run (its main thread
	 * called pthread_exit) is a live process: num_threads, field 20, counts
	 * them. Fields from the state on: state is 3, so skip 16 separators. */
	for (p = st, field = 3; p < end && field < 20; p++)
		if (*p == ' ')
			field++;
	for (; p < end && *p >= '0' && *p <= '9' && threads < 1000000000; p++)
		threads = threads * 10 + (*p - '0');
	return field == 20 && threads <= 1;
}

bool proc_alive(pid_t pid)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	/* a signal 0 first: most asks (the watcher's, twice a second) end
	 * there without a path walk; EPERM: it exists, owned by someone else */
	if (pid <= 0 || (kill(pid, 0) && errno != EPERM))
		return false;
	/* ... but a zombie takes signals too, until its parent reaps it: it
	 * holds no memory and runs no code, so it counts as gone (a --name
	 * watcher moves on to the restarted service). The state is read from
	 * stat, which takes no lock of the target's; comm is at most 64 bytes,
	 * so 1 KiB reaches past num_threads. Unreadable: alive, as before. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ESRCH;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0 || !proc_stat_exited(buf, (size_t)n);
}

int proc_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int proc_pidfds_gone(const int *fds, size_t n, bool *gone)
{
	struct pollfd pf[64];
	size_t i, k, m;
	int ngone = 0;

	for (i = 0; i < n; i += m) {
		m = n - i < 64 ? n - i : 64;
		for (k = 0; k < m; k++)
			pf[k] = (struct pollfd){ .fd = fds[i + k], .events = POLLIN };
		if (poll(pf, m, 0) < 0)
			return -errno;
		for (k = 0; k < m; k++) {
			/* readable once the process has exited; POLLNVAL: not a pidfd */
			gone[i + k] = pf[k].revents != 0;
			ngone += gone[i + k];
		}
	}
	return ngone;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Ends the building of a pid list: freed on error, sorted otherwise.
 * Returns the count or err. */
static int pid_list_finish(pid_t **pids, size_t n, int err)
{
	if (err) {
		free(*pids);
		*pids = NULL;
		return err;
	}
	if (n)
		qsort(*pids, n, sizeof(pid_t), cmp_pid);
	return (int)n;
}

/* Appends pid to a growable array unless present; returns 0 or -ENOMEM. */
static int pid_push(pid_t **pids, size_t *n, size_t *cap, pid_t pid)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*pids)[i] == pid)
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		pid_t *np = nc > (1u << 22) ? NULL : realloc(*pids, nc * sizeof(*np));

		/* past the cap no realloc: *pids stays valid for the caller to free */
		if (!np)
			return -ENOMEM;
		*pids = np;
		*cap = nc;
	}
	(*pids)[(*n)++] = pid;
	return 0;
}

int proc_find_by_comm(const char *proc_root, const char *comm, pid_t **pids)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	size_t n = 0, cap = 0;
	int err = 0;

	*pids = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[512], *buf = NULL, *end;
		size_t len;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%ld/comm", proc_root, pid);
		if (read_all(path, &buf, &len))
			continue;
		while (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (strcmp(buf, comm) == 0) {
			/* kernel threads are never targets: their exe link exists
			 * but cannot be read (ENOENT), a process's can (EACCES: not
			 * ours to read, still a process) */
			char target[8];
			char *stat = NULL;
			size_t slen;
			bool exited;

			/* a zombie of the name (not reaped yet) is not the service */
			snprintf(path, sizeof(path), "%s/%ld/stat", proc_root, pid);
			exited = read_all(path, &stat, &slen) == 0 && proc_stat_exited(stat, slen);
			free(stat);
			snprintf(path, sizeof(path), "%s/%ld/exe", proc_root, pid);
			if (!exited && (readlink(path, target, sizeof(target)) >= 0 || errno == EACCES))
				err = pid_push(pids, &n, &cap, (pid_t)pid);
		}
		free(buf);
		if (err)
			break;
	}
	closedir(d);
	return pid_list_finish(pids, n, err);
}

pid_t proc_stat_ppid(const char *buf, size_t len)
{
	/* "pid (comm) state ppid ..." */
	const char *st = stat_after_comm(buf, len), *p;
	char num[24];
	size_t n = 0;
	long ppid;

	if (!st)
		return 0;
	for (p = st + 2; p < buf + len && n + 1 < sizeof(num) && *p >= '0' && *p <= '9'; p++)
		num[n++] = *p;
	num[n] = '\0';
	ppid = n && n < 11 ? strtol(num, NULL, 10) : 0;
	return ppid > 0 && ppid <= INT_MAX ? (pid_t)ppid : 0;
}

struct pidpair {
	pid_t pid, ppid;
};

/* Every process's (pid, ppid), from proc_root/PID/stat. */
static int all_parents(const char *proc_root, struct pidpair **out, size_t *n)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[512], *buf = NULL, *end;
		size_t len;
		long pid = strtol(de->d_name, &end, 10);
		pid_t ppid;

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%ld/stat", proc_root, pid);
		if (read_all(path, &buf, &len))
			continue;
		ppid = proc_stat_ppid(buf, len);
		free(buf);
		if (ppid <= 0)
			continue;
		if (*n == cap) {
			struct pidpair *np = realloc(*out, (cap ? cap * 2 : 256) * sizeof(*np));

			if (!np) {
				closedir(d);
				return -ENOMEM;
			}
			*out = np;
			cap = cap ? cap * 2 : 256;
		}
		(*out)[(*n)++] = (struct pidpair){ (pid_t)pid, (pid_t)ppid };
	}
	closedir(d);
	return 0;
}

int proc_with_descendants(const char *proc_root, const pid_t *pids, int npids, pid_t **out)
{
	struct pidpair *pp = NULL;
	size_t npp = 0, n = 0, cap = 0, i, k;
	int err = all_parents(proc_root, &pp, &npp);

	*out = NULL;
	for (i = 0; !err && i < (size_t)npids; i++)
		err = pid_push(out, &n, &cap, pids[i]);
	/* breadth first: each pid added is looked up as a parent in turn */
	for (k = 0; !err && k < n; k++) {
		for (i = 0; !err && i < npp; i++) {
			if (pp[i].ppid == (*out)[k])
				err = pid_push(out, &n, &cap, pp[i].pid);
		}
	}
	free(pp);
	return pid_list_finish(out, n, err);
}

/* Whether tok is one of the comma-separated list's items. */
static bool list_has(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	while (list && *list) {
		if (!strncmp(list, tok, n) && (list[n] == ',' || list[n] == '\0' || list[n] == '\n'))
			return true;
		list = strchr(list, ',');
		list = list ? list + 1 : NULL;
	}
	return false;
}

int proc_cgroup_mount(const char *ctrl, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (err && getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[64], opts[512];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %511s", fstype, opts) != 2)
			continue;
		if (ctrl ? !strcmp(fstype, "cgroup") && list_has(opts, ctrl) : !strcmp(fstype, "cgroup2")) {
			snprintf(out, outlen, "%s", mnt);
			err = 0;
		}
	}
	free(line);
	fclose(f);
	return err;
}

int proc_cgroup_of(pid_t pid, const char *ctrl, char *out, size_t outlen)
{
	char fn[64], *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(fn, "re")))
		return -errno;
	while (err && getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if (ctrl ? list_has(c1 + 1, ctrl) : !c1[1]) {
			c2[1 + strcspn(c2 + 1, "\n")] = '\0';
			snprintf(out, outlen, "%s", c2 + 1);
			err = 0;
		}
	}
	free(line);
	fclose(f);
	return err;
}

int proc_resolve_cgroup(const char *path, char *out, size_t outlen)
{
	static const char *const mounts[] = {
		"/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/memory",
		"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/pids",
		"/sys/fs/cgroup/systemd",
	};
	char probe[4096];
	size_t i;

	snprintf(probe, sizeof(probe), "%s/cgroup.procs", path);
	if (path[0] == '/' && access(probe, R_OK) == 0) {
		snprintf(out, outlen, "%s", path);
		return 0;
	}
	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		snprintf(probe, sizeof(probe), "%s/%s/cgroup.procs", mounts[i],
			 path[0] == '/' ? path + 1 : path);
		if (access(probe, R_OK) == 0) {
			snprintf(out, outlen, "%s/%s", mounts[i], path[0] == '/' ? path + 1 : path);
			return 0;
		}
	}
	return -ENOENT;
}

int proc_parse_pids(const char *buf, size_t len, pid_t **pids, size_t *n, size_t *cap)
{
	const char *p = buf, *end = buf + len;
	int err = 0;

	while (!err && p < end) {
		long pid = 0;
		int digits = 0;

		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (++digits <= 10)
				pid = pid * 10 + (*p - '0');
		if (digits && digits <= 10 && pid > 0 && pid <= INT_MAX && (p == end || *p == '\n'))
			err = pid_push(pids, n, cap, (pid_t)pid);
		while (p < end && *p++ != '\n')
			;
	}
	return err;
}

static int cgroup_walk(const char *dir, pid_t **pids, size_t *n, size_t *cap, int depth)
{
	char path[4096], *buf = NULL;
	size_t len;
	DIR *d;
	struct dirent *de;
	int err;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	err = read_all(path, &buf, &len);
	if (err)
		return err;
	err = proc_parse_pids(buf, len, pids, n, cap);
	free(buf);
	if (err || depth > 16)
		return err;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((err = cgroup_walk(path, pids, n, cap, depth + 1)) && err != -ENOENT)
			break;
		err = 0;
	}
	closedir(d);
	return err;
}

int proc_cgroup_pids(const char *dir, pid_t **pids)
{
	size_t n = 0, cap = 0;
	int err;

	*pids = NULL;
	err = cgroup_walk(dir, pids, &n, &cap, 0);
	return pid_list_finish(pids, n, err);
}

int proc_resolve_targets(const pid_t *pids, int npids, const char *name, const char *cgroup,
			 bool allow_empty, pid_t **out, char *cgdir, size_t cgdirlen,
			 char *err, size_t errlen)
{
	int n, i;

	*out = NULL;
	if (name) {
		n = proc_find_by_comm("/proc", name, out);
		if (n < 0 || (n == 0 && !allow_empty)) {
			snprintf(err, errlen, "no process named '%s'", name);
			return n < 0 ? n : -ESRCH;
		}
		return n;
	}
	if (cgroup) {
		if (proc_resolve_cgroup(cgroup, cgdir, cgdirlen)) {
			snprintf(err, errlen, "no such cgroup: %s", cgroup);
			return -ENOENT;
		}
		n = proc_cgroup_pids(cgdir, out);
		if (n < 0 || (n == 0 && !allow_empty)) {
			snprintf(err, errlen, "cgroup %s has no processes", cgdir);
			return n < 0 ? n : -ESRCH;
		}
		return n;
	}
	for (i = 0; i < npids; i++) {
		if (!proc_alive(pids[i])) {
			snprintf(err, errlen, "no such process: %d", (int)pids[i]);
			return -ESRCH;
		}
	}
	*out = malloc((npids ? npids : 1) * sizeof(pid_t));
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(*out, pids, npids * sizeof(pid_t));
	return npids;
}

void proc_read_cmdline(pid_t pid, int timeout_ms, char *out, size_t outlen)
{
	char path[64], *buf = NULL;
	size_t len;

	if (outlen)
		out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (proc_read_deadline(path, timeout_ms, &buf, &len) == 0)
		proc_format_cmdline(buf, len, out, outlen);
	free(buf);
}
