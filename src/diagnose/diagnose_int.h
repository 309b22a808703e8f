/* diagnose_int.h: what the diagnose stage's files share: the analysis context, its records and the functions across files; not part of the diagnose API.
 *
 * Invariants and ownership:
 * - struct ctx is built by diag_ctx_init() and freed by diag_ctx_release();
 *   it borrows cd and agg, which outlive it. Its per-thread arrays have
 *   cd->nthreads entries, cls one per block, ffeat one per frame, sfeat one
 *   per stack (0 = not computed yet, F_DONE once it is).
 * - The order of a diagnosis: diag_collect_samples, diag_cpu_busy_runs (busy
 *   runs, read by classify), diag_classify_all (cls and tot), then the lock
 *   groups (diag_build_groups, diag_blame_groups), diag_cpu_analyse and the
 *   evidence; each step reads only what the steps before it filled.
 * - Totals (struct ctotal) count target threads only; cls holds every block's
 *   cause, the target's or not.
 * - acc, acc2, accbest, accbest_ns and touched are scratch: zero between uses
 *   (take_holders and diag_cpu_analyse clear what they used).
 * - struct cpuinfo is owned by its caller and freed by diag_cpu_release().
 * - json_t results are new references; a failed allocation inside an
 *   evidence builder sets ctx.oom instead of failing there.
 */
#ifndef STALLTRAP_DIAGNOSE_INT_H
#define STALLTRAP_DIAGNOSE_INT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "diagnose/classify.h"
#include "diagnose/diagnose.h"
#include "util/syscalls.h"
#include "util/units.h"

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
#define UF_RWLOCK   0x0400u  /* with UF_LOCK: a reader-writer lock */
#define UF_SEM      0x0800u  /* with UF_WORK: a semaphore wait */
#define UF_COND     0x1000u  /* with UF_WORK: a condition variable wait */
#define KF_FLOCK    0x2000u  /* a file lock wait: flock, fcntl F_SETLKW, OFD locks, a lease break */
#define KF_STOP     0x4000u  /* stopped: a stop signal, a ptrace stop, a freezer */
#define UF_BITS (UF_WORK | UF_LOCK | UF_RWLOCK | UF_SEM | UF_COND)
#define F_DONE      0x8000u

#define KF_KERNEL_BITS (KF_RECLAIM | KF_IO | KF_LOCK | KF_MM | KF_FUTEX | KF_IDLE | KF_FLOCK | KF_STOP)

/* ---------------------------------------------------------------------------
 * Fixed-size text buffer for summaries: appends never overflow, and a cut
 * never splits a UTF-8 character (the result goes into JSON).
 */
struct sbuf {
	char s[768];
	size_t len;
};

/* ms rounded to whole microseconds, as everywhere in report.json */
static inline json_t *jms(uint64_t ns)
{
	return json_real(units_ms(ns));
}

