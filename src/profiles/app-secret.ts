/**
 * `app-secret` (PROTOCOLS.md §1): an issued {appId, appSecret}, every value encrypted with
 * the appSecret, an MD5-style sign over the sorted keys, then every key and value encrypted
 * again with the publicSecret the app embeds. Byte-compatible with the Java back ends it
 * comes from (`Cipher.getInstance("AES")`, `Collections.sort`, MD5 hex).
 */
import { formEncode, formEncodeBase64, formEncodeComponent, sortedKeys } from '../codec/form.js';
import { asciiViews, utf8Encode } from '../codec/utf8.js';
import { HTML_HINT, ISSUE_PATH_HINT, RpcError, badConfig, isHtml, refuseUnknownOptions, zeroSignHint } from '../errors.js';
import type { CallInfo, Profile, ProfileContext, RandomBytes, Sealed, WireRequest, WireResponse } from '../types.js';
import { LEGACY_OPTIONS, checkSecret, httpStatusError, cipherCache, numberText, resolveLegacyOptions, secretFits, secretTag, sign, stringParams, validateParseJson, type Digest, type LegacyCipher, type LegacyConfig, type LegacyOptions } from './legacy.js';

export interface AppSecretOptions extends LegacyOptions {
  /** The secret the app embeds; seals issuance and the outer layer of every call. */
  publicSecret: string;
  /** Added to the params of every call, issuance included (default `"h5"`; `""` sends none). */
  accessFrom?: string;
  /** Issuance path (default `/secret_key/generate.json`). */
  issuePath?: string;
  /** `load`: ask for a fresh credential every time the client starts (default `never`). */
  renewOnStart?: 'never' | 'load';
  /** JSON parser for responses (default: the client's, which defaults to JSON.parse). */
  parseJson?: (text: string) => unknown;
}

export interface AppSecretCredential {
  appId: string;
  appSecret: string;
}

interface AppSecretState {
  /** Opens the answer: the cipher of the appSecret the request used (its key stays in a closure). */
  answer: LegacyCipher;
  sign: string;
}

export interface AppSecretProfile extends Profile<AppSecretCredential, AppSecretState> {
  readonly renewOnStart: 'never' | 'load';
}

/** Defaults from §1: what the Java back ends of this scheme use. */
export const APP_SECRET_DEFAULTS: LegacyConfig = { cipher: 'AES-ECB', keyFrom: 'utf8', encoding: 'base64', digest: 'md5' };

/** The plain-text error bodies of §1 (HTTP 200, never encrypted). */
export const APP_SECRET_ERRORS = {
  expired: 'secret_pass_time_error',
  sign: 'sign_error',
  param: 'param_error',
} as const;

export const DEFAULT_ISSUE_PATH = '/secret_key/generate.json';

/** Param names the wire format itself uses; a business param by these names would be lost. */
const RESERVED = new Set(['appId', 'sign']);

const HINT_ISSUE_PARAM = 'The gateway could not decrypt the issuance request: publicSecret probably differs from the gateway’s (or cipher, iv, keyFrom, encoding do).';
const HINT_ISSUE_SIGN = 'The gateway rejected the issuance sign: publicSecret or digest probably differs from the gateway’s.';
const HINT_ISSUE_UNREADABLE = 'The issuance answer did not decrypt under publicSecret: publicSecret probably differs from the gateway’s (or cipher, iv, keyFrom, encoding do).';
const HINT_CALL_PARAM = 'The gateway could not decrypt the request: publicSecret probably differs from the gateway’s (or cipher, iv, keyFrom, encoding do).';
const HINT_CALL_SIGN = 'The gateway rejected the sign: digest (or the appSecret it issued) differs between client and gateway.';
const HINT_CALL_UNREADABLE = 'The answer did not decrypt under the issued appSecret: check cipher, iv, keyFrom and encoding against the gateway’s.';

/**
 * The §1 sign, one definition for both halves: every value but `sign`'s, in the sorted order
 * of their keys, joined, then the secret; digested with `digest` (keyed by the secret for HMAC).
 * A value may be given as its UTF-8 bytes (the client has the inner ciphertexts' bytes at
 * hand: encoding them again would cost a pass over every value).
 */
export function appSecretSign(m: ReadonlyMap<string, string | Uint8Array>, secret: string, digest: Digest): Promise<string> {
  const values = sortedKeys([...m.keys()].filter((k) => k !== 'sign')).map((k) => m.get(k)!);
  if (values.every((v) => typeof v === 'string')) return sign(values.join('') + secret, secret, digest);
  return sign([...values.map((v) => (typeof v === 'string' ? utf8Encode(v) : v)), utf8Encode(secret)], secret, digest);
}

/**
 * Seal one request (§1 steps 1–5). `appId` is undefined for issuance, where `secret` is the
 * publicSecret. Encryptions start in a fixed order (inner values in param order, then each
 * outer key and value), so injected GCM IVs reproduce exact bytes.
 */
