/* ksyms.c: /proc/kallsyms parser and address-to-symbol lookup. */
#include "symbolize/ksyms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KSYMS_MAX_NAMES_BYTES (256u << 20) /* all names together */
#define KSYMS_LINE_MAX 1024                 /* KSYM_NAME_LEN is 512, plus "[module]" */

/* A symbol while loading: names are offsets into the arena, which moves as it grows. */
struct kload {
	uint64_t addr;
	uint32_t name_off;
	uint32_t mod_off;       /* UINT32_MAX: core kernel */
	uint32_t seq;           /* file order, to keep the sort stable */
	uint8_t global;
	uint8_t end;            /* names the end of a text region, not code */
	uint8_t alias;          /* a secondary name, shown only when it is the only one */
};

struct ksyms {
	struct ksym *syms;
	uint8_t *end;           /* per symbol: an end marker (see ksyms.h) */
	size_t n;
	char *names;
};

struct arena {
	char *buf;
	size_t len, cap;
};

static int arena_add(struct arena *a, const char *s, size_t n, uint32_t *off)
{
	size_t need = a->len + n + 1, ncap;
	char *nb;

	if (need > KSYMS_MAX_NAMES_BYTES)
		return -E2BIG;
	if (need > a->cap) {
		ncap = a->cap ? a->cap * 2 : 1u << 16;
		while (ncap < need)
			ncap *= 2;
		if (ncap > KSYMS_MAX_NAMES_BYTES)
			ncap = KSYMS_MAX_NAMES_BYTES;
		nb = realloc(a->buf, ncap);
		if (!nb)
			return -ENOMEM;
		a->buf = nb;
		a->cap = ncap;
	}
	memcpy(a->buf + a->len, s, n);
	a->buf[a->len + n] = '\0';
	*off = (uint32_t)a->len;
	a->len = need;
	return 0;
}

static int kload_cmp(const void *pa, const void *pb)
{
	const struct kload *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	/* Code sharing its address with an end marker is still code. */
	if (a->end != b->end)
		return a->end ? 1 : -1;
	if (a->alias != b->alias)
		return a->alias ? 1 : -1;
	if (a->global != b->global)
		return a->global ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Parses "ffffffff81000000 T _stext" or "... t name\t[module]". Returns 1 for a
 * text symbol, 0 for a line to skip, -EINVAL for garbage. Slices point into line. */
static int parse_line(char *line, uint64_t *addr, char *type, char **name, size_t *namelen,
		      char **mod, size_t *modlen)
{
	char *p = line, *end;

	*addr = strtoull(p, &end, 16);
	if (end == p || *end != ' ')
		return -EINVAL;
	p = end + 1;
	*type = *p;
	if (!*type || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*name = p;
	*namelen = strcspn(p, " \t\n");
	if (!*namelen)
		return -EINVAL;
	p += *namelen;
	p += strspn(p, " \t");
	*mod = NULL;
	*modlen = 0;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		*mod = p + 1;
		*modlen = (size_t)(end - p - 1);
	}
	return strchr("tTwW", *type) ? 1 : 0;
}

/* Names the kernel gives a second time to the same code: the ia32 entry of a
 * syscall whose x64 entry is the same function, position-independent aliases. */
static bool is_secondary_alias(const char *name)
{
	return strncmp(name, "__ia32_", 7) == 0 || strncmp(name, "__pi_", 5) == 0;
}

/* The length of name without the suffixes of compiler clones (".isra.0",
 * ".constprop.0", ".part.0", ".cold", ".llvm.123", and chains of them): a
 * clone is the same function in a profile, and kernels differ in which they
 * have (Debian's 6.1 runs finish_task_switch.isra.0). Other dotted names stay
 * whole. */
static size_t unclone_len(const char *name, size_t len)
{
	static const char *const words[] = { "isra", "constprop", "part", "cold", "llvm", "lto_priv" };
	const char *dot = memchr(name, '.', len), *p, *end = name + len;
	bool after_word = false;

	if (!dot || dot == name)
		return len;
	for (p = dot; p < end;) {
		const char *tok = p + 1, *next = memchr(tok, '.', (size_t)(end - tok));
		size_t tl = (size_t)((next ? next : end) - tok), i;
		bool word = false, digits = tl > 0;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			word |= tl == strlen(words[i]) && !memcmp(tok, words[i], tl);
		for (i = 0; i < tl; i++)
			digits &= tok[i] >= '0' && tok[i] <= '9';
		if (!word && !(digits && after_word))
			return len;
		after_word = word;
		p = next ? next : end;
	}
	return (size_t)(dot - name);
}

static bool is_end_marker(const char *name, bool core)
{
	return core && (strcmp(name, "_etext") == 0 || strcmp(name, "_einittext") == 0);
}

static int load(const char *path, bool data, struct ksyms **out);

int ksyms__load(const char *path, struct ksyms **out)
{
	return load(path, false, out);
}

int ksyms__load_data(const char *path, struct ksyms **out)
{
	return load(path, true, out);
}

static int load(const char *path, bool data, struct ksyms **out)
{
	struct arena names = { 0 };
	struct kload *ld = NULL, *nld;
	struct ksyms *ks = NULL;
	size_t n = 0, cap = 0, i, j;
	char line[KSYMS_LINE_MAX], *name, *mod, last_mod[KSYMS_LINE_MAX] = "";
	uint32_t last_mod_off = UINT32_MAX;
	bool any_addr = false, skipping = false;
	size_t namelen, modlen, len;
	uint64_t addr;
	char type;
	FILE *f;
	int err = 0, r;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		len = strlen(line);
		/* An over-long line: drop it and its continuation, whatever it was. */
		if (len && line[len - 1] != '\n' && !feof(f)) {
			skipping = true;
			continue;
		}
		if (skipping) {
			skipping = false;
			continue;
		}
		r = parse_line(line, &addr, &type, &name, &namelen, &mod, &modlen);
		if (r < 0) {
			err = r;
			goto cleanup;
		}
		if (addr)
			any_addr = true;
		/* the data table: data and bss symbols instead of text */
		if (data)
			r = strchr("dDbB", type) ? 1 : 0;
		if (r == 0)
			continue;
		if (n == KSYMS_MAX_SYMS) {
			err = -E2BIG;
			goto cleanup;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nld = realloc(ld, cap * sizeof(*ld));
			if (!nld) {
				err = -ENOMEM;
				goto cleanup;
			}
			ld = nld;
		}
		ld[n] = (struct kload){ .addr = addr, .seq = (uint32_t)n,
					.global = type == 'T' || type == 'W', .mod_off = UINT32_MAX };
		err = arena_add(&names, name, data ? namelen : unclone_len(name, namelen), &ld[n].name_off);
		if (err)
			goto cleanup;
		if (mod) {
			/* Module symbols come grouped by module: intern the name once per run. */
			if (last_mod_off == UINT32_MAX || strlen(last_mod) != modlen ||
			    strncmp(last_mod, mod, modlen) != 0) {
				err = arena_add(&names, mod, modlen, &last_mod_off);
				if (err)
					goto cleanup;
				memcpy(last_mod, mod, modlen);
				last_mod[modlen] = '\0';
			}
			ld[n].mod_off = last_mod_off;
		}
		ld[n].end = !data && is_end_marker(names.buf + ld[n].name_off, !mod);
		ld[n].alias = is_secondary_alias(names.buf + ld[n].name_off);
		n++;
	}
	if (ferror(f)) {
		err = -EIO;
		goto cleanup;
	}
	if (n && !any_addr) {
		err = -EPERM;
		goto cleanup;
	}
	if (!n) {
		err = -ENODATA;
		goto cleanup;
	}
	qsort(ld, n, sizeof(*ld), kload_cmp);

	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		err = -ENOMEM;
		goto cleanup;
	}
	ks->syms = calloc(n, sizeof(*ks->syms));
	ks->end = calloc(n, 1);
	if (!ks->syms || !ks->end) {
		err = -ENOMEM;
		goto cleanup;
	}
	ks->names = names.buf;
	names.buf = NULL;
	/* Aliases at one address: the sort put the preferred one first. */
	for (i = 0, j = 0; i < n; i++) {
		if (j && ks->syms[j - 1].addr == ld[i].addr)
			continue;
		ks->syms[j].addr = ld[i].addr;
		ks->syms[j].name = ks->names + ld[i].name_off;
		ks->syms[j].module = ld[i].mod_off == UINT32_MAX ? NULL : ks->names + ld[i].mod_off;
		ks->end[j] = ld[i].end;
		j++;
	}
	ks->n = j;
	*out = ks;
	ks = NULL;

