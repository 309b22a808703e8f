#!/bin/bash
# check_includes.sh: data flows forward only: fails on every #include "..." under
# src/ that points back up the pipeline, naming the file, the line and the edge.
#
# usage: tests/check_includes.sh [SRC_DIR]   (default: src)
# Stage ranks, earliest first: util 0, capdata 1, capture 2, symbolize 3,
# aggregate 4, diagnose 5, render 6, deliver 7, pipeline 8, watch 9, cli 10.
# A file of stage A (the directory under SRC_DIR it is in) may include a header
# of stage B only if rank(B) <= rank(A); a header named without a directory is
# in the file's own stage. Only files under capture/ may include
# capture/capture_abi.h (the records shared with BPF) or a *.skel.h (BPF
# skeletons). Other includes (generated proto/, vmlinux.h) are not checked.
# Exit 0: no bad edge; 1: bad edges (listed); 2: usage.
set -euo pipefail
src=${1:-src}
[ -d "$src" ] || { echo "usage: $0 [SRC_DIR]: no directory $src" >&2; exit 2; }

declare -A rank=([util]=0 [capdata]=1 [capture]=2 [symbolize]=3 [aggregate]=4 [diagnose]=5
	[render]=6 [deliver]=7 [pipeline]=8 [watch]=9 [cli]=10)
checked=0
bad=0
while IFS= read -r hit; do
	# hit: PATH:LINE:#include "HEADER"
	file=${hit%%:*}
	rest=${hit#*:}
	line=${rest%%:*}
	[[ ${rest#*:} =~ \"([^\"]+)\" ]] || continue
	hdr=${BASH_REMATCH[1]}
	rel=${file#"$src"/}
	from=${rel%%/*}
	case $hdr in
	*/*) to=${hdr%%/*} ;;
	*) if [ -e "$(dirname "$file")/$hdr" ]; then to=$from; else to=; fi ;;
	esac
	# the capture stage's private headers
	if [ "$from" != capture ]; then
		case $hdr in
		capture/capture_abi.h | *.skel.h)
			echo "$file:$line: $from includes $hdr: only capture/ may include it"
			bad=$((bad + 1))
			;;
		esac
	fi
	rank_from=${rank[$from]:-}
	rank_to=${to:+${rank[$to]:-}}
	if [ -z "$rank_from" ]; then
		echo "$file:$line: $from/ is not a stage: add it to $0"
		bad=$((bad + 1))
		continue
	fi
	[ -n "$rank_to" ] || continue
	checked=$((checked + 1))
	if [ "$rank_to" -gt "$rank_from" ]; then
		echo "$file:$line: $from ($rank_from) includes $hdr: $to ($rank_to) is a later stage"
		bad=$((bad + 1))
	fi
done < <(grep -rnH --include='*.c' --include='*.h' -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$src" | sort -t: -k1,1 -k2,2n)

if [ "$checked" -eq 0 ]; then
	echo "no stage include found under $src: nothing was checked"
	exit 1
fi
if [ "$bad" -gt 0 ]; then
	echo "$bad backward or private include edges in $checked stage includes under $src"
	exit 1
fi
echo "ok: $checked stage includes under $src, all forward"
