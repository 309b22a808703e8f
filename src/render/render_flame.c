/* render_flame.c: flamegraph.svg, the interactive off-CPU flame graph, and the differential one of `stalltrap diff`.
 *
 * The call sites are merged into a tree keyed by frame *name* (a function
 * shows up at many pcs; flamegraph.pl merges by name too), then laid out
 * root at the bottom, siblings in alphabetical order. Frames narrower than
 * FLAME_MIN_WIDTH_PX are not drawn one by one: the narrow children of a frame
 * are merged into one "[N frames under 1 px]" box at its end (dropped too
 * when even that is narrower), so the SVG grows with what can be seen, not
 * with the number of stacks. Each drawn frame carries its position in
 * billionths of the total (data-x, data-w) so that the script can zoom
 * exactly. The name and figures of a frame are in its data-t attribute
 * (shown as a tooltip by the script) and in the fitted <text>: not in
 * <title> elements, which make Chromium take tens of seconds to load a
 * standalone SVG of 20k frames (a few hundred ms with attributes).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"
#include "util/units.h"

#define FLAME_MAX_NODES (1u << 24)      /* tree nodes: bounds memory for any input */
#define FLAME_WIDTH 1200                /* px, flamegraph.pl's default */
#define FLAME_PAD 10                    /* px left and right of the frames */
#define FLAME_FRAME_H 16                /* px per stack level */
#define FLAME_FONT_PX 12
#define FLAME_CHAR_W (FLAME_FONT_PX * 0.59) /* average Verdana glyph width */
#define FLAME_MIN_WIDTH_PX 1.0          /* narrower frames are merged */
#define FLAME_MAX_BYTES (4u << 20)      /* frames' share of the SVG, roughly */
#define FLAME_SUB_CHARS 165             /* characters of a subtitle line */
#define FLAME_UNITS 1e9                 /* data-x / data-w: billionths of the total */
#define NO_NODE UINT32_MAX

/* TAG_ONCPU: the "[on-CPU]" frame over the on-CPU sites; TAG_OUSER and
 * TAG_OKERNEL: their frames, drawn warm, apart from the off-CPU ones. */
enum flame_tag { TAG_ROOT, TAG_COMM, TAG_USER, TAG_KERNEL, TAG_MERGED, TAG_ONCPU, TAG_OUSER, TAG_OKERNEL };
#define FLAME_ONCPU_NAME "[on-CPU]"

struct flame_node {
	uint32_t parent, name;  /* name: strtab id; its tag is the node's kind */
	uint32_t depth;
	uint64_t val;           /* ns: the profile (the incident, for a diff) */
	uint64_t base;          /* ns: the baseline of a diff */
};

struct flame {
	struct render_strtab names;
	struct flame_node *nodes;
	size_t n, cap;
	struct htab children;   /* (parent, name) -> node; every node but the root */
	uint32_t *kids, *kid_start; /* children, sorted by name, as ranges */
	uint32_t max_depth;
	/* per capdata being added: frame id -> name id (NO_NODE: not yet
	 * interned), off-CPU frames then on-CPU frames (2 x nframes) */
	uint32_t *frame_names;
	size_t nframes;
};

/* What to draw and how, for the plain and the differential graph. */
struct flame_view {
	bool diff, inline_svg;
	double val_s, base_s;   /* window seconds of the profile and the baseline */
	const char *title;
	const char *subtitle;   /* the verdict, or NULL */
	double min_width_px;
};

struct node_key {
	uint32_t parent, name;
};

static bool node_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct flame *fl = ctx;
	const struct node_key *k = key;

	return fl->nodes[id].parent == k->parent && fl->nodes[id].name == k->name;
}

static int64_t flame_new_node(struct flame *fl, uint32_t parent, uint32_t name)
{
	struct flame_node *nd;

	if (fl->n >= FLAME_MAX_NODES)
		return -E2BIG;
	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? fl->cap * 2 : 4096;

		nd = realloc(fl->nodes, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		fl->nodes = nd;
		fl->cap = cap;
	}
	nd = &fl->nodes[fl->n];
	memset(nd, 0, sizeof(*nd));
	nd->parent = parent;
	nd->name = name;
	nd->depth = parent == NO_NODE ? 0 : fl->nodes[parent].depth + 1;
	if (nd->depth > fl->max_depth)
		fl->max_depth = nd->depth;
	return (int64_t)fl->n++;
}

/* The child of parent named name, created if absent. */
static int64_t flame_child(struct flame *fl, uint32_t parent, uint32_t name)
{
	struct node_key k = { .parent = parent, .name = name };
	uint64_t h = htab_hash_u64(HTAB_HASH_SEED, (uint64_t)parent << 32 | name);
	int64_t id = htab_find(&fl->children, h, node_eq, fl, &k);
	int err;

	if (id >= 0)
		return id;
	id = flame_new_node(fl, parent, name);
	if (id < 0)
		return id;
	err = htab_insert(&fl->children, h, (uint32_t)id);
	if (err) {
		fl->n--; /* not findable: take it back */
		return err;
	}
	return id;
}

