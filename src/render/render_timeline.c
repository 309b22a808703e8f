/* render_timeline.c: timeline.svg, what every thread did across the capture window, the lock holds, the trigger and the RSS.
 *
 * The picture is drawn per pixel column, not per block: each lane keeps, for
 * each column, how much of it each cause covered (a difference array makes
 * that O(1) per block, whatever its length), and draws runs of columns with
 * the same dominant cause and the same shade. The SVG's size thus depends on
 * the lanes and the width only, never on the number of blocks, holds or
 * samples. Only the TL_MAX_CANDIDATES most interesting threads (mmap_lock
 * holders, then lock waiters, then the most off-CPU) are looked at in detail;
 * identical ones share a lane; the first TL_MAX_LANES lanes are drawn and the
 * rest counted in a note.
 *
 * Tooltips are data-t attributes shown by a small script, not <title>
 * elements: Chromium loads a standalone SVG with thousands of <title>s in
 * tens of seconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"
#include "diagnose/classify.h"
#include "util/units.h"

#define TL_WIDTH 1200
#define TL_X0 200               /* plot left edge: lane labels to its left */
#define TL_X1 1185
#define TL_COLS 493             /* 2 px columns */
#define TL_COL_PX ((double)(TL_X1 - TL_X0) / TL_COLS)
#define TL_LANE_H 18
#define TL_OPS_H 13             /* row under a lane with named holds */
#define TL_BAR_H 11
#define TL_MAX_CANDIDATES 256   /* threads looked at column by column */
#define TL_MAX_LANES 40         /* lanes drawn */
#define TL_MAX_LABELS 12        /* holds labelled with their operation */
#define TL_SUB_CHARS 165        /* characters of a subtitle line */
#define TL_RSS_H 90
#define TL_RSS_PIDS 4           /* RSS curves drawn, one per process */
#define TL_DEFAULT_PERIOD_NS 10000000ULL /* on-CPU weight of a sample of unknown period */

enum tl_cat {
	CAT_LOCK, CAT_IO, CAT_RECLAIM, CAT_RUNNABLE, CAT_SLEEP, CAT_STOPPED, CAT_ONCPU, CAT_HOLD_W, CAT_HOLD_R, CAT__N
};
#define CAT_BARS CAT_ONCPU      /* off-CPU causes are 0 .. CAT_BARS - 1 */

static const char *const cat_colour[CAT__N] = {
	"#d62728", "#ff7f0e", "#8c564b", "#bcbd22", "#9ecae1", "#7f7f7f", "#2ca02c", "#4a1486", "#9e9ac8",
};
static const char *const cat_name[CAT__N] = {
	"lock wait", "I/O", "memory reclaim", "runnable", "sleep", "stopped", "on-CPU (sampled)",
	"mmap_lock write hold", "mmap_lock read hold",
};

/* A block's colour is its cause in the diagnosis (diagnose/classify.h), so
 * the picture and the verdict above it never disagree. A preemption inside a
 * thread's own busy run still waited for a CPU: runnable. */
static const uint8_t cause_cat[DIAG_CAUSE__COUNT] = {
	[DIAG_CAUSE_MMAP_LOCK] = CAT_LOCK, [DIAG_CAUSE_KERNEL_LOCK] = CAT_LOCK,
	[DIAG_CAUSE_APP_LOCK] = CAT_LOCK, [DIAG_CAUSE_MEMORY_RECLAIM] = CAT_RECLAIM,
	[DIAG_CAUSE_IO] = CAT_IO, [DIAG_CAUSE_RUNQUEUE] = CAT_RUNNABLE,
	[DIAG_CAUSE_LOOP_BLOCKED] = CAT_SLEEP, [DIAG_CAUSE_DEPENDENCY] = CAT_SLEEP,
	[DIAG_CAUSE_BUSY] = CAT_RUNNABLE, [DIAG_CAUSE_IDLE] = CAT_SLEEP,
	[DIAG_CAUSE_OTHER] = CAT_SLEEP, [DIAG_CAUSE_STOPPED] = CAT_STOPPED,
};

/* A thread looked at in detail. */
struct tl_cand {
	uint32_t thread;
	double full[CAT__N][TL_COLS + 1]; /* difference array of fully covered columns */
	double part[CAT__N][TL_COLS];     /* ns of partly covered columns; after
					   * cells(): ns covered in each column */
	uint8_t bar[TL_COLS], strip[TL_COLS]; /* cells: cat * 8 + level (1..4), 0 = nothing */
	uint32_t hash;
	uint32_t lane;          /* lane it is drawn in, or UINT32_MAX */
	bool has_holds;
};

