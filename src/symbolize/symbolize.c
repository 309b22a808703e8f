/* symbolize.c: the symbolize stage: raw kernel and user stacks to interned, named capdata stacks. */
#include "symbolize/symbolize.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symbolize/ksyms.h"
#include "symbolize/maps.h"
#include "symbolize/ucache.h"
#include "symbolize/uproc.h"
#include "util/htab.h"
#include "util/timeutil.h"

/* Hard caps: every table here has a fixed size or a maximum count. */
#define SYM_MAX_PROCS 65536          /* registered processes; the least recently used goes */
#define SYM_MAX_OPEN 64              /* live libdwfl sessions (each holds open files) */
/* The frame caches are not util/htab tables: they are fixed-size caches that
 * forget (set-associative with LRU, or direct-mapped), so memory stays flat
 * however many pcs a long watch sees, and a miss only costs a lookup. */
#define FCACHE_SETS 16384            /* user frame cache: 64 Ki entries, 2 MiB */
#define FCACHE_WAYS 4
#define KCACHE_SLOTS 16384           /* kernel frame cache, direct-mapped */
#define UCACHE_ENTRIES 2048          /* verified unwinds; at most 8 KiB of reads each */
#define KSTACK_MAX 512               /* kernel frames looked at (the kernel keeps 127) */
#define FRAME_NAME_MAX 1024          /* bytes of a frame name, longer ones are cut */

#define MAPPING_UNSET (-1)
#define MAPPING_NONE (-2)

/* Frame flags, cached with the frame. */
#define FF_UNKNOWN 0x1      /* no symbol */
#define FF_OUTSIDE 0x2      /* the pc is in no mapping: the maps may be stale */
#define KF_USED 0x1         /* the slot holds an entry */
#define KF_GLUE 0x2         /* BPF machinery: never shown */
#define KF_UNKNOWN 0x4      /* no kernel symbol covers the address */
#define KF_LEAF 0x8         /* looked up as the leaf (pc itself, not pc - 1) */

struct sproc {
	pid_t pid;
	uint64_t session;       /* unique per maps layout: keys the caches */
	uint64_t last_use;
	struct uproc *up;
	int64_t *line_mapping;  /* per maps line: capdata mapping id, MAPPING_UNSET or _NONE */
};

struct fentry {
	uint64_t session;       /* 0: empty */
	uint64_t pc_key;        /* pc << 1 | activation */
	uint64_t stamp;
	uint32_t frame;
	uint32_t flags;
};

struct kentry {
	uint64_t addr;
	uint32_t frame;         /* UINT32_MAX until interned */
	uint32_t flags;
};

