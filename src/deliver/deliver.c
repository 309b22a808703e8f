/* deliver.c: the delivery stage: queue each incident per sink, one thread per sink delivers in order. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "deliver/deliver.h"
#include "deliver/http.h"
#include "deliver/incident.h"
#include "deliver/profile_push.h"
#include "deliver/queue.h"
#include "deliver/retry.h"
#include "deliver/sinks.h"
#include "util/timeutil.h"

#define IDLE_RESCAN_MS 10000     /* an idle sink looks for items another process queued this often */
#define MAX_HONOUR_NS (3600ull * 1000000000ull) /* a Retry-After is honoured up to an hour */
#define MAX_ACTIVE 256u
#define MAX_SERVICES 16u

static const char *const sink_names[SINK_N] = { "alertmanager", "webhook", "pyroscope", "parca" };

const char *deliver_sink_name(enum sink_kind k)
{
	return k < SINK_N ? sink_names[k] : "?";
}

void deliver_cfg_init(struct deliver_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->give_up_after_ns = 24ull * 3600 * 1000000000ull;
	c->min_backoff_ns = 500000000ull;
	c->max_backoff_ns = 300ull * 1000000000ull;
	c->timeout_ns = 10ull * 1000000000ull;
	c->resend_ns = 60ull * 1000000000ull;
}

bool deliver_cfg_any(const struct deliver_cfg *c)
{
	for (int k = 0; k < SINK_N; k++)
		if (c->sink[k].url)
			return true;
	return false;
}

/* An Alertmanager alert delivered and followed until the service recovers. */
struct active {
	char name[64];
	char id[384];
	json_t *alert;
	json_t *meta;              /* the queue item's (service, window: the profile link) */
	int64_t first_sent_ns;     /* real */
	uint64_t next_mono;        /* the next re-send (or resolve attempt) */
	unsigned attempts;
};

struct sink {
	struct deliver *d;
	enum sink_kind kind;
	const struct sink_cfg *cfg;
	char dir[4096];
	char url_log[512];          /* the URL as it may be logged */
	int lock_fd, held_by;
	struct http *http;
	pthread_t thr;
	bool started;
	pthread_cond_t cond;        /* with d->lock: kick or quit wakes this sink only */
	bool kick;                  /* under d->lock: look at the queue now */
	bool idle;                  /* under d->lock: nothing queued (send waits for it) */
	/* the head of the queue, as loaded */
	char head[64];
	char busy[64];              /* under d->lock: the item an attempt is sending ("": none) */
	json_t *head_meta;
	uint64_t head_next_mono;
	struct active act[MAX_ACTIVE];
	size_t nact;
	atomic_uint_least64_t delivered, retries, failures, parked, gaveup, queue_errors, resolved, resent, dropped;
	atomic_uint_least64_t depth, parked_now;
	atomic_int_least64_t oldest_ns;  /* real ns of the oldest queued item, 0: none */
};

struct svc_count {
	char service[128], kind[64];
	uint64_t n;
};

struct deliver {
	struct deliver_cfg c;
	char host[256];
	struct sink sinks[SINK_N];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	volatile int quit;
	atomic_bool breaching;
	atomic_int_least64_t recovered_ns; /* real ns when breaching last turned false */
	struct svc_count svc[MAX_SERVICES]; /* under lock */
	size_t nsvc;
	atomic_uint_least64_t incidents;
};

__attribute__((format(printf, 2, 3)))
static void logf_(const struct deliver *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (d->c.log)
		d->c.log(line);
	else
		fprintf(stderr, "stalltrap: %s\n", line);
}

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)mono_ns() * 2654435761u;
	return r;
}

/* ---- enqueue ---- */

static void count_service(struct deliver *d, const struct incident_info *ii)
{
	size_t i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nsvc; i++)
		if (!strcmp(d->svc[i].service, ii->service) && !strcmp(d->svc[i].kind, ii->kind))
			break;
	if (i == d->nsvc && d->nsvc < MAX_SERVICES) {
		snprintf(d->svc[i].service, sizeof(d->svc[i].service), "%s", ii->service);
		snprintf(d->svc[i].kind, sizeof(d->svc[i].kind), "%s", ii->kind);
		/* label values of /metrics: no quote, backslash or newline */
		for (char *p = d->svc[i].service; *p; p++)
			if (*p == '"' || *p == '\\' || *p == '\n')
				*p = '_';
		d->nsvc++;
	}
	if (i < d->nsvc)
		d->svc[i].n++;
	pthread_mutex_unlock(&d->lock);
}

static void kick(struct sink *s)
{
	pthread_mutex_lock(&s->d->lock);
	s->kick = true;
	s->idle = false;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->d->lock);
}

