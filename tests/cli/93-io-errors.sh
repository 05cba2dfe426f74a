#!/bin/bash
# An I/O error is never called corruption (SPEC §18): with reads failing with EIO (libfiu's
# POSIX preload, fiu-run), commands exit 1 with the errno's words and the file; a file that
# really is shorter than recorded still exits 4. Faults are injected into the real binary.
. "$(dirname "$0")/lib.sh"
need fiu-run
need ldd

mkdir -p "$T/src"
head -c 200000 /dev/urandom >"$T/src/a.bin"
seq 1 5000 >"$T/src/b.txt"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

# fiu POINT… -- CMD…: run CMD under libfiu's POSIX preload with these failure points
# enabled (what fiu-run -x -c does). In an ASan build the sanitizer's runtime must come
# first in LD_PRELOAD, and libfiu's own small leak is not ours (detect_leaks=0).
FIUPRE=$(fiu-run -n -x -c 'enable name=x' true | sed -n 's/^LD_PRELOAD="\(.*\)".*/\1/p')
case "$FIUPRE" in *fiu_posix_preload.so*) ;; *) fail "fiu-run names no POSIX preload library";; esac
ASANLIB=$(ldd "$OFFSEED" | awk '/libasan/ { print $3 }')
fiu() {
	local en=""
	while [ "$1" != -- ]; do en="$en
enable name=$1,failinfo=5"; shift; done
	shift
	FIU_ENABLE="$en" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	    LD_PRELOAD="${ASANLIB:+$ASANLIB }$FIUPRE" \
	    "$@"
}
# eio CODE CMD…: run CMD with every pread and read of a file failing with EIO (the
# passphrase is given in the environment: reading its file would fail too).
eio() {
	local want=$1; shift
	OFFSEED_PASSPHRASE=$(cat "$PASS") expect_exit "$want" fiu posix/io/rw/pread \
	    posix/io/rw/read -- "$OFFSEED" --no-progress "$@"
}

# the repository config cannot be read: was "is truncated", exit 4
eio 1 snapshots --repo "$T/repo"
assert_contains "$T/err" "Input/output error"
assert_contains "$T/err" "config"
! grep -q "truncated" "$T/err" || fail "an I/O error was called truncation"

# keyless verify: the manifest cannot be read → exit 1; then (the manifest read, every
# file's pread failing) each file is named unreadable, exit 1
eio 1 verify "$T/repo"
assert_contains "$T/out" "unreadable: offseed-manifest.json"
assert_contains "$T/out" "Input/output error"
OFFSEED_PASSPHRASE=$(cat "$PASS") expect_exit 1 fiu posix/io/rw/pread -- \
    "$OFFSEED" --no-progress verify "$T/repo"
assert_contains "$T/out" "Input/output error"
assert_contains "$T/out" "unreadable: config"
! grep -qE "mismatch|truncated" "$T/out" || fail "verify called an I/O error damage"

# JSON carries the same exit code
OFFSEED_PASSPHRASE=$(cat "$PASS") expect_exit 1 fiu posix/io/rw/pread -- \
    "$OFFSEED" --json --no-progress verify "$T/repo"
python3 - "$T/out" <<'PY' || fail "verify --json under EIO"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["exit_code"] == 1 and not s["ok"], s
assert s["by_kind"].get("unreadable", 0) >= 1, s
PY

# a file really shorter than recorded is still corruption: exit 4
cp -a "$T/repo" "$T/short"
cfg=$(stat -c %s "$T/short/config")
truncate -s $((cfg - 10)) "$T/short/config"
expect_exit 4 ofs snapshots --repo "$T/short"
expect_exit 4 ofs verify "$T/short"
assert_contains "$T/out" "truncated"

# and an I/O error beside real damage: the damage decides (4)
cp -a "$T/repo" "$T/both"
f=$(ls "$T/both"/containers/*.vhd | head -1)
printf 'X' | dd of="$f" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_exit 4 ofs verify "$T/both"
echo "93-io-errors: ok"
