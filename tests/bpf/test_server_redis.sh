#!/bin/bash
# test_server_redis.sh: a real redis-server (Debian's redis 7, one event-loop
# thread, fork()ed save children), frozen four ways with its own commands
# while `stalltrap record --pid REDIS` watches:
#   redis_debug_sleep   DEBUG SLEEP 4: the event loop sleeps; a client's
#                       requests wait. verdict loop_blocked, culprit the main
#                       thread (pid == tid == redis-server's pid), the summary
#                       says it sleeps (sleep / debugCommand).
#   redis_lua_busy      EVAL of a Lua loop that spins 2.5 s (below the 5 s
#                       busy-reply-threshold: the script just runs). verdict
#                       cpu_busy, culprit the main thread.
#   redis_bgsave_child  BGSAVE of a 1.5 M key dataset: the save child burns CPU
#                       (rdbcompression) for seconds while the service keeps
#                       answering. The verdict must not blame the child as a
#                       busy freeze of the service, and its summary names the
#                       child (its pid and the word "child").
#   redis_cpu_quota     its cgroup given a CPU quota (200 ms per 1 s) under
#                       redis-benchmark's load: verdict runqueue, throttled by
#                       the quota (verdict.throttle, from cpu.stat).
#   redis_cpu_hog       a real-time (SCHED_FIFO) busy loop 2 s on the CPU the
#                       server is pinned to, under redis-benchmark's load from
#                       the other CPUs: the event loop is woken by its clients
#                       at once but gets the CPU only when the kernel's RT
#                       throttling lets it (~50 ms a second). verdict
#                       runqueue, most of it woken and not yet given a CPU,
#                       culprit the busy loop (outside the target).
#   redis_sigstop       kill -STOP, kill -CONT 2 s later (from this script):
#                       verdict stopped, culprit this script's shell, the
#                       summary names the stop signal.
#   redis_gdb_attach    gdb attached 2 s (as gcore or a stack dump does):
#                       verdict stopped, culprit gdb, the summary names the
#                       debugger (ptrace_stop).
#   redis_cgroup_freeze its cgroup2 frozen 2 s (cgroup.freeze, as docker pause
#                       does on cgroup v2): verdict stopped, culprit this
#                       script's shell, the summary names a freezer.
# A client sends PING/GET every 10 ms throughout; its latency before and during
# each freeze is printed. Each freeze's output is kept (server_lib.sh).
source "$(dirname "$0")/server_lib.sh"
need_server_bins redis-server redis-cli redis-benchmark gdb
need_bins "$ST"

dir=$TMP/redis
mkdir -p "$dir"
chown redis:redis "$dir"
port=$(free_port)
start_server redis TERM "$dir/redis.out" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
	--save '' --appendonly no --daemonize no --rdbcompression yes --enable-debug-command local \
	--logfile "$dir/redis.log"
rpid=$SERVER_PID
rcli() { redis-cli -p "$port" "$@"; }
pong() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
wait_until 20 "redis-server to answer PING (log: $dir/redis.log)" pong
check_comm "$rpid" redis-server
version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
ok "redis-server $version: pid $rpid on 127.0.0.1:$port"

# start_probe NAME: the latency client for freeze NAME; sets PROBE, PROBE_OUT, PROBE_STOP
start_probe() {
	PROBE_OUT=$TMP/$1.probe
	PROBE_STOP=$TMP/$1.stop
	: >"$PROBE_OUT"
	redis_probe "$port" "$PROBE_OUT" "$PROBE_STOP"
	PROBE=$BG_PID
	wait_until 10 "the probe's first answer" test -s "$PROBE_OUT"
}
stop_probe() {
	touch "$PROBE_STOP"
	stop_group "$PROBE" 10
}

# --- c. DEBUG SLEEP: the event loop blocked -----------------------------------
name=redis_debug_sleep
RECORD_S=8
start_probe $name
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
[ "$(rcli DEBUG SLEEP 4)" = OK ] || fail "$name: DEBUG SLEEP failed"
t2=$(now)
before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
finish_record $name "$(jq -n --argjson pid "$rpid" --arg b "$before" --arg d "$during" \
	--argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" \
	'{server: "redis-server \($v)", freeze: "DEBUG SLEEP 4", freeze_start: $t1, freeze_end: $t2,
	  expect: {kind: "loop_blocked", culprit_pid: $pid, culprit_tid: $pid},
	  latency_before: $b, latency_during: $d}')"
stop_probe
echo "     $name: clients before: $before; during the sleep: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind loop_blocked" '.verdict.kind == "loop_blocked"'
expect_complete $name
expect $name "culprit is the main thread (pid $rpid, tid $rpid)" \
	'.verdict.culprit.pid == $p and .verdict.culprit.tid == $p' --argjson p "$rpid"
