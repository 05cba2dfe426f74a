#!/bin/bash
# What goes wrong around an import job, against the real offseed-dc: 503 and 429 answers are
# retried (and a retried create makes one job), a service that stays down gives exit 8,
# expired / corrupt / foreign credentials exit 5, a service that wants a newer client exits 7
# with the SPEC message, and a cancelled job makes status --wait exit 1.
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"

DC_PIDS=()
stop_dcs() { for p in "${DC_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap 'rc=$?; stop_dcs; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_dc NAME ARGS…: serve with state $T/NAME-state and storage $T/NAME-store; sets PORT,
# writes credentials to $T/NAME-cred.json.
start_dc() {
	local name=$1; shift
	PORT=$(free_port)
	"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$T/$name-state" \
	    --storage "file:$T/$name-store" "$@" >"$T/$name-dc.log" 2>&1 &
	DC_PIDS+=($!)
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
		sleep 0.1
	done
	"$OFFSEED_DC" credentials --state "$T/$name-state" --out "$T/$name-cred.json" \
	    --endpoint http://127.0.0.1:$PORT --account acct >/dev/null ||
	    fail "offseed-dc credentials failed"
}
# jobs_on NAME: the number of jobs service NAME holds (asked with its own credentials).
jobs_on() {
	"$OFFSEED" --json --credentials "$T/$1-cred.json" import list |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF
mkdir -p "$T/src" "$T/disk1"
head -c 200000 /dev/urandom >"$T/src/rand.bin"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk1" --job seed-err --serial "$T/disk1=SER-1"
create() {	# STATE-NAME CRED-NAME [more args]: import create of the draft
	local st=$1 cr=$2; shift 2
	ofs --state "$T/state-$st" --credentials "$T/$cr-cred.json" import create --job seed-err \
	    --repo "$T/repo" --contact "$T/contact.json" "$@"
}

# --- transient failures are retried; one job ---------------------------------------------
start_dc f503 --fault 503:2
expect_exit 0 create f503 f503
assert_contains "$T/out" "job seed-err created"
[ "$(jobs_on f503)" = 1 ] || fail "503 faults: not exactly one job"
expect_exit 0 create f503 f503	# and again: still one
[ "$(jobs_on f503)" = 1 ] || fail "503 faults, second create: not exactly one job"

# the same name with other details: refused (exit 1), and still one job
sed 's/Night Ops/Day Ops/' "$T/contact.json" >"$T/contact2.json"
expect_exit 1 ofs --state "$T/state-f503" --credentials "$T/f503-cred.json" import create \
    --job seed-err --repo "$T/repo" --contact "$T/contact2.json"
assert_contains "$T/err" "already exists with other details"
[ "$(jobs_on f503)" = 1 ] || fail "a refused create changed the job count"

start_dc f429 --fault 429:2
expect_exit 0 create f429 f429
[ "$(jobs_on f429)" = 1 ] || fail "429 faults: not exactly one job"

# a service that drops the connection twice: retried as well
start_dc fdrop --fault drop:2
expect_exit 0 create fdrop fdrop
[ "$(jobs_on fdrop)" = 1 ] || fail "dropped connections: not exactly one job"

# --- down for good: exit 8 naming the request ---------------------------------------------
start_dc down --fault 503
start=$(date +%s)
OFFSEED_HTTP_RETRIES=3 expect_exit 8 create down down
assert_contains "$T/err" "after 3 attempts"
assert_contains "$T/err" "HTTP 503"
assert_contains "$T/err" "http://127.0.0.1:$PORT/"
[ $(( $(date +%s) - start )) -ge 2 ] || fail "no back-off between attempts (Retry-After: 1)"

# --- credentials ------------------------------------------------------------------------
# expired: exit 5 naming the date, before any request
python3 - "$T/f503-cred.json" "$T/expired.json" <<'PY'
import json,sys
c=json.load(open(sys.argv[1])); c["expires"]="2021-03-04T05:06:07Z"
json.dump(c,open(sys.argv[2],"w"))
PY
chmod 600 "$T/expired.json"
expect_exit 5 ofs --state "$T/state-f503" --credentials "$T/expired.json" import list
assert_contains "$T/err" "expired on 2021-03-04T05:06:07Z"
assert_contains "$T/err" "download a new one"
# the secret never shows
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_secret"])' "$T/f503-cred.json")
! grep -qF "$secret" "$T/err" "$T/out" || fail "the client secret was printed"

# corrupt: exit 5 "not a valid credentials file"
head -c 100 "$T/f503-cred.json" >"$T/corrupt.json"
chmod 600 "$T/corrupt.json"
expect_exit 5 ofs --credentials "$T/corrupt.json" import list
assert_contains "$T/err" "not a valid credentials file"
! grep -qF "${secret:0:12}" "$T/err" || fail "the client secret was printed"
echo '{"endpoint":"http://127.0.0.1:1"}' >"$T/partial.json"
chmod 600 "$T/partial.json"
expect_exit 5 ofs --credentials "$T/partial.json" import list
assert_contains "$T/err" "not a valid credentials file"

# readable by others: a warning, not a refusal
cp "$T/f503-cred.json" "$T/open.json"
chmod 644 "$T/open.json"
expect_exit 0 ofs --credentials "$T/open.json" import list
assert_contains "$T/err" "chmod 600"

# another vault than the one the repository was registered with: exit 5 naming both
vault_a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_id"])' "$T/f503-cred.json")
vault_b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_id"])' "$T/f429-cred.json")
[ "$vault_a" != "$vault_b" ] || fail "two services share a vault id"
expect_exit 5 create f503 f429
assert_contains "$T/err" "$vault_a"
assert_contains "$T/err" "$vault_b"

# no credentials at all: usage
expect_exit 2 env -u OFFSEED_CREDENTIALS "$OFFSEED" import list

# --- a service that needs a newer client: exit 7 -------------------------------------------
start_dc newer --min-agent-version 99.0.0
expect_exit 7 create newer newer
ver=$("$OFFSEED" --version | awk '{print $2}')
assert_contains "$T/err" "the import service requires offseed 99.0.0 or later (this is $ver); upgrade offseed"
expect_exit 7 ofs --json --credentials "$T/newer-cred.json" import list
python3 - "$T/out" <<'PY' || fail "--json error object wrong"
import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines)==1 and lines[0]["type"]=="error" and lines[0]["code"]==7, lines
PY

# --- cancel ------------------------------------------------------------------------------
# before the disks arrive: Cancelled, and status --wait exits 1
expect_exit 0 ofs --state "$T/state-f503" --credentials "$T/f503-cred.json" import cancel \
    --job seed-err --reason "wrong disks packed"
assert_contains "$T/out" "Cancelled"
expect_exit 1 ofs --state "$T/state-f503" --credentials "$T/f503-cred.json" import status \
    --job seed-err --wait --interval 0.2 --timeout 10
assert_contains "$T/out" "cancelled: wrong disks packed"
# once the disks are at the datacenter the service refuses (exit 1)
expect_exit 0 ofs --state "$T/state-f429" --credentials "$T/f429-cred.json" import ship \
    --job seed-err --carrier DHL --tracking 1Z1
PORT429=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\).*|\1|p' "$T/f429-cred.json" | head -n 1)
"$OFFSEED_DC" receive --url "$PORT429" --state "$T/f429-state" --job seed-err "SER-1=$T/disk1" \
    >/dev/null ||
    fail "offseed-dc receive failed"
