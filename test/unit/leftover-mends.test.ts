/**
 * Leftovers of earlier reviews, mended: each test names what a user met before.
 */
import { describe, expect, it } from 'vitest';
import { createClient, appSecret, sortedSign, memoryStore } from '../../src/index.js';
import { createGateway, appSecret as appSecretGateway, sortedSign as sortedSignGateway, signPackage, signPackageDetached, signRsaSha256, runCli } from '../../src/server/index.js';
import { verifyPackage } from '../../src/package/index.js';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { zipSync } from 'fflate';
import { memIo } from '../helpers/cli-io.js';
import { createLock, LEASE_PREFIX, type StorageLike } from '../../src/credentials/lock.js';
import { inProcess } from '../helpers/in-process.js';

const PUBLIC_SECRET = 'pUbLiC-sEcReT-16';
const APP_KEY = 'aPpKeY-16-chars!';

describe('legacy gateways: an operation registered without its leading / is the one the client calls', () => {
  // Before: app-secret and sorted-sign find an operation by the request's path, and the client
  // sends call('user/get') to /user/get, so .operation('user/get', …) could never be called (404).
  const cases = [
    ['app-secret', () => createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }) }), appSecret({ publicSecret: PUBLIC_SECRET })],
    ['sorted-sign', () => createGateway({ profile: sortedSignGateway({ apps: { '10001': APP_KEY } }) }), sortedSign({ appId: '10001', appKey: APP_KEY })],
  ] as const;
  for (const [name, gatewayOf, profile] of cases) {
    it(`${name}: .operation('user/get') answers call('user/get') and call('/user/get')`, async () => {
      const gateway = gatewayOf().operation('user/get', ({ id }: { id: string }) => ({ id, name: 'Ada' }));
      const client = createClient({ profile, transport: inProcess(gateway), store: memoryStore() });
      expect(await client.call('user/get', { id: '7' })).toEqual({ id: '7', name: 'Ada' });
      expect(await client.call('/user/get', { id: '8' })).toEqual({ id: '8', name: 'Ada' });
      expect(gateway.stats().executions).toBe(2);
    });

    it(`${name}: 'user/get' and '/user/get' are one name, so the second registration is refused`, () => {
      const gateway = gatewayOf().operation('user/get', () => ({}));
      expect(() => gateway.operation('/user/get', () => ({}))).toThrow(/already registered/);
    });
  }
});

/** One origin's localStorage, shared by the fake tabs. */
class FakeStorage implements StorageLike {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, String(v));
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

describe('storage lease (no Web Locks): a tab closed mid-issuance does not keep the others waiting', () => {
  it('pagehide releases the lease the closing tab holds: the next tab takes it at once, not after the lease expires or maxWaitMs', async () => {
    const storage = new FakeStorage();
    const page = new EventTarget();
    // The wall clock stands still: the closing tab's lease could only expire by time after maxWaitMs.
    const now = () => 1_700_000_000_000;
    const opts = { locks: null, storage, now, settleMs: 5, pollMs: 5, leaseMs: 10_000, maxWaitMs: 1_500 };
    const closing = createLock({ ...opts, ownerId: 'closing', pageEvents: page });
    const next = createLock({ ...opts, ownerId: 'next', pageEvents: null });

    let releaseClosing!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    // The closing tab is mid-issuance: its work never ends while the page is there.
    const closingRun = closing.run('k', () => (entered(), new Promise<void>((r) => (releaseClosing = r))));
    await inside;
    expect(JSON.parse(storage.getItem(LEASE_PREFIX + 'k')!).owner).toMatch(/^closing:/);

    page.dispatchEvent(new Event('pagehide'));
    // Whose lease is there while the next tab works: its own (it took the lock), not the closing tab's
    // (which it would only have run past, unlocked, once maxWaitMs was over).
    const holder = await next.run('k', async () => JSON.parse(storage.getItem(LEASE_PREFIX + 'k')!).owner as string);
    expect(holder).toMatch(/^next:/);

    releaseClosing();
    await closingRun;
    expect(storage.getItem(LEASE_PREFIX + 'k')).toBeNull();
  });

  it("a pagehide after the tab's run ended removes nothing (another tab's lease stays), and the listener is gone", async () => {
    const storage = new FakeStorage();
    const listeners: string[] = [];
    const page = new EventTarget();
    const add = page.addEventListener.bind(page);
    const remove = page.removeEventListener.bind(page);
    const events = {
      addEventListener: (t: string, l: EventListener) => (listeners.push(t), add(t, l)),
      removeEventListener: (t: string, l: EventListener) => (listeners.splice(listeners.indexOf(t), 1), remove(t, l)),
    };
    const lock = createLock({ locks: null, storage, settleMs: 5, pollMs: 5, ownerId: 'a', pageEvents: events });
    await lock.run('k', async () => expect(listeners).toEqual(['pagehide']));
    expect(listeners).toEqual([]);
    storage.setItem(LEASE_PREFIX + 'k', JSON.stringify({ owner: 'b:1', expires: Date.now() + 10_000 }));
    page.dispatchEvent(new Event('pagehide'));
    expect(JSON.parse(storage.getItem(LEASE_PREFIX + 'k')!).owner).toBe('b:1');
  });
});

describe('RSA signing refuses a key under 2048 bits; verification still takes one', () => {
  // Before: keygen-rsa refused --bits 1024, but sign-package, signPackage and signRsaSha256 signed
  // with any 1024-bit key they were given.
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const weakPem = weak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const weakPub = weak.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const zip = zipSync({ 'index.html': new TextEncoder().encode('<p>hi</p>') });

  it('signPackage, signPackageDetached and signRsaSha256: BAD_CONFIG naming privateKeyPem and the key size, never the key', async () => {
    for (const attempt of [() => signPackage(zip, weakPem), () => signPackageDetached(zip, weakPem), () => signRsaSha256('x', weakPem)]) {
      const e = await attempt().then(() => undefined, (x: unknown) => x);
      expect(e).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'privateKeyPem' } });
      expect((e as Error).message).toMatch(/1024-bit RSA key is too weak.*2048/);
      expect((e as Error).message).not.toContain(weakPem.split('\n')[1]);
    }
  });

  it('sealed-rpc sign-package --key <1024-bit key>: exit 1, the message names --key and the size, nothing written', async () => {
    const files = new Map<string, Uint8Array | string>([['in.zip', zip], ['weak.pem', weakPem]]);
    const io = memIo(files);
    expect(await runCli(['sign-package', 'in.zip', '--key', 'weak.pem', '-o', 'out.amr'], io)).toBe(1);
    expect(io.err.join('')).toMatch(/--key weak\.pem: a 1024-bit RSA key is too weak/);
    expect(files.has('out.amr')).toBe(false);
  });

  it('a package signed elsewhere with a 1024-bit key (an older push service) still verifies', async () => {
    const signature = nodeSign('sha256', zip, weak.privateKey);
    const out = await verifyPackage(zip, { publicKey: weakPub, signature });
    expect(Object.keys(out.files)).toEqual(['index.html']);
  });
});
