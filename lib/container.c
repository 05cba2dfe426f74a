/* Containers: the superblock, trailer and fixed-VHD footer codecs, the streaming container
 * writer (append packs, checkpoint, resume, seal by rename) and the checked reader.
 * Byte layout: docs/FORMAT.md. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "util.h"

#define SB_MAGIC "OFSCONT\0"
#define TR_MAGIC "OFSTRAIL"
#define HDR_SUM_OFF 4088	/* XXH3-64 of bytes [0, 4088) in superblock and trailer */
#define VHD_TIMESTAMP_BASE 946684800LL
#define VHD_MAX_SIZE (2040ULL << 30)
#define RESUME_READ (8u << 20)

static uint8_t zeros[64 << 10];	/* never written: a source of zero bytes */

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- superblock ------------------------------------------------------------------------ */

void
ofs_superblock_encode(const struct ofs_superblock *sb, uint8_t out[OFS_SUPERBLOCK_SIZE])
{
	memset(out, 0, OFS_SUPERBLOCK_SIZE);
	memcpy(out, SB_MAGIC, 8);
	ofs_put_u32le(out + 8, sb->version);
	ofs_put_u32le(out + 12, OFS_SUPERBLOCK_SIZE);
	memcpy(out + 16, sb->repo_id, 16);
	memcpy(out + 32, sb->set_id, 16);
	ofs_put_u32le(out + 48, sb->seq);
	ofs_put_u64le(out + 56, (uint64_t)sb->created);
	ofs_put_u64le(out + HDR_SUM_OFF, ofs_xxh64(out, HDR_SUM_OFF));
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Common checks of the two 4 KiB headers; kind is "superblock" or "trailer". */
static int
header_check(const uint8_t *in, size_t len, const char *magic, const char *kind,
    const char *what, uint32_t *version, struct ofs_error *err)
{
	uint64_t want, got;
	uint32_t v, hsize;

	if (len < 4096)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: %s truncated (%zu of 4096 bytes)",
		    what, kind, len);
	if (memcmp(in, magic, 8) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: bad %s magic", what, kind);
	v = ofs_get_u32le(in + 8);
	if (v == 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: %s version 0 is invalid", what, kind);
	/* Version before checksum: a newer format may lay the header out differently. */
	if (v > OFS_CONTAINER_VERSION)
		return ofs_err_set(err, OFS_ERR_VERSION,
		    "%s: container format version %u is newer than this offseed supports "
		    "(version %u); upgrade offseed", what, v, OFS_CONTAINER_VERSION);
	want = ofs_get_u64le(in + HDR_SUM_OFF);
	got = ofs_xxh64(in, HDR_SUM_OFF);
	if (want != got)
		return ofs_err_set(err, OFS_ERR_CORRUPT,
		    "%s: %s checksum mismatch (stored %016llx, computed %016llx)", what, kind,
		    (unsigned long long)want, (unsigned long long)got);
	hsize = ofs_get_u32le(in + 12);
	if (hsize != 4096)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: %s size %u is not 4096", what,
		    kind, hsize);
	*version = v;
	return 0;
}

int
ofs_superblock_parse(const uint8_t *in, size_t len, const char *what, struct ofs_superblock *sb,
    struct ofs_error *err)
{
	uint32_t v;
	int r;

	memset(sb, 0, sizeof(*sb));
	if ((r = header_check(in, len, SB_MAGIC, "superblock", what, &v, err)) != 0)
		return r;
	if (ofs_get_u32le(in + 52) != 0 || !all_zero(in + 64, HDR_SUM_OFF - 64))
		return ofs_err_set(err, OFS_ERR_CORRUPT,
		    "%s: superblock reserved bytes are not zero", what);
	sb->version = v;
	memcpy(sb->repo_id, in + 16, 16);
	memcpy(sb->set_id, in + 32, 16);
	sb->seq = ofs_get_u32le(in + 48);
	sb->created = (int64_t)ofs_get_u64le(in + 56);
	return 0;
}

/* ---- trailer --------------------------------------------------------------------------- */

void
ofs_trailer_encode(const struct ofs_trailer *t, uint8_t out[OFS_TRAILER_SIZE])
{
	memset(out, 0, OFS_TRAILER_SIZE);
	memcpy(out, TR_MAGIC, 8);
	ofs_put_u32le(out + 8, t->version);
	ofs_put_u32le(out + 12, OFS_TRAILER_SIZE);
	ofs_put_u64le(out + 16, t->index_offset);
	ofs_put_u64le(out + 24, t->index_length);
	ofs_put_u32le(out + 32, t->pack_count);
	ofs_put_u64le(out + 40, t->payload_length);
	ofs_put_u64le(out + HDR_SUM_OFF, ofs_xxh64(out, HDR_SUM_OFF));
}

int
ofs_trailer_parse(const uint8_t *in, size_t len, const char *what, struct ofs_trailer *t,
    struct ofs_error *err)
{
	uint32_t v;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = header_check(in, len, TR_MAGIC, "trailer", what, &v, err)) != 0)
		return r;
	if (ofs_get_u32le(in + 36) != 0 || !all_zero(in + 48, HDR_SUM_OFF - 48))
		return ofs_err_set(err, OFS_ERR_CORRUPT,
		    "%s: trailer reserved bytes are not zero", what);
	t->version = v;
	t->index_offset = ofs_get_u64le(in + 16);
	t->index_length = ofs_get_u64le(in + 24);
	t->pack_count = ofs_get_u32le(in + 32);
	t->payload_length = ofs_get_u64le(in + 40);
	/* Self-consistency; the position in the file is checked by the reader. */
	if (t->payload_length < 2 * 4096 || t->payload_length % 4096 != 0 ||
	    t->payload_length > OFS_CONTAINER_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: trailer payload length %llu is "
		    "invalid", what, (unsigned long long)t->payload_length);
	if (t->index_offset < OFS_SUPERBLOCK_SIZE || t->index_offset % OFS_PACK_ALIGN != 0 ||
	    t->index_offset > t->payload_length - OFS_TRAILER_SIZE ||
	    t->index_length > t->payload_length - OFS_TRAILER_SIZE - t->index_offset ||
	    align_up(t->index_offset + t->index_length, OFS_PACK_ALIGN) !=
	    t->payload_length - OFS_TRAILER_SIZE)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: trailer index at offset %llu "
		    "length %llu does not end where the trailer starts (offset %llu)", what,
		    (unsigned long long)t->index_offset, (unsigned long long)t->index_length,
		    (unsigned long long)(t->payload_length - OFS_TRAILER_SIZE));
	/* Each non-empty pack starts on its own 4 KiB block between superblock and index. */
	if (t->pack_count > (t->index_offset - OFS_SUPERBLOCK_SIZE) / OFS_PACK_ALIGN)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: trailer pack count %u cannot fit "
		    "before the index at offset %llu", what, t->pack_count,
		    (unsigned long long)t->index_offset);
	return 0;
}

