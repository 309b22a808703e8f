/* render_summary.c: the short text summary `stalltrap record` prints when a capture ends. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"
#include "util/units.h"

#define SUMMARY_USER_FRAMES 5   /* innermost user frames shown per call site */
#define SUMMARY_NAME_MAX 60     /* bytes of one frame name before it is cut */
#define SUMMARY_PIDS 4          /* pids listed in the header line */

/* Prints name cut to max bytes (at a UTF-8 boundary, marked with "…"), with
 * control characters replaced: a symbol name must not drive the terminal. */
static void put_short(FILE *f, const char *name, size_t max)
{
	size_t len, i;

	if (!name[0])
		name = "[unknown]"; /* as in profile.folded */
	len = strlen(name);
	if (len > max) {
		len = max;
		/* Back up to the start of a character: continuation bytes are 10xxxxxx. */
		while (len && ((unsigned char)name[len] & 0xc0) == 0x80)
			len--;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
	if (len < strlen(name))
		fputs("…", f);
}

/* Scheduler plumbing sits at the leaf of every kernel stack; the interesting
 * frame is the first one below it (futex_wait_queue, io_schedule's caller, ...). */
static bool sched_internal(const char *name)
{
	static const char *const prefixes[] = {
		"__schedule", "schedule", "io_schedule", "preempt_schedule",
		"finish_task_switch", "context_switch", "__traceiter_", "__bpf_trace",
		"bpf_",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

static const char *kernel_wait_fn(const struct capdata *cd, uint32_t kstack)
{
	const struct cap_stack *s;
	uint32_t i;

	if (kstack >= cd->nstacks || !cd->stacks[kstack].nframes)
		return NULL;
	s = &cd->stacks[kstack];
	for (i = s->nframes; i-- > 0;) {
		if (!sched_internal(cd->frames[s->frames[i]].name))
			return cd->frames[s->frames[i]].name;
	}
	return cd->frames[s->frames[s->nframes - 1]].name;
}

static void put_call_site(FILE *f, const struct capdata *cd, const char *comm, uint32_t ustack,
			  uint32_t kstack)
{
	const char *wait = kernel_wait_fn(cd, kstack);

	fputs("      ", f);
	put_short(f, comm, 16);
	fputs(": ", f);
	if (render_shows_ustack(cd, ustack) && cd->stacks[ustack].nframes) {
		const struct cap_stack *s = &cd->stacks[ustack];
		uint32_t shown = 0, i;

		for (i = s->nframes; i-- > 0 && shown < SUMMARY_USER_FRAMES; shown++) {
			if (shown)
				fputs(" ← ", f);
			put_short(f, cd->frames[s->frames[i]].name, SUMMARY_NAME_MAX);
		}
		if (shown < s->nframes)
			fputs(" ← …", f);
		else if (s->status == CAP_STACK_TRUNCATED)
			fputs(" ← [truncated]", f);
	} else {
		fputs("(no user stack)", f);
	}
	if (wait) {
		fputs(" | kernel: ", f);
		put_short(f, wait, SUMMARY_NAME_MAX);
	}
	fputc('\n', f);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void put_states(FILE *f, const struct agg_entry *en)
{
	static const char letter[CAP_STATE__COUNT] = { 'S', 'D', 'R' }; /* as ps(1) prints them */
	int s;

	for (s = 0; s < CAP_STATE__COUNT; s++) {
		if (en->window_state_ns[s])
			fprintf(f, " %c %.0f%%", letter[s], pct(en->window_state_ns[s], en->window_ns));
	}
}

/* A threshold as people write it: "1 ms", "500 us", "250 ns". */
static void fmt_threshold(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 1000000)
		snprintf(buf, len, "%g ms", (double)ns / 1e6);
	else if (ns >= 1000)
		snprintf(buf, len, "%g us", (double)ns / 1e3);
	else
		snprintf(buf, len, "%" PRIu64 " ns", ns);
}

static void put_header(FILE *f, const struct capdata *cd, const struct aggregate *agg)
{
	char start[40], min[32];
	uint64_t below_count = 0;
	size_t i;

	for (i = 0; i < cd->nthreads; i++)
		below_count += cd->threads[i].below_min_count;
	render_rfc3339(cd->window.start_real_ns, start, sizeof(start));

	fputs("stalltrap:", f);
	if (cd->target.npids) {
		fprintf(f, " pid%s ", cd->target.npids > 1 ? "s" : "");
		for (i = 0; i < cd->target.npids && i < SUMMARY_PIDS; i++)
			fprintf(f, "%s%" PRId32, i ? "," : "", cd->target.pids[i]);
		if (cd->target.npids > SUMMARY_PIDS)
			fprintf(f, " +%zu more", cd->target.npids - SUMMARY_PIDS);
	}
	if (cd->target.comm) {
		fputs(cd->target.npids ? " (" : " ", f);
		put_short(f, cd->target.comm, SUMMARY_NAME_MAX);
		fputs(cd->target.npids ? ")" : "", f);
	}
	if (!cd->target.npids && !cd->target.comm)
		fputs(" no target", f);
	fmt_threshold(min, sizeof(min), cd->window.min_block_ns);
	fprintf(f, ", %.3f s from %s: %" PRIu64 " blocks >= %s, %.3f ms off-CPU in the window; "
		   "%.3f ms more in %" PRIu64 " shorter blocks\n",
		(double)cd->window.duration_ns / 1e9, start, agg->nblocks, min,
		render_ms(agg->window_ns), render_ms(agg->below_min_ns), below_count);
	if (agg->offcpu_ns != agg->window_ns)
		fprintf(f, "  (%.3f ms more outside the window, in blocks that began before it or ran past it: "
			   "not counted)\n", render_ms(agg->offcpu_ns - agg->window_ns));
}

static void put_drops(FILE *f, const struct capdata *cd)
{
	size_t i, n = 0;

	fputs("drops:", f);
	for (i = 0; i < cd->ndrops; i++) {
		if (!cd->drops[i].value)
			continue;
		fprintf(f, "%s %s=%" PRIu64, n ? "," : "", cd->drops[i].name, cd->drops[i].value);
		n++;
	}
	fputs(n ? " (data was lost: the figures above are lower bounds)\n" : " none\n", f);
}

/* The overhead governor's line, when it acted: the profile then leaves out
 * blocks it would have kept (they are in the "shorter blocks" totals). */
static void put_governor(FILE *f, const struct capdata *cd)
{
	uint64_t raises = capdata_get_stat(cd, "governor_raises");
	char thr[32];

	if (!raises)
		return;
	fmt_threshold(thr, sizeof(thr), capdata_get_stat(cd, "governor_max_min_block_ns"));
	fprintf(f, "overhead governor: the BPF side cost %.2f%% of a core at its peak (%s), over --max-overhead "
		   "%.2f%%: blocks under %s were only counted for %.1f s (%" PRIu64 " raise%s, %" PRIu64
		   " lower%s)\n",
		capdata_get_stat(cd, "governor_peak_load_ppm") / 1e4,
		capdata_get_stat(cd, "governor_measured") ? "measured" : "estimated from the records",
		capdata_get_stat(cd, "governor_budget_ppm") / 1e4, thr,
		capdata_get_stat(cd, "governor_engaged_ns") / 1e9, raises, raises == 1 ? "" : "s",
		capdata_get_stat(cd, "governor_lowers"), capdata_get_stat(cd, "governor_lowers") == 1 ? "" : "s");
}

static void put_ustacks(FILE *f, const struct aggregate *agg)
{
	uint64_t with = agg->ustack_ns[CAP_STACK_COMPLETE] + agg->ustack_ns[CAP_STACK_TRUNCATED] +
			agg->ustack_ns[CAP_STACK_UNREADABLE];

	if (!with) {
		fputs("user stacks: none (no block had one: kernel threads only, or no blocks)\n", f);
		return;
	}
	fprintf(f, "user stacks: %.1f%% of off-CPU time incomplete (truncated %.1f%%, unreadable %.1f%%)\n",
		100.0 - aggregate_ustack_complete_pct(agg),
		pct(agg->ustack_ns[CAP_STACK_TRUNCATED], with),
		pct(agg->ustack_ns[CAP_STACK_UNREADABLE], with));
}

/* Binaries whose frames stayed "[file+0x...]" after the debuginfod lookups
 * (symbolize_late's counters); nothing when none lacked symbols. */
static void put_symbols(FILE *f, const struct capdata *cd)
{
	uint64_t wanted = capdata_get_stat(cd, "symbols_wanted");
	uint64_t found = capdata_get_stat(cd, "symbols_found");

	if (!wanted)
		return;
	fprintf(f, "symbols: %" PRIu64 " of %" PRIu64 " binar%s without symbols got them from debuginfod",
		found, wanted, wanted == 1 ? "y" : "ies");
	if (found < wanted)
		fprintf(f, "; incomplete: not found %" PRIu64 ", timed out %" PRIu64 ", failed %" PRIu64
			" (no DEBUGINFOD_URLS, unreachable, ...)",
			capdata_get_stat(cd, "symbols_not_found"), capdata_get_stat(cd, "symbols_timed_out"),
			capdata_get_stat(cd, "symbols_failed"));
	fputc('\n', f);
}

/* "  3. 15.000 ms  68.2%  2 blocks  2 threads  S 67% D 33%  app_lock" and its stack line. */
static void put_site(FILE *f, const struct capdata *cd, const struct render_sites *ss,
		     const struct render_site *st, size_t rank)
{
	char began[64], longest[32];

	if (st->oncpu) {
		fprintf(f, "  %2zu. %.3f ms %5.1f%%  %" PRIu64 " sample%s  %" PRIu32 " thread%s  on-CPU\n",
			rank, render_ms(st->ns), pct(st->ns, ss->oncpu_ns), st->count,
			st->count == 1 ? "" : "s", st->threads, st->threads == 1 ? "" : "s");
		put_call_site(f, cd, st->comm, st->ustack, st->kstack);
		return;
	}
	fprintf(f, "  %2zu. %.3f ms %5.1f%%  %" PRIu64 " block%s  %" PRIu32 " thread%s ", rank,
		render_ms(st->ns), pct(st->ns, ss->offcpu_ns), st->count, st->count == 1 ? "" : "s",
		st->threads, st->threads == 1 ? "" : "s");
	put_states(f, st->en);
	fprintf(f, "  %s", render_site_cause(st));
	render_site_began(st, began, sizeof(began));
	if (began[0]) {
		units_fmt_dur(longest, sizeof(longest), st->en->max_ns);
		fprintf(f, "  longest %s, %s", longest, began);
	}
	fputs(st->en->in_progress ? "  [in progress]\n" : "\n", f);
	put_call_site(f, cd, st->comm, st->ustack, st->kstack);
}

/* The sites, group by group: the cause first, the idle waits last and apart;
 * at most n sites of each group. */
static void put_groups(FILE *f, const struct capdata *cd, const struct render_sites *ss, size_t n)
{
	size_t i = 0, shown = 0, rank = 0;
	unsigned int g;

	for (g = 0; g < RG__COUNT; g++) {
		if (!ss->ngroup[g])
			continue;
		fprintf(f, "%s (%zu call site%s, %.3f ms", render_group_title(g), ss->ngroup[g],
			ss->ngroup[g] == 1 ? "" : "s", render_ms(ss->group_ns[g]));
		if (g == RG_ONCPU)
			fprintf(f, ", one sample every %.3f ms", render_ms(ss->period_ns));
		fputs("):\n", f);
		for (shown = 0; i < ss->n && ss->v[i].group == g; i++) {
			rank++;
			if (shown++ < n)
				put_site(f, cd, ss, &ss->v[i], rank);
		}
		if (shown > n)
			fprintf(f, "      ... %zu more\n", shown - n);
	}
}

int render_summary(FILE *f, const struct capdata *cd, const struct aggregate *agg, int top_n)
{
	struct render_sites ss;
	size_t n = top_n > 0 ? (size_t)top_n : 0;
	int err;

	put_header(f, cd, agg);
	err = render_sites_build(&ss, cd, agg);
	if (err)
		return err;
	if (!ss.n) {
		char min[32];

		fmt_threshold(min, sizeof(min), cd->window.min_block_ns);
		fprintf(f, "call sites: none (no block reached %s)\n", min);
	} else if (n) {
		fprintf(f, "call sites (%zu off-CPU, %zu on-CPU), by cause:\n", agg->nentries,
			ss.ngroup[RG_ONCPU]);
		put_groups(f, cd, &ss, n);
	}
	render_sites_release(&ss);
	put_drops(f, cd);
	put_governor(f, cd);
	put_ustacks(f, agg);
	put_symbols(f, cd);
	return ferror(f) ? -EIO : 0;
}