/* One sink's item: the body (if any) first, then the meta whose rename makes it queued. */
static int enqueue_one(struct deliver *d, struct sink *s, const struct incident_info *ii,
		       const struct deliver_origin *origin, char *err, size_t errlen)
{
	char name[64], qdir[4200], fname[96], *meta_s = NULL, *body = NULL;
	size_t blen = 0;
	json_t *meta;
	int ret = 0;

	snprintf(qdir, sizeof(qdir), "%s/q", s->dir);
	meta = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", ii->id, "dir", ii->dir,
			 "created_ns", (json_int_t)real_ns(), "attempts", 0, "parts_done", 0, "service", ii->service,
			 "host", ii->host, "kind", ii->kind, "starts_ns", (json_int_t)ii->starts_ns,
			 "ends_ns", (json_int_t)ii->ends_ns, "pod_uid", origin ? origin->pod_uid : "",
			 "container_id", origin ? origin->container_id : "");
	if (!meta)
		return -ENOMEM;
	switch (s->kind) {
	case SINK_ALERTMANAGER:
		json_object_set_new(meta, "alert", sink_alert(ii, d->c.severity));
		break;
	case SINK_WEBHOOK:
		body = sink_webhook_body(ii, d->c.severity, origin ? origin->pod_uid : NULL,
					 origin ? origin->container_id : NULL);
		blen = body ? strlen(body) : 0;
		if (!body)
			ret = -ENOMEM;
		break;
	default: {
		char p[4200];

		snprintf(p, sizeof(p), "%s/profile.pb.gz", ii->dir);
		ret = queue_read_file(p, &body, &blen);
		if (ret) {
			snprintf(err, errlen, "no profile.pb.gz in %.300s: %s", ii->dir, strerror(-ret));
			json_decref(meta);
			return ret;
		}
		break;
	}
	}
	queue_new_name(name, sizeof(name));
	if (!ret && body) {
		snprintf(fname, sizeof(fname), "%s.body", name);
		ret = queue_write_file(qdir, fname, body, blen);
	}
	if (!ret) {
		meta_s = json_dumps(meta, JSON_COMPACT);
		snprintf(fname, sizeof(fname), "%s.json", name);
		ret = meta_s ? queue_write_file(qdir, fname, meta_s, strlen(meta_s)) : -ENOMEM;
		if (ret && body) {
			char bp[4400];

			snprintf(bp, sizeof(bp), "%s/%s.body", qdir, name);
			unlink(bp);
		}
	}
	if (ret)
		snprintf(err, errlen, "%s", strerror(-ret));
	free(meta_s);
	free(body);
	json_decref(meta);
	return ret;
}

int deliver_enqueue_dir(struct deliver *d, const char *dir, const struct deliver_origin *origin)
{
	struct incident_info ii;
	char err[512];
	int ret, took = 0, last = 0;

	ret = incident_info_read(&ii, dir, d->host, d->c.service, d->c.report_url_prefix, err, sizeof(err));
	if (ret) {
		logf_(d, "not delivered: %s", err);
		return ret;
	}
	count_service(d, &ii);
	atomic_fetch_add(&d->incidents, 1);
	for (int k = 0; k < SINK_N; k++) {
		struct sink *s = &d->sinks[k];

		if (!s->cfg->url)
			continue;
		ret = enqueue_one(d, s, &ii, origin, err, sizeof(err));
		if (ret) {
			atomic_fetch_add(&s->queue_errors, 1);
			logf_(d, "%s: cannot queue %s: %s (queue %s/q); the incident stays in %s: deliver it later "
			      "with 'stalltrap send %s'", s->kind < SINK_N ? sink_names[s->kind] : "?", ii.id, err, s->dir,
			      ii.dir, ii.dir);
			last = ret;
			continue;
		}
		took++;
		kick(s);
	}
	incident_info_release(&ii);
	return took || !last ? took : last;
}

/* ---- sending ---- */

struct attempt {
	enum retry_outcome out;
	bool aborted;
	uint64_t retry_after_ns;
	char what[700];             /* "HTTP 503: answer" or the transport error */
};

static void attempt_from(struct attempt *a, int rc, const struct http_resp *r)
{
	a->aborted = r->aborted;
	a->retry_after_ns = r->retry_after_ns;
	if (rc) {
		a->out = RO_RETRY;
		snprintf(a->what, sizeof(a->what), "%s", r->error);
		return;
	}
	a->out = retry_classify(r->status);
	if (r->answer[0])
		snprintf(a->what, sizeof(a->what), "HTTP %ld: %.600s", r->status, r->answer);
	else
		snprintf(a->what, sizeof(a->what), "HTTP %ld", r->status);
}

static void join_url(char *out, size_t len, const char *base, const char *path)
{
	size_t bl = strlen(base);

	while (bl && base[bl - 1] == '/')
		bl--;
	snprintf(out, len, "%.*s%s", (int)bl, base, path);
}

/* The profile store's link, once one of them took this incident. */
static char *profile_url_of(struct deliver *d, const char *id, const json_t *meta)
{
	for (int k = SINK_PYROSCOPE; k <= SINK_PARCA; k++) {
		struct sink *s = &d->sinks[k];

		if (s->cfg->url && queue_is_done(s->dir, id))
			return sink_profile_url(k, s->cfg->url, json_string_value(json_object_get(meta, "service")),
						json_integer_value(json_object_get(meta, "starts_ns")),
						json_integer_value(json_object_get(meta, "ends_ns")));
	}
	return NULL;
}

static void post_alert(struct sink *s, const char *id, const json_t *alert, const json_t *meta, int64_t ends_ns,
		       struct attempt *a)
{
	char url[4200], *pu = profile_url_of(s->d, id, meta), *body = sink_alert_body(alert, ends_ns, pu);
	struct http_resp r;
	int rc;

