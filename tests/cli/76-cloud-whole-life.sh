#!/bin/bash
# The whole life of a seeded repository (issue 5), with real services started and stopped
# here: Azurite and offseed-dc --storage azure://devstoreaccount1.
#  1. stage ~46 MB (text, random binaries, two large logs, a large image) into 16 MiB containers
#  2. prep onto two tmpfs disks (both used)
#  3. import create/ship, the dock receives the disks, status --wait → Completed
#  4. ~1% change (an edit in the middle of a large file, an append to another, new files,
#     deletions, a renamed folder), backup to the azure:// location the import wrote; the
#     growth is the sum of blob sizes in Azurite after minus before and must be
#     ≤ 1.05 × changed bytes + META_ALLOW; unchanged files are not read (bytes_read)
#  5. restore latest from the cloud: diff -r, and mode/owner/mtime (ns) equal
#  6. a second incremental (no large-file edit: allowance META_ALLOW2), same checks
#  7. forget --keep-last 2 --prune: the stage snapshot is gone, the containers stay (the
#     newer snapshots use them) and their unused bytes are reported reclaimable
#  8. check --read-data on the cloud repository is clean; the latest restores once more.
# Changed bytes = bytes written by the edit, the append and the new files (all random).
# META_ALLOW covers the trees, snapshot, index and pack headers, and the rounding of the
# large-file edit to whole 32 KiB blocks: its chunks are stored as patches of the seed's
# (FORMAT.md section 9.1), so the unchanged bytes around the edit are not stored again.
. "$(dirname "$0")/75-cloud-lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"
need diff
LIFE="$TOP/tests/cli/76-life.py"
META_ALLOW=131072	# change 1: metadata + the block rounding of the large-file edit
META_ALLOW2=131072	# change 2 (no large-file edit): metadata only

DC_PID=""
cleanup() {
	[ -n "$DC_PID" ] && { kill "$DC_PID" 2>/dev/null; wait "$DC_PID" 2>/dev/null; }
	"$TOP/tools/azurite.sh" stop "$T/az" >/dev/null 2>&1
	for d in d1 d2; do umount "$T/$d" 2>/dev/null; done
}
trap 'rc=$?; cleanup; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT
t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
js() {	# EXPR over d = the last JSON line of $T/out
	python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(eval(sys.argv[2]))' "$T/out" "$1"
}
area() {	# "DATA OTHER": bytes under PFX/data/ and the rest (index, snapshots, config, keys)
	local all data
	all=$(az usage "$CONT" "$PFX" | cut -d' ' -f2) data=$(az usage "$CONT" "$PFX/data" | cut -d' ' -f2)
	echo "$data $((all - data))"
}
restore_check() {	# N WHAT: restore latest from the cloud to $T/rN; content and metadata as the source
	expect_exit 0 ofs restore latest --repo "$R" --target "$T/r$1"
	diff -r --no-dereference "$T/src" "$T/r$1$T/src" >"$T/diff$1" || { head -20 "$T/diff$1"; fail "restore $2 differs"; }
	n=$(python3 "$LIFE" compare "$T/src" "$T/r$1$T/src") || fail "restore $2: metadata differs"
	echo "restore $1: $n entries identical (content, type, mode, owner, mtime)"
	rm -rf "$T/r$1"
}
kv() { sed -n "s/.*\\b$1 \\([0-9]*\\).*/\\1/p" <<<"$2"; }	# KEY "k v k v…"

