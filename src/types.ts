/**
 * The interfaces between layers. Profiles (dialects) know nothing of transports or
 * storage; transports know nothing of dialects; `client.ts` joins them.
 */

export type Params = Record<string, unknown>;

/** A wire request as a profile builds it: relative to the transport's base URL. */
export interface WireRequest {
  /** Path (and query) appended to the transport's base URL, e.g. `/api/echo?x=1`. */
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** The RPC operation this carries (for transports that route by name, e.g. the JSBridge). */
  operationType: string;
}

export interface WireResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface SendOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Carries one wire request to the gateway and brings back its raw answer. */
export interface Transport {
  /** Distinguishes gateways in the default credential store key (e.g. fetchTransport's base URL). */
  readonly id?: string;
  /** `true`: only a body reaches the gateway (jsBridgeTransport: the rpc JSAPI), so a `queryData` profile cannot use it. */
  readonly bodyOnly?: boolean;
  send(req: WireRequest, options: SendOptions): Promise<WireResponse>;
}

/** Local wall clock in epoch ms (the client adds its own correction offset). */
export interface Clock {
  now(): number;
}

/** Randomness source; injectable so tests can reproduce exact bytes. */
export type RandomBytes = (n: number) => Uint8Array;

/** What a profile may use while sealing, opening or issuing. */
export interface ProfileContext {
  /** Corrected time (local clock + offset), epoch ms. */
  now(): number;
  random: RandomBytes;
  parseJson: (text: string) => unknown;
  /** Send a wire request through the client's transport (issuance uses it). */
  send(req: WireRequest): Promise<WireResponse>;
}

/** A sealed request plus what `open` needs to check its answer (nonce, echo, keys). */
export interface Sealed<S = unknown> {
  wire: WireRequest;
  state: S;
}

/** Issued credential as kept by the store; `version` increases with every issuance. */
export interface StoredCredential<C = unknown> {
  version: number;
  value: C;
  /** Expiry in corrected epoch ms, if the dialect knows one. */
  expiresAt?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** `modern`: a caller-chosen request id that makes its own retries safe. */
  idempotencyKey?: string;
}

/** Per-call information a profile may keep across resends of one `call()`. */
export interface CallInfo {
  operationType: string;
  /** An object; a string only where the profile says `textParams`. */
  params: Params | string;
  options: CallOptions;
  /** Scratch space kept across the resends of one call (e.g. `modern`'s request id). */
  memo: Record<string, unknown>;
}

/** What a dialect's `issue` hands back; the client stores `value` and `expiresAt`. */
export interface IssueResult<C = unknown> {
  value: C;
  /** Expiry in corrected epoch ms, if the dialect knows one. */
  expiresAt?: number;
  /** An authenticated server time (epoch ms) the client may correct its clock from. */
  serverTime?: number;
}

/**
 * A wire dialect. `seal` and `open` are the two halves of one call; `issue` exists
 * for dialects whose credentials the gateway hands out.
 */
export interface Profile<C = unknown, S = unknown> {
  readonly name: string;
  /** `issued`: the client's credential manager obtains and stores credentials through `issue`. */
  readonly credentials: 'issued' | 'static';
  /** Issue fresh credentials. Throws RpcError. The result is stored by the client. */
  issue?(ctx: ProfileContext): Promise<IssueResult<C>>;
  /**
   * Refuses (BAD_REQUEST) a call this dialect could never send, before a credential is fetched
   * or issued for it. The client runs it once per `call()`; what it works out may go in `call.memo`.
   */
  checkCall?(call: CallInfo): void;
  seal(call: CallInfo, credential: C | undefined, ctx: ProfileContext): Promise<Sealed<S>>;
  /** Returns business data, or throws RpcError (CREDENTIAL_EXPIRED / CLOCK_SKEW drive the client's policy). */
  open(res: WireResponse, sealed: Sealed<S>, credential: C | undefined, ctx: ProfileContext): Promise<unknown>;
  /** A stable key for the credential store (distinct per gateway configuration). */
  readonly storeKey: string;
  /** Is a stored value a usable credential of this dialect? A record that fails is re-issued, not used. */
  validateCredential?(value: unknown): boolean;
  /** Describe a stored credential for the inspector/events, with no secret. */
  describe?(credential: C): Record<string, string>;
  /** Default max clock correction (ms). */
  readonly maxClockCorrectionMs?: number;
  /**
   * Which local instant a server time is compared with when correcting the clock:
   * `receive` (default; `modern`'s rule) or `midpoint` of the round trip (`sorted-sign`'s).
   */
  readonly clockReference?: 'receive' | 'midpoint';
  /**
   * `true`: `call()` also takes `params` as a string, which `seal` sends byte for byte
   * (`mgs`: the `_requestBody`, which may be another dialect's sealed payload, PROTOCOLS §3).
   */
  readonly textParams?: boolean;
  /** `load`: the client issues a fresh credential as soon as it is created (some legacy back ends want one per page load). */
  readonly renewOnStart?: 'never' | 'load';
  /** `true`: requests carry their data in the URL query (sortedSign's GET), which a `bodyOnly` transport cannot send. */
  readonly queryData?: boolean;
}

/** Persistence of issued credentials (IndexedDB by default). */
export interface CredentialStore {
  get<C>(key: string): Promise<StoredCredential<C> | undefined>;
  set<C>(key: string, value: StoredCredential<C>): Promise<void>;
  delete(key: string): Promise<void>;
  /** Human-readable kind, for events (`indexeddb`, `memory`). */
  readonly kind: string;
}
