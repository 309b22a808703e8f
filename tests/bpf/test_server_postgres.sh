#!/bin/bash
# test_server_postgres.sh: a real PostgreSQL (Debian's postgresql 15, a
# process per connection) on loopback in a temp directory, frozen with its
# own commands while `stalltrap record` watches every process of it:
#   postgres_table_lock  one session holds LOCK TABLE ... ACCESS EXCLUSIVE
#                        4 s, idle in transaction, while 4 backends UPDATE
#                        their own rows (record --name postgres). Backends
#                        wait for heavyweight locks on their latch
#                        (epoll_wait under ProcSleep), woken by a signal from
#                        the backend that commits. verdict app_lock,
#                        primitive latch, culprit the locking backend
#                        (pg_backend_pid(): pid == tid).
#   postgres_hot_row     one session updates a row and holds its transaction
#                        open 4 s while 4 backends UPDATE that row (record
#                        --cgroup, on a cgroup made for this server): the
#                        first waits for the holder's transaction, the others
#                        for the row, each handed it in turn. verdict
#                        app_lock, culprit the locking backend.
#   postgres_healthy     the 4 writers on their own rows, and a client
#                        reconnecting every 200 ms (a backend forked each
#                        time), nothing frozen: verdict none.
#   postgres_slow_commit fsync on, the 4 writers committing on their own
#                        rows while the server's writes are throttled to
#                        64 KiB/s for 4 s (a blkio cgroup): each commit takes
#                        WALWriteLock to write and fdatasync the WAL, the
#                        others queue for it. verdict io, the lock queue
#                        (lock_queue app_lock, a semaphore) behind it: the
#                        waits are the disk's, not a backend's.
#   postgres_sync_standby synchronous_standby_names set to a standby that
#                        is not there for 3 s: commits wait in
#                        SyncRepWaitForLSN. verdict app_lock, the lock named
#                        by that wait (WaitLatch ← SyncRepWaitForLSN).
# Writer throughput before and during each freeze is printed.
source "$(dirname "$0")/server_lib.sh"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || skip "no /usr/lib/postgresql/*/bin (scripts/install-deps.sh)"
need_server_bins "$bin/postgres" "$bin/initdb" psql
need_bins "$ST"

dir=$TMP/postgres
mkdir -p "$dir"
chown postgres:postgres "$dir"
port=$(free_port)
as_user postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 ||
	fail "initdb failed: $(tail -3 "$dir/initdb.log")"
# fsync off until postgres_slow_commit turns it on (in the file: a command
# line's setting cannot be changed by a reload)
echo "fsync = off" >>"$dir/data/postgresql.conf"
start_server postgres TERM "$dir/server.log" "$bin/postgres" -D "$dir/data" -k "$dir" -p "$port" \
	-h 127.0.0.1 -c deadlock_timeout=1s
ppid=$SERVER_PID
sql() { psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -A -t "$@"; }
answers() { sql -c "select 1" >/dev/null 2>&1; }
wait_until 60 "postgres to answer (log: $dir/server.log)" answers
check_comm "$ppid" postgres
version=$(sql -c "show server_version")
sql -c "create table t (id int primary key, v int); insert into t select g, 0 from generate_series(1, 8) g;" ||
	fail "could not create the table"
ok "postgres $version: postmaster pid $ppid on 127.0.0.1:$port"

# writers NAME ROW: 4 sessions updating ROW in a loop ("{k}": writer k's own
# row); server_lib.sh
writers() {
	sql_writers "$1" "update t set v = v + 1 where id = $2;" "select extract(epoch from clock_timestamp());" \
		psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -A -t
}

# hold NAME LOCK_SQL: one session: its backend pid, BEGIN, LOCK_SQL, held
# HOLD_S seconds idle in transaction, COMMIT; sets HOLDER, T1, T2
HOLD_S=4
hold() {
	local name=$1 out=$TMP/$1.holder
	T1=$(now)
	{ echo "select pg_backend_pid();"; echo "begin;"; echo "$2"; echo "select 'locked';"
	  sleep "$HOLD_S"; echo "commit;"; } | sql >"$out" 2>"$out.err" ||
		fail "$name: the locking session failed: $(cat "$out.err")"
	T2=$(now)
	HOLDER=$(head -1 "$out")
	[[ $HOLDER =~ ^[0-9]+$ ]] || fail "$name: no backend pid from the locking session: $(cat "$out")"
	grep -qx locked "$out" || fail "$name: the lock was not taken: $(cat "$out")"
}

