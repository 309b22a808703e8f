# lib.sh: helpers for the root/BPF tests (sourced). Each test is a bash script
# that exits 0 on success; fail() prints one line naming what was wrong.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ST=${STALLTRAP:-$PWD/build/stalltrap}
WL=$PWD/build/workloads
TMP=$(mktemp -d /tmp/stalltrap-test.XXXXXX)
PIDS_TO_KILL=()
cleanup() {
	for p in "${PIDS_TO_KILL[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# jq_val FILE FILTER: one value from a JSON file
jq_val() { jq -r "$2" "$1"; }
# expect_exit CODE PATTERN CMD...: runs CMD, checks exit status and one stderr line matching PATTERN
expect_exit() {
	local want=$1 pat=$2 rc=0; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want (stderr: $(head -c 300 "$TMP/err"))"
	grep -qE -e "$pat" "$TMP/err" || fail "'$*' stderr does not match /$pat/: $(head -c 300 "$TMP/err")"
	[ "$(wc -l <"$TMP/err")" -le 2 ] || fail "'$*' printed more than a line or two on stderr"
}
# wait_for_file FILE TIMEOUT_S
wait_for_file() {
	local i
	for i in $(seq 1 $(( $2 * 20 ))); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "timed out waiting for $1"
}
