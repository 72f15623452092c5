#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# k8s-manifest.sh: what this machine can check of deploy/iptrace-daemonset.yaml without a
# cluster. The manifest parses (python3-yaml) and has the fields the README claims: the
# labelled nodes only, the host network, root with NET_ADMIN and NET_RAW and nothing else,
# no escalation, a read-only root, the xtables lock and the state directory from the host,
# the node name from the downward API, a bounded JSON capture. Then the capture's exact
# command line, taken from the manifest ($(NODE_NAME) expanded as the kubelet does, only
# --duration shortened), runs in a namespace node as the container would run it: a read-only
# /proc/sys (nftables rules: it traces; legacy tables: it refuses, says why, leaves
# nothing), only NET_ADMIN and NET_RAW, no new privileges, the lock and state directory
# at the mounted paths' stand-ins.
set -u
. "$TESTS_LIB"
need_cmd python3 jq setpriv unshare nft iptables-legacy
python3 -c 'import yaml' 2>/dev/null || skip "needs python3-yaml"
MANIFEST=$SRCDIR/deploy/iptrace-daemonset.yaml
[ -r "$MANIFEST" ] || fail "no $MANIFEST"
tmp=$(mktemp -d)
trap 'lab_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

# The checks, then the capture's command and args, one word per line.
python3 - "$MANIFEST" >"$tmp/argv" <<'PY' || fail "the manifest is not what the README says"
import sys, yaml

def need(cond, what):
    if not cond:
        sys.exit("manifest: " + what)

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
need(set(kinds) == {"Namespace", "DaemonSet"}, "a Namespace and a DaemonSet")
ds = kinds["DaemonSet"]
ns = kinds["Namespace"]["metadata"]["name"]
need(ds["apiVersion"] == "apps/v1" and ds["metadata"]["namespace"] == ns, "the DaemonSet in its namespace")
spec = ds["spec"]
pod = spec["template"]["spec"]
labels = spec["template"]["metadata"]["labels"]
need(labels.get("app") == "iptrace" and spec["selector"]["matchLabels"] == labels,
     "pods labelled app=iptrace, as `kubectl logs -l app=iptrace` needs")
need(pod.get("nodeSelector"), "chosen nodes only (a nodeSelector)")
need(pod.get("hostNetwork") is True, "the host's network namespace")
need(not pod.get("hostPID") and not pod.get("hostIPC"), "no host PID or IPC namespace")
need(pod.get("automountServiceAccountToken") is False, "no API token")
vols = {v["name"]: v for v in pod["volumes"]}
need(all("hostPath" in v for v in vols.values()), "only hostPath volumes")
paths = {v["hostPath"]["path"]: v["hostPath"].get("type") for v in vols.values()}
need(paths == {"/run/xtables.lock": "FileOrCreate", "/run/iptrace": "DirectoryOrCreate"},
     "the xtables lock (FileOrCreate) and /run/iptrace (DirectoryOrCreate) from the host, nothing else")

init = pod["initContainers"]
need(len(init) == 1 and init[0]["name"] == "capture", "one init container, the capture")
c = init[0]
sc = c["securityContext"]
need(sc.get("runAsUser") == 0, "root (iptables' lock is root's)")
need(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
need(sc.get("readOnlyRootFilesystem") is True, "a read-only root filesystem")
need(not sc.get("privileged"), "not privileged")
need(sc["capabilities"]["drop"] == ["ALL"], "every capability dropped")
need(sorted(sc["capabilities"]["add"]) == ["NET_ADMIN", "NET_RAW"], "NET_ADMIN and NET_RAW added")
need(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "the runtime's seccomp profile")
env = {e["name"]: e for e in c["env"]}
need(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName",
     "NODE_NAME from the downward API")
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
need(mounts == {"xtables-lock": "/run/xtables.lock", "state": "/run/iptrace"},
     "the lock and the state directory mounted where iptrace looks")
need(env["IPTRACE_STATE_DIR"]["value"] == mounts["state"] and
     env["XTABLES_LOCKFILE"]["value"] == mounts["xtables-lock"], "iptrace told those paths")
argv = c["command"] + c["args"]
need(argv[0] == "iptrace", "iptrace runs")
for opt, val in (("--format", "json"), ("--node", "$(NODE_NAME)")):
    need(opt in argv and argv[argv.index(opt) + 1] == val, opt + " " + val)
need("--duration" in argv and float(argv[argv.index("--duration") + 1]) > 0, "a --duration")
need(len(pod["containers"]) == 1, "one container after the capture")
done = pod["containers"][0]
dsc = done["securityContext"]
need(dsc["capabilities"]["drop"] == ["ALL"] and not dsc["capabilities"].get("add") and
     dsc.get("runAsNonRoot") is True and not done.get("volumeMounts"),
     "the container left running: no capability, not root, no volume")
print("\n".join(argv))
PY
pass "the manifest parses and asks for NET_ADMIN, NET_RAW, the host network, the lock and /run/iptrace only"

# The command as the kubelet runs it: $(NODE_NAME) expanded, the duration shortened.
mapfile -t argv <"$tmp/argv"
for i in "${!argv[@]}"; do
	case ${argv[$i]} in
	'$(NODE_NAME)') argv[$i]=k8s-worker-1 ;;
	esac
	[ "$i" -gt 0 ] && [ "${argv[$((i - 1))]}" = --duration ] && argv[$i]=3
