/**
 * Bench-only prototype of a cheaper node:http adapter than src/server/node.ts's
 * toNodeHandler, to measure what the lead could gain there (see the README's
 * recommendations). Same contract (basePath, peer header, Date header); differences:
 * the body is collected into one Buffer (bounded) instead of going through
 * Readable.toWeb, and the response headers are written in one writeHead call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const PEER_HEADER = 'x-sealed-rpc-peer';

export function fastNodeHandler(handle: (r: Request) => Promise<Response>, options: { basePath?: string; maxBodyBytes?: number } = {}) {
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const max = options.maxBodyBytes ?? 1024 * 1024;
  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    const rawUrl = req.url ?? '/';
    if (base && !(rawUrl === base || rawUrl.startsWith(base + '/') || rawUrl.startsWith(base + '?'))) {
      if (next) return next();
      res.statusCode = 404;
      res.end();
      return;
    }
    const fail = (status: number) => {
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: status === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST', serverTime: String(Date.now()) }));
    };
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    if (Number(req.headers['content-length'] ?? 0) > max) return fail(413);
    const chunks: Buffer[] = [];
    let n = 0;
    const go = () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || k === PEER_HEADER) continue;
        if (Array.isArray(v)) for (const x of v) headers.append(k, x);
        else headers.set(k, v);
      }
      headers.set(PEER_HEADER, req.socket?.remoteAddress ?? 'unknown');
      const body = hasBody ? (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n)) : undefined;
      const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${rawUrl.slice(base.length) || '/'}`, { method, headers, body });
      handle(request)
        .then(async (response) => {
          const out: Record<string, string> = {};
          response.headers.forEach((v, k) => (out[k] = v));
          out.date ??= new Date().toUTCString();
          const buf = Buffer.from(await response.arrayBuffer());
          res.writeHead(response.status, out);
          res.end(buf);
        })
        .catch((e) => {
          if (next) return next(e);
          res.statusCode = 500;
          res.end();
        });
    };
    if (!hasBody) return go();
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.removeAllListeners('data');
        req.resume();
        return fail(413);
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (n <= max) go();
    });
  };
}
