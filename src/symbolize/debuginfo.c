/* debuginfo.c: separate debug info by build id: the registry, the live local search, debuginfod lookups. */
#include "symbolize/debuginfo.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/debuginfod.h>
#include <elfutils/libdwelf.h>

#include "util/timeutil.h"

enum dstate { D_NONE, D_FOUND, D_MISS };

struct dentry {
	char id[DEBUGINFO_BUILD_ID_MAX];
	struct debuginfo_load loads[DEBUGINFO_MAX_LOADS];
	uint32_t nloads;
	enum dstate state;
	enum debuginfo_result miss;     /* D_MISS: what the lookup said */
	char *path;                     /* D_FOUND: the debug file */
	uint64_t retry_ns;              /* D_MISS: not asked again before */
	uint64_t stamp;
	char why[128];
};

static struct {
	pthread_mutex_t mu;
	struct dentry *e;               /* DEBUGINFO_MAX_ENTRIES, allocated on first use */
	size_t n;
	uint64_t clock;
} reg = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The entry of id, created (replacing the least recently used one when full)
 * if create. Called with reg.mu held. */
static struct dentry *entry(const char *id, bool create)
{
	struct dentry *victim = NULL;
	size_t i;

	if (!id || strlen(id) >= DEBUGINFO_BUILD_ID_MAX)
		return NULL;
	for (i = 0; i < reg.n; i++) {
		if (strcmp(reg.e[i].id, id) == 0) {
			reg.e[i].stamp = ++reg.clock;
			return &reg.e[i];
		}
	}
	if (!create)
		return NULL;
	if (!reg.e) {
		reg.e = calloc(DEBUGINFO_MAX_ENTRIES, sizeof(*reg.e));
		if (!reg.e)
			return NULL;
	}
	if (reg.n < DEBUGINFO_MAX_ENTRIES) {
		victim = &reg.e[reg.n++];
	} else {
		victim = &reg.e[0];
		for (i = 1; i < reg.n; i++)
			if (reg.e[i].stamp < victim->stamp)
				victim = &reg.e[i];
		free(victim->path);
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->id, sizeof(victim->id), "%s", id);
	victim->stamp = ++reg.clock;
	return victim;
}

void debuginfo__reset(void)
{
	size_t i;

	pthread_mutex_lock(&reg.mu);
	for (i = 0; i < reg.n; i++)
		free(reg.e[i].path);
	free(reg.e);
	reg.e = NULL;
	reg.n = 0;
	pthread_mutex_unlock(&reg.mu);
}

static size_t read_loads(Elf *elf, struct debuginfo_load *out, size_t max)
{
	size_t nph, i, n = 0;
	GElf_Phdr ph;

	if (!elf || elf_getphdrnum(elf, &nph) != 0)
		return 0;
	for (i = 0; i < nph && n < max; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		out[n++] = (struct debuginfo_load){ .offset = ph.p_offset, .vaddr = ph.p_vaddr,
						    .filesz = ph.p_filesz };
	}
	return n;
}

void debuginfo__note_loads(const char *build_id, Elf *elf)
{
	struct debuginfo_load loads[DEBUGINFO_MAX_LOADS];
	size_t n = read_loads(elf, loads, DEBUGINFO_MAX_LOADS);
	struct dentry *e;

	if (!n)
		return;
	pthread_mutex_lock(&reg.mu);
	e = entry(build_id, true);
	if (e && !e->nloads) {
		memcpy(e->loads, loads, n * sizeof(*loads));
		e->nloads = (uint32_t)n;
	}
	pthread_mutex_unlock(&reg.mu);
}

size_t debuginfo__loads(const char *build_id, struct debuginfo_load *out, size_t max)
{
	struct dentry *e;
	size_t n = 0;

	pthread_mutex_lock(&reg.mu);
	e = entry(build_id, false);
	if (e) {
		n = e->nloads < max ? e->nloads : max;
		memcpy(out, e->loads, n * sizeof(*out));
	}
	pthread_mutex_unlock(&reg.mu);
	return n;
}

