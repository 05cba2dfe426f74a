#!/bin/bash
# offseed-dc keeps copy progress in its state: stopped (SIGTERM) and then killed (-9) in
# the middle of a copy, it resumes after each restart without importing a finished file
# again, and the job completes with every file byte for byte.
. "$(dirname "$0")/55-dc-lib.sh"

mkdir -p "$T/src"
for i in 1 2 3 4; do head -c 12000000 /dev/urandom >"$T/src/r$i.bin"; done
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"
REPO="$T/repo"
nfiles=$(jv "$REPO/offseed-manifest.json" 'len(d["files"])')
[ "$nfiles" -ge 8 ] || fail "expected at least 8 files on the disk, got $nfiles"
h=$(make_disk "$REPO" "$T/disk" SER-R)

# files_done: filesProcessed of the job (GET), status in $st
files_done() {
	expect_status 200 GET "$BASE/jobs/resume-1?$V&\$expand=details"
	st=$(jv "$T/resp" 'd["properties"]["status"]')
	jv "$T/resp" 'd["properties"]["details"]["copyProgress"][0]["filesProcessed"]'
}
wait_files() {	# N: until at least N files are imported
	for _ in $(seq 1 300); do
		[ "$(files_done)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "the copy did not reach $1 files"
}

dc_start --copy-delay 700
dc_creds "$T/cred.json"
# the customer's storage account: a folder of the file: storage
STORE=$(jv "$T/cred.json" 'd["storage"]'); STORE=${STORE#file:}
[ "$(dirname "$STORE")" = "$(cd "$T/storage" && pwd -P)" ] || fail "account folder $STORE"
dc_token
job_body "$T/body.json" "SER-R=$h"
expect_status 201 PUT "$BASE/jobs/resume-1?$V" "$T/body.json"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job resume-1 "SER-R=$T/disk"

# 1. graceful stop after two files
wait_files 2
dc_stop
JOBF=$(find "$T/dcstate/jobs" -name resume-1.json)
n1=$(jv "$JOBF" 'd["disks"]["SER-R"]["next"]')
[ "$n1" -ge 2 ] && [ "$n1" -lt "$nfiles" ] || fail "after the stop $n1 of $nfiles files are recorded"
[ "$(jv "$JOBF" 'd["status"]')" = DataCopy ] || fail "job not in DataCopy"
first=$(jv "$T/disk/offseed-manifest.json" 'd["files"][0]["path"]')
first_blob="$STORE/seed/${first#*/seed/}"
ino=$(stat -c %i "$first_blob")

# 2. restart (still slow), crash after a few more files
dc_start --copy-delay 700
assert_contains "$DC_LOG" "resuming"
wait_files $((n1 + 2))
dc_kill
n2=$(jv "$JOBF" 'd["disks"]["SER-R"]["next"]')
[ "$n2" -gt "$n1" ] && [ "$n2" -lt "$nfiles" ] || fail "after the crash $n2 of $nfiles files are recorded"

# 3. restart at full speed: completes
dc_start
wait_status resume-1 Completed
[ "$(files_done)" = "$nfiles" ] || fail "filesProcessed after resume"
total=$(jv "$REPO/offseed-manifest.json" 'sum(f["size"] for f in d["files"])')
[ "$(jv "$T/resp" 'd["properties"]["details"]["copyProgress"][0]["bytesProcessed"]')" = "$total" ] ||
    fail "bytesProcessed after resume"
for f in $(jv "$REPO/offseed-manifest.json" '" ".join(f["path"] for f in d["files"])'); do
	cmp "$REPO/$f" "$STORE/seed/srv01/$f" || fail "storage copy of $f differs"
done
[ "$(find "$STORE/seed" -type f | wc -l)" = "$nfiles" ] || fail "extra files in the storage"
[ -z "$(ls -A "$T/storage/.offseed-dc-tmp")" ] || fail "temporary files left in the storage"
[ "$(stat -c %i "$first_blob")" = "$ino" ] || fail "a file imported before the stop was imported again"
# a job that completed stays completed across a restart
dc_stop
dc_start
wait_status resume-1 Completed 1
dc_stop
echo ok