freeze() { # NAME ROW LOCK_SQL DESCRIPTION TARGET_ARGS...
	local name=$1 row=$2 lock=$3 what=$4 before during; shift 4
	RECORD_S=8
	writers "$name" "$row"
	start_record "$name" "$@"
	sleep 1.5
	hold "$name" "$lock"
	sleep 1
	stop_writers "$name" 30
	before=$(wrate "$name" "$(echo "$T1 - 1.5" | bc)" "$T1")
	during=$(wrate "$name" "$(echo "$T1 + 0.5" | bc)" "$T2")
	finish_record "$name" "$(jq -n --arg v "$version" --arg f "$what" --argjson p "$HOLDER" \
		--argjson t1 "$T1" --argjson t2 "$T2" --arg b "$before" --arg d "$during" --arg target "$*" \
		'{server: "postgresql \($v)", freeze: $f, target: $target, freeze_start: $t1, freeze_end: $t2,
		  expect: {kind: "app_lock", primitive: "latch", culprit_pid: $p, culprit_tid: $p},
		  writer_statements_per_s: {before: $b, during: $d}}')"
	echo "     $name: writers $before statements/s before, $during during the hold"
	echo "     $name: verdict $(verdict_line "$name")"
	expect "$name" "kind app_lock" '.verdict.kind == "app_lock"'
	expect_complete "$name"
	expect "$name" "primitive latch" '.verdict.primitive == "latch"'
	expect "$name" "culprit the locking backend (pid == tid == $HOLDER)" \
		'.verdict.culprit.pid == $p and .verdict.culprit.tid == $p' --argjson p "$HOLDER"
}

freeze postgres_table_lock "{k}" "lock table t in access exclusive mode;" \
	"LOCK TABLE t IN ACCESS EXCLUSIVE MODE held 4 s idle in transaction while 4 backends UPDATE t" \
	--name postgres

# a cgroup of this server alone: the postmaster and its backends
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg_root" ] || fail "no cgroup2 mount"
cg=$cg_root/stalltrap-test-pg-$$
mkdir "$cg" || fail "cannot make $cg"
CGROUPS_TO_REMOVE+=("$cg")
for p in $ppid $(ps --ppid "$ppid" -o pid=); do echo "$p" >"$cg/cgroup.procs" 2>/dev/null || true; done
freeze postgres_hot_row 1 "update t set v = v + 1 where id = 1;" \
	"one row updated in a transaction held open 4 s while 4 backends UPDATE the same row" \
	--cgroup "$cg"

# --- healthy: writers on their own rows, a client reconnecting every 200 ms ---
name=postgres_healthy
RECORD_S=6
writers $name "{k}"
setsid_bg "$TMP/$name.reconnect" bash -c 'while [ ! -e "$1" ]; do "${@:2}" -c "select count(*) from t" >/dev/null; sleep 0.2; done' \
	_ "$TMP/$name.stop" psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -A -t
RECONNECT=$BG_PID
start_record $name --name postgres
t1=$(now)
sleep "$RECORD_S"
stop_writers $name 30
stop_group "$RECONNECT" 10
finish_record $name "$(jq -n --arg v "$version" --arg r "$(wrate $name "$t1" "$(echo "$t1 + 5" | bc)")" \
	'{server: "postgresql \($v)", freeze: "none: 4 backends UPDATE their own rows, a client reconnects every 200 ms",
	  expect: {kind: "none"}, writer_statements_per_s: $r}')"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind none" '.verdict.kind == "none"'
expect_complete $name
# the long sleeps' wakers seen (the clients' wakeups from the loopback's
# softirq flagged, the rest recorded): 24-61 went missing (~3 % of the
# blocks) while the cause programs were attached after the switch programs;
# 0-4 since
expect $name "wakers missing for at most 1 % of the blocks ($(jq -r '"\(.drops.waker_missing) of \(.capture.blocks)"' "$TMP/$name/report.json"))" \
	'.drops.waker_missing <= 2 + .capture.blocks / 100'

