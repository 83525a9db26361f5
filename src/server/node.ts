/**
 * node:http adapter: turns IncomingMessage/ServerResponse into Request/Response. Works as
 * a plain `http.createServer(handler)` handler and as connect/Vite middleware (requests
 * outside `basePath` go to `next()`).
 *
 * A gateway made by `createGateway` with a built-in profile is served without web
 * Request/Response objects (they cost more CPU than a small sealed call's crypto): the
 * IncomingMessage is read directly under the same bounds (`maxBodyBytes`, `bodyTimeoutMs`,
 * `maxInFlight`) and the answer written as is. Same answers as `gateway.handle(Request)`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { utf8Decode } from '../codec/utf8.js';
import { bodyAlreadyRead, encoded, GatewayReject, plainAnswer, requestPeers, wireEntry, type Gateway, type GatewayAnswer, type GatewayRequest, type WireEntry } from './gateway.js';

/** Set from the socket by this adapter (any incoming copy is dropped). */
export const PEER_HEADER = 'x-sealed-rpc-peer';

export interface NodeHandlerOptions {
  /** Only requests under this path prefix reach the gateway; the prefix is stripped. */
  basePath?: string;
}

/**
 * A `(req, res, next?)` handler for node:http and node:https, connect-style middleware, and
 * node:http2's compatibility API (`http2.createServer(handler)`, `createSecureServer`), whose
 * request and response types are not node:http's (typed as node:http's only, an h2 server needed a cast).
 */
export type NodeHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, next?: (err?: unknown) => void) => void;

/** Methods `Request` cannot carry; answered 405 here rather than thrown. */
const UNSUPPORTED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * The request body as a web stream. Not `Readable.toWeb`: cancelling that destroys the request
 * and with it the socket, so a gateway that stops reading (413, 408) had its answer lost to a
 * reset whenever the destroy came before the write. Cancelling this one only stops passing the
 * body on; `write` then closes the connection after the answer.
 */
