/**
 * Gateway throughput: N concurrent SDK clients (profile seal/open, node:http keep-alive Agent,
 * not fetch; on node:crypto by default, see `clientNodeCrypto`) in this process against
 * `toNodeHandler(gateway)` in a child process on 127.0.0.1. Every answer is opened and
 * checked by the SDK client. Reports requests/s, latency, and CPU per request of the
 * gateway process (the number that does not depend on how busy the load generator is).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { request, Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { makeClientProfile, type DialectName, type WireRequestLike, type WireResponseLike } from './core.ts';
import { useNodeCrypto } from '../../src/crypto/node.ts';
import { native, setNativeEngine } from '../../src/crypto/provider.ts';
import { pooledRandom } from '../../src/server/gateway.ts';
import { paramsOfSize } from './fixtures.ts';

export interface ThroughputResult {
  dialect: string;
  tuned: boolean;
  /** The load generator's SDK clients ran on node:crypto (useNodeCrypto() in that process). */
  clientNodeCrypto: boolean;
  clients: number;
  size: number;
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  gatewayCpuUsPerReq: number;
  clientCpuUsPerReq: number;
}

/** The floors' "dialect": the params' JSON in plain text, echoed back. */
function echoProfile(json: string) {
  return {
    async seal() {
      return { wire: { path: '/echo', method: 'POST' as const, headers: { 'content-type': 'text/plain' }, body: json, operationType: '/echo' }, state: undefined };
    },
    async open(res: WireResponseLike) {
      if (res.status !== 200) throw new Error('HTTP ' + res.status);
      return JSON.parse(res.body);
    },
  };
}

function ask<T>(child: ChildProcess, msg: unknown, pick: (m: any) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: any) => {
      if (!pick(m)) return;
      child.off('message', on);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number) => reject(new Error('gateway child exited with ' + code));
    child.on('message', on);
    child.on('exit', onExit);
    if (msg !== undefined) child.send(msg as any);
  });
}

export interface ThroughputOptions {
  dialect: string;
  childPath: string;
  clients: number;
  size: number;
  warmupMs: number;
  durationMs: number;
  /** The gateway process with useNodeCrypto() (the SDK's primitives on node:crypto). */
  tuned?: boolean;
  /**
   * The load generator's own SDK clients on node:crypto (default true): they are not what is
   * measured, and on a shared 2-core machine their WebCrypto calls take CPU the gateway needs.
   * Every answer is still opened and checked by the SDK client.
   */
  clientNodeCrypto?: boolean;
}

export async function gatewayThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const env = { ...process.env, ...(o.tuned ? { BENCH_NODE_CRYPTO: '1' } : {}) };
  // Only for this run: the Node client bench in the same process measures the SDK as shipped.
  const engineBefore = native();
  if (o.clientNodeCrypto ?? true) useNodeCrypto();
  const child = fork(o.childPath, [o.dialect], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean) });
  try {
    const { port, clientOptions } = await ask<{ port: number; clientOptions: Record<string, unknown> }>(child, undefined, (m) => typeof m?.port === 'number');
    const agent = new Agent({ keepAlive: true, maxSockets: o.clients });
    const send = (wire: WireRequestLike): Promise<WireResponseLike> =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { ...wire.headers };
        if (wire.body !== undefined) headers['content-length'] = Buffer.byteLength(wire.body);
        const req = request({ host: '127.0.0.1', port, path: wire.path, method: wire.method, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const h: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
            resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(wire.body);
      });
    const params = paramsOfSize(o.size, 99);
    const expected = JSON.stringify(params);
    // Random bytes drawn 4 KiB at a time (each byte used once), as the gateway does.
    const ctx = { now: () => Date.now(), random: pooledRandom((n: number) => new Uint8Array(randomBytes(n))), parseJson: JSON.parse, send };
    // One profile and credential per client, issued over HTTP like a real page's.
    const clients = await Promise.all(
      Array.from({ length: o.clients }, async () => {
        if (o.dialect.endsWith('-echo')) return { profile: echoProfile(expected), cred: undefined };
        const profile = makeClientProfile(o.dialect as DialectName, clientOptions);
        const cred = profile.issue ? (await profile.issue(ctx as any)).value : undefined;
        return { profile, cred };
      }),
    );
    let measuring = false;
    let stop = false;
    let count = 0;
    let errors = 0;
    let firstError: string | undefined;
    const lat: number[] = [];
    const loop = async (c: { profile: any; cred: unknown }) => {
      while (!stop) {
        const t0 = performance.now();
        try {
          const sealed = await c.profile.seal({ operationType: '/echo', params, options: {}, memo: {} }, c.cred, ctx);
          const res = await send(sealed.wire);
          const data = await c.profile.open(res, sealed, c.cred, ctx);
          if (JSON.stringify(data) !== expected) throw new Error('echo mismatch');
          if (measuring) {
            count++;
            lat.push(performance.now() - t0);
          }
        } catch (e) {
          if (measuring) errors++;
          firstError ??= (e as Error).message;
        }
      }
    };
    const loops = clients.map(loop);
    await new Promise((r) => setTimeout(r, o.warmupMs));
    const cpu0 = (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'cpu', (m) => m?.cpu)).cpu;
    const own0 = process.cpuUsage();
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.durationMs));
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const n = count;
    const errs = errors;
    const own = process.cpuUsage(own0);
    const cpu1 = (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'cpu', (m) => m?.cpu)).cpu;
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    lat.sort((a, b) => a - b);
    const gwCpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    return {
      dialect: o.dialect,
      tuned: !!o.tuned,
      clientNodeCrypto: o.clientNodeCrypto ?? true,
      clients: o.clients,
      size: o.size,
      requests: n,
      errors: errs,
      ...(firstError ? { firstError } : {}),
      seconds,
      rps: n / seconds,
      p50Ms: lat[Math.floor(lat.length * 0.5)] ?? NaN,
      p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN,
      gatewayCpuUsPerReq: gwCpu / Math.max(1, n),
      clientCpuUsPerReq: (own.user + own.system) / Math.max(1, n),
    };
  } finally {
    setNativeEngine(engineBefore);
    child.send('exit');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill();
        r(undefined);
      }, 2000);
      child.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  }
}
