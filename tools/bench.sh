#!/bin/bash
# make bench: offseed beside restic and borg in one run, on the same data and machine, and
# the ratios of SPEC §13 (stage, verify, verify --deep, backup, restore, peak memory), plus
# the targets of issues 3 and 5 (verify of a 3-disk set, the first backup after a seed with
# 1% changed, restore from Azurite, peak RSS of backup with a 1M-chunk index) and of §17
# (time and peak RSS at 200k and 1M small files).
# Usage: tools/bench.sh [BUILD_DIR]
#   BENCH_DIR   work folder (default /tmp/offseed-bench); generated data is kept for reuse
#   BENCH_QUICK=1  small sizes (256 MiB file, ~5k files / 80 MB, scale 20k/100k files) for
#                  a smoke test
#   BENCH_KEEP=1   keep the repositories afterwards
#   BENCH_ONLY=LIST  run only these sections (comma-separated; default all), e.g.
#                  BENCH_ONLY=disks,cloud make bench. Sections and their rows:
#       big    stage, verify, verify --deep, restore of the 4 GiB file (offseed, restic, borg)
#       tree   the same for the ~50k-file tree, plus backup with nothing changed
#       disks  keyless verify of a 3-disk set (the file staged with --disk) vs xxhsum -H2
#       incr   first backup after a seed with 1% changed: storage growth, vs restic
#       cloud  restore of that repository from Azurite (runs the offseed part of incr too)
#       rss    peak RSS of backup with a synthetic 1M-chunk index, and without it
#       scale  stage, backup with nothing changed, restore, verify --deep at 200k and 1M
#              files of 0-2 KiB (offseed, restic): time, peak RSS, RSS growth 200k -> 1M
#                  (with BENCH_ONLY the table goes to BUILD_DIR/bench-results-only.txt)
# Exit 0 when every tool ran (missed goals are reported, not fatal); 1 when a tool failed
# or a restore came back different; 2 when a required tool is missing.
set -uo pipefail
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "bench: no build folder '${1:-build}'" >&2; exit 2; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
OFFSEED=$BUILD/offseed
B=${BENCH_DIR:-/tmp/offseed-bench}
QUICK=${BENCH_QUICK:-0}
RESULTS=$BUILD/bench-results.txt
[ -n "${BENCH_ONLY:-}" ] && RESULTS=$BUILD/bench-results-only.txt	# keep the full run's table
if [ "$QUICK" = 1 ]; then
	BIG_MIB=256 TREE_FILES=5000 TREE_BYTES=80000000 SCALE_SIZES="20000 100000"
else
	BIG_MIB=4096 TREE_FILES=50000 TREE_BYTES=800000000 SCALE_SIZES="200000 1000000"
fi

