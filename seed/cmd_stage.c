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
			ofs_file_hashes_copy(&f->h, &h);
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

	for (size_t i = 0; i < ofs_blobtab_npacks(r->idx); i++) {
		const struct ofs_blobtab_pack *p = ofs_blobtab_pack(r->idx, (uint32_t)i);
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
			ofs_file_hashes_copy(&f->h, &h);
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

/* One stage or backup command: its command line parsed, then what the run holds. */
struct stage_cmd {
	int backup;
	const char *usage;
	struct ofs_stage_opts o;
	const char **ex, **tags;	/* --exclude (and --exclude-file lines), --tag */
	size_t nex, ntags;
	char **abs;			/* the sources, absolute (o.srcs) */
	const char **dmnt;		/* --disk, in order */
	size_t ndisk;
	const char *job, *seed_from;
	char **smnt, **sval;		/* --serial MNT=SERIAL, as given */
	size_t nser;
	char **dser;			/* per disk: its serial (owned) */
	const char **sover;		/* per disk: the --serial given for it, or NULL */
	char *dcont, *dprefix, *page_base;
	/* set-up and run */
	struct ofs_repo *repo;
	struct ofs_lock *lock;
	char *logdir, *skpath;
	FILE *sk;
	struct ofs_progress pr;
	struct ofs_stage_result res;
	struct ofs_prep_result pres;
	struct ofs_manifest *sm;	/* stage --disk: the staging manifest given to prep */
	uint64_t total_bytes, total_files;
	int scanned;
};

/* What parse_options and check_args return besides 0 or an error: the command is over,
 * with exit status *status (the message, usage or help is printed). */
#define STAGE_EXIT 1

/* The options into c. Returns 0, STAGE_EXIT, or an error in err. */
static int
parse_options(int argc, char **argv, struct stage_cmd *c, struct ofs_error *err,
    int *status)
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
	struct ofs_stage_opts *o = &c->o;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hx", opts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			if (ofs_parse_size(optarg, &o->container_size) != 0 ||
			    o->container_size < (16u << 20) ||
			    o->container_size > OFS_CONTAINER_MAX) {
				ofs_error("invalid --container-size '%s' (16M to 2040G)", optarg);
				*status = 2;
				return STAGE_EXIT;
			}
			break;
		case 'e':
			c->ex = ofs_xreallocarray((void *)c->ex, c->nex + 1, sizeof(char *));
			c->ex[c->nex++] = optarg;
			break;
		case 'E':
			if ((rc = read_exclude_file(optarg, &c->ex, &c->nex, err)) != 0)
				return rc;
			break;
		case 'x': o->walk.one_file_system = 1; break;
		case 't':
			c->tags = ofs_xreallocarray((void *)c->tags, c->ntags + 1, sizeof(char *));
			c->tags[c->ntags++] = optarg;
			break;
		case 'D':
			c->dmnt = ofs_xreallocarray((void *)c->dmnt, c->ndisk + 1, sizeof(char *));
			c->dmnt[c->ndisk++] = optarg;
			break;
		case 'J': c->job = optarg; break;
		case 'N': {
			char *eq = strrchr(optarg, '=');

			if (eq == NULL || eq == optarg || eq[1] == '\0')
				return ofs_err_set(err, OFS_ERR_USAGE, "invalid --serial '%s' (use "
				    "MNT=SERIAL)", optarg);
			c->smnt = ofs_xreallocarray(c->smnt, c->nser + 1, sizeof(char *));
			c->sval = ofs_xreallocarray(c->sval, c->nser + 1, sizeof(char *));
			c->smnt[c->nser] = ofs_xstrndup(optarg, (size_t)(eq - optarg));
			c->sval[c->nser++] = ofs_xstrdup(eq + 1);
			break;
		}
		case 'B':
			if (ofs_parse_size(optarg, &o->checkpoint_bytes) != 0) {
				ofs_error("invalid --checkpoint-bytes '%s'", optarg);
				*status = 2;
				return STAGE_EXIT;
			}
			break;
		case 'S':
			if (ofs_parse_double(optarg, 0.001, 86400.0 * 365,
			    &o->checkpoint_seconds) != 0) {
				ofs_error("--checkpoint-seconds needs a number of seconds, not '%s'",
				    optarg);
				*status = 2;
				return STAGE_EXIT;
			}
			break;
		case 'j':
			if (ofs_cli_threads(optarg, &o->threads) != 0) {
				*status = 2;
				return STAGE_EXIT;
			}
			break;
		case 'L':
			if (!c->backup)
				return ofs_err_set(err, OFS_ERR_USAGE, "--limit-upload is an option "
				    "of backup");
			if (o->limit == NULL)
				o->limit = ofs_ratelimit_new();
			if ((rc = ofs_ratelimit_add(o->limit, optarg, err)) != 0)
				return rc;
			break;
		case 'F':
			if (!c->backup)
				return ofs_err_set(err, OFS_ERR_USAGE, "--seed-from is an option of "
				    "backup");
			c->seed_from = optarg;
			break;
		case 'h':
			*status = ofs_cli_usage(c->usage, 1);
			return STAGE_EXIT;
		default:
			*status = ofs_cli_usage(c->usage, 0);
			return STAGE_EXIT;
		}
	}
	return 0;
}

