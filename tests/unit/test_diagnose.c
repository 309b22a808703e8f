/* test_diagnose.c: unit tests of the diagnose stage: one hand-built capture per verdict kind and per trap, table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"
#include "diagnose/classify.h"
#include "diagnose/diagnose.h"
#include "lib/capbuild.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S)          /* window start */
#define PID 4242
#define GIB (1ull << 30)
#define MIB (1ull << 20)

/* ---- a small language for hand-built captures ---- */

static struct capdata *W; /* the capture being built */

/* "a;b@;c": frames root first; a name ending in '@' is libc's (its mapping
 * is libc.so.6, which summaries skip when naming the caller). */
static uint32_t stack_of(bool kernel, const char *names)
{
	struct capbuild b = cb_of(W);

	b.libc_map = cb_mapping(&b, 0x7f0000000000ull, 0x7f0000200000ull, 0,
				"/usr/lib/x86_64-linux-gnu/libc.so.6", NULL);
	return cb_stack(&b, kernel, names);
}

/* "start_thread;worker;pthread_mutex_lock;__lll_lock_wait", root first */
static uint32_t U(const char *names)
{
	return stack_of(false, names);
}

static uint32_t K(const char *names)
{
	return stack_of(true, names);
}

static uint32_t thread(int32_t tid, const char *comm)
{
	struct capbuild b = cb_of(W);

	return cb_thread(&b, PID, tid, comm);
}

/* a thread of another process (of the target, unless marked outside) */
static uint32_t thread_p(int32_t pid, int32_t tid, const char *comm)
{
	struct capbuild b = cb_of(W);

	return cb_thread(&b, pid, tid, comm);
}

static uint32_t outside_thread(int32_t pid, int32_t tid, const char *comm)
{
	struct capbuild b = cb_of(W);
	uint32_t id = cb_thread(&b, pid, tid, comm);

	W->threads[id].outside = true;
	return id;
}

struct blk {
	uint32_t thread, ustack, kstack;
	uint8_t state;
	uint64_t start_ms, dur_ms;
	int32_t syscall;          /* -1: not in a syscall */
	uint8_t wait_kind, lock_flags;
	uint64_t wait_obj;
	int64_t waker;            /* -1: none */
	uint32_t waker_ustack, waker_kstack;
	uint64_t waker_ms;        /* when it was woken (0: at its end) */
	uint64_t woken_ms;        /* when it was woken, waker or none (0: the waker's, if any) */
	int64_t taker;            /* the outside thread on its CPU while it waited runnable (-1: none) */
	bool in_progress, began_before, woken_irq;
};

static void block(struct blk b)
{
	struct cap_block cb = {
		.thread = b.thread, .ustack = b.ustack, .kstack = b.kstack, .state = b.state,
		.flags = (b.in_progress ? CAP_BLOCK_IN_PROGRESS : 0) | (b.began_before ? CAP_BLOCK_BEGAN_BEFORE : 0) |
			 (b.woken_irq ? CAP_BLOCK_WOKEN_IRQ : 0),
		.waker_ns = b.waker >= 0 && b.waker_ms ? T0 + b.waker_ms * MS : 0,
		/* as record and the reader have it: a waker's wakeup is the block's */
		.woken_ns = b.woken_ms ? T0 + b.woken_ms * MS : b.waker >= 0 && b.waker_ms ? T0 + b.waker_ms * MS : 0,
		.start_ns = T0 + b.start_ms * MS, .dur_ns = b.dur_ms * MS,
		.in_syscall = b.syscall >= 0, .syscall = b.syscall >= 0 ? b.syscall : 0,
		.wait_kind = b.wait_kind, .lock_flags = b.lock_flags, .wait_obj = b.wait_obj,
		.has_waker = b.waker >= 0, .waker = b.waker >= 0 ? (uint32_t)b.waker : 0,
		.waker_ustack = b.waker >= 0 ? b.waker_ustack : 0,
		.waker_kstack = b.waker >= 0 ? b.waker_kstack : 0,
		.has_taker = b.taker >= 0, .taker = b.taker >= 0 ? (uint32_t)b.taker : 0, .taker_samples = b.taker >= 0 ? 40 : 0,
	};
	struct capbuild cbld = cb_of(W);

	cb_block(&cbld, &cb);
}

/* B(...) starts from the fields that are rarely zero in a real block and
 * lets the case override them: designated initializers given twice, on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define B(...) block((struct blk){ .ustack = ST_NO_STACK, .kstack = ST_NO_STACK, .syscall = -1, \
				   .waker = -1, .taker = -1, __VA_ARGS__ })

/* nvcsw: the thread's voluntary switches at the first sample (0: not
 * recorded), growing by nv_step at each sample after it */
static void samples_nv(uint32_t t, uint64_t from_ms, uint64_t to_ms, uint64_t every_ms, uint32_t us,
		       uint32_t ks, uint64_t nvcsw, uint64_t nv_step)
{
	struct capbuild b = cb_of(W);
	uint64_t ms;

	for (ms = from_ms; ms < to_ms; ms += every_ms, nvcsw += nv_step)
		cb_sample_nv(&b, t, T0 + ms * MS, us, ks, nvcsw);
}

static void samples(uint32_t t, uint64_t from_ms, uint64_t to_ms, uint64_t every_ms, uint32_t us,
		    uint32_t ks)
{
	samples_nv(t, from_ms, to_ms, every_ms, us, ks, 0, 0);
}

static void hold(uint32_t t, uint8_t mode, uint64_t start_ms, uint64_t dur_ms, int32_t sys,
		 uint64_t a1, uint64_t a2, uint64_t a3, uint32_t us, uint32_t ks)
{
	struct cap_hold h = {
		.thread = t, .mm_pid = PID, .mode = mode, .start_ns = T0 + start_ms * MS,
		.dur_ns = dur_ms * MS, .ustack = us, .kstack = ks, .in_syscall = sys >= 0,
		.syscall = sys >= 0 ? sys : 0, .args = { 0, a1, a2, a3 },
	};
	struct capbuild b = cb_of(W);

	cb_hold(&b, &h);
}

static void mem(uint64_t ms, uint64_t rss, uint64_t vsz)
{
	struct capbuild b = cb_of(W);

	cb_mem(&b, PID, T0 + ms * MS, rss, vsz);
}

enum { SLEEP = 0, DSTATE = 1, RUNNABLE = 2 };
enum { NR_read = 0, NR_poll = 7, NR_mmap = 9, NR_mprotect = 10, NR_accept = 43, NR_clone = 56, NR_fcntl = 72,
       NR_flock = 73, NR_fsync = 74, NR_futex = 202, NR_clock_nanosleep = 230, NR_epoll_wait = 232,
       NR_pselect6 = 270 };

/* Common stacks */
#define K_FUTEX "entry_SYSCALL_64;do_syscall_64;__x64_sys_futex;do_futex;futex_wait;futex_do_wait;schedule;__schedule"
#define K_WAKE "entry_SYSCALL_64;do_syscall_64;__x64_sys_futex;do_futex;futex_wake;wake_up_q;try_to_wake_up"
#define K_MMAP_WAIT "entry_SYSCALL_64;do_syscall_64;vm_mmap_pgoff;down_write_killable;rwsem_down_write_slowpath;schedule;__schedule"
#define K_SLEEP "entry_SYSCALL_64;do_syscall_64;__x64_sys_clock_nanosleep;hrtimer_nanosleep;do_nanosleep;schedule;__schedule"
#define K_EPOLL "entry_SYSCALL_64;do_syscall_64;__x64_sys_epoll_wait;do_epoll_wait;ep_poll;schedule_hrtimeout_range;schedule;__schedule"
#define K_PREEMPT "asm_sysvec_apic_timer_interrupt;irqentry_exit_to_user_mode;schedule;__schedule"

static void window(uint64_t dur_ms)
{
	int32_t pid = PID;

	assert_int_equal(capdata_set_target(W, &pid, 1, "svc", "/usr/bin/svc"), 0);
	W->window.start_mono_ns = T0;
	W->window.duration_ns = dur_ms * MS;
	W->window.min_block_ns = 1 * MS;
	W->window.sample_period_ns = 10 * MS;
	W->window.hold_threshold_ns = 10 * MS;
}

/* ---- the cases ---- */

/* The issue's origin story: one thread holds mmap_lock for read for 6 s
 * inside mmap(3 GiB, MAP_POPULATE); six threads queue on it. */
static void build_mmap_populate(void)
{
	uint32_t holder = thread(4250, "indexer"), i;
	uint32_t hu = U("__clone3@;start_thread@;main;rebuild_index;__mmap@");
	uint32_t hk = K("entry_SYSCALL_64;do_syscall_64;vm_mmap_pgoff;__mm_populate;__mmap_lock_do_trace_released");
	uint32_t wu = U("__clone3@;start_thread@;handle;malloc@;__mmap@"), wk = K(K_MMAP_WAIT);

	window(10000);
	for (i = 0; i < 6; i++) {
		uint32_t t = thread(4260 + (int32_t)i, "worker");

		B(.thread = t, .ustack = wu, .kstack = wk, .state = DSTATE, .start_ms = 1000 + i * 10,
		  .dur_ms = 3000 - i * 10, .syscall = NR_mmap, .wait_kind = CAP_WAIT_MMAP_LOCK,
		  .lock_flags = CAP_LCB_WRITE, .wait_obj = 0xffff888000aa0000ull);
	}
	hold(holder, CAP_HOLD_READ, 900, 6000, NR_mmap, 3 * GIB, 3, 0x8022, hu, hk);
	{
		struct cap_hold_total t = { .thread = holder, .mm_pid = PID, .hold_ns = 6000 * MS,
					    .holds = 3, .read_ns = 6000 * MS };

		assert_int_equal(capdata_add_hold_total(W, &t), 0);
	}
	mem(800, 1 * GIB, 2 * GIB);
	mem(3000, 2 * GIB, 5 * GIB);
	mem(7000, 4 * GIB, 5 * GIB);
}

/* Many 9 ms mprotect holds back to back block as surely as one long one. */
static void build_mmap_mprotect(void)
{
	uint32_t holder = thread(7, "guard"), a = thread(8, "alloc"), b = thread(9, "alloc"), i;
	uint32_t hu = U("__clone3@;start_thread@;guard_main;toggle_guard;__mprotect@");
	uint32_t hk = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_mprotect;do_mprotect_pkey");
	uint32_t wu = U("__clone3@;start_thread@;alloc_main;__mmap@"), wk = K(K_MMAP_WAIT);

	window(3000);
	for (i = 0; i < 200; i++) {
		hold(holder, CAP_HOLD_WRITE, 100 + i * 10, 9, NR_mprotect, 256 * MIB, 1, 0, hu, hk);
		B(.thread = i % 2 ? a : b, .ustack = wu, .kstack = wk, .state = DSTATE,
		  .start_ms = 101 + i * 10, .dur_ms = 8, .syscall = NR_mmap,
		  .wait_kind = CAP_WAIT_MMAP_LOCK, .lock_flags = CAP_LCB_WRITE, .wait_obj = 0xffff1000);
	}
}

/* The holder is outside the target (khugepaged): reported with its pid. */
static void build_mmap_outside(void)
{
	uint32_t kh = outside_thread(77, 77, "khugepaged"), t = thread(4243, "worker");
	uint32_t none = (uint32_t)capdata_stack(W, NULL, 0, CAP_STACK_NONE);
	uint32_t hk = K("kthread;khugepaged;collapse_huge_page;__mmap_lock_do_trace_released");

	window(5000);
	B(.thread = t, .ustack = U("start_thread@;fault_in"), .kstack = K(K_MMAP_WAIT), .state = DSTATE,
	  .start_ms = 1000, .dur_ms = 2000, .wait_kind = CAP_WAIT_MMAP_LOCK,
	  .lock_flags = CAP_LCB_READ, .wait_obj = 0xffff2000);
	hold(kh, CAP_HOLD_WRITE, 990, 2100, -1, 0, 0, 0, none, hk);
}

/* Without hold records (an older capture), the waker is the holder. */
static void build_mmap_waker(void)
{
	uint32_t h = thread(50, "loader"), t = thread(51, "worker");
	uint32_t hu = U("start_thread@;load_all;munmap@"), hk = K("do_syscall_64;__vm_munmap;up_write;rwsem_wake;wake_up_q");

	window(5000);
	B(.thread = t, .ustack = U("start_thread@;w;__mmap@"), .kstack = K(K_MMAP_WAIT), .state = DSTATE,
	  .start_ms = 1000, .dur_ms = 1500, .wait_kind = CAP_WAIT_MMAP_LOCK, .wait_obj = 0xffff3000,
	  .waker = h, .waker_ustack = hu, .waker_kstack = hk);
}

/* --no-locks: no wait_kind, but the kernel stack shows an rwsem taken by mmap. */
static void build_mmap_no_locks(void)
{
	uint32_t t = thread(60, "worker"), u = thread(61, "worker");

	window(5000);
	B(.thread = t, .ustack = U("start_thread@;w;__mmap@"), .kstack = K(K_MMAP_WAIT), .state = DSTATE,
	  .start_ms = 1000, .dur_ms = 800, .syscall = NR_mmap);
	B(.thread = u, .ustack = U("start_thread@;w;__mmap@"), .kstack = K(K_MMAP_WAIT), .state = DSTATE,
	  .start_ms = 1000, .dur_ms = 700, .syscall = NR_mmap);
}

/* A slow thread holds a mutex; waiters hand it on to each other, so only the
 * first one is woken by the real holder: blame must still find the holder. */
static void build_futex_chain(void)
{
	uint32_t slow = thread(100, "slow"), w[4], i;
	uint32_t su = U("__clone3@;start_thread@;slow_main;rebuild_cache_locked;__GI___pthread_mutex_unlock_usercnt@;__GI___lll_lock_wake@");
	uint32_t wu = U("__clone3@;start_thread@;worker;handle_request;__pthread_mutex_lock@;__GI___lll_lock_wait@");
	uint32_t wrk_unlock = U("__clone3@;start_thread@;worker;handle_request;__GI___pthread_mutex_unlock_usercnt@");
	uint32_t wk = K(K_FUTEX), kw = K(K_WAKE);

	window(4000);
	for (i = 0; i < 4; i++)
		w[i] = thread(101 + (int32_t)i, "worker");
	/* slow holds 1000..2500; w0 waits from 1100, woken by slow at 2500;
	 * w1 from 1200 to 2501 woken by w0; w2 woken by w1; w3 by w2 */
	for (i = 0; i < 4; i++)
		B(.thread = w[i], .ustack = wu, .kstack = wk, .state = SLEEP, .start_ms = 1100 + i * 100,
		  .dur_ms = 1400 - i * 100 + i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000001000ull, .waker = i ? w[i - 1] : slow,
		  .waker_ustack = i ? wrk_unlock : su, .waker_kstack = kw);
}

/* Mutex waiters still waiting at the end: futex, holder unknown. */
static void build_futex_in_progress(void)
{
	uint32_t wu = U("start_thread@;worker;pthread_mutex_lock@;__lll_lock_wait@"), wk = K(K_FUTEX), i;

	window(3000);
	for (i = 0; i < 3; i++)
		B(.thread = thread(200 + (int32_t)i, "worker"), .ustack = wu, .kstack = wk, .state = SLEEP,
		  .start_ms = 1000, .dur_ms = 2000, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000002000ull, .in_progress = true);
}

/* Three I/O threads parked, each on its own mutex, the whole window (the
 * main thread holds them to keep the threads idle under low load, as
 * Redis's io-threads do), beside an event loop serving: none. With a second
 * thread queued on one of them since before the window: still a lock
 * nobody released (app_lock, holder unknown). */
static void parked_mutexes(bool queued)
{
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@"), m = thread(PID, "kvstore"), i;
	uint32_t wu = U("start_thread@;IOThreadMain;pthread_mutex_lock@;__lll_lock_wait@");

	window(4000);
	for (i = 0; i < 30; i++)
		B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 130,
		  .dur_ms = 120, .syscall = NR_epoll_wait, .woken_irq = true);
	for (i = 0; i < (queued ? 4u : 3u); i++)
		B(.thread = thread(PID + 40 + (int32_t)i, "io_thd"), .ustack = wu, .kstack = K(K_FUTEX),
		  .state = SLEEP, .start_ms = 0, .dur_ms = 4000, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000500000ull + 64 * (i % 3), .began_before = true, .in_progress = true);
}

static void build_parked_mutexes(void)
{
	parked_mutexes(false);
}

static void build_parked_queued(void)
{
	parked_mutexes(true);
}