static inline json_t *jcount(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static inline json_t *jhex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

/* -1, 0 or 1 as a is below, equal to or above b: one step of a comparator. */
static inline int diag_cmp(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static inline uint64_t overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	uint64_t s = s1 > s2 ? s1 : s2, e = e1 < e2 ? e1 : e2;

	return e > s ? e - s : 0;
}

static inline uint64_t block_end(const struct cap_block *b)
{
	return sat_add(b->start_ns, b->dur_ns);
}

/* When a block was woken: its waker's time, else its end (it ran again then). */
static inline uint64_t block_woken_at(const struct cap_block *b)
{
	return b->waker_ns ? b->waker_ns : block_end(b);
}

/* A wait's tail: from its first wakeup to its end the thread was runnable,
 * kept from a CPU (other tasks ran there, or its cgroup's quota was spent).
 * 0 for a preempted thread's wait, which is all runnable, and a wait whose
 * wakeup was not seen. Counted as a runqueue wait from DIAG_READY_TAIL_NS. */
static inline uint64_t diag_ready_tail(const struct cap_block *b)
{
	uint64_t e = block_end(b);

	return b->woken_ns && b->state != CAP_STATE_RUNNABLE && e > b->woken_ns ? e - b->woken_ns : 0;
}
#define DIAG_READY_TAIL_NS    1000000ull        /* a tail this long is a runqueue wait (a --min-block's) */

/* The part [*s, *e) of block i (of cause cls) its thread spent runnable,
 * waiting for a CPU: all of a runqueue block, or a wait's tail of
 * DIAG_READY_TAIL_NS or more; false when none. */
static inline bool diag_runnable_part(const struct cap_block *b, uint8_t cls, uint64_t *s, uint64_t *e)
{
	*e = block_end(b);
	if (cls == DIAG_CAUSE_RUNQUEUE)
		*s = b->start_ns;
	else if (diag_ready_tail(b) >= DIAG_READY_TAIL_NS)
		*s = b->woken_ns;
	else
		return false;
	return true;
}

/* Thresholds of the whole-capture rules (docs/diagnose.md, "Step 2"). */
#define DIAG_CONVOY_WAIT_NS   DIAG_STALL_MAX_NS /* a wait this long, ended by another thread, is a convoy's */
#define DIAG_RELEASE_GAP_NS   20000000ull       /* wakes of one release: at most this far apart */
#define DIAG_DEP_IDLE_MIN     3                 /* waits at a worker's idle site that make it one */
#define DIAG_DEP_CALL_FRAMES  6                 /* callers of a dependency's wait in the summary */
#define DIAG_HANDOFF_NS       1000000000ull     /* a lock passed on within this of getting it */
#define DIAG_BROADCAST_SITES  3                 /* wait sites one waker's stretch ends: a broadcast */
#define DIAG_REARM_GAP_NS     2000000ull        /* a timed wait re-armed within this is one wait */
#define DIAG_DISPATCH_MIN     3                 /* wake stretches before a waker can be a dispatcher */
#define DIAG_DISPATCH_PCT     75                /* ... and the share of them that ended one wait each */
#define DIAG_DISPATCH_BURSTS  8                 /* ... or this many of one waker's, any size */
#define DIAG_LOOP_MIN_POLLS   2                 /* polls at one site that make a thread an event loop */
#define DIAG_LOOP_MAX_THREADS 4                 /* ... unless this many threads poll there: one per client */
#define DIAG_LOOP_OUTER_FRAMES 2                /* ... nor one polling this many calls further out */
#define DIAG_BUSY_QUEUED_NS   DIAG_STALL_MAX_NS /* others runnable this long behind a busy thread */
#define DIAG_QUEUE_IO_PCT     50                /* lock waits this much behind their own waiters' I/O are I/O */

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
	uint8_t prim;           /* app_lock: enum diag_primitive with the most wait time */
	bool from_holds;        /* mmap_lock: blame from mmap_lock holds, not wakers */
	size_t nholders;
	struct lholder holders[MAX_LOCK_HOLDERS];
};

/* Every worker of a pool away from its wait for work at once, each in an
 * idle-looking wait (a sleep) in the middle of a request. */
struct poolstall {
	uint64_t s, e;          /* the spell they were all held; e == s: none */
	uint32_t workers;       /* the pool's size: threads sharing its idle site */
	size_t idle;            /* a block at the pool's idle site */
	size_t longest;         /* the longest of the waits that held it */
};

struct ctx {
	const struct capdata *cd;
	uint64_t *trun_s, *trun_e;  /* per thread: its busy run, when it is one (else 0, 0) */
	const struct aggregate *agg;
	uint64_t win_start, win_end, win_ns, period_ns, hold_thr_ns;
	uint16_t *ffeat;        /* per frame */
	uint8_t *fwrap;         /* per frame: a wait wrapper's (names.c); NULL until asked */
	uint16_t *sfeat;        /* per stack */
	uint8_t *cls;           /* per block: enum diag_cause */
	uint8_t *prim;          /* per block: enum diag_primitive, for app_lock blocks */
	uint64_t *gobj;         /* per block: the lock group's object (app_lock: futex word or wait site) */
	int32_t *gpid;          /* per block: the lock group's process (0: across the target) */
	uint8_t *rule;          /* per block: which whole-capture rule set its cause (RULE_*) */
	struct loopstall *lstalls; /* event-loop stalls found (loop.c) */
	size_t nlstalls;
	struct poolstall pstall; /* the longest spell a whole pool was held asleep (dependency.c) */
	uint64_t *loopsite;     /* per thread: its loop's poll site key, or 0: not an event loop */
	uint16_t *tmask;        /* per thread: causes it waited on (bit per enum diag_cause) */
	uint64_t *treclaim_ns;  /* per thread: reclaim time, off- and on-CPU */
	uint64_t *tio_ns;       /* per thread: I/O wait */
	uint64_t *acc;          /* per thread scratch */
	uint64_t *acc2;
	size_t *accbest;
	uint64_t *accbest_ns;
	uint32_t *touched;
	size_t ntouched;
	struct ctotal tot[DIAG_CAUSE__COUNT];
	uint64_t ready_ns;      /* of tot[RUNQUEUE]: the waits' tails, woken but not yet on a CPU */
	size_t *byth;           /* voluntary (not runnable) blocks by (thread, start) */
	size_t nbyth;
	size_t *lidx;           /* lock-wait blocks, grouped */
	size_t nlidx;
	struct lgroup *groups;
	size_t ngroups;
	size_t *samp;           /* target samples by time */
	size_t nsamp;
	bool have_baseline;
	bool oom;
};

