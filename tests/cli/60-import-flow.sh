#!/bin/bash
# The import job end to end against the real offseed-dc (file: storage): create (twice: one
# job), ship, the dock receives the disk, status --wait ends Completed and the blobs are the
# disk's files; then a disk with a flipped byte ends CompletedWithErrors, `import logs`
# fetches the error log naming the file, and `import repair` uploads it from the staging
# repository and re-checks it.
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"

DC_PIDS=()
stop_dcs() { for p in "${DC_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap 'rc=$?; stop_dcs; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_dc NAME ARGS…: serve with state $T/NAME-state and storage $T/NAME-store; sets PORT,
# writes credentials to $T/NAME-cred.json.
start_dc() {
	local name=$1; shift
	PORT=$(free_port)
	"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$T/$name-state" \
	    --storage "file:$T/$name-store" "$@" >"$T/$name-dc.log" 2>&1 &
	DC_PIDS+=($!)
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
		sleep 0.1
	done
	# the customer's account is the repository's destination account (azure://acct/…)
	"$OFFSEED_DC" credentials --state "$T/$name-state" --out "$T/$name-cred.json" \
	    --endpoint http://127.0.0.1:$PORT --account acct >/dev/null ||
	    fail "offseed-dc credentials failed"
	export OFFSEED_DC_STATE=$T/$name-state
}

cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF

# A staging repository and one prepared disk.
mkdir -p "$T/src/d" "$T/disk1" "$T/disk2"
head -c 400000 /dev/urandom >"$T/src/d/rand.bin"
seq 1 50000 >"$T/src/seq.txt"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk1" --job seed-flow --serial "$T/disk1=SER-1"
[ -f "$T/repo/jobs/seed-flow.json" ] || fail "prep wrote no job draft"

# --- the whole path -------------------------------------------------------------------
start_dc a
export OFFSEED_CREDENTIALS="$T/a-cred.json"
URL=http://127.0.0.1:$PORT
expect_exit 0 ofs import create --job seed-flow --repo "$T/repo" --contact "$T/contact.json"
assert_contains "$T/out" "job seed-flow created (stage Created)"
# again: the service keeps one job per name and says so
expect_exit 0 ofs --json import create --job seed-flow --repo "$T/repo" --contact "$T/contact.json"
python3 - "$T/out" <<'PY' || fail "second create summary wrong"
import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines)==1, lines
s=lines[0]
assert s["type"]=="summary" and s["command"]=="import create", s
assert s["created"] is False and s["stage"]=="Created" and s["job"]=="seed-flow", s
PY
expect_exit 0 ofs --json import list
python3 - "$T/out" <<'PY' || fail "import list does not show exactly one job"
import json,sys
s=json.loads(open(sys.argv[1]).read())
assert s["count"]==1 and s["jobs"][0]["job"]=="seed-flow" and s["jobs"][0]["stage"]=="Created", s
PY
# the vault is recorded for the repository on the first create
grep -q . "$T"/state/*/vault || fail "no vault recorded in the state dir"

expect_exit 0 ofs import ship --job seed-flow --carrier DHL --tracking 1Z999
assert_contains "$T/out" "ShippedToAzureDC"
"$OFFSEED_DC" receive --url "$URL" --job seed-flow "SER-1=$T/disk1" >/dev/null ||
    fail "offseed-dc receive failed"
expect_exit 0 ofs import status --job seed-flow --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "job seed-flow: Completed"
assert_contains "$T/out" "disk SER-1: Completed"
expect_exit 0 ofs --json import status --job seed-flow
python3 - "$T/out" <<'PY' || fail "status --json wrong"
import json,sys
s=json.loads(open(sys.argv[1]).read())
assert s["type"]=="summary" and s["stage"]=="Completed", s
d=s["disks"][0]
assert d["serial"]=="SER-1" and d["copy_status"]=="Completed", d
assert d["files_errored"]==0 and d["files_processed"]==d["total_files"]>0, d
assert d["bytes_processed"]==d["total_bytes"]>0, d
PY
# every file of the disk landed as a blob, byte for byte
for f in $(cd "$T/disk1" && find PageBlob BlockBlob -type f); do
	blob=${f#*/}
	cmp "$T/disk1/$f" "$T/a-store/acct/$blob" || fail "blob $blob differs from the disk's $f"
