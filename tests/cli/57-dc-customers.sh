#!/bin/bash
# offseed-dc customers (SPEC §15): two customers of one service, over HTTP (curl) and through
# the offseed client. Each has its own tenant, subscription, vault and storage account; two
# credentials files of one customer share its jobs; another customer's job, its operation
# and its list entry are "not found" exactly like a job that does not exist, and stay
# unchanged; a job imports only into its customer's own account; the same job name lives
# independently in both; all of it survives a restart.
. "$(dirname "$0")/55-dc-lib.sh"

dc_start

# ---- credentials: customers and their accounts ----
dc_creds "$T/a1.json" --customer acme
A_ID=$CRED_ID A_SECRET=$CRED_SECRET A_TENANT=$CRED_TENANT A_SUB=$CRED_SUB A_RG=$CRED_RG
A_ACCT=$CRED_ACCOUNT_ID
dc_creds "$T/b.json" --customer globex
B_ID=$CRED_ID B_SECRET=$CRED_SECRET B_TENANT=$CRED_TENANT B_SUB=$CRED_SUB B_RG=$CRED_RG
B_ACCT=$CRED_ACCOUNT_ID
dc_creds "$T/a2.json" --customer acme		# a second file of the same customer
[ "$CRED_SUB" = "$A_SUB" ] && [ "$CRED_TENANT" = "$A_TENANT" ] || fail "acme's ids changed"
[ "$(jv "$T/a2.json" 'd["vault_id"]')" = "$(jv "$T/a1.json" 'd["vault_id"]')" ] ||
    fail "acme's vault changed"
A2_ID=$CRED_ID A2_SECRET=$CRED_SECRET
[ "$A_SUB" != "$B_SUB" ] && [ "$A_TENANT" != "$B_TENANT" ] || fail "customers share ids"
[ "$(jv "$T/a1.json" 'd["vault_id"]')" != "$(jv "$T/b.json" 'd["vault_id"]')" ] ||
    fail "customers share a vault"
[ "$A_ACCT" = "/subscriptions/$A_SUB/resourceGroups/$A_RG/providers/Microsoft.Storage/storageAccounts/acme" ] ||
    fail "acme's storage account id: $A_ACCT"
[ "${B_ACCT##*/}" = globex ] || fail "globex's account: $B_ACCT"
STORE=$(cd "$T/storage" && pwd -P)
[ "$(jv "$T/a1.json" 'd["storage"]')" = "file:$STORE/acme" ] || fail "acme's storage location"
[ "$(jv "$T/b.json" 'd["storage"]')" = "file:$STORE/globex" ] || fail "globex's storage location"
[ -f "$T/dcstate/customers/acme.json" ] || fail "customer not recorded in the state"
# An account belongs to one customer; a customer has one account.
expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/x.json" --customer evil \
    --account acme
assert_contains "$T/err" "belongs to customer 'acme'"
expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/x.json" --customer evil \
    --account offseedlocal
assert_contains "$T/err" "belongs to customer 'default'"
expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/x.json" --customer acme \
    --account other
expect_exit 2 "$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/x.json" --customer ab
assert_contains "$T/err" "--account"
[ ! -e "$T/x.json" ] || fail "credentials written for a refused customer"

# as_a / as_b / as_a2: switch the caller (token, base URL, account for job_body)
as_a() { CRED_ID=$A_ID CRED_SECRET=$A_SECRET CRED_TENANT=$A_TENANT CRED_ACCOUNT_ID=$A_ACCT
	BASE="$DC_URL/subscriptions/$A_SUB/resourceGroups/$A_RG/providers/Microsoft.DataBox"; dc_token; }
as_a2() { CRED_ID=$A2_ID CRED_SECRET=$A2_SECRET CRED_TENANT=$A_TENANT CRED_ACCOUNT_ID=$A_ACCT
	BASE="$DC_URL/subscriptions/$A_SUB/resourceGroups/$A_RG/providers/Microsoft.DataBox"; dc_token; }
as_b() { CRED_ID=$B_ID CRED_SECRET=$B_SECRET CRED_TENANT=$B_TENANT CRED_ACCOUNT_ID=$B_ACCT
	BASE="$DC_URL/subscriptions/$B_SUB/resourceGroups/$B_RG/providers/Microsoft.DataBox"; dc_token; }
BASE_A="$DC_URL/subscriptions/$A_SUB/resourceGroups/$A_RG/providers/Microsoft.DataBox"

# The token endpoint of another customer's tenant does not know this client.
CRED_ID=$B_ID CRED_SECRET=$B_SECRET CRED_TENANT=$A_TENANT
[ "$(token_req)" = 400 ] || fail "globex got a token from acme's tenant"
[ "$(jv "$T/resp" 'd["error"]')" = invalid_request ] || fail "foreign tenant: error code"

