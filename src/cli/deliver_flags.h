/* deliver_flags.h: the sink flags, which watch (and its --config) and send take.
 *
 * One table: getopt_long entries, parsing and validation (one error line
 * naming the flag), --help lines. Per sink S (alertmanager, webhook,
 * pyroscope, parca): --S URL, --S-token-file, --S-basic-auth-file,
 * --S-tenant-file, --S-ca-file, --S-cert, --S-key; and --webhook-secret-file,
 * --service, --report-url-prefix, --alert-severity, --give-up-after,
 * --retry-min-backoff, --retry-max-backoff, --sink-timeout, --alert-resend.
 * Secrets come from those files or the environment (STALLTRAP_S_TOKEN,
 * STALLTRAP_S_BASIC_AUTH, STALLTRAP_S_TENANT, STALLTRAP_WEBHOOK_SECRET),
 * never from the command line; they are read by deliver_flags_finish().
 */
#ifndef STALLTRAP_DELIVER_FLAGS_H
#define STALLTRAP_DELIVER_FLAGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "deliver/deliver.h"

enum { DF_BASE = 0x300 };
#define DF_PER_SINK 7
#define DELIVER_FLAGS_N (SINK_N * DF_PER_SINK + 9)

struct deliver_flags {
	char *v[SINK_N][DF_PER_SINK];   /* URL, token-file, basic-auth-file, tenant-file, ca-file, cert, key */
	char *secret_file, *service, *prefix, *severity;
	struct deliver_cfg cfg;         /* filled by deliver_flags_finish */
	char *secrets[SINK_N][3];       /* token, basic, tenant contents */
	unsigned char *key;             /* the webhook's HMAC key */
	size_t keylen;
};

void deliver_flags_init(struct deliver_flags *f);
/* Copies own (up to its terminator), then the sink flags, then a terminator. */
void deliver_flags_longopts(struct option *out, const struct option *own);
bool deliver_flags_has(int id);
/* Applies one flag. Returns 0, -EINVAL with "invalid --FLAG ..." in err, or -ENOENT (not a sink flag). */
int deliver_flags_apply(struct deliver_flags *f, int id, const char *v, char *err, size_t errlen);
/* Checks the combination, reads the secret files (or the environment) and
 * fills f->cfg (state_dir as given). Returns 0, -EINVAL (usage: err says
 * which flag) or -EIO (a file cannot be read: err says which). */
int deliver_flags_finish(struct deliver_flags *f, const char *state_dir, char *err, size_t errlen);
/* Frees the values and wipes the secrets. */
void deliver_flags_release(struct deliver_flags *f);
void deliver_flags_usage(FILE *out);

#endif /* STALLTRAP_DELIVER_FLAGS_H */
