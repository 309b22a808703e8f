/* test_symbolize_elf.c: the symbolizer on binaries it cannot trust: truncated, corrupt, oversized, replaced while in use; and on one gone from a dead process's view while in use.
 *
 * The binaries are the fuzz seeds (tests/fuzz/corpus_elf/, made by
 * tests/fuzz/elf_seeds.sh): dwarf.elf is a static non-PIE program whose
 * middle() is at 0x400180, cxx.so a C++ shared object. Each test puts one as
 * /bin/target in a proc root of its own, maps it at 0x400000 as a process
 * would, and asks for names. None may crash or hang; a file the symbolizer
 * cannot trust is named by file and offset, never by another file's symbols,
 * and one cut short while in use costs no SIGBUS.
 * Run from the repository root (tests/run.sh does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "symbolize/elfcheck.h"
#include "symbolize/symbolize.h"
#include "symbolize/uproc.h"

#define SEEDS "tests/fuzz/corpus_elf/"
#define MIDDLE_PC 0x400185ull   /* inside middle() of dwarf.elf */
#define UNNAMED "[target+0x185]"

static char root[64], target[128], other[128];

static void mkdirs(void)
{
	char path[128];

	snprintf(root, sizeof(root), "/tmp/stalltrap-test-elf.%d", (int)getpid());
	assert_int_equal(mkdir(root, 0700), 0);
	snprintf(path, sizeof(path), "%s/1", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/1/root", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/1/root/bin", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(target, sizeof(target), "%s/1/root/bin/target", root);
	snprintf(other, sizeof(other), "%s/1/root/bin/other", root);
}

static int setup(void **state)
{
	mkdirs();
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	unlink(target);
	unlink(other);
	snprintf(path, sizeof(path), "%s/1/root/bin", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/1/root", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/1", root);
	rmdir(path);
	rmdir(root);
	return 0;
}

/* The seed named, whole, into a malloc'd buffer. */
static char *slurp(const char *name, size_t *len)
{
	char path[256], *buf;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), SEEDS "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*len = (size_t)st.st_size;
	return buf;
}

static void put(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* A uproc with /bin/target mapped at 0x400000 as its maps say now. */
static struct uproc *open_target(void)
{
	struct uproc *p = NULL;
	struct stat st;
	char maps[256];

	assert_int_equal(stat(target, &st), 0);
	snprintf(maps, sizeof(maps), "400000-402000 r-xp 00000000 %x:%x %llu /bin/target\n",
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino);
	assert_int_equal(uproc__new(1, root, maps, &p), 0);
	return p;
}

static void name_of(struct uproc *p, uint64_t pc, char *buf, size_t len)
{
	struct uproc_pcinfo info;

	assert_int_equal(uproc__name(p, pc, true, buf, len, &info), 0);
	assert_non_null(memchr(buf, '\0', len));
}

static int check_fd(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	assert_true(fd >= 0);
	err = elfcheck__fd(fd, why, whylen);
	close(fd);
	return err;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The control: the seed as it is is accepted and named. */
static void test_intact(void **state)
{
	size_t len;
	char *elf = slurp("dwarf.elf", &len), name[256], why[128] = "";
	struct uproc *p;

	put(target, elf, len);
	assert_int_equal(check_fd(target, why, sizeof(why)), 0);
	p = open_target();
	name_of(p, MIDDLE_PC, name, sizeof(name));
	assert_string_equal(name, "middle");
	uproc__free(p);
	assert_int_equal(check_fd("/proc/self/exe", why, sizeof(why)), 0);
	free(elf);
}

/* Every prefix of the file: no crash, no hang, and either the right name or
 * the file and offset (a cut symbol table names nothing). */
static void test_truncated(void **state)
{
	size_t len, cut;
	char *elf = slurp("dwarf.elf", &len), name[256];
	double t0 = now_s();
	unsigned named = 0, unnamed = 0;

	for (cut = 0; cut < len; cut += cut < 128 ? 8 : 61) {
		struct uproc *p;

		put(target, elf, cut);
		p = open_target();
		name_of(p, MIDDLE_PC, name, sizeof(name));
		if (!strcmp(name, "middle"))
			named++;
		else if (!strcmp(name, UNNAMED))
			unnamed++;
		else
			fail_msg("cut at %zu bytes: named '%s'", cut, name);
		uproc__free(p);
	}
	/* the section headers are at the end: every prefix is refused */
	assert_int_equal(named, 0);
	assert_true(unnamed > 40);
	assert_true(now_s() - t0 < 20);
	free(elf);
}

/* The file offset of the section named name, through libelf. */
static GElf_Off section_header_offset(const char *buf, size_t len, const char *name, GElf_Shdr *out)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Ehdr eh;
	GElf_Off at = 0;

	elf_version(EV_CURRENT);
	e = elf_memory((char *)buf, len);
	assert_non_null(e);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	assert_non_null(gelf_getehdr(e, &eh));
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		assert_non_null(gelf_getshdr(scn, &sh));
		if (!strcmp(elf_strptr(e, shstrndx, sh.sh_name), name)) {
			at = eh.e_shoff + elf_ndxscn(scn) * eh.e_shentsize;
			*out = sh;
			break;
		}
	}
	elf_end(e);
	assert_true(at != 0);
	return at;
}

