/**
 * Cross-tab single flight for credential issuance.
 *
 * Where the browser has Web Locks (`navigator.locks`), they are used as they are. Where it
 * has not (older Safari, some hybrid-app web views), a lease in `localStorage` with an
 * expiry stands in: a tab writes `{owner, expires}`, waits a moment, and holds the lock
 * only if its own write is still there; it renews the lease while it works and removes it
 * when done, and a lease left by a tab that died simply expires. With neither, calls in
 * this page are still serialized.
 *
 * The lease is an optimisation (one issuance instead of one per tab), not what keeps the
 * record consistent: the credential manager's compare-and-swap on the record's `version`
 * does that, so a lock that is lost or times out costs at most one extra issuance.
 */
import { toHex } from '../codec/hex.js';
import { randomBytes } from '../crypto/provider.js';

/** The part of the Web Locks API this module uses. */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: 'exclusive'; signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
}

/** The part of `Storage` (localStorage) this module uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface LockEnvironment {
  /** Web Locks; default `navigator.locks` where it exists. `null` forces the fallback. */
  locks?: LockManagerLike | null;
  /** Storage shared by the page's tabs; default `localStorage` where it works. `null`: none. */
  storage?: StorageLike | null;
  /** Wall clock (default Date.now), for the lease expiry other tabs read (waits are timed by timers). */
  now?: () => number;
  /** Waits `ms` (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** This tab's id, for the lease (default: random). */
  ownerId?: string;
  /** How long a lease holds without renewal (default 10000 ms); a dead tab's lease lasts this long. */
  leaseMs?: number;
  /** How long to wait after writing a lease before trusting it (default 40 ms). */
  settleMs?: number;
  /** How often a waiting tab looks again (default 50 ms, plus jitter). */
  pollMs?: number;
  /** Give up waiting (in this page's queue, for Web Locks or the lease) this long after asking and run anyway (default 15000 ms; the version check keeps the record safe). */
  maxWaitMs?: number;
  /** Where `pagehide` is heard (default: the window): a lease held when the tab closes is released then, not left to expire. `null`: nowhere. */
  pageEvents?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | null;
}

export type LockKind = 'web-locks' | 'storage-lease' | 'local';

export interface CrossTabLock {
  /** Run `fn` while holding the lock `name` (exclusive across the tabs of this origin where possible). */
  run<T>(name: string, fn: () => Promise<T>): Promise<T>;
  readonly kind: LockKind;
}

/** localStorage key prefix of the lease records. */
export const LEASE_PREFIX = 'sealed-rpc-lock:';

interface Lease {
  owner: string;
  expires: number;
}

function readLease(storage: StorageLike, key: string): Lease | undefined {
  const raw = storage.getItem(key);
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<Lease>;
    if (v && typeof v.owner === 'string' && typeof v.expires === 'number' && Number.isFinite(v.expires)) return { owner: v.owner, expires: v.expires };
  } catch {
    // a corrupt lease is treated as none
  }
  return undefined;
}

