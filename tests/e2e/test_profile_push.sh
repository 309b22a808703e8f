#!/bin/bash
# test_profile_push.sh: incidents' profiles go to Pyroscope's push API and
# Parca's WriteRaw gateway as those servers take them. The receivers
# (tests/e2e/profile_receiver.py, on loopback: no Pyroscope or Parca server can
# be installed here) decode the real wire formats and apply the servers'
# ingestion rules; go tool pprof reads what they extracted, and its totals
# equal report.json's. On real captures (copies of tests/data/real/*), on a
# capture that must be split (9000 call sites), on a pprof with a '-' in its
# sample type and ids that are neither sequential nor from 1; and the
# receivers refuse what the real servers refuse.
source "$(dirname "$0")/../lib.sh"
SEND=${PUSH_SEND:-$ROOT/build/e2e/push_send}
need_bins "$ST" "$GEN" "$SEND"
command -v go > /dev/null || fail "go is missing: run scripts/install-deps.sh (golang-go)"
export HOME="$TMP/home" GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod GOPROXY=off
mkdir -p "$HOME"
RECV=tests/e2e/profile_receiver.py
# The interpreter itself, once: a version manager's shim costs seconds a call.
PY=$(python3 -c 'import sys; print(sys.executable)')

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL=http://127.0.0.1:$port
# The samples cap of Pyroscope's earlier 1.x releases (4000), the strictest published.
"$PY" "$RECV" serve "$port" "$TMP/recv" --max-samples 4000 2> "$TMP/recv.log" &
PIDS_TO_KILL+=($!)
poll_until 0.1 10 curl -sf "$URL/ready" || fail "the receiver did not start: $(cat "$TMP/recv.log")"

# push NAME DIR_OR_FILE INCIDENT [EXTRA ARGS]: sends to both sinks, keeps what each took in $TMP/got/NAME
push() {
	local name=$1 src=$2 inc=$3; shift 3
	local pb=$src
	[ -d "$src" ] && pb=$src/profile.pb.gz
	rm -rf "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body
	"$SEND" --pyroscope "$URL" --parca "$URL" --service "svc-$name" --host host-1 \
		--kind lock_convoy --incident "$inc" "$@" "$pb" > "$TMP/send.out" \
		|| fail "$name: not delivered: $(cat "$TMP/send.out"; cat "$TMP/recv/rejected.log" 2>/dev/null)"
	mkdir -p "$TMP/got/$name"
	mv "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body "$TMP/got/$name"/
	cp "$TMP/send.out" "$TMP/got/$name/send.out"
}

