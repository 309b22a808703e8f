// SPDX-License-Identifier: GPL-2.0
/* offcpu.bpf.c: exact off-CPU capture with kernel and user stacks, taken at switch-in.
 *
 * Design (see docs/capture.md):
 * - sched_switch, for a target thread going off-CPU, stores only a timestamp and
 *   its state in task storage. Nothing else runs at switch-out: walking stacks
 *   there (what offcputime does) is what makes context-switch storms 2.6x slower.
 * - sched_exit_tp fires at the end of __schedule() as the thread that resumes.
 *   If it was off-CPU for at least min_block_ns, the kernel stack it blocked in is
 *   still on its stack, and its user registers and stack can be copied directly
 *   (it is current, so no mmap_lock is taken). Shorter blocks only add to counters.
 * - On kernels without sched_exit_tp the same body runs from fentry or a kprobe
 *   on finish_task_switch, which also runs as the resumed task.
 * - A task iterator seeds blocks already in progress at the start and flushes the
 *   ones still in progress at the end.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "capture/capture_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0x0000
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_NOLOAD 0x0400
#define PF_KTHREAD 0x00200000
#define EEXIST 17
#define ENOSYS 38

/* Load-time knobs (rodata). */
const volatile __u64 min_block_ns = 1000000;
const volatile __u32 max_ustack = ST_USTACK_DEFAULT; /* most bytes of user stack copied per record */
const volatile __u32 self_tgid = 0;             /* stalltrap's own: its mmap_lock reads are not a target's holds */
const volatile bool has_prev_state_arg = true; /* sched_switch has its 4th arg (5.18+) */
const volatile bool follow_forks = true;
const volatile char targ_comm[ST_COMM_LEN] = {}; /* --name: exec'd processes with this comm join */
const volatile __u64 hold_min_ns = 1000000;    /* mmap_lock holds at least this long get stacks */
const volatile __u64 waker_min_ns = 1000000;   /* blocks at least this long get their waker */
const volatile bool wakers_traced = false;      /* handle_waking is loaded: a long sleep without a waker is a drop */
const volatile bool kstack_cache = true;        /* reuse a thread's kernel stacks when verified */
const volatile __u32 kc_check_every = ST_KC_CHECK_EVERY; /* every Nth cache hit walks too, and compares */
const volatile __u32 hot_mask = ST_HOT_SLOTS_MAX - 1; /* the hot map's slots - 1 (a power of two - 1) */
const volatile bool one_switch_hook = false;    /* handle_exit_tp_one: no sched_switch program (docs/capture.md) */

/* Run-time state (bss), read by user space through the skeleton's mmap. */
struct st_drops drops = {};
__u64 blocks_captured = 0;
__u64 ustack_capped = 0;   /* copies that reached max_ustack (not a loss unless the unwind then fails) */
__u64 ustack_bounded = 0;  /* copies bounded by the thread's known stack end */
__u64 ustack_unbounded = 0;/* copies of threads whose stack end was not known: page by page */
__u64 ustack_top_learnt = 0, ustack_top_missed = 0; /* stack ends learnt (fork, exec, start), and not */
__u64 ustack_ring_lean = 0;  /* copies cut to 8 KiB while the ring was filling */
/* The overhead governor's block threshold (user space sets it, through the
 * mmapped bss, when the programs' cost passes --max-overhead): blocks
 * shorter than this are only counted, as below --min-block. 0: off. */
__u64 gov_min_block_ns = 0;
__u64 kc_hits = 0, kc_checks = 0, kc_mismatches = 0, kc_learnt = 0, kc_unlearnable = 0;
__u32 iter_phase = 0;
/* Target threads whose task storage could not be created in this seed
 * pass (a transient failure): user space runs the seed again
 * (seed_targets() in capture.c). */
__u64 seed_missed = 0;
__u64 waker_seq = 0;
__u64 sw_chain_broken = 0, sw_chain_late = 0, sw_out_raced = 0, sw_unslotted = 0; /* one_switch_hook's (handle_exit_tp_one) */
__u64 clk_measured = 0, clk_suspect = 0;	/* switch_now()'s offset measures kept, and not */

/* Target processes: a bitmap by tgid, one bit per possible pid. An array
 * lookup is inlined by the verifier, so the check every context switch pays is
 * a load and a bit test, not a hash lookup. Mmapped by user space, which sets
 * bits with atomic ORs, as fork/exec tracking does here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ST_TARGET_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps");

/* Per-thread switch-out timestamp and below-threshold totals. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct st_task_state);
} tstate SEC(".maps");


/* The mm_structs of target processes -> their tgid: the mmap_lock tracepoints
 * run for every mm in the system, and for any task (holders can be outside). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} target_mms SEC(".maps");

/* Block records and process/thread records for user space. Size set at load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Where a record is assembled before it is copied into the ring with its
 * real length (a fixed-size reservation would waste most of the ring). A
 * per-CPU value holds 32 KiB at most: a block's whole user stack (up to
 * ST_USTACK_MAX, its end known) goes straight into the ring instead
 * (emit_direct()); what is built here has ST_USTACK_SMALL of it at most. */
#define KS_BYTES (ST_KSTACK_DEPTH * sizeof(__u64))
struct scratch {
	struct st_block_event ev;
	/* nkips kernel ips, then the user stack; a chunk of slack past the
	 * most either takes, for copy_stack()'s bounds */
	__u8 payload[KS_BYTES + ST_USTACK_SMALL + ST_USTACK_CHUNK];
};
_Static_assert(sizeof(struct scratch) <= 32768, "a per-CPU value holds 32 KiB at most");
/* One per program that builds records: an interrupt (a sample, a wakeup) or a
 * preemption must never land in a half-built record of another program on the
 * same CPU. The same program cannot nest on a CPU (the kernel's recursion
 * check), so one buffer per program is enough. */
#define SCRATCH_MAP(name)					\
	struct {						\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);	\
		__uint(max_entries, 1);				\
		__type(key, __u32);				\
		__type(value, struct scratch);			\
	} name SEC(".maps")
SCRATCH_MAP(scratch_in);        /* switch-in: sched_exit_tp / finish_task_switch */
SCRATCH_MAP(scratch_hold);      /* mmap_lock_released */
SCRATCH_MAP(scratch_wake);      /* sched_waking */
SCRATCH_MAP(scratch_sample);    /* perf_event samples */
SCRATCH_MAP(scratch_iter);      /* iter/task */
SCRATCH_MAP(scratch_iter_user); /* iter.s/task (may still run when the other starts) */

/* The timestamp sched_switch took for a target going off-CPU, and the task it
 * switched to: that task's switch-in, moments later on the same CPU in the
 * same __schedule(), reuses it instead of reading the clock again. Cleared at
 * every switch-in so that it is never used stale. Also this CPU's offset
 * from the run queue's clock to CLOCK_MONOTONIC (switch_now()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_switch_stamp);
} stamp SEC(".maps");

/* Per CPU: the task outside the target sampled there last (handle_sample),
 * read by a target's switch-in after a wait for the CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_cpu_taker);
} cpu_taker SEC(".maps");

/* one_switch_hook: per CPU, the target the seed iterator found running
 * there (its run* fields; written by the iterator alone, run last), read
 * once, at that CPU's first switch (seed_running()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct st_switch_stamp);
} seeded SEC(".maps");

/* The switch-out's clock. bpf_ktime_get_ns() costs ~28 ns a read here, at
 * every switch-out of a target. The run queue's own clock (rq->clock,
 * sched_clock) was updated by __schedule() just before the switch, on this
 * CPU, and is a load: the switch-out stamp is rq->clock plus this CPU's
 * offset to CLOCK_MONOTONIC, which is measured again (one clock read)
 * once the run queue's clock has moved on ST_CLK_REFRESH_NS. The stamp is
 * then on CLOCK_MONOTONIC within the time __schedule() takes from its clock
 * update to the tracepoint (under a microsecond) plus the clocks' drift
 * over one period (NTP slews CLOCK_MONOTONIC by 500 ppm at most: 5 µs in
 * 10 ms). The kernel skips the update when the switch follows a wakeup
 * that asked for it (a preemption, or a switch from idle): rq->clock is
 * then that wakeup's, up to the wakeup latency early; a measure of the
 * offset taken then is not kept, and the switch-in, whose end of a block
 * that lag would shorten, reads the precise clock unless the switch-out
 * just before it on this CPU left its stamp. Kernels without group
 * scheduling (no cfs_rq->rq) read bpf_ktime_get_ns(). task is current:
 * its cfs_rq's run queue is this CPU's (every task has a cfs_rq, whatever
 * its class; the per-CPU runqueues variable is not in kallsyms without
 * KALLSYMS_ALL). */
#define ST_CLK_REFRESH_NS 10000000ull	/* the offset is measured again after 10 ms */
#define ST_CLK_STALE_NS 20000ull	/* a measure this much above the last is suspect */
#define ST_CLK_TRUST_NS 1000000000ull	/* unless the last is 1 s old */
static __always_inline __u64 switch_now(struct task_struct *task, struct st_switch_stamp *k)
{
	__u64 c, t;

	if (!bpf_core_field_exists(struct cfs_rq, rq))
		return bpf_ktime_get_ns();
	c = task->se.cfs_rq->rq->clock;
	if (k->at && c >= k->at && c - k->at < ST_CLK_REFRESH_NS)
		return c + k->off;
	t = bpf_ktime_get_ns();
	/* A skipped clock update leaves c early and t - c too big: such a
	 * measure is not kept unless the last one is old */
	if (k->at && c - k->at < ST_CLK_TRUST_NS && (__s64)(t - c - k->off) > (__s64)ST_CLK_STALE_NS) {
		__sync_fetch_and_add(&clk_suspect, 1);
		return t;
	}
	__sync_fetch_and_add(&clk_measured, 1);
	k->off = t - c;
	k->at = c;
	return t;
}

/* switch_now() without measuring the offset again: for a resume's time
 * (one_switch_hook), where the clock update is skipped after idle and an
 * offset measured then would be too big, for every stamp that follows. */
static __always_inline __u64 switch_peek(struct task_struct *task, struct st_switch_stamp *k)
{
	if (!bpf_core_field_exists(struct cfs_rq, rq) || !k->at)
		return bpf_ktime_get_ns();
	return task->se.cfs_rq->rq->clock + k->off;
}