static int flame_init(struct flame *fl)
{
	int64_t id;

	memset(fl, 0, sizeof(*fl));
	htab_init(&fl->children, FLAME_MAX_NODES);
	id = render_strtab_intern(&fl->names, "all", TAG_ROOT);
	if (id < 0)
		return (int)id;
	id = flame_new_node(fl, NO_NODE, (uint32_t)id);
	return id < 0 ? (int)id : 0;
}

static void flame_release(struct flame *fl)
{
	render_strtab_release(&fl->names);
	free(fl->nodes);
	htab_release(&fl->children);
	free(fl->kids);
	free(fl->kid_start);
	free(fl->frame_names);
	memset(fl, 0, sizeof(*fl));
}

static void add_weight(struct flame_node *nd, uint64_t ns, bool base)
{
	if (base)
		nd->base = sat_add(nd->base, ns);
	else
		nd->val = sat_add(nd->val, ns);
}

static int64_t frame_name_id(struct flame *fl, const struct capdata *cd, uint32_t frame, bool oncpu)
{
	const struct cap_frame *fr = &cd->frames[frame];
	uint32_t *cache = &fl->frame_names[frame + (oncpu ? fl->nframes : 0)];
	uint8_t tag = fr->kernel ? (oncpu ? TAG_OKERNEL : TAG_KERNEL) : (oncpu ? TAG_OUSER : TAG_USER);
	int64_t id;

	if (*cache != NO_NODE)
		return *cache;
	/* As in profile.folded, an empty name reads [unknown]. */
	id = render_strtab_intern(&fl->names, fr->name[0] ? fr->name : "[unknown]", tag);
	if (id >= 0)
		*cache = (uint32_t)id;
	return id;
}

static int add_stack(struct flame *fl, const struct capdata *cd, uint32_t stack,
		     uint32_t *node, uint64_t ns, bool base, bool oncpu)
{
	const struct cap_stack *s = &cd->stacks[stack];
	uint32_t i;

	for (i = 0; i < s->nframes; i++) {
		int64_t name = frame_name_id(fl, cd, s->frames[i], oncpu), id;

		if (name < 0)
			return (int)name;
		id = flame_child(fl, *node, (uint32_t)name);
		if (id < 0)
			return (int)id;
		*node = (uint32_t)id;
		add_weight(&fl->nodes[*node], ns, base);
	}
	return 0;
}

static int flame_frames_reset(struct flame *fl, const struct capdata *cd)
{
	size_t n = 2 * (cd->nframes ? cd->nframes : 1);

	free(fl->frame_names);
	fl->nframes = cd->nframes;
	fl->frame_names = malloc(n * sizeof(uint32_t));
	if (!fl->frame_names)
		return -ENOMEM;
	memset(fl->frame_names, 0xff, n * sizeof(uint32_t));
	return 0;
}

/* The child of *node named name (tag), weighted with ns; *node becomes it. */
static int add_named(struct flame *fl, uint32_t *node, const char *name, uint8_t tag, uint64_t ns,
		     bool base)
{
	int64_t nm = render_strtab_intern(&fl->names, name[0] ? name : "[unknown]", tag), id;

	if (nm < 0)
		return (int)nm;
	id = flame_child(fl, *node, (uint32_t)nm);
	if (id < 0)
		return (int)id;
	*node = (uint32_t)id;
	add_weight(&fl->nodes[*node], ns, base);
	return 0;
}

/* One call site: all;comm;user frames;kernel frames as in profile.folded,
 * or all;[on-CPU];comm;... for an on-CPU one. comm is borrowed: it must
 * outlive fl, as must cd's names. */
static int add_site(struct flame *fl, const struct capdata *cd, const char *comm, uint32_t ustack,
		    uint32_t kstack, uint64_t ns, bool base, bool oncpu)
{
	uint32_t node = 0;
	int err = 0;

	add_weight(&fl->nodes[0], ns, base);
	if (oncpu)
		err = add_named(fl, &node, FLAME_ONCPU_NAME, TAG_ONCPU, ns, base);
	if (!err)
		err = add_named(fl, &node, comm, TAG_COMM, ns, base);
	if (!err && render_shows_ustack(cd, ustack))
		err = add_stack(fl, cd, ustack, &node, ns, base, oncpu);
	if (!err && kstack < cd->nstacks)
		err = add_stack(fl, cd, kstack, &node, ns, base, oncpu);
	return err;
}

/* Adds every call site of agg by its time inside the window (the diff's
 * graph). base: count it as the baseline of a diff. */