struct symbolizer {
	struct capdata *cd;
	struct ksyms *ks;
	struct ksyms *kdata;            /* data symbols, loaded at the first lock named (kdata_tried) */
	char *kallsyms_path;
	bool kdata_tried;
	char *proc_root;
	struct sproc **procs;           /* registered processes, in no order */
	size_t nprocs, aprocs, nopen;
	struct htab proc_index;         /* pid -> index into procs */
	uint64_t next_session, clock;
	struct fentry *fcache;
	struct kentry *kcache;
	struct ucache *ucache;
	struct unwind_result *res;      /* scratch of one unwind (too big for the stack) */
	uint32_t ids[KSTACK_MAX > UPROC_MAX_FRAMES ? KSTACK_MAX : UPROC_MAX_FRAMES];
	uint32_t kflags[KSTACK_MAX];
	struct symbolizer_stats st;
	char name[FRAME_NAME_MAX];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct symbolizer *symbolizer_new(struct capdata *cd, const char *kallsyms_path,
				  const char *proc_root, char *err, size_t errlen)
{
	struct symbolizer *sym;
	int r;

	if (!cd || !proc_root) {
		set_err(err, errlen, "symbolizer: no capdata or proc root");
		return NULL;
	}
	sym = calloc(1, sizeof(*sym));
	if (!sym) {
		set_err(err, errlen, "symbolizer: out of memory");
		return NULL;
	}
	sym->cd = cd;
	sym->next_session = 1;
	htab_init(&sym->proc_index, SYM_MAX_PROCS);
	sym->proc_root = strdup(proc_root);
	sym->fcache = calloc((size_t)FCACHE_SETS * FCACHE_WAYS, sizeof(*sym->fcache));
	sym->kcache = calloc(KCACHE_SLOTS, sizeof(*sym->kcache));
	sym->ucache = ucache__new(UCACHE_ENTRIES);
	sym->res = malloc(sizeof(*sym->res));
	if (!sym->proc_root || !sym->fcache || !sym->kcache || !sym->ucache || !sym->res) {
		set_err(err, errlen, "symbolizer: out of memory");
		goto cleanup;
	}
	if (kallsyms_path && !(sym->kallsyms_path = strdup(kallsyms_path))) {
		set_err(err, errlen, "symbolizer: out of memory");
		goto cleanup;
	}
	if (kallsyms_path) {
		r = ksyms__load(kallsyms_path, &sym->ks);
		if (r == -EPERM) {
			set_err(err, errlen, "%s: every address reads as 0 (kptr_restrict; run as root)",
				kallsyms_path);
			goto cleanup;
		}
		if (r) {
			set_err(err, errlen, "%s: %s", kallsyms_path, strerror(-r));
			goto cleanup;
		}
	}
	return sym;

cleanup:
	symbolizer_free(sym);
	return NULL;
}

static void sproc_free(struct symbolizer *sym, struct sproc *p)
{
	if (uproc__is_open(p->up))
		sym->nopen--;
	uproc__free(p->up);
	free(p->line_mapping);
	free(p);
}

void symbolizer_free(struct symbolizer *sym)
{
	size_t i;

	if (!sym)
		return;
	for (i = 0; i < sym->nprocs; i++)
		sproc_free(sym, sym->procs[i]);
	free(sym->procs);
	htab_release(&sym->proc_index);
	ksyms__free(sym->ks);
	ksyms__free(sym->kdata);
	free(sym->kallsyms_path);
	ucache__free(sym->ucache);
	free(sym->fcache);
	free(sym->kcache);
	free(sym->res);
	free(sym->proc_root);
	free(sym);
}

static bool proc_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct symbolizer *sym = ctx;

	return sym->procs[id]->pid == *(const pid_t *)key;
}

static uint64_t pid_hash(pid_t pid)
{
	return htab_hash_u64(HTAB_HASH_SEED, (uint32_t)pid);
}

/* The index in procs of pid, or -ENOENT. */
static int64_t proc_find(struct symbolizer *sym, pid_t pid)
{
	return htab_find(&sym->proc_index, pid_hash(pid), proc_eq, sym, &pid);
}

/* Frees the process of pid; the last of procs moves into its place. */
static void proc_unlink_free(struct symbolizer *sym, pid_t pid)
{
	int64_t i = proc_find(sym, pid);
	size_t last;

	if (i < 0)
		return;
	last = sym->nprocs - 1;
	htab_remove(&sym->proc_index, pid_hash(pid), (uint32_t)i);
	sproc_free(sym, sym->procs[i]);
	if ((size_t)i != last) {
		pid_t moved = sym->procs[last]->pid;

		/* Cannot fail: the table just lost an id and keeps its slots. */
		htab_remove(&sym->proc_index, pid_hash(moved), (uint32_t)last);
		htab_insert(&sym->proc_index, pid_hash(moved), (uint32_t)i);
		sym->procs[i] = sym->procs[last];
	}
	sym->nprocs--;
}

/* The least recently used process, among those with an open session if open_only. */
static struct sproc *proc_lru(struct symbolizer *sym, bool open_only)
{
	struct sproc *best = NULL;
	size_t i;

