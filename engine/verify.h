/* verify: the keyless check of several targets at once (staging repositories or the disks
 * of a prepared set), each on its own thread, then the set rules across the disks and the
 * manifest hashes a job registered. Findings go to a callback with the target they are
 * about; nothing is printed. The command is verify/cmd_verify.c. */
#ifndef OFS_VERIFY_H
#define OFS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "error.h"
#include "manifest.h"
#include "setmanifest.h"

/* A finding about target (its folder, or "" for the set as a whole). */
typedef void (*ofs_verify_finding_fn)(const char *target, const struct ofs_finding *f,
    void *arg);

/* A finding kept until the checks running in parallel are all done. */
struct ofs_verify_fcopy {
	struct ofs_finding f;
	char *path, *detail, *serial;	/* owned copies */
};

struct ofs_verify_target {
	const char *dir;	/* the folder (borrowed) */
	struct ofs_manifest *m;	/* owned; NULL when unusable (a finding said why) */
	char sha[65];		/* manifest SHA-256, "" when unreadable */
	/* a disk of a set: offseed-set.json at the root */
	int is_disk;
	struct ofs_set_manifest *set;	/* owned; NULL when absent or unusable */
	char set_sha[65];
	int in_set;		/* of the set being verified (not a foreign disk) */
	/* the engine's: its keyless check, run on a thread of its own */
	struct ofs_check_opts o;
	struct ofs_check_stats st;
	struct ofs_error err;
	int r;
	struct ofs_verify_fcopy *fl;
	size_t nfl;
};

/* --expect-hash: the disk with this serial ("-": a target whose manifest names no disk)
 * must have a manifest with this SHA-256. */
struct ofs_verify_expect {
	char *serial;		/* owned */
	char sha[65];
	int matched;
};

/* Read t->dir's manifest and set manifest (hashing both as they are on disk); problems with
 * them become findings about t->dir. Returns 0, or OFS_ERR_IO / OFS_ERR_USAGE when the
 * folder itself cannot be used (err says why). */
int ofs_verify_target_load(struct ofs_verify_target *t, ofs_verify_finding_fn fn, void *arg,
    struct ofs_error *err);
/* Frees what n targets own, and tg (NULL is a no-op). */
void ofs_verify_targets_free(struct ofs_verify_target *tg, size_t n);

/* Set in_set on the disks of the set most targets belong to, as ofs_verify_check_set
 * will, without reporting anything. */
void ofs_verify_mark_set(struct ofs_verify_target *tg, size_t ntg);

/* Run the keyless check of every target with a manifest: one thread per target (when
 * there are several), threads hashing threads each (0: the CPUs shared among the targets),
 * about sample_pct percent of the regions (0 or 100: all), progress added to pr (may be
 * NULL; the caller sets its totals). Findings are kept for ofs_verify_check_report. */
void ofs_verify_check_run(struct ofs_verify_target *tg, size_t ntg, int threads,
    double sample_pct, struct ofs_progress *pr);
/* Report the kept findings in target order and add the statistics to total. Returns 0, or
 * the error of the first target whose check failed (in err). */
int ofs_verify_check_report(const struct ofs_verify_target *tg, size_t ntg,
    ofs_verify_finding_fn fn, void *arg, struct ofs_check_stats *total,
    struct ofs_error *err);

/* The set rules over the targets that are disks: one set (the one most of them belong to;
 * the others are foreign), identical set manifests, each disk's manifest hash, index and
 * serial as the set lists them, each disk once, and every disk of the set present. Sets
 * in_set; problems become findings. */
void ofs_verify_check_set(struct ofs_verify_target *tg, size_t ntg, ofs_verify_finding_fn fn,
    void *arg);

/* The expected manifest hashes: a mismatch is a manifest_hash_mismatch finding, a serial no
 * target has a disk_missing one. Sets matched. */
void ofs_verify_check_expected(struct ofs_verify_expect *ex, size_t nex,
    const struct ofs_verify_target *tg, size_t ntg, ofs_verify_finding_fn fn, void *arg);

#endif
