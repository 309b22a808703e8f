/* fuzz_webhook.c: libFuzzer target for the Alertmanager webhook body parser (listen_parse_webhook).
 *
 * The parser must never crash, read out of bounds or leak, with and without
 * --alert-match rules. The reason it writes (it goes into log lines and the
 * incident's files) stays within its buffer, on one line, without control
 * characters, whatever the alert names hold.
 *
 * Built by the Makefile: `make fuzz` runs build-fuzz/fuzz/fuzz_webhook
 * (libFuzzer, clang) on a copy of tests/fuzz/corpus_webhook; `make test`
 * replays the corpus with build-san/fuzz/fuzz_webhook (gcc, replay_main.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch/listen.h"

static const char *const match[] = { "service=feed", "instance=host1:9100" };

static void check(const uint8_t *data, size_t size, size_t nmatch, size_t rlen)
{
	char reason[256];
	unsigned ignored = 0;
	int n;

	memset(reason, 'x', sizeof(reason));
	n = listen_parse_webhook((const char *)data, size, match, nmatch, reason, rlen, &ignored);
	if (n < 0 && n != -EINVAL)
		abort();
	if (!rlen)
		return;
	if (!memchr(reason, '\0', rlen))
		abort(); /* not terminated within rlen */
	for (const char *p = reason; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort(); /* a control character would break the log line */
	if (n > 0 && rlen > 6 && strncmp(reason, "alert ", 6))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0, 256);
	check(data, size, 1, 256);
	check(data, size, 2, 16);
	check(data, size, 0, 1);
	return 0;
}
