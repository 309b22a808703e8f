#!/bin/bash
# test_server_php.sh: Debian's nginx in front of its php-fpm (PHP 8.2, a pool
# of worker processes), pages that use PHP's own file-based sessions. A
# session's file is locked with flock(2) from session_start() to the end of
# the request, so one slow request holds every other request of that
# session. Frozen two ways while `stalltrap record --pid FPM_MASTER` watches
# (the workers are its children):
#   php_session_lock     a request of the session sleeps 4 s with the
#                        session open (a slow call in a page). verdict
#                        app_lock, primitive file_lock, culprit the worker
#                        that served it (its pid, from the page), and the
#                        summary says it slept.
#   php_session_outside  a maintenance script outside the target holds the
#                        session's file lock 4 s (flock(1) on the file).
#                        verdict app_lock, file_lock, culprit that flock
#                        process, outside the target.
#   php_redis_stall      each page GETs a key from Debian's redis-server
#                        (php-redis), which DEBUG SLEEP 4 freezes; redis
#                        is not recorded. verdict dependency: the workers
#                        held up in the middle of their requests, at the
#                        call to Redis (zim_Redis_get in the summary), no
#                        culprit (the answers come over TCP: interrupts).
#   php_redis_healthy    the same pages for 6 s, nothing frozen: verdict none.
#   php_pool_asleep      8 requests at once to a page that sleeps 3 s: all 6
#                        workers asleep, the other requests queue in nginx.
#                        verdict loop_blocked: every worker of the pool away
#                        from its wait for work at once, the culprit a worker.
# Clients: three loops of requests in the frozen session, one in another
# session, through nginx; their latency during each freeze is printed and
# must show the freeze (else the harness, not stalltrap, failed).
source "$(dirname "$0")/server_lib.sh"
FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1)
need_server_bins "${FPM:-php-fpm}" nginx curl redis-server redis-cli
"${FPM:-php-fpm}" -m 2>/dev/null | grep -qx redis || skip "php-redis is not installed (scripts/install-deps.sh)"
need_bins "$ST"

dir=$TMP/php
mkdir -p "$dir/www" "$dir/sess" "$dir/run" "$dir/ngx"
chown www-data:www-data "$dir/sess" "$dir/run"
chmod 0755 "$dir" "$dir/www"
fport=$(free_port)
nport=$(free_port)
cat >"$dir/fpm.conf" <<EOF
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
[www]
user = www-data
group = www-data
listen = 127.0.0.1:$fport
pm = static
pm.max_children = 6
php_admin_value[session.save_path] = $dir/sess
php_admin_value[session.save_handler] = files
EOF
cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir/ngx/body;
	fastcgi_temp_path $dir/ngx/fcgi;
	proxy_temp_path $dir/ngx/proxy;
	uwsgi_temp_path $dir/ngx/uwsgi;
	scgi_temp_path $dir/ngx/scgi;
	server {
		listen 127.0.0.1:$nport;
		root $dir/www;
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass 127.0.0.1:$fport;
		}
	}
}
EOF
# a page of the session: counts its visits
cat >"$dir/www/visit.php" <<'EOF'
<?php
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
echo $_SESSION['n'], "\n";
EOF
# a slow page: its 4 s call runs with the session (and its lock) open
cat >"$dir/www/report.php" <<EOF
<?php
file_put_contents('$dir/run/report.pid', getmypid());
session_start();
\$_SESSION['report'] = time();
usleep(4000000);
echo "report done\n";
EOF
# the cache the pages of c. call: Debian's redis-server, reached with php-redis
rport=$(free_port)
mkdir -p "$dir/redis"
chown redis:redis "$dir/redis"
start_server redis TERM "$dir/redis.out" redis-server --port "$rport" --bind 127.0.0.1 --dir "$dir/redis" \
	--save '' --appendonly no --daemonize no --enable-debug-command local --logfile "$dir/redis/redis.log"
rpid=$SERVER_PID
rcli() { redis-cli -p "$rport" "$@"; }
pong() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
wait_until 20 "redis-server to answer PING (log: $dir/redis/redis.log)" pong
rcli SET greeting hello >/dev/null
cat >"$dir/www/cache.php" <<EOF
<?php
\$r = new Redis();
\$r->connect('127.0.0.1', $rport);
echo \$r->get('greeting'), "\n";
EOF
start_server root QUIT "$dir/fpm.out" "$FPM" --nodaemonize --fpm-config "$dir/fpm.conf" --prefix "$dir"
fpid=$SERVER_PID
start_server root QUIT "$dir/nginx.out" nginx -c "$dir/nginx.conf" -p "$dir"
up() { curl -sf -b PHPSESSID=warmup "http://127.0.0.1:$nport/visit.php" >/dev/null; }
wait_until 20 "php-fpm behind nginx (logs: $dir/fpm.log, $dir/nginx.err)" up
check_comm "$fpid" "$(basename "$FPM")"
version=$("$FPM" -v | head -1 | cut -d' ' -f1-2)
ok "$version: master pid $fpid (workers: $(ps --ppid "$fpid" -o pid= | wc -l)), nginx on 127.0.0.1:$nport"