# "sleep" alone is not enough: the "none" summary speaks of idle threads "sleeping"
expect $name "the summary says it sleeps (sleep(s)/slept/nanosleep/usleep/debugCommand)" \
	'.verdict.summary | test("\\bsleeps?\\b|\\bslept\\b|nanosleep|usleep|debugCommand"; "i")'

# --- d. a busy Lua script ----------------------------------------------------
name=redis_lua_busy
RECORD_S=8
# spins 2.5 s by the server's clock: os.* is not available to scripts
script="local t = redis.call('TIME'); local s = t[1] + t[2] / 1e6; local n = 0
while true do local u = redis.call('TIME'); if u[1] + u[2] / 1e6 - s > 2.5 then break end; n = n + 1 end
return n"
start_probe $name
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
n=$(rcli EVAL "$script" 0)
t2=$(now)
[[ $n =~ ^[0-9]+$ ]] || fail "$name: EVAL failed: $n"
before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
finish_record $name "$(jq -n --argjson pid "$rpid" --arg b "$before" --arg d "$during" \
	--argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" --arg s "$script" \
	'{server: "redis-server \($v)", freeze: "EVAL of a Lua loop spinning 2.5 s", script: $s,
	  freeze_start: $t1, freeze_end: $t2,
	  expect: {kind: "cpu_busy", culprit_pid: $pid, culprit_tid: $pid},
	  latency_before: $b, latency_during: $d}')"
stop_probe
echo "     $name: the script ran $(echo "$t2 - $t1" | bc) s ($n loops); clients before: $before; during: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind cpu_busy" '.verdict.kind == "cpu_busy"'
expect_complete $name
expect $name "culprit is the main thread (pid $rpid, tid $rpid)" \
	'.verdict.culprit.pid == $p and .verdict.culprit.tid == $p' --argjson p "$rpid"

# --- e. a busy save child beside a healthy service -----------------------------
name=redis_bgsave_child
RECORD_S=10
keys=1500000
ts=$(now)
[ "$(rcli DEBUG POPULATE $keys key 100)" = OK ] || fail "$name: DEBUG POPULATE failed"
rss=$(rcli INFO memory | sed -n 's/^used_memory_rss_human:\(.*\)\r$/\1/p')
echo "     $name: $keys keys of 100 bytes loaded in $(echo "$(now) - $ts" | bc) s, RSS $rss"
start_probe $name
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
[ "$(rcli BGSAVE)" = "Background saving started" ] || fail "$name: BGSAVE did not start"
save_child() { ps --ppid "$rpid" -o pid= | tr -d ' ' | head -1 | grep .; }
wait_until 5 "the save child" save_child
child=$(save_child)
child_cmd=$(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null || true)
# its CPU time: the last reading of utime+stime before it exits
ticks=0
for ((i = 0; i < 1200; i++)); do
	proc_gone "$child" && break
	v=$(awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null) && [ -n "$v" ] && ticks=$v
	sleep 0.05
done
proc_gone "$child" || fail "$name: the save child $child still runs after 60 s"
t2=$(now)
child_cpu=$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc)
wall=$(echo "$t2 - $t1" | bc)
before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
finish_record $name "$(jq -n --argjson pid "$rpid" --argjson c "$child" --arg b "$before" --arg d "$during" \
	--argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" --arg cc "$child_cmd" \
	--argjson cpu "$child_cpu" --argjson keys "$keys" --arg rss "$rss" \
	'{server: "redis-server \($v)", freeze: "BGSAVE of \($keys) keys (rdbcompression yes), RSS \($rss)",
	  child_pid: $c, child_cmdline: $cc, child_cpu_s: $cpu, freeze_start: $t1, child_end: $t2,
	  expect: {not: {kind: "cpu_busy", culprit_pid: $c}, summary_mentions: ["child", ($c | tostring)]},
	  latency_before: $b, latency_during_child: $d}')"
stop_probe
echo "     $name: child $child ($child_cmd) ran ${wall} s, ${child_cpu} s on-CPU; clients before: $before; while it ran: $during"
[ "$(echo "$child_cpu >= 1.5" | bc)" = 1 ] || echo "     warning: the child ran only ${child_cpu} s on-CPU (wanted 2+ s): a faster machine needs more keys"
answered=$(awk -v a="$t1" -v b="$t2" '$1 >= a && $1 < b' "$PROBE_OUT" | wc -l)
[ "$answered" -gt 0 ] || fail "$name: the service answered nothing while the child ran: not the healthy-service scenario"
jq -r '.holders[]? | select(.write_ms > 0) |
	"     \(env.name): mmap_lock write hold by tid \(.tid) (\(.comm)): \(.write_ms) ms in \(.holds) holds, longest \(.longest.hold_ms) ms (\(.longest.operation))"' \
	"$REC_OUT/report.json"
