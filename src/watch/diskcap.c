/* diskcap.c: --max-disk: measure --out and the delivery queue, remove the oldest until within the cap, say so. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "capdata/capdata.h"
#include "deliver/queue.h"
#include "util/prune.h"
#include "util/units.h"
#include "watch/diskcap.h"

static const char *const queue_subs[] = { "q", "parked", "gaveup" };

const char *diskcap_what_name(enum diskcap_what w)
{
	static const char *const names[DISKCAP_N] = { "incident", "queue", "capture" };

	return w < DISKCAP_N ? names[w] : "?";
}

static int cmp_age(const void *a, const void *b)
{
	const struct diskcap_item *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t diskcap_plan(struct diskcap_item *v, size_t n, uint64_t total, uint64_t max_bytes, uint64_t *after)
{
	size_t marked = 0, newest = n;

	if (n)
		qsort(v, n, sizeof(*v), cmp_age);
	for (size_t i = 0; i < n; i++) {
		v[i].remove = false;
		if (v[i].what == DISKCAP_INCIDENT)
			newest = i;
	}
	/* the newest incident is the one someone is about to look at */
	if (newest < n)
		v[newest].keep = true;
	for (size_t i = 0; max_bytes && i < n && total > max_bytes; i++) {
		if (v[i].keep)
			continue;
		v[i].remove = true;
		total -= v[i].bytes < total ? v[i].bytes : total;
		marked++;
	}
	*after = total;
	return marked;
}

#define DISKCAP_PASSES 4        /* passes of one apply, while over the cap and removing */

/* ---- what is on disk ---- */

struct items {
	struct diskcap_item *v;
	size_t n, cap;
};

static struct diskcap_item *add(struct items *it)
{
	if (it->n == it->cap) {
		struct diskcap_item *nv = realloc(it->v, (it->cap = it->cap ? it->cap * 2 : 64) * sizeof(*nv));

		if (!nv)
			return NULL;
		it->v = nv;
	}
	memset(&it->v[it->n], 0, sizeof(it->v[0]));
	return &it->v[it->n++];
}

static int scan_out(const struct diskcap_cfg *c, struct items *it)
{
	struct prune_dir *d;
	int n = prune_list_dirs(c->out_dir, CAPDATA_FILE, &d);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct diskcap_item *x;

		/* anything else in --out is not ours to remove (but counts) */
		if (!d[i].report && !d[i].capture)
			continue;
		if (!(x = add(it)))
			break;
		x->what = d[i].report ? DISKCAP_INCIDENT : DISKCAP_CAPTURE;
		x->t_ns = d[i].mtime_ns;
		x->bytes = d[i].bytes;
		x->keep = c->active && !strcmp(c->active, d[i].name);
		snprintf(x->name, sizeof(x->name), "%s", d[i].name);
	}
	prune_dirs_free(d, n);
	return 0;
}

/* One sink's queue. A queue nobody delivers is locked here (*lock_fd) for
 * the removals; one another process delivers is only counted. */
static void scan_queue(const struct diskcap_cfg *c, enum sink_kind k, const char *sinkdir, int *lock_fd,
		       struct items *it)
{
	bool owned = deliver_queue_owned(c->dlv, k), locked = false;
	int holder;

	*lock_fd = -1;
	if (!owned) {
		int fd = queue_lock(sinkdir, &holder);

		if (fd >= 0)
			*lock_fd = fd;
		else
			locked = true;
	}
	for (size_t s = 0; s < sizeof(queue_subs) / sizeof(queue_subs[0]); s++) {
		char dir[4420], p[4720], **names;
		int n;

		snprintf(dir, sizeof(dir), "%s/%s", sinkdir, queue_subs[s]);
		n = queue_list(dir, ".json", &names);
		for (int i = 0; i < n; i++) {
			struct diskcap_item *x = add(it);
			size_t l = strlen(names[i]) - 5;

			if (!x)
				break;
			x->what = DISKCAP_QUEUE;
			x->sink = (int)k;
			snprintf(x->sub, sizeof(x->sub), "%s", queue_subs[s]);
			snprintf(x->name, sizeof(x->name), "%.*s", (int)l, names[i]);
			x->t_ns = queue_name_ns(x->name);
			snprintf(p, sizeof(p), "%s/%s.json", dir, x->name);
			x->bytes = prune_tree_bytes(p);
			snprintf(p, sizeof(p), "%s/%s.body", dir, x->name);
			x->bytes += prune_tree_bytes(p);
			x->keep = locked || (owned && s == 0 && deliver_queue_busy(c->dlv, k, x->name));
		}
		if (n > 0)
			queue_names_free(names, n);
	}
}

__attribute__((format(printf, 2, 3)))
static void say(const struct diskcap_cfg *c, const char *fmt, ...)
{
	char line[5000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->log)
		c->log(line);
}

