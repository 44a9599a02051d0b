// server.js -- the Node.js receiver a user would otherwise write (node:http + ioredis): boardhook's job, for comparison.
//
// The benchmark's fair peer: the same requests and answers as boardhook-handler (README,
// "Requests and answers"), behind the same nginx, writing the same Redis data. Written the way
// a careful Node.js developer would, idiomatic and without tricks:
//
//   GET  ?challenge=C&verifyToken=T  token compared in constant time, C echoed as text/plain
//   POST JSON envelope               UTF-8 and JSON checked, envelope validated (SPEC.md 3.1:
//                                    CommunityName and EventType non-empty strings, EventType
//                                    safe for a key, Events an array of objects, TicketId an
//                                    integer when present), one envelope per item (id = SHA-256
//                                    as boardhook computes it), then in one MULTI/EXEC: LPUSH of
//                                    the envelopes, SADD of the type, HINCRBY of its counter;
//                                    200 {"stored":N} only after Redis answered EXEC, else 503.
//
// What it leaves out, as most such receivers would: the rejected list, the duplicate-key and
// depth checks (JSON.parse has neither), byte-exact `event` (JSON.stringify re-serialises the
// item), and any fallback while Redis is away (a POST gets 503).
//
// Settings (environment): PEER_LISTEN (/path/to.sock or host:port, default 127.0.0.1:3000),
// PEER_REDIS_URL (default redis://127.0.0.1:6379/0), PEER_QUEUE_PREFIX (default peer),
// PEER_VERIFY_TOKEN or PEER_VERIFY_TOKEN_FILE (comma-separated tokens), PEER_PROCESSES
// (node:cluster workers, default 1).
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const Redis = require('ioredis');

const MAX_BODY_BYTES = 4 * 1024 * 1024;  // boardhook's BOARDHOOK_MAX_BODY_BYTES default
const MAX_CHALLENGE_BYTES = 256;
const REDIS_TIMEOUT_MS = 2000;           // boardhook's BOARDHOOK_REDIS_TIMEOUT_MS default
const EVENT_TYPE = /^[A-Za-z0-9_.-]{1,100}$/;

const settings = {
  listen: process.env.PEER_LISTEN || '127.0.0.1:3000',
  redisUrl: process.env.PEER_REDIS_URL || 'redis://127.0.0.1:6379/0',
  prefix: process.env.PEER_QUEUE_PREFIX || 'peer',
  processes: Number(process.env.PEER_PROCESSES || 1),
};
const tokenText = process.env.PEER_VERIFY_TOKEN_FILE
  ? fs.readFileSync(process.env.PEER_VERIFY_TOKEN_FILE, 'utf8').trim()
  : (process.env.PEER_VERIFY_TOKEN || '');
// Compared as SHA-256 digests, so that timingSafeEqual sees equal lengths whatever is sent.
const tokenDigests = tokenText.split(',').filter(Boolean).map(sha256);
if (tokenDigests.length === 0) {
  console.error('peer: set PEER_VERIFY_TOKEN or PEER_VERIFY_TOKEN_FILE');
  process.exit(2);
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest();
}

function isValidToken(token) {
  const digest = sha256(token);
  let ok = false;
  for (const expected of tokenDigests) ok = crypto.timingSafeEqual(digest, expected) || ok;  // no early exit
  return ok && token.length > 0;
}

function send(res, status, contentType, body, extraHeaders) {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extraHeaders,
  });
  res.end(body);
}

function sendError(res, status, error, detail, extraHeaders) {
  send(res, status, 'application/json', JSON.stringify({ error, detail }), extraHeaders);
}