/* Target threads' st_hot, one slot per thread id modulo the slots (sized
 * at load to pid_max, at most ST_HOT_SLOTS_MAX: then no two live threads
 * share a slot), owned by the task that took it first (st_hot.task) until
 * it exits (hot_release()). An array lookup is inlined: task storage's is a
 * helper call, ~7 ns a run on each of sched_switch, the switch-in and
 * sched_waking. A thread whose slot another holds keeps its st_hot in its
 * task storage. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_HOT_SLOTS_MAX);
	__type(key, __u32);
	__type(value, struct st_hot);
} hot SEC(".maps");

/* Everything of an st_hot but its owner. */
static __always_inline void hot_copy(struct st_hot *dst, const struct st_hot *src)
{
	dst->ts_out = src->ts_out;
	dst->woken_ns = src->woken_ns;
	dst->below_ns = src->below_ns;
	dst->below_count = src->below_count;
	dst->state = src->state;
	dst->flags = src->flags;
}

/* task's st_hot, its task storage s at hand. create: at its first
 * switch-out (or seed) a slot is sought for it, and later again whenever
 * that slot is free; the slot then takes what its task storage held. */
static __always_inline struct st_hot *hot_in(struct task_struct *task, struct st_task_state *s, bool create)
{
	__u32 idx = task->pid & hot_mask;
	struct st_hot *h = bpf_map_lookup_elem(&hot, &idx);
	__u64 owner;

	if (h && h->task == (__u64)task)
		return h;
	if (s->flags & ST_TF_HOT_SLOT) {
		/* under the thread id it had then: a non-leader thread's exec
		 * takes the leader's */
		idx = s->hot_idx & hot_mask;
		h = bpf_map_lookup_elem(&hot, &idx);
		if (h && h->task == (__u64)task)
			return h;
		s->flags &= ~ST_TF_HOT_SLOT;	/* (released: hot_release() clears the flag first) */
		return &s->hot;
	}
	/* Tried before: again only once the slot is free (the thread that held
	 * it under this id has exited). A slot still another's is not fought
	 * for at every switch; one free is: before, a thread that found its
	 * slot taken once kept its state in task storage for good, and its
	 * switch-outs went unseen (switch_out_unslotted, a threadstorm's main
	 * thread after test_faults_disk). */
	if (!create || !h || ((s->flags & ST_TF_HOT_TRIED) && h->task))
		return &s->hot;
	s->flags |= ST_TF_HOT_TRIED;
	owner = __sync_val_compare_and_swap(&h->task, 0, (__u64)task);
	if (owner == (__u64)task)
		return h;	/* claimed for it at the same moment elsewhere (the seed, its own switch) */
	if (owner)
		return &s->hot;	/* another live thread's: its id is this one's modulo the slots */
	/* A free slot is all zeroes (hot_release()). Only the thread itself
	 * writes its st_hot, but for a waker on another CPU, which may find the
	 * slot already: what a waker writes is merged, not overwritten. */
	h->ts_out = s->hot.ts_out;
	h->below_ns = s->hot.below_ns;
	h->below_count = s->hot.below_count;
	h->state = s->hot.state;
	if (s->hot.flags)
		h->flags |= s->hot.flags;
	if (s->hot.woken_ns)
		h->woken_ns = s->hot.woken_ns;
	s->hot_idx = idx;
	s->flags |= ST_TF_HOT_SLOT;
	return h;
}

/* task's st_hot, with no task storage lookup when it has a slot. NULL: it
 * has no state (create: no task storage could be had, counted). */
static __always_inline struct st_hot *hot_of(struct task_struct *task, bool create)
{
	__u32 idx = task->pid & hot_mask;
	struct st_hot *h = bpf_map_lookup_elem(&hot, &idx);
	struct st_task_state *s;

	if (h && h->task == (__u64)task)
		return h;
	s = bpf_task_storage_get(&tstate, task, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!s) {
		if (create)
			__sync_fetch_and_add(&drops.task_storage_full, 1);
		return NULL;
	}
	return hot_in(task, s, create);
}

/* When a thread exits, its slot is freed (and what it held goes back to
 * its task storage, for what the thread does until it is gone), so that a
 * slot's owner is always alive: a task_struct's address never names two. */
static __always_inline void hot_release(struct task_struct *task, struct st_task_state *s)
{
	struct st_hot *h;
	__u32 idx;

	if (!(s->flags & ST_TF_HOT_SLOT))
		return;
	s->flags &= ~ST_TF_HOT_SLOT;
	idx = s->hot_idx & hot_mask;
	h = bpf_map_lookup_elem(&hot, &idx);
	if (!h || h->task != (__u64)task)
		return;
	hot_copy(&s->hot, h);
	h->ts_out = h->woken_ns = h->below_ns = h->below_count = 0;
	h->state = h->flags = 0;
	asm volatile("" ::: "memory");
	h->task = 0;
}

static __always_inline bool is_target(__u32 tgid)
{
	__u32 idx = tgid / 64;
	__u64 *w = bpf_map_lookup_elem(&targets, &idx);

	return w && (*w & (1ULL << (tgid & 63)));
}

/* The programs run for every task of the machine, targets or not, and the
 * processes a watcher does not target outnumber the ones it does: each
 * program's first test is the cheapest one that can turn a bystander away
 * (a bit test on current's tgid, read from its task_struct, or on an mm's
 * bit below), before any helper that costs (task storage, a hash lookup). */
static __always_inline bool current_is_target(void)
{
	return is_target(bpf_get_current_task_btf()->tgid);
}

/* A bit per hash of each target mm_struct's address: the mmap_lock
 * tracepoints fire for every mm of the machine, and this turns nearly all
 * of the others away before the target_mms hash lookup. A bit is never
 * cleared (a freed mm whose address comes back only costs that lookup). */
#define MM_BITS_WORDS 64
__u64 mm_bits[MM_BITS_WORDS] = {};

static __always_inline __u32 mm_bit(__u64 mm)
{
	/* mm_structs are slab objects: the low bits carry no information */
	return (__u32)(((mm >> 6) * 0x9E3779B97F4A7C15ULL) >> 52) & (MM_BITS_WORDS * 64 - 1);
}

static __always_inline bool mm_maybe_target(__u64 mm)
{
	__u32 b = mm_bit(mm);

	return mm_bits[(b / 64) & (MM_BITS_WORDS - 1)] & (1ULL << (b & 63));
}

static __always_inline __u32 classify_state(bool preempt, unsigned int state)
{
	if (preempt || state == TASK_RUNNING)
		return ST_STATE_RUNNABLE;
	if ((state & TASK_UNINTERRUPTIBLE) && !(state & TASK_NOLOAD))
		return ST_STATE_UNINTERRUPTIBLE;
	return ST_STATE_SLEEPING;
}

/* Wake user space only when the ring is half full; it also polls on a timer.
 * A wakeup per record costs more than the record itself. */
static __always_inline __u64 wakeup_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return avail > size / 2 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_regs(struct st_block_event *ev, struct task_struct *task)
{
	struct pt_regs r;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	if (bpf_probe_read_kernel(&r, sizeof(r), regs)) {
		ev->flags |= ST_BF_USTACK_NONE;
		return;
	}
	ev->regs[0] = r.ax;  ev->regs[1] = r.dx;  ev->regs[2] = r.cx;  ev->regs[3] = r.bx;
	ev->regs[4] = r.si;  ev->regs[5] = r.di;  ev->regs[6] = r.bp;  ev->regs[7] = r.sp;
	ev->regs[8] = r.r8;  ev->regs[9] = r.r9;  ev->regs[10] = r.r10; ev->regs[11] = r.r11;
	ev->regs[12] = r.r12; ev->regs[13] = r.r13; ev->regs[14] = r.r14; ev->regs[15] = r.r15;
	ev->regs[16] = r.ip;
	ev->syscall = (__s32)r.orig_ax;
	ev->args[0] = r.di;
	ev->args[1] = r.si;
	ev->args[2] = r.dx;
	ev->args[3] = r.r10;
}

/* Reads len bytes of user memory at addr: the current task's (task NULL: no
 * lock taken) or another task's (sleepable programs only; takes its mmap_lock
 * for read). */
static __always_inline long read_user(void *dst, __u32 len, __u64 addr, struct task_struct *task)
{
	if (task)
		return bpf_copy_from_user_task(dst, len, (void *)addr, task, 0);
	return bpf_probe_read_user(dst, len, (void *)addr);
}

/* Copies a user stack from sp upwards to payload + off, at most
 * min(max_ustack, cap) bytes (cap: the scratch's room, a constant).
 * - The thread's stack end known (top: its outermost frame, learnt at its
 *   clone or exec, or its stack mapping's end, learnt at the capture's start):
 *   exactly [sp, top), in one read that never runs past the mapping.
 * - Not known, or that read faulted (sp on another stack): page by page, the
 *   first piece ending at a page boundary, so that the copy stops where the
 *   mapping ends; then a last partial piece, to copy exactly the limit. A read
 *   past a mapping's end faults, and a fault costs more than the copy: that
 *   is why the end is learnt. */
static __always_inline __u32 copy_stack(struct scratch *sc, __u64 sp, __u32 off,
					struct task_struct *task, __u64 top, __u32 cap)
{
	__u32 first = ST_USTACK_CHUNK - (sp & (ST_USTACK_CHUNK - 1));
	__u64 len, limit = max_ustack, at, want;

	if (limit > cap)
		limit = cap;
	if (off > KS_BYTES)
		return 0;
	if (top > sp) {
		want = top - sp;
		if (want > limit) {
			want = limit;
			__sync_fetch_and_add(&ustack_capped, 1);
		}
		asm volatile("" : "+r"(want));
		if (want > cap)
			return 0;
		if (!read_user(sc->payload + off, want, sp, task)) {
			__sync_fetch_and_add(&ustack_bounded, 1);
			return want;
		}
	}
	__sync_fetch_and_add(&ustack_unbounded, 1);
	if (first > ST_USTACK_CHUNK || first == 0)
		first = ST_USTACK_CHUNK;
	if (first > limit)
		first = limit;
	if (read_user(sc->payload + off, first, sp, task))
		return 0;
	len = first;
	for (int i = 0; i < ST_USTACK_MAX / ST_USTACK_CHUNK; i++) {
		if (len >= limit)
			break;
		want = limit - len;
		if (want > ST_USTACK_CHUNK)
			want = ST_USTACK_CHUNK;
		else
			__sync_fetch_and_add(&ustack_capped, 1);
		at = off + len;
		/* the verifier's bounds: the payload has a chunk of slack past it */
		asm volatile("" : "+r"(at));
		if (at > KS_BYTES + cap)
			break;
		asm volatile("" : "+r"(want));
		if (want > ST_USTACK_CHUNK || !want)
			break;
		if (read_user(sc->payload + at, want, sp + len, task))
			break;
		len += want;
	}
	return len;
}

