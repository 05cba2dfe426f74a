#!/bin/bash
# offseed-dc fault injection for client tests: 503:N and 429:N answer the first N API
# requests with Retry-After, drop:N closes the connection unanswered, slow:N delays; the
# admin endpoints are never faulted.
. "$(dirname "$0")/55-dc-lib.sh"

# 503 for the first two requests, then normal service.
dc_start --fault 503:2
dc_creds "$T/cred.json"
[ "$(admin POST /admin/jobs/x/close)" = 404 ] || fail "admin endpoint faulted"
[ "$(token_req -D "$T/hdrs")" = 503 ] || fail "first request not 503"
grep -qi '^Retry-After: 1' "$T/hdrs" || fail "no Retry-After on 503"
[ "$(jv "$T/resp" 'd["error"]["code"]')" = ServiceUnavailable ] || fail "503 body"
TOKEN=x expect_status 503 GET "$BASE/jobs?$V"
grep -qi '^Retry-After:' "$T/hdrs" || fail "no Retry-After on the second 503"
dc_token
expect_status 200 GET "$BASE/jobs?$V"
dc_stop

# 429 once
dc_start --fault 429:1
[ "$(token_req -D "$T/hdrs")" = 429 ] || fail "first request not 429"
grep -qi '^Retry-After: 1' "$T/hdrs" || fail "no Retry-After on 429"
dc_token
dc_stop

# drop once: no answer at all
dc_start --fault drop:1
curl -s -o /dev/null "$DC_URL/$CRED_TENANT/oauth2/v2.0/token" -d grant_type=client_credentials
rc=$?
[ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "dropped request: curl exit $rc (want 52 empty reply)"
dc_token
dc_stop

# slow once (1.5 s), then fast
OFFSEED_DC_SLOW_MS=1500 dc_start --fault slow:1
t0=$(date +%s%N); dc_token; t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -ge 1400 ] || fail "slow request took only $(( (t1 - t0) / 1000000 )) ms"
t0=$(date +%s%N); expect_status 200 GET "$BASE/jobs?$V"; t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || fail "second request was slow too"
dc_stop

# 503 without a count: every API request, the admin endpoints still answer
dc_start --fault 503
for _ in 1 2 3; do [ "$(token_req)" = 503 ] || fail "unlimited 503 stopped"; done
[ "$(admin GET /admin/health)" = 200 ] || fail "health"
dc_stop
echo ok
