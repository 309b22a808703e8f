/* watch.c: `stalltrap watch` (flags, --config, validation) and `stalltrap trigger`. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "capture/proc.h"
#include "cli/capture_flags.h"
#include "cli/cli.h"
#include "cli/privs.h"
#include "util/outdir.h"
#include "cli/deliver_flags.h"
#include "util/parse.h"
#include "watch/diskcap.h"
#include "watch/exposition.h"
#include "watch/listen.h"
#include "watch/watch.h"

#define MAX_PIDS 1024
#define CONFIG_MAX_LINES 1024
#define CONFIG_MAX_BYTES (1u << 20)
#define DEFAULT_OUT "/var/lib/stalltrap"
#define DEFAULT_STATE "/run/stalltrap"

/* Options: one table for the command line and the config file's keys: watch's
 * own, and record's capture flags merged in by cmd_watch(). */
enum opt_id {
	O_PID = 1000, O_NAME, O_CGROUP,
	O_METRICS_URL, O_METRIC, O_QUANTILE, O_PROMETHEUS, O_QUERY, O_PROBE, O_PSI,
	O_THRESHOLD, O_FOR, O_INTERVAL, O_POLL_TIMEOUT, O_ON_NO_DATA,
	O_WINDOW, O_BEFORE, O_MAX_WINDOW, O_BASELINE, O_COOLDOWN, O_MAX_PER_HOUR,
	O_OUT, O_STATE_DIR, O_LISTEN, O_TOKEN_FILE, O_TLS_CERT, O_TLS_KEY, O_ALERT_MATCH, O_KEEP, O_KEEP_BYTES, O_MAX_DISK, O_CONFIG, O_HELP,
};

static const struct option own_opts[] = {
	{ "pid", required_argument, NULL, O_PID },
	{ "name", required_argument, NULL, O_NAME },
	{ "cgroup", required_argument, NULL, O_CGROUP },
	{ "metrics-url", required_argument, NULL, O_METRICS_URL },
	{ "metric", required_argument, NULL, O_METRIC },
	{ "quantile", required_argument, NULL, O_QUANTILE },
	{ "prometheus", required_argument, NULL, O_PROMETHEUS },
	{ "query", required_argument, NULL, O_QUERY },
	{ "probe", required_argument, NULL, O_PROBE },
	{ "psi", required_argument, NULL, O_PSI },
	{ "threshold", required_argument, NULL, O_THRESHOLD },
	{ "for", required_argument, NULL, O_FOR },
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "poll-timeout", required_argument, NULL, O_POLL_TIMEOUT },
	{ "on-no-data", required_argument, NULL, O_ON_NO_DATA },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "before", required_argument, NULL, O_BEFORE },
	{ "max-window", required_argument, NULL, O_MAX_WINDOW },
	{ "baseline", required_argument, NULL, O_BASELINE },
	{ "cooldown", required_argument, NULL, O_COOLDOWN },
	{ "max-per-hour", required_argument, NULL, O_MAX_PER_HOUR },
	{ "out", required_argument, NULL, O_OUT },
	{ "state-dir", required_argument, NULL, O_STATE_DIR },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "token-file", required_argument, NULL, O_TOKEN_FILE },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "alert-match", required_argument, NULL, O_ALERT_MATCH },
	{ "keep", required_argument, NULL, O_KEEP },
	{ "keep-bytes", required_argument, NULL, O_KEEP_BYTES },
	{ "max-disk", required_argument, NULL, O_MAX_DISK },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* own_opts, then the sink flags, then the capture flags */
static struct option own_and_sinks[sizeof(own_opts) / sizeof(own_opts[0]) + DELIVER_FLAGS_N];
static struct option longopts[sizeof(own_opts) / sizeof(own_opts[0]) + DELIVER_FLAGS_N + CAPTURE_FLAGS_N];

/* A metric source as given, before validation. */
struct src_arg {
	enum source_kind kind;
	char *url, *metric, *query, *psi;
	double quantile;
	bool has_quantile;
};

