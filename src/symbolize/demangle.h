/* demangle.h: private to the symbolize stage: plain, readable names for C++ and Rust symbols. */
#ifndef STALLTRAP_SYMBOLIZE_DEMANGLE_H
#define STALLTRAP_SYMBOLIZE_DEMANGLE_H

#include <stddef.h>

/* Writes the display name of a symbol into buf (always NUL-terminated when
 * len > 0): C++ (_Z...) and Rust (legacy _ZN...17h<hash>E and v0 _R...)
 * symbols are demangled without parameter lists or return types, and without
 * the Rust hash ("std::vector<int, std::allocator<int> >::push_back",
 * "core::ptr::drop_in_place"); other names are copied as they are. A symbol
 * version is dropped ("clock_nanosleep@GLIBC_2.2.5" -> "clock_nanosleep"). Names
 * longer than the buffer are cut at a character boundary and end in "...".
 * Returns 0, or -ENOMEM when the demangler could not allocate (buf then holds
 * the mangled name). */
int symbolize_demangle(const char *sym, char *buf, size_t len);

#endif /* STALLTRAP_SYMBOLIZE_DEMANGLE_H */
