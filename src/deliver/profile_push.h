/* profile_push.h: the request bodies that put an incident's pprof into a profile store (Grafana Pyroscope, Parca).
 *
 * The builders take the incident's profile.pb(.gz) as render wrote it and
 * return the HTTP requests to send, one per part; the deliver stage's queue
 * sends them (in order, each to the sink's base URL + path). They meet the
 * stores' ingestion rules (docs/profiles.md): sample-type names without '-',
 * mapping, function and location ids sequential from 1 (so never zero), valid
 * UTF-8 strings, at most PUSH_MAX_SAMPLES samples and PUSH_MAX_PROFILE_BYTES
 * uncompressed bytes per profile (a bigger one is split into several requests,
 * each a self-contained profile; note says so), labels valid per Prometheus'
 * rules with __name__ and service_name always present.
 *
 * The builders are pure functions of their input and the clock (Pyroscope
 * rejects a profile whose time is over an hour old: such a profile is sent
 * without a time, see pyroscope_build), so the deliverer should build at each
 * attempt rather than store bodies: a retry of the same incident then carries
 * the same sample IDs (Pyroscope's idempotency key).
 */
#ifndef STALLTRAP_DELIVER_PROFILE_PUSH_H
#define STALLTRAP_DELIVER_PROFILE_PUSH_H

#include <stddef.h>

struct push_labels {            /* every string NUL-terminated; NULL = absent */
	const char *service, *host, *kind, *incident;
	const char *pod_uid, *container_id;
};

struct push_body {              /* one HTTP request to send */
	char path[128];             /* appended to the sink's base URL, e.g. "/push.v1.PusherService/Push" */
	char content_type[64];
	unsigned char *data; size_t len;   /* malloc'd; free with push_bodies_free */
};

struct push_bodies { struct push_body *v; size_t n; char note[256]; /* e.g. "split into 3 requests" */ };

/* The profile name both stores get as __name__: the one Grafana Alloy's
 * eBPF profiler gives its off-CPU profiles (pyroscope.ebpf with
 * off_cpu_threshold), which Pyroscope and Grafana show as off-CPU time, not CPU. */
#define PUSH_PROFILE_NAME "offcpu"

/* Per-profile caps, under the stores' default limits: Pyroscope's
 * validation.max-profile-stacktrace-samples (16000 now; 4000 in earlier 1.x
 * releases, so 4000 here) and validation.max-profile-size-bytes (4 MiB of
 * uncompressed profile; 3 MiB here leaves room for its own accounting). */
#define PUSH_MAX_SAMPLES 4000
#define PUSH_MAX_PROFILE_BYTES (3u << 20)
/* Pyroscope's validation.max-length-label-value. */
#define PUSH_MAX_LABEL_VALUE 2048

/* pprof: the incident's profile.pb (uncompressed, or gzip: the builder
 * detects). 0 on success, -1 with err filled (out is then empty). A profile
 * without samples gives 0 and no body (note says so): nothing to send.
 *
 * Pyroscope: one POST /push.v1.PusherService/Push (Connect unary,
 * application/proto) per part, each a PushRequest with one RawProfileSeries
 * (labels __name__, service_name, host, kind, incident, pod_uid,
 * container_id: those given) and one RawSample: the gzipped part and, as ID,
 * the incident id as a UUID (itself if it is one, else a name-based UUID v5
 * of it; parts after the first: of "<incident>#<part>"). A profile time
 * outside Pyroscope's default ingestion window (1 h back, 10 min ahead) is
 * cleared, so the server stamps it at arrival; a comment keeps the capture
 * time. */
int pyroscope_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
		    struct push_bodies *out, char *err, size_t errlen);

/* Parca: one POST /profiles/writeraw (its gRPC gateway, JSON) per part:
 * {"series":[{"labels":{"labels":[{"name":..,"value":..}]},
 *             "samples":[{"rawProfile":"<base64 of the gzipped part>"}]}]},
 * the same labels. */
int parca_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
		struct push_bodies *out, char *err, size_t errlen);

/* Frees every body and empties b (b itself is the caller's; NULL is fine). */
void push_bodies_free(struct push_bodies *b);

#endif
