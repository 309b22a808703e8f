/* test_deliver.c: the delivery stage's pure parts: retry policy, Standard Webhooks signature, ids, origins, the queue's files, retention. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "deliver/deliver.h"
#include "deliver/http.h"
#include "deliver/incident.h"
#include "deliver/queue.h"
#include "deliver/retention.h"
#include "deliver/retry.h"
#include "deliver/sinks.h"
#include "util/parse.h"

static void test_classify(void **state)
{
	static const struct { long status; enum retry_outcome want; } cases[] = {
		{ 200, RO_DONE }, { 202, RO_DONE }, { 204, RO_DONE }, { 0, RO_RETRY }, { 408, RO_RETRY },
		{ 429, RO_RETRY }, { 500, RO_RETRY }, { 502, RO_RETRY }, { 503, RO_RETRY }, { 504, RO_RETRY },
		{ 400, RO_PARK }, { 401, RO_PARK }, { 403, RO_PARK }, { 404, RO_PARK }, { 413, RO_PARK },
		{ 422, RO_PARK }, { 301, RO_PARK },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(retry_classify(cases[i].status), cases[i].want);
}

static void test_backoff(void **state)
{
	const uint64_t ms = 1000000ull;

	(void)state;
	/* doubling from min, capped at max, the jitter in the upper half */
	assert_int_equal(retry_wait_ns(1, 500 * ms, 300000 * ms, 0, 0, 0), 250 * ms);
	assert_int_equal(retry_wait_ns(1, 500 * ms, 300000 * ms, UINT32_MAX, 0, 0), 500 * ms);
	assert_int_equal(retry_wait_ns(2, 500 * ms, 300000 * ms, UINT32_MAX, 0, 0), 1000 * ms);
	assert_int_equal(retry_wait_ns(4, 500 * ms, 300000 * ms, UINT32_MAX, 0, 0), 4000 * ms);
	assert_int_equal(retry_wait_ns(30, 500 * ms, 300000 * ms, UINT32_MAX, 0, 0), 300000 * ms);
	assert_int_equal(retry_wait_ns(1000, 500 * ms, 300000 * ms, 0, 0, 0), 150000 * ms);
	for (uint32_t r = 0; r < 4000000000u; r += 123456789u) {
		uint64_t w = retry_wait_ns(3, 500 * ms, 300000 * ms, r, 0, 0);

		assert_true(w >= 1000 * ms && w <= 2000 * ms);
	}
	/* Retry-After as given, up to the cap */
	assert_int_equal(retry_wait_ns(1, 500 * ms, 300000 * ms, 7, 3000 * ms, 3600000 * ms), 3000 * ms);
	assert_int_equal(retry_wait_ns(1, 500 * ms, 300000 * ms, 7, 7200000 * ms, 3600000 * ms), 3600000 * ms);
}

