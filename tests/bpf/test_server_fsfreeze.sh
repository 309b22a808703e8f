#!/bin/bash
# test_server_fsfreeze.sh: real servers whose files live on a filesystem
# that stops taking writes.
#   redis_fsfreeze     redis-server's append-only file on a filesystem frozen
#                      for 2 s (fsfreeze -f, as a VM snapshot's guest agent,
#                      an LVM snapshot or a backup tool does) under
#                      redis-benchmark's writes: the event loop blocks in
#                      write() on the superblock's freeze protection
#                      (sb_writers, a percpu rwsem) until fsfreeze -u thaws
#                      it, and every client waits. verdict kernel_lock,
#                      culprit the thawing fsfreeze (outside the target), the
#                      summary names the freeze protection and the thaw.
#   mariadb_disk_full  mariadbd's binary log on the same filesystem, filled
#                      up while 4 sessions INSERT: the group commit's leader
#                      gets ENOSPC, keeps the binary log's mutex and waits
#                      for space (up to 60 s a try); the other commits queue
#                      behind it. verdict app_lock, culprit the leader, the
#                      summary says where the holder waited (the wait for
#                      space) and where the mutex was taken.
# The filesystem is an ext4 image on a loop device in a temp directory.
source "$(dirname "$0")/server_lib.sh"
need_server_bins redis-server redis-cli redis-benchmark fsfreeze mkfs.ext4 mariadbd mariadb-install-db mariadb
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

# --- mariadb_disk_full --------------------------------------------------------
name=mariadb_disk_full
mdir=$TMP/mariadb
binlogs=$mnt/binlog
mkdir -p "$mdir" "$binlogs"
chown mysql:mysql "$mdir" "$binlogs"
sock=$mdir/sock
as_user mysql mariadb-install-db --no-defaults --datadir="$mdir/data" --auth-root-authentication-method=normal \
	--skip-test-db >"$mdir/install.log" 2>&1 || fail "mariadb-install-db failed: $(tail -3 "$mdir/install.log")"
start_server mysql TERM "$mdir/server.log" mariadbd --no-defaults --datadir="$mdir/data" --socket="$sock" \
	--port="$(free_port)" --bind-address=127.0.0.1 --pid-file="$mdir/pid" --log-bin="$binlogs/binlog" \
	--server-id=1 --innodb-buffer-pool-size=64M
mpid=$SERVER_PID
answers() { mariadb --no-defaults -S "$sock" -uroot -N -B -e "select 1" >/dev/null 2>&1; }
wait_until 60 "mariadbd to answer (log: $mdir/server.log)" answers
check_comm "$mpid" mariadbd
mariadb --no-defaults -S "$sock" -uroot -N -B \
	-e "create database d; create table d.t (id int auto_increment primary key, v int, p varchar(2000)) engine=innodb;"
ok "mariadbd $(mariadb --no-defaults -S "$sock" -uroot -N -B -e 'select version()'): pid $mpid, its binary log on $mnt"
sql_writers $name "insert into d.t (v, p) values ({k}, repeat('x', 1500));" "select unix_timestamp(now(6));" \
	mariadb --no-defaults -S "$sock" -uroot -N -B
RECORD_S=6
start_record $name --pid "$mpid"
sleep 1.5
t1=$(now)
# all but 2 MiB taken: the writers fill that in well under a second
fallocate -l "$(($(df --output=avail -B1 "$mnt" | tail -1) - 2097152))" "$mnt/filler" || fail "fallocate failed"
wait_until 10 "mariadbd to report the disk full (log: $mdir/server.log)" grep -q "Disk is full" "$mdir/server.log"
t2=$(now)
before=$(wrate $name "$(echo "$t1 - 1.5" | bc)" "$t1")
finish_record $name "$(jq -n --argjson t1 "$t1" --argjson t2 "$t2" --arg b "$before" \
	'{server: "mariadb-server, --log-bin on a small filesystem, 4 sessions INSERT",
	  freeze: "the filesystem filled up (fallocate): the commit leader waits for space", fill_start: $t1,
	  disk_full_seen: $t2, expect: {kind: "app_lock"}, writer_statements_per_s_before: $b}')"
during=$(wrate $name "$(echo "$t2 + 0.5" | bc)" "$(echo "$t1 + 4" | bc)")
echo "     $name: writers $before statements/s before, $during once the disk was full"
# the leader retries only every 60 s: the server is killed, not waited for
kill -9 "$mpid"
wait "$mpid" 2>/dev/null || true   # (137: killed)
stop_writers $name 10
rm -f "$mnt/filler"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind app_lock, a wait of 2 s or more" '.verdict.kind == "app_lock" and .verdict.max_ms >= 2000'
expect $name "culprit the thread that waits for space, inside the target" \
	'(.verdict.culprit.outside | not) and (.verdict.culprit.stack | any(test("for_space")))'
expect $name "the summary says where the mutex was taken and where its holder waited" \
	'.verdict.summary | test("taken in MYSQL_BIN_LOG::") and test("while holding it, it waited [^;]*\\(in [^)]*for_space")'
asserts_done
ok "redis and mariadb: the frozen and the full filesystem named"
