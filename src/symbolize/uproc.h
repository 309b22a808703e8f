/* uproc.h: private to the symbolize stage: one target process as the symbolizer
 * sees it: its parsed maps and a libdwfl session over them, which unwinds
 * copies of its stacks and names its pcs.
 *
 * Invariants:
 * - the maps never change; a new maps text makes a new uproc (and the caller
 *   a new session id, so that its caches cannot mix layouts);
 * - the libdwfl session is opened on first use and may be closed at any time
 *   (uproc__close) to bound open files; it reopens the same way on demand;
 * - not thread-safe: libdwfl callbacks reach the uproc through state set for
 *   the duration of one call.
 */
#ifndef STALLTRAP_SYMBOLIZE_UPROC_H
#define STALLTRAP_SYMBOLIZE_UPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/maps.h"
#include "symbolize/symbolize.h"

#define UPROC_MAX_FRAMES 256    /* frames per user stack; deeper unwinds are truncated */
#define UPROC_MAX_READS 512     /* stack words logged per unwind; beyond, the log is marked full */
#define UPROC_MAX_STACK (1u << 20) /* bytes of a stack copy looked at */

/* One word the unwinder asked for: off is its address minus sp; failed reads
 * (outside the copy) have ok == 0 and off clamped to [-1, INT32_MAX], which
 * keeps them outside any copy of at most UPROC_MAX_STACK bytes. */
struct uread {
	int32_t off;
	uint32_t ok;
	uint64_t val;
};

struct unwind_result {
	uint64_t pcs[UPROC_MAX_FRAMES];         /* leaf first */
	bool activation[UPROC_MAX_FRAMES];      /* pc is where the frame is, not a return address */
	size_t n;
	bool complete;                          /* the CFI ended the chain (outermost frame) */
	struct uread reads[UPROC_MAX_READS];
	size_t nreads;
	bool reads_full;                        /* some reads were not logged */
};

/* What uproc__name found out about a pc. */
struct uproc_pcinfo {
	const struct maps_line *line;   /* the maps line holding the pc, or NULL */
	bool unknown;                   /* no symbol: named [unknown] or [module+0x...] */
};

struct uproc;

/* Parses maps_text for process pid; ELF files will be opened as
 * <proc_root>/<pid>/root/<path>. Returns 0 with *out owned by the caller
 * (uproc__free), or a negative errno of maps__parse / -ENOMEM. */
int uproc__new(pid_t pid, const char *proc_root, const char *maps_text, struct uproc **out);
/* The same for a child forked without exec: when its own /proc entry is
 * gone, its ELF files are opened through its parent's (parent <= 0: none). */
int uproc__new_child(pid_t pid, pid_t parent, const char *proc_root, const char *maps_text,
		     struct uproc **out);
void uproc__free(struct uproc *p);

const struct maps *uproc__maps(const struct uproc *p);
bool uproc__is_open(const struct uproc *p);
/* Ends the libdwfl session (closing its files); the next call reopens it. */
void uproc__close(struct uproc *p);

/* Unwinds from regs (SYM_NREGS, DWARF order) and len bytes of stack copied at
 * regs[SYM_REG_RSP]. Memory is served only from the copy. Fills *res (always a
 * valid, possibly one-frame result). Returns 0, or a negative errno when the
 * libdwfl session could not be set up (res then holds only the initial pc). */
int uproc__unwind(struct uproc *p, const uint64_t *regs, const uint8_t *stack, size_t len,
		  struct unwind_result *res);

/* Names pc (a return address unless activation) into buf: the demangled
 * symbol; "[file+0xoff]" when pc is in a file mapping but no symbol covers it
 * (off: pc's offset in the file, as pprof mappings count); or "[unknown]".
 * Fills *info. Returns 0 or -ENOMEM. */
int uproc__name(struct uproc *p, uint64_t pc, bool activation, char *buf, size_t len,
		struct uproc_pcinfo *info);

/* The path a maps line's file is known by to the process: the name the
 * executable was run by when that is a symlink (or hard link) to it, else
 * the path as maps has it. */
const char *uproc__path_as_run(const struct uproc *p, const struct maps_line *line);

/* The build id of the ELF file mapped by line, as lowercase hex into buf
 * (at least 2 * 64 + 1 bytes), and notes the file's program headers for
 * symbolize_late. Returns 0, or -ENOENT when unknown. */
int uproc__build_id(struct uproc *p, const struct maps_line *line, char *buf, size_t len);

#endif /* STALLTRAP_SYMBOLIZE_UPROC_H */
