/** Mends in the credential layer: clear() against an issuance in flight. */
import { describe, expect, it } from 'vitest';
import { CredentialManager } from '../../src/credentials/manager.js';
import { createLock } from '../../src/credentials/lock.js';
import { memoryStore } from '../../src/credentials/store.js';
import type { CredentialStore, StoredCredential } from '../../src/types.js';
import { deferred, type Deferred } from '../helpers/servers.js';

const KEY = 'test:creds';


/** A manager whose issuances wait for `release`; `started` resolves when one begins. */
function gatedManager(store: CredentialStore) {
  let n = 0;
  let started = deferred();
  let release = deferred();
  const m = new CredentialManager<string>({
    store,
    key: KEY,
    now: Date.now,
    lock: createLock({ locks: null, storage: null }),
    issue: async () => {
      n++;
      started.resolve();
      await release.promise;
      return { value: 'credential-' + n, expiresAt: Date.now() + 60_000 };
    },
  });
  return {
    m,
    issued: () => n,
    started: () => started.promise,
    release: () => release.resolve(),
    rearm: () => {
      started = deferred();
      release = deferred();
    },
  };
}

describe('clear() during an in-flight issuance', () => {
  it('after clear() resolves and the issuance settles, neither the store nor the cache holds the credential; the waiting call still gets it once, and the next call issues anew', async () => {
    const store = memoryStore();
    const g = gatedManager(store);
    const pending = g.m.current();
    await g.started();
    await g.m.clear();
    g.release();
    expect((await pending).value).toBe('credential-1');
    expect(await store.get(KEY)).toBeUndefined();
    expect(g.m.peek()).toBeUndefined();
    g.rearm();
    g.release();
    expect((await g.m.current()).value).toBe('credential-2');
    expect(g.issued()).toBe(2);
    expect((await store.get<string>(KEY))?.value).toBe('credential-2');
  });

  it("clear() landing inside the issuance's check-then-write (a store without compareAndSet): the record written after clear's delete is removed again", async () => {
    const map = new Map<string, StoredCredential>();
    let hold: { reached: Deferred; open: Deferred } | undefined;
    const store: CredentialStore = {
      kind: 'custom',
      async get<C>(key: string) {
        const h = hold;
        if (h) {
          hold = undefined;
          h.reached.resolve();
          await h.open.promise;
        }
        return map.get(key) as StoredCredential<C> | undefined;
      },
      async set<C>(key: string, value: StoredCredential<C>) {
        map.set(key, value as StoredCredential);
      },
      async delete(key: string) {
        map.delete(key);
      },
    };
    const g = gatedManager(store);
    const pending = g.m.current();
    await g.started();
    hold = { reached: deferred(), open: deferred() };
    const h = hold;
    g.release(); // the write's read now waits on the gate
    await h.reached.promise;
    await g.m.clear();
    h.open.resolve(); // the read saw no record, so the write goes ahead after clear's delete
    await pending;
    expect(map.has(KEY)).toBe(false);
    expect(g.m.peek()).toBeUndefined();
  });

  it('a first store read begun before clear() does not bring the cleared record back into the cache', async () => {
    const map = new Map<string, StoredCredential>();
    map.set(KEY, { schema: 2, version: 1, value: 'old-credential', expiresAt: Date.now() + 60_000 } as StoredCredential);
    const reached = deferred();
    const open = deferred();
    let first = true;
    const store: CredentialStore = {
      kind: 'custom',
      async get<C>(key: string) {
        const v = map.get(key);
        if (first) {
          first = false;
          reached.resolve();
          await open.promise;
        }
        return v as StoredCredential<C> | undefined;
      },
      async set<C>(key: string, value: StoredCredential<C>) {
        map.set(key, value as StoredCredential);
      },
      async delete(key: string) {
        map.delete(key);
      },
    };
    const g = gatedManager(store);
    g.release(); // issuances answer at once here
    const pending = g.m.current();
    await reached.promise;
    await g.m.clear();
    open.resolve();
    expect((await pending).value).toBe('credential-1');
    expect(g.m.peek()?.value).toBe('credential-1');
  });
});
