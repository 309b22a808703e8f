/* modsyms.c: a sorted index of one libdwfl module's code symbols. */
#include "symbolize/modsyms.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <gelf.h>

#define LOOKBACK 8 /* earlier symbols tried when the nearest one does not cover */

struct msym {
	uint64_t addr;
	uint64_t size;          /* sizeless symbols: up to the end of their section */
	uint32_t ndx;           /* symbol index in the module's table */
	uint8_t rank;           /* binding: 2 global, 1 weak, 0 local */
	uint8_t sized;          /* the symbol has a size of its own */
};

struct modsyms {
	struct msym *s;
	size_t n;
};

static uint8_t binding_rank(const GElf_Sym *sym)
{
	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL:
		return 2;
	case STB_WEAK:
	case STB_GNU_UNIQUE:
		return 1;
	default:
		return 0;
	}
}

static int msym_cmp(const void *pa, const void *pb)
{
	const struct msym *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->sized != b->sized)
		return a->sized ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank > b->rank ? -1 : 1;
	return a->ndx < b->ndx ? -1 : a->ndx > b->ndx;
}

int modsyms__build(Dwfl_Module *mod, struct modsyms **out)
{
	struct modsyms *ms = NULL;
	int nsyms = dwfl_module_getsymtab(mod), i;
	size_t n = 0, j, k;
	GElf_Word shndx;
	GElf_Addr addr;
	Dwarf_Addr bias;
	Elf *elf;
	GElf_Sym sym;
	const char *name;
	int err;

	if (nsyms <= 0)
		return -ENOENT;
	if ((unsigned int)nsyms > MODSYMS_MAX)
		return -E2BIG;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->s = malloc((size_t)nsyms * sizeof(*ms->s));
	if (!ms->s) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < nsyms; i++) {
		name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias);
		if (!name || !name[0] || !addr)
			continue;
		switch (GELF_ST_TYPE(sym.st_info)) {
		case STT_FUNC:
		case STT_GNU_IFUNC:
		case STT_NOTYPE:
			break;
		default:
			continue;
		}
		if (shndx == SHN_UNDEF || shndx == SHN_ABS)
			continue;
		ms->s[n] = (struct msym){ .addr = addr, .size = sym.st_size, .ndx = (uint32_t)i,
					  .rank = binding_rank(&sym), .sized = sym.st_size != 0 };
		/* A sizeless label (_init, asm entry points) reaches no further than
		 * its section, as libdwfl has it: not over .plt or into headers. */
		if (!sym.st_size) {
			Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
			GElf_Shdr sh;

			if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_addr + sh.sh_size + bias <= addr)
				continue;
			ms->s[n].size = sh.sh_addr + sh.sh_size + bias - addr;
		}
		n++;
	}
	if (!n) {
		err = -ENOENT;
		goto cleanup;
	}
	qsort(ms->s, n, sizeof(*ms->s), msym_cmp);
	for (j = 1, k = 1; j < n; j++)
		if (ms->s[j].addr != ms->s[k - 1].addr)
			ms->s[k++] = ms->s[j];
	ms->n = k;
	*out = ms;
	return 0;

cleanup:
	modsyms__free(ms);
	return err;
}

void modsyms__free(struct modsyms *ms)
{
	if (!ms)
		return;
	free(ms->s);
	free(ms);
}

static bool covers(const struct msym *m, uint64_t addr)
{
	return addr >= m->addr && addr - m->addr < m->size;
}

int64_t modsyms__find(const struct modsyms *ms, uint64_t addr)
{
	size_t lo = 0, hi = ms->n, mid, i;

	if (!ms->n || addr < ms->s[0].addr)
		return -1;
	/* Invariant: s[lo].addr <= addr < s[hi].addr (hi == n: infinity). */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (ms->s[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ms->s[lo].sized && covers(&ms->s[lo], addr))
		return ms->s[lo].ndx;
	/* A sized symbol that started earlier may still span addr (a label
	 * inside a function, overlapping ranges): it wins over a sizeless one. */
	for (i = 1; i <= LOOKBACK && i <= lo; i++)
		if (ms->s[lo - i].sized && covers(&ms->s[lo - i], addr))
			return ms->s[lo - i].ndx;
	if (!ms->s[lo].sized && covers(&ms->s[lo], addr))
		return ms->s[lo].ndx;
	return -1;
}
