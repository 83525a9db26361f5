/**
 * createClient: the pipeline of one call and its retry policy. The only module that knows
 * the whole path: credentials -> profile.seal -> transport.send -> profile.open -> policy.
 */
import { MAX_TIMER_MS, RpcError, badConfig, isRpcError, isTimerMs, queryDataError, refuseUnknownOptions } from './errors.js';
import { ClientEvents, callContained, type ClientEventMap } from './events.js';
import { CredentialManager } from './credentials/manager.js';
import { indexedDbStore, withMemoryFallback } from './credentials/store.js';
import { checkedRandom, randomBytes } from './crypto/provider.js';
import type { CallInfo, CallOptions, Clock, CredentialStore, Params, Profile, ProfileContext, RandomBytes, StoredCredential, Transport, WireRequest } from './types.js';

export interface ClientOptions {
  /** The wire dialect, e.g. `modern({ serverKeys })`. */
  profile: Profile<any, any>;
  /** How requests travel, e.g. `fetchTransport({ baseUrl })`. */
  transport: Transport;
  /** Where issued credentials live (default `indexedDbStore()`, falling back to memory). */
  store?: CredentialStore;
  /** Alias of `store` (the name the issue tracker uses); give one or the other. */
  credentials?: CredentialStore;
  /** Local wall clock (default Date.now). */
  clock?: Clock;
  /** Random bytes (default crypto.getRandomValues); injectable for reproducible tests. */
  random?: RandomBytes;
  /** Called once with the final error of every failed call (toasts, dialogs). */
  onError?: (err: RpcError) => void;
  /** JSON parser for responses (e.g. a lossless one); default JSON.parse. */
  parseJson?: (text: string) => unknown;
  /** Default per-call timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Largest clock correction accepted from the server, in ms (default: the profile's, else 24 h). */
  maxClockCorrectionMs?: number;
  /** Override the credential store key (default: profile key + transport id). */
  storeKey?: string;
}

