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
#include "disk.h"
#include "index.h"
#include "jobjson.h"
#include "lock.h"
#include "manifest.h"
#include "out.h"
#include "bootstrap.h"
#include "prep.h"
#include "setmanifest.h"
#include "stage.h"
#include "util.h"

static const char backup_usage[] =
    "usage: offseed backup --repo LOC [--limit-upload RATE] [--seed-from STAGING]\n"
    "                      [--exclude PAT]… [--exclude-file F] [--one-file-system]\n"
    "                      [--tag T]… SRC…\n"
    "\n"
    "Incremental backup: files whose size, mtime, ctime and inode match the last run's\n"
    "catalog are not read; everything else is chunked and deduplicated against the whole\n"
    "repository (the seed included), and only new chunks are stored, as packs in data/.\n"
    "Packs are stored several at a time. Re-running after an interruption resumes without\n"
    "storing finished packs again.\n"
    "\n"
    "--limit-upload RATE caps the upload rate of the whole run (all transfers together),\n"
    "RATE in bytes per second with K, M, G (powers of 1024), or 'unlimited'. Repeat it with\n"
    "[DAYS@]HH:MM-HH:MM=RATE for time windows in local time, tried in order, e.g.\n"
    "  --limit-upload 50M --limit-upload mon-fri@08:00-18:00=5M\n"
    "DAYS: mon…sun, ranges and commas (sat,sun); a window may run past midnight.\n"
    "\n"
    "Before the import: a backup to an azure:// location that holds no repository yet first\n"
    "uploads the staging repository's metadata (config, keys, index, snapshots, trees;\n"
    "never its containers), from --seed-from STAGING or from the staging repository a\n"
    "stage on this machine made for that destination. Its snapshots show 'pending seed'\n"
    "until the import brings the containers.\n";

static const char usage[] =
    "usage: offseed stage --repo DIR [--container-size SIZE] [--exclude PAT]…\n"
    "                     [--exclude-file F] [--one-file-system] [--tag T]…\n"
    "                     [--disk MNT [--serial MNT=SERIAL]… [--job NAME]]… SRC…\n"
    "\n"
    "Back up SRC… into sealed, encrypted VHD containers in DIR/containers/ and write\n"
    "DIR/offseed-manifest.json. Re-running the same command after an interruption resumes\n"
    "from the last checkpoint. --container-size (default 16G, at most 2040G) bounds each\n"
    "container. Skipped entries are listed in STATE/logs/stage-TIME-skipped.tsv (exit 3).\n"
    "With --disk (once per disk, in order), containers go straight onto the disks in the\n"
    "Data Box layout, filling one disk after the other; DIR keeps only the metadata, and\n"
    "the disks end up as 'offseed prep' leaves them (job draft DIR/jobs/NAME.json with\n"
    "--job). When the disks are full (exit 9), re-run with one more --disk to continue.\n";

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

/* Build the staging manifest. Containers are immutable, so hashes computed while sealing
 * (or listed by the previous manifest for the same size) are reused; the rest is read. */
static int
build_manifest(struct ofs_repo *r, const struct ofs_manifest *sealed, const uint8_t set[16],
    struct ofs_manifest **out, struct ofs_error *err)
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
	*out = m;
	m = NULL;
	rc = 0;
out:
	ofs_names_free(files, n);
	ofs_manifest_free(old);
	ofs_manifest_free(m);
	free(mpath);
	free(root);
	return rc;
}

static int
write_manifest(struct ofs_repo *r, const struct ofs_manifest *sealed, const uint8_t set[16],
    struct ofs_error *err)
{
	char *mpath = r->be->ops->path(r->be, OFS_MANIFEST_NAME);
	struct ofs_manifest *m = NULL;
	int rc;

	if ((rc = build_manifest(r, sealed, set, &m, err)) == 0)
		rc = ofs_manifest_write(m, mpath, err);
	ofs_manifest_free(m);
	free(mpath);
	return rc;
}

