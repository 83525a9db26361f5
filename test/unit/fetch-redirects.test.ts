/**
 * fetchTransport never follows a redirect, in Node (undici hands the 3xx over): the sealed
 * request and the `headers` option reach no other URL. Real Chromium (an opaque redirect):
 * test/e2e/fetch-in-chromium.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RpcError } from '../../src/errors.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { listen } from '../helpers/servers.js';

describe('fetchTransport never follows a redirect', () => {
  it.each([301, 302, 303, 307, 308])('a %i from the gateway URL is HTTP_STATUS naming it, and nothing is sent to its Location', async (status) => {
    const hits: string[] = [];
    const elsewhere = await listen((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('{"ok":true}');
    });
    const gateway = await listen((_req, res) => {
      res.statusCode = status;
      res.setHeader('location', `${elsewhere.url}/moved`);
      res.end();
    });
    try {
      const t = fetchTransport({ baseUrl: gateway.url, headers: { 'x-api-key': 'k-123' } });
      const e = await t.send({ path: '/op', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'sealed', operationType: '/op' }, { timeoutMs: 5_000 }).then(
        () => undefined,
        (x: RpcError) => x,
      );
      expect({ code: e?.code, status: e?.status }).toEqual({ code: 'HTTP_STATUS', status });
      expect(e?.message).toMatch(/redirect/);
      expect(e?.hint).toMatch(/baseUrl/);
      expect(hits).toEqual([]);
    } finally {
      await gateway.close();
      await elsewhere.close();
    }
  });
});