# check NAME REPORT_JSON INCIDENT PARTS [LABELS_JSON]: labels, IDs, parts, and
# go tool pprof's totals of the parts, merged, against report.json's
check() {
	local name=$1 report=$2 inc=$3 parts=$4 labels=${5:-} sink
	for sink in pyroscope parca; do
		# pprof merges the profiles it is given: the parts add up to the incident
		# shellcheck disable=SC2046
		go tool pprof -symbolize=none -raw $(ls "$TMP/got/$name/$sink"-*.pb | sort -V) \
			> "$TMP/raw.txt" 2> "$TMP/pprof.err" \
			|| fail "$name: go tool pprof cannot read what $sink took: $(cat "$TMP/pprof.err")"
		"$PY" - "$TMP/got/$name" "$sink" "$report" "$inc" "$parts" "$TMP/raw.txt" "$labels" <<'PY' \
			|| fail "$name: $sink got something else than the incident"
import glob, json, re, sys, uuid
d, sink, report, inc, parts, raw, labels = sys.argv[1:]
rep = json.load(open(report))
recs = [json.load(open(f)) for f in sorted(glob.glob(f"{d}/{sink}-*.json"), key=lambda f: int(re.findall(r"-(\d+)\.json", f)[0]))]
assert len(recs) == int(parts), f"{len(recs)} requests, want {parts}"
want = {"__name__": "offcpu", "service_name": f"svc-{d.rsplit('/', 1)[1]}", "host": "host-1",
        "kind": "lock_convoy", "incident": inc, **(json.loads(labels) if labels else {})}
ns = uuid.UUID("f913ea6f-7627-49dd-a2c7-1dc8e6ee48fe")
for k, r in enumerate(recs):
    got = dict(r["labels"])
    assert got == want, f"labels {got}, want {want}"
    assert [n for n, _ in r["labels"]] == sorted(got), "labels not sorted"
    assert r["gzipped"], "the raw profile is not gzipped"
    assert r["samples"] <= 4000 and r["raw_len"] <= 3 << 20, f"part {k + 1}: {r['samples']} samples, {r['raw_len']} bytes"
    if sink == "pyroscope":
        name = inc if k == 0 else f"{inc}#{k + 1}"
        want_id = inc.lower() if k == 0 and re.fullmatch(r"[0-9a-fA-F-]{36}", inc) else str(uuid.uuid5(ns, name))
        assert r["id"] == want_id, f"sample ID {r['id']}, want {want_id}"
    if int(parts) > 1:
        assert any(c.startswith(f"stalltrap: part {k + 1} of {parts}") for c in r["comments"]), "no part comment"
    assert r["ids"]["locations"][:3] == [1, 2, 3][:len(r["ids"]["locations"][:3])], r["ids"]
text = open(raw).read()
types, _, rest = text.partition("Samples:\n")[2].partition("\n")
assert types.split()[0].startswith(("offcpu/nanoseconds", "off_cpu/nanoseconds")), types
samples = rest.partition("Locations")[0]
tot_ns = tot_n = 0
for m in re.finditer(r"^\s+(\d+)\s+(\d+): [\d ]+$", samples, re.M):
    tot_ns += int(m.group(1)); tot_n += int(m.group(2))
want_ms, blocks = rep["offcpu_total_ms"], sum(s["count"] for s in rep["stacks"])
err = abs(tot_ns / 1e6 - want_ms) / want_ms * 100
assert err < 0.1, f"pprof total {tot_ns / 1e6:.3f} ms, report.json {want_ms:.3f} ms"
assert tot_n == blocks, f"{tot_n} blocks in pprof, {blocks} in report.json"
print(f"ok   {d.rsplit('/', 1)[1]}: {sink} took {len(recs)} request(s); go tool pprof: {tot_ns / 1e6:.3f} ms "
      f"in {tot_n} blocks = report.json ({err:.5f} % apart); labels and sample IDs as sent")
PY
	done
}

# 1. Real captures, rendered from copies (never in the committed directories).
for cap in redis_debug_sleep postgres_hot_row_contended; do
	cp -r "tests/data/real/$cap" "$TMP/$cap"
	"$ST" report "$TMP/$cap" > /dev/null || fail "$cap: stalltrap report failed"
done
push redis "$TMP/redis_debug_sleep" "20261205T052633Z-redis-server-327"
grep -q "^pyroscope: 1 requests, all 2xx; note: captured at .*outside Pyroscope's ingestion window" "$TMP/got/redis/send.out" \
	|| fail "no note of the stale time: $(cat "$TMP/got/redis/send.out")"
check redis "$TMP/redis_debug_sleep/report.json" "20261205T052633Z-redis-server-327" 1
push postgres "$TMP/postgres_hot_row_contended" "8e3b1c52-7f0a-4c9e-b1d2-3a4b5c6d7e8f" \
	--pod-uid 0b7e4c1a-95d2-4f3e-8a61-2c9d0e1f3a47 --container-id 3f2a9c
check postgres "$TMP/postgres_hot_row_contended/report.json" "8e3b1c52-7f0a-4c9e-b1d2-3a4b5c6d7e8f" 1 \
	'{"pod_uid": "0b7e4c1a-95d2-4f3e-8a61-2c9d0e1f3a47", "container_id": "3f2a9c"}'
# an incident id that is a UUID is the sample ID itself
grep -q '"id": "8e3b1c52-7f0a-4c9e-b1d2-3a4b5c6d7e8f"' "$TMP"/got/postgres/pyroscope-*.json \
	|| fail "a UUID incident id is not the sample ID"

# 2. Over the samples cap: split into self-contained parts that add up.
"$GEN" --out "$TMP/big" --kind big --stacks 9000
"$ST" report "$TMP/big" > /dev/null || fail "big: stalltrap report failed"
push big "$TMP/big" "big-incident"
grep -q "^pyroscope: 3 requests, all 2xx; note: .*split into 3 requests (9000 samples" "$TMP/got/big/send.out" \
	|| fail "big: not split in 3: $(cat "$TMP/got/big/send.out")"
check big "$TMP/big/report.json" "big-incident" 3

