/**
 * Gateway throughput: N concurrent SDK clients (profile seal/open, node:http keep-alive Agent,
 * not fetch; on node:crypto by default, see `clientNodeCrypto`) in this process against
 * `toNodeHandler(gateway)` in a child process on 127.0.0.1, pinned to separate CPUs where the
 * machine allows (`Pinning`). Each window's requests are sealed before it (`presealed`); every
 * answer is opened and checked by the SDK client in the window. Reports requests/s (median of
 * interleaved windows, and their min–max), latency, and CPU per request of the gateway process
 * (the number that does not depend on how busy the load generator is).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { platform } from 'node:os';
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
  /** Sealed before their window (see ThroughputOptions.presealed). */
  presealed: boolean;
  /** Requests sealed inside a measured window anyway (the queue ran dry): 0 when sealing ahead kept up. */
  inlineSeals: number;
  firstError?: string;
  seconds: number;
  /** Median of the windows' requests/s. */
  rps: number;
  /** The slowest and fastest window's requests/s. */
  rpsMin: number;
  rpsMax: number;
  /** How many measured windows the row had (each after a re-warm, interleaved with the other rows). */
  windows: number;
  p50Ms: number;
  p99Ms: number;
  gatewayCpuUsPerReq: number;
  clientCpuUsPerReq: number;
}

/** One measured window of a row. */
interface ThroughputWindow {
  requests: number;
  errors: number;
  /** Requests sealed in the window because the client's sealed-ahead queue ran dry. */
  inlineSeals: number;
  seconds: number;
  latenciesMs: number[];
  gatewayCpuUs: number;
  clientCpuUs: number;
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
  /** The gateway process with useNodeCrypto() (the SDK's primitives on node:crypto). */
  tuned?: boolean;
  /**
   * The load generator's own SDK clients on node:crypto (default true): they are not what is
   * measured, and on a shared 2-core machine their WebCrypto calls take CPU the gateway needs.
   * Every answer is still opened and checked by the SDK client. Set for the whole run by
   * `gatewayThroughputRun`, since its rows are open at the same time.
   */
  clientNodeCrypto?: boolean;
  /** Seal each window's requests before it starts (default true; false: seal each just before sending it). */
  presealed?: boolean;
  /** Set by `gatewayThroughputRun`: start the child pinned to this CPU. */
  pin?: Pinning;
}

/**
 * CPU pinning for the run: the gateway child on one CPU, the load generator (this process) on
 * another, as if on separate machines. Unpinned on a 2-core machine, the scheduler keeps moving
 * the two busy processes (and their worker threads) across both cores and onto each other, and
 * the gateway's CPU per request rises with the interference (not with its own work).
 */
export interface Pinning {
  taskset: string;
  gatewayCpu: number;
  loadCpu: number;
  /** This process's affinity mask before the run (hex, as `taskset -p` prints it), restored after. */
  maskBefore: string;
  placement: string;
}

/** A pinning plan, or why there is none (the run then goes unpinned and says so). */
export function planPinning(): Pinning | { placement: string } {
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
  if (platform() !== 'linux' || !taskset) return { placement: 'not pinned (no taskset on this machine)' };
  try {
    const out = execFileSync(taskset, ['-p', String(process.pid)], { encoding: 'utf8' });
    const maskBefore = /mask:\s*([0-9a-f,]+)/i.exec(out)?.[1]?.replace(/,/g, '');
    if (!maskBefore) return { placement: 'not pinned (could not read the affinity mask)' };
    // The CPUs this process may use (a container may allow CPUs 2-3 of a larger host, not 0-1).
    const allowed: number[] = [];
    const mask = BigInt('0x' + maskBefore);
    for (let cpu = 0; cpu < 1024 && allowed.length < 2 && mask >> BigInt(cpu) > 0n; cpu++) if ((mask >> BigInt(cpu)) & 1n) allowed.push(cpu);
    if (allowed.length < 2) return { placement: 'not pinned (one CPU allowed)' };
    const [gatewayCpu, loadCpu] = allowed;
    return { taskset, gatewayCpu, loadCpu, maskBefore, placement: `gateway on CPU ${gatewayCpu}, load generator on CPU ${loadCpu} (taskset)` };
  } catch (e) {
    return { placement: 'not pinned (' + (e as Error).message.split('\n')[0] + ')' };
  }
}

/** Set this process's affinity (every thread: `-a`). */
function pinSelf(p: Pinning, how: string[]): void {
  execFileSync(p.taskset, ['-a', '-p', ...how, String(process.pid)], { stdio: 'ignore' });
}