struct tl_lane {
	uint32_t rep;           /* candidate drawn */
	uint32_t nthreads;
	uint32_t first_member;  /* candidates of the lane, chained by member_next */
	uint64_t lock_ns, offcpu_ns;
	bool has_ops;           /* some of its holds are named under it */
};

struct timeline {
	const struct capdata *cd;
	uint8_t *cause;         /* per block: enum diag_cause */
	uint64_t w0, w1;        /* window, CLOCK_MONOTONIC */
	double col_ns;
	uint64_t *lock_ns, *offcpu_ns, *hold_ns, *samples; /* per capdata thread */
	int32_t *cand_of;       /* capdata thread -> candidate, or -1 */
	struct tl_cand *cands;
	uint32_t *member_next;
	size_t ncands;
	struct tl_lane *lanes;
	size_t nlanes;
	uint32_t labels[TL_MAX_LABELS]; /* holds named, longest first */
	size_t nlabels;
};

static enum tl_cat block_cat(const struct timeline *t, size_t block)
{
	return t->cause[block] < DIAG_CAUSE__COUNT ? (enum tl_cat)cause_cat[t->cause[block]] : CAT_SLEEP;
}

static uint64_t span_end(uint64_t start, uint64_t dur)
{
	return sat_add(start, dur);
}

/* Adds [s, e) (CLOCK_MONOTONIC) to a candidate's coverage of cat. */
static void cover(struct timeline *t, struct tl_cand *c, enum tl_cat cat, uint64_t s, uint64_t e)
{
	double a, b, ca, cb;
	size_t i, j;

	if (s < t->w0)
		s = t->w0;
	if (e > t->w1)
		e = t->w1;
	if (e <= s)
		return;
	a = (double)(s - t->w0) / t->col_ns;
	b = (double)(e - t->w0) / t->col_ns;
	i = (size_t)a;
	j = (size_t)b;
	if (i >= TL_COLS)
		i = TL_COLS - 1;
	if (j >= TL_COLS) { /* ends at the window's end */
		j = TL_COLS;
	}
	if (i == j) {
		c->part[cat][i] += (double)(e - s);
		return;
	}
	ca = (double)(i + 1) - a; /* share of column i covered */
	if (ca > 0) /* a start rounded past the last column adds nothing */
		c->part[cat][i] += ca * t->col_ns;
	if (j > i + 1) {
		c->full[cat][i + 1] += 1;
		c->full[cat][j] -= 1;
	}
	if (j < TL_COLS) {
		cb = b - (double)j;
		c->part[cat][j] += cb * t->col_ns;
	}
}

/* Turns coverage into cells: the dominant cause of the column and its share
 * in quarters. A column where off-CPU blocks cover under a tenth shows the
 * on-CPU samples instead, if they cover a tenth. */
static void cells(struct timeline *t, struct tl_cand *c)
{
	double run[CAT__N] = { 0 }, cov[CAT__N];
	size_t i, k;

	for (i = 0; i < TL_COLS; i++) {
		double off = 0, best = 0, share;
		int cat = -1, level;

		for (k = 0; k < CAT__N; k++) {
			run[k] += c->full[k][i];
			cov[k] = run[k] * t->col_ns + c->part[k][i];
			c->part[k][i] = cov[k]; /* from here on: the column's whole coverage */
		}
		for (k = 0; k < CAT_BARS; k++) {
			off += cov[k];
			if (cov[k] > best) {
				best = cov[k];
				cat = (int)k;
			}
		}
		share = off / t->col_ns;
		if (share < 0.1) {
			share = cov[CAT_ONCPU] / t->col_ns;
			cat = share >= 0.1 ? CAT_ONCPU : -1;
		}
		level = (int)ceil((share > 1 ? 1 : share) * 4 - 1e-9);
		c->bar[i] = cat < 0 || level < 1 ? 0 : (uint8_t)(cat * 8 + level);

		share = (cov[CAT_HOLD_W] + cov[CAT_HOLD_R]) / t->col_ns;
		level = (int)ceil((share > 1 ? 1 : share) * 4 - 1e-9);
		cat = cov[CAT_HOLD_W] >= cov[CAT_HOLD_R] ? CAT_HOLD_W : CAT_HOLD_R;
		c->strip[i] = share <= 0 || level < 1 ? 0 : (uint8_t)(cat * 8 + level);
	}
}

/* ---- picking threads ---- */