function requestBody(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Already read by earlier middleware: an empty body (a destroyed one is broken).
        if (req.readableEnded || req.destroyed) {
          open = false;
          if (req.readableEnded) controller.close();
          else controller.error(new Error('the request was aborted'));
          return;
        }
        req.on('data', (chunk: Buffer) => {
          // Answered without reading it all (413 on the declared length, an early refusal): once the
          // connection lingers, what comes is dropped, never queued, so it no longer pauses the drain.
          if (!open || lingering.has(req.socket)) return;
          controller.enqueue(chunk);
          // Backpressure: Node stops reading the socket until the gateway asks for more.
          if ((controller.desiredSize ?? 1) <= 0) req.pause();
        });
        req.on('end', () => {
          if (open) controller.close();
          open = false;
        });
        const broken = (e?: unknown) => {
          if (open) controller.error(e ?? new Error('the request was aborted'));
          open = false;
        };
        req.on('error', broken);
        // The client went away before its body ended.
        req.on('close', () => {
          if (!req.complete) broken();
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        // The gateway stopped reading (413, 408): what still comes is dropped (`write` closes the
        // connection after the answer, reading on until the body ends: lingerBeforeClose).
        open = false;
      },
    },
    { highWaterMark: 16 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/** A body read in part and then left: the connection closes (lingering) after the answer. */
const partRead = (req: IncomingMessage): boolean => req.readableDidRead && !req.complete;

/** Write a web Response to node's ServerResponse. */
async function write(res: ServerResponse, response: Response, req: IncomingMessage): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((v, k) => {
    if (k !== 'set-cookie') res.setHeader(k, v);
  });
  // forEach gives each cookie in turn and setHeader keeps only the last; they go together.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.headers.has('date')) res.setHeader('date', new Date().toUTCString());
  // HTTP/2: a body not read to its end (the web stream reads from the start, so any) ends its stream.
  if (isHttp2(req)) {
    res.end(body, req.complete ? undefined : stopStream(req));
    return;
  }
  // A body read in part and then left (too large, too slow): the connection ends after this
  // answer, as on the wire-level path, once the rest of the body has been dropped.
  if (partRead(req)) {
    res.setHeader('connection', 'close');
    lingerBeforeClose(req);
  }
  res.end(body);
}

/** node:http2's compatibility API (`http2.createServer(handler)`, `createSecureServer`): one stream per request. */
const isHttp2 = (req: IncomingMessage): boolean => req.httpVersionMajor >= 2;

/**
 * HTTP/2's answer to a body left unread (413, 408, an early refusal): not `connection: close`
 * (refused there with a process warning; the socket is the whole session's, other requests go
 * on over it) nor lingering on it, but ending this one stream with NO_ERROR once the answer is
 * written, which asks the client to stop sending (RFC 9113 §8.1). Node does it only for a body
 * nothing read: otherwise the stream stayed open, read and dropped, for as long as the client sent.
 */
function stopStream(req: IncomingMessage): () => void {
  const stream = (req as IncomingMessage & { stream?: { destroyed: boolean; close(code: number): void } }).stream;
  return () => {
    if (stream && !stream.destroyed) stream.close(0); // NGHTTP2_NO_ERROR
  };
}

/** How long a refused body is still read, and dropped, after the answer. */
const LINGER_MS = 2_000;

/** Sockets half-closed after an answer, read on only to drop the rest of a refused body. */
const lingering = new WeakSet<Socket>();

/**
 * nginx's lingering close. The answer to a body left part-read (413, 408) goes out while the
 * client is still sending it; closing at once sends a reset when its next bytes arrive, and a
 * reset can reach the client before it has read the answer (the upload then fails as a network
 * error, EPIPE, not as the 413 it got). So the connection is half-closed after the answer, and
 * the rest of the body is read into nothing until it ends, the client ends, or LINGER_MS passes.
 * A request sent after it on the same connection is not served (RFC 9112 §9.6).
 */
function lingerBeforeClose(req: IncomingMessage): void {
  const socket = req.socket;
  if (!socket || typeof socket.destroySoon !== 'function') return;
  lingering.add(socket);
  // node:http closes a `connection: close` response's socket with destroySoon once it is written.
  socket.destroySoon = function (this: Socket) {
    const close = () => this.destroy();
    if (req.complete) return close();
    const timer = setTimeout(close, LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    req.once('end', close);
    this.once('end', close);
    this.end();
    req.resume();
  };
}

function cut(res: ServerResponse): void {
  try {
    res.destroy();
  } catch {
    // already gone
  }
}

/** A plain error answer (no stack, no detail); once headers are out, the connection is cut instead. */
function fail(res: ServerResponse, status: number, code: string): void {
  writeAnswer(res, plainAnswer(status, code, Date.now()), false);
}

/**
 * Write a GatewayAnswer as is (what `write(toResponse(answer))` sends). `close`: the request
 * body was left part-read (too large, too slow, broken), so this connection ends after it.
 */
function writeAnswer(res: ServerResponse, answer: GatewayAnswer, close: boolean): void {
  try {
    if (res.headersSent) return cut(res);
    const headers = answer.headers;
    // Every answer carries a Date: node:http adds its own (cached per second) unless sendDate was turned off.
    if (headers.date === undefined && !res.sendDate) headers.date = new Date().toUTCString();
    const http2 = isHttp2(res.req);
    if (close && !http2) {
      headers.connection = 'close';
      lingerBeforeClose(res.req);
    }
    // As `write` does with a web Response: headers set, then end(body), so node frames the
    // body exactly as before (Content-Length from the body; none for HEAD).
    res.statusCode = answer.status;
    for (const name in headers) res.setHeader(name, headers[name]);
    res.end(answer.body, close && http2 ? stopStream(res.req) : undefined);
  } catch {
    // A header node refuses (never one of the profiles' or a plain answer's): the 500 the Request path gives.
    if (res.headersSent || answer.status === 500) return cut(res);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    writeAnswer(res, plainAnswer(500, 'INTERNAL', Date.now()), close);
  }
}

/** The request target as a path; absolute-form targets (`http://host/p`) keep only their path. */
function targetPath(rawUrl: string): string | undefined {
  if (rawUrl.startsWith('/')) return rawUrl;
  if (/^https?:\/\//i.test(rawUrl)) {
    try {
      const u = new URL(rawUrl);
      return u.pathname + u.search;
    } catch {
      return undefined;
    }
  }
  return undefined; // `*` (OPTIONS) or garbage
}

/**
 * The Host header, or on HTTP/2 (which sends none) the `:authority` pseudo-header that stands
 * for it (RFC 9113 §8.3.1): without it every h2 request was `http://localhost` with no host.
 */
function hostOf(req: IncomingMessage): string | undefined {
  const authority = req.headers[':authority'];
  return req.headers.host ?? (typeof authority === 'string' ? authority : undefined);
}

/** An origin for the Request URL: the Host header when it parses, else a fixed one (routing uses the path only). */
function originFor(host: string | undefined): string {
  if (host && /^[A-Za-z0-9.\-_~%!$&'()*+,;=:\[\]]{1,255}$/.test(host)) {
    try {
      return new URL(`http://${host}/`).origin;
    } catch {
      // fall through
    }
  }
  return 'http://localhost';
}

/** Paths the URL parser leaves as they are (no dot segments, nothing it would encode); others go through it. */
const PLAIN_PATH = /^\/[A-Za-z0-9_~!$&'()*+,;=:@\/.-]*$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/** What the URL parser or URLSearchParams would change in a query (escapes, `+`, a fragment, tabs and newlines). */
const UNPLAIN_QUERY = ['%', '+', '#', '\t', '\n', '\r'];

/**
 * A query parameter's first value as `new URL(origin + target).searchParams.get(name)` gives
 * it. A query with none of UNPLAIN_QUERY is read as it is: the URL parser's encoding and
 * URLSearchParams' decoding undo each other there. Anything else goes through both.
 */
function queryValue(query: string, name: string, target: string): string | null {
  // indexOf scans are much faster than a regular expression over a long (hex) query.
  for (const c of UNPLAIN_QUERY) if (query.indexOf(c) >= 0) return new URL('http://localhost' + target).searchParams.get(name);
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const nameEnd = eq < 0 || eq > end ? end : eq;
      if (nameEnd - start === name.length && query.startsWith(name, start)) return nameEnd === end ? '' : query.slice(nameEnd + 1, end);
    }
    start = end + 1;
  }
  return null;
}

/**
 * The request straight from node:http, as the built-in profiles read it. The path is
 * normalized the way the URL parser would (it is used for anything unusual); headers are
 * node's (which already joins repeats with ", " as Headers.get does), minus any incoming copy
 * of PEER_HEADER, which is the socket's address instead.
 */
class NodeRequest implements GatewayRequest {
  readonly pathname: string;
  /** The query without its `?`. */
  private readonly rawQuery: string;
  /** The body was left part-read: the connection must close after the answer. */
  abandoned = false;
  private read = false;
  private web?: Headers;
  private webRequest?: Request;

  constructor(
    private readonly req: IncomingMessage,
    readonly method: string,
    private readonly target: string,
    private readonly entry: WireEntry,
  ) {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    this.rawQuery = q < 0 ? '' : target.slice(q + 1);
    // As the Request path parses it (origin + target: `//x` stays a path, never a host).
    this.pathname = PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path) ? path : new URL('http://localhost' + target).pathname;
  }

  query(name: string): string | null {
    return queryValue(this.rawQuery, name, this.target);
  }

  get peer(): string | undefined {
    return this.req.socket?.remoteAddress;
  }

  header(name: string): string | null {
    if (name === PEER_HEADER) return this.req.socket?.remoteAddress ?? 'unknown';
    if (name === 'host') return hostOf(this.req) ?? null;
    const v = this.req.headers[name];
    if (v === undefined) return null;
    return typeof v === 'string' ? v : v.join(', ');
  }

  get headers(): Headers {
    if (!this.web) this.web = webHeaders(this.req);
    return this.web;
  }

  get request(): Request {
    if (!this.webRequest) {
      try {
        this.webRequest = new Request(originFor(hostOf(this.req)) + this.target, { method: this.method, headers: this.headers });
      } catch {
        throw new GatewayReject(400, 'BAD_REQUEST');
      }
    }
    return this.webRequest;
  }

  discard(): void {
    // Left to node:http: it reads and drops an unread body once the answer is out.
  }

  /** core.readText's rules on the IncomingMessage: Content-Length checked first, then counted. */
  text(): Promise<string> {
    const { maxBodyBytes, bodyTimeoutMs } = this.entry;
    const declared = this.req.headers['content-length'];
    if (declared !== undefined && !/^\s*[0-9]+\s*$/.test(declared)) return Promise.reject(new GatewayReject(400, 'BAD_REQUEST'));
    if (declared !== undefined && Number(declared) > maxBodyBytes) return Promise.reject(new GatewayReject(413, 'BODY_TOO_LARGE'));
    // Request carries no body for these methods, so readText reads none.
    if (this.method === 'GET' || this.method === 'HEAD') return Promise.resolve('');
    // Read once: a second read is a locked stream on the Request path.
    if (this.read) return Promise.reject(new GatewayReject(400, 'BAD_REQUEST'));
    this.read = true;
    const req = this.req;
    if (req.destroyed || req.readableAborted) return Promise.reject(new GatewayReject(400, 'BAD_REQUEST'));
    if (encoded(req.headers['content-encoding'])) return Promise.reject(new GatewayReject(415, 'UNSUPPORTED_CONTENT_ENCODING'));
    if (req.readableEnded) {
      // Read to its end before the gateway got it: a body parser mounted in front (express.json()
      // takes modern's issuance and mgs, express.text() modern's calls, urlencoded() app-secret).
      // A request that declared no body has lost nothing.
      if ((declared === undefined || Number(declared) === 0) && req.headers['transfer-encoding'] === undefined) return Promise.resolve('');
      return Promise.reject(
        bodyAlreadyRead('toNodeHandler: the request body was already read before the gateway (a body parser such as express.json(), express.text() or express.urlencoded() mounted before it?); mount toNodeHandler before any body parser'),
      );
    }
    return new Promise<string>((resolve, reject) => {
      // Joined every 4096 chunks: a body of many tiny chunks (one Buffer each) must not cost ~200 bytes per byte while it comes.
      const batches: Buffer[] = [];
      let chunks: Buffer[] = [];
      let n = 0;
      let settled = false;
      const finish = (e: GatewayReject | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('close', onClose);
        if (e) {
          // Keep draining (into nothing) so the answer can be written; the connection then closes.
          this.abandoned = true;
          req.resume();
          return reject(e);
        }
        const body = batches.length === 0 && chunks.length === 1 ? chunks[0] : Buffer.concat([...batches, ...chunks], n);
        try {
          resolve(utf8Decode(body));
        } catch {
          reject(new GatewayReject(400, 'BAD_REQUEST', true));
        }
      };
      const onData = (chunk: Buffer | string) => {
        // Text chunks (someone called setEncoding) are refused, as on the Request path.
        if (typeof chunk === 'string') return finish(new GatewayReject(400, 'BAD_REQUEST'));
        n += chunk.length;
        if (n > maxBodyBytes) return finish(new GatewayReject(413, 'BODY_TOO_LARGE'));
        chunks.push(chunk);
        if (chunks.length === 4096) {
          batches.push(Buffer.concat(chunks));
          chunks = [];
        }
      };
      const onEnd = () => finish(undefined);
      // A stream that breaks (client gone) or closes without its end: never a 500.
      const onError = () => finish(new GatewayReject(400, 'BAD_REQUEST'));
      const onClose = () => {
        if (!req.complete) onError();
      };
      const timer = setTimeout(() => finish(new GatewayReject(408, 'BODY_TIMEOUT')), bodyTimeoutMs);
      req.on('data', onData);
      req.on('end', onEnd);
      // Stays on after the read: an 'error' with no listener would throw.
      req.on('error', onError);
      req.on('close', onClose);
      // A 'data' listener does not restart a stream earlier middleware paused (the Request path's pull does).
      req.resume();
    });
  }
}

function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === PEER_HEADER) continue;
    try {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      else headers.set(k, v);
    } catch {
      // a header the Fetch API refuses (node:http is more lenient): dropped
    }
  }
  // HTTP/2's pseudo-headers are refused above; its `:authority` is the Host header.
  const host = hostOf(req);
  if (!headers.has('host') && host !== undefined) {
    try {
      headers.set('host', host);
    } catch {
      // not a valid header value: left out, as above
    }
  }
  // The peer address from the socket, for per-client rate limits; a client cannot set it.
  headers.set(PEER_HEADER, req.socket?.remoteAddress ?? 'unknown');
  return headers;
}

