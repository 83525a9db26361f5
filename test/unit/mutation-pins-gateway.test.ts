/**
 * Pins for checks a mutation audit found no test noticing when broken: the modern gateway's
 * reserved-code mapping, x-nonce length, clock-window edges, the P-256 coordinate range on
 * /issue, and an offline package's duplicate zip entry names.
 */
import { crc32 } from 'node:zlib';
import { strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { sealedCall, sealedSetup } from '../helpers/modern-sealed.js';
import { toBase64Url } from '../../src/codec/base64.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { checkPoint } from '../../src/crypto/ec.js';
import { createClient, memoryStore, modern } from '../../src/index.js';
import { verifyPackage } from '../../src/package/verify.js';
import { OperationError } from '../../src/server/index.js';
import { inProcess } from '../helpers/in-process.js';
import { failure, modernGateway } from '../helpers/servers.js';
import { certFor, PUBLIC, rawZip } from '../helpers/zip.js';

const NOW = 1_800_000_000_000;

describe('modern gateway: reserved protocol codes thrown by an operation', () => {
  for (const code of ['REPLAYED_REQUEST', 'CLOCK_SKEW', 'REQUEST_ID_REUSED']) {
    it(`an operation throwing OperationError('${code}') reaches the client as GATEWAY with gatewayCode INTERNAL, run once, no clock-corrected or retry during that call`, async () => {
      const { gateway, serverKeys } = await modernGateway();
      let runs = 0;
      gateway.operation('/x', () => {
        runs++;
        throw new OperationError(code, 'm');
      });
      const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore() });
      await client.call('/echo', { warm: 1 }); // the credential's issuance may correct the clock: that is not this call's doing
      const events: string[] = [];
      client.events.on('retry', () => events.push('retry'));
      client.events.on('clock-corrected', () => events.push('clock-corrected'));
      const e = await failure(client.call('/x', {}));
      expect({ code: e.code, gatewayCode: e.gatewayCode }).toEqual({ code: 'GATEWAY', gatewayCode: 'INTERNAL' });
      expect(runs).toBe(1);
      expect(events).toEqual([]);
    });
  }
});

describe('modern gateway: x-nonce decodes to exactly 16 bytes', () => {
  it('an x-nonce of 12 or 17 bytes (in the AAD too) is HTTP 400, the operation not run, no nonce kept; 16 bytes is 200', async () => {
    const { gateway, issue, runs } = await sealedSetup({}, { now: () => NOW });
    const c = await issue(() => NOW);
    const before = gateway.stats().caches.nonces;
    for (const n of [12, 17]) {
      const r = await sealedCall(gateway, c, '/echo', 'n' + n, { v: n }, NOW, n);
      expect(r.status).toBe(400);
    }
    expect(runs()).toBe(0);
    expect(gateway.stats().caches.nonces).toBe(before);
    const ok = await sealedCall(gateway, c, '/echo', 'n16', { v: 16 }, NOW, 16);
    expect(ok).toEqual({ status: 200, envelope: '{"ok":true,"data":{"v":16}}' });
    expect(runs()).toBe(1);
  });
});

describe('modern gateway: the x-ts window edges (|now − x-ts| <= windowMs)', () => {
  it('x-ts = now ± windowMs is answered ok; now ± (windowMs + 1) is the sealed CLOCK_SKEW envelope', async () => {
    const { gateway, issue } = await sealedSetup({ windowMs: 1000 }, { now: () => NOW });
    const c = await issue(() => NOW);
    for (const ts of [NOW - 1000, NOW + 1000]) {
      const r = await sealedCall(gateway, c, '/echo', 'in' + ts, { ts }, ts);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.envelope!)).toEqual({ ok: true, data: { ts } });
    }
    for (const ts of [NOW - 1001, NOW + 1001]) {
      const r = await sealedCall(gateway, c, '/echo', 'out' + ts, { ts }, ts);
      expect(r.status).toBe(200);
      const env = JSON.parse(r.envelope!) as { ok: boolean; error?: { code: string } };
      expect({ ok: env.ok, code: env.error?.code }).toEqual({ ok: false, code: 'CLOCK_SKEW' });
    }
  });
});

describe('P-256 point coordinates must be field elements (< p)', () => {
  const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
  const Y0 = 0x66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4n;
  const be32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
  const point = (x: bigint, y: bigint) => concatBytes(Uint8Array.of(4), be32(x), be32(y));

  it('x = 0 with its y is accepted by checkPoint, x encoded as p (≡ 0 mod p) is refused, and /issue with it is 400 BAD_REQUEST', async () => {
    expect(() => checkPoint(point(0n, Y0))).not.toThrow(); // on the curve: the only difference below is the range
    const aliased = point(P, Y0);
    expect(aliased.length).toBe(65);
    expect(() => checkPoint(aliased)).toThrow(TypeError);
    const { gateway } = await modernGateway();
    const res = await gateway.handle(new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey: toBase64Url(aliased) }) }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('BAD_REQUEST');
  });
});

describe('offline packages: one name twice in the zip', () => {
  const crc = (b: Uint8Array) => crc32(b) >>> 0;
  /** Stored entries, local headers then a central directory naming each in order. */
  const storedZip = (entries: { name: string; data: Uint8Array }[]): Uint8Array => rawZip(entries.map(({ name, data }) => ({ name, data, method: 0, size: data.length, crc: crc(data) })));

  it('index.html (unsigned bytes), then index.html (the signed bytes), then CERT.json: refused as PACKAGE_SIGNATURE_INVALID, "appears twice"', async () => {
    const page = strToU8('<h1>signed page</h1>');
    const evil = strToU8('<script>steal()</script>');
    const cert = certFor({ 'index.html': page });
    // Control: the same zip without the first copy verifies (so the refusal below is for the duplicate).
    await expect(verifyPackage(storedZip([{ name: 'index.html', data: page }, { name: 'CERT.json', data: cert }]), { publicKey: PUBLIC })).resolves.toBeDefined();
    const zip = storedZip([
      { name: 'index.html', data: evil },
      { name: 'index.html', data: page },
      { name: 'CERT.json', data: cert },
    ]);
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(e.message).toMatch(/appears twice/);
  });
});
