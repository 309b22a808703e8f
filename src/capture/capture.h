/* capture.h: the capture stage's facade around the offcpu BPF skeleton.
 *
 * Lifecycle (perf's lock-contention facade is the model):
 *   capture_prepare()  probe kernel features, pick the capture path, open,
 *                      configure (rodata, map sizes, autoload) and load;
 *   capture_start()    add the target processes, attach, seed blocks already
 *                      in progress;
 *   capture_poll()     hand ring-buffer records to the callbacks;
 *   capture_stop()     detach, flush blocks still in progress and per-thread
 *                      totals, drain the ring;
 *   capture_read_counters()  read the counters into plain data;
 *   capture_finish()   free everything.
 * This is the only module that touches BPF maps, and the only one that knows
 * the BPF programs' record layouts (capture_abi.h): each ring-buffer record
 * is handed out as a plain struct below, filled on the stack per record (no
 * allocation); its pointers point into the ring and are valid only during
 * the callback.
 */
#ifndef STALLTRAP_CAPTURE_H
#define STALLTRAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct capture;
struct btf;

/* How off-CPU blocks are closed and their stacks taken, cheapest first. */
enum capture_path {
	CAPTURE_PATH_SCHED_EXIT_TP = 0, /* raw_tp sched_exit_tp: switch-in capture (6.x) */
	CAPTURE_PATH_FENTRY_FTS,        /* fentry on finish_task_switch: switch-in capture */
	CAPTURE_PATH_KPROBE_FTS,        /* kprobe on finish_task_switch: switch-in capture */
	CAPTURE_PATH_NONE,              /* no switch-in hook: unsupported kernel */
};

/* What the running kernel offers, as its BTF (and kallsyms, and the kprobe
 * PMU) say. The loader reads them (probe_features()); the unit tests give
 * them for kernels that cannot be booted here. Whether a program really loads
 * is then tried: the selection only orders the attempts. */
struct capture_features {
	bool sched_exit_tp;     /* btf_trace_sched_exit_tp is in vmlinux BTF */
	bool fentry;            /* finish_task_switch is a BTF FUNC: fentry can name it */
	bool kprobe;            /* kprobes attach (kprobe PMU) and finish_task_switch[.clone] is in kallsyms */
	bool prev_state_arg;    /* sched_switch passes prev_state (5.18+) */
	bool task_pt_regs;      /* bpf_task_pt_regs helper (5.15+) */
	bool task_iter;         /* iter/task programs (5.8+) */
	bool task_storage;      /* task local storage (5.11+) */
	bool bpf_loop;          /* bpf_loop helper (5.17+): the kernel stack cache */
	bool copy_from_user_task; /* bpf_copy_from_user_task (5.18+): user stacks at the end */
	bool lock_contention;   /* lock:contention_begin/_end (5.19+) */
	int mmap_lock_args;     /* mmap_lock_acquire_returned's arguments: 4 with memcg_path (6.1), 3 without; 0 none */
	char fts_symbol[128];   /* finish_task_switch's name in kallsyms (".isra.0" clones) */
};

/* Pure: the features of a kernel from its BTF, whether kprobes attach (the
 * kprobe PMU exists) and finish_task_switch's name in kallsyms ("" none). */
void capture_features_from_btf(const struct btf *btf, bool kprobe_pmu, const char *fts_symbol,
			       struct capture_features *f);

/* Pure: the paths to try for a set of features, in order (at most
 * CAPTURE_PATH_NONE of them); returns how many. None: unsupported kernel.
 * Unit-tested against the facts of 5.10, 5.15, 6.1, 6.8 and 6.18. */
int capture_select_paths(const struct capture_features *f, enum capture_path out[CAPTURE_PATH_NONE]);
/* The first of them, or CAPTURE_PATH_NONE. */
enum capture_path capture_select_path(const struct capture_features *f);
const char *capture_path_name(enum capture_path p);

/* --max-ustack: the most user stack bytes copied per block (the copy stops
 * at the thread's stack end anyway), its default, and its least */
#define CAPTURE_USTACK_MAX (64 * 1024)
#define CAPTURE_USTACK_DEFAULT CAPTURE_USTACK_MAX
#define CAPTURE_USTACK_MIN 1024

/* An optional part of the capture and whether it runs: left out by
 * --no-locks, by a kernel that lacks what it needs, or by a kernel that
 * refused its program (reason says which, and why). */
struct capture_feature {
	const char *name;       /* "wakers", "kernel_locks", ... */
	bool on;
	char reason[200];       /* why it is off ("" when on) */
};
#define CAPTURE_NFEATURES 9
/* Pure: every feature, on or off (and why) as --no-locks and the kernel's
 * facts say, before any program is tried. */
