#!/bin/bash
# prep's refusals: two disks with the same serial (exit 2), no destination, bad or missing
# options, a disk of another seed set, an unstaged repository; the staging repo is locked
# while prep runs (exit 6); --serial MNT=SERIAL ends up in the manifests and job draft.
. "$(dirname "$0")/lib.sh"
need python3
mkdir -p "$T/src" "$T/d1" "$T/d2"
trap 'for d in d1 d2; do umount "$T/$d" 2>/dev/null; done; rm -rf "$T"' EXIT
for d in d1 d2; do
	mount -t tmpfs -o size=32m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
head -c $((20 * 1048576)) /dev/urandom >"$T/src/big"
echo small >"$T/src/small"

expect_exit 0 ofs prep --help
assert_contains "$T/out" "usage: offseed prep"
assert_contains "$T/out" "--serial MNT=SERIAL"

expect_exit 0 ofs init --repo "$T/nodest"
expect_exit 0 ofs stage --repo "$T/nodest" --container-size 16M "$T/src"
expect_exit 2 ofs prep --repo "$T/nodest" --disk "$T/d1" --job seed-x01
assert_contains "$T/err" "repository has no destination: create it with 'offseed init --dest azure://ACCOUNT/CONTAINER/PREFIX'"

expect_exit 0 ofs init --repo "$T/unstaged" --dest azure://acct01/seed-box
expect_exit 2 ofs prep --repo "$T/unstaged" --disk "$T/d1" --job seed-x01
assert_contains "$T/err" "offseed stage"

expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box/p1
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --serial "$T/d1=SN-1" \
    --serial "$T/d2=SN-1" --job seed-x01
assert_contains "$T/err" "same serial 'SN-1'"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1" --job seed-x01 --serial "$T/d1=bad serial"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1" --job seed-x01 --serial "$T/nowhere=SN-1"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d1/" --job seed-x01
assert_contains "$T/err" "given twice"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1"
assert_contains "$T/err" "--job"
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/d1" --job 'x'
expect_exit 2 ofs prep --repo "$T/repo" --job seed-x01
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/missing" --job seed-x01
expect_exit 2 ofs prep --repo "$T/repo" --disk "$T/repo" --job seed-x01
[ -z "$(find "$T/d1" "$T/d2" -mindepth 1)" ] || fail "a refused prep wrote to a disk"

# the repository is locked while prep runs
"$OFFSEED" --passphrase-file "$PASS" --no-progress prep --repo "$T/repo" --disk "$T/d1" \
    --disk "$T/d2" --serial "$T/d1=SN-1" --serial "$T/d2=SN-2" --job seed-x01 \
    --limit-rate 8M >"$T/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -e "$T/repo/locks/lock" ] && break; sleep 0.02; done
expect_exit 6 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-x01
assert_contains "$T/err" "locked by prep"
wait $pid || { cat "$T/run1.out"; fail "the first prep failed"; }
python3 - "$T" <<'PY' || fail "serials from --serial are not used"
import json, os, sys
T = sys.argv[1]
for i, d in ((1, "d1"), (2, "d2")):
    m = json.load(open(os.path.join(T, d, "offseed-manifest.json")))
    assert m["disk"]["serial"] == "SN-%d" % i, m["disk"]
    assert not os.path.exists(os.path.join(T, d, ".offseed-disk-id"))
draft = json.load(open(os.path.join(T, "repo", "jobs", "seed-x01.json")))
assert sorted(draft["properties"]["details"]["importDiskDetailsCollection"]) == ["SN-1", "SN-2"]
PY

# switching a disk from its id file to --serial removes the stale id file (verify compares it)
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-x01
[ -s "$T/d1/.offseed-disk-id" ] || fail "no id file for a disk without a serial"
expect_exit 0 ofs verify "$T/d1" "$T/d2"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --serial "$T/d1=SN-1" \
    --serial "$T/d2=SN-2" --job seed-x01
[ ! -e "$T/d1/.offseed-disk-id" ] || fail "a stale id file was left"
expect_exit 0 ofs verify "$T/d1" "$T/d2"

# a disk that holds another seed set is refused
expect_exit 0 ofs init --repo "$T/other" --dest azure://acct01/seed-box
expect_exit 0 ofs stage --repo "$T/other" "$T/src/small"
expect_exit 2 ofs prep --repo "$T/other" --disk "$T/d1" --job seed-x02
assert_contains "$T/err" "another seed set"
echo ok
