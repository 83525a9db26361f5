/**
 * What README.md, docs/modern-protocol.md and examples/ promise, checked: each test runs a
 * documented snippet as literally as possible against a real server on 127.0.0.1, or checks
 * one documented claim (an option list, the error-code table, a vector's text breakdown)
 * against the code. A failing test is a place where the docs and the code disagree.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import vm from 'node:vm';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { zipSync, unzipSync, strToU8 } from 'fflate';

import {
  createClient,
  modern,
  fetchTransport,
  RpcError,
  HINTS,
  memoryStore,
  appSecret,
  sortedSign,
  mgs,
  jsBridgeTransport,
  loadPackage,
} from '../../src/index.js';
import * as server from '../../src/server/index.js';
import { fromBase64UrlStrict } from '../../src/codec/base64.js';
import { toHex } from '../../src/codec/hex.js';
import { failure as rejection, listen as listenOn } from '../helpers/servers.js';
import { thrown } from '../helpers/client-doubles.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const PROTOCOL = readFileSync(join(ROOT, 'docs/modern-protocol.md'), 'utf8');

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A server on 127.0.0.1:0 for `handler`, closed after the test; its base URL. */
async function serve(handler: http.RequestListener): Promise<string> {
  const running = await listenOn(handler);
  closers.push(running.close);
  return running.url;
}

