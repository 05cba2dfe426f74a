#!/bin/bash
# offseed-dc transport (SPEC §15): plain HTTP only on loopback unless --insecure-http; HTTPS
# with --tls-cert/--tls-key (curl and the offseed client verify it with the CA file); 300
# idle connections from one address do not stop another client, and idle connections are
# closed after a short timeout; behind a port forward the Azure-AsyncOperation link follows
# the address the client used, so `offseed import create` works there; the service runs
# without core dumps and non-dumpable.
. "$(dirname "$0")/55-dc-lib.sh"
need openssl
need setpriv

cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF
mkdir -p "$T/src" "$T/disk1" "$T/disk2"
head -c 100000 /dev/urandom >"$T/src/rand.bin"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://offseedlocal/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk1" --job fwd-job --serial "$T/disk1=SER-F"
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/disk2" --job tls-job --serial "$T/disk2=SER-T"

# ---- plain HTTP is for loopback only ----
expect_exit 2 "$OFFSEED_DC" serve --listen 0.0.0.0:0 --state "$T/dcstate" --storage "file:$T/storage"
assert_contains "$T/err" "--insecure-http"
expect_exit 2 "$OFFSEED_DC" serve --listen 0.0.0.0:0 --state "$T/dcstate" --storage "file:$T/storage" \
    --tls-cert /nonexistent
expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/dcstate" --storage "file:$T/storage" \
    --tls-cert /nonexistent/c.pem --tls-key /nonexistent/k.pem