struct wcfg {
	pid_t pids[MAX_PIDS];
	int npids;
	char *name, *cgroup;
	int ntargets;
	struct src_arg src[WATCH_MAX_SOURCES];
	size_t nsrc;
	bool src_from_cli;         /* the command line named sources: the config's are dropped */
	char *threshold, *on_no_data;
	uint64_t for_ns, interval_ns, poll_timeout_ns, window_ns, before_ns, max_window_ns;
	uint64_t baseline_ns, cooldown_ns, max_per_hour;
	bool poll_timeout_set;
	char *out, *state_dir, *listen, *token_file, *tls_cert, *tls_key;
	char *alert_match[WATCH_MAX_ALERT_MATCH];
	size_t nalert_match;
	bool match_from_cli;       /* as sources: the command line's replace the config file's */
	struct capture_flags cf;
	struct deliver_flags df;
	uint64_t keep_n, keep_bytes;
	uint64_t max_disk;
	bool max_disk_set;         /* unset: a tenth of --out's file system, at most 4 GiB */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stalltrap watch (--pid PID[,PID...] | --name COMM | --cgroup PATH) <metric source...>\n"
		"                       [--threshold 200ms] [--for 2s] [--interval 500ms] [--poll-timeout D]\n"
		"                       [--on-no-data breach|skip] [--window 15s] [--before 10s] [--max-window 60s]\n"
		"                       [--baseline 5m] [--cooldown 5m] [--max-per-hour 6] [--out DIR] [--max-disk SIZE]\n"
		"                       [--state-dir DIR] [--listen ADDR:PORT] [--token-file FILE]\n"
		"                       [--alert-match LABEL=VALUE...] [--tls-cert FILE --tls-key FILE]\n"
		"                       [--config FILE] [record's capture flags]\n"
		"\n"
		"metric sources (one or more):\n"
		"  --metrics-url URL --metric NAME[{label=\"v\",...}] [--quantile 0.99]\n"
		"                      the service's own /metrics, polled every --interval: a gauge, a\n"
		"                      summary's quantile, or a histogram's quantile over the bucket\n"
		"                      deltas between two polls (PromQL's histogram_quantile rules)\n"
		"  --prometheus URL --query EXPR   a PromQL instant query (for slower signals)\n"
		"  --probe http://...|tcp://HOST:PORT   time a request or a connect to the service\n"
		"  --psi memory|io|cpu pressure stall of the target's cgroup (or the machine):\n"
		"                      --threshold of stall within --for fires at once\n"
		"  --listen ADDR:PORT --token-file FILE   Alertmanager webhook (POST /webhook, bearer\n"
		"                      token) and stalltrap's own GET /metrics\n"
		"  --alert-match LABEL=VALUE   only firing alerts with that label value trigger\n"
		"                      (repeatable: all must hold; e.g. service=feed, instance=host1:9100)\n"
		"  --tls-cert FILE --tls-key FILE   serve --listen over HTTPS (PEM certificate chain and\n"
		"                      its private key)\n"
		"  manual: 'stalltrap trigger --pid PID' or SIGUSR1 to the watcher\n"
		"\n"
		"trigger:\n"
		"  --threshold X       a duration (200ms) for latencies in seconds, a plain number otherwise\n"
		"  --for D             fires once breaching polls span D; default 2s\n"
		"  --interval D        poll interval; default 500ms\n"
		"  --poll-timeout D    a poll without an answer by then counts as latency >= D; default --interval\n"
		"  --on-no-data M      a histogram that stopped moving: breach (default) or skip\n"
		"incidents (each a directory under --out, named by time and target):\n"
		"  --before D          history before the trigger in the incident; default 10s\n"
		"  --window D          capture after the trigger; default 15s\n"
		"  --max-window D      how far triggers during a capture can extend it; default 60s\n"
		"  --baseline D        history before the incident the diagnosis compares with; default 5m\n"
		"  --cooldown D        no incident for D after one ends; default 5m\n"
		"  --max-per-hour N    at most N incidents an hour; default 6\n"
		"  --out DIR           default " DEFAULT_OUT "\n"
		"  --state-dir DIR     control socket directory; default " DEFAULT_STATE "\n"
		"  --state-dir DIR also holds the delivery queue (deliver/): put it on persistent storage\n"
		"  --keep N            keep the newest N incidents under --out (the oldest go first)\n"
		"  --keep-bytes SIZE   keep the incidents under --out within SIZE (e.g. 500M, 2G)\n"
		"  --max-disk SIZE     --out, capture data and the delivery queue together within SIZE, the\n"
		"                      oldest removed first; default a tenth of --out's file system, at most\n"
		"                      4G; 0: off\n"
		"  --config FILE       'key = value' lines, keys are the long flags; flags win\n");
	deliver_flags_usage(f);
	fprintf(f, "capture flags, as for record (--bpf-stats also gives /metrics the BPF run time):\n");
	capture_flags_usage(f);
}

/* "FILE:LINE: " while a --config line is being applied, so its error is one line */
static char g_where[4200];

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stalltrap watch: %s", g_where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'stalltrap watch --help')\n");
	return EXIT_USAGE;
}

