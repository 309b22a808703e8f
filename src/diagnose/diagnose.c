/* diagnose.c: the diagnose stage: classifies every block by its kernel evidence, picks the dominant abnormal cause and its culprit. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"

/* ---------------------------------------------------------------------------
 * Causes of one block. The first six share their index with enum diag_kind,
 * so a qualifying cause is directly a verdict kind.
 */
enum dclass {
	DC_MMAP_LOCK = DIAG_MMAP_LOCK,
	DC_KERNEL_LOCK = DIAG_KERNEL_LOCK,
	DC_FUTEX = DIAG_FUTEX,
	DC_RECLAIM = DIAG_MEMORY_RECLAIM,
	DC_IO = DIAG_IO,
	DC_RUNQUEUE = DIAG_RUNQUEUE,
	DC_IDLE,        /* idle by nature: waiting for work, a timer, a peer */
	DC_BUSY,        /* preempted during its own busy run: part of a cpu_busy */
	DC_OTHER,       /* uninterruptible for a reason not recognised */
	DC__COUNT
};

/* Names in "waits"; the abnormal ones are the verdict kinds' names. */
static const char *const class_names[DC__COUNT] = {
	[DC_MMAP_LOCK] = "mmap_lock", [DC_KERNEL_LOCK] = "kernel_lock", [DC_FUTEX] = "futex",
	[DC_RECLAIM] = "memory_reclaim", [DC_IO] = "io", [DC_RUNQUEUE] = "runqueue",
	[DC_IDLE] = "idle", [DC_BUSY] = "busy", [DC_OTHER] = "other",
};

static const char *const kind_names[DIAG__COUNT] = {
	[DIAG_MMAP_LOCK] = "mmap_lock", [DIAG_KERNEL_LOCK] = "kernel_lock",
	[DIAG_FUTEX] = "futex", [DIAG_MEMORY_RECLAIM] = "memory_reclaim", [DIAG_IO] = "io",
	[DIAG_RUNQUEUE] = "runqueue", [DIAG_CPU_BUSY] = "cpu_busy", [DIAG_NONE] = "none",
};

const char *diagnose_kind_name(unsigned int kind)
{
	return kind < DIAG__COUNT ? kind_names[kind] : "unknown";
}

/* Evidence sections are capped so report.json stays readable; what is left
 * out is counted in "diagnosis" ("omitted"), never dropped silently. */
#define MAX_LOCKS 16
#define MAX_LOCK_HOLDERS 4
#define MAX_HOLDERS 32
#define MAX_CPU_THREADS 8
#define MAX_IO_THREADS 8
#define MAX_MEM_POINTS 120
#define SUMMARY_FRAMES 2        /* caller frames named in a summary */
#define SUMMARY_NAME_MAX 60     /* bytes of one name in a summary */
#define RSS_NOTE_MIN (16ull << 20) /* RSS changes smaller than this are not worth a word */

/* ---------------------------------------------------------------------------
 * x86_64 syscalls the rules and the summaries need.
 */
enum {
	NR_read = 0, NR_write = 1, NR_close = 3, NR_poll = 7, NR_mmap = 9, NR_mprotect = 10,
	NR_munmap = 11, NR_brk = 12, NR_pread64 = 17, NR_pwrite64 = 18, NR_readv = 19,
	NR_writev = 20, NR_select = 23, NR_mremap = 25, NR_msync = 26, NR_madvise = 28,
	NR_pause = 34, NR_nanosleep = 35, NR_sendfile = 40, NR_accept = 43, NR_recvfrom = 45,
	NR_recvmsg = 47, NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_execve = 59,
	NR_exit = 60, NR_wait4 = 61, NR_semop = 65, NR_msgrcv = 70, NR_fsync = 74,
	NR_fdatasync = 75, NR_truncate = 76, NR_ftruncate = 77, NR_rename = 82, NR_mkdir = 83,
	NR_rmdir = 84, NR_creat = 85, NR_unlink = 87, NR_rt_sigtimedwait = 128,
	NR_rt_sigsuspend = 130, NR_mlock = 149, NR_munlock = 150, NR_mlockall = 151,
	NR_sync = 162, NR_futex = 202, NR_io_getevents = 208, NR_io_submit = 209,
	NR_semtimedop = 220, NR_clock_nanosleep = 230, NR_exit_group = 231,
	NR_epoll_wait = 232, NR_mq_timedreceive = 243, NR_waitid = 247, NR_openat = 257,
	NR_unlinkat = 263, NR_renameat = 264, NR_pselect6 = 270, NR_ppoll = 271,
	NR_splice = 275, NR_sync_file_range = 277, NR_epoll_pwait = 281, NR_fallocate = 285,
	NR_accept4 = 288, NR_preadv = 295, NR_pwritev = 296, NR_recvmmsg = 299,
	NR_syncfs = 306, NR_process_vm_readv = 310, NR_process_vm_writev = 311,
	NR_renameat2 = 316, NR_mlock2 = 325, NR_copy_file_range = 326, NR_preadv2 = 327,
	NR_pwritev2 = 328, NR_io_pgetevents = 333, NR_clone3 = 435, NR_io_uring_enter = 426,
	NR_epoll_pwait2 = 441, NR_futex_waitv = 449,
};

static const char *syscall_name(int32_t nr)
{
	static const struct {
		int32_t nr;
		const char *name;
	} names[] = {
		{ NR_read, "read" }, { NR_write, "write" }, { NR_close, "close" },
		{ NR_poll, "poll" }, { NR_mmap, "mmap" }, { NR_mprotect, "mprotect" },
		{ NR_munmap, "munmap" }, { NR_brk, "brk" }, { NR_pread64, "pread64" },
		{ NR_pwrite64, "pwrite64" }, { NR_readv, "readv" }, { NR_writev, "writev" },
		{ NR_select, "select" }, { NR_mremap, "mremap" }, { NR_msync, "msync" },
		{ NR_madvise, "madvise" }, { NR_pause, "pause" }, { NR_nanosleep, "nanosleep" },
		{ NR_sendfile, "sendfile" }, { NR_accept, "accept" }, { NR_recvfrom, "recvfrom" },
		{ NR_recvmsg, "recvmsg" }, { NR_clone, "clone" }, { NR_fork, "fork" },
		{ NR_vfork, "vfork" }, { NR_execve, "execve" }, { NR_exit, "exit" },
		{ NR_wait4, "wait4" }, { NR_semop, "semop" }, { NR_msgrcv, "msgrcv" },
		{ NR_fsync, "fsync" }, { NR_fdatasync, "fdatasync" }, { NR_truncate, "truncate" },
		{ NR_ftruncate, "ftruncate" }, { NR_rename, "rename" }, { NR_mkdir, "mkdir" },
		{ NR_rmdir, "rmdir" }, { NR_creat, "creat" }, { NR_unlink, "unlink" },
		{ NR_rt_sigtimedwait, "rt_sigtimedwait" }, { NR_rt_sigsuspend, "rt_sigsuspend" },
		{ NR_mlock, "mlock" }, { NR_munlock, "munlock" }, { NR_mlockall, "mlockall" },
		{ NR_sync, "sync" }, { NR_futex, "futex" }, { NR_io_getevents, "io_getevents" },
		{ NR_io_submit, "io_submit" }, { NR_semtimedop, "semtimedop" },
		{ NR_clock_nanosleep, "clock_nanosleep" }, { NR_exit_group, "exit_group" },
		{ NR_epoll_wait, "epoll_wait" }, { NR_mq_timedreceive, "mq_timedreceive" },
		{ NR_waitid, "waitid" }, { NR_openat, "openat" }, { NR_unlinkat, "unlinkat" },
		{ NR_renameat, "renameat" }, { NR_pselect6, "pselect6" }, { NR_ppoll, "ppoll" },
		{ NR_splice, "splice" }, { NR_sync_file_range, "sync_file_range" },
		{ NR_epoll_pwait, "epoll_pwait" }, { NR_fallocate, "fallocate" },
		{ NR_accept4, "accept4" }, { NR_preadv, "preadv" }, { NR_pwritev, "pwritev" },
		{ NR_recvmmsg, "recvmmsg" }, { NR_syncfs, "syncfs" },
		{ NR_process_vm_readv, "process_vm_readv" },
		{ NR_process_vm_writev, "process_vm_writev" }, { NR_renameat2, "renameat2" },
		{ NR_mlock2, "mlock2" }, { NR_copy_file_range, "copy_file_range" },
		{ NR_preadv2, "preadv2" }, { NR_pwritev2, "pwritev2" },
		{ NR_io_pgetevents, "io_pgetevents" }, { NR_clone3, "clone3" },
		{ NR_io_uring_enter, "io_uring_enter" }, { NR_epoll_pwait2, "epoll_pwait2" },
		{ NR_futex_waitv, "futex_waitv" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].nr == nr)
			return names[i].name;
	}
	return NULL;
}

/* Waiting for work, a peer, a timer or a child: idle by nature when asleep. */
static bool syscall_idle(int32_t nr)
{
	switch (nr) {
	case NR_epoll_wait: case NR_epoll_pwait: case NR_epoll_pwait2: case NR_poll:
	case NR_ppoll: case NR_select: case NR_pselect6: case NR_nanosleep:
	case NR_clock_nanosleep: case NR_pause: case NR_rt_sigsuspend: case NR_rt_sigtimedwait:
	case NR_wait4: case NR_waitid: case NR_accept: case NR_accept4: case NR_recvfrom:
	case NR_recvmsg: case NR_recvmmsg: case NR_msgrcv: case NR_mq_timedreceive:
	case NR_io_getevents: case NR_io_pgetevents: case NR_io_uring_enter: case NR_semop:
	case NR_semtimedop:
	/* reads asleep in S state wait on a pipe, socket or terminal, not a disk */
	case NR_read: case NR_readv: case NR_pread64: case NR_preadv: case NR_preadv2:
		return true;
	default:
		return false;
	}
}

/* Syscalls whose uninterruptible waits are file or block I/O. */
static bool syscall_io(int32_t nr)
{
	switch (nr) {
	case NR_read: case NR_write: case NR_pread64: case NR_pwrite64: case NR_readv:
	case NR_writev: case NR_preadv: case NR_pwritev: case NR_preadv2: case NR_pwritev2:
	case NR_fsync: case NR_fdatasync: case NR_sync: case NR_syncfs: case NR_sync_file_range:
	case NR_msync: case NR_io_submit: case NR_fallocate: case NR_truncate: case NR_ftruncate:
	case NR_sendfile: case NR_copy_file_range: case NR_splice: case NR_close:
		return true;
	default:
		return false;
	}
}

static bool syscall_fork(int32_t nr)
{
	return nr == NR_clone || nr == NR_fork || nr == NR_vfork || nr == NR_clone3;
}

/* ---------------------------------------------------------------------------
 * Frame evidence. Each frame gets feature bits once, from its name; a stack
 * gets the union of its frames' kernel bits and its leafmost user bit.
 */
#define KF_RECLAIM  0x0001u  /* direct reclaim, compaction, memcg charge/OOM */
#define KF_IO       0x0002u  /* waits for block I/O, writeback, page locks under I/O */
#define KF_LOCK     0x0004u  /* sleeping kernel locks: rwsem, mutex, semaphore */
#define KF_MM       0x0008u  /* takes the process's mmap_lock */
#define KF_FUTEX    0x0010u  /* a futex wait */
#define KF_IDLE     0x0020u  /* epoll, sleeps, pipes, sockets, wait for children */
#define KF_PLUMB    0x0040u  /* scheduler and lock internals: never "where" */
#define UF_WORK     0x0080u  /* libc wait for work: condvar, semaphore, join, barrier */
#define UF_LOCK     0x0100u  /* libc lock wait: mutex, rwlock */
#define F_RUNTIME   0x0200u  /* user frame of libc/ld/libstdc++: skipped when naming a caller */
#define F_DONE      0x8000u

#define KF_KERNEL_BITS (KF_RECLAIM | KF_IO | KF_LOCK | KF_MM | KF_FUTEX | KF_IDLE)

enum match { M_BASE, M_PREFIX, M_SUBSTR };

struct fpat {
	const char *pat;
	uint16_t bits;
	uint8_t how;
};

