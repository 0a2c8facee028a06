// The same SigV4 cases as t/unit/sigv4 (t/unit/sigv4-cases.json), signed
// by the AWS SDK for JavaScript's own signer (@smithy/signature-v4, what
// @aws-sdk/client-s3 and its presigner use), printed in the same format.
import { readFileSync } from 'node:fs';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const all = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const signer = new SignatureV4({
  credentials: { accessKeyId: all.access_key, secretAccessKey: all.secret_key },
  region: all.region, service: 's3', sha256: Sha256, uriEscapePath: true, applyChecksum: false,
});
const d = all.date;
const signingDate = new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
const [hostname, port] = all.host.split(':');

function request(c, extra) {
  return {
    method: c.method, protocol: 'http:', hostname, port: Number(port),
    path: `/${c.bucket}/${c.key}`, query: { ...(c.query || {}) },
    headers: { host: all.host, ...extra, ...(c.headers || {}) },
  };
}

// the query string in canonical order, as libmam prints it
function canonicalQuery(q) {
  const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  const sig = q['X-Amz-Signature'];
  const rest = Object.entries(q).filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${rest.map(([k, v]) => `${k}=${v}`).join('&')}&X-Amz-Signature=${sig}`;
}

for (const c of all.cases) {
  const r = await signer.sign(request(c, { 'x-amz-date': d, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
                              { signingDate });
  console.log(`${c.name} ${r.headers.authorization}`);
}
for (const c of all.presign) {
  // as @aws-sdk/s3-request-presigner does: an unsigned payload, not hoisted
  const r = await signer.presign(request(c, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), {
    signingDate, expiresIn: c.expires,
    unhoistableHeaders: new Set(['x-amz-content-sha256']),
    unsignableHeaders: new Set(['x-amz-content-sha256']),
  });
  console.log(`${c.name} ${canonicalQuery(r.query)}`);
}
