/* Integration tests for lib/azblob.c against a real Azurite (tools/azurite.sh, started here;
 * if it cannot start the tests FAIL) and, for retries and proxies, tools/fault-proxy.py
 * relaying to it: containers, block/page blobs, ranges, properties, paged listing, SAS,
 * authentication failures, 503/429/dropped connections, 407, parallel uploads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "azblob.h"
#include "util.h"

#define DEVKEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define CONT "seed"

static char top[PATH_MAX];
static char tmpdir[] = "/tmp/ofs-test-azurite.XXXXXX";
static int az_port;
static struct ofs_azblob *cli;	/* direct to Azurite, quick retries */
static pid_t proxies[32];	/* fault proxies still running (stopped in teardown) */

static void
expect_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static int
find_top(void)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32], *s;
	ssize_t n;

	if ((s = getenv("OFFSEED_TOP")) != NULL || (s = getenv("TOP")) != NULL) {
		snprintf(top, sizeof(top), "%s", s);
		return 0;
	}
	if (access("tools/azurite.sh", X_OK) == 0) {
		snprintf(top, sizeof(top), ".");
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	while ((s = strrchr(exe, '/')) != NULL) {
		*s = '\0';
		snprintf(probe, sizeof(probe), "%s/tools/azurite.sh", exe);
		if (access(probe, X_OK) == 0) {
			snprintf(top, sizeof(top), "%s", exe);
			return 0;
		}
	}
	return -1;
}

static struct ofs_azblob *
client_at(int port, int tries, unsigned base_ms, int parallel)
{
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL;
	struct ofs_error err;
	char ep[128];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/devstoreaccount1", port);
	o.endpoint = ep;
	o.key = DEVKEY;
	o.max_tries = tries;
	o.retry_base_ms = base_ms;
	o.parallel = parallel;
	if (ofs_azblob_open(&o, &c, &err) != 0)
		fail_msg("open: %s", err.msg);
	return c;
}

/* Start tools/fault-proxy.py with args; returns its pid, *port its port. */
static pid_t
proxy_start(int *port, const char *const *args)
{
	char script[PATH_MAX + 32], line[64], up[32], owner[32];
	const char *argv[24];
	int fds[2], n = 0, i;
	pid_t pid;
	ssize_t k;
	size_t got = 0;

	snprintf(script, sizeof(script), "%s/tools/fault-proxy.py", top);
	snprintf(up, sizeof(up), "127.0.0.1:%d", az_port);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--upstream";
	argv[n++] = up;
	snprintf(owner, sizeof(owner), "%ld", (long)getpid());
	argv[n++] = "--owner";
	argv[n++] = owner;
	for (i = 0; args[i] && n < 22; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (i = 0; i < (int)OFS_ARRAY_LEN(proxies); i++)
		if (proxies[i] == 0) {
			proxies[i] = pid;
			break;
		}
	while (got < sizeof(line) - 1 && (k = read(fds[0], line + got, 1)) == 1 &&
	    line[got] != '\n')
		got++;
	line[got] = '\0';
	close(fds[0]);
	*port = atoi(line);
	if (*port <= 0)
		fail_msg("tools/fault-proxy.py did not start (python3 missing?)");
	return pid;
}

static void
proxy_stop(pid_t pid)
{
	size_t i;

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (i = 0; i < OFS_ARRAY_LEN(proxies); i++)
		if (proxies[i] == pid)
			proxies[i] = 0;
}

static int
setup(void **state)
{
	char cmd[PATH_MAX * 2 + 64], line[64];
	FILE *p;
	int rc;

	if (find_top() != 0) {
		fprintf(stderr, "cannot find tools/azurite.sh (set OFFSEED_TOP)\n");
		return -1;
	}
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(line, sizeof(line), "%ld", (long)getpid());
	setenv("AZURITE_OWNER_PID", line, 1);	/* emulators die with this process */
	snprintf(cmd, sizeof(cmd), "'%s/tools/azurite.sh' start '%s'", top, tmpdir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	line[0] = '\0';
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	rc = pclose(p);
	az_port = atoi(line);
	if (rc != 0 || az_port <= 0) {
		fprintf(stderr, "FAIL: Azurite did not start (run make deps); see above\n");
		return -1;
	}
	cli = client_at(az_port, 3, 50, 4);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX * 4 + 64];

	size_t i;

	ofs_azblob_free(cli);
	for (i = 0; i < OFS_ARRAY_LEN(proxies); i++)
		if (proxies[i] > 0)
			proxy_stop(proxies[i]);
	if (az_port > 0) {
		/* the main instance, and the TLS one if its test stopped half-way */
		snprintf(cmd, sizeof(cmd), "'%s/tools/azurite.sh' stop '%s' && "
		    "'%s/tools/azurite.sh' stop '%s/tls/az'", top, tmpdir, top, tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "azurite stop failed\n");
	}
	ofs_rm_rf(tmpdir);
	return 0;
}

static uint8_t *
random_bytes(size_t n, unsigned seed)
{
	uint8_t *p = ofs_xmalloc(n ? n : 1);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
	return p;
}

static int
write_file(const char *name, const void *p, size_t n, char *path, size_t pathsz)
{
	int fd;

	snprintf(path, pathsz, "%s/%s", tmpdir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ofs_pwrite_all(fd, p, n, 0), 0);
	return fd;
}

static void
expect_blob(struct ofs_azblob *c, const char *name, const uint8_t *want, size_t n)
{
	struct ofs_buf b = OFS_BUF_INIT(64u << 20);
	struct ofs_error err;

	if (ofs_azblob_get(c, CONT, name, 0, 0, &b, &err) != 0)
		fail_msg("get %s: %s", name, err.msg);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, want, n);
	ofs_buf_release(&b);
}

