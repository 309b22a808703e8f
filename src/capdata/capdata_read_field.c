/* capdata_read_field.c: the capture reader's typed field getters; each failure names FILE:LINE, the record and the key. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capdata/capdata.h"
#include "capdata/capdata_read_int.h"

int reader_fail(struct reader *r, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->errlen) {
		if (r->line)
			snprintf(r->err, r->errlen, "%s:%lu: %s", r->path, r->line, msg);
		else
			snprintf(r->err, r->errlen, "%s: %s", r->path, msg);
	}
	return rc;
}

const char *reader_errno_what(int rc)
{
	return rc == -E2BIG ? "over the reader's limits" : rc == -ENOMEM ? "out of memory"
							    : "invalid";
}

int reader_int(struct reader *r, json_t *o, const char *key, json_int_t lo, json_int_t hi,
	       json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return reader_fail(r, -EINVAL, "%s: \"%s\" must be an integer", r->rec, key);
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return reader_fail(r, -EINVAL, "%s: \"%s\" is %lld, outside %lld..%lld", r->rec, key,
				   (long long)*out, (long long)lo, (long long)hi);
	return 0;
}

int reader_u64(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	json_int_t v = 0;
	int err = reader_int(r, o, key, 0, INT64_MAX, &v);

	if (!err)
		*out = (uint64_t)v;
	return err;
}

int reader_i32(struct reader *r, json_t *o, const char *key, int32_t *out)
{
	json_int_t v = 0;
	int err = reader_int(r, o, key, INT32_MIN, INT32_MAX, &v);

	if (!err)
		*out = (int32_t)v;
	return err;
}

/* An id that must be below n, or null (UINT32_MAX) when nullable. what names
 * the records it points to, for "refers to stack 99 but only 12 stacks ...". */
int reader_ref(struct reader *r, json_t *o, const char *key, bool nullable, size_t n,
	       const char *what, uint32_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t id;

	if (nullable && json_is_null(v)) {
		*out = UINT32_MAX;
		return 0;
	}
	if (!json_is_integer(v))
		return reader_fail(r, -EINVAL, "%s: \"%s\" must be an integer%s", r->rec, key,
				   nullable ? " or null" : "");
	id = json_integer_value(v);
	if (id < 0 || (uint64_t)id >= n)
		return reader_fail(r, -EINVAL, "%s refers to %s %lld but only %zu %s%s %s defined",
				   r->rec, what, (long long)id, n, what, n == 1 ? "" : "s",
				   n == 1 ? "was" : "were");
	*out = (uint32_t)id;
	return 0;
}

/* "0x1f"-style hex string of 1 to 16 digits -> *out; false if v is not one. */
bool reader_hex_value(json_t *v, uint64_t *out)
{
	const char *s = json_string_value(v);
	uint64_t x = 0;
	size_t i;

	if (!s || s[0] != '0' || s[1] != 'x' || !s[2] || strlen(s) > 18)
		return false;
	for (i = 2; s[i]; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		x = (x << 4) | d;
	}
	*out = x;
	return true;
}

int reader_hex(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (reader_hex_value(json_object_get(o, key), out))
		return 0;
	return reader_fail(r, -EINVAL, "%s: \"%s\" must be a hex string like \"0x1f\" (at most 64 bits)",
			   r->rec, key);
}

/* A string, or NULL when nullable and the value is null. Borrowed from o. */
int reader_str(struct reader *r, json_t *o, const char *key, bool nullable, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return reader_fail(r, -EINVAL, "%s: \"%s\" must be a string%s", r->rec, key,
				   nullable ? " or null" : "");
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return reader_fail(r, -EINVAL, "%s: \"%s\" holds a NUL character", r->rec, key);
	if (strlen(*out) > CAPDATA_MAX_STRING)
		return reader_fail(r, -E2BIG, "%s: \"%s\" is longer than %u bytes", r->rec, key,
				   CAPDATA_MAX_STRING);
	return 0;
}

int reader_bool(struct reader *r, json_t *o, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return reader_fail(r, -EINVAL, "%s: \"%s\" must be true or false", r->rec, key);
	*out = json_is_true(v);
	return 0;
}

/* Optional keys (the cause evidence, added within version 1): absent leaves
 * *out as it was and *present false; present must be well-formed. */
int reader_opt_u64(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (!json_object_get(o, key))
		return 0;
	return reader_u64(r, o, key, out);
}

int reader_opt_hex(struct reader *r, json_t *o, const char *key, uint64_t *out)
{
	if (!json_object_get(o, key))
		return 0;
	return reader_hex(r, o, key, out);
}

int reader_opt_syscall(struct reader *r, json_t *o, bool *present, int32_t *out)
{
	json_int_t v = 0;
	int err;

	*present = json_object_get(o, "syscall") != NULL;
	if (!*present)
		return 0;
	err = reader_int(r, o, "syscall", 0, INT32_MAX, &v);
	if (!err)
		*out = (int32_t)v;
	return err;
}

/* Maps a name to its index in names[n], for enums spelled as strings. */
int reader_enum(struct reader *r, json_t *o, const char *key,
		const char *(*name)(unsigned int), unsigned int n, unsigned int *out)
{
	const char *s = json_string_value(json_object_get(o, key));
	unsigned int i;

	for (i = 0; s && i < n; i++) {
		if (strcmp(s, name(i)) == 0) {
			*out = i;
			return 0;
		}
	}
	return reader_fail(r, -EINVAL, "%s: \"%s\" must be one of %s%s%s%s%s%s%s", r->rec, key,
			   name(0), n > 1 ? ", " : "", n > 1 ? name(1) : "", n > 2 ? ", " : "",
			   n > 2 ? name(2) : "", n > 3 ? ", " : "", n > 3 ? name(3) : "");
}

/* Interning must hand out the next id: anything else means the file repeats a
 * record. expect is read before the call (argument order is unspecified). */
int reader_new_id(struct reader *r, int64_t id, size_t expect)
{
	if (id < 0)
		return reader_fail(r, (int)id, "%s: %s (%s)", r->rec, reader_errno_what((int)id),
				   strerror((int)-id));
	if ((uint64_t)id != expect)
		return reader_fail(r, -EINVAL, "%s repeats %s %lld", r->rec, r->rec, (long long)id);
	return 0;
}
