/* capdata_read_int.h: the capture reader's state and typed field getters (capdata_read.c, capdata_read_field.c).
 *
 * A struct reader lives for one capdata_read_file() call; it borrows cd, path
 * and err from the caller. Every getter returns 0 or a negative errno, and on
 * failure has written "FILE:LINE: record: what is wrong" into r->err: the
 * first problem found is the one reported. Strings handed out are borrowed
 * from the JSON object being read.
 */
#ifndef STALLTRAP_CAPDATA_READ_INT_H
#define STALLTRAP_CAPDATA_READ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "capdata/capdata.h"

struct reader {
	struct capdata *cd;
	const char *path;
	unsigned long line;
	char *err;
	size_t errlen;
	const char *rec;        /* record type, for messages */
	bool have_header;
	bool have_end;
};

/* Writes the message for the current line into r->err; returns rc. */
__attribute__((format(printf, 3, 4)))
int reader_fail(struct reader *r, int rc, const char *fmt, ...);
/* "over the reader's limits" (-E2BIG), "out of memory", "invalid". */
const char *reader_errno_what(int rc);

/* An integer in lo..hi; a u64 in 0..INT64_MAX (the format's integers are signed); an i32. */
int reader_int(struct reader *r, json_t *o, const char *key, json_int_t lo, json_int_t hi,
	       json_int_t *out);
int reader_u64(struct reader *r, json_t *o, const char *key, uint64_t *out);
int reader_i32(struct reader *r, json_t *o, const char *key, int32_t *out);
/* An id that must be below n, or null (UINT32_MAX) when nullable. what names
 * the records it points to, for "refers to stack 99 but only 12 stacks ...". */
int reader_ref(struct reader *r, json_t *o, const char *key, bool nullable, size_t n,
	       const char *what, uint32_t *out);
/* "0x1f"-style hex string of 1 to 16 digits -> *out; false if v is not one. */
bool reader_hex_value(json_t *v, uint64_t *out);
int reader_hex(struct reader *r, json_t *o, const char *key, uint64_t *out);
/* A string without NULs of at most CAPDATA_MAX_STRING bytes, or NULL when
 * nullable and the value is null. Borrowed from o. */
int reader_str(struct reader *r, json_t *o, const char *key, bool nullable, const char **out);
/* true or false; dflt when absent. */
int reader_bool(struct reader *r, json_t *o, const char *key, bool dflt, bool *out);
/* Optional keys (the cause evidence, added within version 1): absent leaves
 * *out as it was; present must be well-formed. */
int reader_opt_u64(struct reader *r, json_t *o, const char *key, uint64_t *out);
int reader_opt_hex(struct reader *r, json_t *o, const char *key, uint64_t *out);
int reader_opt_syscall(struct reader *r, json_t *o, bool *present, int32_t *out);
/* Maps a name to its index among name(0..n-1), for enums spelled as strings. */
int reader_enum(struct reader *r, json_t *o, const char *key,
		const char *(*name)(unsigned int), unsigned int n, unsigned int *out);
/* Interning must hand out the next id (expect): anything else means the file
 * repeats a record. expect is read before the call (argument order is unspecified). */
int reader_new_id(struct reader *r, int64_t id, size_t expect);

#endif /* STALLTRAP_CAPDATA_READ_INT_H */