/* The Standard Webhooks specification's own example. */
static void test_webhook_signature(void **state)
{
	unsigned char *key;
	size_t keylen;
	char sig[128];
	const char *body = "{\"test\": 2432232314}";

	(void)state;
	assert_int_equal(sink_webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", &key, &keylen), 0);
	assert_int_equal(keylen, 24);
	assert_int_equal(sink_webhook_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
					   sig, sizeof(sig)), 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(key);
	/* a raw key is used as it is */
	assert_int_equal(sink_webhook_key("plain-secret\n", &key, &keylen), 0);
	assert_int_equal(keylen, 12);
	assert_memory_equal(key, "plain-secret", 12);
	free(key);
	assert_int_equal(sink_webhook_key("whsec_!!!", &key, &keylen), -EINVAL);
	assert_int_equal(sink_webhook_key("\n", &key, &keylen), -EINVAL);
}

static void test_ids_and_origins(void **state)
{
	char id[256];
	struct deliver_origin o;

	(void)state;
	deliver_incident_id("web1", "/var/lib/stalltrap/20261205-101500-feed-42/", id, sizeof(id));
	assert_string_equal(id, "web1/20261205-101500-feed-42");
	deliver_incident_id("web1", "inc", id, sizeof(id));
	assert_string_equal(id, "web1/inc");

	deliver_origin_from_cgroup("/kubepods.slice/kubepods-burstable.slice/"
				   "kubepods-burstable-pod1b2c3d4e_5f60_4718_9a0b_c1d2e3f4a5b6.slice/"
				   "cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", &o);
	assert_string_equal(o.pod_uid, "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6");
	assert_string_equal(o.container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	deliver_origin_from_cgroup("/kubepods/burstable/pod1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6/"
				   "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", &o);
	assert_string_equal(o.pod_uid, "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6");
	assert_string_equal(o.container_id, "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	deliver_origin_from_cgroup("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9f8e7d6c_1111_2222_3333_444455556666.slice", &o);
	assert_string_equal(o.pod_uid, "9f8e7d6c-1111-2222-3333-444455556666");
	assert_string_equal(o.container_id, "");
	deliver_origin_from_cgroup("/system.slice/feed.service", &o);
	assert_string_equal(o.pod_uid, "");
	assert_string_equal(o.container_id, "");
	deliver_origin_from_cgroup("/kubepods/podnothex/abc", &o);
	assert_string_equal(o.pod_uid, "");
}

static void test_urls(void **state)
{
	char out[256];

	(void)state;
	assert_null(http_url_problem("http://127.0.0.1:9093"));
	assert_null(http_url_problem("https://am.example:9093/path"));
	assert_non_null(http_url_problem("ftp://x"));
	assert_non_null(http_url_problem("http://"));
	assert_non_null(http_url_problem("https://user:pw@am.example/"));
	http_redact("https://am.example:9093/api?token=secret", out, sizeof(out));
	assert_string_equal(out, "https://am.example:9093/api");
	http_redact("http://u:p@host/x", out, sizeof(out));
	assert_string_equal(out, "http://host/x");
}

static void test_times_and_sizes(void **state)
{
	int64_t ns;
	uint64_t b;

	(void)state;
	assert_int_equal(incident_parse_time("2024-05-01T12:34:56.000Z", &ns), 0);
	assert_int_equal(ns, 1714566896000000000ll);
	assert_int_equal(incident_parse_time("2024-05-01T14:34:56.5+02:00", &ns), 0);
	assert_int_equal(ns, 1714566896500000000ll);
	assert_int_equal(incident_parse_time("2024-05-01 12:34:56", &ns), -EINVAL);
	assert_int_equal(parse_size("500M", &b), 0);
	assert_int_equal(b, 500ull << 20);
	assert_int_equal(parse_size("2GiB", &b), 0);
	assert_int_equal(b, 2ull << 30);
	assert_int_equal(parse_size("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(parse_size("1.5k", &b), 0);
	assert_int_equal(b, 1536);
	assert_int_equal(parse_size("12Q", &b), -EINVAL);
	assert_int_equal(parse_size("-1M", &b), -EINVAL);
	assert_int_equal(parse_size("", &b), -EINVAL);
}

static void test_queue_files(void **state)
{
	char dir[] = "/tmp/test_deliver.XXXXXX", sink[128], q[160], p[256], *buf, **names, a[64], b[64];
	struct stat st;
	size_t len;
	int n, holder;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sink, sizeof(sink), "%s/deliver/webhook", dir);
	assert_int_equal(queue_init_dirs(sink), 0);
	snprintf(q, sizeof(q), "%s/q", sink);
	queue_new_name(a, sizeof(a));
	queue_new_name(b, sizeof(b));
	assert_true(strcmp(a, b) < 0);
	snprintf(p, sizeof(p), "%s.json", b);
	assert_int_equal(queue_write_file(q, p, "{\"id\":\"h/b\"}", 12), 0);
	snprintf(p, sizeof(p), "%s.json", a);
	assert_int_equal(queue_write_file(q, p, "{\"id\":\"h/a\"}", 12), 0);
	snprintf(p, sizeof(p), "%s/%s.json", q, a);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(queue_read_file(p, &buf, &len), 0);
	assert_string_equal(buf, "{\"id\":\"h/a\"}");
	free(buf);
	/* a temp file left by a killed writer is not an item, and is swept */
	assert_int_equal(queue_write_file(q, "zzz.json", "x", 1), 0);
	snprintf(p, sizeof(p), "%s/.tmp-half.json", q);
	fclose(fopen(p, "w"));
	n = queue_list(q, ".json", &names);
	assert_int_equal(n, 3);
	assert_true(!strncmp(names[0], a, strlen(a)) && !strncmp(names[1], b, strlen(b)));
	queue_names_free(names, n);
	queue_sweep_tmp(q);
	assert_int_not_equal(access(p, F_OK), 0);
	/* parked and back */
	assert_int_equal(queue_move(sink, a, "q", "parked"), 0);
	assert_int_equal(queue_list(q, ".json", &names), 2);
	queue_names_free(names, 2);
	assert_int_equal(queue_move(sink, a, "parked", "q"), 0);
	/* the done ledger */
	assert_false(queue_is_done(sink, "h/a"));
	assert_int_equal(queue_mark_done(sink, "h/a"), 0);
	assert_true(queue_is_done(sink, "h/a"));
	/* one holder */
	n = queue_lock(sink, &holder);
	assert_true(n >= 0);
	close(n);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	assert_int_equal(system(p), 0);
}

static const char *g_lines[8];
static int g_nlines;
static void keep_line(const char *l)
{
	if (g_nlines < 8)
		g_lines[g_nlines++] = strdup(l);
}

static void test_retention(void **state)
{
	char dir[] = "/tmp/test_retention.XXXXXX", p[256];
	static const char *const names[] = { "20240101-000000-a-1", "20240102-000000-a-1", "20240103-000000-a-1",
					     "20240104-000000-a-1" };

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 4; i++) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(p, sizeof(p), "%s/%s/report.json", dir, names[i]);
		f = fopen(p, "w");
		for (int k = 0; k < 20000; k++)
			fputc('x', f);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/.20240105-000000-a-1.tmp", dir); /* being written: not counted */
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(retention_apply(dir, 3, 0, keep_line), 1);
	snprintf(p, sizeof(p), "%s/%s", dir, names[0]);
	assert_int_not_equal(access(p, F_OK), 0);
	assert_non_null(strstr(g_lines[0], names[0]));
	assert_non_null(strstr(g_lines[0], "--keep 3"));
	/* by size: each takes ~20 KiB on disk; keep 30 KiB: the newest only */
	assert_int_equal(retention_apply(dir, 0, 30 << 10, keep_line), 2);
	snprintf(p, sizeof(p), "%s/%s", dir, names[3]);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, names[2]);
	assert_int_not_equal(access(p, F_OK), 0);
	/* the newest stays whatever the limit */
	assert_int_equal(retention_apply(dir, 0, 1, keep_line), 0);
	for (int i = 0; i < g_nlines; i++)
		free((void *)g_lines[i]);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_webhook_signature),
		cmocka_unit_test(test_ids_and_origins),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_times_and_sizes),
		cmocka_unit_test(test_queue_files),
		cmocka_unit_test(test_retention),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