static int remove_one(const struct diskcap_cfg *c, const struct diskcap_item *x, char *path, size_t len)
{
	char sinkdir[4200];

	if (x->what != DISKCAP_QUEUE) {
		snprintf(path, len, "%s/%s", c->out_dir, x->name);
		return prune_remove_tree(path);
	}
	snprintf(sinkdir, sizeof(sinkdir), "%s/deliver/%s", c->state_dir, deliver_sink_name((enum sink_kind)x->sink));
	snprintf(path, len, "%s/%s/%s.json", sinkdir, x->sub, x->name);
	if (deliver_queue_owned(c->dlv, (enum sink_kind)x->sink))
		return deliver_queue_drop(c->dlv, (enum sink_kind)x->sink, x->sub, x->name);
	return queue_drop_item(sinkdir, x->sub, x->name);
}

/* One pass: what is on disk, sorted by age, the oldest removed until the
 * sizes seen add up to the cap. Returns how many went, or -errno. */
static int apply_pass(const struct diskcap_cfg *c, const char *qroot, uint64_t total, struct diskcap_result *r)
{
	struct items it = { 0 };
	int lock_fd[SINK_N], ret, removed = 0;
	char cap_s[32], use_s[32], size_s[32], path[4700];
	uint64_t after;

	for (int k = 0; k < SINK_N; k++)
		lock_fd[k] = -1;
	ret = scan_out(c, &it);
	if (ret)
		return ret;
	for (int k = 0; c->state_dir && k < SINK_N; k++) {
		char sinkdir[4400];
		struct stat st;

		snprintf(sinkdir, sizeof(sinkdir), "%s/%s", qroot, deliver_sink_name((enum sink_kind)k));
		if (!lstat(sinkdir, &st) && S_ISDIR(st.st_mode))
			scan_queue(c, (enum sink_kind)k, sinkdir, &lock_fd[k], &it);
	}
	diskcap_plan(it.v, it.n, total, c->max_bytes, &after);
	units_fmt_bytes(cap_s, sizeof(cap_s), c->max_bytes);
	for (size_t i = 0; i < it.n; i++) {
		const struct diskcap_item *x = &it.v[i];

		if (!x->remove)
			continue;
		ret = remove_one(c, x, path, sizeof(path));
		units_fmt_bytes(size_s, sizeof(size_s), x->bytes);
		if (ret == -EBUSY) {
			say(c, "max-disk: kept %s %s: it is being sent", diskcap_what_name(x->what), path);
			continue;
		}
		if (ret && ret != -ENOENT) {
			say(c, "max-disk: cannot remove %s %s: %s", diskcap_what_name(x->what), path, strerror(-ret));
			continue;
		}
		units_fmt_bytes(use_s, sizeof(use_s), total);
		say(c, "max-disk: removed the oldest %s %s (%s, %llu bytes): over --max-disk %s (%s in use)",
		    diskcap_what_name(x->what), path, size_s, (unsigned long long)x->bytes, cap_s, use_s);
		total -= x->bytes < total ? x->bytes : total;
		r->removed[x->what]++;
		r->removed_bytes += x->bytes;
		removed++;
	}
	for (int k = 0; k < SINK_N; k++)
		if (lock_fd[k] >= 0)
			close(lock_fd[k]);
	free(it.v);
	return removed;
}

int diskcap_apply(const struct diskcap_cfg *c, struct diskcap_result *r)
{
	char qroot[4200] = "", cap_s[32], use_s[32];
	uint64_t total;
	int removed = 0, n = 1;

	memset(r, 0, sizeof(*r));
	if (c->state_dir)
		snprintf(qroot, sizeof(qroot), "%s/deliver", c->state_dir);
	/* The sizes a pass plans with are those seen when it scanned; what the
	 * removals freed is what st_blocks says after (a file still growing, a
	 * directory's own blocks): while over the cap and a pass removed
	 * something, another pass measures again. */
	for (int pass = 0; pass < DISKCAP_PASSES && n > 0; pass++) {
		total = prune_tree_bytes(c->out_dir) + (c->state_dir ? prune_tree_bytes(qroot) : 0);
		r->bytes = total;
		if (!c->max_bytes || total <= c->max_bytes)
			return removed;
		n = apply_pass(c, qroot, total, r);
		if (n < 0)
			return removed ? removed : n;
		removed += n;
	}
	total = prune_tree_bytes(c->out_dir) + (c->state_dir ? prune_tree_bytes(qroot) : 0);
	r->bytes = total;
	if (total > c->max_bytes) {
		units_fmt_bytes(cap_s, sizeof(cap_s), c->max_bytes);
		units_fmt_bytes(use_s, sizeof(use_s), total);
		say(c, "max-disk: %s in use is still over --max-disk %s: what is left may not go (the newest "
		    "incident, one being written or sent, or a queue another process delivers)", use_s, cap_s);
	}
	return removed;
}

uint64_t diskcap_default(const char *dir)
{
	struct statvfs sv;
	uint64_t tenth;

	if (statvfs(dir, &sv))
		return 0;
	tenth = (uint64_t)sv.f_blocks * sv.f_frsize / 10;
	return tenth < DISKCAP_DEFAULT_MAX ? tenth : DISKCAP_DEFAULT_MAX;
}
