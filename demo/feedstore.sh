# shellcheck shell=bash
# demo/feedstore.sh: starts the freeze demo's feed store and waits until it
# serves (sourced, not run: by demo/run.sh and bench/demo_freeze.sh).
#
# feedstore_start LOG SECONDS PIDS FEEDSTORE [FLAG...]
#   Runs FEEDSTORE (the path of build/demo/feedstore) with FLAGs in the
#   background, its stdout and stderr to LOG, and appends its pid to the
#   caller's array named PIDS at once, so the caller's cleanup ends it even
#   when interrupted while the table fills. Then waits, at most SECONDS
#   (whole seconds), for its "ready" line. Sets FEEDSTORE_PID and
#   FEEDSTORE_PORT (from the ready line) and returns 0; returns 1 when the
#   feed store exits or is not ready in time (it stays in PIDS, for the
#   caller's cleanup). Prints nothing: the caller says why it stops, with the
#   tail of LOG. Needs jq.

feedstore_start() {
	local log=$1 secs=$2 i line
	local -n feedstore_pids_=$3
	shift 3
	"$@" >"$log" 2>&1 &
	FEEDSTORE_PID=$!
	FEEDSTORE_PORT=
	feedstore_pids_+=("$FEEDSTORE_PID")
	for ((i = 0; i < secs * 10; i++)); do
		grep -qs '"ready"' "$log" && break
		kill -0 "$FEEDSTORE_PID" 2>/dev/null || break
		sleep 0.1
	done
	# once more: it may have printed the line just before the loop gave up
	line=$(grep -s -m1 '"ready"' "$log") || return 1
	FEEDSTORE_PORT=$(jq -r .port <<<"$line")
	[[ $FEEDSTORE_PORT =~ ^[0-9]+$ ]]
}

# feedstore_log2_slots [MAX]: prints the table size (log2 of its slots) for
# this machine: the largest K up to MAX (default 24) whose peak, the old
# table of 2^K 352-byte slots plus the doubled one (3 x 352 x 2^K bytes),
# leaves 3 GiB of MemAvailable free; 20 at least. The freeze lasts as long as
# the kernel takes to fault the doubled table in: measured on these VMs
# 2.4-4.6 GB/s (demo/README.md "Sizing, measured"), so 2^24 slots (11 GiB doubled)
# freeze 2.6-4.9 s, above the 2.2 s the origin's trigger needs.
feedstore_log2_slots() {
	local max=${1:-24} k avail_kb
	avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	for ((k = max; k > 20; k--)); do
		(((3 * 352 << k) / 1024 + 3 * 1048576 <= avail_kb)) && break
	done
	echo "$k"
}

# feedstore_gib LOG2 [FACTOR]: FACTOR x 352 x 2^LOG2 bytes in GiB, 2 decimals
feedstore_gib() { awk -v k="$1" -v f="${2:-1}" 'BEGIN { printf "%.2f", f * 352 * 2 ^ k / 2 ^ 30 }'; }
