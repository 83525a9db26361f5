/**
 * sorted-sign gateway: a request answered 1003 because it was stamped ahead becomes acceptable
 * once the server clock reaches its window, long after its client corrected its clock and resent
 * it with a fresh safeCode. A copy of it sent then is a replay (1004), as `modern` refuses its
 * ahead nonces; the record of such requests is bounded like the safeCode record.
 */
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, sortedSign, type WireRequest } from '../../src/index.js';
import { createGateway } from '../../src/server/gateway.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { inProcess, toRequest } from '../helpers/in-process.js';

const APP_KEY = 'ZVNH8HUW5K3VQZKK';

function setup(clientAheadMs: number, gatewayOptions: { maxSafeCodes?: number } = {}) {
  const clock = { server: 1_800_000_000_000 };
  let runs = 0;
  const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY }, ...gatewayOptions }), now: () => clock.server }).operation('/api/pay', () => {
    runs++;
    return { ok: true };
  });
  const sent: WireRequest[] = [];
  const client = createClient({
    profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }),
    transport: inProcess(gateway, { sent }),
    store: memoryStore(),
    clock: { now: () => clock.server + clientAheadMs },
  });
  return { gateway, client, sent, clock, runs: () => runs };
}

describe('sorted-sign gateway: requests refused 1003 for being stamped ahead', () => {
  it('a copy of the refused request sent once the server clock reaches its window is refused as a replay (1004): the operation runs once', async () => {
    const { gateway, client, sent, clock, runs } = setup(60_000); // the device clock runs 60 s fast
    await expect(client.call('/api/pay', { amount: '100' })).resolves.toEqual({ ok: true });
    expect(sent).toHaveLength(2); // refused 1003, corrected, resent with a fresh safeCode
    expect(runs()).toBe(1);
    expect(gateway.stats().caches.aheadCodes).toBe(1);
    // Someone who captured the first send replays it when it is within the window (default 5 s).
    clock.server += 57_000;
    const res = await gateway.handle(toRequest(sent[0]!));
    expect(res.status).toBe(200);
    expect(runs()).toBe(1);
    expect(gateway.stats().rejections).toMatchObject({ CLOCK_SKEW: 1, REPLAYED_REQUEST: 1 });
    // Past its window the record is let go when the record is full (the request is 1003 again by then anyway).
    clock.server += 10_000;
    await gateway.handle(toRequest(sent[0]!));
    expect(runs()).toBe(1);
    expect(gateway.stats().rejections.CLOCK_SKEW).toBe(2);
  });

  it('the record is bounded by maxSafeCodes (swept of requests past their window, else 503 GATEWAY_BUSY), and a request more than a day ahead is not kept', async () => {
    const { gateway, client: a, sent, clock } = setup(60_000, { maxSafeCodes: 2 });
    const device = (aheadMs: number) =>
      createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => clock.server + aheadMs } });
    await a.call('/api/pay', { n: '1' }); // 1003 kept, then served
    await device(30_000).call('/api/pay', { n: '2' }); // the same
    expect(gateway.stats().caches).toEqual({ safeCodes: 2, aheadCodes: 2 });
    // Full, and nothing in it past its window: refused, not forgotten.
    const c = device(40_000);
    await expect(c.call('/api/pay', { n: '3' })).rejects.toMatchObject({ code: 'GATEWAY_BUSY' });
    // Once those requests are past their windows, the sweep makes room.
    clock.server += 70_000;
    await expect(c.call('/api/pay', { n: '4' })).resolves.toEqual({ ok: true });
    expect(gateway.stats().caches.aheadCodes).toBe(1);
    // A device more than a day ahead gets 1003 (its client does not correct that far) and nothing is kept for it.
    await expect(device(90_000_000).call('/api/pay', { n: '5' })).rejects.toMatchObject({ code: 'CLOCK_SKEW' });
    expect(gateway.stats().caches.aheadCodes).toBe(1);
  });
});
