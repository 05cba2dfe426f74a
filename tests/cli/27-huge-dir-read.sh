#!/bin/bash
# Trees are read back streaming (SPEC §17): one directory of 200,000 empty files is one
# tree blob of ~40 MB of JSON. restore and ls read it a node at a time from the sealed
# blob through a bounded zstd window, so restore's peak RSS stays far below what holding
# the plaintext and every decoded node took. Measured restore peak RSS for this directory
# (/usr/bin/time %M, default threads, 2 cores): main at 70662c2 (whole tree decoded) 156 MiB; the
# streaming reader 11 MiB. The ceiling sits between them. Under ASan the RSS is the
# sanitizer's: the commands run, the bound is not applied.
. "$(dirname "$0")/lib.sh"
need python3
[ -x /usr/bin/time ] || fail "required tool '/usr/bin/time' is missing (run make deps)"
ASAN=$(ldd "$OFFSEED" | grep -c libasan)
N=200000
CEIL_MIB=48

mkdir -p "$T/src/big"
python3 - "$T/src/big" $N <<'PY' || fail "cannot create $N files"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
	os.close(os.open(os.path.join(d, "f%07d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
PY
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

# restore: every file back, under the ceiling
/usr/bin/time -f %M -o "$T/rss" "$OFFSEED" --passphrase-file "$PASS" --no-progress \
    restore latest --repo "$T/repo" --target "$T/r" >"$T/out" 2>"$T/err" ||
    { cat "$T/err"; fail "restore of the big directory failed"; }
rss=$(tail -n 1 "$T/rss")
echo "restore of $N entries in one directory: peak RSS $((rss / 1024)) MiB (ceiling $CEIL_MIB)"
got=$(find "$T/r" -type f | wc -l)
[ "$got" = $N ] || fail "restore brought back $got files, not $N"
big="$T/r$T/src/big"	# restore recreates the staged path below the target
[ -f "$big/f0000000" ] && [ -f "$big/f0199999" ] || fail "first or last file missing"
[ -z "$(find "$big" -type f ! -empty)" ] || fail "a restored file is not empty"
if [ "$ASAN" = 0 ] && [ "$rss" -gt $((CEIL_MIB * 1024)) ]; then
	fail "restore peak RSS $((rss / 1024)) MiB exceeds $CEIL_MIB MiB"
fi

# ls: every entry, in name order
expect_exit 0 ofs ls --repo "$T/repo" latest
[ "$(grep -c '/big/f[0-9]\{7\}$' "$T/out")" = $N ] || fail "ls does not list $N files"
grep -o 'f[0-9]\{7\}$' "$T/out" >"$T/names"
sort -C "$T/names" || fail "ls does not list the entries in name order"
echo "27-huge-dir-read: ok"
