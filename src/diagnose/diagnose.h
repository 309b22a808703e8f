/* diagnose.h: names the cause of a capture's stalls: report.json's "verdict" and its evidence.
 *
 * The diagnose stage runs after aggregate, on the capdata alone (no root, no
 * /proc, no symbolization), so `stalltrap report DIR` gives the same verdict
 * as the `record` that wrote DIR. It keys on kernel evidence: the lock a
 * block waited on (lock:contention_* address and flags), the task state at
 * switch-out, the syscall it blocked in, kernel stack frames (reclaim, I/O
 * waits), mmap_lock holds (mmap_lock:* tracepoints), wakers, on-CPU samples,
 * per-thread block I/O and RSS. User-space names are used only for libc's
 * own entry points (a condition-variable wait against a mutex wait, which the
 * kernel sees as the same futex wait) and to print where the culprit was.
 * The rules, thresholds and their order are in docs/diagnose.md.
 *
 * The result is one JSON object whose keys render_report() inserts into
 * report.json: "verdict" {kind, summary, threads, offcpu_ms,
 * max_ms, culprit}, and the evidence: "waits" (off-CPU time per cause),
 * "locks", "holders", "memory", "cpu", "io", "diagnosis" (thresholds used).
 */
#ifndef STALLTRAP_DIAGNOSE_H
#define STALLTRAP_DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"

/* A cause qualifies as a stall when one of its waits lasted this long... */
#define DIAG_STALL_MAX_NS   100000000ull   /* 100 ms */
/* ... or when its waits add up to this much. */
#define DIAG_STALL_TOTAL_NS 250000000ull   /* 250 ms */
/* Runnable time is a stall only when it is also this share (percent) of the
 * waiting threads' window: a busy machine preempts everyone a little. */
#define DIAG_RUNQ_SHARE_PCT 10
/* A thread on-CPU this long without a voluntary block is busy (cpu_busy)... */
#define DIAG_BUSY_RUN_NS    1000000000ull  /* 1 s */
/* ... if it ran at least this share (percent) of that time; its preemptions
 * meanwhile belong to its busy run, not to the runqueue. Below it, the
 * thread was starved of CPU rather than busy. */
#define DIAG_BUSY_SHARE_PCT 25
/* Default for window.hold_threshold_ns when the capture file has none. */
#define DIAG_HOLD_THRESHOLD_NS 10000000ull /* 10 ms */

/* The verdict kinds, in the order used to break exact ties. */
enum diag_kind {
	DIAG_MMAP_LOCK = 0,
	DIAG_KERNEL_LOCK,
	DIAG_APP_LOCK,          /* the application's own lock, whatever its primitive */
	DIAG_MEMORY_RECLAIM,
	DIAG_IO,
	DIAG_RUNQUEUE,
	DIAG_LOOP_BLOCKED,      /* an event loop held away from its poll by a sleep or other wait */
	DIAG_DEPENDENCY,        /* a pool's workers held up mid-request by another process's answer */
	DIAG_STOPPED,           /* stopped from outside: a stop signal, a debugger or tracer, a freezer */
	DIAG_CPU_BUSY,
	DIAG_NONE,
	DIAG__COUNT
};

/* verdict.primitive of an app_lock: what the waiters waited in. */
enum diag_primitive {
	DIAG_PRIM_MUTEX = 0,
	DIAG_PRIM_RWLOCK,
	DIAG_PRIM_CONDVAR,
	DIAG_PRIM_SEMAPHORE,
	DIAG_PRIM_LATCH,        /* a poll/epoll/select/read woken by a signal, pipe or eventfd */
	DIAG_PRIM_OTHER,
	DIAG_PRIM_FILE,         /* a file lock: flock(2), fcntl(2) record locks, OFD locks, leases */
	DIAG_PRIM__COUNT
};

/* "mutex", "rwlock", "condvar", "semaphore", "latch", "other", "file_lock"; "unknown" out of range. */
const char *diagnose_primitive_name(unsigned int prim);

/* "mmap_lock", "kernel_lock", "app_lock", "memory_reclaim", "io", "runqueue",
 * "loop_blocked", "dependency", "stopped", "cpu_busy", "none"; "unknown" out of range. */
const char *diagnose_kind_name(unsigned int kind);

/* Builds the diagnosis of cd (agg must be built from cd). baseline is NULL, or
 * the capture of the same service in a healthy window before cd's: its waits,
 * classified by the same rules, are taken per second of its window and
 * subtracted before judging. *out is the caller's (json_decref). Returns 0,
 * -EINVAL (bad arguments) or -ENOMEM. Deterministic: the same capdata gives
 * the same object. */
int diagnose_build(const struct capdata *cd, const struct aggregate *agg, const struct capdata *baseline,
		   json_t **out);

/* The first line of the printed summary: "verdict: KIND: SUMMARY", control
 * characters replaced (names come from the target), cut at a UTF-8 boundary
 * to fit len (ends in "…" when cut). Returns 0, or -EINVAL when diag has no
 * verdict or len is too small to say anything. */
int diagnose_summary_line(const json_t *diag, char *buf, size_t len);

#endif /* STALLTRAP_DIAGNOSE_H */
