#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/setup.sh: install the Debian 12 build and test packages, then configure and build.
# Usage: scripts/setup.sh   (as root, or with sudo available)
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake libtool pkg-config
	libmnl-dev libnetfilter-log-dev libnftnl-dev libnftables-dev libip4tc-dev libip6tc-dev
	libxtables-dev libcmocka-dev iptables nftables iproute2 conntrack jq kmod procps
	iputils-ping python3 python3-yaml systemd util-linux clang libclang-rt-14-dev valgrind
	dpkg-dev debhelper lintian man-db tshark graphviz"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

autoreconf -fi
./configure ${CONFIGURE_FLAGS:-}
make -j"$(nproc)"
echo "setup: built src/iptrace; run the tests with: make check"
