/* recorder.c: the live half of the pipeline: capture records -> symbolized, interned capdata. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "capture/proc.h"
#include "pipeline/governor.h"
#include "pipeline/recorder.h"
#include "pipeline/throttle.h"
#include "symbolize/symbolize.h"
#include "util/timeutil.h"

#define MAX_TARGET_PROCS 4096
#define CGROUP_POLL_NS 250000000ull
#define ALIVE_POLL_NS 500000000ull
#define MAPS_RETRY_TIMEOUT_MS 20
#define MAPS_REFRESH_INTERVAL_NS 1000000000ull
#define MEM_POLL_NS 200000000ull   /* RSS/VSZ at 5 Hz */
#define STATM_KEPT_OPEN 64u
#define WAKER_SLOTS 4096
#define NR_FUTEX 202
#define NR_FUTEX_WAITV 449

struct target_proc {
	pid_t pid;
	bool alive;
	bool outside;             /* not a target: an mmap_lock holder or a waker, symbolized only */
	bool maps_ok;             /* the symbolizer knows its mappings */
	bool execed;              /* it exec'd while recorded: its parent's mappings are not its own */
	pid_t ppid;               /* its parent, when its fork was seen; else 0 */
	uint64_t maps_retry_ns;   /* earliest time to try reading its maps again */
	uint64_t maps_refresh_ns; /* earliest time to refresh maps that look stale */
	int statm_fd;             /* /proc/PID/statm, kept open: read at 5 Hz; -1 when not open */
	bool statm_tried;
	int pidfd;                /* pidfd_open(): readable once the process has exited; -1 when not open */
	bool pidfd_tried;
	bool cgroup_tracked;      /* its CPU cgroup given to the throttle reader */
};

struct recorder {
	struct recorder_opts o;
	struct capture *cap;
	struct symbolizer *sym;
	struct capdata cd;
	bool cd_init;

	struct target_proc *procs;
	size_t nprocs, aprocs;
	unsigned statm_open;      /* target_proc.statm_fd descriptors open */
	unsigned pidfd_open;      /* target_proc.pidfd descriptors open */
	struct throttle thr;      /* the target's cgroups' CPU throttling */


	uint64_t last_cgroup_ns, last_alive_ns, last_mem_ns;
	long page_size;

	/* waker records wait here for the block they explain (matched by seq) */
	struct pending_waker {
		uint64_t seq, ts_ns;    /* ts_ns: when it woke the block */
		bool irq;               /* woken from an interrupt: no waker */
		uint32_t thread, ustack, kstack;
	} wakers[WAKER_SLOTS];
	uint64_t start_mono_ns;
	uint64_t blocks;
	/* losses seen in user space, named as in report.json */
	uint64_t maps_unavailable, capdata_full;
	uint64_t maps_refreshes, maps_inherited, wakers_unmatched, wakers_from_irq, lock_owners;
	uint64_t ustack_bytes, ustack_copies;   /* the blocks' user stacks, as copied */
	struct governor gov;                    /* the overhead governor (governor.h) */
	bool gov_measured;                      /* its cost came from the kernel's BPF stats */
	uint64_t gov_records;                   /* capture_records() at its last step */
	uint64_t outside_maps_unavailable; /* a holder's or waker's process gone before its maps were read */
	bool stopped;
};

static void sample_memory(struct recorder *r, uint64_t now);

static struct target_proc *find_proc(struct recorder *r, pid_t pid)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}

/* Reads the maps with a deadline and hands them to the symbolizer. A miss is
 * retried later (at most once a second, with a short deadline so that the
 * event loop never stalls): the target may be mid-freeze. */
static void load_maps(struct recorder *r, struct target_proc *tp)
{
	char path[64], *text = NULL;
	size_t len;
	int timeout = tp->maps_retry_ns ? MAPS_RETRY_TIMEOUT_MS : r->o.maps_timeout_ms;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tp->pid);
	/* empty: a zombie's, its address space gone (not "nothing mapped") */
	if (proc_read_deadline(path, timeout, &text, &len) == 0 && len &&
	    symbolizer_add_child(r->sym, tp->pid, tp->execed ? 0 : tp->ppid, text) == 0)
		tp->maps_ok = true;
	else
		tp->maps_retry_ns = mono_ns() + 1000000000ull;
	free(text);
}

/* At most once a second per process, with the short retry deadline. */
static void maybe_refresh_maps(struct recorder *r, struct target_proc *tp)
{
	uint64_t now = mono_ns();

	if (now < tp->maps_refresh_ns)
		return;
	tp->maps_refresh_ns = now + MAPS_REFRESH_INTERVAL_NS;
	r->maps_refreshes++;
	tp->maps_retry_ns = now;  /* marks the read as a retry: short deadline */
	load_maps(r, tp);
}