/* The part of b inside the window (all of it when the capture has no
 * window): what totals count; the longest wait is the whole wait. */
static inline uint64_t diag_in_window(const struct ctx *x, const struct cap_block *b)
{
	return x->win_ns > 1 ? overlap(b->start_ns, block_end(b), x->win_start, x->win_end) : b->dur_ns;
}

/* Which rule gave a block its cause, beyond the per-block rules. */
enum { RULE_BASE = 0, RULE_CONVOY, RULE_SITE, RULE_LOOP, RULE_DEP, RULE_POOL };

/* An event loop's thread held away from its poll for at least DIAG_STALL_MAX_NS. */
struct loopstall {
	uint32_t thread;
	uint64_t s, e;          /* from leaving the poll to coming back (or the window's end) */
	uint64_t oncpu_ns;      /* sampled on-CPU time inside */
	uint64_t cause_ns[DIAG_CAUSE__COUNT]; /* its blocks inside, by cause */
	uint8_t why;            /* the dominant cause, or DIAG_CAUSE_BUSY for on-CPU */
	size_t longest;         /* its longest block inside, or SIZE_MAX */
	size_t poll_before;     /* the poll it left (a block index), or SIZE_MAX */
};

/* What a lock's holder did while holding it (holder.c). */
struct holdact {
	uint64_t span_ns;       /* the hold seen: from its start (or the first wait) to the release */
	uint64_t oncpu_ns, sleep_ns, io_ns, client_ns, lock_ns, other_ns;
	uint64_t cond_ns;       /* idle in a condition variable or semaphore (another thread's signal) */
	uint64_t stopped_ns;    /* stopped: a stop signal, a tracer, a freezer */
	int32_t client_nr;      /* the syscall of its longest wait for a client or event, or -1 */
	uint32_t ustack, kstack;/* the heaviest thing it did: its longest wait or most frequent sample */
	unsigned int top;       /* which of the parts above that was (enum hold_part) */
};
enum hold_part { HOLD_ONCPU, HOLD_SLEEP, HOLD_IO, HOLD_CLIENT, HOLD_LOCK, HOLD_OTHER, HOLD_COND, HOLD_STOPPED };

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

/* One entry per (holder thread, mm) at or above the hold threshold. */
struct hentry {
	uint32_t thread;
	int32_t mm_pid;
	uint64_t hold_ns, holds, read_ns, write_ns;
	size_t longest;         /* index in cd->holds, or SIZE_MAX */
	bool in_progress;
};


/* classify.c */
int diag_ctx_init(struct ctx *x, const struct capdata *cd, const struct aggregate *agg);
void diag_ctx_release(struct ctx *x);
bool diag_thread_is_target(const struct ctx *x, uint32_t t);
uint16_t diag_frame_feat(struct ctx *x, uint32_t f);
uint16_t diag_stack_feat(struct ctx *x, uint32_t st);
/* What stopped a thread whose kernel stack has KF_STOP, by its leafmost stop
 * frame: do_signal_stop (a stop signal), ptrace_stop (a tracer), or
 * __refrigerator / do_freezer_trap (a freezer; also a sleep right in
 * get_signal, where do_freezer_trap was inlined); DIAG_STOP_NONE without one. */