say() { printf 'bench: %s\n' "$*" >&2; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1)}'; }	# KEY <"k v k v"
SECTIONS="big tree disks incr cloud rss scale"
BENCH_ONLY=${BENCH_ONLY:-}
for sec in ${BENCH_ONLY//,/ }; do
	[[ " $SECTIONS " == *" $sec "* ]] || { say "BENCH_ONLY: unknown section '$sec' (of: ${SECTIONS// /,})"; exit 2; }
done
want() { [ -z "$BENCH_ONLY" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }	# SECTION
# The 4 GiB file and the ~50k-file tree: every section but scale reads them.
need_base() { want big || want tree || want disks || want incr || want cloud || want rss; }
[ -x "$OFFSEED" ] || { say "no offseed binary at $OFFSEED (run make)"; exit 2; }
for t in restic borg xxhsum python3; do
	command -v "$t" >/dev/null 2>&1 || { say "'$t' is missing (run make deps)"; exit 2; }
done
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
	say "GNU time missing, installing it for peak-RSS figures"
	"$TOP/tools/deps.sh" time >&2 || true
	[ -x "$TIME" ] || { say "no /usr/bin/time: peak memory not measured"; TIME=""; }
fi

# Only ever delete a folder this script made.
if [ -e "$B" ] && [ ! -f "$B/.offseed-bench" ]; then
	say "$B exists and is not a bench folder; set BENCH_DIR"; exit 2
fi
mkdir -p "$B/data" && touch "$B/.offseed-bench" || exit 2
# One run at a time per folder (a second one would unmount the first one's RAM disk).
exec 9>"$B/.lock"
flock -n 9 || { say "another bench run is using $B; set BENCH_DIR"; exit 2; }
R=$B/run L=$B/logs
# Unmount the run folder and anything mounted below it (the disk-set row's disks), deepest
# first; also what a killed run left behind.
unmount_below() {	# DIR: DIR and the mounts below it, deepest first
	local m
	awk -v r="$1" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r |
	    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
}
unmount_run() { unmount_below "$R"; }
AZ_DIR=""	# set while this run's Azurite is up
cleanup() {
	[ -n "$AZ_DIR" ] && "$TOP/tools/azurite.sh" stop "$AZ_DIR" 2>/dev/null
	cd /
	unmount_run
}
trap cleanup EXIT
unmount_run
rm -rf "$R"
mkdir -p "$R" || exit 2
# Repositories and restore targets live on a RAM disk (tmpfs) when we can mount one, so the
# figures compare the tools' code and not this machine's disk (every tool is disk-bound
# otherwise: stage cannot go faster than the disk takes writes). BENCH_TMPFS=0 keeps them on
# the disk at $B. The source data stays on disk, read from the page cache.
BENCH_TMPFS=${BENCH_TMPFS:-1}
STORAGE="disk ($B)" RUN_TMPFS=0
if [ "$BENCH_TMPFS" = 1 ] && [ "$(id -u)" = 0 ]; then
	tmpfs_gib=$(awk '/MemTotal/ {g = int($2 / 1048576) - 5; print (g > 18 ? 18 : g)}' /proc/meminfo)
	if mount -t tmpfs -o size="${tmpfs_gib}g" offseed-bench "$R" 2>/dev/null; then
		STORAGE="tmpfs (${tmpfs_gib} GiB RAM disk at $R)" RUN_TMPFS=1
	else
		say "cannot mount a tmpfs at $R; repositories stay on disk"
	fi
fi
rm -rf "$L"; mkdir -p "$L" || exit 2

# ---------------------------------------------------------------------------------------
# Data: (a) one incompressible file, (b) a real tree (a copy of /usr/share, trimmed and
# topped up to the target count and size with deterministic generated files). Kept between
# runs when the parameters match. Only made when a section that reads them runs (all but scale).
params="v1 big=$BIG_MIB files=$TREE_FILES bytes=$TREE_BYTES"
BIG=$B/data/big.bin TREE=$B/data/tree
TREE_NFILES=0 TREE_NBYTES=0 TREE_NLINKS=0 BIG_NBYTES=0
if need_base && [ "$(cat "$B/data/.params" 2>/dev/null)" != "$params" ]; then
	rm -rf "$BIG" "$TREE" "$B/data/.params" "$B/data/.tree-stats"
	avail=$(df -Pk "$B" | awk 'NR == 2 {print $4}')
	need=$(( (BIG_MIB * 1024 + TREE_BYTES / 1024) * 5 ))
	[ "$avail" -ge "$need" ] || say "warning: $B has $((avail / 1024)) MiB free, the run needs about $((need / 1024)) MiB"
	say "generating ${BIG_MIB} MiB incompressible file"
	if command -v openssl >/dev/null 2>&1; then
		# AES-CTR keystream under a fixed key: incompressible, deterministic, fast.
		openssl enc -aes-128-ctr -nosalt -K 0123456789abcdef0123456789abcdef \
		    -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null |
		    head -c $((BIG_MIB * 1048576)) >"$BIG"
	else
		head -c $((BIG_MIB * 1048576)) /dev/urandom >"$BIG"
	fi
	[ "$(stat -c %s "$BIG")" = $((BIG_MIB * 1048576)) ] || { say "cannot write $BIG"; exit 2; }
	say "generating the tree (~$TREE_FILES files, ~$((TREE_BYTES / 1000000)) MB) from /usr/share"
	python3 - "$TREE" "$TREE_FILES" "$TREE_BYTES" >"$B/data/.tree-stats" <<'EOF' || { say "tree generation failed"; exit 2; }
import os, random, shutil, stat, sys
dst, want_files, want_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = "/usr/share"
rng = random.Random(20261122)
files = nbytes = links = 0
cap_files, cap_bytes = int(want_files * 0.9), int(want_bytes * 0.8)
full = False
os.makedirs(dst)
# Phase 1: real files in sorted walk order until 90% of the files or 80% of the bytes.
for root, dirs, names in os.walk(src):
    dirs.sort()
    names.sort()
    rel = os.path.relpath(root, src)
    outdir = os.path.normpath(os.path.join(dst, "usr-share", rel))
    os.makedirs(outdir, exist_ok=True)
    for d in [d for d in dirs if os.path.islink(os.path.join(root, d))]:
        dirs.remove(d)
        names.append(d)
    for name in names:
        p, q = os.path.join(root, name), os.path.join(outdir, name)
        try:
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(p), q)
                links += 1
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > (16 << 20):
                continue
            if files >= cap_files or nbytes + st.st_size > cap_bytes:
                full = True
                break
            shutil.copy2(p, q)
        except OSError:
            continue
        files += 1
        nbytes += st.st_size
    if full:
        break
# Phase 2: generated files for the rest, sizes log-uniform (1 KiB..4 MiB) scaled to fill
# the bytes; half incompressible, half text-like (4 bits of entropy per byte).
n = max(want_files - files, 16)
left = max(want_bytes - nbytes, n)
w = [2 ** rng.uniform(10, 22) for _ in range(n)]
scale = left / sum(w)
sizes = [max(1, int(x * scale)) for x in w]
alphabet = bytes(range(256)).translate(bytes((b" etaoinsrhdlucm\n")[i % 16] for i in range(256)))
for i, size in enumerate(sizes):
    d = os.path.join(dst, "generated", "d%03d" % (i // 200))
    os.makedirs(d, exist_ok=True)
    data = rng.randbytes(size)
    name = "file-%05d.%s" % (i, "bin" if i % 2 else "txt")
    if i % 2 == 0:
        data = data.translate(alphabet)
    q = os.path.join(d, name)
    with open(q, "wb") as f:
        f.write(data)
    os.utime(q, (1700000000 + i, 1700000000 + i))
    files += 1
    nbytes += size
print(files, nbytes, links)
EOF
	echo "$params" >"$B/data/.params"
fi
if need_base; then
	read -r TREE_NFILES TREE_NBYTES TREE_NLINKS <"$B/data/.tree-stats"
	BIG_NBYTES=$(stat -c %s "$BIG")
fi

# (c) For scale: per size N a tree of N files of 0-2 KiB (tools/bench/gen-scale.py), in
# $B/data/scale-N, kept while its parameters match; the trees of other sizes are removed.
declare -A SC_FILES SC_NONEMPTY SC_BYTES	# per size, from the generator
SCALE_SEED=20261117
if want scale; then
	for d in "$B"/data/scale-*; do
		[ -e "$d" ] || continue
		n=${d##*/scale-}; n=${n%%.*}
		[[ " $SCALE_SIZES " == *" $n "* ]] || { say "removing $d (not a size of this run)"; rm -rf "$d"; }
	done
	for n in $SCALE_SIZES; do
		d=$B/data/scale-$n sp="v1 files=$n seed=$SCALE_SEED size=0-2048 per-dir=1000"
		if [ "$(cat "$d.params" 2>/dev/null)" != "$sp" ] || [ ! -d "$d" ]; then
			rm -rf "$d" "$d.params" "$d.stats"
			avail=$(df -Pk "$B" | awk 'NR == 2 {print $4}')
			need=$((n * 6))	# KiB: a block and an inode per file, with room
			[ "$avail" -ge "$need" ] || say "warning: $B has $((avail / 1024)) MiB free, $n files need about $((need / 1024)) MiB"
			say "generating the scale tree of $n files (0-2 KiB each) at $d"
			python3 "$TOP/tools/bench/gen-scale.py" "$d" "$n" "$SCALE_SEED" >"$d.stats" ||
			    { say "scale tree generation failed"; rm -rf "$d" "$d.tmp" "$d.stats"; exit 2; }
			echo "$sp" >"$d.params"
		fi
		SC_FILES[$n]=$(field files <"$d.stats") SC_NONEMPTY[$n]=$(field nonempty <"$d.stats")
		SC_BYTES[$n]=$(field bytes <"$d.stats")
		[ -n "${SC_BYTES[$n]}" ] || { say "bad $d.stats; remove $d.params to regenerate"; exit 2; }
	done
fi

# ---------------------------------------------------------------------------------------
# Tools and their environments: fresh repositories per tool and dataset, isolated caches.
PASSFILE=$B/run/passphrase
(umask 077; echo "offseed-bench-passphrase-$$-0123456789" >"$PASSFILE")
export RESTIC_PASSWORD
RESTIC_PASSWORD=$(cat "$PASSFILE")
export BORG_PASSPHRASE=$RESTIC_PASSWORD RESTIC_CACHE_DIR=$R/restic-cache BORG_BASE_DIR=$R/borg-home
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_DISPLAY_PASSPHRASE=no
export OFFSEED_STATE=$R/state
unset OFFSEED_REPO OFFSEED_PASSPHRASE OFFSEED_PASSPHRASE_FILE OFFSEED_TEST_KDF_FAST
OFS=("$OFFSEED" --no-progress -q --passphrase-file "$PASSFILE")	# an array: /usr/bin/time runs it

declare -A T RSS ST	# seconds, peak RSS KiB, status ("ok", "FAILED (exit N)", reason)
declare -A REPO_BYTES	# bytes of the staging repo, per dataset
tool_failed=0

# Read a file set once so every tool starts with it in the page cache.
warm() { find "$@" -type f -print0 | xargs -0 -r cat >/dev/null; }

# ram_ready BYTES: on the RAM disk, write and delete that much just before a timed run that
# writes about as much. This VM hands freed guest memory back to the host, so the first
# write to a page costs a host fault (a 4 GiB tmpfs write ran at 0.45-2.3 GB/s, varying
# run to run): without this the tool that happens to run on fresh pages pays for the
# hypervisor. Every tool gets the same treatment before its writing runs.
ram_ready() {
	[ "$RUN_TMPFS" = 1 ] || return 0
	dd if=/dev/zero of="$R/.prefault" bs=1M count=$(( $1 / 1048576 + 64 )) status=none 2>/dev/null
	rm -f "$R/.prefault"
}

# measure KEY OKCODES CMD…: flush earlier writes, run CMD timed (wall clock including a
# final sync, so buffered writes count) with its peak RSS; logs in $L/KEY.{out,err}.
measure() {
	local key=$1 okcodes=$2 t0 t1 rc
	shift 2
	sync
	t0=$EPOCHREALTIME
	if [ -n "$TIME" ]; then
		"$TIME" -f %M -o "$L/$key.rss" "$@" >"$L/$key.out" 2>"$L/$key.err"
	else
		"$@" >"$L/$key.out" 2>"$L/$key.err"
	fi
	rc=$?
	sync
	t1=$EPOCHREALTIME
	T[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
	[ -n "$TIME" ] && RSS[$key]=$(tail -n1 "$L/$key.rss" 2>/dev/null)
	if [[ " $okcodes " == *" $rc "* ]]; then
		ST[$key]=ok
		say "$(printf '%-26s %8.2f s' "$key" "${T[$key]}")$([ "$rc" = 0 ] || echo " (exit $rc: warnings)")"
		return 0
	fi
	ST[$key]="FAILED (exit $rc)"
	tool_failed=1
	say "$key FAILED (exit $rc): $*"
	tail -n 5 "$L/$key.err" | sed 's/^/    | /' >&2
	return 1
}

# measure_best N KEY OKCODES CMD…: the fastest of N runs of a read-only command (the
# sub-second keyless verify rows, for offseed and xxhsum alike: one run of them moves by
# ±20% on this VM; the deep checks of all three tools, which moved by 20-35% between
# whole runs); its RSS is that run's. With BEST_PREP set, that function runs (untimed,
# given KEY) before each run.
BEST_PREP=""
measure_best() {
	local n=$1 key=$2 best="" rss="" i
	shift 2
	for i in $(seq "$n"); do
		if [ -n "$BEST_PREP" ]; then "$BEST_PREP" "$key" || return 1; fi
		measure "$key" "$@" || return 1
		if [ -z "$best" ] || awk -v a="${T[$key]}" -v b="$best" 'BEGIN {exit !(a < b)}'; then
			best=${T[$key]} rss=${RSS[$key]:-}
		fi
	done
	T[$key]=$best
	[ -n "$rss" ] && RSS[$key]=$rss
	say "$(printf '%-26s %8.2f s (best of %d)' "$key" "$best" "$n")"
	return 0
}

# measure_fresh N KEY OKCODES BYTES SRC REPO INIT… -- CMD…: the fastest of N first backups
# of SRC, each into a fresh REPO (removed, then INIT untimed; SRC read and BYTES of RAM disk
# readied before each run). One first backup moved by 15-30% between whole runs on this VM
# (4 GiB stage: 5.2-6.8 s, restic and borg alike), as the host's page faults come and go.
# Its RSS is that run's; the last run's repository stays for the steps that follow.
FRESH_INIT=() FRESH_BYTES="" FRESH_SRC="" FRESH_REPO=""
fresh_prep() {	# KEY
	rm -rf "$FRESH_REPO"
	setup "$1" "${FRESH_INIT[@]}" || return 1
	warm "$FRESH_SRC"
	ram_ready "$FRESH_BYTES"
}
measure_fresh() {
	local n=$1 key=$2 ok=$3 rc
	FRESH_BYTES=$4 FRESH_SRC=$5 FRESH_REPO=$6 FRESH_INIT=()
	shift 6
	while [ $# -gt 0 ] && [ "$1" != -- ]; do FRESH_INIT+=("$1"); shift; done
	shift
	BEST_PREP=fresh_prep
	measure_best "$n" "$key" "$ok" "$@"
	rc=$?
	BEST_PREP=""
	return $rc
}

# setup KEY CMD…: an untimed step (init); failure marks KEY and everything after it.
setup() {
	local key=$1
	shift
	if "$@" >"$L/$key.out" 2>"$L/$key.err"; then return 0; fi
	ST[$key]="FAILED (setup)"
	tool_failed=1
	say "$key setup FAILED: $*"
	tail -n 5 "$L/$key.err" | sed 's/^/    | /' >&2
	return 1
}
skip() { ST[$1]=$2; }	# KEY REASON

# Where a restore put the copy of SRC: TARGET/SRC-without-slash, TARGET/basename, TARGET.
restored_copy() {	# TARGET SRC
	local c
	for c in "$1/${2#/}" "$1/$(basename "$2")" "$1"; do
		if [ -f "$2" ] && [ -f "$c" ]; then echo "$c"; return 0; fi
		if [ -d "$2" ] && [ -d "$c/$(ls "$2" | head -n1)" ]; then echo "$c"; return 0; fi
	done
	find "$1" -maxdepth 3 -name "$(basename "$2")" -print -quit
}

have_backup=0
"$OFFSEED" backup --help >/dev/null 2>&1 && have_backup=1

# ---------------------------------------------------------------------------------------
# One tool at a time, start to finish (first backup, unchanged backup, verify, deep check,
# restore), then its repository is deleted: at most one repository and one restored copy
# exist at once, so they fit on the RAM disk.
bench_dataset() {	# NAME SRC BYTES
	local ds=$1 src=$2 bytes=$3 o=$R/ofs-$1 r=$R/restic-$1 g=$R/borg-$1 out copy files
	say "=== dataset $ds: $src ($((bytes / 1000000)) MB)"

	# offseed: stage, backup with nothing changed, verify (and xxhsum over the same files),
	# verify --deep, restore.
	measure_fresh 3 "ofs_stage_$ds" "0 3" "$bytes" "$src" "$o" "${OFS[@]}" init --repo "$o" -- \
	    "${OFS[@]}" stage --repo "$o" "$src"
	for k in ofs_verify ofs_deep ofs_restore xxhsum; do
		[ "${ST[ofs_stage_$ds]}" = ok ] || skip "${k}_$ds" "n/a (no stage)"
	done
	if [ "${ST[ofs_stage_$ds]}" = ok ]; then
		if [ "$ds" = tree ]; then
			if [ $have_backup = 0 ]; then
				skip ofs_backup0_tree "not implemented"
			else
				warm "$src"
				measure ofs_backup0_tree "0 3" "${OFS[@]}" backup --repo "$o" "$src"
			fi
		fi
		# The files the manifest lists (else every file but manifests, locks/, jobs/, hidden).
		mapfile -t files < <(python3 -c '
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "offseed-manifest.json")))
for f in m["files"]:
    print(os.path.join(sys.argv[1], f["path"]))' "$o" 2>/dev/null ||
		    find "$o" -type f ! -name '.*' ! -name 'offseed-*.json' ! -path "$o/locks/*" \
		    ! -path "$o/jobs/*" | LC_ALL=C sort)
		REPO_BYTES[$ds]=$(stat -c %s "${files[@]}" | awk '{s += $1} END {print s + 0}')
		warm "$o"
		measure_best 5 "ofs_verify_$ds" 0 "$OFFSEED" --no-progress -q verify "$o"
		warm "$o"
		measure_best 5 "xxhsum_$ds" 0 xxhsum -H2 "${files[@]}"
		warm "$o"
		measure_best 3 "ofs_deep_$ds" 0 "${OFS[@]}" verify --deep --repo "$o" "$o"
		out=$R/out-ofs-$ds
		warm "$o"
		ram_ready "$bytes"
		if measure "ofs_restore_$ds" 0 "${OFS[@]}" restore latest --repo "$o" --target "$out"; then
			copy=$(restored_copy "$out" "$src")
			if [ -f "$src" ]; then cmp -s "$src" "$copy"
			else diff -r --no-dereference -q "$src" "$copy" >"$L/ofs_restore_$ds.diff" 2>&1; fi ||
			    { ST[ofs_restore_$ds]="WRONG DATA"; tool_failed=1; say "offseed restore of $ds differs from the source (copy: ${copy:-none})"; }
		fi
		rm -rf "$out"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$o"

	# restic: backup, unchanged backup, check --read-data, restore.
	measure_fresh 3 "restic_backup_$ds" "0 3" "$bytes" "$src" "$r" restic -r "$r" init -- \
	    restic -r "$r" backup -q "$src"
	for k in restic_check restic_restore restic_backup0; do
		[ "${ST[restic_backup_$ds]}" = ok ] || skip "${k}_$ds" "n/a (no backup)"
	done
	if [ "${ST[restic_backup_$ds]}" = ok ]; then
		if [ "$ds" = tree ]; then
			warm "$src"
			measure restic_backup0_tree "0 3" restic -r "$r" backup -q "$src"
		fi
		warm "$r"
		measure_best 3 "restic_check_$ds" 0 restic -r "$r" check -q --read-data
		out=$R/out-restic-$ds
		warm "$r"
		ram_ready "$bytes"
		measure "restic_restore_$ds" 0 restic -r "$r" restore -q latest --target "$out"
		rm -rf "$out"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$r"

	# borg: create, unchanged create, check --verify-data, extract.
	measure_fresh 3 "borg_create_$ds" "0 1" "$bytes" "$src" "$g" \
	    borg init --encryption=repokey-blake2 "$g" -- borg create "$g::bench" "$src"
	for k in borg_check borg_extract borg_create0; do
		[ "${ST[borg_create_$ds]}" = ok ] || skip "${k}_$ds" "n/a (no backup)"
	done
	if [ "${ST[borg_create_$ds]}" = ok ]; then
		if [ "$ds" = tree ]; then
			warm "$src"
			measure borg_create0_tree "0 1" borg create "$g::bench2" "$src"
		fi
		warm "$g"
		measure_best 3 "borg_check_$ds" 0 borg check --verify-data "$g"
		out=$R/out-borg-$ds
		mkdir -p "$out"
		warm "$g"
		ram_ready "$bytes"
		measure "borg_extract_$ds" 0 env -C "$out" borg extract "$g::bench"
		rm -rf "$out"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$g"
}

# ---------------------------------------------------------------------------------------
# The rows of issues 3 and 5.
bytes_under() { find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# tools/bench/benchtool (synthetic index, pack statistics), linked against libofs.a.
BENCHTOOL=$BUILD/bench/benchtool
build_benchtool() {
	local src=$TOP/tools/bench/benchtool.c libs
	[ -x "$BENCHTOOL" ] && [ "$BENCHTOOL" -nt "$src" ] && [ "$BENCHTOOL" -nt "$BUILD/libofs.a" ] && return 0
	libs=$(pkg-config --libs libarchive openssl libcurl libxxhash libzstd jansson 2>/dev/null ||
	    echo -larchive -lssl -lcrypto -lcurl -lxxhash -lzstd -ljansson)
	mkdir -p "$BUILD/bench" &&
	    cc -std=gnu11 -O2 -pthread -D_GNU_SOURCE -I"$TOP/lib" -Wall -Wextra -Werror -o "$BENCHTOOL" \
	    "$src" "$BUILD/libofs.a" $libs -lm >"$L/benchtool-build.log" 2>&1 && return 0
	say "cannot build $BENCHTOOL:"
	tail -n 5 "$L/benchtool-build.log" | sed 's/^/    | /' >&2
	return 1
}

# Issue 3: keyless verify of a 3-disk set. The file is staged with --disk onto three disks
# that each hold about 34% of it (tmpfs mounts under the run folder, so all three are
# needed); without a RAM disk, three folders share one filesystem and stage + prep place it.
DISK_BYTES="" DISK_SPLIT="" DISK_MODE=""
bench_disks() {
	local o=$R/ofs-disks dd=$R/disks d i per ok=0 disks=() args=() files=()
	say "=== 3-disk set: $BIG staged onto 3 disks"
	per=$((BIG_NBYTES / 1024 * 34 / 100 + 16 * 1024))	# KiB per disk
	for i in 1 2 3; do
		d=$dd/d$i
		mkdir -p "$d" || return 1
		disks+=("$d")
		args+=(--disk "$d" --serial "$d=BENCH-DISK-$i")
	done
	DISK_MODE=folders
	if [ $RUN_TMPFS = 1 ]; then
		DISK_MODE=tmpfs
		for d in "${disks[@]}"; do
			mount -t tmpfs -o size=${per}k offseed-bench-disk "$d" 2>/dev/null || DISK_MODE=folders
		done
		[ $DISK_MODE = tmpfs ] || { say "cannot mount the disks; using folders"; unmount_below "$dd"; }
	fi
	if setup ofs_disks_stage "${OFS[@]}" init --repo "$o" --dest azure://devstoreaccount1/seed-bench/disks; then
		warm "$BIG"
		if [ $DISK_MODE = tmpfs ]; then
			measure ofs_disks_stage "0 3" "${OFS[@]}" stage --repo "$o" "${args[@]}" --job bench-disks \
			    "$BIG" && ok=1
		elif measure ofs_disks_stage "0 3" "${OFS[@]}" stage --repo "$o" \
		    --container-size "$((BIG_NBYTES / 6 / 1048576 + 1))M" "$BIG" &&
		    measure ofs_disks_prep 0 "${OFS[@]}" prep --repo "$o" "${args[@]}" --job bench-disks; then
			ok=1
		else
			ST[ofs_disks_stage]="FAILED (stage or prep)"
		fi
	fi
	if [ $ok = 1 ]; then
		rm -rf "$o"	# the set stands alone
		# Every file the disk manifests list, disk by disk.
		mapfile -t files < <(python3 -c '
import json, os, sys
for d in sys.argv[1:]:
    for f in json.load(open(os.path.join(d, "offseed-manifest.json")))["files"]:
        print(os.path.join(d, f["path"]))' "${disks[@]}")
		DISK_BYTES=$(stat -c %s "${files[@]}" | awk '{s += $1} END {printf "%.0f", s}')
		DISK_SPLIT=$(for d in "${disks[@]}"; do printf '%s\n' "${files[@]}" | grep -F "$d/" |
		    tr '\n' '\0' | xargs -0 -r stat -c %s | awk '{s += $1} END {printf "%.0f\n", s / 1e6}'; done |
		    paste -sd/)
		warm "${disks[@]}"
		measure_best 5 ofs_verify_disks 0 "$OFFSEED" --no-progress -q verify "${disks[@]}"
		warm "${disks[@]}"
		measure_best 5 xxhsum_disks 0 xxhsum -H2 "${files[@]}"
	else
		skip ofs_verify_disks "n/a (no disk set)"
		skip xxhsum_disks "n/a (no disk set)"
	fi
	rm -rf "$o"
	unmount_below "$dd"
	rm -rf "$dd"
}

# Issue 5: the first backup after a seed with 1% changed. A copy of the tree is staged (and
# backed up by restic), changed by tools/bench/change-tree.py, then backed up again by both;
# growth = the repository's file sizes after minus before. offseed's growth is split into
# data (growth of data/ less the tree blobs in it, from the index) and metadata (the rest).
INC_SRC=$R/inc-src INC_REPO=$R/ofs-incr
declare -A INC
bench_incr() {	# WITH_RESTIC (0/1)
	local src=$INC_SRC o=$INC_REPO r=$R/restic-incr s0 s1 d0 d1 t0 t1
	say "=== backup after seed, 1% changed (a copy of the tree at $src)"
	rm -rf "$src"
	if ! cp -a "$TREE" "$src"; then
		ST[ofs_incr]="FAILED (copy)" ST[restic_incr]="FAILED (copy)" tool_failed=1
		return 1
	fi
	if [ $have_backup = 0 ]; then
		skip ofs_incr "not implemented"
	elif setup ofs_incr_stage "${OFS[@]}" init --repo "$o"; then
		warm "$src"
		measure ofs_incr_stage "0 3" "${OFS[@]}" stage --repo "$o" "$src"
	fi
	[ "${ST[ofs_incr_stage]:-}" = ok ] || skip ofs_incr "${ST[ofs_incr]:-n/a (no stage)}"
	if [ "$1" = 1 ] && setup restic_incr_base restic -r "$r" init; then
		warm "$src"
		measure restic_incr_base "0 3" restic -r "$r" backup -q "$src"
	fi
	[ "$1" = 1 ] && [ "${ST[restic_incr_base]:-}" != ok ] && skip restic_incr "n/a (no first backup)"
	if ! python3 "$TOP/tools/bench/change-tree.py" "$src" "$TREE_NBYTES" >"$L/incr-change.txt" 2>&1; then
		say "changing the tree failed:"
		tail -n 5 "$L/incr-change.txt" | sed 's/^/    | /' >&2
		ST[ofs_incr]="FAILED (change)" ST[restic_incr]="FAILED (change)" tool_failed=1
		return 1
	fi
	for k in changed edited appended new deleted_files deleted_bytes renamed_files renamed_bytes; do
		INC[$k]=$(field "$k" <"$L/incr-change.txt")
	done
	INC[src_bytes]=$(bytes_under "$src")
	if [ "${ST[ofs_incr_stage]:-}" = ok ]; then
		if ! build_benchtool; then
			ST[ofs_incr]="FAILED (benchtool build)" tool_failed=1
		elif ! "$BENCHTOOL" pack-stats "$o" "$PASSFILE" >"$L/ofs_incr.stats0" 2>&1; then
			ST[ofs_incr]="FAILED (pack-stats)" tool_failed=1
		else
			t0=$(field tree_bytes <"$L/ofs_incr.stats0")
			s0=$(bytes_under "$o") d0=$(bytes_under "$o/data")
			warm "$src"
			if measure ofs_incr "0 3" "${OFS[@]}" --json backup --repo "$o" "$src"; then
				s1=$(bytes_under "$o") d1=$(bytes_under "$o/data")
				# the chunks the repository lacked (raw bytes), from the run's summary
				INC[ofs_new]=$(python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["bytes_new"])' "$L/ofs_incr.out" 2>/dev/null)
				if "$BENCHTOOL" pack-stats "$o" "$PASSFILE" >"$L/ofs_incr.stats1" 2>&1; then
					t1=$(field tree_bytes <"$L/ofs_incr.stats1")
					INC[ofs_total]=$((s1 - s0)) INC[ofs_trees]=$((t1 - t0))
					INC[ofs_data]=$((d1 - d0 - (t1 - t0)))
					INC[ofs_meta]=$((INC[ofs_total] - INC[ofs_data]))
				else
					ST[ofs_incr]="FAILED (pack-stats)" tool_failed=1
				fi
			fi
		fi
	fi
	if [ "$1" = 1 ] && [ "${ST[restic_incr_base]:-}" = ok ]; then
		s0=$(bytes_under "$r")
		warm "$src"
		measure restic_incr "0 3" restic -r "$r" backup -q "$src" &&
		    INC[restic_total]=$(($(bytes_under "$r") - s0))
	fi
	rm -rf "$r"
}

# Issue 5: restore from Azurite. The repository of the incremental (seed containers and the
# backup's packs) is uploaded the way an import leaves it (tools/bench/az-put-repo.py), then
# restored with 'offseed restore latest --repo azure://…'.
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
bench_cloud() {
	local out=$R/out-cloud port copy loc=azure://devstoreaccount1/bench/srv01
	say "=== restore from Azurite"
	if [ "${ST[ofs_incr]:-}" != ok ]; then
		skip ofs_cloud_restore "n/a (no repository: ${ST[ofs_incr]:-incr not run})"
		return
	fi
	if ! command -v node >/dev/null 2>&1 ||
	    [ ! -f "$TOP/tools/azurite/node_modules/azurite/dist/src/blob/main.js" ]; then
		skip ofs_cloud_restore "n/a (no Azurite: make deps)"
		return
	fi
	AZ_DIR=$R/azurite
	if ! port=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$AZ_DIR" 2>"$L/azurite-start.err" 9>&-); then
		ST[ofs_cloud_restore]="FAILED (Azurite did not start)" tool_failed=1
		say "Azurite did not start (see $L/azurite-start.err)"
		AZ_DIR=""
		return
	fi
	export OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:$port/devstoreaccount1 OFFSEED_AZURE_KEY=$AZ_KEY
	if setup ofs_cloud_restore python3 "$TOP/tools/bench/az-put-repo.py" "$INC_REPO" bench srv01; then
		warm "$AZ_DIR"
		if measure ofs_cloud_restore 0 "${OFS[@]}" restore latest --repo "$loc" --target "$out"; then
			copy=$(restored_copy "$out" "$INC_SRC")
			diff -r --no-dereference -q "$INC_SRC" "$copy" >"$L/ofs_cloud_restore.diff" 2>&1 ||
			    { ST[ofs_cloud_restore]="WRONG DATA"; tool_failed=1; say "restore from Azurite differs from the source (copy: ${copy:-none})"; }
		fi
	fi
	rm -rf "$out"
	"$TOP/tools/azurite.sh" stop "$AZ_DIR"
	AZ_DIR=""
	unset OFFSEED_AZURE_ENDPOINT OFFSEED_AZURE_KEY
	rm -rf "$R/azurite"
}

# Issue 5: peak RSS of backup with a repository of 1M chunks: a synthetic index (random ids
# in fake packs, written as real encrypted index files by benchtool) under a small backup,
# and the same backup into a fresh repository without it.
RSS_CHUNKS=1000000
RSS_SRC=("$TREE/generated/d000" "$TREE/generated/d001")
# index_rss PREFIX SRC…: backups of SRC into a repository with the synthetic index
# (PREFIX_index) and into a fresh one (PREFIX_none); the repositories are removed.
index_rss() {
	local p=$1 o1=$R/ofs-$1-index o0=$R/ofs-$1-none
	shift
	if [ $have_backup = 0 ]; then
		skip "${p}_index" "not implemented"; skip "${p}_none" "not implemented"
		return
	fi
	if ! build_benchtool; then
		ST[${p}_index]="FAILED (benchtool build)" tool_failed=1
	elif setup "${p}_index" "${OFS[@]}" init --repo "$o1" &&
	    setup "${p}_synth" "$BENCHTOOL" synth-index "$o1" "$PASSFILE" "$RSS_CHUNKS"; then
		cp -a "$o1" "$o1-spill"
		warm "$@"
		# the index all in memory (the per-chunk figure FORMAT.md promises), then under
		# the default --index-memory budget (spilled to the state dir past it)
		measure "${p}_index" "0 3" "${OFS[@]}" --index-memory 0 backup --repo "$o1" "$@"
		warm "$@"
		measure "${p}_spill" "0 3" "${OFS[@]}" backup --repo "$o1-spill" "$@"
	else
		ST[${p}_index]=${ST[${p}_synth]:-${ST[${p}_index]}}
	fi
	if setup "${p}_none" "${OFS[@]}" init --repo "$o0"; then
		warm "$@"
		measure "${p}_none" "0 3" "${OFS[@]}" backup --repo "$o0" "$@"
	fi
	rm -rf "$o1" "$o1-spill" "$o0"
}
bench_rss() {
	say "=== peak RSS of backup with a $RSS_CHUNKS-chunk index"
	index_rss ofs_rss "${RSS_SRC[@]}"
}

# SPEC §17: at each size of SCALE_SIZES, offseed's stage into a fresh repository, backup
# with nothing changed (file:REPO, after the stage), verify --deep and restore, then
# restic's backup into a fresh repository, the same backup again, check --read-data and
# restore; one run each (a run at 1M files takes minutes). Keys ofs_sc_CMD_N and
# restic_sc_CMD_N, CMD one of stage backup0 deep restore. Without the rss section, the
# per-chunk index memory is measured here the same way, on 2 folders of the smallest tree.
SC_RSS=ofs_rss	# the keys of the per-chunk figure
bench_scale_size() {	# N
	local n=$1 src=$B/data/scale-$1 o=$R/ofs-scale r=$R/restic-scale out=$R/out-scale copy
	local bytes=${SC_BYTES[$1]} c
	local pages=$((n * 4096 + ${SC_BYTES[$1]}))	# a restore's RAM disk: a page per file and more
	say "=== scale: $n files ($((bytes / 1000000)) MB) at $src"
	rm -rf "$o" "$r" "$out"
	if setup "ofs_sc_stage_$n" "${OFS[@]}" init --repo "$o"; then
		warm "$src"
		ram_ready "$pages"
		measure "ofs_sc_stage_$n" "0 3" "${OFS[@]}" stage --repo "$o" "$src"
	fi
	if [ "${ST[ofs_sc_stage_$n]}" != ok ]; then
		for c in backup0 deep restore; do skip "ofs_sc_${c}_$n" "n/a (no stage)"; done
	else
		warm "$src"
		if [ $have_backup = 0 ]; then
			skip "ofs_sc_backup0_$n" "not implemented"
		else
			measure "ofs_sc_backup0_$n" "0 3" "${OFS[@]}" backup --repo "file:$o" "$src"
		fi
		warm "$o"
		measure "ofs_sc_deep_$n" 0 "${OFS[@]}" verify --deep --repo "$o" "$o"
		warm "$o"
		ram_ready "$pages"
		if measure "ofs_sc_restore_$n" 0 "${OFS[@]}" restore latest --repo "$o" --target "$out"; then
			copy=$(restored_copy "$out" "$src")
			diff -r --no-dereference -q "$src" "$copy" >"$L/ofs_sc_restore_$n.diff" 2>&1 ||
			    { ST[ofs_sc_restore_$n]="WRONG DATA"; tool_failed=1; say "offseed restore of $n files differs from the source (copy: ${copy:-none})"; }
		fi
		rm -rf "$out"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$o"
	rm -rf "$OFFSEED_STATE"	# the next size starts without this one's catalog

	if setup "restic_sc_stage_$n" restic -r "$r" init; then
		warm "$src"
		ram_ready "$pages"
		measure "restic_sc_stage_$n" "0 3" restic -r "$r" backup -q "$src"
	fi
	if [ "${ST[restic_sc_stage_$n]}" != ok ]; then
		for c in backup0 deep restore; do skip "restic_sc_${c}_$n" "n/a (no backup)"; done
	else
		warm "$src"
		measure "restic_sc_backup0_$n" "0 3" restic -r "$r" backup -q "$src"
		warm "$r"
		measure "restic_sc_deep_$n" 0 restic -r "$r" check -q --read-data
		warm "$r"
		ram_ready "$pages"
		measure "restic_sc_restore_$n" 0 restic -r "$r" restore -q latest --target "$out"
		rm -rf "$out"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$r"
	rm -rf "$RESTIC_CACHE_DIR"
}
bench_scale() {
	local n leaf=()
	for n in $SCALE_SIZES; do bench_scale_size "$n"; done
	if ! want rss; then
		SC_RSS=ofs_sc_rss
		n=${SCALE_SIZES%% *}
		leaf=("$B/data/scale-$n/a00/b0000")
		[ -d "$B/data/scale-$n/a00/b0001" ] && leaf+=("$B/data/scale-$n/a00/b0001")
		say "=== scale: peak RSS of backup with a $RSS_CHUNKS-chunk index"
		index_rss ofs_sc_rss "${leaf[@]}"
	fi
}

start=$EPOCHREALTIME
want big && bench_dataset big "$BIG" "$BIG_NBYTES"
want tree && bench_dataset tree "$TREE" "$TREE_NBYTES"
want disks && bench_disks
if want incr || want cloud; then
	bench_incr "$(want incr && echo 1 || echo 0)"
	want cloud && bench_cloud
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$INC_REPO"
	rm -rf "$INC_SRC"
fi
want rss && bench_rss
want scale && bench_scale
total=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}')

# ---------------------------------------------------------------------------------------
# Table.
rows=() met=0 goals=0
cell_tp() {	# KEY BYTES [PREFIX]: "1234.5 MB/s (3.40 s)", or the status
	local k=$1
	[ -n "${ST[$k]:-}" ] || { echo "-"; return; }
	[ "${ST[$k]}" = ok ] || { echo "${ST[$k]}"; return; }
	awk -v b="$2" -v t="${T[$k]}" -v p="${3:-}" 'BEGIN {printf "%s%.1f MB/s (%.2f s)", p, b / 1e6 / t, t}'
}
cell_t() { [ "${ST[$1]:-}" = ok ] && printf '%.2f s' "${T[$1]}" || echo "${ST[$1]:--}"; }
cell_rss() { [ "${ST[$1]:-}" = ok ] && [ -n "${RSS[$1]:-}" ] && awk -v k="${RSS[$1]}" 'BEGIN {printf "%.0f MiB", k / 1024}' || echo "-"; }
# judge A B OP GOAL LABEL: ratio = A/B, compared with GOAL; sets RATIO and RESULT.
judge() {
	if [ -z "$1" ] || [ -z "$2" ]; then RATIO="-" RESULT="n/a"; return; fi
	goals=$((goals + 1))
	RATIO=$(awk -v a="$1" -v b="$2" -v l="$5" 'BEGIN {printf "%.2fx %s", a / b, l}')
	if awk -v a="$1" -v b="$2" -v op="$3" -v g="$4" 'BEGIN {r = a / b; exit !(op == ">=" ? r >= g : r <= g)}'; then
		RESULT=PASS met=$((met + 1))
	else
		RESULT=FAIL
	fi
}
okt() { [ "${ST[$1]:-}" = ok ] && echo "${T[$1]}"; }	# time when the run succeeded
okr() { [ "${ST[$1]:-}" = ok ] && echo "${RSS[$1]:-}"; }
row() { local IFS='|'; rows+=("$*"); }

for ds in big tree; do
	want $ds || continue
	if [ $ds = big ]; then label="$BIG_MIB MiB file" bytes=$BIG_NBYTES
	else label="tree $TREE_NFILES files" bytes=$TREE_NBYTES; fi
	if [ $ds = big ]; then want_r=4 want_b=3; else want_r=2 want_b=2; fi
	judge "$(okt restic_backup_$ds)" "$(okt ofs_stage_$ds)" ">=" "$want_r" restic
	row "stage, $label" "$(cell_tp ofs_stage_$ds "$bytes")" "$(cell_tp restic_backup_$ds "$bytes")" \
	    "$(cell_tp borg_create_$ds "$bytes")" "$RATIO" ">= ${want_r}x restic" "$RESULT"
	judge "$(okt borg_create_$ds)" "$(okt ofs_stage_$ds)" ">=" "$want_b" borg
	row "" "" "" "" "$RATIO" ">= ${want_b}x borg" "$RESULT"
	judge "$(okr ofs_stage_$ds)" "$(okr restic_backup_$ds)" "<=" 0.5 restic
	row "peak RSS, stage $label" "$(cell_rss ofs_stage_$ds)" "$(cell_rss restic_backup_$ds)" \
	    "$(cell_rss borg_create_$ds)" "$RATIO" "<= 0.5x restic" "$RESULT"
	if [ $ds = tree ]; then
		judge "$(okt ofs_backup0_tree)" "$(okt restic_backup0_tree)" "<=" 0.5 restic
		row "backup, nothing changed, $TREE_NFILES files" "$(cell_t ofs_backup0_tree)" \
		    "$(cell_t restic_backup0_tree)" "$(cell_t borg_create0_tree)" "$RATIO" "<= 0.5x restic time" "$RESULT"
	fi
	rb=${REPO_BYTES[$ds]:-0}
	judge "$(okt xxhsum_$ds)" "$(okt ofs_verify_$ds)" ">=" 0.9 xxhsum
	row "verify (keyless), $label repo" "$(cell_tp ofs_verify_$ds "$rb")" "$(cell_tp xxhsum_$ds "$rb" "xxhsum -H2 ")" \
	    "" "$RATIO" ">= 0.9x xxhsum -H2" "$RESULT"
	judge "$(okt restic_check_$ds)" "$(okt ofs_deep_$ds)" ">=" 3 restic
	row "verify --deep / check --read-data, $label" "$(cell_tp ofs_deep_$ds "$bytes")" \
	    "$(cell_tp restic_check_$ds "$bytes")" "$(cell_tp borg_check_$ds "$bytes")" "$RATIO" ">= 3x restic" "$RESULT"
	judge "$(okt restic_restore_$ds)" "$(okt ofs_restore_$ds)" ">=" 2 restic
	row "restore, $label" "$(cell_tp ofs_restore_$ds "$bytes")" "$(cell_tp restic_restore_$ds "$bytes")" \
	    "$(cell_tp borg_extract_$ds "$bytes")" "$RATIO" ">= 2x restic" "$RESULT"
done
mb() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1e6}'; }
if want disks; then
	judge "$(okt xxhsum_disks)" "$(okt ofs_verify_disks)" ">=" 0.9 xxhsum
	row "verify (keyless), 3-disk set of the $BIG_MIB MiB file" "$(cell_tp ofs_verify_disks "$DISK_BYTES")" \
	    "$(cell_tp xxhsum_disks "$DISK_BYTES" "xxhsum -H2 ")" "" "$RATIO" ">= 0.9x xxhsum -H2" "$RESULT"
fi
if want incr; then
	if [ "${ST[ofs_incr]:-}" = ok ] && [ -n "${INC[ofs_data]:-}" ]; then
		c1="$(mb "${INC[ofs_data]}") MB data + $(mb "${INC[ofs_meta]}") MB meta ($(cell_t ofs_incr))"
		judge "${INC[ofs_data]}" "${INC[changed]}" "<=" 1.05 changed
	else
		c1=${ST[ofs_incr]:--} RATIO="-" RESULT="n/a"
	fi
	c2=${ST[restic_incr]:--}
	[ "$c2" = ok ] && c2="+$(mb "${INC[restic_total]}") MB total ($(cell_t restic_incr))"
	row "backup after seed, 1% changed ($(mb "${INC[changed]:-0}") MB): storage growth" "$c1" "$c2" "" \
	    "$RATIO" "<= 1.05x changed + meta" "$RESULT"
	if [ "${ST[ofs_incr]:-}" = ok ] && [ -n "${INC[ofs_total]:-}" ]; then
		r2="-"
		[ "${ST[restic_incr]:-}" = ok ] && [ "${INC[restic_total]:-0}" -gt 0 ] &&
		    r2=$(awk -v a="${INC[ofs_total]}" -v b="${INC[restic_total]}" 'BEGIN {printf "%.2fx restic", a / b}')
		row "" "+$(mb "${INC[ofs_total]}") MB total" "" "" "$r2" "report: growth vs restic" "-"
	fi
	# SPEC §10 states the goal against new data: the chunks the repository lacks. With
	# FastCDC chunks of 0.5-8 MiB (SPEC §5) an edit or an append makes the whole chunk around
	# it new, so this and the line above differ by the chunking, not by what is sent.
	if [ "${ST[ofs_incr]:-}" = ok ] && [ -n "${INC[ofs_new]:-}" ] && [ "${INC[ofs_new]}" -gt 0 ]; then
		judge "${INC[ofs_data]}" "${INC[ofs_new]}" "<=" 1.05 new
		row "  the same, against new chunk data ($(mb "${INC[ofs_new]}") MB)" \
		    "$(mb "${INC[ofs_data]}") MB data" "" "" "$RATIO" "<= 1.05x new data (§10)" "$RESULT"
	fi
fi
if want cloud; then
	row "restore from Azurite (azure://), tree after the change" \
	    "$(cell_tp ofs_cloud_restore "${INC[src_bytes]:-0}")" "" "" "-" "report" \
	    "$([ "${ST[ofs_cloud_restore]:-}" = ok ] && echo report || echo n/a)"
fi
if want rss; then
	r1=$(okr ofs_rss_index) r0=$(okr ofs_rss_none)
	if [ -n "$r1" ] && [ -n "$r0" ]; then
		c1=$(awk -v a="$r1" -v b="$r0" 'BEGIN {printf "%.0f MiB (%.0f MiB without it)", a / 1024, b / 1024}')
		r2=$(awk -v a="$r1" -v b="$r0" -v n="$RSS_CHUNKS" 'BEGIN {printf "+%.0f B/chunk", (a - b) * 1024 / n}')
		res=report
	else
		c1="${ST[ofs_rss_index]:--} / ${ST[ofs_rss_none]:--}" r2="-" res=n/a
		[ -z "$TIME" ] && c1="not measured (no /usr/bin/time)"
	fi
	row "peak RSS, backup with a $((RSS_CHUNKS / 1000000))M-chunk index" "$c1" "" "" "$r2" "bounded (report)" "$res"
fi
nlab() { awk -v n="$1" 'BEGIN {if (n % 1000000 == 0) printf "%dM", n / 1e6; else if (n % 1000 == 0) printf "%dk", n / 1000; else printf "%d", n}'; }
cell_tf() {	# KEY FILES: "12.34 s, 61.7 µs/file", or the status
	[ "${ST[$1]:-}" = ok ] || { echo "${ST[$1]:--}"; return; }
	awk -v t="${T[$1]}" -v n="$2" 'BEGIN {printf "%.2f s, %.1f µs/file", t, t * 1e6 / n}'
}
cell_grow() {	# KEY_LARGE KEY_SMALL: "1.04x (45 -> 47 MiB)"
	local a b
	a=$(okr "$1") b=$(okr "$2")
	[ -n "$a" ] && [ -n "$b" ] || { echo "-"; return; }
	awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2fx (%.0f -> %.0f MiB)", a / b, b / 1024, a / 1024}'
}
if want scale; then
	sc_small=${SCALE_SIZES%% *} sc_large=${SCALE_SIZES##* }
	for c in stage backup0 restore deep; do
		case $c in
		stage) what="stage / first backup" tg=0.333333333 gt="<= 0.33x restic time (>= 3x speed)" ;;
		backup0) what="backup, nothing changed" tg=0.3 gt="<= 0.3x restic time" ;;
		restore) what="restore" tg=0.5 gt="<= 0.5x restic time (>= 2x speed)" ;;
		deep) what="verify --deep / check --read-data" tg=0.5 gt="<= 0.5x restic time (>= 2x speed)" ;;
		esac
		for n in $SCALE_SIZES; do
			judge "$(okt ofs_sc_${c}_$n)" "$(okt restic_sc_${c}_$n)" "<=" "$tg" "restic time"
			row "scale: $what, $(nlab "$n") files" "$(cell_tf "ofs_sc_${c}_$n" "$n")" \
			    "$(cell_tf "restic_sc_${c}_$n" "$n")" "" "$RATIO" "$gt" "$RESULT"
			judge "$(okr ofs_sc_${c}_$n)" "$(okr restic_sc_${c}_$n)" "<=" 0.5 "restic RSS"
			row "  peak RSS" "$(cell_rss "ofs_sc_${c}_$n")" "$(cell_rss "restic_sc_${c}_$n")" "" \
			    "$RATIO" "<= 0.5x restic RSS" "$RESULT"
		done
		[ "$sc_small" = "$sc_large" ] && continue
		judge "$(okr ofs_sc_${c}_$sc_large)" "$(okr ofs_sc_${c}_$sc_small)" "<=" 1.3 "of $(nlab "$sc_small")"
		row "  peak RSS growth $(nlab "$sc_large") / $(nlab "$sc_small")" \
		    "$(cell_grow "ofs_sc_${c}_$sc_large" "ofs_sc_${c}_$sc_small")" \
		    "$(cell_grow "restic_sc_${c}_$sc_large" "restic_sc_${c}_$sc_small")" "" \
		    "$RATIO" "offseed <= 1.3x (§17)" "$RESULT"
	done
	r1=$(okr "${SC_RSS}_index") r0=$(okr "${SC_RSS}_none")
	if [ -n "$r1" ] && [ -n "$r0" ]; then
		c1=$(awk -v a="$r1" -v b="$r0" -v n="$RSS_CHUNKS" 'BEGIN {printf "+%.1f B/chunk (%.0f vs %.0f MiB)", (a - b) * 1024 / n, a / 1024, b / 1024}')
		res=report
	else
		c1="${ST[${SC_RSS}_index]:--} / ${ST[${SC_RSS}_none]:--}" res=n/a
		[ -z "$TIME" ] && c1="not measured (no /usr/bin/time)"
	fi
	row "scale: index memory per chunk ($((RSS_CHUNKS / 1000000))M synthetic chunks)" "$c1" "" "" "-" \
	    "report (§17: index <= 48 B/chunk)" "$res"
	r1=$(okr "${SC_RSS}_spill")
	if [ -n "$r1" ] && [ -n "$r0" ]; then
		c1=$(awk -v a="$r1" -v b="$r0" -v n="$RSS_CHUNKS" 'BEGIN {printf "+%.1f B/chunk (%.0f vs %.0f MiB)", (a - b) * 1024 / n, a / 1024, b / 1024}')
		res=report
	else
		c1="${ST[${SC_RSS}_spill]:--} / ${ST[${SC_RSS}_none]:--}" res=n/a
	fi
	row "  the same under the default --index-memory (8M)" "$c1" "" "" "-" \
	    "report (spilled past 8 MiB)" "$res"
