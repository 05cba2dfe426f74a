#!/bin/bash
# offseed-dc jobs API over real HTTP (curl): token endpoint, bearer and api-version checks,
# create (idempotent, 409 on another body), get with details, list with paging, ship,
# cancel, delete, agent version floor; jobs survive a restart.
. "$(dirname "$0")/55-dc-lib.sh"

dc_start --page-size 2 --token-lifetime 8
dc_creds "$T/cred.json"

# ---- token endpoint ----
[ "$(token_req)" = 200 ] || { cat "$T/resp"; fail "token"; }
[ "$(jv "$T/resp" 'd["token_type"]')" = Bearer ] || fail "token_type"
[ "$(jv "$T/resp" 'd["expires_in"]')" -le 8 ] || fail "expires_in is not the lifetime"
TOKEN=$(jv "$T/resp" 'd["access_token"]')
good_secret=$CRED_SECRET
CRED_SECRET=wrong
[ "$(token_req)" = 401 ] || fail "wrong secret accepted"
[ "$(jv "$T/resp" 'd["error"]')" = invalid_client ] || fail "wrong secret: error code"
CRED_SECRET=$good_secret
code=$(curl -s -o "$T/resp" -w '%{http_code}' -d grant_type=password -d "client_id=$CRED_ID" \
    -d "client_secret=$CRED_SECRET" "$DC_URL/$CRED_TENANT/oauth2/v2.0/token")
[ "$code" = 400 ] && [ "$(jv "$T/resp" 'd["error"]')" = unsupported_grant_type ] ||
    fail "password grant: $code $(cat "$T/resp")"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -d grant_type=client_credentials \
    -d "client_id=$CRED_ID" -d "client_secret=$CRED_SECRET" "$DC_URL/other-tenant/oauth2/v2.0/token")
[ "$code" = 400 ] || fail "foreign tenant accepted: $code"
# The form is decoded strictly (lib/text.h): '+' is a space, a bad escape or %00 is no value.
for bad in "client_id=$CRED_ID%zz" "client_id=$CRED_ID%00" "client_id=$CRED_ID%4"; do
	code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-raw "grant_type=client_credentials&$bad" \
	    --data-raw "client_secret=$CRED_SECRET" "$DC_URL/$CRED_TENANT/oauth2/v2.0/token")
	[ "$code" = 400 ] && [ "$(jv "$T/resp" 'd["error"]')" = invalid_request ] ||
	    fail "form field '$bad': $code $(cat "$T/resp")"
done
code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-raw "grant_type=client%5Fcredentials" \
    --data-raw "client_id=$CRED_ID" --data-raw "client_secret=$CRED_SECRET" \
    "$DC_URL/$CRED_TENANT/oauth2/v2.0/token")
[ "$code" = 200 ] || fail "an escaped form value is not decoded: $code $(cat "$T/resp")"
# Expired credentials (valid for 0 days) get no token; the answer names the date.
"$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/old.json" --valid-days 0 >/dev/null
keep_id=$CRED_ID keep_secret=$CRED_SECRET
CRED_ID=$(jv "$T/old.json" 'd["client_id"]') CRED_SECRET=$(jv "$T/old.json" 'd["client_secret"]')
[ "$(token_req)" = 401 ] || fail "expired credentials got a token"
assert_contains "$T/resp" "expired on $(jv "$T/old.json" 'd["expires"]')"
CRED_ID=$keep_id CRED_SECRET=$keep_secret

# ---- bearer and api-version ----
# a fresh token whose expiry is timed below (the checks must not outlive it, even slowed down
# under ASan)
[ "$(token_req)" = 200 ] || { cat "$T/resp"; fail "token"; }
TOKEN=$(jv "$T/resp" 'd["access_token"]')
issued=$(date +%s.%N)
TOKEN="" expect_status 401 GET "$BASE/jobs?$V"
assert_contains "$T/resp" '"AuthenticationFailed"'
grep -qi '^WWW-Authenticate: Bearer' "$T/hdrs" || fail "no WWW-Authenticate header"
good=$TOKEN
TOKEN="${good%?}0"; [ "$TOKEN" != "$good" ] || TOKEN="${good%?}1"
expect_status 401 GET "$BASE/jobs?$V"
assert_contains "$T/resp" '"InvalidAuthenticationToken"'
TOKEN="ofsdc1.x.1.y" expect_status 401 GET "$BASE/jobs?$V"
TOKEN=$good
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" 'len(d["value"])')" = 0 ] || fail "fresh service lists jobs"
expect_status 400 GET "$BASE/jobs?api-version=2022-12-01"
assert_contains "$T/resp" '"InvalidApiVersionParameter"'
assert_contains "$T/resp" "2025-02-01"
expect_status 400 GET "$BASE/jobs"
assert_contains "$T/resp" '"MissingApiVersionParameter"'
expect_status 404 GET "$DC_URL/subscriptions/nope/resourceGroups/$CRED_RG/providers/Microsoft.DataBox/jobs?$V"
expect_status 404 GET "$DC_URL/subscriptions/$CRED_SUB/resourceGroups/other/providers/Microsoft.DataBox/jobs?$V"
assert_contains "$T/resp" '"ResourceGroupNotFound"'
# The token expires 8 s after it was issued (--token-lifetime 8).
python3 -c 'import sys, time; time.sleep(max(0.0, float(sys.argv[1]) + 8.3 - time.time()))' "$issued"
expect_status 401 GET "$BASE/jobs?$V"
assert_contains "$T/resp" '"ExpiredAuthenticationToken"'
dc_stop
dc_start --page-size 2
dc_token