	for (i = 0; i < sym->nprocs; i++) {
		struct sproc *p = sym->procs[i];

		if ((!open_only || uproc__is_open(p->up)) && (!best || p->last_use < best->last_use))
			best = p;
	}
	return best;
}

/* Files p (pid set) as a new process, making room by dropping the least
 * recently used one at SYM_MAX_PROCS. */
static int proc_add(struct symbolizer *sym, struct sproc *p)
{
	int err;

	if (sym->nprocs == SYM_MAX_PROCS)
		proc_unlink_free(sym, proc_lru(sym, false)->pid);
	if (sym->nprocs == sym->aprocs) {
		size_t n = sym->aprocs ? sym->aprocs * 2 : 64;
		struct sproc **np = reallocarray(sym->procs, n, sizeof(*np));

		if (!np)
			return -ENOMEM;
		sym->procs = np;
		sym->aprocs = n;
	}
	err = htab_insert(&sym->proc_index, pid_hash(p->pid), (uint32_t)sym->nprocs);
	if (err)
		return err;
	sym->procs[sym->nprocs++] = p;
	return 0;
}

/* pid from maps_text; parent > 0: a child forked without exec (uproc__new_child). */
static int add_process(struct symbolizer *sym, pid_t pid, pid_t parent, const char *maps_text)
{
	struct sproc *old, *p = NULL;
	struct uproc *up = NULL;
	int64_t *lm = NULL, i;
	size_t j, n;
	int err;

	if (!sym || pid <= 0 || !maps_text)
		return -EINVAL;
	i = proc_find(sym, pid);
	old = i >= 0 ? sym->procs[i] : NULL;
	if (old && maps__same_text(uproc__maps(old->up), maps_text)) {
		old->last_use = ++sym->clock;
		return 0;
	}
	err = uproc__new_child(pid, parent, sym->proc_root, maps_text, &up);
	if (err)
		goto cleanup;
	n = maps__count(uproc__maps(up));
	lm = malloc((n ? n : 1) * sizeof(*lm));
	if (!old)
		p = calloc(1, sizeof(*p));
	if (!lm || (!old && !p)) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (j = 0; j < n; j++)
		lm[j] = MAPPING_UNSET;
	if (old) {
		/* A new layout: a new session, so that no cache entry of the old one matches. */
		p = old;
		if (uproc__is_open(p->up))
			sym->nopen--;
		uproc__free(p->up);
		free(p->line_mapping);
	} else {
		p->pid = pid;
		err = proc_add(sym, p);
		if (err)
			goto cleanup;
	}
	p->up = up;
	p->line_mapping = lm;
	p->session = sym->next_session++;
	p->last_use = ++sym->clock;
	return 0;

cleanup:
	if (!old)
		free(p);
	free(lm);
	uproc__free(up);
	return err;
}

int symbolizer_add_process(struct symbolizer *sym, pid_t pid, const char *maps_text)
{
	return add_process(sym, pid, 0, maps_text);
}

int symbolizer_add_child(struct symbolizer *sym, pid_t pid, pid_t parent, const char *maps_text)
{
	return add_process(sym, pid, parent, maps_text);
}

int symbolizer_add_forked(struct symbolizer *sym, pid_t child, pid_t parent)
{
	int64_t i;

	if (!sym || child <= 0 || parent <= 0 || child == parent)
		return -EINVAL;
	i = proc_find(sym, parent);
	if (i < 0)
		return -ENOENT;
	/* (a copy: registering the child may grow and move sym->procs) */
	{
		char *text = strdup(maps__text(uproc__maps(sym->procs[i]->up)));
		int err = text ? add_process(sym, child, parent, text) : -ENOMEM;

		free(text);
		return err;
	}
}

void symbolizer_drop_process(struct symbolizer *sym, pid_t pid)
{
	if (sym)
		proc_unlink_free(sym, pid);
}

