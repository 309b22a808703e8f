/* classify.c: the cause of every block, from its kernel evidence (syscall, frames, task state, lock tracepoints), and the totals per cause. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

/* Names in "waits"; the abnormal ones are the verdict kinds' names. */
static const char *const cause_names[DIAG_CAUSE__COUNT] = {
	[DIAG_CAUSE_MMAP_LOCK] = "mmap_lock", [DIAG_CAUSE_KERNEL_LOCK] = "kernel_lock",
	[DIAG_CAUSE_APP_LOCK] = "app_lock", [DIAG_CAUSE_MEMORY_RECLAIM] = "memory_reclaim",
	[DIAG_CAUSE_IO] = "io", [DIAG_CAUSE_RUNQUEUE] = "runqueue",
	[DIAG_CAUSE_LOOP_BLOCKED] = "loop_blocked", [DIAG_CAUSE_DEPENDENCY] = "dependency",
	[DIAG_CAUSE_STOPPED] = "stopped", [DIAG_CAUSE_IDLE] = "idle",
	[DIAG_CAUSE_BUSY] = "busy", [DIAG_CAUSE_OTHER] = "other",
};

const char *diagnose_cause_name(unsigned int cause)
{
	return cause < DIAG_CAUSE__COUNT ? cause_names[cause] : "unknown";
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

/* Frame evidence: the patterns that give each frame its feature bits (KF_*, UF_* in diagnose_int.h). */
enum match { M_BASE, M_PREFIX, M_SUBSTR };

struct fpat {
	const char *pat;
	uint16_t bits;
	uint8_t how;
};

/* Kernel functions by what they tell, matched on their base name (".isra.0",
 * ".cold" ignored) or as a prefix. A frame gets the bits of every group that
 * names it. Each list ends in NULL. */
struct fgroup {
	uint16_t bits;
	uint8_t how;
	const char *const *names;
};

static const char *const reclaim_base[] = {
	"__alloc_pages_direct_reclaim", "__alloc_pages_direct_compact",
	"__alloc_pages_slowpath", "try_to_free_pages", "try_to_free_mem_cgroup_pages",
	"mem_cgroup_handle_over_high", "reclaim_throttle", "__perform_reclaim",
	"do_try_to_free_pages", "throttle_direct_reclaim", "try_charge_memcg", "try_charge",
	"mem_cgroup_oom_synchronize", "mem_cgroup_out_of_memory", "out_of_memory",
	"try_to_compact_pages", "compact_zone", "__node_reclaim", "shrink_lruvec",
	"shrink_folio_list", "shrink_inactive_list", "shrink_active_list", "shrink_slab", NULL,
};

static const char *const reclaim_prefix[] = {
	"shrink_node", NULL,
};

static const char *const io_plumb_base[] = {
	"io_schedule", "io_schedule_timeout", NULL,
};

static const char *const io_base[] = {
	"folio_wait_bit_common", "folio_wait_bit", "folio_wait_bit_killable",
	"folio_wait_writeback", "folio_wait_stable", "__folio_lock", "__folio_lock_killable",
	"__folio_lock_or_retry", "wait_on_page_bit_common", "__filemap_fdatawait_range",
	"filemap_fdatawait_range", "filemap_fdatawait_keep_errors",
	"file_write_and_wait_range", "filemap_write_and_wait_range", "file_fdatawait_range",
	"submit_bio_wait", "balance_dirty_pages", "balance_dirty_pages_ratelimited_flags",
	"wbt_wait", "rq_qos_wait", "__wait_on_buffer", "bit_wait_io", "blkdev_issue_flush",
	"__iomap_dio_rw", "iomap_dio_rw", "vfs_fsync_range", "do_fsync", "ksys_sync", NULL,
};

static const char *const io_prefix[] = {
	"jbd2_", "blk_mq_", NULL,
};

static const char *const lock_plumb_prefix[] = {
	"rwsem_down_", "down_read", "down_write", "__down_read", "__down_write",
	"__mutex_lock", "mutex_lock", "__rt_mutex_slowlock", "rt_mutex_slowlock",
	"rtlock_slowlock", NULL,
};

static const char *const lock_plumb_base[] = {
	"percpu_rwsem_wait", "__percpu_down_read", "percpu_down_write", "__down",
	"__down_common", "__down_killable", "__down_interruptible", "__down_timeout", NULL,
};

static const char *const mm_base[] = {
	"lock_mm_and_find_vma", "vm_mmap_pgoff", "ksys_mmap_pgoff", "do_mprotect_pkey",
	"__vm_munmap", "__do_sys_munmap", "__x64_sys_munmap", "__x64_sys_mprotect",
	"do_madvise", "__do_sys_brk", "__x64_sys_brk", "__do_sys_mremap", "__x64_sys_mremap",
	"do_mlock", "__mm_populate", "dup_mmap", "__access_remote_vm", "access_remote_vm",
	"get_arg_page", "mmap_read_lock_killable", "mmap_write_lock_killable", "exit_mmap",
	"do_user_addr_fault", NULL,
};

static const char *const futex_plumb_prefix[] = {
	"futex_wait", NULL,
};

static const char *const futex_plumb_base[] = {
	"futex_do_wait", "__futex_wait", "futex_lock_pi", NULL,
};

static const char *const futex_base[] = {
	"do_futex", NULL,
};

static const char *const futex_prefix[] = {
	"__x64_sys_futex", NULL,
};

static const char *const idle_base[] = {
	"ep_poll", "do_epoll_wait", "do_epoll_pwait", "do_nanosleep", "hrtimer_nanosleep",
	"do_select", "core_sys_select", "do_sys_poll", "do_poll", "pipe_read",
	"anon_pipe_read", "pipe_write", "anon_pipe_write", "unix_stream_read_generic",
	"unix_stream_data_wait", "sk_wait_data", "inet_csk_accept",
	"inet_csk_wait_for_connect", "__skb_wait_for_more_packets", "wait_woken", "do_wait",
	"kernel_wait4", "do_sigtimedwait", "sigsuspend", "n_tty_read", "inotify_read",
	"io_cqring_wait", "read_events", "do_msgrcv", "do_semtimedop", "eventfd_read",
	"timerfd_read", NULL,
};

/* Waits for a file lock another process or thread holds (flock, fcntl's
 * F_SETLKW and F_OFD_SETLKW, lockf), or for a lease's holder to give it up. */
static const char *const flock_base[] = {
	"locks_lock_inode_wait", "flock_lock_inode_wait", "locks_lock_file_wait", "do_lock_file_wait",
	"posix_lock_inode_wait", "fcntl_setlk", "__do_sys_flock", "__x64_sys_flock", "__break_lease", NULL,
};

/* Stopped from outside the thread's own work: a stop signal (SIGSTOP, a
 * terminal's SIGTSTP), a tracer (ptrace: gdb, gcore, strace), a freezer (a
 * cgroup's: v1's __refrigerator, v2's do_freezer_trap). Leafmost first
 * decides (a traced thread's group stop goes on into ptrace_stop). */
static const char *const stop_base[] = {
	"do_signal_stop", "ptrace_stop", "__refrigerator", "do_freezer_trap", NULL,
};
static const enum diag_stop stop_how[] = {
	DIAG_STOP_SIGNAL, DIAG_STOP_TRACE, DIAG_STOP_FREEZE, DIAG_STOP_FREEZE,
};

static const char *const plumb_prefix[] = {
	"schedule", "preempt_schedule", "finish_task_switch", "__traceiter_", "__bpf_trace",
	"bpf_", "rwsem_", "up_read", "up_write", "mutex_unlock", "__mutex_unlock", "_raw_",
	"queued_", "native_queued_", NULL,
};

static const char *const plumb_base[] = {
	"__schedule", "try_to_wake_up", "wake_up_q", "wake_up_process", "__wake_up", "__wake_up_common",
	"__wake_up_common_lock", "__wake_up_sync_key", "autoremove_wake_function", "default_wake_function",
	"percpu_rwsem_wake_function", "percpu_up_write", NULL,
};

static const struct fgroup kernel_groups[] = {
	{ KF_RECLAIM, M_BASE, reclaim_base },
	{ KF_RECLAIM, M_PREFIX, reclaim_prefix },
	{ KF_IO | KF_PLUMB, M_BASE, io_plumb_base },
	{ KF_IO, M_BASE, io_base },
	{ KF_IO, M_PREFIX, io_prefix },
	{ KF_LOCK | KF_PLUMB, M_PREFIX, lock_plumb_prefix },
	{ KF_LOCK | KF_PLUMB, M_BASE, lock_plumb_base },
	{ KF_MM, M_BASE, mm_base },
	{ KF_FUTEX | KF_PLUMB, M_PREFIX, futex_plumb_prefix },
	{ KF_FUTEX | KF_PLUMB, M_BASE, futex_plumb_base },
	{ KF_FUTEX, M_BASE, futex_base },
	{ KF_FUTEX, M_PREFIX, futex_prefix },
	{ KF_IDLE, M_BASE, idle_base },
	{ KF_FLOCK, M_BASE, flock_base },
	{ KF_STOP, M_BASE, stop_base },
	{ KF_PLUMB, M_PREFIX, plumb_prefix },
	{ KF_PLUMB, M_BASE, plumb_base },
};

/* libc's own entry points, leafmost first wins (pthread_cond_wait re-takes
 * its mutex through __pthread_mutex_cond_lock: that one is a lock wait).
 * Go's runtime parks its threads on futexes of its own: a note (notesleep,
 * notetsleep, notetsleepg: a one-shot event, as a semaphore; an idle M in
 * stopm ← findRunnable waits on one for work) or its internal mutex (lock2). */
static const struct fpat user_pats[] = {
	{ "runtime.lock2", UF_LOCK, M_BASE },
	{ "runtime.notesleep", UF_WORK | UF_SEM, M_BASE },
	{ "runtime.notetsleep", UF_WORK | UF_SEM, M_PREFIX },
	{ "mutex_cond_lock", UF_LOCK, M_SUBSTR },
	{ "lll_lock_wait", UF_LOCK, M_SUBSTR },
	{ "mutex_lock", UF_LOCK, M_SUBSTR },
	{ "mutex_timedlock", UF_LOCK, M_SUBSTR },
	{ "mutex_clocklock", UF_LOCK, M_SUBSTR },
	{ "rwlock_rdlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "rwlock_wrlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "rwlock_timedrdlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "rwlock_timedwrlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "rwlock_clockrdlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "rwlock_clockwrlock", UF_LOCK | UF_RWLOCK, M_SUBSTR },
	{ "cond_wait", UF_WORK | UF_COND, M_SUBSTR },
	{ "cond_timedwait", UF_WORK | UF_COND, M_SUBSTR },
	{ "cond_clockwait", UF_WORK | UF_COND, M_SUBSTR },
	{ "sem_wait", UF_WORK | UF_SEM, M_SUBSTR },
	{ "sem_timedwait", UF_WORK | UF_SEM, M_SUBSTR },
	{ "sem_clockwait", UF_WORK | UF_SEM, M_SUBSTR },
	{ "pthread_join", UF_WORK, M_SUBSTR },
	{ "pthread_timedjoin", UF_WORK, M_SUBSTR },
	{ "pthread_clockjoin", UF_WORK, M_SUBSTR },
	{ "barrier_wait", UF_WORK, M_SUBSTR },
};

static bool pat_match(const char *name, const char *pat, uint8_t how)
{
	size_t n = strlen(pat);

	switch (how) {
	case M_BASE:
		return strncmp(name, pat, n) == 0 && (name[n] == '\0' || name[n] == '.');
	case M_PREFIX:
		return strncmp(name, pat, n) == 0;
	default:
		return strstr(name, pat) != NULL;
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

bool diag_thread_is_target(const struct ctx *x, uint32_t t)
{
	return t < x->cd->nthreads && !x->cd->threads[t].outside;
}

uint16_t diag_frame_feat(struct ctx *x, uint32_t f)
{
	const struct cap_frame *fr = &x->cd->frames[f];
	uint16_t bits = F_DONE;
	size_t g, i;

	if (x->ffeat[f] & F_DONE)
		return x->ffeat[f];
	if (fr->kernel) {
		for (g = 0; g < sizeof(kernel_groups) / sizeof(kernel_groups[0]); g++) {
			const struct fgroup *kg = &kernel_groups[g];

			for (i = 0; kg->names[i]; i++) {
				if (pat_match(fr->name, kg->names[i], kg->how)) {
					bits |= kg->bits;
					break;
				}
			}
		}
	} else {
		/* user patterns are exclusive: the first decides */
		for (i = 0; i < sizeof(user_pats) / sizeof(user_pats[0]); i++) {
			if (pat_match(fr->name, user_pats[i].pat, user_pats[i].how)) {
				bits |= user_pats[i].bits;
				break;
			}
		}
		if (mapping_is_runtime(x->cd, fr->mapping))
			bits |= F_RUNTIME;
	}
	x->ffeat[f] = bits;
	return bits;
}
/* A cgroup v2 freeze parks the task in do_freezer_trap(), which the compiler
 * may inline into get_signal() (6.18 here: schedule ← get_signal). Nothing
 * else in get_signal() sleeps itself: its other waits are the named frames
 * above. Whether the leafmost frame that is not scheduler plumbing of the
 * kernel stack st is get_signal. */
static bool sleeps_in_get_signal(struct ctx *x, uint32_t st)
{
	const struct cap_stack *s = &x->cd->stacks[st];
	uint32_t i;

	for (i = s->nframes; i-- > 0;) {
		if (!(diag_frame_feat(x, s->frames[i]) & KF_PLUMB))
			return pat_match(x->cd->frames[s->frames[i]].name, "get_signal", M_BASE);
	}
	return false;
}

/* Kernel bits of every frame, plus the user bit of the leafmost user frame
 * that has one. ST_NO_STACK has none. */
uint16_t diag_stack_feat(struct ctx *x, uint32_t st)
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
		uint16_t f = diag_frame_feat(x, s->frames[i]);

		bits |= f & KF_KERNEL_BITS;
		if (!user_done && (f & (UF_WORK | UF_LOCK))) {
			bits |= f & UF_BITS;
			user_done = true;
		}
	}
	if (s->nframes && x->cd->frames[s->frames[0]].kernel && sleeps_in_get_signal(x, st))
		bits |= KF_STOP;
	x->sfeat[st] = bits;
	return bits;
}

/* How a stop is sent: a signal's wakeup, a tracer's attach, a freezer's. */
static const char *const stop_send_base[] = {
	"signal_wake_up_state", "complete_signal", "__send_signal_locked", "send_signal_locked",
	"ptrace_attach", "cgroup_freeze_task", "freeze_task", "fake_signal_wake_up", NULL,
};

/* Which of names (base names, NULL-terminated) the leafmost frame of stack
 * st that has one of them bears: its index, or -1. */
static int stack_names(const struct ctx *x, uint32_t st, const char *const *names)
{
	const struct cap_stack *s;
	uint32_t i;
	int k;

	if (st >= x->cd->nstacks)
		return -1;
	s = &x->cd->stacks[st];
	for (i = s->nframes; i-- > 0;) {
		for (k = 0; names[k]; k++) {
			if (pat_match(x->cd->frames[s->frames[i]].name, names[k], M_BASE))
				return k;
		}
	}
	return -1;
}

bool diag_kstack_sends_stop(const struct ctx *x, uint32_t kstack)
{
	return stack_names(x, kstack, stop_send_base) >= 0;
}

enum diag_stop diag_stop_how(struct ctx *x, uint32_t kstack)
{
	int k = stack_names(x, kstack, stop_base);

	if (k >= 0)
		return stop_how[k];
	return kstack < x->cd->nstacks && sleeps_in_get_signal(x, kstack) ? DIAG_STOP_FREEZE : DIAG_STOP_NONE;
}

/* A waker is evidence only when it is another, real task: wakeups from
 * interrupt context can be charged to the idle task (tid 0). */
bool diag_waker_real(const struct ctx *x, const struct cap_block *b)
{
	return b->has_waker && b->waker < x->cd->nthreads && b->waker != b->thread &&
	       x->cd->threads[b->waker].tid != 0;
}

bool diag_woken_by_task(const struct ctx *x, const struct cap_block *b)
{
	return diag_waker_real(x, b) && !(b->flags & CAP_BLOCK_WOKEN_IRQ);
}

bool diag_ended_by_target(const struct ctx *x, const struct cap_block *b)
{
	return diag_woken_by_task(x, b) && diag_thread_is_target(x, b->thread) && diag_thread_is_target(x, b->waker) &&
	       b->dur_ns >= DIAG_CONVOY_WAIT_NS;
}

static bool block_is_futex(const struct cap_block *b, uint16_t kf)
{
	return b->wait_kind == CAP_WAIT_FUTEX || (kf & KF_FUTEX) ||
	       (b->in_syscall && (b->syscall == NR_futex || b->syscall == NR_futex_waitv));
}

/* The kernel lock a block waited on, as the capture tagged it; none for a
 * spinning lock's tag (LCB_F_SPIN without LCB_F_RT): a spinning waiter
 * never sleeps, so the tag is one whose contention_end was not seen, left
 * on the next sleep (captures before the recorder stopped keeping them). */
static uint8_t wait_kind(const struct cap_block *b)
{
	if (b->wait_kind == CAP_WAIT_KERNEL_LOCK && (b->lock_flags & (CAP_LCB_SPIN | CAP_LCB_RT)) == CAP_LCB_SPIN)
		return CAP_WAIT_NONE;
	return b->wait_kind;
}

/* The rules of docs/diagnose.md, in their order. */
static enum diag_cause classify(struct ctx *x, const struct cap_block *b)
{
	uint16_t kf = diag_stack_feat(x, b->kstack), uf;
	uint8_t wk = wait_kind(b);

	/* stopped, whatever it was doing or waiting for when the stop came */
	if ((kf & KF_STOP) && b->state != CAP_STATE_RUNNABLE)
		return DIAG_CAUSE_STOPPED;
	if (kf & KF_RECLAIM)
		return DIAG_CAUSE_MEMORY_RECLAIM;
	if (wk == CAP_WAIT_MMAP_LOCK)
		return DIAG_CAUSE_MMAP_LOCK;
	if (wk == CAP_WAIT_KERNEL_LOCK)
		return DIAG_CAUSE_KERNEL_LOCK;
	if (b->state == CAP_STATE_RUNNABLE) {
		/* preempted in the middle of its own long computation: that
		 * computation, not the CPU it lost, is what stalls it */
		if (b->thread < x->cd->nthreads && x->trun_e[b->thread] &&
		    b->start_ns >= x->trun_s[b->thread] && b->start_ns <= x->trun_e[b->thread])
			return DIAG_CAUSE_BUSY;
		return DIAG_CAUSE_RUNQUEUE;
	}
	if (block_is_futex(b, kf)) {
		/* a condvar or semaphore wait is idle here; the convoy rule
		 * (convoy.c) makes it a lock wait when a holder ended it */
		uf = diag_stack_feat(x, b->ustack);
		if (uf & UF_WORK)
			return DIAG_CAUSE_IDLE;
		if (uf & UF_LOCK)
			return DIAG_CAUSE_APP_LOCK;
		return diag_waker_real(x, b) ? DIAG_CAUSE_APP_LOCK : DIAG_CAUSE_IDLE;
	}
	/* A file lock is a lock whoever holds it, in the target or not; a wait
	 * going on all the window long is a standby's, for its turn. */
	if (kf & KF_FLOCK)
		return (b->flags & CAP_BLOCK_BEGAN_BEFORE) && (b->flags & CAP_BLOCK_IN_PROGRESS) ? DIAG_CAUSE_IDLE
												: DIAG_CAUSE_APP_LOCK;
	/* Without lock tracepoints (--no-locks), the kernel stack still shows a
	 * sleeping lock, and whether the path takes the mmap_lock. */
	if (wk == CAP_WAIT_NONE && (kf & KF_LOCK))
		return (kf & KF_MM) ? DIAG_CAUSE_MMAP_LOCK : DIAG_CAUSE_KERNEL_LOCK;
	if (b->state == CAP_STATE_UNINTERRUPTIBLE &&
	    ((kf & KF_IO) || (b->in_syscall && syscall_io(b->syscall))))
		return DIAG_CAUSE_IO;
	if ((kf & KF_IDLE) || (b->in_syscall && syscall_idle(b->syscall)))
		return DIAG_CAUSE_IDLE;
	/* Interruptible sleeps wait for an event someone else sends. */
	if (b->state == CAP_STATE_SLEEPING)
		return DIAG_CAUSE_IDLE;
	return DIAG_CAUSE_OTHER;
}

/* ns counts toward the total; in_win of it lay inside the window (a wait
 * that began before it counts only from its start): totals are the
 * window's, the longest wait is the whole wait. */
static void add_total(struct ctx *x, enum diag_cause c, uint32_t thread, uint64_t ns, uint64_t in_win,
		      bool is_block)
{
	struct ctotal *t = &x->tot[c];

	t->total_ns = sat_add(t->total_ns, in_win);
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
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct cap_sample *x = &cd->samples[i], *y = &cd->samples[j];

	return diag_cmp(x->ts_ns, y->ts_ns) ?: diag_cmp(x->thread, y->thread) ?: diag_cmp(i, j);
}

static int cmp_lockwait(const void *a, const void *b, void *arg)
{
	const struct ctx *x = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	return diag_cmp((uint64_t)(uint32_t)x->gpid[i], (uint64_t)(uint32_t)x->gpid[j]) ?:
	       diag_cmp(x->gobj[i], x->gobj[j]) ?: diag_cmp(x->cd->blocks[i].thread, x->cd->blocks[j].thread) ?:
	       diag_cmp(i, j);
}

/* A thread parked on a lock: one thread alone waits on a futex lock, from
 * before the window to past its end, and nothing else waits on it. No
 * wait began or ended there, nobody queued behind it: a standby, as Redis's
 * I/O threads are while load is low (each blocked on its own mutex, which
 * the main thread holds to keep it parked). Idle. */
static int parked_locks(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t *ix = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*ix));
	size_t n = 0, a, z, k, chain[DIAG_DEADLOCK_MAX];

	if (!ix)
		return -ENOMEM;
	for (k = 0; k < cd->nblocks; k++) {
		if (x->cls[k] == DIAG_CAUSE_APP_LOCK && x->prim[k] != DIAG_PRIM_FILE && cd->blocks[k].wait_obj)
			ix[n++] = k;
	}
	qsort_r(ix, n, sizeof(*ix), cmp_lockwait, x);
	for (a = 0; a < n; a = z) {
		bool parked = true;

		for (z = a; z < n && x->gpid[ix[z]] == x->gpid[ix[a]] && x->gobj[ix[z]] == x->gobj[ix[a]]; z++) {
			const struct cap_block *b = &cd->blocks[ix[z]];

			parked &= b->thread == cd->blocks[ix[a]].thread && (b->flags & CAP_BLOCK_BEGAN_BEFORE) &&
				  (b->flags & CAP_BLOCK_IN_PROGRESS);
		}
		/* not a thread in a deadlock: parked for good, but a stall */
		for (k = a; parked && k < z; k++)
			parked = !diag_deadlock(x, ix[k], chain, DIAG_DEADLOCK_MAX);
		for (k = a; parked && k < z; k++)
			x->cls[ix[k]] = DIAG_CAUSE_IDLE;
	}
	free(ix);
	return 0;
}

