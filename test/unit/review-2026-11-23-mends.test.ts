/**
 * Mends from the review of 2026-11-23 (credentials, events, createClient): a hung store
 * operation, a logout after a storage fallback, versions across a logout, one issuance per
 * cause, listeners and onError that fail, and config mistakes that were accepted.
 */
import { describe, expect, it } from 'vitest';
import { CredentialManager } from '../../src/credentials/manager.js';
import { createLock } from '../../src/credentials/lock.js';
import { indexedDbStore, memoryStore, withMemoryFallback } from '../../src/credentials/store.js';
import { createClient } from '../../src/index.js';
import { RpcError } from '../../src/errors.js';
import type { CredentialStore, Profile, StoredCredential } from '../../src/types.js';
import { echo, issuedProfile, staticProfile, thrown } from '../helpers/client-doubles.js';
import { testPatches } from '../helpers/patch.js';

const { patch } = testPatches();
let seq = 0;
const freshDb = () => `review-1123-${++seq}-${Math.random().toString(36).slice(2)}`;
const pageLock = () => createLock({ locks: null, storage: null });

/** What the process reports as uncaught (exceptions, rejections) while `fn` runs and shortly after. */
async function uncaughtDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const saved = { ex: process.listeners('uncaughtException'), rej: process.listeners('unhandledRejection') };
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  const on = (e: unknown) => void seen.push(String(e));
  process.on('uncaughtException', on);
  process.on('unhandledRejection', on);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50)); // nextTick / microtask / timer reports
  } finally {
    process.removeListener('uncaughtException', on);
    process.removeListener('unhandledRejection', on);
    for (const l of saved.ex) process.on('uncaughtException', l as never);
    for (const l of saved.rej) process.on('unhandledRejection', l as never);
  }
  return seen;
}

describe('credential store faults', () => {
  it('an IndexedDB operation that never answers on an open connection is given up (6 × openTimeoutMs): the store falls back to memory and the call renews, instead of every call timing out until reload', async () => {
    let issued = 0;
    let gatewayAccepts = 1;
    const profile: Profile = {
      ...issuedProfile('hung-store', () => ({ value: ++issued })),
      async seal(call, cred) {
        return { wire: { path: '/x', method: 'POST', headers: {}, body: JSON.stringify({ cred }), operationType: call.operationType }, state: undefined };
      },
      async open(res) {
        const { cred } = JSON.parse(res.body);
        if (cred < gatewayAccepts) throw new RpcError('CREDENTIAL_EXPIRED', 'expired');
        return cred;
      },
    };
    const fallbacks: string[] = [];
    const client = createClient({ profile, transport: echo, store: indexedDbStore({ dbName: freshDb(), openTimeoutMs: 50 }), timeoutMs: 3_000 });
    client.events.on('storage-fallback', (e) => fallbacks.push(e.reason));
    expect(await client.call('/op')).toBe(1); // the connection is open and proven now
    const realGet = IDBObjectStore.prototype.get;
    let hang = true;
    patch(IDBObjectStore.prototype, 'get', function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['get']>) {
      if (hang) {
        hang = false;
        return {} as IDBRequest; // a request whose events never fire
      }
      return realGet.apply(this, args);
    } as IDBObjectStore['get']);
    gatewayAccepts = 2;
    expect(await client.call('/op')).toBe(2);
    expect(fallbacks).toEqual(['TimeoutError']);
    expect(await client.call('/op')).toBe(2);
  });

  it('clear() after the store fell back to memory still deletes the record IndexedDB holds: a logout sticks across a reload', async () => {
    const dbName = freshDb();
    const seed = new CredentialManager<string>({ store: indexedDbStore({ dbName }), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'old-session' }) });
    await seed.current();
    const primary = indexedDbStore({ dbName });
    const realGet = primary.get;
    let first = true;
    primary.get = (<C>(key: string) => {
      if (first) {
        first = false;
        return Promise.reject(Object.assign(new Error('IndexedDB did not answer in time'), { name: 'TimeoutError' }));
      }
      return realGet<C>(key);
    }) as typeof primary.get;
    const m = new CredentialManager<string>({ store: withMemoryFallback(primary, () => {}), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'this-page' }) });
    expect((await m.current()).value).toBe('this-page');
    await m.clear();
    const reloaded = new CredentialManager<string>({ store: indexedDbStore({ dbName }), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'after-logout' }) });
    expect((await reloaded.current()).value).toBe('after-logout');
  });

  /** A primary that failed (so the records are in memory) and whose delete takes `deleteMs`, or never answers. */
  function failedPrimary(deleteMs: number | 'never'): CredentialStore {
    const timeout = async () => {
      throw Object.assign(new Error('IndexedDB did not answer in time'), { name: 'TimeoutError' });
    };
    return { kind: 'custom', get: timeout, set: timeout, delete: () => new Promise<void>((r) => deleteMs !== 'never' && setTimeout(r, deleteMs)) };
  }

  it('clear() after a fallback: a call made while the store still deletes gets a new credential, not the logged-out one', async () => {
    let n = 0;
    const m = new CredentialManager<string>({ store: withMemoryFallback(failedPrimary(200), () => {}), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'cred-' + ++n }) });
    expect((await m.current()).value).toBe('cred-1');
    const logout = m.clear();
    const after = await m.current();
    await logout;
    expect(after.value).toBe('cred-2');
  });

  it('clear() after a fallback does not wait for a store that never answers its delete', async () => {
    const m = new CredentialManager<string>({ store: withMemoryFallback(failedPrimary('never'), () => {}), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'c' }) });
    await m.current();
    expect(await Promise.race([m.clear().then(() => 'cleared'), new Promise((r) => setTimeout(() => r('still waiting after 500 ms'), 500))])).toBe('cleared');
  });

  it('the largest openTimeoutMs accepted does not overflow the bound of an open connection (6 × it would, and time out at once)', async () => {
    const dbName = freshDb();
    const store = indexedDbStore({ dbName, openTimeoutMs: 2 ** 31 - 1 });
    await store.set('k', { version: 1, value: 'v' } as StoredCredential); // opened and proven
    // Another tab holds a readwrite transaction for ~30 ms: the read waits behind it.
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(dbName);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const tx = db.transaction('credentials', 'readwrite');
    const until = Date.now() + 30;
    const spin = () => (tx.objectStore('credentials').get('k').onsuccess = () => void (Date.now() < until && spin()));
    spin();
    const done = new Promise((r) => (tx.oncomplete = r));
    const outcome = await store.get('k').then(() => 'answered', (e: Error) => e.name);
    await done;
    db.close();
    expect(outcome).toBe('answered');
  });

  it('indexedDbStore refuses an option it does not read (dbname for dbName) as BAD_CONFIG naming it', () => {
    const err = thrown(() => indexedDbStore({ dbname: 'my-app' } as never));
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.details).toEqual({ option: 'dbname' });
  });
});

