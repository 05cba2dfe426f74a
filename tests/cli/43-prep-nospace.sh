#!/bin/bash
# Disks too small for the set: exit 9 before anything is written (the disks stay empty), the
# message says how many bytes and how many disks of the smallest size are missing, and that
# number of disks is exactly enough (one fewer still fails). A container larger than any
# disk is named as such.
. "$(dirname "$0")/lib.sh"
need python3
mkdir -p "$T/src"
for d in d1 d2 e1 e2 e3 e4 s1; do mkdir -p "$T/$d"; done
trap 'for d in d1 d2 e1 e2 e3 e4 s1; do umount "$T/$d" 2>/dev/null; done; rm -rf "$T"' EXIT
for d in d1 d2 e1 e2 e3 e4; do
	mount -t tmpfs -o size=32m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
mount -t tmpfs -o size=8m tmpfs "$T/s1" || fail "cannot mount a tmpfs"
for i in $(seq 1 12); do head -c $((9 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"

expect_exit 9 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-small
[ -z "$(find "$T/d1" "$T/d2" -mindepth 1)" ] || fail "prep wrote to the disks before failing"
assert_contains "$T/err" "more bytes are needed"
assert_contains "$T/err" "32.0 MiB"
n=$(sed -n 's/.*add \([0-9]*\) more disks\{0,1\} of.*/\1/p' "$T/err")
[ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le 4 ] || { cat "$T/err"; fail "no disk count in the message"; }
grep -Eq '[1-9][0-9]* more bytes' "$T/err" || fail "no byte count in the message"
[ ! -e "$T/repo/jobs/seed-small.json" ] || fail "a job draft was written for a failed prep"
# --json: one error object with exit code 9
expect_exit 9 ofs --json prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-small
python3 - "$T/out" <<'PY' || fail "--json error object"
import json, sys
l = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
assert len(l) == 1 and l[0]["type"] == "error" and l[0]["code"] == 9, l
PY

# one disk fewer than advised still fails; the advised number is enough
extra=() all=("$T/d1" "$T/d2")
for i in $(seq 1 "$n"); do extra+=(--disk "$T/e$i"); all+=("$T/e$i"); done
if [ "$n" -gt 1 ]; then
	expect_exit 9 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" "${extra[@]:0:$((2 * n - 2))}" --job seed-small
fi
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" "${extra[@]}" --job seed-small
expect_exit 0 ofs verify "${all[@]}"

# a container larger than the free space of any disk
expect_exit 9 ofs prep --repo "$T/repo" --disk "$T/s1" --job seed-tiny
assert_contains "$T/err" "does not fit"
[ -z "$(find "$T/s1" -mindepth 1)" ] || fail "prep wrote to the small disk"
echo ok
