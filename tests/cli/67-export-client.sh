#!/bin/bash
# The export-job client (SPEC §16): export create computes exactly the objects a snapshot
# (or a path of it) needs — a large file only an older snapshot holds is not exported, a
# path leaves other folders' packs out — and submits them as hex object names only (no
# file name leaves the client); create is idempotent; status shows per-disk copy status and
# manifest hashes (--json fields) and --wait ends 0 / 4 / 1; list shows export jobs only;
# cancel; usage errors.
#
# THE SERVICE HERE IS A STUB: offseed-dc on main still refuses export bodies (its PUT
# validation wants ImportToAzure), so every job call below talks to a small python3
# http.server (STUB, below) that records each PUT body and answers like the service
# (token, PUT 201 / same body 200 / other body 409, GET with $expand=details, list,
# cancel 204 / 409). The job state it reports is set by the test through override files.
# Everything about the repository (the object set) is real.
. "$(dirname "$0")/lib.sh"
need python3

STUB_PID=
trap 'rc=$?; [ -n "$STUB_PID" ] && kill $STUB_PID 2>/dev/null && wait $STUB_PID 2>/dev/null;
    if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT

# ---- STUB: a recording stand-in for the jobs API -------------------------------------
mkdir -p "$T/stub"
cat >"$T/stub.py" <<'PY'
import json, os, re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
D = sys.argv[2]
jobs = {}
R = re.compile(r'^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.DataBox/jobs(?:/([^/?]+))?(/cancel)?(?:\?.*)?$')
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, obj=None):
        b = b'' if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n)
    def render(self, name, expand):
        j = jobs[name]
        req = json.loads(j['body'])
        props = {k: v for k, v in req['properties'].items() if k != 'details'}
        props['status'] = j['status']
        props['startTime'] = '2026-01-01T00:00:00Z'
        if j.get('cancellationReason'): props['cancellationReason'] = j['cancellationReason']
        ov = os.path.join(D, 'override-%s.json' % name)
        extra = json.load(open(ov)) if os.path.exists(ov) else {}
        if 'status' in extra: props['status'] = j['status'] = extra['status']
        if 'error' in extra: props['error'] = extra['error']
        if expand:
            det = json.loads(json.dumps(req['properties']['details']))
            det.pop('returnToCustomerPackageDetails', None)
            for k in ('copyProgress', 'copyLogDetails', 'exportDiskDetailsCollection'):
                if k in extra: det[k] = extra[k]
            props['details'] = det
        return {'name': name, 'id': '/x/jobs/' + name, 'location': req['location'],
                'sku': req['sku'], 'properties': props}
    def do_POST(self):
        b = self.body()
        if self.path.endswith('/oauth2/v2.0/token'):
            return self.send(200, {'access_token': 'stub-token', 'expires_in': 3600})
        m = R.match(self.path)
        if not m or not m.group(2) or m.group(1) not in jobs:
            return self.send(404, {'error': {'code': 'NotFound', 'message': 'no such job'}})
        j = jobs[m.group(1)]
        if j['status'] not in ('Created', 'ShippedToAzureDC'):
            return self.send(409, {'error': {'code': 'Conflict', 'message': 'not cancellable'}})
        j['status'] = 'Cancelled'
        j['cancellationReason'] = json.loads(b)['reason']
        self.send(204)
    def do_PUT(self):
        b = self.body()
        m = R.match(self.path)
        name = m.group(1)
        n = len(os.listdir(D))
        open(os.path.join(D, 'put-%03d-%s.json' % (n, name)), 'wb').write(b)
        if name in jobs:
            if json.loads(jobs[name]['body']) == json.loads(b):
                return self.send(200, self.render(name, False))
            return self.send(409, {'error': {'code': 'Conflict', 'message': 'other body'}})
        jobs[name] = {'body': b, 'status': 'Created'}
        self.send(201, self.render(name, False))
    def do_GET(self):
        m = R.match(self.path)
        if not m:
            return self.send(404, {'error': {'code': 'NotFound', 'message': self.path}})
        if m.group(1) is None:
            return self.send(200, {'value': [self.render(n, False) for n in sorted(jobs)]})
        if m.group(1) not in jobs:
            return self.send(404, {'error': {'code': 'NotFound', 'message': 'no such job'}})
        self.send(200, self.render(m.group(1), '$expand=details' in self.path))
    def do_DELETE(self): self.send(405)