static void free_cfg(struct wcfg *c)
{
	for (size_t i = 0; i < c->nsrc; i++) {
		free(c->src[i].url);
		free(c->src[i].metric);
		free(c->src[i].query);
		free(c->src[i].psi);
	}
	free(c->name);
	free(c->cgroup);
	free(c->threshold);
	free(c->on_no_data);
	free(c->out);
	free(c->state_dir);
	free(c->listen);
	free(c->token_file);
	free(c->tls_cert);
	free(c->tls_key);
	for (size_t i = 0; i < c->nalert_match; i++)
		free(c->alert_match[i]);
	deliver_flags_release(&c->df);
}

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int dur(const char *flag, const char *v, uint64_t *out)
{
	if (parse_duration_ns(v, out))
		return usage_error("invalid --%s '%s': expected a duration such as 500ms, 2s, 1m", flag, v);
	return 0;
}

static const char *opt_name(int id)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

/* The source a --metric/--quantile/--query applies to: the last one of its kind. */
static struct src_arg *last_src(struct wcfg *c, enum source_kind kind)
{
	return c->nsrc && c->src[c->nsrc - 1].kind == kind ? &c->src[c->nsrc - 1] : NULL;
}

/* Applies one option (from the command line or a config line). Returns 0 or an exit status. */
static int apply(struct wcfg *c, int id, const char *v, bool cli)
{
	struct src_arg *s;
	char err[512];

	switch (id) {
	case O_PID:
		c->npids = parse_pid_list(v, c->pids, MAX_PIDS);
		if (c->npids <= 0)
			return usage_error("invalid --pid '%s': expected PID[,PID...]", v);
		c->ntargets++;
		return 0;
	case O_NAME:
		if (!*v || strlen(v) > 15)
			return usage_error("invalid --name '%s': a comm has 1 to 15 characters", v);
		c->ntargets++;
		return set_str(&c->name, v) ? EXIT_RUNTIME : 0;
	case O_CGROUP:
		c->ntargets++;
		return set_str(&c->cgroup, v) ? EXIT_RUNTIME : 0;
	case O_METRICS_URL:
	case O_PROMETHEUS:
	case O_PROBE:
	case O_PSI:
		if (cli && !c->src_from_cli) {
			/* the command line's sources replace the config file's */
			for (size_t i = 0; i < c->nsrc; i++) {
				free(c->src[i].url);
				free(c->src[i].metric);
				free(c->src[i].query);
				free(c->src[i].psi);
			}
			memset(c->src, 0, sizeof(c->src));
			c->nsrc = 0;
			c->src_from_cli = true;
		}
		if (c->nsrc == WATCH_MAX_SOURCES)
			return usage_error("too many metric sources (at most %u)", WATCH_MAX_SOURCES);
		s = &c->src[c->nsrc++];
		s->kind = id == O_METRICS_URL ? SOURCE_METRICS : id == O_PROMETHEUS ? SOURCE_PROMETHEUS
			: id == O_PSI ? SOURCE_PSI : !strncmp(v, "tcp://", 6) ? SOURCE_PROBE_TCP : SOURCE_PROBE_HTTP;
		if (id == O_PSI) {
			if (strcmp(v, "memory") && strcmp(v, "io") && strcmp(v, "cpu"))
				return usage_error("invalid --psi '%s': expected memory, io or cpu", v);
			return set_str(&s->psi, v) ? EXIT_RUNTIME : 0;
		}
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8) &&
		    !(id == O_PROBE && !strncmp(v, "tcp://", 6)))
			return usage_error("invalid --%s '%s': expected an http:// or https:// URL%s", opt_name(id), v,
					   id == O_PROBE ? " or tcp://HOST:PORT" : "");
		return set_str(&s->url, v) ? EXIT_RUNTIME : 0;
	case O_METRIC:
		if (!(s = last_src(c, SOURCE_METRICS)) || s->metric)
			return usage_error("--metric '%s' must follow its --metrics-url", v);
		{
			struct expo_sel sel;
			char why[128];

			if (expo_sel_parse(v, &sel, why, sizeof(why)))
				return usage_error("invalid --metric '%s': %s", v, why);
			expo_sel_release(&sel);
		}
		return set_str(&s->metric, v) ? EXIT_RUNTIME : 0;
	case O_QUANTILE: {
		char *end;
		double q = strtod(v, &end);

		if (!(s = last_src(c, SOURCE_METRICS)) || s->has_quantile)
			return usage_error("--quantile '%s' must follow its --metrics-url", v);
		if (end == v || *end || !(q >= 0 && q <= 1))
			return usage_error("invalid --quantile '%s': expected a number in [0, 1]", v);
		s->quantile = q;
		s->has_quantile = true;
		return 0;
	}
	case O_QUERY:
		if (!(s = last_src(c, SOURCE_PROMETHEUS)) || s->query)
			return usage_error("--query must follow its --prometheus URL");
		if (!*v)
			return usage_error("invalid --query: empty");
		return set_str(&s->query, v) ? EXIT_RUNTIME : 0;
	case O_THRESHOLD:
		return set_str(&c->threshold, v) ? EXIT_RUNTIME : 0;
	case O_ON_NO_DATA:
		if (strcmp(v, "breach") && strcmp(v, "skip"))
			return usage_error("invalid --on-no-data '%s': expected breach or skip", v);
		return set_str(&c->on_no_data, v) ? EXIT_RUNTIME : 0;
	case O_FOR: return dur("for", v, &c->for_ns);
	case O_INTERVAL:
		if (dur("interval", v, &c->interval_ns))
			return EXIT_USAGE;
		if (c->interval_ns < 10000000ull)
			return usage_error("invalid --interval '%s': at least 10ms", v);
		return 0;
	case O_POLL_TIMEOUT:
		c->poll_timeout_set = true;
		if (dur("poll-timeout", v, &c->poll_timeout_ns))
			return EXIT_USAGE;
		if (c->poll_timeout_ns < 1000000ull)
			return usage_error("invalid --poll-timeout '%s': at least 1ms", v);
		return 0;
	case O_WINDOW:
		if (dur("window", v, &c->window_ns))
			return EXIT_USAGE;
		return c->window_ns ? 0 : usage_error("invalid --window '%s': must be positive", v);
	case O_BEFORE: return dur("before", v, &c->before_ns);
	case O_MAX_WINDOW: return dur("max-window", v, &c->max_window_ns);
	case O_BASELINE: return dur("baseline", v, &c->baseline_ns);
	case O_COOLDOWN: return dur("cooldown", v, &c->cooldown_ns);
	case O_MAX_PER_HOUR:
		if (parse_u64(v, 0, TRIGGER_MAX_PER_HOUR, &c->max_per_hour))
			return usage_error("invalid --max-per-hour '%s': expected 0..%u (0: no cap)", v,
					   TRIGGER_MAX_PER_HOUR);
		return 0;
	case O_OUT: return set_str(&c->out, v) ? EXIT_RUNTIME : 0;
	case O_STATE_DIR: return set_str(&c->state_dir, v) ? EXIT_RUNTIME : 0;
	case O_LISTEN: return set_str(&c->listen, v) ? EXIT_RUNTIME : 0;
	case O_TOKEN_FILE: return set_str(&c->token_file, v) ? EXIT_RUNTIME : 0;
	case O_TLS_CERT: return set_str(&c->tls_cert, v) ? EXIT_RUNTIME : 0;
	case O_TLS_KEY: return set_str(&c->tls_key, v) ? EXIT_RUNTIME : 0;
	case O_ALERT_MATCH:
		if (cli && !c->match_from_cli) {
			for (size_t i = 0; i < c->nalert_match; i++)
				free(c->alert_match[i]);
			c->nalert_match = 0;
			c->match_from_cli = true;
		}
		if (!listen_match_valid(v))
			return usage_error("invalid --alert-match '%s': expected LABEL=VALUE (a Prometheus label name)", v);
		if (c->nalert_match == WATCH_MAX_ALERT_MATCH)
			return usage_error("too many --alert-match (at most %u)", WATCH_MAX_ALERT_MATCH);
		c->alert_match[c->nalert_match] = NULL;
		if (set_str(&c->alert_match[c->nalert_match], v))
			return EXIT_RUNTIME;
		c->nalert_match++;
		return 0;
	case O_KEEP:
		if (parse_u64(v, 1, 1000000, &c->keep_n))
			return usage_error("invalid --keep '%s': expected a number of incidents, 1 or more", v);
		return 0;
	case O_MAX_DISK:
		if (parse_size(v, &c->max_disk))
			return usage_error("invalid --max-disk '%s': expected a size such as 512M or 2G (0: off)", v);
		c->max_disk_set = true;
		return 0;
	case O_KEEP_BYTES:
		if (parse_size(v, &c->keep_bytes) || !c->keep_bytes)
			return usage_error("invalid --keep-bytes '%s': expected a size such as 500M or 2G", v);
		return 0;
	default:
		if (deliver_flags_has(id)) {
			if (deliver_flags_apply(&c->df, id, v, err, sizeof(err)))
				return usage_error("%s", err);
			return 0;
		}
		/* record's capture flags (and their errors) */
		if (capture_flags_apply(&c->cf, id, v, err, sizeof(err)))
			return usage_error("%s", err);
		return 0;
	}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Applies a --config text (len bytes, named path in messages): `key = value`
 * lines (keys are the long flags), '#' comments. Flags without a value take
 * true/false. One clear line on the first bad line. */
