#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/deb-test.sh: the Debian package, end to end: built from the tree in a temporary
# copy, lintian (errors fail), `dpkg -i`, /usr/sbin/iptrace --demo, the man page, completion
# and units in place (no unit enabled), a capture killed with SIGKILL, then `dpkg --purge`:
# nothing of the package, of the demo or of the killed capture may be left.
#
# Usage: scripts/deb-test.sh [SRCDIR]   (as root; SRCDIR defaults to this script's tree)
# Exits 0, 1 on a failed check, 77 where it cannot run (not root, a tool missing, iptrace
# already installed, from a package or not, or /var/log/iptrace there: the purge would take
# them). The tree is never written to.
set -euo pipefail

SKIP=77
srcdir=$(cd "${1:-$(dirname "$0")/..}" && pwd)
pkg=iptrace

skip() { echo "SKIP: $*" >&2; exit "$SKIP"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, --demo)"
[ -f "$srcdir/debian/control" ] || skip "no debian/ in $srcdir"
for c in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian man:man-db flock:util-linux \
	ip:iproute2 iptables-legacy-save:iptables; do
	command -v "${c%%:*}" >/dev/null || skip "needs ${c%%:*} (apt install ${c#*:})"
done
# The package's own state directory, as a user's iptrace and its maintainer scripts see it
# (a test harness may point IPTRACE_STATE_DIR elsewhere).
unset IPTRACE_STATE_DIR

work=$(mktemp -d "${TMPDIR:-/tmp}/iptrace-deb.XXXXXX")
installed=no
netns=
kill_pid=
cleanup() {
	[ -n "$kill_pid" ] && kill -9 "$kill_pid" 2>/dev/null
	if [ "$installed" = yes ]; then
		dpkg --purge "$pkg" >/dev/null 2>&1 || echo "deb-test: could not purge $pkg" >&2
	fi
	[ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- build, in a copy of what git tracks (plus new files), or of the whole tree ----
src=$work/$pkg
mkdir "$src"
if git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		xargs -0 cp --parents -t "$src")
else
	cp -R "$srcdir/." "$src"
	chmod -R u+w "$src"	# a distcheck tree is read-only
fi
version=$(sed -n 's/^AC_INIT(\[iptrace\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")
debversion=$(cd "$src" && dpkg-parsechangelog -S Version)
[ "$version" = "$debversion" ] ||
	fail "configure.ac says $version, debian/changelog $debversion: add a changelog entry"
# What a build in the tree itself would leave: debian/'s build files, ../iptrace_*.
tree_state() { find "$srcdir/debian" | sort; ls -d "$srcdir/../${pkg}_"* "$srcdir/../${pkg}-"* 2>/dev/null || true; }
tree_before=$(tree_state)
# A make of its own, not the jobserver of a make running this script.
if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" >&2
	fail "dpkg-buildpackage -us -uc -b failed (last lines above)"
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$work/${pkg}_${version}_$arch.deb
changes=$work/${pkg}_${version}_$arch.changes
[ -f "$deb" ] || fail "no $(basename "$deb"): $(ls "$work")"
[ "$(tree_state)" = "$tree_before" ] || fail "the build wrote into $srcdir/debian or beside the tree"
pass "built $(cd "$work" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')"

# ---- lintian: errors fail, everything is shown ----
lintian --display-info --pedantic --fail-on error "$changes" >"$work/lintian.out" 2>&1 || {
	cat "$work/lintian.out" >&2
	fail "lintian reports errors"
}
sed -e '/^running with root privileges/d' -e 's/^/lintian: /' "$work/lintian.out"
pass "lintian: no errors ($(grep -c '^[EWIP]: ' "$work/lintian.out" || true) tags)"

# ---- install (one install at a time on this machine: runs of this script in other trees) ----
# flock on dpkg's directory: a lock that needs no file of ours left behind.
exec {lockfd}</var/lib/dpkg
flock -w 900 "$lockfd" || fail "another deb-test held the lock for 15 minutes"
status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
case "$status" in
"" | un*) ;;
*) skip "$pkg is already known to dpkg ($status $(dpkg-query -W -f='${Version}' "$pkg")): not replacing it" ;;
esac

# dpkg ARGS...: dpkg, waiting while another dpkg or apt holds its lock.
dpkg_wait() {
	local i out
	for i in $(seq 120); do
		out=$(dpkg "$@" 2>&1) && { printf '%s\n' "$out"; return 0; }
		grep -q 'locked by another process' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
		sleep 1
	done
	printf '%s\n' "$out" >&2
	return 1
}

