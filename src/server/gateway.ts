/**
 * The gateway half: a web-standard `(Request) => Promise<Response>` handler with an
 * operation registry. Each dialect's gateway profile (in this folder) does the wire
 * work; this file runs operations, counts, bounds bodies and never leaks a stack trace.
 */
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

export function createGateway(options: GatewayOptions): Gateway {
  if (!options || typeof options.profile?.handle !== 'function') throw new TypeError('createGateway: `profile` must be a gateway profile, e.g. modern({ signingKeys })');
  const ops = new Map<string, OperationHandler>();
  const now = options.now ?? Date.now;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const operationTimeoutMs = options.operationTimeoutMs ?? 30_000;
  const stats: GatewayStats = { issuances: 0, calls: 0, executions: 0, rejections: {} };
  const profile = options.profile;

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
        if (e instanceof OperationError) return { ok: false, code: e.code, message: e.message };
        options.onInternalError?.(e);
        return { ok: false, code: 'INTERNAL', message: 'the operation failed' };
      }
    },
    async readText(request) {
      const declared = Number(request.headers.get('content-length') ?? '0');
      if (declared > maxBodyBytes) throw new GatewayReject(413, 'BODY_TOO_LARGE');
      if (!request.body) return '';
      const reader = request.body.getReader();
      const chunks: Uint8Array[] = [];
      let n = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        n += value.length;
        if (n > maxBodyBytes) {
          await reader.cancel().catch(() => {});
          throw new GatewayReject(413, 'BODY_TOO_LARGE');
        }
        chunks.push(value);
      }
      const all = new Uint8Array(n);
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(all);
      } catch {
        throw new GatewayReject(400, 'BAD_REQUEST');
      }
    },
    count(what) {
      if (what === 'issuance') stats.issuances++;
      else stats.calls++;
    },
    reject(code) {
      stats.rejections[code] = (stats.rejections[code] ?? 0) + 1;
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
      try {
        return await profile.handle(request, core);
      } catch (e) {
        if (e instanceof GatewayReject) {
          core.reject(e.code);
          return jsonResponse(e.status, { error: e.code, serverTime: String(now()) });
        }
        // Never a stack trace on the wire.
        options.onInternalError?.(e);
        core.reject('INTERNAL');
        return jsonResponse(500, { error: 'INTERNAL', serverTime: String(now()) });
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
