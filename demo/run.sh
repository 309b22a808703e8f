#!/bin/bash
# run.sh: the freeze demo. A feed store freezes when its hash table doubles;
# `stalltrap watch`, set up as in the origin story (poll every 500 ms, fire when
# p99 latency stays above 200 ms for 2 s, capture 15 s; a poll not answered
# within the 200 ms is itself a breach), catches it and names
# the cause. A second phase runs the same service with --preallocate, the
# incident's fix: nothing fires, and the memory paid up front is printed.
#
# Usage: demo/run.sh [--short] [--phase freeze|preallocate|both] [--out DIR] [--alertmanager URL|local] [--log2-slots K]
#   --short    the CI variant: a 5 s window, 5 s of history, an earlier doubling
#   --alertmanager URL   the watcher delivers the incident there (local: the demo
#              starts Debian's prometheus-alertmanager on loopback) and shows the alert
#   --log2-slots K  the table's 2^K slots of 352 bytes (default: the largest up
#              to 24 whose peak, 3 x 352 x 2^K bytes, leaves 3 GiB of MemAvailable)
# Writes DIR/summary.json, and each phase's logs and incidents under DIR/<phase>/.
set -euo pipefail
cd "$(dirname "$0")/.."

ST=$PWD/build/stalltrap
FS=$PWD/build/demo/feedstore
LG=$PWD/build/demo/loadgen
OUT=/tmp/stalltrap-demo
PHASES="freeze preallocate"
WINDOW=15s BEFORE=10s GROW_AFTER=12 AFTER_GROW=20 PAST_DUE=8
RATE=200 CONNS=8
AM_URL=
LOG2=

die() { echo "demo: $*" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=feedstore.sh
source demo/feedstore.sh
while [ $# -gt 0 ]; do
	case $1 in
	--short) WINDOW=5s BEFORE=5s GROW_AFTER=9 AFTER_GROW=12 PAST_DUE=6 ;;
	--phase)
		[ $# -ge 2 ] || die "--phase needs freeze, preallocate or both"
		case $2 in
		freeze | preallocate) PHASES=$2 ;;
		both) PHASES="freeze preallocate" ;;
		*) die "invalid --phase '$2': expected freeze, preallocate or both" ;;
		esac
		shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift ;;
	--alertmanager)
		[ $# -ge 2 ] || die "--alertmanager needs a URL (or local)"
		case $2 in http://* | https://* | local) AM_URL=$2 ;; *) die "invalid --alertmanager '$2': an http(s) URL or local" ;; esac
		shift ;;
	--log2-slots)
		[ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 16 ] && [ "$2" -le 26 ] ||
			die "invalid --log2-slots '${2:-}': an integer from 16 to 26"
		LOG2=$2; shift ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || die "run as root: stalltrap's recorder loads BPF programs"
