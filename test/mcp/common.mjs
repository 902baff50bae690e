// Shared by the otto-mcp tests: where the server is and how to start it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const OTTO_MCP = process.env.OTTO_MCP ?? 'otto-mcp';

// The server's environment: the libpq settings of the test cluster.
export const serverEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith('PG') || k === 'DATABASE_URL' || k === 'PATH'));

// A server driven by hand, one raw line at a time; replies are parsed JSON.
export class RawServer {
  constructor() {
    this.proc = spawn(OTTO_MCP, [], { env: serverEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    this.replies = [];
    this.waiting = [];
    this.stderr = '';
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line);    // every reply line must be JSON
      const w = this.waiting.shift();
      if (w) w(msg); else this.replies.push(msg);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
  }
  send(data) { this.proc.stdin.write(data); }
  request(obj) { this.send(JSON.stringify(obj) + '\n'); return this.next(); }
  next(ms = 10000) {
    if (this.replies.length) return Promise.resolve(this.replies.shift());
    return new Promise((resolve, reject) => {
      const w = (m) => { clearTimeout(t); resolve(m); };
      const t = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        reject(new Error('no reply within ' + ms + ' ms; stderr: ' + this.stderr));
      }, ms);
      this.waiting.push(w);
    });
  }
  // true when nothing arrives within ms (a notification gets no reply)
  async silent(ms = 500) {
    try { await this.next(ms); return false; } catch { return true; }
  }
  async initialize(version = '2025-11-25') {
    const r = await this.request({ jsonrpc: '2.0', id: 'init', method: 'initialize',
      params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw-test', version: '1' } } });
    this.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    return r;
  }
  close() { this.proc.stdin.end(); return this.exited; }
}

export const OTTO_WEB = process.env.OTTO_WEB ?? 'otto-web';

// otto-web on a free port of this machine, against the test cluster; ready when /healthz says so.
export async function startWeb(env = {}) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const proc = spawn(OTTO_WEB, [], { env: { ...serverEnv, OTTO_WEB_PORT: String(port), ...env }, stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url + '/healthz')).ok) break;
    } catch { /* not listening yet */ }
    if (i > 100 || proc.exitCode !== null) throw new Error('otto-web did not start: ' + stderr);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, port, proc, exited,
    get stderr() { return stderr; },
    async stop() { proc.kill('SIGTERM'); return exited; },
  };
}