export async function sealAppSecret(
  path: string,
  params: [string, string][],
  appId: string | undefined,
  secret: string,
  publicSecret: string,
  config: LegacyConfig,
  cipherFor: (secret: string) => { encrypt(text: string | Uint8Array, random?: RandomBytes, memoize?: boolean): Promise<string> },
  random: RandomBytes,
): Promise<{ wire: WireRequest; sign: string }> {
  const inner = cipherFor(secret);
  const outer = cipherFor(publicSecret);
  const m = new Map<string, string | Uint8Array>();
  if (appId !== undefined) m.set('appId', appId);
  // Each layer's encryptions are independent: started together and awaited once (one
  // WebCrypto round trip for all under CBC/GCM, not one per value). Each draws its GCM IV
  // as it starts, so IVs are still drawn in the order above.
  const values = await Promise.all(params.map(([, v]) => inner.encrypt(v, random)));
  // Each inner ciphertext is read twice, by the sign and by the outer layer: encoded to bytes
  // once, for both, into one buffer. (Ciphertext text is ASCII; anything else stays text.)
  const bytes = asciiViews(values);
  params.forEach(([k], i) => m.set(k, bytes ? bytes[i] : values[i]));
  const sign = await appSecretSign(m, secret, config.digest);
  m.set('sign', sign);
  // The outer layer only sees public text (names, appId, inner ciphertexts, the sign): it may
  // memoize, except the sign, which is new on every call and would only push the rest out.
  const entries = [...m];
  const sealed = await Promise.all(entries.flatMap(([k, v]) => [outer.encrypt(k, random, true), outer.encrypt(v, random, k !== 'sign')]));
  const form = entries.map((_, i): [string, string] => [sealed[2 * i], sealed[2 * i + 1]]);
  const wire: WireRequest = {
    path,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: formEncode(form, config.encoding === 'base64' ? formEncodeBase64 : formEncodeComponent),
    operationType: path,
  };
  return { wire, sign };
}

/** @internal The client's option names (the gateway profile accepts them too). */
export const APP_SECRET_OPTIONS = ['publicSecret', 'accessFrom', 'issuePath', 'renewOnStart', 'parseJson', ...LEGACY_OPTIONS];

