/* test_watch_sources.c: the pure parts of watch's sources and listener: PromQL answers, tcp://
 * probe addresses, the webhook's bearer token and body. Table-driven. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "watch/sources.h"
#include "watch/listen.h"

static void test_promql(void **state)
{
	static const struct { const char *in; int ret; double want; const char *msg; } cases[] = {
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		  "{\"metric\":{\"a\":\"1\"},\"value\":[1700000000.1,\"0.25\"]},"
		  "{\"metric\":{\"a\":\"2\"},\"value\":[1700000000.1,\"1.5\"]}]}}", 0, 1.5, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"42\"]}}", 0, 42, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		  "{\"metric\":{},\"value\":[1,\"NaN\"]},{\"metric\":{},\"value\":[1,\"3\"]}]}}", 0, 3, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		  "{\"metric\":{},\"value\":[1,\"+Inf\"]}]}}", 0, INFINITY, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", -ENODATA, 0, NULL },
		{ "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 6\"}", -EINVAL, 0,
		  "refused the query: parse error at char 6" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", -EINVAL, 0, "instant vector" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"x\"]}]}}",
		  -EINVAL, 0, "bad sample 0" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1]}]}}",
		  -EINVAL, 0, "bad sample" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\"}}", -EINVAL, 0, "no data.resultType or data.result" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}", -EINVAL, 0, "not an array" },
		{ "{\"data\":{}}", -EINVAL, 0, "no status" },
		{ "<html>", -EINVAL, 0, "malformed PromQL response" },
		{ "", -EINVAL, 0, "malformed PromQL response" },
		{ "{\"status\":\"success\",\"status\":\"error\"}", -EINVAL, 0, "malformed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -1;
		char err[256] = "";
		int ret = source_parse_promql(cases[i].in, strlen(cases[i].in), &v, err, sizeof(err));

		if (ret != cases[i].ret)
			fail_msg("case %zu: ret %d want %d (%s)", i, ret, cases[i].ret, err);
		if (!ret && v != cases[i].want)
			fail_msg("case %zu: value %g want %g", i, v, cases[i].want);
		if (cases[i].msg && !strstr(err, cases[i].msg))
			fail_msg("case %zu: err '%s' lacks '%s'", i, err, cases[i].msg);
	}
}

static void test_tcp_url(void **state)
{
	static const struct { const char *in; int ret; const char *host, *port; } cases[] = {
		{ "tcp://127.0.0.1:8080", 0, "127.0.0.1", "8080" },
		{ "tcp://localhost:1", 0, "localhost", "1" },
		{ "tcp://[::1]:9090", 0, "::1", "9090" },
		{ "tcp://host", -EINVAL, NULL, NULL },
		{ "tcp://:80", -EINVAL, NULL, NULL },
		{ "tcp://h:0", -EINVAL, NULL, NULL },
		{ "tcp://h:65536", -EINVAL, NULL, NULL },
		{ "tcp://h:80x", -EINVAL, NULL, NULL },
		{ "tcp://h/x:80", -EINVAL, NULL, NULL },
		{ "http://h:80", -EINVAL, NULL, NULL },
		{ "tcp://[::1]9090", -EINVAL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64], port[16];
		int ret = source_parse_tcp(cases[i].in, host, sizeof(host), port, sizeof(port));

		if (ret != cases[i].ret)
			fail_msg("case %zu '%s': ret %d", i, cases[i].in, ret);
		if (!ret) {
			assert_string_equal(host, cases[i].host);
			assert_string_equal(port, cases[i].port);
		}
	}
}

static void test_auth(void **state)
{
	static const struct { const char *hdr, *token; bool ok; } cases[] = {
		{ "Bearer s3cret", "s3cret", true },
		{ "Bearer s3cre", "s3cret", false },
		{ "Bearer s3crett", "s3cret", false },
		{ "Bearer S3cret", "s3cret", false },
		{ "bearer s3cret", "s3cret", false },
		{ "Basic s3cret", "s3cret", false },
		{ "Bearer ", "s3cret", false },
		{ NULL, "s3cret", false },
		{ "Bearer ", "", false },
		{ "Bearer x", NULL, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (listen_auth_ok(cases[i].hdr, cases[i].token) != cases[i].ok)
			fail_msg("case %zu", i);
}

static void test_webhook(void **state)
{
	static const struct { const char *body; int ret; const char *reason; } cases[] = {
		{ "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":"
		  "{\"alertname\":\"Frozen\"}},{\"status\":\"resolved\",\"labels\":{\"alertname\":\"Old\"}},"
		  "{\"status\":\"firing\",\"labels\":{\"alertname\":\"Slow\"}}]}", 2, "alert Frozen,Slow" },
		{ "{\"alerts\":[{\"labels\":{}}]}", 1, "alert (unnamed)" },
		{ "{\"alerts\":[]}", 0, "" },
		/* control characters in a name would forge a log line (fuzz_webhook) */
		{ "{\"alerts\":[{\"labels\":{\"alertname\":\"A\\nB\\u0001C\\u007f\"}}]}", 1, "alert A?B?C?" },
		{ "{\"alerts\":[1]}", -EINVAL, NULL },
		{ "{\"status\":\"firing\"}", -EINVAL, NULL },
		{ "[]", -EINVAL, NULL },
		{ "not json", -EINVAL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char reason[64];
		int ret = listen_parse_webhook(cases[i].body, strlen(cases[i].body), NULL, 0, reason, sizeof(reason), NULL);

		if (ret != cases[i].ret)
			fail_msg("case %zu: ret %d", i, ret);
		if (cases[i].reason)
			assert_string_equal(reason, cases[i].reason);
	}
	{
		/* a long list of names is cut, never overflows */
		char body[4096] = "{\"alerts\":[", reason[24];
		size_t n = strlen(body);

		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"labels\":{\"alertname\":\"Alert%d\"}}",
					      i ? "," : "", i);
		snprintf(body + n, sizeof(body) - n, "]}");
		assert_int_equal(listen_parse_webhook(body, strlen(body), NULL, 0, reason, sizeof(reason), NULL), 40);
		assert_true(strlen(reason) < sizeof(reason));
	}
	{
		/* --alert-match: only alerts with every label value count; the others are told apart */
		static const char body[] =
			"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"service\":\"feed\","
			"\"instance\":\"h1\"}},{\"status\":\"firing\",\"labels\":{\"alertname\":\"B\",\"service\":\"cart\"}},"
			"{\"status\":\"firing\",\"labels\":{\"alertname\":\"C\",\"service\":\"feed\",\"instance\":\"h2\"}},"
			"{\"status\":\"resolved\",\"labels\":{\"alertname\":\"D\",\"service\":\"feed\"}},"
			"{\"status\":\"firing\",\"labels\":{\"alertname\":\"E\"}}]}";
		const char *one[] = { "service=feed" }, *two[] = { "service=feed", "instance=h2" },
			   *none[] = { "service=search" };
		char reason[64];
		unsigned ignored = 99;

		assert_int_equal(listen_parse_webhook(body, strlen(body), one, 1, reason, sizeof(reason), &ignored), 2);
		assert_string_equal(reason, "alert A,C");
		assert_int_equal(ignored, 2);
		assert_int_equal(listen_parse_webhook(body, strlen(body), two, 2, reason, sizeof(reason), &ignored), 1);
		assert_string_equal(reason, "alert C");
		assert_int_equal(ignored, 3);
		assert_int_equal(listen_parse_webhook(body, strlen(body), none, 1, reason, sizeof(reason), &ignored), 0);
		assert_int_equal(ignored, 4);
		assert_int_equal(listen_parse_webhook(body, strlen(body), NULL, 0, reason, sizeof(reason), &ignored), 4);
		assert_int_equal(ignored, 0);
	}
	{
		static const struct { const char *m; bool ok; } m[] = {
			{ "service=feed", true }, { "a_1=x=y", true }, { "_x=1", true },
			{ "=feed", false }, { "service=", false }, { "service", false }, { "1x=y", false },
			{ "se-rvice=y", false }, { "", false },
		};
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			if (listen_match_valid(m[i].m) != m[i].ok)
				fail_msg("--alert-match '%s'", m[i].m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promql),
		cmocka_unit_test(test_tcp_url),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_webhook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