/* Record: the event, then nkips kernel ips, then the user stack. */
static __always_inline void emit(struct scratch *sc, __u32 ulen, __u32 cap)
{
	__u64 nk = sc->ev.nkips, size;

	/* clamps the verifier can follow: size never exceeds the scratch value */
	if (nk > ST_KSTACK_DEPTH)
		nk = ST_KSTACK_DEPTH;
	if (ulen > cap)
		ulen = cap;
	size = sizeof(sc->ev) + nk * sizeof(__u64) + ulen;
	sc->ev.ustack_len = ulen;
	sc->ev.hdr.size = size;
	asm volatile("" : "+r"(size));
	if (size > sizeof(sc->ev) + KS_BYTES + cap)
		return;
	if (bpf_ringbuf_output(&events, sc, size, wakeup_flags())) {
		switch (sc->ev.hdr.type) {
		case ST_EV_HOLD: __sync_fetch_and_add(&drops.hold_ringbuf_full, 1); break;
		case ST_EV_WAKER: __sync_fetch_and_add(&drops.waker_ringbuf_full, 1); break;
		case ST_EV_SAMPLE: __sync_fetch_and_add(&drops.sample_ringbuf_full, 1); break;
		default: __sync_fetch_and_add(&drops.ringbuf_full, 1);
		}
	}
}

/* A block's record straight into the ring, its user stack copied once, from
 * user memory into the record: [sp, sp + ulen), the thread's whole stack
 * (its end known). Copying it into the scratch first and then into the ring
 * cost twice the bytes (a 32 KiB stack: ~7.6 us a block instead of ~5). The
 * verifier wants a constant length per slice of the record, so the stack goes
 * in whole pages, the last one overlapping the one before. Returns 0 when the
 * record went (or the ring was full: counted), -1 when the stack could not be
 * read: the caller then copies it page by page into the scratch. */
/* How much of a stack goes straight into the ring (emit_direct()): the
 * whole of it up to max_ustack, when its end is known and that is a page or
 * more; 0 otherwise (the scratch takes it). */
static __always_inline __u32 direct_len(__u64 sp, __u64 top)
{
	__u64 len;

	if (top <= sp)
		return 0;
	len = top - sp;
	if (len > max_ustack)
		len = max_ustack;
	if (len > ST_USTACK_MAX)
		len = ST_USTACK_MAX;
	if (len < ST_USTACK_CHUNK)
		return 0;
	if (len < top - sp)
		__sync_fetch_and_add(&ustack_capped, 1);
	return len;
}

#define ST_USTACK_BIG_SLICE (16 * 1024)
#define ST_USTACK_LEAN (8 * 1024)

/* A block's exact time matters more than its whole stack: while the ring is
 * more than three quarters full (user space behind even after the wakeup
 * at half: a burst, a generation handover, a slow disk; it drains every
 * 100 ms otherwise), stacks are copied up to 8 KiB only, so that deep
 * ones (a thread with a 64 KiB buffer on its stack copies 64 KiB a block)
 * do not crowd the blocks themselves out. Counted: ustack_ring_lean. */
static __always_inline __u32 ring_budget(__u32 ulen)
{
	if (ulen <= ST_USTACK_LEAN)
		return ulen;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4 * 3) {
		__sync_fetch_and_add(&ustack_ring_lean, 1);
		return ST_USTACK_LEAN;
	}
	return ulen;
}
static __always_inline int emit_direct(struct scratch *sc, __u64 sp, __u32 ulen, struct task_struct *task)
{
	struct bpf_dynptr dp;
	__u64 nk = sc->ev.nkips, head, at, done;
	void *p;

	if (nk > ST_KSTACK_DEPTH)
		nk = ST_KSTACK_DEPTH;
	if (ulen < ST_USTACK_CHUNK || ulen > ST_USTACK_MAX)
		return -1;
	head = sizeof(sc->ev) + nk * sizeof(__u64);
	sc->ev.ustack_len = ulen;
	sc->ev.hdr.size = head + ulen;
	if (bpf_ringbuf_reserve_dynptr(&events, head + ulen, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		__sync_fetch_and_add(&drops.ringbuf_full, 1);
		return 0;
	}
	asm volatile("" : "+r"(head));
	if (head > sizeof(sc->ev) + KS_BYTES || bpf_dynptr_write(&dp, 0, sc, head, 0))
		goto fault;
	/* 16 KiB slices while they fit (fewer calls), then pages */
	done = 0;
	for (int i = 0; i < ST_USTACK_MAX / ST_USTACK_BIG_SLICE; i++) {
		if (done + ST_USTACK_BIG_SLICE > ulen)
			break;
		p = bpf_dynptr_data(&dp, head + done, ST_USTACK_BIG_SLICE);
		if (!p || read_user(p, ST_USTACK_BIG_SLICE, sp + done, task))
			goto fault;
		done += ST_USTACK_BIG_SLICE;
	}
	for (int i = 0; i < ST_USTACK_BIG_SLICE / ST_USTACK_CHUNK; i++) {
		if (done >= ulen)
			break;
		at = done + ST_USTACK_CHUNK > ulen ? ulen - ST_USTACK_CHUNK : done;
		p = bpf_dynptr_data(&dp, head + at, ST_USTACK_CHUNK);
		if (!p || read_user(p, ST_USTACK_CHUNK, sp + at, task))
			goto fault;
		done = at + ST_USTACK_CHUNK;
	}
	bpf_ringbuf_submit_dynptr(&dp, wakeup_flags());
	return 0;
fault:
	bpf_ringbuf_discard_dynptr(&dp, 0);
	return -1;
}

/* ---- Kernel stack cache ------------------------------------------------------
 * Walking the kernel stack (ORC) is most of a captured block's cost when
 * caches are cold: ~10 us of the ~15 us a block costs a quiet service. A thread
 * mostly blocks again where it blocked before, and then the walk returns the
 * same addresses. The walk reads each return address from a slot of the
 * thread's own kernel stack. So after a walk the slots are found (searching
 * down from pt_regs for each address, outermost first: only live frames lie
 * between pt_regs and this program) and kept in task storage, in one of
 * ST_KC_WAYS ways chosen by the wait site's user-mode syscall and return
 * address. The kernel moves the frames from the syscall handler in by a random
 * offset at every syscall (CONFIG_RANDOMIZE_KSTACK_OFFSET), so their slots are
 * kept as bytes from the stack pointer the thread saved when it switched out;
 * only the outermost one, the return into the entry code, pushed before that
 * offset, is kept as bytes below pt_regs (kc_holds()). At the
 * next block there, reading those slots and finding the same addresses says
 * the path is the same: the cached stack is used and the walk skipped.
 * The walk's first address is not on the stack: it is the return into this
 * program from bpf_get_stack(), one of the capture's own frames, which user
 * space cuts (symbolizer_kstack()); it is kept as is.
 * Every kc_check_every-th hit walks anyway and compares (kc_checks,
 * kc_mismatches; a mismatch relearns). A stack deeper than ST_KC_MAX, or
 * one whose addresses are not all found, is not cached. */

/* The image of the ST_KC_SPAN bytes below pt_regs, searched when learning, in
 * the scratch's user-stack area (filled later). */
static __always_inline bool kstack_image(struct scratch *sc, struct task_struct *task)
{
	__u64 top = (__u64)bpf_task_pt_regs(task);

	return !bpf_probe_read_kernel(sc->payload + ST_KSTACK_DEPTH * sizeof(__u64), ST_KC_SPAN,
				      (void *)(top - ST_KC_SPAN));
}

/* The image's word off bytes below pt_regs. */
static __always_inline __u64 image_word(struct scratch *sc, __u32 off)
{
	__u32 idx = ST_KC_SPAN - off;	/* the image starts ST_KC_SPAN below */

	asm volatile("" : "+r"(idx));	/* checked as computed, for the verifier */
	if (idx > ST_KC_SPAN - 8)
		return 0;
	return *(__u64 *)(sc->payload + ST_KSTACK_DEPTH * sizeof(__u64) + idx);
}

/* Whether way w's slots still hold its addresses. Each slot is read at its one
 * anchor: the outermost return address (into the entry code, pushed before
 * do_syscall_64() makes its random-sized room) below pt_regs, every other one
 * from the saved stack pointer. Only a syscall's frames move by that random
 * offset: for any other entry (a fault, an interrupt) the stack must be as deep
 * as when the way was learnt. Otherwise a fault taken in the kernel on the way
 * back from a fault in user mode (rseq's __put_user) passed for the plain
 * fault: its inner frames and the outer entry's slot held the same addresses,
 * the interrupted frames in between went unseen (1 in ~3,000 checks). */
static __always_inline bool kc_holds(struct st_kc_way *w, __u64 top, struct task_struct *task, bool in_syscall)
{
	__u64 sp = task->thread.sp, v, at;
	__u32 n = w->n;

	if (n < 2 || n > ST_KC_MAX || (!in_syscall && top - sp != w->depth))
		return false;
	for (int i = 1; i < ST_KC_MAX; i++) {
		if ((__u32)i >= n)
			break;
		at = (__u32)i == n - 1 ? top - w->off[i] : sp + w->off_sp[i];
		if (bpf_probe_read_kernel(&v, sizeof(v), (void *)at) || v != w->ip[i])
			return false;
	}
	return true;
}

struct kc_scan {
	struct scratch *sc;
	struct st_kc_way *w;    /* w->n: the address looked for next, outermost first */
	__u64 top, sp;          /* pt_regs, and the stack pointer saved at the switch-out */
};

/* One word of the image, j + 1 words below pt_regs (bpf_loop: verified once;
 * what changes between words lives in the map value, so that the verifier's
 * states converge). */
static long kc_scan_word(__u32 j, void *arg)
{
	struct kc_scan *k = arg;
	__u32 off = (j + 1) * 8, idx = k->w->n;
	__u64 *ips;
	__s64 rel;

	if (idx < 1 || idx >= ST_KC_MAX || off > ST_KC_SPAN)	/* the first address is not on the stack */
		return 1;
	ips = (__u64 *)k->sc->payload;
	if (image_word(k->sc, off) != ips[idx])
		return 0;
	rel = (__s64)(k->top - off - k->sp);
	if (rel < -32768 || rel > 32767)
		return 1;
	k->w->off[idx] = off;
	k->w->off_sp[idx] = (__s16)rel;
	k->w->ip[idx] = ips[idx];
	k->w->n = idx - 1;
	return 0;
}

/* After a walk of n addresses (in sc->payload): find their slots, into w. */
static __always_inline void kc_learn(struct scratch *sc, struct st_task_state *s, struct st_kc_way *w,
				     __u64 key, struct task_struct *task, __u32 n)
{
	struct kc_scan k = { .sc = sc, .w = w, .sp = task->thread.sp };

	/* pt_regs' address as a plain number: through memory, for the verifier */
	s->kc_top = (__u64)bpf_task_pt_regs(task);
	k.top = *(volatile __u64 *)&s->kc_top;
	w->key = key;
	w->n = 0;
	w->uses = 0;
	if (s->kc_skip) {
		s->kc_skip--;
		return;
	}
	if (n < 2 || n > ST_KC_MAX || !kstack_image(sc, task))
		goto fail;
	w->n = n - 1;
	bpf_loop(ST_KC_SPAN / 8, kc_scan_word, &k, 0);
	if (w->n >= 1)
		goto fail;
	w->off[0] = 0;
	w->off_sp[0] = 0;
	w->ip[0] = ((__u64 *)sc->payload)[0];
	w->depth = (__u32)(k.top - k.sp);
	w->n = n;
	__sync_fetch_and_add(&kc_learnt, 1);
	return;
fail:
	w->n = 0;
	__sync_fetch_and_add(&kc_unlearnable, 1);
	s->kc_skip = 16;
}

/* The kernel stack of the current thread, blocked at the wait site key, into
 * sc->payload: from the cache when its slots still hold it, else walked (and
 * learnt). Returns its size in bytes, as bpf_get_stack() does (<= 0: the
 * walk failed). */
static __always_inline long kstack_cached(void *ctx, struct scratch *sc, struct st_task_state *s, __u64 key,
					  bool in_syscall)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *ips = (__u64 *)sc->payload;
	struct st_kc_way *w = NULL;
	bool hit = false, same = true;
	long got;
	__u32 n;

	if (!kstack_cache)
		return bpf_get_stack(ctx, sc->payload, ST_KSTACK_DEPTH * sizeof(__u64), 0);
	for (int i = 0; i < ST_KC_WAYS; i++) {
		if (s->kc[i].key == key) {
			w = &s->kc[i];
			break;
		}
	}
	if (w && kc_holds(w, s->kc_top, task, in_syscall)) {
		n = w->n;
		hit = true;
		if (kc_check_every > 1 && ++w->uses % kc_check_every) {
			for (int i = 0; i < ST_KC_MAX; i++) {
				if ((__u32)i >= n)
					break;
				ips[i] = w->ip[i];
			}
			__sync_fetch_and_add(&kc_hits, 1);
			return n * sizeof(__u64);
		}
		__sync_fetch_and_add(&kc_checks, 1);
	}
	got = bpf_get_stack(ctx, sc->payload, ST_KSTACK_DEPTH * sizeof(__u64), 0);
	if (got <= 0)
		return got;
	if (hit) {
		/* (the first address, the return into this program, is the
		 * capture's own and cut in user space: clang may emit the call
		 * more than once, so it differs) */
		same = got / sizeof(__u64) == w->n;
		for (int i = 1; i < ST_KC_MAX && same; i++) {
			if ((__u32)i >= w->n)
				break;
			same = ips[i] == w->ip[i];
		}
		if (same)
			return got;
		__sync_fetch_and_add(&kc_mismatches, 1);
	}
	if (!w)
		w = &s->kc[s->kc_next++ % ST_KC_WAYS];
	kc_learn(sc, s, w, key, task, got / sizeof(__u64));
	return got;
}

