/* late.c: symbolize_late: names, after the capture, the frames of binaries whose symbols it lacked. */
#include "symbolize/symbolize.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdwfl.h>

#include "symbolize/debuginfo.h"
#include "symbolize/demangle.h"
#include "symbolize/modsyms.h"
#include "util/timeutil.h"

#define LATE_MAX_IDS 1024       /* build ids looked up per capture */
#define LATE_NAME_MAX 1024

struct want {
	const char *build_id;   /* the capdata's string */
	const char *file;       /* one of its mappings' files, for messages and a fallback */
	enum debuginfo_result res;
	char why[160];
};

/* "[file+0x1f]": the frame had no symbol at capture time. */
static bool unnamed(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && name[0] == '[' && name[n - 1] == ']' && strstr(name, "+0x");
}

static int no_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		  char **file_name, Elf **elfp)
{
	*file_name = NULL;
	return -1;
}

static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
			const char *file_name, const char *debuglink, GElf_Word crc, char **out)
{
	return -1;
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = no_elf,
	.find_debuginfo = no_debuginfo,
};

/* The link-time address of a file offset, through the file's PT_LOADs. */
static bool offset_vaddr(const struct debuginfo_load *l, size_t n, uint64_t off, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (off >= l[i].offset && off - l[i].offset < l[i].filesz) {
			*vaddr = off - l[i].offset + l[i].vaddr;
			return true;
		}
	}
	return false;
}

/* Renames every user frame of build id w's mappings from the debug file at path. */
static int name_frames(struct capdata *cd, const struct want *w, const char *path,
		       const bool *caller, uint64_t *named)
{
	struct debuginfo_load loads[DEBUGINFO_MAX_LOADS];
	struct modsyms *ms = NULL;
	char name[LATE_NAME_MAX];
	Dwfl_Module *mod;
	Dwarf_Addr bias;
	GElf_Addr saddr;
	GElf_Sym sym;
	const char *s;
	uint64_t vaddr, addr;
	size_t nloads, i;
	int64_t ndx;
	Dwfl *dwfl;
	int err = 0;

	nloads = debuginfo__loads(w->build_id, loads, DEBUGINFO_MAX_LOADS);
	if (!nloads)
		nloads = debuginfo__loads_from_file(w->file, w->build_id, loads, DEBUGINFO_MAX_LOADS);
	if (!nloads)
		return -ENOENT;
	dwfl = dwfl_begin(&offline_callbacks);
	if (!dwfl)
		return -ENOMEM;
	dwfl_report_begin(dwfl);
	mod = dwfl_report_elf(dwfl, w->file, path, -1, 0, false);
	dwfl_report_end(dwfl, NULL, NULL);
	if (!mod || !dwfl_module_getelf(mod, &bias)) {
		err = -ENOENT;
		goto cleanup;
	}
	err = modsyms__build(mod, &ms);
	if (err)
		goto cleanup;
	for (i = 0; i < cd->nframes; i++) {
		const struct cap_frame *f = &cd->frames[i];
		const struct cap_mapping *m;

		if (f->kernel || f->mapping == ST_NO_MAPPING || f->mapping >= cd->nmappings)
			continue;
		m = &cd->mappings[f->mapping];
		if (!m->build_id || strcmp(m->build_id, w->build_id) != 0)
			continue;
		/* a return address is looked up at the call (pc - 1), as at capture time */
		addr = caller[i] && f->addr ? f->addr - 1 : f->addr;
		if (addr < m->start || addr >= m->limit ||
		    !offset_vaddr(loads, nloads, addr - m->start + m->offset, &vaddr))
			continue;
		ndx = modsyms__find(ms, vaddr + bias);
		s = ndx < 0 ? NULL : dwfl_module_getsym_info(mod, (int)ndx, &sym, &saddr, NULL, NULL, NULL);
		if (!s || !s[0])
			continue;
		symbolize_demangle(s, name, sizeof(name));
		if (strcmp(name, f->name) != 0 && capdata_rename_frame(cd, (uint32_t)i, name) == 0)
			(*named)++;
	}
cleanup:
	modsyms__free(ms);
	dwfl_end(dwfl);
	return err;
}

