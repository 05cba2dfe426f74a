#!/bin/bash
# Faults from the Blob side during backups to azure:// (Azurite behind tools/fault-proxy.py):
# 503s and connections cut in the middle of uploads. Transient faults are absorbed by the
# retries (exit 0, the restore equals the source, the log shows each faulted request
# succeeding later); persistent ones give exit 8 naming the request, no snapshot, and a
# clean repository; afterwards, without the relay, check is clean and a rerun completes and
# restores identically.
. "$(dirname "$0")/75-cloud-lib.sh"
need python3
PROXY_PID=
trap 'rc=$?; [ -n "$PROXY_PID" ] && kill $PROXY_PID 2>/dev/null
	"$TOP/tools/azurite.sh" stop "$T/az" 2>/dev/null
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT
az_start
AZ_DIRECT=$OFFSEED_AZURE_ENDPOINT
az_port=${AZ_DIRECT#http://127.0.0.1:}; az_port=${az_port%%/*}
R=azure://devstoreaccount1/backups/srv01
export OFFSEED_AZURE_RETRY_MS=50

# proxy_start ARGS…: a relay in front of Azurite, logging in detail to $T/proxy.log (fresh);
# offseed goes through it. proxy_stop: back to Azurite directly.
proxy_start() {
	rm -f "$T/proxy.log" "$T/proxy.port"
	python3 "$TOP/tools/fault-proxy.py" --upstream "127.0.0.1:$az_port" --owner $$ \
	    --log "$T/proxy.log" --log-detail "$@" >"$T/proxy.port" 2>"$T/proxy.err" &
	PROXY_PID=$!
	for _ in $(seq 1 400); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
	local p; p=$(head -n 1 "$T/proxy.port")
	[ -n "$p" ] || { cat "$T/proxy.err"; fail "tools/fault-proxy.py did not start"; }
	export OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$p/devstoreaccount1"
}
proxy_stop() {
	kill $PROXY_PID 2>/dev/null; wait $PROXY_PID 2>/dev/null; PROXY_PID=
	export OFFSEED_AZURE_ENDPOINT=$AZ_DIRECT
}

# faults STATUS N REGEX [CUT] [transient|transient-mid]: the relay's log holds exactly N
# answers with STATUS (0: connection cut), all on requests matching REGEX ("METHOD PATH");
# with CUT, cut requests carried at most CUT body bytes and at least one exactly CUT (cut
# mid-body); "transient": each faulted request later succeeded (2xx); "transient-mid": also,
# at least one fault hit a block of a pack whose upload had begun with an earlier block.
faults() {
	python3 - "$T/proxy.log" "$@" <<'PY' || { cat "$T/proxy.log"; fail "fault log check: $*"; }
import re, sys
log, status, n, rx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), re.compile(sys.argv[4])
cut = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else 0
transient = len(sys.argv) > 6 and sys.argv[6].startswith("transient")
mid = len(sys.argv) > 6 and sys.argv[6] == "transient-mid"
rows = []
for line in open(log):
    f = line.split()
    assert len(f) >= 8, "bad log line " + line
    rows.append((f[1] + " " + f[2], int(f[4]), int(f[5]), float(f[6]), float(f[7]), int(f[0])))
hit = [r for r in rows if r[1] == status]
assert len(hit) == n, "%d answers with status %d, expected %d" % (len(hit), status, n)
for req, _, nb, _, _, seq in hit:
    assert rx.search(req), "fault on an unexpected request: " + req
    if cut:
        assert 0 < nb <= cut, "cut after %d body bytes (limit %d): %s" % (nb, cut, req)
    if transient:
        assert any(r[0] == req and 200 <= r[1] < 300 and r[5] > seq for r in rows), \
            "faulted request never succeeded: " + req
if cut:
    assert any(r[2] == cut for r in hit), "no request was cut in the middle of its body"
if mid:
    blob = lambda req: req.split("?")[0]
    inside = [h for h in hit if "comp=block&" in h[0] + "&" and any(
        blob(r[0]) == blob(h[0]) and "comp=block&" in r[0] + "&" and r[4] < h[4]
        for r in rows)]
    assert inside, "no fault landed in the middle of a pack's upload"
print("%d x status %d as expected" % (n, status))
PY
}
nsnaps() { ofs snapshots --repo "$R" 2>/dev/null | grep -c '^[0-9a-f]\{8\} '; }
# new random data for the next backup: a pack of 5 blocks (4 x 8 MiB + a bit) and another
# of 2 blocks
grow() {
	head -c $((40 * 1048576)) /dev/urandom >"$T/src/big$1"
	head -c $((1048576 + $1)) /dev/urandom >"$T/src/small$1"
	seq 1 $(($1 * 1000)) >"$T/src/t$1.txt"
}
restore_same() {	# WHAT: the latest snapshot from the cloud equals the source
	rm -rf "$T/r"
	expect_exit 0 ofs restore latest --repo "$R" --target "$T/r"
	diff -r "$T/src" "$T/r$T/src" || fail "restore after $1 differs from the source"
}

