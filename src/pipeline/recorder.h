/* recorder.h: the live half of the pipeline: capture -> unwind/symbolize -> capdata.
 *
 * It owns the capture session, the symbolizer and the target list, reads each
 * target's maps ahead of time (and again, with a deadline, when they change),
 * and turns every capture record (capture.h: the facade's plain records; the
 * BPF layouts stay inside capture/) into interned stacks and blocks. `record`
 * runs it for a fixed window; `watch` keeps it running as a flight recorder
 * (watch/flight.h). The offline half is writer.h.
 */
#ifndef STALLTRAP_PIPELINE_RECORDER_H
#define STALLTRAP_PIPELINE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capdata/capdata.h"
#include "capture/capture.h"

struct recorder_opts {
	const pid_t *pids;          /* initial target processes */
	size_t npids;
	const char *name;           /* --name: comm to follow on exec */
	const char *cgroup_dir;     /* --cgroup: resolved directory, polled for joins */
	uint64_t min_block_ns;
	uint32_t max_ustack;
	uint32_t ringbuf_kb;
	int maps_timeout_ms;        /* deadline for one /proc/PID/maps read */
	bool bpf_stats;             /* measure the BPF programs' run time (costs a little) */
	bool no_locks;              /* --no-locks: no cause tracing */
	uint64_t hold_threshold_ns; /* --hold-threshold: holders reported above this total */
	double max_overhead;        /* --max-overhead: the governor's budget, a share of one core; 0: off */
};

struct recorder;

/* Prepares and starts the capture. Returns 0 or a negative errno with a
 * one-line reason in err. */
int recorder_start(struct recorder **out, const struct recorder_opts *o, char *err, size_t errlen);
/* Adds a target process once the capture runs (one --name or --cgroup found
 * after attaching). Returns 0, or a negative errno. */
int recorder_add_target(struct recorder *r, pid_t pid);
/* Handles records for up to timeout_ms. Returns 0, or a negative errno. */
int recorder_poll(struct recorder *r, int timeout_ms);
/* True once every target process has exited. */
bool recorder_targets_gone(struct recorder *r);
uint64_t recorder_blocks(const struct recorder *r);
/* The overhead governor's block threshold in force (0: not acting). */
uint64_t recorder_governor_floor_ns(const struct recorder *r);
uint64_t recorder_drops(const struct recorder *r);
/* Stops the capture, flushes blocks in progress and fills the counters; the
 * capdata stays owned by the recorder until recorder_free(). */
int recorder_stop(struct recorder *r);
struct capdata *recorder_capdata(struct recorder *r);
void recorder_free(struct recorder *r);

/* For watch's flight recorder, which keeps a recorder running for hours. */
/* Drops blocks, holds, samples and memory samples that ended before
 * cutoff_ns (CLOCK_MONOTONIC); blocks still in progress are kept. Interned
 * frames, stacks and threads stay (ids remain valid). Returns how many
 * records were dropped. */
size_t recorder_evict(struct recorder *r, uint64_t cutoff_ns);
/* Calls fn for the capture's current drop counters and statistics (as
 * capture_read_counters), without stopping it: for watch's own /metrics. */
void recorder_read_counters(struct recorder *r,
			    void (*fn)(void *arg, const struct capture_counter *c), void *arg);

#endif /* STALLTRAP_PIPELINE_RECORDER_H */