	free(pu);
	if (!body) {
		a->out = RO_RETRY;
		snprintf(a->what, sizeof(a->what), "out of memory");
		return;
	}
	join_url(url, sizeof(url), s->cfg->url, "/api/v2/alerts");
	rc = http_post(s->http, url, "application/json", body, strlen(body), NULL, &r);
	free(body);
	attempt_from(a, rc, &r);
}

static int64_t firing_ends(const struct deliver *d)
{
	/* as Prometheus does: an alert not re-sent within 4 periods resolves
	 * itself, so a watcher that died leaves no alert firing for ever */
	return real_ns() + 4 * (int64_t)d->c.resend_ns;
}

static void send_webhook(struct sink *s, const json_t *meta, const char *body, size_t len, struct attempt *a)
{
	char idh[512], tsh[64], sig[160], sigh[200];
	const char *hdrs[4] = { idh, tsh, NULL, NULL };
	const char *id = json_string_value(json_object_get(meta, "id"));
	long long ts = (long long)(real_ns() / 1000000000ll);
	struct http_resp r;
	int rc;

	snprintf(idh, sizeof(idh), "webhook-id: %s", id);
	snprintf(tsh, sizeof(tsh), "webhook-timestamp: %lld", ts);
	if (s->cfg->secret) {
		if (sink_webhook_sign(s->cfg->secret, s->cfg->secret_len, id, ts, body, len, sig, sizeof(sig))) {
			a->out = RO_RETRY;
			snprintf(a->what, sizeof(a->what), "cannot sign the webhook");
			return;
		}
		snprintf(sigh, sizeof(sigh), "webhook-signature: %s", sig);
		hdrs[2] = sigh;
	}
	rc = http_post(s->http, s->cfg->url, "application/json", body, len, hdrs, &r);
	attempt_from(a, rc, &r);
}

/* The profile store's requests, built at each attempt from the queued pprof
 * (profile_push.h: a retry carries the same sample ids). */
static int build_profile(enum sink_kind k, const char *pprof, size_t len, const json_t *meta,
			 struct push_bodies *out, char *err, size_t errlen)
{
	const char *pod = json_string_value(json_object_get(meta, "pod_uid"));
	const char *ctr = json_string_value(json_object_get(meta, "container_id"));
	struct push_labels l = {
		.service = json_string_value(json_object_get(meta, "service")),
		.host = json_string_value(json_object_get(meta, "host")),
		.kind = json_string_value(json_object_get(meta, "kind")),
		.incident = json_string_value(json_object_get(meta, "id")),
		.pod_uid = pod && *pod ? pod : NULL,
		.container_id = ctr && *ctr ? ctr : NULL,
	};

	memset(out, 0, sizeof(*out));
	return (k == SINK_PYROSCOPE ? pyroscope_build : parca_build)((const unsigned char *)pprof, len, &l, out, err,
								    errlen);
}

static void send_profile(struct sink *s, json_t *meta, const char *pprof, size_t len, struct attempt *a,
			 bool *progress)
{
	struct push_bodies b;
	char err[256] = "";
	size_t done = (size_t)json_integer_value(json_object_get(meta, "parts_done"));

	if (build_profile(s->kind, pprof, len, meta, &b, err, sizeof(err))) {
		/* the profile itself cannot be sent: no retry can help */
		a->out = RO_PARK;
		snprintf(a->what, sizeof(a->what), "cannot build the request: %s", err);
		return;
	}
	if (b.note[0] && !done)
		logf_(s->d, "%s: %s: %s", sink_names[s->kind], json_string_value(json_object_get(meta, "id")), b.note);
	a->out = RO_DONE;
	for (size_t i = done; i < b.n && a->out == RO_DONE; i++) {
		char url[4200];
		struct http_resp r;
		int rc;

		join_url(url, sizeof(url), s->cfg->url, b.v[i].path);
		rc = http_post(s->http, url, b.v[i].content_type, b.v[i].data, b.v[i].len, NULL, &r);
		attempt_from(a, rc, &r);
		if (a->out == RO_DONE && i + 1 < b.n) {
			/* a split profile resumes after its last accepted part */
			json_object_set_new(meta, "parts_done", json_integer((json_int_t)i + 1));
			*progress = true;
		}
	}
	push_bodies_free(&b);
}

static int save_meta(struct sink *s, const char *sub, const char *name, const json_t *meta)
{
	char dir[4200], fname[96], *m = json_dumps(meta, JSON_COMPACT);
	int ret;

	snprintf(dir, sizeof(dir), "%s/%s", s->dir, sub);
	snprintf(fname, sizeof(fname), "%s.json", name);
	ret = m ? queue_write_file(dir, fname, m, strlen(m)) : -ENOMEM;
	free(m);
	return ret;
}

static void drop_head(struct sink *s)
{
	json_decref(s->head_meta);
	s->head_meta = NULL;
	s->head[0] = '\0';
}

