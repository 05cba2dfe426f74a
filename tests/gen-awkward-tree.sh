#!/bin/bash
# Generate the awkward source tree the end-to-end tests back up and restore:
#   tests/gen-awkward-tree.sh DIR [--small]
# Boundary-sized files (chunker min/avg/max ±1), a 4 GiB sparse file with data islands,
# hard links, symlinks (dangling, absolute, relative), 40-level nesting, 255-byte and
# non-UTF-8 names, xattrs, a FIFO, a char device (root only), empty dirs, duplicates,
# random content and odd modes. --small leaves out the 8 MiB files and shrinks the
# sparse file to 256 MiB (quicker tests).
set -eu
dir=${1:?usage: gen-awkward-tree.sh DIR [--small]}
small=${2:-}
mkdir -p "$dir"
cd "$dir"

rnd() { head -c "$2" /dev/urandom >"$1"; }

# empty things
: >empty-file
mkdir -p empty-dir deep-empty/a/b/c

# chunker boundaries: min 512 KiB, average 1 MiB, max 8 MiB, and one byte either side
mkdir sizes
for base in $((512 * 1024)) $((1024 * 1024)) $((8 * 1024 * 1024)); do
	[ -n "$small" ] && [ "$base" -gt $((1024 * 1024)) ] && continue
	for d in -1 0 1; do
		rnd "sizes/f-$((base + d))" $((base + d))
	done
done
rnd sizes/one-byte 1

# sparse: large apparent size, a few data islands (start, middle, near the end)
if [ -n "$small" ]; then sz=$((256 * 1024 * 1024)); else sz=$((4 * 1024 * 1024 * 1024)); fi
truncate -s "$sz" sparse.img
for off in 0 $((sz / 3)) $((sz / 2 + 12345)) $((sz - 70000)); do
	head -c 65536 /dev/urandom | dd of=sparse.img bs=1 seek="$off" conv=notrunc status=none 2>/dev/null ||
	    head -c 65536 /dev/urandom | dd of=sparse.img oflag=seek_bytes seek="$off" conv=notrunc status=none
done
truncate -s 10M hole-only.img	# all hole, no data

# hard links (a group of three, one in another directory)
mkdir links
rnd links/original 300000
ln links/original links/hard1
ln links/original empty-dir/../links/hard2
mkdir links/sub
ln links/original links/sub/hard3
# symlinks: relative, absolute, dangling, to a directory, a loop
ln -s original links/rel-link
ln -s /etc/hostname links/abs-link
ln -s does/not/exist links/dangling
ln -s ../sizes links/dir-link
ln -s loop-b links/loop-a
ln -s loop-a links/loop-b

# deep nesting: 40 levels
p=deep
for i in $(seq 1 40); do p="$p/d$i"; done
mkdir -p "$p"
echo "bottom of the well" >"$p/file"

# long and strange names
mkdir names
long=$(printf 'n%.0s' $(seq 1 255))
echo long >"names/$long"
mkdir "names/${long:0:250}-dir"
echo bin >"names/$(printf '\xff\xfe')"
echo latin1 >"names/caf$(printf '\xe9')"
echo utf8 >"names/café ☕"
echo spaces >"names/with spaces and	tab"
echo nl >"names/new
line"
echo dash >"names/-leading-dash"
echo dots >"names/..."

# xattrs
mkdir xattrs
echo data >xattrs/file
setfattr -n user.comment -v "hello world" xattrs/file
setfattr -n user.binary -v 0xdeadbeef00ff xattrs/file
setfattr -n user.empty xattrs/file 2>/dev/null || true
setfattr -n user.dir -v "on a directory" xattrs
# one of each way a file's xattrs are read: empty (the walk), small (the worker, by its
# descriptor: "file" above) and large (the producer, by path)
: >xattrs/empty
setfattr -n user.comment -v "empty file" xattrs/empty
head -c 200000 /dev/zero | tr '\0' 'x' >xattrs/large
setfattr -n user.comment -v "large file" xattrs/large
if [ "$(id -u)" = 0 ]; then
	setfattr -n trusted.secret -v "root only" xattrs/file
fi

# special files: never opened by the backup
mkdir special
mkfifo special/fifo
if [ "$(id -u)" = 0 ]; then
	mknod special/null-dev c 1 3
	mknod special/block-dev b 7 200
fi

# duplicates (dedup) and random content
mkdir dups rand
rnd dups/base 1500000
for i in $(seq 1 20); do cp dups/base "dups/copy-$i"; done
for i in $(seq 1 30); do rnd "rand/r$i" $((RANDOM * 7 + i)); done
seq 1 100000 >rand/compressible.txt

# odd modes
mkdir modes
echo suid >modes/setuid && chmod 4755 modes/setuid
echo sgid >modes/setgid && chmod 2750 modes/setgid
echo none >modes/mode000 && chmod 000 modes/mode000
mkdir modes/sticky && chmod 1777 modes/sticky
mkdir modes/locked && echo inside >modes/locked/file && chmod 500 modes/locked
if [ "$(id -u)" = 0 ]; then
	echo owned >modes/owned && chown 1234:5678 modes/owned
	ln -s owned modes/owned-link && chown -h 4321:8765 modes/owned-link
fi

# fixed times, including nanoseconds and before 1970
touch -d '2001-02-03 04:05:06.123456789' rand/r1
touch -h -d '1969-07-20 20:17:40' links/rel-link
touch -d '2038-01-19 03:14:08' rand/r2
echo "generated $(find . | wc -l) entries in $dir"