/* Sections whose contents lie past the end of the file, and section headers
 * past it: refused before libdwfl reads them, named by offset. */
static void test_sections_past_end(void **state)
{
	size_t len;
	char *elf = slurp("dwarf.elf", &len), name[256], why[128] = "";
	GElf_Shdr sh;
	GElf_Off at = section_header_offset(elf, len, ".symtab", &sh);
	Elf64_Shdr *raw = (Elf64_Shdr *)(elf + at);
	struct uproc *p;

	raw->sh_offset = len + 4096;
	put(target, elf, len);
	assert_int_equal(check_fd(target, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "past the end of the file"));
	p = open_target();
	name_of(p, MIDDLE_PC, name, sizeof(name));
	assert_string_equal(name, UNNAMED);
	uproc__free(p);

	/* a size that wraps around */
	raw->sh_offset = sh.sh_offset;
	raw->sh_size = UINT64_MAX - 8;
	put(target, elf, len);
	assert_int_equal(check_fd(target, why, sizeof(why)), -EINVAL);
	free(elf);

	elf = slurp("shoff_past_end.elf", &len);
	put(target, elf, len);
	assert_int_not_equal(check_fd(target, why, sizeof(why)), 0);
	p = open_target();
	name_of(p, MIDDLE_PC, name, sizeof(name));
	assert_string_equal(name, UNNAMED);
	uproc__free(p);
	free(elf);
}

/* A compressed section claiming to inflate past the cap, and a file past the
 * size cap (sparse: costs no disk). */
static void test_caps(void **state)
{
	size_t len;
	char *elf = slurp("dwarf_zlib.elf", &len), why[128] = "";
	GElf_Shdr sh;
	Elf64_Chdr *ch;
	int fd;

	section_header_offset(elf, len, ".debug_info", &sh);
	assert_true(sh.sh_flags & SHF_COMPRESSED);
	ch = (Elf64_Chdr *)(elf + sh.sh_offset);
	put(target, elf, len);
	assert_int_equal(check_fd(target, why, sizeof(why)), 0);
	ch->ch_size = 1ull << 40;
	put(target, elf, len);
	assert_int_equal(check_fd(target, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "inflate"));
	free(elf);

	fd = open(target, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)ELFCHECK_MAX_FILE + 4096), 0);
	close(fd);
	assert_int_equal(check_fd(target, why, sizeof(why)), -EFBIG);
	assert_int_equal(check_fd("/dev/null", why, sizeof(why)), -EINVAL);
}

/* Another file renamed over the binary between the maps read and the
 * symbolization: its symbols are not used, the frames are named by offset.
 * Once the session holds the file, a rename changes nothing. */
