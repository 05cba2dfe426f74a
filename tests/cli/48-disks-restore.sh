#!/bin/bash
# A prepared 3-disk set read in place with --repo disks:…: snapshots, ls, restore equal to the
# source, check; read-only (nothing written, no lock taken). With one disk missing, the
# files whose chunks lie on the disks present restore intact, the others are listed as
# unavailable naming the missing disk by index and serial (exit 4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/disks.sh"
need python3
DEST=azure://acct/backups/srv01

# ~60 MB in many small files (one chunk each) and a few big ones, 16 MiB containers
mkdir -p "$T/src/small" "$T/src/big"
for i in $(seq 1 120); do head -c $((100000 + i * 1000)) /dev/urandom >"$T/src/small/f$i.bin"; done
for i in 1 2; do head -c 12000000 /dev/urandom >"$T/src/big/b$i.bin"; done
ln -s small/f1.bin "$T/src/link"
expect_exit 0 ofs init --repo "$T/repo" --dest "$DEST"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
n=$(ls "$T/repo/containers" | wc -l)
[ "$n" -ge 3 ] || fail "expected at least 3 containers, got $n"

mount_disks 3 64m
D="$T/d1,$T/d2,$T/d3"
prep_disks "$T/repo" seed-test "$T/d1" "$T/d2" "$T/d3"
expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
before=$(cd "$T" && find d1 d2 d3 -printf '%p %s %T@\n' | sort | md5sum)

# the full set: snapshots, ls, restore equal to the source, check
expect_exit 0 ofs snapshots --repo "disks:$D"
sid=$(awk 'NR > 1 && $1 ~ /^[0-9a-f]+$/ { print $1; exit }' "$T/out")
[ -n "$sid" ] || { cat "$T/out"; fail "no snapshot listed"; }
expect_exit 0 ofs ls --repo "disks:$D" latest
assert_contains "$T/out" "f120.bin"
assert_contains "$T/out" "b2.bin"
expect_exit 0 ofs restore --repo "disks:$D" latest --target "$T/r1"
src_in_r1=$(find "$T/r1" -type d -name src | head -n 1)
[ -n "$src_in_r1" ] || fail "restore wrote no src folder"
diff -r "$T/src" "$src_in_r1" || fail "restore from the full disk set differs from the source"
expect_exit 0 ofs check --repo "disks:$D" --read-data
# same through --json: one summary line
expect_exit 0 ofs --json snapshots --repo "disks:$D"
[ "$(wc -l <"$T/out")" = 1 ] || { cat "$T/out"; fail "snapshots --json is not one line"; }

# read-only: reading changed nothing on the disks (no lock file either); a new repository
# is refused (writes are refused by the backend: unit/test_backend_disks)
expect_exit 2 ofs init --repo "disks:$D"
after=$(cd "$T" && find d1 d2 d3 -printf '%p %s %T@\n' | sort | md5sum)
[ "$before" = "$after" ] || fail "the disks changed while being read"

# a disk of another set, and a folder that is no disk, are refused
mkdir -p "$T/other"
cp -a "$T/d3/." "$T/other/"
python3 - "$T/other/offseed-set.json" <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s["seed_set"] = "0" * 32
open(p, "w").write(json.dumps(s))
PY
expect_exit 2 ofs snapshots --repo "disks:$T/d1,$T/d2,$T/other"
assert_contains "$T/err" "belongs to another set"
expect_exit 2 ofs snapshots --repo "disks:$T/d1,$T/src"
assert_contains "$T/err" "is not a prepared disk"

# One disk missing, each in turn. The snapshot list is metadata (on every disk): always
# there. Trees and file data live in containers: ls works unless a tree lies on the missing
# disk (then it names that disk); restore brings back every file whose chunks and trees are
# on the disks present, intact, and names the rest as unavailable with the missing disk's
# index and serial (exit 4).
partial=0
for miss in 1 2 3; do
	L=$(for i in 1 2 3; do [ $i = $miss ] || printf '%s,' "$T/d$i"; done); L=${L%,}
	serial=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][int(sys.argv[2]) - 1]["serial"])' "$T/d1/offseed-set.json" $miss)
	[ "$serial" = "TEST-SERIAL-$miss" ] || fail "unexpected serial $serial"
	named="disk $miss of 3 (serial $serial)"
	expect_exit 0 ofs snapshots --repo "disks:$L"
	assert_contains "$T/out" "$sid"
	ofs ls --repo "disks:$L" latest >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc != 0 ]; then
		assert_contains "$T/err" "$named"
	else
		assert_contains "$T/out" "b2.bin"
	fi
	rm -rf "$T/r2"
	expect_exit 4 ofs restore --repo "disks:$L" latest --target "$T/r2"
	assert_contains "$T/err" "$named"
	assert_contains "$T/err" "unavailable"
	res=$(python3 - "$T/src" "$T/r2" "$T/err" <<'PY'
import filecmp, os, sys
src, target, err = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
restored = missing = 0
for d, _, files in os.walk(src):
    for f in files:
        p = os.path.join(d, f)
        out = target + p
        if os.path.lexists(out):
            if os.path.islink(p):
                assert os.readlink(p) == os.readlink(out), "restored link %s differs" % p
            else:
                assert filecmp.cmp(p, out, shallow=False), "restored %s differs" % p
            restored += 1
            continue
        # named as damaged itself or through a folder above it (its tree was unavailable)
        q = p
        while True:
            if "damaged: '%s':" % q in err:
                break
            assert q != "/", "%s is neither restored nor named" % p
            q = os.path.dirname(q)
        missing += 1
assert missing > 0, "nothing was unavailable"
print(restored, missing)
PY
) || { cat "$T/err"; fail "restore with disk $miss missing is wrong"; }
	echo "disk $miss missing: restored/unavailable files: $res"
	[ "${res%% *}" -gt 0 ] && partial=$((partial + 1))
done
[ $partial -ge 1 ] || fail "no case restored the files of the disks present"
# --json: the summary counts and names the unavailable entries
expect_exit 4 ofs --json restore --repo "disks:$T/d2,$T/d3" latest --target "$T/r3"
python3 - "$T/out" <<'PY' || fail "restore --json summary is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [l for l in lines if l.get("type") == "summary"]
assert len(s) == 1, lines
assert s[0]["damaged"] >= 1 and len(s[0]["damaged_paths"]) == s[0]["damaged"], s[0]
PY
# a container deleted from a disk that is present is named with that disk too
rm "$T/d2/PageBlob/backups/srv01/containers/"*.vhd
expect_exit 4 ofs restore --repo "disks:$D" latest --target "$T/r4"
assert_contains "$T/err" "is missing from disk 2 of 3 (serial TEST-SERIAL-2)"
echo ok
