/**
 * Credential stores. `indexedDbStore` keeps records (CryptoKeys included: IndexedDB
 * stores them by structured clone, still non-extractable); `memoryStore` keeps them for
 * the life of the page. Both offer `compareAndSet` on the record's version, which the
 * credential manager uses so that two tabs renewing at once never lose an update.
 *
 * Storage faults never break a call (`withMemoryFallback`): a closing connection is
 * reopened once; quota, blocked or missing IndexedDB moves the records to memory; a value
 * that cannot be cloned (CryptoKey on some engines) stays in memory while the store keeps
 * its version and expiry. Each is reported once, by the error's name only.
 */
import { del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';
import { badConfig, isTimerMs, MAX_TIMER_MS, refuseUnknownOptions } from '../errors.js';
import type { CredentialStore, StoredCredential } from '../types.js';
import { errorName, strippedRecord, versionOf } from './record.js';

export interface CasResult<C = unknown> {
  /** True when `record` was written. */
  ok: boolean;
  /** What the store holds now: `record` when ok, else the other writer's (raw, unchecked) record. */
  current: StoredCredential<C> | undefined;
}

/** A store that can write a record only if the stored one still has the expectedVersion version. */
export interface AtomicCredentialStore extends CredentialStore {
  /**
   * Write `record` only if the stored record's version (0 for none, or for one without a
   * usable version) equals `expectedVersion`; atomic against other tabs where the store allows.
   */
  compareAndSet<C>(key: string, expectedVersion: number, record: StoredCredential<C>): Promise<CasResult<C>>;
}

export function hasCompareAndSet(s: CredentialStore): s is AtomicCredentialStore {
  return typeof (s as Partial<AtomicCredentialStore>).compareAndSet === 'function';
}

/**
 * Compare-and-set on any store: atomic where the store offers `compareAndSet`, else check
 * then write (not atomic across tabs, but the window is one read).
 */
export async function compareAndSetAny<C>(store: CredentialStore, key: string, expectedVersion: number, record: StoredCredential<C>): Promise<CasResult<C>> {
  if (hasCompareAndSet(store)) return store.compareAndSet(key, expectedVersion, record);
  const cur = await store.get<C>(key);
  if (versionOf(cur) !== expectedVersion) return { ok: false, current: cur };
  await store.set(key, record);
  return { ok: true, current: record };
}

export function memoryStore(): AtomicCredentialStore {
  const map = new Map<string, StoredCredential>();
  return {
    kind: 'memory',
    async get<C>(key: string) {
      return map.get(key) as StoredCredential<C> | undefined;
    },
    async set<C>(key: string, value: StoredCredential<C>) {
      map.set(key, value);
    },
    async delete(key: string) {
      map.delete(key);
    },
    async compareAndSet<C>(key: string, expectedVersion: number, record: StoredCredential<C>): Promise<CasResult<C>> {
      const cur = map.get(key) as StoredCredential<C> | undefined;
      if (versionOf(cur) !== expectedVersion) return { ok: false, current: cur };
      map.set(key, record);
      return { ok: true, current: record };
    },
  };
}

export interface IndexedDbStoreOptions {
  /** Database name (default `sealed-rpc`). */
  dbName?: string;
  /** Object store name (default `credentials`). */
  storeName?: string;
  /**
   * Give up opening the database after this long (default 5000 ms; some private modes never
   * answer). A later operation on the open connection may take 6 times as long (it may wait
   * behind another tab's transaction); past that the store counts as failed and the records
   * move to memory.
   */
  openTimeoutMs?: number;
}

/** How many open timeouts an operation on an open connection may take (default: 6 × 5 s). */
const PROVEN_BOUND = 6;

function domError(message: string, name: string): Error {
  return typeof DOMException === 'function' ? new DOMException(message, name) : Object.assign(new Error(message), { name });
}

/** `p`, or a TimeoutError after `ms` (a store that never answers must not hang every call). */
function withTimeout<T>(p: Promise<T>, ms: number, what = 'IndexedDB'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(domError(`${what} did not answer in time`, 'TimeoutError')), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Open `dbName` holding the object store `storeName`. idb-keyval's createStore creates the
 * object store only with the database, so another storeName on an existing database failed
 * every use with NotFoundError (and fell back to memory for good): a missing one is added
 * by opening the next version.
 */
async function openWithStore(dbName: string, storeName: string): Promise<IDBDatabase> {
  for (let version: number | undefined; ; ) {
    const request = version === undefined ? indexedDB.open(dbName) : indexedDB.open(dbName, version);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(storeName)) request.result.createObjectStore(storeName);
    };
    let db: IDBDatabase;
    try {
      db = await promisifyRequest(request);
    } catch (e) {
      // Another tab upgraded past our version first: look again (the version only grows).
      if (version !== undefined && errorName(e) === 'VersionError') {
        version = undefined;
        continue;
      }
      throw e;
    }
    if (db.objectStoreNames.contains(storeName)) return db;
    version = db.version + 1;
    db.close();
  }
}

