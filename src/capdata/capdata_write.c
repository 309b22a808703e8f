/* capdata_write.c: the capture file writer: capture.jsonl.gz as JSON lines, written to a temporary name, fsynced and renamed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "capdata/capdata.h"
#include "util/outsync.h"

/* Why a gzwrite failed: the write's errno (ENOSPC on a full disk), or EIO. */
static int gz_errno(gzFile gz)
{
	int saved = errno, zerr;

	gzerror(gz, &zerr);
	return zerr == Z_ERRNO && saved ? -saved : -EIO;
}

/* ---------------------------------------------------------------------------
 * Writer. One compact JSON object per line; see docs/capture-format.md.
 * Addresses are hex strings because kernel addresses do not fit JSON's
 * (jansson's) signed 64-bit integers; other numbers are plain integers.
 */
static json_t *jhex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jid_or_null(uint32_t id)
{
	return id == UINT32_MAX ? json_null() : json_integer(id);
}

/* Unsigned values beyond INT64_MAX cannot be written; *bad records that. */
static json_t *ju64(uint64_t v, bool *bad)
{
	if (v > INT64_MAX) {
		*bad = true;
		v = INT64_MAX;
	}
	return json_integer((json_int_t)v);
}

/* Writes obj as one line and drops the reference. NULL means a failed build. */
static int emit(gzFile gz, json_t *obj)
{
	char *s;
	size_t len;
	int err = 0;

	if (!obj)
		return -ENOMEM;
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* json_dumps' terminator becomes the line end */
	if (gzwrite(gz, s, (unsigned int)(len + 1)) != (int)(len + 1))
		err = gz_errno(gz);
	free(s);
	return err;
}

/* Stacks and blocks are most of the file and hold only numbers and fixed
 * names, so they are formatted directly: 3x faster than building a jansson
 * object per line, and the same bytes. */
static int write_stack(gzFile gz, const struct cap_stack *s)
{
	size_t cap = 64 + (size_t)s->nframes * 12, len;
	char *buf = malloc(cap);
	uint32_t j;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	len = (size_t)snprintf(buf, cap, "{\"t\":\"stack\",\"frames\":[");
	for (j = 0; j < s->nframes; j++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu32, j ? "," : "", s->frames[j]);
	len += (size_t)snprintf(buf + len, cap - len, "],\"status\":\"%s\"}\n",
				capdata_stack_status_name(s->status));
	if (gzwrite(gz, buf, (unsigned int)len) != (int)len)
		err = gz_errno(gz);
	free(buf);
	return err;
}

static void fmt_id(char *buf, size_t len, uint32_t id)
{
	if (id == UINT32_MAX)
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%" PRIu32, id);
}

/* The cause evidence of a block: optional keys, omitted when unknown (they
 * came after version 1 was out, and absent must read as "not known"). */
static int fmt_block_cause(char *buf, size_t cap, const struct cap_block *b)
{
	size_t len = 0;

	buf[0] = '\0';
	if (b->in_syscall)
		len += (size_t)snprintf(buf + len, cap - len, ",\"syscall\":%" PRId32, b->syscall);
	if (b->wait_kind != CAP_WAIT_NONE)
		len += (size_t)snprintf(buf + len, cap - len, ",\"wait\":\"%s\"",
					capdata_wait_kind_name(b->wait_kind));
	if (b->wait_obj)
		len += (size_t)snprintf(buf + len, cap - len, ",\"wait_obj\":\"0x%" PRIx64 "\"",
					b->wait_obj);
	if (b->lock_flags)
		len += (size_t)snprintf(buf + len, cap - len, ",\"lock_flags\":%u",
					(unsigned int)b->lock_flags);
	if (b->has_waker) {
		char us[16], ks[16];

		fmt_id(us, sizeof(us), b->waker_ustack);
		fmt_id(ks, sizeof(ks), b->waker_kstack);
		len += (size_t)snprintf(buf + len, cap - len,
					",\"waker\":%" PRIu32 ",\"waker_ustack\":%s,\"waker_kstack\":%s",
					b->waker, us, ks);
		if (b->waker_ns && b->waker_ns <= INT64_MAX)
			len += (size_t)snprintf(buf + len, cap - len, ",\"waker_ns\":%" PRIu64, b->waker_ns);
	}
	/* the wakeup, when not the waker's (read back from waker_ns) */
	if (b->woken_ns && b->woken_ns <= INT64_MAX && !(b->has_waker && b->woken_ns == b->waker_ns))
		len += (size_t)snprintf(buf + len, cap - len, ",\"woken_ns\":%" PRIu64, b->woken_ns);
	if (b->has_owner)
		len += (size_t)snprintf(buf + len, cap - len, ",\"owner\":%" PRIu32, b->owner);
	if (b->has_taker)
		len += (size_t)snprintf(buf + len, cap - len, ",\"cpu_taker\":%" PRIu32 ",\"cpu_taker_samples\":%u",
					b->taker, (unsigned int)b->taker_samples);
	return (int)len;
}