static void close_statm(struct recorder *r, struct target_proc *tp)
{
	if (tp->statm_fd >= 0) {
		close(tp->statm_fd);
		r->statm_open--;
	}
	tp->statm_fd = -1;
}

static void close_pidfd(struct recorder *r, struct target_proc *tp)
{
	if (tp->pidfd >= 0) {
		close(tp->pidfd);
		r->pidfd_open--;
	}
	tp->pidfd = -1;
}

static void proc_gone(struct recorder *r, struct target_proc *tp)
{
	tp->alive = false;
	close_statm(r, tp);
	close_pidfd(r, tp);
}

/* Which processes have exited, twice a second (exit records can be lost to
 * a full ring). The first STATM_KEPT_OPEN processes get a pidfd, readable
 * once the whole process has exited (a zombie counts as gone, as for
 * proc_alive): one poll for all of them, where /proc/PID/stat cost a kill,
 * an open, a read and a close each. The rest, and kernels without
 * pidfd_open, read /proc. */
static void check_alive(struct recorder *r)
{
	int fds[STATM_KEPT_OPEN];
	size_t i, at[STATM_KEPT_OPEN], n = 0;
	bool gone[STATM_KEPT_OPEN];

	for (i = 0; i < r->nprocs; i++) {
		struct target_proc *tp = &r->procs[i];

		if (!tp->alive)
			continue;
		if (tp->pidfd >= 0 && n < STATM_KEPT_OPEN) {
			fds[n] = tp->pidfd;
			at[n++] = i;
			continue;
		}
		if (!proc_alive(tp->pid)) {
			proc_gone(r, tp);
			continue;
		}
		/* alive now (and not a zombie): from here on its pidfd tells */
		if (!tp->pidfd_tried && r->pidfd_open < STATM_KEPT_OPEN) {
			tp->pidfd_tried = true;
			tp->pidfd = proc_pidfd_open(tp->pid);
			if (tp->pidfd >= 0)
				r->pidfd_open++;
		}
	}
	if (n && proc_pidfds_gone(fds, n, gone) > 0)
		for (i = 0; i < n; i++)
			if (gone[i])
				proc_gone(r, &r->procs[at[i]]);
}

static struct target_proc *add_proc(struct recorder *r, pid_t pid, bool load)
{
	struct target_proc *tp = find_proc(r, pid);

	if (tp)
		return tp;
	if (r->nprocs == r->aprocs) {
		size_t na = r->aprocs ? r->aprocs * 2 : 16;
		struct target_proc *np;

		if (na > MAX_TARGET_PROCS)
			return NULL;
		np = realloc(r->procs, na * sizeof(*np));
		if (!np)
			return NULL;
		r->procs = np;
		r->aprocs = na;
	}
	tp = &r->procs[r->nprocs++];
	memset(tp, 0, sizeof(*tp));
	tp->pid = pid;
	tp->alive = true;
	tp->statm_fd = -1;
	tp->pidfd = -1;
	if (load)
		load_maps(r, tp);
	return tp;
}

static int64_t placeholder_kstack(struct recorder *r, const char *what)
{
	int64_t f = capdata_frame(&r->cd, what, 0, ST_NO_MAPPING, true);
	uint32_t fid;

	if (f < 0)
		return f;
	fid = (uint32_t)f;
	return capdata_stack(&r->cd, &fid, 1, CAP_STACK_UNREADABLE);
}

static int64_t kernel_stack(struct recorder *r, const struct capture_record *ev)
{
	if (ev->flags & CAPTURE_F_KSTACK_NONE)
		return ST_NO_STACK;
	if (!ev->nkips)
		return placeholder_kstack(r, "[kernel stack lost]");
	return symbolizer_kstack(r->sym, ev->kips, ev->nkips);
}
/* A child whose maps could not be read (gone already: a fork-per-connection
 * server's short-lived child, forked and gone between two drains of the
 * ring) gets its parent's, when it was forked while recorded and did not
 * exec: a fork copies the address space. */
static void inherit_maps(struct recorder *r, struct target_proc *tp)
{
	struct target_proc *parent;

	if (tp->execed || tp->ppid <= 0)
		return;
	parent = find_proc(r, tp->ppid);
	if (parent && !parent->maps_ok && mono_ns() >= parent->maps_retry_ns)
		load_maps(r, parent);
	if (!parent || !parent->maps_ok || symbolizer_add_forked(r->sym, tp->pid, tp->ppid))
		return;
	tp->maps_ok = true;
	r->maps_inherited++;
}

