// Times otto-web (see bench/web.sh): tools/call over HTTP beside the same
// calls over otto-mcp's stdio, the pages' API calls, the pages drawn in a real
// browser, and an alert's way from its commit to the browser.
//   node bench/web_driver.mjs URL OTTO_MCP CALLS TOKEN USER_ID
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const [URL_, OTTO_MCP, CALLS_, TOKEN, USER_ID] = process.argv.slice(2);
const CALLS = Number(CALLS_);
const require = createRequire(new URL('../test/web/package.json', import.meta.url));
const puppeteer = (await import(require.resolve('puppeteer-core'))).default;

// The calls of bench/mcp_driver.py (the synthetic market's names, Make0-39, Model0-24).
const CASES = JSON.parse(readFileSync(new URL('./tool_calls.json', import.meta.url), 'utf8'));

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))]; };
const med = (xs) => pct(xs, 0.5);
const f2 = (x) => x.toFixed(2).padStart(8);
const results = [];

// --- MCP over Streamable HTTP, and the same over stdio
async function httpSession() {
  const post = async (body, sid) => {
    const r = await fetch(URL_ + '/mcp', { method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...(sid ? { 'Mcp-Session-Id': sid } : {}) } });
    const text = await r.text();
    return { r, json: text ? JSON.parse(text) : null };
  };
  const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
  const sid = init.r.headers.get('mcp-session-id');
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
  let id = 1;
  return async (name, args) => {
    const t = performance.now();
    const { json } = await post({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: args } }, sid);
    const ms = performance.now() - t;
    if (json.error || json.result.isError) throw new Error(`${name}: ${JSON.stringify(json).slice(0, 300)}`);
    return ms;
  };
}

function stdioSession() {
  const proc = spawn(OTTO_MCP, [], { stdio: ['pipe', 'pipe', 'ignore'] });
  const lines = [];
  const waiting = [];
  createInterface({ input: proc.stdout }).on('line', (l) => { const w = waiting.shift(); if (w) w(l); else lines.push(l); });
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiting.push(r)));
  let id = 1;
  const rpc = async (method, params) => {
    const t = performance.now();
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }) + '\n');
    const reply = JSON.parse(await next());
    const ms = performance.now() - t;
    if (reply.error || reply.result?.isError) throw new Error(`${method}: ${JSON.stringify(reply).slice(0, 300)}`);
    return ms;
  };
  return {
    ready: rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } })
      .then(() => proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n')),
    call: (name, args) => rpc('tools/call', { name, arguments: args }),
    close: () => proc.stdin.end(),
  };
}

const http = await httpSession();
const stdio = stdioSession();
await stdio.ready;
console.log(`${'tools/call'.padEnd(16)} ${'arguments'.padEnd(50)} ${'calls'.padStart(5)} ${'http_p50'.padStart(8)} ${'http_p95'.padStart(8)} ${'req/s'.padStart(7)} ${'stdio_p95'.padStart(9)} ${'http/stdio'.padStart(10)} target`);
for (const [name, args] of CASES) {
  for (let i = 0; i < 5; i++) { await http(name, args); await stdio.call(name, args); }
  const h = [];
  const s = [];
  for (let i = 0; i < CALLS; i++) { h.push(await http(name, args)); s.push(await stdio.call(name, args)); }
  const p95 = pct(h, 0.95);
  const sp95 = pct(s, 0.95);
  const rps = 1000 / (h.reduce((a, b) => a + b, 0) / h.length);
  const target = name === 'ask' ? 'reported' : '< 30 ms p95';
  console.log(`${name.padEnd(16)} ${JSON.stringify(args).slice(0, 50).padEnd(50)} ${String(CALLS).padStart(5)} ${f2(med(h))} ${f2(p95)} ${rps.toFixed(0).padStart(7)} ${sp95.toFixed(2).padStart(9)} ${(p95 / sp95).toFixed(2).padStart(10)} ${target}`);
  results.push(`RESULT|web|tools/call ${name} ${JSON.stringify(args).slice(0, 30)} p95|${p95.toFixed(2)}|ms|${name === 'ask' ? '-' : '< 30'}|${sp95.toFixed(2)} (stdio)|${(p95 / sp95).toFixed(2)}`);
}
stdio.close();

