/* base64.h: RFC 4648 base64 (the standard alphabet, with padding), as JSON carries bytes. */
#ifndef STALLTRAP_UTIL_BASE64_H
#define STALLTRAP_UTIL_BASE64_H

#include <stddef.h>

/* The characters base64 of len bytes takes, without the NUL. */
#define BASE64_LEN(len) (((len) + 2) / 3 * 4)

/* Writes the base64 of len bytes and a NUL to out (BASE64_LEN(len) + 1
 * bytes); returns the characters written. */
size_t base64_encode(const void *data, size_t len, char *out);

#endif
