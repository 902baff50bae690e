// otto-mcp with the MCP Inspector's CLI mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { OTTO_MCP, serverEnv } from './common.mjs';

const inspector = fileURLToPath(new URL('./node_modules/.bin/inspector', import.meta.url));
const envArgs = Object.entries(serverEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

async function run(...args) {
  const { stdout } = await promisify(execFile)(inspector, ['--cli', ...envArgs, OTTO_MCP, ...args],
                                               { timeout: 60000, maxBuffer: 16 << 20 });
  return JSON.parse(stdout);
}

test('inspector: tools/list', async () => {
  const { tools } = await run('--method', 'tools/list');
  assert.ok(tools.length >= 8);
  assert.ok(tools.find((t) => t.name === 'fair_value').inputSchema.required.includes('year'));
});

test('inspector: tools/call', async () => {
  const r = await run('--method', 'tools/call', '--tool-name', 'fair_value',
                      '--tool-arg', 'make=Volkswagen', '--tool-arg', 'model=Passat B6', '--tool-arg', 'year=2008');
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.make, 'Volkswagen');
  assert.ok(r.structuredContent.estimate_eur > 0);
});

test('inspector: a bad argument comes back as isError', async () => {
  await assert.rejects(run('--method', 'tools/call', '--tool-name', 'fair_value', '--tool-arg', 'make=Audi'),
    (e) => /isError/.test(e.stdout) || /missing argument/.test(e.stdout));
});
