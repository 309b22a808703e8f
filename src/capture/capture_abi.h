/* capture_abi.h: record layouts shared by the BPF programs and their loader.
 *
 * Everything that crosses the ring buffer or a map is defined here once.
 * Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns). Fields are laid
 * out by hand so that BPF and user space agree without padding surprises.
 */
#ifndef STALLTRAP_CAPTURE_ABI_H
#define STALLTRAP_CAPTURE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ST_COMM_LEN 16
#define ST_PID_MAX_LIMIT (4u << 20)                 /* the kernel's PID_MAX_LIMIT on 64-bit */
#define ST_TARGET_WORDS (ST_PID_MAX_LIMIT / 64)     /* u64 words of the targets bitmap */
#define ST_KSTACK_DEPTH 127        /* kernel frames kept per stack (the kernel's own limit) */
#define ST_KC_MAX 24               /* kernel stacks up to this deep are cached per thread */
#define ST_KC_WAYS 4               /* ... up to this many of them (wait sites) */
#define ST_KC_SPAN 4096            /* bytes below pt_regs searched for their slots */
#define ST_KC_CHECK_EVERY 64       /* every Nth cache hit also walks the stack, to verify */
#define ST_USTACK_MAX (64 * 1024)  /* hard cap on the user stack bytes copied per block (a block's own record) */
#define ST_USTACK_SMALL (24 * 1024) /* ... when the stack end is not known, and per holder, waker and sample record */
#define ST_USTACK_CHUNK 4096       /* page: the copy of a stack whose end is not known goes page by page, and stops at the first fault */
#define ST_USTACK_DEFAULT ST_USTACK_MAX /* --max-ustack's default: the copy is bounded by the stack's end anyway */

/* Task state at switch-out, as later stages split off-CPU time. */
enum st_state {
	ST_STATE_SLEEPING = 0,       /* TASK_INTERRUPTIBLE, TASK_IDLE: waiting for an event */
	ST_STATE_UNINTERRUPTIBLE = 1,/* TASK_UNINTERRUPTIBLE: disk, rwsem, D-state waits */
	ST_STATE_RUNNABLE = 2,       /* preempted or still TASK_RUNNING: waited for a CPU */
	ST_STATE__COUNT
};

/* User registers in the order of the x86_64 DWARF register numbers 0..16
 * (rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip): the unwinder's initial frame. */
#define ST_NREGS 17
#define ST_REG_RBP 6
#define ST_REG_RSP 7
#define ST_REG_RIP 16

enum st_event_type {
	ST_EV_BLOCK = 1,        /* one off-CPU block of a target thread */
	ST_EV_THREAD = 2,       /* per-thread totals of blocks below --min-block */
	ST_EV_PROC_NEW = 3,     /* a process became a target (fork of a target, exec of --name) */
	ST_EV_PROC_EXEC = 4,    /* a target process exec'd: its mappings changed */
	ST_EV_PROC_EXIT = 5,    /* the last thread of a target process exited */
	ST_EV_HOLD = 6,         /* an mmap_lock hold of a target mm (st_block_event layout) */
	ST_EV_WAKER = 7,        /* who woke a long block, with its stacks (st_block_event layout) */
	ST_EV_SAMPLE = 8,       /* an on-CPU sample of a target thread (st_block_event layout) */
};

/* What a block waited on (ST_EV_BLOCK.wait_kind), from the lock tracepoints. */
enum st_wait_kind {
	ST_WAIT_NONE = 0,
	ST_WAIT_MMAP_LOCK = 1,  /* lock:contention_begin on its own mm->mmap_lock */
	ST_WAIT_KERNEL_LOCK = 2,/* lock:contention_begin on another lock */
};

/* ST_EV_HOLD.aux: the mode of the hold */
#define ST_HOLD_READ 0
#define ST_HOLD_WRITE 1
#define ST_HOLD_DOWNGRADED 2

/* Flags of ST_EV_BLOCK. */
#define ST_BF_IN_PROGRESS   (1u << 0) /* still off-CPU when the capture ended */
#define ST_BF_BEGAN_BEFORE  (1u << 1) /* already off-CPU when the capture began */
#define ST_BF_KSTACK_NONE   (1u << 2) /* no kernel stack taken (a sample in user mode) */
#define ST_BF_USTACK_LOCKED (1u << 3) /* user stack not read: the target's mmap_lock was busy */
#define ST_BF_USTACK_NONE   (1u << 4) /* no user stack: kernel thread, or no way to read it */
#define ST_BF_USTACK_FAULT  (1u << 5) /* the first user stack chunk faulted */
#define ST_BF_WOKEN_IRQ     (1u << 6) /* woken from interrupt context (a timer, a device): no waker */

struct st_event_hdr {
	__u32 type;
	__u32 size;             /* bytes of the whole record */
};

/* ST_EV_BLOCK (and _HOLD, _WAKER, _SAMPLE). Followed by nkips kernel ips, leaf
 * first, and then ustack_len bytes of user stack copied from regs[ST_REG_RSP]
 * upwards. */
