/* sources.c: metric sources (exposition, PromQL, probes, PSI), one poller thread each. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "watch/exposition.h"
#include "watch/histogram.h"
#include "watch/sources.h"
#include "util/timeutil.h"

struct body {
	char *data;
	size_t len, cap;
	bool too_big;
};

struct source {
	struct sources *set;
	unsigned idx;
	struct source_cfg cfg;       /* strings owned */
	char name[256];
	pthread_t thread;
	bool started;
	CURL *curl;
	struct body body;
	struct expo_sel sel;
	/* METRICS state, touched only by the poller (and sources_check before it starts) */
	enum expo_type type;
	bool typed;
	struct hist_bucket prev[HIST_MAX_BUCKETS];
	size_t nprev;
	bool has_prev;
	bool seen_whole;          /* a full parse accepted the exposition and found the metric */
	double prev_count;           /* summaries: _count at the previous poll */
	atomic_bool moving;          /* the count moved since the last rearm */
	/* TCP */
	char host[256], port[16];
	/* PSI */
	int psi_fd;
	bool psi_sampled;            /* the kernel refused triggers: total= is read every interval */
	struct { uint64_t t_ns, total_us; } psi_ring[128];
	size_t psi_n, psi_head;
};

struct sources {
	struct source *src;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* stop */
	bool stop;
	int stop_fd;                 /* eventfd: wakes PSI pollers */
	struct source_result queue[SOURCES_QUEUE];
	size_t qhead, qlen;
	atomic_uint_least64_t polls, dropped;
	bool curl_init;
};

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static void quantile_name(double q, char *buf, size_t len)
{
	double pct = q * 100;

	if (fabs(pct - round(pct)) < 1e-9)
		snprintf(buf, len, "p%.0f", pct);
	else
		snprintf(buf, len, "q%g", q);
}

int sources_new(struct sources **out, const struct source_cfg *cfgs, size_t n, char *err, size_t errlen)
{
	struct sources *s;
	bool fail = false;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->src = calloc(n ? n : 1, sizeof(*s->src));
	if (!s->src || s->stop_fd < 0) {
		ret = -ENOMEM;
		goto cleanup;
	}
	/* curl_global_init is not thread-safe: once here, before any poller runs */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialize libcurl");
		ret = -EIO;
		goto cleanup;
	}
	s->curl_init = true;
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->src[i].psi_fd = -1;
	for (size_t i = 0; i < n; i++) {
		struct source *src = &s->src[i];
		char qn[32];

		src->set = s;
		src->idx = (unsigned)i;
		src->cfg = cfgs[i];
		src->cfg.url = dup_or_null(cfgs[i].url, &fail);
		src->cfg.metric = dup_or_null(cfgs[i].metric, &fail);
		src->cfg.query = dup_or_null(cfgs[i].query, &fail);
		src->cfg.psi_resource = dup_or_null(cfgs[i].psi_resource, &fail);
		src->cfg.psi_path = dup_or_null(cfgs[i].psi_path, &fail);
		if (fail) {
			ret = -ENOMEM;
			goto cleanup;
		}
		quantile_name(src->cfg.quantile, qn, sizeof(qn));
		switch (src->cfg.kind) {
		case SOURCE_METRICS:
			ret = expo_sel_parse(src->cfg.metric, &src->sel, err, errlen);
			if (ret) {
				char why[128];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "invalid --metric '%s': %s", src->cfg.metric, why);
				goto cleanup;
			}
			snprintf(src->name, sizeof(src->name), "metrics %.120s %.100s", src->cfg.url,
				 src->cfg.metric);
			break;
		case SOURCE_PROMETHEUS:
			snprintf(src->name, sizeof(src->name), "prometheus %.80s %.150s", src->cfg.url,
				 src->cfg.query);
			break;
		case SOURCE_PROBE_HTTP:
			snprintf(src->name, sizeof(src->name), "probe %.200s", src->cfg.url);
			break;
		case SOURCE_PROBE_TCP:
			if (source_parse_tcp(src->cfg.url, src->host, sizeof(src->host), src->port,
					     sizeof(src->port))) {
				snprintf(err, errlen, "invalid --probe '%s': expected tcp://HOST:PORT", src->cfg.url);
				ret = -EINVAL;
				goto cleanup;
			}
			snprintf(src->name, sizeof(src->name), "probe %.200s", src->cfg.url);
			break;
		case SOURCE_PSI:
			snprintf(src->name, sizeof(src->name), "psi %s %.200s", src->cfg.psi_resource,
				 src->cfg.psi_path);
			break;
		}
		if (src->cfg.kind == SOURCE_METRICS || src->cfg.kind == SOURCE_PROMETHEUS ||
		    src->cfg.kind == SOURCE_PROBE_HTTP) {
			src->curl = curl_easy_init();
			if (!src->curl) {
				snprintf(err, errlen, "cannot initialize libcurl");
				ret = -ENOMEM;
				goto cleanup;
			}
		}
	}
	*out = s;
	return 0;