/* A file's inode lock, held by a writer whose source page faults from a slow disk. */
static void build_kernel_lock(void)
{
	uint32_t slow = thread(300, "slow"), i;
	uint32_t wk = K("entry_SYSCALL_64;do_syscall_64;ksys_write;vfs_write;ext4_buffered_write_iter;down_write;rwsem_down_write_slowpath;schedule;__schedule");
	uint32_t hk = K("entry_SYSCALL_64;do_syscall_64;ksys_write;vfs_write;ext4_buffered_write_iter;up_write;rwsem_wake;wake_up_q;try_to_wake_up");
	uint32_t hu = U("start_thread@;slow_main;append_from_cold_page;__write@");
	uint32_t ik = K("entry_SYSCALL_64;do_syscall_64;ksys_write;vfs_write;ext4_buffered_write_iter;generic_perform_write;fault_in_readable;asm_exc_page_fault;filemap_fault;folio_wait_bit_common;io_schedule;schedule;__schedule");
	uint32_t prev = slow;

	window(3000);
	B(.thread = slow, .ustack = hu, .kstack = ik, .state = DSTATE, .start_ms = 300, .dur_ms = 1500,
	  .syscall = 1);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(301 + (int32_t)i, "logger");

		B(.thread = t, .ustack = U("start_thread@;logger_main;log_record;__write@"), .kstack = wk,
		  .state = DSTATE, .start_ms = 400 + i, .dur_ms = 1400 - i, .syscall = 1,
		  .wait_kind = CAP_WAIT_KERNEL_LOCK, .lock_flags = CAP_LCB_WRITE,
		  .wait_obj = 0xffff888100000010ull, .waker = prev, .waker_ustack = prev == slow ? hu : U("start_thread@;logger_main;log_record;__write@"),
		  .waker_kstack = hk);
		prev = t;
	}
}

/* Writers on fsync to a slow disk: io; the culprit issued the most I/O. */
static void build_io(void)
{
	uint32_t ku = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fsync;do_fsync;vfs_fsync_range;ext4_sync_file;file_write_and_wait_range;__filemap_fdatawait_range;folio_wait_writeback;folio_wait_bit_common;io_schedule;schedule;__schedule");
	uint32_t u = U("start_thread@;writer_main;persist_batch;fsync@"), i;

	window(3000);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(400 + (int32_t)i, "writer");

		W->threads[t].io_bytes = (i + 1) * 10 * MIB;
		W->threads[t].io_count = 10 + i;
		B(.thread = t, .ustack = u, .kstack = ku, .state = DSTATE, .start_ms = 100, .dur_ms = 600,
		  .syscall = NR_fsync);
	}
}

/* A cpu quota: three threads throttled (runnable) most of the time; the
 * hasher that ran meanwhile took the CPU. */
static void build_runqueue(void)
{
	uint32_t h = thread(500, "hasher"), a = thread(501, "ticker"), b = thread(502, "ticker");
	uint32_t hu = U("start_thread@;hasher_main;crunch_batch"), kp = K(K_PREEMPT), i;

	window(2000);
	for (i = 0; i < 20; i++) {
		/* every 100 ms: 20 ms of CPU (the hasher's), then 80 ms throttled */
		samples(h, i * 100, i * 100 + 20, 10, hu, ST_NO_STACK);
		B(.thread = h, .ustack = hu, .kstack = kp, .state = RUNNABLE, .start_ms = i * 100 + 20,
		  .dur_ms = 80);
		B(.thread = a, .ustack = U("start_thread@;tick"), .kstack = kp, .state = RUNNABLE,
		  .start_ms = i * 100, .dur_ms = 95);
		B(.thread = b, .ustack = U("start_thread@;tick"), .kstack = kp, .state = RUNNABLE,
		  .start_ms = i * 100, .dur_ms = 95);
	}
}

/* A busy event loop preempted now and then (a noisy machine): its runnable
 * waits belong to its busy run, the verdict is cpu_busy. */
static void build_busy(void)
{
	uint32_t t = thread(PID, "loop"), i;
	uint32_t bu = U("_start;__libc_start_main@;main;compute_digest");

	window(3000);
	B(.thread = t, .ustack = U("_start;main;poll@"), .kstack = K("do_syscall_64;do_sys_poll;schedule"),
	  .state = SLEEP, .start_ms = 0, .dur_ms = 200, .syscall = NR_poll);
	samples(t, 210, 2400, 10, bu, ST_NO_STACK);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = bu, .kstack = K(K_PREEMPT), .state = RUNNABLE,
		  .start_ms = 300 + i * 200, .dur_ms = 60);
	B(.thread = t, .ustack = U("_start;main;poll@"), .kstack = K("do_syscall_64;do_sys_poll;schedule"),
	  .state = SLEEP, .start_ms = 2410, .dur_ms = 500, .syscall = NR_poll);
}

/* A thread "running" 2 s but on-CPU 10 % of it is starved, not busy. */
static void build_starved(void)
{
	uint32_t t = thread(PID, "loop");
	uint32_t bu = U("main;compute_digest"), i;

	window(3000);
	/* 10 ms on-CPU in every 100 ms: sampled once, then runnable for 90 ms */
	for (i = 0; i < 20; i++) {
		samples(t, i * 100 + 5, i * 100 + 6, 10, bu, ST_NO_STACK);
		B(.thread = t, .ustack = bu, .kstack = K(K_PREEMPT), .state = RUNNABLE,
		  .start_ms = i * 100 + 10, .dur_ms = 90);
	}
}

/* An event loop whose CPU a real-time task holds: each poll is woken by a
 * client within a millisecond (an interrupt), and the thread gets the CPU
 * 949 ms later, when the kernel's RT throttling lets it. Only the wakeups'
 * times tell those waits from its polls for work; its short polls stay idle. */
static void build_woken_not_run(void)
{
	uint32_t m = thread(PID, "kvstore"), pu = U("main;aeMain;aeProcessEvents;epoll_wait@"), i;

	window(4000);
	for (i = 0; i < 3; i++) {
		B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1000 + i * 1000,
		  .dur_ms = 950, .syscall = NR_epoll_wait, .woken_irq = true, .woken_ms = 1001 + i * 1000);
		B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 100 + i * 10,
		  .dur_ms = 5, .syscall = NR_epoll_wait, .woken_irq = true, .woken_ms = 104 + i * 10);
	}
}

/* The same, the sampler having seen a real-time busy loop on the loop's
 * CPU while it waited there: that loop is who took the CPU. */
static void build_woken_cpu_taken(void)
{
	uint32_t m = thread(PID, "kvstore"), pu = U("main;aeMain;aeProcessEvents;epoll_wait@"), i;
	uint32_t hog = outside_thread(9100, 9100, "spin"), other = outside_thread(9200, 9200, "cron");

	window(4000);
	for (i = 0; i < 3; i++)
		B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1000 + i * 1000,
		  .dur_ms = 950, .syscall = NR_epoll_wait, .woken_irq = true, .woken_ms = 1001 + i * 1000,
		  .taker = i < 2 ? hog : other);
}

/* The same, its cgroup's cpu.stat read every 200 ms: throttled 180 ms in
 * 2 periods each time (10 ms of CPU per 100 ms). A read that ended before
 * the window is not of it. */
static void build_throttled(void)
{
	uint32_t i;

	build_starved();
	for (i = 0; i < 11; i++) {
		struct cap_throttle r = { .cgroup = "/kubepods/burstable/pod7", .from_ns = T0 + i * 200 * MS - 200 * MS,
					  .ts_ns = T0 + i * 200 * MS - 10 * MS, .throttled_ns = 180 * MS, .periods = 2,
					  .quota_us = 10000, .period_us = 100000 };

		assert_int_equal(capdata_add_throttle(W, &r), 0);
	}
}

/* The busy loop under a CPU quota: its runnable gaps were the quota's. */
static void build_busy_throttled(void)
{
	build_busy();
	assert_int_equal(capdata_add_throttle(W, &(struct cap_throttle){ .cgroup = "/svc", .from_ns = T0 + 500 * MS,
		.ts_ns = T0 + 700 * MS, .throttled_ns = 300 * MS, .periods = 5, .quota_us = 40000,
		.period_us = 100000 }), 0);
}

/* Direct reclaim under a memcg limit, even when it waits on writeback (an
 * I/O wait inside reclaim is still reclaim). */
static void build_reclaim(void)
{
	uint32_t rk = K("entry_SYSCALL_64;do_syscall_64;ksys_pwrite64;vfs_write;generic_perform_write;filemap_add_folio;__mem_cgroup_charge;try_charge_memcg;try_to_free_mem_cgroup_pages;do_try_to_free_pages;shrink_node;shrink_lruvec;shrink_folio_list;folio_wait_writeback;io_schedule;schedule");
	uint32_t u = U("start_thread@;ingest_main;ingest_chunk;pwrite@"), i, j;

	window(3000);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(600 + (int32_t)i, "ingest");

		for (j = 0; j < 20; j++)
			B(.thread = t, .ustack = u, .kstack = rk, .state = DSTATE, .start_ms = j * 100,
			  .dur_ms = 30, .syscall = 18);
		samples(t, 50, 1000, 100, u, rk);
	}
}

/* An idle pool (condvar waits woken by a dispatcher, seconds of them) with a
 * mutex stall on top: the idle waits must not win. */
static void build_pool_stall(void)
{
	uint32_t disp = thread(700, "dispatch"), fl = thread(701, "flusher"), i, j;
	uint32_t cu = U("start_thread@;pool_main;pthread_cond_wait@;__futex_abstimed_wait_common@");
	uint32_t mu = U("start_thread@;pool_main;run_task;__pthread_mutex_lock@;__GI___lll_lock_wait@");
	uint32_t du = U("start_thread@;dispatcher_main;__pthread_cond_signal@");
	uint32_t fu = U("start_thread@;flusher_main;flush_state_locked;__pthread_mutex_unlock@");
	uint32_t wk = K(K_FUTEX), kw = K(K_WAKE);

	window(3000);
	for (i = 0; i < 8; i++) {
		uint32_t t = thread(710 + (int32_t)i, "pool");

		/* one task at a time: thread i's wait ends at 100 i + 50 ms of each second */
		for (j = 0; j < 3; j++)
			B(.thread = t, .ustack = cu, .kstack = wk, .state = SLEEP, .start_ms = j * 1000,
			  .dur_ms = 100 * i + 40, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
			  .wait_obj = 0x7f00000c0000ull, .waker = disp, .waker_ustack = du, .waker_kstack = kw);
		if (i < 2)
			B(.thread = t, .ustack = mu, .kstack = wk, .state = SLEEP, .start_ms = 1000 + i,
			  .dur_ms = 600, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
			  .wait_obj = 0x7f00000d0000ull, .waker = fl, .waker_ustack = fu, .waker_kstack = kw);
	}
	B(.thread = thread(PID, "main"), .ustack = U("main;epoll_wait@"), .kstack = K(K_EPOLL),
	  .state = SLEEP, .start_ms = 0, .dur_ms = 3000, .syscall = NR_epoll_wait, .in_progress = true);
}

/* A healthy idle service: epoll, sleeps, condvar waits. */
static void build_idle(void)
{
	uint32_t i;

	window(3000);
	B(.thread = thread(PID, "main"), .ustack = U("main;epoll_wait@"), .kstack = K(K_EPOLL),
	  .state = SLEEP, .start_ms = 0, .dur_ms = 3000, .syscall = NR_epoll_wait, .in_progress = true);
	for (i = 0; i < 4; i++)
		B(.thread = thread(800 + (int32_t)i, "pool"),
		  .ustack = U("start_thread@;pool_main;pthread_cond_wait@"), .kstack = K(K_FUTEX),
		  .state = SLEEP, .start_ms = 0, .dur_ms = 3000, .syscall = NR_futex,
		  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000e00000ull, .in_progress = true);
	for (i = 0; i < 30; i++)
		B(.thread = thread(810, "timer"), .ustack = U("start_thread@;timer_main;clock_nanosleep@"),
		  .kstack = K(K_SLEEP), .state = SLEEP, .start_ms = i * 100, .dur_ms = 99,
		  .syscall = NR_clock_nanosleep);
}

/* Futex waits of a binary without symbols, ended by timeouts (no waker):
 * idle. And a short D-state wait of unknown cause: not a verdict. */
static void build_idle_nosyms(void)
{
	uint32_t i, t = thread(900, "w");

	window(3000);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = U("[unknown];[unknown]"), .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = i * 300, .dur_ms = 290, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x1000);
	B(.thread = thread(901, "d"), .kstack = K("kthread;some_driver_wait;schedule"),
	  .state = DSTATE, .start_ms = 10, .dur_ms = 50);
}

/* ---- the whole-capture rules: convoys, dispatchers, event loops, busy children ---- */

#define K_RECV "entry_SYSCALL_64;do_syscall_64;__x64_sys_recvfrom;sock_recvmsg;sk_wait_data;schedule;__schedule"
#define U_COND "start_thread@;handle_connection;mysql_execute_command;MDL_context::acquire_lock;MDL_wait::timed_wait;pthread_cond_timedwait@;__futex_abstimed_wait_common@"
#define U_RECV "start_thread@;handle_connection;do_command;my_net_read;recv@"

/* A session holds a server-wide lock for 4 s while waiting for its own
 * client; four writers queue on it in condvar waits (a relational database's
 * global read lock) and the holder's release wakes them all at once. */
static void build_convoy_condvar(void)
{
	uint32_t h = thread(1000, "conn"), i;
	uint32_t hu = U("start_thread@;handle_connection;do_command;my_net_read;recv@");
	uint32_t ru = U("start_thread@;handle_connection;mysql_execute_command;MDL_context::release_lock;pthread_cond_signal@");

	window(6000);
	B(.thread = h, .ustack = hu, .kstack = K(K_RECV), .state = SLEEP, .start_ms = 100, .dur_ms = 4000,
	  .syscall = 45, .woken_irq = true);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(1010 + (int32_t)i, "conn");

		/* each writer served its client, then queued */
		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 200 + i * 100,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
		B(.thread = t, .ustack = U(U_COND), .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 210 + i * 100, .dur_ms = 3890 - i * 100 + 1, .syscall = NR_futex,
		  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000100000ull + i * 64, .waker = h,
		  .waker_ustack = ru, .waker_kstack = K(K_WAKE), .waker_ms = 4100 + i);
		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 4200,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
	}
}

/* A lock queue: a session holds a table's metadata lock 4 s in an open
 * transaction (waiting for its client), DDL queues behind it and four readers
 * queue behind the DDL. The DDL's wait is a timed wait re-armed every second
 * (a deadlock detector's chunks, each timing out unwoken); the holder's
 * commit ends its last chunk, and the DDL's release the readers' waits. The
 * root of the chain is the holder. */
static void build_lock_queue(void)
{
	uint32_t h = thread(1000, "conn"), d = thread(1001, "conn"), i;
	uint32_t du = U("start_thread@;handle_connection;mysql_execute_command;mysql_alter_table;"
			"MDL_context::upgrade_shared_lock;MDL_context::acquire_lock;MDL_wait::timed_wait;"
			"pthread_cond_timedwait@;__futex_abstimed_wait_common@");
	uint32_t ru = U("start_thread@;handle_connection;mysql_execute_command;MDL_context::release_lock;pthread_cond_signal@");

	window(6000);
	B(.thread = h, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 100, .dur_ms = 4000,
	  .syscall = 45, .woken_irq = true);
	/* the DDL's session and the readers served their clients first */
	B(.thread = d, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 480, .dur_ms = 5,
	  .syscall = 45, .woken_irq = true);
	for (i = 0; i < 4; i++)
		B(.thread = d, .ustack = du, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 500 + i * 1001,
		  .dur_ms = i < 3 ? 1000 : 597, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000200000ull, .waker = i < 3 ? -1 : (int64_t)h, .waker_ustack = ru,
		  .waker_kstack = K(K_WAKE), .waker_ms = i < 3 ? 0 : 4100);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(1010 + (int32_t)i, "conn");

		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 580 + i * 100,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
		B(.thread = t, .ustack = U(U_COND), .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 600 + i * 100, .dur_ms = 3505 - i * 100, .syscall = NR_futex,
		  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000100000ull + i * 64, .waker = d,
		  .waker_ustack = ru, .waker_kstack = K(K_WAKE), .waker_ms = 4105);
		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 4200,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
	}
}

/* A multi-process database: backends in other processes wait for a table
 * lock in epoll_wait (a latch), woken by a signal from the backend that
 * commits; the holder waited for its client meanwhile. */
