#!/usr/bin/env python3
"""make bench, section scale: a tree of N small files for the 200k/1M-file rows (SPEC §17).

Usage: gen-scale.py DIR N SEED
Writes DIR (which must not exist; built in DIR.tmp and renamed when complete) with N files
of 0-2048 bytes each (uniform), incompressible bytes from a seeded PRNG (the same N and
SEED give the same files, byte for byte, file mtimes included), 1000 files per folder, two
levels deep: DIR/aNN/bNNNN/fNNNNNNN (32 leaf folders per top folder). Prints
"files N nonempty E bytes B dirs D" on stdout.
"""
import os
import random
import shutil
import sys

PER_DIR = 1000
DIRS_PER_TOP = 32
MAX_SIZE = 2048
MTIME0 = 1700000000


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen-scale.py DIR N SEED")
    dst, seed = sys.argv[1], int(sys.argv[3])
    n = int(sys.argv[2])
    if n < 1 or n > 100_000_000:
        sys.exit("gen-scale.py: N must be 1..100000000, not %d" % n)
    if os.path.lexists(dst):
        sys.exit("gen-scale.py: %s exists" % dst)
    tmp = dst + ".tmp"
    if os.path.lexists(tmp):
        shutil.rmtree(tmp)
    rng = random.Random(seed)
    nonempty = nbytes = dirs = 0
    leaf = None
    for i in range(n):
        if i % PER_DIR == 0:
            d = i // PER_DIR
            top = os.path.join(tmp, "a%02d" % (d // DIRS_PER_TOP))
            if d % DIRS_PER_TOP == 0:
                os.makedirs(top)
                dirs += 1
            leaf = os.path.join(top, "b%04d" % d)
            os.mkdir(leaf)
            dirs += 1
        size = rng.randrange(MAX_SIZE + 1)
        p = os.path.join(leaf, "f%07d" % i)
        with open(p, "wb") as f:
            f.write(rng.randbytes(size))
        os.utime(p, (MTIME0 + i, MTIME0 + i))
        nonempty += size > 0
        nbytes += size
    os.rename(tmp, dst)
    print("files %d nonempty %d bytes %d dirs %d" % (n, nonempty, nbytes, dirs))


if __name__ == "__main__":
    main()
