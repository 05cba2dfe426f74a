#!/bin/bash
# Start/stop the pinned Azurite blob emulator (tools/azurite, installed by `make deps`) on a
# free loopback port with its data in a given folder. Used by the tests.
#   tools/azurite.sh start DIR [ARGS…]   start; prints the port; DIR/azurite.{pid,port,log}
#                                 (ARGS go to Azurite, e.g. --cert C.pem --key K.pem)
#   tools/azurite.sh stop DIR    stop the instance started in DIR (by its pid)
# Exits non-zero with a message when Azurite is missing or does not come up: tests must fail,
# never skip, without it.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MAIN=$TOP/tools/azurite/node_modules/azurite/dist/src/blob/main.js

die() { echo "azurite.sh: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: azurite.sh start|stop DIR"
shift 2

case $cmd in
start)
	command -v node >/dev/null 2>&1 || die "node is missing (run make deps)"
	[ -f "$MAIN" ] || die "azurite is not installed at $MAIN (run make deps)"
	mkdir -p "$dir/data" || die "cannot create '$dir/data'"
	log=$dir/azurite.log
	: >"$log"
	# Port 0: the kernel picks a free port and Azurite prints the one it got (no race).
	node "$MAIN" --blobHost 127.0.0.1 --blobPort 0 --location "$dir/data" \
	    --skipApiVersionCheck --loose "$@" >"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/azurite.pid"
	port=""
	for _ in $(seq 1 300); do
		port=$(sed -n 's|.*successfully listens on https*://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "azurite exited during start-up"; }
		sleep 0.1
	done
	if [ -z "$port" ]; then
		kill "$pid" 2>/dev/null
		cat "$log" >&2
		die "azurite did not start within 30 s"
	fi
	echo "$port" >"$dir/azurite.port"
	# AZURITE_OWNER_PID: stop Azurite when that process is gone (a test killed before
	# its teardown must not leave an emulator behind).
	if [ -n "${AZURITE_OWNER_PID:-}" ]; then
		( while kill -0 "$AZURITE_OWNER_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
			sleep 1
		  done
		  kill -9 "$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
	fi
	echo "$port"
	;;
stop)
	[ -f "$dir/azurite.pid" ] || exit 0
	pid=$(cat "$dir/azurite.pid")
	# Azurite closes its server on SIGTERM but the process may linger: give it a moment,
	# then SIGKILL (its data folder is temporary anyway).
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 20); do
			kill -0 "$pid" 2>/dev/null || break
			grep -q "successfully closed" "$dir/azurite.log" 2>/dev/null && break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -f "$dir/azurite.pid"
	;;
*)
	die "unknown command '$cmd' (start or stop)"
	;;
esac
