/* capture.c: probes the kernel, loads and drives the offcpu BPF programs, hands out their records as capture.h's plain structs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "util/timeutil.h"
#include "capture/capture.h"
#include "capture/capture_abi.h"
#include "capture/cpu_clock.h"
#include "offcpu.skel.h"

#define DEFAULT_RINGBUF_KB (8 * 1024)   /* ~1,000 full records; drained every 100 ms */

struct capture {
	struct offcpu_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[16];
	int nlinks;
	struct bpf_link *iter_link;
	uint64_t *target_bits;  /* the targets bitmap, mmapped */
	struct bpf_link *iter_user_link;  /* sleepable flush that also reads user stacks */
	struct bpf_link *sample_links[256];
	int sample_fds[256];
	int nsamples;           /* sampling links attached now */
	int sampling_cpus;      /* CPUs sampled during the capture */
	uint64_t sample_period_ns;
	uint64_t attached_ns;   /* CLOCK_MONOTONIC once every program was attached */
	int stats_fd;           /* keeps kernel BPF run-time stats on while open */
	int sysctl_fd;          /* /proc/sys/kernel/bpf_stats_enabled, kept open for pread; -1: not open */
	enum capture_path path;
	uint32_t sample_hz;
	struct capture_features feat;
	struct capture_feature features[CAPTURE_NFEATURES];
	struct capture_cbs cbs;
	bool started, stopped;
	int cb_err;             /* first error returned by a callback */
	uint64_t bad_records;   /* records of unknown type or size (never expected) */
	uint64_t records;       /* records handled (blocks, holds, wakers, samples, ...) */
	uint64_t flush_timeouts;/* the user-stack flush missed its deadline */
};

int capture_select_paths(const struct capture_features *f, enum capture_path out[CAPTURE_PATH_NONE])
{
	int n = 0;

	/* every path keeps per-thread state in task storage and reads the
	 * resumed thread's user registers with bpf_task_pt_regs */
	if (!f->task_pt_regs || !f->task_storage)
		return 0;
	if (f->sched_exit_tp)
		out[n++] = CAPTURE_PATH_SCHED_EXIT_TP;
	if (f->fentry)
		out[n++] = CAPTURE_PATH_FENTRY_FTS;
	if (f->kprobe)
		out[n++] = CAPTURE_PATH_KPROBE_FTS;
	return n;
}

enum capture_path capture_select_path(const struct capture_features *f)
{
	enum capture_path p[CAPTURE_PATH_NONE];

	return capture_select_paths(f, p) ? p[0] : CAPTURE_PATH_NONE;
}

const char *capture_path_name(enum capture_path p)
{
	switch (p) {
	case CAPTURE_PATH_SCHED_EXIT_TP: return "sched_exit_tp";
	case CAPTURE_PATH_FENTRY_FTS: return "fentry_finish_task_switch";
	case CAPTURE_PATH_KPROBE_FTS: return "kprobe_finish_task_switch";
	case CAPTURE_PATH_NONE: break;
	}
	return "none";
}

/* Number of parameters of a BTF func proto behind typedef name, or -1. */
static int btf_typedef_params(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);

	if (id < 0)
		return -1;
	t = btf__type_by_id(btf, id);
	t = btf__type_by_id(btf, t->type);          /* pointer */
	if (!t || !btf_is_ptr(t))
		return -1;
	t = btf__type_by_id(btf, t->type);          /* func proto */
	if (!t || !btf_is_func_proto(t))
		return -1;
	return btf_vlen(t);
}

/* finish_task_switch's name in kallsyms: itself, or a compiler clone
 * (finish_task_switch.isra.0 on Debian's 6.1), which a kprobe can name but
 * fentry cannot (no BTF). */
static bool kallsyms_fts(char *found, size_t foundlen)
{
	static const char name[] = "finish_task_switch";
	char line[512], sym[256];
	unsigned long long addr;
	char type;
	bool ok = false;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) != 3 || (type != 't' && type != 'T'))
			continue;
		if (strncmp(sym, name, sizeof(name) - 1) == 0 &&
		    (sym[sizeof(name) - 1] == '\0' || sym[sizeof(name) - 1] == '.')) {
			ok = strlen(sym) < foundlen;
			if (ok)
				memcpy(found, sym, strlen(sym) + 1);
			break;
		}
	}
	fclose(f);
	return ok;
}

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf__find_by_name_kind(btf, name, kind) > 0;
}

void capture_features_from_btf(const struct btf *btf, bool kprobe_pmu, const char *fts_symbol,
			       struct capture_features *f)
{
	int n;

	memset(f, 0, sizeof(*f));
	if (!btf)
		return;
	f->sched_exit_tp = btf_typedef_params(btf, "btf_trace_sched_exit_tp") >= 1;
	/* void *ctx, bool preempt, prev, next, unsigned int prev_state */
	f->prev_state_arg = btf_typedef_params(btf, "btf_trace_sched_switch") >= 5;
	f->task_pt_regs = btf_has(btf, "btf_bpf_task_pt_regs", BTF_KIND_TYPEDEF);
	f->task_iter = btf_has(btf, "bpf_iter__task", BTF_KIND_STRUCT);
	f->task_storage = btf_has(btf, "btf_bpf_task_storage_get", BTF_KIND_TYPEDEF);
	f->bpf_loop = btf_has(btf, "btf_bpf_loop", BTF_KIND_TYPEDEF);
	f->copy_from_user_task = btf_has(btf, "btf_bpf_copy_from_user_task", BTF_KIND_TYPEDEF);
	/* void *ctx, void *lock, unsigned int flags */
	f->lock_contention = btf_typedef_params(btf, "btf_trace_contention_begin") >= 3;
	/* void *ctx, mm, [const char *memcg_path,] bool write, bool success */
	n = btf_typedef_params(btf, "btf_trace_mmap_lock_acquire_returned");
	f->mmap_lock_args = n == 4 || n == 5 ? n - 1 : 0;
	/* fentry names its target by BTF: a clone without BTF cannot be one */
	f->fentry = btf_has(btf, "finish_task_switch", BTF_KIND_FUNC);
	if (kprobe_pmu && fts_symbol && fts_symbol[0] && strlen(fts_symbol) < sizeof(f->fts_symbol)) {
		f->kprobe = true;
		memcpy(f->fts_symbol, fts_symbol, strlen(fts_symbol) + 1);
	}
}

