// otto-mcp fed raw lines: malformed input gets the right JSON-RPC answer and the server keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawServer } from './common.mjs';

const req = (id, method, params) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

test('requests before initialize are refused, ping is not', async () => {
  const s = new RawServer();
  const r = await s.request(req(1, 'tools/list'));
  assert.equal(r.id, 1);
  assert.equal(r.error.code, -32600);
  assert.deepEqual((await s.request(req(2, 'ping'))).result, {});
  assert.deepEqual(await s.close(), { code: 0, signal: null }, 'exits cleanly on EOF');
});

test('protocol versions are negotiated', async () => {
  for (const v of ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']) {
    const s = new RawServer();
    assert.equal((await s.initialize(v)).result.protocolVersion, v);
    await s.close();
  }
  const s = new RawServer();
  assert.equal((await s.initialize('1999-01-01')).result.protocolVersion, '2025-11-25', 'an unknown version gets the newest');
  await s.close();
});

test('malformed input: right answers, and the server keeps going', async () => {
  const s = new RawServer();
  await s.initialize();
  assert.equal(await s.silent(), true, 'a notification gets no reply');

  s.send('{"jsonrpc": "2.0", "id": 7, "method": \n');
  let r = await s.next();
  assert.equal(r.error.code, -32700);
  assert.equal(r.id, null, 'a parse error has id null');

  s.send(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":8,"method":"ping","params":{"x":"'),
                        Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}\n')]));
  r = await s.next();
  assert.equal(r.error.code, -32700, 'invalid UTF-8 is a parse error');

  r = await s.request(req(9, 'resources/list'));
  assert.deepEqual([r.id, r.error.code], [9, -32601], 'unknown method');

  r = await s.request({ jsonrpc: '2.0', id: { a: 1 }, method: 'ping' });
  assert.deepEqual([r.id, r.error.code], [null, -32600], 'an object id is an invalid request');

  r = await s.request([req(10, 'ping')]);
  assert.equal(r.error.code, -32600, 'batches are refused');

  r = await s.request({ id: 11, method: 'ping' });
  assert.deepEqual([r.id, r.error.code], [11, -32600], 'jsonrpc 2.0 is required');

  r = await s.request(req(0, 'ping'));
  assert.equal(r.id, 0, 'id 0 is echoed');
  assert.ok('result' in r);
  r = await s.request(req('x-0', 'ping'));
  assert.equal(r.id, 'x-0', 'string ids are echoed');

  // a 10 MB line: a valid request, answered (the argument is too long for the schema)
  const big = 'A'.repeat(10 << 20);
  r = await s.request(req(12, 'tools/call', { name: 'fair_value', arguments: { make: big, model: 'A4', year: 2008 } }));
  assert.equal(r.id, 12);
  assert.equal(r.result.isError, true);
  assert.match(r.result.content[0].text, /argument "make" must be a string/);
  // and 10 MB of garbage on one line
  s.send('x'.repeat(10 << 20) + '\n');
  r = await s.next();
  assert.equal(r.error.code, -32700);
  // more than 16 MB: refused without being buffered
  s.send('{"a":"' + 'y'.repeat(20 << 20) + '"}\n');
  r = await s.next();
  assert.equal(r.error.code, -32600);
  assert.match(r.error.message, /too large/);

  r = await s.request(req(13, 'tools/call', { name: 'no_such_tool', arguments: {} }));
  assert.deepEqual([r.id, r.error.code], [13, -32602], 'unknown tool');
  r = await s.request(req(14, 'tools/call', { arguments: {} }));
  assert.deepEqual([r.id, r.error.code], [14, -32602], 'a call without a name');

  // what a caller sent comes back short and cut at a character boundary, never a lost reply
  r = await s.request(req(16, 'č'.repeat(150) + 'x'));
  assert.deepEqual([r.id, r.error.code], [16, -32601], 'a long multibyte method name is answered');
  assert.ok(r.error.message.length < 256 && !r.error.message.includes('\ufffd'), 'shortly, with whole characters');
  r = await s.request(req(17, 'tools/call', { name: 'ž'.repeat(1 << 20), arguments: {} }));
  assert.deepEqual([r.id, r.error.code], [17, -32602], 'an unknown tool with a 2 MB name');
  assert.ok(JSON.stringify(r).length < 1024, 'gets a reply of under 1 kB');
  r = await s.request(req(18, 'tools/call', { name: 'search_ads', arguments: { ['k'.repeat(1 << 20)]: 1 } }));
  assert.equal(r.result.isError, true, 'an unknown argument with a 1 MB name is a tool error');
  assert.ok(r.result.content[0].text.length < 2048, 'whose text is at most a page');
  r = await s.request(req(19, 'tools/call', { name: 'search_ads', arguments: { limit: 5 } }));
  assert.equal(r.result.structuredContent.limit, 5, 'search_ads reports the limit asked for');

  r = await s.request(req(15, 'tools/call', { name: 'market_overview', arguments: {} }));
  assert.equal(r.result.isError, false, 'after all that, tools still work');
  assert.ok(r.result.structuredContent.n > 0);
  assert.deepEqual(await s.close(), { code: 0, signal: null });
});

test('SIGTERM stops it cleanly', async () => {
  const s = new RawServer();
  await s.initialize();
  s.proc.kill('SIGTERM');
  const { code } = await s.exited;
  assert.equal(code, 0);
});

test('it logs to stderr only: every stdout line is a JSON-RPC message', async () => {
  const s = new RawServer();
  await s.initialize();
  await s.request(req(1, 'tools/list'));
  await s.close();
  assert.match(s.stderr, /connected to database/);
});
