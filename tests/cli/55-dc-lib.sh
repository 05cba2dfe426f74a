#!/bin/bash
# offseed-dc test helpers, sourced by the other dc test scripts (5[0-9]-dc-*.sh). Run on its own it tests
# the command line: usage errors, loopback-only listening, credentials files.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
need python3
need curl

DC_PIDS=""
trap 'rc=$?; for p in $DC_PIDS; do kill -9 "$p" 2>/dev/null; done
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT

# dc_start [serve options…]: start the service on a free loopback port with state
# $T/dcstate and storage file:$T/storage (unless given); sets DC_URL, DC_PID, DC_STATE and
# ADMIN_TOKEN, and exports OFFSEED_DC_STATE for the dock commands.
dc_start() {
	local log="$T/dc-serve.$((${DC_N:-0} + 1))"
	DC_N=$((${DC_N:-0} + 1))
	local args=("$@") prev=""
	DC_STATE=$T/dcstate
	for a in "$@"; do [ "$prev" = --state ] && DC_STATE=$a; prev=$a; done
	export OFFSEED_DC_STATE=$DC_STATE
	[[ " $* " == *" --state "* ]] || args+=(--state "$T/dcstate")
	[[ " $* " == *" --storage "* ]] || args+=(--storage "file:$T/storage")
	: >"$log.out"
	"$OFFSEED_DC" serve --listen 127.0.0.1:0 "${args[@]}" >"$log.out" 2>"$log.err" &
	DC_PID=$!
	DC_PIDS="$DC_PIDS $DC_PID"
	for _ in $(seq 1 100); do
		DC_URL=$(sed -n 's/^listening on //p' "$log.out")
		[ -n "$DC_URL" ] && break
		kill -0 "$DC_PID" 2>/dev/null || { cat "$log.err"; fail "offseed-dc serve exited"; }
		sleep 0.1
	done
	[ -n "$DC_URL" ] || { cat "$log.err"; fail "offseed-dc serve did not start"; }
	DC_LOG="$log.err"
	ADMIN_TOKEN=$(cat "$DC_STATE/admin.token")
	[ -z "${CRED_SUB:-}" ] || BASE="$DC_URL/subscriptions/$CRED_SUB/resourceGroups/$CRED_RG/providers/Microsoft.DataBox"
}
dc_stop() {	# graceful stop (SIGTERM), waits for the exit, which must be clean
	local rc
	kill -TERM "$DC_PID"
	wait "$DC_PID" 2>/dev/null; rc=$?
	DC_PIDS=${DC_PIDS/ $DC_PID/}
	[ $rc = 0 ] || { tail -30 "$DC_LOG"; fail "offseed-dc serve exited with $rc after SIGTERM"; }
}
dc_kill() {	# kill -9, as a crash
	kill -9 "$DC_PID"
	wait "$DC_PID" 2>/dev/null
	DC_PIDS=${DC_PIDS/ $DC_PID/}
}

# admin METHOD PATH [curl options…]: call an admin endpoint with the operator's token; answer
# in $T/resp; prints the status.
admin() {
	local m=$1 p=$2; shift 2
	curl -s -o "$T/resp" -w '%{http_code}' -X "$m" -H "X-Offseed-Admin-Token: $ADMIN_TOKEN" \
	    "$@" "$DC_URL$p"
}

# jv FILE EXPR: evaluate a Python expression over d = the JSON in FILE, print the result.
jv() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# dc_creds FILE [options]: issue a credentials file; sets CRED_* from it.
dc_creds() {
	local f=$1; shift
	"$OFFSEED_DC" credentials --state "$T/dcstate" --out "$f" "$@" >/dev/null ||
	    fail "offseed-dc credentials failed"
	CRED_TENANT=$(jv "$f" 'd["tenant"]')
	CRED_ID=$(jv "$f" 'd["client_id"]')
	CRED_SECRET=$(jv "$f" 'd["client_secret"]')
	CRED_SUB=$(jv "$f" 'd["subscription"]')
	CRED_RG=$(jv "$f" 'd["resource_group"]')
	CRED_ACCOUNT_ID=$(jv "$f" 'd["storage_account_id"]')
	BASE="$DC_URL/subscriptions/$CRED_SUB/resourceGroups/$CRED_RG/providers/Microsoft.DataBox"
}