# start_clients NAME [PAGE]: 3 request loops in session "frozen", 1 in
# session "other", of PAGE (visit.php); each answer appends
# "START_EPOCH LATENCY_MS" to $TMP/NAME.cK
start_clients() {
	local k sid page=${2:-visit.php}
	CLIENTS=()
	for k in 1 2 3 4; do
		sid=frozen
		[ "$k" = 4 ] && sid=other
		setsid_bg "$TMP/$1.c$k.err" bash -c '
			while [ ! -e "$1" ]; do
				s=$(date +%s.%6N)
				curl -s -o /dev/null -b "PHPSESSID=$2" "$3"
				e=$(date +%s.%6N)
				echo "$s $(echo "($e - $s) * 1000" | bc)"
				sleep 0.05
			done >"$4"' _ "$TMP/$1.stop" "$sid" "http://127.0.0.1:$nport/$page" "$TMP/$1.c$k"
		CLIENTS+=("$BG_PID")
	done
	wait_until 10 "the clients' first answers" test -s "$TMP/$1.c4"
}
stop_clients() {
	local g
	touch "$TMP/$1.stop"
	for g in "${CLIENTS[@]}"; do stop_group "$g" 10; done
}
# freeze_lat NAME FROM TO: the frozen session's requests that began in [FROM - 1, TO)
freeze_lat() { cat "$TMP/$1".c[1-3] | lat_stats /dev/stdin "$(echo "$2 - 1" | bc)" "$3"; }
# max_lat NAME FROM TO: their longest latency, in ms
max_lat() { cat "$TMP/$1".c[1-3] | awk -v a="$(echo "$2 - 1" | bc)" -v b="$3" '$1 >= a && $1 < b && $2 > m { m = $2 } END { printf "%d", m }'; }

# freeze NAME WHAT CMD...: records NAME while CMD freezes the session (from
# 1.5 s in; CMD sets HOLDER, the pid that holds the lock), keeps the capture
# with the clients' latencies, and checks the verdict common to both: an
# app_lock on a file lock whose culprit is HOLDER
freeze() {
	local name=$1 what=$2 t1 t2 during other longest; shift 2
	RECORD_S=8
	start_clients "$name"
	start_record "$name" --pid "$fpid"
	sleep 1.5
	t1=$(now)
	"$@"
	t2=$(now)
	sleep 1   # the held-up requests answer once the lock is free
	during=$(freeze_lat "$name" "$t1" "$t2")
	other=$(lat_stats "$TMP/$name.c4" "$t1" "$t2")
	longest=$(max_lat "$name" "$t1" "$t2")
	finish_record "$name" "$(jq -n --argjson pid "$HOLDER" --arg d "$during" --arg o "$other" \
		--argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" --arg w "$what" \
		'{server: "\($v) behind nginx", freeze: $w, freeze_start: $t1, freeze_end: $t2,
		  expect: {kind: "app_lock", primitive: "file_lock", culprit_pid: $pid},
		  latency_during_same_session: $d, latency_during_other_session: $o}')"
	stop_clients "$name"
	echo "     $name: the session's requests during the freeze: $during; another session's: $other"
	echo "     $name: verdict $(verdict_line "$name")"
	[ "$longest" -ge 2500 ] || fail "$name: the session's requests were not held up (longest $longest ms): no freeze to diagnose"
	expect "$name" "kind app_lock" '.verdict.kind == "app_lock"'
	expect "$name" "primitive file_lock" '.verdict.primitive == "file_lock"'
	expect "$name" "culprit pid $HOLDER" '.verdict.culprit.pid == $p' --argjson p "$HOLDER"
	expect_complete "$name"
}

# --- a. a slow request holds its session ------------------------------------
slow_page() {
	local out
	out=$(curl -s -b PHPSESSID=frozen "http://127.0.0.1:$nport/report.php")
	[ "$out" = "report done" ] || fail "php_session_lock: the slow page answered: $out"
	HOLDER=$(cat "$dir/run/report.pid")
}
freeze php_session_lock "a request sleeps 4 s with its session open" slow_page
expect php_session_lock "the culprit is the worker that served the slow page (tid $HOLDER, in the target)" \
	'.verdict.culprit.tid == $p and (.verdict.culprit.outside | not)' --argjson p "$HOLDER"
expect php_session_lock "the summary says it slept" '.verdict.summary | test("\\bslept\\b")'

# --- b. a script outside the service holds the session's file ---------------
outside_flock() {
	flock "$dir/sess/sess_frozen" sleep 4 &
	HOLDER=$!
	wait "$HOLDER" || fail "php_session_outside: flock(1) on the session file failed"
}
freeze php_session_outside "flock(1) outside the service holds the session file 4 s" outside_flock
expect php_session_outside "the culprit is the flock process, outside the target" '.verdict.culprit.outside'

