/* uproc.c: a target process's libdwfl session: unwinding from stack copies, naming pcs. */
#include "symbolize/uproc.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <libelf.h>

#include "symbolize/debuginfo.h"
#include "symbolize/demangle.h"
#include "symbolize/elfcheck.h"
#include "symbolize/modsyms.h"

#define VDSO_NAME "[vdso]"
#define VDSO_MAX_IMAGE (1u << 20)

/* The unwind in progress: what the libdwfl thread callbacks read from. */
struct unwind_ctx {
	const uint64_t *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t sp;
	struct unwind_result *res;
};

struct uproc {
	pid_t pid;
	char *root;             /* "<proc_root>/<pid>/root": prefix of every ELF path */
	char *parent_root;      /* the parent's, for a forked child once it is gone; or NULL */
	char *exe;              /* the executable as maps names it (symlinks resolved), or NULL */
	char *exe_as_run;       /* the name it was run by, when that is a link to it, or NULL */
	struct maps *maps;
	Dwfl *dwfl;             /* NULL while closed */
	Elf *arch_elf;          /* tells dwfl_attach_state the architecture; lives as long as dwfl */
	bool attached;          /* dwfl_attach_state succeeded: unwinding possible */
	struct unwind_ctx cur;
};

/* The vDSO is not a file: every 64-bit process of this kernel maps the same
 * image, so a copy of ours stands in for the target's (whose memory we must
 * not read: that takes its mmap_lock). Copied once, kept for the life of the
 * process, shared by every session. */
static struct {
	pthread_once_t once;
	char *image;
	size_t len;
} vdso = { .once = PTHREAD_ONCE_INIT };

static void vdso_init(void)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Phdr *ph;
	size_t len, i;

	elf_version(EV_CURRENT);
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return;
	/* The image is the whole .so (sections included), within the mapping. */
	len = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_offset + ph[i].p_filesz > len)
			len = (size_t)(ph[i].p_offset + ph[i].p_filesz);
	if (len > VDSO_MAX_IMAGE)
		return;
	vdso.image = malloc(len);
	if (!vdso.image)
		return;
	memcpy(vdso.image, eh, len);
	vdso.len = len;
}

static Elf *vdso_elf(void)
{
	pthread_once(&vdso.once, vdso_init);
	return vdso.image ? elf_memory(vdso.image, vdso.len) : NULL;
}

/* Dwfl_Callbacks.find_elf: module names are the paths to open (see report_modules). */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	struct stat st;
	int fd;

	*file_name = NULL;
	if (strcmp(modname, VDSO_NAME) == 0) {
		*elfp = vdso_elf();
		return -1;
	}
	/* Only regular files: opening a mapped device could block. */
	if (modname[0] != '/' || stat(modname, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	fd = open(modname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* someone else's file: within the caps before libdwfl reads it */
	if (elfcheck__fd(fd, NULL, 0)) {
		close(fd);
		return -1;
	}
	/* Read with pread, not mapped (libdwfl's default): a file cut short in
	 * place while we hold it would turn a read of the mapping into SIGBUS. */
	*elfp = elf_begin(fd, ELF_C_READ, NULL);
	*file_name = strdup(modname);
	if (!*file_name || !*elfp) {
		elf_end(*elfp);
		*elfp = NULL;
		free(*file_name);
		*file_name = NULL;
		close(fd);
		return -1;
	}
	return fd;
}

/* Dwfl_Callbacks.find_debuginfo: libdwfl's search (.gnu_debuglink beside the
 * target's file, /usr/lib/debug), with what it finds held to the same caps. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	/* never the network (dwfl_standard_find_debuginfo asks debuginfod when
	 * DEBUGINFOD_URLS is set): symbolize_late does that after the window */
	int fd = debuginfo__find_local(mod, userdata, modname, base, file_name, debuglink_file,
				       debuglink_crc, debuginfo_file_name);

	if (fd >= 0 && elfcheck__fd(fd, NULL, 0)) {
		close(fd);
		free(*debuginfo_file_name);
		*debuginfo_file_name = NULL;
		return -1;
	}
	return fd;
}

static char *debuginfo_path; /* NULL: libdwfl's default, ":.debug:/usr/lib/debug" */

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	return 0; /* threads are only ever asked for by tid */
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return true;
}