static void
test_container(void **state)
{
	struct ofs_error err;
	int created = -1;

	assert_int_equal(ofs_azblob_create_container(cli, CONT, &created, &err), 0);
	assert_int_equal(created, 1);
	assert_int_equal(ofs_azblob_create_container(cli, CONT, &created, &err), 0);
	assert_int_equal(created, 0);
}

static void
test_block_blobs(void **state)
{
	struct ofs_error err;
	struct ofs_buf b = OFS_BUF_INIT(1u << 20);
	struct ofs_azblob_props pr;
	size_t big = (20u << 20) + 7, mid = (9u << 20) + 123;
	uint8_t *data = random_bytes(big, 1), *fdata = random_bytes(mid, 2);
	const char *odd = "dir one/a b+c&d=e%f\xC3\xA9.bin";
	char path[PATH_MAX];
	int fd;

	/* small single-shot, whole and ranged reads, properties */
	assert_int_equal(ofs_azblob_put_blob(cli, CONT, "small.txt", "hello, azure", 12, &err), 0);
	expect_blob(cli, "small.txt", (const uint8_t *)"hello, azure", 12);
	assert_int_equal(ofs_azblob_get(cli, CONT, "small.txt", 7, 5, &b, &err), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "azure", 5);
	ofs_buf_reset(&b);
	assert_int_equal(ofs_azblob_get(cli, CONT, "small.txt", 3, 0, &b, &err), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "lo, azure", 9);
	assert_int_equal(ofs_azblob_props(cli, CONT, "small.txt", &pr, &err), 0);
	assert_int_equal(pr.size, 12);
	assert_int_equal(pr.type, OFS_AZBLOB_TYPE_BLOCK);
	assert_true(pr.etag[0] != '\0');
	/* an empty blob and an awkward name (escaping in the URL and the signature) */
	assert_int_equal(ofs_azblob_put_blob(cli, CONT, "empty", NULL, 0, &err), 0);
	assert_int_equal(ofs_azblob_props(cli, CONT, "empty", &pr, &err), 0);
	assert_int_equal(pr.size, 0);
	if (ofs_azblob_put_blob(cli, CONT, odd, "x", 1, &err) != 0)
		fail_msg("%s", err.msg);
	expect_blob(cli, odd, (const uint8_t *)"x", 1);

	/* a body larger than the caller's buffer is refused, the buffer left as it was */
	ofs_buf_reset(&b);
	b.max = 4;
	assert_int_equal(ofs_buf_adds(&b, "ab"), 0);
	assert_int_equal(ofs_azblob_get(cli, CONT, "small.txt", 0, 0, &b, &err), OFS_ERR_CORRUPT);
	assert_int_equal(b.len, 2);
	ofs_buf_release(&b);

	/* large from memory: Put Block ×3 (8 MiB) in parallel + Put Block List */
	assert_int_equal(ofs_azblob_put_blob(cli, CONT, "big.bin", data, big, &err), 0);
	expect_blob(cli, "big.bin", data, big);
	assert_int_equal(ofs_azblob_props(cli, CONT, "big.bin", &pr, &err), 0);
	assert_int_equal(pr.size, big);
	/* ranged read across a block boundary */
	ofs_buf_init(&b, 0);
	assert_int_equal(ofs_azblob_get(cli, CONT, "big.bin", (8u << 20) - 100, 300, &b, &err),
	    0);
	assert_int_equal(b.len, 300);
	assert_memory_equal(b.data, data + (8u << 20) - 100, 300);
	ofs_buf_release(&b);

	/* streamed from a file; a file shorter than announced fails with OFS_ERR_IO */
	fd = write_file("mid.bin", fdata, mid, path, sizeof(path));
	assert_int_equal(ofs_azblob_put_blob_fd(cli, CONT, "mid.bin", fd, mid, &err), 0);
	expect_blob(cli, "mid.bin", fdata, mid);
	assert_int_equal(ofs_azblob_put_blob_fd(cli, CONT, "short.bin", fd, mid + 4096, &err),
	    OFS_ERR_IO);
	expect_contains(err.msg, "short.bin");
	close(fd);
	free(data);
	free(fdata);
}