export interface Client {
  /** `params` is an object; a string too where the profile takes one (`mgs`: sent as the `_requestBody` as is). */
  call<Res = unknown>(operationType: string, params?: Params | string, options?: CallOptions): Promise<Res>;
  readonly events: ClientEvents;
  /** Current correction added to the local clock, in ms. */
  readonly clockOffset: number;
  /** The credential manager for issued dialects (undefined for static ones). */
  readonly credentials: CredentialManager | undefined;
  readonly profile: Profile;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_CLOCK_CORRECTION_MS = 86_400_000;

/** Every option createClient reads: another name is a typo (`timeout`, `stroe`) that would be ignored without a word. */
const CLIENT_OPTIONS = ['profile', 'transport', 'store', 'credentials', 'clock', 'random', 'onError', 'parseJson', 'timeoutMs', 'maxClockCorrectionMs', 'storeKey'];

function validate(o: ClientOptions): void {
  if (!o || typeof o !== 'object') throw badConfig('options', 'createClient needs an options object');
  refuseUnknownOptions(o, CLIENT_OPTIONS, 'createClient');
  const p = o.profile as Partial<Profile> | undefined;
  if (!p || typeof p.seal !== 'function' || typeof p.open !== 'function') throw badConfig('profile', 'must be a profile such as modern({ serverKeys }) or appSecret({ publicSecret })');
  if (p.credentials !== 'issued' && p.credentials !== 'static') throw badConfig('profile', "credentials must be 'issued' or 'static'");
  if (p.credentials === 'issued' && typeof p.issue !== 'function') throw badConfig('profile', 'an issued-credential profile needs issue()');
  if (!o.transport || typeof o.transport.send !== 'function') throw badConfig('transport', 'must be a transport such as fetchTransport({ baseUrl })');
  if (p.queryData && o.transport.bodyOnly) throw queryDataError();
  if (p.credentials === 'issued' && o.storeKey === undefined && (typeof p.storeKey !== 'string' || p.storeKey === ''))
    throw badConfig('profile', 'an issued-credential profile needs a storeKey (or give createClient storeKey): without one, every such profile would share one stored credential');
  // null is not "the default": whoever passes it most likely means "do not persist", which is memoryStore().
  for (const name of ['store', 'credentials'] as const) if (o[name] === null) throw badConfig(name, 'must be a credential store: indexedDbStore(), or memoryStore() for no persistence');
  if (o.store !== undefined && o.credentials !== undefined) throw badConfig('credentials', 'give either store or credentials (an alias), not both');
  const store = o.store ?? o.credentials;
  if (store !== undefined && (typeof store.get !== 'function' || typeof store.set !== 'function' || typeof store.delete !== 'function'))
    throw badConfig(o.store ? 'store' : 'credentials', 'must have get, set and delete (use indexedDbStore() or memoryStore())');
  if (o.storeKey !== undefined && (typeof o.storeKey !== 'string' || o.storeKey === '')) throw badConfig('storeKey', 'must be a non-empty string');
  if (o.clock !== undefined && typeof o.clock?.now !== 'function') throw badConfig('clock', 'must have now() returning epoch ms');
  if (o.random !== undefined && typeof o.random !== 'function') throw badConfig('random', 'must be a function (n) => Uint8Array');
  if (o.onError !== undefined && typeof o.onError !== 'function') throw badConfig('onError', 'must be a function');
  if (o.parseJson !== undefined && typeof o.parseJson !== 'function') throw badConfig('parseJson', 'must be a function');
  if (o.timeoutMs !== undefined && !isTimerMs(o.timeoutMs)) throw badConfig('timeoutMs', `must be a number, 1 to ${MAX_TIMER_MS} ms`);
  // The profile's own bound too (a custom profile's is not checked anywhere else).
  for (const [name, v] of [['maxClockCorrectionMs', o.maxClockCorrectionMs], ['profile', p.maxClockCorrectionMs]] as const)
    if (v !== undefined && !isPositiveMs(v)) throw badConfig(name, 'maxClockCorrectionMs must be a positive number of milliseconds');
}

const isPositiveMs = (v: unknown): v is number => typeof v === 'number' && v > 0 && Number.isFinite(v);

// An app's own clock and random, checked where they are read: a wrong value (a Date, a short
// buffer) fails naming the option, not as a NaN timestamp or a short nonce the gateway refuses.
function checkedClock(clock: Clock): Clock {
  return {
    now() {
      const t = clock.now();
      if (typeof t !== 'number' || !Number.isFinite(t)) throw badConfig('clock', `now() must return epoch ms as a finite number, got ${typeof t === 'number' ? t : typeof t}`);
      return t;
    },
  };
}

/** A call's own options, checked before anything is armed (a bad one is BAD_REQUEST, nothing sent). */
function checkCallOptions(o: unknown): CallOptions {
  if (o === undefined) return {};
  const { signal, timeoutMs, idempotencyKey: key } = (o ?? {}) as CallOptions;
  const bad =
    o === null || typeof o !== 'object'
      ? 'options'
      : signal !== undefined && typeof signal?.addEventListener !== 'function'
        ? 'signal'
        : timeoutMs !== undefined && !isTimerMs(timeoutMs)
          ? 'timeoutMs'
          : key !== undefined && !(typeof key === 'string' && key.length >= 1 && key.length <= 128)
            ? 'idempotencyKey'
            : '';
  if (bad)
    throw new RpcError('BAD_REQUEST', `call ${bad}: expected { signal?: AbortSignal, timeoutMs?: 1 to ${MAX_TIMER_MS} ms, idempotencyKey?: 1 to 128 characters }`, {
      details: { option: bad },
      ...(bad === 'idempotencyKey' ? { hint: 'Pass a short unique string per logical request, e.g. a UUID.' } : {}),
    });
  return o as CallOptions;
}

/** Wait for `p`, but give up with the signal's reason when it aborts. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Nobody else waits for `p`: its later rejection must not go unhandled.
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function createClient(options: ClientOptions): Client {
  validate(options);
  const profile = options.profile as Profile<unknown, unknown>;
  const transport = options.transport;
  const events = new ClientEvents();
  const clock = options.clock ? checkedClock(options.clock) : { now: () => Date.now() };
  const random = options.random ? checkedRandom(options.random, (n) => badConfig('random', `must return a Uint8Array of the ${n} bytes asked for`)) : randomBytes;
  const parseJson = options.parseJson ?? JSON.parse;
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxCorrection = options.maxClockCorrectionMs ?? profile.maxClockCorrectionMs ?? DEFAULT_MAX_CLOCK_CORRECTION_MS;
  let offset = 0;
  let callSeq = 0;

  const now = () => clock.now() + offset;

  /** A `stage` event for the inspector; builds nothing and reads no clock when nobody listens. */
  function stage(callId: number, name: ClientEventMap['stage']['stage'], operationType: string, data?: unknown, at?: number): void {
    if (!events.listening('stage')) return;
    events.emit('stage', { callId, stage: name, at: at ?? clock.now(), operationType, data });
  }

