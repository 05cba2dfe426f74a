#!/bin/bash
# Malicious cloud snapshots (crafted with tests/cli/79-craft.c: tree JSON written by hand and
# sealed with the repository's keys) uploaded to Azurite as a repository. Restoring them from
# azure:// writes nothing outside --target (the parent folder and a canary folder are
# checked), and refuses with a non-zero exit and a message naming the bad entry: "../escape",
# an absolute name, "a/../../b", a directory named "..", a bad name in a subfolder, a symlink
# followed by a directory or a file through it. A symlink restored by one restore is
# replaced, never followed, by the next.
. "$(dirname "$0")/75-cloud-lib.sh"
need cc
need pkg-config
BUILD=${BUILD:-$TOP/build}
[ -f "$BUILD/libofs.a" ] || fail "$BUILD/libofs.a is missing (run make)"
SAN=
nm "$BUILD/libofs.a" 2>/dev/null | grep -q __asan_ && SAN="-fsanitize=address,undefined"	# build/asan
cc -std=gnu11 -pthread -O1 $SAN -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
    -I"$TOP/lib" -o "$T/craft" "$TOP/tests/cli/79-craft.c" "$BUILD/libofs.a" \
    $(pkg-config --libs libarchive openssl libcurl libxxhash libzstd jansson) -lm ||
    fail "cannot build tests/cli/79-craft.c"
az_start

# a real backup provides the keys, a file's chunks and a directory to copy from
mkdir -p "$T/src/dir"
head -c 70000 /dev/urandom >"$T/src/dir/data"
echo hello >"$T/src/top"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs backup --repo "$T/repo" "$T/src"
expect_exit 0 ofs snapshots --repo "$T/repo"
tpl=$(grep -o '^[0-9a-f]\{8\}' "$T/out" | head -n 1)
[ -n "$tpl" ] || fail "no template snapshot: $(cat "$T/out")"

W=$T/w
mkdir -p "$W/canary"
printf 'precious' >"$W/canary/victim"
declare -A SNAP
for sc in dotdot abs updown dotdotdir nested symdup symslash linkonly dironly; do
	SNAP[$sc]=$(ASAN_OPTIONS=detect_leaks=0 "$T/craft" "$T/repo" "$T/craftstate" "$PASS" "$tpl" "$sc" "$W/canary") ||
	    fail "cannot craft the '$sc' snapshot"
done
az put-repo "$T/repo" backups evil || fail "cannot upload the repository"
R=azure://devstoreaccount1/backups/evil

# nothing_outside: $W holds only the canary (with its one untouched file) and targets t-*;
# no escaped name exists anywhere in $T outside the targets
nothing_outside() {
	local e
	for e in "$W"/* "$W"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		case ${e##*/} in canary|t-*) ;; *) fail "'$e' was written outside the target ($1)";; esac
	done
	[ "$(ls -A "$W/canary")" = victim ] || fail "the canary folder changed ($1): $(ls -A "$W/canary")"
	[ "$(cat "$W/canary/victim")" = precious ] || fail "the canary file was overwritten ($1)"
	e=$(find "$T" \( -name 'escape*' -o -name b -o -name abs -o -name pwned \) \
	    -not -path "$W/t-*" -not -path "$T/az/*" | head -n 3)
	[ -z "$e" ] || fail "escaped entries ($1): $e"
}

# refused SCENARIO NAME: the restore from the cloud (fresh state: everything comes from
# Azurite) fails with exit 4 naming NAME, and nothing lands outside
refused() {
	local sc=$1 bad=$2 rc
	OFFSEED_STATE="$T/rs-$sc" ofs restore "${SNAP[$sc]}" --repo "$R" --target "$W/t-$sc" \
	    >"$T/out" 2>"$T/err"
	rc=$?
	nothing_outside "$sc"
	[ $rc != 0 ] || fail "the malicious snapshot '$sc' restored with exit 0"
	[ $rc = 4 ] || { cat "$T/err"; fail "'$sc': exit $rc, expected 4 (malformed data)"; }
	assert_contains "$T/err" "$bad"
	echo "$sc: exit $rc: $(head -c 300 "$T/err")"
}

refused dotdot "'../escape'"
refused abs "'$W/canary/abs'"
refused updown "'a/../../b'"
refused dotdotdir "'..'"
refused nested "'../../escape3'"
assert_contains "$T/err" "'/deep'"
# a bad name in a subfolder fails that folder (listed as damaged); the rest is restored
[ -f "$W/t-nested/good" ] && cmp -s "$W/t-nested/good" "$T/src/dir/data" ||
    fail "the good file next to the bad folder was not restored"
grep -q '/deep' "$T"/rs-nested/*/logs/restore-*.tsv || fail "the damaged folder is not in the list"
refused symdup "duplicate name"
assert_contains "$T/err" "'link'"
refused symslash "'link/pwned'"

# A symlink to the canary restored from one snapshot, then a snapshot with a directory of
# that name: the link is replaced by a real directory, nothing goes through it.
OFFSEED_STATE="$T/rs-l" expect_exit 0 ofs restore "${SNAP[linkonly]}" --repo "$R" --target "$W/t-link"
[ "$(readlink "$W/t-link/d")" = "$W/canary" ] || fail "the symlink was not restored as a symlink"
nothing_outside "linkonly"
OFFSEED_STATE="$T/rs-l" ofs restore "${SNAP[dironly]}" --repo "$R" --target "$W/t-link" \
    --overwrite never >"$T/out" 2>"$T/err"
rc=$?
nothing_outside "dironly over the link, --overwrite never"
[ $rc = 3 ] || { cat "$T/err"; fail "--overwrite never over the planted link: exit $rc, expected 3 (skipped)"; }
[ -L "$W/t-link/d" ] || fail "--overwrite never replaced the symlink"
OFFSEED_STATE="$T/rs-l" expect_exit 0 ofs restore "${SNAP[dironly]}" --repo "$R" --target "$W/t-link"
nothing_outside "dironly over the link"
[ ! -L "$W/t-link/d" ] && [ -d "$W/t-link/d" ] || fail "the planted symlink was not replaced by the directory"
[ -f "$W/t-link/d/pwned" ] || fail "the directory's file was not restored"
cmp "$W/t-link/d/pwned" "$T/src/dir/data" || fail "restored file content differs"
echo ok
