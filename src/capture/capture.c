/* capture.c: probes the kernel, loads and drives the offcpu BPF programs, hands out their records as capture.h's plain structs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "util/timeutil.h"
#include "capture/capture.h"
#include "capture/capture_abi.h"
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
	enum capture_path path;
	uint32_t sample_hz;
	struct capture_features feat;
	struct capture_cbs cbs;
	bool started, stopped;
	int cb_err;             /* first error returned by a callback */
	uint64_t bad_records;   /* records of unknown type or size (never expected) */
	uint64_t records;       /* records handled (blocks, holds, wakers, samples, ...) */
	uint64_t flush_timeouts;/* the user-stack flush missed its deadline */
};

enum capture_path capture_select_path(const struct capture_features *f)
{
	if (!f->task_pt_regs)
		return CAPTURE_PATH_NONE;
	if (f->sched_exit_tp)
		return CAPTURE_PATH_SCHED_EXIT_TP;
	if (f->fentry)
		return CAPTURE_PATH_FENTRY_FTS;
	if (f->kprobe)
		return CAPTURE_PATH_KPROBE_FTS;
	return CAPTURE_PATH_NONE;
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

static bool kallsyms_has_prefix(const char *prefix, char *found, size_t foundlen)
{
	char line[512], sym[256];
	unsigned long long addr;
	char type;
	bool ok = false;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (strncmp(sym, prefix, strlen(prefix)) == 0 &&
		    (sym[strlen(prefix)] == '\0' || sym[strlen(prefix)] == '.')) {
			snprintf(found, foundlen, "%s", sym);
			ok = true;
			break;
		}
	}
	fclose(f);
	return ok;
}

