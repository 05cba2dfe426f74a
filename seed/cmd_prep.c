/* offseed prep: on the copy computer, place the staged containers on disks, copy them with a
 * read-back check, and write the disk manifests, the set manifest and the job draft. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobjson.h"
#include "lock.h"
#include "render.h"
#include "prep.h"
#include "util.h"

static const char usage[] =
    "usage: offseed prep --repo STAGING --disk MNT… --job NAME [--serial MNT=SERIAL]…\n"
    "                    [--repair] [--limit-rate RATE]\n"
    "\n"
    "Place the sealed containers of the staging repository on the disks mounted at MNT…\n"
    "(largest first, by free space; the whole placement is decided before anything is\n"
    "written: exit 9 says how many bytes and disks are missing), in the Data Box layout:\n"
    "PageBlob/CONTAINER/PREFIX/containers/*.vhd on one disk each, the repository metadata\n"
    "under BlockBlob/CONTAINER/PREFIX/ on every disk. Every byte written is read back and\n"
    "checked against the staging manifest. Writes offseed-manifest.json and\n"
    "offseed-set.json on every disk and the job draft STAGING/jobs/NAME.json.\n"
    "\n"
    "  --disk MNT            a disk's mount point (repeat; the order gives disk numbers)\n"
    "  --job NAME            import job name (3-24 characters of A-Z a-z 0-9 - _ .)\n"
    "  --serial MNT=SERIAL   the disk's serial when it cannot be read from the device;\n"
    "                        without either, a stable id is written to MNT/.offseed-disk-id\n"
    "  --repair              re-hash the files on the disks and copy again only the ones\n"
    "                        that fail (after verify reported damage)\n"
    "  --limit-rate RATE     cap the write rate per disk (K, M, G per second)\n"
    "\n"
    "Re-running after an interruption continues: files already verified on a disk are not\n"
    "copied again. No passphrase is needed.\n";

int
cmd_prep(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "job", required_argument, NULL, 'J' },
		{ "serial", required_argument, NULL, 's' },
		{ "repair", no_argument, NULL, 'R' },
		{ "limit-rate", required_argument, NULL, 'L' },
		{ "io-size", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_prep_opts o;
	struct ofs_prep_result res;
	struct ofs_error err = { 0 };
	struct ofs_progress pr;
	struct ofs_repo *repo = NULL;
	struct ofs_lock *lock = NULL;
	const char **mnts = NULL, **serials = NULL;
	char **smnt = NULL, **sval = NULL;
	size_t nmnt = 0, nser = 0;
	uint64_t v;
	int c, rc = 0;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			mnts = ofs_xreallocarray((void *)mnts, nmnt + 1, sizeof(char *));
			mnts[nmnt++] = optarg;
			break;
		case 'J': o.job = optarg; break;
		case 's': {
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
		case 'R': o.repair = 1; break;
		case 'L': {
			char *rate = ofs_xstrdup(optarg), *sl = strchr(rate, '/');

			if (sl != NULL && strcmp(sl, "/s") == 0)
				*sl = '\0';
			if (ofs_parse_size(rate, &o.limit_rate) != 0 || o.limit_rate == 0) {
				free(rate);
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "invalid --limit-rate '%s' (a "
				    "rate like 100M: bytes per second, K/M/G)", optarg);
				goto out;
			}
			free(rate);
			break;
		}
		case 'I':
			if (ofs_parse_size(optarg, &v) != 0 || v < 4096 || v > (256u << 20) ||
			    v % 4096 != 0) {
				rc = ofs_err_set(&err, OFS_ERR_USAGE, "invalid --io-size '%s' (4K to "
				    "256M, a multiple of 4K)", optarg);
				goto out;
			}
			o.io_size = (size_t)v;
			break;
		case 'h':
			rc = 0;
			ofs_cli_usage(usage, 1);
			goto done;
		default:
			ofs_cli_usage(usage, 0);
			rc = 2;
			goto done;
		}
	}
	if (optind < argc) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "unexpected argument '%s' (give disks with "
		    "--disk MNT)", argv[optind]);
		goto out;
	}
	if (nmnt == 0) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "no disk given: use --disk MNT (once per "
		    "disk)");
		goto out;
	}
	if (o.job == NULL) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "no job name given: use --job NAME");
		goto out;
	}
	if (!ofs_job_name_ok(o.job)) {
		rc = ofs_err_set(&err, OFS_ERR_USAGE, "invalid job name '%s' (3-24 characters of "
		    "A-Z a-z 0-9 - _ .)", o.job);
		goto out;
	}
	/* --serial MNT=SERIAL applies to the --disk naming the same folder. */
	serials = ofs_xcalloc(nmnt, sizeof(char *));
	for (size_t i = 0; i < nser; i++) {
		char a[PATH_MAX], b[PATH_MAX];
		size_t k;

		for (k = 0; k < nmnt; k++)
			if (strcmp(smnt[i], mnts[k]) == 0 || (realpath(smnt[i], a) != NULL &&
			    realpath(mnts[k], b) != NULL && strcmp(a, b) == 0))
				break;
		if (k == nmnt) {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "--serial names '%s', which is not "
			    "one of the --disk mount points", smnt[i]);
			goto out;
		}
		if (serials[k] != NULL) {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "two --serial options for disk '%s'",
			    mnts[k]);
			goto out;
		}
		serials[k] = sval[i];
	}
	o.mnts = mnts;
	o.serials = serials;
	o.ndisks = nmnt;

	if ((rc = ofs_cli_open_repo(g, 0, 0, &repo, &err)) != 0)
		goto out;
	if ((rc = ofs_lock_acquire(repo, g->cmd, &lock, &err)) != 0)
		goto out;
	ofs_progress_start(&pr, g->cmd, 0, 0);
	rc = ofs_prep_run(repo, &o, &pr, &res, &err);
	ofs_progress_end(&pr);
	if (rc != 0)
		goto out;

	for (size_t k = 0; k < res.ndisks; k++) {
		const struct ofs_prep_disk_result *d = &res.disks[k];

		ofs_result("disk %u of %zu: '%s' serial %s (%s): %llu containers, %llu files, "
		    "%llu bytes; manifest sha256 %s\n", d->index, res.ndisks, d->mnt, d->serial,
		    d->serial_source, (unsigned long long)d->containers,
		    (unsigned long long)d->files, (unsigned long long)d->bytes,
		    d->manifest_sha256);
	}
	ofs_result("seed set %s prepared on %zu disk%s: %llu bytes copied and read back, %llu "
	    "bytes already there (skipped), %.1fs\n", res.seed_set, res.ndisks,
	    res.ndisks == 1 ? "" : "s", (unsigned long long)res.bytes_copied,
	    (unsigned long long)res.bytes_skipped, res.seconds);
	if (o.repair)
		ofs_result("%llu files repaired\n", (unsigned long long)res.files_repaired);
	ofs_result("job draft: %s\n", res.job_path);
	{
		json_t *disks = json_array();

		for (size_t k = 0; k < res.ndisks; k++) {
			const struct ofs_prep_disk_result *d = &res.disks[k];

			json_array_append_new(disks, json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, "
			    "s:s, s:I, s:I, s:I, s:I, s:I}", "index", (int)d->index, "mount", d->mnt,
			    "serial", d->serial, "serial_source", d->serial_source, "bytes",
			    (json_int_t)d->bytes, "files", (json_int_t)d->files, "containers",
			    (json_int_t)d->containers, "manifest_sha256", d->manifest_sha256,
			    "bytes_copied", (json_int_t)d->bytes_copied, "bytes_skipped",
			    (json_int_t)d->bytes_skipped, "files_copied",
			    (json_int_t)d->files_copied, "files_skipped",
			    (json_int_t)d->files_skipped, "files_repaired",
			    (json_int_t)d->files_repaired));
		}
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:s, s:f, s:o}", "type", "summary", "command", g->cmd, "job", o.job,
		    "seed_set", res.seed_set, "repair", o.repair, "bytes_total",
		    (json_int_t)res.bytes_total, "bytes_copied", (json_int_t)res.bytes_copied,
		    "bytes_skipped", (json_int_t)res.bytes_skipped, "bytes_rehashed",
		    (json_int_t)res.bytes_rehashed, "files_copied", (json_int_t)res.files_copied,
		    "files_skipped", (json_int_t)res.files_skipped, "files_repaired",
		    (json_int_t)res.files_repaired, "job_draft", res.job_path, "seconds",
		    res.seconds, "disks", disks));
	}
out:
	rc = ofs_cli_fail(rc, &err);
done:
	ofs_lock_release(lock);
	ofs_repo_close(repo);
	ofs_prep_result_release(&res);
	for (size_t i = 0; i < nser; i++) {
		free(smnt[i]);
		free(sval[i]);
	}
	free(smnt);
	free(sval);
	free(mnts);
	free(serials);
	return rc;
}
