/* exposition.c: Prometheus text exposition parser and metric readers. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/exposition.h"

struct raw_sample {
	const char *name;
	size_t label0, nlabels;   /* into labels[] */
	double value;
};

struct family {
	const char *name;
	enum expo_type type;
};

struct expo {
	char *text;
	struct raw_sample *raw;      size_t nraw, araw;
	struct expo_label *labels;   size_t nlabels, alabels;
	struct family *families;     size_t nfamilies, afamilies;
	struct expo_sample *samples; /* built at the end: label pointers are final */
};

static void seterr(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err || !errlen)
		return;
	if (line)
		n = snprintf(err, errlen, "line %zu: ", line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Grows *arr (element size sz) to hold one more, within cap. */
static int grow(void **arr, size_t *alloc, size_t n, size_t sz, size_t cap)
{
	size_t na;
	void *p;

	if (n < *alloc)
		return 0;
	if (n >= cap)
		return -E2BIG;
	na = *alloc ? *alloc * 2 : 64;
	if (na > cap)
		na = cap;
	p = realloc(*arr, na * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*alloc = na;
	return 0;
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static bool label_start(char c)
{
	return name_start(c) && c != ':';
}

static bool label_char(char c)
{
	return name_char(c) && c != ':';
}

bool expo_label_name_valid(const char *s, size_t len)
{
	if (!len || !label_start(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!label_char(s[i]))
			return false;
	return true;
}

static char *skip_blank(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses a float the way the format writes them: decimal or exponent
 * notation, NaN, +Inf, -Inf (any case). The whole token must be a number. */
static int parse_float(const char *tok, double *out)
{
	const char *t = tok;
	char *end;
	double v;

	if (*t == '+' || *t == '-')
		t++;
	if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity")) {
		*out = *tok == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	if (!strcasecmp(t, "nan")) {
		*out = NAN;
		return 0;
	}
	/* digits, '.', exponent only: strtod would also take hex and "infinity" spellings */
	for (const char *p = t; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		      ((*p == '+' || *p == '-') && p > t && (p[-1] == 'e' || p[-1] == 'E'))))
			return -EINVAL;
	if (!*t)
		return -EINVAL;
	errno = 0;
	v = strtod(tok, &end);
	if (end == tok || *end || (errno == ERANGE && fabs(v) > 1.0))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_type(const char *s, enum expo_type *t)
{
	static const char *const names[] = { "untyped", "counter", "gauge", "histogram", "summary" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*t = (enum expo_type)i;
			return 0;
		}
	}
	/* OpenMetrics names that fit the same readers */
	if (!strcmp(s, "unknown")) {
		*t = EXPO_UNTYPED;
		return 0;
	}
	if (!strcmp(s, "gaugehistogram")) {
		*t = EXPO_HISTOGRAM;
		return 0;
	}
	return -EINVAL;
}

const char *expo_type_name(enum expo_type t)
{
	switch (t) {
	case EXPO_COUNTER: return "counter";
	case EXPO_GAUGE: return "gauge";
	case EXPO_HISTOGRAM: return "histogram";
	case EXPO_SUMMARY: return "summary";
	default: return "untyped";
	}
}

/* "# TYPE name type", "# HELP name text", or any other comment. */
static int parse_comment(struct expo *e, char *p, size_t line, char *err, size_t errlen)
{
	char *kw, *name, *rest;
	enum expo_type t;
	int ret;

	p = skip_blank(p + 1);
	kw = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (!((p - kw == 4 && !strncmp(kw, "TYPE", 4))))
		return 0; /* HELP and free comments carry nothing we read */
	if (!*p) {
		seterr(err, errlen, line, "# TYPE without a valid metric name");
		return -EINVAL;
	}
	*p++ = '\0';
	p = skip_blank(p);
	name = p;
	if (!name_start(*p)) {
		seterr(err, errlen, line, "# TYPE without a valid metric name");
		return -EINVAL;
	}
	while (name_char(*p))
		p++;
	if (*p != ' ' && *p != '\t') {
		seterr(err, errlen, line, "# TYPE: bad character in metric name");
		return -EINVAL;
	}
	*p++ = '\0';
	rest = skip_blank(p);
	p = rest;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*skip_blank(p)) {
		seterr(err, errlen, line, "# TYPE %s: junk after the type", name);
		return -EINVAL;
	}
	*p = '\0';
	if (parse_type(rest, &t)) {
		seterr(err, errlen, line, "# TYPE %s: unknown type '%.32s'", name, rest);
		return -EINVAL;
	}
	for (size_t i = 0; i < e->nfamilies; i++)
		if (!strcmp(e->families[i].name, name))
			return 0; /* the first declaration wins */
	ret = grow((void **)&e->families, &e->afamilies, e->nfamilies, sizeof(*e->families),
		   EXPO_MAX_FAMILIES);
	if (ret) {
		seterr(err, errlen, line, "too many metric families (max %u)", EXPO_MAX_FAMILIES);
		return ret;
	}
	e->families[e->nfamilies].name = name;
	e->families[e->nfamilies].type = t;
	e->nfamilies++;
	return 0;
}

/* Unescapes a quoted label value starting after its opening quote; returns
 * the position after the closing quote, or NULL. The value is rewritten in
 * place (it only gets shorter) and NUL-terminated. */
static char *parse_label_value(char *p, char **value)
{
	char *w = p;

	*value = p;
	while (*p && *p != '"') {
		if (*p == '\\') {
			p++;
			if (*p == 'n')
				*w++ = '\n';
			else if (*p == '\\' || *p == '"')
				*w++ = *p;
			else
				return NULL;
			p++;
		} else {
			*w++ = *p++;
		}
	}
	if (*p != '"')
		return NULL;
	p++;
	*w = '\0';
	return p;
}

static int parse_sample(struct expo *e, char *p, size_t line, char *err, size_t errlen)
{
	struct raw_sample s = { 0 };
	char *name = p, *tok;
	int ret;

	if (!name_start(*p)) {
		seterr(err, errlen, line, "expected a metric name");
		return -EINVAL;
	}
	while (name_char(*p))
		p++;
	s.label0 = e->nlabels;
	if ((*p == ' ' || *p == '\t') && *skip_blank(p) == '{') {
		*p = '\0';
		p = skip_blank(p + 1);
	}
	if (*p == '{') {
		*p++ = '\0';
		for (;;) {
			char *lname, *lvalue;

			p = skip_blank(p);
			if (*p == '}')
				break;
			if (!label_start(*p)) {
				seterr(err, errlen, line, "%s: expected a label name", name);
				return -EINVAL;
			}
			lname = p;
			while (label_char(*p))
				p++;
			tok = p;
			p = skip_blank(p);
			if (*p != '=') {
				seterr(err, errlen, line, "%s: expected '=' after a label name", name);
				return -EINVAL;
			}
			*tok = '\0';
			p = skip_blank(p + 1);
			if (*p != '"') {
				seterr(err, errlen, line, "%s: label %s: expected a quoted value", name, lname);
				return -EINVAL;
			}
			p = parse_label_value(p + 1, &lvalue);
			if (!p) {
				seterr(err, errlen, line, "%s: label %s: bad escape or unterminated value",
				       name, lname);
				return -EINVAL;
			}
			if (s.nlabels >= EXPO_MAX_LABELS) {
				seterr(err, errlen, line, "%s: more than %u labels", name, EXPO_MAX_LABELS);
				return -E2BIG;
			}
			ret = grow((void **)&e->labels, &e->alabels, e->nlabels, sizeof(*e->labels),
				   (size_t)EXPO_MAX_SAMPLES * 4);
			if (ret) {
				seterr(err, errlen, line, "too many labels in the exposition");
				return ret;
			}
			e->labels[e->nlabels].name = lname;
			e->labels[e->nlabels].value = lvalue;
			e->nlabels++;
			s.nlabels++;
			p = skip_blank(p);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != '}') {
				seterr(err, errlen, line, "%s: expected ',' or '}' after a label", name);
				return -EINVAL;
			}
			break;
		}
		p++; /* past '}' */
		if (*p != ' ' && *p != '\t') {
			seterr(err, errlen, line, "%s: expected a space before the value", name);
			return -EINVAL;
		}
	} else if (*p == ' ' || *p == '\t') {
		*p++ = '\0';
	} else {
		seterr(err, errlen, line, "bad character after the metric name");
		return -EINVAL;
	}
	p = skip_blank(p);
	tok = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p) {
		char *ts;

		*p++ = '\0';
		p = skip_blank(p);
		ts = p;
		/* an optional integer timestamp (ms), which we do not need */
		if (*p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*skip_blank(p) || (ts != p && p == ts + 1 && *ts == '-')) {
			seterr(err, errlen, line, "%s: junk after the value", name);
			return -EINVAL;
		}
	}
	if (parse_float(tok, &s.value)) {
		seterr(err, errlen, line, "%s: bad value '%.32s'", name, tok);
		return -EINVAL;
	}
	s.name = name;
	ret = grow((void **)&e->raw, &e->araw, e->nraw, sizeof(*e->raw), EXPO_MAX_SAMPLES);
	if (ret) {
		seterr(err, errlen, line, "more than %u samples", EXPO_MAX_SAMPLES);
		return ret;
	}
	e->raw[e->nraw++] = s;
	return 0;
}

/* Whether the sample line at q can belong to family (NAME, NAME_bucket,
 * NAME_sum, NAME_count, ...): a prefix test, no parsing. */
static bool maybe_family(const char *q, const char *family, size_t flen)
{
	return !strncmp(q, family, flen) &&
	       (q[flen] == '{' || q[flen] == ' ' || q[flen] == '\t' || q[flen] == '_');
}

int expo_parse(const char *text, size_t len, struct expo **out, char *err, size_t errlen)
{
	return expo_parse_only(text, len, NULL, out, err, errlen);
}

int expo_parse_only(const char *text, size_t len, const char *family, struct expo **out, char *err,
		    size_t errlen)
{
	struct expo *e;
	char *p, *next;
	size_t line = 0, flen = family ? strlen(family) : 0;
	int ret = 0;

	*out = NULL;
	if (len > EXPO_MAX_BYTES) {
		seterr(err, errlen, 0, "exposition larger than %u bytes", EXPO_MAX_BYTES);
		return -E2BIG;
	}
	if (memchr(text, '\0', len)) {
		seterr(err, errlen, 0, "exposition contains a NUL byte");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->text = malloc(len + 1);
	if (!e->text) {
		ret = -ENOMEM;
		goto cleanup;
	}
	memcpy(e->text, text, len);
	e->text[len] = '\0';
	for (p = e->text; *p; p = next) {
		char *nl = strchr(p, '\n'), *q;

		line++;
		next = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		q = skip_blank(p);
		if (!*q || (family && *q != '#' && !maybe_family(q, family, flen)))
			continue;
		ret = *q == '#' ? parse_comment(e, q, line, err, errlen)
				: parse_sample(e, q, line, err, errlen);
		if (ret)
			goto cleanup;
	}
	e->samples = calloc(e->nraw ? e->nraw : 1, sizeof(*e->samples));
	if (!e->samples) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < e->nraw; i++) {
		e->samples[i].name = e->raw[i].name;
		/* no labels: no pointer arithmetic on a NULL array */
		e->samples[i].labels = e->raw[i].nlabels ? e->labels + e->raw[i].label0 : NULL;
		e->samples[i].nlabels = e->raw[i].nlabels;
		e->samples[i].value = e->raw[i].value;
	}
	*out = e;
	return 0;
cleanup:
	expo_free(e);
	return ret;
}

void expo_free(struct expo *e)
{
	if (!e)
		return;
	free(e->text);
	free(e->raw);
	free(e->labels);
	free(e->families);
	free(e->samples);
	free(e);
}

size_t expo_count(const struct expo *e)
{
	return e->nraw;
}

const struct expo_sample *expo_sample(const struct expo *e, size_t i)
{
	return i < e->nraw ? &e->samples[i] : NULL;
}

enum expo_type expo_declared_type(const struct expo *e, const char *family)
{
	for (size_t i = 0; i < e->nfamilies; i++)
		if (!strcmp(e->families[i].name, family))
			return e->families[i].type;
	return EXPO_UNTYPED;
}

void expo_sel_release(struct expo_sel *sel)
{
	free(sel->name);
	for (size_t i = 0; i < sel->nlabels; i++) {
		free(sel->labels[i].name);
		free(sel->labels[i].value);
	}
	memset(sel, 0, sizeof(*sel));
}

int expo_sel_parse(const char *s, struct expo_sel *sel, char *err, size_t errlen)
{
	struct expo *e = NULL;
	char *line = NULL;
	size_t n = strlen(s);
	int ret;

	memset(sel, 0, sizeof(*sel));
	/* A selector is a sample line without its value: reuse the sample parser. */
	if (!n || n > 4096 || strchr(s, '\n')) {
		seterr(err, errlen, 0, "expected NAME or NAME{label=\"value\",...}");
		return -EINVAL;
	}
	line = malloc(n + 3);
	if (!line)
		return -ENOMEM;
	snprintf(line, n + 3, "%s 0", s);
	ret = expo_parse(line, n + 2, &e, NULL, 0);
	if (ret || e->nraw != 1 || s[n - 1] == ' ' || s[n - 1] == '\t') {
		seterr(err, errlen, 0, "expected NAME or NAME{label=\"value\",...}");
		ret = -EINVAL;
		goto cleanup;
	}
	if (e->samples[0].nlabels > EXPO_SEL_MAX_LABELS) {
		seterr(err, errlen, 0, "at most %u labels", EXPO_SEL_MAX_LABELS);
		ret = -EINVAL;
		goto cleanup;
	}
	sel->name = strdup(e->samples[0].name);
	if (!sel->name) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < e->samples[0].nlabels; i++) {
		sel->labels[i].name = strdup(e->samples[0].labels[i].name);
		sel->labels[i].value = strdup(e->samples[0].labels[i].value);
		sel->nlabels++;
		if (!sel->labels[i].name || !sel->labels[i].value) {
			ret = -ENOMEM;
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	if (ret)
		expo_sel_release(sel);
	expo_free(e);
	free(line);
	return ret;
}

static const char *label_of(const struct expo_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

bool expo_sel_match(const struct expo_sel *sel, const char *name, const struct expo_sample *s)
{
	if (strcmp(s->name, name))
		return false;
	for (size_t i = 0; i < sel->nlabels; i++) {
		const char *v = label_of(s, sel->labels[i].name);

		if (!v || strcmp(v, sel->labels[i].value))
			return false;
	}
	return true;
}

/* NAME + suffix into buf; false when it does not fit. */
static bool suffixed(char *buf, size_t len, const char *name, const char *suffix)
{
	int n = snprintf(buf, len, "%s%s", name, suffix);

	return n > 0 && (size_t)n < len;
}

int expo_metric_type(const struct expo *e, const struct expo_sel *sel, enum expo_type *type)
{
	char bucket[1100];
	bool plain = false, quantile = false, buckets = false;
	enum expo_type declared = expo_declared_type(e, sel->name);

	if (!suffixed(bucket, sizeof(bucket), sel->name, "_bucket"))
		return -ENOENT;
	for (size_t i = 0; i < e->nraw; i++) {
		const struct expo_sample *s = &e->samples[i];

		if (expo_sel_match(sel, sel->name, s)) {
			plain = true;
			if (label_of(s, "quantile"))
				quantile = true;
		} else if (expo_sel_match(sel, bucket, s) && label_of(s, "le")) {
			buckets = true;
		}
	}
	if (declared == EXPO_HISTOGRAM && buckets)
		*type = EXPO_HISTOGRAM;
	else if (declared == EXPO_SUMMARY && quantile)
		*type = EXPO_SUMMARY;
	else if (declared != EXPO_HISTOGRAM && declared != EXPO_SUMMARY && plain)
		*type = declared == EXPO_UNTYPED ? EXPO_GAUGE : declared;
	else if (declared == EXPO_UNTYPED && buckets)
		*type = EXPO_HISTOGRAM;
	else if (declared == EXPO_UNTYPED && quantile)
		*type = EXPO_SUMMARY;
	else
		return -ENOENT;
	if (*type == EXPO_GAUGE && quantile)
		*type = EXPO_SUMMARY;
	return 0;
}

/* Several series match: keep the largest value. NaN loses to any number: a
 * series without data is not the worst one. */
static void keep_worst(double *best, bool *found, double v)
{
	if (!*found || isnan(*best) || v > *best)
		*best = v;
	*found = true;
}

int expo_read_value(const struct expo *e, const struct expo_sel *sel, double *out)
{
	bool found = false;
	double best = NAN;

	for (size_t i = 0; i < e->nraw; i++) {
		const struct expo_sample *s = &e->samples[i];

		if (!expo_sel_match(sel, sel->name, s))
			continue;
		keep_worst(&best, &found, s->value);
	}
	if (!found)
		return -ENOENT;
	*out = best;
	return 0;
}

int expo_read_summary(const struct expo *e, const struct expo_sel *sel, double q, double *value,
		      double *count)
{
	char cname[1100];
	bool found = false, counted = false;
	double best = NAN, total = 0;

	if (!suffixed(cname, sizeof(cname), sel->name, "_count"))
		return -ENOENT;
	for (size_t i = 0; i < e->nraw; i++) {
		const struct expo_sample *s = &e->samples[i];
		const char *qs;
		double sq;

		if (expo_sel_match(sel, cname, s)) {
			total += s->value;
			counted = true;
			continue;
		}
		if (!expo_sel_match(sel, sel->name, s) || !(qs = label_of(s, "quantile")) ||
		    parse_float(qs, &sq) || fabs(sq - q) > 1e-9)
			continue;
		keep_worst(&best, &found, s->value);
	}
	if (!found)
		return -ENOENT;
	*value = best;
	*count = counted ? total : NAN;
	return 0;
}

int expo_read_histogram(const struct expo *e, const struct expo_sel *sel, double *les,
			double *counts, size_t max)
{
	char bname[1100];
	size_t n = 0;

	if (!suffixed(bname, sizeof(bname), sel->name, "_bucket"))
		return -ENOENT;
	for (size_t i = 0; i < e->nraw; i++) {
		const struct expo_sample *s = &e->samples[i];
		const char *ls;
		double le;
		size_t j;

		if (!expo_sel_match(sel, bname, s) || !(ls = label_of(s, "le")))
			continue;
		if (parse_float(ls, &le) || isnan(le))
			return -EINVAL;
		for (j = 0; j < n; j++)
			if (les[j] == le)
				break;
		if (j == n) {
			if (n == max)
				return -E2BIG;
			les[n] = le;
			counts[n] = 0;
			n++;
		}
		counts[j] += s->value;
	}
	if (!n)
		return -ENOENT;
	/* insertion sort by bound: bucket counts are small */
	for (size_t i = 1; i < n; i++) {
		double l = les[i], c = counts[i];
		size_t j = i;

		for (; j > 0 && les[j - 1] > l; j--) {
			les[j] = les[j - 1];
			counts[j] = counts[j - 1];
		}
		les[j] = l;
		counts[j] = c;
	}
	return (int)n;
}
