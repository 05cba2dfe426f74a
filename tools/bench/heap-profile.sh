#!/bin/bash
# Where the memory goes (SPEC §17): heaptrack of stage, a no-change backup, restore and
# verify --deep on a tree of small files, and for each the peak heap and its largest
# consumers by call site in offseed's code. Used for docs/MEMORY.md; not part of make bench
# (heaptrack slows a run down about 3x).
#   tools/bench/heap-profile.sh OFFSEED SOURCE_TREE OUT_DIR
# Needs heaptrack (Debian: heaptrack). The passphrase comes from OFFSEED_PASSPHRASE (a
# throwaway one is used when unset).
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 OFFSEED SOURCE_TREE OUT_DIR" >&2; exit 2; }
O=$(realpath "$1"); SRC=$(realpath "$2"); OUT=$3
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null ||
    { echo "$0: heaptrack is missing (apt-get install heaptrack)" >&2; exit 1; }
export OFFSEED_PASSPHRASE=${OFFSEED_PASSPHRASE:-heap-profile-passphrase}
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export OFFSEED_STATE=$W/state
"$O" init --repo "$W/repo" >/dev/null

profile() {	# NAME CMD…
	local name=$1; shift
	heaptrack -o "$W/$name" "$@" >/dev/null 2>"$W/$name.err" ||
	    { cat "$W/$name.err" >&2; echo "$0: $name failed" >&2; exit 1; }
	heaptrack_print -f "$W/$name.zst" --print-peaks 1 --print-allocators 0 \
	    --print-temporary 0 --print-leaks 0 --print-histogram 0 -n 8 \
	    --merge-backtraces 0 >"$W/$name.txt" 2>/dev/null
	{
		echo "== $name: $*"
		grep -E '^peak heap memory|^peak RSS' "$W/$name.txt"
		# each consumer: its size, then the first frame in offseed's own code past the
		# allocator wrappers
		awk '/^[0-9.]+[KMG]? peak memory consumed/ { if (sz != "") print sz "\t" (where ? where : "?"); sz = $1; where = ""; next }
		     sz != "" && where == "" && /^ *at (lib|engine|cli|seed|verify|restore|import)\// && !/lib\/(util|buf)\.c/ { where = $2 }
		     END { if (sz != "") print sz "\t" (where ? where : "?") }' "$W/$name.txt" | head -8
		echo
	} >>"$OUT/heap-profile.txt"
}

: >"$OUT/heap-profile.txt"
echo "offseed: $("$O" --version)   tree: $(find "$SRC" -type f | wc -l) files" >>"$OUT/heap-profile.txt"
profile stage "$O" --no-progress stage --repo "$W/repo" "$SRC"
profile backup "$O" --no-progress backup --repo "file:$W/repo" "$SRC"
profile deep "$O" --no-progress verify --deep --repo "$W/repo" "$W/repo"
profile restore "$O" --no-progress restore latest --repo "$W/repo" --target "$W/out"
cat "$OUT/heap-profile.txt"
