/**
 * Mounts the demo gateways on a node:http (or connect/Vite) server under `/gw/<dialect>`,
 * plus `/gw/config` with the public client settings the playground needs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '../../src/server/index.js';
import { createDemoGateways, type DemoGateways } from './demo-gateway.js';

export async function demoMiddleware(): Promise<{ demo: DemoGateways; middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void }> {
  const demo = await createDemoGateways();
  const handlers = Object.entries(demo.gateways).map(([name, gw]) => toNodeHandler(gw, { basePath: `/gw/${name}` }));
  const middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.url === '/gw/config') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(demo.clientConfig));
      return;
    }
    const admin = /^\/gw\/([a-z-]+)\/__admin\/(expire|stats)$/.exec(req.url ?? '');
    if (admin && demo.gateways[admin[1]]) {
      const gw = demo.gateways[admin[1]];
      if (admin[2] === 'expire') gw.expireCredentials();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(gw.stats()));
      return;
    }
    let i = 0;
    const tryNext = () => (i < handlers.length ? handlers[i++](req, res, tryNext) : next());
    tryNext();
  };
  return { demo, middleware };
}
