#!/bin/bash
# Backups before the import completed (SPEC §10): the first backup to the empty cloud
# location uploads the staging repository's metadata, not the seed containers. snapshots marks those snapshots "pending seed SET", restore from the
# cloud exits 1 naming the set and, once prep has run, its job (not damage), restore from the staging repo works; once the
# containers arrive everything reads.
. "$(dirname "$0")/75-cloud-lib.sh"
az_start

mkdir -p "$T/src"
for i in 1 2; do head -c $((5 * 1048576)) /dev/urandom >"$T/src/r$i"; done
seq 1 50000 >"$T/src/text"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://devstoreaccount1/backups/srv01
expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 16M "$T/src"
set=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["seed_set"])' "$T/out")
[ ${#set} = 32 ] || fail "no seed set in the stage summary: $(cat "$T/out")"
expect_exit 0 ofs snapshots --repo "$T/repo"
seedsnap=$(grep -o '^[0-9a-f]\{8\}' "$T/out" | head -n 1)
R=azure://devstoreaccount1/backups/srv01
# Nothing is in the cloud yet: not a repository.
expect_exit 2 ofs snapshots --repo "$R"
assert_contains "$T/err" "is not an offseed repository"

# A backup to the cloud before the import: it first uploads the staging repository's
# metadata (found through the note the stage left in the state dir), never the containers;
# then only the change goes up. Both snapshots are pending.
head -c 200000 /dev/urandom >"$T/src/new"
meta=$(find "$T/repo/config" "$T/repo/keys" "$T/repo/index" "$T/repo/snapshots" "$T/repo/data" \
    -type f -printf '%s\n' | awk '{s += $1} END {print s}')
expect_exit 0 ofs backup --repo "$R" "$T/src"
assert_contains "$T/err" "held no repository: uploaded the metadata of staging repository '$T/repo'"
az names backups srv01 | grep -q '/containers/' && fail "containers were uploaded"
read -r nb bytes <<<"$(az usage backups srv01)"
echo "cloud before the import: $nb blobs, $bytes bytes (staging metadata $meta, change 200000)"
[ "$bytes" -le $((meta + 200000 * 105 / 100 + 262144)) ] ||
    fail "the backup stored $bytes bytes: more than the metadata and the change"
expect_exit 0 ofs backup --repo "$R" "$T/src"	# the next one finds the repository
grep -q "uploaded the metadata" "$T/err" && fail "the metadata was uploaded a second time"
expect_exit 0 ofs snapshots --repo "$R"
assert_contains "$T/out" "pending seed $set"
[ "$(grep -c "pending seed $set" "$T/out")" = 3 ] || fail "all snapshots must be pending: $(cat "$T/out")"
expect_exit 0 ofs --json snapshots --repo "$R"
assert_contains "$T/out" "\"pending_seed\":\"$set\""
# the local staging repo has its containers: nothing pending there
expect_exit 0 ofs snapshots --repo "$T/repo"
grep -q "pending" "$T/out" && fail "the staging repo shows a pending seed"

# Another machine (no state): the staging repository must be named; one for another
# destination is refused; the right one works.
R2=azure://devstoreaccount1/backups/srv02
OFFSEED_STATE="$T/state2" expect_exit 2 ofs backup --repo "$R2" "$T/src"
assert_contains "$T/err" "give --seed-from STAGING"
OFFSEED_STATE="$T/state2" expect_exit 2 ofs backup --repo "$R2" --seed-from "$T/repo" "$T/src"
assert_contains "$T/err" "is for 'azure://devstoreaccount1/backups/srv01', not '$R2'"
expect_exit 2 ofs stage --repo "$T/repo" --seed-from "$T/repo" "$T/src"
assert_contains "$T/err" "--seed-from is an option of backup"
OFFSEED_STATE="$T/state2" expect_exit 0 ofs snapshots --repo "$R"
[ "$(grep -c "pending seed $set" "$T/out")" = 3 ] || fail "a fresh state sees other snapshots: $(cat "$T/out")"

# Restore from the cloud: a clear refusal naming the set, exit 1, not damage (exit 4). Before
# prep no job is known here; prep records the job of the set, and the refusal names it.
expect_exit 1 ofs restore latest --repo "$R" --target "$T/r0"
assert_contains "$T/err" "seed containers of set $set are not in the cloud yet (import job unknown here pending"
mkdir -p "$T/d1"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --job seed-srv01
expect_exit 1 ofs restore latest --repo "$R" --target "$T/r0"
assert_contains "$T/err" "seed containers of set $set are not in the cloud yet (import job 'seed-srv01' pending"
assert_contains "$T/err" "staging repo or the disks"
grep -qi "damaged" "$T/err" && fail "a pending seed was reported as damage"
expect_exit 1 ofs restore "$seedsnap" --repo "$R" --target "$T/r0b"
assert_contains "$T/err" "$set"
# From the staging repo the seed snapshot restores.
expect_exit 0 ofs restore "$seedsnap" --repo "$T/repo" --target "$T/r1"
for f in r1 r2 text; do cmp "$T/src/$f" "$T/r1$T/src/$f" || fail "$f differs (staging restore)"; done
# check: the structure is whole (exit 0); reading the data cannot finish yet, which is not
# damage either (exit 1 naming the set, no finding)
expect_exit 0 ofs check --repo "$R"
expect_exit 1 ofs check --read-data --repo "$R"
assert_contains "$T/err" "packs not checked: the seed containers of set $set are not in the cloud yet"
grep -qi "damaged\|^blob\|^pack" "$T/out" && fail "check reported a pending seed as damage: $(cat "$T/out")"

# The import completes: nothing is pending and the cloud restores everything.
az put-repo "$T/repo" backups srv01 || fail "cannot upload the containers"
expect_exit 0 ofs snapshots --repo "$R"
grep -q "pending" "$T/out" && fail "still pending after the import: $(cat "$T/out")"
expect_exit 0 ofs restore latest --repo "$R" --target "$T/r2"
diff -r "$T/src" "$T/r2$T/src" || fail "restore from the cloud after the import differs"
expect_exit 0 ofs check --read-data --repo "$R"
echo ok
