#!/bin/bash
# test_faults_disk.sh: the output disk fails. Throttled to a crawl (a blkio
# cgroup, 8 KiB/s of writes on the root disk, holds the stalltrap process):
# record's window ends on time, its verdict is printed on time, and it ends
# within its 2 s sync deadline with its files written (synced in the
# background); the watcher keeps capturing while an incident crawls to disk.
# Full (a small tmpfs as --out): record prints one clear line, exits non-zero
# and leaves no temporary file; the watcher logs it, leaves no half-written
# incident, keeps watching, and writes the next incident once there is room.
# Files a killed writer left (.NAME.XXXXXX, .NAME.tmp) trip no later run.
source "$(dirname "$0")/watch_lib.sh"
require_root
need_bins "$WL/longblock" "$SVC_BIN"

CG=/sys/fs/cgroup/blkio/stalltrap-faults-$$
MNT=$TMP/full
DEV=$(lsblk -dno MAJ:MIN "$(findmnt -no SOURCE --target /var/tmp)" | tr -d ' ')
OUT=$(mktemp -d /var/tmp/stalltrap-faults.XXXXXX) # on the throttled disk ($TMP may be a tmpfs)
on_exit() {
	local rc=$?
	set +e
	[ -d "$CG" ] && echo "$DEV 0" >"$CG/blkio.throttle.write_bps_device" 2>/dev/null
	for p in "${PIDS_TO_KILL[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
	sleep 0.2
	mountpoint -q "$MNT" && umount -l "$MNT"
	cleanup
	for i in $(seq 50); do [ -d "$CG" ] && ! rmdir "$CG" 2>/dev/null && sleep 0.1; done
	rm -rf "$OUT"
	exit $rc
}
trap on_exit EXIT
mkdir -p "$CG"
echo "$DEV 8192" >"$CG/blkio.throttle.write_bps_device"
# in_cg CMD...: runs CMD inside the throttled cgroup
in_cg() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }
# stamp: each line of stdin prefixed with the time it arrived
stamp() { while IFS= read -r l; do echo "$(date +%s.%N) $l"; done; }
since() { echo "$1 - $2" | bc; }

# the throttle works: 32 KiB written and fsynced from inside the cgroup takes seconds
t0=$(date +%s.%N)
in_cg dd if=/dev/zero of="$OUT/probe" bs=32k count=1 conv=fsync status=none
took=$(since "$(date +%s.%N)" "$t0")
[ "$(echo "$took > 2.5" | bc)" = 1 ] || fail "the throttle does not slow fsync (32 KiB in ${took}s): the test proves nothing"
rm -f "$OUT/probe"

# 1. record on the throttled disk
"$WL/longblock" --threads 4 --duration 60 >/dev/null & wl=$!; PIDS_TO_KILL+=($wl)
t0=$(date +%s.%N)
in_cg "$ST" record --pid $wl --duration 2s --out "$OUT/rec" 2>"$TMP/rec.err" | stamp >"$TMP/rec.out" \
	|| fail "record on a throttled disk failed: $(cat "$TMP/rec.err")"
t_end=$(date +%s.%N)
[ -s "$TMP/rec.out" ] || fail "record printed nothing: $(cat "$TMP/rec.err")"
r=$OUT/rec/report.json
[ -s "$r" ] || fail "no report.json when record ended"
win=$(jq '.window.duration_s' "$r")
# seconds from the end of the window to the verdict, and to record's end
win_end=$(echo "$(date -d "$(jq -r .window.start "$r")" +%s.%N) + $win" | bc)
verdict_s=$(since "$(head -1 "$TMP/rec.out" | cut -d' ' -f1)" "$win_end")
end_s=$(since "$t_end" "$win_end")
jq -e '.stacks | length > 0' "$r" >/dev/null || fail "an empty report"
echo "  2 s window: $win s; verdict printed ${verdict_s}s after it, record ended ${end_s}s after it"
[ "$(echo "$win < 2.5" | bc)" = 1 ] || fail "the window lasted ${win}s, not 2 s"
[ "$(echo "$verdict_s < 1.5" | bc)" = 1 ] || fail "the verdict came ${verdict_s}s after the end of the window"
[ "$(echo "$end_s < 4" | bc)" = 1 ] || fail "record ended ${end_s}s after its window on a throttled disk"
grep -q "output disk is slow.*syncs it in the background" "$TMP/rec.err" \
	|| fail "no line says the sync goes on in the background: $(cat "$TMP/rec.err")"