static int cmp_interest(const void *a, const void *b, void *arg)
{
	const struct timeline *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (t->hold_ns[x] != t->hold_ns[y]) /* holders first, the longest first */
		return t->hold_ns[x] > t->hold_ns[y] ? -1 : 1;
	if (t->lock_ns[x] != t->lock_ns[y])
		return t->lock_ns[x] > t->lock_ns[y] ? -1 : 1;
	if (t->offcpu_ns[x] != t->offcpu_ns[y])
		return t->offcpu_ns[x] > t->offcpu_ns[y] ? -1 : 1;
	if (t->samples[x] != t->samples[y])
		return t->samples[x] > t->samples[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int pick_candidates(struct timeline *t)
{
	const struct capdata *cd = t->cd;
	size_t n = cd->nthreads, i, nactive = 0;
	uint32_t *order;

	t->lock_ns = calloc(n + 1, sizeof(uint64_t));
	t->offcpu_ns = calloc(n + 1, sizeof(uint64_t));
	t->hold_ns = calloc(n + 1, sizeof(uint64_t));
	t->samples = calloc(n + 1, sizeof(uint64_t));
	t->cand_of = malloc((n + 1) * sizeof(int32_t));
	order = malloc((n + 1) * sizeof(uint32_t));
	if (!t->lock_ns || !t->offcpu_ns || !t->hold_ns || !t->samples || !t->cand_of || !order) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];

		t->offcpu_ns[b->thread] = sat_add(t->offcpu_ns[b->thread], b->dur_ns);
		if (block_cat(t, i) == CAT_LOCK)
			t->lock_ns[b->thread] = sat_add(t->lock_ns[b->thread], b->dur_ns);
	}
	for (i = 0; i < cd->nholds; i++)
		t->hold_ns[cd->holds[i].thread] = sat_add(t->hold_ns[cd->holds[i].thread],
							  cd->holds[i].dur_ns | 1);
	for (i = 0; i < cd->nsamples; i++)
		t->samples[cd->samples[i].thread]++;
	for (i = 0; i < n; i++) {
		t->cand_of[i] = -1;
		if (t->offcpu_ns[i] || t->hold_ns[i] || t->samples[i])
			order[nactive++] = (uint32_t)i;
	}
	qsort_r(order, nactive, sizeof(*order), cmp_interest, t);
	t->ncands = nactive < TL_MAX_CANDIDATES ? nactive : TL_MAX_CANDIDATES;
	t->cands = calloc(t->ncands ? t->ncands : 1, sizeof(*t->cands));
	t->member_next = malloc((t->ncands ? t->ncands : 1) * sizeof(uint32_t));
	if (!t->cands || !t->member_next) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < t->ncands; i++) {
		t->cands[i].thread = order[i];
		t->cands[i].has_holds = t->hold_ns[order[i]] > 0;
		t->cands[i].lane = UINT32_MAX;
		t->cand_of[order[i]] = (int32_t)i;
	}
	free(order);
	return 0;
}

static void fill_coverage(struct timeline *t)
{
	const struct capdata *cd = t->cd;
	uint64_t period = cd->window.sample_period_ns ? cd->window.sample_period_ns
						      : TL_DEFAULT_PERIOD_NS;
	size_t i;

	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *b = &cd->blocks[i];
		int32_t c = t->cand_of[b->thread];

		if (c >= 0)
			cover(t, &t->cands[c], block_cat(t, i), b->start_ns, span_end(b->start_ns, b->dur_ns));
	}
	for (i = 0; i < cd->nholds; i++) {
		const struct cap_hold *h = &cd->holds[i];
		int32_t c = t->cand_of[h->thread];

		if (c >= 0)
			cover(t, &t->cands[c], h->mode == CAP_HOLD_WRITE || h->mode == CAP_HOLD_DOWNGRADED
				? CAT_HOLD_W : CAT_HOLD_R, h->start_ns, span_end(h->start_ns, h->dur_ns));
	}
	/* A sample stands for the period around it. */
	for (i = 0; i < cd->nsamples; i++) {
		const struct cap_sample *s = &cd->samples[i];
		int32_t c = t->cand_of[s->thread];

		if (c >= 0)
			cover(t, &t->cands[c], CAT_ONCPU, s->ts_ns > period / 2 ? s->ts_ns - period / 2 : 0,
			      span_end(s->ts_ns, period / 2));
	}
	for (i = 0; i < t->ncands; i++) {
		struct tl_cand *c = &t->cands[i];
		const char *comm = cd->threads[c->thread].comm;

		cells(t, c);
		c->hash = render_hash(c->bar, sizeof(c->bar), render_hash(comm, strlen(comm), 0));
	}
}

