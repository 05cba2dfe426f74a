#!/bin/bash
# prep --repair after damage on the disks (a byte flipped in a container on one disk, a
# metadata file removed on the other): only those files are copied again from staging, the
# manifests (and so the job's hashes) stay the same, and the disks verify again.
. "$(dirname "$0")/lib.sh"
need python3
need sha256sum
mkdir -p "$T/src" "$T/d1" "$T/d2"
trap 'for d in d1 d2; do umount "$T/$d" 2>/dev/null; done; rm -rf "$T"' EXIT
for d in d1 d2; do
	mount -t tmpfs -o size=48m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
for i in $(seq 1 6); do head -c $((9 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
disks=(--disk "$T/d1" --disk "$T/d2")
expect_exit 0 ofs prep --repo "$T/repo" "${disks[@]}" --job seed-srv01
sha256sum "$T"/d?/offseed-*.json "$T/repo/jobs/seed-srv01.json" >"$T/sums"

# --repair before any damage copies nothing
expect_exit 0 ofs --json prep --repair --repo "$T/repo" "${disks[@]}" --job seed-srv01
grep -q '"files_copied":0,' "$T/out" || { cat "$T/out"; fail "--repair on clean disks copied"; }

vhd=$(find "$T/d2/PageBlob" -name '*.vhd' | sort | head -n 1)
[ -n "$vhd" ] || fail "no container on disk 2"
size=$(stat -c %s "$vhd")
printf '\x5a' | dd of="$vhd" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$vhd" "$T/repo/containers/$(basename "$vhd")" && fail "the byte flip did not change the file"
rm "$T/d1/BlockBlob/seed-box/config"
expect_exit 4 ofs verify "$T/d1" "$T/d2"

expect_exit 0 ofs --json prep --repair --repo "$T/repo" "${disks[@]}" --job seed-srv01
python3 - "$T/out" "$size" <<'PY' || fail "--repair copied the wrong files"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["repair"] is True, s
assert s["files_repaired"] == 2 and s["files_copied"] == 2, s
d1, d2 = s["disks"]
assert d1["files_copied"] == 1 and d2["files_copied"] == 1, s
assert d2["bytes_copied"] == int(sys.argv[2]), s
assert d1["bytes_copied"] < 4096, s
assert s["bytes_copied"] + s["bytes_skipped"] == s["bytes_total"], s
PY
cmp "$vhd" "$T/repo/containers/$(basename "$vhd")" || fail "the container was not repaired"
sha256sum -c --quiet "$T/sums" || fail "--repair changed the manifests or the job draft"
expect_exit 0 ofs verify "$T/d1" "$T/d2"

# --repair refuses disks that were never prepared
mkdir -p "$T/empty"
expect_exit 2 ofs prep --repair --repo "$T/repo" --disk "$T/d1" --disk "$T/empty" --job seed-srv01
assert_contains "$T/err" "without --repair"
echo ok