// Throughput: 8 clients at once, each its own session, one tool call after another.
{
  const clients = await Promise.all(Array.from({ length: 8 }, () => httpSession()));
  const [name, args] = CASES[0];
  const t0 = performance.now();
  const lat = [];
  await Promise.all(clients.map(async (c) => { for (let i = 0; i < CALLS; i++) lat.push(await c(name, args)); }));
  const secs = (performance.now() - t0) / 1000;
  console.log(`\n8 concurrent MCP clients, ${name}: ${(8 * CALLS / secs).toFixed(0)} calls/s, p95 ${pct(lat, 0.95).toFixed(2)} ms (2 cores)`);
  results.push(`RESULT|web|tools/call fair_value, 8 concurrent clients|${(8 * CALLS / secs).toFixed(0)}|calls/s|-|-|-`);
}

// --- The pages' API calls, and the pages drawn in chromium
const cookieRes = await fetch(URL_ + '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
const cookie = cookieRes.headers.get('set-cookie').split(';')[0];
async function timeGet(path) {
  const t = performance.now();
  const r = await fetch(URL_ + path, { headers: { Cookie: cookie } });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return performance.now() - t;
}
const PAGES = [
  ['search page: /api/search', '/api/search?' + new URLSearchParams({ filters: JSON.stringify({ make: 'Make7', price_max: 8000, fuel: 'diesel' }), sort: 'price_asc', limit: 20 })],
  ['ad page: /api/ad', '/api/ad?id=4242'],
  ['ad page: /api/verdict', '/api/verdict?id=4242'],
  ['ad page: /api/similar', '/api/similar?id=4242'],
  ['market page: /api/market', '/api/market'],
  ['page shell: /search', '/search'],
];
console.log(`\n${'page request'.padEnd(30)} ${'calls'.padStart(5)} ${'p50_ms'.padStart(8)} ${'p95_ms'.padStart(8)} ${'req/s'.padStart(7)} target`);
for (const [label, path] of PAGES) {
  for (let i = 0; i < 5; i++) await timeGet(path);
  const ms = [];
  for (let i = 0; i < CALLS; i++) ms.push(await timeGet(path));
  const p95 = pct(ms, 0.95);
  console.log(`${label.padEnd(30)} ${String(CALLS).padStart(5)} ${f2(med(ms))} ${f2(p95)} ${(1000 / (ms.reduce((a, b) => a + b) / ms.length)).toFixed(0).padStart(7)} ${label.includes('market') ? 'reported' : '< 30 ms p95'}`);
  results.push(`RESULT|web|${label} p95|${p95.toFixed(2)}|ms|${label.includes('market') ? '-' : '< 30'}|-|-`);
}

const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const page = await browser.newPage();
await page.setCookie({ name: 'otto_session', value: cookie.split('=')[1], url: URL_ });
const drawn = async (path) => {
  const t = performance.now();
  await page.goto(URL_ + path, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('body[data-ready]');
  return performance.now() - t;
};
console.log(`\n${'page in chromium (to drawn)'.padEnd(30)} ${'loads'.padStart(5)} ${'p50_ms'.padStart(8)} ${'p95_ms'.padStart(8)}`);
for (const [label, path] of [['search', '/search?make=Make7&price_max=8000&fuel=diesel&sort=price_asc'], ['ad', '/ad/4242']]) {
  for (let i = 0; i < 3; i++) await drawn(path);
  const ms = [];
  for (let i = 0; i < 30; i++) ms.push(await drawn(path));
  console.log(`${label.padEnd(30)} ${'30'.padStart(5)} ${f2(med(ms))} ${f2(pct(ms, 0.95))}`);
  results.push(`RESULT|web|${label} page drawn in chromium p95|${pct(ms, 0.95).toFixed(2)}|ms|-|-|-`);
}

// --- An alert from its commit to the page: the page's alert list watched in the page's own clock.
await drawn('/saved');
await page.evaluate(() => {
  window.__got = [];
  new MutationObserver(() => window.__got.push(Date.now())).observe(document.getElementById('alerts'), { childList: true });
});
const delays = [];
for (let i = 0; i < 20; i++) {
  const committed = Number(execFileSync('psql', ['-qXtA', '-v', 'ON_ERROR_STOP=1', '-c',
    `INSERT INTO otto.alert (user_id, ad_id, reason, event_id) VALUES (${USER_ID}, ${50000 + i}, 'new', 0) RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::bigint`],
    { encoding: 'utf8' }).trim().split('\n')[0]);
  await page.waitForFunction((n) => window.__got.length > n, { timeout: 10000 }, i);
  delays.push((await page.evaluate((n) => window.__got[n], i)) - committed);
}
await browser.close();
console.log(`\nalert, commit to the browser's page: p50 ${med(delays)} ms, p95 ${pct(delays, 0.95)} ms, max ${Math.max(...delays)} ms over 20 (target < 1000 ms)`);
results.push(`RESULT|web|alert commit to browser p95|${pct(delays, 0.95)}|ms|< 1000|-|-`);
console.log(results.join('\n'));
