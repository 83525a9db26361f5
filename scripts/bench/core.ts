/**
 * The bench itself, the same code in Node and in Chromium: for each dialect and size it
 * replays one canned exchange (see fixtures.ts) through several implementations of the
 * dialect's client half, checks once that each gives the expected wire and data, then
 * times them in interleaved samples.
 *
 * One "round" = seal the request + open the gateway's canned sealed answer (no network).
 * Randomness comes from a fixed pool that is rewound before every round, so every round
 * seals the same bytes and the canned answer (bound to the request's nonce / safeCode)
 * opens every time; drawing real random bytes costs well under 1 µs per round.
 */
import { modern } from '../../src/profiles/modern.ts';
import { appSecret } from '../../src/profiles/app-secret.ts';
import { sortedSign } from '../../src/profiles/sorted-sign.ts';
import { mgs } from '../../src/profiles/mgs.ts';
import { importGcmKey } from '../../src/crypto/aes.ts';
import type { Profile } from '../../src/types.ts';
import { cryptoJsImpl } from './ref-cryptojs.js';

export const BENCH_DIALECTS = ['modern', 'app-secret', 'sorted-sign', 'mgs'] as const;
export type DialectName = (typeof BENCH_DIALECTS)[number];

export interface WireRequestLike {
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  operationType: string;
}
export interface WireResponseLike {
  status: number;
  headers: Record<string, string>;
  body: string;
}
export interface SizeFixture {
  size: number;
  op: string;
  params: Record<string, string>;
  /** Hex of the "random" bytes every round draws from (rewound each round). */
  pool: string;
  /** The request the SDK sealed when the fixture was made. */
  wire: WireRequestLike;
  /** The gateway half's sealed answer to it. */
  response: WireResponseLike;
}
export interface DialectFixture {
  dialect: DialectName;
  clientOptions: Record<string, any>;
  /** The fixed clock (epoch ms) every round seals with. */
  now: number;
  /** Issued dialects: the credential (modern: raw keys in hex). */
  cred?: Record<string, any>;
  sizes: SizeFixture[];
}
export interface Fixtures {
  fixtures: DialectFixture[];
  skipped: string[];
}

export { hexToBytes, poolRandom } from './util.js';
import { hexToBytes, poolRandom } from './util.js';

export function makeClientProfile(dialect: DialectName, options: Record<string, any>): Profile<any, any> {
  switch (dialect) {
    case 'modern':
      return modern(options as any);
    case 'app-secret':
      return appSecret(options as any);
    case 'sorted-sign':
      return sortedSign(options as any);
    case 'mgs':
      return mgs(options as any);
  }
}

/** The client's credential as issuance leaves it: modern keys are non-extractable CryptoKeys (raw bytes on the no-subtle path). */
export async function credFor(fx: DialectFixture, raw: boolean): Promise<unknown> {
  if (fx.dialect !== 'modern') return fx.cred;
  const c = fx.cred as { appId: string; expiresAt: number; reqKey: string; resKey: string };
  const reqKey = hexToBytes(c.reqKey);
  const resKey = hexToBytes(c.resKey);
  if (raw) return { appId: c.appId, expiresAt: c.expiresAt, reqKey, resKey };
  return { appId: c.appId, expiresAt: c.expiresAt, reqKey: await importGcmKey(reqKey), resKey: await importGcmKey(resKey) };
}

/** One implementation of a dialect's client half. */
export interface Impl {
  name: string;
  /** Its sealed wire must equal the SDK's byte for byte (deterministic under the fixed pool and clock). */
  sameWire: boolean;
  seal(): Promise<{ wire: WireRequestLike; state: unknown }> | { wire: WireRequestLike; state: unknown };
  open(sealed: { wire: WireRequestLike; state: unknown }): Promise<unknown> | unknown;
  note?: string;
}
export type ImplFactory = (fx: DialectFixture, sf: SizeFixture) => Promise<Impl | undefined> | Impl | undefined;

/** Hide crypto.subtle (as browsers do on http:/file: pages) for the length of `f`. */
async function withoutSubtle<T>(f: () => Promise<T>): Promise<T> {
  const c = globalThis.crypto as Crypto & { subtle?: SubtleCrypto };
  Object.defineProperty(c, 'subtle', { value: undefined, configurable: true });
  try {
    return await f();
  } finally {
    delete (c as { subtle?: unknown }).subtle;
  }
}

export function sdkImpl(noSubtle: boolean): ImplFactory {
  return async (fx, sf) => {
    const profile = makeClientProfile(fx.dialect, fx.clientOptions);
    const cred = await credFor(fx, noSubtle);
    const rnd = poolRandom(sf.pool);
    const ctx = { now: () => fx.now, random: rnd.random, parseJson: JSON.parse, send: () => Promise.reject(new Error('no network in the bench')) };
    const seal = () => {
      rnd.reset();
      return profile.seal({ operationType: sf.op, params: sf.params, options: {}, memo: {} }, cred, ctx) as Promise<{ wire: WireRequestLike; state: unknown }>;
    };
    const open = (sealed: { wire: WireRequestLike; state: unknown }) => profile.open(sf.response, sealed as any, cred, ctx);
    return {
      name: noSubtle ? 'sdk-noble' : 'sdk',
      sameWire: true,
      seal: noSubtle ? () => withoutSubtle(seal) : seal,
      open: noSubtle ? (s) => withoutSubtle(() => open(s)) : open,
    };
  };
}

