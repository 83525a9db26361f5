/**
 * `mgs` (PROTOCOLS.md §3): the mobile gateway dialect. The request body is signed, not
 * encrypted; answers carry their result code in the `Result-Status` header. Credentials
 * are static (`appId`, `workspaceId`, and a secret or a pluggable signer).
 */
import { toBase64 } from '../codec/base64.js';
import { toHex } from '../codec/hex.js';
import { utf8Encode } from '../codec/utf8.js';
import { digestHex } from '../crypto/digest.js';
import { RpcError, badConfig, decodeTips, paramsJson, MGS_NOT_MODIFIED, MGS_SUCCESS, mgsResultError, refuseUnknownOptions, refuseUnsendableHeaders, zeroSignHint } from '../errors.js';
import type { CallInfo, Profile, ProfileContext, Sealed, WireResponse } from '../types.js';

// ---------------------------------------------------------------------------------------
// Ts: epoch ms in base 64, digits 0-9A-Za-z+/, most significant first, no padding.

const TS_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/';
const TS_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) TS_VALUE[TS_ALPHABET.charCodeAt(i)] = i;
/** 64^9 > 2^53: nine digits hold every safe integer. */
const TS_MAX_DIGITS = 9;

/** `encodeTs(1700000000000) === 'OlFvMW0'`. */
export function encodeTs(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TypeError('encodeTs: ms must be a non-negative safe integer');
  if (ms === 0) return '0';
  let s = '';
  // Division, not bit shifts: epoch ms exceed 32 bits.
  for (let n = ms; n > 0; n = Math.floor(n / 64)) s = TS_ALPHABET[n % 64] + s;
  return s;
}

/** The inverse of `encodeTs`; throws TypeError on anything that is not such a number. */
export function decodeTs(s: string): number {
  if (typeof s !== 'string' || s.length === 0 || s.length > TS_MAX_DIGITS) throw new TypeError('decodeTs: not a base-64 time');
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? TS_VALUE[c] : -1;
    if (v < 0) throw new TypeError('decodeTs: not a base-64 time');
    n = n * 64 + v;
  }
  if (!Number.isSafeInteger(n)) throw new TypeError('decodeTs: out of range');
  return n;
}

// The result-code table and its mapping live with the other error tables (errors.ts).
export { MGS_RESULT_CODES, MGS_SUCCESS, MGS_NOT_MODIFIED, mgsResultError, type MgsResultCode, type MgsErrorInfo } from '../errors.js';

// ---------------------------------------------------------------------------------------
// The profile.

export type MgsDigest = 'md5' | 'hmac-sha256';

export interface MgsOptions {
  appId: string;
  workspaceId: string;
  /** Signing secret for the built-in signer; not needed with `signer`. */
  secret?: string;
  /** Device id (`Did`); default: a random id made once per profile. */
  did?: string;
  /** Gateway path appended to the transport's base URL (default `/mgw.htm`). */
  gatewayPath?: string;
  /** Signs the sign input; the default is `digest(input + secret)` (hex). Inside a container the native side signs. */
  signer?: (input: string) => Promise<string>;
  /** The built-in signer's digest (default `md5`; `hmac-sha256` is keyed with the secret). */
  digest?: MgsDigest;
  /** Extra headers on every request; they cannot replace the protocol's own headers. */
  headers?: Record<string, string>;
  /** Parses the answer body (default: the client's parseJson, i.e. JSON.parse). */
  parseJson?: (text: string) => unknown;
  /** The `signType` header (default: the digest name, or `custom` with a signer). */
  signType?: string;
}

export interface MgsState {
  operationType: string;
  ts: string;
  sign: string;
}

/** Header names the protocol sets itself (lower case); a caller's header cannot replace them. */
export const MGS_PROTOCOL_HEADERS: ReadonlySet<string> = new Set(['version', 'operation-type', 'appid', 'workspaceid', 'did', 'ts', 'sign', 'signtype', 'content-type']);

