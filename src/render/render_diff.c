/* render_diff.c: diff.txt, the short listing of what changed most between a baseline capture and an incident.
 *
 * Both captures are normalised per second of their window (a 5 s incident
 * and a 60 s baseline compare), then compared by function (inclusive time: a
 * function counts once per stack, however often it recurses) and by call
 * site (thread name, user frames, kernel frames, matched by name across the
 * two captures: pcs differ between runs).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"

#define DIFF_MAX_POOL (1u << 26)        /* name ids kept for call-site keys */
#define DIFF_SITE_FRAMES 3              /* innermost user frames shown per site */

enum { TAG_COMM = 1, TAG_USER = 2, TAG_KERNEL = 3 };

struct diff_site {
	uint32_t off, len;      /* name ids in pool */
	uint64_t ns[2];         /* base, incident */
};

struct diff {
	struct render_strtab names;
	uint64_t *fn_ns[2];     /* per name id: inclusive ns, base and incident */
	uint32_t *stamp;        /* per name id: last entry that counted it */
	size_t nfn;             /* allocated length of the three above */
	uint32_t serial;
	uint32_t *pool;
	size_t npool, apool;
	struct diff_site *sites;
	size_t nsites, asites;
	struct htab site_index; /* the names of a site (pool[off..off+len)) -> site index */
	double secs[2];
};

struct diff_row {
	uint32_t id;            /* name id or site index */
	double delta, was, now;
};

static int64_t intern(struct diff *d, const char *s, uint8_t tag)
{
	int64_t id = render_strtab_intern(&d->names, s[0] ? s : "[unknown]", tag);

	if (id >= 0 && (size_t)id >= d->nfn) {
		size_t n = d->nfn ? d->nfn * 2 : 4096, k;

		for (k = 0; k < 2; k++) {
			uint64_t *p = realloc(d->fn_ns[k], n * sizeof(*p));

			if (!p)
				return -ENOMEM;
			memset(p + d->nfn, 0, (n - d->nfn) * sizeof(*p));
			d->fn_ns[k] = p;
		}
		uint32_t *st = realloc(d->stamp, n * sizeof(*st));

		if (!st)
			return -ENOMEM;
		memset(st + d->nfn, 0, (n - d->nfn) * sizeof(*st));
		d->stamp = st;
		d->nfn = n;
	}
	return id;
}

static int pool_push(struct diff *d, uint32_t id)
{
	if (d->npool == d->apool) {
		size_t n = d->apool ? d->apool * 2 : 65536;
		uint32_t *p;

		if (n > DIFF_MAX_POOL)
			return -E2BIG;
		p = realloc(d->pool, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		d->pool = p;
		d->apool = n;
	}
	d->pool[d->npool++] = id;
	return 0;
}

static int add_frames(struct diff *d, const struct capdata *cd, uint32_t stack, int which,
		      uint64_t ns)
{
	const struct cap_stack *s = &cd->stacks[stack];
	uint32_t i;

	for (i = 0; i < s->nframes; i++) {
		const struct cap_frame *fr = &cd->frames[s->frames[i]];
		int64_t id = intern(d, fr->name, fr->kernel ? TAG_KERNEL : TAG_USER);
		int err;

		if (id < 0)
			return (int)id;
		if (d->stamp[id] != d->serial) { /* once per stack: inclusive time */
			d->stamp[id] = d->serial;
			d->fn_ns[which][id] += ns;
		}
		err = pool_push(d, (uint32_t)id);
		if (err)
			return err;
	}
	return 0;
}

struct site_key {
	uint32_t off, len;
};

static bool site_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct diff *d = ctx;
	const struct diff_site *s = &d->sites[id];
	const struct site_key *k = key;

	return s->len == k->len &&
	       memcmp(d->pool + s->off, d->pool + k->off, k->len * sizeof(uint32_t)) == 0;
}