static void build_convoy_latch(void)
{
	uint32_t h = thread_p(5000, 5000, "postgres"), i;
	uint32_t lu = U("__libc_start_main@;PostmasterMain;PostgresMain;exec_simple_query;LockAcquireExtended;ProcSleep;WaitLatch;WaitEventSetWait;epoll_wait@");
	uint32_t cu = U("__libc_start_main@;PostmasterMain;PostgresMain;ReadCommand;secure_read;WaitEventSetWait;epoll_wait@");
	uint32_t ru = U("__libc_start_main@;PostmasterMain;PostgresMain;CommitTransaction;ProcReleaseLocks;ProcLockWakeup;SetLatch;kill@");
	int32_t pids[6] = { 5000, 5001, 5002, 5003, 5004, 5005 };

	window(6000);
	assert_int_equal(capdata_set_target(W, pids, 6, "postgres", "postgres"), 0);
	B(.thread = h, .ustack = cu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 50, .dur_ms = 4000,
	  .syscall = NR_epoll_wait, .woken_irq = true);
	/* the checkpointer waits on its latch too: WaitLatch is a wrapper,
	 * and the lock is named by what called it */
	B(.thread = thread_p(5005, 5005, "postgres"),
	  .ustack = U("__libc_start_main@;PostmasterMain;CheckpointerMain;WaitLatch;WaitEventSetWait;epoll_wait@"),
	  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 0, .dur_ms = 5000, .syscall = NR_epoll_wait);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread_p(5001 + (int32_t)i, 5001 + (int32_t)i, "postgres");

		B(.thread = t, .ustack = cu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 100 + i * 10,
		  .dur_ms = 3, .syscall = NR_epoll_wait, .woken_irq = true);
		B(.thread = t, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 110 + i * 10,
		  .dur_ms = 3950 - i * 10, .syscall = NR_epoll_wait, .waker = h, .waker_ustack = ru,
		  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
		  .waker_ms = 4060);
		B(.thread = t, .ustack = cu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 4070, .dur_ms = 3,
		  .syscall = NR_epoll_wait, .woken_irq = true);
	}
}

/* Semi-synchronous commits with no replica: each commit waits for an
 * acknowledgement; the first one's wait times out (3 s), and it switches
 * the wait off, letting the others go. Nobody held a lock. */
static void build_semisync_timeout(void)
{
	uint32_t t[4], i;
	uint32_t cu = U("start_thread@;handle_connection;mysql_execute_command;ha_commit_trans;"
			"Repl_semi_sync_master::wait_after_commit;Repl_semi_sync_master::commit_trx;"
			"pthread_cond_timedwait@;__futex_abstimed_wait_common@");
	uint32_t ru = U("start_thread@;handle_connection;mysql_execute_command;ha_commit_trans;"
			"Repl_semi_sync_master::wait_after_commit;Repl_semi_sync_master::commit_trx;"
			"Repl_semi_sync_master::switch_off;pthread_cond_broadcast@");

	window(6000);
	for (i = 0; i < 4; i++) {
		t[i] = thread(1400 + (int32_t)i, "conn");
		B(.thread = t[i], .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP,
		  .start_ms = 400 + i * 20, .dur_ms = 5, .syscall = 45, .woken_irq = true);
	}
	for (i = 0; i < 4; i++)
		B(.thread = t[i], .ustack = cu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 500 + i * 20,
		  .dur_ms = i ? 3001 - i * 20 : 3000, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000300000ull + i * 64, .waker = i ? (int64_t)t[0] : -1, .waker_ustack = ru,
		  .waker_kstack = K(K_WAKE), .waker_ms = i ? 3501 : 0);
	for (i = 0; i < 4; i++)
		B(.thread = t[i], .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP,
		  .start_ms = 3600 + i * 20, .dur_ms = 5, .syscall = 45, .woken_irq = true);
}

/* A database's log lock (a semaphore) held 3 s by a backend whose write of
 * the log blocked on a frozen filesystem (sb_writers, a percpu rwsem that
 * fsfreeze -f takes for write): the chain goes through that kernel lock to
 * the fsfreeze that thawed it, outside the target. */
static void build_fsfreeze_chain(void)
{
	uint32_t h = thread(1500, "postgres"), f = outside_thread(1600, 1600, "fsfreeze"), i;
	uint32_t lu = U("__libc_start_main@;PostgresMain;CommitTransactionCommand;XLogFlush;LWLockAcquireOrWait;"
			"PGSemaphoreLock;sem_wait@");
	uint32_t ru = U("__libc_start_main@;PostgresMain;CommitTransactionCommand;XLogFlush;LWLockRelease;"
			"PGSemaphoreUnlock;sem_post@");

	window(6000);
	B(.thread = h, .ustack = U("__libc_start_main@;PostgresMain;CommitTransactionCommand;XLogFlush;XLogWrite;pwrite64@"),
	  .kstack = K("entry_SYSCALL_64;do_syscall_64;ksys_pwrite64;vfs_write;__percpu_down_read;percpu_rwsem_wait;"
		      "schedule;__schedule"),
	  .state = DSTATE, .start_ms = 1000, .dur_ms = 3000, .syscall = 18, .wait_kind = CAP_WAIT_KERNEL_LOCK,
	  .lock_flags = CAP_LCB_PERCPU | CAP_LCB_READ, .wait_obj = 0xffff888100cd1a58ull, .waker = f,
	  .waker_ustack = ST_NO_STACK,
	  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_ioctl;thaw_super_locked;percpu_up_write;"
			    "__wake_up;__wake_up_common;percpu_rwsem_wake_function;try_to_wake_up"),
	  .waker_ms = 4000);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(1510 + (int32_t)i, "postgres");

		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 1050 + i * 10,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
		B(.thread = t, .ustack = lu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1100 + i * 10,
		  .dur_ms = 2901 - i * 10, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000400000ull + i * 64, .waker = h, .waker_ustack = ru, .waker_kstack = K(K_WAKE),
		  .waker_ms = 4001);
		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 4100 + i * 10,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
	}
}

/* A PostgreSQL reload relayed to every child: the postmaster, woken in its
 * select by the backend that called pg_reload_conf(), signals the
 * checkpointer, the autovacuum launcher and 3 commits waiting for a
 * synchronous standby (the setting just reset), all at once. The commits'
 * waits are a lock's (a release at their site); the postmaster's own wait,
 * before, was handed nothing: a broadcast passes no lock on. */
static void build_reload_broadcast(void)
{
	uint32_t pm = thread_p(5100, 5100, "postgres"), r = thread_p(5106, 5106, "postgres"), i;
	uint32_t ck = thread_p(5104, 5104, "postgres"), av = thread_p(5105, 5105, "postgres");
	uint32_t sel = U("__libc_start_main@;main;PostmasterMain;ServerLoop;__select@");
	uint32_t ku = U("__libc_start_main@;main;PostmasterMain;ServerLoop;__restore_rt@;SIGHUP_handler;SignalChildren;kill@");
	int32_t all[7] = { 5100, 5101, 5102, 5103, 5104, 5105, 5106 };

	window(10000);
	assert_int_equal(capdata_set_target(W, all, 7, "postgres", "postgres"), 0);
	B(.thread = pm, .ustack = sel, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 0, .dur_ms = 3000,
	  .syscall = NR_pselect6, .waker = r, .waker_ustack = U("__libc_start_main@;PostgresMain;pg_reload_conf;kill@"),
	  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
	  .waker_ms = 3000);
	B(.thread = pm, .ustack = sel, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 3010, .dur_ms = 6990,
	  .syscall = NR_pselect6);
	B(.thread = ck, .ustack = U("__libc_start_main@;main;PostmasterMain;AuxiliaryProcessMain;CheckpointerMain;WaitLatch;WaitEventSetWait;epoll_wait@"),
	  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 500, .dur_ms = 2501, .syscall = NR_epoll_wait, .waker = pm,
	  .waker_ustack = ku, .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
	  .waker_ms = 3001);
	B(.thread = av, .ustack = U("__libc_start_main@;main;PostmasterMain;StartAutoVacLauncher;AutoVacLauncherMain;WaitLatch;WaitEventSetWait;epoll_wait@"),
	  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 600, .dur_ms = 2401, .syscall = NR_epoll_wait, .waker = pm,
	  .waker_ustack = ku, .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
	  .waker_ms = 3001);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread_p(5101 + (int32_t)i, 5101 + (int32_t)i, "postgres");

		B(.thread = t, .ustack = U("__libc_start_main@;main;PostmasterMain;PostgresMain;pq_getbyte;secure_read;WaitEventSetWait;epoll_wait@"),
		  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 100 + i * 10, .dur_ms = 3, .syscall = NR_epoll_wait,
		  .woken_irq = true);
		B(.thread = t, .ustack = U("__libc_start_main@;main;PostmasterMain;PostgresMain;CommitTransactionCommand;SyncRepWaitForLSN;WaitLatch;WaitEventSetWait;epoll_wait@"),
		  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 200 + i * 10, .dur_ms = 2801 - i * 10,
		  .syscall = NR_epoll_wait, .waker = pm, .waker_ustack = ku,
		  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
		  .waker_ms = 3001);
		B(.thread = t, .ustack = U("__libc_start_main@;main;PostmasterMain;PostgresMain;pq_getbyte;secure_read;WaitEventSetWait;epoll_wait@"),
		  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 3100 + i * 10, .dur_ms = 3, .syscall = NR_epoll_wait,
		  .woken_irq = true);
	}
}

/* Two PostgreSQL transactions deadlocked on each other's rows: both wait
 * for the other's transaction; the first's deadlock check (deadlock_timeout,
 * 1 s) fires, it aborts, and its locks' release lets the second go. */
static void build_deadlock_timeout(void)
{
	uint32_t a = thread_p(5200, 5200, "postgres"), b = thread_p(5201, 5201, "postgres"), i;
	uint32_t lu = U("__libc_start_main@;main;PostmasterMain;PostgresMain;heap_update;XactLockTableWait;"
			"LockAcquireExtended;ProcSleep;WaitLatch;WaitEventSetWait;epoll_wait@");
	uint32_t cu = U("__libc_start_main@;main;PostmasterMain;PostgresMain;pq_getbyte;secure_read;WaitEventSetWait;epoll_wait@");
	int32_t pids[2] = { 5200, 5201 };

	window(5000);
	assert_int_equal(capdata_set_target(W, pids, 2, "postgres", "postgres"), 0);
	for (i = 0; i < 2; i++)
		B(.thread = i ? b : a, .ustack = cu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 400 + i * 100,
		  .dur_ms = 5, .syscall = NR_epoll_wait, .woken_irq = true);
	B(.thread = a, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 500, .dur_ms = 1000,
	  .syscall = NR_epoll_wait, .woken_irq = true);
	B(.thread = b, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 600, .dur_ms = 903,
	  .syscall = NR_epoll_wait, .waker = a,
	  .waker_ustack = U("__libc_start_main@;main;PostmasterMain;PostgresMain;AbortCurrentTransaction;"
			    "ProcReleaseLocks;LockReleaseAll;ProcLockWakeup;kill@"),
	  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_kill;kill_pid_info;signal_wake_up_state;try_to_wake_up"),
	  .waker_ms = 1502);
	for (i = 0; i < 2; i++)
		B(.thread = i ? b : a, .ustack = cu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1600 + i * 100,
		  .dur_ms = 5, .syscall = NR_epoll_wait, .woken_irq = true);
}

/* A semaphore-based lock handed on: each waiter, once it has the lock,
 * releases it to the next (no release wakes two at once). */
static void build_handoff_sem(void)
{
	uint32_t h = thread(1100, "worker"), prev = h, i;
	uint32_t su = U("start_thread@;worker_main;lwlock_acquire;sem_wait@");
	uint32_t ru = U("start_thread@;worker_main;lwlock_release;sem_post@");

	window(4000);
	samples(h, 100, 1500, 10, U("start_thread@;worker_main;flush_buffers"), ST_NO_STACK);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(1110 + (int32_t)i, "worker");

		B(.thread = t, .ustack = U("start_thread@;worker_main;do_work"), .kstack = K(K_SLEEP),
		  .state = SLEEP, .start_ms = 50, .dur_ms = 20, .syscall = NR_clock_nanosleep, .woken_irq = true);
		B(.thread = t, .ustack = su, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100 + i,
		  .dur_ms = 1400 + i * 200 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000200000ull + i * 64, .waker = prev, .waker_ustack = ru,
		  .waker_kstack = K(K_WAKE), .waker_ms = 1500 + i * 200);
		prev = t;
	}
}

/* A dispatcher handing out one task at a time to idle workers whose waits
 * are long (a quiet service): a work queue, not a lock. */
static void build_dispatcher(void)
{
	uint32_t d = thread(1200, "acceptor"), i, j;
	uint32_t wu = U("start_thread@;worker_main;queue_pop;pthread_cond_wait@");
	uint32_t du = U("start_thread@;acceptor_main;queue_push;pthread_cond_signal@");

	window(5000);
	for (j = 0; j < 8; j++)
		B(.thread = d, .ustack = U("start_thread@;acceptor_main;accept4@"), .kstack = K(K_RECV),
		  .state = SLEEP, .start_ms = j * 500, .dur_ms = 490, .syscall = 288, .woken_irq = true);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(1210 + (int32_t)i, "worker");

		B(.thread = t, .ustack = U("start_thread@;worker_main;serve"), .kstack = K(K_RECV),
		  .state = SLEEP, .start_ms = 5 + i, .dur_ms = 3, .syscall = 45, .woken_irq = true);
		for (j = 0; j < 2; j++)
			B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
			  .start_ms = 10 + j * 2000 + i, .dur_ms = 480 + i * 500 + j * 10, .syscall = NR_futex,
			  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000300000ull, .waker = d,
			  .waker_ustack = du, .waker_kstack = K(K_WAKE));
	}
}

/* A thread pool's idle workers woken in bursts by the thread that reaps I/O
 * completions (InnoDB's tpool): every 400 ms it hands out a batch of
 * completions, waking 3 workers at once from waits of ~400 ms; each runs its
 * task (3 ms) and waits for the next. Ten releases of several long waits by
 * one thread that never waits there: a work queue, not a lock. */
static void build_pool_bursts(void)
{
	uint32_t d = thread(1250, "io-reaper"), t[3], i, j;
	uint32_t wu = U("start_thread@;worker_main;get_task;wait_for_tasks;pthread_cond_clockwait@");
	uint32_t du = U("start_thread@;io_reaper;submit_task;wake;pthread_cond_signal@");

	window(4200);
	for (i = 0; i < 3; i++)
		t[i] = thread(1260 + (int32_t)i, "worker");
	for (j = 0; j < 10; j++) {
		B(.thread = d, .ustack = U("start_thread@;io_reaper;io_uring_enter@"), .kstack = K(K_EPOLL),
		  .state = SLEEP, .start_ms = j * 400 + 5, .dur_ms = 395, .syscall = 426 /* io_uring_enter */,
		  .woken_irq = true);
		for (i = 0; i < 3; i++)
			B(.thread = t[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
			  .start_ms = j * 400 + 4 + i, .dur_ms = 396 - i, .syscall = NR_futex,
			  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000380000ull, .waker = d,
			  .waker_ustack = du, .waker_kstack = K(K_WAKE));
	}
}

/* Two workers woken together at their condition variable after 1 s, each
 * waiting there again within 1 ms: nothing let either go on with its work
 * (an idle pool's broadcast), so no lock was released: none. */
static void build_woken_for_nothing(void)
{
	uint32_t d = thread(1280, "signaler"), i;
	uint32_t wu = U("start_thread@;worker_main;next_job;pthread_cond_wait@");
	uint32_t du = U("start_thread@;signaler_main;pthread_cond_broadcast@");

	window(3000);
	for (i = 0; i < 2; i++) {
		uint32_t t = thread(1290 + (int32_t)i, "worker");

		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100, .dur_ms = 50,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000390000ull, .woken_irq = true);
		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 200 + i, .dur_ms = 1000 - i,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000390000ull, .waker = d,
		  .waker_ustack = du, .waker_kstack = K(K_WAKE));
		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1201, .dur_ms = 1700,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000390000ull, .woken_irq = true);
	}
}

/* An idle pool, waiting since before the capture, woken all at once to shut
 * down: not a lock's release. */
static void build_shutdown(void)
{
	uint32_t m = thread(PID, "main"), i;

	window(3000);
	B(.thread = m, .ustack = U("main;epoll_wait@"), .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 0,
	  .dur_ms = 2900, .syscall = NR_epoll_wait, .woken_irq = true, .began_before = true);
	for (i = 0; i < 4; i++)
		B(.thread = thread(1300 + (int32_t)i, "pool"),
		  .ustack = U("start_thread@;pool_main;pthread_cond_wait@"), .kstack = K(K_FUTEX),
		  .state = SLEEP, .start_ms = 0, .dur_ms = 2950, .syscall = NR_futex, .began_before = true,
		  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000400000ull, .waker = m,
		  .waker_ustack = U("main;stop_pool;pthread_cond_broadcast@"), .waker_kstack = K(K_WAKE));
}

/* An event loop held 4 s in a sleep inside a command: loop_blocked. Its
 * background threads sleep for longer in all, and must not win. */
