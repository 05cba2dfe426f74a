#!/bin/bash
# End to end into a real Azurite: about 300 MB of mixed files staged (64 MiB containers),
# prepared onto two tmpfs disks and verified, imported through offseed-dc with
# --storage azure://devstoreaccount1 to Completed; then `offseed verify azure://…` with the
# two disk manifests is clean, the official Azure SDK for JavaScript reads a container page
# blob identical to the staged .vhd, and a flipped byte, a deleted blob, a wrong key and an
# unreachable endpoint give exit 4 (naming blob, region and bytes), 4, 5 and 8.
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"
need node
need python3
need cmp
SDK_READ="$TOP/tools/azure-sdk-read.js"
[ -d "$TOP/tools/azurite/node_modules/@azure/storage-blob" ] ||
    fail "@azure/storage-blob is not installed (run make deps)"

DC_PID=""
cleanup() {
	[ -n "$DC_PID" ] && { kill "$DC_PID" 2>/dev/null; wait "$DC_PID" 2>/dev/null; }
	[ -f "$T/az/azurite.pid" ] && "$TOP/tools/azurite.sh" stop "$T/az" >/dev/null 2>&1
	for d in d1 d2; do umount "$T/$d" 2>/dev/null; done
}
trap 'rc=$?; cleanup; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

# --- about 300 MB: random, text, duplicates ----------------------------------------------
mkdir -p "$T/src/rand" "$T/src/text" "$T/src/dup" "$T/d1" "$T/d2"
for i in 1 2 3; do head -c $((60 * 1048576)) /dev/urandom >"$T/src/rand/r$i.bin"; done
seq 1 6000000 >"$T/src/text/numbers.txt"
for i in $(seq 1 200); do echo "line $i of a small text file"; done >"$T/src/text/small.txt"
cp "$T/src/rand/r1.bin" "$T/src/dup/r1-copy.bin"
cp "$T/src/text/numbers.txt" "$T/src/dup/numbers-copy.txt"
total=$(du -sbc "$T/src" | tail -n 1 | cut -f 1)
[ "$total" -gt $((280 * 1048576)) ] || fail "staged only $total bytes"

expect_exit 0 ofs init --repo "$T/repo" --dest azure://devstoreaccount1/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" --container-size 64M "$T/src"
nvhd=$(ls "$T/repo/containers/"*.vhd | wc -l)
[ "$nvhd" -ge 3 ] || fail "expected at least 3 containers, got $nvhd"

# Two disks of 150 MiB: a disk holds at most two 64 MiB containers, so both are used.
for d in d1 d2; do
	mount -t tmpfs -o size=150m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-e2e \
    --serial "$T/d1=SER-E2E-1" --serial "$T/d2=SER-E2E-2"
