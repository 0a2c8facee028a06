// The real tus client (npm's tus-js-client) against the module, for
// t/25-tus-client.t:
//
//   node t/tus-client.mjs create|resume URL TOKEN FILE CHUNK_BYTES
//
// "create" starts with the creation extension (POST to the presigned URL);
// "resume" continues an upload at URL from the offset the server reports
// (HEAD).  Prints one JSON line per event on stdout:
//   {"event":"start","offset":N}   the first progress report
//   {"event":"chunk","offset":N}   after each chunk the server accepted
//   {"event":"done","offset":N} | {"event":"error","message":"..."}
import fs from 'node:fs';
import * as tus from 'tus-js-client';

const [mode, url, token, file, chunk] = process.argv.slice(2);
const size = fs.statSync(file).size;
let first = true;

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const upload = new tus.Upload(fs.createReadStream(file), {
    endpoint: mode === 'create' ? url : null,
    uploadUrl: mode === 'resume' ? url : null,
    uploadSize: size,
    chunkSize: Number(chunk),
    headers: { Authorization: `Bearer ${token}` },
    retryDelays: null,
    storeFingerprintForResuming: false,
    onProgress(sent) {
        if (first) {
            first = false;
            say({ event: 'start', offset: sent });
        }
    },
    onChunkComplete(_size, accepted) {
        say({ event: 'chunk', offset: accepted });
    },
    onSuccess() {
        say({ event: 'done', offset: size });
    },
    onError(err) {
        say({ event: 'error', message: String(err && err.message || err) });
        process.exitCode = 1;
    },
});

upload.start();
