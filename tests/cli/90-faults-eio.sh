#!/bin/bash
# Faults from the machine (SPEC §18), part 1: EIO. A read of a repository, disk or state
# file failing with EIO ends restore, check, verify, snapshots, backup, dump, prune and prep
# with exit 1 naming the file and "Input/output error", never 4 (an I/O error is not
# corruption); a source file that cannot be read during stage or backup is skipped and
# listed (exit 3) and everything else is stored and restores identically. Faults are
# injected into the real binaries by the project's shim (tests/fault/faultshim.c).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fault/fault.sh"
need python3

mkdir -p "$T/src/sub" "$T/d1"
for i in 1 2 3; do head -c 3000000 /dev/urandom >"$T/src/big$i"; done
for i in $(seq 1 30); do seq 1 $((i * 100)) >"$T/src/sub/s$i.txt"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
head -c 2000000 /dev/urandom >"$T/src/new1"
expect_exit 0 ofs backup --repo "file:$T/repo" "$T/src"
EIO=(OFS_FAULT_ERRNO=EIO OFS_FAULT_OPS=read,pread)
# eio_case WHAT PATTERN ARGS…: exit 1, the errno's words, the file named (its folder
# and name as the message gives them: the last folder of PATTERN, .vhd, or the file)
eio_case() {
	local what=$1 pat=$2 name; shift 2
	name=$(basename "$(dirname "$pat")")/
	case "$pat" in *.vhd) name=.vhd;; '*/'*[!*]) name=$(basename "$pat");; esac
	echo "check: $what: EIO reading $pat → exit 1"
	expect_exit 1 ofs_f "${EIO[@]}" "OFS_FAULT_PATH=$pat" -- "$@"
	check_fault "$what"
	cat "$T/out" "$T/err" >"$T/both"
	assert_contains "$T/both" "Input/output error"
	grep -q "$name[^ ]" "$T/both" || { cat "$T/both"; fail "$what: no file in $name named"; }
	! grep -qiE "damaged|corrupt|mismatch|truncated" "$T/both" ||
	    { cat "$T/both"; fail "$what: an I/O error was called damage"; }
}