/* The build id of elf as lowercase hex into buf; false when it has none. */
static bool elf_build_id_hex(Elf *elf, char *buf, size_t len)
{
	const unsigned char *bits;
	ssize_t n, i;

	n = elf ? dwelf_elf_gnu_build_id(elf, (const void **)&bits) : -1;
	if (n <= 0 || (size_t)n * 2 + 1 > len)
		return false;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", bits[i]);
	return true;
}

size_t debuginfo__loads_from_file(const char *path, const char *build_id,
				  struct debuginfo_load *out, size_t max)
{
	char id[DEBUGINFO_BUILD_ID_MAX];
	struct stat st;
	size_t n = 0;
	Elf *elf;
	int fd;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf_build_id_hex(elf, id, sizeof(id)) && strcmp(id, build_id) == 0)
		n = read_loads(elf, out, max);
	elf_end(elf);
	close(fd);
	return n;
}

/* The module's build id as hex; false when it has none. */
static bool module_build_id_hex(Dwfl_Module *mod, char *buf, size_t len)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr), i;

	if (n <= 0 || (size_t)n * 2 + 1 > len)
		return false;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", bits[i]);
	return true;
}

/* Opens path as a debug file for a module of build id want ("" : any), not
 * the main file itself. Returns the fd and sets *name, or -1. */
static int try_debug_file(const char *path, const char *want, const struct stat *main_st,
			  char **name)
{
	char id[DEBUGINFO_BUILD_ID_MAX];
	struct stat st;
	bool ok = true;
	Elf *elf;
	int fd;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	if (main_st && st.st_dev == main_st->st_dev && st.st_ino == main_st->st_ino)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (want[0]) {
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		ok = elf_build_id_hex(elf, id, sizeof(id)) && strcmp(id, want) == 0;
		elf_end(elf);
	}
	*name = ok ? strdup(path) : NULL;
	if (!*name) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether libdwfl asks for the module's own debug file, not a dwz alt file
 * (asked with the .gnu_debugaltlink name and no CRC): the name is the main
 * file's .gnu_debuglink, or none. */
static bool asks_for_main_debug(Dwfl_Module *mod, const char *debuglink, GElf_Word crc)
{
	GElf_Word main_crc = 0;
	Dwarf_Addr bias;
	const char *link;
	Elf *elf;

	if (!debuglink)
		return true;
	elf = dwfl_module_getelf(mod, &bias);
	link = elf ? dwelf_elf_gnu_debuglink(elf, &main_crc) : NULL;
	return link && strcmp(link, debuglink) == 0 && crc == main_crc;
}

int debuginfo__find_local(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	char id[DEBUGINFO_BUILD_ID_MAX] = "", path[4096], *dir = NULL, *cached = NULL;
	const char *in_root, *slash;
	struct stat main_st;
	struct dentry *e;
	int fd;

	/* /usr/lib/debug/.build-id/xx/yyyy.debug, build ids checked; alt files too */
	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (fd >= 0 || !asks_for_main_debug(mod, debuglink_file, debuglink_crc))
		return fd;
	module_build_id_hex(mod, id, sizeof(id));
	if (id[0]) {
		pthread_mutex_lock(&reg.mu);
		e = entry(id, false);
		if (e && e->state == D_FOUND)
			cached = strdup(e->path);
		pthread_mutex_unlock(&reg.mu);
		if (cached) {
			fd = try_debug_file(cached, id, NULL, debuginfo_file_name);
			free(cached);
			if (fd >= 0)
				return fd;
		}
	}
	if (!debuglink_file || !file_name || !(slash = strrchr(file_name, '/')))
		return -1;
	dir = strndup(file_name, (size_t)(slash - file_name));
	if (!dir)
		return -1;
	if (stat(file_name, &main_st) != 0)
		memset(&main_st, 0, sizeof(main_st));
	/* next to the file, in its .debug/, and under the host's /usr/lib/debug
	 * by the file's directory in its own mount namespace (after .../root) */
	in_root = strstr(dir, "/root/");
	in_root = in_root ? in_root + 5 : dir;
	fd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, debuglink_file) < (int)sizeof(path))
		fd = try_debug_file(path, id, &main_st, debuginfo_file_name);
	if (fd < 0 && snprintf(path, sizeof(path), "%s/.debug/%s", dir, debuglink_file) < (int)sizeof(path))
		fd = try_debug_file(path, id, &main_st, debuginfo_file_name);
	if (fd < 0 && snprintf(path, sizeof(path), "/usr/lib/debug%s/%s", in_root, debuglink_file) <
			      (int)sizeof(path))
		fd = try_debug_file(path, id, &main_st, debuginfo_file_name);
	free(dir);
	return fd;
}

