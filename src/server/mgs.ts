/**
 * The gateway half of `mgs` (PROTOCOLS.md §3): verifies the signed body, runs the
 * operation, and answers HTTP 200 with the result code in `Result-Status`.
 */
import { constantTimeEqualString } from '../codec/bytes.js';
import { toHex } from '../codec/hex.js';
import { utf8Encode } from '../codec/utf8.js';
import { MGS_OPTIONS, MGS_RESULT_CODES, decodeTs, mgsBuiltInSign, mgsSignInput, type MgsDigest } from '../profiles/mgs.js';
import { resultText, UNSERIALIZABLE, refuseUnknownGatewayOptions, legacyBodyText, positive, isThenable, runBounded, wireProfile, type GatewayAnswer, type GatewayCore, type GatewayProfile, type GatewayRequest, type OperationResult, operationContext } from './gateway.js';

interface MgsGatewayApp {
  secret: string;
  /** When set, requests must carry this WorkspaceId. */
  workspaceId?: string;
}

export interface MgsGatewayOptions {
  /** Signing secrets by appId (a string is the secret; an object may pin the workspace). */
  apps?: Record<string, string | MgsGatewayApp>;
  /** One app (with `secret`, and `workspaceId` to pin it), instead of `apps` or added to them. */
  appId?: string;
  workspaceId?: string;
  secret?: string;
  /** Largest |server time − Ts| accepted, in ms (default 300000). */
  windowMs?: number;
  /** Digest of the built-in signature (default `md5`). */
  digest?: MgsDigest;
  /** Computes the expected signature instead of the built-in digest (mirrors the client's signer). */
  signer?: (input: string, appId: string) => Promise<string>;
  /**
   * `true`: operations get the `_requestBody` string as it came, not parsed: another dialect's
   * sealed payload (PROTOCOLS §3), or JSON to read with a lossless parser (exact decimals).
   * An RPC-backed body (`[{…}]` with no `_requestBody`) still reaches them as that object.
   */
  rawRequestBody?: boolean;
}

const DEFAULT_WINDOW_MS = 300_000;
const NUMERIC = /^[0-9]{1,9}$/;

/** Result codes only the gateway may send: success, not modified, and 7000–7019 (7003 makes the client resend, running the operation twice). */
function reservedCode(code: number): boolean {
  return code === 1000 || code === 8001 || (code >= 7000 && code <= 7019);
}

/** Header values must be Latin-1; Memo is a short technical text, so keep it printable ASCII. */
/** Lone surrogates as U+FFFD (what TextEncoder writes for them): encodeURIComponent throws on them, and the operation has already run. */
function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Tips is user-facing text, URL-encoded into a header (up to 9 bytes a character): a message
 * that echoes input could pass the header limits of proxies and of fetch itself, and the page
 * would get a network error instead. The body's memo keeps the whole message.
 */
function shortTips(s: string): string {
  if (s.length <= 200) return s;
  const t = s.slice(0, 200);
  // Not half a surrogate pair at the cut.
  return /[\uD800-\uDBFF]$/.test(t) ? t.slice(0, -1) : t;
}