static int64_t user_stack(struct recorder *r, const struct capture_record *ev)
{
	struct target_proc *tp;

	if (ev->flags & CAPTURE_F_USTACK_LOCKED)
		return symbolizer_placeholder(r->sym, "[user stack unreadable: mmap_lock busy]",
					      CAP_STACK_UNREADABLE);
	if ((ev->flags & CAPTURE_F_IN_PROGRESS) && (ev->flags & CAPTURE_F_USTACK_NONE))
		return symbolizer_placeholder(r->sym, "[user stack not read: still blocked at the end]",
					      CAP_STACK_UNREADABLE);
	if (ev->flags & CAPTURE_F_USTACK_NONE)
		return ST_NO_STACK;
	if (ev->flags & CAPTURE_F_USTACK_FAULT || !ev->ustack_len)
		return symbolizer_placeholder(r->sym, "[user stack unreadable: fault]",
					      CAP_STACK_UNREADABLE);
	tp = find_proc(r, (pid_t)ev->pid);
	if (!tp) {
		/* holders and wakers can be outside the target: symbolize them too */
		tp = add_proc(r, (pid_t)ev->pid, false);
		if (tp)
			tp->outside = ev->kind == CAPTURE_REC_HOLD || ev->kind == CAPTURE_REC_WAKER;
	}
	if (tp && !tp->maps_ok && mono_ns() >= tp->maps_retry_ns)
		load_maps(r, tp);
	if (tp && !tp->maps_ok)
		inherit_maps(r, tp);
	if (!tp || !tp->maps_ok) {
		if (tp && tp->outside)
			r->outside_maps_unavailable++;
		else
			r->maps_unavailable++;
		return symbolizer_placeholder(r->sym, "[user stack unsymbolized: maps unavailable]",
					      CAP_STACK_UNREADABLE);
	}
	{
		struct symbolizer_stats before, after;
		int64_t id;

		if (ev->kind == CAPTURE_REC_BLOCK) {
			r->ustack_bytes += ev->ustack_len;
			r->ustack_copies++;
		}
		symbolizer_stats(r->sym, &before);
		id = symbolizer_ustack(r->sym, (pid_t)ev->pid, ev->regs, ev->ustack, ev->ustack_len);
		symbolizer_stats(r->sym, &after);
		/* pcs outside every mapping or without a symbol: the maps read ahead
		 * of time may predate a dlopen or the dynamic loader's work */
		if (after.maps_refresh_wanted > before.maps_refresh_wanted ||
		    after.unknown_pcs > before.unknown_pcs)
			maybe_refresh_maps(r, tp);
		return id;
	}
}

/* Whether pid is no process of the target's (alive or gone) */
static bool outside_proc(struct recorder *r, int32_t pid)
{
	const struct target_proc *tp = find_proc(r, (pid_t)pid);

	return !tp || tp->outside;
}

/* The thread of pid/tid, outside the target unless its process is one */
static int64_t thread_of(struct recorder *r, int32_t pid, int32_t tid, const char *comm)
{
	int64_t th = capdata_thread(&r->cd, pid, tid, comm);

	if (th >= 0 && outside_proc(r, pid))
		r->cd.threads[th].outside = true;
	return th;
}

static int64_t event_thread(struct recorder *r, const struct capture_record *ev)
{
	return thread_of(r, ev->pid, ev->tid, ev->comm);
}

/* The capture's task states are capdata's, value for value (capture.c ties
 * them to the BPF programs'), and its registers the symbolizer's. */
_Static_assert((int)CAPTURE_STATE_SLEEPING == (int)CAP_STATE_SLEEPING &&
	       (int)CAPTURE_STATE_UNINTERRUPTIBLE == (int)CAP_STATE_UNINTERRUPTIBLE &&
	       (int)CAPTURE_STATE_RUNNABLE == (int)CAP_STATE_RUNNABLE &&
	       (int)CAPTURE_STATE__COUNT == (int)CAP_STATE__COUNT, "enum capture_state and enum cap_state differ");
_Static_assert(CAPTURE_NREGS == SYM_NREGS, "the capture's and the symbolizer's registers differ");

/* A static kernel lock's name (rtnl_mutex), where kallsyms lists data
 * symbols: once per address (best effort: a lock left unnamed is shown by
 * its address, as before). */
static void name_kernel_lock(struct recorder *r, uint64_t addr)
{
	const char *name;
	uint64_t off;
	char buf[160];

	if (!addr || capdata_kname(&r->cd, addr) || !(name = symbolizer_kdata_name(r->sym, addr, &off)))
		return;
	if (off)
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, name, off);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	capdata_set_kname(&r->cd, addr, buf);
}

