/* capdata_read.c: the capture file reader: splits capture.jsonl.gz into lines and validates every record (what fuzz_capdata drives). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "capdata/capdata.h"
#include "capdata/capdata_int.h"
#include "capdata/capdata_read_int.h"

#define LINE_MAX_BYTES (1u << 20)

/* The result err of adding the record r->rec names: 0, or err with its message. */
static int added(struct reader *r, int err)
{
	if (err)
		return reader_fail(r, err, "%s: %s (%s)", r->rec, reader_errno_what(err), strerror(-err));
	return 0;
}

/* header.capture_features (optional): {"name": {"on": bool[, "reason": string]}} */
static int read_features(struct reader *r, struct capdata *cd, json_t *feats)
{
	const char *name;
	json_t *f, *on, *reason;
	int err;

	if (!feats || json_is_null(feats))
		return 0;
	if (!json_is_object(feats))
		return reader_fail(r, -EINVAL, "header: \"capture_features\" must be an object");
	json_object_foreach(feats, name, f) {
		on = json_object_get(f, "on");
		reason = json_object_get(f, "reason");
		if (!json_is_object(f) || !json_is_boolean(on) || (reason && !json_is_string(reason)))
			return reader_fail(r, -EINVAL, "header: capture_features \"%.40s\" must be {\"on\": bool, \"reason\": string}", name);
		err = capdata_set_feature(cd, name, json_is_true(on), reason ? json_string_value(reason) : NULL);
		if (err)
			return reader_fail(r, err, "header: capture_features \"%.40s\": %s", name, strerror(-err));
	}
	return 0;
}

/* header.kernel_lock_names (optional): {"0xADDR": "name"} */
static int read_knames(struct reader *r, struct capdata *cd, json_t *kn)
{
	const char *key;
	json_t *v;
	char *end;
	uint64_t addr;
	int err;

	if (!kn || json_is_null(kn))
		return 0;
	if (!json_is_object(kn))
		return reader_fail(r, -EINVAL, "header: \"kernel_lock_names\" must be an object");
	json_object_foreach(kn, key, v) {
		errno = 0;
		addr = strncmp(key, "0x", 2) == 0 ? strtoull(key + 2, &end, 16) : 0;
		if (!addr || errno || *end || !json_is_string(v))
			return reader_fail(r, -EINVAL, "header: kernel_lock_names \"%.40s\" must map a hex address to a name", key);
		err = capdata_set_kname(cd, addr, json_string_value(v));
		if (err)
			return reader_fail(r, err, "header: kernel_lock_names \"%.40s\": %s", key, strerror(-err));
	}
	return 0;
}

