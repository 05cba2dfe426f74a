#!/bin/bash
# kill -9 of stage before its first checkpoint (SPEC §18): the killed run leaves an
# unfinished container and no journal. The rerun removes it and says so, the finished
# repository verifies with no unlisted file, and it restores identically.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src"
for i in $(seq 1 12); do head -c $((16 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo"

"$OFFSEED" --passphrase-file "$PASS" --no-progress stage --threads 1 --repo "$T/repo" \
    --container-size 512M "$T/src" >"$T/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 400); do
	ls -A "$T/repo/containers" 2>/dev/null | grep -q '\.partial$' && break
	sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
ls -A "$T/repo/containers" | grep -q '\.partial$' ||
    { cat "$T/run1.out"; fail "the killed run left no unfinished container to test with"; }
[ -z "$(find "$T/state" -name stage.journal)" ] || fail "the run was killed after a checkpoint"

expect_exit 0 ofs stage --repo "$T/repo" --container-size 512M "$T/src"
assert_contains "$T/err" "interrupted before its first checkpoint"
[ -z "$(ls -A "$T/repo/containers" | grep partial)" ] || fail "unfinished container left behind"
expect_exit 0 ofs verify "$T/repo"
assert_contains "$T/out" "no problems"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/out-tree"
diff -r "$T/src" "$T/out-tree$T/src" || fail "restored tree differs"

# what a kill during an atomic write leaves (index files, snapshots, the manifest): the next
# run removes it and says so, and nothing of it stays in the repository
: >"$T/repo/index/$(printf '%064d' 7).tmp-Ab12Cd"
: >"$T/repo/snapshots/$(printf '%064d' 8).tmp-Zz9999"
: >"$T/repo/offseed-manifest.json.tmp-X9MgeB"
echo more >"$T/src/more"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
assert_contains "$T/err" "a file an interrupted run was writing"
[ -z "$(find "$T/repo" -name '*.tmp-*')" ] || fail "temporary files left: $(find "$T/repo" -name '*.tmp-*')"
expect_exit 0 ofs verify "$T/repo"
echo ok

