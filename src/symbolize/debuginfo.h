/* debuginfo.h: private to the symbolize stage: separate debug info by build id,
 * found locally during a capture and over debuginfod after it.
 *
 * One registry per process (the watcher's lifetime), shared by every
 * symbolizer and by the late pass (symbolize_late), behind a mutex: watch's
 * writer thread looks symbols up while the main thread captures.
 *
 * Per build id it keeps:
 * - the main file's PT_LOAD table, noted while the capture had the file open,
 *   so that a pc's file offset can be turned into the link-time address the
 *   debug file's symbols use (a debug file's own program headers have no file
 *   offsets: objcopy --only-keep-debug zeroes them);
 * - the result of the last debuginfod lookup: the debug file's path (in
 *   debuginfod's own cache), or a miss that is not asked again before it
 *   expires (DEBUGINFO_MISS_TTL_NS for "the server has none",
 *   DEBUGINFO_FAIL_TTL_NS for a timeout or an unreachable server).
 *
 * Bounded: DEBUGINFO_MAX_ENTRIES build ids; past it, the least recently used
 * entry is forgotten.
 *
 * The capture never touches the network: debuginfo__find_local serves the
 * live libdwfl sessions from local files and from what an earlier lookup of
 * this process brought; only debuginfo__lookup (called after the window) asks
 * debuginfod.
 */
#ifndef STALLTRAP_SYMBOLIZE_DEBUGINFO_H
#define STALLTRAP_SYMBOLIZE_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#define DEBUGINFO_MAX_ENTRIES 4096
#define DEBUGINFO_MAX_LOADS 16          /* PT_LOADs kept per file */
#define DEBUGINFO_MISS_TTL_NS (600ull * 1000000000ull)  /* debuginfod's own cache_miss_s */
#define DEBUGINFO_FAIL_TTL_NS (60ull * 1000000000ull)
#define DEBUGINFO_BUILD_ID_MAX (2 * 64 + 1) /* hex digits and the NUL */

struct debuginfo_load {
	uint64_t offset, vaddr, filesz;
};

/* What debuginfo__lookup found out. */
enum debuginfo_result {
	DEBUGINFO_FOUND = 0,
	DEBUGINFO_NOT_FOUND,    /* every server said it has none (or a recent miss) */
	DEBUGINFO_TIMED_OUT,    /* the deadline came first */
	DEBUGINFO_FAILED,       /* unreachable, refused, ... (why says) */
	DEBUGINFO_NO_SERVER,    /* DEBUGINFOD_URLS is not set */
};

/* Notes the PT_LOADs of elf, the main file of build_id (hex). */
void debuginfo__note_loads(const char *build_id, Elf *elf);
/* Copies the PT_LOADs noted for build_id into out (up to max). Returns how many (0: none). */
size_t debuginfo__loads(const char *build_id, struct debuginfo_load *out, size_t max);
/* Reads the PT_LOADs of the file at path if its build id is build_id. Returns how many. */
size_t debuginfo__loads_from_file(const char *path, const char *build_id,
				  struct debuginfo_load *out, size_t max);

/* Dwfl_Callbacks.find_debuginfo for live sessions: the host's
 * /usr/lib/debug/.build-id, a file an earlier lookup of this process
 * fetched, then the .gnu_debuglink name next to the file, in its .debug/
 * and under /usr/lib/debug. Never the network. */
int debuginfo__find_local(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name);

/* The debug file of build_id: the registry's answer if it has one that has
 * not expired, else debuginfod's (DEBUGINFOD_URLS, DEBUGINFOD_CACHE_PATH),
 * abandoned at deadline_ns (CLOCK_MONOTONIC). On DEBUGINFO_FOUND, *path is
 * the file (the caller frees it). why gets a short reason for anything else.
 * cached is set when the answer came from the registry. */
enum debuginfo_result debuginfo__lookup(const char *build_id, uint64_t deadline_ns, char **path,
					char *why, size_t whylen, bool *cached);

/* Forgets everything (tests). */
void debuginfo__reset(void);

#endif /* STALLTRAP_SYMBOLIZE_DEBUGINFO_H */
