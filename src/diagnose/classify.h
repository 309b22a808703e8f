/* classify.h: what the diagnose stage says about single records of a capture: why a block was off-CPU, what an mmap_lock hold was doing.
 *
 * The one classification of the program: report.json's "waits", the verdict
 * and timeline.svg's colours all come from it, so a block the verdict counts
 * as memory reclaim is drawn as memory reclaim. Later stages (render) may
 * include this header; the rules are in docs/diagnose.md.
 */
#ifndef STALLTRAP_DIAGNOSE_CLASSIFY_H
#define STALLTRAP_DIAGNOSE_CLASSIFY_H

#include <stdint.h>

#include "capdata/capdata.h"
#include "diagnose/diagnose.h"

/* Why a block was off-CPU. The first nine share their value with enum
 * diag_kind, so a cause that qualifies as a stall is directly the verdict's
 * kind (diagnose_cause_abnormal()); the last three never make a verdict. */
enum diag_cause {
	DIAG_CAUSE_MMAP_LOCK = DIAG_MMAP_LOCK,
	DIAG_CAUSE_KERNEL_LOCK = DIAG_KERNEL_LOCK,
	DIAG_CAUSE_APP_LOCK = DIAG_APP_LOCK,    /* an application lock: mutex, rwlock, or a convoy */
	DIAG_CAUSE_MEMORY_RECLAIM = DIAG_MEMORY_RECLAIM,
	DIAG_CAUSE_IO = DIAG_IO,
	DIAG_CAUSE_RUNQUEUE = DIAG_RUNQUEUE,   /* runnable, waiting for a CPU */
	DIAG_CAUSE_LOOP_BLOCKED = DIAG_LOOP_BLOCKED, /* an event loop's thread held away from its poll */
	DIAG_CAUSE_DEPENDENCY = DIAG_DEPENDENCY, /* a worker waiting mid-request for another process's answer */
	DIAG_CAUSE_STOPPED = DIAG_STOPPED, /* stopped: SIGSTOP, ptrace, a freezer */
	DIAG_CAUSE_IDLE,        /* idle by nature: waiting for work, a timer, a peer */
	DIAG_CAUSE_BUSY,        /* preempted during its own busy run: part of a cpu_busy */
	DIAG_CAUSE_OTHER,       /* uninterruptible for a reason not recognised */
	DIAG_CAUSE__COUNT
};

/* "mmap_lock", "kernel_lock", "app_lock", "memory_reclaim", "io", "runqueue",
 * "loop_blocked", "dependency", "stopped", "idle", "busy", "other" (report.json's "waits" keys);
 * "unknown" out of range. */
const char *diagnose_cause_name(unsigned int cause);

/* Whether cause is one that can make a verdict (a stall's cause), as opposed
 * to idle (waiting for work), busy or other. What a person reads first. */
static inline int diagnose_cause_abnormal(unsigned int cause)
{
	return cause < DIAG_CAUSE_IDLE;
}

/* Classifies every block of cd by the rules diagnose_build() uses:
 * cause_per_block[i] (cd->nblocks entries, the caller's) gets the enum
 * diag_cause of cd->blocks[i], for the target's threads and the others alike.
 * Returns 0, -EINVAL (cd NULL, or cause_per_block NULL with blocks) or
 * -ENOMEM. Deterministic; reads cd only. */
int diagnose_classify(const struct capdata *cd, uint8_t *cause_per_block);

/* What an mmap_lock hold was doing, from its syscall and arguments (sizes by
 * util/units.h's rules). op: "mmap 3.0 GiB MAP_POPULATE"; call:
 * "mmap(3.0 GiB, MAP_POPULATE)"; both end in " ×N" when repeats > 1. Outside
 * a syscall: "a page fault or kernel work", or "kernel work of COMM" for a
 * thread outside the target without a user stack. A fork is named with the
 * process's size then ("fork of a 3.0 GiB process") when cd has memory
 * samples of it. Always NUL-terminated, cut to fit. */
struct diag_holdop {
	char op[160];
	char call[160];
};
void diagnose_hold_op(const struct capdata *cd, const struct cap_hold *h, uint32_t repeats,
		      struct diag_holdop *d);

#endif /* STALLTRAP_DIAGNOSE_CLASSIFY_H */
