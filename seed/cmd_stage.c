/* offseed stage: the initial full backup into sealed VHD containers in the staging repo,
 * ending with the staging manifest. Re-running after an interruption resumes. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "container.h"
#include "lock.h"
#include "manifest.h"
#include "out.h"
#include "stage.h"
#include "util.h"

static const char backup_usage[] =
    "usage: offseed backup --repo LOC [--limit-upload RATE] [--exclude PAT]…\n"
    "                      [--exclude-file F] [--one-file-system] [--tag T]… SRC…\n"
    "\n"
    "Incremental backup: files whose size, mtime, ctime and inode match the last run's\n"
    "catalog are not read; everything else is chunked and deduplicated against the whole\n"
    "repository (the seed included), and only new chunks are stored, as packs in data/.\n"
    "--limit-upload RATE (K, M, G per second) caps the pack upload rate. Re-running after an\n"
    "interruption resumes without storing finished packs again.\n";

static const char usage[] =
    "usage: offseed stage --repo DIR [--container-size SIZE] [--exclude PAT]…\n"
    "                     [--exclude-file F] [--one-file-system] [--tag T]… SRC…\n"
    "\n"
    "Back up SRC… into sealed, encrypted VHD containers in DIR/containers/ and write\n"
    "DIR/offseed-manifest.json. Re-running the same command after an interruption resumes\n"
    "from the last checkpoint. --container-size (default 16G, at most 2040G) bounds each\n"
    "container. Skipped entries are listed in STATE/logs/stage-TIME-skipped.tsv (exit 3).\n";

/* Files of the staging repo that the manifest covers: everything but the manifests, jobs/,
 * locks/ and hidden (partial) files. */
static int
collect(const char *root, const char *rel, char ***out, size_t *n, size_t *cap,
    struct ofs_error *err)
{
	char *dir = rel[0] ? ofs_path_join(root, rel) : ofs_xstrdup(root);
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot list '%s'", dir);
		free(dir);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *r2, *full;

		if (e->d_name[0] == '.')
			continue;
		r2 = rel[0] ? ofs_xasprintf("%s/%s", rel, e->d_name) : ofs_xstrdup(e->d_name);
		if (strcmp(r2, OFS_MANIFEST_NAME) == 0 || strcmp(r2, OFS_SET_MANIFEST_NAME) == 0 ||
		    strcmp(r2, "jobs") == 0 || strcmp(r2, "locks") == 0 ||
		    strstr(e->d_name, ".tmp-") != NULL) {
			free(r2);
			continue;
		}
		full = ofs_path_join(root, r2);
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = collect(root, r2, out, n, cap, err);
			free(r2);
		} else {
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 64;
				*out = ofs_xreallocarray(*out, *cap, sizeof(char *));
			}
			(*out)[(*n)++] = r2;
		}
		free(full);
	}
	closedir(d);
	free(dir);
	return rc;
}

static const struct ofs_manifest_file *
find_file(const struct ofs_manifest *m, const char *path)
{
	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return &m->files[i];
	return NULL;
}

static void
copy_hashes(const struct ofs_file_hashes *src, struct ofs_file_hashes *dst)
{
	*dst = *src;
	dst->regions = NULL;
	if (src->nregions > 0) {
		dst->regions = ofs_xreallocarray(NULL, src->nregions, OFS_XXH_LEN);
		memcpy(dst->regions, src->regions, src->nregions * OFS_XXH_LEN);
	}
}

/* Write the staging manifest. Containers are immutable, so hashes computed while sealing
 * (or listed by the previous manifest for the same size) are reused; the rest is read. */
static int
write_manifest(struct ofs_repo *r, const struct ofs_manifest *sealed, const uint8_t set[16],
    struct ofs_error *err)
{
	char *root = r->be->ops->path(r->be, ""), *mpath = ofs_path_join(root, OFS_MANIFEST_NAME);
	struct ofs_manifest *old = NULL, *m = ofs_manifest_new();
	char **files = NULL, when[32], sethex[33];
	size_t n = 0, cap = 0;
	int rc;

