/* Repository lock: an exclusively created lock file with its holder, plus stale takeover. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lock.h"
#include "log.h"
#include "util.h"

struct ofs_lock {
	char *path;	/* locks/lock in the repository, NULL for backends without paths */
	int local_fd;	/* STATE/<repo>/lock, held with flock: freed by the kernel on exit */
};

static void describe(json_t *j, char *desc, size_t descsz);

/* The local lock: a flock on a file in the state dir, so jobs on this host exclude each other
 * whatever the repository's backend, and a killed holder never leaves it stale. */
static int
local_lock(struct ofs_repo *r, const char *holder, int *fdp, struct ofs_error *err)
{
	char *path = ofs_path_join(r->state_dir, "lock"), desc[512] = "";
	int fd, rc = 0;
	ssize_t n;

	*fdp = -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open lock '%s'", path);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			char raw[512];
			json_t *j;

			n = pread(fd, raw, sizeof(raw) - 1, 0);
			raw[n > 0 ? n : 0] = '\0';
			if ((j = json_loads(raw, 0, NULL)) != NULL) {
				describe(j, desc, sizeof(desc));
				json_decref(j);
			}
			rc = ofs_err_set(err, OFS_ERR_LOCKED, "repository '%s' is locked by %s",
			    r->be->loc, desc[0] ? desc : "another job on this host");
		} else {
			rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot lock '%s'", path);
		}
		close(fd);
		goto out;
	}
	if (ftruncate(fd, 0) == 0 && ofs_pwrite_all(fd, holder, strlen(holder), 0) == 0)
		fsync(fd);
	*fdp = fd;
out:
	free(path);
	return rc;
}

static json_t *
holder_json(const char *command)
{
	char host[256] = "", when[32];

	gethostname(host, sizeof(host) - 1);
	ofs_fmt_time(ofs_now_ns() / 1000000000LL, when, sizeof(when));
	return json_pack("{s:s, s:i, s:s, s:s}", "host", host, "pid", (int)getpid(), "started",
	    when, "command", command);
}

/* "stage (host H, pid P, since T)" */
static void
describe(json_t *j, char *desc, size_t descsz)
{
	const char *h = json_string_value(json_object_get(j, "host"));
	const char *cmd = json_string_value(json_object_get(j, "command"));
	const char *since = json_string_value(json_object_get(j, "started"));
	json_int_t pid = json_integer_value(json_object_get(j, "pid"));

	snprintf(desc, descsz, "%s (host %s, pid %lld, since %s)", cmd ? cmd : "?", h ? h : "?",
	    (long long)pid, since ? since : "?");
}

/* 1 if the holder described in j is gone. */
static int
holder_gone(json_t *j, const struct stat *st, char *desc, size_t descsz)
{
	char host[256] = "";
	const char *h = json_string_value(json_object_get(j, "host"));
	json_int_t pid = json_integer_value(json_object_get(j, "pid"));

	gethostname(host, sizeof(host) - 1);
	describe(j, desc, descsz);
	if (h != NULL && strcmp(h, host) == 0 && pid > 0 && kill((pid_t)pid, 0) == -1 &&
	    errno == ESRCH)
		return 1;
	/* An empty lock can only be left by an older offseed killed between creating and
	 * writing it (a lock is now linked into place whole): no holder writes that slowly. */
	if (st->st_size == 0 && time(NULL) - st->st_mtime > OFS_LOCK_EMPTY_SECONDS)
		return 1;
	return time(NULL) - st->st_mtime > OFS_LOCK_STALE_SECONDS;
}

/* Holding the lock: remove the temporary lock files (locks/lock.tmp-HOST.PID) of takers
 * killed before they linked or removed theirs: this host and a dead pid, or older than the
 * stale age. Another taker's live temporary is left alone. */
static void
remove_dead_temps(const char *dir, const char *mine)
{
	char host[256] = "", *pfx;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	gethostname(host, sizeof(host) - 1);
	pfx = ofs_xasprintf("lock.tmp-%s.", host);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p, *end;
		long pid;
		int gone;

		if (strncmp(de->d_name, "lock.tmp-", 9) != 0)
			continue;
		p = ofs_path_join(dir, de->d_name);
		if (strcmp(p, mine) != 0 && stat(p, &st) == 0) {
			gone = time(NULL) - st.st_mtime > OFS_LOCK_STALE_SECONDS;
			if (strncmp(de->d_name, pfx, strlen(pfx)) == 0) {
				pid = strtol(de->d_name + strlen(pfx), &end, 10);
				if (*end == '\0' && pid > 0 && kill((pid_t)pid, 0) == -1 &&
				    errno == ESRCH)
					gone = 1;
			}
			if (gone)
				unlink(p);
		}
		free(p);
	}
	free(pfx);
	closedir(d);
}