static void add_active(struct sink *s, const char *name, const char *id, const json_t *alert, const json_t *meta,
		       int64_t first_ns)
{
	struct active *a;

	if (s->nact == MAX_ACTIVE) {
		logf_(s->d, "alertmanager: %u alerts followed already: %s is left to expire on its own", MAX_ACTIVE, id);
		return;
	}
	a = &s->act[s->nact++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->alert = json_deep_copy(alert);
	a->meta = meta ? json_deep_copy(meta) : json_pack("{s:s}", "id", id);
	a->first_sent_ns = first_ns;
	a->next_mono = mono_ns() + s->d->c.resend_ns;
}

/* Delivers the head of the queue once (marked busy by attempt_head). */
static void attempt_head_(struct sink *s)
{
	struct deliver *d = s->d;
	json_t *meta = s->head_meta;
	const char *id = json_string_value(json_object_get(meta, "id"));
	int64_t created = json_integer_value(json_object_get(meta, "created_ns"));
	unsigned attempts = (unsigned)json_integer_value(json_object_get(meta, "attempts"));
	char body_path[4200], *body = NULL;
	size_t blen = 0;
	struct attempt a = { 0 };
	bool progress = false;
	int ret;

	if (!id) {
		logf_(d, "%s: queue item %s has no id: moved to parked", sink_names[s->kind], s->head);
		queue_move(s->dir, s->head, "q", "parked");
		drop_head(s);
		return;
	}
	if (queue_is_done(s->dir, id)) {
		/* delivered before a restart cut its removal short: at most once */
		queue_remove(s->dir, s->head);
		drop_head(s);
		return;
	}
	if (real_ns() - created > (int64_t)d->c.give_up_after_ns) {
		atomic_fetch_add(&s->gaveup, 1);
		logf_(d, "%s: gave up on %s after %u attempts over %.0f s (--give-up-after); kept in %s/gaveup",
		      sink_names[s->kind], id, attempts, (double)(real_ns() - created) / 1e9, s->dir);
		queue_move(s->dir, s->head, "q", "gaveup");
		drop_head(s);
		return;
	}
	if (s->kind != SINK_ALERTMANAGER) {
		snprintf(body_path, sizeof(body_path), "%s/q/%s.body", s->dir, s->head);
		ret = queue_read_file(body_path, &body, &blen);
		if (ret) {
			logf_(d, "%s: queue item %s (%s) lost its body (%s): moved to parked", sink_names[s->kind], s->head,
			      id, strerror(-ret));
			queue_move(s->dir, s->head, "q", "parked");
			drop_head(s);
			return;
		}
	}
	switch (s->kind) {
	case SINK_ALERTMANAGER:
		post_alert(s, id, json_object_get(meta, "alert"), meta, firing_ends(d), &a);
		break;
	case SINK_WEBHOOK:
		send_webhook(s, meta, body, blen, &a);
		break;
	default:
		send_profile(s, meta, body, blen, &a, &progress);
		break;
	}
	free(body);
	if (a.aborted)
		return; /* stopping: not an attempt */
	attempts++;
	json_object_set_new(meta, "attempts", json_integer(attempts));
	if (a.out == RO_DONE) {
		ret = queue_mark_done(s->dir, id);
		if (ret)
			logf_(d, "%s: cannot write the done mark of %s: %s (a restart may send it again; the server "
			      "deduplicates it by its id)", sink_names[s->kind], id, strerror(-ret));
		if (s->kind == SINK_ALERTMANAGER && !d->c.oneshot) {
			json_t *act = json_pack("{s:s, s:O, s:I, s:O}", "id", id, "alert", json_object_get(meta, "alert"),
					       "first_sent_ns", (json_int_t)real_ns(), "meta", meta);

			if (!act || save_meta(s, "active", s->head, act))
				logf_(d, "alertmanager: cannot record %s as firing: it resolves on its own in %.0f s",
				      id, 4.0 * (double)d->c.resend_ns / 1e9);
			else
				add_active(s, s->head, id, json_object_get(meta, "alert"), meta, real_ns());
			json_decref(act);
		}
		queue_remove(s->dir, s->head);
		atomic_fetch_add(&s->delivered, 1);
		logf_(d, "%s: delivered %s (attempt %u)", sink_names[s->kind], id, attempts);
		drop_head(s);
		return;
	}
	atomic_fetch_add(&s->failures, 1);
	json_object_set_new(meta, "last_error", json_string(a.what));
	if (a.out == RO_PARK) {
		if (save_meta(s, "q", s->head, meta))
			logf_(d, "%s: cannot save the server's answer for %s (it is in this line)", sink_names[s->kind], id);
		queue_move(s->dir, s->head, "q", "parked");
		atomic_fetch_add(&s->parked, 1);
		logf_(d, "%s: parked %s: the server refused it: %s; resend with 'stalltrap send --state-dir %s "
		      "--%s URL'", sink_names[s->kind], id, a.what, d->c.state_dir, sink_names[s->kind]);
		drop_head(s);
		return;
	}
	{
		uint64_t wait = retry_wait_ns(attempts, d->c.min_backoff_ns, d->c.max_backoff_ns, rnd32(),
					      a.retry_after_ns, MAX_HONOUR_NS);

		atomic_fetch_add(&s->retries, 1);
		s->head_next_mono = mono_ns() + wait;
		/* kept with the item: a restarted agent waits as long (Retry-After too) */
		json_object_set_new(meta, "not_before_real_ns", json_integer((json_int_t)(real_ns() + wait)));
		logf_(d, "%s: %s not delivered (attempt %u): %s; retrying in %.1f s%s", sink_names[s->kind], id, attempts,
		      a.what, (double)wait / 1e9, a.retry_after_ns ? " (Retry-After)" : "");
		/* the attempt count survives a restart when the disk lets it;
		 * when it does not, the item stays queued as it was */
		ret = save_meta(s, "q", s->head, meta);
		if (ret && !progress)
			logf_(d, "%s: cannot update the queue item of %s: %s; it stays queued as it was",
			      sink_names[s->kind], id, strerror(-ret));
		else if (ret)
			logf_(d, "%s: cannot record the parts of %s already sent: %s; they are sent again (same sample "
			      "id)", sink_names[s->kind], id, strerror(-ret));
	}
}

/* attempt_head_, with the head marked busy meanwhile: deliver_queue_drop
 * leaves an item in flight alone, and one it dropped just before is not sent. */
static void attempt_head(struct sink *s)
{
	struct deliver *d = s->d;
	char p[4200];
	bool gone;

	pthread_mutex_lock(&d->lock);
	snprintf(p, sizeof(p), "%s/q/%s.json", s->dir, s->head);
	gone = access(p, F_OK) != 0;
	if (!gone)
		snprintf(s->busy, sizeof(s->busy), "%s", s->head);
	pthread_mutex_unlock(&d->lock);
	if (gone) {
		drop_head(s);
		return;
	}
	attempt_head_(s);
	pthread_mutex_lock(&d->lock);
	s->busy[0] = '\0';
	pthread_mutex_unlock(&d->lock);
}

static void remove_active(struct sink *s, size_t i)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/active/%s.json", s->dir, s->act[i].name);
	unlink(p);
	json_decref(s->act[i].alert);
	json_decref(s->act[i].meta);
	memmove(&s->act[i], &s->act[i + 1], (s->nact - i - 1) * sizeof(s->act[0]));
	s->nact--;
}

