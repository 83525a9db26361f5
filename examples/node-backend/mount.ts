/**
 * Mounts the demo gateways on a node:http (or connect/Vite) server under `/gw/<dialect>`,
 * plus:
 *   GET  /gw/config                       the public client settings, by dialect
 *   GET|POST /gw/<dialect>/__admin/expire expire every credential that gateway issued (-> its stats)
 *   GET  /gw/<dialect>/__admin/stats      { issuances, calls, executions, rejections, caches }
 *   GET  /gw/offline-package/…            a signed demo offline package (see examples/offline-package)
 * The admin routes are a demo/test hook: never expose them on a real gateway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { unzipSync, zipSync } from 'fflate';
import { generateRsaKeyPair, signPackage, toNodeHandler } from '../../src/server/index.js';
import { createDemoGateways, type DemoDialect, type DemoGateways } from './demo-gateway.js';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** The demo offline package: a signed one, a tampered copy, and the public key that checks them. */
async function offlinePackage(): Promise<Record<string, { type: string; body: Uint8Array | string }>> {
  const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair(2048);
  const te = new TextEncoder();
  const files = {
    'index.html': te.encode('<!doctype html><meta charset="utf-8"><title>offline</title><h1>Hello from the offline package</h1><p>Every file was verified before use.</p>\n'),
    'app.css': te.encode('h1 { color: #0b6; font-family: system-ui, sans-serif; }\n'),
  };
  const signed = await signPackage(files, privateKeyPem);
  // Same CERT.json, one changed file: verification must refuse it.
  const entries = unzipSync(signed);
  entries['index.html'] = te.encode('<!doctype html><h1>Hello from an attacker</h1>\n');
  const tampered = zipSync(entries);
  return {
    '/gw/offline-package/public-key.pem': { type: 'application/x-pem-file', body: publicKeyPem },
    '/gw/offline-package/demo.amr': { type: 'application/octet-stream', body: signed },
    '/gw/offline-package/tampered.amr': { type: 'application/octet-stream', body: tampered },
  };
}

export async function demoMiddleware(dialects?: DemoDialect[]): Promise<{ demo: DemoGateways; middleware: Middleware }> {
  const demo = await createDemoGateways(dialects);
  const packages = offlinePackage();
  packages.catch(() => {}); // reported when requested
  const handlers = Object.entries(demo.gateways).map(([name, gw]) => toNodeHandler(gw, { basePath: `/gw/${name}` }));
  const json = (res: ServerResponse, body: unknown) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify(body));
  };
  const middleware: Middleware = (req, res, next) => {
    const url = (req.url ?? '').split('?')[0];
    if (url === '/gw/config') return json(res, demo.clientConfig);
    const admin = /^\/gw\/([a-z-]+)\/__admin\/(expire|stats)$/.exec(url);
    if (admin && Object.hasOwn(demo.gateways, admin[1])) {
      const gw = demo.gateways[admin[1]];
      if (admin[2] === 'expire') gw.expireCredentials();
      return json(res, gw.stats());
    }
    if (url.startsWith('/gw/offline-package/')) {
      packages.then(
        (files) => {
          const f = files[url];
          if (!f) {
            res.statusCode = 404;
            return res.end();
          }
          res.setHeader('content-type', f.type);
          res.end(f.body);
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
      return;
    }
    let i = 0;
    const tryNext = () => (i < handlers.length ? handlers[i++](req, res, tryNext) : next());
    tryNext();
  };
  return { demo, middleware };
}
