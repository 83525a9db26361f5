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
  NETWORK: 'The network request failed; check connectivity and the base URL.',
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
  /** Server time (epoch ms) carried by an authenticated clock signal; used by the client's clock policy. */
  serverTime?: number;
  /** Extra non-secret details (e.g. the option or file name). */
  details?: Record<string, string | number | boolean>;
}

const RETRYABLE: ReadonlySet<RpcErrorCode> = new Set(['NETWORK', 'TIMEOUT', 'RATE_LIMITED', 'GATEWAY_BUSY']);

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
    this.hint = options.hint ?? HINTS[code];
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

/** A config mistake: fails at createClient / profile construction and names the option. */
export function badConfig(option: string, problem: string): RpcError {
  return new RpcError('BAD_CONFIG', `${option}: ${problem}`, { details: { option } });
}