static int flame_add(struct flame *fl, const struct capdata *cd, const struct aggregate *agg,
		     bool base)
{
	size_t i;
	int err = flame_frames_reset(fl, cd);

	for (i = 0; !err && i < agg->nentries; i++) {
		const struct agg_entry *en = &agg->entries[i];

		err = add_site(fl, cd, en->comm, en->ustack, en->kstack, en->window_ns, base, false);
	}
	return err;
}

/* Adds the sites of ss whose group is in groups (a mask of 1 << enum render_group). */
static int flame_add_sites(struct flame *fl, const struct capdata *cd, const struct render_sites *ss,
			   unsigned int groups)
{
	size_t i;
	int err = flame_frames_reset(fl, cd);

	for (i = 0; !err && i < ss->n; i++) {
		const struct render_site *st = &ss->v[i];

		if (groups & (1u << st->group))
			err = add_site(fl, cd, st->comm, st->ustack, st->kstack, st->ns, false, st->oncpu);
	}
	return err;
}

static int cmp_kids(const void *a, const void *b, void *arg)
{
	const struct flame *fl = arg;
	uint32_t na = fl->nodes[*(const uint32_t *)a].name, nb = fl->nodes[*(const uint32_t *)b].name;
	int c = strcmp(fl->names.strs[na], fl->names.strs[nb]);

	if (c)
		return c;
	return (int)fl->names.tags[na] - (int)fl->names.tags[nb];
}

/* Children of every node as ranges of kids[], each sorted by name. */
static int flame_index(struct flame *fl)
{
	size_t i;

	fl->kid_start = calloc(fl->n + 1, sizeof(uint32_t));
	fl->kids = malloc((fl->n ? fl->n : 1) * sizeof(uint32_t));
	if (!fl->kid_start || !fl->kids)
		return -ENOMEM;
	for (i = 1; i < fl->n; i++)
		fl->kid_start[fl->nodes[i].parent + 1]++;
	for (i = 0; i < fl->n; i++)
		fl->kid_start[i + 1] += fl->kid_start[i];
	/* Fill using kid_start[p] as a cursor, then shift back. */
	for (i = 1; i < fl->n; i++)
		fl->kids[fl->kid_start[fl->nodes[i].parent]++] = (uint32_t)i;
	for (i = fl->n; i > 0; i--)
		fl->kid_start[i] = fl->kid_start[i - 1];
	fl->kid_start[0] = 0;
	for (i = 0; i < fl->n; i++) {
		uint32_t b = fl->kid_start[i], e = fl->kid_start[i + 1];

		if (e - b > 1)
			qsort_r(fl->kids + b, e - b, sizeof(uint32_t), cmp_kids, fl);
	}
	return 0;
}

/* ---- layout and drawing ---- */

struct walk_ent {
	uint32_t node, depth;
	uint32_t ki;            /* next child, as an index into kids[] */
	uint64_t cx;            /* where the next wide child starts */
	uint64_t nval, nbase;   /* narrow children so far */
	uint32_t ncount;
};

struct drawn {
	const char *name;       /* NULL for a merged box */
	uint8_t tag;
	uint32_t depth, merged;
	uint64_t x, val, base;
};

struct draw_ctx {
	FILE *f;                /* NULL: measuring pass */
	const struct flame *fl;
	const struct flame_view *v;
	double px_per_ns;
	uint32_t max_depth;     /* measured: deepest drawn level */
	double max_delta;       /* measured: largest |rate change| (diff) */
	size_t frames;          /* measured: frames drawn */
	size_t bytes;           /* measured: about what they take in the SVG */
	double min_width_px;    /* narrower frames are merged */
	unsigned int plot_top;
};

static double rate(uint64_t ns, double s)
{
	return (double)ns / 1e6 / s; /* ms per second of window */
}

