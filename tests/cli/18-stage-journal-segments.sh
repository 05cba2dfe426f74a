#!/bin/bash
# The stage journal grows by one sealed segment per checkpoint instead of being rewritten
# (FORMAT.md 16.1). A run killed after several checkpoints leaves several segments and no
# source name in clear; a byte flipped in an earlier segment stops the rerun (exit 4,
# "delete it to start over"); a last segment cut short by the crash is dropped with a
# warning, and the rerun resumes from the one before, verifies and restores identically.
# While it runs, the catalog lives in an unnamed file of the state dir (mapped shared), so
# a large seed's catalog need not stay in RAM.
. "$(dirname "$0")/lib.sh"
need python3
src="$T/src/journal-marker-5f1d"
mkdir -p "$src"
for i in $(seq 1 40); do head -c $((8 * 1048576)) /dev/urandom >"$src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo"
total=$(du -sb "$T/src" | cut -f1)

segments() {	# JOURNAL: its segment count (a torn last one not counted), -1 if not v4
	python3 - "$1" <<'PY'
import struct, sys
try:
    d = open(sys.argv[1], "rb").read()
except FileNotFoundError:
    print(0); sys.exit()
if d[:8] != b"OFSJSEG1":
    print(-1); sys.exit()
off, n = 8, 0
while off + 8 <= len(d):
    (ln,) = struct.unpack_from("<Q", d, off)
    if off + 8 + ln > len(d):
        break
    off += 8 + ln; n += 1
print(n)
PY
}

"$OFFSEED" --passphrase-file "$PASS" --no-progress stage --threads 1 --repo "$T/repo" \
    --container-size 96M --checkpoint-bytes 16M "$T/src" >"$T/run1.out" 2>&1 &
pid=$!
j="" backed=0
for _ in $(seq 1 400); do
	# the catalog's pool: a shared mapping of an unnamed file in the state dir
	grep -qE " rw-s .*$T/state/.*\(deleted\)" /proc/$pid/maps 2>/dev/null && backed=1
	j=$(find "$T/state" -name stage.journal 2>/dev/null | head -n1)
	[ -n "$j" ] && [ "$(segments "$j")" -ge 3 ] && break
	sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$j" ] && [ -f "$j" ] || { cat "$T/run1.out"; fail "the first run left no journal"; }
n=$(segments "$j")
[ "$n" -ge 3 ] || fail "expected 3 or more journal segments, found $n"
[ "$backed" = 1 ] || fail "the catalog is not kept in a file of the state dir (/proc/PID/maps)"
if grep -qaF "journal-marker-5f1d" "$j"; then fail "a source path is in clear in the journal"; fi
cp "$j" "$T/journal.good"

# a byte flipped in the first segment: corruption, not a torn tail
python3 - "$j" <<'PY'
import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read())
d[8 + 8 + 40] ^= 0x01
open(p, "wb").write(d)
PY
expect_exit 4 ofs stage --repo "$T/repo" --container-size 96M --checkpoint-bytes 16M "$T/src"
assert_contains "$T/err" "delete it to start over"
cp "$T/journal.good" "$j"

# the last segment cut short, as by a crash during its append
size=$(stat -c %s "$j")
truncate -s $((size - 10)) "$j"
[ "$(segments "$j")" = $((n - 1)) ] || fail "truncation did not tear the last segment"
expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 96M --checkpoint-bytes 16M "$T/src"
assert_contains "$T/err" "cut short by the interruption"
python3 - "$T/out" "$total" <<'PY' || fail "the rerun did not resume"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["resumed"] is True, s
assert s["bytes_read"] < int(sys.argv[2]), ("read everything again", s)
PY
[ -z "$(find "$T/state" -name stage.journal)" ] || fail "journal left after a complete stage"
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/out-tree"
diff -r "$T/src" "$T/out-tree$T/src" || fail "restored tree differs"
echo ok
