/**
 * The `modern` client, mends from the third review of 2026-11-23: a stored credential is
 * tied to the pinned keys (not only their kids) and checked for the shape issue() gives it;
 * an operationType the x-op header cannot carry as signed is refused before sending; a
 * misspelt profile option is refused.
 */
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, modern, type Transport, type WireRequest } from '../../src/index.js';
import { failure, modernGateway } from '../helpers/servers.js';
import { inProcess } from '../helpers/in-process.js';

const FAR = 4_102_444_800_000; // 2100-01-01

/** A store holding one schema-2 record under `key`, as another page or release could have left it. */
async function storeWith(key: string, value: unknown) {
  const store = memoryStore();
  await store.set(key, { schema: 2, version: 1, expiresAt: FAR, value } as never);
  return store;
}

function counting(t: Transport, sent: WireRequest[]): Transport {
  return { ...t, async send(req, o) { sent.push(req); return t.send(req, o); } };
}

describe('a stored credential of another shape than issue() makes is refused and re-issued', () => {
  it('a stored modern credential whose appId is not the 22-character b64u of 16 bytes (here: not a header-safe string) is refused and re-issued (not used until 2100)', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const transport = counting(inProcess(gateway), sent);
    const profile = modern({ serverKeys });
    const storeKey = `${profile.storeKey}@`;
    const s = globalThis.crypto.subtle;
    const k = () => s.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
    // An appId that is not b64u (never something issue() accepts) and cannot travel in a header:
    // every call fails NETWORK, no renewal, until the record's expiry. (An ASCII malformed appId is
    // answered 401 by the gateway and renewed, so that case is fine.)
    const store = await storeWith(storeKey, { appId: '你好', expiresAt: FAR, reqKey: await k(), resKey: await k() });
    const client = createClient({ profile, transport, store });
    const outcome = await client.call('/echo', { a: '1' }).then((d) => ({ ok: d }), (e) => ({ err: (e as { code: string }).code }));
    const outcome2 = await client.call('/echo', { a: '2' }).then((d) => ({ ok: d }), (e) => ({ err: (e as { code: string }).code }));
    expect({ outcome, outcome2, issuances: sent.filter((r) => r.path === '/issue').length }).toEqual({ outcome: { ok: { a: '1' } }, outcome2: { ok: { a: '2' } }, issuances: 1 });
  });

  it('a stored modern credential whose keys are CryptoKeys of another algorithm (AES-CBC) is refused and re-issued', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const transport = counting(inProcess(gateway), sent);
    const profile = modern({ serverKeys });
    const s = globalThis.crypto.subtle;
    const cbc = () => s.importKey('raw', new Uint8Array(32), 'AES-CBC', false, ['encrypt', 'decrypt']);
    const store = await storeWith(`${profile.storeKey}@`, { appId: 'oKGio6SlpqeoqaqrrK2urw', expiresAt: FAR, reqKey: await cbc(), resKey: await cbc() });
    const client = createClient({ profile, transport, store });
    const outcome = await client.call('/echo', { a: '1' }).then((d) => ({ ok: d }), (e) => ({ err: (e as { code: string }).code }));
    const outcome2 = await client.call('/echo', { a: '2' }).then((d) => ({ ok: d }), (e) => ({ err: (e as { code: string }).code }));
    expect({ outcome, outcome2 }).toEqual({ outcome: { ok: { a: '1' } }, outcome2: { ok: { a: '2' } } });
  });
});

describe('a stored credential belongs to the pinned keys, not only to their kids', () => {
  it('a client pinning k1 = key B never uses a credential that was verified under k1 = key A (same store, same transport)', async () => {
    const a = await modernGateway(); // "old"/compromised key A, served under kid k1
    const b = await modernGateway(); // the key the new client pins, also under kid k1
    const store = memoryStore();
    // Both clients talk to the same base URL (transport id): the app after a key change under the same kid (a leaked key).
    const gwA = { ...inProcess(a.gateway), id: 'https://api.example' };
    const oldClient = createClient({ profile: modern({ serverKeys: a.serverKeys }), transport: gwA, store });
    expect(await oldClient.call('/echo', { x: 'old' })).toEqual({ x: 'old' });
    // The new build pins only key B; whoever holds key A still answers for that URL:
    const sent: WireRequest[] = [];
    const newClient = createClient({ profile: modern({ serverKeys: b.serverKeys }), transport: counting(gwA, sent), store });
    const outcome = await newClient.call('/echo', { x: 'new' }).then((d) => ({ ok: d }), (e) => ({ err: (e as { code: string }).code }));
    // The stored credential (key A's) is not this client's: it issues afresh, and key A's issuance is refused.
    expect({ issuances: sent.filter((r) => r.path === '/issue').length, outcome }).toEqual({ issuances: 1, outcome: { err: 'SIGNATURE_INVALID' } });
  });
});


describe('an operationType whose header form would differ from its signed form', () => {
  it("'/echo ' (trailing space): refused before sending (BAD_REQUEST), not sealed with an AAD the header cannot carry (-> 403 SIGNATURE_INVALID)", async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: modern({ serverKeys }), transport: counting(inProcess(gateway), sent), store: memoryStore() });
    const e = await failure(client.call('/echo ', { a: '1' }));
    // fetch/Request trims header values, so x-op arrives as "/echo" while the AAD says "/echo ".
    expect({ code: e.code, callsSent: sent.filter((r) => r.path !== '/issue').length }).toEqual({ code: 'BAD_REQUEST', callsSent: 0 });
  });
});

describe('modern() options', () => {
  it('a misspelt option (maxClockCorrectionMS) is refused as BAD_CONFIG, as createClient refuses its own, not silently replaced by the 24 h default', async () => {
    const { serverKeys } = await modernGateway();
    let thrown: unknown;
    let bound: number | undefined;
    try {
      bound = modern({ serverKeys, maxClockCorrectionMS: 60_000 } as never).maxClockCorrectionMs;
    } catch (e) {
      thrown = e;
    }
    expect({ code: (thrown as { code?: string } | undefined)?.code, bound }).toEqual({ code: 'BAD_CONFIG', bound: undefined });
  });
});

describe('a stored credential is still taken up by the same keys', () => {
  it('a second client with the same serverKeys (another page load) uses the stored credential: no second issuance', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const store = memoryStore();
    const sent: WireRequest[] = [];
    const transport = counting(inProcess(gateway), sent);
    expect(await createClient({ profile: modern({ serverKeys }), transport, store }).call('/echo', { n: 1 })).toEqual({ n: 1 });
    expect(await createClient({ profile: modern({ serverKeys: { ...serverKeys } }), transport, store }).call('/echo', { n: 2 })).toEqual({ n: 2 });
    expect(sent.filter((r) => r.path === '/issue')).toHaveLength(1);
  });
});