fi

{
	echo "offseed benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' — QUICK (smoke-test sizes)')"
	echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(df -PT "$B" | awk 'NR == 2 {print $2}') at $B, kernel $(uname -r)"
	echo "repositories: $STORAGE"
	echo "tools: $("$OFFSEED" --version 2>/dev/null | head -n1), $(restic version | cut -d' ' -f1-2), $(borg --version), $(xxhsum --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
	need_base && echo "data: $BIG_MIB MiB incompressible file; tree of $TREE_NFILES files + $TREE_NLINKS symlinks, $((TREE_NBYTES / 1000000)) MB (copy of /usr/share topped up with generated files)"
	if want scale; then
		printf 'scale data:'
		for n in $SCALE_SIZES; do
			printf ' %s files (%s not empty), %s MB at %s;' "${SC_FILES[$n]}" "${SC_NONEMPTY[$n]}" \
			    "$((SC_BYTES[$n] / 1000000))" "$B/data/scale-$n"
		done
		echo
	fi
	echo
	# Widths in columns, not bytes (mawk's length counts bytes): UTF-8 continuation bytes
	# (of µ, §) take none.
	printf '%s\n' "what|offseed|restic|borg|ratio|goal|result" "${rows[@]}" | awk -F'|' '
	    function cols(s,  t) { t = s; gsub(/[\200-\277]/, "", t); return length(t) }
	    { n = NR; for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (cols($i) > w[i]) w[i] = cols($i) } nf = NF }
	    END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++) line = line c[r, i] sprintf("%*s", w[i] - cols(c[r, i]) + 2, "")
			sub(/ +$/, "", line); print line
			if (r == 1) { s = ""; for (i = 1; i <= nf; i++) { s = s sprintf("%*s", w[i], "") "  " } gsub(/ /, "-", s); print s }
		}
	    }'
	echo
	echo "$met of $goals goals met$([ $tool_failed = 1 ] && echo '; SOME RUNS FAILED (see above)'). Total time ${total}s."
	if need_base; then
		echo "Method: first backups (stage, restic backup, borg create): the best of 3 runs per tool,"
		echo "each on a fresh repository (one run moved by 15-30% between whole runs); keyless verify"
		echo "and xxhsum -H2: the best"
		echo "of 5 runs each, as they take under a second; verify --deep, restic check --read-data"
		echo "and borg check --verify-data: the best of 3, as one run moves by 20-35%); input (and, for verify/restore, the"
		echo "repository) read once untimed before each run so all tools start from the page cache;"
		echo "times are wall clock including a final sync; MB = 10^6 bytes of source data (verify:"
		echo "of the staging repo). restic defaults (repo v2, compression auto), borg repokey-blake2"
		echo "with its default lz4. Ratios: throughput offseed/peer; time and RSS offseed/peer."
	fi
	[ "$RUN_TMPFS" = 1 ] && echo "Before every stage/backup/create and restore/extract run, as much RAM disk as the run
