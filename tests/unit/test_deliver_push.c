/* test_deliver_push.c: unit tests of the Pyroscope and Parca request builders: renumbering, splitting, sample-type rewrite, gzip input, labels, IDs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zlib.h>

#include "deliver/profile_prep.h"
#include "deliver/profile_push.h"
#include "proto/profile.pb-c.h"
#include "proto/pyroscope_push.pb-c.h"

typedef Perftools__Profiles__Profile Profile;

/* ---- a synthetic pprof ---- */

struct gen {
	size_t nsamples, nfuncs, nlocs;
	uint64_t id_base, id_step;      /* ids of mappings, functions, locations */
	const char *type;               /* first sample type's name */
	size_t name_len;                /* function names padded to this length (0: short) */
	int64_t time_nanos;
	int zero_loc_ref;               /* sample 0 also names location id 0 */
	const char *func0;              /* name of function 0 (NULL: "fn0") */
};

static uint64_t gid(const struct gen *g, size_t i) { return g->id_base + g->id_step * i; }

/* Each sample i: locations (i % nlocs), ((i + 1) % nlocs), ((i * 7) % nlocs);
 * values (i + 1) * 1000 ns and 1 block; location j calls function j % nfuncs
 * in mapping j % 2. */
static unsigned char *gen_pprof(const struct gen *g, size_t *len)
{
	Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	size_t nstr = 6 + g->nfuncs, i;
	char **strs = calloc(nstr, sizeof(*strs));
	Perftools__Profiles__ValueType vt[2], *vtp[2], period;
	Perftools__Profiles__Mapping maps[2], *mapp[2];
	Perftools__Profiles__Function *fns = calloc(g->nfuncs, sizeof(*fns)), **fnp = calloc(g->nfuncs, sizeof(*fnp));
	Perftools__Profiles__Location *locs = calloc(g->nlocs, sizeof(*locs)), **locp = calloc(g->nlocs, sizeof(*locp));
	Perftools__Profiles__Line *lines = calloc(g->nlocs, sizeof(*lines)), **linep = calloc(g->nlocs, sizeof(*linep));
	Perftools__Profiles__Sample *ss = calloc(g->nsamples, sizeof(*ss)), **ssp = calloc(g->nsamples, sizeof(*ssp));
	Perftools__Profiles__Label *lab = calloc(g->nsamples, sizeof(*lab)), **labp = calloc(g->nsamples, sizeof(*labp));
	uint64_t *lids = calloc(g->nsamples * 4, sizeof(*lids));
	int64_t *vals = calloc(g->nsamples * 2, sizeof(*vals));
	unsigned char *buf;

	assert_non_null(strs); assert_non_null(fns); assert_non_null(locs); assert_non_null(ss);
	strs[0] = strdup("");
	strs[1] = strdup(g->type ? g->type : "offcpu");
	strs[2] = strdup("nanoseconds");
	strs[3] = strdup("count");
	strs[4] = strdup("comm");
	strs[5] = strdup("/usr/bin/svc");
	for (i = 0; i < g->nfuncs; i++) {
		char name[64];

		snprintf(name, sizeof(name), "fn%zu", i);
		if (i == 0 && g->func0)
			snprintf(name, sizeof(name), "%s", g->func0);
		strs[6 + i] = malloc(g->name_len + sizeof(name));
		sprintf(strs[6 + i], "%s", name);
		if (g->name_len) {
			memset(strs[6 + i] + strlen(name), 'x', g->name_len);
			strs[6 + i][strlen(name) + g->name_len] = '\0';
		}
	}
	for (i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vtp[i] = &vt[i];
		perftools__profiles__mapping__init(&maps[i]);
		maps[i].id = gid(g, i);
		maps[i].filename = 5;
		maps[i].memory_start = 0x1000 * (i + 1);
		maps[i].memory_limit = 0x1000 * (i + 2);
		mapp[i] = &maps[i];
	}
	vt[0].type = 1; vt[0].unit = 2;
	vt[1].type = 3; vt[1].unit = 3;
	perftools__profiles__value_type__init(&period);
	period.type = 1; period.unit = 2;
	for (i = 0; i < g->nfuncs; i++) {
		perftools__profiles__function__init(&fns[i]);
		fns[i].id = gid(g, i);
		fns[i].name = fns[i].system_name = (int64_t)(6 + i);
		fnp[i] = &fns[i];
	}
	for (i = 0; i < g->nlocs; i++) {
		perftools__profiles__location__init(&locs[i]);
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = gid(g, i % g->nfuncs);
		linep[i] = &lines[i];
		locs[i].id = gid(g, i);
		locs[i].mapping_id = gid(g, i % 2);
		locs[i].address = 0x1000 + i;
		locs[i].n_line = 1;
		locs[i].line = &linep[i];
		locp[i] = &locs[i];
	}
	for (i = 0; i < g->nsamples; i++) {
		size_t n = 0;

		perftools__profiles__sample__init(&ss[i]);
		lids[i * 4 + n++] = gid(g, i % g->nlocs);
		lids[i * 4 + n++] = gid(g, (i + 1) % g->nlocs);
		lids[i * 4 + n++] = gid(g, (i * 7) % g->nlocs);
		if (i == 0 && g->zero_loc_ref)
			lids[i * 4 + n++] = 0;
		ss[i].location_id = &lids[i * 4];
		ss[i].n_location_id = n;
		vals[i * 2] = (int64_t)(i + 1) * 1000;
		vals[i * 2 + 1] = 1;
		ss[i].value = &vals[i * 2];
		ss[i].n_value = 2;
		perftools__profiles__label__init(&lab[i]);
		lab[i].key = 4;
		lab[i].str = 5;
		labp[i] = &lab[i];
		ss[i].label = &labp[i];
		ss[i].n_label = 1;
		ssp[i] = &ss[i];
	}
	p.n_sample_type = 2; p.sample_type = vtp;
	p.n_sample = g->nsamples; p.sample = ssp;
	p.n_mapping = 2; p.mapping = mapp;
	p.n_location = g->nlocs; p.location = locp;
	p.n_function = g->nfuncs; p.function = fnp;
	p.n_string_table = nstr; p.string_table = strs;
	p.period_type = &period; p.period = 1;
	p.default_sample_type = 1;
	p.time_nanos = g->time_nanos;
	*len = perftools__profiles__profile__get_packed_size(&p);
	buf = malloc(*len);
	assert_int_equal(perftools__profiles__profile__pack(&p, buf), *len);
	for (i = 0; i < nstr; i++)
		free(strs[i]);
	free(strs); free(fns); free(fnp); free(locs); free(locp); free(lines); free(linep);
	free(ss); free(ssp); free(lab); free(labp); free(lids); free(vals);
	return buf;
}