s = ThreadingHTTPServer(('127.0.0.1', 0), H)
open(os.path.join(sys.argv[1]), 'w').write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$T/stub.py" "$T/port" "$T/stub" &
STUB_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "the stub service did not start"
PORT=$(cat "$T/port")
cat >"$T/cred.json" <<EOF
{"endpoint":"http://127.0.0.1:$PORT","tenant":"t1","client_id":"c1","client_secret":"s1",
 "subscription":"sub1","resource_group":"rg1","location":"westeurope",
 "storage_account_id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct",
 "vault_id":"vault-1","expires":"2099-01-01T00:00:00Z"}
EOF
chmod 600 "$T/cred.json"
export OFFSEED_CREDENTIALS="$T/cred.json"
cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF
# the last PUT body the stub recorded
last_put() { ls "$T/stub"/put-* | sort | tail -n 1; }
# blob_list FILE: the body's blobPathList, one per line
blob_list() {
	python3 -c 'import json,sys
b=json.load(open(sys.argv[1]))
e=b["properties"]["details"]["dataExportDetails"][0]
for p in e["transferConfiguration"]["transferFilterDetails"]["include"]["blobFilterDetails"]["blobPathList"]: print(p)' "$1"
}

# ---- a real repository: stage, a backup adding a large file, one deleting it ----------
S="$T/src"
mkdir -p "$S/alpha" "$S/beta"
seq 1 30000 >"$S/alpha/notes-alpha.txt"
# more than one 16 MiB container: alpha's bulk fills the first, beta lands in the last
head -c $((20 * 1048576)) /dev/urandom >"$S/alpha/bulk-alpha.bin"
seq 1 40000 | sed 's/^/b/' >"$S/beta/ledger-beta.txt"
head -c 150000 /dev/urandom >"$S/beta/photo-beta.raw"
# one chunk that the last backup stores as a patch of its staged version (FORMAT §9.1)
mkdir -p "$S/gamma"
head -c 150000 /dev/urandom >"$S/gamma/table-gamma.db"
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct/backups/srv01
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$S"
[ "$(ls "$T/repo/containers" | grep -c '\.vhd$')" -ge 2 ] || fail "the stage made fewer than 2 containers"
find "$T/repo/data" -type f | sort >"$T/packs0"
head -c 3000000 /dev/urandom >"$S/alpha/huge-secret-file.bin"
expect_exit 0 ofs backup --repo "$T/repo" "$S"
find "$T/repo/data" -type f | sort >"$T/packs1"
rm "$S/alpha/huge-secret-file.bin"
head -c 400000 /dev/urandom >"$S/alpha/extra-alpha.bin"
python3 -c 'import os,sys
with open(sys.argv[1], "r+b") as f: f.seek(70000); f.write(os.urandom(100))' "$S/gamma/table-gamma.db"
expect_exit 0 ofs --json backup --repo "$T/repo" "$S"
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert s["patches"]>=1, s' "$T/out" ||
    fail "the edit of table-gamma.db was not stored as a patch"
