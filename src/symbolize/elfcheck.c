/* elfcheck.c: the bounds an ELF file must keep before libdwfl reads it (see elfcheck.h). */
#include "symbolize/elfcheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <gelf.h>
#include <libelf.h>

static int refuse(int err, char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Whether [off, off + len) lies within a file of size bytes. */
static bool within(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static bool is_strtab(Elf *elf, size_t ndx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = elf_getscn(elf, ndx);

	return scn && gelf_getshdr(scn, &sh) && sh.sh_type == SHT_STRTAB;
}

static int check_elf(Elf *elf, uint64_t size, char *why, size_t whylen)
{
	size_t shnum, phnum, shstrndx, i;
	uint64_t inflated = 0;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;

	if (elf_kind(elf) != ELF_K_ELF)
		return refuse(-EINVAL, why, whylen, "not an ELF file");
	if (elf_getshdrnum(elf, &shnum) || elf_getphdrnum(elf, &phnum) || elf_getshdrstrndx(elf, &shstrndx))
		return refuse(-EINVAL, why, whylen, "bad ELF header: %s", elf_errmsg(-1));
	if (!gelf_getehdr(elf, &eh))
		return refuse(-EINVAL, why, whylen, "bad ELF header: %s", elf_errmsg(-1));
	/* libelf quietly sees no headers where the table lies past the end */
	if ((eh.e_shoff || eh.e_shnum) &&
	    !within(eh.e_shoff, (uint64_t)(shnum > eh.e_shnum ? shnum : eh.e_shnum) * eh.e_shentsize, size))
		return refuse(-EINVAL, why, whylen, "section headers past the end of the file");
	if ((eh.e_phoff || eh.e_phnum) && !within(eh.e_phoff, (uint64_t)phnum * eh.e_phentsize, size))
		return refuse(-EINVAL, why, whylen, "program headers past the end of the file");
	if (shnum > ELFCHECK_MAX_SECTIONS)
		return refuse(-EFBIG, why, whylen, "%zu sections (at most %u)", shnum, ELFCHECK_MAX_SECTIONS);
	/* libelf reads names out of whatever section these name (and leaks
	 * what it read when that is not a string table) */
	if (shnum && shstrndx != SHN_UNDEF && !is_strtab(elf, shstrndx))
		return refuse(-EINVAL, why, whylen, "the section names are not in a string table");
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return refuse(-EINVAL, why, whylen, "bad program header %zu", i);
		if (ph.p_type == PT_LOAD && !within(ph.p_offset, ph.p_filesz, size))
			return refuse(-EINVAL, why, whylen, "segment %zu past the end of the file", i);
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return refuse(-EINVAL, why, whylen, "bad section header");
		if (sh.sh_type == SHT_NOBITS || sh.sh_type == SHT_NULL)
			continue;
		if (!within(sh.sh_offset, sh.sh_size, size))
			return refuse(-EINVAL, why, whylen, "section %zu past the end of the file", elf_ndxscn(scn));
		if ((sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) && !is_strtab(elf, sh.sh_link))
			return refuse(-EINVAL, why, whylen, "the names of symbol table %zu are not in a string table",
				      elf_ndxscn(scn));
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_flags & SHF_COMPRESSED) {
			GElf_Chdr ch;
			Elf_Data *d = elf_rawdata(scn, NULL);

			if (!d || !d->d_buf || d->d_size < sizeof(Elf32_Chdr))
				return refuse(-EINVAL, why, whylen, "bad compressed section %zu", elf_ndxscn(scn));
			if (gelf_getchdr(scn, &ch) == NULL)
				return refuse(-EINVAL, why, whylen, "bad compressed section %zu", elf_ndxscn(scn));
			inflated += ch.ch_size < ELFCHECK_MAX_INFLATED ? ch.ch_size : ELFCHECK_MAX_INFLATED + 1;
		} else if (name && !strncmp(name, ".zdebug", 7)) {
			/* GNU style: "ZLIB" and the size, 8 bytes big-endian */
			Elf_Data *d = elf_rawdata(scn, NULL);
			const unsigned char *b = d ? d->d_buf : NULL;
			uint64_t n = 0;

			if (!b || d->d_size < 12 || memcmp(b, "ZLIB", 4))
				return refuse(-EINVAL, why, whylen, "bad compressed section %s", name);
			for (int k = 4; k < 12; k++)
				n = n << 8 | b[k];
			inflated += n < ELFCHECK_MAX_INFLATED ? n : ELFCHECK_MAX_INFLATED + 1;
		} else if (name && !strcmp(name, ".gnu_debugdata") && sh.sh_size > ELFCHECK_MAX_DEBUGDATA) {
			return refuse(-EFBIG, why, whylen, ".gnu_debugdata of %llu bytes (at most %llu)",
				      (unsigned long long)sh.sh_size, (unsigned long long)ELFCHECK_MAX_DEBUGDATA);
		}
		if (inflated > ELFCHECK_MAX_INFLATED)
			return refuse(-EFBIG, why, whylen, "compressed sections inflate past %llu bytes",
				      (unsigned long long)ELFCHECK_MAX_INFLATED);
	}
	return 0;
}

int elfcheck__fd(int fd, char *why, size_t whylen)
{
	struct stat st;
	Elf *elf;
	int err;

	if (fstat(fd, &st))
		return refuse(-errno, why, whylen, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return refuse(-EINVAL, why, whylen, "not a regular file");
	if ((uint64_t)st.st_size > ELFCHECK_MAX_FILE)
		return refuse(-EFBIG, why, whylen, "%llu bytes (at most %llu)", (unsigned long long)st.st_size,
			      (unsigned long long)ELFCHECK_MAX_FILE);
	elf_version(EV_CURRENT);
	/* ELF_C_READ_MMAP: the headers are read in place, nothing is copied */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return refuse(-EINVAL, why, whylen, "not an ELF file: %s", elf_errmsg(-1));
	err = check_elf(elf, (uint64_t)st.st_size, why, whylen);
	elf_end(elf);
	return err;
}
