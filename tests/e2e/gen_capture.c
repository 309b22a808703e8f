/* gen_capture.c: writes made-up capture directories for the report tests and bench/render.sh, without root.
 *
 * usage: gen_capture --out DIR [--kind incident|baseline|big|wide] [--stacks N] [--seed N] [--render]
 *
 * incident: a 10 s window with a trigger at +7 s. alloc-3gb holds mmap_lock
 *   for write in mmap(3 GiB) from +6.0 s to +7.2 s while eight identical
 *   workers wait for it (one folded lane); flusher does disk I/O, busy is
 *   runnable, feedsrv sleeps in epoll, an outside khugepaged takes a read
 *   hold; RSS climbs from 250 MiB to 3.25 GiB during the hold. Some user
 *   frames have hostile names (</script>, ]]>, quotes, &).
 * baseline: the same process for 20 s without the stall.
 * big: N unique call sites (default 100000) over 64 threads, for benchmarks.
 * wide: the same, but 1000 of them are deep, distinct from the root and each
 *   about a pixel wide: the flame graph's worst case for size.
 *
 * Writes DIR/capture.jsonl.gz. With --render it also renders DIR in-process
 * (writer_render), with a verdict and trigger samples as extra: the
 * cause evidence (holds, samples, memory) then reaches the pictures even
 * where the capture file does not carry it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "capdata/capdata.h"
#include "lib/capbuild.h"
#include "pipeline/writer.h"

#define MS 1000000ULL
#define S 1000000000ULL
#define T0 (1000 * S)           /* CLOCK_MONOTONIC at the window start */
#define MAX_FRAMES 64

static struct capdata cd;
static struct capbuild cb = { .cd = &cd, .exe_map = ST_NO_MAPPING, .libc_map = ST_NO_MAPPING };
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "gen_capture: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Stacks are named root first; user frames ending in '@' are libc's (tests/lib/capbuild.h). */
#define STACK(kernel, ...) CB_STACK(&cb, kernel, __VA_ARGS__)

static void block(uint32_t thread, uint32_t us, uint32_t ks, int state, uint8_t wait_kind,
		  int32_t syscall, uint64_t start, uint64_t dur)
{
	struct cap_block b = {
		.thread = thread, .ustack = us, .kstack = ks, .state = (uint8_t)state,
		.start_ns = start, .dur_ns = dur, .wait_kind = wait_kind,
		.in_syscall = syscall >= 0, .syscall = syscall >= 0 ? syscall : 0,
	};

	cb_block(&cb, &b);
}

static void header(const char *comm, uint64_t dur)
{
	int32_t pid = 4242;
	int err = capdata_set_target(&cd, &pid, 1, comm, "/usr/bin/feedsrv --port 8080 --cache 4g");

	if (!err)
		err = capdata_set_capture_path(&cd, "sched_exit_tp");
	if (err)
		die("header", err);
	cd.window.start_mono_ns = T0;
	cd.window.start_real_ns = 1714566896LL * 1000000000LL;
	cd.window.duration_ns = dur;
	cd.window.min_block_ns = 1 * MS;
	cd.window.sample_period_ns = 10 * MS;
	cb.exe_map = cb_mapping(&cb, 0x555555554000ULL, 0x555555754000ULL, 0, "/usr/bin/feedsrv",
				"4f1c0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b");
	cb.libc_map = cb_mapping(&cb, 0x7f0000000000ULL, 0x7f0000200000ULL, 0x28000,
				 "/usr/lib/x86_64-linux-gnu/libc.so.6", "93ac61ec5a8eb1396f9fbd350e3169a558528a40");
}

