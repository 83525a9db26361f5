/**
 * One error type for the whole SDK. `code` is stable (switch on it); `hint` tells a
 * person what to do; `gatewayCode` keeps the gateway's own result code where there is one.
 * No field ever holds a secret, a key or a plaintext body.
 */

export type RpcErrorCode =
  | 'CREDENTIAL_EXPIRED'
  | 'CLOCK_SKEW'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_MISSING'
  | 'TIMESTAMP_MISSING'
  | 'KEY_NOT_SET'
  | 'SIGN_PARAMS_INSUFFICIENT'
  | 'REPLAYED_REQUEST'
  | 'RESPONSE_TAMPERED'
  | 'RESPONSE_REPLAYED'
  | 'RESPONSE_UNREADABLE'
  | 'BAD_REQUEST'
  | 'GATEWAY'
  | 'HTTP_STATUS'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'BAD_CONFIG'
  | 'PACKAGE_SIGNATURE_INVALID'
  | 'RATE_LIMITED'
  | 'GATEWAY_BUSY'
  | 'CRYPTO_UNAVAILABLE';

/** Default remedy per code; a thrower may give a more precise one. */
export const HINTS: Record<RpcErrorCode, string> = {
  CREDENTIAL_EXPIRED: 'The credential expired and one renewal did not help; check that the gateway issues credentials (issue path, clock).',
  CLOCK_SKEW: "The device clock is too far from the gateway's; ask the user to set the date and time automatically.",
  SIGNATURE_INVALID: 'The signature did not verify; check that client and gateway use the same secret, digest and key derivation.',
  SIGNATURE_MISSING: 'The request carried no signature; use a profile that signs, or check the signer.',
  TIMESTAMP_MISSING: 'The request carried no timestamp; check the profile.',
  KEY_NOT_SET: 'The gateway has no key for this appId; register the app (appId/workspace) on the gateway console.',
  SIGN_PARAMS_INSUFFICIENT: 'The gateway lacks parameters to verify the signature; check the headers the profile sends.',
  REPLAYED_REQUEST: 'The gateway saw this request before; a fresh nonce is made per send, so look for a proxy that resends.',
  RESPONSE_TAMPERED: 'The response failed authentication and was discarded; something between the app and the gateway changed it.',
  RESPONSE_REPLAYED: 'The response does not belong to this request (its echo is missing or wrong) and was discarded.',
  RESPONSE_UNREADABLE: 'The response could not be decrypted or parsed; check that the secret and cipher options match the gateway.',
  BAD_REQUEST: 'The request was refused as malformed; check the parameters.',
  GATEWAY: 'The gateway or the operation reported an error; see gatewayCode and message.',
  HTTP_STATUS: 'The server answered with an unexpected HTTP status; check the base URL and path.',
  NETWORK: "The network request failed; check connectivity and the base URL (cross-origin: the gateway's CORS headers).",
  TIMEOUT: 'The call took longer than timeoutMs; try again or raise timeoutMs.',
  ABORTED: 'The call was aborted by its AbortSignal.',
  BAD_CONFIG: 'The client configuration is invalid; the message names the option.',
  PACKAGE_SIGNATURE_INVALID: 'The offline package failed verification; it was not used. Load the online pages instead.',
  RATE_LIMITED: 'Too many requests; wait and try again later.',
  GATEWAY_BUSY: 'The gateway is busy; try again shortly.',
  CRYPTO_UNAVAILABLE: 'This operation needs WebCrypto (crypto.subtle), which the browser hides on insecure (http:, file:) pages; serve the page over https.',
};

export interface RpcErrorOptions {
  hint?: string;
  gatewayCode?: string | number;
  status?: number;
  retryable?: boolean;
  cause?: unknown;
  /** Server time (epoch ms) of a clock signal (authenticated under `modern`; `mgs`'s is the unsigned `Date` header); used by the client's clock policy. */
  serverTime?: number;
  /** Extra non-secret details (e.g. the option or file name). */
  details?: Record<string, string | number | boolean>;
}

const RETRYABLE: ReadonlySet<RpcErrorCode> = new Set(['NETWORK', 'TIMEOUT', 'RATE_LIMITED', 'GATEWAY_BUSY']);

