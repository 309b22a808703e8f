/* push_send.c: test driver: builds the Pyroscope and Parca requests of a profile.pb(.gz) and POSTs them with libcurl, as the deliver stage does.
 *
 * usage: push_send [--pyroscope URL] [--parca URL] --service S --incident ID
 *                  [--host H] [--kind K] [--pod-uid U] [--container-id C] PROFILE
 * Prints one line per sink ("pyroscope: 3 requests, all 2xx; note: ...");
 * exits 1 when a builder refuses the profile or a request is not answered 2xx
 * (the server's answer is printed), 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "deliver/profile_push.h"

static int post(const char *base, const struct push_body *b, char *answer, size_t cap)
{
	char url[1024], ctype[128];
	struct curl_slist *h = NULL;
	FILE *resp = fmemopen(answer, cap, "w");
	CURL *c = curl_easy_init();
	long code = 0;
	CURLcode rc;

	answer[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", base, b->path);
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", b->content_type);
	h = curl_slist_append(h, ctype);
	if (strstr(b->path, "PusherService"))
		h = curl_slist_append(h, "Connect-Protocol-Version: 1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	rc = curl_easy_perform(c);
	fclose(resp);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(answer, cap, "%s", curl_easy_strerror(rc));
		return -1;
	}
	return code >= 200 && code < 300 ? 0 : (int)code;
}

static int send_sink(const char *name, const char *url, const unsigned char *pb, size_t len,
		     const struct push_labels *l)
{
	struct push_bodies bodies;
	char err[512], answer[4096];
	size_t i;
	int rc;

	rc = strcmp(name, "pyroscope") == 0 ? pyroscope_build(pb, len, l, &bodies, err, sizeof(err))
					    : parca_build(pb, len, l, &bodies, err, sizeof(err));
	if (rc) {
		printf("%s: refused: %s\n", name, err);
		return 1;
	}
	for (i = 0; i < bodies.n; i++) {
		rc = post(url, &bodies.v[i], answer, sizeof(answer));
		if (rc) {
			printf("%s: request %zu of %zu: %s%d: %s\n", name, i + 1, bodies.n,
			       rc > 0 ? "HTTP " : "", rc > 0 ? rc : 0, answer);
			push_bodies_free(&bodies);
			return 1;
		}
	}
	printf("%s: %zu requests, all 2xx%s%s\n", name, bodies.n, bodies.note[0] ? "; note: " : "",
	       bodies.note);
	push_bodies_free(&bodies);
	return 0;
}

int main(int argc, char **argv)
{
	const char *pyro = NULL, *parca = NULL, *path = NULL;
	struct push_labels l = { 0 };
	unsigned char *pb = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int i, ret = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = strcmp(a, "--pyroscope") == 0 ? &pyro : strcmp(a, "--parca") == 0 ? &parca :
			strcmp(a, "--service") == 0 ? &l.service : strcmp(a, "--incident") == 0 ? &l.incident :
			strcmp(a, "--host") == 0 ? &l.host : strcmp(a, "--kind") == 0 ? &l.kind :
			strcmp(a, "--pod-uid") == 0 ? &l.pod_uid : strcmp(a, "--container-id") == 0 ? &l.container_id : NULL;

		if (dst && v) {
			*dst = v;
			i++;
		} else if (!dst && a[0] != '-' && !path) {
			path = a;
		} else {
			fprintf(stderr, "push_send: bad argument %s\n", a);
			return 2;
		}
	}
	if (!path || (!pyro && !parca)) {
		fprintf(stderr, "usage: push_send [--pyroscope URL] [--parca URL] --service S --incident ID "
			"[--host H] [--kind K] [--pod-uid U] [--container-id C] PROFILE\n");
		return 2;
	}
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "push_send: %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			pb = realloc(pb, cap);
			if (!pb)
				return 2;
		}
		size_t n = fread(pb + len, 1, cap - len, f);

		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pyro)
		ret |= send_sink("pyroscope", pyro, pb, len, &l);
	if (parca)
		ret |= send_sink("parca", parca, pb, len, &l);
	curl_global_cleanup();
	free(pb);
	return ret;
}
