/* render_folded.c: profile.folded, the collapsed-stack format of flamegraph.pl, inferno and Pyroscope. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"

/* Bytes that would break a folded line: the frame separator, the space before
 * the count, and every control character (newlines end the line; the rest
 * have no business in a flame graph). */
static const char bad_bytes[] =
	"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
	"\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
	"\x7f ;";

/* Writes name with the replacements documented in render.h. */
static void put_name(FILE *f, const char *name, const char *suffix)
{
	const char *bad = bad_bytes;
	size_t run;

	if (!name[0])
		name = "[unknown]";
	while (*name) {
		run = strcspn(name, bad);
		fwrite(name, 1, run, f);
		name += run;
		if (*name) {
			fputc(*name == ';' ? ':' : '_', f);
			name++;
		}
	}
	if (suffix)
		fputs(suffix, f);
}

static void put_stack(FILE *f, const struct capdata *cd, uint32_t stack, const char *suffix)
{
	const struct cap_stack *s = &cd->stacks[stack];
	uint32_t i;

	for (i = 0; i < s->nframes; i++) {
		fputc(';', f);
		put_name(f, cd->frames[s->frames[i]].name, suffix);
	}
}

int render_folded(FILE *f, const struct capdata *cd, const struct aggregate *agg)
{
	uint64_t cum_ns = 0, cum_us = 0, us;
	size_t i;

	for (i = 0; i < agg->nentries; i++) {
		const struct agg_entry *en = &agg->entries[i];

		/* Cumulative rounding: each line gets the difference of the rounded
		 * running totals, so the file adds up to the rounded grand total. */
		cum_ns = cum_ns + en->offcpu_ns < cum_ns ? UINT64_MAX : cum_ns + en->offcpu_ns;
		us = render_us(cum_ns) - cum_us;
		cum_us += us;

		put_name(f, en->comm, NULL);
		if (render_shows_ustack(cd, en->ustack))
			put_stack(f, cd, en->ustack, NULL);
		if (en->kstack < cd->nstacks)
			put_stack(f, cd, en->kstack, "_[k]");
		fprintf(f, " %" PRIu64 "\n", us);
		if (ferror(f))
			return -EIO;
	}
	return ferror(f) ? -EIO : 0;
}
