#!/bin/bash
# Command-line basics that batch scripts rely on: help, version, unknown commands and
# options, per-command help, and a missing --repo (SPEC 4.1, 4.4: usage errors exit 2).
. "$(dirname "$0")/lib.sh"
unset OFFSEED_REPO OFFSEED_PASSPHRASE OFFSEED_PASSPHRASE_FILE

cmds="init stage verify snapshots ls restore"

# Global help: exit 0, on stdout, lists every command.
expect_exit 0 "$OFFSEED" --help
assert_contains "$T/out" "usage: offseed"
for c in $cmds check; do
	grep -Eq "^  $c +[a-z]" "$T/out" || { cat "$T/out"; fail "--help does not list '$c'"; }
done
assert_contains "$T/out" "--repo"
assert_contains "$T/out" "--json"
expect_exit 0 "$OFFSEED" -h
assert_contains "$T/out" "usage: offseed"

# No command at all is a usage error (help goes to stderr, stdout stays clean).
expect_exit 2 "$OFFSEED"
assert_contains "$T/err" "usage: offseed"
[ ! -s "$T/out" ] || fail "no-command run printed on stdout"

# Version: exit 0, "offseed X.Y.Z (repository format N, …)".
expect_exit 0 "$OFFSEED" --version
grep -Eq '^offseed [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || { cat "$T/out"; fail "bad --version line"; }
assert_contains "$T/out" "repository format"
expect_exit 0 "$OFFSEED" --json --version
python3 - "$T/out" <<'EOF' || fail "--json --version is not one JSON summary line"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["type"] == "summary", o
assert isinstance(o["version"], str) and o["version"].count(".") == 2, o
assert isinstance(o["repository_format"], int) and o["repository_format"] >= 1, o
EOF

# Unknown command: exit 2, the message names it, nothing on stdout.
expect_exit 2 "$OFFSEED" frobnicate
assert_contains "$T/err" "frobnicate"
[ ! -s "$T/out" ] || fail "unknown command printed on stdout"

# A global option without its value is a usage error.
expect_exit 2 "$OFFSEED" --repo
assert_contains "$T/err" "--repo"

# Every command has --help (exit 0, usage on stdout) and rejects unknown options (exit 2).
for c in $cmds; do
	expect_exit 0 "$OFFSEED" "$c" --help
	assert_contains "$T/out" "usage: offseed $c"
	expect_exit 2 "$OFFSEED" "$c" --no-such-option
	assert_contains "$T/err" "no-such-option"
done

# A command that needs a repository and has none: exit 2, the message names --repo, and
# nothing is created in the working directory.
mkdir "$T/cwd" "$T/src"
echo hello >"$T/src/file"
cd "$T/cwd" || fail "cannot cd"
expect_exit 2 ofs init
assert_contains "$T/err" "--repo"
expect_exit 2 ofs stage "$T/src"
assert_contains "$T/err" "--repo"
expect_exit 2 ofs snapshots
assert_contains "$T/err" "--repo"
expect_exit 2 ofs ls latest
assert_contains "$T/err" "--repo"
expect_exit 2 ofs restore latest --target "$T/out-dir"
assert_contains "$T/err" "--repo"
[ -z "$(ls -A "$T/cwd")" ] || fail "a failed command left files in the working directory"
[ ! -e "$T/out-dir" ] || fail "restore without --repo created its target"

# With --json, a usage error is still exactly one error object on stdout.
expect_exit 2 ofs --json snapshots
python3 - "$T/out" <<'EOF' || fail "--json usage error is not one error line with code 2"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["type"] == "error" and o["code"] == 2 and "--repo" in o["message"], o
EOF

# a thread count that is not a whole number from 1 to 64 is a usage error, never read as 0
mkdir -p "$T/thr"
for bad in abc 0 65 4x -1 ""; do
	expect_exit 2 ofs stage --repo "$T/nothere" --threads "$bad" "$T/thr"
	assert_contains "$T/err" "--threads"
	expect_exit 2 ofs restore latest --repo "$T/nothere" --threads "$bad" --target "$T/thr2"
	assert_contains "$T/err" "--threads"
	expect_exit 2 ofs verify --threads "$bad" "$T/thr"
	assert_contains "$T/err" "--threads"
done

echo "cli basics ok"
