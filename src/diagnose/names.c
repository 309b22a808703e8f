/* names.c: the words of the report: summary buffer, stacks, threads, locks and what an mmap_lock holder was doing. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose_int.h"

/* ---------------------------------------------------------------------------
 * Fixed-size text buffer for summaries: appends never overflow, and a cut
 * never splits a UTF-8 character (the result goes into JSON).
 */
void diag_sb_put(struct sbuf *sb, const char *str, size_t max)
{
	size_t room = sizeof(sb->s) - 1 - sb->len, n = strlen(str), i;

	if (n > max)
		n = max;
	if (n > room)
		n = room;
	/* Back up to a character boundary: continuation bytes are 10xxxxxx. */
	if (n < strlen(str))
		while (n && ((unsigned char)str[n] & 0xc0) == 0x80)
			n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];

		sb->s[sb->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	sb->s[sb->len] = '\0';
}

void diag_sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	char tmp[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	diag_sb_put(sb, tmp, sizeof(tmp));
}

/* ---------------------------------------------------------------------------
 * Stacks and names for the report.
 */
bool diag_shows_ustack(const struct capdata *cd, uint32_t ustack)
{
	return ustack < cd->nstacks && cd->stacks[ustack].status != CAP_STACK_NONE;
}

/* Root first, user frames then kernel frames with "_[k]", as report.json's
 * stacks[].frames spell them. */
json_t *diag_stack_json(struct ctx *x, uint32_t ustack, uint32_t kstack)
{
	const struct capdata *cd = x->cd;
	json_t *a = json_array();
	uint32_t i;

	if (!a)
		return NULL;
	if (diag_shows_ustack(cd, ustack)) {
		const struct cap_stack *s = &cd->stacks[ustack];

		for (i = 0; i < s->nframes; i++) {
			if (json_array_append_new(a, json_string(cd->frames[s->frames[i]].name))) {
				x->oom = true;
				break;
			}
		}
	}
	if (kstack < cd->nstacks) {
		const struct cap_stack *s = &cd->stacks[kstack];

		for (i = 0; i < s->nframes; i++) {
			if (json_array_append_new(a, json_sprintf("%s_[k]", cd->frames[s->frames[i]].name))) {
				x->oom = true;
				break;
			}
		}
	}
	return a;
}

/* A kernel thread has no user stack to miss. */
bool diag_stack_complete(const struct capdata *cd, uint32_t ustack)
{
	return ustack < cd->nstacks && (cd->stacks[ustack].status == CAP_STACK_COMPLETE ||
					cd->stacks[ustack].status == CAP_STACK_NONE);
}

/* Whether a user frame is one a caller is named by: the program's own, with
 * a name. */
static bool own_named(struct ctx *x, uint32_t f)
{
	const struct cap_frame *fr = &x->cd->frames[f];

	return !fr->kernel && fr->name[0] != '[' && !(diag_frame_feat(x, f) & F_RUNTIME);
}

/* The named callers of ustack, leafmost first, past the first skip of
 * them, at most max: "f ← g". How many were put. */
static int put_callers_from(struct ctx *x, struct sbuf *sb, uint32_t ustack, int skip, int max)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *s;
	uint32_t i;
	int n = 0;

	if (!diag_shows_ustack(cd, ustack))
		return 0;
	s = &cd->stacks[ustack];
	for (i = s->nframes; i-- > 0 && n < max;) {
		if (!own_named(x, s->frames[i]) || skip-- > 0)
			continue;
		diag_sb_put(sb, n ? " ← " : "", 8);
		diag_sb_put(sb, cd->frames[s->frames[i]].name, SUMMARY_NAME_MAX);
		n++;
	}
	return n;
}

/* Appends "f ← g" for the innermost user frames that are the program's own
 * (runtime libraries and placeholders skipped). Returns how many. */
int diag_put_callers(struct ctx *x, struct sbuf *sb, uint32_t ustack)
{
	return diag_put_callers_n(x, sb, ustack, SUMMARY_FRAMES);
}

