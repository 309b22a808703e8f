/* profile_prep.c: the pprof made fit for Pyroscope and Parca (checked, renumbered, renamed, split), their labels and sample IDs.
 *
 * The rules met are the servers' own (docs/profiles.md cites them):
 * - Pyroscope (pkg/validation ValidateProfile): no location or function id
 *   0, no '-' in a sample type's name, valid UTF-8 in every string, at most
 *   max-profile-stacktrace-samples samples and max-profile-size-bytes
 *   uncompressed bytes, a time inside the ingestion window.
 * - Parca (ValidatePprofProfile): string 0 is "", mapping, function and
 *   location ids equal to their position + 1, every index in range, no
 *   location id 0 in a sample, as many values as sample types.
 * Ids are renumbered in table order, so a profile that already meets the
 * rules (render's) comes out with the same ids.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "deliver/profile_prep.h"
#include "render/pprof_types.h"

#define PREP_MAX_INPUT (1u << 30)       /* bytes of a decompressed pprof */
#define PREP_MAX_PARTS 4096
#define WINDOW_BACK_NS (3000ULL * 1000000000ULL)    /* 50 min: Pyroscope's 1 h, less a margin */
#define WINDOW_AHEAD_NS (300ULL * 1000000000ULL)    /* 5 min: its 10 min, less a margin */

void push_note_add(char *note, size_t cap, const char *fmt, ...)
{
	size_t at = strnlen(note, cap);
	va_list ap;

	if (at + 3 >= cap)
		return;
	if (at) {
		memcpy(note + at, "; ", 3);
		at += 2;
	}
	va_start(ap, fmt);
	vsnprintf(note + at, cap - at, fmt, ap);
	va_end(ap);
}

/* ---- gzip in and out ---- */

static int gunzip_buf(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream zs = { 0 };
	size_t cap = len * 4 + 4096, n = 0;
	unsigned char *buf = malloc(cap);
	int zr = Z_OK;

	if (!buf)
		return -ENOMEM;
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	while (zr != Z_STREAM_END) {
		if (n == cap) {
			unsigned char *nb;

			if (cap >= PREP_MAX_INPUT) {
				zr = Z_MEM_ERROR;
				break;
			}
			cap = cap * 2 > PREP_MAX_INPUT ? PREP_MAX_INPUT : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				zr = Z_MEM_ERROR;
				break;
			}
			buf = nb;
		}
		zs.next_out = buf + n;
		zs.avail_out = (uInt)(cap - n);
		zr = inflate(&zs, Z_NO_FLUSH);
		n = cap - zs.avail_out;
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		if (zr == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
			zr = Z_DATA_ERROR; /* truncated */
			break;
		}
	}
	inflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(buf);
		return zr == Z_MEM_ERROR ? -E2BIG : -EINVAL;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

static int gzip_buf(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream zs = { 0 };
	unsigned char *buf;
	size_t cap;
	int zr;

	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, (uLong)len) + 64;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len; /* len <= PUSH_MAX_PROFILE_BYTES */
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	zr = deflate(&zs, Z_FINISH);
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* ---- the source profile, checked ---- */

struct idmap { uint64_t id; size_t index; };