dc_start --listen 0.0.0.0:0 --insecure-http
[[ "$DC_URL" == http://0.0.0.0:* ]] || fail "insecure listen URL $DC_URL"
[ "$(DC_URL=http://127.0.0.1:${DC_URL##*:} admin GET /admin/health)" = 200 ] ||
    fail "--insecure-http on 0.0.0.0 does not serve"
dc_stop

# ---- port forward: the operation link follows the client's Host ----
dc_start
cat >"$T/fwd.py" <<'PY'
# A TCP port forward (bounded: exits 60 s after its last new connection).
import socket, sys, threading
target = int(sys.argv[1])
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(16)
open(sys.argv[2], "w").write(str(ls.getsockname()[1]))
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
ls.settimeout(60)
while True:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        break
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
python3 "$T/fwd.py" "${DC_URL##*:}" "$T/fwd.port" &
DC_PIDS="$DC_PIDS $!"
for _ in $(seq 50); do [ -s "$T/fwd.port" ] && break; sleep 0.1; done
FWD=$(cat "$T/fwd.port")
[ -n "$FWD" ] && [ "$FWD" != "${DC_URL##*:}" ] || fail "the port forward did not start"
"$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/fwd-cred.json" \
    --endpoint "http://127.0.0.1:$FWD" >/dev/null || fail "credentials"
expect_exit 0 ofs --credentials "$T/fwd-cred.json" import create --job fwd-job --repo "$T/repo" \
    --contact "$T/contact.json"
assert_contains "$T/out" "job fwd-job created"
! grep -q "warning" "$T/err" || { cat "$T/err"; fail "import create warned"; }
expect_exit 0 ofs --credentials "$T/fwd-cred.json" import status --job fwd-job
# with curl: the link names the forward's port; a foreign Host gets the listen address
dc_creds "$T/fwd-cred.json"
FBASE="http://127.0.0.1:$FWD/subscriptions/$CRED_SUB/resourceGroups/$CRED_RG/providers/Microsoft.DataBox"
curl -s -o "$T/resp" -w '%{http_code}' --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CRED_ID" --data-urlencode "client_secret=$CRED_SECRET" \
    "http://127.0.0.1:$FWD/$CRED_TENANT/oauth2/v2.0/token" >/dev/null
TOKEN=$(jv "$T/resp" 'd["access_token"]')
H1=$(printf '%064d' 1)
job_body "$T/body.json" "D1=$H1"
expect_status 201 PUT "$FBASE/jobs/curl-fwd?$V" "$T/body.json"
op=$(sed -n 's/^Azure-AsyncOperation: *//Ip' "$T/hdrs" | tr -d '\r')
[[ "$op" == "http://127.0.0.1:$FWD/subscriptions/"* ]] || fail "operation link $op"
expect_status 200 GET "$op"
expect_status 201 PUT "$FBASE/jobs/curl-evil?$V" "$T/body.json" -H "Host: evil.example:$FWD"
op=$(sed -n 's/^Azure-AsyncOperation: *//Ip' "$T/hdrs" | tr -d '\r')
[[ "$op" == "$DC_URL/subscriptions/"* ]] || fail "a foreign Host went into the link: $op"
expect_status 200 GET "$BASE/jobs?$V&\$skipToken=0" "" -H "Host: localhost:$FWD"

# ---- slow and greedy clients ----
cat >"$T/idle.py" <<'PY'
# N connections from 127.0.0.2 that send half a request and wait; writes "ready", then
# reports how many the service still holds open after up to 20 s (bounded).
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        socks.append(s)
    except OSError:
        s.close()
print("connected", len(socks), flush=True)
open(sys.argv[3], "w").write("ready")
start = time.time()
live = set(socks)
while live and time.time() - start < 20:
    for s in list(live):
        try:
            if s.recv(4096) == b"":
                live.discard(s)
        except BlockingIOError:
            pass
        except OSError:
            live.discard(s)
    time.sleep(0.2)
print("open", len(live), "after", round(time.time() - start), flush=True)
PY
python3 "$T/idle.py" "${DC_URL##*:}" 300 "$T/idle.ready" >"$T/idle.out" 2>&1 &
IDLE=$!
DC_PIDS="$DC_PIDS $IDLE"
for _ in $(seq 100); do [ -s "$T/idle.ready" ] && break; sleep 0.1; done
[ -s "$T/idle.ready" ] || { cat "$T/idle.out"; fail "the idle clients did not start"; }
t0=$(date +%s%N)
[ "$(admin GET /admin/health -m 5)" = 200 ] || fail "another client was not served"
expect_status 200 GET "$DC_URL/subscriptions/$CRED_SUB/resourceGroups/$CRED_RG/providers/Microsoft.DataBox/jobs?$V" "" -m 5
dc_token
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || fail "another client waited $(( (t1 - t0) / 1000000 )) ms"
wait "$IDLE"
DC_PIDS=${DC_PIDS/ $IDLE/}
grep -q '^open 0 ' "$T/idle.out" || { cat "$T/idle.out"; fail "idle connections were not closed"; }
[ "$(admin GET /admin/health)" = 200 ] || fail "not serving after the idle clients"
dc_stop

# ---- HTTPS ----
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
expect_exit 2 "$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/dcstate" \
    --storage "file:$T/storage" --tls-cert "$T/cert.pem"
dc_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
[[ "$DC_URL" == https://127.0.0.1:* ]] || fail "TLS listen URL $DC_URL"
[ "$(admin GET /admin/health --cacert "$T/cert.pem")" = 200 ] || fail "https with the CA file"
curl -s -o /dev/null -H "X-Offseed-Admin-Token: $ADMIN_TOKEN" "$DC_URL/admin/health" &&
    fail "https accepted without the CA"
curl -s -m 5 -o /dev/null "http://${DC_URL#https://}/admin/health" && fail "plain HTTP answered on the TLS port"
"$OFFSEED_DC" credentials --state "$T/dcstate" --out "$T/tls-cred.json" >/dev/null ||
    fail "credentials"
[ "$(jv "$T/tls-cred.json" 'd["endpoint"]')" = "$DC_URL" ] || fail "credentials endpoint"
expect_exit 8 ofs --credentials "$T/tls-cred.json" import list
assert_contains "$T/err" "OFFSEED_CA_FILE"
export OFFSEED_CA_FILE=$T/cert.pem
expect_exit 0 ofs --credentials "$T/tls-cred.json" import create --job tls-job --repo "$T/repo" \
    --contact "$T/contact.json"
expect_exit 0 ofs --credentials "$T/tls-cred.json" import ship --job tls-job --carrier DHL \
    --tracking 1Z7
expect_exit 0 "$OFFSEED_DC" receive --url "$DC_URL" --job tls-job "SER-T=$T/disk2"
expect_exit 0 ofs --credentials "$T/tls-cred.json" import status --job tls-job --wait \
    --interval 0.2 --timeout 60
assert_contains "$T/out" "job tls-job: Completed"
unset OFFSEED_CA_FILE
dc_stop
# TLS on every address
dc_start --listen 0.0.0.0:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" \
    --resolve "localhost:${DC_URL##*:}:127.0.0.1" -H "X-Offseed-Admin-Token: $ADMIN_TOKEN" \
    "https://localhost:${DC_URL##*:}/admin/health")
[ "$code" = 200 ] || fail "TLS on 0.0.0.0: HTTP $code"
dc_stop

# ---- no core dumps, not dumpable (run as nobody to see /proc ownership) ----
chmod 711 "$T"
mkdir -p "$T/pub/state" "$T/pub/storage"
cp "$OFFSEED_DC" "$T/pub/offseed-dc"
chmod 755 "$T/pub" "$T/pub/offseed-dc"
chown nobody "$T/pub/state" "$T/pub/storage"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/pub/offseed-dc" serve \
    --listen 127.0.0.1:0 --state "$T/pub/state" --storage "file:$T/pub/storage" \
    >"$T/pub.out" 2>"$T/pub.err" &
PUB=$!
DC_PIDS="$DC_PIDS $PUB"
for _ in $(seq 100); do grep -q listening "$T/pub.out" && break; sleep 0.1; done
grep -q listening "$T/pub.out" || { cat "$T/pub.err"; fail "serve as nobody did not start"; }
grep -q '^Uid:[[:space:]]*65534' "/proc/$PUB/status" || fail "the service does not run as nobody"
grep -Eq '^Max core file size +0 +0 ' "/proc/$PUB/limits" ||
    { grep core "/proc/$PUB/limits"; fail "core dumps are not disabled"; }
[ "$(stat -c %U "/proc/$PUB/environ")" = root ] ||
    fail "the service is dumpable (/proc/PID/environ owned by $(stat -c %U "/proc/$PUB/environ"))"
kill -TERM "$PUB"; wait "$PUB"
DC_PIDS=${DC_PIDS/ $PUB/}
echo ok
