/** The default transport: `fetch` to `baseUrl + path`. */
import { RpcError, abortReason, badConfig, refuseUnknownOptions, refuseUnsendableHeaders } from '../errors.js';
import type { SendOptions, Transport, WireRequest, WireResponse } from '../types.js';

export interface FetchTransportOptions {
  /** e.g. `https://api.example.com` or `/gw` (relative to the page). */
  baseUrl: string;
  /** Extra headers on every request, signed by no dialect (a header the profile sets replaces one of the same name, whatever its case): `{ name: value }` or a `Headers`. */
  headers?: Record<string, string> | Headers;
  /** A fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** `credentials` mode for cross-origin cookies (default 'same-origin'). */
  credentials?: RequestCredentials;
  /** Largest response body read, in bytes (default 16 MiB); a larger one is RESPONSE_UNREADABLE. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

function tooLarge(max: number): RpcError {
  return new RpcError('RESPONSE_UNREADABLE', `the response is larger than maxResponseBytes (${max})`, {
    hint: 'The server sent more than this client reads; raise fetchTransport maxResponseBytes if such answers are expected.',
  });
}

type AnyBody = (ReadableStream<Uint8Array> & Partial<AsyncIterable<Uint8Array>> & { destroy?: () => void }) | null;

/** Lets go of a body that will not be read: a web stream is cancelled; a Node stream (node-fetch 2) has no cancel and is destroyed. */
async function release(res: Response): Promise<void> {
  const body = res.body as AnyBody;
  if (typeof body?.cancel === 'function') await body.cancel().catch(() => {});
  else body?.destroy?.();
}

/** The body as text, reading at most `max` bytes (a hostile or broken server cannot exhaust memory). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const body = res.body as AnyBody;
  if (declared > max) {
    await release(res);
    throw tooLarge(max);
  }
  if (!body) return res.text();
  const decoder = new TextDecoder(); // like res.text(): malformed bytes become U+FFFD, the profile then refuses
  let text = '';
  let n = 0;
  const add = (chunk: Uint8Array) => {
    n += chunk.length;
    if (n > max) return false;
    text += decoder.decode(chunk, { stream: true });
    return true;
  };
  if (typeof body.getReader === 'function') {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!add(value)) {
        await reader.cancel().catch(() => {});
        throw tooLarge(max);
      }
    }
  } else if (typeof body[Symbol.asyncIterator] === 'function') {
    // A Node stream (node-fetch 2, cross-fetch in Node): its chunks are Buffers, which are Uint8Arrays.
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (!add(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk)) {
        body.destroy?.();
        throw tooLarge(max);
      }
    }
  } else {
    return res.text();
  }
  return text + decoder.decode();
}

/**
 * The `headers` option as `{ name: value }`. A Headers object (of any implementation, e.g.
 * node-fetch's) or a Map is read by its forEach: its own properties are none, so as a record
 * it would send nothing.
 */
function headerRecord(given: unknown): Record<string, string> | undefined {
  if (given === undefined) return undefined;
  let out: Record<string, unknown> | undefined;
  if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
    const pairs = given as { forEach?: unknown; get?: unknown };
    if (typeof pairs.forEach === 'function' && typeof pairs.get === 'function') {
      out = {};
      (given as Map<unknown, unknown>).forEach((v, k) => (out![String(k)] = v));
    } else out = given as Record<string, unknown>;
  }
  if (!out || !Object.values(out).every((v) => typeof v === 'string')) throw badConfig('headers', 'must map header names to strings ({ name: value } or a Headers)');
  return out as Record<string, string>;
}

export interface FetchTransport extends Transport {
  readonly id: string;
}

