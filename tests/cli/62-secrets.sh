#!/bin/bash
# Secrets in memory (SPEC §15): a running offseed cannot dump core (RLIMIT_CORE 0/0) and is
# not dumpable (its /proc/PID files belong to root, so another process of the same user
# cannot read its environment or memory), and text that passed through the JSON library
# only (extra fields of the credentials file, of several sizes) is gone from its memory
# once freed: jansson's buffers are wiped. The long-running command: `import list` against
# an endpoint nobody answers, retrying. In transit: an https endpoint is verified against the
# system CAs or OFFSEED_CA_FILE (a certificate of another CA fails with a TLS error, exit 8;
# a CA file that cannot be read is a configuration error, exit 2), never trusted blindly.
. "$(dirname "$0")/lib.sh"
need python3

PID=""
trap 'rc=$?; [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "${W:-}" ] && rm -rf "$W"
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT

# Run it as an unprivileged user where we can (as root: nobody, from a folder nobody can
# reach, since the tree may sit under a private home); else as ourselves.
W=$(mktemp -d /tmp/offseed-sec.XXXXXX)
chmod 755 "$W"
cp "$OFFSEED" "$W/offseed"
chmod 755 "$W/offseed"
SECRET=$(python3 -c 'import secrets; print("s3cr3t-" + secrets.token_hex(24))')
python3 - "$W/cred.json" "$SECRET" <<'PY'
import datetime, json, os, sys
exp = (datetime.datetime.utcnow() + datetime.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
d = {"endpoint": "http://127.0.0.1:1", "tenant": "t-1", "client_id": "c-1",
     "client_secret": sys.argv[2], "subscription": "s-1", "resource_group": "rg",
     "location": "westeurope",
     "storage_account_id": "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
     "vault_id": "v-1", "expires": exp}
# Parsed, then dropped: only jansson's buffers (and the file buffer) ever held them.
for i, n in enumerate((10, 75, 300, 1250, 4500)):
    d["x_note%d" % i] = "NOTE-" + "q7" * n + "-END-%d-OF-NOTE" % i
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(d).encode()); os.close(fd)
PY
RUN=()
if [ "$(id -u)" = 0 ]; then
	need setpriv
	id nobody >/dev/null 2>&1 || fail "there is no user 'nobody' to run offseed as"
	chown -R nobody "$W"
	grp=$(id -gn nobody)
	RUN=(setpriv --reuid=nobody --regid="$grp" --clear-groups)
fi
"${RUN[@]}" env -i PATH=/usr/bin:/bin OFFSEED_STATE="$W/state" OFFSEED_CREDENTIALS="$W/cred.json" \
    OFFSEED_HTTP_RETRIES=100 OFFSEED_HTTP_BACKOFF=2 OFFSEED_MARKER=marker-in-environ \
    "$W/offseed" --no-progress import list >"$T/run.out" 2>"$T/run.err" &