  /** Adopt an authenticated server time as the clock source; refuses corrections beyond the bound. */
  function correctClock(serverTime: number, receivedAt: number, source: string, err?: RpcError): void {
    const next = serverTime - receivedAt;
    if (!Number.isFinite(next) || Math.abs(next) > maxCorrection) {
      throw new RpcError('CLOCK_SKEW', `the server's time is ${Math.round(next / 1000)} s away from this device's, beyond maxClockCorrectionMs`, {
        hint: "This device's clock is far off; ask the user to set the date and time automatically, then retry.",
        gatewayCode: err?.gatewayCode,
      });
    }
    const previous = offset;
    offset = next;
    if (next !== previous) events.emit('clock-corrected', { offsetMs: next, previousOffsetMs: previous, source });
  }

  const storeKey = options.storeKey ?? `${profile.storeKey}@${transport.id ?? ''}`;
  const given = options.store ?? options.credentials;
  const store = withMemoryFallback(
    given ?? indexedDbStore(),
    (reason) => events.emit('storage-fallback', { reason, store: given ? (given.kind ?? 'custom') : 'indexeddb' }),
    // An app's own store that does not answer is given up, as IndexedDB is, within half the call's time (at most 5 s, IndexedDB's open bound), so the call itself still succeeds.
    Math.min(5_000, defaultTimeout / 2),
  );

  /** `received`: told the local instant each answer `send` fetched arrived. */
  function context(signal?: AbortSignal, received?: (at: number) => void): ProfileContext {
    return {
      now,
      random,
      parseJson,
      send: async (req: WireRequest) => {
        const res = await transport.send(req, { signal, timeoutMs: defaultTimeout });
        received?.(clock.now());
        return res;
      },
    };
  }

