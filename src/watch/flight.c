/* flight.c: the flight recorder's generations, eviction and incident cuts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watch/flight.h"
#include "util/timeutil.h"

#define EVICT_EVERY_NS 1000000000ull
/* a block that ended while two generations overlapped: both saw the same
 * switch-in, their clocks read microseconds apart */
#define SAME_END_NS 500000ull

struct gen {
	struct recorder *rec;    /* stopped: its capdata is final */
};

struct flight {
	struct recorder_opts ro;
	pid_t *pids;
	char *name, *cgroup_dir;
	uint64_t keep_ns;
	struct recorder *cur;               /* the running generation (NULL after a failed rotation) */
	struct gen old[FLIGHT_MAX_GENERATIONS]; /* ended generations, oldest first */
	size_t nold;
	uint64_t history_start;
	uint64_t last_evict;
	uint64_t evicted, rotations;
};

/* ---- the pure cut ---- */

struct remap {
	int64_t *mappings, *frames, *stacks, *threads;
};

static int remap_init(struct remap *m, const struct capdata *src)
{
	m->mappings = malloc((src->nmappings + 1) * sizeof(int64_t));
	m->frames = malloc((src->nframes + 1) * sizeof(int64_t));
	m->stacks = malloc((src->nstacks + 1) * sizeof(int64_t));
	m->threads = malloc((src->nthreads + 1) * sizeof(int64_t));
	if (!m->mappings || !m->frames || !m->stacks || !m->threads)
		return -ENOMEM;
	memset(m->mappings, 0xff, (src->nmappings + 1) * sizeof(int64_t));
	memset(m->frames, 0xff, (src->nframes + 1) * sizeof(int64_t));
	memset(m->stacks, 0xff, (src->nstacks + 1) * sizeof(int64_t));
	memset(m->threads, 0xff, (src->nthreads + 1) * sizeof(int64_t));
	return 0;
}

static void remap_release(struct remap *m)
{
	free(m->mappings);
	free(m->frames);
	free(m->stacks);
	free(m->threads);
}

static int64_t copy_mapping(struct capdata *dst, const struct capdata *src, struct remap *m, uint32_t id)
{
	const struct cap_mapping *mp;

	if (id == ST_NO_MAPPING)
		return ST_NO_MAPPING;
	if (id >= src->nmappings)
		return -EINVAL;
	if (m->mappings[id] >= 0)
		return m->mappings[id];
	mp = &src->mappings[id];
	m->mappings[id] = capdata_mapping(dst, mp->start, mp->limit, mp->offset, mp->file, mp->build_id);
	return m->mappings[id];
}

static int64_t copy_frame(struct capdata *dst, const struct capdata *src, struct remap *m, uint32_t id)
{
	const struct cap_frame *f;
	int64_t mp;

	if (id >= src->nframes)
		return -EINVAL;
	if (m->frames[id] >= 0)
		return m->frames[id];
	f = &src->frames[id];
	mp = copy_mapping(dst, src, m, f->mapping);
	if (mp < 0)
		return mp;
	m->frames[id] = capdata_frame(dst, f->name, f->addr, (uint32_t)mp, f->kernel);
	return m->frames[id];
}

static int64_t copy_stack(struct capdata *dst, const struct capdata *src, struct remap *m, uint32_t id)
{
	const struct cap_stack *s;
	uint32_t *frames;
	int64_t ret;

	if (id == ST_NO_STACK)
		return ST_NO_STACK;
	if (id >= src->nstacks)
		return -EINVAL;
	if (m->stacks[id] >= 0)
		return m->stacks[id];
	s = &src->stacks[id];
	frames = malloc((s->nframes + 1) * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nframes; i++) {
		int64_t f = copy_frame(dst, src, m, s->frames[i]);

		if (f < 0) {
			free(frames);
			return f;
		}
		frames[i] = (uint32_t)f;
	}
	ret = capdata_stack(dst, frames, s->nframes, (enum cap_stack_status)s->status);
	free(frames);
	if (ret >= 0)
		m->stacks[id] = ret;
	return ret;
}

