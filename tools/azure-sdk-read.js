#!/usr/bin/env node
// Download a blob, or a byte range of it, to a file with the official Azure SDK for
// JavaScript (@azure/storage-blob, pinned in tools/azurite/package-lock.json): an
// independent reader for the tests, so what offseed imports is checked by Microsoft's code.
//   node tools/azure-sdk-read.js CONNECTION_STRING CONTAINER BLOB OUT [OFFSET [COUNT]]
// Prints the blob type and size ("PageBlob 67109376"). Exit 1 on any failure.
'use strict';
const path = require('path');
const { BlobServiceClient } = require(path.join(__dirname, 'azurite', 'node_modules',
    '@azure', 'storage-blob'));

async function main() {
	const [conn, container, blob, out, offArg, countArg] = process.argv.slice(2);
	if (!conn || !container || !blob || !out) {
		console.error('usage: azure-sdk-read.js CONNECTION_STRING CONTAINER BLOB OUT ' +
		    '[OFFSET [COUNT]]');
		process.exit(2);
	}
	const offset = offArg ? Number(offArg) : 0;
	const count = countArg ? Number(countArg) : undefined;
	if (!Number.isSafeInteger(offset) || offset < 0 ||
	    (count !== undefined && (!Number.isSafeInteger(count) || count <= 0))) {
		console.error('azure-sdk-read.js: OFFSET and COUNT must be non-negative integers');
		process.exit(2);
	}
	const svc = BlobServiceClient.fromConnectionString(conn);
	const client = svc.getContainerClient(container).getBlobClient(blob);
	const props = await client.getProperties();
	// downloadToFile streams the range in parallel ranged GETs and checks the length.
	await client.downloadToFile(out, offset, count, { maxRetryRequests: 3 });
	console.log(`${props.blobType} ${props.contentLength}`);
}

main().catch((e) => {
	console.error(`azure-sdk-read.js: ${e.statusCode ? e.statusCode + ' ' : ''}` +
	    `${e.code || ''} ${e.message.split('\n')[0]}`);
	process.exit(1);
});
