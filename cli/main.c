/* offseed: git-style command dispatch and global options. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "container.h"
#include "harden.h"
#include "index.h"
#include "render.h"
#include "util.h"

static const struct {
	const char *name;
	ofs_cmd_fn fn;
	const char *summary;
} commands[] = {
	{ "init", cmd_init, "create a repository (config and first key slot)" },
	{ "stage", cmd_stage, "initial backup into sealed VHD containers" },
	{ "prep", cmd_prep, "copy staged containers onto disks with manifests and a job draft" },
	{ "backup", cmd_backup, "incremental backup: only what the repository lacks" },
	{ "verify", cmd_verify, "check a staging repo or disks against their manifests" },
	{ "check", cmd_check, "repository integrity (index, packs, containers, snapshots)" },
	{ "snapshots", cmd_snapshots, "list recovery points" },
	{ "ls", cmd_ls, "list a snapshot's tree" },
	{ "restore", cmd_restore, "restore files and folders with their metadata" },
	{ "dump", cmd_dump, "stream a file or folder of a snapshot as a tar archive" },
	{ "forget", cmd_forget, "remove snapshots by retention rules (--keep-*)" },
	{ "prune", cmd_prune, "remove the data no snapshot needs" },
	{ "key", cmd_key, "list, add, remove key slots; change the passphrase" },
	{ "import", cmd_import, "submit and follow the import job (create, ship, status, ...)" },
	{ "export", cmd_export, "offline restore: a snapshot back on disks (create, status, ...)" },
	{ "doctor", cmd_doctor, "preflight: versions, free space, credentials, reachability, clock" },
};

static const char global_help[] =
    "usage: offseed [global options] COMMAND [options] [args]\n"
    "\n"
    "global options (accepted before or after COMMAND):\n"
    "  -r, --repo LOC             repository: PATH, file:PATH, disks:MNT[,MNT...] (read-only)\n"
    "                             or azure://ACCOUNT/CONTAINER[/PREFIX] [OFFSEED_REPO]\n"
    "      --passphrase-file F    passphrase source [OFFSEED_PASSPHRASE_FILE, OFFSEED_PASSPHRASE]\n"
    "      --state DIR            state dir (default ~/.local/state/offseed) [OFFSEED_STATE]\n"
    "      --credentials F        import service credentials          [OFFSEED_CREDENTIALS]\n"
    "      --index-memory SIZE    memory for the blob index before it spills to the state\n"
    "                             dir (8M; 0: no limit)              [OFFSEED_INDEX_MEMORY]\n"
    "      --json                 JSON Lines on stdout\n"
    "  -q, -v                     less / more on stderr\n"
    "      --no-progress          no progress display\n"
    "      --progress-interval S  seconds between progress lines when not on a tty (10)\n"
    "      --version              version and supported formats\n"
    "\n"
    "commands:\n";

static void
print_help(FILE *f)
{
	fputs(global_help, f);
	for (size_t i = 0; i < OFS_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'offseed COMMAND --help' for a command's options.\n"
	      "Exit codes: 0 ok, 1 failed, 2 usage, 3 warnings (skipped entries), 4 verification\n"
	      "failed, 5 authentication, 6 locked, 7 version mismatch, 8 service unavailable,\n"
	      "9 not enough space.\n", f);
}

/* Take global options out of argv wherever they are (until "--"), compacting the rest. */
static int
parse_globals(int *argcp, char **argv, struct ofs_cli *g)
{
	int argc = *argcp, out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "-r") == 0 || strcmp(a, "--repo") == 0)
			dst = &g->repo;
		else if (strcmp(a, "--passphrase-file") == 0)
			dst = &g->passphrase_file;
		else if (strcmp(a, "--state") == 0)
			dst = &g->state;
		else if (strcmp(a, "--credentials") == 0)
			dst = &g->credentials;
		else if (strcmp(a, "--index-memory") == 0)
			dst = &g->index_memory;
		if (dst != NULL) {
			if (i + 1 >= argc) {
				ofs_error("option '%s' needs a value", a);
				return -1;
			}
			*dst = argv[++i];
			continue;
		}
		if (strncmp(a, "--repo=", 7) == 0) { g->repo = a + 7; continue; }
		if (strncmp(a, "--passphrase-file=", 18) == 0) { g->passphrase_file = a + 18; continue; }
		if (strncmp(a, "--state=", 8) == 0) { g->state = a + 8; continue; }
		if (strncmp(a, "--credentials=", 14) == 0) { g->credentials = a + 14; continue; }
		if (strncmp(a, "--index-memory=", 15) == 0) { g->index_memory = a + 15; continue; }
		if (strcmp(a, "--json") == 0) { g->json = 1; continue; }
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) { g->verbosity = -1; continue; }
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) { g->verbosity++; continue; }
		if (strcmp(a, "--no-progress") == 0) { g->progress = 0; continue; }
		if (strcmp(a, "--progress-interval") == 0 && i + 1 < argc) {
			if (ofs_parse_double(argv[++i], 0.0, 86400.0, &g->progress_interval) != 0) {
				ofs_error("--progress-interval needs a number of seconds, not "
				    "'%s'", argv[i]);
				return -1;
			}
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argcp = out;
	return 0;
}

