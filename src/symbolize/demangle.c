/* demangle.c: C++ and Rust symbol demangling through libiberty's cplus_demangle. */
#include "symbolize/demangle.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#define DEMANGLE_MAX_IN 4096 /* longer names are shown as they are (cut), not demangled */

/* Copies s into buf, cutting long names at a UTF-8 character boundary. */
static void copy_capped(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s), cut;

	if (!len)
		return;
	if (n < len) {
		memcpy(buf, s, n + 1);
		return;
	}
	if (len < 4) {
		buf[0] = '\0';
		return;
	}
	cut = len - 4;
	while (cut && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(buf, s, cut);
	memcpy(buf + cut, "...", 4);
}

static bool looks_mangled(const char *s)
{
	/* Itanium C++ (and Rust legacy, which reuses it) and Rust v0. Other
	 * schemes cplus_demangle knows (GNAT "foo__bar", D "_D") would turn
	 * ordinary C names into nonsense, so they are not tried. */
	return (s[0] == '_' && s[1] == 'Z') || (s[0] == '_' && s[1] == 'R' && s[2] >= 'A' && s[2] <= 'Z');
}

int symbolize_demangle(const char *sym, char *buf, size_t len)
{
	char plain[DEMANGLE_MAX_IN];
	const char *at = strchr(sym, '@');
	char *d;

	/* A symbol version ("clock_nanosleep@GLIBC_2.2.5", "__libc_start_main@@GLIBC_2.34")
	 * names the same function: drop it, as the frame would read otherwise. */
	if (at) {
		if ((size_t)(at - sym) >= sizeof(plain)) {
			copy_capped(sym, buf, len);
			return 0;
		}
		memcpy(plain, sym, (size_t)(at - sym));
		plain[at - sym] = '\0';
		sym = plain;
	}
	/* the demangler's time and memory grow with the name: a longer one
	 * (anyone's binary may hold one) is shown as it is, cut */
	if (!looks_mangled(sym) || strnlen(sym, DEMANGLE_MAX_IN) == DEMANGLE_MAX_IN) {
		copy_capped(sym, buf, len);
		return 0;
	}
	/* DMGL_AUTO tries Rust first (legacy Rust symbols are valid C++ ones) and
	 * without DMGL_VERBOSE drops the Rust hash; without DMGL_PARAMS there are
	 * no parameter lists, which keeps flame graph labels short. */
	errno = 0;
	d = cplus_demangle(sym, DMGL_AUTO);
	if (!d) {
		copy_capped(sym, buf, len);
		return errno == ENOMEM ? -ENOMEM : 0;
	}
	copy_capped(d, buf, len);
	free(d);
	return 0;
}
