/* test_watch_exposition.c: table-driven tests of the exposition parser, selectors and metric readers. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "watch/exposition.h"

static const char good[] =
	"# HELP http_request_duration_seconds Request latency.\n"
	"# TYPE http_request_duration_seconds histogram\n"
	"http_request_duration_seconds_bucket{method=\"GET\",le=\"0.1\"} 5\n"
	"http_request_duration_seconds_bucket{method=\"GET\",le=\"0.5\"} 8\n"
	"http_request_duration_seconds_bucket{method=\"GET\",le=\"+Inf\"} 10\n"
	"http_request_duration_seconds_bucket{method=\"POST\",le=\"0.1\"} 1\n"
	"http_request_duration_seconds_bucket{method=\"POST\",le=\"0.5\"} 1\n"
	"http_request_duration_seconds_bucket{method=\"POST\",le=\"+Inf\"} 2\n"
	"http_request_duration_seconds_sum{method=\"GET\"} 3.5\n"
	"http_request_duration_seconds_count{method=\"GET\"} 10\n"
	"# TYPE rpc_seconds summary\n"
	"rpc_seconds{quantile=\"0.5\"} 0.01\n"
	"rpc_seconds{quantile=\"0.99\"} 0.25\n"
	"rpc_seconds_sum 12\n"
	"rpc_seconds_count 400\n"
	"queue_depth{shard=\"a\"} 3 1714566896789\n"
	"queue_depth{shard=\"b\",} 7\r\n"
	"   weird_spacing\t{ a = \"x\\\"y\\\\z\\n\" }   NaN\n"
	"untyped_thing -Inf\n"
	"big 1.5e+3\n"
	"\n"
	"# a free comment\n"
	"# EOF\n";

static void test_parse_good(void **state)
{
	struct expo *e = NULL;
	char err[256] = "";
	const struct expo_sample *s;

	assert_int_equal(expo_parse(good, strlen(good), &e, err, sizeof(err)), 0);
	assert_int_equal(expo_count(e), 17);
	s = expo_sample(e, 0);
	assert_string_equal(s->name, "http_request_duration_seconds_bucket");
	assert_int_equal(s->nlabels, 2);
	assert_string_equal(s->labels[1].name, "le");
	assert_string_equal(s->labels[1].value, "0.1");
	s = expo_sample(e, 13);
	assert_string_equal(s->name, "queue_depth");
	assert_true(s->value == 7);
	s = expo_sample(e, 14);
	assert_string_equal(s->name, "weird_spacing");
	assert_string_equal(s->labels[0].value, "x\"y\\z\n");
	assert_true(isnan(s->value));
	assert_true(isinf(expo_sample(e, 15)->value) && expo_sample(e, 15)->value < 0);
	assert_true(expo_sample(e, 16)->value == 1500);
	assert_int_equal(expo_declared_type(e, "rpc_seconds"), EXPO_SUMMARY);
	assert_int_equal(expo_declared_type(e, "queue_depth"), EXPO_UNTYPED);
	expo_free(e);
}

static void test_parse_bad(void **state)
{
	static const struct { const char *in; int ret; const char *msg; } cases[] = {
		{ "foo\n", -EINVAL, "line 1" },
		{ "foo bar\n", -EINVAL, "bad value" },
		{ "ok 1\n1foo 2\n", -EINVAL, "line 2: expected a metric name" },
		{ "foo{a=\"b} 1\n", -EINVAL, "unterminated" },
		{ "foo{a=b} 1\n", -EINVAL, "quoted value" },
		{ "foo{a=\"\\q\"} 1\n", -EINVAL, "bad escape" },
		{ "foo{a=\"b\"}1\n", -EINVAL, "space before the value" },
		{ "foo{a=\"b\" c=\"d\"} 1\n", -EINVAL, "',' or '}'" },
		{ "foo 1 2 3\n", -EINVAL, "junk" },
		{ "foo 1 -\n", -EINVAL, "junk" },
		{ "foo 0x10\n", -EINVAL, "bad value" },
		{ "foo 1.2.3\n", -EINVAL, "bad value" },
		{ "# TYPE foo bogus\n", -EINVAL, "unknown type" },
		{ "# TYPE foo gauge extra\n", -EINVAL, "junk" },
		{ "# TYPE\n", -EINVAL, "metric name" },
		{ "# TYPE", -EINVAL, "metric name" },              /* found by fuzz_exposition */
		{ "<html><body>Not found</body></html>\n", -EINVAL, "line 1" },
		{ "foo{:a=\"b\"} 1\n", -EINVAL, "label name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expo *e = NULL;
		char err[256] = "";
		int ret = expo_parse(cases[i].in, strlen(cases[i].in), &e, err, sizeof(err));

		if (ret != cases[i].ret || !strstr(err, cases[i].msg))
			fail_msg("case %zu '%s': ret %d err '%s'", i, cases[i].in, ret, err);
		assert_null(e);
	}
	{
		struct expo *e = NULL;
		char err[64];

		assert_int_equal(expo_parse("a 1\0b 2", 7, &e, err, sizeof(err)), -EINVAL);
	}
}