static void build_loop_sleep(void)
{
	uint32_t t = thread(PID, "kvstore"), i;
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@");

	window(6000);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
	B(.thread = t, .ustack = U("main;aeMain;aeProcessEvents;processCommand;debugCommand;usleep@;clock_nanosleep@"),
	  .kstack = K(K_SLEEP), .state = SLEEP, .start_ms = 1000, .dur_ms = 4000, .syscall = NR_clock_nanosleep,
	  .woken_irq = true);
	for (i = 0; i < 9; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 5010 + i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
	for (i = 0; i < 4; i++)
		B(.thread = thread(1400 + (int32_t)i, "bio"), .ustack = U("start_thread@;bioProcessBackgroundJobs;pthread_cond_wait@"),
		  .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 0, .dur_ms = 6000, .syscall = NR_futex,
		  .wait_kind = CAP_WAIT_FUTEX, .in_progress = true, .began_before = true);
}

/* An event loop computing for 400 ms (a script): below the 1 s of a busy
 * run, but no client was served meanwhile: cpu_busy. */
static void build_loop_busy(void)
{
	uint32_t t = thread(PID, "kvstore"), i;
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@");

	window(3000);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
	samples(t, 1000, 1400, 10, U("main;aeMain;aeProcessEvents;evalCommand;luaV_execute"), ST_NO_STACK);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1400 + i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
}

/* An event loop freeing a big table for 450 ms (FLUSHALL): a quarter of its
 * samples in the kernel, in madvise (the allocator giving pages back). That
 * is computing, not serving clients: cpu_busy. With serving != 0 the same
 * quarter is in its clients' writes instead: a loop busy serving, none. */
static void loop_kernel_quarter(bool serving)
{
	uint32_t t = thread(PID, "kvstore"), i;
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@");
	uint32_t fu = U("main;aeMain;aeProcessEvents;flushallCommand;dictEmpty;_dictClear;zfree");
	uint32_t mu = U("main;aeMain;aeProcessEvents;flushallCommand;dictEmpty;_dictClear;zfree;je_free;__madvise@");
	uint32_t wu = U("main;aeMain;aeProcessEvents;writeToClient;_writeToClient;__write@");
	uint32_t mk = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_madvise;do_madvise;tlb_finish_mmu;flush_tlb_mm_range");
	uint32_t wk = K("entry_SYSCALL_64;do_syscall_64;ksys_write;vfs_write;sock_write_iter;tcp_sendmsg");

	window(3000);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
	for (i = 0; i < 45; i++)
		samples(t, 1000 + i * 10, 1001 + i * 10, 10, i % 4 ? fu : serving ? wu : mu,
			i % 4 ? ST_NO_STACK : serving ? wk : mk);
	for (i = 0; i < 10; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1450 + i * 100,
		  .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
}

static void build_loop_freeing(void)
{
	loop_kernel_quarter(false);
}

static void build_loop_serving(void)
{
	loop_kernel_quarter(true);
}

/* A forked snapshot child on-CPU for 2 s while the service's loop kept
 * serving: not the service's freeze; the child is named as a child. */
static void build_busy_child(void)
{
	uint32_t t = thread(PID, "kvstore"), c = thread_p(7777, 7777, "kv-bgsave"), i;
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@");

	window(3000);
	for (i = 0; i < 29; i++)
		B(.thread = t, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 100,
		  .dur_ms = 98, .syscall = NR_epoll_wait, .woken_irq = true);
	samples(c, 500, 2800, 10, U("main;rdbSaveBackground;rdbSave;lzf_compress"), ST_NO_STACK);
	hold(t, CAP_HOLD_WRITE, 480, 40, NR_clone, 0, 0, 0, U("main;rdbSaveBackground;fork@"), ST_NO_STACK);
}

/* A database backend on-CPU most of 2.4 s while two other threads wait
 * runnable behind it now and then. nv_step: its voluntary switches
 * between two samples (0: it never blocked). */
static void build_backend(uint64_t nv_step)
{
	uint32_t p = thread(PID + 2, "postgres"), a = thread(PID + 3, "postgres"), b = thread(PID + 4, "postgres");
	uint32_t pu = U("_start;PostgresMain;exec_simple_query;ExecScan"), kp = K(K_PREEMPT), i;

	window(3000);
	samples_nv(p, 100, 2500, 10, pu, ST_NO_STACK, 40000, nv_step);
	for (i = 0; i < 12; i++) {
		B(.thread = a, .ustack = U("_start;PostgresMain;pq_getbyte"), .kstack = kp, .state = RUNNABLE,
		  .start_ms = 200 + i * 200, .dur_ms = 20);
		B(.thread = b, .ustack = U("_start;PostgresMain;pq_getbyte"), .kstack = kp, .state = RUNNABLE,
		  .start_ms = 220 + i * 200, .dur_ms = 20);
	}
}

/* It never blocked: a busy run, and the others queued behind it */
static void build_backend_busy(void)
{
	build_backend(0);
}

/* It blocked between its statements (~70 µs each, under --min-block, so
 * only its switch count shows them): serving, not a busy run */
static void build_backend_serving(void)
{
	build_backend(140);
}

/* A batch thread busy for 2 s that nothing waits on: not a freeze. */
static void build_busy_unwaited(void)
{
	uint32_t t = thread(PID + 1, "compactor");

	window(3000);
	samples(t, 200, 2400, 10, U("start_thread@;compact_main;merge_runs"), ST_NO_STACK);
}

/* A server with a thread per connection: each polls its own client's
 * socket at the same site; one runs a 300 ms query on-CPU. One client
 * waited, not the service: none. */
static void build_per_connection(void)
{
	uint32_t i, j;
	uint32_t pu = U("start_thread@;handle_connection;do_command;vio_io_wait;poll@");

	window(3000);
	for (i = 0; i < 5; i++) {
		uint32_t t = thread(1500 + (int32_t)i, "mariadbd");

		for (j = 0; j < 20; j++)
			B(.thread = t, .ustack = pu, .kstack = K("entry_SYSCALL_64;do_syscall_64;do_sys_poll;schedule"),
			  .state = SLEEP, .start_ms = j * 140 + (i == 0 && j >= 10 ? 300 : 0), .dur_ms = 120,
			  .syscall = NR_poll, .woken_irq = true);
	}
	samples(thread(1500, "mariadbd"), 1400, 1700, 10,
		U("start_thread@;handle_connection;do_command;mysql_execute_command;Item_func_benchmark::val_int"),
		ST_NO_STACK);
}

/* A background process asleep on its latch since before the capture, woken
 * by a backend that asks it to work (a checkpoint request), then writing
 * with timed polls that throttle it: its polls run inside that work, its
 * wait between tasks is the outer one. No event loop, no lock: none. */
static void build_background_throttle(void)
{
	uint32_t c = thread(PID + 30, "postgres"), b = thread(PID + 31, "postgres"), i;
	uint32_t tu = U("main;PostmasterMain;CheckpointerMain;CreateCheckPoint;CheckPointGuts;BufferSync;"
			"CheckpointWriteDelay;WaitLatch;WaitEventSetWait;epoll_wait@");

	window(4000);
	B(.thread = c, .ustack = U("main;PostmasterMain;CheckpointerMain;WaitLatch;WaitEventSetWait;epoll_wait@"),
	  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 0, .dur_ms = 1500, .syscall = NR_epoll_wait,
	  .began_before = true, .waker = b, .waker_ustack = U("main;PostgresMain;XLogFlush;RequestCheckpoint;kill@"),
	  .waker_kstack = K(K_WAKE));
	for (i = 0; i < 20; i++)
		B(.thread = c, .ustack = tu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 1600 + i * 110,
		  .dur_ms = 100, .syscall = NR_epoll_wait, .woken_irq = true);
	for (i = 0; i < 30; i++)
		B(.thread = b, .ustack = U("main;PostgresMain;pq_getbyte;secure_read;WaitEventSetWait;epoll_wait@"),
		  .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 130, .dur_ms = 120, .syscall = NR_epoll_wait,
		  .woken_irq = true);
}

/* A database's commits: many short fdatasync waits, 1.7 % of the threads'
 * window in all: its daily work, not a stall. */
static void build_commits(void)
{
	uint32_t i, j;
	uint32_t ku = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fdatasync;do_fsync;file_write_and_wait_range;__filemap_fdatawait_range;folio_wait_bit;io_schedule");

	window(6000);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(1600 + (int32_t)i, "mariadbd");

		for (j = 0; j < 20; j++)
			B(.thread = t, .ustack = U("start_thread@;ha_commit_trans;log_write_up_to;fdatasync@"), .kstack = ku,
			  .state = DSTATE, .start_ms = j * 290, .dur_ms = 5, .syscall = 75);
	}
}

/* Commits on a slow disk: each of 4 threads in turn takes the log's mutex,
 * writes and fdatasyncs the log for 290 ms and hands the mutex to the next;
 * the others queue for the mutex meanwhile. The lock waits are the disk's:
 * io, with the queue named. */
static void build_commit_queue(void)
{
	uint32_t ku = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fdatasync;do_fsync;file_write_and_wait_range;__filemap_fdatawait_range;folio_wait_bit;io_schedule");
	uint32_t iu = U("start_thread@;commit;log_flush;fdatasync@");
	uint32_t wu = U("start_thread@;commit;log_flush;__pthread_mutex_lock@;__lll_lock_wait@");
	uint32_t ru = U("start_thread@;commit;log_flush;__pthread_mutex_unlock_usercnt@;__lll_lock_wake@");
	uint32_t t[4], r, k;

	window(6000);
	for (k = 0; k < 4; k++) {
		t[k] = thread(1700 + (int32_t)k, "dbd");
		W->threads[t[k]].io_bytes = (k == 2 ? 9 : 4) * MIB;
		W->threads[t[k]].io_count = 100;
		if (k) /* the first turn of each */
			B(.thread = t[k], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50,
			  .dur_ms = 50 + k * 300, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
			  .wait_obj = 0x7f0000300000ull, .waker = t[k - 1], .waker_ustack = ru,
			  .waker_kstack = K(K_WAKE));
	}
	for (r = 0; r < 19; r++) {
		k = r % 4;
		B(.thread = t[k], .ustack = iu, .kstack = ku, .state = DSTATE, .start_ms = 100 + r * 300,
		  .dur_ms = 290, .syscall = 75);
		B(.thread = t[k], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 395 + r * 300,
		  .dur_ms = 905, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000300000ull,
		  .waker = t[(k + 3) % 4], .waker_ustack = ru, .waker_kstack = K(K_WAKE));
	}
}

/* A lock held through its holder's own long I/O (a table rewritten under
 * its lock): the holder never queues for it, so the lock is the cause. */
static void build_lock_over_io(void)
{
	uint32_t ku = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fdatasync;do_fsync;file_write_and_wait_range;__filemap_fdatawait_range;folio_wait_bit;io_schedule");
	uint32_t h = thread(1800, "dbd"), i;
	uint32_t wu = U("start_thread@;handle_query;open_table;__pthread_mutex_lock@;__lll_lock_wait@");
	uint32_t ru = U("start_thread@;rewrite_table;__pthread_mutex_unlock_usercnt@;__lll_lock_wake@");

	window(6000);
	W->threads[h].io_bytes = 64 * MIB;
	W->threads[h].io_count = 500;
	for (i = 0; i < 30; i++)
		B(.thread = h, .ustack = U("start_thread@;rewrite_table;flush_pages;fdatasync@"), .kstack = ku,
		  .state = DSTATE, .start_ms = 500 + i * 100, .dur_ms = 95, .syscall = 75);
	for (i = 0; i < 4; i++)
		B(.thread = thread(1810 + (int32_t)i, "dbd"), .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 600 + i * 10, .dur_ms = 2900 - i * 10 + i, .syscall = NR_futex,
		  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000400000ull, .waker = h, .waker_ustack = ru, .waker_kstack = K(K_WAKE));
}

/* A row's lock held by a session that sleeps 3 s, while two other
 * sessions keep committing on a slow disk, queueing for the log's mutex
 * in turn: the I/O behind the log's queue is not what the row's waiters
 * waited for. */
static void build_lock_beside_commits(void)
{
	uint32_t ku = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fdatasync;do_fsync;file_write_and_wait_range;__filemap_fdatawait_range;folio_wait_bit;io_schedule");
	uint32_t lu = U("start_thread@;commit;log_flush;__pthread_mutex_lock@;__lll_lock_wait@");
	uint32_t ru = U("start_thread@;commit;log_flush;__pthread_mutex_unlock_usercnt@;__lll_lock_wake@");
	uint32_t h = thread(1900, "dbd"), c[2], i;

	window(6000);
	B(.thread = h, .ustack = U("start_thread@;handle_query;do_sleep;clock_nanosleep@"), .kstack = K(K_SLEEP),
	  .state = SLEEP, .start_ms = 500, .dur_ms = 3000, .syscall = NR_clock_nanosleep, .woken_irq = true);
	for (i = 0; i < 4; i++)
		B(.thread = thread(1910 + (int32_t)i, "dbd"),
		  .ustack = U("start_thread@;handle_query;lock_row;__pthread_mutex_lock@;__lll_lock_wait@"),
		  .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 600 + i * 10, .dur_ms = 3000 - i * 10,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000500000ull, .waker = h,
		  .waker_ustack = U("start_thread@;handle_query;unlock_row;__pthread_mutex_unlock_usercnt@;__lll_lock_wake@"),
		  .waker_kstack = K(K_WAKE));
	for (i = 0; i < 2; i++) {
		c[i] = thread(1920 + (int32_t)i, "dbd");
		W->threads[c[i]].io_bytes = 2 * MIB;
	}
	for (i = 0; i < 19; i++) {
		B(.thread = c[i % 2], .ustack = U("start_thread@;commit;log_flush;fdatasync@"), .kstack = ku,
		  .state = DSTATE, .start_ms = 100 + i * 300, .dur_ms = 290, .syscall = 75);
		B(.thread = c[(i + 1) % 2], .ustack = lu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 95 + i * 300, .dur_ms = 300, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000600000ull, .waker = c[i % 2], .waker_ustack = ru, .waker_kstack = K(K_WAKE));
	}
}

/* A web pool's workers (one process each) queue for a session file's
 * flock(2) while one request holds it through a 3 s sleep (PHP's session
 * lock): a lock from the kernel stack alone, across processes. */
#define K_FLOCK "entry_SYSCALL_64;do_syscall_64;__x64_sys_flock;locks_lock_inode_wait;schedule;__schedule"
#define K_FLOCK_WAKE "entry_SYSCALL_64;do_syscall_64;__x64_sys_close;__fput;locks_remove_file;locks_remove_flock;flock_lock_inode;__locks_wake_up_blocks;__wake_up;try_to_wake_up"
static void build_flock_pool(void)
{
	int32_t pids[5] = { PID, 2001, 2002, 2003, 2004 };
	uint32_t h = thread_p(2001, 2001, "php-fpm"), i;
	uint32_t wu = U("__libc_start_main@;php_execute_script;php_session_start;ps_files_open;flock@");
	uint32_t ru = U("__libc_start_main@;php_request_shutdown;php_session_flush;ps_files_close;__close@");

	window(5000);
	assert_int_equal(capdata_set_target(W, pids, 5, "php-fpm", "php-fpm: master process"), 0);
	B(.thread = thread_p(PID, PID, "php-fpm"), .ustack = U("main;fpm_event_loop;epoll_wait@"), .kstack = K(K_EPOLL),
	  .state = SLEEP, .start_ms = 0, .dur_ms = 5000, .syscall = NR_epoll_wait, .in_progress = true);
	B(.thread = h, .ustack = U("__libc_start_main@;php_execute_script;execute_ex;php_usleep;usleep;__nanosleep@"),
	  .kstack = K(K_SLEEP), .state = SLEEP, .start_ms = 500, .dur_ms = 3000, .syscall = NR_clock_nanosleep);
	for (i = 0; i < 3; i++)
		B(.thread = thread_p(2002 + (int32_t)i, 2002 + (int32_t)i, "php-fpm"), .ustack = wu, .kstack = K(K_FLOCK),
		  .state = SLEEP, .start_ms = 700 + i * 100, .dur_ms = 2810 - i * 100, .syscall = NR_flock,
		  .waker = h, .waker_ustack = ru, .waker_kstack = K(K_FLOCK_WAKE));
}

/* One thread waits 3 s for a file's fcntl(2) lock that a process outside
 * the target holds (a backup script): no convoy, one waiter; still a lock,
 * and its holder is named. */
static void build_flock_outside(void)
{
	uint32_t o = outside_thread(6100, 6100, "backup"), t = thread(PID, "svc");

	window(4000);
	B(.thread = t, .ustack = U("main;serve;save_state;fcntl@"),
	  .kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fcntl;do_fcntl;fcntl_setlk;do_lock_file_wait;schedule;__schedule"),
	  .state = SLEEP, .start_ms = 400, .dur_ms = 3000, .syscall = NR_fcntl, .waker = o,
	  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_fcntl;do_fcntl;fcntl_setlk;posix_lock_inode;locks_wake_up_blocks;__wake_up;try_to_wake_up"));
}

/* A standby instance waits, all the window long, for the file lock its
 * active twin holds: its turn, not a stall. */
static void build_flock_standby(void)
{
	window(3000);
	B(.thread = thread(PID, "svc"), .ustack = U("main;wait_for_leadership;flock@"), .kstack = K(K_FLOCK),
	  .state = SLEEP, .start_ms = 0, .dur_ms = 3000, .syscall = NR_flock, .began_before = true,
	  .in_progress = true);
}

/* A pool idle in accept(2), its sleeps still tagged with a spinlock's
 * contention whose end the capture missed (older recorders): a spinning
 * waiter never sleeps, so these are idle waits, not a kernel lock. */
static void build_stale_spin(void)
{
	uint32_t i;

	window(3000);
	for (i = 0; i < 3; i++)
		B(.thread = thread(2100 + (int32_t)i, "pool"), .ustack = U("main;accept_loop;accept@"),
		  .kstack = K("entry_SYSCALL_64;do_syscall_64;__x64_sys_accept;__sys_accept4;do_accept;inet_accept;inet_csk_accept;schedule_timeout;schedule;__schedule"),
		  .state = SLEEP, .start_ms = 100 + i * 50, .dur_ms = 2000, .syscall = NR_accept,
		  .wait_kind = CAP_WAIT_KERNEL_LOCK, .lock_flags = CAP_LCB_SPIN, .wait_obj = 0xffff888627c2fbc0ull,
		  .woken_irq = true);
}

/* A pool of 4 workers waiting for requests in accept(2), each request a
 * call to a cache over a socket (a poll for its answer): the cache stalls
 * 3 s, the workers that called it wait, and its answers wake them within
 * 2 ms. outside_pid: the cache answers from a thread seen (a unix socket),
 * or 0: by the network (the wakeups are interrupts). */
#define K_ACCEPT "entry_SYSCALL_64;do_syscall_64;__x64_sys_accept;__sys_accept4;do_accept;inet_accept;inet_csk_accept;schedule_timeout;schedule;__schedule"
#define K_TCP_READ "entry_SYSCALL_64;do_syscall_64;ksys_read;vfs_read;sock_read_iter;tcp_recvmsg;sk_wait_data;schedule_timeout;schedule;__schedule"
#define K_POLL "entry_SYSCALL_64;do_syscall_64;__x64_sys_poll;do_sys_poll;do_poll;schedule_hrtimeout_range;schedule;__schedule"

/* a pool worker's wait for its next request, in accept(2) */
static void accept_wait(uint32_t t, uint64_t start_ms, uint64_t dur_ms)
{
	B(.thread = t, .ustack = U("main;worker_loop;accept_request;accept@"), .kstack = K(K_ACCEPT), .state = SLEEP,
	  .start_ms = start_ms, .dur_ms = dur_ms, .syscall = NR_accept, .woken_irq = true);
}

/* A pool whose calls to a cache (cache_get's poll) stalled 3 s and were
 * answered together; with slow_after, each worker's call once more took
 * 110-140 ms, at its own time, after the stall; with per_conn, each worker
 * was answered by its own thread of the outside process (a database's
 * thread per connection). */
static void build_pool_calls(int32_t outside_pid, bool slow_after, bool per_conn)
{
	uint32_t pu = U("main;worker_loop;handle_request;cache_get;poll@");
	int64_t o = outside_pid ? (int64_t)outside_thread(outside_pid, outside_pid, "cached") : -1;
	uint32_t i, k;

	window(6000);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(2200 + (int32_t)i, "worker");

		if (per_conn)
			o = (int64_t)outside_thread(outside_pid, outside_pid + 1 + (int32_t)i, "dbd");
		for (k = 0; k < 10; k++) {
			uint64_t at = 100 + k * 150 + i * 30;

			accept_wait(t, at, 120);
			if (k == 9)
				B(.thread = t, .ustack = pu, .kstack = K(K_POLL), .state = SLEEP, .start_ms = at + 125,
				  .dur_ms = 4500 - at + i, .syscall = NR_poll, .waker = o, .woken_irq = !outside_pid,
				  .waker_ustack = outside_pid ? U("main;serve_loop;reply;write@") : 0,
				  .waker_kstack = outside_pid ? K("entry_SYSCALL_64;do_syscall_64;ksys_write;unix_stream_sendmsg;sock_def_readable;__wake_up_common;try_to_wake_up") : 0);
		}
		for (k = 0; k < 5; k++)
			accept_wait(t, 4700 + k * 150 + i, 120);
		if (slow_after)
			B(.thread = t, .ustack = pu, .kstack = K(K_POLL), .state = SLEEP, .start_ms = 5450 + i * 130,
			  .dur_ms = 110 + i * 10, .syscall = NR_poll, .woken_irq = true);
	}
}
static void build_dependency_net(void) { build_pool_calls(0, false, false); }
static void build_dependency_unix(void) { build_pool_calls(6200, false, false); }
static void build_dependency_slow(void) { build_pool_calls(0, true, false); }
static void build_dependency_conns(void) { build_pool_calls(6400, false, true); }

/* The cache recorded too (another process of the target, an event loop):
 * its own 3 s sleep is why the pool waited, and the verdict. */
static void build_dependency_recorded(void)
{
	int32_t pids[2] = { PID, 6300 };
	uint32_t c, i;

	build_pool_calls(0, false, false);
	assert_int_equal(capdata_set_target(W, pids, 2, "svc", "/usr/bin/svc"), 0);
	c = thread_p(6300, 6300, "cached");
	for (i = 0; i < 10; i++)
		B(.thread = c, .ustack = U("main;serve_loop;epoll_wait@"), .kstack = K(K_EPOLL), .state = SLEEP,
		  .start_ms = 100 + i * 100, .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
	B(.thread = c, .ustack = U("main;serve_loop;handle_debug;usleep@;clock_nanosleep@"), .kstack = K(K_SLEEP),
	  .state = SLEEP, .start_ms = 1500, .dur_ms = 3000, .syscall = NR_clock_nanosleep, .woken_irq = true);
	for (i = 0; i < 10; i++)
		B(.thread = c, .ustack = U("main;serve_loop;epoll_wait@"), .kstack = K(K_EPOLL), .state = SLEEP,
		  .start_ms = 4510 + i * 100, .dur_ms = 99, .syscall = NR_epoll_wait, .woken_irq = true);
}

/* The same pool, healthy: each request's call polls for the cache's answer,
 * a few of those polls long enough to be recorded. The polls are calls,
 * not an event loop: the workers wait for work in accept. */
static void build_pool_polls(void)
{
	uint32_t pu = U("main;worker_loop;handle_request;cache_get;poll@"), i, k;

	window(3000);
	for (i = 0; i < 3; i++) {
		uint32_t t = thread(2500 + (int32_t)i, "worker");

		for (k = 0; k < 12; k++) {
			accept_wait(t, 100 + k * 200 + i * 20, 120);
			if (k % 4 == 1)
				B(.thread = t, .ustack = pu, .kstack = K(K_POLL), .state = SLEEP,
				  .start_ms = 100 + k * 200 + i * 20 + 130, .dur_ms = 4, .syscall = NR_poll, .woken_irq = true);
		}
	}
}

/* The same pool after a quiet spell: 2 s in accept, then a burst of
 * requests wakes all four within 5 ms. Their wait for work: not a stall. */
static void build_pool_burst(void)
{
	uint32_t i, k;

	window(4000);
	for (i = 0; i < 4; i++) {
		uint32_t t = thread(2300 + (int32_t)i, "worker");

		for (k = 0; k < 6; k++)
			accept_wait(t, 100 + k * 150 + i * 30, 120);
		accept_wait(t, 1100 + i * 10, 2000 - i * 10 + i);
	}
}

/* A pool's worker that waited for work in accept NACCEPTS times from 100 ms on. */
static uint32_t pool_worker(int32_t tid, uint32_t naccepts)
{
	uint32_t t = thread(tid, "worker"), k;

	for (k = 0; k < naccepts; k++)
		accept_wait(t, 100 + k * 150, 120);
	return t;
}

/* A wait for a client's next request on a kept-alive connection. */
static void keepalive_read(uint32_t t, uint64_t start_ms, uint64_t dur_ms)
{
	B(.thread = t, .ustack = U("main;worker_loop;read_request;read@"), .kstack = K(K_TCP_READ),
	  .state = SLEEP, .start_ms = start_ms, .dur_ms = dur_ms, .syscall = NR_read, .woken_irq = true);
}

/* Workers that also read their next request on kept-alive connections:
 * two clients pause, 500 ms each, 300 ms apart. Not a release. */
static void build_pool_keepalive(void)
{
	uint32_t i;

	window(3000);
	for (i = 0; i < 2; i++)
		keepalive_read(pool_worker(2400 + (int32_t)i, 6), 1100 + i * 300, 500);
}

/* Busier kept-alive clients: four workers, eight pauses of 210-900 ms
 * ending at their clients' own times; two of them, by chance, ended 10 ms
 * apart. A coincidence among many, a quarter of the time: not a release. */
static void build_pool_keepalive_many(void)
{
	static const uint64_t reads[4][2][2] = { /* { start, duration } in ms */
		{ { 1500, 300 }, { 2500, 400 } }, { { 1600, 210 }, { 3000, 500 } },
		{ { 1700, 500 }, { 3200, 600 } }, { { 2000, 600 }, { 3300, 900 } },
	};
	uint32_t i, k;

	window(5000);
	for (i = 0; i < 4; i++) {
		uint32_t t = pool_worker(2450 + (int32_t)i, 8);

		for (k = 0; k < 2; k++)
			keepalive_read(t, reads[i][k][0], reads[i][k][1]);
	}
}

/* A page's sleep mid-request (usleep), in a pool of three workers:
 * with all three asleep 2 s at once no worker is free (loop_blocked); with
 * one left serving, none. */
static void pool_sleeps(uint32_t asleep)
{
	uint32_t i;

	window(4000);
	for (i = 0; i < 3; i++) {
		uint32_t t = pool_worker(2500 + (int32_t)i, 6);

		if (i < asleep)
			B(.thread = t, .ustack = U("main;worker_loop;handle_request;page_nap;usleep@;clock_nanosleep@"),
			  .kstack = K(K_SLEEP), .state = SLEEP, .start_ms = 1100 + i * 20, .dur_ms = 2000,
			  .syscall = NR_clock_nanosleep, .woken_irq = true);
	}
}

static void build_pool_asleep(void)
{
	pool_sleeps(3);
}

static void build_pool_one_asleep(void)
{
	pool_sleeps(2);
}

static void build_empty(void)
{
	window(1000);
}

/* A thread pool whose workers hand each other work at their wait for it
 * (MariaDB's pool-of-threads: get_event): worker 3001 waits there 5 ms at a
 * time, woken by the listener, and just after one such wait it wakes worker
 * 3000, idle 700 ms. A waiter passing a lock on has queued for it: a wait
 * of 5 ms passes nothing on. none. */
static void build_pool_turns(void)
{
	uint32_t a = thread(3000, "worker"), b = thread(3001, "worker"), c = thread(3002, "worker"), i;
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t lu = U("start_thread@;worker_main;get_event;io_poll_wait;epoll_wait@");
	uint32_t au = U("start_thread@;worker_main;handle_event;tp_add;pthread_cond_signal@");

	window(3000);
	B(.thread = a, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100, .dur_ms = 10,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000500000ull, .woken_irq = true);
	B(.thread = a, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 200, .dur_ms = 700,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000500000ull, .waker = b,
	  .waker_ustack = au, .waker_kstack = K(K_WAKE));
	for (i = 0; i < 40; i++) {
		B(.thread = c, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 100 + i * 20,
		  .dur_ms = 14, .syscall = NR_epoll_wait, .woken_irq = true);
		B(.thread = b, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 110 + i * 20 - (i == 39) * 10,
		  .dur_ms = 5, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000500000ull,
		  .waker = c, .waker_ustack = U("start_thread@;worker_main;get_event;wake_worker;pthread_cond_signal@"),
		  .waker_kstack = K(K_WAKE));
	}
}

/* The same pool's listeners: two workers polled the clients' sockets 1.5 s
 * in get_event, where they also wait on a condition variable (their idle
 * site), until a burst of requests woke both: they waited for work, not
 * for another process's answer. none. */
static void build_pool_listeners(void)
{
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t lu = U("start_thread@;worker_main;get_event;io_poll_wait;epoll_wait@");
	uint32_t i, k;

	window(3000);
	for (i = 0; i < 2; i++) {
		uint32_t t = thread(3100 + (int32_t)i, "worker");

		for (k = 0; k < 5; k++)
			B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100 + k * 100 + i,
			  .dur_ms = 90, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000510000ull,
			  .woken_irq = true);
		B(.thread = t, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 700 + i * 5,
		  .dur_ms = 1500 - i * 5, .syscall = NR_epoll_wait, .woken_irq = true);
		for (k = 0; k < 5; k++)
			B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 2300 + k * 100 + i,
			  .dur_ms = 90, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000510000ull,
			  .woken_irq = true);
	}
}

