/* libcurl and libarchive are opened on first use (dlopen) instead of at start-up: loading
 * them and the ~35 libraries they pull in cost every run about 9 ms and 4.5 MB, and most
 * commands use neither. Include this header instead of <curl/curl.h>, <archive.h> and
 * <archive_entry.h>: the API names used in the tree then call through a table resolved
 * once (ofs_curl_api, ofs_archive_api). Code that uses a library first loads it with
 * ofs_dynlib_load_curl / ofs_dynlib_load_archive, which report a missing library as an
 * error naming it and its Debian package. */
#ifndef OFS_DYNLIB_H
#define OFS_DYNLIB_H

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>

#include "error.h"

#define OFS_CURL_FNS(X) \
	X(curl_global_init) X(curl_global_cleanup) X(curl_version_info) X(curl_getdate) \
	X(curl_free) X(curl_slist_append) X(curl_slist_free_all) X(curl_easy_init) \
	X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_perform) X(curl_easy_reset) \
	X(curl_easy_cleanup) X(curl_easy_strerror) X(curl_easy_escape) X(curl_multi_init) \
	X(curl_multi_setopt) X(curl_multi_add_handle) X(curl_multi_remove_handle) \
	X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_info_read) X(curl_multi_cleanup)

#define OFS_ARCHIVE_FNS(X) \
	X(archive_version_string) X(archive_error_string) X(archive_set_error) \
	X(archive_write_new) X(archive_write_set_format_pax) X(archive_write_set_format_option) \
	X(archive_write_open) X(archive_write_header) X(archive_write_data) \
	X(archive_write_finish_entry) X(archive_write_close) X(archive_write_free) \
	X(archive_entry_new) X(archive_entry_free) X(archive_entry_copy_pathname) \
	X(archive_entry_copy_hardlink) X(archive_entry_copy_symlink) X(archive_entry_copy_uname) \
	X(archive_entry_copy_gname) X(archive_entry_set_filetype) X(archive_entry_set_perm) \
	X(archive_entry_set_uid) X(archive_entry_set_gid) X(archive_entry_set_size) \
	X(archive_entry_set_mtime) X(archive_entry_set_rdev) X(archive_entry_sparse_add_entry) \
	X(archive_entry_xattr_add_entry)

#define OFS_DL_MEMBER(f) __typeof__(f) *f;
struct ofs_curl_api {
	OFS_CURL_FNS(OFS_DL_MEMBER)
};
struct ofs_archive_api {
	OFS_ARCHIVE_FNS(OFS_DL_MEMBER)
};
#undef OFS_DL_MEMBER

/* Load libcurl / libarchive and resolve their tables (once, thread-safe; later calls give
 * the first outcome). Returns 0, or OFS_ERR_UNAVAILABLE with err naming the library, the
 * loader's reason and the Debian package to install (or the missing symbol of a too old
 * version). Every entry point that uses a library calls this first: ofs_azblob_open,
 * ofs_jobclient_new, offseed dump and doctor, offseed-dc's admin client. */
int ofs_dynlib_load_curl(struct ofs_error *err);
int ofs_dynlib_load_archive(struct ofs_error *err);

/* The tables behind the API names below. Calling one before its load succeeded is a
 * programming error: it aborts instead of jumping through a NULL pointer. */
const struct ofs_curl_api *ofs_curl_api(void);
const struct ofs_archive_api *ofs_archive_api(void);