describe('issuance: versions and one issuance per cause', () => {
  it('versions keep growing across clear(): a call that failed with the pre-logout credential takes the post-logout one, and nothing more is issued', async () => {
    let n = 0;
    const m = new CredentialManager<string>({ store: memoryStore(), key: 'k', now: Date.now, lock: pageLock(), issue: async () => ({ value: 'cred-' + ++n }) });
    const before = await m.current();
    await m.clear();
    const after = await m.current();
    expect(after.value).toBe('cred-2');
    expect(after.version).toBeGreaterThan(before.version);
    expect((await m.renew(before)).value).toBe('cred-2');
    expect(n).toBe(2);
  });

  it('the resend after CREDENTIAL_EXPIRED uses the credential renew() gave, even one inside the expiry margin: 2 issuances, not 3', async () => {
    let issued = 0;
    let sent = 0;
    const profile: Profile = {
      ...issuedProfile('one-renewal', () => ({ value: 'c' + ++issued, expiresAt: Date.now() + 1_000 })),
      async seal(call, cred) {
        return { wire: { path: '/x', method: 'POST', headers: {}, body: JSON.stringify({ first: sent === 0, cred }), operationType: call.operationType }, state: undefined };
      },
      async open(res) {
        const body = JSON.parse(res.body);
        if (body.first) throw new RpcError('CREDENTIAL_EXPIRED', 'expired');
        return body;
      },
    };
    const transport = {
      async send(req: { path: string; body?: string }) {
        if (req.path === '/x') sent++;
        return { status: 200, headers: {}, body: req.body ?? '{}' };
      },
    };
    expect(await createClient({ profile, transport, store: memoryStore() }).call('/op', {})).toEqual({ first: false, cred: 'c2' });
    expect(issued).toBe(2);
  });
});