/* After the first poll only the asked family is parsed: its samples, and
 * its readers' answers, are those of the full parse; other families' lines,
 * even malformed ones, are skipped; its own malformed lines still fail. */
static void test_parse_only(void **state)
{
	static const char other_bad[] = "# TYPE rpc_seconds summary\n"
					 "rpc_secondsX{ 1\n"
					 "rpc_seconds{quantile=\"0.99\"} 0.25\n"
					 "rpc_seconds_count 400\n"
					 "other{{{ junk\n";
	static const char own_bad[] = "rpc_seconds{quantile=\"0.99\" 0.25\n";
	struct expo *e = NULL, *all = NULL;
	struct expo_sel sel;
	char err[256] = "";
	double les[8], counts[8], lesa[8], countsa[8], v, c;
	enum expo_type t;
	int n;

	(void)state;
	assert_int_equal(expo_sel_parse("http_request_duration_seconds{method=\"GET\"}", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_parse(good, strlen(good), &all, err, sizeof(err)), 0);
	assert_int_equal(expo_parse_only(good, strlen(good), sel.name, &e, err, sizeof(err)), 0);
	assert_int_equal(expo_count(e), 8);
	for (size_t i = 0; i < expo_count(e); i++)
		assert_int_equal(strncmp(expo_sample(e, i)->name, sel.name, strlen(sel.name)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), 0);
	assert_int_equal(t, EXPO_HISTOGRAM);
	n = expo_read_histogram(e, &sel, les, counts, 8);
	assert_int_equal(n, expo_read_histogram(all, &sel, lesa, countsa, 8));
	assert_int_equal(n, 3);
	assert_memory_equal(les, lesa, sizeof(les[0]) * 3);
	assert_memory_equal(counts, countsa, sizeof(counts[0]) * 3);
	expo_free(e);
	expo_free(all);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("rpc_seconds", &sel, err, sizeof(err)), 0);
	assert_int_not_equal(expo_parse(other_bad, strlen(other_bad), &e, err, sizeof(err)), 0);
	assert_int_equal(expo_parse_only(other_bad, strlen(other_bad), sel.name, &e, err, sizeof(err)), 0);
	assert_int_equal(expo_count(e), 2);
	assert_int_equal(expo_metric_type(e, &sel, &t), 0);
	assert_int_equal(t, EXPO_SUMMARY);
	assert_int_equal(expo_read_summary(e, &sel, 0.99, &v, &c), 0);
	assert_true(v == 0.25 && c == 400);
	expo_free(e);
	assert_int_equal(expo_parse_only(own_bad, strlen(own_bad), sel.name, &e, err, sizeof(err)), -EINVAL);
	assert_null(e);
	expo_sel_release(&sel);
}

