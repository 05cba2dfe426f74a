#!/bin/bash
# Formats from the future: a repository config, a key slot, a container and a manifest with
# version 2 are refused with exit 7 and a message naming both versions (2 and this build's 1),
# before a passphrase is asked for and without writing anything.
. "$(dirname "$0")/lib.sh"
need python3
need xxhsum
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FIX="$TOP/tests/fixtures/newer-repo"
[ -f "$FIX/config" ] || fail "fixture $FIX is missing"
grep -q '"version": 2' "$FIX/config" || fail "fixture config does not say version 2"
listing() { (cd "$FIX" && find . -printf '%p %s %T@\n' | sort); }
before=$(listing)

# --- repository config version 2 (golden fixture) ---
expect_exit 7 ofs snapshots --repo "$FIX"
assert_contains "$T/err" "repository format version 2 is newer than this offseed supports (1)"
[ ! -s "$T/out" ] || fail "snapshots printed results for a newer repository"
# No passphrase anywhere: the version is reported before one is needed.
expect_exit 7 env -u OFFSEED_PASSPHRASE -u OFFSEED_PASSPHRASE_FILE \
    "$OFFSEED" --no-progress snapshots --repo "$FIX" </dev/null
assert_contains "$T/err" "version 2"
expect_exit 7 ofs --json snapshots --repo "$FIX"
python3 - "$T/out" <<'PY' || fail "--json error for a newer repository is wrong"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert e["type"] == "error" and e["code"] == 7, e
assert "version 2" in e["message"] and "(1)" in e["message"], e
PY
expect_exit 7 ofs ls latest --repo "$FIX"
assert_contains "$T/err" "version 2"
expect_exit 7 ofs restore latest --repo "$FIX" --target "$T/target"
assert_contains "$T/err" "version 2"
[ ! -e "$T/target" ] || fail "restore from a newer repository created the target"
expect_exit 7 ofs check --repo "$FIX"
assert_contains "$T/err" "version 2"
# Writers too, on a copy (a bug must not dirty the fixture).
cp -a "$FIX" "$T/newer"
mkdir -p "$T/src"; echo data >"$T/src/f"
expect_exit 7 ofs stage --repo "$T/newer" "$T/src"
assert_contains "$T/err" "repository format version 2 is newer than this offseed supports (1)"
[ "$(cd "$T/newer" && find . | sort)" = "$(cd "$FIX" && find . | sort)" ] ||
	fail "stage wrote into a newer repository"
[ "$(listing)" = "$before" ] || fail "the fixture changed"
[ ! -e "$T/state/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repository"])' "$FIX/config")" ] ||
	fail "a state dir was made for a repository this build cannot read"

# --- a real staged repository to age ---
mkdir -p "$T/s"
seq 1 200000 >"$T/s/a.txt"
head -c 2000000 /dev/urandom >"$T/s/b.bin"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/s"
expect_exit 0 ofs verify "$T/repo"

# --- key slot version 2 ---
cp -a "$T/repo" "$T/keyv2"
slot=$(ls "$T/keyv2/keys/"*)
python3 - "$slot" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); assert s["version"] == 1; s["version"] = 2
open(sys.argv[1], "w").write(json.dumps(s, indent=2, sort_keys=True) + "\n")
PY
expect_exit 7 ofs snapshots --repo "$T/keyv2"
assert_contains "$T/err" "key slot format version 2 is newer than this offseed supports (1)"
expect_exit 7 ofs restore latest --repo "$T/keyv2" --target "$T/target2"
assert_contains "$T/err" "version 2"
[ ! -e "$T/target2" ] || fail "restore with a newer key slot created the target"