mkdir -p "$T/src"
expect_exit 0 ofs init --repo "$R"
grow 1; grow 2
[ "$(find "$T/src" -type f -printf '%s\n' | awk '{s += $1} END {print s}')" -gt $((2 * 32 * 1048576)) ] ||
    fail "the source is too small for several packs"

# --- transient: three 503s on Put Block, the first after 2 blocks went in, then every 2nd
export OFFSEED_AZURE_RETRIES=5
proxy_start --match '^PUT .*/srv01/data/.*comp=block&' --skip 2 --every 2 --count 3 --status 503
expect_exit 0 ofs backup --repo "$R" "$T/src"
proxy_stop
faults 503 3 '^PUT .*/srv01/data/.*comp=block&' "" transient-mid
[ "$(awk '$3 ~ /\/srv01\/data\/.*comp=blocklist/ && $5 ~ /^2/' "$T/proxy.log" | wc -l)" -ge 2 ] ||
    fail "fewer than 2 multi-block packs were uploaded"
[ "$(nsnaps)" = 1 ] || fail "no snapshot after the transient 503s"
restore_same "transient 503s"

# --- transient: three connections cut after 1000000 body bytes of a data PUT
grow 3
proxy_start --match '^PUT .*/srv01/data/' --skip 1 --every 2 --drop 3 --drop-after 1000000
expect_exit 0 ofs backup --repo "$R" "$T/src"
proxy_stop
faults 0 3 '^PUT .*/srv01/data/' 1000000 transient-mid
[ "$(nsnaps)" = 2 ] || fail "no snapshot after the cut connections"
restore_same "cut connections"

# --- transient, anywhere: every 3rd request (reads of config, keys and the index, blocks,
# block lists, the index and snapshot PUTs): two cut before their body, then three 503s
grow 4
rm -rf "$T/state"	# the index comes from the cloud, through the faults
proxy_start --every 3 --drop 2 --count 3 --retry-after 0
expect_exit 0 ofs backup --repo "$R" "$T/src"
proxy_stop
faults 0 2 '.' "" transient
faults 503 3 '.' "" transient
[ "$(nsnaps)" = 3 ] || fail "no snapshot after the mixed faults"
restore_same "mixed faults"
expect_exit 0 ofs check --repo "$R" --read-data

# --- persistent: every data PUT after the first 3 gets 503 → exit 8 naming the request
grow 5
export OFFSEED_AZURE_RETRIES=3
proxy_start --match '^PUT .*/srv01/data/' --skip 3 --count -1 --status 503
expect_exit 8 ofs backup --repo "$R" "$T/src"
proxy_stop
sed 's/^/    exit 8: /' "$T/err"
assert_contains "$T/err" "PUT backups/srv01/data/"
assert_contains "$T/err" "503 ServerBusy: fault proxy says no"
assert_contains "$T/err" "gave up after 3 attempts"
[ "$(nsnaps)" = 3 ] || fail "a failed backup made a snapshot"
expect_exit 0 ofs check --repo "$R" --read-data

# --- persistent: every Put Block after the first 2 is cut after 2000000 body bytes
proxy_start --match '^PUT .*/srv01/data/.*comp=block&' --skip 2 --drop -1 --drop-after 2000000
expect_exit 8 ofs backup --repo "$R" "$T/src"
proxy_stop
sed 's/^/    exit 8: /' "$T/err"
assert_contains "$T/err" "PUT backups/srv01/data/"
assert_contains "$T/err" "gave up after 3 attempts"
grep -q "block" "$T/err" || fail "the message does not name the block: $(cat "$T/err")"
faults 0 "$(awk '$5 == 0' "$T/proxy.log" | wc -l)" 'comp=block&' 2000000
[ "$(nsnaps)" = 3 ] || fail "a failed backup made a snapshot"
expect_exit 0 ofs check --repo "$R" --read-data

