#!/bin/bash
# test_real_captures.sh: the verdict on saved captures of real Debian servers
# (tests/data/real/NAME/capture.jsonl.gz, recorded here with `stalltrap
# record` over freezes made with the servers' own commands, and healthy
# loads where nothing may fire). `stalltrap report` re-renders each without
# root; report.json's verdict must match expect.json: kind, primitive, the
# culprit's pid and tid (taken from the server's own introspection when the
# capture was made), the lock queued behind an io verdict's I/O
# (verdict.lock_queue), and words the summary must hold.
source "$(dirname "$0")/../lib.sh"

n=0
for dir in "$ROOT"/tests/data/real/*/; do
	name=$(basename "$dir")
	exp=$dir/expect.json
	out=$TMP/$name
	mkdir -p "$out"
	cp "$dir/capture.jsonl.gz" "$out/"
	"$ST" report "$out" >"$out/summary" 2>"$out/err" || fail "$name: report failed: $(cat "$out/err")"
	r=$out/report.json
	kind=$(jq -r .verdict.kind "$r")
	want=$(jq -r .kind "$exp")
	[ "$kind" = "$want" ] || fail "$name: verdict.kind $kind, want $want: $(jq -r .verdict.summary "$r" | head -c 400)"
	if jq -e 'has("primitive")' "$exp" >/dev/null; then
		[ "$(jq -r .verdict.primitive "$r")" = "$(jq -r .primitive "$exp")" ] ||
			fail "$name: verdict.primitive $(jq -r .verdict.primitive "$r"), want $(jq -r .primitive "$exp")"
	fi
	if [ "$want" = app_lock ]; then
		jq -e '.locks[0].kind == "app_lock" and .locks[0].type == .verdict.primitive and
			(.locks[0].found_by | IN("lock_entry", "convoy", "event_loop"))' "$r" >/dev/null ||
			fail "$name: the top lock group does not match the verdict: $(jq -c '.locks[0] | del(.holders)' "$r")"
	fi
	if jq -e 'has("lock_queue")' "$exp" >/dev/null; then
		# a lock queue behind the I/O its own waiters did
		jq -e --arg q "$(jq -r .lock_queue "$exp")" '.verdict.lock_queue.kind == $q and .verdict.lock_queue.io_pct >= 50' "$r" >/dev/null ||
			fail "$name: verdict.lock_queue $(jq -c .verdict.lock_queue "$r"), want kind $(jq -r .lock_queue "$exp") with io_pct >= 50"
	fi
	for k in pid tid; do
		if jq -e "has(\"culprit_$k\")" "$exp" >/dev/null; then
			[ "$(jq -r ".verdict.culprit.$k" "$r")" = "$(jq -r ".culprit_$k" "$exp")" ] ||
				fail "$name: culprit $k $(jq -r ".verdict.culprit.$k" "$r"), want $(jq -r ".culprit_$k" "$exp"): $(jq -r .verdict.summary "$r" | head -c 400)"
		fi
	done
	[ "$want" != none ] || jq -e '.verdict.culprit == null' "$r" >/dev/null || fail "$name: none with a culprit"
	while read -r word; do
		[ -n "$word" ] || continue
		jq -r .verdict.summary "$r" | grep -qF -- "$word" || fail "$name: summary lacks '$word': $(jq -r .verdict.summary "$r")"
	done < <(jq -r '.summary_has[]?' "$exp")
	head -1 "$out/summary" | grep -q "^verdict: $want: " || fail "$name: the printed summary does not start with the verdict"
	ok "$name: $(head -1 "$out/summary" | cut -c1-240)"
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n saved real captures"
ok "$n saved captures of real servers"
