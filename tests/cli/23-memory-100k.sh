#!/bin/bash
# Memory regression guard (SPEC §17, issue 16): memory does not grow with the number of
# files. On 100,000 and then 200,000 small files, the peak RSS of stage, a backup with
# nothing changed, verify --deep and restore may grow by only a few MiB: the blob index
# keeps at most --index-memory (8 MiB by default, so both sizes spill) and ~1.5 B a chunk
# beyond; the catalogs, the journal, the containers' indexes and the deep check's window of
# packs are bounded. This code measured +4, +5, +1 and +8 MiB; before the index budget it
# was +18, +17, +13 and +5, and before that (catalog held whole, pending ids never freed)
# stage grew by 52 MiB. The big figures (200k and 1M files beside restic) are make bench's
# scale section. Under ASan the RSS is the sanitizer's: the commands run, the bounds are
# not applied.
. "$(dirname "$0")/lib.sh"
need python3
ASAN=$(ldd "$OFFSEED" | grep -c libasan)

# peak CMD…: run offseed with the usual options; its peak RSS (KiB, or -exit code) on stdout
peak() {
	python3 - "$OFFSEED" --passphrase-file "$PASS" --no-progress "$@" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc == 0 else -rc)
PY
}
declare -A at
for n in 100000 200000; do
	python3 "$TOP/tools/bench/gen-scale.py" "$T/src$n" $n 23 >/dev/null ||
	    fail "cannot generate $n files"
	expect_exit 0 ofs init --repo "$T/repo$n"
	at[stage$n]=$(peak stage --repo "$T/repo$n" "$T/src$n")
	at[backup$n]=$(peak backup --repo "file:$T/repo$n" "$T/src$n")
	at[deep$n]=$(peak verify --deep "$T/repo$n")
	at[restore$n]=$(peak restore latest --repo "$T/repo$n" --target "$T/r$n")
	for c in stage backup deep restore; do
		[ "${at[$c$n]}" -gt 0 ] || fail "$c of $n files failed (exit ${at[$c$n]#-})"
	done
	[ "$(find "$T/r$n" -type f | wc -l)" = $n ] || fail "the restore did not bring back $n files"
	rm -rf "$T/r$n" "$T/src$n"
done
# growth WHAT MIB: from 100k to 200k files by at most MIB
growth() {
	local a=${at[${1}100000]} b=${at[${1}200000]}
	echo "$1: peak RSS $((a / 1024)) MiB at 100k files, $((b / 1024)) MiB at 200k (+$(((b - a) / 1024)), at most +$2)"
	if [ "$ASAN" = 0 ] && [ $((b - a)) -gt $(($2 * 1024)) ]; then
		fail "$1: peak RSS grew by $(((b - a) / 1024)) MiB for 100,000 more files (at most $2)"
	fi
}
growth stage 12
growth backup 12
growth deep 10
growth restore 12
echo "23-memory-100k: ok"
