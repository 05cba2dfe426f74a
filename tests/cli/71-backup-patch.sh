#!/bin/bash
# Edits inside large files after a stage: the backup stores the changed chunks as patches of
# the seed's chunks, so the repository grows by about the bytes changed (measured on the
# repository's files), not by the megabyte-sized chunks around each edit. Restore, check
# --read-data and verify --deep rebuild them; prune keeps the containers they copy from (and
# only those); a damaged seed chunk is named through the snapshot that only reaches it
# through a patch.
. "$(dirname "$0")/lib.sh"
need python3
size() { find "$T/repo" -type f -printf '%s\n' | awk '{s += $1} END {print s}'; }
json() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$T/out" "$1"; }
edit() {	# FILE OFFSET BYTES: overwrite with random bytes, size unchanged
	python3 -c 'import os,sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); f.write(os.urandom(int(sys.argv[3])))' "$@"
}
BLOCK=32768
mkdir -p "$T/src/db" "$T/src/logs"
head -c 24000000 /dev/urandom >"$T/src/db/big.bin"
head -c 5000000 /dev/urandom >"$T/src/logs/app.log"
seq 1 400000 >"$T/src/logs/text.log"
echo small >"$T/src/small"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

# 0. the same bytes under another path are cut at the same points whatever the buffering:
# nothing new is stored
cp "$T/src/db/big.bin" "$T/src/db/copy.bin"
expect_exit 0 ofs --json backup --repo "$T/repo" "$T/src"
[ "$(json bytes_new)" = 0 ] || fail "a copy of a staged file stored new chunks: $(cat "$T/out")"
rm "$T/src/db/copy.bin"

# 1. an edit in the middle of a large file and two appends (one to an incompressible file)
edit "$T/src/db/big.bin" 12000000 300000
head -c 200000 /dev/urandom >>"$T/src/logs/app.log"
seq 400001 410000 >>"$T/src/logs/text.log"
changed=$((300000 + 200000))
before=$(size)
expect_exit 0 ofs --json backup --repo "$T/repo" "$T/src"
grown=$(( $(size) - before ))
[ "$(json patches)" -ge 2 ] || fail "no changed chunk was stored as a patch: $(cat "$T/out")"
# the edit rounds out to whole blocks at both ends; the text append compresses to < 30 KB;
# metadata (trees, index, snapshot) < 40 KB
limit=$((changed * 105 / 100 + 2 * BLOCK + 30000 + 40000))
[ "$grown" -le "$limit" ] || fail "the repository grew by $grown bytes for $changed changed (limit $limit)"
echo "growth $grown for $changed changed" >&2
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r1"
diff -r "$T/src" "$T/r1$T/src" || fail "restore of the patched backup differs from the source"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs verify --deep "$T/repo"

# 2. a second edit elsewhere: only it is stored; the chunk patched before is reused
edit "$T/src/db/big.bin" 3000000 100000
before=$(size)
expect_exit 0 ofs --json backup --repo "$T/repo" "$T/src"
grown=$(( $(size) - before ))
limit=$((100000 * 105 / 100 + 2 * BLOCK + 40000))
[ "$grown" -le "$limit" ] || fail "the second edit grew the repository by $grown bytes (limit $limit)"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r2"
cmp "$T/src/db/big.bin" "$T/r2$T/src/db/big.bin" || fail "restore after the second edit differs"

# 3. forget the seed snapshot: prune keeps the containers the patches copy from
expect_exit 0 ofs forget --repo "$T/repo" --keep-last 1 --prune
ls "$T/repo/containers/"*.vhd >/dev/null 2>&1 || fail "prune deleted the containers a patch copies from"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r3"
diff -r "$T/src" "$T/r3$T/src" || fail "restore after prune differs from the source"

# 4. a flipped byte in a seed chunk that only a patch still uses: verify --deep names the
# file of the remaining snapshot, and restore reports it damaged
c=$(ls "$T/repo/containers/"*.vhd | head -n 1)
printf '\xff' | dd of="$c" bs=1 seek=12100000 conv=notrunc 2>/dev/null
expect_exit 4 ofs verify --deep "$T/repo"
assert_contains "$T/out" "db/big.bin"
expect_exit 4 ofs restore latest --repo "$T/repo" --target "$T/r4"
cat "$T/out" "$T/err" >"$T/both"
assert_contains "$T/both" "big.bin"

# 5. a container whose chunks only patches still use is kept by prune; once no patch copies
# from it, it goes
mkdir -p "$T/s2"
head -c 400000 /dev/urandom >"$T/s2/one"	# one chunk (under the 512 KiB minimum)
expect_exit 0 ofs init --repo "$T/repo2"
expect_exit 0 ofs stage --repo "$T/repo2" "$T/s2"
edit "$T/s2/one" 200000 40000
expect_exit 0 ofs --json backup --repo "$T/repo2" "$T/s2"
[ "$(json patches)" = 1 ] || fail "the edited one-chunk file was not stored as a patch"
expect_exit 0 ofs --json forget --repo "$T/repo2" --keep-last 1 --prune
[ "$(ls "$T/repo2/containers/"*.vhd 2>/dev/null | wc -l)" = 1 ] ||
    fail "prune deleted the container whose chunk a patch copies from: $(cat "$T/out")"
expect_exit 0 ofs check --repo "$T/repo2" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo2" --target "$T/r5"
cmp "$T/s2/one" "$T/r5$T/s2/one" || fail "restore of the patch differs after prune"
head -c 400000 /dev/urandom >"$T/s2/one"	# all new: nothing to copy
expect_exit 0 ofs --json backup --repo "$T/repo2" "$T/s2"
[ "$(json patches)" = 0 ] || fail "a rewritten file was stored as a patch"
expect_exit 0 ofs --json forget --repo "$T/repo2" --keep-last 1 --prune
ls "$T/repo2/containers/"*.vhd >/dev/null 2>&1 && fail "the container no snapshot or patch uses was kept"
expect_exit 0 ofs check --repo "$T/repo2" --read-data
expect_exit 0 ofs verify "$T/repo2"
echo ok
