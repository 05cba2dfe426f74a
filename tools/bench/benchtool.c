/* make bench helper, linked against libofs.a (built by tools/bench.sh):
 *   benchtool synth-index REPO PASSFILE NCHUNKS [CHUNKS_PER_PACK [PACKS_PER_INDEX_FILE]]
 *     give the repository a synthetic index of NCHUNKS fake chunks (random ids in fake loose
 *     packs that do not exist) as ordinary encrypted index files, so the memory of
 *     'offseed backup' can be measured against a repository of that many chunks;
 *   benchtool pack-stats REPO PASSFILE
 *     from the repository index: "loose_packs N pack_bytes P data_bytes D tree_bytes T", the
 *     stored bytes of the loose packs and of the data and tree blobs in them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "buf.h"
#include "crypto.h"
#include "error.h"
#include "index.h"
#include "repo.h"
#include "util.h"

static unsigned long
arg_num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0) {
		fprintf(stderr, "benchtool: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* Encode packs[0..n) and store them as one index file. */
static int
put_index(struct ofs_repo *r, const struct ofs_index_pack *packs, size_t n,
    struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN];
	int rc;

	ofs_random(id, sizeof(id));
	if ((rc = ofs_index_encode(packs, n, &plain)) == 0)
		rc = ofs_repo_put_object(r, "index", OFS_OBJ_INDEX, id, plain.data, plain.len, err);
	ofs_buf_release(&plain);
	return rc;
}

static int
open_repo(const char *loc, const char *passfile, struct ofs_repo **r, struct ofs_error *err)
{
	struct ofs_buf pass = OFS_BUF_INIT(4096);
	int rc;

	*r = NULL;
	if ((rc = ofs_buf_read_file(&pass, passfile, err)) == 0) {
		while (pass.len > 0 && (pass.data[pass.len - 1] == '\n' ||
		    pass.data[pass.len - 1] == '\r'))
			pass.len--;
		if ((rc = ofs_repo_open(loc, getenv("OFFSEED_STATE"), r, err)) == 0)
			rc = ofs_repo_unlock(*r, (const char *)pass.data, pass.len, err);
	}
	ofs_buf_release_secret(&pass);
	return rc;
}

struct stats {
	const struct ofs_blobtab *idx;
	uint64_t data, tree;
};

static int
count_blob(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct stats *st = ud;

	(void)id;
	if (ofs_blobtab_pack(st->idx, ref->pack)->loc.kind != OFS_LOC_LOOSE)
		return 0;
	if (ref->type == OFS_BLOB_TREE)
		st->tree += ref->stored_len;
	else
		st->data += ref->stored_len;
	return 0;
}

static int
pack_stats(const char *loc, const char *passfile)
{
	struct ofs_error err = { 0 };
	struct ofs_repo *r = NULL;
	struct stats st = { NULL, 0, 0 };
	uint64_t npacks = 0, bytes = 0;
	int rc;

	if ((rc = open_repo(loc, passfile, &r, &err)) == 0 &&
	    (rc = ofs_repo_load_index(r, &err)) == 0) {
		for (size_t i = 0; i < ofs_blobtab_npacks(r->idx); i++) {
			const struct ofs_blobtab_pack *p = ofs_blobtab_pack(r->idx, (uint32_t)i);

			if (p->loc.kind == OFS_LOC_LOOSE) {
				npacks++;
				bytes += p->length;
			}
		}
		st.idx = r->idx;
		ofs_blobtab_foreach(r->idx, count_blob, &st);
		printf("loose_packs %llu pack_bytes %llu data_bytes %llu tree_bytes %llu\n",
		    (unsigned long long)npacks, (unsigned long long)bytes,
		    (unsigned long long)st.data, (unsigned long long)st.tree);
	}
	ofs_repo_close(r);
	if (rc != 0) {
		fprintf(stderr, "benchtool: %s\n", err.msg[0] ? err.msg : "failed");
		return 1;
	}
	return 0;
}

static int
synth_index(int argc, char **argv)
{
	struct ofs_error err = { 0 };
	struct ofs_repo *r = NULL;
	struct ofs_index_pack *packs = NULL;
	unsigned long nchunks, per_pack = 16, per_file = 4096, done = 0, files = 0;
	int rc;

	nchunks = arg_num(argv[3], "chunk count");
	if (argc > 4)
		per_pack = arg_num(argv[4], "chunks per pack");
	if (argc > 5)
		per_file = arg_num(argv[5], "packs per index file");
	if ((rc = open_repo(argv[1], argv[2], &r, &err)) != 0)
		goto out;
	packs = ofs_xcalloc(per_file, sizeof(*packs));
	for (size_t i = 0; i < per_file; i++)
		packs[i].blobs = ofs_xcalloc(per_pack, sizeof(*packs[i].blobs));
	while (done < nchunks) {
		size_t np = 0;

		/* One index file: up to per_file packs of up to per_pack 1 MiB-ish chunks. */
		while (np < per_file && done < nchunks) {
			struct ofs_index_pack *p = &packs[np++];
			uint32_t off = 0;

			ofs_random(p->id, sizeof(p->id));
			memset(&p->loc, 0, sizeof(p->loc));
			p->loc.kind = OFS_LOC_LOOSE;
			ofs_random(p->xxh, sizeof(p->xxh));
			p->nblobs = 0;
			for (; p->nblobs < per_pack && done < nchunks; p->nblobs++, done++) {
				struct ofs_pack_entry *e = &p->blobs[p->nblobs];

				e->type = OFS_BLOB_DATA;
				ofs_random(e->id, sizeof(e->id));
				e->offset = off;
				e->raw_len = (1u << 20) + (uint32_t)(done % 4096);
				e->stored_len = e->raw_len + 44;
				off += e->stored_len;
			}
			p->length = (uint64_t)off + 4096;
		}
		if ((rc = put_index(r, packs, np, &err)) != 0)
			goto out;
		files++;
	}
	printf("%lu chunks in %lu index files\n", done, files);
out:
	if (packs != NULL) {
		for (size_t i = 0; i < per_file; i++)
			free(packs[i].blobs);
		free(packs);
	}
	ofs_repo_close(r);
	if (rc != 0) {
		fprintf(stderr, "benchtool: %s\n", err.msg[0] ? err.msg : "failed");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 5 && argc <= 7 && strcmp(argv[1], "synth-index") == 0)
		return synth_index(argc - 1, argv + 1);
	if (argc == 4 && strcmp(argv[1], "pack-stats") == 0)
		return pack_stats(argv[2], argv[3]);
	fprintf(stderr, "usage: benchtool synth-index REPO PASSFILE NCHUNKS [CHUNKS_PER_PACK "
	    "[PACKS_PER_INDEX_FILE]]\n       benchtool pack-stats REPO PASSFILE\n");
	return 2;
}
