/* capdata.h: the saved capture data: the in-memory model and its file format.
 *
 * This is the boundary between the capture stage and every later stage
 * (aggregate, diagnose, render, report, diff). It holds only symbolized,
 * unwound data: raw user-stack bytes never reach it (they can hold secrets).
 * The file format is documented in docs/capture-format.md.
 *
 * Invariants:
 * - frames, stacks and threads are interned: equal content, equal id. Ids are
 *   indexes into their arrays and stay valid until capdata_free().
 * - stacks[i].frames lists frame ids root first. A user stack holds only user
 *   frames and a kernel stack only kernel frames; a block names one of each
 *   (or ST_NO_STACK).
 * - blocks are appended in the order they arrive, not sorted by time.
 * - every string is owned by the capdata and freed with it. Strings are
 *   valid UTF-8 (invalid bytes are replaced by '?' when interned, so report.json
 *   and the capture file can always hold them) and at most CAPDATA_MAX_STRING
 *   bytes (longer ones are cut at a character boundary).
 * - every id stored in the model points to an existing entry: the interning
 *   functions and capdata_add_block refuse (-EINVAL) out-of-range ids, a stack
 *   mixing kernel and user frames, a kernel stack used as a user stack or the
 *   reverse, and a state outside enum cap_state.
 * - every array has a hard cap (CAPDATA_MAX_*); past it the call fails with
 *   -E2BIG and the model is unchanged, so the caller can count a drop.
 */
#ifndef STALLTRAP_CAPDATA_H
#define STALLTRAP_CAPDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPDATA_FORMAT "stalltrap-capture"
#define CAPDATA_VERSION 1
#define CAPDATA_FILE "capture.jsonl.gz"
#define ST_NO_STACK UINT32_MAX
#define ST_NO_MAPPING UINT32_MAX

/* Hard caps of the model. They bound memory for any input, including a
 * hostile capture file; a real capture stays far below them. */
#define CAPDATA_MAX_MAPPINGS    (1u << 16)
#define CAPDATA_MAX_FRAMES      (1u << 22)
#define CAPDATA_MAX_STACKS      (1u << 22)
#define CAPDATA_MAX_STACK_DEPTH 4096u       /* frames in one stack */
#define CAPDATA_MAX_THREADS     (1u << 20)
#define CAPDATA_MAX_BLOCKS      (1u << 24)  /* 16 Mi blocks = 512 MiB of cap_block */
#define CAPDATA_MAX_HOLDS       (1u << 20)
#define CAPDATA_MAX_SAMPLES     (1u << 22)
#define CAPDATA_MAX_MEM         (1u << 20)
#define CAPDATA_MAX_THROTTLES   (1u << 16)
#define CAPDATA_MAX_COUNTERS    256u        /* drop counters, and stats, each */
#define CAPDATA_MAX_PIDS        (1u << 16)
#define CAPDATA_MAX_STRING      (64u * 1024) /* bytes of any one string */
#define CAPDATA_MAX_NAME        64u         /* bytes of a drop or stat name */

/* One executable mapping of a target process, for pprof and re-symbolization. */
struct cap_mapping {
	uint64_t start, limit, offset;
	char *file;             /* path as the target sees it */
	char *build_id;         /* lowercase hex, or NULL */
};

struct cap_frame {
	char *name;             /* demangled symbol, or "[unknown]" / "[module+0x1f]" */
	uint64_t addr;          /* pc (kernel: absolute; user: absolute in its process) */
	uint32_t mapping;       /* index into mappings, or ST_NO_MAPPING (kernel frames) */
	bool kernel;
};

/* Why a user stack is as it is. */
enum cap_stack_status {
	CAP_STACK_COMPLETE = 0,   /* unwound to the thread's entry (or a kernel stack) */
	CAP_STACK_TRUNCATED = 1,  /* the unwind stopped early (copy ended, no CFI, ...) */
	CAP_STACK_UNREADABLE = 2, /* the user stack could not be read (mmap_lock busy, fault) */
	CAP_STACK_NONE = 3,       /* the thread has no user stack (kernel thread) */
};