static void frame_colour(const struct draw_ctx *c, const struct drawn *d, char *buf, size_t len)
{
	uint32_t h;
	double a, b, t, delta;
	int r, g, bl;

	if (c->v->diff && d->tag != TAG_ROOT) {
		delta = rate(d->val, c->v->val_s) - rate(d->base, c->v->base_s);
		t = c->max_delta > 0 ? fabs(delta) / c->max_delta : 0;
		if (t > 1)
			t = 1;
		/* Red grew, blue shrank, the stronger the more; white is unchanged. */
		int fade = (int)lround(235 - 185 * t);
		if (delta > 0)
			snprintf(buf, len, "#ff%02x%02x", fade, fade);
		else if (delta < 0)
			snprintf(buf, len, "#%02x%02xff", fade, fade);
		else
			snprintf(buf, len, "#ebebeb");
		return;
	}
	switch (d->tag) {
	case TAG_ROOT: snprintf(buf, len, "#b8bcc8"); return;
	case TAG_MERGED: snprintf(buf, len, "#d8d8d8"); return;
	case TAG_ONCPU: snprintf(buf, len, "#e0502a"); return;
	default: break;
	}
	/* The same name gets the same colour in every graph. */
	h = render_hash(d->name, strlen(d->name), 0);
	a = (double)(h & 0xffff) / 65536.0;
	b = (double)(h >> 16) / 65536.0;
	if (d->tag == TAG_COMM) {         /* threads: slate grey */
		r = 130 + (int)(25 * a); g = 150 + (int)(25 * a); bl = 170 + (int)(25 * b);
	} else if (d->tag == TAG_KERNEL) { /* kernel: teal, cool like the rest */
		r = 40 + (int)(60 * a); g = 165 + (int)(45 * b); bl = 160 + (int)(40 * a);
	} else if (d->tag == TAG_OUSER) {  /* on-CPU: warm, as CPU flame graphs are */
		r = 225 + (int)(30 * a); g = 100 + (int)(60 * b); bl = 40 + (int)(30 * a);
	} else if (d->tag == TAG_OKERNEL) {
		r = 225 + (int)(30 * a); g = 175 + (int)(40 * b); bl = 60 + (int)(30 * a);
	} else {                           /* user: off-CPU blue */
		r = 70 + (int)(60 * a); g = 110 + (int)(60 * a); bl = 205 + (int)(45 * b);
	}
	snprintf(buf, len, "#%02x%02x%02x", r, g, bl);
}

static void put_ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%.3f ms", render_ms(ns));
}

static void frame_info(const struct draw_ctx *c, const struct drawn *d, uint64_t total)
{
	FILE *f = c->f;

	if (c->v->diff) {
		double now = rate(d->val, c->v->val_s), was = rate(d->base, c->v->base_s);

		fprintf(f, "%.3f ms/s (base %.3f ms/s, %+.3f ms/s", now, was, now - was);
		if (was > 0)
			fprintf(f, ", %+.1f%%)", (now - was) / was * 100);
		else
			fputs(", new)", f);
		return;
	}
	put_ms(f, d->val);
	fprintf(f, ", %.2f%%", total ? (double)d->val * 100.0 / (double)total : 0.0);
	if (d->tag == TAG_KERNEL)
		fputs(", kernel", f);
	else if (d->tag == TAG_COMM)
		fputs(", thread name", f);
	else if (d->tag == TAG_OKERNEL)
		fputs(", kernel, on-CPU", f);
	else if (d->tag == TAG_OUSER || d->tag == TAG_ONCPU)
		fputs(", on-CPU", f);
}

static void draw(struct draw_ctx *c, const struct drawn *d)
{
	const struct flame_node *root = &c->fl->nodes[0];
	double x = FLAME_PAD + (double)d->x * c->px_per_ns, w = (double)d->val * c->px_per_ns;
	double ux = round((double)d->x / (double)root->val * FLAME_UNITS);
	double uw = round((double)(d->x + d->val) / (double)root->val * FLAME_UNITS) - ux;
	unsigned int y;
	char colour[16], merged[64];
	const char *name = d->name;
	FILE *f = c->f;

	c->frames++;
	if (!f) {
		size_t len = name ? strlen(name) : 24;
		double fit = (w - 6) / FLAME_CHAR_W;

		c->bytes += 160 + len + (fit >= 3 ? (fit < (double)len ? (size_t)fit : len) : 0);
	}
	if (d->depth > c->max_depth)
		c->max_depth = d->depth;
	if (c->v->diff && d->tag != TAG_ROOT) {
		double delta = fabs(rate(d->val, c->v->val_s) - rate(d->base, c->v->base_s));

		if (delta > c->max_delta)
			c->max_delta = delta;
	}
	if (!f)
		return;
	if (!name) {
		snprintf(merged, sizeof(merged), "[%" PRIu32 " frames under %g px]", d->merged,
			 c->min_width_px);
		name = merged;
	}
	y = c->plot_top + (c->max_depth - d->depth) * FLAME_FRAME_H;
	frame_colour(c, d, colour, sizeof(colour));
	fprintf(f, "<g data-x=\"%.0f\" data-w=\"%.0f\" data-t=\"", ux, uw);
	render_xml_put(f, name);
	fputs("&#10;", f);
	frame_info(c, d, root->val);
	fprintf(f, "\"><rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>",
		x, y, w, FLAME_FRAME_H - 1, colour);
	if ((w - 6) / FLAME_CHAR_W >= 3) {
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + 11.5);
		render_xml_put_fit(f, name, (size_t)((w - 6) / FLAME_CHAR_W));
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
}

static void draw_node(struct draw_ctx *c, uint32_t node, uint64_t x)
{
	const struct flame *fl = c->fl;
	const struct flame_node *nd = &fl->nodes[node];
	struct drawn d = {
		.name = fl->names.strs[nd->name], .tag = fl->names.tags[nd->name],
		.depth = nd->depth, .x = x, .val = nd->val, .base = nd->base,
	};

	draw(c, &d);
}

