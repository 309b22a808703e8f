#!/bin/bash
# check_includes_selftest.sh: tests/check_includes.sh itself, on small trees made
# here: a tree of forward edges passes; each planted bad edge (a backward include,
# a header in its own directory, capture_abi.h or a skeleton outside capture/)
# fails, naming its file and line. So the check cannot pass vacuously.
source "$(dirname "$0")/lib.sh"
CHECK=tests/check_includes.sh

mkdir -p "$TMP/src/util" "$TMP/src/capdata" "$TMP/src/capture" "$TMP/src/render" "$TMP/src/cli"
printf '#pragma once\n' >"$TMP/src/util/parse.h"
printf '#include "util/parse.h"\n' >"$TMP/src/capdata/capdata.h"
printf '#include "capdata/capdata.h"\n#include "capture_abi.h"\n' >"$TMP/src/capture/capture.h"
printf '#pragma once\n' >"$TMP/src/capture/capture_abi.h"
printf '#include "capture/capture_abi.h"\n#include "offcpu.skel.h"\n#include "vmlinux.h"\n' >"$TMP/src/capture/capture.c"
printf '#include <stdio.h>\n#include "render_int.h"\n#include "capdata/capdata.h"\n#include "proto/profile.pb-c.h"\n' \
	>"$TMP/src/render/render.c"
printf '#pragma once\n' >"$TMP/src/render/render_int.h"
printf '#include "capture/capture.h"\n#include "render/render_int.h"\n' >"$TMP/src/cli/main.c"

out=$(bash "$CHECK" "$TMP/src" 2>&1) || fail "a tree of forward edges fails: $out"
grep -q "^ok: 8 stage includes" <<<"$out" || fail "the clean tree: want 8 stage includes checked: $out"
ok "forward edges pass ($out)"

# plant PATH LINE_TEXT WANT: PATH gets LINE_TEXT as its line 2; the check must fail naming PATH:2 and WANT
plant() {
	local path=$TMP/src/$1 text=$2 want=$3 rc=0 saved
	saved=$(cat "$path" 2>/dev/null || true)
	mkdir -p "$(dirname "$path")"
	printf '/* planted */\n%s\n' "$text" >"$path"
	out=$(bash "$CHECK" "$TMP/src" 2>&1) || rc=$?
	if [ -n "$saved" ]; then printf '%s\n' "$saved" >"$path"; else rm -f "$path"; fi
	[ "$rc" -eq 1 ] || fail "planted '$text' in $1: exit $rc, want 1: $out"
	grep -qF "$TMP/src/$1:2: $want" <<<"$out" || fail "planted '$text' in $1: the output does not name it ($want): $out"
	[ "$(grep -c "^$TMP/src/" <<<"$out")" -eq 1 ] || fail "planted '$text' in $1: more than the one edge: $out"
	ok "planted $1: $text -> $(grep "^$TMP/src/" <<<"$out" | sed "s|^$TMP/||")"
}
plant util/bad.h '#include "cli/cli.h"' 'util (0) includes cli/cli.h: cli (10) is a later stage'
plant capdata/bad.c '#include "render/render.h"' 'capdata (1) includes render/render.h: render (6) is a later stage'
plant render/bad.c '#include "capture/capture_abi.h"' 'render includes capture/capture_abi.h: only capture/ may include it'
plant cli/bad.c '#include "floor.skel.h"' 'cli includes floor.skel.h: only capture/ may include it'
plant newstage/x.c '#include "util/parse.h"' 'newstage/ is not a stage'
