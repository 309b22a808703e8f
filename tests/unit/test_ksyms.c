/* test_ksyms.c: kallsyms parsing, address lookup at symbol boundaries, BPF glue detection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/ksyms.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/stalltrap-test-ksyms.%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int teardown(void **state)
{
	if (path[0])
		unlink(path);
	return 0;
}

/* Out of file order on purpose: the table sorts. Aliases at one address,
 * data symbols (skipped), module and BPF symbols. */
static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 t __pi__text\n"
	"ffffffff81100800 T schedule\n"
	"ffffffff81100000 t __schedule\n"
	"ffffffff810ffff0 t __pfx___schedule\n"
	"ffffffff81100900 W weak_fn\n"
	"ffffffff81100a00 t local_alias\n"
	"ffffffff81100a00 T global_alias\n"
	"ffffffff81100c00 t __do_sys_pause\n"
	"ffffffff81100c00 T __ia32_sys_pause\n"
	"ffffffff81100c00 T __x64_sys_pause\n"
	"ffffffff82000000 D some_data\n"
	"ffffffff82100000 R some_rodata\n"
	"ffffffff81200000 T _etext\n"
	"ffffffff81300000 T _sinittext\n"
	"ffffffff81300100 t init_fn\n"
	"ffffffff81310000 T _einittext\n"
	"ffffffffa0000000 t mod_fn_a\t[mymod]\n"
	"ffffffffa0000100 t mod_fn_b\t[mymod]\n"
	"ffffffffa0001000 t bpf_prog_0123456789abcdef_handler\t[bpf]\n"
	"ffffffffa0002000 t last_fn\t[othermod]\n";

static void test_lookup_table(void **state)
{
	static const struct {
		uint64_t addr;
		const char *name;       /* NULL: no symbol */
		const char *module;
	} cases[] = {
		{ 0xffffffff80ffffff, NULL, NULL },             /* before the first symbol */
		{ 0xffffffff81000000, "_stext", NULL },         /* global wins over the local alias */
		{ 0xffffffff810ffff0, "__pfx___schedule", NULL },
		{ 0xffffffff810fffff, "__pfx___schedule", NULL },
		{ 0xffffffff81100000, "__schedule", NULL },     /* exact start */
		{ 0xffffffff811007ff, "__schedule", NULL },     /* last byte */
		{ 0xffffffff81100800, "schedule", NULL },
		{ 0xffffffff81100901, "weak_fn", NULL },
		{ 0xffffffff81100a05, "global_alias", NULL },
		{ 0xffffffff81100bff, "global_alias", NULL },
		{ 0xffffffff81100c10, "__x64_sys_pause", NULL }, /* not the ia32 alias */
		{ 0xffffffff811fffff, "__x64_sys_pause", NULL }, /* up to _etext */
		{ 0xffffffff81200000, NULL, NULL },             /* _etext names nothing */
		{ 0xffffffff81250000, NULL, NULL },             /* data is not text */
		{ 0xffffffff81300100, "init_fn", NULL },
		{ 0xffffffff81310000, NULL, NULL },             /* _einittext */
		{ 0xffffffffa0000050, "mod_fn_a", "mymod" },
		{ 0xffffffffa0000fff, "mod_fn_b", "mymod" },
		{ 0xffffffffa0001010, "bpf_prog_0123456789abcdef_handler", "bpf" },
		{ 0xffffffffa0002000, NULL, NULL },             /* the last symbol has no known end */
		{ 0xffffffffc0000000, NULL, NULL },
	};
	struct ksyms *ks = NULL;
	const struct ksym *s;
	size_t i;

	write_file(kallsyms);
	assert_int_equal(ksyms__load(path, &ks), 0);
	/* 19 text lines; aliases folded away: one at 81000000, one at 81100a00,
	 * two at 81100c00. */
	assert_int_equal(ksyms__count(ks), 15);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = ksyms__find(ks, cases[i].addr);
		if (!cases[i].name) {
			if (s)
				fail_msg("0x%llx: want nothing, got %s", (unsigned long long)cases[i].addr,
					 s->name);
			continue;
		}
		if (!s)
			fail_msg("0x%llx: want %s, got nothing", (unsigned long long)cases[i].addr,
				 cases[i].name);
		assert_string_equal(s->name, cases[i].name);
		if (cases[i].module)
			assert_string_equal(s->module, cases[i].module);
		else
			assert_null(s->module);
	}
	ksyms__free(ks);
}