static int cmp_idmap(const void *a, const void *b)
{
	const struct idmap *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct src {
	const Profile *p;
	char **strs;            /* the string table, sanitized, then renamed sample types */
	size_t nstrs;
	char **owned;           /* strs entries this file allocated (NULL: borrowed) */
	int64_t *type_str;      /* per sample type: the index of its (renamed) name */
	struct idmap *maps, *locs, *funcs;
	size_t *loc_map;        /* per location: index of its mapping, SIZE_MAX: none */
	size_t *line_fn;        /* per line (flattened): index of its function, SIZE_MAX: none */
	size_t *line_at;        /* per location: its first entry in line_fn */
	size_t *sample_loc;     /* per sample location (flattened): location index, SIZE_MAX: dropped */
	size_t *sample_at;      /* per sample: first entry in sample_loc */
	size_t zero_refs;       /* location id 0 in samples (dropped) */
	size_t bad_utf8;        /* strings with bytes replaced */
	char renamed[128];      /* the first sample type renamed */
};

static bool valid_utf8(const char *s, size_t *bad_at)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (u[i]) {
		unsigned c = u[i], n, j;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; cp = c & 0x07;
		} else {
			goto bad;
		}
		for (j = 1; j <= n; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (u[i + j] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			goto bad;
		i += n + 1;
		continue;
bad:
		if (bad_at)
			*bad_at = i;
		return false;
	}
	return true;
}

/* A copy of s with every byte that breaks UTF-8 replaced by '?'. */
static char *sanitize_utf8(const char *s)
{
	char *c = strdup(s);
	size_t at;

	if (!c)
		return NULL;
	while (!valid_utf8(c, &at))
		c[at] = '?';
	return c;
}

static bool str_ok(const struct src *s, int64_t i)
{
	return i >= 0 && (uint64_t)i < s->p->n_string_table;
}

static int build_idmap(struct idmap **out, size_t n, const uint64_t *ids, const char *what,
		       char *err, size_t errlen)
{
	struct idmap *m = malloc((n ? n : 1) * sizeof(*m));
	size_t i;

	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		m[i] = (struct idmap){ .id = ids[i], .index = i };
	qsort(m, n, sizeof(*m), cmp_idmap);
	for (i = 1; i < n; i++) {
		if (m[i].id == m[i - 1].id) {
			snprintf(err, errlen, "malformed pprof: two %ss have id %" PRIu64, what, m[i].id);
			free(m);
			return -EINVAL;
		}
	}
	*out = m;
	return 0;
}

static size_t idmap_find(const struct idmap *m, size_t n, uint64_t id)
{
	struct idmap key = { .id = id }, *hit = bsearch(&key, m, n, sizeof(*m), cmp_idmap);

	return hit ? hit->index : SIZE_MAX;
}

static void src_release(struct src *s)
{
	size_t i;

	if (s->owned)
		for (i = 0; i < s->nstrs; i++)
			free(s->owned[i]);
	free(s->owned);
	free(s->strs);
	free(s->type_str);
	free(s->maps); free(s->locs); free(s->funcs);
	free(s->loc_map); free(s->line_fn); free(s->line_at);
	free(s->sample_loc); free(s->sample_at);
}

/* Every string index of the profile in range, and the strings fixed. */
static int check_strings(struct src *s, char *err, size_t errlen)
{
	const Profile *p = s->p;
	size_t i, j, extra = p->n_sample_type + 1;

	if (p->n_string_table == 0 || p->string_table[0][0] != '\0') {
		snprintf(err, errlen, "malformed pprof: string 0 of the table must be \"\"");
		return -EINVAL;
	}
#define CHECK(idx, what) do { if (!str_ok(s, (idx))) { \
		snprintf(err, errlen, "malformed pprof: %s names string %" PRId64 " of %zu", what, \
			(int64_t)(idx), p->n_string_table); return -EINVAL; } } while (0)
	for (i = 0; i < p->n_sample_type; i++) {
		CHECK(p->sample_type[i]->type, "a sample type");
		CHECK(p->sample_type[i]->unit, "a sample unit");
	}
	for (i = 0; i < p->n_sample; i++)
		for (j = 0; j < p->sample[i]->n_label; j++) {
			CHECK(p->sample[i]->label[j]->key, "a sample label");
			CHECK(p->sample[i]->label[j]->str, "a sample label");
			CHECK(p->sample[i]->label[j]->num_unit, "a sample label");
		}
	for (i = 0; i < p->n_mapping; i++) {
		CHECK(p->mapping[i]->filename, "a mapping");
		CHECK(p->mapping[i]->build_id, "a mapping");
	}
	for (i = 0; i < p->n_function; i++) {
		CHECK(p->function[i]->name, "a function");
		CHECK(p->function[i]->system_name, "a function");
		CHECK(p->function[i]->filename, "a function");
	}
	for (i = 0; i < p->n_comment; i++)
		CHECK(p->comment[i], "a comment");
	CHECK(p->drop_frames, "drop_frames");
	CHECK(p->keep_frames, "keep_frames");
	CHECK(p->default_sample_type, "default_sample_type");
	if (p->period_type) {
		CHECK(p->period_type->type, "the period type");
		CHECK(p->period_type->unit, "the period unit");
	}
#undef CHECK
	/* Room for a renamed copy of each sample type's name. */
	s->nstrs = p->n_string_table;
	s->strs = calloc(s->nstrs + extra, sizeof(*s->strs));
	s->owned = calloc(s->nstrs + extra, sizeof(*s->owned));
	s->type_str = calloc(p->n_sample_type + 1, sizeof(*s->type_str));
	if (!s->strs || !s->owned || !s->type_str)
		return -ENOMEM;
	for (i = 0; i < s->nstrs; i++) {
		if (valid_utf8(p->string_table[i], NULL)) {
			s->strs[i] = p->string_table[i];
			continue;
		}
		s->owned[i] = s->strs[i] = sanitize_utf8(p->string_table[i]);
		if (!s->strs[i])
			return -ENOMEM;
		s->bad_utf8++;
	}
	/* Pyroscope rejects a '-' in a sample type's name (a PromQL-like
	 * selector cannot hold it): a '_' takes its place. The string may be
	 * shared with a function's name, so the type gets a copy. */
	for (i = 0; i < p->n_sample_type; i++) {
		int64_t t = p->sample_type[i]->type;
		char *c;

		s->type_str[i] = t;
		if (!strchr(s->strs[t], '-'))
			continue;
		c = strdup(s->strs[t]);
		if (!c)
			return -ENOMEM;
		if (!s->renamed[0])
			snprintf(s->renamed, sizeof(s->renamed), "%s", s->strs[t]);
		for (j = 0; c[j]; j++)
			if (c[j] == '-')
				c[j] = '_';
		s->owned[s->nstrs] = s->strs[s->nstrs] = c;
		s->type_str[i] = (int64_t)s->nstrs++;
	}
	return 0;
}

