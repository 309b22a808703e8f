/* parca.c: the Parca write requests (ProfileStoreService/WriteRaw through its HTTP gateway: POST /profiles/writeraw, JSON) of an incident's profile.
 *
 * The gateway maps the JSON onto parca.profilestore.v1alpha1.WriteRawRequest
 * with protobuf's JSON mapping: field names in lowerCamelCase (raw_profile is
 * "rawProfile"), bytes as standard base64. Parca ungzips a raw profile that
 * starts with gzip's magic, so parts go gzipped, as to Pyroscope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deliver/profile_prep.h"
#include "deliver/profile_push.h"
#include "util/base64.h"

#define PARCA_PATH "/profiles/writeraw"
#define PARCA_CONTENT_TYPE "application/json"

/* {"series":[{"labels":{"labels":[...]},"samples":[{"rawProfile":"..."}]}]} */
static unsigned char *json_request(const struct push_part *pt, const struct push_label *ls, size_t nls,
				   const char *id, size_t *len)
{
	json_t *labels = json_array(), *req = NULL;
	char *b64 = malloc(BASE64_LEN(pt->gz_len) + 1), *text = NULL;
	size_t i;

	(void)id;   /* WriteRaw has no sample ID */
	if (!labels || !b64)
		goto cleanup;
	for (i = 0; i < nls; i++)
		if (json_array_append_new(labels, json_pack("{s:s, s:s}", "name", ls[i].name,
							    "value", ls[i].value)))
			goto cleanup;
	base64_encode(pt->gz, pt->gz_len, b64);
	req = json_pack("{s:[{s:{s:O}, s:[{s:s}]}]}", "series", "labels", "labels", labels,
			"samples", "rawProfile", b64);
	if (req)
		text = json_dumps(req, JSON_COMPACT);
	if (text)
		*len = strlen(text);
cleanup:
	json_decref(req);
	json_decref(labels);
	free(b64);
	return (unsigned char *)text;
}

int parca_build(const unsigned char *pprof, size_t len, const struct push_labels *l,
		struct push_bodies *out, char *err, size_t errlen)
{
	struct push_prep_opts opts = { 0 };   /* Parca keeps the capture's time */

	return push_build(pprof, len, l, &opts, json_request, PARCA_PATH, PARCA_CONTENT_TYPE, out, err, errlen);
}
