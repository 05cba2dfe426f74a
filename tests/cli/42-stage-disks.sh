#!/bin/bash
# stage --disk: containers go straight onto real (tmpfs) disks in the Data Box layout, the
# staging folder keeps only metadata, and the disks end up as prep leaves them (manifests,
# set manifest, job draft); they verify keyless and restore as a disk set. Two disks too
# small stop with exit 9 naming the bytes still to store; one more --disk continues.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/disks.sh"
need python3
mount_disks 6 48m
mkdir -p "$T/src"
for i in $(seq 1 10); do head -c 10000000 /dev/urandom >"$T/src/f$i"; done
mkdir -p "$T/src/sub"
echo small >"$T/src/sub/note.txt"

layout_check() {	# REPO JOB DISK… : Data Box layout, manifests and job draft
	python3 - "$@" <<'PY' || fail "layout, manifests or job draft are wrong"
import hashlib, json, os, re, sys
repo, job, disks = sys.argv[1], sys.argv[2], sys.argv[3:]
azure = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
for root, dirs, names in os.walk(repo):
    for n in names:
        assert not n.endswith(".vhd") and not n.endswith(".partial"), ("container in staging", root, n)
draft = json.load(open(os.path.join(repo, "jobs", job + ".json")))
coll = draft["properties"]["details"]["importDiskDetailsCollection"]
assert len(coll) == len(disks), coll
seen, set_bytes, meta = {}, None, None
for i, d in enumerate(disks, 1):
    files = []
    for root, dirs, names in os.walk(d):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), d))
    for p in files:
        if p in ("offseed-manifest.json", "offseed-set.json", ".offseed-disk-id"):
            continue
        parts = p.split("/")
        assert parts[0] in ("PageBlob", "BlockBlob"), ("outside the Data Box layout", d, p)
        assert azure.match(parts[1]), ("bad container name", p)
        assert parts[1:4] == ["seed-box", "srv01", "daily"], p
        assert not parts[-1].startswith("."), ("hidden file left", p)
        if parts[0] == "PageBlob":
            assert os.path.getsize(os.path.join(d, p)) % 512 == 0, p
            assert parts[4] == "containers" and p.endswith(".vhd"), p
            assert parts[5] not in seen, ("container on two disks", p)
            seen[parts[5]] = i
    rel = {"/".join(p.split("/")[4:]) for p in files if p.startswith("BlockBlob/")}
    assert meta is None or rel == meta, ("metadata differs between disks", rel ^ meta)
    meta = rel
    assert any(r == "config" for r in rel) and any(r.startswith("snapshots/") for r in rel), rel
    raw = open(os.path.join(d, "offseed-manifest.json"), "rb").read()
    m = json.loads(raw)
    assert m["disk"]["index"] == i and m["disk"]["count"] == len(disks), m["disk"]
    assert m["job"] == job, m
    listed = {f["path"] for f in m["files"]}
    on_disk = {p for p in files if p.split("/")[0] in ("PageBlob", "BlockBlob")}
    assert listed == on_disk, ("manifest does not list exactly the disk's files", listed ^ on_disk)
    for f in m["files"]:
        assert os.path.getsize(os.path.join(d, f["path"])) == f["size"], f
    assert coll[m["disk"]["serial"]]["manifestHash"] == hashlib.sha256(raw).hexdigest()
    sb = open(os.path.join(d, "offseed-set.json"), "rb").read()
    assert set_bytes is None or sb == set_bytes, "set manifests differ between disks"
    set_bytes = sb
sm = json.loads(set_bytes)
assert sm["job"] == job and sm["destination"] == "azure://acct01/seed-box/srv01/daily"
assert len(seen) >= 6, ("too few containers", seen)
for x in sm["disks"]:
    raw = open(os.path.join(disks[x["index"] - 1], "offseed-manifest.json"), "rb").read()
    assert x["manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    assert sorted(x["containers"]) == sorted(c for c, i in seen.items() if i == x["index"])
PY
}

# --- (0) usage: --disk needs a destination; --serial/--job need --disk
expect_exit 0 ofs init --repo "$T/nodest"
expect_exit 2 ofs stage --repo "$T/nodest" --disk "$T/d1" "$T/src"
assert_contains "$T/err" "repository has no destination"
[ -z "$(find "$T/d1" -mindepth 1)" ] || fail "stage wrote to a disk without a destination"
expect_exit 2 ofs stage --repo "$T/nodest" --job seed-x "$T/src"

# --- (1) ~100 MB straight onto three 48 MiB disks
expect_exit 0 ofs init --repo "$T/repo" --dest azure://acct01/seed-box/srv01/daily
expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 16M --disk "$T/d1" \
    --disk "$T/d2" --disk "$T/d3" --serial "$T/d2=TEST-SERIAL-2" --job seed-srv01 "$T/src"
