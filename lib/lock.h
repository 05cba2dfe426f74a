/* One writer per repository: a lock object (locks/lock, JSON naming host, pid, start time and
 * command) created exclusively, refreshed while the job runs, taken over with a warning when
 * its holder is gone (dead pid on this host, or no refresh for 30 minutes). */
#ifndef OFS_LOCK_H
#define OFS_LOCK_H

#include "error.h"
#include "repo.h"

#define OFS_LOCK_STALE_SECONDS (30 * 60)
/* An empty lock file older than this is a crashed holder's (older offseed versions). */
#define OFS_LOCK_EMPTY_SECONDS 10

struct ofs_lock;
/* Take the repository lock for `command`. Held by a live job → OFS_ERR_LOCKED with a
 * message naming the holder: "repository 'R' is locked by stage (host H, pid P, since T)". */
int ofs_lock_acquire(struct ofs_repo *r, const char *command, struct ofs_lock **out,
    struct ofs_error *err);
/* Touch the lock so others see it is alive (call at checkpoints). */
void ofs_lock_refresh(struct ofs_lock *l);
void ofs_lock_release(struct ofs_lock *l);

#endif