int diag_put_callers_n(struct ctx *x, struct sbuf *sb, uint32_t ustack, int max)
{
	return put_callers_from(x, sb, ustack, 0, max);
}

/* The innermost kernel frame that is not scheduler, lock or futex plumbing:
 * where in the kernel the thread waited (or released). NULL if none. */
const char *diag_kernel_site(struct ctx *x, uint32_t kstack)
{
	const struct capdata *cd = x->cd;
	const struct cap_stack *s;
	uint32_t i;

	if (kstack >= cd->nstacks)
		return NULL;
	s = &cd->stacks[kstack];
	for (i = s->nframes; i-- > 0;) {
		const char *name = cd->frames[s->frames[i]].name;

		if (name[0] != '[' && !(diag_frame_feat(x, s->frames[i]) & (KF_PLUMB | KF_LOCK | KF_FUTEX)))
			return name;
	}
	return NULL;
}

json_t *diag_thread_ref(const struct ctx *x, uint32_t t)
{
	const struct cap_thread *th = &x->cd->threads[t];

	return json_pack("{s:i, s:i, s:s, s:b}", "pid", th->pid, "tid", th->tid, "comm", th->comm,
			 "outside", th->outside);
}

json_t *diag_culprit_json(struct ctx *x, uint32_t t, uint32_t ustack, uint32_t kstack,
			    const char *operation)
{
	const struct cap_thread *th = &x->cd->threads[t];
	json_t *st = diag_stack_json(x, ustack, kstack);
	json_t *o;

	if (!st) {
		x->oom = true;
		return NULL;
	}
	o = json_pack("{s:i, s:i, s:s, s:b, s:o, s:b, s:s}", "pid", th->pid, "tid", th->tid,
		      "comm", th->comm, "outside", th->outside, "stack", st,
		      "stack_complete", diag_stack_complete(x->cd, ustack), "operation", operation);
	if (!o)
		x->oom = true;
	return o;
}

/* "tid 4250 (comm)" or, outside the target, "pid 77 tid 77 (khugepaged, outside the target)". */
void diag_put_who(struct ctx *x, struct sbuf *sb, uint32_t t)
{
	const struct cap_thread *th = &x->cd->threads[t];

	if (th->outside)
		diag_sb_printf(sb, "pid %" PRId32 " tid %" PRId32 " (", th->pid, th->tid);
	else
		diag_sb_printf(sb, "tid %" PRId32 " (", th->tid);
	diag_sb_put(sb, th->comm, 16);
	diag_sb_put(sb, th->outside ? ", outside the target)" : ")", 32);
}

/* ---------------------------------------------------------------------------
 * Memory figures.
 */
/* RSS of pid at or before ts (before: true) or at or after ts; 0 if no sample. */
bool diag_mem_at(const struct capdata *cd, int32_t pid, uint64_t ts, bool before,
		   struct cap_mem *out)
{
	bool found = false;
	size_t i;

	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid != pid)
			continue;
		if (before ? m->ts_ns <= ts && (!found || m->ts_ns >= out->ts_ns)
			   : m->ts_ns >= ts && (!found || m->ts_ns < out->ts_ns)) {
			*out = *m;
			found = true;
		}
	}
	if (found)
		return true;
	/* nothing on that side: the nearest sample on the other */
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid == pid && (!found || (before ? m->ts_ns < out->ts_ns : m->ts_ns > out->ts_ns))) {
			*out = *m;
			found = true;
		}
	}
	return found;
}

/* "; RSS +3.0 GiB" when pid's RSS rose (or fell) by RSS_NOTE_MIN or more
 * from before s to its peak (or low) during [s, e] and the sample after:
 * a populate that is unmapped right away still shows what it touched. */
