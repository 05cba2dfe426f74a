#!/bin/bash
# Key slots: list, add, remove, passwd; refusals (last slot, slot in use, unknown id) and a
# wrong passphrase (exit 5). Data is never rewritten: the data files are unchanged.
. "$(dirname "$0")/lib.sh"
need python3

mkdir -p "$T/src" && echo hello >"$T/src/a"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
(cd "$T/repo" && find data containers index snapshots config -type f | sort | xargs sha256sum) >"$T/before"

expect_exit 2 ofs key --repo "$T/repo"
expect_exit 2 ofs key frob --repo "$T/repo"
expect_exit 0 ofs key --help
assert_contains "$T/out" "usage: offseed key"

expect_exit 0 ofs --json key list --repo "$T/repo"
python3 - "$T/out" <<'PY' || fail "key list --json"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 1 and s[0]["type"] == "summary" and s[0]["count"] == 1, s
k = s[0]["keys"][0]
assert k["in_use"] is True and k["n"] == 1024 and k["r"] == 8 and k["p"] == 1, k
assert len(k["id"]) == 32 and k["created"].endswith("Z"), k
PY
first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["id"])' "$T/out")

# the last slot cannot go
expect_exit 1 ofs key remove --repo "$T/repo" "$first"
assert_contains "$T/err" "last key"

# add: too short, none given, then a good one
printf 'short\n' >"$T/short"
expect_exit 2 ofs key add --repo "$T/repo" --new-passphrase-file "$T/short"
expect_exit 2 env -u OFFSEED_NEW_PASSPHRASE "$OFFSEED" --passphrase-file "$PASS" key add --repo "$T/repo"
printf 'the second passphrase 0123\n' >"$T/pass2"
expect_exit 0 ofs --json key add --repo "$T/repo" --new-passphrase-file "$T/pass2"
second=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["added"])' "$T/out")
[ "$(ls "$T/repo/keys" | wc -l)" = 2 ] || fail "key add did not add a slot"
expect_exit 0 ofs verify "$T/repo"	# the staging manifest lists the new slot

# both passphrases open the repository; list marks the slot in use
expect_exit 0 "$OFFSEED" --passphrase-file "$T/pass2" snapshots --repo "$T/repo"
expect_exit 0 "$OFFSEED" --passphrase-file "$T/pass2" key list --repo "$T/repo"
grep -q "^\* *$second" "$T/out" || { cat "$T/out"; fail "key list does not mark the slot in use"; }

# the slot in use cannot be removed; unknown id → 2; wrong passphrase → 5
expect_exit 1 ofs key remove --repo "$T/repo" "$first"
assert_contains "$T/err" "in use"
expect_exit 2 ofs key remove --repo "$T/repo" ffffffffff
printf 'not the passphrase at all\n' >"$T/bad"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" key list --repo "$T/repo"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" --json key remove --repo "$T/repo" "$first"
assert_contains "$T/out" '"type":"error"'

# remove the first slot from the second passphrase
expect_exit 0 "$OFFSEED" --passphrase-file "$T/pass2" key remove --repo "$T/repo" "${first:0:8}"
expect_exit 5 ofs snapshots --repo "$T/repo"
expect_exit 0 ofs verify "$T/repo"	# and no longer the removed one

# passwd: new slot, old one gone
printf 'the third passphrase 456789\n' >"$T/pass3"
expect_exit 0 "$OFFSEED" --passphrase-file "$T/pass2" --json key passwd --repo "$T/repo" \
    --new-passphrase-file "$T/pass3"
assert_contains "$T/out" "\"removed\":\"$second\""
[ "$(ls "$T/repo/keys" | wc -l)" = 1 ] || fail "key passwd left $(ls "$T/repo/keys" | wc -l) slots"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/pass2" snapshots --repo "$T/repo"
OFFSEED_NEW_PASSPHRASE='from the environment 0000' expect_exit 0 \
    "$OFFSEED" --passphrase-file "$T/pass3" key add --repo "$T/repo"
printf 'from the environment 0000\n' >"$T/pass4"
expect_exit 0 "$OFFSEED" --passphrase-file "$T/pass4" restore latest --repo "$T/repo" --target "$T/rst"
cmp "$T/src/a" "$T/rst$T/src/a" || fail "restore with the new key"

(cd "$T/repo" && find data containers index snapshots config -type f | sort | xargs sha256sum) >"$T/after"
cmp -s "$T/before" "$T/after" || fail "key commands changed data files"
echo ok
