/**
 * The gateway's Node adapter under the servers and clients people really use: node:http2 (h2c
 * and TLS with allowHTTP1), https, the fetch-style handler an edge runtime calls, curl, a tiny
 * reverse proxy, and the odd requests the HTTP layer makes (Expect: 100-continue, pipelining,
 * aborts, server timeouts). Every server a test starts is on 127.0.0.1 and closed by that test.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appSecret, createClient, fetchTransport, memoryStore, mgs, modern, sortedSign, type Profile } from '../../src/index.js';
import {
  appSecret as appSecretGateway,
  createGateway,
  mgs as mgsGateway,
  modern as modernGateway,
  sortedSign as sortedSignGateway,
  toNodeHandler,
  type Gateway,
  type NodeHandler,
} from '../../src/server/index.js';
import { signingKey } from '../helpers/servers.js';

type Handler = NodeHandler;
type AnyServer = http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer;
type Path = 'wire-level' | 'web Request';
const PATHS = ['wire-level', 'web Request'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(done: () => boolean, ms: number) {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await sleep(10);
}

/** toNodeHandler on the gateway itself (wire-level path) or on `gateway.handle` (web Request path). */
const handlerFor = (gateway: Gateway, path: Path, basePath?: string): Handler =>
  toNodeHandler(path === 'wire-level' ? gateway : (r: Request) => gateway.handle(r), basePath ? { basePath } : {});

/** A server listening on 127.0.0.1; `close` ends every connection and HTTP/2 session it has. */
async function start(server: AnyServer, scheme: 'http' | 'https' = 'http') {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
type Started = Awaited<ReturnType<typeof start>>;

/** A fetch over one HTTP/2 session (Node's fetch speaks HTTP/1.1 only), for fetchTransport's `fetch`. */
function h2fetch(session: http2.ClientHttp2Session): typeof fetch {
  return (async (url: string, init: RequestInit = {}) => {
    const u = new URL(url);
    const headers: http2.OutgoingHttpHeaders = { ':method': init.method ?? 'GET', ':path': u.pathname + u.search };
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const stream = session.request(headers);
    stream.end(init.body == null ? undefined : (init.body as string));
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const out = new Headers();
    for (const [k, v] of Object.entries(head)) if (!k.startsWith(':') && v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : String(v));
    return new Response(Buffer.concat(chunks), { status: Number(head[':status']), headers: out });
  }) as typeof fetch;
}

/** A fetch over https.request trusting the test certificate (HTTP/1.1, keep-alive). */
function httpsFetch(ca: Buffer, agent: https.Agent): typeof fetch {
  return ((url: string, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const req = https.request(url, { method: init.method ?? 'GET', headers: (init.headers ?? {}) as Record<string, string>, ca, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode!, headers: out }));
        });
      });
      req.on('error', reject);
      req.end(init.body == null ? undefined : (init.body as string));
    })) as typeof fetch;
}

const APP_KEY = 'ZVNH8HUW5K3VQZKK';
const PUBLIC_SECRET = 'pubSecret-16byte';
const MGS_APP = { appId: 'PROC1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch' };

interface Dialect {
  name: string;
  gateway: (extra?: { maxInFlight?: number; maxBodyBytes?: number }) => Gateway;
  profile: () => Profile;
  op: string;
  /** What `{ a }` comes back as. */
  echo: (a: string) => unknown;
}

let key: Awaited<ReturnType<typeof signingKey>>;
const DIALECTS: Dialect[] = [
  {
    name: 'modern',
    gateway: (x = {}) => createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }), ...x }).operation('/echo', (p) => p),
    profile: () => modern({ serverKeys: { k1: key.jwk } }),
    op: '/echo',
    echo: (a) => ({ a }),
  },
  {
    name: 'appSecret',
    gateway: (x = {}) => createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), ...x }).operation('/echo', (p) => p),
    profile: () => appSecret({ publicSecret: PUBLIC_SECRET }),
    op: '/echo',
    echo: (a) => ({ a, accessFrom: 'h5' }),
  },
  {
    name: 'sortedSign',
    gateway: (x = {}) => createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), ...x }).operation('/echo', (p) => p),
    profile: () => sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }),
    op: '/echo',
    echo: (a) => ({ a }),
  },
  {
    name: 'mgs',
    gateway: (x = {}) => createGateway({ profile: mgsGateway(MGS_APP), ...x }).operation('com.test.echo', (p) => p),
    profile: () => mgs(MGS_APP),
    op: 'com.test.echo',
    echo: (a) => ({ a }),
  },
];

