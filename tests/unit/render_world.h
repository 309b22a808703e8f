/* render_world.h: a hand-built capture for the picture renderers' unit tests (header-only; include after cmocka.h).
 *
 * pid 100 "srv" over a 10 s window with a trigger at +7 s:
 *   - "alloc" (tid 110) holds mmap_lock for write in mmap(3 GiB) from +6 s
 *     for 1 s, with on-CPU samples meanwhile; it sleeps 100 ms every 200 ms
 *     otherwise;
 *   - 4 "worker"s (tids 101..104) wait 60 ms on a futex every 100 ms, and for
 *     the mmap_lock from +6 s for 1 s: one picture, one lane;
 *   - "disk" (tid 120) is in D state 200 ms every 500 ms, in a user stack
 *     whose frames have hostile names;
 *   - RSS grows from 100 MiB to 3.1 GiB during the hold.
 * Kernel stacks end in schedule; user stacks start at start_thread.
 */
#ifndef STALLTRAP_TEST_RENDER_WORLD_H
#define STALLTRAP_TEST_RENDER_WORLD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "lib/capbuild.h"
#include "render/render.h"

#define RW_MS 1000000ULL
#define RW_S 1000000000ULL
#define RW_T0 (500 * RW_S)
#define RW_HOSTILE_1 "evil</script><script>alert(1)</script>"
#define RW_HOSTILE_2 "q\"uo'te&amp]]>x<y>"

struct rworld {
	struct capdata cd;
	struct aggregate agg;
	uint64_t offcpu_ns;     /* what the blocks add up to */
	size_t nblocks;
};

/* A complete stack named root first; user frames in MAPPING (tests/lib/capbuild.h places them). */
static inline uint32_t rw_stack(struct capdata *cd, const char *const *names, size_t n, bool kernel,
			 uint32_t mapping)
{
	struct capbuild b = cb_of(cd);

	b.exe_map = mapping;
	return cb_stackv(&b, kernel, names, n);
}

#define RW_STACK(w, kernel, ...) \
	rw_stack(&(w)->cd, (const char *const[]){ __VA_ARGS__ }, \
		 sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *), kernel, ST_NO_MAPPING)

static inline void rw_block(struct rworld *w, uint32_t thread, uint32_t us, uint32_t ks, uint8_t state,
		     uint8_t wait, uint64_t start, uint64_t dur)
{
	struct capbuild cb = cb_of(&w->cd);
	struct cap_block b = { .thread = thread, .ustack = us, .kstack = ks, .state = state,
			       .wait_kind = wait, .start_ns = RW_T0 + start, .dur_ns = dur };

	cb_block(&cb, &b);
	w->offcpu_ns += dur;
	w->nblocks++;
}

/* An empty capture of pid over a 10 s window from RW_T0, 1 ms blocks, 10 ms samples. */
static inline void rw_header(struct rworld *w, int32_t pid, const char *comm, const char *cmdline)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(capdata_init(&w->cd), 0);
	assert_int_equal(capdata_set_target(&w->cd, &pid, 1, comm, cmdline), 0);
	w->cd.window.start_mono_ns = RW_T0;
	w->cd.window.start_real_ns = 1714566896LL * 1000000000LL;
	w->cd.window.duration_ns = 10 * RW_S;
	w->cd.window.min_block_ns = RW_MS;
	w->cd.window.sample_period_ns = 10 * RW_MS;
}