/**
 * Closes the open connections of a store nobody holds any more (a client the page made, then
 * dropped): the listeners below keep a connection open otherwise, as Chromium keeps an
 * IDBDatabase that has listeners for the life of the page.
 */
const collected = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<Set<IDBDatabase>>((live) => live.forEach((db) => db.close())) : undefined;

/** idb-keyval's createStore, opening with openWithStore; `live` holds its connection while open. */
function createStore(dbName: string, storeName: string, live: Set<IDBDatabase>): UseStore {
  let dbp: Promise<IDBDatabase> | undefined;
  const getDB = () => {
    if (dbp) return dbp;
    const p = (dbp = openWithStore(dbName, storeName));
    p.then(
      (db) => {
        live.add(db);
        db.onclose = () => {
          live.delete(db);
          if (dbp === p) dbp = undefined;
        };
        // Every connection, reopened ones too, lets another store's or tab's upgrade through (openWithStore makes them).
        db.addEventListener('versionchange', () => {
          db.close();
          live.delete(db);
          if (dbp === p) dbp = undefined;
        });
      },
      () => {
        if (dbp === p) dbp = undefined;
      },
    );
    return p;
  };
  return (txMode, callback) => getDB().then((db) => callback(db.transaction(storeName, txMode).objectStore(storeName)));
}

