#!/bin/bash
# make fuzz: build every tests/fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan + UBSan)
# and run each for SECONDS on a scratch copy of its seed corpus; fail on any crash.
# Usage: tools/fuzz.sh [SECONDS]   env: FUZZ_TARGETS="name …" (a subset), FUZZ_CC (clang)
# Targets named dc* also link offseed-dc's modules (tools/dc/*.c but main.c).
set -u
SECS=${1:-30}
case $SECS in ''|*[!0-9]*) echo "usage: tools/fuzz.sh SECONDS" >&2; exit 2 ;; esac
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
OUT=build/fuzz
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: '$CC' not found (run make deps)" >&2; exit 2; }

PKGS="libarchive openssl libcurl libxxhash libzstd jansson"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $PKGS 2>/dev/null || echo -larchive -lssl -lcrypto -lcurl -lxxhash -lzstd -ljansson) -lm"
# Same language and CPU flags as the Makefile (which alone decides the latter); the
# sanitizers make UB a crash, not a message.
ARCH=$(make -s --no-print-directory print-ARCH)
CFLAGS="-std=gnu11 -g -O1 -pthread -D_GNU_SOURCE -Ilib -Iengine -Icli $ARCH
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-macro-redefined"
SAN=address,undefined

targets=()
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	n=$(basename "$f" .c); n=${n#fuzz_}
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $n "* ]]; then continue; fi
	targets+=("$n")
done
if [ ${#targets[@]} = 0 ]; then
	echo "fuzz: no targets (tests/fuzz/fuzz_*.c${FUZZ_TARGETS:+ matching '$FUZZ_TARGETS'})"
	exit 0
fi

# The library once, instrumented for coverage (fuzzer-no-link), into an archive like
# build/libofs.a (so a target links only the modules it uses), then one link per target.
mkdir -p "$OUT/lib" "$OUT/engine"
echo "fuzz: building lib/*.c engine/*.c with $CC -fsanitize=fuzzer-no-link,$SAN"
objs=()
for c in lib/*.c engine/*.c; do
	o="$OUT/${c%.c}.o"
	objs+=("$o")
	if [ ! "$o" -nt "$c" ] || [ -n "$(find lib engine -name '*.h' -newer "$o" 2>/dev/null | head -n1)" ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS -fsanitize=fuzzer-no-link,$SAN -c -o "$o" "$c" || { echo "fuzz: cannot compile $c" >&2; exit 1; }
	fi
done
rm -f "$OUT/libofs-fuzz.a"
ar rcs "$OUT/libofs-fuzz.a" "${objs[@]}" || exit 1

# Targets named dc* test offseed-dc's modules (tools/dc/*.c but main.c, as build/libofsdc.a):
# built the same way into libofsdc-fuzz.a, only when such a target is selected.
DCLIBS=""
if [[ " ${targets[*]} " == *" dc"* ]]; then
	mkdir -p "$OUT/tools/dc"
	echo "fuzz: building tools/dc/*.c (but main.c) with $CC -fsanitize=fuzzer-no-link,$SAN"
	dcobjs=()
	for c in tools/dc/*.c; do
		[ "$c" = tools/dc/main.c ] && continue
		o="$OUT/${c%.c}.o"
		dcobjs+=("$o")
		if [ ! "$o" -nt "$c" ] || [ -n "$(find lib engine tools/dc -name '*.h' -newer "$o" 2>/dev/null | head -n1)" ]; then
			# shellcheck disable=SC2086
			$CC $CFLAGS -Itools/dc -fsanitize=fuzzer-no-link,$SAN -c -o "$o" "$c" || { echo "fuzz: cannot compile $c" >&2; exit 1; }
		fi
	done
	rm -f "$OUT/libofsdc-fuzz.a"
	ar rcs "$OUT/libofsdc-fuzz.a" "${dcobjs[@]}" || exit 1
	DCLIBS=$(pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
fi

work=$(mktemp -d /tmp/offseed-fuzz.XXXXXX)
declare -A result execs grown
bad=0
for n in "${targets[@]}"; do
	bin="$OUT/fuzz_$n"
	extra=()
	case $n in dc*) extra=(-Itools/dc "$OUT/libofsdc-fuzz.a") ;; esac
	# shellcheck disable=SC2086
	if ! $CC $CFLAGS -fsanitize=fuzzer,$SAN -o "$bin" "tests/fuzz/fuzz_$n.c" "${extra[@]}" \
	    "$OUT/libofs-fuzz.a" $LIBS ${extra:+$DCLIBS}; then
		result[$n]="BUILD FAILED"; bad=1; continue
	fi
	corpus="$work/corpus-$n"
	rm -rf "$OUT/artifacts/$n"
	mkdir -p "$corpus" "$OUT/artifacts/$n"
	if [ -d "tests/fuzz/corpus/$n" ]; then
		find "tests/fuzz/corpus/$n" -type f -exec cp -t "$corpus" {} + 2>/dev/null
	else
		echo "fuzz: warning: no seed corpus at tests/fuzz/corpus/$n, starting empty" >&2
	fi
	before=$(find "$corpus" -type f | wc -l)
	echo "fuzz: $n for ${SECS}s (seeds: $before)"
	log="$OUT/fuzz_$n.log"
	# New inputs go to the scratch copy, never into the committed seed corpus.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$OUT/artifacts/$n/" "$corpus" >"$log" 2>&1
	rc=$?
	execs[$n]=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
	grown[$n]=$(( $(find "$corpus" -type f | wc -l) - before ))
	if [ $rc = 0 ]; then
		result[$n]=ok
	else
		bad=1
		result[$n]="CRASH (exit $rc)"
		grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error:' "$log" | sed 's/^/    /'
		ls "$OUT/artifacts/$n" 2>/dev/null | sed "s|^|    artifact: $OUT/artifacts/$n/|"
		echo "    log: $log (reproduce: $bin ARTIFACT)"
	fi
done
rm -rf "$work"

echo
printf '%-20s %-18s %12s %8s\n' target result execs "new"
for n in "${targets[@]}"; do
	printf '%-20s %-18s %12s %8s\n' "$n" "${result[$n]}" "${execs[$n]:--}" "${grown[$n]:--}"
done
if [ $bad = 0 ]; then echo "fuzz: ${#targets[@]} targets, no crashes"; else echo "fuzz: FAILED"; fi
exit $bad
