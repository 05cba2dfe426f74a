#!/bin/bash
# Stage the awkward tree (tests/gen-awkward-tree.sh), restore the latest snapshot and prove
# it bit for bit with tests/compare-trees.sh: content, modes, owners, ns mtimes, symlinks,
# hard-link groups, xattrs, sparse files (still sparse), FIFOs and device nodes.
. "$(dirname "$0")/lib.sh"
need setfattr
need python3
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

"$TOP/tests/gen-awkward-tree.sh" "$T/src" >/dev/null || fail "cannot generate the awkward tree"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

expect_exit 0 ofs --json restore latest --repo "$T/repo" --target "$T/rst"
[ "$(grep -c '"type":"summary"' "$T/out")" = 1 ] || fail "--json restore: not exactly one summary"
grep -v '"type":"progress"' "$T/out" | grep -v '"type":"summary"' | grep -q . &&
    fail "--json restore printed something other than progress and summary"
cp "$T/out" "$T/summary1"
"$TOP/tests/compare-trees.sh" "$T/src" "$T/rst$T/src" >"$T/diff" 2>&1 ||
    { cat "$T/diff"; fail "the restored tree differs from the source"; }

# the 4 GiB sparse file came back sparse (data islands only)
blocks=$(stat -c %b "$T/rst$T/src/sparse.img")
[ "$blocks" -lt 65536 ] || fail "sparse.img restored with $blocks blocks allocated"
[ "$(stat -c %s "$T/rst$T/src/sparse.img")" = 4294967296 ] || fail "sparse.img has the wrong size"

# the restored tree is in the same place relative to the target as the source was to /
[ -p "$T/rst$T/src/special/fifo" ] || fail "FIFO not restored as a FIFO"
[ "$(id -u)" != 0 ] || [ -c "$T/rst$T/src/special/null-dev" ] || fail "char device not restored"

# restoring again: if-changed keeps every file, writes nothing
expect_exit 0 ofs --json restore latest --repo "$T/repo" --target "$T/rst"
python3 - "$T/out" <<'PY' || fail "second restore rewrote data"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["type"] == "summary" and s["command"] == "restore", s
assert s["bytes"] == 0 and s["unchanged"] > 50 and s["damaged"] == 0, s
PY
"$TOP/tests/compare-trees.sh" "$T/src" "$T/rst$T/src" >"$T/diff" 2>&1 ||
    { cat "$T/diff"; fail "the tree differs after a second restore"; }

# ls shows the tree; snapshots lists the snapshot
expect_exit 0 ofs ls --repo "$T/repo" latest
assert_contains "$T/out" "$T/src/sparse.img"
assert_contains "$T/out" "-rwsr-xr-x"
assert_contains "$T/out" "$T/src/names/\\xff\\xfe"
assert_contains "$T/out" "-> original"
expect_exit 0 ofs snapshots --repo "$T/repo"
assert_contains "$T/out" "$T/src"
echo ok
