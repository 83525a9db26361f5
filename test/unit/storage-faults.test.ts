/**
 * Storage faults in the credential store and manager, each with the failure the browser
 * really raises (fake-indexeddb underneath, its methods made to fail the way engines do):
 * quota, corrupt and old-schema records, a closing connection, a CryptoKey that cannot be
 * cloned, and another tab writing the record mid-renewal. None may fail the call.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CredentialManager } from '../../src/credentials/manager.js';
import { CREDENTIAL_SCHEMA, readRecord, versionOf } from '../../src/credentials/record.js';
import { indexedDbStore, memoryStore, withMemoryFallback, type AtomicCredentialStore } from '../../src/credentials/store.js';
import type { CrossTabLock } from '../../src/credentials/lock.js';
import { createClient, modern, type Client } from '../../src/index.js';
import type { CredentialStore, StoredCredential } from '../../src/types.js';
import { deferred, modernGateway } from '../helpers/servers.js';
import { inProcess } from '../helpers/in-process.js';
import { testPatches } from '../helpers/patch.js';
import { echo, issuedProfile, nativeStore } from '../helpers/client-doubles.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { patch, onRestore } = testPatches();

let dbSeq = 0;
const freshDb = () => `faults-${++dbSeq}-${Math.random().toString(36).slice(2)}`;

/** Read what IndexedDB really holds under a key (no wrapper in between). */
async function rawRecord(dbName: string, key: string): Promise<unknown> {
  return indexedDbStore({ dbName }).get(key);
}

async function setup(dbName = freshDb()) {
  const { gateway, serverKeys } = await modernGateway();
  const transport = inProcess(gateway);
  /** `shared`: one store object (one connection) for every client, as one page would have. */
  const shared = indexedDbStore({ dbName });
  const make = (sameConnection = false): { client: Client; fallbacks: { reason: string; store: string }[] } => {
    const client = createClient({ profile: modern({ serverKeys }), transport, store: sameConnection ? shared : indexedDbStore({ dbName }), storeKey: 'creds' });
    const fallbacks: { reason: string; store: string }[] = [];
    client.events.on('storage-fallback', (e) => fallbacks.push(e));
    return { client, fallbacks };
  };
  return { gateway, dbName, make };
}

function containsCryptoKey(v: unknown, depth = 0): boolean {
  if (v instanceof CryptoKey) return true;
  if (depth > 4 || v === null || typeof v !== 'object') return false;
  return Object.values(v).some((x) => containsCryptoKey(x, depth + 1));
}

describe('quota exceeded on write', () => {
  it('QuotaExceededError on put: the call still succeeds, the record is kept in memory (no second issuance), storage-fallback fires once', async () => {
    const { gateway, make } = await setup();
    patch(IDBObjectStore.prototype, 'put', function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    } as IDBObjectStore['put']);
    const { client, fallbacks } = make();
    expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
    expect(await client.call('/echo', { a: '2' })).toEqual({ a: '2' });
    expect(gateway.stats().issuances).toBe(1);
    expect(client.credentials!.peek()?.version).toBe(1);
    expect(fallbacks).toEqual([{ reason: 'QuotaExceededError', store: 'indexeddb' }]);
  });

  it('QuotaExceededError reported by the transaction (abort after put): same outcome', async () => {
    const { gateway, make } = await setup();
    const realPut = IDBObjectStore.prototype.put;
    patch(IDBObjectStore.prototype, 'put', function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      const req = realPut.apply(this, args);
      const tx = this.transaction;
      // What engines do: the write fails later, the transaction aborts with the quota error.
      Object.defineProperty(tx, 'error', { value: new DOMException('The quota has been exceeded.', 'QuotaExceededError') });
      tx.abort();
      return req;
    } as IDBObjectStore['put']);
    const { client, fallbacks } = make();
    expect(await client.call('/echo', { b: '1' })).toEqual({ b: '1' });
    await client.call('/echo', { b: '2' });
    expect(gateway.stats().issuances).toBe(1);
    expect(fallbacks).toEqual([{ reason: 'QuotaExceededError', store: 'indexeddb' }]);
  });
});

