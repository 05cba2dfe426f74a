#!/bin/bash
# A staging folder that fills up (a real, small tmpfs): exit 9 naming the folder and the
# bytes still needed; nothing corrupt; after space is added the rerun continues and the
# result verifies.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src" "$T/mnt"
mount -t tmpfs -o size=48m tmpfs "$T/mnt" || fail "cannot mount a tmpfs (this test needs root and mount)"
trap 'umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT
for i in $(seq 1 8); do head -c $((12 * 1048576)) /dev/urandom >"$T/src/f$i"; done

expect_exit 0 ofs init --repo "$T/mnt/repo"
expect_exit 9 ofs stage --repo "$T/mnt/repo" --container-size 32M --checkpoint-bytes 8M "$T/src"
assert_contains "$T/err" "$T/mnt/repo"
assert_contains "$T/err" "still"
grep -Eq '[0-9]+ bytes' "$T/err" || fail "the message does not say how many bytes are needed"
# sealed containers are intact
for f in "$T/mnt/repo/containers/"*.vhd; do
	[ -e "$f" ] || continue
	qemu-img info -f vpc "$f" >/dev/null || fail "container $f is damaged after ENOSPC"
done
mount -o remount,size=256m "$T/mnt"
expect_exit 0 ofs --json stage --repo "$T/mnt/repo" --container-size 32M --checkpoint-bytes 8M "$T/src"
grep -q '"resumed":true' "$T/out" || fail "the rerun after ENOSPC did not resume"
expect_exit 0 ofs verify "$T/mnt/repo"
expect_exit 0 ofs restore latest --repo "$T/mnt/repo" --target "$T/restored"
diff -r "$T/src" "$T/restored$T/src" || fail "restored tree differs"
echo ok
