/**
 * Pins for checks a mutation audit of the events, errors, codec, crypto (RSA, P-256), package,
 * CLI, transport and credential-record layers found no test noticing when broken. Everything in
 * process: the transports get a fetch or a bridge of the test's own and gateways are called
 * through handle(), so no socket is opened; one CLI test writes a key pair to a temporary
 * folder it removes.
 */
import { createCipheriv, createSign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromBase64, fromBase64Url, fromBase64UrlStrict, toBase64Url } from '../../src/codec/base64.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { CREDENTIAL_SCHEMA } from '../../src/credentials/record.js';
import { compareAndSetAny } from '../../src/credentials/store.js';
import { checkPoint } from '../../src/crypto/ec.js';
import { signRsa, signRsaSha256, verifyRsa, verifyRsaSha256 } from '../../src/crypto/rsa.js';
import { createClient, loadPackage, memoryStore, modern, RpcError, verifyPackage } from '../../src/index.js';
import { mgs } from '../../src/profiles/mgs.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { generateRsaKeyPair, generateSigningKeyPair, signPackage, verifyPushCallback } from '../../src/server/index.js';
import { memIo } from '../helpers/cli-io.js';
import { runCli } from '../../src/server/cli.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { jsBridgeTransport } from '../../src/transport/jsbridge.js';
import type { Profile, ProfileContext, StoredCredential, Transport, WireRequest, WireResponse } from '../../src/types.js';
import { echo, issuedProfile, nativeStore, staticProfile, thrown } from '../helpers/client-doubles.js';
import { failure, modernGateway } from '../helpers/servers.js';
import { certFor, PRIVATE, PUBLIC } from '../helpers/zip.js';

const req: WireRequest = { path: '/a', method: 'POST', headers: {}, body: '{}', operationType: '/a' };
const answering = (res: WireResponse): Transport => ({ send: async () => res });

describe('client events: unsubscribing', () => {
  it("two on() listeners of one type: the first's off() (called twice) leaves the second hearing every stage of the next call", async () => {
    const client = createClient({ profile: staticProfile, transport: echo, store: memoryStore() });
    const first: string[] = [];
    const second: string[] = [];
    const offFirst = client.events.on('stage', (d) => first.push(d.stage));
    client.events.on('stage', (d) => second.push(d.stage));
    offFirst();
    offFirst(); // a second unsubscribe of the same listener must not count as the other one's
    await client.call('/x', { a: '1' });
    expect(first).toEqual([]);
    expect(second).toEqual(['params', 'sealed', 'response', 'opened']);
  });
});

describe('RpcError: the hint by HTTP status; serverTime only on the clock signal', () => {
  const KEY = 'ZVNH8HUW5K3VQZKK';
  const legacyClient = (status: number) =>
    createClient({ profile: sortedSign({ appId: 1, appKey: KEY, method: 'POST' }), transport: answering({ status, headers: {}, body: 'x' }), store: memoryStore() });

  it('HTTP 500 (the first 5xx) is HTTP_STATUS with the "server failed" hint, not the "check the base URL and path" one; 404 keeps the path hint', async () => {
    const e500 = await failure(legacyClient(500).call('/api/echo', { a: '1' }));
    expect({ code: e500.code, status: e500.status }).toEqual({ code: 'HTTP_STATUS', status: 500 });
    expect(e500.hint).toBe('The server failed to answer this call; try again later, or check the gateway and anything in front of it.');
    const e404 = await failure(legacyClient(404).call('/api/echo', { a: '1' }));
    expect(e404.hint).toBe('The server answered with an unexpected HTTP status; check the base URL and path.');
  });

  it('mgs: only 7003 (clock) carries the Date header as serverTime; a 7002 answer with a Date header has none', async () => {
    const DATE = 'Tue, 14 Nov 2023 22:13:20 GMT';
    const profile = mgs({ appId: 'APP1', workspaceId: 'default', secret: 'page-secret' });
    const ctx: ProfileContext = { now: () => 1_700_000_000_000, random: (n) => new Uint8Array(n), parseJson: JSON.parse, send: () => Promise.reject(new Error('unused')) };
    const sealed = await profile.seal({ operationType: 'MYAPI', params: { a: 1 }, options: {}, memo: {} }, undefined, ctx);
    const answer = (code: string): WireResponse => ({ status: 200, headers: { 'result-status': code, date: DATE, 'content-type': 'application/json' }, body: '' });
    const sig = await failure(profile.open(answer('7002'), sealed, undefined, ctx));
    expect(sig.code).toBe('SIGNATURE_INVALID');
    expect(sig.serverTime).toBeUndefined();
    // The control: the clock signal itself carries it.
    const skew = await failure(profile.open(answer('7003'), sealed, undefined, ctx));
    expect(skew.code).toBe('CLOCK_SKEW');
    expect(skew.serverTime).toBe(Date.parse(DATE));
  });
});