static unsigned char *gz(const unsigned char *in, size_t len, size_t *outlen)
{
	uLongf cap = compressBound(len) + 64;
	unsigned char *out = malloc(cap);
	z_stream zs = { 0 };

	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static Profile *ungz_profile(const unsigned char *in, size_t len, size_t *rawlen)
{
	z_stream zs = { 0 };
	size_t cap = 64 << 20;
	unsigned char *out = malloc(cap);
	Profile *p;

	assert_true(len >= 2 && in[0] == 0x1f && in[1] == 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	*rawlen = cap - zs.avail_out;
	inflateEnd(&zs);
	p = perftools__profiles__profile__unpack(NULL, *rawlen, out);
	free(out);
	assert_non_null(p);
	return p;
}

/* What both stores check (Pyroscope's ValidateProfile, Parca's
 * ValidatePprofProfile), and the totals. */
struct totals { int64_t ns, count; size_t samples; };

static void check_store_rules(const Profile *p, struct totals *t)
{
	size_t i, j;

	assert_true(p->n_string_table > 0);
	assert_string_equal(p->string_table[0], "");
	for (i = 0; i < p->n_mapping; i++)
		assert_int_equal(p->mapping[i]->id, i + 1);
	for (i = 0; i < p->n_function; i++) {
		assert_int_equal(p->function[i]->id, i + 1);
		assert_true((size_t)p->function[i]->name < p->n_string_table);
	}
	for (i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		assert_int_equal(l->id, i + 1);
		assert_true(l->mapping_id <= p->n_mapping);
		for (j = 0; j < l->n_line; j++)
			assert_true(l->line[j]->function_id >= 1 && l->line[j]->function_id <= p->n_function);
	}
	for (i = 0; i < p->n_sample_type; i++)
		assert_null(strchr(p->string_table[p->sample_type[i]->type], '-'));
	assert_true(p->n_sample <= PUSH_MAX_SAMPLES);
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		assert_int_equal(s->n_value, p->n_sample_type);
		for (j = 0; j < s->n_location_id; j++)
			assert_true(s->location_id[j] >= 1 && s->location_id[j] <= p->n_location);
		for (j = 0; j < s->n_label; j++)
			assert_true(s->label[j]->key > 0 && (size_t)s->label[j]->key < p->n_string_table);
		t->ns += s->value[0];
		t->count += s->value[1];
	}
	t->samples += p->n_sample;
}

static const char *fn_of(const Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l = p->location[loc_id - 1];

	return p->string_table[p->function[l->line[0]->function_id - 1]->name];
}

static const struct push_labels LABELS = {
	.service = "redis", .host = "db-7", .kind = "lock_convoy",
	.incident = "20261205T080000Z-redis-server-4242", .pod_uid = "", .container_id = NULL,
};

/* The PushRequest of body b: its labels as "name=value," and its one sample. */
static Stalltrap__Pyroscope__PushRequest *decode_push(const struct push_body *b, char *labels, size_t cap)
{
	Stalltrap__Pyroscope__PushRequest *r;
	size_t i;

	assert_string_equal(b->path, "/push.v1.PusherService/Push");
	assert_string_equal(b->content_type, "application/proto");
	r = stalltrap__pyroscope__push_request__unpack(NULL, b->len, b->data);
	assert_non_null(r);
	assert_int_equal(r->n_series, 1);
	assert_int_equal(r->series[0]->n_samples, 1);
	labels[0] = '\0';
	for (i = 0; i < r->series[0]->n_labels; i++) {
		size_t at = strlen(labels);

		snprintf(labels + at, cap - at, "%s=%s,", r->series[0]->labels[i]->name,
			 r->series[0]->labels[i]->value);
	}
	return r;
}

/* ---- the tests ---- */

static void test_renumber(void **state)
{
	struct gen g = { .nsamples = 50, .nfuncs = 9, .nlocs = 20, .id_base = 1000, .id_step = 7 };
	struct push_bodies out;
	struct totals t = { 0 };
	char err[256], labels[512];
	size_t len, rawlen, i;
	unsigned char *pb = gen_pprof(&g, &len);
	Stalltrap__Pyroscope__PushRequest *r;
	Profile *p;

	(void)state;
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.note, "");
	r = decode_push(&out.v[0], labels, sizeof(labels));
	/* sorted, __name__ first, the empty pod_uid and the NULL container_id left out */
	assert_string_equal(labels, "__name__=offcpu,host=db-7,incident=20261205T080000Z-redis-server-4242,"
			    "kind=lock_convoy,service_name=redis,");
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	check_store_rules(p, &t);
	assert_int_equal(t.samples, 50);
	assert_int_equal(t.ns, 50 * 51 / 2 * 1000);
	assert_int_equal(t.count, 50);
	assert_int_equal(p->n_location, 20);
	assert_int_equal(p->n_function, 9);
	assert_int_equal(p->n_mapping, 2);
	/* the stacks name the same functions as before renumbering */
	for (i = 0; i < p->n_sample; i++) {
		char want[16];

		snprintf(want, sizeof(want), "fn%zu", (i % 20) % 9);
		assert_string_equal(fn_of(p, p->sample[i]->location_id[0]), want);
		snprintf(want, sizeof(want), "fn%zu", ((i * 7) % 20) % 9);
		assert_string_equal(fn_of(p, p->sample[i]->location_id[2]), want);
		assert_int_equal(p->location[p->sample[i]->location_id[0] - 1]->address, 0x1000 + i % 20);
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);
}

