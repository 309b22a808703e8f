/* flight.h: watch's flight recorder: the recorder kept running, its history bounded, incidents cut out of it.
 *
 * The recorder runs from the start of `watch`, so that when a trigger fires,
 * the waits that led to it are already captured: an incident covers
 * [trigger - before, end], most of which happened before anyone knew.
 *
 * History is kept in generations. A generation is one recorder run;
 * flight_rotate() ends the current one (its blocks still in progress are
 * flushed with their stacks: only stopping the capture does that) and starts
 * the next; the ended one stays readable until it is older than keep_ns.
 * Blocks older than keep_ns are evicted from the running generation
 * (recorder_evict). flight_cut() copies a time range out of every
 * generation into a fresh capdata.
 *
 * The next generation attaches before the old one stops, so capture has no
 * gap; what both saw meanwhile is kept once. A block in progress when a
 * generation ended appears twice: cut short (in_progress) in the old
 * generation and whole in the new one (began_before when it began before
 * the new one attached); the cut keeps only the whole one.
 */
#ifndef STALLTRAP_FLIGHT_H
#define STALLTRAP_FLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capdata/capdata.h"
#include "pipeline/recorder.h"

#define FLIGHT_MAX_GENERATIONS 8u
/* A running generation whose interned stacks, frames or threads pass these is
 * ended while calm (interning is never undone within a generation): memory
 * stays bounded for a service that makes new stacks or threads forever. */
#define FLIGHT_ROTATE_STACKS  (1u << 17)
#define FLIGHT_ROTATE_FRAMES  (1u << 18)
#define FLIGHT_ROTATE_THREADS (1u << 15)

struct flight;

/* Starts the first generation with ro (copied, pids included). keep_ns: how
 * much history to keep (max(before, baseline) + max-window). */
int flight_start(struct flight **out, const struct recorder_opts *ro, uint64_t keep_ns,
		 char *err, size_t errlen);
/* Runs the recorder for up to timeout_ms, and evicts what is too old. */
int flight_poll(struct flight *f, int timeout_ms);
/* The oldest instant the history covers (CLOCK_MONOTONIC ns). */
uint64_t flight_history_start(const struct flight *f);
bool flight_targets_gone(struct flight *f);
struct recorder *flight_recorder(struct flight *f);
/* Ends the current generation and starts the next one with pids (the
 * targets as they are now: a --name or --cgroup target may have restarted).
 * On failure the old generation is kept as history and no recorder runs;
 * the call can be retried. */
int flight_rotate(struct flight *f, const pid_t *pids, size_t npids, char *err, size_t errlen);
/* Copies [start_ns, end_ns] of every generation (the running one too) into
 * dst (fresh from capdata_init), with the target of the newest ended one. trigger_ns goes to
 * dst->window.trigger_mono_ns. ended_only (a baseline): leave out blocks
 * still going at end_ns, which belong to what follows (a freeze that began
 * just before an incident's window is not "normal"). Returns 0 or a
 * negative errno. */
int flight_cut(struct flight *f, uint64_t start_ns, uint64_t end_ns, uint64_t trigger_ns,
	       bool ended_only, struct capdata *dst);
/* Whether cd has interned enough to be ended (the FLIGHT_ROTATE_* caps). */
bool flight_generation_full(const struct capdata *cd);
/* The running generation, NULL if none runs. */
const struct capdata *flight_current(struct flight *f);
/* Records evicted so far (for /metrics). */
uint64_t flight_evicted(const struct flight *f);
uint64_t flight_rotations(const struct flight *f);
void flight_free(struct flight *f);

/* The pure part, unit-tested without BPF: copies every record of src that
 * overlaps [start_ns, end_ns] into dst, interning the frames, stacks,
 * threads and mappings they reference. A block that began before start_ns
 * keeps its full length; an in-progress block is cut at end_ns.
 * next (may be NULL) is the generation after src: it attached
 * (window.attached_mono_ns) before src stopped, so src's samples, memory
 * readings and holds from then on are left out, and so are src's blocks
 * that next also has (the same thread's wait: one src cut short that next
 * seeded or saw begin, or one that ended at the same switch-in in both).
 * prev (may be NULL) is the generation before src: a wait src seeded
 * (began_before, its start known only roughly) that prev saw begin takes
 * prev's exact start. ended_by (0: none) leaves out the blocks that had not
 * ended by then. Drop counters of src are added to dst's;
 * per-thread counters are added to dst's threads. Returns 0 or a negative
 * errno (-E2BIG, -ENOMEM, -EINVAL). */
int capdata_cut(struct capdata *dst, const struct capdata *src, uint64_t start_ns, uint64_t end_ns,
		const struct capdata *prev, const struct capdata *next, uint64_t ended_by);

#endif /* STALLTRAP_FLIGHT_H */
