#!/usr/bin/env python3
# make bench helper: change about 1% of a tree in place, the way a day on a file server does:
# edits in the middle of large files, appends, new files, deletions and a renamed directory.
# Usage: change-tree.py TREE TREE_BYTES
# Every new byte is incompressible (so compression cannot hide storage overhead). Prints one
# line of "key value" pairs; "changed" is the bytes written by the edits, appends and new
# files (deletions and the rename add none).
import os, random, sys

top, tree_bytes = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261123)
target = tree_bytes // 100            # 1% of the data
unit = max(4096, target // 20)        # one edit, append or new file: 5% of the change

files = []
for root, dirs, names in os.walk(top):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(root, n)
        if os.path.isfile(p) and not os.path.islink(p):
            files.append((p, os.path.getsize(p)))

# The renamed folder: generated/d001 (200 files in every bench size).
ren_from = os.path.join(top, "generated", "d001")
ren_to = os.path.join(top, "generated", "d001-renamed")
in_ren = lambda p: p.startswith(ren_from + os.sep)

large = sorted((f for f in files if f[1] >= 4 * unit and not in_ren(f[0])), key=lambda f: -f[1])[:40]
rng.shuffle(large)
edit, append = large[:6], large[6:10]
touched = {p for p, _ in edit + append}
changed = edited = appended = new = 0

# 6 edits in the middle of large files: overwrite `unit` bytes, size unchanged (30%).
for p, size in edit:
    with open(p, "r+b") as f:
        f.seek(size // 2 - unit // 2 + rng.randrange(-unit // 4, unit // 4))
        f.write(rng.randbytes(unit))
    edited += unit
# 4 appends of `unit` bytes (20%).
for p, size in append:
    with open(p, "ab") as f:
        f.write(rng.randbytes(unit))
    appended += unit
# 10 new files (50%): 7 in a new folder, 3 beside existing files.
newdir = os.path.join(top, "new-today")
os.makedirs(newdir)
dirs = sorted({os.path.dirname(p) for p, _ in files if not in_ren(p)})
for i in range(10):
    d = newdir if i < 7 else rng.choice(dirs)
    with open(os.path.join(d, "new-file-%02d.bin" % i), "wb") as f:
        f.write(rng.randbytes(unit))
    new += unit
changed = edited + appended + new
# Deletions: 1% of the files, none of those edited or in the renamed folder.
cand = [f for f in files if f[0] not in touched and not in_ren(f[0])]
gone = rng.sample(cand, max(1, len(files) // 100))
for p, _ in gone:
    os.remove(p)
# The renamed folder.
ren_files = [f for f in files if in_ren(f[0])]
os.rename(ren_from, ren_to)

print("changed %d edited %d appended %d new %d deleted_files %d deleted_bytes %d "
      "renamed_files %d renamed_bytes %d" % (changed, edited, appended, new, len(gone),
      sum(s for _, s in gone), len(ren_files), sum(s for _, s in ren_files)))