# --- persistent: the index PUT is always cut (all packs are in, the index never lands)
proxy_start --match '^PUT .*/srv01/index/' --drop -1
expect_exit 8 ofs backup --repo "$R" "$T/src"
proxy_stop
sed 's/^/    exit 8: /' "$T/err"
assert_contains "$T/err" "PUT backups/srv01/index/"
[ "$(nsnaps)" = 3 ] || fail "a backup whose index failed made a snapshot"
expect_exit 0 ofs check --repo "$R" --read-data

# --- persistent: the snapshot PUT always gets 503 (data and index are in)
proxy_start --match '^PUT .*/srv01/snapshots/' --count -1 --status 503
expect_exit 8 ofs backup --repo "$R" "$T/src"
proxy_stop
sed 's/^/    exit 8: /' "$T/err"
assert_contains "$T/err" "PUT backups/srv01/snapshots/"
assert_contains "$T/err" "gave up after 3 attempts"
[ "$(nsnaps)" = 3 ] || fail "a failed snapshot PUT left a snapshot"
expect_exit 0 ofs check --repo "$R" --read-data
grep -q " 0 problems" "$T/out" || fail "check is not clean: $(cat "$T/out")"

# --- without the relay: the rerun completes, stores no data again (the index of the failed
# run lists its packs; growth measured in Azurite), and restores identically
read -r _ b0 <<<"$(az usage backups srv01/data)"
expect_exit 0 ofs backup --repo "$R" "$T/src"
read -r _ b1 <<<"$(az usage backups srv01/data)"
[ $((b1 - b0)) -lt 1048576 ] ||
    fail "the rerun stored $((b1 - b0)) bytes of packs again (the failed run had stored and indexed them)"
[ "$(nsnaps)" = 4 ] || fail "the rerun made no snapshot"
restore_same "the rerun"
expect_exit 0 ofs check --repo "$R" --read-data
grep -q " 0 problems" "$T/out" || fail "check is not clean: $(cat "$T/out")"
az names backups srv01 | grep -q '^srv01/locks/' && fail "a lock was left in the cloud"

# --- a service that always answers 503: every command gives exit 8, never a crash
proxy_start --count -1 --status 503
expect_exit 8 ofs snapshots --repo "$R"
assert_contains "$T/err" "gave up after 3 attempts"
expect_exit 8 ofs backup --repo "$R" "$T/src"
expect_exit 8 ofs init --repo azure://devstoreaccount1/backups/other
assert_contains "$T/err" "gave up after 3 attempts"
proxy_stop
# --- a service that ignores x-ms-range and answers 200 with the whole blob: a ranged read
# takes no more than it asked for and is refused naming the range (exit 4), memory bounded
need node
# (a read/list SAS: a SharedKey signature covers x-ms-range, which the relay removes)
SAS_RL=$(node - "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$OFFSEED_AZURE_KEY;BlobEndpoint=$AZ_DIRECT;" <<'JS'
const path = require('path');
const { BlobServiceClient, ContainerSASPermissions, generateBlobSASQueryParameters } =
    require(path.join(process.env.TOP, 'tools/azurite/node_modules/@azure/storage-blob'));
const svc = BlobServiceClient.fromConnectionString(process.argv[2]);
console.log(generateBlobSASQueryParameters({ containerName: 'backups',
    permissions: ContainerSASPermissions.parse('rl'),
    expiresOn: new Date(Date.now() + 3600e3) }, svc.credential).toString());
JS
) || fail "cannot make a SAS"
proxy_start --strip-range
OFFSEED_AZURE_KEY= OFFSEED_AZURE_SAS=$SAS_RL /usr/bin/time -f '%M' -o "$T/rss" \
    "$OFFSEED" --passphrase-file "$PASS" --no-progress \
    restore latest --repo "$R" --target "$T/stripped" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 4 ] || { cat "$T/err"; fail "restore through a range-ignoring service exited $rc, not 4"; }
assert_contains "$T/err" "ignored the range"
kb=$(tail -n 1 "$T/rss")
[ "$kb" -lt 200000 ] || fail "restore grew to $kb KB on whole-blob answers"
proxy_stop
echo ok