grep -q "^[0-9.]* wrote $OUT/rec/" "$TMP/rec.out" || fail "no 'wrote DIR/' line"
ok "record on a disk throttled to 8 KiB/s: verdict ${verdict_s}s and exit ${end_s}s after the window"

# 2. the watcher on the throttled disk keeps capturing while an incident crawls out
start_svc --load 20
# start_watch, in the cgroup, writing to the throttled disk
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$ST" watch --listen 127.0.0.1:0 --out "$OUT/inc" --state-dir "$TMP/state" --pid "$SVC_PID" \
	--metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric freezesvc_request_duration_seconds \
	--threshold 5s --interval 250ms --before 1s --window 1s --cooldown 0 --baseline 2s \
	>"$TMP/watch.out" 2>"$TMP/watch.log" &
WATCH_PID=$!; PIDS_TO_KILL+=($WATCH_PID)
wait_until 30 "the watcher to listen" grep -q 'listening on' "$TMP/watch.log"
WATCH_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/watch.log" | head -1)
wait_until 30 "the watcher to start watching" grep -q 'watching' "$TMP/watch.log"
echo "$DEV 4096" >"$CG/blkio.throttle.write_bps_device"
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger"
tmpdir_exists() { compgen -G "$OUT/inc/.*.tmp" >/dev/null; }
wait_until 20 "the incident to start being written" tmpdir_exists
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger during the write"
two_ended() { [ "$(grep -c "incident ended:" "$TMP/watch.log")" -ge 2 ]; }
wait_until 20 "a second incident captured while the first is written" two_ended
n2=$(grep "incident ended:" "$TMP/watch.log" | sed -n '2s/.*, \([0-9]*\) blocks;.*/\1/p')
grep -q "incident written" "$TMP/watch.log" && fail "the first incident was written before the second ended: the throttle proves nothing"
[ "${n2:-0}" -gt 10 ] || fail "the incident captured during the slow write has ${n2:-0} blocks"
echo "$DEV 0" >"$CG/blkio.throttle.write_bps_device"
two_incidents() { [ "$(find "$OUT/inc" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)" -eq 2 ]; }
wait_until 30 "both incidents to be written once the disk is fast again" two_incidents
kill -TERM $WATCH_PID; wait $WATCH_PID || fail "the watcher exited $? on SIGTERM"
ok "the watcher captured an incident of $n2 blocks while the previous one crawled to disk"

# 3. a full disk: record
mkdir -p "$MNT"
mount -t tmpfs -o size=1m,mode=0700 stalltrap-full "$MNT"
dd if=/dev/zero of="$MNT/filler" bs=4k count=1000 status=none 2>/dev/null || true
rc=0
"$ST" record --pid $wl --duration 1s --out "$MNT/rec" >"$TMP/full.out" 2>"$TMP/full.err" || rc=$?
[ "$rc" -ne 0 ] || fail "record to a full disk exited 0"
# (the capture's path line, printed once at attach, is not the error)
[ "$(grep -vc '^capture: ' "$TMP/full.err")" -eq 1 ] || fail "record to a full disk: not one line: $(cat "$TMP/full.err")"
grep -q "No space left on device" "$TMP/full.err" || fail "record to a full disk does not say so: $(cat "$TMP/full.err")"
left=$(find "$MNT/rec" -name '.*' -type f | wc -l)
[ "$left" -eq 0 ] || fail "record left $left temporary files on the full disk: $(ls -a "$MNT/rec")"
grep -q "blocks" "$TMP/full.out" || fail "no summary on stdout though the capture worked: $(head -3 "$TMP/full.out")"
ok "record to a full disk: '$(cat "$TMP/full.err")', exit $rc, no temporary file"