# --- 1. stage ---------------------------------------------------------------------------
step "stage"
mkdir -p "$T/src" "$T/d1" "$T/d2"
total=$(python3 "$LIFE" gen "$T/src" | sed -n 's/^total //p')
[ -n "$total" ] && [ "$total" -gt $((38 * 1048576)) ] || fail "the source tree holds only '$total' bytes"
CONT=lifeseed PFX=srv76
R=azure://devstoreaccount1/$CONT/$PFX
expect_exit 0 ofs init --repo "$T/repo" --dest "$R"
expect_exit 0 ofs --json stage --repo "$T/repo" --container-size 16M "$T/src"
nvhd=$(ls "$T/repo/containers/"*.vhd | wc -l)
[ "$nvhd" -ge 2 ] || fail "expected at least 2 containers, got $nvhd"
vhd_bytes=$(stat -c %s "$T/repo/containers/"*.vhd | awk '{s += $1} END {print s}')
echo "source: $total bytes; staged into $nvhd containers ($vhd_bytes bytes)"

# --- 2. prep onto two disks -----------------------------------------------------------------
# Each disk holds the largest container, or all the others, plus 3 MiB of metadata, but not
# every container: both are used. The source is random, so the chunk cut points and hence the
# container sizes differ from run to run (15+15+1 MiB in one, 14+14+3 MiB in another); sizing
# by the largest container alone left the smallest one without room in some runs.
step "prep"
big=$(stat -c %s "$T/repo/containers/"*.vhd | sort -n | tail -n 1)
rest=$(( vhd_bytes - big ))
dsize=$(( (big > rest ? big : rest) / 1048576 + 3 ))
[ $((dsize * 1048576)) -lt "$vhd_bytes" ] || fail "one ${dsize} MiB disk would hold all containers"
for d in d1 d2; do
	mount -t tmpfs -o size=${dsize}m tmpfs "$T/$d" || fail "cannot mount a tmpfs (this test needs root)"
done
expect_exit 0 ofs prep --repo "$T/repo" --disk "$T/d1" --disk "$T/d2" --job seed-life \
    --serial "$T/d1=SER-LIFE-1" --serial "$T/d2=SER-LIFE-2"
for d in d1 d2; do
	ls "$T/$d/PageBlob/$CONT/$PFX/containers/"*.vhd >/dev/null 2>&1 || fail "disk $d got no container"
done
expect_exit 0 ofs verify "$T/d1" "$T/d2"

# --- 3. the import through offseed-dc into Azurite ------------------------------------------
step "import"
az_start
"$OFFSEED_DC" serve --listen 127.0.0.1:0 --state "$T/dc" --storage azure://devstoreaccount1 \
    >"$T/dc.log" 2>&1 &
DC_PID=$!
DC_URL=""
for _ in $(seq 100); do
	DC_URL=$(sed -n 's/^listening on //p' "$T/dc.log")
	[ -n "$DC_URL" ] && break
	kill -0 "$DC_PID" 2>/dev/null || { cat "$T/dc.log"; fail "offseed-dc serve exited"; }
	sleep 0.1
done
[ -n "$DC_URL" ] || { cat "$T/dc.log"; fail "offseed-dc did not start"; }
"$OFFSEED_DC" credentials --state "$T/dc" --out "$T/cred.json" >/dev/null ||
    fail "offseed-dc credentials failed"
export OFFSEED_CREDENTIALS="$T/cred.json"
cat >"$T/contact.json" <<'EOF'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
EOF
# nothing is in the cloud before the import
expect_exit 2 ofs snapshots --repo "$R"
expect_exit 0 ofs import create --job seed-life --repo "$T/repo" --contact "$T/contact.json"
expect_exit 0 ofs import ship --job seed-life --carrier DHL --tracking 1Z-LIFE
"$OFFSEED_DC" receive --url "$DC_URL" --state "$T/dc" --job seed-life "SER-LIFE-1=$T/d1" \
    "SER-LIFE-2=$T/d2" >"$T/receive.log" 2>&1 || { cat "$T/receive.log"; fail "offseed-dc receive failed"; }