/** `headers` set into `out` under lower-case names (later ones replace earlier ones whatever their case). */
function setLowerCased(out: Record<string, string>, headers: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

export function fetchTransport(options: FetchTransportOptions): FetchTransport {
  if (!options || typeof options.baseUrl !== 'string') throw badConfig('baseUrl', 'fetchTransport needs a base URL string');
  refuseUnknownOptions(options, ['baseUrl', 'headers', 'fetch', 'credentials', 'maxResponseBytes'], 'fetchTransport'); // (timeoutMs is createClient's)
  const base = options.baseUrl.replace(/\/+$/, '');
  // Absolute first: `http:u:p@host` is an absolute URL, though against a base it reads as a path.
  let parsed: URL | undefined;
  for (const against of [undefined, 'http://relative.invalid/']) {
    try {
      parsed = new URL(base, against);
      break;
    } catch {
      // relative (tried next against a base), or not a URL this runtime parses: fetch says so at the first call
    }
  }
  // `localhost:8080` is a URL of scheme `localhost:`, `127.0.0.1:8080` a path on the page's origin: neither
  // reaches the server meant. A scheme with `//` passes (`app://api`: a web view's own scheme handler).
  if (!options.fetch && /^[^/?#]*:(?!\/\/)/.test(base)) throw badConfig('baseUrl', 'must start with http:// or https:// (or be a path such as /gw)');
  // The URL becomes the transport id, the stored credential's key and fetch's error messages: no password in it.
  if (parsed && (parsed.username || parsed.password)) throw badConfig('baseUrl', 'must not hold a user name or password (user:pass@); send credentials in headers');
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!(Number.isSafeInteger(maxResponseBytes) && maxResponseBytes > 0))
    throw badConfig('maxResponseBytes', 'must be a positive whole number of bytes');
  if (typeof (options.fetch ?? globalThis.fetch) !== 'function') throw badConfig('fetch', 'must be a fetch function (needed where the runtime has none)');
  const headers = headerRecord(options.headers);
  refuseUnsendableHeaders(headers, 'headers');
  // Lower-case names, so the profile's headers replace the option's whatever their case (a spread
  // would keep `Content-Type` and `content-type` side by side, and fetch would send both joined).
  // A plain object, as custom fetch adapters (XHR, mini-program requests) expect.
  const optionHeaders = setLowerCased({}, headers ?? {});
  const { credentials } = options;
  if (credentials !== undefined && credentials !== 'omit' && credentials !== 'same-origin' && credentials !== 'include')
    throw badConfig('credentials', "must be 'omit', 'same-origin' or 'include'");
  return {
    id: base,
    async send(req: WireRequest, { signal }: SendOptions): Promise<WireResponse> {
      const doFetch = options.fetch ?? globalThis.fetch;
      let res: Response;
      try {
        const sent = setLowerCased({ ...optionHeaders }, req.headers);
        res = await doFetch(base + req.path, {
          method: req.method,
          headers: sent,
          body: req.body,
          signal,
          credentials: credentials ?? 'same-origin',
          // Never followed: a redirect would hand the sealed request (and `headers`) to another URL,
          // or turn it into a body-less GET (301/302/303), and its answer would be opened as the gateway's.
          redirect: 'manual',
        });
      } catch (e) {
        throw abortReason(signal) ?? new RpcError('NETWORK', 'the request could not be sent', { cause: e });
      }
      // A browser shows a redirect it did not follow as an opaque response with status 0; Node as the 3xx itself;
      // a custom fetch that ignores `redirect` (XHR-based polyfills) follows it and says so in `redirected`.
      if (res.type === 'opaqueredirect' || res.redirected === true || (res.status >= 300 && res.status < 400 && res.status !== 304)) {
        await release(res);
        throw new RpcError('HTTP_STATUS', `the gateway answered with a redirect${res.status ? ` (HTTP ${res.status})` : ''}, which a sealed call does not follow`, {
          ...(res.status ? { status: res.status } : {}),
          hint: 'A sealed call never follows a redirect: set baseUrl to the URL the gateway answers at.',
        });
      }
      let body: string;
      try {
        body = await readBounded(res, maxResponseBytes);
      } catch (e) {
        if (e instanceof RpcError) throw e;
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
