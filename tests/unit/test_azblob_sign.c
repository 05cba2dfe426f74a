/* Unit tests for lib/azblob*.c without a service: SharedKey string-to-sign and signatures
 * against fixed vectors, SAS handling, block ids, client-side limits (refused before any
 * request), configuration, List Blobs XML parsing, and retries against a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "azblob.h"
#include "util.h"

#define DEVKEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void
expect_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* Vector from reference/azure-offline-seeding.md §5.3 (verified there against Azurite). */
static void
test_sign_reference_vector(void **state)
{
	const char *hdr[] = {
		"x-ms-version: 2021-08-06",
		"x-ms-date: Mon, 01 Jan 2024 00:00:00 GMT",
		"Content-Length: 4194304",
	};
	struct ofs_buf sts = OFS_BUF_INIT(0);
	struct ofs_error err;
	char sig[OFS_AZBLOB_SIG_LEN];

	assert_int_equal(ofs_azblob_string_to_sign(&sts, "PUT", "devstoreaccount1",
	    "/devstoreaccount1/seed/disk0.vhd", "comp=block&blockid=YmxrLTAwMDAwMA%3D%3D", hdr, 3,
	    &err), 0);
	assert_string_equal((char *)sts.data,
	    "PUT\n\n\n4194304\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n"
	    "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/seed/disk0.vhd\n"
	    "blockid:YmxrLTAwMDAwMA==\ncomp:block");
	assert_int_equal(ofs_azblob_sign(DEVKEY, sts.data, sts.len, sig, &err), 0);
	assert_string_equal(sig, "1LwAchYsWH3SL36bL/cmo/VJdJb/TcXuRCb+sC7cv+g=");
	ofs_buf_release(&sts);
}

/* Our own vector from the documented rules (signature computed with Python's hmac):
 * standard headers in their slots, x-ms-* lower-cased/sorted/folded, Content-Length 0 is
 * empty, query names lower-cased and values decoded, repeated names comma-joined sorted. */
static void
test_sign_canonicalization(void **state)
{
	const char *hdr[] = {
		"Content-Type: application/xml",
		"If-Match:   \"0x1\"  ",
		"x-ms-version: 2021-08-06",
		"X-MS-Date: Tue, 02 Jan 2024 03:04:05 GMT",
		"x-ms-meta-a:   b    c  ",
		"x-ms-range: bytes=0-511",
		"x-ms-blob-type: PageBlob",
		"Content-Length: 0",
		"User-Agent: not signed",
	};
	struct ofs_buf sts = OFS_BUF_INIT(0);
	struct ofs_error err;
	char sig[OFS_AZBLOB_SIG_LEN];

	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "devstoreaccount1",
	    "/devstoreaccount1/seed", "restype=container&comp=list&prefix=dir%2Fx%20y&"
	    "MARKER=a%2Fb%20c&include=snapshots&include=metadata", hdr, OFS_ARRAY_LEN(hdr),
	    &err), 0);
	assert_string_equal((char *)sts.data,
	    "GET\n\n\n\n\napplication/xml\n\n\n\"0x1\"\n\n\n\n"
	    "x-ms-blob-type:PageBlob\nx-ms-date:Tue, 02 Jan 2024 03:04:05 GMT\n"
	    "x-ms-meta-a:b c\nx-ms-range:bytes=0-511\nx-ms-version:2021-08-06\n"
	    "/devstoreaccount1/devstoreaccount1/seed\ncomp:list\ninclude:metadata,snapshots\n"
	    "marker:a/b c\nprefix:dir/x y\nrestype:container");
	assert_int_equal(ofs_azblob_sign(DEVKEY, sts.data, sts.len, sig, &err), 0);
	assert_string_equal(sig, "GESSVL7k1q8lXvN6WFu0KIlwaRKr589E4m9Y6vi1Ato=");

	/* Content-Length 0 on a PUT, production-style resource */
	{
		const char *h2[] = { "x-ms-date: Mon, 01 Jan 2024 00:00:00 GMT",
		    "x-ms-version: 2021-08-06", "Content-Length: 0" };

		ofs_buf_reset(&sts);
		assert_int_equal(ofs_azblob_string_to_sign(&sts, "PUT", "myaccount", "/seed",
		    "restype=container", h2, 3, &err), 0);
		assert_int_equal(ofs_azblob_sign(DEVKEY, sts.data, sts.len, sig, &err), 0);
		assert_string_equal(sig, "bWDhnj1WpbXt12dRWwtFEMY9N9QQ1GczFwMfK4FF2S4=");
	}
	ofs_buf_release(&sts);
}