/* Re-sends the alerts while the service breaches; resolves them after. Returns the next due time. */
static uint64_t follow_active(struct sink *s)
{
	struct deliver *d = s->d;
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < s->nact && !d->quit;) {
		struct active *a = &s->act[i];
		uint64_t now = mono_ns();
		bool resolve = !atomic_load(&d->breaching) &&
			       real_ns() - a->first_sent_ns >= (int64_t)d->c.resend_ns;
		struct attempt at = { 0 };
		json_t *meta;

		if (!resolve && now < a->next_mono) {
			if (a->next_mono < next)
				next = a->next_mono;
			i++;
			continue;
		}
		if (resolve && now < a->next_mono && a->attempts) {
			/* a failed resolve waits for its backoff */
			if (a->next_mono < next)
				next = a->next_mono;
			i++;
			continue;
		}
		meta = a->meta;
		if (resolve) {
			int64_t ends = atomic_load(&d->recovered_ns), starts = 0;

			incident_parse_time(json_string_value(json_object_get(a->alert, "startsAt")), &starts);
			if (!ends || ends <= starts)
				ends = real_ns();
			post_alert(s, a->id, a->alert, meta, ends, &at);
		} else {
			post_alert(s, a->id, a->alert, meta, firing_ends(d), &at);
		}
		if (at.aborted)
			break;
		if (at.out == RO_DONE) {
			a->attempts = 0;
			if (resolve) {
				atomic_fetch_add(&s->resolved, 1);
				logf_(d, "alertmanager: resolved %s: the service recovered", a->id);
				remove_active(s, i);
				continue;
			}
			atomic_fetch_add(&s->resent, 1);
			a->next_mono = now + d->c.resend_ns;
		} else if (at.out == RO_PARK || real_ns() - a->first_sent_ns > (int64_t)d->c.give_up_after_ns) {
			logf_(d, "alertmanager: stopped following %s: %s", a->id, at.what);
			remove_active(s, i);
			continue;
		} else {
			a->attempts++;
			atomic_fetch_add(&s->retries, 1);
			atomic_fetch_add(&s->failures, 1);
			a->next_mono = now + retry_wait_ns(a->attempts, d->c.min_backoff_ns, d->c.max_backoff_ns, rnd32(),
							   at.retry_after_ns, MAX_HONOUR_NS);
			logf_(d, "alertmanager: %s %s failed: %s; retrying in %.1f s", resolve ? "resolving" : "re-sending",
			      a->id, at.what, (double)(a->next_mono - now) / 1e9);
		}
		if (a->next_mono < next)
			next = a->next_mono;
		i++;
	}
	return next;
}

static void load_active(struct sink *s)
{
	char dir[4200], p[4400], **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/active", s->dir);
	n = queue_list(dir, ".json", &names);
	for (int i = 0; i < n; i++) {
		json_t *j;
		char name[64];

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		j = json_load_file(p, 0, NULL);
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
		if (j && json_string_value(json_object_get(j, "id")) && json_is_object(json_object_get(j, "alert"))) {
			add_active(s, name, json_string_value(json_object_get(j, "id")), json_object_get(j, "alert"),
				   json_object_get(j, "meta"), json_integer_value(json_object_get(j, "first_sent_ns")));
			s->act[s->nact - 1].next_mono = mono_ns(); /* re-send at once: we may have been down a while */
		} else {
			unlink(p);
		}
		json_decref(j);
	}
	if (n > 0)
		queue_names_free(names, n);
	if (s->nact)
		logf_(s->d, "alertmanager: following %zu alerts an earlier run delivered", s->nact);
}

