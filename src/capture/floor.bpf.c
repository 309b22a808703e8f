// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c: empty programs, attached by name at run time to the hooks record uses: the cost floor. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* No target in the section names: floor.c loads one copy of the object per
 * hook and names the tracepoint (raw_tp) or sets the BTF target (tp_btf)
 * itself, so that each hook runs a program of its own, as record's do. */
SEC("raw_tp")
int floor_raw_tp(void *ctx)
{
	return 0;
}

SEC("tp_btf")
int floor_tp_btf(void *ctx)
{
	return 0;
}

SEC("perf_event")
int floor_sample(void *ctx)
{
	return 0;
}
