#!/usr/bin/env python3
# Helper of 76-cloud-whole-life.sh: builds the source tree, applies the two changes and
# compares a restored tree's metadata with the source. Commands:
#   gen TOP               the tree: text files, random binaries, two large compressible
#                         logs, a large incompressible image, a folder to rename later,
#                         a symlink, an empty folder, odd modes and sub-second mtimes
#   change1 TOP           ~1% change (edits in the middle of a large file, an append, new
#                         files, deletions, a renamed folder); prints "key value" pairs
#   change2 TOP           the second, smaller change; same output
#   compare SRC RESTORED  same names, types, modes, owners, sizes, mtimes (ns) and symlink
#                         targets, directories included; prints the number of entries
# Every byte a change writes is incompressible, so compression cannot hide storage growth.
import os, random, stat, sys

MIB = 1048576


def rbytes(rng, n):
    return rng.randbytes(n)


def log_file(path, size, seed):
    """Log-like text (compresses about 7x with zstd -3, as server logs do)."""
    rng = random.Random(seed)
    lv = ["INFO"] * 8 + ["DEBUG", "WARN"]
    urls = ["/api/v1/items", "/api/v1/users", "/static/app.js", "/login", "/api/v2/orders"]
    t, n, parts = 1760000000, 0, []
    while n < size:
        t += rng.randrange(0, 2)
        s = "%d %s worker-%d GET %s/%d status=%d ms=%d\n" % (
            t, rng.choice(lv), rng.randrange(4), rng.choice(urls), rng.randrange(20),
            rng.choice([200] * 6 + [304, 404]), rng.randrange(10))
        parts.append(s)
        n += len(s)
    with open(path, "w") as f:
        f.write("".join(parts)[:size])


def words(rng, n):
    w = ["alpha", "bravo", "seed", "disk", "container", "snapshot", "restore", "chunk",
         "index", "azure", "blob", "import", "job", "carrier", "pack", "tree"]
    out, k = [], 0
    while k < n:
        s = " ".join(rng.choice(w) for _ in range(12)) + "\n"
        out.append(s)
        k += len(s)
    return "".join(out)[:n]


def gen(top):
    rng = random.Random(76)
    for d in ("text/notes", "text/conf", "bin", "big", "vm", "projects/alpha/src",
              "projects/alpha/assets", "empty/inner"):
        os.makedirs(os.path.join(top, d), exist_ok=True)
    for i in range(120):
        with open(os.path.join(top, "text/notes", "t%03d.txt" % i), "w") as f:
            f.write(words(rng, rng.randrange(200, 30000)))
    for i in range(20):
        with open(os.path.join(top, "text/conf", "c%02d.conf" % i), "w") as f:
            f.write("# config %d\n" % i + "key%d = value%d\n" % (i, i) * rng.randrange(1, 400))
    for i in range(6):
        with open(os.path.join(top, "bin", "r%d.bin" % i), "wb") as f:
            f.write(rbytes(rng, rng.randrange(300000, 900000)))
    log_file(os.path.join(top, "big/app.log"), 8 * MIB, 1)
    log_file(os.path.join(top, "big/db.log"), 6 * MIB, 2)
    with open(os.path.join(top, "vm/disk.img"), "wb") as f:
        f.write(rbytes(rng, 22 * MIB))
    for i in range(25):
        with open(os.path.join(top, "projects/alpha/src", "m%02d.c" % i), "w") as f:
            f.write(words(rng, rng.randrange(1000, 12000)))
    with open(os.path.join(top, "projects/alpha/assets/logo.png"), "wb") as f:
        f.write(rbytes(rng, 400000))
    with open(os.path.join(top, "projects/alpha/assets/demo.mp4"), "wb") as f:
        f.write(rbytes(rng, 1600000))	# the rename must not store this again
    os.symlink("../text/conf/c01.conf", os.path.join(top, "projects/alpha/current.conf"))
    os.chmod(os.path.join(top, "bin/r1.bin"), 0o600)
    os.chmod(os.path.join(top, "bin/r2.bin"), 0o755)
    os.chmod(os.path.join(top, "text/conf/c03.conf"), 0o444)
    os.chmod(os.path.join(top, "empty/inner"), 0o700)
    # sub-second mtimes in the past, files first, then the folders (deepest first)
    base = 1700000000 * 10**9
    for k, (root, dirs, names) in enumerate(sorted(os.walk(top))):
        for j, n in enumerate(sorted(names)):
            p = os.path.join(root, n)
            if not os.path.islink(p):
                os.utime(p, ns=(base, base + (k * 1000 + j) * 1000003 + 123456789))
    for root, dirs, names in sorted(os.walk(top), key=lambda x: -x[0].count("/")):
        os.utime(root, ns=(base, base + len(root) * 7777777 + 987654321))
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(top) for n in ns
                if not os.path.islink(os.path.join(r, n)))
    print("total %d" % total)


def size(p):
    return os.path.getsize(p)


def report(d):
    print(" ".join("%s %d" % kv for kv in d.items()))


