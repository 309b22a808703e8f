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
#define RENDER_REPORT_VERSION 3

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
 * offcpu_total_ms, offcpu_window_ms, below_min_block_ms, user_stack_complete_pct, drops,
 * capture, then the keys of extra (NULL or an object: verdict, locks,
 * holders, memory, trigger, baseline, ...; taken by reference; keys named
 * "threads", "stacks" or "oncpu_stacks" are ignored), then threads, stacks
 * and oncpu_stacks, last because they can be long. docs/capture-format.md ("report.json") lists the fields.
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

/* The text summary `stalltrap record` prints (after the verdict line): a
 * header line (off-CPU time inside the window, and a line for the time
 * outside it when blocks began before it or ran past it), the call sites by
 * cause in groups, at most top_n of each (two lines a site): the abnormal
 * waits first ("the cause"), then the on-CPU sites from the samples, other
 * waits, and last, apart, the waits for work ("waiting for work (idle)"),
 * whatever their time; each site says its cause (diagnose_classify()) and,
 * when it began before the window, its longest wait and when it began. Then
 * a drops line (never silent: "drops: none" or every non-zero counter) and
 * the share of off-CPU time with incomplete user stacks. At most
 * 5 + 4 * (2 + 2 * top_n) lines. Names are cleaned of control characters (a
 * symbol name must not drive the terminal). Returns 0, -ENOMEM or -EIO. */
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


/* ---- reports people look at (flame graph, timeline, pprof, HTML page) ----
 *
 * Every picture takes extra (NULL, or the object report.json gets: the
 * diagnosis' "verdict", the watch's "trigger", ...) and shows
 * extra.verdict.summary as its subtitle when there is one. Everything taken
 * from the capture (names, comms, command lines, the verdict) is escaped for
 * XML/HTML, with characters XML forbids replaced: a symbol name is hostile
 * input. Each returns 0 or a negative errno (-EIO on a write error, -ENOMEM,
 * -E2BIG past an internal cap). */

#define RENDER_FLAME_FILE "flamegraph.svg"
#define RENDER_TIMELINE_FILE "timeline.svg"
#define RENDER_PPROF_FILE "profile.pb.gz"
#define RENDER_HTML_FILE "report.html"
#define RENDER_DIFF_FLAME_FILE "diff-flamegraph.svg"
#define RENDER_DIFF_TEXT_FILE "diff.txt"

/* flags of the SVG renderers */
#define RENDER_SVG_INLINE 0x1   /* no XML prolog: to be inlined in an HTML page */
#define RENDER_SVG_FOCUS 0x2    /* flame graph: open on the cause, as with a verdict */

/* flamegraph.svg: an interactive off-CPU flame graph in flamegraph.pl's
 * conventions (root at the bottom, all;comm;user frames;kernel frames as in
 * profile.folded, siblings in alphabetical order), drawn with its own script:
 * click a frame to zoom (its ancestors stay, dimmed), click the root or
 * "Reset Zoom" to reset; "Search" (or Ctrl-F) highlights the frames matching
 * a regular expression and shows the share of the total they cover; each
 * frame's tooltip gives its name, milliseconds and percent. User frames are
 * blue, kernel frames teal, thread names grey. The children of a frame that
 * are narrower than 1 px are merged into one "[N frames under 1 px]" box (or
 * dropped when that is narrower too), like flamegraph.pl's --minwidth: the
 * SVG's size follows what can be seen, not the number of stacks. Widths are
 * time inside the window; the on-CPU samples (samples x period) stand under
 * an "[on-CPU]" frame, drawn warm. With a verdict whose kind is not "none"
 * (or RENDER_SVG_FOCUS), the graph opens on the cause (the abnormal waits and
 * the on-CPU sites), with "Idle waits" and "All" one click away; without,
 * it shows all. */
int render_flame(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		 const json_t *extra, unsigned int flags);

/* The differential flame graph of `stalltrap diff`: the frames of cd (the
 * incident) sized by its off-CPU time, coloured by the change of their time
 * per second of window against base: red grew, blue shrank, the deeper the
 * more, white unchanged. Tooltips give both rates in ms/s. */
int render_flame_diff(FILE *f, const struct capdata *base, const struct aggregate *base_agg,
		      const struct capdata *cd, const struct aggregate *agg, const json_t *extra);

/* diff.txt: the off-CPU time per second of window of both captures, then the
 * top_n functions (inclusive time, a function counted once per stack) and
 * the top_n call sites whose rate changed most, grew or shrank. */
int render_diff_text(FILE *f, const char *base_name, const struct capdata *base,
		     const struct aggregate *base_agg, const char *name, const struct capdata *cd,
		     const struct aggregate *agg, int top_n);

/* timeline.svg: the capture window on the x axis (the part before the
 * trigger shaded and the trigger instant marked when window.trigger_mono_ns
 * is set); one lane per thread saying when it was off-CPU and why (lock
 * wait: mmap_lock or another kernel lock; I/O: uninterruptible without a
 * lock; runnable: waiting for a CPU; sleep: the rest, futexes included), with
 * its on-CPU samples, its mmap_lock holds under it and the biggest
 * address-space operations labelled; the target's RSS underneath. Blocks are
 * drawn per pixel column (shade = share of the column), so the size does not
 * grow with the number of blocks. Threads of one comm with the same picture
 * and no holds share a lane, labelled with their count. */
int render_timeline(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		    const json_t *extra, unsigned int flags);

/* profile.pb.gz: gzipped pprof profile.proto. Sample types offcpu/nanoseconds
 * (the default) and count/count (blocks); one sample per (thread, user stack,
 * kernel stack) labelled pid, tid (numbers) and comm (the thread name);
 * locations leaf first; the capture's mappings with their build ids, plus
 * "[kernel.kallsyms]" for kernel frames; all with has_functions, so pprof
 * does not symbolize again; every drop counter as a "drop NAME=VALUE"
 * comment. The offcpu values add up to report.json's offcpu_total_ms. */
int render_pprof(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		 const json_t *extra);

/* report.html: one self-contained page (no network: styles, the SVGs and the
 * flame graph's script are inline): the verdict, the key figures, the
 * timeline, the flame graph (opening on the cause when there is a verdict),
 * the call sites by cause (the idle ones in a table of their own, folded
 * when there is a verdict), the drop counters and, when
 * extra has a "trigger" object, its fields and metric samples. */
int render_html(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		const json_t *extra);

/* CLOCK_REALTIME ns -> "2024-05-01T12:34:56.789Z" (RFC 3339, UTC, milliseconds). */
void render_rfc3339(int64_t real_ns, char *buf, size_t len);
/* report.json's "window" of cd: {start (RFC 3339), duration_s}; NULL when out of memory. */
json_t *render_window_json(const struct capdata *cd);

/* Writes every file of a capture directory: profile.folded and report.json
 * (as render_all), flamegraph.svg, timeline.svg, profile.pb.gz, report.html.
 * Returns 0, or a negative errno with a one-line reason in err naming the
 * file. */
int render_all_files(const char *dir, const struct capdata *cd, const struct aggregate *agg,
		     const json_t *extra, char *err, size_t errlen);

#endif /* STALLTRAP_RENDER_H */