expect_exit 0 ofs import status --job seed-life --wait --interval 0.2 --timeout 60
assert_contains "$T/out" "job seed-life: Completed"
assert_contains "$T/out" "disk SER-LIFE-1: Completed"
assert_contains "$T/out" "disk SER-LIFE-2: Completed"
kill -TERM "$DC_PID"; wait "$DC_PID" || fail "offseed-dc did not stop cleanly"; DC_PID=""
az names "$CONT" "$PFX" >"$T/names0" || fail "cannot list the imported blobs"
[ "$(grep -c "^$PFX/containers/.*\.vhd\$" "$T/names0")" = "$nvhd" ] ||
    fail "the import did not bring all $nvhd containers: $(cat "$T/names0")"
expect_exit 0 ofs --json snapshots --repo "$R"
[ "$(js 'd["count"]')" = 1 ] || fail "the imported repository should hold 1 snapshot: $(cat "$T/out")"
snap0=$(js 'd["snapshots"][0]["id"]')
grep -q pending_seed "$T/out" && fail "the imported snapshot is shown pending: $(cat "$T/out")"

# --- 4. ~1% change, backup to the cloud, growth measured in Azurite --------------------------
step "change 1, backup"
c1=$(python3 "$LIFE" change1 "$T/src") || fail "change1 failed"
changed=$(kv changed "$c1") must=$(kv must_read "$c1") may=$(kv may_read "$c1")
read -r n0 b0 <<<"$(az usage "$CONT" "$PFX")"
read -r da0 ot0 <<<"$(area)"
expect_exit 0 ofs --json backup --repo "$R" "$T/src"
read -r n1 b1 <<<"$(az usage "$CONT" "$PFX")"
read -r da1 ot1 <<<"$(area)"
read_b=$(js 'd["bytes_read"]') new_b=$(js 'd["bytes_new"]')
grown=$((b1 - b0))
limit=$((changed * 105 / 100 + META_ALLOW))
ratio=$(awk -v g=$grown -v c=$changed 'BEGIN {printf "%.3f", g / c}')
echo "change 1: $c1"
echo "change 1: changed $changed bytes ($(awk -v c=$changed -v t=$total 'BEGIN {printf "%.2f", 100 * c / t}')% of $total)," \
    "storage growth $grown bytes in $((n1 - n0)) blobs, ratio $ratio (limit $limit = 1.05 x changed + $META_ALLOW)," \
    "backup read $read_b bytes (must $must, may $may), new chunk data $new_b"
echo "change 1: growth by area: data/ $((da1 - da0)), index+snapshots $((ot1 - ot0))"
[ $((da1 - da0 + ot1 - ot0)) = "$grown" ] || fail "the areas do not add up"
[ $((ot1 - ot0)) -le 16384 ] || fail "index and snapshot grew by $((ot1 - ot0)) bytes (> 16 KiB)"
[ "$grown" -ge "$changed" ] || fail "the backup stored $grown bytes, less than the $changed changed: data is missing"
[ "$grown" -le "$limit" ] ||
    fail "the 1% change grew the cloud repository by $grown bytes > $limit (changed $changed)"
[ "$read_b" -ge "$must" ] || fail "the backup read $read_b bytes, less than the changed files ($must)"
[ "$read_b" -le "$may" ] || fail "the backup read $read_b bytes: unchanged files were read (at most $may)"
az names "$CONT" "$PFX" >"$T/names1"
diff <(grep '/containers/' "$T/names0") <(grep '/containers/' "$T/names1") >/dev/null ||
    fail "the backup changed the seed containers"
[ "$(grep -c "^$PFX/data/" "$T/names1")" -gt "$(grep -c "^$PFX/data/" "$T/names0")" ] ||
    fail "no loose pack was uploaded"
grep -q "^$PFX/locks/" "$T/names1" && fail "a lock was left in the cloud"

# --- 5. restore latest from the cloud ------------------------------------------------------
step "restore 1"
restore_check 1 "of backup 1 from the cloud"

