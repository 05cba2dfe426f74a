#!/bin/bash
# Stage a small tree: snapshot listed, containers are valid VHDs that qemu-img reads at
# their exact size and converts back byte for byte, keyless and deep verify pass.
. "$(dirname "$0")/lib.sh"
need qemu-img
mkdir -p "$T/src/a/b" "$T/src/empty"
head -c 3000000 /dev/urandom >"$T/src/a/rand.bin"
seq 1 200000 >"$T/src/a/b/seq.txt"
cp "$T/src/a/b/seq.txt" "$T/src/a/dup.txt"
: >"$T/src/zero"
ln -s a/b/seq.txt "$T/src/link"

expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 64M "$T/src"
assert_contains "$T/out" "snapshot"
[ -f "$T/repo/offseed-manifest.json" ] || fail "no staging manifest"
n=$(ls "$T/repo/containers/"*.vhd | wc -l)
[ "$n" -ge 1 ] || fail "no container"

expect_exit 0 ofs --json stage --repo "$T/repo" "$T/src"
tail -n 1 "$T/out" | grep -q '"type":"summary"' || fail "--json stage has no summary line"
# second stage of the same data stores (almost) nothing new
python3 - "$T/out" <<'PY' || fail "second stage stored new data"
import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["bytes_new"]==0, s
PY

# progress shown (--json): every progress event carries the totals of the pre-scan
expect_exit 0 ofs init --repo "$T/repo-progress"
expect_exit 0 "$OFFSEED" --passphrase-file "$PASS" --json --progress-interval 0.000001 stage \
    --repo "$T/repo-progress" "$T/src"
python3 - "$T/out" "$T/src" <<'PY' || fail "stage progress lacks the source totals"
import json, os, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pr = [e for e in ev if e["type"] == "progress"]
size = sum(os.lstat(os.path.join(r, f)).st_size for r, _, fs in os.walk(sys.argv[2])
           for f in fs if not os.path.islink(os.path.join(r, f)))
assert pr, "no progress events"
assert all(e["bytes_total"] == size and e["files_total"] > 0 for e in pr), (size, pr[:2])
PY

for f in "$T/repo/containers/"*.vhd; do
	size=$(stat -c %s "$f")
	virt=$(qemu-img info -f vpc --output=json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
	[ "$virt" = $((size - 512)) ] || fail "qemu-img reports $virt for $f, expected $((size - 512))"
	qemu-img convert -f vpc -O raw "$f" "$T/raw.img"
	head -c $((size - 512)) "$f" | cmp - "$T/raw.img" || fail "qemu-img convert does not reproduce $f"
	[ $(( (size - 512) % 1048576 )) = 0 ] || fail "virtual size of $f is not a multiple of 1 MiB"
done

expect_exit 0 ofs snapshots --repo "$T/repo"
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs verify --deep --repo "$T/repo" "$T/repo"
expect_exit 0 ofs check --repo "$T/repo" --read-data
echo "ok"