find "$T/repo/data" -type f | sort >"$T/packs2"
expect_exit 0 ofs --json snapshots --repo "$T/repo"
latest=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o.get("type")=="summary": print(sorted(o["snapshots"],key=lambda s:s["time"])[-1]["id"])' "$T/out")
[ ${#latest} = 64 ] || fail "cannot find the latest snapshot id ($latest)"
comm -13 "$T/packs0" "$T/packs1" | sed "s|^$T/repo/||" >"$T/backup1-packs"	# huge file
comm -13 "$T/packs1" "$T/packs2" | sed "s|^$T/repo/||" >"$T/backup2-packs"
[ -s "$T/backup1-packs" ] && [ -s "$T/backup2-packs" ] || fail "the backups stored no packs"

# The exact set for latest: config, every key slot and index file, that snapshot, every
# container (the stage's), and every loose pack but the first backup's (the huge file's
# data and the trees that listed it).
{
	echo config
	(cd "$T/repo" && ls keys | sed 's|^|keys/|' | sort)
	(cd "$T/repo" && ls index | sed 's|^|index/|' | sort)
	echo "snapshots/$latest"
	(cd "$T/repo" && ls containers | grep '\.vhd$' | sed 's|^|containers/|' | sort)
	sed "s|^$T/repo/||" "$T/packs2" | grep -vxF -f "$T/backup1-packs" | sort
} | sed 's|^|/backups/srv01/|' >"$T/want-latest"
[ "$(grep -c containers/ "$T/want-latest")" -ge 2 ] || fail "the stage made fewer than 2 containers"

# ---- usage errors --------------------------------------------------------------------
expect_exit 2 ofs export create --repo "$T/repo" --contact "$T/contact.json" latest
assert_contains "$T/err" "no job given"
expect_exit 2 ofs export create --job x --repo "$T/repo" --contact "$T/contact.json" latest
assert_contains "$T/err" "invalid job name"
expect_exit 2 ofs export create --job exp-1 --repo "$T/repo" latest
assert_contains "$T/err" "--contact FILE"
expect_exit 2 ofs export create --job exp-1 --repo "$T/repo" --contact "$T/contact.json"
assert_contains "$T/err" "no snapshot given"
expect_exit 2 ofs export create --job exp-1 --repo "$T/repo" --contact "$T/nope.json" latest
assert_contains "$T/err" "nope.json"
expect_exit 2 ofs export create --job exp-1 --contact "$T/contact.json" latest
assert_contains "$T/err" "no repository given"
expect_exit 2 ofs export create --bogus
expect_exit 0 ofs export create --help
assert_contains "$T/out" "usage: offseed export create"
expect_exit 0 ofs export --help
expect_exit 2 ofs export
expect_exit 2 ofs export frobnicate
for sub in status list cancel; do
	expect_exit 0 ofs export $sub --help
	assert_contains "$T/out" "usage: offseed export $sub"
done
# a snapshot that does not exist: restore's exit code for it (1), and no job
expect_exit 1 ofs export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" 0123abcd
assert_contains "$T/err" "no snapshot '0123abcd'"
expect_exit 1 ofs restore --repo "$T/repo" 0123abcd --target "$T/r0"
# a path that is not in the snapshot
expect_exit 1 ofs export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" latest "$S/delta"
assert_contains "$T/err" "is not in snapshot"
expect_exit 1 ofs export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" latest "$S/beta/ledger-beta.txt/x"
assert_contains "$T/err" "is not a directory"
# wrong passphrase: 5
printf 'a wrong passphrase of some length\n' >"$T/badpass"
expect_exit 5 "$OFFSEED" --passphrase-file "$T/badpass" export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" latest
# credentials: none → 2, expired → 5
expect_exit 2 env -u OFFSEED_CREDENTIALS "$OFFSEED" --passphrase-file "$PASS" export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" latest
sed 's/2099-01-01/2001-01-01/' "$T/cred.json" >"$T/old-cred.json"; chmod 600 "$T/old-cred.json"
expect_exit 5 ofs --credentials "$T/old-cred.json" export create --job exp-bad --repo "$T/repo" --contact "$T/contact.json" latest
# a repository without a destination: 2, naming why
mkdir -p "$T/src2"; echo hi >"$T/src2/f"
expect_exit 0 ofs init --repo "$T/nodest"
expect_exit 0 ofs stage --repo "$T/nodest" "$T/src2"
expect_exit 2 ofs export create --job exp-bad --repo "$T/nodest" --contact "$T/contact.json" latest
assert_contains "$T/err" "has no destination"
[ -z "$(ls "$T/stub" | grep put-)" ] || fail "a refused create sent a job"

# ---- create: exactly the objects latest needs -----------------------------------------
expect_exit 0 ofs export create --job exp-latest --repo "$T/repo" --contact "$T/contact.json" latest
assert_contains "$T/out" "job exp-latest created (stage Created)"
assert_contains "$T/out" "$(wc -l <"$T/want-latest") objects"
body=$(last_put)
blob_list "$body" >"$T/got-latest"
diff "$T/want-latest" "$T/got-latest" || fail "the blob list of latest is not the exact object set"
while read -r p; do grep -qxF "/backups/srv01/$p" "$T/got-latest" && fail "the huge file's pack $p is listed"; done <"$T/backup1-packs"
# the body's shape (the export contract)
python3 - "$body" <<'PY' || fail "the export body does not follow the contract"
import json, re, sys
b = json.load(open(sys.argv[1]))
assert b["location"] == "westeurope" and b["sku"] == {"name": "DataBoxCustomerDisk"}, b
p = b["properties"]
assert p["transferType"] == "ExportFromAzure", p
d = p["details"]
assert d["jobDetailsType"] == "DataBoxCustomerDisk"
assert "importDiskDetailsCollection" not in d and "dataImportDetails" not in d
assert d["contactDetails"] == {"contactName": "Night Ops", "phone": "+1 555 0100",
                               "emailList": ["ops@example.com"]}, d["contactDetails"]
assert d["returnToCustomerPackageDetails"] == {"carrierName": "DHL",
                                               "carrierAccountNumber": "ACC-123"}
[e] = d["dataExportDetails"]
assert e["accountDetails"] == {"dataAccountType": "StorageAccount", "storageAccountId":
    "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct"}
assert e["logCollectionLevel"] == "Verbose"
tc = e["transferConfiguration"]
assert tc["transferConfigurationType"] == "TransferUsingFilter"
inc = tc["transferFilterDetails"]["include"]
assert inc["dataAccountType"] == "StorageAccount"
l = inc["blobFilterDetails"]["blobPathList"]
assert l[0] == "/backups/srv01/config" and len(set(l)) == len(l)
pat = re.compile(r'^/backups/srv01/(config|keys/[0-9a-f]{32}|index/[0-9a-f]{64}|snapshots/[0-9a-f]{64}'
                 r'|containers/[0-9a-f]{32}-[0-9]{6}\.vhd|data/([0-9a-f]{2})/[0-9a-f]{64})$')
order = ["config", "keys", "index", "snapshots", "containers", "data"]
last = (-1, "")
for x in l:
    m = pat.match(x)
    assert m, x
    if m.group(2): assert x.split("/")[-1].startswith(m.group(2)), x
    g = order.index(x.split("/")[3])
    assert (g, x) > last, ("order", last, x)
    last = (g, x)
assert sum(x.split("/")[3] == "snapshots" for x in l) == 1
PY
# no file name or content leaves the client: none of the source's names, nor its path
for word in huge-secret-file table-gamma gamma notes-alpha ledger-beta photo-beta extra-alpha alpha beta "$S" "$(basename "$T")"; do
	grep -qF -- "$word" "$body" && fail "the PUT body holds '$word'"
done
grep -qF -- "$(head -n 1 "$S/beta/ledger-beta.txt")x" "$body" && fail "the PUT body holds file content"
python3 - "$body" <<'PY' || fail "the PUT body holds strings besides the contract's"
import json, sys
b = json.load(open(sys.argv[1]))
def strings(o):
    if isinstance(o, dict):
        for k, v in o.items(): yield k; yield from strings(v)
    elif isinstance(o, list):
        for v in o: yield from strings(v)
    elif isinstance(o, str): yield o
ok = {"location","westeurope","sku","name","DataBoxCustomerDisk","properties","transferType",
      "ExportFromAzure","details","jobDetailsType","contactDetails","contactName","Night Ops",
      "phone","+1 555 0100","emailList","ops@example.com","returnToCustomerPackageDetails",
      "carrierName","DHL","carrierAccountNumber","ACC-123","dataExportDetails","accountDetails",
      "dataAccountType","StorageAccount","storageAccountId",
      "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct",
      "transferConfiguration","transferConfigurationType","TransferUsingFilter",
      "transferFilterDetails","include","blobFilterDetails","blobPathList",
      "logCollectionLevel","Verbose"}
for s in strings(b):
    assert s in ok or s.startswith("/backups/srv01/"), s
PY
# --dry-run lists the same objects and sends nothing
nputs=$(ls "$T/stub" | grep -c put-)
expect_exit 0 ofs export create --dry-run --repo "$T/repo" latest
sed 's|^|/backups/srv01/|' "$T/out" | diff "$T/want-latest" - || fail "--dry-run differs from the job's list"
[ "$(ls "$T/stub" | grep -c put-)" = "$nputs" ] || fail "--dry-run sent a job"

# the same create again: one job, "already exists" (exit 0)
expect_exit 0 ofs --json export create --job exp-latest --repo "$T/repo" --contact "$T/contact.json" latest
python3 - "$T/out" "$(wc -l <"$T/want-latest")" <<'PY' || fail "second create summary wrong"
import json, sys
[s] = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert s["type"] == "summary" and s["command"] == "export create", s
assert s["created"] is False and s["job"] == "exp-latest" and s["stage"] == "Created", s
assert s["objects"] == int(sys.argv[2]) and s["bytes"] > 3 * 10**5 and s["containers"] >= 1, s
assert s["bytes_exact"] is True and len(s["snapshot"]) == 64 and s["paths"] == [], s
assert s["blob_count"] == int(sys.argv[2]), s
PY
# the same name for another selection: refused (exit 1)
expect_exit 1 ofs export create --job exp-latest --repo "$T/repo" --contact "$T/contact.json" latest "$S/beta"
assert_contains "$T/err" "already exists with other details"

# ---- a path: only what it needs -------------------------------------------------------
expect_exit 0 ofs export create --job exp-beta --repo "$T/repo" --contact "$T/contact.json" latest "$S/beta"
blob_list "$(last_put)" >"$T/got-beta"
[ "$(wc -l <"$T/got-beta")" -lt "$(wc -l <"$T/got-latest")" ] || fail "the path-limited list is not smaller"
comm -23 <(sort "$T/got-beta") <(sort "$T/got-latest") | grep . && fail "the beta list holds objects latest does not"
# alpha's bulk fills the first container alone: beta does not need it, but the one
# holding beta's data
c_latest=$(grep -c /containers/ "$T/got-latest")
c_beta=$(grep -c /containers/ "$T/got-beta")
[ "$c_beta" -ge 1 ] && [ "$c_beta" -lt "$c_latest" ] ||
    fail "the beta export lists $c_beta of latest's $c_latest containers"
grep -qxF "$(grep /containers/ "$T/got-latest" | head -n 1)" "$T/got-beta" &&
    fail "the beta export lists the container of alpha's bulk"
# gamma's only chunk is a patch in a loose pack: its base, in a container, is needed too
# (the trees do not list it)
expect_exit 0 ofs --json export create --dry-run --repo "$T/repo" latest "$S/gamma"
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert s["containers"]==1 and s["loose_packs"]>=1, s' "$T/out" ||
    fail "the gamma export does not list the container its patch copies from"
# SNAP:PATH works like SNAP PATH
expect_exit 0 ofs export create --dry-run --repo "$T/repo" "latest:$S/beta"
sed 's|^|/backups/srv01/|' "$T/out" | diff "$T/got-beta" - || fail "SNAP:PATH differs from SNAP PATH"
# an azure:// LOC names container and prefix itself (read from the repository's own
# folder here via a second location is not possible offline: check the error path only)
expect_exit 2 ofs export create --dry-run --repo azure://acct latest
# the middle snapshot (the one with the huge file) needs its pack
expect_exit 0 ofs --json snapshots --repo "$T/repo"
middle=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o.get("type")=="summary": print(sorted(o["snapshots"],key=lambda s:s["time"])[1]["id"])' "$T/out")
expect_exit 0 ofs export create --dry-run --repo "$T/repo" "$middle"
huge_pack=$(cd "$T/repo" && ls -S $(cat "$T/backup1-packs") | head -n 1)
grep -qxF "$huge_pack" "$T/out" || fail "the snapshot with the huge file does not list its pack"
grep -qxF "snapshots/$middle" "$T/out" || fail "the middle snapshot's list lacks it"
grep -qxF "snapshots/$latest" "$T/out" && fail "the middle snapshot's list holds another snapshot"

# The lists are enough: a repository made of only the listed objects (what the disks will
# carry) restores latest, the beta folder and the gamma file (whose patch base comes
# from a container) byte for byte.
subset() {	# LIST DIR: copy the listed objects of the repository into DIR
	while read -r p; do
		p=${p#/backups/srv01/}
		mkdir -p "$2/$(dirname "$p")"
		cp "$T/repo/$p" "$2/$p" || fail "listed object $p is not in the repository"
	done <"$1"
}
subset "$T/got-latest" "$T/sub-latest"
expect_exit 0 ofs restore --repo "$T/sub-latest" latest --target "$T/r-latest"
diff -r "$S" "$T/r-latest$S" || fail "restore from latest's objects differs from the source"
subset "$T/got-beta" "$T/sub-beta"
expect_exit 0 ofs restore --repo "$T/sub-beta" "latest:$S/beta" --target "$T/r-beta"
diff -r "$S/beta" "$T/r-beta" || fail "restore from beta's objects differs from the source"
expect_exit 0 ofs export create --dry-run --repo "$T/repo" latest "$S/gamma"
sed 's|^|/backups/srv01/|' "$T/out" >"$T/got-gamma"
subset "$T/got-gamma" "$T/sub-gamma"
expect_exit 0 ofs restore --repo "$T/sub-gamma" "latest:$S/gamma" --target "$T/r-gamma"
diff -r "$S/gamma" "$T/r-gamma" || fail "restore from gamma's objects differs from the source"

# ---- status, list, cancel -------------------------------------------------------------
expect_exit 0 ofs export status --job exp-latest
assert_contains "$T/out" "job exp-latest: Created (export of $(wc -l <"$T/want-latest") blobs)"
H1=$(printf 'manifest one' | sha256sum | cut -d' ' -f1)
cat >"$T/stub/override-exp-latest.json" <<EOF
{"status":"DataCopy",
 "copyProgress":[{"serialNumber":"SER-A","copyStatus":"InProgress","bytesProcessed":100,
   "totalBytesToProcess":400,"filesProcessed":1,"totalFilesToProcess":4,"filesErroredOut":0,
   "storageAccountName":"acct","transferType":"ExportFromAzure","dataAccountType":"StorageAccount",
   "accountId":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct"}],
 "exportDiskDetailsCollection":{"SER-A":{"manifestFile":"offseed-manifest.json","manifestHash":"$H1","backupManifestCloudPath":""},
   "SER-B":{"manifestFile":"offseed-manifest.json","manifestHash":""}}}
EOF
expect_exit 0 ofs export status --job exp-latest
assert_contains "$T/out" "job exp-latest: DataCopy"
assert_contains "$T/out" "disk SER-A: InProgress, 100 B of 400 B, 1 of 4 files, 0 in error"
assert_contains "$T/out" "disk SER-A manifest offseed-manifest.json: sha256 $H1"
assert_contains "$T/out" "disk SER-B manifest offseed-manifest.json: sha256 (not yet known)"
expect_exit 0 ofs --json export status --job exp-latest
python3 - "$T/out" "$H1" "$(wc -l <"$T/want-latest")" <<'PY' || fail "status --json fields wrong"
import json, sys
[s] = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert s["type"] == "summary" and s["command"] == "export status", s
assert s["job"] == "exp-latest" and s["stage"] == "DataCopy", s
assert s["transfer_type"] == "ExportFromAzure" and s["blob_count"] == int(sys.argv[3]), s
assert s["start_time"] == "2026-01-01T00:00:00Z" and "exit_code" not in s, s
a, b = s["disks"]
assert a == {"serial": "SER-A", "copy_status": "InProgress", "bytes_processed": 100,
             "total_bytes": 400, "files_processed": 1, "total_files": 4, "files_errored": 0,
             "manifest_file": "offseed-manifest.json", "manifest_hash": sys.argv[2]}, a
assert b["serial"] == "SER-B" and b["copy_status"] is None and b["manifest_hash"] is None, b
assert b["manifest_file"] == "offseed-manifest.json" and b["bytes_processed"] is None, b
assert s["copy_logs"] == [], s
PY
# --wait: still copying at the deadline → 8 naming the stage
expect_exit 8 ofs export status --job exp-latest --wait --interval 0.1 --timeout 0.5
assert_contains "$T/err" "still in stage DataCopy"
# shipped, every disk Completed, nothing in error → 0
sed -e 's/"DataCopy"/"ShippedToCustomer"/' -e 's/"InProgress"/"Completed"/' \
    "$T/stub/override-exp-latest.json" >"$T/ov" && mv "$T/ov" "$T/stub/override-exp-latest.json"
expect_exit 0 ofs --json export status --job exp-latest --wait --interval 0.1 --timeout 10
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert s["exit_code"]==0 and s["stage"]=="ShippedToCustomer", s' "$T/out" ||
    fail "status --wait summary wrong"
# shipped with a file in error → 4
sed -e 's/"filesErroredOut":0/"filesErroredOut":2/' \
    "$T/stub/override-exp-latest.json" >"$T/ov" && mv "$T/ov" "$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest --wait --interval 0.1 --timeout 10
assert_contains "$T/err" "some files are in error"
echo '{"status":"CompletedWithErrors"}' >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest --wait --interval 0.1 --timeout 10
echo '{"status":"Failed_IssueDetectedAtAzureDC"}' >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest --wait --interval 0.1 --timeout 10
# a disk that failed mid-copy: the job stays in DataCopy with an error; status says so
cat >"$T/stub/override-exp-latest.json" <<'EOF'
{"status":"DataCopy","error":{"code":"ExportDiskFailed","message":"disk SER-A: EIO"}}
EOF
expect_exit 0 ofs export status --job exp-latest
assert_contains "$T/out" "error: ExportDiskFailed: disk SER-A: EIO"
# hostile answers are refused, naming the field
echo '{"status":"DataCopy","exportDiskDetailsCollection":{"SER-A":{"manifestHash":"xyz"}}}' \
    >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest
assert_contains "$T/err" "manifestHash"
echo '{"status":"DataCopy","exportDiskDetailsCollection":{"SER-A":{"manifestFile":"../../etc/passwd"}}}' \
    >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest
assert_contains "$T/err" "manifestFile"
echo '{"status":"DataCopy","exportDiskDetailsCollection":{"SER-A":{"surprise":1}}}' \
    >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest
assert_contains "$T/err" "is not known"
echo '{"status":"DataCopy","exportDiskDetailsCollection":{"../x":{}}}' \
    >"$T/stub/override-exp-latest.json"
expect_exit 4 ofs export status --job exp-latest
assert_contains "$T/err" "invalid disk serial"
rm "$T/stub/override-exp-latest.json"

# an import job on the same service: export list leaves it out, export status and
# cancel refuse it (2)
python3 - "$PORT" <<'PY' || fail "could not put an import job on the stub"
import json, sys, urllib.request
b = json.dumps({"location": "westeurope", "sku": {"name": "DataBoxCustomerDisk"},
    "properties": {"transferType": "ImportToAzure", "details": {"jobDetailsType": "DataBoxCustomerDisk"}}}).encode()
r = urllib.request.Request("http://127.0.0.1:%s/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.DataBox/jobs/imp-1?api-version=2025-02-01" % sys.argv[1], data=b, method="PUT")
urllib.request.urlopen(r).read()
PY
expect_exit 0 ofs --json export list
python3 - "$T/out" <<'PY' || fail "export list wrong"
import json, sys
[s] = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert s["command"] == "export list" and s["count"] == 2, s
assert [j["job"] for j in s["jobs"]] == ["exp-beta", "exp-latest"], s
PY
expect_exit 0 ofs export list
assert_contains "$T/out" "exp-beta"
grep -q imp-1 "$T/out" && fail "export list shows the import job"
expect_exit 2 ofs export status --job imp-1
assert_contains "$T/err" "is an import job"
expect_exit 2 ofs export cancel --job imp-1 --reason "not mine"
expect_exit 1 ofs export status --job nosuchjob
# cancel
expect_exit 2 ofs export cancel --job exp-beta
assert_contains "$T/err" "--reason"
expect_exit 0 ofs --json export cancel --job exp-beta --reason "restored online after all"
python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read()); assert s["stage"]=="Cancelled" and s["cancellation_reason"]=="restored online after all", s' "$T/out" ||
    fail "cancel summary wrong"
expect_exit 1 ofs export status --job exp-beta --wait --interval 0.1
assert_contains "$T/err" "ended Cancelled"
# cancel once the disks are at the datacenter: refused (1)
echo '{"status":"AtAzureDC"}' >"$T/stub/override-exp-latest.json"
expect_exit 1 ofs export cancel --job exp-latest --reason "too late"
echo ok
