#!/bin/bash
# dump: the awkward tree streamed as a pax tar extracts with GNU tar and with bsdtar to exactly
# what restore writes (content, modes, owners, ns mtimes, symlinks, hard links, xattrs, sparse
# files, FIFOs, devices); a single file; and the rejections (unknown snapshot or path, wrong
# passphrase, bad format, --json without --output).
. "$(dirname "$0")/lib.sh"
need setfattr
need python3
need tar
need bsdtar
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

"$TOP/tests/gen-awkward-tree.sh" "$T/src" --small >/dev/null || fail "cannot generate the awkward tree"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs restore "latest:$T/src" --repo "$T/repo" --target "$T/rst"

ofs dump latest "$T/src" --repo "$T/repo" >"$T/a.tar" 2>"$T/err" || { cat "$T/err"; fail "dump failed"; }
mkdir "$T/gnu" "$T/bsd"
(cd "$T/gnu" && tar --xattrs --xattrs-include='*' --numeric-owner -xpf "$T/a.tar" 2>"$T/gnu.err") ||
    { cat "$T/gnu.err"; fail "GNU tar cannot extract the dump"; }
(cd "$T/bsd" && bsdtar --xattrs --numeric-owner -xpf "$T/a.tar" 2>"$T/bsd.err") ||
    { cat "$T/bsd.err"; fail "bsdtar cannot extract the dump"; }
"$TOP/tests/compare-trees.sh" "$T/rst" "$T/gnu" >"$T/diff" 2>&1 ||
    { cat "$T/diff"; fail "GNU tar extraction differs from restore"; }
"$TOP/tests/compare-trees.sh" "$T/rst" "$T/bsd" >"$T/diff" 2>&1 ||
    { cat "$T/diff"; fail "bsdtar extraction differs from restore"; }
"$TOP/tests/compare-trees.sh" "$T/src" "$T/gnu" >"$T/diff" 2>&1 ||
    { cat "$T/diff"; fail "GNU tar extraction differs from the source"; }
# the sparse file travelled as a sparse map, not 256 MiB of zeros
[ "$(stat -c %s "$T/a.tar")" -lt $((100 * 1048576)) ] || fail "the archive is not sparse"
tar -tvf "$T/a.tar" >"$T/list" 2>/dev/null
[ "$(grep -c " link to links/hard1$" "$T/list")" = 3 ] ||
    { cat "$T/list"; fail "the 4-link group is not 1 file + 3 hard-link entries"; }

# one file, --output and --json
expect_exit 0 ofs --json dump latest "$T/src/sizes/one-byte" --repo "$T/repo" -o "$T/one.tar"
python3 - "$T/out" <<'PY' || fail "dump --json summary"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 1 and s[0]["type"] == "summary" and s[0]["command"] == "dump", s
assert s[0]["files"] == 1 and s[0]["bytes"] == 1, s
PY
[ "$(tar -tf "$T/one.tar")" = one-byte ] || fail "single-file dump has the wrong entry: $(tar -tf "$T/one.tar")"
mkdir "$T/one" && tar -xf "$T/one.tar" -C "$T/one"
cmp "$T/one/one-byte" "$T/src/sizes/one-byte" || fail "single-file dump content"
# the whole snapshot ('/')
ofs dump latest / --repo "$T/repo" | tar -tf - >"$T/all" 2>/dev/null
grep -q "^${T#/}/src/xattrs/file$" "$T/all" || { head "$T/all"; fail "dump / misses entries"; }

# rejections
expect_exit 0 ofs dump --help
assert_contains "$T/out" "usage: offseed dump"
expect_exit 2 ofs dump latest --repo "$T/repo"
expect_exit 2 ofs dump latest / --format zip --repo "$T/repo"
expect_exit 2 ofs --json dump latest / --repo "$T/repo"
expect_exit 1 ofs dump 0000dead / --repo "$T/repo"
assert_contains "$T/err" "no snapshot '0000dead'"
expect_exit 1 ofs dump latest /no/such/path --repo "$T/repo"
assert_contains "$T/err" "is not in the snapshot"
printf 'not the right passphrase\n' >"$T/bad"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" dump latest / --repo "$T/repo"
[ -s "$T/out" ] && fail "a failed dump wrote to stdout"

# a damaged chunk: exit 4, and the archive is never a complete-looking one with a file of
# zeros (no end-of-archive marker after a failure)
mkdir -p "$T/d"
for i in 1 2 3 4; do head -c 3000000 /dev/urandom >"$T/d/f$i"; done
expect_exit 0 ofs init --repo "$T/repo3"
expect_exit 0 ofs stage --repo "$T/repo3" "$T/d"
c=$(ls "$T/repo3/containers/"*.vhd | head -n 1)
python3 - "$c" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096 + 1000); b = f.read(1); f.seek(4096 + 1000); f.write(bytes([b[0] ^ 0x40]))
PY
expect_exit 4 ofs dump latest "$T/d" --repo "$T/repo3" -o "$T/dmg.tar"
mkdir "$T/dmg"
if (cd "$T/dmg" && tar -xf "$T/dmg.tar" 2>/dev/null); then
	n=0
	for f in "$T/dmg"/f*; do
		[ -e "$f" ] || continue
		cmp -s "$f" "$T/d/$(basename "$f")" || fail "damaged dump extracted cleanly with wrong content in $f"
		n=$((n + 1))
	done
	[ $n -lt 4 ] || fail "damaged dump extracted all four files"
fi
echo ok