static void counters(void)
{
	static const char *const drops[] = { "ringbuf_full", "kstack_collision", "capdata_full" };
	size_t i;

	for (i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		if (capdata_add_drop(&cd, drops[i], 0))
			die("drop", ENOMEM);
	if (capdata_set_stat(&cd, "blocks", cd.nblocks))
		die("stat", ENOMEM);
}

/* The process both kinds share; stall: the incident's mmap_lock stall. */
static void feedsrv(uint64_t dur, bool stall)
{
	uint32_t k_futex = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_futex", "do_futex",
				 "futex_wait", "futex_wait_queue", "schedule", "__schedule");
	uint32_t k_epoll = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_epoll_wait",
				 "do_epoll_wait", "schedule_hrtimeout_range", "schedule", "__schedule");
	uint32_t k_fault = STACK(true, "asm_exc_page_fault", "exc_page_fault", "do_user_addr_fault",
				 "lock_mm_and_find_vma", "down_read", "rwsem_down_read_slowpath",
				 "schedule", "__schedule");
	uint32_t k_fsync = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_fsync", "do_fsync",
				 "file_write_and_wait_range", "folio_wait_bit_common", "io_schedule",
				 "schedule", "__schedule");
	uint32_t k_preempt = STACK(true, "asm_sysvec_apic_timer_interrupt", "irqentry_exit_to_user_mode",
				   "schedule", "__schedule");
	uint32_t k_sleep = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_clock_nanosleep",
				 "hrtimer_nanosleep", "do_nanosleep", "schedule", "__schedule");
	uint32_t k_mmap = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "ksys_mmap_pgoff", "vm_mmap_pgoff",
				"__mm_populate", "populate_vma_page_range", "__get_user_pages",
				"handle_mm_fault", "clear_page_erms");
	uint32_t k_khuge = STACK(true, "ret_from_fork", "kthread", "khugepaged", "khugepaged_wait_work",
				 "schedule_timeout", "schedule", "__schedule");
	uint32_t k_collapse = STACK(true, "ret_from_fork", "kthread", "khugepaged", "collapse_huge_page",
				    "hugepage_vma_revalidate");
	uint32_t u_queue = STACK(false, "start_thread@", "worker_main", "queue_pop", "pthread_cond_wait@",
				 "__futex_abstimed_wait_common@");
	uint32_t u_fault = STACK(false, "start_thread@", "worker_main", "handle_request", "build_response",
				 "__memcpy_avx_unaligned_erms@");
	uint32_t u_main = STACK(false, "__libc_start_main@", "main", "event_loop", "epoll_wait");
	uint32_t u_flush = STACK(false, "start_thread@", "flusher_main",
				 "evil</script><script>alert(1)</script>", "__fsync@");
	uint32_t u_busy = STACK(false, "start_thread@", "busy_main", "a&b<c>\"d\"'e'", "]]>cdata",
				"operator<<(std::ostream&, T const&)", "ünïcødé_€_fn");
	uint32_t u_alloc_sleep = STACK(false, "start_thread@", "alloc_main", "usleep", "__nanosleep@");
	uint32_t u_alloc = STACK(false, "start_thread@", "alloc_main", "grow_arena", "__mmap@");
	uint32_t none = cb_no_stack(&cb);
	uint32_t main_t = cb_thread(&cb, 4242, 4242, "feedsrv");
	uint32_t alloc_t = cb_thread(&cb, 4242, 4260, "alloc-3gb");
	uint32_t flush_t = cb_thread(&cb, 4242, 4261, "flusher");
	uint32_t busy_t = cb_thread(&cb, 4242, 4262, "busy");
	uint32_t khuge_t = cb_thread(&cb, 88, 88, "khugepaged");
	uint64_t t, stall_at = 6 * S, stall_len = 1200 * MS;
	int w;

	cd.threads[khuge_t].outside = true;
	for (t = 0; t + S <= dur; t += S)
		block(main_t, u_main, k_epoll, CAP_STATE_SLEEPING, CAP_WAIT_NONE, 232, T0 + t, S - 2 * MS);
	/* Eight workers with one picture: they share a lane. */
	for (w = 0; w < 8; w++) {
		uint32_t wt = cb_thread(&cb, 4242, 4250 + w, "worker");

		for (t = 0; t + 100 * MS <= dur; t += 100 * MS) {
			if (stall && t >= stall_at - 100 * MS && t < stall_at + stall_len)
				continue;
			block(wt, u_queue, k_futex, CAP_STATE_SLEEPING, CAP_WAIT_FUTEX, 202, T0 + t + 20 * MS,
			      60 * MS);
		}
		if (stall)
			block(wt, u_fault, k_fault, CAP_STATE_UNINTERRUPTIBLE, CAP_WAIT_MMAP_LOCK, -1,
			      T0 + stall_at + 5 * MS, stall_len - 5 * MS);
	}
	for (t = 0; t + 500 * MS <= dur; t += 500 * MS)
		block(flush_t, u_flush, k_fsync, CAP_STATE_UNINTERRUPTIBLE, CAP_WAIT_NONE, 74, T0 + t + 100 * MS,
		      200 * MS);
	for (t = 0; t + 50 * MS <= dur; t += 50 * MS)
		block(busy_t, u_busy, k_preempt, CAP_STATE_RUNNABLE, CAP_WAIT_NONE, -1, T0 + t, 5 * MS);
	for (t = 0; t + S <= dur; t += S)
		block(khuge_t, none, k_khuge, CAP_STATE_SLEEPING, CAP_WAIT_NONE, -1, T0 + t, 900 * MS);
	for (t = 0; t + 200 * MS <= dur; t += 200 * MS) {
		if (stall && t >= stall_at - 200 * MS && t < stall_at + stall_len)
			continue;
		block(alloc_t, u_alloc_sleep, k_sleep, CAP_STATE_SLEEPING, CAP_WAIT_NONE, 230, T0 + t, 150 * MS);
	}

	/* Evidence the capture stage collects: holds, on-CPU samples, memory. */
	struct cap_hold hold = { .thread = khuge_t, .mm_pid = 4242, .mode = CAP_HOLD_READ,
				 .start_ns = T0 + 3 * S, .dur_ns = 100 * MS, .ustack = none,
				 .kstack = k_collapse };
	cb_hold(&cb, &hold);
	for (t = 0; t < dur; t += 10 * MS) {
		uint64_t rss = 250ULL << 20;

		if (stall && t >= stall_at)
			rss += (3ULL << 30) * (t >= stall_at + stall_len ? stall_len : t - stall_at) / stall_len;
		cb_mem(&cb, 4242, T0 + t, rss, 8ULL << 30);
	}
	if (!stall)
		return;
	hold = (struct cap_hold){ .thread = alloc_t, .mm_pid = 4242, .mode = CAP_HOLD_WRITE,
				  .start_ns = T0 + stall_at, .dur_ns = stall_len, .ustack = u_alloc,
				  .kstack = k_mmap, .in_syscall = true, .syscall = 9,
				  .args = { 0, 3ULL << 30, 3, 0x22 } };
	cb_hold(&cb, &hold);
	hold = (struct cap_hold){ .thread = alloc_t, .mm_pid = 4242, .mode = CAP_HOLD_WRITE,
				  .start_ns = T0 + 8 * S, .dur_ns = 40 * MS, .ustack = u_alloc,
				  .kstack = k_mmap, .in_syscall = true, .syscall = 11,
				  .args = { 0x7f1000000000ULL, 64ULL << 20, 0, 0 } };
	cb_hold(&cb, &hold);
	for (t = stall_at; t < stall_at + stall_len; t += 10 * MS)
		cb_sample(&cb, alloc_t, T0 + t, u_alloc, k_mmap);
	cd.window.trigger_mono_ns = T0 + 7 * S;
}