/* A lock (a condition variable in acquire_lock) that tid 3200 held 1 s
 * over two pool workers; one of them, let go, went back to the pool's wait
 * for work (timed waits in get_event) and, 400 ms later, queued a request,
 * waking an idle worker there: it passed on no lock (it waited in
 * get_event itself in between), and the pool's idle waits are no lock
 * wait: app_lock in acquire_lock, held by 3200. */
static void build_pool_after_lock(void)
{
	uint32_t h = thread(3200, "worker"), w1 = thread(3201, "worker"), w2 = thread(3202, "worker");
	uint32_t w3 = thread(3203, "worker"), w4 = thread(3204, "worker"), i;
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t mu = U("start_thread@;worker_main;handle_event;open_table;acquire_lock;pthread_cond_timedwait@");

	window(3000);
	for (i = 0; i < 2; i++) {
		uint32_t t = i ? w4 : w1;

		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50, .dur_ms = 10,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000520000ull, .woken_irq = true);
		B(.thread = t, .ustack = mu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100 + i, .dur_ms = 1000 - i,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000530000ull, .waker = h,
		  .waker_ustack = U("start_thread@;worker_main;handle_event;release_lock;pthread_cond_broadcast@"),
		  .waker_kstack = K(K_WAKE));
	}
	for (i = 0; i < 19; i++)
		B(.thread = w1, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1105 + i * 20,
		  .dur_ms = 15, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000520000ull,
		  .woken_irq = true);
	B(.thread = w2, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50, .dur_ms = 10,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000520000ull, .woken_irq = true);
	B(.thread = w2, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1050, .dur_ms = 450,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000520000ull, .waker = w1,
	  .waker_ustack = U("start_thread@;worker_main;handle_event;tp_add;pthread_cond_signal@"),
	  .waker_kstack = K(K_WAKE));
	for (i = 0; i < 4; i++)
		B(.thread = (uint32_t[]){ w1, w2, w3, w4 }[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 1600 + i, .dur_ms = 1400 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000520000ull, .in_progress = true);
}

/* A pool's workers waking stand-ins (MariaDB's pool-of-threads: a worker
 * about to wait wakes an idle one, wait_begin): at 400 ms worker 3300,
 * given a request after 300 ms in get_event, wakes 3301 there and at once
 * waits for a row lock that 3303 holds until 1100 ms; 3301 does the same
 * for 3302. Each passed on no lock but its turn: app_lock on the row lock,
 * held by 3303; the pool's idle waits are no lock wait. */