static void probe_features(struct capture_features *f)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char sym[sizeof(f->fts_symbol)] = "";
	bool pmu = access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0;

	if (pmu)
		kallsyms_fts(sym, sizeof(sym));
	capture_features_from_btf(btf, pmu, sym, f);
	btf__free(btf);
}

/* Which program libbpf last said it could not load, and why: libbpf stops
 * at the first program the kernel refuses, and says so (with the verifier's
 * log) only through its print callback. Per thread: watch loads the next
 * generation while the last one runs. */
static __thread char fail_prog[64], fail_reason[160];

static void note_failure(const char *msg)
{
	const char *p = strstr(msg, "prog '"), *q, *log, *line, *end;
	char name[64];

	if (!p)
		return;
	p += 6;
	q = strchr(p, '\'');
	if (!q || q - p >= (long)sizeof(name))
		return;
	snprintf(name, sizeof(name), "%.*s", (int)(q - p), p);
	if (strcmp(name, fail_prog)) {
		snprintf(fail_prog, sizeof(fail_prog), "%s", name);
		fail_reason[0] = '\0';
	}
	log = strstr(q, "-- BEGIN PROG LOAD LOG --");
	if (!log) {
		/* "prog 'x': failed to find kernel BTF type ID of 'y': -3" */
		if (!fail_reason[0] && q[1] == ':')
			snprintf(fail_reason, sizeof(fail_reason), "%s", q + 3);
	} else {
		/* the verifier's verdict: the log's last line before its statistics */
		end = strstr(log, "-- END PROG LOAD LOG --");
		for (line = strchr(log, '\n'); line && (!end || line < end); line = strchr(line + 1, '\n')) {
			const char *l = line + 1, *nl = strchr(l, '\n');

			if (!nl || (end && l >= end) || nl == l || !strncmp(l, "processed ", 10) ||
			    !strncmp(l, "verification time", 17) || !strncmp(l, "stack depth", 11))
				continue;
			snprintf(fail_reason, sizeof(fail_reason), "%.*s", (int)(nl - l), l);
		}
	}
	fail_reason[strcspn(fail_reason, "\n")] = '\0';
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		char *msg = NULL;
		va_list cp;

		va_copy(cp, ap);
		if (vasprintf(&msg, fmt, cp) >= 0) {
			note_failure(msg);
			free(msg);
		}
		va_end(cp);
	}
	if (level != LIBBPF_INFO && getenv("STALLTRAP_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* The facade's plain types mirror the ABI's values: flags are copied as
 * they are, states and sizes need no table. */
_Static_assert(CAPTURE_F_IN_PROGRESS == ST_BF_IN_PROGRESS && CAPTURE_F_BEGAN_BEFORE == ST_BF_BEGAN_BEFORE &&
	       CAPTURE_F_KSTACK_NONE == ST_BF_KSTACK_NONE && CAPTURE_F_USTACK_LOCKED == ST_BF_USTACK_LOCKED &&
	       CAPTURE_F_USTACK_NONE == ST_BF_USTACK_NONE && CAPTURE_F_USTACK_FAULT == ST_BF_USTACK_FAULT &&
	       CAPTURE_F_WOKEN_IRQ == ST_BF_WOKEN_IRQ,
	       "CAPTURE_F_* and ST_BF_* differ");
#define CAPTURE_F_ALL (CAPTURE_F_IN_PROGRESS | CAPTURE_F_BEGAN_BEFORE | CAPTURE_F_KSTACK_NONE | \
		       CAPTURE_F_USTACK_LOCKED | CAPTURE_F_USTACK_NONE | CAPTURE_F_USTACK_FAULT | \
		       CAPTURE_F_WOKEN_IRQ)
_Static_assert((int)CAPTURE_STATE_SLEEPING == (int)ST_STATE_SLEEPING &&
	       (int)CAPTURE_STATE_UNINTERRUPTIBLE == (int)ST_STATE_UNINTERRUPTIBLE &&
	       (int)CAPTURE_STATE_RUNNABLE == (int)ST_STATE_RUNNABLE &&
	       (int)CAPTURE_STATE__COUNT == (int)ST_STATE__COUNT, "enum capture_state and enum st_state differ");
_Static_assert(CAPTURE_COMM_LEN == ST_COMM_LEN && CAPTURE_NREGS == ST_NREGS,
	       "CAPTURE_COMM_LEN or CAPTURE_NREGS differ from the ABI's");

static const enum capture_rec_kind rec_kinds[] = {
	[ST_EV_BLOCK] = CAPTURE_REC_BLOCK, [ST_EV_HOLD] = CAPTURE_REC_HOLD,
	[ST_EV_WAKER] = CAPTURE_REC_WAKER, [ST_EV_SAMPLE] = CAPTURE_REC_SAMPLE,
};

static void copy_comm(char *dst, const char *src)
{
	memcpy(dst, src, CAPTURE_COMM_LEN);
	dst[CAPTURE_COMM_LEN] = '\0';
}

/* A block-layout record (ST_EV_BLOCK, _HOLD, _WAKER, _SAMPLE), its bounds checked. */
static void block_record(const struct st_block_event *ev, const uint64_t *kips, const uint8_t *ustack,
			 struct capture_record *r)
{
	r->kind = rec_kinds[ev->hdr.type];
	r->flags = ev->flags & CAPTURE_F_ALL;
	r->pid = (int32_t)ev->pid;
	r->tid = (int32_t)ev->tid;
	copy_comm(r->comm, ev->comm);
	r->start_ns = ev->start_ns;
	r->dur_ns = ev->dur_ns;
	r->state = (enum capture_state)ev->state;
	r->syscall = ev->syscall;
	memcpy(r->args, ev->args, sizeof(r->args));
	r->wait_kind = ev->wait_kind == ST_WAIT_MMAP_LOCK ? CAPTURE_WAIT_MMAP_LOCK :
		       ev->wait_kind == ST_WAIT_KERNEL_LOCK ? CAPTURE_WAIT_KERNEL_LOCK : CAPTURE_WAIT_NONE;
	r->wait_obj = ev->hdr.type == ST_EV_SAMPLE ? 0 : ev->wait_obj;
	r->nvcsw = ev->hdr.type == ST_EV_SAMPLE ? ev->wait_obj : 0;
	r->lock_flags = ev->lock_flags;
	r->hold_mode = ev->aux == ST_HOLD_WRITE ? CAPTURE_HOLD_WRITE :
		       ev->aux == ST_HOLD_DOWNGRADED ? CAPTURE_HOLD_DOWNGRADED : CAPTURE_HOLD_READ;
	r->hold_mm_pid = (int32_t)ev->aux_pid;
	r->waker_seq = ev->waker_seq;
	r->woken_ns = ev->hdr.type == ST_EV_BLOCK ? ev->woken_ns : 0;
	r->taker_tid = ev->hdr.type == ST_EV_BLOCK ? (int32_t)ev->taker_tid : 0;
	r->taker_pid = r->taker_tid ? (int32_t)ev->taker_pid : 0;
	r->taker_samples = r->taker_tid ? ev->taker_samples : 0;
	if (r->taker_tid)
		copy_comm(r->taker_comm, ev->taker_comm);
	else
		r->taker_comm[0] = '\0';
	r->regs = (const uint64_t *)ev->regs;   /* __u64 is unsigned long long */
	r->kips = kips;
	r->nkips = ev->nkips;
	r->ustack = ustack;
	r->ustack_len = ev->ustack_len;
}

static void thread_record(const struct st_thread_event *ev, struct capture_thread *t)
{
	t->pid = (int32_t)ev->pid;
	t->tid = (int32_t)ev->tid;
	copy_comm(t->comm, ev->comm);
	t->is_target = ev->is_target != 0;
	t->below_ns = ev->below_ns;
	t->below_count = ev->below_count;
	t->io_bytes = ev->io_bytes;
	t->io_count = ev->io_count;
	t->holds = ev->holds;
	t->hold_ns = ev->hold_ns;
	t->hold_read_ns = ev->hold_read_ns;
	t->hold_write_ns = ev->hold_write_ns;
	t->hold_mm_pid = (int32_t)ev->hold_mm_pid;
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct st_event_hdr *h = data;
	int err = 0;

	if (size < sizeof(*h) || h->size > size) {
		c->bad_records++;
		return 0;
	}
	c->records++;
	switch (h->type) {
	case ST_EV_BLOCK:
	case ST_EV_HOLD:
	case ST_EV_WAKER:
	case ST_EV_SAMPLE: {
		const struct st_block_event *ev = data;
		const uint8_t *p = (const uint8_t *)(ev + 1);
		struct capture_record rec;

		if (size < sizeof(*ev)) {
			c->bad_records++;
			return 0;
		}
		if (ev->nkips > ST_KSTACK_DEPTH ||
		    sizeof(*ev) + ev->nkips * sizeof(uint64_t) + ev->ustack_len > size) {
			c->bad_records++;
			return 0;
		}
		if (c->cbs.on_record) {
			block_record(ev, (const uint64_t *)p, p + ev->nkips * sizeof(uint64_t), &rec);
			err = c->cbs.on_record(c->cbs.arg, &rec);
		}
		break;
	}
	case ST_EV_THREAD: {
		struct capture_thread t;

		if (size < sizeof(struct st_thread_event)) {
			c->bad_records++;
			return 0;
		}
		if (c->cbs.on_thread) {
			thread_record(data, &t);
			err = c->cbs.on_thread(c->cbs.arg, &t);
		}
		break;
	}
	case ST_EV_PROC_NEW:
	case ST_EV_PROC_EXEC:
	case ST_EV_PROC_EXIT: {
		const struct st_proc_event *ev = data;
		struct capture_proc pr;

		if (size < sizeof(*ev)) {
			c->bad_records++;
			return 0;
		}
		if (c->cbs.on_proc) {
			pr.kind = h->type == ST_EV_PROC_NEW ? CAPTURE_PROC_NEW :
				  h->type == ST_EV_PROC_EXEC ? CAPTURE_PROC_EXEC : CAPTURE_PROC_EXIT;
			pr.pid = (int32_t)ev->pid;
			pr.ppid = (int32_t)ev->ppid;
			copy_comm(pr.comm, ev->comm);
			err = c->cbs.on_proc(c->cbs.arg, &pr);
		}
		break;
	}
	default:
		c->bad_records++;
	}
	if (err && !c->cb_err)
		c->cb_err = err;
	return 0;
}

/* The optional parts (struct capture_feature), in capture->features. */
enum {
	FEAT_WAKERS, FEAT_KERNEL_LOCKS, FEAT_MMAP_LOCK, FEAT_BLOCK_IO, FEAT_SAMPLES,
	FEAT_SEED_FLUSH, FEAT_END_USTACKS, FEAT_KSTACK_CACHE, FEAT_ONE_SWITCH_HOOK,
};
static const char *const feature_names[CAPTURE_NFEATURES] = {
	[FEAT_WAKERS] = "wakers",                 /* who woke a long block */
	[FEAT_KERNEL_LOCKS] = "kernel_locks",     /* which kernel lock a block waited on */
	[FEAT_MMAP_LOCK] = "mmap_lock_holders",   /* who held a target's mmap_lock, how long */
	[FEAT_BLOCK_IO] = "block_io",             /* I/O each thread submitted */
	[FEAT_SAMPLES] = "on_cpu_samples",        /* busy threads and busy holders */
	[FEAT_SEED_FLUSH] = "in_progress_blocks", /* blocks already in progress at the start, still at the end */
	[FEAT_END_USTACKS] = "in_progress_user_stacks", /* their user stacks at the end */
	[FEAT_KSTACK_CACHE] = "kstack_cache",     /* kernel stacks reused when verified the same */
	/* both ends of a switch in the switch-in's program, no sched_switch one */
	[FEAT_ONE_SWITCH_HOOK] = "one_switch_hook",
};

_Static_assert(CAPTURE_NFEATURES == FEAT_ONE_SWITCH_HOOK + 1, "CAPTURE_NFEATURES");

/* Turns a feature off, keeping the first reason. */
static void set_off(struct capture_feature *f, const char *reason)
{
	if (!f->on)
		return;
	f->on = false;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void feature_off(struct capture *c, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void feature_off(struct capture *c, int i, const char *fmt, ...)
{
	char why[sizeof(c->features[i].reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	set_off(&c->features[i], why);
}

void capture_plan_features(const struct capture_features *f, bool no_locks,
			   struct capture_feature out[CAPTURE_NFEATURES])
{
	int i;

	for (i = 0; i < CAPTURE_NFEATURES; i++) {
		out[i].name = feature_names[i];
		out[i].on = true;
		out[i].reason[0] = '\0';
	}
	if (no_locks)
		for (i = FEAT_WAKERS; i <= FEAT_SAMPLES; i++)
			set_off(&out[i], "--no-locks");
	if (!f->lock_contention)
		set_off(&out[FEAT_KERNEL_LOCKS], "no lock:contention_begin tracepoint (5.19+)");
	if (!f->mmap_lock_args)
		set_off(&out[FEAT_MMAP_LOCK], "no mmap_lock tracepoints of a known layout");
	if (!f->task_iter) {
		set_off(&out[FEAT_SEED_FLUSH], "no task iterator (5.8+)");
		set_off(&out[FEAT_END_USTACKS], "no task iterator (5.8+)");
	}
	if (!f->copy_from_user_task)
		set_off(&out[FEAT_END_USTACKS], "no bpf_copy_from_user_task (5.18+)");
	if (!f->bpf_loop)
		set_off(&out[FEAT_KSTACK_CACHE], "no bpf_loop (5.17+)");
	if (!f->sched_exit_tp)
		set_off(&out[FEAT_ONE_SWITCH_HOOK], "no sched_exit_tp tracepoint");
	else if (!f->bpf_loop)
		set_off(&out[FEAT_ONE_SWITCH_HOOK], "no bpf_loop (5.17+)");
}

const struct capture_feature *capture_get_features(const struct capture *c)
{
	return c->features;
}

/* The programs of each path and feature; the rest are always needed. */
static struct bpf_program *path_prog(struct offcpu_bpf *skel, enum capture_path path)
{
	switch (path) {
	case CAPTURE_PATH_SCHED_EXIT_TP: return skel->progs.handle_exit_tp;
	case CAPTURE_PATH_FENTRY_FTS: return skel->progs.handle_fts_fentry;
	case CAPTURE_PATH_KPROBE_FTS: return skel->progs.handle_fts_kprobe;
	case CAPTURE_PATH_NONE: break;
	}
	return NULL;
}

/* /proc/sys/kernel/pid_max, or ULONG_MAX when it cannot be read */
static unsigned long pid_max(void)
{
	unsigned long max = ULONG_MAX;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = ULONG_MAX;
		fclose(f);
	}
	return max;
}

/* The hot map's slots (offcpu.bpf.c): one per possible thread id (pids:
 * pid_max()) when the map's cap allows (then no two live threads share
 * one), a power of two. STALLTRAP_HOT_SLOTS=N (tests): N at most, so that
 * threads share slots and the ones left out keep their state in task
 * storage. */
static __u32 hot_slots(unsigned long pids)
{
	const char *env = getenv("STALLTRAP_HOT_SLOTS");
	__u32 slots = 1024;

	if (env) {
		unsigned long want = strtoul(env, NULL, 10);

		for (slots = 1; slots * 2 <= want && slots < ST_HOT_SLOTS_MAX; slots <<= 1)
			;
		return slots;
	}
	while (slots < pids && slots < ST_HOT_SLOTS_MAX)
		slots <<= 1;
	return slots;
}

/* The program of the switch-in (and, with the one switch hook, of the
 * switch-out too). */
static struct bpf_program *in_prog(const struct capture *c, struct offcpu_bpf *skel, enum capture_path path)
{
	if (path == CAPTURE_PATH_SCHED_EXIT_TP && c->features[FEAT_ONE_SWITCH_HOOK].on)
		return skel->progs.handle_exit_tp_one;
	return path_prog(skel, path);
}

/* The feature a program serves, or -1 (needed by every capture). */
static int prog_feature(struct offcpu_bpf *skel, const struct bpf_program *p)
{
	const struct { struct bpf_program *p; int feat; } map[] = {
		{ skel->progs.handle_waking, FEAT_WAKERS },
		{ skel->progs.handle_contention_begin, FEAT_KERNEL_LOCKS },
		{ skel->progs.handle_contention_end, FEAT_KERNEL_LOCKS },
		{ skel->progs.handle_mmap_acquired, FEAT_MMAP_LOCK },
		{ skel->progs.handle_mmap_acquired_memcg, FEAT_MMAP_LOCK },
		{ skel->progs.handle_mmap_released, FEAT_MMAP_LOCK },
		{ skel->progs.handle_bio_queue, FEAT_BLOCK_IO },
		{ skel->progs.handle_sample, FEAT_SAMPLES },
		{ skel->progs.iter_tasks, FEAT_SEED_FLUSH },
		{ skel->progs.iter_flush_user, FEAT_END_USTACKS },
		{ skel->progs.handle_exit_tp_one, FEAT_ONE_SWITCH_HOOK },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].p == p)
			return map[i].feat;
	return -1;
}

/* One load: the path's switch-in program, the programs every capture needs,
 * and those of the features still on. */
static int load_once(struct capture *c, const struct capture_opts *o, enum capture_path path,
		     struct offcpu_bpf **out, char *err, size_t errlen)
{
	struct offcpu_bpf *skel;
	struct bpf_program *p;
	int ret;

	*out = NULL;
	skel = offcpu_bpf__open();
	if (!skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->min_block_ns = o->min_block_ns;
	_Static_assert(CAPTURE_USTACK_MAX == ST_USTACK_MAX, "capture.h and capture_abi.h agree");
	skel->rodata->max_ustack = o->max_ustack ? o->max_ustack : CAPTURE_USTACK_DEFAULT;
	skel->rodata->self_tgid = (__u32)getpid();
	skel->rodata->has_prev_state_arg = c->feat.prev_state_arg;
	skel->rodata->follow_forks = o->follow_forks;
	/* STALLTRAP_KSTACK_CHECK=N: verify every Nth kernel stack cache hit by a
	 * walk (1: every one, for tests); 0 turns the cache off (for benchmarks) */
	skel->rodata->kstack_cache = c->features[FEAT_KSTACK_CACHE].on;
	if (getenv("STALLTRAP_KSTACK_CHECK")) {
		long every = strtol(getenv("STALLTRAP_KSTACK_CHECK"), NULL, 10);

		skel->rodata->kc_check_every = every > 0 ? (__u32)every : 1;
	}
	skel->rodata->hold_min_ns = o->hold_min_ns ? o->hold_min_ns : 1000000;
	skel->rodata->waker_min_ns = o->min_block_ns > 1000000 ? o->min_block_ns : 1000000;
	skel->rodata->wakers_traced = c->features[FEAT_WAKERS].on;
	if (o->name)
		strncpy((char *)skel->rodata->targ_comm, o->name, ST_COMM_LEN - 1);
	bpf_map__set_max_entries(skel->maps.events,
				 (o->ringbuf_kb ? o->ringbuf_kb : DEFAULT_RINGBUF_KB) * 1024);
	{
		unsigned long pids = pid_max();
		__u32 slots = hot_slots(pids);

		bpf_map__set_max_entries(skel->maps.hot, slots);
		skel->rodata->hot_mask = slots - 1;
		/* the one switch hook (handle_exit_tp_one) finds a switched-out
		 * thread by its slot: every possible thread id needs its own */
		if (pids > slots)
			feature_off(c, FEAT_ONE_SWITCH_HOOK, "pid_max is above the hot map's %u slots", slots);
	}
	if (path != CAPTURE_PATH_SCHED_EXIT_TP)
		feature_off(c, FEAT_ONE_SWITCH_HOOK, "the %s path", capture_path_name(path));
	skel->rodata->one_switch_hook = c->features[FEAT_ONE_SWITCH_HOOK].on;
	bpf_object__for_each_program(p, skel->obj) {
		int feat = prog_feature(skel, p);
		bool load = feat >= 0 ? c->features[feat].on : true;

		if (p == skel->progs.handle_exit_tp || p == skel->progs.handle_fts_fentry ||
		    p == skel->progs.handle_fts_kprobe || p == skel->progs.handle_exit_tp_one)
			load = p == in_prog(c, skel, path);
		if (p == skel->progs.handle_switch)
			load = !c->features[FEAT_ONE_SWITCH_HOOK].on;
		/* the mmap_lock layout BTF describes: with memcg_path (6.1) or without */
		if (p == skel->progs.handle_mmap_acquired)
			load = load && c->feat.mmap_lock_args == 3;
		if (p == skel->progs.handle_mmap_acquired_memcg)
			load = load && c->feat.mmap_lock_args == 4;
		bpf_program__set_autoload(p, load);
	}
	fail_prog[0] = fail_reason[0] = '\0';
	ret = offcpu_bpf__load(skel);
	if (ret) {
		offcpu_bpf__destroy(skel);
		return ret;
	}
	*out = skel;
	return 0;
}

/* Loads with one path: a program of an optional feature that the kernel
 * refuses leaves out that feature alone (counted and said why), and the
 * load is tried again. Returns 0; 1 when the path's own program was
 * refused (the next path may do); or a negative errno, err saying which
 * program and what to try. */
static int load_with_path(struct capture *c, const struct capture_opts *o, enum capture_path path,
			  char *err, size_t errlen)
{
	for (int attempt = 0; attempt <= CAPTURE_NFEATURES; attempt++) {
		struct offcpu_bpf *skel, *names;
		struct bpf_program *p;
		char prog[sizeof(fail_prog)], reason[sizeof(fail_reason)];
		int ret, feat;

		ret = load_once(c, o, path, &skel, err, errlen);
		if (!ret) {
			c->skel = skel;
			c->path = path;
			return 0;
		}
		snprintf(prog, sizeof(prog), "%s", fail_prog);
		snprintf(reason, sizeof(reason), "%s", fail_reason[0] ? fail_reason : strerror(-ret));
		/* which program that was: by name, in a fresh skeleton */
		names = offcpu_bpf__open();
		p = names && prog[0] ? bpf_object__find_program_by_name(names->obj, prog) : NULL;
		feat = p ? prog_feature(names, p) : -1;
		if (p && p == path_prog(names, path)) {
			snprintf(err, errlen, "the kernel refused %s (%s path): %s", prog,
				 capture_path_name(path), reason);
			offcpu_bpf__destroy(names);
			return 1;
		}
		offcpu_bpf__destroy(names);
		if (feat >= 0 && c->features[feat].on) {
			feature_off(c, feat, "the kernel refused %s: %s", prog, reason);
			continue;
		}
		if (prog[0])
			snprintf(err, errlen, "cannot load the BPF programs: the kernel refused %s (%s path): %s; "
				 "STALLTRAP_BPF_DEBUG=1 shows libbpf's log (docs/capture.md: kernels)",
				 prog, capture_path_name(path), reason);
		else
			snprintf(err, errlen, "cannot load the BPF programs (%s path): %s; "
				 "STALLTRAP_BPF_DEBUG=1 shows libbpf's log (docs/capture.md: kernels)",
				 capture_path_name(path), strerror(-ret));
		return ret;
	}
	snprintf(err, errlen, "cannot load the BPF programs (%s path): too many refused", capture_path_name(path));
	return -EINVAL;
}

int capture_prepare(struct capture **out, const struct capture_opts *o,
		    const struct capture_cbs *cbs, char *err, size_t errlen)
{
	struct capture *c;
	enum capture_path paths[CAPTURE_PATH_NONE];
	char why[512] = "";
	int ret = -EOPNOTSUPP, npaths, i;

	*out = NULL;
	libbpf_set_print(libbpf_quiet);
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen, "no BTF: /sys/kernel/btf/vmlinux is missing (needs CONFIG_DEBUG_INFO_BTF=y)");
		return -ENOENT;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->stats_fd = -1;
	c->sysctl_fd = -1;
	c->cbs = *cbs;
	c->sample_hz = o->sample_hz ? o->sample_hz : 49;
	probe_features(&c->feat);
	capture_plan_features(&c->feat, o->no_locks, c->features);
	if (getenv("STALLTRAP_KSTACK_CHECK") && strtol(getenv("STALLTRAP_KSTACK_CHECK"), NULL, 10) <= 0)
		feature_off(c, FEAT_KSTACK_CACHE, "STALLTRAP_KSTACK_CHECK=0");
	/* STALLTRAP_SWITCH_HOOKS=2: a sched_switch program for the switch-out
	 * (for benchmarks and tests, against the one hook); 1 or empty: the
	 * default */
	{
		const char *hooks = getenv("STALLTRAP_SWITCH_HOOKS");

		if (hooks && *hooks && strcmp(hooks, "1") && strcmp(hooks, "2")) {
			snprintf(err, errlen, "STALLTRAP_SWITCH_HOOKS=%.32s: expected 1 or 2", hooks);
			ret = -EINVAL;
			goto cleanup;
		}
		if (hooks && !strcmp(hooks, "2"))
			feature_off(c, FEAT_ONE_SWITCH_HOOK, "STALLTRAP_SWITCH_HOOKS=2");
	}
	if (o->force_path != CAPTURE_PATH_NONE) {
		paths[0] = o->force_path;
		npaths = 1;
	} else {
		npaths = capture_select_paths(&c->feat, paths);
	}
	if (!npaths) {
		snprintf(err, errlen, "unsupported kernel: no sched_exit_tp, fentry or kprobe on finish_task_switch, "
			 "or no bpf_task_pt_regs or task storage (needs 5.15+; docs/capture.md: kernels)");
		goto cleanup;
	}
	/* try each path in order; a path whose switch-in program is refused
	 * falls through to the next, and the error names every refusal */
	for (i = 0; i < npaths; i++) {
		ret = load_with_path(c, o, paths[i], err, errlen);
		if (ret <= 0)
			break;
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s", why[0] ? "; " : "", err);
		ret = -EINVAL;
	}
	if (ret > 0 || (ret && why[0] && i == npaths))
		snprintf(err, errlen, "cannot load the BPF programs: %s; STALLTRAP_BPF_DEBUG=1 shows libbpf's log "
			 "(docs/capture.md: kernels)", why);
	if (ret)
		goto cleanup;
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), handle_record, c, NULL);
	if (!c->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	/* Kernel BPF run-time stats cost two clock reads per program run, so they
	 * are on only when asked for (or when the sysctl already has them on). */
	if (o->bpf_stats)
		c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	*out = c;
	return 0;
cleanup:
	capture_finish(c);
	return ret;
}

static int read_iter(struct capture *c, uint32_t phase);
static void seed_targets(struct capture *c);

int capture_add_target(struct capture *c, pid_t pid)
{
	if (pid <= 0 || (uint32_t)pid >= ST_PID_MAX_LIMIT)
		return -EINVAL;
	if (!c->target_bits) {
		void *m = mmap(NULL, ST_TARGET_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			       MAP_SHARED, bpf_map__fd(c->skel->maps.targets), 0);

		if (m == MAP_FAILED)
			return -errno;
		c->target_bits = m;
	}
	/* atomic: BPF sets and clears bits of the same words on fork, exec and exit */
	__atomic_fetch_or(&c->target_bits[pid / 64], 1ull << (pid & 63), __ATOMIC_SEQ_CST);
	/* a process that joins mid-capture may already be blocked: seed it too */
	if (c->started && !c->stopped)
		seed_targets(c);
	return 0;
}

static int read_iter_link(struct bpf_link *link)
{
	char buf[256];
	int fd, n;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -errno : 0;
}

static int read_iter(struct capture *c, uint32_t phase)
{
	if (!c->iter_link)
		return -EOPNOTSUPP;
	c->skel->bss->iter_phase = phase;
	return read_iter_link(c->iter_link);
}

/* The seed, again while some target thread got no task storage. Creating it
 * can fail for a moment: the seed creates one after another, and the
 * likely cause is the allocator's per-CPU cache, which an irq_work refills
 * after the fact, found empty (seen in ~1 of 4 runs of test_faults_load
 * right after test_faults_disk: one thread's, its block in progress then
 * lost). A pass skips the threads seeded before; those still without
 * storage after the last pass are lost (task_storage_full). */
#define SEED_PASSES 4
static void seed_targets(struct capture *c)
{
	uint64_t missed = 0;
	int pass;

	for (pass = 0; pass < SEED_PASSES; pass++) {
		__atomic_store_n(&c->skel->bss->seed_missed, 0, __ATOMIC_SEQ_CST);
		if (read_iter(c, ST_ITER_SEED))
			return;
		missed = __atomic_load_n(&c->skel->bss->seed_missed, __ATOMIC_SEQ_CST);
		if (!missed)
			return;
		usleep(1000);	/* the failures seen were over by the next pass */
	}
	__atomic_fetch_add(&c->skel->bss->drops.task_storage_full, missed, __ATOMIC_SEQ_CST);
}

/* The sleepable flush can block on a target's mmap_lock despite its checks
 * (a writer can arrive between check and read): run it on a helper thread and
 * give up after a deadline. A thread left behind ends with the process. */
struct flush_job {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct bpf_link *link;
	bool done, abandoned;
	int ret;
};

static void *flush_main(void *arg)
{
	struct flush_job *j = arg;
	int ret = read_iter_link(j->link);
	bool abandoned;

	pthread_mutex_lock(&j->lock);
	j->ret = ret;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->lock);
	if (abandoned)
		free(j);
	return NULL;
}

static int flush_with_deadline(struct capture *c, int timeout_ms)
{
	struct flush_job *j = calloc(1, sizeof(*j));
	struct timespec until;
	pthread_t th;
	int ret;

	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->link = c->iter_user_link;
	if (pthread_create(&th, NULL, flush_main, j)) {
		free(j);
		return -EAGAIN;
	}
	pthread_detach(th);
	deadline_after_ms(&until, timeout_ms);
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cv, &j->lock, &until) != ETIMEDOUT)
		;
	if (!j->done) {
		j->abandoned = true;
		pthread_mutex_unlock(&j->lock);
		c->flush_timeouts++;
		return -ETIMEDOUT;
	}
	ret = j->ret;
	pthread_mutex_unlock(&j->lock);
	free(j);
	return ret;
}