static void fill_block(struct recorder *r, struct cap_block *b, const struct capture_record *ev)
{
	struct pending_waker *w;

	b->state = (uint8_t)ev->state;
	b->start_ns = ev->start_ns;
	b->dur_ns = ev->dur_ns;
	if (ev->woken_ns >= ev->start_ns && ev->woken_ns - ev->start_ns <= ev->dur_ns)
		b->woken_ns = ev->woken_ns;
	b->in_syscall = ev->syscall >= 0;
	b->syscall = ev->syscall >= 0 ? ev->syscall : 0;
	if (ev->wait_kind != CAPTURE_WAIT_NONE) {
		b->wait_kind = ev->wait_kind == CAPTURE_WAIT_MMAP_LOCK ? CAP_WAIT_MMAP_LOCK : CAP_WAIT_KERNEL_LOCK;
		b->wait_obj = ev->wait_obj;
		b->lock_flags = (uint8_t)ev->lock_flags;
		if (b->wait_kind == CAP_WAIT_KERNEL_LOCK)
			name_kernel_lock(r, b->wait_obj);
	} else if (b->in_syscall && (ev->syscall == NR_FUTEX || ev->syscall == NR_FUTEX_WAITV)) {
		b->wait_kind = CAP_WAIT_FUTEX;
		b->wait_obj = ev->args[0];
	}
	if (!ev->waker_seq)
		return;
	w = &r->wakers[ev->waker_seq % WAKER_SLOTS];
	if (w->seq == ev->waker_seq) {
		b->has_waker = !w->irq;
		b->waker = w->thread;
		b->waker_ns = w->ts_ns;
		if (w->irq)
			b->flags |= CAP_BLOCK_WOKEN_IRQ;
		b->waker_ustack = w->ustack;
		b->waker_kstack = w->kstack;
		w->seq = 0;
	} else {
		r->wakers_unmatched++;
	}
}

/* A futex lock wait still going at the end: the lock's owner, read from the
 * lock itself while it is still held. glibc's pthread_mutex_t keeps its
 * owner's tid beside the futex word (__lock at 0, __owner at 8) for every
 * mutex type; the diagnosis uses it only where the waiter's stack is in
 * glibc's mutex lock. Kept only when the word says locked and the tid is
 * another live thread of the waiter's process. Best effort: a lock let go
 * meanwhile, or memory that is no mutex, gives nothing. */
static void lock_owner(struct recorder *r, struct cap_block *b, const struct capture_record *ev)
{
	int32_t w[3];
	struct iovec here = { w, sizeof(w) }, there = { (void *)(uintptr_t)b->wait_obj, sizeof(w) };
	char comm[32];
	int64_t th;

	if (process_vm_readv((pid_t)ev->pid, &here, 1, &there, 1, 0) != (ssize_t)sizeof(w) || !w[0] ||
	    w[2] <= 0 || w[2] == ev->tid)
		return;
	if (proc_read_task_comm((pid_t)ev->pid, (pid_t)w[2], comm, sizeof(comm)))
		return;
	th = capdata_thread(&r->cd, ev->pid, w[2], comm);
	if (th < 0)
		return;
	if (r->cd.threads[b->thread].outside)
		r->cd.threads[th].outside = true;
	b->owner = (uint32_t)th;
	b->has_owner = true;
	r->lock_owners++;
}

static bool kstack_in_interrupt(struct recorder *r, uint32_t ks)
{
	static const char *const entries[] = {
		"asm_sysvec_", "asm_common_interrupt", "__sysvec_", "sysvec_", "common_interrupt",
		"handle_softirqs", "__do_softirq", "irq_exit_rcu", "__irq_exit_rcu", "hrtimer_interrupt",
		"__hrtimer_run_queues", "asm_exc_nmi", "handle_irq_event", "blk_mq_complete_request",
	};
	const struct cap_stack *st;
	uint32_t i;
	size_t j;

	if (ks == ST_NO_STACK || ks >= r->cd.nstacks)
		return false;
	st = &r->cd.stacks[ks];
	for (i = 0; i < st->nframes; i++) {
		const char *name = r->cd.frames[st->frames[i]].name;

		for (j = 0; j < sizeof(entries) / sizeof(entries[0]); j++)
			if (strncmp(name, entries[j], strlen(entries[j])) == 0)
				return true;
	}
	return false;
}