/* Kernel functions, matched on their base name (".isra.0", ".cold" ignored). */
static const struct fpat kernel_pats[] = {
	{ "__alloc_pages_direct_reclaim", KF_RECLAIM, M_BASE },
	{ "__alloc_pages_direct_compact", KF_RECLAIM, M_BASE },
	{ "__alloc_pages_slowpath", KF_RECLAIM, M_BASE },
	{ "try_to_free_pages", KF_RECLAIM, M_BASE },
	{ "try_to_free_mem_cgroup_pages", KF_RECLAIM, M_BASE },
	{ "mem_cgroup_handle_over_high", KF_RECLAIM, M_BASE },
	{ "reclaim_throttle", KF_RECLAIM, M_BASE },
	{ "__perform_reclaim", KF_RECLAIM, M_BASE },
	{ "do_try_to_free_pages", KF_RECLAIM, M_BASE },
	{ "throttle_direct_reclaim", KF_RECLAIM, M_BASE },
	{ "try_charge_memcg", KF_RECLAIM, M_BASE },
	{ "try_charge", KF_RECLAIM, M_BASE },
	{ "mem_cgroup_oom_synchronize", KF_RECLAIM, M_BASE },
	{ "mem_cgroup_out_of_memory", KF_RECLAIM, M_BASE },
	{ "out_of_memory", KF_RECLAIM, M_BASE },
	{ "try_to_compact_pages", KF_RECLAIM, M_BASE },
	{ "compact_zone", KF_RECLAIM, M_BASE },
	{ "__node_reclaim", KF_RECLAIM, M_BASE },
	{ "shrink_node", KF_RECLAIM, M_PREFIX },
	{ "shrink_lruvec", KF_RECLAIM, M_BASE },
	{ "shrink_folio_list", KF_RECLAIM, M_BASE },
	{ "shrink_inactive_list", KF_RECLAIM, M_BASE },
	{ "shrink_active_list", KF_RECLAIM, M_BASE },
	{ "shrink_slab", KF_RECLAIM, M_BASE },

	{ "io_schedule", KF_IO | KF_PLUMB, M_BASE },
	{ "io_schedule_timeout", KF_IO | KF_PLUMB, M_BASE },
	{ "folio_wait_bit_common", KF_IO, M_BASE },
	{ "folio_wait_bit", KF_IO, M_BASE },
	{ "folio_wait_bit_killable", KF_IO, M_BASE },
	{ "folio_wait_writeback", KF_IO, M_BASE },
	{ "folio_wait_stable", KF_IO, M_BASE },
	{ "__folio_lock", KF_IO, M_BASE },
	{ "__folio_lock_killable", KF_IO, M_BASE },
	{ "__folio_lock_or_retry", KF_IO, M_BASE },
	{ "wait_on_page_bit_common", KF_IO, M_BASE },
	{ "__filemap_fdatawait_range", KF_IO, M_BASE },
	{ "filemap_fdatawait_range", KF_IO, M_BASE },
	{ "filemap_fdatawait_keep_errors", KF_IO, M_BASE },
	{ "file_write_and_wait_range", KF_IO, M_BASE },
	{ "filemap_write_and_wait_range", KF_IO, M_BASE },
	{ "file_fdatawait_range", KF_IO, M_BASE },
	{ "submit_bio_wait", KF_IO, M_BASE },
	{ "balance_dirty_pages", KF_IO, M_BASE },
	{ "balance_dirty_pages_ratelimited_flags", KF_IO, M_BASE },
	{ "wbt_wait", KF_IO, M_BASE },
	{ "rq_qos_wait", KF_IO, M_BASE },
	{ "__wait_on_buffer", KF_IO, M_BASE },
	{ "bit_wait_io", KF_IO, M_BASE },
	{ "blkdev_issue_flush", KF_IO, M_BASE },
	{ "__iomap_dio_rw", KF_IO, M_BASE },
	{ "iomap_dio_rw", KF_IO, M_BASE },
	{ "vfs_fsync_range", KF_IO, M_BASE },
	{ "do_fsync", KF_IO, M_BASE },
	{ "ksys_sync", KF_IO, M_BASE },
	{ "jbd2_", KF_IO, M_PREFIX },
	{ "blk_mq_", KF_IO, M_PREFIX },

	{ "rwsem_down_", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "down_read", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "down_write", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "__down_read", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "__down_write", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "__mutex_lock", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "mutex_lock", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "__rt_mutex_slowlock", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "rt_mutex_slowlock", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "rtlock_slowlock", KF_LOCK | KF_PLUMB, M_PREFIX },
	{ "percpu_rwsem_wait", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__percpu_down_read", KF_LOCK | KF_PLUMB, M_BASE },
	{ "percpu_down_write", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__down", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__down_common", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__down_killable", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__down_interruptible", KF_LOCK | KF_PLUMB, M_BASE },
	{ "__down_timeout", KF_LOCK | KF_PLUMB, M_BASE },

	{ "lock_mm_and_find_vma", KF_MM, M_BASE },
	{ "vm_mmap_pgoff", KF_MM, M_BASE },
	{ "ksys_mmap_pgoff", KF_MM, M_BASE },
	{ "do_mprotect_pkey", KF_MM, M_BASE },
	{ "__vm_munmap", KF_MM, M_BASE },
	{ "__do_sys_munmap", KF_MM, M_BASE },
	{ "__x64_sys_munmap", KF_MM, M_BASE },
	{ "__x64_sys_mprotect", KF_MM, M_BASE },
	{ "do_madvise", KF_MM, M_BASE },
	{ "__do_sys_brk", KF_MM, M_BASE },
	{ "__x64_sys_brk", KF_MM, M_BASE },
	{ "__do_sys_mremap", KF_MM, M_BASE },
	{ "__x64_sys_mremap", KF_MM, M_BASE },
	{ "do_mlock", KF_MM, M_BASE },
	{ "__mm_populate", KF_MM, M_BASE },
	{ "dup_mmap", KF_MM, M_BASE },
	{ "__access_remote_vm", KF_MM, M_BASE },
	{ "access_remote_vm", KF_MM, M_BASE },
	{ "get_arg_page", KF_MM, M_BASE },
	{ "mmap_read_lock_killable", KF_MM, M_BASE },
	{ "mmap_write_lock_killable", KF_MM, M_BASE },
	{ "exit_mmap", KF_MM, M_BASE },
	{ "do_user_addr_fault", KF_MM, M_BASE },

	{ "futex_wait", KF_FUTEX | KF_PLUMB, M_PREFIX },
	{ "futex_do_wait", KF_FUTEX | KF_PLUMB, M_BASE },
	{ "__futex_wait", KF_FUTEX | KF_PLUMB, M_BASE },
	{ "futex_lock_pi", KF_FUTEX | KF_PLUMB, M_BASE },
	{ "do_futex", KF_FUTEX, M_BASE },
	{ "__x64_sys_futex", KF_FUTEX, M_PREFIX },

	{ "ep_poll", KF_IDLE, M_BASE },
	{ "do_epoll_wait", KF_IDLE, M_BASE },
	{ "do_epoll_pwait", KF_IDLE, M_BASE },
	{ "do_nanosleep", KF_IDLE, M_BASE },
	{ "hrtimer_nanosleep", KF_IDLE, M_BASE },
	{ "do_select", KF_IDLE, M_BASE },
	{ "core_sys_select", KF_IDLE, M_BASE },
	{ "do_sys_poll", KF_IDLE, M_BASE },
	{ "do_poll", KF_IDLE, M_BASE },
	{ "pipe_read", KF_IDLE, M_BASE },
	{ "anon_pipe_read", KF_IDLE, M_BASE },
	{ "pipe_write", KF_IDLE, M_BASE },
	{ "anon_pipe_write", KF_IDLE, M_BASE },
	{ "unix_stream_read_generic", KF_IDLE, M_BASE },
	{ "unix_stream_data_wait", KF_IDLE, M_BASE },
	{ "sk_wait_data", KF_IDLE, M_BASE },
	{ "inet_csk_accept", KF_IDLE, M_BASE },
	{ "inet_csk_wait_for_connect", KF_IDLE, M_BASE },
	{ "__skb_wait_for_more_packets", KF_IDLE, M_BASE },
	{ "wait_woken", KF_IDLE, M_BASE },
	{ "do_wait", KF_IDLE, M_BASE },
	{ "kernel_wait4", KF_IDLE, M_BASE },
	{ "do_sigtimedwait", KF_IDLE, M_BASE },
	{ "sigsuspend", KF_IDLE, M_BASE },
	{ "n_tty_read", KF_IDLE, M_BASE },
	{ "inotify_read", KF_IDLE, M_BASE },
	{ "io_cqring_wait", KF_IDLE, M_BASE },
	{ "read_events", KF_IDLE, M_BASE },
	{ "do_msgrcv", KF_IDLE, M_BASE },
	{ "do_semtimedop", KF_IDLE, M_BASE },
	{ "eventfd_read", KF_IDLE, M_BASE },
	{ "timerfd_read", KF_IDLE, M_BASE },

	{ "schedule", KF_PLUMB, M_PREFIX },
	{ "__schedule", KF_PLUMB, M_BASE },
	{ "preempt_schedule", KF_PLUMB, M_PREFIX },
	{ "finish_task_switch", KF_PLUMB, M_PREFIX },
	{ "__traceiter_", KF_PLUMB, M_PREFIX },
	{ "__bpf_trace", KF_PLUMB, M_PREFIX },
	{ "bpf_", KF_PLUMB, M_PREFIX },
	{ "rwsem_", KF_PLUMB, M_PREFIX },
	{ "up_read", KF_PLUMB, M_PREFIX },
	{ "up_write", KF_PLUMB, M_PREFIX },
	{ "mutex_unlock", KF_PLUMB, M_PREFIX },
	{ "__mutex_unlock", KF_PLUMB, M_PREFIX },
	{ "try_to_wake_up", KF_PLUMB, M_BASE },
	{ "wake_up_q", KF_PLUMB, M_BASE },
	{ "wake_up_process", KF_PLUMB, M_BASE },
	{ "_raw_", KF_PLUMB, M_PREFIX },
	{ "queued_", KF_PLUMB, M_PREFIX },
	{ "native_queued_", KF_PLUMB, M_PREFIX },
};

/* libc's own entry points, leafmost first wins (pthread_cond_wait re-takes
 * its mutex through __pthread_mutex_cond_lock: that one is a lock wait). */
static const struct fpat user_pats[] = {
	{ "mutex_cond_lock", UF_LOCK, M_SUBSTR },
	{ "lll_lock_wait", UF_LOCK, M_SUBSTR },
	{ "mutex_lock", UF_LOCK, M_SUBSTR },
	{ "mutex_timedlock", UF_LOCK, M_SUBSTR },
	{ "mutex_clocklock", UF_LOCK, M_SUBSTR },
	{ "rwlock_rdlock", UF_LOCK, M_SUBSTR },
	{ "rwlock_wrlock", UF_LOCK, M_SUBSTR },
	{ "rwlock_timedrdlock", UF_LOCK, M_SUBSTR },
	{ "rwlock_timedwrlock", UF_LOCK, M_SUBSTR },
	{ "rwlock_clockrdlock", UF_LOCK, M_SUBSTR },
	{ "rwlock_clockwrlock", UF_LOCK, M_SUBSTR },
	{ "cond_wait", UF_WORK, M_SUBSTR },
	{ "cond_timedwait", UF_WORK, M_SUBSTR },
	{ "cond_clockwait", UF_WORK, M_SUBSTR },
	{ "sem_wait", UF_WORK, M_SUBSTR },
	{ "sem_timedwait", UF_WORK, M_SUBSTR },
	{ "sem_clockwait", UF_WORK, M_SUBSTR },
	{ "pthread_join", UF_WORK, M_SUBSTR },
	{ "pthread_timedjoin", UF_WORK, M_SUBSTR },
	{ "pthread_clockjoin", UF_WORK, M_SUBSTR },
	{ "barrier_wait", UF_WORK, M_SUBSTR },
};

static bool pat_match(const char *name, const struct fpat *p)
{
	size_t n = strlen(p->pat);

	switch (p->how) {
	case M_BASE:
		return strncmp(name, p->pat, n) == 0 && (name[n] == '\0' || name[n] == '.');
	case M_PREFIX:
		return strncmp(name, p->pat, n) == 0;
	default:
		return strstr(name, p->pat) != NULL;
	}
}

/* Runtime libraries: their frames are how a wait happens, not who waits. */
static bool mapping_is_runtime(const struct capdata *cd, uint32_t mapping)
{
	static const char *const libs[] = {
		"libc.so", "libc-", "libpthread", "ld-linux", "libstdc++", "libgcc_s",
	};
	const char *file, *base;
	size_t i;

	if (mapping >= cd->nmappings || !cd->mappings[mapping].file)
		return false;
	file = cd->mappings[mapping].file;
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		if (strncmp(base, libs[i], strlen(libs[i])) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Fixed-size text buffer for summaries: appends never overflow, and a cut
 * never splits a UTF-8 character (the result goes into JSON).
 */
struct sbuf {
	char s[768];
	size_t len;
};

static void sb_put(struct sbuf *sb, const char *str, size_t max)
{
	size_t room = sizeof(sb->s) - 1 - sb->len, n = strlen(str), i;

	if (n > max)
		n = max;
	if (n > room)
		n = room;
	/* Back up to a character boundary: continuation bytes are 10xxxxxx. */
	if (n < strlen(str))
		while (n && ((unsigned char)str[n] & 0xc0) == 0x80)
			n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];

		sb->s[sb->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	sb->s[sb->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	char tmp[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_put(sb, tmp, sizeof(tmp));
}

/* "6.1 s", "240 ms", "3.5 ms" */
static void fmt_dur(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	else if (ns >= 10000000ull)
		snprintf(buf, len, "%.0f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
}

/* "3.0 GiB", "256 MiB", "4.5 MiB", "12 KiB", "512 B" */
static void fmt_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)b / (double)(1ull << 30));
	else if (b >= (100ull << 20))
		snprintf(buf, len, "%.0f MiB", (double)b / (double)(1ull << 20));
	else if (b >= (1ull << 20))
		snprintf(buf, len, "%.1f MiB", (double)b / (double)(1ull << 20));
	else if (b >= 1024)
		snprintf(buf, len, "%.0f KiB", (double)b / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " B", b);
}

/* ms rounded to whole microseconds, as everywhere in report.json */
static json_t *jms(uint64_t ns)
{
	return json_real((double)(ns / 1000 + (ns % 1000 >= 500)) / 1000.0);
}

static json_t *jcount(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jhex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	uint64_t s = s1 > s2 ? s1 : s2, e = e1 < e2 ? e1 : e2;

	return e > s ? e - s : 0;
}

static uint64_t block_end(const struct cap_block *b)
{
	return sat_add(b->start_ns, b->dur_ns);
}

/* Every set_new below may fail only for lack of memory; build functions
 * check the containers they return, and one failed key makes the whole
 * diagnosis fail with -ENOMEM at the end (ctx.oom). */

/* ---------------------------------------------------------------------------
 * The analysis context: per-frame/stack evidence, per-block cause, totals.
 */
struct ctotal {
	uint64_t total_ns;      /* off-CPU time of the cause's blocks (+ on-CPU reclaim) */
	uint64_t oncpu_ns;      /* memory_reclaim only: sampled on-CPU time in reclaim */
	uint64_t max_ns;
	uint64_t count;         /* blocks */
	uint32_t threads;       /* distinct target threads */
	uint64_t expected_ns;   /* from the baseline, scaled to this window */
	uint64_t score_ns;      /* total_ns - expected_ns: what is judged */
	bool qualifies;
};

/* A group of waits on one lock (mmap_lock of one mm, one kernel lock, one
 * futex word of one process), with who was to blame for them. */
struct lholder {
	uint32_t thread;
	uint64_t blame_ns;      /* waiter time this thread is responsible for */
	uint64_t wakes;         /* waits it ended (wakers) or overlapped (mmap holders) */
	size_t best;            /* block (waker) or hold (mmap) with the most blame */
	uint64_t best_ns;
	uint64_t hold_ns;       /* mmap holders: sum of its overlapping holds */
	uint32_t ops;           /* mmap holders: overlapping holds in the best one's syscall */
};

struct lgroup {
	uint8_t cls;
	uint64_t obj;
	int32_t pid;            /* process of the waiters (futex, mmap_lock) */
	size_t first, n;        /* range in ctx.lidx */
	uint64_t total_ns, max_ns;
	uint32_t waiters;
	uint8_t lock_flags;     /* union of the waits' LCB_F_* */
	bool from_holds;        /* mmap_lock: blame from mmap_lock holds, not wakers */
	size_t nholders;
	struct lholder holders[MAX_LOCK_HOLDERS];
};

struct ctx {
	const struct capdata *cd;
	uint64_t *trun_s, *trun_e;  /* per thread: its busy run, when it is one (else 0, 0) */
	const struct aggregate *agg;
	uint64_t win_start, win_end, win_ns, period_ns, hold_thr_ns;
	uint16_t *ffeat;        /* per frame */
	uint16_t *sfeat;        /* per stack */
	uint8_t *cls;           /* per block: enum dclass */
	uint16_t *tmask;        /* per thread: causes it waited on (bit per dclass) */
	uint64_t *treclaim_ns;  /* per thread: reclaim time, off- and on-CPU */
	uint64_t *tio_ns;       /* per thread: I/O wait */
	uint64_t *acc;          /* per thread scratch */
	uint64_t *acc2;
	size_t *accbest;
	uint64_t *accbest_ns;
	uint32_t *touched;
	size_t ntouched;
	struct ctotal tot[DC__COUNT];
	size_t *lidx;           /* lock-wait blocks, grouped */
	size_t nlidx;
	struct lgroup *groups;
	size_t ngroups;
	size_t *samp;           /* target samples by time */
	size_t nsamp;
	bool have_baseline;
	bool oom;
};

static bool thread_is_target(const struct ctx *x, uint32_t t)
{
	return t < x->cd->nthreads && !x->cd->threads[t].outside;
}

static uint16_t frame_feat(struct ctx *x, uint32_t f)
{
	const struct cap_frame *fr = &x->cd->frames[f];
	const struct fpat *pats = fr->kernel ? kernel_pats : user_pats;
	size_t n = fr->kernel ? sizeof(kernel_pats) / sizeof(kernel_pats[0])
			      : sizeof(user_pats) / sizeof(user_pats[0]), i;
	uint16_t bits = F_DONE;

	if (x->ffeat[f] & F_DONE)
		return x->ffeat[f];
	for (i = 0; i < n; i++) {
		if (pat_match(fr->name, &pats[i])) {
			bits |= pats[i].bits;
			/* user patterns are exclusive: the first decides */
			if (!fr->kernel)
				break;
		}
	}
	if (!fr->kernel && mapping_is_runtime(x->cd, fr->mapping))
		bits |= F_RUNTIME;
	x->ffeat[f] = bits;
	return bits;
}

/* Kernel bits of every frame, plus the user bit of the leafmost user frame
 * that has one. ST_NO_STACK has none. */
static uint16_t stack_feat(struct ctx *x, uint32_t st)
{
	const struct cap_stack *s;
	uint16_t bits = F_DONE;
	bool user_done = false;
	uint32_t i;

	if (st >= x->cd->nstacks)
		return 0;
	if (x->sfeat[st] & F_DONE)
		return x->sfeat[st];
	s = &x->cd->stacks[st];
	for (i = s->nframes; i-- > 0;) {
		uint16_t f = frame_feat(x, s->frames[i]);

		bits |= f & KF_KERNEL_BITS;
		if (!user_done && (f & (UF_WORK | UF_LOCK))) {
			bits |= f & (UF_WORK | UF_LOCK);
			user_done = true;
		}
	}
	x->sfeat[st] = bits;
	return bits;
}

/* A waker is evidence only when it is another, real task: wakeups from
 * interrupt context can be charged to the idle task (tid 0). */
static bool waker_real(const struct ctx *x, const struct cap_block *b)
{
	return b->has_waker && b->waker < x->cd->nthreads && b->waker != b->thread &&
	       x->cd->threads[b->waker].tid != 0;
}

static bool block_is_futex(const struct cap_block *b, uint16_t kf)
{
	return b->wait_kind == CAP_WAIT_FUTEX || (kf & KF_FUTEX) ||
	       (b->in_syscall && (b->syscall == NR_futex || b->syscall == NR_futex_waitv));
}

/* The rules of docs/diagnose.md, in their order. */
static enum dclass classify(struct ctx *x, const struct cap_block *b)
{
	uint16_t kf = stack_feat(x, b->kstack), uf;

	if (kf & KF_RECLAIM)
		return DC_RECLAIM;
	if (b->wait_kind == CAP_WAIT_MMAP_LOCK)
		return DC_MMAP_LOCK;
	if (b->wait_kind == CAP_WAIT_KERNEL_LOCK)
		return DC_KERNEL_LOCK;
	if (b->state == CAP_STATE_RUNNABLE) {
		/* preempted in the middle of its own long computation: that
		 * computation, not the CPU it lost, is what stalls it */
		if (b->thread < x->cd->nthreads && x->trun_e[b->thread] &&
		    b->start_ns >= x->trun_s[b->thread] && b->start_ns <= x->trun_e[b->thread])
			return DC_BUSY;
		return DC_RUNQUEUE;
	}
	if (block_is_futex(b, kf)) {
		uf = stack_feat(x, b->ustack);
		if (uf & UF_WORK)
			return DC_IDLE;
		if (uf & UF_LOCK)
			return DC_FUTEX;
		return waker_real(x, b) ? DC_FUTEX : DC_IDLE;
	}
	/* Without lock tracepoints (--no-locks), the kernel stack still shows a
	 * sleeping lock, and whether the path takes the mmap_lock. */
	if (b->wait_kind == CAP_WAIT_NONE && (kf & KF_LOCK))
		return (kf & KF_MM) ? DC_MMAP_LOCK : DC_KERNEL_LOCK;
	if (b->state == CAP_STATE_UNINTERRUPTIBLE &&
	    ((kf & KF_IO) || (b->in_syscall && syscall_io(b->syscall))))
		return DC_IO;
	if ((kf & KF_IDLE) || (b->in_syscall && syscall_idle(b->syscall)))
		return DC_IDLE;
	/* Interruptible sleeps wait for an event someone else sends. */
	if (b->state == CAP_STATE_SLEEPING)
		return DC_IDLE;
	return DC_OTHER;
}

static void add_total(struct ctx *x, enum dclass c, uint32_t thread, uint64_t ns, bool is_block)
{
	struct ctotal *t = &x->tot[c];

	t->total_ns = sat_add(t->total_ns, ns);
	if (is_block) {
		t->count++;
		if (ns > t->max_ns)
			t->max_ns = ns;
	}
	if (!(x->tmask[thread] & (1u << c))) {
		x->tmask[thread] |= (uint16_t)(1u << c);
		t->threads++;
	}
}

static int cmp_samp_ts(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_sample *x = &cd->samples[*(const size_t *)a];
	const struct cap_sample *y = &cd->samples[*(const size_t *)b];

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void classify_all(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i;

	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		enum dclass c = classify(x, b);

		x->cls[i] = (uint8_t)c;
		if (!thread_is_target(x, b->thread))
			continue;
		add_total(x, c, b->thread, b->dur_ns, true);
		if (c == DC_RECLAIM)
			x->treclaim_ns[b->thread] = sat_add(x->treclaim_ns[b->thread], b->dur_ns);
		if (c == DC_IO)
			x->tio_ns[b->thread] = sat_add(x->tio_ns[b->thread], b->dur_ns);
	}
	/* On-CPU time in reclaim stalls a thread as surely as sleeping in it. */
	for (i = 0; i < x->nsamp; i++) {
		const struct cap_sample *s = &cd->samples[x->samp[i]];

		if (stack_feat(x, s->kstack) & KF_RECLAIM) {
			add_total(x, DC_RECLAIM, s->thread, x->period_ns, false);
			x->tot[DC_RECLAIM].oncpu_ns = sat_add(x->tot[DC_RECLAIM].oncpu_ns, x->period_ns);
			x->treclaim_ns[s->thread] = sat_add(x->treclaim_ns[s->thread], x->period_ns);
		}
	}
}

/* The target's samples, by time. */
static void collect_samples(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i;

	x->nsamp = 0;
	for (i = 0; i < cd->nsamples; i++) {
		if (thread_is_target(x, cd->samples[i].thread))
			x->samp[x->nsamp++] = i;
	}
	qsort_r(x->samp, x->nsamp, sizeof(*x->samp), cmp_samp_ts, (void *)cd);
}

/* ---------------------------------------------------------------------------
 * Lock groups and blame.
 */
static bool is_lock_class(unsigned int c)
{
	return c == DC_MMAP_LOCK || c == DC_KERNEL_LOCK || c == DC_FUTEX;
}

static void lock_key(const struct ctx *x, size_t bi, uint8_t *cls, uint64_t *obj, int32_t *pid)
{
	const struct cap_block *b = &x->cd->blocks[bi];

	*cls = x->cls[bi];
	*obj = b->wait_obj;
	/* A kernel lock's address is global; an mm and a futex word belong to a process. */
	*pid = *cls == DC_KERNEL_LOCK ? 0 : x->cd->threads[b->thread].pid;
}

static int cmp_lidx(const void *a, const void *b, void *arg)
{
	const struct ctx *x = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_block *p = &x->cd->blocks[i], *q = &x->cd->blocks[j];
	uint8_t ci, cj;
	uint64_t oi, oj;
	int32_t pi, pj;

	lock_key(x, i, &ci, &oi, &pi);
	lock_key(x, j, &cj, &oj, &pj);
	if (ci != cj)
		return ci < cj ? -1 : 1;
	if (oi != oj)
		return oi < oj ? -1 : 1;
	if (pi != pj)
		return pi < pj ? -1 : 1;
	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	if (p->start_ns != q->start_ns)
		return p->start_ns < q->start_ns ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int cmp_group(const void *a, const void *b)
{
	const struct lgroup *g = a, *h = b;

	if (g->total_ns != h->total_ns)
		return g->total_ns > h->total_ns ? -1 : 1;
	if (g->cls != h->cls)
		return g->cls < h->cls ? -1 : 1;
	if (g->obj != h->obj)
		return g->obj < h->obj ? -1 : 1;
	return g->pid < h->pid ? -1 : g->pid > h->pid;
}

static int build_groups(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i, k, ng = 0;

	x->nlidx = 0;
	for (i = 0; i < cd->nblocks; i++) {
		if (is_lock_class(x->cls[i]) && thread_is_target(x, cd->blocks[i].thread))
			x->lidx[x->nlidx++] = i;
	}
	qsort_r(x->lidx, x->nlidx, sizeof(*x->lidx), cmp_lidx, x);
	for (k = 0; k < x->nlidx; k++) {
		uint8_t c, pc;
		uint64_t o, po;
		int32_t p, pp;

		lock_key(x, x->lidx[k], &c, &o, &p);
		if (k)
			lock_key(x, x->lidx[k - 1], &pc, &po, &pp);
		if (!k || c != pc || o != po || p != pp)
			ng++;
	}
	x->groups = calloc(ng ? ng : 1, sizeof(*x->groups));
	if (!x->groups)
		return -ENOMEM;
	for (k = 0; k < x->nlidx; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];
		struct lgroup *g;
		uint8_t c;
		uint64_t o;
		int32_t p;

		lock_key(x, x->lidx[k], &c, &o, &p);
		g = x->ngroups ? &x->groups[x->ngroups - 1] : NULL;
		if (!g || g->cls != c || g->obj != o || g->pid != p) {
			g = &x->groups[x->ngroups++];
			g->cls = c;
			g->obj = o;
			g->pid = p;
			g->first = k;
		}
		g->n++;
		g->total_ns = sat_add(g->total_ns, b->dur_ns);
		if (b->dur_ns > g->max_ns)
			g->max_ns = b->dur_ns;
		g->lock_flags |= b->lock_flags;
		if (g->n == 1 || cd->blocks[x->lidx[k - 1]].thread != b->thread)
			g->waiters++;
	}
	qsort(x->groups, x->ngroups, sizeof(*x->groups), cmp_group);
	return 0;
}

static void acc_add(struct ctx *x, uint32_t t, uint64_t ns, size_t best)
{
	if (!x->acc[t] && !x->acc2[t])
		x->touched[x->ntouched++] = t;
	x->acc[t] = sat_add(x->acc[t], ns);
	x->acc2[t]++;
	if (ns > x->accbest_ns[t] || x->acc2[t] == 1) {
		x->accbest_ns[t] = ns;
		x->accbest[t] = best;
	}
}

/* Moves the MAX_LOCK_HOLDERS threads with most blame into g, clears the scratch. */
static void take_holders(struct ctx *x, struct lgroup *g)
{
	size_t i, j;

	g->nholders = 0;
	for (i = 0; i < x->ntouched; i++) {
		uint32_t t = x->touched[i];
		struct lholder h = { .thread = t, .blame_ns = x->acc[t], .wakes = x->acc2[t],
				     .best = x->accbest[t], .best_ns = x->accbest_ns[t] };

		if (h.blame_ns) {
			/* insertion into a short sorted list: most blame first, then tid order */
			for (j = g->nholders; j > 0; j--) {
				const struct lholder *p = &g->holders[j - 1];

				if (p->blame_ns > h.blame_ns ||
				    (p->blame_ns == h.blame_ns && p->thread < h.thread))
					break;
				if (j < MAX_LOCK_HOLDERS)
					g->holders[j] = *p;
			}
			if (j < MAX_LOCK_HOLDERS) {
				g->holders[j] = h;
				if (g->nholders < MAX_LOCK_HOLDERS)
					g->nholders++;
			}
		}
		x->acc[t] = x->acc2[t] = 0;
		x->accbest[t] = 0;
		x->accbest_ns[t] = 0;
	}
	x->ntouched = 0;
}

/* First index in [lo, hi) of lidx whose block belongs to thread t (or hi). */
static size_t lower_thread(const struct ctx *x, size_t lo, size_t hi, uint32_t t)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->cd->blocks[x->lidx[mid]].thread < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Blame from wakers: the thread that woke a waiter held the lock, except for
 * the time it was itself waiting on the same lock (a chain of waiters hands
 * the lock on: each wakes the next, and only the first holder is to blame). */
static void blame_wakers(struct ctx *x, struct lgroup *g)
{
	const struct capdata *cd = x->cd;
	size_t end = g->first + g->n, k;

	for (k = g->first; k < end; k++) {
		const struct cap_block *b = &cd->blocks[x->lidx[k]];
		uint64_t s = b->start_ns, e = block_end(b), covered = 0;
		size_t lo, hi, m;

		if (!waker_real(x, b))
			continue;
		lo = lower_thread(x, g->first, end, b->waker);
		hi = lower_thread(x, lo, end, b->waker + 1);
		/* the waker's own waits on this lock are sorted by start and disjoint:
		 * find the last one starting before s, then walk while they start before e */
		m = lo;
		{
			size_t a = lo, z = hi;

			while (a < z) {
				size_t mid = a + (z - a) / 2;

				if (cd->blocks[x->lidx[mid]].start_ns <= s)
					a = mid + 1;
				else
					z = mid;
			}
			m = a > lo ? a - 1 : lo;
		}
		for (; m < hi && cd->blocks[x->lidx[m]].start_ns < e; m++) {
			const struct cap_block *w = &cd->blocks[x->lidx[m]];

			covered += overlap(s, e, w->start_ns, block_end(w));
		}
		if (e - s > covered)
			acc_add(x, b->waker, e - s - covered, x->lidx[k]);
	}
	take_holders(x, g);
}

static int cmp_start(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_block *p = &cd->blocks[*(const size_t *)a], *q = &cd->blocks[*(const size_t *)b];

	if (p->start_ns != q->start_ns)
		return p->start_ns < q->start_ns ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Blame from mmap_lock holds: a holder is to blame for the waits its holds
 * overlap, summed (many short holds block as surely as one long one). */
static int blame_holds(struct ctx *x, struct lgroup *g)
{
	const struct capdata *cd = x->cd;
	size_t *by_start, i, k;

	if (!cd->nholds)
		return 0;
	by_start = malloc(g->n * sizeof(*by_start));
	if (!by_start)
		return -ENOMEM;
	memcpy(by_start, x->lidx + g->first, g->n * sizeof(*by_start));
	qsort_r(by_start, g->n, sizeof(*by_start), cmp_start, (void *)cd);
	for (i = 0; i < cd->nholds; i++) {
		const struct cap_hold *h = &cd->holds[i];
		uint64_t hs = h->start_ns, he = sat_add(h->start_ns, h->dur_ns), ov = 0;
		uint64_t from = hs > g->max_ns ? hs - g->max_ns : 0;
		size_t a = 0, z = g->n;

		if (h->mm_pid != g->pid || h->thread >= cd->nthreads)
			continue;
		while (a < z) {
			size_t mid = a + (z - a) / 2;

			if (cd->blocks[by_start[mid]].start_ns < from)
				a = mid + 1;
			else
				z = mid;
		}
		for (k = a; k < g->n && cd->blocks[by_start[k]].start_ns < he; k++) {
			const struct cap_block *b = &cd->blocks[by_start[k]];

			/* a thread does not wait for its own hold */
			if (b->thread != h->thread)
				ov = sat_add(ov, overlap(hs, he, b->start_ns, block_end(b)));
		}
		if (ov)
			acc_add(x, h->thread, ov, i);
	}
	free(by_start);
	g->from_holds = x->ntouched > 0;
	take_holders(x, g);
	/* the holders' own figures: how long they held it, how often in that syscall */
	for (k = 0; k < g->nholders; k++) {
		struct lholder *lh = &g->holders[k];
		const struct cap_hold *best = &cd->holds[lh->best];

		for (i = 0; i < cd->nholds; i++) {
			const struct cap_hold *h = &cd->holds[i];

			if (h->thread != lh->thread || h->mm_pid != g->pid)
				continue;
			lh->hold_ns = sat_add(lh->hold_ns, h->dur_ns);
			if (h->in_syscall == best->in_syscall && h->syscall == best->syscall)
				lh->ops++;
		}
	}
	return 0;
}

static int blame_groups(struct ctx *x)
{
	size_t i;
	int err;

	for (i = 0; i < x->ngroups; i++) {
		struct lgroup *g = &x->groups[i];

		if (g->cls == DC_MMAP_LOCK) {
			if ((err = blame_holds(x, g)))
				return err;
			if (g->from_holds)
				continue;
		}
		blame_wakers(x, g);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * On-CPU samples: busy runs, and who ran while others waited runnable.
 */
struct tcpu {
	uint32_t thread;
	uint64_t oncpu_ns;
	uint64_t run_ns;        /* longest run without a voluntary block */
	size_t run_first, run_n;/* that run, in ctx-local tsamp order */
	uint64_t taken_ns;      /* on-CPU while other target threads waited runnable */
};

struct cpuinfo {
	size_t *tsamp;          /* target samples by (thread, time) */
	struct tcpu *threads;   /* one per thread with samples, by oncpu_ns descending */
	size_t nthreads;
	size_t busiest;         /* index in threads of the longest run, or SIZE_MAX */
	size_t taker;           /* index in threads of the top runqueue taker, or SIZE_MAX */
	bool *in_runq;          /* per x->samp position: inside some runnable wait */
};

static int cmp_samp_thread(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_sample *p = &cd->samples[*(const size_t *)a];
	const struct cap_sample *q = &cd->samples[*(const size_t *)b];

	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	if (p->ts_ns != q->ts_ns)
		return p->ts_ns < q->ts_ns ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int cmp_block_thread(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_block *p = &cd->blocks[*(const size_t *)a], *q = &cd->blocks[*(const size_t *)b];

	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	if (p->start_ns != q->start_ns)
		return p->start_ns < q->start_ns ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

struct ival {
	uint64_t s, e;
};

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *p = a, *q = b;

	if (p->s != q->s)
		return p->s < q->s ? -1 : 1;
	return p->e < q->e ? -1 : p->e > q->e;
}

static int cmp_tcpu(const void *a, const void *b)
{
	const struct tcpu *p = a, *q = b;

	if (p->oncpu_ns != q->oncpu_ns)
		return p->oncpu_ns > q->oncpu_ns ? -1 : 1;
	return p->thread < q->thread ? -1 : p->thread > q->thread;
}

/* A voluntary block (asleep or uninterruptible) ends a busy run; being
 * preempted does not: the thread still wanted the CPU. */
static int cpu_runs(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t *vb = NULL, nvb = 0, i, a, b;
	int err = -ENOMEM;

	ci->tsamp = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*ci->tsamp));
	ci->threads = calloc(x->nsamp ? x->nsamp : 1, sizeof(*ci->threads));
	vb = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*vb));
	if (!ci->tsamp || !ci->threads || !vb)
		goto cleanup;
	memcpy(ci->tsamp, x->samp, x->nsamp * sizeof(*x->samp));
	qsort_r(ci->tsamp, x->nsamp, sizeof(*ci->tsamp), cmp_samp_thread, (void *)cd);
	for (i = 0; i < cd->nblocks; i++) {
		if (cd->blocks[i].state != CAP_STATE_RUNNABLE && thread_is_target(x, cd->blocks[i].thread))
			vb[nvb++] = i;
	}
	qsort_r(vb, nvb, sizeof(*vb), cmp_block_thread, (void *)cd);

	for (a = 0; a < x->nsamp; a = b) {
		uint32_t t = cd->samples[ci->tsamp[a]].thread;
		struct tcpu *tc = &ci->threads[ci->nthreads++];
		size_t lo = 0, hi = nvb, run = a, k;

		for (b = a; b < x->nsamp && cd->samples[ci->tsamp[b]].thread == t; b++)
			;
		tc->thread = t;
		tc->oncpu_ns = (uint64_t)(b - a) * x->period_ns;
		/* this thread's voluntary blocks: [lo, hi) of vb */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cd->blocks[vb[mid]].thread < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (k = a; k < b; k++) {
			uint64_t ts = cd->samples[ci->tsamp[k]].ts_ns;
			bool brk = false;

			if (k > a) {
				uint64_t prev = cd->samples[ci->tsamp[k - 1]].ts_ns;

				while (lo < nvb && cd->blocks[vb[lo]].thread == t &&
				       cd->blocks[vb[lo]].start_ns <= prev)
					lo++;
				brk = ts - prev > 1000000000ull ||
				      (lo < nvb && cd->blocks[vb[lo]].thread == t &&
				       cd->blocks[vb[lo]].start_ns < ts);
			}
			if (brk)
				run = k;
			{
				uint64_t len = ts - cd->samples[ci->tsamp[run]].ts_ns + x->period_ns;

				if (len > tc->run_ns) {
					tc->run_ns = len;
					tc->run_first = run;
					tc->run_n = k - run + 1;
				}
			}
		}
	}
	err = 0;
cleanup:
	free(vb);
	return err;
}

/* Samples of target threads inside the union of the runnable waits. */
static int runq_takers(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	struct ival *iv;
	size_t n = 0, m = 0, i, k = 0;

	ci->in_runq = calloc(x->nsamp ? x->nsamp : 1, sizeof(*ci->in_runq));
	iv = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*iv));
	if (!ci->in_runq || !iv) {
		free(iv);
		return -ENOMEM;
	}
	for (i = 0; i < cd->nblocks; i++) {
		if (x->cls[i] == DC_RUNQUEUE && thread_is_target(x, cd->blocks[i].thread))
			iv[n++] = (struct ival){ cd->blocks[i].start_ns, block_end(&cd->blocks[i]) };
	}
	qsort(iv, n, sizeof(*iv), cmp_ival);
	for (i = 0; i < n; i++) {
		if (m && iv[i].s <= iv[m - 1].e) {
			if (iv[i].e > iv[m - 1].e)
				iv[m - 1].e = iv[i].e;
		} else {
			iv[m++] = iv[i];
		}
	}
	for (i = 0; i < x->nsamp && k < m; i++) {
		uint64_t ts = cd->samples[x->samp[i]].ts_ns;

		while (k < m && iv[k].e <= ts)
			k++;
		if (k < m && iv[k].s <= ts)
			ci->in_runq[i] = true;
	}
	free(iv);
	return 0;
}

/* Marks each thread's longest run as a busy run when it lasted
 * DIAG_BUSY_RUN_NS and the thread was on-CPU for DIAG_BUSY_SHARE_PCT of it
 * (less is a thread starved of CPU, not a busy one). Runs before classify. */
static int cpu_busy_runs(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t j;
	int err;

	ci->busiest = ci->taker = SIZE_MAX;
	if ((err = cpu_runs(x, ci)))
		return err;
	for (j = 0; j < ci->nthreads; j++) {
		const struct tcpu *t = &ci->threads[j];

		if (t->run_ns >= DIAG_BUSY_RUN_NS &&
		    (double)t->run_n * (double)x->period_ns * 100.0 >=
			    (double)DIAG_BUSY_SHARE_PCT * (double)t->run_ns) {
			x->trun_s[t->thread] = cd->samples[ci->tsamp[t->run_first]].ts_ns;
			x->trun_e[t->thread] = cd->samples[ci->tsamp[t->run_first + t->run_n - 1]].ts_ns;
			if (!x->trun_e[t->thread])
				x->trun_e[t->thread] = 1;
		}
	}
	return 0;
}

static int cpu_analyse(struct ctx *x, struct cpuinfo *ci)
{
	const struct capdata *cd = x->cd;
	size_t i, j;
	int err;

	if ((err = runq_takers(x, ci)))
		return err;
	for (i = 0; i < x->nsamp; i++) {
		if (ci->in_runq[i])
			x->acc[cd->samples[x->samp[i]].thread] += x->period_ns;
	}
	for (j = 0; j < ci->nthreads; j++) {
		ci->threads[j].taken_ns = x->acc[ci->threads[j].thread];
		x->acc[ci->threads[j].thread] = 0;
	}
	qsort(ci->threads, ci->nthreads, sizeof(*ci->threads), cmp_tcpu);
	for (j = 0; j < ci->nthreads; j++) {
		const struct tcpu *t = &ci->threads[j];

		if (x->trun_e[t->thread] &&
		    (ci->busiest == SIZE_MAX || t->run_ns > ci->threads[ci->busiest].run_ns))
			ci->busiest = j;
		if (t->taken_ns && (ci->taker == SIZE_MAX || t->taken_ns > ci->threads[ci->taker].taken_ns))
			ci->taker = j;
	}
	return 0;
}

static void cpu_release(struct cpuinfo *ci)
{
	free(ci->tsamp);
	free(ci->threads);
	free(ci->in_runq);
	memset(ci, 0, sizeof(*ci));
}

static int cmp_pair(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_sample *p = &cd->samples[*(const size_t *)a];
	const struct cap_sample *q = &cd->samples[*(const size_t *)b];

	if (p->ustack != q->ustack)
		return p->ustack < q->ustack ? -1 : 1;
	if (p->kstack != q->kstack)
		return p->kstack < q->kstack ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* The most frequent (user, kernel) stack pair among n samples (indices into
 * cd->samples); returns the index of one such sample, or SIZE_MAX. */
static size_t mode_sample(const struct capdata *cd, const size_t *idx, size_t n)
{
	size_t *s, i, best = SIZE_MAX, best_n = 0, run = 0;

	if (!n)
		return SIZE_MAX;
	s = malloc(n * sizeof(*s));
	if (!s)
		return idx[0]; /* any sample still names the thread's code */
	memcpy(s, idx, n * sizeof(*s));
	qsort_r(s, n, sizeof(*s), cmp_pair, (void *)cd);
	for (i = 0; i < n; i++) {
		if (i && cd->samples[s[i]].ustack == cd->samples[s[i - 1]].ustack &&
		    cd->samples[s[i]].kstack == cd->samples[s[i - 1]].kstack)
			run++;
		else
			run = 1;
		if (run > best_n) {
			best_n = run;
			best = s[i];
		}
	}
	free(s);
	return best;
}

/* ---------------------------------------------------------------------------
 * Stacks and names for the report.
 */
static bool shows_ustack(const struct capdata *cd, uint32_t ustack)
{
	return ustack < cd->nstacks && cd->stacks[ustack].status != CAP_STACK_NONE;
}

/* Root first, user frames then kernel frames with "_[k]", as report.json's
 * stacks[].frames spell them. */
static json_t *stack_json(struct ctx *x, uint32_t ustack, uint32_t kstack)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	uint32_t i;

	if (!a)
		return NULL;
	if (shows_ustack(cd, ustack)) {
		const struct cap_stack *s = &cd->stacks[ustack];

		for (i = 0; i < s->nframes; i++) {
			if (json_array_append_new(a, json_string(cd->frames[s->frames[i]].name))) {
				x->oom = true;
				break;
			}
		}
	}
	if (kstack < cd->nstacks) {
		const struct cap_stack *s = &cd->stacks[kstack];

		for (i = 0; i < s->nframes; i++) {
			if (json_array_append_new(a, json_sprintf("%s_[k]", cd->frames[s->frames[i]].name))) {
				x->oom = true;
				break;
			}
		}
	}
	return a;
}

/* A kernel thread has no user stack to miss. */
static bool stack_complete(const struct capdata *cd, uint32_t ustack)
{
	return ustack < cd->nstacks && (cd->stacks[ustack].status == CAP_STACK_COMPLETE ||
					cd->stacks[ustack].status == CAP_STACK_NONE);
}

/* Appends "f ← g" for the innermost user frames that are the program's own
 * (runtime libraries and placeholders skipped). Returns how many. */
static int put_callers(struct ctx *x, struct sbuf *sb, uint32_t ustack)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *s;
	uint32_t i;
	int n = 0;

	if (!shows_ustack(cd, ustack))
		return 0;
	s = &cd->stacks[ustack];
	for (i = s->nframes; i-- > 0 && n < SUMMARY_FRAMES;) {
		const struct cap_frame *f = &cd->frames[s->frames[i]];

		if (f->name[0] == '[' || (frame_feat(x, s->frames[i]) & F_RUNTIME))
			continue;
		sb_put(sb, n ? " ← " : "", 8);
		sb_put(sb, f->name, SUMMARY_NAME_MAX);
		n++;
	}
	return n;
}