/* --index-memory: 0 (no limit) or at least 1 MiB, in bytes or with a K/M/G/T suffix. */
static int
set_index_memory(const char *v)
{
	uint64_t n;

	if (v == NULL)
		return 0;
	if (ofs_parse_size(v, &n) != 0 || (n != 0 && n < ((uint64_t)1 << 20)) ||
	    n > SIZE_MAX) {
		ofs_error("--index-memory needs 0 (no limit) or a size of at least 1M, not '%s'",
		    v);
		return -1;
	}
	ofs_index_set_budget((size_t)n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ofs_cli g;
	struct ofs_out_opts oo;
	const char *e;

	/* First of all: no core dumps of a process that will hold keys, and jansson's buffers
	 * wiped when freed (its allocator must be in place before its first allocation). */
	ofs_harden_process();
	ofs_json_wipe_on_free();
	/* The library is silent until a sink is installed: from here on it speaks through
	 * cli/render.c (options come later, with ofs_out_setup). */
	ofs_out_install();
	/* Chunk buffers (0.5–8 MiB) come and go at disk speed: keep them in the heap instead of
	 * fresh mmaps whose every page faults in again. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);	/* the largest value glibc accepts */
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	memset(&g, 0, sizeof(g));
	g.progress = 1;
	g.progress_interval = 10.0;
	if ((e = getenv("OFFSEED_REPO")) != NULL && *e)
		g.repo = e;
	if ((e = getenv("OFFSEED_PASSPHRASE_FILE")) != NULL && *e)
		g.passphrase_file = e;
	if ((e = getenv("OFFSEED_STATE")) != NULL && *e)
		g.state = e;
	if ((e = getenv("OFFSEED_CREDENTIALS")) != NULL && *e)
		g.credentials = e;
	if ((e = getenv("OFFSEED_INDEX_MEMORY")) != NULL && *e)
		g.index_memory = e;
	if (parse_globals(&argc, argv, &g) != 0 || set_index_memory(g.index_memory) != 0)
		return 2;
	oo.json = g.json;
	oo.verbosity = g.verbosity;
	oo.progress = g.progress;
	oo.interval = g.progress_interval;
	ofs_out_setup(&oo);

	if (argc < 2) {
		print_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		if (g.json)
			ofs_emit(json_pack("{s:s, s:s, s:i, s:i}", "type", "summary", "version",
			    OFS_VERSION, "repository_format", OFS_REPO_VERSION, "container_format",
			    OFS_CONTAINER_VERSION));
		else
			printf("offseed %s (repository format %d, container format %d, manifest %d)\n",
			    OFS_VERSION, OFS_REPO_VERSION, OFS_CONTAINER_VERSION,
			    OFS_MANIFEST_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_help(stdout);
		return 0;
	}
	for (size_t i = 0; i < OFS_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			g.cmd = commands[i].name;
			/* stage and backup: one arena. Their buffers move between threads (read →
			 * seal → write) and per-thread arenas would each keep their own peak; the
			 * lock is taken a few thousand times a second. Readers (restore, verify)
			 * allocate per chunk and per tree node on every thread: they keep an
			 * arena per thread, as one lock there cost a context switch per file. */
			if (strcmp(g.cmd, "stage") == 0 || strcmp(g.cmd, "backup") == 0)
				mallopt(M_ARENA_MAX, 1);
			return commands[i].fn(argc - 1, argv + 1, &g);
		}
	}
	ofs_error("unknown command '%s' (see 'offseed --help')", argv[1]);
	return 2;
}
