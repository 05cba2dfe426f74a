#!/bin/bash
# One directory of 200,000 entries (SPEC §17): its tree is written as its entries come,
# hashed and compressed in pieces, and held once, compressed (lib/tree_enc.c, ofs_blob_stream).
# Stage and backup of it stay under 64 MiB of peak RSS; before, the writer held every node
# decoded, then the JSON, the sealed copy and the pack's copy: measured on this machine,
# stage 143 MiB and backup 142 MiB before, 19 MiB and 19 MiB after. Restore gives the same
# tree back (names with odd bytes included), and staging it again stores no tree anew (the
# streamed tree's id is the same, and the duplicate is dropped before sealing). Under ASan
# the RSS is the sanitizer's: the commands run, the bound is not applied.
. "$(dirname "$0")/lib.sh"
need python3
ASAN=$(ldd "$OFFSEED" | grep -c libasan)
CEILING=$((64 * 1024))	# KiB

python3 - "$T/src/big" <<'PY' || fail "cannot generate the directory"
import os, sys
d = os.fsencode(sys.argv[1])
os.makedirs(d)
for i in range(200000):
    name = b"f%06d" % i
    if i % 997 == 0:
        name += b"-\xff\x01 \"q\\"	# bytes that are not UTF-8, a control, quotes
    with open(os.path.join(d, name), "wb") as f:
        if i % 50 == 0:
            f.write(b"x%d\n" % i)
PY

# peak CMD…: run offseed with the usual options; its peak RSS (KiB, or -exit code) on stdout
peak() {
	python3 - "$OFFSEED" --passphrase-file "$PASS" --no-progress "$@" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc == 0 else -rc)
PY
}
bounded() {	# WHAT KIB
	[ "$2" -gt 0 ] || fail "$1 failed (exit ${2#-})"
	echo "$1: peak RSS $(($2 / 1024)) MiB (at most $((CEILING / 1024)))"
	if [ "$ASAN" = 0 ] && [ "$2" -gt $CEILING ]; then
		fail "$1 of one directory of 200,000 entries peaked at $(($2 / 1024)) MiB"
	fi
}

expect_exit 0 ofs init --repo "$T/repo"
bounded stage "$(peak stage --repo "$T/repo" "$T/src/big")"
# again, before anything reads the files (their atimes are in the tree; stage reads with
# O_NOATIME): the big tree is already stored, so only a few small trees are new
expect_exit 0 ofs --json stage --repo "$T/repo" "$T/src/big"
stored=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_stored"])' \
    "$T/out") || fail "no summary from the second stage"
[ "$stored" -lt 100000 ] || fail "the second stage stored $stored bytes: the big tree again?"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/rst"
"$TOP/tests/compare-trees.sh" "$T/src" "$T/rst$T/src" >"$T/diff" 2>&1 ||
    { head -20 "$T/diff"; fail "the restored directory differs from the source"; }
(cd "$T/src/big" && ls -U | LC_ALL=C sort) >"$T/want"
[ "$(wc -l <"$T/want")" = 200000 ] || fail "the source does not hold 200,000 entries"
(cd "$T/rst$T/src/big" && ls -U | LC_ALL=C sort) >"$T/got"
cmp -s "$T/want" "$T/got" || fail "the restored listing differs"
rm -rf "$T/rst"


expect_exit 0 ofs init --repo "$T/brepo"
bounded backup "$(peak backup --repo "file:$T/brepo" "$T/src/big")"
expect_exit 0 ofs restore latest --repo "file:$T/brepo" --target "$T/rst"
"$TOP/tests/compare-trees.sh" "$T/src" "$T/rst$T/src" >"$T/diff" 2>&1 ||
    { head -20 "$T/diff"; fail "the directory restored from the backup differs"; }
echo "26-huge-dir: ok"