static int attach(struct capture *c, struct bpf_program *p, char *err, size_t errlen)
{
	struct bpf_link *l = bpf_program__attach(p);

	if (!l) {
		int e = -errno;

		snprintf(err, errlen, "cannot attach %s: %s", bpf_program__name(p), strerror(-e));
		return e;
	}
	c->links[c->nlinks++] = l;
	return 0;
}

/* One software CPU-clock event per CPU, at sample_hz; best effort (a CPU
 * that refuses is skipped, and the period says what was asked). */
static void attach_sampling(struct capture *c)
{
	c->nsamples = cpu_clock_attach(c->skel->progs.handle_sample, c->sample_hz, c->sample_fds, c->sample_links,
				       (int)(sizeof(c->sample_fds) / sizeof(c->sample_fds[0])));
	c->sampling_cpus = c->nsamples;
	if (c->nsamples)
		c->sample_period_ns = 1000000000ull / c->sample_hz;
}

/* Every CPU's stamp.run to ST_RUN_UNKNOWN: no switch seen there yet. */
static int init_stamps(struct capture *c, char *err, size_t errlen)
{
	int ncpus = libbpf_num_possible_cpus();
	struct st_switch_stamp *v;
	__u32 zero = 0;
	int ret;

	if (ncpus <= 0) {
		snprintf(err, errlen, "cannot count the possible CPUs: %s", strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	v = calloc((size_t)ncpus, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ncpus; i++)
		v[i].run = ST_RUN_UNKNOWN;
	ret = bpf_map__update_elem(c->skel->maps.stamp, &zero, sizeof(zero), v, sizeof(*v) * (size_t)ncpus, 0);
	free(v);
	if (ret)
		snprintf(err, errlen, "cannot set up the per-CPU switch stamps: %s", strerror(-ret));
	return ret;
}

int capture_start(struct capture *c, char *err, size_t errlen)
{
	struct offcpu_bpf *s = c->skel;
	struct bpf_program *in = in_prog(c, s, c->path);
	bool one = in == s->progs.handle_exit_tp_one;
	int ret;

	if (!in)
		return -EINVAL;
	if (one && (ret = init_stamps(c, err, errlen)))
		return ret;
	/* The cause programs first: every block that the switch programs record
	 * then has its waker, lock and holds traced from its start (attached
	 * after them, each of the ~200 ms that attaching can take on a busy
	 * host left the blocks begun meanwhile without a waker). */
	{
		struct bpf_program *cause[] = {
			s->progs.handle_contention_begin, s->progs.handle_contention_end,
			s->progs.handle_mmap_acquired, s->progs.handle_mmap_acquired_memcg, s->progs.handle_mmap_released,
			s->progs.handle_bio_queue, s->progs.handle_waking,
		};
		char why[200];

		/* an optional program that does not attach leaves out its feature alone */
		for (size_t i = 0; i < sizeof(cause) / sizeof(cause[0]); i++)
			if (bpf_program__fd(cause[i]) >= 0 && attach(c, cause[i], why, sizeof(why)))
				feature_off(c, prog_feature(s, cause[i]), "%s", why);
		if (bpf_program__fd(s->progs.handle_sample) >= 0) {
			attach_sampling(c);
			if (!c->nsamples)
				feature_off(c, FEAT_SAMPLES, "no CPU accepted a CPU-clock perf event");
		}
	}
	/* then the targets' processes followed, then switch-in before switch-out:
	 * a block never starts unclosable */
	if ((ret = attach(c, s->progs.handle_fork, err, errlen)) ||
	    (ret = attach(c, s->progs.handle_exec, err, errlen)) ||
	    (ret = attach(c, s->progs.handle_exit, err, errlen)))
		return ret;
	if (c->path == CAPTURE_PATH_KPROBE_FTS) {
		/* by its kallsyms name: a compiler clone (.isra.0) is what runs */
		c->links[c->nlinks] = bpf_program__attach_kprobe(in, false, c->feat.fts_symbol);
		if (!c->links[c->nlinks]) {
			ret = -errno;
			snprintf(err, errlen, "cannot attach %s (kprobe on %s): %s", bpf_program__name(in),
				 c->feat.fts_symbol, strerror(-ret));
			return ret;
		}
		c->nlinks++;
	} else if ((ret = attach(c, in, err, errlen))) {
		return ret;
	}
	if (!one && (ret = attach(c, s->progs.handle_switch, err, errlen)))
		return ret;
	c->attached_ns = mono_ns();
	if (bpf_program__fd(s->progs.iter_flush_user) >= 0) {
		c->iter_user_link = bpf_program__attach_iter(s->progs.iter_flush_user, NULL);
		if (!c->iter_user_link)
			feature_off(c, FEAT_END_USTACKS, "cannot attach iter_flush_user: %s", strerror(errno));
	}
	if (bpf_program__fd(s->progs.iter_tasks) >= 0) {
		c->iter_link = bpf_program__attach_iter(s->progs.iter_tasks, NULL);
		/* without it, blocks already in progress at the start are not seen */
		if (c->iter_link)
			seed_targets(c);
		else
			feature_off(c, FEAT_SEED_FLUSH, "cannot attach iter_tasks: %s", strerror(errno));
	}
	c->started = true;
	return 0;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	if (n == -EINTR)
		n = 0;
	/* The BPF side wakes us only when the ring is half full (a wakeup per
	 * record costs more than the record); on a timeout, epoll reports
	 * nothing and libbpf consumes nothing, so consume here. */
	if (n >= 0) {
		int m = ring_buffer__consume(c->rb);

		n = m < 0 ? m : n + m;
	}
	if (c->cb_err)
		return c->cb_err;
	return n;
}

int capture_stop(struct capture *c)
{
	int i;

	if (!c->started || c->stopped)
		return 0;
	/* Detach before the flush, so that no block is emitted twice: what is still
	 * in task storage then is exactly the set of blocks in progress. In the
	 * reverse order of attaching: the switch-out first, the switch-in next,
	 * the cause programs last, so that every block that ends still has its
	 * waker traced (the other way round, a busy PostgreSQL's blocks that
	 * ended in those milliseconds lost theirs: 6 in a 6 s capture). */
	for (i = c->nlinks - 1; i >= 0; i--) {
		bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
	}
	c->nlinks = 0;
	cpu_clock_detach(c->sample_fds, c->sample_links, c->nsamples);
	c->nsamples = 0;
	ring_buffer__consume(c->rb);
	/* the plain flush picks up whatever the sleepable one did not reach */
	if (c->iter_user_link)
		flush_with_deadline(c, 2000);
	read_iter(c, ST_ITER_FLUSH);
	ring_buffer__consume(c->rb);
	c->stopped = true;
	return c->cb_err;
}

enum capture_path capture_get_path(const struct capture *c)
{
	return c->path;
}

uint64_t capture_sample_period_ns(const struct capture *c)
{
	return c->sample_period_ns;
}

uint64_t capture_attached_ns(const struct capture *c)
{
	return c->attached_ns;
}

uint64_t capture_blocks_captured(const struct capture *c)
{
	return c->skel->bss->blocks_captured;
}

static void prog_stats(struct bpf_program *p, uint64_t *run_ns, uint64_t *run_cnt, uint64_t *misses)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_program__fd(p);

	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	*run_ns += info.run_time_ns;
	*run_cnt += info.run_cnt;
	*misses += info.recursion_misses;
}

/* Whether someone else turned the kernel's BPF run-time stats on. Read at
 * each governor step (once a second for days): the file is kept open and
 * read with pread, not opened and closed each time. */
static bool sysctl_stats_on(struct capture *c)
{
	char v = '0';

	if (c->sysctl_fd < 0)
		c->sysctl_fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);
	if (c->sysctl_fd >= 0 && pread(c->sysctl_fd, &v, 1, 0) != 1)
		v = '0';
	return v == '1';
}