/* The innermost kernel frame that is not scheduler, lock or futex plumbing:
 * where in the kernel the thread waited (or released). NULL if none. */
static const char *kernel_site(struct ctx *x, uint32_t kstack)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *s;
	uint32_t i;

	if (kstack >= cd->nstacks)
		return NULL;
	s = &cd->stacks[kstack];
	for (i = s->nframes; i-- > 0;) {
		const char *name = cd->frames[s->frames[i]].name;

		if (name[0] != '[' && !(frame_feat(x, s->frames[i]) & (KF_PLUMB | KF_LOCK | KF_FUTEX)))
			return name;
	}
	return NULL;
}

static json_t *thread_ref(const struct ctx *x, uint32_t t)
{
	const struct cap_thread *th = &x->cd->threads[t];

	return json_pack("{s:i, s:i, s:s, s:b}", "pid", th->pid, "tid", th->tid, "comm", th->comm,
			 "outside", th->outside);
}

static json_t *culprit_json(struct ctx *x, uint32_t t, uint32_t ustack, uint32_t kstack,
			    const char *operation)
{
	const struct cap_thread *th = &x->cd->threads[t];
	json_t *st = stack_json(x, ustack, kstack);
	json_t *o;

	if (!st) {
		x->oom = true;
		return NULL;
	}
	o = json_pack("{s:i, s:i, s:s, s:b, s:o, s:b, s:s}", "pid", th->pid, "tid", th->tid,
		      "comm", th->comm, "outside", th->outside, "stack", st,
		      "stack_complete", stack_complete(x->cd, ustack), "operation", operation);
	if (!o)
		x->oom = true;
	return o;
}