static void test_sample_type_rewrite(void **state)
{
	struct gen g = { .nsamples = 5, .nfuncs = 3, .nlocs = 4, .id_base = 1, .id_step = 1,
			 .type = "off-cpu", .func0 = "off-cpu" };
	struct push_bodies out;
	char err[256], labels[512];
	size_t len, rawlen, i;
	unsigned char *pb = gen_pprof(&g, &len);
	Stalltrap__Pyroscope__PushRequest *r;
	Profile *p;
	bool fn_kept = false;

	(void)state;
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out.note, "sample type 'off-cpu' sent with '_' for '-'"));
	r = decode_push(&out.v[0], labels, sizeof(labels));
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	assert_string_equal(p->string_table[p->sample_type[0]->type], "off_cpu");
	assert_string_equal(p->string_table[p->default_sample_type], "off_cpu");
	assert_string_equal(p->string_table[p->period_type->type], "off-cpu"); /* only sample types are checked */
	for (i = 0; i < p->n_function; i++)
		fn_kept |= strcmp(p->string_table[p->function[i]->name], "off-cpu") == 0;
	assert_true(fn_kept); /* the function that shared the string keeps its name */
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);
}

static void test_split_by_samples(void **state)
{
	struct gen g = { .nsamples = 9000, .nfuncs = 300, .nlocs = 5000, .id_base = 3, .id_step = 2 };
	struct push_bodies out;
	struct totals t = { 0 };
	char err[256], labels[512], id[37], first_labels[512] = "";
	size_t len, rawlen, i, j;
	unsigned char *pb = gen_pprof(&g, &len);

	(void)state;
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 3);
	assert_non_null(strstr(out.note, "split into 3 requests"));
	for (i = 0; i < out.n; i++) {
		Stalltrap__Pyroscope__PushRequest *r = decode_push(&out.v[i], labels, sizeof(labels));
		const Stalltrap__Pyroscope__RawSample *s = r->series[0]->samples[0];
		Profile *p = ungz_profile(s->raw_profile.data, s->raw_profile.len, &rawlen);
		char want[64];
		bool said = false;

		check_store_rules(p, &t);
		assert_int_equal(p->n_sample, 3000);
		assert_true(rawlen <= PUSH_MAX_PROFILE_BYTES);
		/* every part a self-contained profile with only what it uses */
		assert_true(p->n_location <= 5000);
		push_sample_id(LABELS.incident, i, id);
		assert_string_equal(s->id, id);
		for (j = 0; j < i; j++) {
			char other[37];

			push_sample_id(LABELS.incident, j, other);
			assert_string_not_equal(other, id);
		}
		snprintf(want, sizeof(want), "stalltrap: part %zu of 3", i + 1);
		for (j = 0; j < p->n_comment; j++)
			said |= strncmp(p->string_table[p->comment[j]], want, strlen(want)) == 0;
		assert_true(said);
		if (i == 0)
			snprintf(first_labels, sizeof(first_labels), "%s", labels);
		assert_string_equal(labels, first_labels); /* one series */
		perftools__profiles__profile__free_unpacked(p, NULL);
		stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	}
	assert_int_equal(t.samples, 9000);
	assert_int_equal(t.ns, (int64_t)9000 * 9001 / 2 * 1000);
	assert_int_equal(t.count, 9000);
	push_bodies_free(&out);
	free(pb);
}

