/* test_capture_path.c: the capture path chosen for every kernel feature set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "capture/capture.h"

static void test_every_combination(void **state)
{
	/* Fallback order of the record issue: sched_exit_tp, then fentry, then
	 * kprobe; none of them works without bpf_task_pt_regs. */
	for (unsigned m = 0; m < 16; m++) {
		struct capture_features f = {
			.sched_exit_tp = m & 1, .fentry = m & 2, .kprobe = m & 4, .task_pt_regs = m & 8,
		};
		enum capture_path want;

		if (!f.task_pt_regs)
			want = CAPTURE_PATH_NONE;
		else if (f.sched_exit_tp)
			want = CAPTURE_PATH_SCHED_EXIT_TP;
		else if (f.fentry)
			want = CAPTURE_PATH_FENTRY_FTS;
		else if (f.kprobe)
			want = CAPTURE_PATH_KPROBE_FTS;
		else
			want = CAPTURE_PATH_NONE;
		assert_int_equal(capture_select_path(&f), want);
	}
}

static void test_known_kernels(void **state)
{
	/* 6.18 here: sched_exit_tp, no kprobes, no fentry trampolines */
	struct capture_features k618 = { .sched_exit_tp = 1, .task_pt_regs = 1, .prev_state_arg = 1 };
	/* a 5.15 production kernel: kprobes and fentry, no sched_exit_tp */
	struct capture_features k515 = { .fentry = 1, .kprobe = 1, .task_pt_regs = 1 };
	/* 5.10: no bpf_task_pt_regs */
	struct capture_features k510 = { .fentry = 1, .kprobe = 1 };

	assert_int_equal(capture_select_path(&k618), CAPTURE_PATH_SCHED_EXIT_TP);
	assert_int_equal(capture_select_path(&k515), CAPTURE_PATH_FENTRY_FTS);
	assert_int_equal(capture_select_path(&k510), CAPTURE_PATH_NONE);
	assert_string_equal(capture_path_name(CAPTURE_PATH_SCHED_EXIT_TP), "sched_exit_tp");
	assert_string_equal(capture_path_name(CAPTURE_PATH_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_combination),
		cmocka_unit_test(test_known_kernels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
