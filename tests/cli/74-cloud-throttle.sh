#!/bin/bash
# --limit-upload against Azurite: one global rate across the parallel pack uploads, measured
# on the wire (a counting TCP relay in front of Azurite, sampled every 0.25 s) over sliding
# 30 s windows, each within ±10% of the limit; a time window covering now wins over the
# plain rate; a window that does not cover now does not slow the run; bad values exit 2.
. "$(dirname "$0")/75-cloud-lib.sh"
az_start
R=azure://devstoreaccount1/throttle/srv

expect_exit 2 ofs backup --repo "$R" --limit-upload 0 "$T"
assert_contains "$T/err" "invalid --limit-upload '0'"
expect_exit 2 ofs backup --repo "$R" --limit-upload "mon-fry@08:00-18:00=1M" "$T"
assert_contains "$T/err" "invalid --limit-upload 'mon-fry@08:00-18:00=1M'"
expect_exit 2 ofs stage --repo "$T/x" --limit-upload 1M "$T"
assert_contains "$T/err" "--limit-upload is an option of backup"

mkdir -p "$T/src"
head -c 1000 /dev/urandom >"$T/src/small"
expect_exit 0 ofs init --repo "$R"
expect_exit 0 ofs backup --repo "$R" "$T/src"

# A window around now at 2 MiB/s beats the plain 16 MiB/s: 72 MiB of new data takes ~36 s.
from=$(date -d '-2 min' +%H:%M) to=$(date -d '+10 min' +%H:%M)
for i in 1 2 3 4 5 6 7 8 9; do head -c $((8 * 1048576)) /dev/urandom >"$T/src/big$i"; done
rate=$((2 * 1048576))
# The bytes are counted on the wire by a small TCP relay in front of Azurite.
python3 - "${OFFSEED_AZURE_ENDPOINT#http://}" "$T/samples" "$T/relay-port" $$ <<'PY' &
import os, socket, sys, threading, time
up_host, up_port = sys.argv[1].split("/")[0].split(":")
out, portfile, owner = sys.argv[2], sys.argv[3], int(sys.argv[4])
sent = [0]
conns = [0, 0]  # open, most open at once
lock = threading.Lock()
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(16)
open(portfile + ".tmp", "w").write(str(ls.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)

def pipe(a, b, count):
    if count:
        with lock:
            conns[0] += 1
            conns[1] = max(conns[1], conns[0])
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if count:
                with lock:
                    sent[0] += len(d)
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if count:
        with lock:
            conns[0] -= 1

def accept():
    while True:
        c, _ = ls.accept()
        u = socket.create_connection((up_host, int(up_port)))
        threading.Thread(target=pipe, args=(c, u, True), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c, False), daemon=True).start()

threading.Thread(target=accept, daemon=True).start()
t0 = time.monotonic()
with open(out, "w") as f:
    while True:
        try:
            os.kill(owner, 0)
        except OSError:
            break
        if os.path.exists(out + ".stop"):
            break
        with lock:
            n = sent[0]
        f.write("%.3f %d\n" % (time.monotonic() - t0, n))
        f.flush()
        time.sleep(0.25)
open(out + ".conns", "w").write("%d\n" % conns[1])
PY
relay=$!
for i in $(seq 50); do [ -s "$T/relay-port" ] && break; sleep 0.1; done
[ -s "$T/relay-port" ] || fail "the counting relay did not start"
OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$(cat "$T/relay-port")/devstoreaccount1" \
    "$OFFSEED" --passphrase-file "$PASS" --no-progress backup --repo "$R" \
    --limit-upload 16M --limit-upload "$from-$to=2M" "$T/src" >"$T/out" 2>&1 &
pid=$!
wait $pid || fail "the throttled backup failed: $(cat "$T/out")"
sleep 0.6
touch "$T/samples.stop"
wait $relay
# one client holds at most 4 connections (blocks of a pack): more means packs went in parallel
conns=$(cat "$T/samples.conns")
echo "connections open at once: $conns"
[ "$conns" -gt 4 ] || fail "packs were not uploaded in parallel ($conns connections at most)"
python3 - "$T/samples" "$rate" <<'PY' || fail "the upload rate left the ±10% band"
import sys
s = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
limit = float(sys.argv[2])
# the sending phase: from the first sample with 1 MiB sent to the last change
start = next(i for i, (t, w) in enumerate(s) if w - s[0][1] > 1048576)
last = next(i for i in range(len(s) - 1, -1, -1) if s[i][1] != s[-1][1] or i == 0) + 1
t_end = s[last][0]
dur = t_end - s[start][0]
print("sending for %.1f s, %.1f MiB in total, limit %.2f MiB/s" %
      (dur, (s[-1][1] - s[0][1]) / 1048576, limit / 1048576))
if dur < 32:
    sys.exit("the throttled run lasted %.1f s: the limit was not applied" % dur)
worst = []
i = start
while True:
    t_a, w_a = s[i]
    j = next((k for k in range(i, len(s)) if s[k][0] >= t_a + 30), None)
    if j is None or s[j][0] > t_end:
        break
    r = (s[j][1] - w_a) / (s[j][0] - t_a)
    worst.append(r)
    i += 4
if not worst:
    sys.exit("no 30 s window to measure")
lo, hi = min(worst), max(worst)
print("30 s windows: %d, rate %.3f..%.3f MiB/s (%.1f%%..%.1f%% of the limit)" %
      (len(worst), lo / 1048576, hi / 1048576, 100 * lo / limit, 100 * hi / limit))
if lo < 0.9 * limit or hi > 1.1 * limit:
    sys.exit("a 30 s window left the ±10% band")
PY
expect_exit 0 ofs restore latest --repo "$R" --target "$T/r"
diff -r "$T/src" "$T/r$T/src" || fail "the throttled backup does not restore identically"

# A window that does not cover now (64K) must not apply: 8 MiB goes at 16 MiB/s.
from=$(date -d '+3 hours' +%H:%M) to=$(date -d '+4 hours' +%H:%M)
head -c $((8 * 1048576)) /dev/urandom >"$T/src/big10"
s=$(date +%s)
expect_exit 0 ofs backup --repo "$R" --limit-upload 16M --limit-upload "$from-$to=64K" "$T/src"
el=$(( $(date +%s) - s ))
echo "window elsewhere: 8 MiB in ${el}s"
[ $el -lt 20 ] || fail "a window that does not cover now slowed the backup (${el}s)"
expect_exit 0 ofs check --repo "$R"
echo ok