/** HTTP_STATUS's remedy depends on the status: a too-large body or a failing server is not a wrong path. */
function httpStatusHint(status: number | undefined): string {
  if (status === 413) return 'The request body is larger than the gateway accepts (its maxBodyBytes); send less per call.';
  if (status === 415) return 'The gateway reads request bodies as sent: something on the way (a custom fetch, a proxy) compressed this one (Content-Encoding); send it uncompressed.';
  if (status === 414 || status === 431) return "The URL is too long for the server: send large params in a body (sortedSign: method 'POST').";
  if (status !== undefined && status >= 500) return 'The server failed to answer this call; try again later, or check the gateway and anything in front of it.';
  return HINTS.HTTP_STATUS;
}

export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: RpcErrorCode;
  readonly hint: string;
  readonly gatewayCode?: string | number;
  readonly status?: number;
  readonly retryable: boolean;
  readonly serverTime?: number;
  readonly details?: Record<string, string | number | boolean>;

  constructor(code: RpcErrorCode, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint ?? (code === 'HTTP_STATUS' ? httpStatusHint(options.status) : HINTS[code]);
    if (options.gatewayCode !== undefined) this.gatewayCode = options.gatewayCode;
    if (options.status !== undefined) this.status = options.status;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    if (options.serverTime !== undefined) this.serverTime = options.serverTime;
    if (options.details !== undefined) this.details = options.details;
  }

  override toString(): string {
    return `RpcError [${this.code}]: ${this.message}`;
  }

  /** What JSON.stringify shows: the public fields only (never `cause`, which may hold library internals). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      hint: this.hint,
      gatewayCode: this.gatewayCode,
      status: this.status,
      retryable: this.retryable,
      details: this.details,
    };
  }
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError;
}

/** @internal Timers wait at most 2^31-1 ms; a larger delay fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** @internal A delay a timer can wait: up to MAX_TIMER_MS, above 0 (or from 0 with `zero`). */
export const isTimerMs = (v: unknown, zero = false): v is number => typeof v === 'number' && (zero ? v >= 0 : v > 0) && v <= MAX_TIMER_MS;

/** @internal Issuance answered as no issuance endpoint would (a 400/404, a page): the URL is wrong, not the params or keys. */
export const ISSUE_PATH_HINT = 'Issuance reached no issuance endpoint: check baseUrl and issuePath (the same on both sides).';

/** @internal An HTML page (a web server's, an SPA's index.html) where the gateway should answer: no ciphertext or JSON starts with `<`. */
export const isHtml = (body: string): boolean => /^\s*</.test(body);
/** @internal */
export const HTML_HINT = 'An HTML page answered, not the gateway: check baseUrl and the path.';

/**
 * @internal Added to a refused sign's hint when the sign sent began with 0: many Java helpers
 * write hex with `new BigInteger(1, digest).toString(16)`, which drops it, so their back end
 * refuses about 1 call in 16 and only the client sees which ones.
 */
export const zeroSignHint = (sign: string): string =>
  /^0[0-9a-f]*$/.test(sign) ? ' The sign sent began with 0: a Java back end that hex-encodes with new BigInteger(1, digest).toString(16) drops leading zeros and refuses about 1 call in 16; it must pad to full length (String.format("%032x", …) for MD5).' : '';

/** @internal JSON.stringify for params: a BigInt or a cycle is BAD_REQUEST saying so, not "could not be sealed". */
export function paramsJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw new RpcError('BAD_REQUEST', 'params are not JSON (a BigInt or a cycle)', { hint: 'Send big numbers as strings; no cycles.' });
  }
}

/** A config mistake: fails at createClient / profile construction and names the option. */
export function badConfig(option: string, problem: string): RpcError {
  return new RpcError('BAD_CONFIG', `${option}: ${problem}`, { details: { option } });
}

/** @internal An option name `of` does not read is a typo (`timeout`, `dbname`) that would be ignored without a word: BAD_CONFIG naming it. */
export function refuseUnknownOptions(options: object, known: readonly string[], of: string): void {
  for (const name of Object.keys(options)) if (!known.includes(name)) throw badConfig(name, `is not an option of ${of} (they are ${known.join(', ')})`);
}

