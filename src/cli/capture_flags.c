/* capture_flags.c: record's capture flags, parsed once for record and watch. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/capture_flags.h"
#include "util/parse.h"

static const struct capture_flag {
	struct option opt;
	const char *arg;     /* the value's name in --help; NULL for a switch */
	const char *expect;  /* what a bad value is told it should have been */
	const char *help;    /* lines after the first are indented under it */
} flags[] = {
	{ { "min-block", required_argument, NULL, CF_MIN_BLOCK }, "D", "e.g. 1ms, 500us",
	  "blocks shorter than this are only counted; default 1ms" },
	{ { "no-locks", no_argument, NULL, CF_NO_LOCKS }, NULL, NULL,
	  "no cause tracing (lock waits, mmap_lock holders, wakers,\n"
	  "on-CPU samples, I/O): the off-CPU profile only" },
	{ { "hold-threshold", required_argument, NULL, CF_HOLD_THRESHOLD }, "D", "e.g. 10ms",
	  "report mmap_lock holders above this total; default 10ms" },
	{ { "top", required_argument, NULL, CF_TOP }, "N", "1..1000",
	  "call sites in the printed summary; default 10" },
	{ { "max-ustack", required_argument, NULL, CF_MAX_USTACK }, "BYTES", "1024..65536",
	  "most user stack copied per block: the copy stops at the\n"
	  "thread's stack end (holders, wakers, samples: 24576 at\n"
	  "most); default 65536" },
	{ { "ringbuf-kb", required_argument, NULL, CF_RINGBUF_KB }, "N", "a power of two >= 4",
	  "ring buffer size in KiB (power of two, >= 4); default 8192" },
	{ { "bpf-stats", no_argument, NULL, CF_BPF_STATS }, NULL, NULL,
	  "measure the BPF programs' run time into report.json\n"
	  "(the kernel's stats cost ~20-40 ns per program run)" },
	{ { "max-overhead", required_argument, NULL, CF_MAX_OVERHEAD }, "PCT", "0.01%..100% or off",
	  "the BPF side's cost allowed, a share of one core: past\n"
	  "it, the block threshold is raised until calm; default 1%" },
	{ { "debuginfod-timeout", required_argument, NULL, CF_DEBUGINFOD_TIMEOUT }, "D", "a duration up to 10m, e.g. 5s, 500ms, 0",
	  "after the window, how long debuginfod (DEBUGINFOD_URLS)\n"
	  "may take to bring symbols of stripped binaries; default 5s" },
};

_Static_assert(sizeof(flags) / sizeof(flags[0]) == CAPTURE_FLAGS_N,
	       "one table entry per enum capture_flag_id");

/* "1%", "0.5%" (a share of one core), or "off" (0). */
static int parse_overhead(const char *v, double *out)
{
	char *end;
	double d;

	if (!strcmp(v, "off")) {
		*out = 0;
		return 0;
	}
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || strcmp(end, "%") || !(d >= 0.01 && d <= 100))
		return -EINVAL;
	*out = d / 100;
	return 0;
}

static const struct capture_flag *find(int id)
{
	for (size_t i = 0; i < CAPTURE_FLAGS_N; i++)
		if (flags[i].opt.val == id)
			return &flags[i];
	return NULL;
}

void capture_flags_init(struct capture_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->ro.min_block_ns = 1000000ull;
	f->ro.max_overhead = 0.01;
	f->ro.hold_threshold_ns = 10000000ull;
	f->ro.max_ustack = CAPTURE_USTACK_DEFAULT;
	f->top = 10;
	f->debuginfod_timeout_ns = 5000000000ull;
}

int capture_flags_env(struct capture_flags *f, char *err, size_t errlen)
{
	const char *v = getenv("STALLTRAP_DEBUGINFOD_TIMEOUT");

	if (v && capture_flags_apply(f, CF_DEBUGINFOD_TIMEOUT, v, err, errlen)) {
		snprintf(err, errlen, "invalid STALLTRAP_DEBUGINFOD_TIMEOUT '%.256s': expected %s", v,
			 find(CF_DEBUGINFOD_TIMEOUT)->expect);
		return -EINVAL;
	}
	return 0;
}