static bool same_picture(const struct timeline *t, const struct tl_cand *a, const struct tl_cand *b)
{
	const struct cap_thread *ta = &t->cd->threads[a->thread], *tb = &t->cd->threads[b->thread];

	return a->hash == b->hash && !a->has_holds && !b->has_holds && ta->outside == tb->outside &&
	       strcmp(ta->comm, tb->comm) == 0 && memcmp(a->bar, b->bar, sizeof(a->bar)) == 0;
}

/* Lanes in candidate order (most interesting first); a candidate joins the
 * first lane with the same picture. Quadratic in candidates, which are few. */
static int fold_lanes(struct timeline *t)
{
	size_t i, j;

	t->lanes = calloc(t->ncands ? t->ncands : 1, sizeof(*t->lanes));
	if (!t->lanes)
		return -ENOMEM;
	for (i = 0; i < t->ncands; i++) {
		struct tl_cand *c = &t->cands[i];
		struct tl_lane *l = NULL;

		for (j = 0; j < t->nlanes; j++) {
			if (same_picture(t, &t->cands[t->lanes[j].rep], c)) {
				l = &t->lanes[j];
				break;
			}
		}
		if (!l) {
			l = &t->lanes[t->nlanes++];
			l->rep = (uint32_t)i;
			l->first_member = UINT32_MAX;
		}
		c->lane = (uint32_t)(l - t->lanes);
		t->member_next[i] = l->first_member;
		l->first_member = (uint32_t)i;
		l->nthreads++;
		l->lock_ns = sat_add(l->lock_ns, t->lock_ns[c->thread]);
		l->offcpu_ns = sat_add(l->offcpu_ns, t->offcpu_ns[c->thread]);
	}
	return 0;
}

/* Whether a drawn lane has a column where category cat dominates. */
static bool shows_cat(const struct timeline *t, size_t nlanes, enum tl_cat cat)
{
	size_t i, k;

	for (i = 0; i < nlanes; i++) {
		const struct tl_cand *c = &t->cands[t->lanes[i].rep];

		for (k = 0; k < TL_COLS; k++) {
			if (c->bar[k] && c->bar[k] / 8 == cat)
				return true;
		}
	}
	return false;
}

static void timeline_release(struct timeline *t)
{
	free(t->cause);
	free(t->lock_ns);
	free(t->offcpu_ns);
	free(t->hold_ns);
	free(t->samples);
	free(t->cand_of);
	free(t->cands);
	free(t->member_next);
	free(t->lanes);
}

/* ---- drawing ---- */

static double xof(const struct timeline *t, uint64_t ns)
{
	if (ns < t->w0)
		ns = t->w0;
	if (ns > t->w1)
		ns = t->w1;
	return TL_X0 + (double)(ns - t->w0) / (double)(t->w1 - t->w0) * (TL_X1 - TL_X0);
}

/* Seconds from the reference instant (the trigger, else the window start). */
static double rel_s(const struct timeline *t, double ns_from_w0)
{
	uint64_t trig = t->cd->window.trigger_mono_ns;

	if (trig >= t->w0 && trig <= t->w1)
		return (ns_from_w0 - (double)(trig - t->w0)) / 1e9;
	return ns_from_w0 / 1e9;
}

static void draw_runs(FILE *f, const struct timeline *t, const struct tl_cand *c, const uint8_t *cells_,
		      double y, double h)
{
	size_t i = 0, j, k;

	while (i < TL_COLS) {
		uint8_t v = cells_[i];
		double ns = 0;
		int cat = v / 8, level = v % 8;

		for (j = i + 1; j < TL_COLS && cells_[j] == v; j++)
			;
		if (!v) {
			i = j;
			continue;
		}
		/* The time the cause covered over the run, for the tooltip. */
		for (k = i; k < j; k++)
			ns += c->part[cat][k];
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"",
			TL_X0 + (double)i * TL_COL_PX, y, (double)(j - i) * TL_COL_PX, h, cat_colour[cat]);
		if (level < 4)
			fprintf(f, " fill-opacity=\"%.2f\"", 0.25 * level + 0.1);
		fprintf(f, " data-t=\"%s: %.3f ms between %+.3f s and %+.3f s\"/>\n",
			cat_name[cat], ns / 1e6, rel_s(t, (double)i * t->col_ns),
			rel_s(t, (double)j * t->col_ns));
		i = j;
	}
}