struct cap_stack {
	uint32_t *frames;       /* frame ids, root first */
	uint32_t nframes;
	uint8_t status;         /* enum cap_stack_status */
};

struct cap_thread {
	int32_t pid, tid;
	char comm[16];
	uint64_t below_min_ns;     /* off-CPU time in blocks shorter than min_block */
	uint64_t below_min_count;
	uint64_t io_bytes;         /* block I/O this thread issued during the window */
	uint64_t io_count;
	bool outside;              /* not of the target (an outside mmap_lock holder, a waker) */
};

/* The thread's state when it went off-CPU. */
enum cap_state {
	CAP_STATE_SLEEPING = 0,        /* waiting for an event (TASK_INTERRUPTIBLE, TASK_IDLE) */
	CAP_STATE_UNINTERRUPTIBLE = 1, /* disk, rwsem, D-state waits (TASK_UNINTERRUPTIBLE) */
	CAP_STATE_RUNNABLE = 2,        /* preempted or still running: waited for a CPU */
	CAP_STATE__COUNT
};

#define CAP_BLOCK_IN_PROGRESS 0x1  /* still going when the capture ended */
#define CAP_BLOCK_BEGAN_BEFORE 0x2 /* already going when the capture began */
#define CAP_BLOCK_WOKEN_IRQ 0x4    /* woken from interrupt context (a timer, a device): no waker */

/* What a block waited on, from kernel evidence (lock tracepoints, syscall). */
enum cap_wait_kind {
	CAP_WAIT_NONE = 0,        /* nothing more specific is known */
	CAP_WAIT_MMAP_LOCK = 1,   /* the target's mm->mmap_lock (wait_obj: &mm->mmap_lock) */
	CAP_WAIT_KERNEL_LOCK = 2, /* another kernel lock (wait_obj: its address) */
	CAP_WAIT_FUTEX = 3,       /* a futex wait (wait_obj: the futex's user address) */
	CAP_WAIT__COUNT
};

/* lock_flags: lock:contention_begin's flags (LCB_F_* of the kernel's
 * include/trace/events/lock.h), as the tracepoint gives them. */
#define CAP_LCB_SPIN   0x01
#define CAP_LCB_READ   0x02
#define CAP_LCB_WRITE  0x04
#define CAP_LCB_RT     0x08
#define CAP_LCB_PERCPU 0x10
#define CAP_LCB_MUTEX  0x20

struct cap_block {
	/* laid out by size: hundreds of thousands of these are kept */
	uint64_t start_ns;      /* CLOCK_MONOTONIC */
	uint64_t dur_ns;
	uint64_t wait_obj;      /* lock address or futex user address */
	uint64_t waker_ns;      /* if has_waker: when it was woken (CLOCK_MONOTONIC; 0: unknown) */
	uint64_t woken_ns;      /* its first wakeup, waker or none (0: not seen): runnable from
				 * then to its end, waiting for a CPU */
	uint32_t thread;        /* index into threads */
	uint32_t ustack;        /* stack id or ST_NO_STACK */
	uint32_t kstack;        /* stack id or ST_NO_STACK */
	/* cause evidence; zero (false) means unknown, so { 0 } is a valid block */
	int32_t syscall;        /* the syscall it blocked in (x86_64 number), if in_syscall */
	uint32_t waker;         /* if has_waker: the thread index of the thread that woke it */
	uint32_t waker_ustack;  /* its stacks at the wakeup, or ST_NO_STACK */
	uint32_t waker_kstack;
	uint32_t owner;         /* if has_owner: the thread index of the lock's owner, for a futex
				 * lock wait still going at the end (glibc's mutex owner word) */
	uint32_t taker;         /* if has_taker: the thread outside the target sampled on-CPU last on
				 * the CPU it waited for, while it waited runnable (after its wakeup) */
	uint16_t taker_samples; /* that thread's samples in a row there */
	uint8_t state;          /* enum cap_state */
	uint8_t flags;          /* CAP_BLOCK_* */
	uint8_t wait_kind;      /* enum cap_wait_kind */
	uint8_t lock_flags;     /* lock:contention_begin flags (LCB_F_*) for lock waits */
	bool in_syscall;
	bool has_waker;
	bool has_owner;
	bool has_taker;
};