describe('corrupt and old-schema records', () => {
  const future = Date.now() + 3_600_000;
  // [label, stored record, the version the re-issued record must carry] (written out, not computed by the code under test)
  const bad: [string, unknown, number][] = [
    ['a number', 42, 1],
    ['a string', 'credential', 1],
    ['an array', [1, 2, 3], 1],
    ['an empty object', {}, 1],
    ['a record from before the schema field (the previous release)', { version: 7, value: { appId: 'old', expiresAt: future, reqKey: 'x', resKey: 'y' }, expiresAt: future }, 8],
    ['a record of an older schema', { schema: CREDENTIAL_SCHEMA - 1, version: 3, value: { appId: 'old' }, expiresAt: future }, 4],
    ['a record of an unknown (newer) schema', { schema: CREDENTIAL_SCHEMA + 7, version: 3, value: { appId: 'new' }, expiresAt: future }, 4],
    ['a schema that is not a number', { schema: 'two', version: 3, value: { appId: 'x' } }, 4],
    ['a version that is not a number', { schema: CREDENTIAL_SCHEMA, version: 'one', value: { appId: 'x' }, expiresAt: future }, 1],
    ['a negative version', { schema: CREDENTIAL_SCHEMA, version: -4, value: { appId: 'x' }, expiresAt: future }, 1],
    ['no value', { schema: CREDENTIAL_SCHEMA, version: 2, expiresAt: future }, 3],
    ['a null value', { schema: CREDENTIAL_SCHEMA, version: 2, value: null, expiresAt: future }, 3],
    ['an expiry that is not a number', { schema: CREDENTIAL_SCHEMA, version: 2, value: { appId: 'x' }, expiresAt: 'tomorrow' }, 3],
    ['a memory-only stub from another tab', { schema: CREDENTIAL_SCHEMA, version: 5, memoryOnly: true, expiresAt: future }, 6],
  ];

  for (const [label, record, nextVersion] of bad) {
    it(`${label}: ignored and re-issued, the call succeeds, the new record is schema ${CREDENTIAL_SCHEMA} with a higher version`, async () => {
      const { gateway, dbName, make } = await setup();
      await indexedDbStore({ dbName }).set('creds', record as StoredCredential);
      const { client, fallbacks } = make();
      expect(await client.call('/echo', { ok: label })).toEqual({ ok: label });
      expect(gateway.stats().issuances).toBe(1);
      expect(fallbacks).toEqual([]);
      const stored = (await rawRecord(dbName, 'creds')) as { schema: number; version: number };
      expect(stored.schema).toBe(CREDENTIAL_SCHEMA);
      expect(stored.version).toBe(nextVersion);
      expect(readRecord(stored).record).toBeDefined();
    });
  }

  it('readRecord names the problem for each kind of bad record and never throws', () => {
    const problems = bad.map(([, r]) => readRecord(r).problem);
    expect(problems).toEqual(['corrupt', 'corrupt', 'corrupt', 'old-schema', 'old-schema', 'old-schema', 'unknown-schema', 'corrupt', 'corrupt', 'corrupt', 'incomplete', 'incomplete', 'corrupt', 'memory-only']);
    const hostile = {
      get schema(): number {
        throw new Error('getter');
      },
    };
    expect(readRecord(hostile).problem).toBe('corrupt');
    expect(versionOf(hostile)).toBe(0);
  });

  it('a current-schema record whose value fails the dialect check (validate) is re-issued', async () => {
    const store = memoryStore();
    await store.set('k', { schema: CREDENTIAL_SCHEMA, version: 4, value: { appId: 'x' }, expiresAt: Date.now() + 60_000 } as StoredCredential);
    let issued = 0;
    const m = new CredentialManager<{ appId: string; key: string }>({
      store,
      key: 'k',
      now: Date.now,
      lock: passThrough,
      validate: (v) => typeof (v as { key?: unknown })?.key === 'string',
      issue: async () => ({ value: { appId: 'fresh', key: 'k' + ++issued } }),
    });
    expect((await m.current()).value).toEqual({ appId: 'fresh', key: 'k1' });
    expect((await store.get('k'))?.version).toBe(5);
  });

  it('a current-schema modern record with missing keys is not used: the profile rejects it and the client re-issues, the call succeeds', async () => {
    const { gateway, dbName, make } = await setup();
    await indexedDbStore({ dbName }).set('creds', { schema: CREDENTIAL_SCHEMA, version: 2, value: { appId: 'x', expiresAt: Date.now() + 3_600_000 }, expiresAt: Date.now() + 3_600_000 } as StoredCredential);
    const { client } = make();
    expect(await client.call('/echo', { ok: '1' })).toEqual({ ok: '1' });
    expect(gateway.stats().issuances).toBe(1);
    expect((await indexedDbStore({ dbName }).get('creds'))?.version).toBe(3);
  });
});

