/* capdata.c: the saved capture data model: lifecycle, strings, validation of added records, counters, names, eviction.
 *
 * The rest of the module: capdata_index.c (interning), capdata_write.c (the
 * writer), capdata_read.c and capdata_read_field.c (the reader).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capdata/capdata.h"
#include "capdata/capdata_int.h"

/* ---------------------------------------------------------------------------
 * Strings: everything that enters the model is valid UTF-8 and capped, because
 * the capture file and report.json are JSON, which cannot hold anything else.
 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned int c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;       /* also stops at the terminator */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* True when s can be stored as is: valid UTF-8 of at most max bytes. */
bool capdata_str_clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n;

	while (*p) {
		if (*p < 0x80) {
			n = 1;
		} else {
			n = utf8_seq(p);
			if (!n)
				return false;
		}
		len += n;
		if (len > max)
			return false;
		p += n;
	}
	return true;
}

/* Copies s into a new string of at most max bytes, cut at a character
 * boundary, with every invalid byte replaced by '?'. NULL stays NULL. */
int capdata_str_dup_clean(const char *s, size_t max, char **out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n;
	char *d;

	*out = NULL;
	if (!s)
		return 0;
	if (capdata_str_clean(s, max)) {
		*out = strdup(s);
		return *out ? 0 : -ENOMEM;
	}
	d = malloc(max + 1);
	if (!d)
		return -ENOMEM;
	while (*p) {
		n = utf8_seq(p);
		if (len + (n ? n : 1) > max)
			break;
		if (n) {
			memcpy(d + len, p, n);
			len += n;
			p += n;
		} else {
			d[len++] = '?';
			p++;
		}
	}
	d[len] = '\0';
	*out = d;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Growable arrays with a hard cap.
 */
int capdata_grow(void **arr, size_t *alloc, size_t need, size_t elem, size_t cap)
{
	size_t n;
	void *p;

	if (need <= *alloc)
		return 0;
	if (need > cap)
		return -E2BIG;
	n = *alloc ? *alloc * 2 : 16;
	if (n < need)
		n = need;
	if (n > cap)
		n = cap;
	p = reallocarray(*arr, n, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*alloc = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Lifecycle and header setters.
 */
int capdata_init(struct capdata *cd)
{
	memset(cd, 0, sizeof(*cd));
	cd->index = capdata_index_new();
	return cd->index ? 0 : -ENOMEM;
}

static void counters_free(struct cap_counter *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

void capdata_free(struct capdata *cd)
{
	size_t i;

	if (!cd)
		return;
	free(cd->target.pids);
	free(cd->target.comm);
	free(cd->target.cmdline);
	free(cd->capture_path);
	for (i = 0; i < cd->nfeatures; i++) {
		free(cd->features[i].name);
		free(cd->features[i].reason);
	}
	free(cd->features);
	for (i = 0; i < cd->nknames; i++)
		free(cd->knames[i].name);
	free(cd->knames);
	for (i = 0; i < cd->nmappings; i++) {
		free(cd->mappings[i].file);
		free(cd->mappings[i].build_id);
	}
	free(cd->mappings);
	for (i = 0; i < cd->nframes; i++)
		free(cd->frames[i].name);
	free(cd->frames);
	for (i = 0; i < cd->nstacks; i++)
		free(cd->stacks[i].frames);
	free(cd->stacks);
	free(cd->threads);
	free(cd->blocks);
	free(cd->holds);
	free(cd->hold_totals);
	free(cd->samples);
	free(cd->mem);
	for (size_t i = 0; i < cd->nthrottles; i++)
		free(cd->throttles[i].cgroup);
	free(cd->throttles);
	counters_free(cd->drops, cd->ndrops);
	counters_free(cd->stats, cd->nstats);
	capdata_index_free(cd->index);
	memset(cd, 0, sizeof(*cd));
}

int capdata_set_target(struct capdata *cd, const int32_t *pids, size_t npids,
		       const char *comm, const char *cmdline)
{
	int32_t *p = NULL;
	char *c = NULL, *l = NULL;
	int err;

	if (npids > CAPDATA_MAX_PIDS)
		return -E2BIG;
	if (npids) {
		p = malloc(npids * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, pids, npids * sizeof(*p));
	}
	err = capdata_str_dup_clean(comm, CAPDATA_MAX_STRING, &c);
	if (!err)
		err = capdata_str_dup_clean(cmdline, CAPDATA_MAX_STRING, &l);
	if (err) {
		free(p);
		free(c);
		return err;
	}
	free(cd->target.pids);
	free(cd->target.comm);
	free(cd->target.cmdline);
	cd->target.pids = p;
	cd->target.npids = npids;
	cd->target.comm = c;
	cd->target.cmdline = l;
	return 0;
}

int capdata_set_capture_path(struct capdata *cd, const char *path)
{
	char *p;
	int err = capdata_str_dup_clean(path, CAPDATA_MAX_STRING, &p);

	if (err)
		return err;
	free(cd->capture_path);
	cd->capture_path = p;
	return 0;
}

int capdata_set_feature(struct capdata *cd, const char *name, bool on, const char *reason)
{
	struct cap_feature *f = NULL, *grown;
	char *n = NULL, *r = NULL;
	size_t i;
	int err;

	if (!name || !name[0])
		return -EINVAL;
	for (i = 0; i < cd->nfeatures; i++)
		if (strcmp(cd->features[i].name, name) == 0)
			f = &cd->features[i];
	if (!f && cd->nfeatures >= CAPDATA_MAX_FEATURES)
		return -E2BIG;
	err = capdata_str_dup_clean(name, CAPDATA_MAX_STRING, &n);
	if (!err && reason && !on)
		err = capdata_str_dup_clean(reason, CAPDATA_MAX_STRING, &r);
	if (err) {
		free(n);
		return err;
	}
	if (!f) {
		grown = realloc(cd->features, (cd->nfeatures + 1) * sizeof(*grown));
		if (!grown) {
			free(n);
			free(r);
			return -ENOMEM;
		}
		cd->features = grown;
		f = &cd->features[cd->nfeatures++];
		memset(f, 0, sizeof(*f));
	}
	free(f->name);
	free(f->reason);
	f->name = n;
	f->on = on;
	f->reason = r;
	return 0;
}

const char *capdata_kname(const struct capdata *cd, uint64_t addr)
{
	for (size_t i = 0; i < cd->nknames; i++)
		if (cd->knames[i].addr == addr)
			return cd->knames[i].name;
	return NULL;
}

int capdata_set_kname(struct capdata *cd, uint64_t addr, const char *name)
{
	struct cap_kname *grown;
	char *n;
	int err;

	if (!addr || !name || !name[0])
		return -EINVAL;
	if (capdata_kname(cd, addr))
		return 0;
	if (cd->nknames >= CAPDATA_MAX_KNAMES)
		return -E2BIG;
	err = capdata_str_dup_clean(name, CAPDATA_MAX_STRING, &n);
	if (err)
		return err;
	grown = realloc(cd->knames, (cd->nknames + 1) * sizeof(*grown));
	if (!grown) {
		free(n);
		return -ENOMEM;
	}
	cd->knames = grown;
	cd->knames[cd->nknames++] = (struct cap_kname){ .addr = addr, .name = n };
	return 0;
}

int capdata_copy_capture_info(struct capdata *dst, const struct capdata *src)
{
	int err = 0;

	if (src->capture_path)
		err = capdata_set_capture_path(dst, src->capture_path);
	for (size_t i = 0; !err && i < src->nfeatures; i++)
		err = capdata_set_feature(dst, src->features[i].name, src->features[i].on, src->features[i].reason);
	for (size_t i = 0; !err && i < src->nknames; i++)
		err = capdata_set_kname(dst, src->knames[i].addr, src->knames[i].name);
	return err;
}

uint64_t capdata_window_end(const struct capdata *cd)
{
	return cd->window.start_mono_ns + cd->window.duration_ns;
}

/* The names of the enums, indexed by value: the capture file, report.json and
 * the summaries spell them so. */
static const char *const state_names[CAP_STATE__COUNT] = {
	[CAP_STATE_SLEEPING] = "sleeping", [CAP_STATE_UNINTERRUPTIBLE] = "uninterruptible",
	[CAP_STATE_RUNNABLE] = "runnable",
};
static const char *const stack_status_names[CAP_STACK_NONE + 1] = {
	[CAP_STACK_COMPLETE] = "complete", [CAP_STACK_TRUNCATED] = "truncated",
	[CAP_STACK_UNREADABLE] = "unreadable", [CAP_STACK_NONE] = "none",
};
static const char *const wait_kind_names[CAP_WAIT__COUNT] = {
	[CAP_WAIT_NONE] = "none", [CAP_WAIT_MMAP_LOCK] = "mmap_lock",
	[CAP_WAIT_KERNEL_LOCK] = "kernel_lock", [CAP_WAIT_FUTEX] = "futex",
};
static const char *const hold_mode_names[CAP_HOLD_DOWNGRADED + 1] = {
	[CAP_HOLD_READ] = "read", [CAP_HOLD_WRITE] = "write", [CAP_HOLD_DOWNGRADED] = "downgraded",
};
#define NAME_OF(names, v) ((v) < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown")

const char *capdata_state_name(unsigned int state)
{
	return NAME_OF(state_names, state);
}

const char *capdata_stack_status_name(unsigned int status)
{
	return NAME_OF(stack_status_names, status);
}

const char *capdata_wait_kind_name(unsigned int kind)
{
	return NAME_OF(wait_kind_names, kind);
}

const char *capdata_hold_mode_name(unsigned int mode)
{
	return NAME_OF(hold_mode_names, mode);
}

bool capdata_stack_is_kernel(const struct capdata *cd, uint32_t stack)
{
	const struct cap_stack *s;

	if (stack >= cd->nstacks)
		return false;
	s = &cd->stacks[stack];
	return s->nframes && cd->frames[s->frames[0]].kernel;
}


/* A stack reference is ST_NO_STACK or an existing stack of the right side
 * (an empty stack counts as either). */
static bool stack_ref_ok(const struct capdata *cd, uint32_t id, bool kernel)
{
	if (id == ST_NO_STACK)
		return true;
	if (id >= cd->nstacks)
		return false;
	if (!cd->stacks[id].nframes)
		return true;
	return capdata_stack_is_kernel(cd, id) == kernel;
}

int capdata_add_block(struct capdata *cd, const struct cap_block *b)
{
	int err;

	if (b->thread >= cd->nthreads || b->state >= CAP_STATE__COUNT)
		return -EINVAL;
	if (b->ustack != ST_NO_STACK &&
	    (b->ustack >= cd->nstacks || capdata_stack_is_kernel(cd, b->ustack)))
		return -EINVAL;
	if (b->kstack != ST_NO_STACK &&
	    (b->kstack >= cd->nstacks ||
	     (cd->stacks[b->kstack].nframes && !capdata_stack_is_kernel(cd, b->kstack))))
		return -EINVAL;
	if (b->wait_kind >= CAP_WAIT__COUNT ||
	    (b->has_waker && (b->waker >= cd->nthreads || !stack_ref_ok(cd, b->waker_ustack, false) ||
			      !stack_ref_ok(cd, b->waker_kstack, true))) ||
	    (b->has_owner && b->owner >= cd->nthreads))
		return -EINVAL;
	err = GROW(cd, blocks, CAPDATA_MAX_BLOCKS);
	if (err)
		return err;
	cd->blocks[cd->nblocks++] = *b;
	return 0;
}

int capdata_add_hold(struct capdata *cd, const struct cap_hold *h)
{
	int err;

	if (h->thread >= cd->nthreads || h->mode > CAP_HOLD_DOWNGRADED ||
	    !stack_ref_ok(cd, h->ustack, false) || !stack_ref_ok(cd, h->kstack, true))
		return -EINVAL;
	err = GROW(cd, holds, CAPDATA_MAX_HOLDS);
	if (err)
		return err;
	cd->holds[cd->nholds++] = *h;
	return 0;
}

int capdata_add_hold_total(struct capdata *cd, const struct cap_hold_total *t)
{
	int err;

	if (t->thread >= cd->nthreads)
		return -EINVAL;
	err = GROW(cd, hold_totals, CAPDATA_MAX_THREADS);
	if (err)
		return err;
	cd->hold_totals[cd->nhold_totals++] = *t;
	return 0;
}

int capdata_add_sample(struct capdata *cd, const struct cap_sample *smp)
{
	int err;

	if (smp->thread >= cd->nthreads || !stack_ref_ok(cd, smp->ustack, false) ||
	    !stack_ref_ok(cd, smp->kstack, true))
		return -EINVAL;
	err = GROW(cd, samples, CAPDATA_MAX_SAMPLES);
	if (err)
		return err;
	cd->samples[cd->nsamples++] = *smp;
	return 0;
}

int capdata_add_mem(struct capdata *cd, const struct cap_mem *m)
{
	int err = GROW(cd, mem, CAPDATA_MAX_MEM);

	if (err)
		return err;
	cd->mem[cd->nmem++] = *m;
	return 0;
}

int capdata_add_throttle(struct capdata *cd, const struct cap_throttle *t)
{
	int err;
	char *path;

	if (!t->cgroup || !*t->cgroup || t->from_ns > t->ts_ns)
		return -EINVAL;
	if ((err = GROW(cd, throttles, CAPDATA_MAX_THROTTLES)))
		return err;
	if (!(path = strdup(t->cgroup)))
		return -ENOMEM;
	cd->throttles[cd->nthrottles] = *t;
	cd->throttles[cd->nthrottles++].cgroup = path;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Named counters. At most CAPDATA_MAX_COUNTERS each, so a linear search is fine.
 */
struct cap_counter *capdata_counter_find(struct cap_counter *c, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	}
	return NULL;
}

/* Names become JSON keys and text in summaries: keep them short identifiers. */
bool capdata_counter_name_ok(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > CAPDATA_MAX_NAME)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int counter_get(struct cap_counter **arr, size_t *n, size_t *alloc,
		       const char *name, struct cap_counter **out)
{
	struct cap_counter *c;
	int err;

	if (!capdata_counter_name_ok(name))
		return -EINVAL;
	c = capdata_counter_find(*arr, *n, name);
	if (!c) {
		err = capdata_grow((void **)arr, alloc, *n + 1, sizeof(**arr), CAPDATA_MAX_COUNTERS);
		if (err)
			return err;
		c = &(*arr)[*n];
		c->name = strdup(name);
		if (!c->name)
			return -ENOMEM;
		c->value = 0;
		(*n)++;
	}
	*out = c;
	return 0;
}

int capdata_add_drop(struct capdata *cd, const char *name, uint64_t count)
{
	struct cap_counter *c;
	int err = counter_get(&cd->drops, &cd->ndrops, &cd->adrops, name, &c);

	if (err)
		return err;
	/* Saturate: a wrapped drop counter would claim nothing was lost. */
	c->value = c->value + count < c->value ? UINT64_MAX : c->value + count;
	return 0;
}

int capdata_set_stat(struct capdata *cd, const char *name, uint64_t value)
{
	struct cap_counter *c;
	int err = counter_get(&cd->stats, &cd->nstats, &cd->astats, name, &c);

	if (err)
		return err;
	c->value = value;
	return 0;
}

uint64_t capdata_get_drop(const struct capdata *cd, const char *name)
{
	struct cap_counter *c = name ? capdata_counter_find(cd->drops, cd->ndrops, name) : NULL;

	return c ? c->value : 0;
}

uint64_t capdata_get_stat(const struct capdata *cd, const char *name)
{
	struct cap_counter *c = name ? capdata_counter_find(cd->stats, cd->nstats, name) : NULL;

	return c ? c->value : 0;
}

/* ---- eviction (the flight recorder's running generation) ---- */

/* Keeps the records of arr (n of them, each sz bytes) for which keep() holds, in order.
 * Records arrive in about the order they end, so the evictable ones are a
 * prefix: the array is compacted (one pass over all of it) only once that
 * prefix is an eighth of it, so that a watcher evicting every second does
 * not move its whole history every second. Until then, records older than
 * the cutoff stay a little longer; cuts never reach behind the cutoff. */
static size_t compact(void *arr, size_t *n, size_t sz, bool (*keep)(const void *rec, uint64_t cutoff),
		      uint64_t cutoff)
{
	char *base = arr;
	size_t w = 0, dropped, prefix = 0;

	while (prefix < *n && !keep(base + prefix * sz, cutoff))
		prefix++;
	if (prefix == 0 || prefix < *n / 8)
		return 0;
	for (size_t i = 0; i < *n; i++) {
		if (!keep(base + i * sz, cutoff))
			continue;
		if (w != i)
			memcpy(base + w * sz, base + i * sz, sz);
		w++;
	}
	dropped = *n - w;
	*n = w;
	return dropped;
}

static bool keep_block(const void *p, uint64_t cutoff)
{
	const struct cap_block *b = p;

	return (b->flags & CAP_BLOCK_IN_PROGRESS) || b->start_ns + b->dur_ns >= cutoff;
}

static bool keep_hold(const void *p, uint64_t cutoff)
{
	const struct cap_hold *h = p;

	return (h->flags & CAP_BLOCK_IN_PROGRESS) || h->start_ns + h->dur_ns >= cutoff;
}

static bool keep_sample(const void *p, uint64_t cutoff)
{
	return ((const struct cap_sample *)p)->ts_ns >= cutoff;
}

static bool keep_mem(const void *p, uint64_t cutoff)
{
	return ((const struct cap_mem *)p)->ts_ns >= cutoff;
}

static size_t evict_throttles(struct capdata *cd, uint64_t cutoff)
{
	size_t i, n = 0;

	for (i = 0; i < cd->nthrottles; i++) {
		if (cd->throttles[i].ts_ns >= cutoff)
			cd->throttles[n++] = cd->throttles[i];
		else
			free(cd->throttles[i].cgroup);
	}
	i = cd->nthrottles - n;
	cd->nthrottles = n;
	return i;
}

size_t capdata_evict(struct capdata *cd, uint64_t cutoff_ns)
{
	/* the arrays are plain (only interning has indexes): compacting in place is safe */
	return compact(cd->blocks, &cd->nblocks, sizeof(*cd->blocks), keep_block, cutoff_ns) +
	       compact(cd->holds, &cd->nholds, sizeof(*cd->holds), keep_hold, cutoff_ns) +
	       compact(cd->samples, &cd->nsamples, sizeof(*cd->samples), keep_sample, cutoff_ns) +
	       compact(cd->mem, &cd->nmem, sizeof(*cd->mem), keep_mem, cutoff_ns) + evict_throttles(cd, cutoff_ns);
}