/* A read's address as an offset from sp: below sp and far above it, any
 * value outside every copy does (see struct uread). */
static int32_t read_offset(uint64_t addr, uint64_t sp)
{
	if (addr < sp)
		return -1;
	return addr - sp > INT32_MAX ? INT32_MAX : (int32_t)(addr - sp);
}

static void log_read(struct unwind_result *res, int32_t off, bool ok, uint64_t val)
{
	struct uread r = { .off = off, .ok = ok, .val = ok ? val : 0 };

	/* libdwfl may ask twice in a row; once tells the same. */
	if (res->nreads && memcmp(&res->reads[res->nreads - 1], &r, sizeof(r)) == 0)
		return;
	if (res->nreads == UPROC_MAX_READS) {
		res->reads_full = true;
		return;
	}
	res->reads[res->nreads++] = r;
}

/* Serves words only from the copy; every answer is logged for the unwind cache. */
static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct uproc *p = arg;
	const struct unwind_ctx *c = &p->cur;
	bool ok = addr >= c->sp && c->len >= sizeof(*result) &&
		  addr - c->sp <= c->len - sizeof(*result);

	if (ok)
		memcpy(result, c->stack + (addr - c->sp), sizeof(*result));
	log_read(c->res, read_offset(addr, c->sp), ok, ok ? *result : 0);
	return ok;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct uproc *p = arg;

	return dwfl_thread_state_registers(thread, 0, SYM_NREGS, p->cur.regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static bool is_deleted(const char *path)
{
	size_t n = strlen(path), k = strlen(" (deleted)");

	return n >= k && strcmp(path + n - k, " (deleted)") == 0;
}

/* Whether path now holds another file than the one line maps (renamed over
 * since the maps were read: its symbols would be wrong). Only a file on the
 * device the maps name is compared: through overlayfs the maps may name the
 * layer's device and inode, and nothing can be told. */
static bool replaced(const char *path, const struct maps_line *line)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return false; /* find_elf will not open it either */
	return line->ino && st.st_dev == makedev(line->dev_major, line->dev_minor) &&
	       (uint64_t)st.st_ino != line->ino;
}

/* Whether path is the very file line maps: same device and inode. */
static bool is_mapped_file(const char *path, const struct maps_line *line)
{
	struct stat st;

	return line->ino && stat(path, &st) == 0 && st.st_dev == makedev(line->dev_major, line->dev_minor) &&
	       (uint64_t)st.st_ino == line->ino;
}

/* The path to open line's file by, into path. libdwfl opens a file when it
 * first needs it, by which time a short-lived process may be gone, and its
 * /proc entry with it (a fork-per-connection server's child exits as soon as
 * its wait ends, while its block is being symbolized). So this process's own
 * view of the path first, when that is the very file (same device and
 * inode: no other file can pass for it), which no exit takes away; then,
 * for a forked child, its parent's root when that holds the very file (the
 * parent of a fork-per-connection server outlives its children), then its
 * own (a process in another mount namespace, a child that chrooted).
 * false: the path now holds another file. */
static bool module_path(const struct uproc *p, const struct maps_line *line, char *path, size_t size)
{
	struct stat st;

	if (is_mapped_file(line->path, line) && snprintf(path, size, "%s", line->path) < (int)size)
		return true;
	if (p->parent_root && snprintf(path, size, "%s%s", p->parent_root, line->path) < (int)size &&
	    stat(path, &st) == 0 && !replaced(path, line))
		return true;
	if (snprintf(path, size, "%s%s", p->root, line->path) >= (int)size)
		return false;
	return !replaced(path, line);
}

/* Reports one module per file, spanning its consecutive mappings, as
 * dwfl_linux_proc_maps_report would, but named by the path to open (see
 * module_path()), and with the vDSO. Deleted files are left out: the path
 * may now hold another build, whose symbols would be wrong. */
