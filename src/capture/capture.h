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
 * This is the only module that touches BPF maps. Records are handed out as
 * they are in the ring: pointers are valid only during the callback.
 */
#ifndef STALLTRAP_CAPTURE_H
#define STALLTRAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/capture_abi.h"

/* How off-CPU blocks are closed and their stacks taken, cheapest first. */
enum capture_path {
	CAPTURE_PATH_SCHED_EXIT_TP = 0, /* raw_tp sched_exit_tp: switch-in capture (6.x) */
	CAPTURE_PATH_FENTRY_FTS,        /* fentry on finish_task_switch: switch-in capture */
	CAPTURE_PATH_KPROBE_FTS,        /* kprobe on finish_task_switch: switch-in capture */
	CAPTURE_PATH_NONE,              /* no switch-in hook: unsupported kernel */
};

struct capture_features {
	bool sched_exit_tp;     /* btf_trace_sched_exit_tp is in vmlinux BTF */
	bool fentry;            /* tracing programs with trampolines attach */
	bool kprobe;            /* kprobes attach */
	bool prev_state_arg;    /* sched_switch passes prev_state (5.18+) */
	bool task_pt_regs;      /* bpf_task_pt_regs helper (5.15+) */
	bool task_iter;         /* iter/task programs (5.8+) */
};

/* Pure: the path for a set of features. Unit-tested for every combination. */
enum capture_path capture_select_path(const struct capture_features *f);
const char *capture_path_name(enum capture_path p);

struct capture_opts {
	uint64_t min_block_ns;
	uint32_t max_ustack;      /* bytes of user stack copied per block */
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

struct capture_cbs {
	void *arg;
	/* ST_EV_BLOCK, _HOLD, _WAKER and _SAMPLE records (ev->hdr.type says which).
	 * kips has ev->nkips kernel ips, leaf first; ustack has ev->ustack_len bytes. */
	int (*on_block)(void *arg, const struct st_block_event *ev, const uint64_t *kips,
			const uint8_t *ustack);
	int (*on_thread)(void *arg, const struct st_thread_event *ev);
	int (*on_proc)(void *arg, const struct st_proc_event *ev);
};

struct capture;

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
