#!/bin/bash
# test_profile_push.sh: incidents' profiles go to Pyroscope's push API and
# Parca's WriteRaw gateway as those servers take them. The receivers
# (tests/e2e/profile_receiver.py, on loopback: no Pyroscope or Parca server can
# be installed here) decode the real wire formats and apply the servers'
# ingestion rules; go tool pprof reads what they extracted, and its totals
# equal report.json's. Sent by `stalltrap send` (the deliver stage's queue),
# and by tests/e2e/push_send for labels send cannot set. On real captures (copies of tests/data/real/*), on a
# capture that must be split (4500 call sites), on a pprof with a '-' in its
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

# push NAME DIR: `stalltrap send DIR` to both sinks (service svc-NAME); what
# each took goes to $TMP/got/NAME
push() {
	local name=$1 dir=$2
	rm -rf "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body
	"$ST" send "$dir" --state-dir "$TMP/state-$name" --pyroscope "$URL" --parca "$URL" \
		--service "svc-$name" --sink-timeout 5s --give-up-after 20s > "$TMP/send.out" 2>&1 \
		|| fail "$name: not delivered: $(cat "$TMP/send.out"; cat "$TMP/recv/rejected.log" 2>/dev/null)"
	mkdir -p "$TMP/got/$name"
	mv "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body "$TMP/got/$name"/
	cp "$TMP/send.out" "$TMP/got/$name/send.out"
}
# labels DIR: the labels stalltrap send gives DIR's incident (besides __name__ and service_name)
labels() {
	local kind
	kind=$(jq -r '.verdict.kind // "none"' "$1/report.json")
	printf '{"host": "%s", "kind": "%s", "incident": "%s/%s"}' "$(hostname)" "$kind" "$(hostname)" "$(basename "$1")"
}

