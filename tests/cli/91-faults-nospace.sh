#!/bin/bash
# Faults from the machine (SPEC §18), part 2: ENOSPC on each write path (a container, a
# loose pack, an index file, a snapshot, the journal, the state dir's skipped list, a prep
# disk, a restore target) ends the run with exit 9; fsync/fdatasync failing ends it with
# exit 1, never success, and commits nothing. After each, the repository still verifies
# (keyless verify and check --read-data) and the same command without the fault completes;
# the result restores identically. Injected by the project's shim into the real binaries.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fault/fault.sh"

mkdir -p "$T/src/sub"
for i in 1 2 3 4; do head -c 9000000 /dev/urandom >"$T/src/big$i"; done
for i in $(seq 1 30); do seq 1 $((i * 100)) >"$T/src/sub/s$i.txt"; done
expect_exit 0 ofs init --repo "$T/init" --dest azure://acct01/seed-box
cp -a "$T/init" "$T/init0"
nsnaps() { ls "$1/snapshots" | wc -l; }
# healthy REPO: verifies keyless and keyed
healthy() {
	expect_exit 0 ofs verify "$1"
	expect_exit 0 ofs check --repo "$1" --read-data
}
# same REPO SNAP-DIR: the latest snapshot restores equal to the source
same() {
	rm -rf "$T/r"
	expect_exit 0 ofs restore latest --repo "$1" --target "$T/r"
	diff -r "$T/src" "$T/r$T/src" || fail "$2: the restored tree differs from the source"
}
# stage_case WANT WHAT ENV…: a fresh repository, stage with the fault (exit WANT), then it
# verifies, the rerun completes and restores
stage_case() {
	local want=$1 what=$2; shift 2
	echo "check: stage, $what → exit $want; verifies; rerun completes"
	rm -rf "$T/repo" "$T/state"
	cp -a "$T/init0" "$T/repo"
	expect_exit "$want" ofs_f "$@" -- stage --repo "$T/repo" --container-size 16M \
	    --checkpoint-bytes 4M "$T/src"
	check_fault "stage, $what"
	[ "$want" != 9 ] || assert_contains "$T/err" "No space left on device"
	[ "$(nsnaps "$T/repo")" = 0 ] || fail "stage, $what: a snapshot was committed"
	healthy "$T/repo"
	expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M --checkpoint-bytes 4M "$T/src"
	healthy "$T/repo"
	same "$T/repo" "stage, $what"
}
NOSPC=(OFS_FAULT_ERRNO=ENOSPC)
stage_case 9 "ENOSPC in the second container" "${NOSPC[@]}" "OFS_FAULT_PATH=*/containers/*" \
    OFS_FAULT_AFTER=20000000
stage_case 9 "ENOSPC on the journal" "${NOSPC[@]}" "OFS_FAULT_PATH=*/stage.journal*"
stage_case 9 "ENOSPC on an index file" "${NOSPC[@]}" "OFS_FAULT_PATH=*/repo/index/*"
stage_case 1 "fdatasync of a container failing" OFS_FAULT_OPS=fsync,fdatasync \
    "OFS_FAULT_PATH=*/containers/*"
stage_case 1 "fdatasync of the journal failing" OFS_FAULT_OPS=fsync,fdatasync \
    "OFS_FAULT_PATH=*/stage.journal*"
stage_case 1 "fsync of an index file failing" OFS_FAULT_OPS=fsync "OFS_FAULT_PATH=*/index/*"
stage_case 1 "fsync of the containers folder failing" OFS_FAULT_OPS=fsync \
    "OFS_FAULT_PATH=*/repo/containers"
stage_case 9 "ENOSPC on the snapshot" "${NOSPC[@]}" "OFS_FAULT_PATH=*/repo/snapshots/*"
cp -a "$T/repo" "$T/seeded"
cp -a "$T/state" "$T/seeded-state"

# backup: changed and new files, so there are loose packs, index files, a snapshot
for i in 1 2 3 4; do head -c 9000000 /dev/urandom >"$T/src/new$i"; done	# > one 32 MiB pack
seq 1 5000 >>"$T/src/sub/s4.txt"
backup_case() {
	local want=$1 what=$2; shift 2
	echo "check: backup, $what → exit $want; verifies; rerun completes"
	rm -rf "$T/repo" "$T/state"
	cp -a "$T/seeded" "$T/repo"
	cp -a "$T/seeded-state" "$T/state"
	expect_exit "$want" ofs_f "$@" -- backup --repo "file:$T/repo" --checkpoint-bytes 4M "$T/src"
	check_fault "backup, $what"
	[ "$want" != 9 ] || assert_contains "$T/err" "No space left on device"
	[ "$(nsnaps "$T/repo")" = 1 ] || fail "backup, $what: a snapshot was committed"
	healthy "$T/repo"
	expect_exit 0 ofs backup --repo "file:$T/repo" --checkpoint-bytes 4M "$T/src"
	healthy "$T/repo"
	same "$T/repo" "backup, $what"
}
backup_case 9 "ENOSPC in a loose pack" "${NOSPC[@]}" "OFS_FAULT_PATH=*/repo/data/*" \
    OFS_FAULT_AFTER=10000000
backup_case 9 "ENOSPC on an index file" "${NOSPC[@]}" "OFS_FAULT_PATH=*/repo/index/*"
backup_case 9 "ENOSPC on the snapshot" "${NOSPC[@]}" "OFS_FAULT_PATH=*/repo/snapshots/*"
backup_case 9 "ENOSPC on the journal" "${NOSPC[@]}" "OFS_FAULT_PATH=*/backup.journal*"
backup_case 1 "fsync of a loose pack failing" OFS_FAULT_OPS=fsync,fdatasync \
    "OFS_FAULT_PATH=*/repo/data/*"
backup_case 1 "fsync of the snapshot failing" OFS_FAULT_OPS=fsync,fdatasync \
    "OFS_FAULT_PATH=*/repo/snapshots/*"
backup_case 1 "fdatasync of the journal failing" OFS_FAULT_OPS=fsync,fdatasync \
    "OFS_FAULT_PATH=*/backup.journal*"
cp -a "$T/repo" "$T/backed"


# prep onto a disk (a folder here; capacity is checked by 43-prep-nospace.sh): the disk
# fills or its syncs fail mid-copy
prep_case() {
	local want=$1 what=$2; shift 2
	echo "check: prep, $what → exit $want; rerun completes; the disk verifies"
	rm -rf "$T/disk"
	mkdir "$T/disk"
	expect_exit "$want" ofs_f "$@" -- prep --repo "$T/seeded" --disk "$T/disk" --job fault-job
	check_fault "prep, $what"
	[ "$want" != 9 ] || assert_contains "$T/err" "No space left on device"
	expect_exit 0 ofs prep --repo "$T/seeded" --disk "$T/disk" --job fault-job
	expect_exit 0 ofs verify "$T/disk"
}
prep_case 9 "ENOSPC on the disk" "${NOSPC[@]}" "OFS_FAULT_PATH=$T/disk/*" OFS_FAULT_AFTER=20000000
prep_case 1 "fsync on the disk failing" OFS_FAULT_OPS=fsync,fdatasync "OFS_FAULT_PATH=$T/disk/*"

echo "check: restore, ENOSPC on the target → exit 9"
expect_exit 9 ofs_f "${NOSPC[@]}" "OFS_FAULT_PATH=$T/rt/*" OFS_FAULT_AFTER=5000000 -- \
    restore latest --repo "$T/backed" --target "$T/rt"
check_fault "restore"
assert_contains "$T/err" "No space left on device"
echo "91-faults-nospace: ok"
