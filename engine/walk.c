/* Source tree walker: never follows symlinks, yields entries sorted by name bytes with full
 * metadata (owner names, ns times, xattrs, sparse extents), keeps each SRC's absolute path as
 * nested directories and merges shared prefixes of several SRCs into one tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"
#include "walk.h"

#define MAX_EXTENTS 100000	/* more data regions than this: stored as a dense file */

/* The fixed part of the tree above the SRCs: one node per path component. */
struct vnode {
	char *name;
	struct vnode **kids;
	size_t nkids;
	int is_src;
};

enum { FR_VIRT, FR_REAL };

struct frame {
	int kind;
	struct vnode *vn;	/* FR_VIRT */
	int fd;			/* FR_REAL: the directory, for *at() calls */
	char *names;		/* FR_REAL: NUL-separated names */
	size_t *offs;		/* sorted offsets into names */
	size_t n, idx;
	size_t pathlen;		/* length of this directory's path in w->path */
	size_t srcbase;		/* FR_REAL: length of the SRC root's path */
	dev_t dev;		/* FR_REAL: device of the SRC root (one-file-system) */
};

struct idname {
	uint32_t id;
	char *name;
};

struct ofs_walk {
	struct ofs_walk_opts o;
	struct vnode *root;
	struct frame *st;
	size_t depth, cap;
	int started, done;
	char *path;
	size_t pathcap;
	struct ofs_node cur;
	char reason[512];
	size_t skipped;
	struct idname *users, *groups;
	size_t nusers, ngroups;
	char *xl;		/* xattr name list buffer */
	size_t xlcap;
};

/* ---- small helpers ---- */

static void
vnode_free(struct vnode *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nkids; i++)
		vnode_free(v->kids[i]);
	free(v->kids);
	free(v->name);
	free(v);
}

static int
vcmp(const void *a, const void *b)
{
	const struct vnode *x = *(struct vnode *const *)a, *y = *(struct vnode *const *)b;

	return strcmp(x->name, y->name);	/* strcmp compares as unsigned char: byte order */
}

static void
vnode_sort(struct vnode *v)
{
	if (v->nkids > 1)
		qsort(v->kids, v->nkids, sizeof(v->kids[0]), vcmp);
	for (size_t i = 0; i < v->nkids; i++)
		vnode_sort(v->kids[i]);
}

static void
path_set(struct ofs_walk *w, size_t len, const char *add, size_t addlen)
{
	size_t need = len + 1 + addlen + 1;

	if (need > w->pathcap) {
		w->pathcap = need * 2;
		w->path = ofs_xrealloc(w->path, w->pathcap);
	}
	w->path[len] = '/';
	memcpy(w->path + len + 1, add, addlen);
	w->path[len + 1 + addlen] = '\0';
}