static void probe_features(struct capture_features *f)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char sym[256];

	memset(f, 0, sizeof(*f));
	if (!btf)
		return;
	f->sched_exit_tp = btf_typedef_params(btf, "btf_trace_sched_exit_tp") >= 1;
	/* void *ctx, bool preempt, prev, next, unsigned int prev_state */
	f->prev_state_arg = btf_typedef_params(btf, "btf_trace_sched_switch") >= 5;
	f->task_pt_regs = btf__find_by_name_kind(btf, "btf_bpf_task_pt_regs", BTF_KIND_TYPEDEF) > 0;
	f->task_iter = btf__find_by_name_kind(btf, "bpf_iter__task", BTF_KIND_STRUCT) > 0;
	/* fentry and kprobes are only tried when sched_exit_tp is missing; their
	 * real test is the load/attach, which capture_prepare() falls through. */
	f->fentry = f->kprobe = kallsyms_has_prefix("finish_task_switch", sym, sizeof(sym));
	btf__free(btf);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("STALLTRAP_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG && getenv("STALLTRAP_BPF_DEBUG"))
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
	r->wait_obj = ev->wait_obj;
	r->lock_flags = ev->lock_flags;
	r->hold_mode = ev->aux == ST_HOLD_WRITE ? CAPTURE_HOLD_WRITE :
		       ev->aux == ST_HOLD_DOWNGRADED ? CAPTURE_HOLD_DOWNGRADED : CAPTURE_HOLD_READ;
	r->hold_mm_pid = (int32_t)ev->aux_pid;
	r->waker_seq = ev->waker_seq;
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

/* Optional programs, dropped one by one when the kernel refuses them. */
#define OPT_USER_FLUSH 1u  /* iter.s/task: user stacks of blocks in progress at the end */
#define OPT_WAKERS 2u      /* tp_btf/sched_waking */

static int load_with_path(struct capture *c, const struct capture_opts *o, enum capture_path path,
			  unsigned int optional, char *err, size_t errlen)
{
	bool cause = !o->no_locks;
	struct offcpu_bpf *skel;
	char fts[256] = "finish_task_switch";
	int ret;

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
	if (getenv("STALLTRAP_KSTACK_CHECK")) {
		long every = strtol(getenv("STALLTRAP_KSTACK_CHECK"), NULL, 10);

		skel->rodata->kstack_cache = every > 0;
		skel->rodata->kc_check_every = every > 0 ? (__u32)every : 1;
	}
	skel->rodata->hold_min_ns = o->hold_min_ns ? o->hold_min_ns : 1000000;
	skel->rodata->waker_min_ns = o->min_block_ns > 1000000 ? o->min_block_ns : 1000000;
	if (o->name)
		strncpy((char *)skel->rodata->targ_comm, o->name, ST_COMM_LEN - 1);
	bpf_map__set_max_entries(skel->maps.events,
				 (o->ringbuf_kb ? o->ringbuf_kb : DEFAULT_RINGBUF_KB) * 1024);

	bpf_program__set_autoload(skel->progs.handle_exit_tp, path == CAPTURE_PATH_SCHED_EXIT_TP);
	bpf_program__set_autoload(skel->progs.handle_fts_fentry, path == CAPTURE_PATH_FENTRY_FTS);
	bpf_program__set_autoload(skel->progs.handle_fts_kprobe, path == CAPTURE_PATH_KPROBE_FTS);
	bpf_program__set_autoload(skel->progs.iter_tasks, c->feat.task_iter);
	/* optional: refused by some kernels; without them, no user stacks for
	 * blocks in progress at the end, and no wakers */
	bpf_program__set_autoload(skel->progs.iter_flush_user, c->feat.task_iter && (optional & OPT_USER_FLUSH));
	bpf_program__set_autoload(skel->progs.handle_waking, cause && (optional & OPT_WAKERS));
	skel->rodata->wakers_traced = cause && (optional & OPT_WAKERS);
	bpf_program__set_autoload(skel->progs.handle_contention_begin, cause);
	bpf_program__set_autoload(skel->progs.handle_contention_end, cause);
	bpf_program__set_autoload(skel->progs.handle_mmap_acquired, cause);
	bpf_program__set_autoload(skel->progs.handle_mmap_released, cause);
	bpf_program__set_autoload(skel->progs.handle_bio_queue, cause);
	bpf_program__set_autoload(skel->progs.handle_sample, cause);
	if (path == CAPTURE_PATH_FENTRY_FTS) {
		/* the compiler often renames it finish_task_switch.isra.0 */
		kallsyms_has_prefix("finish_task_switch", fts, sizeof(fts));
		bpf_program__set_attach_target(skel->progs.handle_fts_fentry, 0, fts);
	}
	ret = offcpu_bpf__load(skel);
	if (ret) {
		snprintf(err, errlen, "cannot load the BPF programs (%s path): %s",
			 capture_path_name(path), strerror(-ret));
		offcpu_bpf__destroy(skel);
		return ret;
	}
	c->skel = skel;
	c->path = path;
	return 0;
}

int capture_prepare(struct capture **out, const struct capture_opts *o,
		    const struct capture_cbs *cbs, char *err, size_t errlen)
{
	struct capture *c;
	enum capture_path path;
	int ret;

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
	c->cbs = *cbs;
	c->sample_hz = o->sample_hz ? o->sample_hz : 49;
	probe_features(&c->feat);
	path = o->force_path != CAPTURE_PATH_NONE ? o->force_path : capture_select_path(&c->feat);
	if (path == CAPTURE_PATH_NONE) {
		snprintf(err, errlen, "unsupported kernel: no sched_exit_tp, fentry or kprobe on finish_task_switch, or no bpf_task_pt_regs (needs 5.15+)");
		ret = -EOPNOTSUPP;
		goto cleanup;
	}
	/* sleepable iterators and bpf_copy_from_user_task need 5.18: without them
	 * blocks in progress at the end keep their kernel stack only */
	ret = load_with_path(c, o, path, OPT_USER_FLUSH | OPT_WAKERS, err, errlen);
	if (ret)
		ret = load_with_path(c, o, path, OPT_USER_FLUSH, err, errlen);
	if (ret)
		ret = load_with_path(c, o, path, 0, err, errlen);
	/* fentry can be refused where trampolines are missing: fall back in order */
	if (ret && path == CAPTURE_PATH_FENTRY_FTS && c->feat.kprobe && o->force_path == CAPTURE_PATH_NONE)
		ret = load_with_path(c, o, CAPTURE_PATH_KPROBE_FTS, 0, err, errlen);
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
		read_iter(c, ST_ITER_SEED);
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
	int ncpu = libbpf_num_possible_cpus(), cpu;
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.size = sizeof(attr);
	attr.freq = 1;
	attr.sample_freq = c->sample_hz;
	/* a tick that finds the CPU idle runs nothing: on a quiet machine most do,
	 * and the program's cold start cost ~2 us each time for nothing */
	attr.exclude_idle = 1;
	for (cpu = 0; cpu < ncpu && c->nsamples < (int)(sizeof(c->sample_fds) / sizeof(c->sample_fds[0])); cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		struct bpf_link *l;

		if (fd < 0)
			continue;
		l = bpf_program__attach_perf_event(c->skel->progs.handle_sample, fd);
		if (!l) {
			close(fd);
			continue;
		}
		c->sample_fds[c->nsamples] = fd;
		c->sample_links[c->nsamples++] = l;
	}
	c->sampling_cpus = c->nsamples;
	if (c->nsamples)
		c->sample_period_ns = 1000000000ull / c->sample_hz;
}

int capture_start(struct capture *c, char *err, size_t errlen)
{
	struct offcpu_bpf *s = c->skel;
	struct bpf_program *in = NULL;
	char fts[256] = "finish_task_switch";
	int ret;

	switch (c->path) {
	case CAPTURE_PATH_SCHED_EXIT_TP: in = s->progs.handle_exit_tp; break;
	case CAPTURE_PATH_FENTRY_FTS: in = s->progs.handle_fts_fentry; break;
	case CAPTURE_PATH_KPROBE_FTS: in = s->progs.handle_fts_kprobe; break;
	case CAPTURE_PATH_NONE: return -EINVAL;
	}
	/* switch-in first, then switch-out: a block never starts unclosable */
	if (c->path == CAPTURE_PATH_KPROBE_FTS) {
		kallsyms_has_prefix("finish_task_switch", fts, sizeof(fts));
		c->links[c->nlinks] = bpf_program__attach_kprobe(in, false, fts);
		if (!c->links[c->nlinks]) {
			snprintf(err, errlen, "cannot attach kprobe %s: %s", fts, strerror(errno));
			return -errno;
		}
		c->nlinks++;
	} else if ((ret = attach(c, in, err, errlen))) {
		return ret;
	}
	if ((ret = attach(c, s->progs.handle_switch, err, errlen)) ||
	    (ret = attach(c, s->progs.handle_fork, err, errlen)) ||
	    (ret = attach(c, s->progs.handle_exec, err, errlen)) ||
	    (ret = attach(c, s->progs.handle_exit, err, errlen)))
		return ret;
	{
		struct bpf_program *cause[] = {
			s->progs.handle_contention_begin, s->progs.handle_contention_end,
			s->progs.handle_mmap_acquired, s->progs.handle_mmap_released,
			s->progs.handle_bio_queue, s->progs.handle_waking,
		};

		for (size_t i = 0; i < sizeof(cause) / sizeof(cause[0]); i++)
			if (bpf_program__fd(cause[i]) >= 0 && (ret = attach(c, cause[i], err, errlen)))
				return ret;
		if (bpf_program__fd(s->progs.handle_sample) >= 0)
			attach_sampling(c);
	}
	c->attached_ns = mono_ns();
	if (c->feat.task_iter) {
		if (bpf_program__fd(s->progs.iter_flush_user) >= 0)
			c->iter_user_link = bpf_program__attach_iter(s->progs.iter_flush_user, NULL);
		c->iter_link = bpf_program__attach_iter(s->progs.iter_tasks, NULL);
		/* without it, blocks already in progress at the start are not seen */
		if (c->iter_link)
			read_iter(c, ST_ITER_SEED);
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
	 * in task storage then is exactly the set of blocks in progress. */
	for (i = 0; i < c->nlinks; i++) {
		bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
	}
	c->nlinks = 0;
	for (i = 0; i < c->nsamples; i++) {
		bpf_link__destroy(c->sample_links[i]);
		close(c->sample_fds[i]);
	}
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

static void prog_stats(struct bpf_program *p, uint64_t *run_ns, uint64_t *run_cnt, uint64_t *misses);
static bool sysctl_stats_on(void);

void capture_cost(struct capture *c, struct capture_cost *out)
{
	struct bpf_program *p;
	uint64_t misses = 0;

	memset(out, 0, sizeof(*out));
	out->records = c->records;
	out->stats_on = c->stats_fd >= 0 || sysctl_stats_on();
	if (!out->stats_on)
		return;
	bpf_object__for_each_program(p, c->skel->obj) {
		if (bpf_program__fd(p) < 0 || p == c->skel->progs.iter_tasks ||
		    p == c->skel->progs.iter_flush_user)
			continue;
		prog_stats(p, &out->run_ns, &out->run_cnt, &misses);
	}
}

void capture_set_block_floor(struct capture *c, uint64_t ns)
{
	__atomic_store_n(&c->skel->bss->gov_min_block_ns, ns, __ATOMIC_RELAXED);
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

static bool sysctl_stats_on(void)
{
	char v = '0';
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");

	if (f) {
		if (fread(&v, 1, 1, f) != 1)
			v = '0';
		fclose(f);
	}
	return v == '1';
}

void capture_read_counters(struct capture *c,
			   void (*fn)(void *arg, const struct capture_counter *ctr), void *arg)
{
	const struct st_drops *d = &c->skel->bss->drops;
	uint64_t run_ns = 0, run_cnt = 0, misses = 0, in_ns = 0, in_cnt = 0, in_miss = 0;
	struct bpf_program *p;
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
		{ "bad_records", c->bad_records, true },
		{ "flush_timeouts", c->flush_timeouts, true },
	};
	size_t i;

	bpf_object__for_each_program(p, c->skel->obj) {
		if (bpf_program__fd(p) < 0 || p == c->skel->progs.iter_tasks ||
		    p == c->skel->progs.iter_flush_user)
			continue;
		prog_stats(p, &run_ns, &run_cnt, &misses);
	}
	switch (c->path) {
	case CAPTURE_PATH_SCHED_EXIT_TP: prog_stats(c->skel->progs.handle_exit_tp, &in_ns, &in_cnt, &in_miss); break;
	case CAPTURE_PATH_FENTRY_FTS: prog_stats(c->skel->progs.handle_fts_fentry, &in_ns, &in_cnt, &in_miss); break;
	case CAPTURE_PATH_KPROBE_FTS: prog_stats(c->skel->progs.handle_fts_kprobe, &in_ns, &in_cnt, &in_miss); break;
	case CAPTURE_PATH_NONE: break;
	}
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
			{ "bpf_run_ns", run_ns, false },
			{ "bpf_run_cnt", run_cnt, false },
			{ "bpf_switch_in_run_ns", in_ns, false },
			{ "bpf_switch_in_run_cnt", in_cnt, false },
			{ "bpf_stats_enabled", c->stats_fd >= 0 || sysctl_stats_on(), false },
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
	for (i = 0; i < c->nsamples; i++) {
		bpf_link__destroy(c->sample_links[i]);
		close(c->sample_fds[i]);
	}
	bpf_link__destroy(c->iter_link);
	bpf_link__destroy(c->iter_user_link);
	ring_buffer__free(c->rb);
	if (c->target_bits)
		munmap(c->target_bits, ST_TARGET_WORDS * sizeof(uint64_t));
	offcpu_bpf__destroy(c->skel);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c);
}