/* Does the repository folder have this file? (A cloud location has no folder: no.) */
static int
repo_has_file(struct ofs_repo *r, const char *name)
{
	char *p = r->be->ops->path != NULL ? r->be->ops->path(r->be, name) : NULL;
	int yes = p != NULL && ofs_path_exists(p);

	free(p);
	return yes;
}

int
ofs_staging_manifest_refresh(struct ofs_repo *r, struct ofs_error *err)
{
	char *mp = r->be->ops->path != NULL ? r->be->ops->path(r->be, OFS_MANIFEST_NAME) : NULL;
	int rc = 0;

	if (mp != NULL && ofs_path_exists(mp))
		rc = write_manifest(r, NULL, NULL, err);
	free(mp);
	return rc;
}

/* stage --disk: every container of seed set `set` (from the index) with its hashes: those
 * sealed by this run or, through the journal, an interrupted one; a container sealed just
 * before a crash (not yet in the journal) is found on a disk and hashed. */
static int
add_disk_containers(struct ofs_repo *r, const struct ofs_manifest *sealed,
    const uint8_t set[16], const struct ofs_stage_opts *o, struct ofs_manifest *m,
    struct ofs_error *err)
{
	uint32_t *seqs = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < ofs_idx_npacks(r->idx); i++) {
		const struct ofs_idx_pack *p = ofs_idx_pack(r->idx, (uint32_t)i);
		size_t k;

		if (p->loc.kind != OFS_LOC_CONTAINER || memcmp(p->loc.set, set, 16) != 0)
			continue;
		for (k = 0; k < n && seqs[k] != p->loc.seq; k++)
			;
		if (k == n) {
			seqs = ofs_xreallocarray(seqs, n + 1, sizeof(*seqs));
			seqs[n++] = p->loc.seq;
		}
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char name[64], *rel;
		const struct ofs_manifest_file *f;
		struct ofs_file_hashes h = { 0 };

		ofs_container_name(set, seqs[i], name, sizeof(name));
		rel = ofs_path_join("containers", name);
		if ((f = find_file(sealed, rel)) != NULL) {
			copy_hashes(&f->h, &h);
		} else {
			char *full = NULL;

			for (size_t k = 0; k < o->ndisks && full == NULL; k++) {
				full = ofs_xasprintf("%s/%s/%s", o->disks[k], o->page_base, rel);
				if (!ofs_path_exists(full)) {
					free(full);
					full = NULL;
				}
			}
			if (full == NULL)
				rc = ofs_err_set(err, OFS_ERR_NOTFOUND, "container '%s' of this seed "
				    "set is on none of the given disks (give every disk stage wrote "
				    "to)", name);
			else
				rc = ofs_hash_file(full, OFS_REGION_SIZE, &h, err);
			free(full);
		}
		if (rc == 0)
			ofs_manifest_add(m, rel, &h);
		free(rel);
	}
	free(seqs);
	return rc;
}

/* stage --disk at the end: partial containers of this set left by a run whose open
 * container was on a disk the resume did not use are removed (a finished set has none). */
static void
remove_partials(const struct ofs_stage_opts *o, const uint8_t set[16])
{
	char hex[33];

	ofs_hex(set, 16, hex);
	for (size_t k = 0; k < o->ndisks; k++) {
		char *dir = ofs_xasprintf("%s/%s/containers", o->disks[k], o->page_base);
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);

			if (e->d_name[0] == '.' && strncmp(e->d_name + 1, hex, 32) == 0 && n > 8 &&
			    strcmp(e->d_name + n - 8, ".partial") == 0) {
				char *full = ofs_path_join(dir, e->d_name);

				ofs_verbose("removing the abandoned partial container '%s'", full);
				unlink(full);
				free(full);
			}
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
}