/* The parts of a record every type shares, for the current task: identity,
 * kernel stack, user registers and stack. Returns the user stack length. */
static __always_inline __u32 fill_current(void *ctx, struct scratch *sc, __u32 type, bool kstack,
					 struct st_task_state *kc, __u32 cap, bool *direct)
{
	struct task_struct *task = bpf_get_current_task_btf();
	bool kthread = task->flags & PF_KTHREAD;
	__u32 ulen = 0;
	long n;

	__builtin_memset(&sc->ev, 0, sizeof(sc->ev));
	sc->ev.hdr.type = type;
	sc->ev.pid = bpf_get_current_pid_tgid() >> 32;
	sc->ev.tid = (__u32)bpf_get_current_pid_tgid();
	sc->ev.syscall = -1;
	bpf_get_current_comm(sc->ev.comm, sizeof(sc->ev.comm));
	if (kthread)
		sc->ev.flags |= ST_BF_USTACK_NONE;
	else
		fill_regs(&sc->ev, task);
	/* The kernel stack travels in the record: a stack-id map would lose
	 * stacks to hash collisions, and costs the same walk. */
	if (kstack) {
		/* the wait site, for the cache: the syscall and where user mode left */
		__u64 site = ((__u64)(__u32)sc->ev.syscall << 48 ^ sc->ev.regs[ST_REG_RIP]) | 1;

		/* entry_SYSCALL_64 leaves -ENOSYS in pt_regs->ax until the syscall returns */
		bool in_syscall = !kthread && (__s64)sc->ev.regs[0] == -ENOSYS && sc->ev.syscall >= 0;

		n = kc ? kstack_cached(ctx, sc, kc, site, in_syscall)
		       : bpf_get_stack(ctx, sc->payload, ST_KSTACK_DEPTH * sizeof(__u64), 0);
		if (n > 0)
			sc->ev.nkips = n / sizeof(__u64);
		else
			__sync_fetch_and_add(&drops.kstack_failed, 1);
	} else {
		sc->ev.flags |= ST_BF_KSTACK_NONE;
	}
	if (kthread)
		return 0;
	if (!(sc->ev.flags & ST_BF_USTACK_NONE)) {
		struct st_task_state *ts = kc ? kc : bpf_task_storage_get(&tstate, task, 0, 0);
		__u64 sp = sc->ev.regs[ST_REG_RSP], top = ts ? ts->ustack_top : 0;

		/* a whole stack of a page or more: the caller copies it into the ring */
		if (direct && (ulen = direct_len(sp, top))) {
			*direct = true;
			return ulen;
		}
		ulen = copy_stack(sc, sp, sc->ev.nkips * sizeof(__u64), NULL, top, cap);
		if (!ulen)
			sc->ev.flags |= ST_BF_USTACK_FAULT;
	}
	return ulen;
}

/* Switch-in of target thread task (current), its st_hot h: a block of
 * min_block_ns or more is emitted with its stacks. cached: the clock read
 * at this switch's switch-out, if any (0: read the clock). */
static __always_inline int switch_in_body(void *ctx, struct task_struct *task, struct st_hot *h, __u64 cached)
{
	struct st_task_state *s;
	struct scratch *sc;
	__u64 now, ts, dur, ready;
	__u32 zero = 0, ulen;
	bool direct = false;

	if (!h->ts_out)
		return 0;
	ts = h->ts_out;
	/* Bystanders' switch-ins leave the stamp alone, so it can outlive the
	 * switch it was taken at: one taken before this thread's own switch-out
	 * is not this switch's. */
	if (cached < ts)
		cached = 0;
	now = cached ? cached : bpf_ktime_get_ns();
	if ((__s64)(now - ts) < 0)	/* within the switch-out stamp's error (switch_now()) */
		now = ts;
	h->ts_out = 0;
	dur = now - ts;
	if (dur < min_block_ns || dur < gov_min_block_ns) {
		h->below_ns += dur;
		h->below_count++;
		h->flags &= ~ST_BF_WOKEN_IRQ;
		h->woken_ns = 0;
		return 0;
	}
	s = bpf_task_storage_get(&tstate, task, 0, 0);
	if (!s)
		return 0;
	sc = bpf_map_lookup_elem(&scratch_in, &zero);
	if (!sc)
		return 0;
	ulen = fill_current(ctx, sc, ST_EV_BLOCK, true, s, ST_USTACK_SMALL, &direct);
	sc->ev.start_ns = ts;
	sc->ev.dur_ns = dur;
	sc->ev.state = h->state;
	sc->ev.flags |= h->flags & (ST_BF_BEGAN_BEFORE | ST_BF_WOKEN_IRQ);
	if (wakers_traced && !s->waker_seq && !(h->flags & ST_BF_WOKEN_IRQ) && h->state != ST_STATE_RUNNABLE &&
	    dur >= waker_min_ns && !(h->woken_ns && h->woken_ns + ST_WAKE_RACE_NS >= ts &&
				     (h->woken_ns < ts || h->woken_ns - ts < waker_min_ns)))
		__sync_fetch_and_add(&drops.waker_missing, 1);
	/* still inside the lock's slow path: contention_end comes after this */
	sc->ev.wait_kind = s->lock_kind;
	sc->ev.wait_obj = s->lock_addr;
	sc->ev.lock_flags = s->lock_flags;
	sc->ev.waker_seq = s->waker_seq;
	sc->ev.waker_tid = s->waker_tid;
	sc->ev.waker_pid = s->waker_pid;
	/* its wakeup (one racing with the switch-out: at the switch-out) */
	if (h->woken_ns && h->woken_ns + ST_WAKE_RACE_NS >= ts && h->woken_ns <= now)
		sc->ev.woken_ns = h->woken_ns > ts ? h->woken_ns : ts;
	/* who had this CPU while it waited for it: sampled since it was
	 * runnable (preempted: all along; else since its wakeup) */
	ready = h->state == ST_STATE_RUNNABLE ? ts : sc->ev.woken_ns;
	if (ready) {
		struct st_cpu_taker *tk = bpf_map_lookup_elem(&cpu_taker, &zero);

		if (tk && tk->tid && tk->last_ns >= ready) {
			sc->ev.taker_tid = tk->tid;
			sc->ev.taker_pid = tk->pid;
			sc->ev.taker_samples = tk->samples;
			__builtin_memcpy(sc->ev.taker_comm, tk->comm, ST_COMM_LEN);
		}
	}
	s->waker_seq = 0;
	s->waker_tid = s->waker_pid = 0;
	h->flags &= ~(ST_BF_BEGAN_BEFORE | ST_BF_WOKEN_IRQ);
	h->woken_ns = 0;
	s->blocks++;
	__sync_fetch_and_add(&blocks_captured, 1);
	if (direct) {
		if (!emit_direct(sc, sc->ev.regs[ST_REG_RSP], ring_budget(ulen), NULL)) {
			__sync_fetch_and_add(&ustack_bounded, 1);
			return 0;
		}
		/* not the stack it was learnt for (sigaltstack, a coroutine's) */
		ulen = copy_stack(sc, sc->ev.regs[ST_REG_RSP], sc->ev.nkips * sizeof(__u64), NULL, 0,
				  ST_USTACK_SMALL);
		if (!ulen)
			sc->ev.flags |= ST_BF_USTACK_FAULT;
	}
	emit(sc, ulen, ST_USTACK_SMALL);
	return 0;
}