/* Depth-first over the frames wide enough to draw; iterative, because a
 * stack can be 8k frames deep. Returns 0 or -ENOMEM. */
static int walk(struct draw_ctx *c)
{
	const struct flame *fl = c->fl;
	struct walk_ent *st = malloc(((size_t)fl->max_depth + 2) * sizeof(*st));
	size_t sp = 0;

	if (!st)
		return -ENOMEM;
	draw_node(c, 0, 0);
	st[sp++] = (struct walk_ent){ .node = 0, .ki = fl->kid_start[0] };
	while (sp) {
		struct walk_ent *e = &st[sp - 1];

		if (e->ki < fl->kid_start[e->node + 1]) {
			uint32_t kid = fl->kids[e->ki++];
			const struct flame_node *kn = &fl->nodes[kid];

			if ((double)kn->val * c->px_per_ns < c->min_width_px) {
				e->nval = sat_add(e->nval, kn->val);
				e->nbase = sat_add(e->nbase, kn->base);
				e->ncount++;
				continue;
			}
			draw_node(c, kid, e->cx);
			st[sp++] = (struct walk_ent){ .node = kid, .depth = kn->depth, .cx = e->cx,
						      .ki = fl->kid_start[kid] };
			e->cx += kn->val;
			continue;
		}
		if (e->ncount >= 2 && (double)e->nval * c->px_per_ns >= c->min_width_px) {
			struct drawn d = { .tag = TAG_MERGED, .depth = e->depth + 1, .merged = e->ncount,
					   .x = e->cx, .val = e->nval, .base = e->nbase };

			draw(c, &d);
		}
		sp--;
	}
	free(st);
	return 0;
}

/* The script: written for this project. It finds its own <svg> (standalone
 * or inlined in report.html), reads the frames once, and handles clicks,
 * hovers and keys with delegated listeners. No data is ever put into it:
 * names reach it only through the DOM, so no symbol can break out of it. */
