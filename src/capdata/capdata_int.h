/* capdata_int.h: what the files of the capdata module share; not for use outside src/capdata/.
 *
 * The model (capdata.c) owns the strings, the growable arrays and the named
 * counters; the index (capdata_index.c) owns struct capdata_index, the
 * interning tables behind cd->index. Every function here keeps the
 * invariants of capdata.h: strings are valid UTF-8 and capped, arrays never
 * pass their CAPDATA_MAX_* cap.
 */
#ifndef STALLTRAP_CAPDATA_INT_H
#define STALLTRAP_CAPDATA_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "capdata/capdata.h"

/* The interning tables: new returns NULL when out of memory; free takes NULL. */
struct capdata_index *capdata_index_new(void);
void capdata_index_free(struct capdata_index *ix);

/* True when s can be stored as is: valid UTF-8 of at most max bytes. */
bool capdata_str_clean(const char *s, size_t max);
/* Copies s into a new string (the caller owns it) of at most max bytes, cut
 * at a character boundary, every invalid byte replaced by '?'. NULL stays
 * NULL. 0 or -ENOMEM. */
int capdata_str_dup_clean(const char *s, size_t max, char **out);

/* Grows *arr (of *alloc elements of elem bytes) to hold need, doubling, never
 * past cap: 0, -E2BIG over the cap (nothing changed) or -ENOMEM. */
int capdata_grow(void **arr, size_t *alloc, size_t need, size_t elem, size_t cap);
/* Room for one more in cd->what (with cd->nwhat and cd->awhat). */
#define GROW(cd, what, cap) \
	capdata_grow((void **)&(cd)->what, &(cd)->a##what, (cd)->n##what + 1, sizeof(*(cd)->what), (cap))

/* The counter named name among c[0..n), or NULL. */
struct cap_counter *capdata_counter_find(struct cap_counter *c, size_t n, const char *name);
/* Names become JSON keys and text in summaries: 1..CAPDATA_MAX_NAME of [A-Za-z0-9_.-]. */
bool capdata_counter_name_ok(const char *name);

#endif /* STALLTRAP_CAPDATA_INT_H */