/* Switch-in of a thread: called as the resumed task (sched_switch does the
 * switch-out). */
static __always_inline int on_switch_in(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct st_switch_stamp *st;
	struct st_hot *h;
	__u64 cached = 0;
	__u32 zero = 0;

	if (!is_target(task->tgid))
		return 0;
	st = bpf_map_lookup_elem(&stamp, &zero);
	if (st) {
		cached = st->next == (__u64)task ? st->ts : 0;
		st->next = 0;
	}
	h = hot_of(task, false);
	if (!h)
		return 0;
	return switch_in_body(ctx, task, h, cached);
}

/* Once per thread: remember its mm (a number, to hash) as a target's, for
 * the mmap_lock hooks. */
static __noinline void register_mm(struct st_hot *h, __u32 tgid, __u64 mm)
{
	__u32 b;

	if (!mm)
		return;
	if (bpf_map_update_elem(&target_mms, &mm, &tgid, BPF_ANY))
		__sync_fetch_and_add(&drops.target_mms_full, 1);
	b = mm_bit(mm);
	__sync_fetch_and_or(&mm_bits[(b / 64) & (MM_BITS_WORDS - 1)], 1ULL << (b & 63));
	h->flags |= ST_TF_MM;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct st_switch_stamp *st;
	struct st_hot *h;
	unsigned int state;
	__u32 zero = 0, tgid = cur->tgid;

	/* current is prev here; next is handled by on_switch_in when it resumes.
	 * (tgid from current's task_struct: a load, where
	 * bpf_get_current_pid_tgid() is a helper call) */
	if (!is_target(tgid))
		return 0;
	h = hot_of(cur, true);
	if (!h)
		return 0;
	if (has_prev_state_arg)
		state = (unsigned int)ctx[3];
	else
		state = BPF_CORE_READ(prev, __state);
	h->state = classify_state(preempt, state);
	st = bpf_map_lookup_elem(&stamp, &zero);
	if (st) {
		h->ts_out = switch_now(cur, st);
		st->next = (__u64)next;
		st->ts = h->ts_out;
	} else {
		h->ts_out = bpf_ktime_get_ns();
	}
	if (!(h->flags & ST_TF_MM))
		register_mm(h, tgid, (__u64)BPF_CORE_READ(cur, mm));
	return 0;
}

SEC("raw_tp/sched_exit_tp")
int BPF_PROG(handle_exit_tp, bool is_switch)
{
	if (!is_switch)
		return 0;
	return on_switch_in(ctx);
}

/* ---- One hook for both ends of a switch (one_switch_hook) -----------------
 *
 * Every hook on the scheduler's path runs for every task of the machine, so
 * bystanders pay for each one (issue 15): where sched_exit_tp exists, the
 * switch-out is done by the same program, as the next task resumes, and
 * sched_switch has no program. The thread that resumed last on this CPU is
 * the one switched out now: a target's is kept per CPU (stamp.run), with
 * the run queue's switch count then, which must have moved by exactly one
 * (sched_exit_tp fires at the end of every __schedule() that switched and
 * in schedule_tail(), a new task's first run, unless tracing is hidden from
 * the resumed task: then take_late()). The switch-out's
 * time is the run queue's clock, as sched_switch's (switch_now()); its
 * state is read from the task now, the prev_state sched_switch would have
 * had unless a wakeup has come since (then it is runnable: a block of a
 * microsecond, below any --min-block). The previous task is gone from
 * this CPU but not freed (finish_task_switch() drops its last reference
 * under RCU), and its fields are read through bpf_rdonly_cast(). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Into rec, what the switch-out of task (running on a CPU whose run queue
 * has switched sw times) and take_late() will check it against: all but
 * rec->run and rec->run_at, which the caller sets. */
static __always_inline void note_run(struct st_switch_stamp *rec, struct task_struct *task, __u32 idx, __u64 sw)
{
	rec->run_idx = idx;
	rec->run_sw = sw;
	rec->run_pid = task->pid;
	rec->run_nv = (__u32)task->nvcsw;
	rec->run_niv = (__u32)task->nivcsw;
	rec->run_sum = task->se.sum_exec_runtime;
}

/* A switch-out that a resume firing no tracepoint hid (see below), taken
 * from rec (a CPU's stamp of the thread t): dated by the CPU time it ran
 * since it resumed (se.sum_exec_runtime is updated at a switch-out, and
 * not again until it runs), provided it switched out once only since (its
 * switch counts), is not running, or is the thread resuming now, and the
 * time it resumed is known (not for a thread seeded running); else counted,
 * not guessed. Its state: runnable if preempted, else its sleep state
 * (sleeping if woken since: the kind is no longer known). The thread may
 * be resuming on another CPU and claiming it too (claim_cb()): the
 * compare-and-swap makes one of the two take it, the fields read before
 * it (once the stamp is free, its CPU may fill it again). */
static __always_inline bool take_late(struct st_switch_stamp *rec, struct task_struct *t, __u64 *ts, __u32 *state)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__u32 moved = ((__u32)t->nvcsw - rec->run_nv) + ((__u32)t->nivcsw - rec->run_niv);
	bool ok = moved == 1 && rec->run_at && !(t->on_cpu && t != cur);
	__u64 at = rec->run_at + (t->se.sum_exec_runtime - rec->run_sum);
	__u32 st = t->__state;

	st = (__u32)t->nivcsw != rec->run_niv ? ST_STATE_RUNNABLE :
	     st == TASK_RUNNING ? ST_STATE_SLEEPING : classify_state(false, st);
	if (!ok)
		__sync_fetch_and_add(&sw_chain_broken, 1);
	/* a lost one is consumed too: counted once */
	if (__sync_val_compare_and_swap(&rec->run, (__u64)t, 0) != (__u64)t || !ok)
		return false;
	*ts = at;
	*state = st;
	__sync_fetch_and_add(&sw_chain_late, 1);
	return true;
}

/* A target resuming with no switch-out stamped: if the CPU it last
 * resumed on still holds it (its switch-out there was hidden, and it was
 * woken and resumed here before that CPU's next seen resume), it takes it
 * over. Rare: the bpf_loop over the CPUs runs only then. */
#define ST_CLAIM_MAX_CPUS 8192
struct claim_ctx {
	struct task_struct *task;
	__u64 ts;
	__u32 state;
};

static long claim_cb(__u32 cpu, void *arg)
{
	struct claim_ctx *c = arg;
	struct st_switch_stamp *p;
	__u32 zero = 0, state;
	__u64 ts;

	p = bpf_map_lookup_percpu_elem(&stamp, &zero, cpu);
	if (!p)
		return 1;	/* past the last CPU */
	if (p->run != (__u64)c->task || p->run_pid != (__u32)c->task->pid)
		return 0;
	if (take_late(p, c->task, &ts, &state)) {
		c->ts = ts;
		c->state = state;
	}
	return 1;
}

/* The switch-out of rec->run (rec: this CPU's stamp, or the seed's record
 * of what ran here at the start); st: this CPU's stamp, for the clock. */
static __always_inline __u64 switch_out_prev(struct st_switch_stamp *st, struct st_switch_stamp *rec,
					     struct task_struct *cur, bool late)
{
	struct task_struct *prev = bpf_rdonly_cast((void *)rec->run, bpf_core_type_id_kernel(struct task_struct));
	__u32 idx = rec->run_idx & hot_mask, state;
	struct st_hot *h = bpf_map_lookup_elem(&hot, &idx);
	bool queued;
	__u64 now;

	if ((__u32)prev->pid != rec->run_pid)
		return 0;	/* it exited, and its task_struct is another's now */
	if (!h || h->task != rec->run) {
		/* its slot moved (exec) or was released (exit) */
		idx = prev->pid & hot_mask;
		h = bpf_map_lookup_elem(&hot, &idx);
		if (!h || h->task != rec->run)
			return 0;
	}
	if (late) {
		/* a resume between its switch-out and this one fired no
		 * sched_exit_tp: see take_late() */
		if (take_late(rec, prev, &now, &state)) {
			h->state = state;
			h->ts_out = now;
		}
		return 0;	/* not this switch's time: not cached for the resume */
	}
	now = switch_now(cur, st);
	state = prev->__state;
	queued = prev->on_rq && !(bpf_core_field_exists(prev->se.sched_delayed) && prev->se.sched_delayed);
	h->state = queued ? ST_STATE_RUNNABLE : classify_state(false, state);
	h->ts_out = now;
	/* Woken and already resumed on another CPU (its switch-in there did
	 * not see this stamp): the block was sub-microsecond; a stamp left
	 * behind would make a running thread look blocked. The atomic add is
	 * a full barrier: the store above is seen before on_cpu is read. */
	__sync_fetch_and_add(&st->fence, 1);
	if (prev->on_cpu) {
		__sync_val_compare_and_swap(&h->ts_out, now, 0);
		__sync_fetch_and_add(&sw_out_raced, 1);
		return 0;
	}
	return now;
}