static int on_record(void *arg, const struct capture_record *ev)
{
	struct recorder *r = arg;
	int64_t th, ks, us;
	uint32_t u;
	int err = 0;

	th = event_thread(r, ev);
	ks = kernel_stack(r, ev);
	us = user_stack(r, ev);
	if (th < 0 || ks < 0 || us < 0) {
		r->capdata_full++;
		return 0;
	}
	u = (uint32_t)us;
	switch (ev->kind) {
	case CAPTURE_REC_BLOCK: {
		struct cap_block b = { 0 };

		b.thread = (uint32_t)th;
		b.kstack = (uint32_t)ks;
		b.ustack = u;
		b.flags = (ev->flags & CAPTURE_F_IN_PROGRESS ? CAP_BLOCK_IN_PROGRESS : 0) |
			  (ev->flags & CAPTURE_F_BEGAN_BEFORE ? CAP_BLOCK_BEGAN_BEFORE : 0) |
			  (ev->flags & CAPTURE_F_WOKEN_IRQ ? CAP_BLOCK_WOKEN_IRQ : 0);
		fill_block(r, &b, ev);
		if (ev->taker_tid > 0) {
			int64_t tk = thread_of(r, ev->taker_pid, ev->taker_tid, ev->taker_comm);

			if (tk >= 0) {
				b.has_taker = true;
				b.taker = (uint32_t)tk;
				b.taker_samples = (uint16_t)(ev->taker_samples > UINT16_MAX ? UINT16_MAX
											    : ev->taker_samples);
			}
		}
		if ((b.flags & CAP_BLOCK_IN_PROGRESS) && b.wait_kind == CAP_WAIT_FUTEX && b.wait_obj &&
		    ev->syscall == NR_FUTEX)
			lock_owner(r, &b, ev);
		err = capdata_add_block(&r->cd, &b);
		if (!err)
			r->blocks++;
		break;
	}
	case CAPTURE_REC_HOLD: {
		struct cap_hold h = {
			.thread = (uint32_t)th, .mm_pid = ev->hold_mm_pid,
			.mode = ev->hold_mode == CAPTURE_HOLD_WRITE ? CAP_HOLD_WRITE :
				ev->hold_mode == CAPTURE_HOLD_DOWNGRADED ? CAP_HOLD_DOWNGRADED : CAP_HOLD_READ,
			.flags = ev->flags & CAPTURE_F_IN_PROGRESS ? CAP_BLOCK_IN_PROGRESS : 0,
			.start_ns = ev->start_ns, .dur_ns = ev->dur_ns,
			.ustack = u, .kstack = (uint32_t)ks,
			.in_syscall = ev->syscall >= 0, .syscall = ev->syscall >= 0 ? ev->syscall : 0,
		};

		memcpy(h.args, ev->args, sizeof(h.args));
		err = capdata_add_hold(&r->cd, &h);
		break;
	}
	case CAPTURE_REC_WAKER: {
		struct pending_waker *w = &r->wakers[ev->waker_seq % WAKER_SLOTS];

		/* A wakeup from an interrupt (a timer, I/O completion) has no waker:
		 * "current" was merely whoever the interrupt landed on. The kernel
		 * stack says so; BPF here cannot read preempt_count. */
		w->seq = ev->waker_seq;
		w->ts_ns = ev->start_ns;
		/* BPF reads preempt_count; this is the backstop where it cannot */
		w->irq = kstack_in_interrupt(r, (uint32_t)ks);
		r->wakers_from_irq += w->irq;
		w->thread = (uint32_t)th;
		w->ustack = u;
		w->kstack = (uint32_t)ks;
		break;
	}
	case CAPTURE_REC_SAMPLE: {
		struct cap_sample smp = {
			.thread = (uint32_t)th, .ts_ns = ev->start_ns, .ustack = u, .kstack = (uint32_t)ks,
			.nvcsw = ev->nvcsw,
		};

		err = capdata_add_sample(&r->cd, &smp);
		break;
	}
	}
	if (err)
		r->capdata_full++;
	return 0;
}

static int on_thread(void *arg, const struct capture_thread *ev)
{
	struct recorder *r = arg;
	int64_t th;

	th = capdata_thread(&r->cd, ev->pid, ev->tid, ev->comm);
	if (th < 0) {
		r->capdata_full++;
		return 0;
	}
	r->cd.threads[th].below_min_ns += ev->below_ns;
	r->cd.threads[th].below_min_count += ev->below_count;
	r->cd.threads[th].io_bytes += ev->io_bytes;
	r->cd.threads[th].io_count += ev->io_count;
	/* (a target's thread that exits after its process left the targets,
	 * as its last threads do when it exits, is still the target's) */
	if (!ev->is_target && outside_proc(r, ev->pid))
		r->cd.threads[th].outside = true;
	if (ev->holds) {
		struct cap_hold_total t = {
			.thread = (uint32_t)th, .mm_pid = ev->hold_mm_pid,
			.hold_ns = ev->hold_ns, .holds = ev->holds,
			.read_ns = ev->hold_read_ns, .write_ns = ev->hold_write_ns,
		};

		if (capdata_add_hold_total(&r->cd, &t))
			r->capdata_full++;
	}
	return 0;
}

/* A process seen first as an outside waker or holder that turns out to be
 * a target (one forked between the first scan and the attach can wake a
 * target before the cgroup is read again): a target from now on, its
 * threads too. */
static void promote_proc(struct recorder *r, struct target_proc *tp)
{
	size_t i;

	tp->outside = false;
	for (i = 0; i < r->cd.nthreads; i++) {
		if (r->cd.threads[i].pid == tp->pid)
			r->cd.threads[i].outside = false;
	}
}