static const char flame_js[] =
"(function () {\n"
"'use strict';\n"
"var NS = 'http://www.w3.org/2000/svg';\n"
"var svg = document.currentScript.ownerSVGElement || document.documentElement;\n"
"var PAD = +svg.getAttribute('data-pad'), PW = +svg.getAttribute('data-plot-w');\n"
"var CW = +svg.getAttribute('data-char-w'), HL = '#ee00ee';\n"
"var standalone = svg === document.documentElement;\n"
"function part(c) { return svg.querySelector('.' + c); }\n"
"var details = part('stf-details'), matchedEl = part('stf-matched');\n"
"var resetEl = part('stf-reset'), searchEl = part('stf-search');\n"
"var frames = [], byG = new Map(), root = null, zoomed = null, term = null;\n"
"/* Each view (the cause, the idle waits, all) is its own graph: the frames\n"
"   are those of the view shown. */\n"
"function load(view) {\n"
"  frames = []; byG = new Map(); root = null; zoomed = null;\n"
"  view.querySelectorAll('g[data-w]').forEach(function (g) {\n"
"    var r = g.querySelector('rect'), info = g.getAttribute('data-t');\n"
"    var nl = info.lastIndexOf('\\n');\n"
"    var f = { g: g, r: r, t: g.querySelector('text'), x: +g.getAttribute('data-x'),\n"
"      w: +g.getAttribute('data-w'), y: +r.getAttribute('y'), fill: r.getAttribute('fill'),\n"
"      name: nl < 0 ? info : info.slice(0, nl), info: nl < 0 ? info : info.slice(0, nl) + ' (' + info.slice(nl + 1) + ')' };\n"
"    frames.push(f); byG.set(g, f);\n"
"    if (!root || f.y > root.y) root = f;\n"
"  });\n"
"}\n"
"function label(f, x, w) {\n"
"  var n = Math.floor((w - 6) / CW), s = '';\n"
"  if (n >= 3) s = f.name.length > n ? f.name.slice(0, n - 2) + '..' : f.name;\n"
"  if (!f.t) {\n"
"    if (!s) return;\n"
"    f.t = document.createElementNS(NS, 'text'); f.g.appendChild(f.t);\n"
"  }\n"
"  f.t.textContent = s;\n"
"  f.t.setAttribute('x', (x + 3).toFixed(2)); f.t.setAttribute('y', (f.y + 11.5).toFixed(1));\n"
"}\n"
"function place(f, x, w) {\n"
"  f.g.style.display = '';\n"
"  f.r.setAttribute('x', x.toFixed(2)); f.r.setAttribute('width', w.toFixed(2));\n"
"  label(f, x, w);\n"
"}\n"
"function zoom(z) {\n"
"  if (!z) return;\n"
"  zoomed = z === root ? null : z;\n"
"  frames.forEach(function (f) {\n"
"    if (f.y <= z.y && f.x >= z.x && f.x + f.w <= z.x + z.w) {\n"
"      f.g.classList.remove('stf-anc');\n"
"      place(f, PAD + (f.x - z.x) / z.w * PW, f.w / z.w * PW);\n"
"    } else if (f.y > z.y && f.x <= z.x && f.x + f.w >= z.x + z.w) {\n"
"      f.g.classList.add('stf-anc');\n"
"      place(f, PAD, PW);\n"
"    } else {\n"
"      f.g.style.display = 'none';\n"
"    }\n"
"  });\n"
"  resetEl.style.opacity = zoomed ? 1 : 0;\n"
"}\n"
"function search(t) {\n"
"  var re = null, hits = [], sum = 0, end = -1;\n"
"  term = t || null;\n"
"  if (term) {\n"
"    try { re = new RegExp(term); }\n"
"    catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&')); }\n"
"  }\n"
"  frames.forEach(function (f) {\n"
"    var m = re !== null && re.test(f.name);\n"
"    f.r.setAttribute('fill', m ? HL : f.fill);\n"
"    if (m) hits.push(f);\n"
"  });\n"
"  /* Matches nest (a match inside a match): count each stretch of the total once. */\n"
"  hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });\n"
"  hits.forEach(function (f) { if (f.x >= end) { sum += f.w; end = f.x + f.w; } });\n"
"  var pct = root && root.w ? sum / root.w * 100 : 0;\n"
"  matchedEl.textContent = re ? 'Matched: ' + pct.toFixed(2) + '%' : '';\n"
"  svg.setAttribute('data-matched-pct', re ? pct.toFixed(4) : '');\n"
"  searchEl.textContent = re ? 'Clear search' : 'Search';\n"
"}\n"
"function ask() {\n"
"  var t = window.prompt('Search for (regular expression):', term || '');\n"
"  if (t) search(t);\n"
"}\n"
"function show(name) {\n"
"  var t = term;\n"
"  if (root) { zoom(root); search(null); }\n"
"  svg.querySelectorAll('.stf-view').forEach(function (v) {\n"
"    var on = v.getAttribute('data-view') === name;\n"
"    v.style.display = on ? '' : 'none';\n"
"    if (on) load(v);\n"
"  });\n"
"  svg.querySelectorAll('.stf-viewbtn').forEach(function (b) {\n"
"    b.classList.toggle('stf-on', b.getAttribute('data-view') === name);\n"
"  });\n"
"  svg.setAttribute('data-view', name);\n"
"  resetEl.style.opacity = 0;\n"
"  search(t);\n"
"}\n"
"svg.addEventListener('click', function (e) {\n"
"  var el = e.target, g = el.closest('g[data-w]'), vb = el.closest('.stf-viewbtn');\n"
"  if (g) { zoom(byG.get(g)); return; }\n"
"  if (vb) { show(vb.getAttribute('data-view')); return; }\n"
"  if (el.closest('.stf-reset')) { zoom(root); return; }\n"
"  if (el.closest('.stf-search')) { if (term) search(null); else ask(); }\n"
"});\n"
"svg.addEventListener('mouseover', function (e) {\n"
"  var g = e.target.closest('g[data-w]');\n"
"  if (g) details.textContent = byG.get(g).info;\n"
"});\n"
"svg.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
"if (standalone) {\n"
"  window.addEventListener('keydown', function (e) {\n"
"    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); ask(); }\n"
"    else if (e.key === 'Escape') { search(null); zoom(root); }\n"
"  });\n"
"}\n"
"show(svg.getAttribute('data-view'));\n"
"svg.stalltrap = { search: search, show: show, zoom: function (g) { zoom(byG.get(g)); }, reset: function () { zoom(root); } };\n"
"})();\n";

static const char flame_css[] =
	".stf-flame text{font-family:Verdana,DejaVu Sans,sans-serif;font-size:12px;fill:#000}"
	".stf-flame g[data-w] text{pointer-events:none}"
	".stf-flame g[data-w]{cursor:pointer}"
	".stf-flame g[data-w] rect{rx:2px;ry:2px}"
	".stf-flame g[data-w]:hover rect{stroke:#000;stroke-width:0.5}"
	".stf-flame .stf-anc{opacity:0.5}"
	".stf-flame .stf-head{font-size:17px;text-anchor:middle}"
	".stf-flame .stf-sub{font-size:12px;text-anchor:middle;fill:#333}"
	".stf-flame .stf-btn{cursor:pointer;fill:#225}"
	".stf-flame .stf-reset{opacity:0}"
	".stf-flame .stf-viewbtn{font-size:13px;text-decoration:underline}"
	".stf-flame .stf-viewbtn.stf-on{font-weight:bold;text-decoration:none;fill:#000}";

/* One view of the graph (the cause, the idle waits, all): its own tree and layout. */
struct flame_pane {
	struct flame fl;
	const char *name, *label;       /* data-view, and its button */
	struct draw_ctx c;
};