static void
test_list_paging(void **state)
{
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_error err;
	char name[64], *marker = NULL;
	int i, pages = 0;
	size_t last = 0;

	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "page/b%02d", i);
		assert_int_equal(ofs_azblob_put_blob(cli, CONT, name, "0123456789", (size_t)i,
		    &err), 0);
	}
	assert_int_equal(ofs_azblob_put_blob(cli, CONT, "pagex", "z", 1, &err), 0);
	/* pages of 3: 3, 3, 1 */
	do {
		if (ofs_azblob_list(cli, CONT, "page/", marker, 3, &l, &err) != 0)
			fail_msg("%s", err.msg);
		pages++;
		assert_true(l.n - last == (pages < 3 ? 3 : 1));
		last = l.n;
		free(marker);
		marker = l.next_marker ? ofs_xstrdup(l.next_marker) : NULL;
	} while (marker && pages < 10);
	assert_int_equal(pages, 3);
	assert_int_equal(l.n, 7);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "page/b%02d", i);
		assert_string_equal(l.items[i].name, name);
		assert_int_equal(l.items[i].size, (uint64_t)i);
		assert_int_equal(l.items[i].type, OFS_AZBLOB_TYPE_BLOCK);
	}
	ofs_azblob_list_release(&l);
	assert_int_equal(ofs_azblob_list_all(cli, CONT, "page", &l, &err), 0);
	assert_int_equal(l.n, 8);
	assert_string_equal(l.items[7].name, "pagex");
	assert_null(l.next_marker);
	ofs_azblob_list_release(&l);
	/* missing container */
	assert_int_equal(ofs_azblob_list(cli, "nosuch", NULL, NULL, 0, &l, &err),
	    OFS_ERR_NOTFOUND);
	expect_contains(err.msg, "GET nosuch (list): 404 ContainerNotFound");
}