static const char *basename_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static void set_stats(struct capdata *cd, const struct symbolize_late_result *r)
{
	capdata_set_stat(cd, "symbols_wanted", r->wanted);
	capdata_set_stat(cd, "symbols_found", r->found);
	capdata_set_stat(cd, "symbols_not_found", r->not_found);
	capdata_set_stat(cd, "symbols_timed_out", r->timed_out);
	capdata_set_stat(cd, "symbols_failed", r->failed + r->no_server);
	capdata_set_stat(cd, "symbols_lookup_ns", r->lookup_ns);
	capdata_set_stat(cd, "symbols_named_frames", r->frames_named);
}

int symbolize_late(struct capdata *cd, const struct symbolize_late_opts *o,
		   struct symbolize_late_result *r)
{
	struct want *w = NULL;
	bool *caller = NULL, cached;
	size_t nw = 0, i, j, nbad = 0;
	uint64_t t0 = mono_ns(), deadline, share;
	char *path;
	int err = 0;

	memset(r, 0, sizeof(*r));
	if (!cd || !o)
		return -EINVAL;
	deadline = t0 + o->timeout_ns;
	w = calloc(LATE_MAX_IDS, sizeof(*w));
	caller = calloc(cd->nframes ? cd->nframes : 1, sizeof(*caller));
	if (!w || !caller) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* the binaries, by build id, that left frames unnamed */
	for (i = 0; i < cd->nframes && nw < LATE_MAX_IDS; i++) {
		const struct cap_frame *f = &cd->frames[i];
		const struct cap_mapping *m;

		if (f->kernel || f->mapping >= cd->nmappings || !unnamed(f->name))
			continue;
		m = &cd->mappings[f->mapping];
		if (!m->build_id || !m->build_id[0])
			continue;
		for (j = 0; j < nw && strcmp(w[j].build_id, m->build_id) != 0; j++)
			;
		if (j == nw)
			w[nw++] = (struct want){ .build_id = m->build_id, .file = m->file };
	}
	r->wanted = (unsigned int)nw;
	if (!nw)
		goto cleanup;
	for (i = 0; i < cd->nstacks; i++) {
		const struct cap_stack *st = &cd->stacks[i];

		for (j = 0; j + 1 < st->nframes; j++)
			caller[st->frames[j]] = true; /* root first: all but the last are callers */
	}
	for (i = 0; i < nw; i++) {
		uint64_t now = mono_ns();

		/* each lookup gets an equal share of what is left */
		share = now < deadline ? (deadline - now) / (nw - i) : 0;
		w[i].res = debuginfo__lookup(w[i].build_id, now + share, &path, w[i].why,
					     sizeof(w[i].why), &cached);
		switch (w[i].res) {
		case DEBUGINFO_FOUND:
			r->found++;
			if (name_frames(cd, &w[i], path, caller, &r->frames_named) != 0) {
				w[i].res = DEBUGINFO_FAILED;
				snprintf(w[i].why, sizeof(w[i].why), "%s: no symbols usable", path);
				r->found--;
				r->failed++;
			}
			free(path);
			break;
		case DEBUGINFO_NOT_FOUND: r->not_found++; break;
		case DEBUGINFO_TIMED_OUT: r->timed_out++; break;
		case DEBUGINFO_FAILED: r->failed++; break;
		case DEBUGINFO_NO_SERVER: r->no_server++; break;
		}
	}
	r->lookup_ns = mono_ns() - t0;
	for (i = 0; i < nw; i++) {
		if (w[i].res == DEBUGINFO_FOUND)
			continue;
		if (!nbad++)
			snprintf(r->why, sizeof(r->why), "%s (build id %.12s...): %s", basename_of(w[i].file),
				 w[i].build_id, w[i].why);
	}
	if (nbad > 1) {
		size_t len = strlen(r->why);

		snprintf(r->why + len, sizeof(r->why) - len, "; and %zu more binar%s", nbad - 1,
			 nbad == 2 ? "y" : "ies");
	}
	set_stats(cd, r);

cleanup:
	free(w);
	free(caller);
	return err;
}