enum diag_stop { DIAG_STOP_NONE, DIAG_STOP_SIGNAL, DIAG_STOP_TRACE, DIAG_STOP_FREEZE };
enum diag_stop diag_stop_how(struct ctx *x, uint32_t kstack);
/* Whether a waker's kernel stack sends a stop: a signal's wakeup
 * (signal_wake_up_state, complete_signal), a tracer's attach, a freezer's. */
bool diag_kstack_sends_stop(const struct ctx *x, uint32_t kstack);
bool diag_waker_real(const struct ctx *x, const struct cap_block *b);
/* Whether another task ended b from its own context (not an interrupt, not
 * a timeout): else nobody woke it. */
bool diag_woken_by_task(const struct ctx *x, const struct cap_block *b);
/* A long wait (DIAG_CONVOY_WAIT_NS) of a target thread that another thread
 * of the target ended, not an interrupt: it waited for that thread. */
bool diag_ended_by_target(const struct ctx *x, const struct cap_block *b);
void diag_collect_samples(struct ctx *x);
int diag_classify_all(struct ctx *x);
/* diag_ctx_init, diag_collect_samples, diag_cpu_busy_runs, diag_classify_all:
 * x over cd with every block classified and the totals counted. ci must be
 * zeroed ({ .busiest = SIZE_MAX, .taker = SIZE_MAX }); x and ci are the
 * caller's to release, on failure too. Returns 0 or -ENOMEM. */
int diag_ctx_classify(struct ctx *x, const struct capdata *cd, const struct aggregate *agg,
		      struct cpuinfo *ci);

/* convoy.c: application locks from who ended the waits */
uint64_t diag_site_key(struct ctx *x, const struct cap_block *b);
uint8_t diag_block_primitive(struct ctx *x, const struct cap_block *b);
int diag_convoys(struct ctx *x);

/* loop.c: event loops held away from their poll */
bool diag_is_poll_syscall(int32_t nr);
int diag_loops(struct ctx *x);
const struct loopstall *diag_top_loopstall(const struct ctx *x, bool busy);

/* dependency.c: workers held up mid-request by another process's answer */
int diag_dependencies(struct ctx *x);
int diag_pools(struct ctx *x);
/* A block of thread t's idle site (where it waits most often, idle and
 * asleep, DIAG_DEP_IDLE_MIN times at least), its key in *site and how many
 * waits it had there in *count; SIZE_MAX (and 0, 0) when it has none. */
/* Whether block bi waits inside the function that waits in block idle (the
 * stacks equal from the root to idle's innermost frame of the program's
 * own, runtime libraries skipped; never an unknown frame). */
bool diag_within_wait(struct ctx *x, size_t bi, size_t idle);
size_t diag_idle_site_of(struct ctx *x, uint32_t t, uint64_t *site, size_t *count);

/* holder.c: what a holder did while holding */
void diag_holder_activity(struct ctx *x, uint32_t t, uint64_t s, uint64_t e, struct holdact *a);
void diag_put_activity(struct ctx *x, struct sbuf *sb, const struct holdact *a);
json_t *diag_culprit_hold_json(struct ctx *x, uint32_t t, const struct holdact *a, uint32_t rel_ustack,
			       uint32_t rel_kstack, const char *operation);

/* blame.c */
/* The owner (a thread index) of the glibc mutex block b still waits for at
 * the end, as the capture read it from the mutex; UINT32_MAX when not known
 * or b is no such wait. */
uint32_t diag_mutex_owner(struct ctx *x, const struct cap_block *b);
/* A deadlock behind block bi: bi waits for a mutex whose owner waits for a
 * mutex whose owner ... waits for one that a thread met before holds (bi's
 * own, or one further along: bi is stuck behind the deadlock). Fills chain
 * with the cycle's waits, in order (max at most followed from bi), and
 * returns how many; 0 when the owners lead to no cycle. */
#define DIAG_DEADLOCK_MAX 8     /* threads followed around a deadlock */
size_t diag_deadlock(struct ctx *x, size_t bi, size_t *chain, size_t max);
int diag_build_groups(struct ctx *x);
int diag_blame_groups(struct ctx *x);
int diag_holders_collect(struct ctx *x, struct hentry **out, size_t *nout);

/* cpu.c */
/* Time intervals [s, e): diag_ival_union sorts iv and merges the
 * overlapping ones in place, returning how many are left;
 * diag_ival_overlap is how much of [s, e) such a union covers. */