static void
test_page_blobs(void **state)
{
	struct ofs_error err;
	struct ofs_azblob_props pr;
	size_t size = (12u << 20) + 512;
	uint8_t *data = random_bytes(size, 3);
	char path[PATH_MAX], cmd[PATH_MAX + 128];
	uint64_t sent = 0;
	struct stat st;
	int fd;

	/* a VHD-sized file: 12 MiB + 512-byte footer, the second 4 MiB all zeros */
	memset(data + (4u << 20), 0, 4u << 20);
	fd = write_file("disk.vhd", data, size, path, sizeof(path));
	if (ofs_azblob_put_page_blob_fd(cli, CONT, "pb/disk.vhd", fd, size, &sent, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(sent, size - (4u << 20));	/* the zero range was skipped */
	assert_int_equal(ofs_azblob_props(cli, CONT, "pb/disk.vhd", &pr, &err), 0);
	assert_int_equal(pr.size, size);
	assert_int_equal(pr.type, OFS_AZBLOB_TYPE_PAGE);
	expect_blob(cli, "pb/disk.vhd", data, size);
	/* not 512-aligned: refused before anything is created */
	assert_int_equal(ofs_azblob_put_page_blob_fd(cli, CONT, "pb/odd.vhd", fd, size - 1, &sent,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_props(cli, CONT, "pb/odd.vhd", &pr, &err), OFS_ERR_NOTFOUND);
	close(fd);

	/* a real fixed VHD made by qemu-img, with data written into it */
	snprintf(path, sizeof(path), "%s/q.vhd", tmpdir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f vpc -o subformat=fixed,force_size=on "
	    "'%s' 3M", path);
	if (system(cmd) != 0)
		fail_msg("qemu-img is required (run make deps)");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (3u << 20) + 512);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ofs_pwrite_all(fd, data, 1u << 20, 1u << 20), 0);
	free(data);
	data = ofs_xmalloc((size_t)st.st_size);
	assert_int_equal(ofs_pread_all(fd, data, (size_t)st.st_size, 0), 0);
	assert_int_equal(ofs_azblob_put_page_blob_fd(cli, CONT, "pb/q.vhd", fd,
	    (uint64_t)st.st_size, &sent, &err), 0);
	assert_int_equal(sent, (uint64_t)st.st_size);	/* one range, not zero */
	expect_blob(cli, "pb/q.vhd", data, (size_t)st.st_size);
	close(fd);

	/* single Put Page calls, and an unaligned one refused */
	assert_int_equal(ofs_azblob_create_page_blob(cli, CONT, "pb/small.vhd", 4096, &err), 0);
	assert_int_equal(ofs_azblob_put_page(cli, CONT, "pb/small.vhd", 1024, data, 512, &err),
	    0);
	assert_int_equal(ofs_azblob_put_page(cli, CONT, "pb/small.vhd", 1000, data, 512, &err),
	    OFS_ERR_USAGE);
	{
		uint8_t want[4096] = { 0 };

		memcpy(want + 1024, data, 512);
		expect_blob(cli, "pb/small.vhd", want, sizeof(want));
	}
	/* writing past the end of the page blob: the service refuses (not retried) */
	assert_int_equal(ofs_azblob_put_page(cli, CONT, "pb/small.vhd", 8192, data, 512, &err),
	    OFS_ERR_IO);
	expect_contains(err.msg, "PUT seed/pb/small.vhd (page 8192+512)");
	free(data);
}

static void
add_bytes(void *ud, uint64_t n)
{
	*(uint64_t *)ud += n;
}

static void
test_put_many(void **state)
{
	struct ofs_azblob *c = client_at(az_port, 3, 50, 4);
	struct ofs_azblob_job jobs[12];
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_error err;
	uint8_t *data = random_bytes(12u << 16, 4);
	char names[12][32], path[PATH_MAX];
	uint64_t progress = 0;
	int i, fd;

	fd = write_file("many.bin", data, 12u << 16, path, sizeof(path));
	ofs_azblob_set_progress(c, add_bytes, &progress);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "many/%02d", i);
		jobs[i].op = OFS_AZBLOB_PUT_BLOB;
		jobs[i].container = CONT;
		jobs[i].name = names[i];
		jobs[i].len = 1u << 16;
		if (i % 2) {
			jobs[i].data = data + ((size_t)i << 16);
			jobs[i].fd = -1;
		} else {
			jobs[i].fd = fd;
			jobs[i].fd_offset = (uint64_t)i << 16;
		}
	}
	if (ofs_azblob_put_many(c, jobs, 12, &err) != 0)
		fail_msg("%s", err.msg);
	for (i = 0; i < 12; i++)
		assert_int_equal(jobs[i].result, 0);
	assert_int_equal(progress, 12u << 16);
	assert_int_equal(ofs_azblob_requests(c), 12);
	assert_int_equal(ofs_azblob_list_all(c, CONT, "many/", &l, &err), 0);
	assert_int_equal(l.n, 12);
	ofs_azblob_list_release(&l);
	for (i = 0; i < 12; i++)
		expect_blob(c, names[i], data + ((size_t)i << 16), 1u << 16);

	/* a batch where one job fails on the service side: error names it */
	jobs[0].op = OFS_AZBLOB_PUT_PAGE;	/* page write to a block blob: 400 */
	jobs[0].len = 512;
	if (ofs_azblob_put_many(c, jobs, 1, &err) != OFS_ERR_IO)
		fail_msg("expected OFS_ERR_IO: %s", err.msg);
	expect_contains(err.msg, "PUT seed/many/00 (page 0+512)");
	close(fd);
	free(data);
	ofs_azblob_free(c);
}