/* mmap_lock hold modes */
enum cap_hold_mode {
	CAP_HOLD_READ = 0,
	CAP_HOLD_WRITE = 1,
	CAP_HOLD_DOWNGRADED = 2,  /* taken for write, downgraded to read, released as read */
};

/* One hold of a target's mmap_lock, with the holder's stacks taken in its own
 * context at the release (or at the end, for a hold still in progress). */
struct cap_hold {
	uint32_t thread;        /* the holder: a target thread or an outside one */
	int32_t mm_pid;         /* the target process whose mm it was */
	uint8_t mode;           /* enum cap_hold_mode */
	uint8_t flags;          /* CAP_BLOCK_IN_PROGRESS */
	uint64_t start_ns, dur_ns;
	uint32_t ustack, kstack;
	bool in_syscall;
	int32_t syscall;        /* syscall the holder was in (x86_64 number) */
	uint64_t args[4];       /* its first arguments (mmap: addr, len, prot, flags) */
};

/* Per-thread total of mmap_lock holds over the window (short ones included). */
struct cap_hold_total {
	uint32_t thread;
	int32_t mm_pid;
	uint64_t hold_ns, holds;
	uint64_t read_ns, write_ns;
};

/* An on-CPU sample of a target thread (perf_event), for cpu_busy and busy holders. */
struct cap_sample {
	uint32_t thread;
	uint64_t ts_ns;
	uint32_t ustack, kstack;
	/* the thread's voluntary context switches so far (its nvcsw): a change
	 * between two samples says it blocked, however briefly; 0: not known
	 * (capture data written before it was recorded) */
	uint64_t nvcsw;
};

/* The target's memory, sampled from sources that take no mmap_lock. */
struct cap_mem {
	int32_t pid;
	uint64_t ts_ns;
	uint64_t rss_bytes, vsz_bytes;
};

/* The CPU throttling of a target's cgroup by its CPU quota (cpu.stat's
 * throttled time), between two reads of it: written only when it grew. */
struct cap_throttle {
	char *cgroup;           /* the cgroup's path, as in /proc/PID/cgroup */
	uint64_t from_ns, ts_ns; /* the reads before and at this one */
	uint64_t throttled_ns;  /* throttled in between */
	uint32_t periods;       /* periods throttled in between */
	int64_t quota_us;       /* the quota per period at ts_ns, -1: none */
	uint64_t period_us;
};

/* A named counter: drops (every way data was lost) and capture statistics. */
struct cap_counter {
	char *name;
	uint64_t value;
};

struct cap_target {
	int32_t *pids;
	size_t npids;
	char *comm;
	char *cmdline;          /* of the first pid, arguments joined by spaces */
};

struct cap_window {
	uint64_t start_mono_ns;    /* CLOCK_MONOTONIC at the start */
	int64_t start_real_ns;     /* CLOCK_REALTIME at the same instant */
	uint64_t duration_ns;
	uint64_t min_block_ns;
	uint64_t trigger_mono_ns;  /* watch: the trigger instant; 0 for record */
	uint64_t sample_period_ns; /* on-CPU sampling period; 0 when not sampled */
	uint64_t hold_threshold_ns;/* --hold-threshold: holders above this total are reported */
	uint64_t attached_mono_ns; /* when every program was attached, before the seed (0: unknown);
				    * in memory only: watch's generations hand over there */
};

/* An optional part of the capture (wakers, kernel_locks, ...): on, or left
 * out and why (--no-locks, a kernel without it, a program it refused). */
struct cap_feature {
	char *name;
	bool on;
	char *reason;              /* NULL when on */
};
#define CAPDATA_MAX_FEATURES 32u