void diag_put_rss_change(const struct capdata *cd, struct sbuf *sb, int32_t pid, uint64_t s,
			   uint64_t e)
{
	struct cap_mem a, b;
	uint64_t hi, lo;
	char sz[32];
	size_t i;

	if (!diag_mem_at(cd, pid, s, true, &a) || !diag_mem_at(cd, pid, e, false, &b))
		return;
	hi = lo = b.rss_bytes;
	for (i = 0; i < cd->nmem; i++) {
		const struct cap_mem *m = &cd->mem[i];

		if (m->pid != pid || m->ts_ns < s || m->ts_ns > e)
			continue;
		hi = m->rss_bytes > hi ? m->rss_bytes : hi;
		lo = m->rss_bytes < lo ? m->rss_bytes : lo;
	}
	if (hi >= a.rss_bytes + RSS_NOTE_MIN) {
		units_fmt_bytes(sz, sizeof(sz), hi - a.rss_bytes);
		diag_sb_printf(sb, "; RSS +%s", sz);
	} else if (a.rss_bytes >= lo + RSS_NOTE_MIN) {
		units_fmt_bytes(sz, sizeof(sz), a.rss_bytes - lo);
		diag_sb_printf(sb, "; RSS -%s", sz);
	}
}

/* ---------------------------------------------------------------------------
 * What an mmap_lock holder was doing, from its syscall and arguments.
 * op: "mmap 3.0 GiB MAP_POPULATE"; call: "mmap(3.0 GiB, MAP_POPULATE)".
 */
struct flagname {
	uint64_t bit;
	const char *name;
};

static void flags_str(char *buf, size_t len, uint64_t v, const struct flagname *t, size_t n,
		      const char *none)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((v & t[i].bit) == t[i].bit && t[i].bit)
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "|" : "", t[i].name);
		if (used >= len)
			break;
	}
	if (!buf[0] && none)
		snprintf(buf, len, "%s", none);
}

void diagnose_hold_op(const struct capdata *cd, const struct cap_hold *h, uint32_t repeats,
		      struct diag_holdop *d)
{
	static const struct flagname mapf[] = {
		{ 0x1, "MAP_SHARED" }, { 0x10, "MAP_FIXED" }, { 0x2000, "MAP_LOCKED" },
		{ 0x8000, "MAP_POPULATE" }, { 0x40000, "MAP_HUGETLB" },
	}, prot[] = {
		{ 0x1, "PROT_READ" }, { 0x2, "PROT_WRITE" }, { 0x4, "PROT_EXEC" },
	};
	static const char *const advice[] = {
		[0] = "MADV_NORMAL", [1] = "MADV_RANDOM", [2] = "MADV_SEQUENTIAL",
		[3] = "MADV_WILLNEED", [4] = "MADV_DONTNEED", [8] = "MADV_FREE", [9] = "MADV_REMOVE",
		[14] = "MADV_HUGEPAGE", [15] = "MADV_NOHUGEPAGE", [20] = "MADV_COLD",
		[21] = "MADV_PAGEOUT", [22] = "MADV_POPULATE_READ", [23] = "MADV_POPULATE_WRITE",
		[25] = "MADV_COLLAPSE",
	};
	char sz[32], sz2[32], fl[96];
	const char *name = h->in_syscall ? syscall_name(h->syscall) : NULL;
	struct cap_mem m;

