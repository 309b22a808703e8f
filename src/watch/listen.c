/* listen.c: the HTTP listener (libmicrohttpd): Alertmanager webhook and /metrics. */
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "watch/exposition.h"
#include "watch/listen.h"

struct listener {
	struct listen_cbs cbs;
	char *token;
	struct MHD_Daemon *httpd;
	unsigned port;
	char **match;     /* --alert-match LABEL=VALUE, all of them must hold */
	size_t nmatch;
	atomic_uint_least64_t rejected, ignored;
};

/* One request's body, gathered across calls. */
struct req {
	char *body;
	size_t len;
	bool too_big;
};

bool listen_auth_ok(const char *header, const char *token)
{
	size_t hl, tl;
	unsigned char diff = 0;

	if (!header || !token || strncmp(header, "Bearer ", 7))
		return false;
	header += 7;
	hl = strlen(header);
	tl = strlen(token);
	/* constant time in the token's length: no early exit on the first difference */
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(token[i] ^ (i < hl ? header[i] : 0));
	return tl > 0 && hl == tl && !diff;
}

bool listen_match_valid(const char *m)
{
	const char *eq = strchr(m, '=');

	return eq && eq[1] && expo_label_name_valid(m, (size_t)(eq - m));
}

/* Whether the alert's labels hold every LABEL=VALUE of match. */
static bool alert_matches(json_t *labels, const char *const *match, size_t nmatch)
{
	for (size_t i = 0; i < nmatch; i++) {
		const char *eq = strchr(match[i], '=');
		char label[128];
		const char *v;

		if (!eq || (size_t)(eq - match[i]) >= sizeof(label))
			return false;
		memcpy(label, match[i], (size_t)(eq - match[i]));
		label[eq - match[i]] = '\0';
		v = json_string_value(json_object_get(labels, label));
		if (!v || strcmp(v, eq + 1))
			return false;
	}
	return true;
}