# --- container version 2 (superblock and trailer; checksums valid), manifest updated so the
# staging folder is exactly what a newer offseed would have written ---
cp -a "$T/repo" "$T/ctrv2"
ctr=$(cd "$T/ctrv2" && ls containers/*.vhd | head -n 1)
python3 - "$T/ctrv2/$ctr" "$T/ctrv2/offseed-manifest.json" "$ctr" <<'PY' || fail "cannot age the container"
import json, struct, subprocess, sys
path, mpath, rel = sys.argv[1:4]
def xxh(args, data):
	return subprocess.run(["xxhsum"] + args + ["-"], input=data, capture_output=True,
	    check=True).stdout.split()
data = bytearray(open(path, "rb").read())
virt = len(data) - 512
heads = [0]
for off in range(virt - 4096, max(virt - (1 << 20), 4096) - 1, -4096):
	if any(data[off:off + 4096]):
		assert data[off:off + 8] == b"OFSTRAIL", "last non-zero block is not the trailer"
		heads.append(off)
		break
assert len(heads) == 2 and data[:8] == b"OFSCONT\0"
for off in heads:
	assert struct.unpack_from("<I", data, off + 8)[0] == 1
	struct.pack_into("<I", data, off + 8, 2)
	# XXH3-64 of bytes [0, 4088), stored u64le; xxhsum prints it big-endian hex
	h = int(xxh(["-H3"], bytes(data[off:off + 4088]))[-1], 16)
	struct.pack_into("<Q", data, off + 4088, h)
open(path, "wb").write(data)
m = json.load(open(mpath))
for f in m["files"]:
	if f["path"] == rel:
		assert "regions" not in f, "test container is expected to be one region"
		f["xxh128"] = xxh(["-H2"], bytes(data))[0].decode()
open(mpath, "w").write(json.dumps(m, indent=2))
PY
expect_exit 7 ofs verify "$T/ctrv2"
assert_contains "$T/out" "too new: $ctr"
assert_contains "$T/out" "container format version 2 is newer than this offseed supports (version 1)"
grep -q "^corrupt\|^bad structure\|checksum mismatch" "$T/out" && fail "the aged container is reported as damaged"
expect_exit 7 ofs --json verify "$T/ctrv2"
python3 - "$T/out" <<'PY' || fail "--json verify of a newer container is wrong"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["type"] == "summary" and s["exit_code"] == 7 and not s["ok"], s
assert s["by_kind"] == {"version_too_new": 1}, s["by_kind"]
p = s["problems"][0]
assert p["kind"] == "version_too_new" and p["path"].startswith("containers/"), p
assert "version 2" in p["detail"] and "version 1" in p["detail"], p
PY
# Known through index files (which skip the container structure): the first read from the
# container still checks its header, so restore and check refuse it instead of reading on.
expect_exit 7 ofs restore latest --repo "$T/ctrv2" --target "$T/target2b"
assert_contains "$T/err" "version 2"
[ ! -e "$T/target2b" ] || [ -z "$(find "$T/target2b" -type f)" ] || fail "restore wrote files from a newer container"
expect_exit 7 ofs check --repo "$T/ctrv2" --read-data
assert_contains "$T/err" "version 2"
# A container known only through its own index (crash before the index file was written):
# reading it needs its header, which is from the future.
rm "$T/ctrv2/index/"*
expect_exit 7 ofs restore latest --repo "$T/ctrv2" --target "$T/target3"
assert_contains "$T/err" "container format version 2 is newer than this offseed supports (version 1)"
expect_exit 7 ofs check --repo "$T/ctrv2" --read-data
assert_contains "$T/err" "version 2"

# --- manifest version 2 ---
cp -a "$T/repo" "$T/manv2"
python3 - "$T/manv2/offseed-manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); assert m["version"] == 1; m["version"] = 2
open(sys.argv[1], "w").write(json.dumps(m, indent=2))
PY
expect_exit 7 ofs verify "$T/manv2"
assert_contains "$T/out" "too new: offseed-manifest.json"
assert_contains "$T/out" "format version 2, newer than this offseed supports (version 1)"

# the untouched original still verifies: the damage above was all in copies
expect_exit 0 ofs verify "$T/repo"
echo ok