  const credentials =
    profile.credentials === 'issued'
      ? new CredentialManager<unknown>({
          store,
          key: storeKey,
          now,
          ...(profile.validateCredential ? { validate: (v: unknown) => profile.validateCredential!(v) } : {}),
          issue: async () => {
            // Issuance is shared by every waiting call, so it gets its own timeout, not one caller's
            // signal; its reason is a TIMEOUT RpcError, which the transports pass on as is.
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(new RpcError('TIMEOUT', `credential issuance took longer than ${defaultTimeout} ms`)), defaultTimeout);
            // The server time is compared with the instant its answer arrived, not with the end of
            // the verification and key derivation after it (slow on the pure-JS path).
            let receivedAt: number | undefined;
            try {
              // Raced too: a transport that ignores the signal must not hold every later call behind this issuance.
              const result = await raceSignal(profile.issue!(context(controller.signal, (at) => (receivedAt = at))), controller.signal);
              if (result.serverTime !== undefined) correctClock(result.serverTime, receivedAt ?? clock.now(), 'issuance');
              return result;
            } finally {
              clearTimeout(timer);
            }
          },
          onIssued: (record, renewal) => {
            // The profile's description first: it must not replace the record's own version or expiry.
            const info = { ...profile.describe?.(record.value), version: record.version, ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}) };
            events.emit(renewal ? 'renewed' : 'issued', info);
          },
        })
      : undefined;

  async function attempt(info: CallInfo, signal: AbortSignal, callId: number): Promise<unknown> {
    // An aborted (or timed-out) call has already ended with its error stage: what its attempt still does is not reported.
    const stageOf = (name: ClientEventMap['stage']['stage'], data: unknown, at?: number) => {
      if (!signal.aborted) stage(callId, name, info.operationType, data, at);
    };
    let renewed = false;
    let corrected = false;
    /** The credential renew() just gave: the resend uses it (asking current() again could issue a second one). */
    let fresh: StoredCredential | undefined;
    /** The cause of the resend being prepared: told (`retry`) when it is sent, not before a renewal that may fail. */
    let resend: 'CREDENTIAL_EXPIRED' | 'CLOCK_SKEW' | undefined;
    const ctx = context(signal);
    for (;;) {
      let cred: StoredCredential | undefined;
      if (credentials) {
        // call() already races the whole attempt against the signal; this only stops an
        // aborted call from sealing and sending once the credential arrives.
        cred = fresh ?? (await credentials.current());
        fresh = undefined;
        signal.throwIfAborted();
      }
      let sealed;
      try {
        sealed = await profile.seal(info, cred?.value, ctx);
      } catch (e) {
        throw isRpcError(e) ? e : new RpcError('BAD_REQUEST', 'the request could not be sealed', { cause: e });
      }
      // Told once the resend is sealed, just before its own stages (a renewal that failed sent nothing).
      if (resend) events.emit('retry', { cause: resend, operationType: info.operationType });
      resend = undefined;
      stageOf('sealed', sealed.wire);
      const sentAt = clock.now();
      const res = await transport.send(sealed.wire, { signal, timeoutMs: info.options.timeoutMs ?? defaultTimeout });
      const receivedAt = clock.now();
      const clockReferenceAt = profile.clockReference === 'midpoint' ? (sentAt + receivedAt) / 2 : receivedAt;
      stageOf('response', res, receivedAt);
      try {
        const data = await profile.open(res, sealed, cred?.value, ctx);
        stageOf('opened', data);
        return data;
      } catch (e) {
        const err = isRpcError(e) ? e : new RpcError('RESPONSE_UNREADABLE', 'the response could not be read', { cause: e });
        // A call aborted while its answer was read is over: no renewal, no correction, no resend.
        signal.throwIfAborted();
        if (err.code === 'CREDENTIAL_EXPIRED' && credentials && !renewed) {
          renewed = true;
          resend = 'CREDENTIAL_EXPIRED';
          fresh = await credentials.renew(cred);
          signal.throwIfAborted();
          continue;
        }
        if (err.code === 'CLOCK_SKEW' && err.serverTime !== undefined && !corrected) {
          corrected = true;
          correctClock(err.serverTime, clockReferenceAt, profile.name, err);
          resend = 'CLOCK_SKEW';
          continue;
        }
        throw err;
      }
    }
  }

  async function call<Res>(operationType: string, params: Params | string = {}, givenOptions?: CallOptions): Promise<Res> {
    const callId = ++callSeq;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let outer: AbortSignal | undefined;
    const onOuterAbort = () => controller.abort(new RpcError('ABORTED', 'the call was aborted by its signal', { cause: outer?.reason }));
    try {
      const callOptions = checkCallOptions(givenOptions);
      const timeoutMs = callOptions.timeoutMs ?? defaultTimeout;
      timer = setTimeout(() => controller.abort(new RpcError('TIMEOUT', `the call took longer than ${timeoutMs} ms`)), timeoutMs);
      outer = callOptions.signal;
      if (outer?.aborted) onOuterAbort();
      else outer?.addEventListener('abort', onOuterAbort, { once: true });
      // Already aborted (a reused controller, an effect's cleanup): nothing is sealed, issued or sent.
      controller.signal.throwIfAborted();
      if (typeof operationType !== 'string' || operationType === '') throw new RpcError('BAD_REQUEST', 'operationType must be a non-empty string');
      if (params === null || (typeof params !== 'object' && !(typeof params === 'string' && profile.textParams)))
        throw new RpcError('BAD_REQUEST', `params must be an object${profile.textParams ? ' or a string' : ''}`);
      stage(callId, 'params', operationType, params);
      const info: CallInfo = { operationType, params, options: callOptions, memo: {} };
      // A call the dialect could never send fails here, not after an issuance went out for it.
      profile.checkCall?.(info);
      return (await raceSignal(attempt(info, controller.signal, callId), controller.signal)) as Res;
    } catch (e) {
      const err = isRpcError(e) ? e : new RpcError('NETWORK', 'the call failed', { cause: e });
      stage(callId, 'error', operationType, { code: err.code });
      // A failing error handler (a throw, or an async one that rejects) must not hide the error from the caller.
      if (options.onError) callContained(() => options.onError!(err), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
  }

  const client: Client = {
    call,
    events,
    get clockOffset() {
      return offset;
    },
    credentials,
    profile,
  };

  // Some legacy back ends want a fresh credential per page load.
  if (credentials && profile.renewOnStart === 'load') {
    credentials.renew(undefined, true).catch(() => {});
  }
  return client;
}
