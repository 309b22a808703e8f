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
