/* test_capture_path.c: the capture paths tried and the features planned, for
 * every feature set and for the BTF facts of kernels 5.10, 5.15, 6.1, 6.8 and
 * 6.18 (a BTF built here with what each kernel's vmlinux BTF holds of what
 * the probe reads: tracepoint typedefs, helper typedefs, finish_task_switch's
 * FUNC; plus kallsyms' name for finish_task_switch and the kprobe PMU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/btf.h>

#include "capture/capture.h"

static void test_every_combination(void **state)
{
	/* sched_exit_tp, then fentry, then kprobe; none of them works without
	 * bpf_task_pt_regs and task storage */
	for (unsigned m = 0; m < 32; m++) {
		struct capture_features f = {
			.sched_exit_tp = m & 1, .fentry = m & 2, .kprobe = m & 4, .task_pt_regs = m & 8,
			.task_storage = m & 16,
		};
		enum capture_path p[CAPTURE_PATH_NONE], want[CAPTURE_PATH_NONE];
		int n = 0, got = capture_select_paths(&f, p);

		if (f.task_pt_regs && f.task_storage) {
			if (f.sched_exit_tp)
				want[n++] = CAPTURE_PATH_SCHED_EXIT_TP;
			if (f.fentry)
				want[n++] = CAPTURE_PATH_FENTRY_FTS;
			if (f.kprobe)
				want[n++] = CAPTURE_PATH_KPROBE_FTS;
		}
		assert_int_equal(got, n);
		for (int i = 0; i < n; i++)
			assert_int_equal(p[i], want[i]);
		assert_int_equal(capture_select_path(&f), n ? want[0] : CAPTURE_PATH_NONE);
	}
}

/* What a kernel's BTF holds of what the probe reads. */
struct kernel_facts {
	const char *name;
	int sched_exit_tp_params;       /* btf_trace_sched_exit_tp's params (ctx included), 0: none */
	int sched_switch_params;
	int contention_begin_params;
	int mmap_lock_acquire_params;
	bool fts_func;                  /* FUNC finish_task_switch (not only a clone) */
	const char *helpers[6];         /* btf_bpf_* typedefs present */
	bool task_iter;                 /* struct bpf_iter__task */
	bool kprobe_pmu;
	const char *fts_symbol;         /* in kallsyms */
	/* expected */
	enum capture_path paths[CAPTURE_PATH_NONE];
	int npaths;
	const char *off[CAPTURE_NFEATURES]; /* features planned off */
};

static void add_tp(struct btf *btf, const char *name, int nparams, int int_id)
{
	int proto, ptr;

	if (!nparams)
		return;
	proto = btf__add_func_proto(btf, int_id);
	assert_true(proto > 0);
	for (int i = 0; i < nparams; i++)
		assert_int_equal(btf__add_func_param(btf, "", int_id), 0);
	ptr = btf__add_ptr(btf, proto);
	assert_true(btf__add_typedef(btf, name, ptr) > 0);
}

static struct btf *facts_btf(const struct kernel_facts *k)
{
	struct btf *btf = btf__new_empty();
	int int_id, proto;

	assert_non_null(btf);
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	assert_true(int_id > 0);
	add_tp(btf, "btf_trace_sched_exit_tp", k->sched_exit_tp_params, int_id);
	add_tp(btf, "btf_trace_sched_switch", k->sched_switch_params, int_id);
	add_tp(btf, "btf_trace_contention_begin", k->contention_begin_params, int_id);
	add_tp(btf, "btf_trace_mmap_lock_acquire_returned", k->mmap_lock_acquire_params, int_id);
	for (int i = 0; i < 6 && k->helpers[i]; i++)
		assert_true(btf__add_typedef(btf, k->helpers[i], int_id) > 0);
	if (k->task_iter)
		assert_true(btf__add_struct(btf, "bpf_iter__task", 8) > 0);
	/* a clone (finish_task_switch.isra.0) has no BTF: its FUNC is absent */
	if (k->fts_func) {
		proto = btf__add_func_proto(btf, 0);
		assert_true(btf__add_func(btf, "finish_task_switch", BTF_FUNC_STATIC, proto) > 0);
	}
	return btf;
}

#define ALL_HELPERS { "btf_bpf_task_pt_regs", "btf_bpf_task_storage_get", "btf_bpf_loop", \
		      "btf_bpf_copy_from_user_task" }

