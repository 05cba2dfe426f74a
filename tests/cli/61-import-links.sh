#!/bin/bash
# The copy-log links `offseed import logs` and `repair` follow (SPEC §15): a job run to its
# end by the real offseed-dc, then its links rewritten in the service's state (the service
# trusts its own state) to point elsewhere: a private file outside the storage folder, a
# symbolic link (file or folder) inside it leading out, "..", a bad escape, a FIFO, an
# http(s) URL of another origin — each refused (exit 4) naming the link, nothing copied,
# nothing requested. The real link works and the log lands with mode 0600. Then names
# that are not UTF-8 text: an extra file with such a name on the disk (the service logs it
# escaped, or without a path) does not stop `repair`, an escaped path is decoded back to
# the disk's bytes, a malformed entry costs only itself, and no raw control byte reaches
# the terminal.
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"
need python3

DC_PID=""
LISTEN_PID=""
cleanup() {
	[ -n "$DC_PID" ] && { kill "$DC_PID" 2>/dev/null; wait "$DC_PID" 2>/dev/null; }
	[ -n "$LISTEN_PID" ] && { kill "$LISTEN_PID" 2>/dev/null; wait "$LISTEN_PID" 2>/dev/null; }
}
trap 'rc=$?; cleanup; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export OFFSEED_DC_STATE="$T/dcstate"	# the dock's admin credential (newer offseed-dc)
dc_up() {
	"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$T/dcstate" \
	    --storage "file:$T/storage" >>"$T/dc.log" 2>&1 &
	DC_PID=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && return 0
		kill -0 "$DC_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/dc.log"; fail "offseed-dc did not start"
}
dc_down() { kill -TERM "$DC_PID"; wait "$DC_PID" 2>/dev/null; DC_PID=""; }
jv() {	# FILE EXPR
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}
# no_ctl FILE…: no raw control byte (other than newline and tab) in what offseed printed
no_ctl() {
	for f in "$@"; do
		! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$f" || { cat -v "$f"; fail "raw control bytes in $f"; }
	done
}

cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF

# A staging repository; its disk has one flipped byte and an extra file whose name is not
# UTF-8 (and holds an ESC), so the job ends CompletedWithErrors with both in the error log.
mkdir -p "$T/src/d" "$T/disk"
head -c 300000 /dev/urandom >"$T/src/d/rand.bin"
seq 1 20000 >"$T/src/seq.txt"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk" --job seed-links --serial "$T/disk=SER-L"
vhd=$(cd "$T/disk" && ls PageBlob/backups/srv01/containers/*.vhd | head -n 1)
python3 - "$T/disk/$vhd" <<'PY'
import sys
f=open(sys.argv[1],'r+b'); f.seek(100000); b=f.read(1); f.seek(100000); f.write(bytes([b[0]^0x20])); f.close()
PY
odd=$'BlockBlob/backups/srv01/caf\xe9\x1b[31m.txt'
echo extra >"$T/disk/$odd"

dc_up
# the customer's account is the repository's destination account (azure://acct/…)
"$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/cred.json" \
    --endpoint http://127.0.0.1:$PORT --account acct >/dev/null ||
    fail "offseed-dc credentials failed"
export OFFSEED_CREDENTIALS="$T/cred.json"
STORE=$(jv "$T/cred.json" 'd["storage"]'); STORE=${STORE#file:}
[ -d "$STORE" ] || mkdir -p "$STORE"
expect_exit 0 ofs import create --job seed-links --repo "$T/repo" --contact "$T/contact.json"
expect_exit 0 ofs import ship --job seed-links --carrier DHL --tracking 1Z1
"$OFFSEED_DC" receive --url http://127.0.0.1:$PORT --job seed-links "SER-L=$T/disk" \
    >/dev/null 2>"$T/recv.err" || { cat "$T/recv.err"; fail "offseed-dc receive failed"; }
expect_exit 4 ofs import status --job seed-links --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "CompletedWithErrors"

JOBFILE=$(find "$T/dcstate" -path '*jobs*' -name seed-links.json | head -n 1)
[ -f "$JOBFILE" ] || fail "no job document for seed-links in $T/dcstate"
REAL_ELOG=$(find "$STORE" -path '*seed-links*' -name error.json | head -n 1)
[ -f "$REAL_ELOG" ] || fail "no error log under $STORE"
GOOD_LINK=$(jv "$JOBFILE" 'd["disks"]["SER-L"]["errorLogLink"]')
GOOD_VLINK=$(jv "$JOBFILE" 'd["disks"]["SER-L"]["verboseLogLink"]')
case "$GOOD_LINK" in file://*) ;; *) fail "the service's link '$GOOD_LINK' is not a file:// URL";; esac

# set_links ELINK [VLINK]: stop the service, rewrite the disk's links in its state, restart.
set_links() {
	dc_down
	python3 - "$JOBFILE" "$1" "${2:-$GOOD_VLINK}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["disks"]["SER-L"]["errorLogLink"] = sys.argv[2]
d["disks"]["SER-L"]["verboseLogLink"] = sys.argv[3]
json.dump(d, open(sys.argv[1], "w"))
PY
	dc_up
}
# refused LINK WHY: import logs refuses LINK (exit 4, the link named, WHY said), copies
# nothing; import repair refuses it too.
refused() {
	local link=$1 why=$2 out="$T/out-$RANDOM"
	set_links "$link"
	expect_exit 4 timeout 20 "$OFFSEED" --no-progress import logs --job seed-links --out "$out"
	assert_contains "$T/err" "refusing the copy-log link '${link%%\?*}"
	assert_contains "$T/err" "$why"
	no_ctl "$T/out" "$T/err"
	! grep -rqs "TOP-SECRET" "$out" "$T/out" "$T/err" || fail "the private file leaked through '$link'"
	[ -z "$(ls -A "$out" 2>/dev/null)" ] || fail "import logs wrote $(ls "$out") for a refused link"
	expect_exit 4 timeout 20 "$OFFSEED" --passphrase-file "$PASS" --no-progress import repair \
	    --job seed-links --repo "$T/repo"
	assert_contains "$T/err" "refusing the copy-log link"
}

# ---- the real link: works, and the copy is private whatever the source's mode ----------
chmod 600 "$REAL_ELOG"
umask 022
expect_exit 0 ofs import logs --job seed-links --out "$T/logs"
[ "$(stat -c %a "$T/logs/SER-L-error.json")" = 600 ] || fail "error log saved with mode $(stat -c %a "$T/logs/SER-L-error.json")"
[ "$(stat -c %a "$T/logs/SER-L-verbose.json")" = 600 ] || fail "verbose log not 0600"
cmp "$REAL_ELOG" "$T/logs/SER-L-error.json" || fail "the saved error log differs"
assert_contains "$T/out" "$vhd: hash_mismatch"
no_ctl "$T/out" "$T/err"
chmod 644 "$REAL_ELOG"

# ---- hostile links ---------------------------------------------------------------------
mkdir -p "$T/private"
echo "root:TOP-SECRET-HASH:19000:0:99999:7:::" >"$T/private/shadow"
chmod 600 "$T/private/shadow"
LOGDIR=$(dirname "$REAL_ELOG")

refused "file://$T/private/shadow" "outside the storage folder"
refused "file://localhost$T/private/shadow" "outside the storage folder"
refused "$T/private/shadow" "outside the storage folder"
ln -s "$T/private/shadow" "$LOGDIR/evil.json"
refused "file://$LOGDIR/evil.json" "symbolic link"
ln -s "$T/private" "$LOGDIR/evildir"
refused "file://$LOGDIR/evildir/shadow" "symbolic link"
refused "file://$LOGDIR/../../../../../private/shadow" "'..'"
refused "file://$LOGDIR/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/private/shadow" "'..'"
refused "file://$LOGDIR/error.json%00.txt" "well-formed"
refused "file://$LOGDIR/err%zzor.json" "well-formed"
refused "file://otherhost$LOGDIR/error.json" "well-formed"
mkfifo "$LOGDIR/fifo.json"
refused "file://$LOGDIR/fifo.json" "not a regular file"
refused "ftp://127.0.0.1/error.json" "unsupported kind of address"
# another origin: refused before any connection (the token goes nowhere else either)
LPORT=$(free_port)
python3 - "$LPORT" "$T/hit" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
while True:
    c, _ = s.accept(); open(sys.argv[2], "a").write("hit\n"); c.close()
PY
LISTEN_PID=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$LPORT),0.2)" 2>/dev/null && break; sleep 0.1; done
rm -f "$T/hit"
refused "http://127.0.0.1:$LPORT/offseed-copylogs/seed-links/error.json?sig=abc" "neither to the import service"
refused "http://127.0.0.1:$PORT@127.0.0.1:$LPORT/x" "neither to the import service"
refused "https://evil.example/x" "neither to the import service"
[ ! -e "$T/hit" ] || fail "offseed connected to a link of another origin"
# the verbose link is checked the same way
set_links "$GOOD_LINK" "file://$T/private/shadow"
expect_exit 4 ofs import logs --job seed-links --out "$T/logs-v"
assert_contains "$T/err" "refusing the copy-log link 'file://$T/private/shadow'"
# credentials without a file: storage folder: no file: link is followed at all
set_links "$GOOD_LINK"
python3 - "$T/cred.json" "$T/cred-nostore.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d.pop("storage", None)
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(d).encode()); os.close(fd)
PY
expect_exit 4 env OFFSEED_CREDENTIALS="$T/cred-nostore.json" "$OFFSEED" --no-progress \
    import logs --job seed-links --out "$T/logs-ns"
assert_contains "$T/err" "names no file: storage folder"

# ---- names that are not UTF-8 --------------------------------------------------------------
# The service's own error log lists the extra file (escaped, or without a path from an older
# service): logs shows it escaped or says the entry cannot be used, repair ignores it.
expect_exit 0 ofs import logs --job seed-links --out "$T/logs2"
no_ctl "$T/out" "$T/err"
if grep -q pathEncoding "$REAL_ELOG"; then
	assert_contains "$T/out" 'caf%E9%1B[31m.txt: unlisted'
fi
expect_exit 0 ofs --json import repair --job seed-links --repo "$T/repo"
no_ctl "$T/out" "$T/err"
python3 - "$T/out" <<'PY' || fail "repair summary wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["repaired"] == 1 and s["failed"] == 0 and s["entries_unusable"] == 0, s
PY
cmp "$T/repo/containers/$(basename "$vhd")" "$STORE/${vhd#PageBlob/}" ||
    fail "the repaired blob differs from the staging container"

# A log written by hand inside the storage folder: an escaped path decodes to the disk's
# bytes (here a plain name, so the staging manifest knows it), escaped odd names print
# escaped, a malformed escape of an extra file is ignored, one of a listed file costs only
# that file (exit 4, the other file still repaired).
blk=$(cd "$T/disk" && ls BlockBlob/backups/srv01/*.json 2>/dev/null | head -n 1)
[ -n "$blk" ] || blk=$(cd "$T/disk" && find BlockBlob -type f ! -name 'caf*' | head -n 1)
enc=$(python3 -c 'import sys; p=sys.argv[1]; print(p[:-1] + "%%%02X" % ord(p[-1]))' "$blk")
rm -f "$STORE/${vhd#PageBlob/}" "$STORE/${blk#BlockBlob/}"
python3 - "$REAL_ELOG" "$LOGDIR/crafted.json" "$vhd" "$enc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["files"] = [
    {"path": sys.argv[3], "error": "hash_mismatch", "detail": "flipped"},
    {"path": sys.argv[4], "pathEncoding": "percent", "error": "hash_mismatch", "detail": "x"},
    {"path": "BlockBlob/backups/srv01/caf%E9%1B[31m.txt", "pathEncoding": "percent",
     "error": "unlisted", "detail": ""},
    {"path": "BlockBlob/backups/srv01/bad%G1", "pathEncoding": "percent", "error": "unlisted"},
]
json.dump(d, open(sys.argv[2], "w"))
d["files"].append({"path": "BlockBlob/backups/srv01/gone%", "pathEncoding": "percent",
                   "error": "missing"})
json.dump(d, open(sys.argv[2] + ".bad.json", "w"))
PY
set_links "file://$LOGDIR/crafted.json"
expect_exit 0 ofs import logs --job seed-links --out "$T/logs3"
assert_contains "$T/out" 'caf%E9%1B[31m.txt: unlisted'
assert_contains "$T/err" "malformed percent escape"
no_ctl "$T/out" "$T/err"
expect_exit 0 ofs --json import repair --job seed-links --repo "$T/repo"
python3 - "$T/out" <<'PY' || fail "repair of an escaped path wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["repaired"] == 2 and s["failed"] == 0, s
PY
cmp "$T/disk/$blk" "$STORE/${blk#BlockBlob/}" || fail "the escaped path was not decoded to $blk"
set_links "file://$LOGDIR/crafted.json.bad.json"
expect_exit 4 ofs --json import repair --job seed-links --repo "$T/repo"
assert_contains "$T/err" "gone%"
python3 - "$T/out" <<'PY' || fail "repair with an unusable entry wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["repaired"] == 2 and s["entries_unusable"] == 1, s
PY
echo "ok"
