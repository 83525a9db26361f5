/**
 * A gateway in this process as a client Transport: the WireRequest becomes a web Request
 * handed to `gateway.handle`, the Response comes back as a WireResponse (header names in
 * lower case). No socket, no serialisation beyond what the Fetch API does.
 */
import type { Gateway } from '../../src/server/index.js';
import type { Transport, WireRequest, WireResponse } from '../../src/types.js';

/** The base URL the in-process requests claim (the gateway only reads the path). */
export const IN_PROCESS_BASE = 'http://gw.test';

/** A WireRequest as the web Request a server adapter would hand the gateway. */
export function toRequest(req: WireRequest, base = IN_PROCESS_BASE): Request {
  return new Request(base + req.path, { method: req.method, headers: req.headers, body: req.body });
}

/** A web Response as the WireResponse a transport gives the client. */
export async function toWire(res: Response): Promise<WireResponse> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
  return { status: res.status, headers, body: await res.text() };
}

export interface InProcessOptions {
  /** Every request sent is pushed here, in order. */
  sent?: WireRequest[];
  /** Changes an answer on its way back (a tampering proxy, a broken network). */
  edit?: (res: WireResponse, req: WireRequest) => WireResponse;
}

/** The gateway, in process, as a Transport. */
export function inProcess(gateway: Gateway, options: InProcessOptions = {}): Transport {
  return {
    async send(req: WireRequest): Promise<WireResponse> {
      options.sent?.push(req);
      const res = await toWire(await gateway.handle(toRequest(req)));
      return options.edit ? options.edit(res, req) : res;
    },
  };
}
