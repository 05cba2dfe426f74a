#!/bin/bash
# Keyless verify names every kind of damage exactly: a flipped byte in a container (file,
# region, byte range, both hashes), in each metadata file, a truncated, a missing and an
# unlisted file; --deep names the snapshot path whose chunk was hit; --json carries the
# findings in the one summary line; check --read-data agrees. Each case damages a fresh copy.
. "$(dirname "$0")/lib.sh"
need python3
need xxhsum
MiB=1048576
REGION=$((64 * MiB))

# Seed set 1: one container of ~150 MB (3 regions of 64 MiB). Seed set 2: several 32 MiB
# containers. Distinct random files, so every chunk belongs to exactly one file.
mkdir -p "$T/src1" "$T/src2"
for i in 1 2 3 4 5; do head -c 30000000 /dev/urandom >"$T/src1/big$i.bin"; done
seq 1 300000 >"$T/src1/text.txt"
for i in 1 2 3; do head -c 20000000 /dev/urandom >"$T/src2/r$i.bin"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 256M "$T/src1"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 32M "$T/src2"
cd "$T/repo" || fail "no repo"
big=$(for f in containers/*.vhd; do [ "$(stat -c %s "$f")" -ge $((130 * MiB)) ] && echo "$f"; done)
[ "$(echo "$big" | wc -w)" = 1 ] || fail "expected one container of at least 130 MiB, got: $big"
small=($(for f in containers/*.vhd; do [ "$f" != "$big" ] && echo "$f"; done))
[ "${#small[@]}" -ge 2 ] || fail "expected several 32M containers, got ${small[*]}"
cd - >/dev/null
expect_exit 0 ofs verify "$T/repo"
assert_contains "$T/out" "no problems"

# manifest value: mget PATH FIELD [REGION]
mget() {
	python3 - "$T/repo/offseed-manifest.json" "$@" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
f = [f for f in m["files"] if f["path"] == sys.argv[2]][0]
print(f[sys.argv[3]] if len(sys.argv) < 5 else f[sys.argv[3]][int(sys.argv[4])])
PY
}
# XXH3-128 of bytes [start, end) of a file, canonical hex (what the manifest holds)
xxh_range() {
	python3 - "$@" <<'PY'
import subprocess, sys
path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
	f.seek(start)
	data = f.read(end - start)
print(subprocess.run(["xxhsum", "-H2", "-"], input=data, capture_output=True,
    check=True).stdout.split()[0].decode())
PY
}
fresh() { rm -rf "$T/c"; cp -a "$T/repo" "$T/c"; }
only_problem() {	# the verify summary counts exactly one finding, of this kind
	assert_contains "$T/out" "containers: 1 $1"
	[ "$(grep -c '^corrupt:\|^missing:\|^truncated:\|^size mismatch:\|^unlisted:\|^bad structure:\|^unreadable:\|^too new:' "$T/out")" = 1 ] ||
		{ cat "$T/out"; fail "expected exactly one problem line"; }
}

# (a) a byte flipped in the middle of the big container: file, region 1, its byte range and
# both hashes
fresh
off=$(flip_data_byte "$T/c/$big" 75000000)
[ $((off / REGION)) = 1 ] || fail "flip at $off is not in region 1"
want=$(mget "$big" regions 1)
found=$(xxh_range "$T/c/$big" $REGION $((2 * REGION)))
[ "$want" != "$found" ] || fail "the flip did not change region 1"
expect_exit 4 ofs verify "$T/c"
assert_contains "$T/out" "corrupt: $big region 1 bytes $REGION-$((2 * REGION - 1)): expected $want found $found"
only_problem "region_mismatch"

# (g) --json on the same damage: exactly one line, the summary, with the finding in full
expect_exit 4 ofs --json verify "$T/c"
python3 - "$T/out" "$big" "$want" "$found" "$REGION" <<'PY' || fail "--json verify summary is wrong"
import json, sys
out, path, want, found, region = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
lines = open(out).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["type"] == "summary" and s["command"] == "verify", s
assert s["ok"] is False and s["exit_code"] == 4 and s["findings"] == 1, s
assert s["by_kind"] == {"region_mismatch": 1}, s["by_kind"]
p = s["problems"]
assert len(p) == 1, p
p = p[0]
assert p["kind"] == "region_mismatch" and p["path"] == path, p
assert p["region"] == 1 and p["start"] == region and p["end"] == 2 * region, p
assert p["expected"] == want and p["found"] == found, p
PY

# (f) --deep on the same damage names the one source file whose chunk was hit, not all
expect_exit 4 ofs verify --deep "$T/c"
assert_contains "$T/out" "corrupt: $big region 1"
grep "^deep: $T/src1/" "$T/out" | sed "s|^deep: $T/src1/\([^:]*\):.*|\1|" | sort -u >"$T/paths"
[ "$(wc -l <"$T/paths")" = 1 ] || { cat "$T/out"; fail "--deep should name exactly one damaged file"; }
grep -qx 'big[1-5]\.bin' "$T/paths" || { cat "$T/out"; fail "--deep names no file of src1"; }
expect_exit 4 ofs --json verify --deep "$T/c"
python3 - "$T/out" "$T/src1" <<'PY' || fail "--json verify --deep summary is wrong"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["exit_code"] == 4 and s["deep"] is True, s
kinds = sorted(p["kind"] for p in s["problems"])
assert "region_mismatch" in kinds and "deep" in kinds, kinds
paths = {p["path"] for p in s["problems"] if p["kind"] == "deep" and p.get("path", "").startswith(sys.argv[2] + "/")}
assert len(paths) == 1, paths
PY
# check --read-data finds the damaged pack; the clean repository passes
expect_exit 4 ofs check --repo "$T/c" --read-data
assert_contains "$T/out" "pack bytes do not match the index checksum"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs check --repo "$T/c"	# structure only: every blob is still indexed

# (b) a byte flipped in each kind of metadata file names that file, its range and hashes
for dir in config keys index snapshots; do
	fresh
	f=$(cd "$T/c" && { [ -f "$dir" ] && echo "$dir" || ls "$dir"/* | head -n 1; })
	[ -n "$f" ] && [ -f "$T/c/$f" ] || fail "no $dir file"
	size=$(stat -c %s "$T/c/$f")
	flip_data_byte "$T/c/$f" 20 >/dev/null
	want=$(mget "$f" xxh128)
	found=$(xxh_range "$T/c/$f" 0 "$size")
	expect_exit 4 ofs verify "$T/c"
	assert_contains "$T/out" "corrupt: $f bytes 0-$((size - 1)): expected $want found $found"
	only_problem "hash_mismatch"
done

# (c) a truncated container: both sizes
fresh
victim=${small[0]}
size=$(stat -c %s "$T/c/$victim")
truncate -s 5000000 "$T/c/$victim"
expect_exit 4 ofs verify "$T/c"
assert_contains "$T/out" "truncated: $victim (size 5000000, expected $size)"
only_problem "truncated"

# (d) a missing container
fresh
victim=${small[1]}
rm "$T/c/$victim"
expect_exit 4 ofs verify "$T/c"
assert_contains "$T/out" "missing: $victim"
only_problem "missing"
expect_exit 4 ofs check --repo "$T/c" --read-data

# (e) an extra file nobody listed
fresh
extra=containers/0123456789abcdef0123456789abcdef-000009.vhd
cp "$T/c/${small[0]}" "$T/c/$extra"
expect_exit 4 ofs verify "$T/c"
assert_contains "$T/out" "unlisted: $extra"
only_problem "unlisted"

# all at once: each finding in the JSON summary, in the documented order
fresh
flip_data_byte "$T/c/$big" 140000000 >/dev/null
truncate -s 5000000 "$T/c/${small[0]}"
rm "$T/c/${small[1]}"
echo stray >"$T/c/stray.txt"
expect_exit 4 ofs --json verify "$T/c"
python3 - "$T/out" "$big" "${small[0]}" "${small[1]}" <<'PY' || fail "combined --json findings are wrong"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
big, trunc, gone = sys.argv[2:5]
got = [(p["kind"], p["path"]) for p in s["problems"]]
# presence and size by path, then content by path, then unlisted (FORMAT.md, verify)
want = sorted([("truncated", trunc), ("missing", gone)], key=lambda k: k[1]) + \
    [("region_mismatch", big), ("unlisted", "stray.txt")]
assert got == want, (got, want)
t = [p for p in s["problems"] if p["kind"] == "truncated"][0]
assert t["found_size"] == 5000000 and t["expected_size"] > 5000000, t
r = [p for p in s["problems"] if p["kind"] == "region_mismatch"][0]
assert r["region"] == 2 and r["start"] == 2 * 64 * 2**20, r
assert s["by_kind"] == {"region_mismatch": 1, "truncated": 1, "missing": 1, "unlisted": 1}, s
PY

# the original was never touched
expect_exit 0 ofs verify "$T/repo"
echo ok
