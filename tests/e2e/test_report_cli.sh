#!/bin/bash
# test_report_cli.sh: `stalltrap report DIR` re-renders every file from the
# saved capture; the SVGs are well-formed XML; `stalltrap diff` writes its
# graph and listing; usage and runtime errors exit 2 and 1 with one line.
source "$(dirname "$0")/../lib.sh"
need_bins "$ST" "$GEN"

"$GEN" --out "$TMP/inc" --kind incident
"$GEN" --out "$TMP/base" --kind baseline
files="profile.folded report.json flamegraph.svg timeline.svg profile.pb.gz report.html"
"$ST" report "$TMP/inc" > "$TMP/report.out" || fail "stalltrap report exited $?"
for f in $files; do
	[ -s "$TMP/inc/$f" ] || fail "report did not write $f"
	[ "$(stat -c %a "$TMP/inc/$f")" = 600 ] || fail "$f is not mode 0600"
done
ok "report writes all of: $files (0600)"
# Again over the existing files: they are replaced, and nothing else is left.
"$ST" report "$TMP/inc" > /dev/null || fail "second report failed"
n=$(find "$TMP/inc" -type f | wc -l)
[ "$n" -eq 7 ] || fail "expected 7 files in the directory, found $n: $(ls -a "$TMP/inc")"
ok "re-rendering replaces the files, no temporaries left"

python3 - "$TMP/inc" <<'PY' || fail "pictures are not well-formed"
import sys, xml.dom.minidom, html.parser
d = sys.argv[1]
for f in ("flamegraph.svg", "timeline.svg"):
    doc = xml.dom.minidom.parse(f"{d}/{f}")
    assert doc.documentElement.tagName == "svg", f
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.scripts = 0
    def handle_starttag(self, tag, attrs):
        if tag == "script": self.scripts += 1
        if tag not in ("meta", "br", "rect", "line", "path", "polyline", "img", "stop"): self.stack.append(tag)
    def handle_startendtag(self, tag, attrs): pass
    def handle_endtag(self, tag):
        if tag in ("meta", "br", "rect", "line", "path", "polyline", "img", "stop"): return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
p = P(); p.feed(open(f"{d}/report.html", encoding="utf-8").read()); p.close()
assert not p.stack, f"unclosed: {p.stack}"
assert p.scripts == 3, f"{p.scripts} scripts"
PY
ok "flamegraph.svg and timeline.svg are well-formed XML; report.html nests properly, 3 scripts"

grep -q 'report.html' "$TMP/report.out" || grep -q "wrote $TMP/inc/" "$TMP/report.out" || fail "report printed no summary"

# diff: default output into the incident directory, and --out.
"$ST" diff "$TMP/base" "$TMP/inc" > "$TMP/diff.out" || fail "diff exited $?"
[ -s "$TMP/inc/diff-flamegraph.svg" ] && [ -s "$TMP/inc/diff.txt" ] || fail "diff wrote no files into INCIDENT_DIR"
grep -q "biggest changes by function" "$TMP/diff.out" || fail "diff printed no listing"
grep -q "rwsem_down_read_slowpath" "$TMP/inc/diff.txt" || fail "diff.txt misses the lock wait that grew"
python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])" "$TMP/inc/diff-flamegraph.svg" \
	|| fail "diff-flamegraph.svg is not well-formed"
grep -q 'ms/s (base 0.000 ms/s' "$TMP/inc/diff-flamegraph.svg" || fail "diff graph has no new frame"
"$ST" diff "$TMP/base" "$TMP/inc" --out "$TMP/d2" --top 3 > /dev/null || fail "diff --out failed"
[ -s "$TMP/d2/diff-flamegraph.svg" ] && [ -s "$TMP/d2/diff.txt" ] || fail "diff --out wrote nothing"
[ "$(grep -c '^  [+-]' "$TMP/d2/diff.txt")" -le 6 ] || fail "--top 3 lists more than 3 per table"
ok "diff writes diff-flamegraph.svg and diff.txt (default dir and --out, --top)"

# Errors: usage -> 2, runtime -> 1, one line naming the problem.
expect() { # status pattern command...
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" > /dev/null 2> "$TMP/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want"
	[ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "$* printed $(wc -l < "$TMP/err") lines on stderr"
	grep -q -- "$pat" "$TMP/err" || fail "$*: stderr '$(cat "$TMP/err")' does not name '$pat'"
}
expect 2 "BASE_DIR" "$ST" diff "$TMP/base"
expect 2 "'--bogus'" "$ST" diff "$TMP/base" "$TMP/inc" --bogus
expect 2 "invalid --top" "$ST" diff "$TMP/base" "$TMP/inc" --top 0
expect 2 "'--out'" "$ST" diff "$TMP/base" "$TMP/inc" --out
expect 1 "$TMP/nope" "$ST" diff "$TMP/nope" "$TMP/inc"
expect 1 "capture.jsonl.gz" "$ST" report "$TMP/nope"
ok "usage errors exit 2, runtime errors 1, with one line"
echo "test_report_cli: all passed"