python3 - "$T/out" <<'PY' || fail "bad summary"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["type"] == "summary" and s["resumed"] is False, s
assert len(s["disks"]) == 3 and s["disks"][1]["serial"] == "TEST-SERIAL-2", s
assert all(d["containers"] > 0 for d in s["disks"]), s
assert s["job_draft"].endswith("jobs/seed-srv01.json"), s
PY
layout_check "$T/repo" seed-srv01 "$T/d1" "$T/d2" "$T/d3"
expect_exit 0 ofs verify "$T/d1" "$T/d2" "$T/d3"
expect_exit 0 ofs restore latest --repo "disks:$T/d1,$T/d2,$T/d3" --target "$T/restored"
diff -r "$T/src" "$T/restored$T/src" || fail "restore from the disks differs"
# a prepared disk is refused before anything is staged; backup has no --disk
expect_exit 2 ofs stage --repo "$T/repo" --container-size 16M --disk "$T/d1" "$T/src"
assert_contains "$T/err" "already a prepared disk"
expect_exit 2 ofs backup --repo "$T/repo" --disk "$T/d1" "$T/src"

# --- (2) two disks are too small: exit 9 naming the bytes; one more --disk continues
expect_exit 0 ofs init --repo "$T/repo2" --dest azure://acct01/seed-box/srv01/daily
expect_exit 9 ofs stage --repo "$T/repo2" --container-size 16M --disk "$T/d4" --disk "$T/d5" \
    --job seed-two "$T/src"
assert_contains "$T/err" "bytes of source still to store"
assert_contains "$T/err" "add a disk and re-run with one more --disk"
grep -Eq 'about [1-9][0-9]* bytes' "$T/err" || fail "the message does not say how many bytes"
[ -n "$(find "$T/d4" "$T/d5" -name '*.vhd')" ] || fail "no container was written to the disks"
expect_exit 0 ofs --json stage --repo "$T/repo2" --container-size 16M --disk "$T/d4" \
    --disk "$T/d5" --disk "$T/d6" --job seed-two "$T/src"
python3 - "$T/out" <<'PY' || fail "the rerun did not continue"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s["resumed"] is True, s
assert 0 < s["bytes_read"] < 100000006, s
assert len(s["disks"]) == 3, s
PY
layout_check "$T/repo2" seed-two "$T/d4" "$T/d5" "$T/d6"
expect_exit 0 ofs verify "$T/d4" "$T/d5" "$T/d6"
expect_exit 0 ofs restore latest --repo "disks:$T/d4,$T/d5,$T/d6" --target "$T/restored2"
diff -r "$T/src" "$T/restored2$T/src" || fail "restore from the resumed disks differs"

# --- (3) kill -9 while a container is open on a disk: the rerun finds the partial container
# on its disk through the journal (by serial) and continues it
mkdir -p "$T/d7" "$T/d8" "$T/d9"
for d in d7 d8 d9; do
	mount -t tmpfs -o size=48m tmpfs "$T/$d" || fail "cannot mount a tmpfs at $T/$d"
	DISK_MOUNTS+=("$T/$d")
done
expect_exit 0 ofs init --repo "$T/repo3" --dest azure://acct01/seed-box/srv01/daily
"$OFFSEED" --passphrase-file "$PASS" --no-progress stage --threads 1 --repo "$T/repo3" \
    --container-size 16M --checkpoint-bytes 2M --disk "$T/d7" --disk "$T/d8" --disk "$T/d9" \
    "$T/src" >"$T/run3.out" 2>&1 &
pid=$!
# Stop the run once a container is open on the second disk, and kill it only while one is
# still open: a container sealed between the look and the kill would leave none (the stage
# has become fast enough for that gap to matter).
for _ in $(seq 1 2000); do
	if [ -n "$(find "$T/d8" -name '.*.partial' 2>/dev/null)" ]; then
		kill -STOP $pid 2>/dev/null
		[ -n "$(find "$T/d7" "$T/d8" "$T/d9" -name '.*.partial' 2>/dev/null)" ] && break
		kill -CONT $pid 2>/dev/null
	fi
	sleep 0.005
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$(find "$T/state" -name stage.journal)" ] || { cat "$T/run3.out"; fail "the run finished before it could be killed"; }
[ -n "$(find "$T/d7" "$T/d8" "$T/d9" -name '.*.partial')" ] || fail "no partial container on a disk"
expect_exit 0 ofs --json stage --repo "$T/repo3" --container-size 16M --disk "$T/d7" \
    --disk "$T/d8" --disk "$T/d9" --job seed-three "$T/src"
grep -q '"resumed":true' "$T/out" || fail "the rerun after kill -9 did not resume"
[ -z "$(find "$T/d7" "$T/d8" "$T/d9" -name '.*.partial')" ] || fail "a partial container was left"
layout_check "$T/repo3" seed-three "$T/d7" "$T/d8" "$T/d9"
expect_exit 0 ofs verify "$T/d7" "$T/d8" "$T/d9"
expect_exit 0 ofs restore latest --repo "disks:$T/d7,$T/d8,$T/d9" --target "$T/restored3"
diff -r "$T/src" "$T/restored3$T/src" || fail "restore after kill -9 differs"
echo ok