static int on_proc(void *arg, const struct capture_proc *ev)
{
	struct recorder *r = arg;
	struct target_proc *tp;

	switch (ev->kind) {
	case CAPTURE_PROC_NEW:
		tp = add_proc(r, (pid_t)ev->pid, false);
		if (tp && !tp->maps_ok) {
			if (!tp->ppid && ev->ppid > 0 && ev->ppid != ev->pid)
				tp->ppid = ev->ppid;
			load_maps(r, tp);
		}
		if (tp && tp->outside)
			promote_proc(r, tp);
		break;
	case CAPTURE_PROC_EXEC:
		tp = add_proc(r, (pid_t)ev->pid, false);
		if (tp) {
			tp->execed = true;
			symbolizer_drop_process(r->sym, tp->pid);
			tp->maps_ok = false;
			load_maps(r, tp);
		}
		break;
	case CAPTURE_PROC_EXIT:
		tp = find_proc(r, (pid_t)ev->pid);
		if (tp)
			proc_gone(r, tp);
		break;
	}
	return 0;
}

int recorder_add_target(struct recorder *r, pid_t pid)
{
	struct target_proc *tp = find_proc(r, pid);
	int ret;

	if (tp && !tp->outside)
		return 0;
	ret = capture_add_target(r->cap, pid);
	if (ret)
		return ret;
	if (tp)
		promote_proc(r, tp);
	else
		add_proc(r, pid, true);
	return 0;
}

static void poll_cgroup(struct recorder *r)
{
	pid_t *pids = NULL;
	int n, i;

	n = proc_cgroup_pids(r->o.cgroup_dir, &pids);
	for (i = 0; i < n; i++)
		recorder_add_target(r, pids[i]);
	free(pids);
}

/* The capture path and the features left out, said once per process (watch
 * starts a capture per generation). */
static void print_capture_once(const struct capture *c)
{
	static int printed;
	const struct capture_feature *f = capture_get_features(c);
	char off[1024] = "";
	size_t len = 0;

	if (__atomic_exchange_n(&printed, 1, __ATOMIC_SEQ_CST))
		return;
	for (int i = 0; i < CAPTURE_NFEATURES; i++)
		if (!f[i].on && len < sizeof(off))
			len += snprintf(off + len, sizeof(off) - len, "%s%s (%s)", len ? ", " : "", f[i].name, f[i].reason);
	fprintf(stderr, "capture: %s path%s%s\n", capture_path_name(capture_get_path(c)),
		len ? "; left out: " : ", every feature on", off);
}

int recorder_start(struct recorder **out, const struct recorder_opts *o, char *err, size_t errlen)
{
	struct capture_opts co = {
		.min_block_ns = o->min_block_ns,
		.max_ustack = o->max_ustack,
		.ringbuf_kb = o->ringbuf_kb,
		.follow_forks = true,
		.bpf_stats = o->bpf_stats,
		.no_locks = o->no_locks,
		.name = o->name,
		.force_path = CAPTURE_PATH_NONE,
	};
	struct capture_cbs cbs = { .on_record = on_record, .on_thread = on_thread, .on_proc = on_proc };
	struct recorder *r;
	size_t i;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->o = *o;
	r->page_size = sysconf(_SC_PAGESIZE);
	if (!r->o.maps_timeout_ms)
		r->o.maps_timeout_ms = 1000;
	cbs.arg = r;
	ret = capdata_init(&r->cd);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	r->cd_init = true;
	r->cd.window.min_block_ns = o->min_block_ns;
	r->cd.window.hold_threshold_ns = o->hold_threshold_ns ? o->hold_threshold_ns : 10000000ull;
	r->sym = symbolizer_new(&r->cd, "/proc/kallsyms", "/proc", err, errlen);
	if (!r->sym) {
		ret = -EINVAL;
		goto cleanup;
	}

	/* Read every target's maps before attaching: from here on a freeze may
	 * make the read block, and what was read before it stays valid. */
	for (i = 0; i < o->npids; i++)
		add_proc(r, o->pids[i], true);

	ret = capture_prepare(&r->cap, &co, &cbs, err, errlen);
	if (ret)
		goto cleanup;
	for (i = 0; i < o->npids; i++) {
		ret = capture_add_target(r->cap, o->pids[i]);
		if (ret) {
			snprintf(err, errlen, "cannot add pid %d to the targets map: %s",
				 (int)o->pids[i], strerror(-ret));
			goto cleanup;
		}
	}
	r->start_mono_ns = mono_ns();
	r->cd.window.start_real_ns = real_ns();
	r->cd.window.start_mono_ns = r->start_mono_ns;
	ret = capture_start(r->cap, err, errlen);
	if (ret)
		goto cleanup;
	r->cd.capture_path = strdup(capture_path_name(capture_get_path(r->cap)));
	for (i = 0; i < CAPTURE_NFEATURES; i++) {
		const struct capture_feature *f = &capture_get_features(r->cap)[i];

		if ((ret = capdata_set_feature(&r->cd, f->name, f->on, f->reason))) {
			snprintf(err, errlen, "out of memory");
			goto cleanup;
		}
	}
	print_capture_once(r->cap);
	r->cd.window.sample_period_ns = capture_sample_period_ns(r->cap);
	r->cd.window.attached_mono_ns = capture_attached_ns(r->cap);
	governor_init(&r->gov, o->max_overhead, o->min_block_ns, mono_ns());
	sample_memory(r, r->start_mono_ns);
	r->last_cgroup_ns = r->last_alive_ns = r->start_mono_ns;
	*out = r;
	return 0;
cleanup:
	recorder_free(r);
	return ret;
}

