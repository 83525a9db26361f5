/**
 * The modern gateway's `maxStoredBytes` ("Bound of stored request results: … bytes") counts
 * UTF-8 bytes, not UTF-16 code units: a result of non-ASCII text weighed a third of its size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8ByteLength, utf8Encode } from '../../src/codec/utf8.js';
import { createClient, memoryStore, modern, type RpcError } from '../../src/index.js';
import { inProcess } from '../helpers/in-process.js';
import { modernGateway } from '../helpers/servers.js';

const utf8 = (s: string) => new TextEncoder().encode(s).length;

describe('ModernGatewayOptions.maxStoredBytes: "Bound of stored request results: … bytes (default 32 MiB)" (src/server/modern.ts:32)', () => {
  it('a stored result is counted by its bytes, not its UTF-16 code units (1000 × "€" is 3000 bytes)', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore() });
    const v = '€'.repeat(1000);
    expect(await client.call('/echo', { v })).toEqual({ v });
    // The stored envelope is {"ok":true,"data":{"v":"€€…"}}: at least 3000 bytes in UTF-8 (2000 even in V8's two-byte form).
    expect(gateway.stats().caches.storedBytes).toBeGreaterThanOrEqual(utf8(JSON.stringify({ ok: true, data: { v } })));
  });

  it("a credential's eighth of maxStoredBytes is a bound in bytes: a 1.2 KB result does not fit a 1000-byte share, so its resend gets the INTERNAL placeholder", async () => {
    const { gateway, serverKeys } = await modernGateway({ maxStoredBytes: 8_000 }); // an eighth: 1000 bytes
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore() });
    const big = '€'.repeat(400); // 1200 bytes in UTF-8, 400 code units
    expect(await client.call('/echo', { big }, { idempotencyKey: 'jsdoc-bytes-1' })).toEqual({ big });
    // The same request id again: the gateway answers from its record. Over the share, the record must be the placeholder.
    const resent = await client.call('/echo', { big }, { idempotencyKey: 'jsdoc-bytes-1' }).then(
      () => 'the stored 1.2 KB result (kept past a 1000-byte share)',
      (e: RpcError) => [e.code, e.gatewayCode],
    );
    expect(resent).toEqual(['GATEWAY', 'INTERNAL']);
  });
});

describe('utf8ByteLength', () => {
  it('equals the length utf8Encode writes, for any text (lone surrogates as U+FFFD, 3 bytes)', () => {
    for (const s of ['', 'a', 'é', '€', '😀', '\ud800', '\udc00', 'a\ud800b', '\ud83d\ude00\ud83d', '中文'.repeat(50)]) expect(utf8ByteLength(s), JSON.stringify(s)).toBe(utf8Encode(s).length);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => utf8ByteLength(s) === utf8Encode(s).length), { numRuns: 2000 });
  });
});
