#!/bin/bash
# elf_seeds.sh: rebuilds the seed corpus of fuzz_elf (tests/fuzz/corpus_elf/) from a tiny program.
# usage: tests/fuzz/elf_seeds.sh   (gcc, g++, perl; the seeds are committed, this is how they were made)
# Small on purpose (a few KB each): libFuzzer mutates whole inputs, and most of a
# normal binary is padding. Seeds: with DWARF (.debug_*, .eh_frame), with
# compressed DWARF (SHF_COMPRESSED), stripped, a C++ shared object, a truncated
# copy, and one whose section headers point past the end of the file.
set -eu
cd "$(dirname "$0")"
out=corpus_elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cat > "$tmp/tiny.c" <<'C'
static volatile int sink;
__attribute__((noinline)) static void leaf(int n) { for (int i = 0; i < n; i++) sink += i; }
__attribute__((noinline)) void middle(int n) { leaf(n); sink++; }
void _start(void) { middle(3); for (;;) __asm__ volatile("hlt"); }
C
cat > "$tmp/lib.cc" <<'C'
namespace store { struct Db { int Write(const char *k, int v); }; }
int store::Db::Write(const char *k, int v) { return k[0] + v; }
extern "C" int plain(int x) { store::Db d; return d.Write("k", x); }
C
flags="-O2 -nostdlib -static -no-pie -fno-stack-protector -Wl,-z,noseparate-code -Wl,--build-id"
gcc $flags -g "$tmp/tiny.c" -o "$out/dwarf.elf"
gcc $flags -g -gz=zlib "$tmp/tiny.c" -o "$out/dwarf_zlib.elf"
gcc $flags -s "$tmp/tiny.c" -o "$out/stripped.elf"
g++ -O2 -shared -fPIC -nostdlib -Wl,-z,noseparate-code -Wl,--build-id "$tmp/lib.cc" -o "$out/cxx.so"
head -c 1500 "$out/dwarf.elf" > "$out/truncated.elf"
# e_shoff (offset 0x28, 8 bytes little-endian) moved near the end: headers past EOF
cp "$out/dwarf.elf" "$out/shoff_past_end.elf"
size=$(stat -c %s "$out/dwarf.elf")
perl -e 'print pack("Q<", $ARGV[0])' $((size - 64)) |
	dd of="$out/shoff_past_end.elf" bs=1 seek=40 conv=notrunc status=none
ls -l "$out"
