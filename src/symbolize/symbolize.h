/* symbolize.h: turns raw stacks from the capture stage into interned, named
 * frames and stacks of a capdata.
 *
 * Kernel stacks: instruction pointers, leaf first, named from /proc/kallsyms.
 * User stacks: registers and a copy of the stack memory, unwound with elfutils'
 * libdwfl from DWARF CFI (.eh_frame/.debug_frame), so binaries without frame
 * pointers unwind completely; then named from ELF symbol tables or separate
 * debuginfo, and demangled (C++, Rust).
 *
 * The symbolizer never reads /proc/PID/maps itself: the caller hands it the
 * text of the maps file, read ahead of time or with a deadline, because that
 * read takes the target's mmap_lock and blocks during the freezes we record.
 * ELF files are opened as /proc/PID/root/<path> so that processes in other
 * mount namespaces resolve; opening a file takes no lock of the target.
 *
 * Owned data: the symbolizer keeps ksyms, one libdwfl session per process and
 * caches keyed by address; raw stack bytes are only read during the call.
 */
#ifndef STALLTRAP_SYMBOLIZE_H
#define STALLTRAP_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capdata/capdata.h"

/* A user stack's initial frame: the registers in the order of the x86_64
 * DWARF register numbers 0..16 (rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip),
 * as libdwfl takes them (dwfl_thread_state_registers from 0). The capture
 * hands them over in this order (capture.h's CAPTURE_NREGS; the recorder
 * asserts they agree). */
#define SYM_NREGS 17
#define SYM_REG_RBP 6
#define SYM_REG_RSP 7
#define SYM_REG_RIP 16

struct symbolizer;

/* kallsyms_path is normally "/proc/kallsyms"; NULL skips kernel symbols (tests).
 * proc_root is normally "/proc"; tests may point it elsewhere.
 * Returns NULL with a one-line reason in err. */
struct symbolizer *symbolizer_new(struct capdata *cd, const char *kallsyms_path,
				  const char *proc_root, char *err, size_t errlen);
void symbolizer_free(struct symbolizer *sym);

/* Registers (or refreshes, when called again) a process from its maps text.
 * Returns 0 or a negative errno. */
int symbolizer_add_process(struct symbolizer *sym, pid_t pid, const char *maps_text);
/* The same for a child forked without exec: once it is gone, its files are
 * opened through its parent's /proc entries (a fork-per-connection server's
 * short-lived child is often gone before its stacks are unwound). */
int symbolizer_add_child(struct symbolizer *sym, pid_t pid, pid_t parent, const char *maps_text);
/* Registers child with the mappings known for parent (a fork copies the
 * address space), for a child gone before its own maps could be read.
 * -ENOENT: parent unknown. */
int symbolizer_add_forked(struct symbolizer *sym, pid_t child, pid_t parent);
/* Forget a process (it exec'd or exited); frames already interned stay. */
void symbolizer_drop_process(struct symbolizer *sym, pid_t pid);

/* Kernel stack: ips leaf first. Frames of the BPF machinery (bpf_prog_*,
 * bpf_trace_run*, __bpf_trace_*) and of the tracepoint plumbing are dropped.
 * Returns the capdata stack id (root first) or a negative errno. */
int64_t symbolizer_kstack(struct symbolizer *sym, const uint64_t *ips, size_t n);
/* The kernel data symbol at addr (a static lock's name) and addr's offset
 * into it, where kallsyms lists data symbols (CONFIG_KALLSYMS_ALL); else NULL. */
const char *symbolizer_kdata_name(struct symbolizer *sym, uint64_t addr, uint64_t *offset);

/* User stack: regs in the DWARF order above (SYM_NREGS), and
 * len bytes of stack memory that were at regs[SYM_REG_RSP]. Unwinds, names the
 * frames, interns the stack and returns its id (root first), or a negative errno.
 * The status says whether the unwind reached the thread's entry.
 * Repeated stacks are served from a cache of verified unwinds: an entry keeps
 * the stack words the unwinder read, and is reused only when the same words
 * hold the same values. */
int64_t symbolizer_ustack(struct symbolizer *sym, pid_t pid, const uint64_t *regs,
			  const uint8_t *stack, size_t len);

/* A one-frame user stack naming why there is none, e.g.
 * "[user stack unreadable: mmap_lock busy]". */
int64_t symbolizer_placeholder(struct symbolizer *sym, const char *what,
			       enum cap_stack_status status);

/* Statistics for report.json's "capture" section. */
struct symbolizer_stats {
	uint64_t ustacks, ustack_cache_hits, unwind_ns, kstacks, unknown_pcs;
	uint64_t maps_refresh_wanted; /* pcs outside every known mapping: maps may be stale */
};
void symbolizer_stats(const struct symbolizer *sym, struct symbolizer_stats *out);

/* ---- after the capture: symbols of stripped binaries ----
 *
 * During the capture the symbolizer never touches the network: a binary
 * without a symbol table and without local debug info (the host's
 * /usr/lib/debug, its .gnu_debuglink, its .gnu_debugdata) leaves its frames
 * "[file+0x...]". symbolize_late, called once the window has ended, asks
 * debuginfod (elfutils' client: DEBUGINFOD_URLS, and its file cache,
 * DEBUGINFOD_CACHE_PATH) for those binaries' debug info by build id, within
 * a deadline, and renames their frames in cd. Answers, misses included, are
 * kept for the life of the process (see debuginfo.h), so a watcher asks once
 * per binary. Runs on saved capture data too (the main file's program headers
 * are then read from the mapping's path, if it still holds that build). */
struct symbolize_late_opts {
	uint64_t timeout_ns;    /* for all lookups together; each gets an equal share of what is left */
};

struct symbolize_late_result {
	unsigned int wanted;    /* build ids with unnamed frames */
	unsigned int found, not_found, timed_out, failed, no_server;
	uint64_t frames_named;  /* frames renamed */
	uint64_t lookup_ns;     /* time spent, lookups and naming */
	char why[320];          /* "" when every wanted build id got its symbols; else the first
				 * that did not, and why ("app (build id 1a2b...): debuginfod gave
				 * no answer before the deadline; and 2 more binaries") */
};

/* Sets cd's stats symbols_wanted, _found, _not_found, _timed_out, _failed,
 * _lookup_ns, _named_frames when some binary lacked symbols. Returns 0,
 * -EINVAL or -ENOMEM. */
int symbolize_late(struct capdata *cd, const struct symbolize_late_opts *o,
		   struct symbolize_late_result *r);

#endif /* STALLTRAP_SYMBOLIZE_H */