/* N unique call sites: shared prefixes from a small call graph, then three
 * leaf frames spelling the site's number, so every site is distinct. */
static void big(uint64_t nstacks, bool wide)
{
	static const char *const kwait[] = { "futex_wait_queue", "do_nanosleep", "io_schedule",
					     "rwsem_down_read_slowpath", "schedule_hrtimeout_range",
					     "pipe_read", "unix_stream_read_generic", "ep_poll" };
	uint32_t kstacks[8], threads[64];
	char names[MAX_FRAMES][96];
	const char *ptrs[MAX_FRAMES];
	uint64_t i;
	int k;

	for (k = 0; k < 8; k++)
		kstacks[k] = STACK(true, "entry_SYSCALL_64", "do_syscall_64", "x64_sys_call", kwait[k],
				   "schedule", "__schedule");
	for (k = 0; k < 64; k++) {
		char comm[16];

		snprintf(comm, sizeof(comm), "worker-%d", k % 8);
		threads[k] = cb_thread(&cb, 4242, 5000 + k, comm);
	}
	for (i = 0; i < nstacks; i++) {
		uint32_t depth = 8 + (uint32_t)(rnd() % 24), d, fn = 0;

		if (wide && i < 600) {
			/* The SVG's worst case: a thousand deep stacks, distinct from
			 * the root up, each just over a pixel wide. */
			for (d = 0; d < 30; d++) {
				snprintf(names[d], sizeof(names[d]), "hot%04" PRIu64 "::level%02u(int)", i, d);
				ptrs[d] = names[d];
			}
			block(threads[i % 64], cb_stackv(&cb, false, ptrs, d), kstacks[i % 8], CAP_STATE_SLEEPING,
			      CAP_WAIT_NONE, -1, T0 + rnd() % S, 20 * S);
			continue;
		}

		snprintf(names[0], sizeof(names[0]), "start_thread@");
		for (d = 1; d + 3 < depth; d++) {
			/* Each function calls one of six others: prefixes repeat. */
			fn = (uint32_t)((fn * 2654435761u + d * 40503u + (uint32_t)(rnd() % 6)) % 4000);
			snprintf(names[d], sizeof(names[d]), "app::Module%02u::Service%04u::handle(std::string const&, int)",
				 fn % 97, fn);
		}
		snprintf(names[d++], sizeof(names[0]), "leaf_a%02" PRIu64, i / 2500 % 50);
		snprintf(names[d++], sizeof(names[0]), "leaf_b%02" PRIu64, i / 50 % 50);
		snprintf(names[d++], sizeof(names[0]), "leaf_c%02" PRIu64 "_%" PRIu64, i % 50, i / 125000);
		for (k = 0; k < (int)d; k++)
			ptrs[k] = names[k];
		block(threads[rnd() % 64], cb_stackv(&cb, false, ptrs, d), kstacks[rnd() % 8],
		      (int)(rnd() % 3), (uint8_t)(rnd() % 4 == 0 ? CAP_WAIT_FUTEX : CAP_WAIT_NONE), -1,
		      T0 + rnd() % (9 * S), MS + rnd() % (20 * MS) * (rnd() % 8 == 0 ? 10 : 1));
	}
}