/* A kernel lock's address and the data symbol it lies in ("rtnl_mutex",
 * "foo+0x40"): named at capture time where kallsyms lists data symbols. */
struct cap_kname {
	uint64_t addr;
	char *name;
};
#define CAPDATA_MAX_KNAMES 256u

struct capdata {
	struct cap_target target;
	struct cap_window window;
	char *capture_path;        /* which capture path ran: "sched_exit_tp", ... */
	struct cap_feature *features; size_t nfeatures; /* the capture's optional parts, on or left out */
	struct cap_kname *knames; size_t nknames;       /* kernel locks' names, from kallsyms' data symbols */

	struct cap_mapping *mappings; size_t nmappings, amappings;
	struct cap_frame *frames;     size_t nframes, aframes;
	struct cap_stack *stacks;     size_t nstacks, astacks;
	struct cap_thread *threads;   size_t nthreads, athreads;
	struct cap_block *blocks;     size_t nblocks, ablocks;
	struct cap_counter *drops;    size_t ndrops, adrops;   /* report.json "drops" */
	struct cap_counter *stats;    size_t nstats, astats;   /* report.json "capture" */
	struct cap_hold *holds;       size_t nholds, aholds;
	struct cap_hold_total *hold_totals; size_t nhold_totals, ahold_totals;
	struct cap_sample *samples;   size_t nsamples, asamples;
	struct cap_mem *mem;          size_t nmem, amem;
	struct cap_throttle *throttles; size_t nthrottles, athrottles;

	struct capdata_index *index;  /* private: interning hash tables */
};

/* Lifecycle: init zeroes and sets up the indexes; free releases everything,
 * is safe on a zeroed or already freed capdata, and leaves it zeroed. */
int capdata_init(struct capdata *cd);
void capdata_free(struct capdata *cd);

/* Setters for the header. Strings are copied. */
int capdata_set_target(struct capdata *cd, const int32_t *pids, size_t npids,
		       const char *comm, const char *cmdline);

/* Interning. Each returns the id (>= 0) or a negative errno (-ENOMEM). */
int64_t capdata_mapping(struct capdata *cd, uint64_t start, uint64_t limit, uint64_t offset,
			const char *file, const char *build_id);
int64_t capdata_frame(struct capdata *cd, const char *name, uint64_t addr,
		      uint32_t mapping, bool kernel);
/* Renames frame id (symbols found after the capture: symbolize_late). Two
 * frames may then have equal content; ids stay valid, and the name is
 * cleaned and capped as capdata_frame's. Returns 0, -EINVAL or -ENOMEM. */
int capdata_rename_frame(struct capdata *cd, uint32_t id, const char *name);
int64_t capdata_stack(struct capdata *cd, const uint32_t *frames, uint32_t nframes,
		      enum cap_stack_status status);
/* A thread is keyed by tid and comm: a thread that renames itself gets two entries.
 * (pid is part of the key too, so a tid reused by another process is another
 * thread.) comm is cut to 15 bytes. below_min_ns/below_min_count start at 0 and
 * are set by the caller directly in cd->threads[id]. */
int64_t capdata_thread(struct capdata *cd, int32_t pid, int32_t tid, const char *comm);

int capdata_add_block(struct capdata *cd, const struct cap_block *b);

/* Cause evidence (the cause issue). Each validates ids like capdata_add_block
 * and returns 0, -EINVAL or -E2BIG (over its CAPDATA_MAX_*). */
int capdata_add_hold(struct capdata *cd, const struct cap_hold *h);
int capdata_add_hold_total(struct capdata *cd, const struct cap_hold_total *t);
int capdata_add_sample(struct capdata *cd, const struct cap_sample *s);
int capdata_add_mem(struct capdata *cd, const struct cap_mem *m);
/* The cgroup path is copied; -EINVAL when it is empty or from_ns > ts_ns. */
int capdata_add_throttle(struct capdata *cd, const struct cap_throttle *t);
/* Adds count to the drop counter name (creating it at 0 if absent): a drop
 * counter exists, at 0, for every way of losing data, so that report.json
 * lists them all. */
