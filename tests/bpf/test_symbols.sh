#!/bin/bash
# test_symbols.sh: symbols of stripped binaries. A binary built here, stripped,
# its debug info split off (objcopy --only-keep-debug, .gnu_debuglink, a build
# id) and served by a real debuginfod on loopback: `record` names every frame
# of it. With the server down (connection refused) or hanging (accepts, never
# answers) the window still ends on time and the lookup gives up at
# --debuginfod-timeout (or STALLTRAP_DEBUGINFOD_TIMEOUT), the frames staying
# [app+0x...]. Also: debuginfod's file cache serves a later capture with the
# server gone; MiniDebugInfo (.gnu_debugdata, built as Fedora's find-debuginfo
# does) names frames with no server; a binary run through a symlink is named by
# the symlink; watch looks up in its writer thread, once per binary.
source "$(dirname "$0")/../lib.sh"
require_root
command -v debuginfod >/dev/null || fail "debuginfod is not installed: run scripts/install-deps.sh"

# ---- the binaries ----
mkdir -p "$TMP/bin" "$TMP/srv"
gcc -O2 -g -Wl,--build-id -o "$TMP/app.full" tests/bpf/symbols_app.c
objcopy --only-keep-debug "$TMP/app.full" "$TMP/srv/app.debug"
strip --strip-all -o "$TMP/bin/app" "$TMP/app.full"
objcopy --add-gnu-debuglink="$TMP/srv/app.debug" "$TMP/bin/app"
ln -s app "$TMP/bin/myalias"
bid=$(readelf -n "$TMP/bin/app" | awk '/Build ID/ { print $3 }')
[ -n "$bid" ] || fail "the test binary has no build id"
nm "$TMP/bin/app" 2>&1 | grep -q 'no symbols' || fail "the test binary is not stripped"
# MiniDebugInfo: the function symbols not already in .dynsym, xz-compressed into .gnu_debugdata
nm -D "$TMP/app.full" --format=posix --defined-only | awk '{ print $1 }' | sort >"$TMP/dynsyms"
nm "$TMP/app.full" --format=posix --defined-only | awk '$2 ~ /^[Tt]$/ { print $1 }' | sort >"$TMP/funcsyms"
comm -13 "$TMP/dynsyms" "$TMP/funcsyms" >"$TMP/keep"
objcopy -S --remove-section .gdb_index --remove-section .comment --keep-symbols="$TMP/keep" "$TMP/app.full" "$TMP/mini"
xz "$TMP/mini"
strip --strip-all -o "$TMP/bin/appmini" "$TMP/app.full"
objcopy --add-section .gnu_debugdata="$TMP/mini.xz" "$TMP/bin/appmini"

start_app() { # start_app NAME: runs $TMP/bin/NAME; its pid in $pid
	"$TMP/bin/$1" >"$TMP/$1.pid" 2>/dev/null &
	pid=$!
	PIDS_TO_KILL+=($pid)
	wait_until 5 "$1 to start" test -s "$TMP/$1.pid"
}
start_app app; app=$pid
start_app myalias; alias_pid=$pid
start_app appmini; mini=$pid

# record NAME PIDS [ENV...] [-- FLAGS...]: a 0.5 s capture into $TMP/NAME; sets took (s)
record() {
	local name=$1 pids=$2 s e; shift 2
	local envs=() flags=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift && flags=("$@")
	s=$(date +%s.%N)
	env -u DEBUGINFOD_URLS DEBUGINFOD_CACHE_PATH="$TMP/cache-$name" "${envs[@]}" \
		"$ST" record --pid "$pids" --duration 500ms --out "$TMP/$name" "${flags[@]}" \
		>"$TMP/$name.sum" 2>"$TMP/$name.err" || fail "record $name failed: $(cat "$TMP/$name.err")"
	e=$(date +%s.%N)
	took=$(echo "$e - $s" | bc)
}
# frames COMM NAME: the user frames (root first) of COMM's stack that reached app_wait_deep or the nanosleep
frames() {
	jq -c --arg c "$1" '[.stacks[] | select(.comm == $c) | .frames | map(select(endswith("_[k]") | not))
		| select(any(. == "__nanosleep" or . == "clock_nanosleep"))] | first // []' "$TMP/$2/report.json"
}
stat_of() { jq -r ".capture.$2 // 0" "$TMP/$1/report.json"; }
window_s() { jq -r '.window.duration_s' "$TMP/$1/report.json"; }
ge() { echo "$1 >= $2" | bc | grep -q 1; }