/** `Operation-Type=<op>&Request-Data=<base64(body bytes)>&Ts=<Ts>`, over exactly the bytes sent. */
export function mgsSignInput(operationType: string, bodyBytes: Uint8Array, ts: string): string {
  return `Operation-Type=${operationType}&Request-Data=${toBase64(bodyBytes)}&Ts=${ts}`;
}

/** The built-in signature: `digest(input + secret)`, lower-case hex (HMAC keyed with the secret). */
export function mgsBuiltInSign(digest: MgsDigest, input: string, secret: string): Promise<string> {
  return digestHex(digest, input + secret, secret);
}

/** The body the gateway expects: `[{"_requestBody":"<JSON string of params>"}]`. */
export function mgsBody(params: unknown): string {
  const requestBody = typeof params === 'string' ? params : paramsJson(params ?? {});
  return JSON.stringify([{ _requestBody: requestBody }]);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** @internal The client's option names (the gateway profile accepts them too: one config may serve both halves). */
export const MGS_OPTIONS = ['appId', 'workspaceId', 'secret', 'did', 'gatewayPath', 'signer', 'digest', 'headers', 'parseJson', 'signType'];

export function mgs(options: MgsOptions): Profile<undefined, MgsState> {
  if (!options || typeof options !== 'object') throw badConfig('mgs', 'needs options { appId, workspaceId, secret }');
  refuseUnknownOptions(options, MGS_OPTIONS, 'mgs');
  const { appId, workspaceId, secret, signer } = options;
  if (!nonEmptyString(appId)) throw badConfig('appId', 'must be a non-empty string');
  if (!nonEmptyString(workspaceId)) throw badConfig('workspaceId', 'must be a non-empty string');
  if (signer !== undefined && typeof signer !== 'function') throw badConfig('signer', 'must be a function (input) => Promise<string>');
  if (signer === undefined && !nonEmptyString(secret)) throw badConfig('secret', 'give the signing secret, or a signer');
  const digest = options.digest ?? 'md5';
  if (digest !== 'md5' && digest !== 'hmac-sha256') throw badConfig('digest', "must be 'md5' or 'hmac-sha256'");
  const gatewayPath = options.gatewayPath ?? '/mgw.htm';
  if (typeof gatewayPath !== 'string' || !gatewayPath.startsWith('/')) throw badConfig('gatewayPath', 'must be a path starting with /');
  if (options.did !== undefined && !nonEmptyString(options.did)) throw badConfig('did', 'must be a non-empty string');
  if (options.parseJson !== undefined && typeof options.parseJson !== 'function') throw badConfig('parseJson', 'must be a function');
  if (options.signType !== undefined && !nonEmptyString(options.signType)) throw badConfig('signType', 'must be a non-empty string');
  const signType = options.signType ?? (signer ? 'custom' : digest);
  const given = options.headers ?? {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw badConfig('headers', 'must be an object { name: value }');
  const extraHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) {
    if (typeof v !== 'string') throw badConfig(`headers.${k}`, 'must be a string');
    if (!MGS_PROTOCOL_HEADERS.has(k.toLowerCase())) extraHeaders[k] = v;
  }
  // Sent as headers on every call: one fetch refuses would fail each as NETWORK (retryable).
  refuseUnsendableHeaders(extraHeaders, 'headers');
  for (const [option, value] of [['appId', appId], ['workspaceId', workspaceId], ['did', options.did ?? ''], ['signType', signType]]) refuseUnsendableHeaders({ h: value }, option);
  const sign = signer ?? ((input: string) => mgsBuiltInSign(digest, input, secret as string));
  let did = options.did;

  async function seal(call: CallInfo, _cred: undefined, ctx: ProfileContext): Promise<Sealed<MgsState>> {
    const op = call.operationType;
    if (!nonEmptyString(op)) throw new RpcError('BAD_REQUEST', 'operationType must be a non-empty string');
    // Made lazily so the client's (injectable) randomness is used.
    did ??= toHex(ctx.random(16));
    // A fresh Ts on every seal: a resend after 7003 uses the corrected clock.
    const ts = encodeTs(Math.max(0, Math.round(ctx.now())));
    const body = mgsBody(call.params);
    const signature = await sign(mgsSignInput(op, utf8Encode(body), ts));
    if (typeof signature !== 'string') throw new RpcError('BAD_CONFIG', 'signer: must resolve to a string', { details: { option: 'signer' } });
    return {
      wire: {
        path: gatewayPath,
        method: 'POST',
        headers: {
          ...extraHeaders,
          Version: '2',
          'Operation-Type': op,
          AppId: appId,
          WorkspaceId: workspaceId,
          Did: did,
          Ts: ts,
          Sign: signature,
          signType,
          'Content-Type': 'application/json',
        },
        body,
        operationType: op,
      },
      state: { operationType: op, ts, sign: signature },
    };
  }

  async function open(res: WireResponse, sealed: Sealed<MgsState>, _cred: undefined, ctx: ProfileContext): Promise<unknown> {
    const h = res.headers;
    const rawStatus = h['result-status'];
    if (rawStatus === undefined) {
      // Not the gateway: a proxy's error page, or a 200 page (an SPA's index.html, a captive
      // portal). The container's answers carry one (jsBridgeTransport says 1000 where it does not).
      if (res.status !== 200) throw new RpcError('HTTP_STATUS', `the gateway answered HTTP ${res.status}`, { status: res.status });
      throw new RpcError('RESPONSE_UNREADABLE', 'the answer has no Result-Status header: it is not from an mgs gateway', {
        hint: "Check the transport's baseUrl and the profile's gatewayPath (default /mgw.htm): they must reach the mobile gateway. Cross-origin, the gateway must list Result-Status in Access-Control-Expose-Headers.",
      });
    } else {
      const resultCode = /^\s*\d+\s*$/.test(rawStatus) ? Number(rawStatus) : NaN;
      if (!Number.isSafeInteger(resultCode)) throw new RpcError('RESPONSE_UNREADABLE', 'the Result-Status header is not a number');
      if (resultCode !== MGS_SUCCESS && resultCode !== MGS_NOT_MODIFIED) {
        const date = h['date'] ? Date.parse(h['date']) : NaN;
        throw mgsResultError(resultCode, {
          ...(h['memo'] ? { memo: h['memo'] } : {}),
          ...(h['tips'] ? { tips: decodeTips(h['tips']) } : {}),
          ...(h['mgw-traceid'] ? { traceId: h['mgw-traceid'] } : {}),
          ...(Number.isFinite(date) ? { serverTime: date } : {}),
          ...(resultCode === 7002 ? { hintSuffix: zeroSignHint(sealed.state.sign) } : {}),
        });
      }
      // A success code on a failed HTTP exchange is not a success (a proxy copied the header, or the body was cut).
      if (res.status !== 200) throw new RpcError('HTTP_STATUS', `the gateway answered HTTP ${res.status}`, { status: res.status });
    }
    // 8001 (not modified) is not an error: the body, if any, is the data; else undefined.
    if (res.body.trim() === '') return undefined;
    const parse = options.parseJson ?? ctx.parseJson;
    try {
      return parse(res.body);
    } catch {
      // A container hands a non-JSON body over as text; a JSON-labelled body must parse.
      if (/json/i.test(h['content-type'] ?? 'application/json')) throw new RpcError('RESPONSE_UNREADABLE', 'the gateway answer is not JSON');
      return res.body;
    }
  }

  return {
    name: 'mgs',
    credentials: 'static',
    storeKey: `mgs:${workspaceId}:${appId}`,
    textParams: true,
    seal,
    open,
    describe: () => ({ dialect: 'mgs', appId, workspaceId, signType }),
  };
}
