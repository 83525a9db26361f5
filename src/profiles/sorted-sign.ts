/**
 * `sorted-sign` (PROTOCOLS.md §2): static {appId, appKey}; timestamp + a 13-digit safeCode,
 * a digest over the sorted `k=v` join, then the whole `k=v&…` string encrypted with the
 * appKey. Replies are encrypted JSON that echo the safeCode, or plain JSON for the two
 * codes a gateway sends before it could read the request.
 */
import { formEncode, joinRaw, sortedKeys } from '../codec/form.js';
import { constantTimeEqualString } from '../codec/bytes.js';
import { HTML_HINT, RpcError, badConfig, isHtml, refuseUnknownOptions, zeroSignHint, type RpcErrorCode } from '../errors.js';
import type { CallInfo, Profile, ProfileContext, Sealed, WireRequest, WireResponse } from '../types.js';
import { LEGACY_OPTIONS, checkSecret, httpStatusError, legacyCipher, numberText, resolveLegacyOptions, sign, stringParams, validateParseJson, type Digest, type LegacyCipher, type LegacyConfig, type LegacyOptions } from './legacy.js';

export type SignRule = 'sorted' | 'timestamp-key';

export interface SortedSignOptions extends LegacyOptions {
  /** The application number from the service's console (sent in clear). */
  appId: string | number;
  /** The app key: encrypts `params` and the reply; the HMAC key under `hmac-sha256`. */
  appKey: string;
  /** `sorted` (default): digest of the sorted `k=v&…` join; `timestamp-key`: digest(timestamp + appKey). */
  signRule?: SignRule;
  /** GET (default: `appId` and `params` in the query string) or POST (JSON body). */
  method?: 'GET' | 'POST';
  /** The gateway's accepted clock difference (default 5000); informational on the client. */
  windowMs?: number;
  /** Require the request's safeCode in every reply that must echo it (default true). */
  safeCodeEcho?: boolean;
  /** Sent with every call when set (global token check). */
  token?: string;
  /** Sent with every call when set (global machine-code check). */
  machineCode?: string;
  parseJson?: (text: string) => unknown;
}

interface SortedSignState {
  safeCode: string;
  signature: string;
}

/** Defaults from §2: AES-CBC with IV = key, raw 16-character key, hex, MD5. */
export const SORTED_SIGN_DEFAULTS: LegacyConfig = { cipher: 'AES-CBC', iv: 'key', keyFrom: 'utf8', encoding: 'hex', digest: 'md5' };

/** The gateway's result codes (§2 table). */
export const SORTED_SIGN_CODES = {
  ok: 0,
  appNotFound: 1000,
  paramsInvalid: 1001,
  signatureInvalid: 1002,
  timestampOutOfWindow: 1003,
  replayed: 1004,
} as const;

/** Names the protocol itself puts in `q`; a business param by one of these names is refused. */
/**
 * The protocol refusals, one table for both halves: the RpcError code the client raises, and
 * the gateway's message (which also names its refusal in `stats()`).
 */
export const SORTED_SIGN_REFUSALS: Readonly<Record<number, { error: RpcErrorCode; message: string }>> = {
  [SORTED_SIGN_CODES.appNotFound]: { error: 'KEY_NOT_SET', message: 'app not found' },
  [SORTED_SIGN_CODES.paramsInvalid]: { error: 'BAD_REQUEST', message: 'params invalid' },
  [SORTED_SIGN_CODES.signatureInvalid]: { error: 'SIGNATURE_INVALID', message: 'signature invalid' },
  [SORTED_SIGN_CODES.timestampOutOfWindow]: { error: 'CLOCK_SKEW', message: 'timestamp out of window' },
  [SORTED_SIGN_CODES.replayed]: { error: 'REPLAYED_REQUEST', message: 'request replayed' },
};

export const SORTED_SIGN_RESERVED = new Set(['appId', 'timestamp', 'safeCode', 'signature', 'token', 'machineCode', 'params']);

const SAFE_CODE_MOD = 10n ** 13n;

/**
 * 13 decimal digits from 8 random bytes: a 64-bit number mod 10^13 (bias below 1e-6),
 * zero-padded, so the digits follow from the bytes and tests can reproduce them.
 */
export function safeCodeFromBytes(bytes: Uint8Array): string {
  if (bytes.length < 8) throw new TypeError('safeCode needs 8 random bytes');
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(bytes[i]);
  return (n % SAFE_CODE_MOD).toString().padStart(13, '0');
}

