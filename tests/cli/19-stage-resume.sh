#!/bin/bash
# kill -9 at a random moment during stage; the rerun resumes from the last checkpoint (it
# reads less than everything again), and the result verifies and restores identically.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src"
for i in $(seq 1 40); do head -c $((16 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo"
total=$(du -sb "$T/src" | cut -f1)

# run the binary itself in the background, so $! is the process we kill
"$OFFSEED" --passphrase-file "$PASS" --no-progress stage --threads 1 --repo "$T/repo" \
    --container-size 96M --checkpoint-bytes 32M "$T/src" >"$T/run1.out" 2>&1 &
pid=$!
# wait until at least one checkpoint exists, then a random extra moment
for _ in $(seq 1 200); do
	[ -n "$(find "$T/state" -name stage.journal 2>/dev/null)" ] && break
	sleep 0.05
done
sleep "0.$((RANDOM % 5))"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if ! [ -n "$(find "$T/state" -name stage.journal)" ]; then
	cat "$T/run1.out"
	fail "the first run finished before it could be killed (no journal)"
fi

expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 96M --checkpoint-bytes 32M "$T/src"
python3 - "$T/out" "$total" <<'PY' || fail "the rerun did not resume"
import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["resumed"] is True, s
assert s["bytes_read"] < int(sys.argv[2]), ("read everything again", s)
PY
[ -z "$(find "$T/state" -name stage.journal)" ] || fail "journal left after a complete stage"
[ -z "$(ls -A "$T/repo/containers" | grep partial)" ] || fail "partial container left behind"
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/out-tree"
diff -r "$T/src" "$T/out-tree$T/src" || fail "restored tree differs"
echo ok
