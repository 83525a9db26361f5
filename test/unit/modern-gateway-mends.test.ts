/**
 * The modern gateway, mends from the third review of 2026-11-23: its bounds hold under
 * concurrency (credentials, one credential's eighth of the stored bytes), a run that never
 * settles is let go, rate windows survive a clock stepping back, and a success envelope
 * always has its data field.
 */
import { describe, expect, it } from 'vitest';
import { sealedCall, sealedSetup } from '../helpers/modern-sealed.js';
import { toBase64Url } from '../../src/codec/base64.js';
import { generateEcdh } from '../../src/crypto/ec.js';
import { deferred } from '../helpers/servers.js';


describe('bounds that hold under concurrency', () => {
  it('issuances arriving together stay within maxCredentials (each counted from its check, not only once its keys are made)', async () => {
    const { gateway } = await sealedSetup({ maxCredentials: 2, issuesPerMinute: 100 });
    const bodies = await Promise.all(Array.from({ length: 10 }, async () => JSON.stringify({ clientKey: toBase64Url((await generateEcdh()).publicRaw) })));
    const answers = await Promise.all(bodies.map((body) => gateway.handle(new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))));
    expect({ ok: answers.filter((r) => r.status === 200).length, refused: answers.filter((r) => r.status === 429).length, table: gateway.stats().caches.credentials }).toEqual({ ok: 2, refused: 8, table: 2 });
  });

  it("one credential's concurrent runs cannot fill the stored-result bytes for every caller: each gets its whole answer, what does not fit its eighth is kept as an INTERNAL placeholder for a resend", async () => {
    const now = 1_800_000_000_000;
    const { gateway, issue } = await sealedSetup({ maxStoredBytes: 8_000 /* an eighth: 1000 */ }, { now: () => now });
    const gate = deferred();
    gateway.operation('/slow', async () => (await gate.promise, 'x'.repeat(900))); // each under the eighth on its own
    const a = await issue(() => now);
    const b = await issue(() => now);
    const runs = Array.from({ length: 10 }, (_, i) => sealedCall(gateway, a, '/slow', 'id-a-' + i, {}, now));
    await new Promise((r) => setTimeout(r, 50));
    gate.resolve();
    const done = await Promise.all(runs);
    expect(done.map((d) => (JSON.parse(d.envelope!) as { data?: string }).data?.length)).toEqual(Array(10).fill(900));
    expect(gateway.stats().caches.storedBytes).toBeLessThanOrEqual(1_000 + 9 * 200);
    const other = await sealedCall(gateway, b, '/echo', 'id-b', { v: 1 }, now);
    expect(other.envelope).toBe('{"ok":true,"data":{"v":1}}');
    // A resend of each id: the one kept gets its result again, the others the placeholder; none runs twice.
    const resent = await Promise.all(Array.from({ length: 10 }, (_, i) => sealedCall(gateway, a, '/slow', 'id-a-' + i, {}, now)));
    const kinds = resent.map((r) => (JSON.parse(r.envelope!) as { ok: boolean; error?: { code: string; message: string } }));
    expect(kinds.filter((k) => k.ok)).toHaveLength(1);
    expect(kinds.filter((k) => !k.ok).map((k) => [k.error!.code, k.error!.message])).toEqual(Array(9).fill(['INTERNAL', 'the result was too large to keep for a resend']));
  });

  it('an operation that never settles lets go of its request-id record after its window and timeout (it held one of maxRequestIds for the life of the process)', async () => {
    let now = 1_800_000_000_000;
    const { gateway, issue } = await sealedSetup({ maxRequestIds: 8 /* an eighth: 1 */, windowMs: 1_000 }, { now: () => now, operationTimeoutMs: 30 });
    gateway.operation('/hang', () => new Promise(() => {}));
    for (let i = 0; i < 8; i++) {
      const c = await issue(() => now);
      expect((await sealedCall(gateway, c, '/hang', 'hang-' + i, {}, now)).status).toBe(503);
    }
    expect((await sealedCall(gateway, await issue(() => now), '/echo', 'full', {}, now)).status).toBe(503); // every record held
    now += 24 * 3_600_000; // a day later
    const later = await sealedCall(gateway, await issue(() => now), '/echo', 'later', { v: 1 }, now);
    expect({ status: later.status, requestIds: gateway.stats().caches.requestIds }).toEqual({ status: 200, requestIds: 1 });
  });
});

describe('a gateway clock that steps back (NTP) does not freeze a rate window', () => {
  it("the per-credential call rate: two minutes after a 10-minute step back, a third call in callsPerMinute 2 goes through", async () => {
    let now = 1_800_000_000_000;
    const { gateway, issue } = await sealedSetup({ callsPerMinute: 2 }, { now: () => now });
    const c = await issue(() => now);
    expect((await sealedCall(gateway, c, '/echo', 'd1', {}, now)).status).toBe(200);
    expect((await sealedCall(gateway, c, '/echo', 'd2', {}, now)).status).toBe(200);
    expect((await sealedCall(gateway, c, '/echo', 'd3', {}, now)).status).toBe(429); // the bound holds
    now -= 600_000;
    now += 120_000;
    expect((await sealedCall(gateway, c, '/echo', 'd4', {}, now)).status).toBe(200);
  });

  it('the per-address issuance rate: likewise for issuesPerMinute 2', async () => {
    let now = 1_800_000_000_000;
    const { issue } = await sealedSetup({ issuesPerMinute: 2 }, { now: () => now });
    await issue(() => now);
    await issue(() => now);
    await expect(issue(() => now)).rejects.toMatchObject({ code: 'RATE_LIMITED' }); // the bound holds
    now -= 600_000;
    now += 120_000;
    await expect(issue(() => now)).resolves.toBeDefined();
  });
});

describe('a success envelope always has its data field (§4: {"ok": true, "data": <result>})', () => {
  it('a result JSON leaves out (a function, a symbol, toJSON() giving undefined) is the sealed INTERNAL error, not {"ok":true} without data', async () => {
    const now = 1_800_000_000_000;
    const { gateway, issue } = await sealedSetup({}, { now: () => now });
    gateway.operation('/fn', () => () => 1);
    gateway.operation('/sym', () => Symbol('s'));
    gateway.operation('/tojson', () => ({ toJSON: () => undefined }));
    gateway.operation('/undefined', () => undefined);
    const c = await issue(() => now);
    const envs: Record<string, unknown>[] = [];
    for (const op of ['/fn', '/sym', '/tojson', '/undefined']) envs.push(JSON.parse((await sealedCall(gateway, c, op, 'e' + op, {}, now)).envelope!) as Record<string, unknown>);
    expect(envs.slice(0, 3).map((e) => [e.ok, (e.error as { code: string }).code])).toEqual(Array(3).fill([false, 'INTERNAL']));
    expect(envs[3]).toEqual({ ok: true, data: null });
  });
});
