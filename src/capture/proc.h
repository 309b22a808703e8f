/* proc.h: target discovery and /proc reads that never hang on the target.
 *
 * Reading /proc/PID/{maps,cmdline,environ,mem} takes the target's mmap_lock;
 * during an mmap_lock freeze those reads block for as long as the freeze. Every
 * such read goes through proc_read_deadline(): a helper thread does the read,
 * the caller waits at most timeout_ms. A read that misses its deadline is left
 * to finish on its own (its result is dropped); at most PROC_MAX_STUCK such
 * readers exist at once, after which new slow reads fail at once with -EBUSY.
 * comm, task lists and cgroup.procs take no lock of the target's address space
 * and are read directly.
 */
#ifndef STALLTRAP_PROC_H
#define STALLTRAP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_MAX_STUCK 8
#define PROC_READ_CAP (64u << 20)   /* hard cap on one file's size */

/* Reads path whole into a NUL-terminated malloc'd buffer (*out, *len without
 * the NUL). Returns 0, -ETIMEDOUT, -EBUSY, or the read's negative errno. */
int proc_read_deadline(const char *path, int timeout_ms, char **out, size_t *len);

/* Joins a NUL-separated cmdline into a space-separated string. */
void proc_format_cmdline(const char *buf, size_t len, char *out, size_t outlen);

/* /proc/PID/comm without the newline; returns 0 or a negative errno. */
int proc_read_comm(pid_t pid, char *out, size_t outlen);
/* The same for thread tid of process pid (/proc/PID/task/TID/comm: only a
 * thread of that process has one); tid 0 is the process's. */
int proc_read_task_comm(pid_t pid, pid_t tid, char *out, size_t outlen);

/* Whether pid is a live process: false for a pid that does not exist and
 * for a zombie (or dead) one waiting for its parent's wait(); true when it
 * exists but its stat cannot be read. */
bool proc_alive(pid_t pid);

/* A pidfd for process pid (pidfd_open, Linux 5.3), or -1 with errno set. */
int proc_pidfd_open(pid_t pid);

/* Which of the n pidfds' processes have exited, with one poll() per 64:
 * gone[i] is set for each (a zombie counts as gone, as for proc_alive; a
 * process whose leader called pthread_exit while other threads run does
 * not). Returns how many are gone, or a negative errno. */
int proc_pidfds_gone(const int *fds, size_t n, bool *gone);

/* Whether a /proc/PID/stat text (len bytes, any content) says its process
 * has exited: state Z or X, with no thread left but the group leader. A
 * text that cannot be parsed says nothing: false. */
bool proc_stat_exited(const char *buf, size_t len);

/* Every process whose comm equals comm (kernel threads and zombies excluded), ascending.
 * *pids is malloc'd. Returns the count or a negative errno. */
int proc_find_by_comm(const char *proc_root, const char *comm, pid_t **pids);

/* Resolves a cgroup given as an absolute directory, or as a path relative to
 * a cgroup mount (/sys/fs/cgroup/unified, /sys/fs/cgroup/<ctrl>, /sys/fs/cgroup).
 * Returns 0 and the directory in out, or -ENOENT. */
int proc_resolve_cgroup(const char *path, char *out, size_t outlen);

/* Where the cgroup hierarchy of controller ctrl (v1: "cpu") is mounted, or
 * with ctrl NULL the cgroup2 hierarchy, from /proc/self/mountinfo: the
 * first such mount into out. 0, -ENOENT (none) or a negative errno. */
int proc_cgroup_mount(const char *ctrl, char *out, size_t outlen);
/* pid's cgroup in the hierarchy of controller ctrl (v1), or with ctrl NULL
 * in cgroup2 (the "0::" line), from /proc/PID/cgroup: its path under the
 * mount ("/" for the root) into out. 0, -ENOENT (none) or a negative errno. */
int proc_cgroup_of(pid_t pid, const char *ctrl, char *out, size_t outlen);

/* The ppid in a /proc/PID/stat text (len bytes, any content), or 0 when
 * there is none or it is not a pid. */
pid_t proc_stat_ppid(const char *buf, size_t len);

/* Appends the pids of a cgroup.procs text (len bytes: one decimal pid a line;
 * other lines are skipped) to the growable *pids (*n used, *cap allocated),
 * skipping those present. Returns 0 or -ENOMEM. */
int proc_parse_pids(const char *buf, size_t len, pid_t **pids, size_t *n, size_t *cap);

/* Distinct tgids in DIR/cgroup.procs (and its descendants' cgroup.procs). */
int proc_cgroup_pids(const char *dir, pid_t **pids);

/* Resolves one of --pid (pids, npids), --name or --cgroup into the target
 * pids, as record and watch take them. *out is malloc'd (the caller frees
 * it); cgdir receives the resolved cgroup directory for --cgroup. A pid that
 * does not exist is an error; so is a name or a cgroup without processes,
 * unless allow_empty (a watcher waits for a restarting service). Returns the
 * count, or a negative errno with a one-line reason in err. */
int proc_resolve_targets(const pid_t *pids, int npids, const char *name, const char *cgroup,
			 bool allow_empty, pid_t **out, char *cgdir, size_t cgdirlen,
			 char *err, size_t errlen);

/* pids and their descendants alive now (children, their children, ...),
 * from proc_root/PID/stat's ppid: --pid's "and their children" for those
 * forked before the capture began (those forked later are followed in BPF).
 * *out is malloc'd, sorted, without duplicates. Returns the count or a
 * negative errno. */
int proc_with_descendants(const char *proc_root, const pid_t *pids, int npids, pid_t **out);

/* The cmdline of pid, spaces between the arguments, read with a deadline
 * (it takes the target's mmap_lock). "" when it cannot be read in time. */
void proc_read_cmdline(pid_t pid, int timeout_ms, char *out, size_t outlen);

#endif /* STALLTRAP_PROC_H */