int capdata_add_drop(struct capdata *cd, const char *name, uint64_t count);
/* Sets a capture statistic (blocks, bpf_run_ns, unwind_ns, ...). */
int capdata_set_stat(struct capdata *cd, const char *name, uint64_t value);
/* Returns the value of a drop or stat counter, 0 when absent. */
uint64_t capdata_get_drop(const struct capdata *cd, const char *name);
uint64_t capdata_get_stat(const struct capdata *cd, const char *name);

/* File I/O. write: DIR/capture.jsonl.gz, mode 0600. read: returns 0, or a negative
 * errno with a one-line reason in err (size errlen) naming the file and line. */
int capdata_write(const struct capdata *cd, const char *dir);
int capdata_read(struct capdata *cd, const char *dir, char *err, size_t errlen);
/* Notes on the two above:
 * - write goes to a temporary name in DIR, fsyncs and renames, so a crash never
 *   leaves half a capture.jsonl.gz. Errors: negative errno (-E2BIG when a
 *   counter value does not fit the format's signed 64-bit integers).
 * - read wants a capdata fresh from capdata_init() (-EINVAL otherwise). On
 *   failure cd holds what was read before the bad line: the caller still calls
 *   capdata_free(). -ENOENT: no file; -EINVAL: malformed content; -ENOTSUP: a
 *   newer format version; -EIO: a damaged gzip stream; -E2BIG: over a cap.
 * - capdata_read_file() reads an explicit path (tests, fuzzing, `stalltrap report FILE`). */
int capdata_read_file(struct capdata *cd, const char *path, char *err, size_t errlen);

/* Additions for later stages. */
/* Copies path into cd->capture_path (replacing the old one). */
int capdata_set_capture_path(struct capdata *cd, const char *path);
/* Sets feature name (added, or replaced by name); reason may be NULL. */
int capdata_set_feature(struct capdata *cd, const char *name, bool on, const char *reason);
/* {"name": {"on": bool[, "reason": string]}, ...}: the capture file's
 * header.capture_features and report.json's capture.features (a jansson
 * object, the caller's; NULL when out of memory). */
struct json_t *capdata_features_json(const struct capdata *cd);
/* Names the kernel lock at addr (the first name stays; -E2BIG past CAPDATA_MAX_KNAMES). */
int capdata_set_kname(struct capdata *cd, uint64_t addr, const char *name);
/* The name of the kernel lock at addr, or NULL. */
const char *capdata_kname(const struct capdata *cd, uint64_t addr);
/* Copies src's capture path, features and kernel lock names into dst (watch's incident windows). */
int capdata_copy_capture_info(struct capdata *dst, const struct capdata *src);
/* CLOCK_MONOTONIC at the end of the window. */
uint64_t capdata_window_end(const struct capdata *cd);

/* Drops the blocks, holds, samples and memory samples that ended before
 * cutoff_ns (blocks and holds in progress stay), in batches: nothing moves
 * until an eighth of an array is evictable. Interned frames, stacks and
 * threads stay. Returns how many records went. */
size_t capdata_evict(struct capdata *cd, uint64_t cutoff_ns);
/* Names used in the file, in report.json and in summaries: "sleeping",
 * "uninterruptible", "runnable"; "complete", "truncated", "unreadable", "none".
 * Out-of-range values give "unknown". */
const char *capdata_state_name(unsigned int state);
const char *capdata_stack_status_name(unsigned int status);
/* "none", "mmap_lock", "kernel_lock", "futex" (enum cap_wait_kind) and "read",
 * "write", "downgraded" (enum cap_hold_mode): the names the capture file and
 * the diagnosis use. Out-of-range values give "unknown". */
const char *capdata_wait_kind_name(unsigned int kind);
const char *capdata_hold_mode_name(unsigned int mode);
/* Whether stack id holds kernel frames (false for ST_NO_STACK and empty stacks). */
bool capdata_stack_is_kernel(const struct capdata *cd, uint32_t stack);

#endif /* STALLTRAP_CAPDATA_H */
