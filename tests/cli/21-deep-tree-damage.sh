#!/bin/bash
# A flipped byte in a directory listing (a tree pack under data/) is named by the directory it
# describes: verify --deep, check --read-data (which walk the snapshots while the packs are
# read) and check (the walk alone) all exit 4 naming that directory and nothing else; the
# other directories' files are still checked. A damaged file chunk is named alone.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src/a/b" "$T/src/c" "$T/src/d"
for i in 1 2 3; do
	seq 1 $((i * 10000)) >"$T/src/a/b/f$i"
	seq 5 $((i * 7000)) >"$T/src/c/g$i"
done
head -c 3000000 /dev/urandom >"$T/src/d/blob.bin"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs check --read-data --repo "$T/repo"
cp -a "$T/repo" "$T/repo2"
cp -a "$T/repo" "$T/repo3"

# the tree packs are the only loose packs of a stage; flip one byte in the middle of each
for f in "$T"/repo/data/*/*; do
	sz=$(stat -c %s "$f")
	printf '\377' | dd of="$f" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
done
for cmd in "verify --deep --repo $T/repo $T/repo" "check --read-data --repo $T/repo" \
    "check --repo $T/repo"; do
	# shellcheck disable=SC2086
	expect_exit 4 ofs $cmd
	grep -E "^(deep|damaged): $T/src" "$T/out" >"$T/named" || { cat "$T/out"; fail "$cmd names no path"; }
	# the byte hit one directory listing: exactly one path, a directory of the source
	[ "$(wc -l <"$T/named")" = 1 ] || { cat "$T/out"; fail "$cmd names $(wc -l <"$T/named") paths"; }
	dir=$(sed -E "s#^(deep|damaged): ($T/src[^ :]*).*#\\2#" "$T/named")
	[ -d "$dir" ] || fail "$cmd named '$dir', not a directory of the source"
	grep -q "authentication failed" "$T/named" || fail "$cmd does not say why: $(cat "$T/named")"
done

# A file chunk (the middle of the container is d/blob.bin's data): found by the data pass
# while the walk runs, then named by the second walk, alone.
c=$(ls "$T"/repo2/containers/*.vhd)
printf '\377' | dd of="$c" bs=1 seek=$(( $(stat -c %s "$c") / 2 )) conv=notrunc 2>/dev/null
expect_exit 4 ofs check --read-data --repo "$T/repo2"
grep -q "^damaged: $T/src/d/blob.bin " "$T/out" || { cat "$T/out"; fail "the damaged file is not named"; }
[ "$(grep -c "^damaged: $T/src" "$T/out")" = 1 ] || { cat "$T/out"; fail "expected the file alone"; }
# Two snapshots sharing every subtree: the walk opens each tree once, yet counts and names
# per snapshot (the damaged file once for each snapshot that holds it).
expect_exit 0 ofs backup --repo "$T/repo3" "$T/src"
expect_exit 0 ofs --json check --repo "$T/repo3"
grep -q '"snapshots":2,' "$T/out" || fail "check should count 2 snapshots: $(cat "$T/out")"
grep -q '"files":14,' "$T/out" || fail "check should count 7 files in each of 2 snapshots: $(cat "$T/out")"
c=$(ls "$T"/repo3/containers/*.vhd)
printf '\377' | dd of="$c" bs=1 seek=$(( $(stat -c %s "$c") / 2 )) conv=notrunc 2>/dev/null
expect_exit 4 ofs verify --deep --repo "$T/repo3" "$T/repo3"
[ "$(grep -Ec "^(deep|damaged): $T/src/d/blob.bin[: ]" "$T/out")" = 2 ] ||
    { cat "$T/out"; fail "the damaged file should be named once per snapshot"; }
echo ok