static void build_pool_stand_in(void)
{
	uint32_t t[3], u = thread(3303, "worker"), x = thread(3304, "worker"), i;
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t ru = U("start_thread@;worker_main;handle_event;update_row;lock_rec;pthread_cond_timedwait@");
	uint32_t su = U("start_thread@;worker_main;handle_event;update_row;lock_rec;wait_begin;pthread_cond_signal@");

	window(3000);
	for (i = 0; i < 3; i++)
		t[i] = thread(3300 + (int32_t)i, "worker");
	B(.thread = u, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50, .dur_ms = 10,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000540000ull, .woken_irq = true);
	B(.thread = u, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1150, .dur_ms = 1850,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000540000ull, .in_progress = true);
	for (i = 0; i < 3; i++) {
		B(.thread = t[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50 + i, .dur_ms = 10,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000540000ull, .woken_irq = true);
		B(.thread = t[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100 + i,
		  .dur_ms = 300 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000540000ull,
		  .waker = i ? t[i - 1] : x, .waker_ustack = i ? su : U("start_thread@;worker_main;get_event;io_poll_wait;wake_worker;pthread_cond_signal@"),
		  .waker_kstack = K(K_WAKE));
		if (i < 2)
			B(.thread = t[i], .ustack = ru, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 401 + i,
			  .dur_ms = 699 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
			  .wait_obj = 0x7f0000550000ull + i * 64, .waker = u,
			  .waker_ustack = U("start_thread@;worker_main;handle_event;commit;lock_release;pthread_cond_broadcast@"),
			  .waker_kstack = K(K_WAKE));
		B(.thread = t[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1200 + i,
		  .dur_ms = 1800 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000540000ull,
		  .in_progress = true);
	}
}

/* Two sessions wait 3 s for a metadata lock in timed waits of 1 s (a
 * deadlock detector's slices, each re-armed at once) until its holder,
 * 3400, lets both go: the longest wait is 3.0 s, not a slice's 1.0 s. */
static void build_rearmed_slices(void)
{
	uint32_t h = thread(3400, "conn"), i, k;
	uint32_t mu = U("start_thread@;handle_connection;open_table;MDL_context::acquire_lock;MDL_wait::timed_wait;pthread_cond_timedwait@");

	window(4000);
	B(.thread = h, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 100, .dur_ms = 3060,
	  .syscall = 45, .woken_irq = true);
	for (i = 0; i < 2; i++) {
		uint32_t t = thread(3401 + (int32_t)i, "conn");

		B(.thread = t, .ustack = U(U_RECV), .kstack = K(K_RECV), .state = SLEEP, .start_ms = 50 + i,
		  .dur_ms = 5, .syscall = 45, .woken_irq = true);
		for (k = 0; k < 3; k++)
			B(.thread = t, .ustack = mu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 150 + i + k * 1001,
			  .dur_ms = k < 2 ? 1000 : 999 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
			  .wait_obj = 0x7f0000560000ull + i * 64, .waker = k < 2 ? -1 : (int64_t)h, .woken_irq = k < 2,
			  .waker_ustack = U("start_thread@;handle_connection;MDL_context::release_lock;pthread_cond_broadcast@"),
			  .waker_kstack = K(K_WAKE));
	}
}

/* A pool's workers around their requests (MariaDB's pool-of-threads under
 * an online OPTIMIZE): worker 3500, after 500 ms in get_event, serves a
 * request (its write 2 ms deep in handle_event) and queues the next for
 * worker 3501, idle there 460 ms, then waits in get_event again. get_event
 * is where both wait between requests, their requests' waits run deeper:
 * no wait there is a lock's. none. */
static void build_pool_between_requests(void)
{
	uint32_t a = thread(3500, "worker"), b = thread(3501, "worker"), c = thread(3502, "worker"), i;
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t ju = U("start_thread@;worker_main;handle_event;do_command;write_row;pwrite64@");
	uint32_t jk = K("entry_SYSCALL_64;do_syscall_64;ksys_pwrite64;vfs_write;schedule");

	window(3000);
	for (i = 0; i < 2; i++) {
		uint32_t t = i ? b : a;

		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50 + i * 10, .dur_ms = 5,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000570000ull, .woken_irq = true);
		B(.thread = t, .ustack = ju, .kstack = jk,
		  .state = DSTATE, .start_ms = 70 + i * 10, .dur_ms = 2, .syscall = 18, .woken_irq = true);
	}
	B(.thread = a, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 100, .dur_ms = 500,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000570000ull, .waker = c,
	  .waker_ustack = U("start_thread@;worker_main;get_event;io_poll_wait;wake_worker;pthread_cond_signal@"),
	  .waker_kstack = K(K_WAKE));
	B(.thread = a, .ustack = ju, .kstack = jk,
	  .state = DSTATE, .start_ms = 602, .dur_ms = 2, .syscall = 18, .woken_irq = true);
	B(.thread = b, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 150, .dur_ms = 460,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000570000ull, .waker = a,
	  .waker_ustack = U("start_thread@;worker_main;handle_event;tp_add;pthread_cond_signal@"),
	  .waker_kstack = K(K_WAKE));
	B(.thread = b, .ustack = ju, .kstack = jk,
	  .state = DSTATE, .start_ms = 612, .dur_ms = 2, .syscall = 18, .woken_irq = true);
	for (i = 0; i < 3; i++)
		B(.thread = (uint32_t[]){ a, b, c }[i], .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 615 + i, .dur_ms = 2385 - i, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000570000ull, .in_progress = true);
}

/* The same pool's listeners: two workers, whose turn it was to listen,
 * polled the clients' sockets 1 s inside get_event, where they also wait
 * on a condition variable between requests; a worker's write to them woke
 * both at once. They waited for work inside the function that waits for
 * it: no lock's release. none. */
static void build_pool_listening(void)
{
	uint32_t r = thread(3600, "worker"), i, k;
	uint32_t wu = U("start_thread@;worker_main;get_event;pthread_cond_timedwait@");
	uint32_t lu = U("start_thread@;worker_main;get_event;io_poll_wait;epoll_wait@");
	uint32_t ju = U("start_thread@;worker_main;handle_event;do_command;write_row;pwrite64@");
	uint32_t jk = K("entry_SYSCALL_64;do_syscall_64;ksys_pwrite64;vfs_write;schedule");

	window(3000);
	for (i = 0; i < 2; i++) {
		uint32_t t = thread(3601 + (int32_t)i, "worker");

		for (k = 0; k < 3; k++)
			B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 50 + k * 40 + i,
			  .dur_ms = 30, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000580000ull,
			  .woken_irq = true);
		B(.thread = t, .ustack = ju, .kstack = jk, .state = DSTATE, .start_ms = 190 + i, .dur_ms = 2,
		  .syscall = 18, .woken_irq = true);
		B(.thread = t, .ustack = lu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 200 + i, .dur_ms = 1000 - i,
		  .syscall = NR_epoll_wait, .waker = r, .waker_ustack = U("start_thread@;worker_main;handle_event;net_flush;send@"),
		  .waker_kstack = K("entry_SYSCALL_64;do_syscall_64;__sys_sendto;tcp_sendmsg;sock_def_readable;__wake_up_common;try_to_wake_up"));
		B(.thread = t, .ustack = ju, .kstack = jk, .state = DSTATE, .start_ms = 1203 + i, .dur_ms = 2,
		  .syscall = 18, .woken_irq = true);
		B(.thread = t, .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 1210 + i, .dur_ms = 1790 - i,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000580000ull, .in_progress = true);
	}
}

/* ---- Stopped from outside: a stop signal, a tracer, a freezer ---- */
#define K_STOP_SIGNAL "entry_SYSCALL_64_after_hwframe;do_syscall_64;exit_to_user_mode_loop;arch_do_signal_or_restart;get_signal;do_signal_stop;schedule;__schedule"
#define K_STOP_TRACE "entry_SYSCALL_64_after_hwframe;do_syscall_64;exit_to_user_mode_loop;arch_do_signal_or_restart;get_signal;ptrace_stop;schedule;__schedule"
#define K_STOP_FREEZE "entry_SYSCALL_64_after_hwframe;do_syscall_64;exit_to_user_mode_loop;arch_do_signal_or_restart;get_signal;__refrigerator;schedule;__schedule"
/* cgroup v2's freeze: do_freezer_trap inlined into get_signal (6.18) */
#define K_STOP_FREEZE2 "entry_SYSCALL_64_after_hwframe;do_syscall_64;exit_to_user_mode_loop;arch_do_signal_or_restart;get_signal;schedule;__schedule"
#define K_FREEZE_WRITE "entry_SYSCALL_64_after_hwframe;do_syscall_64;ksys_write;vfs_write;kernfs_fop_write_iter;cgroup_freeze_write;cgroup_freeze;cgroup_do_freeze;cgroup_freeze_task;signal_wake_up_state;try_to_wake_up"
#define K_KILL "entry_SYSCALL_64_after_hwframe;do_syscall_64;__x64_sys_kill;kill_something_info;__send_signal_locked;complete_signal;signal_wake_up_state;try_to_wake_up"
#define K_SIGCONT "entry_SYSCALL_64_after_hwframe;do_syscall_64;__x64_sys_kill;kill_something_info;__send_signal_locked;prepare_signal;try_to_wake_up"
#define K_PTRACE_ATTACH "entry_SYSCALL_64_after_hwframe;do_syscall_64;__x64_sys_ptrace;ptrace_attach;__send_signal_locked;complete_signal;signal_wake_up_state;try_to_wake_up"
#define K_PTRACE_DETACH "entry_SYSCALL_64_after_hwframe;do_syscall_64;__x64_sys_ptrace;ptrace_request;__ptrace_detach;__ptrace_unlink;signal_wake_up_state;try_to_wake_up"

/* An event loop and two background threads; from 1000 ms every one of them
 * stopped for 3 s (how: the kernel stack), each sleeper's wait ended by
 * stopper right before (a stop signal wakes a sleeper to stop it; the loop
 * was running), the stops ended by resumer (-1: still stopped at the end). */
static void stopped_process(const char *kstop, int64_t stopper, uint32_t stop_us, uint32_t stop_ks,
			    int64_t resumer, uint32_t res_us, uint32_t res_ks)
{
	uint32_t m = thread(PID, "kvstore"), bg[2], i;
	uint32_t pu = U("main;aeMain;aeProcessEvents;epoll_wait@");
	uint32_t bu = U("start_thread@;bioProcessBackgroundJobs;pthread_cond_wait@");
	bool end = resumer < 0;

	bg[0] = thread(PID + 1, "bio_close_file");
	bg[1] = thread(PID + 2, "bio_aof_fsync");
	for (i = 0; i < 10; i++)
		B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = i * 100,
		  .dur_ms = 95, .syscall = NR_epoll_wait, .woken_irq = true);
	B(.thread = m, .ustack = U("main;aeMain;aeProcessEvents;readQueryFromClient;read@"), .kstack = K(kstop),
	  .state = SLEEP, .start_ms = 1000, .dur_ms = end ? 3000 : 2990, .syscall = 0, .waker = resumer,
	  .waker_ustack = res_us, .waker_kstack = res_ks, .in_progress = end);
	for (i = 0; i < 2; i++) {
		B(.thread = bg[i], .ustack = bu, .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 0, .dur_ms = 1000,
		  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000700000ull + 64 * i,
		  .began_before = true, .waker = stopper, .waker_ustack = stop_us, .waker_kstack = stop_ks);
		B(.thread = bg[i], .ustack = bu, .kstack = K(kstop), .state = SLEEP, .start_ms = 1000,
		  .dur_ms = end ? 3000 : 2991 + i, .syscall = NR_futex, .waker = resumer, .waker_ustack = res_us,
		  .waker_kstack = res_ks, .in_progress = end);
	}
	if (!end)
		for (i = 0; i < 10; i++)
			B(.thread = m, .ustack = pu, .kstack = K(K_EPOLL), .state = SLEEP, .start_ms = 4000 + i * 100,
			  .dur_ms = 95, .syscall = NR_epoll_wait, .woken_irq = true);
}

/* stopped_process() stopped and let go by one process outside the target,
 * pid (comm), from the user stacks su and ru (kernel stacks sk, rk). */
static void stopped_by(const char *kstop, int32_t pid, const char *comm, const char *su, const char *sk,
		       const char *ru, const char *rk)
{
	uint32_t t;

	window(5000);
	t = outside_thread(pid, pid, comm);
	stopped_process(kstop, t, U(su), K(sk), t, U(ru), K(rk));
}

/* kill -STOP, kill -CONT 3 s later, from one shell: stopped, culprit the shell. */
static void build_stopped_signal(void)
{
	stopped_by(K_STOP_SIGNAL, 7000, "bash", "main;reader_loop;execute_command;kill_builtin;kill@", K_KILL,
		   "main;reader_loop;execute_command;kill_builtin;kill@", K_SIGCONT);
}

/* The sleepers' waits ended just before the stop by the loop's own wakeup
 * (work handed to them), not by a stop signal: no stopper is named, only
 * the shell that sent SIGCONT. */
static void build_stopped_after_wake(void)
{
	uint32_t sh, m;

	window(5000);
	sh = outside_thread(7000, 7000, "bash");
	m = thread(PID, "kvstore"); /* the same thread stopped_process() makes its loop */
	stopped_process(K_STOP_SIGNAL, m, U("main;aeMain;bioCreateJob;pthread_cond_signal@"), K(K_WAKE), sh,
			U("main;reader_loop;execute_command;kill_builtin;kill@"), K(K_SIGCONT));
}

/* gdb attached 3 s (gcore, a stack dump): ptrace stops, gdb attached and detached. */
static void build_stopped_tracer(void)
{
	stopped_by(K_STOP_TRACE, 7100, "gdb", "main;attach_command;linux_nat_target::attach;ptrace@", K_PTRACE_ATTACH,
		   "main;detach_command;linux_nat_target::detach;ptrace@", K_PTRACE_DETACH);
}

/* Its cgroup frozen since before the window and still at its end: nobody
 * seen stopping or thawing it: stopped, no culprit. */
static void build_stopped_frozen(void)
{
	window(4000);
	stopped_process(K_STOP_FREEZE, -1, 0, 0, -1, 0, 0);
}

/* docker pause on cgroup v2: cgroup.freeze written 1, then 0, by one process. */
static void build_stopped_cgroup2(void)
{
	stopped_by(K_STOP_FREEZE2, 7300, "containerd-shim", "main;freeze_cgroup;write@", K_FREEZE_WRITE,
		   "main;thaw_cgroup;write@", K_FREEZE_WRITE);
}

/* A lock's holder stopped 1.5 s while it held the lock (a debugger on one
 * process of a multi-process server): the lock's waiters are the stall
 * (app_lock), its holder the culprit, which "was stopped" while holding. */
static void build_stopped_holder(void)
{
	uint32_t h = thread(PID + 10, "worker"), i;
	uint32_t wu = U("start_thread@;worker;handle_request;__pthread_mutex_lock@;__GI___lll_lock_wait@");
	uint32_t ru = U("start_thread@;worker;rebuild_cache_locked;__GI___pthread_mutex_unlock_usercnt@;__GI___lll_lock_wake@");

	window(4000);
	B(.thread = h, .ustack = U("start_thread@;worker;rebuild_cache_locked;hash_insert"),
	  .kstack = K(K_STOP_SIGNAL), .state = SLEEP, .start_ms = 1000, .dur_ms = 1500, .syscall = -1,
	  .waker = outside_thread(7200, 7200, "bash"), .waker_ustack = U("main;kill_builtin;kill@"),
	  .waker_kstack = K(K_SIGCONT));
	samples(h, 500, 1000, 10, U("start_thread@;worker;rebuild_cache_locked;hash_insert"), ST_NO_STACK);
	samples(h, 2500, 2600, 10, U("start_thread@;worker;rebuild_cache_locked;hash_insert"), ST_NO_STACK);
	for (i = 0; i < 3; i++)
		B(.thread = thread(PID + 20 + (int32_t)i, "worker"), .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 600 + i * 10, .dur_ms = 2000 - i * 10, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000710000ull, .waker = h, .waker_ustack = ru, .waker_kstack = K(K_WAKE));
}

/* ---- A mutex's owner read at the end, and deadlocks ---- */
/* tid a waits for mutex m_a, owned by b; b waits for m_b, owned by a. a
 * since before the window (began_before: a parked thread's look), b from
 * 100 ms (both_before: from before it too). */
static void deadlock(bool both_before)
{
	uint32_t a = thread(PID + 50, "worker"), b = thread(PID + 51, "worker");

	window(4000);
	B(.thread = a, .ustack = U("start_thread@;worker_a;take_second;pthread_mutex_lock@;__lll_lock_wait@"),
	  .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = 0, .dur_ms = 4000, .syscall = NR_futex,
	  .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000800000ull, .began_before = true, .in_progress = true);
	W->blocks[W->nblocks - 1].has_owner = true;
	W->blocks[W->nblocks - 1].owner = b;
	B(.thread = b, .ustack = U("start_thread@;worker_b;take_first;pthread_mutex_lock@;__lll_lock_wait@"),
	  .kstack = K(K_FUTEX), .state = SLEEP, .start_ms = both_before ? 0 : 100, .dur_ms = both_before ? 4000 : 3900,
	  .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX, .wait_obj = 0x7f0000800040ull,
	  .began_before = both_before, .in_progress = true);
	W->blocks[W->nblocks - 1].has_owner = true;
	W->blocks[W->nblocks - 1].owner = a;
}

static void build_deadlock(void)
{
	deadlock(false);
}

static void build_deadlock_before(void)
{
	deadlock(true);
}

/* Three threads wait to the end for a mutex that a thread holds while it
 * computes, never letting go in the window: the mutex names its owner. */