/* ---- debuginfod ---- */

struct lookup_ctx {
	uint64_t deadline_ns;
	bool fired;
};

/* Called by the client between its waits (at least once a second): a non-zero
 * return abandons the lookup. */
static int progress(debuginfod_client *c, long a, long b)
{
	struct lookup_ctx *ctx = debuginfod_get_user_data(c);

	if (mono_ns() < ctx->deadline_ns)
		return 0;
	ctx->fired = true;
	return 1;
}

static void remember(const char *id, enum debuginfo_result r, const char *path, const char *why)
{
	struct dentry *e;

	pthread_mutex_lock(&reg.mu);
	e = entry(id, true);
	if (e) {
		free(e->path);
		e->path = NULL;
		if (r == DEBUGINFO_FOUND) {
			e->state = D_FOUND;
			e->path = strdup(path);
			if (!e->path)
				e->state = D_NONE;
		} else {
			e->state = D_MISS;
			e->miss = r;
			e->retry_ns = mono_ns() + (r == DEBUGINFO_NOT_FOUND ? DEBUGINFO_MISS_TTL_NS
									 : DEBUGINFO_FAIL_TTL_NS);
			snprintf(e->why, sizeof(e->why), "%s", why);
		}
	}
	pthread_mutex_unlock(&reg.mu);
}

enum debuginfo_result debuginfo__lookup(const char *build_id, uint64_t deadline_ns, char **path,
					char *why, size_t whylen, bool *cached)
{
	struct lookup_ctx ctx = { .deadline_ns = deadline_ns };
	enum debuginfo_result r = DEBUGINFO_FAILED;
	const char *urls = getenv(DEBUGINFOD_URLS_ENV_VAR);
	debuginfod_client *c;
	struct dentry *e;
	char *p = NULL;
	int fd;

	*path = NULL;
	*cached = false;
	snprintf(why, whylen, "%s", "");
	pthread_mutex_lock(&reg.mu);
	e = entry(build_id, false);
	if (e && e->state == D_FOUND && access(e->path, R_OK) == 0) {
		*path = strdup(e->path);
		r = *path ? DEBUGINFO_FOUND : DEBUGINFO_FAILED;
		*cached = true;
	} else if (e && e->state == D_MISS && mono_ns() < e->retry_ns) {
		r = e->miss;
		snprintf(why, whylen, "%s (cached)", e->why);
		*cached = true;
	}
	pthread_mutex_unlock(&reg.mu);
	if (*cached)
		return r;
	if (!urls || !urls[0]) {
		snprintf(why, whylen, "DEBUGINFOD_URLS is not set");
		return DEBUGINFO_NO_SERVER;
	}
	if (mono_ns() >= deadline_ns) {
		snprintf(why, whylen, "no time left before the deadline");
		return DEBUGINFO_TIMED_OUT;
	}
	c = debuginfod_begin();
	if (!c) {
		snprintf(why, whylen, "debuginfod client: %s", strerror(errno));
		return DEBUGINFO_FAILED;
	}
	debuginfod_set_user_data(c, &ctx);
	debuginfod_set_progressfn(c, progress);
	fd = debuginfod_find_debuginfo(c, (const unsigned char *)build_id, 0, &p);
	debuginfod_end(c);
	if (fd >= 0) {
		close(fd);
		*path = p;
		remember(build_id, DEBUGINFO_FOUND, p, "");
		return DEBUGINFO_FOUND;
	}
	free(p);
	if (ctx.fired || fd == -EINTR) {
		snprintf(why, whylen, "debuginfod gave no answer before the deadline");
		r = DEBUGINFO_TIMED_OUT;
	} else if (fd == -ENOENT) {
		snprintf(why, whylen, "debuginfod has no debug info for it");
		r = DEBUGINFO_NOT_FOUND;
	} else {
		snprintf(why, whylen, "debuginfod: %s", strerror(-fd));
		r = DEBUGINFO_FAILED;
	}
	remember(build_id, r, NULL, why);
	return r;
}