# --- 6. a second incremental ---------------------------------------------------------------
step "change 2, backup"
c2=$(python3 "$LIFE" change2 "$T/src") || fail "change2 failed"
changed2=$(kv changed "$c2") must2=$(kv must_read "$c2") may2=$(kv may_read "$c2")
expect_exit 0 ofs --json backup --repo "$R" "$T/src"
read -r n2 b2 <<<"$(az usage "$CONT" "$PFX")"
read -r da2 ot2 <<<"$(area)"
read2=$(js 'd["bytes_read"]')
grown2=$((b2 - b1))
echo "change 2: changed $changed2 bytes, storage growth $grown2 bytes in $((n2 - n1)) blobs," \
    "ratio $(awk -v g=$grown2 -v c=$changed2 'BEGIN {printf "%.3f", g / c}') (limit $((changed2 * 105 / 100 + META_ALLOW2)) = 1.05 x changed + $META_ALLOW2)," \
    "backup read $read2 bytes (must $must2, may $may2); data/ $((da2 - da1)), index+snapshots $((ot2 - ot1))"
[ $((ot2 - ot1)) -le 16384 ] || fail "index and snapshot grew by $((ot2 - ot1)) bytes (> 16 KiB)"
[ "$grown2" -ge "$changed2" ] && [ "$grown2" -le $((changed2 * 105 / 100 + META_ALLOW2)) ] ||
    fail "the second backup grew the cloud repository by $grown2 bytes for $changed2 changed"
[ "$read2" -ge "$must2" ] && [ "$read2" -le "$may2" ] ||
    fail "the second backup read $read2 bytes (expected $must2..$may2)"
step "restore 2"
restore_check 2 "of backup 2 from the cloud"

# --- 7. forget --keep-last 2 --prune ---------------------------------------------------------
step "forget, prune"
expect_exit 0 ofs --json snapshots --repo "$R"
[ "$(js 'd["count"]')" = 3 ] || fail "expected 3 snapshots: $(cat "$T/out")"
expect_exit 0 ofs --json forget --repo "$R" --keep-last 2 --prune
echo "forget/prune: $(tail -n 1 "$T/out")"
[ "$(js 'd["removed"]')" = "['$snap0']" ] || fail "forget should remove only the stage snapshot $snap0"
[ "$(js 'len(d["kept"])')" = 2 ] || fail "forget should keep 2 snapshots"
[ "$(js 'd["prune"]["containers_deleted"]')" = 0 ] || fail "prune deleted a container the newer snapshots use"
[ "$(js 'd["prune"]["containers_kept"]')" = "$nvhd" ] || fail "prune should keep all $nvhd containers"
# bin/r3.bin (random, deleted by change 1) is held only by the stage snapshot's chunks in a
# container; with the old chunks of the edited files it is now reclaimable
deleted=$(kv deleted_bin "$c1")
reclaim=$(js 'd["prune"]["container_bytes_reclaimable"]')
[ "$reclaim" -ge "$deleted" ] && [ "$reclaim" -lt "$vhd_bytes" ] ||
    fail "reclaimable container bytes $reclaim: not the data only the forgotten snapshot used (>= $deleted)"
expect_exit 0 ofs --json snapshots --repo "$R"
[ "$(js 'd["count"]')" = 2 ] || fail "expected 2 snapshots after forget: $(cat "$T/out")"
[ "$(js "'$snap0' in [s['id'] for s in d['snapshots']]")" = False ] ||
    fail "the forgotten snapshot $snap0 is still listed"
az names "$CONT" "$PFX" >"$T/names3"
diff <(grep '/containers/' "$T/names0") <(grep '/containers/' "$T/names3") >/dev/null ||
    fail "prune touched the seed containers"
grep -q "^$PFX/snapshots/$snap0" "$T/names3" && fail "the snapshot blob of $snap0 is still in the cloud"
grep -q "^$PFX/locks/" "$T/names3" && fail "a lock was left in the cloud"

# --- 8. check --read-data, and the latest still restores -------------------------------------
step "check --read-data"
expect_exit 0 ofs check --repo "$R" --read-data
step "restore 3"
restore_check 3 "after prune"
step "done"
echo ok