# ---- acme's jobs ----
H1=$(printf '%064d' 1); H2=$(printf 'ab%062d' 2)
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"1Z1"}}' >"$T/ship.json"
printf '{"reason":"not mine"}' >"$T/cancel.json"
as_a
job_body "$T/a-body.json" "DISK-A=$H1"
expect_status 201 PUT "$BASE/jobs/acme-job?$V" "$T/a-body.json"
A_OP=$(sed -n 's/^Azure-AsyncOperation: *//Ip' "$T/hdrs" | tr -d '\r')
A_OPID=$(echo "$A_OP" | sed 's|.*/operationStatuses/||; s|?.*||')
[ "$(jv "$T/resp" 'd["id"]')" = "/subscriptions/$A_SUB/resourceGroups/$A_RG/providers/Microsoft.DataBox/jobs/acme-job" ] ||
    fail "job id is not under acme's subscription: $(jv "$T/resp" 'd["id"]')"
expect_status 201 PUT "$BASE/jobs/shared-name?$V" "$T/a-body.json"
expect_status 200 GET "$A_OP"
# acme's import into globex's account is refused
job_body "$T/a-into-b.json" "DISK-A=$H1"
python3 - "$T/a-into-b.json" "$B_ACCT" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
b["properties"]["details"]["dataImportDetails"][0]["accountDetails"]["storageAccountId"] = sys.argv[2]
json.dump(b, open(sys.argv[1], "w"))
PY
expect_status 400 PUT "$BASE/jobs/steal?$V" "$T/a-into-b.json"
assert_contains "$T/resp" '"InvalidRequestContent"'
assert_contains "$T/resp" "storageAccounts/acme"
# … also named by the bare account of the other subscription's id form
sed 's|storageAccounts/globex|storageAccounts/nosuchacct|' "$T/a-into-b.json" >"$T/a-into-x.json"
expect_status 400 PUT "$BASE/jobs/steal?$V" "$T/a-into-x.json"
expect_status 404 GET "$BASE/jobs/steal?$V"
# acme's second credentials file sees the same jobs
as_a2
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" '[j["name"] for j in d["value"]]')" = '["acme-job", "shared-name"]' ] ||
    fail "acme's second credentials do not share its jobs: $(cat "$T/resp")"
cp "$T/resp" "$T/a-list-before"
expect_status 200 GET "$BASE/jobs/acme-job?$V&\$expand=details"
cp "$T/resp" "$T/a-job-before"

# ---- globex sees none of it ----
as_b
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" 'len(d["value"])')" = 0 ] || fail "globex lists acme's jobs: $(cat "$T/resp")"
expect_status 404 GET "$BASE/jobs/acme-job?$V"
assert_contains "$T/resp" '"ResourceNotFound"'
cp "$T/resp" "$T/b-get"
expect_status 404 GET "$BASE/jobs/no-such-job?$V"
# indistinguishable from a job that does not exist (modulo the name)
[ "$(sed 's/acme-job/X/' "$T/b-get")" = "$(sed 's/no-such-job/X/' "$T/resp")" ] ||
    fail "another customer's job answers differently from a missing one"
expect_status 404 POST "$BASE/jobs/acme-job/markDevicesShipped?$V" "$T/ship.json"
expect_status 404 POST "$BASE/jobs/acme-job/cancel?$V" "$T/cancel.json"
# DELETE answers as for a job that does not exist (204) and deletes nothing
expect_status 204 DELETE "$BASE/jobs/no-such-job?$V"
expect_status 204 DELETE "$BASE/jobs/acme-job?$V"
# acme's subscription and operation: not found for globex
expect_status 404 GET "$BASE_A/jobs?$V"
assert_contains "$T/resp" '"SubscriptionNotFound"'
expect_status 404 GET "$BASE_A/jobs/acme-job?$V"
expect_status 404 GET "$A_OP"
expect_status 404 GET "$DC_URL/subscriptions/$B_SUB/providers/Microsoft.DataBox/locations/westeurope/operationStatuses/$A_OPID?$V"
assert_contains "$T/resp" '"OperationNotFound"'
# the same name in globex is its own job
job_body "$T/b-body.json" "DISK-B=$H2"
expect_status 201 PUT "$BASE/jobs/shared-name?$V" "$T/b-body.json"
expect_status 204 POST "$BASE/jobs/shared-name/cancel?$V" "$T/cancel.json"
expect_status 200 GET "$BASE/jobs/shared-name?$V&\$expand=details"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Cancelled ] || fail "globex's job not cancelled"
[ "$(jv "$T/resp" 'list(d["properties"]["details"]["importDiskDetailsCollection"])')" = '["DISK-B"]' ] ||
    fail "globex sees acme's job body"