static int parse_config(struct wcfg *c, const char *path, const char *text, size_t len)
{
	char line[8192];
	int lineno = 0, ret = 0;
	size_t pos = 0;

	if (memchr(text, '\0', len)) {
		fprintf(stderr, "stalltrap watch: %s: not a text file (a NUL byte)\n", path);
		return EXIT_USAGE;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *k, *v, *eq;
		const struct option *o;

		lineno++;
		if (lineno > CONFIG_MAX_LINES || n >= sizeof(line)) {
			fprintf(stderr, "stalltrap watch: %s:%d: line too long or too many lines\n", path, lineno);
			ret = EXIT_USAGE;
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		k = trim(line);
		if (!*k || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			fprintf(stderr, "stalltrap watch: %s:%d: expected 'key = value'\n", path, lineno);
			ret = EXIT_USAGE;
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (strlen(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[strlen(v) - 1] == v[0]) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		for (o = longopts; o->name; o++)
			if (!strcmp(o->name, k))
				break;
		if (!o->name || o->val == O_CONFIG || o->val == O_HELP) {
			fprintf(stderr, "stalltrap watch: %s:%d: unknown key '%.64s'\n", path, lineno, k);
			ret = EXIT_USAGE;
			break;
		}
		if (o->has_arg == no_argument) {
			if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
				ret = apply(c, o->val, "", false);
			else if (strcmp(v, "false") && strcmp(v, "no") && strcmp(v, "0")) {
				fprintf(stderr, "stalltrap watch: %s:%d: %s takes true or false\n", path, lineno, k);
				ret = EXIT_USAGE;
			}
		} else if (!*v) {
			fprintf(stderr, "stalltrap watch: %s:%d: %s needs a value\n", path, lineno, k);
			ret = EXIT_USAGE;
		} else {
			snprintf(g_where, sizeof(g_where), "%.4000s:%d: ", path, lineno);
			ret = apply(c, o->val, v, false);
			g_where[0] = '\0';
		}
		if (ret)
			break;
	}
	return ret;
}

static int read_flag_file(const char *flag, const char *path, size_t max, char **out);

/* Reads --config (at most CONFIG_MAX_BYTES) and applies it (parse_config). */
static int load_config(struct wcfg *c, const char *path)
{
	char *text;
	int ret = read_flag_file("--config", path, CONFIG_MAX_BYTES, &text);

	if (ret)
		return ret;
	ret = parse_config(c, path, text, strlen(text));
	free(text);
	return ret;
}

int watch_config_check(const char *text, size_t len)
{
	struct wcfg c = { 0 };
	int ret;

	capture_flags_init(&c.cf);
	capture_flags_longopts(longopts, own_opts);
	ret = parse_config(&c, "--config", text, len);
	free_cfg(&c);
	return ret;
}

/* A flag's small file (--config, --token-file, --tls-cert, --tls-key), at most max
 * bytes of text, into *out (NUL-terminated, malloc'd). One line on stderr
 * when it cannot be read, is too long or holds a NUL byte. */
static int read_flag_file(const char *flag, const char *path, size_t max, char **out)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "stalltrap watch: cannot read %s %s: %s\n", flag, path, strerror(errno));
		return EXIT_RUNTIME;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf)
		return EXIT_RUNTIME;
	if (n > max) {
		fprintf(stderr, "stalltrap watch: %s %s: longer than %zu bytes\n", flag, path, max);
		free(buf);
		return EXIT_RUNTIME;
	}
	if (memchr(buf, '\0', n)) {
		fprintf(stderr, "stalltrap watch: %s %s: not a text file (a NUL byte)\n", flag, path);
		free(buf);
		return EXIT_RUNTIME;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int read_token(const char *path, char **out)
{
	char *buf, *t;
	int ret = read_flag_file("--token-file", path, WATCH_MAX_TOKEN, &buf);

	if (ret)
		return ret;
	t = trim(buf);
	if (!*t || strpbrk(t, " \t\r\n")) {
		fprintf(stderr, "stalltrap watch: --token-file %s: expected one token on one line\n", path);
		ret = EXIT_RUNTIME;
	} else if (!(*out = strdup(t))) {
		ret = EXIT_RUNTIME;
	}
	explicit_bzero(buf, strlen(buf));
	free(buf);
	return ret;
}

/* A PEM file (--tls-cert, --tls-key) into *out; GnuTLS says later whether
 * it is a certificate and key it can use. */
static int read_pem(const char *path, const char *flag, char **out)
{
	char *buf;
	int ret = read_flag_file(flag, path, WATCH_MAX_PEM, &buf);

	if (ret)
		return ret;
	if (!strstr(buf, "-----BEGIN ")) {
		fprintf(stderr, "stalltrap watch: %s %s: not a PEM file (no -----BEGIN line)\n", flag, path);
		free(buf);
		return EXIT_RUNTIME;
	}
	*out = buf;
	return 0;
}

/* The pressure file for resource: the target's cgroup v2 directory's, else the machine's. */
static void psi_path(const char *res, const char *cgdir, pid_t pid, char *out, size_t len)
{
	char path[4096], mnt[4096], cg[4096];

	if (cgdir) {
		snprintf(path, sizeof(path), "%.3000s/%s.pressure", cgdir, res);
		if (!access(path, R_OK)) {
			snprintf(out, len, "%s", path);
			return;
		}
	}
	/* the cgroup2 mount point, then the target's cgroup2 path */
	if (pid > 0 && !proc_cgroup_mount(NULL, mnt, sizeof(mnt)) && !proc_cgroup_of(pid, NULL, cg, sizeof(cg)) &&
	    strcmp(cg, "/")) {
		snprintf(path, sizeof(path), "%.2000s%.1900s/%s.pressure", mnt, cg, res);
		if (!access(path, R_OK)) {
			snprintf(out, len, "%s", path);
			return;
		}
	}
	snprintf(out, len, "/proc/pressure/%s", res);
}

int cmd_watch(int argc, char **argv)
{
	struct wcfg c = {
		.for_ns = 2000000000ull, .interval_ns = 500000000ull, .window_ns = 15000000000ull,
		.before_ns = 10000000000ull, .max_window_ns = 60000000000ull, .baseline_ns = 300000000000ull,
		.cooldown_ns = 300000000000ull, .max_per_hour = 6,
	};
	static struct watch_opts o;
	char cgdir[4096], psi_paths[WATCH_MAX_SOURCES][4096], errbuf[512];
	pid_t *found = NULL, *pids;
	char *token = NULL, *tls_cert = NULL, *tls_key = NULL;
	const char *config = NULL;
	int opt, ret, status = EXIT_RUNTIME, npids;
	bool tokenless_listen;

	memset(&o, 0, sizeof(o));
	capture_flags_init(&c.cf);
	if (capture_flags_env(&c.cf, errbuf, sizeof(errbuf)))
		return usage_error("%s", errbuf);
	deliver_flags_init(&c.df);
	deliver_flags_longopts(own_and_sinks, own_opts);
	capture_flags_longopts(longopts, own_and_sinks);
	/* the config file first, so that the command line wins */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	}
	if (config && (ret = load_config(&c, config))) {
		free_cfg(&c);
		return ret;
	}
	if (config && c.ntargets > 1) {
		free_cfg(&c);
		return usage_error("--config %s names more than one target", config);
	}
	opterr = 0;
	optind = 1;
	{
		bool cli_target = false;

		while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
			if (opt == O_HELP || opt == 'h') {
				usage(stdout);
				free_cfg(&c);
				return 0;
			}
			if (opt == O_CONFIG)
				continue;
			if (opt == '?' || opt == ':') {
				free_cfg(&c);
				getopt_error(longopts, optopt, argv[optind - 1], errbuf, sizeof(errbuf));
				return usage_error("%s", errbuf);
			}
			if ((opt == O_PID || opt == O_NAME || opt == O_CGROUP) && !cli_target) {
				/* a target on the command line replaces the config's */
				cli_target = true;
				c.ntargets = 0;
				c.npids = 0;
				free(c.name);
				free(c.cgroup);
				c.name = c.cgroup = NULL;
			}
			ret = apply(&c, opt, optarg ? optarg : "", true);
			if (ret) {
				free_cfg(&c);
				return ret;
			}
		}
	}
	if (optind < argc) {
		ret = usage_error("unexpected argument '%s'", argv[optind]);
		free_cfg(&c);
		return ret;
	}
	if (c.ntargets != 1) {
		free_cfg(&c);
		return usage_error("give exactly one of --pid, --name or --cgroup");
	}

	/* the trigger rule */
	{
		const char *t = c.threshold ? c.threshold : "200ms";
		uint64_t ns;
		char *end;
		double v;

		if (strpbrk(t, "abcdefghijklmnopqrstuvwxyz")) {
			if (parse_duration_ns(t, &ns)) {
				ret = usage_error("invalid --threshold '%s': a duration (200ms) or a plain number", t);
				goto out;
			}
			o.rule.threshold = (double)ns / 1e9;
			o.rule.is_seconds = true;
		} else {
			v = strtod(t, &end);
			if (end == t || *end || !isfinite(v)) {
				ret = usage_error("invalid --threshold '%s': a duration (200ms) or a plain number", t);
				goto out;
			}
			o.rule.threshold = v;
		}
	}
	if (!c.poll_timeout_set)
		c.poll_timeout_ns = c.interval_ns;
	o.rule.poll_timeout_s = (double)c.poll_timeout_ns / 1e9;
	o.rule.no_data_breach = !c.on_no_data || !strcmp(c.on_no_data, "breach");
	if (c.max_window_ns < c.window_ns) {
		ret = usage_error("--max-window (%.1fs) is shorter than --window (%.1fs)", c.max_window_ns / 1e9,
				  c.window_ns / 1e9);
		goto out;
	}
	o.tcfg = (struct trigger_cfg){
		.for_ns = c.for_ns, .before_ns = c.before_ns, .window_ns = c.window_ns,
		.max_window_ns = c.max_window_ns, .cooldown_ns = c.cooldown_ns,
		.max_per_hour = (uint32_t)c.max_per_hour,
	};
	o.baseline_ns = c.baseline_ns;
	tokenless_listen = c.listen && !c.token_file;
	if (!c.nsrc && (!c.listen || tokenless_listen)) {
		ret = usage_error("give at least one metric source (--metrics-url, --prometheus, --probe, --psi) "
				  "or --listen with --token-file");
		goto out;
	}
	if (c.token_file && !c.listen) {
		ret = usage_error("--token-file needs --listen");
		goto out;
	}
	if (c.nalert_match && !c.token_file) {
		ret = usage_error("--alert-match needs the webhook: --listen and --token-file");
		goto out;
	}
	if (!c.tls_cert != !c.tls_key) {
		ret = usage_error("--tls-cert and --tls-key go together");
		goto out;
	}
	if (c.tls_cert && !c.listen) {
		ret = usage_error("--tls-cert needs --listen");
		goto out;
	}

	ret = EXIT_RUNTIME;
	/* the target: a pid that does not exist is an error; a --name or
	 * --cgroup without processes now is waited for (the service may be restarting) */
	npids = proc_resolve_targets(c.pids, c.npids, c.name, c.cgroup, true, &found, cgdir,
				     sizeof(cgdir), errbuf, sizeof(errbuf));
	if (npids < 0) {
		fprintf(stderr, "stalltrap watch: %s\n", errbuf);
		goto out;
	}
	pids = found;

	for (size_t i = 0; i < c.nsrc; i++) {
		struct src_arg *s = &c.src[i];
		struct source_cfg *d = &o.sources[i];

		if (s->kind == SOURCE_METRICS && !s->metric) {
			ret = usage_error("--metrics-url %s needs its --metric NAME", s->url);
			goto out;
		}
		if (s->kind == SOURCE_PROMETHEUS && !s->query) {
			ret = usage_error("--prometheus %s needs its --query EXPR", s->url);
			goto out;
		}
		d->kind = s->kind;
		d->url = s->url;
		d->metric = s->metric;
		d->quantile = s->has_quantile ? s->quantile : 0.99;
		d->query = s->query;
		d->interval_ns = c.interval_ns;
		d->poll_timeout_ns = c.poll_timeout_ns;
		if (s->kind == SOURCE_PSI) {
			uint64_t win = c.for_ns < 500000000ull ? 500000000ull : c.for_ns > 10000000000ull ? 10000000000ull : c.for_ns;

			if (!o.rule.is_seconds || o.rule.threshold * 1e9 >= (double)win || o.rule.threshold <= 0) {
				ret = usage_error("--psi needs --threshold as a duration shorter than the PSI window "
						  "(--for, clamped to 500ms..10s: %.1fs)", win / 1e9);
				goto out;
			}
			psi_path(s->psi, c.cgroup ? cgdir : NULL, npids ? pids[0] : 0, psi_paths[i], sizeof(psi_paths[i]));
			d->psi_resource = s->psi;
			d->psi_path = psi_paths[i];
			d->psi_threshold_us = (uint64_t)llround(o.rule.threshold * 1e6);
			d->psi_window_us = win / 1000;
		}
	}
	o.nsources = c.nsrc;
	if (c.token_file && read_token(c.token_file, &token))
		goto out;
	if (c.tls_cert && (read_pem(c.tls_cert, "--tls-cert", &tls_cert) || read_pem(c.tls_key, "--tls-key", &tls_key)))
		goto out;
	o.pids = pids;
	o.npids = (size_t)npids;
	o.name = c.name;
	o.cgroup_dir = c.cgroup ? cgdir : NULL;
	o.ro = c.cf.ro;
	/* short: the watcher may start, or rotate, in the middle of a freeze */
	o.ro.maps_timeout_ms = 200;
	o.out_dir = c.out ? c.out : DEFAULT_OUT;
	o.state_dir = c.state_dir ? c.state_dir : DEFAULT_STATE;
	o.listen = c.listen;
	o.token = token;
	o.tls_cert = tls_cert;
	o.tls_key = tls_key;
	o.alert_match = (const char *const *)c.alert_match;
	o.nalert_match = c.nalert_match;
	o.top = c.cf.top;
	o.debuginfod_timeout_ns = c.cf.debuginfod_timeout_ns;
	o.keep_n = c.keep_n;
	o.keep_bytes = c.keep_bytes;
	{
		int r = deliver_flags_finish(&c.df, o.state_dir, errbuf, sizeof(errbuf));

		if (r == -EINVAL) {
			ret = usage_error("%s", errbuf);
			goto out;
		}
		if (r) {
			fprintf(stderr, "stalltrap watch: %s\n", errbuf);
			goto out;
		}
		if (deliver_cfg_any(&c.df.cfg))
			o.deliver = &c.df.cfg;
	}
	{
		int e = outdir_make(o.out_dir);

		if (e) {
			fprintf(stderr, "stalltrap watch: cannot create --out directory %s: %s\n", o.out_dir,
				outdir_strerror(e));
			goto out;
		}
		/* incidents and files a killed watcher was writing */
		outdir_clean_stale(o.out_dir, OUTDIR_STALE_AGE_S);
		o.max_disk = c.max_disk_set ? c.max_disk : diskcap_default(o.out_dir);
	}
	{
		/* before watch_run starts any thread: capabilities are per thread,
		 * and a thread inherits its creator's */
		unsigned pf = o.ro.bpf_stats ? CLI_PRIVS_BPF_STATS : 0;

		for (size_t i = 0; i < o.nsources; i++)
			if (o.sources[i].psi_path)
				pf |= CLI_PRIVS_PSI;
		if (cli_drop_privs(CLI_PRIVS_WATCH, pf, "watch"))
			goto out;
	}
	status = watch_run(&o);
	ret = status;
out:
	free(found);
	free(token);
	free(tls_cert);
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	free_cfg(&c);
	return ret;
}

