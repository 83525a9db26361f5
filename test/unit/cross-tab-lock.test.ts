/**
 * Cross-tab single flight where `navigator.locks` is missing: the localStorage lease of
 * src/credentials/lock.ts. A "tab" here is a lock instance with its own page-local state
 * and owner id; tabs share one fake localStorage, as same-origin tabs share the real one.
 */
import { describe, expect, it } from 'vitest';
import { CredentialManager } from '../../src/credentials/manager.js';
import { createLock, defaultLock, LEASE_PREFIX, type CrossTabLock, type LockManagerLike, type StorageLike } from '../../src/credentials/lock.js';
import { indexedDbStore, memoryStore } from '../../src/credentials/store.js';
import type { CredentialStore } from '../../src/types.js';

/** One origin's localStorage, shared by the fake tabs. */
class FakeStorage implements StorageLike {
  readonly map = new Map<string, string>();
  writes = 0;
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.writes++;
    this.map.set(k, String(v));
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tab(storage: StorageLike, id: string, extra: Parameters<typeof createLock>[0] = {}): CrossTabLock {
  return createLock({ locks: null, storage, ownerId: id, settleMs: 5, pollMs: 5, leaseMs: 1_000, ...extra });
}

function manager(store: CredentialStore, lock: CrossTabLock, issued: { n: number }, issueMs = 30) {
  return new CredentialManager<string>({
    store,
    key: 'modern:k1:/issue@https://api.example.com',
    now: Date.now,
    lock,
    issue: async () => {
      const n = ++issued.n;
      await sleep(issueMs);
      return { value: 'credential-' + n, expiresAt: Date.now() + 60_000 };
    },
  });
}

describe('cross-tab lock without navigator.locks', () => {
  it('picks the fallback: Web Locks when given, a localStorage lease when only storage works, page-local otherwise', () => {
    const fakeLocks: LockManagerLike = { request: (_n, _o, cb) => cb() };
    expect(createLock({ locks: fakeLocks }).kind).toBe('web-locks');
    expect(createLock({ locks: null, storage: new FakeStorage() }).kind).toBe('storage-lease');
    expect(createLock({ locks: null, storage: null }).kind).toBe('local');
    // This Node process has neither navigator.locks nor localStorage.
    expect(defaultLock().kind).toBe('local');
  });

  it('two managers in two fake tabs sharing a store and a localStorage, both needing a credential at once: exactly one issuance, both use it', async () => {
    const storage = new FakeStorage();
    const store = memoryStore();
    const issued = { n: 0 };
    const a = manager(store, tab(storage, 'tab-a'), issued);
    const b = manager(store, tab(storage, 'tab-b'), issued);
    const [ra, rb] = await Promise.all([a.current(), b.current()]);
    expect(issued.n).toBe(1);
    expect(ra).toEqual(rb);
    expect(ra.value).toBe('credential-1');
    expect([...storage.map.keys()].filter((k) => k.startsWith(LEASE_PREFIX))).toEqual([]); // released
  });

  it('five tabs over one IndexedDB store, 20 concurrent calls each, after the credential expired: exactly one renewal', async () => {
    const storage = new FakeStorage();
    const store = indexedDbStore({ dbName: `lock-${Math.random()}` });
    const issued = { n: 0 };
    const tabs = Array.from({ length: 5 }, (_, i) => manager(store, tab(storage, 'tab-' + i), issued, 20));
    const first = await tabs[0].current();
    expect(issued.n).toBe(1);
    await Promise.all(tabs.map((m) => m.current())); // everyone has version 1 now
    const renewed = await Promise.all(tabs.flatMap((m) => Array.from({ length: 20 }, () => m.renew(first))));
    expect(issued.n).toBe(2);
    expect(new Set(renewed.map((r) => r.version))).toEqual(new Set([2]));
    expect(new Set(renewed.map((r) => r.value))).toEqual(new Set(['credential-2']));
  });

  it('control: the same two tabs with no lock at all issue twice, and the version check still leaves one record both adopt', async () => {
    const store = memoryStore();
    const issued = { n: 0 };
    const none: CrossTabLock = { kind: 'local', run: (_n, fn) => fn() };
    const a = manager(store, none, issued);
    const b = manager(store, none, issued);
    const [ra, rb] = await Promise.all([a.current(), b.current()]);
    expect(issued.n).toBe(2);
    expect(ra).toEqual(rb);
    expect((await store.get('modern:k1:/issue@https://api.example.com'))?.version).toBe(1);
  });

  it('mutual exclusion: three tabs starting at the same moment, 30 rounds, never inside the work together', async () => {
    const storage = new FakeStorage();
    const tabs = [tab(storage, 'x'), tab(storage, 'y'), tab(storage, 'z')];
    let inside = 0;
    let maxInside = 0;
    let runs = 0;
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        tabs.map((t) =>
          t.run('issue', async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await sleep(2);
            inside--;
            runs++;
          }),
        ),
      );
    }
    expect(runs).toBe(90);
    expect(maxInside).toBe(1);
  });

  it('a slow issuance keeps its lease (renewed while it runs) beyond leaseMs; another tab waits for it', async () => {
    const storage = new FakeStorage();
    const a = tab(storage, 'a', { leaseMs: 60 });
    const b = tab(storage, 'b', { leaseMs: 60 });
    const order: string[] = [];
    await Promise.all([
      a.run('issue', async () => {
        order.push('a:start');
        await sleep(250); // four lease lengths
        order.push('a:end');
      }),
      sleep(15).then(() =>
        b.run('issue', async () => {
          order.push('b:start');
        }),
      ),
    ]);
    expect(order).toEqual(['a:start', 'a:end', 'b:start']);
  });

  it('a lease left by a tab that died expires: the next tab takes it after leaseMs', async () => {
    const storage = new FakeStorage();
    const expires = Date.now() + 80;
    storage.setItem(LEASE_PREFIX + 'issue', JSON.stringify({ owner: 'dead-tab', expires }));
    let startedAt = 0;
    await tab(storage, 'alive').run('issue', async () => {
      startedAt = Date.now();
    });
    // Honoured until it expired (on the clock the lock reads), then taken.
    expect(startedAt).toBeGreaterThanOrEqual(expires);
  });

  it('a lease that never frees (its holder keeps renewing it): after maxWaitMs the work runs anyway', async () => {
    const storage = new FakeStorage();
    const key = LEASE_PREFIX + 'issue';
    const renew = () => storage.setItem(key, JSON.stringify({ owner: 'stuck-tab', expires: Date.now() + 900 }));
    renew();
    const timer = setInterval(renew, 20);
    try {
      let ran = false;
      await tab(storage, 'me', { maxWaitMs: 60 }).run('issue', async () => {
        ran = true;
      });
      expect(ran).toBe(true);
    } finally {
      clearInterval(timer);
    }
  });

  it('a lease expiring further ahead than any live holder writes (left by a tab whose clock was ahead) is stale: taken at once, not after maxWaitMs', async () => {
    const storage = new FakeStorage();
    storage.setItem(LEASE_PREFIX + 'issue', JSON.stringify({ owner: 'future-tab', expires: Date.now() + 86_400_000 }));
    const run = tab(storage, 'me', { maxWaitMs: 10_000 }).run('issue', async () => 'ran');
    expect(await Promise.race([run, sleep(3_000).then(() => 'still waiting')])).toBe('ran');
  });

  it('a corrupt lease record is treated as none', async () => {
    const storage = new FakeStorage();
    storage.setItem(LEASE_PREFIX + 'issue', '{not json');
    let ran = false;
    await tab(storage, 'me', { maxWaitMs: 10_000 }).run('issue', async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('the lease is released when the work throws, and the error reaches the caller', async () => {
    const storage = new FakeStorage();
    const t = tab(storage, 'me');
    await expect(
      t.run('issue', async () => {
        throw new Error('issuance failed');
      }),
    ).rejects.toThrow('issuance failed');
    expect(storage.getItem(LEASE_PREFIX + 'issue')).toBeNull();
    expect(await t.run('issue', async () => 'next')).toBe('next');
  });

  it('storage that throws (private mode, quota): the lock still serializes the calls of this page', async () => {
    const throwing: StorageLike = {
      getItem: () => {
        throw new DOMException('denied', 'SecurityError');
      },
      setItem: () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
      removeItem: () => {},
    };
    const t = createLock({ locks: null, storage: throwing });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        t.run('issue', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await sleep(2);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
  });

  it('with Web Locks present, the manager uses them (exclusive, named after the store key) and not the lease', async () => {
    const requests: { name: string; mode: string }[] = [];
    const fakeLocks: LockManagerLike = {
      request: async (name, options, cb) => {
        requests.push({ name, mode: options.mode });
        return cb();
      },
    };
    const storage = new FakeStorage();
    const issued = { n: 0 };
    const m = manager(memoryStore(), createLock({ locks: fakeLocks, storage }), issued, 1);
    await m.current();
    expect(requests).toEqual([{ name: 'sealed-rpc:modern:k1:/issue@https://api.example.com', mode: 'exclusive' }]);
    expect(storage.writes).toBe(0);
  });

  it('Web Locks refused before the work starts (SecurityError on an opaque origin): the lease fallback runs the work and the manager issues its credential', async () => {
    const refusing: LockManagerLike = {
      request: async () => {
        throw new DOMException('Access to the Locks API is denied in this context.', 'SecurityError');
      },
    };
    const storage = new FakeStorage();
    const issued = { n: 0 };
    const m = manager(memoryStore(), createLock({ locks: refusing, storage, settleMs: 5, pollMs: 5 }), issued, 1);
    const cred = await m.current();
    expect(cred.value).toBe('credential-1');
    expect(issued.n).toBe(1);
    expect(storage.writes).toBeGreaterThan(0); // the lease was used
    expect([...storage.map.keys()].filter((k) => k.startsWith(LEASE_PREFIX))).toEqual([]); // and released
  });

  it('after one refusal the lock says storage-lease and later runs go straight to the lease (Web Locks is not asked again)', async () => {
    let asked = 0;
    const refusing: LockManagerLike = {
      request: async () => {
        asked++;
        throw new DOMException('denied', 'SecurityError');
      },
    };
    const lock = createLock({ locks: refusing, storage: new FakeStorage(), settleMs: 5, pollMs: 5 });
    expect(lock.kind).toBe('web-locks');
    expect(await lock.run('issue', async () => 1)).toBe(1);
    expect(lock.kind).toBe('storage-lease');
    expect(await lock.run('issue', async () => 2)).toBe(2);
    expect(asked).toBe(1);
  });

  it('Web Locks: an error thrown by the work itself reaches the caller as is, and the work is not run again on the fallback', async () => {
    const fakeLocks: LockManagerLike = { request: async (_n, _o, cb) => cb() };
    const storage = new FakeStorage();
    let runs = 0;
    const failure = new Error('issuance failed');
    await expect(
      createLock({ locks: fakeLocks, storage }).run('issue', async () => {
        runs++;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(runs).toBe(1);
    expect(storage.writes).toBe(0);
  });

  it('Web Locks held by another tab beyond maxWaitMs: the wait gives up and the work runs anyway, as with the lease', async () => {
    // A lock another tab never releases; like the real API, the request rejects when its signal aborts.
    const held: LockManagerLike = {
      request: (_n, options) =>
        new Promise((_, reject) => {
          const signal = options.signal;
          signal?.addEventListener('abort', () => reject(new DOMException('The request was aborted.', 'AbortError')), { once: true });
        }),
    };
    const storage = new FakeStorage();
    const outcome = await Promise.race([createLock({ locks: held, storage, maxWaitMs: 30 }).run('issue', async () => 'ran'), sleep(5_000).then(() => 'still waiting')]);
    expect(outcome).toBe('ran');
    expect(storage.writes).toBe(0); // run unlocked, not on the lease
  });
});

describe('maxWaitMs bounds the whole wait, from the moment a run asks', () => {
  // Web Locks queue this page's runs with the other tabs' and give up at maxWaitMs; without them
  // (older Safari, web views) the page's own queue came first and was not bounded at all.
  for (const [label, storage] of [
    ['storage-lease', () => new FakeStorage()],
    ['local (no storage)', () => null],
  ] as const) {
    it(`${label}: a second run in this page behind one that takes 1.5 s starts after maxWaitMs (50 ms), not when the first ends`, async () => {
      const lock = createLock({ locks: null, storage: storage(), settleMs: 5, pollMs: 5, maxWaitMs: 50 });
      const t0 = Date.now();
      const first = lock.run('issue', () => sleep(1_500));
      await sleep(10);
      let startedAt = 0;
      await lock.run('issue', async () => {
        startedAt = Date.now() - t0;
      });
      await first;
      expect(startedAt).toBeGreaterThanOrEqual(45);
      expect(startedAt).toBeLessThan(600);
    });
  }

  it('local (no storage): a run that asked after another jumped the queue still waits for the holder that jumped-over run left running, until its own maxWaitMs', async () => {
    const lock = createLock({ locks: null, storage: null, maxWaitMs: 200 });
    const t0 = Date.now();
    const a = lock.run('issue', () => sleep(1_000)); // the holder, until ~1000 ms
    await sleep(5);
    const b = lock.run('issue', async () => {}); // asks at ~5 ms, jumps A at ~205 ms
    await sleep(150);
    let cStartedAt = 0;
    const c = lock.run('issue', async () => {
      cStartedAt = Date.now() - t0;
    }); // asks at ~155 ms: its own bound is ~355 ms (it started at ~205 ms, when B ended)
    await Promise.all([a, b, c]);
    expect(cStartedAt).toBeGreaterThanOrEqual(340);
  });

  it('storage-lease: the wall clock stepping back an hour while a tab waits does not stretch maxWaitMs (the wait is timed by a timer)', async () => {
    const storage = new FakeStorage();
    let skew = 0;
    const now = () => Date.now() + skew;
    const key = LEASE_PREFIX + 'issue';
    // Another tab holds the lease and keeps renewing it on the same clock (its issuance is slow).
    const renew = () => storage.setItem(key, JSON.stringify({ owner: 'busy-tab', expires: now() + 900 }));
    renew();
    const timer = setInterval(renew, 20);
    try {
      const run = createLock({ locks: null, storage, now, settleMs: 5, pollMs: 5, leaseMs: 1_000, maxWaitMs: 100 }).run('issue', async () => 'ran');
      await sleep(20);
      skew = -3_600_000;
      renew();
      expect(await Promise.race([run, sleep(2_000).then(() => 'still waiting')])).toBe('ran');
    } finally {
      clearInterval(timer);
    }
  });
});