static void lane_label(FILE *f, const struct timeline *t, const struct tl_lane *l, double y)
{
	const struct tl_cand *rep = &t->cands[l->rep];
	const struct cap_thread *th = &t->cd->threads[rep->thread];
	uint32_t m, shown = 0;

	fprintf(f, "<text class=\"stt-lane\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" data-t=\"", TL_X0 - 6,
		y + 10);
	for (m = l->first_member; m != UINT32_MAX && shown < 32; m = t->member_next[m], shown++) {
		const struct cap_thread *mt = &t->cd->threads[t->cands[m].thread];

		fprintf(f, "%s%" PRId32, shown ? ", " : "tid ", mt->tid);
	}
	if (shown < l->nthreads)
		fputs(", ...", f);
	fprintf(f, " (pid %" PRId32 "): %.3f ms off-CPU, %.3f ms in lock waits", th->pid,
		render_ms(l->offcpu_ns), render_ms(l->lock_ns));
	if (th->outside)
		fputs("; not of the target", f);
	fputs("\">", f);
	render_xml_put_fit(f, th->comm[0] ? th->comm : "[unknown]", 16);
	if (l->nthreads > 1)
		fprintf(f, " \xc3\x97%" PRIu32, l->nthreads);   /* "×N" */
	else
		fprintf(f, " %" PRId32, th->tid);
	if (th->outside)
		fputs(" (outside)", f);
	fputs("</text>\n", f);
}

static int cmp_hold_dur(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	const struct cap_hold *x = &cd->holds[*(const uint32_t *)a], *y = &cd->holds[*(const uint32_t *)b];

	if (x->dur_ns != y->dur_ns)
		return x->dur_ns > y->dur_ns ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Picks the holds to name: the TL_MAX_LABELS longest of drawn lanes that are
 * at least a pixel wide. Fills t->labels and marks their lanes, which get a
 * row under them for the names. */
static int pick_labels(struct timeline *t, size_t nlanes)
{
	const struct capdata *cd = t->cd;
	uint32_t *idx = malloc((cd->nholds ? cd->nholds : 1) * sizeof(uint32_t));
	size_t i, n = 0;

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < cd->nholds; i++) {
		int32_t c = t->cand_of[cd->holds[i].thread];

		if (c >= 0 && t->cands[c].lane < nlanes)
			idx[n++] = (uint32_t)i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_hold_dur, (void *)cd);
	for (i = 0; i < n && t->nlabels < TL_MAX_LABELS; i++) {
		const struct cap_hold *h = &cd->holds[idx[i]];

		if (xof(t, span_end(h->start_ns, h->dur_ns)) - xof(t, h->start_ns) < 1)
			break;
		t->labels[t->nlabels++] = idx[i];
		t->lanes[t->cands[t->cand_of[h->thread]].lane].has_ops = true;
	}
	free(idx);
	return 0;
}

/* Outlines the named holds in their lane's hold strip and names them in the
 * row under it with the verdict's words: "mmap 3.0 GiB MAP_POPULATE, 1.2 s". */
static void draw_labels(FILE *f, const struct timeline *t, const double *lane_y)
{
	const struct capdata *cd = t->cd;
	size_t i;

	for (i = 0; i < t->nlabels; i++) {
		const struct cap_hold *h = &cd->holds[t->labels[i]];
		const struct cap_thread *th = &cd->threads[h->thread];
		double x = xof(t, h->start_ns), x2 = xof(t, span_end(h->start_ns, h->dur_ns));
		double y = lane_y[t->cands[t->cand_of[h->thread]].lane];
		const char *mode = h->mode == CAP_HOLD_READ ? "read" : h->mode == CAP_HOLD_WRITE ? "write"
										  : "write (downgraded)";
		struct diag_holdop op;
		char dur[32], text[sizeof(op.op) + sizeof(dur) + 2];
		double tw;

		units_fmt_dur(dur, sizeof(dur), h->dur_ns);
		diagnose_hold_op(cd, h, 1, &op);
		snprintf(text, sizeof(text), "%s, %s", op.op, dur);
		fprintf(f, "<rect class=\"stt-op\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" data-t=\""
			"mmap_lock %s hold by ", x, y + TL_BAR_H + 2, x2 - x, TL_LANE_H - TL_BAR_H - 2, mode);
		render_xml_put(f, th->comm);
		/* the operation may name a thread outside the target: escaped */
		fprintf(f, " %" PRId32 ": %s in ", th->tid, dur);
		render_xml_put(f, op.op);
		fprintf(f, ", from %+.3f s%s\"/>\n",
			rel_s(t, h->start_ns > t->w0 ? (double)(h->start_ns - t->w0) : 0),
			h->flags & CAP_BLOCK_IN_PROGRESS ? " (still held at the end)" : "");
		/* A bracket under the hold, the name from its start (or ending at
		 * its end when it would run off the plot). */
		tw = 6.0 * (double)render_utf8_chars(text);
		fprintf(f, "<path class=\"stt-bracket\" d=\"M%.1f %.1fv3H%.1fv-3\"/>"
			"<text class=\"stt-oplabel\" x=\"%.1f\" y=\"%.1f\"%s>",
			x, y + TL_LANE_H - 1, x2, x + tw > TL_X1 ? x2 : x, y + TL_LANE_H + TL_OPS_H - 2,
			x + tw > TL_X1 ? " text-anchor=\"end\"" : "");
		render_xml_put(f, text);
		fputs("</text>\n", f);
	}
}

