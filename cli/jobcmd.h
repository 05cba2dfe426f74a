/* What the job commands (offseed import, offseed export) share: credentials and client,
 * option checks, the --json pieces of a job, its text lines, list, cancel and --wait. */
#ifndef OFS_JOBCMD_H
#define OFS_JOBCMD_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"
#include "credentials.h"
#include "error.h"
#include "jobclient.h"
#include "jobjson.h"
#include "repo.h"

/* getopt_long over a subcommand's own options; --help handled by the caller. */
#define OFS_JOBCMD_OPTS_END { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }

/* What a job subcommand sets up: credentials, the client and (optionally) the staging
 * repository whose vault the credentials must match. */
struct ofs_jobcmd {
	struct ofs_credentials cred;
	struct ofs_jobclient *jc;
	struct ofs_repo *repo;		/* NULL unless opened with want_repo and --repo */
};

/* How import and export differ where they share code. */
struct ofs_jobcmd_kind {
	int want_repo;		/* a given --repo is opened and its vault checked */
	int exports_only;	/* a job that says it is an import is refused or left out */
	/* The final-stage exit code for --wait, or -1 while the job is on its way; *why
	 * (set, may be NULL) says what made a finished job fail. */
	int (*final)(const struct ofs_job *j, const char **why);
	json_t *(*job_json)(const struct ofs_job *j);	/* the job's --json fields, new */
	void (*print_job)(const struct ofs_job *j);	/* status's text on stdout */
	/* --wait ended with exit 4: say so on stderr (job: --job; why: from final). */
	void (*failed)(const struct ofs_job *j, const char *job, const char *why);
	const char *moved;	/* progress line: "(D of T <moved>)" */
	int progress_error;	/* progress line and event carry the job's error */
};

/* Load the credentials (--credentials) and make the client. With want_repo and --repo,
 * open the repository and check (record_vault: record) the credentials' vault for it;
 * record_vault without --repo → OFS_ERR_USAGE. Release c with ofs_jobcmd_close, also
 * after a failure. */
int ofs_jobcmd_open(const struct ofs_cli *g, int want_repo, int record_vault,
    struct ofs_jobcmd *c, struct ofs_error *err);
void ofs_jobcmd_close(struct ofs_jobcmd *c);

/* --job NAME: missing or not a valid job name → OFS_ERR_USAGE. */
int ofs_jobcmd_job_arg(const char *job, struct ofs_error *err);
/* After getopt: 0 when no operand is left, else a message and the usage (exit 2). */
int ofs_jobcmd_no_operands(int argc, char **argv, const char *usage);

/* {"type":"summary","command":CMD, …o}; steals o. */
void ofs_jobcmd_summary(const char *cmd, json_t *o);

/* A counter the service may leave out (negative): a JSON integer or null (new), text or
 * "?" (count: decimal; bytes: a size such as 1.5 GiB). */
json_t *ofs_jobcmd_count_json(int64_t v);
void ofs_jobcmd_fmt_count(int64_t v, char *buf, size_t n);
void ofs_jobcmd_fmt_bytes(int64_t v, char *buf, size_t n);

/* --json pieces: start_time, cancellation_reason, error_code, error_message added to o
 * (each only when the service says); one copyProgress disk {serial, copy_status,
 * bytes_processed, total_bytes, files_processed, total_files, files_errored} (new); the
 * copy_logs array [{serial, error_log, verbose_log}] (new). */
void ofs_jobcmd_json_fields(json_t *o, const struct ofs_job *j);
json_t *ofs_jobcmd_disk_json(const struct ofs_job_disk *d);
json_t *ofs_jobcmd_logs_json(const struct ofs_job *j);

/* Text pieces on stdout: the cancelled and error lines; a line per copyProgress disk; the
 * copy-log links without their query (it may hold a SAS signature). */
void ofs_jobcmd_print_problems(const struct ofs_job *j);
void ofs_jobcmd_print_disks(const struct ofs_job *j);
void ofs_jobcmd_print_links(const struct ofs_job *j);

/* The storage account as an ARM id (owned): account as it is when it already is one (has
 * a '/'), else in the credentials' subscription and resource group. When that is not the
 * account the credentials name, a warning "WHERE storage account 'ID', the credentials
 * are for 'THEIRS'" (where: what points at it, e.g. "the job draft imports into"). */
char *ofs_jobcmd_account_id(const struct ofs_credentials *cr, const char *account,
    const char *where);

/* `list`: parse its options (usage for --help and misuse), print and emit the jobs. */
int ofs_jobcmd_list(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k);
/* `cancel --job NAME --reason TEXT`: cancel, print the stage, emit k->job_json. */
int ofs_jobcmd_cancel(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k);

/* `status --job NAME [--wait [--timeout S] [--interval S]]`: GET the job; with --wait poll
 * until k->final says it is final, saying on stderr (and as progress events) what moved
 * and riding out an outage of up to 30 minutes once the job answered; then print and
 * emit it. Exit: k->final's code with --wait (8 when --timeout passes first), else 0. */
int ofs_jobcmd_status(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k);

/* A subcommand of a job command. */
struct ofs_jobcmd_sub {
	const char *name;
	ofs_cmd_fn fn;
};

/* `offseed FAMILY SUB …`: run the subcommand argv[1] names with g->cmd "FAMILY SUB";
 * none, --help/-h/help → usage (exit 2 or 0); an unknown one → exit 2. */
int ofs_jobcmd_dispatch(int argc, char **argv, struct ofs_cli *g, const char *family,
    const char *usage, const struct ofs_jobcmd_sub *subs, size_t nsubs);

#endif
