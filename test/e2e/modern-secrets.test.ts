/**
 * The secret scan for `modern`: run the failure scenarios with keys the test knows
 * (fixed ephemeral scalars, so reqKey/resKey are computable) and search every error,
 * String(err), JSON.stringify(err), event payload and console line for them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/codec/base64.js';
import { fromHex } from '../../src/codec/hex.js';
import { ecdhDerive, ecdhFromScalar } from '../../src/crypto/ec.js';
import { createClient, fetchTransport, memoryStore, modern, indexedDbStore, type Transport } from '../../src/index.js';
import { deriveSessionKeys } from '../../src/profiles/modern.js';
import { createGateway, modern as modernGateway, toNodeHandler } from '../../src/server/index.js';
import { findSecrets, OutputCollector } from '../helpers/secret-scan.js';
import { listen, signingKey, type Running } from '../helpers/servers.js';

const running: Running[] = [];
afterAll(async () => Promise.all(running.map((r) => r.close())));

describe('no secret in any error, event or console line (modern)', () => {
  it('failure scenarios leak no key: signing key, ephemeral scalars, ECDH secret, reqKey, resKey', async () => {
    const clientScalar = fromHex('5a'.repeat(32));
    const serverScalar = fromHex('6b'.repeat(32));
    const key = await signingKey();
    const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem }, ephemeral: () => ecdhFromScalar(serverScalar) }) })
      .operation('/echo', (p) => p)
      .operation('/boom', () => {
        throw new Error('internal failure with a stack');
      });
    const srv = await listen(toNodeHandler(gateway));
    running.push(srv);
    const out = new OutputCollector();
    out.captureConsole();
    const base = fetchTransport({ baseUrl: srv.url });
    let issuanceBody = '';
    type Mode = 'pass' | 'flip' | 'replay' | 'garbage' | 'drop';
    let mode = 'pass' as Mode;
    let last = '';
    const transport: Transport = {
      async send(req, o) {
        if (mode === 'drop') throw new TypeError('fetch failed');
        const res = await base.send(req, o);
        if (req.path === '/issue') {
          issuanceBody = res.body;
          return res;
        }
        if (mode === 'flip') return { ...res, body: res.body.slice(0, 20) + (res.body[20] === 'A' ? 'B' : 'A') + res.body.slice(21) };
        if (mode === 'replay' && last) return { ...res, body: last };
        if (mode === 'garbage') return { ...res, body: '{"ok":true,"data":"unsealed"}' };
        last = res.body;
        return res;
      },
    };
    try {
      const client = createClient({ profile: modern({ serverKeys: { k1: key.jwk }, ephemeral: () => ecdhFromScalar(clientScalar) }), transport, store: memoryStore() });
      out.events(client);
      await client.call('/echo', { a: '1' });
      const scenarios: [Mode, string, Record<string, unknown>][] = [
        ['flip', '/echo', {}],
        ['replay', '/echo', { b: '2' }],
        ['garbage', '/echo', {}],
        ['drop', '/echo', {}],
        ['pass', '/boom', {}],
        ['pass', '/missing', {}],
      ];
      for (const [m, op, params] of scenarios) {
        mode = m;
        await client.call(op, params).then(
          () => out.lines.push('unexpected success'),
          (e) => out.error(e),
        );
      }
      mode = 'pass';
      gateway.expireCredentials();
      await client.call('/echo', { c: '3' }); // renewal path: issued/renewed events
      // Issuance refused: a client pinned to another key.
      const other = await signingKey();
      const pinnedWrong = createClient({ profile: modern({ serverKeys: { k1: other.jwk } }), transport: base, store: memoryStore() });
      out.events(pinnedWrong);
      await pinnedWrong.call('/echo', {}).then(() => out.lines.push('unexpected'), (e) => out.error(e));
      // Storage that throws.
      const realOpen = indexedDB.open;
      (indexedDB as { open: unknown }).open = () => {
        throw new DOMException('nope', 'InvalidStateError');
      };
      try {
        const fallback = createClient({ profile: modern({ serverKeys: { k1: key.jwk } }), transport: base, store: indexedDbStore({ dbName: 'scan' }) });
        out.events(fallback);
        await fallback.call('/echo', { d: '4' });
      } finally {
        (indexedDB as { open: unknown }).open = realOpen;
      }
    } finally {
      out.stop();
    }
    expect(out.lines.filter((l) => l === 'unexpected success' || l === 'unexpected')).toEqual([]);
    // Recompute the session secrets from the last issuance the test saw.
    const issued = JSON.parse(issuanceBody) as { appId: string; salt: string; serverKey: string };
    const z = await ecdhDerive(await ecdhFromScalar(clientScalar), fromBase64Url(issued.serverKey));
    const { reqKey, resKey } = await deriveSessionKeys(z, fromBase64Url(issued.salt), issued.appId);
    const pemBody = key.pem.replace(/-----[^-]+-----|\s/g, '');
    const secrets = { clientScalar, serverScalar, z, reqKey, resKey, signingKeyPem: pemBody.slice(40, 80) };
    expect(out.lines.length).toBeGreaterThan(30);
    expect(findSecrets(out.lines, secrets)).toEqual([]);
    // The scan itself works: it finds a planted key.
    expect(findSecrets([...out.lines, `debug ${Buffer.from(reqKey).toString('base64')}`], secrets)).toContain('reqKey as ' + Buffer.from(reqKey).toString('base64').slice(0, 6) + '…');
  });
});