/**
 * @internal Headers fetch would refuse at every call (a non-Latin-1 value, a line break, a name
 * that is no token): BAD_CONFIG naming `option`, checked by the platform's own rules where it
 * has them (a custom fetch may run where Headers does not exist). Neither name nor value in
 * the message: a header may hold a token.
 */
export function refuseUnsendableHeaders(headers: Record<string, string> | undefined, option: string): void {
  if (typeof Headers !== 'function') return;
  try {
    new Headers(headers);
  } catch {
    throw badConfig(option, 'holds a name or value fetch refuses (names are HTTP tokens; values are Latin-1 with no line breaks)');
  }
}

/** @internal A request whose data is in the URL query, for a body-only transport. */
export function queryDataError(): RpcError {
  return new RpcError('BAD_CONFIG', 'a body-only transport (jsBridgeTransport) cannot carry a request whose data is in the URL query', {
    details: { option: 'transport' },
    hint: "This profile sends its data in the query string (e.g. sortedSign's method: 'GET'): use method: 'POST', or fetchTransport.",
  });
}

// ---------------------------------------------------------------------------------------
// The mobile gateway's result codes (PROTOCOLS.md §3): one row per code, so each is testable on its own.

export interface MgsResultCode {
  /** What the gateway means by it. */
  meaning: string;
  /** The RpcError code it maps to; null for the two codes that are not errors (1000, 8001). */
  error: RpcErrorCode | null;
  retryable: boolean;
  /** What a person should do about it. */
  hint: string;
}

const BACKEND_HINT = 'The back-end service behind the gateway failed; see the message, and check the service and its gateway API configuration.';
const FIELD_HINT = 'A field the gateway needs is missing or invalid; check appId, workspaceId, did and the headers the profile sends.';

function row(meaning: string, error: RpcErrorCode | null, hint: string, retryable = false): MgsResultCode {
  return { meaning, error, retryable, hint };
}

function rows(from: number, to: number, meaning: (code: number) => string, error: RpcErrorCode, hint: string): Record<number, MgsResultCode> {
  const out: Record<number, MgsResultCode> = {};
  for (let c = from; c <= to; c++) out[c] = row(meaning(c), error, hint);
  return out;
}

const BACKEND_6000: Record<number, string> = {
  6000: 'back-end service not found',
  6001: 'back-end method not found',
  6002: 'back-end method arguments invalid',
  6003: 'back-end could not read the request JSON',
  6004: 'back-end answer is not valid JSON',
  6005: 'back-end service error',
};

/** Every result code of PROTOCOLS.md §3 (ranges expanded), keyed by the numeric code. */
// Built by a named function called once, PURE: a bundle without mgs drops the whole table. (A PURE
// call keeps its arguments' calls, and the library build flattened an arrow IIFE into exactly that.)
export const MGS_RESULT_CODES: Readonly<Record<number, MgsResultCode>> = /*#__PURE__*/ mgsResultCodes();

