#!/bin/bash
# A missing libcurl or libarchive (opened on first use, lib/dynlib.c) is an error naming the
# library and its Debian package, exit 1, and only for what needs it: dump without
# libarchive, a cloud repository without libcurl; restore needs neither, and doctor reports
# it as a failed check instead of ending. The library is made unloadable by bind-mounting an
# empty file over it in a private mount namespace (unshare -m; needs root).
. "$(dirname "$0")/lib.sh"
need unshare
need ldconfig
[ "$(id -u)" = 0 ] || fail "this test needs root (unshare -m, mount --bind)"

libpath() {	# SONAME → the file the loader opens
	local p
	p=$(ldconfig -p | awk -v s="$1" '$1 == s && /x86-64|64bit/ { print $NF; exit }')
	[ -n "$p" ] || p=$(ldconfig -p | awk -v s="$1" '$1 == s { print $NF; exit }')
	[ -n "$p" ] || fail "$1 is not installed"
	readlink -f "$p"
}
: >"$T/empty"
without() {	# SONAME CMD...: run CMD with SONAME unloadable (stdout $T/out, stderr $T/err)
	local lib
	lib=$(libpath "$1"); shift
	unshare -m sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$T/empty" "$lib" "$@" \
	    >"$T/out" 2>"$T/err"
}
run_ofs() { "$OFFSEED" --passphrase-file "$PASS" --no-progress "$@"; }

mkdir "$T/src" && printf 'hello\n' >"$T/src/a"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

# the hiding works: the empty file is what the loader would open
unshare -m sh -c 'mount --bind "$0" "$1" && [ ! -s "$1" ]' "$T/empty" "$(libpath libarchive.so.13)" ||
    fail "cannot hide libarchive with a bind mount"

without libarchive.so.13 "$OFFSEED" --passphrase-file "$PASS" --no-progress dump latest \
    "$T/src/a" --repo "$T/repo" -o "$T/a.tar"
rc=$?
[ $rc = 1 ] || { cat "$T/err"; fail "dump without libarchive: exit $rc, want 1"; }
assert_contains "$T/err" "libarchive.so.13"
assert_contains "$T/err" "libarchive13"

# restore needs neither library
without libarchive.so.13 "$OFFSEED" --passphrase-file "$PASS" --no-progress restore latest \
    --repo "$T/repo" --target "$T/rst"
rc=$?
[ $rc = 0 ] || { cat "$T/err"; fail "restore without libarchive: exit $rc, want 0"; }
cmp -s "$T/src/a" "$T/rst$T/src/a" || cmp -s "$T/src/a" "$T/rst/a" ||
    { find "$T/rst"; fail "restore without libarchive did not restore the file"; }

# a cloud repository without libcurl
OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:9 OFFSEED_AZURE_KEY=$(printf 'k%.0s' $(seq 32) | base64 -w0) \
    without libcurl.so.4 "$OFFSEED" --passphrase-file "$PASS" --no-progress snapshots \
    --repo azure://acct/cont
rc=$?
[ $rc = 1 ] || { cat "$T/err"; fail "a cloud repository without libcurl: exit $rc, want 1"; }
assert_contains "$T/err" "libcurl.so.4"
assert_contains "$T/err" "libcurl4"

# doctor names it as a failed check and still runs the others
without libcurl.so.4 "$OFFSEED" --json doctor --repo "$T/repo"
python3 - "$T/out" <<'PY' || { cat "$T/out" "$T/err"; fail "doctor without libcurl"; }
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
v = [c for c in s["checks"] if c["check"] == "version"]
assert v and v[0]["status"] == "fail" and "libcurl4" in v[0]["message"], v
assert len(s["checks"]) > 1, "doctor stopped after the version check"
assert s["exit_code"] == 1, s
PY
echo "ok: missing libraries are named errors"
