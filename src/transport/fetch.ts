/** The default transport: `fetch` to `baseUrl + path`. */
import { RpcError } from '../errors.js';
import type { SendOptions, Transport, WireRequest, WireResponse } from '../types.js';

export interface FetchTransportOptions {
  /** e.g. `https://api.example.com` or `/gw` (relative to the page). */
  baseUrl: string;
  /** Extra headers on every request (not signed by legacy dialects). */
  headers?: Record<string, string>;
  /** A fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** `credentials` mode for cross-origin cookies (default 'same-origin'). */
  credentials?: RequestCredentials;
}

export interface FetchTransport extends Transport {
  readonly id: string;
}

export function fetchTransport(options: FetchTransportOptions): FetchTransport {
  if (!options || typeof options.baseUrl !== 'string') throw new RpcError('BAD_CONFIG', 'fetchTransport: baseUrl must be a string', { details: { option: 'baseUrl' } });
  const base = options.baseUrl.replace(/\/+$/, '');
  return {
    id: base,
    async send(req: WireRequest, { signal }: SendOptions): Promise<WireResponse> {
      const doFetch = options.fetch ?? globalThis.fetch;
      let res: Response;
      try {
        res = await doFetch(base + req.path, {
          method: req.method,
          headers: { ...options.headers, ...req.headers },
          body: req.body,
          signal,
          credentials: options.credentials ?? 'same-origin',
        });
      } catch (e) {
        throw abortReason(signal) ?? new RpcError('NETWORK', 'the request could not be sent', { cause: e });
      }
      let body: string;
      try {
        body = await res.text();
      } catch (e) {
        throw abortReason(signal) ?? new RpcError('NETWORK', 'the response could not be read', { cause: e });
      }
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k.toLowerCase()] = v;
      });
      return { status: res.status, headers, body };
    },
  };
}

/** The client aborts with an RpcError (TIMEOUT or ABORTED) as the reason; pass it on. */
export function abortReason(signal: AbortSignal | undefined): RpcError | undefined {
  if (!signal?.aborted) return undefined;
  return signal.reason instanceof RpcError ? signal.reason : new RpcError('ABORTED', 'the call was aborted');
}