static void report_modules(struct uproc *p)
{
	const struct maps_line *l, *first = NULL;
	uint64_t end = 0;
	bool exec = false;
	char path[PATH_MAX];
	size_t i, n = maps__count(p->maps);

	for (i = 0; i <= n; i++) {
		l = i < n ? maps__line(p->maps, i) : NULL;
		if (l && (l->path[0] != '/' || (!l->ino && !l->dev_major && !l->dev_minor)) &&
		    strcmp(l->path, VDSO_NAME) != 0)
			continue; /* anonymous memory does not end a file's run of mappings */
		if (l && first && l->ino == first->ino && l->dev_major == first->dev_major &&
		    l->dev_minor == first->dev_minor && strcmp(l->path, first->path) == 0) {
			end = l->end;
			exec |= !!(l->perms & MAPS_X);
			continue;
		}
		if (first && exec && !is_deleted(first->path) && module_path(p, first, path, sizeof(path)))
			dwfl_report_module(p->dwfl, path, first->start, end);
		first = NULL;
		if (!l)
			break;
		if (strcmp(l->path, VDSO_NAME) == 0) {
			if (l->perms & MAPS_X)
				dwfl_report_module(p->dwfl, VDSO_NAME, l->start, l->end);
			continue;
		}
		first = l;
		end = l->end;
		exec = !!(l->perms & MAPS_X);
	}
}

static int session_open(struct uproc *p)
{
	if (p->dwfl)
		return 0;
	p->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!p->dwfl)
		return -ENOMEM;
	dwfl_report_begin(p->dwfl);
	report_modules(p);
	if (dwfl_report_end(p->dwfl, NULL, NULL) != 0) {
		uproc__close(p);
		return -ENOMEM;
	}
	/* Naming still works when this fails: unwinds then stop at the first frame. */
	p->arch_elf = vdso_elf();
	p->attached = dwfl_attach_state(p->dwfl, p->arch_elf, p->pid, &thread_callbacks, p);
	return 0;
}

/* Stands in a module's userdata for "its symbols could not be indexed". */
static char modsyms_none;

static int free_modsyms(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
			void *arg)
{
	if (*userdata != &modsyms_none)
		modsyms__free(*userdata);
	*userdata = NULL;
	return DWARF_CB_OK;
}

void uproc__close(struct uproc *p)
{
	if (p->dwfl) {
		dwfl_getmodules(p->dwfl, free_modsyms, NULL, 0);
		dwfl_end(p->dwfl);
	}
	if (p->arch_elf)
		elf_end(p->arch_elf);
	p->dwfl = NULL;
	p->arch_elf = NULL;
	p->attached = false;
}

bool uproc__is_open(const struct uproc *p)
{
	return p->dwfl != NULL;
}

/* Whether path (in the target's namespace, under root) is the file st describes. */
static bool same_file(const char *root, const char *path, const struct stat *st)
{
	char full[PATH_MAX];
	struct stat s;

	return snprintf(full, sizeof(full), "%s%s", root, path) < (int)sizeof(full) &&
	       stat(full, &s) == 0 && s.st_dev == st->st_dev && s.st_ino == st->st_ino;
}

/* The name in dir the process was run by: comm is the basename of the path
 * given to execve, cut at 15 bytes; a cut one is matched by prefix. */
static char *alias_in_dir(const char *root, const char *dir, const char *comm,
			  const struct stat *st)
{
	char path[PATH_MAX], full[PATH_MAX];
	struct dirent *de;
	char *found = NULL;
	DIR *d;

	if (strlen(comm) < 15) {
		snprintf(path, sizeof(path), "%s/%s", dir, comm);
		return same_file(root, path, st) ? strdup(path) : NULL;
	}
	if (snprintf(full, sizeof(full), "%s%s", root, dir) >= (int)sizeof(full) || !(d = opendir(full)))
		return NULL;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, comm, 15) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (same_file(root, path, st))
			found = strdup(path);
	}
	closedir(d);
	return found;
}

/* Finds the name the process runs under when it differs from the file the
 * kernel resolved (/usr/sbin/mysqld -> mariadbd, python3 -> python3.11):
 * /proc/PID/exe and the maps name the target of the symlink, comm the name
 * it was run by. Only a name that is a link to the very file (same device and
 * inode) is taken; a comm the process changed matches nothing. Neither read
 * takes the target's mmap_lock. */