export function toNodeHandler(gateway: Gateway | ((request: Request) => Promise<Response>), options: NodeHandlerOptions = {}): NodeHandler {
  // Checked here: anything else is a 500 on every request, reported to no one. A profile has a
  // handle too (with another signature), but no operations.
  if (typeof gateway !== 'function') {
    const g = gateway as Partial<Gateway> & { name?: unknown };
    if (typeof g?.handle === 'function' && typeof g.operation !== 'function' && typeof g.name === 'string')
      throw new TypeError('toNodeHandler: this is a gateway profile, not a gateway; pass createGateway({ profile }) with its operations');
    if (typeof g?.handle !== 'function') throw new TypeError('toNodeHandler: pass the gateway createGateway() returned, or a (request) => Promise<Response> function');
  }
  const handle = typeof gateway === 'function' ? gateway : (r: Request) => gateway.handle(r);
  // '' is no prefix, as leaving it out.
  if (options.basePath !== undefined && (typeof options.basePath !== 'string' || (options.basePath !== '' && !options.basePath.startsWith('/'))))
    throw new TypeError('toNodeHandler: basePath must be a path starting with /, e.g. "/api"');
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  return (anyReq, anyRes, next) => {
    // node:http2's compatibility objects have the members used here (url, headers, socket, complete, stream; setHeader, end).
    const req = anyReq as IncomingMessage;
    const res = anyRes as ServerResponse;
    // A request parsed from a connection that is only draining a refused body is not served.
    if (lingering.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    // Checked per request: a gateway whose handle was replaced goes through that handle.
    const entry = typeof gateway === 'function' ? undefined : wireEntry(gateway);
    // Nothing here may throw: a synchronous throw in a node:http request listener ends the process.
    let request: Request;
    try {
      const rawUrl = req.url ?? '/';
      if (base && !(rawUrl === base || rawUrl.startsWith(base + '/') || rawUrl.startsWith(base + '?'))) {
        if (next) return next();
        res.statusCode = 404;
        res.end();
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      if (UNSUPPORTED_METHODS.has(method)) {
        req.resume();
        return fail(res, 405, 'METHOD_NOT_ALLOWED');
      }
      // `/base?q` is `/base/?q` (as `/base` is `/base/`).
      const rest = rawUrl.slice(base.length);
      const path = targetPath(rest === '' || rest.startsWith('?') ? '/' + rest : rest);
      if (path === undefined) {
        req.resume();
        return fail(res, 400, 'BAD_REQUEST');
      }
      if (entry) return serveFast(entry, req, res, method, path);
      const headers = webHeaders(req);
      const hasBody = method !== 'GET' && method !== 'HEAD';
      request = new Request(originFor(hostOf(req)) + path, {
        method,
        headers,
        body: hasBody ? requestBody(req) : undefined,
        // @ts-expect-error Node's fetch needs duplex for a streamed body
        duplex: 'half',
      });
      requestPeers.set(request, req.socket?.remoteAddress ?? 'unknown');
    } catch {
      req.resume();
      return fail(res, 400, 'BAD_REQUEST');
    }
    let answer: Promise<Response>;
    try {
      answer = Promise.resolve(handle(request));
    } catch (e) {
      answer = Promise.reject(e);
    }
    answer
      .then((response) => write(res, response, req))
      .catch(() => {
        // Never next(err): connect's final handler prints the stack in development. A body left
        // part-read closes the connection after the answer, as `write` does.
        writeAnswer(res, plainAnswer(500, 'INTERNAL', Date.now()), partRead(req));
      });
  };
}

/** The fast path: the gateway's wire-level entry on the IncomingMessage, its answer written directly. */
function serveFast(entry: WireEntry, req: IncomingMessage, res: ServerResponse, method: string, path: string): void {
  let request: NodeRequest;
  try {
    request = new NodeRequest(req, method, path, entry);
  } catch {
    req.resume();
    return writeAnswer(res, plainAnswer(400, 'BAD_REQUEST', Date.now()), false);
  }
  entry.serve(request).then(
    // A body not read to its end (refused on its declared length, or answered before it was read):
    // the connection closes after the answer, lingering to drop the rest, as on the Request path.
    (answer) => writeAnswer(res, answer, request.abandoned || !req.complete),
    // serve answers every failure itself; this is a last resort, never a stack.
    () => writeAnswer(res, plainAnswer(500, 'INTERNAL', Date.now()), true),
  );
}