/* Sum of the bytes stage will read, for progress and for "bytes still needed". A walk of
 * sizes only: reading each entry's owners and xattrs here as well cost a 50k-file stage
 * 109k llistxattr calls instead of 55k. A sparse file counts its allocated bytes, close to
 * the data its extents hold. */
static void
pre_scan(const struct ofs_stage_opts *o, uint64_t *bytes, uint64_t *files)
{
	struct ofs_walk_opts wo = o->walk;
	struct ofs_walk *w = NULL;
	struct ofs_walk_item it;

	*bytes = *files = 0;
	wo.skipped = NULL;
	wo.sizes_only = 1;
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
			uint64_t alloc = (uint64_t)it.st.st_blocks * 512;

			*bytes += alloc < it.node.size ? alloc : it.node.size;
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
		{ "serial", required_argument, NULL, 'N' },
		{ "job", required_argument, NULL, 'J' },
		{ "checkpoint-bytes", required_argument, NULL, 'B' },
		{ "checkpoint-seconds", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 'j' },
		{ "limit-upload", required_argument, NULL, 'L' },
		{ "seed-from", required_argument, NULL, 'F' },
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
	int scanned = 0;
	const char **dmnt = NULL, *job = NULL, *seed_from = NULL;
	char **smnt = NULL, **sval = NULL, **dser = NULL, *dcont = NULL, *dprefix = NULL;
	const char **sover = NULL;
	char *page_base = NULL;
	size_t ndisk = 0, nser = 0;
	struct ofs_prep_result pres;
	struct ofs_manifest *sm = NULL;
	json_t *jdisks = NULL;
	FILE *sk = NULL;
	int c, rc = 0;
	int64_t freebytes;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	memset(&pres, 0, sizeof(pres));
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
			dmnt = ofs_xreallocarray((void *)dmnt, ndisk + 1, sizeof(char *));
			dmnt[ndisk++] = optarg;
			break;
		case 'J': job = optarg; break;
		case 'N': {
			char *eq = strrchr(optarg, '=');

			if (eq == NULL || eq == optarg || eq[1] == '\0') {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "invalid --serial '%s' (use "
				    "MNT=SERIAL)", optarg);
				goto out;
			}
			smnt = ofs_xreallocarray(smnt, nser + 1, sizeof(char *));
			sval = ofs_xreallocarray(sval, nser + 1, sizeof(char *));
			smnt[nser] = ofs_xstrndup(optarg, (size_t)(eq - optarg));
			sval[nser++] = ofs_xstrdup(eq + 1);
			break;
		}
		case 'B':
			if (ofs_parse_size(optarg, &o.checkpoint_bytes) != 0) {
				ofs_error("invalid --checkpoint-bytes '%s'", optarg);
				return 2;
			}
			break;
		case 'S':
			if (ofs_parse_double(optarg, 0.001, 86400.0 * 365, &o.checkpoint_seconds) != 0) {
				ofs_error("--checkpoint-seconds needs a number of seconds, not '%s'",
				    optarg);
				return 2;
			}
			break;
		case 'j':
			if (ofs_cli_threads(optarg, &o.threads) != 0)
				return 2;
			break;
		case 'L':
			if (!backup) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "--limit-upload is an option "
				    "of backup");
				goto out;
			}
			if (o.limit == NULL)
				o.limit = ofs_ratelimit_new();
			if ((rc = ofs_ratelimit_add(o.limit, optarg, &err)) != 0)
				goto out;
			break;
		case 'F':
			if (!backup) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "--seed-from is an option of "
				    "backup");
				goto out;
			}
			seed_from = optarg;
			break;
		case 'h': return ofs_cli_usage(backup ? backup_usage : usage, 1);
		default: return ofs_cli_usage(backup ? backup_usage : usage, 0);
		}
	}
	if (optind >= argc) {
		ofs_error("no source given");
		return ofs_cli_usage(backup ? backup_usage : usage, 0);
	}
	o.loose = backup;
	if (ndisk > 0 && backup) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "--disk is for 'offseed stage' only");
		goto out;
	}
	if (ndisk == 0 && (nser > 0 || job != NULL)) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "--serial and --job go with --disk");
		goto out;
	}
	if (job != NULL && !ofs_job_name_ok(job)) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "invalid job name '%s' (3-24 characters of "
		    "A-Z a-z 0-9 - _ .)", job);
		goto out;
	}
	if (ndisk > 0) {
		dser = ofs_xcalloc(ndisk, sizeof(char *));
		sover = ofs_xcalloc(ndisk, sizeof(char *));
		for (size_t i = 0; i < nser; i++) {
			size_t k;

			for (k = 0; k < ndisk && strcmp(dmnt[k], smnt[i]) != 0; k++)
				;
			if (k == ndisk) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "--serial names '%s', which is "
				    "not one of the --disk mount points", smnt[i]);
				goto out;
			}
			if (dser[k] != NULL) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "two --serial options for disk "
				    "'%s'", dmnt[k]);
				goto out;
			}
			dser[k] = ofs_xstrdup(sval[i]);	/* the override, replaced below */
			sover[k] = sval[i];
		}
	}
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

	if (backup && g->repo != NULL &&
	    (rc = ofs_bootstrap_cloud(g->repo, g->state, seed_from, &err)) != 0)
		goto out;
	if ((rc = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	if (!backup)
		ofs_bootstrap_note_staging(repo);
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
	if (ndisk > 0) {
		if (repo->cfg.destination == NULL || repo->cfg.destination[0] == '\0') {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "repository has no destination: create "
			    "it with 'offseed init --dest azure://ACCOUNT/CONTAINER/PREFIX'");
			goto out;
		}
		if ((rc = ofs_dest_parse(repo->cfg.destination, NULL, &dcont, &dprefix,
		    &err)) != 0)
			goto out;
		page_base = dprefix[0] ? ofs_xasprintf("PageBlob/%s/%s", dcont, dprefix) :
		    ofs_xasprintf("PageBlob/%s", dcont);
	}
	if ((rc = ofs_lock_acquire(repo, g->cmd, &lock, &err)) != 0)
		goto out;
	/* The disks' serials name them in the journal: a disk without one gets its id file
	 * now (prep's rules otherwise). */
	for (size_t k = 0; k < ndisk; k++) {
		struct ofs_disk_space sp;
		enum ofs_serial_src src;
		char *ser = NULL;

		char *setp = ofs_path_join(dmnt[k], OFS_SET_MANIFEST_NAME);
		int prepared = ofs_path_exists(setp);

		free(setp);
		if (prepared) {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "disk '%s' is already a prepared disk "
			    "(it has %s): give an empty disk", dmnt[k], OFS_SET_MANIFEST_NAME);
			goto out;
		}
		if ((rc = ofs_disk_space(dmnt[k], &sp, &err)) != 0 ||
		    (rc = ofs_disk_serial(dmnt[k], dser[k], &ser, &src, &err)) != 0)
			goto out;
		free(dser[k]);
		dser[k] = ser;
		for (size_t j = 0; j < k; j++)
			if (strcmp(dser[j], ser) == 0) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "disks '%s' and '%s' have the "
				    "same serial '%s': give each its own with --serial MNT=SERIAL",
				    dmnt[j], dmnt[k], ser);
				goto out;
			}
		if (src == OFS_SERIAL_NEW && (rc = ofs_disk_write_id(dmnt[k], ser, &err)) != 0)
			goto out;
	}
	o.disks = dmnt;
	o.disk_serials = (const char **)dser;
	o.ndisks = ndisk;
	o.keep_journal = ndisk > 0;
	o.page_base = page_base;
	freebytes = ofs_free_space(repo->state_dir);
	if (freebytes >= 0 && freebytes < (64 << 20)) {
		rc = ofs_err_set(&err, OFS_ERR_NOSPACE,
		    "the state dir '%s' is low on space: %s needs 64 MiB free there, %lld "
		    "bytes are free", repo->state_dir, g->cmd, (long long)freebytes);
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

	/* Totals for progress and for "bytes still needed". A backup reads only what changed,
	 * so a second walk would cost about as much as the backup itself: it goes without.
	 * The walk comes before the stage's own, so when no progress is shown (--no-progress,
	 * -q) it is put off until a full staging folder needs the figure. Over the bench's
	 * 50k-file tree it takes about what `find -printf '%s %b'` takes, 0.17-0.20 s, in
	 * front of a 3 s stage. */
	res.sealed = ofs_manifest_new();
	ofs_progress_start(&pr, g->cmd, 0, 0);
	if (!backup && pr.active) {
		pre_scan(&o, &total_bytes, &total_files);
		scanned = 1;
		ofs_progress_set_total(&pr, total_bytes, total_files);
	}
	rc = ofs_stage_run(repo, &o, &pr, &res, &err);
	ofs_progress_end(&pr);
	{
		/* the list the summary names must be whole: a failed write of it (ENOSPC in
		 * the state dir) fails the run */
		int bad = ferror(sk) ? EIO : 0;

		errno = 0;
		if (fflush(sk) != 0 || fsync(fileno(sk)) != 0)
			bad = errno != 0 ? errno : EIO;
		if (fclose(sk) != 0 && bad == 0)
			bad = errno != 0 ? errno : EIO;
		sk = NULL;
		if (bad != 0 && (rc == 0 || rc == OFS_ERR_SKIPPED))
			rc = ofs_err_sys(&err, OFS_ERR_IO, bad, "cannot write the list of skipped "
			    "entries '%s'", skpath);
	}
	if (rc != 0 && rc != OFS_ERR_SKIPPED && ndisk == 0 &&
	    (!backup || repo_has_file(repo, OFS_MANIFEST_NAME))) {
		/* what the failed run committed (sealed containers, packs, index files) is
		 * listed, so the repository still verifies; the old manifest stays if this
		 * fails too */
		struct ofs_error merr = { 0 };

		if (write_manifest(repo, res.sealed, NULL, &merr) != 0)
			ofs_verbose("cannot refresh the manifest after the failure: %s", merr.msg);
	}
	if (rc != 0 && rc != OFS_ERR_SKIPPED) {
		if (rc == OFS_ERR_NOSPACE) {
			char need[32];
			uint64_t left;

			if (!backup && !scanned)
				pre_scan(&o, &total_bytes, &total_files);
			left = total_bytes > res.bytes_read + res.bytes_reused ?
			    total_bytes - res.bytes_read - res.bytes_reused : 0;

			/* On disks, what is not in a completed file is stored again by the rerun */
			if (ndisk > 0)
				left = total_bytes > res.bytes_done ? total_bytes - res.bytes_done : 0;
			ofs_fmt_size(left, need, sizeof(need));
			if (ndisk > 0)
				ofs_err_wrap(&err, "the disks are full: about %llu bytes of source "
				    "still to store (%s); add a disk and re-run with one more --disk",
				    (unsigned long long)left, need);
			else if (backup)	/* no totals walk: what is left is not known */
				ofs_err_wrap(&err, "not enough space to finish the backup into '%s' "
				    "(free space and re-run to continue)", g->repo);
			else
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

		if (ndisk > 0) {
			/* The staging folder keeps the metadata; the disks get it, their manifests
			 * and the set manifest exactly as prep writes them. */
			struct ofs_prep_opts po;

			memset(&po, 0, sizeof(po));
			po.job = job;
			po.mnts = dmnt;
			po.serials = sover;
			po.ndisks = ndisk;
			po.staging = NULL;
			remove_partials(&o, res.set_id);
			if ((mrc = build_manifest(repo, res.sealed, res.set_id, &sm, &merr)) == 0 &&
			    (mrc = add_disk_containers(repo, res.sealed, res.set_id, &o, sm,
			    &merr)) == 0) {
				po.staging = sm;
				mrc = ofs_prep_run(repo, &po, NULL, &pres, &merr);
			}
			if (mrc == 0)	/* the disks are finished: nothing left to resume */
				ofs_stage_journal_remove(repo, 0);
		} else if (!backup || (mp != NULL && ofs_path_exists(mp))) {
			mrc = write_manifest(repo, res.sealed, backup ? NULL : res.set_id, &merr);
		}
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
	if (res.patches > 0)
		ofs_result("%llu changed chunks stored as patches of the seed\n",
		    (unsigned long long)res.patches);
	if (ndisk > 0) {
		jdisks = json_array();
		for (size_t k = 0; k < pres.ndisks; k++) {
			const struct ofs_prep_disk_result *d = &pres.disks[k];

			ofs_result("disk %u of %zu: '%s' serial %s (%s): %llu containers, %llu "
			    "files, %llu bytes; manifest sha256 %s\n", d->index, pres.ndisks, d->mnt,
			    d->serial, d->serial_source, (unsigned long long)d->containers,
			    (unsigned long long)d->files, (unsigned long long)d->bytes,
			    d->manifest_sha256);
			json_array_append_new(jdisks, json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, "
			    "s:I, s:s}", "index", (int)d->index, "mount", d->mnt, "serial",
			    d->serial, "serial_source", d->serial_source, "bytes",
			    (json_int_t)d->bytes, "files", (json_int_t)d->files, "containers",
			    (json_int_t)d->containers, "manifest_sha256", d->manifest_sha256));
		}
		if (pres.job_path != NULL)
			ofs_result("job draft: %s\n", pres.job_path);
	}
	if (res.skipped + res.changed > 0)
		ofs_warn("%llu entries skipped or changed while read: see '%s'",
		    (unsigned long long)(res.skipped + res.changed), skpath);
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:f, s:s?, s:o?, s:s?}", "type", "summary", "command", g->cmd, "snapshot", idhex,
	    "seed_set", sethex, "resumed", res.resumed, "files", (json_int_t)res.files, "dirs",
	    (json_int_t)res.dirs, "bytes_read", (json_int_t)res.bytes_read, "bytes_reused",
	    (json_int_t)res.bytes_reused, "bytes_new", (json_int_t)res.bytes_new,
	    "bytes_stored", (json_int_t)res.bytes_stored, "containers",
	    (json_int_t)res.containers, "packs", (json_int_t)res.packs, "patches",
	    (json_int_t)res.patches, "skipped",
	    (json_int_t)res.skipped, "changed", (json_int_t)res.changed, "seconds", res.seconds,
	    "skipped_list", res.skipped + res.changed > 0 ? skpath : NULL, "disks", jdisks,
	    "job_draft", pres.job_path));
out:
	if (sk != NULL)
		fclose(sk);
	ofs_lock_release(lock);
	ofs_manifest_free(res.sealed);
	ofs_manifest_free(sm);
	ofs_prep_result_release(&pres);
	ofs_repo_close(repo);
	for (size_t i = 0; i < nser; i++) {
		free(smnt[i]);
		free(sval[i]);
	}
	free(smnt);
	free(sval);
	for (size_t i = 0; dser != NULL && i < ndisk; i++)
		free(dser[i]);
	free(dser);
	free(sover);
	free(dmnt);
	free(dcont);
	free(dprefix);
	free(page_base);
	free(logdir);
	free(skpath);
	free(ex);
	free(tags);
	for (size_t i = 0; abs != NULL && i < o.nsrcs; i++)
		free(abs[i]);
	free(abs);
	ofs_ratelimit_free(o.limit);
	if (rc == OFS_ERR_SKIPPED)
		return 3;
	return ofs_cli_fail(rc, &err);
}
