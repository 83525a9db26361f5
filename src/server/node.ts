/**
 * node:http adapter: turns IncomingMessage/ServerResponse into Request/Response. Works as
 * a plain `http.createServer(handler)` handler and as connect/Vite middleware (requests
 * outside `basePath` go to `next()`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { plainError, type Gateway } from './gateway.js';

/** Set from the socket by this adapter (any incoming copy is dropped). */
export const PEER_HEADER = 'x-sealed-rpc-peer';

export interface NodeHandlerOptions {
  /** Only requests under this path prefix reach the gateway; the prefix is stripped. */
  basePath?: string;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** Methods `Request` cannot carry; answered 405 here rather than thrown. */
const UNSUPPORTED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** Write a web Response to node's ServerResponse. */
async function write(res: ServerResponse, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((v, k) => res.setHeader(k, v));
  if (!response.headers.has('date')) res.setHeader('date', new Date().toUTCString());
  res.end(body);
}

/** A plain error answer (no stack, no detail); once headers are out, the connection is cut instead. */
function fail(res: ServerResponse, status: number, code: string): void {
  const cut = () => {
    try {
      res.destroy();
    } catch {
      // already gone
    }
  };
  try {
    if (res.headersSent) return cut();
    write(res, plainError(status, code, Date.now())).catch(cut);
  } catch {
    cut();
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

export function toNodeHandler(gateway: Gateway | ((request: Request) => Promise<Response>), options: NodeHandlerOptions = {}): NodeHandler {
  const handle = typeof gateway === 'function' ? gateway : (r: Request) => gateway.handle(r);
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  return (req, res, next) => {
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
      const path = targetPath(rawUrl.slice(base.length) || '/');
      if (path === undefined) {
        req.resume();
        return fail(res, 400, 'BAD_REQUEST');
      }
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
      // The peer address from the socket, for per-client rate limits; a client cannot set it.
      headers.set(PEER_HEADER, req.socket?.remoteAddress ?? 'unknown');
      const hasBody = method !== 'GET' && method !== 'HEAD';
      request = new Request(originFor(req.headers.host) + path, {
        method,
        headers,
        body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
        // @ts-expect-error Node's fetch needs duplex for a streamed body
        duplex: 'half',
      });
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
      .then((response) => write(res, response))
      .catch(() => {
        // Never next(err): connect's final handler prints the stack in development.
        fail(res, 500, 'INTERNAL');
      });
  };
}