struct ival {
	uint64_t s, e;
};
/* by s, then e */
int diag_cmp_ival(const void *a, const void *b);
size_t diag_ival_union(struct ival *iv, size_t n);
uint64_t diag_ival_overlap(const struct ival *iv, size_t m, uint64_t s, uint64_t e);
/* qsort_r comparators: block and sample indices by (thread, time) over cd (arg); and plain uint64_t values */
int diag_cmp_block_thread(const void *a, const void *b, void *arg);
int diag_cmp_sample_thread(const void *a, const void *b, void *arg);
int diag_cmp_u64(const void *a, const void *b);
/* The first position in x->byth of thread t's blocks that start at or
 * after from, or x->nbyth. */
size_t diag_byth_at(const struct ctx *x, uint32_t t, uint64_t from);
/* The position in x->byth of voluntary block bi. */
size_t diag_byth_pos(const struct ctx *x, size_t bi);
/* The position in x->byth of the first chunk of the wait that ends at
 * position pos: a timed wait re-armed at once (within DIAG_REARM_GAP_NS, a
 * deadlock detector's 1 s chunks) at the same site is one wait. With a
 * waker (not DIAG_ANY_WAKER), a chunk another thread than it ended is
 * another wait. */
#define DIAG_ANY_WAKER UINT32_MAX
size_t diag_rearmed_first(struct ctx *x, size_t pos, uint32_t waker);
int diag_cpu_busy_runs(struct ctx *x, struct cpuinfo *ci);
int diag_cpu_analyse(struct ctx *x, struct cpuinfo *ci);
void diag_cpu_release(struct cpuinfo *ci);
size_t diag_mode_sample(const struct capdata *cd, const size_t *idx, size_t n);

/* names.c */
void diag_sb_put(struct sbuf *sb, const char *str, size_t max);
__attribute__((format(printf, 2, 3)))
void diag_sb_printf(struct sbuf *sb, const char *fmt, ...);
bool diag_shows_ustack(const struct capdata *cd, uint32_t ustack);
json_t *diag_stack_json(struct ctx *x, uint32_t ustack, uint32_t kstack);
bool diag_stack_complete(const struct capdata *cd, uint32_t ustack);
int diag_put_callers(struct ctx *x, struct sbuf *sb, uint32_t ustack);
/* the same, up to max frames */
int diag_put_callers_n(struct ctx *x, struct sbuf *sb, uint32_t ustack, int max);
int diag_put_wait_site(struct ctx *x, struct sbuf *sb, uint32_t ustack);
const char *diag_kernel_site(struct ctx *x, uint32_t kstack);
json_t *diag_thread_ref(const struct ctx *x, uint32_t t);
json_t *diag_culprit_json(struct ctx *x, uint32_t t, uint32_t ustack, uint32_t kstack,
			  const char *operation);
void diag_put_who(struct ctx *x, struct sbuf *sb, uint32_t t);
bool diag_mem_at(const struct capdata *cd, int32_t pid, uint64_t ts, bool before,
		 struct cap_mem *out);
void diag_put_rss_change(const struct capdata *cd, struct sbuf *sb, int32_t pid, uint64_t s,
			 uint64_t e);
const char *diag_mode_words(unsigned int mode);
const char *diag_lock_type(uint8_t f);
const char *diag_futex_noun(const struct ctx *x, const struct lgroup *g);
const char *diag_lock_mode(uint8_t f);
void diag_put_lock_name(struct ctx *x, const struct lgroup *g, struct sbuf *sb);
/* A kernel lock wait b, in few words: "a kernel rwsem (write)", and what the
 * lock protects when it is a well-known one. */
void diag_put_kernel_wait(struct ctx *x, const struct cap_block *b, struct sbuf *sb);

/* evidence.c */
json_t *diag_waits_json(struct ctx *x);
json_t *diag_locks_json(struct ctx *x);
json_t *diag_holders_json(struct ctx *x, const struct hentry *e, size_t n, size_t *omitted);
json_t *diag_memory_json(struct ctx *x);
json_t *diag_cpu_json(struct ctx *x, const struct cpuinfo *ci, size_t *omitted);
size_t diag_io_order(struct ctx *x, uint32_t *idx);
json_t *diag_io_json(struct ctx *x, const uint32_t *idx, size_t n, size_t *omitted);

#endif /* STALLTRAP_DIAGNOSE_INT_H */