for d in d1 d2; do
	ls "$T/$d"/PageBlob/backups/srv01/containers/*.vhd >/dev/null 2>&1 ||
	    fail "disk $d got no container"
done
expect_exit 0 ofs verify "$T/d1" "$T/d2"

# --- Azurite and offseed-dc ------------------------------------------------------------------
AZ_PORT=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
export OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:$AZ_PORT/devstoreaccount1
export OFFSEED_AZURE_KEY="$KEY"
CONN="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=$OFFSEED_AZURE_ENDPOINT;"

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

expect_exit 0 ofs import create --job seed-e2e --repo "$T/repo" --contact "$T/contact.json"
expect_exit 0 ofs import ship --job seed-e2e --carrier DHL --tracking 1Z-E2E
"$OFFSEED_DC" receive --url http://127.0.0.1:$PORT --state "$T/dc" --job seed-e2e "SER-E2E-1=$T/d1" \
    "SER-E2E-2=$T/d2" >"$T/receive.log" 2>&1 || { cat "$T/receive.log"; fail "offseed-dc receive failed"; }
expect_exit 0 ofs import status --job seed-e2e --wait --interval 0.2 --timeout 80
assert_contains "$T/out" "job seed-e2e: Completed"
assert_contains "$T/out" "disk SER-E2E-1: Completed"
assert_contains "$T/out" "disk SER-E2E-2: Completed"

# --- (a) verify azure:// against both disk manifests: clean ------------------------------
LOC=azure://devstoreaccount1/backups/srv01
MF=(--manifest "$T/d1/offseed-manifest.json" --manifest "$T/d2/offseed-manifest.json")
expect_exit 0 ofs verify "${MF[@]}" "$LOC"
assert_contains "$T/out" "no problems"
expect_exit 0 ofs --json verify "${MF[@]}" "$LOC"
python3 - "$T/out" "$T/d1/offseed-manifest.json" "$T/d2/offseed-manifest.json" <<'PY' ||
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
blobs = {}
for m in sys.argv[2:]:
    for f in json.load(open(m))["files"]:
        if f["path"].startswith(("PageBlob/", "BlockBlob/")):
            blobs[f["path"].split("/", 1)[1]] = f["size"]
assert s["type"] == "summary" and s["ok"] is True and s["exit_code"] == 0, s
assert s["problems"] == [] and s["findings"] == 0, s
assert s["files_checked"] == s["files_listed"] == len(blobs), (s, len(blobs))
assert s["bytes_checked"] == sum(blobs.values()) > 150 * 1048576, s
PY
    fail "verify azure:// --json summary wrong"
# only the disks' own blobs: one manifest checks one disk's containers
expect_exit 0 ofs verify --manifest "$T/d2/offseed-manifest.json" "$LOC/containers"
expect_exit 2 ofs verify "$LOC"
expect_exit 2 ofs verify "${MF[@]}" azure://devstoreaccount1/other
assert_contains "$T/err" "no PageBlob/ or BlockBlob/ file under azure://devstoreaccount1/other"
expect_exit 2 ofs verify "${MF[@]}" "$LOC" "$T/d1"
expect_exit 2 ofs verify --deep "${MF[@]}" "$LOC"
for bad in azure://AB/backups azure://devstoreaccount1/Bad_Name azure://devstoreaccount1/a--b \
    azure://devstoreaccount1/backups/srv01/../x s3://bucket/x; do
	expect_exit 2 ofs verify "${MF[@]}" "$bad"
	assert_contains "$T/err" "$bad"
done

# --- (b) the official Azure SDK reads a container page blob identical to the staged .vhd --
vhd=$(cd "$T/d1" && ls PageBlob/backups/srv01/containers/*.vhd | head -n 1)
name=$(basename "$vhd")
blob=srv01/containers/$name
node "$SDK_READ" "$CONN" backups "$blob" "$T/sdk.vhd" >"$T/sdk.out" 2>"$T/sdk.err" ||
    { cat "$T/sdk.err"; fail "the Azure SDK could not read $blob"; }
[ "$(cat "$T/sdk.out")" = "PageBlob $(stat -c %s "$T/repo/containers/$name")" ] ||
    fail "SDK says '$(cat "$T/sdk.out")' for $blob"
cmp "$T/repo/containers/$name" "$T/sdk.vhd" || fail "the SDK's copy of $blob differs from the staged .vhd"
vsize=$(stat -c %s "$T/repo/containers/$name")
node "$SDK_READ" "$CONN" backups "$blob" "$T/sdk-range" $((vsize - 3000)) 2000 >/dev/null \
    2>"$T/sdk.err" || { cat "$T/sdk.err"; fail "the Azure SDK could not read a range of $blob"; }
cmp <(tail -c 3000 "$T/repo/containers/$name" | head -c 2000) "$T/sdk-range" ||
    fail "the SDK's range of $blob differs"

# --- (c) one flipped byte in Azurite: exit 4 naming blob, region and bytes ---------------
# flip BLOB OFFSET: rewrite the 512-byte page holding OFFSET with that byte flipped (SDK).
flip() {
	node - "$CONN" backups "$1" "$2" <<'JS' || fail "cannot flip a byte of $1 in Azurite"
const path = require('path');
const { BlobServiceClient } = require(path.join(process.env.TOP, 'tools/azurite/node_modules/@azure/storage-blob'));
(async () => {
	const [conn, cont, name, offArg] = process.argv.slice(2);
	const off = Number(offArg), page = off - off % 512;
	const pb = BlobServiceClient.fromConnectionString(conn).getContainerClient(cont)
	    .getPageBlobClient(name);
	const buf = await pb.downloadToBuffer(page, 512);
	buf[off - page] ^= 0x20;
	await pb.uploadPages(buf, page, 512);
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
}
# A 64M container is one 64 MiB region: like the local verify, the finding is the whole
# blob's hash over its byte range (the region index follows below with smaller regions).
flip "$blob" 5000001
expect_exit 4 ofs verify "${MF[@]}" "$LOC"
assert_contains "$T/out" "corrupt: backups/$blob bytes 0-$((vsize - 1)): expected "
[ "$(grep -c '^corrupt: ' "$T/out")" = 1 ] || fail "expected exactly one corrupt line"
expect_exit 4 ofs --json verify "${MF[@]}" "$LOC"
python3 - "$T/out" "backups/$blob" "$vsize" <<'PY' || fail "verify azure:// --json problems wrong"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert s["ok"] is False and s["exit_code"] == 4, s
p = s["problems"]
assert len(p) == 1, p
p = p[0]
assert p["kind"] == "hash_mismatch" and p["path"] == sys.argv[2], p
assert "region" not in p and p["start"] == 0 and p["end"] == int(sys.argv[3]), p
assert p["expected"] != p["found"] and len(p["found"]) == 32, p
assert p["target"] == "azure://devstoreaccount1/backups/srv01", p
PY

# Region findings: a page blob listed with 1 MiB regions (a manifest made here with xxhsum,
# the manifest format allows any multiple of 4096), damaged in its third region.
head -c $((3 * 1048576 + 4096)) /dev/urandom >"$T/big.bin"
python3 - "$T/big.bin" "$T/big-manifest.json" <<'PY' || fail "cannot write the region manifest"
import json, subprocess, sys
data = open(sys.argv[1], "rb").read()
def h(b):
    return subprocess.run(["xxhsum", "-H2", "-"], input=b, capture_output=True,
                          check=True).stdout.split()[0].decode()
R = 1 << 20
json.dump({"format": "offseed-manifest", "version": 1, "tool": "test", "created":
           "2026-01-01T00:00:00Z", "repository": "0" * 32, "region_size": R,
           "files": [{"path": "PageBlob/backups/srv01/extra/big.vhd", "size": len(data),
                      "xxh128": h(data),
                      "regions": [h(data[i:i + R]) for i in range(0, len(data), R)]}]},
          open(sys.argv[2], "w"))
PY
node - "$CONN" "$T/big.bin" <<'JS' || fail "cannot upload the region test blob"
const path = require('path'), fs = require('fs');
const { BlobServiceClient } = require(path.join(process.env.TOP, 'tools/azurite/node_modules/@azure/storage-blob'));
(async () => {
	const [conn, file] = process.argv.slice(2);
	const data = fs.readFileSync(file);
	const pb = BlobServiceClient.fromConnectionString(conn).getContainerClient('backups')
	    .getPageBlobClient('srv01/extra/big.vhd');
	await pb.create(data.length);
	for (let o = 0; o < data.length; o += 1048576)
		await pb.uploadPages(data.subarray(o, Math.min(o + 1048576, data.length)), o,
		    Math.min(1048576, data.length - o));
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
expect_exit 0 ofs verify --manifest "$T/big-manifest.json" "$LOC/extra"
flip srv01/extra/big.vhd $((2 * 1048576 + 777))
expect_exit 4 ofs verify --manifest "$T/big-manifest.json" "$LOC/extra"
assert_contains "$T/out" "corrupt: backups/srv01/extra/big.vhd region 2 bytes 2097152-3145727: expected "
[ "$(grep -c '^corrupt: ' "$T/out")" = 1 ] || fail "expected exactly one region finding"
expect_exit 4 ofs --json verify --manifest "$T/big-manifest.json" "$LOC/extra"
python3 - "$T/out" <<'PY' || fail "region finding --json wrong"
import json, sys
p = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["problems"]
assert len(p) == 1 and p[0]["kind"] == "region_mismatch" and p[0]["region"] == 2, p
assert p[0]["start"] == 2097152 and p[0]["end"] == 3145728, p
assert p[0]["path"] == "backups/srv01/extra/big.vhd", p
PY

# a deleted block blob is missing; a block blob where a page blob belongs is the wrong type
cfg=$(cd "$T/d1/BlockBlob/backups/srv01" && find . -type f | sort | head -n 1)
cfg=${cfg#./}
[ -n "$cfg" ] || fail "disk 1 has no block blob"
node - "$CONN" "srv01/$cfg" "$blob" <<'JS' || fail "cannot change blobs in Azurite"
const path = require('path');
const { BlobServiceClient } = require(path.join(process.env.TOP, 'tools/azurite/node_modules/@azure/storage-blob'));
(async () => {
	const [conn, gone, page] = process.argv.slice(2);
	const c = BlobServiceClient.fromConnectionString(conn).getContainerClient('backups');
	const data = await c.getBlobClient(page).downloadToBuffer();
	await c.getBlobClient(gone).delete();
	await c.getBlockBlobClient(page).uploadData(data);
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
expect_exit 4 ofs verify "${MF[@]}" "$LOC"
assert_contains "$T/out" "missing: backups/srv01/$cfg"
assert_contains "$T/out" "bad structure: backups/$blob: a BlockBlob, expected a PageBlob"
assert_contains "$T/out" "corrupt: backups/$blob bytes 0-$((vsize - 1))"

# --- a container SAS: read permission is enough; without it, exit 5 ----------------------
sas() {	# PERMISSIONS: a SAS query string for container backups, valid one hour (SDK-made)
	node - "$CONN" "$1" <<'JS' || fail "cannot make a SAS"
const path = require('path');
const { BlobServiceClient, ContainerSASPermissions, generateBlobSASQueryParameters } =
    require(path.join(process.env.TOP, 'tools/azurite/node_modules/@azure/storage-blob'));
const [conn, perms] = process.argv.slice(2);
const svc = BlobServiceClient.fromConnectionString(conn);
console.log(generateBlobSASQueryParameters({ containerName: 'backups',
    permissions: ContainerSASPermissions.parse(perms),
    expiresOn: new Date(Date.now() + 3600e3) }, svc.credential).toString());
JS
}
SAS_R=$(sas r) SAS_L=$(sas l)
OFFSEED_AZURE_KEY= OFFSEED_AZURE_SAS="$SAS_R" expect_exit 4 ofs verify "${MF[@]}" "$LOC"
assert_contains "$T/out" "missing: backups/srv01/$cfg"
OFFSEED_AZURE_KEY= OFFSEED_AZURE_SAS="$SAS_L" expect_exit 5 ofs verify "${MF[@]}" "$LOC"
sig=$(printf '%s' "$SAS_L" | sed 's/.*sig=\([^&]*\).*/\1/')
[ -n "$sig" ] && ! grep -qF "$sig" "$T/out" "$T/err" || fail "the SAS signature leaked"

# --- credentials refused: exit 5; service unreachable after retries: exit 8 --------------
OFFSEED_AZURE_KEY=$(printf 'wrong-key-%054d' 0 | base64 -w0) expect_exit 5 ofs verify "${MF[@]}" "$LOC"
"$TOP/tools/azurite.sh" stop "$T/az"
OFFSEED_AZURE_RETRIES=2 OFFSEED_AZURE_RETRY_MS=50 expect_exit 8 ofs verify "${MF[@]}" "$LOC"
assert_contains "$T/err" "gave up after 2 attempts"
echo ok