/* Makes room for p's libdwfl session to open, and counts it once it is. */
static void session_before(struct symbolizer *sym, struct sproc *p)
{
	struct sproc *lru;

	if (uproc__is_open(p->up) || sym->nopen < SYM_MAX_OPEN)
		return;
	lru = proc_lru(sym, true);
	if (lru) {
		uproc__close(lru->up);
		sym->nopen--;
	}
}

static void session_after(struct symbolizer *sym, struct sproc *p, bool was_open)
{
	if (!was_open && uproc__is_open(p->up))
		sym->nopen++;
}

/* The capdata mapping of a maps line holding a frame: executable lines only,
 * interned the first time a frame lands in them. */
static uint32_t line_mapping(struct symbolizer *sym, struct sproc *p, const struct maps_line *l)
{
	const struct maps *m = uproc__maps(p->up);
	char build_id[2 * 64 + 1];
	size_t idx;
	int64_t id;

	if (!l)
		return ST_NO_MAPPING;
	idx = (size_t)(l - maps__line(m, 0));
	if (p->line_mapping[idx] == MAPPING_UNSET) {
		p->line_mapping[idx] = MAPPING_NONE;
		if ((l->perms & MAPS_X) && l->path[0]) {
			bool have = uproc__build_id(p->up, l, build_id, sizeof(build_id)) == 0;

			id = capdata_mapping(sym->cd, l->start, l->end, l->offset,
					     uproc__path_as_run(p->up, l), have ? build_id : NULL);
			if (id >= 0)
				p->line_mapping[idx] = id;
		}
	}
	return p->line_mapping[idx] >= 0 ? (uint32_t)p->line_mapping[idx] : ST_NO_MAPPING;
}

/* The capdata frame of a user pc, through the frame cache. */
static int64_t user_frame(struct symbolizer *sym, struct sproc *p, uint64_t pc, bool act,
			  uint32_t *flags)
{
	uint64_t key = pc << 1 | act;
	uint64_t h = htab_hash_u64(htab_hash_u64(HTAB_HASH_SEED, p->session), key);
	struct fentry *set = &sym->fcache[(h & (FCACHE_SETS - 1)) * FCACHE_WAYS];
	struct fentry *victim = &set[0];
	struct uproc_pcinfo info;
	int64_t fid;
	size_t i;
	int err;

	for (i = 0; i < FCACHE_WAYS; i++) {
		if (set[i].session == p->session && set[i].pc_key == key) {
			set[i].stamp = ++sym->clock;
			*flags = set[i].flags;
			return set[i].frame;
		}
		if (!set[i].session) {
			victim = &set[i];
		} else if (victim->session && set[i].stamp < victim->stamp) {
			victim = &set[i];
		}
	}
	err = uproc__name(p->up, pc, act, sym->name, sizeof(sym->name), &info);
	if (err)
		return err;
	fid = capdata_frame(sym->cd, sym->name, pc, line_mapping(sym, p, info.line), false);
	if (fid < 0)
		return fid;
	*flags = (info.unknown ? FF_UNKNOWN : 0) | (info.line ? 0 : FF_OUTSIDE);
	*victim = (struct fentry){ .session = p->session, .pc_key = key, .stamp = ++sym->clock,
				   .frame = (uint32_t)fid, .flags = *flags };
	return fid;
}

