/** The client's event channel: an EventTarget with a typed `on()`. Payloads never hold secrets. */
import { badConfig } from './errors.js';

export interface ClientEventMap {
  /** A credential issued where this store key held none: the first, or the first after `credentials.clear()`. */
  issued: { version: number; expiresAt?: number; appId?: string };
  /** A credential this store key held was replaced: the gateway refused it (CREDENTIAL_EXPIRED), it expired, or `renewOnStart: 'load'` asked for a fresh one. */
  renewed: { version: number; expiresAt?: number; appId?: string };
  /**
   * The clock offset changed from a server time (`source`: `issuance`, or the dialect's name):
   * `modern`'s authenticated one, `sorted-sign`'s 1003 reply (encrypted with the appKey), or the
   * unsigned `Date` header of an `mgs` 7003 answer.
   */
  'clock-corrected': { offsetMs: number; previousOffsetMs: number; source: string };
  /** A call is being resent (once per cause). */
  retry: { cause: 'CREDENTIAL_EXPIRED' | 'CLOCK_SKEW'; operationType: string };
  /**
   * The credential store failed (`reason`: the error's name); records now live in memory. On a
   * `DataCloneError` only the value it could not store does: the store keeps that record's
   * version and expiry, and keeps being used.
   */
  'storage-fallback': { reason: string; store: string };
  /**
   * A stage of one call, for the inspector/playground. `params` and `opened` carry the app's
   * own plaintext (what it passed to call() and what call() resolves to); `sealed` and
   * `response` carry the wire request and answer. Never a key or a credential.
   */
  stage: { callId: number; stage: 'params' | 'sealed' | 'response' | 'opened' | 'error'; at: number; operationType: string; data?: unknown };
}

export type ClientEventType = keyof ClientEventMap;

function reportListenerError(e: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === 'function') report(e);
}

/** @internal Run an app's callback so that neither its throw nor its promise's rejection reaches the caller: both go to `onFailure`. */
export function callContained(callback: () => unknown, onFailure: (e: unknown) => void): void {
  try {
    const r = callback();
    if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, onFailure);
  } catch (e) {
    onFailure(e);
  }
}

export class ClientEvents extends EventTarget {
  // Who listens, so a call builds no event objects nobody listens to (the `stage` events run
  // four times per call). A safe over-approximation that keeps nothing per listener: `on()`
  // counts its listeners per type; a type once given a listener through `addEventListener`
  // (whose capture flag, `once` or `signal` would need tracking) counts as listened to for good.
  private readonly counts = new Map<string, number>();
  private readonly marked = new Set<string>();

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    super.addEventListener(type, listener, options);
    if (listener) this.marked.add(type);
  }

  /**
   * Listen to one event type; returns a function that stops listening. A listener that throws
   * (or returns a promise that rejects) does not touch the call that emitted the event: its
   * error goes to `reportError` where the platform has it (a page's `onerror`), else nowhere
   * (in Node, EventTarget would rethrow it as an uncaught exception and end the process).
   */
  on<K extends ClientEventType>(type: K, listener: (detail: ClientEventMap[K]) => void): () => void {
    if (typeof listener !== 'function') throw badConfig('listener', `events.on('${String(type)}', listener) needs a function`);
    const wrapped = (e: Event) => callContained(() => listener((e as CustomEvent<ClientEventMap[K]>).detail), reportListenerError);
    super.addEventListener(type, wrapped);
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    let on = true;
    return () => {
      if (!on) return;
      on = false;
      super.removeEventListener(type, wrapped);
      const n = (this.counts.get(type) ?? 1) - 1;
      if (n > 0) this.counts.set(type, n);
      else this.counts.delete(type);
    };
  }

  /** @internal Is anyone (possibly) listening to `type`? */
  listening(type: ClientEventType): boolean {
    return this.marked.has(type) || (this.counts.get(type) ?? 0) > 0;
  }

  /** @internal */
  emit<K extends ClientEventType>(type: K, detail: ClientEventMap[K]): void {
    if (this.listening(type)) this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