	units_fmt_bytes(sz, sizeof(sz), h->args[1]);
	if (!h->in_syscall) {
		if (cd->threads[h->thread].outside && !diag_shows_ustack(cd, h->ustack)) {
			snprintf(d->op, sizeof(d->op), "kernel work of %s", cd->threads[h->thread].comm);
		} else {
			snprintf(d->op, sizeof(d->op), "a page fault or kernel work");
		}
		snprintf(d->call, sizeof(d->call), "%s", d->op);
	} else if (h->syscall == NR_mmap) {
		flags_str(fl, sizeof(fl), h->args[3], mapf, sizeof(mapf) / sizeof(mapf[0]), NULL);
		snprintf(d->op, sizeof(d->op), "mmap %s%s%s", sz, fl[0] ? " " : "", fl);
		snprintf(d->call, sizeof(d->call), "mmap(%s%s%s)", sz, fl[0] ? ", " : "", fl);
	} else if (h->syscall == NR_mprotect || h->syscall == NR_pkey_mprotect) {
		flags_str(fl, sizeof(fl), h->args[2], prot, sizeof(prot) / sizeof(prot[0]), "PROT_NONE");
		snprintf(d->op, sizeof(d->op), "%s %s %s", name, sz, fl);
		snprintf(d->call, sizeof(d->call), "%s(%s, %s)", name, sz, fl);
	} else if (h->syscall == NR_madvise) {
		const char *a = h->args[2] < sizeof(advice) / sizeof(advice[0]) && advice[h->args[2]]
					? advice[h->args[2]] : "advice ?";

		snprintf(d->op, sizeof(d->op), "madvise %s %s", sz, a);
		snprintf(d->call, sizeof(d->call), "madvise(%s, %s)", sz, a);
	} else if (h->syscall == NR_munmap || h->syscall == NR_mlock || h->syscall == NR_munlock ||
		   h->syscall == NR_mlock2 || h->syscall == NR_msync) {
		snprintf(d->op, sizeof(d->op), "%s %s", name, sz);
		snprintf(d->call, sizeof(d->call), "%s(%s)", name, sz);
	} else if (h->syscall == NR_mremap) {
		units_fmt_bytes(sz2, sizeof(sz2), h->args[2]);
		snprintf(d->op, sizeof(d->op), "mremap %s to %s", sz, sz2);
		snprintf(d->call, sizeof(d->call), "mremap(%s to %s)", sz, sz2);
	} else if (syscall_is_fork(h->syscall)) {
		/* the size of what fork copies: the process's VSZ at the time */
		if (diag_mem_at(cd, h->mm_pid, h->start_ns, true, &m)) {
			units_fmt_bytes(sz2, sizeof(sz2), m.vsz_bytes);
			snprintf(d->op, sizeof(d->op), "fork of a %s process", sz2);
		} else {
			snprintf(d->op, sizeof(d->op), "fork");
		}
		snprintf(d->call, sizeof(d->call), "%s", d->op);
	} else if (name) {
		snprintf(d->op, sizeof(d->op), "%s", name);
		snprintf(d->call, sizeof(d->call), "%s()", name);
	} else {
		snprintf(d->op, sizeof(d->op), "syscall %" PRId32, h->syscall);
		snprintf(d->call, sizeof(d->call), "syscall %" PRId32, h->syscall);
	}
	if (repeats > 1) {
		size_t n = strlen(d->op), c = strlen(d->call);

		snprintf(d->op + n, sizeof(d->op) - n, " ×%" PRIu32, repeats);
		snprintf(d->call + c, sizeof(d->call) - c, " ×%" PRIu32, repeats);
	}
}

const char *diag_mode_words(unsigned int mode)
{
	return mode == CAP_HOLD_WRITE ? "write" : mode == CAP_HOLD_DOWNGRADED ? "write, then read" : "read";
}

/* The lock's type and mode from lock:contention_begin's flags. */
const char *diag_lock_type(uint8_t f)
{
	if (f & CAP_LCB_MUTEX)
		return "mutex";
	if (f & CAP_LCB_RT)
		return "rt_mutex";
	if (f & CAP_LCB_PERCPU)
		return "percpu_rwsem";
	if (f & CAP_LCB_SPIN)
		return (f & (CAP_LCB_READ | CAP_LCB_WRITE)) ? "rwlock" : "spinlock";
	if (f & (CAP_LCB_READ | CAP_LCB_WRITE))
		return "rwsem";
	return "lock";
}

/* The longest wait of a group: its stacks name the lock best. */
static const struct cap_block *group_longest(const struct ctx *x, const struct lgroup *g)
{
	const struct cap_block *best = NULL;
	size_t k;

	for (k = g->first; k < g->first + g->n; k++) {
		const struct cap_block *b = &x->cd->blocks[x->lidx[k]];

		if (!best || b->dur_ns > best->dur_ns)
			best = b;
	}
	return best;
}