/* Looks at the queue: loads its head, counts it for /metrics. Returns the item count. */
static int scan(struct sink *s)
{
	char qdir[4200], p[4400], **names;
	int n;

	snprintf(qdir, sizeof(qdir), "%s/q", s->dir);
	n = queue_list(qdir, ".json", &names);
	if (n < 0) {
		n = 0;
		names = NULL;
	}
	atomic_store(&s->depth, (uint64_t)n);
	if (!n) {
		drop_head(s);
		atomic_store(&s->oldest_ns, 0);
		free(names);
		return 0;
	}
	if (strncmp(names[0], s->head, strlen(s->head)) || strlen(names[0]) != strlen(s->head) + 5) {
		drop_head(s);
		snprintf(s->head, sizeof(s->head), "%.*s", (int)(strlen(names[0]) - 5), names[0]);
		snprintf(p, sizeof(p), "%s/%s", qdir, names[0]);
		s->head_meta = json_load_file(p, 0, NULL);
		s->head_next_mono = 0;
		if (json_is_object(s->head_meta)) {
			/* a retry's wait an earlier run (killed since) had promised */
			uint64_t nb = (uint64_t)json_integer_value(json_object_get(s->head_meta, "not_before_real_ns"));
			uint64_t rnow = real_ns();

			if (nb > rnow && nb - rnow <= MAX_HONOUR_NS)
				s->head_next_mono = mono_ns() + (nb - rnow);
		}
		if (!json_is_object(s->head_meta)) {
			logf_(s->d, "%s: queue item %s is not readable JSON: moved to parked", sink_names[s->kind], names[0]);
			json_decref(s->head_meta);
			s->head_meta = NULL;
			queue_move(s->dir, s->head, "q", "parked");
			s->head[0] = '\0';
			queue_names_free(names, n);
			return scan(s);
		}
	}
	atomic_store(&s->oldest_ns, json_integer_value(json_object_get(s->head_meta, "created_ns")));
	queue_names_free(names, n);
	return n;
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	struct deliver *d = s->d;

	if (s->kind == SINK_ALERTMANAGER && !d->c.oneshot)
		load_active(s);
	for (;;) {
		uint64_t now, due = UINT64_MAX;
		int n;

		pthread_mutex_lock(&d->lock);
		s->kick = false;
		pthread_mutex_unlock(&d->lock);
		if (d->quit)
			break;
		n = scan(s);
		now = mono_ns();
		if (n && s->head_meta && now >= s->head_next_mono) {
			attempt_head(s);
			continue;
		}
		if (n && s->head_meta)
			due = s->head_next_mono;
		if (s->kind == SINK_ALERTMANAGER && s->nact) {
			uint64_t a = follow_active(s);

			if (a < due)
				due = a;
		}
		pthread_mutex_lock(&d->lock);
		if (s->idle != !n) {
			/* only a change is news to deliver_wait_idle (and only to it) */
			s->idle = !n;
			pthread_cond_broadcast(&d->cond);
		}
		if (!s->kick && !d->quit) {
			struct timespec ts;
			uint64_t wait_ms = IDLE_RESCAN_MS;

			now = mono_ns();
			if (due != UINT64_MAX)
				wait_ms = due > now ? (due - now) / 1000000ull + 1 : 0;
			if (wait_ms > IDLE_RESCAN_MS)
				wait_ms = IDLE_RESCAN_MS;
			if (wait_ms) {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += (time_t)(wait_ms / 1000);
				ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&s->cond, &d->lock, &ts);
			}
		}
		pthread_mutex_unlock(&d->lock);
	}
	drop_head(s);
	while (s->nact) {
		json_decref(s->act[s->nact - 1].alert);
		json_decref(s->act[s->nact - 1].meta);
		s->nact--;
	}
	return NULL;
}

/* ---- lifecycle ---- */

/* A condition variable whose timed waits count CLOCK_MONOTONIC (a clock
 * step must not stretch a backoff). */
static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