SEC("raw_tp/sched_exit_tp")
int BPF_PROG(handle_exit_tp_one, bool is_switch)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct st_switch_stamp *st;
	struct st_task_state *s;
	struct st_hot *h;
	__u64 cached = 0, sw = 0;	/* sw: the run queue's switch count, once read */
	__u32 zero = 0, idx;

	if (!is_switch)
		return 0;
	st = bpf_map_lookup_elem(&stamp, &zero);
	if (!st)
		return 0;
	if (st->run) {
		sw = cur->se.cfs_rq->rq->nr_switches;
		if (st->run != ST_RUN_UNKNOWN) {
			cached = switch_out_prev(st, st, cur, sw != st->run_sw + 1);
		} else {
			/* this CPU's first switch since the load */
			struct st_switch_stamp *sd = bpf_map_lookup_elem(&seeded, &zero);

			if (sd && sd->run && sw == sd->run_sw + 1)
				cached = switch_out_prev(st, sd, cur, false);
		}
		st->run = 0;
	}
	if (!is_target(cur->tgid))
		return 0;
	idx = cur->pid & hot_mask;
	h = bpf_map_lookup_elem(&hot, &idx);
	if (!h || h->task != (__u64)cur) {
		/* its first switch here, or its slot is under another id */
		h = hot_of(cur, true);
		if (!h)
			return 0;
		s = bpf_task_storage_get(&tstate, cur, 0, 0);
		if (h->task == (__u64)cur && s && (s->flags & ST_TF_HOT_SLOT)) {
			idx = s->hot_idx;
		} else {
			/* no slot: its switch-outs cannot be seen */
			__sync_fetch_and_add(&sw_unslotted, 1);
			return switch_in_body(ctx, cur, h, cached);
		}
	}
	if (!h->ts_out) {
		struct claim_ctx c = { .task = cur };

		bpf_loop(ST_CLAIM_MAX_CPUS, claim_cb, &c, 0);
		if (c.ts) {
			h->state = c.state;
			h->ts_out = c.ts;
		}
	}
	note_run(st, cur, idx, sw ? sw : cur->se.cfs_rq->rq->nr_switches);
	st->run_at = cached ? cached : switch_peek(cur, st);
	st->run = (__u64)cur;
	if (!(h->flags & ST_TF_MM))
		register_mm(h, cur->tgid, (__u64)BPF_CORE_READ(cur, mm));
	return switch_in_body(ctx, cur, h, cached);
}

/* Fallbacks for kernels without sched_exit_tp: finish_task_switch runs as the
 * resumed task too. Loaded only when selected. */
SEC("fentry/finish_task_switch")
int BPF_PROG(handle_fts_fentry)
{
	return on_switch_in(ctx);
}

SEC("kprobe/finish_task_switch")
int BPF_KPROBE(handle_fts_kprobe)
{
	return on_switch_in(ctx);
}


/* ---- Cause tracing (on unless --no-locks) ---------------------------------- */

/* lock:contention_begin runs as the waiter before it sleeps; the block that
 * follows is closed by on_switch_in before contention_end, so the lock is still
 * in task storage when the block is emitted. A spinning wait (LCB_F_SPIN: a
 * spinlock, a rwlock, a mutex's optimistic spin) never sleeps, preemption
 * off: it is not kept, so that it neither clobbers the sleeping lock whose
 * slow path takes it (an rwsem's wait_lock) nor, its contention_end
 * missed, tags the next sleep. PREEMPT_RT's sleeping spinlocks say LCB_F_RT. */
#define ST_LCB_F_SPIN 0x01
#define ST_LCB_F_RT   0x08
SEC("raw_tp/contention_begin")
int BPF_PROG(handle_contention_begin, void *lock, unsigned int flags)
{
	struct task_struct *task;
	struct st_task_state *s;
	__u64 mmap_lock;

	if ((flags & (ST_LCB_F_SPIN | ST_LCB_F_RT)) == ST_LCB_F_SPIN)
		return 0;
	task = bpf_get_current_task_btf();
	if (!is_target(task->tgid))
		return 0;
	s = bpf_task_storage_get(&tstate, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	mmap_lock = task->mm ? (__u64)&task->mm->mmap_lock : 0;
	s->lock_addr = (__u64)lock;
	s->lock_flags = flags;
	s->lock_kind = (__u64)lock == mmap_lock ? ST_WAIT_MMAP_LOCK : ST_WAIT_KERNEL_LOCK;
	return 0;
}

SEC("raw_tp/contention_end")
int BPF_PROG(handle_contention_end, void *lock, int ret)
{
	struct st_task_state *s;

	if (!current_is_target())
		return 0;
	s = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0, 0);
	if (s && s->lock_addr == (__u64)lock) {
		s->lock_addr = 0;
		s->lock_kind = ST_WAIT_NONE;
	}
	return 0;
}

static __always_inline void emit_hold(void *ctx, struct st_task_state *s, __u64 now, __u32 flags)
{
	struct scratch *sc;
	__u32 zero = 0, ulen;

	sc = bpf_map_lookup_elem(&scratch_hold, &zero);
	if (!sc)
		return;
	ulen = fill_current(ctx, sc, ST_EV_HOLD, true, NULL, ST_USTACK_SMALL, NULL);
	sc->ev.start_ns = s->hold_ts;
	sc->ev.dur_ns = now - s->hold_ts;
	sc->ev.aux = s->hold_mode;
	sc->ev.aux_pid = s->hold_mm_pid;
	sc->ev.flags |= flags;
	emit(sc, ulen, ST_USTACK_SMALL);
}

/* mmap_lock tracepoints run as the acquirer and the releaser, so the holder is
 * known in read mode too, and its stacks are taken in its own context. */
/* Their arguments: (mm, [memcg_path,] write[, success]). 6.1 passes a
 * memcg_path second, 6.18 does not: each layout has its own program, and the
 * loader loads the one the kernel's BTF describes (read with the newer
 * layout, 6.1's every read acquire looked failed). */
static __always_inline int mmap_acquired(struct mm_struct *mm, bool write, bool success)
{
	struct st_task_state *s;
	__u64 key = (__u64)mm;
	__u32 *owner;

	if (!success || !mm_maybe_target(key))
		return 0;
	owner = bpf_map_lookup_elem(&target_mms, &key);
	if (!owner || bpf_get_current_pid_tgid() >> 32 == self_tgid)
		return 0;
	s = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	if (s->hold_mm == key && s->hold_mode == ST_HOLD_WRITE && !write) {
		/* mmap_write_downgrade: a read acquire with no write release */
		s->hold_mode = ST_HOLD_DOWNGRADED;
		return 0;
	}
	s->hold_mm = key;
	s->hold_mm_pid = *owner;
	s->hold_mode = write ? ST_HOLD_WRITE : ST_HOLD_READ;
	s->hold_ts = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/mmap_lock_acquire_returned")
int BPF_PROG(handle_mmap_acquired, struct mm_struct *mm, bool write, bool success)
{
	return mmap_acquired(mm, write, success);
}

SEC("raw_tp/mmap_lock_acquire_returned")
int BPF_PROG(handle_mmap_acquired_memcg, struct mm_struct *mm, const char *memcg_path, bool write, bool success)
{
	return mmap_acquired(mm, write, success);
}

/* (mm, [memcg_path,] write): only mm is read, the same in both layouts */
SEC("raw_tp/mmap_lock_released")
int BPF_PROG(handle_mmap_released, struct mm_struct *mm)
{
	struct st_task_state *s;
	__u64 now, dur;

	if (!mm_maybe_target((__u64)mm))	/* only target mms' holds are tracked */
		return 0;
	s = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0, 0);
	if (!s || s->hold_mm != (__u64)mm || !s->hold_ts)
		return 0;
	now = bpf_ktime_get_ns();
	dur = now - s->hold_ts;
	s->hold_ns += dur;
	s->holds++;
	if (s->hold_mode == ST_HOLD_READ)
		s->hold_read_ns += dur;
	else
		s->hold_write_ns += dur;
	if (dur >= hold_min_ns)
		emit_hold(ctx, s, now, 0);
	s->hold_mm = 0;
	s->hold_ts = 0;
	return 0;
}

/* Who woke a long block: the waker runs this, whatever the wait (a futex, a
 * kernel lock, a signal, a pipe, an eventfd, an epoll, a socket), as
 * offwaketime does. The waker of an application's lock is its holder at the
 * release, whatever primitive the application built its lock from, so every
 * long sleep gets one. A wakeup in interrupt context (a timer's expiry, a
 * device, a softirq delivering packets) has no waker: "current" is merely
 * whoever the interrupt landed on. The block is flagged instead. Typed
 * (tp_btf) because the woken task's storage is needed; loaded only where the
 * kernel takes it. */
/* Whether this runs in interrupt context. preempt_count is a per-CPU
 * variable that only a kernel with CONFIG_KALLSYMS_ALL lets BPF address, so:
 * - on x86_64 a hardirq or softirq that interrupts kernel code runs on the
 *   CPU's IRQ stack (an NMI on its own), not on the current task's stack:
 *   this program's own frame then lies outside current's stack;
 * - one taken in user mode runs on the task's stack, but the task is then
 *   not in a syscall: a process-context waker of a user thread is (its
 *   pt_regs hold the syscall number in orig_ax and -ENOSYS in ax until the
 *   syscall returns); a kernel thread always is.
 * A wakeup from a fault taken in user mode counts as an interrupt's (rare:
 * a fault seldom wakes anyone). The addresses are taken as plain numbers
 * through map memory (sc), for the verifier. */
static __always_inline bool in_interrupt_ctx(struct scratch *sc)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs;
	volatile __u64 marker = 0;
	__u64 fp, base, top;

	sc->ev.start_ns = (__u64)&marker;
	sc->ev.dur_ns = (__u64)cur->stack;
	sc->ev.wait_obj = (__u64)bpf_task_pt_regs(cur);
	fp = *(volatile __u64 *)&sc->ev.start_ns;
	base = *(volatile __u64 *)&sc->ev.dur_ns;
	top = *(volatile __u64 *)&sc->ev.wait_obj;
	if (!(fp > base && fp < top) || marker)
		return true;
	if (cur->flags & PF_KTHREAD)
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	return (long)regs->orig_ax < 0 || (long)regs->ax != -ENOSYS;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(handle_waking, struct task_struct *p)
{
	struct st_task_state *s;
	struct scratch *sc;
	struct st_hot *h;
	__u32 zero = 0, ulen;
	__u64 seq, now, ts;

	if (!is_target(p->tgid))
		return 0;
	h = hot_of(p, false);
	if (!h)
		return 0;
	/* the first wakeup of a sleep ends it (a later one needs no clock);
	 * one before the switch-out's timestamp raced with it; a preempted
	 * thread is not woken */
	ts = h->ts_out;
	if (ts && h->woken_ns >= ts)
		return 0;
	now = bpf_ktime_get_ns();
	h->woken_ns = now;
	/* (signed: the switch-out's stamp is the run queue's clock, within a
	 * microsecond or so of this one: see switch_now()) */
	if (!ts || h->state == ST_STATE_RUNNABLE || (__s64)(now - ts) < (__s64)waker_min_ns)
		return 0;	/* a short sleep, even if the CPU comes later: no waker wanted */
	s = bpf_task_storage_get(&tstate, p, 0, 0);
	if (!s)
		return 0;
	sc = bpf_map_lookup_elem(&scratch_wake, &zero);
	if (!sc)
		return 0;
	if (in_interrupt_ctx(sc)) {
		h->flags |= ST_BF_WOKEN_IRQ;
		return 0;
	}
	seq = __sync_fetch_and_add(&waker_seq, 1) + 1;
	s->waker_seq = seq;
	s->waker_tid = (__u32)bpf_get_current_pid_tgid();
	s->waker_pid = bpf_get_current_pid_tgid() >> 32;
	ulen = fill_current(ctx, sc, ST_EV_WAKER, true, NULL, ST_USTACK_SMALL, NULL);
	sc->ev.waker_seq = seq;
	sc->ev.start_ns = now;
	emit(sc, ulen, ST_USTACK_SMALL);
	return 0;
}