void capture_plan_features(const struct capture_features *f, bool no_locks,
			   struct capture_feature out[CAPTURE_NFEATURES]);
/* The capture's features, CAPTURE_NFEATURES of them, valid until capture_finish(). */
const struct capture_feature *capture_get_features(const struct capture *c);

struct capture_opts {
	uint64_t min_block_ns;
	uint32_t max_ustack;      /* bytes of user stack copied per block (0: CAPTURE_USTACK_DEFAULT) */
	uint32_t ringbuf_kb;      /* 0: default */
	bool follow_forks;
	bool bpf_stats;           /* turn on the kernel's BPF run-time stats meanwhile */
	bool no_locks;            /* --no-locks: no cause tracing (locks, holders, wakers, samples, I/O) */
	uint32_t sample_hz;       /* on-CPU samples per second and CPU; 0: default 49 */
	uint64_t hold_min_ns;     /* holds at least this long get stacks; 0: 1 ms */
	const char *name;         /* --name: processes exec'ing with this comm join */
	/* Force a path (tests); CAPTURE_PATH_NONE means probe. */
	enum capture_path force_path;
};

/* Task state at switch-out, as later stages split off-CPU time
 * (capdata's enum cap_state has the same values). */
enum capture_state {
	CAPTURE_STATE_SLEEPING = 0,        /* TASK_INTERRUPTIBLE, TASK_IDLE: waiting for an event */
	CAPTURE_STATE_UNINTERRUPTIBLE = 1, /* TASK_UNINTERRUPTIBLE: disk, rwsem, D-state waits */
	CAPTURE_STATE_RUNNABLE = 2,        /* preempted or still TASK_RUNNING: waited for a CPU */
	CAPTURE_STATE__COUNT
};

enum capture_rec_kind {
	CAPTURE_REC_BLOCK = 0,  /* one off-CPU block of a target thread */
	CAPTURE_REC_HOLD,       /* an mmap_lock hold of a target's mm */
	CAPTURE_REC_WAKER,      /* who woke a long block, with its stacks */
	CAPTURE_REC_SAMPLE,     /* an on-CPU sample of a target thread */
};

/* What a block waited on, from the lock tracepoints. */
enum capture_wait {
	CAPTURE_WAIT_NONE = 0,
	CAPTURE_WAIT_MMAP_LOCK,     /* lock:contention_begin on its own mm->mmap_lock */
	CAPTURE_WAIT_KERNEL_LOCK,   /* lock:contention_begin on another lock */
};

enum capture_hold_mode {
	CAPTURE_HOLD_READ = 0,
	CAPTURE_HOLD_WRITE,
	CAPTURE_HOLD_DOWNGRADED,
};

/* capture_record.flags */
#define CAPTURE_F_IN_PROGRESS   (1u << 0) /* still off-CPU (or holding) when the capture ended */
#define CAPTURE_F_BEGAN_BEFORE  (1u << 1) /* already off-CPU when the capture began */
#define CAPTURE_F_KSTACK_NONE   (1u << 2) /* no kernel stack taken (a sample in user mode) */
#define CAPTURE_F_USTACK_LOCKED (1u << 3) /* user stack not read: the target's mmap_lock was busy */
#define CAPTURE_F_USTACK_NONE   (1u << 4) /* no user stack: kernel thread, or no way to read it */
#define CAPTURE_F_USTACK_FAULT  (1u << 5) /* the first user stack chunk faulted */
#define CAPTURE_F_WOKEN_IRQ     (1u << 6) /* block: woken from interrupt context (a timer, a device), no waker */

#define CAPTURE_COMM_LEN 16
/* User registers in the order of the x86_64 DWARF register numbers 0..16
 * (rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip), as the symbolizer takes them. */
#define CAPTURE_NREGS 17

