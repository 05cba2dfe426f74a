#!/bin/bash
# offseed-dc against hostile disks (SPEC §15, docs/DC.md "Threat model"): each disk below is
# built the way an attacker would, with a manifest whose hash the job registers. For every
# one: nothing outside the disk is read into the storage, nothing outside the customer's
# account is written, no size, hash or byte of a host file reaches a copy log, the job
# reaches a final stage, and the service keeps answering.
. "$(dirname "$0")/55-dc-lib.sh"
need xxhsum
need sha256sum

mkdir -p "$T/src"
head -c 300000 /dev/urandom >"$T/src/r.bin"
seq 1 20000 >"$T/src/text.txt"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
REPO="$T/repo"

# The datacenter host's own files: what an attacker would like to read.
HOST="$T/host"
mkdir -p "$HOST"
printf 'HOST-SECRET-%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$HOST/secret.txt"
chmod 600 "$HOST/secret.txt"
SECRET=$(cat "$HOST/secret.txt")
SECRET_SIZE=$(stat -c %s "$HOST/secret.txt")
SECRET_XXH=$(xxhsum -H2 "$HOST/secret.txt" | cut -d' ' -f1)
SECRET_SHA=$(sha256sum "$HOST/secret.txt" | cut -d' ' -f1)

dc_start
dc_creds "$T/cred.json"
dc_token
ACCT_DIR=$(jv "$T/cred.json" 'd["storage"]'); ACCT_DIR=${ACCT_DIR#file:}
[ -n "$ACCT_DIR" ] || fail "the credentials name no storage"
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"1Z1"}}' >"$T/ship.json"

# add_entries DISK PATH:SIZE:XXH…: list more files in the disk's manifest (kept sorted);
# prints the manifest's new SHA-256. PATH may hold \xNN escapes.
add_entries() {
	python3 - "$@" <<'PY'
import hashlib, json, os, sys
disk = sys.argv[1]
mf = os.path.join(disk, "offseed-manifest.json")
m = json.load(open(mf))
for a in sys.argv[2:]:
    p, size, xxh = a.rsplit(":", 2)
    m["files"].append({"path": p, "size": int(size), "xxh128": xxh})
m["files"].sort(key=lambda f: f["path"])
open(mf, "w").write(json.dumps(m, indent=2))
print(hashlib.sha256(open(mf, "rb").read()).hexdigest())
PY
}
# submit NAME SERIAL HASH DISK: create the job, ship it, receive the disk.
submit() {
	job_body "$T/$1.json" "$2=$3"
	expect_status 201 PUT "$BASE/jobs/$1?$V" "$T/$1.json"
	expect_status 204 POST "$BASE/jobs/$1/markDevicesShipped?$V" "$T/ship.json"
	expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job "$1" "$2=$4"
}
# final NAME SECONDS: wait until the job is in an end stage; prints it.
final() {
	local st=""
	for _ in $(seq 1 $(($2 * 5))); do
		[ "$(api GET "$BASE/jobs/$1?$V&\$expand=details")" = 200 ] || fail "GET $1 failed"
		st=$(jv "$T/resp" 'd["properties"]["status"]')
		case "$st" in Completed*|Failed*) echo "$st"; return 0;; esac
		sleep 0.2
	done
	cat "$T/resp" >&2; fail "job $1 is still $st after $2 s"
}
errlog() {	# SERIAL → path of the error log (from the last GET)
	local l
	l=$(jv "$T/resp" "[c for c in d['properties']['details']['copyLogDetails'] if c['serialNumber'] == '$1'][0]['errorLogLink']")
	python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1][7:]))' "$l"
}
# no_leak WHAT [sha]: no host secret, its size-as-found, hash or SHA-256 in the storage or
# the logs a customer reads (the job answers and the copy logs). "sha": the job registered
# the host file's SHA-256 itself, so its echo proves nothing and is not looked for.
no_leak() {
	! grep -rqF "$SECRET" "$T/storage" || fail "$1: the host file's bytes reached the storage"
	for f in "$T/storage" "$T/resp"; do
		! grep -rqiF "$SECRET_XXH" "$f" || fail "$1: the host file's XXH3-128 is in $f"
		[ "${2:-}" = sha ] || ! grep -rqiF "$SECRET_SHA" "$f" ||
		    fail "$1: the host file's SHA-256 is in $f"
		! grep -rqE "found $SECRET_SIZE\\b" "$f" || fail "$1: the host file's size is in $f"
	done
}
alive() {	# the service still answers another client
	[ "$(api GET "$BASE/jobs?$V")" = 200 ] || fail "$1: the service stopped answering"
}