# writers_freeze NAME HOLD_S ON OFF WHAT EXPECT_JSON: the 4 writers on their
# own rows, recorded 8 s (--name postgres); 1.5 s in, the shell function ON
# freezes the server, OFF lets it go HOLD_S s later. The writers' rate must
# drop tenfold (else the freeze proves nothing).
writers_freeze() {
	local name=$1 hold=$2 on=$3 off=$4 what=$5 exp=$6 before during
	RECORD_S=8
	writers "$name" "{k}"
	start_record "$name" --name postgres
	sleep 1.5
	T1=$(now)
	"$on"
	sleep "$hold"
	"$off"
	T2=$(now)
	sleep 1
	stop_writers "$name" 30
	before=$(wrate "$name" "$(echo "$T1 - 1.5" | bc)" "$T1")
	during=$(wrate "$name" "$(echo "$T1 + 0.5" | bc)" "$T2")
	finish_record "$name" "$(jq -n --arg v "$version" --argjson t1 "$T1" --argjson t2 "$T2" --arg b "$before" \
		--arg d "$during" --arg f "$what" --argjson e "$exp" \
		'{server: "postgresql \($v)", freeze: $f, target: "--name postgres", freeze_start: $t1, freeze_end: $t2,
		  expect: $e, writer_statements_per_s: {before: $b, during: $d}}')"
	echo "     $name: writers $before statements/s before, $during during the freeze"
	echo "     $name: verdict $(verdict_line "$name")"
	[ "$(echo "$during * 10 < $before" | bc)" = 1 ] ||
		fail "$name: the freeze did not slow the commits ($before -> $during statements/s): the test proves nothing"
}

# --- a synchronous standby that is not there ---
# synchronous_standby_names set (ALTER SYSTEM, reload) to a standby that
# never connects, for 3 s: every commit waits in SyncRepWaitForLSN until the
# setting is reset and reloaded. Nobody holds a lock: the lock's name must
# say what the commits waited for (past WaitLatch, every latch wait's).
name=postgres_sync_standby
standby_on() {
	sql -c "alter system set synchronous_standby_names = 'absent_standby'" -c "select pg_reload_conf()" >/dev/null ||
		fail "$name: could not set synchronous_standby_names"
}
standby_off() {
	sql -c "alter system reset synchronous_standby_names" -c "select pg_reload_conf()" >/dev/null ||
		fail "$name: could not reset synchronous_standby_names"
}
writers_freeze $name 3 standby_on standby_off \
	"synchronous_standby_names set to a standby that is not there for 3 s while 4 backends UPDATE their own rows" \
	'{"kind": "app_lock"}'
expect $name "kind app_lock, the 4 writers' commits, each 2.5 s or more" \
	'.verdict.kind == "app_lock" and (.verdict.summary | test("^4 threads waited [0-9.]+ s in total \\(max (2\\.[5-9]|3\\.[0-9]) s\\)"))'
expect $name "the lock is named by what the commits waited in (SyncRepWaitForLSN), not by WaitLatch alone" \
	'.verdict.summary | test("in WaitLatch ← SyncRepWaitForLSN")'
expect_complete $name

# --- slow commits: the WAL's disk throttled, fsync on ---
name=postgres_slow_commit
blkio=/sys/fs/cgroup/blkio
[ -d "$blkio" ] || fail "no cgroup v1 blkio controller at $blkio: cannot throttle the disk"
bcg=$blkio/stalltrap-test-pg-$$
mkdir "$bcg" || fail "cannot make $bcg"
CGROUPS_TO_REMOVE+=("$bcg")
dev=$(lsblk -dno MAJ:MIN "$(findmnt -no SOURCE --target "$dir")" | tr -d ' ')
[ -n "$dev" ] || fail "no block device under $dir"
for p in $ppid $(ps --ppid "$ppid" -o pid=); do echo "$p" >"$bcg/cgroup.procs" 2>/dev/null || true; done
sql -c "alter system set fsync = on" -c "select pg_reload_conf()" >/dev/null || fail "could not turn fsync on"
fsync_on() { [ "$(sql -c "show fsync")" = on ]; }
wait_until 10 "fsync on after the reload" fsync_on
throttle_on() { echo "$dev 65536" >"$bcg/blkio.throttle.write_bps_device" || fail "cannot throttle $dev"; }
throttle_off() { echo "$dev 0" >"$bcg/blkio.throttle.write_bps_device"; }
writers_freeze $name 4 throttle_on throttle_off \
	"fsync on, 4 backends commit UPDATEs of their own rows while the server writes at 64 KiB/s for 4 s" \
	'{"kind": "io", "lock_queue": "app_lock"}'
expect $name "kind io" '.verdict.kind == "io"'
expect $name "the lock queue behind the I/O: app_lock, a semaphore (WALWriteLock), I/O during >= 50 % of it" \
	'.verdict.lock_queue.kind == "app_lock" and .verdict.lock_queue.primitive == "semaphore" and .verdict.lock_queue.io_pct >= 50'
expect $name "the summary names fdatasync and the queue" \
	'.verdict.summary | test("fdatasync") and test("queued for an application lock")'
expect $name "the culprit is a backend that committed (XLogFlush in its stack)" \
	'.verdict.culprit.stack | index("XLogFlush") != null'
expect_complete $name

asserts_done
ok "postgres: every freeze named"
