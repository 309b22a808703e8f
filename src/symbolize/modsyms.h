/* modsyms.h: private to the symbolize stage: the code symbols of one libdwfl
 * module, sorted by address for binary search.
 *
 * Why: dwfl_module_addrinfo scans the whole symbol table on every call (about
 * 340 µs per pc in glibc with its debug symbols); preempted threads stop at a
 * new pc nearly every time. One pass over the table builds this index.
 *
 * Invariants: entries are sorted by address, one per address (a sized symbol
 * wins, then the strongest binding, then the first in table order);
 * only defined function-like symbols (FUNC, GNU_IFUNC, NOTYPE) are kept.
 * Names are not copied: an entry holds the symbol's index, to be named with
 * dwfl_module_getsym_info while the module lives.
 */
#ifndef STALLTRAP_SYMBOLIZE_MODSYMS_H
#define STALLTRAP_SYMBOLIZE_MODSYMS_H

#include <stdint.h>

#include <elfutils/libdwfl.h>

#define MODSYMS_MAX (16u << 20) /* symbols indexed per module; beyond, -E2BIG */

struct modsyms;

/* Indexes mod's symbol table (loading it, and its debug file, if needed).
 * Returns 0 with *out owned by the caller (modsyms__free), -ENOENT when the
 * module has no symbols, -E2BIG past MODSYMS_MAX, or -ENOMEM. */
int modsyms__build(Dwfl_Module *mod, struct modsyms **out);
void modsyms__free(struct modsyms *ms);

/* The index (for dwfl_module_getsym_info) of the symbol covering addr, an
 * address in the process: a sized symbol containing it, else the nearest
 * sizeless one before it. -1 when none. */
int64_t modsyms__find(const struct modsyms *ms, uint64_t addr);

#endif /* STALLTRAP_SYMBOLIZE_MODSYMS_H */
