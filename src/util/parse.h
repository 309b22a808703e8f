/* parse.h: parsers for command-line and config values (durations, sizes, pid lists). */
#ifndef STALLTRAP_PARSE_H
#define STALLTRAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "500ms", "2s", "1.5s", "1m", "1h", "250us", or plain (possibly fractional)
 * seconds. Returns 0, or -EINVAL for anything else (empty, negative, junk,
 * overflow). */
int parse_duration_ns(const char *s, uint64_t *out);

/* A size: bytes, or a number with K, M, G, T (powers of 1024; KiB, MB
 * and the like are the same). Returns 0, or -EINVAL. */
int parse_size(const char *s, uint64_t *out);

/* A positive integer within [min, max]. Returns 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "123,456": up to max pids into out; returns the count, or -EINVAL naming
 * nothing (the caller names the flag), or -E2BIG. */
int parse_pid_list(const char *s, pid_t *out, size_t max);

/* Formats ns as a short human duration ("15s", "1.5s", "250ms"). */
void format_duration(uint64_t ns, char *buf, size_t len);

#endif /* STALLTRAP_PARSE_H */
