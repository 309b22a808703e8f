#!/bin/bash
# test_pprof.sh: go tool pprof (Debian golang-go) reads profile.pb.gz; its
# off-CPU total matches report.json's offcpu_total_ms within 0.1 %; the
# labels (pid, tid, comm), the build ids and the drop comments come through.
# On the incident capture and on one with 20k call sites.
source "$(dirname "$0")/../lib.sh"
need_bins "$ST" "$GEN"
command -v go > /dev/null || fail "go is missing: run scripts/install-deps.sh (golang-go)"
# go tool pprof needs no module or network; keep its caches out of \$HOME.
export HOME="$TMP/home" GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod GOPROXY=off
mkdir -p "$HOME"

check_dir() { # dir label
	local dir=$1 label=$2
	"$ST" report "$dir" > /dev/null || fail "$label: stalltrap report failed"
	go tool pprof -symbolize=none -raw "$dir/profile.pb.gz" > "$TMP/raw.txt" 2> "$TMP/pprof.err" \
		|| fail "$label: go tool pprof -raw failed: $(cat "$TMP/pprof.err")"
	python3 - "$TMP/raw.txt" "$dir/report.json" "$label" <<'PY' || fail "$label: pprof and report.json disagree"
import json, re, sys
raw, report, label = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3]
head, _, rest = raw.partition("Samples:\n")
types, _, rest = rest.partition("\n")
assert types.split()[:2] == ["offcpu/nanoseconds[dflt]", "count/count"], types
samples, _, rest = rest.partition("Locations")
ns = count = n = 0
for m in re.finditer(r"^\s+(\d+)\s+(\d+): [\d ]+$", samples, re.M):
    ns += int(m.group(1)); count += int(m.group(2)); n += 1
want_ms = report["offcpu_total_ms"]
got_ms = ns / 1e6
err = abs(got_ms - want_ms) / want_ms * 100 if want_ms else abs(got_ms)
print(f"ok   {label}: pprof off-CPU total {got_ms:.3f} ms in {n} samples, report.json {want_ms:.3f} ms ({err:.5f} % apart)")
assert err < 0.1, "more than 0.1 % apart"
blocks = sum(s["count"] for s in report["stacks"])
assert count == blocks, f"{count} blocks in pprof, {blocks} in report.json"
print(f"ok   {label}: {count} blocks, as in report.json")
for lab in ("pid:[", "tid:[", "comm:["):
    assert lab in samples, f"no {lab} label"
print(f"ok   {label}: samples carry pid, tid and comm labels")
for name in report["drops"]:
    assert f"Comment: drop {name}={report['drops'][name]}" in head, f"no comment for drop {name}"
print(f"ok   {label}: every drop counter is a comment")
PY
}

"$GEN" --out "$TMP/inc" --kind incident
check_dir "$TMP/inc" incident
grep -q "4f1c0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b" "$TMP/raw.txt" || fail "the executable's build id is missing"
grep -q "93ac61ec5a8eb1396f9fbd350e3169a558528a40" "$TMP/raw.txt" || fail "libc's build id is missing"
go tool pprof -symbolize=none -top "$TMP/inc/profile.pb.gz" > "$TMP/top.txt" 2>&1 || fail "pprof -top failed"
head -2 "$TMP/top.txt" | grep -q "^File: feedsrv" || fail "pprof does not name the profile after the executable: $(head -1 "$TMP/top.txt")"
grep -q "rwsem_down_read_slowpath" "$TMP/top.txt" || fail "pprof -top misses a kernel frame"
go tool pprof -symbolize=none -traces "$TMP/inc/profile.pb.gz" > "$TMP/traces.txt" 2>&1 || fail "pprof -traces failed"
grep -Eq "comm: +alloc-3gb" "$TMP/traces.txt" || fail "pprof -traces shows no comm label"
ok "incident: build ids in the mappings, named after the executable, -top and -traces read it"

"$GEN" --out "$TMP/big" --kind big --stacks 20000
check_dir "$TMP/big" "20k call sites"
echo "test_pprof: all passed"
