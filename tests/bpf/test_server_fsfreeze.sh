#!/bin/bash
# test_server_fsfreeze.sh: a real redis-server whose append-only file lives on
# a filesystem that is frozen for 2 s (fsfreeze -f, as a VM snapshot's guest
# agent, an LVM snapshot or a backup tool does) under redis-benchmark's
# writes: the event loop blocks in write() on the superblock's freeze
# protection (sb_writers, a percpu rwsem) until fsfreeze -u thaws it, and
# every client waits.
#   redis_fsfreeze  verdict kernel_lock, culprit the thawing fsfreeze (outside
#                   the target), the summary names the freeze protection and
#                   the thaw (thaw_super).
# The filesystem is an ext4 image on a loop device in a temp directory.
source "$(dirname "$0")/server_lib.sh"
need_server_bins redis-server redis-cli redis-benchmark fsfreeze mkfs.ext4
need_bins "$ST"

fsdir=$(mktemp -d /tmp/stalltrap-fsfreeze.XXXXXX)
mnt=$fsdir/mnt
chmod 0711 "$fsdir"   # the server's user reaches its directory inside it
# thawed first, whatever happened: a filesystem left frozen hangs its writers
fs_cleanup() {
	if mountpoint -q "$mnt"; then fsfreeze -u "$mnt" 2>/dev/null || true; fi
	server_cleanup
	if mountpoint -q "$mnt"; then umount "$mnt" || echo "warning: could not unmount $mnt" >&2; fi
	rm -rf "$fsdir"
}
trap fs_cleanup EXIT
truncate -s 256M "$fsdir/fs.img"
mkfs.ext4 -q -F "$fsdir/fs.img" || fail "mkfs.ext4 failed"
mkdir "$mnt"
mount -o loop "$fsdir/fs.img" "$mnt" || skip "cannot mount an ext4 image on a loop device"

dir=$mnt/redis
mkdir -p "$dir"
chown redis:redis "$dir"
port=$(free_port)
start_server redis TERM "$TMP/redis.out" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
	--save '' --appendonly yes --appendfsync everysec --daemonize no --logfile "$dir/redis.log"
rpid=$SERVER_PID
pong() { [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; }
wait_until 20 "redis-server to answer PING (log: $dir/redis.log)" pong
check_comm "$rpid" redis-server
ok "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'): pid $rpid, its AOF on $mnt"

name=redis_fsfreeze
setsid_bg "$TMP/bench.err" redis-benchmark -p "$port" -q -n 1000000000 -c 4 -t set -d 1000
PGIDS_TO_KILL+=("$BG_PID")
bench=$BG_PID
probe_out=$TMP/$name.probe
: >"$probe_out"
redis_probe "$port" "$probe_out" "$TMP/$name.stop"
probe=$BG_PID
wait_until 10 "the probe's first answer" test -s "$probe_out"
RECORD_S=7
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
fsfreeze -f "$mnt" || fail "fsfreeze -f $mnt failed"
sleep 2
fsfreeze -u "$mnt" || fail "fsfreeze -u $mnt failed"
t2=$(now)
before=$(lat_stats "$probe_out" "$(echo "$t1 - 1.5" | bc)" "$t1")
finish_record $name "$(jq -n --argjson t1 "$t1" --argjson t2 "$t2" --arg b "$before" \
	'{server: "redis-server, appendonly yes, appendfsync everysec, under redis-benchmark SET -c 4",
	  freeze: "its AOF filesystem frozen 2 s (fsfreeze -f, fsfreeze -u)", freeze_start: $t1, freeze_end: $t2,
	  expect: {kind: "kernel_lock"}, latency_before: $b}')"
touch "$TMP/$name.stop"
stop_group "$probe" 10
kill -9 -- "-$bench" 2>/dev/null
wait "$bench" 2>/dev/null || true
during=$(lat_stats "$probe_out" "$t1" "$(echo "$t2 + 0.5" | bc)")
echo "     $name: clients before: $before; around the freeze: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind kernel_lock, a wait of 1.5 s or more" '.verdict.kind == "kernel_lock" and .verdict.max_ms >= 1500'
expect $name "culprit the fsfreeze that thawed it, outside the target" \
	'.verdict.culprit.comm == "fsfreeze" and .verdict.culprit.outside'
expect $name "the summary names the freeze protection and the thaw" \
	'.verdict.summary | test("the freeze protection \\(sb_writers\\) of a filesystem") and test("thaw_super")'
asserts_done
ok "redis: the frozen filesystem named"
