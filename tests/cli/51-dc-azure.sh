#!/bin/bash
# offseed-dc importing into azure://ACCOUNT (Azurite): page blobs and block blobs land byte
# for byte with the right blob type, and the copy logs are linked by URL with a read SAS.
. "$(dirname "$0")/55-dc-lib.sh"
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
need node

mkdir -p "$T/src" "$T/az"
for i in 1 2; do head -c 12000000 /dev/urandom >"$T/src/r$i.bin"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
REPO="$T/repo"

port=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
trap_azurite() { "$TOP/tools/azurite.sh" stop "$T/az"; }
export OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
export OFFSEED_AZURE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export OFFSEED_AZURE_RETRIES=2 OFFSEED_AZURE_RETRY_MS=100

# az_get CONTAINER BLOB OUT: download a blob with SharedKey; prints its x-ms-blob-type.
az_get() {
	python3 - "$@" <<'PY'
import base64, hashlib, hmac, os, sys, urllib.parse, urllib.request
from email.utils import formatdate
cont, blob, out = sys.argv[1:4]
ep = os.environ["OFFSEED_AZURE_ENDPOINT"]; acct = "devstoreaccount1"
path = urllib.parse.urlparse(ep).path + "/" + cont + "/" + urllib.parse.quote(blob)
date = formatdate(usegmt=True)
sts = "GET\n" + "\n" * 11 + "x-ms-date:%s\nx-ms-version:2021-08-06\n/%s%s" % (date, acct, path)
sig = base64.b64encode(hmac.new(base64.b64decode(os.environ["OFFSEED_AZURE_KEY"]),
    sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(ep.rsplit("/", 1)[0] + path, headers={"x-ms-date": date,
    "x-ms-version": "2021-08-06", "Authorization": "SharedKey %s:%s" % (acct, sig)})
with urllib.request.urlopen(req) as r, open(out, "wb") as f:
    f.write(r.read())
    print(r.headers["x-ms-blob-type"])
PY
}

# A wrong key is refused at start-up of a copy, not silently ignored: bad base64 → exit 2/5.
OFFSEED_AZURE_KEY='not base64!' "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s2" \
    --storage azure://devstoreaccount1 >/dev/null 2>"$T/err" && fail "bad key accepted"
assert_contains "$T/err" "azure://devstoreaccount1"

dc_start --storage azure://devstoreaccount1
dc_creds "$T/cred.json"
[ "$(jv "$T/cred.json" 'd["storage"]')" = azure://devstoreaccount1 ] || fail "storage in credentials"
assert_contains "$T/cred.json" "storageAccounts/devstoreaccount1"
dc_token
h=$(make_disk "$REPO" "$T/disk" SER-AZ)
job_body "$T/body.json" "SER-AZ=$h"
expect_status 201 PUT "$BASE/jobs/az-1?$V" "$T/body.json"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job az-1 "SER-AZ=$T/disk"
wait_status az-1 Completed 120
total=$(jv "$REPO/offseed-manifest.json" 'sum(f["size"] for f in d["files"])')
[ "$(jv "$T/resp" 'd["properties"]["details"]["copyProgress"][0]["bytesProcessed"]')" = "$total" ] ||
    fail "bytesProcessed"
for f in $(jv "$REPO/offseed-manifest.json" '" ".join(f["path"] for f in d["files"])'); do
	type=$(az_get seed "srv01/$f" "$T/blob") || fail "cannot download seed/srv01/$f"
	cmp "$REPO/$f" "$T/blob" || fail "blob seed/srv01/$f differs"
	case $f in
	containers/*) [ "$type" = PageBlob ] || fail "$f is a $type, not a page blob";;
	*) [ "$type" = BlockBlob ] || fail "$f is a $type, not a block blob";;
	esac
done
link=$(jv "$T/resp" 'd["properties"]["details"]["copyLogDetails"][0]["verboseLogLink"]')
case "$link" in "$OFFSEED_AZURE_ENDPOINT/offseed-copylogs/az-1/SER-AZ/verbose.json?"*sig=*) ;;
*) fail "verbose log link '$link'";; esac
curl -sf -o "$T/verbose.json" "$link" || fail "the log link does not read with its SAS"
[ "$(jv "$T/verbose.json" 'd["serialNumber"]')" = SER-AZ ] || fail "verbose log content"
! grep -qF "$OFFSEED_AZURE_KEY" "$T/resp" "$DC_LOG" || fail "the account key leaked"
dc_stop
trap_azurite
echo ok