# ---- create ----
H1=$(printf '%064d' 1); H2=$(printf 'ab%062d' 2)
job_body "$T/body1.json" "DISK-1=$H1" "DISK-2=$H2"
expect_status 201 PUT "$BASE/jobs/job-a?$V" "$T/body1.json"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Created ] || fail "new job not Created"
[ "$(jv "$T/resp" 'd["name"]')" = job-a ] || fail "name"
op=$(sed -n 's/^Azure-AsyncOperation: *//Ip' "$T/hdrs" | tr -d '\r')
[ -n "$op" ] || fail "no Azure-AsyncOperation header"
expect_status 200 GET "$op"
[ "$(jv "$T/resp" 'd["status"]')" = Succeeded ] || fail "operation status"
TOKEN="" expect_status 401 GET "$op"
# Same body again: 200, still one job. Another body: 409.
expect_status 200 PUT "$BASE/jobs/job-a?$V" "$T/body1.json"
job_body "$T/body2.json" "DISK-1=$H2"
expect_status 409 PUT "$BASE/jobs/job-a?$V" "$T/body2.json"
assert_contains "$T/resp" '"Conflict"'
# Bad bodies and names: 400 naming the field.
expect_status 400 PUT "$BASE/jobs/x?$V" "$T/body1.json"
assert_contains "$T/resp" '"InvalidResourceName"'
python3 - "$T/body1.json" "$T/bad1.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); b["sku"]["name"] = "DataBox"; json.dump(b, open(sys.argv[2], "w"))
PY
expect_status 400 PUT "$BASE/jobs/job-b?$V" "$T/bad1.json"
assert_contains "$T/resp" "sku.name"
python3 - "$T/body1.json" "$T/bad2.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
b["properties"]["details"]["importDiskDetailsCollection"]["DISK-1"]["manifestHash"] = "xyz"
json.dump(b, open(sys.argv[2], "w"))
PY
expect_status 400 PUT "$BASE/jobs/job-b?$V" "$T/bad2.json"
assert_contains "$T/resp" "manifestHash"
python3 - "$T/body1.json" "$T/bad3.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
b["properties"]["details"]["importDiskDetailsCollection"]["DISK-1"]["manifestFile"] = "../x"
json.dump(b, open(sys.argv[2], "w"))
PY
expect_status 400 PUT "$BASE/jobs/job-b?$V" "$T/bad3.json"
printf '{"location": "x", "location": "y"}' >"$T/bad4.json"
expect_status 400 PUT "$BASE/jobs/job-b?$V" "$T/bad4.json"
printf 'not json' >"$T/bad5.json"
expect_status 400 PUT "$BASE/jobs/job-b?$V" "$T/bad5.json"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big.json"
expect_status 413 PUT "$BASE/jobs/job-b?$V" "$T/big.json"
expect_status 404 GET "$BASE/jobs/job-b?$V"

# ---- get ----
expect_status 200 GET "$BASE/jobs/job-a?$V"
[ "$(jv "$T/resp" '"details" in d["properties"]')" = false ] || fail "details without \$expand"
expect_status 200 GET "$BASE/jobs/job-a?$V&\$expand=details"
[ "$(jv "$T/resp" '[p["serialNumber"] for p in d["properties"]["details"]["copyProgress"]]')" = '["DISK-1", "DISK-2"]' ] ||
    fail "copyProgress serials"
[ "$(jv "$T/resp" '[p["copyStatus"] for p in d["properties"]["details"]["copyProgress"]]')" = '["NotStarted", "NotStarted"]' ] ||
    fail "copyProgress status"
[ "$(jv "$T/resp" 'd["properties"]["details"]["jobStages"][0]["stageName"]')" = Created ] ||
    fail "jobStages"
[ "$(jv "$T/resp" 'd["properties"]["isCancellable"]')" = true ] || fail "isCancellable"
[ "$(jv "$T/resp" 'd["properties"]["details"]["importDiskDetailsCollection"]["DISK-2"]["manifestHash"]')" = "$H2" ] ||
    fail "request details not echoed"
# carrierAccountNumber is write-only
! grep -q 123456 "$T/resp" || fail "carrierAccountNumber returned"
expect_status 404 GET "$BASE/jobs/nosuchjob?$V"
assert_contains "$T/resp" '"ResourceNotFound"'

