#!/bin/bash
# test_floor.sh: `stalltrap floor --hooks` attaches one empty program per listed
# hook (the perf_event one on every CPU) and holds them until signalled; the
# hooks record attaches, read back from its links, attach again as a floor;
# a bad or unknown hook is one line naming it and exit 2.
source "$(dirname "$0")/../lib.sh"
require_root

expect_exit 2 "--hooks is required" "$ST" floor
expect_exit 2 "bad hook 'kprobe:foo'" "$ST" floor --hooks raw_tp:sched_switch,kprobe:foo
expect_exit 2 "bad hook 'raw_tp:'" "$ST" floor --hooks raw_tp:
expect_exit 2 "cannot attach raw_tp:no_such_tp_x: no such tracepoint" "$ST" floor --hooks raw_tp:sched_switch,raw_tp:no_such_tp_x
expect_exit 2 "cannot attach tp_btf:no_such_tp_x: no such tracepoint" "$ST" floor --hooks tp_btf:no_such_tp_x
expect_exit 2 "invalid --sample-hz '0'" "$ST" floor --hooks perf_event --sample-hz 0
ok "bad hooks"

# links_of PID: "TYPE NAME PROG_ID" per BPF link the process holds
links_of() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		awk -F'\t' '$1 == "link_type:" { t = $2 } $1 == "tp_name:" { n = $2 } $1 == "prog_id:" { p = $2 }
			END { if (t != "") print t, (n == "" ? "-" : n), p }' "$f" 2>/dev/null
	done
}

ncpu=$(nproc --all)
"$ST" floor --hooks raw_tp:sched_switch,tp_btf:sched_waking,perf_event,raw_tp:contention_begin --duration 60 \
	>"$TMP/floor.out" 2>"$TMP/floor.err" & fl=$!; PIDS_TO_KILL+=($fl)
wait_until 10 "floor to attach" grep -qx attached "$TMP/floor.out"
links_of $fl >"$TMP/links"
for tp in sched_switch sched_waking contention_begin; do
	[ "$(grep -c "^raw_tracepoint $tp " "$TMP/links")" -eq 1 ] || fail "no single link on $tp: $(cat "$TMP/links")"
done
[ "$(grep -c '^perf ' "$TMP/links")" -eq "$ncpu" ] || fail "want a perf link per CPU ($ncpu): $(cat "$TMP/links")"
# a program of its own per tracepoint (the perf links share one, as record's do)
[ "$(awk '$1 == "raw_tracepoint" { print $3 }' "$TMP/links" | sort -u | wc -l)" -eq 3 ] || fail "tracepoints share programs: $(cat "$TMP/links")"
[ "$(bpf_hooks $fl)" = "perf_event,raw_tp:contention_begin,raw_tp:sched_switch,tp_btf:sched_waking" ] \
	|| fail "hooks read back as $(bpf_hooks $fl)"
kill -TERM $fl
wait $fl || fail "floor did not exit 0 on SIGTERM"
ok "links per hook, held until SIGTERM"

# record's own hooks, read from its links, make a floor with the same hooks
sleep 60 & idle=$!; PIDS_TO_KILL+=($idle)
"$ST" record --pid $idle --duration 60s --out "$TMP/rec" >/dev/null 2>"$TMP/st.err" & rec=$!; PIDS_TO_KILL+=($rec)
wait_attached $rec
hooks=$(bpf_hooks $rec)
kill -INT $rec
wait $rec || fail "record failed: $(cat "$TMP/st.err")"
# where sched_exit_tp is, one switch hook: no sched_switch program unless
# STALLTRAP_SWITCH_HOOKS=2 asks for it (docs/capture.md "One switch hook")
case ,$hooks, in
*,raw_tp:sched_exit_tp,*)
	case ,$hooks, in *,raw_tp:sched_switch,*) fail "record attaches sched_switch beside sched_exit_tp: $hooks" ;; esac
	STALLTRAP_SWITCH_HOOKS=2 "$ST" record --pid $idle --duration 60s --out "$TMP/rec2" >/dev/null 2>"$TMP/st2.err" & rec2=$!
	PIDS_TO_KILL+=($rec2)
	wait_attached $rec2 "$TMP/st2.err"
	hooks2=$(bpf_hooks $rec2)
	kill -INT $rec2
	wait $rec2 || fail "record with two switch hooks failed: $(cat "$TMP/st2.err")"
	case ,$hooks2, in *,raw_tp:sched_switch,*raw_tp:sched_exit_tp,* | *,raw_tp:sched_exit_tp,*raw_tp:sched_switch,*) ;;
	*) fail "STALLTRAP_SWITCH_HOOKS=2: record's hooks lack sched_switch or sched_exit_tp: $hooks2" ;; esac
	ok "one switch hook (sched_exit_tp), two with STALLTRAP_SWITCH_HOOKS=2" ;;
*,raw_tp:sched_switch,*) ;;
*) fail "record's hooks lack sched_switch: $hooks" ;;
esac
"$ST" floor --hooks "$hooks" --duration 1s >"$TMP/floor2.out" 2>"$TMP/floor2.err" & fl=$!; PIDS_TO_KILL+=($fl)
wait_until 10 "floor on record's hooks to attach" grep -qx attached "$TMP/floor2.out"
[ "$(bpf_hooks $fl)" = "$hooks" ] || fail "floor on $hooks holds $(bpf_hooks $fl)"
wait $fl || fail "floor --duration 1s did not exit 0: $(cat "$TMP/floor2.err")"
ok "floor on record's $(tr ',' '\n' <<<"$hooks" | wc -l) hooks ($hooks)"
