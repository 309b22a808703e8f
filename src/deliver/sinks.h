/* sinks.h: what each sink sends: the Alertmanager alert, the signed webhook, the profile stores' requests.
 *
 * Builders only (no I/O but reading the incident's files): deliver.c queues
 * and sends what these return.
 */
#ifndef STALLTRAP_DELIVER_SINKS_H
#define STALLTRAP_DELIVER_SINKS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "deliver/incident.h"

/* The Alertmanager API v2 alert of an incident, without endsAt (set when
 * sent): labels alertname=StalltrapFreeze, service, host, kind, severity;
 * annotations summary, culprit, incident_id, report; startsAt the trigger. */
json_t *sink_alert(const struct incident_info *ii, const char *severity);
/* The body of POST /api/v2/alerts: [alert] with endsAt (real ns; 0: none)
 * and profile_url (NULL: none). Returns a malloc'd string. */
char *sink_alert_body(const json_t *alert, int64_t ends_ns, const char *profile_url);

/* The webhook's JSON body (Standard Webhooks' {type, timestamp, data}):
 * the verdict and the key parts of report.json. malloc'd. */
char *sink_webhook_body(const struct incident_info *ii, const char *severity, const char *pod_uid,
			const char *container_id);
/* Standard Webhooks: "v1," + base64(HMAC-SHA256(key, "ID.TS.BODY")). */
int sink_webhook_sign(const unsigned char *key, size_t keylen, const char *id, long long ts,
		      const void *body, size_t len, char *out, size_t outlen);
/* The key of a secret file's text: "whsec_" + base64 (the spec's form) is
 * decoded; anything else is used as it is (trailing newline trimmed).
 * *key is malloc'd. Returns 0 or -EINVAL (bad base64, empty). */
int sink_webhook_key(const char *text, unsigned char **key, size_t *keylen);

/* Where the profile store shows this incident's profile: a Pyroscope or
 * Parca UI query for the service over the incident's window. malloc'd. */
char *sink_profile_url(int kind, const char *base, const char *service, int64_t start_ns, int64_t end_ns);

#endif /* STALLTRAP_DELIVER_SINKS_H */
