#!/bin/bash
# Export jobs end to end (SPEC §16) on the real services, once with file: storage and once
# with Azurite: stage → prep → import → two online backups (the first adds a large file,
# the second deletes it and adds a small one) → `offseed export create` of the latest
# snapshot → `offseed-dc export` onto two tmpfs disks the data must span → keyless and deep
# verify of the disks → restore from disks: equal to the source in content and metadata;
# the large file's data is not on the disks. Then, on file: storage, a path-limited export,
# a cancelled export and an export whose storage lost a listed blob (status --wait 4).
. "$(dirname "$0")/lib.sh"
: "${OFFSEED_DC:?OFFSEED_DC must point at the offseed-dc binary}"
[ -x "$OFFSEED_DC" ] || fail "offseed-dc is not built ($OFFSEED_DC)"
need python3
need node
need sha256sum
[ -d "$TOP/tools/azurite/node_modules/azurite" ] || fail "Azurite is not installed (run make deps)"

DC_PID="" MOUNTS=()
cleanup() {
	[ -n "$DC_PID" ] && { kill "$DC_PID" 2>/dev/null; wait "$DC_PID" 2>/dev/null; }
	[ -f "$T/az/azurite.pid" ] && "$TOP/tools/azurite.sh" stop "$T/az" >/dev/null 2>&1
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
}
trap 'rc=$?; cleanup; if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
cat >"$T/contact.json" <<'JSON'
{"contactName":"Night Ops","phone":"+1 555 0100","emailList":["ops@example.com"],
 "carrierName":"DHL","carrierAccountNumber":"ACC-123"}
JSON

tmpfs() {	# DIR SIZE
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1" || fail "cannot mount a tmpfs at $1 (this test needs root)"
	MOUNTS+=("$1")
}
start_dc() {	# STORAGE
	[ -n "$DC_PID" ] && { kill "$DC_PID"; wait "$DC_PID" 2>/dev/null; }
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$OFFSEED_DC" serve --listen 127.0.0.1:$PORT --state "$DCS" --storage "$1" >>"$T/dc.log" 2>&1 &
	DC_PID=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
		sleep 0.1
	done
	URL=http://127.0.0.1:$PORT
}
dc_export() {	# JOB SERIAL=MNT…: the dock writes the disk set
	local job=$1; shift
	"$OFFSEED_DC" export --url "$URL" --state "$DCS" --job "$job" "$@" >"$T/dc-export.out" 2>&1
}
# same_tree A B: content and metadata (type, mode, owner, size, mtime, link target) equal
same_tree() {
	diff -r --no-dereference "$1" "$2" || fail "$3: content differs"
	meta() {
		(cd "$1" && find . -mindepth 1 \
		    \( -type f -printf '%P %y %m %u:%g %s %T+\n' \) -o \
		    \( -type d -printf '%P %y %m %u:%g %T+\n' \) -o \
		    \( -type l -printf '%P %y %u:%g -> %l\n' \) | LC_ALL=C sort)
	}
	diff <(meta "$1") <(meta "$2") || fail "$3: metadata differs"
}
restored() {	# DIR: where the source landed under a restore target
	local c
	for c in "$1/${SRC#/}" "$1/src" "$1"; do
		[ -d "$c/keep" ] && { echo "$c"; return; }
	done
	fail "cannot find the restored source under $1"
}

