#!/bin/bash
# Crash trials (SPEC §18, not in CI): SIGKILL stage, stage --disk, backup and prep at random
# moments (some in their first ~300 ms, before the first checkpoint), run the same command
# again to completion, then check that keyless `verify`, `verify --deep` (and `check
# --read-data` for backup) are clean and that a restore equals the source.
#   tools/crashtest.sh BUILD_DIR        (make crashtest)
# Environment: CRASH_TRIALS (20 per command), CRASH_DISK_TRIALS (10, stage --disk),
# CRASH_COMMANDS (default "stage stage-disk backup prep"),
# CRASH_SEED (random seed, printed), CRASH_EARLY_PCT (40: share of kills in the first 300 ms),
# CRASH_DIR (parent of the work folder, /tmp). On a failure the work folder is kept: each
# failing trial's repository, disks, state and logs under WORK/fail-COMMAND-N/.
set -u
BUILD=${1:?usage: tools/crashtest.sh BUILD_DIR}
TRIALS=${CRASH_TRIALS:-20}
DISK_TRIALS=${CRASH_DISK_TRIALS:-10}
EARLY_PCT=${CRASH_EARLY_PCT:-40}
SEED=${CRASH_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
W=$(mktemp -d "${CRASH_DIR:-/tmp}/offseed-crash.XXXXXX")
mkdir -p "$W/bin"
# private copies: a rebuild of BUILD during the run does not change what we test
cp "$BUILD/offseed" "$W/bin/offseed" || exit 1
OFS=$W/bin/offseed
export OFFSEED_TEST_KDF_FAST=1	# fast scrypt for the key slots made here (FORMAT.md)
PASS=$W/pass
printf 'crash trials passphrase 0123456789\n' >"$PASS"
chmod 600 "$PASS"
DEST=azure://acct01/seed-box/srv01
R=$W/run	# the current trial: R/repo, R/state, R/d1, R/d2, R/logs
DISKS=(--disk "$R/d1" --serial "$R/d1=CRASH-SERIAL-1" --disk "$R/d2" --serial "$R/d2=CRASH-SERIAL-2")
CONT=(--container-size 16M --checkpoint-bytes 32M)
declare -A NTRIALS NKILLED NEARLY NFAIL TSECS LEFT
FAILED=0

log() { printf '%s\n' "$*" >&2; }
ofs() { OFFSEED_STATE=$R/state "$OFS" --passphrase-file "$PASS" --no-progress "$@"; }
now_ms() { date +%s%3N; }

# ---- source trees: random and compressible files, many small files, nested folders ----------
gen_tree() {	# DIR NRANDOM NTEXT NSMALL TAG
	local d=$1 i
	mkdir -p "$d/bin" "$d/text" "$d/small/a/b"
	for i in $(seq 1 "$2"); do head -c $(( (4 + RANDOM % 5) * 1048576 )) /dev/urandom >"$d/bin/r$i"; done
	for i in $(seq 1 "$3"); do
		yes "$5 text file $i: a line that compresses well, $RANDOM" | head -c $((8 * 1048576)) >"$d/text/t$i.log"
	done
	for i in $(seq 1 "$4"); do
		head -c $(( 1 + RANDOM % 40000 )) /dev/urandom >"$d/small/$( [ $((i % 3)) = 0 ] && echo a/b/ )s$i"
	done
}
log "crashtest: seed $SEED, work folder $W"
gen_tree "$W/src1" 28 8 400 one	# ~235 MiB: what stage seeds (and prep copies)
gen_tree "$W/src2" 16 4 250 two	# ~130 MiB: what the backups add
SRC_ALL=("$W/src1" "$W/src2")

# ---- templates every trial starts from --------------------------------------------------------
fresh() {	# TEMPLATE: R becomes a copy of it (plus empty disks)
	rm -rf "$R"
	mkdir -p "$R"
	cp -a "$W/tpl-$1/." "$R/"
	mkdir -p "$R/d1" "$R/d2" "$R/logs"
}
mk_template() {	# NAME: R is saved as a template
	rm -rf "$W/tpl-$1"
	cp -a "$R" "$W/tpl-$1"
}
rm -rf "$R"; mkdir -p "$R"
ofs init --repo "$R/repo" --dest "$DEST" >/dev/null 2>"$W/init.err" ||
    { cat "$W/init.err"; exit 1; }
mk_template init
ofs stage --repo "$R/repo" "${CONT[@]}" "$W/src1" >/dev/null 2>"$W/stage.err" ||
    { cat "$W/stage.err"; exit 1; }
mk_template staged

# ---- the commands under test --------------------------------------------------------------------
# Each: the template it starts from, the command line, its journal (its checkpoints), the
# source trees a restore must equal, and where the restore reads from.
cmd_line() {	# COMMAND → sets ARGS
	case $1 in
	stage) ARGS=(stage --repo "$R/repo" "${CONT[@]}" "${SRC_ALL[@]}") ;;
	stage-disk) ARGS=(stage --repo "$R/repo" "${CONT[@]}" "${DISKS[@]}" --job crash-job "$W/src1") ;;
	backup) ARGS=(backup --repo "$R/repo" --checkpoint-bytes 32M "${SRC_ALL[@]}") ;;
	prep) ARGS=(prep --repo "$R/repo" "${DISKS[@]}" --job crash-job --limit-rate 150M) ;;
	esac
}
template_of() { case $1 in stage | stage-disk) echo init ;; *) echo staged ;; esac; }
journal_of() { case $1 in stage | stage-disk) echo stage.journal ;; *) echo "$1.journal" ;; esac; }

