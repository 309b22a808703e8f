/* sample_id.c: the sample IDs of an incident's profile parts: the incident id as a UUID (version 5, name-based, SHA-1).
 *
 * Pyroscope's ingesters parse RawSample.ID as a UUID and the deliver stage's
 * retries must carry the same IDs, so an ID is a pure function of the
 * incident id and the part. SHA-1 is here only for RFC 9562's version 5
 * (not for security); the test checks it against RFC 9562's example.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "deliver/profile_prep.h"

/* SHA-1 (FIPS 180-4) of len bytes: only for name-based UUIDs. */
struct sha1 { uint32_t h[5]; uint64_t len; uint8_t buf[64]; size_t nbuf; };

static uint32_t rol(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void sha1_block(struct sha1 *c, const uint8_t *b)
{
	uint32_t w[80], a = c->h[0], bb = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (i = 0; i < 80; i++) {
		uint32_t f, k;

		if (i < 20) {
			f = (bb & cc) | (~bb & d); k = 0x5a827999;
		} else if (i < 40) {
			f = bb ^ cc ^ d; k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (bb & cc) | (bb & d) | (cc & d); k = 0x8f1bbcdc;
		} else {
			f = bb ^ cc ^ d; k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d; d = cc; cc = rol(bb, 30); bb = a; a = t;
	}
	c->h[0] += a; c->h[1] += bb; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

static void sha1_update(struct sha1 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->len += len;
	while (len) {
		size_t n = 64 - c->nbuf < len ? 64 - c->nbuf : len;

		memcpy(c->buf + c->nbuf, p, n);
		c->nbuf += n; p += n; len -= n;
		if (c->nbuf == 64) {
			sha1_block(c, c->buf);
			c->nbuf = 0;
		}
	}
}

static void sha1_final(struct sha1 *c, uint8_t out[20])
{
	uint64_t bits = c->len * 8;
	uint8_t pad = 0x80, zero = 0, lenb[8];
	int i;

	sha1_update(c, &pad, 1);
	while (c->nbuf != 56)
		sha1_update(c, &zero, 1);
	for (i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(c, lenb, 8);
	for (i = 0; i < 20; i++)
		out[i] = (uint8_t)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void uuid_format(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

void push_uuid_v5(const uint8_t ns[16], const void *name, size_t len, char out[37])
{
	struct sha1 c = { .h = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 } };
	uint8_t d[20];

	sha1_update(&c, ns, 16);
	sha1_update(&c, name, len);
	sha1_final(&c, d);
	d[6] = (uint8_t)((d[6] & 0x0f) | 0x50);   /* version 5 */
	d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);   /* RFC variant */
	uuid_format(d, out);
}

static bool is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	}
	return true;
}

/* stalltrap's namespace for the names of incident ids (a random UUID, fixed
 * forever: changing it changes every sample ID). */
static const uint8_t incident_ns[16] = { /* f913ea6f-7627-49dd-a2c7-1dc8e6ee48fe */
	0xf9, 0x13, 0xea, 0x6f, 0x76, 0x27, 0x49, 0xdd,
	0xa2, 0xc7, 0x1d, 0xc8, 0xe6, 0xee, 0x48, 0xfe,
};

void push_sample_id(const char *incident, size_t part, char out[37])
{
	char name[1100];
	size_t i;

	if (part == 0 && is_uuid(incident)) {
		for (i = 0; i < 36; i++)
			out[i] = (char)(incident[i] >= 'A' && incident[i] <= 'F' ? incident[i] + 32 : incident[i]);
		out[36] = '\0';
		return;
	}
	if (part == 0)
		push_uuid_v5(incident_ns, incident, strlen(incident), out);
	else {
		int n = snprintf(name, sizeof(name), "%s#%zu", incident, part + 1);

		push_uuid_v5(incident_ns, name, n < 0 ? 0 : (size_t)n >= sizeof(name) ? sizeof(name) - 1 : (size_t)n, out);
	}
}