static bool user_stack_mentions(const struct capdata *cd, uint32_t ustack, const char *what)
{
	uint32_t i;

	if (ustack >= cd->nstacks)
		return false;
	for (i = 0; i < cd->stacks[ustack].nframes; i++) {
		if (strstr(cd->frames[cd->stacks[ustack].frames[i]].name, what))
			return true;
	}
	return false;
}

/* What kind of user-space lock a futex group is, from libc's entry points. */
const char *diag_futex_noun(const struct ctx *x, const struct lgroup *g)
{
	const struct cap_block *b = group_longest(x, g);

	if (b && user_stack_mentions(x->cd, b->ustack, "rwlock"))
		return "rwlock";
	if (b && user_stack_mentions(x->cd, b->ustack, "mutex"))
		return "mutex";
	return "futex lock";
}

/* Kernel functions that take a well-known lock, by what it protects
 * (f: the lock's CAP_LCB_* flags). */
static const char *known_lock_of(const char *site, uint8_t f)
{
	/* sb_start_write() and its kin: a percpu rwsem of the superblock,
	 * which freeze_super() takes for write until the thaw */
	static const char *const freeze_sites[] = {
		"vfs_write", "vfs_writev", "vfs_iter_write", "do_iter_write", "vfs_fallocate",
		"mnt_want_write", "mnt_want_write_file", "__mnt_want_write", "__mnt_want_write_file",
		"__sb_start_write", "do_sys_ftruncate", "vfs_truncate", "ext4_page_mkwrite",
		"iomap_page_mkwrite", "filemap_page_mkwrite", "iter_file_splice_write", "vfs_copy_file_range",
		"do_sys_truncate", "file_modified", "kiocb_modified", "touch_atime",
	};
	static const char *const fpos_sites[] = { "fdget_pos", "__fdget_pos", "__f_unlock_pos" };
	static const char *const file_sites[] = {
		"ext4_buffered_write_iter", "ext4_file_write_iter", "ext4_dio_write_iter",
		"generic_file_write_iter", "shmem_file_write_iter", "do_truncate", "vfs_fallocate",
		"ext4_fallocate", "ext4_setattr", "notify_change", "generic_file_llseek_size",
		"xfs_ilock", "btrfs_inode_lock",
	};
	static const char *const dir_sites[] = {
		"filename_create", "lookup_slow", "do_unlinkat", "do_rmdir", "lock_rename",
		"open_last_lookups", "do_renameat2", "iterate_dir", "vfs_rename", "lookup_open",
	};
	size_t i;

	if (!site)
		return NULL;
	if (f & CAP_LCB_PERCPU) {
		for (i = 0; i < sizeof(freeze_sites) / sizeof(freeze_sites[0]); i++) {
			if (!strcmp(site, freeze_sites[i]))
				return "the freeze protection (sb_writers) of a filesystem: it was frozen "
				       "(fsfreeze, a snapshot or a backup)";
		}
		return NULL;
	}
	for (i = 0; i < sizeof(fpos_sites) / sizeof(fpos_sites[0]); i++) {
		if (!strcmp(site, fpos_sites[i]))
			return "the position lock (f_pos_lock) of an open file shared by threads";
	}
	for (i = 0; i < sizeof(file_sites) / sizeof(file_sites[0]); i++) {
		if (!strcmp(site, file_sites[i]))
			return "the inode lock (i_rwsem) of a file";
	}
	for (i = 0; i < sizeof(dir_sites) / sizeof(dir_sites[0]); i++) {
		if (!strcmp(site, dir_sites[i]))
			return "the inode lock (i_rwsem) of a directory";
	}
	return NULL;
}

const char *diag_lock_mode(uint8_t f)
{
	if ((f & CAP_LCB_READ) && (f & CAP_LCB_WRITE))
		return "read+write";
	if (f & CAP_LCB_WRITE)
		return "write";
	if (f & CAP_LCB_READ)
		return "read";
	return NULL;
}