static void find_exe_name(struct uproc *p, pid_t parent, const char *proc_root)
{
	static const char *const dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					    "/usr/bin", "/sbin", "/bin" };
	char path[PATH_MAX], exe[PATH_MAX], comm[64], own[16], dir[PATH_MAX];
	const char *base;
	struct stat st;
	ssize_t n;
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0 && parent > 0) {
		snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)parent);
		n = readlink(path, exe, sizeof(exe) - 1);
	} else {
		parent = p->pid;
	}
	if (n <= 0 || exe[0] != '/' || stat(path, &st) != 0)
		return;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/%d/comm", proc_root, (int)parent);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	base = strrchr(exe, '/') + 1;
	snprintf(own, sizeof(own), "%.15s", base);
	if (!comm[0] || strchr(comm, '/') || strcmp(own, comm) == 0)
		return; /* run by its own name (comm is it, cut at 15 bytes) */
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - exe), exe);
	p->exe_as_run = alias_in_dir(p->root, dir[0] ? dir : "/", comm, &st);
	for (i = 0; !p->exe_as_run && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (strcmp(dirs[i], dir) != 0)
			p->exe_as_run = alias_in_dir(p->root, dirs[i], comm, &st);
	if (p->exe_as_run)
		p->exe = strdup(exe);
	if (!p->exe) {
		free(p->exe_as_run);
		p->exe_as_run = NULL;
	}
}

const char *uproc__path_as_run(const struct uproc *p, const struct maps_line *line)
{
	if (p->exe && strcmp(line->path, p->exe) == 0)
		return p->exe_as_run;
	return line->path;
}

int uproc__new(pid_t pid, const char *proc_root, const char *maps_text, struct uproc **out)
{
	return uproc__new_child(pid, 0, proc_root, maps_text, out);
}

int uproc__new_child(pid_t pid, pid_t parent, const char *proc_root, const char *maps_text,
		     struct uproc **out)
{
	struct uproc *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	if (asprintf(&p->root, "%s/%d/root", proc_root, (int)pid) < 0) {
		p->root = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	if (parent > 0 && parent != pid && asprintf(&p->parent_root, "%s/%d/root", proc_root, (int)parent) < 0) {
		p->parent_root = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	err = maps__parse(maps_text, &p->maps);
	if (err)
		goto cleanup;
	find_exe_name(p, parent, proc_root);
	*out = p;
	return 0;

cleanup:
	uproc__free(p);
	return err;
}

void uproc__free(struct uproc *p)
{
	if (!p)
		return;
	uproc__close(p);
	maps__free(p->maps);
	free(p->root);
	free(p->parent_root);
	free(p->exe);
	free(p->exe_as_run);
	free(p);
}

const struct maps *uproc__maps(const struct uproc *p)
{
	return p->maps;
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct uproc *p = arg;
	struct unwind_result *res = p->cur.res;
	Dwarf_Addr pc;
	bool act = false;

	if (!dwfl_frame_pc(frame, &pc, &act) || res->n == UPROC_MAX_FRAMES)
		return DWARF_CB_ABORT;
	res->pcs[res->n] = pc;
	res->activation[res->n] = act;
	res->n++;
	return DWARF_CB_OK;
}

/* libdwfl ends a chain without an error both where the CFI says the return
 * address is undefined (_start, the clone child) and where reading it failed
 * (the copy ended): only the first is the thread's entry. Ask the CFI of the
 * last frame, found the way libdwfl found it (.eh_frame, then .debug_frame). */
static bool outermost(struct uproc *p, const struct unwind_result *res)
{
	uint64_t pc = res->pcs[res->n - 1];
	Dwarf_Addr addr = res->activation[res->n - 1] ? pc : pc - 1, bias;
	Dwfl_Module *mod = dwfl_addrmodule(p->dwfl, addr);
	Dwarf_Op ops_mem[3], *ops;
	Dwarf_Frame *frame;
	Dwarf_CFI *cfi;
	size_t nops;
	bool undefined;
	int pass, ra;

	for (pass = 0; mod && pass < 2; pass++) {
		cfi = pass == 0 ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
		if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame) != 0)
			continue;
		ra = dwarf_frame_info(frame, NULL, NULL, NULL);
		undefined = ra >= 0 && dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) == 0 &&
			    nops == 0 && ops == ops_mem;
		free(frame);
		return undefined;
	}
	return false;
}