cleanup:
	sources_free(s);
	return ret;
}

/* ---- HTTP ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > SOURCE_MAX_BODY) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 16384;
		char *p;

		while (nc < b->len + n + 1)
			nc *= 2;
		p = realloc(b->data, nc);
		if (!p)
			return 0;
		b->data = p;
		b->cap = nc;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* GETs url within the poll timeout. Returns TO_VALUE (answered: *status set,
 * body in src->body), TO_TIMEOUT, TO_DOWN or TO_ERROR (detail filled). */
static enum trigger_obs http_get(struct source *src, const char *url, long *status, uint64_t *took,
				 char *detail, size_t dlen)
{
	CURL *c = src->curl;
	uint64_t t0 = mono_ns();
	long timeout_ms = (long)(src->cfg.poll_timeout_ns / 1000000ull);
	CURLcode rc;

	src->body.len = 0;
	src->body.too_big = false;
	if (src->body.data)
		src->body.data[0] = '\0';
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &src->body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "stalltrap-watch");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	rc = curl_easy_perform(c);
	*took = mono_ns() - t0;
	switch (rc) {
	case CURLE_OK:
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		return TO_VALUE;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(detail, dlen, "no answer within %ld ms", timeout_ms);
		return TO_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		snprintf(detail, dlen, "connection refused: target down");
		return TO_DOWN;
	default:
		if (src->body.too_big)
			snprintf(detail, dlen, "answer larger than %u bytes", SOURCE_MAX_BODY);
		else
			snprintf(detail, dlen, "%s", curl_easy_strerror(rc));
		return TO_ERROR;
	}
}

/* ---- METRICS ---- */