jq -e '[.holders[]? | select(.write_ms > 0)] | length > 0' "$REC_OUT/report.json" >/dev/null ||
	echo "     $name: no mmap_lock write hold in holders (the fork's is below --hold-threshold's 10 ms)"
echo "     $name: verdict $(verdict_line $name)"
expect $name "the verdict does not blame the child $child as a busy freeze" \
	'.verdict.kind != "cpu_busy" or .verdict.culprit.pid != $c' --argjson c "$child"
expect $name "the summary names the child (\"child\", pid $child)" \
	'.verdict.summary | test("child"; "i") and test("\\b\($c)\\b")' --arg c "$child"

# --- f. a CPU quota ----------------------------------------------------------
# Its cgroup given a CPU quota (200 ms per 1 s period, as a container's CPU
# limit) under redis-benchmark's load: the event loop is taken off the CPU
# for ~800 ms a second. The verdict is runqueue and says the quota throttled
# it, read from the cgroup's cpu.stat (v1 cpu controller, else cgroup2).
name=redis_cpu_quota
if [ -w /sys/fs/cgroup/cpu/cgroup.procs ]; then
	cgroot=/sys/fs/cgroup/cpu
	cg=$cgroot/stalltrap-test-quota-$$
	mkdir "$cg"
	setq() { echo 1000000 >"$cg/cpu.cfs_period_us" && echo "$1" >"$cg/cpu.cfs_quota_us"; }
	noq=-1
else
	cgroot=$(findmnt -no TARGET -t cgroup2 | head -1)
	[ -n "$cgroot" ] || fail "$name: no cpu cgroup controller mounted"
	grep -qw cpu "$cgroot/cgroup.subtree_control" 2>/dev/null || echo +cpu >"$cgroot/cgroup.subtree_control"
	cg=$cgroot/stalltrap-test-quota-$$
	mkdir "$cg"
	setq() { echo "$1 1000000" >"$cg/cpu.max"; }
	noq=max
fi
CGROUPS_TO_REMOVE+=("$cg")
echo "$rpid" >"$cg/cgroup.procs"
setsid_bg "$TMP/$name.bench.err" redis-benchmark -p "$port" -q -n 1000000000 -c 8 -t get,set
bench=$BG_PID
sleep 1
RECORD_S=8
start_probe $name
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
setq 200000
sleep 4
setq "$noq"
t2=$(now)
before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
finish_record $name "$(jq -n --arg b "$before" --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" \
	--arg v "$version" --arg cg "${cg#"$cgroot"}" \
	'{server: "redis-server \($v), its cgroup \($cg) given a CPU quota of 200 ms per 1 s under redis-benchmark -c 8",
	  freeze: "the CPU quota", freeze_start: $t1, freeze_end: $t2, expect: {kind: "runqueue"},
	  latency_before: $b, latency_during: $d}')"
stop_probe
stop_group "$bench" 10
echo "$rpid" >"$cgroot/cgroup.procs"
echo "     $name: clients before: $before; under the quota: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind runqueue" '.verdict.kind == "runqueue"'
expect $name "throttled 1 s or more, in its cgroup ${cg#"$cgroot"}, read from cpu.stat" \
	'.verdict.throttle.throttled_ms >= 1000 and .verdict.throttle.cgroup == $c and
	 .verdict.throttle.quota_us == 200000 and .verdict.throttle.period_us == 1000000' --arg c "${cg#"$cgroot"}"
expect $name "the summary says its CPU quota throttled it" \
	'.verdict.summary | test("throttled by its CPU quota")'

# --- f2. a real-time hog on the server's CPU ----------------------------------
# The server's threads are pinned to the last CPU and a SCHED_FIFO busy loop
# runs there 2 s; the clients run on the other CPUs. A woken thread waits
# for the CPU inside what looks like its poll: only the wakeup's time, kept
# with each wait, tells that wait from the CPU's.
name=redis_cpu_hog
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || fail "$name: needs 2 CPUs, has $ncpu"
hogcpu=$((ncpu - 1))
taskset -a -p -c "$hogcpu" "$rpid" >/dev/null || fail "$name: cannot pin the server to CPU $hogcpu"
setsid_bg "$TMP/$name.bench.err" taskset -c "0-$((hogcpu - 1))" redis-benchmark -p "$port" -q -n 1000000000 -c 4 -t get,set
bench=$BG_PID
start_probe $name
taskset -a -p -c "0-$((hogcpu - 1))" "$PROBE" >/dev/null || true
RECORD_S=7
start_record $name --pid "$rpid"
sleep 1.5
t1=$(now)
# (chrt and taskset exec: the busy loop's pid is $!)
chrt -f 10 taskset -c "$hogcpu" bash -c 'while :; do :; done' &
hog=$!
PIDS_TO_KILL+=("$hog")
sleep 2
kill -9 "$hog"
wait "$hog" 2>/dev/null || true
t2=$(now)
before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
finish_record $name "$(jq -n --arg b "$before" --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" \
	--arg v "$version" --argjson c "$hogcpu" --arg rt "$(cat /proc/sys/kernel/sched_rt_runtime_us)" \
	'{server: "redis-server \($v), its threads pinned to CPU \($c), redis-benchmark -c 4 on the other CPUs",
	  freeze: "a SCHED_FIFO busy loop 2 s on CPU \($c) (kernel.sched_rt_runtime_us \($rt))",
	  freeze_start: $t1, freeze_end: $t2, expect: {kind: "runqueue"}, latency_before: $b, latency_during: $d}')"