static int read_header(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	json_t *target, *window, *pids, *v;
	const char *format, *comm, *cmdline, *cpath;
	int32_t *p = NULL;
	json_int_t version, rn;
	size_t i, n;
	int err;

	if (r->have_header)
		return reader_fail(r, -EINVAL, "a second header");
	format = json_string_value(json_object_get(o, "format"));
	if (!format || strcmp(format, CAPDATA_FORMAT) != 0)
		return reader_fail(r, -EINVAL, "not a stalltrap capture (header \"format\" is not \"%s\")",
				   CAPDATA_FORMAT);
	v = json_object_get(o, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return reader_fail(r, -EINVAL, "header: \"version\" must be a positive integer");
	version = json_integer_value(v);
	if (version > CAPDATA_VERSION)
		return reader_fail(r, -ENOTSUP,
				   "capture format version %lld is newer than this stalltrap reads (%d): upgrade stalltrap",
				   (long long)version, CAPDATA_VERSION);

	target = json_object_get(o, "target");
	window = json_object_get(o, "window");
	if (!json_is_object(target))
		return reader_fail(r, -EINVAL, "header: \"target\" must be an object");
	if (!json_is_object(window))
		return reader_fail(r, -EINVAL, "header: \"window\" must be an object");
	r->rec = "header target";
	pids = json_object_get(target, "pids");
	if (!json_is_array(pids))
		return reader_fail(r, -EINVAL, "header target: \"pids\" must be an array");
	n = json_array_size(pids);
	if (n > CAPDATA_MAX_PIDS)
		return reader_fail(r, -E2BIG, "header target: more than %u pids", CAPDATA_MAX_PIDS);
	if ((err = reader_str(r, target, "comm", true, &comm)) ||
	    (err = reader_str(r, target, "cmdline", true, &cmdline)))
		return err;
	r->rec = "header window";
	if ((err = reader_u64(r, window, "start_mono_ns", &cd->window.start_mono_ns)) ||
	    (err = reader_int(r, window, "start_real_ns", INT64_MIN, INT64_MAX, &rn)) ||
	    (err = reader_u64(r, window, "duration_ns", &cd->window.duration_ns)) ||
	    (err = reader_u64(r, window, "min_block_ns", &cd->window.min_block_ns)) ||
	    (err = reader_opt_u64(r, window, "trigger_mono_ns", &cd->window.trigger_mono_ns)) ||
	    (err = reader_opt_u64(r, window, "sample_period_ns", &cd->window.sample_period_ns)) ||
	    (err = reader_opt_u64(r, window, "hold_threshold_ns", &cd->window.hold_threshold_ns)))
		return err;
	cd->window.start_real_ns = rn;
	r->rec = "header";
	if ((err = reader_str(r, o, "capture_path", true, &cpath)))
		return err;

	if (n) {
		p = malloc(n * sizeof(*p));
		if (!p)
			return reader_fail(r, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(pids, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT32_MAX) {
			free(p);
			return reader_fail(r, -EINVAL, "header target: \"pids\" must hold pids (integers >= 0)");
		}
		p[i] = (int32_t)json_integer_value(v);
	}
	err = capdata_set_target(cd, p, n, comm, cmdline);
	free(p);
	if (!err && cpath)
		err = capdata_set_capture_path(cd, cpath);
	if (!err && (err = read_features(r, cd, json_object_get(o, "capture_features"))))
		return err;
	if (!err && (err = read_knames(r, cd, json_object_get(o, "kernel_lock_names"))))
		return err;
	if (err)
		return reader_fail(r, err, "header: %s", strerror(-err));
	r->have_header = true;
	return 0;
}

static int read_mapping(struct reader *r, json_t *o)
{
	uint64_t start, limit, offset;
	const char *file, *build_id;
	size_t expect;
	int err;

	if ((err = reader_hex(r, o, "start", &start)) || (err = reader_hex(r, o, "limit", &limit)) ||
	    (err = reader_hex(r, o, "offset", &offset)) ||
	    (err = reader_str(r, o, "file", true, &file)) ||
	    (err = reader_str(r, o, "build_id", true, &build_id)))
		return err;
	expect = r->cd->nmappings;
	return reader_new_id(r, capdata_mapping(r->cd, start, limit, offset, file, build_id),
			     expect);
}

static int read_frame(struct reader *r, json_t *o)
{
	const char *name;
	uint64_t addr;
	uint32_t mapping;
	bool kernel;
	size_t expect;
	int err;

	if ((err = reader_str(r, o, "name", false, &name)) || (err = reader_hex(r, o, "addr", &addr)) ||
	    (err = reader_ref(r, o, "mapping", true, r->cd->nmappings, "mapping", &mapping)))
		return err;
	if (!json_is_boolean(json_object_get(o, "kernel")))
		return reader_fail(r, -EINVAL, "frame: \"kernel\" must be true or false");
	kernel = json_is_true(json_object_get(o, "kernel"));
	expect = r->cd->nframes;
	return reader_new_id(r, capdata_frame(r->cd, name, addr, mapping, kernel), expect);
}

static int read_stack(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	json_t *fr = json_object_get(o, "frames");
	uint32_t *ids = NULL;
	unsigned int status;
	size_t i, n, expect;
	int err;

	if (!json_is_array(fr))
		return reader_fail(r, -EINVAL, "stack: \"frames\" must be an array of frame ids");
	n = json_array_size(fr);
	if (n > CAPDATA_MAX_STACK_DEPTH)
		return reader_fail(r, -E2BIG, "stack: %zu frames, more than the %u allowed", n,
				   CAPDATA_MAX_STACK_DEPTH);
	if ((err = reader_enum(r, o, "status", capdata_stack_status_name, CAP_STACK_NONE + 1,
			       &status)))
		return err;
	if (n) {
		ids = malloc(n * sizeof(*ids));
		if (!ids)
			return reader_fail(r, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(fr, i);
		json_int_t id;

		if (!json_is_integer(v)) {
			err = reader_fail(r, -EINVAL, "stack: \"frames\" must be an array of frame ids");
			goto cleanup;
		}
		id = json_integer_value(v);
		if (id < 0 || (uint64_t)id >= cd->nframes) {
			err = reader_fail(r, -EINVAL, "stack refers to frame %lld but only %zu frame%s %s defined",
					  (long long)id, cd->nframes, cd->nframes == 1 ? "" : "s",
					  cd->nframes == 1 ? "was" : "were");
			goto cleanup;
		}
		ids[i] = (uint32_t)id;
		if (cd->frames[ids[i]].kernel != cd->frames[ids[0]].kernel) {
			err = reader_fail(r, -EINVAL, "stack mixes kernel and user frames (frames %u and %u)",
					  ids[0], ids[i]);
			goto cleanup;
		}
	}
	expect = cd->nstacks;
	err = reader_new_id(r, capdata_stack(cd, ids, (uint32_t)n, status), expect);
cleanup:
	free(ids);
	return err;
}

static int read_thread(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	const char *comm;
	int32_t pid, tid;
	uint64_t below_ns, below_count, io_bytes = 0, io_count = 0;
	bool outside = false;
	size_t expect;
	int64_t id;
	int err;

	if ((err = reader_i32(r, o, "pid", &pid)) || (err = reader_i32(r, o, "tid", &tid)) ||
	    (err = reader_str(r, o, "comm", false, &comm)) ||
	    (err = reader_u64(r, o, "below_min_ns", &below_ns)) ||
	    (err = reader_u64(r, o, "below_min_count", &below_count)) ||
	    (err = reader_opt_u64(r, o, "io_bytes", &io_bytes)) ||
	    (err = reader_opt_u64(r, o, "io_count", &io_count)) ||
	    (err = reader_bool(r, o, "outside", false, &outside)))
		return err;
	if (strlen(comm) >= sizeof(cd->threads[0].comm))
		return reader_fail(r, -EINVAL, "thread: \"comm\" is longer than %zu bytes",
				   sizeof(cd->threads[0].comm) - 1);
	expect = cd->nthreads;
	id = capdata_thread(cd, pid, tid, comm);
	if ((err = reader_new_id(r, id, expect)))
		return err;
	cd->threads[id].below_min_ns = below_ns;
	cd->threads[id].below_min_count = below_count;
	cd->threads[id].io_bytes = io_bytes;
	cd->threads[id].io_count = io_count;
	cd->threads[id].outside = outside;
	return 0;
}

/* A user stack reference must not name a kernel stack, nor the reverse (an
 * empty stack is either). */
static int check_stack_sides(struct reader *r, const char *ukey, uint32_t ustack,
			     const char *kkey, uint32_t kstack)
{
	struct capdata *cd = r->cd;

	if (ustack != ST_NO_STACK && capdata_stack_is_kernel(cd, ustack))
		return reader_fail(r, -EINVAL, "%s: \"%s\" %u is a kernel stack", r->rec, ukey, ustack);
	if (kstack != ST_NO_STACK && cd->stacks[kstack].nframes &&
	    !capdata_stack_is_kernel(cd, kstack))
		return reader_fail(r, -EINVAL, "%s: \"%s\" %u is a user stack", r->rec, kkey, kstack);
	return 0;
}

/* The optional cause evidence of a block (absent: unknown, i.e. zero). */
static int read_block_cause(struct reader *r, json_t *o, struct cap_block *b)
{
	struct capdata *cd = r->cd;
	json_int_t flags = 0;
	unsigned int kind = CAP_WAIT_NONE;
	int err;

	if ((err = reader_opt_syscall(r, o, &b->in_syscall, &b->syscall)) ||
	    (err = reader_opt_hex(r, o, "wait_obj", &b->wait_obj)))
		return err;
	if (json_object_get(o, "wait") &&
	    (err = reader_enum(r, o, "wait", capdata_wait_kind_name, CAP_WAIT__COUNT, &kind)))
		return err;
	b->wait_kind = (uint8_t)kind;
	if (json_object_get(o, "lock_flags")) {
		if ((err = reader_int(r, o, "lock_flags", 0, 255, &flags)))
			return err;
		b->lock_flags = (uint8_t)flags;
	}
	if (json_object_get(o, "owner")) {
		b->has_owner = true;
		if ((err = reader_ref(r, o, "owner", false, cd->nthreads, "thread", &b->owner)))
			return err;
	}
	if (json_object_get(o, "woken_ns") && (err = reader_u64(r, o, "woken_ns", &b->woken_ns)))
		return err;
	if (json_object_get(o, "cpu_taker")) {
		json_int_t n = 0;

		b->has_taker = true;
		if ((err = reader_ref(r, o, "cpu_taker", false, cd->nthreads, "thread", &b->taker)) ||
		    (json_object_get(o, "cpu_taker_samples") &&
		     (err = reader_int(r, o, "cpu_taker_samples", 0, UINT16_MAX, &n))))
			return err;
		b->taker_samples = (uint16_t)n;
	}
	if (!json_object_get(o, "waker"))
		return 0;
	b->has_waker = true;
	if ((err = reader_ref(r, o, "waker", false, cd->nthreads, "thread", &b->waker)) ||
	    (err = reader_ref(r, o, "waker_ustack", true, cd->nstacks, "stack", &b->waker_ustack)) ||
	    (err = reader_ref(r, o, "waker_kstack", true, cd->nstacks, "stack", &b->waker_kstack)))
		return err;
	if (json_object_get(o, "waker_ns")) {
		json_int_t ns;

		if ((err = reader_int(r, o, "waker_ns", 0, INT64_MAX, &ns)))
			return err;
		b->waker_ns = (uint64_t)ns;
	}
	return check_stack_sides(r, "waker_ustack", b->waker_ustack, "waker_kstack", b->waker_kstack);
}

static int read_block(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_block b = { 0 };
	unsigned int state;
	bool in_progress = false, began_before = false, woken_irq = false;
	int err;

	if ((err = reader_ref(r, o, "thread", false, cd->nthreads, "thread", &b.thread)) ||
	    (err = reader_ref(r, o, "ustack", true, cd->nstacks, "stack", &b.ustack)) ||
	    (err = reader_ref(r, o, "kstack", true, cd->nstacks, "stack", &b.kstack)) ||
	    (err = reader_enum(r, o, "state", capdata_state_name, CAP_STATE__COUNT, &state)) ||
	    (err = reader_u64(r, o, "start_ns", &b.start_ns)) ||
	    (err = reader_u64(r, o, "dur_ns", &b.dur_ns)) ||
	    (err = reader_bool(r, o, "in_progress", false, &in_progress)) ||
	    (err = reader_bool(r, o, "began_before", false, &began_before)) ||
	    (err = reader_bool(r, o, "woken_by_irq", false, &woken_irq)) ||
	    (err = read_block_cause(r, o, &b)))
		return err;
	if ((err = check_stack_sides(r, "ustack", b.ustack, "kstack", b.kstack)))
		return err;
	if (b.woken_ns && (b.woken_ns < b.start_ns || b.woken_ns - b.start_ns > b.dur_ns))
		return reader_fail(r, -EINVAL, "%s: \"woken_ns\" %" PRIu64 " is outside the block", r->rec,
				   b.woken_ns);
	/* written once when the waker's (and files from before woken_ns) */
	if (!b.woken_ns && b.waker_ns && b.waker_ns >= b.start_ns && b.waker_ns - b.start_ns <= b.dur_ns)
		b.woken_ns = b.waker_ns;
	b.state = (uint8_t)state;
	b.flags = (in_progress ? CAP_BLOCK_IN_PROGRESS : 0) | (began_before ? CAP_BLOCK_BEGAN_BEFORE : 0) |
		  (woken_irq ? CAP_BLOCK_WOKEN_IRQ : 0);
	return added(r, capdata_add_block(cd, &b));
}

static int read_hold(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_hold h = { 0 };
	unsigned int mode;
	bool in_progress = false;
	json_t *args;
	size_t i;
	int err;

	if ((err = reader_ref(r, o, "thread", false, cd->nthreads, "thread", &h.thread)) ||
	    (err = reader_i32(r, o, "mm_pid", &h.mm_pid)) ||
	    (err = reader_enum(r, o, "mode", capdata_hold_mode_name, CAP_HOLD_DOWNGRADED + 1, &mode)) ||
	    (err = reader_u64(r, o, "start_ns", &h.start_ns)) ||
	    (err = reader_u64(r, o, "dur_ns", &h.dur_ns)) ||
	    (err = reader_ref(r, o, "ustack", true, cd->nstacks, "stack", &h.ustack)) ||
	    (err = reader_ref(r, o, "kstack", true, cd->nstacks, "stack", &h.kstack)) ||
	    (err = reader_bool(r, o, "in_progress", false, &in_progress)) ||
	    (err = reader_opt_syscall(r, o, &h.in_syscall, &h.syscall)) ||
	    (err = check_stack_sides(r, "ustack", h.ustack, "kstack", h.kstack)))
		return err;
	h.mode = (uint8_t)mode;
	h.flags = in_progress ? CAP_BLOCK_IN_PROGRESS : 0;
	args = json_object_get(o, "args");
	if (args) {
		if (!json_is_array(args) || json_array_size(args) > 4)
			return reader_fail(r, -EINVAL, "hold: \"args\" must be an array of at most 4 hex strings");
		for (i = 0; i < json_array_size(args); i++) {
			if (!reader_hex_value(json_array_get(args, i), &h.args[i]))
				return reader_fail(r, -EINVAL, "hold: \"args\" must be an array of at most 4 hex strings");
		}
	}
	return added(r, capdata_add_hold(cd, &h));
}

static int read_hold_total(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_hold_total t = { 0 };
	int err;

	if ((err = reader_ref(r, o, "thread", false, cd->nthreads, "thread", &t.thread)) ||
	    (err = reader_i32(r, o, "mm_pid", &t.mm_pid)) ||
	    (err = reader_u64(r, o, "hold_ns", &t.hold_ns)) ||
	    (err = reader_u64(r, o, "holds", &t.holds)) ||
	    (err = reader_u64(r, o, "read_ns", &t.read_ns)) ||
	    (err = reader_u64(r, o, "write_ns", &t.write_ns)))
		return err;
	return added(r, capdata_add_hold_total(cd, &t));
}

static int read_sample(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	struct cap_sample smp = { 0 };
	int err;

	if ((err = reader_ref(r, o, "thread", false, cd->nthreads, "thread", &smp.thread)) ||
	    (err = reader_u64(r, o, "ts_ns", &smp.ts_ns)) ||
	    (err = reader_opt_u64(r, o, "nvcsw", &smp.nvcsw)) ||
	    (err = reader_ref(r, o, "ustack", true, cd->nstacks, "stack", &smp.ustack)) ||
	    (err = reader_ref(r, o, "kstack", true, cd->nstacks, "stack", &smp.kstack)) ||
	    (err = check_stack_sides(r, "ustack", smp.ustack, "kstack", smp.kstack)))
		return err;
	return added(r, capdata_add_sample(cd, &smp));
}

static int read_mem(struct reader *r, json_t *o)
{
	struct cap_mem m = { 0 };
	int err;

	if ((err = reader_i32(r, o, "pid", &m.pid)) || (err = reader_u64(r, o, "ts_ns", &m.ts_ns)) ||
	    (err = reader_u64(r, o, "rss_bytes", &m.rss_bytes)) ||
	    (err = reader_u64(r, o, "vsz_bytes", &m.vsz_bytes)))
		return err;
	return added(r, capdata_add_mem(r->cd, &m));
}

static int read_throttle(struct reader *r, json_t *o)
{
	struct cap_throttle t = { 0 };
	json_int_t quota, periods;
	const char *cg;
	int err;

	if ((err = reader_str(r, o, "cgroup", false, &cg)) ||
	    (err = reader_u64(r, o, "from_ns", &t.from_ns)) || (err = reader_u64(r, o, "ts_ns", &t.ts_ns)) ||
	    (err = reader_u64(r, o, "throttled_ns", &t.throttled_ns)) ||
	    (err = reader_int(r, o, "periods", 0, UINT32_MAX, &periods)) ||
	    (err = reader_int(r, o, "quota_us", -1, INT64_MAX, &quota)) ||
	    (err = reader_u64(r, o, "period_us", &t.period_us)))
		return err;
	if (!*cg)
		return reader_fail(r, -EINVAL, "throttle: empty cgroup");
	if (t.from_ns > t.ts_ns)
		return reader_fail(r, -EINVAL, "throttle: from_ns after ts_ns");
	t.cgroup = (char *)cg;   /* copied by capdata_add_throttle */
	t.periods = (uint32_t)periods;
	t.quota_us = (int64_t)quota;
	return added(r, capdata_add_throttle(r->cd, &t));
}

static int read_counter(struct reader *r, json_t *o, bool drop)
{
	struct capdata *cd = r->cd;
	const char *name;
	uint64_t value;
	int err;

	if ((err = reader_str(r, o, "name", false, &name)) || (err = reader_u64(r, o, "value", &value)))
		return err;
	if (!capdata_counter_name_ok(name))
		return reader_fail(r, -EINVAL, "%s: \"name\" must be 1..%u letters, digits, '_', '.' or '-'",
				   r->rec, CAPDATA_MAX_NAME);
	if (drop ? !!capdata_counter_find(cd->drops, cd->ndrops, name)
		 : !!capdata_counter_find(cd->stats, cd->nstats, name))
		return reader_fail(r, -EINVAL, "%s \"%s\" appears twice", r->rec, name);
	return added(r, drop ? capdata_add_drop(cd, name, value) : capdata_set_stat(cd, name, value));
}

static int read_drop(struct reader *r, json_t *o)
{
	return read_counter(r, o, true);
}

static int read_stat(struct reader *r, json_t *o)
{
	return read_counter(r, o, false);
}

static int read_end(struct reader *r, json_t *o)
{
	struct capdata *cd = r->cd;
	/* The cause evidence counts came within version 1: a file from before
	 * has none of them, and none of those records either. */
	const struct {
		const char *key;
		size_t have;
		bool optional;
	} counts[] = {
		{ "mappings", cd->nmappings, false }, { "frames", cd->nframes, false },
		{ "stacks", cd->nstacks, false },     { "threads", cd->nthreads, false },
		{ "blocks", cd->nblocks, false },     { "holds", cd->nholds, true },
		{ "hold_totals", cd->nhold_totals, true }, { "samples", cd->nsamples, true },
		{ "mem", cd->nmem, true },            { "throttles", cd->nthrottles, true },
		{ "drops", cd->ndrops, false },
		{ "stats", cd->nstats, false },
	};
	uint64_t want;
	size_t i;
	int err;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		want = 0;
		if (!counts[i].optional || json_object_get(o, counts[i].key)) {
			if ((err = reader_u64(r, o, counts[i].key, &want)))
				return err;
		}
		if (want != counts[i].have)
			return reader_fail(r, -EINVAL, "end: the file says %" PRIu64 " %s but holds %zu",
					   want, counts[i].key, counts[i].have);
	}
	r->have_end = true;
	return 0;
}

/* The reader of each record type ("t"). */
static const struct {
	const char *t;
	int (*read)(struct reader *r, json_t *o);
} readers[] = {
	{ "header", read_header }, { "mapping", read_mapping }, { "frame", read_frame },
	{ "stack", read_stack }, { "thread", read_thread }, { "block", read_block },
	{ "hold", read_hold }, { "hold_total", read_hold_total }, { "sample", read_sample },
	{ "mem", read_mem }, { "throttle", read_throttle }, { "drop", read_drop }, { "stat", read_stat }, { "end", read_end },
};

static int read_record(struct reader *r, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *o;
	const char *t;
	size_t i;
	int err;

	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return reader_fail(r, -EINVAL, "not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		err = reader_fail(r, -EINVAL, "a record must be a JSON object");
		goto cleanup;
	}
	t = json_string_value(json_object_get(o, "t"));
	if (!t) {
		err = reader_fail(r, -EINVAL, "record without a \"t\" string naming its type");
		goto cleanup;
	}
	r->rec = t;
	if (!r->have_header && strcmp(t, "header") != 0) {
		err = reader_fail(r, -EINVAL, "not a stalltrap capture (the first record is \"%.40s\", not a header)", t);
		goto cleanup;
	}
	if (r->have_end) {
		err = reader_fail(r, -EINVAL, "record after the end record");
		goto cleanup;
	}
	err = 0; /* a record type from a newer minor revision: skip it */
	for (i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (strcmp(t, readers[i].t) == 0) {
			err = readers[i].read(r, o);
			break;
		}
	}
cleanup:
	json_decref(o);
	return err;
}

static bool capdata_empty(const struct capdata *cd)
{
	return cd->index && !cd->nmappings && !cd->nframes && !cd->nstacks && !cd->nthreads &&
	       !cd->nblocks && !cd->nholds && !cd->nhold_totals && !cd->nsamples && !cd->nmem &&
	       !cd->nthrottles &&
	       !cd->ndrops && !cd->nstats && !cd->target.npids &&
	       !cd->target.comm && !cd->target.cmdline && !cd->capture_path;
}

/* Splits the decompressed stream into lines itself (rather than gzgets) so
 * that NUL bytes and over-long lines are seen and reported, not misread. */
struct line_reader {
	gzFile gz;
	char *buf;
	size_t cap, start, end;
	bool eof;
};

/* Returns 1 with a line (without its '\n') in line and len, 0 at the end,
 * or a negative errno: -E2BIG for a line over LINE_MAX_BYTES, -EIO. */
static int next_line(struct line_reader *lr, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
		int n;

		if (nl || (lr->eof && lr->end > lr->start)) {
			*line = lr->buf + lr->start;
			*len = nl ? (size_t)(nl - *line) : lr->end - lr->start;
			lr->start = nl ? (size_t)(nl - lr->buf) + 1 : lr->end;
			return 1;
		}
		if (lr->eof)
			return 0;
		/* No full line buffered: move the partial one to the front, grow, read more. */
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
		if (lr->end == lr->cap) {
			char *nb;

			if (lr->cap >= LINE_MAX_BYTES)
				return -E2BIG;
			nb = realloc(lr->buf, lr->cap * 2);
			if (!nb)
				return -ENOMEM;
			lr->buf = nb;
			lr->cap *= 2;
		}
		n = gzread(lr->gz, lr->buf + lr->end, (unsigned int)(lr->cap - lr->end));
		if (n < 0)
			return -EIO;
		if (n == 0) {
			int zerr;

			gzerror(lr->gz, &zerr);
			if (zerr != Z_OK && zerr != Z_STREAM_END)
				return -EIO; /* e.g. "unexpected end of file": cut gzip data */
			lr->eof = true;
		}
		lr->end += (size_t)n;
	}
}

int capdata_read_file(struct capdata *cd, const char *path, char *err, size_t errlen)
{
	struct reader r = { .cd = cd, .path = path, .err = err, .errlen = errlen };
	struct line_reader lr = { .cap = 64 * 1024 };
	unsigned long last;
	char *line;
	size_t len;
	int rc = 0, zerr;

	if (errlen)
		err[0] = '\0';
	if (!capdata_empty(cd))
		return reader_fail(&r, -EINVAL, "capdata_read wants an empty capdata fresh from capdata_init");
	errno = 0;
	lr.gz = gzopen(path, "rb");
	if (!lr.gz) {
		rc = errno ? -errno : -ENOMEM;
		return reader_fail(&r, rc, "%s", strerror(-rc));
	}
	gzbuffer(lr.gz, 128 * 1024);
	lr.buf = malloc(lr.cap);
	if (!lr.buf) {
		rc = reader_fail(&r, -ENOMEM, "out of memory");
		goto cleanup;
	}
	while ((rc = next_line(&lr, &line, &len)) > 0) {
		r.line++;
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (memchr(line, '\0', len)) {
			rc = reader_fail(&r, -EINVAL, "NUL byte in the line");
			goto cleanup;
		}
		rc = read_record(&r, line, len);
		if (rc)
			goto cleanup;
	}
	if (rc < 0) {
		r.line++;
		if (rc == -E2BIG)
			rc = reader_fail(&r, rc, "line longer than %u bytes", LINE_MAX_BYTES);
		else if (rc == -EIO)
			rc = reader_fail(&r, rc, "damaged gzip data: %s", gzerror(lr.gz, &zerr));
		else
			rc = reader_fail(&r, rc, "%s", strerror(-rc));
		goto cleanup;
	}
	last = r.line;
	r.line = 0;
	if (!r.have_header)
		rc = reader_fail(&r, -EINVAL, "empty: not a stalltrap capture");
	else if (!r.have_end)
		rc = reader_fail(&r, -EINVAL, "no end record after line %lu: the file is truncated", last);
cleanup:
	free(lr.buf);
	if (lr.gz)
		gzclose(lr.gz);
	return rc;
}

int capdata_read(struct capdata *cd, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE) >= (int)sizeof(path)) {
		if (errlen)
			snprintf(err, errlen, "%s/%s: path too long", dir, CAPDATA_FILE);
		return -ENAMETOOLONG;
	}
	return capdata_read_file(cd, path, err, errlen);
}