function mgsResultCodes(): Readonly<Record<number, MgsResultCode>> {
  return Object.freeze({
  1000: row('success', null, ''),
  1001: row('access denied', 'GATEWAY', 'The gateway denied access to this operation; check the API group permissions on the gateway console.'),
  1002: row('rate limited', 'GATEWAY', 'The gateway is limiting requests; try again later.', true),
  // Not in PROTOCOLS.md §3; the vendor's table has it (API authorization enabled on the gateway).
  1005: row('unauthorized', 'GATEWAY', "The gateway's API authorization check failed for this call; check the API's authorization settings on the gateway."),
  2000: row('login expired', 'GATEWAY', 'The session expired; sign in again.'),
  3000: row('operation unknown or closed', 'GATEWAY', 'The gateway does not know this operationType or it is closed; check its name and that the API is published.'),
  3001: row('empty request', 'GATEWAY', 'The request body was empty; pass the parameters.'),
  3002: row('bad request format', 'GATEWAY', 'The request body is not in the format the gateway expects ([{"_requestBody": "<JSON>"}]).'),
  3003: row('gateway could not decrypt', 'GATEWAY', 'The gateway could not decrypt the request; check the encryption keys on both sides.'),
  4001: row('back end timeout', 'GATEWAY', 'The back end did not answer in time; try again later.', true),
  4002: row('back end error', 'GATEWAY', BACKEND_HINT),
  4003: row('back end unreachable', 'GATEWAY', 'The gateway cannot reach the back end; check the service address configured on the gateway.'),
  5000: row('unknown gateway error', 'GATEWAY', 'The gateway failed for an unknown reason; see Mgw-TraceId in the details and ask its operator.'),
  ...Object.fromEntries(Object.entries(BACKEND_6000).map(([c, m]) => [c, row(m, 'GATEWAY', BACKEND_HINT)])),
  6666: row('business error', 'GATEWAY', 'The operation refused the request; see the message.'),
  7000: row('no key for this appId', 'KEY_NOT_SET', 'The gateway has no signing key for this appId/workspaceId; register the app on the gateway console.'),
  7001: row('insufficient parameters for verification', 'SIGN_PARAMS_INSUFFICIENT', 'The gateway lacks AppId, Operation-Type or another field it needs to verify the signature.'),
  7002: row('signature verification failed', 'SIGNATURE_INVALID', 'The signature did not verify; check that the page and the gateway use the same secret and digest.'),
  7003: row('timestamp outside the window', 'CLOCK_SKEW', "The device clock is too far from the gateway's; ask the user to set the date and time automatically. (A gateway on another origin must list Date in Access-Control-Expose-Headers, else the page cannot read the server's time to correct its clock and resend.)"),
  ...rows(7004, 7013, (c) => `missing or invalid field (${c})`, 'GATEWAY', FIELD_HINT),
  7007: row('Ts missing', 'TIMESTAMP_MISSING', 'The request carried no Ts header; check the profile and any proxy that strips headers.'),
  7014: row('Sign missing', 'SIGNATURE_MISSING', 'The request carried no Sign header: the signer produced nothing (inside a container, check its security image).'),
  7015: row('signature invalid', 'SIGNATURE_INVALID', 'The signature is malformed; check the signer and signType.'),
  ...rows(7016, 7019, (c) => `missing or invalid field (${c})`, 'GATEWAY', FIELD_HINT),
  8001: row('not modified', null, ''),
  });
}

export const MGS_SUCCESS = 1000;
export const MGS_NOT_MODIFIED = 8001;

export interface MgsErrorInfo {
  /** The gateway's message (`Memo` header, or the container's errorMessage). */
  memo?: string;
  /** User-facing text (`Tips`, already URL-decoded). */
  tips?: string;
  traceId?: string;
  /** Server time (epoch ms), for 7003. */
  serverTime?: number;
  /** Added to the table's hint, not to `tips` (a 7002's zero-sign note). */
  hintSuffix?: string;
}

/** @internal `Tips` is URL-encoded (Java's URLEncoder writes spaces as `+`); undecodable text is kept as is. */
export function decodeTips(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** The RpcError for a gateway result code (a code outside the table is GATEWAY, code kept). */
export function mgsResultError(resultCode: number, info: MgsErrorInfo = {}): RpcError {
  const known = MGS_RESULT_CODES[resultCode];
  const code: RpcErrorCode = known?.error ?? 'GATEWAY';
  const meaning = known?.meaning ?? 'gateway error';
  const details: Record<string, string> = {};
  if (info.memo) details.memo = info.memo;
  if (info.tips) details.tips = info.tips;
  if (info.traceId) details.traceId = info.traceId;
  return new RpcError(code, `mgs ${resultCode} ${meaning}${info.memo ? `: ${info.memo}` : ''}`, {
    gatewayCode: resultCode,
    retryable: known?.retryable ?? false,
    // Tips is the gateway's own user-facing text: the best thing to show a person.
    hint: info.tips || (known?.hint || MGS_RESULT_CODES[5000].hint) + (info.hintSuffix ?? ''),
    ...(Object.keys(details).length ? { details } : {}),
    ...(code === 'CLOCK_SKEW' && info.serverTime !== undefined ? { serverTime: info.serverTime } : {}),
  });
}

/** Why a call's signal aborted: the client aborts with an RpcError (TIMEOUT or ABORTED) as the reason, passed on as is. */
export function abortReason(signal: AbortSignal | undefined): RpcError | undefined {
  if (!signal?.aborted) return undefined;
  return signal.reason instanceof RpcError ? signal.reason : new RpcError('ABORTED', 'the call was aborted');
}