	if (ofs_manifest_load(mpath, &old, NULL) != 0)
		old = NULL;
	if ((rc = collect(root, "", &files, &n, &cap, err)) != 0)
		goto out;
	m->version = OFS_MANIFEST_VERSION;
	m->tool = ofs_xstrdup("offseed " OFS_VERSION);
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	m->created = ofs_xstrdup(when);
	m->repository = ofs_xstrdup(r->id_hex);
	if (set != NULL) {
		ofs_hex(set, 16, sethex);
		m->seed_set = ofs_xstrdup(sethex);
	} else if (old != NULL && old->seed_set != NULL) {
		m->seed_set = ofs_xstrdup(old->seed_set);
	}
	m->region_size = OFS_REGION_SIZE;
	for (size_t i = 0; i < n; i++) {
		const struct ofs_manifest_file *f = find_file(sealed, files[i]);
		struct ofs_file_hashes h = { 0 };
		char *full = ofs_path_join(root, files[i]);
		struct stat st;

		if (f == NULL && strncmp(files[i], "containers/", 11) == 0 &&
		    (f = find_file(old, files[i])) != NULL &&
		    (stat(full, &st) != 0 || (uint64_t)st.st_size != f->h.size))
			f = NULL;
		if (f != NULL)
			copy_hashes(&f->h, &h);
		else if ((rc = ofs_hash_file(full, OFS_REGION_SIZE, &h, err)) != 0) {
			free(full);
			goto out;
		}
		free(full);
		ofs_manifest_add(m, files[i], &h);
	}
	rc = ofs_manifest_write(m, mpath, err);
out:
	ofs_names_free(files, n);
	ofs_manifest_free(old);
	ofs_manifest_free(m);
	free(mpath);
	free(root);
	return rc;
}

/* Sum of the bytes stage will read, for progress and for "bytes still needed". */
static void
pre_scan(const struct ofs_stage_opts *o, uint64_t *bytes, uint64_t *files)
{
	struct ofs_walk_opts wo = o->walk;
	struct ofs_walk *w = NULL;
	struct ofs_walk_item it;

	*bytes = *files = 0;
	wo.skipped = NULL;
	if (ofs_walk_open(o->srcs, o->nsrcs, &wo, &w, NULL) != 0)
		return;
	for (;;) {
		memset(&it, 0, sizeof(it));
		if (ofs_walk_next(w, &it, NULL) != 0 || it.ev == OFS_WALK_END)
			break;
		if (it.ev != OFS_WALK_ENTRY)
			continue;
		(*files)++;
		if (it.node.type == OFS_NODE_FILE) {
			if (it.node.sparse)
				for (size_t i = 0; i < it.node.nextents; i++)
					*bytes += it.node.extents[i].len;
			else
				*bytes += it.node.size;
		}
	}
	ofs_walk_free(w);
}

static int
read_exclude_file(const char *path, const char ***ex, size_t *n, struct ofs_error *err)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (f == NULL)
		return ofs_err_sys(err, OFS_ERR_USAGE, errno, "cannot open exclude file '%s'", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		*ex = ofs_xreallocarray((void *)*ex, *n + 1, sizeof(char *));
		(*ex)[(*n)++] = ofs_xstrdup(line);	/* lives until exit */
	}
	fclose(f);
	return 0;
}

int
cmd_stage(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_stage_command(argc, argv, g, 0);
}

