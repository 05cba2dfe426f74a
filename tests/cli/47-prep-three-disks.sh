#!/bin/bash
# prep onto three small tmpfs disks (real capacity) that the set needs all of: Data Box
# layout on every disk, each container on exactly one disk, manifests matching the files,
# the set manifest identical everywhere, the job draft's hashes equal to the manifests'
# sha256, verify passes, and a rerun copies nothing.
. "$(dirname "$0")/lib.sh"
need python3
need sha256sum
mkdir -p "$T/src" "$T/d1" "$T/d2" "$T/d3" "$T/d4"
trap 'for d in d1 d2 d3 d4; do umount "$T/$d" 2>/dev/null; done; rm -rf "$T"' EXIT
for d in d1 d2 d3; do
	mount -t tmpfs -o size=48m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
for i in $(seq 1 12); do head -c $((9 * 1048576)) /dev/urandom >"$T/src/f$i"; done
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box/srv01/daily
expect_exit 0 ofs stage --repo "$T/repo" --container-size 16M "$T/src"

# two of the three disks are not enough (exit 9, nothing written): the set needs all three
expect_exit 9 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-srv01
[ -z "$(find "$T/d1" "$T/d2" -mindepth 1)" ] || fail "prep wrote to the disks before failing for space"

expect_exit 0 ofs --json prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --disk "$T/d3" \
    --job seed-srv01
cp "$T/out" "$T/prep1.json"
python3 - "$T" <<'PY' || fail "layout, manifests or job draft are wrong"
import hashlib, json, os, re, sys
T = sys.argv[1]
disks = [os.path.join(T, d) for d in ("d1", "d2", "d3")]
lines = [json.loads(l) for l in open(os.path.join(T, "prep1.json")) if l.strip()]
assert len(lines) >= 1 and lines[-1]["type"] == "summary", lines
assert all(l["type"] in ("progress", "summary") for l in lines), lines
s = lines[-1]
assert s["bytes_copied"] == s["bytes_total"] > 0 and s["bytes_skipped"] == 0, s
azure = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
staging = json.load(open(os.path.join(T, "repo", "offseed-manifest.json")))
st_files = {f["path"]: f for f in staging["files"]}
st_cont = {p for p in st_files if p.startswith("containers/")}
st_meta = {p for p in st_files if not p.startswith("containers/")}
seen_cont = {}
set_bytes = None
draft = json.load(open(os.path.join(T, "repo", "jobs", "seed-srv01.json")))
coll = draft["properties"]["details"]["importDiskDetailsCollection"]
assert draft["sku"]["name"] == "DataBoxCustomerDisk"
assert len(coll) == 3, coll
for i, d in enumerate(disks, 1):
    files = []
    for root, dirs, names in os.walk(d):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), d))
    containers_here = 0
    for p in files:
        if p in ("offseed-manifest.json", "offseed-set.json", ".offseed-disk-id"):
            continue
        parts = p.split("/")
        assert parts[0] in ("PageBlob", "BlockBlob"), ("outside the Data Box layout", d, p)
        assert azure.match(parts[1]), ("bad container name", p)
        assert parts[1:4] == ["seed-box", "srv01", "daily"], p
        if parts[0] == "PageBlob":
            assert os.path.getsize(os.path.join(d, p)) % 512 == 0, ("page blob not aligned", p)
            assert parts[4] == "containers" and p.endswith(".vhd"), p
            assert parts[5] not in seen_cont, ("container on two disks", p)
            seen_cont[parts[5]] = i
            containers_here += 1
    assert containers_here > 0, ("disk without containers: the set did not need it", d)
    rel = {"/".join(p.split("/")[4:]) for p in files if p.startswith("BlockBlob/")}
    assert rel == st_meta, ("metadata is not complete on", d, rel ^ st_meta)
    raw = open(os.path.join(d, "offseed-manifest.json"), "rb").read()
    m = json.loads(raw)
    assert m["disk"] == {"index": i, "count": 3, "serial": m["disk"]["serial"]}, m["disk"]
    assert m["job"] == "seed-srv01" and m["seed_set"] == staging["seed_set"], m
    listed = {f["path"] for f in m["files"]}
    on_disk = {p for p in files if p.split("/")[0] in ("PageBlob", "BlockBlob")}
    assert listed == on_disk, ("manifest does not list exactly the disk's files", listed ^ on_disk)
    for f in m["files"]:
        src = st_files["/".join(f["path"].split("/")[4:])]
        assert f["size"] == src["size"] and f["xxh128"] == src["xxh128"], f
        assert os.path.getsize(os.path.join(d, f["path"])) == f["size"], f
    serial = m["disk"]["serial"]
    assert coll[serial]["manifestHash"] == hashlib.sha256(raw).hexdigest(), (serial, coll)
    assert coll[serial]["manifestFile"] == "offseed-manifest.json"
    sb = open(os.path.join(d, "offseed-set.json"), "rb").read()
    assert set_bytes is None or sb == set_bytes, "set manifests differ between disks"
    set_bytes = sb
assert {"containers/" + c for c in seen_cont} == st_cont, "not every container was placed"
sm = json.loads(set_bytes)
assert sm["format"] == "offseed-set" and sm["version"] == 1 and sm["job"] == "seed-srv01"
assert sm["destination"] == "azure://acct01/seed-box/srv01/daily"
assert [x["index"] for x in sm["disks"]] == [1, 2, 3]
for x in sm["disks"]:
    raw = open(os.path.join(disks[x["index"] - 1], "offseed-manifest.json"), "rb").read()
    assert x["manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    assert sorted(x["containers"]) == sorted(c for c, i in seen_cont.items() if i == x["index"])
PY
# the job draft's hashes equal sha256sum of each disk's manifest (checked with the tool too)
for d in d1 d2 d3; do
	h=$(sha256sum "$T/$d/offseed-manifest.json" | cut -d' ' -f1)
	grep -q "\"manifestHash\": \"$h\"" "$T/repo/jobs/seed-srv01.json" ||
	    fail "job draft lacks the manifest hash of $d"
done
expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
# the disk set is a repository: the snapshot restores from it alone
expect_exit 0 ofs restore latest --repo "disks:$T/d1,$T/d2,$T/d3" --target "$T/restored"
diff -r "$T/src" "$T/restored$T/src" || fail "restore from the disks differs"

# a rerun copies nothing and leaves the manifests (and so the job's hashes) unchanged
sha256sum "$T"/d?/offseed-*.json >"$T/sums"
expect_exit 0 ofs --json prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --disk "$T/d3" \
    --job seed-srv01
python3 - "$T/out" <<'PY' || fail "the rerun copied again"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["bytes_copied"] == 0 and s["files_copied"] == 0, s
assert s["bytes_skipped"] == s["bytes_total"] > 0, s
PY
sha256sum -c --quiet "$T/sums" || fail "a rerun changed the manifests"

# the human summary names every disk and the job draft
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --disk "$T/d3" --job seed-srv01
assert_contains "$T/out" "disk 3 of 3"
assert_contains "$T/out" "jobs/seed-srv01.json"
echo ok