/** The signature of §2 step 2 over `q` without appId (and without signature). */
export function sortedSignSignature(entries: [string, string][], rule: SignRule, appKey: string, digest: Digest): Promise<string> {
  if (rule === 'timestamp-key') {
    const ts = entries.find(([k]) => k === 'timestamp')?.[1] ?? '';
    return sign(ts + appKey, appKey, digest);
  }
  const byKey = new Map(entries);
  const joined = joinRaw(sortedKeys(byKey.keys()).map((k) => [k, byKey.get(k) as string]));
  // Plain digests take no key under `sorted`; only HMAC is keyed (with the appKey).
  return sign(joined, appKey, digest);
}

const HINT_APP_KEY_REQUEST = 'The gateway could not decrypt the request: appKey probably differs from the gateway’s (or cipher, iv, keyFrom, encoding do).';
const HINT_APP_KEY_ANSWER = 'The answer did not decrypt under appKey: appKey probably differs from the gateway’s (or cipher, iv, keyFrom, encoding do).';
const HINT_SIGNATURE = 'The gateway rejected the signature: check signRule and digest (and appKey under hmac-sha256) against the gateway’s settings.';
const HINT_APP = 'The gateway does not know this appId; check appId against the service console.';

function resultCode(given: unknown): number | string | undefined {
  const v = numberText(given);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?[0-9]{1,9}$/.test(v)) return Number(v);
  if (typeof v === 'string' && v) return v;
  return undefined;
}

function epochMs(given: unknown): number | undefined {
  const v = numberText(given);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) return Number(v);
  return undefined;
}

/** @internal The client's option names (the gateway profile accepts them too). */
export const SORTED_SIGN_OPTIONS = ['appId', 'appKey', 'signRule', 'method', 'windowMs', 'safeCodeEcho', 'token', 'machineCode', 'parseJson', ...LEGACY_OPTIONS];