/* ---- VHD footer ------------------------------------------------------------------------ */

static uint32_t
vhd_checksum(const uint8_t *f)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < OFS_VHD_FOOTER_SIZE; i++)
		if (i < 0x40 || i >= 0x44)
			sum += f[i];
	return ~sum;
}

/* CHS geometry per the VHD specification's appendix (rounds down; saturates). */
static void
vhd_geometry(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
	uint64_t ts = size / 512, cth;
	uint32_t h, s;

	if (ts > 65535ULL * 16 * 255)
		ts = 65535ULL * 16 * 255;
	if (ts >= 65535ULL * 16 * 63) {
		s = 255;
		h = 16;
		cth = ts / s;
	} else {
		s = 17;
		cth = ts / s;
		h = (uint32_t)((cth + 1023) / 1024);
		if (h < 4)
			h = 4;
		if (cth >= (uint64_t)h * 1024 || h > 16) {
			s = 31;
			h = 16;
			cth = ts / s;
		}
		if (cth >= (uint64_t)h * 1024) {
			s = 63;
			h = 16;
			cth = ts / s;
		}
	}
	*cyl = (uint16_t)(cth / h);
	*heads = (uint8_t)h;
	*spt = (uint8_t)s;
}

void
ofs_vhd_footer_encode(uint64_t size, const uint8_t uid[16], int64_t created,
    uint8_t out[OFS_VHD_FOOTER_SIZE])
{
	int64_t ts = created - VHD_TIMESTAMP_BASE;
	uint16_t cyl;
	uint8_t heads, spt;

	if (ts < 0)
		ts = 0;
	if (ts > UINT32_MAX)
		ts = UINT32_MAX;
	vhd_geometry(size, &cyl, &heads, &spt);
	memset(out, 0, OFS_VHD_FOOTER_SIZE);
	memcpy(out, "conectix", 8);
	ofs_put_u32be(out + 0x08, 0x00000002);		/* features: reserved bit */
	ofs_put_u32be(out + 0x0C, 0x00010000);		/* file format version 1.0 */
	ofs_put_u64be(out + 0x10, UINT64_MAX);		/* data offset: fixed disk */
	ofs_put_u32be(out + 0x18, (uint32_t)ts);
	memcpy(out + 0x1C, "win ", 4);			/* QEMU sizes "win " by current size */
	ofs_put_u32be(out + 0x20, 0x000a0000);		/* creator version 10.0 */
	memcpy(out + 0x24, "Wi2k", 4);
	ofs_put_u64be(out + 0x28, size);		/* original size */
	ofs_put_u64be(out + 0x30, size);		/* current size */
	ofs_put_u16be(out + 0x38, cyl);
	out[0x3A] = heads;
	out[0x3B] = spt;
	ofs_put_u32be(out + 0x3C, 2);			/* fixed */
	memcpy(out + 0x44, uid, 16);
	ofs_put_u32be(out + 0x40, vhd_checksum(out));
}