/* Every id reference resolved to a table index. */
static int check_refs(struct src *s, char *err, size_t errlen)
{
	const Profile *p = s->p;
	uint64_t *ids;
	size_t i, j, n, nlines = 0, nsl = 0, cap;
	int ret;

	cap = p->n_mapping > p->n_location ? p->n_mapping : p->n_location;
	cap = cap > p->n_function ? cap : p->n_function;
	ids = malloc((cap ? cap : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < p->n_mapping; i++)
		ids[i] = p->mapping[i]->id;
	ret = build_idmap(&s->maps, p->n_mapping, ids, "mapping", err, errlen);
	for (i = 0; !ret && i < p->n_location; i++)
		ids[i] = p->location[i]->id;
	if (!ret)
		ret = build_idmap(&s->locs, p->n_location, ids, "location", err, errlen);
	for (i = 0; !ret && i < p->n_function; i++)
		ids[i] = p->function[i]->id;
	if (!ret)
		ret = build_idmap(&s->funcs, p->n_function, ids, "function", err, errlen);
	free(ids);
	if (ret)
		return ret;

	for (i = 0; i < p->n_location; i++)
		nlines += p->location[i]->n_line;
	for (i = 0; i < p->n_sample; i++)
		nsl += p->sample[i]->n_location_id;
	s->loc_map = malloc((p->n_location + 1) * sizeof(*s->loc_map));
	s->line_at = malloc((p->n_location + 1) * sizeof(*s->line_at));
	s->line_fn = malloc((nlines + 1) * sizeof(*s->line_fn));
	s->sample_at = malloc((p->n_sample + 1) * sizeof(*s->sample_at));
	s->sample_loc = malloc((nsl + 1) * sizeof(*s->sample_loc));
	if (!s->loc_map || !s->line_at || !s->line_fn || !s->sample_at || !s->sample_loc)
		return -ENOMEM;
	for (i = 0, n = 0; i < p->n_location; i++) {
		const Location *l = p->location[i];

		/* Id 0 is "none", unless an entry has id 0: then it is that
		 * entry, as Go's reader takes it (producers counting from 0). */
		s->loc_map[i] = idmap_find(s->maps, p->n_mapping, l->mapping_id);
		if (l->mapping_id) {
			if (s->loc_map[i] == SIZE_MAX) {
				snprintf(err, errlen, "malformed pprof: location %" PRIu64 " names mapping %"
					PRIu64 ", which is not in the profile", l->id, l->mapping_id);
				return -EINVAL;
			}
		}
		s->line_at[i] = n;
		for (j = 0; j < l->n_line; j++, n++) {
			uint64_t fid = l->line[j]->function_id;

			s->line_fn[n] = idmap_find(s->funcs, p->n_function, fid);
			if (fid && s->line_fn[n] == SIZE_MAX) {
				snprintf(err, errlen, "malformed pprof: location %" PRIu64 " names function %"
					PRIu64 ", which is not in the profile", l->id, fid);
				return -EINVAL;
			}
		}
	}
	s->line_at[p->n_location] = n;
	for (i = 0, n = 0; i < p->n_sample; i++) {
		const Sample *sm = p->sample[i];

		if (sm->n_value != p->n_sample_type) {
			snprintf(err, errlen, "malformed pprof: sample %zu has %zu values for %zu sample types",
				i, sm->n_value, p->n_sample_type);
			return -EINVAL;
		}
		s->sample_at[i] = n;
		for (j = 0; j < sm->n_location_id; j++, n++) {
			uint64_t lid = sm->location_id[j];

			s->sample_loc[n] = idmap_find(s->locs, p->n_location, lid);
			if (lid == 0 && s->sample_loc[n] == SIZE_MAX) {
				/* Not a location (ids start at 1, unless a location
				 * has id 0, which Go's reader then takes): the frame
				 * is dropped, the value kept. */
				s->zero_refs++;
				continue;
			}
			if (s->sample_loc[n] == SIZE_MAX) {
				snprintf(err, errlen, "malformed pprof: sample %zu names location %" PRIu64
					", which is not in the profile", i, lid);
				return -EINVAL;
			}
		}
	}
	s->sample_at[p->n_sample] = n;
	return 0;
}

/* ---- one part: samples [from, to) with what they use ---- */

struct part_build {
	uint64_t *loc_new, *map_new, *fn_new;   /* per source index: new id, 0 = unused */
	int64_t *str_new;                       /* per source string: new index, -1 = unused */
	const char **strs; size_t nstrs;
	Sample *samples; Sample **sample_ptrs;
	uint64_t *loc_ids;
	Label *labels; Label **label_ptrs;
	Location *locs; Location **loc_ptrs;
	Line *lines; Line **line_ptrs;
	Function *funcs; Function **func_ptrs;
	Mapping *maps; Mapping **map_ptrs;
	ValueType *types; ValueType **type_ptrs; ValueType period_type;
	int64_t *comments;
	size_t nlocs, nfuncs, nmaps;
};

static void part_build_release(struct part_build *b)
{
	free(b->loc_new); free(b->map_new); free(b->fn_new); free(b->str_new); free(b->strs);
	free(b->samples); free(b->sample_ptrs); free(b->loc_ids);
	free(b->labels); free(b->label_ptrs);
	free(b->locs); free(b->loc_ptrs); free(b->lines); free(b->line_ptrs);
	free(b->funcs); free(b->func_ptrs); free(b->maps); free(b->map_ptrs);
	free(b->types); free(b->type_ptrs); free(b->comments);
	memset(b, 0, sizeof(*b));
}

static void use_str(struct part_build *b, int64_t i)
{
	if (b->str_new[i] < 0)
		b->str_new[i] = 0; /* marked; numbered later */
}

static int64_t new_str(const struct part_build *b, int64_t i)
{
	return b->str_new[i];
}

/* Packs samples [from, to) of s into a fresh profile.proto (malloc'd) with
 * extra_comments (NULL-terminated strings) added. */
static int pack_part(const struct src *s, size_t from, size_t to, const char *const *extra,
		     int64_t time_nanos, unsigned char **out, size_t *outlen)
{
	const Profile *p = s->p;
	Profile o = PERFTOOLS__PROFILES__PROFILE__INIT;
	struct part_build b = { 0 };
	size_t i, j, k, nextra = 0, nloc_ids = 0, nlabels = 0, nlines = 0, nstrs_all;
	uint64_t next;
	int ret = -ENOMEM;

	while (extra && extra[nextra])
		nextra++;
	nstrs_all = s->nstrs + nextra;
	b.loc_new = calloc(p->n_location + 1, sizeof(*b.loc_new));
	b.map_new = calloc(p->n_mapping + 1, sizeof(*b.map_new));
	b.fn_new = calloc(p->n_function + 1, sizeof(*b.fn_new));
	b.str_new = malloc(nstrs_all * sizeof(*b.str_new));
	b.strs = malloc(nstrs_all * sizeof(*b.strs));
	if (!b.loc_new || !b.map_new || !b.fn_new || !b.str_new || !b.strs)
		goto cleanup;
	for (i = 0; i < nstrs_all; i++)
		b.str_new[i] = -1;

	/* Mark what the samples use. */
	use_str(&b, 0);
	for (i = from; i < to; i++) {
		const Sample *sm = p->sample[i];

		for (j = s->sample_at[i]; j < s->sample_at[i + 1]; j++) {
			size_t li = s->sample_loc[j];

			if (li == SIZE_MAX)
				continue;
			nloc_ids++;
			if (b.loc_new[li])
				continue;
			b.loc_new[li] = 1;
			if (s->loc_map[li] != SIZE_MAX)
				b.map_new[s->loc_map[li]] = 1;
			for (k = s->line_at[li]; k < s->line_at[li + 1]; k++)
				if (s->line_fn[k] != SIZE_MAX)
					b.fn_new[s->line_fn[k]] = 1;
		}
		for (j = 0; j < sm->n_label; j++) {
			use_str(&b, sm->label[j]->key);
			use_str(&b, sm->label[j]->str);
			use_str(&b, sm->label[j]->num_unit);
		}
		nlabels += sm->n_label;
	}
	for (i = 0; i < p->n_sample_type; i++) {
		use_str(&b, s->type_str[i]);
		use_str(&b, p->sample_type[i]->unit);
	}
	for (i = 0; i < p->n_comment; i++)
		use_str(&b, p->comment[i]);
	for (i = 0; i < nextra; i++)
		use_str(&b, (int64_t)(s->nstrs + i));
	use_str(&b, p->drop_frames);
	use_str(&b, p->keep_frames);
	use_str(&b, p->default_sample_type);
	if (p->period_type) {
		use_str(&b, p->period_type->type);
		use_str(&b, p->period_type->unit);
	}
	/* Ids in table order, from 1. */
	for (i = 0, next = 1; i < p->n_mapping; i++)
		if (b.map_new[i]) {
			b.map_new[i] = next++;
			use_str(&b, p->mapping[i]->filename);
			use_str(&b, p->mapping[i]->build_id);
		}
	b.nmaps = next - 1;
	for (i = 0, next = 1; i < p->n_function; i++)
		if (b.fn_new[i]) {
			b.fn_new[i] = next++;
			use_str(&b, p->function[i]->name);
			use_str(&b, p->function[i]->system_name);
			use_str(&b, p->function[i]->filename);
		}
	b.nfuncs = next - 1;
	for (i = 0, next = 1; i < p->n_location; i++)
		if (b.loc_new[i]) {
			b.loc_new[i] = next++;
			nlines += s->line_at[i + 1] - s->line_at[i];
		}
	b.nlocs = next - 1;
	for (i = 0; i < nstrs_all; i++)
		if (b.str_new[i] >= 0) {
			b.str_new[i] = (int64_t)b.nstrs;
			b.strs[b.nstrs++] = i < s->nstrs ? s->strs[i] : extra[i - s->nstrs];
		}

	/* The tables. */
	b.maps = calloc(b.nmaps + 1, sizeof(*b.maps));
	b.map_ptrs = calloc(b.nmaps + 1, sizeof(*b.map_ptrs));
	b.funcs = calloc(b.nfuncs + 1, sizeof(*b.funcs));
	b.func_ptrs = calloc(b.nfuncs + 1, sizeof(*b.func_ptrs));
	b.locs = calloc(b.nlocs + 1, sizeof(*b.locs));
	b.loc_ptrs = calloc(b.nlocs + 1, sizeof(*b.loc_ptrs));
	b.lines = calloc(nlines + 1, sizeof(*b.lines));
	b.line_ptrs = calloc(nlines + 1, sizeof(*b.line_ptrs));
	b.samples = calloc(to - from + 1, sizeof(*b.samples));
	b.sample_ptrs = calloc(to - from + 1, sizeof(*b.sample_ptrs));
	b.loc_ids = calloc(nloc_ids + 1, sizeof(*b.loc_ids));
	b.labels = calloc(nlabels + 1, sizeof(*b.labels));
	b.label_ptrs = calloc(nlabels + 1, sizeof(*b.label_ptrs));
	b.types = calloc(p->n_sample_type + 1, sizeof(*b.types));
	b.type_ptrs = calloc(p->n_sample_type + 1, sizeof(*b.type_ptrs));
	b.comments = calloc(p->n_comment + nextra + 1, sizeof(*b.comments));
	if (!b.maps || !b.map_ptrs || !b.funcs || !b.func_ptrs || !b.locs || !b.loc_ptrs ||
	    !b.lines || !b.line_ptrs || !b.samples || !b.sample_ptrs || !b.loc_ids || !b.labels ||
	    !b.label_ptrs || !b.types || !b.type_ptrs || !b.comments)
		goto cleanup;
	for (i = 0; i < p->n_mapping; i++) {
		const Mapping *m = p->mapping[i];
		Mapping *nm;

		if (!b.map_new[i])
			continue;
		nm = &b.maps[b.map_new[i] - 1];
		*nm = *m;
		nm->base.unknown_fields = NULL;
		nm->base.n_unknown_fields = 0;
		nm->id = b.map_new[i];
		nm->filename = new_str(&b, m->filename);
		nm->build_id = new_str(&b, m->build_id);
		b.map_ptrs[nm->id - 1] = nm;
	}
	for (i = 0; i < p->n_function; i++) {
		const Function *f = p->function[i];
		Function *nf;

		if (!b.fn_new[i])
			continue;
		nf = &b.funcs[b.fn_new[i] - 1];
		perftools__profiles__function__init(nf);
		nf->id = b.fn_new[i];
		nf->name = new_str(&b, f->name);
		nf->system_name = new_str(&b, f->system_name);
		nf->filename = new_str(&b, f->filename);
		nf->start_line = f->start_line;
		b.func_ptrs[nf->id - 1] = nf;
	}
	for (i = 0, k = 0; i < p->n_location; i++) {
		const Location *l = p->location[i];
		Location *nl;

		if (!b.loc_new[i])
			continue;
		nl = &b.locs[b.loc_new[i] - 1];
		perftools__profiles__location__init(nl);
		nl->id = b.loc_new[i];
		nl->mapping_id = s->loc_map[i] == SIZE_MAX ? 0 : b.map_new[s->loc_map[i]];
		nl->address = l->address;
		nl->is_folded = l->is_folded;
		nl->line = &b.line_ptrs[k];
		for (j = 0; j < l->n_line; j++, k++) {
			size_t fi = s->line_fn[s->line_at[i] + j];

			perftools__profiles__line__init(&b.lines[k]);
			b.lines[k].function_id = fi == SIZE_MAX ? 0 : b.fn_new[fi];
			b.lines[k].line = l->line[j]->line;
			b.line_ptrs[k] = &b.lines[k];
		}
		nl->n_line = l->n_line;
		b.loc_ptrs[nl->id - 1] = nl;
	}
	{
		size_t at = 0, lat = 0;

		for (i = from; i < to; i++) {
			const Sample *sm = p->sample[i];
			Sample *ns = &b.samples[i - from];

			perftools__profiles__sample__init(ns);
			ns->location_id = &b.loc_ids[at];
			for (j = s->sample_at[i]; j < s->sample_at[i + 1]; j++)
				if (s->sample_loc[j] != SIZE_MAX)
					b.loc_ids[at++] = b.loc_new[s->sample_loc[j]];
			ns->n_location_id = (size_t)(&b.loc_ids[at] - ns->location_id);
			ns->n_value = sm->n_value;
			ns->value = sm->value;
			ns->label = &b.label_ptrs[lat];
			for (j = 0; j < sm->n_label; j++, lat++) {
				const Label *lb = sm->label[j];

				perftools__profiles__label__init(&b.labels[lat]);
				b.labels[lat].key = new_str(&b, lb->key);
				b.labels[lat].str = new_str(&b, lb->str);
				b.labels[lat].num = lb->num;
				b.labels[lat].num_unit = new_str(&b, lb->num_unit);
				b.label_ptrs[lat] = &b.labels[lat];
			}
			ns->n_label = sm->n_label;
			b.sample_ptrs[i - from] = ns;
		}
	}
	for (i = 0; i < p->n_sample_type; i++) {
		perftools__profiles__value_type__init(&b.types[i]);
		b.types[i].type = new_str(&b, s->type_str[i]);
		b.types[i].unit = new_str(&b, p->sample_type[i]->unit);
		b.type_ptrs[i] = &b.types[i];
	}
	for (i = 0; i < p->n_comment; i++)
		b.comments[i] = new_str(&b, p->comment[i]);
	for (i = 0; i < nextra; i++)
		b.comments[p->n_comment + i] = new_str(&b, (int64_t)(s->nstrs + i));
	if (p->period_type) {
		perftools__profiles__value_type__init(&b.period_type);
		b.period_type.type = new_str(&b, p->period_type->type);
		b.period_type.unit = new_str(&b, p->period_type->unit);
		o.period_type = &b.period_type;
	}
	/* A default sample type that was renamed follows its type. */
	o.default_sample_type = new_str(&b, p->default_sample_type);
	for (i = 0; i < p->n_sample_type; i++)
		if (p->default_sample_type && p->default_sample_type == p->sample_type[i]->type)
			o.default_sample_type = b.types[i].type;
	o.n_sample_type = p->n_sample_type;
	o.sample_type = b.type_ptrs;
	o.n_sample = to - from;
	o.sample = b.sample_ptrs;
	o.n_mapping = b.nmaps;
	o.mapping = b.map_ptrs;
	o.n_location = b.nlocs;
	o.location = b.loc_ptrs;
	o.n_function = b.nfuncs;
	o.function = b.func_ptrs;
	o.n_string_table = b.nstrs;
	o.string_table = (char **)b.strs; /* protobuf-c only reads them */
	o.drop_frames = new_str(&b, p->drop_frames);
	o.keep_frames = new_str(&b, p->keep_frames);
	o.time_nanos = time_nanos;
	o.duration_nanos = p->duration_nanos;
	o.period = p->period;
	o.n_comment = p->n_comment + nextra;
	o.comment = b.comments;

	*outlen = perftools__profiles__profile__get_packed_size(&o);
	*out = malloc(*outlen ? *outlen : 1);
	if (!*out)
		goto cleanup;
	if (perftools__profiles__profile__pack(&o, *out) != *outlen) {
		free(*out);
		*out = NULL;
		ret = -EIO;
		goto cleanup;
	}
	ret = 0;
cleanup:
	part_build_release(&b);
	return ret;
}

/* ---- splitting ---- */

struct range { size_t from, to; };

/* Appends to r the ranges of [from, to) that fit the caps, halving those
 * that do not. */
static int plan_ranges(const struct src *s, size_t from, size_t to, struct range *r, size_t *n,
		       char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int ret;

	if (to - from <= PUSH_MAX_SAMPLES) {
		ret = pack_part(s, from, to, NULL, 0, &buf, &len);
		free(buf);
		if (ret) {
			snprintf(err, errlen, "cannot encode the profile: %s", strerror(-ret));
			return ret;
		}
	}
	if (to - from <= PUSH_MAX_SAMPLES && len <= PUSH_MAX_PROFILE_BYTES - 4096) {
		if (*n >= PREP_MAX_PARTS) {
			snprintf(err, errlen, "the profile would take over %d requests", PREP_MAX_PARTS);
			return -E2BIG;
		}
		r[(*n)++] = (struct range){ from, to };
		return 0;
	}
	if (to - from <= 1) {
		snprintf(err, errlen, "one sample of the profile alone takes %zu bytes, over the %u a "
			"profile store takes", len, PUSH_MAX_PROFILE_BYTES);
		return -E2BIG;
	}
	ret = plan_ranges(s, from, from + (to - from) / 2, r, n, err, errlen);
	return ret ? ret : plan_ranges(s, from + (to - from) / 2, to, r, n, err, errlen);
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void push_prep_release(struct push_prep *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nparts; i++)
		free(p->parts[i].gz);
	free(p->parts);
	p->parts = NULL;
	p->nparts = 0;
}

int push_prep_profile(const unsigned char *pprof, size_t len, const struct push_prep_opts *o,
		      struct push_prep *out, char *err, size_t errlen)
{
	unsigned char *raw = NULL;
	size_t rawlen = len, i, nranges = 0;
	Profile *p = NULL;
	struct src s = { 0 };
	struct range *ranges = NULL;
	int64_t time_nanos;
	char when[200] = "", partc[128];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!pprof || len == 0) {
		snprintf(err, errlen, "the profile is empty");
		return -1;
	}
	if (len >= 2 && pprof[0] == 0x1f && pprof[1] == 0x8b) {
		ret = gunzip_buf(pprof, len, &raw, &rawlen);
		if (ret) {
			snprintf(err, errlen, ret == -E2BIG ? "the profile is over 1 GiB uncompressed" :
				ret == -ENOMEM ? "out of memory" : "the profile is not valid gzip");
			return -1;
		}
	}
	p = perftools__profiles__profile__unpack(NULL, rawlen, raw ? raw : pprof);
	if (!p) {
		snprintf(err, errlen, "not a pprof profile (profile.proto does not decode)");
		ret = -EINVAL;
		goto cleanup;
	}
	s.p = p;
	if (p->n_sample == 0) {
		/* an incident without a block of min_block or more: nothing
		 * for a store to show, and no request is no failure */
		push_note_add(out->note, sizeof(out->note), "the profile has no samples: nothing sent");
		ret = 0;
		goto cleanup;
	}
	if (p->n_sample_type == 0) {
		snprintf(err, errlen, "malformed pprof: samples without a sample type");
		ret = -EINVAL;
		goto cleanup;
	}
	ret = check_strings(&s, err, errlen);
	if (!ret)
		ret = check_refs(&s, err, errlen);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		goto cleanup;
	}

	time_nanos = p->time_nanos;
	if (o && o->clear_stale_time && time_nanos > 0) {
		uint64_t now = o->now_ns ? o->now_ns : now_real_ns(), t = (uint64_t)time_nanos;

		if (t + WINDOW_BACK_NS < now || t > now + WINDOW_AHEAD_NS) {
			time_t sec = (time_t)(t / 1000000000ULL);
			struct tm tm;
			char iso[40] = "?";

			if (gmtime_r(&sec, &tm))
				strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(when, sizeof(when), "stalltrap: captured at %s (time_nanos %" PRId64
				 "); sent without a time, outside the store's ingestion window", iso, time_nanos);
			push_note_add(out->note, sizeof(out->note), "captured at %s, outside Pyroscope's "
				      "ingestion window: sent without a time (the server stamps it)", iso);
			time_nanos = 0;
		}
	}

	ranges = malloc(PREP_MAX_PARTS * sizeof(*ranges));
	if (!ranges) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	/* Equal chunks under the sample cap, each halved while over the byte cap. */
	{
		size_t k = (p->n_sample + PUSH_MAX_SAMPLES - 1) / PUSH_MAX_SAMPLES, c;

		for (c = 0, ret = 0; c < k && !ret; c++)
			ret = plan_ranges(&s, p->n_sample * c / k, p->n_sample * (c + 1) / k, ranges,
					  &nranges, err, errlen);
	}
	if (ret)
		goto cleanup;
	out->parts = calloc(nranges, sizeof(*out->parts));
	if (!out->parts) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < nranges; i++) {
		const char *extra[3] = { NULL, NULL, NULL };
		size_t ne = 0;
		unsigned char *buf = NULL;
		struct push_part *pt = &out->parts[i];

		if (when[0])
			extra[ne++] = when;
		if (nranges > 1) {
			snprintf(partc, sizeof(partc), "stalltrap: part %zu of %zu (samples %zu..%zu of %zu)",
				 i + 1, nranges, ranges[i].from + 1, ranges[i].to, p->n_sample);
			extra[ne++] = partc;
		}
		ret = pack_part(&s, ranges[i].from, ranges[i].to, extra, time_nanos, &buf, &pt->raw_len);
		if (!ret) {
			ret = gzip_buf(buf, pt->raw_len, &pt->gz, &pt->gz_len);
			free(buf);
		}
		if (ret) {
			snprintf(err, errlen, "cannot encode the profile: %s", strerror(-ret));
			goto cleanup;
		}
		pt->nsamples = ranges[i].to - ranges[i].from;
		out->nparts++;
	}
	if (s.renamed[0])
		push_note_add(out->note, sizeof(out->note), "sample type '%s' sent with '_' for '-'",
			      s.renamed);
	if (s.bad_utf8)
		push_note_add(out->note, sizeof(out->note), "%zu strings had bytes that are not UTF-8 "
			      "(replaced by '?')", s.bad_utf8);
	if (s.zero_refs)
		push_note_add(out->note, sizeof(out->note), "%zu frames with location id 0 dropped",
			      s.zero_refs);
	if (nranges > 1)
		push_note_add(out->note, sizeof(out->note), "split into %zu requests (%zu samples; at "
			      "most %d samples and %u bytes per profile)", nranges, p->n_sample,
			      PUSH_MAX_SAMPLES, PUSH_MAX_PROFILE_BYTES);
	ret = 0;
