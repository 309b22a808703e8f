#!/bin/bash
# test_cli.sh: bad input gets one clear line and the right exit status; the
# output directory and files have the documented modes and keys.
source "$(dirname "$0")/../lib.sh"

expect_exit 2 "unknown command" "$ST" frobnicate
expect_exit 2 "exactly one of --pid, --name or --cgroup" "$ST" record
expect_exit 2 "invalid --pid 'abc'" "$ST" record --pid abc
expect_exit 2 "invalid --pid '1,,2'" "$ST" record --pid 1,,2
expect_exit 2 "invalid --duration 'soon'" "$ST" record --pid 1 --duration soon
expect_exit 2 "invalid --duration '-1s'" "$ST" record --pid 1 --duration -1s
expect_exit 2 "invalid --min-block '1 ms'" "$ST" record --pid 1 --min-block "1 ms"
expect_exit 2 "exactly one of" "$ST" record --pid 1 --name foo
expect_exit 2 "unknown option '--bogus'" "$ST" record --pid 1 --bogus
expect_exit 2 "unexpected argument 'extra'" "$ST" record --pid 1 extra
expect_exit 1 "no such process: 4194000" "$ST" record --pid 4194000 --duration 1s
expect_exit 1 "no process named 'no-such-comm'" "$ST" record --name no-such-comm --duration 1s
expect_exit 1 "no such cgroup: /no/such/cg" "$ST" record --cgroup /no/such/cg --duration 1s
expect_exit 1 "cannot create --out directory" "$ST" record --pid 1 --duration 1s --out /proc/nope/x
expect_exit 1 "STALLTRAP_SWITCH_HOOKS=3: expected 1 or 2" env STALLTRAP_SWITCH_HOOKS=3 "$ST" record --pid 1 --duration 1s --out "$TMP/hooks3"
expect_exit 2 "expected one capture directory" "$ST" report
expect_exit 1 "capture.jsonl.gz" "$ST" report "$TMP"
ok "bad input"

# A real capture of a sleeping process: modes, files, keys.
sleep 30 & victim=$!; PIDS_TO_KILL+=($victim)
(cd "$TMP" && "$ST" record --pid $victim --duration 1s >"$TMP/summary" 2>"$TMP/stderr") || fail "record failed: $(cat "$TMP/stderr")"
dir=$(ls -d "$TMP"/stalltrap-2* | head -1)
[ -n "$dir" ] || fail "no default stalltrap-YYYYmmdd-HHMMSS directory"
[[ $(basename "$dir") =~ ^stalltrap-[0-9]{8}-[0-9]{6}$ ]] || fail "bad default name $(basename "$dir")"
[ "$(stat -c %a "$dir")" = 700 ] || fail "dir mode $(stat -c %a "$dir"), want 700"
for f in profile.folded report.json capture.jsonl.gz; do
	[ -f "$dir/$f" ] || fail "missing $f"
	[ "$(stat -c %a "$dir/$f")" = 600 ] || fail "$f mode $(stat -c %a "$dir/$f"), want 600"
done
r=$dir/report.json
jq -e '.target.pids == ['$victim'] and .target.comm == "sleep" and (.target.cmdline | test("sleep 30"))' "$r" >/dev/null || fail "target: $(jq -c .target "$r")"
jq -e '(.window.start | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and .window.duration_s >= 0.9 and .window.duration_s < 3' "$r" >/dev/null || fail "window: $(jq -c .window "$r")"
jq -e '.offcpu_total_ms >= 900' "$r" >/dev/null || fail "offcpu_total_ms $(jq .offcpu_total_ms "$r")"
jq -e '.stacks[0] | has("frames") and has("offcpu_ms") and has("count") and has("max_ms") and has("threads") and has("states") and has("in_progress")' "$r" >/dev/null || fail "stack keys"
jq -e '.stacks[0].in_progress == true and (.stacks[0].frames | map(select(endswith("_[k]"))) | length > 0)' "$r" >/dev/null || fail "the whole-window sleep must be in progress with a kernel stack: $(jq -c '.stacks[0]' "$r")"
jq -e '.stacks[0].frames | index("clock_nanosleep") or index("__clock_nanosleep") or index("__GI___clock_nanosleep")' "$r" >/dev/null || fail "in-progress user stack should be read: $(jq -c '.stacks[0].frames' "$r")"
jq -e '.threads[0] | has("tid") and has("comm") and has("offcpu_ms") and has("below_min_block_ms")' "$r" >/dev/null || fail "thread keys"
jq -e '.drops | length > 5 and all(.[]; . == 0)' "$r" >/dev/null || fail "drops must all be listed and zero: $(jq -c .drops "$r")"
grep -qE '^sleep;.*_\[k\] [0-9]+$' "$dir/profile.folded" || fail "folded format: $(head -2 "$dir/profile.folded")"
grep -qE "^call sites \([0-9]+ off-CPU" "$TMP/summary" || fail "summary lacks the call sites: $(head -5 "$TMP/summary")"
ok "output files"

# report re-renders the same figures from the saved capture alone
cp "$r" "$TMP/before.json"
rm "$dir/report.json" "$dir/profile.folded"
"$ST" report "$dir" >/dev/null || fail "report failed"
diff <(jq -S 'del(.capture)' "$TMP/before.json") <(jq -S 'del(.capture)' "$dir/report.json") >/dev/null || fail "report differs after re-rendering"
[ -s "$dir/profile.folded" ] || fail "report did not write profile.folded"
ok "report re-renders"