struct st_block_event {
	struct st_event_hdr hdr;
	__u32 pid;              /* tgid */
	__u32 tid;
	__u64 start_ns;         /* switch-out (or its estimate, see ST_BF_BEGAN_BEFORE) */
	__u64 dur_ns;
	__u32 pad0;
	__u32 state;            /* enum st_state */
	__u32 flags;            /* ST_BF_* */
	__u32 nkips;
	__u32 ustack_len;
	__s32 syscall;          /* the syscall it was in (pt_regs orig_ax), -1 none */
	char comm[ST_COMM_LEN];
	__u64 regs[ST_NREGS];
	__u64 args[4];          /* that syscall's first arguments (di, si, dx, r10) */
	__u64 wait_obj;         /* ST_EV_BLOCK: the contended lock's address;
	                         * ST_EV_SAMPLE: the thread's voluntary switches so far (nvcsw) */
	__u32 wait_kind;        /* ST_EV_BLOCK: enum st_wait_kind */
	__u32 lock_flags;       /* ST_EV_BLOCK: lock:contention_begin flags */
	__u32 aux;              /* ST_EV_HOLD: ST_HOLD_*; */
	__u32 aux_pid;          /* ST_EV_HOLD: the pid whose mm it is */
	__u32 waker_tid;        /* ST_EV_BLOCK: who woke it (0: unknown) */
	__u32 waker_pid;
	__u64 waker_seq;        /* ST_EV_BLOCK: the ST_EV_WAKER record with the waker's
	                         * stacks (0: none); ST_EV_WAKER: its own id */
	__u64 woken_ns;         /* ST_EV_BLOCK: its first wakeup (0: none seen); from
	                         * then to its end it was runnable, waiting for a CPU */
	/* ST_EV_BLOCK: the task outside the target that the on-CPU sampler saw
	 * on this CPU last, within the time the block was runnable (its tail
	 * after the wakeup, or all of a preempted block): who held the CPU it
	 * waited for (taker_tid 0: none seen); its samples in a row there */
	__u32 taker_tid;
	__u32 taker_pid;
	__u32 taker_samples;
	__u32 pad1;
	char taker_comm[ST_COMM_LEN];
};

/* ST_EV_THREAD: emitted when a target thread exits and, at the end, for every live one. */
struct st_thread_event {
	struct st_event_hdr hdr;
	__u32 pid;
	__u32 tid;
	__u64 below_ns;         /* off-CPU time in blocks shorter than --min-block */
	__u64 below_count;
	__u64 blocks;           /* blocks at or above --min-block that were captured */
	char comm[ST_COMM_LEN];
	__u64 hold_ns;          /* mmap_lock holds of a target mm, all of them */
	__u64 holds;
	__u64 hold_read_ns;
	__u64 hold_write_ns;
	__u32 hold_mm_pid;      /* whose mm (the last one held) */
	__u32 is_target;        /* 0: an outside thread (a holder of a target's mmap_lock) */
	__u64 io_bytes;         /* block I/O submitted (block_bio_queue) */
	__u64 io_count;
};

/* ST_EV_PROC_NEW / _EXEC / _EXIT. */
struct st_proc_event {
	struct st_event_hdr hdr;
	__u32 pid;
	__u32 ppid;
	char comm[ST_COMM_LEN];
};

/* Flags of st_task_state beyond the ST_BF_* it carries over to a block. */
#define ST_TF_FLUSHED (1u << 8)   /* the end flush has emitted this thread */

#define ST_TF_MM (1u << 9)        /* its mm is registered in target_mms */
#define ST_TF_HOT_SLOT (1u << 10) /* its st_hot is in the hot map, at hot_idx */
#define ST_TF_HOT_TRIED (1u << 11) /* a hot map slot was sought for it (again only once free) */

/* Slots of the hot map at most (one per thread id, modulo): 48 bytes each. */
#define ST_HOT_SLOTS_MAX 65536

/* What every context switch, switch-in and wakeup of a target thread reads
 * or writes: in an array map slot of its own (indexed by thread id, owned
 * by its task_struct's address), which the verifier inlines, instead of
 * task storage, whose lookup is a helper call; in its task storage
 * (st_task_state.hot) when another thread holds that slot. */
struct st_hot {
	__u64 task;             /* the owner's task_struct (a slot's tag); 0: free */
	__u64 ts_out;           /* switch-out time; 0 while on CPU */
	__u64 woken_ns;         /* its first wakeup seen (or one racing with the switch-out) */
	__u64 below_ns;
	__u64 below_count;
	__u32 state;
	__u32 flags;            /* ST_BF_BEGAN_BEFORE for seeded blocks, ST_BF_WOKEN_IRQ, ST_TF_MM */
};

/* Per CPU (offcpu.bpf.c's stamp map): the timestamp sched_switch took for a
 * target going off-CPU and the task it switched to; this CPU's clock offset
 * (switch_now()); and, with one_switch_hook, the target running here. User
 * space sets run to ST_RUN_UNKNOWN on every CPU before attaching. */