describe('a connection that is closing (InvalidStateError)', () => {
  function countOpens(): { opens: number } {
    const counter = { opens: 0 };
    const realOpen = indexedDB.open.bind(indexedDB);
    patch(indexedDB, 'open', ((name: string, version?: number) => {
      counter.opens++;
      return realOpen(name, version);
    }) as IDBFactory['open']);
    return counter;
  }

  it('the page closed the connection under the store: reopened once, silently, the call succeeds', async () => {
    const { gateway, dbName, make } = await setup();
    const { client } = make(true);
    await client.call('/echo', { n: '1' });
    // Find the store's connection and close it the way a page or an engine would.
    const realTransaction = IDBDatabase.prototype.transaction;
    let closedOne = false;
    patch(IDBDatabase.prototype, 'transaction', function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
      if (!closedOne && this.name === dbName) {
        closedOne = true;
        this.close(); // "The database connection is closing."
      }
      return realTransaction.apply(this, args);
    } as IDBDatabase['transaction']);
    const counter = countOpens();
    // A second client on the same connection (say, another module of the page) reads the store.
    const { client: other, fallbacks } = make(true);
    expect(await other.call('/echo', { n: '2' })).toEqual({ n: '2' });
    expect(closedOne).toBe(true);
    expect(counter.opens).toBe(1); // one reopen
    expect(fallbacks).toEqual([]);
    expect(gateway.stats().issuances).toBe(1); // the stored credential was read after the reopen
  });

  it('InvalidStateError on every transaction: one reopen, then the memory fallback with one storage-fallback event', async () => {
    const { gateway, make } = await setup();
    const counter = countOpens();
    const realTransaction = IDBDatabase.prototype.transaction;
    patch(IDBDatabase.prototype, 'transaction', function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
      // The store's own transactions only (fake-indexeddb opens with one of its own).
      if (args[0] === 'credentials') throw new DOMException('The database connection is closing.', 'InvalidStateError');
      return realTransaction.apply(this, args);
    } as IDBDatabase['transaction']);
    const { client, fallbacks } = make();
    expect(await client.call('/echo', { n: '1' })).toEqual({ n: '1' });
    expect(await client.call('/echo', { n: '2' })).toEqual({ n: '2' });
    expect(counter.opens).toBe(2); // the first open, and one reopen
    expect(fallbacks).toEqual([{ reason: 'InvalidStateError', store: 'indexeddb' }]);
    expect(gateway.stats().issuances).toBe(1);
  });

  it('another tab upgrading the database: the store lets go (versionchange) instead of blocking it, and reopens on next use', async () => {
    const dbName = freshDb();
    const store = indexedDbStore({ dbName });
    await store.set('k', { schema: CREDENTIAL_SCHEMA, version: 1, value: 'v' } as StoredCredential);
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(dbName, 5);
      req.onupgradeneeded = () => undefined;
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('blocked by the store'));
    });
    expect(upgraded.version).toBe(5);
    upgraded.close();
    expect((await store.get('k'))?.value).toBe('v');
  });

  it('IndexedDB missing entirely: memory, one event, the call succeeds', async () => {
    const { gateway, make } = await setup();
    const real = globalThis.indexedDB;
    Object.defineProperty(globalThis, 'indexedDB', { configurable: true, value: undefined });
    onRestore(() => Object.defineProperty(globalThis, 'indexedDB', { configurable: true, value: real }));
    const { client, fallbacks } = make();
    expect(await client.call('/echo', { z: '1' })).toEqual({ z: '1' });
    expect(fallbacks).toEqual([{ reason: 'NotSupportedError', store: 'indexeddb' }]);
    expect(gateway.stats().issuances).toBe(1);
  });

  it('an open that never answers (some private modes): given up after openTimeoutMs, memory fallback', async () => {
    patch(indexedDB, 'open', (() => ({}) as IDBOpenDBRequest) as IDBFactory['open']);
    const fallbacks: string[] = [];
    const store = withMemoryFallback(indexedDbStore({ dbName: freshDb(), openTimeoutMs: 50 }), (r) => fallbacks.push(r));
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', { version: 1, value: 'v' });
    expect((await store.get('k'))?.value).toBe('v');
    expect(fallbacks).toEqual(['TimeoutError']);
  });
});