/* A block, hold, waker or sample record. Times are CLOCK_MONOTONIC ns. */
struct capture_record {
	enum capture_rec_kind kind;
	uint32_t flags;                 /* CAPTURE_F_* */
	int32_t pid, tid;               /* tgid and thread */
	char comm[CAPTURE_COMM_LEN + 1];/* NUL-terminated */
	uint64_t start_ns;              /* switch-out (estimated with CAPTURE_F_BEGAN_BEFORE); sample: when */
	uint64_t dur_ns;
	enum capture_state state;       /* block: the task state at switch-out */
	int32_t syscall;                /* the syscall it was in, -1 none */
	uint64_t args[4];               /* that syscall's first arguments (di, si, dx, r10) */
	/* block: what it waited on */
	enum capture_wait wait_kind;
	uint64_t wait_obj;              /* the contended lock's address */
	uint32_t lock_flags;            /* lock:contention_begin flags */
	/* sample: the thread's voluntary context switches so far (nvcsw) */
	uint64_t nvcsw;
	/* hold: its mode and whose mm it is */
	enum capture_hold_mode hold_mode;
	int32_t hold_mm_pid;
	/* block: the waker record with the waker's stacks (0: none); waker: its own id */
	uint64_t waker_seq;
	/* block: its first wakeup (0: none seen); runnable from then to its end */
	uint64_t woken_ns;
	/* block: the task outside the target sampled last on the CPU it waited
	 * for, while it waited (taker_tid 0: none), and its samples in a row */
	int32_t taker_pid, taker_tid;
	uint32_t taker_samples;
	char taker_comm[CAPTURE_COMM_LEN + 1];
	/* stacks, pointing into the ring */
	const uint64_t *regs;           /* CAPTURE_NREGS user registers */
	const uint64_t *kips;           /* nkips kernel ips, leaf first */
	uint32_t nkips;
	const uint8_t *ustack;          /* ustack_len bytes of user stack copied at the user rsp */
	uint32_t ustack_len;
};

/* Per-thread totals: when a target thread exits and, at the end, for every
 * live one; also for outside threads that held a target's mmap_lock. */
struct capture_thread {
	int32_t pid, tid;
	char comm[CAPTURE_COMM_LEN + 1];
	bool is_target;                 /* false: an outside thread (a holder of a target's mmap_lock) */
	uint64_t below_ns;              /* off-CPU time in blocks shorter than min_block_ns */
	uint64_t below_count;
	uint64_t io_bytes;              /* block I/O submitted */
	uint64_t io_count;
	uint64_t holds;                 /* mmap_lock holds of a target mm, all of them */
	uint64_t hold_ns, hold_read_ns, hold_write_ns;
	int32_t hold_mm_pid;            /* whose mm (the last one held) */
};

enum capture_proc_kind {
	CAPTURE_PROC_NEW = 0,   /* a process became a target (fork of a target, exec of --name) */
	CAPTURE_PROC_EXEC,      /* a target process exec'd: its mappings changed */
	CAPTURE_PROC_EXIT,      /* the last thread of a target process exited */
};

struct capture_proc {
	enum capture_proc_kind kind;
	int32_t pid, ppid;
	char comm[CAPTURE_COMM_LEN + 1];
};

struct capture_cbs {
	void *arg;
	int (*on_record)(void *arg, const struct capture_record *rec);
	int (*on_thread)(void *arg, const struct capture_thread *t);
	int (*on_proc)(void *arg, const struct capture_proc *p);
};

/* Returns 0, or a negative errno with a one-line reason in err. */
int capture_prepare(struct capture **out, const struct capture_opts *opts,
		    const struct capture_cbs *cbs, char *err, size_t errlen);
int capture_add_target(struct capture *c, pid_t pid);
int capture_start(struct capture *c, char *err, size_t errlen);
/* Waits up to timeout_ms for records; returns how many were handled or a negative errno. */
int capture_poll(struct capture *c, int timeout_ms);
int capture_stop(struct capture *c);
enum capture_path capture_get_path(const struct capture *c);
/* On-CPU sampling period in ns (0: not sampling). */
uint64_t capture_sample_period_ns(const struct capture *c);
/* CLOCK_MONOTONIC ns at which every program was attached (before the seed). */
uint64_t capture_attached_ns(const struct capture *c);
uint64_t capture_blocks_captured(const struct capture *c);

/* What the BPF side has cost so far: its programs' run time when the kernel's
 * BPF stats are on (stats_on), and the records user space has handled. */
struct capture_cost {
	uint64_t run_ns, run_cnt;
	uint64_t records;
	bool stats_on;
};
void capture_cost(struct capture *c, struct capture_cost *out);
/* Records read from the rings so far: no syscall, for deciding whether
 * capture_cost() is worth its syscalls. */
uint64_t capture_records(const struct capture *c);
/* The overhead governor's threshold: blocks shorter than ns are only counted,
 * as below --min-block (0: --min-block alone). Takes effect at once. */
void capture_set_block_floor(struct capture *c, uint64_t ns);

/* Calls fn for every drop counter (zeros included) and then every statistic. */
struct capture_counter {
	const char *name;
	uint64_t value;
	bool is_drop;
};
void capture_read_counters(struct capture *c,
			   void (*fn)(void *arg, const struct capture_counter *ctr), void *arg);
void capture_finish(struct capture *c);

#endif /* STALLTRAP_CAPTURE_H */
