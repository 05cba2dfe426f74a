#!/bin/bash
# A disk set may hold only part of a repository (an export carries what one snapshot needs,
# SPEC §16): the deep check reads what is there, names every object a snapshot on the set
# needs and the set lacks (exit 4), and does not count the packs it lacks that no snapshot
# on it needs. Built here by hand: a prepared disk gains a later index and snapshot whose
# loose packs are not copied, then loses that snapshot again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/disks.sh"
DEST=azure://acct/backups/srv01
B="$T/d1/BlockBlob/backups/srv01"

mkdir -p "$T/src"
for i in $(seq 1 20); do head -c 50000 /dev/urandom >"$T/src/f$i.bin"; done
expect_exit 0 ofs init --repo "$T/repo" --dest "$DEST"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
mount_disks 1 64m
prep_disks "$T/repo" seed-partial "$T/d1"
expect_exit 0 ofs check --repo "disks:$T/d1" --read-data

# a backup adds a file whose data lands in loose packs; its index and snapshot go onto the
# disk, its packs do not
head -c 3000000 /dev/urandom >"$T/src/big.bin"
expect_exit 0 ofs backup --repo "file:$T/repo" "$T/src"
packs=$(cd "$T/repo" && find data -type f | sort)
[ -n "$packs" ] || fail "the backup wrote no loose pack"
for d in index snapshots; do
	for f in "$T/repo/$d"/*; do
		[ -e "$B/$d/$(basename "$f")" ] || cp "$f" "$B/$d/"
	done
done

echo "check: a snapshot on the set needs packs the set lacks → exit 4 naming each"
expect_exit 4 ofs check --repo "disks:$T/d1" --read-data
assert_contains "$T/out" "the disk set lacks it and a snapshot on it needs it"
named=$(grep -o 'data/[0-9a-f][0-9a-f]/[0-9a-f]*' "$T/out" | sort -u)
[ -n "$named" ] || fail "no missing pack named"
for p in $named; do
	echo "$packs" | grep -qx "$p" || fail "'$p' named, but it is not a pack the set lacks"
done
grep -q "f1.bin" "$T/out" && fail "a file whose data is on the set was reported"
awk '/^unreadable: /' "$T/out" | grep -qv "data/" && fail "an object the set holds was reported"

echo "check: without that snapshot the packs it needed are no finding"
# the later snapshot is the one whose file is not in the staging manifest of the disk
listed=$(python3 -c 'import json,sys; print("\n".join(f["path"] for f in json.load(open(sys.argv[1]))["files"]))' "$T/d1/offseed-manifest.json")
for f in "$B/snapshots"/*; do
	echo "$listed" | grep -q "snapshots/$(basename "$f")" || rm "$f"
done
[ "$(ls "$B/snapshots" | wc -l)" = 1 ] || fail "expected the seed snapshot alone on the disk"
expect_exit 0 ofs check --repo "disks:$T/d1" --read-data
assert_contains "$T/out" "packs the index lists are not on this disk set; no snapshot on it needs them"
expect_exit 0 ofs --json check --repo "disks:$T/d1" --read-data
grep -q '"packs_not_on_set":[1-9]' "$T/out" || fail "packs_not_on_set does not count the packs the set lacks"
expect_exit 0 ofs restore --repo "disks:$T/d1" latest --target "$T/r"
echo "49-disks-partial: ok"
