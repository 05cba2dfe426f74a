/* The mounted disks prep writes to: free capacity (statvfs) and the disk's serial number
 * (hardware serial from sysfs/udev, an operator's --serial, or a stable id file). */
#ifndef OFS_DISK_H
#define OFS_DISK_H

#include <stdint.h>

#include "error.h"

#define OFS_DISK_ID_NAME ".offseed-disk-id"
#define OFS_DISK_SERIAL_MAX 128

struct ofs_disk_space {
	uint64_t avail;		/* bytes an unprivileged writer may still use (f_bavail) */
	uint64_t total;		/* size of the filesystem (f_blocks) */
	uint64_t block;		/* allocation unit (f_frsize, at least 512) */
	uint64_t dev;		/* st_dev of the folder: disks with the same value share space */
};

/* statvfs + stat of path. Missing or not a directory → OFS_ERR_USAGE naming it. */
int ofs_disk_space(const char *path, struct ofs_disk_space *out, struct ofs_error *err);

/* Hardware serial of the block device holding mount point mnt, or NULL (not an error) when
 * mnt is not the root of a mounted filesystem or its device has no serial. Looks up
 * major:minor in /proc/self/mountinfo (or st_rdev of the mount source), then
 * /sys/dev/block/M:m/device/serial, its parent's device/serial (partitions), then udev's
 * ID_SERIAL_SHORT / ID_SERIAL in /run/udev/data/bM:m. Returned string is owned, trimmed,
 * with characters outside ofs_disk_serial_ok's set replaced by '_'.
 * sysroot (NULL for the real system) prefixes /proc, /sys, /run and /dev, for tests. */
char *ofs_disk_hw_serial(const char *mnt, const char *sysroot);

/* 1 if s is a usable serial: 1..OFS_DISK_SERIAL_MAX characters of [A-Za-z0-9._:+-] (safe
 * as a JSON key, in SERIAL=PATH arguments and in file names). */
int ofs_disk_serial_ok(const char *s);

/* Where a serial came from. */
enum ofs_serial_src { OFS_SERIAL_HW = 1, OFS_SERIAL_OPTION, OFS_SERIAL_IDFILE, OFS_SERIAL_NEW };

/* The serial for disk mnt: override if non-NULL, else the hardware serial, else the
 * contents of mnt/.offseed-disk-id. If none exists, *serial gets a fresh random id
 * "OFS-<16 hex>" and *src OFS_SERIAL_NEW: the caller writes it with ofs_disk_write_id once
 * it decides to write to the disk. A malformed id file or override → OFS_ERR_USAGE. */
int ofs_disk_serial(const char *mnt, const char *override, char **serial,
    enum ofs_serial_src *src, struct ofs_error *err);

/* Durably write serial to mnt/.offseed-disk-id. */
int ofs_disk_write_id(const char *mnt, const char *serial, struct ofs_error *err);

#endif
