/* Fuzz target: the stage's journal segment plaintext and catalog file plaintext decoders
 * (engine/stage_catalog.c, FORMAT.md section 16; the files are sealed, so this is what a
 * key holder's bytes reach). Whatever is accepted must re-encode (as the current version)
 * to bytes that decode again and re-encode to the same bytes. Seed corpus: the golden
 * journal and catalog (tests/golden/stage-*.bin), older versions, and damaged copies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stage_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The state st records, borrowed for encoding (files: scratch, nsealed entries). */
static void
head_of(const struct jstate *st, struct ofs_manifest_file *files, char **serials,
    struct jhead *h)
{
	memset(h, 0, sizeof(*h));
	h->set_id = st->set_id;
	h->next_seq = st->next_seq;
	h->open_seq = st->openseq;
	h->committed = st->committed;
	h->packs = st->packs;
	h->npacks = st->np;
	h->open_serial = st->oserial != NULL ? st->oserial : "";
	h->open_mount = st->omnt != NULL ? st->omnt : "";
	h->open_limit = st->climit;
	for (size_t i = 0; i < st->nsealed; i++) {
		files[i].path = st->sealed[i].path;
		files[i].h = st->sealed[i].h;
		serials[i] = st->sealed[i].serial;
	}
	h->sealed = files;
	h->sealed_serial = serials;
	h->nsealed = st->nsealed;
}

/* Decode p as a journal plaintext and encode what it holds into out; 0 when accepted. */
static int
journal_round(const uint8_t *p, size_t len, struct ofs_buf *out)
{
	struct catalog c;
	struct jstate st;
	struct ofs_error err;
	struct ofs_manifest_file *files;
	char **serials;
	struct jhead h;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	rc = ofs_stg_journal_decode(p, len, "fuzz journal", &st, &c, &err);
	if (rc == 0) {
		files = ofs_xcalloc(st.nsealed + 1, sizeof(*files));
		serials = ofs_xcalloc(st.nsealed + 1, sizeof(*serials));
		head_of(&st, files, serials, &h);
		if (ofs_stg_journal_encode(&h, &c, 0, out) != 0)
			abort();
		free(files);
		free(serials);
	}
	ofs_stg_jstate_release(&st);
	ofs_stg_cat_release(&c);
	return rc;
}

/* The same for a catalog file plaintext. */
static int
catalog_round(const uint8_t *p, size_t len, struct ofs_buf *out)
{
	struct catalog c;
	struct ofs_rd rd;
	uint8_t snap[OFS_ID_LEN];
	int with_bl, rc = -1;

	memset(&c, 0, sizeof(c));
	ofs_rd_init(&rd, p, len);
	if (ofs_stg_catalog_head(&rd, snap, &with_bl) == 0 &&
	    ofs_stg_cat_decode(&rd, &c, with_bl) == 0 && ofs_rd_left(&rd) == 0) {
		if (ofs_stg_catalog_encode(snap, &c, out) != 0 ||
		    out->len != 8 + OFS_ID_LEN + ofs_stg_cat_size(&c, 0))
			abort();
		rc = 0;
	}
	ofs_stg_cat_release(&c);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);

	if (journal_round(data, size, &a) == 0) {
		if (journal_round(a.data, a.len, &b) != 0 || a.len != b.len ||
		    memcmp(a.data, b.data, a.len) != 0)
			abort();
	}
	ofs_buf_reset(&a);
	ofs_buf_reset(&b);
	if (catalog_round(data, size, &a) == 0) {
		if (catalog_round(a.data, a.len, &b) != 0 || a.len != b.len ||
		    memcmp(a.data, b.data, a.len) != 0)
			abort();
	}
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	return 0;
}
