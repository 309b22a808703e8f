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
	[DIAG_CAUSE_FUTEX] = "futex", [DIAG_CAUSE_MEMORY_RECLAIM] = "memory_reclaim",
	[DIAG_CAUSE_IO] = "io", [DIAG_CAUSE_RUNQUEUE] = "runqueue", [DIAG_CAUSE_IDLE] = "idle",
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

bool diag_thread_is_target(const struct ctx *x, uint32_t t)
{
	return t < x->cd->nthreads && !x->cd->threads[t].outside;
}

uint16_t diag_frame_feat(struct ctx *x, uint32_t f)
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
			bits |= f & (UF_WORK | UF_LOCK);
			user_done = true;
		}
	}
	x->sfeat[st] = bits;
	return bits;
}

/* A waker is evidence only when it is another, real task: wakeups from
 * interrupt context can be charged to the idle task (tid 0). */
bool diag_waker_real(const struct ctx *x, const struct cap_block *b)
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
static enum diag_cause classify(struct ctx *x, const struct cap_block *b)
{
	uint16_t kf = diag_stack_feat(x, b->kstack), uf;

	if (kf & KF_RECLAIM)
		return DIAG_CAUSE_MEMORY_RECLAIM;
	if (b->wait_kind == CAP_WAIT_MMAP_LOCK)
		return DIAG_CAUSE_MMAP_LOCK;
	if (b->wait_kind == CAP_WAIT_KERNEL_LOCK)
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
		uf = diag_stack_feat(x, b->ustack);
		if (uf & UF_WORK)
			return DIAG_CAUSE_IDLE;
		if (uf & UF_LOCK)
			return DIAG_CAUSE_FUTEX;
		return diag_waker_real(x, b) ? DIAG_CAUSE_FUTEX : DIAG_CAUSE_IDLE;
	}
	/* Without lock tracepoints (--no-locks), the kernel stack still shows a
	 * sleeping lock, and whether the path takes the mmap_lock. */
	if (b->wait_kind == CAP_WAIT_NONE && (kf & KF_LOCK))
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

static void add_total(struct ctx *x, enum diag_cause c, uint32_t thread, uint64_t ns, bool is_block)
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

void diag_classify_all(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	size_t i;

	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		enum diag_cause c = classify(x, b);

		x->cls[i] = (uint8_t)c;
		if (!diag_thread_is_target(x, b->thread))
			continue;
		add_total(x, c, b->thread, b->dur_ns, true);
		if (c == DIAG_CAUSE_MEMORY_RECLAIM)
			x->treclaim_ns[b->thread] = sat_add(x->treclaim_ns[b->thread], b->dur_ns);
		if (c == DIAG_CAUSE_IO)
			x->tio_ns[b->thread] = sat_add(x->tio_ns[b->thread], b->dur_ns);
	}
	/* On-CPU time in reclaim stalls a thread as surely as sleeping in it. */
	for (i = 0; i < x->nsamp; i++) {
		const struct cap_sample *s = &cd->samples[x->samp[i]];

		if (diag_stack_feat(x, s->kstack) & KF_RECLAIM) {
			add_total(x, DIAG_CAUSE_MEMORY_RECLAIM, s->thread, x->period_ns, false);
			x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns = sat_add(x->tot[DIAG_CAUSE_MEMORY_RECLAIM].oncpu_ns, x->period_ns);
			x->treclaim_ns[s->thread] = sat_add(x->treclaim_ns[s->thread], x->period_ns);
		}
	}
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

int diag_ctx_init(struct ctx *x, const struct capdata *cd, const struct aggregate *agg)
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
		diag_classify_all(x);
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