cleanup:
	fclose(f);
	free(ld);
	free(names.buf);
	ksyms__free(ks);
	return err;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->end);
	free(ks->names);
	free(ks);
}

size_t ksyms__count(const struct ksyms *ks)
{
	return ks ? ks->n : 0;
}

const struct ksym *ksyms__find(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi, mid;

	if (!ks || !ks->n || addr < ks->syms[0].addr)
		return NULL;
	hi = ks->n;
	/* Invariant: syms[lo].addr <= addr < syms[hi].addr (hi == n: infinity). */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ks->end[lo] || lo == ks->n - 1)
		return NULL;
	return &ks->syms[lo];
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool ksyms__is_bpf_glue(const char *name, const char *module)
{
	static const char *const prefixes[] = {
		"__bpf_trace_",         /* per-tracepoint stub calling bpf_trace_runN */
		"bpf_trace_run",        /* runs the raw_tp program */
		"__bpf_trace_run",
		"__traceiter_",         /* tracepoint iterator, when several probes are attached */
		"__SCT__tp_func_",      /* static-call trampoline of a tracepoint */
		"bpf_get_stack",        /* bpf_get_stack, bpf_get_stackid, *_raw_tp, *_pe */
		"__bpf_get_stack",
		"____bpf_get_stack",
		"bpf_get_task_stack",
		"__bpf_prog_enter",     /* fentry/fexit trampolines */
		"__bpf_prog_exit",
		"bpf_trampoline_",
		"bpf_dispatcher_",
	};
	size_t i;

	if (!name)
		return false;
	if (module && (strcmp(module, "bpf") == 0 || strcmp(module, "bpf_trampoline") == 0))
		return true;
	/* A JIT-ed program: bpf_prog_<16 hex digits of its tag>[_<name>]. */
	if (has_prefix(name, "bpf_prog_")) {
		for (i = 0; i < 16; i++) {
			char c = name[9 + i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				break;
		}
		if (i == 16 && (name[25] == '\0' || name[25] == '_'))
			return true;
	}
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (has_prefix(name, prefixes[i]))
			return true;
	return false;
}
