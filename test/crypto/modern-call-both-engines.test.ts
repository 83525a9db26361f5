/**
 * A whole `modern` session on whichever engine this project runs: WebCrypto in `node`,
 * pure-JS noble in `no-subtle` (crypto.subtle removed, as on an insecure http: page).
 * Client and gateway in one process, through the gateway's web-standard handler.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/codec/hex.js';
import { ecSignKey } from '../../src/crypto/ec.js';
import { createClient, memoryStore, modern, RpcError, type Transport } from '../../src/index.js';
import { createGateway, modern as modernGateway } from '../../src/server/index.js';

const engine = globalThis.crypto.subtle ? 'WebCrypto' : 'noble (no crypto.subtle)';

describe(`modern end to end on ${engine}`, () => {
  it('issues, calls with Unicode, refuses a tampered answer, and renews after expiry', async () => {
    const scalar = fromHex('7c'.repeat(32));
    const pub = (await ecSignKey(scalar)).publicRaw;
    const b64u = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const jwk = { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) };
    const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: scalar } }) }).operation('/echo', (p) => p);
    let tamper = false;
    const transport: Transport = {
      async send(req) {
        const res = await gateway.handle(new Request('http://gw.local' + req.path, { method: req.method, headers: req.headers, body: req.body }));
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => (headers[k] = v));
        const body = await res.text();
        // Tampering changes one character of a call's answer (never the issuance).
        const flipped = body.slice(0, 5) + (body[5] === 'A' ? 'B' : 'A') + body.slice(6);
        return { status: res.status, headers, body: tamper && req.path !== '/issue' ? flipped : body };
      },
    };
    const client = createClient({ profile: modern({ serverKeys: { k1: jwk } }), transport, store: memoryStore() });
    const params = { text: '你好 🌏 héllo', n: 42 };
    expect(await client.call('/echo', params)).toEqual(params);
    const cred = client.credentials!.peek()!.value as { reqKey: unknown };
    // On the pure-JS path the key is raw bytes (there is no CryptoKey without subtle); on WebCrypto a CryptoKey.
    expect(globalThis.crypto.subtle ? cred.reqKey instanceof CryptoKey : cred.reqKey instanceof Uint8Array).toBe(true);
    tamper = true;
    const err = await client.call('/echo', params).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('RESPONSE_TAMPERED');
    tamper = false;
    gateway.expireCredentials();
    expect(await client.call('/echo', { again: '1' })).toEqual({ again: '1' });
    expect(gateway.stats().issuances).toBe(2);
  });
});
