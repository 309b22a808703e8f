/* elfcheck.h: private to the symbolize stage: whether an ELF file a target maps is fit to hand to libdwfl.
 *
 * The symbolizer reads binaries owned by others, which may be truncated,
 * corrupt, or built to cost. Before libdwfl reads one, elfcheck__fd() bounds
 * what that can cost: the file's size, its section count, every section and
 * segment within the file, and what its compressed sections would inflate to.
 * A file refused is named by file and offset ("[file+0x...]"), as one without
 * symbols is. The caps are documented in docs/hardening.md.
 */
#ifndef STALLTRAP_SYMBOLIZE_ELFCHECK_H
#define STALLTRAP_SYMBOLIZE_ELFCHECK_H

#include <stddef.h>

#define ELFCHECK_MAX_FILE (2ull << 30)        /* bytes of one ELF file */
#define ELFCHECK_MAX_SECTIONS 65536           /* sections of one file */
#define ELFCHECK_MAX_INFLATED (256ull << 20)  /* compressed sections' sizes once inflated, together */
#define ELFCHECK_MAX_DEBUGDATA (4ull << 20)   /* bytes of .gnu_debugdata (MiniDebugInfo, xz) */

/* 0 when the ELF file open on fd is within the caps above, or -EINVAL /
 * -EFBIG with the reason in why (one line, may be NULL). fd is not moved
 * (pread) and stays open. */
int elfcheck__fd(int fd, char *why, size_t whylen);

#endif /* STALLTRAP_SYMBOLIZE_ELFCHECK_H */
