'use strict'
// The seed's stack as a baseline (bench/api-list.pl): Fastify 4 with
// node-postgres and @fastify/jwt, 2 workers (node's cluster module) like
// the module's 2 nginx workers, answering GET /api/assets?limit=N (the
// first page of the default sort) from the same database, with the same
// statement the module sends and the same JSON.  q, sort and cursor are
// not served: the benchmark does not send them.
//
// Environment: MAM_PORT, MAM_PG_SOCKET_DIR, MAM_JWT_KEY_FILE,
// MAM_SIGN_KEY_FILE, MAM_SQL_ASSET_LIST (the text of NGX_MAM_SQL_ASSET_LIST,
// bench/lib/Mam/Sql.pm), MAM_WORKERS (2), MAM_PG_POOL (4 per worker, as
// mam_pg_pool_size in the bench's stack).
const cluster = require('node:cluster')
const crypto = require('node:crypto')
const fs = require('node:fs')

function env (name, fallback) {
  const v = process.env[name] ?? fallback
  if (v === undefined) throw new Error(`bench/fastify: ${name} is not set`)
  return v
}

if (cluster.isPrimary) {
  let stopping = false
  const n = Number(env('MAM_WORKERS', '2'))
  for (let i = 0; i < n; i++) cluster.fork()
  // a worker that dies would halve the baseline's rate unnoticed: stop all
  cluster.on('exit', () => {
    if (!stopping) {
      console.error('bench/fastify: a worker exited')
      process.kill(process.pid, 'SIGTERM')
    } else if (Object.keys(cluster.workers).length === 0) {
      process.exit(0)
    }
  })
  process.on('SIGTERM', () => {
    stopping = true
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM')
  })
} else {
  worker()
}

function worker () {
  const pg = require('pg')
  const fastify = require('fastify')({ logger: false })

  // the module reads a key file whole and drops trailing whitespace
  // (mam_secret_load in libmam/mam_key.c); the rest are the key's bytes
  const readKey = (file) => Buffer.from(fs.readFileSync(file).toString('latin1').replace(/[ \t\r\n]+$/, ''), 'latin1')
  // cursors are signed with HKDF-SHA256(sign key, info "mam cursor v1")
  // like the module's (mam_key_derive, MAM_KEY_LABEL_CURSOR)
  const cursorKey = Buffer.from(crypto.hkdfSync('sha256', readKey(env('MAM_SIGN_KEY_FILE')),
    Buffer.alloc(0), 'mam cursor v1', 32))
  const listSql = env('MAM_SQL_ASSET_LIST')

  const pool = new pg.Pool({
    host: env('MAM_PG_SOCKET_DIR'),
    database: 'mam',
    user: 'mam',
    max: Number(env('MAM_PG_POOL', '4'))
  })

  // HS256 only, with the module's key; exp is checked by fast-jwt, the
  // other claims below as mam_jwt_verify() checks them.  No token cache:
  // the module verifies every request's token too.
  fastify.register(require('@fastify/jwt'), {
    secret: readKey(env('MAM_JWT_KEY_FILE')),
    verify: { algorithms: ['HS256'], requiredClaims: ['exp'] }
  })

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
  const ROLES = new Set(['viewer', 'editor', 'admin'])
  const claimsOk = (c, now) =>
    UUID.test(c.sub) && UUID.test(c.sid) && UUID.test(c.jti) &&
    Number.isInteger(c.iat) && Number.isInteger(c.exp) && Number.isInteger(c.av) &&
    c.exp > now && c.iat <= now + 60 && c.av >= 1 &&
    Array.isArray(c.roles) && c.roles.every((r) => ROLES.has(r))

  const fail = (reply, status, error, message) => reply.code(status).send({ error, message })

  async function authenticate (req, reply) {
    if (!req.headers.authorization) return fail(reply, 401, 'unauthorized', 'access token required')
    let claims
    try {
      claims = await req.jwtVerify()
    } catch {
      claims = null
    }
    if (!claims || !claimsOk(claims, Math.floor(Date.now() / 1000))) {
      return fail(reply, 401, 'unauthorized', 'invalid or expired access token')
    }
  }

  // the page key's time, seconds since 1970 with 6 digits of fraction, as
  // the cursor's key "2026-12-01T10:20:30.123456Z" (µs), as the module
  // makes it in C (ngx_mam_epoch_time)
  const time = (t) => {
    const [sec, frac] = t.split('.')
    return new Date(Number(sec) * 1000).toISOString().slice(0, 19) + `.${frac}Z`
  }

  // the module's cursor: base64url(scope "\n" id "\n" key) "." base64url of
  // HMAC-SHA256("mam-cursor\n" payload); scope is the sort.  The row's
  // page_key is its id, a space and its creation time (schema 032).
  function cursor (r, i) {
    const [id, at] = r[i + 1].split(' ')
    const payload = `-created_at\n${id}\n${time(at)}`
    const sig = crypto.createHmac('sha256', cursorKey).update('mam-cursor\n' + payload).digest('base64url')
    return Buffer.from(payload).toString('base64url') + '.' + sig
  }

  fastify.get('/api/assets', { onRequest: authenticate }, async (req, reply) => {
    const { limit: l, ...rest } = req.query
    const limit = l === undefined ? 24 : Number(l)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return fail(reply, 400, 'invalid_request', 'limit: must be 1..100')
    }
    if (Object.keys(rest).length) {
      return fail(reply, 400, 'invalid_request', 'bench/fastify serves only ?limit=')
    }
    // column 0 is the word count of q (none here), then an asset's item
    // (its JSON text), page key and title; the rows are limit + 1,
    // one more telling that the list goes on.  Each item is parsed, as
    // node-postgres does with a json column, and Fastify serializes the
    // page.
    // the module's statement is a member's (not an admin's) page: the
    // assets of the caller's projects, so it takes the user
    const { rows } = await pool.query({ name: 'asset_list', text: listSql, values: [limit + 1, req.user.sub], rowMode: 'array' })
    const items = []
    for (const r of rows.slice(0, limit)) if (r[1] !== null) items.push(JSON.parse(r[1]))
    return { items, next_cursor: rows.length > limit ? cursor(rows[limit - 1], 1) : null }
  })

  fastify.listen({ host: '127.0.0.1', port: Number(env('MAM_PORT')) }).catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