int
ofs_vhd_footer_parse(const uint8_t *in, size_t len, const char *what, struct ofs_vhd_footer *f,
    struct ofs_error *err)
{
	uint32_t want, got;

	memset(f, 0, sizeof(*f));
	if (len < OFS_VHD_FOOTER_SIZE)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD footer truncated (%zu of 512 "
		    "bytes)", what, len);
	if (memcmp(in, "conectix", 8) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD footer cookie is not 'conectix'",
		    what);
	want = ofs_get_u32be(in + 0x40);
	got = vhd_checksum(in);
	if (want != got)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD footer checksum mismatch "
		    "(stored %08x, computed %08x)", what, want, got);
	f->disk_type = ofs_get_u32be(in + 0x3C);
	if (f->disk_type != 2)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD disk type %u is not fixed (2)",
		    what, f->disk_type);
	if (ofs_get_u64be(in + 0x10) != UINT64_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD data offset of a fixed disk is "
		    "not all ones", what);
	f->current_size = ofs_get_u64be(in + 0x30);
	f->original_size = ofs_get_u64be(in + 0x28);
	if (f->current_size == 0 || f->current_size % 512 != 0 ||
	    f->current_size > VHD_MAX_SIZE)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD current size %llu is invalid",
		    what, (unsigned long long)f->current_size);
	f->cylinders = ofs_get_u16be(in + 0x38);
	f->heads = in[0x3A];
	f->sectors = in[0x3B];
	memcpy(f->uid, in + 0x44, 16);
	f->timestamp = ofs_get_u32be(in + 0x18);
	return 0;
}

/* ---- writer ---------------------------------------------------------------------------- */

/* Small writes (the blobs of a tree of small files: one per file) are gathered into one
 * pwrite of up to CW_BUF bytes; a 50k-file stage made 48k pwrites before. */
#define CW_BUF (256u << 10)
#define CW_PIECE (256u << 10)	/* larger writes: hashed and written piece by piece */

struct ofs_cwriter {
	int fd;
	char *path;
	uint64_t len;		/* bytes written, the last wbn of them still in wb */
	uint8_t *wb;
	size_t wbn;
	uint64_t region_size;
	struct ofs_hasher *h;
	struct ofs_superblock sb;
};

