#!/bin/bash
# The data pass of verify --deep and check --read-data buckets the blobs of one window of packs
# at a time (at most 65,536 blobs; a bigger pack is a window alone). OFFSEED_TEST_DEEP_WINDOW
# lowers that here, so 9 packs span up to 9 windows: every window's blobs are checked (the
# counts equal those of one window, with --subset too), and two damaged blobs in packs far
# apart, at least one of them in a window after the first, are each found and named by their
# file, whatever the window. A knob value out of range is ignored.
. "$(dirname "$0")/lib.sh"
need python3

# 16 distinct random files of 4 MiB: 8 data packs of about 8 MiB (each chunk belongs to one
# file) and a pack of trees
mkdir -p "$T/src"
for i in $(seq -w 1 16); do head -c 4194304 /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

# counts WINDOW ARGS…: into $got, "packs blobs bytes" of a clean check --read-data ARGS with
# that window ('': the default, as out of range values are ignored)
counts() {
	local w=$1; shift
	OFFSEED_TEST_DEEP_WINDOW=$w expect_exit 0 ofs --json check --read-data "$@"
	python3 - "$T/out" >"$T/counts" <<'PY' || fail "cannot read the check summary: $(cat "$T/out")"
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert s["ok"] is True and s["problems"] == 0, s
print(s["packs"], s["blobs"], s["bytes"])
PY
	got=$(cat "$T/counts")
}
counts "" --repo "$T/repo"
one=$got
read -r packs blobs _ <<<"$one"
[ "$packs" -ge 6 ] && [ "$blobs" -ge 2 ] || fail "expected several packs and blobs, got '$one'"
# 1: each pack a window of its own (bigger than the window); 20: a few packs a window;
# 0, 65537 and x: out of range, ignored (one window)
for w in 1 20 0 65537 x; do
	counts "$w" --repo "$T/repo"
	[ "$got" = "$one" ] || fail "window $w checked '$got' (packs blobs bytes), one window '$one'"
done
counts "" --repo "$T/repo" --subset 50
sub=$got
for w in 1 20; do
	counts "$w" --repo "$T/repo" --subset 50
	[ "$got" = "$sub" ] || fail "--subset 50, window $w checked '$got', one window '$sub'"
done

# One byte flipped at 10 % and one at 85 % of the container: two packs (at most one of them
# the first), one chunk each.
cp -a "$T/repo" "$T/c"
c=$(ls "$T"/c/containers/*.vhd)
size=$(stat -c %s "$c")
for pct in 10 85; do
	flip_data_byte "$c" $((size * pct / 100)) >/dev/null || fail "cannot flip a byte of $c"
done
for w in "" 1 20; do
	OFFSEED_TEST_DEEP_WINDOW=$w expect_exit 4 ofs verify --deep --repo "$T/c" "$T/c"
	grep -o "^deep: [^ ]*: blob [0-9a-f]*… in containers/[^ ]* @ [0-9]*" "$T/out" | sort -u >"$T/blobs"
	[ "$(wc -l <"$T/blobs")" = 2 ] || { cat "$T/out"; fail "window '$w': expected 2 damaged blobs"; }
	[ "$(sed 's/.* @ //' "$T/blobs" | sort -u | wc -l)" = 2 ] ||
	    { cat "$T/out"; fail "window '$w': the damaged blobs should be in 2 packs"; }
	grep "^deep: $T/src/f[0-9]*: snapshot path damaged: 1 of " "$T/out" |
	    sed "s|^deep: $T/src/\(f[0-9]*\):.*|\1|" | sort -u >"$T/named.$w"
	[ "$(wc -l <"$T/named.$w")" = 2 ] || { cat "$T/out"; fail "window '$w': expected 2 files named"; }
	cmp -s "$T/named.$w" "$T/named." || fail "window '$w' names $(cat "$T/named.$w"), one window $(cat "$T/named.")"
done
echo ok
