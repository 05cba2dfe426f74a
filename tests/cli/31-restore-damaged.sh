#!/bin/bash
# A byte flipped in a container's packed data: restore fails that file loudly (exit 4,
# listed, removed rather than left half-written) and restores everything else.
. "$(dirname "$0")/lib.sh"
need python3
mkdir -p "$T/src"
for i in 1 2 3 4; do head -c 3000000 /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
c=$(ls "$T/repo/containers/"*.vhd | head -n 1)
# the first pack starts right after the 4 KiB superblock; hit its first blob
python3 - "$c" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096 + 1000)
    b = f.read(1)
    f.seek(4096 + 1000)
    f.write(bytes([b[0] ^ 0x40]))
PY
expect_exit 4 ofs --json restore latest --repo "$T/repo" --target "$T/rst"
assert_contains "$T/err" "damaged"
python3 - "$T/out" <<'PY' || fail "summary does not list exactly one damaged file"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["type"] == "summary" and s["damaged"] == 1 and len(s["damaged_paths"]) == 1, s
assert s["files"] == 3, s
print(s["damaged_paths"][0])
PY
ok=0
for i in 1 2 3 4; do
	if [ -e "$T/rst$T/src/f$i" ]; then
		cmp "$T/src/f$i" "$T/rst$T/src/f$i" || fail "f$i restored with wrong content"
		ok=$((ok + 1))
	fi
done
[ "$ok" = 3 ] || fail "expected 3 intact files, found $ok"
ls "$OFFSEED_STATE"/*/logs/restore-*-skipped.tsv >/dev/null 2>&1 || fail "no damaged list written"
echo ok
