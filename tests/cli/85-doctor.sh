#!/bin/bash
# offseed doctor: every check passes, warns or fails with the exit code of SPEC 4.4 for the
# first failure. Real services: offseed-dc (credentials, reachability, clock from its Date
# header) and Azurite (an azure:// repository); real small tmpfs mounts for free space.
. "$(dirname "$0")/55-dc-lib.sh"
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
need node
MOUNTS=()
trap 'rc=$?; for p in $DC_PIDS; do kill -9 "$p" 2>/dev/null; done
	"$TOP/tools/azurite.sh" stop "$T/az" 2>/dev/null
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT
small_fs() {	# DIR SIZE: a real filesystem of that size at DIR
	mkdir -p "$1"
	mount -t tmpfs -o size="$2" tmpfs "$1" || fail "cannot mount a tmpfs at $1 (this test needs root)"
	MOUNTS+=("$1")
}
check() {	# NAME FIELD: the field of the named check in the --json summary in $T/out
	python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c = [c for c in d["checks"] if c["check"] == sys.argv[2]]
print(c[-1][sys.argv[3]] if c else "absent")' "$T/out" "$1" "$2"
}
summary() { python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(d[sys.argv[2]])' "$T/out" "$1"; }

expect_exit 0 ofs doctor --help
assert_contains "$T/out" "usage: offseed doctor"
expect_exit 2 ofs doctor --need lots
assert_contains "$T/err" "invalid --need 'lots'"
expect_exit 2 ofs doctor extra

# Nothing given: version, state and clock, all ok.
expect_exit 0 ofs doctor
assert_contains "$T/out" "ok    version      offseed "
assert_contains "$T/out" "ok    state        '$T/state'"
assert_contains "$T/out" "no service reached"
expect_exit 0 ofs --json doctor
[ "$(summary ok)" = True ] && [ "$(summary exit_code)" = 0 ] || fail "doctor not ok: $(cat "$T/out")"
[ "$(check version repository_format)" = 1 ] || fail "no repository format in: $(cat "$T/out")"

# A staging repository: opens without the passphrase; its folder's free space against --need.
small_fs "$T/small" 8m
expect_exit 0 ofs init --repo "$T/small/repo"
expect_exit 0 ofs --json doctor --repo "$T/small/repo" --need 1M
[ "$(check repository status)" = ok ] || fail "repository check: $(cat "$T/out")"
[ "$(check repository format)" = 1 ] || fail "repository format: $(cat "$T/out")"
expect_exit 0 ofs doctor --repo "$T/small/repo" --need 64M
grep -q "^warn  repository   '$T/small/repo' .* less than 64.0 MiB" "$T/out" ||
    fail "a full staging folder should warn: $(cat "$T/out")"
# A repository from a newer format: exit 7 naming both versions.
expect_exit 7 ofs doctor --repo "$TOP/tests/fixtures/newer-repo"
grep -q "^FAIL  repository .*version" "$T/out" || fail "no version failure: $(cat "$T/out")"
expect_exit 2 ofs doctor --repo "$T/nothing-here"
grep -q "^FAIL  repository .*nothing-here" "$T/out" || fail "a missing repository is not named: $(cat "$T/out")"

# Disks: free space and serial; a missing one is a usage error (exit 2).
small_fs "$T/disk1" 16m
expect_exit 0 ofs --json doctor --disk "$T/disk1"
[ "$(check disk status)" = ok ] || fail "disk check: $(cat "$T/out")"
[ "$(check disk bytes_total)" = $((16 * 1048576)) ] || fail "disk size: $(cat "$T/out")"
[ "$(check disk serial_source)" = none ] || fail "a tmpfs has no serial: $(cat "$T/out")"
expect_exit 0 ofs doctor --disk "$T/disk1"
[ -e "$T/disk1/.offseed-disk-id" ] && fail "doctor wrote on the disk"
expect_exit 2 ofs doctor --disk "$T/disk1" --disk "$T/no-disk"
assert_contains "$T/out" "FAIL  disk         cannot use disk '$T/no-disk'"

# The state dir's volume without the 64 MiB stage needs: exit 9.
small_fs "$T/tight" 4m
expect_exit 9 ofs --state "$T/tight/state" doctor
assert_contains "$T/out" "stage and backup need 64.0 MiB free there"

# Credentials: valid and the service answers (clock compared with its Date header)...
dc_start
dc_creds "$T/cred.json"
chmod 600 "$T/cred.json"
expect_exit 0 ofs --json --credentials "$T/cred.json" doctor
[ "$(check credentials status)" = ok ] || fail "credentials check: $(cat "$T/out")"
[ "$(check credentials jobs)" = 0 ] || fail "job count: $(cat "$T/out")"
skew=$(check clock skew_seconds)
[ "$skew" != absent ] && [ "$skew" -le 5 ] || fail "the clock was not compared with the service: $(cat "$T/out")"
# ... expiring within 2 days: a warning, still exit 0 ...
python3 - "$T/cred.json" "$T/soon.json" "$T/old.json" <<'PY'
import datetime, json, sys
c = json.load(open(sys.argv[1]))
now = datetime.datetime.now(datetime.timezone.utc)
for path, delta in ((sys.argv[2], datetime.timedelta(hours=20)), (sys.argv[3], datetime.timedelta(days=-1))):
    c["expires"] = (now + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    json.dump(c, open(path, "w"))
PY
chmod 600 "$T/soon.json" "$T/old.json"
expect_exit 0 ofs --credentials "$T/soon.json" doctor
grep -q "^warn  credentials  '$T/soon.json' expires on" "$T/out" || fail "no expiry warning: $(cat "$T/out")"
# ... expired: exit 5; unparsable: exit 5.
expect_exit 5 ofs --credentials "$T/old.json" doctor
assert_contains "$T/out" "expired on"
echo '{"endpoint":' >"$T/bad.json"
expect_exit 5 ofs --credentials "$T/bad.json" doctor
assert_contains "$T/out" "not a valid credentials file"
# The service gone: exit 8, promptly.
dc_stop
t0=$(date +%s)
expect_exit 8 ofs --credentials "$T/cred.json" doctor
[ $(( $(date +%s) - t0 )) -le 20 ] || fail "doctor took over 20 s on an unreachable service"
grep -q "^FAIL  credentials  the import service at" "$T/out" || fail "no reachability failure: $(cat "$T/out")"

# An azure:// repository in Azurite: absent, then present after a backup.
port=$(AZURITE_OWNER_PID=$$ "$TOP/tools/azurite.sh" start "$T/az") || fail "Azurite did not start"
export OFFSEED_AZURE_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
export OFFSEED_AZURE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export OFFSEED_AZURE_RETRIES=2 OFFSEED_AZURE_RETRY_MS=100
R=azure://devstoreaccount1/doctor/srv
expect_exit 2 ofs doctor --repo "$R"
grep -q "^FAIL  repository" "$T/out" || fail "an empty cloud location should fail: $(cat "$T/out")"
mkdir -p "$T/src" && echo hello >"$T/src/f"
expect_exit 0 ofs init --repo "$R"
expect_exit 0 ofs --json doctor --repo "$R"
[ "$(check repository status)" = ok ] || fail "cloud repository check: $(cat "$T/out")"
skew=$(check clock skew_seconds)
[ "$skew" != absent ] && [ "$skew" -le 5 ] || fail "the clock was not compared with Azurite: $(cat "$T/out")"
echo ok