#ifndef OFS_DYNLIB_IMPL
/* curl's type-checking wrappers are macros of the same names */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define OFS_DL_CURL(f) (ofs_curl_api()->f)
#define OFS_DL_ARCHIVE(f) (ofs_archive_api()->f)
#define curl_global_init OFS_DL_CURL(curl_global_init)
#define curl_global_cleanup OFS_DL_CURL(curl_global_cleanup)
#define curl_version_info OFS_DL_CURL(curl_version_info)
#define curl_getdate OFS_DL_CURL(curl_getdate)
#define curl_free OFS_DL_CURL(curl_free)
#define curl_slist_append OFS_DL_CURL(curl_slist_append)
#define curl_slist_free_all OFS_DL_CURL(curl_slist_free_all)
#define curl_easy_init OFS_DL_CURL(curl_easy_init)
#define curl_easy_setopt OFS_DL_CURL(curl_easy_setopt)
#define curl_easy_getinfo OFS_DL_CURL(curl_easy_getinfo)
#define curl_easy_perform OFS_DL_CURL(curl_easy_perform)
#define curl_easy_reset OFS_DL_CURL(curl_easy_reset)
#define curl_easy_cleanup OFS_DL_CURL(curl_easy_cleanup)
#define curl_easy_strerror OFS_DL_CURL(curl_easy_strerror)
#define curl_easy_escape OFS_DL_CURL(curl_easy_escape)
#define curl_multi_init OFS_DL_CURL(curl_multi_init)
#define curl_multi_setopt OFS_DL_CURL(curl_multi_setopt)
#define curl_multi_add_handle OFS_DL_CURL(curl_multi_add_handle)
#define curl_multi_remove_handle OFS_DL_CURL(curl_multi_remove_handle)
#define curl_multi_perform OFS_DL_CURL(curl_multi_perform)
#define curl_multi_poll OFS_DL_CURL(curl_multi_poll)
#define curl_multi_info_read OFS_DL_CURL(curl_multi_info_read)
#define curl_multi_cleanup OFS_DL_CURL(curl_multi_cleanup)
#define archive_version_string OFS_DL_ARCHIVE(archive_version_string)
#define archive_error_string OFS_DL_ARCHIVE(archive_error_string)
#define archive_set_error OFS_DL_ARCHIVE(archive_set_error)
#define archive_write_new OFS_DL_ARCHIVE(archive_write_new)
#define archive_write_set_format_pax OFS_DL_ARCHIVE(archive_write_set_format_pax)
#define archive_write_set_format_option OFS_DL_ARCHIVE(archive_write_set_format_option)
#define archive_write_open OFS_DL_ARCHIVE(archive_write_open)
#define archive_write_header OFS_DL_ARCHIVE(archive_write_header)
#define archive_write_data OFS_DL_ARCHIVE(archive_write_data)
#define archive_write_finish_entry OFS_DL_ARCHIVE(archive_write_finish_entry)
#define archive_write_close OFS_DL_ARCHIVE(archive_write_close)
#define archive_write_free OFS_DL_ARCHIVE(archive_write_free)
#define archive_entry_new OFS_DL_ARCHIVE(archive_entry_new)
#define archive_entry_free OFS_DL_ARCHIVE(archive_entry_free)
#define archive_entry_copy_pathname OFS_DL_ARCHIVE(archive_entry_copy_pathname)
#define archive_entry_copy_hardlink OFS_DL_ARCHIVE(archive_entry_copy_hardlink)
#define archive_entry_copy_symlink OFS_DL_ARCHIVE(archive_entry_copy_symlink)
#define archive_entry_copy_uname OFS_DL_ARCHIVE(archive_entry_copy_uname)
#define archive_entry_copy_gname OFS_DL_ARCHIVE(archive_entry_copy_gname)
#define archive_entry_set_filetype OFS_DL_ARCHIVE(archive_entry_set_filetype)
#define archive_entry_set_perm OFS_DL_ARCHIVE(archive_entry_set_perm)
#define archive_entry_set_uid OFS_DL_ARCHIVE(archive_entry_set_uid)
#define archive_entry_set_gid OFS_DL_ARCHIVE(archive_entry_set_gid)
#define archive_entry_set_size OFS_DL_ARCHIVE(archive_entry_set_size)
#define archive_entry_set_mtime OFS_DL_ARCHIVE(archive_entry_set_mtime)
#define archive_entry_set_rdev OFS_DL_ARCHIVE(archive_entry_set_rdev)
#define archive_entry_sparse_add_entry OFS_DL_ARCHIVE(archive_entry_sparse_add_entry)
#define archive_entry_xattr_add_entry OFS_DL_ARCHIVE(archive_entry_xattr_add_entry)
#endif

#endif
