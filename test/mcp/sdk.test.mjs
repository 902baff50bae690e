// otto-mcp with the official TypeScript SDK client (Client + StdioClientTransport).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { OTTO_MCP, serverEnv } from './common.mjs';

let client;

before(async () => {
  client = new Client({ name: 'otto-sdk-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: OTTO_MCP, env: serverEnv, stderr: 'inherit' }));
});
after(async () => { await client.close(); });

test('initialize negotiates a protocol version and names the server', () => {
  assert.equal(client.getServerVersion().name, 'otto-mcp');
  assert.ok(client.getServerCapabilities().tools, 'the server offers tools');
});

test('ping', async () => {
  assert.deepEqual(await client.ping(), {});
});

const EXPECTED = ['ad_details', 'ask', 'compare_ads', 'depreciation', 'fair_value', 'fastest_selling', 'good_deals',
                  'market_overview', 'price_verdict', 'ratings', 'recommend', 'search_ads', 'similar_ads'];

test('tools/list lists the tools, read-only and closed-world', async () => {
  const { tools } = await client.listTools();
  for (const name of EXPECTED) assert.ok(tools.find((t) => t.name === name), `tool ${name} is listed`);
  for (const t of tools) {
    assert.ok(t.description.length > 40, `${t.name} is described`);
    assert.equal(t.inputSchema.type, 'object');
    assert.equal(t.outputSchema.type, 'object');
    assert.equal(t.annotations.readOnlyHint, true);
    assert.equal(t.annotations.openWorldHint, false);
  }
});

// The SDK checks structuredContent against each tool's outputSchema.
async function call(name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.notEqual(r.isError, true, `${name} failed: ${r.content?.[0]?.text}`);
  assert.equal(typeof r.structuredContent, 'object');
  assert.ok('as_of' in r.structuredContent, `${name} states as_of`);
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent, 'the text content is the same result');
  return r.structuredContent;
}

test('every tool answers', async () => {
  const fv = await call('fair_value', { make: 'Audi', model: 'A4', year: 2008, mileage_km: 200000, fuel: 'diesel' });
  assert.ok(fv.estimate_eur > 500 && fv.estimate_eur < 20000, `a 2008 A4 is worth ${fv.estimate_eur} EUR`);
  assert.ok(fv.range_80_eur[0] <= fv.estimate_eur && fv.estimate_eur <= fv.range_80_eur[1]);
  const dep = await call('depreciation', { limit: 5 });
  assert.ok(dep.ranking.length > 0 && dep.ranking.length <= 5);
  assert.equal(dep.truncated, true, 'more makes than the limit: truncated');
  const depMake = await call('depreciation', { make: 'Volkswagen' });
  assert.ok(depMake.annual_rate_pct > 0 && depMake.annual_rate_pct < 40);
  const fast = await call('fastest_selling', { level: 'make', min_sold: 1 });
  assert.ok(Array.isArray(fast.ranking));
  const verdict = await call('price_verdict', { make: 'Volkswagen', model: 'Golf', year: 2012, price_eur: 5000 });
  assert.ok(['great', 'good', 'fair', 'high', 'suspicious'].includes(verdict.verdict) && verdict.fair_value_eur > 0
            && verdict.price_eur === 5000 && verdict.reason.includes('5,000'), 'a verdict on a price, with its reason');
  const cheap = await call('price_verdict', { make: 'Volkswagen', model: 'Golf', year: 2012, price_eur: 100 });
  assert.equal(cheap.verdict, 'suspicious', 'a price far under the fair value is suspicious, not a great deal');
  // the comparables alone (no price model here) leave Otto less sure than its default 80%
  const deals = await call('good_deals', { since: '30 days', limit: 5, min_sure_pct: 50 });
  assert.ok(deals.deals.length > 0 && deals.deals.length <= 5, 'the real ads, dated this week, hold deals');
  for (const d of deals.deals) assert.ok(d.gap_pct >= 10 && d.price_eur < d.fair_value_eur && d.sure_pct >= 50);
  assert.equal(deals.min_sure_pct, 50, 'the answer says how sure its deals are');
  const found = await call('search_ads', { filters: { make: 'Volkswagen', fuel: 'diesel', price_max: 8000 }, sort: 'price_asc', limit: 3 });
  assert.equal(found.ads.length, 3);
  for (const a of found.ads) assert.ok(a.make === 'Volkswagen' && a.fuel === 'diesel' && a.price_eur <= 8000);
  assert.ok(found.ads[0].price_eur <= found.ads[1].price_eur, 'sorted by price');
  const ad = await call('ad_details', { ad_id: found.ads[0].ad_id });
  assert.equal(ad.ad_id, found.ads[0].ad_id);
  const cmp = await call('compare_ads', { ad_ids: found.ads.map((a) => a.ad_id) });
  assert.equal(cmp.ads.length, 3);
  assert.ok(cmp.comparison.find((f) => f.field === 'price_eur'));
  const ov = await call('market_overview', {});
  assert.ok(ov.n > 1000);
  const sim = await call('similar_ads', { ad_id: found.ads[0].ad_id, limit: 3, lang: 'en' });
  assert.ok(sim.similar.length > 0 && sim.similar.every((s) => s.ad_id !== found.ads[0].ad_id && s.why.length > 0));
  const rat = await call('ratings', { make: 'Volkswagen', model: 'Golf' });
  assert.equal(rat.count, 2, 'the fixture\'s two ratings of the Golf');
  assert.equal(rat.average, 3.5);
  const ask = await call('ask', { question: 'Koliko vredi Audi A4 iz 2008?' });
  assert.equal(ask.language, 'sr-Latn');
  assert.equal(ask.tool, 'fair_value');
  assert.match(ask.answer, /vredi oko [0-9.]+ €/);
});

test('a bad argument is a tool error the model can read', async () => {
  const r = await client.callTool({ name: 'fair_value', arguments: { make: 'Audi', model: 'A4', year: 'two thousand' } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /argument "year" must be an integer/);
  const r2 = await client.callTool({ name: 'search_ads', arguments: { limit: 100000 } });
  assert.equal(r2.isError, true);
  assert.match(r2.content[0].text, /from 1 to 100/);
});

test('an unknown tool is a protocol error', async () => {
  await assert.rejects(client.callTool({ name: 'drop_tables', arguments: {} }),
    (e) => e instanceof McpError && e.code === -32602);
});

test('recommend needs a signed-in user; with OTTO_MCP_USER_TOKEN it recommends for that user', async () => {
  const anon = await client.callTool({ name: 'recommend', arguments: {} });
  assert.equal(anon.isError, true);
  assert.match(anon.content[0].text, /no Otto user is signed in/);
  const signed = new Client({ name: 'otto-sdk-test-user', version: '1.0.0' });
  await signed.connect(new StdioClientTransport({
    command: OTTO_MCP, env: { ...serverEnv, OTTO_MCP_USER_TOKEN: process.env.OTTO_TEST_USER_TOKEN }, stderr: 'inherit' }));
  try {
    const r = await signed.callTool({ name: 'recommend', arguments: { limit: 5, lang: 'en' } });
    assert.notEqual(r.isError, true, r.content?.[0]?.text);
    assert.equal(r.structuredContent.cold_start, false, 'the fixture user has likes');
    assert.equal(r.structuredContent.recommendations.length, 5);
    for (const x of r.structuredContent.recommendations) assert.ok(x.why.length > 0);
  } finally {
    await signed.close();
  }
});
