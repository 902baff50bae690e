#!/usr/bin/env python3
"""Times tools/call round trips through otto-mcp (see bench/mcp.sh)."""
import json
import os
import statistics
import subprocess
import sys
import time

OTTO_MCP, CALLS = sys.argv[1], int(sys.argv[2])

# One call per tool, with the synthetic market's names (Make0-39, Model0-24),
# shared with bench/web_driver.mjs.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_calls.json"), encoding="utf-8") as f:
    CASES = [tuple(c) for c in json.load(f)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def main():
    proc = subprocess.Popen([OTTO_MCP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    next_id = [0]

    def rpc(method, params=None):
        next_id[0] += 1
        msg = {"jsonrpc": "2.0", "id": next_id[0], "method": method}
        if params is not None:
            msg["params"] = params
        t = time.perf_counter()
        proc.stdin.write(json.dumps(msg) + "\n")
        reply = json.loads(proc.stdout.readline())
        ms = (time.perf_counter() - t) * 1000
        if "error" in reply or reply.get("result", {}).get("isError"):
            sys.exit(f"{method} {params} failed: {reply}")
        return ms, reply

    rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")

    # the baseline: the same calls timed inside the database, one statement each
    sql = ["CREATE TEMP TABLE t (i int, ms float8);", "DO $$ DECLARE t0 timestamptz; BEGIN"]
    for i, (name, args) in enumerate(CASES):
        lit = json.dumps(args).replace("'", "''")
        sql.append(f" FOR k IN 1 .. {CALLS} LOOP t0 := clock_timestamp(); PERFORM otto.call_tool('{name}', '{lit}');"
                   f" INSERT INTO t VALUES ({i}, extract(epoch FROM clock_timestamp() - t0) * 1000); END LOOP;")
    sql.append(" END $$;")
    sql.append("SELECT i, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FROM t GROUP BY i ORDER BY i;")
    run = subprocess.run(["psql", "-qXtA", "-F", " ", "-v", "ON_ERROR_STOP=1"], input="\n".join(sql), text=True, capture_output=True)
    out = run.stdout + run.stderr
    base = {}
    for row in out.split("\n"):
        f = row.split()
        if len(f) == 3 and f[0].isdigit():
            base[int(f[0])] = (float(f[1]), float(f[2]))
    if len(base) != len(CASES):
        sys.exit("baseline failed: " + out)

    print(f"{'tool':<16} {'arguments':<58} {'calls':>5} {'p50_ms':>8} {'p95_ms':>8} {'sql_p50':>8} {'sql_p95':>8} {'p95/sql':>7} target")
    results = []
    ping = [rpc("ping")[0] for _ in range(CALLS)]
    print(f"{'ping':<16} {'':<58} {CALLS:>5} {statistics.median(ping):8.2f} {pct(ping, 0.95):8.2f} {'':>8} {'':>8} {'':>7}")
    for i, (name, args) in enumerate(CASES):
        for _ in range(5):
            rpc("tools/call", {"name": name, "arguments": args})
        ms = [rpc("tools/call", {"name": name, "arguments": args})[0] for _ in range(CALLS)]
        b50, b95 = base[i]
        p95 = pct(ms, 0.95)
        print(f"{name:<16} {json.dumps(args)[:58]:<58} {CALLS:>5} {statistics.median(ms):8.2f} {p95:8.2f} {b50:8.2f} {b95:8.2f} "
              f"{p95 / b95:7.2f} {'< 20 ms p95' if name != 'ask' else 'reported'}")
        results.append(f"RESULT|mcp|{name} {json.dumps(args)[:40]} p95|{p95:.2f}|ms|{'< 20' if name != 'ask' else '-'}|"
                       f"{b95:.2f} (in the database)|{p95 / b95:.2f}")
    proc.stdin.close()
    proc.wait()
    print("\n".join(results))


main()
