/* Confined reads of a folder whose contents are not trusted (a customer's disk at the
 * datacenter): every path is resolved component by component beneath the folder, never
 * following a symbolic link, and only regular files are ever opened for reading (a FIFO,
 * socket or device is reported from its lstat, never opened). openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it, else openat with
 * O_NOFOLLOW per component. */
#ifndef OFS_BENEATH_H
#define OFS_BENEATH_H

#include <sys/stat.h>

/* The error for "exists but is not a regular file" (negated, like the others). */
#define OFS_BENEATH_NOTREG ENODEV

/* 1 when rel is a path these functions accept: relative, '/'-separated, no empty, "." or
 * ".." component, shorter than PATH_MAX. */
int ofs_beneath_path_ok(const char *rel);

/* lstat of rel beneath the folder rootfd. 0, or a negative errno: -ELOOP a symbolic link
 * on the way (the last component may be one: then 0 and S_ISLNK), -EXDEV rel is not a
 * confined path, -ENOENT / -ENOTDIR absent, others as fstatat. */
int ofs_beneath_stat(int rootfd, const char *rel, struct stat *st);

/* Open the regular file rel beneath rootfd for reading (O_NONBLOCK, O_NOCTTY, O_CLOEXEC).
 * The fd, or a negative errno: -ELOOP a symbolic link anywhere on the path (the last
 * component included), -OFS_BENEATH_NOTREG something other than a regular file (*st tells
 * what), -EXDEV not a confined path, -ENOENT / -ENOTDIR absent. st (may be NULL) receives
 * the file's fstat. */
int ofs_beneath_open(int rootfd, const char *rel, struct stat *st);

/* Open the folder rel beneath rootfd (O_RDONLY | O_DIRECTORY), the same way. */
int ofs_beneath_opendir(int rootfd, const char *rel);

/* Words for a negative result of the functions above, with st (may be NULL) for the kind
 * of a non-regular file: "is a symbolic link (not followed)", "is a FIFO", … or
 * strerror. */
const char *ofs_beneath_strerror(int neg_errno, const struct stat *st);

#endif
