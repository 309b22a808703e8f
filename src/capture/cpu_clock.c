/* cpu_clock.c: opens the per-CPU CPU-clock perf events and attaches a BPF program to them. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>

#include "capture/cpu_clock.h"

int cpu_clock_attach(struct bpf_program *prog, uint32_t hz, int *fds, struct bpf_link **links, int max)
{
	int ncpu = libbpf_num_possible_cpus(), cpu, n = 0, err = 0;
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.size = sizeof(attr);
	attr.freq = 1;
	attr.sample_freq = hz;
	/* a tick that finds the CPU idle runs nothing: on a quiet machine most do,
	 * and the program's cold start cost ~2 us each time for nothing */
	attr.exclude_idle = 1;
	for (cpu = 0; cpu < ncpu && n < max; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		struct bpf_link *l;

		if (fd < 0) {
			err = errno;
			continue;
		}
		l = bpf_program__attach_perf_event(prog, fd);
		if (!l) {
			err = errno;
			close(fd);
			continue;
		}
		fds[n] = fd;
		links[n++] = l;
	}
	if (!n)
		errno = err ? err : ENODEV;
	return n;
}

void cpu_clock_detach(int *fds, struct bpf_link **links, int n)
{
	for (int i = 0; i < n; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
		close(fds[i]);
		fds[i] = -1;
	}
}
