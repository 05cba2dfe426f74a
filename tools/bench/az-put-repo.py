#!/usr/bin/env python3
# make bench helper: upload a local repository folder into Azure Blob storage (Azurite) the
# way the import service lays it out: containers/*.vhd as page blobs, every other file as a
# block blob, locks/ left out. SharedKey auth; several uploads at once.
# Usage: az-put-repo.py DIR CONTAINER PREFIX   (env OFFSEED_AZURE_ENDPOINT, OFFSEED_AZURE_KEY)
import base64, hashlib, hmac, http.client, os, sys, threading, urllib.parse
from email.utils import formatdate

ep = urllib.parse.urlparse(os.environ["OFFSEED_AZURE_ENDPOINT"])
account = ep.path.strip("/").split("/")[-1]
key = base64.b64decode(os.environ["OFFSEED_AZURE_KEY"])
top, container, prefix = sys.argv[1:4]
PAGE_STEP = 4 << 20                   # Put Page takes at most 4 MiB
BLOCK_STEP = 64 << 20                 # Put Blob (one request) up to 64 MiB here


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection(ep.hostname, ep.port, timeout=300)

    def req(self, verb, blob=None, query=None, body=b"", headers=None, ok=(200, 201, 202)):
        path = ep.path.rstrip("/") + "/" + container
        if blob is not None:
            path += "/" + urllib.parse.quote(blob)
        h = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
        h.update(headers or {})
        ctype = "application/octet-stream" if body else ""
        if ctype:
            h["Content-Type"] = ctype
        h["Content-Length"] = str(len(body))
        xms = "".join("%s:%s\n" % (k.lower(), h[k]) for k in sorted(h, key=str.lower)
                      if k.lower().startswith("x-ms-"))
        res = "/%s%s" % (account, path)
        for k in sorted(query or {}):
            res += "\n%s:%s" % (k.lower(), query[k])
        # Verb, encoding, language, length, MD5, type, date, 5 conditional/range headers.
        sts = "\n".join([verb, "", "", str(len(body)) if body else "", "", ctype,
                         "", "", "", "", "", ""]) + "\n" + xms + res
        sig = hmac.new(key, sts.encode(), hashlib.sha256).digest()
        h["Authorization"] = "SharedKey %s:%s" % (account, base64.b64encode(sig).decode())
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        self.conn.request(verb, url, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        if r.status not in ok:
            raise RuntimeError("%s %s: HTTP %d %s" % (verb, url, r.status, data[:200]))
        return data

    def put_file(self, full, name, page):
        size = os.path.getsize(full)
        with open(full, "rb") as f:
            if page:
                self.req("PUT", name, headers={"x-ms-blob-type": "PageBlob",
                                               "x-ms-blob-content-length": str(size)})
                off = 0
                while off < size:
                    part = f.read(PAGE_STEP)
                    if part.count(0) != len(part):     # all-zero pages need no write
                        self.req("PUT", name, query={"comp": "page"}, body=part, headers={
                            "x-ms-page-write": "update",
                            "x-ms-range": "bytes=%d-%d" % (off, off + len(part) - 1)})
                    off += len(part)
            elif size <= BLOCK_STEP:
                self.req("PUT", name, body=f.read(), headers={"x-ms-blob-type": "BlockBlob"})
            else:
                ids = []
                while True:
                    part = f.read(BLOCK_STEP)
                    if not part:
                        break
                    bid = base64.b64encode(b"%08d" % len(ids)).decode()
                    self.req("PUT", name, query={"comp": "block", "blockid": bid}, body=part)
                    ids.append(bid)
                xml = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>" +
                       "".join("<Latest>%s</Latest>" % i for i in ids) + "</BlockList>").encode()
                self.req("PUT", name, query={"comp": "blocklist"}, body=xml)


jobs = []
for d, dirs, names in os.walk(top):
    dirs.sort()
    for n in sorted(names):
        full = os.path.join(d, n)
        rel = os.path.relpath(full, top)
        if rel.startswith("locks/") or not os.path.isfile(full):
            continue
        page = rel.startswith("containers/") and rel.endswith(".vhd")
        if page and os.path.getsize(full) % 512:
            sys.exit("az-put-repo: %s is not a multiple of 512 bytes" % rel)
        jobs.append((os.path.getsize(full), full, prefix + "/" + rel, page))
jobs.sort(key=lambda j: -j[0])       # largest first: the threads finish together
Client().req("PUT", query={"restype": "container"}, ok=(201, 409))
lock, failed, total = threading.Lock(), [], sum(j[0] for j in jobs)


def worker():
    c = Client()
    while True:
        with lock:
            if not jobs or failed:
                return
            _, full, name, page = jobs.pop(0)
        try:
            c.put_file(full, name, page)
        except Exception as e:     # report the first failure, stop the others
            with lock:
                failed.append("%s: %s" % (name, e))
            return


threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failed:
    sys.exit("az-put-repo: " + failed[0])
print("uploaded %d bytes" % total)
