#!/bin/bash
# kill -9 in the middle of a backup to azure:// (Azurite behind tools/fault-proxy.py, which
# logs every request with its status and body bytes), then the rerun: no data/ pack that was
# committed (2xx Put Blob / Put Block List) is PUT again, the blobs and bytes in Azurite are
# exactly the committed packs and hold each chunk once, check --read-data is clean, and the
# restore from the cloud equals the source. Then the same with a kill before the first
# checkpoint (no index, no journal yet).
. "$(dirname "$0")/75-cloud-lib.sh"
need python3
PROXY_PID=
trap 'rc=$?; [ -n "$PROXY_PID" ] && kill $PROXY_PID 2>/dev/null
	[ -n "${BPID:-}" ] && kill -9 $BPID 2>/dev/null
	"$TOP/tools/azurite.sh" stop "$T/az" 2>/dev/null
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT
az_start
AZ_DIRECT=$OFFSEED_AZURE_ENDPOINT
az_port=${AZ_DIRECT#http://127.0.0.1:}; az_port=${az_port%%/*}

# proxy_start ARGS…: the relay in front of Azurite, logging in detail to $T/proxy.log
proxy_start() {
	python3 "$TOP/tools/fault-proxy.py" --upstream "127.0.0.1:$az_port" --owner $$ \
	    --log "$T/proxy.log" --log-detail "$@" >"$T/proxy.port" 2>"$T/proxy.err" &
	PROXY_PID=$!
	for _ in $(seq 1 400); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
	local p; p=$(head -n 1 "$T/proxy.port")
	[ -n "$p" ] || { cat "$T/proxy.err"; fail "tools/fault-proxy.py did not start"; }
	export OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$p/devstoreaccount1"
}

# ~120 MiB of random data in files of several sizes: four 32 MiB packs and a bit
mkdir -p "$T/src/a" "$T/src/b"
head -c $((40 * 1048576)) /dev/urandom >"$T/src/a/big1"
head -c $((30 * 1048576)) /dev/urandom >"$T/src/a/big2"
for i in 1 2 3 4 5; do head -c $((i * 3 * 1048576 + 12345)) /dev/urandom >"$T/src/b/m$i"; done
for i in $(seq 1 20); do seq 1 $((i * 500)) >"$T/src/b/t$i.txt"; done
src_bytes=$(find "$T/src" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
rand_bytes=$(find "$T/src" -type f ! -name '*.txt' -printf '%s\n' | awk '{s += $1} END {print s}')

R=azure://devstoreaccount1/backups/srv01
expect_exit 0 ofs init --repo "$R"
proxy_start

# Run 1, killed with -9 once a pack is committed, an index file listing it is written (the
# index goes in steps: --checkpoint-bytes 32M as in 70-backup.sh, so steps come within this
# small backup) and another pack is half-way (some of its blocks are in, its block list is
# not). The binary itself goes to the background so $! is the process we kill.
"$OFFSEED" --passphrase-file "$PASS" --no-progress backup --repo "$R" --checkpoint-bytes 32M \
    "$T/src" >"$T/run1.out" 2>&1 &
BPID=$!
kill_t=$(python3 - "$T/proxy.log" "$BPID" <<'PY'
import os, re, signal, sys, time
log, pid = sys.argv[1], int(sys.argv[2])
pat = re.compile(r"/srv01/(data/[0-9a-f]{2}|index)/([0-9a-f]{64})(\?.*)?$")
end = time.monotonic() + 45
while time.monotonic() < end:
    done, blocks, first_commit, indexed = set(), set(), None, False
    try:
        lines = open(log).read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        f = line.split()
        if len(f) < 8 or f[1] != "PUT" or not 200 <= int(f[4]) < 300:
            continue
        m = pat.search(f[2])
        if not m:
            continue
        if m.group(1) == "index":
            indexed = indexed or (first_commit is not None and float(f[7]) > first_commit)
            continue
        if "comp=block&" in (m.group(3) or "") + "&":
            blocks.add(m.group(2))
        else:
            done.add(m.group(2))
            first_commit = min(first_commit or 1e18, float(f[6]))
    if indexed and blocks - done:
        os.kill(pid, signal.SIGKILL)
        print("%.6f" % time.monotonic())
        sys.exit(0)
    try:
        gone = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        gone = True
    if gone:
        sys.exit("the backup ended before the kill")
    time.sleep(0.003)
sys.exit("no moment to kill: never an index file after a committed pack while another "
         "pack was half-uploaded (is the index written in steps?)")
PY
) || { cat "$T/run1.out"; fail "could not kill the backup mid-upload"; }
exec 3>&2 2>/dev/null; wait $BPID; rc=$?; exec 2>&3 3>&-	# no "Killed" job notice
BPID=
[ $rc = 137 ] || { cat "$T/run1.out"; fail "the first run was not killed (exit $rc): it finished too early"; }
# let the requests the relay was still carrying when the client died finish
prev=-1
for _ in $(seq 1 40); do
	n=$(wc -l <"$T/proxy.log")
	[ "$n" = "$prev" ] && break
	prev=$n; sleep 0.25
done

# run 2: completes
expect_exit 0 ofs backup --repo "$R" --checkpoint-bytes 32M "$T/src"
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null; PROXY_PID=
export OFFSEED_AZURE_ENDPOINT=$AZ_DIRECT

# Storage side: blob names and sizes under data/ (straight from Azurite, not the relay).
az usage backups srv01/data >"$T/usage" || fail "cannot list the data blobs"
az names backups srv01/data >"$T/names" || fail "cannot list the data blobs"
read -r nblobs nbytes <"$T/usage"
echo "Azurite after both runs: $nblobs data blobs, $nbytes bytes for $src_bytes source bytes"

python3 - "$T/proxy.log" "$kill_t" "$T/names" "$nbytes" "$src_bytes" "$rand_bytes" <<'PY' ||
import re, sys
log, kill_t, names = sys.argv[1], float(sys.argv[2]), sys.argv[3]
nbytes, src_bytes, rand_bytes = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
pat = re.compile(r"/srv01/(data/[0-9a-f]{2}|index)/([0-9a-f]{64})(\?.*)?$")
commits = {}     # pack -> [(run, t_done)] of 2xx Put Blob / Put Block List
puts = {}        # pack -> [run, …] of every PUT (blocks included)
size = {}        # pack -> {block id: bytes} of its 2xx Put Blocks (or "": Put Blob body)
body = {1: 0, 2: 0}
index_t = []     # t_start of the 2xx index PUTs of run 1 finished before the kill
bad = []
for line in open(log):
    f = line.split()
    if len(f) < 8:
        bad.append("short log line: " + line.strip())
        continue
    meth, path, status, nb = f[1], f[2], int(f[4]), int(f[5])
    t_done, t_start = float(f[6]), float(f[7])
    m = pat.search(path)
    if meth != "PUT" or not m:
        continue
    run = 1 if t_start < kill_t else 2
    ok = 200 <= status < 300
    if m.group(1) == "index":
        if ok and run == 1 and t_done < kill_t:
            index_t.append(t_start)
        continue
    name, q = m.group(2), (m.group(3) or "") + "&"
    puts.setdefault(name, []).append(run)
    if not ok:
        continue
    body[run] += nb
    if "comp=block&" in q:
        size.setdefault(name, {})[re.search(r"blockid=([^&]*)", q).group(1)] = nb
    else:
        commits.setdefault(name, []).append((run, t_done))
        if "comp=blocklist" not in q:
            size[name] = {"": nb}
run1 = {n for n, r in commits.items() if any(run == 1 for run, _ in r)}
half = {n for n, r in puts.items() if 1 in r} - run1
# Listed in an index file written before the kill: committed before that index PUT began.
# Those must never go again; a pack committed later, or in flight at the kill, may
# legitimately be stored again by the rerun.
indexed = {n for n in run1 if any(run == 1 and t < s for run, t in commits[n] for s in index_t)}
unindexed = sum(sum(size.get(n, {}).values()) for n in run1 - indexed)
print("run 1: %d packs committed (%d listed in an index before the kill), %d half-uploaded, "
      "%d body bytes; run 2: %d packs committed, %d body bytes" % (len(run1), len(indexed),
      len(half), body[1], sum(1 for r in commits.values() if any(x == 2 for x, _ in r)),
      body[2]))
if not indexed:
    bad.append("no committed pack was listed in an index before the kill")
for n, r in sorted(commits.items()):
    if len(r) > 1:
        bad.append("pack %s committed %d times" % (n[:12], len(r)))
for n in sorted(run1):
    if 2 in puts[n]:
        bad.append("pack %s, committed by the killed run, was PUT again by the rerun "
                   "(%d requests)" % (n[:12], puts[n].count(2)))
stored = {l.strip().rsplit("/", 1)[-1] for l in open(names) if l.strip()}
if stored != set(commits):
    bad.append("Azurite holds %d data blobs, the log shows %d committed: extra %s, "
               "missing %s" % (len(stored), len(commits), sorted(stored - set(commits))[:3],
               sorted(set(commits) - stored)[:3]))
# Each chunk stored once: the data blobs hold the source (random, incompressible) plus pack
# headers and tree packs (< 1%), plus at most the packs committed after the killed run's last
# index (their chunks were not known to be stored).
limit = src_bytes + src_bytes // 100 + unindexed
print("data bytes in Azurite: %d; source %d (+1%%), committed but unindexed at the kill %d"
      % (nbytes, src_bytes, unindexed))
if nbytes < rand_bytes:
    bad.append("Azurite holds %d data bytes, less than the source's %d random bytes"
               % (nbytes, rand_bytes))
if nbytes > limit:
    bad.append("Azurite holds %d data bytes, more than %d: chunks of indexed packs were "
               "stored twice" % (nbytes, limit))
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
	fail "the request log or the storage shows a pack stored twice (above)"
az names backups srv01 | grep -q '^srv01/locks/' && fail "a lock was left in the cloud"

expect_exit 0 ofs snapshots --repo "$R"
[ "$(grep -c '^[0-9a-f]\{8\} ' "$T/out")" = 1 ] || fail "expected exactly one snapshot: $(cat "$T/out")"
expect_exit 0 ofs check --repo "$R" --read-data
grep -q " 0 problems" "$T/out" || fail "check is not clean: $(cat "$T/out")"
expect_exit 0 ofs restore latest --repo "$R" --target "$T/r1"
diff -r "$T/src" "$T/r1$T/src" || fail "the restore after the killed backup differs from the source"
# and from a machine that has never seen this repository (no state: index from the cloud)
OFFSEED_STATE="$T/state2" expect_exit 0 ofs restore latest --repo "$R" --target "$T/r2"
diff -r "$T/src" "$T/r2$T/src" || fail "the restore with a fresh state dir differs from the source"

# Killed before its first checkpoint (the defaults: 1 GiB or 60 s), so no index and no
# journal were written: the rerun still stores no committed pack again (it finds them in
# data/ through the run mark the killed backup left in the state dir), and adds nothing.
R2=azure://devstoreaccount1/backups/srv02
expect_exit 0 ofs init --repo "$R2"
: >"$T/proxy.log"
proxy_start
"$OFFSEED" --passphrase-file "$PASS" --no-progress backup --repo "$R2" "$T/src" >"$T/run3.out" 2>&1 &
BPID=$!
python3 - "$T/proxy.log" "$BPID" <<'PY' || { cat "$T/run3.out"; fail "could not kill the backup after a committed pack"; }
import os, re, signal, sys, time
log, pid = sys.argv[1], int(sys.argv[2])
pat = re.compile(r"/srv02/data/[0-9a-f]{2}/([0-9a-f]{64})(\?.*)?$")
end = time.monotonic() + 45
while time.monotonic() < end:
    done, blocks = set(), set()
    for line in open(log).read().splitlines():
        f = line.split()
        m = pat.search(f[2]) if len(f) >= 8 and f[1] == "PUT" else None
        if m and 200 <= int(f[4]) < 300:
            (blocks if "comp=block&" in (m.group(2) or "") + "&" else done).add(m.group(1))
    if done and blocks - done:
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.003)
sys.exit("never a committed pack while another was half-uploaded")
PY
exec 3>&2 2>/dev/null; wait $BPID; rc=$?; exec 2>&3 3>&-
BPID=
[ $rc = 137 ] || fail "the backup was not killed (exit $rc)"
ls "$OFFSEED_STATE"/*/backup.journal >/dev/null 2>&1 && fail "a journal exists: the kill came after a checkpoint"
sleep 1
echo "--- rerun" >>"$T/proxy.log"
expect_exit 0 ofs backup --repo "$R2" "$T/src"
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null; PROXY_PID=
export OFFSEED_AZURE_ENDPOINT=$AZ_DIRECT
read -r nblobs2 nbytes2 <<<"$(az usage backups srv02/data)"
python3 - "$T/proxy.log" "$nbytes2" "$src_bytes" <<'PY' || fail "the rerun stored a pack of the killed backup again"
import re, sys
pat = re.compile(r"/srv02/data/[0-9a-f]{2}/([0-9a-f]{64})(\?.*)?$")
run, commits, again = 1, {1: set(), 2: set()}, set()
for line in open(sys.argv[1]):
    if line.startswith("--- rerun"):
        run = 2
        continue
    f = line.split()
    m = pat.search(f[2]) if len(f) >= 8 and f[1] == "PUT" else None
    if not m:
        continue
    if run == 2 and m.group(1) in commits[1]:
        again.add(m.group(1))
    if 200 <= int(f[4]) < 300 and "comp=block&" not in (m.group(2) or "") + "&":
        commits[run].add(m.group(1))
nbytes, src = int(sys.argv[2]), int(sys.argv[3])
print("killed before a checkpoint: %d packs committed, the rerun %d more; %d data bytes in "
      "Azurite for %d source bytes" % (len(commits[1]), len(commits[2]), nbytes, src))
if again:
    sys.exit("packs committed by the killed run were PUT again: %s" % sorted(again)[:3])
if nbytes > src + src // 100:
    sys.exit("Azurite holds %d data bytes for %d source bytes" % (nbytes, src))
PY
expect_exit 0 ofs check --repo "$R2" --read-data
expect_exit 0 ofs restore latest --repo "$R2" --target "$T/r3"
diff -r "$T/src" "$T/r3$T/src" || fail "the restore after the kill before a checkpoint differs"
echo ok