/* "tid 4250 (comm)" or, outside the target, "pid 77 tid 77 (khugepaged, outside the target)". */
static void put_who(struct ctx *x, struct sbuf *sb, uint32_t t)
{
	const struct cap_thread *th = &x->cd->threads[t];

	if (th->outside)
		sb_printf(sb, "pid %" PRId32 " tid %" PRId32 " (", th->pid, th->tid);
	else
		sb_printf(sb, "tid %" PRId32 " (", th->tid);
	sb_put(sb, th->comm, 16);
	sb_put(sb, th->outside ? ", outside the target)" : ")", 32);
}

/* ---------------------------------------------------------------------------
 * Memory figures.
 */
/* RSS of pid at or before ts (before: true) or at or after ts; 0 if no sample. */
static bool mem_at(const struct capdata *cd, int32_t pid, uint64_t ts, bool before,
		   struct cap_mem *out)
{
	bool found = false;
	size_t i;

	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid != pid)
			continue;
		if (before ? m->ts_ns <= ts && (!found || m->ts_ns >= out->ts_ns)
			   : m->ts_ns >= ts && (!found || m->ts_ns < out->ts_ns)) {
			*out = *m;
			found = true;
		}
	}
	if (found)
		return true;
	/* nothing on that side: the nearest sample on the other */
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid == pid && (!found || (before ? m->ts_ns < out->ts_ns : m->ts_ns > out->ts_ns))) {
			*out = *m;
			found = true;
		}
	}
	return found;
}

