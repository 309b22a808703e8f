/* sinks.c: the bodies the sinks send: Alertmanager alerts, signed webhooks, profile store links. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>

#include "deliver/deliver.h"
#include "deliver/sinks.h"
#include "render/render.h"

json_t *sink_alert(const struct incident_info *ii, const char *severity)
{
	char starts[40];

	render_rfc3339(ii->starts_ns, starts, sizeof(starts));
	/* the incident id is an annotation: as a label it would make every
	 * incident its own alert group and series */
	return json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s}",
			 "labels", "alertname", "StalltrapFreeze", "service", ii->service, "host", ii->host,
			 "kind", ii->kind, "severity", severity ? severity : "critical",
			 "annotations", "summary", ii->summary, "culprit", ii->culprit[0] ? ii->culprit : "none named",
			 "incident_id", ii->id, "report", ii->report,
			 "startsAt", starts);
}

char *sink_alert_body(const json_t *alert, int64_t ends_ns, const char *profile_url)
{
	json_t *a = json_deep_copy(alert), *arr;
	char ends[40];
	char *s;

	if (!a)
		return NULL;
	if (ends_ns) {
		render_rfc3339(ends_ns, ends, sizeof(ends));
		json_object_set_new(a, "endsAt", json_string(ends));
	}
	if (profile_url)
		json_object_set_new(json_object_get(a, "annotations"), "profile_url", json_string(profile_url));
	arr = json_pack("[o]", a);
	s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return s;
}

char *sink_webhook_body(const struct incident_info *ii, const char *severity, const char *pod_uid,
			const char *container_id)
{
	json_t *r = ii->report_json, *data, *msg;
	char starts[40], ends[40], now[40];
	static const char *const keys[] = { "verdict", "trigger", "window", "target", "offcpu_total_ms",
					    "offcpu_window_ms", "drops", "baseline" };
	char *s;

	render_rfc3339(ii->starts_ns, starts, sizeof(starts));
	render_rfc3339(ii->ends_ns, ends, sizeof(ends));
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		render_rfc3339((int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec, now, sizeof(now));
	}
	data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "incident_id", ii->id,
			 "service", ii->service, "host", ii->host, "kind", ii->kind,
			 "severity", severity ? severity : "critical", "summary", ii->summary, "culprit", ii->culprit,
			 "report", ii->report, "starts_at", starts, "ends_at", ends);
	if (!data)
		return NULL;
	if (pod_uid && *pod_uid)
		json_object_set_new(data, "pod_uid", json_string(pod_uid));
	if (container_id && *container_id)
		json_object_set_new(data, "container_id", json_string(container_id));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(r, keys[i]);

		if (v)
			json_object_set(data, keys[i], v);
	}
	msg = json_pack("{s:s, s:s, s:o}", "type", "stalltrap.incident", "timestamp", now, "data", data);
	s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	return s;
}

int sink_webhook_sign(const unsigned char *key, size_t keylen, const char *id, long long ts,
		      const void *body, size_t len, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char head[512];
	int hl = snprintf(head, sizeof(head), "%s.%lld.", id, ts);
	EVP_MAC *m;
	EVP_MAC_CTX *c;
	OSSL_PARAM params[2];
	size_t ml = 0;

	if (hl < 0 || (size_t)hl >= sizeof(head) || outlen < 4 + 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1)
		return -EINVAL;
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	c = m ? EVP_MAC_CTX_new(m) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!c || !EVP_MAC_init(c, key, keylen, params) || !EVP_MAC_update(c, (const unsigned char *)head, (size_t)hl) ||
	    !EVP_MAC_update(c, body, len) || !EVP_MAC_final(c, mac, &ml, sizeof(mac))) {
		EVP_MAC_CTX_free(c);
		EVP_MAC_free(m);
		return -EIO;
	}
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	maclen = (unsigned int)ml;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
	return 0;
}

int sink_webhook_key(const char *text, unsigned char **key, size_t *keylen)
{
	size_t n = strlen(text);
	unsigned char *k;

	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	if (!n)
		return -EINVAL;
	if (n > 6 && !strncmp(text, "whsec_", 6)) {
		size_t bl = n - 6;
		int got, pad = 0;

		if (bl % 4)
			return -EINVAL;
		k = malloc(bl / 4 * 3 + 1);
		if (!k)
			return -ENOMEM;
		got = EVP_DecodeBlock(k, (const unsigned char *)text + 6, (int)bl);
		if (got < 0) {
			free(k);
			return -EINVAL;
		}
		/* EVP_DecodeBlock counts the padding as zero bytes */
		pad = (text[n - 1] == '=') + (text[n - 2] == '=');
		*key = k;
		*keylen = (size_t)got - (size_t)pad;
		return *keylen ? 0 : -EINVAL;
	}
	k = malloc(n);
	if (!k)
		return -ENOMEM;
	memcpy(k, text, n);
	*key = k;
	*keylen = n;
	return 0;
}

static void url_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, len - o, "%%%02X", c);
	}
	out[o] = '\0';
}

char *sink_profile_url(int kind, const char *base, const char *service, int64_t start_ns, int64_t end_ns)
{
	char sel[512], q[1600], *s = NULL;
	size_t bl = strlen(base);
	long long from = start_ns / 1000000000ll - 60, until = end_ns / 1000000000ll + 60;

	while (bl && base[bl - 1] == '/')
		bl--;
	snprintf(sel, sizeof(sel), "{service_name=\"%s\"}", service);
	url_escape(sel, q, sizeof(q));
	if (kind == SINK_PYROSCOPE) {
		if (asprintf(&s, "%.*s/explore?query=%s&from=%lld&until=%lld", (int)bl, base, q, from, until) < 0)
			s = NULL;
	} else if (asprintf(&s, "%.*s/?expression_a=%s&time_selection_a=absolute:%lld000-%lld000", (int)bl, base, q,
			    from, until) < 0) {
		s = NULL;
	}
	return s;
}
