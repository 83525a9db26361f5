/**
 * node:http adapter: turns IncomingMessage/ServerResponse into Request/Response. Works as
 * a plain `http.createServer(handler)` handler and as connect/Vite middleware (requests
 * outside `basePath` go to `next()`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Gateway } from './gateway.js';

/** Set from the socket by this adapter (any incoming copy is dropped). */
export const PEER_HEADER = 'x-sealed-rpc-peer';

export interface NodeHandlerOptions {
  /** Only requests under this path prefix reach the gateway; the prefix is stripped. */
  basePath?: string;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

export function toNodeHandler(gateway: Gateway | ((request: Request) => Promise<Response>), options: NodeHandlerOptions = {}): NodeHandler {
  const handle = typeof gateway === 'function' ? gateway : (r: Request) => gateway.handle(r);
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  return (req, res, next) => {
    const rawUrl = req.url ?? '/';
    if (base && !(rawUrl === base || rawUrl.startsWith(base + '/') || rawUrl.startsWith(base + '?'))) {
      if (next) return next();
      res.statusCode = 404;
      res.end();
      return;
    }
    const path = rawUrl.slice(base.length) || '/';
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || k === PEER_HEADER) continue;
      if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      else headers.set(k, v);
    }
    // The peer address from the socket, for per-client rate limits; a client cannot set it.
    headers.set(PEER_HEADER, req.socket?.remoteAddress ?? 'unknown');
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${path}`, {
      method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      // @ts-expect-error Node's fetch needs duplex for a streamed body
      duplex: 'half',
    });
    handle(request)
      .then(async (response) => {
        res.statusCode = response.status;
        response.headers.forEach((v, k) => res.setHeader(k, v));
        if (!response.headers.has('date')) res.setHeader('date', new Date().toUTCString());
        const body = new Uint8Array(await response.arrayBuffer());
        res.end(body);
      })
      .catch((e) => {
        if (next) return next(e);
        res.statusCode = 500;
        res.end();
      });
  };
}
