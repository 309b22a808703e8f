/* render_int.h: helpers shared by the renderers; not part of the render API. */
#ifndef STALLTRAP_RENDER_INT_H
#define STALLTRAP_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capdata/capdata.h"
#include "util/htab.h"
#include "util/units.h"

/* ns -> ms rounded to whole microseconds (3 decimals), and ns -> whole
 * microseconds rounded half up: the program's one rule (util/units.h), under
 * the names the renderers' many call sites use. */
static inline double render_ms(uint64_t ns)
{
	return units_ms(ns);
}

static inline uint64_t render_us(uint64_t ns)
{
	return units_us(ns);
}
/* Whether the block's user stack contributes frames (see render.h). */
bool render_shows_ustack(const struct capdata *cd, uint32_t ustack);
/* "complete", "truncated", "unreadable" or "none" (also for ST_NO_STACK). */
const char *render_ustack_status(const struct capdata *cd, uint32_t ustack);


/* ---- helpers of the picture renderers (render_util.c) ---- */

#include <stdio.h>
#include <jansson.h>

/* Writes s escaped for XML and HTML text and attribute values (& < > " '),
 * with every character XML 1.0 forbids (and C0/C1 controls) replaced by '?',
 * tabs and newlines by spaces. _n stops after max_chars characters and
 * returns how many it wrote; _fit writes s whole when it has at most max_chars
 * characters, else its first max_chars - 2 and "..", or nothing when
 * max_chars < 3 (flamegraph.pl's way of fitting a name in a frame). */
void render_xml_put(FILE *f, const char *s);
size_t render_xml_put_n(FILE *f, const char *s, size_t max_chars);
void render_xml_put_fit(FILE *f, const char *s, size_t max_chars);
/* Characters (UTF-8 code points) in s. */
size_t render_utf8_chars(const char *s);
/* Writes s (a verdict) as one or two centred <text class=cls> lines at
 * (x, y) and (x, y + line_h), broken at a space, each of at most max_chars
 * characters (the second cut with ".."). Returns the lines written, or
 * -ENOMEM. _lines says how many that will be (0 for NULL). */
int render_svg_subtitle(FILE *f, const char *cls, double x, double y, double line_h,
			const char *s, size_t max_chars);
size_t render_svg_subtitle_lines(const char *s, size_t max_chars);
/* A well-mixed 32-bit hash of len bytes (FNV-1a and a finalizer). Not for
 * hash tables (util/htab.h has the tree's): it picks flame graph colours, which
 * must stay the same from one version to the next, and compares timeline lanes. */
uint32_t render_hash(const void *data, size_t len, uint32_t seed);

/* Interns (string, tag) pairs into dense ids 0..n-1. Strings are borrowed,
 * not copied: they must outlive the table. At most RENDER_STRTAB_MAX. A
 * zeroed struct is an empty table. */
#define RENDER_STRTAB_MAX (1u << 24)
struct render_strtab {
	const char **strs;
	uint8_t *tags;
	size_t n, cap;
	struct htab index;      /* (string, tag) -> id */
};
/* Returns the id, or -ENOMEM / -E2BIG. */
int64_t render_strtab_intern(struct render_strtab *t, const char *s, uint8_t tag);
void render_strtab_release(struct render_strtab *t);

/* extra.verdict.summary / extra.verdict.kind, or NULL when absent or not a
 * non-empty string (extra may be NULL). */
const char *render_verdict_summary(const json_t *extra);
const char *render_verdict_kind(const json_t *extra);

/* The tooltip script of the SVGs: put it in a <script> (in CDATA) that is a
 * child of the <svg>; it shows the data-t attribute of the element under the
 * mouse ("&#10;" separates lines) in a box that follows it. */
extern const char render_tooltip_js[];

#endif /* STALLTRAP_RENDER_INT_H */