static void mutex_owner(bool holds_before)
{
	uint32_t h = thread(PID + 60, "indexer"), i, m, w;
	uint32_t wu = U("start_thread@;worker;lookup;pthread_mutex_lock@;__lll_lock_wait@");

	window(4000);
	/* taken twice before for a millisecond by a worker that woke the one
	 * queued behind it (as MariaDB's binary log mutex is between commits) */
	for (i = 0; holds_before && i < 2; i++) {
		w = thread(PID + 70, "worker");
		B(.thread = thread(PID + 71 + (int32_t)i, "worker"), .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 100 + i * 100, .dur_ms = 2, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000810000ull, .waker = w, .waker_ms = 102 + i * 100,
		  .waker_ustack = U("start_thread@;worker;lookup;pthread_mutex_unlock@"), .waker_kstack = ST_NO_STACK);
	}
	samples(h, 0, 4000, 10, U("start_thread@;indexer_main;rebuild_index;hash_insert"), ST_NO_STACK);
	for (i = 0; i < 3; i++) {
		B(.thread = thread(PID + 61 + (int32_t)i, "worker"), .ustack = wu, .kstack = K(K_FUTEX), .state = SLEEP,
		  .start_ms = 500 + i * 10, .dur_ms = 3500 - i * 10, .syscall = NR_futex, .wait_kind = CAP_WAIT_FUTEX,
		  .wait_obj = 0x7f0000810000ull, .in_progress = true);
		m = (uint32_t)W->nblocks - 1;
		W->blocks[m].has_owner = true;
		W->blocks[m].owner = h;
	}
}

static void build_mutex_owner(void)
{
	mutex_owner(false);
}

/* The same after two short holds: the owner at the end, not the short
 * holder, kept them waiting. */
static void build_mutex_owner_after_holds(void)
{
	mutex_owner(true);
}

struct dcase {
	const char *name;
	void (*build)(void);
	const char *kind;
	int32_t culprit_tid;        /* 0: culprit must be null */
	const char *culprit_frame;  /* must be in culprit.stack (NULL: not checked) */
	const char *summary_has[3]; /* substrings of verdict.summary */
	const char *operation;      /* substring of culprit.operation */
};

static const struct dcase cases[] = {
	{ "a deadlock", build_deadlock, "app_lock", PID + 51, "take_first",
	  { "for a mutex (futex 0x7f0000800000) of pid 4242",
	    "a deadlock: tid 4293 (worker) waits in take_first ← worker_b for a mutex held by tid 4292 (worker), "
	    "which waits in take_second ← worker_a for one held by tid 4293 (worker): neither can go on", NULL },
	  "waits for a mutex held by tid 4292 in a deadlock, holding the one waited for" },
	{ "a deadlock since before the window", build_deadlock_before, "app_lock", PID + 51, "take_first",
	  { "a deadlock: tid ", ": neither can go on", NULL }, NULL },
	{ "a mutex held to the end", build_mutex_owner, "app_lock", PID + 60, "rebuild_index",
	  { "3 threads waited 10.5 s in total (max 3.5 s) for a mutex (futex 0x7f0000810000) of pid 4242, taken in lookup ← worker",
	    "no thread released it before the end: tid 4302 (indexer) held it (the mutex's owner at the end), at least 3.5 s",
	    "while holding it, it ran on-CPU 3.5 s (in hash_insert ← rebuild_index)" }, "held a mutex to the window's end, at least 3.5 s" },
	{ "a mutex held to the end after short holds", build_mutex_owner_after_holds, "app_lock", PID + 60, "rebuild_index",
	  { "the last of them still waited at the end: tid 4302 (indexer) held it (the mutex's owner at the end), at least 3.5 s",
	    NULL, NULL }, "held a mutex to the window's end, at least 3.5 s" },
	{ "a process stopped by a signal", build_stopped_signal, "stopped", 7000, "kill_builtin",
	  { "3 threads were stopped 9.0 s in total (max 3.0 s) by a stop signal (do_signal_stop",
	    "3 threads at once for up to 3.0 s; stopped by pid 7000 tid 7000 (bash, outside the target) from kill_builtin ← execute_command",
	    "which let it go 3.0 s later" }, "stopped 3 threads of the target for up to 3.0 s" },
	{ "a process stopped just after a wakeup", build_stopped_after_wake, "stopped", 7000, "kill_builtin",
	  { "3 threads at once for up to 3.0 s; let go after 3.0 s by pid 7000 tid 7000 (bash, outside the target)",
	    NULL, NULL }, "let 3 stopped threads of the target go" },
	{ "a process stopped by a debugger", build_stopped_tracer, "stopped", 7100, "attach_command",
	  { "by a debugger or tracer (ptrace_stop", "stopped by pid 7100 tid 7100 (gdb, outside the target)",
	    "which let it go 3.0 s later" }, NULL },
	{ "a process frozen to the window's end", build_stopped_frozen, "stopped", 0, NULL,
	  { "3 threads were stopped 9.0 s in total", "by a freezer (__refrigerator",
	    "still stopped at the window's end" }, NULL },
	{ "a process frozen by cgroup v2's freezer", build_stopped_cgroup2, "stopped", 7300, "freeze_cgroup",
	  { "3 threads were stopped 9.0 s in total", "by a freezer (",
	    "stopped by pid 7300 tid 7300 (containerd-shim, outside the target) from freeze_cgroup ← main" }, NULL },
	{ "a lock's holder stopped", build_stopped_holder, "app_lock", PID + 10, NULL,
	  { "3 threads waited", "held it for", "while holding it, it was stopped (a stop signal, a debugger or a freezer) 1.5 s" },
	  NULL },
	{ "mmap_lock populate", build_mmap_populate, "mmap_lock", 4250, "rebuild_index",
	  { "6 threads waited", "for mmap_lock of pid 4242", "held it for read for 6.0 s inside mmap(3.0 GiB, MAP_POPULATE) called from rebuild_index ← main; RSS +3.0 GiB" },
	  "mmap 3.0 GiB MAP_POPULATE" },
	{ "mmap_lock repeated mprotect", build_mmap_mprotect, "mmap_lock", 7, "toggle_guard",
	  { "2 threads waited 1.6 s", "held it for write", "mprotect(256 MiB, PROT_READ) ×200" },
	  "mprotect 256 MiB PROT_READ ×200" },
	{ "mmap_lock outside holder", build_mmap_outside, "mmap_lock", 77, "collapse_huge_page_[k]",
	  { "pid 77 tid 77 (khugepaged, outside the target) held it for write", NULL, NULL },
	  "kernel work of khugepaged" },
	{ "mmap_lock waker without holds", build_mmap_waker, "mmap_lock", 50, "load_all",
	  { "held it for 1.5 s", "released in __vm_munmap", NULL }, "held mmap_lock for 1.5 s" },
	{ "mmap_lock without lock tracepoints", build_mmap_no_locks, "mmap_lock", 0, NULL,
	  { "its holder was not seen", NULL, NULL }, NULL },
	{ "futex chain of waiters", build_futex_chain, "app_lock", 100, "rebuild_cache_locked",
	  { "4 threads waited", "for a mutex (futex 0x7f0000001000)", "held it for 1.4 s, released in rebuild_cache_locked" },
	  "held mutex for 1.4 s" },
	{ "futex waiters in progress", build_futex_in_progress, "app_lock", 0, NULL,
	  { "its holder is unknown", NULL, NULL }, NULL },
	{ "threads parked on their own mutexes", build_parked_mutexes, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "a parked mutex with a thread queued behind", build_parked_queued, "app_lock", 0, NULL,
	  { "its holder is unknown", NULL, NULL }, NULL },
	{ "kernel lock (inode)", build_kernel_lock, "kernel_lock", 300, "append_from_cold_page",
	  { "the inode lock (i_rwsem) of a file", "taken in ext4_buffered_write_iter", "released it in ext4_buffered_write_iter" },
	  "held the kernel rwsem for 1.4 s" },
	{ "io on fsync", build_io, "io", 402, "persist_batch",
	  { "3 threads waited 1.8 s", "mostly in fsync", "issued the most I/O: 30.0 MiB in 12 requests" },
	  "issued 30.0 MiB" },
	{ "runqueue under a quota", build_runqueue, "runqueue", 500, "crunch_batch",
	  { "3 threads waited runnable", "tid 500 (hasher) ran", NULL }, "on-CPU while other threads" },
	{ "busy loop preempted", build_busy, "cpu_busy", PID, "compute_digest",
	  { "no thread waited abnormally", "an event loop's thread, ran on-CPU for 2.2 s without returning to its poll", "in compute_digest ← main" },
	  "on-CPU for 2.2 s" },
	{ "busy loop under a CPU quota", build_busy_throttled, "cpu_busy", PID, "compute_digest",
	  { "ran on-CPU for 2.2 s without returning to its poll", "in compute_digest ← main; throttled by its CPU "
	    "quota: cgroup /svc (40 ms of CPU per 100 ms) was throttled for 300 ms in 5 periods", NULL },
	  "on-CPU for 2.2 s" },
	{ "woken and kept from its CPU", build_woken_not_run, "runqueue", 0, NULL,
	  { "1 thread waited runnable 2.9 s in total (max 949 ms), 2.9 s of it woken and not yet given a CPU; "
	    "no thread of the target ran meanwhile", NULL, NULL }, NULL },
	{ "woken and kept from its CPU by another process", build_woken_cpu_taken, "runqueue", 9100, NULL,
	  { "2.8 s of it woken and not yet given a CPU; no thread of the target ran meanwhile: the CPU went to "
	    "pid 9100 tid 9100 (spin, outside the target), on-CPU where they waited during 1.9 s of it", NULL, NULL },
	  "held the CPU the target's threads waited for" },
	{ "starved is not busy", build_starved, "runqueue", 0, NULL,
	  { "no thread of the target ran meanwhile", NULL, NULL }, NULL },
	{ "throttled by its CPU quota", build_throttled, "runqueue", 0, NULL,
	  { "1 thread waited runnable 1.8 s in total (max 90 ms), throttled by its CPU quota: cgroup "
	    "/kubepods/burstable/pod7 (10 ms of CPU per 100 ms) was throttled for 1.8 s in 20 periods; "
	    "no thread of the target ran meanwhile", NULL, NULL }, NULL },
	{ "memory reclaim beats io", build_reclaim, "memory_reclaim", 600, "ingest_chunk",
	  { "3 threads stalled", "in direct memory reclaim", "on-CPU" }, "in direct reclaim" },
	{ "idle pool with a stall on top", build_pool_stall, "app_lock", 701, "flush_state_locked",
	  { "2 threads waited 1.2 s", "held it for 600 ms", NULL }, "held mutex for 600 ms" },
	{ "healthy idle", build_idle, "none", 0, NULL, { "no stall: 6 threads", NULL, NULL }, NULL },
	{ "idle without symbols", build_idle_nosyms, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "empty", build_empty, "none", 0, NULL, { "no stall: 0 threads", NULL, NULL }, NULL },
	{ "convoy on a condvar (global read lock)", build_convoy_condvar, "app_lock", 1000, "my_net_read",
	  { "4 threads waited", "an application lock (a condition variable, in MDL_wait::timed_wait",
	    "waited for its own client or another event" }, "held an application lock" },
	{ "lock queue behind a timed wait", build_lock_queue, "app_lock", 1000, "my_net_read",
	  { "tid 1001 (conn) released it, itself held up 3.6 s by tid 1000 (conn)",
	    "waited for its own client or another event", NULL }, "held an application lock" },
	{ "convoy on a latch across processes", build_convoy_latch, "app_lock", 5000, "secure_read",
	  { "for an application lock (a latch: epoll_wait woken by the releasing thread, in WaitLatch ← ProcSleep ← LockAcquireExtended)",
	    "tid 5000 (postgres) of pid 5000 held it", NULL },
	  NULL },
	{ "semi-synchronous commits let go by a timeout", build_semisync_timeout, "app_lock", 1400, "Repl_semi_sync_master::switch_off",
	  { "4 threads waited", "in Repl_semi_sync_master::commit_trx ← Repl_semi_sync_master::wait_after_commit",
	    "; tid 1400 (conn) waited there too, and let them go when its own wait timed out after 3.0 s, in "
	    "Repl_semi_sync_master::switch_off ← Repl_semi_sync_master::commit_trx" },
	  "let the others go when its own wait timed out after 3.0 s" },
	{ "a lock's holder held up by a frozen filesystem", build_fsfreeze_chain, "app_lock", 1600, "thaw_super_locked_[k]",
	  { "tid 1500 (postgres) released it, itself held up 3.0 s on a kernel percpu_rwsem (read), the freeze "
	    "protection (sb_writers) of a filesystem: it was frozen (fsfreeze, a snapshot or a backup), by pid 1600 "
	    "tid 1600 (fsfreeze, outside the target), which held it for 3.0 s and released it in thaw_super_locked",
	    NULL, NULL },
	  "held the kernel percpu_rwsem for 3.0 s in thaw_super_locked" },
	{ "a reload relayed to every child", build_reload_broadcast, "app_lock", 5106, "pg_reload_conf",
	  { "3 threads waited", "in WaitLatch ← SyncRepWaitForLSN ← CommitTransactionCommand", NULL }, NULL },
	{ "a deadlock broken by a timeout", build_deadlock_timeout, "app_lock", 5200, "AbortCurrentTransaction",
	  { "2 threads waited", "tid 5200 (postgres) of pid 5200 waited there too, and let them go when its own wait timed out after 1.0 s",
	    NULL }, NULL },
	{ "handoff of a semaphore lock", build_handoff_sem, "app_lock", 1100, "flush_buffers",
	  { "a semaphore", "ran on-CPU", NULL }, NULL },
	{ "dispatcher is not a holder", build_dispatcher, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "a pool woken in bursts by its I/O reaper", build_pool_bursts, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "woken together, waiting again at once", build_woken_for_nothing, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "a pool's workers waking each other at their wait for work", build_pool_turns, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "a pool's listeners woken by requests", build_pool_listeners, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "a lock over pool workers, one back at the pool's wait", build_pool_after_lock, "app_lock", 3200, "release_lock",
	  { "2 threads waited 2.0 s in total", "in acquire_lock", "tid 3200 (worker) held it for" }, NULL },
	{ "a pool's workers waking stand-ins before a lock wait", build_pool_stand_in, "app_lock", 3303, "lock_release",
	  { "2 threads waited 1.4 s in total", "in lock_rec ← update_row", "tid 3303 (worker) held it for" }, NULL },
	{ "a lock waited for in re-armed slices of 1 s", build_rearmed_slices, "app_lock", 3400, NULL,
	  { "2 threads waited 6.0 s in total (max 3.0 s)", "in MDL_wait::timed_wait", NULL }, NULL },
	{ "a pool's workers between their requests", build_pool_between_requests, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "a pool's listeners polling inside get_event", build_pool_listening, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "shutdown of an idle pool", build_shutdown, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "event loop in a sleep", build_loop_sleep, "loop_blocked", PID, "debugCommand",
	  { "the event loop of tid 4242 (kvstore) was held away from its poll (epoll_wait in aeProcessEvents",
	    "for 4.0 s", "slept 4.0 s in clock_nanosleep" }, "held its event loop for 4.0 s" },
	{ "event loop computing 400 ms", build_loop_busy, "cpu_busy", PID, "luaV_execute",
	  { "an event loop's thread, ran on-CPU for", "without returning to its poll", NULL }, NULL },
	{ "event loop freeing memory 450 ms", build_loop_freeing, "cpu_busy", PID, "_dictClear",
	  { "an event loop's thread, ran on-CPU for", "without returning to its poll", NULL }, NULL },
	{ "event loop busy serving its clients", build_loop_serving, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "busy child beside a healthy loop", build_busy_child, "none", 0, NULL,
	  { "pid 7777 (kv-bgsave), a child process of the target, ran on-CPU",
	    "the longest mmap_lock hold", "fork" }, NULL },
	{ "per-connection threads are not event loops", build_per_connection, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "a background process woken to work, throttling with polls", build_background_throttle, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "a database's commits", build_commits, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "commits queued behind their own I/O", build_commit_queue, "io", 1702, "log_flush",
	  { "4 threads waited 23.5 s in total (max 950 ms) on block I/O: 5.5 s in it, mostly in fdatasync",
	    "and 17.9 s queued for a mutex (futex 0x7f0000300000) of pid 4242, taken in log_flush ← commit, which they held in "
	    "turn for their I/O (I/O during 92 %",
	    "tid 1702 (dbd) issued the most I/O: 9.0 MiB" }, "issued 9.0 MiB" },
	{ "lock held through its holder's I/O", build_lock_over_io, "app_lock", 1800, "rewrite_table",
	  { "4 threads waited", "held it for", "waited on I/O 2.8 s (in flush_pages ← rewrite_table)" }, "held mutex" },
	{ "lock held by a sleeper beside slow commits", build_lock_beside_commits, "app_lock", 1900, "do_sleep",
	  { "4 threads waited", "held it for 3.0 s", "slept 2.9 s" }, "held mutex" },
	{ "backend busy 2.4 s", build_backend_busy, "cpu_busy", PID + 2, "ExecScan",
	  { "ran on-CPU for 2.4 s without blocking", "other threads waited", NULL }, "on-CPU for 2.4 s" },
	{ "backend serving between short waits", build_backend_serving, "none", 0, NULL,
	  { "no stall", NULL, NULL }, NULL },
	{ "busy thread nothing waits on", build_busy_unwaited, "none", 0, NULL,
	  { "ran on-CPU for 2.2 s without blocking, but nothing of the service waited on it", NULL, NULL },
	  NULL },
	{ "file lock held by a sleeping worker", build_flock_pool, "app_lock", 2001, "php_usleep",
	  { "3 threads waited 8.1 s", "for an application lock (a file lock, in ps_files_open ← php_session_start)",
	    "tid 2001 (php-fpm) of pid 2001 held it for 2.8 s, released in ps_files_close" },
	  "held a file lock for 2.8 s" },
	{ "file lock held outside the target", build_flock_outside, "app_lock", 6100, NULL,
	  { "1 thread waited 3.0 s", "a file lock, in save_state", "(backup, outside the target) held it for 3.0 s" },
	  "held a file lock" },
	{ "standby waiting for a file lock", build_flock_standby, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "stale spinlock tag on idle waits", build_stale_spin, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "workers held up by a stalled dependency", build_dependency_net, "dependency", 0, NULL,
	  { "4 threads waited", "in the middle of their work for another process's answer, in poll called from cache_get ← handle_request ← worker_loop ← main (they wait for work in accept)",
	    "4 of those waits ended within 3.0 ms of each other, after up to 3.0 s: the process they called stalled" }, NULL },
	{ "a stalled dependency, slow once more later", build_dependency_slow, "dependency", 0, NULL,
	  { "4 threads waited", "in poll called from cache_get", "4 of those waits ended within 3.0 ms of each other, after up to 3.0 s" }, NULL },
	{ "dependency answering through a thread per connection", build_dependency_conns, "dependency", 6401, "reply",
	  { "4 threads waited", "pid 6400 tid 6401 (dbd, outside the target) and 3 other threads of its process answered after up to 3.0 s", NULL },
	  "answered the target's calls after up to 3.0 s" },
	{ "dependency answering over a unix socket", build_dependency_unix, "dependency", 6200, "reply",
	  { "4 threads waited", "pid 6200 tid 6200 (cached, outside the target) answered after up to 3.0 s", NULL },
	  "answered the target's calls after up to 3.0 s" },
	{ "dependency recorded too", build_dependency_recorded, "loop_blocked", 6300, "handle_debug",
	  { "the event loop of tid 6300 (cached)", "slept 3.0 s", NULL }, NULL },
	{ "a pool polling for its calls' answers", build_pool_polls, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "a burst of requests after a quiet spell", build_pool_burst, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "clients pausing on kept-alive connections", build_pool_keepalive, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "every worker of a pool asleep at once", build_pool_asleep, "loop_blocked", 2500, "page_nap",
	  { "all 3 workers of a pool were away from their wait for work (accept) at once for 2.0 s",
	    "none free to take a request: they slept up to 2.0 s in clock_nanosleep called from page_nap", NULL },
	  "slept 2.0 s in the middle of a request" },
	{ "two of three workers asleep", build_pool_one_asleep, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
	{ "many kept-alive pauses, two ending together", build_pool_keepalive_many, "none", 0, NULL, { "no stall", NULL, NULL }, NULL },
};

static json_t *diagnose(const struct capdata *baseline)
{
	struct aggregate agg;
	json_t *d = NULL;

	assert_int_equal(aggregate_build(&agg, W), 0);
	assert_int_equal(diagnose_build(W, &agg, baseline, &d), 0);
	aggregate_release(&agg);
	assert_non_null(d);
	return d;
}

static bool stack_has(const json_t *stack, const char *frame)
{
	size_t i;
	json_t *v;

	json_array_foreach(stack, i, v) {
		if (!strcmp(json_string_value(v), frame))
			return true;
	}
	return false;
}

static void test_cases(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		struct capdata cd;
		json_t *d, *v, *cul;
		const char *kind, *sum;
		char *dump;

		assert_int_equal(capdata_init(&cd), 0);
		W = &cd;
		c->build();
		d = diagnose(NULL);
		v = json_object_get(d, "verdict");
		kind = json_string_value(json_object_get(v, "kind"));
		sum = json_string_value(json_object_get(v, "summary"));
		cul = json_object_get(v, "culprit");
		dump = json_dumps(v, JSON_COMPACT);
		if (!kind || strcmp(kind, c->kind))
			fail_msg("%s: kind %s, want %s: %s\nwaits: %s", c->name, kind, c->kind, dump,
				 json_dumps(json_object_get(d, "waits"), JSON_COMPACT));
		for (k = 0; k < 3; k++)
			if (c->summary_has[k] && !strstr(sum, c->summary_has[k]))
				fail_msg("%s: summary lacks \"%s\": %s", c->name, c->summary_has[k], sum);
		if (!c->culprit_tid) {
			if (!json_is_null(cul))
				fail_msg("%s: culprit should be null: %s", c->name, dump);
		} else {
			if (json_integer_value(json_object_get(cul, "tid")) != c->culprit_tid)
				fail_msg("%s: culprit tid, want %d: %s", c->name, c->culprit_tid, dump);
			if (c->culprit_frame && !stack_has(json_object_get(cul, "stack"), c->culprit_frame))
				fail_msg("%s: culprit stack lacks %s: %s", c->name, c->culprit_frame, dump);
			if (c->operation && !strstr(json_string_value(json_object_get(cul, "operation")),
						    c->operation))
				fail_msg("%s: operation lacks \"%s\": %s", c->name, c->operation, dump);
			assert_true(json_is_boolean(json_object_get(cul, "stack_complete")));
			assert_true(json_is_integer(json_object_get(cul, "pid")));
			assert_true(json_is_string(json_object_get(cul, "comm")));
		}
		/* every section is there, every time */
		assert_true(json_is_object(json_object_get(d, "waits")));
		assert_true(json_is_array(json_object_get(d, "locks")));
		assert_true(json_is_array(json_object_get(d, "holders")));
		assert_true(json_is_array(json_object_get(d, "memory")));
		assert_true(json_is_object(json_object_get(d, "cpu")));
		assert_true(json_is_array(json_object_get(d, "io")));
		assert_true(json_is_object(json_object_get(d, "diagnosis")));
		assert_true(json_is_integer(json_object_get(v, "threads")));
		assert_true(json_is_number(json_object_get(v, "offcpu_ms")));
		assert_true(json_is_number(json_object_get(v, "max_ms")));
		free(dump);
		json_decref(d);
		capdata_free(&cd);
	}
}