/* Measures a pane: deepest level, largest change, size; past budget bytes
 * (thousands of deep stacks each a pixel wide), wider frames are merged too:
 * the graph must stay loadable. */
static int measure(struct draw_ctx *c, size_t budget)
{
	const struct flame_node *root = &c->fl->nodes[0];
	int err;

	c->px_per_ns = root->val ? (FLAME_WIDTH - 2.0 * FLAME_PAD) / (double)root->val : 0;
	while (root->val) {
		c->frames = c->bytes = 0;
		c->max_depth = 0;
		err = walk(c);
		if (err)
			return err;
		if (c->bytes <= budget || c->min_width_px >= 64)
			break;
		c->min_width_px *= 1.25;
	}
	return 0;
}

static void put_controls(FILE *f, const struct flame_pane *p, size_t n, size_t initial, unsigned int top,
			 unsigned int height)
{
	size_t i;

	fprintf(f, "<text class=\"stf-btn stf-reset\" x=\"%d\" y=\"26\">Reset Zoom</text>\n",
		FLAME_PAD);
	fprintf(f, "<text class=\"stf-btn stf-search\" x=\"%d\" y=\"26\" text-anchor=\"end\">Search</text>\n",
		FLAME_WIDTH - FLAME_PAD);
	for (i = 0; n > 1 && i < n; i++)
		fprintf(f, "<text class=\"stf-btn stf-viewbtn%s\" data-view=\"%s\" x=\"%zu\" y=\"%u\">%s</text>\n",
			i == initial ? " stf-on" : "", p[i].name, FLAME_PAD + 100 * i, top - 6, p[i].label);
	fprintf(f, "<text class=\"stf-matched\" x=\"%d\" y=\"%u\" text-anchor=\"end\"></text>\n",
		FLAME_WIDTH - FLAME_PAD, height - 12);
	fprintf(f, "<text class=\"stf-details\" x=\"%d\" y=\"%u\"> </text>\n", FLAME_PAD, height - 12);
}

static int put_pane(FILE *f, struct flame_pane *p, bool shown)
{
	int err = 0;

	fprintf(f, "<g class=\"stf-view\" data-view=\"%s\"%s>\n", p->name, shown ? "" : " style=\"display:none\"");
	if (!p->fl.nodes[0].val) {
		fprintf(f, "<text x=\"600\" y=\"%u\" text-anchor=\"middle\">no off-CPU time recorded</text>\n",
			p->c.plot_top + 12);
	} else {
		p->c.f = f;
		p->c.frames = 0;
		err = walk(&p->c);
	}
	fputs("</g>\n", f);
	return err;
}

/* The SVG of n panes (views), the one at initial shown, the others one
 * click away; the size cap is shared among them. */
static int flame_svg(FILE *f, struct flame_pane *p, size_t n, size_t initial, const struct flame_view *v)
{
	unsigned int height, depth = 0, top;
	size_t i, frames = 0;
	int err;

	for (i = 0; i < n; i++) {
		p[i].c = (struct draw_ctx){ .fl = &p[i].fl, .v = v, .min_width_px = v->min_width_px };
		err = measure(&p[i].c, FLAME_MAX_BYTES / n);
		if (err)
			return err;
		depth = p[i].c.max_depth > depth ? p[i].c.max_depth : depth;
		frames += p[i].c.frames;
	}
	/* One baseline for all views: their roots are at the same height. */
	top = 52 + 18 * (unsigned int)render_svg_subtitle_lines(v->subtitle, FLAME_SUB_CHARS) + (n > 1 ? 20 : 0);
	for (i = 0; i < n; i++) {
		p[i].c.max_depth = depth;
		p[i].c.plot_top = top;
	}
	height = top + (depth + 1) * FLAME_FRAME_H + 34;
	if (!v->inline_svg)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", f);
	fprintf(f, "<svg version=\"1.1\" class=\"stf-flame\" width=\"%d\" height=\"%u\" "
		"viewBox=\"0 0 %d %u\" xmlns=\"http://www.w3.org/2000/svg\" "
		"data-pad=\"%d\" data-plot-w=\"%d\" data-char-w=\"%.2f\" data-frames=\"%zu\" "
		"data-min-width=\"%g\" data-view=\"%s\">\n",
		FLAME_WIDTH, height, FLAME_WIDTH, height, FLAME_PAD, FLAME_WIDTH - 2 * FLAME_PAD,
		FLAME_CHAR_W, frames, p[initial].c.min_width_px, p[initial].name);
	fprintf(f, "<style>%s</style>\n", flame_css);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#f3f5fa\"/>\n");
	fputs("<text class=\"stf-head\" x=\"600\" y=\"26\">", f);
	render_xml_put(f, v->title);
	fputs("</text>\n", f);
	if (v->subtitle && render_svg_subtitle(f, "stf-sub", 600, 48, 16, v->subtitle, FLAME_SUB_CHARS) < 0)
		return -ENOMEM;
	put_controls(f, p, n, initial, top, height);
	for (i = 0; i < n; i++) {
		err = put_pane(f, &p[i], i == initial);
		if (err)
			return err;
	}
	fprintf(f, "<script type=\"text/javascript\"><![CDATA[\n%s]]></script>\n", render_tooltip_js);
	fprintf(f, "<script type=\"text/javascript\"><![CDATA[\n%s]]></script>\n</svg>\n", flame_js);
	return ferror(f) ? -EIO : 0;
}