/* One metrics poll. fatal (startup check) gets -ENOENT/-EINVAL for bad input. */
static void poll_metrics(struct source *src, struct source_result *r, int *fatal)
{
	struct expo *e = NULL;
	char perr[160] = "", qn[32];
	long status = 0;
	int ret;

	r->obs = http_get(src, src->cfg.url, &status, &r->took_ns, r->detail, sizeof(r->detail));
	if (r->obs == TO_TIMEOUT)
		r->value = (double)src->cfg.poll_timeout_ns / 1e9;
	if (r->obs != TO_VALUE)
		return;
	if (status != 200) {
		r->obs = TO_ERROR;
		snprintf(r->detail, sizeof(r->detail), "HTTP status %ld", status);
		return;
	}
	/* the whole exposition is checked until it has been accepted once;
	 * after that only the asked family's lines are parsed */
	ret = expo_parse_only(src->body.data ? src->body.data : "", src->body.len,
			      src->seen_whole ? src->sel.name : NULL, &e, perr, sizeof(perr));
	if (ret) {
		r->obs = TO_ERROR;
		snprintf(r->detail, sizeof(r->detail), "unparseable exposition: %s", perr);
		*fatal = -EINVAL;
		return;
	}
	if (expo_metric_type(e, &src->sel, &src->type)) {
		r->obs = TO_ERROR;
		snprintf(r->detail, sizeof(r->detail), "unknown metric %.150s", src->cfg.metric);
		*fatal = -ENOENT;
		goto cleanup;
	}
	src->seen_whole = true;
	quantile_name(src->cfg.quantile, qn, sizeof(qn));
	if (src->type == EXPO_HISTOGRAM) {
		double les[HIST_MAX_BUCKETS], counts[HIST_MAX_BUCKETS];
		struct hist_bucket cur[HIST_MAX_BUCKETS], delta[HIST_MAX_BUCKETS];
		bool reset;
		double moved;
		int n = expo_read_histogram(e, &src->sel, les, counts, HIST_MAX_BUCKETS);

		if (n < 0) {
			r->obs = TO_ERROR;
			snprintf(r->detail, sizeof(r->detail), "bad histogram %.150s", src->cfg.metric);
			*fatal = -EINVAL;
			goto cleanup;
		}
		for (int i = 0; i < n; i++)
			cur[i] = (struct hist_bucket){ les[i], counts[i] };
		if (!src->has_prev) {
			r->obs = TO_IDLE;
			snprintf(r->detail, sizeof(r->detail), "first poll: %.0f requests so far",
				 hist_count(cur, (size_t)n));
		} else {
			hist_delta(src->prev, src->nprev, cur, (size_t)n, delta, &reset);
			moved = hist_count(delta, (size_t)n);
			if (moved > 0 && isnan(hist_quantile(src->cfg.quantile, delta, (size_t)n))) {
				/* observations but no quantile: no +Inf bucket, or a single bucket */
				r->obs = TO_ERROR;
				snprintf(r->detail, sizeof(r->detail), "histogram %.150s has no quantile: "
					 "it needs a +Inf bucket and another one", src->cfg.metric);
				*fatal = -EINVAL;
			} else if (moved > 0) {
				atomic_store(&src->moving, true);
				r->obs = TO_VALUE;
				r->value = hist_quantile(src->cfg.quantile, delta, (size_t)n);
				snprintf(r->detail, sizeof(r->detail), "%s %.6gs over %.0f requests%s", qn,
					 r->value, moved, reset ? " (counters reset)" : "");
			} else if (atomic_load(&src->moving)) {
				r->obs = TO_NO_DATA;
				snprintf(r->detail, sizeof(r->detail), "no request completed since the last poll");
			} else {
				r->obs = TO_IDLE;
				snprintf(r->detail, sizeof(r->detail), "no traffic");
			}
		}
		memcpy(src->prev, cur, (size_t)n * sizeof(*cur));
		src->nprev = (size_t)n;
		src->has_prev = true;
	} else if (src->type == EXPO_SUMMARY) {
		double v, count;

		if (expo_read_summary(e, &src->sel, src->cfg.quantile, &v, &count)) {
			r->obs = TO_ERROR;
			snprintf(r->detail, sizeof(r->detail), "summary %.100s has no quantile %g",
				 src->cfg.metric, src->cfg.quantile);
			*fatal = -ENOENT;
			goto cleanup;
		}
		if (!isnan(count) && src->has_prev && count != src->prev_count)
			atomic_store(&src->moving, true);
		if (isnan(v)) {
			r->obs = atomic_load(&src->moving) ? TO_NO_DATA : TO_IDLE;
			snprintf(r->detail, sizeof(r->detail), "%s undefined: no request in the summary's window", qn);
		} else {
			r->obs = TO_VALUE;
			r->value = v;
			snprintf(r->detail, sizeof(r->detail), "%s %.6g", qn, v);
		}
		src->prev_count = count;
		src->has_prev = true;
	} else {
		double v;

		expo_read_value(e, &src->sel, &v);
		/* a gauge without a value says nothing about a freeze */
		r->obs = isnan(v) ? TO_IDLE : TO_VALUE;
		r->value = v;
		snprintf(r->detail, sizeof(r->detail), "%.6g", v);
	}
cleanup:
	expo_free(e);
}

/* ---- PROMETHEUS ---- */

static int sample_value(json_t *pair, double *v)
{
	const char *s;
	char *end;

	if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_number(json_array_get(pair, 0)) ||
	    !(s = json_string_value(json_array_get(pair, 1))))
		return -EINVAL;
	if (!strcmp(s, "NaN")) {
		*v = NAN;
		return 0;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*v = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-Inf")) {
		*v = -INFINITY;
		return 0;
	}
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end || errno)
		return -EINVAL;
	return 0;
}

