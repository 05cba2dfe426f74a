#!/bin/bash
# make demo: the operator workflow end to end on generated sample data, with the embedded
# defaults: init → stage → verify → verify --deep → prep two disks → verify the disks →
# import job through offseed-dc (file storage) → backup of a change into the imported
# repository → snapshots → ls → restore from the imported repository → compare → the return
# trip: an export job brings the latest snapshot back on a disk, verified and restored.
# Usage: tools/demo.sh [BUILD_DIR]   env: DEMO_DIR (default /tmp/offseed-demo)
# Exits non-zero at the first step that fails, naming it.
set -uo pipefail
BUILD=${1:-build}
OFFSEED=$(cd "$BUILD" 2>/dev/null && pwd)/offseed
OFFSEED_DC=$(cd "$BUILD" 2>/dev/null && pwd)/offseed-dc
DEMO=${DEMO_DIR:-/tmp/offseed-demo}
[ -x "$OFFSEED" ] || { echo "demo: no offseed binary at $BUILD/offseed (run make)" >&2; exit 1; }
[ -x "$OFFSEED_DC" ] || { echo "demo: no offseed-dc binary at $BUILD/offseed-dc (run make)" >&2; exit 1; }
DC_PID=""
trap '[ -n "$DC_PID" ] && kill "$DC_PID" 2>/dev/null' EXIT

# Start from scratch, but only ever delete a folder this script made.
if [ -e "$DEMO" ]; then
	[ -f "$DEMO/.offseed-demo" ] || { echo "demo: $DEMO exists and is not a demo folder; set DEMO_DIR" >&2; exit 1; }
	rm -rf "$DEMO"
fi
mkdir -p "$DEMO" && touch "$DEMO/.offseed-demo" || exit 1
SRC=$DEMO/src REPO=$DEMO/repo PASSFILE=$DEMO/passphrase OUT=$DEMO/restored
export OFFSEED_STATE=$DEMO/state
unset OFFSEED_REPO OFFSEED_PASSPHRASE OFFSEED_PASSPHRASE_FILE
start=$(date +%s)
n=0
total=16

header() { n=$((n + 1)); printf '\n\033[1m==> [%d/%d] %s\033[0m\n' "$n" "$total" "$*"; }
die() { printf '\ndemo: FAILED at step %d: %s\n' "$n" "$*" >&2; echo "demo: files kept in $DEMO" >&2; exit 1; }
run() {	# show and run one command; any non-zero exit ends the demo
	printf '$ %s\n' "$*"
	"$@"
	local rc=$?
	[ $rc = 0 ] || die "'$*' exited with $rc"
}

# Deterministic pseudo-random bytes (AES-CTR keystream of a seed); urandom without openssl.
random_bytes() {	# SIZE SEED
	if command -v openssl >/dev/null 2>&1; then
		openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$2")" -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null |
		    head -c "$1"
	else
		head -c "$1" /dev/urandom
	fi
	return 0
}

header "generate sample data in $SRC (~50 MB: text, binaries, duplicates, a symlink, an empty dir)"
mkdir -p "$SRC/docs/reports" "$SRC/media" "$SRC/backup-copies" "$SRC/empty" "$SRC/tools" || die "mkdir"
for i in $(seq 1 200); do
	{ echo "report $i"; seq "$i" 7 $((i * 200)); } >"$SRC/docs/reports/report-$i.txt"
done
seq 1 200000 | sed 's/$/ the quick brown fox jumps over the lazy dog/' >"$SRC/docs/log.txt"
printf 'offseed demo\nsee the docs folder\n' >"$SRC/docs/README"
printf 'notes with a space and an accent: café\n' >"$SRC/docs/notes — draft 1.txt"
for i in 1 2 3; do random_bytes $((6 * 1024 * 1024 + i * 4097)) "$i" >"$SRC/media/clip-$i.bin"; done
random_bytes $((3 * 1024 * 1024)) 9 >"$SRC/media/photo.raw"
for i in $(seq 1 300); do random_bytes $((i * 37 + 1)) $((100 + i)) >"$SRC/media/thumb-$i.jpg"; done
: >"$SRC/docs/empty-file"
# Duplicates: whole files and a file that shares a large prefix (dedup shows in stage stats).
cp "$SRC/media/clip-1.bin" "$SRC/backup-copies/clip-1.bin"
cp "$SRC/media/clip-2.bin" "$SRC/backup-copies/clip-2 (copy).bin"
{ cat "$SRC/media/clip-3.bin"; echo "appended tail"; } >"$SRC/backup-copies/clip-3-edited.bin"
printf '#!/bin/sh\necho hello from the demo\n' >"$SRC/tools/hello.sh"
chmod 755 "$SRC/tools/hello.sh"
chmod 600 "$SRC/media/photo.raw"
chmod 750 "$SRC/docs/reports"
ln -s ../docs/README "$SRC/tools/readme-link"
# Whole-second times so the comparison below does not depend on sub-second precision.
find "$SRC" -depth ! -type l -exec touch -d '2024-05-01 12:00:00' {} +
touch -d '2023-01-02 03:04:05' "$SRC/docs/log.txt" "$SRC/empty"
echo "$(find "$SRC" | wc -l) entries, $(du -sh --apparent-size "$SRC" | cut -f1) in $SRC"