static json_t *incident_extra(void)
{
	json_t *samples = json_array(), *extra;
	int i;

	for (i = -20; i <= 10; i++)
		json_array_append_new(samples, json_pack("{s:f, s:f}", "t_s", i * 0.25,
							 "value", i < 0 ? 12.0 + (i % 3) : 900.0 + i * 35));
	extra = json_pack("{s:{s:s, s:s}, s:{s:s, s:f, s:f, s:o}}",
			  "verdict", "kind", "mmap_lock_stall", "summary",
			  "Everything stopped for 1.2 s while alloc-3gb (tid 4260) held mmap_lock for "
			  "write in mmap(3.00 GiB) <and> 8 workers & the rest waited",
			  "trigger", "metric", "p99_latency_ms", "threshold", 200.0, "value", 1250.5,
			  "samples", samples);
	return extra;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' }, { "kind", required_argument, NULL, 'k' },
		{ "stacks", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 's' },
		{ "render", no_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *kind = "incident";
	uint64_t nstacks = 100000;
	bool render = false;
	json_t *extra = NULL;
	char err[512];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'k': kind = optarg; break;
		case 'n': nstacks = strtoull(optarg, NULL, 10); break;
		case 's': rng_state ^= strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL; break;
		case 'r': render = true; break;
		default:
			fprintf(stderr, "usage: gen_capture --out DIR [--kind incident|baseline|big|wide] "
				"[--stacks N] [--seed N] [--render]\n");
			return 2;
		}
	}
	if (!out) {
		fprintf(stderr, "gen_capture: --out DIR is required\n");
		return 2;
	}
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		die(out, errno);
	if (capdata_init(&cd))
		die("init", ENOMEM);
	if (strcmp(kind, "incident") == 0) {
		header("feedsrv", 10 * S);
		feedsrv(10 * S, true);
		extra = incident_extra();
	} else if (strcmp(kind, "baseline") == 0) {
		header("feedsrv", 20 * S);
		feedsrv(20 * S, false);
	} else if (strcmp(kind, "big") == 0 || strcmp(kind, "wide") == 0) {
		header("bigsrv", 10 * S);
		big(nstacks, strcmp(kind, "wide") == 0);
	} else {
		fprintf(stderr, "gen_capture: unknown --kind '%s'\n", kind);
		return 2;
	}
	counters();
	rc = capdata_write(&cd, out);
	if (rc)
		die("capdata_write", rc);
	if (render) {
		rc = writer_render(&cd, out, 10, NULL, extra, NULL, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "gen_capture: %s\n", err);
			return 1;
		}
	}
	json_decref(extra);
	capdata_free(&cd);
	return 0;
}