int
ofs_stage_command(int argc, char **argv, struct ofs_cli *g, int backup)
{
	static const struct option opts[] = {
		{ "container-size", required_argument, NULL, 'C' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "exclude-file", required_argument, NULL, 'E' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "tag", required_argument, NULL, 't' },
		{ "disk", required_argument, NULL, 'D' },
		{ "checkpoint-bytes", required_argument, NULL, 'B' },
		{ "checkpoint-seconds", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 'j' },
		{ "limit-upload", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_stage_opts o;
	struct ofs_stage_result res;
	struct ofs_error err = { 0 };
	struct ofs_progress pr;
	struct ofs_repo *repo = NULL;
	struct ofs_lock *lock = NULL;
	const char **ex = NULL, **tags = NULL;
	char **abs = NULL;
	size_t nex = 0, ntags = 0;
	char when[32], *logdir = NULL, *skpath = NULL, idhex[65], sethex[33];
	uint64_t total_bytes = 0, total_files = 0;
	FILE *sk = NULL;
	int c, rc = 0;
	int64_t freebytes;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.container_size = OFS_CONTAINER_DEFAULT;
	o.checkpoint_bytes = 1ULL << 30;
	o.checkpoint_seconds = 60;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hx", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			if (ofs_parse_size(optarg, &o.container_size) != 0 ||
			    o.container_size < (16u << 20) || o.container_size > OFS_CONTAINER_MAX) {
				ofs_error("invalid --container-size '%s' (16M to 2040G)", optarg);
				return 2;
			}
			break;
		case 'e':
			ex = ofs_xreallocarray((void *)ex, nex + 1, sizeof(char *));
			ex[nex++] = optarg;
			break;
		case 'E':
			if ((rc = read_exclude_file(optarg, &ex, &nex, &err)) != 0)
				return ofs_cli_fail(rc, &err);
			break;
		case 'x': o.walk.one_file_system = 1; break;
		case 't':
			tags = ofs_xreallocarray((void *)tags, ntags + 1, sizeof(char *));
			tags[ntags++] = optarg;
			break;
		case 'D':
			ofs_error("--disk (staging straight onto disks) is not available in this "
			    "build yet; stage to the staging folder and use 'offseed prep'");
			return 2;
		case 'B':
			if (ofs_parse_size(optarg, &o.checkpoint_bytes) != 0) {
				ofs_error("invalid --checkpoint-bytes '%s'", optarg);
				return 2;
			}
			break;
		case 'S': o.checkpoint_seconds = atof(optarg); break;
		case 'j': o.threads = atoi(optarg); break;
		case 'L': {
			char *rate = ofs_xstrdup(optarg), *sl = strchr(rate, '/');

			if (sl != NULL && strcmp(sl, "/s") == 0)
				*sl = '\0';
			if (!backup || ofs_parse_size(rate, &o.limit_upload) != 0 ||
			    o.limit_upload == 0) {
				free(rate);
				ofs_error("invalid --limit-upload '%s' (a rate like 20M: bytes per "
				    "second, K/M/G)", optarg);
				return 2;
			}
			free(rate);
			break;
		}
		case 'h': return ofs_cli_usage(backup ? backup_usage : usage, 1);
		default: return ofs_cli_usage(backup ? backup_usage : usage, 0);
		}
	}
	if (optind >= argc) {
		ofs_error("no source given");
		return ofs_cli_usage(backup ? backup_usage : usage, 0);
	}
	o.loose = backup;
	/* Snapshots record absolute source paths (symlinks in them are not resolved). */
	abs = ofs_xcalloc((size_t)(argc - optind), sizeof(char *));
	for (int i = optind; i < argc; i++) {
		char cwd[4096];
		size_t l;

		if (argv[i][0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
			abs[i - optind] = ofs_xstrdup(argv[i]);
		else
			abs[i - optind] = ofs_path_join(cwd, argv[i]);
		l = strlen(abs[i - optind]);
		while (l > 1 && abs[i - optind][l - 1] == '/')
			abs[i - optind][--l] = '\0';
	}
	o.srcs = (const char **)abs;
	o.nsrcs = (size_t)(argc - optind);
	o.walk.excludes = ex;
	o.walk.nexcludes = nex;
	o.tags = tags;
	o.ntags = ntags;
	for (size_t i = 0; i < o.nsrcs; i++) {
		struct stat st;

		if (lstat(o.srcs[i], &st) != 0) {
			rc = ofs_err_sys(&err, OFS_ERR_USAGE, errno, "cannot read source '%s'",
			    o.srcs[i]);
			goto out;
		}
	}

	if ((rc = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	{
		/* stage writes containers into a folder; a disk set or a cloud location is not one */
		char *root = repo->be->ops->path(repo->be, "containers");

		if (!backup && root == NULL) {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "cannot stage into '%s': stage writes "
			    "to a staging folder (use 'offseed backup' for other locations)", g->repo);
			free(root);
			goto out;
		}
		free(root);
	}
	if ((rc = ofs_lock_acquire(repo, g->cmd, &lock, &err)) != 0)
		goto out;
	freebytes = ofs_free_space(repo->state_dir);
	if (freebytes >= 0 && freebytes < (64 << 20)) {
		rc = ofs_err_set(&err, OFS_ERR_NOSPACE,
		    "the state dir '%s' is low on space: stage needs 64 MiB free there, %lld "
		    "bytes are free", repo->state_dir, (long long)freebytes);
		goto out;
	}
	logdir = ofs_path_join(repo->state_dir, "logs");
	if ((rc = ofs_mkdir_p(logdir, 0700, &err)) != 0)
		goto out;
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	skpath = ofs_xasprintf("%s/%s-%s-skipped.tsv", logdir, g->cmd, when);
	if ((sk = fopen(skpath, "w")) == NULL) {
		rc = ofs_err_sys(&err, OFS_ERR_IO, errno, "cannot create '%s'", skpath);
		goto out;
	}
	fputs("path\treason\n", sk);
	o.walk.skipped = sk;
	o.skipped_path = skpath;

	pre_scan(&o, &total_bytes, &total_files);
	res.sealed = ofs_manifest_new();
	ofs_progress_start(&pr, g->cmd, total_bytes, total_files);
	rc = ofs_stage_run(repo, &o, &pr, &res, &err);
	ofs_progress_end(&pr);
	fclose(sk);
	sk = NULL;
	if (rc != 0 && rc != OFS_ERR_SKIPPED) {
		if (rc == OFS_ERR_NOSPACE) {
			char need[32];
			uint64_t left = total_bytes > res.bytes_read + res.bytes_reused ?
			    total_bytes - res.bytes_read - res.bytes_reused : 0;

			ofs_fmt_size(left, need, sizeof(need));
			ofs_err_wrap(&err, "not enough space to finish staging into '%s' (about "
			    "%s of source still to store, %llu bytes; free space and re-run to "
			    "continue)", g->repo, need, (unsigned long long)left);
		}
		goto out;
	}
	{
		struct ofs_error merr = { 0 };
		/* A backup into a local staging repo keeps its manifest current; elsewhere
		 * (no manifest) there is none to keep. */
		char *mp = repo->be->ops->path(repo->be, OFS_MANIFEST_NAME);
		int mrc = 0;

		if (!backup || (mp != NULL && ofs_path_exists(mp)))
			mrc = write_manifest(repo, res.sealed, backup ? NULL : res.set_id, &merr);
		free(mp);

		if (mrc != 0) {
			rc = mrc;
			err = merr;
			goto out;
		}
	}
	ofs_hex(res.snapshot_id, OFS_ID_LEN, idhex);
	ofs_hex(res.set_id, 16, sethex);
	if (res.skipped + res.changed == 0) {
		unlink(skpath);
	}
	if (backup)
		ofs_result("snapshot %.8s saved%s\n", idhex,
		    res.resumed ? ", resumed after an interruption" : "");
	else
		ofs_result("snapshot %.8s saved (seed set %s)%s\n", idhex, sethex,
		    res.resumed ? ", resumed after an interruption" : "");
	ofs_result("%llu files, %llu dirs, %llu bytes read, %llu new, %llu stored in %llu "
	    "containers (%llu packs), %.1fs\n", (unsigned long long)res.files,
	    (unsigned long long)res.dirs, (unsigned long long)res.bytes_read,
	    (unsigned long long)res.bytes_new, (unsigned long long)res.bytes_stored,
	    (unsigned long long)res.containers, (unsigned long long)res.packs, res.seconds);
	if (res.skipped + res.changed > 0)
		ofs_warn("%llu entries skipped or changed while read: see '%s'",
		    (unsigned long long)(res.skipped + res.changed), skpath);
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:f, s:s?}", "type", "summary", "command", g->cmd, "snapshot", idhex,
	    "seed_set", sethex, "resumed", res.resumed, "files", (json_int_t)res.files, "dirs",
	    (json_int_t)res.dirs, "bytes_read", (json_int_t)res.bytes_read, "bytes_reused",
	    (json_int_t)res.bytes_reused, "bytes_new", (json_int_t)res.bytes_new,
	    "bytes_stored", (json_int_t)res.bytes_stored, "containers",
	    (json_int_t)res.containers, "packs", (json_int_t)res.packs, "skipped",
	    (json_int_t)res.skipped, "changed", (json_int_t)res.changed, "seconds", res.seconds,
	    "skipped_list", res.skipped + res.changed > 0 ? skpath : NULL));
out:
	if (sk != NULL)
		fclose(sk);
	ofs_lock_release(lock);
	ofs_manifest_free(res.sealed);
	ofs_repo_close(repo);
	free(logdir);
	free(skpath);
	free(ex);
	free(tags);
	for (size_t i = 0; abs != NULL && i < o.nsrcs; i++)
		free(abs[i]);
	free(abs);
	if (rc == OFS_ERR_SKIPPED)
		return 3;
	return ofs_cli_fail(rc, &err);
}