/* The evidence sections of the origin story. */
static void test_evidence(void **state)
{
	struct capdata cd;
	json_t *d, *l, *h, *m;

	assert_int_equal(capdata_init(&cd), 0);
	W = &cd;
	build_mmap_populate();
	d = diagnose(NULL);
	l = json_array_get(json_object_get(d, "locks"), 0);
	assert_string_equal(json_string_value(json_object_get(l, "kind")), "mmap_lock");
	assert_int_equal(json_integer_value(json_object_get(l, "threads")), 6);
	assert_string_equal(json_string_value(json_object_get(l, "blame")), "holds");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(l, "holders"), 0), "tid")), 4250);
	h = json_array_get(json_object_get(d, "holders"), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "tid")), 4250);
	assert_true(json_real_value(json_object_get(h, "hold_ms")) == 6000.0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(h, "longest"), "operation")),
			    "mmap 3.0 GiB MAP_POPULATE");
	m = json_array_get(json_object_get(d, "memory"), 0);
	assert_int_equal(json_integer_value(json_object_get(m, "pid")), PID);
	assert_int_equal(json_integer_value(json_object_get(m, "samples")), 3);
	assert_true((uint64_t)json_integer_value(json_object_get(m, "rss_max_bytes")) == 4 * GIB);
	assert_int_equal(json_array_size(json_object_get(m, "series")), 3);
	json_decref(d);
	capdata_free(&cd);

	/* repeated short holds: the holder's total is summed over the window */
	assert_int_equal(capdata_init(&cd), 0);
	W = &cd;
	build_mmap_mprotect();
	d = diagnose(NULL);
	h = json_array_get(json_object_get(d, "holders"), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "holds")), 200);
	assert_true(json_real_value(json_object_get(h, "hold_ms")) == 1800.0);
	json_decref(d);
	capdata_free(&cd);
}

/* With a baseline, waits at the usual rate are not a stall. */
static void test_baseline(void **state)
{
	struct capdata cd, base;
	json_t *d;

	/* the baseline: the same I/O waits in a window of the same length */
	assert_int_equal(capdata_init(&base), 0);
	W = &base;
	build_io();
	assert_int_equal(capdata_init(&cd), 0);
	W = &cd;
	build_io();
	d = diagnose(&base);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "verdict"), "kind")), "none");
	assert_true(json_is_true(json_object_get(json_object_get(d, "diagnosis"), "baseline")));
	json_decref(d);
	/* the same waits over a window three times as long: a third of the rate, still a stall */
	base.window.duration_ns *= 3;
	d = diagnose(&base);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "verdict"), "kind")), "io");
	assert_true(json_is_true(json_object_get(json_object_get(d, "diagnosis"), "baseline")));
	json_decref(d);
	/* a baseline without a window is ignored */
	base.window.duration_ns = 0;
	d = diagnose(&base);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "verdict"), "kind")), "io");
	assert_true(json_is_false(json_object_get(json_object_get(d, "diagnosis"), "baseline")));
	json_decref(d);
	capdata_free(&base);
	capdata_free(&cd);
}

/* Same capture, same diagnosis, also after a write/read round trip (what
 * `stalltrap report DIR` does). */
static void test_deterministic(void **state)
{
	char dir[] = "/tmp/test_diagnose.XXXXXX", path[64], err[512];
	struct capdata cd, again;
	json_t *a, *b;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(capdata_init(&cd), 0);
	W = &cd;
	build_kernel_lock();
	a = diagnose(NULL);
	b = diagnose(NULL);
	assert_true(json_equal(a, b));
	json_decref(b);
	assert_int_equal(capdata_write(&cd, dir), 0);
	assert_int_equal(capdata_init(&again), 0);
	assert_int_equal(capdata_read(&again, dir, err, sizeof(err)), 0);
	W = &again;
	b = diagnose(NULL);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	capdata_free(&cd);
	capdata_free(&again);
	snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE);
	unlink(path);
	rmdir(dir);
}

static void test_summary_line(void **state)
{
	char buf[64], big[1024];
	json_t *d = json_pack("{s:{s:s, s:s}}", "verdict", "kind", "futex", "summary",
			      "tid 7 (evil\x1b[31m) held a caf\xc3\xa9 lock for a long long long time indeed");

	assert_int_equal(diagnose_summary_line(d, big, sizeof(big)), 0);
	assert_string_equal(big, "verdict: futex: tid 7 (evil?[31m) held a caf\xc3\xa9 lock for a long long long time indeed");
	assert_int_equal(diagnose_summary_line(d, buf, sizeof(buf)), 0);
	assert_true(strlen(buf) < sizeof(buf));
	assert_non_null(strstr(buf, "…"));
	/* cut inside "é": the whole character goes */
	assert_int_equal(diagnose_summary_line(d, buf, 48), 0);
	assert_true(strlen(buf) < 48);
	assert_null(strstr(buf, "\xc3…"));
	assert_int_equal(diagnose_summary_line(d, buf, 8), -EINVAL);
	json_decref(d);
	d = json_object();
	assert_int_equal(diagnose_summary_line(d, big, sizeof(big)), -EINVAL);
	json_decref(d);
	assert_string_equal(diagnose_kind_name(DIAG_MEMORY_RECLAIM), "memory_reclaim");
	assert_string_equal(diagnose_kind_name(99), "unknown");
}

/* diagnose_classify() is the classification report.json's "waits" counts:
 * per cause, the target's blocks it classifies so are waits[cause].count. */
static void test_classify(void **state)
{
	size_t i, b;
	unsigned int c;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t count[DIAG_CAUSE__COUNT] = { 0 };
		struct capdata cd;
		uint8_t *cause;
		json_t *d, *waits;

		assert_int_equal(capdata_init(&cd), 0);
		W = &cd;
		cases[i].build();
		cause = malloc(cd.nblocks + 1);
		assert_non_null(cause);
		assert_int_equal(diagnose_classify(&cd, cause), 0);
		for (b = 0; b < cd.nblocks; b++) {
			assert_true(cause[b] < DIAG_CAUSE__COUNT);
			if (!cd.threads[cd.blocks[b].thread].outside)
				count[cause[b]]++;
		}
		d = diagnose(NULL);
		waits = json_object_get(d, "waits");
		for (c = 0; c < DIAG_CAUSE__COUNT; c++) {
			json_t *w = json_object_get(waits, diagnose_cause_name(c));

			assert_non_null(w);
			if ((uint64_t)json_integer_value(json_object_get(w, "count")) != count[c])
				fail_msg("%s: %s: classify counts %" PRIu64 ", waits %" JSON_INTEGER_FORMAT,
					 cases[i].name, diagnose_cause_name(c), count[c],
					 json_integer_value(json_object_get(w, "count")));
		}
		json_decref(d);
		free(cause);
		capdata_free(&cd);
	}
	assert_string_equal(diagnose_cause_name(DIAG_CAUSE_MEMORY_RECLAIM), "memory_reclaim");
	assert_string_equal(diagnose_cause_name(DIAG_CAUSE_OTHER), "other");
	assert_string_equal(diagnose_cause_name(DIAG_CAUSE__COUNT), "unknown");
	assert_int_equal(diagnose_classify(NULL, NULL), -EINVAL);
}

/* The words for what an mmap_lock hold was doing: the verdict's, and the
 * timeline's labels. */
static void test_hold_op(void **state)
{
	static const struct {
		int32_t sys;            /* -1: outside a syscall */
		uint64_t a1, a2, a3;
		uint32_t repeats;
		const char *op, *call;
	} ops[] = {
		{ NR_mmap, 3 * GIB, 3, 0x8022, 1, "mmap 3.0 GiB MAP_POPULATE", "mmap(3.0 GiB, MAP_POPULATE)" },
		{ NR_mmap, 384 * MIB, 3, 0x22, 1, "mmap 384 MiB", "mmap(384 MiB)" },
		{ NR_mprotect, 256 * MIB, 1, 0, 200, "mprotect 256 MiB PROT_READ ×200",
		  "mprotect(256 MiB, PROT_READ) ×200" },
		{ 329, 4096, 0, 0, 1, "pkey_mprotect 4 KiB PROT_NONE", "pkey_mprotect(4 KiB, PROT_NONE)" },
		{ 28, 1 * MIB, 4, 0, 1, "madvise 1.0 MiB MADV_DONTNEED", "madvise(1.0 MiB, MADV_DONTNEED)" },
		{ 25, 1 * MIB, 2 * MIB, 0, 1, "mremap 1.0 MiB to 2.0 MiB", "mremap(1.0 MiB to 2.0 MiB)" },
		{ 11, 512, 0, 0, 1, "munmap 512 B", "munmap(512 B)" },
		{ NR_clone, 0, 0, 0, 1, "fork of a 5.0 GiB process", "fork of a 5.0 GiB process" },
		{ NR_futex, 0, 0, 0, 1, "futex", "futex()" },
		{ 999, 0, 0, 0, 1, "syscall 999", "syscall 999" },
		{ -1, 0, 0, 0, 1, "a page fault or kernel work", "a page fault or kernel work" },
	};
	struct capdata cd;
	uint32_t t;
	size_t i;

	(void)state;
	assert_int_equal(capdata_init(&cd), 0);
	W = &cd;
	window(1000);
	t = thread(10, "svc");
	mem(100, 1 * GIB, 5 * GIB);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct cap_hold h = {
			.thread = t, .mm_pid = PID, .mode = CAP_HOLD_WRITE, .start_ns = T0 + 500 * MS,
			.dur_ns = 20 * MS, .ustack = ST_NO_STACK, .kstack = ST_NO_STACK,
			.in_syscall = ops[i].sys >= 0, .syscall = ops[i].sys >= 0 ? ops[i].sys : 0,
			.args = { 0, ops[i].a1, ops[i].a2, ops[i].a3 },
		};
		struct diag_holdop d;

		diagnose_hold_op(&cd, &h, ops[i].repeats, &d);
		assert_string_equal(d.op, ops[i].op);
		assert_string_equal(d.call, ops[i].call);
	}
	capdata_free(&cd);
}

static void test_bad_args(void **state)
{
	json_t *d = (json_t *)1;

	assert_int_equal(diagnose_build(NULL, NULL, NULL, &d), -EINVAL);
	assert_null(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_summary_line),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_hold_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