/* RSS and VSZ from /proc/PID/statm: kernel counters, no mmap_lock taken, so
 * safe to read during a freeze (unlike maps or smaps). */
static void sample_memory(struct recorder *r, uint64_t now)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++) {
		struct target_proc *tp = &r->procs[i];
		char path[64], buf[128];
		unsigned long long size, resident;
		struct cap_mem m;
		ssize_t n;

		if (!tp->alive || tp->outside)
			continue;
		/* kept open for the first STATM_KEPT_OPEN processes: a watcher
		 * reads it five times a second for days, and the open and close
		 * cost more than the read; a cgroup of many processes must not
		 * run the watcher out of descriptors */
		if (!tp->statm_tried && r->statm_open < STATM_KEPT_OPEN) {
			tp->statm_tried = true;
			snprintf(path, sizeof(path), "/proc/%d/statm", (int)tp->pid);
			tp->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (tp->statm_fd >= 0)
				r->statm_open++;
		}
		if (tp->statm_fd >= 0) {
			n = pread(tp->statm_fd, buf, sizeof(buf) - 1, 0);
		} else {
			int fd;

			snprintf(path, sizeof(path), "/proc/%d/statm", (int)tp->pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* strtoull, not sscanf: five times a second for days, and
		 * sscanf's stdio machinery costs more than the read */
		{
			char *end;

			errno = 0;
			size = strtoull(buf, &end, 10);
			if (end == buf || *end != ' ' || errno)
				continue;
			resident = strtoull(end + 1, &end, 10);
			if (end == buf || (*end != ' ' && *end != '\n') || errno)
				continue;
		}
		m.pid = (int32_t)tp->pid;
		m.ts_ns = now;
		m.rss_bytes = resident * (uint64_t)r->page_size;
		m.vsz_bytes = size * (uint64_t)r->page_size;
		if (capdata_add_mem(&r->cd, &m))
			r->capdata_full++;
	}
	for (i = 0; i < r->nprocs; i++) {
		struct target_proc *tp = &r->procs[i];

		if (tp->alive && !tp->outside && !tp->cgroup_tracked) {
			tp->cgroup_tracked = true;
			throttle_track(&r->thr, tp->pid, now);
		}
	}
	r->capdata_full += throttle_sample(&r->thr, now, &r->cd);
}

int recorder_poll(struct recorder *r, int timeout_ms)
{
	uint64_t now;
	int ret = capture_poll(r->cap, timeout_ms);

	if (ret < 0)
		return ret;
	now = mono_ns();
	if (r->o.cgroup_dir && now - r->last_cgroup_ns >= CGROUP_POLL_NS) {
		r->last_cgroup_ns = now;
		poll_cgroup(r);
	}
	if (now - r->last_alive_ns >= ALIVE_POLL_NS) {
		/* exit records can be lost to a full ring: check the processes as well */
		r->last_alive_ns = now;
		check_alive(r);
	}
	if (now - r->last_mem_ns >= MEM_POLL_NS) {
		r->last_mem_ns = now;
		sample_memory(r, now);
	}
	if (r->gov.budget > 0 && now - r->gov.last_t >= GOV_INTERVAL_NS &&
	    (r->gov.floor_ns || capture_records(r->cap) != r->gov_records)) {
		/* the governor can only raise the floor while it is not acting,
		 * and a higher floor drops records: with none written since the
		 * last step there is nothing it could act on, so the BPF run
		 * time (a syscall per program) is not read; the next step's
		 * load then spans the skipped seconds */
		struct capture_cost cc;

		capture_cost(r->cap, &cc);
		r->gov_records = cc.records;
		r->gov_measured = cc.stats_on && cc.run_cnt;
		if (governor_step(&r->gov, now, r->gov_measured ? cc.run_ns : cc.records * GOV_EST_RECORD_NS))
			capture_set_block_floor(r->cap, r->gov.floor_ns);
	}
	return 0;
}

bool recorder_targets_gone(struct recorder *r)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].alive && !r->procs[i].outside)
			return false;
	return true;
}

uint64_t recorder_governor_floor_ns(const struct recorder *r)
{
	return r->gov.floor_ns;
}

uint64_t recorder_blocks(const struct recorder *r)
{
	return r->blocks;
}

static void add_counter(void *arg, const struct capture_counter *c)
{
	struct capdata *cd = arg;

	if (c->is_drop)
		capdata_add_drop(cd, c->name, c->value);
	else
		capdata_set_stat(cd, c->name, c->value);
}

