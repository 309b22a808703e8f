/* profile_prep.h: what the Pyroscope and Parca builders share: the pprof made fit for a profile store, its labels, the sample IDs.
 *
 * push_prep_profile() decodes the pprof (gzip or not), checks that every
 * reference in it resolves, and re-encodes it as one or more self-contained
 * parts: samples in their order, each part with only the mappings, locations,
 * functions and strings its samples use, ids renumbered 1..n in table order,
 * '-' in sample-type names turned into '_', invalid UTF-8 bytes into '?',
 * and at most PUSH_MAX_SAMPLES samples and PUSH_MAX_PROFILE_BYTES bytes per
 * part. Values are copied as they are, so the parts' totals add up to the
 * input's.
 */
#ifndef STALLTRAP_DELIVER_PROFILE_PREP_H
#define STALLTRAP_DELIVER_PROFILE_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "deliver/profile_push.h"

struct push_part {
	unsigned char *gz; size_t gz_len;   /* the gzipped profile.proto */
	size_t raw_len;                     /* its size before gzip */
	size_t nsamples;
};

struct push_prep {
	struct push_part *parts; size_t nparts;
	char note[256];                     /* what was changed, "" if nothing */
};

struct push_prep_opts {
	/* Clear a time_nanos outside [now - 1 h + margin, now + 10 min - margin]
	 * (Pyroscope's default ingestion window). */
	int clear_stale_time;
	uint64_t now_ns;                    /* 0: the real-time clock */
};

/* 0, or -1 with err filled. out is zeroed first; release it either way. */
int push_prep_profile(const unsigned char *pprof, size_t len, const struct push_prep_opts *o,
		      struct push_prep *out, char *err, size_t errlen);
void push_prep_release(struct push_prep *p);

#define PUSH_MAX_LABELS 8
struct push_label { const char *name, *value; };

/* The series labels, sorted by name: __name__, service_name and the others
 * given (NULL or "" = left out). -1 with err when service or incident is
 * missing, a value is not UTF-8 or is longer than PUSH_MAX_LABEL_VALUE. */
int push_labels_collect(const struct push_labels *l, struct push_label *out, size_t *n,
			char *err, size_t errlen);

/* sample_id.c. The sample ID of part `part` (0-based) of incident id: out gets 36 chars
 * and a NUL (see pyroscope_build). */
void push_sample_id(const char *incident, size_t part, char out[37]);

/* RFC 9562 UUID version 5 (SHA-1, name-based) of name in namespace ns. */
void push_uuid_v5(const uint8_t ns[16], const void *name, size_t len, char out[37]);

/* Appends the printf-formatted text to note (size cap), "; "-separated. */
void push_note_add(char *note, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One request's body of part pt (labels ls, sample ID id), malloc'd, its
 * length in *len; NULL on ENOMEM. */
typedef unsigned char *(*push_encode_fn)(const struct push_part *pt, const struct push_label *ls,
					 size_t nls, const char *id, size_t *len);

/* What both builders do: labels checked, the pprof prepared, one body per
 * part from encode with path and content_type. 0, or -1 with err (out empty). */
int push_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
	       const struct push_prep_opts *o, push_encode_fn encode, const char *path,
	       const char *content_type, struct push_bodies *out, char *err, size_t errlen);

/* Fills a body; data is taken over (freed by push_bodies_free). -1 on ENOMEM
 * (data is then freed). */
int push_bodies_add(struct push_bodies *b, const char *path, const char *content_type,
		    unsigned char *data, size_t len);

#endif
