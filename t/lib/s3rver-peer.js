// The S3 peer of the test harness: npm's s3rver, plus the two multipart
// calls it lacks (ListParts and AbortMultipartUpload), answered from the
// parts s3rver itself stored, and a PUT and a GET made whole as S3's are
// (below).  Everything else is s3rver's own.
//
//   node t/lib/s3rver-peer.js DIRECTORY PORT BUCKET...
'use strict';

const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');

const [directory, port, ...buckets] = process.argv.slice(2);

// the browser PUTs to the staging bucket from the stack's origin, with the
// headers conf/s3-cors.xml allows
const cors = '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>'
    + '<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>'
    + '<AllowedHeader>Content-Type</AllowedHeader>'
    + '<AllowedHeader>x-amz-server-side-encryption</AllowedHeader>'
    + '<AllowedHeader>x-amz-server-side-encryption-aws-kms-key-id</AllowedHeader>'
    + '<ExposeHeader>ETag</ExposeHeader>'
    + '</CORSRule></CORSConfiguration>';

const server = new S3rver({
    directory,
    address: '127.0.0.1',
    port: Number(port),
    silent: true,
    configureBuckets: buckets.map((name) => ({ name, configs: [cors] })),
});

// S3 replaces an object at once: a GET while a PUT of the same key runs
// gets the old bytes or the new, never a file half written, and a PUT is
// answered only once its bytes are stored.  s3rver's own store writes in
// place and answers before its write stream has even opened the file: a
// small object (a playlist) could be answered 200 and then be missing, or
// be renamed before it existed (seen under load in t/80-s3.t).  Here the
// bytes go to a temporary file beside the object's, the PUT waits for the
// stream to finish, then the file is renamed over the object's and its
// metadata written.
const { pipeline } = require('stream/promises');
const { Transform } = require('stream');
const crypto = require('crypto');
const store = server.store;
let putSeq = 0;
store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    const tmp = `${objectPath}.put-${process.pid}-${++putSeq}`;
    const md5 = crypto.createHash('md5');
    let size = 0;
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    try {
        if (Buffer.isBuffer(object.content)) {
            await fs.promises.writeFile(tmp, object.content);
            md5.update(object.content);
            size = object.content.length;
        } else {
            await pipeline(object.content, new Transform({
                transform(chunk, encoding, callback) {
                    md5.update(chunk);
                    size += chunk.length;
                    callback(null, chunk);
                },
            }), fs.createWriteStream(tmp));
        }
        await fs.promises.rename(tmp, objectPath);
    } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        throw err;
    }
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
};

// ... and a GET reads one version whole: s3rver takes the length from a
// stat of the path, then opens the path, so a PUT renamed in between sent
// the new bytes cut at the old length (a growing playlist read half, seen
// in t/65-progressive.t).  Here the file is opened first and its length
// taken from that open file.
const S3Object = require('s3rver/lib/models/object');
store.getObject = async (bucket, key, options) => {
    let fh;
    try {
        fh = await fs.promises.open(store.getResourcePath(bucket, key, 'object'), 'r');
    } catch (err) {
        if (err.code === 'ENOENT') return null;
        throw err;
    }
    try {
        const st = await fh.stat();
        const metadata = await store.getMetadata(bucket, key);
        metadata['content-length'] = st.size;
        metadata['last-modified'] = st.mtime.toUTCString();
        const lastByte = Math.max(0, st.size - 1);
        const range = {
            start: (options && options.start) || 0,
            end: Math.min((options && options.end) || Infinity, lastByte),
        };
        const ranged = options && (options.start !== undefined || options.end);
        let content = null;
        if (!(range.start < 0 || range.end < range.start)) {
            content = fs.createReadStream(null, { fd: fh, start: range.start, end: range.end });
            fh = null;                          /* the stream closes it */
        }
        const object = new S3Object(bucket, key, content, metadata);
        if (ranged) object.range = range;
        return object;
    } catch (err) {
        if (err.code === 'ENOENT') return null;
        throw err;
    } finally {
        if (fh) await fh.close();
    }
};

function uploadDir(bucket, uploadId) {
    return path.join(directory, bucket, '._S3rver_uploads', uploadId);
}

