/* fuzz_kallsyms.c: libFuzzer target for the kallsyms parser (ksyms__load) and the lookups over what it accepts.
 *
 * Each input is written to a memfd and loaded through its /proc/self/fd path,
 * as /proc/kallsyms is. The loader must never crash, read out of bounds or
 * leak; a table it accepts answers lookups with a symbol whose address is at
 * or below the one asked, and a name within KSYM_NAME_LEN-ish bounds.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_kallsyms
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_kallsyms; `make test`
 * replays the corpus with build-san/fuzz/fuzz_kallsyms (gcc, replay_main.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/ksyms.h"

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t probes[] = {
		0, 1, 0xffffffff81000000ull, 0xffffffff81000010ull, 0xffffffffc0000000ull, UINT64_MAX,
	};
	struct ksyms *ks = NULL;
	char path[64];

	if (fd < 0 && (fd = memfd_create("fuzz_kallsyms", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ksyms__load(path, &ks))
		return 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]) + size / 8 && i < 64; i++) {
		uint64_t addr;
		const struct ksym *k;

		if (i < sizeof(probes) / sizeof(probes[0]))
			addr = probes[i];
		else
			memcpy(&addr, data + 8 * (i - sizeof(probes) / sizeof(probes[0])), 8);
		k = ksyms__find(ks, addr);
		if (!k)
			continue;
		if (k->addr > addr || !k->name[0] || strlen(k->name) > 1024 ||
		    (k->module && strlen(k->module) > 1024))
			abort();
		(void)ksyms__is_bpf_glue(k->name, k->module);
	}
	ksyms__free(ks);
	return 0;
}