static void
cw_free(struct ofs_cwriter *w)
{
	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	ofs_hasher_free(w->h);
	free(w->wb);
	free(w->path);
	free(w);
}

static int
write_failed(struct ofs_cwriter *w, int e, uint64_t at, uint64_t needed, struct ofs_error *err)
{
	if (ftruncate(w->fd, (off_t)at) == -1) {
		/* keep the first error */
	}
	if (e == ENOSPC || e == EDQUOT)
		return ofs_err_sys(err, OFS_ERR_NOSPACE, e,
		    "cannot write container '%s' (%llu bytes still needed)", w->path,
		    (unsigned long long)needed);
	return ofs_err_sys(err, OFS_ERR_IO, e, "cannot write container '%s' at offset %llu",
	    w->path, (unsigned long long)at);
}

/* Write out the gathered bytes. On failure the file is cut back to what was written
 * before them and the writer is good only for ofs_cwriter_abort. */
static int
cw_flush(struct ofs_cwriter *w, uint64_t more, struct ofs_error *err)
{
	uint64_t at = w->len - w->wbn;
	int e;

	if (w->wbn == 0)
		return 0;
	if ((e = -ofs_pwrite_all(w->fd, w->wb, w->wbn, at)) != 0)
		return write_failed(w, e, at, w->wbn + more, err);
	w->wbn = 0;
	return 0;
}

/* Append n bytes at w->len (zeros when p is NULL). `more` is what the caller will still
 * write after this, for the "bytes still needed" of an ENOSPC message. Writes under half of
 * CW_BUF are gathered; a failed write is cut back as cw_flush says. */
static int
cw_write(struct ofs_cwriter *w, const void *p, size_t n, uint64_t more, struct ofs_xxh *extra,
    struct ofs_error *err)
{
	size_t done = 0, k;
	int e;

	if (w->len + n > OFS_CONTAINER_MAX + OFS_VHD_FOOTER_SIZE)
		return ofs_err_set(err, OFS_ERR_IO, "container '%s' would grow past %llu bytes",
		    w->path, (unsigned long long)OFS_CONTAINER_MAX);
	if (n < CW_BUF / 2) {
		if (w->wbn + n > CW_BUF && (e = cw_flush(w, n + more, err)) != 0)
			return e;
		if (w->wb == NULL)
			w->wb = ofs_xmalloc(CW_BUF);
		if (p == NULL)
			memset(w->wb + w->wbn, 0, n);
		else
			memcpy(w->wb + w->wbn, p, n);
		ofs_hasher_update(w->h, w->wb + w->wbn, n);
		if (extra != NULL && p != NULL)
			ofs_xxh_update(extra, w->wb + w->wbn, n);
		w->wbn += n;
		w->len += n;
		return 0;
	}
	if ((e = cw_flush(w, n + more, err)) != 0)
		return e;
	/* In pieces small enough to stay in cache between the hashers and the copy into the
	 * file: a 4 GiB stage read every byte four times from memory before. */
	while (done < n) {
		const uint8_t *src = p == NULL ? zeros : (const uint8_t *)p + done;

		k = p == NULL ? sizeof(zeros) : CW_PIECE;
		k = n - done < k ? n - done : k;
		ofs_hasher_update(w->h, src, k);
		if (extra != NULL && p != NULL)
			ofs_xxh_update(extra, src, k);
		if ((e = -ofs_pwrite_all(w->fd, src, k, w->len + done)) != 0)
			return write_failed(w, e, w->len, n - done + more, err);
		done += k;
	}
	w->len += n;
	return 0;
}

static int
cw_pad(struct ofs_cwriter *w, uint64_t more, struct ofs_error *err)
{
	uint64_t pad = align_up(w->len, OFS_PACK_ALIGN) - w->len;

	return pad ? cw_write(w, NULL, (size_t)pad, more, NULL, err) : 0;
}

static int
check_region_size(uint64_t region_size, struct ofs_error *err)
{
	if (region_size == 0 || region_size % 4096 != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "region size %llu is not a positive "
		    "multiple of 4096", (unsigned long long)region_size);
	return 0;
}