function sameWire(a: WireRequestLike, b: WireRequestLike): string | undefined {
  if (a.path !== b.path) return `path differs (${a.path.slice(0, 60)}… vs ${b.path.slice(0, 60)}…)`;
  if (a.method !== b.method) return 'method differs';
  if ((a.body ?? '') !== (b.body ?? '')) return `body differs (${(a.body ?? '').slice(0, 60)}… vs ${(b.body ?? '').slice(0, 60)}…)`;
  const h = (x: Record<string, string>) => JSON.stringify(Object.entries(x).map(([k, v]) => [k.toLowerCase(), v]).sort());
  if (h(a.headers) !== h(b.headers)) return `headers differ (${h(a.headers)} vs ${h(b.headers)})`;
  return undefined;
}

export interface Stats {
  medianUs: number;
  minUs: number;
  maxUs: number;
  samples: number;
  reps: number;
}
export interface CellResult {
  dialect: DialectName;
  size: number;
  stats: Record<string, Stats>;
  checks: Record<string, string>;
}
export interface TimingOptions {
  /** Time spent per (dialect, size) cell, all implementations together. */
  cellMs: number;
  /** Target length of one sample (reps rounds of one implementation). */
  sampleMs: number;
  minSamples: number;
  maxSamples: number;
}

const now = () => performance.now();
/** Per implementation and cell, before its rounds are calibrated. */
const WARM_UP_MS = 300;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Interleaved sampling: sample k runs every implementation once (the order rotates by one
 * each sample, so none always follows the same neighbour's garbage), each for `reps`
 * rounds calibrated to about `sampleMs`.
 */
export async function timeInterleaved(rounds: { name: string; round: () => Promise<unknown> }[], o: TimingOptions): Promise<Record<string, Stats>> {
  const reps: number[] = [];
  for (const r of rounds) {
    // Warm up for a while, not a round or two: the first cell of a run was otherwise timed on
    // code the JIT had not optimized yet (its medians 15–30% high).
    const warm = now();
    for (let i = 0; i < 2 || (now() - warm < WARM_UP_MS && i < 100_000); i++) await r.round();
    let n = 0;
    const t0 = now();
    while (n < 1 || (now() - t0 < o.sampleMs && n < 100_000)) {
      await r.round();
      n++;
    }
    const per = (now() - t0) / n;
    reps.push(Math.max(1, Math.min(100_000, Math.round(o.sampleMs / Math.max(per, 1e-3)))));
  }
  const samples: number[][] = rounds.map(() => []);
  const start = now();
  for (let s = 0; ; s++) {
    for (let j = 0; j < rounds.length; j++) {
      const i = (j + s) % rounds.length;
      const t0 = now();
      for (let k = 0; k < reps[i]; k++) await rounds[i].round();
      samples[i].push(((now() - t0) / reps[i]) * 1000);
    }
    const done = s + 1;
    if (done >= o.maxSamples || (done >= o.minSamples && now() - start >= o.cellMs)) break;
  }
  const out: Record<string, Stats> = {};
  rounds.forEach((r, i) => {
    const xs = samples[i];
    out[r.name] = { medianUs: median(xs), minUs: Math.min(...xs), maxUs: Math.max(...xs), samples: xs.length, reps: reps[i] };
  });
  return out;
}

/** The implementations of the bench, in column order. `extra` adds e.g. the node:crypto floor. */
export function implFactories(extra: ImplFactory[] = []): ImplFactory[] {
  return [
    sdkImpl(false),
    // The pure-JS path (hybrid web views on http: pages) only differs where WebCrypto would run.
    // app-secret too: its answers from 4 KB up are decrypted by WebCrypto's AES-CBC (src/crypto/aes.ts).
    (fx, sf) => (fx.dialect === 'mgs' ? undefined : sdkImpl(true)(fx, sf)),
    cryptoJsImpl as ImplFactory,
    ...extra,
  ];
}

export interface RunOptions extends TimingOptions {
  extra?: ImplFactory[];
  log?: (line: string) => void;
}

export async function runBench(fixtures: Fixtures, o: RunOptions): Promise<CellResult[]> {
  const results: CellResult[] = [];
  const factories = implFactories(o.extra);
  for (const fx of fixtures.fixtures) {
    for (const sf of fx.sizes) {
      const impls: Impl[] = [];
      for (const f of factories) {
        const impl = await f(fx, sf);
        if (impl) impls.push(impl);
      }
      const checks: Record<string, string> = {};
      // Check each once before timing: the wire (where the dialect is deterministic) and the opened data.
      for (const impl of impls) {
        const sealed = await impl.seal();
        if (impl.sameWire) {
          const diff = sameWire(sealed.wire, sf.wire);
          if (diff) throw new Error(`${fx.dialect} ${sf.size} B: ${impl.name} seals other bytes than the SDK did: ${diff}`);
        }
        const data = await impl.open(sealed);
        if (JSON.stringify(data) !== JSON.stringify(sf.params)) throw new Error(`${fx.dialect} ${sf.size} B: ${impl.name} did not open the answer to the params`);
        checks[impl.name] = impl.sameWire ? 'same bytes' : impl.note ?? 'own wire';
      }
      const stats = await timeInterleaved(
        impls.map((impl) => ({ name: impl.name, round: async () => impl.open(await impl.seal()) })),
        o,
      );
      results.push({ dialect: fx.dialect, size: sf.size, stats, checks });
      o.log?.(
        `${fx.dialect.padEnd(11)} ${String(sf.size / 1024).padStart(4)} KB  ` +
          Object.entries(stats)
            .map(([k, s]) => `${k} ${fmtUs(s.medianUs)}`)
            .join('  '),
      );
    }
  }
  return results;
}

export function fmtUs(us: number): string {
  if (us >= 10_000) return (us / 1000).toFixed(1) + ' ms';
  if (us >= 1000) return (us / 1000).toFixed(2) + ' ms';
  if (us >= 100) return us.toFixed(0) + ' µs';
  return us.toFixed(1) + ' µs';
}
