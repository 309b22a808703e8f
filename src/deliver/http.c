/* http.c: the delivery stage's libcurl client: POST with auth, TLS, Retry-After, bounded answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "deliver/http.h"

struct http {
	CURL *c;
	struct http_opts o;
	char *bearer_hdr, *tenant_hdr; /* "Authorization: Bearer ..." etc., built once */
	char *basic;
	char errbuf[CURL_ERROR_SIZE];
};

struct answer {
	char *buf;
	size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t k = sz * n, room = HTTP_MAX_ANSWER - a->len;

	if (room) {
		size_t c = k < room ? k : room;

		memcpy(a->buf + a->len, p, c);
		a->len += c;
	}
	return k; /* the rest is read and dropped: the connection stays reusable */
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	volatile int *abort_flag = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return abort_flag && *abort_flag;
}

static char *header_of(const char *name, const char *prefix, const char *v)
{
	char *h = NULL;

	if (v && asprintf(&h, "%s: %s%s", name, prefix, v) < 0)
		h = NULL;
	return h;
}

int http_new(struct http **out, const struct http_opts *o)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->o = *o;
	h->c = curl_easy_init();
	h->bearer_hdr = header_of("Authorization", "Bearer ", o->bearer);
	h->tenant_hdr = header_of("X-Scope-OrgID", "", o->tenant);
	h->basic = o->basic ? strdup(o->basic) : NULL;
	if (!h->c || (o->bearer && !h->bearer_hdr) || (o->tenant && !h->tenant_hdr) || (o->basic && !h->basic)) {
		http_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void http_free(struct http *h)
{
	if (!h)
		return;
	if (h->c)
		curl_easy_cleanup(h->c);
	wipe(h->bearer_hdr);
	wipe(h->tenant_hdr);
	wipe(h->basic);
	free(h);
}

void http_redact(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *host = p ? p + 3 : url, *at, *end;

	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	snprintf(out, len, "%.*s%.*s", (int)(host - url), url, (int)strcspn(at ? at + 1 : host, "?#"),
		 at ? at + 1 : host);
}

const char *http_url_problem(const char *url)
{
	const char *host;
	size_t n;

	if (!strncmp(url, "http://", 7))
		host = url + 7;
	else if (!strncmp(url, "https://", 8))
		host = url + 8;
	else
		return "expected an http:// or https:// URL";
	n = strcspn(host, "/?#");
	if (!n)
		return "no host";
	if (memchr(host, '@', n))
		return "credentials in a URL would show in ps and logs: give them in a file (--*-basic-auth-file, --*-token-file)";
	if (strpbrk(url, " \t\r\n"))
		return "blanks in the URL";
	return NULL;
}

int http_post(struct http *h, const char *url, const char *ctype, const void *data, size_t len,
	      const char *const *headers, struct http_resp *r)
{
	struct curl_slist *hl = NULL, *t;
	struct answer a = { .buf = r->answer };
	char ct[160];
	curl_off_t ra = 0;
	CURLcode rc;
	CURL *c = h->c;

	memset(r, 0, sizeof(*r));
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	hl = curl_slist_append(hl, ct);
	/* no "Expect: 100-continue" round trip for bodies over 1 KiB */
	if (hl && (t = curl_slist_append(hl, "Expect:")))
		hl = t;
	if (hl && h->bearer_hdr && (t = curl_slist_append(hl, h->bearer_hdr)))
		hl = t;
	if (hl && h->tenant_hdr && (t = curl_slist_append(hl, h->tenant_hdr)))
		hl = t;
	for (size_t i = 0; hl && headers && headers[i]; i++)
		if ((t = curl_slist_append(hl, headers[i])))
			hl = t;
	if (!hl) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return -EIO;
	}
	curl_easy_reset(c); /* keeps the connection cache */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "stalltrap-deliver");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->o.timeout_ms ? h->o.timeout_ms : 10000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->o.timeout_ms ? h->o.timeout_ms : 10000));
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)h->o.abort);
	if (h->o.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_file);
	if (h->o.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->o.cert_file);
	if (h->o.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->o.key_file);
	if (h->basic) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, h->basic);
	}
	h->errbuf[0] = '\0';
	rc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	r->answer[a.len] = '\0';
	for (size_t i = 0; i < a.len; i++)
		if ((unsigned char)r->answer[i] < 0x20 || r->answer[i] == 0x7f)
			r->answer[i] = ' ';
	if (rc != CURLE_OK) {
		r->aborted = rc == CURLE_ABORTED_BY_CALLBACK;
		snprintf(r->error, sizeof(r->error), "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		r->retry_after_ns = (uint64_t)ra * 1000000000ull;
	return 0;
}