static void test_split_by_bytes(void **state)
{
	/* 200 functions of 40 KB names: 8 MB of strings, under the sample cap */
	struct gen g = { .nsamples = 400, .nfuncs = 200, .nlocs = 200, .id_base = 1, .id_step = 1,
			 .name_len = 40000 };
	struct push_bodies out;
	struct totals t = { 0 };
	char err[256];
	size_t len, rawlen, i;
	unsigned char *pb = gen_pprof(&g, &len);

	(void)state;
	assert_true(len > 2 * PUSH_MAX_PROFILE_BYTES);
	assert_int_equal(parca_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_true(out.n >= 3);
	assert_non_null(strstr(out.note, "split into"));
	for (i = 0; i < out.n; i++) {
		json_error_t jerr;
		json_t *j = json_loadb((const char *)out.v[i].data, out.v[i].len, 0, &jerr);
		const char *b64 = json_string_value(json_object_get(json_array_get(json_object_get(
			json_array_get(json_object_get(j, "series"), 0), "samples"), 0), "rawProfile"));
		size_t blen;
		unsigned char *bin;
		Profile *p;

		assert_non_null(b64);
		bin = malloc(strlen(b64));
		/* decode base64 by hand: the builder's encoder is what is under test */
		{
			static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
			uint32_t acc = 0;
			int bits = 0;
			const char *c;

			blen = 0;
			for (c = b64; *c && *c != '='; c++) {
				acc = acc << 6 | (uint32_t)(strchr(abc, *c) - abc);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					bin[blen++] = (unsigned char)(acc >> bits);
				}
			}
		}
		p = ungz_profile(bin, blen, &rawlen);
		assert_true(rawlen <= PUSH_MAX_PROFILE_BYTES);
		check_store_rules(p, &t);
		perftools__profiles__profile__free_unpacked(p, NULL);
		free(bin);
		json_decref(j);
	}
	assert_int_equal(t.samples, 400);
	assert_int_equal(t.ns, (int64_t)400 * 401 / 2 * 1000);
	push_bodies_free(&out);
	free(pb);
}

