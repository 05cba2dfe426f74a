#!/bin/bash
# kill -9 in the middle of prep; the rerun copies only what was not finished: files already
# verified on a disk are skipped (never copied twice), no temp file is left, and the disks
# verify.
. "$(dirname "$0")/lib.sh"
need python3
mkdir -p "$T/src" "$T/d1" "$T/d2" "$T/d3"
trap 'for d in d1 d2 d3; do umount "$T/$d" 2>/dev/null; done; rm -rf "$T"' EXIT
for d in d1 d2 d3; do
	mount -t tmpfs -o size=48m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
for i in $(seq 1 12); do head -c $((9 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box/srv01
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
disks=(--disk "$T/d1" --disk "$T/d2" --disk "$T/d3")

# the binary itself in the background (so $! is the process we kill), slowed to 20 MB/s per
# disk so the kill lands mid-copy: after the first container is verified, before the last
"$OFFSEED" --passphrase-file "$PASS" --no-progress prep --repo "$T/repo" "${disks[@]}" \
    --job seed-srv01 --limit-rate 20M >"$T/run1.out" 2>&1 &
pid=$!
journal=$(find "$T/state" -name prep.journal 2>/dev/null)
for _ in $(seq 1 300); do
	journal=$(find "$T/state" -name prep.journal 2>/dev/null)
	[ -n "$journal" ] && grep -q 'PageBlob/.*\.vhd$' "$journal" && break
	sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$journal" ] && grep -q 'PageBlob/.*\.vhd$' "$journal" || { cat "$T/run1.out"; fail "no container finished before the kill"; }
[ ! -e "$T/d1/offseed-set.json" ] || fail "the first run finished before it could be killed"
# what was complete on the disks at the kill
find "$T"/d? -name '*.vhd' -printf '%s %p\n' >"$T/done-before"
[ -n "$(find "$T"/d? -name '*.offseed-tmp')" ] || fail "no copy was in progress at the kill"

expect_exit 0 ofs --json prep --repo "$T/repo" "${disks[@]}" --job seed-srv01
python3 - "$T/out" "$T/done-before" <<'PY' || fail "the rerun copied finished files again"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
done = [l.split(" ", 1) for l in open(sys.argv[2]) if l.strip()]
done_bytes = sum(int(sz) for sz, _ in done)
assert done, "no finished container before the kill"
assert 0 < s["bytes_copied"] < s["bytes_total"], s
assert s["bytes_skipped"] >= done_bytes, (s, done_bytes)
assert s["bytes_copied"] <= s["bytes_total"] - done_bytes, (s, done_bytes)
assert s["files_skipped"] >= len(done), s
assert s["bytes_copied"] + s["bytes_skipped"] == s["bytes_total"], s
PY
[ -z "$(find "$T"/d? -name '*.offseed-tmp')" ] || fail "temp files left after the rerun"
expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
echo ok
