/**
 * The gateway half: a web-standard `(Request) => Promise<Response>` handler with an
 * operation registry. Each dialect's gateway profile (in this folder) does the wire
 * work; this file runs operations, counts, bounds bodies and never leaks a stack trace.
 */
import { concatBytes } from '../codec/bytes.js';
import { utf8Decode } from '../codec/utf8.js';
import { checkedRandom, randomBytes } from '../crypto/provider.js';
import { MAX_TIMER_MS } from '../errors.js';

/** What an operation handler is told about the call. */
export interface OperationContext {
  operationType: string;
  dialect: string;
  /** The caller's appId where the dialect has one (no secret: sent in clear, or under `app-secret`'s publicSecret). */
  appId?: string;
  headers: Headers;
}

export type OperationHandler = (params: any, ctx: OperationContext) => unknown | Promise<unknown>;

/**
 * Thrown by an operation to answer with a business error: at the client, RpcError `GATEWAY` with
 * `gatewayCode` = `code` under `modern` and `app-secret` (under `sorted-sign` a code of digits
 * arrives as a number). Under `mgs` a numeric `code` is the Result-Status, and any other is 6666
 * with the code in the message. A code the dialect reserves for its protocol (`modern`'s
 * CLOCK_SKEW, REPLAYED_REQUEST, REQUEST_ID_REUSED; `sorted-sign`'s 0 and 1000–1004; `mgs`'s 1000,
 * 8001 and 7000–7019) is answered as `INTERNAL` (6666 on `mgs`).
 */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * @internal The body as text for a legacy dialect, `undefined` when it is not UTF-8: those
 * dialects refuse a body that does not decode in their own form (PROTOCOLS §1–3: HTTP 200),
 * which a 400 their clients read as HTTP_STATUS would not be. The rest stays the gateway's
 * (413, 408, a body the server already read: the operator's to see, not the client's params).
 */
export async function legacyBodyText(request: GatewayRequest): Promise<string | undefined> {
  try {
    return await request.text();
  } catch (e) {
    if (e instanceof GatewayReject && e.notUtf8) return undefined;
    throw e;
  }
}

export type OperationResult = { ok: true; data: unknown } | { ok: false; code: string; message: string };

/** A reject: an HTTP error a profile answers with before (or instead of) running anything. */
export class GatewayReject extends Error {
  override readonly name = 'GatewayReject';
  constructor(
    readonly status: number,
    readonly code: string,
    /** A body that is not UTF-8 (a 400 BAD_REQUEST the legacy dialects answer in their own form). */
    readonly notUtf8 = false,
    /** The server's own mistake behind this answer, for `onInternalError` (no client could cause or fix it). */
    readonly report?: Error,
  ) {
    super(code);
  }
}

export interface GatewayStats {
  issuances: number;
  calls: number;
  /** Operations actually run (a deduplicated resend does not count). */
  executions: number;
  rejections: Record<string, number>;
}

/** What a dialect's gateway profile is given by the gateway. */
export interface GatewayCore {
  now(): number;
  random(n: number): Uint8Array;
  hasOperation(op: string): boolean;
  /** Run an operation; a thrown OperationError becomes `{ok:false}`, anything else `{ok:false, code:'INTERNAL'}`. */
  run(op: string, params: unknown, ctx: OperationContext): Promise<OperationResult>;
  /** @internal `run`, with the result itself (no promise) when the handler answered synchronously. */
  runNow?(op: string, params: unknown, ctx: OperationContext): OperationResult | Promise<OperationResult>;
  /** Read the body as text, refusing more than `maxBodyBytes` (GatewayReject 413). */
  readText(request: Request): Promise<string>;
  count(what: 'issuance' | 'call'): void;
  reject(code: string): void;
  /** Tell the operator (`onInternalError`) of a server-side mistake the answer already covers. */
  report?(e: unknown): void;
  readonly maxBodyBytes: number;
  readonly operationTimeoutMs: number;
}