/* "; RSS +3.0 GiB" when pid's RSS rose (or fell) by RSS_NOTE_MIN or more
 * from before s to its peak (or low) during [s, e] and the sample after:
 * a populate that is unmapped right away still shows what it touched. */
static void put_rss_change(const struct capdata *cd, struct sbuf *sb, int32_t pid, uint64_t s,
			   uint64_t e)
{
	struct cap_mem a, b;
	uint64_t hi, lo;
	char sz[32];
	size_t i;

	if (!mem_at(cd, pid, s, true, &a) || !mem_at(cd, pid, e, false, &b))
		return;
	hi = lo = b.rss_bytes;
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid != pid || m->ts_ns < s || m->ts_ns > e)
			continue;
		hi = m->rss_bytes > hi ? m->rss_bytes : hi;
		lo = m->rss_bytes < lo ? m->rss_bytes : lo;
	}
	if (hi >= a.rss_bytes + RSS_NOTE_MIN) {
		fmt_bytes(sz, sizeof(sz), hi - a.rss_bytes);
		sb_printf(sb, "; RSS +%s", sz);
	} else if (a.rss_bytes >= lo + RSS_NOTE_MIN) {
		fmt_bytes(sz, sizeof(sz), a.rss_bytes - lo);
		sb_printf(sb, "; RSS -%s", sz);
	}
}

/* ---------------------------------------------------------------------------
 * What an mmap_lock holder was doing, from its syscall and arguments.
 * op: "mmap 3.0 GiB MAP_POPULATE"; call: "mmap(3.0 GiB, MAP_POPULATE)".
 */
struct opdesc {
	char op[160];
	char call[160];
};

struct flagname {
	uint64_t bit;
	const char *name;
};

static void flags_str(char *buf, size_t len, uint64_t v, const struct flagname *t, size_t n,
		      const char *none)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((v & t[i].bit) == t[i].bit && t[i].bit)
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "|" : "", t[i].name);
		if (used >= len)
			break;
	}
	if (!buf[0] && none)
		snprintf(buf, len, "%s", none);
}

static void hold_op(const struct ctx *x, const struct cap_hold *h, uint32_t repeats, struct opdesc *d)
{
	static const struct flagname mapf[] = {
		{ 0x1, "MAP_SHARED" }, { 0x10, "MAP_FIXED" }, { 0x2000, "MAP_LOCKED" },
		{ 0x8000, "MAP_POPULATE" }, { 0x40000, "MAP_HUGETLB" },
	}, prot[] = {
		{ 0x1, "PROT_READ" }, { 0x2, "PROT_WRITE" }, { 0x4, "PROT_EXEC" },
	};
	static const char *const advice[] = {
		[0] = "MADV_NORMAL", [1] = "MADV_RANDOM", [2] = "MADV_SEQUENTIAL",
		[3] = "MADV_WILLNEED", [4] = "MADV_DONTNEED", [8] = "MADV_FREE", [9] = "MADV_REMOVE",
		[14] = "MADV_HUGEPAGE", [15] = "MADV_NOHUGEPAGE", [20] = "MADV_COLD",
		[21] = "MADV_PAGEOUT", [22] = "MADV_POPULATE_READ", [23] = "MADV_POPULATE_WRITE",
		[25] = "MADV_COLLAPSE",
	};
	char sz[32], sz2[32], fl[96];
	const char *name = h->in_syscall ? syscall_name(h->syscall) : NULL;
	struct cap_mem m;

	fmt_bytes(sz, sizeof(sz), h->args[1]);
	if (!h->in_syscall) {
		if (x->cd->threads[h->thread].outside && !shows_ustack(x->cd, h->ustack)) {
			snprintf(d->op, sizeof(d->op), "kernel work of %s", x->cd->threads[h->thread].comm);
		} else {
			snprintf(d->op, sizeof(d->op), "a page fault or kernel work");
		}
		snprintf(d->call, sizeof(d->call), "%s", d->op);
	} else if (h->syscall == NR_mmap) {
		flags_str(fl, sizeof(fl), h->args[3], mapf, sizeof(mapf) / sizeof(mapf[0]), NULL);
		snprintf(d->op, sizeof(d->op), "mmap %s%s%s", sz, fl[0] ? " " : "", fl);
		snprintf(d->call, sizeof(d->call), "mmap(%s%s%s)", sz, fl[0] ? ", " : "", fl);
	} else if (h->syscall == NR_mprotect) {
		flags_str(fl, sizeof(fl), h->args[2], prot, sizeof(prot) / sizeof(prot[0]), "PROT_NONE");
		snprintf(d->op, sizeof(d->op), "mprotect %s %s", sz, fl);
		snprintf(d->call, sizeof(d->call), "mprotect(%s, %s)", sz, fl);
	} else if (h->syscall == NR_madvise) {
		const char *a = h->args[2] < sizeof(advice) / sizeof(advice[0]) && advice[h->args[2]]
					? advice[h->args[2]] : "advice ?";

		snprintf(d->op, sizeof(d->op), "madvise %s %s", sz, a);
		snprintf(d->call, sizeof(d->call), "madvise(%s, %s)", sz, a);
	} else if (h->syscall == NR_munmap || h->syscall == NR_mlock || h->syscall == NR_munlock ||
		   h->syscall == NR_mlock2 || h->syscall == NR_msync) {
		snprintf(d->op, sizeof(d->op), "%s %s", name, sz);
		snprintf(d->call, sizeof(d->call), "%s(%s)", name, sz);
	} else if (h->syscall == NR_mremap) {
		fmt_bytes(sz2, sizeof(sz2), h->args[2]);
		snprintf(d->op, sizeof(d->op), "mremap %s to %s", sz, sz2);
		snprintf(d->call, sizeof(d->call), "mremap(%s to %s)", sz, sz2);
	} else if (syscall_fork(h->syscall)) {
		/* the size of what fork copies: the process's VSZ at the time */
		if (mem_at(x->cd, h->mm_pid, h->start_ns, true, &m)) {
			fmt_bytes(sz2, sizeof(sz2), m.vsz_bytes);
			snprintf(d->op, sizeof(d->op), "fork of a %s process", sz2);
		} else {
			snprintf(d->op, sizeof(d->op), "fork");
		}
		snprintf(d->call, sizeof(d->call), "%s", d->op);
	} else if (name) {
		snprintf(d->op, sizeof(d->op), "%s", name);
		snprintf(d->call, sizeof(d->call), "%s()", name);
	} else {
		snprintf(d->op, sizeof(d->op), "syscall %" PRId32, h->syscall);
		snprintf(d->call, sizeof(d->call), "syscall %" PRId32, h->syscall);
	}
	if (repeats > 1) {
		size_t n = strlen(d->op), c = strlen(d->call);

		snprintf(d->op + n, sizeof(d->op) - n, " ×%" PRIu32, repeats);
		snprintf(d->call + c, sizeof(d->call) - c, " ×%" PRIu32, repeats);
	}
}

static const char *mode_words(unsigned int mode)
{
	return mode == CAP_HOLD_WRITE ? "write" : mode == CAP_HOLD_DOWNGRADED ? "write, then read" : "read";
}

/* The lock's type and mode from lock:contention_begin's flags. */
static const char *lock_type(uint8_t f)
{
	if (f & CAP_LCB_MUTEX)
		return "mutex";
	if (f & CAP_LCB_RT)
		return "rt_mutex";
	if (f & CAP_LCB_PERCPU)
		return "percpu_rwsem";
	if (f & CAP_LCB_SPIN)
		return (f & (CAP_LCB_READ | CAP_LCB_WRITE)) ? "rwlock" : "spinlock";
	if (f & (CAP_LCB_READ | CAP_LCB_WRITE))
		return "rwsem";
	return "lock";
}

/* The longest wait of a group: its stacks name the lock best. */
static const struct cap_block *group_longest(const struct ctx *x, const struct lgroup *g)
{
	const struct cap_block *best = NULL;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		const struct cap_block *b = &x->cd->blocks[x->lidx[k]];

		if (!best || b->dur_ns > best->dur_ns)
			best = b;
	}
	return best;
}

static bool user_stack_mentions(const struct capdata *cd, uint32_t ustack, const char *what)
{
	uint32_t i;

	if (ustack >= cd->nstacks)
		return false;
	for (i = 0; i < cd->stacks[ustack].nframes; i++) {
		if (strstr(cd->frames[cd->stacks[ustack].frames[i]].name, what))
			return true;
	}
	return false;
}

/* What kind of user-space lock a futex group is, from libc's entry points. */
static const char *futex_noun(const struct ctx *x, const struct lgroup *g)
{
	const struct cap_block *b = group_longest(x, g);

	if (b && user_stack_mentions(x->cd, b->ustack, "rwlock"))
		return "rwlock";
	if (b && user_stack_mentions(x->cd, b->ustack, "mutex"))
		return "mutex";
	return "futex lock";
}

/* Kernel functions that take a well-known lock, by what it protects. */
static const char *known_lock_of(const char *site)
{
	static const char *const fpos_sites[] = { "fdget_pos", "__fdget_pos", "__f_unlock_pos" };
	static const char *const file_sites[] = {
		"ext4_buffered_write_iter", "ext4_file_write_iter", "ext4_dio_write_iter",
		"generic_file_write_iter", "shmem_file_write_iter", "do_truncate", "vfs_fallocate",
		"ext4_fallocate", "ext4_setattr", "notify_change", "generic_file_llseek_size",
		"xfs_ilock", "btrfs_inode_lock",
	};
	static const char *const dir_sites[] = {
		"filename_create", "lookup_slow", "do_unlinkat", "do_rmdir", "lock_rename",
		"open_last_lookups", "do_renameat2", "iterate_dir", "vfs_rename", "lookup_open",
	};
	size_t i;

	if (!site)
		return NULL;
	for (i = 0; i < sizeof(fpos_sites) / sizeof(fpos_sites[0]); i++) {
		if (!strcmp(site, fpos_sites[i]))
			return "the position lock (f_pos_lock) of an open file shared by threads";
	}
	for (i = 0; i < sizeof(file_sites) / sizeof(file_sites[0]); i++) {
		if (!strcmp(site, file_sites[i]))
			return "the inode lock (i_rwsem) of a file";
	}
	for (i = 0; i < sizeof(dir_sites) / sizeof(dir_sites[0]); i++) {
		if (!strcmp(site, dir_sites[i]))
			return "the inode lock (i_rwsem) of a directory";
	}
	return NULL;
}