static void sum_drops(void *arg, const struct capture_counter *c)
{
	if (c->is_drop)
		*(uint64_t *)arg += c->value;
}

uint64_t recorder_drops(const struct recorder *r)
{
	uint64_t n = r->maps_unavailable + r->capdata_full;

	if (r->cap)
		capture_read_counters(r->cap, sum_drops, &n);
	return n;
}

int recorder_stop(struct recorder *r)
{
	struct symbolizer_stats ss;
	uint64_t end;
	int ret;

	if (r->stopped)
		return 0;
	ret = capture_stop(r->cap);
	end = mono_ns();
	r->cd.window.duration_ns = end - r->start_mono_ns;
	capture_read_counters(r->cap, add_counter, &r->cd);
	capdata_add_drop(&r->cd, "maps_unavailable", r->maps_unavailable);
	capdata_add_drop(&r->cd, "outside_maps_unavailable", r->outside_maps_unavailable);
	capdata_add_drop(&r->cd, "capdata_full", r->capdata_full);
	symbolizer_stats(r->sym, &ss);
	capdata_set_stat(&r->cd, "ustacks", ss.ustacks);
	capdata_set_stat(&r->cd, "ustack_cache_hits", ss.ustack_cache_hits);
	capdata_set_stat(&r->cd, "unwind_ns", ss.unwind_ns);
	capdata_set_stat(&r->cd, "kstacks", ss.kstacks);
	capdata_set_stat(&r->cd, "unknown_pcs", ss.unknown_pcs);
	capdata_set_stat(&r->cd, "maps_refreshes", r->maps_refreshes);
	capdata_set_stat(&r->cd, "maps_inherited", r->maps_inherited);
	/* blocks' user stack bytes as copied by BPF (copy_stack(): to the stack's end) */
	capdata_set_stat(&r->cd, "ustack_bytes", r->ustack_bytes);
	capdata_set_stat(&r->cd, "ustack_copies", r->ustack_copies);
	/* the overhead governor (governor.h): what it did, for the report */
	governor_finish(&r->gov, end);
	capdata_set_stat(&r->cd, "governor_budget_ppm", (uint64_t)(r->gov.budget * 1e6));
	capdata_set_stat(&r->cd, "governor_measured", r->gov_measured);
	capdata_set_stat(&r->cd, "governor_peak_load_ppm", (uint64_t)(r->gov.peak_load * 1e6));
	capdata_set_stat(&r->cd, "governor_raises", r->gov.raises);
	capdata_set_stat(&r->cd, "governor_lowers", r->gov.lowers);
	capdata_set_stat(&r->cd, "governor_max_min_block_ns", r->gov.max_floor_ns);
	capdata_set_stat(&r->cd, "governor_engaged_ns", r->gov.engaged_ns);
	capdata_set_stat(&r->cd, "governor_first_raise_ns",
			 r->gov.first_raise_at ? r->gov.first_raise_at - r->start_mono_ns : 0);
	capdata_add_drop(&r->cd, "wakers_unmatched", r->wakers_unmatched);
	capdata_set_stat(&r->cd, "wakers_from_irq", r->wakers_from_irq);
	capdata_set_stat(&r->cd, "lock_owners", r->lock_owners);
	r->stopped = true;
	/* The capture and the symbolizer are done: give their memory back (the
	 * ring's mapping, libdwfl sessions, caches) before the reports, which
	 * need room of their own. */
	capture_finish(r->cap);
	r->cap = NULL;
	symbolizer_free(r->sym);
	r->sym = NULL;
	/* An ended generation stays in the watcher's history for minutes and is
	 * never sampled again: its statm descriptors went with every generation
	 * kept (the soak's fd count rose and fell with the history's length);
	 * so did its pidfds. */
	for (size_t i = 0; i < r->nprocs; i++) {
		close_statm(r, &r->procs[i]);
		close_pidfd(r, &r->procs[i]);
	}
	malloc_trim(0);
	return ret;
}

struct capdata *recorder_capdata(struct recorder *r)
{
	return &r->cd;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	capture_finish(r->cap);
	symbolizer_free(r->sym);
	if (r->cd_init)
		capdata_free(&r->cd);
	for (size_t i = 0; i < r->nprocs; i++)
		proc_gone(r, &r->procs[i]);
	throttle_free(&r->thr);
	free(r->procs);
	free(r);
}

size_t recorder_evict(struct recorder *r, uint64_t cutoff_ns)
{
	return capdata_evict(&r->cd, cutoff_ns);
}

void recorder_read_counters(struct recorder *r,
			    void (*fn)(void *arg, const struct capture_counter *c), void *arg)
{
	struct capture_counter user[] = {
		{ "maps_unavailable", r->maps_unavailable, true },
		{ "capdata_full", r->capdata_full, true },
	};

	capture_read_counters(r->cap, fn, arg);
	for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++)
		fn(arg, &user[i]);
}