describe('codec: the strict base64url reader where the engine has Uint8Array.fromBase64', () => {
  const ctor = Uint8Array as unknown as { fromBase64?: (s: string, o?: { alphabet?: string }) => Uint8Array };
  afterEach(() => {
    delete ctor.fromBase64;
  });
  /** A stand-in for the TC39 built-in (Chrome 140+, Firefox 133+, Safari 18.2+) in its default 'loose' mode: stray bits in the last character are ignored, ASCII whitespace is skipped. */
  const looseFromBase64 = (s: string, o?: { alphabet?: string }) => {
    const url = o?.alphabet === 'base64url';
    const t = s.replace(/[\t\n\f\r ]/g, '');
    if (!(url ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/).test(t)) throw new SyntaxError('not base64');
    const data = t.replace(/=+$/, '');
    if (data.length % 4 === 1 || (data.length !== t.length && t.length % 4 !== 0)) throw new SyntaxError('bad length or padding');
    return new Uint8Array(Buffer.from(data, url ? 'base64url' : 'base64'));
  };

  it('fromBase64UrlStrict refuses a 64+ character text whose last character carries stray bits (same bytes as the canonical text), and reads the canonical one', () => {
    ctor.fromBase64 = looseFromBase64;
    const bytes = new Uint8Array(49).map((_, i) => i * 5); // 49 bytes: 66 characters, 2 in the last group
    const canonical = Buffer.from(bytes).toString('base64url');
    expect(canonical).toHaveLength(66);
    const stray = canonical.slice(0, -1) + 'B'; // 'B' = 1: a bit past the last byte
    expect(looseFromBase64(stray, { alphabet: 'base64url' })).toEqual(bytes); // the built-in alone takes it
    expect(fromBase64UrlStrict(canonical)).toEqual(bytes);
    expect(() => fromBase64UrlStrict(stray)).toThrow(TypeError);
    // The lenient reader may take it (padding and stray bits are its business).
    expect(fromBase64Url(stray)).toEqual(bytes);
  });
});

describe('hex on the wire: ASCII digits only', () => {
  it("sorted-sign: an answer whose hex has a digit replaced by its Latin-1 twin (0x30 '0' -> 0xB0 '°', 0x61 'a' -> 0xE1 'á') is RESPONSE_UNREADABLE; the true text opens", async () => {
    const KEY = 'ZVNH8HUW5K3VQZKK';
    const profile = sortedSign({ appId: 1, appKey: KEY });
    const ctx: ProfileContext = { now: () => 1_700_000_000_000, random: (n) => new Uint8Array(n).fill(3), parseJson: JSON.parse, send: () => Promise.reject(new Error('unused')) };
    const sealed = await profile.seal({ operationType: '/api/echo', params: {}, options: {}, memo: {} }, undefined, ctx);
    const key = Buffer.from(KEY, 'utf8');
    const c = createCipheriv('aes-128-cbc', key, key);
    const reply = JSON.stringify({ code: 0, msg: 'ok', data: { n: 1 }, safeCode: sealed.state.safeCode, timestamp: 1_700_000_000_000 });
    const hex = Buffer.concat([c.update(reply, 'utf8'), c.final()]).toString('hex');
    const answer = (body: string): WireResponse => ({ status: 200, headers: {}, body });
    expect(await profile.open(answer(hex), sealed, undefined, ctx)).toEqual({ n: 1 });
    for (const [ascii, twin] of [['0', '\u00b0'], ['a', '\u00e1']])
      for (const parity of [0, 1]) {
        // The first `ascii` at an even (high nibble) or odd (low nibble) position.
        const at = [...hex].findIndex((ch, i) => ch === ascii && i % 2 === parity);
        expect(at, ascii).toBeGreaterThanOrEqual(0);
        const e = await failure(profile.open(answer(hex.slice(0, at) + twin + hex.slice(at + 1)), sealed, undefined, ctx));
        expect(e.code, `${ascii} at ${at}`).toBe('RESPONSE_UNREADABLE');
      }
  });
});