static void
test_sign_rejects(void **state)
{
	const char *bad_hdr[] = { "no colon here" };
	const char *bad_name[] = { ": value" };
	struct ofs_buf sts = OFS_BUF_INIT(0);
	struct ofs_error err;
	char sig[OFS_AZBLOB_SIG_LEN];

	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", NULL, bad_hdr, 1,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", NULL, bad_name, 1,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", "comp=%zz", NULL, 0,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", "comp=%4", NULL, 0,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", "=x", NULL, 0,
	    &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_string_to_sign(&sts, "GET", "a", "/c", "a=%00", NULL, 0,
	    &err), OFS_ERR_USAGE);
	/* keys that are not base64; the message never quotes the key */
	assert_int_equal(ofs_azblob_sign("not base64!", "x", 1, sig, &err), OFS_ERR_AUTH);
	assert_null(strstr(err.msg, "not base64!"));
	assert_int_equal(ofs_azblob_sign("YWJj=", "x", 1, sig, &err), OFS_ERR_AUTH);
	assert_int_equal(ofs_azblob_sign("", "x", 1, sig, &err), OFS_ERR_AUTH);
	assert_int_equal(ofs_azblob_sign("YR==", "x", 1, sig, &err), OFS_ERR_AUTH);
	ofs_buf_release(&sts);
}

static void
test_block_ids(void **state)
{
	char id[OFS_AZBLOB_BLOCK_ID_LEN], id2[OFS_AZBLOB_BLOCK_ID_LEN];
	char big[200];

	ofs_azblob_block_id(0, id);
	assert_string_equal(id, "b2Zmc2VlZC0wMDAwMDAwMDAw");	/* "offseed-0000000000" */
	ofs_azblob_block_id(49999, id2);
	assert_string_equal(id2, "b2Zmc2VlZC0wMDAwMDQ5OTk5");
	assert_int_equal(ofs_azblob_block_id_check(id), 18);
	assert_int_equal(ofs_azblob_block_id_check("YmxrLTAwMDAwMA=="), 10);
	assert_int_equal(ofs_azblob_block_id_check("QQ=="), 1);
	/* not canonical: bits under the padding, missing padding, bad characters, too long */
	assert_int_equal(ofs_azblob_block_id_check("QR=="), -1);
	assert_int_equal(ofs_azblob_block_id_check("QUJ="), -1);
	assert_int_equal(ofs_azblob_block_id_check("QQ"), -1);
	assert_int_equal(ofs_azblob_block_id_check("QQ-_"), -1);
	assert_int_equal(ofs_azblob_block_id_check("Q=Q="), -1);
	assert_int_equal(ofs_azblob_block_id_check(""), -1);
	assert_int_equal(ofs_azblob_block_id_check(NULL), -1);
	memset(big, 'A', 88);	/* 66 bytes */
	big[88] = '\0';
	assert_int_equal(ofs_azblob_block_id_check(big), -1);
	big[84] = big[85] = big[86] = big[87] = '\0';	/* 84 chars = 63 bytes */
	assert_int_equal(ofs_azblob_block_id_check(big), 63);
	memcpy(big + 84, "AA==", 5);			/* 64 bytes */
	assert_int_equal(ofs_azblob_block_id_check(big), 64);
}

/* A client at a closed loopback port: every refused call must make no request. */
static struct ofs_azblob *
closed_client(int tries)
{
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL;
	struct ofs_error err;

	o.endpoint = "http://127.0.0.1:1/devstoreaccount1";
	o.key = DEVKEY;
	o.max_tries = tries;
	o.retry_base_ms = 10;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	return c;
}