for b in "$ST" "$FS" "$LG"; do [ -x "$b" ] || die "$b is not built (run make)"; done
command -v jq >/dev/null || die "jq is missing (make deps installs it)"
[ -n "$LOG2" ] || LOG2=$(feedstore_log2_slots)
TABLE_GIB=$(feedstore_gib "$LOG2") DOUBLED_GIB=$(feedstore_gib "$LOG2" 2)

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# stop PID: SIGTERM, then wait
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# run_phase NAME [feedstore flags...]: one run of service, clients and watcher.
# Leaves D (the phase's directory), INCIDENTS (their directories) and the logs.
run_phase() {
	local name=$1; shift
	D=$OUT/$name
	mkdir -p "$D"
	if [ "$*" = --preallocate ]; then
		echo "demo: [$name] starting the feed store with --preallocate: the doubled $DOUBLED_GIB GiB table reserved at start"
	else
		echo "demo: [$name] starting the feed store: a $TABLE_GIB GiB hash table (2^$LOG2 slots) that crosses 7/8 full in ${GROW_AFTER} s and doubles to $DOUBLED_GIB GiB"
	fi
	feedstore_start "$D/feedstore.log" 90 PIDS "$FS" --log2-slots "$LOG2" --grow-after "$GROW_AFTER" "$@" ||
		die "[$name] the feed store did not start: $(tail -3 "$D/feedstore.log")"
	local fs=$FEEDSTORE_PID port=$FEEDSTORE_PORT
	jq -r '"demo: [\(if .preallocate then "preallocate" else "freeze" end)] ready in \(.startup_s) s: pid \(.pid), \(.slots) slots, \(.entries) feeds, RSS \(.rss_kb / 1048576 * 100 | floor / 100) GiB"' \
		< <(grep '"ready"' "$D/feedstore.log")

	"$LG" --url "http://127.0.0.1:$port/feed" --rate $RATE --conns $CONNS >"$D/loadgen.json" 2>"$D/loadgen.err" &
	local lg=$!
	PIDS+=("$lg")
	echo "demo: [$name] $RATE requests/s from $CONNS clients; stalltrap watch --pid $fs, polling p99 of feedstore_request_duration_seconds"
	"$ST" watch --pid "$fs" \
		--metrics-url "http://127.0.0.1:$port/metrics" --metric feedstore_request_duration_seconds --quantile 0.99 \
		--threshold 200ms --for 2s --interval 500ms --poll-timeout 200ms --window "$WINDOW" --before "$BEFORE" \
		--out "$D/incidents" --state-dir "$D/state" "${SINKS[@]}" >"$D/watch.out" 2>"$D/watch.log" &
	local wp=$!
	PIDS+=("$wp")
	tail -n +1 -f --pid=$wp "$D/watch.log" 2>/dev/null | sed -u 's/^/         watch | /' &
	PIDS+=("$!")

	# the doubling is due GROW_AFTER s after ready; wait past it, for an incident
	local start=$SECONDS deadline=$((SECONDS + GROW_AFTER + AFTER_GROW + 30)) saw_grow=0
	while [ $SECONDS -lt $deadline ]; do
		if [ $saw_grow = 0 ] && grep -q '"grow_populated"' "$D/feedstore.log"; then
			saw_grow=1
			jq -r '"demo: [\("'"$name"'")] the table grew: MAP_POPULATE of the new array took \(.populate_s) s"' \
				< <(grep '"grow_populated"' "$D/feedstore.log")
		fi
		if grep -q 'incident written' "$D/watch.log"; then
			# with a sink, let the watcher hand the incident over before it stops
			for _ in $(seq 1 50); do
				[ -z "$AM_URL" ] || grep -q 'alertmanager: delivered' "$D/watch.log" && break
				sleep 0.2
			done
			break
		fi
		grep -q 'incident not written' "$D/watch.log" && die "[$name] $(grep 'incident not written' "$D/watch.log")"
		kill -0 "$wp" 2>/dev/null || die "[$name] stalltrap watch exited: $(tail -3 "$D/watch.log")"
		# preallocated, the table never doubles: watch until PAST_DUE s past the
		# time the doubling was due, then stop
		if [ "$*" = "--preallocate" ] && [ $SECONDS -ge $((start + GROW_AFTER + PAST_DUE)) ]; then break; fi
		sleep 0.5
	done
	stop "$lg"
	stop "$wp"
	kill -TERM "$fs" 2>/dev/null || true
	wait "$fs" 2>/dev/null || true
	INCIDENTS=$(find "$D/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | sort)
}

# the output of an earlier run is replaced; anything else is not ours to delete
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ] && [ ! -e "$OUT/freeze" ] && [ ! -e "$OUT/preallocate" ]; then
	die "--out $OUT exists and is not an earlier demo's output: give a new or empty directory"
fi
rm -rf "$OUT/freeze" "$OUT/preallocate" "$OUT/alertmanager" "$OUT/summary.json"
mkdir -p "$OUT" || die "cannot create --out $OUT"
# --alertmanager local: an Alertmanager of our own on a free loopback port
SINKS=()
if [ "$AM_URL" = local ]; then
	command -v prometheus-alertmanager >/dev/null || die "prometheus-alertmanager is missing (make deps installs it)"
	mkdir -p "$OUT/alertmanager"
	printf 'route:\n  receiver: people\n  group_wait: 1s\nreceivers:\n  - name: people\n' >"$OUT/alertmanager/alertmanager.yml"
	am_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	prometheus-alertmanager --config.file="$OUT/alertmanager/alertmanager.yml" --storage.path="$OUT/alertmanager/data" \
		--web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$OUT/alertmanager/log" 2>&1 &
	PIDS+=("$!")
	AM_URL=http://127.0.0.1:$am_port
	for _ in $(seq 1 100); do curl -sf "$AM_URL/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
	curl -sf "$AM_URL/-/ready" >/dev/null || die "the local Alertmanager did not start: $(tail -3 "$OUT/alertmanager/log")"
	echo "demo: a local Alertmanager on $AM_URL (its UI too)"