# What exists before the install: what may stay after the purge (shared directories).
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e '/^$/d' \
	>"$work/paths"
watch_paths() { cat "$work/paths"; printf '%s\n' /etc/iptrace /run/iptrace /var/log/iptrace; }
while read -r p; do
	if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
done < <(watch_paths) >"$work/existed"
unit_links() {
	local d
	for d in /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
		/var/lib/systemd/deb-systemd-helper-masked; do
		if [ -d "$d" ]; then find "$d" -name 'iptrace@*'; fi
	done | sort
}
unit_links >"$work/links.before"
# Files of an iptrace installed otherwise (make install --prefix=/usr), or its captures'
# logs: dpkg would take them over and the purge delete them.
while read -r p; do
	if [ -e "$p" ] && { [ ! -d "$p" ] || [ "$p" = /var/log/iptrace ]; }; then
		skip "$p exists (not from a package): the install or the purge would take it"
	fi
done < <(watch_paths)

installed=yes
dpkg_wait -i "$deb" >"$work/install.log" || fail "dpkg -i $(basename "$deb")"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")" = "ii " ] ||
	fail "not installed: $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")"
dpkg -L "$pkg" | grep -vx '/\.' >"$work/listed"
pass "dpkg -i: $pkg $version installed, $(wc -l <"$work/listed") paths"

# ---- what it installed ----
[ "$(/usr/sbin/iptrace --version)" = "iptrace $version" ] ||
	fail "/usr/sbin/iptrace --version: $(/usr/sbin/iptrace --version)"
# -a: a `make install` under /usr/local may come first in MANPATH.
man=/usr/share/man/man8/iptrace.8.gz
grep -qxF "$man" <<<"$(man -aw iptrace)" || fail "man -aw iptrace: $(man -aw iptrace 2>&1)"
grep -q '^NAME' <<<"$(MANWIDTH=80 man -l "$man" 2>/dev/null)" || fail "man -l $man does not render"
pass "man -aw iptrace: $man"
compl=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null ||
	echo /usr/share/bash-completion/completions)/iptrace
grep -qx "$compl" "$work/listed" || fail "completion not at $compl: $(grep -i completion "$work/listed")"
bash -c ". '$compl' && complete -p iptrace" >/dev/null || fail "$compl does not load"
pass "completion: $compl"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
for u in iptrace@.service iptrace@.timer; do
	grep -qx "$unitdir/$u" "$work/listed" || fail "$u not in $unitdir: $(grep systemd "$work/listed")"
done
grep -qx 'ExecStart=/usr/sbin/iptrace .*' "$unitdir/iptrace@.service" ||
	fail "the unit does not run /usr/sbin/iptrace: $(grep ExecStart= "$unitdir/iptrace@.service")"
grep -qx 'EnvironmentFile=/etc/iptrace/%i.conf' "$unitdir/iptrace@.service" ||
	fail "the unit does not read /etc/iptrace: $(grep EnvironmentFile= "$unitdir/iptrace@.service")"
# Enabled units are symlinks under /etc/systemd/system (systemctl is-enabled needs systemd
# as PID 1); deb-systemd-helper keeps its own record of what it enabled.
unit_links >"$work/links.after"
cmp -s "$work/links.before" "$work/links.after" ||
	fail "the install enabled units: $(comm -13 "$work/links.before" "$work/links.after")"
pass "units in $unitdir, ExecStart=/usr/sbin/iptrace, none enabled"
grep -q '^ /etc/iptrace/dns.conf.example ' <<<"$(dpkg-query -W -f='${Conffiles}\n' "$pkg")" ||
	fail "/etc/iptrace/dns.conf.example is not a conffile: $(dpkg-query -W -f='${Conffiles}' "$pkg")"
pass "conffile: /etc/iptrace/dns.conf.example"
# A capture's output, as iptrace@.service's LogsDirectory= makes it: the purge removes it.
mkdir -m 0750 /var/log/iptrace
echo '{}' >/var/log/iptrace/deb-test-20261206T000000Z.json

# ---- the demo, from /usr/sbin, as a user runs it ----
(cd / && /usr/sbin/iptrace --demo) >"$work/demo.out" 2>"$work/demo.err" ||
	fail "/usr/sbin/iptrace --demo: exit $? ($(cat "$work/demo.err"))"
