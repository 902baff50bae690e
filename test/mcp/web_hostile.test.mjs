// otto-web under hostile requests: each gets a clear error, nothing is
// written, nobody reads another user's rows, and the service stays up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { serverEnv, startWeb } from './common.mjs';

let web;
const psql = (sql) => execFileSync('psql', ['-qXtA', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: serverEnv, encoding: 'utf8' }).trim();

// a signed-in browser: its cookie and CSRF token
async function signIn(token) {
  const r = await fetch(web.url + '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
  assert.equal(r.status, 200);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  assert.match(r.headers.get('set-cookie'), /HttpOnly; SameSite=Strict/);
  return { cookie, csrf: (await r.json()).csrf };
}
async function call(who, path, body, extra = {}) {
  const r = await fetch(web.url + path, {
    method: body ? 'POST' : 'GET',
    headers: { 'Content-Type': 'application/json', Cookie: who?.cookie ?? '', 'X-CSRF-Token': who?.csrf ?? '', ...extra },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

// Raw bytes on a socket: what came back before the server closed it (or ms passed).
function rawSocket(data, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(web.port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(data);
    setTimeout(() => { s.destroy(); resolve(got); }, ms);
  });
}

let a;
let b;
let aSearch;
before(async () => {
  web = await startWeb({ OTTO_WEB_MAX_BODY: '65536' });
  const ta = psql(`SELECT token FROM otto.user_add('hostile-a-${process.pid}', 'en')`);
  const tb = psql(`SELECT token FROM otto.user_add('hostile-b-${process.pid}', 'en')`);
  a = await signIn(ta);
  b = await signIn(tb);
  aSearch = (await call(a, '/api/searches/save', { name: 'a-only', filters: { make: 'Audi' } })).body.search_id;
  assert.ok(aSearch > 0);
});
after(async () => {
  const { code, signal } = await web.stop();
  assert.equal(signal ?? code, 0, 'otto-web stopped cleanly: ' + web.stderr.slice(-500));
});

test('web hostile: oversized bodies are refused with 413', async () => {
  const big = 'x'.repeat(200000);
  const r = await fetch(web.url + '/mcp', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: big });
  assert.equal(r.status, 413);
  // chunked, no length given: counted as it comes
  const chunked = await rawSocket(`POST /api/like HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nContent-Type: application/json\r\n` +
    `Transfer-Encoding: chunked\r\n\r\n${(100000).toString(16)}\r\n${'y'.repeat(100000)}\r\n0\r\n\r\n`);
  assert.match(chunked, /^HTTP\/1\.1 413/);
});

test('web hostile: malformed request lines and headers get 400, not a crash', async () => {
  assert.match(await rawSocket('GARBAGE\r\n\r\n'), /^$|^HTTP\/1\.1 400/, 'not HTTP: closed (or 400)');
  assert.match(await rawSocket(`GET / HTTP/9.9\r\nHost: 127.0.0.1:${web.port}\r\n\r\n`), /^HTTP\/1\.1 505/);
  assert.match(await rawSocket(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nBad Header Line\r\n\r\n`), /^HTTP\/1\.1 400/);
  const huge = await rawSocket(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nX-Big: ${'z'.repeat(100000)}\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 (431|413|400)/, 'headers over the memory limit');
  assert.equal((await fetch(web.url + '/healthz')).status, 200);
});

test('web hostile: a slow client is dropped, and others are served meanwhile', async () => {
  // a server of its own with a 2 s timeout (idle keep-alive connections of the other tests would race it)
  const short = await startWeb({ OTTO_WEB_TIMEOUT: '2' });
  const started = Date.now();
  const slow = new Promise((resolve) => {
    const s = net.connect(short.port, '127.0.0.1');
    s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => s.write('X-A: b\r\n'), 2500);   // slower than the 2 s timeout
    s.on('close', () => { clearInterval(drip); resolve(Date.now() - started); });
    s.on('error', () => {});
  });
  const t0 = Date.now();
  assert.equal((await fetch(short.url + '/healthz', { headers: { Connection: 'close' } })).status, 200);
  assert.ok(Date.now() - t0 < 1000, 'served while a slow client holds a connection');
  const closedAfter = await slow;
  await short.stop();
  assert.ok(closedAfter < 8000, `the slow client was dropped after ${closedAfter} ms`);
});

test('web hostile: malformed JSON and unknown filters are clear 400s', async () => {
  const r = await fetch(web.url + '/api/like', { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: a.cookie, 'X-CSRF-Token': a.csrf }, body: '{"ad_id": ' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /JSON object/);
  const s = await call(null, '/api/search?filters=' + encodeURIComponent('{"make": "x\'; DROP TABLE otto.ad; --", "evil": 1}'));
  assert.equal(s.status, 400);
  assert.match(s.body.error, /unknown filter "evil"/);
  const n = await call(null, '/api/ad?id=' + encodeURIComponent('1; DELETE FROM otto.ad'));
  assert.equal(n.status, 400);
  assert.ok(Number(psql('SELECT count(*) FROM otto.ad')) > 10000, 'the ads are all there');
});

test('web hostile: a change without the CSRF token, or from a foreign page, writes nothing', async () => {
  const before = psql('SELECT count(*) FROM otto.user_event');
  const adId = Number(psql("SELECT min(ad_id) FROM otto.ad WHERE state = 'live'"));
  assert.equal((await call({ cookie: a.cookie }, '/api/like', { ad_id: adId })).status, 403, 'no token');
  assert.equal((await call({ cookie: a.cookie, csrf: b.csrf }, '/api/like', { ad_id: adId })).status, 403, 'another session\'s token');
  assert.equal((await call(a, '/api/like', { ad_id: adId }, { Origin: 'http://evil.example' })).status, 403, 'a foreign Origin');
  const form = await fetch(web.url + '/api/like', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: a.cookie }, body: 'ad_id=1' });
  assert.equal(form.status, 415, 'a cross-site form cannot post JSON');
  assert.equal(psql('SELECT count(*) FROM otto.user_event'), before, 'nothing written');
  assert.equal((await call(a, '/api/like', { ad_id: adId })).status, 200, 'with its token the same like is taken');
});

test('web hostile: nobody reads or changes another user\'s rows', async () => {
  const del = await call(b, '/api/searches/delete', { search_id: aSearch });
  assert.equal(del.status, 200);
  assert.equal(del.body.deleted, 0, "b cannot delete a's search");
  assert.equal(psql(`SELECT count(*) FROM otto.saved_search WHERE search_id = ${aSearch}`), '1');
  const mine = await call(b, '/api/searches');
  assert.deepEqual(mine.body.searches, [], "b sees none of a's searches");
  assert.equal((await call(null, '/api/searches')).status, 401, 'nobody signed in: 401');
  assert.equal((await call(null, '/api/likes')).status, 401);
  const stream = await fetch(web.url + '/api/alerts/stream');
  assert.equal(stream.status, 401, 'no alert stream without a sign-in');
  assert.equal((await call(a, '/api/session')).body.user_id, Number(psql(`SELECT user_id FROM otto.app_user WHERE name = 'hostile-a-${process.pid}'`)));
});

test('web hostile: a sign-in keeps at most 4 alert streams, the newest', async () => {
  const ended = [];
  const streams = [];
  for (let i = 0; i < 6; i++) {
    const ac = new AbortController();
    const r = await fetch(web.url + '/api/alerts/stream?after=999999999', { headers: { Cookie: a.cookie }, signal: ac.signal });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const reader = r.body.getReader();
    await reader.read();    // "retry: 3000", sent at once
    streams.push(ac);
    (async () => { try { while (!(await reader.read()).done); ended.push(i); } catch { /* aborted */ } })();
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(ended.sort(), [0, 1], 'the two oldest streams were ended');
  for (const ac of streams) ac.abort();
});

test('web hostile: a forged or ended session is nobody', async () => {
  assert.equal((await call({ cookie: 'otto_session=' + 'A'.repeat(43) }, '/api/session')).body.signed_in, false);
  const c = await signIn(psql(`SELECT token FROM otto.user_add('hostile-c-${process.pid}', 'en')`));
  assert.equal((await call(c, '/api/logout', {})).status, 200);
  assert.equal((await call(c, '/api/likes')).status, 401, 'signed out: the cookie is worth nothing');
  const bad = await call(null, '/api/login', { token: 'nope' });
  assert.equal(bad.status, 401);
});

test('web hostile: pages carry a Content-Security-Policy and no file outside the root is served', async () => {
  const r = await fetch(web.url + '/search');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  for (const p of ['/static/../../../../etc/passwd', '/static/%2e%2e/%2e%2e/etc/passwd', '/static/.htaccess', '/static/otto-web']) {
    assert.equal((await fetch(web.url + p)).status, 404, p);
  }
  const svg = await (await fetch(web.url + '/chart.svg?title=' + encodeURIComponent('<script>alert(1)</script>') + '&label=%3Cb%3E&value=1')).text();
  assert.ok(!svg.includes('<script>') && svg.includes('&lt;script&gt;'), 'chart text is escaped');
});

test('web hostile: a client over its rate gets 429, others do not', async () => {
  const rated = await startWeb({ OTTO_WEB_RATE: '5' });
  try {
    const codes = [];
    for (let i = 0; i < 30; i++) codes.push((await fetch(rated.url + '/healthz')).status);
    assert.ok(codes.includes(429), 'over 5/s (a burst of 10) the client is slowed');
    assert.equal(codes[0], 200);
    const r = await fetch(rated.url + '/healthz');
    assert.ok([200, 429].includes(r.status));
  } finally {
    await rated.stop();
  }
  assert.equal((await fetch(web.url + '/healthz')).status, 200, 'the service is up after all of it');
});

// A small fuzzer: random requests from a fixed seed (every route, junk paths,
// mutated query strings, headers and bodies): never a 5xx, never a crash.
test('web hostile: 600 random requests, no 5xx, the service stays up', async () => {
  let seed = 20261203;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const pick = (xs) => xs[rnd(xs.length)];
  const junk = () => Array.from({ length: rnd(40) }, () => String.fromCharCode(rnd(3) ? 32 + rnd(95) : rnd(0x3000))).join('');
  const paths = ['/api/search', '/api/ad', '/api/verdict', '/api/similar', '/api/compare', '/api/share', '/api/ask', '/api/market',
                 '/api/labels', '/api/like', '/api/unlike', '/api/view', '/api/searches/save', '/api/searches/delete', '/api/alerts/read',
                 '/api/login', '/api/logout', '/api/session', '/mcp', '/chart.svg', '/static/app.js', '/ad/1', '/nope'];
  const values = [() => junk(), () => String(rnd(1e9) - 5e8), () => '{"make": ' + junk(), () => JSON.stringify({ [junk()]: junk() }),
                  () => '[1,2,' + rnd(99) + ']', () => '9'.repeat(rnd(40)), () => '', () => 'null'];
  const codes = {};
  for (let i = 0; i < 600; i++) {
    const path = rnd(10) ? pick(paths) : '/' + encodeURIComponent(junk());
    const q = new URLSearchParams();
    for (let k = rnd(4); k > 0; k--) q.append(pick(['id', 'ids', 'filters', 'sort', 'limit', 'offset', 'q', 'lang', 'label', 'value', 'title', 'channel', junk()]), pick(values)());
    const post = rnd(2) === 1;
    const who = pick([null, a, b, { cookie: 'otto_session=' + junk() }]);
    const body = post ? pick([() => JSON.stringify({ ad_id: pick(values)(), search_id: pick(values)(), name: junk(), filters: pick(values)(), upto: pick(values)(), token: junk() }), ...values])() : undefined;
    let status;
    try {
      const r = await fetch(web.url + path + '?' + q, {
        method: post ? 'POST' : 'GET', body,
        headers: { 'Content-Type': pick(['application/json', 'text/plain', 'application/json; charset=utf-8']), Cookie: who?.cookie ?? '',
                   'X-CSRF-Token': who?.csrf ?? '', Accept: 'application/json, text/event-stream' },
      });
      status = r.status;
      await r.arrayBuffer();
    } catch (e) {
      status = 'error: ' + e.message;
    }
    codes[status] = (codes[status] ?? 0) + 1;
    assert.ok(typeof status === 'number' && status < 500, `${post ? 'POST' : 'GET'} ${path}?${q}: ${status}`);
  }
  assert.equal((await fetch(web.url + '/healthz')).status, 200, 'up after ' + JSON.stringify(codes));
});
