/* The command table, global options, and helpers every subcommand shares (opening the
 * repository, getting the passphrase, ending with the right exit code). */
#ifndef OFS_CLI_H
#define OFS_CLI_H

#include "buf.h"
#include "error.h"
#include "render.h"
#include "repo.h"

struct ofs_cli {
	const char *cmd;		/* subcommand name */
	const char *repo;		/* -r/--repo or OFFSEED_REPO */
	const char *passphrase_file;	/* --passphrase-file or OFFSEED_PASSPHRASE_FILE */
	const char *state;		/* --state or OFFSEED_STATE */
	const char *credentials;	/* --credentials or OFFSEED_CREDENTIALS */
	const char *index_memory;	/* --index-memory or OFFSEED_INDEX_MEMORY */
	int json, verbosity, progress;
	double progress_interval;
};

/* Every subcommand: argv[0] is the subcommand name; returns the process exit code. */
typedef int (*ofs_cmd_fn)(int argc, char **argv, struct ofs_cli *g);

int cmd_init(int argc, char **argv, struct ofs_cli *g);
int cmd_stage(int argc, char **argv, struct ofs_cli *g);
int cmd_prep(int argc, char **argv, struct ofs_cli *g);
int cmd_backup(int argc, char **argv, struct ofs_cli *g);
int cmd_verify(int argc, char **argv, struct ofs_cli *g);
int cmd_snapshots(int argc, char **argv, struct ofs_cli *g);
int cmd_ls(int argc, char **argv, struct ofs_cli *g);
int cmd_restore(int argc, char **argv, struct ofs_cli *g);
int cmd_check(int argc, char **argv, struct ofs_cli *g);
int cmd_import(int argc, char **argv, struct ofs_cli *g);
int cmd_export(int argc, char **argv, struct ofs_cli *g);
int cmd_key(int argc, char **argv, struct ofs_cli *g);
int cmd_dump(int argc, char **argv, struct ofs_cli *g);
int cmd_forget(int argc, char **argv, struct ofs_cli *g);
int cmd_prune(int argc, char **argv, struct ofs_cli *g);
int cmd_doctor(int argc, char **argv, struct ofs_cli *g);
/* The stage and backup commands share their command line (seed/cmd_stage.c). */
int ofs_stage_command(int argc, char **argv, struct ofs_cli *g, int backup);

/* Get the passphrase: --passphrase-file, OFFSEED_PASSPHRASE_FILE, OFFSEED_PASSPHRASE, else a
 * prompt on the tty (confirm: ask twice). A trailing newline in a file is dropped.
 * No source → OFS_ERR_USAGE naming the options. out is wiped by ofs_buf_release_secret. */
int ofs_cli_passphrase(const struct ofs_cli *g, int confirm, struct ofs_buf *out,
    struct ofs_error *err);

/* Open the repository of --repo (OFS_ERR_USAGE when none) and, with need_key, unlock it
 * (asking for the passphrase) and load its index. */
int ofs_cli_open_repo(const struct ofs_cli *g, int need_key, int load_index,
    struct ofs_repo **out, struct ofs_error *err);

/* Finish a command: for code != 0 print err (or a generic message) and, with --json, the
 * error object. Returns the exit code. */
int ofs_cli_fail(int code, const struct ofs_error *err);
/* --threads N: a whole number from 1 to 64 into *out; else a message and -1 (exit 2). */
int ofs_cli_threads(const char *arg, int *out);

/* Print "usage: offseed CMD …" help text to stdout (--help) or stderr (misuse). */
int ofs_cli_usage(const char *text, int to_stdout);

#endif