static void test_replaced(void **state)
{
	size_t alen, blen;
	char *a = slurp("dwarf.elf", &alen), *b = slurp("cxx.so", &blen), name[256];
	struct uproc *p;

	put(target, a, alen);
	p = open_target();              /* the maps are read: target is dwarf.elf */
	put(other, b, blen);
	assert_int_equal(rename(other, target), 0);
	name_of(p, MIDDLE_PC, name, sizeof(name));
	assert_string_equal(name, UNNAMED);
	name_of(p, 0x4002c4, name, sizeof(name)); /* where cxx.so has store::Db::Write */
	assert_string_equal(name, "[target+0x2c4]");
	uproc__free(p);

	put(target, a, alen);
	p = open_target();
	name_of(p, MIDDLE_PC, name, sizeof(name)); /* the session opens the file now */
	assert_string_equal(name, "middle");
	put(other, b, blen);
	assert_int_equal(rename(other, target), 0);
	name_of(p, 0x400150, name, sizeof(name));
	assert_string_equal(name, "leaf");
	uproc__free(p);
	free(a);
	free(b);
}

/* A file cut short in place (O_TRUNC, as cp does to a library) while the
 * session holds it: what was read stays, nothing faults (libdwfl maps files
 * by default, and a read of a mapping past the new end is SIGBUS). */
static void test_truncated_in_use(void **state)
{
	size_t len;
	char *so = slurp("cxx.so", &len), name[256];
	struct uproc *p;
	int fd;

	put(target, so, len);
	p = open_target();
	name_of(p, 0x4002d4, name, sizeof(name));
	assert_string_equal(name, "plain");
	fd = open(target, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	name_of(p, 0x4002c4, name, sizeof(name));
	assert_string_equal(name, "store::Db::Write");
	uproc__close(p); /* reopened on demand: now an empty file, named by offset */
	name_of(p, 0x4002c4, name, sizeof(name));
	assert_string_equal(name, "[target+0x2c4]");
	uproc__free(p);
	free(so);
}

/* A process that exits between the report of its modules and the opening of
 * their files (a fork-per-connection server's child exits as soon as its
 * wait ends, while that wait is being symbolized): a file it maps that this
 * process sees at the same path, the very same file (device and inode), is
 * opened by that path, not through the gone process's /proc/PID/root. Here
 * the file is at host (this process's view) and, hard-linked, at the same
 * path under the proc root's 1/root (the target's view); the target's view
 * goes away after the report, before the first name is asked. */
static void test_gone_after_report(void **state)
{
	char host[128], view[320], dir[256], maps[384], name[256];
	const char *tail = root + 1;	/* root without its leading '/' */
	uint64_t regs[SYM_NREGS] = { 0 };
	struct unwind_result *res = calloc(1, sizeof(*res));
	struct uproc *p = NULL;
	size_t len;
	char *elf = slurp("dwarf.elf", &len);
	struct stat st;

	assert_non_null(res);
	snprintf(host, sizeof(host), "%s/host-target", root);
	put(host, elf, len);
	assert_int_equal(stat(host, &st), 0);
	/* <root>/1/root/<root>/host-target */
	snprintf(dir, sizeof(dir), "%s/1/root/%.*s", root, (int)(strchr(tail, '/') - tail), tail);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/1/root%s", root, root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(view, sizeof(view), "%s/host-target", dir);
	assert_int_equal(link(host, view), 0);
	snprintf(maps, sizeof(maps), "400000-402000 r-xp 00000000 %x:%x %llu %s\n", major(st.st_dev),
		 minor(st.st_dev), (unsigned long long)st.st_ino, host);
	assert_int_equal(uproc__new(1, root, maps, &p), 0);
	/* the modules are reported (an unwind from a pc outside them opens no file) */
	regs[SYM_REG_RIP] = 0x1000;
	uproc__unwind(p, regs, NULL, 0, res);
	assert_true(uproc__is_open(p));
	assert_int_equal(unlink(view), 0);
	name_of(p, MIDDLE_PC, name, sizeof(name));
	assert_string_equal(name, "middle");
	uproc__free(p);
	unlink(host);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/1/root/%.*s", root, (int)(strchr(tail, '/') - tail), tail);
	rmdir(dir);
	free(res);
	free(elf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sections_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_after_report, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