# 3. A pprof the servers would refuse as it is ('-' in the sample type, ids
#    from 8 in steps of 3): stalltrap never sends it so.
"$PY" "$RECV" craft "$TMP/redis_debug_sleep/profile.pb.gz" pprof:dash "$TMP/dash.pb.gz"
"$PY" "$RECV" craft "$TMP/dash.pb.gz" pprof:sparse "$TMP/bad.pb.gz"
go tool pprof -symbolize=none -raw "$TMP/bad.pb.gz" 2>&1 | grep -q "off-cpu/nanoseconds" \
	|| fail "the crafted pprof has no '-' in its sample type"
push fixed "$TMP/bad.pb.gz" "fixed-incident"
grep -q "sample type 'off-cpu' sent with '_' for '-'" "$TMP/got/fixed/send.out" \
	|| fail "no note of the renamed sample type: $(cat "$TMP/got/fixed/send.out")"
check fixed "$TMP/redis_debug_sleep/report.json" "fixed-incident" 1
grep -q '"off_cpu"' "$TMP"/got/fixed/pyroscope-*.json || fail "the sample type was not renamed"

# 4. What the servers refuse, the receivers refuse too (so the checks above
#    can fail): each crafted from a request stalltrap sent.
rm -f "$TMP/recv/rejected.log"
"$PY" "$RECV" craft "$(ls "$TMP"/got/redis/pyroscope-*.body | head -1)" \
	push:dash "$TMP/push-dash" push:zeroid "$TMP/push-zeroid" push:noservice "$TMP/push-noservice" \
	push:noname "$TMP/push-noname" push:oversize "$TMP/push-oversize" push:badid "$TMP/push-badid"
"$PY" "$RECV" craft "$(ls "$TMP"/got/redis/parca-*.body | head -1)" \
	parca:noname "$TMP/parca-noname" parca:sparse "$TMP/parca-sparse" parca:zeroid "$TMP/parca-zeroid"
refused() { # SINK WHAT WANT_PATTERN: the crafted $TMP/SINK-WHAT is refused for that
	local sink=$1 what=$2 pat=$3 path ctype code file
	if [ "$sink" = pyroscope ]; then
		path=/push.v1.PusherService/Push ctype=application/proto file=$TMP/push-$what
	else
		path=/profiles/writeraw ctype=application/json file=$TMP/parca-$what
	fi
	code=$(curl -s -o "$TMP/answer" -w '%{http_code}' -H "Content-Type: $ctype" \
		--data-binary @"$file" "$URL$path")
	[ "$code" = 400 ] || fail "$sink took a request with $what (HTTP $code)"
	grep -q -- "$pat" "$TMP/answer" || fail "$sink refused $what for another reason: $(cat "$TMP/answer")"
	ok "$sink refuses $what: $(head -c 120 "$TMP/answer")"
}
refused pyroscope dash "sample type contains -"
refused pyroscope zeroid "location id is 0"
refused pyroscope noservice "service name is not provided"
refused pyroscope noname "invalid metric name"
refused pyroscope oversize "exceeds the size limit"
refused pyroscope badid "invalid UUID"
refused parca noname "invalid metric name"
refused parca sparse "id is not sequential"
refused parca zeroid "id is not sequential"
# and an untouched request still goes through (the crafting changed only what it says)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: application/proto" \
	--data-binary @"$(ls "$TMP"/got/redis/pyroscope-*.body | head -1)" "$URL/push.v1.PusherService/Push")
[ "$code" = 200 ] || fail "the receiver refuses stalltrap's own request once sent again (HTTP $code)"

# 5. A profile the builders cannot send is a one-line error.
printf 'not a profile' > "$TMP/junk.pb"
"$SEND" --pyroscope "$URL" --service s --incident i "$TMP/junk.pb" > "$TMP/send.out" && fail "junk was sent"
grep -qx "pyroscope: refused: not a pprof profile (profile.proto does not decode)" "$TMP/send.out" \
	|| fail "junk: $(cat "$TMP/send.out")"
"$SEND" --parca "$URL" --incident i "$TMP/redis_debug_sleep/profile.pb.gz" > "$TMP/send.out" && fail "sent without a service"
grep -q "^parca: refused: no service name" "$TMP/send.out" || fail "no service: $(cat "$TMP/send.out")"
ok "the builders refuse junk and a missing service name in one line"
echo "test_profile_push: all passed"
