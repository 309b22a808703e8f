#!/bin/bash
# test_deploy_docs.sh: the configuration files docs/deploy.md gives are valid: the
# Prometheus rules (promtool check rules), the Alertmanager configuration
# (amtool check-config), the DaemonSet (YAML that parses, with the
# capabilities the docs justify and no privileged). Each is the fenced block
# that starts with "# file: NAME".
source "$(dirname "$0")/../lib.sh"
command -v promtool >/dev/null || fail "promtool is not installed (prometheus, scripts/install-deps.sh)"
command -v amtool >/dev/null || fail "amtool is not installed (prometheus-alertmanager)"
awk -v dir="$TMP" '
	/^```/ { if (out) { close(out); out = "" } ; next }
	/^# file: / { out = dir "/" $3; next }
	out { print > out }
' docs/deploy.md
for f in prometheus-rules.yml alertmanager.yml daemonset.yaml; do [ -s "$TMP/$f" ] || fail "docs/deploy.md has no $f block"; done
promtool check rules "$TMP/prometheus-rules.yml" >"$TMP/promtool.out" 2>&1 || fail "promtool: $(cat "$TMP/promtool.out")"
ok "prometheus rules: $(grep -o 'SUCCESS.*' "$TMP/promtool.out")"
amtool check-config "$TMP/alertmanager.yml" >"$TMP/amtool.out" 2>&1 || fail "amtool: $(cat "$TMP/amtool.out")"
ok "alertmanager.yml: $(grep -c SUCCESS "$TMP/amtool.out") SUCCESS"
python3 - "$TMP/daemonset.yaml" <<'PY' || fail "the DaemonSet"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
spec = d["spec"]["template"]["spec"]
c = spec["containers"][0]
sc = c["securityContext"]
assert d["kind"] == "DaemonSet" and spec["hostPID"] is True
assert sc["readOnlyRootFilesystem"] is True and not sc.get("privileged")
assert {"BPF", "PERFMON", "SYS_PTRACE"} <= set(sc["capabilities"]["add"]) and sc["capabilities"]["drop"] == ["ALL"]
assert "SYS_ADMIN" not in sc["capabilities"]["add"]
paths = {v["name"]: v.get("hostPath", {}).get("path") for v in spec["volumes"]}
assert paths["btf"] == "/sys/kernel/btf" and paths["spool"] == "/var/lib/stalltrap"
PY
ok "DaemonSet: hostPID, read-only root, BPF/PERFMON/SYS_PTRACE, BTF and spool from the host"
