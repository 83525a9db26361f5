/**
 * A call a dialect could never send fails before anything goes out: on a fresh client that
 * means before an issuance is sent for it (Profile.checkCall, run by client.call).
 */
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, modern } from '../../src/index.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway } from '../../src/server/index.js';
import type { WireRequest } from '../../src/types.js';
import { inProcess } from '../helpers/in-process.js';
import { failure, modernGateway } from '../helpers/servers.js';

const PUBLIC = 'pubSecret-16byte';

describe('a call the dialect cannot send is refused before an issuance goes out for it', () => {
  it('modern, fresh client: an operationType with an edge space or a control character is BAD_REQUEST with nothing sent (no issuance); a good one then issues once and succeeds', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore() });
    for (const op of [' /echo', '/echo ', '/ec\nho', '/échо']) {
      const e = await failure(client.call(op, { a: '1' }));
      expect(e.code, JSON.stringify(op)).toBe('BAD_REQUEST');
      expect(e.message).toMatch(/printable ASCII/);
    }
    expect(sent).toEqual([]);
    expect(gateway.stats().issuances).toBe(0);
    expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
    expect(sent.map((r) => r.path)).toEqual(['/issue', '/echo']);
  });

  it('app-secret, fresh client: a reserved param name or a value that is not text is BAD_REQUEST naming the param, with nothing sent; a good call then issues once and succeeds', async () => {
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC }) }).operation('/api/echo', (p) => p);
    const sent: WireRequest[] = [];
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway, { sent }), store: memoryStore() });
    for (const [params, param] of [
      [{ sign: 'x' }, 'sign'],
      [{ appId: 'x' }, 'appId'],
      [{ nested: { a: 1 } }, 'nested'],
    ] as const) {
      const e = await failure(client.call('/api/echo', params as Record<string, unknown>));
      expect(e.code, param).toBe('BAD_REQUEST');
      expect(e.details, param).toEqual({ param });
    }
    expect(sent).toEqual([]);
    expect(await client.call('/api/echo', { a: '1', n: 2 })).toEqual({ a: '1', n: '2', accessFrom: 'h5' });
    expect(sent.map((r) => r.path)).toEqual(['/secret_key/generate.json', '/api/echo']);
  });
});