/** A gateway child with its clients connected and issued, measured a window at a time. */
interface ThroughputRow {
  /** Run the clients for `warmupMs`, then measure `durationMs`; the clients stop after it. */
  measure(warmupMs: number, durationMs: number): Promise<ThroughputWindow>;
  close(): Promise<void>;
  result(windows: ThroughputWindow[]): ThroughputResult;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openRow(o: ThroughputOptions): Promise<ThroughputRow> {
  const env = { ...process.env, ...(o.tuned ? { BENCH_NODE_CRYPTO: '1' } : {}) };
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // Pinned: `taskset -c N node …` execs node in place, so the IPC channel and every thread the child makes stay on CPU N.
  const launch = o.pin ? { execPath: o.pin.taskset, execArgv: ['-c', String(o.pin.gatewayCpu), process.execPath, ...nodeArgs] } : { execArgv: nodeArgs };
  const child = fork(o.childPath, [o.dialect], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...launch });
  const agent = new Agent({ keepAlive: true, maxSockets: o.clients });
  const close = async () => {
    agent.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
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
  };
  try {
    const { port, clientOptions } = await ask<{ port: number; clientOptions: Record<string, unknown> }>(child, undefined, (m) => typeof m?.port === 'number');
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
        if (o.dialect.endsWith('-echo')) return { profile: echoProfile(expected) as any, cred: undefined, ready: [] as any[], next: 0 };
        const profile = makeClientProfile(o.dialect as DialectName, clientOptions);
        const cred = profile.issue ? (await profile.issue(ctx as any)).value : undefined;
        return { profile, cred, ready: [] as any[], next: 0 };
      }),
    );
    type Client = (typeof clients)[number];
    const sealOne = (c: Client) => c.profile.seal({ operationType: '/echo', params, options: {}, memo: {} }, c.cred, ctx);
    /**
     * Each client's queue refilled with `n` requests sealed now, sent in the order sealed. The
     * last window's leftovers are dropped: `sorted-sign`'s clock window is 5 s by default, and a
     * request kept over a whole pass of the other rows would be refused as too old.
     */
    const sealAhead = (n: number) =>
      Promise.all(
        clients.map(async (c) => {
          c.ready = [];
          c.next = 0;
          while (c.ready.length < n) c.ready.push(await sealOne(c));
        }),
      );
    // The floors' echo "seal" costs nothing: nothing to take out of their windows.
    const presealed = o.presealed !== false && !o.dialect.endsWith('-echo');
    let lastRate = 0;
    let firstError: string | undefined;
    const gatewayCpu = async () => {
      const { cpu } = await ask<{ cpu: NodeJS.CpuUsage }>(child, 'cpu', (m) => m?.cpu);
      return cpu.user + cpu.system;
    };

    async function measure(warmupMs: number, durationMs: number): Promise<ThroughputWindow> {
      let measuring = false;
      let stop = false;
      let requests = 0;
      let errors = 0;
      let inlineSeals = 0;
      const latenciesMs: number[] = [];
      // Sealed ahead (default): enough for the warm-up and the window at twice the last window's
      // rate (a guess of 4000 req/s for a row's first). The load generator then spends the window
      // sending and opening, and is not the bottleneck where its seal costs as much as the
      // gateway's work (app-secret); the seal's own cost is in the client tables.
      if (presealed) await sealAhead(Math.ceil((((lastRate || 4000) * (warmupMs + durationMs)) / 1000 / clients.length) * 2) + 4);
      const loop = async (c: Client) => {
        while (!stop) {
          try {
            const t0 = performance.now();
            let sealed = c.next < c.ready.length ? c.ready[c.next++] : undefined;
            if (!sealed) {
              sealed = await sealOne(c);
              if (measuring && presealed) inlineSeals++;
            }
            const res = await send(sealed.wire);
            const data = await c.profile.open(res, sealed, c.cred, ctx);
            if (JSON.stringify(data) !== expected) throw new Error('echo mismatch');
            if (measuring) {
              requests++;
              latenciesMs.push(performance.now() - t0);
            }
          } catch (e) {
            if (measuring) errors++;
            firstError ??= (e as Error).message;
          }
        }
      };
      const loops = clients.map(loop);
      try {
        await sleep(warmupMs);
        const cpu0 = await gatewayCpu();
        const own0 = process.cpuUsage();
        measuring = true;
        const t0 = performance.now();
        await sleep(durationMs);
        measuring = false;
        const seconds = (performance.now() - t0) / 1000;
        const own = process.cpuUsage(own0);
        const cpu1 = await gatewayCpu();
        lastRate = requests / seconds;
        return { requests, errors, inlineSeals, seconds, latenciesMs, gatewayCpuUs: cpu1 - cpu0, clientCpuUs: own.user + own.system };
      } finally {
        measuring = false;
        stop = true;
        // The requests in flight finish before the next row's window starts.
        await Promise.all(loops);
      }
    }

    function result(windows: ThroughputWindow[]): ThroughputResult {
      const sum = (f: (w: ThroughputWindow) => number) => windows.reduce((n, w) => n + f(w), 0);
      const rates = windows.map((w) => w.requests / w.seconds).sort((a, b) => a - b);
      const lat = windows.flatMap((w) => w.latenciesMs).sort((a, b) => a - b);
      const n = sum((w) => w.requests);
      const mid = rates.length >> 1;
      return {
        dialect: o.dialect,
        tuned: !!o.tuned,
        clientNodeCrypto: o.clientNodeCrypto ?? true,
        clients: o.clients,
        size: o.size,
        requests: n,
        errors: sum((w) => w.errors),
        presealed,
        inlineSeals: sum((w) => w.inlineSeals),
        ...(firstError ? { firstError } : {}),
        seconds: sum((w) => w.seconds),
        rps: rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2,
        rpsMin: rates[0],
        rpsMax: rates[rates.length - 1],
        windows: windows.length,
        p50Ms: lat[Math.floor(lat.length * 0.5)] ?? NaN,
        p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN,
        gatewayCpuUsPerReq: sum((w) => w.gatewayCpuUs) / Math.max(1, n),
        clientCpuUsPerReq: sum((w) => w.clientCpuUs) / Math.max(1, n),
      };
    }

    return { measure, close, result };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface ThroughputRunOptions {
  rows: Omit<ThroughputOptions, 'clientNodeCrypto' | 'pin'>[];
  clientNodeCrypto?: boolean;
  /** Measured windows per row; the rows take turns, a window each, in a rotating order. */
  passes: number;
  /** Pin the gateway children to one CPU and this process to another, when the machine allows (default true; see `Pinning`). */
  pin?: boolean;
  /** Before a row's first window. */
  warmupMs: number;
  /** Before each later window (the row's clients were idle while the others ran). */
  rewarmMs: number;
  durationMs: number;
  log?: (line: string) => void;
}

