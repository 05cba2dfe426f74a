#!/bin/bash
# forget (retention rules, --dry-run, --json kept/removed) and prune: a container with no used
# blob is deleted, a mostly-unused loose pack is repacked, old index files are replaced,
# check --read-data is clean afterwards and the kept snapshot restores identically.
. "$(dirname "$0")/lib.sh"
need python3
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
js() { python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$T/out" "$1"; }

mkdir -p "$T/a" "$T/b/sub"
for i in 1 2 3; do head -c 2000000 /dev/urandom >"$T/a/a$i"; done
head -c 7000000 /dev/urandom >"$T/b/big"
head -c 1500000 /dev/urandom >"$T/b/keep"
echo small >"$T/b/sub/s"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 64M "$T/a"
ls "$T/repo/containers/"*.vhd >/dev/null 2>&1 || fail "stage wrote no container"
expect_exit 0 ofs backup --repo "$T/repo" "$T/b"
rm "$T/b/big"
echo new >"$T/b/sub/new"
expect_exit 0 ofs backup --repo "$T/repo" "$T/b"
expect_exit 0 ofs --json snapshots --repo "$T/repo"
[ "$(js 'd["count"]')" = 3 ] || fail "expected 3 snapshots"
newest=$(js 'd["snapshots"][-1]["id"]')

# usage errors and a wrong passphrase
expect_exit 0 ofs forget --help
assert_contains "$T/out" "usage: offseed forget"
expect_exit 0 ofs prune --help
expect_exit 2 ofs forget --repo "$T/repo"
assert_contains "$T/err" "no --keep-* rule"
expect_exit 2 ofs forget --repo "$T/repo" --keep-last x
expect_exit 2 ofs forget --repo "$T/repo" --keep-last -1
expect_exit 2 ofs prune --repo "$T/repo" extra
printf 'not the right passphrase\n' >"$T/bad"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" forget --repo "$T/repo" --keep-last 1
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" --json prune --repo "$T/repo"
assert_contains "$T/out" '"type":"error"'

# dry run: reports, changes nothing; all three were taken today, so --keep-daily 1 keeps one
find "$T/repo" -type f | sort >"$T/files0"
expect_exit 0 ofs --json forget --repo "$T/repo" --keep-daily 1 --dry-run
[ "$(js 'd["kept"]')" = "['$newest']" ] || fail "keep-daily 1 should keep only the newest: $(cat "$T/out")"
[ "$(js 'len(d["removed"])')" = 2 ] || fail "keep-daily 1 should remove 2"
expect_exit 0 ofs --json forget --repo "$T/repo" --keep-last 2 --dry-run
[ "$(js 'len(d["kept"])')" = 2 ] || fail "keep-last 2 should keep 2"
expect_exit 0 ofs --json prune --repo "$T/repo" --dry-run
[ "$(js 'd["packs_deleted"]')" = 0 ] || fail "prune found unused packs with every snapshot alive"
find "$T/repo" -type f | sort >"$T/files1"
cmp -s "$T/files0" "$T/files1" || fail "--dry-run changed the repository"

# forget the two older snapshots and prune
expect_exit 0 ofs --json forget --repo "$T/repo" --keep-last 1 --prune
[ "$(js 'd["kept"]')" = "['$newest']" ] || fail "forget kept the wrong snapshot: $(cat "$T/out")"
[ "$(js 'd["prune"]["containers_deleted"]')" = 1 ] || fail "the stage container was not deleted: $(cat "$T/out")"
[ "$(js 'd["prune"]["packs_repacked"]')" -ge 1 ] || fail "the mostly-unused pack was not repacked: $(cat "$T/out")"
[ "$(js 'd["prune"]["index_files_written"]')" = 1 ] || fail "no new index file"
ls "$T/repo/containers/"*.vhd >/dev/null 2>&1 && fail "the unused container is still there"
[ "$(ls "$T/repo/snapshots" | wc -l)" = 1 ] || fail "forget left $(ls "$T/repo/snapshots" | wc -l) snapshots"
[ "$(ls "$T/repo/index" | wc -l)" = 1 ] || fail "old index files were not removed"
# the repository shrank below the remaining data + slack (big: 7 MB, a*: 6 MB gone)
used=$(du -sb --apparent-size "$T/repo/data" | cut -f1)
[ "$used" -lt 3000000 ] || fail "data/ still holds $used bytes after prune"

expect_exit 0 ofs check --repo "$T/repo" --read-data
# the staging manifest follows the removed snapshots, index files and container
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/rst"
diff -r "$T/b" "$T/rst$T/b" || fail "the kept snapshot restores differently after prune"

# a second prune has nothing left to do
expect_exit 0 ofs --json prune --repo "$T/repo"
[ "$(js 'd["packs_deleted"] + d["packs_repacked"] + d["containers_deleted"]')" = 0 ] ||
    fail "second prune still found work: $(cat "$T/out")"
expect_exit 0 ofs check --repo "$T/repo" --read-data

# a container still partly used is kept (never rewritten); its unused bytes are reported
mkdir -p "$T/c"
for i in 1 2 3; do head -c 2000000 /dev/urandom >"$T/c/c$i"; done
expect_exit 0 ofs init --repo "$T/repo2"
expect_exit 0 ofs stage --repo "$T/repo2" --container-size 64M "$T/c"
sha256sum "$T/repo2/containers/"*.vhd >"$T/vhd-before"
rm "$T/c/c1"
expect_exit 0 ofs backup --repo "$T/repo2" "$T/c"

# the lock: a live holder → 6, nothing removed
sleep 300 & holder=$!
printf '{"host":"%s","pid":%d,"started":"2026-11-22T06:00:00Z","command":"stage"}' \
    "$(hostname)" "$holder" >"$T/repo2/locks/lock"
expect_exit 6 ofs forget --repo "$T/repo2" --keep-last 1
expect_exit 6 ofs prune --repo "$T/repo2"
kill $holder; wait $holder 2>/dev/null
rm -f "$T/repo2/locks/lock"
[ "$(ls "$T/repo2/snapshots" | wc -l)" = 2 ] || fail "a locked forget removed snapshots"

expect_exit 0 ofs --json forget --repo "$T/repo2" --keep-last 1 --prune
[ "$(js 'd["prune"]["containers_deleted"]')" = 0 ] || fail "a used container was deleted"
[ "$(js 'd["prune"]["containers_kept"]')" = 1 ] || fail "containers_kept: $(cat "$T/out")"
[ "$(js 'd["prune"]["container_bytes_reclaimable"]')" -ge 1900000 ] ||
    fail "reclaimable bytes of the container not reported: $(cat "$T/out")"
sha256sum -c --quiet "$T/vhd-before" || fail "prune rewrote a sealed container"
expect_exit 0 ofs check --repo "$T/repo2" --read-data
expect_exit 0 ofs verify "$T/repo2"
expect_exit 0 ofs restore latest --repo "$T/repo2" --target "$T/rst2"
diff -r "$T/c" "$T/rst2$T/c" || fail "restore after prune (repo2) differs"
echo ok