static void
test_delete_notfound(void **state)
{
	struct ofs_error err;
	struct ofs_azblob_props pr;
	struct ofs_buf b = OFS_BUF_INIT(0);

	assert_int_equal(ofs_azblob_put_blob(cli, CONT, "gone.txt", "bye", 3, &err), 0);
	assert_int_equal(ofs_azblob_delete(cli, CONT, "gone.txt", &err), 0);
	assert_int_equal(ofs_azblob_props(cli, CONT, "gone.txt", &pr, &err), OFS_ERR_NOTFOUND);
	expect_contains(err.msg, "HEAD seed/gone.txt: 404");
	assert_int_equal(ofs_azblob_get(cli, CONT, "gone.txt", 0, 0, &b, &err), OFS_ERR_NOTFOUND);
	expect_contains(err.msg, "GET seed/gone.txt: 404 BlobNotFound");
	assert_int_equal(ofs_azblob_delete(cli, CONT, "gone.txt", &err), OFS_ERR_NOTFOUND);
	expect_contains(err.msg, "DELETE seed/gone.txt: 404");
	assert_int_equal(ofs_azblob_put_blob(cli, "nosuch", "x", "x", 1, &err), OFS_ERR_NOTFOUND);
	expect_contains(err.msg, "ContainerNotFound");
	ofs_buf_release(&b);
}