int source_parse_promql(const char *text, size_t len, double *value, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *data, *result;
	const char *status, *type;
	int ret = -EINVAL;
	bool found = false;
	double best = NAN;

	if (!root) {
		snprintf(err, errlen, "malformed PromQL response: %s", jerr.text);
		return -EINVAL;
	}
	status = json_string_value(json_object_get(root, "status"));
	if (!status) {
		snprintf(err, errlen, "malformed PromQL response: no status");
		goto cleanup;
	}
	if (strcmp(status, "success")) {
		const char *e = json_string_value(json_object_get(root, "error"));

		snprintf(err, errlen, "Prometheus refused the query: %.200s", e ? e : status);
		goto cleanup;
	}
	data = json_object_get(root, "data");
	type = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!type || !result) {
		snprintf(err, errlen, "malformed PromQL response: no data.resultType or data.result");
		goto cleanup;
	}
	if (!strcmp(type, "scalar")) {
		if (sample_value(result, value)) {
			snprintf(err, errlen, "malformed PromQL response: bad scalar");
			goto cleanup;
		}
		ret = 0;
		goto cleanup;
	}
	if (strcmp(type, "vector")) {
		snprintf(err, errlen, "the query gives a %.20s: it must give an instant vector or a scalar", type);
		goto cleanup;
	}
	if (!json_is_array(result)) {
		snprintf(err, errlen, "malformed PromQL response: result is not an array");
		goto cleanup;
	}
	for (size_t i = 0; i < json_array_size(result); i++) {
		double v;

		if (sample_value(json_object_get(json_array_get(result, i), "value"), &v)) {
			snprintf(err, errlen, "malformed PromQL response: bad sample %zu", i);
			goto cleanup;
		}
		if (!found || isnan(best) || v > best)
			best = v;
		found = true;
	}
	if (!found) {
		ret = -ENODATA;
		goto cleanup;
	}
	*value = best;
	ret = 0;
cleanup:
	json_decref(root);
	return ret;
}

static void poll_prometheus(struct source *src, struct source_result *r, int *fatal)
{
	char *q = curl_easy_escape(src->curl, src->cfg.query, 0), *url = NULL, perr[256];
	size_t ulen;
	long status = 0;
	int ret;

	if (!q)
		goto oom;
	ulen = strlen(src->cfg.url) + strlen(q) + 32;
	url = malloc(ulen);
	if (!url)
		goto oom;
	/* no double slash when the base URL ends with one */
	snprintf(url, ulen, "%.*s/api/v1/query?query=%s",
		 (int)(strlen(src->cfg.url) - (strlen(src->cfg.url) && src->cfg.url[strlen(src->cfg.url) - 1] == '/')),
		 src->cfg.url, q);
	r->obs = http_get(src, url, &status, &r->took_ns, r->detail, sizeof(r->detail));
	if (r->obs == TO_TIMEOUT)
		r->value = (double)src->cfg.poll_timeout_ns / 1e9;
	if (r->obs != TO_VALUE)
		goto cleanup;
	/* errors come as JSON with 400/422/503: parse before judging the status */
	ret = source_parse_promql(src->body.data ? src->body.data : "", src->body.len, &r->value, perr,
				  sizeof(perr));
	if (ret == -ENODATA) {
		r->obs = TO_IDLE;
		r->value = NAN;
		snprintf(r->detail, sizeof(r->detail), "empty result");
	} else if (ret) {
		r->obs = TO_ERROR;
		if (status != 200 && !strstr(perr, "refused the query"))
			snprintf(r->detail, sizeof(r->detail), "HTTP status %ld: %.150s", status, perr);
		else
			snprintf(r->detail, sizeof(r->detail), "%s", perr);
		*fatal = -EINVAL;
	} else {
		if (isnan(r->value))
			r->obs = TO_IDLE; /* NaN everywhere: nothing to compare */
		snprintf(r->detail, sizeof(r->detail), "%.6g", r->value);
	}
	goto cleanup;
oom:
	r->obs = TO_ERROR;
	snprintf(r->detail, sizeof(r->detail), "out of memory");
cleanup:
	curl_free(q);
	free(url);
}

/* ---- probes ---- */

static void poll_probe_http(struct source *src, struct source_result *r)
{
	long status = 0;

	r->obs = http_get(src, src->cfg.url, &status, &r->took_ns, r->detail, sizeof(r->detail));
	if (r->obs == TO_TIMEOUT)
		r->value = (double)src->cfg.poll_timeout_ns / 1e9;
	if (r->obs != TO_VALUE)
		return;
	r->value = (double)r->took_ns / 1e9;
	snprintf(r->detail, sizeof(r->detail), "answered HTTP %ld in %.6gs", status, r->value);
}

