/* test_symbolize_modsyms.c: the sorted symbol index names code addresses exactly as libdwfl does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "symbolize/modsyms.h"

/* A function with a symbol of its own: neither inlined nor cloned. */
#if defined(__has_attribute) && __has_attribute(noclone)
#define KEEP_FRAME __attribute__((noinline, noclone))
#else
#define KEEP_FRAME __attribute__((noinline))
#endif

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

KEEP_FRAME int ms_probe(int x)
{
	return x * 3 + 1;
}

/* Compares both lookups at every stride-th byte of the executable sections of
 * the module holding pc. dwfl_module_addrinfo also names data (objects), which
 * no pc points into: those addresses are skipped. */
static void compare_module(Dwfl *dwfl, uint64_t pc, uint64_t stride, size_t *checked)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	struct modsyms *ms = NULL;
	Dwarf_Addr bias, a, lo, hi;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Off off;
	GElf_Sym sym;
	GElf_Addr saddr;
	const char *want, *got;
	int64_t ndx;
	Elf *elf;

	assert_non_null(mod);
	elf = dwfl_module_getelf(mod, &bias);
	assert_non_null(elf);
	assert_int_equal(modsyms__build(mod, &ms), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		assert_non_null(gelf_getshdr(scn, &sh));
		if (!(sh.sh_flags & SHF_EXECINSTR) || sh.sh_type != SHT_PROGBITS)
			continue;
		lo = sh.sh_addr + bias;
		hi = lo + sh.sh_size;
		for (a = lo; a < hi; a += stride) {
			want = dwfl_module_addrinfo(mod, a, &off, &sym, NULL, NULL, NULL);
			if (want && GELF_ST_TYPE(sym.st_info) == STT_OBJECT)
				continue;
			ndx = modsyms__find(ms, a);
			got = ndx >= 0 ? dwfl_module_getsym_info(mod, (int)ndx, &sym, &saddr, NULL,
								 NULL, NULL)
				       : NULL;
			if (!want != !got || (want && strcmp(want, got) != 0))
				fail_msg("0x%llx: libdwfl says %s, modsyms %s",
					 (unsigned long long)(a - lo + sh.sh_addr), want ? want : "nothing",
					 got ? got : "nothing");
			(*checked)++;
		}
	}
	modsyms__free(ms);
}

static void test_same_as_libdwfl(void **state)
{
	Dwfl *dwfl = dwfl_begin(&callbacks);
	size_t checked = 0;

	assert_non_null(dwfl);
	dwfl_report_begin(dwfl);
	assert_int_equal(dwfl_linux_proc_report(dwfl, getpid()), 0);
	assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
	/* This binary densely; libc (with libc6-dbg: thousands of local symbols)
	 * sparsely, dwfl_module_addrinfo being a linear scan. */
	compare_module(dwfl, (uint64_t)ms_probe, 3, &checked);
	compare_module(dwfl, (uint64_t)snprintf, 4093, &checked);
	print_message("  %zu addresses compared\n", checked);
	assert_true(checked > 1000);
	dwfl_end(dwfl);
}

static void test_exact_bounds(void **state)
{
	Dwfl *dwfl = dwfl_begin(&callbacks);
	struct modsyms *ms = NULL;
	Dwfl_Module *mod;
	GElf_Sym sym;
	GElf_Addr saddr;
	int64_t ndx;

	assert_non_null(dwfl);
	dwfl_report_begin(dwfl);
	assert_int_equal(dwfl_linux_proc_report(dwfl, getpid()), 0);
	assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
	mod = dwfl_addrmodule(dwfl, (uint64_t)ms_probe);
	assert_non_null(mod);
	assert_int_equal(modsyms__build(mod, &ms), 0);

	ndx = modsyms__find(ms, (uint64_t)ms_probe);
	assert_true(ndx >= 0);
	assert_string_equal(dwfl_module_getsym_info(mod, (int)ndx, &sym, &saddr, NULL, NULL, NULL),
			    "ms_probe");
	assert_int_equal(saddr, (uint64_t)ms_probe);
	assert_true(sym.st_size > 0);
	ndx = modsyms__find(ms, (uint64_t)ms_probe + sym.st_size - 1);
	assert_string_equal(dwfl_module_getsym_info(mod, (int)ndx, &sym, &saddr, NULL, NULL, NULL),
			    "ms_probe");
	ndx = modsyms__find(ms, 0x1000);
	assert_int_equal(ndx, -1);
	modsyms__free(ms);
	dwfl_end(dwfl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_libdwfl),
		cmocka_unit_test(test_exact_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
