/**
 * The read path over HTTP: a warm token read against the hub as `npm start` runs it, with
 * autocannon, beside the same local server answering a constant (so the ratio is the hub's own
 * cost, not the HTTP server's). Returns the BENCHMARKS.md section.
 */
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { createLocalServer } from '../lib/http/local-server.js';
import { runLocal } from '../lib/local/run-local.js';

const CONSTANT = JSON.stringify({ access_token: 'x'.repeat(136), expires_in: 7000, expires_at: '2026-11-24T00:00:00.000Z' });

async function load(url: string, headers: Record<string, string>, seconds: number) {
  const r = await autocannon({ url, headers, connections: 10, duration: seconds });
  return { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.mean, rps: r.requests.average, errors: r.errors + r.non2xx };
}

const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');

export async function readPathSection(tiny = false): Promise<string> {
  const seconds = tiny ? 1 : 10;
  let key = '';
  const hub = await runLocal({ PORT: '0', LOG_LEVEL: 'SILENT' }, (line) => {
    const m = /Demo API key[^:]*: (\S+)/.exec(line);
    if (m) key = m[1]!;
  });
  const constant = { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: CONSTANT };
  const answer = async () => constant;
  const server = createLocalServer({ getToken: answer, forceRefresh: answer, tickets: answer, compat: answer, proxy: answer, status: answer });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const constantUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/apps/demo/access-token`;
  try {
    const headers = { authorization: `Bearer ${key}` };
    await load(`${hub.url}/v1/apps/demo/access-token`, headers, 1); // warm: first fetch, caches, JIT
    const base = await load(constantUrl, headers, seconds);
    const warm = await load(`${hub.url}/v1/apps/demo/access-token`, headers, seconds);
    return `## Read path over HTTP

\`npm run bench\` (bench/read-path.ts): autocannon, 10 connections for ${seconds} s each, against the hub as \`npm start\`
runs it (local API Gateway server, the real handler, dynalite, a warm container cache), and against the
same local server whose handlers answer a constant of the same size.

| target | p50 | p99 | mean | requests/s | errors |
|---|---|---|---|---|---|
| warm token read | ${warm.p50} ms | ${warm.p99} ms | ${warm.mean.toFixed(2)} ms | ${warm.rps.toFixed(0)} | ${warm.errors} |
| the same server answering a constant | ${base.p50} ms | ${base.p99} ms | ${base.mean.toFixed(2)} ms | ${base.rps.toFixed(0)} | ${base.errors} |
| ratio | ${ratio(warm.p50, base.p50)} | ${ratio(warm.p99, base.p99)} | ${ratio(warm.mean, base.mean)} | ${(warm.rps / base.rps).toFixed(2)} | |

autocannon reports percentiles in whole milliseconds (a ratio of two 0 ms percentiles is shown as -);
the mean and the request rate carry the difference.

A warm read is authentication (SHA-256 of the key, constant-time compare), validation and the container
cache: no DynamoDB request (the per-operation table), so what it adds to the server's own cost is that.
`;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await hub.close();
  }
}