/* Files the key at pool[off..npool) as a site (reusing an equal one). */
static int add_site(struct diff *d, uint32_t off, int which, uint64_t ns)
{
	struct site_key k = { .off = off, .len = (uint32_t)(d->npool - off) };
	uint64_t h = htab_hash_bytes(HTAB_HASH_SEED, d->pool + off, k.len * sizeof(uint32_t));
	int64_t id = htab_find(&d->site_index, h, site_eq, d, &k);
	int err;

	if (id >= 0) {
		d->sites[id].ns[which] += ns;
		d->npool = off; /* the key is already in the pool */
		return 0;
	}
	if (d->nsites == d->asites) {
		size_t n = d->asites ? d->asites * 2 : 4096;
		struct diff_site *p = realloc(d->sites, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->sites = p;
		d->asites = n;
	}
	err = htab_insert(&d->site_index, h, (uint32_t)d->nsites);
	if (err)
		return err;
	d->sites[d->nsites] = (struct diff_site){ .off = off, .len = k.len };
	d->sites[d->nsites++].ns[which] = ns;
	return 0;
}

static int diff_add(struct diff *d, const struct capdata *cd, const struct aggregate *agg, int which)
{
	size_t i;
	int err = 0;

	for (i = 0; i < agg->nentries && !err; i++) {
		const struct agg_entry *en = &agg->entries[i];
		uint32_t off = (uint32_t)d->npool;
		int64_t comm = intern(d, en->comm, TAG_COMM);

		if (comm < 0)
			return (int)comm;
		d->serial++;
		err = pool_push(d, (uint32_t)comm);
		if (!err && render_shows_ustack(cd, en->ustack))
			err = add_frames(d, cd, en->ustack, which, en->offcpu_ns);
		if (!err && en->kstack < cd->nstacks)
			err = add_frames(d, cd, en->kstack, which, en->offcpu_ns);
		if (!err)
			err = add_site(d, off, which, en->offcpu_ns);
	}
	return err;
}

static void diff_release(struct diff *d)
{
	render_strtab_release(&d->names);
	free(d->fn_ns[0]);
	free(d->fn_ns[1]);
	free(d->stamp);
	free(d->pool);
	free(d->sites);
	htab_release(&d->site_index);
}

static int cmp_rows(const void *a, const void *b)
{
	const struct diff_row *x = a, *y = b;
	double dx = fabs(x->delta), dy = fabs(y->delta);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Text for a terminal: control characters must not reach it. */
static void put_clean(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s && n < max; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	if (*s)
		fputs("...", f);
}

static double per_s(uint64_t ns, double secs)
{
	return (double)ns / 1e6 / secs;
}

static void put_site(FILE *f, const struct diff *d, const struct diff_site *s)
{
	uint32_t i, nuser = 0, shown = 0, kleaf = UINT32_MAX;

	put_clean(f, d->names.strs[d->pool[s->off]], 16);
	fputs(": ", f);
	for (i = 1; i < s->len; i++) {
		if (d->names.tags[d->pool[s->off + i]] == TAG_USER)
			nuser++;
		else
			kleaf = d->pool[s->off + i];
	}
	if (nuser > DIFF_SITE_FRAMES)
		fputs("... > ", f);
	for (i = 1; i < s->len; i++) {
		uint32_t id = d->pool[s->off + i];

		if (d->names.tags[id] != TAG_USER)
			continue;
		if (nuser - shown++ > DIFF_SITE_FRAMES)
			continue;
		put_clean(f, d->names.strs[id], 60);
		if (shown < nuser)
			fputs(" > ", f);
	}
	if (kleaf != UINT32_MAX) {
		fputs(nuser ? " | " : "", f);
		put_clean(f, d->names.strs[kleaf], 60);
		fputs(" [k]", f);
	}
}

static int list_rows(FILE *f, struct diff *d, bool sites, int top_n)
{
	size_t n = sites ? d->nsites : d->names.n, i, nrows = 0;
	struct diff_row *rows = malloc((n ? n : 1) * sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t was = sites ? d->sites[i].ns[0] : d->fn_ns[0][i];
		uint64_t now = sites ? d->sites[i].ns[1] : d->fn_ns[1][i];
		struct diff_row r = { .id = (uint32_t)i, .was = per_s(was, d->secs[0]),
				      .now = per_s(now, d->secs[1]) };

		if (!sites && d->names.tags[i] == TAG_COMM)
			continue;
		r.delta = r.now - r.was;
		if (fabs(r.delta) >= 0.0005) /* under a microsecond per second is no change */
			rows[nrows++] = r;
	}
	qsort(rows, nrows, sizeof(*rows), cmp_rows);
	fprintf(f, "\nbiggest changes by %s, in ms per second of window:\n"
		"      change       base   incident  %s\n", sites ? "call site" : "function (inclusive time)",
		sites ? "thread: innermost user frames | kernel leaf" : "function");
	if (!nrows)
		fputs("  (none)\n", f);
	for (i = 0; i < nrows && i < (size_t)top_n; i++) {
		fprintf(f, "  %+10.3f %10.3f %10.3f  ", rows[i].delta, rows[i].was, rows[i].now);
		if (sites) {
			put_site(f, d, &d->sites[rows[i].id]);
		} else {
			put_clean(f, d->names.strs[rows[i].id], 100);
			if (d->names.tags[rows[i].id] == TAG_KERNEL)
				fputs(" [k]", f);
		}
		fputc('\n', f);
	}
	free(rows);
	return 0;
}

static void put_side(FILE *f, const char *label, const char *name, const struct capdata *cd,
		     const struct aggregate *agg, double secs)
{
	fprintf(f, "  %-9s ", label);
	put_clean(f, name, 200);
	fputs(" (", f);
	put_clean(f, cd->target.comm ? cd->target.comm : "?", 64);
	fprintf(f, ", window %.3f s, %.3f ms off-CPU = %.3f ms/s)\n", secs, render_ms(agg->offcpu_ns),
		per_s(agg->offcpu_ns, secs));
}

int render_diff_text(FILE *f, const char *base_name, const struct capdata *base,
		     const struct aggregate *base_agg, const char *name, const struct capdata *cd,
		     const struct aggregate *agg, int top_n)
{
	struct diff d = { 0 };
	double was, now;
	int err;

	d.secs[0] = base->window.duration_ns ? (double)base->window.duration_ns / 1e9 : 1.0;
	d.secs[1] = cd->window.duration_ns ? (double)cd->window.duration_ns / 1e9 : 1.0;
	err = diff_add(&d, base, base_agg, 0);
	if (!err)
		err = diff_add(&d, cd, agg, 1);
	if (err)
		goto cleanup;
	was = per_s(base_agg->offcpu_ns, d.secs[0]);
	now = per_s(agg->offcpu_ns, d.secs[1]);
	fputs("stalltrap diff: off-CPU time per second of window, baseline against incident\n", f);
	put_side(f, "base:", base_name, base, base_agg, d.secs[0]);
	put_side(f, "incident:", name, cd, agg, d.secs[1]);
	fprintf(f, "  off-CPU per second of window: %.3f -> %.3f ms/s (%+.3f ms/s", was, now, now - was);
	if (was > 0)
		fprintf(f, ", %+.1f%%)\n", (now - was) / was * 100);
	else
		fputs(")\n", f);
	err = list_rows(f, &d, false, top_n);
	if (!err)
		err = list_rows(f, &d, true, top_n);
	if (!err && ferror(f))
		err = -EIO;
cleanup:
	diff_release(&d);
	return err;
}
