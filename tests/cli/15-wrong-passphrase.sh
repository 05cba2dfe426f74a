#!/bin/bash
# A wrong passphrase: exit 5 "wrong passphrase" before anything is written.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src"; echo data >"$T/src/f"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
printf 'this is not the passphrase\n' >"$T/bad"
bad() { "$OFFSEED" --passphrase-file "$T/bad" --no-progress "$@"; }
expect_exit 5 bad restore latest --repo "$T/repo" --target "$T/target"
assert_contains "$T/err" "wrong passphrase"
[ ! -e "$T/target" ] || fail "restore with a wrong passphrase created the target"
expect_exit 5 bad verify --deep --repo "$T/repo" "$T/repo"
assert_contains "$T/err" "wrong passphrase"
[ ! -s "$T/out" ] || fail "verify --deep printed results before refusing the passphrase: $(cat "$T/out")"
expect_exit 5 bad --json verify --deep "$T/repo"
[ "$(wc -l <"$T/out")" = 1 ] && grep -q '"type":"error","code":5' "$T/out" ||
    fail "verify --deep --json with a wrong passphrase: $(cat "$T/out")"
expect_exit 5 bad stage --repo "$T/repo" "$T/src"
expect_exit 5 bad --json snapshots --repo "$T/repo"
grep -q '"type":"error"' "$T/out" || fail "--json error object missing"
grep -q '"code":5' "$T/out" || fail "--json error code is not 5"
# too short a passphrase at init
printf 'short\n' >"$T/short"
expect_exit 2 "$OFFSEED" --passphrase-file "$T/short" init --repo "$T/repo2"
assert_contains "$T/err" "too short"

# A passphrase longer than offseed takes is refused, never cut (a cut passphrase would
# lock a new repository with another key): exit 2 naming the limit.
long=$(head -c 6000 /dev/zero | tr '\0' 'p')
OFFSEED_PASSPHRASE=$long expect_exit 2 "$OFFSEED" --no-progress init --repo "$T/long"
assert_contains "$T/err" "OFFSEED_PASSPHRASE is longer than"
[ ! -e "$T/long/config" ] || fail "a repository was made with a cut passphrase"
printf '%s\n' "$long" >"$T/longfile"
expect_exit 2 "$OFFSEED" --no-progress --passphrase-file "$T/longfile" init --repo "$T/long2"
assert_contains "$T/err" "is longer than"
echo ok
