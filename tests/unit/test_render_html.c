/* test_render_html.c: unit tests of report.html and of render_all_files, on hand-built capdata. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "render_world.h"

static json_t *incident_extra(void)
{
	json_t *samples = json_array();
	int i;

	for (i = 0; i < 12; i++)
		json_array_append_new(samples, json_pack("{s:f, s:f}", "t_s", i * 0.5 - 4, "value", i < 8 ? 10.0 : 900.0));
	json_array_append_new(samples, json_pack("{s:s, s:f}", "t_s", "<img src=x>", "value", 1.0));
	return json_pack("{s:{s:s, s:s}, s:{s:s, s:f, s:o}}", "verdict", "kind", "mmap_lock",
			 "summary", "alloc held mmap_lock for 1 s <script>x</script>",
			 "trigger", "metric", "p99_ms", "threshold", 200.0, "samples", samples);
}

static void test_html_page(void **state)
{
	struct rworld w;
	char *html = NULL;
	json_t *extra = incident_extra();

	(void)state;
	rworld_init(&w, true);
	RW_RENDER(html, render_html(f, &w.cd, &w.agg, extra));
	assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	/* Self-contained: nothing may be loaded, by policy and in fact. */
	assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none';"));
	assert_null(strstr(html, "src=\"http"));
	assert_null(strstr(html, "href=\"http"));
	assert_null(strstr(html, "<link"));
	/* Verdict, figures, the two pictures inline, sites, drops, trigger. */
	assert_non_null(strstr(html, "<span class=\"kind\">mmap_lock</span>alloc held mmap_lock for 1 s "
				     "&lt;script&gt;x&lt;/script&gt;</p>"));
	assert_non_null(strstr(html, "<h2 id=\"figures\">"));
	assert_non_null(strstr(html, "<svg version=\"1.1\" class=\"stt\""));
	assert_non_null(strstr(html, "<svg version=\"1.1\" class=\"stf-flame\""));
	assert_null(strstr(html, "<?xml"));
	assert_non_null(strstr(html, "<h2 id=\"callsites\">"));
	assert_non_null(strstr(html, "<td class=\"bad\">ringbuf_full</td><td class=\"n bad\">3</td>"));
	assert_non_null(strstr(html, "<td>kstack_collision</td><td class=\"n\">0</td>"));
	assert_non_null(strstr(html, "some lost data"));
	assert_non_null(strstr(html, "<h2 id=\"trigger\">"));
	assert_non_null(strstr(html, "<tr><td>metric</td><td>p99_ms</td></tr>"));
	assert_non_null(strstr(html, "<h3>samples (13)</h3>"));
	assert_non_null(strstr(html, "<svg class=\"chart\""));
	assert_non_null(strstr(html, "<td>&lt;img src=x&gt;</td>"));
	assert_non_null(strstr(html, "+7.000 s into the window"));
	/* The call sites: the top one is the workers' futex wait; stacks listed. */
	assert_non_null(strstr(html, "<li class=\"k\">rwsem_down_read_slowpath <small>[k]</small></li>"));
	/* Scripts: the timeline's tooltip, the flame graph's tooltip and its
	 * controls; nothing a name could have opened. */
	assert_int_equal(rw_count(html, "<script"), 3);
	assert_int_equal(rw_count(html, "<script type=\"text/javascript\"><![CDATA["), 3);
	rw_assert_no_injection(html);
	rw_assert_attrs_escaped(html);
	free(html);
	json_decref(extra);
	rworld_free(&w);
}

static void test_html_without_verdict(void **state)
{
	struct rworld w;
	char *html = NULL;

	(void)state;
	rworld_init(&w, false);
	w.cd.drops[0].value = 0;
	RW_RENDER(html, render_html(f, &w.cd, &w.agg, NULL));
	assert_non_null(strstr(html, "No verdict"));
	assert_non_null(strstr(html, "all are 0: nothing was lost."));
	assert_null(strstr(html, "<h2 id=\"trigger\">"));
	free(html);
	rworld_free(&w);
}

static void test_render_all_files(void **state)
{
	struct rworld w;
	char dir[] = "/tmp/test_render_html.XXXXXX", path[512], err[256];
	static const char *const files[] = { "profile.folded", "report.json", "flamegraph.svg",
					     "timeline.svg", "profile.pb.gz", "report.html" };
	struct stat st;
	size_t i;
	DIR *d;
	struct dirent *e;
	int n = 0;

	(void)state;
	rworld_init(&w, true);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(render_all_files(dir, &w.cd, &w.agg, NULL, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_true(st.st_size > 0);
	}
	/* No temporary file is left behind. */
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		assert_true(e->d_name[0] != '.');
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 6);
	assert_int_equal(rmdir(dir), 0);
	/* A directory that cannot be written: a one-line reason naming the file. */
	assert_true(render_all_files("/nonexistent/dir", &w.cd, &w.agg, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/dir/"));
	rworld_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_page),
		cmocka_unit_test(test_html_without_verdict),
		cmocka_unit_test(test_render_all_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
