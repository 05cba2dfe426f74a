/* offseed dump: stream a file or folder of a snapshot as a pax tar archive (libarchive) with
 * its metadata: mode, owner, mtime, symlinks, hard links, xattrs, device nodes, sparse maps. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dynlib.h"

#include "blob.h"
#include "cli.h"
#include "render.h"
#include "util.h"

static const char usage[] =
    "usage: offseed dump SNAP PATH [--format tar] [-o FILE]\n"
    "\n"
    "Write the file or folder PATH of snapshot SNAP (an id prefix or 'latest') as a pax tar\n"
    "archive to stdout (or FILE), readable by GNU tar and bsdtar. A folder's contents are\n"
    "archived relative to it (as 'offseed restore SNAP:PATH' would restore them); a file is\n"
    "archived under its own name. PATH '/' dumps the whole snapshot. Metadata: mode, owner\n"
    "(names and ids), mtime, symlinks, hard links, xattrs, FIFOs, device nodes, sparse files.\n"
    "\n"
    "  --format tar   the only format (pax)\n"
    "  -o, --output F write the archive to F instead of stdout (needed with --json)\n"
    "\n"
    "Refuses to write the archive to a terminal. A chunk that cannot be read ends the dump\n"
    "with exit 4 (the archive is then incomplete).\n";

#define ZEROS_LEN (1u << 20)

struct hl {
	uint64_t dev, ino;
	char *path;
};

struct dump {
	struct ofs_repo *repo;
	struct archive *a;
	struct ofs_buf blob;
	struct hl *hls;
	size_t nhl, caphl;
	uint64_t files, dirs, links, others, hardlinks, bytes, skipped;
	const uint8_t *zeros;
	int fd;
	int failed;	/* set before freeing the writer after an error: no end-of-archive */
};

/* Output callback: after a failure nothing more goes out, so an incomplete dump never ends
 * with the end-of-archive marker (a reader sees a truncated archive, not a complete one). */
static la_ssize_t
out_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct dump *D = ud;
	int e;

	if (D->failed) {
		archive_set_error(a, EIO, "the dump failed");
		return -1;
	}
	if ((e = ofs_write_all(D->fd, buf, n)) != 0) {
		archive_set_error(a, -e, "cannot write the archive: %s", strerror(-e));
		return -1;
	}
	return (la_ssize_t)n;
}

static int
ar_fail(struct dump *D, const char *path, struct ofs_error *err)
{
	return ofs_err_set(err, OFS_ERR_IO, "cannot write '%s' to the archive: %s", path,
	    archive_error_string(D->a) ? archive_error_string(D->a) : "unknown error");
}

static int
write_data(struct dump *D, const void *p, uint64_t n, const char *path, struct ofs_error *err)
{
	const uint8_t *q = p;

	while (n > 0) {
		size_t k = n > ZEROS_LEN ? ZEROS_LEN : (size_t)n;
		la_ssize_t w = archive_write_data(D->a, q, k);

		if (w < 0)
			return ar_fail(D, path, err);
		if (w == 0)	/* past the sparse map: nothing more is taken */
			return 0;
		n -= (uint64_t)w;
		if (q != D->zeros)
			q += w;
	}
	return 0;
}

/* Sum of the chunks' plaintext lengths, or UINT64_MAX when one is not in the index. */
static uint64_t
chunks_total(struct dump *D, const struct ofs_node *n)
{
	struct ofs_blob_ref ref;
	uint64_t t = 0;

	for (size_t i = 0; i < n->nchunks; i++) {
		if (!ofs_blobtab_lookup(D->repo->idx, n->chunks[i], &ref))
			return UINT64_MAX;
		t += ref.raw_len;
	}
	return t;
}

