/* cpu_clock.h: a BPF program on a software CPU-clock perf event per CPU (the on-CPU sampler's timer).
 *
 * Shared by the recorder (capture.c, its on-CPU sampler) and `stalltrap floor`
 * (floor.c, the same events with an empty program), so that the floor measures
 * exactly the events the recorder opens. The caller owns the arrays; entry i
 * of fds and links belongs together.
 */
#ifndef STALLTRAP_CAPTURE_CPU_CLOCK_H
#define STALLTRAP_CAPTURE_CPU_CLOCK_H

#include <stdint.h>

struct bpf_program;
struct bpf_link;

/* Opens one CPU-clock event per possible CPU at hz (idle excluded) and
 * attaches prog to each, up to max. Best effort: a CPU that refuses is
 * skipped. Returns how many CPUs were attached (0: none, errno from the last
 * failure). */
int cpu_clock_attach(struct bpf_program *prog, uint32_t hz, int *fds, struct bpf_link **links, int max);
/* Detaches and closes the n pairs that cpu_clock_attach() filled. */
void cpu_clock_detach(int *fds, struct bpf_link **links, int n);

#endif /* STALLTRAP_CAPTURE_CPU_CLOCK_H */
