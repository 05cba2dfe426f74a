/* Containers: fixed VHD disk images holding [superblock 4 KiB][pack]…[sealed container
 * index][trailer 4 KiB][zeros to a 1 MiB multiple][VHD footer 512 B]. Written once,
 * sealed by rename, never modified. */
#ifndef OFS_CONTAINER_H
#define OFS_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"
#include "index.h"
#include "manifest.h"

#define OFS_CONTAINER_VERSION 1
#define OFS_SUPERBLOCK_SIZE 4096
#define OFS_TRAILER_SIZE 4096
#define OFS_VHD_FOOTER_SIZE 512
#define OFS_PACK_ALIGN 4096
#define OFS_VHD_ALIGN (1u << 20)
#define OFS_CONTAINER_MAX (2040ULL << 30)
#define OFS_CONTAINER_DEFAULT (16ULL << 30)

struct ofs_superblock {
	uint32_t version;
	uint8_t repo_id[16];
	uint8_t set_id[16];
	uint32_t seq;
	int64_t created;	/* unix seconds */
};

struct ofs_trailer {
	uint32_t version;
	uint64_t index_offset, index_length;
	uint32_t pack_count;
	uint64_t payload_length;	/* bytes before the zero padding (ends after the trailer) */
};

struct ofs_vhd_footer {
	uint64_t current_size, original_size;
	uint32_t disk_type;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint8_t uid[16];
	uint32_t timestamp;
};

void ofs_superblock_encode(const struct ofs_superblock *sb, uint8_t out[OFS_SUPERBLOCK_SIZE]);
/* Checks magic, checksum; newer version → OFS_ERR_VERSION naming both versions. `what`
 * names the file in messages. */
int ofs_superblock_parse(const uint8_t *in, size_t len, const char *what,
    struct ofs_superblock *sb, struct ofs_error *err);
void ofs_trailer_encode(const struct ofs_trailer *t, uint8_t out[OFS_TRAILER_SIZE]);
int ofs_trailer_parse(const uint8_t *in, size_t len, const char *what, struct ofs_trailer *t,
    struct ofs_error *err);
/* Fixed-disk footer for a virtual size (multiple of 1 MiB) that QEMU 7.2 reports exactly. */
void ofs_vhd_footer_encode(uint64_t size, const uint8_t uid[16], int64_t created,
    uint8_t out[OFS_VHD_FOOTER_SIZE]);
int ofs_vhd_footer_parse(const uint8_t *in, size_t len, const char *what,
    struct ofs_vhd_footer *f, struct ofs_error *err);

/* Writing. The file is written at a temporary path and renamed when sealed. Every byte
 * written is also fed to a region hasher so sealing yields the manifest hashes without a
 * second read. */
struct ofs_cwriter;
/* Create tmp_path and write the superblock. */
int ofs_cwriter_create(const char *tmp_path, const struct ofs_superblock *sb, uint64_t region_size,
    struct ofs_cwriter **out, struct ofs_error *err);
/* Reopen tmp_path after a crash: truncate to committed (a length returned by ofs_cwriter_length
 * at a checkpoint), re-hash the kept prefix, check its superblock against sb. */
int ofs_cwriter_resume(const char *tmp_path, const struct ofs_superblock *sb, uint64_t committed,
    uint64_t region_size, struct ofs_cwriter **out, struct ofs_error *err);
/* Length of the file so far (the offset where the next pack will start after alignment). */
uint64_t ofs_cwriter_length(const struct ofs_cwriter *w);
/* Bytes the sealed file would take if a pack of pack_len were appended now and the container
 * sealed with an index of index_len (for the container-size limit). */
uint64_t ofs_cwriter_sealed_size(const struct ofs_cwriter *w, uint64_t pack_len, uint64_t index_len);
/* Pad to OFS_PACK_ALIGN, append the pack, return its offset. ENOSPC → OFS_ERR_NOSPACE. */
int ofs_cwriter_append(struct ofs_cwriter *w, const void *pack, size_t len, uint64_t *offset,
    struct ofs_error *err);
/* Streaming form of ofs_cwriter_append for writers that send a pack blob by blob: pad to
 * OFS_PACK_ALIGN and return the offset where the next pack starts … */
int ofs_cwriter_align(struct ofs_cwriter *w, uint64_t *offset, struct ofs_error *err);
/* … then append bytes with no padding; also (may be NULL) is fed the same bytes while they
 * are in cache (a pack's own checksum). ENOSPC → OFS_ERR_NOSPACE. */
int ofs_cwriter_write(struct ofs_cwriter *w, const void *p, size_t n, struct ofs_xxh *also,
    struct ofs_error *err);
/* fdatasync: everything appended so far is durable (a checkpoint). */
int ofs_cwriter_sync(struct ofs_cwriter *w, struct ofs_error *err);
/* Append the sealed index, trailer, zero padding and VHD footer; fsync; rename to
 * final_path; fsync the folder. hashes (may be NULL) receives the file's manifest hashes.
 * The writer is freed whatever the outcome. */
int ofs_cwriter_seal(struct ofs_cwriter *w, const void *sealed_index, size_t index_len,
    uint32_t pack_count, const char *final_path, struct ofs_file_hashes *hashes,
    struct ofs_error *err);
/* Close without sealing (the temporary file stays for a resume). */
void ofs_cwriter_abort(struct ofs_cwriter *w);

/* Reading a sealed container: footer, superblock and trailer checked on open. */
struct ofs_container {
	int fd;
	char *path;
	uint64_t file_size;
	struct ofs_vhd_footer footer;
	struct ofs_superblock sb;
	struct ofs_trailer tr;
};

int ofs_container_open(const char *path, struct ofs_container **out, struct ofs_error *err);
/* The same on a file already open for reading; takes fd (closed on failure too). path
 * names the container in messages. */
int ofs_container_open_fd(int fd, const char *path, struct ofs_container **out,
    struct ofs_error *err);
void ofs_container_close(struct ofs_container *c);
/* Read the sealed container index (decrypt with ofs_blob_open, type OFS_OBJ_CONTAINER_INDEX). */
int ofs_container_read_index(struct ofs_container *c, struct ofs_buf *sealed, struct ofs_error *err);
int ofs_container_pread(struct ofs_container *c, void *buf, size_t len, uint64_t off,
    struct ofs_error *err);
/* The 32-byte object id that seals a container index: set ‖ seq (u32 le) ‖ zeros. */
void ofs_container_index_id(const uint8_t set[16], uint32_t seq, uint8_t id[OFS_ID_LEN]);

#endif