function verify(req, res) {
  const params = new URL(req.url, 'http://localhost').searchParams;
  const tokens = params.getAll('verifyToken');
  const challenges = params.getAll('challenge');
  if (tokens.length > 1 || challenges.length > 1) {
    return sendError(res, 400, 'duplicate_parameter', 'a parameter appears more than once');
  }
  if (!tokens[0]) return sendError(res, 403, 'missing_verify_token', 'verifyToken is missing');
  if (!isValidToken(tokens[0])) return sendError(res, 403, 'invalid_verify_token', 'verifyToken does not match');
  const challenge = challenges[0];
  if (!challenge) return sendError(res, 400, 'missing_challenge', 'challenge is missing');
  if (challenge.length > MAX_CHALLENGE_BYTES || !/^[\x20-\x7e]+$/.test(challenge)) {
    return sendError(res, 400, 'invalid_challenge', 'challenge must be 1-256 printable ASCII characters');
  }
  send(res, 200, 'text/plain; charset=utf-8', challenge);
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNonEmptyString = (value) => typeof value === 'string' && value.length > 0;

// Returns an error detail, or null when `body` is a valid envelope.
function envelopeProblem(body) {
  if (!isObject(body)) return 'the top level must be a JSON object';
  if (!isNonEmptyString(body.CommunityName)) return 'CommunityName must be a non-empty string';
  if (!isNonEmptyString(body.EventType)) return 'EventType must be a non-empty string';
  if (!EVENT_TYPE.test(body.EventType)) return 'EventType must be at most 100 characters of A-Z a-z 0-9 _ - .';
  if ('TicketId' in body && !Number.isSafeInteger(body.TicketId)) return 'TicketId must be an integer when present';
  if (!Array.isArray(body.Events)) return 'Events must be an array';
  const bad = body.Events.findIndex((item) => !isObject(item));
  if (bad >= 0) return `Events[${bad}] must be an object`;
  return null;
}

function ticketIdOf(body, item) {
  if (Number.isSafeInteger(body.TicketId)) return body.TicketId;
  if (isObject(item.Ticket) && Number.isSafeInteger(item.Ticket.Id)) return item.Ticket.Id;
  return null;
}

// The envelope of boardhook's README; `event` is spliced in as the serialised item, whose
// bytes the id is computed over (JSON.stringify of the whole object would serialise it twice).
function envelopeOf(body, item, index, delivery, receivedAt) {
  const event = JSON.stringify(item);
  const ticketId = ticketIdOf(body, item);
  const type = body.EventType;
  const id = crypto.createHash('sha256')
    .update(`${type.length}:${type}|${ticketId === null ? 'null' : ticketId}|`)
    .update(event)
    .digest('hex');
  const head = JSON.stringify({
    id, delivery, received_at: receivedAt, community: body.CommunityName, event_type: type,
    ticket_id: ticketId, index, count: body.Events.length,
  });
  return `${head.slice(0, -1)},"event":${event}}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function store(redis, req, res, raw) {
  if (raw.length === 0) return sendError(res, 400, 'empty_body', 'the request body is empty');
  let text;
  try {
    text = utf8.decode(raw);
  } catch {
    return sendError(res, 400, 'invalid_encoding', 'the body is not valid UTF-8');
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return sendError(res, 400, 'invalid_json', 'not a JSON document');
  }
  const problem = envelopeProblem(body);
  if (problem) return sendError(res, 400, 'invalid_envelope', problem);
  const count = body.Events.length;
  if (count === 0) return send(res, 200, 'application/json', '{"stored":0}');

  const delivery = req.headers['x-request-id'] || crypto.randomUUID();
  const receivedAt = new Date().toISOString();
  const envelopes = body.Events.map((item, index) => envelopeOf(body, item, index, delivery, receivedAt));
  const type = body.EventType;
  try {
    const replies = await redis.multi()
      .lpush(`${settings.prefix}:queue:${type}`, ...envelopes)
      .sadd(`${settings.prefix}:event-types`, type)
      .hincrby(`${settings.prefix}:counters`, `queued:${type}`, count)
      .exec();
    const failed = !replies || replies.some(([error]) => error);
    if (failed) throw new Error('EXEC was aborted');
  } catch (error) {
    console.error(`redis MULTI/EXEC failed: "${error.message}"; answered 503`);
    return sendError(res, 503, 'storage_unavailable', 'events could not be stored; try again later', { 'Retry-After': '5' });
  }
  send(res, 200, 'application/json', `{"stored":${count}}`);
}

function serve() {
  const redis = new Redis(settings.redisUrl, {
    enableOfflineQueue: false,       // Redis away: fail now (503) instead of queueing in memory
    maxRetriesPerRequest: 1,
    connectTimeout: REDIS_TIMEOUT_MS,
    commandTimeout: REDIS_TIMEOUT_MS,
  });
  redis.on('error', (error) => console.error(`redis: "${error.message}"`));

  const server = http.createServer((req, res) => {
    if (req.method === 'GET') return verify(req, res);
    if (req.method !== 'POST') {
      return sendError(res, 405, 'method_not_allowed', 'only GET (verification) and POST (events) are served',
        { Allow: 'GET, POST' });
    }
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return sendError(res, 413, 'body_too_large', 'the request body is larger than this endpoint accepts');
      store(redis, req, res, Buffer.concat(chunks, size)).catch((error) => {
        console.error(`request failed: "${error.message}"`);
        if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error');
      });
    });
  });
  // Longer than nginx's upstream keepalive_timeout (60 s), so nginx never reuses a connection
  // that Node is closing at that very moment.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const listen = settings.listen;
  if (listen.startsWith('/')) {
    if (cluster.isPrimary) fs.rmSync(listen, { force: true });
    server.listen(listen, () => {
      fs.chmodSync(listen, 0o666);  // nginx's workers run as another user
      console.log(`peer ${process.pid} listening on ${listen}`);
    });
  } else {
    const colon = listen.lastIndexOf(':');
    server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () => {
      console.log(`peer ${process.pid} listening on ${listen}`);
    });
  }
  process.on('SIGTERM', () => {
    server.close(() => redis.quit().finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 2000).unref();  // kept connections that stay busy
  });
}

if (settings.processes > 1 && cluster.isPrimary) {
  if (settings.listen.startsWith('/')) fs.rmSync(settings.listen, { force: true });
  for (let i = 0; i < settings.processes; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve();
}