int deliver_start(struct deliver **out, const struct deliver_cfg *c, char *err, size_t errlen)
{
	struct deliver *d = calloc(1, sizeof(*d));
	int ret = 0;

	*out = NULL;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->c = *c;
	if (gethostname(d->host, sizeof(d->host) - 1) || !d->host[0])
		snprintf(d->host, sizeof(d->host), "localhost");
	pthread_mutex_init(&d->lock, NULL);
	cond_init_mono(&d->cond);
	/* curl_global_init is not thread-safe; the watcher's pollers have
	 * called it already, and a second call only counts up */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(d);
		return -EIO;
	}
	for (int k = 0; k < SINK_N; k++) {
		struct sink *s = &d->sinks[k];
		struct http_opts ho;

		s->d = d;
		cond_init_mono(&s->cond);
		s->kind = (enum sink_kind)k;
		s->cfg = &d->c.sink[k];
		s->lock_fd = -1;
		s->idle = true;
		if (!s->cfg->url)
			continue;
		http_redact(s->cfg->url, s->url_log, sizeof(s->url_log));
		snprintf(s->dir, sizeof(s->dir), "%s/deliver/%s", c->state_dir, sink_names[k]);
		ret = queue_init_dirs(s->dir);
		if (ret) {
			snprintf(err, errlen, "cannot create the delivery queue %.300s: %s", s->dir, strerror(-ret));
			goto fail;
		}
		ret = queue_lock(s->dir, &s->held_by);
		if (ret == -EAGAIN) {
			logf_(d, "%s: the queue %s is delivered by another process (pid %d): queued items go there",
			      sink_names[k], s->dir, s->held_by);
			ret = 0;
			continue;
		}
		if (ret < 0) {
			snprintf(err, errlen, "cannot lock the delivery queue %.300s: %s", s->dir, strerror(-ret));
			goto fail;
		}
		s->lock_fd = ret;
		ret = 0;
		{
			char q[4200];

			snprintf(q, sizeof(q), "%s/q", s->dir);
			queue_sweep_tmp(q);
			snprintf(q, sizeof(q), "%s/active", s->dir);
			queue_sweep_tmp(q);
		}
		ho = (struct http_opts){ .ca_file = s->cfg->ca_file, .cert_file = s->cfg->cert_file,
					 .key_file = s->cfg->key_file, .bearer = s->cfg->token, .basic = s->cfg->basic,
					 .tenant = s->cfg->tenant, .timeout_ms = c->timeout_ns / 1000000ull,
					 .abort = &d->quit };
		ret = http_new(&s->http, &ho);
		if (ret) {
			snprintf(err, errlen, "cannot set up the %s client: %s", sink_names[k], strerror(-ret));
			goto fail;
		}
	}
	for (int k = 0; k < SINK_N; k++) {
		struct sink *s = &d->sinks[k];

		if (!s->http)
			continue;
		s->idle = false;
		ret = pthread_create(&s->thr, NULL, sink_main, s);
		if (ret) {
			snprintf(err, errlen, "cannot start the %s sender: %s", sink_names[k], strerror(ret));
			ret = -ret;
			goto fail;
		}
		s->started = true;
		logf_(d, "delivering to %s %s (queue %s)", sink_names[k], s->url_log, s->dir);
	}
	*out = d;
	return 0;
fail:
	deliver_stop(d);
	return ret;
}