/* The per-block rules, then the rules that read the whole capture (convoys,
 * event loops: they change some blocks' causes), then the totals. */
int diag_classify_all(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i;
	int err;

	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];

		x->cls[i] = (uint8_t)classify(x, b);
		x->gobj[i] = b->wait_obj;
		x->gpid[i] = x->cls[i] == DIAG_CAUSE_KERNEL_LOCK ? 0 : cd->threads[b->thread].pid;
		if (x->cls[i] == DIAG_CAUSE_APP_LOCK)
			x->prim[i] = diag_block_primitive(x, b);
		/* a file lock is shared across processes: known by its wait site */
		if (x->cls[i] == DIAG_CAUSE_APP_LOCK && x->prim[i] == DIAG_PRIM_FILE) {
			x->gobj[i] = diag_site_key(x, b);
			x->gpid[i] = 0;
		}
	}
	if ((err = parked_locks(x)) || (err = diag_convoys(x)) || (err = diag_loops(x)) ||
	    (err = diag_dependencies(x)) || (err = diag_pools(x)))
		return err;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		enum diag_cause c = (enum diag_cause)x->cls[i];
		uint64_t tail = diag_ready_tail(b), in_win = diag_in_window(x, b), tail_in;

		if (!diag_thread_is_target(x, b->thread))
			continue;
		/* a wait's tail spent runnable, after its wakeup, is the CPU's */
		if (tail >= DIAG_READY_TAIL_NS) {
			tail_in = x->win_ns > 1 ? overlap(b->woken_ns, block_end(b), x->win_start, x->win_end) : tail;
			/* its time and length, not a block to count */
			add_total(x, DIAG_CAUSE_RUNQUEUE, b->thread, tail, tail_in, false);
			if (tail > x->tot[DIAG_CAUSE_RUNQUEUE].max_ns)
				x->tot[DIAG_CAUSE_RUNQUEUE].max_ns = tail;
			x->ready_ns = sat_add(x->ready_ns, tail_in);
			add_total(x, c, b->thread, b->dur_ns - tail, in_win - tail_in, true);
		} else {
			add_total(x, c, b->thread, b->dur_ns, in_win, true);
		}
		if (c == DIAG_CAUSE_MEMORY_RECLAIM)
			x->treclaim_ns[b->thread] = sat_add(x->treclaim_ns[b->thread], b->dur_ns);
		if (c == DIAG_CAUSE_IO)
			x->tio_ns[b->thread] = sat_add(x->tio_ns[b->thread], b->dur_ns);
	}
	/* On-CPU time in reclaim stalls a thread as surely as sleeping in it. */
	for (i = 0; i < x->nsamp; i++) {
		const struct cap_sample *s = &cd->samples[x->samp[i]];

		if (diag_stack_feat(x, s->kstack) & KF_RECLAIM) {
			add_total(x, DIAG_CAUSE_MEMORY_RECLAIM, s->thread, x->period_ns, x->period_ns, false);
			x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns = sat_add(x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns, x->period_ns);
			x->treclaim_ns[s->thread] = sat_add(x->treclaim_ns[s->thread], x->period_ns);
		}
	}
	return 0;
}