cleanup:
	free(ranges);
	src_release(&s);
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	free(raw);
	if (ret) {
		push_prep_release(out);
		return -1;
	}
	return 0;
}

/* ---- labels ---- */

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct push_label *)a)->name, ((const struct push_label *)b)->name);
}

int push_labels_collect(const struct push_labels *l, struct push_label *out, size_t *n,
			char *err, size_t errlen)
{
	const struct push_label given[] = {
		{ "service_name", l ? l->service : NULL },
		{ "host", l ? l->host : NULL },
		{ "kind", l ? l->kind : NULL },
		{ "incident", l ? l->incident : NULL },
		{ "pod_uid", l ? l->pod_uid : NULL },
		{ "container_id", l ? l->container_id : NULL },
	};
	size_t i;

	*n = 0;
	if (!l || !l->service || !l->service[0]) {
		snprintf(err, errlen, "no service name: profile stores reject a profile without service_name");
		return -1;
	}
	if (!l->incident || !l->incident[0]) {
		snprintf(err, errlen, "no incident id: it names the profile's sample");
		return -1;
	}
	out[(*n)++] = (struct push_label){ "__name__", PUSH_PROFILE_NAME };
	for (i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
		const char *v = given[i].value;

		if (!v || !v[0])
			continue; /* Prometheus: an empty value is no label */
		if (strlen(v) > PUSH_MAX_LABEL_VALUE) {
			snprintf(err, errlen, "label %s is %zu bytes long, over the %d a profile store takes",
				given[i].name, strlen(v), PUSH_MAX_LABEL_VALUE);
			return -1;
		}
		if (!valid_utf8(v, NULL)) {
			snprintf(err, errlen, "label %s is not valid UTF-8", given[i].name);
			return -1;
		}
		out[(*n)++] = given[i];
	}
	qsort(out, *n, sizeof(*out), cmp_label);
	return 0;
}

