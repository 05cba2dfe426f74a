#!/bin/bash
# One writer per repository: a live holder gives exit 6 naming host, pid and command; a
# holder that is gone (dead pid on this host) is taken over with a warning.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/src"; echo hello >"$T/src/f"
expect_exit 0 ofs init --repo "$T/repo"
sleep 300 & holder=$!
printf '{"host":"%s","pid":%d,"started":"2026-11-22T06:00:00Z","command":"stage"}' \
    "$(hostname)" "$holder" >"$T/repo/locks/lock"
expect_exit 6 ofs stage --repo "$T/repo" "$T/src"
assert_contains "$T/err" "locked"
assert_contains "$T/err" "pid $holder"
assert_contains "$T/err" "$(hostname)"
kill $holder; wait $holder 2>/dev/null
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
assert_contains "$T/err" "taking over the lock"
[ ! -e "$T/repo/locks/lock" ] || fail "lock not released"

# two real stages at once: the second one is refused while the first runs
for i in 1 2 3 4; do head -c $((32 * 1048576)) /dev/urandom >"$T/src/big$i"; done
"$OFFSEED" --passphrase-file "$PASS" --no-progress stage --repo "$T/repo" "$T/src" \
    >/dev/null 2>&1 & first=$!
for _ in $(seq 1 200); do [ -e "$T/repo/locks/lock" ] && break; sleep 0.02; done
kill -STOP $first	# hold it mid-run, so the check below cannot race its end
expect_exit 6 ofs stage --repo "$T/repo" "$T/src"
assert_contains "$T/err" "pid $first"
kill -CONT $first
wait $first || fail "the first stage failed"

# a kill between creating and writing the lock (older versions) left it empty, which locked
# the repository for 30 minutes: an empty lock older than a few seconds is a dead holder's;
# a fresh empty one still counts as held
: >"$T/repo/locks/lock"
expect_exit 6 ofs stage --repo "$T/repo" "$T/src"
touch -d '-1 minute' "$T/repo/locks/lock"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
assert_contains "$T/err" "taking over the lock"
[ ! -e "$T/repo/locks/lock" ] || fail "lock not released"
# the lock is written whole before it appears: no temporary name is left behind, and the
# temporary of a taker killed before it linked its lock is removed by the next one
dead=$(sh -c 'echo $$')
: >"$T/repo/locks/lock.tmp-$(hostname).$dead"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
[ -z "$(ls -A "$T/repo/locks")" ] || fail "files left in locks/: $(ls -A "$T/repo/locks")"
echo ok

