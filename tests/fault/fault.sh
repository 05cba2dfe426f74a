# Helpers of the fault tests (tests/cli/9[0-2]-faults-*.sh); source after lib.sh.
#   fault VAR=VALUE… -- CMD…   run CMD with the project's shim (build/tests/faultshim.so,
#                              configured by OFS_FAULT_* variables: tests/fault/faultshim.c)
#                              preloaded; every injected failure is appended to $FLOG
#   injected                   how many failures the last fault run injected
#   ofs_f VAR=VALUE… -- ARGS…  fault with offseed's usual test options (lib.sh's ofs)
# (libfiu, which fails a call on every file, is used by 93-io-errors.sh.) In an ASan build
# the sanitizer's runtime comes first in LD_PRELOAD; the shim leaks nothing, so leaks count.
need ldd
: "${BUILD:?BUILD must point at the build folder (tests/run.sh sets it)}"
SHIM="$BUILD/tests/faultshim.so"
[ -f "$SHIM" ] || fail "the fault shim '$SHIM' is missing (make builds it)"
ASANLIB=$(ldd "$OFFSEED" | awk '/libasan/ { print $3 }')
FLOG="$T/fault.log"

fault() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: >"$FLOG"
	env "${envs[@]}" OFS_FAULT_LOG="$FLOG" LD_PRELOAD="${ASANLIB:+$ASANLIB }$SHIM" "$@"
}
ofs_f() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	fault "${envs[@]}" -- "$OFFSEED" --passphrase-file "$PASS" --no-progress "$@"
}
injected() { wc -l <"$FLOG"; }
# check_fault WHAT: the fault was injected at least once (else the test proves nothing)
check_fault() {
	[ "$(injected)" -gt 0 ] || fail "$1: the fault was never injected (nothing matched)"
}
