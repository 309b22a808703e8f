// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c: empty programs on the tracepoints record uses: the cost floor. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("raw_tp/sched_switch")
int BPF_PROG(floor_switch)
{
	return 0;
}

SEC("raw_tp/sched_exit_tp")
int BPF_PROG(floor_exit_tp)
{
	return 0;
}