int uproc__unwind(struct uproc *p, const uint64_t *regs, const uint8_t *stack, size_t len,
		  struct unwind_result *res)
{
	int err, rc;

	res->n = 0;
	res->nreads = 0;
	res->reads_full = false;
	res->complete = false;
	err = session_open(p);
	if (!err && p->attached) {
		p->cur = (struct unwind_ctx){ .regs = regs, .stack = stack, .res = res,
					      .len = len > UPROC_MAX_STACK ? UPROC_MAX_STACK : len,
					      .sp = regs[SYM_REG_RSP] };
		rc = dwfl_getthread_frames(p->dwfl, p->pid, frame_cb, p);
		p->cur = (struct unwind_ctx){ 0 };
		/* 0: the CFI said the return address is undefined (the outermost
		 * frame); -1: an error (read outside the copy, no CFI, ...); or our
		 * own abort at the depth cap. */
		res->complete = rc == 0 && res->n > 0 && outermost(p, res);
	}
	if (!res->n) {
		res->pcs[0] = regs[SYM_REG_RIP];
		res->activation[0] = true;
		res->n = 1;
		res->complete = false;
	}
	return err;
}

/* "libc.so.6" for "/usr/lib/x86_64-linux-gnu/libc.so.6", "vdso" for "[vdso]". */
static void file_label(const char *path, char *buf, size_t len)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n >= 2 && b[0] == '[' && b[n - 1] == ']') {
		b++;
		n -= 2;
	}
	snprintf(buf, len, "%.*s", (int)n, b);
}

/* The name of the symbol covering addr in mod, through the module's sorted
 * index (built on first use, kept in the module's userdata until the session
 * closes); dwfl_module_addrinfo, a linear scan, only if it cannot be built. */
static const char *module_symbol(Dwfl_Module *mod, uint64_t addr)
{
	struct modsyms *ms = NULL;
	void **userdata;
	GElf_Addr saddr;
	GElf_Off off;
	GElf_Sym sym;
	int64_t ndx;

	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	if (!*userdata)
		*userdata = modsyms__build(mod, &ms) == 0 ? (void *)ms : (void *)&modsyms_none;
	if (*userdata == &modsyms_none)
		return dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	ndx = modsyms__find(*userdata, addr);
	return ndx < 0 ? NULL : dwfl_module_getsym_info(mod, (int)ndx, &sym, &saddr, NULL, NULL, NULL);
}

int uproc__name(struct uproc *p, uint64_t pc, bool activation, char *buf, size_t len,
		struct uproc_pcinfo *info)
{
	uint64_t addr = activation || !pc ? pc : pc - 1;
	Dwfl_Module *mod = NULL;
	const char *name = NULL;
	char label[256];

	info->line = maps__find(p->maps, addr);
	info->unknown = true;
	if (session_open(p) == 0)
		mod = dwfl_addrmodule(p->dwfl, addr);
	if (mod)
		name = module_symbol(mod, addr);
	if (name && name[0]) {
		info->unknown = false;
		return symbolize_demangle(name, buf, len);
	}
	if (info->line && info->line->path[0]) {
		file_label(uproc__path_as_run(p, info->line), label, sizeof(label));
		snprintf(buf, len, "[%s+0x%" PRIx64 "]", label,
			 pc - info->line->start + info->line->offset);
	} else {
		snprintf(buf, len, "[unknown]");
	}
	return 0;
}

int uproc__build_id(struct uproc *p, const struct maps_line *line, char *buf, size_t len)
{
	const unsigned char *bits;
	Dwfl_Module *mod;
	GElf_Addr vaddr;
	Dwarf_Addr bias;
	Elf *elf;
	int n, i;

	if (session_open(p) != 0)
		return -ENOENT;
	mod = dwfl_addrmodule(p->dwfl, line->start);
	if (!mod || !(elf = dwfl_module_getelf(mod, &bias)))
		return -ENOENT;
	n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n <= 0 || len < (size_t)n * 2 + 1)
		return -ENOENT;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", bits[i]);
	/* symbolize_late turns file offsets into the debug file's addresses
	 * with these, after the file may be gone */
	debuginfo__note_loads(buf, elf);
	return 0;
}