export function sortedSign(options: SortedSignOptions): Profile<undefined, SortedSignState> {
  if (!options || typeof options !== 'object') throw badConfig('sortedSign', 'needs options { appId, appKey }');
  refuseUnknownOptions(options, SORTED_SIGN_OPTIONS, 'sortedSign');
  const config = resolveLegacyOptions(options, SORTED_SIGN_DEFAULTS);
  if ((typeof options.appId !== 'string' && !(typeof options.appId === 'number' && Number.isFinite(options.appId))) || String(options.appId) === '') throw badConfig('appId', 'must be a non-empty string or a finite number');
  const appId = String(options.appId);
  const appKey = checkSecret('appKey', options.appKey, config.keyFrom);
  const signRule = options.signRule ?? 'sorted';
  if (signRule !== 'sorted' && signRule !== 'timestamp-key') throw badConfig('signRule', 'must be "sorted" or "timestamp-key"');
  const method = options.method ?? 'GET';
  if (method !== 'GET' && method !== 'POST') throw badConfig('method', 'must be "GET" or "POST"');
  const windowMs = options.windowMs ?? 5000;
  if (!(typeof windowMs === 'number' && windowMs > 0 && Number.isFinite(windowMs))) throw badConfig('windowMs', 'must be a positive number of milliseconds');
  const safeCodeEcho = options.safeCodeEcho ?? true;
  if (typeof safeCodeEcho !== 'boolean') throw badConfig('safeCodeEcho', 'must be true or false');
  const fixed: [string, string][] = [];
  for (const name of ['token', 'machineCode'] as const) {
    const v = options[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.includes('&')) throw badConfig(name, 'must be a string without "&"');
    fixed.push([name, v]);
  }
  const ownParse = validateParseJson(options.parseJson);
  const cipher: LegacyCipher = legacyCipher(appKey, config);

  async function seal(call: CallInfo, _cred: undefined, ctx: ProfileContext): Promise<Sealed<SortedSignState>> {
    const business = stringParams(call.params);
    for (const [k, v] of business) {
      if (SORTED_SIGN_RESERVED.has(k)) throw new RpcError('BAD_REQUEST', `param "${k}" is reserved by the sorted-sign wire format`, { hint: 'Rename the param.', details: { param: k } });
      // The raw `k=v&…` join has no escaping: such a key or value would change what the gateway reads.
      if (k === '' || k.includes('&') || k.includes('=')) throw new RpcError('BAD_REQUEST', `param name "${k}" cannot be sent by sorted-sign`, { hint: 'Param names must be non-empty and contain neither "&" nor "=".', details: { param: k } });
      if (v.includes('&')) throw new RpcError('BAD_REQUEST', `param "${k}" contains "&", which sorted-sign cannot carry`, { hint: 'Remove "&" from the value or encode it yourself (e.g. base64) before calling.', details: { param: k } });
    }
    const timestamp = String(Math.round(ctx.now()));
    const safeCode = safeCodeFromBytes(ctx.random(8));
    const q: [string, string][] = [['timestamp', timestamp], ['safeCode', safeCode], ...fixed, ...business];
    const signature = await sortedSignSignature(q, signRule, appKey, config.digest);
    q.push(['signature', signature]);
    const params = await cipher.encrypt(joinRaw(q), ctx.random);
    const op = call.operationType;
    const path = op.startsWith('/') ? op : '/' + op;
    const wire: WireRequest =
      method === 'GET'
        ? { path: path + (path.includes('?') ? '&' : '?') + formEncode([['appId', appId], ['params', params]]), method, headers: {}, operationType: op }
        : { path, method, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appId, params }), operationType: op };
    return { wire, state: { safeCode, signature } };
  }

  async function open(res: WireResponse, sealed: Sealed<SortedSignState>, _cred: undefined, ctx: ProfileContext): Promise<unknown> {
    if (res.status !== 200) throw httpStatusError(res);
    const body = res.body.trim();
    const parse = ownParse ?? ctx.parseJson;
    if (body.startsWith('{')) {
      // Plain: only what a gateway says before it could read the request. Never data, never a clock source.
      let plain: { code?: unknown; msg?: unknown };
      try {
        plain = parse(body) as typeof plain;
      } catch {
        throw new RpcError('RESPONSE_UNREADABLE', 'the plain answer is not JSON');
      }
      const code = resultCode(plain?.code);
      if (code === SORTED_SIGN_CODES.appNotFound) throw new RpcError('KEY_NOT_SET', 'the gateway does not know this appId', { gatewayCode: code, hint: HINT_APP });
      if (code === SORTED_SIGN_CODES.paramsInvalid) throw new RpcError('BAD_REQUEST', 'the gateway could not read the request', { gatewayCode: code, hint: HINT_APP_KEY_REQUEST });
      throw new RpcError('RESPONSE_TAMPERED', 'a plain (unencrypted) answer can only say 1000 or 1001; it was discarded', code === undefined ? {} : { gatewayCode: code });
    }
    let text: string;
    try {
      text = await cipher.decrypt(body);
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the answer did not decrypt', { hint: isHtml(body) ? HTML_HINT : HINT_APP_KEY_ANSWER });
    }
    let reply: { code?: unknown; msg?: unknown; data?: unknown; safeCode?: unknown; timestamp?: unknown };
    try {
      reply = parse(text) as typeof reply;
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the decrypted answer is not JSON', { hint: HINT_APP_KEY_ANSWER });
    }
    if (reply === null || typeof reply !== 'object') throw new RpcError('RESPONSE_UNREADABLE', 'the decrypted answer is not a JSON object', { hint: HINT_APP_KEY_ANSWER });
    const code = resultCode(reply.code);
    if (code === undefined)
      throw new RpcError('RESPONSE_UNREADABLE', 'the decrypted answer has no code', { hint: 'The answer decrypted but carries no code; check that the gateway speaks sorted-sign.' });
    // Success and the three protocol refusals must carry this request's safeCode; others only may.
    const mustEcho = code === 0 || code === 1002 || code === 1003 || code === 1004;
    if (safeCodeEcho && (mustEcho || reply.safeCode !== undefined)) {
      if (typeof reply.safeCode !== 'string' || !constantTimeEqualString(reply.safeCode, sealed.state.safeCode))
        throw new RpcError('RESPONSE_REPLAYED', 'the answer does not echo this request’s safeCode; it was discarded', { gatewayCode: code });
    }
    const message = typeof reply.msg === 'string' && reply.msg ? reply.msg : undefined;
    if (code === SORTED_SIGN_CODES.ok) return reply.data;
    const refusal = typeof code === 'number' ? SORTED_SIGN_REFUSALS[code] : undefined;
    const hint = code === SORTED_SIGN_CODES.appNotFound ? HINT_APP : code === SORTED_SIGN_CODES.signatureInvalid ? HINT_SIGNATURE + zeroSignHint(sealed.state.signature) : undefined;
    const serverTime = code === SORTED_SIGN_CODES.timestampOutOfWindow ? epochMs(reply.timestamp) : undefined;
    throw new RpcError(refusal?.error ?? 'GATEWAY', message ?? refusal?.message ?? 'the gateway reported an error', {
      gatewayCode: code,
      ...(hint ? { hint } : {}),
      ...(serverTime !== undefined ? { serverTime } : {}),
    });
  }

  return {
    name: 'sorted-sign',
    credentials: 'static',
    storeKey: `sorted-sign:${appId}`,
    // §2: the server stamped its time about half a round trip before we received it.
    clockReference: 'midpoint',
    queryData: method === 'GET',
    seal,
    open,
  };
}