fi
[ -n "$AM_URL" ] && SINKS=(--alertmanager "$AM_URL" --service feedstore --alert-resend 10s)
summary='{}'
for phase in $PHASES; do
	case $phase in
	freeze)
		run_phase freeze
		[ -n "$INCIDENTS" ] || die "[freeze] no incident within $((GROW_AFTER + AFTER_GROW + 30)) s: see $D/watch.log and $D/feedstore.log"
		dir=$(echo "$INCIDENTS" | head -1)
		r=$dir/report.json
		echo
		echo "demo: [freeze] stalltrap caught it. Verdict:"
		jq -r '"  \(.verdict.kind): \(.verdict.summary)"' "$r"
		jq -r 'if .verdict.culprit then "  culprit: \(.verdict.culprit.comm) (tid \(.verdict.culprit.tid)), \(.verdict.culprit.operation // "")\n  its stack (innermost first):" else "  no culprit named" end' "$r"
		jq -r '.verdict.culprit.stack // [] | reverse | .[] | "    \(.)"' "$r"
		jq -r '"  the trigger: \(.trigger.reason)"' "$r"
		jq -r '"  clients saw: p99 \(.p99_ms) ms, longest request \(.max_ms / 1000 * 100 | floor / 100) s, \(.longest_gap_s) s without a single answer"' "$D/loadgen.json"
		echo "  report: $dir/report.html (also flamegraph.svg, timeline.svg, profile.pb.gz, report.json)"
		if [ -n "$AM_URL" ]; then
			id="$(hostname)/$(basename "$dir")"
			for _ in $(seq 1 50); do grep -q "alertmanager: delivered $id" "$D/watch.log" && break; sleep 0.2; done
			if grep -q "alertmanager: delivered $id" "$D/watch.log"; then
				echo "  delivered to Alertmanager $AM_URL: amtool alert query alertname=StalltrapFreeze"
				curl -sf "$AM_URL/api/v2/alerts?filter=alertname=%22StalltrapFreeze%22" |
					jq -r '.[] | "    \(.labels.alertname) {service=\(.labels.service), host=\(.labels.host), kind=\(.labels.kind), severity=\(.labels.severity)} \(.status.state) since \(.startsAt)\n    summary: \(.annotations.summary)\n    culprit: \(.annotations.culprit)\n    incident_id: \(.annotations.incident_id)\n    report: \(.annotations.report)"'
			else
				echo "  not delivered to Alertmanager $AM_URL yet: $(grep 'alertmanager:' "$D/watch.log" | tail -1)"
			fi
		else
			echo "  delivered nowhere else: give --alertmanager URL (or local) to see the alert"
		fi
		summary=$(jq --arg dir "$dir" --argjson n "$(echo "$INCIDENTS" | grep -c .)" \
			--slurpfile lg "$D/loadgen.json" --slurpfile ready <(grep '"ready"' "$D/feedstore.log") \
			--slurpfile grow <(grep '"grow_populated"' "$D/feedstore.log" || true) \
			'.freeze = {incidents: $n, dir: $dir, loadgen: $lg[0], ready: $ready[0], populate_s: ($grow[0].populate_s // null)}' <<<"$summary")
		;;
	preallocate)
		run_phase preallocate --preallocate
		n=$(echo -n "$INCIDENTS" | grep -c . || true)
		echo
		if [ "$n" -eq 0 ]; then
			echo "demo: [preallocate] no incident: the table never had to double"
		else
			echo "demo: [preallocate] $n incident(s) fired: see $INCIDENTS"
		fi
		summary=$(jq --argjson n "$n" --slurpfile lg "$D/loadgen.json" --slurpfile ready <(grep '"ready"' "$D/feedstore.log") \
			'.preallocate = {incidents: $n, loadgen: $lg[0], ready: $ready[0]}' <<<"$summary")
		jq -r '"  the fix'"'"'s trade-off: p99 \(.preallocate.loadgen.p99_ms) ms (longest \(.preallocate.loadgen.max_ms) ms)" +
			(if .freeze then " against \(.freeze.loadgen.p99_ms) ms (longest \(.freeze.loadgen.max_ms / 1000 * 100 | floor / 100) s) without it" else "" end) +
			",\n  for \(.preallocate.ready.rss_kb / 1048576 * 100 | floor / 100) GiB held from the start" +
			(if .freeze then " instead of \(.freeze.ready.rss_kb / 1048576 * 100 | floor / 100) GiB (the incident'"'"'s fix cost ~3 GB per pod)" else "" end)' <<<"$summary"
		;;
	esac
done
echo "$summary" >"$OUT/summary.json"
echo "demo: summary in $OUT/summary.json"
