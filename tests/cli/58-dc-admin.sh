#!/bin/bash
# offseed-dc admin side and names (SPEC §15): the admin endpoints (receive, close, return, the
# job document, health) need the operator's token from STATE/admin.token (0600); another
# local user, a foreign Host (DNS rebinding) and a body that is not application/json are
# refused; the dock commands read the token from --state / OFFSEED_DC_STATE; --dock-root
# confines receive (symlinks, "..", a symlinked disk folder); job names that could collide
# with the service's own files are refused and every accepted job survives a restart;
# bodies over an endpoint's limit get 413.
. "$(dirname "$0")/55-dc-lib.sh"
need setpriv
id nobody >/dev/null 2>&1 || fail "no user 'nobody' to test another local user with"
getent group nogroup >/dev/null || fail "no group 'nogroup'"

mkdir -p "$T/dock/disk1" "$T/outside/disk9" "$T/dock/sub"
ln -s "$T/outside" "$T/dock/escape"		# a folder link leading out of the dock root
ln -s "$T/dock/disk1" "$T/dock/disklink"	# a disk folder that is a symlink
dc_start --dock-root "$T/dock"
dc_creds "$T/cred.json"
dc_token
[ "$(stat -c %a "$DC_STATE/admin.token")" = 600 ] || fail "admin.token is not mode 0600"
[ "$(wc -c <"$DC_STATE/admin.token")" -ge 64 ] || fail "admin.token is too short"
H1=$(printf '%064d' 1)
job_body "$T/body.json" "D1=$H1" "D2=$H1" "D3=$H1"
expect_status 201 PUT "$BASE/jobs/adm-job?$V" "$T/body.json"
JOB=/admin/jobs/adm-job

# ---- without the operator's token: refused, nothing leaks ----
for req in "GET /admin/health" "GET $JOB" "POST $JOB/close" "POST $JOB/return" \
    "POST /admin/customers/default/jobs/adm-job/close"; do
	set -- $req
	code=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
	    "$DC_URL$2")
	[ "$code" = 401 ] || fail "$req without the admin token: HTTP $code"
	assert_contains "$T/resp" '"AdminAuthenticationFailed"'
done
# the token with its last digit changed (to 1 when it is 0: never the token itself)
last=0; [ "${ADMIN_TOKEN: -1}" = 0 ] && last=1
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Offseed-Admin-Token: ${ADMIN_TOKEN%?}$last" \
    "$DC_URL$JOB")
[ "$code" = 401 ] || fail "a wrong admin token: HTTP $code"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H "X-Offseed-Admin-Token: $TOKEN" "$DC_URL$JOB")
[ "$code" = 401 ] || fail "a customer's bearer token opened the admin side: HTTP $code"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$DC_URL$JOB")
[ "$code" = 401 ] || fail "a bearer token opened the admin side: HTTP $code"
# another local user: cannot read the token, and gets nothing without it
! setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$DC_STATE/admin.token" \
    >/dev/null 2>&1 || fail "user nobody can read the admin token"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/curl -s "$DC_URL$JOB")
code=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/curl -s -o /dev/null \
    -w '%{http_code}' "$DC_URL$JOB")
[ "$code" = 401 ] || fail "user nobody read the job document: HTTP $code"
[[ "$out" != *123456* && "$out" != *carrierAccountNumber* ]] ||
    fail "the job document leaked to user nobody: $out"
code=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/curl -s -o /dev/null \
    -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"disks\":{\"D1\":\"$T/dock/disk1\"}}" "$DC_URL$JOB/receive")
[ "$code" = 401 ] || fail "user nobody received a disk: HTTP $code"
# the token works, from the state folder
[ "$(admin GET "$JOB")" = 200 ] || fail "the admin token does not open the job document"
assert_contains "$T/resp" 123456
[ "$(admin GET /admin/health)" = 200 ] || fail "health with the token"

# ---- foreign Host and non-JSON bodies: refused even with the token ----
for h in evil.example "evil.example:${DC_URL##*:}" "127.0.0.1.nip.io" "localhost.evil.example" \
    "[::ffff:7f00:1]" "127.0.0.1:80:80" ""; do
	code=$(admin GET "$JOB" -H "Host: $h")
	[ "$code" = 403 ] || [ "$code" = 400 ] || fail "Host '$h' accepted on the admin side: $code"
done
[ "$(admin GET "$JOB" -H "Host: localhost:1234")" = 200 ] || fail "Host localhost refused"
[ "$(admin GET "$JOB" -H "Host: 127.0.0.1")" = 200 ] || fail "Host 127.0.0.1 refused"
code=$(admin POST "$JOB/receive" -H 'Content-Type: text/plain' \
    -d "{\"disks\":{\"D1\":\"$T/dock/disk1\"}}")
[ "$code" = 415 ] || fail "text/plain receive: HTTP $code"
assert_contains "$T/resp" '"UnsupportedMediaType"'
code=$(admin POST "$JOB/close" -d 'disks=x')	# curl's default: a form
[ "$code" = 415 ] || fail "form-encoded close: HTTP $code"
# the jobs API wants JSON bodies too (a form or text/plain is a cross-site request)
expect_status 415 PUT "$BASE/jobs/text-job?$V" "" -H 'Content-Type: text/plain' \
    --data-binary "@$T/body.json"