PID=$!
sleep 1.5
kill -0 "$PID" 2>/dev/null || { cat "$T/run.err"; fail "offseed ended early"; }
want_uid=$(id -u); [ ${#RUN[@]} = 0 ] || want_uid=$(id -u nobody)
[ "$(awk '/^Uid:/ {print $2}' "/proc/$PID/status")" = "$want_uid" ] ||
    fail "offseed does not run as uid $want_uid"

# No core file, soft or hard.
grep -E '^Max core file size +0 +0 ' "/proc/$PID/limits" >/dev/null ||
    { grep core "/proc/$PID/limits"; fail "core dumps are not disabled"; }
# Not dumpable: the kernel hands its /proc files to root.
[ "$(stat -c %u "/proc/$PID/environ")" = 0 ] ||
    fail "/proc/$PID/environ belongs to uid $(stat -c %u "/proc/$PID/environ"): offseed is dumpable"
[ "$(stat -c %u "/proc/$PID/mem")" = 0 ] || fail "/proc/$PID/mem is not root's"
if [ ${#RUN[@]} -gt 0 ]; then
	# Another process of the same user cannot read its environment.
	! "${RUN[@]}" cat "/proc/$PID/environ" >"$T/env" 2>/dev/null || fail "nobody read offseed's environment"
	! grep -q marker-in-environ "$T/env" || fail "the environment leaked"

	# No copy of the dropped fields is left in memory (without the wiping allocator some
	# sizes stay in freed heap blocks). Only tails are searched: the first bytes of a freed
	# block are reused by the allocator.
	n=$(python3 - "$PID" <<'PY'
import re, sys
pid = sys.argv[1]
needle = re.compile(rb"q7q7q7q7-END-[0-9]-OF-NOTE")
count = 0
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if "rw" not in f[1] or (len(f) > 5 and f[5].startswith("/")):
            continue	# writable anonymous memory only: heap, stacks, arenas
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if hi - lo > (1 << 30):
            continue	# reserved address space (never touched)
        try:
            mem.seek(lo); data = mem.read(hi - lo)
        except OSError:
            continue
        count += len(needle.findall(data))
print(count)
PY
)
	[ "$n" = 0 ] || fail "$n copies of freed JSON text are left in offseed's memory"
fi
kill "$PID"; wait "$PID" 2>/dev/null; PID=""

# ---- TLS ------------------------------------------------------------------------------
need openssl
cert() {	# NAME: a self-signed certificate for localhost/127.0.0.1
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 \
	    -keyout "$T/$1.key" -out "$T/$1.pem" >/dev/null 2>&1 || fail "openssl req failed"
}
cert good
cert other
TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A stand-in service over TLS: a token, then an empty job list.
python3 - "$TPORT" "$T/good.pem" "$T/good.key" "$T/tls-requests" <<'PY' &
import http.server, json, ssl, sys
port, crt, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        open(log, "a").write("POST " + self.path + "\n")
        self.answer(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": "tok-1"})
    def do_GET(self):
        open(log, "a").write("GET " + self.path + "\n")
        self.answer(200, {"value": []})
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
TLS_PID=$!
trap 'rc=$?; kill "$TLS_PID" 2>/dev/null; [ -n "$PID" ] && kill "$PID" 2>/dev/null
	[ -n "${W:-}" ] && rm -rf "$W"; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi
	exit $rc' EXIT
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$TPORT),0.2)" 2>/dev/null && break
	sleep 0.1
done
python3 - "$W/cred.json" "$T/cred-tls.json" "https://localhost:$TPORT" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); d["endpoint"] = sys.argv[3]
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(d).encode()); os.close(fd)
PY
export OFFSEED_CREDENTIALS="$T/cred-tls.json" OFFSEED_HTTP_RETRIES=2 OFFSEED_HTTP_BACKOFF=0.1
# its own CA: works over https
OFFSEED_CA_FILE="$T/good.pem" expect_exit 0 ofs import list
assert_contains "$T/err" "no jobs"
grep -q "^GET .*/jobs" "$T/tls-requests" || fail "the job list was not asked for over TLS"
# another CA, or the system CAs: the certificate does not verify
rm -f "$T/tls-requests"
OFFSEED_CA_FILE="$T/other.pem" expect_exit 8 ofs import list
assert_contains "$T/err" "TLS"
expect_exit 8 env -u OFFSEED_CA_FILE "$OFFSEED" --no-progress import list
assert_contains "$T/err" "TLS"
[ ! -s "$T/tls-requests" ] || fail "a request got through an unverified TLS connection"
# a CA file that is not there, or not a file: said plainly, before any request
OFFSEED_CA_FILE="$T/nonexistent.pem" expect_exit 2 ofs import list
assert_contains "$T/err" "cannot use the CA file '$T/nonexistent.pem' (OFFSEED_CA_FILE): No such file"
OFFSEED_CA_FILE="$T" expect_exit 2 ofs import list
assert_contains "$T/err" "not a regular file"
echo "ok"
