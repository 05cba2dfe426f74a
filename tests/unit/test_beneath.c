/* Unit tests for lib/beneath.c: confined reads of a hostile folder. A folder symlink on the
 * way, a symlink as the last component, "..", absolute paths, FIFOs, sockets and devices
 * are refused without being opened (a FIFO would block, a device could act on open); a
 * regular file opens. Both the openat2 path and the per-component fallback are run. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "beneath.h"
#include "util.h"

static char top[] = "/tmp/ofs-test-beneath.XXXXXX";
static char disk[64], host[64];
static int rootfd = -1;

/* syscall() replaced for the fallback run: openat2 answers ENOSYS as on an old kernel. */
static int fake_enosys;
long syscall(long nr, ...);

static void
put(const char *dir, const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	char p[512];
	struct sockaddr_un sa;
	int s;

	assert_non_null(mkdtemp(top));
	snprintf(disk, sizeof(disk), "%s/disk", top);
	snprintf(host, sizeof(host), "%s/host", top);
	assert_int_equal(mkdir(disk, 0755), 0);
	assert_int_equal(mkdir(host, 0755), 0);
	put(host, "secret", "host secret");
	snprintf(p, sizeof(p), "%s/a", disk);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b", disk);
	assert_int_equal(mkdir(p, 0755), 0);
	put(disk, "a/b/good", "good");
	snprintf(p, sizeof(p), "%s/a/leak", disk);
	assert_int_equal(symlink(host, p), 0);
	snprintf(p, sizeof(p), "%s/a/b/link", disk);
	assert_int_equal(symlink("good", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", disk);
	assert_int_equal(mkfifo(p, 0644), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", disk);
	assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	snprintf(p, sizeof(p), "%s/null", disk);
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) != 0)	/* not root: a FIFO stands in */
		assert_int_equal(mkfifo(p, 0644), 0);
	assert_true((rootfd = open(disk, O_RDONLY | O_DIRECTORY)) >= 0);
	return 0;
}

static int
teardown(void **state)
{
	close(rootfd);
	ofs_rm_rf(top);
	return 0;
}

static void
refusals(void)
{
	struct stat st;
	int fd;

	assert_true((fd = ofs_beneath_open(rootfd, "a/b/good", &st)) >= 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	close(fd);
	assert_int_equal(ofs_beneath_open(rootfd, "a/leak/secret", &st), -ELOOP);
	assert_int_equal(ofs_beneath_stat(rootfd, "a/leak/secret", &st), -ELOOP);
	assert_int_equal(ofs_beneath_open(rootfd, "a/b/link", &st), -ELOOP);
	assert_int_equal(ofs_beneath_stat(rootfd, "a/b/link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(ofs_beneath_open(rootfd, "fifo", &st), -OFS_BENEATH_NOTREG);
	assert_true(S_ISFIFO(st.st_mode));
	assert_non_null(strstr(ofs_beneath_strerror(-OFS_BENEATH_NOTREG, &st), "FIFO"));
	assert_int_equal(ofs_beneath_open(rootfd, "sock", &st), -OFS_BENEATH_NOTREG);
	assert_non_null(strstr(ofs_beneath_strerror(-OFS_BENEATH_NOTREG, &st), "socket"));
	assert_int_equal(ofs_beneath_open(rootfd, "null", &st), -OFS_BENEATH_NOTREG);
	assert_int_equal(ofs_beneath_open(rootfd, "a", &st), -OFS_BENEATH_NOTREG);
	assert_int_equal(ofs_beneath_open(rootfd, "a/b/../../../host/secret", NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, "../host/secret", NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, host, NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, "a//b/good", NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, "./a/b/good", NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, "", NULL), -EXDEV);
	assert_int_equal(ofs_beneath_open(rootfd, "a/b/none", NULL), -ENOENT);
	assert_int_equal(ofs_beneath_open(rootfd, "a/b/good/x", NULL), -ENOTDIR);
	assert_int_equal(ofs_beneath_opendir(rootfd, "a/leak"), -ELOOP);
	assert_true((fd = ofs_beneath_opendir(rootfd, "a/b")) >= 0);
	close(fd);
}

static void
test_openat2(void **state)
{
	fake_enosys = 0;
	refusals();
}

static void
test_fallback(void **state)
{
	fake_enosys = 1;
	refusals();
	fake_enosys = 0;
}

static void
test_path_ok(void **state)
{
	assert_true(ofs_beneath_path_ok("a"));
	assert_true(ofs_beneath_path_ok("a/b.c/..d"));
	assert_false(ofs_beneath_path_ok("a/"));
	assert_false(ofs_beneath_path_ok("/a"));
	assert_false(ofs_beneath_path_ok("a/./b"));
	assert_false(ofs_beneath_path_ok("a/.."));
}

long
syscall(long nr, ...)
{
	va_list ap;
	long a[4];

	va_start(ap, nr);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_openat2 && fake_enosys) {
		errno = ENOSYS;
		return -1;
	}
	return __extension__({
		long r;
		register long r10 __asm__("r10") = a[3];
		__asm__ volatile ("syscall" : "=a"(r) : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]),
		    "r"(r10) : "rcx", "r11", "memory");
		if (r < 0 && r > -4096) {
			errno = (int)-r;
			r = -1;
		}
		r;
	});
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test(test_openat2),
		cmocka_unit_test(test_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