int
ofs_cwriter_create(const char *tmp_path, const struct ofs_superblock *sb, uint64_t region_size,
    struct ofs_cwriter **out, struct ofs_error *err)
{
	uint8_t hdr[OFS_SUPERBLOCK_SIZE];
	struct ofs_cwriter *w;
	int r;

	*out = NULL;
	if ((r = check_region_size(region_size, err)) != 0)
		return r;
	w = ofs_xcalloc(1, sizeof(*w));
	w->path = ofs_xstrdup(tmp_path);
	w->region_size = region_size;
	w->sb = *sb;
	w->sb.version = OFS_CONTAINER_VERSION;
	w->h = ofs_hasher_new(region_size);
	if ((w->fd = open(tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create container '%s'", tmp_path);
		goto out;
	}
	ofs_superblock_encode(&w->sb, hdr);
	/* written at once: a full disk shows up before the first blob */
	if ((r = cw_write(w, hdr, sizeof(hdr), OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, NULL,
	    err)) != 0 || (r = cw_flush(w, OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, err)) != 0)
		goto out;
	*out = w;
	w = NULL;	/* transferred */
out:
	cw_free(w);
	return r;
}

int
ofs_cwriter_resume(const char *tmp_path, const struct ofs_superblock *sb, uint64_t committed,
    uint64_t region_size, struct ofs_cwriter **out, struct ofs_error *err)
{
	struct ofs_superblock got;
	struct ofs_cwriter *w;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t off;
	size_t n;
	int r, e;

	*out = NULL;
	if ((r = check_region_size(region_size, err)) != 0)
		return r;
	w = ofs_xcalloc(1, sizeof(*w));
	w->path = ofs_xstrdup(tmp_path);
	w->region_size = region_size;
	w->h = ofs_hasher_new(region_size);
	if ((w->fd = open(tmp_path, O_RDWR | O_CLOEXEC)) == -1) {
		r = ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot open container '%s'", tmp_path);
		goto out;
	}
	if (fstat(w->fd, &st) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot stat container '%s'", tmp_path);
		goto out;
	}
	if (committed < OFS_SUPERBLOCK_SIZE || (uint64_t)st.st_size < committed) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "cannot resume container '%s': it has %llu "
		    "bytes, the checkpoint needs %llu", tmp_path, (unsigned long long)st.st_size,
		    (unsigned long long)committed);
		goto out;
	}
	if (ftruncate(w->fd, (off_t)committed) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot truncate container '%s'",
		    tmp_path);
		goto out;
	}
	posix_fadvise(w->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = ofs_xmalloc(RESUME_READ);
	for (off = 0; off < committed; off += n) {
		n = committed - off < RESUME_READ ? (size_t)(committed - off) : RESUME_READ;
		if ((e = -ofs_pread_all(w->fd, buf, n, off)) != 0) {
			r = e == -OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT, "container '%s' "
			    "is shorter than its journal records (%llu bytes)", tmp_path,
			    (unsigned long long)committed) : ofs_err_sys(err, OFS_ERR_IO, e,
			    "cannot read container '%s' at offset %llu", tmp_path,
			    (unsigned long long)off);
			goto out;
		}
		if (off == 0) {
			char what[4200];

			snprintf(what, sizeof(what), "container '%s'", tmp_path);
			if ((r = ofs_superblock_parse(buf, n, what, &got, err)) != 0)
				goto out;
			if (memcmp(got.repo_id, sb->repo_id, 16) != 0 ||
			    memcmp(got.set_id, sb->set_id, 16) != 0 || got.seq != sb->seq) {
				r = ofs_err_set(err, OFS_ERR_CORRUPT, "cannot resume container "
				    "'%s': its superblock belongs to another container", tmp_path);
				goto out;
			}
			w->sb = got;
		}
		ofs_hasher_update(w->h, buf, n);
	}
	w->len = committed;
	*out = w;
	w = NULL;	/* transferred */
out:
	free(buf);
	cw_free(w);
	return r;
}

uint64_t
ofs_cwriter_length(const struct ofs_cwriter *w)
{
	return w->len;
}