done

# --- a flipped byte: CompletedWithErrors, logs, repair ---------------------------------
start_dc b
export OFFSEED_CREDENTIALS="$T/b-cred.json"
URL=http://127.0.0.1:$PORT
S2=(--state "$T/state-b")
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk2" --job seed-bad --serial "$T/disk2=SER-2"
vhd=$(cd "$T/disk2" && ls PageBlob/backups/srv01/containers/*.vhd | head -n 1)
python3 - "$T/disk2/$vhd" <<'PY'
import sys
f=open(sys.argv[1],'r+b'); f.seek(300000); b=f.read(1); f.seek(300000); f.write(bytes([b[0]^0x40])); f.close()
PY
expect_exit 0 ofs "${S2[@]}" import create --job seed-bad --repo "$T/repo" --contact "$T/contact.json"
expect_exit 0 ofs "${S2[@]}" import ship --job seed-bad --carrier DHL --tracking 1Z998
"$OFFSEED_DC" receive --url "$URL" --job seed-bad "SER-2=$T/disk2" >/dev/null ||
    fail "offseed-dc receive failed"
expect_exit 4 ofs "${S2[@]}" import status --job seed-bad --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "job seed-bad: CompletedWithErrors"
assert_contains "$T/out" "1 in error"
blob=${vhd#PageBlob/}
[ ! -e "$T/b-store/acct/$blob" ] || fail "the damaged container was imported"

expect_exit 0 ofs "${S2[@]}" import logs --job seed-bad --out "$T/logs"
assert_contains "$T/out" "$vhd: hash_mismatch"
[ -f "$T/logs/SER-2-error.json" ] && [ -f "$T/logs/SER-2-verbose.json" ] || fail "logs not saved"
assert_contains "$T/logs/SER-2-error.json" "$vhd"

expect_exit 0 ofs "${S2[@]}" --json import repair --job seed-bad --repo "$T/repo"
python3 - "$T/out" "$blob" <<'PY' || fail "repair summary wrong"
import json,sys
s=json.loads(open(sys.argv[1]).read())
assert s["type"]=="summary" and s["repaired"]==1 and s["failed"]==0, s
f=s["files"][0]
assert f["container"]+"/"+f["blob"]==sys.argv[2] and f["blob_type"]=="PageBlob", f
PY
cmp "$T/repo/containers/$(basename "$vhd")" "$T/b-store/acct/$blob" ||
    fail "the repaired blob differs from the staging container"
# a disk whose manifest changed after the job was made is not imported at all: repair can
# only say so (exit 4 naming the disk)
mkdir -p "$T/disk3"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk3" --job seed-meta --serial "$T/disk3=SER-3"
expect_exit 0 ofs "${S2[@]}" import create --job seed-meta --repo "$T/repo" --contact "$T/contact.json"
echo " " >>"$T/disk3/offseed-manifest.json"
"$OFFSEED_DC" receive --url "$URL" --job seed-meta "SER-3=$T/disk3" >/dev/null ||
    fail "offseed-dc receive failed"
expect_exit 4 ofs "${S2[@]}" import status --job seed-meta --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "disk SER-3: MetadataFilesModifiedOrRemoved"
expect_exit 4 ofs "${S2[@]}" import repair --job seed-meta --repo "$T/repo"
assert_contains "$T/err" "disk SER-3 was not imported"

# a damaged staging copy is caught by the re-check (exit 4), never reported repaired
rm -f "$T/b-store/acct/$blob"
chmod u+w "$T/repo/containers/$(basename "$vhd")"
python3 - "$T/repo/containers/$(basename "$vhd")" <<'PY'
import sys
f=open(sys.argv[1],'r+b'); f.seek(4096); b=f.read(1); f.seek(4096); f.write(bytes([b[0]^1])); f.close()
PY
expect_exit 4 ofs "${S2[@]}" import repair --job seed-bad --repo "$T/repo"
assert_contains "$T/err" "after upload, the manifest says"
echo "ok"