static void test_load_errors(void **state)
{
	struct ksyms *ks = NULL;

	assert_int_equal(ksyms__load("/nonexistent/kallsyms", &ks), -ENOENT);
	/* What a non-root reader sees with kptr_restrict. */
	write_file("0000000000000000 T _stext\n0000000000000000 t __schedule\n");
	assert_int_equal(ksyms__load(path, &ks), -EPERM);
	write_file("ffffffff82000000 D only_data\n");
	assert_int_equal(ksyms__load(path, &ks), -ENODATA);
	write_file("");
	assert_int_equal(ksyms__load(path, &ks), -ENODATA);
	write_file("not a kallsyms line\n");
	assert_int_equal(ksyms__load(path, &ks), -EINVAL);
	write_file("ffffffff81000000 T\n");
	assert_int_equal(ksyms__load(path, &ks), -EINVAL);
	write_file("ffffffff81000000 t name\t[unterminated\n");
	assert_int_equal(ksyms__load(path, &ks), -EINVAL);
	assert_null(ks);
}

static void test_long_line_skipped(void **state)
{
	char *text = malloc(8192);
	struct ksyms *ks = NULL;
	const struct ksym *s;

	assert_non_null(text);
	strcpy(text, "ffffffff81000000 T first\nffffffff81000100 T ");
	memset(text + strlen(text), 'x', 3000);
	strcpy(text + strlen("ffffffff81000000 T first\nffffffff81000100 T ") + 3000,
	       "\nffffffff81000200 T third\nffffffff81000300 T _etext\n");
	write_file(text);
	free(text);
	assert_int_equal(ksyms__load(path, &ks), 0);
	assert_int_equal(ksyms__count(ks), 3);
	s = ksyms__find(ks, 0xffffffff81000150);
	assert_non_null(s);
	assert_string_equal(s->name, "first");
	ksyms__free(ks);
}

static void test_bpf_glue(void **state)
{
	static const struct {
		const char *name, *module;
		bool glue;
	} cases[] = {
		{ "__bpf_trace_sched_exit_tp", NULL, true },
		{ "__bpf_trace_sched_switch", NULL, true },
		{ "bpf_trace_run1", NULL, true },
		{ "bpf_trace_run12", NULL, true },
		{ "__traceiter_sched_exit_tp", NULL, true },
		{ "__SCT__tp_func_sched_exit_tp", NULL, true },
		{ "bpf_get_stack", NULL, true },
		{ "bpf_get_stack_raw_tp", NULL, true },
		{ "bpf_get_stackid_raw_tp", NULL, true },
		{ "__bpf_get_stack", NULL, true },
		{ "____bpf_get_stack", NULL, true },
		{ "bpf_get_task_stack", NULL, true },
		{ "__bpf_prog_enter_recur", NULL, true },
		{ "__bpf_prog_exit", NULL, true },
		{ "bpf_trampoline_6442520713", NULL, true },
		{ "bpf_dispatcher_xdp_func", NULL, true },
		{ "bpf_prog_6deef7357e7b4530", NULL, true },
		{ "bpf_prog_6deef7357e7b4530_sd_fw_egress", NULL, true },
		{ "anything", "bpf", true },
		{ "anything", "bpf_trampoline", true },
		/* Real kernel work that happens to be about BPF. */
		{ "bpf_prog_load", NULL, false },
		{ "bpf_prog_alloc", NULL, false },
		{ "bpf_prog_6deef7357e7b453", NULL, false },   /* 15 hex digits */
		{ "bpf_prog_6deef7357e7b4530x", NULL, false },
		{ "__sys_bpf", NULL, false },
		{ "__schedule", NULL, false },
		{ "schedule", NULL, false },
		{ "futex_wait_queue", NULL, false },
		{ "mod_fn", "mymod", false },
		{ NULL, NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ksyms__is_bpf_glue(cases[i].name, cases[i].module) != cases[i].glue)
			fail_msg("%s [%s]: want glue=%d", cases[i].name ? cases[i].name : "(null)",
				 cases[i].module ? cases[i].module : "", cases[i].glue);
	}
}

