/* floor.c: loads a copy of the empty floor programs (floor.bpf.c) per hook and attaches it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "capture/cpu_clock.h"
#include "capture/floor.h"
#include "floor.skel.h"

#define FLOOR_MAX_CPUS 256

struct floor {
	struct floor_bpf *skels[FLOOR_MAX_HOOKS];
	struct bpf_link *links[FLOOR_MAX_HOOKS];
	int nskels;
	int nlinks;
	/* the perf_event hook: one event and link per CPU */
	int sample_fds[FLOOR_MAX_CPUS];
	struct bpf_link *sample_links[FLOOR_MAX_CPUS];
	int nsamples;
};

static const char *kind_name(enum floor_kind k)
{
	return k == FLOOR_RAW_TP ? "raw_tp" : k == FLOOR_TP_BTF ? "tp_btf" : "perf_event";
}

int floor_parse_hooks(const char *list, struct floor_hook *hooks, int max, char *err, size_t errlen)
{
	const char *p = list, *end;
	int n = 0;

	if (!*list) {
		snprintf(err, errlen, "empty hook list");
		return -EINVAL;
	}
	for (; *p; p = *end ? end + 1 : end) {
		size_t len, plen;
		const char *colon;
		struct floor_hook h;

		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		memset(&h, 0, sizeof(h));
		colon = memchr(p, ':', len);
		plen = colon ? (size_t)(colon - p) : len;
		if (!colon && len == strlen("perf_event") && !memcmp(p, "perf_event", len)) {
			h.kind = FLOOR_PERF_EVENT;
		} else if (colon && ((plen == 6 && !memcmp(p, "raw_tp", 6)) || (plen == 6 && !memcmp(p, "tp_btf", 6)))) {
			size_t nlen = len - plen - 1;

			h.kind = p[0] == 'r' ? FLOOR_RAW_TP : FLOOR_TP_BTF;
			/* tracepoint names are C identifiers */
			if (!nlen || nlen >= sizeof(h.name) || strspn(colon + 1, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") < nlen)
				goto bad;
			memcpy(h.name, colon + 1, nlen);
		} else {
			goto bad;
		}
		if (n == max) {
			snprintf(err, errlen, "more than %d hooks", max);
			return -EINVAL;
		}
		hooks[n++] = h;
		continue;
bad:
		snprintf(err, errlen, "bad hook '%.*s' (expected raw_tp:NAME, tp_btf:NAME or perf_event)",
			 (int)(len > 100 ? 100 : len), p);
		return -EINVAL;
	}
	return n;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* a hook that does not attach is reported in one line of ours */
	if (!getenv("STALLTRAP_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* A fresh copy of the object per hook, loading only the program of its kind:
 * each hook runs a program of its own. */
static int attach_one(struct floor *f, const struct floor_hook *h, uint32_t sample_hz)
{
	struct floor_bpf *s = floor_bpf__open();
	struct bpf_program *keep;
	int ret;

	if (!s)
		return errno ? -errno : -EINVAL;
	f->skels[f->nskels++] = s;
	keep = h->kind == FLOOR_RAW_TP ? s->progs.floor_raw_tp
	     : h->kind == FLOOR_TP_BTF ? s->progs.floor_tp_btf : s->progs.floor_sample;
	bpf_program__set_autoload(s->progs.floor_raw_tp, keep == s->progs.floor_raw_tp);
	bpf_program__set_autoload(s->progs.floor_tp_btf, keep == s->progs.floor_tp_btf);
	bpf_program__set_autoload(s->progs.floor_sample, keep == s->progs.floor_sample);
	/* tp_btf is typed by its target's BTF, so the target is fixed before load */
	if (h->kind == FLOOR_TP_BTF && (ret = bpf_program__set_attach_target(keep, 0, h->name)))
		return ret;
	if ((ret = floor_bpf__load(s)))
		return ret;
	if (h->kind == FLOOR_PERF_EVENT) {
		f->nsamples = cpu_clock_attach(keep, sample_hz, f->sample_fds, f->sample_links, FLOOR_MAX_CPUS);
		return f->nsamples ? 0 : -errno;
	}
	f->links[f->nlinks] = h->kind == FLOOR_RAW_TP ? bpf_program__attach_raw_tracepoint(keep, h->name)
						      : bpf_program__attach_trace(keep);
	if (!f->links[f->nlinks])
		return errno ? -errno : -EINVAL;
	f->nlinks++;
	return 0;
}

int floor_attach(struct floor **out, const struct floor_hook *hooks, int n, uint32_t sample_hz,
		 char *err, size_t errlen)
{
	struct floor *f;
	int i, ret = 0;

	*out = NULL;
	if (n > FLOOR_MAX_HOOKS) {
		snprintf(err, errlen, "more than %d hooks", FLOOR_MAX_HOOKS);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	libbpf_set_print(libbpf_print);
	for (i = 0; i < n; i++) {
		if (hooks[i].kind == FLOOR_PERF_EVENT && f->nsamples) {
			snprintf(err, errlen, "perf_event is listed twice");
			ret = -EINVAL;
			goto cleanup;
		}
		if ((ret = attach_one(f, &hooks[i], sample_hz))) {
			/* libbpf says ESRCH when the BTF has no such tracepoint */
			snprintf(err, errlen, "cannot attach %s%s%s: %s", kind_name(hooks[i].kind),
				 hooks[i].name[0] ? ":" : "", hooks[i].name,
				 ret == -ENOENT || ret == -ESRCH ? "no such tracepoint in this kernel" : strerror(-ret));
			goto cleanup;
		}
	}
	*out = f;
	return 0;
cleanup:
	floor_detach(f);
	return ret;
}

int floor_nlinks(const struct floor *f)
{
	return f->nlinks + f->nsamples;
}

void floor_detach(struct floor *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < f->nlinks; i++)
		bpf_link__destroy(f->links[i]);
	cpu_clock_detach(f->sample_fds, f->sample_links, f->nsamples);
	for (i = 0; i < f->nskels; i++)
		floor_bpf__destroy(f->skels[i]);
	free(f);
}