# --- c. the cache the pages call stalls -------------------------------------
name=php_redis_stall
RECORD_S=8
start_clients $name cache.php
start_record $name --pid "$fpid"
sleep 1.5
t1=$(now)
[ "$(rcli DEBUG SLEEP 4)" = OK ] || fail "$name: DEBUG SLEEP failed"
t2=$(now)
sleep 1
during=$(cat "$TMP/$name".c[1-4] | lat_stats /dev/stdin "$(echo "$t1 - 1" | bc)" "$t2")
longest=$(cat "$TMP/$name".c[1-4] | awk -v a="$(echo "$t1 - 1" | bc)" -v b="$t2" '$1 >= a && $1 < b && $2 > m { m = $2 } END { printf "%d", m }')
finish_record $name "$(jq -n --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" \
	--argjson r "$rpid" \
	'{server: "\($v) behind nginx, each page a GET from redis-server (pid \($r), not recorded) with php-redis",
	  freeze: "redis-cli DEBUG SLEEP 4", freeze_start: $t1, freeze_end: $t2,
	  expect: {kind: "dependency", culprit: null}, latency_during: $d}')"
stop_clients $name
echo "     $name: requests during the freeze: $during"
echo "     $name: verdict $(verdict_line $name)"
[ "$longest" -ge 2500 ] || fail "$name: the requests were not held up (longest $longest ms): no freeze to diagnose"
expect $name "kind dependency" '.verdict.kind == "dependency"'
expect $name "at least 2 workers held up" '.verdict.threads >= 2 and .verdict.max_ms >= 2500'
expect $name "the summary names the call (Redis::get's zim_Redis_get)" '.verdict.summary | test("zim_Redis_get")'
expect $name "no culprit: the answers came by the network" '.verdict.culprit == null'
expect_complete $name

# --- d. the same pages, healthy ---------------------------------------------
name=php_redis_healthy
RECORD_S=6
start_clients $name cache.php
start_record $name --pid "$fpid"
t1=$(now)
sleep 5
t2=$(now)
during=$(cat "$TMP/$name".c[1-4] | lat_stats /dev/stdin "$t1" "$t2")
finish_record $name "$(jq -n --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" \
	'{server: "\($v) behind nginx, each page a GET from redis-server with php-redis", freeze: "none",
	  expect: {kind: "none"}, latency: $d}')"
stop_clients $name
echo "     $name: requests: $during"
echo "     $name: verdict $(verdict_line $name)"
expect $name "kind none: the workers' calls to Redis are not a stall" '.verdict.kind == "none"'
# --- e. every worker asleep in a page -----------------------------------------
name=php_pool_asleep
RECORD_S=8
printf '%s\n' '<?php' 'usleep(3000000);' 'echo "nap done\n";' >"$dir/www/nap.php"
workers=$(ps --ppid "$fpid" -o pid= | wc -l)
start_clients $name
start_record $name --pid "$fpid"
sleep 1.5
t1=$(now)
naps=()
for ((k = 0; k < workers + 2; k++)); do
	curl -s -o "$TMP/$name.nap$k" "http://127.0.0.1:$nport/nap.php" &
	naps+=($!)
done
wait "${naps[@]}"
t2=$(now)
sleep 1
during=$(cat "$TMP/$name".c[1-4] | lat_stats /dev/stdin "$t1" "$t2")
longest=$(cat "$TMP/$name".c[1-4] | awk -v a="$t1" -v b="$t2" '$1 >= a && $1 < b && $2 > m { m = $2 } END { printf "%d", m }')
finish_record $name "$(jq -n --arg d "$during" --argjson t1 "$t1" --argjson t2 "$t2" --arg v "$version" \
	--argjson w "$workers" \
	'{server: "\($v) behind nginx, pm = static, \($w) workers", freeze: "\($w + 2) requests at once to a page that sleeps 3 s (usleep)",
	  freeze_start: $t1, freeze_end: $t2, expect: {kind: "loop_blocked", summary_mentions: ["all \($w) workers of a pool"]},
	  latency_during: $d}')"
stop_clients $name
echo "     $name: other requests during the naps: $during"
echo "     $name: verdict $(verdict_line $name)"
grep -qx "nap done" "$TMP/$name.nap0" || fail "$name: the sleeping page answered: $(cat "$TMP/$name.nap0")"
[ "$longest" -ge 2000 ] || fail "$name: the other requests were not held up (longest $longest ms): no freeze to diagnose"
expect $name "kind loop_blocked" '.verdict.kind == "loop_blocked"'
expect $name "the summary: all $workers workers of the pool, asleep" \
	'.verdict.summary | test("all \($w) workers of a pool") and test("slept")' --arg w "$workers"
expect $name "the culprit is a worker (a child of the master, pid $fpid)" \
	'.verdict.culprit.pid != $m and (.verdict.culprit.outside | not)' --argjson m "$fpid"
expect_complete $name
asserts_done
ok "php-fpm: $(ls "$SERVER_CAPTURES" | grep -c '^php_') captures kept in $SERVER_CAPTURES"