static inline void rworld_init(struct rworld *w, bool evidence)
{
	int32_t pid = 100;
	uint64_t t;
	int i;

	rw_header(w, pid, "srv", "/usr/bin/srv -x");
	assert_true(capdata_mapping(&w->cd, 0x7f0000000000ULL, 0x7f0000100000ULL, 0, "/usr/lib/libc.so.6",
				    "aaaa0000bbbb") == 0);
	assert_true(capdata_mapping(&w->cd, 0x400000ULL, 0x500000ULL, 0, "/usr/bin/srv", "1234abcd") == 1);

	uint32_t k_futex = RW_STACK(w, true, "entry_SYSCALL_64", "futex_wait_queue", "schedule");
	uint32_t k_fault = RW_STACK(w, true, "asm_exc_page_fault", "rwsem_down_read_slowpath", "schedule");
	uint32_t k_io = RW_STACK(w, true, "entry_SYSCALL_64", "io_schedule", "schedule");
	uint32_t k_sleep = RW_STACK(w, true, "entry_SYSCALL_64", "do_nanosleep", "schedule");
	uint32_t k_mmap = RW_STACK(w, true, "entry_SYSCALL_64", "vm_mmap_pgoff", "clear_page_erms");
	uint32_t u_queue = rw_stack(&w->cd, (const char *const[]){ "start_thread", "worker_main", "queue_pop" },
				    3, false, 1);
	uint32_t u_fault = rw_stack(&w->cd, (const char *const[]){ "start_thread", "worker_main", "memcpy" },
				    3, false, 1);
	uint32_t u_disk = rw_stack(&w->cd, (const char *const[]){ "start_thread", RW_HOSTILE_1, RW_HOSTILE_2 },
				   3, false, 1);
	uint32_t u_alloc = rw_stack(&w->cd, (const char *const[]){ "start_thread", "alloc_main", "grow" },
				    3, false, 1);
	int64_t alloc = capdata_thread(&w->cd, 100, 110, "alloc"), disk = capdata_thread(&w->cd, 100, 120, "disk");

	assert_true(alloc >= 0 && disk >= 0);
	for (i = 0; i < 4; i++) {
		int64_t wt = capdata_thread(&w->cd, 100, 101 + i, "worker");

		assert_true(wt >= 0);
		for (t = 0; t < 10 * RW_S; t += 100 * RW_MS) {
			if (evidence && t >= 6 * RW_S - 100 * RW_MS && t < 7 * RW_S)
				continue;
			rw_block(w, (uint32_t)wt, u_queue, k_futex, CAP_STATE_SLEEPING, CAP_WAIT_FUTEX, t + 20 * RW_MS,
				 60 * RW_MS);
		}
		if (evidence)
			rw_block(w, (uint32_t)wt, u_fault, k_fault, CAP_STATE_UNINTERRUPTIBLE, CAP_WAIT_MMAP_LOCK,
				 6 * RW_S, RW_S);
	}
	for (t = 0; t < 10 * RW_S; t += 500 * RW_MS)
		rw_block(w, (uint32_t)disk, u_disk, k_io, CAP_STATE_UNINTERRUPTIBLE, CAP_WAIT_NONE, t, 200 * RW_MS);
	for (t = 0; t < 10 * RW_S; t += 200 * RW_MS) {
		if (evidence && t >= 6 * RW_S - 200 * RW_MS && t < 7 * RW_S)
			continue;
		rw_block(w, (uint32_t)alloc, u_alloc, k_sleep, CAP_STATE_SLEEPING, CAP_WAIT_NONE, t, 100 * RW_MS);
	}
	assert_int_equal(capdata_add_drop(&w->cd, "ringbuf_full", 3), 0);
	assert_int_equal(capdata_add_drop(&w->cd, "kstack_collision", 0), 0);
	if (evidence) {
		struct cap_hold h = { .thread = (uint32_t)alloc, .mm_pid = 100, .mode = CAP_HOLD_WRITE,
				      .start_ns = RW_T0 + 6 * RW_S, .dur_ns = RW_S, .ustack = u_alloc,
				      .kstack = k_mmap, .in_syscall = true, .syscall = 9,
				      .args = { 0, 3ULL << 30, 3, 0x22 } };

		assert_int_equal(capdata_add_hold(&w->cd, &h), 0);
		for (t = 6 * RW_S; t < 7 * RW_S; t += 10 * RW_MS) {
			struct cap_sample s = { .thread = (uint32_t)alloc, .ts_ns = RW_T0 + t, .ustack = u_alloc,
						.kstack = k_mmap };

			assert_int_equal(capdata_add_sample(&w->cd, &s), 0);
		}
		for (t = 0; t < 10 * RW_S; t += 50 * RW_MS) {
			struct cap_mem m = { .pid = 100, .ts_ns = RW_T0 + t, .rss_bytes = 100ULL << 20 };

			if (t >= 6 * RW_S)
				m.rss_bytes += (3ULL << 30) * (t >= 7 * RW_S ? RW_S : t - 6 * RW_S) / RW_S;
			assert_int_equal(capdata_add_mem(&w->cd, &m), 0);
		}
		w->cd.window.trigger_mono_ns = RW_T0 + 7 * RW_S;
	}
	assert_int_equal(aggregate_build(&w->agg, &w->cd), 0);
}

/* The demo's incident in small: pid 200 "svc" over a 10 s window (10 ms samples).
 *   - 2 "http" threads wait for work in epoll_wait (idle): one since 12 s
 *     before the window, all through it (CAP_BLOCK_BEGAN_BEFORE, 22 s, 10 s
 *     of it inside); the other 900 ms every second: 19 s idle in the window;
 *   - "worker" (tid 202) waits 2 s for the mmap_lock (D state): the cause,
 *     smaller than the idle time;
 *   - "cruncher" (tid 203) runs on-CPU for 3 s (300 samples in hash_block),
 *     without a block: only its samples say so. */
#define RW_CAUSE_IDLE_MS 19000.0
#define RW_CAUSE_LOCK_MS 2000.0
#define RW_CAUSE_ONCPU_MS 3000.0