/* The sources (argv from optind), absolute: snapshots record absolute source paths
 * (symlinks in them are not resolved). Each must exist. */
static int
take_sources(int argc, char **argv, struct stage_cmd *c, struct ofs_error *err)
{
	struct ofs_stage_opts *o = &c->o;

	c->abs = ofs_xcalloc((size_t)(argc - optind), sizeof(char *));
	for (int i = optind; i < argc; i++) {
		char cwd[4096];
		size_t l;

		if (argv[i][0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
			c->abs[i - optind] = ofs_xstrdup(argv[i]);
		else
			c->abs[i - optind] = ofs_path_join(cwd, argv[i]);
		l = strlen(c->abs[i - optind]);
		while (l > 1 && c->abs[i - optind][l - 1] == '/')
			c->abs[i - optind][--l] = '\0';
	}
	o->srcs = (const char **)c->abs;
	o->nsrcs = (size_t)(argc - optind);
	o->walk.excludes = c->ex;
	o->walk.nexcludes = c->nex;
	o->tags = c->tags;
	o->ntags = c->ntags;
	for (size_t i = 0; i < o->nsrcs; i++) {
		struct stat st;

		if (lstat(o->srcs[i], &st) != 0)
			return ofs_err_sys(err, OFS_ERR_USAGE, errno, "cannot read source '%s'",
			    o->srcs[i]);
	}
	return 0;
}

/* The whole command line into c: options, the rules between them, the sources. Returns
 * 0, STAGE_EXIT, or an error in err. */
static int
parse_args(int argc, char **argv, struct stage_cmd *c, struct ofs_error *err, int *status)
{
	int rc;

	c->o.container_size = OFS_CONTAINER_DEFAULT;
	c->o.checkpoint_bytes = 1ULL << 30;
	c->o.checkpoint_seconds = 60;
	if ((rc = parse_options(argc, argv, c, err, status)) != 0)
		return rc;
	if (optind >= argc) {
		ofs_error("no source given");
		*status = ofs_cli_usage(c->usage, 0);
		return STAGE_EXIT;
	}
	c->o.loose = c->backup;
	if (c->ndisk > 0 && c->backup)
		return ofs_err_set(err, OFS_ERR_USAGE, "--disk is for 'offseed stage' only");
	if (c->ndisk == 0 && (c->nser > 0 || c->job != NULL))
		return ofs_err_set(err, OFS_ERR_USAGE, "--serial and --job go with --disk");
	if (c->job != NULL && !ofs_job_name_ok(c->job))
		return ofs_err_set(err, OFS_ERR_USAGE, "invalid job name '%s' (3-24 characters "
		    "of A-Z a-z 0-9 - _ .)", c->job);
	if (c->ndisk > 0) {
		c->dser = ofs_xcalloc(c->ndisk, sizeof(char *));
		c->sover = ofs_xcalloc(c->ndisk, sizeof(char *));
		for (size_t i = 0; i < c->nser; i++) {
			size_t k;

			for (k = 0; k < c->ndisk && strcmp(c->dmnt[k], c->smnt[i]) != 0; k++)
				;
			if (k == c->ndisk)
				return ofs_err_set(err, OFS_ERR_USAGE, "--serial names '%s', which "
				    "is not one of the --disk mount points", c->smnt[i]);
			if (c->dser[k] != NULL)
				return ofs_err_set(err, OFS_ERR_USAGE, "two --serial options for "
				    "disk '%s'", c->dmnt[k]);
			c->dser[k] = ofs_xstrdup(c->sval[i]);	/* the override, replaced later */
			c->sover[k] = c->sval[i];
		}
	}
	return take_sources(argc, argv, c, err);
}

/* The disks' serials name them in the journal: a disk without one gets its id file now
 * (prep's rules otherwise). Each disk must be empty of a prepared set. */
static int
identify_disks(struct stage_cmd *c, struct ofs_error *err)
{
	int rc;

	for (size_t k = 0; k < c->ndisk; k++) {
		struct ofs_disk_space sp;
		enum ofs_serial_src src;
		char *ser = NULL;
		char *setp = ofs_path_join(c->dmnt[k], OFS_SET_MANIFEST_NAME);
		int prepared = ofs_path_exists(setp);

		free(setp);
		if (prepared)
			return ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' is already a prepared "
			    "disk (it has %s): give an empty disk", c->dmnt[k],
			    OFS_SET_MANIFEST_NAME);
		if ((rc = ofs_disk_space(c->dmnt[k], &sp, err)) != 0 ||
		    (rc = ofs_disk_serial(c->dmnt[k], c->dser[k], &ser, &src, err)) != 0)
			return rc;
		free(c->dser[k]);
		c->dser[k] = ser;
		for (size_t j = 0; j < k; j++)
			if (strcmp(c->dser[j], ser) == 0)
				return ofs_err_set(err, OFS_ERR_USAGE, "disks '%s' and '%s' have "
				    "the same serial '%s': give each its own with --serial "
				    "MNT=SERIAL", c->dmnt[j], c->dmnt[k], ser);
		if (src == OFS_SERIAL_NEW && (rc = ofs_disk_write_id(c->dmnt[k], ser, err)) != 0)
			return rc;
	}
	return 0;
}

/* Before the run: the repository (a cloud backup's bootstrapped first), its lock, the
 * disks, room in the state dir, and the list of skipped entries. */
static int
stage_setup(struct ofs_cli *g, struct stage_cmd *c, struct ofs_error *err)
{
	struct ofs_stage_opts *o = &c->o;
	char when[32], *root;
	int64_t freebytes;
	int rc, folder;

	if (c->backup && g->repo != NULL &&
	    (rc = ofs_bootstrap_cloud(g->repo, g->state, c->seed_from, err)) != 0)
		return rc;
	if ((rc = ofs_cli_open_repo(g, 1, 1, &c->repo, err)) != 0)
		return rc;
	if (!c->backup)
		ofs_bootstrap_note_staging(c->repo);
	/* stage writes containers into a folder; a disk set or a cloud location is not one */
	root = c->repo->be->ops->path(c->repo->be, "containers");
	folder = root != NULL;
	free(root);
	if (!c->backup && !folder)
		return ofs_err_set(err, OFS_ERR_USAGE, "cannot stage into '%s': stage writes to "
		    "a staging folder (use 'offseed backup' for other locations)", g->repo);
	if (c->ndisk > 0) {
		const char *dest = c->repo->cfg.destination;

		if (dest == NULL || dest[0] == '\0')
			return ofs_err_set(err, OFS_ERR_USAGE, "repository has no destination: "
			    "create it with 'offseed init --dest azure://ACCOUNT/CONTAINER/PREFIX'");
		if ((rc = ofs_dest_parse(dest, NULL, &c->dcont, &c->dprefix, err)) != 0)
			return rc;
		c->page_base = c->dprefix[0] ?
		    ofs_xasprintf("PageBlob/%s/%s", c->dcont, c->dprefix) :
		    ofs_xasprintf("PageBlob/%s", c->dcont);
	}
	if ((rc = ofs_lock_acquire(c->repo, g->cmd, &c->lock, err)) != 0)
		return rc;
	if ((rc = identify_disks(c, err)) != 0)
		return rc;
	o->disks = c->dmnt;
	o->disk_serials = (const char **)c->dser;
	o->ndisks = c->ndisk;
	o->keep_journal = c->ndisk > 0;
	o->page_base = c->page_base;
	freebytes = ofs_free_space(c->repo->state_dir);
	if (freebytes >= 0 && freebytes < (64 << 20))
		return ofs_err_set(err, OFS_ERR_NOSPACE, "the state dir '%s' is low on space: %s "
		    "needs 64 MiB free there, %lld bytes are free", c->repo->state_dir, g->cmd,
		    (long long)freebytes);
	c->logdir = ofs_path_join(c->repo->state_dir, "logs");
	if ((rc = ofs_mkdir_p(c->logdir, 0700, err)) != 0)
		return rc;
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	c->skpath = ofs_xasprintf("%s/%s-%s-skipped.tsv", c->logdir, g->cmd, when);
	if ((c->sk = fopen(c->skpath, "w")) == NULL)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create '%s'", c->skpath);
	fputs("path\treason\n", c->sk);
	o->walk.skipped = c->sk;
	o->skipped_path = c->skpath;
	return 0;
}

/* A full staging folder or disk set: say how much is left to store. */
static void
explain_nospace(struct ofs_cli *g, struct stage_cmd *c, struct ofs_error *err)
{
	char need[32];
	uint64_t left;

	if (!c->backup && !c->scanned)
		pre_scan(&c->o, &c->total_bytes, &c->total_files);
	left = c->total_bytes > c->res.bytes_read + c->res.bytes_reused ?
	    c->total_bytes - c->res.bytes_read - c->res.bytes_reused : 0;

	/* On disks, what is not in a completed file is stored again by the rerun */
	if (c->ndisk > 0)
		left = c->total_bytes > c->res.bytes_done ? c->total_bytes - c->res.bytes_done : 0;
	ofs_fmt_size(left, need, sizeof(need));
	if (c->ndisk > 0)
		ofs_err_wrap(err, "the disks are full: about %llu bytes of source still to store "
		    "(%s); add a disk and re-run with one more --disk", (unsigned long long)left,
		    need);
	else if (c->backup)	/* no totals walk: what is left is not known */
		ofs_err_wrap(err, "not enough space to finish the backup into '%s' (free space "
		    "and re-run to continue)", g->repo);
	else
		ofs_err_wrap(err, "not enough space to finish staging into '%s' (about %s of "
		    "source still to store, %llu bytes; free space and re-run to continue)",
		    g->repo, need, (unsigned long long)left);
}

/* The run: the stage pipeline with progress, then the list of skipped entries made whole.
 * Returns 0, OFS_ERR_SKIPPED, or an error (what it committed stays listed). */
static int
stage_execute(struct ofs_cli *g, struct stage_cmd *c, struct ofs_error *err)
{
	int rc, bad;

	/* Totals for progress and for "bytes still needed". A backup reads only what changed,
	 * so a second walk would cost about as much as the backup itself: it goes without.
	 * The walk comes before the stage's own, so when no progress is shown (--no-progress,
	 * -q) it is put off until a full staging folder needs the figure. Over the bench's
	 * 50k-file tree it takes about what `find -printf '%s %b'` takes, 0.17-0.20 s, in
	 * front of a 3 s stage. */
	c->res.sealed = ofs_manifest_new();
	ofs_progress_start(&c->pr, g->cmd, 0, 0);
	if (!c->backup && c->pr.active) {
		pre_scan(&c->o, &c->total_bytes, &c->total_files);
		c->scanned = 1;
		ofs_progress_set_total(&c->pr, c->total_bytes, c->total_files);
	}
	rc = ofs_stage_run(c->repo, &c->o, &c->pr, &c->res, err);
	ofs_progress_end(&c->pr);
	/* the list the summary names must be whole: a failed write of it (ENOSPC in the state
	 * dir) fails the run */
	bad = ferror(c->sk) ? EIO : 0;
	errno = 0;
	if (fflush(c->sk) != 0 || fsync(fileno(c->sk)) != 0)
		bad = errno != 0 ? errno : EIO;
	if (fclose(c->sk) != 0 && bad == 0)
		bad = errno != 0 ? errno : EIO;
	c->sk = NULL;
	if (bad != 0 && (rc == 0 || rc == OFS_ERR_SKIPPED))
		rc = ofs_err_sys(err, OFS_ERR_IO, bad, "cannot write the list of skipped entries "
		    "'%s'", c->skpath);
	if (rc != 0 && rc != OFS_ERR_SKIPPED && c->ndisk == 0 &&
	    (!c->backup || repo_has_file(c->repo, OFS_MANIFEST_NAME))) {
		/* what the failed run committed (sealed containers, packs, index files) is
		 * listed, so the repository still verifies; the old manifest stays if this
		 * fails too */
		struct ofs_error merr = { 0 };

		if (write_manifest(c->repo, c->res.sealed, NULL, &merr) != 0)
			ofs_verbose("cannot refresh the manifest after the failure: %s", merr.msg);
	}
	if (rc == OFS_ERR_NOSPACE)
		explain_nospace(g, c, err);
	return rc;
}

/* After a run: the staging manifest, or with --disk the disks finished as prep leaves
 * them. */
static int
stage_complete(struct stage_cmd *c, struct ofs_error *err)
{
	/* A backup into a local staging repo keeps its manifest current; elsewhere (no
	 * manifest) there is none to keep. */
	char *mp = c->repo->be->ops->path(c->repo->be, OFS_MANIFEST_NAME);
	int rc = 0;

	if (c->ndisk > 0) {
		/* The staging folder keeps the metadata; the disks get it, their manifests and
		 * the set manifest exactly as prep writes them. */
		struct ofs_prep_opts po;

		memset(&po, 0, sizeof(po));
		po.job = c->job;
		po.mnts = c->dmnt;
		po.serials = c->sover;
		po.ndisks = c->ndisk;
		po.staging = NULL;
		remove_partials(&c->o, c->res.set_id);
		if ((rc = build_manifest(c->repo, c->res.sealed, c->res.set_id, &c->sm,
		    err)) == 0 && (rc = add_disk_containers(c->repo, c->res.sealed, c->res.set_id,
		    &c->o, c->sm, err)) == 0) {
			po.staging = c->sm;
			rc = ofs_prep_run(c->repo, &po, NULL, &c->pres, err);
		}
		if (rc == 0)	/* the disks are finished: nothing left to resume */
			ofs_stage_journal_remove(c->repo, 0);
	} else if (!c->backup || (mp != NULL && ofs_path_exists(mp))) {
		rc = write_manifest(c->repo, c->res.sealed, c->backup ? NULL : c->res.set_id,
		    err);
	}
	free(mp);
	return rc;
}

/* The result lines on stdout and the --json summary. */
static void
stage_report(struct ofs_cli *g, struct stage_cmd *c)
{
	const struct ofs_stage_result *res = &c->res;
	const struct ofs_prep_result *pres = &c->pres;
	char idhex[65], sethex[33];
	json_t *jdisks = NULL;

	ofs_hex(res->snapshot_id, OFS_ID_LEN, idhex);
	ofs_hex(res->set_id, 16, sethex);
	if (res->skipped + res->changed == 0) {
		unlink(c->skpath);
	}
	if (c->backup)
		ofs_result("snapshot %.8s saved%s\n", idhex,
		    res->resumed ? ", resumed after an interruption" : "");
	else
		ofs_result("snapshot %.8s saved (seed set %s)%s\n", idhex, sethex,
		    res->resumed ? ", resumed after an interruption" : "");
	ofs_result("%llu files, %llu dirs, %llu bytes read, %llu new, %llu stored in %llu "
	    "containers (%llu packs), %.1fs\n", (unsigned long long)res->files,
	    (unsigned long long)res->dirs, (unsigned long long)res->bytes_read,
	    (unsigned long long)res->bytes_new, (unsigned long long)res->bytes_stored,
	    (unsigned long long)res->containers, (unsigned long long)res->packs, res->seconds);
	if (res->patches > 0)
		ofs_result("%llu changed chunks stored as patches of the seed\n",
		    (unsigned long long)res->patches);
	if (c->ndisk > 0) {
		jdisks = json_array();
		for (size_t k = 0; k < pres->ndisks; k++) {
			const struct ofs_prep_disk_result *d = &pres->disks[k];

			ofs_result("disk %u of %zu: '%s' serial %s (%s): %llu containers, %llu "
			    "files, %llu bytes; manifest sha256 %s\n", d->index, pres->ndisks,
			    d->mnt, d->serial, d->serial_source, (unsigned long long)d->containers,
			    (unsigned long long)d->files, (unsigned long long)d->bytes,
			    d->manifest_sha256);
			json_array_append_new(jdisks, json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, "
			    "s:I, s:s}", "index", (int)d->index, "mount", d->mnt, "serial",
			    d->serial, "serial_source", d->serial_source, "bytes",
			    (json_int_t)d->bytes, "files", (json_int_t)d->files, "containers",
			    (json_int_t)d->containers, "manifest_sha256", d->manifest_sha256));
		}
		if (pres->job_path != NULL)
			ofs_result("job draft: %s\n", pres->job_path);
	}
	if (res->skipped + res->changed > 0)
		ofs_warn("%llu entries skipped or changed while read: see '%s'",
		    (unsigned long long)(res->skipped + res->changed), c->skpath);
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:f, s:s?, s:o?, s:s?}", "type", "summary", "command", g->cmd,
	    "snapshot", idhex, "seed_set", sethex, "resumed", res->resumed, "files",
	    (json_int_t)res->files, "dirs", (json_int_t)res->dirs, "bytes_read",
	    (json_int_t)res->bytes_read, "bytes_reused", (json_int_t)res->bytes_reused,
	    "bytes_new", (json_int_t)res->bytes_new, "bytes_stored",
	    (json_int_t)res->bytes_stored, "containers", (json_int_t)res->containers,
	    "packs", (json_int_t)res->packs, "patches", (json_int_t)res->patches, "skipped",
	    (json_int_t)res->skipped, "changed", (json_int_t)res->changed, "seconds",
	    res->seconds, "skipped_list", res->skipped + res->changed > 0 ? c->skpath : NULL,
	    "disks", jdisks, "job_draft", pres->job_path));
}

