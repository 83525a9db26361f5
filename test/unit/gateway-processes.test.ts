/**
 * Several gateway processes: each keeps its records (issued credentials, nonces, request ids,
 * safeCodes) in its own memory, and no shared store is offered. These tests pin what that means
 * for a deployment, as the README's "Several gateway processes" says: behind a round-robin
 * balancer `modern` and `app-secret` calls fail with CREDENTIAL_EXPIRED, routed by client
 * (sticky) they issue once, `sorted-sign`'s and `modern`'s replay refusals are per process, and
 * `mgs`, which keeps nothing, works from any process.
 */
import { describe, expect, it } from 'vitest';
import { appSecret, createClient, memoryStore, mgs, modern, sortedSign, type Transport, type WireRequest } from '../../src/index.js';
import { appSecret as appSecretGateway, createGateway, mgs as mgsGateway, modern as modernGateway, sortedSign as sortedSignGateway, type Gateway } from '../../src/server/index.js';
import { inProcess } from '../helpers/in-process.js';
import { signingKey } from '../helpers/servers.js';

/** A balancer over `processes`: `pick` chooses one for each request. */
function balancer(processes: Gateway[], pick: (n: number) => number): Transport & { sent: number[] } {
  const sent: number[] = [];
  const links = processes.map((g) => inProcess(g));
  let n = 0;
  return {
    sent,
    send(req: WireRequest, o) {
      const i = pick(n++);
      sent.push(i);
      return links[i].send(req, o);
    },
  };
}
const roundRobin = (n: number) => n % 2;
const sticky = () => 0; // every request of this client to the process it first reached

const issuances = (gs: Gateway[]) => gs.reduce((s, g) => s + g.stats().issuances, 0);

describe('several gateway processes, no shared store', () => {
  /** Ten calls through `route`; each call's outcome (`ok` or its RpcError code) and the issuances. */
  async function tenCalls(gateways: Gateway[], route: (n: number) => number, profile: Parameters<typeof createClient>[0]['profile'], expected: (i: number) => unknown) {
    const client = createClient({ profile, transport: balancer(gateways, route), store: memoryStore() });
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        expect(await client.call('/echo', { i: String(i) })).toEqual(expected(i));
        outcomes.push('ok');
      } catch (e) {
        outcomes.push((e as { code?: string }).code ?? String(e));
      }
    }
    return { outcomes, issuances: issuances(gateways) };
  }

  it('modern, two processes with the same signing key: behind a round-robin balancer a credential one issued is unknown to the other (401), so calls fail with CREDENTIAL_EXPIRED after their one renewal; routed by client (sticky): 10 calls, 1 issuance', async () => {
    const key = await signingKey();
    const two = () => [0, 1].map(() => createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }) }).operation('/echo', (p) => p));
    const profile = modern({ serverKeys: { k1: key.jwk } });
    const rr = await tenCalls(two(), roundRobin, profile, (i) => ({ i: String(i) }));
    expect(rr.outcomes.filter((o) => o === 'CREDENTIAL_EXPIRED').length).toBeGreaterThanOrEqual(5);
    expect(rr.outcomes.every((o) => o === 'ok' || o === 'CREDENTIAL_EXPIRED')).toBe(true);
    const st = await tenCalls(two(), sticky, profile, (i) => ({ i: String(i) }));
    expect(st).toEqual({ outcomes: Array(10).fill('ok'), issuances: 1 });
  });

  it('app-secret, two processes: behind a round-robin balancer an appSecret one issued is unknown to the other (secret_pass_time_error), so calls fail with CREDENTIAL_EXPIRED after their one renewal; routed by client (sticky): 10 calls, 1 issuance', async () => {
    const publicSecret = 'pubSecret-16byte';
    const two = () => [0, 1].map(() => createGateway({ profile: appSecretGateway({ publicSecret }) }).operation('/echo', (p) => p));
    const profile = appSecret({ publicSecret });
    const rr = await tenCalls(two(), roundRobin, profile, (i) => ({ i: String(i), accessFrom: 'h5' }));
    expect(rr.outcomes.filter((o) => o === 'CREDENTIAL_EXPIRED').length).toBeGreaterThanOrEqual(5);
    expect(rr.outcomes.every((o) => o === 'ok' || o === 'CREDENTIAL_EXPIRED')).toBe(true);
    const st = await tenCalls(two(), sticky, profile, (i) => ({ i: String(i), accessFrom: 'h5' }));
    expect(st).toEqual({ outcomes: Array(10).fill('ok'), issuances: 1 });
  });

  it('a restart (a new process with the same configuration) forgets the credentials: a modern and an app-secret client each renew once, and their call succeeds', async () => {
    const key = await signingKey();
    const publicSecret = 'pubSecret-16byte';
    const makers = [
      [() => createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }) }).operation('/echo', (p) => p), modern({ serverKeys: { k1: key.jwk } }), {}],
      [() => createGateway({ profile: appSecretGateway({ publicSecret }) }).operation('/echo', (p) => p), appSecret({ publicSecret }), { accessFrom: 'h5' }],
    ] as const;
    for (const [make, profile, extra] of makers) {
      const current = { g: make() };
      const client = createClient({ profile, transport: { send: (req, o) => inProcess(current.g).send(req, o) }, store: memoryStore() });
      const retries: string[] = [];
      client.events.on('retry', (e) => retries.push(e.cause));
      expect(await client.call('/echo', { v: '1' })).toEqual({ v: '1', ...extra });
      current.g = make(); // restarted
      expect(await client.call('/echo', { v: '2' })).toEqual({ v: '2', ...extra });
      expect(retries).toEqual(['CREDENTIAL_EXPIRED']);
      expect(current.g.stats().issuances).toBe(1);
    }
  });

  it('sorted-sign: a captured request is refused (1004) by the process that ran it, and runs again on another process inside its window', async () => {
    const appKey = 'ZVNH8HUW5K3VQZKK';
    const gateways = [0, 1].map(() => createGateway({ profile: sortedSignGateway({ apps: { '1': appKey } }) }).operation('/api/echo', (p) => p));
    const captured: WireRequest[] = [];
    const client = createClient({ profile: sortedSign({ appId: 1, appKey }), transport: inProcess(gateways[0], { sent: captured }), store: memoryStore() });
    expect(await client.call('/api/echo', { v: '1' })).toEqual({ v: '1' });
    const replay = async (g: Gateway) => (await g.handle(new Request('http://gw.test' + captured[0].path, { method: captured[0].method, headers: captured[0].headers, body: captured[0].body }))).text();
    await replay(gateways[0]);
    expect(gateways[0].stats().executions).toBe(1);
    expect(gateways[0].stats().rejections['1004'] ?? gateways[0].stats().rejections.REPLAYED_REQUEST).toBe(1);
    await replay(gateways[1]);
    expect(gateways[1].stats().executions).toBe(1);
  });

  it('mgs keeps nothing per process: a round-robin balancer serves every call, no renewal, no issuance', async () => {
    const app = { appId: 'PROC1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch' };
    const gateways = [0, 1].map(() => createGateway({ profile: mgsGateway(app) }).operation('com.test.echo', (p) => p));
    const transport = balancer(gateways, roundRobin);
    const client = createClient({ profile: mgs(app), transport, store: memoryStore() });
    for (let i = 0; i < 10; i++) expect(await client.call('com.test.echo', { i: String(i) })).toEqual({ i: String(i) });
    expect(transport.sent).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect(gateways.map((g) => g.stats().executions)).toEqual([5, 5]);
  });
});