static const char *lock_mode(uint8_t f)
{
	if ((f & CAP_LCB_READ) && (f & CAP_LCB_WRITE))
		return "read+write";
	if (f & CAP_LCB_WRITE)
		return "write";
	if (f & CAP_LCB_READ)
		return "read";
	return NULL;
}

/* "a kernel rwsem (write) at 0xffff…, the inode lock (i_rwsem) of a file, taken in f" */
static void put_lock_name(struct ctx *x, const struct lgroup *g, struct sbuf *sb)
{
	const struct cap_block *b = group_longest(x, g);
	const char *site = b ? kernel_site(x, b->kstack) : NULL, *mode = lock_mode(g->lock_flags);
	const char *inode = known_lock_of(site);

	if (g->cls == DC_MMAP_LOCK) {
		sb_printf(sb, "mmap_lock of pid %" PRId32, g->pid);
		return;
	}
	if (g->cls == DC_FUTEX) {
		sb_printf(sb, "a %s (futex 0x%" PRIx64 ") of pid %" PRId32, futex_noun(x, g), g->obj,
			  g->pid);
		return;
	}
	sb_printf(sb, "a kernel %s", lock_type(g->lock_flags));
	if (mode)
		sb_printf(sb, " (%s)", mode);
	if (g->obj)
		sb_printf(sb, " at 0x%" PRIx64, g->obj);
	if (inode)
		sb_printf(sb, ", %s", inode);
	if (site) {
		sb_put(sb, ", taken in ", 16);
		sb_put(sb, site, SUMMARY_NAME_MAX);
	}
}

/* ---------------------------------------------------------------------------
 * Evidence sections.
 */
static json_t *waits_json(struct ctx *x)
{
	json_t *o = json_object();
	unsigned int c;

	for (c = 0; o && c < DC__COUNT; c++) {
		const struct ctotal *t = &x->tot[c];
		json_t *v = json_pack("{s:o, s:o, s:I, s:o}", "total_wait_ms", jms(t->total_ns),
				      "max_wait_ms", jms(t->max_ns), "waiters", (json_int_t)t->threads,
				      "count", jcount(t->count));

		if (v && c == DC_RECLAIM)
			json_object_set_new(v, "oncpu_ms", jms(t->oncpu_ns));
		if (v && c < DC_IDLE) {
			json_object_set_new(v, "stall", json_boolean(t->qualifies));
			if (x->have_baseline)
				json_object_set_new(v, "expected_ms", jms(t->expected_ns));
		}
		if (!v || json_object_set_new(o, class_names[c], v))
			x->oom = true;
	}
	return o;
}

static json_t *locks_json(struct ctx *x)
{
	json_t *a = json_array();
	size_t i, k;

	for (i = 0; a && i < x->ngroups && i < MAX_LOCKS; i++) {
		const struct lgroup *g = &x->groups[i];
		const char *mode = lock_mode(g->lock_flags);
		json_t *holders = json_array(), *o;
		struct sbuf name = { .len = 0 };

		put_lock_name(x, g, &name);
		for (k = 0; holders && k < g->nholders; k++) {
			const struct lholder *h = &g->holders[k];
			json_t *ho = thread_ref(x, h->thread);

			if (ho) {
				json_object_set_new(ho, "blame_ms", jms(h->blame_ns));
				json_object_set_new(ho, g->from_holds ? "holds" : "wakes", jcount(h->wakes));
				if (g->from_holds)
					json_object_set_new(ho, "hold_ms", jms(h->hold_ns));
			}
			if (!ho || json_array_append_new(holders, ho))
				x->oom = true;
		}
		o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:s, s:o?}",
			      "kind", class_names[g->cls], "addr", g->obj ? jhex(g->obj) : json_null(),
			      "pid", g->cls == DC_KERNEL_LOCK ? json_null() : json_integer(g->pid),
			      "type", g->cls == DC_FUTEX ? "futex" : g->cls == DC_MMAP_LOCK ? "rwsem" :
				      lock_type(g->lock_flags),
			      "mode", mode ? json_string(mode) : json_null(), "name", name.s,
			      "waiters", (json_int_t)g->waiters, "count", jcount(g->n),
			      "total_wait_ms", jms(g->total_ns), "max_wait_ms", jms(g->max_ns),
			      "blame", g->from_holds ? "holds" : "wakers", "holders", holders);
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}

/* One entry per (holder thread, mm) at or above the hold threshold. */
struct hentry {
	uint32_t thread;
	int32_t mm_pid;
	uint64_t hold_ns, holds, read_ns, write_ns;
	size_t longest;         /* index in cd->holds, or SIZE_MAX */
	bool in_progress;
};

static int cmp_hentry_key(const void *a, const void *b)
{
	const struct hentry *p = a, *q = b;

	if (p->thread != q->thread)
		return p->thread < q->thread ? -1 : 1;
	return p->mm_pid < q->mm_pid ? -1 : p->mm_pid > q->mm_pid;
}

static int cmp_hentry_hold(const void *a, const void *b)
{
	const struct hentry *p = a, *q = b;

	if (p->hold_ns != q->hold_ns)
		return p->hold_ns > q->hold_ns ? -1 : 1;
	return cmp_hentry_key(a, b);
}

/* Totals come from hold_total records (short holds included); threads that
 * have only hold records (a capture cut short) get the sum of those. */
static int holders_collect(struct ctx *x, struct hentry **out, size_t *nout)
{
	const struct capdata *cd = x->cd;
	struct hentry *e = calloc(cd->nhold_totals + cd->nholds + 1, sizeof(*e));
	size_t n = 0, i, m;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < cd->nhold_totals; i++) {
		const struct cap_hold_total *t = &cd->hold_totals[i];

		e[n++] = (struct hentry){ .thread = t->thread, .mm_pid = t->mm_pid, .hold_ns = t->hold_ns,
					  .holds = t->holds, .read_ns = t->read_ns,
					  .write_ns = t->write_ns, .longest = SIZE_MAX };
	}
	qsort(e, n, sizeof(*e), cmp_hentry_key);
	/* merge duplicates of one (thread, mm) */
	for (i = 0, m = 0; i < n; i++) {
		if (m && !cmp_hentry_key(&e[m - 1], &e[i])) {
			e[m - 1].hold_ns = sat_add(e[m - 1].hold_ns, e[i].hold_ns);
			e[m - 1].holds = sat_add(e[m - 1].holds, e[i].holds);
			e[m - 1].read_ns = sat_add(e[m - 1].read_ns, e[i].read_ns);
			e[m - 1].write_ns = sat_add(e[m - 1].write_ns, e[i].write_ns);
		} else {
			e[m++] = e[i];
		}
	}
	n = m;
	for (i = 0; i < cd->nholds; i++) {
		const struct cap_hold *h = &cd->holds[i];
		struct hentry key = { .thread = h->thread, .mm_pid = h->mm_pid }, *f;

		f = bsearch(&key, e, m, sizeof(*e), cmp_hentry_key);
		if (!f) {
			/* a hold without a total: appended, merged below */
			f = &e[n++];
			*f = key;
			f->longest = SIZE_MAX;
		}
		if (f->longest == SIZE_MAX || h->dur_ns > cd->holds[f->longest].dur_ns)
			f->longest = i;
		if (h->flags & CAP_BLOCK_IN_PROGRESS)
			f->in_progress = true;
	}
	/* entries made from holds alone: fold them per (thread, mm) */
	qsort(e + m, n - m, sizeof(*e), cmp_hentry_key);
	{
		size_t w = m;

		for (i = m; i < n; i++) {
			if (w > m && !cmp_hentry_key(&e[w - 1], &e[i])) {
				if (cd->holds[e[i].longest].dur_ns > cd->holds[e[w - 1].longest].dur_ns)
					e[w - 1].longest = e[i].longest;
				e[w - 1].in_progress |= e[i].in_progress;
			} else {
				e[w++] = e[i];
			}
		}
		for (i = m; i < w; i++)
			e[i].holds = 0;
		for (i = 0; i < cd->nholds; i++) {
			const struct cap_hold *h = &cd->holds[i];
			struct hentry key = { .thread = h->thread, .mm_pid = h->mm_pid }, *f;

			f = bsearch(&key, e + m, w - m, sizeof(*e), cmp_hentry_key);
			if (!f)
				continue;
			f->hold_ns = sat_add(f->hold_ns, h->dur_ns);
			f->holds++;
			if (h->mode == CAP_HOLD_READ)
				f->read_ns = sat_add(f->read_ns, h->dur_ns);
			else
				f->write_ns = sat_add(f->write_ns, h->dur_ns);
		}
		n = w;
	}
	qsort(e, n, sizeof(*e), cmp_hentry_hold);
	*out = e;
	*nout = n;
	return 0;
}