describe('form encoding: exactly what URLSearchParams writes', () => {
  it("sortedSign GET: an appId holding ~ (alone or with ! ' ( ) * and a space) is written in the query as URLSearchParams writes it (~ as %7E, space as +)", async () => {
    for (const [appId, written] of [
      ['app~1', 'appId=app%7E1'],
      ["app~1!'()* x", 'appId=app%7E1%21%27%28%29*+x'],
    ]) {
      const sent: WireRequest[] = [];
      const transport: Transport = {
        async send(r) {
          sent.push(r);
          return { status: 404, headers: {}, body: 'x' };
        },
      };
      const client = createClient({ profile: sortedSign({ appId, appKey: 'ZVNH8HUW5K3VQZKK' }), transport, store: memoryStore() });
      await failure(client.call('/api/echo', { a: '1' }));
      const appIdPart = sent[0].path.slice(sent[0].path.indexOf('?') + 1).split('&')[0];
      expect(appIdPart).toBe(new URLSearchParams([['appId', appId]]).toString());
      expect(appIdPart).toBe(written);
    }
  });
});

describe('RSA signatures (push callbacks, offline packages): inputs and errors', () => {
  /** A PKCS#1 v1.5 SHA-256 signature by node:crypto (not ours), as base64 holding both + and /. */
  const signed = (() => {
    for (let i = 0; ; i++) {
      const body = `{"msgId":"console_${i}","pushSuccess":true}`;
      const sig = createSign('sha256').update(body).sign(PRIVATE, 'base64');
      if (sig.includes('+') && sig.includes('/')) return { body, sig };
    }
  })();

  it('a signature text with surrounding whitespace (a line read from a file or a header) verifies', async () => {
    const { body, sig } = signed;
    expect(await verifyPushCallback(body, sig + '\n', PUBLIC)).toBe(true);
    expect(await verifyRsaSha256(body, `  ${sig}\r\n`, PUBLIC)).toBe(true);
  });

  it('the body given as a DataView window into a larger buffer is verified over that window only', async () => {
    const { body, sig } = signed;
    const bytes = new TextEncoder().encode(body);
    const big = new Uint8Array(bytes.length + 20).fill(0x20);
    big.set(bytes, 7);
    expect(await verifyPushCallback(new DataView(big.buffer, 7, bytes.length) as never, sig, PUBLIC)).toBe(true);
    expect(await verifyRsa(new DataView(big.buffer, 7, bytes.length) as never, fromBase64(sig), PUBLIC, 'SHA-256')).toBe(true);
  });

  it('a bad public key is BAD_CONFIG naming publicKeyPem even when the signature is malformed too (not a quiet false)', async () => {
    for (const sig of ['***', '', 'abcde']) {
      const e = await failure(verifyRsaSha256('x', sig, '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----'));
      expect({ code: e.code, option: e.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'publicKeyPem' });
    }
  });

  it("a hash other than SHA-1 / SHA-256 (e.g. 'SHA-512') is BAD_CONFIG naming hash for verifyRsa and signRsa, not a verification under another digest", async () => {
    const { body, sig } = signed;
    const v = await failure(verifyRsa(body, fromBase64(sig), PUBLIC, 'SHA-512' as never));
    expect({ code: v.code, option: v.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'hash' });
    const s = await failure(signRsa(body, PRIVATE, 'SHA-512' as never));
    expect({ code: s.code, option: s.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'hash' });
  });

  it('a public key given where the private key belongs: BAD_CONFIG naming privateKeyPem and the label it found', async () => {
    const e = await failure(signRsaSha256('x', PUBLIC));
    expect(e.details?.option).toBe('privateKeyPem');
    expect(e.message).toBe('privateKeyPem: expected a PEM "PRIVATE KEY" or "RSA PRIVATE KEY", got "PUBLIC KEY"');
  });

  it('a private key WebCrypto cannot import: BAD_CONFIG whose message, String() and JSON hold no 12 characters of the key text', async () => {
    const body = PRIVATE.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const der = Buffer.from(body, 'base64');
    const broken = der.subarray(0, 600); // a PKCS#8 cut short: still base64, still a SEQUENCE tag first
    const pem = `-----BEGIN PRIVATE KEY-----\n${broken.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
    const e = await failure(signRsaSha256('x', pem));
    expect({ code: e.code, option: e.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'privateKeyPem' });
    const seen = [e.message, String(e), JSON.stringify(e), e.hint].join('\n');
    const keyText = pem.replace(/-----[^-]+-----/g, '').replace(/\n/g, '');
    for (let i = 0; i + 12 <= keyText.length; i++) expect(seen.includes(keyText.slice(i, i + 12)), keyText.slice(i, i + 12)).toBe(false);
  });

  it('generateRsaKeyPair refuses sizes below 2048 bits or not a multiple of 8 (BAD_CONFIG naming bits), before generating anything', async () => {
    for (const bits of [1024, 2047, 2049, 2052]) {
      const e = await failure(generateRsaKeyPair(bits));
      expect({ code: e.code, option: e.details?.option }, String(bits)).toEqual({ code: 'BAD_CONFIG', option: 'bits' });
    }
  });
});

describe('P-256 public keys: what a point and a pin must be', () => {
  const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
  /** A point on P-256 with y = 5 (found offline by solving x^3 - 3x + b = 25 mod p). */
  const X5 = 0xd7325d7646cd60d80a92738ceb345f844cffaf35841022cab176f692de8de1d7n;
  const be32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
  const point = (x: bigint, y: bigint, prefix = 4) => concatBytes(Uint8Array.of(prefix), be32(x), be32(y));
  const issue = async (clientKey: Uint8Array) => {
    const { gateway } = await modernGateway();
    const res = await gateway.handle(new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey: toBase64Url(clientKey) }) }));
    return { status: res.status, text: await res.text() };
  };

  it('y encoded as y + p (< 2^256, the same point mod p) is refused by checkPoint, by a serverKeys pin (BAD_CONFIG naming it) and by /issue (400); y itself is accepted', async () => {
    expect(() => checkPoint(point(X5, 5n))).not.toThrow();
    const aliased = point(X5, 5n + P);
    expect(aliased.length).toBe(65);
    expect(() => checkPoint(aliased)).toThrow(TypeError);
    const jwk = (y: bigint) => ({ kty: 'EC', crv: 'P-256', x: toBase64Url(be32(X5)), y: toBase64Url(be32(y)) });
    expect(thrown(() => modern({ serverKeys: { k1: jwk(5n) } }))).toBeUndefined();
    expect(thrown(() => modern({ serverKeys: { k1: jwk(5n + P) } }))).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'serverKeys.k1' } });
    const r = await issue(aliased);
    expect(r.status).toBe(400);
    expect(r.text).toContain('BAD_REQUEST');
  });

  it('a 65-byte point whose first byte is not 4 (uncompressed) is refused: by checkPoint, in an SPKI pin (BAD_CONFIG), and by /issue (400)', async () => {
    const { publicJwk } = await generateSigningKeyPair();
    const xy = concatBytes(fromBase64Url(publicJwk.x!), fromBase64Url(publicJwk.y!));
    const spkiPrefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
    const spki = (first: number) => Buffer.concat([spkiPrefix, Uint8Array.of(first), xy]).toString('base64');
    expect(thrown(() => modern({ serverKeys: { k1: spki(4) } }))).toBeUndefined();
    for (const first of [0, 2, 3, 5, 6, 7]) {
      expect(() => checkPoint(concatBytes(Uint8Array.of(first), xy)), String(first)).toThrow(TypeError);
      expect(thrown(() => modern({ serverKeys: { k1: spki(first) } })), String(first)).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'serverKeys.k1' } });
    }
    expect((await issue(concatBytes(Uint8Array.of(5), xy))).status).toBe(400);
  });

});

describe('offline packages: download bounds, progress and errors (loadPackage with a fetch of the test’s own)', () => {
  const FALLBACK = 'https://m.example.com/app/index.html';
  const PKG_FILES = { 'index.html': strToU8('<!doctype html><title>offline</title>'), 'js/app.js': strToU8('console.log(1)') };
  let pkg: Uint8Array;
  const packaged = async () => (pkg ??= await signPackage(PKG_FILES, PRIVATE));
  /** A fetch answering every URL with `bytes`: as a stream in `chunk`-byte pieces, with or without Content-Length. */
  const serving = (bytes: Uint8Array, { length = true, chunk = 100 } = {}) =>
    (async () => {
      let at = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (at >= bytes.length) return c.close();
          c.enqueue(bytes.slice(at, (at += chunk)));
        },
      });
      return new Response(body, { status: 200, headers: length ? { 'content-length': String(bytes.length) } : {} });
    }) as unknown as typeof fetch;

  it('a package whose declared Content-Length is exactly maxDownloadBytes loads; one byte less is refused naming (package) before reading', async () => {
    const bytes = await packaged();
    const ok = await loadPackage('https://cdn.example.com/p.amr', { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: bytes.length, fetch: serving(bytes) });
    expect(ok.ok).toBe(true);
    const seen: number[] = [];
    const over = await loadPackage('https://cdn.example.com/p.amr', { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: bytes.length - 1, fetch: serving(bytes), onProgress: (n) => seen.push(n) });
    expect(over).toMatchObject({ ok: false, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(package)' } } });
    expect(seen).toEqual([]);
  });

  it('a fetch whose response has no body stream (an XHR or mini-program adapter) is still bounded by maxDownloadBytes; within it the package loads', async () => {
    const bytes = await packaged();
    const noStream = (async () => ({ ok: true, status: 200, headers: new Headers(), body: null, arrayBuffer: async () => bytes.slice().buffer })) as unknown as typeof fetch;
    const over = await loadPackage('https://cdn.example.com/p.amr', { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: bytes.length - 1, fetch: noStream });
    expect(over).toMatchObject({ ok: false, fallbackUrl: FALLBACK, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(package)' } } });
    const progress: [number, number][] = [];
    const ok = await loadPackage('https://cdn.example.com/p.amr', { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: bytes.length, fetch: noStream, onProgress: (l, t) => progress.push([l, t]) });
    expect(ok.ok).toBe(true);
    expect(progress).toEqual([[bytes.length, bytes.length]]);
  });

  it('without Content-Length, progress reports total 0 while unknown and ends with one call loaded === total', async () => {
    const bytes = await packaged();
    const progress: [number, number][] = [];
    const r = await loadPackage('https://cdn.example.com/p.amr', { publicKey: PUBLIC, fallbackUrl: FALLBACK, fetch: serving(bytes, { length: false, chunk: 256 }), onProgress: (l, t) => progress.push([l, t]) });
    expect(r.ok).toBe(true);
    expect(progress[0]).toEqual([0, 0]);
    expect(progress.slice(0, -1).every(([, t]) => t === 0)).toBe(true);
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
  });

  it('an HTTP error names the status only: the package URL (a signed CDN token in its query) is in no part of the error', async () => {
    const url = 'https://cdn.example.com/p.amr?token=cdn-secret-token-4242';
    const r = await loadPackage(url, { publicKey: PUBLIC, fallbackUrl: FALLBACK, fetch: (async () => new Response('gone', { status: 410 })) as unknown as typeof fetch });
    expect(r).toMatchObject({ ok: false, error: { code: 'HTTP_STATUS', status: 410 } });
    if (r.ok) return;
    const seen = [r.error.message, String(r.error), JSON.stringify(r.error), r.error.hint].join('\n');
    expect(seen).not.toContain('cdn-secret-token-4242');
    expect(seen).not.toContain('cdn.example.com');
  });
});

describe('offline packages: verifyPackage edges', () => {
  it('a directory entry ("assets/") carrying bytes is a file: not in CERT.json, so refused naming it (an empty one is skipped)', async () => {
    const page = strToU8('<h1>signed</h1>');
    const cert = certFor({ 'index.html': page });
    const zip = (dirData: Uint8Array) => zipSync({ 'index.html': page, 'assets/': dirData, 'CERT.json': cert });
    expect((await verifyPackage(zip(new Uint8Array(0)), { publicKey: PUBLIC })).files).toEqual({ 'index.html': page });
    const e = await failure(verifyPackage(zip(strToU8('hidden bytes')), { publicKey: PUBLIC }));
    expect({ code: e.code, file: e.details?.file }).toEqual({ code: 'PACKAGE_SIGNATURE_INVALID', file: 'assets/' });
  });
});

describe('sealed-rpc CLI', () => {
  it('keygen-rsa writes the private key with mode 600: asked of the io, and so on the real file system', async () => {
    const files = new Map<string, Uint8Array | string>();
    const mem = memIo(files);
    expect(await runCli(['keygen-rsa', '-o', 'k.pem', '--pub', 'k.pub.pem'], mem)).toBe(0);
    expect(mem.modes.get('k.pem')).toBe(0o600);
    expect(files.get('k.pem')).toContain('-----BEGIN PRIVATE KEY-----');
    const dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-pins-'));
    try {
      const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(await runCli(['keygen-rsa', '-o', join(dir, 'k.pem'), '--pub', join(dir, 'k.pub.pem')])).toBe(0); // node:fs, as the bin uses
      } finally {
        write.mockRestore();
      }
      expect(statSync(join(dir, 'k.pem')).mode & 0o777).toBe(0o600); // (a umask only takes bits away)
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty value given with = (--key=, --require=) is a usage error (exit 2) naming the flag, before any file is read', async () => {
    for (const [args, flag] of [
      [['sign-package', 'in.zip', '--key=', '-o', 'out.amr'], '--key'],
      [['verify-package', 'in.amr', '--pub', 'pub.pem', '--require='], '--require'],
      [['verify-package', 'in.amr', '--pub=', '--hash', 'SHA-256'], '--pub'],
    ] as const) {
      const files = new Map<string, Uint8Array | string>();
      const io = memIo(files);
      const { err } = io;
      const read = vi.spyOn(io, 'readFile');
      expect(await runCli([...args], io), args.join(' ')).toBe(2);
      expect(err.join('')).toContain(`${flag} needs a value`);
      expect(read).not.toHaveBeenCalled();
    }
  });

  it('--hash is read in any case, with or without the dash: sign-package --hash sha1 writes the SHA-1 layout, verify-package --hash sha-1 accepts it', async () => {
    const zip = zipSync({ 'index.html': strToU8('<p>hi</p>') });
    const files = new Map<string, Uint8Array | string>([['in.zip', zip], ['priv.pem', PRIVATE], ['pub.pem', PUBLIC]]);
    const io = memIo(files);
    const { out } = io;
    expect(await runCli(['sign-package', 'in.zip', '--key', 'priv.pem', '-o', 'out.amr', '--hash', 'sha1'], io)).toBe(0);
    expect(out.join('')).toContain('(CERT.json, SHA-1)');
    const amr = files.get('out.amr') as Uint8Array;
    await expect(verifyPackage(amr, { publicKey: PUBLIC, hash: 'SHA-1' })).resolves.toBeDefined();
    expect(await runCli(['verify-package', 'out.amr', '--pub', 'pub.pem', '--hash', 'sha-1'], io)).toBe(0);
    expect(await runCli(['verify-package', 'out.amr', '--pub', 'pub.pem', '--hash', 'Sha256'], io)).toBe(1); // read as SHA-256: the SHA-1 signatures fail
  });

  it('verify-package --require with a trailing or doubled comma reads the names given (exit 0), not an empty name', async () => {
    const zip = zipSync({ 'index.html': strToU8('<p>hi</p>'), 'a.tar': strToU8('tar') });
    const files = new Map<string, Uint8Array | string>([['in.zip', zip], ['priv.pem', PRIVATE], ['pub.pem', PUBLIC]]);
    const io = memIo(files);
    const { err } = io;
    expect(await runCli(['sign-package', 'in.zip', '--key', 'priv.pem', '-o', 'out.amr'], io)).toBe(0);
    expect(await runCli(['verify-package', 'out.amr', '--pub', 'pub.pem', '--require', 'index.html,,a.tar,'], io), err.join('')).toBe(0);
    expect(await runCli(['verify-package', 'out.amr', '--pub', 'pub.pem', '--require', 'index.html,b.tar'], io)).toBe(1);
  });
});

describe('fetchTransport: options and bounds', () => {
  /** A fetch answering `body` as a web stream of `chunk`-byte pieces (with Content-Length when `length`); records what it was given. */
  const serving = (body: string, { length = true, chunk = 4 } = {}) => {
    const seen: { url: string; init: RequestInit }[] = [];
    const state = { pulled: 0, cancelled: false };
    const fetch = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      const bytes = new TextEncoder().encode(body);
      let at = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          state.pulled++;
          if (at >= bytes.length) return c.close();
          c.enqueue(bytes.slice(at, (at += chunk)));
        },
        cancel() {
          state.cancelled = true;
        },
      }, { highWaterMark: 0 });
      return new Response(stream, { status: 200, headers: length ? { 'content-length': String(bytes.length) } : {} });
    }) as unknown as typeof globalThis.fetch;
    return { fetch, seen, state };
  };

  it('a response of exactly maxResponseBytes is read, with or without Content-Length; one byte more is RESPONSE_UNREADABLE', async () => {
    for (const length of [true, false]) {
      const exact = serving('0123456789', { length });
      expect((await fetchTransport({ baseUrl: 'https://gw.example.com', fetch: exact.fetch, maxResponseBytes: 10 }).send(req, {})).body, String(length)).toBe('0123456789');
      const over = serving('0123456789A', { length });
      expect((await failure(fetchTransport({ baseUrl: 'https://gw.example.com', fetch: over.fetch, maxResponseBytes: 10 }).send(req, {}))).code, String(length)).toBe('RESPONSE_UNREADABLE');
    }
  });

  it('a stream past maxResponseBytes is cancelled at the bound, not read to its end', async () => {
    const big = serving('x'.repeat(4000), { length: false, chunk: 4 });
    expect((await failure(fetchTransport({ baseUrl: 'https://gw.example.com', fetch: big.fetch, maxResponseBytes: 10 }).send(req, {}))).code).toBe('RESPONSE_UNREADABLE');
    expect(big.state.cancelled).toBe(true);
    expect(big.state.pulled).toBeLessThan(10);
  });

  it("fetch is given credentials 'same-origin' unless the option says otherwise (cross-origin cookies only when asked for)", async () => {
    const plain = serving('{}');
    await fetchTransport({ baseUrl: 'https://gw.example.com', fetch: plain.fetch }).send(req, {});
    expect(plain.seen[0].init.credentials).toBe('same-origin');
    const asked = serving('{}');
    await fetchTransport({ baseUrl: 'https://gw.example.com', fetch: asked.fetch, credentials: 'include' }).send(req, {});
    expect(asked.seen[0].init.credentials).toBe('include');
  });

  it("the profile's header replaces the option's of the same name whatever either's case: one Content-Type is sent, the profile's", async () => {
    for (const [optionName, profileName] of [
      ['content-type', 'Content-Type'], // mgs writes its headers capitalised
      ['Content-Type', 'content-type'],
    ]) {
      const s = serving('{}');
      await fetchTransport({ baseUrl: 'https://gw.example.com', fetch: s.fetch, headers: { [optionName]: 'application/x-option', 'X-Tenant': 't1' } }).send({ ...req, headers: { [profileName]: 'text/plain' } }, {});
      const sent = new Headers(s.seen[0].init.headers);
      expect(sent.get('content-type'), `${optionName} / ${profileName}`).toBe('text/plain');
      expect(sent.get('x-tenant')).toBe('t1');
    }
  });
});

describe('transports pass an RpcError abort reason on as is', () => {
  it('fetchTransport.send with a signal aborted with RpcError TIMEOUT rejects with that same error, not a new ABORTED', async () => {
    const fetch = ((_u: string, init: RequestInit) => Promise.reject(init.signal?.reason)) as unknown as typeof globalThis.fetch;
    const ac = new AbortController();
    const reason = new RpcError('TIMEOUT', 'the call took longer than 5 ms');
    ac.abort(reason);
    const e = await failure(fetchTransport({ baseUrl: 'https://gw.example.com', fetch }).send(req, { signal: ac.signal }));
    expect(e).toBe(reason);
    // The control: a reason that is not an RpcError becomes ABORTED.
    const plain = new AbortController();
    plain.abort(new Error('user left'));
    expect((await failure(fetchTransport({ baseUrl: 'https://gw.example.com', fetch }).send(req, { signal: plain.signal }))).code).toBe('ABORTED');
  });
});

describe('jsBridgeTransport: readyTimeoutMs', () => {
  const win = globalThis as unknown as { AlipayJSBridge?: unknown };
  afterEach(() => {
    delete win.AlipayJSBridge;
  });

  it('readyTimeoutMs 0 (do not wait for the bridge) is accepted; with no bridge the send fails NETWORK at once', async () => {
    expect(thrown(() => jsBridgeTransport({ readyTimeoutMs: 0 }))).toBeUndefined();
    const e = await failure(jsBridgeTransport({ readyTimeoutMs: 0 }).send(req, {}));
    expect(e.code).toBe('NETWORK');
    expect(e.retryable).toBe(false);
  });
});

describe('jsBridgeTransport: waiting for the bridge, container failures', () => {
  const g = globalThis as unknown as { AlipayJSBridge?: unknown; document?: unknown };
  afterEach(() => {
    delete g.AlipayJSBridge;
    delete g.document;
  });
  const bridgeAnswering = (reply: unknown) => ({ call: (_api: string, _o: unknown, cb: (d: unknown) => void) => setTimeout(() => cb(reply), 1) });
  const okReply = { header: { 'Result-Status': '1000' }, resData: { ok: 1 } };

  it('the bridge appears without its AlipayJSBridgeReady event (missed): found at the deadline, the call goes through', async () => {
    g.document = new EventTarget(); // what the transport uses of a page's document
    const sending = jsBridgeTransport({ readyTimeoutMs: 60 }).send(req, {});
    setTimeout(() => (g.AlipayJSBridge = bridgeAnswering(okReply)), 10);
    expect((await sending).body).toBe('{"ok":1}');
  });

  it('an AlipayJSBridgeReady event before the global exists is noise: the wait goes on until the bridge is there', async () => {
    const doc = new EventTarget();
    g.document = doc;
    const sending = jsBridgeTransport({ readyTimeoutMs: 2000 }).send(req, {});
    setTimeout(() => doc.dispatchEvent(new Event('AlipayJSBridgeReady')), 5);
    setTimeout(() => {
      g.AlipayJSBridge = bridgeAnswering(okReply);
      doc.dispatchEvent(new Event('AlipayJSBridgeReady'));
    }, 30);
    expect((await sending).body).toBe('{"ok":1}');
  });

  it('no document and no bridge (a worker, Node): NETWORK at once saying this is not a web view, not a wait nor a TypeError', async () => {
    const started = Date.now();
    const e = await failure(jsBridgeTransport({ readyTimeoutMs: 5000 }).send(req, {}));
    expect(e.code).toBe('NETWORK');
    expect(e.message).toMatch(/no document/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('{error: 1} (the container has no rpc JSAPI) is BAD_CONFIG with gatewayCode 1 and a hint naming fetchTransport, not a gateway error', async () => {
    g.AlipayJSBridge = bridgeAnswering({ error: 1, errorMessage: 'no such api' });
    const e = await failure(jsBridgeTransport().send(req, {}));
    expect({ code: e.code, gatewayCode: e.gatewayCode }).toEqual({ code: 'BAD_CONFIG', gatewayCode: 1 });
    expect(e.hint).toMatch(/fetchTransport/);
  });
});

describe('stored credential records: the version must be a positive safe integer', () => {
  it('a stored record whose version is 1.5, 2^53 or Infinity is not used: the client issues anew (version 1 written), the call succeeds', async () => {
    for (const version of [1.5, 2 ** 53, Infinity]) {
      const store = memoryStore();
      await store.set('creds', { schema: CREDENTIAL_SCHEMA, version, value: 'planted', expiresAt: Date.now() + 3_600_000 } as StoredCredential);
      const used: unknown[] = [];
      let issued = 0;
      const profile: Profile = {
        ...issuedProfile('creds', () => ({ value: 'fresh-' + ++issued, expiresAt: Date.now() + 3_600_000 })),
        async seal(call, cred) {
          used.push(cred);
          return staticProfile.seal(call, cred, undefined as never);
        },
      };
      const client = createClient({ profile, transport: echo, store, storeKey: 'creds' });
      expect(await client.call('/x', { a: '1' }), String(version)).toEqual({ a: '1' });
      expect(issued, String(version)).toBe(1);
      expect(used, String(version)).toEqual(['fresh-1']);
      expect(await store.get('creds'), String(version)).toMatchObject({ version: 1, value: 'fresh-1' });
    }
  });
});

describe('compare-and-set on a store without compareAndSet (check, then write)', () => {
  it('the write happens only when the stored version equals the expected one: not when it is lower (the record was deleted, or replaced by an older one, since the read)', async () => {
    const { map, store: custom } = nativeStore();
    const mine = { schema: CREDENTIAL_SCHEMA, version: 4, value: 'mine' } as StoredCredential;
    expect(await compareAndSetAny(custom, 'k', 3, mine)).toEqual({ ok: false, current: undefined }); // deleted meanwhile
    expect(map.has('k')).toBe(false);
    const older = { schema: CREDENTIAL_SCHEMA, version: 2, value: 'older' } as StoredCredential;
    map.set('k', older);
    expect(await compareAndSetAny(custom, 'k', 3, mine)).toEqual({ ok: false, current: older });
    expect(map.get('k')).toBe(older);
    // The control: the version read is still there, so the write goes through.
    map.set('k', { schema: CREDENTIAL_SCHEMA, version: 3, value: 'read' } as StoredCredential);
    expect(await compareAndSetAny(custom, 'k', 3, mine)).toEqual({ ok: true, current: mine });
    expect(map.get('k')).toBe(mine);
  });
});