static void test_gzip_input(void **state)
{
	struct gen g = { .nsamples = 30, .nfuncs = 5, .nlocs = 8, .id_base = 9, .id_step = 3 };
	struct push_bodies a, b;
	char err[256];
	size_t len, zlen, i;
	unsigned char *pb = gen_pprof(&g, &len), *z = gz(pb, len, &zlen);

	(void)state;
	assert_int_equal(parca_build(pb, len, &LABELS, &a, err, sizeof(err)), 0);
	assert_int_equal(parca_build(z, zlen, &LABELS, &b, err, sizeof(err)), 0);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		assert_int_equal(a.v[i].len, b.v[i].len);
		assert_memory_equal(a.v[i].data, b.v[i].data, a.v[i].len);
	}
	/* a truncated gzip is an error, not a short profile */
	push_bodies_free(&b);
	assert_int_equal(parca_build(z, zlen - 9, &LABELS, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "the profile is not valid gzip");
	assert_int_equal(b.n, 0);
	push_bodies_free(&a);
	free(pb);
	free(z);
}

static void test_parca_json(void **state)
{
	struct gen g = { .nsamples = 3, .nfuncs = 2, .nlocs = 3, .id_base = 5, .id_step = 5 };
	struct push_labels l = LABELS;
	struct push_bodies out;
	char err[256];
	size_t len, i;
	unsigned char *pb = gen_pprof(&g, &len);
	json_error_t jerr;
	json_t *j, *labels;
	const char *want[][2] = { { "__name__", "offcpu" }, { "container_id", "c0ffee" },
				  { "host", "db-7" }, { "incident", LABELS.incident },
				  { "kind", "lock_convoy" }, { "pod_uid", "8d5f-11" },
				  { "service_name", "redis" } };

	(void)state;
	l.pod_uid = "8d5f-11";
	l.container_id = "c0ffee";
	assert_int_equal(parca_build(pb, len, &l, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0].path, "/profiles/writeraw");
	assert_string_equal(out.v[0].content_type, "application/json");
	j = json_loadb((const char *)out.v[0].data, out.v[0].len, 0, &jerr);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "series")), 1);
	labels = json_object_get(json_object_get(json_array_get(json_object_get(j, "series"), 0), "labels"), "labels");
	assert_int_equal(json_array_size(labels), 7);
	for (i = 0; i < 7; i++) {
		assert_string_equal(json_string_value(json_object_get(json_array_get(labels, i), "name")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(json_array_get(labels, i), "value")), want[i][1]);
	}
	assert_non_null(json_string_value(json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(j, "series"), 0), "samples"), 0), "rawProfile")));
	json_decref(j);
	push_bodies_free(&out);
	free(pb);
}

