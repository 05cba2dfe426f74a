#!/bin/bash
# Faults from the machine (SPEC §18), part 3: short reads and writes and EINTR. With the
# project's shim returning short counts and EINTR at random from read, pread, write and
# pwrite on every regular file (sources, repository, state, disks, restore targets), every
# command still succeeds and the results are the same: the repository verifies, checks and
# restores identically, prep's disk verifies, dump's tar equals the file.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fault/fault.sh"
need tar

mkdir -p "$T/src/sub" "$T/disk"
for i in 1 2 3; do head -c 7000000 /dev/urandom >"$T/src/big$i"; done
for i in $(seq 1 30); do seq 1 $((i * 200)) >"$T/src/sub/s$i.txt"; done
SHORT=(OFS_FAULT_SHORT=30 OFS_FAULT_EINTR=20 OFS_FAULT_SEED=7)
# short WHAT ARGS…: the command succeeds under short counts and EINTR
short() {
	local what=$1; shift
	echo "check: $what under short reads/writes and EINTR → success"
	expect_exit 0 ofs_f "${SHORT[@]}" -- "$@"
	check_fault "$what"
	echo "  $(grep -c ' short ' "$FLOG") short counts, $(grep -c ' eintr ' "$FLOG") EINTR"
}
same() {
	diff -r "$T/src" "$1$T/src" || fail "$2: the restored tree differs from the source"
}
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box
short "init of a second repository" init --repo "$T/repo-b"
short "stage" stage --repo "$T/repo" --container-size 16M "$T/src"
short "verify" verify "$T/repo"
short "verify --deep" verify --deep "$T/repo"
short "check --read-data" check --repo "$T/repo" --read-data
short "restore" restore latest --repo "$T/repo" --target "$T/r1"
same "$T/r1" "restore after stage"
head -c 3000000 /dev/urandom >"$T/src/new1"
seq 1 9999 >>"$T/src/sub/s2.txt"
short "backup" backup --repo "file:$T/repo" "$T/src"
short "restore of the backup" restore latest --repo "$T/repo" --target "$T/r2"
same "$T/r2" "restore after backup"
short "dump" dump latest "$T/src/big2" --repo "$T/repo"
tar -xOf "$T/out" >"$T/big2.dumped" || fail "dump: not a tar archive"
cmp "$T/big2.dumped" "$T/src/big2" || fail "dump: the file differs"
short "forget" forget --repo "$T/repo" --keep-last 1
short "prune" prune --repo "$T/repo"
short "prep" prep --repo "$T/repo" --disk "$T/disk" --job short-job
short "verify of the disk" verify "$T/disk"
short "restore from the disk" restore latest --repo "disks:$T/disk" --target "$T/r3"
same "$T/r3" "restore from disks:"
# and the same without the fault: nothing the fault touched is wrong
expect_exit 0 ofs verify "$T/repo"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs verify "$T/disk"
echo "92-faults-short: ok"