stop_probe
stop_group "$bench" 10
taskset -a -p -c "0-$hogcpu" "$rpid" >/dev/null
echo "     $name: clients before: $before; beside the hog: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind runqueue, a wait of 500 ms or more" '.verdict.kind == "runqueue" and .verdict.max_ms >= 500'
expect $name "the summary says the waits were woken and not yet given a CPU" \
	'.verdict.summary | test("of it woken and not yet given a CPU")'
expect $name "culprit the busy loop (pid $hog), outside the target, who held the CPU" \
	'.verdict.culprit.pid == $h and .verdict.culprit.outside and (.verdict.summary | test("the CPU went to pid " + ($h | tostring)))' \
	--argjson h "$hog"

# --- g. stopped from outside: a stop signal, a debugger ----------------------
# stopped_freeze NAME HOW CULPRIT_PID_VAR: HOW stops the server about 2 s and
# lets it go (run in this shell); the verdict must be stopped, its culprit
# the process that stopped it, outside the target.
stopped_freeze() {
	local name=$1 how=$2 words=$3 before during
	RECORD_S=6
	start_probe $name
	start_record $name --pid "$rpid"
	sleep 1.5
	t1=$(now)
	$how
	t2=$(now)
	before=$(lat_stats "$PROBE_OUT" "$(echo "$t1 - 1.5" | bc)" "$t1")
	during=$(lat_stats "$PROBE_OUT" "$t1" "$t2")
	finish_record $name "$(jq -n --arg b "$before" --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" \
		--arg v "$version" --arg f "$FREEZE" --argjson c "$STOPPER" \
		'{server: "redis-server \($v)", freeze: $f, freeze_start: $t1, freeze_end: $t2,
		  expect: {kind: "stopped", culprit_pid: $c}, latency_before: $b, latency_during: $d}')"
	stop_probe
	echo "     $name: clients before: $before; during the stop: $during"
	echo "     $name: verdict $(verdict_line $name)"
	expect $name "kind stopped" '.verdict.kind == "stopped"'
	expect $name "culprit the stopping process (pid $STOPPER), outside the target" \
		'.verdict.culprit.pid == $c and .verdict.culprit.outside' --argjson c "$STOPPER"
	expect $name "the summary says how ($words), for 1.5 s or more" \
		'(.verdict.summary | test($w)) and .verdict.max_ms >= 1500' --arg w "$words"
}
sig_stop() { kill -STOP "$rpid"; sleep 2; kill -CONT "$rpid"; }
FREEZE="kill -STOP, kill -CONT 2 s later" STOPPER=$$
stopped_freeze redis_sigstop sig_stop "by a stop signal \\(do_signal_stop"
gdb_attach() {
	gdb -nx -p "$rpid" -batch -ex 'shell sleep 2' >"$TMP/gdb.out" 2>&1 &
	STOPPER=$!
	wait "$STOPPER" || fail "redis_gdb_attach: gdb failed: $(tail -3 "$TMP/gdb.out")"
}
FREEZE="gdb attached 2 s (gdb -p PID -batch -ex 'shell sleep 2')"
stopped_freeze redis_gdb_attach gdb_attach "by a debugger or tracer \\(ptrace_stop"
cg2=$(findmnt -no TARGET -t cgroup2 | head -1)
[ -n "$cg2" ] || fail "redis_cgroup_freeze: no cgroup2 mount"
fcg=$cg2/stalltrap-test-freeze-$$
mkdir "$fcg"
CGROUPS_TO_REMOVE+=("$fcg")
cg2_freeze() {
	local was
	was=$(awk -F: '$1 == 0 { print $3 }' "/proc/$rpid/cgroup")
	echo "$rpid" >"$fcg/cgroup.procs"
	echo 1 >"$fcg/cgroup.freeze"
	sleep 2
	echo 0 >"$fcg/cgroup.freeze"
	echo "$rpid" >"$cg2$was/cgroup.procs"
}
FREEZE="its cgroup2 frozen 2 s (cgroup.freeze 1, then 0)" STOPPER=$$
stopped_freeze redis_cgroup_freeze cg2_freeze "by a freezer \\("

asserts_done