static int64_t copy_thread(struct capdata *dst, const struct capdata *src, struct remap *m, uint32_t id)
{
	const struct cap_thread *t;
	int64_t ret;

	if (id >= src->nthreads)
		return -EINVAL;
	if (m->threads[id] >= 0)
		return m->threads[id];
	t = &src->threads[id];
	ret = capdata_thread(dst, t->pid, t->tid, t->comm);
	if (ret < 0)
		return ret;
	dst->threads[ret].below_min_ns += t->below_min_ns;
	dst->threads[ret].below_min_count += t->below_min_count;
	dst->threads[ret].io_bytes += t->io_bytes;
	dst->threads[ret].io_count += t->io_count;
	if (t->outside)
		dst->threads[ret].outside = true;
	m->threads[id] = ret;
	return ret;
}

/* Does [start, start + dur] meet [ws, we]? A zero-length record counts at its instant. */
static bool overlaps(uint64_t start, uint64_t dur, uint64_t ws, uint64_t we)
{
	if (start > we)
		return false;
	return dur ? start + dur > ws : start >= ws;
}

#define TRY(expr) do { int64_t v_ = (expr); if (v_ < 0) { ret = (int)v_; goto cleanup; } } while (0)

static uint64_t attached_at(const struct capdata *cd)
{
	return cd->window.attached_mono_ns ? cd->window.attached_mono_ns : cd->window.start_mono_ns;
}

/* Are block pb of prev and block nb of next, the generation after it, the
 * same wait? Only a wait still going when next attached can be in both.
 * - One prev cut short at its end was still going when next attached: next
 *   has it whole, seeded (began_before: its start known only roughly, from
 *   the scheduler's clocks, to a tick), or with the same start if it began
 *   after next's programs attached (even before next read attached_mono_ns:
 *   that race once showed a wait twice in test_watch_handover).
 * - One that ended while both ran ended at the same switch-in in both, their
 *   clocks read microseconds apart. */
static bool same_wait(const struct capdata *prev, const struct cap_block *pb, const struct capdata *next,
		      const struct cap_block *nb)
{
	const struct cap_thread *pt = &prev->threads[pb->thread], *nt = &next->threads[nb->thread];
	uint64_t pend = pb->start_ns + pb->dur_ns, nend = nb->start_ns + nb->dur_ns;
	uint64_t tol = next->window.min_block_ns / 2;

	if (pt->tid != nt->tid || pt->pid != nt->pid || pend <= next->window.start_mono_ns)
		return false;
	if (!tol || tol > SAME_END_NS)
		tol = SAME_END_NS;
	if (pb->flags & CAP_BLOCK_IN_PROGRESS) {
		/* the same start: both saw it begin (also one that began while next
		 * was attaching, before attached_mono_ns was read: not seeded) */
		if ((pb->start_ns > nb->start_ns ? pb->start_ns - nb->start_ns : nb->start_ns - pb->start_ns) <= tol)
			return true;
		return pb->start_ns < attached_at(next) && (nb->flags & CAP_BLOCK_BEGAN_BEFORE);
	}
	return (pend > nend ? pend - nend : nend - pend) <= tol;
}

/* The blocks of other that can be the same wait as one of cd's (other
 * before cd when cd_is_next, else after it): those still going when the
 * later generation began. A few, out of a history of many. */
static size_t *overlap_blocks(const struct capdata *cd, const struct capdata *other, bool cd_is_next, size_t *n)
{
	size_t *idx = malloc((other->nblocks + 1) * sizeof(*idx));

	*n = 0;
	if (!idx)
		return NULL;
	for (size_t i = 0; i < other->nblocks; i++) {
		const struct cap_block *ob = &other->blocks[i];
		bool maybe = cd_is_next ? ob->start_ns + ob->dur_ns > cd->window.start_mono_ns
					: (ob->flags & CAP_BLOCK_BEGAN_BEFORE) ||
					  ob->start_ns <= capdata_window_end(cd) + SAME_END_NS;

		if (maybe)
			idx[(*n)++] = i;
	}
	return idx;
}

/* The block of other (its candidates idx) that is the same wait as b
 * (other before b's generation when b_is_next, else after it), or NULL. */
static const struct cap_block *find_same_wait(const struct capdata *cd, const struct cap_block *b,
					      const struct capdata *other, bool b_is_next,
					      const size_t *idx, size_t nidx)
{
	/* most blocks ended before the next generation began: no scan for them */
	if (!b_is_next && b->start_ns + b->dur_ns <= other->window.start_mono_ns)
		return NULL;
	for (size_t k = 0; k < nidx; k++) {
		const struct cap_block *ob = &other->blocks[idx[k]];

		if (b_is_next ? same_wait(other, ob, cd, b) : same_wait(cd, b, other, ob))
			return ob;
	}
	return NULL;
}

