/* render_util.c: helpers of the picture renderers: XML/HTML escaping, string interning, hashing, the verdict, the tooltip script. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render_int.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one of
 * the characters XML 1.0 allows (controls, surrogates, overlongs, U+FFFE/F,
 * past U+10FFFF). capdata already cleans names, but a renderer is the last
 * line before a browser, and one bad character makes a whole SVG unreadable. */
static size_t xml_char_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		if (s[0] < 0x20 && s[0] != '\t' && s[0] != '\n' && s[0] != '\r')
			return 0;
		return s[0] == 0x7f ? 0 : 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

size_t render_xml_put_n(FILE *f, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, n;

	if (!s)
		return 0;
	while (*p && chars < max_chars) {
		n = xml_char_len(p);
		chars++;
		if (!n) {
			fputc('?', f);
			p++;
			continue;
		}
		switch (*p) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		case '\t': case '\n': case '\r': fputc(' ', f); break;
		default: fwrite(p, 1, n, f);
		}
		p += n;
	}
	return chars;
}

void render_xml_put(FILE *f, const char *s)
{
	render_xml_put_n(f, s, SIZE_MAX);
}

size_t render_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void render_xml_put_fit(FILE *f, const char *s, size_t max_chars)
{
	if (render_utf8_chars(s) <= max_chars) {
		render_xml_put(f, s);
		return;
	}
	if (max_chars < 3)
		return;
	render_xml_put_n(f, s, max_chars - 2);
	fputs("..", f);
}

/* Byte offset of character n of s (or of its end). */
static size_t char_offset(const char *s, size_t n)
{
	size_t i = 0;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n-- == 0)
			return i;
	}
	return i;
}

int render_svg_subtitle(FILE *f, const char *cls, double x, double y, double line_h,
			const char *s, size_t max_chars)
{
	size_t cut, i;
	char *first;

	if (render_utf8_chars(s) <= max_chars) {
		fprintf(f, "<text class=\"%s\" x=\"%.0f\" y=\"%.0f\">", cls, x, y);
		render_xml_put(f, s);
		fputs("</text>\n", f);
		return 1;
	}
	/* Break at the last space that keeps the first line short enough. */
	cut = char_offset(s, max_chars);
	for (i = cut; i > cut / 2 && s[i] != ' '; i--)
		;
	if (s[i] == ' ')
		cut = i;
	first = strndup(s, cut);
	if (!first)
		return -ENOMEM;
	fprintf(f, "<text class=\"%s\" x=\"%.0f\" y=\"%.0f\">", cls, x, y);
	render_xml_put(f, first);
	fprintf(f, "</text>\n<text class=\"%s\" x=\"%.0f\" y=\"%.0f\">", cls, x, y + line_h);
	render_xml_put_fit(f, s + cut + (s[cut] == ' '), max_chars);
	fputs("</text>\n", f);
	free(first);
	return 2;
}

size_t render_svg_subtitle_lines(const char *s, size_t max_chars)
{
	return !s ? 0 : render_utf8_chars(s) <= max_chars ? 1 : 2;
}

uint32_t render_hash(const void *data, size_t len, uint32_t seed)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	/* FNV's low bits mix poorly for short keys; fold the high bits in. */
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h;
}

/* ---- string interning ---- */

struct strtab_key {
	const char *s;
	uint8_t tag;
};

static bool strtab_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct render_strtab *t = ctx;
	const struct strtab_key *k = key;

	return t->tags[id] == k->tag && strcmp(t->strs[id], k->s) == 0;
}

int64_t render_strtab_intern(struct render_strtab *t, const char *s, uint8_t tag)
{
	struct strtab_key k = { .s = s, .tag = tag };
	uint64_t h = htab_hash_str(htab_hash_u64(HTAB_HASH_SEED, tag), s);
	int64_t id = htab_find(&t->index, h, strtab_eq, t, &k);
	int err;

	if (id >= 0)
		return id;
	if (t->n >= RENDER_STRTAB_MAX)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		const char **strs = realloc(t->strs, cap * sizeof(*strs));
		uint8_t *tags;

		if (!strs)
			return -ENOMEM;
		t->strs = strs;
		tags = realloc(t->tags, cap * sizeof(*tags));
		if (!tags)
			return -ENOMEM;
		t->tags = tags;
		t->cap = cap;
	}
	err = htab_insert(&t->index, h, (uint32_t)t->n);
	if (err)
		return err;
	t->strs[t->n] = s;
	t->tags[t->n] = tag;
	return (int64_t)t->n++;
}