static void
test_limits_before_request(void **state)
{
	struct ofs_azblob *c = closed_client(1);
	struct ofs_error err;
	uint8_t *big = ofs_xcalloc(1, (5u << 20));
	char id[OFS_AZBLOB_BLOCK_ID_LEN];
	const char *ids[2], *bad_ids[1] = { "not-base64" };
	struct ofs_azblob_job jobs[2];
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	char name[OFS_AZBLOB_NAME_MAX + 2];

	/* Put Page: > 4 MiB, unaligned length, unaligned offset, empty */
	assert_int_equal(ofs_azblob_put_page(c, "seed", "d.vhd", 0, big, (4u << 20) + 512, &err),
	    OFS_ERR_USAGE);
	expect_contains(err.msg, "Put Page seed/d.vhd");
	assert_int_equal(ofs_azblob_put_page(c, "seed", "d.vhd", 0, big, 1000, &err),
	    OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_page(c, "seed", "d.vhd", 100, big, 512, &err),
	    OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_page(c, "seed", "d.vhd", 0, big, 0, &err),
	    OFS_ERR_USAGE);
	/* page blob sizes */
	assert_int_equal(ofs_azblob_create_page_blob(c, "seed", "d.vhd", 1000, &err),
	    OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_page_blob(c, "seed", "d.vhd",
	    OFS_AZBLOB_PAGE_BLOB_MAX + 512, &err), OFS_ERR_USAGE);
	/* block ids and lists */
	assert_int_equal(ofs_azblob_put_block(c, "seed", "b", "bad id", big, 10, &err),
	    OFS_ERR_USAGE);
	ofs_azblob_block_id(1, id);
	ids[0] = id;
	ids[1] = "QQ==";	/* valid but a different length */
	assert_int_equal(ofs_azblob_put_block_list(c, "seed", "b", ids, 2, &err), OFS_ERR_USAGE);
	expect_contains(err.msg, "differ in length");
	assert_int_equal(ofs_azblob_put_block_list(c, "seed", "b", bad_ids, 1, &err),
	    OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_block_list(c, "seed", "b", ids, 0, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_block_list(c, "seed", "b", ids,
	    OFS_AZBLOB_BLOCKS_MAX + 1, &err), OFS_ERR_USAGE);
	/* names */
	assert_int_equal(ofs_azblob_create_container(c, "AB", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_container(c, "ab", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_container(c, "a--b", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_container(c, "-abc", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_container(c, "abc-", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_create_container(c, "a_bc", NULL, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_blob(c, "seed", "", big, 1, &err), OFS_ERR_USAGE);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(ofs_azblob_put_blob(c, "seed", name, big, 1, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_put_blob(c, "seed", "x", NULL, 5, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_azblob_list(c, "seed", NULL, NULL, 5001, &l, &err), OFS_ERR_USAGE);
	/* a batch with one bad job is refused as a whole */
	memset(jobs, 0, sizeof(jobs));
	jobs[0].op = OFS_AZBLOB_PUT_PAGE;
	jobs[0].container = "seed";
	jobs[0].name = "d.vhd";
	jobs[0].data = big;
	jobs[0].fd = -1;
	jobs[0].len = 512;
	jobs[1] = jobs[0];
	jobs[1].offset = 513;
	assert_int_equal(ofs_azblob_put_many(c, jobs, 2, &err), OFS_ERR_USAGE);
	assert_int_not_equal(jobs[0].result, 0);
	expect_contains(err.msg, "at 513");

	assert_int_equal(ofs_azblob_requests(c), 0);
	ofs_azblob_list_release(&l);
	ofs_azblob_free(c);
	free(big);
}

/* Connection refused is retried max_tries times, then OFS_ERR_NETWORK naming the request. */
static void
test_retry_connection_refused(void **state)
{
	struct ofs_azblob *c = closed_client(3);
	struct ofs_error err;
	struct ofs_buf b = OFS_BUF_INIT(0);

	assert_int_equal(ofs_azblob_put_blob(c, "seed", "dir/x.bin", "abc", 3, &err),
	    OFS_ERR_NETWORK);
	assert_int_equal(ofs_exit_code(err.code), 8);
	expect_contains(err.msg, "PUT seed/dir/x.bin");
	expect_contains(err.msg, "gave up after 3 attempts");
	assert_int_equal(ofs_azblob_requests(c), 3);
	assert_int_equal(ofs_buf_addf(&b, "keep"), 0);
	assert_int_equal(ofs_azblob_get(c, "seed", "x", 0, 10, &b, &err), OFS_ERR_NETWORK);
	assert_int_equal(b.len, 4);	/* unchanged on failure */
	assert_null(strstr(err.msg, DEVKEY));
	ofs_buf_release(&b);
	ofs_azblob_free(c);
}

static void
test_open_config(void **state)
{
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL;
	struct ofs_error err;
	struct ofs_buf u = OFS_BUF_INIT(0);

	/* production default endpoint from the account */
	o.account = "myacct";
	o.key = DEVKEY;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_string_equal(ofs_azblob_account(c), "myacct");
	assert_int_equal(ofs_azblob_url(c, "seed", "dir/a b+c.vhd", "comp=page", &u), 0);
	assert_string_equal((char *)u.data,
	    "https://myacct.blob.core.windows.net/seed/dir/a%20b%2Bc.vhd?comp=page");
	ofs_azblob_free(c);
	c = NULL;

	/* account derived from a path-style endpoint, trailing slash dropped */
	memset(&o, 0, sizeof(o));
	o.endpoint = "http://127.0.0.1:10000/devstoreaccount1/";
	o.key = DEVKEY;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_string_equal(ofs_azblob_account(c), "devstoreaccount1");
	ofs_buf_reset(&u);
	assert_int_equal(ofs_azblob_url(c, "seed", NULL, NULL, &u), 0);
	assert_string_equal((char *)u.data, "http://127.0.0.1:10000/devstoreaccount1/seed");
	ofs_azblob_free(c);
	c = NULL;

	/* account derived from the host */
	o.endpoint = "https://acct42.blob.core.windows.net";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_string_equal(ofs_azblob_account(c), "acct42");
	ofs_azblob_free(c);
	c = NULL;

	/* refusals: no credentials, bad key, bad endpoint, bad account, nothing at all */
	o.key = NULL;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	expect_contains(err.msg, "OFFSEED_AZURE_KEY");
	o.key = "secret!!";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_AUTH);
	assert_null(strstr(err.msg, "secret!!"));
	o.key = DEVKEY;
	o.endpoint = "ftp://x/y";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	o.endpoint = "http://user@host/acct";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	o.endpoint = "http:///acct";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	o.endpoint = "http://127.0.0.1:10000/Bad_Account";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	memset(&o, 0, sizeof(o));
	o.key = DEVKEY;
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_USAGE);
	assert_null(c);

	/* environment */
	setenv("OFFSEED_AZURE_ENDPOINT", "http://127.0.0.1:9/envacct", 1);
	setenv("OFFSEED_AZURE_KEY", DEVKEY, 1);
	setenv("OFFSEED_AZURE_RETRIES", "2", 1);
	memset(&o, 0, sizeof(o));
	ofs_azblob_opts_from_env(&o);
	assert_string_equal(o.endpoint, "http://127.0.0.1:9/envacct");
	assert_int_equal(o.max_tries, 2);
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_string_equal(ofs_azblob_account(c), "envacct");
	ofs_azblob_free(c);
	unsetenv("OFFSEED_AZURE_ENDPOINT");
	unsetenv("OFFSEED_AZURE_KEY");
	unsetenv("OFFSEED_AZURE_RETRIES");
	ofs_buf_release(&u);
}

static void
test_sas(void **state)
{
	struct ofs_azblob_opts o = { 0 };
	struct ofs_azblob *c = NULL;
	struct ofs_error err;
	struct ofs_buf u = OFS_BUF_INIT(0), sas = OFS_BUF_INIT(0);

	/* a SAS is appended after the request's own query, the '?' stripped */
	o.endpoint = "http://127.0.0.1:10000/devstoreaccount1";
	o.sas = "?sv=2020-12-06&sr=c&sp=rw&sig=abc%2Bdef%3D";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	assert_int_equal(ofs_azblob_url(c, "seed", "x.vhd", "comp=page", &u), 0);
	assert_string_equal((char *)u.data, "http://127.0.0.1:10000/devstoreaccount1/seed/x.vhd"
	    "?comp=page&sv=2020-12-06&sr=c&sp=rw&sig=abc%2Bdef%3D");
	ofs_buf_reset(&u);
	assert_int_equal(ofs_azblob_url(c, "seed", "x.vhd", NULL, &u), 0);
	assert_string_equal((char *)u.data, "http://127.0.0.1:10000/devstoreaccount1/seed/x.vhd"
	    "?sv=2020-12-06&sr=c&sp=rw&sig=abc%2Bdef%3D");
	ofs_azblob_free(c);
	c = NULL;
	/* a SAS without a signature, or with spaces, is refused (and not quoted) */
	o.sas = "sv=2020-12-06&sr=c&sp=rw";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_AUTH);
	assert_null(strstr(err.msg, "sv=2020"));
	o.sas = "sig=abc def";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), OFS_ERR_AUTH);
	/* a key wins over a SAS: no SAS in the URL */
	o.key = DEVKEY;
	o.sas = "sig=abc";
	assert_int_equal(ofs_azblob_open(&o, &c, &err), 0);
	ofs_buf_reset(&u);
	assert_int_equal(ofs_azblob_url(c, "seed", NULL, "restype=container", &u), 0);
	assert_null(strstr((char *)u.data, "sig="));
	ofs_azblob_free(c);

	/* service SAS generation: fixed vector (signature computed with Python's hmac) */
	assert_int_equal(ofs_azblob_make_sas("devstoreaccount1", DEVKEY, "seed", NULL, "rcwl",
	    1893456000 /* 2030-01-01T00:00:00Z */, &sas, &err), 0);
	assert_string_equal((char *)sas.data, "sv=2020-12-06&spr=https%2Chttp&"
	    "se=2030-01-01T00%3A00%3A00Z&sr=c&sp=rcwl&"
	    "sig=6O1SO147oEGtbpRZ5d0ShiER%2BwQVBz%2FhRBjAvF3Fjz0%3D");
	ofs_buf_reset(&sas);
	assert_int_equal(ofs_azblob_make_sas("devstoreaccount1", "%%%", "seed", NULL, "r", 0,
	    &sas, &err), OFS_ERR_AUTH);
	ofs_buf_release(&sas);
	ofs_buf_release(&u);
}

static const char list_xml[] =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1/devstoreaccount1\" "
    "ContainerName=\"seed\"><Prefix>p/</Prefix><MaxResults>2</MaxResults><Blobs>"
    "<Blob><Name>p/a &amp; b&#x20AC;&#65;.vhd</Name><Properties><Creation-Time>x</Creation-Time>"
    "<Content-Length>4194816</Content-Length><BlobType>PageBlob</BlobType></Properties></Blob>"
    "<Blob><Name Encoded=\"true\">p/%01x</Name><Properties><Content-Length>0</Content-Length>"
    "<BlobType>BlockBlob</BlobType></Properties><Metadata/></Blob>"
    "</Blobs><NextMarker>2!84!MDAwMDE2IXAvYg--</NextMarker></EnumerationResults>";

static int
parse_str(const char *s, struct ofs_azblob_list *l, struct ofs_error *err)
{
	return ofs_azblob_list_parse(s, strlen(s), l, err);
}

/* A name or marker longer than its buffer is refused, never cut (a 5,000-byte name came
 * back as its first 4,096 bytes). */
static void
test_list_parse_too_long(void **state)
{
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_error err;
	struct ofs_buf x = OFS_BUF_INIT(0);
	char *name = ofs_xmalloc(5001), *marker = ofs_xmalloc(70001);

	memset(name, 'n', 5000);
	name[5000] = '\0';
	memset(marker, 'm', 70000);
	marker[70000] = '\0';
	assert_int_equal(ofs_buf_addf(&x, "<EnumerationResults><Blobs><Blob><Name>%s</Name>"
	    "<Properties><Content-Length>1</Content-Length></Properties></Blob></Blobs>"
	    "</EnumerationResults>", name), 0);
	assert_int_not_equal(ofs_azblob_list_parse(x.data, x.len, &l, &err), 0);
	ofs_azblob_list_release(&l);
	ofs_buf_reset(&x);
	assert_int_equal(ofs_buf_addf(&x, "<EnumerationResults><Blobs></Blobs><NextMarker>%s"
	    "</NextMarker></EnumerationResults>", marker), 0);
	assert_int_not_equal(ofs_azblob_list_parse(x.data, x.len, &l, &err), 0);
	ofs_azblob_list_release(&l);
	/* a name of 1,024 characters with an entity still parses whole */
	ofs_buf_reset(&x);
	name[1020] = '\0';
	assert_int_equal(ofs_buf_addf(&x, "<EnumerationResults><Blobs><Blob><Name>%s&#x20AC;"
	    "</Name><Properties><Content-Length>1</Content-Length></Properties></Blob></Blobs>"
	    "</EnumerationResults>", name), 0);
	assert_int_equal(ofs_azblob_list_parse(x.data, x.len, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.items[0].name), 1023);
	ofs_azblob_list_release(&l);
	ofs_buf_release(&x);
	free(name);
	free(marker);
}

static void
test_list_parse(void **state)
{
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_error err;
	static const char *bad[] = {
		"",
		"<Nope/>",
		"<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>x</Name><Properties><Content-Length>1x"
		    "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>x</Name><Properties><Content-Length>"
		    "99999999999999999999999</Content-Length></Properties></Blob></Blobs>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>x &bogus; y</Name><Properties>"
		    "<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>&#0;</Name><Properties>"
		    "<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name></Name><Properties>"
		    "<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>x</Name><Properties>"
		    "<Content-Length>1</Content-Length></Properties></Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name Encoded=\"true\">%zz</Name><Properties>"
		    "<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs></Blobs><NextMarker>a<b</NextMarker>"
		    "</EnumerationResults>",
		"<EnumerationResults><Blobs>",
	};
	size_t i;

	assert_int_equal(parse_str(list_xml, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].name, "p/a & b\xE2\x82\xAC" "A.vhd");
	assert_int_equal(l.items[0].size, 4194816);
	assert_int_equal(l.items[0].type, OFS_AZBLOB_TYPE_PAGE);
	assert_string_equal(l.items[1].name, "p/\x01x");
	assert_int_equal(l.items[1].size, 0);
	assert_int_equal(l.items[1].type, OFS_AZBLOB_TYPE_BLOCK);
	assert_string_equal(l.next_marker, "2!84!MDAwMDE2IXAvYg--");
	/* a last page: empty NextMarker, empty Blobs, appends */
	assert_int_equal(parse_str("<EnumerationResults><Blobs /><NextMarker/>"
	    "</EnumerationResults>", &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_null(l.next_marker);
	ofs_azblob_list_release(&l);

	for (i = 0; i < OFS_ARRAY_LEN(bad); i++) {
		int r = parse_str(bad[i], &l, &err);

		if (r != OFS_ERR_CORRUPT)
			fail_msg("bad[%zu] gave %d", i, r);
		expect_contains(err.msg, "List Blobs");
		ofs_azblob_list_release(&l);
	}
	assert_string_equal(ofs_azblob_type_name(OFS_AZBLOB_TYPE_PAGE), "PageBlob");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_reference_vector),
		cmocka_unit_test(test_sign_canonicalization),
		cmocka_unit_test(test_sign_rejects),
		cmocka_unit_test(test_block_ids),
		cmocka_unit_test(test_limits_before_request),
		cmocka_unit_test(test_retry_connection_refused),
		cmocka_unit_test(test_open_config),
		cmocka_unit_test(test_sas),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_parse_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