describe('a slow transaction on an open connection (queued behind another tab\'s)', () => {
  it('is not a broken store: openTimeoutMs bounds (re)opening only, the answer still comes from IndexedDB, no fallback', async () => {
    const dbName = freshDb();
    const fallbacks: string[] = [];
    const store = withMemoryFallback(indexedDbStore({ dbName, openTimeoutMs: 50 }), (r) => fallbacks.push(r));
    await store.set('k', { schema: CREDENTIAL_SCHEMA, version: 1, value: 'stored' } as StoredCredential); // the open: fast
    // "Another tab" holds a readwrite transaction on the same object store for 200 ms.
    const other = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(dbName);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const until = Date.now() + 200;
    const busy = new Promise<void>((resolve) => {
      const tx = other.transaction('credentials', 'readwrite');
      const os = tx.objectStore('credentials');
      // A new request from each success keeps the transaction alive (fake-indexeddb answers on setImmediate, so timers still run).
      const spin = () => {
        if (Date.now() < until) os.get('k').onsuccess = spin;
      };
      os.get('k').onsuccess = spin;
      tx.oncomplete = () => {
        otherDone = true;
        resolve();
      };
    });
    let otherDone = false;
    const got = await store.get('k');
    expect(otherDone).toBe(true); // it really waited behind the other transaction (and was not given up on)
    expect(got?.value).toBe('stored');
    expect(store.kind).toBe('indexeddb');
    expect(fallbacks).toEqual([]);
    await busy;
    other.close();
  });
});

describe('custom storeName', () => {
  it('two stores with different storeNames on one existing database both persist (the missing object store is added, not a NotFoundError)', async () => {
    const dbName = freshDb();
    const first = { schema: CREDENTIAL_SCHEMA, version: 1, value: 'in credentials' };
    const second = { schema: CREDENTIAL_SCHEMA, version: 1, value: 'in other' };
    const a = indexedDbStore({ dbName });
    await a.set('k', first); // creates the database with the default object store
    const b = indexedDbStore({ dbName, storeName: 'other' });
    await b.set('k', second);
    expect(await b.get('k')).toEqual(second);
    expect(await a.get('k')).toEqual(first);
    // A page load later: fresh connections read both back.
    expect(await indexedDbStore({ dbName }).get('k')).toEqual(first);
    expect(await indexedDbStore({ dbName, storeName: 'other' }).get('k')).toEqual(second);
  });

  it('a connection reopened after the engine closed the first one lets another storeName\'s upgrade through (no memory fallback behind it)', async () => {
    const dbName = freshDb();
    const opened: IDBDatabase[] = [];
    const realOpen = indexedDB.open.bind(indexedDB);
    patch(indexedDB, 'open', ((name: string, version?: number) => {
      const req = version === undefined ? realOpen(name) : realOpen(name, version);
      req.addEventListener('success', () => opened.push(req.result));
      return req;
    }) as IDBFactory['open']);
    const record = { schema: CREDENTIAL_SCHEMA, version: 1, value: 'v' };
    const a = indexedDbStore({ dbName });
    await a.set('k', record);
    // The engine closes it (storage pressure, a cleared site): fake-indexeddb's own forced close
    // fires 'close' as a browser does (its module is not exported, so it is loaded by path).
    const { default: closeConnection } = (await import(pathToFileURL(join(REPO_ROOT, 'node_modules/fake-indexeddb/build/esm/lib/closeConnection.js')).href)) as {
      default: (connection: IDBDatabase, forced: boolean) => void;
    };
    closeConnection(opened[opened.length - 1], true);
    expect(await a.get('k')).toEqual(record);
    expect(opened.length).toBe(2);
    const fallbacks: string[] = [];
    const b = withMemoryFallback(indexedDbStore({ dbName, storeName: 'other', openTimeoutMs: 300 }), (r) => fallbacks.push(r));
    await b.set('k', record);
    expect(fallbacks).toEqual([]);
    expect(b.kind).toBe('indexeddb');
    expect(await indexedDbStore({ dbName, storeName: 'other' }).get('k')).toEqual(record);
  });
});