void render_strtab_release(struct render_strtab *t)
{
	free(t->strs);
	free(t->tags);
	htab_release(&t->index);
	memset(t, 0, sizeof(*t));
}

/* ---- the verdict, from the diagnosis' extra object ---- */

static const char *verdict_str(const json_t *extra, const char *key)
{
	const json_t *v, *s;

	if (!extra || !json_is_object(extra))
		return NULL;
	v = json_object_get(extra, "verdict");
	if (!v || !json_is_object(v))
		return NULL;
	s = json_object_get(v, key);
	return s && json_is_string(s) && json_string_value(s)[0] ? json_string_value(s) : NULL;
}

const char *render_verdict_summary(const json_t *extra)
{
	return verdict_str(extra, "summary");
}

const char *render_verdict_kind(const json_t *extra)
{
	return verdict_str(extra, "kind");
}

/* ---- the SVGs' tooltips ---- */

/* Written for this project. Tooltips come from data-t attributes rather than
 * <title> elements (see render_flame.c for why); the text only ever reaches
 * the DOM through textContent. Scoped to its own <svg>, so two pictures
 * inlined in one page keep their own. */
const char render_tooltip_js[] =
"(function () {\n"
"'use strict';\n"
"var NS = 'http://www.w3.org/2000/svg';\n"
"var svg = document.currentScript.ownerSVGElement || document.documentElement;\n"
"var vb = svg.viewBox.baseVal, W = vb && vb.width ? vb.width : +svg.getAttribute('width');\n"
"var H = vb && vb.height ? vb.height : +svg.getAttribute('height');\n"
"var tip = document.createElementNS(NS, 'g'), bg = document.createElementNS(NS, 'rect');\n"
"var tx = document.createElementNS(NS, 'text'), cur = null;\n"
"tip.setAttribute('class', 'st-tip'); tip.setAttribute('pointer-events', 'none');\n"
"tip.style.display = 'none';\n"
"bg.setAttribute('rx', 3); bg.setAttribute('fill', '#fffff0'); bg.setAttribute('stroke', '#888');\n"
"tx.setAttribute('font-size', '12'); tx.setAttribute('fill', '#000');\n"
"tx.style.fontFamily = 'Verdana, DejaVu Sans, sans-serif';\n"
"tip.appendChild(bg); tip.appendChild(tx); svg.appendChild(tip);\n"
"function place(e) {\n"
"  var m = svg.getScreenCTM(), b = bg.getBBox();\n"
"  if (!m) return;\n"
"  var p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());\n"
"  var x = p.x + 14, y = p.y + 18;\n"
"  if (x + b.width > W) x = Math.max(0, p.x - b.width - 8);\n"
"  if (y + b.height > H) y = Math.max(0, p.y - b.height - 8);\n"
"  tip.setAttribute('transform', 'translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')');\n"
"}\n"
"function show(el, e) {\n"
"  cur = el;\n"
"  while (tx.firstChild) tx.removeChild(tx.firstChild);\n"
"  el.getAttribute('data-t').split('\\n').forEach(function (line, i) {\n"
"    var s = document.createElementNS(NS, 'tspan');\n"
"    s.setAttribute('x', 8); s.setAttribute('dy', i ? 15 : 16); s.textContent = line;\n"
"    tx.appendChild(s);\n"
"  });\n"
"  tip.style.display = '';\n"
"  svg.appendChild(tip); /* on top of whatever was added since */\n"
"  var b = tx.getBBox();\n"
"  bg.setAttribute('width', (b.width + 16).toFixed(1));\n"
"  bg.setAttribute('height', (b.height + 10).toFixed(1));\n"
"  place(e);\n"
"}\n"
"function hide() { cur = null; tip.style.display = 'none'; }\n"
"svg.addEventListener('mousemove', function (e) {\n"
"  var el = e.target.closest ? e.target.closest('[data-t]') : null;\n"
"  if (!el || !svg.contains(el)) { hide(); return; }\n"
"  if (el !== cur) show(el, e); else place(e);\n"
"});\n"
"svg.addEventListener('mouseleave', hide);\n"
"svg.addEventListener('click', hide);\n"
"})();\n";