/** Two genuine calls through a real client (the second reuses what the first issued). */
async function twoCalls(d: Dialect, baseUrl: string, f?: typeof fetch): Promise<unknown[]> {
  const client = createClient({ profile: d.profile(), transport: fetchTransport({ baseUrl, ...(f ? { fetch: f } : {}) }), store: memoryStore() });
  return [await client.call(d.op, { a: '1' }), await client.call(d.op, { a: '2' })];
}

/** Process warnings seen while `run` runs (node:http2 warns when it drops a header). */
async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listen = (w: Error) => seen.push(`${w.name}: ${w.message}`);
  process.on('warning', listen);
  try {
    await run();
    await sleep(20); // warnings are emitted on the next tick
  } finally {
    process.off('warning', listen);
  }
  return seen;
}

let tlsDir: string;
let tls: { key: Buffer; cert: Buffer };

beforeAll(async () => {
  key = await signingKey();
  // A self-signed certificate for 127.0.0.1, made by the openssl on this machine.
  tlsDir = mkdtempSync(join(tmpdir(), 'sealed-rpc-tls-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore', timeout: 10_000 },
  );
  tls = { key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) };
});
afterAll(() => rmSync(tlsDir, { recursive: true, force: true }));

describe('HTTP/2 (node:http2 compatibility API): a body left unread ends its stream, not the connection', () => {
  /** An h2 request that declares (or not) a large body, sends part of it and keeps trickling until its stream closes. */
  async function trickle(srv: Started, headers: http2.OutgoingHttpHeaders, first: number) {
    const session = http2.connect(srv.url);
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', 'content-type': 'application/json', ...headers });
    const errors: string[] = [];
    stream.on('error', (e) => errors.push(e.message));
    stream.write('x'.repeat(first));
    const tick = setInterval(() => {
      if (!stream.destroyed && !stream.closed) stream.write('x'.repeat(512));
    }, 20);
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => (body += c.toString()));
    await until(() => stream.closed, 3000);
    clearInterval(tick);
    const out = { status, body: body.slice(0, 40), closed: stream.closed, rstCode: stream.closed ? stream.rstCode : undefined, errors };
    return { out, session };
  }

  it.each(PATHS)('h2c: a 413 on a declared Content-Length, a 413 counted on an undeclared body, and a 404 before the body are answered, the stream is then ended with NO_ERROR (the client stops sending), no process warning, and the session goes on (%s path)', async (path) => {
    const gateway = DIALECTS[2].gateway({ maxBodyBytes: 4096 });
    const srv = await start(http2.createServer(handlerFor(gateway, path)));
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const results: unknown[] = [];
      const warnings = await warningsDuring(async () => {
        for (const [headers, first] of [
          [{ ':path': '/echo', 'content-length': String(1e9) }, 8192],
          [{ ':path': '/echo' }, 8192],
          [{ ':path': '/nope', 'content-length': String(1e9) }, 1024],
        ] as const) {
          const { out, session } = await trickle(srv, headers, first);
          sessions.push(session);
          results.push(out);
        }
      });
      // Before: the connection header was dropped with an UnsupportedWarning each time, and on the web
      // Request path (or after a partial read) the stream stayed open, reading and dropping, as long as the client sent.
      expect(results).toEqual([
        { status: 413, body: expect.stringContaining('BODY_TOO_LARGE'), closed: true, rstCode: 0, errors: [] },
        { status: 413, body: expect.stringContaining('BODY_TOO_LARGE'), closed: true, rstCode: 0, errors: [] },
        { status: 404, body: expect.any(String), closed: true, rstCode: 0, errors: [] },
      ]);
      expect(warnings).toEqual([]);
      // The session (the connection) is not closed: a genuine call on it is answered.
      expect(await twoCalls(DIALECTS[2], srv.url, h2fetch(sessions[0]))).toEqual([{ a: '1' }, { a: '2' }]);
      expect(gateway.stats().rejections).toEqual({ BODY_TOO_LARGE: 2, NOT_FOUND: 1 });
    } finally {
      for (const s of sessions) s.destroy();
      await srv.close();
    }
  }, 20_000);
});