static double nice_step(double span_s)
{
	static const double steps[] = { 1, 2, 5 };
	double mag = pow(10, floor(log10(span_s / 8)));
	size_t i;

	for (i = 0; i < 3; i++) {
		if (span_s / (steps[i] * mag) <= 10)
			return steps[i] * mag;
	}
	return 10 * mag;
}

static void draw_axis(FILE *f, const struct timeline *t, double top, double bottom)
{
	double span = (double)(t->w1 - t->w0) / 1e9, step = nice_step(span);
	double first = rel_s(t, 0), last = rel_s(t, (double)(t->w1 - t->w0));
	double v;

	for (v = ceil(first / step) * step; v <= last + step * 1e-9; v += step) {
		double x = TL_X0 + (v - first) / span * (TL_X1 - TL_X0);

		fprintf(f, "<line class=\"stt-grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"stt-tick\" x=\"%.1f\" y=\"%.1f\">%s%g s</text>\n",
			x, top, x, bottom, x, bottom + 13, v > 0 && first < 0 ? "+" : "",
			fabs(v) < step * 1e-6 ? 0.0 : v);
	}
}

static void draw_rss(FILE *f, const struct timeline *t, double top)
{
	static const char *const colours[TL_RSS_PIDS] = { "#08519c", "#a63603", "#006d2c", "#54278f" };
	const struct capdata *cd = t->cd;
	int32_t pids[TL_RSS_PIDS];
	size_t npids = 0, i, p;
	uint64_t max = 0, cols = TL_X1 - TL_X0;
	char b1[32];

	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->rss_bytes > max)
			max = m->rss_bytes;
		for (p = 0; p < npids && pids[p] != m->pid; p++)
			;
		if (p == npids && npids < TL_RSS_PIDS)
			pids[npids++] = m->pid;
	}
	fprintf(f, "<rect class=\"stt-panel\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\"/>\n",
		TL_X0, top, TL_X1 - TL_X0, TL_RSS_H);
	units_fmt_bytes(b1, sizeof(b1), max);
	fprintf(f, "<text class=\"stt-lane\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">RSS</text>"
		"<text class=\"stt-tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>"
		"<text class=\"stt-tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>\n",
		TL_X0 - 6, top + TL_RSS_H / 2.0, TL_X0 - 6, top + 10, max ? b1 : "",
		TL_X0 - 6, top + TL_RSS_H);
	if (!max) {
		fprintf(f, "<text class=\"stt-tick\" x=\"%d\" y=\"%.1f\">no memory samples in this capture</text>\n",
			TL_X0 + 8, top + TL_RSS_H / 2.0);
		return;
	}
	for (p = 0; p < npids; p++) {
		/* The highest RSS seen in each pixel column: a spike must not vanish. */
		uint64_t col_max[TL_X1 - TL_X0];
		bool seen[TL_X1 - TL_X0] = { false };
		uint64_t first_rss = 0, last_rss = 0;
		bool any = false;
		size_t col;

		memset(col_max, 0, sizeof(col_max));
		for (i = 0; i < cd->nmem; i++) {
			const struct cap_mem *m = &cd->mem[i];

			if (m->pid != pids[p] || m->ts_ns < t->w0 || m->ts_ns > t->w1)
				continue;
			col = (size_t)((double)(m->ts_ns - t->w0) / (double)(t->w1 - t->w0) * (double)cols);
			if (col >= cols)
				col = cols - 1;
			if (!seen[col] || m->rss_bytes > col_max[col])
				col_max[col] = m->rss_bytes;
			seen[col] = true;
		}
		fprintf(f, "<polyline class=\"stt-rss\" stroke=\"%s\" points=\"", colours[p]);
		for (col = 0; col < cols; col++) {
			if (!seen[col])
				continue;
			if (!any)
				first_rss = col_max[col];
			last_rss = col_max[col];
			fprintf(f, "%s%zu,%.1f", any ? " " : "", TL_X0 + col,
				top + TL_RSS_H - (double)col_max[col] / (double)max * (TL_RSS_H - 12));
			any = true;
		}
		fprintf(f, "\" data-t=\"RSS of pid %" PRId32 "\"/>\n", pids[p]);
		if (any) {
			char b2[32];

			units_fmt_bytes(b1, sizeof(b1), first_rss);
			units_fmt_bytes(b2, sizeof(b2), last_rss);
			fprintf(f, "<text class=\"stt-tick\" x=\"%d\" y=\"%.1f\" fill=\"%s\">pid %" PRId32
				": %s \xe2\x86\x92 %s</text>\n", TL_X0 + 6, top + 12 + 12.0 * (double)p,
				colours[p], pids[p], b1, b2);
		}
	}
}