# ---- 1. no server: the stripped binary's frames are unnamed (the test can fail) ----
record base "$app,$alias_pid,$mini"
base_took=$took
base_win=$(window_s base)
f=$(frames app base)
echo "$f" | grep -q '"\[app+0x' || fail "without debuginfod the stripped binary's frames are not [app+0x...]: $f"
echo "$f" | grep -q 'app_wait_deep' && fail "the stripped binary is named without its debug info: $f"
[ "$(stat_of base symbols_wanted)" -ge 1 ] || fail "symbols_wanted is not counted: $(jq -c .capture "$TMP/base/report.json")"
ok "without debuginfod: $f"
# the symlink: named as run, never by the file it resolves to
f=$(frames myalias base)
echo "$f" | grep -q '"\[myalias+0x' || fail "the binary run as myalias is not named [myalias+0x...]: $f"
echo "$f" | grep -q '\[app+0x' && fail "the binary run as myalias is named by its target: $f"
zcat "$TMP/base/capture.jsonl.gz" | jq -s -e --arg f "$TMP/bin/myalias" 'any(.[]; .t == "mapping" and .file == $f)' >/dev/null \
	|| fail "no mapping is named $TMP/bin/myalias: $(zcat "$TMP/base/capture.jsonl.gz" | grep '"mapping"' | head -3)"
ok "run through a symlink: $f"
# MiniDebugInfo: named with no server at all
f=$(frames appmini base)
for fn in app_wait_deep app_middle app_outer main _start; do
	echo "$f" | jq -e --arg fn "$fn" 'index($fn)' >/dev/null || fail "MiniDebugInfo: $fn is not named: $f"
done
ok "MiniDebugInfo (.gnu_debugdata): $f"

# ---- 2. a real debuginfod on loopback ----
port=$(free_port)
debuginfod -p "$port" -d "$TMP/db.sqlite" -F "$TMP/srv" >"$TMP/debuginfod.log" 2>&1 </dev/null &
dfd=$!; PIDS_TO_KILL+=($dfd)
url=http://127.0.0.1:$port
wait_until 30 "debuginfod to serve $bid" curl -sf -o /dev/null "$url/buildid/$bid/debuginfo"
record served "$app" DEBUGINFOD_URLS="$url"
f=$(frames app served)
[ "$(stat_of served symbols_found)" = 1 ] || fail "debuginfod's debug info was not used: $(jq -c .capture "$TMP/served/report.json"); $(cat "$TMP/served.err")"
for fn in app_wait_deep app_middle app_outer main _start; do
	echo "$f" | jq -e --arg fn "$fn" 'index($fn)' >/dev/null || fail "with debuginfod, $fn is not named: $f"
done
echo "$f" | jq -e 'all(startswith("[") | not)' >/dev/null || fail "with debuginfod, a frame is still unnamed: $f"
ok "with debuginfod every frame is named: $f"
# debuginfod's file cache: the server gone, the next capture is named from it
kill "$dfd"; wait "$dfd" 2>/dev/null || true
cp -a "$TMP/cache-served" "$TMP/cache-cached"
record cached "$app" DEBUGINFOD_URLS="$url"
frames app cached | grep -q app_wait_deep || fail "debuginfod's cache did not serve the second capture: $(frames app cached); $(cat "$TMP/cached.err")"
ok "a later capture is named from debuginfod's cache with the server down"

# ---- 3. server down: connection refused ----
record down "$app" DEBUGINFOD_URLS="$url" -- --debuginfod-timeout 3s
grep -q 'symbols incomplete.*app.*Connection refused' "$TMP/down.err" || fail "record does not say why symbols are missing: $(cat "$TMP/down.err")"
[ "$(stat_of down symbols_failed)" = 1 ] || fail "symbols_failed: $(jq -c .capture "$TMP/down/report.json")"
frames app down | grep -q '"\[app+0x' || fail "frames are not left [app+0x...]: $(frames app down)"
ge "$base_took + 1" "$took" || fail "a refused connection delayed record: ${took}s, ${base_took}s without a server"
ge "$base_win + 0.3" "$(window_s down)" || fail "the window took $(window_s down)s (${base_win}s without a server)"
ok "server down: ${took}s (${base_took}s without a server), window $(window_s down)s"

