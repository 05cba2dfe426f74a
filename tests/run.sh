#!/bin/bash
# Run the whole suite against one build folder: cmocka unit tests, fuzz-corpus replays and
# the command-line tests. Prints per-test lines and the closing "N passed, N failed".
# TESTS=pattern limits the CLI scripts run (e.g. TESTS=stage).
set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
pass=0 fail=0
failed=()
log=$(mktemp -d /tmp/offseed-tests.XXXXXX)

record() {	# name rc
	if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "ok   $1"
	else fail=$((fail + 1)); failed+=("$1"); echo "FAIL $1 (exit $2, log: $log/$(echo "$1" | tr / _).log)"; fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=unit/$(basename "$t")
	out="$log/$(echo "$name" | tr / _).log"
	"$t" >"$out" 2>&1; rc=$?
	n_ok=$(grep -c '^\[       OK \]' "$out")
	n_bad=$(grep -c '^\[  FAILED  \] [a-z_]' "$out")
	pass=$((pass + n_ok)); fail=$((fail + n_bad))
	if [ $rc != 0 ] && [ "$n_bad" = 0 ]; then fail=$((fail + 1)); fi
	if [ $rc != 0 ]; then failed+=("$name"); echo "FAIL $name ($n_bad failed, exit $rc, log: $out)"
	else echo "ok   $name ($n_ok tests)"; fi
done

for t in "$BUILD"/tests/replay_fuzz_*; do
	[ -x "$t" ] || continue
	tgt=$(basename "$t"); tgt=${tgt#replay_fuzz_}
	corpus="$TOP/tests/fuzz/corpus/$tgt"
	name=fuzz-replay/$tgt
	if [ ! -d "$corpus" ]; then record "$name (no corpus at $corpus)" 1; continue; fi
	"$t" "$corpus" >"$log/fuzz-replay_$tgt.log" 2>&1
	record "$name" $?
done

export OFFSEED="$BUILD/offseed" OFFSEED_DC="$BUILD/offseed-dc" TOP BUILD
for t in "$TOP"/tests/cli/[0-9]*.sh; do
	[ -f "$t" ] || continue
	name=cli/$(basename "$t" .sh)
	if [ -n "${TESTS:-}" ] && [[ "$name" != *"$TESTS"* ]]; then continue; fi
	out="$log/$(echo "$name" | tr / _).log"
	start=$(date +%s)
	timeout 900 bash "$t" >"$out" 2>&1; rc=$?
	record "$name ($(( $(date +%s) - start ))s)" $rc
	[ $rc = 0 ] || tail -n 25 "$out" | sed 's/^/    | /'
done

echo
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