static int cmp_frame_name(const void *a, const void *b, void *arg)
{
	const struct capdata *cd = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	return strcmp(cd->frames[i].name, cd->frames[j].name) ?: diag_cmp(i, j);
}

/* x->fwrap: the frames of the program's own wait wrappers. A function that,
 * in the target's waits, is called from two functions or more says how a
 * thread waits, not what for: PostgreSQL's WaitLatch (a heavyweight lock's
 * ProcSleep, a commit's SyncRepWaitForLSN, each auxiliary process's main
 * loop), WaitEventSetWait, PGSemaphoreLock. Functions are told by name (a
 * function's frames differ by return address); frames without a name are
 * passed over. */
static int build_wrappers(struct ctx *x)
{
	const struct capdata *cd = x->cd;
	uint32_t *byname = NULL, *fid = NULL, *first = NULL, k, n = 0;
	uint8_t *used = NULL, *many = NULL;
	size_t i;
	int err = -ENOMEM;

	x->fwrap = calloc(cd->nframes ? cd->nframes : 1, 1);
	byname = malloc((cd->nframes ? cd->nframes : 1) * sizeof(*byname));
	fid = malloc((cd->nframes ? cd->nframes : 1) * sizeof(*fid));
	first = malloc((cd->nframes ? cd->nframes : 1) * sizeof(*first));
	many = calloc(cd->nframes ? cd->nframes : 1, 1);
	used = calloc(cd->nstacks ? cd->nstacks : 1, 1);
	if (!x->fwrap || !byname || !fid || !first || !many || !used)
		goto out;
	for (k = 0; k < cd->nframes; k++)
		byname[k] = k;
	qsort_r(byname, cd->nframes, sizeof(*byname), cmp_frame_name, (void *)cd);
	for (k = 0; k < cd->nframes; k++) {
		if (k && strcmp(cd->frames[byname[k]].name, cd->frames[byname[k - 1]].name))
			n++;
		fid[byname[k]] = n;
	}
	for (k = 0; k <= n; k++)
		first[k] = UINT32_MAX;     /* per function: its first caller seen */
	for (i = 0; i < cd->nblocks; i++) {
		if (diag_thread_is_target(x, cd->blocks[i].thread) && cd->blocks[i].ustack < cd->nstacks)
			used[cd->blocks[i].ustack] = 1;
	}
	for (i = 0; i < cd->nstacks; i++) {
		const struct cap_stack *s = &cd->stacks[i];
		uint32_t callee = UINT32_MAX, j;

		if (!used[i])
			continue;
		for (j = s->nframes; j-- > 0;) {
			uint32_t f = s->frames[j];

			if (!own_named(x, f))
				continue;
			if (callee != UINT32_MAX && fid[f] != callee) {
				if (first[callee] == UINT32_MAX)
					first[callee] = fid[f];
				else if (first[callee] != fid[f])
					many[callee] = 1;
			}
			callee = fid[f];
		}
	}
	for (k = 0; k < cd->nframes; k++)
		x->fwrap[k] = many[fid[k]];
	err = 0;
out:
	if (err) {
		free(x->fwrap);
		x->fwrap = NULL;
	}
	free(byname);
	free(fid);
	free(first);
	free(many);
	free(used);
	return err;
}

/* Where a lock's waiters waited, named by the callers of its longest wait:
 * past the program's own wait wrappers (build_wrappers), from the last of
 * them, so that the frames named are what the thread waited for
 * ("WaitLatch ← ProcSleep ← LockAcquireExtended", not every lock's
 * "WaitEventSetWait ← WaitLatch"). */
int diag_put_wait_site(struct ctx *x, struct sbuf *sb, uint32_t ustack)
{
	const struct capdata *cd = x->cd;
	uint32_t i, last = UINT32_MAX;
	int k = 0;

	if (!x->fwrap && build_wrappers(x))
		return diag_put_callers(x, sb, ustack);
	if (!diag_shows_ustack(cd, ustack))
		return 0;
	/* k: the wrappers before the first own frame that is none (not
	 * counting the last own frame, named whatever it is) */
	for (i = cd->stacks[ustack].nframes; i-- > 0;) {
		uint32_t f = cd->stacks[ustack].frames[i];

		if (!own_named(x, f))
			continue;
		if (last != UINT32_MAX) {
			if (!x->fwrap[last])
				break;
			k++;
		}
		last = f;
	}
	return k ? put_callers_from(x, sb, ustack, k - 1, SUMMARY_FRAMES + 1) : diag_put_callers(x, sb, ustack);
}