/* The data table (CONFIG_KALLSYMS_ALL kernels): data and bss symbols, text
 * left out; text names lose compiler clone suffixes, data names keep theirs. */
static void test_data_symbols(void **state)
{
	struct ksyms *ks = NULL;
	const struct ksym *s;

	write_file("ffffffff81000000 T _stext\n"
		   "ffffffff81001000 t finish_task_switch.isra.0\n"
		   "ffffffff81002000 t helper.constprop.0.isra.0\n"
		   "ffffffff81003000 t name.with.dots\n"
		   "ffffffff81004000 T _etext\n"
		   "ffffffff82000000 D init_task\n"
		   "ffffffff82100000 d rtnl_mutex\n"
		   "ffffffff82100040 b counter.12\n"
		   "ffffffff82200000 B cgroup_mutex\t[mod]\n");
	assert_int_equal(ksyms__load(path, &ks), 0);
	assert_string_equal(ksyms__find(ks, 0xffffffff81001004)->name, "finish_task_switch");
	assert_string_equal(ksyms__find(ks, 0xffffffff81002004)->name, "helper");
	assert_string_equal(ksyms__find(ks, 0xffffffff81003004)->name, "name.with.dots");
	ksyms__free(ks);
	assert_int_equal(ksyms__load_data(path, &ks), 0);
	assert_int_equal(ksyms__count(ks), 4);
	s = ksyms__find(ks, 0xffffffff82100008);
	assert_non_null(s);
	assert_string_equal(s->name, "rtnl_mutex");
	assert_string_equal(ksyms__find(ks, 0xffffffff82100040)->name, "counter.12");
	assert_null(ksyms__find(ks, 0xffffffff81001004));
	ksyms__free(ks);
}

/* The address /proc/kallsyms gives name (0: not listed). */
static unsigned long long kallsyms_addr(const char *want)
{
	char line[512], name[256], type;
	unsigned long long addr, found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && strcmp(name, want) == 0)
			found = addr;
	fclose(f);
	return found;
}

/* When run as root, the real table loads and names the scheduler. */
static void test_real_kallsyms(void **state)
{
	struct ksyms *ks = NULL;
	const struct ksym *s;
	unsigned long long sched, lock;
	int r;

	r = ksyms__load("/proc/kallsyms", &ks);
	if (r == -EPERM || r == -EACCES || r == -ENOENT)
		skip();
	assert_int_equal(r, 0);
	assert_true(ksyms__count(ks) > 1000);
	sched = kallsyms_addr("__schedule");
	assert_true(sched != 0);
	s = ksyms__find(ks, sched + 1);
	assert_non_null(s);
	assert_string_equal(s->name, "__schedule");
	ksyms__free(ks);
	/* a kernel with data symbols (CONFIG_KALLSYMS_ALL: 6.1) names its static locks */
	assert_int_equal(ksyms__load_data("/proc/kallsyms", &ks), 0);
	if (ksyms__count(ks) > 1000) {
		lock = kallsyms_addr("cgroup_mutex");
		assert_true(lock != 0);
		s = ksyms__find(ks, lock + 8);
		assert_non_null(s);
		assert_string_equal(s->name, "cgroup_mutex");
		print_message("data symbols: %zu, cgroup_mutex at 0x%llx named\n", ksyms__count(ks), lock);
	}
	ksyms__free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lookup_table, teardown),
		cmocka_unit_test_teardown(test_load_errors, teardown),
		cmocka_unit_test_teardown(test_long_line_skipped, teardown),
		cmocka_unit_test(test_bpf_glue),
		cmocka_unit_test_teardown(test_data_symbols, teardown),
		cmocka_unit_test(test_real_kallsyms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
