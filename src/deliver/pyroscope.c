/* pyroscope.c: the Grafana Pyroscope push requests (Connect unary POST /push.v1.PusherService/Push, application/proto) of an incident's profile.
 *
 * Connect's unary protocol over HTTP/1.1 carries the bare protobuf message
 * (no gRPC envelope) with Content-Type application/proto; Pyroscope and
 * Alloy's pyroscope.receive_http both serve it. The message types come from
 * src/deliver/pyroscope_push.proto, typed from Pyroscope's published schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/profile_prep.h"
#include "deliver/profile_push.h"
#include "proto/pyroscope_push.pb-c.h"

#define PYROSCOPE_PATH "/push.v1.PusherService/Push"
#define PYROSCOPE_CONTENT_TYPE "application/proto"

typedef Stalltrap__Pyroscope__PushRequest PushRequest;
typedef Stalltrap__Pyroscope__RawProfileSeries RawProfileSeries;
typedef Stalltrap__Pyroscope__RawSample RawSample;
typedef Stalltrap__Pyroscope__LabelPair LabelPair;

/* One PushRequest of part pt, labels ls, sample id id: packed, malloc'd. */
static unsigned char *pack_request(const struct push_part *pt, const struct push_label *ls, size_t nls,
				   const char *id, size_t *len)
{
	LabelPair pairs[PUSH_MAX_LABELS], *pair_ptrs[PUSH_MAX_LABELS];
	RawSample sample = STALLTRAP__PYROSCOPE__RAW_SAMPLE__INIT, *sample_ptr = &sample;
	RawProfileSeries series = STALLTRAP__PYROSCOPE__RAW_PROFILE_SERIES__INIT, *series_ptr = &series;
	PushRequest req = STALLTRAP__PYROSCOPE__PUSH_REQUEST__INIT;
	unsigned char *buf;
	size_t i;

	for (i = 0; i < nls; i++) {
		stalltrap__pyroscope__label_pair__init(&pairs[i]);
		pairs[i].name = (char *)ls[i].name;   /* protobuf-c only reads them */
		pairs[i].value = (char *)ls[i].value;
		pair_ptrs[i] = &pairs[i];
	}
	sample.raw_profile.data = pt->gz;
	sample.raw_profile.len = pt->gz_len;
	sample.id = (char *)id;
	series.n_labels = nls;
	series.labels = pair_ptrs;
	series.n_samples = 1;
	series.samples = &sample_ptr;
	req.n_series = 1;
	req.series = &series_ptr;
	*len = stalltrap__pyroscope__push_request__get_packed_size(&req);
	buf = malloc(*len ? *len : 1);
	if (buf && stalltrap__pyroscope__push_request__pack(&req, buf) != *len) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

int pyroscope_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
		    struct push_bodies *out, char *err, size_t errlen)
{
	struct push_prep_opts opts = { .clear_stale_time = 1 };

	return push_build(pprof, len, l, &opts, pack_request, PYROSCOPE_PATH, PYROSCOPE_CONTENT_TYPE, out,
			  err, errlen);
}