# flow KIND: file or azure
flow() {
	local K=$1 STORE LOC ACCT
	SRC=$T/$K/src DCS=$T/$K/dc
	mkdir -p "$SRC/keep/a" "$SRC/keep/b" "$SRC/docs" "$T/$K/in1" "$T/$K/in2"
	for i in 1 2 3 4; do head -c $((9 * 1048576 + i * 1001)) /dev/urandom >"$SRC/keep/a/r$i.bin"; done
	for i in 1 2 3; do head -c $((7 * 1048576 + i)) /dev/urandom >"$SRC/keep/b/s$i.bin"; done
	seq 1 200000 >"$SRC/docs/numbers.txt"
	echo "hello" >"$SRC/docs/readme"; chmod 640 "$SRC/docs/readme"
	ln -s ../docs/readme "$SRC/keep/link"
	touch -d '2024-05-01 12:00:00' "$SRC/docs/readme"
	if [ "$K" = file ]; then
		ACCT=acct STORE=file:$T/$K/store
	else
		AZ_PORT=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
		export OFFSEED_AZURE_ENDPOINT=http://127.0.0.1:$AZ_PORT/devstoreaccount1
		export OFFSEED_AZURE_KEY="$KEY"
		ACCT=devstoreaccount1 STORE=azure://devstoreaccount1
	fi
	export OFFSEED_STATE=$T/$K/state
	expect_exit 0 ofs init --repo "$T/$K/repo" --dest "azure://$ACCT/backups/srv01"
	expect_exit 0 ofs stage --repo "$T/$K/repo" --container-size 16M "$SRC"
	expect_exit 0 ofs prep --repo "$T/$K/repo" --disk "$T/$K/in1" --disk "$T/$K/in2" \
	    --job seed-$K --serial "$T/$K/in1=IN-1" --serial "$T/$K/in2=IN-2"
	start_dc "$STORE"
	"$OFFSEED_DC" credentials --state "$DCS" --out "$T/$K/cred.json" --endpoint "$URL" \
	    --account "$ACCT" >/dev/null || fail "offseed-dc credentials failed"
	export OFFSEED_CREDENTIALS=$T/$K/cred.json
	expect_exit 0 ofs import create --job seed-$K --repo "$T/$K/repo" --contact "$T/contact.json"
	"$OFFSEED_DC" receive --url "$URL" --state "$DCS" --job seed-$K "IN-1=$T/$K/in1" \
	    "IN-2=$T/$K/in2" >"$T/receive.out" 2>&1 || { cat "$T/receive.out"; fail "receive failed"; }
	expect_exit 0 ofs import status --job seed-$K --wait --interval 0.2 --timeout 120
	if [ "$K" = file ]; then LOC=$T/$K/store/$ACCT/backups/srv01; else LOC=azure://$ACCT/backups/srv01; fi

	echo "--- $K: two online backups: a large file comes and goes"
	mkdir -p "$SRC/big"
	head -c $((40 * 1048576)) /dev/urandom >"$SRC/big/huge.bin"
	[ "$K" = file ] && (cd "$LOC" && find data -type f 2>/dev/null | sort) >"$T/$K/data0"
	expect_exit 0 ofs backup --repo "$LOC" "$SRC"
	[ "$K" = file ] && (cd "$LOC" && find data -type f | sort) >"$T/$K/data1"
	rm -r "$SRC/big"
	echo "after the seed" >"$SRC/docs/new.txt"
	touch -d '2024-06-01 08:00:00' "$SRC/docs/new.txt" "$SRC/docs"
	expect_exit 0 ofs backup --repo "$LOC" "$SRC"

	echo "--- $K: export create of the latest snapshot"
	expect_exit 0 ofs export create --job exp-$K --repo "$LOC" --contact "$T/contact.json" latest
	assert_contains "$T/out" "exp-$K"
	expect_exit 0 ofs export create --job exp-$K --repo "$LOC" --contact "$T/contact.json" latest
	expect_exit 0 ofs --json export status --job exp-$K
	assert_contains "$T/out" '"Created"'
	# the customer's empty disks travel to the datacenter
	expect_exit 0 ofs import ship --job exp-$K --carrier DHL --tracking 1Z-EXP
	expect_exit 0 ofs export status --job exp-$K
	assert_contains "$T/out" "ShippedToAzureDC"

	echo "--- $K: the dock writes two disks the data must span"
	tmpfs "$T/$K/x1" 40m
	tmpfs "$T/$K/x2" 40m
	dc_export exp-$K "EX-1=$T/$K/x1" "EX-2=$T/$K/x2" || { cat "$T/dc-export.out"; fail "offseed-dc export failed"; }
	expect_exit 0 ofs export status --job exp-$K --wait --interval 0.2 --timeout 120
	assert_contains "$T/out" "ShippedToCustomer"
	local expect=() i=0
	for d in x1 x2; do
		i=$((i + 1))
		ls "$T/$K/$d"/PageBlob/backups/srv01/containers/*.vhd >/dev/null 2>&1 ||
		    fail "$K: disk $d got no container: the set does not span"
		h=$(sha256sum "$T/$K/$d/offseed-manifest.json" | cut -c1-64)
		assert_contains "$T/out" "$h"
		expect+=(--expect-hash "EX-$i=$h")
	done

	echo "--- $K: on arrival: keyless and deep verify, restore from disks:"
	expect_exit 0 "$OFFSEED" --no-progress verify "${expect[@]}" "$T/$K/x1" "$T/$K/x2"
	# verify prints each disk's manifest hash: the one export status showed
	for h in "${expect[@]}"; do
		[ "$h" = --expect-hash ] || assert_contains "$T/out" "(serial ${h%%=*}) $T/$K/x${h:3:1}: manifest SHA-256 ${h#*=}"
	done
	expect_exit 0 ofs verify --deep "$T/$K/x1" "$T/$K/x2"
	expect_exit 0 ofs restore --repo "disks:$T/$K/x1,$T/$K/x2" latest --target "$T/$K/r"
	same_tree "$SRC" "$(restored "$T/$K/r")" "$K: restore from the exported disks"

	echo "--- $K: the deleted file's data stayed behind"
	ondisk=$(du -sb --apparent-size "$T/$K/x1" "$T/$K/x2" | awk '{ s += $1 } END { print s }')
	seed=$(du -sb --apparent-size "$T/$K/repo/containers" | cut -f1)
	[ "$ondisk" -lt $((seed + 8 * 1048576)) ] ||
	    fail "$K: $ondisk bytes on the disks for a $seed-byte seed: the deleted 40 MB came along"
	if [ "$K" = file ]; then
		# the first backup's data packs (its tree packs, small, may hold trees the last
		# snapshot still uses: trees never share a pack with data)
		comm -13 "$T/$K/data0" "$T/$K/data1" | while read -r p; do
			[ "$(stat -c %s "$LOC/$p")" -gt 1048576 ] && echo "$p"
		done >"$T/$K/data-big"
		[ -s "$T/$K/data-big" ] || fail "the first backup wrote no data pack"
		while read -r p; do
			for d in x1 x2; do
				[ -e "$T/$K/$d/BlockBlob/backups/srv01/$p" ] && fail "$K: $p (the deleted file's) was exported"
			done
		done <"$T/$K/data-big"
	fi
}

flow file
LOCF=$T/file/store/acct/backups/srv01
SRC=$T/file/src DCS=$T/file/dc
export OFFSEED_STATE=$T/file/state OFFSEED_CREDENTIALS=$T/file/cred.json

echo "--- a path-limited export carries that folder only"
expect_exit 0 ofs export create --job exp-path --repo "$LOCF" --contact "$T/contact.json" latest "$SRC/keep/b"
mkdir -p "$T/p1"
dc_export exp-path "PX-1=$T/p1" || { cat "$T/dc-export.out"; fail "path export failed"; }
expect_exit 0 ofs export status --job exp-path --wait --interval 0.2 --timeout 120
expect_exit 0 ofs restore --repo "disks:$T/p1" "latest:$SRC/keep/b" --target "$T/pr"
diff -r "$SRC/keep/b" "$T/pr" || fail "the path-limited restore differs"
expect_exit 0 ofs verify "$T/p1"
# verify --deep checks whole snapshots: the folders left out are named as lacking (exit 4)
expect_exit 4 ofs verify --deep "$T/p1"
assert_contains "$T/out" "keep/a/r1.bin"
grep -q "keep/b/" "$T/out" && fail "verify --deep reports a file the path-limited export carries"
expect_exit 4 ofs restore --repo "disks:$T/p1" "latest:$SRC/keep/a" --target "$T/pa"
assert_contains "$T/err" "is on none of the 1 disks"
# containers travel whole: the folder's own, not all of them
np=$(ls "$T/p1"/PageBlob/backups/srv01/containers | wc -l)
nall=$(ls "$T/file/repo/containers" | wc -l)
[ "$np" -ge 1 ] && [ "$np" -lt "$nall" ] || fail "the path-limited export carried $np of $nall containers"

echo "--- a cancelled export"
expect_exit 0 ofs export create --job exp-cancel --repo "$LOCF" --contact "$T/contact.json" latest
expect_exit 0 ofs export cancel --job exp-cancel --reason "not needed"
expect_exit 1 ofs export status --job exp-cancel --wait --interval 0.2 --timeout 30
mkdir -p "$T/c1"
dc_export exp-cancel "CX-1=$T/c1" && fail "offseed-dc export wrote a cancelled job"
[ -z "$(ls -A "$T/c1")" ] || fail "a cancelled export wrote to the disk"
expect_exit 0 ofs export list
assert_contains "$T/out" "exp-cancel"

echo "--- a listed blob lost from storage: the job ends with errors naming it"
expect_exit 0 ofs export create --job exp-lost --repo "$LOCF" --contact "$T/contact.json" latest
lost=$(cd "$LOCF" && ls containers/*.vhd | head -n 1)
mv "$LOCF/$lost" "$T/lost.vhd"
mkdir -p "$T/l1"
dc_export exp-lost "LX-1=$T/l1"
expect_exit 4 ofs export status --job exp-lost --wait --interval 0.2 --timeout 120
mv "$T/lost.vhd" "$LOCF/$lost"
expect_exit 0 ofs import logs --job exp-lost --out "$T/logs"
grep -rq "$(basename "$lost")" "$T/logs" || fail "the error log does not name the lost blob"

flow azure
echo "68-export-e2e: ok"