/* Remaps a record's thread and its two stacks from src's ids to dst's, in place. */
static int copy_refs(struct capdata *dst, const struct capdata *src, struct remap *m, uint32_t *thread,
		     uint32_t *ustack, uint32_t *kstack)
{
	int64_t t = copy_thread(dst, src, m, *thread), u, k;

	if (t < 0)
		return (int)t;
	if ((u = copy_stack(dst, src, m, *ustack)) < 0)
		return (int)u;
	if ((k = copy_stack(dst, src, m, *kstack)) < 0)
		return (int)k;
	*thread = (uint32_t)t;
	*ustack = (uint32_t)u;
	*kstack = (uint32_t)k;
	return 0;
}

int capdata_cut(struct capdata *dst, const struct capdata *src, uint64_t ws, uint64_t we,
		const struct capdata *prev, const struct capdata *next, uint64_t ended_by)
{
	/* from the moment next attached, it holds everything src saw */
	uint64_t handover = next ? attached_at(next) : UINT64_MAX;
	struct remap m = { 0 };
	size_t *pidx = NULL, *nidx = NULL, npidx = 0, nnidx = 0;
	int ret = remap_init(&m, src);

	if (ret)
		goto cleanup;
	if ((prev && !(pidx = overlap_blocks(src, prev, true, &npidx))) ||
	    (next && !(nidx = overlap_blocks(src, next, false, &nnidx)))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < src->nblocks; i++) {
		const struct cap_block *b = &src->blocks[i];
		struct cap_block nb = *b;

		if (!overlaps(b->start_ns, b->dur_ns, ws, we) || (ended_by && b->start_ns + b->dur_ns > ended_by) ||
		    (next && find_same_wait(src, b, next, false, nidx, nnidx)))
			continue;
		if (prev && (b->flags & CAP_BLOCK_BEGAN_BEFORE)) {
			/* seeded: prev saw it begin, and knows when exactly */
			const struct cap_block *pb = find_same_wait(src, b, prev, true, pidx, npidx);

			if (pb && pb->start_ns < b->start_ns + b->dur_ns) {
				nb.dur_ns = b->start_ns + b->dur_ns - pb->start_ns;
				nb.start_ns = pb->start_ns;
			}
		}
		TRY(copy_refs(dst, src, &m, &nb.thread, &nb.ustack, &nb.kstack));
		if (b->has_waker)
			TRY(copy_refs(dst, src, &m, &nb.waker, &nb.waker_ustack, &nb.waker_kstack));
		if (b->has_owner) {
			int64_t o;

			TRY(o = copy_thread(dst, src, &m, b->owner));
			nb.owner = (uint32_t)o;
		}
		/* the capture ran past the window's end: a wait still going is cut there */
		if ((b->flags & CAP_BLOCK_IN_PROGRESS) && b->start_ns + b->dur_ns > we)
			nb.dur_ns = we - b->start_ns;
		TRY(capdata_add_block(dst, &nb));
	}
	for (size_t i = 0; i < src->nholds; i++) {
		const struct cap_hold *h = &src->holds[i];
		struct cap_hold nh = *h;

		/* a hold that began before next attached is only here (next never saw its acquire) */
		if (!overlaps(h->start_ns, h->dur_ns, ws, we) || h->start_ns >= handover)
			continue;
		TRY(copy_refs(dst, src, &m, &nh.thread, &nh.ustack, &nh.kstack));
		if ((h->flags & CAP_BLOCK_IN_PROGRESS) && h->start_ns + h->dur_ns > we)
			nh.dur_ns = we - h->start_ns;
		TRY(capdata_add_hold(dst, &nh));
	}
	/* totals cover the whole generation: kept for the holders they name */
	for (size_t i = 0; i < src->nhold_totals; i++) {
		struct cap_hold_total t = src->hold_totals[i];
		int64_t v;

		TRY(v = copy_thread(dst, src, &m, t.thread));
		t.thread = (uint32_t)v;
		TRY(capdata_add_hold_total(dst, &t));
	}
	for (size_t i = 0; i < src->nsamples; i++) {
		struct cap_sample s = src->samples[i];

		if (s.ts_ns < ws || s.ts_ns > we || s.ts_ns >= handover)
			continue;
		TRY(copy_refs(dst, src, &m, &s.thread, &s.ustack, &s.kstack));
		TRY(capdata_add_sample(dst, &s));
	}
	for (size_t i = 0; i < src->nmem; i++)
		if (src->mem[i].ts_ns >= ws && src->mem[i].ts_ns <= we && src->mem[i].ts_ns < handover)
			TRY(capdata_add_mem(dst, &src->mem[i]));
	for (size_t i = 0; i < src->nthrottles; i++) /* those that overlap the window */
		if (src->throttles[i].ts_ns >= ws && src->throttles[i].from_ns <= we &&
		    src->throttles[i].ts_ns < handover)
			TRY(capdata_add_throttle(dst, &src->throttles[i]));
	for (size_t i = 0; i < src->ndrops; i++)
		TRY(capdata_add_drop(dst, src->drops[i].name, src->drops[i].value));
	ret = 0;
cleanup:
	free(pidx);
	free(nidx);
	remap_release(&m);
	return ret;
}

