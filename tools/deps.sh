#!/bin/sh
# Install (or with --check, only check) the Debian packages offseed needs. Idempotent.
# --check exits 2 naming what is missing; it never installs (make test and make check use it).
set -eu
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	[ $check = 1 ] || echo "offseed deps: all packages present"
	exit 0
fi
if [ $check = 1 ]; then
	echo "offseed deps: missing Debian packages:$missing (run: make deps)" >&2
	exit 2
fi
echo "offseed deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
