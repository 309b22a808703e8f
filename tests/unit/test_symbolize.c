/* test_symbolize.c: the symbolizer unwinds and names this test's own stacks.
 *
 * A chain of functions captures its registers and a copy of its stack, as the
 * BPF side does for a blocked thread; the symbolizer gets /proc/self/maps and
 * must give back the exact chain, root first, with the right status, and serve
 * repeats from its unwind cache only when the stack words it read are equal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capdata/capdata.h"
#include "symbolize/demangle.h"
#include "symbolize/symbolize.h"

#define COPY_MAX (1u << 20)

/* A real call with a symbol of its own: neither inlined nor cloned (gcc's
 * .constprop/.isra copies would rename it). */
#if defined(__has_attribute) && __has_attribute(noclone)
#define KEEP_FRAME __attribute__((noinline, noclone))
#else
#define KEEP_FRAME __attribute__((noinline))
#endif

struct capture {
	uint64_t regs[SYM_NREGS];
	uint8_t *stack;
	size_t len;
};

static struct capture caps[2];
static volatile int cap_slot;

/* Copies memory that holds other frames' locals, redzones included: done in
 * assembly so that ASan neither intercepts nor instruments it. */
static void raw_copy(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* Takes what the BPF side takes at sched_exit_tp: the registers of the frame
 * that blocks and its stack from sp up to the top of the thread's stack. */
KEEP_FRAME void st_capture(struct capture *c)
{
	pthread_attr_t attr;
	void *lo;
	size_t size, len;
	uint64_t top;

	memset(c->regs, 0, sizeof(c->regs));
	__asm__ volatile("lea 0(%%rip), %%rax\n\t"
			 "mov %%rax, 128(%0)\n\t"
			 "mov %%rsp, 56(%0)\n\t"
			 "mov %%rbp, 48(%0)\n\t"
			 "mov %%rbx, 24(%0)\n\t"
			 "mov %%r12, 96(%0)\n\t"
			 "mov %%r13, 104(%0)\n\t"
			 "mov %%r14, 112(%0)\n\t"
			 "mov %%r15, 120(%0)\n\t"
			 : : "r"(c->regs) : "rax", "memory");
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		abort();
	pthread_attr_getstack(&attr, &lo, &size);
	pthread_attr_destroy(&attr);
	top = (uint64_t)lo + size;
	len = top - c->regs[SYM_REG_RSP];
	if (len > COPY_MAX)
		len = COPY_MAX;
	c->stack = malloc(len);
	if (!c->stack)
		abort();
	raw_copy(c->stack, (const void *)c->regs[SYM_REG_RSP], len);
	c->len = len;
}

/* Not static and not clonable, so that their symbols keep their names; the
 * asm after each call keeps it from becoming a tail call. */
KEEP_FRAME int st_f3(void)
{
	st_capture(&caps[cap_slot]);
	__asm__ volatile("" ::: "memory");
	return 3;
}

KEEP_FRAME int st_f2(void)
{
	int r = st_f3();

	__asm__ volatile("" ::: "memory");
	return r + 2;
}

KEEP_FRAME int st_f1(void)
{
	int r = st_f2();

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

KEEP_FRAME void *st_thread_fn(void *arg)
{
	/* Twice from the same call site, the counter in memory rather than in a
	 * callee-saved register that the chain would save on the stack. */
	for (cap_slot = 0; cap_slot < 2; cap_slot++)
		st_f1();
	return NULL;
}

static void free_caps(void)
{
	free(caps[0].stack);
	free(caps[1].stack);
	memset(caps, 0, sizeof(caps));
}

static void capture_in_thread(void)
{
	pthread_t t;

	free_caps();
	assert_int_equal(pthread_create(&t, NULL, st_thread_fn, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static char *read_file(const char *path)
{
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(buf);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

struct fixture {
	struct capdata cd;
	struct symbolizer *sym;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256] = "";
	char *maps;

	assert_non_null(fx);
	assert_int_equal(capdata_init(&fx->cd), 0);
	fx->sym = symbolizer_new(&fx->cd, NULL, "/proc", err, sizeof(err));
	assert_non_null(fx->sym);
	maps = read_file("/proc/self/maps");
	assert_int_equal(symbolizer_add_process(fx->sym, getpid(), maps), 0);
	free(maps);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	symbolizer_free(fx->sym);
	capdata_free(&fx->cd);
	free(fx);
	free_caps();
	return 0;
}

static const struct cap_stack *stack_of(struct fixture *fx, int64_t id)
{
	assert_true(id >= 0);
	assert_true((size_t)id < fx->cd.nstacks);
	return &fx->cd.stacks[id];
}

static const char *frame_name(struct fixture *fx, const struct cap_stack *s, size_t i)
{
	assert_true(i < s->nframes);
	return fx->cd.frames[s->frames[i]].name;
}

static void print_stack(struct fixture *fx, const struct cap_stack *s)
{
	uint32_t i;

	for (i = 0; i < s->nframes; i++)
		print_message("  %2u %s\n", i, frame_name(fx, s, i));
}

static int64_t ustack(struct fixture *fx, const struct capture *c, size_t len)
{
	return symbolizer_ustack(fx->sym, getpid(), c->regs, c->stack, len);
}

static void test_thread_chain(void **state)
{
	static const char *const want[] = { "__clone3", "start_thread", "st_thread_fn",
					    "st_f1", "st_f2", "st_f3", "st_capture" };
	struct fixture *fx = *state;
	const struct cap_stack *s;
	const struct cap_frame *f;
	size_t i;

	capture_in_thread();
	s = stack_of(fx, ustack(fx, &caps[0], caps[0].len));
	if (s->nframes != 7)
		print_stack(fx, s);
	assert_int_equal(s->nframes, 7);
	if (strncmp(frame_name(fx, s, 1), "[libc", 5) == 0)
		fail_msg("glibc's local symbols (start_thread, __clone3) come from its separate "
			 "debug info: install libc6-dbg");
	for (i = 0; i < 7; i++)
		assert_string_equal(frame_name(fx, s, i), want[i]);
	assert_int_equal(s->status, CAP_STACK_COMPLETE);
	/* The leaf is where the registers were taken; callers are return addresses. */
	f = &fx->cd.frames[s->frames[6]];
	assert_int_equal(f->addr, caps[0].regs[SYM_REG_RIP]);
	assert_false(f->kernel);
	/* Frames in files carry their mapping, with the build id of this binary. */
	assert_int_not_equal(f->mapping, ST_NO_MAPPING);
	assert_true(f->addr >= fx->cd.mappings[f->mapping].start &&
		    f->addr < fx->cd.mappings[f->mapping].limit);
	assert_non_null(strstr(fx->cd.mappings[f->mapping].file, "test_symbolize"));
	assert_non_null(fx->cd.mappings[f->mapping].build_id);
	assert_int_equal(strlen(fx->cd.mappings[f->mapping].build_id), 40);
}

static void test_main_thread(void **state)
{
	struct fixture *fx = *state;
	const struct cap_stack *s;
	bool saw_main = false, saw_libc_start = false;
	size_t i;

	free_caps();
	cap_slot = 0;
	st_f1();
	s = stack_of(fx, ustack(fx, &caps[0], caps[0].len));
	if (s->status != CAP_STACK_COMPLETE)
		print_stack(fx, s);
	assert_int_equal(s->status, CAP_STACK_COMPLETE);
	assert_string_equal(frame_name(fx, s, 0), "_start");
	for (i = 0; i < s->nframes; i++) {
		saw_main |= strcmp(frame_name(fx, s, i), "main") == 0;
		saw_libc_start |= strcmp(frame_name(fx, s, i), "__libc_start_main") == 0 ||
				  strcmp(frame_name(fx, s, i), "__libc_start_call_main") == 0;
	}
	assert_true(saw_main);
	assert_true(saw_libc_start);
	assert_string_equal(frame_name(fx, s, s->nframes - 1), "st_capture");
}

/* A child forked without exec and gone before its maps were read: it takes
 * its parent's mappings, and its files are opened through its parent's
 * /proc entry (the child's pid has none). Its stacks unwind as the parent's. */
static void test_forked_child(void **state)
{
	static const pid_t gone = 999999999;
	struct fixture *fx = *state;
	const struct cap_stack *s, *c;
	size_t i;

	capture_in_thread();
	assert_int_equal(symbolizer_ustack(fx->sym, gone, caps[0].regs, caps[0].stack, caps[0].len), -ESRCH);
	assert_int_equal(symbolizer_add_forked(fx->sym, gone, gone - 1), -ENOENT);
	assert_int_equal(symbolizer_add_forked(fx->sym, gone, getpid()), 0);
	s = stack_of(fx, ustack(fx, &caps[0], caps[0].len));
	c = stack_of(fx, symbolizer_ustack(fx->sym, gone, caps[0].regs, caps[0].stack, caps[0].len));
	assert_int_equal(c->status, CAP_STACK_COMPLETE);
	assert_int_equal(c->nframes, s->nframes);
	for (i = 0; i < s->nframes; i++)
		assert_string_equal(frame_name(fx, c, i), frame_name(fx, s, i));
	assert_string_equal(frame_name(fx, c, c->nframes - 1), "st_capture");
}

static void test_truncated_copy(void **state)
{
	struct fixture *fx = *state;
	const struct cap_stack *s;

	capture_in_thread();
	s = stack_of(fx, ustack(fx, &caps[0], 64));
	assert_int_equal(s->status, CAP_STACK_TRUNCATED);
	assert_true(s->nframes >= 1);
	assert_string_equal(frame_name(fx, s, s->nframes - 1), "st_capture");
	/* No copy at all: the leaf alone. */
	s = stack_of(fx, ustack(fx, &caps[0], 0));
	assert_int_equal(s->status, CAP_STACK_TRUNCATED);
	assert_int_equal(s->nframes, 1);
}

static void test_unwind_cache(void **state)
{
	struct fixture *fx = *state;
	struct symbolizer_stats st;
	int64_t id0, id1, id2, id3;
	uint64_t ret_f2;
	const struct cap_stack *s;
	uint8_t *copy;
	size_t off;

	capture_in_thread();
	id0 = ustack(fx, &caps[0], caps[0].len);
	symbolizer_stats(fx->sym, &st);
	assert_int_equal(st.ustacks, 1);
	assert_int_equal(st.ustack_cache_hits, 0);

	/* The second capture, from the same path: a verified hit, the same stack. */
	id1 = ustack(fx, &caps[1], caps[1].len);
	symbolizer_stats(fx->sym, &st);
	assert_int_equal(st.ustack_cache_hits, 1);
	assert_int_equal(id1, id0);

	/* A return address the unwinder read is changed: no hit, another stack. */
	s = stack_of(fx, id0);
	ret_f2 = fx->cd.frames[s->frames[4]].addr; /* st_f2's return address into it */
	copy = malloc(caps[1].len);
	assert_non_null(copy);
	memcpy(copy, caps[1].stack, caps[1].len);
	for (off = 0; off + 8 <= caps[1].len; off += 8)
		if (memcmp(copy + off, &ret_f2, 8) == 0)
			break;
	assert_true(off + 8 <= caps[1].len);
	ret_f2 += 1;
	memcpy(copy + off, &ret_f2, 8);
	id2 = symbolizer_ustack(fx->sym, getpid(), caps[1].regs, copy, caps[1].len);
	symbolizer_stats(fx->sym, &st);
	assert_int_equal(st.ustack_cache_hits, 1);
	assert_true(id2 >= 0);
	assert_int_not_equal(id2, id0);
	s = stack_of(fx, id2);
	assert_int_equal(fx->cd.frames[s->frames[4]].addr, ret_f2);

	/* A shorter copy that no longer holds words the unwind read: no hit either. */
	id3 = ustack(fx, &caps[1], 64);
	symbolizer_stats(fx->sym, &st);
	assert_int_equal(st.ustack_cache_hits, 1);
	assert_int_not_equal(id3, id0);
	assert_int_equal(stack_of(fx, id3)->status, CAP_STACK_TRUNCATED);

	/* A process registered anew is a new session: unwound again, to the same
	 * stack. Registering the same maps text again keeps the session. */
	{
		char *maps = read_file("/proc/self/maps");

		symbolizer_drop_process(fx->sym, getpid());
		assert_int_equal(symbolizer_add_process(fx->sym, getpid(), maps), 0);
		assert_int_equal(ustack(fx, &caps[1], caps[1].len), id0);
		symbolizer_stats(fx->sym, &st);
		assert_int_equal(st.ustack_cache_hits, 1);
		assert_int_equal(symbolizer_add_process(fx->sym, getpid(), maps), 0);
		assert_int_equal(ustack(fx, &caps[1], caps[1].len), id0);
		symbolizer_stats(fx->sym, &st);
		assert_int_equal(st.ustack_cache_hits, 2);
		free(maps);
	}
	assert_true(st.unwind_ns > 0);
	free(copy);
}

static void test_unknown_pid_and_pc(void **state)
{
	struct fixture *fx = *state;
	struct symbolizer_stats st;
	const struct cap_stack *s;
	uint64_t regs[SYM_NREGS] = { 0 };
	uint8_t stack[64] = { 0 };

	regs[SYM_REG_RIP] = 0x10;
	regs[SYM_REG_RSP] = 0x1000;
	assert_int_equal(symbolizer_ustack(fx->sym, 999999999, regs, stack, sizeof(stack)), -ESRCH);
	s = stack_of(fx, symbolizer_ustack(fx->sym, getpid(), regs, stack, sizeof(stack)));
	assert_int_equal(s->nframes, 1);
	assert_string_equal(frame_name(fx, s, 0), "[unknown]");
	assert_int_equal(s->status, CAP_STACK_TRUNCATED);
	symbolizer_stats(fx->sym, &st);
	assert_int_equal(st.unknown_pcs, 1);
	assert_int_equal(st.maps_refresh_wanted, 1);

	symbolizer_drop_process(fx->sym, getpid());
	assert_int_equal(symbolizer_ustack(fx->sym, getpid(), regs, stack, sizeof(stack)), -ESRCH);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Processes in a proc root of our own making (<root>/<pid>/root -> /), many
 * more than the symbolizer keeps libdwfl sessions open for: every one still
 * unwinds, and open files stay bounded. */
enum { NPROC = 200, PID0 = 1000000 };
static char proc_root[64];

static int teardown_proc_root(void **state)
{
	char path[160];
	int i;

	free_caps();
	if (!proc_root[0])
		return 0;
	for (i = 0; i < NPROC; i++) {
		snprintf(path, sizeof(path), "%s/%d/root", proc_root, PID0 + i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%d", proc_root, PID0 + i);
		rmdir(path);
	}
	rmdir(proc_root);
	proc_root[0] = '\0';
	return 0;
}

static void test_many_processes(void **state)
{
	char dir[128], link[160], err[256] = "", *maps;
	struct capdata cd;
	struct symbolizer *sym;
	int fds0, fds1, fds_all, i;
	int64_t id, first = -1;

	capture_in_thread();
	snprintf(proc_root, sizeof(proc_root), "/tmp/stalltrap-test-procroot.%d", (int)getpid());
	assert_int_equal(mkdir(proc_root, 0700), 0);
	for (i = 0; i < NPROC; i++) {
		snprintf(dir, sizeof(dir), "%s/%d", proc_root, PID0 + i);
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(link, sizeof(link), "%s/root", dir);
		assert_int_equal(symlink("/", link), 0);
	}
	maps = read_file("/proc/self/maps");
	assert_int_equal(capdata_init(&cd), 0);
	sym = symbolizer_new(&cd, NULL, proc_root, err, sizeof(err));
	assert_non_null(sym);

	fds0 = count_fds();
	fds1 = fds0;
	for (i = 0; i < NPROC; i++) {
		assert_int_equal(symbolizer_add_process(sym, PID0 + i, maps), 0);
		id = symbolizer_ustack(sym, PID0 + i, caps[0].regs, caps[0].stack, caps[0].len);
		assert_true(id >= 0);
		/* Same files, same addresses: the same stack in every process. */
		if (first < 0)
			first = id;
		assert_int_equal(id, first);
		if (i == 0)
			fds1 = count_fds();
	}
	fds_all = count_fds();
	print_message("  open files: %d for one session, %d for %d processes\n", fds1 - fds0,
		      fds_all - fds0, NPROC);
	assert_true(fds1 > fds0);
	assert_true(fds_all - fds0 <= NPROC / 2 * (fds1 - fds0));
	assert_int_equal(cd.stacks[first].status, CAP_STACK_COMPLETE);

	symbolizer_free(sym);
	assert_int_equal(count_fds(), fds0);
	capdata_free(&cd);
	free(maps);
}

static void test_placeholder(void **state)
{
	struct fixture *fx = *state;
	const struct cap_stack *s;
	int64_t id;

	id = symbolizer_placeholder(fx->sym, "[user stack unreadable: mmap_lock busy]",
				    CAP_STACK_UNREADABLE);
	s = stack_of(fx, id);
	assert_int_equal(s->nframes, 1);
	assert_int_equal(s->status, CAP_STACK_UNREADABLE);
	assert_string_equal(frame_name(fx, s, 0), "[user stack unreadable: mmap_lock busy]");
	assert_false(fx->cd.frames[s->frames[0]].kernel);
	assert_int_equal(symbolizer_placeholder(fx->sym, "[user stack unreadable: mmap_lock busy]",
						CAP_STACK_UNREADABLE), id);
}

#define KSYMS_FILE_FMT "/tmp/stalltrap-test-symbolize-kallsyms.%d"

/* A symbolizer of a fresh cd whose kallsyms is text (read once, at symbolizer_new). */
static struct symbolizer *kallsyms_symbolizer(struct capdata *cd, const char *text)
{
	struct symbolizer *sym;
	char path[64], err[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), KSYMS_FILE_FMT, (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(capdata_init(cd), 0);
	sym = symbolizer_new(cd, path, "/proc", err, sizeof(err));
	unlink(path);
	assert_non_null(sym);
	return sym;
}

static void test_kstack(void **state)
{
	static const char kallsyms[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81100000 t __schedule\n"
		"ffffffff81100800 T schedule\n"
		"ffffffff81100900 T futex_wait_queue\n"
		"ffffffff81100a00 T do_syscall_64\n"
		"ffffffff81100b00 T entry_SYSCALL_64_after_hwframe\n"
		"ffffffff81200000 t __bpf_trace_sched_exit_tp\n"
		"ffffffff81200100 T bpf_trace_run1\n"
		"ffffffff81200200 T bpf_get_stack_raw_tp\n"
		"ffffffff81300000 T _etext\n"
		"ffffffffa0000000 t bpf_prog_0123456789abcdef_on_exit\t[bpf]\n"
		"ffffffffa0001000 t dummy_mod_fn\t[dummy]\n";
	/* Leaf first, as bpf_get_stack gives them. */
	const uint64_t ips[] = {
		0xffffffffa0000040, /* the program itself */
		0xffffffff81200220, /* bpf_get_stack_raw_tp */
		0xffffffff81200130, /* bpf_trace_run1 */
		0xffffffff81200010, /* __bpf_trace_sched_exit_tp */
		0xffffffff81100123, /* __schedule */
		0xffffffff81100801, /* return address right after the start of schedule */
		0xffffffff81100950, /* futex_wait_queue */
		0xffffffff81100a10, /* do_syscall_64 */
		0xffffffff81100b10, /* entry_SYSCALL_64_after_hwframe */
	};
	static const char *const want[] = { "entry_SYSCALL_64_after_hwframe", "do_syscall_64",
					    "futex_wait_queue", "schedule", "__schedule" };
	struct capdata cd;
	struct symbolizer *sym;
	const struct cap_stack *s;
	char err[256] = "";
	int64_t id;
	size_t i;

	sym = kallsyms_symbolizer(&cd, kallsyms);

	id = symbolizer_kstack(sym, ips, sizeof(ips) / sizeof(ips[0]));
	assert_true(id >= 0);
	s = &cd.stacks[id];
	assert_int_equal(s->nframes, 5);
	for (i = 0; i < 5; i++) {
		assert_string_equal(cd.frames[s->frames[i]].name, want[i]);
		assert_true(cd.frames[s->frames[i]].kernel);
	}
	assert_int_equal(s->status, CAP_STACK_COMPLETE);
	/* Same ips, same stack (from the kernel frame cache). */
	assert_int_equal(symbolizer_kstack(sym, ips, sizeof(ips) / sizeof(ips[0])), id);
	/* A program JIT-ed after kallsyms was read: unnamed, still cut at the glue. */
	{
		const uint64_t late[] = { 0xffffffffc0001234, 0xffffffff81200010,
					  0xffffffff81100123, 0xffffffff81100801 };

		id = symbolizer_kstack(sym, late, 4);
		s = &cd.stacks[id];
		assert_int_equal(s->nframes, 2);
		assert_string_equal(cd.frames[s->frames[1]].name, "__schedule");
	}
	/* Past the end of kernel text: [unknown], not the symbol before it. */
	{
		const uint64_t odd[] = { 0xffffffff81100123, 0xffffffff81300010 };

		id = symbolizer_kstack(sym, odd, 2);
		s = &cd.stacks[id];
		assert_int_equal(s->nframes, 2);
		assert_string_equal(cd.frames[s->frames[0]].name, "[unknown]");
		assert_string_equal(cd.frames[s->frames[1]].name, "__schedule");
	}
	assert_int_equal(symbolizer_kstack(sym, ips, 0), -EINVAL);
	symbolizer_free(sym);

	/* Without kallsyms every frame is [unknown] at its address, none cut. */
	sym = symbolizer_new(&cd, NULL, "/proc", err, sizeof(err));
	assert_non_null(sym);
	id = symbolizer_kstack(sym, ips, 3);
	s = &cd.stacks[id];
	assert_int_equal(s->nframes, 3);
	assert_string_equal(cd.frames[s->frames[0]].name, "[unknown]");
	assert_int_equal(cd.frames[s->frames[0]].addr, ips[2]);
	assert_int_equal(cd.frames[s->frames[2]].addr, ips[0]);
	symbolizer_free(sym);

	capdata_free(&cd);
}

/* The same wait folds to the same frames whatever the switch-in hook and
 * whichever compiler clones the kernel has: sched_exit_tp's stack starts in
 * __schedule under the BPF glue; a kprobe's (Debian's 6.1) starts in
 * finish_task_switch.isra.0, dropped; clone suffixes name the function. */
static void test_kstack_paths_fold_alike(void **state)
{
	static const char kallsyms[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81100000 t __schedule\n"
		"ffffffff81100800 T schedule\n"
		"ffffffff81100900 t do_nanosleep.constprop.0\n"
		"ffffffff81100a00 T do_syscall_64\n"
		"ffffffff81100c00 t finish_task_switch.isra.0\n"
		"ffffffff81100d00 t do_nanosleep.cold\n"
		"ffffffff81100e00 t mutex_lock.part.0.isra.0\n"
		"ffffffff81100f00 t not.a.clone\n"
		"ffffffff81200000 t __bpf_trace_sched_exit_tp\n"
		"ffffffff81200100 T bpf_trace_run1\n"
		"ffffffff81200200 T bpf_get_stack_raw_tp\n"
		"ffffffff81300000 T _etext\n"
		"ffffffffa0000000 t bpf_prog_0123456789abcdef_on_exit\t[bpf]\n";
	const uint64_t raw_tp[] = { 0xffffffffa0000040, 0xffffffff81200220, 0xffffffff81200130,
				    0xffffffff81200010, 0xffffffff81100123, 0xffffffff81100801,
				    0xffffffff81100950, 0xffffffff81100a10 };
	const uint64_t kprobe[] = { 0xffffffff81100c00, 0xffffffff81100123, 0xffffffff81100801,
				    0xffffffff81100d20, 0xffffffff81100a10 };
	/* a sample on CPU inside finish_task_switch, not called from __schedule: kept */
	const uint64_t oncpu[] = { 0xffffffff81100c10, 0xffffffff81100e10, 0xffffffff81100f10 };
	static const char *const want[] = { "do_syscall_64", "do_nanosleep", "schedule", "__schedule" };
	static const char *const want_oncpu[] = { "not.a.clone", "mutex_lock", "finish_task_switch" };
	struct capdata cd;
	struct symbolizer *sym;
	const struct cap_stack *s;
	int64_t a, b, c;

	sym = kallsyms_symbolizer(&cd, kallsyms);
	a = symbolizer_kstack(sym, raw_tp, sizeof(raw_tp) / sizeof(raw_tp[0]));
	b = symbolizer_kstack(sym, kprobe, sizeof(kprobe) / sizeof(kprobe[0]));
	assert_true(a >= 0 && b >= 0);
	s = &cd.stacks[a];
	assert_int_equal(s->nframes, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(cd.frames[s->frames[i]].name, want[i]);
	s = &cd.stacks[b];
	assert_int_equal(s->nframes, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(cd.frames[s->frames[i]].name, want[i]);
	c = symbolizer_kstack(sym, oncpu, 3);
	s = &cd.stacks[c];
	assert_int_equal(s->nframes, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(cd.frames[s->frames[i]].name, want_oncpu[i]);
	symbolizer_free(sym);
	capdata_free(&cd);
}

static void test_new_errors(void **state)
{
	struct capdata cd;
	char err[256] = "";

	assert_int_equal(capdata_init(&cd), 0);
	assert_null(symbolizer_new(&cd, "/nonexistent/kallsyms", "/proc", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/kallsyms"));
	capdata_free(&cd);
}

static void test_demangle(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "_ZN3foo3barEv", "foo::bar" },
		{ "_ZNSt6vectorIiSaIiEE9push_backERKi",
		  "std::vector<int, std::allocator<int> >::push_back" },
		{ "_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo" },
		/* Rust legacy: the hash goes. */
		{ "_ZN4core3ptr13drop_in_place17h1234567890abcdefE", "core::ptr::drop_in_place" },
		{ "_ZN5tokio7runtime4task3raw7RawTask4poll17h0a1b2c3d4e5f6071E",
		  "tokio::runtime::task::raw::RawTask::poll" },
		/* Rust v0. */
		{ "_RNvCs1234_7mycrate3foo", "mycrate::foo" },
		/* C names stay, including ones other schemes would mangle. */
		{ "main", "main" },
		{ "start_thread", "start_thread" },
		{ "foo__bar", "foo__bar" },
		{ "_Dmain", "_Dmain" },
		{ "worker.cold", "worker.cold" },
		/* Symbol versions go. */
		{ "clock_nanosleep@GLIBC_2.2.5", "clock_nanosleep" },
		{ "__libc_start_main@@GLIBC_2.34", "__libc_start_main" },
		{ "_ZNSt6thread6_StateD2Ev@@GLIBCXX_3.4.22", "std::thread::_State::~_State" },
		/* Not a valid mangling: left as is. */
		{ "_Zfoo", "_Zfoo" },
	};
	char buf[256], small[12];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(symbolize_demangle(cases[i].in, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].out);
	}
	/* Cut to the buffer, marked. */
	assert_int_equal(symbolize_demangle("_ZN4core3ptr13drop_in_place17h1234567890abcdefE",
					    small, sizeof(small)),
			 0);
	assert_string_equal(small, "core::pt...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thread_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forked_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwind_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_pid_and_pc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholder, setup, teardown),
		cmocka_unit_test_teardown(test_many_processes, teardown_proc_root),
		cmocka_unit_test(test_kstack),
		cmocka_unit_test(test_kstack_paths_fold_alike),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_demangle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