/* ---- bodies ---- */

int push_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
	       const struct push_prep_opts *o, push_encode_fn encode, const char *path,
	       const char *content_type, struct push_bodies *out, char *err, size_t errlen)
{
	struct push_label ls[PUSH_MAX_LABELS];
	struct push_prep prep;
	size_t nls, i;

	memset(out, 0, sizeof(*out));
	if (push_labels_collect(l, ls, &nls, err, errlen))
		return -1;
	if (push_prep_profile(pprof, len, o, &prep, err, errlen))
		return -1;
	for (i = 0; i < prep.nparts; i++) {
		char id[37];
		size_t blen = 0;
		unsigned char *body;

		push_sample_id(l->incident, i, id);
		body = encode(&prep.parts[i], ls, nls, id, &blen);
		if (!body || push_bodies_add(out, path, content_type, body, blen)) {
			snprintf(err, errlen, "out of memory");
			push_prep_release(&prep);
			push_bodies_free(out);
			return -1;
		}
	}
	snprintf(out->note, sizeof(out->note), "%s", prep.note);
	push_prep_release(&prep);
	return 0;
}

int push_bodies_add(struct push_bodies *b, const char *path, const char *content_type,
		    unsigned char *data, size_t len)
{
	struct push_body *v = realloc(b->v, (b->n + 1) * sizeof(*v));

	if (!v) {
		free(data);
		return -1;
	}
	b->v = v;
	memset(&v[b->n], 0, sizeof(v[b->n]));
	snprintf(v[b->n].path, sizeof(v[b->n].path), "%s", path);
	snprintf(v[b->n].content_type, sizeof(v[b->n].content_type), "%s", content_type);
	v[b->n].data = data;
	v[b->n].len = len;
	b->n++;
	return 0;
}

void push_bodies_free(struct push_bodies *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		free(b->v[i].data);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}
