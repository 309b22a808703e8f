/* fuzz_elf.c: libFuzzer target for ELF and DWARF input to the symbolizer: a truncated or corrupt binary through libdwfl.
 *
 * Each input is written as the file a target process maps, in a proc root of
 * our own (<tmp>/1/root/bin/target), and the maps line naming it (its real
 * device and inode) is handed to a uproc, as the recorder does with
 * /proc/PID/maps. Then, as a capture would: names for a few pcs (the ELF
 * entry point among them), the build id, and an unwind from the entry point
 * over a stack copy cut from the input (CFI from .eh_frame / .debug_frame).
 * None may crash, hang, read out of bounds or leak; every name is a
 * NUL-terminated string within its buffer.
 *
 * Leaks inside elfutils are not ours and are suppressed here: on some
 * corrupt files, section data libelf reads under libdw (dwfl_module_getsymtab,
 * dwfl_module_build_id: regress_libdw_*_leak.elf) is never freed, tens to
 * hundreds of bytes each time a session opens such a file. Leaks of our own
 * still fail; tests/unit/test_symbolize*.c check our use of libdwfl on sound
 * files with no suppression.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_elf
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_elf; `make test` replays
 * the corpus with build-san/fuzz/fuzz_elf (gcc, replay_main.c). The seeds are
 * small binaries built by tests/fuzz/elf_seeds.sh (see its header).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbolize/uproc.h"

#define BASE 0x400000ull
#define SPAN 0x400000ull

/* Whole malloc stacks (libelf has no frame pointers): the suppression
 * below names a function deep in them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

/* LeakSanitizer's hook for built-in suppressions (see above). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libdw.so\n";
}

static char root[] = "/tmp/fuzz_elf.XXXXXX";
static char file[128];

/* The proc root's directories, outermost first. */
static const char *const dirs[] = { "", "/1", "/1/root", "/1/root/bin" };

static void cleanup(void)
{
	char path[160];

	unlink(file);
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		rmdir(path);
	}
}

static void setup(void)
{
	char path[160];

	if (file[0])
		return;
	if (!mkdtemp(root))
		abort();
	for (size_t i = 1; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		if (mkdir(path, 0700))
			abort();
	}
	snprintf(file, sizeof(file), "%s/1/root/bin/target", root);
	atexit(cleanup);
}

static void name_pc(struct uproc *p, uint64_t pc, bool activation)
{
	struct uproc_pcinfo info;
	char buf[256];

	memset(buf, 'x', sizeof(buf));
	if (uproc__name(p, pc, activation, buf, sizeof(buf), &info) == 0 && !memchr(buf, '\0', sizeof(buf)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t regs[SYM_NREGS];
	static struct unwind_result res;
	uint8_t stack[512] = { 0 };
	char maps[512], id[160];
	struct uproc *p = NULL;
	struct stat st;
	uint64_t entry = BASE + 0x1000;
	int fd;

	setup();
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || fstat(fd, &st) || close(fd))
		abort();
	/* the text mapping, then the data one, of the same file */
	snprintf(maps, sizeof(maps),
		 "%llx-%llx r-xp 00000000 %x:%x %llu /bin/target\n"
		 "%llx-%llx rw-p 00001000 %x:%x %llu /bin/target\n",
		 BASE, BASE + SPAN, major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino,
		 BASE + SPAN, BASE + SPAN + 0x1000, major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
	if (uproc__new(1, root, maps, &p))
		abort();
	if (size >= 32) {
		memcpy(&entry, data + 24, 8); /* e_entry of an ELF64 header */
		entry = BASE + entry % SPAN;
	}
	name_pc(p, entry, true);
	name_pc(p, entry + 1, false);
	name_pc(p, BASE + 0x1000, true);
	name_pc(p, BASE + SPAN - 1, false);
	name_pc(p, 0, false);
	(void)uproc__build_id(p, maps__line(uproc__maps(p), 0), id, sizeof(id));

	memcpy(stack, data + (size > sizeof(stack) ? size - sizeof(stack) : 0),
	       size < sizeof(stack) ? size : sizeof(stack));
	memset(regs, 0, sizeof(regs));
	regs[SYM_REG_RIP] = entry;
	regs[SYM_REG_RSP] = 0x7ffe0000ull;
	regs[SYM_REG_RBP] = 0x7ffe0100ull;
	(void)uproc__unwind(p, regs, stack, sizeof(stack), &res);
	if (res.n < 1 || res.n > UPROC_MAX_FRAMES)
		abort();
	for (size_t i = 0; i < res.n && i < 8; i++)
		name_pc(p, res.pcs[i], res.activation[i]);
	uproc__free(p);
	return 0;
}