static const char *
id_name(struct idname **tab, size_t *n, uint32_t id, int group)
{
	char buf[4096], *name = NULL;

	for (size_t i = 0; i < *n; i++)
		if ((*tab)[i].id == id)
			return (*tab)[i].name;
	if (group) {
		struct group gr, *res = NULL;
		if (getgrgid_r(id, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
			name = ofs_xstrdup(res->gr_name);
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r(id, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
			name = ofs_xstrdup(res->pw_name);
	}
	*tab = ofs_xreallocarray(*tab, *n + 1, sizeof(**tab));
	(*tab)[*n].id = id;
	(*tab)[*n].name = name;
	(*n)++;
	return name;
}

static void
skip_record(struct ofs_walk *w, const char *path, const char *fmt, int errnum)
{
	snprintf(w->reason, sizeof(w->reason), "%s: %s", fmt, strerror(errnum));
	w->skipped++;
	if (w->o.skipped == NULL)
		return;
	for (const char *p = path; *p; p++) {
		if (*p == '\t')
			fputs("\\t", w->o.skipped);
		else if (*p == '\n')
			fputs("\\n", w->o.skipped);
		else if (*p == '\\')
			fputs("\\\\", w->o.skipped);
		else
			fputc(*p, w->o.skipped);
	}
	fprintf(w->o.skipped, "\t%s\n", w->reason);
}

/* Exclude patterns: without '/', matched against the base name; with '/', against the
 * path relative to the SRC and against the absolute path (a leading '/' anchors to the
 * absolute path only). A trailing '/' restricts the pattern to directories. */
static int
excluded(struct ofs_walk *w, const char *abs, const char *rel, const char *base, int isdir)
{
	char pat[PATH_MAX];

	for (size_t i = 0; i < w->o.nexcludes; i++) {
		const char *p = w->o.excludes[i];
		size_t n = strlen(p);

		if (n == 0 || n >= sizeof(pat))
			continue;
		memcpy(pat, p, n + 1);
		if (n > 1 && pat[n - 1] == '/') {
			if (!isdir)
				continue;
			pat[--n] = '\0';
		}
		if (strchr(pat, '/') == NULL) {
			if (fnmatch(pat, base, 0) == 0)
				return 1;
		} else if (pat[0] == '/') {
			if (fnmatch(pat, abs, FNM_PATHNAME) == 0)
				return 1;
		} else if (fnmatch(pat, rel, FNM_PATHNAME) == 0 ||
		    fnmatch(pat, abs + 1, FNM_PATHNAME) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---- metadata ---- */

/* The extended attributes of path (fd == -1: without following a symlink) or of the open
 * file fd into n; *xl (*xlcap bytes, grown as needed) holds the name list. Unreadable
 * (ENOTSUP, EACCES…) means none; an attribute that vanishes between list and read is left
 * out. */
static void
xattrs_into(const char *path, int fd, char **xl, size_t *xlcap, struct ofs_node *n)
{
	ssize_t len;
	size_t cap = 0;

	if (*xl == NULL) {
		*xlcap = 4096;
		*xl = ofs_xmalloc(*xlcap);
	}
	for (;;) {
		len = fd >= 0 ? flistxattr(fd, *xl, *xlcap) : llistxattr(path, *xl, *xlcap);
		if (len >= 0)
			break;
		if (errno != ERANGE)
			return;	/* ENOTSUP, EACCES…: nothing readable */
		len = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(path, NULL, 0);
		if (len < 0)
			return;
		*xlcap = (size_t)len + 256;
		*xl = ofs_xrealloc(*xl, *xlcap);
	}
	for (ssize_t off = 0; off < len;) {
		const char *name = *xl + off;
		size_t nl = strnlen(name, (size_t)(len - off));
		ssize_t vl;
		uint8_t *val;

		off += (ssize_t)nl + 1;
		if (nl == 0)
			continue;
		vl = fd >= 0 ? fgetxattr(fd, name, NULL, 0) : lgetxattr(path, name, NULL, 0);
		if (vl < 0)
			continue;
		val = ofs_xmalloc((size_t)vl + 1);
		vl = fd >= 0 ? fgetxattr(fd, name, val, (size_t)vl) :
		    lgetxattr(path, name, val, (size_t)vl);
		if (vl < 0) {
			free(val);
			continue;
		}
		if (n->nxattrs == cap) {
			cap = cap ? cap * 2 : 4;
			n->xattrs = ofs_xreallocarray(n->xattrs, cap, sizeof(*n->xattrs));
		}
		n->xattrs[n->nxattrs].name = ofs_xstrdup(name);
		n->xattrs[n->nxattrs].value = val;
		n->xattrs[n->nxattrs].len = (size_t)vl;
		n->nxattrs++;
	}
}

static void
read_xattrs(struct ofs_walk *w, const char *path, struct ofs_node *n)
{
	xattrs_into(path, -1, &w->xl, &w->xlcap, n);
}

void
ofs_walk_xattrs(struct ofs_walk *w, const char *path, struct ofs_node *n)
{
	read_xattrs(w, path, n);
}

void
ofs_walk_xattrs_fd(int fd, char **xl, size_t *xlcap, struct ofs_node *n)
{
	xattrs_into(NULL, fd, xl, xlcap, n);
}

/* Data regions of a file with fewer allocated blocks than its size. */
static void
read_extents(int dfd, const char *name, const struct stat *st, struct ofs_node *n)
{
	struct ofs_extent *ex = NULL;
	size_t cap = 0, cnt = 0;
	struct stat fst;
	off_t off = 0, data, hole;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &fst) != 0 || fst.st_ino != st->st_ino || !S_ISREG(fst.st_mode))
		goto out;
	while (off < st->st_size) {
		if ((data = lseek(fd, off, SEEK_DATA)) < 0)
			break;		/* ENXIO: only a hole remains */
		if (data >= st->st_size)
			break;
		if ((hole = lseek(fd, data, SEEK_HOLE)) < 0)
			goto out;
		if (hole > st->st_size)
			hole = st->st_size;
		if (hole <= data)
			goto out;
		if (cnt == MAX_EXTENTS)
			goto out;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			ex = ofs_xreallocarray(ex, cap, sizeof(*ex));
		}
		ex[cnt].off = (uint64_t)data;
		ex[cnt].len = (uint64_t)(hole - data);
		cnt++;
		off = hole;
	}
	if (cnt == 1 && ex[0].off == 0 && ex[0].len == (uint64_t)st->st_size)
		goto out;	/* no real holes (compressed or inline data) */
	n->sparse = 1;
	n->extents = ex;
	n->nextents = cnt;
	ex = NULL;
out:
	free(ex);
	close(fd);
}

static int
node_type(mode_t m)
{
	if (S_ISREG(m))
		return OFS_NODE_FILE;
	if (S_ISDIR(m))
		return OFS_NODE_DIR;
	if (S_ISLNK(m))
		return OFS_NODE_SYMLINK;
	if (S_ISFIFO(m))
		return OFS_NODE_FIFO;
	if (S_ISCHR(m))
		return OFS_NODE_CHR;
	if (S_ISBLK(m))
		return OFS_NODE_BLK;
	if (S_ISSOCK(m))
		return OFS_NODE_SOCK;
	return 0;
}

/* Fill w->cur from st for the entry `name` of directory dfd (path = w->path). Returns 0, or
 * -1 with errno when the symlink target cannot be read. */
static int
fill_node(struct ofs_walk *w, int dfd, const char *name, const struct stat *st)
{
	struct ofs_node *n = &w->cur;
	const char *s;

	ofs_node_release(n);
	n->namelen = strlen(name);
	n->name = (uint8_t *)ofs_xstrndup(name, n->namelen);
	n->type = node_type(st->st_mode);
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
		n->size = (uint64_t)st->st_size;
	if (w->o.sizes_only)
		return 0;
	if ((s = id_name(&w->users, &w->nusers, st->st_uid, 0)) != NULL)
		n->user = ofs_xstrdup(s);
	if ((s = id_name(&w->groups, &w->ngroups, st->st_gid, 1)) != NULL)
		n->group = ofs_xstrdup(s);
	n->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	n->atime_ns = (int64_t)st->st_atim.tv_sec * 1000000000LL + st->st_atim.tv_nsec;
	n->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	n->ino = st->st_ino;
	n->dev = st->st_dev;
	n->nlink = st->st_nlink;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		n->rdev = st->st_rdev;
	if (S_ISLNK(st->st_mode)) {
		size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
		ssize_t l;

		for (;;) {
			n->target = ofs_xrealloc(n->target, cap);
			if ((l = readlinkat(dfd, name, (char *)n->target, cap)) < 0)
				return -1;
			if ((size_t)l < cap)
				break;
			cap *= 2;
		}
		n->targetlen = (size_t)l;
		n->target[l] = 0;
		if (l == 0) {
			errno = EINVAL;
			return -1;
		}
	}
	if (!(w->o.xattrs_later && S_ISREG(st->st_mode) && st->st_size > 0))
		read_xattrs(w, w->path, n);
	if (S_ISREG(st->st_mode) && st->st_size > 0 &&
	    (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size)
		read_extents(dfd, name, st, n);
	return 0;
}

/* ---- directory frames ---- */

static struct frame *
push(struct ofs_walk *w)
{
	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		w->st = ofs_xreallocarray(w->st, w->cap, sizeof(*w->st));
	}
	memset(&w->st[w->depth], 0, sizeof(w->st[0]));
	w->st[w->depth].fd = -1;
	return &w->st[w->depth++];
}

static void
frame_release(struct frame *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->names);
	free(f->offs);
	f->fd = -1;
	f->names = NULL;
	f->offs = NULL;
}

static const char *sort_base;

static int
offcmp(const void *a, const void *b)
{
	return strcmp(sort_base + *(const size_t *)a, sort_base + *(const size_t *)b);
}

/* Read and sort the names of the directory open at fd. Returns 0 or -1 with errno. */
static int
read_names(struct frame *f)
{
	struct dirent *de;
	size_t len = 0, cap = 4096, ocap = 64;
	DIR *d;
	int fd2;

	if ((fd2 = dup(f->fd)) < 0)
		return -1;
	if ((d = fdopendir(fd2)) == NULL) {
		close(fd2);
		return -1;
	}
	f->names = ofs_xmalloc(cap);
	f->offs = ofs_xmalloc(ocap * sizeof(size_t));
	f->n = 0;
	for (;;) {
		size_t nl;

		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		nl = strlen(de->d_name) + 1;
		if (len + nl > cap) {
			cap = (len + nl) * 2;
			f->names = ofs_xrealloc(f->names, cap);
		}
		memcpy(f->names + len, de->d_name, nl);
		if (f->n == ocap) {
			ocap *= 2;
			f->offs = ofs_xreallocarray(f->offs, ocap, sizeof(size_t));
		}
		f->offs[f->n++] = len;
		len += nl;
	}
	if (errno != 0) {
		int e = errno;
		closedir(d);
		errno = e;
		return -1;
	}
	closedir(d);
	sort_base = f->names;	/* the walk is single-threaded */
	if (f->n > 1)
		qsort(f->offs, f->n, sizeof(size_t), offcmp);
	return 0;
}

/* Open the directory `name` in dfd (or the absolute path when dfd < 0) and push its frame. */
static int
enter_real(struct ofs_walk *w, int dfd, const char *name, size_t pathlen, size_t srcbase,
    dev_t dev)
{
	struct frame *f;
	int fd, e;

	if (dfd >= 0)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = open(w->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	f = push(w);
	f->kind = FR_REAL;
	f->fd = fd;
	f->pathlen = pathlen;
	f->srcbase = srcbase;
	f->dev = dev;
	if (read_names(f) != 0) {
		e = errno;
		frame_release(f);
		w->depth--;
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- open / next / free ---- */

/* Make src absolute with its parent directories resolved (the last component is kept as
 * is, so a SRC that is a symlink is stored as the link). Returns owned path or NULL. */
static char *
absolute_src(const char *src)
{
	char *tmp, *slash, *parent, *res = NULL, cwd[PATH_MAX];
	const char *base;
	size_t n;

	if (src[0] == '/') {
		tmp = ofs_xstrdup(src);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return NULL;
		tmp = ofs_xasprintf("%s/%s", cwd, src);
	}
	n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	if (strcmp(tmp, "/") == 0)
		return tmp;
	slash = strrchr(tmp, '/');
	base = slash + 1;
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		res = realpath(tmp, NULL);	/* "x/.." names a directory: resolve it all */
		free(tmp);
		return res;
	}
	*slash = '\0';
	parent = realpath(tmp[0] ? tmp : "/", NULL);
	if (parent != NULL) {
		res = ofs_xasprintf("%s/%s", strcmp(parent, "/") == 0 ? "" : parent, base);
		free(parent);
	}
	free(tmp);
	return res;
}

/* Insert the components of an absolute path into the trie. */
static void
trie_add(struct vnode *root, const char *abs)
{
	struct vnode *v = root;
	const char *p = abs;

	while (*p != '\0') {
		const char *e;
		size_t i, n;

		if (v->is_src)
			return;	/* covered by a SRC above */
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		for (i = 0; i < v->nkids; i++)
			if (strlen(v->kids[i]->name) == n && memcmp(v->kids[i]->name, p, n) == 0)
				break;
		if (i == v->nkids) {
			v->kids = ofs_xreallocarray(v->kids, v->nkids + 1, sizeof(*v->kids));
			v->kids[v->nkids] = ofs_xcalloc(1, sizeof(struct vnode));
			v->kids[v->nkids]->name = ofs_xstrndup(p, n);
			v->nkids++;
		}
		v = v->kids[i];
		p += n;
	}
	if (v->is_src)
		return;
	v->is_src = 1;
	for (size_t i = 0; i < v->nkids; i++)
		vnode_free(v->kids[i]);
	free(v->kids);
	v->kids = NULL;
	v->nkids = 0;
}

int
ofs_walk_open(const char **srcs, size_t nsrcs, const struct ofs_walk_opts *o,
    struct ofs_walk **out, struct ofs_error *err)
{
	struct ofs_walk *w;
	struct rlimit rl;
	struct stat st;
	int r = 0;

	*out = NULL;
	if (nsrcs == 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "no source paths given");
	w = ofs_xcalloc(1, sizeof(*w));
	if (o != NULL)
		w->o = *o;
	w->root = ofs_xcalloc(1, sizeof(*w->root));
	w->root->name = ofs_xstrdup("");
	w->pathcap = 4096;
	w->path = ofs_xmalloc(w->pathcap);
	w->path[0] = '\0';
	for (size_t i = 0; i < nsrcs; i++) {
		char *abs = absolute_src(srcs[i]);

		if (abs == NULL || lstat(abs, &st) != 0) {
			r = ofs_err_sys(err, OFS_ERR_USAGE, errno, "cannot access '%s'", srcs[i]);
			free(abs);
			goto out;
		}
		trie_add(w->root, abs);
		free(abs);
	}
	vnode_sort(w->root);
	/* Deep trees keep one descriptor per level open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	*out = w;
	w = NULL;	/* transferred */
out:
	ofs_walk_free(w);
	return r;
}

static void
set_item(struct ofs_walk *w, struct ofs_walk_item *it, int ev, const struct stat *st)
{
	it->ev = ev;
	it->node = w->cur;	/* shallow: w->cur stays the owner until taken */
	it->path = w->path;
	it->reason = ev == OFS_WALK_SKIP ? w->reason : NULL;
	if (st != NULL)
		it->st = *st;
	else
		memset(&it->st, 0, sizeof(it->st));
	it->walker_ = w;
}

/* A SKIP event for the current path. */
static int
emit_skip(struct ofs_walk *w, struct ofs_walk_item *it, const char *name, const char *what,
    int errnum)
{
	ofs_node_release(&w->cur);
	w->cur.namelen = strlen(name);
	w->cur.name = (uint8_t *)ofs_xstrndup(name, w->cur.namelen);
	skip_record(w, w->path, what, errnum);
	set_item(w, it, OFS_WALK_SKIP, NULL);
	return 0;
}

/* One entry of a real directory frame: returns 1 when an event was produced. */
static int
step_real(struct ofs_walk *w, struct frame *f, struct ofs_walk_item *it)
{
	const char *name = f->names + f->offs[f->idx++];
	size_t plen = f->pathlen, nlen = strlen(name);
	struct stat st;
	int fd = f->fd;

	path_set(w, plen, name, nlen);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return emit_skip(w, it, name, errno == ENOENT ? "vanished during the walk" :
		    "cannot stat", errno), 1;
	if (w->o.nexcludes > 0 && excluded(w, w->path, w->path + f->srcbase + 1, name,
	    S_ISDIR(st.st_mode)))
		return 0;
	if (fill_node(w, fd, name, &st) != 0)
		return emit_skip(w, it, name, "cannot read symlink", errno), 1;
	if (!S_ISDIR(st.st_mode)) {
		set_item(w, it, OFS_WALK_ENTRY, &st);
		return 1;
	}
	if (w->o.one_file_system && st.st_dev != f->dev) {
		/* a mount point: kept as an empty directory */
		struct frame *e = push(w);
		e->kind = FR_REAL;
		e->pathlen = plen + 1 + nlen;
		set_item(w, it, OFS_WALK_DIR_ENTER, &st);
		return 1;
	}
	if (enter_real(w, fd, name, plen + 1 + nlen, f->srcbase, f->dev) != 0)
		return emit_skip(w, it, name, "cannot read directory", errno), 1;
	set_item(w, it, OFS_WALK_DIR_ENTER, &st);
	return 1;
}

/* One child of a virtual (above-SRC) frame. */
static int
step_virt(struct ofs_walk *w, struct frame *f, struct ofs_walk_item *it)
{
	struct vnode *c = f->vn->kids[f->idx++];
	size_t plen = f->pathlen, nlen = strlen(c->name);
	struct stat st;
	struct frame *nf;

	path_set(w, plen, c->name, nlen);
	if (lstat(w->path, &st) != 0)
		return emit_skip(w, it, c->name, "cannot stat", errno), 1;
	if (fill_node(w, AT_FDCWD, w->path, &st) != 0)
		return emit_skip(w, it, c->name, "cannot read symlink", errno), 1;
	/* fill_node used the full path as the name; keep the component only */
	free(w->cur.name);
	w->cur.namelen = nlen;
	w->cur.name = (uint8_t *)ofs_xstrndup(c->name, nlen);
	if (!S_ISDIR(st.st_mode)) {
		if (!c->is_src)
			return emit_skip(w, it, c->name, "not a directory", ENOTDIR), 1;
		set_item(w, it, OFS_WALK_ENTRY, &st);
		return 1;
	}
	if (c->is_src) {
		if (enter_real(w, -1, NULL, plen + 1 + nlen, plen + 1 + nlen, st.st_dev) != 0)
			return emit_skip(w, it, c->name, "cannot read directory", errno), 1;
	} else {
		nf = push(w);
		nf->kind = FR_VIRT;
		nf->vn = c;
		nf->n = c->nkids;
		nf->pathlen = plen + 1 + nlen;
	}
	set_item(w, it, OFS_WALK_DIR_ENTER, &st);
	return 1;
}

int
ofs_walk_next(struct ofs_walk *w, struct ofs_walk_item *it, struct ofs_error *err)
{
	struct frame *f;

	ofs_node_release(&w->cur);
	memset(it, 0, sizeof(*it));
	it->walker_ = w;
	if (!w->started) {
		w->started = 1;
		if (w->root->is_src) {	/* SRC "/" */
			struct stat st;
			int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (fd < 0 || fstat(fd, &st) != 0) {
				if (fd >= 0)
					close(fd);
				return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '/'");
			}
			w->path[0] = '\0';
			f = push(w);
			f->kind = FR_REAL;
			f->fd = fd;
			f->dev = st.st_dev;
			if (read_names(f) != 0)
				return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read '/'");
		} else {
			f = push(w);
			f->kind = FR_VIRT;
			f->vn = w->root;
			f->n = w->root->nkids;
		}
	}
	while (!w->done) {
		if (w->depth == 0) {
			w->done = 1;
			break;
		}
		f = &w->st[w->depth - 1];
		if (f->idx >= f->n) {
			size_t plen = f->pathlen;
			frame_release(f);
			w->depth--;
			if (w->depth == 0) {
				w->done = 1;
				break;
			}
			w->path[plen] = '\0';
			set_item(w, it, OFS_WALK_DIR_LEAVE, NULL);
			return 0;
		}
		if ((f->kind == FR_REAL ? step_real(w, f, it) : step_virt(w, f, it)) != 0)
			return 0;
	}
	it->ev = OFS_WALK_END;
	it->path = "";
	return 0;
}

size_t
ofs_walk_skipped(const struct ofs_walk *w)
{
	return w->skipped;
}

void
ofs_walk_take_node(struct ofs_walk_item *it, struct ofs_node *dst)
{
	*dst = it->node;
	memset(&it->node, 0, sizeof(it->node));
	if (it->walker_ != NULL)
		memset(&it->walker_->cur, 0, sizeof(it->walker_->cur));
}

void
ofs_walk_free(struct ofs_walk *w)
{
	if (w == NULL)
		return;
	while (w->depth > 0)
		frame_release(&w->st[--w->depth]);
	free(w->st);
	vnode_free(w->root);
	ofs_node_release(&w->cur);
	for (size_t i = 0; i < w->nusers; i++)
		free(w->users[i].name);
	for (size_t i = 0; i < w->ngroups; i++)
		free(w->groups[i].name);
	free(w->users);
	free(w->groups);
	free(w->path);
	free(w->xl);
	free(w);
}