int source_parse_tcp(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *h, *colon, *end;
	size_t hl, pl;

	if (strncmp(url, "tcp://", 6))
		return -EINVAL;
	h = url + 6;
	if (*h == '[') {            /* [v6]:port */
		end = strchr(h, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		h++;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - h);
	}
	pl = strlen(colon + 1);
	if (!hl || hl >= hostlen || !pl || pl >= portlen || strspn(colon + 1, "0123456789") != pl ||
	    atoi(colon + 1) < 1 || atoi(colon + 1) > 65535 || memchr(h, '/', hl))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl + 1);
	return 0;
}

static void poll_probe_tcp(struct source *src, struct source_result *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	uint64_t t0 = mono_ns(), deadline = t0 + src->cfg.poll_timeout_ns;
	int fd = -1, ret, soerr = 0;
	socklen_t sl = sizeof(soerr);

	r->obs = TO_ERROR;
	ret = getaddrinfo(src->host, src->port, &hints, &ai);
	if (ret) {
		snprintf(r->detail, sizeof(r->detail), "cannot resolve %.100s: %s", src->host, gai_strerror(ret));
		goto cleanup;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(r->detail, sizeof(r->detail), "socket: %s", strerror(errno));
		goto cleanup;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		soerr = errno;
	} else {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		uint64_t now = mono_ns();
		int ms = now < deadline ? (int)((deadline - now + 999999) / 1000000) : 0;

		ret = poll(&p, 1, ms);
		if (ret == 0) {
			r->obs = TO_TIMEOUT;
			r->value = (double)src->cfg.poll_timeout_ns / 1e9;
			snprintf(r->detail, sizeof(r->detail), "no connection within %llu ms",
				 (unsigned long long)(src->cfg.poll_timeout_ns / 1000000ull));
			goto cleanup;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	}
	if (soerr == ECONNREFUSED) {
		r->obs = TO_DOWN;
		snprintf(r->detail, sizeof(r->detail), "connection refused: target down");
	} else if (soerr) {
		snprintf(r->detail, sizeof(r->detail), "connect: %s", strerror(soerr));
	} else {
		r->obs = TO_VALUE;
		r->value = (double)(mono_ns() - t0) / 1e9;
		snprintf(r->detail, sizeof(r->detail), "connected in %.6gs", r->value);
	}
cleanup:
	r->took_ns = mono_ns() - t0;
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
}

/* ---- PSI ---- */

static int psi_arm(struct source *src, char *err, size_t errlen)
{
	char trig[64];
	int n;

	src->psi_fd = open(src->cfg.psi_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (src->psi_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", src->cfg.psi_path, strerror(errno));
		return -EINVAL;
	}
	n = snprintf(trig, sizeof(trig), "some %llu %llu", (unsigned long long)src->cfg.psi_threshold_us,
		     (unsigned long long)src->cfg.psi_window_us);
	/* the trigger string is written with its NUL: the kernel parses it as a C string */
	if (write(src->psi_fd, trig, (size_t)n + 1) < 0) {
		int e = errno;

		snprintf(err, errlen, "the kernel refused PSI trigger '%s' on %s: %s", trig,
			 src->cfg.psi_path, strerror(e));
		close(src->psi_fd);
		src->psi_fd = -1;
		/* a valid trigger refused as invalid: this kernel does not take triggers */
		return e == EINVAL ? -EOPNOTSUPP : -EINVAL;
	}
	return 0;
}

/* Without kernel triggers: the stall time of the last window, from the
 * cumulative total= of the pressure file, read every --interval. */
static void poll_psi_sampled(struct source *src, struct source_result *r)
{
	char buf[512], *tot, *avg;
	int fd = open(src->cfg.psi_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	uint64_t now = mono_ns(), window_ns = src->cfg.psi_window_us * 1000ull, total, span;
	size_t oldest, i;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';      /* the "some" line */
	tot = strstr(buf, "total=");
	if (n <= 0 || strncmp(buf, "some", 4) || !tot) {
		r->obs = TO_ERROR;
		snprintf(r->detail, sizeof(r->detail), "cannot read %.200s", src->cfg.psi_path);
		return;
	}
	total = strtoull(tot + 6, NULL, 10);
	src->psi_ring[src->psi_head] = (typeof(src->psi_ring[0])){ now, total };
	src->psi_head = (src->psi_head + 1) % 128;
	if (src->psi_n < 128)
		src->psi_n++;
	/* the oldest sample still within the window (or the oldest kept) */
	oldest = (src->psi_head + 128 - src->psi_n) % 128;
	for (i = 0; i < src->psi_n; i++) {
		size_t k = (oldest + i) % 128;

		if (now - src->psi_ring[k].t_ns <= window_ns) {
			oldest = k;
			break;
		}
	}
	span = now - src->psi_ring[oldest].t_ns;
	if (span < window_ns / 2) {
		/* too short a span to scale to the window: a single busy tick would look like a stall */
		r->obs = TO_IDLE;
		snprintf(r->detail, sizeof(r->detail), "warming up: %.200s read over %.2fs so far",
			 src->cfg.psi_path, (double)span / 1e9);
		return;
	}
	/* stall seconds per window, scaled when the samples span less than it */
	r->obs = TO_VALUE;
	r->value = (double)(total - src->psi_ring[oldest].total_us) / 1e6 * ((double)window_ns / (double)span);
	r->event = r->value >= (double)src->cfg.psi_threshold_us / 1e6;
	avg = strstr(buf, "avg10=");
	snprintf(r->detail, sizeof(r->detail), "%s some stall %.3fs per %llu ms (threshold %llu ms; %.*s)",
		 src->cfg.psi_resource, r->value, (unsigned long long)(src->cfg.psi_window_us / 1000),
		 (unsigned long long)(src->cfg.psi_threshold_us / 1000), avg ? (int)strcspn(avg, " ") : 0,
		 avg ? avg : "");
}

static void psi_detail(struct source *src, struct source_result *r)
{
	char buf[256];
	ssize_t n = pread(src->psi_fd, buf, sizeof(buf) - 1, 0);
	const char *avg;

	buf[n > 0 ? n : 0] = '\0';
	avg = strstr(buf, "avg10=");
	snprintf(r->detail, sizeof(r->detail), "%s some stall >= %llu ms within %llu ms (%.*s)",
		 src->cfg.psi_resource, (unsigned long long)(src->cfg.psi_threshold_us / 1000),
		 (unsigned long long)(src->cfg.psi_window_us / 1000), avg ? (int)strcspn(avg, " \n") : 0,
		 avg ? avg : "");
}

/* ---- the pollers ---- */

static void push(struct sources *s, const struct source_result *r)
{
	pthread_mutex_lock(&s->lock);
	if (s->qlen == SOURCES_QUEUE) {
		s->qhead = (s->qhead + 1) % SOURCES_QUEUE;
		s->qlen--;
		atomic_fetch_add(&s->dropped, 1);
	}
	s->queue[(s->qhead + s->qlen) % SOURCES_QUEUE] = *r;
	s->qlen++;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->polls, 1);
}

static void poll_once(struct source *src, struct source_result *r, int *fatal)
{
	memset(r, 0, sizeof(*r));
	r->source = src->idx;
	r->value = NAN;
	switch (src->cfg.kind) {
	case SOURCE_METRICS:
		poll_metrics(src, r, fatal);
		break;
	case SOURCE_PROMETHEUS:
		poll_prometheus(src, r, fatal);
		break;
	case SOURCE_PROBE_HTTP:
		poll_probe_http(src, r);
		break;
	case SOURCE_PROBE_TCP:
		poll_probe_tcp(src, r);
		break;
	case SOURCE_PSI:
		poll_psi_sampled(src, r);
		break;
	}
	r->t_ns = mono_ns();
}

/* Waits until abs_ns or a stop; returns true on stop. */
static bool wait_until(struct sources *s, uint64_t abs_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(abs_ns / 1000000000ull),
			       .tv_nsec = (long)(abs_ns % 1000000000ull) };
	bool stop;

	pthread_mutex_lock(&s->lock);
	while (!s->stop && mono_ns() < abs_ns)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *psi_main(struct source *src)
{
	struct sources *s = src->set;

	for (;;) {
		struct pollfd p[2] = { { .fd = src->psi_fd, .events = POLLPRI }, { .fd = s->stop_fd, .events = POLLIN } };
		struct source_result r = { .source = src->idx, .value = NAN };
		int n = poll(p, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents)
			break;
		r.t_ns = mono_ns();
		if (p[0].revents & POLLERR) {
			r.obs = TO_ERROR;
			snprintf(r.detail, sizeof(r.detail), "PSI trigger gone (cgroup removed?)");
			push(s, &r);
			break;
		}
		if (p[0].revents & POLLPRI) {
			r.obs = TO_VALUE;
			r.event = true;
			r.value = (double)src->cfg.psi_threshold_us / 1e6;
			psi_detail(src, &r);
			push(s, &r);
		}
	}
	return NULL;
}

static void *poller_main(void *arg)
{
	struct source *src = arg;
	struct sources *s = src->set;
	uint64_t next = mono_ns();

	if (src->cfg.kind == SOURCE_PSI && !src->psi_sampled)
		return psi_main(src);
	for (;;) {
		struct source_result r;
		int fatal = 0;
		uint64_t now;

		if (wait_until(s, next))
			break;
		poll_once(src, &r, &fatal);
		push(s, &r);
		/* polls start every interval; one that overran starts the next at once */
		next += src->cfg.interval_ns;
		now = mono_ns();
		if (next < now)
			next = now;
	}
	return NULL;
}

int sources_check(struct sources *s, unsigned i, char *err, size_t errlen)
{
	struct source *src = &s->src[i];
	struct source_result r;
	int fatal = 0;

	if (src->cfg.kind == SOURCE_PSI && !src->psi_sampled) {
		int ret = src->psi_fd >= 0 ? 0 : psi_arm(src, err, errlen);

		if (ret != -EOPNOTSUPP)
			return ret;
		/* kernels (or sandboxes) that refuse triggers: sample total= instead */
		src->psi_sampled = true;
		snprintf(src->name, sizeof(src->name), "psi %s %.200s (sampled: the kernel refused triggers)",
			 src->cfg.psi_resource, src->cfg.psi_path);
	}
	poll_once(src, &r, &fatal);
	switch (r.obs) {
	case TO_VALUE:
	case TO_IDLE:
	case TO_NO_DATA:
		return 0;
	case TO_TIMEOUT:
		snprintf(err, errlen, "%s", r.detail);
		return -ETIMEDOUT;
	case TO_DOWN:
		snprintf(err, errlen, "%s", r.detail);
		return -ECONNREFUSED;
	default:
		snprintf(err, errlen, "%s", r.detail);
		return fatal ? fatal : -EHOSTUNREACH;
	}
}

int sources_start(struct sources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct source *src = &s->src[i];
		char err[256];
		int ret;

		if (src->cfg.kind == SOURCE_PSI && !src->psi_sampled && src->psi_fd < 0 &&
		    (ret = psi_arm(src, err, sizeof(err))))
			return ret;
		ret = pthread_create(&src->thread, NULL, poller_main, src);
		if (ret)
			return -ret;
		src->started = true;
	}
	return 0;
}

size_t sources_drain(struct sources *s, struct source_result *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < max && s->qlen) {
		out[n++] = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % SOURCES_QUEUE;
		s->qlen--;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void sources_rearm(struct sources *s, unsigned i)
{
	if (i < s->n)
		atomic_store(&s->src[i].moving, false);
}

size_t sources_count(const struct sources *s)
{
	return s->n;
}

const struct source_cfg *sources_cfg(const struct sources *s, unsigned i)
{
	return &s->src[i].cfg;
}

const char *sources_name(const struct sources *s, unsigned i)
{
	return s->src[i].name;
}

uint64_t sources_polls(const struct sources *s)
{
	return atomic_load(&((struct sources *)s)->polls);
}

uint64_t sources_dropped(const struct sources *s)
{
	return atomic_load(&((struct sources *)s)->dropped);
}

void sources_free(struct sources *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->stop_fd >= 0 && write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* a full eventfd still wakes the pollers */
	}
	for (size_t i = 0; s->src && i < s->n; i++) {
		struct source *src = &s->src[i];

		if (src->started)
			pthread_join(src->thread, NULL);
		if (src->curl)
			curl_easy_cleanup(src->curl);
		if (src->psi_fd >= 0)
			close(src->psi_fd);
		free(src->body.data);
		expo_sel_release(&src->sel);
		free((char *)src->cfg.url);
		free((char *)src->cfg.metric);
		free((char *)src->cfg.query);
		free((char *)src->cfg.psi_resource);
		free((char *)src->cfg.psi_path);
	}
	free(s->src);
	if (s->curl_init)
		curl_global_cleanup();
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
