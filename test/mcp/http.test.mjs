// otto-web's /mcp (Streamable HTTP) with the official SDK client and the
// Inspector CLI, and the same tools as otto-mcp answers on stdio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { OTTO_MCP, serverEnv, startWeb } from './common.mjs';

let web;
let anon;
let stdio;

async function connect(headers) {
  const client = new Client({ name: 'otto-http-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(web.url + '/mcp'), { requestInit: { headers: headers || {} } }));
  return client;
}

before(async () => {
  web = await startWeb();
  anon = await connect();
  stdio = new Client({ name: 'otto-http-test-stdio', version: '1.0.0' });
  await stdio.connect(new StdioClientTransport({ command: OTTO_MCP, env: serverEnv, stderr: 'inherit' }));
});
after(async () => {
  await anon?.close();
  await stdio?.close();
  await web?.stop();
});

test('http: initialize opens a session and names the server', () => {
  assert.equal(anon.getServerVersion().name, 'otto-web');
  assert.ok(anon.getServerCapabilities().tools);
  assert.match(anon.transport.sessionId, /^[A-Za-z0-9_-]{43}$/, 'a session id of 256 random bits');
});

test('http: the same tools as otto-mcp on stdio, through the one tool layer', async () => {
  const overHttp = (await anon.listTools()).tools;
  const overStdio = (await stdio.listTools()).tools;
  assert.deepEqual(overHttp.map((t) => t.name).sort(), overStdio.map((t) => t.name).sort());
  assert.ok(overHttp.length >= 13);
});

// one call of each tool, each answer checked against its outputSchema by the SDK
const CALLS = {
  ad_details: null, // filled from search_ads
  ask: { question: 'koliko vredi golf 7 iz 2016' },
  compare_ads: null,
  depreciation: { make: 'Volkswagen' },
  fair_value: { make: 'Audi', model: 'A4', year: 2008, mileage_km: 200000 },
  fastest_selling: { level: 'make', min_sold: 1 },
  good_deals: { since: '30 days', limit: 5, min_sure_pct: 50 },
  market_overview: {},
  price_verdict: { make: 'Volkswagen', model: 'Golf', year: 2012, price_eur: 5000 },
  ratings: { make: 'Volkswagen', model: 'Golf' },
  search_ads: { filters: { make: 'Volkswagen' }, sort: 'price_asc', limit: 3 },
  similar_ads: null,
};

test('http: every tool answers, as over stdio', async () => {
  const { tools } = await anon.listTools();
  const found = await anon.callTool({ name: 'search_ads', arguments: CALLS.search_ads });
  const ids = found.structuredContent.ads.map((a) => a.ad_id);
  CALLS.ad_details = { ad_id: ids[0] };
  CALLS.compare_ads = { ad_ids: ids };
  CALLS.similar_ads = { ad_id: ids[0] };
  for (const t of tools) {
    if (t.name === 'recommend') continue; // a signed-in user's: below
    const args = CALLS[t.name];
    assert.ok(args, `a call for ${t.name}`);
    const r = await anon.callTool({ name: t.name, arguments: args });
    assert.notEqual(r.isError, true, `${t.name}: ${r.content?.[0]?.text}`);
    assert.ok('as_of' in r.structuredContent, `${t.name} states as_of`);
    if (t.name !== 'ask') {
      const s = await stdio.callTool({ name: t.name, arguments: args });
      // since and some as_of are now(), a few ms apart
      const { since: _a, as_of: _c, ...overHttp } = r.structuredContent;
      const { since: _b, as_of: _d, ...overStdio } = s.structuredContent;
      assert.deepEqual(overHttp, overStdio, `${t.name}: the same answer over HTTP and stdio`);
    }
  }
});

test('http: recommend needs a user; a bearer token signs one in', async () => {
  const r = await anon.callTool({ name: 'recommend', arguments: {} });
  assert.equal(r.isError, true, 'no user without a token');
  const user = await connect({ Authorization: 'Bearer ' + process.env.OTTO_TEST_USER_TOKEN });
  try {
    const rec = await user.callTool({ name: 'recommend', arguments: { limit: 5 } });
    assert.notEqual(rec.isError, true, rec.content?.[0]?.text);
    assert.equal(rec.structuredContent.cold_start, false, 'the user who liked Volkswagens gets recommendations from them');
    assert.ok(rec.structuredContent.recommendations.length > 0);
  } finally {
    await user.close();
  }
});

test('http: an unknown token is refused at initialize', async () => {
  await assert.rejects(connect({ Authorization: 'Bearer not-a-token' }), /401|Unauthorized/);
});

test('http: bad arguments come back as isError, an unknown tool as a protocol error', async () => {
  const r = await anon.callTool({ name: 'fair_value', arguments: { make: 'Audi' } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /year/);
  await assert.rejects(anon.callTool({ name: 'drop_table', arguments: {} }), /Unknown tool/);
});

async function raw(body, headers = {}) {
  const r = await fetch(web.url + '/mcp', {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
  });
  return { status: r.status, headers: r.headers, body: await r.text() };
}
const LIST = { jsonrpc: '2.0', id: 7, method: 'tools/list' };

test('http: a request without a session, or with an unknown one, is refused', async () => {
  assert.equal((await raw(LIST)).status, 400);
  const r = await raw(LIST, { 'Mcp-Session-Id': 'x'.repeat(43) });
  assert.equal(r.status, 404, 'an unknown session: 404, so the client initializes again');
  assert.match(JSON.parse(r.body).error.message, /Session not found/);
});

test('http: a session is its token\'s: another bearer cannot use it', async () => {
  const r = await raw(LIST, { 'Mcp-Session-Id': anon.transport.sessionId, Authorization: 'Bearer ' + process.env.OTTO_TEST_USER_TOKEN });
  assert.equal(r.status, 403);
});

test('http: a foreign Origin is refused (DNS rebinding), a known one served', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
  assert.equal((await raw(init, { Origin: 'http://evil.example' })).status, 403);
  assert.equal((await raw(init, { Origin: web.url })).status, 200);
  // fetch may not set Host: node:http can
  const status = await new Promise((resolve, reject) => {
    const req = http.request(web.url + '/mcp', { method: 'POST', headers: { Host: 'evil.example', 'Content-Type': 'application/json' } },
      (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end(JSON.stringify(init));
  });
  assert.equal(status, 421, 'a Host this service does not answer to');
});

test('http: notifications get 202, GET is 405, DELETE ends the session', async () => {
  const c = await connect();
  const sid = c.transport.sessionId;
  assert.equal((await raw({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid })).status, 202);
  assert.equal((await fetch(web.url + '/mcp', { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } })).status, 405);
  assert.equal((await fetch(web.url + '/mcp', { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } })).status, 200);
  assert.equal((await raw(LIST, { 'Mcp-Session-Id': sid })).status, 404, 'an ended session is gone');
});

test('http: malformed JSON and batches are JSON-RPC errors', async () => {
  const bad = await raw('{"jsonrpc": "2.0", "id": 1, "method": ');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error.code, -32700);
  const batch = await raw([LIST, LIST], { 'Mcp-Session-Id': anon.transport.sessionId });
  assert.equal(JSON.parse(batch.body).error.code, -32600);
  assert.equal((await raw(LIST, { 'Mcp-Session-Id': anon.transport.sessionId, 'MCP-Protocol-Version': '1999-01-01' })).status, 400);
});

const inspector = fileURLToPath(new URL('./node_modules/.bin/inspector', import.meta.url));
async function inspect(...args) {
  const { stdout } = await promisify(execFile)(inspector, ['--cli', web.url + '/mcp', '--transport', 'http', ...args],
                                               { timeout: 60000, maxBuffer: 16 << 20 });
  return JSON.parse(stdout);
}

test('http: the Inspector CLI lists and calls the tools over HTTP', async () => {
  const { tools } = await inspect('--method', 'tools/list');
  assert.ok(tools.find((t) => t.name === 'price_verdict'));
  const r = await inspect('--method', 'tools/call', '--tool-name', 'fair_value', '--tool-arg', 'make=Volkswagen',
                          '--tool-arg', 'model=Golf', '--tool-arg', 'year=2010');
  assert.equal(r.isError, false);
  assert.ok(r.structuredContent.estimate_eur > 0);
});
