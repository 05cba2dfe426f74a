/* Fuzz target: every parser of what the import service sends (job, job list, error body,
 * token, operation status, copy log) and of its credentials file, each run on the input;
 * jobs are import or export jobs (exportDiskDetailsCollection, dataExportDetails). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s)
{
	/* Whatever a parser accepts must be printable: no control characters. */
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

/* A ".." part in a '/'-separated path ("..name" is a name, not a way up). */
static int
has_dotdot(const char *p)
{
	size_t n = strlen(p);

	return strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 || strstr(p, "/../") != NULL ||
	    (n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

/* An export job's fields as the parser promises them (jobjson.h): a known transfer type,
 * valid serials, relative manifest paths, lower-case SHA-256 hashes. */
static void
check_export(const struct ofs_job *j)
{
	if (j->transfer_type != NULL && strcmp(j->transfer_type, "ImportToAzure") != 0 &&
	    strcmp(j->transfer_type, "ExportFromAzure") != 0)
		abort();
	if (j->export_blobs < -1 || j->export_blobs > (int64_t)OFS_EXPORT_BLOBS_MAX)
		abort();
	check_str(j->storage_account_id);
	for (size_t i = 0; i < j->nexport_disks; i++) {
		const struct ofs_job_export_disk *d = &j->export_disks[i];
		const char *f = d->manifest_file;
		size_t n = strlen(d->serial);

		if (n == 0 || n > 64 || d->serial[0] == '.' || d->serial[0] == '-' ||
		    strspn(d->serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._:-") != n)
			abort();
		if (d->manifest_hash != NULL && (strlen(d->manifest_hash) != 64 ||
		    strspn(d->manifest_hash, "0123456789abcdef") != 64))
			abort();
		if (f != NULL && (f[0] == '\0' || f[0] == '/' || strchr(f, '\\') != NULL ||
		    has_dotdot(f)))
			abort();
		check_str(f);
		check_str(d->backup_manifest_cloud_path);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_error err;
	struct ofs_job j, *jobs = NULL;
	struct ofs_api_error ae;
	struct ofs_copylog cl;
	struct ofs_credentials cr;
	char *token = NULL, *next = NULL, status[32];
	int64_t exp;
	size_t n = 0;

	if (ofs_jobjson_parse_job(data, size, "fuzz", &j, &err) == 0) {
		check_str(j.name);
		check_str(j.status);
		for (size_t i = 0; i < j.ndisks; i++) {
			check_str(j.disks[i].serial);
			check_str(j.disks[i].copy_status);
			if (j.disks[i].bytes_processed < -1 || j.disks[i].total_bytes < -1)
				abort();
		}
		for (size_t i = 0; i < j.nlogs; i++)
			check_str(j.logs[i].error_link);
		check_export(&j);
		ofs_job_release(&j);
	}
	if (ofs_jobjson_parse_list(data, size, "fuzz", &jobs, &n, &next, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			ofs_job_release(&jobs[i]);
		free(jobs);
		free(next);
	}
	if (ofs_jobjson_parse_error(data, size, &ae) == 0) {
		if (strlen(ae.code) >= sizeof(ae.code) || strlen(ae.min_version) >=
		    sizeof(ae.min_version))
			abort();
		check_str(ae.message);
	}
	if (ofs_jobjson_parse_token(data, size, "fuzz", &token, &exp, &err) == 0) {
		if (token == NULL || exp < 0)
			abort();
		free(token);
	}
	if (ofs_jobjson_parse_async(data, size, "fuzz", status, &ae, &err) == 0)
		if (status[0] == '\0' || strlen(status) >= sizeof(status))
			abort();
	if (ofs_jobjson_parse_copylog(data, size, "fuzz", &cl, &err) == 0) {
		for (size_t i = 0; i < cl.n; i++) {
			const char *p = cl.entries[i].path;

			if (p == NULL && cl.entries[i].blob == NULL)
				abort();
			if (p != NULL && (p[0] == '/' || has_dotdot(p)))
				abort();
		}
		ofs_copylog_release(&cl);
	}
	if (ofs_credentials_parse(data, size, "fuzz", &cr, &err) == 0) {
		if (cr.client_secret == NULL || cr.vault_id == NULL)
			abort();
		ofs_credentials_release(&cr);
	}
	return 0;
}
