/* incident.h: what the sinks say about an incident, read from its directory's report.json.
 *
 * The one place where report.json's keys are read for delivery: the alert's
 * labels and annotations, the webhook's body and the profile stores' labels
 * are all built from a struct incident_info.
 */
#ifndef STALLTRAP_DELIVER_INCIDENT_H
#define STALLTRAP_DELIVER_INCIDENT_H

#include <stdint.h>

#include <jansson.h>

struct incident_info {
	char id[384];               /* HOST/BASENAME */
	char dir[4096];             /* absolute */
	char host[256];
	char service[128];
	char kind[64];              /* the verdict's kind, "none" without one */
	char summary[1024];         /* the verdict's summary */
	char culprit[512];          /* "COMM (tid N): OPERATION", or "" */
	char report[4400];          /* --report-url-prefix + id, or the report's path */
	int64_t starts_ns;          /* the trigger (watch), else the capture's start: real ns */
	int64_t ends_ns;            /* the capture window's end: real ns */
	json_t *report_json;        /* report.json (owned) */
};

/* Reads dir/report.json. service: --service or NULL (the target's comm);
 * prefix: --report-url-prefix or NULL. Returns 0 or a negative errno with one
 * line in err. Release with incident_info_release. */
int incident_info_read(struct incident_info *ii, const char *dir, const char *host, const char *service,
		       const char *prefix, char *err, size_t errlen);
void incident_info_release(struct incident_info *ii);

/* Parses RFC 3339 ("2026-12-05T05:46:47.511Z", offsets too) into real ns. */
int incident_parse_time(const char *s, int64_t *ns);

#endif /* STALLTRAP_DELIVER_INCIDENT_H */