/* ---- stalltrap trigger ---- */

static void trigger_usage(FILE *f)
{
	fprintf(f,
		"usage: stalltrap trigger (--pid PID | --name COMM) [--state-dir DIR]\n"
		"\n"
		"Asks the 'stalltrap watch' of that target to capture an incident now (as SIGUSR1\n"
		"to the watcher does). Exit status 0 when a capture started or was extended.\n");
}

int cmd_trigger(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *what = NULL, *who = NULL, *dir = DEFAULT_STATE;
	struct dirent *de;
	DIR *d;
	int opt, status = EXIT_RUNTIME;
	bool asked = false;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': {
			uint64_t v;

			if (parse_u64(optarg, 1, 4194304, &v)) {
				fprintf(stderr, "stalltrap trigger: invalid --pid '%s'\n", optarg);
				return EXIT_USAGE;
			}
			what = "pid";
			who = optarg;
			break;
		}
		case 'n':
			if (!*optarg || strlen(optarg) > 15 || strpbrk(optarg, " \t\n")) {
				fprintf(stderr, "stalltrap trigger: invalid --name '%s'\n", optarg);
				return EXIT_USAGE;
			}
			what = "name";
			who = optarg;
			break;
		case 's':
			dir = optarg;
			break;
		case 'h':
			trigger_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "stalltrap trigger: unknown option or missing value '%s' (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!what || optind < argc) {
		fprintf(stderr, "stalltrap trigger: give --pid PID or --name COMM (see --help)\n");
		return EXIT_USAGE;
	}
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "stalltrap trigger: no watcher: cannot open --state-dir %s: %s\n", dir, strerror(errno));
		return EXIT_RUNTIME;
	}
	while ((de = readdir(d))) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 5 };
		char req[320], reply[128];
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, "watch-", 6) || !strstr(de->d_name, ".sock"))
			continue;
		if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, de->d_name) >= sizeof(sa.sun_path))
			continue;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			close(fd); /* a watcher that is gone left its socket */
			continue;
		}
		snprintf(req, sizeof(req), "trigger %s %s\n", what, who);
		n = write(fd, req, strlen(req)) < 0 ? -1 : read(fd, reply, sizeof(reply) - 1);
		close(fd);
		if (n <= 0)
			continue;
		reply[n] = '\0';
		reply[strcspn(reply, "\n")] = '\0';
		if (!strcmp(reply, "not-mine"))
			continue;
		asked = true;
		printf("%s: %s\n", de->d_name, reply);
		if (!strcmp(reply, "started") || !strcmp(reply, "extended") || !strcmp(reply, "capturing") ||
		    !strcmp(reply, "queued"))
			status = 0;
	}
	closedir(d);
	if (!asked)
		fprintf(stderr, "stalltrap trigger: no watcher of --%s %s under %s\n", what, who, dir);
	else if (status)
		fprintf(stderr, "stalltrap trigger: the watcher refused (cooldown or hourly cap)\n");
	return status;
}