describe('concurrent first callers', () => {
  it('ten concurrent current() on a store holding a fresh record: one store read, no issuance', async () => {
    const store = memoryStore();
    await store.set('k', { schema: CREDENTIAL_SCHEMA, version: 2, value: 'stored', expiresAt: Date.now() + 60_000 } as StoredCredential);
    const realGet = store.get.bind(store);
    let reads = 0;
    store.get = async (key) => {
      reads++;
      await new Promise((r) => setTimeout(r, 10));
      return realGet(key);
    };
    let issued = 0;
    const m = new CredentialManager<string>({ store, key: 'k', now: Date.now, lock: passThrough, issue: async () => ({ value: 'v' + ++issued }) });
    const all = await Promise.all(Array.from({ length: 10 }, () => m.current()));
    expect(all.map((r) => r.value)).toEqual(Array(10).fill('stored'));
    expect(reads).toBe(1);
    expect(issued).toBe(0);
  });
});

describe('DataCloneError when storing a CryptoKey', () => {
  it('the call succeeds, the full record stays in memory, IndexedDB keeps only version and expiry (no key material), one event', async () => {
    const { gateway, dbName, make } = await setup();
    const realPut = IDBObjectStore.prototype.put;
    patch(IDBObjectStore.prototype, 'put', function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (containsCryptoKey(value)) throw new DOMException('CryptoKey could not be cloned.', 'DataCloneError');
      return realPut.call(this, value, key);
    } as IDBObjectStore['put']);
    const { client, fallbacks } = make();
    expect(await client.call('/echo', { k: '1' })).toEqual({ k: '1' });
    expect(await client.call('/echo', { k: '2' })).toEqual({ k: '2' });
    expect(gateway.stats().issuances).toBe(1);
    expect(fallbacks).toEqual([{ reason: 'DataCloneError', store: 'indexeddb' }]);
    const stored = (await rawRecord(dbName, 'creds')) as Record<string, unknown>;
    expect(stored).toEqual({ schema: CREDENTIAL_SCHEMA, version: 1, memoryOnly: true, expiresAt: client.credentials!.peek()!.expiresAt });
    // A new page (no memory) cannot use the stub: it issues its own, with the next version.
    const second = make();
    await second.client.call('/echo', { k: '3' });
    expect(gateway.stats().issuances).toBe(2);
    expect(((await rawRecord(dbName, 'creds')) as { version: number }).version).toBe(2);
  });
});

/** A lock that does nothing: as if Web Locks were missing and the fallback lost. */
const passThrough: CrossTabLock = { kind: 'local', run: (_name, fn) => fn() };


