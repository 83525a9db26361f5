/**
 * `modern` (PROTOCOLS.md §4): ECDH P-256 issuance signed by a pinned gateway key,
 * AES-256-GCM both ways, the request's nonce as the response's AAD, request ids that make
 * resends run an operation at most once. The exact wire format is in docs/modern-protocol.md.
 */
import { fromBase64UrlStrict, toBase64Url } from '../codec/base64.js';
import { utf8Decode, utf8Encode } from '../codec/utf8.js';
import { gcmEncrypt, gcmOpen, importGcmKey, type GcmKey } from '../crypto/aes.js';
import { ecdhDerive, ecdsaVerify, ecVerifyKey, generateEcdh, type EcdhPair, type EcPublicKeyInput, type EcVerifyKey } from '../crypto/ec.js';
import { hkdfSha256 } from '../crypto/kdf.js';
import { ISSUE_PATH_HINT, RpcError, badConfig, paramsJson, refuseUnknownOptions } from '../errors.js';
import type { CallInfo, Profile, ProfileContext, Sealed, WireResponse } from '../types.js';
import { subtle } from '../crypto/provider.js';

export interface ModernOptions {
  /** The gateway's long-term ECDSA P-256 public keys by key id (JWK, SPKI base64 or PEM). */
  serverKeys: Record<string, EcPublicKeyInput>;
  /** Issuance path (default `/issue`). */
  issuePath?: string;
  /** Largest clock correction accepted, in ms (default 24 h). */
  maxClockCorrectionMs?: number;
  /** @internal Tests: a fixed ephemeral key pair, to reproduce the vectors. */
  ephemeral?: () => Promise<EcdhPair>;
}

/** What the store keeps: keys are non-extractable CryptoKeys (raw bytes only on the no-subtle path). */
export interface ModernCredential {
  appId: string;
  expiresAt: number;
  reqKey: GcmKey;
  resKey: GcmKey;
}

interface ModernState {
  appId: string;
  nonce: string;
}

export const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const DIGITS = /^[0-9]{1,16}$/;
/** An issued appId: 16 bytes, b64u (what issue() accepts). */
const APP_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** An operationType the x-op header carries as it is: printable ASCII, no space at either end. */
const OP_PATTERN = /^[!-~](?:[ -~]*[!-~])?$/;

/** A stored CryptoKey as importSessionKeys makes it: AES-256-GCM, for both directions. */
function isSessionKey(k: CryptoKey): boolean {
  return k.algorithm.name === 'AES-GCM' && (k.algorithm as AesKeyAlgorithm).length === 256 && k.usages.includes('encrypt') && k.usages.includes('decrypt');
}
const te = (s: string) => utf8Encode(s);

/** The exact text the gateway signs at issuance. */
export function issuanceMessage(f: { kid: string; appId: string; expiresAt: string; serverTime: string; clientKey: string; serverKey: string; salt: string }): string {
  return ['sealed-rpc/v1 issue', f.kid, f.appId, f.expiresAt, f.serverTime, f.clientKey, f.serverKey, f.salt].join('\n');
}

/** The request AAD: `appId \n op \n ts \n nonce`, each as its wire text. */
export function requestAad(appId: string, op: string, ts: string, nonce: string): Uint8Array {
  return te(`${appId}\n${op}\n${ts}\n${nonce}`);
}

/** reqKey and resKey from the ECDH secret (HKDF-SHA256, salt = the 32 salt bytes). */
export async function deriveSessionKeys(z: Uint8Array, salt: Uint8Array, appId: string): Promise<{ reqKey: Uint8Array; resKey: Uint8Array }> {
  const [reqKey, resKey] = await Promise.all([hkdfSha256(z, salt, te('sealed-rpc/v1 req ' + appId), 32), hkdfSha256(z, salt, te('sealed-rpc/v1 res ' + appId), 32)]);
  return { reqKey, resKey };
}

/**
 * reqKey and resKey as usable keys (non-extractable CryptoKeys where WebCrypto is there).
 * The raw key bytes and `z` are zeroed before this returns.
 */