static void flame_title(const struct capdata *cd, const char *what, char *buf, size_t len)
{
	if (cd->target.comm)
		snprintf(buf, len, "%s: %.64s", what, cd->target.comm);
	else
		snprintf(buf, len, "%s", what);
}

/* The views of render_flame(): with a verdict, the cause (abnormal waits and
 * what ran on-CPU), the idle waits when there are some, and everything;
 * without one, everything. */
static const struct {
	const char *name, *label;
	unsigned int groups;    /* 1 << enum render_group */
} flame_views[] = {
	{ "cause", "The cause", 1u << RG_CAUSE | 1u << RG_ONCPU },
	{ "idle", "Idle waits", 1u << RG_IDLE },
	{ "all", "All", (1u << RG__COUNT) - 1 },
};
#define FLAME_NVIEWS (sizeof(flame_views) / sizeof(flame_views[0]))

/* Everything is always drawn; with focus, the cause when there is one, and
 * the idle waits when there are some. */
static bool view_drawn(unsigned int groups, const struct render_sites *ss, bool focus)
{
	if (groups == (1u << RG__COUNT) - 1)
		return true;
	if (!focus || !(ss->ngroup[RG_CAUSE] + ss->ngroup[RG_ONCPU]))
		return false;
	return (groups & 1u << RG_CAUSE) || ss->ngroup[RG_IDLE];
}

static int flame_panes(struct flame_pane *p, size_t *n, const struct capdata *cd,
		       const struct render_sites *ss, bool focus)
{
	size_t i;
	int err = 0;

	*n = 0;
	for (i = 0; !err && i < FLAME_NVIEWS; i++) {
		unsigned int g = flame_views[i].groups;

		if (!view_drawn(g, ss, focus))
			continue;
		p[*n].name = flame_views[i].name;
		p[*n].label = flame_views[i].label;
		err = flame_init(&p[*n].fl);
		(*n)++;
		if (!err)
			err = flame_add_sites(&p[*n - 1].fl, cd, ss, g);
		if (!err)
			err = flame_index(&p[*n - 1].fl);
	}
	return err;
}

int render_flame(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		 const json_t *extra, unsigned int flags)
{
	struct flame_pane p[FLAME_NVIEWS];
	struct render_sites ss;
	char title[256];
	struct flame_view v = {
		.inline_svg = flags & RENDER_SVG_INLINE, .title = title,
		.subtitle = render_verdict_summary(extra), .min_width_px = FLAME_MIN_WIDTH_PX,
	};
	bool focus = (flags & RENDER_SVG_FOCUS) || render_verdict_focus(extra);
	size_t n = 0, i;
	int err;

	flame_title(cd, "Off-CPU Time Flame Graph", title, sizeof(title));
	memset(p, 0, sizeof(p));
	err = render_sites_build(&ss, cd, agg);
	if (!err)
		err = flame_panes(p, &n, cd, &ss, focus);
	if (!err)
		err = flame_svg(f, p, n, 0, &v);
	for (i = 0; i < n; i++)
		flame_release(&p[i].fl);
	render_sites_release(&ss);
	return err;
}

static double window_s(const struct capdata *cd)
{
	/* A zero-length window would divide by zero; call it a second. */
	return cd->window.duration_ns ? (double)cd->window.duration_ns / 1e9 : 1.0;
}

int render_flame_diff(FILE *f, const struct capdata *base, const struct aggregate *base_agg,
		      const struct capdata *cd, const struct aggregate *agg, const json_t *extra)
{
	struct flame_pane p;
	char title[256];
	struct flame_view v = {
		.diff = true, .title = title, .subtitle = render_verdict_summary(extra),
		.val_s = window_s(cd), .base_s = window_s(base), .min_width_px = FLAME_MIN_WIDTH_PX,
	};
	int err;

	flame_title(cd, "Differential Off-CPU Flame Graph (red grew, blue shrank; per second of window)",
		    title, sizeof(title));
	memset(&p, 0, sizeof(p));
	p.name = "all";
	err = flame_init(&p.fl);
	if (!err)
		err = flame_add(&p.fl, base, base_agg, true);
	if (!err)
		err = flame_add(&p.fl, cd, agg, false);
	if (!err)
		err = flame_index(&p.fl);
	if (!err)
		err = flame_svg(f, &p, 1, 0, &v);
	flame_release(&p.fl);
	return err;
}