describe('another tab writing the record mid-renewal: compare-and-swap on version, no lost update', () => {
  for (const [label, makeStore] of [
    ['memoryStore', () => memoryStore()],
    ['indexedDbStore', () => indexedDbStore({ dbName: freshDb() })],
    ['indexedDbStore behind withMemoryFallback (what createClient uses)', () => withMemoryFallback(indexedDbStore({ dbName: freshDb() }), () => {})],
  ] as const) {
    it(`${label}: two managers renew at once without a working lock; the loser adopts the winner's record instead of overwriting it`, async () => {
      const store: AtomicCredentialStore = makeStore();
      await store.set('k', { schema: CREDENTIAL_SCHEMA, version: 3, value: 'expired', expiresAt: Date.now() - 1 } as StoredCredential);
      const gates = { A: deferred<void>(), B: deferred<void>() };
      const issuedEvents: string[] = [];
      const make = (name: 'A' | 'B') =>
        new CredentialManager<string>({
          store,
          key: 'k',
          now: Date.now,
          lock: passThrough,
          issue: async () => {
            await gates[name].promise;
            return { value: 'from-' + name, expiresAt: Date.now() + 60_000 };
          },
          onIssued: (r) => issuedEvents.push(`${name}:v${r.version}:${r.value}`),
        });
      const A = make('A');
      const B = make('B');
      const pa = A.current();
      const pb = B.current();
      await new Promise((r) => setTimeout(r, 20)); // both have read version 3 and are issuing
      gates.B.resolve();
      const rb = await pb;
      gates.A.resolve();
      const ra = await pa;
      expect(rb).toMatchObject({ version: 4, value: 'from-B' });
      expect(ra).toMatchObject({ version: 4, value: 'from-B' }); // A adopted B's record
      expect(await store.get('k')).toMatchObject({ version: 4, value: 'from-B', schema: CREDENTIAL_SCHEMA });
      expect(issuedEvents).toEqual(['B:v4:from-B']);
      expect(A.peek()).toEqual(B.peek());
    });
  }

  it('the winner left a record this tab cannot use (a memory-only stub): the loser writes its own over it, with the next version', async () => {
    const store = memoryStore();
    const realCas = store.compareAndSet.bind(store);
    let raced = false;
    // Another tab's write lands between our read and our swap.
    store.compareAndSet = async (key, expected, record) => {
      if (!raced) {
        raced = true;
        await store.set(key, { schema: CREDENTIAL_SCHEMA, version: expected + 1, memoryOnly: true, expiresAt: Date.now() + 60_000 } as unknown as StoredCredential);
      }
      return realCas(key, expected, record);
    };
    const m = new CredentialManager<string>({ store, key: 'k', now: Date.now, lock: passThrough, issue: async () => ({ value: 'mine', expiresAt: Date.now() + 60_000 }) });
    expect(await m.current()).toMatchObject({ version: 2, value: 'mine' });
    expect(await store.get('k')).toMatchObject({ version: 2, value: 'mine' });
  });

  it('a store without compareAndSet (a custom CredentialStore): check-then-write still adopts a record written since the read', async () => {
    const map = new Map<string, StoredCredential>();
    let reads = 0;
    const custom: CredentialStore = {
      kind: 'custom',
      async get<C>(key: string) {
        reads++;
        // The second read (just before the write) sees another tab's fresh record.
        if (reads === 2) map.set(key, { schema: CREDENTIAL_SCHEMA, version: 1, value: 'theirs', expiresAt: Date.now() + 60_000 } as StoredCredential);
        return map.get(key) as StoredCredential<C> | undefined;
      },
      async set(key, value) {
        map.set(key, value);
      },
      async delete(key) {
        map.delete(key);
      },
    };
    const m = new CredentialManager<string>({ store: custom, key: 'k', now: Date.now, lock: passThrough, issue: async () => ({ value: 'mine', expiresAt: Date.now() + 60_000 }) });
    expect(await m.current()).toMatchObject({ version: 1, value: 'theirs' });
    expect(map.get('k')).toMatchObject({ value: 'theirs' });
  });

  it('a store that throws on every call never fails the call: the manager keeps the credential in memory', async () => {
    const broken: CredentialStore = {
      kind: 'broken',
      get: async () => {
        throw new DOMException('x', 'UnknownError');
      },
      set: async () => {
        throw new DOMException('x', 'UnknownError');
      },
      delete: async () => {
        throw new DOMException('x', 'UnknownError');
      },
    };
    let n = 0;
    const m = new CredentialManager<string>({ store: broken, key: 'k', now: Date.now, lock: passThrough, issue: async () => ({ value: 'v' + ++n }) });
    expect((await m.current()).value).toBe('v1');
    expect((await m.current()).value).toBe('v1');
    await m.clear();
    expect(m.peek()).toBeUndefined();
  });

  it('records this release writes carry the schema and a version that grows by one per issuance', async () => {
    const store = memoryStore();
    let n = 0;
    const m = new CredentialManager<string>({ store, key: 'k', now: Date.now, lock: passThrough, issue: async () => ({ value: 'v' + ++n, expiresAt: Date.now() + 60_000 }) });
    const first = await m.current();
    const second = await m.renew(first);
    expect([first.version, second.version]).toEqual([1, 2]);
    expect(await store.get('k')).toEqual({ schema: CREDENTIAL_SCHEMA, version: 2, value: 'v2', expiresAt: second.expiresAt });
  });
});

