#!/bin/bash
# Awkward source entries: an unreadable file (run as an unprivileged user, so the error is
# real), a FIFO (must never block), a file that changes while being read: exit 3, each listed
# in the skipped-entries file, everything else stored.
. "$(dirname "$0")/lib.sh"
need setpriv
mkdir -p "$T/src/sub"
echo "readable" >"$T/src/ok.txt"
echo "secret" >"$T/src/unreadable.txt"; chmod 000 "$T/src/unreadable.txt"
mkfifo "$T/src/fifo"
head -c 1000000 /dev/urandom >"$T/src/sub/data"
chown -R 65534:65534 "$T/src"
chmod 000 "$T/src/unreadable.txt"
mkdir -p "$T/nobody"; chown 65534:65534 "$T/nobody"; chmod 755 "$T"
cp "$PASS" "$T/nobody/pass"; chown 65534 "$T/nobody/pass"
# The clone may sit in a folder only root can enter (/root/src): nobody runs a copy.
cp "$OFFSEED" "$T/nobody/offseed"; chmod 755 "$T/nobody/offseed"
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/nobody/offseed" --version >/dev/null ||
    fail "user nobody cannot run the copy of offseed in $T/nobody"
asnobody() { timeout 120 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T/nobody" \
    OFFSEED_STATE="$T/nobody/state" OFFSEED_TEST_KDF_FAST=1 \
    "$T/nobody/offseed" --passphrase-file "$T/nobody/pass" --no-progress "$@"; }
expect_exit 0 asnobody init --repo "$T/nobody/repo"
expect_exit 3 asnobody stage --repo "$T/nobody/repo" "$T/src"
assert_contains "$T/err" "unreadable.txt"
list=$(find "$T/nobody/state" -name 'stage-*-skipped.tsv' | head -n 1)
[ -n "$list" ] || fail "no skipped-entries file"
assert_contains "$list" "unreadable.txt"
grep -q fifo "$list" && fail "the FIFO was treated as skipped"
expect_exit 0 asnobody ls latest --repo "$T/nobody/repo"
assert_contains "$T/out" "fifo"
assert_contains "$T/out" "ok.txt"
grep -q unreadable "$T/out" && fail "the unreadable file is in the snapshot"

# a file that grows while it is read
mkdir -p "$T/src2"
head -c $((256 * 1048576)) /dev/zero >"$T/src2/growing"
( for i in $(seq 1 400); do head -c 65536 /dev/urandom >>"$T/src2/growing"; sleep 0.01; done ) &
grower=$!
expect_exit 0 ofs init --repo "$T/repo2"
expect_exit 3 ofs stage --repo "$T/repo2" "$T/src2"
kill $grower 2>/dev/null; wait $grower 2>/dev/null
assert_contains "$T/err" "changed while being read"

# a small file, read by a worker rather than the walker, that yields fewer bytes than its
# size: a sysfs attribute says 4096 bytes and holds a few. Stored with the bytes read as
# its size, marked changed, exit 3; it restores as those bytes.
attr=""
for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/power/state /sys/kernel/profiling; do
	[ -r "$f" ] && [ "$(stat -c %s "$f")" = 4096 ] && { attr=$f; break; }
done
[ -n "$attr" ] || fail "no readable 4096-byte sysfs attribute for the short-read case"
expect_exit 0 ofs init --repo "$T/repo3"
expect_exit 3 ofs stage --repo "$T/repo3" "$attr"
assert_contains "$T/err" "changed while being read"
expect_exit 0 ofs restore latest --repo "$T/repo3" --target "$T/r3"
cmp "$attr" "$T/r3$attr" || fail "$attr did not restore as the bytes read"
echo ok
