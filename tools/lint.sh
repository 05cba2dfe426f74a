#!/bin/bash
# make lint: rules the compiler does not check. Exits 1 naming every violation.
#  1. banned functions in product code (git's banned.h idea): unbounded copies and
#     formatting (strcpy, strcat, sprintf, vsprintf, gets), strtok (state shared between
#     calls), and the ato* family (no error, so "abc" reads as 0);
#  2. layering: no object of the library (lib/ and engine/, build/libofs.a) refers to a
#     symbol a front end defines; no lib/ object refers to one engine/ defines; lib/ and
#     engine/ never print or exit (no stdout, stderr, printf, exit, ... but the allowances
#     listed with their reasons);
#  3. every public header of lib/ and engine/ compiles on its own;
#  4. no product .c file over 1,500 lines, no function over 200 lines;
#  5. command folders hold cmd_*.c only; 6. no test #includes a .c file;
#  7. every command-line test has its own number.
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

# 2. layering. Objects are those of today's sources (a stale .o of a moved file is ignored).
objs() {	# objects of the .c files in the folders given; complain when one is not built
	local f o
	for f in $(for d in "$@"; do ls "$d"/*.c 2>/dev/null; done); do
		o="$BUILD/${f%.c}.o"
		if [ -f "$o" ]; then echo "$o"; else echo "lint: $o is missing (run make)" >&2; fi
	done
}
defined() { nm --defined-only "$@" 2>/dev/null | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u; }
undefined() { nm -u "$@" 2>/dev/null | awk 'NF { print $NF }' | sort -u; }
libobjs=$(objs lib engine)
lowobjs=$(objs lib)
engobjs=$(objs engine)
front=$(objs cli seed verify restore import)
[ -n "$libobjs" ] && [ -n "$front" ] || { echo "lint: no objects in $BUILD (run make)"; exit 1; }

# 2a. the library (lib/ and engine/) does not reach into the front ends
while IFS= read -r sym; do
	say "lib/ refers to the front-end symbol '$sym'"
done < <(comm -12 <(undefined $libobjs) <(defined $front))

# 2b. lib/ is below engine/: no lib/ object refers to a symbol an engine defines
engdefs=$(defined $engobjs)
for o in $lowobjs; do
	while IFS= read -r sym; do
		say "${o#$BUILD/} refers to '$sym', defined in engine/ (lib/ is below engine/)"
	done < <(comm -12 <(undefined "$o") <(echo "$engdefs"))
done

# 2c. lib/ and engine/ never print or exit: they report through struct ofs_error or the
# log sink the front end installs (lib/log.h). Three groups of C library symbols:
#  - the terminal: stdout, stderr and what writes to them implicitly; never;
#  - stream writers (fprintf, fputs, fwrite, ...): only where a caller hands a FILE * of
#    its own (a report file), listed below; writing to the terminal needs stdout/stderr;
#  - ending the process: exit and friends never; abort (and assert) only where listed.
terminal='stdout stderr printf vprintf puts putchar perror psignal psiginfo err errx warn
    warnx verr verrx vwarn vwarnx error error_at_line __printf_chk __vprintf_chk'
writers='fprintf vfprintf fputs fputc putc fwrite dprintf vdprintf __fprintf_chk
    __vfprintf_chk __dprintf_chk'
enders='exit _exit _Exit quick_exit abort __assert_fail'
# The allowances, each with its reason. lib/log.c needs none: with no sink installed it
# drops every message (the silent default), referring to nothing above.
allowed() {	# $1: object relative to BUILD, $2: symbol
	case "$1:$2" in
	# The ofs_x* allocators and ofs_random: out of memory or no randomness leaves no way
	# to go on or to report; one line on stderr, then abort (STYLE: "Out of memory aborts
	# in one wrapper"). The compiler may turn fprintf into fwrite or fputs.
	lib/util.o:abort | lib/util.o:stderr | lib/util.o:fprintf | lib/util.o:fwrite | \
	lib/util.o:fputs) return 0 ;;
	# Fatal after ofs_error: OpenSSL without the algorithms, or no memory for a cipher,
	# MAC or zstd context (the ofs_x* rule for memory that is not malloc's).
	lib/crypto.o:abort | lib/blob.o:abort) return 0 ;;
	# Cannot-happen checks: an append to an unbounded buffer (pack), an XXH3 state that
	# cannot be allocated (patch: out of memory), more request headers than the fixed
	# array (azblob: a programming error), an anonymous mmap failing (stage: memory).
	lib/pack.o:abort | lib/patch.o:abort | lib/azblob.o:abort | engine/stage*.o:abort) \
		return 0 ;;
	# Report files the caller opened and hands in as FILE *: the damaged-files list of
	# restore (restore_opts.report) and the skipped-entries list of the walk
	# (walk_opts.skipped, which stage writes too).
	engine/restore*.o:fprintf | engine/restore*.o:fputs | engine/restore*.o:fputc | \
	engine/restore*.o:fwrite) return 0 ;;
	engine/walk*.o:fprintf | engine/walk*.o:fputs | engine/walk*.o:fputc | \
	engine/walk*.o:fwrite) return 0 ;;
	engine/stage*.o:fprintf | engine/stage*.o:fputs | engine/stage*.o:fputc | \
	engine/stage*.o:fwrite) return 0 ;;
	# Capacities reached, like running out of memory: the blob index's 2^32 blobs and
	# 2^24 packs (lib/index.c, said through ofs_error first); and the dynamic-library
	# tables used before ofs_dynlib_load_* succeeded, a programming error (lib/dynlib.c).
	lib/index.o:abort | lib/index_spill.o:abort | lib/dynlib.o:abort) return 0 ;;
	esac
	return 1
}
for o in $libobjs; do
	rel=${o#$BUILD/}
	for sym in $(comm -12 <(undefined "$o") <(printf '%s\n' $terminal $writers $enders |
	    sort -u)); do
		allowed "$rel" "$sym" ||
		    say "$rel refers to '$sym': lib/ and engine/ never print or exit (lib/log.h)"
	done
done

# 3. self-contained headers
cflags=$(pkg-config --cflags openssl libxxhash libzstd jansson 2>/dev/null)
for h in lib/*.h engine/*.h; do
	printf '#include "%s"\n' "$(basename "$h")" |
	    $CC -std=gnu11 -D_GNU_SOURCE -Ilib -Iengine $cflags -fsyntax-only -x c - 2>"$BUILD/.lint-h" ||
	    { say "$h does not compile on its own:"; sed 's/^/    /' "$BUILD/.lint-h"; }
done
rm -f "$BUILD/.lint-h"

# 4. shape: no product .c file over 1,500 lines, no function over 200 lines (from the line
#    naming the function to its closing brace; STYLE.md puts the name at column 0)
product=$(ls lib/*.c engine/*.c cli/*.c seed/*.c verify/*.c restore/*.c import/*.c \
    tools/dc/*.c 2>/dev/null)
for f in $product; do
	n=$(wc -l <"$f")
	[ "$n" -le 1500 ] || say "$f has $n lines (at most 1,500: split it along a seam)"
done
while IFS= read -r hit; do
	say "function over 200 lines: $hit"
done < <(awk '
	FNR == 1 { name = ""; body = 0 }
	/^[A-Za-z_][A-Za-z0-9_]*\(/ && !/;[[:space:]]*$/ { name = $0; sub(/\(.*/, "", name); start = FNR }
	/^\{/ && name != "" { body = 1 }
	/^\}/ && body { if (FNR - start > 200) printf "%s:%d %s (%d lines)\n", FILENAME, start, name, FNR - start; body = 0; name = "" }
' $product)

# 5. the command folders hold subcommands only (cmd_*.c); the rest is library code
for f in seed/*.c verify/*.c restore/*.c import/*.c; do
	case $(basename "$f") in cmd_*.c) ;; *) say "$f is not a subcommand: library code goes to engine/" ;; esac
done

# 6. tests link the library: none includes a .c file
while IFS= read -r hit; do
	say "a test includes a .c file: $hit"
done < <(grep -nE '^#[[:space:]]*include[[:space:]]*"[^"]*\.c"' tests/unit/*.c tests/fuzz/*.c tests/cli/*.c 2>/dev/null)

# 7. one number, one command-line test
for n in $(ls tests/cli | grep -E '^[0-9]+-.*\.sh$' | cut -d- -f1 | sort | uniq -d); do
	say "test number $n is used by more than one test: $(ls tests/cli/"$n"-*.sh | xargs -n1 basename | tr '\n' ' ')"
done

[ $bad = 0 ] && echo "lint: ok (banned functions, layering, no printing in lib/, $(ls lib/*.h engine/*.h | wc -l) headers, sizes, layout, test numbers)"
exit $bad