const tmp = mkdtempSync(join(tmpdir(), 'readme-promises-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

// ---------------------------------------------------------------------------------------
// README "Quick start"
// ---------------------------------------------------------------------------------------

describe('README Quick start, Node back end (the gateway), as written', () => {
  it('openssl genpkey key as GATEWAY_KEY_PEM, the snippet verbatim (useNodeCrypto, chain, toNodeHandler), client pins `openssl pkey -pubout`', async () => {
    // "Make a signing key with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
    //  and give clients its public half (`openssl pkey -pubout`) as serverKeys."
    const keyFile = join(tmp, 'gw.pem');
    writeFileSync(keyFile, openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'));
    const publicPem = openssl('pkey', '-in', keyFile, '-pubout');
    process.env.GATEWAY_KEY_PEM = readFileSync(keyFile, 'utf8');
    closers.push(async () => void delete process.env.GATEWAY_KEY_PEM);

    // ---- the snippet ----
    const { createGateway, modern: modernGw, toNodeHandler, OperationError, useNodeCrypto } = server;
    const loadUser = async (id: string) => ({ id, name: 'Ada' });
    useNodeCrypto();
    const keyPem = process.env.GATEWAY_KEY_PEM;
    if (!keyPem) throw new Error('set GATEWAY_KEY_PEM to the gateway signing key (PKCS#8 PEM)');
    const gateway = createGateway({ profile: modernGw({ signingKeys: { k1: keyPem } }) })
      .operation('/sum', ({ a, b }) => ({ sum: String(Number(a) + Number(b)) }))
      .operation('/user/get', async ({ id }, ctx) => {
        void ctx;
        if (!id) throw new OperationError('E_NO_ID', 'id is required'); // -> RpcError GATEWAY, gatewayCode E_NO_ID
        return loadUser(id);
      });
    const url = await serve(toNodeHandler(gateway));
    // ---- end ----

    const client = createClient({
      profile: modern({ serverKeys: { k1: publicPem } }),
      transport: fetchTransport({ baseUrl: url }),
      store: memoryStore(),
    });
    expect(await client.call('/sum', { a: '1', b: '2' })).toEqual({ sum: '3' });
    expect(await client.call('/user/get', { id: '42' })).toEqual({ id: '42', name: 'Ada' });
    const e = await rejection(client.call('/user/get', {}));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe('GATEWAY');
    expect(e.gatewayCode).toBe('E_NO_ID');
    expect(e.message).toBe('id is required');
  });

  it("`app.use(toNodeHandler(gateway, { basePath: '/gw' }))` as connect-style middleware, and `await gateway.handle(request)`", async () => {
    const { privateKeyPem, publicJwk } = await server.generateSigningKeyPair();
    const gateway = server.createGateway({ profile: server.modern({ signingKeys: { k1: privateKeyPem } }) }).operation('/sum', ({ a, b }) => ({ sum: String(Number(a) + Number(b)) }));
    // A minimal connect: run the middleware, fall through to a 404.
    const mw = server.toNodeHandler(gateway, { basePath: '/gw' });
    const url = await serve((req, res) =>
      mw(req, res, () => {
        res.statusCode = 404;
        res.end('not mine');
      }),
    );
    const viaMw = createClient({ profile: modern({ serverKeys: { k1: publicJwk } }), transport: fetchTransport({ baseUrl: `${url}/gw` }), store: memoryStore() });
    expect(await viaMw.call('/sum', { a: '2', b: '2' })).toEqual({ sum: '4' });
    expect((await fetch(`${url}/elsewhere`)).status).toBe(404);

    const viaHandle = createClient({
      profile: modern({ serverKeys: { k1: publicJwk } }),
      transport: fetchTransport({ baseUrl: 'https://gw.invalid', fetch: (u, init) => gateway.handle(new Request(u as string, init)) }),
      store: memoryStore(),
    });
    expect(await viaHandle.call('/sum', { a: '3', b: '4' })).toEqual({ sum: '7' });
  });
});

describe('README Quick start, ESM (SPA), as written', () => {
  it('default store (indexedDbStore over fake-indexeddb), typed call with timeoutMs, RpcError hint', async () => {
    const { privateKeyPem, publicJwk: SERVER_PUBLIC_JWK } = await server.generateSigningKeyPair();
    const gateway = server.createGateway({ profile: server.modern({ signingKeys: { k1: privateKeyPem } }) }).operation('/sum', ({ a, b }) => ({ sum: String(Number(a) + Number(b)) }));
    const baseUrl = await serve(server.toNodeHandler(gateway));
    const toasts: string[] = [];
    const showToast = (s: string) => toasts.push(s);

    // ---- the snippet ----
    const client = createClient({
      profile: modern({ serverKeys: { k1: SERVER_PUBLIC_JWK } }), // the gateway key, pinned
      transport: fetchTransport({ baseUrl }),
      // store: indexedDbStore() is the default; memoryStore() where persistence is unwanted
    });
    let got: string | undefined;
    try {
      const { sum } = await client.call<{ sum: string }>('/sum', { a: '1', b: '2' }, { timeoutMs: 5000 });
      got = sum;
    } catch (e) {
      if (e instanceof RpcError) showToast(e.hint); // e.code is stable: switch on it
    }
    // ---- end ----
    expect(got).toBe('3');
    expect(toasts).toEqual([]);
    // and the catch branch: an unknown operation is an RpcError with a hint
    try {
      await client.call('/nope', {}, { timeoutMs: 5000 });
    } catch (e) {
      if (e instanceof RpcError) showToast(e.hint);
    }
    expect(toasts).toHaveLength(1);
  });
});

describe('README Quick start, script tag (IIFE bundle, run in Node through vm)', () => {
  it('SealedRpc.createClient / modern / fetchTransport, onError gets err.hint, call resolves to the data', async () => {
    vm.runInThisContext(readFileSync(join(ROOT, 'dist/sealed-rpc.iife.js'), 'utf8'));
    const SealedRpc = (globalThis as any).SealedRpc;
    const { privateKeyPem, publicJwk } = await server.generateSigningKeyPair();
    const gateway = server
      .createGateway({ profile: server.modern({ signingKeys: { k1: privateKeyPem } }) })
      .operation('/user/get', ({ id }) => ({ id, name: 'Ada' }));
    const url = await serve(server.toNodeHandler(gateway));
    const alerts: string[] = [];
    const alert = (s: string) => alerts.push(s);

    const client = SealedRpc.createClient({
      profile: SealedRpc.modern({ serverKeys: { k1: { kty: 'EC', crv: 'P-256', x: publicJwk.x, y: publicJwk.y } } }),
      transport: SealedRpc.fetchTransport({ baseUrl: url }),
      onError: (err: any) => alert(err.hint),
      store: SealedRpc.memoryStore(), // (not in the snippet: keep the test off IndexedDB)
    });
    expect(await client.call('/user/get', { id: '42' })).toEqual({ id: '42', name: 'Ada' });
    await client.call('/missing', {}).catch(() => {});
    expect(alerts).toHaveLength(1);
    expect(typeof SealedRpc.setAssetBase).toBe('function');
    expect(typeof SealedRpc.preloadAssets).toBe('function');
  });
});

describe('README claims right after the quick start', () => {
  it('`modern()` refuses an option it does not read (maxClockCorrectionMS)', () => {
    const e = thrown(() => modern({ serverKeys: { k1: { kty: 'EC', crv: 'P-256', x: 'UadYCDOJjqGxg8vXNQpAmQeMbvHB4Y6XDNdoMDXyXn0', y: 'ARBSJxKwtafP8IFoVIaYSpTmgx7axG5zYPqdg0p6gaE' } }, maxClockCorrectionMS: 1 } as any));
    expect({ code: e?.code, option: e?.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'maxClockCorrectionMS' });
  });

  it('README API: "a signal that is already aborted ends the call with ABORTED before anything is sealed" (no issuance)', async () => {
    const { privateKeyPem, publicJwk } = await server.generateSigningKeyPair();
    const gateway = server.createGateway({ profile: server.modern({ signingKeys: { k1: privateKeyPem } }) }).operation('/sum', () => ({}));
    const url = await serve(server.toNodeHandler(gateway));
    const client = createClient({ profile: modern({ serverKeys: { k1: publicJwk } }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    const e = await rejection(client.call('/sum', {}, { signal: AbortSignal.abort() }));
    expect(e.code).toBe('ABORTED');
    expect(gateway.stats().issuances).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// README "API" tables: option names as the code accepts them
// ---------------------------------------------------------------------------------------

/** The option names the code accepts, read from its own "they are …" BAD_CONFIG message. */
function acceptedOptions(make: () => unknown): string[] {
  try {
    make();
  } catch (e) {
    const m = /\(they are ([^)]*)\)/.exec(String((e as Error).message));
    if (m) return m[1].split(', ').sort();
    throw e;
  }
  throw new Error('no BAD_CONFIG for an unknown option');
}

/** The `name?` list of a README signature such as `createClient({ profile, transport, store?, … })`. */
function documentedOptions(signatureStart: string): string[] {
  const i = README.indexOf(signatureStart);
  if (i < 0) throw new Error(`README has no ${signatureStart}`);
  const body = README.slice(i + signatureStart.length, README.indexOf('})', i));
  return body
    .split(',')
    .map((s) => s.trim().replace(/\?$/, ''))
    .filter((s) => s && s !== '…')
    .sort();
}

describe('README API tables: option names', () => {
  const jwk = { kty: 'EC', crv: 'P-256', x: 'UadYCDOJjqGxg8vXNQpAmQeMbvHB4Y6XDNdoMDXyXn0', y: 'ARBSJxKwtafP8IFoVIaYSpTmgx7axG5zYPqdg0p6gaE' };
  it('createClient', () => {
    const t = fetchTransport({ baseUrl: 'http://x.invalid' });
    expect(acceptedOptions(() => createClient({ profile: modern({ serverKeys: { k1: jwk } }), transport: t, zzz: 1 } as any))).toEqual(documentedOptions('`createClient({ '));
  });
  it('fetchTransport', () => {
    expect(acceptedOptions(() => fetchTransport({ baseUrl: 'http://x.invalid', zzz: 1 } as any))).toEqual(documentedOptions('`fetchTransport({ '));
  });
  it('jsBridgeTransport', () => {
    expect(acceptedOptions(() => jsBridgeTransport({ zzz: 1 } as any))).toEqual(documentedOptions('`jsBridgeTransport({ '));
  });
  it('modern (client; README "Vector: client-options" + ModernOptions: serverKeys, issuePath, maxClockCorrectionMs)', () => {
    const accepted = acceptedOptions(() => modern({ serverKeys: { k1: jwk }, zzz: 1 } as any)).filter((n) => n !== 'ephemeral'); // ephemeral: @internal
    expect(accepted).toEqual(['issuePath', 'maxClockCorrectionMs', 'serverKeys']);
  });
});

// ---------------------------------------------------------------------------------------
// README "Error codes"
// ---------------------------------------------------------------------------------------

describe('README Error codes table', () => {
  const section = README.slice(README.indexOf('## Error codes'), README.indexOf('## The `modern` dialect'));
  const listed = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^\| ((?:`[A-Z_]+`(?: \/ )?)+) \|/.exec(line);
    if (m) for (const c of m[1].matchAll(/`([A-Z_]+)`/g)) listed.add(c[1]);
  }
  it('lists every RpcErrorCode (HINTS keys), and nothing else', () => {
    expect([...listed].sort()).toEqual(Object.keys(HINTS).sort());
  });
});

// ---------------------------------------------------------------------------------------
// README legacy dialect snippets, against the gateway halves from sealed-rpc/server
// ---------------------------------------------------------------------------------------

describe('README legacy dialect snippets', () => {
  it('app-secret: appSecret({ publicSecret }) + /api/order/list returns the envelope data', async () => {
    const gateway = server.createGateway({ profile: server.appSecret({ publicSecret: '0123456789abcdef' }) }).operation('/api/order/list', ({ page, accessFrom }) => ({ page, accessFrom }));
    const url = await serve(server.toNodeHandler(gateway));
    const client = createClient({
      profile: appSecret({ publicSecret: '0123456789abcdef' }), // the secret the app embeds
      transport: fetchTransport({ baseUrl: url }),
      store: memoryStore(),
    });
    const data = await client.call('/api/order/list', { page: '1' }); // the envelope's `data`
    expect(data).toEqual({ page: '1', accessFrom: 'h5' }); // accessFrom default "h5"
  });

  it('sorted-sign: sortedSign({ appId: 10001, appKey }) (CBC iv=key, hex, md5, GET) against sortedSign({ apps: { [appId]: appKey } })', async () => {
    let method = '';
    const gateway = server
      .createGateway({ profile: server.sortedSign({ apps: { 10001: 'abcdef0123456789' } }) })
      .operation('/api/verify', ({ card, machineId }) => ({ ok: card === 'ABCD-1234' && machineId === 'm1' }));
    const handler = server.toNodeHandler(gateway);
    const url = await serve((req, res) => {
      method = req.method ?? '';
      handler(req, res);
    });
    const client = createClient({ profile: sortedSign({ appId: 10001, appKey: 'abcdef0123456789' }), transport: fetchTransport({ baseUrl: url }) });
    const r = await client.call('/api/verify', { card: 'ABCD-1234', machineId: 'm1' });
    expect(r).toEqual({ ok: true });
    expect(method).toBe('GET');
  });

  it('mgs: the fetch client and the in-app jsBridgeTransport client construct; the fetch one calls an mgs gateway', async () => {
    const SIGN_SECRET = 'sign-secret-123';
    const gateway = server.createGateway({ profile: server.mgs({ appId: 'ONEX123', workspaceId: 'default', secret: SIGN_SECRET }) }).operation('com.example.user.get', ({ id }) => ({ id }));
    const url = await serve(server.toNodeHandler(gateway));
    const client = createClient({
      profile: mgs({ appId: 'ONEX123', workspaceId: 'default', secret: SIGN_SECRET }),
      transport: fetchTransport({ baseUrl: url }),
    });
    const inApp = createClient({
      profile: mgs({ appId: 'ONEX123', workspaceId: 'default', signer: async () => 'signed-natively' }),
      transport: jsBridgeTransport(),
    });
    expect(inApp).toBeTruthy();
    const r = await client.call('com.example.user.get', { id: '42' });
    expect(r).toEqual({ id: '42' });
  });
});

// ---------------------------------------------------------------------------------------
// README "Offline packages and RSA signatures" + CLI
// ---------------------------------------------------------------------------------------

describe('README offline packages and the CLI', () => {
  const keyFile = join(tmp, 'private.pem');
  const pubFile = join(tmp, 'public.pem');
  const files = { '12345678.tar': strToU8('tar bytes '.repeat(100)), 'index.html': strToU8('<h1>hi</h1>') };
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/sealed-rpc.js'), ...args], { encoding: 'utf8', cwd: tmp });

  it('openssl RSA keys; `sealed-rpc sign-package in.zip --key private.pem -o out.amr`; `verify-package out.amr --pub public.pem --require 12345678.tar`', () => {
    writeFileSync(keyFile, openssl('genrsa', '2048'));
    writeFileSync(pubFile, openssl('rsa', '-in', keyFile, '-pubout'));
    writeFileSync(join(tmp, 'in.zip'), zipSync(files));
    const s = cli('sign-package', 'in.zip', '--key', 'private.pem', '-o', 'out.amr');
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    const v = cli('verify-package', 'out.amr', '--pub', 'public.pem', '--require', '12345678.tar');
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    // --hash SHA-1 and --detached, as the README lists them
    expect(cli('sign-package', 'in.zip', '--key', 'private.pem', '-o', 'sha1.amr', '--hash', 'SHA-1').status).toBe(0);
    expect(cli('verify-package', 'sha1.amr', '--pub', 'public.pem', '--hash', 'SHA-1').status).toBe(0);
    expect(cli('sign-package', 'in.zip', '--key', 'private.pem', '-o', 'in.sig', '--detached').status).toBe(0);
    expect(cli('verify-package', 'in.zip', '--pub', 'public.pem', '--signature', 'in.sig').status).toBe(0);
    // "a name the pages would refuse, such as `..` … and a zip with no files are refused here, BAD_CONFIG"
    writeFileSync(join(tmp, 'bad.zip'), zipSync({ '../evil.txt': strToU8('x') }));
    const bad = cli('sign-package', 'bad.zip', '--key', 'private.pem', '-o', 'bad.amr');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('BAD_CONFIG');
    writeFileSync(join(tmp, 'empty.zip'), zipSync({ 'dir/': new Uint8Array(0) }));
    const empty = cli('sign-package', 'empty.zip', '--key', 'private.pem', '-o', 'empty.amr');
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('BAD_CONFIG');
  });

  it('the loadPackage snippet: ok with files, onProgress(n, total); a tampered copy -> !ok with fallbackUrl', async () => {
    const { privateKeyPem, publicKeyPem: APP_PUBLIC_PEM } = await server.generateRsaKeyPair();
    const good = await server.signPackage(files, privateKeyPem);
    // One file changed, its CERT.json line kept (the example's tampered.amr).
    const entries = unzipSync(good);
    entries['index.html'] = strToU8('<h1>hI</h1>');
    const tampered = zipSync(entries);
    const url = await serve((req, res) => {
      const body = req.url === '/pkg/12345678.amr' ? good : tampered;
      res.setHeader('content-length', String(body.length));
      res.end(Buffer.from(body));
    });
    const progress: number[] = [];
    const bar = (x: number) => progress.push(x);
    const r = await loadPackage(`${url}/pkg/12345678.amr`, {
      publicKey: APP_PUBLIC_PEM,
      fallbackUrl: 'https://m.example.com/',
      onProgress: (n, total) => bar(total ? n / total : 0),
      requiredFiles: ['12345678.tar'],
    });
    expect(r.ok).toBe(true);
    expect(progress.at(-1)).toBe(1);
    const bad = await loadPackage(`${url}/pkg/tampered.amr`, { publicKey: APP_PUBLIC_PEM, fallbackUrl: 'https://m.example.com/', requiredFiles: ['12345678.tar'] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.fallbackUrl).toBe('https://m.example.com/');
  });
});

// ---------------------------------------------------------------------------------------
// examples/
// ---------------------------------------------------------------------------------------

describe('examples/node-backend/server.ts (its runnable main, startExampleServer)', () => {
  let close: (() => Promise<void>) | undefined;
  afterAll(async () => close?.());
  it('serves the page with the pinned JWK, and /api/sum answers a sealed call with that pin', async () => {
    const { startExampleServer } = await import('../../examples/node-backend/server.js');
    const s = await startExampleServer({ port: 0 });
    close = s.close;
    const html = await (await fetch(`${s.url}/`)).text();
    const jwk = JSON.parse(/serverKeys: \{ k1: (\{[^}]*\}) \}/.exec(html)![1]);
    expect((await fetch(`${s.url}/sealed-rpc.iife.js`)).status).toBe(200);
    const client = createClient({ profile: modern({ serverKeys: { k1: jwk } }), transport: fetchTransport({ baseUrl: `${s.url}/api` }), store: memoryStore() });
    expect(await client.call('/sum', { a: '40', b: '2' })).toEqual({ sum: '42' });
    const e = await rejection(client.call('/hello', {}));
    expect([e.code, e.gatewayCode]).toEqual(['GATEWAY', 'E_NO_NAME']);
  });
});

// ---------------------------------------------------------------------------------------
// docs/modern-protocol.md: the ```text breakdowns under the vectors (the JSON blocks are
// checked by modern-vectors.test.ts; these are not)
// ---------------------------------------------------------------------------------------

/** Each `### Vector:` section: its JSON block and the text blocks after it. */
function vectorSections(): Map<string, { json: any; text: string[] }> {
  const out = new Map<string, { json: any; text: string[] }>();
  const parts = PROTOCOL.split(/^### Vector: /m).slice(1);
  for (const part of parts) {
    const name = part.slice(0, part.indexOf('\n')).trim();
    const blocks = [...part.matchAll(/```(json|text)\n([\s\S]*?)\n```/g)];
    const json = JSON.parse(blocks.find((b) => b[1] === 'json')![2]);
    out.set(
      name,
      { json, text: blocks.filter((b) => b[1] === 'text').map((b) => b[2]) },
    );
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function checkBody(text: string, label: string, b64u: string, ivHex: string, plaintext: string) {
  const re = new RegExp(`^${label}: (\\d+) bytes after b64u decoding \\((\\d+) characters\\)\\n  iv \\(12\\)\\s+([0-9a-f]+)\\n  ciphertext \\((\\d+)\\)\\s+([0-9a-f]+)\\n  tag \\(16\\)\\s+([0-9a-f]+)\\n  plaintext is (\\d+) UTF-8 bytes`, 'm');
  const m = re.exec(text);
  expect(m, `${label} block`).not.toBeNull();
  const raw = fromBase64UrlStrict(b64u);
  const [, total, chars, iv, ctLen, ct, tag, ptLen] = m!;
  expect(Number(total)).toBe(raw.length);
  expect(Number(chars)).toBe(b64u.length);
  expect(iv).toBe(toHex(raw.subarray(0, 12)));
  expect(iv).toBe(ivHex);
  expect(Number(ctLen)).toBe(raw.length - 28);
  expect(ct).toBe(toHex(raw.subarray(12, raw.length - 16)));
  expect(tag).toBe(toHex(raw.subarray(raw.length - 16)));
  expect(Number(ptLen)).toBe(utf8(plaintext).length);
}

describe('docs/modern-protocol.md text breakdowns match their vectors', () => {
  const S = vectorSections();

  it('issuance: the signed-message table (each line length, total bytes, SHA-256) matches messageToSign', () => {
    const { json, text } = S.get('issuance')!;
    const msg: string = json.messageToSign;
    const lines = msg.split('\n');
    const rows = [...text[0].matchAll(/^\s*(\d)\s+.+?\s+(\d+) bytes  (.+)$/gm)];
    expect(rows.map((r) => [Number(r[2]), r[3]])).toEqual(lines.map((l) => [utf8(l).length, l]));
    expect(text[0]).toContain(`total ${utf8(msg).length} bytes, SHA-256 = ${createHash('sha256').update(msg).digest('hex')}`);
    expect(text[0]).toContain(`(${lines.length - 1} separators`);
  });

  for (const name of ['call-echo-unicode', 'call-business-error']) {
    it(`${name}: AAD hex, request and response body breakdowns`, () => {
      const { json: v, text } = S.get(name)!;
      const t = text[0];
      const aad = /^AAD, (\d+) bytes: ([0-9a-f]+)$/m.exec(t)!;
      expect(Number(aad[1])).toBe(utf8(v.aad).length);
      expect(aad[2]).toBe(Buffer.from(v.aad, 'utf8').toString('hex'));
      expect(v.aad).toBe([v.headers['x-app-id'], v.headers['x-op'], v.headers['x-ts'], v.headers['x-nonce']].join('\n'));
      checkBody(t, 'request body', v.requestBody, v.ivHex, v.plaintextJson);
      checkBody(t, 'response body', v.response.body, v.response.ivHex, v.response.envelopeJson);
      expect(v.response.aad).toBe(v.headers['x-nonce']);
    });
  }

  for (const name of ['sealed-clock-skew', 'sealed-replayed-request']) {
    it(`${name}: body breakdown`, () => {
      const { json: v, text } = S.get(name)!;
      checkBody(text[0], 'body', v.body, v.ivHex, v.envelopeJson);
    });
  }

  it('§3.3 response field lengths (appId 22, serverKey 87, salt 43, sig 86) hold for the vector', () => {
    const r = JSON.parse(S.get('issuance')!.json.responseBody);
    expect([r.appId.length, r.serverKey.length, r.salt.length, r.sig.length]).toEqual([22, 87, 43, 86]);
    expect(Object.keys(r)).toEqual(['kid', 'appId', 'expiresAt', 'serverTime', 'serverKey', 'salt', 'sig']);
  });
});

describe('examples/spa/main.ts (page code) against the demo gateways, with a stub document', () => {
  it('runs to data-done="true": /sum, /user/get, and /fail printed as GATEWAY E_DEMO', async () => {
    const { demoMiddleware } = await import('../../examples/node-backend/mount.js');
    const { middleware } = await demoMiddleware();
    const base = await serve((req, res) =>
      middleware(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    );
    const out = { textContent: '' };
    const body = { dataset: {} as Record<string, string> };
    const g = globalThis as any;
    const realFetch = g.fetch;
    const hadDocument = 'document' in g;
    g.document = { getElementById: () => out, body };
    g.fetch = (u: any, init?: any) => realFetch(typeof u === 'string' && u.startsWith('/') ? base + u : u, init);
    try {
      await import('../../examples/spa/main.js');
      for (let i = 0; i < 100 && !body.dataset.done; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      g.fetch = realFetch;
      if (!hadDocument) delete g.document;
    }
    expect(body.dataset.done, out.textContent).toBe('true');
    expect(out.textContent).toContain('/sum: 20');
    expect(out.textContent).toContain('/fail: refused by the service: E_DEMO');
  });
});

// ---------------------------------------------------------------------------------------
// README gateway API table: createGateway defaults and OperationError, on every dialect
// ---------------------------------------------------------------------------------------

describe('README gateway API table, per dialect', () => {
  /** A gateway of `dialect` with `ops`, served, and a client of the same dialect; the HTTP statuses the client saw. */
  async function pair(dialect: 'modern' | 'app-secret' | 'sorted-sign' | 'mgs', ops: Record<string, server.OperationHandler>, gwOptions: { operationTimeoutMs?: number } = {}) {
    let profile: server.GatewayProfile;
    let clientProfile: any;
    if (dialect === 'modern') {
      const { privateKeyPem, publicJwk } = await server.generateSigningKeyPair();
      profile = server.modern({ signingKeys: { k1: privateKeyPem } });
      clientProfile = modern({ serverKeys: { k1: publicJwk } });
    } else if (dialect === 'app-secret') {
      profile = server.appSecret({ publicSecret: '0123456789abcdef' });
      clientProfile = appSecret({ publicSecret: '0123456789abcdef' });
    } else if (dialect === 'sorted-sign') {
      profile = server.sortedSign({ apps: { 10001: 'abcdef0123456789' } });
      clientProfile = sortedSign({ appId: 10001, appKey: 'abcdef0123456789', method: 'POST' });
    } else {
      profile = server.mgs({ appId: 'ONEX123', workspaceId: 'default', secret: 's3cret' });
      clientProfile = mgs({ appId: 'ONEX123', workspaceId: 'default', secret: 's3cret' });
    }
    const gateway = server.createGateway({ profile, ...gwOptions });
    for (const [name, h] of Object.entries(ops)) gateway.operation(name, h);
    const url = await serve(server.toNodeHandler(gateway));
    const statuses: number[] = [];
    const client = createClient({
      profile: clientProfile,
      transport: fetchTransport({
        baseUrl: url,
        fetch: async (u, init) => {
          const r = await fetch(u, init);
          statuses.push(r.status);
          return r;
        },
      }),
      store: memoryStore(),
    });
    return { client, statuses, gateway };
  }

  it('OperationError(code, message) reaches the client as GATEWAY with gatewayCode = code on modern, app-secret and sorted-sign; on mgs a text code is 6666 with the code in the message and a numeric one is its Result-Status ("OperationError" row)', async () => {
    for (const dialect of ['modern', 'app-secret', 'sorted-sign', 'mgs'] as const) {
      const { client } = await pair(dialect, {
        '/user/get': () => {
          throw new server.OperationError('E_NO_ID', 'id is required');
        },
        '/pay': () => {
          throw new server.OperationError('6001', 'no such service');
        },
      });
      const e = await rejection(client.call('/user/get', {}));
      if (dialect === 'mgs') {
        expect([e.code, e.gatewayCode], dialect).toEqual(['GATEWAY', 6666]);
        expect(e.message).toContain('E_NO_ID: id is required');
        const n = await rejection(client.call('/pay', {}));
        expect([n.code, n.gatewayCode], dialect).toEqual(['GATEWAY', 6001]);
      } else {
        expect([e.code, e.gatewayCode, e.message], dialect).toEqual(['GATEWAY', 'E_NO_ID', 'id is required']);
      }
    }
  });

  it('an operation past operationTimeoutMs: modern answers 503 and keeps the run\'s result for a resend (run once); the legacy dialects answer their own timeout error (TIMEOUT; mgs 4001, retryable) and a resend runs it again ("createGateway" row)', async () => {
    for (const dialect of ['modern', 'app-secret', 'sorted-sign', 'mgs'] as const) {
      let runs = 0;
      const { client, statuses } = await pair(
        dialect,
        {
          '/slow': async () => {
            runs++;
            await new Promise((r) => setTimeout(r, 300));
            return { done: 'yes' };
          },
        },
        { operationTimeoutMs: 50 },
      );
      if (dialect === 'modern') {
        // A retry of that call by the app (same idempotencyKey) gets the first run's result.
        const idempotencyKey = 'slow-' + crypto.randomUUID();
        const busy = await rejection(client.call('/slow', {}, { idempotencyKey }));
        expect([busy.code, statuses.at(-1)], dialect).toEqual(['GATEWAY_BUSY', 503]);
        await new Promise((r) => setTimeout(r, 300)); // the first run ends
        expect(await client.call('/slow', {}, { idempotencyKey }), dialect).toEqual({ done: 'yes' });
        expect(runs, dialect).toBe(1);
        continue;
      }
      const e = await rejection(client.call('/slow', {}));
      expect(statuses.at(-1), dialect).toBe(200);
      expect([e.code, e.gatewayCode, e.retryable], dialect).toEqual(dialect === 'mgs' ? ['GATEWAY', 4001, true] : ['GATEWAY', 'TIMEOUT', false]);
      await new Promise((r) => setTimeout(r, 300)); // the first run ends
      await client.call('/slow', {}).catch(() => {});
      expect(runs, dialect).toBe(2);
    }
  });
});
