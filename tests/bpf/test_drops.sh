#!/bin/bash
# test_drops.sh: with a deliberately tiny ring buffer, losses are counted, the
# counters add up to what was lost, and the summary says so; nothing crashes.
# The smallest ring (4 KiB): a 16 KiB one lost 291 of 11,331 blocks here, too
# thin a margin for a faster machine.
source "$(dirname "$0")/../lib.sh"
"$WL/longblock" --threads 8 --duration 3 --start-after "$TMP/gate" >"$TMP/wl.json" &
wl=$!; PIDS_TO_KILL+=($wl)
"$ST" record --pid $wl --duration 10s --ringbuf-kb 4 --max-overhead off --out "$TMP/out" >"$TMP/summary" 2>"$TMP/err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st" "$TMP/err"
touch "$TMP/gate"
wait $wl
wait $st || fail "record with tiny buffers failed: $(cat "$TMP/err")"
r=$TMP/out/report.json
rb=$(jq '.drops.ringbuf_full' "$r")
[ "$rb" -gt 0 ] || fail "a 4 KiB ring buffer lost nothing? drops: $(jq -c .drops "$r")"
recorded=$(jq '[.stacks[].count] | add // 0' "$r")
attempted=$(jq '.capture.blocks' "$r")
# every block the BPF side captured is either in the profile or counted as lost
lost=$(jq '.drops.ringbuf_full + .drops.capdata_full' "$r")
[ $((recorded + lost)) -eq "$attempted" ] || fail "recorded $recorded + lost $lost != captured $attempted"
truth=$(jq '.blocks_ge_1ms' "$TMP/wl.json")
# the workload's own count: the capture window holds all of them (edges: a few)
diff=$(( attempted > truth ? attempted - truth : truth - attempted ))
[ "$diff" -le $(( truth / 50 + 5 )) ] || fail "captured $attempted blocks but the workload did $truth >= 1 ms"
grep -qE 'drops:.*ringbuf_full' "$TMP/summary" || fail "the summary does not say what was lost: $(grep -i drop "$TMP/summary")"
ok "recorded $recorded + lost $lost = captured $attempted (workload: $truth)"