# ---- 1. a folder symlink on the disk leading to a host folder (the critical one) ----
make_disk "$REPO" "$T/d1" S1 >/dev/null
ln -s "$HOST" "$T/d1/BlockBlob/seed/leak"
h=$(add_entries "$T/d1" "BlockBlob/seed/leak/secret.txt:$SECRET_SIZE:$SECRET_XXH")
submit hd-dirlink S1 "$h" "$T/d1"
st=$(final hd-dirlink 30)
[ "$st" = CompletedWithErrors ] || fail "folder symlink: job ended $st"
e=$(errlog S1)
[ "$(jv "$e" '[f["path"] for f in d["files"] if f["error"] != "unlisted"]')" = '["BlockBlob/seed/leak/secret.txt"]' ] ||
    { cat "$e"; fail "folder symlink: the error log does not name the file"; }
assert_contains "$e" "symbolic link"
[ ! -e "$ACCT_DIR/seed/leak" ] || fail "folder symlink: something was imported from it"
no_leak "folder symlink"

# a symlink as the last component, and one to a host file of the same name
make_disk "$REPO" "$T/d1b" S1B >/dev/null
ln -s "$HOST/secret.txt" "$T/d1b/BlockBlob/seed/direct.txt"
h=$(add_entries "$T/d1b" "BlockBlob/seed/direct.txt:$SECRET_SIZE:$SECRET_XXH")
submit hd-filelink S1B "$h" "$T/d1b"
[ "$(final hd-filelink 30)" = CompletedWithErrors ] || fail "file symlink: job state"
[ ! -e "$ACCT_DIR/seed/direct.txt" ] || fail "file symlink: imported"
no_leak "file symlink"

# ---- 2. the manifest itself a symlink to a host file, then a FIFO ----
CONT=mlink make_disk "$REPO" "$T/d2" S2 >/dev/null
rm "$T/d2/offseed-manifest.json"
ln -s "$HOST/secret.txt" "$T/d2/offseed-manifest.json"
submit hd-mlink S2 "$SECRET_SHA" "$T/d2"
[ "$(final hd-mlink 30)" = Failed_IssueDetectedAtAzureDC ] || fail "manifest symlink: job state"
e=$(errlog S2)
[ "$(jv "$e" 'd["files"][0]["error"]')" = ManifestMissing ] || { cat "$e"; fail "manifest symlink: reason"; }
assert_contains "$e" "symbolic link"
no_leak "manifest symlink" sha
[ ! -e "$ACCT_DIR/mlink" ] || fail "manifest symlink: files were imported"

make_disk "$REPO" "$T/d3" S3 >/dev/null
h=$(sha256sum "$T/d3/offseed-manifest.json" | cut -d' ' -f1)
rm "$T/d3/offseed-manifest.json"
mkfifo "$T/d3/offseed-manifest.json"
submit hd-mfifo S3 "$h" "$T/d3"
[ "$(final hd-mfifo 20)" = Failed_IssueDetectedAtAzureDC ] || fail "manifest FIFO: job state"
assert_contains "$(errlog S3)" "FIFO"
alive "manifest FIFO"

# ---- 3. FIFOs, sockets and hard links among the listed files ----
make_disk "$REPO" "$T/d4" S4 >/dev/null
mkfifo "$T/d4/BlockBlob/seed/fifo"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/d4/BlockBlob/seed/sock"
cp "$HOST/secret.txt" "$HOST/linked.txt"
ln "$HOST/linked.txt" "$T/d4/BlockBlob/seed/hardlink.txt"
h=$(add_entries "$T/d4" "BlockBlob/seed/fifo:$SECRET_SIZE:$SECRET_XXH" \
    "BlockBlob/seed/sock:$SECRET_SIZE:$SECRET_XXH" \
    "BlockBlob/seed/hardlink.txt:$SECRET_SIZE:$SECRET_XXH")
submit hd-special S4 "$h" "$T/d4"
[ "$(final hd-special 30)" = CompletedWithErrors ] || fail "special files: job state"
e=$(errlog S4)
[ "$(jv "$e" 'sorted(f["path"] for f in d["files"])')" = \
    '["BlockBlob/seed/fifo", "BlockBlob/seed/hardlink.txt", "BlockBlob/seed/sock"]' ] ||
    { cat "$e"; fail "special files: the error log"; }
assert_contains "$e" "FIFO"
assert_contains "$e" "socket"
assert_contains "$e" "hard link"
for f in fifo sock hardlink.txt; do
	[ ! -e "$ACCT_DIR/seed/$f" ] || fail "special files: $f imported"
done
no_leak "special files"
alive "special files"

# ---- 4. '..' in a manifest path: the manifest is refused, nothing read ----
make_disk "$REPO" "$T/d5" S5 >/dev/null
h=$(add_entries "$T/d5" "BlockBlob/seed/../../../host/secret.txt:$SECRET_SIZE:$SECRET_XXH")
submit hd-dotdot S5 "$h" "$T/d5"
[ "$(final hd-dotdot 30)" = Failed_IssueDetectedAtAzureDC ] || fail "'..': job state"
[ "$(jv "$(errlog S5)" 'd["files"][0]["error"]')" = ManifestInvalid ] || fail "'..': reason"
no_leak "'..'"