static inline void rworld_cause_init(struct rworld *w)
{
	int32_t pid = 200;
	uint64_t t;

	rw_header(w, pid, "svc", "/usr/bin/svc");

	uint32_t k_epoll = RW_STACK(w, true, "entry_SYSCALL_64", "do_epoll_wait", "schedule");
	uint32_t k_lock = RW_STACK(w, true, "asm_exc_page_fault", "lock_mm_and_find_vma",
				   "rwsem_down_read_slowpath", "schedule");
	uint32_t u_http = RW_STACK(w, false, "start_thread", "http_main", "epoll_wait");
	uint32_t u_worker = RW_STACK(w, false, "start_thread", "worker_main", "memcpy");
	uint32_t u_crunch = RW_STACK(w, false, "start_thread", "crunch_main", "hash_block");
	struct capbuild b = cb_of(&w->cd);
	uint32_t h1 = cb_thread(&b, 200, 200, "http"), h2 = cb_thread(&b, 200, 201, "http");
	uint32_t wk = cb_thread(&b, 200, 202, "worker"), cr = cb_thread(&b, 200, 203, "cruncher");
	struct cap_block blk = { .thread = h1, .ustack = u_http, .kstack = k_epoll, .state = CAP_STATE_SLEEPING,
				 .in_syscall = true, .syscall = 232, .start_ns = RW_T0 - 12 * RW_S,
				 .dur_ns = 22 * RW_S, .flags = CAP_BLOCK_BEGAN_BEFORE | CAP_BLOCK_IN_PROGRESS };

	cb_block(&b, &blk);
	w->offcpu_ns += blk.dur_ns;
	w->nblocks++;
	blk.thread = h2;
	blk.flags = 0;
	for (t = 0; t < 10 * RW_S; t += RW_S) {
		blk.start_ns = RW_T0 + t + 50 * RW_MS;
		blk.dur_ns = 900 * RW_MS;
		cb_block(&b, &blk);
		w->offcpu_ns += blk.dur_ns;
		w->nblocks++;
	}
	blk = (struct cap_block){ .thread = wk, .ustack = u_worker, .kstack = k_lock,
				  .state = CAP_STATE_UNINTERRUPTIBLE, .wait_kind = CAP_WAIT_MMAP_LOCK,
				  .wait_obj = 0xffff888000001000ULL, .start_ns = RW_T0 + 4 * RW_S, .dur_ns = 2 * RW_S };
	cb_block(&b, &blk);
	w->offcpu_ns += blk.dur_ns;
	w->nblocks++;
	for (t = 5 * RW_S; t < 8 * RW_S; t += 10 * RW_MS)
		cb_sample(&b, cr, RW_T0 + t, u_crunch, ST_NO_STACK);
	assert_int_equal(capdata_add_drop(&w->cd, "ringbuf_full", 0), 0);
	assert_int_equal(aggregate_build(&w->agg, &w->cd), 0);
}

static inline void rworld_free(struct rworld *w)
{
	aggregate_release(&w->agg);
	capdata_free(&w->cd);
}

/* Runs a renderer into a string (the caller frees it). */
#define RW_RENDER(buf, call) \
	do { \
		size_t len_ = 0; \
		FILE *f = open_memstream(&(buf), &len_); \
		assert_non_null(f); \
		assert_int_equal((call), 0); \
		assert_int_equal(fclose(f), 0); \
	} while (0)

static inline size_t rw_count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

/* Every data-t="..." value holds no raw < > " and only &-entities: what came
 * from the capture cannot open a tag or leave its attribute. */
static inline void rw_assert_attrs_escaped(const char *svg)
{
	const char *p = svg;

	while ((p = strstr(p, "data-t=\""))) {
		const char *e = strchr(p + 8, '"');

		assert_non_null(e);
		for (const char *q = p + 8; q < e; q++) {
			assert_false(*q == '<' || *q == '>');
			if (*q == '&')
				assert_true(strncmp(q, "&lt;", 4) == 0 || strncmp(q, "&gt;", 4) == 0 ||
					    strncmp(q, "&amp;", 5) == 0 || strncmp(q, "&quot;", 6) == 0 ||
					    strncmp(q, "&#39;", 5) == 0 || strncmp(q, "&#10;", 5) == 0);
		}
		p = e + 1;
	}
}

/* The only scripts are ours: no hostile name opened one. */
static inline void rw_assert_no_injection(const char *doc)
{
	assert_null(strstr(doc, RW_HOSTILE_1));
	assert_null(strstr(doc, "<script>"));
	assert_null(strstr(doc, "alert(1)</script>"));
	assert_non_null(strstr(doc, "evil&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	/* CDATA sections close only where we close them. */
	assert_int_equal(rw_count(doc, "]]>"), rw_count(doc, "<![CDATA["));
}

#endif /* STALLTRAP_TEST_RENDER_WORLD_H */