eio_case "restore" "*/repo/containers/*" restore latest --repo "$T/repo" --target "$T/r1"
assert_contains "$T/err" "could not be restored"
sk=$(ls "$T"/state/*/logs/restore-*-skipped.tsv | tail -1)
grep -q "failed: .*Input/output error" "$sk" || { cat "$sk"; fail "restore: the list does not say why"; }
# the files outside the unreadable container (the backup's loose pack) are restored
cmp "$T/src/new1" "$T/r1$T/src/new1" || fail "restore: a readable file was not restored"
[ ! -e "$T/r1$T/src/big1" ] || fail "restore: a file whose chunks failed to read was left"
expect_exit 1 ofs_f "${EIO[@]}" "OFS_FAULT_PATH=*/repo/containers/*" -- --json restore latest \
    --repo "$T/repo" --target "$T/r1j"
python3 - "$T/out" <<'PY' || fail "restore --json under EIO"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summ = [x for x in s if x["type"] == "summary"][0]
assert summ["failed"] >= 1 and summ["damaged"] == 0, summ
PY

eio_case "check --read-data" "*/repo/containers/*" check --read-data --repo "$T/repo"
eio_case "check" "*/repo/index/*" check --repo "$T/repo"
eio_case "verify (keyless)" "*/repo/containers/*" verify "$T/repo"
eio_case "verify --deep" "*/repo/containers/*" verify --deep "$T/repo"
eio_case "verify --deep, a loose pack" "*/repo/data/*" verify --deep "$T/repo"
eio_case "snapshots" "*/repo/snapshots/*" snapshots --repo "$T/repo"
eio_case "backup, an index file" "*/repo/index/*" backup --repo "file:$T/repo" "$T/src"
eio_case "backup, a key slot" "*/repo/keys/*" backup --repo "file:$T/repo" "$T/src"
eio_case "dump" "*/repo/containers/*" dump latest "$T/src/big2" --repo "$T/repo"
eio_case "restore, a tree" "*/repo/data/*" restore latest --repo "$T/repo" --target "$T/r2"

# a state file: the journal of an interrupted backup (one pack stored, then ENOSPC)
cp -a "$T/repo" "$T/jrepo"
mkdir -p "$T/jsrc"
for i in 1 2 3 4 5; do head -c 9000000 /dev/urandom >"$T/jsrc/n$i"; done
expect_exit 9 ofs_f OFS_FAULT_ERRNO=ENOSPC "OFS_FAULT_PATH=*/jrepo/data/*" OFS_FAULT_AFTER=40000000 \
    -- backup --repo "$T/jrepo" --checkpoint-bytes 1M "$T/jsrc"
ls "$T"/state/*/backup.journal >/dev/null || fail "no journal to read"
eio_case "backup, its journal" "*/backup.journal" backup --repo "$T/jrepo" "$T/jsrc"
expect_exit 0 ofs --json backup --repo "$T/jrepo" "$T/jsrc"
assert_contains "$T/out" '"resumed":true'

# prune reads the packs it repacks
cp -a "$T/repo" "$T/prune"
seq 1 40000 >"$T/src/sub/s1.txt"
expect_exit 0 ofs backup --repo "file:$T/prune" "$T/src"
expect_exit 0 ofs forget --repo "$T/prune" --keep-last 1
eio_case "prune" "*/prune/data/*" prune --repo "$T/prune"
expect_exit 0 ofs check --repo "$T/prune" --read-data

# a prepared disk: prep reading the staged containers, then verify and restore reading it
eio_case "prep" "*/repo/containers/*" prep --repo "$T/repo" --disk "$T/d1" --job eio-job
rm -rf "$T/d1" && mkdir "$T/d1"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --job eio-job
eio_case "verify a disk" "$T/d1/*.vhd" verify "$T/d1"
eio_case "restore from disks:" "$T/d1/*.vhd" restore latest --repo "disks:$T/d1" --target "$T/r3"
eio_case "check disks:" "$T/d1/*.vhd" check --read-data --repo "disks:$T/d1"

# a source file that cannot be read: skipped and listed, exit 3, the rest complete
echo "check: backup with one unreadable (changed) source file → exit 3, listed, rest restores"
head -c 1500000 /dev/urandom >"$T/src/big2"
seq 1 777 >>"$T/src/sub/s7.txt"
expect_exit 3 ofs_f "${EIO[@]}" "OFS_FAULT_PATH=$T/src/big2" -- backup --repo "file:$T/repo" "$T/src"
check_fault "backup source"
sk=$(sed -n "s/.*see '\(.*-skipped.tsv\)'.*/\1/p" "$T/err" | tail -1)
[ -f "$sk" ] || { cat "$T/err"; fail "backup: the skipped list is not named"; }
grep -q "^$T/src/big2	.*Input/output error" "$sk" || { cat "$sk"; fail "backup: big2 not listed"; }
[ "$(wc -l <"$sk")" = 2 ] || { cat "$sk"; fail "backup: more than the one file listed"; }
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4"
[ ! -e "$T/r4$T/src/big2" ] || fail "backup: the unreadable file is in the snapshot"
mv "$T/src/big2" "$T/big2.keep"
diff -r "$T/src" "$T/r4$T/src" || fail "backup: the rest of the source does not restore identically"
mv "$T/big2.keep" "$T/src/big2"
expect_exit 0 ofs check --repo "$T/repo" --read-data

echo "check: stage with one unreadable small and one big source file → exit 3, rest restores"
head -c 1200000 /dev/urandom >"$T/src/big-unreadable"
seq 1 100 >"$T/src/sub/unreadable.txt"
expect_exit 0 ofs init --repo "$T/repo2"
expect_exit 3 ofs_f "${EIO[@]}" "OFS_FAULT_PATH=$T/src/*unreadable*" -- stage --repo "$T/repo2" "$T/src"
check_fault "stage source"
sk=$(sed -n "s/.*see '\(.*-skipped.tsv\)'.*/\1/p" "$T/err" | tail -1)
grep -q "^$T/src/big-unreadable	.*Input/output error" "$sk" &&
    grep -q "^$T/src/sub/unreadable.txt	.*Input/output error" "$sk" &&
    [ "$(wc -l <"$sk")" = 3 ] || { cat "$sk"; fail "stage: the unreadable files are not listed"; }
expect_exit 0 ofs verify "$T/repo2"
expect_exit 0 ofs restore latest --repo "$T/repo2" --target "$T/r5"
for f in big-unreadable sub/unreadable.txt; do
	[ ! -e "$T/r5$T/src/$f" ] || fail "stage: unreadable $f is in the snapshot"
	rm "$T/src/$f"
done
diff -r "$T/src" "$T/r5$T/src" || fail "stage: the rest of the source does not restore identically"
echo "90-faults-eio: ok"