int
ofs_lock_acquire(struct ofs_repo *r, const char *command, struct ofs_lock **out,
    struct ofs_error *err)
{
	char *path = r->be->ops->path(r->be, "locks/lock"), *dir = NULL, *s = NULL, desc[512];
	char *tmp = NULL;
	json_t *me = holder_json(command), *j;
	struct stat st;
	int fd, rc = 0, tries;

	int local_fd = -1;

	*out = NULL;
	s = json_dumps(me, JSON_COMPACT);
	if ((rc = local_lock(r, s, &local_fd, err)) != 0)
		goto out;
	if (path == NULL) {	/* a read-only or remote backend: the local lock is all we hold */
		*out = ofs_xcalloc(1, sizeof(**out));
		(*out)->local_fd = local_fd;
		local_fd = -1;
		goto out;
	}
	dir = r->be->ops->path(r->be, "locks");
	if ((rc = ofs_mkdir_p(dir, 0755, err)) != 0)
		goto out;
	/* The lock is written whole under a name of its own, then linked into place: a kill
	 * at any moment leaves either no lock or a complete one (an empty lock locked the
	 * repository for OFS_LOCK_STALE_SECONDS). The temporary name is in locks/, which
	 * verify ignores. */
	{
		char host[256] = "";

		gethostname(host, sizeof(host) - 1);
		for (char *c = host; *c; c++)
			if (*c == '/')
				*c = '_';
		tmp = ofs_xasprintf("%s.tmp-%s.%ld", path, host, (long)getpid());
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create lock '%s'", tmp);
		goto out;
	}
	if (ofs_write_all(fd, s, strlen(s)) != 0 || fsync(fd) != 0) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write lock '%s'", tmp);
		close(fd);
		goto out;
	}
	close(fd);
	for (tries = 0; tries < 3; tries++) {
		int linked = link(tmp, path) == 0;

		if (!linked && (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS ||
		    errno == EMLINK)) {
			/* a file system without hard links (FAT): create in place, as before */
			if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) != -1) {
				if (ofs_write_all(fd, s, strlen(s)) != 0 || fsync(fd) != 0) {
					rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write lock "
					    "'%s'", path);
					close(fd);
					unlink(path);
					goto out;
				}
				close(fd);
				linked = 1;
			}
		}
		if (linked) {
			remove_dead_temps(dir, tmp);
			*out = ofs_xcalloc(1, sizeof(**out));
			(*out)->path = path;
			(*out)->local_fd = local_fd;
			path = NULL;
			local_fd = -1;
			goto out;
		}
		if (errno != EEXIST) {
			rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create lock '%s'", path);
			goto out;
		}
		if (stat(path, &st) == -1)
			continue;	/* released meanwhile */
		j = json_load_file(path, 0, NULL);
		if (j == NULL) {
			/* half-written by a crashed holder: stale if old enough */
			j = json_object();
		}
		if (!holder_gone(j, &st, desc, sizeof(desc))) {
			rc = ofs_err_set(err, OFS_ERR_LOCKED,
			    "repository '%s' is locked by %s", r->be->loc, desc);
			json_decref(j);
			goto out;
		}
		json_decref(j);
		ofs_warn("taking over the lock of '%s' from %s, which is gone", r->be->loc, desc);
		unlink(path);
	}
	rc = ofs_err_set(err, OFS_ERR_LOCKED, "cannot take the lock of repository '%s'",
	    r->be->loc);
out:
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	if (local_fd != -1)
		close(local_fd);
	free(s);
	free(dir);
	free(path);
	json_decref(me);
	return rc;
}

void
ofs_lock_refresh(struct ofs_lock *l)
{
	if (l != NULL && l->path != NULL)
		utimensat(AT_FDCWD, l->path, NULL, 0);
}

void
ofs_lock_release(struct ofs_lock *l)
{
	if (l == NULL)
		return;
	if (l->path != NULL)
		unlink(l->path);
	if (l->local_fd != -1)
		close(l->local_fd);
	free(l->path);
	free(l);
}
