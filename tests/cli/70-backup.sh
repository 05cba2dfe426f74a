#!/bin/bash
# Incremental backup after a stage: unchanged files are not read, only new data is stored
# (storage growth measured on the repository, not from the tool's report), restore of the
# latest snapshot equals the source, --limit-upload holds the rate, and a killed backup resumes
# without storing any pack twice.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src/docs" "$T/src/bin"
for i in $(seq 1 40); do seq 1 $((i * 3000)) >"$T/src/docs/f$i.txt"; done
for i in 1 2 3; do head -c $((6 * 1048576)) /dev/urandom >"$T/src/bin/r$i"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
size() { du -sb --apparent-size "$T/repo" | cut -f1; }
json() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$T/out" "$1"; }

# nothing changed: nothing read, nothing stored
before=$(size)
expect_exit 0 ofs --json backup --repo "$T/repo" "$T/src"
[ "$(json bytes_read)" = 0 ] || fail "unchanged files were read: $(cat "$T/out")"
[ "$(json bytes_new)" = 0 ] || fail "an unchanged backup stored new data"
grown=$(( $(size) - before ))
[ $grown -lt 200000 ] || fail "an unchanged backup grew the repository by $grown bytes"

# ~1% change: an append, an edit in the middle of a big file, a new file, a deletion
printf 'appended line\n' >>"$T/src/docs/f3.txt"
printf 'XXXXXXXX' | dd of="$T/src/bin/r2" bs=1 seek=3000000 conv=notrunc 2>/dev/null
head -c 200000 /dev/urandom >"$T/src/bin/new"
rm "$T/src/docs/f7.txt"
before=$(size)
expect_exit 0 ofs --json backup --repo "$T/repo" "$T/src"
grown=$(( $(size) - before ))
# changed data: the new file (200 KB) plus the rewritten chunks of r2 (≤ 8 MiB chunk max,
# ~1 MiB typical) and f3; all of it must be far below re-storing the 18 MiB of bin/
[ $grown -lt $((4 * 1048576)) ] || fail "the 1% change grew the repository by $grown bytes"
[ "$(json bytes_read)" -lt $((8 * 1048576)) ] || fail "too much was read: $(json bytes_read)"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r1"
diff -r "$T/src" "$T/r1$T/src" || fail "restore of the latest backup differs from the source"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs verify "$T/repo"	# the staging manifest was kept current

# --limit-upload: 12 MiB of new data at 4 MiB/s takes at least ~2 s
mkdir -p "$T/src/more"; head -c $((12 * 1048576)) /dev/urandom >"$T/src/more/x"
start=$(date +%s.%N)
expect_exit 0 ofs backup --repo "$T/repo" --limit-upload 4M "$T/src"
el=$(echo "$(date +%s.%N) - $start" | bc)
echo "$el > 1.8" | bc | grep -q 1 || fail "--limit-upload 4M sent 12 MiB in $el s"

# kill -9 mid-backup, then resume: no pack stored twice
mkdir -p "$T/src/big"
for i in $(seq 1 24); do head -c $((8 * 1048576)) /dev/urandom >"$T/src/big/b$i"; done
"$OFFSEED" --passphrase-file "$PASS" --no-progress backup --threads 1 --repo "$T/repo" \
    --checkpoint-bytes 32M "$T/src" >"$T/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -n "$(find "$T/state" -name backup.journal)" ] && break; sleep 0.02; done
sleep 0.3
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ -n "$(find "$T/state" -name backup.journal)" ] || fail "the backup finished before it was killed"
expect_exit 0 ofs --json backup --repo "$T/repo" --checkpoint-bytes 32M "$T/src"
[ "$(json resumed)" = True ] || fail "the rerun did not resume"
packbytes=$(find "$T/repo/data" -type f -newer "$T/src/big/b1" -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$packbytes" -lt $((24 * 8 * 1048576 * 105 / 100)) ] || fail "packs stored twice: $packbytes bytes of packs for 192 MiB of data"
expect_exit 0 ofs check --repo "$T/repo" --read-data
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r2"
diff -r "$T/src" "$T/r2$T/src" || fail "restore after the resumed backup differs"
echo ok