static json_t *holders_json(struct ctx *x, const struct hentry *e, size_t n, size_t *omitted)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	size_t i, shown = 0;

	*omitted = 0;
	for (i = 0; a && i < n; i++) {
		json_t *o, *longest = json_null();

		if (e[i].hold_ns < x->hold_thr_ns)
			continue;
		if (shown == MAX_HOLDERS) {
			(*omitted)++;
			continue;
		}
		shown++;
		if (e[i].longest != SIZE_MAX) {
			const struct cap_hold *h = &cd->holds[e[i].longest];
			struct opdesc d;

			hold_op(x, h, 1, &d);
			longest = json_pack("{s:s, s:o, s:o, s:b, s:s, s:o, s:b}", "mode",
					    capdata_hold_mode_name(h->mode), "hold_ms", jms(h->dur_ns),
					    "start_ms", jms(h->start_ns > x->win_start ? h->start_ns - x->win_start : 0),
					    "in_progress", (h->flags & CAP_BLOCK_IN_PROGRESS) != 0,
					    "operation", d.op, "stack", stack_json(x, h->ustack, h->kstack),
					    "stack_complete", stack_complete(cd, h->ustack));
		}
		o = thread_ref(x, e[i].thread);
		if (o && longest) {
			json_object_set_new(o, "mm_pid", json_integer(e[i].mm_pid));
			json_object_set_new(o, "hold_ms", jms(e[i].hold_ns));
			json_object_set_new(o, "holds", jcount(e[i].holds));
			json_object_set_new(o, "read_ms", jms(e[i].read_ns));
			json_object_set_new(o, "write_ms", jms(e[i].write_ns));
			json_object_set_new(o, "in_progress", json_boolean(e[i].in_progress));
			json_object_set_new(o, "longest", longest);
		} else {
			json_decref(longest);
		}
		if (!o || !longest || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}

static int cmp_mem(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_mem *p = &cd->mem[*(const size_t *)a], *q = &cd->mem[*(const size_t *)b];

	if (p->pid != q->pid)
		return p->pid < q->pid ? -1 : 1;
	if (p->ts_ns != q->ts_ns)
		return p->ts_ns < q->ts_ns ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Per process: RSS and VSZ at the start and end, their extremes, and the
 * series (at most MAX_MEM_POINTS, evenly picked) as [ms into the window, rss, vsz]. */
static json_t *memory_json(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	size_t *idx, i, j, k;

	if (!a)
		return NULL;
	idx = malloc((cd->nmem ? cd->nmem : 1) * sizeof(*idx));
	if (!idx) {
		x->oom = true;
		return a;
	}
	for (i = 0; i < cd->nmem; i++)
		idx[i] = i;
	qsort_r(idx, cd->nmem, sizeof(*idx), cmp_mem, (void *)cd);
	for (i = 0; i < cd->nmem; i = j) {
		const struct cap_mem *first = &cd->mem[idx[i]], *last;
		uint64_t rmin = UINT64_MAX, rmax = 0, vmax = 0;
		json_t *series = json_array(), *o;
		size_t n, step;

		for (j = i; j < cd->nmem && cd->mem[idx[j]].pid == first->pid; j++) {
			const struct cap_mem *m = &cd->mem[idx[j]];

			rmin = m->rss_bytes < rmin ? m->rss_bytes : rmin;
			rmax = m->rss_bytes > rmax ? m->rss_bytes : rmax;
			vmax = m->vsz_bytes > vmax ? m->vsz_bytes : vmax;
		}
		last = &cd->mem[idx[j - 1]];
		n = j - i;
		step = (n + MAX_MEM_POINTS - 1) / MAX_MEM_POINTS;
		for (k = i; series && k < j; k += step) {
			const struct cap_mem *m = &cd->mem[idx[k]];
			json_t *p = json_pack("[o, o, o]",
					      jms(m->ts_ns > x->win_start ? m->ts_ns - x->win_start : 0),
					      jcount(m->rss_bytes), jcount(m->vsz_bytes));

			if (!p || json_array_append_new(series, p))
				x->oom = true;
		}
		o = json_pack("{s:i, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o?}", "pid", first->pid,
			      "samples", (json_int_t)n, "rss_start_bytes", jcount(first->rss_bytes),
			      "rss_end_bytes", jcount(last->rss_bytes), "rss_min_bytes", jcount(rmin),
			      "rss_max_bytes", jcount(rmax), "vsz_start_bytes", jcount(first->vsz_bytes),
			      "vsz_end_bytes", jcount(last->vsz_bytes), "vsz_max_bytes", jcount(vmax),
			      "series", series);
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	free(idx);
	return a;
}

static json_t *cpu_json(struct ctx *x, const struct cpuinfo *ci, size_t *omitted)
{
	const struct capdata *cd = x->cd;
	json_t *threads = json_array(), *o;
	size_t i;

	*omitted = ci->nthreads > MAX_CPU_THREADS ? ci->nthreads - MAX_CPU_THREADS : 0;
	for (i = 0; threads && i < ci->nthreads && i < MAX_CPU_THREADS; i++) {
		const struct tcpu *t = &ci->threads[i];
		size_t s = mode_sample(cd, ci->tsamp + t->run_first, t->run_n);
		json_t *to = thread_ref(x, t->thread);

		if (to) {
			json_object_set_new(to, "oncpu_ms", jms(t->oncpu_ns));
			json_object_set_new(to, "longest_run_ms", jms(t->run_ns));
			json_object_set_new(to, "during_runnable_ms", jms(t->taken_ns));
			json_object_set_new(to, "stack", s == SIZE_MAX ? json_array() :
					    stack_json(x, cd->samples[s].ustack, cd->samples[s].kstack));
		}
		if (!to || json_array_append_new(threads, to))
			x->oom = true;
	}
	o = json_pack("{s:o, s:I, s:o?}", "sample_period_ms", jms(x->period_ns),
		      "samples", (json_int_t)x->nsamp, "threads", threads);
	return o;
}

static int cmp_io(const void *a, const void *b, void *arg)
{
	const struct ctx *x = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct cap_thread *p = &x->cd->threads[i], *q = &x->cd->threads[j];

	if (p->io_bytes != q->io_bytes)
		return p->io_bytes > q->io_bytes ? -1 : 1;
	if (x->tio_ns[i] != x->tio_ns[j])
		return x->tio_ns[i] > x->tio_ns[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Threads by block I/O issued, then by time waited on I/O. idx must hold
 * nthreads entries; returns how many threads have either. */
static size_t io_order(struct ctx *x, uint32_t *idx)
{
	size_t n = 0, i;

	for (i = 0; i < x->cd->nthreads; i++) {
		if (x->cd->threads[i].io_bytes || x->tio_ns[i])
			idx[n++] = (uint32_t)i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_io, x);
	return n;
}

static json_t *io_json(struct ctx *x, const uint32_t *idx, size_t n, size_t *omitted)
{
	json_t *a = json_array();
	size_t i;

	*omitted = n > MAX_IO_THREADS ? n - MAX_IO_THREADS : 0;
	for (i = 0; a && i < n && i < MAX_IO_THREADS; i++) {
		const struct cap_thread *t = &x->cd->threads[idx[i]];
		json_t *o = thread_ref(x, idx[i]);

		if (o) {
			json_object_set_new(o, "io_bytes", jcount(t->io_bytes));
			json_object_set_new(o, "io_count", jcount(t->io_count));
			json_object_set_new(o, "io_wait_ms", jms(x->tio_ns[idx[i]]));
		}
		if (!o || json_array_append_new(a, o))
			x->oom = true;
	}
	return a;
}

/* ---------------------------------------------------------------------------
 * The verdict.
 */
struct verdict {
	enum diag_kind kind;
	struct sbuf sum;
	uint64_t waiters, total_ns, max_ns;
	json_t *culprit;
};

static void put_waited(struct sbuf *sb, uint64_t waiters, uint64_t total, uint64_t max,
		       const char *verb)
{
	char t[32], m[32];

	fmt_dur(t, sizeof(t), total);
	fmt_dur(m, sizeof(m), max);
	sb_printf(sb, "%" PRIu64 " thread%s %s %s in total (max %s)", waiters, waiters == 1 ? "" : "s",
		  verb, t, m);
}

static const struct lgroup *top_group(const struct ctx *x, unsigned int cls)
{
	size_t i;

	for (i = 0; i < x->ngroups; i++) {
		if (x->groups[i].cls == cls)
			return &x->groups[i];
	}
	return NULL;
}

static const struct hentry *find_hentry(const struct hentry *e, size_t n, uint32_t t, int32_t mm_pid)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].thread == t && e[i].mm_pid == mm_pid)
			return &e[i];
	}
	return NULL;
}

static void verdict_mmap(struct ctx *x, const struct lgroup *g, const struct hentry *he, size_t nhe,
			 struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_hold *hold = NULL;
	const struct hentry *e = NULL;
	uint32_t holder = 0, ops = 1;
	char held[32];
	struct opdesc d;
	size_t i;

	put_waited(&v->sum, g->waiters, g->total_ns, g->max_ns, "waited");
	sb_put(&v->sum, " for ", 8);
	put_lock_name(x, g, &v->sum);
	if (g->nholders && g->from_holds) {
		holder = g->holders[0].thread;
		hold = &cd->holds[g->holders[0].best];
		ops = g->holders[0].ops;
	} else if (!g->nholders) {
		/* no hold overlapped and no waker: the biggest holder of that mm */
		for (i = 0; i < nhe; i++) {
			if (he[i].mm_pid == g->pid && he[i].longest != SIZE_MAX) {
				holder = he[i].thread;
				hold = &cd->holds[he[i].longest];
				break;
			}
		}
	}
	if (hold) {
		uint64_t held_ns = g->nholders ? g->holders[0].hold_ns : hold->dur_ns;
		unsigned int mode = hold->mode;

		e = find_hentry(he, nhe, holder, g->pid);
		if (e) {
			held_ns = e->hold_ns;
			if (mode != CAP_HOLD_DOWNGRADED)
				mode = e->write_ns > e->read_ns ? CAP_HOLD_WRITE : CAP_HOLD_READ;
		}
		hold_op(x, hold, ops, &d);
		fmt_dur(held, sizeof(held), held_ns);
		sb_put(&v->sum, "; ", 4);
		put_who(x, &v->sum, holder);
		sb_printf(&v->sum, " held it for %s for %s inside %s", mode_words(mode), held, d.call);
		{
			struct sbuf callers = { .len = 0 };

			if (put_callers(x, &callers, hold->ustack))
				sb_printf(&v->sum, " called from %s", callers.s);
		}
		if (hold->flags & CAP_BLOCK_IN_PROGRESS)
			sb_put(&v->sum, " (still held at the end)", 32);
		put_rss_change(cd, &v->sum, g->pid, hold->start_ns, sat_add(hold->start_ns, hold->dur_ns));
		v->culprit = culprit_json(x, holder, hold->ustack, hold->kstack, d.op);
	} else if (g->nholders) {
		const struct cap_block *b = &cd->blocks[g->holders[0].best];
		const char *site = kernel_site(x, b->waker_kstack);
		struct sbuf op = { .len = 0 }, callers = { .len = 0 };

		fmt_dur(held, sizeof(held), g->holders[0].best_ns);
		sb_printf(&op, "held mmap_lock for %s", held);
		sb_put(&v->sum, "; ", 4);
		put_who(x, &v->sum, b->waker);
		sb_printf(&v->sum, " held it for %s", held);
		if (site)
			sb_printf(&v->sum, ", released in %s", site);
		if (put_callers(x, &callers, b->waker_ustack))
			sb_printf(&v->sum, " called from %s", callers.s);
		v->culprit = culprit_json(x, b->waker, b->waker_ustack, b->waker_kstack, op.s);
	} else {
		sb_put(&v->sum, "; its holder was not seen (no mmap_lock hold or waker recorded)", 80);
	}
}

/* futex and kernel_lock: the holder is the thread that woke the waiters. */
static void verdict_woken(struct ctx *x, const struct lgroup *g, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	const char *site;
	char held[32];

	put_waited(&v->sum, g->waiters, g->total_ns, g->max_ns, "waited");
	sb_put(&v->sum, " for ", 8);
	put_lock_name(x, g, &v->sum);
	if (!g->nholders) {
		sb_put(&v->sum, "; no thread released it before the end: its holder is unknown", 80);
		return;
	}
	b = &cd->blocks[g->holders[0].best];
	site = g->cls == DC_KERNEL_LOCK ? kernel_site(x, b->waker_kstack) : NULL;
	fmt_dur(held, sizeof(held), g->holders[0].best_ns);
	if (g->cls == DC_FUTEX)
		sb_printf(&op, "held %s for %s", futex_noun(x, g), held);
	else
		sb_printf(&op, "held the kernel %s for %s%s%s", lock_type(g->lock_flags), held,
			  site ? " in " : "", site ? site : "");
	sb_put(&v->sum, "; ", 4);
	put_who(x, &v->sum, b->waker);
	sb_printf(&v->sum, " held it for %s", held);
	if (site)
		sb_printf(&v->sum, " and released it in %s", site);
	if (put_callers(x, &callers, b->waker_ustack))
		sb_printf(&v->sum, "%s %s", site ? " called from" : ", released in", callers.s);
	v->culprit = culprit_json(x, b->waker, b->waker_ustack, b->waker_kstack, op.s);
}

/* The longest block of thread t in cause c, or NULL. */
static const struct cap_block *longest_block(const struct ctx *x, uint32_t t, int c)
{
	const struct cap_block *best = NULL;
	size_t i;

	for (i = 0; i < x->cd->nblocks; i++) {
		const struct cap_block *b = &x->cd->blocks[i];

		if (b->thread == t && (c < 0 || x->cls[i] == c) && (!best || b->dur_ns > best->dur_ns))
			best = b;
	}
	return best;
}

static void verdict_io(struct ctx *x, const uint32_t *order, size_t norder, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	struct { int32_t nr; uint64_t ns; } sys[16];
	size_t nsys = 0, i, j;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	char sz[32];
	uint32_t t;
	const char *name = NULL;

	put_waited(&v->sum, x->tot[DC_IO].threads, x->tot[DC_IO].total_ns, x->tot[DC_IO].max_ns,
		   "waited");
	sb_put(&v->sum, " on block I/O", 16);
	/* which syscall most of the waiting happened in */
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *bl = &cd->blocks[i];

		if (x->cls[i] != DC_IO || !bl->in_syscall)
			continue;
		for (j = 0; j < nsys && sys[j].nr != bl->syscall; j++)
			;
		if (j == nsys) {
			if (nsys == sizeof(sys) / sizeof(sys[0]))
				continue;
			sys[nsys++] = (typeof(sys[0])){ bl->syscall, 0 };
		}
		sys[j].ns = sat_add(sys[j].ns, bl->dur_ns);
	}
	for (i = 0, j = SIZE_MAX; i < nsys; i++) {
		if (j == SIZE_MAX || sys[i].ns > sys[j].ns)
			j = i;
	}
	if (j != SIZE_MAX && (name = syscall_name(sys[j].nr)))
		sb_printf(&v->sum, ", mostly in %s", name);
	if (!norder) {
		sb_put(&v->sum, "; no thread's I/O was seen", 40);
		return;
	}
	t = order[0];
	b = longest_block(x, t, DC_IO);
	if (!b)
		b = longest_block(x, t, -1);
	sb_put(&v->sum, "; ", 4);
	put_who(x, &v->sum, t);
	if (cd->threads[t].io_bytes) {
		fmt_bytes(sz, sizeof(sz), cd->threads[t].io_bytes);
		sb_printf(&v->sum, " issued the most I/O: %s in %" PRIu64 " request%s", sz,
			  cd->threads[t].io_count, cd->threads[t].io_count == 1 ? "" : "s");
		sb_printf(&op, "issued %s of block I/O in %" PRIu64 " request%s", sz,
			  cd->threads[t].io_count, cd->threads[t].io_count == 1 ? "" : "s");
	} else {
		fmt_dur(sz, sizeof(sz), x->tio_ns[t]);
		sb_printf(&v->sum, " waited the most: %s", sz);
		sb_printf(&op, "waited %s on I/O", sz);
	}
	if (b && put_callers(x, &callers, b->ustack))
		sb_printf(&v->sum, ", from %s", callers.s);
	v->culprit = culprit_json(x, t, b ? b->ustack : ST_NO_STACK, b ? b->kstack : ST_NO_STACK, op.s);
}

static void verdict_runq(struct ctx *x, const struct cpuinfo *ci, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct tcpu *t;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	size_t *idx, n = 0, i, s;
	char took[32];

	put_waited(&v->sum, x->tot[DC_RUNQUEUE].threads, x->tot[DC_RUNQUEUE].total_ns,
		   x->tot[DC_RUNQUEUE].max_ns, "waited runnable");
	sb_put(&v->sum, ", preempted or CPU-throttled", 40);
	if (ci->taker == SIZE_MAX) {
		sb_put(&v->sum, "; no thread of the target ran meanwhile: the CPU went to other "
				"processes or the cgroup's CPU quota was spent", 160);
		return;
	}
	t = &ci->threads[ci->taker];
	idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx));
	for (i = 0; idx && i < x->nsamp; i++) {
		if (ci->in_runq[i] && cd->samples[x->samp[i]].thread == t->thread)
			idx[n++] = x->samp[i];
	}
	s = idx ? mode_sample(cd, idx, n) : SIZE_MAX;
	free(idx);
	fmt_dur(took, sizeof(took), t->taken_ns);
	sb_put(&v->sum, "; the target's threads that took the CPU meanwhile: ", 64);
	put_who(x, &v->sum, t->thread);
	sb_printf(&v->sum, " ran %s", took);
	if (s != SIZE_MAX && put_callers(x, &callers, cd->samples[s].ustack))
		sb_printf(&v->sum, " in %s", callers.s);
	for (i = 0, n = 0; i < ci->nthreads && n < 2; i++) {
		if (i == ci->taker || !ci->threads[i].taken_ns)
			continue;
		fmt_dur(took, sizeof(took), ci->threads[i].taken_ns);
		sb_printf(&v->sum, ", tid %" PRId32 " %s", cd->threads[ci->threads[i].thread].tid, took);
		n++;
	}
	fmt_dur(took, sizeof(took), t->taken_ns);
	sb_printf(&op, "ran %s on-CPU while other threads waited runnable", took);
	v->culprit = culprit_json(x, t->thread, s != SIZE_MAX ? cd->samples[s].ustack : ST_NO_STACK,
				  s != SIZE_MAX ? cd->samples[s].kstack : ST_NO_STACK, op.s);
}

