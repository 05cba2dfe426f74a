# Helpers for the disk-set tests (source after lib.sh):
#   mount_disks N SIZE     N tmpfs mounts of SIZE at $T/d1 … $T/dN (unmounted on exit);
#                          a mount that fails fails the test (never falls back to folders)
#   prep_disks REPO JOB DISK…   offseed prep onto the disks with serials TEST-SERIAL-<i>
DISK_MOUNTS=()
trap 'rc=$?; for m in "${DISK_MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
if [ $rc = 0 ]; then rm -rf "$T"; else echo "kept $T"; fi; exit $rc' EXIT

mount_disks() {	# N SIZE
	local i
	for i in $(seq 1 "$1"); do
		mkdir -p "$T/d$i"
		mount -t tmpfs -o "size=$2" tmpfs "$T/d$i" || fail "cannot mount a tmpfs at $T/d$i"
		DISK_MOUNTS+=("$T/d$i")
	done
}

prep_disks() {	# REPO JOB DISK…
	local repo=$1 job=$2 i=0 args=()
	shift 2
	for d in "$@"; do
		i=$((i + 1))
		args+=(--disk "$d" --serial "$d=TEST-SERIAL-$i")
	done
	expect_exit 0 ofs prep --repo "$repo" --job "$job" "${args[@]}"
}