# ---- 4. server hanging: accepts, never answers ----
hport=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True: held.append(s.accept()[0])
' "$hport" >/dev/null 2>&1 &
PIDS_TO_KILL+=($!)
wait_until 5 "the hanging listener" bash -c "exec 3<>/dev/tcp/127.0.0.1/$hport"
# the deadline from the environment this time (the flag's default is 5 s)
record hang "$app" DEBUGINFOD_URLS="http://127.0.0.1:$hport" STALLTRAP_DEBUGINFOD_TIMEOUT=2s
lookup=$(echo "$(stat_of hang symbols_lookup_ns) / 1000000000" | bc -l)
[ "$(stat_of hang symbols_timed_out)" = 1 ] || fail "symbols_timed_out: $(jq -c .capture "$TMP/hang/report.json"); $(cat "$TMP/hang.err")"
grep -q 'symbols incomplete.*deadline' "$TMP/hang.err" || fail "record does not say the lookup hit its deadline: $(cat "$TMP/hang.err")"
frames app hang | grep -q '"\[app+0x' || fail "frames are not left [app+0x...]: $(frames app hang)"
# the client checks its progress callback at least once a second
ge "$lookup" 1.9 && ge 3.2 "$lookup" || fail "the lookup gave up after ${lookup}s, the deadline is 2 s"
ge "$base_win + 0.3" "$(window_s hang)" || fail "the window took $(window_s hang)s (${base_win}s without a server)"
ge "$base_took + 3.5" "$took" || fail "record took ${took}s with a 2 s deadline (${base_took}s without a server)"
ok "server hanging: gave up after $(printf %.2f "$lookup")s (deadline 2 s), record ${took}s, window $(window_s hang)s"

# ---- 5. watch: looked up in the writer thread; the next incident from what the first brought ----
port=$(free_port)
debuginfod -p "$port" -d "$TMP/db2.sqlite" -F "$TMP/srv" >"$TMP/debuginfod2.log" 2>&1 </dev/null &
dfd=$!; PIDS_TO_KILL+=($dfd)
url=http://127.0.0.1:$port
wait_until 30 "debuginfod to serve $bid" curl -sf -o /dev/null "$url/buildid/$bid/debuginfo"
env DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$TMP/cache-watch" \
	"$ST" watch --pid "$app" --probe "tcp://127.0.0.1:$port" --threshold 5s --interval 250ms \
	--before 500ms --window 500ms --cooldown 0 --baseline 500ms --out "$TMP/incidents" --state-dir "$TMP/state" \
	>"$TMP/watch.out" 2>"$TMP/watch.log" &
wpid=$!; PIDS_TO_KILL+=($wpid)
wait_until 30 "the watcher to start watching" grep -q 'watching' "$TMP/watch.log"
incident() { # incident N: triggers and waits for the Nth incident; prints its directory
	"$ST" trigger --state-dir "$TMP/state" --pid "$app" >/dev/null || fail "trigger $1: $(tail -3 "$TMP/watch.log")"
	wait_until 30 "incident $1" bash -c "[ \$(find '$TMP/incidents' -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l) -ge $1 ]"
	find "$TMP/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sort | tail -1
}
d1=$(incident 1)
jq -c '[.stacks[] | .frames] | flatten' "$d1/report.json" | grep -q app_wait_deep ||
	fail "watch's incident is not named: $(jq -c '.stacks[0].frames' "$d1/report.json"); $(tail -5 "$TMP/watch.log")"
kill "$dfd"; wait "$dfd" 2>/dev/null || true
d2=$(incident 2)
jq -c '[.stacks[] | .frames] | flatten' "$d2/report.json" | grep -q app_wait_deep ||
	fail "the second incident, server gone, is not named: $(jq -c '.stacks[0].frames' "$d2/report.json")"
grep -q 'symbols incomplete' "$TMP/watch.log" && fail "watch says symbols are incomplete: $(grep 'symbols incomplete' "$TMP/watch.log")"
kill -TERM "$wpid"; wait "$wpid" || fail "the watcher exited $? on SIGTERM"
ok "watch: incidents named in the writer thread, the second from the first's lookup with the server gone"
