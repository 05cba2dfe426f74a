#!/bin/bash
# An import into Azure Blob storage (Azurite) through the real offseed-dc: a disk with a
# flipped byte ends CompletedWithErrors, `import logs` fetches the error log over its SAS
# link, and `import repair` uploads the container as a page blob and re-reads it against
# the staging manifest (a damaged staging copy gives exit 4).
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"
need node

DC_PID=""
cleanup() {
	[ -n "$DC_PID" ] && { kill "$DC_PID" 2>/dev/null; wait "$DC_PID" 2>/dev/null; }
	[ -f "$T/az/azurite.pid" ] && "$TOP/tools/azurite.sh" stop "$T/az" >/dev/null 2>&1
}
trap 'rc=$?; cleanup; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

AZ_PORT=$("$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
export OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:$AZ_PORT/devstoreaccount1
export OFFSEED_AZURE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$T/dc" --storage azure://devstoreaccount1 \
    >"$T/dc.log" 2>&1 &
DC_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	sleep 0.1
done
"$OFFSEED_DC" credentials --state "$T/dc" --out "$T/cred.json" --endpoint http://127.0.0.1:$PORT \
    >/dev/null || fail "offseed-dc credentials failed"
export OFFSEED_CREDENTIALS="$T/cred.json"
cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF

mkdir -p "$T/src" "$T/disk"
head -c 300000 /dev/urandom >"$T/src/rand.bin"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://devstoreaccount1/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk" --job seed-az --serial "$T/disk=SER-AZ"
vhd=$(cd "$T/disk" && ls PageBlob/backups/srv01/containers/*.vhd | head -n 1)
python3 - "$T/disk/$vhd" <<'PY'
import sys
f=open(sys.argv[1],'r+b'); f.seek(250000); b=f.read(1); f.seek(250000); f.write(bytes([b[0]^0x80])); f.close()
PY

expect_exit 0 ofs import create --job seed-az --repo "$T/repo" --contact "$T/contact.json"
expect_exit 0 ofs import ship --job seed-az --carrier DHL --tracking 1Z7
"$OFFSEED_DC" receive --url http://127.0.0.1:$PORT --state "$T/dc" --job seed-az "SER-AZ=$T/disk" >/dev/null ||
    fail "offseed-dc receive failed"
expect_exit 4 ofs import status --job seed-az --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "CompletedWithErrors"
! grep -q 'sig=' "$T/out" || fail "status printed a SAS signature"

expect_exit 0 ofs import logs --job seed-az --out "$T/logs"
assert_contains "$T/out" "$vhd: hash_mismatch"
assert_contains "$T/logs/SER-AZ-error.json" "$vhd"

expect_exit 0 ofs --json import repair --job seed-az --repo "$T/repo"
python3 - "$T/out" "${vhd#PageBlob/}" <<'PY' || fail "repair summary wrong"
import json,sys
s=json.loads(open(sys.argv[1]).read())
assert s["storage"]=="azure://devstoreaccount1", s
assert s["repaired"]==1 and s["failed"]==0, s
f=s["files"][0]
assert f["container"]+"/"+f["blob"]==sys.argv[2] and f["blob_type"]=="PageBlob", f
PY

# The re-check reads the blob back: with the staging copy damaged, nothing is "repaired".
c="$T/repo/containers/$(basename "$vhd")"
chmod u+w "$c"
python3 - "$c" <<'PY'
import sys
f=open(sys.argv[1],'r+b'); f.seek(8192); b=f.read(1); f.seek(8192); f.write(bytes([b[0]^1])); f.close()
PY
expect_exit 4 ofs import repair --job seed-az --repo "$T/repo"
assert_contains "$T/err" "after upload, the manifest says"
echo "ok"
