/* http.h: the delivery stage's HTTP client (libcurl): one per sink, its connection reused.
 *
 * HTTPS verifies the server (the system's CAs, or ca_file) and presents a
 * client certificate when given one. Credentials are contents set once; they
 * go into headers only, never into a log line or an error (errors name the
 * URL without its query string). Not thread-safe: one thread per client.
 */
#ifndef STALLTRAP_DELIVER_HTTP_H
#define STALLTRAP_DELIVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_ANSWER 512u   /* bytes of a response body kept (the server's answer, for a parked item) */

struct http_opts {
	const char *ca_file, *cert_file, *key_file;
	const char *bearer;         /* token, or NULL */
	const char *basic;          /* "user:password", or NULL */
	const char *tenant;         /* X-Scope-OrgID, or NULL */
	uint64_t timeout_ms;
	volatile int *abort;        /* when *abort turns non-zero, a request in flight is abandoned */
};

struct http_resp {
	long status;                /* 0: no answer (transport error, timeout, aborted) */
	bool aborted;               /* *abort ended it: not an attempt */
	uint64_t retry_after_ns;    /* the server's Retry-After, 0 if none */
	char error[256];            /* no answer: why (libcurl's words) */
	char answer[HTTP_MAX_ANSWER + 1]; /* the start of the body, printable, NUL-terminated */
};

struct http;

int http_new(struct http **out, const struct http_opts *o);
void http_free(struct http *h);

/* POSTs len bytes of data to url with Content-Type ctype and the extra
 * headers ("Name: value", NULL-terminated list, or NULL). Returns 0 when an
 * answer (any status) came, -EIO otherwise; r is filled either way. */
int http_post(struct http *h, const char *url, const char *ctype, const void *data, size_t len,
	      const char *const *headers, struct http_resp *r);

/* url without userinfo and query: what may appear in a log line. */
void http_redact(const char *url, char *out, size_t len);

/* Whether url is http:// or https:// with a host and no user:password@ (a
 * secret on the command line). Returns NULL if fine, else why not. */
const char *http_url_problem(const char *url);

#endif /* STALLTRAP_DELIVER_HTTP_H */