demo_pid=$(sed -n 's/.* by router iptrace-demo-\([0-9]*\)-router .*/\1/p' "$work/demo.err")
[ -n "$demo_pid" ] || fail "--demo: no lab named: $(cat "$work/demo.err")"
grep -q '^iptrace: demo: the client got an answer; lab removed$' "$work/demo.err" ||
	fail "--demo: the client got no answer: $(cat "$work/demo.err")"
[ "$(grep -c '^packet [0-9]' "$work/demo.out")" = 2 ] || fail "--demo: want 2 packets: $(cat "$work/demo.out")"
# The rule text comes from iptables-legacy-save (the dependency on iptables).
grep -q ' KUBE-SEP-DNS .* -A KUBE-SEP-DNS .*-j DNAT --to-destination 10.0.2.7:53$' "$work/demo.out" ||
	fail "--demo: no DNAT step with its rule text: $(cat "$work/demo.out")"
grep -q "^iptrace-demo-$demo_pid-" <<<"$(ip netns list)" && fail "--demo left namespaces: $(ip netns list)"
[ -e "/run/iptrace/$demo_pid.state" ] && fail "--demo left /run/iptrace/$demo_pid.state"
sed 's/^/demo: /' "$work/demo.out"
pass "/usr/sbin/iptrace --demo: 2 packets, the DNAT step with its rule, lab removed"

# ---- a capture killed with SIGKILL: the removal must undo it (prerm's iptrace --cleanup) ----
netns=ipt-deb-$$
ip netns add "$netns"
# Captured first: a grep -q ending a pipe early would make the pipe fail under pipefail.
raw_rules() { ip netns exec "$netns" iptables-legacy-save -t raw 2>&1; }
ip netns exec "$netns" /usr/sbin/iptrace --backend legacy --port 5353 >/dev/null 2>"$work/killed.err" &
kill_pid=$!
for _ in $(seq 100); do
	[ -f "/run/iptrace/$kill_pid.state" ] && grep -q "iptrace:$kill_pid" <<<"$(raw_rules)" && break
	sleep 0.1
done
grep -q "iptrace:$kill_pid" <<<"$(raw_rules)" ||
	fail "the capture set no TRACE rule: $(cat "$work/killed.err")"
kill -9 "$kill_pid"
wait "$kill_pid" 2>/dev/null || true
kill_pid_done=$kill_pid
kill_pid=
[ -f "/run/iptrace/$kill_pid_done.state" ] || fail "the killed capture left no state file"
pass "a capture killed with SIGKILL left its TRACE rules and /run/iptrace/$kill_pid_done.state"

# ---- purge: nothing left ----
dpkg_wait --purge "$pkg" >"$work/purge.log" 2>&1 || fail "dpkg --purge $pkg: $(cat "$work/purge.log")"
installed=no
sed 's/^/purge: /' "$work/purge.log"
status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
case "$status" in "" | un*) ;; *) fail "after the purge dpkg still knows $pkg: $status" ;; esac
left=
while read -r p; do
	[ "$p" = /run/iptrace ] && continue
	if { [ -e "$p" ] || [ -L "$p" ]; } && ! grep -qxF "$p" "$work/existed"; then
		left="$left $p"
	fi
done < <(cat "$work/listed"; watch_paths)
[ -z "$left" ] || fail "the purge left:$left"
# /run/iptrace is every iptrace's on this machine: the demo's and the killed capture's
# state must be gone, and the directory too unless another capture keeps its state there.
for p in "$demo_pid" "$kill_pid_done"; do
	[ -e "/run/iptrace/$p.state" ] && fail "the purge left /run/iptrace/$p.state"
done
if [ -d /run/iptrace ] && ! grep -qx /run/iptrace "$work/existed"; then
	others=$(ls -A /run/iptrace)
	[ -n "$others" ] || fail "the purge left an empty /run/iptrace"
	echo "note: /run/iptrace stays, with the state of other captures on this machine: $others"
fi
unit_links >"$work/links.after"
cmp -s "$work/links.before" "$work/links.after" ||
	fail "the purge left unit links: $(comm -13 "$work/links.before" "$work/links.after")"
grep -q "iptrace:$kill_pid_done" <<<"$(raw_rules)" &&
	fail "the killed capture's rules are still there after the removal"
pass "dpkg --purge: every path it listed is gone (shared directories excepted), /etc/iptrace, /run/iptrace and /var/log/iptrace too, no unit link, the killed capture undone"