/* Block I/O, in the submitter's context (fsync callers, writers, kworkers). */
SEC("raw_tp/block_bio_queue")
int BPF_PROG(handle_bio_queue, struct bio *bio)
{
	struct st_task_state *s;

	if (!current_is_target())
		return 0;
	s = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	s->io_bytes += BPF_CORE_READ(bio, bi_iter.bi_size);
	s->io_count++;
	return 0;
}

/* On-CPU samples of target threads, for busy threads and busy holders; of
 * other tasks, only who it was (cpu_taker): a target thread that waits
 * for this CPU reads it when it gets the CPU. 49 Hz per busy CPU. */
SEC("perf_event")
int handle_sample(struct bpf_perf_event_data *ctx)
{
	struct scratch *sc;
	__u32 zero = 0, ulen;

	if (!current_is_target()) {
		struct task_struct *cur = bpf_get_current_task_btf();
		struct st_cpu_taker *tk = bpf_map_lookup_elem(&cpu_taker, &zero);

		if (!tk)
			return 0;
		if (tk->tid == (__u32)cur->pid) {
			tk->samples++;
		} else {
			tk->tid = (__u32)cur->pid;
			tk->pid = (__u32)cur->tgid;
			tk->samples = 1;
			bpf_get_current_comm(tk->comm, sizeof(tk->comm));
		}
		tk->last_ns = bpf_ktime_get_ns();
		return 0;
	}
	sc = bpf_map_lookup_elem(&scratch_sample, &zero);
	if (!sc)
		return 0;
	/* a sample taken in user mode has no kernel stack, which is no loss */
	/* kernel mode: a kernel address (needs no pt_regs segment field, whose
	 * name differs: cs before 6.9, the csx union since) */
	ulen = fill_current(ctx, sc, ST_EV_SAMPLE, (long)ctx->regs.ip < 0, NULL, ST_USTACK_SMALL, NULL);
	sc->ev.start_ns = bpf_ktime_get_ns();
	/* whether the thread blocked between two samples, however briefly */
	sc->ev.wait_obj = bpf_get_current_task_btf()->nvcsw;
	emit(sc, ulen, ST_USTACK_SMALL);
	return 0;
}

static __always_inline void emit_proc(__u32 type, __u32 pid, __u32 ppid, const char *comm)
{
	struct st_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&drops.meta_ringbuf_full, 1);
		return;
	}
	e->hdr.type = type;
	e->hdr.size = sizeof(*e);
	e->pid = pid;
	e->ppid = ppid;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), comm);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void add_target(__u32 pid, __u32 ppid, const char *comm)
{
	__u32 idx = pid / 64;
	__u64 bit = 1ULL << (pid & 63), *w = bpf_map_lookup_elem(&targets, &idx);

	if (!w || (*w & bit))
		return;
	__sync_fetch_and_or(w, bit);
	emit_proc(ST_EV_PROC_NEW, pid, ppid, comm);
}

/* ---- Where each thread's user stack ends ------------------------------------
 * copy_stack() copies [sp, top): exactly the stack, however deep, with no read
 * past it. top is learnt without a lock where the kernel sets a stack up: a
 * new thread's first stack pointer (clone's stack argument: glibc puts the
 * thread's descriptor and TLS above it, and the thread's outermost frame,
 * whose return address is undefined, just below) and, at exec, the new main
 * thread's (argc). A process forked without a new stack keeps its parent's.
 * Threads running when the capture starts get their stack mapping's end
 * (bpf_find_vma, in the seeding iterator: a trylock of the mmap_lock, in
 * process context); that also covers the TLS above, a few KiB. */
#define ST_TOP_MARGIN 64	/* bytes past the first stack pointer, within its page */

static __always_inline __u64 top_of(__u64 sp0)
{
	__u64 page_end = (sp0 | (ST_USTACK_CHUNK - 1)) + 1;

	if (!(sp0 & (ST_USTACK_CHUNK - 1)))
		return sp0;
	return sp0 + ST_TOP_MARGIN < page_end ? sp0 + ST_TOP_MARGIN : page_end;
}

static __always_inline __u64 user_sp(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	return BPF_CORE_READ(regs, sp);
}

struct vma_end {
	__u64 end;
};

static long vma_end_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	((struct vma_end *)data)->end = vma->vm_end;
	return 0;
}

static __always_inline void learn_top_vma(struct task_struct *task, struct st_task_state *s)
{
	struct vma_end d = {};
	__u64 sp = user_sp(task), fs;

	if (!sp || bpf_find_vma(task, sp, vma_end_cb, &d, 0) || d.end <= sp) {
		__sync_fetch_and_add(&ustack_top_missed, 1);
		return;
	}
	/* glibc and musl put the thread's descriptor (the TCB, where fs points)
	 * at the top of its stack mapping, the static TLS just below it, and the
	 * stack below that: no frame lies above fs */
	fs = BPF_CORE_READ(task, thread.fsbase);
	s->ustack_top = fs > sp && fs < d.end ? fs : d.end;
	__sync_fetch_and_add(&ustack_top_learnt, 1);
}

/* A target's new thread or process: where its user stack ends. Runs as the
 * parent, after copy_thread() set the child's registers. */
static __always_inline void learn_top_fork(struct task_struct *parent, struct task_struct *child)
{
	struct st_task_state *s, *ps;
	__u64 csp;

	if (child->flags & PF_KTHREAD)	/* io_uring workers and the like: no user stack */
		return;
	s = bpf_task_storage_get(&tstate, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		__sync_fetch_and_add(&drops.task_storage_full, 1);
		return;
	}
	csp = user_sp(child);
	if (csp && csp != user_sp(parent)) {
		s->ustack_top = top_of(csp);
		__sync_fetch_and_add(&ustack_top_learnt, 1);
		return;
	}
	/* fork, vfork: the child runs on the parent's stack (a copy of it) */
	ps = bpf_task_storage_get(&tstate, parent, 0, 0);
	if (ps && ps->ustack_top)
		s->ustack_top = ps->ustack_top;
	else
		__sync_fetch_and_add(&ustack_top_missed, 1);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 ctgid = child->tgid;
	char comm[ST_COMM_LEN];

	if (!is_target(ptgid))
		return 0;
	learn_top_fork(parent, child);
	/* New threads of a target need nothing more: the filter is by tgid. */
	if (!follow_forks || ctgid == ptgid)
		return 0;
	BPF_CORE_READ_STR_INTO(&comm, child, comm);
	add_target(ctgid, ptgid, comm);
	return 0;
}

