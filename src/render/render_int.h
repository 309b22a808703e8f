/* render_int.h: helpers shared by the renderers; not part of the render API. */
#ifndef STALLTRAP_RENDER_INT_H
#define STALLTRAP_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/aggregate.h"
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


/* ---- call sites by cause (render_sites.c) ----
 *
 * What the summary, report.html and the flame graph list: every call site of
 * the aggregate with its cause (the one of its blocks with the most time in
 * the window, by diagnose_classify(): never derived here), and one on-CPU
 * site per (thread name, user stack, kernel stack) of the on-CPU samples in
 * the window (samples x period). Sites are ordered by group, then by time in
 * the window (ties: aggregate order): the cause comes first, and waits for
 * work never rank above it, however long. */
enum render_group {
	RG_CAUSE,       /* off-CPU, abnormal cause (diagnose_cause_abnormal) */
	RG_ONCPU,       /* on-CPU, from the samples */
	RG_OTHER,       /* off-CPU, busy or other */
	RG_IDLE,        /* off-CPU, idle: waiting for work */
	RG__COUNT
};

struct render_site {
	const struct agg_entry *en; /* the aggregate's call site; NULL when on-CPU */
	char comm[16];
	uint32_t ustack, kstack;
	uint64_t ns;            /* off-CPU time inside the window, or on-CPU time */
	uint64_t count;         /* blocks, or samples */
	uint32_t threads;
	uint8_t cause;          /* enum diag_cause; DIAG_CAUSE__COUNT when on-CPU */
	uint8_t group;          /* enum render_group */
	bool oncpu;
	size_t order;           /* tie break: the aggregate's (or the samples') order */
};

struct render_sites {
	struct render_site *v;
	size_t n;
	size_t ngroup[RG__COUNT];
	uint64_t group_ns[RG__COUNT];
	uint64_t offcpu_ns;     /* off-CPU time inside the window (aggregate window_ns) */
	uint64_t oncpu_ns;      /* on-CPU time of the samples in the window */
	uint64_t period_ns;     /* the sampling period used */
};

/* Builds s from cd and agg (built from cd). Returns 0 or -ENOMEM (s zeroed). */
int render_sites_build(struct render_sites *s, const struct capdata *cd, const struct aggregate *agg);
/* Only the on-CPU sites (no classification): report.json's oncpu_stacks. */
int render_sites_oncpu(struct render_sites *s, const struct capdata *cd);
void render_sites_release(struct render_sites *s);
/* The cause's name (diagnose_cause_name()), or "on-CPU". */
const char *render_site_cause(const struct render_site *st);
/* "began 12 s before the window" (util/units.h's wording), "began before
 * the window" when the start is not known, or "" when it began inside. */
void render_site_began(const struct render_site *st, char *buf, size_t len);
/* The heading of a group: "the cause: abnormal waits", ... */
const char *render_group_title(unsigned int group);
/* Its name in class names: "cause", "oncpu", "other", "idle". */
const char *render_group_name(unsigned int group);
/* Whether extra has a verdict whose kind is not "none": then the pictures
 * open on the cause, with the rest one click away. */
bool render_verdict_focus(const json_t *extra);

#endif /* STALLTRAP_RENDER_INT_H */
