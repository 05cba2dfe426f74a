#!/bin/bash
# The blob index keeps at most --index-memory in memory (SPEC §17): past it, its entries go
# to sorted runs in unnamed files of the state dir. With a budget of 1 MiB (about 19,000
# chunks) a tree of 45,000 small files spills several times during the stage and again when
# each later command loads the index; stage, no-change backup, deep verify and restore all
# give the same result as without a budget, and nothing is left in the state dir. A budget
# that is not a size, or under 1M, is a usage error.
. "$(dirname "$0")/lib.sh"
need python3
python3 - "$T/src" <<'PY'
import os, random, sys
r = random.Random(24)
for d in range(45):
    os.makedirs(os.path.join(sys.argv[1], "d%02d" % d))
    for i in range(1000):
        with open(os.path.join(sys.argv[1], "d%02d" % d, "f%04d" % i), "wb") as f:
            f.write(r.randbytes(r.randint(1, 200)))
PY
export OFFSEED_STATE="$T/state"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs -v --index-memory 1M stage --repo "$T/repo" "$T/src"
cp "$T/err" "$T/stage.err"
assert_contains "$T/stage.err" "blob index past its memory budget"
[ "$(grep -c 'blob index past its memory budget' "$T/stage.err")" -ge 2 ] ||
    fail "stage spilled the index fewer than twice: $(grep -c 'past its memory' "$T/stage.err")"
# the no-change backup finds every file in the catalog and every chunk in the spilled index
expect_exit 0 ofs -v --json --index-memory=1M backup --repo "file:$T/repo" "$T/src"
cp "$T/out" "$T/backup.json"
cp "$T/err" "$T/backup.err"
assert_contains "$T/backup.err" "blob index past its memory budget"
python3 - "$T/backup.json" <<'PY' || fail "no-change backup stored new data"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
assert s.get("bytes_new", s.get("new_bytes", 0)) == 0, s
PY
OFFSEED_INDEX_MEMORY=1M expect_exit 0 ofs -v verify --deep --repo "$T/repo" "$T/repo"
assert_contains "$T/err" "blob index past its memory budget"
OFFSEED_INDEX_MEMORY=1M expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/rst"
diff -r "$T/src" "$T/rst$T/src" >/dev/null || fail "restore with a spilled index differs"
# prune marks every used chunk in a table under the same budget: it keeps them all
expect_exit 0 ofs --json --index-memory 1M prune --repo "$T/repo"
expect_exit 0 ofs --index-memory 1M check --read-data --repo "$T/repo"
# the runs were unnamed files: nothing stays behind in the state dir
left=$(find "$T/state" -name '.index-spill-*' | wc -l)
[ "$left" = 0 ] || fail "$left spill files left in the state dir"
# a budget of 0 keeps it all in memory: no spill
expect_exit 0 ofs -v --index-memory 0 check --repo "$T/repo"
! grep -q "blob index past its memory budget" "$T/err" || fail "--index-memory 0 spilled"
# usage errors
expect_exit 2 ofs --index-memory 512K check --repo "$T/repo"
expect_exit 2 ofs --index-memory lots check --repo "$T/repo"
OFFSEED_INDEX_MEMORY=-1 expect_exit 2 ofs check --repo "$T/repo"
expect_exit 2 ofs check --repo "$T/repo" --index-memory
echo "ok 24-index-spill"
