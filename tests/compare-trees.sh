#!/bin/bash
# Compare two trees exactly: type, content, mode, owner, mtime (ns), symlink targets,
# hard-link groups, xattrs, sparseness (allocated blocks), FIFO and device nodes.
#   tests/compare-trees.sh A B        prints each difference, exit 0 if none, 1 otherwise
# The roots themselves are not compared (only what is inside them). atime and ctime are
# ignored (reading changes one, restoring always changes the other).
set -u
[ $# = 2 ] || { echo "usage: compare-trees.sh A B" >&2; exit 2; }
exec python3 - "$1" "$2" <<'PY'
import errno, hashlib, os, stat, sys

A, B = (os.fsencode(p) for p in sys.argv[1:3])
diffs = []

def say(rel, what):
    diffs.append("%s: %s" % (rel.decode("utf-8", "backslashreplace") or ".", what))

def walk(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out

def extents(path, size):
    fd = os.open(path, os.O_RDONLY)
    ex, off = [], 0
    try:
        while off < size:
            try:
                data = os.lseek(fd, off, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            ex.append((data, min(hole, size) - data))
            off = hole
    finally:
        os.close(fd)
    return ex

def digest(path, ranges):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for off, ln in ranges:
            f.seek(off)
            while ln > 0:
                b = f.read(min(ln, 1 << 20))
                if not b:
                    break
                h.update(b)
                ln -= len(b)
    return h.hexdigest()

def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            out[n] = "unreadable: %s" % e
    return out

ta, tb = walk(A), walk(B)
for rel in sorted(set(ta) | set(tb)):
    if rel not in tb:
        say(rel, "only in A"); continue
    if rel not in ta:
        say(rel, "only in B"); continue
    a, b = ta[rel], tb[rel]
    pa, pb = os.path.join(A, rel), os.path.join(B, rel)
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        say(rel, "type %o vs %o" % (stat.S_IFMT(a.st_mode), stat.S_IFMT(b.st_mode))); continue
    if stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
        say(rel, "mode %04o vs %04o" % (stat.S_IMODE(a.st_mode), stat.S_IMODE(b.st_mode)))
    if (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid):
        say(rel, "owner %d:%d vs %d:%d" % (a.st_uid, a.st_gid, b.st_uid, b.st_gid))
    if a.st_mtime_ns != b.st_mtime_ns:
        say(rel, "mtime %d vs %d" % (a.st_mtime_ns, b.st_mtime_ns))
    xa, xb = xattrs(pa), xattrs(pb)
    if xa != xb:
        say(rel, "xattrs %r vs %r" % (xa, xb))
    if stat.S_ISLNK(a.st_mode):
        if os.readlink(pa) != os.readlink(pb):
            say(rel, "symlink target %r vs %r" % (os.readlink(pa), os.readlink(pb)))
    elif stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        if a.st_rdev != b.st_rdev:
            say(rel, "device %d vs %d" % (a.st_rdev, b.st_rdev))
    elif stat.S_ISREG(a.st_mode):
        if a.st_size != b.st_size:
            say(rel, "size %d vs %d" % (a.st_size, b.st_size)); continue
        sparse_a = a.st_blocks * 512 < a.st_size
        sparse_b = b.st_blocks * 512 < b.st_size
        if sparse_a != sparse_b:
            say(rel, "sparse %s vs %s (blocks %d vs %d)" % (sparse_a, sparse_b, a.st_blocks, b.st_blocks))
        ea, eb = extents(pa, a.st_size), extents(pb, b.st_size)
        if ea == eb:
            same = digest(pa, ea) == digest(pb, eb)
        else:
            full = [(0, a.st_size)]
            same = digest(pa, full) == digest(pb, full)
        if not same:
            say(rel, "content differs")

# hard-link groups: paths sharing an inode in A must share one in B, and only those
def groups(t):
    g = {}
    for rel, s in t.items():
        if not stat.S_ISDIR(s.st_mode) and s.st_nlink > 1:
            g.setdefault((s.st_dev, s.st_ino), set()).add(rel)
    return {rel: frozenset(v) for v in g.values() for rel in v}
ga, gb = groups(ta), groups(tb)
for rel in sorted(set(ga) | set(gb)):
    if ga.get(rel, frozenset([rel])) != gb.get(rel, frozenset([rel])):
        say(rel, "hard-link group %s vs %s" % (sorted(ga.get(rel, [rel])), sorted(gb.get(rel, [rel]))))

for d in diffs:
    print(d)
print("%d entries compared, %d differences" % (len(ta), len(diffs)), file=sys.stderr)
sys.exit(1 if diffs else 0)
PY
