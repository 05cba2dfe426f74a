#!/bin/bash
# A staging folder that fills up (a real, small tmpfs): exit 9 naming the folder and the
# bytes still needed; nothing corrupt; after space is added the rerun continues and the
# result verifies.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src" "$T/mnt"
mkdir -p "$T/st"
mount -t tmpfs -o size=48m tmpfs "$T/mnt" || fail "cannot mount a tmpfs (this test needs root and mount)"
mount -t tmpfs -o size=4m tmpfs "$T/st" || { umount "$T/mnt"; fail "cannot mount a tmpfs"; }
trap 'umount "$T/mnt" "$T/st" 2>/dev/null; rm -rf "$T"' EXIT
for i in $(seq 1 8); do head -c $((12 * 1048576)) /dev/urandom >"$T/src/f$i"; done

expect_exit 0 ofs init --repo "$T/mnt/repo"
expect_exit 9 ofs stage --repo "$T/mnt/repo" --container-size 32M --checkpoint-bytes 8M "$T/src"
assert_contains "$T/err" "$T/mnt/repo"
assert_contains "$T/err" "still"
# the figure is counted even though no progress was shown (--no-progress puts the
# pre-scan off until it is needed): 96 MiB of source, of which at most 48 MiB were read
# when the folder filled
left=$(grep -Eo '[0-9]+ bytes' "$T/err" | head -1 | cut -d' ' -f1)
[ -n "$left" ] || fail "the message does not say how many bytes are needed"
[ "$left" -ge $((16 * 1048576)) ] || fail "bytes still needed is $left, expected over 16 MiB"
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

# A state dir on a volume without 64 MiB free: stage and backup exit 9 before starting,
# naming the state dir and what they need; nothing is added to the repository.
before=$(ls "$T/mnt/repo/snapshots" | wc -l)
for cmd in stage backup; do
	expect_exit 9 ofs --state "$T/st/state" "$cmd" --repo "$T/mnt/repo" "$T/src"
	assert_contains "$T/err" "the state dir '$T/st/state/"
	assert_contains "$T/err" "$cmd needs 64 MiB free there"
done
[ "$(ls "$T/mnt/repo/snapshots" | wc -l)" = "$before" ] || fail "a refused run wrote a snapshot"
echo ok