struct st_switch_stamp {
	__u64 next;
	__u64 ts;
	__u64 off;	/* CLOCK_MONOTONIC - rq->clock, when last measured */
	__u64 at;	/* rq->clock then; 0: never */
	/* one_switch_hook: the target thread that resumed last on this CPU
	 * and still runs there (0: none; ST_RUN_UNKNOWN: no switch seen here
	 * since the load), its hot slot, and the run queue's switch count then */
	__u64 run;
	__u64 run_sw;
	__u32 run_idx;
	__u32 run_nv;	/* its nvcsw and nivcsw then (truncated) */
	__u32 run_niv;
	__u32 run_pid;	/* its pid: a task_struct freed and reused is not it */
	__u64 run_at;	/* when it resumed (CLOCK_MONOTONIC; 0: unknown) */
	__u64 run_sum;	/* its se.sum_exec_runtime then */
	__u64 fence;	/* an atomic add here orders a store before a load */
};
#define ST_RUN_UNKNOWN 1ull	/* st_switch_stamp.run before the first switch */

/* Per CPU (offcpu.bpf.c's cpu_taker map): the task outside the target that
 * the on-CPU sampler saw last on this CPU, and how many of its samples in a
 * row (no other task sampled there between): who held the CPU while a
 * target thread waited for it there. */
struct st_cpu_taker {
	__u64 last_ns;          /* its last sample (CLOCK_MONOTONIC) */
	__u32 tid, pid;
	__u32 samples;
	__u32 pad;
	char comm[ST_COMM_LEN];
};

/* Per-thread state in task storage. */
struct st_task_state {
	struct st_hot hot;      /* unless ST_TF_HOT_SLOT: then in the hot map */
	__u64 blocks;
	__u32 hot_idx;          /* ST_TF_HOT_SLOT: its slot */
	__u32 flags;            /* ST_TF_FLUSHED, ST_TF_HOT_* */
	/* lock wait in progress (between lock:contention_begin and _end) */
	__u64 lock_addr;
	__u32 lock_flags;
	__u32 lock_kind;        /* enum st_wait_kind */
	/* who woke the current block */
	__u64 waker_seq;
	__u32 waker_tid, waker_pid;
	/* mmap_lock hold in progress, and totals over the window */
	__u64 hold_mm;
	__u64 hold_ts;
	__u32 hold_mode;        /* ST_HOLD_* */
	__u32 hold_mm_pid;
	__u64 hold_ns, holds, hold_read_ns, hold_write_ns;
	__u64 io_bytes, io_count;
	/* Where its user stack ends (the byte past its outermost frame's, or its
	 * stack mapping's end); 0: not known. copy_stack() copies up to it. */
	__u64 ustack_top;
	/* The kernel stacks of its last captured blocks (kstack_cached() in offcpu.bpf.c) */
	__u32 kc_skip;          /* learning failed: misses left before trying again */
	__u32 kc_next;          /* the way learnt into next, when no way has the key */
	__u64 kc_top;           /* the address of its pt_regs (the top of its kernel stack) */
	struct st_kc_way {
		__u64 key;      /* the user-mode syscall and return address it was learnt at; 0: empty */
		__u32 n;        /* frames */
		__u32 uses;     /* hits since it was learnt (every ST_KC_CHECK_EVERY-th is checked) */
		__u32 depth;    /* bytes from the saved stack pointer to pt_regs when it was learnt */
		__u32 pad;
		__u16 off[ST_KC_MAX];   /* where each address was found: bytes below pt_regs, */
		__s16 off_sp[ST_KC_MAX];        /* and bytes from the saved stack pointer */
		__u64 ip[ST_KC_MAX];    /* the addresses, innermost first */
	} kc[ST_KC_WAYS];
};

/* A wakeup this close before the switch-out's timestamp raced with it: the
 * thread was woken while still switching out (its sleep was short). */
#define ST_WAKE_RACE_NS 200000ull

/* Every way the BPF side can lose an event or a stack: one counter each,
 * reported by name under report.json's "drops". Kept in .bss. */
struct st_drops {
	__u64 ringbuf_full;        /* a block record did not fit in the ring buffer */
	__u64 meta_ringbuf_full;   /* a thread/process record did not fit */
	__u64 hold_ringbuf_full;   /* an mmap_lock hold record did not fit */
	__u64 waker_ringbuf_full;  /* a waker record did not fit */
	__u64 sample_ringbuf_full; /* an on-CPU sample did not fit */
	__u64 target_mms_full;     /* a target mm did not fit in target_mms: its holders are not seen */
	__u64 kstack_failed;       /* the kernel stack walk failed */
	__u64 task_storage_full;   /* no task storage for a target thread: its blocks are lost */
	__u64 waker_missing;       /* a long sleep ended with no waker seen (nor an interrupt) */
};

/* Iterator phases, set in .bss before reading the task iterator. */
enum st_iter_phase {
	ST_ITER_SEED = 1,      /* start: seed task storage for target threads already off-CPU */
	ST_ITER_FLUSH = 2,     /* end: emit in-progress blocks and per-thread totals */
};

#endif /* STALLTRAP_CAPTURE_ABI_H */