# ---- acme's jobs are unchanged ----
as_a
expect_status 200 GET "$BASE/jobs?$V"
cmp -s "$T/resp" "$T/a-list-before" || { diff "$T/a-list-before" "$T/resp"; fail "acme's list changed"; }
expect_status 200 GET "$BASE/jobs/acme-job?$V&\$expand=details"
cmp -s "$T/resp" "$T/a-job-before" || fail "acme's job changed"
expect_status 200 GET "$BASE/jobs/shared-name?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Created ] || fail "acme's shared-name changed"

# ---- the dock names the customer when a job name is not unique ----
mkdir -p "$T/d1"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job shared-name "DISK-A=$T/d1"
assert_contains "$T/err" "AmbiguousJobName"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --customer globex --job acme-job "DISK-A=$T/d1"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --customer acme --job shared-name "DISK-A=$T/d1"
expect_status 200 GET "$BASE/jobs/shared-name?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" != Created ] || fail "receive missed acme's job"

# ---- restart: customers, jobs and the isolation survive ----
dc_stop
dc_start
[ -f "$T/dcstate/jobs/acme/acme-job.json" ] && [ -f "$T/dcstate/jobs/globex/shared-name.json" ] ||
    fail "jobs are not kept per customer"
as_b
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" '[j["name"] for j in d["value"]]')" = '["shared-name"]' ] ||
    fail "globex's list after the restart: $(cat "$T/resp")"
expect_status 404 GET "$BASE/jobs/acme-job?$V"
as_a
expect_status 200 GET "$BASE/jobs/acme-job?$V"

# A job file from before customers (no customer, top of STATE/jobs) is the default
# customer's only.
dc_stop
python3 - "$T/dcstate/jobs/acme/acme-job.json" "$T/dcstate/jobs/legacy-job.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["customer"]; d["name"] = "legacy-job"
json.dump(d, open(sys.argv[2], "w"))
PY
dc_start
[ -f "$T/dcstate/jobs/default/legacy-job.json" ] && [ ! -e "$T/dcstate/jobs/legacy-job.json" ] ||
    fail "an old job file was not moved to the default customer's folder"
as_a
expect_status 404 GET "$BASE/jobs/legacy-job?$V"
dc_creds "$T/d.json"
dc_token
expect_status 200 GET "$BASE/jobs/legacy-job?$V"
dc_stop

# ---- the offseed client, one repository per customer ----
cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF
mkdir -p "$T/src" "$T/diskA"
head -c 200000 /dev/urandom >"$T/src/rand.bin"
expect_exit 0 ofs init --repo "$T/repoA" --dest azure://acme/backups/srv01
expect_exit 0 ofs stage --repo "$T/repoA" "$T/src"
expect_exit 0 ofs prep --repo "$T/repoA" --disk "$T/diskA" --job cli-job --serial "$T/diskA=SER-CA"
dc_start
# (credentials name the endpoint: issue them again for this port)
for f in a1:acme a2:acme b:globex; do dc_creds "$T/${f%%:*}.json" --customer "${f#*:}"; done
expect_exit 0 ofs --state "$T/stA" --credentials "$T/a1.json" import create --job cli-job \
    --repo "$T/repoA" --contact "$T/contact.json"
! grep -q "warning" "$T/err" || { cat "$T/err"; fail "import create warned"; }
expect_exit 0 ofs --state "$T/stA" --credentials "$T/a1.json" import ship --job cli-job \
    --carrier DHL --tracking 1Z9
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --customer acme --job cli-job "SER-CA=$T/diskA"
expect_exit 0 ofs --state "$T/stA" --credentials "$T/a2.json" import status --job cli-job \
    --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "job cli-job: Completed"
[ -n "$(find "$STORE/acme" -type f -name '*.vhd')" ] || fail "nothing imported into acme's account"
[ ! -e "$STORE/globex" ] || [ -z "$(find "$STORE/globex" -type f)" ] ||
    fail "something landed in globex's account"
expect_exit 0 ofs --state "$T/stA" --credentials "$T/a1.json" import logs --job cli-job \
    --out "$T/logsA"
[ -f "$T/logsA/SER-CA-verbose.json" ] || fail "acme's logs not fetched"
# globex: the job does not exist for it
expect_exit 0 ofs --json --state "$T/stB" --credentials "$T/b.json" import list
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$T/out")" = 1 ] ||
    fail "globex's client lists other jobs: $(cat "$T/out")"
! grep -q "cli-job\|acme-job" "$T/out" || fail "globex's client lists acme's jobs"
expect_exit 1 ofs --state "$T/stB" --credentials "$T/b.json" import status --job cli-job
assert_contains "$T/err" "not found"
expect_exit 1 ofs --state "$T/stB" --credentials "$T/b.json" import logs --job cli-job \
    --out "$T/logsB"
[ ! -e "$T/logsB" ] || [ -z "$(ls -A "$T/logsB")" ] || fail "globex fetched acme's logs"
dc_stop
echo ok