done
[ "${argv[0]}" = iptrace ] || fail "argv: ${argv[*]}"
argv[0]=$IPTRACE

need_root
# A node (kube-proxy in nftables mode: its service DNAT) and a pod that asks the service.
N="$NS_PREFIX-node"; P="$NS_PREFIX-pod"
ns_add "$N"
ns_add "$P"
ip -n "$P" link add eth0 type veth peer name vpod netns "$N"
ip -n "$P" addr add 10.244.1.2/24 dev eth0
ip -n "$N" addr add 10.244.1.1/24 dev vpod
ip -n "$P" link set eth0 up
ip -n "$N" link set vpod up
ip -n "$P" route add default via 10.244.1.1
lab_neigh "$P" eth0 10.244.1.1 "$N" vpod
ip netns exec "$N" nft -f - <<'EOF' || fail "cannot load the node's nft rules"
table ip kube-proxy {
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.10 udp dport 53 dnat to 10.244.1.1:53
	}
}
EOF

# container IN OUT ERR: argv in node N as the runtime would start it.
container() {
	mkdir -p "$tmp/state"
	: >"$tmp/xtables.lock"
	ip netns exec "$N" unshare -m sh -c '
		mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys || exit 99
		exec "$@"' sh env IPTRACE_STATE_DIR="$tmp/state" XTABLES_LOCKFILE="$tmp/xtables.lock" \
		setpriv --no-new-privs --bounding-set=-all,+net_admin,+net_raw --inh-caps=-all \
		"${argv[@]}" >"$1" 2>"$2" &
	CPID=$!
}

container "$tmp/out.json" "$tmp/err"
wait_ready "$tmp/err" -
udp_send "$P" 10.96.0.10 53 "k8s-query"
wait "$CPID" || fail "the capture failed ($?): $(cat "$tmp/err")"
grep -q 'read-only\|Read-only' "$tmp/err" && fail "the capture met a read-only path: $(cat "$tmp/err")"
jq -se 'map(select(.type == "packet")) | length == 1 and
	(.[0].node == "k8s-worker-1") and (.[0].dst == "10.96.0.10") and
	any(.[0].steps[]; .table == "kube-proxy" and .chain == "nat-prerouting" and
	    (.rule | test("dnat to 10.244.1.1:53")))' "$tmp/out.json" >/dev/null ||
	fail "the capture's output: $(cat "$tmp/out.json")"
tail -n 1 "$tmp/out.json" | jq -e '.type == "summary" and .node == "k8s-worker-1" and
	.marker == "nft"' >/dev/null || fail "summary: $(tail -n 1 "$tmp/out.json")"
[ -z "$(ls -A "$tmp/state")" ] || fail "state left behind: $(ls "$tmp/state")"
ip netns exec "$N" nft list ruleset | grep -q iptrace && fail "nft rules left behind"
pass "the DaemonSet's command, as its container: traced the query, named the node, left nothing"

# Legacy tables in the node: /proc/sys is read-only there, so iptrace refuses and says why.
ip netns exec "$N" iptables-legacy -w -t filter -A INPUT -p udp --dport 53 -j ACCEPT
snapshot "$N" >"$tmp/before"
container "$tmp/out2.json" "$tmp/err2"
wait "$CPID"
rc=$?
[ "$rc" = 1 ] || fail "legacy tables: exit $rc, want 1: $(cat "$tmp/err2")"
grep -q 'legacy iptables tables need /proc/sys writable: in a container, a privileged one' \
	"$tmp/err2" || fail "legacy tables: the message: $(cat "$tmp/err2")"
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" || fail "legacy tables: the refused capture changed the node"
pass "legacy tables in a container without privileges: refused, said why, nothing changed"
