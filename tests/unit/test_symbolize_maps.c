/* test_symbolize_maps.c: the /proc/PID/maps parser of the symbolize stage, table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/maps.h"

static const char real_maps[] =
	"55d5c6e00000-55d5c6e02000 r--p 00000000 fe:01 1835302                    /usr/bin/cat\n"
	"55d5c6e02000-55d5c6e07000 r-xp 00002000 fe:01 1835302                    /usr/bin/cat\n"
	"55d5c7a1e000-55d5c7a3f000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f0c1a400000-7f0c1a426000 r--p 00000000 fe:01 1837521                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f0c1a426000-7f0c1a57b000 r-xp 00026000 fe:01 1837521                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f0c1a600000-7f0c1a700000 rw-s 00000000 00:01 4242                       /memfd:shm (deleted)\n"
	"7f0c1a700000-7f0c1a701000 rw-p 00000000 00:00 0 \n"
	"7ffd5a3c4000-7ffd5a3e5000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffd5a3f8000-7ffd5a3fa000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void test_parse_real(void **state)
{
	static const struct {
		uint64_t start, end, offset, ino;
		uint32_t maj, min, perms;
		const char *path;
	} want[] = {
		{ 0x55d5c6e00000, 0x55d5c6e02000, 0, 1835302, 0xfe, 1, MAPS_R, "/usr/bin/cat" },
		{ 0x55d5c6e02000, 0x55d5c6e07000, 0x2000, 1835302, 0xfe, 1, MAPS_R | MAPS_X, "/usr/bin/cat" },
		{ 0x55d5c7a1e000, 0x55d5c7a3f000, 0, 0, 0, 0, MAPS_R | MAPS_W, "[heap]" },
		{ 0x7f0c1a400000, 0x7f0c1a426000, 0, 1837521, 0xfe, 1, MAPS_R,
		  "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ 0x7f0c1a426000, 0x7f0c1a57b000, 0x26000, 1837521, 0xfe, 1, MAPS_R | MAPS_X,
		  "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ 0x7f0c1a600000, 0x7f0c1a700000, 0, 4242, 0, 1, MAPS_R | MAPS_W | MAPS_SHARED,
		  "/memfd:shm (deleted)" },
		{ 0x7f0c1a700000, 0x7f0c1a701000, 0, 0, 0, 0, MAPS_R | MAPS_W, "" },
		{ 0x7ffd5a3c4000, 0x7ffd5a3e5000, 0, 0, 0, 0, MAPS_R | MAPS_W, "[stack]" },
		{ 0x7ffd5a3f8000, 0x7ffd5a3fa000, 0, 0, 0, 0, MAPS_R | MAPS_X, "[vdso]" },
		{ 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, MAPS_X, "[vsyscall]" },
	};
	struct maps *m = NULL;
	const struct maps_line *l;
	size_t i;

	assert_int_equal(maps__parse(real_maps, &m), 0);
	assert_int_equal(maps__count(m), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < maps__count(m); i++) {
		l = maps__line(m, i);
		assert_int_equal(l->start, want[i].start);
		assert_int_equal(l->end, want[i].end);
		assert_int_equal(l->offset, want[i].offset);
		assert_int_equal(l->ino, want[i].ino);
		assert_int_equal(l->dev_major, want[i].maj);
		assert_int_equal(l->dev_minor, want[i].min);
		assert_int_equal(l->perms, want[i].perms);
		assert_string_equal(l->path, want[i].path);
	}
	assert_null(maps__line(m, maps__count(m)));
	assert_true(maps__same_text(m, real_maps));
	assert_false(maps__same_text(m, ""));
	maps__free(m);
}

static void test_find(void **state)
{
	static const struct {
		uint64_t addr;
		const char *path; /* NULL: in no mapping */
	} cases[] = {
		{ 0x0, NULL },
		{ 0x55d5c6dfffff, NULL },
		{ 0x55d5c6e00000, "/usr/bin/cat" },
		{ 0x55d5c6e02000, "/usr/bin/cat" },
		{ 0x55d5c6e06fff, "/usr/bin/cat" },
		{ 0x55d5c6e07000, NULL },
		{ 0x7f0c1a426123, "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ 0x7f0c1a700800, "" },
		{ 0x7ffd5a3f8010, "[vdso]" },
		{ 0xffffffffff600fff, "[vsyscall]" },
		{ 0xffffffffffffffff, NULL },
	};
	struct maps *m = NULL;
	const struct maps_line *l;
	size_t i;

	assert_int_equal(maps__parse(real_maps, &m), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = maps__find(m, cases[i].addr);
		if (!cases[i].path) {
			assert_null(l);
			continue;
		}
		assert_non_null(l);
		assert_string_equal(l->path, cases[i].path);
	}
	maps__free(m);
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{ "", 0 },
		{ "\n\n", 0 },
		{ "1000-2000 r-xp 00000000 fe:01 12 /bin/x", 0 },       /* no final newline */
		{ "1000-2000 r-xp 00000000 fe:01 12", 0 },              /* no path, no space */
		{ "garbage\n", -EINVAL },
		{ "1000 r-xp 00000000 fe:01 12 /bin/x\n", -EINVAL },
		{ "2000-1000 r-xp 00000000 fe:01 12 /bin/x\n", -EINVAL }, /* end before start */
		{ "1000-1000 r-xp 00000000 fe:01 12 /bin/x\n", -EINVAL }, /* empty */
		{ "1000-2000 r-x 00000000 fe:01 12 /bin/x\n", -EINVAL },  /* 3 perms */
		{ "1000-2000 r-xp 0000000g fe:01 12 /bin/x\n", -EINVAL },
		{ "1000-2000 r-xp 00000000 fe01 12 /bin/x\n", -EINVAL },
		{ "1000-2000 r-xp 00000000 fe:01 x /bin/x\n", -EINVAL },
		{ "1000-2000 r-xp 00000000 fe:01 12x /bin/x\n", -EINVAL },
		{ "10000000000000000-2 r-xp 0 0:0 0\n", -EINVAL },        /* 17 hex digits */
		/* Overlapping or out of order: not a maps file. */
		{ "1000-3000 r-xp 0 fe:01 12 /a\n2000-4000 r-xp 0 fe:01 13 /b\n", -EINVAL },
		{ "5000-6000 r-xp 0 fe:01 12 /a\n1000-2000 r-xp 0 fe:01 13 /b\n", -EINVAL },
	};
	struct maps *m;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = NULL;
		r = maps__parse(cases[i].text, &m);
		if (r != cases[i].err)
			fail_msg("case %zu \"%s\": want %d, got %d", i, cases[i].text, cases[i].err, r);
		if (!r)
			maps__free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_real),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