export function appSecret(options: AppSecretOptions): AppSecretProfile {
  if (!options || typeof options !== 'object') throw badConfig('appSecret', 'needs options { publicSecret }');
  // A misspelt option (renewOnstart, digst) would leave its default without a word.
  refuseUnknownOptions(options, APP_SECRET_OPTIONS, 'appSecret');
  const config = resolveLegacyOptions(options, APP_SECRET_DEFAULTS);
  const publicSecret = checkSecret('publicSecret', options.publicSecret, config.keyFrom);
  const accessFrom = options.accessFrom ?? 'h5';
  if (typeof accessFrom !== 'string') throw badConfig('accessFrom', 'must be a string ("" sends none)');
  const issuePath = options.issuePath ?? DEFAULT_ISSUE_PATH;
  if (typeof issuePath !== 'string' || !issuePath.startsWith('/')) throw badConfig('issuePath', 'must be a path starting with /');
  const renewOnStart = options.renewOnStart ?? 'never';
  if (renewOnStart !== 'never' && renewOnStart !== 'load') throw badConfig('renewOnStart', 'must be "never" or "load"');
  const ownParse = validateParseJson(options.parseJson);
  const cipherFor = cipherCache(config);

  function withAccessFrom(entries: [string, string][]): [string, string][] {
    if (accessFrom && !entries.some(([k]) => k === 'accessFrom')) entries.push(['accessFrom', accessFrom]);
    return entries;
  }

  /** Plain bodies, status, decryption, envelope: the answer's data, or a typed error. */
  async function readAnswer(res: WireResponse, answer: LegacyCipher, sign: string, issuance: boolean, ctx: ProfileContext): Promise<unknown> {
    if (issuance && res.status === 404) throw new RpcError('HTTP_STATUS', `the issuance request to ${issuePath} got HTTP 404`, { status: 404, hint: ISSUE_PATH_HINT });
    if (res.status !== 200) throw httpStatusError(res);
    const body = res.body.trim();
    if (body === APP_SECRET_ERRORS.expired) {
      // At issuance this cannot mean "renew" (that is what we are doing): surface it instead of looping.
      if (issuance) throw new RpcError('GATEWAY', 'the gateway refused the issuance request', { gatewayCode: body });
      throw new RpcError('CREDENTIAL_EXPIRED', 'the gateway says the credential expired', { gatewayCode: body });
    }
    if (body === APP_SECRET_ERRORS.sign)
      throw new RpcError('SIGNATURE_INVALID', issuance ? 'the gateway rejected the issuance sign' : 'the gateway rejected the sign', { gatewayCode: body, hint: (issuance ? HINT_ISSUE_SIGN : HINT_CALL_SIGN) + zeroSignHint(sign) });
    if (body === APP_SECRET_ERRORS.param)
      throw new RpcError('BAD_REQUEST', issuance ? 'the gateway could not read the issuance request' : 'the gateway could not read the request', { gatewayCode: body, hint: issuance ? HINT_ISSUE_PARAM : HINT_CALL_PARAM });
    const hint = isHtml(body) ? HTML_HINT : issuance ? HINT_ISSUE_UNREADABLE : HINT_CALL_UNREADABLE;
    let text: string;
    try {
      text = await answer.decrypt(body);
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the answer did not decrypt', { hint });
    }
    let env: { success?: unknown; data?: unknown; msg?: unknown; code?: unknown };
    try {
      env = (ownParse ?? ctx.parseJson)(text) as typeof env;
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the decrypted answer is not JSON', { hint });
    }
    if (env === null || typeof env !== 'object' || typeof env.success !== 'boolean') throw new RpcError('RESPONSE_UNREADABLE', 'the decrypted answer is not a {success, …} envelope', { hint });
    if (env.success) return env.data;
    const message = typeof env.msg === 'string' && env.msg ? env.msg : 'the gateway reported a failure';
    let gatewayCode = typeof env.code === 'string' || typeof env.code === 'number' ? env.code : undefined;
    // A lossless parser's number (bigint, LosslessNumber): as JSON.parse gives it where that is exact, else its digits.
    const digits = gatewayCode === undefined ? numberText(env.code) : undefined;
    if (typeof digits === 'string') gatewayCode = Number.isSafeInteger(Number(digits)) ? Number(digits) : digits;
    throw new RpcError('GATEWAY', message, gatewayCode === undefined ? {} : { gatewayCode });
  }

  async function issue(ctx: ProfileContext): Promise<{ value: AppSecretCredential }> {
    const { wire, sign } = await sealAppSecret(issuePath, withAccessFrom([]), undefined, publicSecret, publicSecret, config, cipherFor, ctx.random);
    const res = await ctx.send(wire);
    const data = (await readAnswer(res, cipherFor(publicSecret), sign, true, ctx)) as { appId?: unknown; appSecret?: unknown } | null;
    const appId = data?.appId;
    const issued = data?.appSecret;
    if (typeof appId !== 'string' || appId === '' || typeof issued !== 'string')
      throw new RpcError('RESPONSE_UNREADABLE', 'the issuance answer has no appId/appSecret', { hint: 'Check issuePath: it should answer {"data":{"appId","appSecret"},"success":true}.' });
    if (!secretFits(issued, config.keyFrom))
      throw new RpcError('RESPONSE_UNREADABLE', `the issued appSecret gives no AES key under keyFrom "${config.keyFrom}"`, { hint: 'Set keyFrom to what the gateway uses for the secrets it issues.' });
    return { value: { appId, appSecret: issued } };
  }

  /** The business params as sent; kept in the call's memo for its seal (and resends). */
  function checkCall(call: CallInfo): [string, string][] {
    const entries = stringParams(call.params);
    for (const [k] of entries)
      if (RESERVED.has(k)) throw new RpcError('BAD_REQUEST', `param "${k}" is reserved by the app-secret wire format`, { hint: 'Rename the param.', details: { param: k } });
    return (call.memo.entries = entries);
  }

  async function seal(call: CallInfo, cred: AppSecretCredential | undefined, ctx: ProfileContext): Promise<Sealed<AppSecretState>> {
    // No credential yet: the client's policy renews on CREDENTIAL_EXPIRED.
    if (!cred) throw new RpcError('CREDENTIAL_EXPIRED', 'no credential has been issued yet');
    const entries = (call.memo.entries as [string, string][] | undefined) ?? checkCall(call);
    const op = call.operationType;
    const path = op.startsWith('/') ? op : '/' + op;
    const { wire, sign } = await sealAppSecret(path, withAccessFrom(entries), cred.appId, cred.appSecret, publicSecret, config, cipherFor, ctx.random);
    wire.operationType = op;
    return { wire, state: { answer: cipherFor(cred.appSecret), sign } };
  }

  async function open(res: WireResponse, sealed: Sealed<AppSecretState>, _cred: AppSecretCredential | undefined, ctx: ProfileContext): Promise<unknown> {
    return readAnswer(res, sealed.state.answer, sealed.state.sign, false, ctx);
  }

  return {
    name: 'app-secret',
    credentials: 'issued',
    storeKey: `app-secret:${issuePath}:${secretTag(publicSecret)}`,
    renewOnStart,
    issue,
    checkCall,
    seal,
    open,
    describe: (c) => ({ appId: c.appId }),
    validateCredential: (v) => {
      const c = v as Partial<AppSecretCredential> | null;
      // A secret issued under another keyFrom gives no key here: re-issued, not used (every call would fail).
      return typeof c?.appId === 'string' && c.appId.length > 0 && secretFits(c.appSecret, config.keyFrom);
    },
  };
}
