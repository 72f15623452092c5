#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ct-zone.sh: a DNATed and masqueraded query whose connection lives in conntrack zone 7
# (`-j CT --zone 7`, nft `ct zone set 7`, as OpenStack's and OVN's hosts set them) keeps
# what conntrack knows: the new source under the MASQUERADE step and, with --nat, both
# packets' entry. The kernel's GET looks in zone 0 only; with either marker.
set -u
source "$TESTS_LIB"
need_root
need_cmd jq nft iptables-legacy python3 conntrack
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT

# zone_lab legacy|nft: lab_up's C - R - S; R DNATs 10.96.0.10:53 to S and masquerades out
# of r1, with both directions of port 53 in zone 7.
zone_lab() {
	lab_cleanup
	lab_up
	if [ "$1" = legacy ]; then
		lab_kube_nat
		local ipt="ip netns exec $R iptables-legacy -w"
		$ipt -t raw -A PREROUTING -i r0 -p udp --dport 53 -j CT --zone 7 &&
		$ipt -t raw -A PREROUTING -i r1 -p udp --sport 53 -j CT --zone 7 &&
		$ipt -t nat -A POSTROUTING -o r1 -j MASQUERADE || fail "legacy zone rules"
	else
		ip netns exec "$R" nft -f - <<-EOF || fail "nft zone rules"
		table ip zl {
			chain zraw { type filter hook prerouting priority raw; policy accept;
				iifname "r0" udp dport 53 ct zone set 7
				iifname "r1" udp sport 53 ct zone set 7
			}
			chain zdnat { type nat hook prerouting priority dstnat; policy accept;
				ip daddr 10.96.0.10 udp dport 53 dnat to 10.0.2.7
			}
			chain zpost { type nat hook postrouting priority srcnat; policy accept;
				oifname "r1" masquerade
			}
		}
		EOF
	fi
	# The server answers each datagram with its payload reversed.
	udp_echo "$S"
}

# ask SPORT: one query from C to the service from SPORT; the answer must come back.
ask() {
	ip netns exec "$C" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.connect(("10.96.0.10", 53))
s.send(b"zone-query")
assert s.recv(512) == b"yreuq-enoz"
' "$1" || fail "$kind: the query on port $1 got no answer"
}

for kind in legacy nft; do
	zone_lab "$kind"
	snapshot "$R" | strip_counters >"$T/before"
	sport=$((41000 + RANDOM % 1000))
	for fmt in json text; do
		ip netns exec "$R" "$IPTRACE" --port 53 --nat --count 2 --duration 15 --format $fmt \
			>"$T/$fmt" 2>"$T/$fmt.err" & pid=$!
		wait_ready "$T/$fmt.err"
		ask "$sport"
		wait $pid || fail "$kind $fmt: exit $? ($(cat "$T/$fmt.err"))"
		sport=$((sport + 1))
	done
	jq -e . "$T/json" >/dev/null || fail "$kind: output is not JSON lines: $(cat "$T/json")"
	ctid=$(ip netns exec "$R" conntrack -L -w 7 -p udp --orig-port-src $((sport - 2)) -o id 2>/dev/null |
	       sed -nE 's/.*id=([0-9]+).*/\1/p')
	[ -n "$ctid" ] || fail "$kind: no zone 7 conntrack entry for the traced query"
	python3 - "$T/json" "$((sport - 2))" "$ctid" <<'PY' || fail "$kind: $(cat "$T/json")"
import json, sys
sport, ctid = int(sys.argv[2]), int(sys.argv[3])
pk = [p for p in map(json.loads, open(sys.argv[1])) if p["type"] == "packet"]
assert len(pk) == 2, "expected the query and the answer"
q, r = pk
assert q["dst"] == "10.96.0.10" and r["src"] == "10.0.2.7", "query first, then the answer"
# The new source under the masquerading step, read from zone 7's entry.
post = [s for s in q["steps"] if s.get("hook") == "POSTROUTING" and "nat" in s]
assert post and post[-1]["nat"]["src"] == ["10.0.1.2:%d" % sport, "10.0.2.1:%d" % sport], \
    "no masquerade annotation"
for p in pk:
    ct = p.get("ct")
    assert ct, "no --nat entry"
    assert ct["id"] == ctid, ct
    assert ct["orig"] == {"proto": "udp", "src": "10.0.1.2", "dst": "10.96.0.10",
                          "sport": sport, "dport": 53}, ct
    assert ct["reply"] == {"proto": "udp", "src": "10.0.2.7", "dst": "10.0.2.1",
                           "sport": 53, "dport": sport}, ct
    assert ct["nat"] == ["snat", "dnat"], ct
PY
	grep -q '↳ src 10.0.1.2:[0-9]* → 10.0.2.1:' "$T/text" ||
		fail "$kind: text shows no masquerade: $(cat "$T/text")"
	[ "$(grep -c '^  ct id' "$T/text")" = 2 ] || fail "$kind: text --nat: $(cat "$T/text")"
	snapshot "$R" | strip_counters | diff "$T/before" - ||
		fail "$kind: the router's rules changed"
	pass "$kind: conntrack zone 7: masquerade and --nat entry shown"
done