static int write_block(gzFile gz, const struct cap_block *b, bool *bad)
{
	char buf[512], us[16], ks[16], cause[256];
	int len;

	if (b->start_ns > INT64_MAX || b->dur_ns > INT64_MAX || b->syscall < 0) {
		*bad = true;
		return 0;
	}
	fmt_id(us, sizeof(us), b->ustack);
	fmt_id(ks, sizeof(ks), b->kstack);
	fmt_block_cause(cause, sizeof(cause), b);
	/* Flags are named booleans, present only when set: most blocks have none. */
	len = snprintf(buf, sizeof(buf),
		       "{\"t\":\"block\",\"thread\":%" PRIu32 ",\"ustack\":%s,\"kstack\":%s,"
		       "\"state\":\"%s\",\"start_ns\":%" PRIu64 ",\"dur_ns\":%" PRIu64 "%s%s%s%s}\n",
		       b->thread, us, ks, capdata_state_name(b->state), b->start_ns, b->dur_ns,
		       b->flags & CAP_BLOCK_IN_PROGRESS ? ",\"in_progress\":true" : "",
		       b->flags & CAP_BLOCK_BEGAN_BEFORE ? ",\"began_before\":true" : "",
		       b->flags & CAP_BLOCK_WOKEN_IRQ ? ",\"woken_by_irq\":true" : "", cause);
	if (gzwrite(gz, buf, (unsigned int)len) != len)
		return gz_errno(gz);
	return 0;
}

/* Samples can be millions: formatted directly, like blocks. */
static int write_sample(gzFile gz, const struct cap_sample *smp, bool *bad)
{
	char buf[192], us[16], ks[16], nv[40] = "";
	int len;

	if (smp->ts_ns > INT64_MAX || smp->nvcsw > INT64_MAX) {
		*bad = true;
		return 0;
	}
	fmt_id(us, sizeof(us), smp->ustack);
	fmt_id(ks, sizeof(ks), smp->kstack);
	if (smp->nvcsw)
		snprintf(nv, sizeof(nv), ",\"nvcsw\":%" PRIu64, smp->nvcsw);
	len = snprintf(buf, sizeof(buf),
		       "{\"t\":\"sample\",\"thread\":%" PRIu32 ",\"ts_ns\":%" PRIu64
		       ",\"ustack\":%s,\"kstack\":%s%s}\n", smp->thread, smp->ts_ns, us, ks, nv);
	if (gzwrite(gz, buf, (unsigned int)len) != len)
		return gz_errno(gz);
	return 0;
}

