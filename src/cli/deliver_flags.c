/* deliver_flags.c: the sink flags of watch and send: parsing, secrets from files or the environment. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/deliver_flags.h"
#include "deliver/http.h"
#include "deliver/sinks.h"
#include "util/parse.h"

#define MAX_SECRET 4096u

enum { A_URL = 0, A_TOKEN, A_BASIC, A_TENANT, A_CA, A_CERT, A_KEY };
enum { G_SECRET = DF_BASE + SINK_N * 8, G_SERVICE, G_PREFIX, G_SEVERITY, G_GIVE_UP, G_MIN_BACKOFF, G_MAX_BACKOFF,
       G_TIMEOUT, G_RESEND };

static const char *const attr_suffix[DF_PER_SINK] = { "", "-token-file", "-basic-auth-file", "-tenant-file",
						      "-ca-file", "-cert", "-key" };
static const char *const globals[] = { "webhook-secret-file", "service", "report-url-prefix", "alert-severity",
				       "give-up-after", "retry-min-backoff", "retry-max-backoff", "sink-timeout",
				       "alert-resend" };
static char names[SINK_N][DF_PER_SINK][48];
static struct option opts[DELIVER_FLAGS_N + 1];

static void build(void)
{
	size_t n = 0;

	if (opts[0].name)
		return;
	for (int k = 0; k < SINK_N; k++)
		for (int a = 0; a < DF_PER_SINK; a++) {
			snprintf(names[k][a], sizeof(names[k][a]), "%s%s", deliver_sink_name(k), attr_suffix[a]);
			opts[n++] = (struct option){ names[k][a], required_argument, NULL, DF_BASE + k * 8 + a };
		}
	for (size_t g = 0; g < sizeof(globals) / sizeof(globals[0]); g++)
		opts[n++] = (struct option){ globals[g], required_argument, NULL, G_SECRET + (int)g };
}

void deliver_flags_init(struct deliver_flags *f)
{
	memset(f, 0, sizeof(*f));
	deliver_cfg_init(&f->cfg);
	build();
}

void deliver_flags_longopts(struct option *out, const struct option *own)
{
	size_t n = 0;

	build();
	for (; own[n].name; n++)
		out[n] = own[n];
	for (size_t i = 0; i < DELIVER_FLAGS_N; i++)
		out[n++] = opts[i];
	memset(&out[n], 0, sizeof(out[n]));
}

bool deliver_flags_has(int id)
{
	return id >= DF_BASE && id <= G_RESEND && (id >= G_SECRET || (id - DF_BASE) % 8 < DF_PER_SINK);
}

static const char *flag_name(int id)
{
	build();
	for (size_t i = 0; i < DELIVER_FLAGS_N; i++)
		if (opts[i].val == id)
			return opts[i].name;
	return "?";
}

static int set(char **dst, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

int deliver_flags_apply(struct deliver_flags *f, int id, const char *v, char *err, size_t errlen)
{
	uint64_t ns;
	const char *why;

	if (!deliver_flags_has(id)) {
		snprintf(err, errlen, "unknown option");
		return -ENOENT;
	}
	if (id < G_SECRET) {
		int k = (id - DF_BASE) / 8, a = (id - DF_BASE) % 8;

		if (a == A_URL && (why = http_url_problem(v))) {
			snprintf(err, errlen, "invalid --%s '%.200s': %s", flag_name(id), v, why);
			return -EINVAL;
		}
		if (!*v) {
			snprintf(err, errlen, "invalid --%s: empty", flag_name(id));
			return -EINVAL;
		}
		return set(&f->v[k][a], v);
	}
	switch (id) {
	case G_SECRET: return set(&f->secret_file, v);
	case G_SERVICE:
		if (!*v || strlen(v) > 100 || strpbrk(v, "\"\\\n")) {
			snprintf(err, errlen, "invalid --service '%.120s': 1 to 100 characters, no quote or backslash", v);
			return -EINVAL;
		}
		return set(&f->service, v);
	case G_PREFIX: return set(&f->prefix, v);
	case G_SEVERITY:
		if (!*v || strlen(v) > 32) {
			snprintf(err, errlen, "invalid --alert-severity '%.64s': 1 to 32 characters", v);
			return -EINVAL;
		}
		return set(&f->severity, v);
	default:
		if (parse_duration_ns(v, &ns) || !ns) {
			snprintf(err, errlen, "invalid --%s '%.64s': expected a positive duration such as 500ms, 30s, 24h",
				 flag_name(id), v);
			return -EINVAL;
		}
		if (id == G_GIVE_UP)
			f->cfg.give_up_after_ns = ns;
		else if (id == G_MIN_BACKOFF)
			f->cfg.min_backoff_ns = ns;
		else if (id == G_MAX_BACKOFF)
			f->cfg.max_backoff_ns = ns;
		else if (id == G_TIMEOUT)
			f->cfg.timeout_ns = ns;
		else
			f->cfg.resend_ns = ns;
		return 0;
	}
}

/* A secret: the file's contents (one line, trimmed), or the environment's. */
static int secret(const char *flag, const char *path, const char *env, char **out, char *err, size_t errlen)
{
	const char *e = getenv(env);
	char *buf;
	size_t n;
	FILE *fp;

	*out = NULL;
	if (!path) {
		if (e && *e && !(*out = strdup(e)))
			return -ENOMEM;
		return 0;
	}
	if (!(fp = fopen(path, "r"))) {
		snprintf(err, errlen, "cannot read --%s %.300s: %s", flag, path, strerror(errno));
		return -EIO;
	}
	buf = malloc(MAX_SECRET + 1);
	n = buf ? fread(buf, 1, MAX_SECRET + 1, fp) : 0;
	fclose(fp);
	if (!buf)
		return -ENOMEM;
	if (n > MAX_SECRET) {
		snprintf(err, errlen, "--%s %.300s: longer than %u bytes", flag, path, MAX_SECRET);
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (!n || strpbrk(buf, "\r\n")) {
		snprintf(err, errlen, "--%s %.300s: expected one line", flag, path);
		explicit_bzero(buf, n);
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

int deliver_flags_finish(struct deliver_flags *f, const char *state_dir, char *err, size_t errlen)
{
	struct deliver_cfg *c = &f->cfg;
	int ret;

	c->state_dir = state_dir;
	c->service = f->service;
	c->report_url_prefix = f->prefix;
	c->severity = f->severity;
	if (c->min_backoff_ns > c->max_backoff_ns) {
		snprintf(err, errlen, "--retry-min-backoff is longer than --retry-max-backoff");
		return -EINVAL;
	}
	for (int k = 0; k < SINK_N; k++) {
		static const char *const env_attr[3] = { "TOKEN", "BASIC_AUTH", "TENANT" };
		struct sink_cfg *s = &c->sink[k];

		if (!f->v[k][A_URL]) {
			for (int a = 1; a < DF_PER_SINK; a++)
				if (f->v[k][a]) {
					snprintf(err, errlen, "--%s%s needs --%s URL", deliver_sink_name(k), attr_suffix[a],
						 deliver_sink_name(k));
					return -EINVAL;
				}
			continue;
		}
		s->url = f->v[k][A_URL];
		for (int a = 0; a < 3; a++) {
			char env[64], flag[64];

			snprintf(env, sizeof(env), "STALLTRAP_%s_%s", deliver_sink_name(k), env_attr[a]);
			for (char *p = env; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			snprintf(flag, sizeof(flag), "%s%s", deliver_sink_name(k), attr_suffix[A_TOKEN + a]);
			ret = secret(flag, f->v[k][A_TOKEN + a], env, &f->secrets[k][a], err, errlen);
			if (ret)
				return ret;
		}
		if (f->secrets[k][1] && !strchr(f->secrets[k][1], ':')) {
			snprintf(err, errlen, "--%s-basic-auth-file: expected USER:PASSWORD", deliver_sink_name(k));
			return -EIO;
		}
		s->token = f->secrets[k][0];
		s->basic = f->secrets[k][1];
		s->tenant = f->secrets[k][2];
		s->ca_file = f->v[k][A_CA];
		s->cert_file = f->v[k][A_CERT];
		s->key_file = f->v[k][A_KEY];
		if (!s->cert_file != !s->key_file) {
			snprintf(err, errlen, "--%s-cert and --%s-key go together", deliver_sink_name(k), deliver_sink_name(k));
			return -EINVAL;
		}
		for (int a = A_CA; a <= A_KEY; a++)
			if (f->v[k][a] && access(f->v[k][a], R_OK)) {
				snprintf(err, errlen, "cannot read --%s%s %.300s: %s", deliver_sink_name(k), attr_suffix[a],
					 f->v[k][a], strerror(errno));
				return -EIO;
			}
	}
	if (f->secret_file && !c->sink[SINK_WEBHOOK].url) {
		snprintf(err, errlen, "--webhook-secret-file needs --webhook URL");
		return -EINVAL;
	}
	if (c->sink[SINK_WEBHOOK].url) {
		char *text = NULL;

		ret = secret("webhook-secret-file", f->secret_file, "STALLTRAP_WEBHOOK_SECRET", &text, err, errlen);
		if (ret)
			return ret;
		if (text) {
			ret = sink_webhook_key(text, &f->key, &f->keylen);
			explicit_bzero(text, strlen(text));
			free(text);
			if (ret) {
				snprintf(err, errlen, "--webhook-secret-file: a whsec_ secret must be base64");
				return -EIO;
			}
			c->sink[SINK_WEBHOOK].secret = f->key;
			c->sink[SINK_WEBHOOK].secret_len = f->keylen;
		}
	}
	return 0;
}

void deliver_flags_release(struct deliver_flags *f)
{
	for (int k = 0; k < SINK_N; k++) {
		for (int a = 0; a < DF_PER_SINK; a++)
			free(f->v[k][a]);
		for (int a = 0; a < 3; a++)
			if (f->secrets[k][a]) {
				explicit_bzero(f->secrets[k][a], strlen(f->secrets[k][a]));
				free(f->secrets[k][a]);
			}
	}
	if (f->key) {
		explicit_bzero(f->key, f->keylen);
		free(f->key);
	}
	free(f->secret_file);
	free(f->service);
	free(f->prefix);
	free(f->severity);
	memset(f, 0, sizeof(*f));
}

void deliver_flags_usage(FILE *out)
{
	fprintf(out,
		"delivery (each incident to each sink given, through a queue under --state-dir):\n"
		"  --alertmanager URL  Alertmanager (API v2): alert StalltrapFreeze, re-sent while the\n"
		"                      service breaches, resolved after\n"
		"  --pyroscope URL     Grafana Pyroscope or Alloy's pyroscope.receive_http: the profile\n"
		"  --parca URL         Parca (HTTP gateway, /profiles/writeraw): the profile\n"
		"  --webhook URL       a JSON POST with the verdict; --webhook-secret-file FILE signs it\n"
		"                      (Standard Webhooks; whsec_BASE64 or raw key; or $STALLTRAP_WEBHOOK_SECRET)\n"
		"  --SINK-token-file FILE       bearer token ($STALLTRAP_SINK_TOKEN)\n"
		"  --SINK-basic-auth-file FILE  USER:PASSWORD ($STALLTRAP_SINK_BASIC_AUTH)\n"
		"  --SINK-tenant-file FILE      X-Scope-OrgID ($STALLTRAP_SINK_TENANT)\n"
		"  --SINK-ca-file FILE, --SINK-cert FILE --SINK-key FILE   HTTPS: CA, client certificate\n"
		"  --service NAME      the alert's and profile's service (default: the target's comm)\n"
		"  --report-url-prefix URL   the alert's report link: URL + incident id (HOST/DIR)\n"
		"  --alert-severity S  the alert's severity label; default critical\n"
		"  --give-up-after D   drop an item undelivered this long; default 24h\n"
		"  --retry-min-backoff D, --retry-max-backoff D   backoff bounds; default 500ms, 5m\n"
		"  --sink-timeout D    one request's deadline; default 10s\n"
		"  --alert-resend D    re-send a firing alert this often; default 1m\n");
}