static const char timeline_css[] =
	".stt text{font-family:Verdana,DejaVu Sans,sans-serif;font-size:11px;fill:#222}"
	".stt .stt-head{font-size:17px;text-anchor:middle}"
	".stt .stt-sub{font-size:12px;text-anchor:middle;fill:#333}"
	".stt .stt-tick{font-size:10px;fill:#555}"
	".stt .stt-lane{font-size:11px}"
	".stt .stt-grid{stroke:#ddd;stroke-width:1}"
	".stt .stt-lanebg{fill:#f4f4f4}"
	".stt .stt-panel{fill:#f7f7f7;stroke:#ccc}"
	".stt .stt-pre{fill:#fff1cc}"
	".stt .stt-trigger{stroke:#c00;stroke-width:2;stroke-dasharray:5 3}"
	".stt .stt-rss{fill:none;stroke-width:2}"
	".stt .stt-op{fill:none;stroke:#000;stroke-width:1}"
	".stt .stt-oplabel{font-size:10px;font-weight:bold}"
	".stt .stt-bracket{fill:none;stroke:#000;stroke-width:1}";

/* Memory reclaim and stopped threads are named only in pictures that show some. */
static void draw_legend(FILE *f, double y, bool trigger, bool reclaim, bool stopped)
{
	static const int order[] = {
		CAT_LOCK, CAT_IO, CAT_RECLAIM, CAT_RUNNABLE, CAT_SLEEP, CAT_STOPPED, CAT_ONCPU, CAT_HOLD_W, CAT_HOLD_R,
	};
	double x = TL_X0;
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((order[i] == CAT_RECLAIM && !reclaim) || (order[i] == CAT_STOPPED && !stopped))
			continue;
		fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", x, y - 9, cat_colour[order[i]], x + 14, y,
			cat_name[order[i]]);
		x += 28 + 6.2 * (double)strlen(cat_name[order[i]]);
	}
	if (trigger)
		fprintf(f, "<rect class=\"stt-pre\" x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">pre-trigger</text>\n", x, y - 9, x + 14, y);
}