# token_req [curl options]: POST the client-credentials form; answer in $T/resp, prints
# the status.
token_req() {
	curl -s -o "$T/resp" -w '%{http_code}' -A "offseed/0.1.0" \
	    --data-urlencode grant_type=client_credentials \
	    --data-urlencode "client_id=$CRED_ID" --data-urlencode "client_secret=$CRED_SECRET" \
	    --data-urlencode "scope=$DC_URL/.default" "$@" "$DC_URL/$CRED_TENANT/oauth2/v2.0/token"
}
dc_token() {
	[ "$(token_req)" = 200 ] || { cat "$T/resp"; fail "token request failed"; }
	TOKEN=$(jv "$T/resp" 'd["access_token"]')
}

# api METHOD URL [BODY-FILE [curl options…]]: call the API with $TOKEN; answer in $T/resp,
# headers in $T/hdrs; prints the status.
api() {
	local m=$1 u=$2 body=${3:-}
	shift 2; [ $# -gt 0 ] && shift
	local data=()
	[ -n "$body" ] && data=(-H 'Content-Type: application/json' --data-binary "@$body")
	curl -s -o "$T/resp" -D "$T/hdrs" -w '%{http_code}' -X "$m" -A "${UA:-offseed/0.1.0}" \
	    -H "Authorization: Bearer $TOKEN" "${data[@]}" "$@" "$u"
}
expect_status() {	# WANT METHOD URL [BODY [curl options…]]
	local want=$1; shift
	local got
	got=$(api "$@")
	[ "$got" = "$want" ] || { cat "$T/resp"; fail "expected HTTP $want, got $got: $*"; }
}
V="api-version=2025-02-01"

# job_body FILE SERIAL=HASH…: a valid job body for those disks, importing into the storage
# account of the last credentials (dc_creds).
job_body() {
	local f=$1; shift
	ACCOUNT_ID=${CRED_ACCOUNT_ID:-/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/acct} \
	    python3 - "$f" "$@" <<'PY'
import json, os, sys
disks = {}
for a in sys.argv[2:]:
    s, h = a.split("=", 1)
    disks[s] = {"manifestFile": "offseed-manifest.json", "manifestHash": h}
body = {"location": "westeurope", "sku": {"name": "DataBoxCustomerDisk"},
        "properties": {"transferType": "ImportToAzure", "details": {
            "jobDetailsType": "DataBoxCustomerDisk",
            "contactDetails": {"contactName": "Ops", "phone": "+1 555 0100",
                               "emailList": ["ops@example.com"]},
            "returnToCustomerPackageDetails": {"carrierName": "FedEx",
                                               "carrierAccountNumber": "123456"},
            "dataImportDetails": [{"accountDetails": {"dataAccountType": "StorageAccount",
                "storageAccountId": os.environ["ACCOUNT_ID"]}}],
            "importDiskDetailsCollection": disks}}}
json.dump(body, open(sys.argv[1], "w"))
PY
}

# wait_status NAME WANT [SECONDS]: poll the job until properties.status is WANT.
wait_status() {
	local name=$1 want=$2 secs=${3:-60} st=""
	for _ in $(seq 1 $((secs * 5))); do
		[ "$(api GET "$BASE/jobs/$name?$V&\$expand=details")" = 200 ] || { cat "$T/resp"; fail "GET $name failed"; }
		st=$(jv "$T/resp" 'd["properties"]["status"]')
		[ "$st" = "$want" ] && return 0
		sleep 0.2
	done
	cat "$T/resp"; fail "job $name is $st, not $want after ${secs}s"
}

# make_disk REPO DISK SERIAL [INDEX COUNT [FILES-REGEX]]: lay a staged repository out as a
# prepared disk (SPEC §7): containers under PageBlob/$CONT/srv01/, metadata under
# BlockBlob/$CONT/srv01/ (CONT defaults to "seed"), and its offseed-manifest.json (hashes
# taken from the staging manifest). Prints the manifest's SHA-256.
make_disk() {
	CONT=${CONT:-seed} python3 - "$@" <<'PY'
import hashlib, json, os, re, shutil, sys
repo, disk, serial = sys.argv[1:4]
cont = os.environ["CONT"]
index = int(sys.argv[4]) if len(sys.argv) > 4 else 1
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
only = re.compile(sys.argv[6]) if len(sys.argv) > 6 else None
m = json.load(open(os.path.join(repo, "offseed-manifest.json")))
files = []
for f in m["files"]:
    if only and not only.search(f["path"]):
        continue
    kind = "PageBlob" if f["path"].startswith("containers/") else "BlockBlob"
    dst = "%s/%s/srv01/%s" % (kind, cont, f["path"])
    os.makedirs(os.path.join(disk, os.path.dirname(dst)), exist_ok=True)
    shutil.copyfile(os.path.join(repo, f["path"]), os.path.join(disk, dst))
    g = dict(f); g["path"] = dst
    files.append(g)
m["files"] = sorted(files, key=lambda f: f["path"])
m["disk"] = {"index": index, "count": count, "serial": serial}
m["job"] = "seed-test"
with open(os.path.join(disk, "offseed-manifest.json"), "w") as out:
    json.dump(m, out, indent=2)
print(hashlib.sha256(open(os.path.join(disk, "offseed-manifest.json"), "rb").read()).hexdigest())
PY
}

# ---- run on its own: command-line checks ----
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	expect_exit 2 "$OFFSEED_DC"
	expect_exit 2 "$OFFSEED_DC" frobnicate
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s"
	expect_exit 2 "$OFFSEED_DC" serve --listen 0.0.0.0:8080 --state "$T/s" --storage "file:$T/x"
	assert_contains "$T/err" "loopback"
	expect_exit 2 "$OFFSEED_DC" serve --listen 10.1.2.3:8080 --state "$T/s" --storage "file:$T/x"
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1 --state "$T/s" --storage "file:$T/x"
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s" --storage "nfs:x"
	assert_contains "$T/err" "file:DIR or azure://ACCOUNT"
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s" --storage "file:$T/x" --fault 500
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s" --storage "file:$T/x" --fault 503:0
	expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/s" --storage "file:$T/x" --min-agent-version 1.2
	expect_exit 2 "$OFFSEED_DC" receive --url http://127.0.0.1:1 --job ../x A=/tmp
	expect_exit 2 "$OFFSEED_DC" receive --url http://127.0.0.1:1 --job job1 notapair
	expect_exit 2 "$OFFSEED_DC" receive --url http://127.0.0.1:1 --job job1
	# The dock commands need the state folder holding the admin token.
	expect_exit 2 env -u OFFSEED_DC_STATE "$OFFSEED_DC" return --url http://127.0.0.1:1 --job job1
	assert_contains "$T/err" "--state"
	expect_exit 2 "$OFFSEED_DC" return --url http://127.0.0.1:1 --job job1 --state "$T/nostate"
	assert_contains "$T/err" "admin token"
	# Nobody listens on port 1: a network failure, exit 8.
	mkdir -p "$T/fake" && printf '%064d\n' 7 >"$T/fake/admin.token"
	expect_exit 8 "$OFFSEED_DC" return --url http://127.0.0.1:1 --job job1 --state "$T/fake"
	expect_exit 0 "$OFFSEED_DC" --version
	assert_contains "$T/out" "2025-02-01"
	# every command answers --help on stdout with exit 0
	for c in serve credentials receive close return; do
		expect_exit 0 "$OFFSEED_DC" $c --help
		assert_contains "$T/out" "offseed-dc $c"
	done
	expect_exit 0 "$OFFSEED_DC" --help
	assert_contains "$T/out" "offseed-dc credentials"

	# credentials: no serve has recorded an endpoint yet → usage error unless --endpoint.
	expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c0.json"
	assert_contains "$T/err" "--endpoint"
	expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c0.json" --valid-days -1
	expect_exit 0 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c1.json" \
	    --endpoint http://127.0.0.1:9999 --valid-days 3
	[ "$(stat -c %a "$T/c1.json")" = 600 ] || fail "credentials file is not mode 0600"
	for k in endpoint tenant client_id client_secret subscription resource_group location \
	    storage_account_id vault_id expires; do
		[ -n "$(jv "$T/c1.json" "d['$k']")" ] || fail "credentials lack $k"
	done
	[ "$(jv "$T/c1.json" 'd["endpoint"]')" = http://127.0.0.1:9999 ] || fail "endpoint"
	# expires is 3 days from now (RFC 3339)
	python3 - "$T/c1.json" <<'PY' || fail "expiry is not 3 days ahead"
import datetime, json, sys
e = datetime.datetime.strptime(json.load(open(sys.argv[1]))["expires"], "%Y-%m-%dT%H:%M:%SZ")
d = (e - datetime.datetime.utcnow()).total_seconds()
sys.exit(0 if 3 * 86400 - 60 < d <= 3 * 86400 + 1 else 1)
PY
	[ "$(jv "$T/c1.json" 'd["storage_account_id"].rsplit("/", 1)[1]')" = offseedlocal ] ||
	    fail "default storage account name"
	# A customer has one account: another one for the default customer is refused.
	expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c4.json" \
	    --endpoint http://127.0.0.1:9999 --account seedacct
	assert_contains "$T/err" "already has storage account 'offseedlocal'"
	expect_exit 0 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c4.json" \
	    --endpoint http://127.0.0.1:9999 --customer seed --account seedacct
	[ "$(jv "$T/c4.json" 'd["storage_account_id"]')" = "/subscriptions/$(jv "$T/c4.json" 'd["subscription"]')/resourceGroups/offseed-import/providers/Microsoft.Storage/storageAccounts/seedacct" ] ||
	    fail "--account"
	[ "$(jv "$T/c4.json" 'd["subscription"]')" != "$(jv "$T/c1.json" 'd["subscription"]')" ] ||
	    fail "two customers share a subscription"
	expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c5.json" \
	    --endpoint http://127.0.0.1:9999 --customer other --account Bad_Name
	[ ! -e "$T/c5.json" ] || fail "credentials written despite a bad --account"
	expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c5.json" \
	    --endpoint http://127.0.0.1:9999 --customer ../x
	[ ! -e "$T/c5.json" ] || fail "credentials written despite a bad --customer"
	# The vault id is stable for the state; a second client is a different client.
	expect_exit 0 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c2.json" \
	    --endpoint http://127.0.0.1:9999
	[ "$(jv "$T/c1.json" 'd["vault_id"]')" = "$(jv "$T/c2.json" 'd["vault_id"]')" ] ||
	    fail "vault_id changed within one state"
	[ "$(jv "$T/c1.json" 'd["client_id"]')" != "$(jv "$T/c2.json" 'd["client_id"]')" ] ||
	    fail "two credentials files share a client id"
	# The state keeps only a hash of the secret.
	secret=$(jv "$T/c1.json" 'd["client_secret"]')
	! grep -rqF "$secret" "$T/dcstate" || fail "the client secret is stored in the state"
	# Once serve ran, the endpoint defaults to where it listens, storage is recorded.
	dc_start
	expect_exit 0 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/c3.json"
	[ "$(jv "$T/c3.json" 'd["endpoint"]')" = "$DC_URL" ] || fail "endpoint default"
	[ "$(jv "$T/c3.json" 'd["storage"]')" = "file:$(cd "$T/storage" && pwd -P)/offseedlocal" ] ||
	    fail "storage is not the customer's account: $(jv "$T/c3.json" 'd.get("storage")')"
	# A second service on the same port fails cleanly.
	port=${DC_URL##*:}
	expect_exit 1 "$OFFSEED_DC" serve --listen "127.0.0.1:$port" --state "$T/s2" --storage "file:$T/y"
	dc_stop
	echo "ok"
fi
