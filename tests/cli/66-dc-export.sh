#!/bin/bash
# offseed-dc export jobs (ExportFromAzure) against the real service with file: storage: a
# staged repository copied into the customer's storage account as an import leaves it is
# exported onto two disk folders (spanning forced with OFFSEED_DC_TEST_DISK_BYTES); the disks
# pass `offseed verify`, restore equals the source, the job ends ShippedToCustomer with the
# manifests' hashes. Refused: bad bodies (400), another customer's job (404), an import job
# (409), too little room (exit 9, nothing written), bad disk paths (400). A listed blob
# missing from storage ends CompletedWithErrors naming it; a disk removed mid-export fails
# the run with ExportDiskFailed and a rerun completes; a restart mid-export restarts it.
. "$(dirname "$0")/55-dc-lib.sh"

ACCOUNT=offseedlocal
expect_exit 0 "$OFFSEED_DC" export --help
assert_contains "$T/out" "offseed-dc export"
expect_exit 2 "$OFFSEED_DC" export --url http://127.0.0.1:1 --job exp1
expect_exit 2 "$OFFSEED_DC" export --url http://127.0.0.1:1 --job exp1 notapair
DEST=azure://$ACCOUNT/seed/srv01
mkdir -p "$T/src/sub" "$T/dock"
for i in 1 2 3 4; do head -c 12000000 /dev/urandom >"$T/src/r$i.bin"; done
seq 1 50000 >"$T/src/sub/text.txt"
expect_exit 0 ofs init --repo "$T/repo" --dest "$DEST"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
REPO=$T/repo
ncont=$(ls "$REPO"/containers/*.vhd | wc -l)
[ "$ncont" -ge 3 ] || fail "expected several containers, got $ncont"

dc_start --dock-root "$T/dock"
dc_creds "$T/cred.json"
dc_token
STORE=$(jv "$T/cred.json" 'd["storage"]'); STORE=${STORE#file:}
# The repository in the customer's account as an import leaves it: STORE/seed/srv01/NAME.
python3 - "$REPO" "$STORE/seed/srv01" <<'PY'
import json, os, shutil, sys
repo, dst = sys.argv[1:3]
for f in json.load(open(os.path.join(repo, "offseed-manifest.json")))["files"]:
    os.makedirs(os.path.join(dst, os.path.dirname(f["path"])), exist_ok=True)
    shutil.copyfile(os.path.join(repo, f["path"]), os.path.join(dst, f["path"]))
PY

# export_body FILE [EXTRA-PATH…]: the job body for the repository's objects (and extras).
export_body() {
	local f=$1; shift
	ACCOUNT_ID=${EXPORT_ACCOUNT_ID:-$CRED_ACCOUNT_ID} python3 - "$REPO" "$f" "$@" <<'PY'
import json, os, sys
repo, out = sys.argv[1:3]
names = [f["path"] for f in json.load(open(os.path.join(repo, "offseed-manifest.json")))["files"]]
names += sys.argv[3:]
order = ["config", "keys", "index", "snapshots", "containers", "data"]
names.sort(key=lambda n: (order.index(n.split("/")[0]), "/seed/srv01/" + n))
body = {"location": "westeurope", "sku": {"name": "DataBoxCustomerDisk"},
        "properties": {"transferType": "ExportFromAzure", "details": {
            "jobDetailsType": "DataBoxCustomerDisk",
            "contactDetails": {"contactName": "Ops", "phone": "+1 555 0100",
                               "emailList": ["ops@example.com"]},
            "returnToCustomerPackageDetails": {"carrierName": "FedEx",
                                               "carrierAccountNumber": "123456"},
            "dataExportDetails": [{
                "accountDetails": {"dataAccountType": "StorageAccount",
                                   "storageAccountId": os.environ["ACCOUNT_ID"]},
                "transferConfiguration": {
                    "transferConfigurationType": "TransferUsingFilter",
                    "transferFilterDetails": {"include": {
                        "dataAccountType": "StorageAccount",
                        "blobFilterDetails": {"blobPathList":
                            ["/seed/srv01/" + n for n in names]}}}},
                "logCollectionLevel": "Verbose"}]}}}
json.dump(body, open(out, "w"))
PY
}
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"1Z1"}}' >"$T/ship.json"
create_export() {	# NAME [EXTRA-PATH…]
	local name=$1; shift
	export_body "$T/$name.json" "$@"
	expect_status 201 PUT "$BASE/jobs/$name?$V" "$T/$name.json"
	expect_status 204 POST "$BASE/jobs/$name/markDevicesShipped?$V" "$T/ship.json"
}
progress() {	# FIELD SERIAL (from the last GET in $T/resp)
	jv "$T/resp" "[p for p in d['properties']['details']['copyProgress'] if p['serialNumber'] == '$2'][0]['$1']"
}
loglink() {	# KIND SERIAL → local path of the copy log
	local l
	l=$(jv "$T/resp" "[c for c in d['properties']['details']['copyLogDetails'] if c['serialNumber'] == '$2'][0]['$1LogLink']")
	python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1][7:]))' "$l"
}
wait_error() {	# NAME CODE: poll until properties.error.code is CODE
	for _ in $(seq 1 300); do
		api GET "$BASE/jobs/$1?$V&\$expand=details" >/dev/null
		[ "$(jv "$T/resp" 'd["properties"].get("error", {}).get("code")')" = "$2" ] && return 0
		sleep 0.2
	done
	cat "$T/resp"; fail "job $1 never had error $2"
}
empty_dir() { [ -z "$(ls -A "$1")" ] || { ls -laR "$1"; fail "'$1' is not empty"; }; }

# ---- 1. bad bodies: 400 naming the field ----
export_body "$T/good.json"
python3 - "$T/good.json" "$T/bad" <<'PY'
import copy, json, sys
good = json.load(open(sys.argv[1]))
def x(b): return b["properties"]["details"]["dataExportDetails"][0]
def lst(b): return x(b)["transferConfiguration"]["transferFilterDetails"]["include"]["blobFilterDetails"]["blobPathList"]
cases = []
def case(name, f):
    b = copy.deepcopy(good); f(b); cases.append((name, b))
case("nolist", lambda b: x(b)["transferConfiguration"]["transferFilterDetails"]["include"]["blobFilterDetails"].pop("blobPathList"))
case("noconfig", lambda b: lst(b).pop(0))
case("dup", lambda b: lst(b).insert(2, lst(b)[1]))
case("order", lambda b: lst(b).append(lst(b)[1]))
case("otherprefix", lambda b: lst(b).__setitem__(1, lst(b)[1].replace("/srv01/", "/srv02/")))
case("badname", lambda b: lst(b).append("/seed/srv01/data/ab/notahexid"))
case("dotdot", lambda b: lst(b).__setitem__(0, "/seed/../config"))
case("logcontainer", lambda b: lst(b).__setitem__(slice(None), ["/offseed-copylogs/config"]))
case("badcontainer", lambda b: lst(b).__setitem__(slice(None), ["/Seed/config"]))
case("unknownkey", lambda b: x(b).__setitem__("sharePassword", "x"))
case("prefixlist", lambda b: x(b)["transferConfiguration"]["transferFilterDetails"]["include"]["blobFilterDetails"].__setitem__("blobPrefixList", ["/seed"]))
case("filtertype", lambda b: x(b)["transferConfiguration"].__setitem__("transferConfigurationType", "TransferAll"))
case("importdisks", lambda b: b["properties"]["details"].__setitem__("importDiskDetailsCollection", {}))
case("twoaccounts", lambda b: b["properties"]["details"]["dataExportDetails"].append(x(b)))
case("longname", lambda b: lst(b).__setitem__(slice(None), ["/seed/" + "p/" * 520 + "config"]))
case("notstring", lambda b: lst(b).append(7))
for name, b in cases:
    json.dump(b, open("%s-%s.json" % (sys.argv[2], name), "w"))
PY
for f in "$T"/bad-*.json; do
	expect_status 400 PUT "$BASE/jobs/badexp?$V" "$f"
	assert_contains "$T/resp" "InvalidRequestContent"
done
expect_status 404 GET "$BASE/jobs/badexp?$V"
# an export body larger than 1 MiB is accepted (import bodies keep 1 MiB) …
extra=$(python3 -c 'print(" ".join("data/%02x/%02x%s" % (i % 256, i % 256, "%062x" % i) for i in range(12000)))')
# shellcheck disable=SC2086
export_body "$T/big.json" $extra
[ "$(stat -c %s "$T/big.json")" -gt 1048576 ] || fail "the big body is not over 1 MiB"
expect_status 201 PUT "$BASE/jobs/bigexp?$V" "$T/big.json"
# … but not without a bearer token, nor for an import job
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary "@$T/big.json" "$BASE/jobs/bigexp2?$V")" = 413 ] || fail "unauthenticated big PUT"
python3 - "$T/big.json" "$T/bigimport.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); b["properties"]["transferType"] = "ImportToAzure"
json.dump(b, open(sys.argv[2], "w"))
PY
expect_status 413 PUT "$BASE/jobs/bigimp?$V" "$T/bigimport.json"

# ---- 2. too little room: exit 9, nothing written, the job records why ----
create_export exp1
mkdir -p "$T/dock/d1" "$T/dock/d2"
dc_stop
OFFSEED_DC_TEST_DISK_BYTES=1000000 dc_start --dock-root "$T/dock"
expect_exit 9 "$OFFSEED_DC" export --url "$DC_URL" --job exp1 "D1=$T/dock/d1" "D2=$T/dock/d2"
assert_contains "$T/err" "InsufficientDiskSpace"
assert_contains "$T/err" "bytes more: attach more disks"
empty_dir "$T/dock/d1"; empty_dir "$T/dock/d2"
expect_status 200 GET "$BASE/jobs/exp1?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = AtAzureDC ] || fail "status after 507"
[ "$(jv "$T/resp" 'd["properties"]["error"]["code"]')" = InsufficientDiskSpace ] || fail "job error"

# ---- 3. bad disk paths and the wrong jobs ----
ln -s "$T/dock/d1" "$T/dock/link"
mkdir -p "$T/outside"
for p in "$T/dock/link" "dock/d1" "$T/outside" "$T/dock/nosuch"; do
	[ "$(admin POST /admin/jobs/exp1/export -H 'Content-Type: application/json' \
	    --data "{\"disks\":{\"D1\":\"$p\"}}")" = 400 ] || { cat "$T/resp"; fail "disk path '$p' accepted"; }
	assert_contains "$T/resp" InvalidDiskPath
done
[ "$(admin POST /admin/jobs/exp1/export -H 'Content-Type: application/json' \
    --data "{\"disks\":{\"../x\":\"$T/dock/d1\"}}")" = 400 ] || fail "bad serial accepted"
expect_exit 1 "$OFFSEED_DC" export --url "$DC_URL" --job exp1 "D1=$T/outside"
assert_contains "$T/err" "dock root"
# an import job is not exported; another customer's job is not found
job_body "$T/imp.json" "S1=$(printf '%064d' 1)"
expect_status 201 PUT "$BASE/jobs/imp1?$V" "$T/imp.json"
expect_exit 1 "$OFFSEED_DC" export --url "$DC_URL" --job imp1 "D1=$T/dock/d1"
assert_contains "$T/err" "NotAnExportJob"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job exp1 "D1=$T/dock/d1"
assert_contains "$T/err" "export job"
expect_exit 1 "$OFFSEED_DC" export --url "$DC_URL" --customer other --job exp1 "D1=$T/dock/d1"
assert_contains "$T/err" "ResourceNotFound"
mine=$CRED_ACCOUNT_ID
dc_creds "$T/cred-other.json" --customer other
dc_token
expect_status 404 GET "$BASE/jobs/exp1?$V"
printf '{"reason":"no longer needed"}' >"$T/cancel.json"
expect_status 404 POST "$BASE/jobs/exp1/cancel?$V" "$T/cancel.json"
# an export job may read its customer's own storage account only
EXPORT_ACCOUNT_ID=$mine export_body "$T/steal.json"
expect_status 400 PUT "$BASE/jobs/steal?$V" "$T/steal.json"
assert_contains "$T/resp" "must name your storage account"
dc_creds "$T/cred.json"
dc_token
empty_dir "$T/dock/d1"

# ---- 4. the export: two disks, spanning ----
cbytes=$(jv "$REPO/offseed-manifest.json" 'sum(f["size"] for f in d["files"] if f["path"].startswith("containers/"))')
mbytes=$(jv "$REPO/offseed-manifest.json" 'sum(f["size"] for f in d["files"] if not f["path"].startswith("containers/"))')
big=$(jv "$REPO/offseed-manifest.json" 'max(f["size"] for f in d["files"] if f["path"].startswith("containers/"))')
cap=$(( (cbytes / 2) + big + mbytes + 2000000 ))
[ "$cap" -lt "$((cbytes + mbytes))" ] || fail "test set-up: the cap $cap would not force spanning"
dc_stop
OFFSEED_DC_TEST_DISK_BYTES=$cap dc_start --dock-root "$T/dock"
expect_exit 0 "$OFFSEED_DC" export --url "$DC_URL" --job exp1 "D1=$T/dock/d1" "D2=$T/dock/d2"
assert_contains "$T/out" "job exp1: "
[ "$(wc -l <"$T/out")" = 1 ] || fail "export prints more than one line"
wait_status exp1 ShippedToCustomer
[ "$(jv "$T/resp" '"error" in d["properties"]')" = false ] || fail "error left on the job"
for s in D1 D2; do
	[ "$(progress copyStatus $s)" = Completed ] || fail "disk $s status"
	[ "$(progress transferType $s)" = ExportFromAzure ] || fail "transferType"
	[ "$(progress filesErroredOut $s)" = 0 ] || fail "errored files on $s"
	[ "$(progress filesProcessed $s)" = "$(progress totalFilesToProcess $s)" ] || fail "files on $s"
	[ "$(progress bytesProcessed $s)" = "$(progress totalBytesToProcess $s)" ] || fail "bytes on $s"
done
n1=$(ls "$T/dock/d1/PageBlob/seed/srv01/containers" 2>/dev/null | wc -l)
n2=$(ls "$T/dock/d2/PageBlob/seed/srv01/containers" 2>/dev/null | wc -l)
[ "$n1" -ge 1 ] && [ "$n2" -ge 1 ] && [ $((n1 + n2)) = "$ncont" ] || fail "containers $n1 + $n2 of $ncont"
cmp "$T/dock/d1/offseed-set.json" "$T/dock/d2/offseed-set.json" || fail "set manifests differ"
for k in 1 2; do
	h=$(sha256sum "$T/dock/d$k/offseed-manifest.json" | cut -d' ' -f1)
	[ "$(jv "$T/resp" "d['properties']['details']['exportDiskDetailsCollection']['D$k']['manifestHash']")" = "$h" ] ||
	    fail "manifestHash of D$k"
	cmp "$T/dock/d$k/BlockBlob/seed/srv01/config" "$REPO/config" || fail "config on d$k"
	[ -z "$(find "$T/dock/d$k" -name '*.offseed-tmp')" ] || fail "temporary files left on d$k"
done
[ "$(jv "$T/dock/d1/offseed-manifest.json" 'd["repository"]')" = "$(jv "$REPO/offseed-manifest.json" 'd["repository"]')" ] ||
    fail "repository id"
[ "$(jv "$T/dock/d2/offseed-manifest.json" 'd["disk"]')" = '{"index": 2, "count": 2, "serial": "D2"}' ] ||
    fail "disk of d2"
[ "$(jv "$T/dock/d1/offseed-set.json" 'd["destination"]')" = "$DEST" ] || fail "destination"
[ "$(jv "$T/dock/d1/offseed-set.json" 'd["job"]')" = exp1 ] || fail "set job"
seed1=$(jv "$T/dock/d1/offseed-set.json" 'd["seed_set"]')
grep -q "\"result\": *\"exported\"" "$(loglink verbose D1)" || fail "verbose log"
assert_contains "$(loglink verbose D1)" "/seed/srv01/config"
expect_exit 0 ofs verify "$T/dock/d1" "$T/dock/d2"
expect_exit 0 ofs restore --repo "disks:$T/dock/d1,$T/dock/d2" latest --target "$T/r1"
src_in_r1=$(find "$T/r1" -type d -name src | head -n 1)
diff -r "$T/src" "$src_in_r1" || fail "restore from the exported disks differs from the source"
# done: no second export; return keeps ShippedToCustomer
expect_exit 1 "$OFFSEED_DC" export --url "$DC_URL" --job exp1 "D1=$T/dock/d1"
assert_contains "$T/err" "InvalidJobState"
expect_exit 0 "$OFFSEED_DC" return --url "$DC_URL" --job exp1

# ---- 5. a listed blob missing from storage: CompletedWithErrors naming it ----
ghost="data/ab/ab$(printf '%062d' 0)"
create_export exp2 "$ghost"
mkdir -p "$T/dock/d3" "$T/dock/d4"
expect_exit 0 "$OFFSEED_DC" export --url "$DC_URL" --job exp2 "D3=$T/dock/d3" "D4=$T/dock/d4"
wait_status exp2 CompletedWithErrors
[ "$(progress filesErroredOut D3)" = 1 ] || fail "errored count"
assert_contains "$(loglink error D3)" "/seed/srv01/$ghost"
assert_contains "$(loglink error D3)" BlobNotFound
[ "$(progress copyStatus D3)" = CompletedWithErrors ] || fail "D3 status"
[ "$(progress copyStatus D4)" = Completed ] || fail "D4 status"
# everything else is there: the disks verify
expect_exit 0 ofs verify "$T/dock/d3" "$T/dock/d4"
# a restart keeps the seed set of a job; another job has its own
[ "$(jv "$T/dock/d3/offseed-set.json" 'd["seed_set"]')" != "$seed1" ] || fail "seed set shared"

# ---- 5b. a disk with a planted symlink: nothing is written through it ----
create_export exp5
mkdir -p "$T/dock/d8" "$T/dock/d9" "$T/planted"
ln -s "$T/planted" "$T/dock/d8/BlockBlob"
expect_exit 0 "$OFFSEED_DC" export --url "$DC_URL" --job exp5 "D8=$T/dock/d8" "D9=$T/dock/d9"
wait_error exp5 ExportDiskFailed
assert_contains "$T/resp" "disk D8"
empty_dir "$T/planted"

# ---- 6. a disk removed mid-export: ExportDiskFailed; a rerun completes ----
dc_stop
OFFSEED_DC_TEST_DISK_BYTES=$cap dc_start --dock-root "$T/dock" --copy-delay 400
create_export exp3
mkdir -p "$T/dock/d5" "$T/dock/d6" "$T/dock/d7"
expect_exit 0 "$OFFSEED_DC" export --url "$DC_URL" --job exp3 "D5=$T/dock/d5" "D6=$T/dock/d6"
sleep 0.5
rm -rf "$T/dock/d6"
wait_error exp3 ExportDiskFailed
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = DataCopy ] || fail "status after a disk failed"
assert_contains "$T/resp" "disk D6"
[ "$(progress copyStatus D6)" = Failed ] || fail "D6 not Failed"
# a restart mid-export restarts it (state kept in the job)
expect_exit 0 "$OFFSEED_DC" export --url "$DC_URL" --job exp3 "D5=$T/dock/d5" "D7=$T/dock/d7"
sleep 0.5
dc_stop
OFFSEED_DC_TEST_DISK_BYTES=$cap dc_start --dock-root "$T/dock"
wait_status exp3 ShippedToCustomer 120
assert_contains "$DC_LOG" "job 'exp3': resuming the copy"
expect_exit 0 ofs verify "$T/dock/d5" "$T/dock/d7"
expect_exit 0 ofs restore --repo "disks:$T/dock/d5,$T/dock/d7" latest --target "$T/r3"
src_in_r3=$(find "$T/r3" -type d -name src | head -n 1)
diff -r "$T/src" "$src_in_r3" || fail "restore after the rerun differs from the source"
[ "$(jv "$T/dock/d5/offseed-set.json" 'd["seed_set"]')" = "$(jv "$T/dock/d7/offseed-set.json" 'd["seed_set"]')" ] ||
    fail "seed sets of one export differ"

# cancel works as for import
create_export exp4
expect_status 204 POST "$BASE/jobs/exp4/cancel?$V" "$T/cancel.json"
expect_status 200 GET "$BASE/jobs/exp4?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Cancelled ] || fail "cancel"
dc_stop
echo "ok"