static void verdict_reclaim(struct ctx *x, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct cap_block *b;
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	uint32_t t = UINT32_MAX, us = ST_NO_STACK, ks = ST_NO_STACK;
	struct cap_mem m;
	char d[32], sz[32];
	size_t i;

	put_waited(&v->sum, x->tot[DC_RECLAIM].threads, x->tot[DC_RECLAIM].total_ns,
		   x->tot[DC_RECLAIM].max_ns, "stalled");
	sb_put(&v->sum, " in direct memory reclaim or compaction", 48);
	if (x->tot[DC_RECLAIM].oncpu_ns) {
		fmt_dur(d, sizeof(d), x->tot[DC_RECLAIM].oncpu_ns);
		sb_printf(&v->sum, " (%s of it on-CPU)", d);
	}
	for (i = 0; i < cd->nthreads; i++) {
		if (thread_is_target(x, (uint32_t)i) && x->treclaim_ns[i] &&
		    (t == UINT32_MAX || x->treclaim_ns[i] > x->treclaim_ns[t]))
			t = (uint32_t)i;
	}
	if (t == UINT32_MAX)
		return;
	b = longest_block(x, t, DC_RECLAIM);
	if (b) {
		us = b->ustack;
		ks = b->kstack;
	} else {
		size_t *idx = malloc((x->nsamp ? x->nsamp : 1) * sizeof(*idx)), n = 0, s;

		for (i = 0; idx && i < x->nsamp; i++) {
			const struct cap_sample *smp = &cd->samples[x->samp[i]];

			if (smp->thread == t && (stack_feat(x, smp->kstack) & KF_RECLAIM))
				idx[n++] = x->samp[i];
		}
		s = idx ? mode_sample(cd, idx, n) : SIZE_MAX;
		free(idx);
		if (s != SIZE_MAX) {
			us = cd->samples[s].ustack;
			ks = cd->samples[s].kstack;
		}
	}
	fmt_dur(d, sizeof(d), x->treclaim_ns[t]);
	sb_put(&v->sum, "; ", 4);
	put_who(x, &v->sum, t);
	sb_printf(&v->sum, " the most, %s", d);
	if (put_callers(x, &callers, us))
		sb_printf(&v->sum, ", allocating in %s", callers.s);
	/* page cache is charged too but not in RSS: a small RSS says nothing */
	if (mem_at(cd, cd->threads[t].pid, x->win_end, true, &m) && m.rss_bytes >= RSS_NOTE_MIN) {
		fmt_bytes(sz, sizeof(sz), m.rss_bytes);
		sb_printf(&v->sum, "; RSS of pid %" PRId32 ": %s", cd->threads[t].pid, sz);
	}
	sb_printf(&op, "stalled %s in direct reclaim", d);
	v->culprit = culprit_json(x, t, us, ks, op.s);
}

static void verdict_busy(struct ctx *x, const struct cpuinfo *ci, struct verdict *v)
{
	const struct capdata *cd = x->cd;
	const struct tcpu *t = &ci->threads[ci->busiest];
	size_t s = mode_sample(cd, ci->tsamp + t->run_first, t->run_n);
	struct sbuf op = { .len = 0 }, callers = { .len = 0 };
	char d[32];

	fmt_dur(d, sizeof(d), t->run_ns);
	sb_put(&v->sum, "no thread waited abnormally; ", 40);
	put_who(x, &v->sum, t->thread);
	sb_printf(&v->sum, " ran on-CPU for %s without blocking", d);
	if (s != SIZE_MAX && put_callers(x, &callers, cd->samples[s].ustack))
		sb_printf(&v->sum, ", in %s", callers.s);
	sb_printf(&op, "on-CPU for %s without blocking", d);
	v->culprit = culprit_json(x, t->thread, s != SIZE_MAX ? cd->samples[s].ustack : ST_NO_STACK,
				  s != SIZE_MAX ? cd->samples[s].kstack : ST_NO_STACK, op.s);
}

static void verdict_none(struct ctx *x, struct verdict *v)
{
	char idle[32], thr[32], run[32];
	uint64_t threads = 0;
	size_t i;

	for (i = 0; i < x->cd->nthreads; i++)
		threads += thread_is_target(x, (uint32_t)i);
	fmt_dur(idle, sizeof(idle), x->tot[DC_IDLE].total_ns);
	fmt_dur(thr, sizeof(thr), DIAG_STALL_MAX_NS);
	fmt_dur(run, sizeof(run), DIAG_BUSY_RUN_NS);
	sb_printf(&v->sum, "no stall: %" PRIu64 " thread%s spent %s in idle waits (polling, sleeping, "
			   "waiting for work); no abnormal wait reached %s and no thread ran %s without "
			   "blocking", threads, threads == 1 ? "" : "s", idle, thr, run);
	if (x->have_baseline)
		sb_put(&v->sum, " beyond the baseline", 32);
}

static enum diag_kind judge(struct ctx *x, const struct cpuinfo *ci)
{
	enum diag_kind best = DIAG_NONE;
	unsigned int c;

	for (c = 0; c < DC_IDLE; c++) {
		struct ctotal *t = &x->tot[c];

		t->score_ns = t->total_ns > t->expected_ns ? t->total_ns - t->expected_ns : 0;
		if (c == DC_RUNQUEUE)
			t->qualifies = t->score_ns >= DIAG_STALL_TOTAL_NS &&
				       (double)t->score_ns * 100.0 >=
					       (double)DIAG_RUNQ_SHARE_PCT * (double)t->threads * (double)x->win_ns;
		else
			t->qualifies = t->score_ns >= DIAG_STALL_TOTAL_NS ||
				       (t->max_ns >= DIAG_STALL_MAX_NS && t->score_ns >= DIAG_STALL_MAX_NS);
		if (t->qualifies && (best == DIAG_NONE || t->score_ns > x->tot[best].score_ns))
			best = (enum diag_kind)c;
	}
	if (best == DIAG_NONE && ci->busiest != SIZE_MAX)
		best = DIAG_CPU_BUSY;
	return best;
}

static void ctx_release(struct ctx *x)
{
	free(x->ffeat);
	free(x->sfeat);
	free(x->cls);
	free(x->tmask);
	free(x->treclaim_ns);
	free(x->tio_ns);
	free(x->acc);
	free(x->acc2);
	free(x->accbest);
	free(x->accbest_ns);
	free(x->touched);
	free(x->lidx);
	free(x->groups);
	free(x->samp);
	free(x->trun_s);
	free(x->trun_e);
}

static int ctx_init(struct ctx *x, const struct capdata *cd, const struct aggregate *agg)
{
	size_t nt = cd->nthreads ? cd->nthreads : 1;

	memset(x, 0, sizeof(*x));
	x->cd = cd;
	x->agg = agg;
	x->win_start = cd->window.start_mono_ns;
	x->win_ns = cd->window.duration_ns ? cd->window.duration_ns : 1;
	x->win_end = sat_add(x->win_start, cd->window.duration_ns);
	/* samples without a period (an older capture) are taken as 100 Hz */
	x->period_ns = cd->window.sample_period_ns ? cd->window.sample_period_ns : 10000000ull;
	x->hold_thr_ns = cd->window.hold_threshold_ns ? cd->window.hold_threshold_ns
						      : DIAG_HOLD_THRESHOLD_NS;
	x->ffeat = calloc(cd->nframes ? cd->nframes : 1, sizeof(*x->ffeat));
	x->sfeat = calloc(cd->nstacks ? cd->nstacks : 1, sizeof(*x->sfeat));
	x->cls = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->cls));
	x->lidx = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->lidx));
	x->samp = calloc(cd->nsamples ? cd->nsamples : 1, sizeof(*x->samp));
	x->tmask = calloc(nt, sizeof(*x->tmask));
	x->treclaim_ns = calloc(nt, sizeof(*x->treclaim_ns));
	x->tio_ns = calloc(nt, sizeof(*x->tio_ns));
	x->acc = calloc(nt, sizeof(*x->acc));
	x->acc2 = calloc(nt, sizeof(*x->acc2));
	x->accbest = calloc(nt, sizeof(*x->accbest));
	x->accbest_ns = calloc(nt, sizeof(*x->accbest_ns));
	x->touched = calloc(nt, sizeof(*x->touched));
	x->trun_s = calloc(nt, sizeof(*x->trun_s));
	x->trun_e = calloc(nt, sizeof(*x->trun_e));
	if (!x->trun_s || !x->trun_e || !x->ffeat || !x->sfeat || !x->cls || !x->lidx || !x->samp || !x->tmask ||
	    !x->treclaim_ns || !x->tio_ns || !x->acc || !x->acc2 || !x->accbest || !x->accbest_ns ||
	    !x->touched)
		return -ENOMEM;
	return 0;
}

/* The baseline's waits (the same classification run over the baseline's own
 * capture), per second of its window, scaled to this window. */
static int apply_baseline(struct ctx *x, const struct capdata *base)
{
	struct cpuinfo ci = { .busiest = SIZE_MAX, .taker = SIZE_MAX };
	struct ctx b;
	unsigned int c;
	int err;

	if (!base || !base->window.duration_ns)
		return 0;
	err = ctx_init(&b, base, NULL);
	if (!err) {
		collect_samples(&b);
		err = cpu_busy_runs(&b, &ci);
	}
	if (!err) {
		classify_all(&b);
		x->have_baseline = true;
		for (c = 0; c < DC_IDLE; c++) {
			double e = (double)b.tot[c].total_ns * ((double)x->win_ns / (double)base->window.duration_ns);

			x->tot[c].expected_ns = e >= 1.8e19 ? UINT64_MAX : (uint64_t)e;
		}
	}
	cpu_release(&ci);
	ctx_release(&b);
	return err;
}

int diagnose_build(const struct capdata *cd, const struct aggregate *agg, const struct capdata *baseline,
		   json_t **out)
{
	struct verdict v = { .kind = DIAG_NONE };
	struct cpuinfo ci = { .busiest = SIZE_MAX, .taker = SIZE_MAX };
	struct hentry *he = NULL;
	size_t nhe = 0, om_holders = 0, om_cpu = 0, om_io = 0, nio;
	uint32_t *ioidx = NULL;
	struct ctx x;
	json_t *o = NULL, *verdict, *meta;
	int err;

	if (out)
		*out = NULL;
	if (!cd || !out)
		return -EINVAL;
	err = ctx_init(&x, cd, agg);
	if (err)
		goto cleanup;
	collect_samples(&x);
	if ((err = cpu_busy_runs(&x, &ci)))
		goto cleanup;
	classify_all(&x);
	if ((err = build_groups(&x)) || (err = blame_groups(&x)) || (err = cpu_analyse(&x, &ci)) ||
	    (err = holders_collect(&x, &he, &nhe)))
		goto cleanup;
	ioidx = malloc((cd->nthreads ? cd->nthreads : 1) * sizeof(*ioidx));
	if (!ioidx) {
		err = -ENOMEM;
		goto cleanup;
	}
	nio = io_order(&x, ioidx);
	if ((err = apply_baseline(&x, baseline)))
		goto cleanup;
	v.kind = judge(&x, &ci);

	switch (v.kind) {
	case DIAG_MMAP_LOCK:
	case DIAG_KERNEL_LOCK:
	case DIAG_FUTEX: {
		const struct lgroup *g = top_group(&x, v.kind);

		if (v.kind == DIAG_MMAP_LOCK)
			verdict_mmap(&x, g, he, nhe, &v);
		else
			verdict_woken(&x, g, &v);
		break;
	}
	case DIAG_IO:
		verdict_io(&x, ioidx, nio, &v);
		break;
	case DIAG_RUNQUEUE:
		verdict_runq(&x, &ci, &v);
		break;
	case DIAG_MEMORY_RECLAIM:
		verdict_reclaim(&x, &v);
		break;
	case DIAG_CPU_BUSY:
		verdict_busy(&x, &ci, &v);
		break;
	default:
		verdict_none(&x, &v);
		break;
	}
	if (v.kind < DIAG_CPU_BUSY) {
		v.waiters = x.tot[v.kind].threads;
		v.total_ns = x.tot[v.kind].total_ns;
		v.max_ns = x.tot[v.kind].max_ns;
	}

	verdict = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "kind", diagnose_kind_name(v.kind),
			    "summary", v.sum.s, "waiters", (json_int_t)v.waiters,
			    "total_wait_ms", jms(v.total_ns), "max_wait_ms", jms(v.max_ns),
			    "culprit", v.culprit ? v.culprit : json_null());
	v.culprit = NULL;
	o = json_pack("{s:o?}", "verdict", verdict);
	if (!o) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_set_new(o, "waits", waits_json(&x));
	json_object_set_new(o, "locks", locks_json(&x));
	json_object_set_new(o, "holders", holders_json(&x, he, nhe, &om_holders));
	json_object_set_new(o, "memory", memory_json(&x));
	json_object_set_new(o, "cpu", cpu_json(&x, &ci, &om_cpu));
	json_object_set_new(o, "io", io_json(&x, ioidx, nio, &om_io));
	meta = json_pack("{s:f, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:b, s:{s:I, s:I, s:I, s:I}}",
			 "window_s", (double)cd->window.duration_ns / 1e9,
			 "sample_period_ms", jms(cd->nsamples ? x.period_ns : 0),
			 "hold_threshold_ms", jms(x.hold_thr_ns),
			 "stall_max_ms", jms(DIAG_STALL_MAX_NS),
			 "stall_total_ms", jms(DIAG_STALL_TOTAL_NS),
			 "busy_run_ms", jms(DIAG_BUSY_RUN_NS),
			 "busy_share_pct", (json_int_t)DIAG_BUSY_SHARE_PCT,
			 "runqueue_share_pct", (json_int_t)DIAG_RUNQ_SHARE_PCT,
			 "idle_wait_ms", jms(x.tot[DC_IDLE].total_ns),
			 "baseline", x.have_baseline,
			 "omitted", "locks", (json_int_t)(x.ngroups > MAX_LOCKS ? x.ngroups - MAX_LOCKS : 0),
			 "holders", (json_int_t)om_holders, "cpu", (json_int_t)om_cpu,
			 "io", (json_int_t)om_io);
	json_object_set_new(o, "diagnosis", meta);
	if (x.oom || json_object_size(o) != 8) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = o;
	o = NULL;
cleanup:
	json_decref(o);
	json_decref(v.culprit);
	free(he);
	free(ioidx);
	cpu_release(&ci);
	ctx_release(&x);
	return err;
}

int diagnose_summary_line(const json_t *diag, char *buf, size_t len)
{
	const json_t *v = json_object_get(diag, "verdict");
	const char *kind = json_string_value(json_object_get(v, "kind"));
	const char *sum = json_string_value(json_object_get(v, "summary"));
	static const char ell[] = "…";
	size_t n = 0, i, cut;

	if (!kind || !sum || len < sizeof("verdict: ") + sizeof(ell))
		return -EINVAL;
	snprintf(buf, len, "verdict: %s: ", kind);
	n = strlen(buf);
	cut = strlen(sum);
	if (n + cut >= len) {
		/* leave room for the ellipsis, and cut at a character boundary */
		cut = len - n - sizeof(ell);
		while (cut && ((unsigned char)sum[cut] & 0xc0) == 0x80)
			cut--;
	}
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)sum[i];

		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (cut < strlen(sum)) {
		memcpy(buf + n, ell, sizeof(ell));
		n += sizeof(ell) - 1;
	}
	buf[n] = '\0';
	return 0;
}