function defaultStorage(): StorageLike | null {
  try {
    const s = (globalThis as { localStorage?: StorageLike }).localStorage;
    if (!s) return null;
    // Private modes and sandboxed frames throw on use (SecurityError, QuotaExceededError).
    const probe = LEASE_PREFIX + 'probe';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

function randomId(): string {
  return toHex(randomBytes(8));
}

/**
 * A bound that starts when a run asks for the lock: a timer, not the wall clock, so a clock
 * stepping back (NTP, the user) cannot stretch it.
 */
function waitBound(ms: number): { readonly passed: boolean; reached: Promise<void>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = {
    passed: false,
    reached: new Promise<void>((r) => {
      timer = setTimeout(() => {
        bound.passed = true;
        r();
      }, ms);
    }),
    clear: () => clearTimeout(timer),
  };
  return bound;
}

/**
 * Serializes calls per name within this page (one JavaScript realm). A run waits for the one
 * before it at most until `bound` is reached, then runs anyway (as Web Locks' runs do).
 */
function localMutex(): <T>(name: string, fn: () => Promise<T>, bound: Promise<void>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, fn: () => Promise<T>, bound: Promise<void>): Promise<T> => {
    const prev = tails.get(name) ?? Promise.resolve();
    const result = Promise.race([prev, bound]).then(fn, fn);
    // The next run waits for this one and, when this one jumped the queue, for the holder it jumped.
    const tail = Promise.allSettled([prev, result]).then(() => undefined);
    tails.set(name, tail);
    void tail.then(() => {
      if (tails.get(name) === tail) tails.delete(name);
    });
    return result;
  };
}

export function createLock(env: LockEnvironment = {}): CrossTabLock {
  const locks = env.locks === undefined ? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks : env.locks;
  if (locks && typeof locks.request === 'function') return webLocks(locks, env);
  return leaseLock(env);
}

/**
 * Web Locks, with the same bound as the lease: after maxWaitMs the work runs unlocked. A
 * request refused before the work started (SecurityError on opaque origins: sandboxed
 * frames, data:, some file: web views) falls back to the lease/local path instead of
 * failing every issuance; once the work started, its own outcome is the answer (never run twice).
 */
function webLocks(locks: LockManagerLike, env: LockEnvironment): CrossTabLock {
  const maxWaitMs = env.maxWaitMs ?? 15_000;
  let fallback: CrossTabLock | undefined; // built on the first refusal: it probes localStorage
  return {
    // After a refusal every run takes the fallback (the page's origin does not change), and says so.
    get kind() {
      return fallback?.kind ?? 'web-locks';
    },
    run: async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      if (fallback) return fallback.run(name, fn);
      let started = false;
      let timedOut = false;
      // A timer, not AbortSignal.timeout: some browsers with Web Locks lack the latter.
      const controller = new AbortController();
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, maxWaitMs);
      try {
        return await locks.request(name, { mode: 'exclusive', signal: controller.signal }, () => {
          started = true;
          clearTimeout(timer);
          return fn();
        });
      } catch (e) {
        if (started) throw e;
        if (timedOut) return fn(); // as the lease does at maxWaitMs
        return (fallback ??= leaseLock(env)).run(name, fn);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Where Web Locks are missing or refused: a localStorage lease, else page-local serialization. */
function leaseLock(env: LockEnvironment): CrossTabLock {
  const maxWaitMs = env.maxWaitMs ?? 15_000;
  const queue = localMutex();
  /** One maxWaitMs bound from the moment a run asks, over this page's queue and the lease alike. */
  const bounded = <T>(name: string, fn: (late: () => boolean) => Promise<T>): Promise<T> => {
    const bound = waitBound(maxWaitMs);
    const result = queue(name, () => fn(() => bound.passed), bound.reached);
    void result.then(bound.clear, bound.clear);
    return result;
  };
  const storage = env.storage === undefined ? defaultStorage() : env.storage;
  if (!storage) return { kind: 'local', run: (name, fn) => bounded(name, fn) };

  const now = env.now ?? (() => Date.now());
  const sleep = env.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const ownerId = env.ownerId ?? randomId();
  const leaseMs = env.leaseMs ?? 10_000;
  const settleMs = env.settleMs ?? 40;
  const pollMs = env.pollMs ?? 50;
  const g = globalThis as Partial<EventTarget>;
  const pageEvents = env.pageEvents === undefined ? (g.addEventListener ? (g as EventTarget) : null) : env.pageEvents;
  let seq = 0;

  /** Take the lease; false when the wait ran out (the caller then runs unlocked) or storage failed. */
  async function acquire(key: string, me: string, late: () => boolean): Promise<boolean> {
    for (;;) {
      const cur = readLease(storage!, key);
      const t = now();
      // A live holder never writes further ahead than now + leaseMs (all tabs read one clock):
      // a lease beyond that (plus a settle's slack) was left by a tab whose clock was ahead, and is stale.
      if (!cur || cur.expires <= t || cur.expires > t + leaseMs + settleMs) {
        storage!.setItem(key, JSON.stringify({ owner: me, expires: now() + leaseMs }));
        await sleep(settleMs);
        // Another tab that wrote at the same moment overwrote ours or was overwritten: the last write wins.
        if (readLease(storage!, key)?.owner === me) return true;
      }
      if (late()) return false;
      await sleep(pollMs + Math.floor(Math.random() * pollMs));
    }
  }

  async function withLease<T>(name: string, fn: () => Promise<T>, late: () => boolean): Promise<T> {
    const key = LEASE_PREFIX + name;
    const me = `${ownerId}:${++seq}`;
    let held = false;
    try {
      held = await acquire(key, me, late);
    } catch {
      held = false; // storage refused (quota, security): run with the page-local lock only
    }
    if (!held) return fn();
    const release = () => {
      try {
        if (readLease(storage!, key)?.owner === me) storage!.removeItem(key);
      } catch {
        // it expires on its own
      }
    };
    // Renew the lease while fn runs, so a slow issuance is not taken over by another tab.
    const timer = setInterval(() => {
      try {
        if (readLease(storage!, key)?.owner === me) storage!.setItem(key, JSON.stringify({ owner: me, expires: now() + leaseMs }));
      } catch {
        // nothing to do: the lease will expire
      }
    }, Math.max(1, Math.floor(leaseMs / 3)));
    // A tab closed (or put in the back/forward cache) mid-issuance would keep the others waiting
    // for the lease to expire; if it comes back, losing the lease costs at most one extra issuance.
    pageEvents?.addEventListener('pagehide', release);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      pageEvents?.removeEventListener('pagehide', release);
      release();
    }
  }

  return { kind: 'storage-lease', run: (name, fn) => bounded(name, (late) => withLease(name, fn, late)) };
}

let shared: CrossTabLock | undefined;

/** The lock of this page, from its globals (Web Locks, else a localStorage lease, else page-local). */
export function defaultLock(): CrossTabLock {
  return (shared ??= createLock());
}