/* ---- generations ---- */

static void free_opts(struct flight *f)
{
	free(f->pids);
	free(f->name);
	free(f->cgroup_dir);
	f->pids = NULL;
	f->name = f->cgroup_dir = NULL;
}

static int set_pids(struct flight *f, const pid_t *pids, size_t npids)
{
	pid_t *p = malloc((npids ? npids : 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	memcpy(p, pids, npids * sizeof(*p));
	free(f->pids);
	f->pids = p;
	f->ro.pids = p;
	f->ro.npids = npids;
	return 0;
}

int flight_start(struct flight **out, const struct recorder_opts *ro, uint64_t keep_ns,
		 char *err, size_t errlen)
{
	struct flight *f = calloc(1, sizeof(*f));
	int ret;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->ro = *ro;
	f->keep_ns = keep_ns;
	if ((ro->name && !(f->name = strdup(ro->name))) ||
	    (ro->cgroup_dir && !(f->cgroup_dir = strdup(ro->cgroup_dir))) ||
	    set_pids(f, ro->pids, ro->npids)) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	f->ro.name = f->name;
	f->ro.cgroup_dir = f->cgroup_dir;
	ret = recorder_start(&f->cur, &f->ro, err, errlen);
	if (ret)
		goto cleanup;
	f->history_start = recorder_capdata(f->cur)->window.start_mono_ns;
	f->last_evict = mono_ns();
	*out = f;
	return 0;
cleanup:
	flight_free(f);
	return ret;
}

static void drop_oldest(struct flight *f)
{
	recorder_free(f->old[0].rec);
	memmove(f->old, f->old + 1, (f->nold - 1) * sizeof(f->old[0]));
	f->nold--;
	f->history_start = f->nold ? recorder_capdata(f->old[0].rec)->window.start_mono_ns
				   : f->cur ? recorder_capdata(f->cur)->window.start_mono_ns : mono_ns();
}

static void evict(struct flight *f, uint64_t now)
{
	uint64_t cutoff = now > f->keep_ns ? now - f->keep_ns : 0;

	/* ended generations go whole, once all of them is older than the cutoff */
	while (f->nold && capdata_window_end(recorder_capdata(f->old[0].rec)) < cutoff)
		drop_oldest(f);
	if (f->cur)
		f->evicted += recorder_evict(f->cur, cutoff);
	if (!f->nold && cutoff > f->history_start)
		f->history_start = cutoff;
}

int flight_poll(struct flight *f, int timeout_ms)
{
	uint64_t now;
	int ret = 0;

	if (f->cur) {
		ret = recorder_poll(f->cur, timeout_ms);
	} else {
		struct timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	now = mono_ns();
	if (now - f->last_evict >= EVICT_EVERY_NS) {
		f->last_evict = now;
		evict(f, now);
	}
	return ret;
}

bool flight_generation_full(const struct capdata *cd)
{
	return cd->nstacks >= FLIGHT_ROTATE_STACKS || cd->nframes >= FLIGHT_ROTATE_FRAMES ||
	       cd->nthreads >= FLIGHT_ROTATE_THREADS;
}

const struct capdata *flight_current(struct flight *f)
{
	return f->cur ? recorder_capdata(f->cur) : NULL;
}

uint64_t flight_history_start(const struct flight *f)
{
	return f->history_start;
}

bool flight_targets_gone(struct flight *f)
{
	return f->cur ? recorder_targets_gone(f->cur) : false;
}

struct recorder *flight_recorder(struct flight *f)
{
	return f->cur;
}

int flight_rotate(struct flight *f, const pid_t *pids, size_t npids, char *err, size_t errlen)
{
	struct recorder *next = NULL;
	int ret = set_pids(f, pids, npids);

	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	f->rotations++;
	/* The next generation attaches before this one stops, so that no moment
	 * goes uncaptured; what both saw meanwhile is cut once (capdata_cut).
	 * This one stops even if the next did not start: its stop flushes the
	 * waits in progress, which an incident needs. */
	ret = recorder_start(&next, &f->ro, err, errlen);
	if (f->cur) {
		recorder_stop(f->cur);
		if (f->nold == FLIGHT_MAX_GENERATIONS)
			drop_oldest(f);
		f->old[f->nold++].rec = f->cur;
	}
	f->cur = next;
	if (!ret && f->nold) {
		/* the target's name and command line carry over; its pids are the current ones */
		const struct capdata *prev = recorder_capdata(f->old[f->nold - 1].rec);

		ret = capdata_set_target(recorder_capdata(f->cur), f->pids, npids, prev->target.comm,
					 prev->target.cmdline);
	}
	return ret;
}

/* Generation i, oldest first, the running one last; NULL past the end. */
static const struct capdata *generation(const struct flight *f, size_t i)
{
	if (i < f->nold)
		return recorder_capdata(f->old[i].rec);
	return i == f->nold && f->cur ? recorder_capdata(f->cur) : NULL;
}

int flight_cut(struct flight *f, uint64_t start_ns, uint64_t end_ns, uint64_t trigger_ns,
	       bool ended_only, struct capdata *dst)
{
	const struct capdata *newest = NULL;
	uint64_t ws = start_ns < f->history_start ? f->history_start : start_ns;
	int ret = 0;

	/* every generation, the running one too: the waits that ended while it
	 * overlapped the previous one are kept from it alone */
	for (size_t i = 0; i < f->nold + (f->cur != NULL); i++) {
		const struct capdata *src = generation(f, i), *prev = i ? generation(f, i - 1) : NULL;
		const struct capdata *next = generation(f, i + 1);

		/* (the running one's window has no end yet) */
		if ((i < f->nold && capdata_window_end(src) < ws) || src->window.start_mono_ns > end_ns)
			continue;
		ret = capdata_cut(dst, src, ws, end_ns, prev, next, ended_only ? end_ns : 0);
		/* the features, and the names of the kernel locks each generation saw */
		if (!ret)
			ret = capdata_copy_capture_info(dst, src);
		if (ret)
			return ret;
		if (i < f->nold)
			newest = src;
	}
	if (!newest && f->nold)
		newest = recorder_capdata(f->old[f->nold - 1].rec);
	if (newest) {
		const struct capdata *src = newest;

		ret = capdata_set_target(dst, src->target.pids, src->target.npids, src->target.comm,
					 src->target.cmdline);
		if (!ret)
			ret = capdata_copy_capture_info(dst, src);
		/* statistics describe the capture that ended the window */
		for (size_t i = 0; !ret && i < src->nstats; i++)
			ret = capdata_set_stat(dst, src->stats[i].name, src->stats[i].value);
		dst->window = src->window;
		dst->window.start_real_ns = src->window.start_real_ns +
					    ((int64_t)ws - (int64_t)src->window.start_mono_ns);
	}
	dst->window.start_mono_ns = ws;
	dst->window.duration_ns = end_ns > ws ? end_ns - ws : 0;
	dst->window.trigger_mono_ns = trigger_ns;
	return ret;
}

uint64_t flight_evicted(const struct flight *f)
{
	return f->evicted;
}

uint64_t flight_rotations(const struct flight *f)
{
	return f->rotations;
}

void flight_free(struct flight *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nold; i++)
		recorder_free(f->old[i].rec);
	recorder_free(f->cur);
	free_opts(f);
	free(f);
}
