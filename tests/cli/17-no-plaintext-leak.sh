#!/bin/bash
# No file name, path or content of the source appears in clear anywhere in the staging repo.
. "$(dirname "$0")/lib.sh"
need setfattr
need getfattr
m1=MARKERNAME7f3a9c2e m2=MARKERDIR51b0d4e8 m3=MARKERCONTENTe0c2b9a41d
mkdir -p "$T/src/$m2"
for i in $(seq 1 50); do echo "$m3 line $i" ; done >"$T/src/$m2/$m1.txt"
printf '%s' "$m3" >"$T/src/small"
ln -s "/tmp/$m1-target" "$T/src/link-$m1"
# the marker in an extended attribute too: a file system without user xattrs fails the test
# loudly instead of leaving that part out
setfattr -n user.note -v "$m3" "$T/src/small" ||
    fail "cannot set a user xattr in $T (the file system must support them for this test)"
[ "$(getfattr --only-values -n user.note "$T/src/small")" = "$m3" ] || fail "xattr not set"
expect_exit 0 ofs init --repo "$T/repo"
expect_exit 0 ofs stage --repo "$T/repo" "$T/src"
for m in $m1 $m2 $m3 "$T/src"; do
	if grep -rlaF -- "$m" "$T/repo"; then fail "'$m' appears in clear in the repository"; fi
done
echo ok