static json_t *hold_json(const struct cap_hold *h, bool *bad)
{
	json_t *o, *args;
	int i;

	o = json_pack("{s:s, s:I, s:i, s:s, s:o, s:o, s:o, s:o}", "t", "hold",
		      "thread", (json_int_t)h->thread, "mm_pid", h->mm_pid,
		      "mode", capdata_hold_mode_name(h->mode),
		      "start_ns", ju64(h->start_ns, bad), "dur_ns", ju64(h->dur_ns, bad),
		      "ustack", jid_or_null(h->ustack), "kstack", jid_or_null(h->kstack));
	if (!o)
		return NULL;
	if (h->flags & CAP_BLOCK_IN_PROGRESS)
		json_object_set_new(o, "in_progress", json_true());
	if (h->in_syscall) {
		if (h->syscall < 0)
			*bad = true;
		args = json_array();
		for (i = 0; args && i < 4; i++)
			json_array_append_new(args, jhex(h->args[i]));
		if (!args || json_object_set_new(o, "syscall", json_integer(h->syscall)) ||
		    json_object_set_new(o, "args", args)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *capdata_features_json(const struct capdata *cd)
{
	json_t *feats = json_object(), *f;

	for (size_t i = 0; feats && i < cd->nfeatures; i++) {
		const struct cap_feature *c = &cd->features[i];

		f = json_pack("{s:b}", "on", c->on);
		if (!f || (c->reason && json_object_set_new(f, "reason", json_string(c->reason))) ||
		    json_object_set_new(feats, c->name, f)) {
			json_decref(feats);
			return NULL;
		}
	}
	return feats;
}

static int write_records(const struct capdata *cd, gzFile gz)
{
	json_t *o, *pids;
	bool bad = false;
	size_t i;
	int err;

	pids = json_array();
	for (i = 0; pids && i < cd->target.npids; i++)
		json_array_append_new(pids, json_integer(cd->target.pids[i]));
	o = json_pack("{s:s, s:s, s:i, s:{s:o, s:o, s:o}, s:{s:o, s:I, s:o, s:o, s:o, s:o, s:o}, s:o}",
		      "t", "header", "format", CAPDATA_FORMAT, "version", CAPDATA_VERSION,
		      "target", "pids", pids ? pids : json_null(),
		      "comm", jstr_or_null(cd->target.comm),
		      "cmdline", jstr_or_null(cd->target.cmdline),
		      "window", "start_mono_ns", ju64(cd->window.start_mono_ns, &bad),
		      "start_real_ns", (json_int_t)cd->window.start_real_ns,
		      "duration_ns", ju64(cd->window.duration_ns, &bad),
		      "min_block_ns", ju64(cd->window.min_block_ns, &bad),
		      "trigger_mono_ns", ju64(cd->window.trigger_mono_ns, &bad),
		      "sample_period_ns", ju64(cd->window.sample_period_ns, &bad),
		      "hold_threshold_ns", ju64(cd->window.hold_threshold_ns, &bad),
		      "capture_path", jstr_or_null(cd->capture_path));
	if (o && cd->nfeatures && json_object_set_new(o, "capture_features", capdata_features_json(cd))) {
		json_decref(o);
		o = NULL;
	}
	if (o && cd->nknames) {
		json_t *kn = json_object();
		char key[32];

		for (i = 0; kn && i < cd->nknames; i++) {
			snprintf(key, sizeof(key), "0x%" PRIx64, cd->knames[i].addr);
			if (json_object_set_new(kn, key, json_string(cd->knames[i].name))) {
				json_decref(kn);
				kn = NULL;
			}
		}
		if (!kn || json_object_set_new(o, "kernel_lock_names", kn)) {
			json_decref(o);
			o = NULL;
		}
	}
	err = emit(gz, o);
	if (err)
		return err;

	for (i = 0; i < cd->nmappings; i++) {
		const struct cap_mapping *m = &cd->mappings[i];

		o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "t", "mapping",
			      "start", jhex(m->start), "limit", jhex(m->limit),
			      "offset", jhex(m->offset), "file", jstr_or_null(m->file),
			      "build_id", jstr_or_null(m->build_id));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nframes; i++) {
		const struct cap_frame *f = &cd->frames[i];

		o = json_pack("{s:s, s:s, s:o, s:o, s:b}", "t", "frame", "name", f->name,
			      "addr", jhex(f->addr), "mapping", jid_or_null(f->mapping),
			      "kernel", f->kernel);
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nstacks; i++) {
		if ((err = write_stack(gz, &cd->stacks[i])))
			return err;
	}
	for (i = 0; i < cd->nthreads; i++) {
		const struct cap_thread *t = &cd->threads[i];

		o = json_pack("{s:s, s:i, s:i, s:s, s:o, s:o}", "t", "thread",
			      "pid", t->pid, "tid", t->tid, "comm", t->comm,
			      "below_min_ns", ju64(t->below_min_ns, &bad),
			      "below_min_count", ju64(t->below_min_count, &bad));
		/* Optional, omitted when zero or false: most threads issue no I/O. */
		if (o && t->io_bytes)
			json_object_set_new(o, "io_bytes", ju64(t->io_bytes, &bad));
		if (o && t->io_count)
			json_object_set_new(o, "io_count", ju64(t->io_count, &bad));
		if (o && t->outside)
			json_object_set_new(o, "outside", json_true());
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nblocks; i++) {
		if ((err = write_block(gz, &cd->blocks[i], &bad)))
			return err;
	}
	for (i = 0; i < cd->nholds; i++) {
		if ((err = emit(gz, hold_json(&cd->holds[i], &bad))))
			return err;
	}
	for (i = 0; i < cd->nhold_totals; i++) {
		const struct cap_hold_total *t = &cd->hold_totals[i];

		o = json_pack("{s:s, s:I, s:i, s:o, s:o, s:o, s:o}", "t", "hold_total",
			      "thread", (json_int_t)t->thread, "mm_pid", t->mm_pid,
			      "hold_ns", ju64(t->hold_ns, &bad), "holds", ju64(t->holds, &bad),
			      "read_ns", ju64(t->read_ns, &bad), "write_ns", ju64(t->write_ns, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nsamples; i++) {
		if ((err = write_sample(gz, &cd->samples[i], &bad)))
			return err;
	}
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		o = json_pack("{s:s, s:i, s:o, s:o, s:o}", "t", "mem", "pid", m->pid,
			      "ts_ns", ju64(m->ts_ns, &bad), "rss_bytes", ju64(m->rss_bytes, &bad),
			      "vsz_bytes", ju64(m->vsz_bytes, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nthrottles; i++) {
		const struct cap_throttle *t = &cd->throttles[i];

		o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o}", "t", "throttle", "cgroup", t->cgroup,
			      "from_ns", ju64(t->from_ns, &bad), "ts_ns", ju64(t->ts_ns, &bad),
			      "throttled_ns", ju64(t->throttled_ns, &bad), "periods", (json_int_t)t->periods,
			      "quota_us", (json_int_t)t->quota_us, "period_us", ju64(t->period_us, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->ndrops; i++) {
		o = json_pack("{s:s, s:s, s:o}", "t", "drop", "name", cd->drops[i].name,
			      "value", ju64(cd->drops[i].value, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	for (i = 0; i < cd->nstats; i++) {
		o = json_pack("{s:s, s:s, s:o}", "t", "stat", "name", cd->stats[i].name,
			      "value", ju64(cd->stats[i].value, &bad));
		if ((err = emit(gz, o)))
			return err;
	}
	/* The end record lets the reader tell a complete file from a cut one. */
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "t", "end",
		      "mappings", (json_int_t)cd->nmappings, "frames", (json_int_t)cd->nframes,
		      "stacks", (json_int_t)cd->nstacks, "threads", (json_int_t)cd->nthreads,
		      "blocks", (json_int_t)cd->nblocks, "holds", (json_int_t)cd->nholds,
		      "hold_totals", (json_int_t)cd->nhold_totals,
		      "samples", (json_int_t)cd->nsamples, "mem", (json_int_t)cd->nmem,
		      "drops", (json_int_t)cd->ndrops, "stats", (json_int_t)cd->nstats);
	if (o && cd->nthrottles)
		json_object_set_new(o, "throttles", json_integer((json_int_t)cd->nthrottles));
	if ((err = emit(gz, o)))
		return err;
	return bad ? -E2BIG : 0;
}

int capdata_write(const struct capdata *cd, const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	gzFile gz = NULL;
	int fd = -1, gfd, err = 0, zerr;

	if (snprintf(path, sizeof(path), "%s/%s", dir, CAPDATA_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, CAPDATA_FILE) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return -errno;
	/* gzclose closes its descriptor; keep our own for fsync. */
	gfd = dup(fd);
	if (gfd < 0) {
		err = -errno;
		goto cleanup;
	}
	gz = gzdopen(gfd, "wb");
	if (!gz) {
		close(gfd);
		err = -ENOMEM;
		goto cleanup;
	}
	gzbuffer(gz, 128 * 1024);
	err = write_records(cd, gz);
	zerr = gzclose(gz);
	gz = NULL;
	if (!err && zerr != Z_OK)
		err = zerr == Z_ERRNO && errno ? -errno : -EIO; /* a full disk: ENOSPC */
	if (!err)
		err = outsync_fd(fd);
	if (!err && rename(tmp, path) < 0)
		err = -errno;

cleanup:
	if (gz)
		gzclose(gz);
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	return err;
}