function asciiMemo(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

export function mgs(options: MgsGatewayOptions): GatewayProfile {
  if (!options || typeof options !== 'object') throw new TypeError('mgs gateway: needs options { apps } or { appId, secret }');
  refuseUnknownGatewayOptions(options, ['apps', 'appId', 'workspaceId', 'secret', 'windowMs', 'digest', 'signer', 'rawRequestBody'], 'mgs gateway', MGS_OPTIONS);
  const apps = new Map<string, MgsGatewayApp>();
  for (const [i, [id, v]] of Object.entries(options.apps ?? {}).entries()) {
    const app = typeof v === 'string' ? { secret: v } : v;
    // Named by position: written the wrong way round ({ [secret]: appId }), the name is the secret.
    if (!app || typeof app.secret !== 'string' || !app.secret) throw new TypeError(`mgs gateway: apps (entry number ${i + 1}) needs a secret`);
    if (app.workspaceId !== undefined && typeof app.workspaceId !== 'string') throw new TypeError(`mgs gateway: apps (entry number ${i + 1}): workspaceId must be a string`);
    apps.set(id, app);
  }
  // Given beside apps they would apply to no app: refused rather than a workspace check quietly off.
  if (options.appId === undefined && (options.secret !== undefined || options.workspaceId !== undefined))
    throw new TypeError(`mgs gateway: ${options.secret !== undefined ? 'secret' : 'workspaceId'} goes with appId; with apps, give each app its own: apps: { [appId]: { secret, workspaceId } }`);
  if (options.signer !== undefined && typeof options.signer !== 'function') throw new TypeError('mgs gateway: signer must be a function (input, appId) => sign');
  if (options.appId !== undefined) {
    if (typeof options.secret !== 'string' || !options.secret) throw new TypeError('mgs gateway: secret is required with appId');
    apps.set(options.appId, { secret: options.secret, ...(options.workspaceId ? { workspaceId: options.workspaceId } : {}) });
  }
  if (apps.size === 0) throw new TypeError('mgs gateway: give apps { [appId]: secret } or { appId, secret }');
  const windowMs = positive('windowMs', options.windowMs, DEFAULT_WINDOW_MS, 'mgs gateway');
  const digest = options.digest ?? 'md5';
  const rawRequestBody = options.rawRequestBody ?? false;
  if (typeof rawRequestBody !== 'boolean') throw new TypeError('mgs gateway: rawRequestBody must be true or false');
  if (digest !== 'md5' && digest !== 'hmac-sha256') throw new TypeError("mgs gateway: digest must be 'md5' or 'hmac-sha256'");

  function answer(core: GatewayCore, resultCode: number, body: unknown, memo: string, tips?: string): GatewayAnswer {
    if (resultCode !== 1000) core.reject(String(resultCode));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'result-status': String(resultCode),
      memo: asciiMemo(memo),
      'mgw-traceid': toHex(core.random(16)),
      // The client's clock correction after 7003 reads this.
      date: new Date(core.now()).toUTCString(),
    };
    if (tips) headers.tips = encodeURIComponent(wellFormed(shortTips(tips)));
    return { status: 200, headers, body: JSON.stringify(body ?? null) };
  }

  /** A success, or 4002 when the operation's result has no JSON: it ran, so the back end failed. */
  function success(core: GatewayCore, data: unknown): GatewayAnswer {
    const body = resultText(core, data ?? null);
    return body === undefined ? fail(core, 4002, UNSERIALIZABLE) : { ...answer(core, 1000, null, 'ok'), body };
  }

  function fail(core: GatewayCore, resultCode: number, memo?: string, tips?: string): GatewayAnswer {
    const meaning = MGS_RESULT_CODES[resultCode]?.meaning ?? 'gateway error';
    return answer(core, resultCode, { resultStatus: resultCode, memo: memo ?? meaning }, memo ?? meaning, tips);
  }

  /** Operation errors: a numeric code is a result code (e.g. 6666) unless reserved (then 6666); anything else is the back end's failure. */
  function operationFailure(core: GatewayCore, r: Extract<OperationResult, { ok: false }>): GatewayAnswer {
    if (NUMERIC.test(r.code) && !reservedCode(Number(r.code))) return fail(core, Number(r.code), r.message, r.message);
    if (r.code === 'NOT_FOUND') return fail(core, 3000);
    if (r.code === 'INTERNAL') return fail(core, 4002);
    if (r.code === 'TIMEOUT') return fail(core, 4001);
    return fail(core, 6666, `${r.code}: ${r.message}`, r.message);
  }

  async function serve(request: GatewayRequest, core: GatewayCore): Promise<GatewayAnswer> {
    core.count('call');
    if (request.method !== 'POST') return fail(core, 3002, 'POST only');
    const sign = request.header('sign');
    const ts = request.header('ts');
    const appId = request.header('appid');
    const op = request.header('operation-type');
    if (!sign) return fail(core, 7014);
    if (!ts) return fail(core, 7007);
    if (!appId || !op) return fail(core, 7001);
    const app = apps.get(appId);
    if (!app || (app.workspaceId !== undefined && request.header('workspaceid') !== app.workspaceId)) return fail(core, 7000);
    let sentAt: number;
    try {
      sentAt = decodeTs(ts);
    } catch {
      return fail(core, 7001, 'Ts is not a base-64 time');
    }
    if (Math.abs(core.now() - sentAt) > windowMs) return fail(core, 7003);

    // Not UTF-8: bad format, as the sign could not be checked over the bytes sent anyway. (A BOM
    // is stripped, which then fails the sign: JSON has none.)
    const text = await legacyBodyText(request);
    if (text === undefined) return fail(core, 3002);
    const input = mgsSignInput(op, utf8Encode(text), ts);
    // The built-in digests are hex, read in either case; a signer's text (base64, say) is compared as it is.
    const own = options.signer ? await options.signer(input, appId) : await mgsBuiltInSign(digest, input, app.secret);
    if (!(options.signer ? constantTimeEqualString(sign, own) : constantTimeEqualString(sign.toLowerCase(), own.toLowerCase()))) return fail(core, 7002);

    if (!core.hasOperation(op)) return fail(core, 3000);
    if (text.trim() === '') return fail(core, 3001);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(core, 3002);
    }
    if (!Array.isArray(body) || body.length === 0) return fail(core, body === null || (Array.isArray(body) && body.length === 0) ? 3001 : 3002);
    const first: unknown = body[0];
    if (first === null || typeof first !== 'object' || Array.isArray(first)) return fail(core, 3002);
    let params: unknown;
    const requestBody = (first as { _requestBody?: unknown })._requestBody;
    if (typeof requestBody === 'string') {
      if (requestBody.trim() === '') return fail(core, 3001);
      if (rawRequestBody) params = requestBody;
      else
        try {
          params = JSON.parse(requestBody);
        } catch {
          return fail(core, 3002, '_requestBody is not JSON');
        }
    } else if (requestBody === undefined) {
      // An RPC-backed operation: the first element is the parameter object itself.
      params = first;
    } else {
      return fail(core, 3002, '_requestBody must be a string');
    }

    const ctx = operationContext(request, 'mgs', op, appId);
    const ran = runBounded(core, op, params, ctx, { ok: false, code: 'TIMEOUT', message: 'the operation took too long' });
    const result: OperationResult = isThenable(ran) ? await ran : ran;
    if (!result.ok) return operationFailure(core, result);
    return success(core, result.data);
  }

  return wireProfile({ name: 'mgs' }, serve);
}
