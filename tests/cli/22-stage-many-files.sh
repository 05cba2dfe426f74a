#!/bin/bash
# Memory of a stage does not grow with the number of files in its journal and containers
# (SPEC §17): a container holds a bounded number of blobs, a checkpoint comes at least every
# so many files, and a journal rewrite is cut into segments of a bounded number of records.
# The bounds are small here (OFFSEED_TEST_STAGE_LIMITS, a test knob) so a few thousand files
# cross each of them; a run killed after several checkpoints resumes, and the result
# verifies, checks and restores identically.
. "$(dirname "$0")/lib.sh"
need python3
mkdir -p "$T/src/a-small" "$T/src/z-big"
python3 - "$T/src/a-small" <<'PY'
import os, random, sys
r = random.Random(22)
for d in range(12):
    os.makedirs(os.path.join(sys.argv[1], "d%02d" % d))
    for i in range(300):
        with open(os.path.join(sys.argv[1], "d%02d" % d, "f%04d" % i), "wb") as f:
            f.write(r.randbytes(r.randint(1, 3000)))
PY
for i in $(seq 1 30); do head -c $((8 * 1048576)) /dev/urandom >"$T/src/z-big/b$i"; done
expect_exit 0 ofs init --repo "$T/repo"
export OFFSEED_TEST_STAGE_LIMITS=100,500,300	# records per rewrite segment, blobs per
						# container, files per checkpoint

segments() {	# JOURNAL: its segment count
	python3 - "$1" <<'PY'
import struct, sys
try:
    d = open(sys.argv[1], "rb").read()
except FileNotFoundError:
    print(0); sys.exit()
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
    --container-size 64M "$T/src" >"$T/run1.out" 2>&1 &
pid=$!
j=""
for _ in $(seq 1 400); do
	j=$(find "$T/state" -name stage.journal 2>/dev/null | head -n1)
	[ -n "$j" ] && [ "$(segments "$j")" -ge 4 ] && break
	sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$j" ] && [ -f "$j" ] || { cat "$T/run1.out"; fail "the first run left no journal"; }
n=$(segments "$j")
[ "$n" -ge 4 ] || fail "expected several journal segments (a rewrite of 100 records each), found $n"

echo "check: the rerun resumes and completes"
expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 64M "$T/src"
python3 - "$T/out" <<'PY' || fail "the rerun did not resume"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["type"] == "summary" and s.get("resumed") in (True, 1), s
PY
nc=$(ls "$T/repo/containers" | wc -l)
[ "$nc" -ge 8 ] || fail "3600 small files in $nc containers: the 500-blob bound was not applied"
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r"
diff -r "$T/src" "$T/r$T/src" || fail "the restored tree differs"

echo "check: a backup of the same tree with the same bounds reads nothing again"
expect_exit 0 ofs --json backup --repo "file:$T/repo" "$T/src"
python3 - "$T/out" <<'PY' || fail "the backup read unchanged files"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["bytes_read"] == 0, s
PY
echo "22-stage-many-files: ok"