uint64_t
ofs_cwriter_sealed_size(const struct ofs_cwriter *w, uint64_t pack_len, uint64_t index_len)
{
	uint64_t end = align_up(w->len, OFS_PACK_ALIGN) + pack_len;

	end = align_up(end, OFS_PACK_ALIGN) + index_len;
	end = align_up(end, OFS_PACK_ALIGN) + OFS_TRAILER_SIZE;
	return align_up(end, OFS_VHD_ALIGN) + OFS_VHD_FOOTER_SIZE;
}

int
ofs_cwriter_append(struct ofs_cwriter *w, const void *pack, size_t len, uint64_t *offset,
    struct ofs_error *err)
{
	uint64_t more = len + OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE;
	int r;

	if ((r = cw_pad(w, more, err)) != 0)
		return r;
	if (offset != NULL)
		*offset = w->len;
	return cw_write(w, pack, len, OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, NULL, err);
}

int
ofs_cwriter_align(struct ofs_cwriter *w, uint64_t *offset, struct ofs_error *err)
{
	int r;

	if ((r = cw_pad(w, OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, err)) != 0)
		return r;
	*offset = w->len;
	return 0;
}

int
ofs_cwriter_write(struct ofs_cwriter *w, const void *p, size_t n, struct ofs_xxh *also,
    struct ofs_error *err)
{
	return cw_write(w, p, n, OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, also, err);
}

int
ofs_cwriter_sync(struct ofs_cwriter *w, struct ofs_error *err)
{
	int r;

	if ((r = cw_flush(w, OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE, err)) != 0)
		return r;
	if (fdatasync(w->fd) == -1)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot sync container '%s'", w->path);
	return 0;
}

int
ofs_cwriter_seal(struct ofs_cwriter *w, const void *sealed_index, size_t index_len,
    uint32_t pack_count, const char *final_path, struct ofs_file_hashes *hashes,
    struct ofs_error *err)
{
	uint8_t tr[OFS_TRAILER_SIZE], foot[OFS_VHD_FOOTER_SIZE], uid[16];
	struct ofs_trailer t;
	uint64_t vsize, tail = OFS_TRAILER_SIZE + OFS_VHD_FOOTER_SIZE;
	char *dircopy = NULL;
	int r;

	if (hashes != NULL)
		memset(hashes, 0, sizeof(*hashes));
	if ((r = cw_pad(w, index_len + tail, err)) != 0)
		goto out;
	memset(&t, 0, sizeof(t));
	t.version = OFS_CONTAINER_VERSION;
	t.index_offset = w->len;
	t.index_length = index_len;
	t.pack_count = pack_count;
	if ((r = cw_write(w, sealed_index, index_len, tail, NULL, err)) != 0 ||
	    (r = cw_pad(w, tail, err)) != 0)
		goto out;
	t.payload_length = w->len + OFS_TRAILER_SIZE;
	vsize = align_up(t.payload_length, OFS_VHD_ALIGN);
	if (vsize > OFS_CONTAINER_MAX) {
		r = ofs_err_set(err, OFS_ERR_IO, "container '%s' would be %llu bytes, more than "
		    "the VHD limit of %llu", w->path, (unsigned long long)vsize,
		    (unsigned long long)OFS_CONTAINER_MAX);
		goto out;
	}
	ofs_trailer_encode(&t, tr);
	if ((r = cw_write(w, tr, sizeof(tr), OFS_VHD_FOOTER_SIZE, NULL, err)) != 0)
		goto out;
	/* Zero padding to the 1 MiB boundary: written as zeros (not a hole) so the file is
	 * fully allocated and a full disk shows up here rather than later. */
	if ((r = cw_write(w, NULL, (size_t)(vsize - w->len), OFS_VHD_FOOTER_SIZE, NULL,
	    err)) != 0)
		goto out;
	ofs_random(uid, sizeof(uid));
	ofs_vhd_footer_encode(vsize, uid, w->sb.created, foot);
	if ((r = cw_write(w, foot, sizeof(foot), 0, NULL, err)) != 0 ||
	    (r = cw_flush(w, 0, err)) != 0)
		goto out;
	if (fsync(w->fd) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot sync container '%s'", w->path);
		goto out;
	}
	if (close(w->fd) == -1) {
		w->fd = -1;
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot close container '%s'", w->path);
		goto out;
	}
	w->fd = -1;
	if (rename(w->path, final_path) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s' to '%s'", w->path,
		    final_path);
		goto out;
	}
	dircopy = ofs_xstrdup(final_path);
	if ((r = ofs_fsync_dir(dirname(dircopy), err)) != 0)
		goto out;
	if (hashes != NULL)
		ofs_hasher_finish(w->h, hashes);