# ---- list with paging (page size 2) ----
job_body "$T/body3.json" "DISK-9=$H1"
expect_status 201 PUT "$BASE/jobs/job-c?$V" "$T/body3.json"
expect_status 201 PUT "$BASE/jobs/job-b?$V" "$T/body3.json"
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" '[j["name"] for j in d["value"]]')" = '["job-a", "job-b"]' ] || fail "page 1"
next=$(jv "$T/resp" 'd["nextLink"]')
expect_status 200 GET "$next"
[ "$(jv "$T/resp" '[j["name"] for j in d["value"]]')" = '["job-c"]' ] || fail "page 2"
[ "$(jv "$T/resp" 'd.get("nextLink")')" = null ] || fail "nextLink on the last page"

# ---- ship ----
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS"}}' >"$T/ship-bad.json"
expect_status 400 POST "$BASE/jobs/job-a/markDevicesShipped?$V" "$T/ship-bad.json"
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"1Z999"}}' >"$T/ship.json"
expect_status 204 POST "$BASE/jobs/job-a/markDevicesShipped?$V" "$T/ship.json"
expect_status 404 POST "$BASE/jobs/nosuchjob/markDevicesShipped?$V" "$T/ship.json"
expect_status 200 GET "$BASE/jobs/job-a?$V&\$expand=details"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = ShippedToAzureDC ] || fail "not shipped"
[ "$(jv "$T/resp" 'd["properties"]["details"]["deliverToDcPackageDetails"]["trackingId"]')" = 1Z999 ] ||
    fail "tracking id"
[ "$(jv "$T/resp" '[s["stageName"] for s in d["properties"]["details"]["jobStages"]]')" = '["Created", "ShippedToAzureDC"]' ] ||
    fail "stages after ship"

# ---- cancel / delete ----
expect_status 409 DELETE "$BASE/jobs/job-b?$V"
assert_contains "$T/resp" '"InvalidJobState"'
printf '{}' >"$T/cancel-bad.json"
expect_status 400 POST "$BASE/jobs/job-b/cancel?$V" "$T/cancel-bad.json"
printf '{"reason":"ordered by mistake"}' >"$T/cancel.json"
expect_status 204 POST "$BASE/jobs/job-b/cancel?$V" "$T/cancel.json"
expect_status 204 POST "$BASE/jobs/job-b/cancel?$V" "$T/cancel.json"	# repeat: same answer
expect_status 200 GET "$BASE/jobs/job-b?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Cancelled ] || fail "not cancelled"
[ "$(jv "$T/resp" 'd["properties"]["cancellationReason"]')" = "ordered by mistake" ] || fail "reason"
[ "$(jv "$T/resp" 'd["properties"]["isDeletable"]')" = true ] || fail "isDeletable"
expect_status 409 POST "$BASE/jobs/job-b/markDevicesShipped?$V" "$T/ship.json"
# A shipped job is still cancellable; once its disks are at the DC it is not.
mkdir -p "$T/d1"
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job job-a "DISK-1=$T/d1"
assert_contains "$T/out" "job job-a:"
expect_status 409 POST "$BASE/jobs/job-a/cancel?$V" "$T/cancel.json"
assert_contains "$T/resp" '"InvalidJobState"'
expect_status 409 DELETE "$BASE/jobs/job-a?$V"
expect_status 200 DELETE "$BASE/jobs/job-b?$V"
expect_status 404 GET "$BASE/jobs/job-b?$V"
expect_status 204 DELETE "$BASE/jobs/job-b?$V"
[ -e "$T/dcstate/jobs/default/job-a.json" ] || fail "no job file in the customer's folder"
[ ! -e "$T/dcstate/jobs/default/job-b.json" ] || fail "deleted job's file remains"
expect_status 405 PATCH "$BASE/jobs/job-a?$V"

# ---- agent version floor ----
dc_stop
dc_start --min-agent-version 0.2.0
dc_creds "$T/cred.json"
UA=offseed/0.1.0 expect_status 400 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" 'd["error"]["code"]')" = AgentVersionNotSupported ] || fail "code"
assert_contains "$T/resp" "0.2.0"
[ "$(jv "$T/resp" 'd["error"]["minimumVersion"]')" = 0.2.0 ] || fail "minimumVersion"
# The token endpoint says so too, before checking the client.
[ "$(token_req)" = 400 ] && assert_contains "$T/resp" AgentVersionNotSupported
code=$(curl -s -o "$T/resp" -w '%{http_code}' -A offseed/0.2.0 --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CRED_ID" --data-urlencode "client_secret=$CRED_SECRET" \
    "$DC_URL/$CRED_TENANT/oauth2/v2.0/token")
[ "$code" = 200 ] || fail "offseed/0.2.0 refused: $(cat "$T/resp")"
TOKEN=$(jv "$T/resp" 'd["access_token"]')
UA=offseed/0.10.0 expect_status 200 GET "$BASE/jobs?$V"
UA=offseed/1.0.0 expect_status 200 GET "$BASE/jobs?$V"

# ---- restart: jobs and tokens survive ----
[ "$(jv "$T/resp" '[j["name"] for j in d["value"]]')" = '["job-a", "job-c"]' ] || fail "jobs lost on restart"
dc_stop
dc_start
UA=offseed/1.0.0 expect_status 200 GET "$BASE/jobs/job-c?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Created ] || fail "job-c after restart"
dc_stop
echo ok
