#!/bin/bash
# offseed-dc dock and copy: a good disk imports byte for byte (page blobs and block blobs
# into file: storage) and ends Completed with copy logs; a flipped byte ends
# CompletedWithErrors with the file named in the error log and not imported; a manifest
# that no longer matches the job's hash is MetadataFilesModifiedOrRemoved; an unlisted file
# gives CompletedWithWarnings; a disk never received is DriveNotReceived once the job is
# closed; return ships the disks back.
. "$(dirname "$0")/55-dc-lib.sh"

mkdir -p "$T/src"
for i in 1 2 3; do head -c 12000000 /dev/urandom >"$T/src/r$i.bin"; done
seq 1 200000 >"$T/src/text.txt"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
REPO="$T/repo"
ncont=$(ls "$REPO"/containers/*.vhd | wc -l)
[ "$ncont" -ge 2 ] || fail "expected several containers, got $ncont"

dc_start
dc_creds "$T/cred.json"
dc_token
# the customer's storage account: a folder of the file: storage
STORE=$(jv "$T/cred.json" 'd["storage"]'); STORE=${STORE#file:}
[ "$(dirname "$STORE")" = "$(cd "$T/storage" && pwd -P)" ] || fail "account folder $STORE"
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"1Z1"}}' >"$T/ship.json"

# create_job NAME SERIAL=HASH…: create and mark shipped.
create_job() {
	local name=$1; shift
	job_body "$T/$name.json" "$@"
	expect_status 201 PUT "$BASE/jobs/$name?$V" "$T/$name.json"
	expect_status 204 POST "$BASE/jobs/$name/markDevicesShipped?$V" "$T/ship.json"
}
# progress FIELD SERIAL (from the last GET in $T/resp)
progress() {
	jv "$T/resp" "[p for p in d['properties']['details']['copyProgress'] if p['serialNumber'] == '$2'][0]['$1']"
}
loglink() {	# KIND SERIAL → local path of the copy log
	local l
	l=$(jv "$T/resp" "[c for c in d['properties']['details']['copyLogDetails'] if c['serialNumber'] == '$2'][0]['$1LogLink']")
	case "$l" in file://*) ;; *) fail "copy log link '$l' is not a file:// URL";; esac
	python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1][7:]))' "$l"
}

# ---- 1. a good disk ----
h1=$(make_disk "$REPO" "$T/disk1" SER-1)
create_job imp-good "SER-1=$h1"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-good "SER-1=$T/disk1"
assert_contains "$T/out" "job imp-good: AtAzureDC"
# receiving the same disk again, or a disk of another job, is refused
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-good "SER-1=$T/disk1"
assert_contains "$T/err" "DiskAlreadyReceived"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-good "SER-X=$T/disk1"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job nosuchjob "SER-1=$T/disk1"
wait_status imp-good Completed
[ "$(progress copyStatus SER-1)" = Completed ] || fail "disk status"
total=$(jv "$REPO/offseed-manifest.json" 'sum(f["size"] for f in d["files"])')
nfiles=$(jv "$REPO/offseed-manifest.json" 'len(d["files"])')
[ "$(progress bytesProcessed SER-1)" = "$total" ] || fail "bytesProcessed $(progress bytesProcessed SER-1) != $total"
[ "$(progress totalBytesToProcess SER-1)" = "$total" ] || fail "totalBytesToProcess"
[ "$(progress filesProcessed SER-1)" = "$nfiles" ] || fail "filesProcessed"
[ "$(progress totalFilesToProcess SER-1)" = "$nfiles" ] || fail "totalFilesToProcess"
[ "$(progress filesErroredOut SER-1)" = 0 ] || fail "filesErroredOut"
[ "$(jv "$T/resp" '[s["stageName"] for s in d["properties"]["details"]["jobStages"]]')" = \
    '["Created", "ShippedToAzureDC", "AtAzureDC", "DataCopy", "Completed"]' ] || fail "stages"
# every file byte for byte: containers as page blobs, metadata as block blobs
for f in $(jv "$REPO/offseed-manifest.json" '" ".join(f["path"] for f in d["files"])'); do
	cmp "$REPO/$f" "$STORE/seed/srv01/$f" || fail "storage copy of $f differs"
done
[ "$(find "$STORE/seed" -type f | wc -l)" = "$nfiles" ] || fail "extra files in the storage"
elog=$(loglink error SER-1); vlog=$(loglink verbose SER-1)
[ "$elog" = "$STORE/offseed-copylogs/imp-good/SER-1/error.json" ] || fail "error log at $elog"
[ "$(jv "$elog" 'len(d["files"])')" = 0 ] || fail "error log of a good disk lists files"
[ "$(jv "$vlog" 'sorted(set(f.get("result") for f in d["files"]))')" = '["imported"]' ] || fail "verbose log"
[ "$(jv "$vlog" '[f["blobType"] for f in d["files"] if f["path"].startswith("PageBlob/")][0]')" = PageBlob ] ||
    fail "verbose log blob type"
[ "$(jv "$vlog" 'd["serialNumber"]')" = SER-1 ] || fail "verbose log serial"
# a finished job: no cancel, delete allowed only once returned or finished
printf '{"reason":"x"}' >"$T/cancel.json"
expect_status 409 POST "$BASE/jobs/imp-good/cancel?$V" "$T/cancel.json"
expect_exit 0 "$OFFSEED_DC" return --url "$DC_URL" --job imp-good
assert_contains "$T/out" "ShippedToCustomer"
wait_status imp-good ShippedToCustomer 1
expect_status 200 DELETE "$BASE/jobs/imp-good?$V"

# ---- 2. a flipped byte in a container ----
h2=$(CONT=seedbad make_disk "$REPO" "$T/disk2" SER-2)
bad=$(cd "$T/disk2" && ls PageBlob/seedbad/srv01/containers/*.vhd | head -1)
python3 - "$T/disk2/$bad" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5000); b = f.read(1); f.seek(5000); f.write(bytes([b[0] ^ 0x40]))
PY
create_job imp-bad "SER-2=$h2"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-bad "SER-2=$T/disk2"
wait_status imp-bad CompletedWithErrors
[ "$(progress copyStatus SER-2)" = CompletedWithErrors ] || fail "disk 2 status"
[ "$(progress filesErroredOut SER-2)" = 1 ] || fail "disk 2 filesErroredOut"
[ "$(progress filesProcessed SER-2)" = $((nfiles - 1)) ] || fail "disk 2 filesProcessed"
elog=$(loglink error SER-2)
[ "$(jv "$elog" '[f["path"] for f in d["files"]]')" = "[\"$bad\"]" ] || { cat "$elog"; fail "error log does not name $bad"; }
case "$(jv "$elog" 'd["files"][0]["error"]')" in
region_mismatch|hash_mismatch) ;;
*) fail "error log reason";;
esac
[ "$(jv "$elog" 'd["files"][0]["container"]')" = seedbad ] || fail "error log container"
blob=${bad#PageBlob/seedbad/}
[ ! -e "$STORE/seedbad/$blob" ] || fail "the corrupt file was imported"
for f in $(jv "$REPO/offseed-manifest.json" '" ".join(f["path"] for f in d["files"])'); do
	[ "srv01/$f" = "$blob" ] && continue
	cmp "$REPO/$f" "$STORE/seedbad/srv01/$f" || fail "good file $f not imported from disk 2"
done

# ---- 3. the manifest changed after the job registered its hash ----
h3=$(CONT=seedmm make_disk "$REPO" "$T/disk3" SER-3)
create_job imp-mm "SER-3=$h3"
echo " " >>"$T/disk3/offseed-manifest.json"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-mm "SER-3=$T/disk3"
wait_status imp-mm Failed_IssueDetectedAtAzureDC
[ "$(progress copyStatus SER-3)" = MetadataFilesModifiedOrRemoved ] || fail "disk 3 status"
[ ! -e "$STORE/seedmm" ] || fail "files imported from a disk whose manifest changed"
elog=$(loglink error SER-3)
[ "$(jv "$elog" 'd["files"][0]["error"]')" = ManifestHashMismatch ] || fail "disk 3 error log"
assert_contains "$elog" "$h3"
[ "$(jv "$T/resp" 'd["properties"]["error"]["code"]')" = DataCopyFailed ] || fail "job error"

# ---- 4. an unlisted file: imported listed files, warning ----
h4=$(CONT=seedextra make_disk "$REPO" "$T/disk4" SER-4)
echo extra >"$T/disk4/BlockBlob/seedextra/srv01/extra.txt"
create_job imp-extra "SER-4=$h4"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-extra "SER-4=$T/disk4"
wait_status imp-extra CompletedWithWarnings
[ "$(progress copyStatus SER-4)" = Completed ] || fail "disk 4 status"
[ ! -e "$STORE/seedextra/srv01/extra.txt" ] || fail "unlisted file imported"
assert_contains "$(loglink error SER-4)" "BlockBlob/seedextra/srv01/extra.txt"

# ---- 5. two disks, one never arrives ----
h5=$(CONT=seedtwo make_disk "$REPO" "$T/disk5" SER-5 1 2)
create_job imp-two "SER-5=$h5" "SER-6=$h5"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-two "SER-5=$T/disk5"
for _ in $(seq 1 300); do
	expect_status 200 GET "$BASE/jobs/imp-two?$V&\$expand=details"
	[ "$(progress copyStatus SER-5)" = Completed ] && break
	sleep 0.2
done
[ "$(progress copyStatus SER-5)" = Completed ] || fail "disk 5 not copied"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = DataCopy ] || fail "job finished with a disk missing"
[ "$(progress copyStatus SER-6)" = NotStarted ] || fail "missing disk status"
expect_exit 0 "$OFFSEED_DC" close --url "$DC_URL" --job imp-two
assert_contains "$T/out" "job imp-two: CompletedWithErrors"
assert_contains "$T/out" "disk SER-6: DriveNotReceived"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job imp-two "SER-6=$T/disk5"
assert_contains "$T/err" "InvalidJobState"
expect_exit 0 "$OFFSEED_DC" return --url "$DC_URL" --job imp-two
wait_status imp-two ShippedToCustomer 1
[ "$(jv "$T/resp" '[s["stageName"] for s in d["properties"]["details"]["jobStages"]][-2:]')" = \
    '["CompletedWithErrors", "ShippedToCustomer"]' ] || fail "stages of imp-two"
# a job still Created cannot be returned
create_job imp-new "SER-7=$h5"
expect_status 204 POST "$BASE/jobs/imp-new/cancel?$V" "$T/cancel.json"
expect_exit 1 "$OFFSEED_DC" return --url "$DC_URL" --job imp-new
dc_stop
echo ok