static int
file_data(struct dump *D, const struct ofs_node *n, const char *path, struct ofs_error *err)
{
	uint64_t ext = 0, total = chunks_total(D, n), pos = 0;
	size_t seg = 0;
	int extents_stream;
	int rc;

	for (size_t i = 0; n->sparse && i < n->nextents; i++)
		ext += n->extents[i].len;
	/* content is the concatenated data extents (as stage writes sparse files), or the
	 * whole file */
	extents_stream = n->sparse && total == ext && ext != n->size;
	if (total == UINT64_MAX || (total != n->size && !extents_stream))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': the chunks hold %llu bytes, the "
		    "file has %llu", path, (unsigned long long)(total == UINT64_MAX ? 0 : total),
		    (unsigned long long)n->size);
	for (size_t i = 0; i < n->nchunks; i++) {
		const uint8_t *p;
		size_t left;

		ofs_buf_reset(&D->blob);
		if ((rc = ofs_repo_read_blob(D->repo, D->repo->ctx, n->chunks[i], &D->blob,
		    err)) != 0)
			return ofs_err_wrap(err, "'%s'", path);
		p = D->blob.data;
		left = D->blob.len;
		if (!extents_stream) {
			if ((rc = write_data(D, p, left, path, err)) != 0)
				return rc;
			D->bytes += left;
			continue;
		}
		/* place the stream's bytes at their extents, zeros in between */
		while (left > 0) {
			const struct ofs_extent *e;
			uint64_t in_ext, k;

			while (seg < n->nextents && n->extents[seg].len == 0)
				seg++;
			if (seg >= n->nextents)
				return ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': more data than extents",
				    path);
			e = &n->extents[seg];
			if (pos < e->off) {
				if ((rc = write_data(D, D->zeros, e->off - pos, path, err)) != 0)
					return rc;
				pos = e->off;
			}
			in_ext = e->off + e->len - pos;
			k = left < in_ext ? left : in_ext;
			if ((rc = write_data(D, p, k, path, err)) != 0)
				return rc;
			D->bytes += k;
			p += k;
			left -= (size_t)k;
			pos += k;
			if (pos == e->off + e->len)
				seg++;
		}
	}
	if (extents_stream && pos < n->size)
		return write_data(D, D->zeros, n->size - pos, path, err);
	return 0;
}

static struct hl *
hl_find(struct dump *D, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < D->nhl; i++)
		if (D->hls[i].dev == dev && D->hls[i].ino == ino)
			return &D->hls[i];
	return NULL;
}

/* One archive entry for node n named path (relative). */
static int
dump_node(struct dump *D, const struct ofs_node *n, const char *path, struct ofs_error *err)
{
	struct archive_entry *e = archive_entry_new();
	struct hl *h = NULL;
	int rc = 0, ar, data = 0;

	archive_entry_copy_pathname(e, path);
	archive_entry_set_perm(e, n->mode & 07777);
	archive_entry_set_uid(e, n->uid);
	archive_entry_set_gid(e, n->gid);
	if (n->user != NULL && *n->user)
		archive_entry_copy_uname(e, n->user);
	if (n->group != NULL && *n->group)
		archive_entry_copy_gname(e, n->group);
	archive_entry_set_mtime(e, (time_t)(n->mtime_ns / 1000000000LL -
	    (n->mtime_ns % 1000000000LL < 0 ? 1 : 0)),
	    (long)(((n->mtime_ns % 1000000000LL) + 1000000000LL) % 1000000000LL));
	for (size_t i = 0; i < n->nxattrs; i++)
		archive_entry_xattr_add_entry(e, n->xattrs[i].name, n->xattrs[i].value,
		    n->xattrs[i].len);
	if (n->type != OFS_NODE_DIR && n->nlink > 1) {
		if ((h = hl_find(D, n->dev, n->ino)) != NULL) {
			archive_entry_set_filetype(e, n->type == OFS_NODE_FILE ? AE_IFREG :
			    n->type == OFS_NODE_SYMLINK ? AE_IFLNK : n->type == OFS_NODE_FIFO ?
			    AE_IFIFO : n->type == OFS_NODE_CHR ? AE_IFCHR : AE_IFBLK);
			archive_entry_copy_hardlink(e, h->path);
			archive_entry_set_size(e, 0);
			D->hardlinks++;
			goto write;
		}
		if (D->nhl == D->caphl) {
			D->caphl = D->caphl ? 2 * D->caphl : 64;
			D->hls = ofs_xreallocarray(D->hls, D->caphl, sizeof(*D->hls));
		}
		D->hls[D->nhl].dev = n->dev;
		D->hls[D->nhl].ino = n->ino;
		D->hls[D->nhl++].path = ofs_xstrdup(path);
	}
	switch (n->type) {
	case OFS_NODE_FILE:
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, (la_int64_t)n->size);
		if (n->sparse) {
			for (size_t i = 0; i < n->nextents; i++)
				if (n->extents[i].len > 0)
					archive_entry_sparse_add_entry(e,
					    (la_int64_t)n->extents[i].off,
					    (la_int64_t)n->extents[i].len);
			if (n->nextents == 0)	/* all hole */
				archive_entry_sparse_add_entry(e, (la_int64_t)n->size, 0);
		}
		data = 1;
		D->files++;
		break;
	case OFS_NODE_DIR:
		archive_entry_set_filetype(e, AE_IFDIR);
		D->dirs++;
		break;
	case OFS_NODE_SYMLINK:
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_copy_symlink(e, n->target != NULL ? (const char *)n->target : "");
		D->links++;
		break;
	case OFS_NODE_FIFO:
		archive_entry_set_filetype(e, AE_IFIFO);
		D->others++;
		break;
	case OFS_NODE_CHR:
	case OFS_NODE_BLK:
		archive_entry_set_filetype(e, n->type == OFS_NODE_CHR ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdev(e, (dev_t)n->rdev);
		D->others++;
		break;
	default:	/* sockets cannot be archived */
		ofs_warn("'%s': %s not archived", path, ofs_node_type_name(n->type));
		D->skipped++;
		goto out;
	}
write:
	ar = archive_write_header(D->a, e);
	if (ar < ARCHIVE_WARN) {
		rc = ar_fail(D, path, err);
		goto out;
	}
	if (data && (rc = file_data(D, n, path, err)) != 0)
		goto out;
	if (archive_write_finish_entry(D->a) < ARCHIVE_WARN)
		rc = ar_fail(D, path, err);
out:
	archive_entry_free(e);
	return rc;
}