int64_t symbolizer_ustack(struct symbolizer *sym, pid_t pid, const uint64_t *regs,
			  const uint8_t *stack, size_t len)
{
	struct unwind_result *res;
	struct ucache_key key;
	struct ucache_val val = { 0 };
	struct sproc *p;
	uint64_t t0, sp;
	uint32_t flags = 0;
	int64_t id, fid;
	bool was_open;
	size_t i;

	if (!sym || !regs)
		return -EINVAL;
	t0 = mono_ns();
	id = proc_find(sym, pid);
	if (id < 0)
		return -ESRCH;
	p = sym->procs[id];
	p->last_use = ++sym->clock;
	sym->st.ustacks++;
	if (!stack)
		len = 0;
	if (len > UPROC_MAX_STACK)
		len = UPROC_MAX_STACK;
	sp = regs[SYM_REG_RSP];

	ucache__key(p->session, regs, len, &key);
	if (ucache__lookup(sym->ucache, &key, sp, stack, len, &val)) {
		sym->st.ustack_cache_hits++;
		id = val.stack_id;
		goto cleanup;
	}

	res = sym->res;
	was_open = uproc__is_open(p->up);
	session_before(sym, p);
	uproc__unwind(p->up, regs, stack, len, res); /* on error res holds the leaf alone */
	for (i = 0; i < res->n; i++) {
		fid = user_frame(sym, p, res->pcs[i], res->activation[i], &flags);
		if (fid < 0) {
			session_after(sym, p, was_open);
			id = fid;
			goto cleanup;
		}
		val.unknown_pcs += !!(flags & FF_UNKNOWN);
		val.outside_pcs += !!(flags & FF_OUTSIDE);
		sym->ids[res->n - 1 - i] = (uint32_t)fid; /* root first */
	}
	session_after(sym, p, was_open);
	id = capdata_stack(sym->cd, sym->ids, (uint32_t)res->n,
			   res->complete ? CAP_STACK_COMPLETE : CAP_STACK_TRUNCATED);
	if (id < 0)
		goto cleanup;
	val.stack_id = (uint32_t)id;
	/* An unwind whose reads were not all logged cannot be verified later. */
	if (!res->reads_full)
		ucache__insert(sym->ucache, &key, sp, len, res->reads, res->nreads, &val);

cleanup:
	if (id >= 0) {
		sym->st.unknown_pcs += val.unknown_pcs;
		sym->st.maps_refresh_wanted += val.outside_pcs;
	}
	sym->st.unwind_ns += mono_ns() - t0;
	return id;
}

/* Resolves one kernel address through the kernel frame cache; the leaf is
 * looked up at its own address, return addresses at addr - 1 (a call at the
 * very end of a function returns into the next one). */
static struct kentry *kernel_entry(struct symbolizer *sym, uint64_t addr, bool leaf)
{
	uint32_t lf = leaf ? KF_LEAF : 0;
	struct kentry *e = &sym->kcache[htab_hash_u64(HTAB_HASH_SEED, addr ^ lf) & (KCACHE_SLOTS - 1)];
	const struct ksym *ks;

	if ((e->flags & KF_USED) && e->addr == addr && (e->flags & KF_LEAF) == lf)
		return e;
	ks = sym->ks ? ksyms__find(sym->ks, leaf ? addr : addr - 1) : NULL;
	*e = (struct kentry){ .addr = addr, .frame = UINT32_MAX, .flags = KF_USED | lf };
	if (!ks)
		e->flags |= KF_UNKNOWN;
	else if (ksyms__is_bpf_glue(ks->name, ks->module))
		e->flags |= KF_GLUE;
	return e;
}

static int64_t kernel_frame(struct symbolizer *sym, struct kentry *e, uint64_t addr, bool leaf)
{
	const struct ksym *ks;
	int64_t fid;

	if (e->frame != UINT32_MAX)
		return e->frame;
	ks = (e->flags & KF_UNKNOWN) ? NULL : ksyms__find(sym->ks, leaf ? addr : addr - 1);
	fid = capdata_frame(sym->cd, ks ? ks->name : "[unknown]", addr, ST_NO_MAPPING, true);
	if (fid >= 0)
		e->frame = (uint32_t)fid;
	return fid;
}

/* Kernels with CONFIG_KALLSYMS_ALL (6.1) list data symbols: a static lock
 * (rtnl_mutex, cgroup_mutex) is named by the one it lies in. Without it only
 * a few section markers are listed, which would name nothing truly: then, and
 * for an address more than 4 KiB into its symbol, NULL. */
