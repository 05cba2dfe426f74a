#!/bin/bash
# Cloud repository (azure://) test helpers, sourced by the other cloud test scripts
# (7[2-9]-cloud-*.sh). Run on its own it tests the location and credential errors of
# --repo azure://….
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
need python3
need node

AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
trap 'rc=$?; "$TOP/tools/azurite.sh" stop "$T/az" 2>/dev/null
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT

# az_start: start Azurite for this test (fail, never skip) and point offseed at it.
az_start() {
	local port
	port=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
	export OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
	export OFFSEED_AZURE_KEY="$AZ_KEY"
	export OFFSEED_AZURE_RETRIES=2 OFFSEED_AZURE_RETRY_MS=100
	unset OFFSEED_AZURE_SAS
}

# az CMD ARGS…: a small independent Azure Blob client (SharedKey) for the tests:
#   az put-repo DIR CONTAINER PREFIX [nocontainers]  upload a repository folder as the import
#       does: containers/*.vhd as page blobs, the other files as block blobs (locks/ skipped)
#   az usage CONTAINER PREFIX    print "<blob count> <total bytes>" under PREFIX/ (List Blobs,
#       following NextMarker with 2 results per page so paging is exercised)
#   az names CONTAINER PREFIX    print the blob names under PREFIX/, one a line
az() {
	python3 - "$@" <<'PY'
import base64, hashlib, hmac, http.client, os, re, sys, urllib.parse
from email.utils import formatdate
ep = urllib.parse.urlparse(os.environ["OFFSEED_AZURE_ENDPOINT"])
acct = "devstoreaccount1"
key = base64.b64decode(os.environ["OFFSEED_AZURE_KEY"])
conn = http.client.HTTPConnection(ep.hostname, ep.port)

def req(verb, cont, blob=None, query=None, body=b"", headers=None, ok=(200, 201, 202)):
    path = ep.path + "/" + cont + ("/" + urllib.parse.quote(blob) if blob else "")
    h = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    h.update(headers or {})
    if body:
        h["Content-Type"] = "application/octet-stream"
    h["Content-Length"] = str(len(body))
    canon = "".join("%s:%s\n" % (k.lower(), h[k]) for k in sorted(h, key=str.lower)
                    if k.lower().startswith("x-ms-"))
    res = "/%s%s" % (acct, path)
    for k in sorted(query or {}):
        res += "\n%s:%s" % (k.lower(), query[k])
    sts = "\n".join([verb, "", "", str(len(body)) if body else "", "",
                     h.get("Content-Type", ""), "", "", "", "", "", ""]) + "\n" + canon + res
    sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
    h["Authorization"] = "SharedKey %s:%s" % (acct, sig)
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    conn.request(verb, url, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status not in ok:
        sys.exit("%s %s: %d %s" % (verb, url, r.status, data[:300]))
    return data

def listing(cont, prefix):
    marker, out = None, []
    while True:
        q = {"restype": "container", "comp": "list", "prefix": prefix, "maxresults": "2"}
        if marker:
            q["marker"] = marker
        x = req("GET", cont, query=q).decode()
        for b in re.findall(r"<Blob>(.*?)</Blob>", x, re.S):
            out.append((re.search(r"<Name>(.*?)</Name>", b).group(1),
                        int(re.search(r"<Content-Length>(\d+)</Content-Length>", b).group(1))))
        m = re.search(r"<NextMarker>(.+?)</NextMarker>", x)
        if not m:
            return out
        marker = m.group(1)

cmd = sys.argv[1]
if cmd == "put-repo":
    top, cont, prefix = sys.argv[2:5]
    skip_ctr = len(sys.argv) > 5
    req("PUT", cont, query={"restype": "container"}, ok=(201, 409))
    for d, _, files in os.walk(top):
        for f in sorted(files):
            full = os.path.join(d, f)
            rel = os.path.relpath(full, top)
            if rel.startswith("locks/"):
                continue
            name = prefix + "/" + rel
            data = open(full, "rb").read()
            if rel.startswith("containers/") and rel.endswith(".vhd"):
                if skip_ctr:
                    continue
                req("PUT", cont, name, headers={"x-ms-blob-type": "PageBlob",
                    "x-ms-blob-content-length": str(len(data))})
                step = 4 << 20
                for off in range(0, len(data), step):
                    part = data[off:off + step]
                    if part.count(0) == len(part):
                        continue
                    req("PUT", cont, name, query={"comp": "page"}, body=part, headers={
                        "x-ms-page-write": "update",
                        "x-ms-range": "bytes=%d-%d" % (off, off + len(part) - 1)})
            else:
                req("PUT", cont, name, body=data, headers={"x-ms-blob-type": "BlockBlob"})
elif cmd == "usage":
    items = listing(sys.argv[2], sys.argv[3] + "/")
    print(len(items), sum(s for _, s in items))
elif cmd == "names":
    for n, _ in listing(sys.argv[2], sys.argv[3] + "/"):
        print(n)
PY
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# Malformed locations are usage errors, before any request.
	for loc in azure://acct azure://acct/ azure:///c azure://acct//p; do
		expect_exit 2 ofs snapshots --repo "$loc"
		assert_contains "$T/err" "azure://ACCOUNT/CONTAINER"
	done
	# No credentials: usage error naming what is missing.
	( unset OFFSEED_AZURE_KEY OFFSEED_AZURE_SAS
	  OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:9/devstoreaccount1 \
	      expect_exit 2 ofs snapshots --repo azure://devstoreaccount1/backups ) || exit 1
	# Nothing listening: retries exhausted → exit 8.
	OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:9/devstoreaccount1 OFFSEED_AZURE_KEY=$AZ_KEY \
	    OFFSEED_AZURE_RETRIES=2 OFFSEED_AZURE_RETRY_MS=10 \
	    expect_exit 8 ofs snapshots --repo azure://devstoreaccount1/backups
	az_start
	# A wrong key: refused by the service → exit 5.
	OFFSEED_AZURE_KEY=$(printf 'x%.0s' $(seq 1 64) | base64 -w0) \
	    expect_exit 5 ofs snapshots --repo azure://devstoreaccount1/backups
	# A container (or prefix) without a repository: "not an offseed repository" (exit 2).
	expect_exit 2 ofs snapshots --repo azure://devstoreaccount1/nothing-here/srv01
	assert_contains "$T/err" "not an offseed repository"
	# init straight into the cloud creates the blob container on the first put; a backup
	# there restores; the same location cannot be initialised twice.
	mkdir -p "$T/src/d"; seq 1 100000 >"$T/src/d/a"; head -c 3000000 /dev/urandom >"$T/src/b"
	expect_exit 0 ofs init --repo azure://devstoreaccount1/fresh/p1
	az names fresh p1 | grep -q '^p1/config$' || fail "init did not write p1/config"
	expect_exit 0 ofs backup --repo azure://devstoreaccount1/fresh/p1 "$T/src"
	expect_exit 0 ofs restore latest --repo azure://devstoreaccount1/fresh/p1 --target "$T/r"
	diff -r "$T/src" "$T/r$T/src" || fail "restore from a cloud-only repository differs"
	expect_exit 0 ofs check --repo azure://devstoreaccount1/fresh/p1 --read-data
	az names fresh p1 | grep -q '^p1/locks/' && fail "a lock was written to the cloud"
	expect_exit 2 ofs init --repo azure://devstoreaccount1/fresh/p1
	echo ok
fi