describe('listeners and onError that fail', () => {
  it('an events.on listener that throws, or an async one that rejects: the call resolves and nothing is uncaught (Node would end the process)', async () => {
    let result: unknown;
    const uncaught = await uncaughtDuring(async () => {
      const client = createClient({ profile: issuedProfile('listener-throws'), transport: echo, store: memoryStore() });
      client.events.on('issued', () => {
        throw new Error('listener bug');
      });
      client.events.on('issued', async () => {
        throw new Error('async listener bug');
      });
      result = await client.call('/x', { a: '1' });
    });
    expect(result).toEqual({ a: '1' });
    expect(uncaught).toEqual([]);
  });

  it('a listener that throws does not keep the next listener from its event', async () => {
    const client = createClient({ profile: issuedProfile('listener-order'), transport: echo, store: memoryStore() });
    const got: number[] = [];
    client.events.on('issued', () => {
      throw new Error('first listener bug');
    });
    client.events.on('issued', (e) => void got.push(e.version));
    await uncaughtDuring(() => client.call('/x', {}));
    expect(got).toEqual([1]);
  });

  it('an async onError that rejects: the caller gets the RpcError and nothing is uncaught', async () => {
    let err: unknown;
    const uncaught = await uncaughtDuring(async () => {
      const client = createClient({
        profile: staticProfile,
        transport: { send: async () => ({ status: 200, headers: {}, body: 'not json' }) },
        onError: async () => {
          throw new Error('toast failed');
        },
      });
      await client.call('/x', {}).catch((e: unknown) => (err = e));
    });
    expect((err as RpcError).code).toBe('RESPONSE_UNREADABLE');
    expect(uncaught).toEqual([]);
  });

  it('events.on with a listener that is not a function is BAD_CONFIG at once, not a TypeError when the event fires', () => {
    const client = createClient({ profile: staticProfile, transport: echo, store: memoryStore() });
    expect(thrown(() => client.events.on('issued', undefined as never))?.code).toBe('BAD_CONFIG');
  });
});

describe('events carry what they say', () => {
  it('clock-corrected is emitted only when the offset changes (an issuance whose server time matches the clock changes nothing)', async () => {
    let serverTime = 1_700_000_000_000;
    const client = createClient({ profile: issuedProfile('clock-same', () => ({ value: 'c', serverTime })), transport: echo, store: memoryStore(), clock: { now: () => 1_700_000_000_000 } });
    const seen: unknown[] = [];
    client.events.on('clock-corrected', (d) => void seen.push(d));
    await client.call('/x', {});
    expect(seen).toEqual([]);
    serverTime += 5_000;
    await client.credentials!.renew(undefined, true);
    expect(seen).toEqual([{ offsetMs: 5_000, previousOffsetMs: 0, source: 'issuance' }]);
  });

  it("a profile's describe() cannot replace the issued event's version or expiry", async () => {
    const profile: Profile = { ...issuedProfile('describe-first', () => ({ value: 'c', expiresAt: 4_000_000_000_000 })), describe: () => ({ appId: 'A1', version: 99, expiresAt: 1 }) as never };
    const client = createClient({ profile, transport: echo, store: memoryStore() });
    const seen: unknown[] = [];
    client.events.on('issued', (d) => void seen.push(d));
    await client.call('/x', {});
    expect(seen).toEqual([{ appId: 'A1', version: 1, expiresAt: 4_000_000_000_000 }]);
  });
});

describe('createClient config mistakes it accepted', () => {
  it('store: null or credentials: null is BAD_CONFIG naming it (it quietly meant IndexedDB)', () => {
    for (const name of ['store', 'credentials'] as const) {
      const err = thrown(() => createClient({ profile: issuedProfile('null-store'), transport: echo, [name]: null as never }));
      expect(err?.code, name).toBe('BAD_CONFIG');
      expect(err?.details).toEqual({ option: name });
      expect(err?.message).toMatch(/memoryStore\(\) for no persistence/);
    }
  });

  it('an issued-credential profile without a storeKey is BAD_CONFIG naming profile, unless createClient is given storeKey', () => {
    const { storeKey: _drop, ...noKey } = issuedProfile('x');
    const err = thrown(() => createClient({ profile: noKey as never, transport: echo, store: memoryStore() }));
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.details).toEqual({ option: 'profile' });
    expect(thrown(() => createClient({ profile: noKey as never, transport: echo, store: memoryStore(), storeKey: 'mine' }))).toBeUndefined();
  });
});