# check NAME REPORT_JSON PARTS LABELS_JSON: labels, IDs, parts, and go tool
# pprof's totals of the parts, merged, against report.json's
check() {
	local name=$1 report=$2 parts=$3 labels=$4 sink
	for sink in pyroscope parca; do
		# pprof merges the profiles it is given: the parts add up to the incident
		# shellcheck disable=SC2046
		go tool pprof -symbolize=none -raw $(ls "$TMP/got/$name/$sink"-*.pb | sort -V) \
			> "$TMP/raw.txt" 2> "$TMP/pprof.err" \
			|| fail "$name: go tool pprof cannot read what $sink took: $(cat "$TMP/pprof.err")"
		"$PY" - "$TMP/got/$name" "$sink" "$report" "$parts" "$TMP/raw.txt" "$labels" <<'PY' \
			|| fail "$name: $sink got something else than the incident"
import glob, json, re, sys, uuid
d, sink, report, parts, raw, labels = sys.argv[1:]
rep = json.load(open(report))
recs = [json.load(open(f)) for f in sorted(glob.glob(f"{d}/{sink}-*.json"), key=lambda f: int(re.findall(r"-(\d+)\.json", f)[0]))]
assert len(recs) == int(parts), f"{len(recs)} requests, want {parts}"
want = {"__name__": "offcpu", "service_name": f"svc-{d.rsplit('/', 1)[1]}", **json.loads(labels)}
inc = want["incident"]
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
push redis "$TMP/redis_debug_sleep"
grep -q "pyroscope: .*redis_debug_sleep: captured at .*outside Pyroscope's ingestion window: sent without a time" \
	"$TMP/got/redis/send.out" || fail "no note of the stale time: $(cat "$TMP/got/redis/send.out")"
check redis "$TMP/redis_debug_sleep/report.json" 1 "$(labels "$TMP/redis_debug_sleep")"
push postgres "$TMP/postgres_hot_row_contended"
check postgres "$TMP/postgres_hot_row_contended/report.json" 1 "$(labels "$TMP/postgres_hot_row_contended")"

# 2. Over the samples cap: split into self-contained parts that add up.
"$GEN" --out "$TMP/big" --kind big --stacks 4500
"$ST" report "$TMP/big" > /dev/null || fail "big: stalltrap report failed"
push big "$TMP/big"
grep -q "pyroscope: .*big: .*split into 2 requests (4500 samples" "$TMP/got/big/send.out" \
	|| fail "big: not split in 2: $(cat "$TMP/got/big/send.out")"
check big "$TMP/big/report.json" 2 "$(labels "$TMP/big")"

# 3. A pprof the servers would refuse as it is ('-' in the sample type, ids
#    from 8 in steps of 3): stalltrap never sends it so.
cp -r "$TMP/redis_debug_sleep" "$TMP/fixed"
"$PY" "$RECV" craft "$TMP/redis_debug_sleep/profile.pb.gz" pprof:dash "$TMP/dash.pb.gz"
"$PY" "$RECV" craft "$TMP/dash.pb.gz" pprof:sparse "$TMP/fixed/profile.pb.gz"
go tool pprof -symbolize=none -raw "$TMP/fixed/profile.pb.gz" 2>&1 | grep -q "off-cpu/nanoseconds" \
	|| fail "the crafted pprof has no '-' in its sample type"
push fixed "$TMP/fixed"
grep -q "sample type 'off-cpu' sent with '_' for '-'" "$TMP/got/fixed/send.out" \
	|| fail "no note of the renamed sample type: $(cat "$TMP/got/fixed/send.out")"
check fixed "$TMP/redis_debug_sleep/report.json" 1 "$(labels "$TMP/fixed")"
grep -q '"off_cpu"' "$TMP"/got/fixed/pyroscope-*.json || fail "the sample type was not renamed"

# 4. A container's incident: its pod UID and container id are labels (the
#    builders as the deliver stage calls them, through tests/e2e/push_send;
#    an incident id that is a UUID is the sample ID itself).
rm -rf "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body
"$SEND" --pyroscope "$URL" --parca "$URL" --service svc-pod --host host-1 --kind lock_convoy \
	--incident 8e3b1c52-7f0a-4c9e-b1d2-3a4b5c6d7e8f --pod-uid 0b7e4c1a-95d2-4f3e-8a61-2c9d0e1f3a47 \
	--container-id 3f2a9c "$TMP/postgres_hot_row_contended/profile.pb.gz" > "$TMP/send.out" \
	|| fail "pod: not delivered: $(cat "$TMP/send.out")"
mkdir -p "$TMP/got/pod"
mv "$TMP/recv"/*.pb "$TMP/recv"/*.json "$TMP/recv"/*.body "$TMP/got/pod"/
check pod "$TMP/postgres_hot_row_contended/report.json" 1 '{"host": "host-1", "kind": "lock_convoy",
	"incident": "8e3b1c52-7f0a-4c9e-b1d2-3a4b5c6d7e8f",
	"pod_uid": "0b7e4c1a-95d2-4f3e-8a61-2c9d0e1f3a47", "container_id": "3f2a9c"}'

# 5. What the servers refuse, the receivers refuse too (so the checks above
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

# 6. A profile the builders cannot send is parked with a one-line reason.
cp -r "$TMP/redis_debug_sleep" "$TMP/junk"
printf 'not a profile' | gzip > "$TMP/junk/profile.pb.gz"
"$ST" send "$TMP/junk" --state-dir "$TMP/state-junk" --pyroscope "$URL" --give-up-after 20s \
	> "$TMP/send.out" 2>&1 && fail "junk was delivered"
grep -q "cannot build the request: not a pprof profile (profile.proto does not decode)" "$TMP/send.out" \
	|| fail "junk: $(cat "$TMP/send.out")"
"$SEND" --parca "$URL" --incident i "$TMP/redis_debug_sleep/profile.pb.gz" > "$TMP/send.out" && fail "sent without a service"
grep -q "^parca: refused: no service name" "$TMP/send.out" || fail "no service: $(cat "$TMP/send.out")"
ok "a profile that cannot be sent is parked with its reason; no service name is refused"
echo "test_profile_push: all passed"