static void test_selectors(void **state)
{
	static const struct { const char *in; int ret; const char *name; size_t nlabels; } cases[] = {
		{ "up", 0, "up", 0 },
		{ "http_seconds{method=\"GET\"}", 0, "http_seconds", 1 },
		{ "x{a=\"1\",b=\"2\",}", 0, "x", 2 },
		{ "ns:metric_rate5m", 0, "ns:metric_rate5m", 0 },
		{ "", -EINVAL, NULL, 0 },
		{ "1abc", -EINVAL, NULL, 0 },
		{ "foo bar", -EINVAL, NULL, 0 },
		{ "foo{a=b}", -EINVAL, NULL, 0 },
		{ "foo ", -EINVAL, NULL, 0 },
		{ "foo{a=\"b\"", -EINVAL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expo_sel sel;
		char err[128] = "";
		int ret = expo_sel_parse(cases[i].in, &sel, err, sizeof(err));

		if (ret != cases[i].ret)
			fail_msg("case %zu '%s': ret %d", i, cases[i].in, ret);
		if (!ret) {
			assert_string_equal(sel.name, cases[i].name);
			assert_int_equal(sel.nlabels, cases[i].nlabels);
		} else {
			assert_true(err[0]);
		}
		expo_sel_release(&sel);
	}
}

static void test_readers(void **state)
{
	struct expo *e = NULL;
	struct expo_sel sel;
	enum expo_type t;
	double les[8], counts[8], v, c;
	char err[128];
	int n;

	assert_int_equal(expo_parse(good, strlen(good), &e, err, sizeof(err)), 0);

	assert_int_equal(expo_sel_parse("http_request_duration_seconds", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), 0);
	assert_int_equal(t, EXPO_HISTOGRAM);
	n = expo_read_histogram(e, &sel, les, counts, 8);
	assert_int_equal(n, 3);      /* summed by le over GET and POST */
	assert_true(les[0] == 0.1 && counts[0] == 6);
	assert_true(les[1] == 0.5 && counts[1] == 9);
	assert_true(isinf(les[2]) && counts[2] == 12);
	assert_int_equal(expo_read_histogram(e, &sel, les, counts, 2), -E2BIG);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("http_request_duration_seconds{method=\"POST\"}", &sel, err, sizeof(err)), 0);
	n = expo_read_histogram(e, &sel, les, counts, 8);
	assert_int_equal(n, 3);
	assert_true(counts[0] == 1 && counts[2] == 2);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("rpc_seconds", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), 0);
	assert_int_equal(t, EXPO_SUMMARY);
	assert_int_equal(expo_read_summary(e, &sel, 0.99, &v, &c), 0);
	assert_true(v == 0.25 && c == 400);
	assert_int_equal(expo_read_summary(e, &sel, 0.9, &v, &c), -ENOENT);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("queue_depth", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), 0);
	assert_int_equal(t, EXPO_GAUGE);
	assert_int_equal(expo_read_value(e, &sel, &v), 0);
	assert_true(v == 7);         /* the worst of the matching series */
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("queue_depth{shard=\"a\"}", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_read_value(e, &sel, &v), 0);
	assert_true(v == 3);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("no_such_metric", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), -ENOENT);
	assert_int_equal(expo_read_value(e, &sel, &v), -ENOENT);
	expo_sel_release(&sel);

	assert_int_equal(expo_sel_parse("queue_depth{shard=\"zz\"}", &sel, err, sizeof(err)), 0);
	assert_int_equal(expo_metric_type(e, &sel, &t), -ENOENT);
	expo_sel_release(&sel);
	expo_free(e);
}

/* Without # TYPE lines the kind is inferred from the series. */
static void test_inferred_types(void **state)
{
	static const char text[] =
		"lat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_count 2\n"
		"sum_q{quantile=\"0.9\"} 0.3\n"
		"plain 4\n"
		"bad_bucket{le=\"abc\"} 1\n";
	static const struct { const char *sel; int ret; enum expo_type t; } cases[] = {
		{ "lat", 0, EXPO_HISTOGRAM },
		{ "sum_q", 0, EXPO_SUMMARY },
		{ "plain", 0, EXPO_GAUGE },
		{ "lat_count", 0, EXPO_GAUGE },
		{ "nothing", -ENOENT, EXPO_UNTYPED },
	};
	struct expo *e = NULL;
	char err[128];

	assert_int_equal(expo_parse(text, strlen(text), &e, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expo_sel sel;
		enum expo_type t = EXPO_UNTYPED;

		assert_int_equal(expo_sel_parse(cases[i].sel, &sel, err, sizeof(err)), 0);
		assert_int_equal(expo_metric_type(e, &sel, &t), cases[i].ret);
		if (!cases[i].ret)
			assert_int_equal(t, cases[i].t);
		expo_sel_release(&sel);
	}
	{
		struct expo_sel sel;
		double les[4], counts[4];

		assert_int_equal(expo_sel_parse("bad", &sel, err, sizeof(err)), 0);
		assert_int_equal(expo_read_histogram(e, &sel, les, counts, 4), -EINVAL);
		expo_sel_release(&sel);
	}
	expo_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_only),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_readers),
		cmocka_unit_test(test_inferred_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