static void test_labels_refused(void **state)
{
	struct gen g = { .nsamples = 2, .nfuncs = 2, .nlocs = 2, .id_base = 1, .id_step = 1 };
	struct push_labels l = LABELS;
	struct push_bodies out;
	char err[256], big[PUSH_MAX_LABEL_VALUE + 2];
	size_t len;
	unsigned char *pb = gen_pprof(&g, &len);

	(void)state;
	l.service = NULL;
	assert_int_equal(pyroscope_build(pb, len, &l, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "service_name"));
	l.service = "";
	assert_int_equal(parca_build(pb, len, &l, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "service_name"));
	l = LABELS;
	l.host = "bad\xff";
	assert_int_equal(pyroscope_build(pb, len, &l, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "label host is not valid UTF-8");
	l = LABELS;
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	l.kind = big;
	assert_int_equal(pyroscope_build(pb, len, &l, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "label kind is 2049 bytes long"));
	l = LABELS;
	l.incident = NULL;
	assert_int_equal(pyroscope_build(pb, len, &l, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no incident id"));
	assert_int_equal(out.n, 0);
	free(pb);
}

static void test_bad_profiles(void **state)
{
	struct gen g = { .nsamples = 4, .nfuncs = 2, .nlocs = 3, .id_base = 1, .id_step = 1 };
	struct push_bodies out;
	char err[256];
	size_t len, i;
	unsigned char *pb = gen_pprof(&g, &len);
	Profile *p;
	uint8_t *buf;
	const unsigned char junk[] = "this is not a profile at all, not even close";

	(void)state;
	assert_int_equal(pyroscope_build(junk, sizeof(junk), &LABELS, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "not a pprof profile (profile.proto does not decode)");
	assert_int_equal(pyroscope_build(pb, 0, &LABELS, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "the profile is empty");
	/* a location naming a function that is not there */
	p = perftools__profiles__profile__unpack(NULL, len, pb);
	p->location[1]->line[0]->function_id = 77;
	buf = malloc(perftools__profiles__profile__get_packed_size(p));
	i = perftools__profiles__profile__pack(p, buf);
	assert_int_equal(parca_build(buf, i, &LABELS, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "malformed pprof: location 2 names function 77, which is not in the profile");
	/* no samples: nothing to send, and no failure */
	{
		struct gen e = { .nsamples = 0, .nfuncs = 1, .nlocs = 1, .id_base = 1, .id_step = 1 };
		size_t elen;
		unsigned char *epb = gen_pprof(&e, &elen);

		assert_int_equal(pyroscope_build(epb, elen, &LABELS, &out, err, sizeof(err)), 0);
		assert_int_equal(out.n, 0);
		assert_string_equal(out.note, "the profile has no samples: nothing sent");
		free(epb);
	}
	/* a string index out of the table */
	p->location[1]->line[0]->function_id = 1;
	p->function[0]->name = 99;
	i = perftools__profiles__profile__pack(p, buf);
	assert_int_equal(parca_build(buf, i, &LABELS, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed pprof: a function names string 99"));
	/* two locations with one id */
	p->function[0]->name = 6;
	p->location[2]->id = 1;
	i = perftools__profiles__profile__pack(p, buf);
	assert_int_equal(parca_build(buf, i, &LABELS, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "malformed pprof: two locations have id 1");
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	free(pb);
}

static void test_zero_ids_and_utf8(void **state)
{
	/* ids from 0: a function, a location and a mapping with id 0, which both
	 * stores reject; a sample naming location 0; a comm that is not UTF-8 */
	struct gen g = { .nsamples = 6, .nfuncs = 3, .nlocs = 4, .id_base = 0, .id_step = 1,
			 .zero_loc_ref = 1, .func0 = "bad\xc3(" };
	struct push_bodies out;
	struct totals t = { 0 };
	char err[256], labels[512];
	size_t len, rawlen;
	unsigned char *pb = gen_pprof(&g, &len);
	Stalltrap__Pyroscope__PushRequest *r;
	Profile *p;

	(void)state;
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_null(strstr(out.note, "dropped")); /* id 0 is location 0 here, as Go reads it */
	assert_non_null(strstr(out.note, "1 strings had bytes that are not UTF-8"));
	r = decode_push(&out.v[0], labels, sizeof(labels));
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	check_store_rules(p, &t);
	assert_int_equal(t.ns, 21 * 1000);
	assert_int_equal(p->sample[0]->n_location_id, 4);
	assert_string_equal(fn_of(p, p->sample[0]->location_id[0]), "bad?(");
	assert_string_equal(fn_of(p, p->sample[0]->location_id[3]), "bad?(");
	assert_int_equal(p->location[p->sample[0]->location_id[3] - 1]->mapping_id, 1);
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);

	/* ids from 1: a location id 0 in a sample names nothing, and is dropped */
	g.id_base = 1;
	pb = gen_pprof(&g, &len);
	assert_int_equal(parca_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out.note, "1 frames with location id 0 dropped"));
	push_bodies_free(&out);
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	r = decode_push(&out.v[0], labels, sizeof(labels));
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	memset(&t, 0, sizeof(t));
	check_store_rules(p, &t);
	assert_int_equal(t.ns, 21 * 1000);
	assert_int_equal(p->sample[0]->n_location_id, 3);
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);
}

static void test_stale_time(void **state)
{
	struct timespec now;
	struct gen g = { .nsamples = 2, .nfuncs = 2, .nlocs = 2, .id_base = 1, .id_step = 1 };
	struct push_bodies out;
	char err[256], labels[512];
	size_t len, rawlen, i;
	unsigned char *pb;
	Stalltrap__Pyroscope__PushRequest *r;
	Profile *p;
	bool said = false;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &now);
	/* two hours old: Pyroscope would refuse it (1 h window): sent without time */
	g.time_nanos = (int64_t)(now.tv_sec - 7200) * 1000000000LL;
	pb = gen_pprof(&g, &len);
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out.note, "outside Pyroscope's ingestion window"));
	r = decode_push(&out.v[0], labels, sizeof(labels));
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	assert_int_equal(p->time_nanos, 0);
	for (i = 0; i < p->n_comment; i++)
		said |= strstr(p->string_table[p->comment[i]], "stalltrap: captured at ") != NULL;
	assert_true(said);
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);
	/* a minute old: kept */
	g.time_nanos = (int64_t)(now.tv_sec - 60) * 1000000000LL;
	pb = gen_pprof(&g, &len);
	assert_int_equal(pyroscope_build(pb, len, &LABELS, &out, err, sizeof(err)), 0);
	assert_string_equal(out.note, "");
	r = decode_push(&out.v[0], labels, sizeof(labels));
	p = ungz_profile(r->series[0]->samples[0]->raw_profile.data, r->series[0]->samples[0]->raw_profile.len, &rawlen);
	assert_int_equal(p->time_nanos, g.time_nanos);
	perftools__profiles__profile__free_unpacked(p, NULL);
	stalltrap__pyroscope__push_request__free_unpacked(r, NULL);
	push_bodies_free(&out);
	free(pb);
}

static void test_sample_ids(void **state)
{
	/* RFC 9562's namespace for DNS names; Python's uuid.uuid5(NAMESPACE_DNS, "python.org") */
	const uint8_t dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
				  0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	char id[37], again[37];

	(void)state;
	push_uuid_v5(dns, "python.org", 10, id);
	assert_string_equal(id, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
	push_uuid_v5(dns, "", 0, id);
	assert_string_equal(id, "4ebd0208-8328-5d69-8c44-ec50939c0967");
	/* an incident id that is a UUID is the ID itself */
	push_sample_id("0F3C6A52-1B7E-4E0B-9C1D-2A3B4C5D6E7F", 0, id);
	assert_string_equal(id, "0f3c6a52-1b7e-4e0b-9c1d-2a3b4c5d6e7f");
	/* else a stable v5 UUID of it, another for each later part */
	push_sample_id(LABELS.incident, 0, id);
	push_sample_id(LABELS.incident, 0, again);
	assert_string_equal(id, again);
	assert_int_equal(id[14], '5');
	push_sample_id(LABELS.incident, 1, again);
	assert_string_not_equal(id, again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renumber),
		cmocka_unit_test(test_sample_type_rewrite),
		cmocka_unit_test(test_split_by_samples),
		cmocka_unit_test(test_split_by_bytes),
		cmocka_unit_test(test_gzip_input),
		cmocka_unit_test(test_parca_json),
		cmocka_unit_test(test_labels_refused),
		cmocka_unit_test(test_bad_profiles),
		cmocka_unit_test(test_zero_ids_and_utf8),
		cmocka_unit_test(test_stale_time),
		cmocka_unit_test(test_sample_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