/* The target's samples, by time. */
void diag_collect_samples(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i;

	x->nsamp = 0;
	for (i = 0; i < cd->nsamples; i++) {
		if (diag_thread_is_target(x, cd->samples[i].thread))
			x->samp[x->nsamp++] = i;
	}
	qsort_r(x->samp, x->nsamp, sizeof(*x->samp), cmp_samp_ts, (void *)cd);
}

void diag_ctx_release(struct ctx *x)
{
	free(x->ffeat);
	free(x->fwrap);
	free(x->sfeat);
	free(x->cls);
	free(x->prim);
	free(x->gobj);
	free(x->gpid);
	free(x->rule);
	free(x->lstalls);
	free(x->loopsite);
	free(x->tmask);
	free(x->treclaim_ns);
	free(x->tio_ns);
	free(x->acc);
	free(x->acc2);
	free(x->accbest);
	free(x->accbest_ns);
	free(x->touched);
	free(x->byth);
	free(x->lidx);
	free(x->groups);
	free(x->samp);
	free(x->trun_s);
	free(x->trun_e);
}

int diag_ctx_init(struct ctx *x, const struct capdata *cd, const struct aggregate *agg)
{
	size_t nt = cd->nthreads ? cd->nthreads : 1, i;

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
	x->prim = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->prim));
	x->gobj = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->gobj));
	x->gpid = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->gpid));
	x->rule = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->rule));
	x->loopsite = calloc(nt, sizeof(*x->loopsite));
	x->lidx = calloc(cd->nblocks ? cd->nblocks : 1, sizeof(*x->lidx));
	x->byth = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*x->byth));
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
	if (!x->prim || !x->gobj || !x->gpid || !x->rule || !x->loopsite ||
	    !x->trun_s || !x->trun_e || !x->ffeat || !x->sfeat || !x->cls || !x->lidx || !x->samp || !x->tmask ||
	    !x->treclaim_ns || !x->tio_ns || !x->acc || !x->acc2 || !x->accbest || !x->accbest_ns ||
	    !x->touched || !x->byth)
		return -ENOMEM;
	for (i = 0; i < cd->nblocks; i++) {
		if (cd->blocks[i].state != CAP_STATE_RUNNABLE)
			x->byth[x->nbyth++] = i;
	}
	qsort_r(x->byth, x->nbyth, sizeof(*x->byth), diag_cmp_block_thread, (void *)cd);
	return 0;
}

int diag_ctx_classify(struct ctx *x, const struct capdata *cd, const struct aggregate *agg,
		      struct cpuinfo *ci)
{
	int err = diag_ctx_init(x, cd, agg);

	if (!err) {
		diag_collect_samples(x);
		/* busy runs first: a preemption inside one is "busy", not "runqueue" */
		err = diag_cpu_busy_runs(x, ci);
	}
	if (!err)
		err = diag_classify_all(x);
	return err;
}

int diagnose_classify(const struct capdata *cd, uint8_t *cause_per_block)
{
	struct cpuinfo ci = { .busiest = SIZE_MAX, .taker = SIZE_MAX };
	struct ctx x;
	int err;

	if (!cd || (!cause_per_block && cd->nblocks))
		return -EINVAL;
	err = diag_ctx_classify(&x, cd, NULL, &ci);
	if (!err && cd->nblocks)
		memcpy(cause_per_block, x.cls, cd->nblocks * sizeof(*x.cls));
	diag_cpu_release(&ci);
	diag_ctx_release(&x);
	return err;
}
