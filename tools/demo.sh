#!/bin/bash
# make demo: the operator workflow end to end on generated sample data, with the embedded
# defaults: init → stage → verify → verify --deep → snapshots → ls → restore → compare.
# Usage: tools/demo.sh [BUILD_DIR]   env: DEMO_DIR (default /tmp/offseed-demo)
# Exits non-zero at the first step that fails, naming it.
set -uo pipefail
BUILD=${1:-build}
OFFSEED=$(cd "$BUILD" 2>/dev/null && pwd)/offseed
DEMO=${DEMO_DIR:-/tmp/offseed-demo}
[ -x "$OFFSEED" ] || { echo "demo: no offseed binary at $BUILD/offseed (run make)" >&2; exit 1; }

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
total=10

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
run "$OFFSEED" --no-progress init --repo "$REPO" --generate-passphrase "$PASSFILE"
[ -s "$PASSFILE" ] || die "no passphrase written to $PASSFILE"
[ "$(stat -c %a "$PASSFILE")" = 600 ] || die "$PASSFILE is not mode 0600"
echo "passphrase file: $PASSFILE (mode 0600)"

header "offseed stage: first full backup into sealed VHD containers"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" stage --repo "$REPO" "$SRC"
ls -l "$REPO/containers" || die "no containers/ in $REPO"
ls "$REPO"/containers/*.vhd >/dev/null 2>&1 || die "stage wrote no .vhd container"
[ -s "$REPO/offseed-manifest.json" ] || die "stage wrote no offseed-manifest.json"
if command -v qemu-img >/dev/null 2>&1; then
	c=$(ls "$REPO"/containers/*.vhd | head -n1)
	run qemu-img info -f vpc "$c"
fi

# Hook: prep (copy computer) — place containers on disks, write per-disk manifests and the
# job draft, e.g.:
#   offseed prep --repo "$REPO" --disk "$DEMO/disk1" --disk "$DEMO/disk2" --job demo-seed
#   then verify the disks instead of the staging folder: offseed verify "$DEMO/disk1" "$DEMO/disk2"

header "offseed verify: keyless check against the manifest (no passphrase)"
run env -u OFFSEED_PASSPHRASE -u OFFSEED_PASSPHRASE_FILE "$OFFSEED" --no-progress verify "$REPO"

header "offseed verify --deep: decrypt and authenticate every blob, walk every snapshot"
run "$OFFSEED" --no-progress --passphrase-file "$PASSFILE" verify --deep --repo "$REPO" "$REPO"

# Hook: import (datacenter) — start offseed-dc (the embedded default service) and run the job:
#   "$BUILD/offseed-dc" --listen 127.0.0.1:PORT --data "$DEMO/dc" &
#   offseed import create --job demo-seed; offseed import ship --job demo-seed --carrier X --tracking 1
#   offseed import status --job demo-seed --wait

header "offseed snapshots: list recovery points"
run "$OFFSEED" --passphrase-file "$PASSFILE" snapshots --repo "$REPO"

header "offseed ls latest: the snapshot's tree"
printf '$ %s | head -n 25\n' "$OFFSEED --passphrase-file $PASSFILE ls latest --repo $REPO"
"$OFFSEED" --passphrase-file "$PASSFILE" ls latest --repo "$REPO" >"$DEMO/ls.txt"
rc=$?
head -n 25 "$DEMO/ls.txt"
[ $rc = 0 ] || die "ls latest exited with $rc"
grep -q 'readme-link' "$DEMO/ls.txt" || die "ls latest does not show tools/readme-link"

# Hook: backup (online incrementals after the seed landed), e.g.:
#   echo changed >>"$SRC/docs/README"; offseed backup --repo "$REPO" "$SRC"; offseed snapshots

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

header "summary"
echo "source      $SRC ($(du -sh --apparent-size "$SRC" | cut -f1))"
echo "repository  $REPO ($(du -sh --apparent-size "$REPO" | cut -f1), $(ls "$REPO"/containers/*.vhd | wc -l) container(s))"
echo "passphrase  $PASSFILE"
echo "restored    $R"
echo "demo OK in $(( $(date +%s) - start ))s — next: make test"
