# Tiny shell test library for the command-line tests. Source it first:
#   . "$(dirname "$0")/lib.sh"
# Gives: $OFFSEED (binary), $T (fresh temp dir, removed on success), $PASS (passphrase file),
# fail MSG, expect_exit CODE CMD…, assert_contains FILE TEXT, ofs ARGS… (offseed with
# --state "$T/state" --passphrase-file "$PASS" --no-progress).
set -u
: "${OFFSEED:?OFFSEED must point at the offseed binary}"
T=$(mktemp -d /tmp/offseed-t.XXXXXX)
export OFFSEED_STATE="$T/state"
PASS="$T/pass"
printf 'correct horse battery staple 42\n' >"$PASS"
chmod 600 "$PASS"
export OFFSEED_TEST_KDF_FAST=1	# scrypt N=2^10 for key slots made by tests (FORMAT.md)
trap 'rc=$?; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ofs() { "$OFFSEED" --passphrase-file "$PASS" --no-progress "$@"; }
expect_exit() {	# CODE CMD...
	local want=$1; shift
	"$@" >"$T/out" 2>"$T/err"; local got=$?
	if [ "$got" != "$want" ]; then
		echo "--- stdout"; cat "$T/out"; echo "--- stderr"; cat "$T/err"
		fail "expected exit $want, got $got: $*"
	fi
}
assert_contains() {	# FILE TEXT
	grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "'$1' does not contain '$2'"; }
}
need() {	# a tool the test cannot do without: missing → fail loudly, never skip
	command -v "$1" >/dev/null 2>&1 || fail "required tool '$1' is missing (run make deps)"
}
# flip_data_byte FILE OFFSET: flip one byte at or after OFFSET that lies inside pack data
# (not in the zero padding between packs: 32 bytes around it are not all zero). Prints the
# offset flipped.
flip_data_byte() {
	python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
	while True:
		f.seek(off - 16)
		if any(f.read(32)):
			break
		off += 4096
	f.seek(off)
	b = f.read(1)
	f.seek(off)
	f.write(bytes([b[0] ^ 0x01]))
print(off)
PY
}