/* The run time, runs and recursion misses of every program the capture
 * holds, the end-of-capture iterators left out. */
static void all_prog_stats(struct capture *c, uint64_t *run_ns, uint64_t *run_cnt, uint64_t *misses)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, c->skel->obj) {
		if (bpf_program__fd(p) < 0 || p == c->skel->progs.iter_tasks ||
		    p == c->skel->progs.iter_flush_user)
			continue;
		prog_stats(p, run_ns, run_cnt, misses);
	}
}

uint64_t capture_records(const struct capture *c)
{
	return c->records;
}

void capture_cost(struct capture *c, struct capture_cost *out)
{
	uint64_t misses = 0;

	memset(out, 0, sizeof(*out));
	out->records = c->records;
	out->stats_on = c->stats_fd >= 0 || sysctl_stats_on(c);
	if (!out->stats_on)
		return;
	all_prog_stats(c, &out->run_ns, &out->run_cnt, &misses);
}

void capture_set_block_floor(struct capture *c, uint64_t ns)
{
	__atomic_store_n(&c->skel->bss->gov_min_block_ns, ns, __ATOMIC_RELAXED);
}

void capture_read_counters(struct capture *c,
			   void (*fn)(void *arg, const struct capture_counter *ctr), void *arg)
{
	const struct st_drops *d = &c->skel->bss->drops;
	uint64_t run_ns = 0, run_cnt = 0, misses = 0, in_ns = 0, in_cnt = 0, in_miss = 0;
	struct bpf_program *in = in_prog(c, c->skel, c->path);
	const struct capture_counter ctrs[] = {
		{ "ringbuf_full", d->ringbuf_full, true },
		{ "meta_ringbuf_full", d->meta_ringbuf_full, true },
		{ "hold_ringbuf_full", d->hold_ringbuf_full, true },
		{ "waker_ringbuf_full", d->waker_ringbuf_full, true },
		{ "sample_ringbuf_full", d->sample_ringbuf_full, true },
		{ "target_mms_full", d->target_mms_full, true },
		{ "kstack_failed", d->kstack_failed, true },
		{ "task_storage_full", d->task_storage_full, true },
		{ "waker_missing", d->waker_missing, true },
		/* one_switch_hook: a target thread without a hot slot of its own
		 * (its switch-outs unseen), and a target's switch-out that an
		 * unseen resume hid and that could not be dated (not guessed) */
		{ "switch_out_unslotted", c->skel->bss->sw_unslotted, true },
		{ "switch_chain_broken", c->skel->bss->sw_chain_broken, true },
		{ "bad_records", c->bad_records, true },
		{ "flush_timeouts", c->flush_timeouts, true },
	};
	size_t i;

	all_prog_stats(c, &run_ns, &run_cnt, &misses);
	if (in)
		prog_stats(in, &in_ns, &in_cnt, &in_miss);
	for (i = 0; i < sizeof(ctrs) / sizeof(ctrs[0]); i++)
		fn(arg, &ctrs[i]);
	{
		/* the kernel skips a program that would recurse: each skip is a lost event */
		const struct capture_counter rec = { "bpf_recursion_misses", misses, true };
		const struct capture_counter st[] = {
			{ "blocks", c->skel->bss->blocks_captured, false },
			{ "ustack_copy_capped", c->skel->bss->ustack_capped, false },
			/* where each thread's user stack ends (offcpu.bpf.c, copy_stack()) */
			{ "ustack_copy_bounded", c->skel->bss->ustack_bounded, false },
			{ "ustack_copy_unbounded", c->skel->bss->ustack_unbounded, false },
			{ "ustack_top_learnt", c->skel->bss->ustack_top_learnt, false },
			{ "ustack_top_missed", c->skel->bss->ustack_top_missed, false },
			{ "ustack_ring_lean", c->skel->bss->ustack_ring_lean, false },
			/* the kernel stack cache (offcpu.bpf.c, kstack_cached()) */
			{ "kstack_cache_hits", c->skel->bss->kc_hits, false },
			{ "kstack_cache_learnt", c->skel->bss->kc_learnt, false },
			{ "kstack_cache_unlearnable", c->skel->bss->kc_unlearnable, false },
			{ "kstack_cache_checks", c->skel->bss->kc_checks, false },
			{ "kstack_cache_mismatches", c->skel->bss->kc_mismatches, false },
			/* the switch-out's clock (offcpu.bpf.c, switch_now()) */
			{ "switch_clock_measured", c->skel->bss->clk_measured, false },
			/* one_switch_hook: a thread woken and resumed elsewhere before its
			 * switch-out here was stamped (a sub-microsecond block) */
			{ "switch_out_raced", c->skel->bss->sw_out_raced, false },
			/* one_switch_hook: a target's switch-out that an unseen
			 * resume hid, dated from the CPU time it ran (take_late()) */
			{ "switch_out_late", c->skel->bss->sw_chain_late, false },
			{ "switch_clock_suspect", c->skel->bss->clk_suspect, false },
			{ "bpf_run_ns", run_ns, false },
			{ "bpf_run_cnt", run_cnt, false },
			{ "bpf_switch_in_run_ns", in_ns, false },
			{ "bpf_switch_in_run_cnt", in_cnt, false },
			{ "bpf_stats_enabled", c->stats_fd >= 0 || sysctl_stats_on(c), false },
			{ "wakers_traced", bpf_program__fd(c->skel->progs.handle_waking) >= 0, false },
			{ "locks_traced", bpf_program__fd(c->skel->progs.handle_contention_begin) >= 0, false },
			{ "sampling_cpus", (uint64_t)c->sampling_cpus, false },
		};

		fn(arg, &rec);
		for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
			fn(arg, &st[i]);
	}
}

void capture_finish(struct capture *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	cpu_clock_detach(c->sample_fds, c->sample_links, c->nsamples);
	bpf_link__destroy(c->iter_link);
	bpf_link__destroy(c->iter_user_link);
	ring_buffer__free(c->rb);
	if (c->target_bits)
		munmap(c->target_bits, ST_TARGET_WORDS * sizeof(uint64_t));
	offcpu_bpf__destroy(c->skel);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	if (c->sysctl_fd >= 0)
		close(c->sysctl_fd);
	free(c);
}
