#!/bin/bash
# Keyless verify of a 3-disk set (tmpfs mounts, real capacity): clean → 0; each problem →
# exit 4 named exactly: a disk of the set missing (index and serial), a disk of another
# set, an unlisted, a truncated, a missing file, a flipped byte (file, region, byte range),
# a disk manifest that is not the one the set lists; --json carries the findings;
# --expect-hash with disk serials; --deep opens the set as disks:….
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/disks.sh"
need python3
need xxhsum
MiB=1048576
REGION=$((64 * MiB))
DEST=azure://acct/backups/srv01
B=PageBlob/backups/srv01/containers

# three ~60 MB files and some small ones in 80 MiB containers: 3 containers, one per disk,
# the big ones with two regions
mkdir -p "$T/src"
for i in 1 2 3; do head -c 60000000 /dev/urandom >"$T/src/big$i.bin"; done
for i in $(seq 1 20); do head -c $((i * 7000)) /dev/urandom >"$T/src/s$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest "$DEST"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 80M "$T/src"
[ "$(ls "$T/repo/containers" | wc -l)" = 3 ] || { ls -l "$T/repo/containers"; fail "expected 3 containers"; }
mount_disks 3 128m
prep_disks "$T/repo" seed-test "$T/d1" "$T/d2" "$T/d3"
# prep decides the placement: BD is a disk holding a two-region container CB, TD another
# disk with a container CT
BD= TD=
for i in 1 2 3; do
	for f in $(cd "$T/d$i" && ls $B/*.vhd); do
		if [ -z "$BD" ] && [ "$(stat -c %s "$T/d$i/$f")" -gt $((REGION + MiB)) ]; then
			BD=$i CB=$f
		fi
	done
done
[ -n "$BD" ] || fail "no container with two regions on the disks"
for i in 1 2 3; do
	f=$(cd "$T/d$i" && ls $B/*.vhd | head -n 1)
	if [ "$i" != "$BD" ] && [ -n "$f" ] && [ -z "$TD" ]; then TD=$i CT=$f; fi
done
[ -n "$TD" ] || fail "only one disk has containers"
OD=$((6 - BD - TD))	# the third disk
sizeB=$(stat -c %s "$T/d$BD/$CB")
# put back what a case damaged
restore_file() {	# DISK RELPATH
	local rel=${2#PageBlob/backups/srv01/}
	rel=${rel#BlockBlob/backups/srv01/}
	cp "$T/repo/$rel" "$T/d$1/$2" || fail "cannot restore $2"
}
one_problem() {	# KIND: exactly one finding, of that kind (human summary)
	assert_contains "$T/out" "containers: 1 $1"
}

# clean
expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "no problems"
assert_contains "$T/out" "3 containers"
expect_exit 0 ofs --json verify "$T/d3" "$T/d1" "$T/d2"
python3 - "$T/out" <<'PY' || fail "clean --json summary is wrong"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["ok"] is True and s["exit_code"] == 0 and s["targets"] == 3 and s["problems"] == [], s
assert s["containers_checked"] == 3, s
PY

# a disk of the set missing: by index and serial
expect_exit 4 ofs verify "$T/d1" "$T/d2"
assert_contains "$T/out" "disk 3 of 3 missing (serial TEST-SERIAL-3)"
one_problem disk_missing
expect_exit 4 ofs verify "$T/d2" "$T/d3"
assert_contains "$T/out" "disk 1 of 3 missing (serial TEST-SERIAL-1)"
expect_exit 4 ofs --json verify "$T/d1" "$T/d3"
python3 - "$T/out" <<'PY' || fail "--json disk_missing is wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["exit_code"] == 4 and s["by_kind"] == {"disk_missing": 1}, s
p = s["problems"][0]
assert p["kind"] == "disk_missing" and p["disk_index"] == 2 and p["disk_count"] == 3, p
assert p["serial"] == "TEST-SERIAL-2" and "disk 2 of 3 missing" in p["detail"], p
PY

# a disk of another set (a second repository staged and laid out on a folder)
# (prepared without --serial onto plain folders: the serials come from id files, which
# verify compares with the set manifest)
mkdir -p "$T/src2" "$T/other" "$T/o2"
head -c 3000000 /dev/urandom >"$T/src2/x"
expect_exit 0 ofs init --repo "$T/repo2" --dest "$DEST"
expect_exit 0 ofs stage --repo "$T/repo2" --container-size 16M "$T/src2"
expect_exit 0 ofs prep --repo "$T/repo2" --job other-job --disk "$T/other" --disk "$T/o2"
[ -s "$T/o2/.offseed-disk-id" ] || fail "prep wrote no id file"
expect_exit 0 ofs verify "$T/other" "$T/o2"
id2=$(cat "$T/o2/.offseed-disk-id")
printf 'OFS-0000000000000000' >"$T/o2/.offseed-disk-id"
expect_exit 4 ofs verify "$T/other" "$T/o2"
assert_contains "$T/out" "set mismatch: $T/o2/.offseed-disk-id: the disk's id file says serial OFS-0000000000000000, the set lists $id2 for disk 2"
one_problem set_mismatch
printf '%s' "$id2" >"$T/o2/.offseed-disk-id"
expect_exit 0 ofs verify "$T/other" "$T/o2"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3" "$T/other"
assert_contains "$T/out" "foreign disk: $T/other: a disk of another set"
one_problem foreign_disk
expect_exit 4 ofs --json verify "$T/d1" "$T/other" "$T/d2" "$T/d3"
python3 - "$T/out" "$T/other" <<'PY' || fail "--json foreign_disk is wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["by_kind"] == {"foreign_disk": 1}, s
p = s["problems"][0]
assert p["kind"] == "foreign_disk" and p["target"] == sys.argv[2], p
PY

# an unlisted file on disk 2
echo stray >"$T/d2/PageBlob/backups/srv01/stray.txt"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "unlisted: $T/d2/PageBlob/backups/srv01/stray.txt"
one_problem unlisted
rm "$T/d2/PageBlob/backups/srv01/stray.txt"

# a truncated container
sizeT=$(stat -c %s "$T/d$TD/$CT")
truncate -s 5000000 "$T/d$TD/$CT"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "truncated: $T/d$TD/$CT (size 5000000, expected $sizeT)"
one_problem truncated
restore_file $TD "$CT"

# a missing file (metadata) on disk 3
k=$(cd "$T/d3" && ls BlockBlob/backups/srv01/keys/* | head -n 1)
rm "$T/d3/$k"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "missing: $T/d3/$k"
one_problem missing
restore_file 3 "$k"

# a flipped byte in region 1 of a container: file, region, byte range, hashes
off=$(flip_data_byte "$T/d$BD/$CB" 70000000)
[ $((off / REGION)) = 1 ] || fail "flip at $off is not in region 1"
want=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print([f for f in m["files"] if f["path"]==sys.argv[2]][0]["regions"][1])' "$T/d$BD/offseed-manifest.json" "$CB")
found=$(python3 - "$T/d$BD/$CB" $REGION "$sizeB" <<'PY'
import subprocess, sys
path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
	f.seek(start)
	data = f.read(end - start)
print(subprocess.run(["xxhsum", "-H2", "-"], input=data, capture_output=True,
    check=True).stdout.split()[0].decode())
PY
)
[ "$want" != "$found" ] || fail "the flip did not change region 1"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "corrupt: $T/d$BD/$CB region 1 bytes $REGION-$((sizeB - 1)): expected $want found $found"
one_problem region_mismatch
expect_exit 4 ofs --json verify "$T/d1" "$T/d2" "$T/d3"
python3 - "$T/out" "$T/d$BD" "$CB" "$want" "$found" $REGION "$sizeB" <<'PY' || fail "--json region_mismatch is wrong"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
target, path, want, found, region, size = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
assert s["exit_code"] == 4 and s["by_kind"] == {"region_mismatch": 1}, s
p = s["problems"][0]
assert p["target"] == target and p["path"] == path and p["region"] == 1, p
assert p["start"] == region and p["end"] == size, p
assert p["expected"] == want and p["found"] == found, p
PY
# --deep on the damaged set opens it as disks:… and names the damaged source file
expect_exit 4 ofs verify --deep "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "corrupt: $T/d$BD/$CB region 1"
grep -q "^deep: $T/src/big[1-3]\.bin" "$T/out" || { cat "$T/out"; fail "--deep names no damaged file"; }
restore_file $BD "$CB"
expect_exit 0 ofs verify --deep "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "(deep)"

# every kind at once in --json, in target order
truncate -s 5000000 "$T/d$TD/$CT"
echo stray >"$T/d$BD/stray"
expect_exit 4 ofs --json verify "$T/d$TD" "$T/d$BD" "$T/other"
python3 - "$T/out" "$T" "$CT" $TD $BD $OD <<'PY' || fail "combined --json findings are wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
T, ct, td, bd, od = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
got = [(p["kind"], p["target"], p.get("path")) for p in s["problems"]]
want = [("truncated", T + "/d" + td, ct), ("unlisted", T + "/d" + bd, "stray"),
        ("foreign_disk", T + "/other", None), ("disk_missing", "", None)]
assert got == want, got
assert s["problems"][3]["disk_index"] == od and s["problems"][3]["serial"] == "TEST-SERIAL-%d" % od, s
PY
restore_file $TD "$CT"
rm "$T/d$BD/stray"

# --expect-hash with disk serials: match → 0, mismatch → 4
sha2=$(sha256sum "$T/d2/offseed-manifest.json" | cut -d' ' -f1)
expect_exit 0 ofs verify --expect-hash "TEST-SERIAL-2=$sha2" "$T/d1" "$T/d2" "$T/d3"
bad=$(printf '%064d' 7)
expect_exit 4 ofs verify --expect-hash "TEST-SERIAL-2=$bad" "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "manifest hash mismatch: $T/d2/offseed-manifest.json: expected $bad found $sha2 (serial TEST-SERIAL-2)"
one_problem manifest_hash_mismatch
expect_exit 4 ofs verify --expect-hash "NO-SUCH-DISK=$sha2" "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "disk missing: no target is the disk with serial NO-SUCH-DISK"

# a disk manifest that is not the one the set lists (edited after prep)
cp "$T/d1/offseed-manifest.json" "$T/m1.json"
sed -i 's/"job": "seed-test"/"job": "seed-edit"/' "$T/d1/offseed-manifest.json"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "manifest hash mismatch: $T/d1/offseed-manifest.json: expected"
assert_contains "$T/out" "(disk 1 of 3, serial TEST-SERIAL-1"
one_problem manifest_hash_mismatch
cp "$T/m1.json" "$T/d1/offseed-manifest.json"
# set manifests that differ between the disks
cp "$T/d3/offseed-set.json" "$T/s3.json"
sed -i 's/"job": "seed-test"/"job": "seed-edit"/' "$T/d3/offseed-set.json"
expect_exit 4 ofs verify "$T/d1" "$T/d2" "$T/d3"
assert_contains "$T/out" "set mismatch: $T/d3/offseed-set.json: differs from the one on '$T/d1'"
cp "$T/s3.json" "$T/d3/offseed-set.json"

expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
echo ok