out:
	free(dircopy);
	cw_free(w);
	return r;
}

void
ofs_cwriter_abort(struct ofs_cwriter *w)
{
	cw_free(w);
}

/* ---- reader ---------------------------------------------------------------------------- */

#define TRAILER_WINDOW OFS_VHD_ALIGN

/* A failed read of what at off: the file ended (it shrank after its size was taken:
 * corrupt) or the read failed (I/O, with the errno's words). e is a positive errno or
 * -OFS_READ_EOF. */
static int
read_fail(struct ofs_error *err, int e, const char *what, uint64_t off)
{
	if (e == -OFS_READ_EOF)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s is shorter than its size at offset "
		    "%llu", what, (unsigned long long)off);
	return ofs_err_sys(err, OFS_ERR_IO, e, "cannot read %s at offset %llu", what,
	    (unsigned long long)off);
}

int
ofs_container_open(const char *path, struct ofs_container **out, struct ofs_error *err)
{
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot open container '%s'", path);
	return ofs_container_open_fd(fd, path, out, err);
}

int
ofs_container_open_fd(int fd, const char *path, struct ofs_container **out,
    struct ofs_error *err)
{
	struct ofs_container *c;
	struct stat st;
	uint8_t foot[OFS_VHD_FOOTER_SIZE], *win = NULL;
	uint64_t vsize, wstart, toff;
	size_t wlen, b;
	char *what;
	int r, e;