function xmlEscape(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
        .replace(/>/g, '&gt;');
}

function noSuchUpload(ctx) {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload'
        + '</Code><Message>The specified upload does not exist.</Message></Error>';
}

function listParts(ctx, bucket, key, dir) {
    const marker = Number(ctx.query['part-number-marker'] || 0);
    const max = Math.min(Number(ctx.query['max-parts'] || 1000), 1000);
    // a part whose PUT was cut off has no .md5 yet: S3 would not list it
    const numbers = fs.readdirSync(dir)
        .filter((f) => /^\d+$/.test(f) && fs.existsSync(path.join(dir, `${f}.md5`)))
        .map(Number).filter((n) => n > marker).sort((a, b) => a - b);
    const page = numbers.slice(0, max);
    const truncated = numbers.length > max;
    const parts = page.map((n) => {
        const file = path.join(dir, String(n));
        const md5 = fs.readFileSync(`${file}.md5`, 'utf8').trim();
        return `<Part><PartNumber>${n}</PartNumber><ETag>"${md5}"</ETag>`
            + `<Size>${fs.statSync(file).size}</Size></Part>`;
    }).join('');
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult>'
        + `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key>`
        + `<UploadId>${xmlEscape(ctx.query.uploadId)}</UploadId>`
        + `<IsTruncated>${truncated}</IsTruncated>`
        + (truncated ? `<NextPartNumberMarker>${page[page.length - 1]}</NextPartNumberMarker>` : '')
        + parts + '</ListPartsResult>';
}

// Encryption at rest: every write that makes an object (PUT object, PUT
// with x-amz-copy-source, CreateMultipartUpload) must ask for server-side
// encryption, AES256 or aws:kms (with a key id or the account's key); a
// write without it is refused as S3 refuses a bucket policy's denial.  Parts
// (UploadPart) and CompleteMultipartUpload take none: S3 gives the object the
// encryption named at create.  Each accepted write is logged to
// DIRECTORY/sse.log as "bucket/key algorithm [key-id]" for the tests.
const SSE = 'x-amz-server-side-encryption';
const SSE_KEY = 'x-amz-server-side-encryption-aws-kms-key-id';

function sseRefused(ctx, message) {
    ctx.status = 400;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
        + `InvalidEncryptionAlgorithmError</Code><Message>${xmlEscape(message)}`
        + '</Message></Error>';
}

server.middleware.unshift(async (ctx, next) => {
    const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    const write = m && ((ctx.method === 'PUT' && ctx.query.partNumber === undefined)
        || (ctx.method === 'POST' && ctx.query.uploads !== undefined));
    if (!write) {
        return next();
    }
    const alg = ctx.get(SSE);
    const key = ctx.get(SSE_KEY);
    if (alg !== 'AES256' && alg !== 'aws:kms') {
        return sseRefused(ctx, alg ? `${SSE}: ${alg} is not AES256 or aws:kms`
            : `this bucket requires ${SSE} on every write`);
    }
    if (key && alg !== 'aws:kms') {
        return sseRefused(ctx, `${SSE_KEY} needs ${SSE}: aws:kms`);
    }
    await next();
    if (ctx.status === 200) {
        fs.appendFileSync(path.join(directory, 'sse.log'),
            `${m[1]}/${decodeURIComponent(m[2])} ${alg}${key ? ` ${key}` : ''}\n`);
    }
});

server.middleware.unshift(async (ctx, next) => {
    const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    const uploadId = ctx.query.uploadId;
    if (!m || !uploadId || ctx.query.partNumber !== undefined
        || !['GET', 'DELETE'].includes(ctx.method) || !/^[0-9a-f]+$/.test(uploadId)) {
        return next();
    }
    const dir = uploadDir(m[1], uploadId);
    if (!fs.existsSync(dir)) {
        return noSuchUpload(ctx);
    }
    if (ctx.method === 'GET') {
        return listParts(ctx, m[1], decodeURIComponent(m[2]), dir);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.status = 204;
});

server.run((err) => {
    if (err) {
        console.error(err);
        process.exit(1);
    }
});
