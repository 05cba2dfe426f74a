/* Replays a fuzz target's corpus (every file under the given folders) as an ordinary test:
 * a crash or sanitizer report fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static int
replay(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	struct ofs_buf b = OFS_BUF_INIT(64u << 20);
	char sub[4096];

	if (stat(path, &st) != 0) {
		fprintf(stderr, "cannot stat '%s'\n", path);
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((d = opendir(path)) == NULL)
			return 1;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (replay(sub, count) != 0) {
				closedir(d);
				return 1;
			}
		}
		closedir(d);
		return 0;
	}
	if (ofs_buf_read_file(&b, path, NULL) != 0) {
		fprintf(stderr, "cannot read '%s'\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput(b.data, b.len);
	ofs_buf_release(&b);
	(*count)++;
	return 0;
}

int
main(int argc, char **argv)
{
	int count = 0;

	for (int i = 1; i < argc; i++)
		if (replay(argv[i], &count) != 0)
			return 1;
	printf("replayed %d inputs\n", count);
	return count > 0 ? 0 : 1;
}