	*out = NULL;
	c = ofs_xcalloc(1, sizeof(*c));
	c->path = ofs_xstrdup(path);
	c->fd = fd;
	what = ofs_xasprintf("container '%s'", path);
	if (fstat(c->fd, &st) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot stat container '%s'", path);
		goto out;
	}
	c->file_size = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode) || c->file_size < OFS_VHD_ALIGN + OFS_VHD_FOOTER_SIZE ||
	    (c->file_size - OFS_VHD_FOOTER_SIZE) % OFS_VHD_ALIGN != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: file size %llu is not a multiple of "
		    "1 MiB plus a 512-byte VHD footer", what, (unsigned long long)c->file_size);
		goto out;
	}
	vsize = c->file_size - OFS_VHD_FOOTER_SIZE;
	if ((e = -ofs_pread_all(c->fd, foot, sizeof(foot), vsize)) != 0) {
		r = read_fail(err, e, what, vsize);
		goto out;
	}
	free(what);
	what = ofs_xasprintf("container '%s' at offset %llu", path, (unsigned long long)vsize);
	if ((r = ofs_vhd_footer_parse(foot, sizeof(foot), what, &c->footer, err)) != 0)
		goto out;
	if (c->footer.current_size != vsize || vsize > OFS_CONTAINER_MAX) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: VHD footer gives size %llu, the file "
		    "holds %llu", what, (unsigned long long)c->footer.current_size,
		    (unsigned long long)vsize);
		goto out;
	}

	/* One read covers the superblock (small containers) and every place the trailer can
	 * be: it is the last non-zero 4 KiB block, within the final 1 MiB of the disk. */
	wlen = vsize < TRAILER_WINDOW ? (size_t)vsize : TRAILER_WINDOW;
	wstart = vsize - wlen;
	win = ofs_xmalloc(wlen > OFS_SUPERBLOCK_SIZE ? wlen : OFS_SUPERBLOCK_SIZE);
	if ((e = -ofs_pread_all(c->fd, win, OFS_SUPERBLOCK_SIZE, 0)) != 0) {
		r = read_fail(err, e, what, 0);
		goto out;
	}
	free(what);
	what = ofs_xasprintf("container '%s' at offset 0", path);
	if ((r = ofs_superblock_parse(win, OFS_SUPERBLOCK_SIZE, what, &c->sb, err)) != 0)
		goto out;
	free(what);
	what = ofs_xasprintf("container '%s'", path);
	if ((e = -ofs_pread_all(c->fd, win, wlen, wstart)) != 0) {
		r = read_fail(err, e, what, wstart);
		goto out;
	}
	for (b = wlen / OFS_TRAILER_SIZE; b > 0; b--)
		if (!all_zero(win + (b - 1) * OFS_TRAILER_SIZE, OFS_TRAILER_SIZE))
			break;
	toff = b > 0 ? wstart + (b - 1) * OFS_TRAILER_SIZE : 0;
	if (b == 0 || toff < OFS_SUPERBLOCK_SIZE) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: no trailer in bytes %llu-%llu (only "
		    "zeros)", what, (unsigned long long)(wstart > OFS_SUPERBLOCK_SIZE ? wstart :
		    OFS_SUPERBLOCK_SIZE), (unsigned long long)(vsize - 1));
		goto out;
	}
	free(what);
	what = ofs_xasprintf("container '%s' at offset %llu", path, (unsigned long long)toff);
	if ((r = ofs_trailer_parse(win + (b - 1) * OFS_TRAILER_SIZE, OFS_TRAILER_SIZE, what,
	    &c->tr, err)) != 0)
		goto out;
	if (c->tr.payload_length != toff + OFS_TRAILER_SIZE ||
	    align_up(c->tr.payload_length, OFS_VHD_ALIGN) != vsize) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: trailer records payload length %llu, "
		    "inconsistent with its position and the disk size %llu", what,
		    (unsigned long long)c->tr.payload_length,
		    (unsigned long long)vsize);
		goto out;
	}
	if (c->tr.version != c->sb.version) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: trailer version %u differs from the "
		    "superblock's %u", what, c->tr.version, c->sb.version);
		goto out;
	}
	*out = c;
	c = NULL;	/* transferred */
out:
	free(win);
	free(what);
	ofs_container_close(c);
	return r;
}

void
ofs_container_close(struct ofs_container *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	free(c->path);
	free(c);
}

int
ofs_container_pread(struct ofs_container *c, void *buf, size_t len, uint64_t off,
    struct ofs_error *err)
{
	int e;

	if (off > c->tr.payload_length || len > c->tr.payload_length - off)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "container '%s': read of %zu bytes at "
		    "offset %llu is past the payload (%llu bytes)", c->path, len,
		    (unsigned long long)off, (unsigned long long)c->tr.payload_length);
	if ((e = -ofs_pread_all(c->fd, buf, len, off)) != 0)
		return e == -OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT, "container '%s' "
		    "ends before offset %llu", c->path, (unsigned long long)(off + len)) :
		    ofs_err_sys(err, OFS_ERR_IO, e, "cannot read container '%s' at offset %llu",
		    c->path, (unsigned long long)off);
	return 0;
}

int
ofs_container_read_index(struct ofs_container *c, struct ofs_buf *sealed, struct ofs_error *err)
{
	size_t n;
	int r;

	if (c->tr.index_length > SIZE_MAX ||
	    ofs_buf_reserve(sealed, (size_t)c->tr.index_length) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "container '%s': index of %llu bytes at "
		    "offset %llu is too large", c->path, (unsigned long long)c->tr.index_length,
		    (unsigned long long)c->tr.index_offset);
	n = (size_t)c->tr.index_length;
	if ((r = ofs_container_pread(c, sealed->data + sealed->len, n, c->tr.index_offset,
	    err)) != 0)
		return r;
	sealed->len += n;
	return 0;
}

void
ofs_container_index_id(const uint8_t set[16], uint32_t seq, uint8_t id[OFS_ID_LEN])
{
	memset(id, 0, OFS_ID_LEN);
	memcpy(id, set, 16);
	ofs_put_u32le(id + 16, seq);
}