export async function importSessionKeys(z: Uint8Array, salt: Uint8Array, appId: string): Promise<{ reqKey: GcmKey; resKey: GcmKey }> {
  try {
    const raw = await deriveSessionKeys(z, salt, appId);
    try {
      const [reqKey, resKey] = await Promise.all([importGcmKey(raw.reqKey), importGcmKey(raw.resKey)]);
      return { reqKey, resKey };
    } finally {
      raw.reqKey.fill(0);
      raw.resKey.fill(0);
    }
  } finally {
    z.fill(0);
  }
}

/**
 * RESPONSE_TAMPERED's hint names the gateway-side causes too: a gateway written from the doc in
 * another language lands here when its layout, key or AAD is off, and "changed in transit"
 * alone sends its developers looking at the network.
 */
const TAMPERED_HINT =
  'The response failed authentication and was discarded. Either something between the app and the gateway changed it, or the gateway seals otherwise than docs/modern-protocol.md §6.1: HTTP 200, text b64u(iv 12 bytes ‖ ciphertext ‖ tag 16 bytes) under resKey (not reqKey), AAD = this request\'s x-nonce text.';

function tampered(what: string, hint = TAMPERED_HINT): RpcError {
  return new RpcError('RESPONSE_TAMPERED', `the response ${what}; it was discarded`, { hint });
}