export interface GatewayProfile {
  readonly name: string;
  handle(request: Request, core: GatewayCore): Promise<Response>;
  /** Expire every issued credential (a test hook a real operator needs too, e.g. after a key leak). */
  expireCredentials?(): void;
  /** Bounded caches, for monitoring: each dialect's own (e.g. `credentials`, `nonces`, `aheadNonces`, `requestIds`, `safeCodes`); sizes as of the last request. */
  cacheSizes?(): Record<string, number>;
  /** @internal Operations are found by the request's path (app-secret, sorted-sign), which always starts with `/`. */
  readonly routesByPath?: boolean;
}

/**
 * @internal A request as the built-in profiles read it: a web Request seen through
 * `requestView`, or (in `toNodeHandler`) node:http's IncomingMessage read directly, with no
 * Request made. Both give the same answers (test/unit/gateway-fast-path.test.ts).
 */
export interface GatewayRequest {
  /** Upper case for the standard methods (as `Request` normalizes them). */
  readonly method: string;
  /** The path of the request target, normalized as the URL parser does (no query). */
  readonly pathname: string;
  /** A query parameter's first value, as `new URL(request.url).searchParams.get(name)` gives it. */
  query(name: string): string | null;
  /** A header's value (lower-case name), `null` when absent; repeated headers joined with ", " as `Headers.get` does. */
  header(name: string): string | null;
  /** Every header as a web `Headers` (made on first use on the node:http path). */
  readonly headers: Headers;
  /** A web `Request` for callbacks that take one (made on first use on the node:http path, without its body). */
  readonly request: Request;
  /** The client's address as the Node adapter saw it (the socket's); undefined for a Request from elsewhere. Never taken from a header. */
  readonly peer: string | undefined;
  /** The body as text: at most `maxBodyBytes`, within `bodyTimeoutMs`, strict UTF-8 (GatewayReject 413 / 408 / 400). */
  text(): Promise<string>;
  /** The body will not be read (a refusal before reading it). */
  discard(): void;
}

/** @internal An answer as the built-in profiles give it: made into a `Response`, or written to node:http as is. */
export interface GatewayAnswer {
  status: number;
  /** Lower-case names; always a content-type. */
  headers: Record<string, string>;
  body: string;
}

/** @internal The wire-level half of a built-in profile: `handle` is `serve` seen through `requestView` and `toResponse`. */
export type ServeFn = (request: GatewayRequest, core: GatewayCore) => Promise<GatewayAnswer>;

/** Built-in profiles, with their wire-level half; a profile whose `handle` was replaced is not in it (or no longer matches). */
const servers = new WeakMap<GatewayProfile, { handle: GatewayProfile['handle']; serve: ServeFn }>();

/** @internal A built-in profile: `handle(Request)` from `serve`, and `serve` registered for the gateway's fast path. */
export function wireProfile<P extends Omit<GatewayProfile, 'handle'>>(profile: P, serve: ServeFn): P & GatewayProfile {
  const handle = async (request: Request, core: GatewayCore) => toResponse(await serve(requestView(request, core), core));
  const out = { ...profile, handle } as P & GatewayProfile;
  servers.set(out, { handle, serve });
  return out;
}

function serveOf(profile: GatewayProfile): ServeFn | undefined {
  const s = servers.get(profile);
  return s && s.handle === profile.handle ? s.serve : undefined;
}

/**
 * @internal The socket address of each Request `toNodeHandler` built. Kept beside the Request,
 * not in a header: a Request handed to `gateway.handle()` by other code may carry any header
 * its client sent.
 */
export const requestPeers = new WeakMap<Request, string>();

/** @internal A web Request as a GatewayRequest (its body read by `core.readText`). */
export function requestView(request: Request, core: GatewayCore): GatewayRequest {
  let url: URL | undefined;
  const parsed = () => (url ??= new URL(request.url));
  return {
    method: request.method,
    get pathname() {
      return parsed().pathname;
    },
    query: (name) => parsed().searchParams.get(name),
    header: (name) => request.headers.get(name),
    headers: request.headers,
    request,
    peer: requestPeers.get(request),
    text: () => core.readText(request),
    discard() {
      request.body?.cancel().catch(() => {});
    },
  };
}