writes is written and deleted untimed: this VM returns freed memory to its host, and a
first touch costs a host fault that would otherwise land on whichever tool runs first."
	if want disks && [ -n "$DISK_BYTES" ]; then
		if [ "$DISK_MODE" = tmpfs ]; then
			echo "3-disk set: the file staged with 'stage --disk' onto 3 tmpfs mounts of $((BIG_NBYTES / 1024 * 34 / 100 / 1024 + 16)) MiB"
		else
			echo "3-disk set: the file staged, then placed by 'prep' onto 3 folders on one filesystem"
		fi
		echo "(${DISK_SPLIT} MB on disks 1/2/3); verify reads the disks in parallel, xxhsum -H2"
		echo "hashes the same files (every file the disk manifests list) one after the other."
	fi
	if want incr && [ -n "${INC[changed]:-}" ]; then
		echo "1% changed: a copy of the tree staged (restic: backed up), then 6 edits in the middle of"
		echo "large files ($(mb "${INC[edited]}") MB), 4 appends ($(mb "${INC[appended]}") MB), 10 new files ($(mb "${INC[new]}") MB), all incompressible;"
		echo "${INC[deleted_files]} files deleted ($(mb "${INC[deleted_bytes]}") MB), a folder of ${INC[renamed_files]} files ($(mb "${INC[renamed_bytes]}") MB) renamed."
		echo "changed = bytes written by the edits, appends and new files. Growth = sum of the"
		echo "repository's file sizes after the backup minus before. offseed data = growth of data/"
		echo "less the tree blobs in it (from the index); meta = the rest (index, snapshot, trees$([ -n "${INC[ofs_trees]:-}" ] && echo " $(mb "${INC[ofs_trees]}") MB"))."
		echo "Ratio: data / changed. restic: the same incremental on its own repository."
	fi
	if want cloud && [ "${ST[ofs_cloud_restore]:-}" = ok ]; then
		echo "Azurite: that repository uploaded as an import leaves it (containers as page blobs, the"
		echo "rest as block blobs) into a local Azurite on the RAM disk; MB = source bytes restored."
	fi
	if want rss && [ -n "$(okr ofs_rss_index)" ]; then
		echo "1M-chunk index: $RSS_CHUNKS fake chunks (16 per fake pack, 16 index files, written by"
		echo "tools/bench/benchtool) in the repository; the backup is of $(bytes_under "${RSS_SRC[@]}" | xargs -I{} awk -v b={} 'BEGIN {printf "%.1f", b / 1e6}') MB (2 folders of the tree)"
		echo "into it (--index-memory 0: all in memory) and into a fresh repository; B/chunk = the"
		echo "difference / the chunk count."
	fi
	if want scale; then
		echo "scale: files of 0-2048 bytes (uniform) of seeded-PRNG bytes (incompressible), 1000 per"
		echo "folder, two levels deep (tools/bench/gen-scale.py); one run of each command per size"
		echo "(no best-of: a run at 1M files takes minutes), offseed then restic, each on a fresh"
		echo "repository, restic with its defaults (repo v2, compression auto); the source (and the"
		echo "repository) read once untimed before each run; times are wall clock including a final"
		echo "sync. Backup with nothing changed = offseed backup --repo file:REPO after the"
		echo "stage, restic's second backup. Time ratio = offseed time / restic time; RSS ratio ="
		echo "offseed peak RSS / restic's; growth = peak RSS at $(nlab "$sc_large") / at $(nlab "$sc_small") files. offseed's"
		echo "restore is compared with the source (diff -r). Index memory per chunk: peak RSS of a"
		if [ "$SC_RSS" = ofs_rss ]; then
			echo "backup with the synthetic index less without it, from the rss section above."
		else
			echo "backup of 2 folders of the $(nlab "$sc_small") tree into a repository holding $RSS_CHUNKS"
			echo "synthetic chunks (tools/bench/benchtool synth-index) less the same into a fresh one,"
			echo "with --index-memory 0 (all in memory), then with the default budget (spilled)."
		fi
	fi
	[ -z "$BENCH_ONLY" ] || echo "Sections run: $BENCH_ONLY (BENCH_ONLY)."
	[ $have_backup = 1 ] || echo "Note: 'offseed backup' is not implemented yet; its rows are skipped."
	echo "Logs: $L"
} | tee "$RESULTS"
echo "bench: results written to $RESULTS" >&2
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$R/restic-cache" "$R/borg-home" "$R/state"
exit $tool_failed