expect_status 404 GET "$BASE/jobs/text-job?$V"
[ "$(admin GET "$JOB")" = 200 ] && [ "$(jv "$T/resp" 'd["status"]')" = Created ] ||
    fail "a refused admin request changed the job"

# ---- dock root ----
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job adm-job "D1=$T/outside/disk9"
assert_contains "$T/err" "dock root"
expect_exit 1 "$OFFSEED_DC" receive --url "$DC_URL" --job adm-job "D1=$T/dock/escape/disk9"
assert_contains "$T/err" "dock root"
# straight to the endpoint, unresolved: a symlinked folder on the way, "..", a disk symlink
for p in "$T/dock/escape/disk9" "$T/dock/sub/../../outside/disk9" "$T/dock/disklink" "$T/dock"; do
	code=$(admin POST "$JOB/receive" -H 'Content-Type: application/json' \
	    -d "{\"disks\":{\"D1\":\"$p\"}}")
	[ "$code" = 400 ] || fail "receive of '$p' under --dock-root: HTTP $code"
	assert_contains "$T/resp" '"InvalidDiskPath"'
done
[ "$(admin GET "$JOB")" = 200 ] && [ "$(jv "$T/resp" 'd["disks"]["D1"]["phase"]')" = waiting ] ||
    fail "a refused disk was recorded"
# the dock commands without the state folder: usage; with it: the token is found
expect_exit 2 env -u OFFSEED_DC_STATE "$OFFSEED_DC" receive --url "$DC_URL" --job adm-job \
    "D1=$T/dock/disk1"
expect_exit 0 env -u OFFSEED_DC_STATE "$OFFSEED_DC" receive --url "$DC_URL" --state "$DC_STATE" \
    --job adm-job "D1=$T/dock/disk1"
[ "$(admin GET "$JOB")" = 200 ] && [ "$(jv "$T/resp" 'd["disks"]["D1"]["dock"]')" = "$(cd "$T/dock/disk1" && pwd -P)" ] ||
    fail "the received disk path"
# without --dock-root any folder the operator names is accepted (but not a symlinked disk)
dc_stop
dc_start
dc_token
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job adm-job "D2=$T/outside/disk9"
code=$(admin POST "$JOB/receive" -H 'Content-Type: application/json' \
    -d "{\"disks\":{\"D3\":\"$T/dock/disklink\"}}")
[ "$code" = 400 ] || fail "a symlinked disk folder: HTTP $code"

# ---- job names ----
job_body "$T/b2.json" "D1=$H1"
for name in .hidden1 my.tmp-job x.tmp-ABCDEF .tmp-abcdef job.TMP-q1 -dash _under; do
	expect_status 400 PUT "$BASE/jobs/$name?$V" "$T/b2.json"
	assert_contains "$T/resp" '"InvalidResourceName"'
done
names="abc Job.v1-final_2 a.b-c 0day x.json.bak job_tmp.x"
for name in $names; do
	expect_status 201 PUT "$BASE/jobs/$name?$V" "$T/b2.json"
done
# a write interrupted before its rename leaves a temporary file: cleaned, jobs kept
: >"$T/dcstate/jobs/default/abc.json.tmp-Q1w2E3"
dc_stop
dc_start
dc_token
for name in $names adm-job; do
	expect_status 200 GET "$BASE/jobs/$name?$V"
done
[ ! -e "$T/dcstate/jobs/default/abc.json.tmp-Q1w2E3" ] || fail "temporary file not removed"
expect_status 200 GET "$BASE/jobs?$V"
[ "$(jv "$T/resp" 'len(d["value"])')" = 7 ] || fail "jobs lost across the restart: $(cat "$T/resp")"

# ---- body limits per endpoint ----
head -c 20000 /dev/zero | tr '\0' 'x' >"$T/20k"
printf '{"deliverToDcPackageDetails":{"carrierName":"UPS","trackingId":"%s"}}' "$(cat "$T/20k")" \
    >"$T/ship-big.json"
expect_status 413 POST "$BASE/jobs/abc/markDevicesShipped?$V" "$T/ship-big.json"
assert_contains "$T/resp" '"RequestEntityTooLarge"'
printf '{"reason":"%s"}' "$(cat "$T/20k")" >"$T/cancel-big.json"
expect_status 413 POST "$BASE/jobs/abc/cancel?$V" "$T/cancel-big.json"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CRED_ID" --data-urlencode "client_secret@$T/20k" \
    "$DC_URL/$CRED_TENANT/oauth2/v2.0/token")
[ "$code" = 413 ] || fail "a 20 KB token form: HTTP $code"
# chunked (no length declared): refused once over the limit
code=$(head -c 30000 /dev/zero | curl -s -o "$T/resp" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' --data-binary @- "$BASE/jobs/abc/cancel?$V")
[ "$code" = 413 ] || fail "a chunked 30 KB cancel: HTTP $code"
expect_status 200 GET "$BASE/jobs/abc?$V"
[ "$(jv "$T/resp" 'd["properties"]["status"]')" = Created ] || fail "an oversized request acted"
dc_stop
echo ok