void deliver_stop(struct deliver *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->quit = 1;
	pthread_cond_broadcast(&d->cond);
	for (int k = 0; k < SINK_N; k++)
		if (d->sinks[k].d)
			pthread_cond_signal(&d->sinks[k].cond);
	pthread_mutex_unlock(&d->lock);
	for (int k = 0; k < SINK_N; k++) {
		struct sink *s = &d->sinks[k];

		if (s->started)
			pthread_join(s->thr, NULL);
		if (s->d)
			pthread_cond_destroy(&s->cond);
		http_free(s->http);
		if (s->lock_fd >= 0)
			close(s->lock_fd);
	}
	curl_global_cleanup();
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void deliver_set_breaching(struct deliver *d, bool breaching)
{
	if (!d || atomic_load(&d->breaching) == breaching)
		return;
	atomic_store(&d->breaching, breaching);
	if (!breaching)
		atomic_store(&d->recovered_ns, real_ns());
	if (d->sinks[SINK_ALERTMANAGER].started)
		kick(&d->sinks[SINK_ALERTMANAGER]);
}

int deliver_unpark(struct deliver *d)
{
	int total = 0;

	for (int k = 0; k < SINK_N; k++) {
		struct sink *s = &d->sinks[k];
		char dir[4200], **names;
		int n;

		if (!s->cfg->url)
			continue;
		snprintf(dir, sizeof(dir), "%s/parked", s->dir);
		n = queue_list(dir, ".json", &names);
		for (int i = 0; i < n; i++) {
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
			if (!queue_move(s->dir, name, "parked", "q"))
				total++;
		}
		if (n > 0) {
			queue_names_free(names, n);
			logf_(d, "%s: %d parked items queued again", sink_names[k], n);
			if (s->started)
				kick(s);
		}
	}
	return total;
}

bool deliver_queue_owned(const struct deliver *d, enum sink_kind k)
{
	return d && k < SINK_N && d->sinks[k].lock_fd >= 0;
}

bool deliver_queue_busy(struct deliver *d, enum sink_kind k, const char *name)
{
	bool busy;

	if (!deliver_queue_owned(d, k))
		return false;
	pthread_mutex_lock(&d->lock);
	busy = !strcmp(d->sinks[k].busy, name);
	pthread_mutex_unlock(&d->lock);
	return busy;
}

int deliver_queue_drop(struct deliver *d, enum sink_kind k, const char *sub, const char *name)
{
	struct sink *s;
	int ret;

	if (!deliver_queue_owned(d, k))
		return -ENOENT;
	s = &d->sinks[k];
	pthread_mutex_lock(&d->lock);
	/* under the lock attempt_head marks its item: neither races the other */
	ret = !strcmp(sub, "q") && !strcmp(s->busy, name) ? -EBUSY : queue_drop_item(s->dir, sub, name);
	pthread_mutex_unlock(&d->lock);
	if (ret)
		return ret;
	atomic_fetch_add(&s->dropped, 1);
	if (s->started)
		kick(s); /* its depth and head are news */
	return 0;
}

int deliver_held_by(const struct deliver *d, enum sink_kind k)
{
	return d->sinks[k].held_by;
}

int deliver_wait_idle(struct deliver *d, volatile int *stop)
{
	bool other = false;
	uint64_t bad = 0;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		bool idle = true;
		struct timespec ts;

		for (int k = 0; k < SINK_N; k++)
			if (d->sinks[k].started && (!d->sinks[k].idle || d->sinks[k].kick))
				idle = false;
		if (idle || *stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	}
	pthread_mutex_unlock(&d->lock);
	if (*stop)
		return -EINTR;
	for (int k = 0; k < SINK_N; k++) {
		bad += atomic_load(&d->sinks[k].parked) + atomic_load(&d->sinks[k].gaveup) +
		       atomic_load(&d->sinks[k].queue_errors);
		other |= d->sinks[k].held_by != 0;
	}
	return bad ? 1 : other ? -EAGAIN : 0;
}

static int count_dir(const char *dir)
{
	char **names;
	int n = queue_list(dir, ".json", &names);

	if (n > 0)
		queue_names_free(names, n);
	return n < 0 ? 0 : n;
}

void deliver_metrics_text(struct deliver *d, char *buf, size_t len, size_t *np)
{
	size_t n = *np;
	int64_t now = real_ns();
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} ctr[] = {
		{ "stalltrap_deliver_deliveries_total", "counter", "Items a sink's server accepted.", offsetof(struct sink, delivered) },
		{ "stalltrap_deliver_retries_total", "counter", "Attempts that failed and will be retried (408, 429, 5xx, no answer).", offsetof(struct sink, retries) },
		{ "stalltrap_deliver_failures_total", "counter", "Attempts that failed, whatever followed.", offsetof(struct sink, failures) },
		{ "stalltrap_deliver_parked_total", "counter", "Items a server refused (another 4xx): parked, resend with stalltrap send.", offsetof(struct sink, parked) },
		{ "stalltrap_deliver_give_ups_total", "counter", "Items given up after --give-up-after.", offsetof(struct sink, gaveup) },
		{ "stalltrap_deliver_queue_errors_total", "counter", "Incidents that could not be queued (disk full, ...).", offsetof(struct sink, queue_errors) },
		{ "stalltrap_deliver_alert_resends_total", "counter", "Alertmanager alerts re-sent while the service breached.", offsetof(struct sink, resent) },
		{ "stalltrap_deliver_resolved_total", "counter", "Alertmanager alerts resolved after the service recovered.", offsetof(struct sink, resolved) },
		{ "stalltrap_deliver_dropped_total", "counter", "Items removed unsent to keep within --max-disk (the oldest first).", offsetof(struct sink, dropped) },
	};
#define PUT(...) do { int k_ = snprintf(buf + n, len - n, __VA_ARGS__); if (k_ > 0 && (size_t)k_ < len - n) n += (size_t)k_; } while (0)
	if (!d)
		return;
	PUT("# HELP stalltrap_deliver_queue_depth Items waiting in a sink's queue.\n# TYPE stalltrap_deliver_queue_depth gauge\n");
	for (int k = 0; k < SINK_N; k++)
		if (d->sinks[k].cfg->url)
			PUT("stalltrap_deliver_queue_depth{sink=\"%s\"} %llu\n", sink_names[k],
			    (unsigned long long)atomic_load(&d->sinks[k].depth));
	PUT("# HELP stalltrap_deliver_oldest_item_age_seconds Age of the oldest item in a sink's queue (0: empty).\n"
	    "# TYPE stalltrap_deliver_oldest_item_age_seconds gauge\n");
	for (int k = 0; k < SINK_N; k++)
		if (d->sinks[k].cfg->url) {
			int64_t o = atomic_load(&d->sinks[k].oldest_ns);

			PUT("stalltrap_deliver_oldest_item_age_seconds{sink=\"%s\"} %.3f\n", sink_names[k],
			    o && now > o ? (double)(now - o) / 1e9 : 0.0);
		}
	PUT("# HELP stalltrap_deliver_parked Items parked now (each a server's refusal to look at).\n"
	    "# TYPE stalltrap_deliver_parked gauge\n");
	for (int k = 0; k < SINK_N; k++)
		if (d->sinks[k].cfg->url) {
			char dir[4200];

			snprintf(dir, sizeof(dir), "%s/parked", d->sinks[k].dir);
			PUT("stalltrap_deliver_parked{sink=\"%s\"} %d\n", sink_names[k], count_dir(dir));
		}
	for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
		PUT("# HELP %s %s\n# TYPE %s %s\n", ctr[i].name, ctr[i].help, ctr[i].name, ctr[i].type);
		for (int k = 0; k < SINK_N; k++)
			if (d->sinks[k].cfg->url)
				PUT("%s{sink=\"%s\"} %llu\n", ctr[i].name, sink_names[k],
				    (unsigned long long)atomic_load((atomic_uint_least64_t *)((char *)&d->sinks[k] + ctr[i].off)));
	}
	PUT("# HELP stalltrap_incidents_total Incidents handed to delivery, by service and verdict kind.\n"
	    "# TYPE stalltrap_incidents_total counter\n");
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->nsvc; i++)
		PUT("stalltrap_incidents_total{service=\"%s\",kind=\"%s\"} %llu\n", d->svc[i].service, d->svc[i].kind,
		    (unsigned long long)d->svc[i].n);
	pthread_mutex_unlock(&d->lock);
#undef PUT
	*np = n;
}