const char *symbolizer_kdata_name(struct symbolizer *sym, uint64_t addr, uint64_t *offset)
{
	const struct ksym *ks;

	if (!sym || !sym->kallsyms_path)
		return NULL;
	if (!sym->kdata_tried) {
		sym->kdata_tried = true;
		if (ksyms__load_data(sym->kallsyms_path, &sym->kdata) == 0 && ksyms__count(sym->kdata) < 1000) {
			ksyms__free(sym->kdata);
			sym->kdata = NULL;
		}
	}
	ks = sym->kdata ? ksyms__find(sym->kdata, addr) : NULL;
	if (!ks || addr - ks->addr >= 4096)
		return NULL;
	*offset = addr - ks->addr;
	return ks->name;
}

static bool kernel_name_is(struct symbolizer *sym, uint64_t addr, bool leaf, const char *name)
{
	const struct ksym *ks = ksyms__find(sym->ks, leaf ? addr : addr - 1);

	return ks && ks->name && strcmp(ks->name, name) == 0;
}

int64_t symbolizer_kstack(struct symbolizer *sym, const uint64_t *ips, size_t n)
{
	size_t i, start = 0, nout = 0;
	struct kentry *e;
	int64_t fid;

	if (!sym || !ips || !n)
		return -EINVAL;
	sym->st.kstacks++;
	if (n > KSTACK_MAX)
		n = KSTACK_MAX;
	/* The capture's own frames sit at the leaf: the BPF program, the
	 * tracepoint glue, bpf_get_stack. Cut everything up to the rootmost of
	 * them (a program JIT-ed after kallsyms was read has no name of its own),
	 * then any unnamed leftovers at the new leaf. */
	for (i = 0; i < n; i++) {
		e = kernel_entry(sym, ips[i], i == 0);
		sym->kflags[i] = ips[i] ? e->flags : KF_UNKNOWN;
		if (sym->kflags[i] & KF_GLUE)
			start = i + 1;
	}
	while (sym->ks && start < n && (sym->kflags[start] & KF_UNKNOWN))
		start++;
	/* A kprobe or fentry on finish_task_switch (the switch-in hook of kernels
	 * without sched_exit_tp) starts the stack in that function; sched_exit_tp
	 * starts it in __schedule, its caller. Dropped, so that a wait folds to
	 * the same frames whatever the hook. */
	if (sym->ks && start + 1 < n && kernel_name_is(sym, ips[start], start == 0, "finish_task_switch") &&
	    kernel_name_is(sym, ips[start + 1], false, "__schedule"))
		start++;
	for (i = n; i-- > start;) {
		if (!ips[i] || (sym->kflags[i] & KF_GLUE))
			continue;
		/* The cache slot may have been reused by another address of this stack. */
		e = kernel_entry(sym, ips[i], i == 0);
		fid = kernel_frame(sym, e, ips[i], i == 0);
		if (fid < 0)
			return fid;
		sym->st.unknown_pcs += !!(e->flags & KF_UNKNOWN);
		sym->ids[nout++] = (uint32_t)fid;
	}
	if (!nout) {
		fid = capdata_frame(sym->cd, "[unknown]", 0, ST_NO_MAPPING, true);
		if (fid < 0)
			return fid;
		sym->ids[nout++] = (uint32_t)fid;
	}
	return capdata_stack(sym->cd, sym->ids, (uint32_t)nout, CAP_STACK_COMPLETE);
}

int64_t symbolizer_placeholder(struct symbolizer *sym, const char *what,
			       enum cap_stack_status status)
{
	int64_t fid;
	uint32_t id;

	if (!sym || !what)
		return -EINVAL;
	fid = capdata_frame(sym->cd, what, 0, ST_NO_MAPPING, false);
	if (fid < 0)
		return fid;
	id = (uint32_t)fid;
	return capdata_stack(sym->cd, &id, 1, status);
}

void symbolizer_stats(const struct symbolizer *sym, struct symbolizer_stats *out)
{
	if (sym)
		*out = sym->st;
	else
		memset(out, 0, sizeof(*out));
}
