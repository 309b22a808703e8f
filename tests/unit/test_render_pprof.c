/* test_render_pprof.c: unit tests of profile.pb.gz: decoded back with protobuf-c and checked field by field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>

#include <zlib.h>

#include "proto/profile.pb-c.h"
#include "render_world.h"

typedef Perftools__Profiles__Profile Profile;

static Profile *decode(const char *gz, size_t len)
{
	z_stream zs = { 0 };
	size_t cap = 1 << 20, n = 0;
	uint8_t *out = malloc(cap);
	Profile *p;
	int zr;

	assert_non_null(out);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip, not zlib */
	zs.next_in = (uint8_t *)gz;
	zs.avail_in = (uInt)len;
	do {
		if (n == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		zs.next_out = out + n;
		zs.avail_out = (uInt)(cap - n);
		zr = inflate(&zs, Z_NO_FLUSH);
		assert_true(zr == Z_OK || zr == Z_STREAM_END);
		n = cap - zs.avail_out;
	} while (zr != Z_STREAM_END);
	inflateEnd(&zs);
	p = perftools__profiles__profile__unpack(NULL, n, out);
	free(out);
	assert_non_null(p);
	return p;
}

static const char *str(const Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < p->n_string_table);
	return p->string_table[i];
}

static int64_t label_num(const Profile *p, const Perftools__Profiles__Sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_label; i++)
		if (strcmp(str(p, s->label[i]->key), key) == 0)
			return s->label[i]->num;
	fail_msg("no label %s", key);
	return -1;
}

static const char *label_str(const Profile *p, const Perftools__Profiles__Sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_label; i++)
		if (strcmp(str(p, s->label[i]->key), key) == 0)
			return str(p, s->label[i]->str);
	fail_msg("no label %s", key);
	return NULL;
}

static const char *loc_name(const Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l = p->location[loc_id - 1];
	size_t i;

	assert_int_equal(l->id, loc_id);
	assert_int_equal(l->n_line, 1);
	for (i = 0; i < p->n_function; i++)
		if (p->function[i]->id == l->line[0]->function_id)
			return str(p, p->function[i]->name);
	fail_msg("no function %" PRIu64, l->line[0]->function_id);
	return NULL;
}

static void test_pprof_profile(void **state)
{
	struct rworld w;
	char *gz = NULL;
	size_t len = 0, i, j;
	FILE *f;
	Profile *p;
	int64_t sum_ns = 0, sum_count = 0;
	bool saw_drop = false, saw_worker = false;
	json_t *extra = json_pack("{s:{s:s}}", "verdict", "summary", "it was the lock");

	(void)state;
	rworld_init(&w, true);
	f = open_memstream(&gz, &len);
	assert_int_equal(render_pprof(f, &w.cd, &w.agg, extra), 0);
	assert_int_equal(fclose(f), 0);
	assert_true((unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b);
	p = decode(gz, len);

	assert_string_equal(str(p, 0), "");
	assert_int_equal(p->n_sample_type, 2);
	assert_string_equal(str(p, p->sample_type[0]->type), "offcpu");
	assert_string_equal(str(p, p->sample_type[0]->unit), "nanoseconds");
	assert_string_equal(str(p, p->sample_type[1]->type), "count");
	assert_string_equal(str(p, p->default_sample_type), "offcpu");
	assert_int_equal(p->duration_nanos, 10 * RW_S);
	assert_int_equal(p->time_nanos, w.cd.window.start_real_ns);

	/* Totals: every block, once. One sample per (thread, ustack, kstack). */
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		assert_int_equal(s->n_value, 2);
		sum_ns += s->value[0];
		sum_count += s->value[1];
		assert_int_equal(label_num(p, s, "pid"), 100);
		if (label_num(p, s, "tid") == 101 && strcmp(label_str(p, s, "comm"), "worker") == 0 &&
		    s->value[1] == 1) {
			/* The lock wait: leaf first, kernel then user. */
			saw_worker = true;
			assert_int_equal(s->n_location_id, 6);
			assert_string_equal(loc_name(p, s->location_id[0]), "schedule");
			assert_string_equal(loc_name(p, s->location_id[1]), "rwsem_down_read_slowpath");
			assert_string_equal(loc_name(p, s->location_id[3]), "memcpy");
			assert_string_equal(loc_name(p, s->location_id[5]), "start_thread");
			assert_int_equal(s->value[0], RW_S);
		}
	}
	assert_true(saw_worker);
	assert_int_equal(sum_ns, (int64_t)w.offcpu_ns);
	assert_int_equal(sum_ns, (int64_t)w.agg.offcpu_ns);
	assert_int_equal(sum_count, (int64_t)w.nblocks);
	assert_int_equal(p->n_sample, 4 * 2 + 1 + 1); /* workers: queue + fault; disk; alloc */

	/* Mappings: the executable first (pprof names the profile after it),
	 * with build ids, and the kernel's; all symbolized already. */
	assert_int_equal(p->n_mapping, 3);
	assert_string_equal(str(p, p->mapping[0]->filename), "/usr/bin/srv");
	assert_string_equal(str(p, p->mapping[0]->build_id), "1234abcd");
	assert_int_equal(p->mapping[0]->id, 1);
	assert_string_equal(str(p, p->mapping[1]->build_id), "aaaa0000bbbb");
	assert_string_equal(str(p, p->mapping[2]->filename), "[kernel.kallsyms]");
	for (i = 0; i < p->n_mapping; i++) {
		assert_true(p->mapping[i]->has_functions);
		assert_int_equal(p->mapping[i]->id, i + 1);
	}
	/* User locations point at the executable's mapping, kernel ones at the kernel's. */
	for (i = 0; i < p->n_location; i++) {
		const char *name = loc_name(p, p->location[i]->id);

		if (strcmp(name, "worker_main") == 0)
			assert_int_equal(p->location[i]->mapping_id, 1);
		if (strcmp(name, "schedule") == 0)
			assert_int_equal(p->location[i]->mapping_id, 3);
	}

	/* Drops and the verdict are comments. */
	for (j = 0; j < p->n_comment; j++) {
		if (strcmp(str(p, p->comment[j]), "drop ringbuf_full=3") == 0)
			saw_drop = true;
	}
	assert_true(saw_drop);
	assert_string_equal(str(p, p->comment[2]), "verdict: it was the lock");

	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
	json_decref(extra);
	rworld_free(&w);
}

/* Blocks without any stack still count: they get a "[no stack]" location. */
static void test_pprof_no_stack(void **state)
{
	struct rworld w;
	char *gz = NULL;
	size_t len = 0;
	FILE *f;
	Profile *p;
	int64_t t;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(capdata_init(&w.cd), 0);
	t = capdata_thread(&w.cd, 7, 8, "k");
	rw_block(&w, (uint32_t)t, ST_NO_STACK, ST_NO_STACK, CAP_STATE_SLEEPING, 0, 0, 5 * RW_MS);
	assert_int_equal(aggregate_build(&w.agg, &w.cd), 0);
	f = open_memstream(&gz, &len);
	assert_int_equal(render_pprof(f, &w.cd, &w.agg, NULL), 0);
	assert_int_equal(fclose(f), 0);
	p = decode(gz, len);
	assert_int_equal(p->n_sample, 1);
	assert_int_equal(p->sample[0]->value[0], 5 * RW_MS);
	assert_int_equal(p->sample[0]->n_location_id, 1);
	assert_string_equal(loc_name(p, p->sample[0]->location_id[0]), "[no stack]");
	assert_int_equal(p->n_mapping, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
	rworld_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pprof_profile),
		cmocka_unit_test(test_pprof_no_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