def change1(top):
    rng = random.Random(7601)
    r = {"edited": 0, "appended": 0, "new": 0, "deleted": 0, "renamed": 0}
    # an edit in the middle of a large file (size unchanged)
    p = os.path.join(top, "big/app.log")
    with open(p, "r+b") as f:
        f.seek(size(p) // 2 + 12345)
        f.write(rbytes(rng, 96 * 1024))
    r["edited"] += 96 * 1024
    # an append to the other large file
    with open(os.path.join(top, "big/db.log"), "ab") as f:
        f.write(rbytes(rng, 64 * 1024))
    r["appended"] += 64 * 1024
    # new files: a new folder and one beside existing files
    os.makedirs(os.path.join(top, "new-today"))
    for name, n in (("new-today/a.bin", 140000), ("new-today/b.bin", 90000),
                    ("bin/fresh.bin", 60000)):
        with open(os.path.join(top, name), "wb") as f:
            f.write(rbytes(rng, n))
        r["new"] += n
    # deletions: a random binary and two text files
    r["deleted_bin"] = size(os.path.join(top, "bin/r3.bin"))
    for name in ("bin/r3.bin", "text/notes/t017.txt", "text/notes/t018.txt"):
        r["deleted"] += size(os.path.join(top, name))
        os.remove(os.path.join(top, name))
    # a renamed folder
    src = os.path.join(top, "projects/alpha")
    r["renamed"] = sum(os.path.getsize(os.path.join(a, n)) for a, _, ns in os.walk(src)
                       for n in ns if not os.path.islink(os.path.join(a, n)))
    os.rename(src, os.path.join(top, "projects/alpha-2026"))
    r["changed"] = r["edited"] + r["appended"] + r["new"]
    # what backup must read (the changed and new files) and may read besides (the renamed
    # folder: its paths are new to the parent snapshot)
    r["must_read"] = size(os.path.join(top, "big/app.log")) + \
        size(os.path.join(top, "big/db.log")) + r["new"]
    r["may_read"] = r["must_read"] + r["renamed"]
    report(r)


def change2(top):
    rng = random.Random(7602)
    r = {"appended": 0, "new": 0, "deleted": 0}
    p = os.path.join(top, "text/notes/t005.txt")
    with open(p, "ab") as f:
        f.write(rbytes(rng, 30000))
    r["appended"] = 30000
    with open(os.path.join(top, "new-today/c.bin"), "wb") as f:
        f.write(rbytes(rng, 150000))
    r["new"] = 150000
    q = os.path.join(top, "projects/alpha-2026/src/m03.c")
    r["deleted"] = size(q)
    os.remove(q)
    # a metadata-only change: new mode (the ctime changes, so the file is read again)
    os.chmod(os.path.join(top, "bin/r4.bin"), 0o640)
    r["changed"] = r["appended"] + r["new"]
    r["must_read"] = size(p) + r["new"]
    r["may_read"] = r["must_read"] + size(os.path.join(top, "bin/r4.bin"))
    report(r)


def entries(top):
    out = {}
    for root, dirs, names in os.walk(top):
        for n in dirs + names:
            p = os.path.join(root, n)
            out[os.path.relpath(p, top)] = os.lstat(p)
    return out


def compare(a, b):
    ea, eb = entries(a), entries(b)
    bad = []
    for k in sorted(set(ea) | set(eb)):
        if k not in eb:
            bad.append("missing in restore: " + k)
            continue
        if k not in ea:
            bad.append("extra in restore: " + k)
            continue
        x, y = ea[k], eb[k]
        if stat.S_IFMT(x.st_mode) != stat.S_IFMT(y.st_mode):
            bad.append("%s: type %o vs %o" % (k, stat.S_IFMT(x.st_mode), stat.S_IFMT(y.st_mode)))
            continue
        if stat.S_ISLNK(x.st_mode):
            if os.readlink(os.path.join(a, k)) != os.readlink(os.path.join(b, k)):
                bad.append("%s: symlink target differs" % k)
            continue
        for f in ("st_mode", "st_uid", "st_gid", "st_mtime_ns"):
            if getattr(x, f) != getattr(y, f):
                bad.append("%s: %s %r vs %r" % (k, f, getattr(x, f), getattr(y, f)))
        if stat.S_ISREG(x.st_mode) and x.st_size != y.st_size:
            bad.append("%s: size %d vs %d" % (k, x.st_size, y.st_size))
    # the top folder itself
    x, y = os.lstat(a), os.lstat(b)
    for f in ("st_mode", "st_mtime_ns"):
        if getattr(x, f) != getattr(y, f):
            bad.append(".: %s %r vs %r" % (f, getattr(x, f), getattr(y, f)))
    if bad:
        print("\n".join(bad[:30]), file=sys.stderr)
        sys.exit(1)
    print(len(ea))


cmd = sys.argv[1]
if cmd == "gen":
    gen(sys.argv[2])
elif cmd == "change1":
    change1(sys.argv[2])
elif cmd == "change2":
    change2(sys.argv[2])
elif cmd == "compare":
    compare(sys.argv[2], sys.argv[3])
else:
    sys.exit("unknown command " + cmd)