/** @internal */
export function toResponse(a: GatewayAnswer): Response {
  return new Response(a.body, { status: a.status, headers: a.headers });
}

/** @internal `jsonResponse` as a GatewayAnswer. */
export function jsonAnswer(status: number, body: unknown, headers: Record<string, string> = {}): GatewayAnswer {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** @internal `textResponse` as a GatewayAnswer. */
export function textAnswer(status: number, body: string, headers: Record<string, string> = {}): GatewayAnswer {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** @internal `plainError` as a GatewayAnswer. */
export function plainAnswer(status: number, code: string, now: number): GatewayAnswer {
  return jsonAnswer(status, { error: code, serverTime: String(now) }, { date: new Date(now).toUTCString() });
}

/**
 * @internal What `toNodeHandler` needs to serve a gateway without web Request/Response
 * objects: its limits and the wire-level entry (the same checks as `handle`). Only for
 * gateways made by `createGateway` with a built-in profile whose `handle` is unchanged.
 */
export interface WireEntry {
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  /** The gateway's `handle` when this entry was made: a replaced `handle` turns the fast path off. */
  readonly handle: Gateway['handle'];
  serve(request: GatewayRequest): Promise<GatewayAnswer>;
}
const wireEntries = new WeakMap<Gateway, WireEntry>();

/** @internal The wire-level entry of a gateway, when it has one and its `handle` is still its own. */
export function wireEntry(gateway: Gateway): WireEntry | undefined {
  const e = wireEntries.get(gateway);
  return e && e.handle === gateway.handle && serveOf(gateway.profile) ? e : undefined;
}

export interface GatewayOptions {
  profile: GatewayProfile;
  /** Server clock (epoch ms); injectable for tests. */
  now?: () => number;
  random?: (n: number) => Uint8Array;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** How long an operation may run (default 30 s). */
  operationTimeoutMs?: number;
  /** How long reading a request body may take (default 30 s; a slow sender gets 408). */
  bodyTimeoutMs?: number;
  /** Requests handled at once; past it -> 503 GATEWAY_BUSY (default 4096). */
  maxInFlight?: number;
  /** Called with unexpected errors (never sent to the client). */
  onInternalError?: (err: unknown) => void;
}

export interface Gateway {
  readonly profile: GatewayProfile;
  operation(name: string, handler: OperationHandler): Gateway;
  handle(request: Request): Promise<Response>;
  expireCredentials(): void;
  stats(): GatewayStats & { caches: Record<string, number> };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function textResponse(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

/** The plain error answer `{error, serverTime}`; it always carries a `Date` header. */
export function plainError(status: number, code: string, now: number): Response {
  return jsonResponse(status, { error: code, serverTime: String(now) }, { date: new Date(now).toUTCString() });
}

/**
 * `p`'s value, or undefined once `ms` have passed (the timer is cleared either way). `p`
 * itself keeps running: a deadline stops the wait, not the work.
 */
export async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @internal What an operation is given: its names, and the request's headers, made only if it
 * reads them (the node:http path has no Headers object otherwise).
 */
export function operationContext(request: GatewayRequest, dialect: string, operationType: string, appId: string | undefined): OperationContext {
  return {
    operationType,
    dialect,
    ...(appId !== undefined ? { appId } : {}),
    get headers() {
      return request.headers;
    },
  };
}

/**
 * @internal A copy of `s` that shares no memory with the text it was cut from, for a string
 * a long-lived cache keeps: V8 keeps a whole request body or plaintext alive behind a slice
 * of it (13 characters or more). JSON.parse builds a new string.
 */
export function detached(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Client addresses tracked for an issuance rate; past it a new address is refused until some minute is over. */
const MAX_ISSUE_ADDRESSES = 10_000;

/**
 * @internal Issuances per client address per minute (a fixed window per address). The
 * address is `clientAddress(request)` when given, else the socket address the Node adapter
 * saw, else 'unknown' (one shared bucket): never a header a client can set. Returns whether
 * this issuance may go ahead.
 */
export function issuanceRate(perMinute: number, clientAddress: ((request: Request) => string) | undefined): (request: GatewayRequest, now: number) => boolean {
  if (clientAddress !== undefined && typeof clientAddress !== 'function') throw new TypeError('gateway profile: clientAddress must be a function (request) => address');
  // An address's window is dropped once over and a new one added at the end: insertion order is start order.
  const windows = new Map<string, { start: number; count: number }>();
  return (request, now) => {
    // (A window that starts after now, from a clock that stepped back, is over too: it would hold until the clock caught up.)
    const over = (w: { start: number }) => now - w.start >= 60_000 || now < w.start;
    for (const [k, w] of windows) {
      if (!over(w)) break;
      windows.delete(k);
    }
    const addr = clientAddress ? clientAddress(request.request) : (request.peer ?? 'unknown');
    let w = windows.get(addr);
    if (w && over(w)) {
      windows.delete(addr);
      w = undefined;
    }
    if (!w) {
      if (windows.size >= MAX_ISSUE_ADDRESSES) return false;
      windows.set(addr, (w = { start: now, count: 0 }));
    }
    return ++w.count <= perMinute;
  };
}

/** @internal */
export function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * @internal An operation's result under the operation timeout (`onTimeout` when it runs out).
 * A handler that answered synchronously needs no promise race and no timer: its result is
 * there before any timer could fire, so the answer is the one `raceTimeout` would give.
 */
export function runBounded(core: GatewayCore, op: string, params: unknown, ctx: OperationContext, onTimeout: OperationResult): OperationResult | Promise<OperationResult> {
  const ran = runOperation(core, op, params, ctx);
  return isThenable(ran) ? raceTimeout(ran, core.operationTimeoutMs).then((r) => r ?? onTimeout) : ran;
}

/** @internal `core.runNow` when the core has it (the gateway's does), else `core.run`. */
export function runOperation(core: GatewayCore, op: string, params: unknown, ctx: OperationContext): OperationResult | Promise<OperationResult> {
  return core.runNow ? core.runNow(op, params, ctx) : core.run(op, params, ctx);
}

/**
 * @internal Random bytes drawn from the platform 4 KiB at a time (one getRandomValues call
 * instead of one per IV, trace id or appId). Every byte is handed out once, as a copy, and
 * wiped from the pool when handed out.
 */
export function pooledRandom(source: (n: number) => Uint8Array = randomBytes): (n: number) => Uint8Array {
  const SIZE = 4096;
  let pool: Uint8Array = new Uint8Array(0);
  let offset = 0;
  return (n) => {
    if (n > 256) return source(n);
    if (offset + n > pool.length) {
      pool.fill(0);
      pool = source(SIZE);
      offset = 0;
    }
    const out = pool.slice(offset, offset + n);
    pool.fill(0, offset, offset + n);
    offset += n;
    return out;
  };
}

/**
 * @internal A decoded param into a plain object, by definition: `obj[k] = v` would drop a signed
 * `__proto__` param without a word (and never pollutes; this keeps it as the operation's own key).
 */
export function setParam(obj: Record<string, string>, k: string, v: string): void {
  // Only that one name needs it: defineProperty is ~10× an assignment, and this runs per param.
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[k] = v;
}

/** The text an operation's result is answered with when it has no JSON (a BigInt, a cycle, a throwing toJSON). */
export const UNSERIALIZABLE = 'the result could not be serialized';

/**
 * @internal JSON.stringify, or undefined when the value has none: the operation has run, so each
 * dialect answers its own business error (never a plain 500). Nesting past the engine's stack too.
 */
export function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** @internal jsonText of what an operation returned; when it has none the operator is told (the client only gets UNSERIALIZABLE). */
export function resultText(core: GatewayCore, value: unknown): string | undefined {
  const text = jsonText(value);
  if (text === undefined) core.report?.(new TypeError(`an operation returned a value with no JSON (a BigInt, a cycle or a throwing toJSON); the client got "${UNSERIALIZABLE}"`));
  return text;
}

/**
 * @internal A body read before the gateway got it: the server's mistake, not the client's. Read
 * as empty, it was blamed on the client's secret, signature or issuePath; so a 500 (the client's
 * hint then points at "the gateway and anything in front of it") and the cause to the operator.
 */
export function bodyAlreadyRead(cause: string): GatewayReject {
  return new GatewayReject(500, 'INTERNAL', false, new Error(cause));
}

/**
 * @internal A request body under a content coding (`Content-Encoding: gzip` from a proxy or an
 * HTTP library): the gateway reads bodies as sent, and the compressed bytes were refused as a bad
 * signature or bad params, pointing at the wrong cause. So a 415 (RFC 9110 §15.5.16) instead.
 */
export function encoded(contentEncoding: string | null | undefined): boolean {
  return contentEncoding != null && !/^[\s,]*(?:identity[\s,]*)*$/i.test(contentEncoding);
}

/** Distinct rejection codes counted by name in stats; the rest count as OTHER. */
const MAX_REJECTION_KINDS = 256;

/**
 * @internal A misspelt option (`windowMS`) would leave its default without a word: a 5-minute
 * window where 30 s was meant. The dialect's client option names pass too, so one config
 * object may serve both halves.
 */
export function refuseUnknownGatewayOptions(options: object, known: readonly string[], owner: string, clientNames: readonly string[] = []): void {
  for (const name of Object.keys(options)) if (!known.includes(name) && !clientNames.includes(name)) throw new TypeError(`${owner}: ${name} is not an option (they are ${known.join(', ')})`);
}

/** @internal A number option: its default when absent, else a finite number > 0 (NaN from an unset env variable is refused, not a window of nothing). */
export function positive(option: string, value: number | undefined, fallback: number, owner = 'createGateway'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new TypeError(`${owner}: ${option} must be a positive number`);
  return value;
}

/** @internal A count (requests, records, bytes): as `positive`, at least 1 (a limit of 0.5 would refuse everything), whole (a computed 1.5 × cores is 1). */
export function count(option: string, value: number | undefined, fallback: number, owner = 'createGateway'): number {
  if (positive(option, value, fallback, owner) < 1) throw new TypeError(`${owner}: ${option} must be at least 1 (a count)`);
  return Math.floor(value ?? fallback);
}

/** @internal A delay a timer waits: as `positive`, and no more than a timer can (a larger one fires at once). */
function timerMs(option: string, value: number | undefined, fallback: number): number {
  if (positive(option, value, fallback) > MAX_TIMER_MS) throw new TypeError(`createGateway: ${option} must be at most ${MAX_TIMER_MS} ms`);
  return value ?? fallback;
}

export function createGateway(options: GatewayOptions): Gateway {
  if (!options || typeof options.profile?.handle !== 'function') throw new TypeError('createGateway: `profile` must be a gateway profile, e.g. modern({ signingKeys })');
  refuseUnknownGatewayOptions(options, ['profile', 'now', 'random', 'maxBodyBytes', 'operationTimeoutMs', 'bodyTimeoutMs', 'maxInFlight', 'onInternalError'], 'createGateway');
  const ops = new Map<string, OperationHandler>();
  for (const name of ['now', 'random', 'onInternalError'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`createGateway: ${name} must be a function`);
  const given = options.now;
  // Whole milliseconds: every time on the wire is decimal digits (`performance.now()` arithmetic is not).
  const now = given
    ? () => {
        const t = Math.floor(given());
        // NaN would pass every clock window (NaN > windowMs is false) and date nothing: fail closed, a 500 the operator is told of.
        if (!Number.isFinite(t)) throw new TypeError('createGateway: now() must return epoch ms as a finite number');
        return t;
      }
    : Date.now;
  const maxBodyBytes = count('maxBodyBytes', options.maxBodyBytes, 1024 * 1024);
  const operationTimeoutMs = timerMs('operationTimeoutMs', options.operationTimeoutMs, 30_000);
  const bodyTimeoutMs = timerMs('bodyTimeoutMs', options.bodyTimeoutMs, 30_000);
  const maxInFlight = count('maxInFlight', options.maxInFlight, 4096);
  const stats: GatewayStats = { issuances: 0, calls: 0, executions: 0, rejections: Object.create(null) as Record<string, number> };
  const profile = options.profile;
  let inFlight = 0;
  let rejectionKinds = 0;
  const internalError = (e: unknown) => {
    try {
      options.onInternalError?.(e);
    } catch {
      // the operator's logger failing must not change the answer
    }
  };

  const failed = (e: unknown): OperationResult => {
    if (e instanceof OperationError) return { ok: false, code: String(e.code), message: String(e.message) };
    internalError(e);
    return { ok: false, code: 'INTERNAL', message: 'the operation failed' };
  };

  const core: GatewayCore = {
    now,
    report: internalError,
    random: options.random ? checkedRandom(options.random, (n) => new TypeError(`createGateway: random(${n}) must return a Uint8Array of ${n} bytes`)) : pooledRandom(),
    maxBodyBytes,
    operationTimeoutMs,
    hasOperation: (op) => ops.has(op),
    async run(op, params, ctx) {
      return core.runNow!(op, params, ctx);
    },
    runNow(op, params, ctx) {
      const handler = ops.get(op);
      if (!handler) return { ok: false, code: 'NOT_FOUND', message: 'unknown operation' };
      stats.executions++;
      let out: unknown;
      try {
        out = handler(params, ctx);
        // What `await` would wait for: a thenable (its result, or its failure, as below).
        if (out !== null && (typeof out === 'object' || typeof out === 'function') && typeof (out as { then?: unknown }).then === 'function')
          return Promise.resolve(out).then((data): OperationResult => ({ ok: true, data }), failed);
      } catch (e) {
        return failed(e);
      }
      return { ok: true, data: out };
    },
    async readText(request) {
      const declared = request.headers.get('content-length');
      if (declared !== null && !/^\s*[0-9]+\s*$/.test(declared)) throw new GatewayReject(400, 'BAD_REQUEST');
      if (declared !== null && Number(declared) > maxBodyBytes) throw new GatewayReject(413, 'BODY_TOO_LARGE');
      if (request.body && encoded(request.headers.get('content-encoding'))) throw new GatewayReject(415, 'UNSUPPORTED_CONTENT_ENCODING');
      if (request.bodyUsed) throw bodyAlreadyRead('the Request body was already read before gateway.handle (by a body parser or a logger?); hand the gateway an unread Request');
      if (!request.body) return '';
      let reader: ReadableStreamDefaultReader<Uint8Array>;
      try {
        reader = request.body.getReader();
      } catch {
        throw new GatewayReject(400, 'BAD_REQUEST'); // already read or locked
      }
      // Merged every 4096 chunks, so a body of many tiny chunks never spreads too many arguments.
      const batches: Uint8Array[] = [];
      let chunks: Uint8Array[] = [];
      let n = 0;
      // At the deadline the read is cancelled (it then ends as done): a flag, not a promise raced
      // against every read, whose reactions would pile up for a body of many small chunks.
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reader.cancel().catch(() => {});
      }, bodyTimeoutMs);
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch {
            // A sender that stalls, or a stream that breaks (client gone): never a 500.
            throw late ? new GatewayReject(408, 'BODY_TIMEOUT') : new GatewayReject(400, 'BAD_REQUEST');
          }
          if (late) throw new GatewayReject(408, 'BODY_TIMEOUT');
          if (chunk.done) break;
          const value = chunk.value;
          if (!(value instanceof Uint8Array)) throw new GatewayReject(400, 'BAD_REQUEST');
          n += value.length;
          if (n > maxBodyBytes) throw new GatewayReject(413, 'BODY_TOO_LARGE');
          chunks.push(value);
          if (chunks.length === 4096) {
            batches.push(concatBytes(...chunks));
            chunks = [];
          }
        }
      } catch (e) {
        reader.cancel().catch(() => {});
        throw e;
      } finally {
        clearTimeout(timer);
      }
      try {
        return utf8Decode(concatBytes(...batches, ...chunks));
      } catch {
        throw new GatewayReject(400, 'BAD_REQUEST', true);
      }
    },
    count(what) {
      if (what === 'issuance') stats.issuances++;
      else stats.calls++;
    },
    reject(code) {
      // Bounded: codes come from the profiles, but a hostile input must not grow this map.
      let key = String(code).slice(0, 64);
      if (!Object.hasOwn(stats.rejections, key)) {
        if (rejectionKinds >= MAX_REJECTION_KINDS) key = 'OTHER';
        else rejectionKinds++;
      }
      stats.rejections[key] = (stats.rejections[key] ?? 0) + 1;
    },
  };

  /**
   * Every request, whichever path: the in-flight bound, then `run`; a GatewayReject is its plain
   * refusal, anything else a plain 500 (never a stack trace on the wire: the error goes to the
   * operator only). `refuse` makes the refusal in the path's own type.
   */
  async function bounded<T>(discard: () => void, run: () => Promise<T>, refuse: (status: number, code: string, now: number) => T): Promise<T> {
    const answer = (status: number, code: string) => {
      core.reject(code);
      let at: number;
      try {
        at = now();
      } catch {
        at = Date.now(); // (the operator's clock failing is the error being answered)
      }
      return refuse(status, code, at);
    };
    if (inFlight >= maxInFlight) {
      discard();
      return answer(503, 'GATEWAY_BUSY');
    }
    inFlight++;
    try {
      return await run();
    } catch (e) {
      if (e instanceof GatewayReject) {
        if (e.report) internalError(e.report);
        return answer(e.status, e.code);
      }
      internalError(e);
      return answer(500, 'INTERNAL');
    } finally {
      inFlight--;
    }
  }

  /** `handle` for built-in profiles, on either kind of request. */
  function serveWire(serve: ServeFn, request: GatewayRequest): Promise<GatewayAnswer> {
    return bounded(() => request.discard(), () => serve(request, core), plainAnswer);
  }

  const gateway: Gateway = {
    profile,
    operation(name, handler) {
      if (typeof name !== 'string' || !name) throw new TypeError('operation: name must be a non-empty string');
      if (typeof handler !== 'function') throw new TypeError(`operation ${name}: handler must be a function`);
      // The legacy clients send `call('user/get')` to /user/get: the name without its `/` could never be called.
      if (profile.routesByPath && !name.startsWith('/')) name = '/' + name;
      // A second handler for a name would silently replace the first (two modules, one name).
      if (ops.has(name)) throw new TypeError(`operation ${name}: a handler for this name is already registered`);
      ops.set(name, handler);
      return gateway;
    },
    async handle(request) {
      const serve = serveOf(profile);
      if (serve) return toResponse(await serveWire(serve, requestView(request, core)));
      return bounded(
        () => request.body?.cancel().catch(() => {}),
        async () => {
          const response = await profile.handle(request, core);
          if (!(response instanceof Response)) throw new TypeError('the gateway profile did not answer with a Response');
          return response;
        },
        plainError,
      );
    },
    expireCredentials() {
      profile.expireCredentials?.();
    },
    stats() {
      return { ...stats, rejections: { ...stats.rejections }, caches: profile.cacheSizes?.() ?? {} };
    },
  };
  wireEntries.set(gateway, {
    maxBodyBytes,
    bodyTimeoutMs,
    handle: gateway.handle,
    serve(request) {
      const serve = serveOf(profile);
      if (!serve) return Promise.reject(new TypeError('this gateway has no wire-level entry'));
      return serveWire(serve, request);
    },
  });
  return gateway;
}