static void
test_auth(void **state)
{
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL, *sc = NULL;
	struct ofs_error err;
	struct ofs_buf sas = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	char ep[128];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/devstoreaccount1", az_port);
	o.endpoint = ep;
	o.key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";	/* wrong key */
	o.max_tries = 3;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_int_equal(ofs_azblob_put_blob(c, CONT, "a.txt", "a", 1, &err), OFS_ERR_AUTH);
	expect_contains(err.msg, "PUT seed/a.txt: 403");
	assert_int_equal(ofs_azblob_requests(c), 1);	/* not retried */
	assert_int_equal(ofs_exit_code(err.code), 5);
	ofs_azblob_free(c);

	/* container SAS without delete permission: put/get/list work, delete is refused */
	assert_int_equal(ofs_azblob_make_sas("devstoreaccount1", DEVKEY, CONT, NULL, "rcwl",
	    time(NULL) + 3600, &sas, &err), 0);
	o.key = NULL;
	o.sas = (char *)sas.data;
	assert_int_equal(ofs_azblob_open(&o, &sc, &err), 0);
	if (ofs_azblob_put_blob(sc, CONT, "sas/x.txt", "via sas", 7, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ofs_azblob_get(sc, CONT, "sas/x.txt", 0, 0, &b, &err), 0);
	assert_int_equal(b.len, 7);
	assert_int_equal(ofs_azblob_delete(sc, CONT, "sas/x.txt", &err), OFS_ERR_AUTH);
	assert_null(strstr(err.msg, "sig="));
	ofs_azblob_free(sc);
	/* an expired SAS */
	ofs_buf_reset(&sas);
	assert_int_equal(ofs_azblob_make_sas("devstoreaccount1", DEVKEY, CONT, NULL, "rcwdl",
	    time(NULL) - 60, &sas, &err), 0);
	o.sas = (char *)sas.data;
	assert_int_equal(ofs_azblob_open(&o, &sc, &err), 0);
	assert_int_equal(ofs_azblob_get(sc, CONT, "sas/x.txt", 0, 0, &b, &err), OFS_ERR_AUTH);
	ofs_azblob_free(sc);
	ofs_buf_release(&sas);
	ofs_buf_release(&b);
}

/* 503 twice with Retry-After: 1, then forwarded: success after 3 attempts, ≥ 2 s. */
static void
test_retry_503_then_ok(void **state)
{
	static const char *const args[] = { "--status", "503", "--count", "2", "--retry-after",
	    "1", NULL };
	struct ofs_azblob *c;
	struct ofs_error err;
	double t0;
	int port;
	pid_t pid = proxy_start(&port, args);

	c = client_at(port, 4, 5000, 2);	/* a 5 s back-off would show Retry-After ignored */
	t0 = ofs_mono();
	if (ofs_azblob_put_blob(c, CONT, "retry/ok.txt", "retried", 7, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(ofs_mono() - t0 >= 1.9);
	assert_true(ofs_mono() - t0 < 4.5);
	assert_int_equal(ofs_azblob_requests(c), 3);
	expect_blob(cli, "retry/ok.txt", (const uint8_t *)"retried", 7);
	ofs_azblob_free(c);
	proxy_stop(pid);
}

/* Always 503: OFS_ERR_NETWORK (exit 8) naming the request after max_tries attempts. */
static void
test_retry_always_503(void **state)
{
	static const char *const args[] = { "--status", "503", "--count", "-1", NULL };
	struct ofs_azblob *c;
	struct ofs_error err;
	struct ofs_azblob_props pr;
	int port;
	pid_t pid = proxy_start(&port, args);

	c = client_at(port, 3, 20, 2);
	assert_int_equal(ofs_azblob_put_blob(c, CONT, "retry/never.txt", "x", 1, &err),
	    OFS_ERR_NETWORK);
	assert_int_equal(ofs_exit_code(err.code), 8);
	expect_contains(err.msg, "PUT seed/retry/never.txt: 503 ServerBusy: fault proxy says no");
	expect_contains(err.msg, "gave up after 3 attempts");
	assert_int_equal(ofs_azblob_requests(c), 3);
	/* HEAD has no body: the code comes from x-ms-error-code */
	assert_int_equal(ofs_azblob_props(c, CONT, "small.txt", &pr, &err), OFS_ERR_NETWORK);
	expect_contains(err.msg, "HEAD seed/small.txt: 503 ServerBusy");
	ofs_azblob_free(c);
	proxy_stop(pid);
}

/* 429 with Retry-After, and dropped connections, are retried too; in parallel batches as
 * well. */
static void
test_retry_429_and_drops(void **state)
{
	static const char *const a429[] = { "--status", "429", "--count", "2", "--retry-after",
	    "1", NULL };
	static const char *const adrop[] = { "--drop", "2", NULL };
	struct ofs_azblob *c;
	struct ofs_azblob_job jobs[6];
	struct ofs_error err;
	uint8_t *data = random_bytes(6 * 4096, 5);
	int port, i;
	pid_t pid = proxy_start(&port, a429);

	c = client_at(port, 5, 20, 3);
	assert_int_equal(ofs_azblob_create_page_blob(cli, CONT, "retry/par.vhd", 6 * 4096, &err),
	    0);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 6; i++) {
		jobs[i].op = OFS_AZBLOB_PUT_PAGE;
		jobs[i].container = CONT;
		jobs[i].name = "retry/par.vhd";
		jobs[i].offset = (uint64_t)i * 4096;
		jobs[i].data = data + i * 4096;
		jobs[i].fd = -1;
		jobs[i].len = 4096;
	}
	/* the first 2 of the parallel pages are refused, retried after 1 s */
	if (ofs_azblob_put_many(c, jobs, 6, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ofs_azblob_requests(c), 6 + 2);
	expect_blob(cli, "retry/par.vhd", data, 6 * 4096);
	ofs_azblob_free(c);
	proxy_stop(pid);

	pid = proxy_start(&port, adrop);
	c = client_at(port, 4, 20, 1);
	if (ofs_azblob_put_blob(c, CONT, "retry/drop.txt", "dropped", 7, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ofs_azblob_requests(c), 3);
	expect_blob(cli, "retry/drop.txt", (const uint8_t *)"dropped", 7);
	ofs_azblob_free(c);
	proxy_stop(pid);
	free(data);
}

/* A proxy demanding authentication: a clear 407 message without the proxy password. */
static void
test_proxy_407(void **state)
{
	static const char *const args[] = { "--status", "407", "--count", "-1", NULL };
	struct ofs_azblob *c;
	struct ofs_error err;
	char proxy[128], want[160];
	int port;
	pid_t pid = proxy_start(&port, args);

	snprintf(proxy, sizeof(proxy), "http://user:hunter2@127.0.0.1:%d", port);
	setenv("http_proxy", proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	c = client_at(az_port, 3, 20, 1);
	assert_int_equal(ofs_azblob_create_container(c, CONT, NULL, &err), OFS_ERR_AUTH);
	snprintf(want, sizeof(want), "PUT seed: the proxy at http://127.0.0.1:%d requires "
	    "authentication (407)", port);
	expect_contains(err.msg, want);
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(ofs_azblob_requests(c), 1);
	ofs_azblob_free(c);
	unsetenv("http_proxy");
	proxy_stop(pid);
}

/* One client reuses its connection across requests (one client port at the relay). */
static void
test_connection_reuse(void **state)
{
	char log[PATH_MAX], line[512];
	const char *args[] = { "--count", "0", "--log", log, NULL };
	struct ofs_azblob *c;
	struct ofs_azblob_props pr;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	int port, n = 0, first = -1, cport;
	pid_t pid;
	FILE *f;

	snprintf(log, sizeof(log), "%s/relay.log", tmpdir);
	pid = proxy_start(&port, args);
	c = client_at(port, 2, 20, 1);
	assert_int_equal(ofs_azblob_put_blob(c, CONT, "reuse.txt", "again", 5, &err), 0);
	assert_int_equal(ofs_azblob_get(c, CONT, "reuse.txt", 0, 0, &b, &err), 0);
	assert_int_equal(ofs_azblob_props(c, CONT, "reuse.txt", &pr, &err), 0);
	assert_int_equal(ofs_azblob_get(c, CONT, "reuse.txt", 1, 2, &b, &err), 0);
	assert_int_equal(ofs_azblob_delete(c, CONT, "reuse.txt", &err), 0);
	assert_int_equal(b.len, 7);
	ofs_azblob_free(c);
	proxy_stop(pid);
	assert_non_null(f = fopen(log, "r"));
	while (fgets(line, sizeof(line), f)) {
		const char *sp = strrchr(line, ' ');

		assert_non_null(sp);
		cport = atoi(sp + 1);
		if (first < 0)
			first = cport;
		assert_int_equal(cport, first);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 5);
	ofs_buf_release(&b);
}

/* TLS: a second Azurite on HTTPS with a self-signed certificate. Verification is on by
 * default (refused, not retried); with the certificate as ca_file everything works. */
static void
test_tls_ca_file(void **state)
{
	char dir[PATH_MAX], cmd[PATH_MAX * 6], line[64], ep[128], ca[PATH_MAX + 16];
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL;
	struct ofs_error err;
	FILE *p;
	int port, rc;

	snprintf(dir, sizeof(dir), "%s/tls", tmpdir);
	snprintf(ca, sizeof(ca), "%s/c.pem", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && openssl req -x509 -newkey rsa:2048 -nodes "
	    "-keyout '%s/k.pem' -out '%s' -days 2 -subj /CN=127.0.0.1 "
	    "-addext subjectAltName=IP:127.0.0.1 2>/dev/null", dir, dir, ca);
	if (system(cmd) != 0)
		fail_msg("openssl could not make a test certificate");
	snprintf(cmd, sizeof(cmd), "'%s/tools/azurite.sh' start '%s/az' --cert '%s' "
	    "--key '%s/k.pem'", top, dir, ca, dir);
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	rc = pclose(p);
	port = atoi(line);
	if (rc != 0 || port <= 0)
		fail_msg("Azurite with TLS did not start");

	snprintf(ep, sizeof(ep), "https://127.0.0.1:%d/devstoreaccount1", port);
	o.endpoint = ep;
	o.key = DEVKEY;
	o.max_tries = 3;
	o.retry_base_ms = 20;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_int_equal(ofs_azblob_create_container(c, "tls", NULL, &err), OFS_ERR_NETWORK);
	expect_contains(err.msg, "PUT tls: cannot verify the server's TLS certificate");
	assert_int_equal(ofs_azblob_requests(c), 1);
	ofs_azblob_free(c);
	c = NULL;

	o.ca_file = ca;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	if (ofs_azblob_create_container(c, "tls", NULL, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ofs_azblob_put_blob(c, "tls", "t.txt", "secure", 6, &err), 0);
	ofs_azblob_free(c);

	snprintf(cmd, sizeof(cmd), "'%s/tools/azurite.sh' stop '%s/az'", top, dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_block_blobs),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_page_blobs),
		cmocka_unit_test(test_put_many),
		cmocka_unit_test(test_delete_notfound),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_retry_503_then_ok),
		cmocka_unit_test(test_retry_always_503),
		cmocka_unit_test(test_retry_429_and_drops),
		cmocka_unit_test(test_proxy_407),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_tls_ca_file),
	};

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return cmocka_run_group_tests(tests, setup, teardown);
}