# ---- 5. the copy-log container: a disk cannot write another job's logs ----
make_disk "$REPO" "$T/d6" S6 >/dev/null
mkdir -p "$T/d6/BlockBlob/offseed-copylogs/hd-dirlink/S1"
echo '{"forged": true}' >"$T/d6/BlockBlob/offseed-copylogs/hd-dirlink/S1/error.json"
f=$T/d6/BlockBlob/offseed-copylogs/hd-dirlink/S1/error.json
h=$(add_entries "$T/d6" "BlockBlob/offseed-copylogs/hd-dirlink/S1/error.json:$(stat -c %s "$f"):$(xxhsum -H2 "$f" | cut -d' ' -f1)")
submit hd-forge S6 "$h" "$T/d6"
[ "$(final hd-forge 30)" = CompletedWithErrors ] || fail "reserved container: job state"
assert_contains "$(errlog S6)" "ReservedContainer"
! grep -qF forged "$ACCT_DIR/offseed-copylogs/hd-dirlink/S1/error.json" ||
    fail "a disk overwrote another job's copy log"

# ---- 6. names that are not UTF-8 or hold terminal escapes; deep folders; many entries ----
make_disk "$REPO" "$T/d7" S7 >/dev/null
printf 'x' >"$T/d7/BlockBlob/seed/$(printf 'bad\377\033]0;pwn\007')"
deep="$T/d7/BlockBlob/deep"
python3 - "$deep" <<'PY'
import os, sys
p = sys.argv[1]
for i in range(200):
    p = os.path.join(p, "d")
os.makedirs(p)
open(os.path.join(p, "f"), "w").write("x")
PY
python3 - "$T/d7/BlockBlob/zmany" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for i in range(20000):
    open(os.path.join(sys.argv[1], "f%05d" % i), "w").close()
PY
h=$(sha256sum "$T/d7/offseed-manifest.json" | cut -d' ' -f1)
submit hd-names S7 "$h" "$T/d7"
[ "$(final hd-names 60)" = CompletedWithWarnings ] || fail "odd names: job state"
e=$(errlog S7)
python3 - "$e" <<'PY' || fail "odd names: the error log"
import json, sys
d = json.load(open(sys.argv[1]))
files = d["files"]
esc = [f for f in files if f.get("pathEncoding") == "percent"]
assert [f["path"] for f in esc] == ["BlockBlob/seed/bad%FF%1B]0;pwn%07"], esc
assert all("path" in f for f in files), "an entry without path"
assert len(files) <= 1001, len(files)
assert d["unlistedFiles"] >= 20001, d["unlistedFiles"]
assert any("nested" in f.get("detail", "") for f in files), "the deep folder is not reported"
PY
! grep -q $'\033' "$e" || fail "odd names: a raw escape character in the log"
alive "odd names"

# ---- 7. declared sizes that overflow a 64-bit sum ----
make_disk "$REPO" "$T/d8" S8 >/dev/null
h=$(python3 - "$T/d8" <<'PY'
import hashlib, json, os, sys
mf = os.path.join(sys.argv[1], "offseed-manifest.json")
m = json.load(open(mf))
for i in range(50000):
    m["files"].append({"path": "BlockBlob/huge/f%05d" % i, "size": 2**62,
                       "xxh128": "00" * 16})
m["files"].sort(key=lambda f: f["path"])
open(mf, "w").write(json.dumps(m))
print(hashlib.sha256(open(mf, "rb").read()).hexdigest())
PY
)
submit hd-huge S8 "$h" "$T/d8"
st=$(final hd-huge 60)
[ "$st" = Failed_IssueDetectedAtAzureDC ] || fail "overflowing sizes: job ended $st"
tb=$(jv "$T/resp" "[p for p in d['properties']['details']['copyProgress'] if p['serialNumber'] == 'S8'][0]['totalBytesToProcess']")
[ "$tb" -ge 0 ] || fail "overflowing sizes: totalBytesToProcess $tb"
[ "$(jv "$(errlog S8)" 'd["files"][0]["error"]')" = ManifestInvalid ] || fail "overflowing sizes: reason"

# ---- and a good disk still imports next to all that ----
h=$(make_disk "$REPO" "$T/dgood" SG)
submit hd-good SG "$h" "$T/dgood"
[ "$(final hd-good 60)" = Completed ] || fail "the good disk did not complete"
for f in $(jv "$REPO/offseed-manifest.json" '" ".join(f["path"] for f in d["files"])'); do
	cmp "$REPO/$f" "$ACCT_DIR/seed/srv01/$f" || fail "storage copy of $f differs"
done
dc_stop
echo "56-dc-hostile-disk: ok"