static const struct kernel_facts kernels[] = {
	/* 6.18, these machines: sched_exit_tp; no kprobes (no PMU), fentry's
	 * trampolines refused at load, so it is tried but sched_exit_tp loads */
	{ "6.18", 2, 5, 3, 4, true, ALL_HELPERS, true, false, "finish_task_switch",
	  { CAPTURE_PATH_SCHED_EXIT_TP, CAPTURE_PATH_FENTRY_FTS }, 2, { NULL } },
	/* Ubuntu 24.04's 6.8: no sched_exit_tp yet; mmap_lock passes memcg_path */
	{ "6.8", 0, 5, 3, 5, true, ALL_HELPERS, true, true, "finish_task_switch",
	  { CAPTURE_PATH_FENTRY_FTS, CAPTURE_PATH_KPROBE_FTS }, 2, { "one_switch_hook" } },
	/* Debian 12's 6.1 (booted by make test-kernels): finish_task_switch
	 * exists only as a clone without BTF: fentry cannot name it */
	{ "6.1", 0, 5, 3, 5, false, ALL_HELPERS, true, true, "finish_task_switch.isra.0",
	  { CAPTURE_PATH_KPROBE_FTS }, 1, { "one_switch_hook" } },
	/* 5.15: no bpf_loop (5.17), no bpf_copy_from_user_task and no prev_state
	 * argument (5.18), no lock contention tracepoints (5.19) */
	{ "5.15", 0, 4, 0, 5, true, { "btf_bpf_task_pt_regs", "btf_bpf_task_storage_get" }, true, true,
	  "finish_task_switch", { CAPTURE_PATH_FENTRY_FTS, CAPTURE_PATH_KPROBE_FTS }, 2,
	  { "kernel_locks", "in_progress_user_stacks", "kstack_cache", "one_switch_hook" } },
	/* 5.10: no bpf_task_pt_regs (5.15), no task storage (5.11): unsupported */
	{ "5.10", 0, 4, 0, 5, true, { NULL }, true, true, "finish_task_switch",
	  { 0 }, 0, { "kernel_locks", "in_progress_user_stacks", "kstack_cache", "one_switch_hook" } },
};

static void test_kernel_facts(void **state)
{
	for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
		const struct kernel_facts *kf = &kernels[k];
		struct btf *btf = facts_btf(kf);
		struct capture_features f;
		struct capture_feature plan[CAPTURE_NFEATURES];
		enum capture_path p[CAPTURE_PATH_NONE];
		int n;

		capture_features_from_btf(btf, kf->kprobe_pmu, kf->fts_symbol, &f);
		btf__free(btf);
		n = capture_select_paths(&f, p);
		print_message("%s: %d path(s):", kf->name, n);
		for (int i = 0; i < n; i++)
			print_message(" %s", capture_path_name(p[i]));
		print_message("\n");
		assert_int_equal(n, kf->npaths);
		for (int i = 0; i < n; i++)
			assert_int_equal(p[i], kf->paths[i]);
		assert_int_equal(f.prev_state_arg, kf->sched_switch_params >= 5);
		/* 6.1's mmap_lock tracepoints pass memcg_path: the other program loads */
		assert_int_equal(f.mmap_lock_args, kf->mmap_lock_acquire_params - 1);
		if (f.kprobe)
			assert_string_equal(f.fts_symbol, kf->fts_symbol);
		capture_plan_features(&f, false, plan);
		for (int i = 0; i < CAPTURE_NFEATURES; i++) {
			bool want_off = false;

			for (int j = 0; j < CAPTURE_NFEATURES && kf->off[j]; j++)
				want_off |= strcmp(kf->off[j], plan[i].name) == 0;
			if (plan[i].on == want_off)
				fail_msg("%s: feature %s is %s (%s)", kf->name, plan[i].name,
					 plan[i].on ? "on" : "off", plan[i].reason);
			assert_true(plan[i].on || plan[i].reason[0]);
		}
	}
}

static void test_no_locks(void **state)
{
	struct capture_features f = { .task_pt_regs = 1, .task_storage = 1, .task_iter = 1, .bpf_loop = 1,
				      .copy_from_user_task = 1, .lock_contention = 1, .mmap_lock_args = 3,
				      .sched_exit_tp = 1 };
	struct capture_feature plan[CAPTURE_NFEATURES];
	int off = 0;

	capture_plan_features(&f, true, plan);
	for (int i = 0; i < CAPTURE_NFEATURES; i++)
		if (!plan[i].on) {
			off++;
			assert_string_equal(plan[i].reason, "--no-locks");
		}
	/* wakers, kernel_locks, mmap_lock_holders, block_io, on_cpu_samples */
	assert_int_equal(off, 5);
	assert_string_equal(capture_path_name(CAPTURE_PATH_KPROBE_FTS), "kprobe_finish_task_switch");
	assert_string_equal(capture_path_name(CAPTURE_PATH_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_combination),
		cmocka_unit_test(test_kernel_facts),
		cmocka_unit_test(test_no_locks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
