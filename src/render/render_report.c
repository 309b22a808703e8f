/* render_report.c: report.json, the machine-readable result of a capture (a jansson object callers can extend). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/render_int.h"

/* JSON integers are signed 64-bit: a saturated counter is written as INT64_MAX. */
static json_t *jcount(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Strings of frame names, one per capdata frame, made on first use and shared
 * by reference between stacks: 100k stacks share far fewer frames, and this
 * keeps report.json's tree from holding a copy of every name per stack. */
struct frame_names {
	json_t **names;
	size_t n;
};

static json_t *frame_name(struct frame_names *fn, const struct capdata *cd, uint32_t id)
{
	const struct cap_frame *fr = &cd->frames[id];

	if (!fn->names[id]) {
		if (fr->kernel) {
			size_t len = strlen(fr->name);
			char *s = malloc(len + sizeof("_[k]"));

			if (!s)
				return NULL;
			memcpy(s, fr->name, len);
			memcpy(s + len, "_[k]", sizeof("_[k]"));
			fn->names[id] = json_string(s);
			free(s);
		} else {
			fn->names[id] = json_string(fr->name);
		}
	}
	return fn->names[id];
}

static int add_frames(json_t *arr, struct frame_names *fn, const struct capdata *cd,
		      uint32_t stack)
{
	const struct cap_stack *s = &cd->stacks[stack];
	uint32_t i;

	for (i = 0; i < s->nframes; i++) {
		json_t *name = frame_name(fn, cd, s->frames[i]);

		if (!name || json_array_append(arr, name) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* A call site's frames, root first: user frames, then kernel frames. */
static json_t *frames_json(const struct capdata *cd, uint32_t ustack, uint32_t kstack,
			   struct frame_names *fn)
{
	json_t *frames = json_array();

	if (frames && ((render_shows_ustack(cd, ustack) && add_frames(frames, fn, cd, ustack)) ||
		       (kstack < cd->nstacks && add_frames(frames, fn, cd, kstack)))) {
		json_decref(frames);
		return NULL;
	}
	return frames;
}

static json_t *stack_json(const struct capdata *cd, const struct agg_entry *en,
			  struct frame_names *fn)
{
	json_t *frames = frames_json(cd, en->ustack, en->kstack, fn), *o;

	if (!frames)
		return NULL;
	o = json_pack("{s:o, s:s, s:f, s:o, s:f, s:I, s:{s:f, s:f, s:f}, s:b, s:s}",
		      "frames", frames, "comm", en->comm,
		      "offcpu_ms", render_ms(en->offcpu_ns), "count", jcount(en->count),
		      "max_ms", render_ms(en->max_ns), "threads", (json_int_t)en->threads,
		      "states",
		      "sleeping", render_ms(en->state_ns[CAP_STATE_SLEEPING]),
		      "uninterruptible", render_ms(en->state_ns[CAP_STATE_UNINTERRUPTIBLE]),
		      "runnable", render_ms(en->state_ns[CAP_STATE_RUNNABLE]),
		      "in_progress", en->in_progress,
		      "user_stack", render_ustack_status(cd, en->ustack));
	/* Only where some of it lies outside the window: what of it is inside,
	 * and how long before the window its earliest block began. */
	if (o && (en->began_before || en->window_ns != en->offcpu_ns) &&
	    (json_object_set_new(o, "window_ms", json_real(render_ms(en->window_ns))) ||
	     json_object_set_new(o, "began_before_ms", json_real(render_ms(en->began_before_ns))))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void frame_names_release(struct frame_names *fn)
{
	size_t i;

	if (!fn->names)
		return;
	for (i = 0; i < fn->n; i++)
		json_decref(fn->names[i]);
	free(fn->names);
	fn->names = NULL;
}

static int frame_names_init(struct frame_names *fn, const struct capdata *cd)
{
	fn->n = cd->nframes;
	fn->names = calloc(cd->nframes ? cd->nframes : 1, sizeof(*fn->names));
	return fn->names ? 0 : -ENOMEM;
}

/* One on-CPU site: {frames, comm, oncpu_ms, samples, threads}. */
static json_t *oncpu_json(const struct capdata *cd, const struct render_site *st, struct frame_names *fn)
{
	json_t *frames = frames_json(cd, st->ustack, st->kstack, fn);

	if (!frames)
		return NULL;
	return json_pack("{s:o, s:s, s:f, s:o, s:I}", "frames", frames, "comm", st->comm,
			 "oncpu_ms", render_ms(st->ns), "samples", jcount(st->count),
			 "threads", (json_int_t)st->threads);
}

/* oncpu_stacks, for the tree and the stream alike: put(item) for each. */
static int each_oncpu(const struct capdata *cd, int (*put)(void *arg, json_t *item, size_t i), void *arg)
{
	struct render_sites ss;
	struct frame_names fn = { 0 };
	size_t i;
	int err = render_sites_oncpu(&ss, cd);

	if (err)
		return err;
	err = frame_names_init(&fn, cd);
	for (i = 0; !err && i < ss.n; i++)
		err = put(arg, oncpu_json(cd, &ss.v[i], &fn), i);
	frame_names_release(&fn);
	render_sites_release(&ss);
	return err;
}

static int append_item(void *arg, json_t *item, size_t i)
{
	(void)i;
	return item && json_array_append_new(arg, item) == 0 ? 0 : -ENOMEM;
}

static json_t *oncpu_stacks_json(const struct capdata *cd)
{
	json_t *arr = json_array();

	if (arr && each_oncpu(cd, append_item, arr)) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static json_t *thread_json(const struct capdata *cd, const struct agg_thread *at)
{
	const struct cap_thread *t = &cd->threads[at->thread];

	return json_pack("{s:i, s:i, s:s, s:f, s:o, s:f}", "tid", t->tid, "pid", t->pid,
			 "comm", t->comm, "offcpu_ms", render_ms(at->offcpu_ns),
			 "count", jcount(at->count), "below_min_block_ms",
			 render_ms(at->below_min_ns));
}

static json_t *stacks_json(const struct capdata *cd, const struct aggregate *agg)
{
	struct frame_names fn = { 0 };
	json_t *arr = json_array();
	size_t i;

	if (!arr || frame_names_init(&fn, cd))
		goto fail;
	for (i = 0; i < agg->nentries; i++) {
		if (json_array_append_new(arr, stack_json(cd, &agg->entries[i], &fn)) != 0)
			goto fail;
	}
	goto cleanup;
fail:
	json_decref(arr);
	arr = NULL;
cleanup:
	frame_names_release(&fn);
	return arr;
}

static json_t *threads_json(const struct capdata *cd, const struct aggregate *agg)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < agg->nthreads; i++) {
		if (json_array_append_new(arr, thread_json(cd, &agg->threads[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *counters_json(const struct cap_counter *c, size_t n, json_t *o)
{
	size_t i;

	for (i = 0; o && i < n; i++) {
		if (json_object_set_new(o, c[i].name, jcount(c[i].value)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *target_json(const struct capdata *cd)
{
	json_t *pids = json_array();
	size_t i;

	for (i = 0; pids && i < cd->target.npids; i++) {
		if (json_array_append_new(pids, json_integer(cd->target.pids[i])) != 0) {
			json_decref(pids);
			return NULL;
		}
	}
	if (!pids)
		return NULL;
	return json_pack("{s:o, s:o, s:o}", "pids", pids, "comm", jstr_or_null(cd->target.comm),
			 "cmdline", jstr_or_null(cd->target.cmdline));
}

/* {"path": capture path, "features": {name: {"on", "reason"}}, every stat by name}. */
static json_t *capture_json(const struct capdata *cd)
{
	json_t *capture = json_pack("{s:o, s:o}", "path", jstr_or_null(cd->capture_path),
				    "features", capdata_features_json(cd));
	size_t i;

	for (i = 0; capture && i < cd->nstats; i++) {
		/* "path" and "features" are not stats; a stat cannot take their place. */
		if (strcmp(cd->stats[i].name, "path") == 0 || strcmp(cd->stats[i].name, "features") == 0)
			continue;
		if (json_object_set_new(capture, cd->stats[i].name, jcount(cd->stats[i].value))) {
			json_decref(capture);
			return NULL;
		}
	}
	return capture;
}

/* Sets key in o, consuming v; a NULL v (failed build) makes the whole call fail. */
static int set(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(o, key, v) ? -ENOMEM : 0;
}

/* Everything but threads and stacks: the head of the report, with extra's keys. */
static int report_head(const struct capdata *cd, const struct aggregate *agg,
		       const json_t *extra, json_t **out)
{
	json_t *o = json_object();
	double pct = aggregate_ustack_complete_pct(agg);
	const char *key;
	json_t *v;
	int err = 0;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	if ((err = set(o, "version", json_integer(RENDER_REPORT_VERSION))) ||
	    (err = set(o, "target", target_json(cd))) ||
	    (err = set(o, "window", render_window_json(cd))) ||
	    (err = set(o, "min_block_ms", json_real(render_ms(cd->window.min_block_ns)))) ||
	    (err = set(o, "offcpu_total_ms", json_real(render_ms(agg->offcpu_ns)))) ||
	    (err = set(o, "offcpu_window_ms", json_real(render_ms(agg->window_ns)))) ||
	    (err = set(o, "below_min_block_ms", json_real(render_ms(agg->below_min_ns)))) ||
	    /* null, not a number, when no block had a user stack: 0% or 100% would both lie. */
	    (err = set(o, "user_stack_complete_pct",
		       pct < 0 ? json_null() : json_real(round(pct * 100) / 100))) ||
	    (err = set(o, "drops", counters_json(cd->drops, cd->ndrops, json_object()))) ||
	    (err = set(o, "capture", capture_json(cd))))
		goto cleanup;
	if (json_is_object(extra)) {
		json_object_foreach((json_t *)extra, key, v) {
			if (!strcmp(key, "threads") || !strcmp(key, "stacks") || !strcmp(key, "oncpu_stacks"))
				continue; /* ours, and written last */
			if ((err = set(o, key, json_incref(v))))
				goto cleanup;
		}
	}
	*out = o;
	return 0;

cleanup:
	json_decref(o);
	return err;
}

int render_report(const struct capdata *cd, const struct aggregate *agg, const json_t *extra,
		  json_t **out)
{
	json_t *o;
	int err = report_head(cd, agg, extra, &o);

	*out = NULL;
	if (err)
		return err;
	if ((err = set(o, "threads", threads_json(cd, agg))) ||
	    (err = set(o, "stacks", stacks_json(cd, agg))) ||
	    (err = set(o, "oncpu_stacks", oncpu_stacks_json(cd)))) {
		json_decref(o);
		return err;
	}
	*out = o;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Streaming writer. The tree of 100k stacks costs ~2 KiB each in jansson
 * objects (200+ MiB); written one at a time it costs one stack. The output is
 * byte for byte what json_dumpf(JSON_INDENT(2)) makes of the whole tree
 * (test_render checks it): items are dumped alone and indented by 4, which is
 * safe line by line because JSON strings cannot hold a raw newline.
 */
#define REPORT_DUMP_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

static int put_indented(FILE *f, json_t *item)
{
	char *s, *p;

	if (!item)
		return -ENOMEM;
	s = json_dumps(item, REPORT_DUMP_FLAGS);
	json_decref(item);
	if (!s)
		return -ENOMEM;
	for (p = s; p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		fputs("    ", f);
		fwrite(p, 1, n, f);
		p = nl ? nl + 1 : NULL;
	}
	free(s);
	return ferror(f) ? -EIO : 0;
}

struct stream_items {
	FILE *f;
	size_t n;
};

static int put_stream_item(void *arg, json_t *item, size_t i)
{
	struct stream_items *si = arg;

	fputs(i ? ",\n" : "\n", si->f);
	si->n++;
	return put_indented(si->f, item);
}

static int put_oncpu_stacks(FILE *f, const struct capdata *cd)
{
	struct stream_items si = { .f = f };
	int err;

	fputs(",\n  \"oncpu_stacks\": [", f);
	err = each_oncpu(cd, put_stream_item, &si);
	if (!err)
		fputs(si.n ? "\n  ]" : "]", f);
	return err;
}

struct stream_arg {
	const struct capdata *cd;
	const struct aggregate *agg;
	const json_t *extra;
};

static int fill_stream(FILE *f, void *arg)
{
	struct stream_arg *a = arg;
	struct frame_names fn = { 0 };
	json_t *head;
	char *s = NULL;
	size_t i, len;
	int err;

	err = report_head(a->cd, a->agg, a->extra, &head);
	if (err)
		return err;
	s = json_dumps(head, REPORT_DUMP_FLAGS);
	json_decref(head);
	if (!s)
		return -ENOMEM;
	/* The head always has keys, so it ends with "\n}": reopen it. */
	len = strlen(s);
	if (len < 2 || strcmp(s + len - 2, "\n}") != 0) {
		err = -EINVAL;
		goto cleanup;
	}
	fwrite(s, 1, len - 2, f);

	fputs(",\n  \"threads\": ", f);
	fputs(a->agg->nthreads ? "[" : "[]", f);
	for (i = 0; i < a->agg->nthreads; i++) {
		fputs(i ? ",\n" : "\n", f);
		if ((err = put_indented(f, thread_json(a->cd, &a->agg->threads[i]))))
			goto cleanup;
	}
	if (a->agg->nthreads)
		fputs("\n  ]", f);

	if ((err = frame_names_init(&fn, a->cd)))
		goto cleanup;
	fputs(",\n  \"stacks\": ", f);
	fputs(a->agg->nentries ? "[" : "[]", f);
	for (i = 0; i < a->agg->nentries; i++) {
		fputs(i ? ",\n" : "\n", f);
		if ((err = put_indented(f, stack_json(a->cd, &a->agg->entries[i], &fn))))
			goto cleanup;
	}
	if (a->agg->nentries)
		fputs("\n  ]", f);
	if ((err = put_oncpu_stacks(f, a->cd)))
		goto cleanup;
	fputs("\n}\n", f);
	err = ferror(f) ? -EIO : 0;
cleanup:
	frame_names_release(&fn);
	free(s);
	return err;
}

int render_report_file(const char *path, const struct capdata *cd, const struct aggregate *agg,
		       const json_t *extra)
{
	struct stream_arg a = { .cd = cd, .agg = agg, .extra = extra };

	return render_write_file(path, fill_stream, &a);
}