/* "a kernel rwsem (write) at 0xffff…, the inode lock (i_rwsem) of a file,
 * taken in f": a kernel lock of flags f at obj (0: not said) that a thread
 * waited for with kernel stack kstack; the site only when taken_in. */
static void put_kernel_lock(struct ctx *x, struct sbuf *sb, uint8_t f, uint64_t obj, uint32_t kstack,
			    bool taken_in)
{
	const char *site = diag_kernel_site(x, kstack), *mode = diag_lock_mode(f);
	const char *known = known_lock_of(site, f);

	diag_sb_printf(sb, "a kernel %s", diag_lock_type(f));
	if (mode)
		diag_sb_printf(sb, " (%s)", mode);
	if (obj)
		diag_sb_printf(sb, " at 0x%" PRIx64, obj);
	if (obj && capdata_kname(x->cd, obj))
		diag_sb_printf(sb, " (%s)", capdata_kname(x->cd, obj));
	if (known)
		diag_sb_printf(sb, ", %s", known);
	if (site && taken_in) {
		diag_sb_put(sb, ", taken in ", 16);
		diag_sb_put(sb, site, SUMMARY_NAME_MAX);
	}
}

void diag_put_kernel_wait(struct ctx *x, const struct cap_block *b, struct sbuf *sb)
{
	put_kernel_lock(x, sb, b->lock_flags, 0, b->kstack, false);
}

void diag_put_lock_name(struct ctx *x, const struct lgroup *g, struct sbuf *sb)
{
	const struct cap_block *b = group_longest(x, g);

	if (g->cls == DIAG_CAUSE_MMAP_LOCK) {
		diag_sb_printf(sb, "mmap_lock of pid %" PRId32, g->pid);
		return;
	}
	if (g->cls == DIAG_CAUSE_APP_LOCK && g->pid) {
		struct sbuf callers = { .len = 0 };

		diag_sb_printf(sb, "a %s (futex 0x%" PRIx64 ") of pid %" PRId32, diag_futex_noun(x, g), g->obj,
			  g->pid);
		if (b && diag_put_wait_site(x, &callers, b->ustack))
			diag_sb_printf(sb, ", taken in %s", callers.s);
		return;
	}
	if (g->cls == DIAG_CAUSE_APP_LOCK) {
		/* a convoy's: known by where its waiters waited */
		static const char *const what[DIAG_PRIM__COUNT] = {
			[DIAG_PRIM_MUTEX] = "a mutex", [DIAG_PRIM_RWLOCK] = "a rwlock",
			[DIAG_PRIM_CONDVAR] = "a condition variable", [DIAG_PRIM_SEMAPHORE] = "a semaphore",
			[DIAG_PRIM_LATCH] = "a latch", [DIAG_PRIM_OTHER] = "a wait",
			[DIAG_PRIM_FILE] = "a file lock",
		};
		struct sbuf callers = { .len = 0 };

		diag_sb_printf(sb, "an application lock (%s", what[g->prim % DIAG_PRIM__COUNT]);
		if (b && b->in_syscall && g->prim == DIAG_PRIM_LATCH && syscall_name(b->syscall))
			diag_sb_printf(sb, ": %s woken by the releasing thread", syscall_name(b->syscall));
		if (b && diag_put_wait_site(x, &callers, b->ustack))
			diag_sb_printf(sb, ", in %s", callers.s);
		diag_sb_put(sb, ")", 4);
		return;
	}
	put_kernel_lock(x, sb, g->lock_flags, g->obj, b ? b->kstack : ST_NO_STACK, true);
}
