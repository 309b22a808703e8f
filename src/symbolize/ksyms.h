/* ksyms.h: kernel text symbols from /proc/kallsyms, sorted for address lookup.
 *
 * Invariants of a loaded table:
 * - it holds text symbols only (types t, T, w, W): CONFIG_KALLSYMS_ALL is off
 *   on our kernels, and stacks hold only code addresses anyway;
 * - entries are sorted by address; among symbols at the same address a
 *   primary name wins over a secondary alias (__ia32_sys_*, __pi_*), then the
 *   global one, then the first in file order;
 * - a symbol extends to the next one. The ends of core kernel text (_etext,
 *   _einittext) and the last symbol of the table name nothing, so an address
 *   past them (BPF JIT images loaded after the table was read, trampolines)
 *   is not pinned on whatever symbol happens to precede it.
 */
#ifndef STALLTRAP_KSYMS_H
#define STALLTRAP_KSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ksym {
	const char *name;
	const char *module;     /* "[mod]" of module symbols without brackets, or NULL */
	uint64_t addr;
};

struct ksyms;

/* Reads a kallsyms-format file (normally "/proc/kallsyms") into *out.
 * Returns 0, -EPERM when every address reads as 0 (kptr_restrict: not root),
 * -ENOENT/-EACCES from open, -ENODATA when no text symbol was found,
 * -E2BIG past KSYMS_MAX_SYMS lines, or -ENOMEM. *out is only set on success
 * and is owned by the caller (ksyms__free). */
int ksyms__load(const char *path, struct ksyms **out);
/* The same for data symbols (types d, D, b, B) instead of text: listed only
 * with CONFIG_KALLSYMS_ALL (6.1 has it; without it a few section markers
 * remain, so callers check ksyms__count()). Names static kernel locks. */
int ksyms__load_data(const char *path, struct ksyms **out);
void ksyms__free(struct ksyms *ks);

/* The symbol containing addr, or NULL. The pointer and its strings live as
 * long as the table. */
const struct ksym *ksyms__find(const struct ksyms *ks, uint64_t addr);
size_t ksyms__count(const struct ksyms *ks);

/* True for frames the capture itself adds at the leaf of a kernel stack:
 * JIT-ed BPF programs, the raw tracepoint glue (__bpf_trace_*, bpf_trace_run*,
 * __traceiter_*, static-call trampolines), bpf_get_stack*, BPF trampolines and
 * dispatchers. Names such as bpf_prog_load (a real syscall path) are not glue. */
bool ksyms__is_bpf_glue(const char *name, const char *module);

#define KSYMS_MAX_SYMS (4u << 20)  /* lines accepted from kallsyms (today ~120k) */

#endif /* STALLTRAP_KSYMS_H */
