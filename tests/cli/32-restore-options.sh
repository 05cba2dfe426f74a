#!/bin/bash
# restore/ls/snapshots options: help, usage errors, wrong passphrase before touching the
# target, SNAP:PATH, --include/--exclude, --overwrite never|if-changed|always, --json.
. "$(dirname "$0")/lib.sh"
need python3

for c in restore ls snapshots; do
	expect_exit 0 ofs "$c" --help
	assert_contains "$T/out" "usage: offseed $c"
done

mkdir -p "$T/src/docs/sub" "$T/src/bin"
echo "alpha" >"$T/src/docs/a.txt"
echo "beta" >"$T/src/docs/sub/b.txt"
head -c 200000 /dev/urandom >"$T/src/docs/c.bin"
echo "tool" >"$T/src/bin/tool"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"

expect_exit 2 ofs restore latest --repo "$T/repo"
assert_contains "$T/err" "--target"
expect_exit 2 ofs restore --repo "$T/repo" --target "$T/x"
expect_exit 2 ofs restore latest --repo "$T/repo" --target "$T/x" --overwrite sometimes
expect_exit 1 ofs restore ffffffffffff --repo "$T/repo" --target "$T/x"
assert_contains "$T/err" "no snapshot"
[ ! -e "$T/x" ] || fail "a failed restore created the target"

printf 'this is not the passphrase\n' >"$T/bad"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/bad" --no-progress restore latest \
    --repo "$T/repo" --target "$T/x"
[ ! -e "$T/x" ] || fail "restore with a wrong passphrase created the target"

# SNAP:PATH, a folder: its contents go straight into the target
expect_exit 0 ofs restore "latest:$T/src/docs" --repo "$T/repo" --target "$T/r1"
cmp "$T/src/docs/a.txt" "$T/r1/a.txt" || fail "latest:PATH did not restore a.txt"
cmp "$T/src/docs/sub/b.txt" "$T/r1/sub/b.txt" || fail "latest:PATH did not restore sub/b.txt"
[ ! -e "$T/r1/bin" ] || fail "latest:PATH restored more than PATH"
# SNAP:PATH, a file
expect_exit 0 ofs restore "latest:$T/src/docs/c.bin" --repo "$T/repo" --target "$T/r2"
cmp "$T/src/docs/c.bin" "$T/r2/c.bin" || fail "latest:FILE did not restore the file"
expect_exit 1 ofs restore "latest:$T/src/nothing" --repo "$T/repo" --target "$T/r9"
assert_contains "$T/err" "not in the snapshot"

# --include / --exclude on snapshot paths
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r3" --include '*.txt' \
    --exclude "$T/src/docs/sub"
[ -f "$T/r3$T/src/docs/a.txt" ] || fail "--include '*.txt' missed a.txt"
[ ! -e "$T/r3$T/src/docs/c.bin" ] || fail "--include '*.txt' restored c.bin"
[ ! -e "$T/r3$T/src/docs/sub" ] || fail "--exclude did not leave out docs/sub"
[ ! -e "$T/r3$T/src/bin" ] || fail "--include restored an unrelated folder"

# --overwrite: never keeps a changed file; if-changed replaces it; a file with the same size
# and mtime is kept by if-changed and replaced by always
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4"
f="$T/r4$T/src/docs/a.txt"
echo "CHANGED, longer" >"$f"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4" --overwrite never
assert_contains "$f" "CHANGED"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4"
cmp "$T/src/docs/a.txt" "$f" || fail "if-changed did not replace a changed file"
printf 'ALPHA\n' >"$f"
touch -r "$T/src/docs/a.txt" "$f"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4" --overwrite if-changed
assert_contains "$f" "ALPHA"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4" --overwrite always
cmp "$T/src/docs/a.txt" "$f" || fail "--overwrite always did not replace the file"
# an existing symlink where a file goes is replaced, its target untouched
echo keep >"$T/victim"
rm -f "$f"
ln -s "$T/victim" "$f"
expect_exit 0 ofs restore latest --repo "$T/repo" --target "$T/r4"
[ ! -L "$f" ] || fail "a symlink in the target was not replaced"
assert_contains "$T/victim" "keep"

# --json: exactly one summary line carrying the entries (SPEC 4.3); snapshots likewise
expect_exit 0 ofs --json ls --repo "$T/repo" latest
python3 - "$T/out" "$T/src" <<'PY' || fail "ls --json output is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1 and lines[0]["type"] == "summary", lines
assert lines[0]["count"] == len(lines[0]["entries"]), lines[0]
paths = {l["path"]: l for l in lines[0]["entries"]}
p = sys.argv[2] + "/docs/a.txt"
assert paths[p]["node_type"] == "file" and paths[p]["size"] == 6, paths[p]
PY
expect_exit 0 ofs ls --repo "$T/repo" latest "$T/src/docs"
assert_contains "$T/out" "$T/src/docs/sub/b.txt"
grep -q "$T/src/bin" "$T/out" && fail "ls PATH listed outside PATH"
expect_exit 0 ofs --json snapshots --repo "$T/repo"
python3 - "$T/out" <<'PY' || fail "snapshots --json output is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1 and lines[0]["type"] == "summary", lines
assert lines[0]["count"] == 1 and len(lines[0]["snapshots"][0]["id"]) == 64, lines
PY
echo ok
