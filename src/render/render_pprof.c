/* render_pprof.c: profile.pb.gz, the capture as a gzipped pprof profile.proto for `go tool pprof` and its peers.
 *
 * One sample per (thread, user stack, kernel stack): values are off-CPU
 * nanoseconds and the number of blocks, labels pid, tid and comm (the thread
 * name). Locations are the capdata frames (id = frame id + 1), leaf first as
 * pprof wants, kernel frames in a "[kernel.kallsyms]" mapping as perf's
 * converters do; functions are the distinct (name, kernel) pairs. Every
 * mapping says has_functions, so pprof never tries to symbolize the pcs
 * again. The drop counters and what the samples leave out go in comments.
 * The profile.proto this encodes is Debian's copy of pprof's, compiled by
 * protoc-c at build time (see the Makefile).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "render/pprof_types.h"
#include "render/render.h"
#include "render/render_int.h"

#define PPROF_MAX_PACKED (1ULL << 30)   /* bytes of the encoded profile */
#define PPROF_MAX_COMMENTS (CAPDATA_MAX_COUNTERS + 16)
#define KERNEL_MIN_ADDR 0xffff800000000000ULL /* x86_64 kernel half */

/* Blocks grouped into samples. */
struct pkey {
	uint32_t thread, ustack, kstack;
	uint64_t ns, count;
};

struct pprof_build {
	const struct capdata *cd;
	struct render_strtab strs;      /* the string table; id 0 is "" */
	char *owned[PPROF_MAX_COMMENTS];/* formatted strings the table borrows */
	size_t nowned;
	int64_t comments[PPROF_MAX_COMMENTS];
	size_t ncomments;

	struct pkey *keys; size_t nkeys;
	Sample *samples; Sample **sample_ptrs;
	Label *labels; Label **label_ptrs;
	int64_t *values;
	uint64_t *loc_ids;
	Location *locs; Location **loc_ptrs;
	Line *lines; Line **line_ptrs;
	Function *funcs; Function **func_ptrs; size_t nfuncs;
	Mapping *maps; Mapping **map_ptrs; size_t nmaps;
	ValueType types[2]; ValueType *type_ptrs[2]; ValueType period_type;
	uint64_t no_stack_loc;          /* location id of "[no stack]", 0 if unused */
};

static int64_t str_id(struct pprof_build *b, const char *s)
{
	return render_strtab_intern(&b->strs, s ? s : "", 0);
}