# 1 when the killed run had made no checkpoint: no journal (prep: no record in it yet) and,
# for stage and backup, no snapshot saved (a finished run removes its journal too)
before_first_checkpoint() {	# COMMAND
	local j
	j=$(find "$R/state" -name "$(journal_of "$1")" 2>/dev/null | head -n 1)
	[ -z "$j" ] || [ ! -s "$j" ] || return 1
	[ "$1" = prep ] || [ "$(ls "$R/repo/snapshots" 2>/dev/null | grep -vc tmp-)" = \
	    "$(ls "$W/tpl-$(template_of "$1")/repo/snapshots" 2>/dev/null | grep -vc tmp-)" ]
}

# What must hold after the rerun; prints what is wrong, returns non-zero on a failure.
check_trial() {	# COMMAND
	local c=$1 bad=0 s left
	left=$(find "$R/repo" "$R/d1" "$R/d2" \( -name '*.partial' -o -name '*.tmp-*' -o \
	    -name '*.offseed-tmp' \) 2>/dev/null)
	[ -z "$left" ] && [ ! -e "$R/repo/locks/lock" ] ||
	    { log "  left behind: $left $(ls "$R/repo/locks" 2>/dev/null)"; bad=1; }
	case $c in
	stage | backup)
		run_check verify ofs verify "$R/repo" || bad=1
		run_check verify-deep ofs verify --deep --repo "$R/repo" "$R/repo" || bad=1
		[ "$c" = backup ] && { run_check check-read-data ofs check --read-data --repo "$R/repo" || bad=1; }
		run_check restore ofs restore latest --repo "$R/repo" --target "$R/restored" || bad=1
		for s in "${SRC_ALL[@]}"; do
			diff -r "$s" "$R/restored$s" >>"$R/logs/diff" 2>&1 ||
			    { log "  restore differs from $s (logs/diff)"; bad=1; }
		done ;;
	stage-disk | prep)
		run_check verify ofs verify "$R/d1" "$R/d2" || bad=1
		run_check verify-deep ofs verify --deep "$R/d1" "$R/d2" || bad=1
		run_check restore ofs restore latest --repo "disks:$R/d1,$R/d2" --target "$R/restored" ||
		    bad=1
		diff -r "$W/src1" "$R/restored$W/src1" >>"$R/logs/diff" 2>&1 ||
		    { log "  restore differs from $W/src1 (logs/diff)"; bad=1; } ;;
	esac
	return $bad
}
run_check() {	# NAME CMD… : exit 0 expected (verify: and "no problems")
	local name=$1 rc
	shift
	"$@" >"$R/logs/$name.out" 2>"$R/logs/$name.err"
	rc=$?
	if [ $rc != 0 ]; then
		log "  $name: exit $rc: $(tail -n 3 "$R/logs/$name.out" "$R/logs/$name.err" | tr '\n' ' ')"
		return 1
	fi
	case $name in verify*) grep -q 'no problems' "$R/logs/$name.out" ||
	    { log "  $name: $(tail -n 1 "$R/logs/$name.out")"; return 1; } ;; esac
	return 0
}