/* After exec: the new image's main thread starts at argc, on a new stack. */
static __always_inline void learn_top_exec(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct st_task_state *s = bpf_task_storage_get(&tstate, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 sp = user_sp(task);

	if (!s || !sp) {
		__sync_fetch_and_add(&ustack_top_missed, 1);
		return;
	}
	s->ustack_top = top_of(sp);
	__sync_fetch_and_add(&ustack_top_learnt, 1);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	char comm[ST_COMM_LEN];

	BPF_CORE_READ_STR_INTO(&comm, p, comm);
	if (is_target(tgid)) {
		learn_top_exec();
		emit_proc(ST_EV_PROC_EXEC, tgid, 0, comm);
		return 0;
	}
	if (!targ_comm[0])
		return 0;
	for (int i = 0; i < ST_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return 0;
		if (!comm[i])
			break;
	}
	add_target(tgid, BPF_CORE_READ(p, real_parent, tgid), comm);
	learn_top_exec();
	return 0;
}

static __always_inline void emit_thread(struct task_struct *task, struct st_task_state *s)
{
	struct st_thread_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	struct st_hot *h = hot_in(task, s, false);

	if (!e) {
		__sync_fetch_and_add(&drops.meta_ringbuf_full, 1);
		return;
	}
	e->hdr.type = ST_EV_THREAD;
	e->hdr.size = sizeof(*e);
	e->pid = BPF_CORE_READ(task, tgid);
	e->tid = BPF_CORE_READ(task, pid);
	e->below_ns = h->below_ns;
	e->below_count = h->below_count;
	e->blocks = s->blocks;
	e->hold_ns = s->hold_ns;
	e->holds = s->holds;
	e->hold_read_ns = s->hold_read_ns;
	e->hold_write_ns = s->hold_write_ns;
	e->hold_mm_pid = s->hold_mm_pid;
	e->is_target = is_target(e->pid);
	e->io_bytes = s->io_bytes;
	e->io_count = s->io_count;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct st_task_state *s;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bool target = is_target(tgid);

	s = bpf_task_storage_get(&tstate, task, 0, 0);
	/* outside threads matter only as mmap_lock holders of a target */
	if (s && (target || s->holds))
		emit_thread(task, s);
	if (s)
		hot_release(task, s);
	if (!target)
		return 0;
	/* the group is gone when no thread of it is alive any more */
	if (BPF_CORE_READ(task, signal, live.counter) == 0) {
		char comm[ST_COMM_LEN];
		__u32 idx = tgid / 64;
		__u64 *w = bpf_map_lookup_elem(&targets, &idx);
		__u64 mm = (__u64)task->mm;

		bpf_get_current_comm(comm, sizeof(comm));
		emit_proc(ST_EV_PROC_EXIT, tgid, 0, comm);
		if (w)
			__sync_fetch_and_and(w, ~(1ULL << (tgid & 63)));
		if (mm)
			bpf_map_delete_elem(&target_mms, &mm);
	}
	return 0;
}

#define RWSEM_WRITER_LOCKED (1UL << 0)
#define RWSEM_FLAG_WAITERS (1UL << 1)


/* A hold still in progress at the end: its duration so far and the holder's
 * kernel stack; its user stack is not read (the lock it holds would be taken). */
static __always_inline void flush_hold(struct task_struct *task, struct st_task_state *s, __u64 now,
				       struct scratch *sc)
{
	long n;

	if (!s->hold_ts || now < s->hold_ts)
		return;
	s->hold_ns += now - s->hold_ts;
	s->holds++;
	if (s->hold_mode == ST_HOLD_READ)
		s->hold_read_ns += now - s->hold_ts;
	else
		s->hold_write_ns += now - s->hold_ts;
	if (sc) {
		__builtin_memset(&sc->ev, 0, sizeof(sc->ev));
		sc->ev.hdr.type = ST_EV_HOLD;
		sc->ev.pid = task->tgid;
		sc->ev.tid = task->pid;
		sc->ev.start_ns = s->hold_ts;
		sc->ev.dur_ns = now - s->hold_ts;
		sc->ev.aux = s->hold_mode;
		sc->ev.aux_pid = s->hold_mm_pid;
		sc->ev.syscall = -1;
		sc->ev.flags = ST_BF_IN_PROGRESS | ST_BF_USTACK_LOCKED;
		BPF_CORE_READ_STR_INTO(&sc->ev.comm, task, comm);
		n = bpf_get_task_stack(task, sc->payload, ST_KSTACK_DEPTH * sizeof(__u64), 0);
		sc->ev.nkips = n > 0 ? n / sizeof(__u64) : 0;
		emit(sc, 0, ST_USTACK_SMALL);
	}
	s->hold_ts = 0;
	s->hold_mm = 0;
}

/* Emits the block in progress of a target thread (kernel stack always, user
 * stack when allowed and safe) and its per-thread totals. */
static __always_inline void flush_task(struct task_struct *task, __u32 tgid, __u64 now, bool user,
				       struct scratch *sc)
{
	struct st_task_state *s = bpf_task_storage_get(&tstate, task, 0, 0);
	struct st_hot *h;
	__u32 ulen = 0;
	long n;

	if (!s || (s->flags & ST_TF_FLUSHED))
		return;
	h = hot_in(task, s, false);
	if (sc && h->ts_out && now > h->ts_out && now - h->ts_out >= min_block_ns) {
		sc->ev.hdr.type = ST_EV_BLOCK;
		sc->ev.pid = tgid;
		sc->ev.tid = task->pid;
		sc->ev.start_ns = h->ts_out;
		sc->ev.dur_ns = now - h->ts_out;
		sc->ev.state = h->state;
		sc->ev.flags = ST_BF_IN_PROGRESS | (h->flags & ST_BF_BEGAN_BEFORE);
		BPF_CORE_READ_STR_INTO(&sc->ev.comm, task, comm);
		n = bpf_get_task_stack(task, sc->payload, ST_KSTACK_DEPTH * sizeof(__u64), 0);
		sc->ev.nkips = n > 0 ? n / sizeof(__u64) : 0;
		if (!user || !task->mm || (task->flags & PF_KTHREAD)) {
			sc->ev.flags |= ST_BF_USTACK_NONE;
		} else if (task->mm->mmap_lock.count.counter & (RWSEM_WRITER_LOCKED | RWSEM_FLAG_WAITERS)) {
			sc->ev.flags |= ST_BF_USTACK_LOCKED;
		} else {
			fill_regs(&sc->ev, task);
			if (!(sc->ev.flags & ST_BF_USTACK_NONE)) {
				__u64 sp = sc->ev.regs[ST_REG_RSP], top = s->ustack_top;
				__u32 dlen = direct_len(sp, top);

				/* the whole stack, straight into the ring, as on_switch_in() */
				if (dlen && !emit_direct(sc, sp, ring_budget(dlen), task)) {
					__sync_fetch_and_add(&ustack_bounded, 1);
					goto sent;
				}
				ulen = copy_stack(sc, sp, sc->ev.nkips * sizeof(__u64), task, top,
						  ST_USTACK_SMALL);
				if (!ulen)
					sc->ev.flags |= ST_BF_USTACK_FAULT;
			}
		}
		emit(sc, ulen, ST_USTACK_SMALL);
sent:
		__sync_fetch_and_add(&blocks_captured, 1);
		s->blocks++;
		h->ts_out = 0;
	}
	emit_thread(task, s);
	s->flags |= ST_TF_FLUSHED;
}

/* The end flush of one task: a target's block in progress and totals; any
 * task's mmap_lock hold in progress; an outside holder's totals. */
static __always_inline void flush_all(struct task_struct *task, __u32 tgid, __u64 now, bool user,
				      struct scratch *sc)
{
	struct st_task_state *s = bpf_task_storage_get(&tstate, task, 0, 0);
	bool target = is_target(tgid);

	if (s)
		flush_hold(task, s, now, sc);
	if (target)
		flush_task(task, tgid, now, user, sc);
	if (!s)
		return;
	if (!target && s->holds && !(s->flags & ST_TF_FLUSHED)) {
		emit_thread(task, s);
		s->flags |= ST_TF_FLUSHED;
	}
}

/* How long ago a sleeping task switched out, from the scheduler's clocks.
 * se.exec_start was set then, in its CPU's clock_task, which leaves out IRQ
 * and steal time and so drifts from CPU to CPU (by tens of ms in these VMs):
 * compare it with the same CPU's clock_task, as of that runqueue's last
 * clock update; then add how stale that update is, from the raw clocks
 * (rq->clock, synchronized across CPUs), against our own runqueue's, which
 * was updated when we were last scheduled. */
static __always_inline __u64 seed_ago(struct task_struct *cur, struct task_struct *task)
{
	struct rq *trq = BPF_CORE_READ(task, se.cfs_rq, rq), *crq = BPF_CORE_READ(cur, se.cfs_rq, rq);
	__u64 t_exec = task->se.exec_start, ago, tclock, cclock, ttask;

	if (!trq || !crq) {
		/* no group scheduling: both in our CPU's clock_task (drifts) */
		__u64 cur_exec = cur->se.exec_start;

		return cur_exec > t_exec ? cur_exec - t_exec : 0;
	}
	ttask = BPF_CORE_READ(trq, clock_task);
	tclock = BPF_CORE_READ(trq, clock);
	cclock = BPF_CORE_READ(crq, clock);
	ago = ttask > t_exec ? ttask - t_exec : 0;
	if (cclock > tclock)
		ago += cclock - tclock;
	return ago;
}

/* one_switch_hook: a target thread running at the start: if its CPU has
 * not switched since the load, that CPU's next switch is its switch-out,
 * provided the run queue's count moved by one from what is read here.
 * (Once the CPU has switched, the thread running there resumed since, and
 * handle_exit_tp_one knows it.) Written to the seeded map, not to the
 * stamp: the CPU's program may be writing that one at the same time. */
static __always_inline void seed_running(struct task_struct *task, struct st_task_state *s)
{
	struct st_switch_stamp *p, *sd;
	struct st_hot *h;
	__u32 zero = 0, cpu = task->thread_info.cpu;

	h = hot_in(task, s, true);
	if (h->task != (__u64)task || !(s->flags & ST_TF_HOT_SLOT))
		return;
	p = bpf_map_lookup_percpu_elem(&stamp, &zero, cpu);
	sd = bpf_map_lookup_percpu_elem(&seeded, &zero, cpu);
	if (!p || !sd || p->run != ST_RUN_UNKNOWN || sd->run)	/* (or another, mid-switch, was first) */
		return;
	note_run(sd, task, s->hot_idx, task->se.cfs_rq->rq->nr_switches);
	sd->run_at = 0;	/* its run's start: not known */
	if (!(h->flags & ST_TF_MM))
		register_mm(h, task->tgid, (__u64)BPF_CORE_READ(task, mm));
	/* still there after the count was read: the count is of its run, and
	 * the CPU's next switch (if that CPU has not switched since the
	 * load) its switch-out; run last, after an atomic (a barrier) */
	if (task->on_cpu && task->thread_info.cpu == cpu)
		__sync_val_compare_and_swap(&sd->run, 0, (__u64)task);
}

/* Seed (start) and flush (end) for target threads, by iter_phase. */
SEC("iter/task")
int iter_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct st_task_state *s;
	struct st_hot *h;
	__u32 tgid;
	__u64 now;

	if (!task)
		return 0;
	tgid = task->tgid;
	now = bpf_ktime_get_ns();
	if (iter_phase == ST_ITER_FLUSH) {
		__u32 zero = 0;

		flush_all(task, tgid, now, false, bpf_map_lookup_elem(&scratch_iter, &zero));
		return 0;
	}
	if (!is_target(tgid))
		return 0;

	if (iter_phase == ST_ITER_SEED) {
		struct task_struct *cur = bpf_get_current_task_btf();
		unsigned int state = task->__state;

		s = bpf_task_storage_get(&tstate, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!s) {
			__sync_fetch_and_add(&seed_missed, 1);
			return 0;
		}
		if (!s->ustack_top && task->mm && !(task->flags & PF_KTHREAD))
			learn_top_vma(task, s);
		if (one_switch_hook && task->on_cpu)
			seed_running(task, s);
		if (state == TASK_RUNNING || task->on_cpu)
			return 0;
		h = hot_in(task, s, true);
		if (h->ts_out)	/* switched out after we attached: the exact time is known */
			return 0;
		h->ts_out = now - seed_ago(cur, task);
		h->state = classify_state(false, state);
		h->flags = ST_BF_BEGAN_BEFORE | (h->flags & ST_TF_MM);
		return 0;
	}
	return 0;
}

/* The end flush with user stacks: sleepable, so it can read another process's
 * memory. That read takes the target's mmap_lock; a lock held for write or with
 * waiters queued means a freeze in progress, and the stack is then not read
 * (ST_BF_USTACK_LOCKED) rather than waited for. User space also bounds the
 * whole read with a deadline. */
SEC("iter.s/task")
int iter_flush_user(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	__u32 zero = 0;

	flush_all(task, task->tgid, bpf_ktime_get_ns(), true, bpf_map_lookup_elem(&scratch_iter_user, &zero));
	return 0;
}
