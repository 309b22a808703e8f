# lib.sh: helpers of the end-to-end tests (sourced): paths, scratch directory, checks.
# The tests run without root on captures made by build/e2e/gen_capture.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
STALLTRAP=${STALLTRAP:-build/stalltrap}
GEN=${GEN:-build/e2e/gen_capture}
ARTIFACTS=${ARTIFACTS:-build/test-artifacts}
for bin in "$STALLTRAP" "$GEN"; do
	[ -x "$bin" ] || { echo "FAIL: $bin is missing: run make" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/stalltrap-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