/**
 * idb-keyval's store, plus what a credential store needs on top: compare-and-set in one
 * transaction, one reopen of a connection the engine closed, an open timeout, and letting
 * another tab's version upgrade through.
 */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): AtomicCredentialStore {
  if (options === null || typeof options !== 'object') throw badConfig('indexedDbStore', 'options must be an object such as { dbName }');
  refuseUnknownOptions(options, ['dbName', 'storeName', 'openTimeoutMs'], 'indexedDbStore');
  const dbName = options.dbName ?? 'sealed-rpc';
  const storeName = options.storeName ?? 'credentials';
  const openTimeoutMs = options.openTimeoutMs ?? 5_000;
  for (const [name, v] of [['dbName', dbName], ['storeName', storeName]] as const) if (typeof v !== 'string' || v === '') throw badConfig(name, 'must be a non-empty string');
  // A NaN or 0 here would give up on every open at once: the memory fallback for good.
  if (!isTimerMs(openTimeoutMs)) throw badConfig('openTimeoutMs', `must be 1 to ${MAX_TIMER_MS} ms`);
  // Opened on first use, not at construction: a page without IndexedDB still builds its client.
  let current: UseStore | undefined;
  /** The connection an operation already went through: its operations need no open timeout. */
  let proven: UseStore | undefined;
  /** Its open connections (never the store itself: what `collected` closes once the store is gone). */
  const live = new Set<IDBDatabase>();

  function open(): UseStore {
    if (current) return current;
    if (typeof indexedDB === 'undefined') throw domError('IndexedDB is not available', 'NotSupportedError');
    const use = createStore(dbName, storeName, live);
    current = use;
    // Another tab upgrading the database asks us to let go instead of blocking it; the next use reopens.
    use('readonly', (s) => {
      const db = s.transaction.db;
      db.onversionchange = () => {
        db.close();
        if (current === use) current = undefined;
      };
      // The engine closed it: idb-keyval reopens on next use, which is an open again.
      db.addEventListener('close', () => {
        if (proven === use) proven = undefined;
      });
    }).catch(() => {});
    return use;
  }

  async function run<T>(work: (use: UseStore) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const use = open();
        // A proven connection may wait behind another tab's transaction (slow, not broken), but
        // not for ever: an operation that never answers (seen in Safari) would hold every later
        // issuance. Past the bound it is a fault, and the records move to memory.
        const result = await withTimeout(work(use), use === proven ? Math.min(openTimeoutMs * PROVEN_BOUND, MAX_TIMER_MS) : openTimeoutMs);
        if (current === use) proven = use;
        return result;
      } catch (e) {
        // "The database connection is closing": reopen once, then let the caller fall back.
        if (attempt === 0 && errorName(e) === 'InvalidStateError') {
          current = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  const store: AtomicCredentialStore = {
    kind: 'indexeddb',
    get: <C>(key: string) => run((use) => get<StoredCredential<C>>(key, use)),
    set: <C>(key: string, value: StoredCredential<C>) => run((use) => set(key, value, use)),
    delete: (key: string) => run((use) => del(key, use)),
    compareAndSet: <C>(key: string, expectedVersion: number, record: StoredCredential<C>) =>
      // One readwrite transaction: IndexedDB runs overlapping readwrite transactions one at a
      // time, across tabs too, so the read and the write cannot interleave with another writer's.
      run((use) =>
        use('readwrite', async (s): Promise<CasResult<C>> => {
          const cur = (await promisifyRequest(s.get(key))) as StoredCredential<C> | undefined;
          if (versionOf(cur) !== expectedVersion) return { ok: false, current: cur };
          s.put(record, key); // a DataCloneError is thrown here, synchronously
          await promisifyRequest(s.transaction);
          return { ok: true, current: record };
        }),
      ),
  };
  selfBounded.add(store);
  collected?.register(store, live);
  return store;
}

/** Stores that bound their own operations (indexedDbStore: openTimeoutMs), which withMemoryFallback leaves as they are. */
const selfBounded = new WeakSet<CredentialStore>();

/**
 * Wraps a store so that a storage fault never breaks a call. On a failure the records move
 * to memory and `onFallback` is told why (the error's name, nothing else), once. A value
 * the store cannot clone (DataCloneError) is kept in memory and only its version and expiry
 * are stored, so other tabs still see that a newer record exists. With `boundMs`, an
 * operation of an app's own store that has not answered by then is a fault too
 * (TimeoutError): one that never answers would otherwise hold every later call
 * (indexedDbStore bounds its own, by its openTimeoutMs).
 */
export function withMemoryFallback(given: CredentialStore, onFallback: (reason: string) => void, boundMs?: number): AtomicCredentialStore {
  const primary: CredentialStore = boundMs === undefined || selfBounded.has(given) ? given : boundedStore(given, boundMs);
  const memory = memoryStore();
  /** Records whose value only this page can hold (DataCloneError), by key. */
  const pinned = new Map<string, StoredCredential>();
  let active: CredentialStore = primary;
  const told = new Set<string>();
  const tell = (reason: string) => {
    if (told.has(reason)) return;
    told.add(reason);
    try {
      onFallback(reason);
    } catch {
      // a listener's failure is not the store's
    }
  };
  const fallBack = (e: unknown) => {
    if (active === memory) return;
    active = memory;
    // Keep what this page already holds.
    for (const [k, r] of pinned) void memory.set(k, r);
    told.clear();
    tell(errorName(e));
  };
  const isCloneError = (e: unknown) => errorName(e) === 'DataCloneError';

  function preferPinned<C>(key: string, raw: StoredCredential<C> | undefined): StoredCredential<C> | undefined {
    const p = pinned.get(key) as StoredCredential<C> | undefined;
    if (p && versionOf(p) >= versionOf(raw)) return p;
    return raw;
  }

  async function get<C>(key: string): Promise<StoredCredential<C> | undefined> {
    if (active !== memory) {
      try {
        return preferPinned(key, await active.get<C>(key));
      } catch (e) {
        fallBack(e);
      }
    }
    return memory.get<C>(key);
  }

  async function set<C>(key: string, value: StoredCredential<C>): Promise<void> {
    if (active !== memory) {
      try {
        await active.set(key, value);
        pinned.delete(key);
        return;
      } catch (e) {
        if (isCloneError(e)) {
          pinned.set(key, value as StoredCredential);
          tell('DataCloneError');
          try {
            await active.set(key, strippedRecord(value));
            return;
          } catch (e2) {
            fallBack(e2);
          }
        } else fallBack(e);
      }
    }
    await memory.set(key, value);
  }

  async function compareAndSet<C>(key: string, expectedVersion: number, record: StoredCredential<C>): Promise<CasResult<C>> {
    if (active !== memory) {
      const cas = (r: StoredCredential<C>) => compareAndSetAny(active, key, expectedVersion, r);
      try {
        const r = await cas(record);
        if (r.ok) pinned.delete(key);
        else r.current = preferPinned(key, r.current);
        return r;
      } catch (e) {
        if (isCloneError(e)) {
          tell('DataCloneError');
          try {
            const r = await cas(strippedRecord(record) as StoredCredential<C>);
            if (!r.ok) return r;
            pinned.set(key, record as StoredCredential);
            return { ok: true, current: record };
          } catch (e2) {
            fallBack(e2);
          }
        } else fallBack(e);
      }
      // The store failed mid-write: nothing to compare against any more; memory takes it.
      await memory.set(key, record);
      return { ok: true, current: record };
    }
    return memory.compareAndSet(key, expectedVersion, record);
  }

  async function del(key: string): Promise<void> {
    pinned.delete(key);
    await memory.delete(key); // first: a call made meanwhile must not find the old record
    if (active !== memory) {
      try {
        await active.delete(key);
      } catch (e) {
        fallBack(e);
      }
    } else {
      // Fallen back, yet the store may still hold an earlier record (a logout must not leave it
      // for the next page load): try it, best effort, not waited for (a store that hangs must
      // not hold the logout), and stay in memory whatever happens.
      void primary.delete(key).catch(() => {});
    }
  }

  return {
    get kind() {
      return active.kind;
    },
    get,
    set,
    delete: del,
    compareAndSet,
  };
}

/**
 * `store` with each operation given up after `ms` (TimeoutError); its compareAndSet kept where
 * it has one. An operation given up may still land: a later delete of its key waits for it
 * first, so a write that lands late cannot bring back a record a logout deleted.
 */
function boundedStore(store: CredentialStore, ms: number): CredentialStore {
  const late = new Map<string, Set<Promise<unknown>>>();
  const bound = <T>(key: string, p: Promise<T>): Promise<T> =>
    withTimeout(p, ms, 'the credential store').catch((e: unknown) => {
      const pending = late.get(key) ?? new Set();
      late.set(key, pending.add(p));
      const settled = () => {
        pending.delete(p);
        if (pending.size === 0 && late.get(key) === pending) late.delete(key);
      };
      p.then(settled, settled);
      throw e;
    });
  const bounded: CredentialStore = {
    kind: store.kind,
    get: (key) => bound(key, store.get(key)),
    set: (key, value) => bound(key, store.set(key, value)),
    delete: async (key) => {
      await Promise.allSettled([...(late.get(key) ?? [])]);
      return bound(key, store.delete(key));
    },
  };
  if (!hasCompareAndSet(store)) return bounded;
  return { ...bounded, compareAndSet: (key, expectedVersion, record) => bound(key, store.compareAndSet(key, expectedVersion, record)) } as AtomicCredentialStore;
}
