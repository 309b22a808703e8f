/* maps.c: /proc/PID/maps text parser. */
#include "symbolize/maps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct maps {
	char *orig;             /* the text as given, for maps__same_text */
	char *buf;              /* a copy cut into NUL-terminated paths */
	struct maps_line *lines;
	size_t n;
};

static int hex_field(char **p, char stop, uint64_t *out)
{
	char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	for (;; s++) {
		char c = *s;
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			break;
		if (++digits > 16)
			return -EINVAL;
		v = v << 4 | d;
	}
	if (!digits || *s != stop)
		return -EINVAL;
	*p = s + 1;
	*out = v;
	return 0;
}

static int dec_field(char **p, uint64_t *out)
{
	char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 19)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (!digits || (*s != ' ' && *s != '\0'))
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

/* "7f00-7f10 r-xp 00001000 fe:01 1234    /usr/lib/libc.so.6": line is one
 * NUL-terminated line of buf; the path stays in place. */
static int parse_line(char *line, struct maps_line *ml)
{
	char *p = line;
	uint64_t maj, min;
	int err;

	memset(ml, 0, sizeof(*ml));
	err = hex_field(&p, '-', &ml->start);
	if (!err)
		err = hex_field(&p, ' ', &ml->end);
	if (err || ml->end <= ml->start)
		return -EINVAL;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	ml->perms = (p[0] == 'r' ? MAPS_R : 0) | (p[1] == 'w' ? MAPS_W : 0) |
		    (p[2] == 'x' ? MAPS_X : 0) | (p[3] == 's' ? MAPS_SHARED : 0);
	p += 5;
	err = hex_field(&p, ' ', &ml->offset);
	if (!err)
		err = hex_field(&p, ':', &maj);
	if (!err)
		err = hex_field(&p, ' ', &min);
	if (!err)
		err = dec_field(&p, &ml->ino);
	if (err || maj > UINT32_MAX || min > UINT32_MAX)
		return -EINVAL;
	ml->dev_major = (uint32_t)maj;
	ml->dev_minor = (uint32_t)min;
	p += strspn(p, " ");
	ml->path = p;
	return 0;
}

void maps__free(struct maps *m)
{
	if (!m)
		return;
	free(m->orig);
	free(m->buf);
	free(m->lines);
	free(m);
}

int maps__parse(const char *text, struct maps **out)
{
	struct maps *m = NULL;
	size_t len = strlen(text), nlines = 0, i;
	char *line, *nl;
	int err;

	if (len > MAPS_MAX_TEXT)
		return -E2BIG;
	for (i = 0; i < len; i++)
		nlines += text[i] == '\n';
	nlines++;
	if (nlines > MAPS_MAX_LINES)
		return -E2BIG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->orig = strdup(text);
	m->buf = strdup(text);
	m->lines = calloc(nlines, sizeof(*m->lines));
	if (!m->orig || !m->buf || !m->lines) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (line = m->buf; *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (!*line)
			continue;
		err = parse_line(line, &m->lines[m->n]);
		if (err)
			goto cleanup;
		/* The kernel prints maps in address order; anything else is not a maps file. */
		if (m->n && m->lines[m->n].start < m->lines[m->n - 1].end) {
			err = -EINVAL;
			goto cleanup;
		}
		m->n++;
	}
	*out = m;
	return 0;

cleanup:
	maps__free(m);
	return err;
}

size_t maps__count(const struct maps *m)
{
	return m->n;
}

const struct maps_line *maps__line(const struct maps *m, size_t i)
{
	return i < m->n ? &m->lines[i] : NULL;
}

const struct maps_line *maps__find(const struct maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (addr < m->lines[mid].start)
			hi = mid;
		else if (addr >= m->lines[mid].end)
			lo = mid + 1;
		else
			return &m->lines[mid];
	}
	return NULL;
}

bool maps__same_text(const struct maps *m, const char *text)
{
	return strcmp(m->orig, text) == 0;
}

const char *maps__text(const struct maps *m)
{
	return m->orig;
}