describe("an app's own store that never answers (e.g. a native bridge that does not reply)", () => {
  // IndexedDB bounds its own operations; an app's store is given up after half the client's
  // timeoutMs (at most 5 s), so the call that met the fault still succeeds.
  it('a get that never answers is given up within the call: storage-fallback (TimeoutError), the call succeeds, and later calls do not wait on the hung read', async () => {
    const { store } = nativeStore({ get: () => new Promise<never>(() => {}) });
    let issued = 0;
    const client = createClient({ profile: issuedProfile('hung-get', () => ({ value: 'c' + ++issued })), transport: echo, store, timeoutMs: 300 });
    const fallbacks: unknown[] = [];
    client.events.on('storage-fallback', (e) => fallbacks.push(e));
    expect(await client.call('/op', { n: 1 })).toEqual({ n: 1 });
    expect(await client.call('/op', { n: 2 })).toEqual({ n: 2 });
    expect(fallbacks).toEqual([{ reason: 'TimeoutError', store: 'native-bridge' }]);
    expect(issued).toBe(1);
  });

  it('clear() (a logout) resolves when the store never answers its delete, and the next call gets a new credential', async () => {
    const { store } = nativeStore({ delete: () => new Promise<never>(() => {}) });
    let issued = 0;
    const client = createClient({ profile: issuedProfile('hung-delete', () => ({ value: 'c' + ++issued })), transport: echo, store, timeoutMs: 300 });
    await client.call('/op', {});
    const outcome = await Promise.race([client.credentials!.clear().then(() => 'cleared'), new Promise((r) => setTimeout(r, 2_000, 'still clearing'))]);
    expect(outcome).toBe('cleared');
    await client.call('/op', {});
    expect(issued).toBe(2);
  });

  it('a write given up that lands after a logout does not bring the credential back for the next page load (the delete waits for it)', async () => {
    // Slow writes (a native round trip), quick deletes: without the wait, the old write would land last.
    const { map, store } = nativeStore({});
    const quickSet = store.set.bind(store);
    store.set = (k, v) => new Promise<void>((r) => setTimeout(r, 600)).then(() => quickSet(k, v));
    let issued = 0;
    const profile = () => issuedProfile('late-write', () => ({ value: 'c' + ++issued }));
    const client = createClient({ profile: profile(), transport: echo, store, timeoutMs: 200 });
    expect(await client.call('/op', {}, { timeoutMs: 5_000 })).toEqual({});
    await client.credentials!.clear();
    await new Promise((r) => setTimeout(r, 900)); // the given-up write lands, then the delete runs
    expect(map.size).toBe(0);
    const nextPage = createClient({ profile: profile(), transport: echo, store, timeoutMs: 5_000 });
    await nextPage.call('/op', {});
    expect(issued).toBe(2);
  });

  it('indexedDbStore() passed as store keeps its own bounds, as the default one does: a read queued 700 ms behind another tab\'s transaction is no fallback, whatever the client\'s timeoutMs', async () => {
    const dbName = 'own-bounds-' + Math.random().toString(36).slice(2);
    // "Another tab" holds a readwrite transaction for ~700 ms.
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(dbName);
      r.onupgradeneeded = () => r.result.createObjectStore('credentials');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const until = Date.now() + 700;
    const tx = db.transaction('credentials', 'readwrite');
    const os = tx.objectStore('credentials');
    const spin = (): void => {
      os.put(Date.now(), 'busy').onsuccess = () => {
        if (Date.now() < until) spin();
      };
    };
    spin();
    const txDone = new Promise<void>((r) => (tx.oncomplete = () => r()));
    const client = createClient({ profile: issuedProfile('own-bounds', () => ({ value: 'c' })), transport: echo, store: indexedDbStore({ dbName }), timeoutMs: 200 });
    const fallbacks: unknown[] = [];
    client.events.on('storage-fallback', (e) => fallbacks.push(e));
    expect(await client.call('/op', { n: 1 }, { timeoutMs: 5_000 })).toEqual({ n: 1 });
    await txDone;
    db.close();
    expect(fallbacks).toEqual([]);
  });
});