/**
 * Every row's gateway child open at once (idle ones cost no CPU), measured in `passes`
 * interleaved rounds of one window each, so that a slow minute of this shared machine falls on
 * every row instead of on one; each row reports the median window (and the min–max).
 */
export async function gatewayThroughputRun(o: ThroughputRunOptions): Promise<{ results: ThroughputResult[]; failed: { dialect: string; error: string }[]; placement: string }> {
  // Only for this run: the Node client bench in the same process measures the SDK as shipped.
  const engineBefore = native();
  const clientNodeCrypto = o.clientNodeCrypto ?? true;
  if (clientNodeCrypto) useNodeCrypto();
  const plan = o.pin === false ? { placement: 'not pinned (--no-pin)' } : planPinning();
  let pin = 'taskset' in plan ? plan : undefined;
  if (pin) {
    try {
      pinSelf(pin, ['-c', String(pin.loadCpu)]);
    } catch (e) {
      pin = undefined;
      plan.placement = 'not pinned (' + (e as Error).message.split('\n')[0] + ')';
    }
  }
  const open: { spec: ThroughputOptions; row: ThroughputRow; windows: ThroughputWindow[] }[] = [];
  const failed: { dialect: string; error: string }[] = [];
  try {
    for (const r of o.rows) {
      const spec = { ...r, clientNodeCrypto, ...(pin ? { pin } : {}) };
      try {
        open.push({ spec, row: await openRow(spec), windows: [] });
      } catch (e) {
        failed.push({ dialect: r.dialect + (r.tuned ? ' (useNodeCrypto)' : ''), error: (e as Error).message });
      }
    }
    const broken = new Set<(typeof open)[number]>();
    for (let pass = 0; pass < o.passes; pass++) {
      const shift = pass * Math.max(1, Math.floor(open.length / o.passes));
      for (let i = 0; i < open.length; i++) {
        const entry = open[(i + shift) % open.length];
        if (broken.has(entry)) continue;
        try {
          entry.windows.push(await entry.row.measure(entry.windows.length === 0 ? o.warmupMs : o.rewarmMs, o.durationMs));
        } catch (e) {
          broken.add(entry);
          failed.push({ dialect: entry.spec.dialect + (entry.spec.tuned ? ' (useNodeCrypto)' : ''), error: (e as Error).message });
        }
      }
      o.log?.(`pass ${pass + 1} of ${o.passes} done`);
    }
    return { results: open.filter((e) => !broken.has(e)).map((e) => e.row.result(e.windows)), failed, placement: plan.placement };
  } finally {
    setNativeEngine(engineBefore);
    await Promise.all(open.map((e) => e.row.close()));
    if (pin) pinSelf(pin, [pin.maskBefore]);
  }
}