header "offseed init: create the staging repository and a generated passphrase"
run "$OFFSEED" --no-progress init --repo "$REPO" --dest azure://offseeddemo/backups/srv01 \
    --generate-passphrase "$PASSFILE"
[ -s "$PASSFILE" ] || die "no passphrase written to $PASSFILE"
[ "$(stat -c %a "$PASSFILE")" = 600 ] || die "$PASSFILE is not mode 0600"
echo "passphrase file: $PASSFILE (mode 0600)"

header "offseed stage: first full backup into sealed VHD containers"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" stage --repo "$REPO" \
    --container-size 16M "$SRC"
ls -l "$REPO/containers" || die "no containers/ in $REPO"
ls "$REPO"/containers/*.vhd >/dev/null 2>&1 || die "stage wrote no .vhd container"
[ -s "$REPO/offseed-manifest.json" ] || die "stage wrote no offseed-manifest.json"
if command -v qemu-img >/dev/null 2>&1; then
	c=$(ls "$REPO"/containers/*.vhd | head -n1)
	run qemu-img info -f vpc "$c"
fi

header "offseed verify: keyless check against the manifest (no passphrase)"
run env -u OFFSEED_PASSPHRASE -u OFFSEED_PASSPHRASE_FILE "$OFFSEED" --no-progress verify "$REPO"

header "offseed verify --deep: decrypt and authenticate every blob, walk every snapshot"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" verify --deep --repo "$REPO" "$REPO"

header "offseed prep: place the containers on two disks, manifests and the job draft"
mkdir -p "$DEMO/disk1" "$DEMO/disk2"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" prep --repo "$REPO" \
    --disk "$DEMO/disk1" --disk "$DEMO/disk2" --job demo-seed \
    --serial "$DEMO/disk1=DEMO-DISK-1" --serial "$DEMO/disk2=DEMO-DISK-2"
[ -s "$REPO/jobs/demo-seed.json" ] || die "prep wrote no job draft"
find "$DEMO/disk1" "$DEMO/disk2" -maxdepth 5 -type d | sed "s|$DEMO/||" | head -n 12

header "offseed verify DISK1 DISK2: the disk set, keyless, one reader per disk"
run env -u OFFSEED_PASSPHRASE -u OFFSEED_PASSPHRASE_FILE "$OFFSEED" --no-progress verify \
    "$DEMO/disk1" "$DEMO/disk2"

header "import: offseed-dc (datacenter service, file storage) and the job, to Completed"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '$ %s &\n' "offseed-dc serve --listen 127.0.0.1:$PORT --state $DEMO/dc-state --storage file:$DEMO/storage"
"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$DEMO/dc-state" \
    --storage "file:$DEMO/storage" >"$DEMO/dc.log" 2>&1 &
DC_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	sleep 0.1
done
# The customer "demo" owns the storage account the repository's destination names
# (azure://offseeddemo/…), so the job draft and the credentials agree.
run "$OFFSEED_DC" credentials --state "$DEMO/dc-state" --out "$DEMO/credentials.json" \
    --endpoint "http://127.0.0.1:$PORT" --customer demo --account offseeddemo
export OFFSEED_CREDENTIALS=$DEMO/credentials.json
cat >"$DEMO/contact.json" <<'JSON'
{"contactName":"Demo Operator","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-DEMO"}
JSON
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" import create --job demo-seed \
    --repo "$REPO" --contact "$DEMO/contact.json"
run "$OFFSEED" --no-progress import ship --job demo-seed --carrier DHL --tracking 1Z-DEMO
run "$OFFSEED_DC" receive --url "http://127.0.0.1:$PORT" --state "$DEMO/dc-state" \
    --customer demo --job demo-seed \
    "DEMO-DISK-1=$DEMO/disk1" "DEMO-DISK-2=$DEMO/disk2"
run "$OFFSEED" --no-progress import status --job demo-seed --wait --interval 0.5 --timeout 300
CLOUD=$DEMO/storage/offseeddemo/backups/srv01	# the account's folder of the file: storage
[ -f "$CLOUD/config" ] || die "the imported storage holds no repository at $CLOUD"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" check --read-data --repo "$CLOUD"

header "offseed backup: a few files change; only the change goes to the imported repository"
echo "a line added after the seed" >>"$SRC/docs/README"
head -c 3000000 /dev/urandom >"$SRC/media/new-after-seed.bin"
before=$(du -sb --apparent-size "$CLOUD" | cut -f1)
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" backup --repo "file:$CLOUD" "$SRC"
after=$(du -sb --apparent-size "$CLOUD" | cut -f1)
echo "changed: about 3.0 MB of new data; the imported repository grew by $(( after - before )) bytes"
[ $(( after - before )) -lt 4000000 ] || die "the backup stored more than the change"
REPO_SEED=$REPO
REPO=$CLOUD

header "offseed snapshots: list recovery points"
run "$OFFSEED" --passphrase-file "$PASSFILE" snapshots --repo "$REPO"

header "offseed ls latest: the snapshot's tree"
printf '$ %s | head -n 25\n' "$OFFSEED --passphrase-file $PASSFILE ls latest --repo $REPO"
"$OFFSEED" --passphrase-file "$PASSFILE" ls latest --repo "$REPO" >"$DEMO/ls.txt"
rc=$?
head -n 25 "$DEMO/ls.txt"
[ $rc = 0 ] || die "ls latest exited with $rc"
grep -q 'readme-link' "$DEMO/ls.txt" || die "ls latest does not show tools/readme-link"

header "offseed restore latest: the whole snapshot into $OUT"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" restore latest --repo "$REPO" --target "$OUT"

header "compare the restored tree with the source (content, then metadata)"
# The restored copy of SRC is at OUT/src, OUT/<SRC without leading />, or OUT itself.
R=""
for cand in "$OUT/src" "$OUT/${SRC#/}" "$OUT"; do
	if [ -d "$cand/media" ] && [ -d "$cand/docs" ]; then R=$cand; break; fi
done
[ -n "$R" ] || { find "$OUT" -maxdepth 4 | head -n 20; die "cannot find the restored tree under $OUT"; }
echo "restored tree: $R"
run diff -r --no-dereference "$SRC" "$R"
# Per entry: path, type, mode, owner, then size and mtime (files), mtime (dirs), target
# (symlinks). Directory sizes depend on the file system's history, so they are left out.
meta() {
	(cd "$1" && find . -mindepth 1 \
	    \( -type f -printf '%P %y %m %u:%g %s %T+\n' \) -o \
	    \( -type d -printf '%P %y %m %u:%g %T+\n' \) -o \
	    \( -type l -printf '%P %y %u:%g -> %l\n' \) -o -printf '%P %y %m %u:%g\n' |
	    LC_ALL=C sort)
}
meta "$SRC" >"$DEMO/meta-src.txt"
meta "$R" >"$DEMO/meta-restored.txt"
if ! diff -u "$DEMO/meta-src.txt" "$DEMO/meta-restored.txt"; then
	die "metadata differs (see the diff above: path type mode owner size mtime)"
fi
echo "identical: $(wc -l <"$DEMO/meta-src.txt") entries, content and metadata"

header "offline restore: an export job writes the latest snapshot onto a disk"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" export create --job demo-return \
    --repo "$REPO" --contact "$DEMO/contact.json" latest
mkdir -p "$DEMO/return1"
run "$OFFSEED_DC" export --url "http://127.0.0.1:$PORT" --state "$DEMO/dc-state" \
    --customer demo --job demo-return "DEMO-RET-1=$DEMO/return1"
run "$OFFSEED" --no-progress export status --job demo-return --wait --interval 0.5 --timeout 300

header "the returned disk: keyless verify, then restore from it and compare"
run env -u OFFSEED_PASSPHRASE -u OFFSEED_PASSPHRASE_FILE "$OFFSEED" --no-progress verify "$DEMO/return1"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" restore latest \
    --repo "disks:$DEMO/return1" --target "$DEMO/returned"
R2=""
for cand in "$DEMO/returned/src" "$DEMO/returned/${SRC#/}" "$DEMO/returned"; do
	if [ -d "$cand/media" ] && [ -d "$cand/docs" ]; then R2=$cand; break; fi
done
[ -n "$R2" ] || die "cannot find the restored tree under $DEMO/returned"
run diff -r --no-dereference "$SRC" "$R2"
meta "$R2" >"$DEMO/meta-returned.txt"
diff -u "$DEMO/meta-src.txt" "$DEMO/meta-returned.txt" || die "metadata of the returned copy differs"
echo "identical: the snapshot came back on disk, content and metadata"

header "summary"
echo "source      $SRC ($(du -sh --apparent-size "$SRC" | cut -f1))"
echo "staging     $REPO_SEED ($(du -sh --apparent-size "$REPO_SEED" | cut -f1), $(ls "$REPO_SEED"/containers/*.vhd | wc -l) container(s))"
echo "disks       $DEMO/disk1 $DEMO/disk2"
echo "imported    $REPO ($(du -sh --apparent-size "$REPO" | cut -f1)), restored from here"
echo "passphrase  $PASSFILE"
echo "restored    $R"
echo "returned    $DEMO/return1 (export job demo-return), restored to $R2"
echo "demo OK in $(( $(date +%s) - start ))s — next: make test"