/** Why a text is not strict base64url, in terms of the usual encoder mistakes (no value is quoted). */
function b64uProblem(s: string): string {
  if (/^\s*"/.test(s)) return 'is a JSON string (in quotes), not the bare base64url text: send the text itself (text/plain), not JSON-encoded';
  if (s.includes('=')) return "has '=' padding: base64url here is without padding (Java: Base64.getUrlEncoder().withoutPadding())";
  if (/[+/]/.test(s)) return "uses the standard base64 alphabet ('+', '/'): base64url uses '-' and '_' (Java: Base64.getUrlEncoder().withoutPadding())";
  if (/\s/.test(s)) return 'has whitespace or line breaks inside (a MIME encoder): base64url on one line';
  if (/[^A-Za-z0-9_-]/.test(s)) return 'has characters outside the base64url alphabet';
  return 'is not canonical base64url (its length, or non-zero unused bits in the last character)';
}

/** The issuance field that is malformed, and what the doc (§3.3) wants instead. */
function issuanceFieldProblem(f: Record<string, unknown>): { field: string; hint: string } | undefined {
  const want: [string, number, string][] = [
    ['serverKey', 65, "the gateway's ephemeral point, 0x04 ‖ X ‖ Y with each coordinate exactly 32 bytes (Java: BigInteger.toByteArray() adds a sign byte or drops leading zeros: left-pad or trim to 32)"],
    ['salt', 32, 'the 32 raw salt bytes'],
    ['sig', 64, 'the IEEE P1363 signature r ‖ s, 64 bytes, not DER (Java: Signature.getInstance("SHA256withECDSAinP1363Format"))'],
    ['appId', 16, '16 random bytes'],
  ];
  for (const [field, len, what] of want) {
    const v = f?.[field];
    if (typeof v !== 'string') return { field, hint: `The issuance answer's ${field} must be a JSON string: b64u of ${what}.` };
    let raw: Uint8Array;
    try {
      raw = fromBase64UrlStrict(v);
    } catch {
      return { field, hint: `The issuance answer's ${field} ${b64uProblem(v)}.` };
    }
    if (raw.length !== len) {
      const der = field === 'sig' && raw.length >= 8 && raw.length <= 72 && raw[0] === 0x30 && raw[1] === raw.length - 2;
      return { field, hint: `The issuance answer's ${field} is ${raw.length} bytes${der ? ' of DER' : ''}; it must be ${len}: ${what}.` };
    }
  }
  for (const field of ['expiresAt', 'serverTime']) {
    const v = f?.[field];
    if (typeof v !== 'string' || !DIGITS.test(v))
      return { field, hint: `The issuance answer's ${field} must be a JSON string of 1–16 decimal digits (epoch ms, e.g. "1700000000000")${typeof v === 'number' ? ', not a JSON number (Jackson writes a long as a number: send it as a String)' : ''}.` };
  }
  return undefined;
}

/** The plain (unauthenticated) error answers of steps 1–3, 429 and 503; never a clock source. */
const PLAIN_ERRORS: Record<number, { error: string; code: RpcError['code'] }> = {
  400: { error: 'BAD_REQUEST', code: 'BAD_REQUEST' },
  401: { error: 'CREDENTIAL_EXPIRED', code: 'CREDENTIAL_EXPIRED' },
  403: { error: 'SIGNATURE_INVALID', code: 'SIGNATURE_INVALID' },
  429: { error: 'RATE_LIMITED', code: 'RATE_LIMITED' },
  503: { error: 'GATEWAY_BUSY', code: 'GATEWAY_BUSY' },
};

/** The protocol codes a gateway may only send sealed (§6.1). */
const SEALED_ONLY: ReadonlySet<string> = new Set(['CLOCK_SKEW', 'REPLAYED_REQUEST', 'REQUEST_ID_REUSED']);

/** A call's 403: the gateway could not open the request (the issuance itself verified). */
const CALL_403_HINT =
  'The gateway could not authenticate the request. If the request was not changed on the way, the gateway derives or uses the keys otherwise than docs/modern-protocol.md: HKDF-SHA256 with salt = the 32 raw salt bytes (not their b64u text), info "sealed-rpc/v1 req " + appId; reqKey opens requests; AAD = x-app-id \\n x-op \\n x-ts \\n x-nonce as sent.';

function plainError(res: WireResponse): RpcError {
  let error: unknown;
  try {
    error = (JSON.parse(res.body) as { error?: unknown })?.error;
  } catch {
    // not JSON: HTTP_STATUS below
  }
  const known = PLAIN_ERRORS[res.status];
  if (res.status === 404 && error === 'NOT_FOUND')
    return new RpcError('HTTP_STATUS', 'the gateway has no such operation (HTTP 404)', { status: 404, gatewayCode: error, hint: 'Check operationType against the names the gateway registered.' });
  if (known && error === known.error)
    return new RpcError(known.code, `the gateway answered ${res.status} ${known.error}`, { status: res.status, gatewayCode: known.error, ...(res.status === 403 ? { hint: CALL_403_HINT } : {}) });
  // A sealed-only signal sent plain is not trusted (anyone can write it); say so rather than "check the URL".
  if (typeof error === 'string' && SEALED_ONLY.has(error))
    return new RpcError('HTTP_STATUS', `the gateway answered HTTP ${res.status} ${error} as a plain (unauthenticated) answer`, {
      status: res.status,
      gatewayCode: error,
      hint: `${error} counts only sealed, in an HTTP 200 envelope {"ok":false,"error":{"code":"${error}",…}} (docs/modern-protocol.md §5, §6.1); a plain one is unauthenticated and ignored, so the clock is not corrected and nothing is resent. Fix the gateway.`,
    });
  return new RpcError('HTTP_STATUS', `the gateway answered HTTP ${res.status}`, { status: res.status, ...(typeof error === 'string' ? { gatewayCode: error } : {}) });
}

/** @internal The client's option names (the gateway profile accepts them too). */
export const MODERN_OPTIONS = ['serverKeys', 'issuePath', 'maxClockCorrectionMs', 'ephemeral'];

export function modern(options: ModernOptions): Profile<ModernCredential, ModernState> {
  if (!options || typeof options !== 'object') throw badConfig('modern', 'needs options { serverKeys }');
  // A misspelt bound (maxClockCorrectionMS) would leave the 24 h default without a word.
  refuseUnknownOptions(options, MODERN_OPTIONS, 'modern');
  const keys = new Map<string, EcVerifyKey>();
  if (!options.serverKeys || typeof options.serverKeys !== 'object' || Object.keys(options.serverKeys).length === 0) throw badConfig('serverKeys', 'give at least one gateway public key by kid');
  for (const [kid, k] of Object.entries(options.serverKeys)) {
    if (!KID_PATTERN.test(kid)) throw badConfig(`serverKeys.${kid}`, 'a kid is 1–64 characters of A-Z a-z 0-9 . _ -');
    try {
      keys.set(kid, ecVerifyKey(k));
    } catch (e) {
      throw badConfig(`serverKeys.${kid}`, `not a P-256 public key (${(e as Error).message})`);
    }
  }
  const issuePath = options.issuePath ?? '/issue';
  if (typeof issuePath !== 'string' || !issuePath.startsWith('/')) throw badConfig('issuePath', 'must be a path starting with /');
  const maxClockCorrectionMs = options.maxClockCorrectionMs ?? 86_400_000;
  if (!(typeof maxClockCorrectionMs === 'number' && maxClockCorrectionMs > 0 && Number.isFinite(maxClockCorrectionMs))) throw badConfig('maxClockCorrectionMs', 'must be a positive number of milliseconds');
  const ephemeral = options.ephemeral ?? generateEcdh;

  async function issue(ctx: ProfileContext) {
    const pair = await ephemeral();
    const clientKey = toBase64Url(pair.publicRaw);
    const res = await ctx.send({ path: issuePath, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey }), operationType: issuePath });
    // The issuance body is the SDK's own: a 400 or 404 means it reached no issuance endpoint, not bad params.
    if (res.status === 400 || res.status === 404)
      throw new RpcError('HTTP_STATUS', `the issuance request to ${issuePath} got HTTP ${res.status}`, { status: res.status, gatewayCode: plainError(res).gatewayCode, hint: ISSUE_PATH_HINT });
    if (res.status !== 200) throw plainError(res);
    let f: Record<string, unknown>;
    try {
      f = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the issuance answer is not JSON', { hint: ISSUE_PATH_HINT });
    }
    const str = (k: string) => (typeof f?.[k] === 'string' ? (f[k] as string) : '');
    const kid = str('kid');
    const appId = str('appId');
    const expiresAt = str('expiresAt');
    const serverTime = str('serverTime');
    const serverKey = str('serverKey');
    const salt = str('salt');
    const sig = str('sig');
    const key = keys.get(kid);
    if (!key) throw new RpcError('SIGNATURE_INVALID', 'the issuance is signed with an unknown key id', { hint: 'Add the gateway key id to serverKeys (key rotation), or check the gateway.' });
    // Malformed: name the field and the usual encoder mistake (DER, a sign byte, a JSON number...).
    const problem = issuanceFieldProblem(f);
    if (problem) throw new RpcError('SIGNATURE_INVALID', 'the issuance answer is malformed', { hint: problem.hint, details: { field: problem.field } });
    const serverKeyRaw = fromBase64UrlStrict(serverKey);
    const saltRaw = fromBase64UrlStrict(salt);
    const sigRaw = fromBase64UrlStrict(sig);
    const message = issuanceMessage({ kid, appId, expiresAt, serverTime, clientKey, serverKey, salt });
    // A wrong key and a wrong message look the same here: name both.
    if (!(await ecdsaVerify(key, te(message), sigRaw)))
      throw new RpcError('SIGNATURE_INVALID', 'the issuance signature does not verify; nothing was stored', {
        hint: `Either serverKeys.${kid} is not the gateway's signing key (pin its current public key), or the gateway signs other bytes than docs/modern-protocol.md §3.2 step 7: exactly the eight lines "sealed-rpc/v1 issue", kid, appId, expiresAt, serverTime, clientKey (as the client sent it), serverKey, salt (as answered), joined by "\\n", UTF-8, no trailing newline.`,
      });
    let z: Uint8Array;
    try {
      z = await ecdhDerive(pair, serverKeyRaw);
    } catch {
      throw new RpcError('SIGNATURE_INVALID', "the gateway's ephemeral key is not a valid P-256 point");
    }
    const { reqKey, resKey } = await importSessionKeys(z, saltRaw, appId);
    return { value: { appId, expiresAt: Number(expiresAt), reqKey, resKey }, expiresAt: Number(expiresAt), serverTime: Number(serverTime) };
  }

  function checkCall(call: CallInfo): void {
    // Sent as the x-op header, which fetch trims and refuses with control characters: the AAD would sign another text.
    if (!OP_PATTERN.test(call.operationType))
      throw new RpcError('BAD_REQUEST', 'operationType must be printable ASCII without spaces at either end', { hint: 'Use the operation path the gateway registered, such as /user/get.' });
  }

  /** (The client ran checkCall on this call first.) */
  async function seal(call: CallInfo, cred: ModernCredential | undefined, ctx: ProfileContext): Promise<Sealed<ModernState>> {
    if (!cred) throw new RpcError('CREDENTIAL_EXPIRED', 'no credential');
    const op = call.operationType;
    // One request id per call(), kept across its resends: the gateway runs it at most once.
    // (The client checked idempotencyKey, 1 to 128 characters, before anything was sent.)
    const id = (call.memo.id as string | undefined) ?? call.options.idempotencyKey ?? toBase64Url(ctx.random(16));
    call.memo.id = id;
    const ts = String(Math.round(ctx.now()));
    const nonce = toBase64Url(ctx.random(16));
    const iv = ctx.random(12);
    const plaintext = te(paramsJson({ id, params: call.params }));
    // base64url(iv || ct) without the copy: 12 bytes are whole base64 groups, so the two encodings join.
    const body = toBase64Url(iv) + toBase64Url(await gcmEncrypt(cred.reqKey, plaintext, requestAad(cred.appId, op, ts, nonce), iv));
    return {
      wire: {
        path: op.startsWith('/') ? op : '/' + op,
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'x-app-id': cred.appId, 'x-op': op, 'x-ts': ts, 'x-nonce': nonce },
        body,
        operationType: op,
      },
      state: { appId: cred.appId, nonce },
    };
  }

  async function open(res: WireResponse, sealed: Sealed<ModernState>, cred: ModernCredential | undefined, ctx: ProfileContext): Promise<unknown> {
    if (res.status !== 200) throw plainError(res);
    if (!cred) throw tampered('arrived without a credential');
    let bytes: Uint8Array;
    try {
      bytes = fromBase64UrlStrict(res.body.trim());
    } catch {
      throw tampered('is not base64url', `The gateway's answer ${b64uProblem(res.body.trim())} (docs/modern-protocol.md §1, §6.1). If the gateway writes it right, something on the way changed it.`);
    }
    let text: string;
    try {
      text = utf8Decode(await gcmOpen(cred.resKey, bytes, te(sealed.state.nonce)));
    } catch {
      throw tampered('does not authenticate under this request');
    }
    let env: { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown; serverTime?: unknown } };
    try {
      env = ctx.parseJson(text) as typeof env;
    } catch {
      throw new RpcError('RESPONSE_UNREADABLE', 'the authenticated envelope is not JSON');
    }
    if (env?.ok === true) return env.data;
    if (env?.ok !== false || typeof env.error?.code !== 'string') throw new RpcError('RESPONSE_UNREADABLE', 'the authenticated envelope has no ok/error');
    const code = env.error.code;
    const message = typeof env.error.message === 'string' ? env.error.message : code;
    const st = typeof env.error.serverTime === 'string' && DIGITS.test(env.error.serverTime) ? Number(env.error.serverTime) : undefined;
    if (code === 'CLOCK_SKEW') throw new RpcError('CLOCK_SKEW', 'the gateway says this device clock is off', { gatewayCode: code, ...(st !== undefined ? { serverTime: st } : {}) });
    if (code === 'REPLAYED_REQUEST') throw new RpcError('REPLAYED_REQUEST', 'the gateway saw this request before', { gatewayCode: code });
    if (code === 'REQUEST_ID_REUSED') throw new RpcError('BAD_REQUEST', 'this request id was used with other parameters', { gatewayCode: code, hint: 'Use a new idempotencyKey for a different request.' });
    throw new RpcError('GATEWAY', message, { gatewayCode: code });
  }

  return {
    name: 'modern',
    credentials: 'issued',
    // Each kid with its key's first bytes: a build that pins another key under the same kid never
    // takes up a credential the old key verified (a leaked key's forgeries end with the key).
    storeKey: `modern:${[...keys].sort(([a], [b]) => (a < b ? -1 : 1)).map(([kid, k]) => `${kid}=${toBase64Url(k.raw.subarray(1, 9))}`).join(',')}:${issuePath}`,
    maxClockCorrectionMs,
    issue,
    checkCall,
    seal,
    open,
    describe: (c) => ({ appId: c.appId }),
    validateCredential: (v) => {
      const c = v as Partial<ModernCredential> | null;
      // A stored CryptoKey is no use on a page without crypto.subtle: not valid, so a new credential is issued for this page.
      // (And only an AES-256-GCM key for both directions, as issue() makes.)
      const isKey = (k: unknown) =>
        (typeof CryptoKey !== 'undefined' && k instanceof CryptoKey && subtle() !== undefined && isSessionKey(k)) || (k instanceof Uint8Array && k.length === 32);
      return typeof c?.appId === 'string' && APP_ID_PATTERN.test(c.appId) && typeof c.expiresAt === 'number' && isKey(c.reqKey) && isKey(c.resKey);
    },
  };
}