void capture_flags_longopts(struct option *out, const struct option *own)
{
	size_t n = 0;

	for (; own[n].name; n++)
		out[n] = own[n];
	for (size_t i = 0; i < CAPTURE_FLAGS_N; i++)
		out[n++] = flags[i].opt;
	memset(&out[n], 0, sizeof(out[n]));
}

bool capture_flags_has(int id)
{
	return find(id) != NULL;
}

int capture_flags_apply(struct capture_flags *f, int id, const char *v, char *err, size_t errlen)
{
	const struct capture_flag *cf = find(id);
	uint64_t u = 0;
	bool bad = false;

	if (!cf) {
		snprintf(err, errlen, "unknown option");
		return -ENOENT;
	}
	switch (id) {
	case CF_MIN_BLOCK:
		bad = parse_duration_ns(v, &f->ro.min_block_ns) != 0;
		break;
	case CF_NO_LOCKS:
		f->ro.no_locks = true;
		break;
	case CF_HOLD_THRESHOLD:
		bad = parse_duration_ns(v, &f->ro.hold_threshold_ns) != 0;
		break;
	case CF_TOP:
		bad = parse_u64(v, 1, 1000, &u) != 0;
		if (!bad)
			f->top = (int)u;
		break;
	case CF_MAX_USTACK:
		bad = parse_u64(v, CAPTURE_USTACK_MIN, CAPTURE_USTACK_MAX, &u) != 0;
		if (!bad)
			f->ro.max_ustack = (uint32_t)u;
		break;
	case CF_RINGBUF_KB:
		/* the kernel wants a power-of-two ring of at least a page */
		bad = parse_u64(v, 4, 1 << 20, &u) || (u & (u - 1));
		if (!bad)
			f->ro.ringbuf_kb = (uint32_t)u;
		break;
	case CF_MAX_OVERHEAD:
		bad = parse_overhead(v, &f->ro.max_overhead) != 0;
		break;
	case CF_BPF_STATS:
		f->ro.bpf_stats = true;
		break;
	case CF_DEBUGINFOD_TIMEOUT:
		bad = parse_duration_ns(v, &f->debuginfod_timeout_ns) != 0 ||
		      f->debuginfod_timeout_ns > 600000000000ull;
		break;
	}
	if (bad) {
		/* the value is capped so that the hint still fits in err */
		snprintf(err, errlen, "invalid --%s '%.256s': expected %s", cf->opt.name, v, cf->expect);
		return -EINVAL;
	}
	return 0;
}

void capture_flags_usage(FILE *f)
{
	for (size_t i = 0; i < CAPTURE_FLAGS_N; i++) {
		const struct capture_flag *cf = &flags[i];
		const char *s = cf->help, *nl;
		char lhs[40];

		snprintf(lhs, sizeof(lhs), "--%s%s%s", cf->opt.name, cf->arg ? " " : "",
			 cf->arg ? cf->arg : "");
		fprintf(f, "  %-19s", lhs);
		for (;;) {
			nl = strchrnul(s, '\n');
			fprintf(f, " %.*s\n", (int)(nl - s), s);
			if (!*nl)
				break;
			s = nl + 1;
			fprintf(f, "%21s", "");
		}
	}
}

void getopt_error(const struct option *opts, int optopt, const char *arg, char *err, size_t errlen)
{
	/* getopt_long sets optopt to the value of a long option that lacked its
	 * value or had one it does not take, and to the character of a bad short
	 * option: the commands give their long options values above 0xff */
	for (const struct option *o = opts; optopt > 0xff && o->name; o++) {
		if (o->val == optopt) {
			snprintf(err, errlen, "option '--%s' %s", o->name,
				 o->has_arg == no_argument ? "takes no value" : "needs a value");
			return;
		}
	}
	snprintf(err, errlen, "unknown option '%.256s'", arg);
}