# Tally what the dead run left, by kind (for the second table).
count_left() {	# COMMAND
	local f k
	while read -r f; do
		case $f in
		*/containers/.*.partial) k="unfinished container (.partial)" ;;
		*/data/*.tmp-*) k="unfinished pack (data/…tmp-)" ;;
		*/index/*.tmp-* | */snapshots/*.tmp-*) k="unfinished index/snapshot (tmp-)" ;;
		*.offseed-tmp) k="unfinished disk copy (.offseed-tmp)" ;;
		*.tmp-*) k="other temp file (tmp-): ${f##*/}" ;;
		*.running) k="run mark (STATE/…journal.running)" ;;
		*/locks/lock) k="repository lock (locks/lock)" ;;
		*/state/*/lock) continue ;;	# flock file, released by the kernel
		*) k="other: ${f#"$R"/}" ;;
		esac
		k="$1|${k%-??????}"
		LEFT[$k]=$(( ${LEFT[$k]:-0} + 1 ))
	done <"$R/logs/left-by-kill"
}

# Uninterrupted runs: how long the command takes with warm caches (the second of two runs;
# kill moments are drawn up to it), and that it checks clean at all.
measure() {	# COMMAND → prints ms
	local t0 t1 k
	for k in 1 2; do
		fresh "$(template_of "$1")"
		cmd_line "$1"
		t0=$(now_ms)
		ofs "${ARGS[@]}" >"$R/logs/measure.out" 2>&1 ||
		    { log "crashtest: an uninterrupted $1 failed:"; cat "$R/logs/measure.out" >&2; exit 1; }
		t1=$(now_ms)
	done
	check_trial "$1" || { log "crashtest: an uninterrupted $1 does not check clean"; exit 1; }
	echo $((t1 - t0))
}

trial() {	# COMMAND N FULL_MS
	local c=$1 n=$2 full=$3 ms pid rc rc2 early=0 why="" f
	if [ $((RANDOM % 100)) -lt "$EARLY_PCT" ]; then
		# half of them very early: prep records its first (metadata) file within ~5-20 ms
		ms=60
		[ "$c" = prep ] && ms=25
		ms=$((RANDOM % 2 ? RANDOM % 300 : RANDOM % ms))
	else
		ms=$(( (RANDOM * 32768 + RANDOM) % (full + 1) ))
	fi
	fresh "$(template_of "$c")"
	cmd_line "$c"
	OFFSEED_STATE=$R/state "$OFS" --passphrase-file "$PASS" --no-progress "${ARGS[@]}" \
	    >"$R/logs/killed.out" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	NTRIALS[$c]=$(( ${NTRIALS[$c]:-0} + 1 ))
	if [ $rc = 137 ]; then
		NKILLED[$c]=$(( ${NKILLED[$c]:-0} + 1 ))
		if before_first_checkpoint "$c"; then
			early=1
			NEARLY[$c]=$(( ${NEARLY[$c]:-0} + 1 ))
		fi
		find "$R" -path "$R/logs" -prune -o \( -name '*.partial' -o -name '*.tmp-*' -o \
		    -name '*.offseed-tmp' -o -name '*.running' -o -name lock \) -print \
		    >"$R/logs/left-by-kill" 2>/dev/null
		count_left "$c"
		ofs "${ARGS[@]}" >"$R/logs/rerun.out" 2>"$R/logs/rerun.err"
		rc2=$?
		[ $rc2 = 0 ] || why="rerun exit $rc2: $(tail -n 2 "$R/logs/rerun.err" | tr '\n' ' ')"
	elif [ $rc != 0 ]; then
		why="the run (not killed: finished before ${ms} ms) exited $rc"
	fi
	printf 'crashtest: %-10s #%-2d kill at %5d ms: %s%s' "$c" "$n" "$ms" \
	    "$([ $rc = 137 ] && echo killed || echo "finished first")" \
	    "$([ $early = 1 ] && echo ", before the first checkpoint")" >&2
	if [ -z "$why" ]; then
		check_trial "$c" 2>"$R/logs/check.err" || why="$(tr '\n' ' ' <"$R/logs/check.err")"
	fi
	# the state dir is not checked by verify: a temp file left there is tallied, not failed
	find "$R/state" -name '*.tmp-*' 2>/dev/null | while read -r f; do
		echo "STILL AFTER THE RERUN, in the state dir: ${f##*/}"; done >"$R/logs/state-left"
	while read -r f; do
		f="$c|${f%-??????}"
		LEFT[$f]=$(( ${LEFT[$f]:-0} + 1 ))
	done <"$R/logs/state-left"
	if [ -n "$why" ]; then
		log " — FAIL"
		log "  $why"
		NFAIL[$c]=$(( ${NFAIL[$c]:-0} + 1 ))
		FAILED=1
		rm -rf "$R/restored"
		echo "$c trial $n: kill at $ms ms (seed $SEED): $why" >"$R/logs/FAILED"
		mv "$R" "$W/fail-$c-$n"
		log "  kept $W/fail-$c-$n"
	else
		log " — ok"
	fi
}

START=$(now_ms)
for c in ${CRASH_COMMANDS:-stage stage-disk backup prep}; do
	n=$TRIALS
	[ "$c" = stage-disk ] && n=$DISK_TRIALS
	[ "$n" -gt 0 ] || continue
	full=$(measure "$c")
	log "crashtest: $c takes $full ms uninterrupted; $n trials"
	TSECS[$c]=$(now_ms)
	for i in $(seq 1 "$n"); do trial "$c" "$i" "$full"; done
	TSECS[$c]=$(( ($(now_ms) - TSECS[$c]) / 1000 ))
done

printf '\n%-11s %7s %7s %22s %9s %8s\n' command trials killed "before 1st checkpoint" failures seconds
for c in stage stage-disk backup prep; do
	[ -n "${NTRIALS[$c]:-}" ] || continue
	printf '%-11s %7d %7d %22d %9d %8d\n' "$c" "${NTRIALS[$c]}" "${NKILLED[$c]:-0}" \
	    "${NEARLY[$c]:-0}" "${NFAIL[$c]:-0}" "${TSECS[$c]}"
done
printf '\nleft by the kills (trials that left it):\n'
for k in "${!LEFT[@]}"; do printf '  %-11s %s: %d\n' "${k%%|*}" "${k#*|}" "${LEFT[$k]}"; done | sort
printf 'seed %s, %d s in all\n' "$SEED" $(( ($(now_ms) - START) / 1000 ))
if [ $FAILED != 0 ]; then
	echo "crashtest: FAILED; the failing trials are in $W/fail-*"
	exit 1
fi
rm -rf "$W"
echo "crashtest: all trials clean"
