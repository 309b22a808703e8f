/* render.h: turns a capdata and its aggregate into profile.folded, report.json and the text summary.
 *
 * Renderers never symbolize and never look at anything but the capdata and
 * the aggregate: names come from capdata frames, figures from the aggregate.
 * The aggregate must have been built from the same capdata.
 *
 * Conventions shared by every output:
 * - a stack is listed root first: user frames root -> leaf, then kernel frames
 *   root -> leaf. Kernel frame names get the suffix "_[k]" (flamegraph.pl's
 *   convention, which colours them apart).
 * - a user stack whose status is CAP_STACK_NONE (kernel threads), or a block
 *   without a user stack, contributes no user frames. An unreadable user stack
 *   is a one-frame placeholder stack ("[user stack unreadable: mmap_lock busy]")
 *   and contributes that frame.
 * - milliseconds are floats rounded to 3 decimals (whole microseconds), under
 *   the name offcpu_ms and the like, everywhere.
 * - files are written 0600 to a temporary name in the same directory, fsync'ed
 *   and renamed, so a crash never leaves half a file.
 */
#ifndef STALLTRAP_RENDER_H
#define STALLTRAP_RENDER_H

#include <stdio.h>

#include <jansson.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"

#define RENDER_FOLDED_FILE "profile.folded"
#define RENDER_REPORT_FILE "report.json"
#define RENDER_REPORT_VERSION 1

/* profile.folded: one line per aggregate entry, in aggregate order:
 *   comm;user_root;...;user_leaf;kroot_[k];...;kleaf_[k] MICROSECONDS
 * Inside comm and frame names, ';' becomes ':' and every space or control
 * character becomes '_' (so "operator new(unsigned long)" reads
 * "operator_new(unsigned_long)"): the line then has exactly one space, before
 * the count, and parses in flamegraph.pl, inferno and Pyroscope alike. An
 * empty name is written "[unknown]". Counts are whole microseconds, rounded
 * cumulatively so that the lines add up to round(agg->offcpu_ns / 1000).
 * Returns 0 or a negative errno (-EIO on a write error). */
int render_folded(FILE *f, const struct capdata *cd, const struct aggregate *agg);

/* report.json, in this key order: version, target, window, min_block_ms,
 * offcpu_total_ms, below_min_block_ms, user_stack_complete_pct, drops,
 * capture, then the keys of extra (NULL or an object: verdict, locks,
 * holders, memory, trigger, baseline, ...; taken by reference; keys named
 * "threads" or "stacks" are ignored), then threads and stacks, last because
 * they can be long. docs/capture-format.md ("report.json") lists the fields.
 *
 * render_report_file() writes it pretty-printed (2-space indent) to path,
 * 0600, atomically, building one stack at a time: use it for real captures
 * (100k stacks would take 200+ MiB as one jansson tree). Returns 0 or a
 * negative errno. */
int render_report_file(const char *path, const struct capdata *cd, const struct aggregate *agg,
		       const json_t *extra);

/* The same report as one jansson tree, for callers that want to read or
 * amend it (diagnosis, tests). *out is the caller's (json_decref). Keys set
 * afterwards land after stacks. Returns 0 or -ENOMEM. render_report_write()
 * writes such a tree exactly as render_report_file() would have. */
int render_report(const struct capdata *cd, const struct aggregate *agg, const json_t *extra,
		  json_t **out);
int render_report_write(const json_t *report, const char *path);

/* The text summary `stalltrap record` prints: a header line, the top_n call
 * sites (two lines each), a drops line (never silent: "drops: none" or every
 * non-zero counter) and the share of off-CPU time with incomplete user stacks.
 * At most 4 + 2 * top_n lines. Names are cleaned of control characters (a
 * symbol name must not drive the terminal). Returns 0 or -EIO. */
int render_summary(FILE *f, const struct capdata *cd, const struct aggregate *agg, int top_n);

/* Writes DIR/profile.folded and DIR/report.json (with extra, as render_report).
 * Returns 0, or a negative errno with a one-line reason in err naming the file. */
int render_all(const char *dir, const struct capdata *cd, const struct aggregate *agg,
	       const json_t *extra, char *err, size_t errlen);

/* The atomic writer the above use, for other renderers: creates a 0600 temp
 * file next to path, calls fill(f, arg), then flushes, fsyncs and renames it
 * to path. fill returns 0 or a negative errno; on any error the temp file is
 * removed and path is left as it was. */
int render_write_file(const char *path, int (*fill)(FILE *f, void *arg), void *arg);

#endif /* STALLTRAP_RENDER_H */
