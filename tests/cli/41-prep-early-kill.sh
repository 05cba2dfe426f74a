#!/bin/bash
# kill -9 of prep before its first container is finished (SPEC §18): the killed run leaves
# temporary copies on the disks, which `verify` counts as unlisted. The rerun removes them and
# says so, and the finished set verifies and restores. Leftovers of a crash at the other
# moments are planted as the crash leaves them: a job draft half-written in STAGING/jobs/, a
# disk manifest's temp file, and a journal line torn by a power cut (the next record must not
# be glued to it and lost: the file would be hashed again on every later run).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/disks.sh"
need python3
mount_disks 2 64m
mkdir -p "$T/src"
for i in $(seq 1 8); do head -c $((9 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box/srv01
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
disks=(--disk "$T/d1" --serial "$T/d1=TEST-SERIAL-1" --disk "$T/d2" --serial "$T/d2=TEST-SERIAL-2")
json() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$T/out" "$1"; }

# killed as soon as the first container copy is under way (slowed to 10 MB/s per disk)
"$OFFSEED" --passphrase-file "$PASS" --no-progress prep --repo "$T/repo" "${disks[@]}" \
    --job seed-srv01 --limit-rate 10M >"$T/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 1000); do
	[ -n "$(find "$T/d1" "$T/d2" -name '*.vhd.offseed-tmp' 2>/dev/null)" ] && break
	sleep 0.005
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$(find "$T/d1" "$T/d2" -name '*.vhd.offseed-tmp')" ] ||
    { cat "$T/run1.out"; fail "the killed run left no unfinished copy to test with"; }
[ -z "$(find "$T/d1" "$T/d2" -name '*.vhd')" ] || fail "a container was finished before the kill"
journal=$(find "$T/state" -name prep.journal)
! grep -q 'PageBlob/' "$journal" 2>/dev/null || fail "a container was recorded before the kill"
expect_exit 4 ofs verify "$T/d1" "$T/d2"	# what the dead run left does not verify

expect_exit 0 ofs prep --repo "$T/repo" "${disks[@]}" --job seed-srv01
assert_contains "$T/err" "an unfinished copy left by an interrupted prep"
[ -z "$(find "$T/d1" "$T/d2" -name '*.offseed-tmp' -o -name '*.tmp-*')" ] ||
    fail "temp files left after the rerun"
expect_exit 0 ofs verify "$T/d1" "$T/d2"
assert_contains "$T/out" "no problems"
expect_exit 0 ofs restore latest --repo "disks:$T/d1,$T/d2" --target "$T/out-tree"
diff -r "$T/src" "$T/out-tree$T/src" || fail "restored tree differs"

# a crash while the job draft or a disk manifest was written, and a journal whose only line
# was torn (the rerun re-hashes every file on the disks and records each again)
printf '{"half":' >"$T/repo/jobs/seed-srv01.json.tmp-Ab12Cd"
printf '{"half":' >"$T/d2/offseed-manifest.json.tmp-Ef34Gh"
vhd=$(find "$T/d1" -name '*.vhd' | head -n 1)
rm "$vhd"
printf 'done\tTEST-SERIAL-1\t1677' >"$journal"	# torn while the first record was appended
expect_exit 0 ofs --json prep --repo "$T/repo" "${disks[@]}" --job seed-srv01
assert_contains "$T/err" "an unfinished job draft left by an interrupted prep"
assert_contains "$T/err" "an unfinished manifest or id file left by an interrupted prep"
assert_contains "$T/err" "unfinished last line of the prep journal"
[ "$(json files_copied)" = 1 ] || fail "the rerun did not copy exactly the missing container"
[ ! -e "$T/repo/jobs/seed-srv01.json.tmp-Ab12Cd" ] || fail "temp job draft left"
[ ! -e "$T/d2/offseed-manifest.json.tmp-Ef34Gh" ] || fail "temp manifest left"
expect_exit 0 ofs verify "$T/d1" "$T/d2"
# the copy made after the torn line is recorded: nothing is hashed or copied again
expect_exit 0 ofs --json prep --repo "$T/repo" "${disks[@]}" --job seed-srv01
[ "$(json bytes_copied)" = 0 ] || fail "a finished set was copied again: $(cat "$T/out")"
[ "$(json bytes_rehashed)" = 0 ] || fail "the record appended after the torn journal line was lost"
expect_exit 0 ofs verify "$T/d1" "$T/d2"
echo ok