static int add_comment(struct pprof_build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_comment(struct pprof_build *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int64_t id;
	int n;

	if (b->nowned >= PPROF_MAX_COMMENTS || b->ncomments >= PPROF_MAX_COMMENTS)
		return -E2BIG;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	b->owned[b->nowned++] = s;
	id = str_id(b, s);
	if (id < 0)
		return (int)id;
	b->comments[b->ncomments++] = id;
	return 0;
}

static int cmp_pkey(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	if (x->ustack != y->ustack)
		return x->ustack < y->ustack ? -1 : 1;
	if (x->kstack != y->kstack)
		return x->kstack < y->kstack ? -1 : 1;
	return 0;
}

/* Sums the blocks per (thread, ustack, kstack), in that order. */
static int group_blocks(struct pprof_build *b)
{
	const struct capdata *cd = b->cd;
	size_t i, n = 0;

	b->keys = malloc((cd->nblocks ? cd->nblocks : 1) * sizeof(*b->keys));
	if (!b->keys)
		return -ENOMEM;
	for (i = 0; i < cd->nblocks; i++) {
		const struct cap_block *bl = &cd->blocks[i];

		b->keys[i] = (struct pkey){ .thread = bl->thread, .ustack = bl->ustack,
					    .kstack = bl->kstack, .ns = bl->dur_ns, .count = 1 };
	}
	qsort(b->keys, cd->nblocks, sizeof(*b->keys), cmp_pkey);
	for (i = 0; i < cd->nblocks; i++) {
		if (n && cmp_pkey(&b->keys[n - 1], &b->keys[i]) == 0) {
			struct pkey *k = &b->keys[n - 1];

			k->ns = k->ns + b->keys[i].ns < k->ns ? UINT64_MAX : k->ns + b->keys[i].ns;
			k->count++;
		} else {
			b->keys[n++] = b->keys[i];
		}
	}
	b->nkeys = n;
	return 0;
}

static uint32_t stack_frames(const struct capdata *cd, const struct pkey *k)
{
	uint32_t n = 0;

	if (render_shows_ustack(cd, k->ustack))
		n += cd->stacks[k->ustack].nframes;
	if (k->kstack < cd->nstacks)
		n += cd->stacks[k->kstack].nframes;
	return n;
}

/* The mapping of the target's executable, which pprof wants first (it
 * names the profile after mapping 1): the one whose file is the command
 * line's first word, or whose base name starts like the comm. */
static size_t main_mapping(const struct capdata *cd)
{
	size_t i, len = 0;

	if (cd->target.cmdline)
		len = strcspn(cd->target.cmdline, " ");
	for (i = 0; i < cd->nmappings; i++) {
		const char *file = cd->mappings[i].file, *base;

		if (!file)
			continue;
		base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		if ((len && strlen(file) == len && strncmp(file, cd->target.cmdline, len) == 0) ||
		    (cd->target.comm && cd->target.comm[0] &&
		     strncmp(base, cd->target.comm, strlen(cd->target.comm)) == 0))
			return i;
	}
	return 0;
}

/* pprof id of capdata mapping i, main first. */
static uint64_t mapping_id(size_t i, size_t main)
{
	return i == main ? 1 : i < main ? i + 2 : i + 1;
}

static int build_locations(struct pprof_build *b)
{
	const struct capdata *cd = b->cd;
	struct render_strtab fnames = { 0 };
	uint64_t kmin = UINT64_MAX, kmax = 0;
	size_t i, nloc = cd->nframes + 1;
	uint64_t kmap = 0;
	size_t main = main_mapping(cd);
	int err = 0;

	for (i = 0; i < cd->nframes; i++) {
		uint64_t a = cd->frames[i].addr;

		if (cd->frames[i].kernel && a >= KERNEL_MIN_ADDR) {
			kmin = a < kmin ? a : kmin;
			kmax = a > kmax ? a : kmax;
		}
	}
	/* Mappings: the capture's, then one for the kernel. */
	b->maps = calloc(cd->nmappings + 1, sizeof(*b->maps));
	b->map_ptrs = calloc(cd->nmappings + 1, sizeof(*b->map_ptrs));
	b->locs = calloc(nloc, sizeof(*b->locs));
	b->loc_ptrs = calloc(nloc, sizeof(*b->loc_ptrs));
	b->lines = calloc(nloc, sizeof(*b->lines));
	b->line_ptrs = calloc(nloc, sizeof(*b->line_ptrs));
	b->funcs = calloc(nloc, sizeof(*b->funcs));
	b->func_ptrs = calloc(nloc, sizeof(*b->func_ptrs));
	if (!b->maps || !b->map_ptrs || !b->locs || !b->loc_ptrs || !b->lines || !b->line_ptrs ||
	    !b->funcs || !b->func_ptrs)
		return -ENOMEM;
	for (i = 0; i < cd->nmappings; i++) {
		const struct cap_mapping *m = &cd->mappings[i];
		Mapping *pm = &b->maps[mapping_id(i, main) - 1];
		int64_t file = str_id(b, m->file), bid = str_id(b, m->build_id);

		if (file < 0 || bid < 0)
			return -ENOMEM;
		perftools__profiles__mapping__init(pm);
		pm->id = mapping_id(i, main);
		pm->memory_start = m->start;
		pm->memory_limit = m->limit;
		pm->file_offset = m->offset;
		pm->filename = file;
		pm->build_id = bid;
		pm->has_functions = 1;
		b->map_ptrs[pm->id - 1] = pm;
		b->nmaps++;
	}
	if (kmin <= kmax) {
		Mapping *pm = &b->maps[b->nmaps];
		int64_t file = str_id(b, "[kernel.kallsyms]");

		if (file < 0)
			return -ENOMEM;
		perftools__profiles__mapping__init(pm);
		pm->id = kmap = b->nmaps + 1;
		pm->memory_start = kmin;
		pm->memory_limit = kmax == UINT64_MAX ? kmax : kmax + 1;
		pm->filename = file;
		pm->has_functions = 1;
		b->map_ptrs[b->nmaps++] = pm;
	}

	/* Locations 1..nframes are the frames; nframes + 1 is "[no stack]",
	 * for the blocks that have no frame at all (kept so totals add up). */
	for (i = 0; i < nloc && !err; i++) {
		const struct cap_frame *fr = i < cd->nframes ? &cd->frames[i] : NULL;
		const char *name = fr ? (fr->name[0] ? fr->name : "[unknown]") : "[no stack]";
		int64_t fid = render_strtab_intern(&fnames, name, fr && fr->kernel);
		Location *l = &b->locs[i];

		if (fid < 0) {
			err = (int)fid;
			break;
		}
		if ((size_t)fid == b->nfuncs) {
			Function *fn = &b->funcs[b->nfuncs];
			int64_t sid = str_id(b, name);

			if (sid < 0) {
				err = -ENOMEM;
				break;
			}
			perftools__profiles__function__init(fn);
			fn->id = (uint64_t)fid + 1;
			fn->name = fn->system_name = sid;
			b->func_ptrs[b->nfuncs++] = fn;
		}
		perftools__profiles__line__init(&b->lines[i]);
		b->lines[i].function_id = (uint64_t)fid + 1;
		b->line_ptrs[i] = &b->lines[i];
		perftools__profiles__location__init(l);
		l->id = i + 1;
		if (fr) {
			l->address = fr->addr;
			if (!fr->kernel && fr->mapping < cd->nmappings)
				l->mapping_id = mapping_id(fr->mapping, main);
			else if (fr->kernel && kmap && fr->addr >= KERNEL_MIN_ADDR)
				l->mapping_id = kmap;
		}
		l->n_line = 1;
		l->line = &b->line_ptrs[i];
		b->loc_ptrs[i] = l;
	}
	b->no_stack_loc = cd->nframes + 1;
	render_strtab_release(&fnames);
	return err;
}

static int build_samples(struct pprof_build *b)
{
	const struct capdata *cd = b->cd;
	size_t i, nloc = 0, at = 0;
	int64_t kpid = str_id(b, "pid"), ktid = str_id(b, "tid"), kcomm = str_id(b, "comm");

	if (kpid < 0 || ktid < 0 || kcomm < 0)
		return -ENOMEM;
	for (i = 0; i < b->nkeys; i++) {
		uint32_t n = stack_frames(cd, &b->keys[i]);

		nloc += n ? n : 1;
	}
	b->samples = calloc(b->nkeys ? b->nkeys : 1, sizeof(*b->samples));
	b->sample_ptrs = calloc(b->nkeys ? b->nkeys : 1, sizeof(*b->sample_ptrs));
	b->labels = calloc(b->nkeys * 3 + 1, sizeof(*b->labels));
	b->label_ptrs = calloc(b->nkeys * 3 + 1, sizeof(*b->label_ptrs));
	b->values = calloc(b->nkeys * 2 + 1, sizeof(*b->values));
	b->loc_ids = calloc(nloc + 1, sizeof(*b->loc_ids));
	if (!b->samples || !b->sample_ptrs || !b->labels || !b->label_ptrs || !b->values ||
	    !b->loc_ids)
		return -ENOMEM;
	for (i = 0; i < b->nkeys; i++) {
		const struct pkey *k = &b->keys[i];
		const struct cap_thread *t = &cd->threads[k->thread];
		Sample *s = &b->samples[i];
		Label *l = &b->labels[i * 3];
		uint64_t *ids = &b->loc_ids[at];
		size_t n = 0;
		int64_t comm = str_id(b, t->comm[0] ? t->comm : "[unknown]");
		uint32_t j;

		if (comm < 0)
			return -ENOMEM;
		/* pprof lists locations leaf first: kernel leaf .. kernel root,
		 * then user leaf .. user root. */
		if (k->kstack < cd->nstacks) {
			const struct cap_stack *st = &cd->stacks[k->kstack];

			for (j = st->nframes; j-- > 0;)
				ids[n++] = (uint64_t)st->frames[j] + 1;
		}
		if (render_shows_ustack(cd, k->ustack)) {
			const struct cap_stack *st = &cd->stacks[k->ustack];

			for (j = st->nframes; j-- > 0;)
				ids[n++] = (uint64_t)st->frames[j] + 1;
		}
		if (!n)
			ids[n++] = b->no_stack_loc;
		at += n;

		perftools__profiles__sample__init(s);
		s->n_location_id = n;
		s->location_id = ids;
		b->values[i * 2] = k->ns > INT64_MAX ? INT64_MAX : (int64_t)k->ns;
		b->values[i * 2 + 1] = k->count > INT64_MAX ? INT64_MAX : (int64_t)k->count;
		s->n_value = 2;
		s->value = &b->values[i * 2];
		for (j = 0; j < 3; j++) {
			perftools__profiles__label__init(&l[j]);
			b->label_ptrs[i * 3 + j] = &l[j];
		}
		l[0].key = kpid;
		l[0].num = t->pid;
		l[1].key = ktid;
		l[1].num = t->tid;
		l[2].key = kcomm;
		l[2].str = comm;
		s->n_label = 3;
		s->label = &b->label_ptrs[i * 3];
		b->sample_ptrs[i] = s;
	}
	return 0;
}

static int build_comments(struct pprof_build *b, const struct aggregate *agg, const json_t *extra)
{
	const struct capdata *cd = b->cd;
	const char *verdict = render_verdict_summary(extra);
	size_t i;
	int err;

	err = add_comment(b, "stalltrap off-CPU profile of %s: every block of at least %.3f ms, "
			  "with its thread's pid, tid and comm as labels",
			  cd->target.comm ? cd->target.comm : "the target",
			  render_ms(cd->window.min_block_ns));
	if (!err)
		err = add_comment(b, "offcpu_total_ms=%.3f below_min_block_ms=%.3f (blocks under "
				  "min_block are counted per thread only, not in the samples)",
				  render_ms(agg->offcpu_ns), render_ms(agg->below_min_ns));
	if (!err && verdict)
		err = add_comment(b, "verdict: %s", verdict);
	/* Every drop counter, zeros too: silence must mean nothing was lost. */
	for (i = 0; !err && i < cd->ndrops; i++)
		err = add_comment(b, "drop %s=%" PRIu64, cd->drops[i].name, cd->drops[i].value);
	return err;
}

static void pprof_build_release(struct pprof_build *b)
{
	size_t i;

	render_strtab_release(&b->strs);
	for (i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	free(b->keys);
	free(b->samples); free(b->sample_ptrs);
	free(b->labels); free(b->label_ptrs);
	free(b->values); free(b->loc_ids);
	free(b->locs); free(b->loc_ptrs);
	free(b->lines); free(b->line_ptrs);
	free(b->funcs); free(b->func_ptrs);
	free(b->maps); free(b->map_ptrs);
}

/* gzip (RFC 1952) of len bytes onto f. */
static int put_gzip(FILE *f, const uint8_t *data, size_t len)
{
	uint8_t out[64 * 1024];
	z_stream zs = { 0 };
	int zr, err = 0;

	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)data;
	zs.avail_in = (uInt)len; /* len <= PPROF_MAX_PACKED fits a uInt */
	do {
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zr = deflate(&zs, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		if (fwrite(out, 1, sizeof(out) - zs.avail_out, f) != sizeof(out) - zs.avail_out) {
			err = -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&zs);
	return err;
}

int render_pprof(FILE *f, const struct capdata *cd, const struct aggregate *agg,
		 const json_t *extra)
{
	struct pprof_build b = { .cd = cd };
	Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	uint8_t *buf = NULL;
	size_t len;
	int64_t s_offcpu, s_ns, s_count;
	int err;

	if (str_id(&b, "") != 0) { /* pprof's rule: string 0 is "" */
		err = -ENOMEM;
		goto cleanup;
	}
	s_offcpu = str_id(&b, "offcpu");
	s_ns = str_id(&b, "nanoseconds");
	s_count = str_id(&b, "count");
	if (s_offcpu < 0 || s_ns < 0 || s_count < 0) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = group_blocks(&b);
	if (!err)
		err = build_locations(&b);
	if (!err)
		err = build_samples(&b);
	if (!err)
		err = build_comments(&b, agg, extra);
	if (err)
		goto cleanup;

	perftools__profiles__value_type__init(&b.types[0]);
	b.types[0].type = s_offcpu;
	b.types[0].unit = s_ns;
	perftools__profiles__value_type__init(&b.types[1]);
	b.types[1].type = s_count;
	b.types[1].unit = s_count;
	b.type_ptrs[0] = &b.types[0];
	b.type_ptrs[1] = &b.types[1];
	perftools__profiles__value_type__init(&b.period_type);
	b.period_type.type = s_offcpu;
	b.period_type.unit = s_ns;

	p.n_sample_type = 2;
	p.sample_type = b.type_ptrs;
	p.default_sample_type = s_offcpu;
	p.n_sample = b.nkeys;
	p.sample = b.sample_ptrs;
	p.n_mapping = b.nmaps;
	p.mapping = b.map_ptrs;
	p.n_location = cd->nframes + 1;
	p.location = b.loc_ptrs;
	p.n_function = b.nfuncs;
	p.function = b.func_ptrs;
	/* The table borrows every string; protobuf-c only reads them. */
	p.n_string_table = b.strs.n;
	p.string_table = (char **)b.strs.strs;
	p.time_nanos = cd->window.start_real_ns;
	p.duration_nanos = cd->window.duration_ns > INT64_MAX ? INT64_MAX : (int64_t)cd->window.duration_ns;
	p.period_type = &b.period_type;
	p.period = 1; /* not sampled: every block is there */
	p.n_comment = b.ncomments;
	p.comment = b.comments;

	len = perftools__profiles__profile__get_packed_size(&p);
	if (len > PPROF_MAX_PACKED) {
		err = -E2BIG;
		goto cleanup;
	}
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (perftools__profiles__profile__pack(&p, buf) != len) {
		err = -EIO;
		goto cleanup;
	}
	err = put_gzip(f, buf, len);
cleanup:
	free(buf);
	pprof_build_release(&b);
	return err;
}
