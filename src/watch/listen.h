/* listen.h: the watcher's HTTP listener: an Alertmanager webhook receiver and our own /metrics.
 *
 * libmicrohttpd with its own thread on --listen ADDR:PORT (port 0: the
 * kernel picks one; listen_port() says which).
 *   GET /metrics   the text the metrics callback renders (no token: metrics
 *                  are not secret, and scrapers rarely carry one)
 *   POST /webhook  needs "Authorization: Bearer <token>" (compared in
 *                  constant time) before any body is read; the body (at most
 *                  LISTEN_MAX_BODY) must be an Alertmanager webhook message;
 *                  firing alerts go to the alert callback, resolved ones do
 *                  nothing. 401 without the token (or with no token
 *                  configured), 400 for a bad body, 413 past the cap, 503
 *                  when the callback refuses.
 */
#ifndef STALLTRAP_LISTEN_H
#define STALLTRAP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LISTEN_MAX_BODY (1u << 20)
#define LISTEN_MAX_METRICS (64u << 10)   /* bytes of our /metrics */

struct listen_cbs {
	void *arg;
	/* Renders /metrics into buf (at most len bytes, NUL-terminated). */
	void (*metrics)(void *arg, char *buf, size_t len);
	/* Firing alerts, named in reason; returns 0, or a negative errno (busy). */
	int (*alert)(void *arg, const char *reason);
};

struct listener;

struct listen_cfg {
	const char *addr;             /* ADDR:PORT */
	const char *token;            /* the webhook's bearer token; NULL disables the webhook */
	const char *const *match;     /* --alert-match LABEL=VALUE, all must hold */
	size_t nmatch;
	const char *tls_cert, *tls_key; /* PEM contents: serve HTTPS; both NULL: plain HTTP */
};

/* Returns 0 or a negative errno with a one-line reason in err (bad address,
 * address in use, a certificate or key TLS cannot use). */
int listen_start(struct listener **out, const struct listen_cfg *cfg, const struct listen_cbs *cbs,
		 char *err, size_t errlen);
unsigned listen_port(const struct listener *l);
/* Webhook requests refused (no or wrong token). */
uint64_t listen_rejected(const struct listener *l);
/* Firing alerts ignored: their labels did not match --alert-match. */
uint64_t listen_ignored(const struct listener *l);
void listen_stop(struct listener *l);

/* Pure helpers, unit-tested. */
/* Whether the Authorization header value carries token (constant time). */
bool listen_auth_ok(const char *header, const char *token);
/* Whether "LABEL=VALUE" is a valid --alert-match (a Prometheus label name, '=', a value). */
bool listen_match_valid(const char *m);
/* Reads an Alertmanager webhook body: the firing alerts whose labels match
 * every one of match ("LABEL=VALUE", nmatch of them; none: every alert), their
 * names joined with ',' into reason (at most rlen). Returns how many, or
 * -EINVAL for a body that is not a webhook message; *ignored (if not NULL)
 * gets the firing alerts that did not match. */
int listen_parse_webhook(const char *body, size_t len, const char *const *match, size_t nmatch,
			 char *reason, size_t rlen, unsigned *ignored);

#endif /* STALLTRAP_LISTEN_H */