int listen_parse_webhook(const char *body, size_t len, const char *const *match, size_t nmatch,
			 char *reason, size_t rlen, unsigned *ignored)
{
	json_t *root = json_loadb(body, len, 0, NULL), *alerts;
	size_t used = 0;
	int firing = 0;

	if (rlen)
		reason[0] = '\0';
	if (ignored)
		*ignored = 0;
	alerts = json_object_get(root, "alerts");
	if (!json_is_array(alerts)) {
		json_decref(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_array_size(alerts); i++) {
		json_t *a = json_array_get(alerts, i), *labels = json_object_get(a, "labels");
		const char *status = json_string_value(json_object_get(a, "status"));
		const char *name = json_string_value(json_object_get(labels, "alertname"));
		int n;

		if (!json_is_object(a)) {
			json_decref(root);
			return -EINVAL;
		}
		if (status && strcmp(status, "firing"))
			continue;
		/* an alert about another service or host is not this watcher's */
		if (!alert_matches(labels, match, nmatch)) {
			if (ignored)
				(*ignored)++;
			continue;
		}
		firing++;
		n = snprintf(reason + used, rlen > used ? rlen - used : 0, "%s%s", used ? "," : "alert ",
			     name ? name : "(unnamed)");
		/* the name goes into log lines and the incident's files: no control characters */
		for (size_t k = used; k < rlen && reason[k]; k++)
			if ((unsigned char)reason[k] < 0x20 || reason[k] == 0x7f)
				reason[k] = '?';
		if (n > 0 && used + (size_t)n < rlen)
			used += (size_t)n;
	}
	json_decref(root);
	return firing;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!strcmp(method, "GET") && !strcmp(url, "/metrics")) {
		char *text = malloc(LISTEN_MAX_METRICS);
		enum MHD_Result ret;

		if (!text)
			return MHD_NO;
		text[0] = '\0';
		l->cbs.metrics(l->cbs.arg, text, LISTEN_MAX_METRICS);
		ret = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text);
		free(text);
		return ret;
	}
	if (strcmp(method, "POST") || strcmp(url, "/webhook"))
		return respond(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: GET /metrics, POST /webhook\n");
	if (!rq) {
		/* first call: headers only; check the token before reading any body */
		if (!l->token || !listen_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
									     MHD_HTTP_HEADER_AUTHORIZATION),
						     l->token)) {
			atomic_fetch_add(&l->rejected, 1);
			return respond(c, MHD_HTTP_UNAUTHORIZED, "text/plain",
				       l->token ? "unauthorized\n" : "webhook disabled: no --token-file\n");
		}
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > LISTEN_MAX_BODY) {
			rq->too_big = true;
		} else if (!rq->too_big) {
			char *p = realloc(rq->body, rq->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			rq->body = p;
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return respond(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", "body too large\n");
	{
		char reason[256];
		unsigned ignored = 0;
		int firing = listen_parse_webhook(rq->body ? rq->body : "", rq->len,
						  (const char *const *)l->match, l->nmatch, reason,
						  sizeof(reason), &ignored);

		if (firing < 0)
			return respond(c, MHD_HTTP_BAD_REQUEST, "text/plain", "not an Alertmanager webhook message\n");
		atomic_fetch_add(&l->ignored, ignored);
		if (firing > 0 && l->cbs.alert(l->cbs.arg, reason))
			return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "busy\n");
		return respond(c, MHD_HTTP_OK, "text/plain",
			       firing ? "triggered\n" : ignored ? "no firing alert matches --alert-match\n"
								: "nothing firing\n");
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

int listen_start(struct listener **out, const struct listen_cfg *cfg, const struct listen_cbs *cbs,
		 char *err, size_t errlen)
{
	const char *addr = cfg->addr, *token = cfg->token, *const *match = cfg->match;
	size_t nmatch = cfg->nmatch;
	bool tls = cfg->tls_cert && cfg->tls_key;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct listener *l;
	char host[256], *colon;
	const char *port;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	int ret;

	*out = NULL;
	snprintf(host, sizeof(host), "%s", addr);
	colon = strrchr(host, ':');
	if (!colon) {
		snprintf(err, errlen, "invalid --listen '%s': expected ADDR:PORT", addr);
		return -EINVAL;
	}
	*colon = '\0';
	port = colon + 1;
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "invalid --listen '%s': %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (l && nmatch)
		l->match = calloc(nmatch, sizeof(*l->match));
	if (!l || (token && !(l->token = strdup(token))) || (nmatch && !l->match)) {
		freeaddrinfo(ai);
		listen_stop(l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nmatch; i++) {
		if (!(l->match[l->nmatch] = strdup(match[i]))) {
			freeaddrinfo(ai);
			listen_stop(l);
			return -ENOMEM;
		}
		l->nmatch++;
	}
	l->cbs = *cbs;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		freeaddrinfo(ai);
		listen_stop(l);
		snprintf(err, errlen, "cannot serve --listen over TLS: this libmicrohttpd has no TLS support");
		return -ENOTSUP;
	}
	{
		/* the certificate and key, when given, in an option array: the
		 * daemon's other options stay written once */
		struct MHD_OptionItem tls_opts[] = {
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key },
			{ MHD_OPTION_END, 0, NULL },
		};

		l->httpd = MHD_start_daemon(tls ? flags | MHD_USE_TLS : flags, (uint16_t)atoi(port), NULL, NULL,
					    handler, l,
					    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					    MHD_OPTION_CONNECTION_LIMIT, 32u,
					    MHD_OPTION_CONNECTION_TIMEOUT, 10u,
					    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
					    MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[2],
					    MHD_OPTION_END);
	}
	if (!l->httpd && tls) {
		/* the same address without TLS tells a bad certificate from a busy address */
		struct MHD_Daemon *probe = MHD_start_daemon(flags, (uint16_t)atoi(port), NULL, NULL, handler, l,
							    MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_END);

		if (probe) {
			MHD_stop_daemon(probe);
			freeaddrinfo(ai);
			snprintf(err, errlen, "cannot serve --listen over TLS: --tls-cert and --tls-key are not a "
				 "certificate and its private key that GnuTLS accepts");
			listen_stop(l);
			return -EINVAL;
		}
	}
	freeaddrinfo(ai);
	if (!l->httpd) {
		snprintf(err, errlen, "cannot listen on %s (address in use?)", addr);
		listen_stop(l);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(l->httpd, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : 0;
	*out = l;
	return 0;
}

unsigned listen_port(const struct listener *l)
{
	return l->port;
}

uint64_t listen_rejected(const struct listener *l)
{
	return atomic_load(&((struct listener *)l)->rejected);
}

uint64_t listen_ignored(const struct listener *l)
{
	return atomic_load(&((struct listener *)l)->ignored);
}

void listen_stop(struct listener *l)
{
	if (!l)
		return;
	if (l->httpd)
		MHD_stop_daemon(l->httpd);
	for (size_t i = 0; i < l->nmatch; i++)
		free(l->match[i]);
	free(l->match);
	free(l->token);
	free(l);
}