int render_timeline(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		    const json_t *extra, unsigned int flags)
{
	struct timeline t = { .cd = cd };
	const char *verdict = render_verdict_summary(extra);
	uint64_t trig = cd->window.trigger_mono_ns, hidden_ns = 0;
	size_t nlanes, i, hidden_threads = 0;
	double legend_y, lanes_top, lanes_bottom, rss_top, height, tx = 0;
	double lane_y[TL_MAX_LANES];
	bool has_trigger;
	int err;

	t.w0 = cd->window.start_mono_ns;
	t.w1 = span_end(t.w0, cd->window.duration_ns);
	if (t.w1 <= t.w0) {
		/* No window length: span the blocks instead. */
		for (i = 0; i < cd->nblocks; i++) {
			uint64_t e = span_end(cd->blocks[i].start_ns, cd->blocks[i].dur_ns);

			t.w1 = e > t.w1 ? e : t.w1;
		}
		if (t.w1 <= t.w0)
			t.w1 = t.w0 + 1000000000ULL;
	}
	t.col_ns = (double)(t.w1 - t.w0) / TL_COLS;
	has_trigger = trig >= t.w0 && trig <= t.w1 && trig != 0;

	t.cause = malloc(cd->nblocks ? cd->nblocks : 1);
	err = t.cause ? diagnose_classify(cd, t.cause) : -ENOMEM;
	if (!err)
		err = pick_candidates(&t);
	if (!err) {
		fill_coverage(&t);
		err = fold_lanes(&t);
	}
	if (err)
		goto cleanup;
	nlanes = t.nlanes < TL_MAX_LANES ? t.nlanes : TL_MAX_LANES;
	for (i = 0; i < agg->nthreads; i++) {
		int32_t c = t.cand_of[agg->threads[i].thread];

		if (agg->threads[i].offcpu_ns && (c < 0 || t.cands[c].lane >= nlanes)) {
			hidden_threads++;
			hidden_ns = sat_add(hidden_ns, agg->threads[i].offcpu_ns);
		}
	}

	err = pick_labels(&t, nlanes);
	if (err)
		goto cleanup;
	legend_y = 46 + 18 * (double)render_svg_subtitle_lines(verdict, TL_SUB_CHARS);
	lanes_top = legend_y + 16;
	lanes_bottom = lanes_top;
	for (i = 0; i < nlanes; i++) {
		lane_y[i] = lanes_bottom;
		lanes_bottom += TL_LANE_H + (t.lanes[i].has_ops ? TL_OPS_H : 0);
	}
	if (!nlanes)
		lanes_bottom += TL_LANE_H;
	rss_top = lanes_bottom + 24;
	height = rss_top + TL_RSS_H + (hidden_threads ? 34 : 14);

	if (!(flags & RENDER_SVG_INLINE))
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", f);
	fprintf(f, "<svg version=\"1.1\" class=\"stt\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\" data-lanes=\"%zu\">\n<style>%s</style>\n",
		TL_WIDTH, height, TL_WIDTH, height, nlanes, timeline_css);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
	fprintf(f, "<text class=\"stt-head\" x=\"%d\" y=\"24\">Timeline: ", TL_WIDTH / 2);
	render_xml_put_fit(f, cd->target.comm ? cd->target.comm : "target", 64);
	fprintf(f, ", %.3f s window", (double)(t.w1 - t.w0) / 1e9);
	if (has_trigger)
		fprintf(f, ", trigger at %+.3f s", (double)(trig - t.w0) / 1e9);
	fputs("</text>\n", f);
	if (verdict && render_svg_subtitle(f, "stt-sub", TL_WIDTH / 2, 46, 16, verdict, TL_SUB_CHARS) < 0) {
		err = -ENOMEM;
		goto cleanup;
	}
	draw_legend(f, legend_y, has_trigger, shows_cat(&t, nlanes, CAT_RECLAIM), shows_cat(&t, nlanes, CAT_STOPPED));

	if (has_trigger) {
		tx = xof(&t, trig);
		fprintf(f, "<rect class=\"stt-pre\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
			"<desc>before the trigger</desc></rect>\n", TL_X0, lanes_top, tx - TL_X0,
			rss_top + TL_RSS_H - lanes_top);
	}
	for (i = 0; i < nlanes; i++) {
		double y = lane_y[i];

		fprintf(f, "<rect class=\"stt-lanebg\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" "
			"fill-opacity=\"0.6\"/>\n", TL_X0, y + 1, TL_X1 - TL_X0, TL_LANE_H - 2);
	}
	draw_axis(f, &t, lanes_top, lanes_bottom);
	if (!nlanes)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">no thread was seen off-CPU, holding the lock or on-CPU</text>\n",
			TL_X0 + 8, lanes_top + 12);
	for (i = 0; i < nlanes; i++) {
		const struct tl_lane *l = &t.lanes[i];
		const struct tl_cand *c = &t.cands[l->rep];
		double y = lane_y[i];

		lane_label(f, &t, l, y);
		draw_runs(f, &t, c, c->bar, y + 2, TL_BAR_H);
		draw_runs(f, &t, c, c->strip, y + 2 + TL_BAR_H + 1, TL_LANE_H - TL_BAR_H - 4);
	}
	draw_labels(f, &t, lane_y);
	draw_rss(f, &t, rss_top);
	if (has_trigger)
		fprintf(f, "<line class=\"stt-trigger\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" font-weight=\"bold\">trigger</text>"
			"<text class=\"stt-tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">pre-trigger</text>\n",
			tx, lanes_top - 4, tx, rss_top + TL_RSS_H, tx + 4, lanes_top - 4, tx - 4, lanes_top - 4);
	if (hidden_threads)
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">+ %zu more threads with %.3f ms off-CPU in all, not drawn "
			"(lanes go to lock holders, lock waiters, then the most off-CPU)</text>\n",
			TL_X0, rss_top + TL_RSS_H + 24, hidden_threads, render_ms(hidden_ns));
	fprintf(f, "<script type=\"text/javascript\"><![CDATA[\n%s]]></script>\n</svg>\n", render_tooltip_js);
	err = ferror(f) ? -EIO : 0;
cleanup:
	timeline_release(&t);
	return err;
}