# 4. a full disk: the watcher
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 1s --window 1s --cooldown 0 --baseline 2s --out "$MNT/inc"
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger 1"
wait_until 30 "the write error" grep -q "incident not written:.*No space left on device" "$TMP/watch.log"
kill -0 "$WATCH_PID" || fail "the watcher died of a full disk"
[ -z "$(ls -A "$MNT/inc")" ] || fail "a half-written incident is left: $(ls -A "$MNT/inc")"
rm -f "$MNT/filler"
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger 2"
room_incident() { compgen -G "$MNT/inc/*/report.json" >/dev/null; }
wait_until 30 "an incident once there is room" room_incident
stop_watch
ok "watch on a full disk: logged, nothing half-written, the next incident written once there was room"

# 5. leftovers of a killed writer trip no later run, and stale ones are cleaned
d=$OUT/rec
echo "half" >"$d/.report.json.Ab12Cd"; echo "half" >"$d/.capture.jsonl.gz.Zz9yX8"
echo "fresh" >"$d/.report.html.Qq1Ww2"
touch -d '-1 hour' "$d/.report.json.Ab12Cd" "$d/.capture.jsonl.gz.Zz9yX8"
"$ST" report "$d" >"$TMP/rep.out" 2>"$TMP/rep.err" || fail "report with leftover temp files: $(cat "$TMP/rep.err")"
[ ! -e "$d/.report.json.Ab12Cd" ] && [ ! -e "$d/.capture.jsonl.gz.Zz9yX8" ] || fail "stale temp files not cleaned: $(ls -a "$d")"
[ -e "$d/.report.html.Qq1Ww2" ] || fail "a fresh temp file (a writer at work?) was removed"
# a watcher killed (SIGKILL) while an incident crawls to the throttled disk
echo "$DEV 4096" >"$CG/blkio.throttle.write_bps_device"
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$ST" watch --out "$OUT/inc3" --state-dir "$TMP/state" \
	--pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric freezesvc_request_duration_seconds \
	--threshold 5s --interval 250ms --before 1s --window 1s >/dev/null 2>"$TMP/watch.log" & k=$!; PIDS_TO_KILL+=($k)
wait_until 30 "the watcher to start watching" grep -q 'watching' "$TMP/watch.log"
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger before the kill"
half() { compgen -G "$OUT/inc3/.*.tmp/*" >/dev/null; }
wait_until 20 "the incident to be half written" half
kill -9 $k
echo "$DEV 0" >"$CG/blkio.throttle.write_bps_device"
wait $k 2>/dev/null || true
[ -z "$(find "$OUT/inc3" -mindepth 1 -maxdepth 1 ! -name '.*')" ] || fail "a killed watcher left a visible incident: $(ls -a "$OUT/inc3")"
left=$(find "$OUT/inc3" -mindepth 1 -maxdepth 1 -name '.*.tmp')
[ -n "$left" ] || fail "the kill left no hidden incident: the test proves nothing"
touch -d '-1 hour' "$left"
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms --before 1s --window 1s \
	--cooldown 0 --out "$OUT/inc3"
[ ! -e "$left" ] || fail "watch kept a killed watcher's half incident over a minute old"
"$ST" trigger --state-dir "$TMP/state" --pid "$SVC_PID" >/dev/null || fail "trigger after the kill"
inc3() { compgen -G "$OUT/inc3/[0-9]*/report.json" >/dev/null; }
wait_until 30 "an incident after the kill" inc3
stop_watch
ok "leftover temp files: report and watch start fine, stale ones removed (one from a real SIGKILL mid-write), a fresh one kept"