static int
dump_tree(struct dump *D, const uint8_t id[OFS_ID_LEN], struct ofs_buf *path,
    struct ofs_error *err)
{
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node nd;
	size_t base = path->len;
	int rc, k;

	memset(&nd, 0, sizeof(nd));
	/* a node at a time: a directory of millions of entries is never held whole */
	if ((rc = ofs_repo_open_tree(D->repo, D->repo->ctx, id, &rd, err)) != 0)
		goto out;
	while (rc == 0) {
		const struct ofs_node *n = &nd;

		ofs_node_release(&nd);	/* the previous one */
		if ((k = ofs_tree_reader_next(rd, &nd, err)) <= 0) {
			rc = k;
			break;
		}
		ofs_buf_truncate(path, base);
		if (base > 0)
			ofs_buf_putc(path, '/');
		ofs_buf_put(path, n->name, n->namelen);
		if ((rc = ofs_buf_cstr(path)) != 0) {	/* unbounded: only past SIZE_MAX */
			rc = ofs_err_set(err, rc, "a path in the snapshot is too long");
			break;
		}
		if ((rc = dump_node(D, n, (const char *)path->data, err)) != 0)
			break;
		if (n->type == OFS_NODE_DIR && n->has_subtree)
			rc = dump_tree(D, n->subtree, path, err);
	}
out:
	ofs_buf_truncate(path, base);
	if (ofs_buf_cstr(path) != 0 && rc == 0)	/* it had room at base before */
		rc = ofs_err_set(err, OFS_ERR_LIMIT, "a path in the snapshot is too long");
	ofs_node_release(&nd);
	ofs_tree_reader_free(rd);
	return rc;
}

/* Find PATH ("/a/b", "a/b", "/" or "") below root: *node points at the node, which
 * holder (a tree of that one node) owns; NULL for the root. Each directory on the way is
 * read a node at a time. */
static int
find_path(struct ofs_repo *repo, const uint8_t root[OFS_ID_LEN], const char *path,
    struct ofs_tree *holder, const struct ofs_node **node, struct ofs_error *err)
{
	uint8_t cur[OFS_ID_LEN];
	const char *p = path;
	int rc;

	*node = NULL;
	memcpy(cur, root, OFS_ID_LEN);
	while (*p == '/')
		p++;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct ofs_tree_reader *rd = NULL;
		const struct ofs_node *hit = NULL;
		struct ofs_node found;

		ofs_tree_release(holder);
		ofs_tree_init(holder);
		if ((rc = ofs_repo_open_tree(repo, repo->ctx, cur, &rd, err)) != 0)
			return rc;
		rc = ofs_tree_reader_find(rd, (const uint8_t *)p, len, &found, err);
		ofs_tree_reader_free(rd);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			*ofs_tree_add(holder) = found;	/* transferred */
			hit = &holder->nodes[0];
		}
		p += len;
		while (*p == '/')
			p++;
		if (hit == NULL || (*p != '\0' && (hit->type != OFS_NODE_DIR ||
		    !hit->has_subtree)))
			return ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is not in the snapshot",
			    path);
		if (*p == '\0') {
			*node = hit;
			return 0;
		}
		memcpy(cur, hit->subtree, OFS_ID_LEN);
	}
	return 0;
}

