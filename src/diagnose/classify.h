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
