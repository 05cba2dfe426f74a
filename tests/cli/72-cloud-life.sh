#!/bin/bash
# The life of a cloud repository (Azurite): stage, the import puts the repository into blob
# storage, then backups go to azure://… directly and upload only new packs (growth measured
# by listing the blobs), restore from the cloud equals the source, check --read-data is clean.
. "$(dirname "$0")/75-cloud-lib.sh"
az_start

mkdir -p "$T/src/docs" "$T/src/bin"
for i in $(seq 1 30); do seq 1 $((i * 2000)) >"$T/src/docs/f$i.txt"; done
for i in 1 2 3; do head -c $((7 * 1048576)) /dev/urandom >"$T/src/bin/r$i"; done
head -c 100000 /dev/urandom >"$T/src/bin/small"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
az put-repo "$T/repo" backups srv01 || fail "cannot upload the staged repository"
R=azure://devstoreaccount1/backups/srv01
[ "$(az names backups srv01 | grep -c '^srv01/containers/.*\.vhd$')" -ge 2 ] ||
    fail "the staged repository has fewer than 2 containers"

expect_exit 0 ofs snapshots --repo "$R"
[ "$(grep -c '^[0-9a-f]\{8\} ' "$T/out")" = 1 ] || fail "snapshots from the cloud: $(cat "$T/out")"
! grep -q "pending seed" "$T/out" || fail "an imported snapshot is shown pending"

# ~1% change: a new 200 KB file, a small file rewritten, a text file appended, a deletion.
head -c 200000 /dev/urandom >"$T/src/bin/new"
head -c 100000 /dev/urandom >"$T/src/bin/small"
printf 'appended line\n' >>"$T/src/docs/f3.txt"
rm "$T/src/docs/f7.txt"
changed=$((200000 + 100000 + $(stat -c %s "$T/src/docs/f3.txt")))
read -r n0 b0 <<<"$(az usage backups srv01)"
expect_exit 0 ofs --json backup --repo "$R" "$T/src"
read -r n1 b1 <<<"$(az usage backups srv01)"
grown=$((b1 - b0))
# the catalog of the stage (state dir keyed by repository id) is reused: unchanged files are
# not read again
read_b=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["bytes_read"])' "$T/out")
[ "$read_b" -lt 1048576 ] || fail "the cloud backup read $read_b bytes: the stage catalog was not reused"
echo "first backup: $((n1 - n0)) blobs, $grown bytes for $changed changed bytes"
[ $grown -gt 300000 ] || fail "the backup stored only $grown bytes: the change is missing"
[ $grown -le $((changed * 105 / 100 + 1048576)) ] ||
    fail "the 1% change grew the cloud repository by $grown bytes ($changed changed)"
az names backups srv01 >"$T/names1"
[ "$(grep -c '/containers/' "$T/names1")" = "$(find "$T/repo/containers" -name '*.vhd' | wc -l)" ] ||
    fail "the backup changed the seed containers"
[ "$(grep -c '^srv01/data/' "$T/names1")" -ge 1 ] || fail "no loose pack was uploaded"
grep -q '^srv01/locks/' "$T/names1" && fail "a lock was left in the cloud"
expect_exit 0 ofs snapshots --repo "$R"
[ "$(grep -c '^[0-9a-f]\{8\} ' "$T/out")" = 2 ] || fail "snapshots after the backup: $(cat "$T/out")"

expect_exit 0 ofs restore latest --repo "$R" --target "$T/r1"
diff -r "$T/src" "$T/r1$T/src" || fail "restore of the latest backup from the cloud differs"

# A second incremental: only the new file's data goes up.
head -c 300000 /dev/urandom >"$T/src/docs/new2"
expect_exit 0 ofs --json backup --repo "$R" "$T/src"
read -r n2 b2 <<<"$(az usage backups srv01)"
grown=$((b2 - b1))
echo "second backup: $((n2 - n1)) blobs, $grown bytes"
[ $grown -gt 300000 ] && [ $grown -le $((300000 * 105 / 100 + 1048576)) ] ||
    fail "the second backup grew the cloud repository by $grown bytes for 300000 new"
expect_exit 0 ofs restore latest --repo "$R" --target "$T/r2"
diff -r "$T/src" "$T/r2$T/src" || fail "restore of the second backup from the cloud differs"
expect_exit 0 ofs check --repo "$R" --read-data
echo ok
