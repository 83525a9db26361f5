/**
 * The gateway half: a web-standard `(Request) => Promise<Response>` handler with an
 * operation registry. Each dialect's gateway profile (in this folder) does the wire
 * work; this file runs operations, counts, bounds bodies and never leaks a stack trace.
 */
import { concatBytes } from '../codec/bytes.js';
import { utf8Decode } from '../codec/utf8.js';
import { randomBytes } from '../crypto/provider.js';

/** What an operation handler is told about the call. */
export interface OperationContext {
  operationType: string;
  dialect: string;
  /** The caller's appId where the dialect has one (sent in clear). */
  appId?: string;
  headers: Headers;
}

export type OperationHandler = (params: any, ctx: OperationContext) => unknown | Promise<unknown>;

/** Thrown by an operation to answer with a business error (`code` is kept by the client as `gatewayCode`). */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type OperationResult = { ok: true; data: unknown } | { ok: false; code: string; message: string };

/** A reject: an HTTP error a profile answers with before (or instead of) running anything. */
export class GatewayReject extends Error {
  override readonly name = 'GatewayReject';
  constructor(
    readonly status: number,
    readonly code: string,
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
  /** Read the body as text, refusing more than `maxBodyBytes` (GatewayReject 413). */
  readText(request: Request): Promise<string>;
  count(what: 'issuance' | 'call'): void;
  reject(code: string): void;
  readonly maxBodyBytes: number;
  readonly operationTimeoutMs: number;
}

export interface GatewayProfile {
  readonly name: string;
  handle(request: Request, core: GatewayCore): Promise<Response>;
  /** Expire every issued credential (a test hook a real operator needs too, e.g. after a key leak). */
  expireCredentials?(): void;
  /** Bounded caches, for monitoring (`nonces`, `credentials`, `requestIds`). */
  cacheSizes?(): Record<string, number>;
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

/** Distinct rejection codes counted by name in stats; the rest count as OTHER. */
const MAX_REJECTION_KINDS = 256;

function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new TypeError(`createGateway: ${option} must be a positive number`);
  return value;
}

export function createGateway(options: GatewayOptions): Gateway {
  if (!options || typeof options.profile?.handle !== 'function') throw new TypeError('createGateway: `profile` must be a gateway profile, e.g. modern({ signingKeys })');
  const ops = new Map<string, OperationHandler>();
  const now = options.now ?? Date.now;
  const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 1024 * 1024);
  const operationTimeoutMs = positive('operationTimeoutMs', options.operationTimeoutMs, 30_000);
  const bodyTimeoutMs = positive('bodyTimeoutMs', options.bodyTimeoutMs, 30_000);
  const maxInFlight = positive('maxInFlight', options.maxInFlight, 4096);
  const stats: GatewayStats = { issuances: 0, calls: 0, executions: 0, rejections: {} };
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

  const core: GatewayCore = {
    now,
    random: options.random ?? randomBytes,
    maxBodyBytes,
    operationTimeoutMs,
    hasOperation: (op) => ops.has(op),
    async run(op, params, ctx) {
      const handler = ops.get(op);
      if (!handler) return { ok: false, code: 'NOT_FOUND', message: 'unknown operation' };
      stats.executions++;
      try {
        return { ok: true, data: await handler(params, ctx) };
      } catch (e) {
        if (e instanceof OperationError) return { ok: false, code: String(e.code), message: String(e.message) };
        internalError(e);
        return { ok: false, code: 'INTERNAL', message: 'the operation failed' };
      }
    },
    async readText(request) {
      const declared = request.headers.get('content-length');
      if (declared !== null && !/^\s*[0-9]+\s*$/.test(declared)) throw new GatewayReject(400, 'BAD_REQUEST');
      if (declared !== null && Number(declared) > maxBodyBytes) throw new GatewayReject(413, 'BODY_TOO_LARGE');
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
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GatewayReject(408, 'BODY_TIMEOUT')), bodyTimeoutMs);
      });
      deadline.catch(() => {});
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await Promise.race([reader.read(), deadline]);
          } catch (e) {
            // A sender that stalls, or a stream that breaks (client gone): never a 500.
            throw e instanceof GatewayReject ? e : new GatewayReject(400, 'BAD_REQUEST');
          }
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
        throw new GatewayReject(400, 'BAD_REQUEST');
      }
    },
    count(what) {
      if (what === 'issuance') stats.issuances++;
      else stats.calls++;
    },
    reject(code) {
      // Bounded: codes come from the profiles, but a hostile input must not grow this map.
      let key = String(code).slice(0, 64);
      if (!(key in stats.rejections)) {
        if (rejectionKinds >= MAX_REJECTION_KINDS) key = 'OTHER';
        else rejectionKinds++;
      }
      stats.rejections[key] = (stats.rejections[key] ?? 0) + 1;
    },
  };

  const gateway: Gateway = {
    profile,
    operation(name, handler) {
      if (typeof name !== 'string' || !name) throw new TypeError('operation: name must be a non-empty string');
      if (typeof handler !== 'function') throw new TypeError(`operation ${name}: handler must be a function`);
      ops.set(name, handler);
      return gateway;
    },
    async handle(request) {
      const answer = (status: number, code: string) => {
        core.reject(code);
        return plainError(status, code, now());
      };
      if (inFlight >= maxInFlight) {
        request.body?.cancel().catch(() => {});
        return answer(503, 'GATEWAY_BUSY');
      }
      inFlight++;
      try {
        const response = await profile.handle(request, core);
        if (!(response instanceof Response)) throw new TypeError('the gateway profile did not answer with a Response');
        return response;
      } catch (e) {
        if (e instanceof GatewayReject) return answer(e.status, e.code);
        // Never a stack trace on the wire: the error goes to the operator only.
        internalError(e);
        return answer(500, 'INTERNAL');
      } finally {
        inFlight--;
      }
    },
    expireCredentials() {
      profile.expireCredentials?.();
    },
    stats() {
      return { ...stats, rejections: { ...stats.rejections }, caches: profile.cacheSizes?.() ?? {} };
    },
  };
  return gateway;
}