describe('toNodeHandler is typed for the servers it works on', () => {
  it('http2.createServer(toNodeHandler(gateway)) and http2.createSecureServer({ allowHTTP1 }, …) type-check, as http, https and connect-style use do (it needed a cast: the handler took node:http types only)', async () => {
    // TypeScript here is the native compiler (no JS API): tsc on a one-file project that imports src.
    const root = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-types-'));
    try {
      const code = [
        `import http from 'node:http'; import https from 'node:https'; import http2 from 'node:http2';`,
        `import { createGateway, sortedSign, toNodeHandler } from ${JSON.stringify(join(root, 'src/server/index.js'))};`,
        `const g = createGateway({ profile: sortedSign({ apps: { '1': 'k' } }) });`,
        `http2.createServer(toNodeHandler(g));`,
        `http2.createSecureServer({ allowHTTP1: true }, toNodeHandler(g, { basePath: '/gw' }));`,
        `http.createServer(toNodeHandler(g)); https.createServer({}, toNodeHandler(g));`,
        `const use = (fn: (req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void) => fn;`,
        `use(toNodeHandler(g));`,
        `const control: number = 'not a number'; // the one error expected: tsc did check this file`,
      ].join('\n');
      writeFileSync(join(dir, 'use.ts'), code);
      const compilerOptions = { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: ['node'], typeRoots: [join(root, 'node_modules/@types')], strict: true, skipLibCheck: true, noEmit: true };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use.ts'] }));
      const out = await new Promise<string>((resolve) =>
        execFile(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { timeout: 50_000 }, (_e, stdout, stderr) => resolve(String(stdout) + String(stderr))),
      );
      // Lines with an error (line 9 is the control).
      const lines = out.split('\n').flatMap((l) => /use\.ts[(:](\d+)/.exec(l)?.[1] ?? []);
      expect(lines).toEqual(['9']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('genuine calls over node:http2, https and TLS with allowHTTP1', () => {
  const KINDS = ['h2c (http2.createServer)', 'h2 over TLS (createSecureServer allowHTTP1)', 'HTTP/1.1 over TLS (createSecureServer allowHTTP1)', 'https.createServer'] as const;
  it.each(KINDS)('%s: all four dialects, both paths, two calls each through createClient and fetchTransport', async (kind) => {
    const outcomes: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const d of DIALECTS)
      for (const path of PATHS) {
        const gateway = d.gateway();
        const handler = handlerFor(gateway, path);
        const tlsServer = kind !== 'h2c (http2.createServer)';
        const srv = await start(
          kind === 'h2c (http2.createServer)' ? http2.createServer(handler) : kind === 'https.createServer' ? https.createServer(tls, handler) : http2.createSecureServer({ ...tls, allowHTTP1: true }, handler),
          tlsServer ? 'https' : 'http',
        );
        const agent = new https.Agent({ keepAlive: true, ca: tls.cert });
        const session = kind.startsWith('h2') ? http2.connect(srv.url, tlsServer ? { ca: tls.cert } : {}) : undefined;
        session?.on('error', () => {});
        try {
          const f = session ? h2fetch(session) : httpsFetch(tls.cert, agent);
          outcomes[`${d.name} ${path}`] = await twoCalls(d, srv.url, f).catch((e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
          expected[`${d.name} ${path}`] = [d.echo('1'), d.echo('2')];
        } finally {
          session?.destroy();
          agent.destroy();
          await srv.close();
        }
      }
    expect(outcomes).toEqual(expected);
  }, 30_000);

  it.each(PATHS)("HTTP/2 has no Host header: its :authority is the web Request's host for clientAddress and ctx.headers, as Host is on HTTP/1.1 (it was http://localhost with no host) (%s path)", async (path) => {
    const seen: unknown[] = [];
    const gateway = createGateway({
      profile: modernGateway({
        signingKeys: { k1: key.pem },
        clientAddress: (r) => {
          seen.push({ url: r.url, host: r.headers.get('host') });
          return 'one';
        },
      }),
    }).operation('/echo', (p, ctx) => {
      seen.push({ ctxHost: ctx.headers.get('host'), pseudo: [...ctx.headers.keys()].filter((k) => k.startsWith(':')) });
      return p;
    });
    const srv = await start(http2.createServer(handlerFor(gateway, path)));
    const session = http2.connect(srv.url);
    try {
      const client = createClient({ profile: modern({ serverKeys: { k1: key.jwk } }), transport: fetchTransport({ baseUrl: srv.url, fetch: h2fetch(session) }), store: memoryStore() });
      expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
      const host = `127.0.0.1:${srv.port}`;
      expect(seen).toEqual([{ url: `http://${host}/issue`, host }, { ctxHost: host, pseudo: [] }]);
    } finally {
      session.destroy();
      await srv.close();
    }
  });
});

describe('a request body under Content-Encoding', () => {
  /** A fetch that compresses the body on its way, as a compressing proxy or HTTP library does. */
  const gzipping: typeof fetch = ((url: string, init: RequestInit = {}) =>
    fetch(url, init.body == null ? init : { ...init, headers: { ...(init.headers as Record<string, string>), 'content-encoding': 'gzip' }, body: gzipSync(Buffer.from(init.body as string)) })) as typeof fetch;

  it.each(PATHS)('gzip: every dialect answers 415 UNSUPPORTED_CONTENT_ENCODING, and the client gets HTTP_STATUS 415 with a hint naming Content-Encoding (it was a bad-params or signature refusal: param_error, 1001, 3002, 400) (%s path)', async (path) => {
    const outcomes: Record<string, unknown> = {};
    for (const d of DIALECTS) {
      const gateway = d.gateway();
      const srv = await start(http.createServer(handlerFor(gateway, path)));
      try {
        // mgs and sortedSign send their call first; modern and app-secret their issuance: each is refused the same way.
        const client = createClient({ profile: d.profile(), transport: fetchTransport({ baseUrl: srv.url, fetch: gzipping }), store: memoryStore() });
        const e = await client.call(d.op, { a: '1' }).then(
          () => undefined,
          (err: { code: string; status?: number; hint: string }) => err,
        );
        outcomes[d.name] = { code: e?.code, status: e?.status, hintNamesIt: /Content-Encoding/.test(e?.hint ?? ''), rejections: gateway.stats().rejections };
      } finally {
        await srv.close();
      }
    }
    const refused = { code: 'HTTP_STATUS', status: 415, hintNamesIt: true, rejections: { UNSUPPORTED_CONTENT_ENCODING: 1 } };
    expect(outcomes).toEqual({ modern: refused, appSecret: refused, sortedSign: refused, mgs: refused });
  });

  it('gateway.handle (an edge runtime) answers the same 415; Content-Encoding: identity, and a GET with no body, are read as before', async () => {
    const gateway = DIALECTS[2].gateway();
    const post = (enc: string) => gateway.handle(new Request('https://edge.example/echo', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': enc }, body: 'a=1' }));
    const gz = await post('gzip');
    expect([gz.status, await gz.json()]).toEqual([415, { error: 'UNSUPPORTED_CONTENT_ENCODING', serverTime: expect.any(String) }]);
    // identity is no coding: the (unsigned) body reaches sorted-sign, which refuses it in its own form.
    const id = await post('identity');
    expect([id.status, (await id.json()).code]).toEqual([200, 1001]);
    const get = await gateway.handle(new Request('https://edge.example/echo?a=1', { headers: { 'content-encoding': 'gzip' } }));
    expect([get.status, typeof (await get.json()).code]).toEqual([200, 'number']); // sorted-sign's own refusal of an unsigned GET
  });
});

describe('the fetch-style handler an edge runtime calls: export default { fetch: gateway.handle }', () => {
  it.each(DIALECTS.map((d) => d.name))('%s: Node\'s own Request objects with absolute URLs, a streamed body (duplex: half) in two chunks, the handle taken off the gateway unbound', async (name) => {
    const d = DIALECTS.find((x) => x.name === name)!;
    const worker = { fetch: d.gateway().handle };
    const f = ((url: string, init: RequestInit = {}) => {
      const bytes = init.body == null ? undefined : new TextEncoder().encode(init.body as string);
      const body = bytes && new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(bytes.subarray(0, 5)), c.enqueue(bytes.subarray(5)), c.close()) });
      return worker.fetch(new Request(url, { ...init, body, duplex: 'half' } as RequestInit));
    }) as typeof fetch;
    expect(await twoCalls(d, 'https://edge.example', f)).toEqual([d.echo('1'), d.echo('2')]);
  });

  it('a base path in front of gateway.handle is not stripped (toNodeHandler has basePath; handle does not): the client is told to check baseUrl and issuePath, and a Request rewritten without the prefix works', async () => {
    const d = DIALECTS[1]; // app-secret: issuance at its path
    const gateway = d.gateway();
    const asIs = ((url: string, init: RequestInit) => gateway.handle(new Request(url, init))) as typeof fetch;
    const e = await twoCalls(d, 'https://edge.example/api', asIs).then(() => undefined, (err: { code: string; message: string; hint: string }) => err);
    expect({ code: e?.code, message: e?.message, hint: e?.hint }).toEqual({ code: 'HTTP_STATUS', message: expect.stringContaining('HTTP 404'), hint: expect.stringMatching(/baseUrl and issuePath/) });
    // What the README says to do on such a runtime: strip the prefix before handing the Request on.
    const stripped = ((url: string, init: RequestInit) => {
      const u = new URL(url);
      u.pathname = u.pathname.replace(/^\/api(?=\/)/, '');
      return gateway.handle(new Request(u, init));
    }) as typeof fetch;
    expect(await twoCalls(d, 'https://edge.example/api', stripped)).toEqual([d.echo('1'), d.echo('2')]);
  });
});

/** Each dialect's genuine wire request (captured in process), to send by other clients. */
async function captured(d: Dialect, gateway: Gateway, params: Record<string, string> = { a: '1' }) {
  const sent: { path: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const f = ((url: string, init: RequestInit) => {
    const u = new URL(url);
    sent.push({ path: u.pathname + u.search, method: init.method ?? 'GET', headers: init.headers as Record<string, string>, body: String(init.body ?? '') });
    return gateway.handle(new Request(url, init));
  }) as typeof fetch;
  const client = createClient({ profile: d.profile(), transport: fetchTransport({ baseUrl: 'http://gw.test', fetch: f }), store: memoryStore() });
  await client.call(d.op, params);
  return sent[sent.length - 1];
}

/** curl with HTTP/2 (.ci/run installs it): without it these tests fail, they never skip. */
function requireCurl(): void {
  let version = '';
  try {
    version = execFileSync('curl', ['--version'], { timeout: 5000 }).toString();
  } catch {
    throw new Error('curl was not found: these tests need curl with HTTP/2 on PATH (CI installs it). They fail rather than skip.');
  }
  if (!/HTTP2/.test(version)) throw new Error('this curl has no HTTP/2 support: these tests need one that has');
}

/** curl as a client (asynchronous: the server under test runs in this process). Gives the status lines and the last body. */
function curl(args: string[]): Promise<{ statuses: string[]; body: string }> {
  return new Promise((resolve) =>
    execFile('curl', ['-s', '-i', '--max-time', '5', ...args], { timeout: 8000 }, (_e, out) => {
      const text = String(out);
      resolve({ statuses: text.match(/^HTTP\/[\d.]+ \d+/gm) ?? [], body: text.split('\r\n\r\n').pop() ?? '' });
    }),
  );
}

describe('curl as the client', () => {
  beforeAll(requireCurl);
  it.each(PATHS)('mgs over HTTP/1.1 with Expect: 100-continue, h2c with prior knowledge, and h2 over TLS (ALPN): the call is answered; a lower-case method is refused by node:http itself (400) and read as POST over HTTP/2 (%s path)', async (path) => {
    const d = DIALECTS[3]; // mgs keeps nothing: one captured request can be sent again
    const gateway = d.gateway();
    const wire = await captured(d, gateway, { a: '1', pad: 'y'.repeat(2000) });
    const dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-curl-'));
    const servers = [await start(http.createServer(handlerFor(gateway, path))), await start(http2.createServer(handlerFor(gateway, path))), await start(http2.createSecureServer({ ...tls, allowHTTP1: true }, handlerFor(gateway, path)), 'https')];
    try {
      writeFileSync(join(dir, 'body'), wire.body);
      writeFileSync(join(dir, 'ca.pem'), tls.cert);
      const headers = Object.entries(wire.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
      const protos = [[], ['--http2-prior-knowledge'], ['--http2', '--cacert', join(dir, 'ca.pem')]];
      const out: unknown[] = [];
      for (const [i, srv] of servers.entries()) {
        const call = await curl([...protos[i], ...headers, '-H', 'Expect: 100-continue', '--data-binary', `@${join(dir, 'body')}`, srv.url + wire.path]);
        // No body: a body answered unread gets its stream reset with NO_ERROR (RFC 9113 §8.1; node:http2 does it
        // itself for a body nothing read), which curl 7.88 now and then reports as error 92 and drops the answer.
        const lower = await curl([...protos[i], '-X', 'post', srv.url + wire.path]);
        // The final status of each (an interim 100 is curl's and node's to agree on: not asserted).
        out.push({ call: call.statuses.at(-1), result: JSON.parse(call.body), lower: lower.statuses.at(-1) });
      }
      const result = { a: '1', pad: 'y'.repeat(2000) };
      expect(out).toEqual([
        { call: 'HTTP/1.1 200', result, lower: 'HTTP/1.1 400' },
        { call: 'HTTP/2 200', result, lower: 'HTTP/2 200' }, // mgs's own refusal (7014, Sign missing) of a POST
        { call: 'HTTP/2 200', result, lower: 'HTTP/2 200' },
      ]);
      expect(gateway.stats().executions).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      for (const s of servers) await s.close();
    }
  }, 30_000);
});

describe('what the HTTP layer does around a call', () => {
  it.each(PATHS)('HTTP/1.1 keep-alive: three mgs calls pipelined on one socket are answered in order, then keepAliveTimeout closes it; server.close() with an idle keep-alive socket returns (%s path)', async (path) => {
    const d = DIALECTS[3];
    const gateway = d.gateway();
    const wires = [await captured(d, gateway, { i: '0' }), await captured(d, gateway, { i: '1' }), await captured(d, gateway, { i: '2' })];
    const server = http.createServer({ keepAliveTimeout: 200 }, handlerFor(gateway, path));
    const srv = await start(server);
    const sock = connect(srv.port, '127.0.0.1');
    try {
      let text = '';
      sock.on('data', (c: Buffer) => (text += c.toString()));
      sock.write(wires.map((w) => `${w.method} ${w.path} HTTP/1.1\r\nHost: x\r\n${Object.entries(w.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${Buffer.byteLength(w.body)}\r\n\r\n${w.body}`).join(''));
      await until(() => sock.destroyed || (text.match(/\{"i":"\d"\}/g) ?? []).length === 3, 3000);
      expect({ statuses: text.match(/HTTP\/1\.1 \d+/g), results: text.match(/\{"i":"\d"\}/g) }).toEqual({ statuses: Array(3).fill('HTTP/1.1 200'), results: ['{"i":"0"}', '{"i":"1"}', '{"i":"2"}'] });
      await until(() => sock.destroyed, 3000);
      expect(sock.destroyed).toBe(true);
      // An idle keep-alive connection does not hold server.close() (node ≥ 19 closes idle ones).
      const idle = connect(srv.port, '127.0.0.1');
      const w = wires[0];
      idle.write(`${w.method} ${w.path} HTTP/1.1\r\nHost: x\r\n${Object.entries(w.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${Buffer.byteLength(w.body)}\r\n\r\n${w.body}`);
      await new Promise((r) => idle.once('data', r));
      const closed = new Promise<string>((r) => server.close(() => r('closed')));
      expect(await Promise.race([closed, sleep(3000).then(() => 'still open')])).toBe('closed');
      idle.destroy();
    } finally {
      sock.destroy();
      await srv.close();
    }
  }, 15_000);

  it.each(PATHS)('HEAD and OPTIONS without an Origin get each dialect\'s plain refusal (no CORS, no preflight answered), never a 500 (%s path)', async (path) => {
    const out: Record<string, number[]> = {};
    for (const d of DIALECTS) {
      const srv = await start(http.createServer(handlerFor(d.gateway(), path)));
      try {
        const statuses: number[] = [];
        for (const method of ['HEAD', 'OPTIONS']) {
          const r = await fetch(srv.url + (d.op.startsWith('/') ? d.op : '/mgw.htm'), { method });
          await r.arrayBuffer();
          expect(r.headers.get('access-control-allow-origin')).toBeNull();
          statuses.push(r.status);
        }
        out[d.name] = statuses;
      } finally {
        await srv.close();
      }
    }
    // modern: 400 (no x-op); app-secret and sorted-sign: 405 with Allow; mgs: HTTP 200 with its Result-Status 3002 (POST only).
    expect(out).toEqual({ modern: [400, 400], appSecret: [405, 405], sortedSign: [405, 405], mgs: [200, 200] });
  });

  it.each(['HTTP/1.1', 'h2c'] as const)('%s: a client that goes away mid-body, and one that aborts while its operation runs, crash nothing, and leave no request in flight (maxInFlight: 1, the next call is answered) on both paths', async (proto) => {
    for (const path of PATHS) {
      const errors: unknown[] = [];
      const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), maxInFlight: 1, onInternalError: (e) => errors.push(e) })
        .operation('/echo', (p) => p)
        .operation('/slow', async (p) => (await sleep(200), p));
      const srv = await start(proto === 'h2c' ? http2.createServer(handlerFor(gateway, path)) : http.createServer(handlerFor(gateway, path)));
      const sessions: http2.ClientHttp2Session[] = [];
      const h2 = () => {
        const s = http2.connect(srv.url);
        s.on('error', () => {});
        sessions.push(s);
        return s;
      };
      try {
        // Gone mid-body: 100 of a declared 1000 bytes, then the socket (or the stream) is dropped.
        if (proto === 'h2c') {
          const st = h2().request({ ':method': 'POST', ':path': '/echo', 'content-type': 'application/x-www-form-urlencoded', 'content-length': '1000' });
          st.on('error', () => {});
          st.write('x'.repeat(100));
          await sleep(50);
          st.close(http2.constants.NGHTTP2_CANCEL);
        } else {
          const s = connect(srv.port, '127.0.0.1');
          s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(100));
          await sleep(50);
          s.destroy();
        }
        await until(() => (gateway.stats().rejections.BAD_REQUEST ?? 0) === 1, 2000);
        const f = proto === 'h2c' ? h2fetch(h2()) : undefined;
        const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), transport: fetchTransport({ baseUrl: srv.url, ...(f ? { fetch: f } : {}) }), store: memoryStore() });
        // Gone before the answer: the call is aborted while /slow runs; its answer goes nowhere.
        const ac = new AbortController();
        const slow = client.call('/slow', { a: '1' }, { signal: ac.signal }).catch((e: { code: string }) => e.code);
        await sleep(60);
        ac.abort();
        expect(await slow).toBe('ABORTED');
        await until(() => gateway.stats().executions === 1, 2000);
        await sleep(250); // /slow ends and its answer is written to a closed connection
        expect(await client.call('/echo', { b: '2' })).toEqual({ b: '2' });
        expect({ path, rejections: gateway.stats().rejections, executions: gateway.stats().executions, errors }).toEqual({ path, rejections: { BAD_REQUEST: 1 }, executions: 2, errors: [] });
      } finally {
        for (const s of sessions) s.destroy();
        await srv.close();
      }
    }
  }, 20_000);

  it.each(PATHS)('node:http server options: requestTimeout shorter than bodyTimeoutMs (node answers 408 itself), server.timeout (the socket is cut), maxHeaderSize (node answers 431): no request left in flight (maxInFlight: 1, the next request is served) (%s path)', async (path) => {
    const out: unknown[] = [];
    for (const opt of ['requestTimeout', 'timeout', 'maxHeaderSize'] as const) {
      const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), maxInFlight: 1, bodyTimeoutMs: 10_000 }).operation('/echo', (p) => p);
      const options: http.ServerOptions = opt === 'requestTimeout' ? { requestTimeout: 300, connectionsCheckingInterval: 50 } : opt === 'maxHeaderSize' ? { maxHeaderSize: 1024 } : {};
      const server = http.createServer(options, handlerFor(gateway, path));
      if (opt === 'timeout') server.timeout = 300;
      const srv = await start(server);
      const sock = connect(srv.port, '127.0.0.1');
      try {
        let text = '';
        sock.on('data', (c: Buffer) => (text += c.toString()));
        sock.on('error', () => {});
        const big = opt === 'maxHeaderSize' ? `X-Big: ${'y'.repeat(2000)}\r\n` : '';
        sock.write(`POST /echo HTTP/1.1\r\nHost: x\r\n${big}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nab`);
        await until(() => sock.destroyed, 3000);
        const next = await fetch(srv.url + '/echo', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
        const body = (await next.json()) as { code?: number };
        out.push({ opt, first: text.split('\r\n')[0], cut: sock.destroyed, next: [next.status, body.code] }); // 1001: sorted-sign's refusal of an unsigned call
      } finally {
        sock.destroy();
        await srv.close();
      }
    }
    expect(out).toEqual([
      { opt: 'requestTimeout', first: 'HTTP/1.1 408 Request Timeout', cut: true, next: [200, 1001] },
      { opt: 'timeout', first: '', cut: true, next: [200, 1001] },
      { opt: 'maxHeaderSize', first: 'HTTP/1.1 431 Request Header Fields Too Large', cut: true, next: [200, 1001] },
    ]);
  }, 20_000);

  it('behind a tiny node:http reverse proxy: calls work; the issuance rate is per socket address (the proxy\'s) unless clientAddress reads X-Forwarded-For, which is never trusted by default', async () => {
    const make = (clientAddress?: (r: Request) => string) =>
      createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET, issuesPerMinute: 1, ...(clientAddress ? { clientAddress } : {}) }) }).operation('/echo', (p) => p);
    const outcomes: Record<string, unknown[]> = {};
    for (const [name, gateway] of [
      ['default', make()],
      ['clientAddress', make((r) => r.headers.get('x-forwarded-for')?.split(',').pop()?.trim() ?? 'unknown')],
    ] as const) {
      const upstream = await start(http.createServer(toNodeHandler(gateway)));
      let n = 0;
      // Each client connection gets its own (pretend) address, as the proxy's X-Forwarded-For.
      const proxy = await start(
        http.createServer((req, res) => {
          const headers = { ...req.headers, 'x-forwarded-for': `10.0.0.${++n}` };
          const up = http.request(upstream.url + req.url, { method: req.method, headers }, (r) => {
            res.writeHead(r.statusCode!, r.headers);
            r.pipe(res);
          });
          up.on('error', () => res.destroy());
          req.pipe(up);
        }),
      );
      try {
        outcomes[name] = [];
        for (const d of [DIALECTS[1], DIALECTS[1]]) {
          const client = createClient({ profile: d.profile(), transport: fetchTransport({ baseUrl: proxy.url }), store: memoryStore() });
          outcomes[name].push(await client.call(d.op, { a: '1' }).catch((e: { code: string }) => e.code));
        }
      } finally {
        await proxy.close();
        await upstream.close();
      }
    }
    expect(outcomes).toEqual({ default: [{ a: '1', accessFrom: 'h5' }, 'RATE_LIMITED'], clientAddress: [{ a: '1', accessFrom: 'h5' }, { a: '1', accessFrom: 'h5' }] });
  });
});