int
cmd_dump(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_error err = { 0 };
	struct ofs_snapshot snap;
	struct ofs_tree holder;
	struct ofs_buf path = OFS_BUF_INIT(0);
	struct dump D;
	const struct ofs_node *node = NULL;
	const char *output = NULL;
	char idhex[2 * OFS_ID_LEN + 1];
	int c, rc = 0, fd = -1, have_snap = 0;

	memset(&D, 0, sizeof(D));
	memset(&snap, 0, sizeof(snap));
	ofs_tree_init(&holder);
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "tar") != 0) {
				ofs_error("unknown --format '%s' (only tar)", optarg);
				return 2;
			}
			break;
		case 'o': output = optarg; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (argc - optind != 2) {
		ofs_error(argc - optind < 2 ? "dump needs SNAP and PATH" : "too many arguments");
		return ofs_cli_usage(usage, 0);
	}
	if (output == NULL && g->json) {
		ofs_error("--json needs --output FILE (stdout would carry the archive)");
		return 2;
	}
	if (output == NULL && isatty(1)) {
		ofs_error("refusing to write a tar archive to a terminal (redirect stdout or use "
		    "--output FILE)");
		return 2;
	}
	if ((rc = ofs_cli_open_repo(g, 1, 1, &D.repo, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_find_snapshot(D.repo, argv[optind], &snap, &err)) != 0)
		goto out;
	have_snap = 1;
	ofs_hex(snap.id, OFS_ID_LEN, idhex);
	if ((rc = find_path(D.repo, snap.tree, argv[optind + 1], &holder, &node, &err)) != 0)
		goto out;
	if (output != NULL) {
		if ((fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
			rc = ofs_err_sys(&err, OFS_ERR_IO, errno, "cannot create '%s'", output);
			goto out;
		}
	}
	if ((rc = ofs_dynlib_load_archive(&err)) != 0)
		goto out;
	D.zeros = ofs_xcalloc(1, ZEROS_LEN);
	D.fd = fd >= 0 ? fd : 1;
	D.a = archive_write_new();
	/* full pax, not pax_restricted: restricted drops sub-second mtimes; SCHILY xattr keys
	 * are the ones both GNU tar and bsdtar read */
	if (archive_write_set_format_pax(D.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(D.a, "pax", "xattrheader", "SCHILY") < ARCHIVE_OK ||
	    archive_write_open(D.a, &D, NULL, out_write, NULL) != ARCHIVE_OK) {
		rc = ofs_err_set(&err, OFS_ERR_IO, "cannot start the archive: %s",
		    archive_error_string(D.a) ? archive_error_string(D.a) : "unknown error");
		goto out;
	}
	if (node == NULL) {
		rc = dump_tree(&D, snap.tree, &path, &err);
	} else if (node->type == OFS_NODE_DIR) {
		rc = node->has_subtree ? dump_tree(&D, node->subtree, &path, &err) : 0;
	} else {
		if ((rc = ofs_buf_add(&path, node->name, node->namelen)) != 0 ||
		    (rc = ofs_buf_cstr(&path)) != 0)	/* path is unbounded: only past SIZE_MAX */
			rc = ofs_err_set(&err, rc, "the path is too long");
		else
			rc = dump_node(&D, node, (const char *)path.data, &err);
	}
	if (rc != 0)
		goto out;
	if (archive_write_close(D.a) != ARCHIVE_OK) {
		rc = ofs_err_set(&err, OFS_ERR_IO, "cannot finish the archive: %s",
		    archive_error_string(D.a) ? archive_error_string(D.a) : "unknown error");
		goto out;
	}
	if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL) {
		rc = ofs_err_sys(&err, OFS_ERR_IO, errno, "cannot write '%s'", output);
		goto out;
	}
	ofs_info("dumped %.8s:%s: %llu files, %llu dirs, %llu symlinks, %llu other, %llu hard "
	    "links, %llu bytes", idhex, argv[optind + 1], (unsigned long long)D.files,
	    (unsigned long long)D.dirs, (unsigned long long)D.links,
	    (unsigned long long)D.others, (unsigned long long)D.hardlinks,
	    (unsigned long long)D.bytes);
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "type", "summary", "command", "dump", "snapshot", idhex, "path", argv[optind + 1],
	    "output", output, "files", (json_int_t)D.files, "dirs", (json_int_t)D.dirs,
	    "symlinks", (json_int_t)D.links, "other", (json_int_t)D.others, "hardlinks",
	    (json_int_t)D.hardlinks, "bytes", (json_int_t)D.bytes, "skipped",
	    (json_int_t)D.skipped));
out:
	if (D.a != NULL) {
		D.failed = rc != 0;
		archive_write_free(D.a);
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < D.nhl; i++)
		free(D.hls[i].path);
	free(D.hls);
	free((void *)D.zeros);
	ofs_buf_release(&D.blob);
	ofs_buf_release(&path);
	ofs_tree_release(&holder);
	if (have_snap)
		ofs_snapshot_release(&snap);
	ofs_repo_close(D.repo);
	return ofs_cli_fail(rc, &err);
}