expect_exit 1 ofs --state "$T/state-f429" --credentials "$T/f429-cred.json" import cancel \
    --job seed-err --reason "too late"
assert_contains "$T/err" "409"

# --- status --wait gives up after --timeout with exit 8 naming the stage --------------------
expect_exit 0 ofs --state "$T/state-fdrop" --credentials "$T/fdrop-cred.json" import status \
    --job seed-err
expect_exit 8 ofs --state "$T/state-fdrop" --credentials "$T/fdrop-cred.json" import status \
    --job seed-err --wait --interval 0.2 --timeout 0.5
assert_contains "$T/err" "still in stage Created after 0.5 seconds"

# a bearer token that lives one second: a long wait renews it instead of failing with 5
start_dc short --token-lifetime 1
expect_exit 0 create short short
expect_exit 8 ofs --state "$T/state-short" --credentials "$T/short-cred.json" import status \
    --job seed-err --wait --interval 0.4 --timeout 2.5
assert_contains "$T/err" "still in stage Created after 2.5 seconds"

# --- usage --------------------------------------------------------------------------------
expect_exit 0 "$OFFSEED" import --help
assert_contains "$T/out" "repair"
for c in create ship status list cancel logs repair; do
	expect_exit 0 "$OFFSEED" import $c --help
	assert_contains "$T/out" "usage: offseed import $c"
done
expect_exit 2 ofs --credentials "$T/f503-cred.json" import status --job 'x/../y'
expect_exit 2 "$OFFSEED" import frobnicate
echo "ok"
