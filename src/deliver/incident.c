/* incident.c: an incident directory's report.json, read into what the sinks say. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/proc.h"
#include "deliver/deliver.h"
#include "deliver/incident.h"

int incident_parse_time(const char *s, int64_t *ns)
{
	struct tm tm = { 0 };
	const char *p;
	double frac = 0;
	long off = 0;
	time_t t;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -EINVAL;
	if (*p == '.') {
		char *end;

		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		off = (atol(p + 1) * 60 + atol(p + 4)) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ns = ((int64_t)t - off) * 1000000000ll + (int64_t)llround(frac * 1e9);
	return 0;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

int incident_info_read(struct incident_info *ii, const char *dir, const char *host, const char *service,
		       const char *prefix, char *err, size_t errlen)
{
	char path[4200], abs[PATH_MAX];
	json_error_t je;
	json_t *r, *cul;
	const char *s;
	double dur;

	memset(ii, 0, sizeof(*ii));
	if (!realpath(dir, abs)) {
		snprintf(err, errlen, "%.300s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/report.json", abs);
	r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!r) {
		snprintf(err, errlen, "%.300s: not a capture directory: cannot read report.json (%.120s)", dir, je.text);
		return -ENOENT;
	}
	if (!json_is_object(r) || !json_is_object(json_object_get(r, "window"))) {
		snprintf(err, errlen, "%.300s/report.json: no \"window\": not a stalltrap report", dir);
		json_decref(r);
		return -EINVAL;
	}
	ii->report_json = r;
	snprintf(ii->dir, sizeof(ii->dir), "%s", abs);
	snprintf(ii->host, sizeof(ii->host), "%s", host);
	deliver_incident_id(host, abs, ii->id, sizeof(ii->id));
	s = service ? service : str_at(r, "target", "comm");
	snprintf(ii->service, sizeof(ii->service), "%s", s && *s ? s : "unknown");
	s = str_at(r, "verdict", "kind");
	snprintf(ii->kind, sizeof(ii->kind), "%s", s ? s : "none");
	s = str_at(r, "verdict", "summary");
	snprintf(ii->summary, sizeof(ii->summary), "%s", s ? s : "no verdict");
	cul = json_object_get(json_object_get(r, "verdict"), "culprit");
	if (json_is_object(cul)) {
		const char *comm = json_string_value(json_object_get(cul, "comm"));
		const char *op = json_string_value(json_object_get(cul, "operation"));
		json_int_t tid = json_integer_value(json_object_get(cul, "tid"));

		snprintf(ii->culprit, sizeof(ii->culprit), "%s (tid %lld)%s%s", comm ? comm : "?", (long long)tid,
			 op ? ": " : "", op ? op : "");
	}
	if (prefix)
		snprintf(ii->report, sizeof(ii->report), "%s%s", prefix, ii->id);
	else
		snprintf(ii->report, sizeof(ii->report), "%s/report.html", abs);
	if (incident_parse_time(str_at(r, "window", "start"), &ii->starts_ns)) {
		snprintf(err, errlen, "%.300s/report.json: no valid window.start", dir);
		incident_info_release(ii);
		return -EINVAL;
	}
	dur = json_number_value(json_object_get(json_object_get(r, "window"), "duration_s"));
	ii->ends_ns = ii->starts_ns + (int64_t)llround(dur * 1e9);
	/* a watch incident starts at its trigger, not at the history before it */
	if ((s = str_at(r, "window", "trigger")))
		incident_parse_time(s, &ii->starts_ns);
	return 0;
}

void incident_info_release(struct incident_info *ii)
{
	json_decref(ii->report_json);
	ii->report_json = NULL;
}

void deliver_incident_id(const char *host, const char *dir, char *out, size_t len)
{
	size_t n = strlen(dir);
	const char *base;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	base = dir + n;
	while (base > dir && base[-1] != '/')
		base--;
	snprintf(out, len, "%s/%.*s", host, (int)(dir + n - base), base);
}

/* A pod's UID as the kubelet writes it in a cgroup name: "pod" then the UID,
 * with '_' for '-' under the systemd driver. */
static void pod_uid_of(const char *seg, size_t n, char *out, size_t len)
{
	const char *p = NULL;

	for (size_t i = 0; i + 3 < n; i++)
		if (!strncmp(seg + i, "pod", 3) && (i == 0 || seg[i - 1] == '-')) {
			p = seg + i + 3;
			break;
		}
	if (!p)
		return;
	n -= (size_t)(p - seg);
	if (n > 6 && !strncmp(p + n - 6, ".slice", 6))
		n -= 6;
	if (n < 32 || n >= len)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '_' ? '-' : p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
			return;
		out[i] = c;
	}
	out[n] = '\0';
}

/* A container id: 64 hex digits, alone or as RUNTIME-<id>.scope. */
static void container_id_of(const char *seg, size_t n, char *out, size_t len)
{
	const char *dash = memrchr(seg, '-', n), *p = dash ? dash + 1 : seg;
	size_t k = n - (size_t)(p - seg);

	if (k > 6 && !strncmp(p + k - 6, ".scope", 6))
		k -= 6;
	if (k != 64 || k >= len)
		return;
	for (size_t i = 0; i < k; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return;
	memcpy(out, p, k);
	out[k] = '\0';
}

void deliver_origin_from_cgroup(const char *path, struct deliver_origin *o)
{
	const char *p = path;

	memset(o, 0, sizeof(*o));
	if (!path || !strstr(path, "kubepods"))
		return;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if (!o->pod_uid[0])
			pod_uid_of(p, n, o->pod_uid, sizeof(o->pod_uid));
		container_id_of(p, n, o->container_id, sizeof(o->container_id));
		p += n;
	}
}

void deliver_origin_from_pid(int pid, struct deliver_origin *o)
{
	char cg[4096];

	memset(o, 0, sizeof(*o));
	if (pid > 0 && !proc_cgroup_of((pid_t)pid, NULL, cg, sizeof(cg)))
		deliver_origin_from_cgroup(cg, o);
}