static void
stage_cmd_release(struct stage_cmd *c)
{
	if (c->sk != NULL)
		fclose(c->sk);
	ofs_lock_release(c->lock);
	ofs_manifest_free(c->res.sealed);
	ofs_manifest_free(c->sm);
	ofs_prep_result_release(&c->pres);
	ofs_repo_close(c->repo);
	for (size_t i = 0; i < c->nser; i++) {
		free(c->smnt[i]);
		free(c->sval[i]);
	}
	free(c->smnt);
	free(c->sval);
	for (size_t i = 0; c->dser != NULL && i < c->ndisk; i++)
		free(c->dser[i]);
	free(c->dser);
	free(c->sover);
	free(c->dmnt);
	free(c->dcont);
	free(c->dprefix);
	free(c->page_base);
	free(c->logdir);
	free(c->skpath);
	free(c->ex);
	free(c->tags);
	for (size_t i = 0; c->abs != NULL && i < c->o.nsrcs; i++)
		free(c->abs[i]);
	free(c->abs);
	ofs_ratelimit_free(c->o.limit);
}

int
ofs_stage_command(int argc, char **argv, struct ofs_cli *g, int backup)
{
	struct stage_cmd c;
	struct ofs_error err = { 0 };
	int rc, status = 0;

	memset(&c, 0, sizeof(c));
	c.backup = backup;
	c.usage = backup ? backup_usage : usage;
	if ((rc = parse_args(argc, argv, &c, &err, &status)) == STAGE_EXIT) {
		stage_cmd_release(&c);
		return status;
	}
	if (rc == 0)
		rc = stage_setup(g, &c, &err);
	if (rc == 0)
		rc = stage_execute(g, &c, &err);
	if (rc == 0 || rc == OFS_ERR_SKIPPED) {
		int mrc = stage_complete(&c, &err);

		if (mrc != 0)
			rc = mrc;
	}
	if (rc == 0 || rc == OFS_ERR_SKIPPED)
		stage_report(g, &c);
	stage_cmd_release(&c);
	if (rc == OFS_ERR_SKIPPED)
		return 3;
	return ofs_cli_fail(rc, &err);
}
