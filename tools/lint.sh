#!/bin/bash
# make lint: rules the compiler does not check. Exits 1 naming every violation.
#  1. banned functions in product code (git's banned.h idea): unbounded copies and
#     formatting (strcpy, strcat, sprintf, vsprintf, gets), strtok (state shared between
#     calls), and the ato* family (no error, so "abc" reads as 0);
#  2. layering: no object of the library (lib/ and engine/, build/libofs.a) refers to a
#     symbol a front end defines;
#  3. every public header of lib/ compiles on its own.
# Usage: tools/lint.sh [BUILD]   (BUILD defaults to build; it must be built)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CC=${CC:-cc}
bad=0
say() { echo "lint: $*"; bad=1; }

# 1. banned functions: a call, not a mention in a comment
banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|atof'
while IFS= read -r hit; do
	say "banned function: $hit"
done < <(grep -nE "(^|[^_[:alnum:].>])($banned)[[:space:]]*\(" \
    lib/*.c lib/*.h engine/*.c engine/*.h cli/*.c seed/*.c verify/*.c restore/*.c import/*.c tools/dc/*.c \
    2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')

# 2. layering: lib/ must not reach into the front ends
[ -f "$BUILD/libofs.a" ] || { echo "lint: $BUILD/libofs.a is missing (run make)"; exit 1; }
front=$(ls "$BUILD"/cli/*.o "$BUILD"/seed/*.o "$BUILD"/verify/*.o "$BUILD"/restore/*.o \
    "$BUILD"/import/*.o 2>/dev/null)
[ -n "$front" ] || { echo "lint: no front-end objects in $BUILD (run make)"; exit 1; }
comm -12 <(nm -u "$BUILD/libofs.a" 2>/dev/null | awk '{ print $NF }' | sort -u) \
    <(nm --defined-only $front 2>/dev/null | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u) |
while IFS= read -r sym; do
	echo "lint: lib/ refers to the front-end symbol '$sym'"
	echo x >"$BUILD/.lint-layer"
done
[ ! -e "$BUILD/.lint-layer" ] || { bad=1; rm -f "$BUILD/.lint-layer"; }

# 3. self-contained headers
cflags=$(pkg-config --cflags openssl libxxhash libzstd jansson 2>/dev/null)
for h in lib/*.h engine/*.h; do
	printf '#include "%s"\n' "$(basename "$h")" |
	    $CC -std=gnu11 -D_GNU_SOURCE -Ilib -Iengine $cflags -fsyntax-only -x c - 2>"$BUILD/.lint-h" ||
	    { say "$h does not compile on its own:"; sed 's/^/    /' "$BUILD/.lint-h"; }
done
rm -f "$BUILD/.lint-h"

[ $bad = 0 ] && echo "lint: ok (banned functions, layering, $(ls lib/*.h engine/*.h | wc -l) headers)"
exit $bad
